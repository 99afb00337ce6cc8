// netns/wire/ethernet.hpp — Ethernet II frame headers (no 802.3 length
// frames, no FCS: devices hand the stack frames without it).
//
//   auto frame = EthernetView::checked(bytes);            // Result<EthernetView>
//   if (!frame) return;                                    // the caller counts the drop
//   if (frame->ethertype() == EtherType::ipv4) { /* frame->payload() is the packet */ }
//
//   std::array<std::byte, 42> out;                         // header + ARP message
//   EthernetRepr{.dst = MacAddress::broadcast(), .src = my_mac, .ethertype = EtherType::arp}
//       .emit(out);                                        // writes out[0, 14)
//
// Errors: checked() fails with Errc::message_size when the buffer is shorter
// than the 14-byte header. EthernetRepr::parse() cannot fail (every header is
// representable); it returns Result for symmetry with the other layers.
// A VLAN-tagged frame reports ethertype() == EtherType::vlan; the tag is not
// parsed here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "netns/wire/address.hpp"
#include "netns/result.hpp"
#include "netns/wire/bytes.hpp"

namespace netns::wire {

// Any 16-bit value is representable; these are the ones the stack handles.
enum class EtherType : std::uint16_t {
  ipv4 = 0x0800,
  arp = 0x0806,
  ipv6 = 0x86dd,
  vlan = 0x8100,
};

struct EthernetRepr;

// A view over an Ethernet frame; Byte is `const std::byte` (EthernetView) or
// `std::byte` (EthernetMutView, which adds setters). It does not own the bytes.
template <class Byte>
class BasicEthernetView {
  static_assert(std::is_same_v<std::remove_const_t<Byte>, std::byte>);

 public:
  static constexpr std::size_t kHeaderLen = 14;

  [[nodiscard]] static Result<BasicEthernetView> checked(std::span<Byte> frame) {
    if (frame.size() < kHeaderLen) return error(Errc::message_size);
    return BasicEthernetView(frame);
  }

  // A mutable view converts to a read-only one.
  template <class Other>
    requires(std::is_const_v<Byte> && std::is_same_v<Other, std::byte>)
  BasicEthernetView(const BasicEthernetView<Other>& other) : bytes_(other.bytes()) {}

  std::span<Byte> bytes() const { return bytes_; }
  MacAddress dst() const { return load_mac(bytes_, kDst); }
  MacAddress src() const { return load_mac(bytes_, kSrc); }
  EtherType ethertype() const { return EtherType{load_be16(bytes_, kEthertype)}; }
  // Everything after the header, including any padding up to the 60-byte minimum.
  std::span<Byte> payload() const { return bytes_.subspan(kHeaderLen); }

  void set_dst(const MacAddress& mac) const requires(!std::is_const_v<Byte>) {
    store_mac(bytes_, kDst, mac);
  }
  void set_src(const MacAddress& mac) const requires(!std::is_const_v<Byte>) {
    store_mac(bytes_, kSrc, mac);
  }
  void set_ethertype(EtherType type) const requires(!std::is_const_v<Byte>) {
    store_be16(bytes_, kEthertype, static_cast<std::uint16_t>(type));
  }

 private:
  template <class>
  friend class BasicEthernetView;
  friend struct EthernetRepr;

  static constexpr std::size_t kDst = 0;
  static constexpr std::size_t kSrc = 6;
  static constexpr std::size_t kEthertype = 12;

  explicit BasicEthernetView(std::span<Byte> frame) : bytes_(frame) {}

  std::span<Byte> bytes_;
};

using EthernetView = BasicEthernetView<const std::byte>;
using EthernetMutView = BasicEthernetView<std::byte>;

struct EthernetRepr {
  static constexpr std::size_t kHeaderLen = EthernetView::kHeaderLen;

  MacAddress dst{};
  MacAddress src{};
  EtherType ethertype = EtherType::ipv4;

  [[nodiscard]] static Result<EthernetRepr> parse(const EthernetView& frame) {
    return EthernetRepr{frame.dst(), frame.src(), frame.ethertype()};
  }
  std::size_t buffer_len() const { return kHeaderLen; }
  // Writes the header into frame[0, 14). Precondition: frame.size() >= 14.
  void emit(std::span<std::byte> frame) const {
    assert(frame.size() >= kHeaderLen);
    EthernetMutView view(frame);
    view.set_dst(dst);
    view.set_src(src);
    view.set_ethertype(ethertype);
  }

  friend bool operator==(const EthernetRepr&, const EthernetRepr&) = default;
};

}  // namespace netns::wire
