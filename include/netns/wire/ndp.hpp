// netns/wire/ndp.hpp — Neighbor Discovery for IPv6 (RFC 4861): the five
// messages, their options, and the receive-side validation of RFC 4861
// 6.1.1, 6.1.2, 7.1.1, 7.1.2 and 8.1 as pure functions.
//
//   // Input: `ip` is the checked IPv6 header, `msg` the ICMPv6 message.
//   if (!icmpv6_checksum_ok(ip.src(), ip.dst(), msg)) return;       // Icmp6InCsumErrors
//   auto ns = validate_neighbour_solicit(ip, msg);                  // Result<NeighbourSolicitRepr>
//   if (!ns) return;                                                // malformed: drop, count
//   if (ns->source_link) { /* learn ip.src() at *ns->source_link */ }
//
//   // Output: a solicitation for `target` from `src`, hop limit 255.
//   NeighbourSolicitRepr ns{.target = target, .source_link = my_mac};
//   ns.emit(message, src, target.solicited_node());   // message.size() == ns.buffer_len()
//   Ipv6Repr{.src = src, .dst = target.solicited_node(), .next_header = IpProtocol::icmpv6,
//            .hop_limit = kNdpHopLimit, .payload_len = ns.buffer_len()}.emit(header);
//
// Only the 4-byte ICMPv6 header (type, code, checksum) is read here, so this
// file stands alone. Link-layer address options are Ethernet's (RFC 2464:
// length 1, six bytes). Errors: Errc::message_size for a message shorter
// than its type's fixed part; Errc::bad_message for every other violation
// (an option of length 0, an option running past the message, a wrong hop
// limit, code, source, destination, target or option, as each validator
// lists). Nothing reads past the span it is given.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "netns/result.hpp"
#include "netns/wire/address.hpp"
#include "netns/wire/bytes.hpp"
#include "netns/wire/ipv6.hpp"

namespace netns::wire {

enum class NdpType : std::uint8_t {
  router_solicit = 133,
  router_advert = 134,
  neighbour_solicit = 135,
  neighbour_advert = 136,
  redirect = 137,
};

enum class NdpOptionType : std::uint8_t {
  source_link_address = 1,
  target_link_address = 2,
  prefix_information = 3,
  redirected_header = 4,
  mtu = 5,
  nonce = 14,  // RFC 7527 (enhanced DAD)
};

// Every NDP message is sent, and must arrive, with hop limit 255: proof that
// it was not forwarded (RFC 4861 3.1).
inline constexpr std::uint8_t kNdpHopLimit = 255;

inline constexpr Ipv6Address kAllNodes{0xff02, 0, 0, 0, 0, 0, 0, 1};
inline constexpr Ipv6Address kAllRouters{0xff02, 0, 0, 0, 0, 0, 0, 2};

// The Ethernet group of an IPv6 multicast address: 33:33 and its last four
// bytes (RFC 2464 7). Precondition: a.is_multicast().
constexpr MacAddress ipv6_multicast_mac(const Ipv6Address& a) {
  const auto& b = a.bytes();
  return MacAddress{0x33, 0x33, b[12], b[13], b[14], b[15]};
}

// Whether `a` is a solicited-node group, ff02::1:ffXX:XXXX (RFC 4291 2.7.1).
constexpr bool is_solicited_node(const Ipv6Address& a) {
  const auto& b = a.bytes();
  return b[0] == 0xff && b[1] == 0x02 && b[2] == 0 && b[3] == 0 && b[4] == 0 && b[5] == 0 && b[6] == 0 &&
         b[7] == 0 && b[8] == 0 && b[9] == 0 && b[10] == 0 && b[11] == 1 && b[12] == 0xff;
}

// The ICMPv6 checksum (RFC 4443 2.3) over the pseudo-header and `message`
// is right. Needs no particular message length.
bool icmpv6_checksum_ok(const Ipv6Address& src, const Ipv6Address& dst, std::span<const std::byte> message);
// Writes the checksum of `message` (ICMPv6 header at its start, >= 4 bytes).
void fill_icmpv6_checksum(std::span<std::byte> message, const Ipv6Address& src, const Ipv6Address& dst);

// A prefix information option (RFC 4861 4.6.2).
struct NdpPrefixInfo {
  static constexpr std::uint32_t kInfinite = 0xffffffff;
  Ipv6Prefix prefix;               // address as sent (bits past the length are not cleared)
  bool on_link = false;            // L
  bool autonomous = false;         // A (SLAAC)
  std::uint32_t valid_lifetime = 0;      // seconds; kInfinite is forever
  std::uint32_t preferred_lifetime = 0;  // seconds
  friend bool operator==(const NdpPrefixInfo&, const NdpPrefixInfo&) = default;
};

using NdpNonce = std::array<std::uint8_t, 6>;

// The options of one message, as Linux's ndisc_parse_options keeps them: of
// the link-layer, MTU and nonce options the first counts and a repeat is
// ignored; every prefix information option is kept, in order; unknown
// options are skipped (RFC 4861 4.6). A prefix option shorter than 32 bytes
// is skipped as addrconf_prefix_rcv skips it.
struct NdpOptions {
  // At most this many prefixes are kept from one message (a 1500-byte RA
  // holds 45); more are ignored.
  static constexpr std::size_t kMaxPrefixes = 64;
  std::optional<MacAddress> source_link;
  std::optional<MacAddress> target_link;
  std::optional<std::uint32_t> mtu;
  std::optional<NdpNonce> nonce;
  std::vector<NdpPrefixInfo> prefixes;
  std::span<const std::byte> redirected_header;  // the quoted datagram, into the parsed buffer

  // Walks `options` (what follows a message's fixed part). bad_message for
  // an option of length 0 (RFC 4861 4.6: the whole message is dropped), one
  // running past the buffer, or a link-layer address option that is not
  // Ethernet's 8 bytes (ndisc_opt_addr_data's refusal); nothing read past
  // the span.
  [[nodiscard]] static Result<NdpOptions> parse(std::span<const std::byte> options);
};

// A view over an NDP message: the ICMPv6 header and the fixed part of its
// type. checked() requires the type to be 133..137 (else bad_message) and
// the message to hold its fixed part (else message_size); accessors of
// another type's fields are not to be called.
class NdpView {
 public:
  [[nodiscard]] static Result<NdpView> checked(std::span<const std::byte> message);
  // The length of a type's fixed part (what precedes its options).
  static constexpr std::size_t fixed_len(NdpType type) {
    switch (type) {
      case NdpType::router_solicit: return 8;
      case NdpType::router_advert: return 16;
      case NdpType::neighbour_solicit:
      case NdpType::neighbour_advert: return 24;
      case NdpType::redirect: return 40;
    }
    return 0;
  }

  std::span<const std::byte> bytes() const { return bytes_; }
  NdpType type() const { return NdpType{load_u8(bytes_, 0)}; }
  std::uint8_t code() const { return load_u8(bytes_, 1); }
  std::uint16_t checksum() const { return load_be16(bytes_, 2); }
  std::span<const std::byte> options() const { return bytes_.subspan(fixed_len(type())); }

  // Router advertisement.
  std::uint8_t cur_hop_limit() const { return load_u8(bytes_, 4); }
  bool managed() const { return (load_u8(bytes_, 5) & 0x80) != 0; }
  bool other_config() const { return (load_u8(bytes_, 5) & 0x40) != 0; }
  std::uint16_t router_lifetime() const { return load_be16(bytes_, 6); }
  std::uint32_t reachable_time() const { return load_be32(bytes_, 8); }
  std::uint32_t retrans_timer() const { return load_be32(bytes_, 12); }
  // Neighbour advertisement.
  bool router_flag() const { return (load_u8(bytes_, 4) & 0x80) != 0; }
  bool solicited_flag() const { return (load_u8(bytes_, 4) & 0x40) != 0; }
  bool override_flag() const { return (load_u8(bytes_, 4) & 0x20) != 0; }
  // Neighbour solicitation and advertisement, redirect.
  Ipv6Address target() const { return load_ipv6(bytes_, 8); }
  // Redirect.
  Ipv6Address destination() const { return load_ipv6(bytes_, 24); }

 private:
  explicit NdpView(std::span<const std::byte> bytes) : bytes_(bytes) {}
  std::span<const std::byte> bytes_;
};

// Each repr: parse() reads a checked view (and its options, as
// NdpOptions::parse fails); buffer_len() is the message's size with its
// options; emit() writes exactly that many bytes at the start of `message`
// (precondition: message.size() >= buffer_len()) and the checksum for the
// IPv6 source and destination it will travel between.

struct RouterSolicitRepr {
  std::optional<MacAddress> source_link;

  [[nodiscard]] static Result<RouterSolicitRepr> parse(const NdpView& view);
  std::size_t buffer_len() const { return 8 + (source_link ? 8 : 0); }
  void emit(std::span<std::byte> message, const Ipv6Address& src, const Ipv6Address& dst) const;
  friend bool operator==(const RouterSolicitRepr&, const RouterSolicitRepr&) = default;
};

struct RouterAdvertRepr {
  std::uint8_t cur_hop_limit = 0;      // 0: unspecified
  bool managed = false;                // M
  bool other_config = false;           // O
  std::uint16_t router_lifetime = 0;   // seconds; 0: not a default router
  std::uint32_t reachable_time = 0;    // ms; 0: unspecified
  std::uint32_t retrans_timer = 0;     // ms; 0: unspecified
  std::optional<MacAddress> source_link;
  std::optional<std::uint32_t> mtu;
  std::vector<NdpPrefixInfo> prefixes;

  [[nodiscard]] static Result<RouterAdvertRepr> parse(const NdpView& view);
  std::size_t buffer_len() const {
    return 16 + (source_link ? 8 : 0) + (mtu ? 8 : 0) + 32 * prefixes.size();
  }
  // Options in radvd's order: prefixes, MTU, source link-layer address.
  void emit(std::span<std::byte> message, const Ipv6Address& src, const Ipv6Address& dst) const;
  friend bool operator==(const RouterAdvertRepr&, const RouterAdvertRepr&) = default;
};

struct NeighbourSolicitRepr {
  Ipv6Address target;
  std::optional<MacAddress> source_link;
  std::optional<NdpNonce> nonce;

  [[nodiscard]] static Result<NeighbourSolicitRepr> parse(const NdpView& view);
  std::size_t buffer_len() const { return 24 + (source_link ? 8 : 0) + (nonce ? 8 : 0); }
  void emit(std::span<std::byte> message, const Ipv6Address& src, const Ipv6Address& dst) const;
  friend bool operator==(const NeighbourSolicitRepr&, const NeighbourSolicitRepr&) = default;
};

struct NeighbourAdvertRepr {
  Ipv6Address target;
  bool router = false;     // R
  bool solicited = false;  // S
  bool override = false;   // O
  std::optional<MacAddress> target_link;

  [[nodiscard]] static Result<NeighbourAdvertRepr> parse(const NdpView& view);
  std::size_t buffer_len() const { return 24 + (target_link ? 8 : 0); }
  void emit(std::span<std::byte> message, const Ipv6Address& src, const Ipv6Address& dst) const;
  friend bool operator==(const NeighbourAdvertRepr&, const NeighbourAdvertRepr&) = default;
};

struct RedirectRepr {
  Ipv6Address target;       // the better first hop (or the destination itself: on-link)
  Ipv6Address destination;  // whose traffic is redirected
  std::optional<MacAddress> target_link;
  std::span<const std::byte> redirected_header;  // parse: into the parsed buffer; emit: copied, padded to 8

  [[nodiscard]] static Result<RedirectRepr> parse(const NdpView& view);
  std::size_t buffer_len() const {
    return 40 + (target_link ? 8 : 0) + (redirected_header.empty() ? 0 : 8 + (redirected_header.size() + 7) / 8 * 8);
  }
  void emit(std::span<std::byte> message, const Ipv6Address& src, const Ipv6Address& dst) const;
};

// Receive-side validation: the checks each RFC section lists beyond the
// checksum (which icmpv6_checksum_ok does first, so that checksum errors
// count apart), on the IPv6 header `ip` and the ICMPv6 message `message`
// it carried. All fail with bad_message (message_size when too short).

// RFC 4861 7.1.1: hop limit 255, code 0, at least 24 bytes, valid options,
// target not multicast; from :: only to a solicited-node group and without a
// source link-layer option.
[[nodiscard]] Result<NeighbourSolicitRepr> validate_neighbour_solicit(const Ipv6View& ip,
                                                                      std::span<const std::byte> message);
// RFC 4861 7.1.2: hop limit 255, code 0, at least 24 bytes, valid options,
// target not multicast, S clear when sent to a multicast address.
[[nodiscard]] Result<NeighbourAdvertRepr> validate_neighbour_advert(const Ipv6View& ip,
                                                                    std::span<const std::byte> message);
// RFC 4861 6.1.1: hop limit 255, code 0, at least 8 bytes, valid options; from
// :: without a source link-layer option.
[[nodiscard]] Result<RouterSolicitRepr> validate_router_solicit(const Ipv6View& ip,
                                                                std::span<const std::byte> message);
// RFC 4861 6.1.2: from a link-local source, hop limit 255, code 0, at least
// 16 bytes, valid options.
[[nodiscard]] Result<RouterAdvertRepr> validate_router_advert(const Ipv6View& ip,
                                                              std::span<const std::byte> message);
// RFC 4861 8.1: from a link-local source, hop limit 255, code 0, at least 40
// bytes, valid options, destination not multicast, target link-local or
// equal to the destination.
[[nodiscard]] Result<RedirectRepr> validate_redirect(const Ipv6View& ip, std::span<const std::byte> message);

}  // namespace netns::wire
