// netns/wire/arp.hpp — ARP messages for IPv4 over Ethernet (RFC 826), the
// only kind the stack speaks: hardware type 1, protocol 0x0800, lengths 6 and 4.
//
//   auto msg = ArpView::checked(frame->payload());        // drops Ethernet padding
//   auto arp = msg ? ArpRepr::parse(*msg) : msg.error();  // Result<ArpRepr>
//   if (arp && arp->operation == ArpOperation::request && arp->target_ip == my_ip) {
//     ArpRepr reply{ArpOperation::reply, my_mac, my_ip, arp->sender_mac, arp->sender_ip};
//     reply.emit(out);                                    // 28 bytes
//   }
//
// Errors: ArpView::checked() fails with Errc::message_size when the buffer is
// too short and Errc::bad_message when the address lengths are not 6 and 4
// (its fixed offsets would be meaningless). ArpRepr::parse() fails with
// Errc::bad_message for another hardware or protocol type or an operation
// other than request/reply.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "netns/wire/address.hpp"
#include "netns/result.hpp"
#include "netns/wire/bytes.hpp"

namespace netns::wire {

enum class ArpOperation : std::uint16_t {
  request = 1,
  reply = 2,
};

struct ArpRepr;

// A view over one Ethernet/IPv4 ARP message (28 bytes; trailing bytes are
// not part of it). Byte is `const std::byte` (ArpView) or `std::byte` (ArpMutView).
template <class Byte>
class BasicArpView {
  static_assert(std::is_same_v<std::remove_const_t<Byte>, std::byte>);

 public:
  static constexpr std::size_t kLen = 28;
  static constexpr std::uint16_t kHardwareEthernet = 1;
  static constexpr std::uint16_t kProtocolIpv4 = 0x0800;

  [[nodiscard]] static Result<BasicArpView> checked(std::span<Byte> bytes) {
    if (bytes.size() < kSenderMac) return error(Errc::message_size);
    if (load_u8(bytes, kHardwareLen) != 6 || load_u8(bytes, kProtocolLen) != 4)
      return error(Errc::bad_message);
    if (bytes.size() < kLen) return error(Errc::message_size);
    return BasicArpView(bytes.first(kLen));
  }

  template <class Other>
    requires(std::is_const_v<Byte> && std::is_same_v<Other, std::byte>)
  BasicArpView(const BasicArpView<Other>& other) : bytes_(other.bytes()) {}

  std::span<Byte> bytes() const { return bytes_; }
  std::uint16_t hardware_type() const { return load_be16(bytes_, kHardwareType); }
  std::uint16_t protocol_type() const { return load_be16(bytes_, kProtocolType); }
  std::uint8_t hardware_len() const { return load_u8(bytes_, kHardwareLen); }
  std::uint8_t protocol_len() const { return load_u8(bytes_, kProtocolLen); }
  ArpOperation operation() const { return ArpOperation{load_be16(bytes_, kOperation)}; }
  MacAddress sender_mac() const { return load_mac(bytes_, kSenderMac); }
  Ipv4Address sender_ip() const { return load_ipv4(bytes_, kSenderIp); }
  MacAddress target_mac() const { return load_mac(bytes_, kTargetMac); }
  Ipv4Address target_ip() const { return load_ipv4(bytes_, kTargetIp); }

  void set_hardware_type(std::uint16_t v) const requires(!std::is_const_v<Byte>) {
    store_be16(bytes_, kHardwareType, v);
  }
  void set_protocol_type(std::uint16_t v) const requires(!std::is_const_v<Byte>) {
    store_be16(bytes_, kProtocolType, v);
  }
  void set_operation(ArpOperation op) const requires(!std::is_const_v<Byte>) {
    store_be16(bytes_, kOperation, static_cast<std::uint16_t>(op));
  }
  void set_sender_mac(const MacAddress& m) const requires(!std::is_const_v<Byte>) {
    store_mac(bytes_, kSenderMac, m);
  }
  void set_sender_ip(Ipv4Address a) const requires(!std::is_const_v<Byte>) {
    store_ipv4(bytes_, kSenderIp, a);
  }
  void set_target_mac(const MacAddress& m) const requires(!std::is_const_v<Byte>) {
    store_mac(bytes_, kTargetMac, m);
  }
  void set_target_ip(Ipv4Address a) const requires(!std::is_const_v<Byte>) {
    store_ipv4(bytes_, kTargetIp, a);
  }

 private:
  template <class>
  friend class BasicArpView;
  friend struct ArpRepr;

  static constexpr std::size_t kHardwareType = 0;
  static constexpr std::size_t kProtocolType = 2;
  static constexpr std::size_t kHardwareLen = 4;
  static constexpr std::size_t kProtocolLen = 5;
  static constexpr std::size_t kOperation = 6;
  static constexpr std::size_t kSenderMac = 8;
  static constexpr std::size_t kSenderIp = 14;
  static constexpr std::size_t kTargetMac = 18;
  static constexpr std::size_t kTargetIp = 24;

  explicit BasicArpView(std::span<Byte> bytes) : bytes_(bytes) {}

  std::span<Byte> bytes_;
};

using ArpView = BasicArpView<const std::byte>;
using ArpMutView = BasicArpView<std::byte>;

struct ArpRepr {
  static constexpr std::size_t kLen = ArpView::kLen;

  ArpOperation operation = ArpOperation::request;
  MacAddress sender_mac{};
  Ipv4Address sender_ip{};
  MacAddress target_mac{};  // all zeros in a request
  Ipv4Address target_ip{};

  [[nodiscard]] static Result<ArpRepr> parse(const ArpView& msg) {
    if (msg.hardware_type() != ArpView::kHardwareEthernet ||
        msg.protocol_type() != ArpView::kProtocolIpv4)
      return error(Errc::bad_message);
    const ArpOperation op = msg.operation();
    if (op != ArpOperation::request && op != ArpOperation::reply) return error(Errc::bad_message);
    return ArpRepr{op, msg.sender_mac(), msg.sender_ip(), msg.target_mac(), msg.target_ip()};
  }
  std::size_t buffer_len() const { return kLen; }
  // Writes the 28-byte message into out[0, 28). Precondition: out.size() >= 28.
  void emit(std::span<std::byte> out) const {
    assert(out.size() >= kLen);
    ArpMutView view(out.first(kLen));
    view.set_hardware_type(ArpView::kHardwareEthernet);
    view.set_protocol_type(ArpView::kProtocolIpv4);
    store_u8(out, ArpView::kHardwareLen, 6);
    store_u8(out, ArpView::kProtocolLen, 4);
    view.set_operation(operation);
    view.set_sender_mac(sender_mac);
    view.set_sender_ip(sender_ip);
    view.set_target_mac(target_mac);
    view.set_target_ip(target_ip);
  }

  friend bool operator==(const ArpRepr&, const ArpRepr&) = default;
};

}  // namespace netns::wire
