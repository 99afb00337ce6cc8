// netns/wire/udp.hpp — UDP datagrams (RFC 768) with the IPv4 pseudo-header
// checksum.
//
//   auto udp = UdpView::checked(ip->payload());            // Result<UdpView>
//   auto repr = udp ? UdpRepr::parse(*udp, ip->src(), ip->dst()) : udp.error();
//   if (repr) { /* deliver udp->payload() to the socket bound to repr->dst_port */ }
//
//   // Output: place the payload at datagram[8, 8 + n), then write the header.
//   UdpRepr{.src_port = 5353, .dst_port = 53, .payload_len = n}.emit(datagram, src, dst);
//
// Errors, from checked(): Errc::message_size when the buffer is shorter than
// 8 bytes or than the length field; Errc::bad_message when the length field
// is below 8. From UdpRepr::parse(): Errc::bad_message for a wrong checksum.
// A zero checksum means "none" (RFC 768) and is accepted. Bytes past the
// length field are not part of the view.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "netns/wire/address.hpp"
#include "netns/result.hpp"
#include "netns/wire/bytes.hpp"
#include "netns/wire/checksum.hpp"
#include "netns/wire/ipv4.hpp"

namespace netns::wire {

struct UdpRepr;

// A view over one UDP datagram, trimmed to its length field. Byte is
// `const std::byte` (UdpView) or `std::byte` (UdpMutView).
template <class Byte>
class BasicUdpView {
  static_assert(std::is_same_v<std::remove_const_t<Byte>, std::byte>);

 public:
  static constexpr std::size_t kHeaderLen = 8;

  [[nodiscard]] static Result<BasicUdpView> checked(std::span<Byte> bytes) {
    if (bytes.size() < kHeaderLen) return error(Errc::message_size);
    const std::size_t length = load_be16(bytes, kLength);
    if (length < kHeaderLen) return error(Errc::bad_message);
    if (length > bytes.size()) return error(Errc::message_size);
    return BasicUdpView(bytes.first(length));
  }

  template <class Other>
    requires(std::is_const_v<Byte> && std::is_same_v<Other, std::byte>)
  BasicUdpView(const BasicUdpView<Other>& other) : bytes_(other.bytes()) {}

  std::span<Byte> bytes() const { return bytes_; }
  std::uint16_t src_port() const { return load_be16(bytes_, kSrcPort); }
  std::uint16_t dst_port() const { return load_be16(bytes_, kDstPort); }
  std::uint16_t length() const { return load_be16(bytes_, kLength); }
  std::uint16_t checksum() const { return load_be16(bytes_, kChecksum); }
  std::span<Byte> payload() const { return bytes_.subspan(kHeaderLen); }
  // True when the checksum is absent (0) or right for this pseudo-header.
  bool verify_checksum(Ipv4Address src, Ipv4Address dst) const {
    return checksum() == 0 || ipv4_transport_checksum(src, dst, kProtocol, bytes_) == 0;
  }
  // Over IPv6 the checksum is mandatory (RFC 8200 8.1): 0 fails.
  bool verify_checksum(const Ipv6Address& src, const Ipv6Address& dst) const {
    return checksum() != 0 && ipv6_transport_checksum(src, dst, kProtocol, bytes_) == 0;
  }

  void set_src_port(std::uint16_t v) const requires(!std::is_const_v<Byte>) {
    store_be16(bytes_, kSrcPort, v);
  }
  void set_dst_port(std::uint16_t v) const requires(!std::is_const_v<Byte>) {
    store_be16(bytes_, kDstPort, v);
  }
  void set_checksum(std::uint16_t v) const requires(!std::is_const_v<Byte>) {
    store_be16(bytes_, kChecksum, v);
  }
  // Over header and payload. A computed 0 goes out as 0xffff, since 0 on the
  // wire would mean "no checksum" (RFC 768).
  void fill_checksum(Ipv4Address src, Ipv4Address dst) const requires(!std::is_const_v<Byte>) {
    set_checksum(0);
    const std::uint16_t sum = ipv4_transport_checksum(src, dst, kProtocol, bytes_);
    set_checksum(sum == 0 ? 0xffff : sum);
  }
  void fill_checksum(const Ipv6Address& src, const Ipv6Address& dst) const requires(!std::is_const_v<Byte>) {
    set_checksum(0);
    const std::uint16_t sum = ipv6_transport_checksum(src, dst, kProtocol, bytes_);
    set_checksum(sum == 0 ? 0xffff : sum);
  }

 private:
  template <class>
  friend class BasicUdpView;
  friend struct UdpRepr;

  static constexpr std::uint8_t kProtocol = static_cast<std::uint8_t>(IpProtocol::udp);
  static constexpr std::size_t kSrcPort = 0;
  static constexpr std::size_t kDstPort = 2;
  static constexpr std::size_t kLength = 4;
  static constexpr std::size_t kChecksum = 6;

  explicit BasicUdpView(std::span<Byte> bytes) : bytes_(bytes) {}

  std::span<Byte> bytes_;
};

using UdpView = BasicUdpView<const std::byte>;
using UdpMutView = BasicUdpView<std::byte>;

struct UdpRepr {
  static constexpr std::size_t kHeaderLen = UdpView::kHeaderLen;
  static constexpr std::size_t kMaxPayloadLen = 0xffff - kHeaderLen;

  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::size_t payload_len = 0;

  [[nodiscard]] static Result<UdpRepr> parse(const UdpView& udp, Ipv4Address src, Ipv4Address dst) {
    if (!udp.verify_checksum(src, dst)) return error(Errc::bad_message);
    return UdpRepr{udp.src_port(), udp.dst_port(), udp.payload().size()};
  }
  std::size_t buffer_len() const { return kHeaderLen + payload_len; }
  // Writes the header into datagram[0, 8) and checksums it with the payload
  // the caller already placed at datagram[8, buffer_len()). Preconditions:
  // datagram.size() >= buffer_len(), payload_len <= kMaxPayloadLen.
  // The pseudo-header's addresses are IPv4's or IPv6's.
  template <class Address>
  void emit(std::span<std::byte> datagram, const Address& src, const Address& dst) const {
    assert(datagram.size() >= buffer_len() && payload_len <= kMaxPayloadLen);
    UdpMutView view(datagram.first(buffer_len()));
    view.set_src_port(src_port);
    view.set_dst_port(dst_port);
    store_be16(datagram, UdpView::kLength, static_cast<std::uint16_t>(buffer_len()));
    view.fill_checksum(src, dst);
  }

  friend bool operator==(const UdpRepr&, const UdpRepr&) = default;
};

}  // namespace netns::wire
