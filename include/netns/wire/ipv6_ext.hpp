// netns/wire/ipv6_ext.hpp — IPv6 extension headers (RFC 8200 4): the walk a
// receiver does over them, as Linux's ipv6_rcv (hop-by-hop),
// ip6_protocol_deliver_rcu (the rest), ipv6_frag_rcv and ipv6_skip_exthdr do
// it; the fragment header; where a source inserts one; emitters.
//
//   // Input, after Ipv6View::checked(): hop-by-hop first (forwarded datagrams too)...
//   auto hbh = process_hop_by_hop(*ip, limits);
//   // ...then, for a local destination, the rest of the chain:
//   auto walk = walk_extension_headers(*ip, limits, hbh.next());
//   switch (walk.verdict) {
//     case Ipv6ExtVerdict::ok:                 // walk.next_header at walk.offset: the upper layer;
//                                              // unknown to us? parameter problem code 1 at walk.nhoff
//     case Ipv6ExtVerdict::fragment:           // walk.fragment at walk.offset: reassemble, then
//                                              // walk the reassembled datagram from its position
//     case Ipv6ExtVerdict::parameter_problem:  // drop, count walk.counter, send
//                                              // Icmpv6Repr::parameter_problem(walk.problem, walk.pointer)
//     case Ipv6ExtVerdict::drop:               // drop, count walk.counter
//     case Ipv6ExtVerdict::no_next_header:     // nothing follows (59): drop, count nothing
//   }
//
//   // Output: a fragment header goes after the unfragmentable part.
//   auto at = fragment_insertion_point(datagram);   // Result<Ipv6FragmentPoint>
//   Ipv6FragmentRepr{.next_header = n, .offset = 1232, .more = true, .identification = id}.emit(hdr);
//
// Nothing here reads outside the view it is given: every header's length is
// checked against the datagram (payload_length bounds it, Ipv6View::checked)
// before a byte of it is read. Each step advances by at least 8 bytes, so a
// walk ends within payload_length / 8 steps, as Linux's does; the number of
// options per header is capped by the limits below.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>

#include "netns/result.hpp"
#include "netns/wire/bytes.hpp"
#include "netns/wire/icmpv6.hpp"
#include "netns/wire/ipv4.hpp"
#include "netns/wire/ipv6.hpp"

namespace netns::wire {

// The Authentication Header (RFC 4302), which ipv6_skip_exthdr skips (its
// length counts 4-byte units); the stack does not implement IPsec.
inline constexpr std::uint8_t kIpv6AuthHeader = 51;

// Linux's ipv6_ext_hdr(): hop-by-hop, routing, fragment, AH, no next header,
// destination options.
constexpr bool is_ipv6_extension_header(std::uint8_t next_header) {
  switch (next_header) {
    case static_cast<std::uint8_t>(IpProtocol::hop_by_hop):
    case static_cast<std::uint8_t>(IpProtocol::ipv6_routing):
    case static_cast<std::uint8_t>(IpProtocol::ipv6_fragment):
    case kIpv6AuthHeader:
    case static_cast<std::uint8_t>(IpProtocol::ipv6_none):
    case static_cast<std::uint8_t>(IpProtocol::ipv6_destination):
      return true;
    default:
      return false;
  }
}

// Option types of hop-by-hop and destination options headers (RFC 8200
// 4.2, RFC 2711, RFC 2675). The two high bits say what a node that does not
// know the type does (Ipv6UnknownOption); the third that it may change en route.
enum class Ipv6OptionType : std::uint8_t {
  pad1 = 0,
  padn = 1,
  router_alert = 5,
  jumbo = 0xc2,
};

// What the two high bits of an unknown option's type ask for (RFC 8200 4.2).
enum class Ipv6UnknownOption : std::uint8_t {
  skip = 0,
  discard = 1,
  discard_send_problem = 2,
  discard_send_problem_unless_multicast = 3,
};
constexpr Ipv6UnknownOption unknown_option_action(std::uint8_t type) { return Ipv6UnknownOption{static_cast<std::uint8_t>(type >> 6)}; }

// Linux's per-namespace limits on option headers, with its sysctl names and
// defaults; the IPv6 layer passes its namespace's values.
struct Ipv6ExtLimits {
  // net.ipv6.max_hbh_opts_number / net.ipv6.max_dst_opts_number: options
  // other than Pad1/PadN one header may carry (more: dropped). Negative:
  // the same count, and any unknown option drops the datagram silently.
  int max_hbh_opts_number = 8;
  int max_dst_opts_number = 8;
  // net.ipv6.max_hbh_length / net.ipv6.max_dst_opts_length: the largest
  // header, in bytes (longer: dropped). Linux's default is INT_MAX.
  int max_hbh_length = std::numeric_limits<int>::max();
  int max_dst_opts_length = std::numeric_limits<int>::max();
};

// A view over a fragment header (RFC 8200 4.5), 8 bytes.
class Ipv6FragmentView {
 public:
  static constexpr std::size_t kLen = 8;

  // Errc::message_size below 8 bytes.
  [[nodiscard]] static Result<Ipv6FragmentView> checked(std::span<const std::byte> bytes) {
    if (bytes.size() < kLen) return error(Errc::message_size);
    return Ipv6FragmentView(bytes.first(kLen));
  }

  std::uint8_t next_header() const { return load_u8(bytes_, 0); }
  // The fragment's offset in the original's fragmentable part, in bytes (the
  // field counts 8-byte units).
  std::size_t offset() const { return load_be16(bytes_, 2) & ~std::size_t{7}; }
  bool more_fragments() const { return (load_be16(bytes_, 2) & 1) != 0; }
  std::uint32_t identification() const { return load_be32(bytes_, 4); }
  // Offset 0 and M 0: not a fragment of anything (RFC 6946), processed as if
  // the header were absent.
  bool is_atomic() const { return offset() == 0 && !more_fragments(); }

 private:
  explicit Ipv6FragmentView(std::span<const std::byte> bytes) : bytes_(bytes) {}
  std::span<const std::byte> bytes_;
};

struct Ipv6FragmentRepr {
  static constexpr std::size_t kLen = Ipv6FragmentView::kLen;

  std::uint8_t next_header = static_cast<std::uint8_t>(IpProtocol::ipv6_none);
  std::size_t offset = 0;  // bytes; a multiple of 8, below 65536
  bool more = false;
  std::uint32_t identification = 0;

  static Ipv6FragmentRepr parse(const Ipv6FragmentView& view) {
    return {view.next_header(), view.offset(), view.more_fragments(), view.identification()};
  }
  // Writes out[0, 8). Precondition: out.size() >= 8, offset % 8 == 0, offset < 65536.
  void emit(std::span<std::byte> out) const {
    store_u8(out, 0, next_header);
    store_u8(out, 1, 0);
    store_be16(out, 2, static_cast<std::uint16_t>((offset & 0xfff8) | (more ? 1 : 0)));
    store_be32(out, 4, identification);
  }
  friend bool operator==(const Ipv6FragmentRepr&, const Ipv6FragmentRepr&) = default;
};

enum class Ipv6ExtVerdict : std::uint8_t {
  ok,                 // next_header at offset: what the walk hands on
  fragment,           // a fragment header at offset: reassembly's turn
  no_next_header,     // 59: nothing follows; Linux discards it quietly
  drop,               // discard silently (count `counter`)
  parameter_problem,  // discard, count `counter`, send a parameter problem
};

// The counter Linux bumps for a discarded datagram (nstat's names).
enum class Ipv6ExtCounter : std::uint8_t {
  none,
  in_hdr_errors,       // Ip6InHdrErrors
  in_addr_errors,      // Ip6InAddrErrors
  in_unknown_protos,   // Ip6InUnknownProtos
  reasm_fails,         // Ip6ReasmFails
};

// Where a walk starts: the header at `offset`, named by the next-header
// field at `nhoff` (both from the start of the IPv6 header).
struct Ipv6ExtPosition {
  std::size_t offset = Ipv6Repr::kHeaderLen;
  std::size_t nhoff = 6;
};

struct Ipv6ExtResult {
  Ipv6ExtVerdict verdict = Ipv6ExtVerdict::ok;
  std::uint8_t next_header = 0;  // ok: the header at offset (the upper layer, after a full walk)
  std::size_t offset = 0;        // ok: where it starts; fragment: the fragment header's offset
  std::size_t nhoff = 6;         // the next-header field that named what is at offset (Linux's nhoff)
  Ipv6ExtCounter counter = Ipv6ExtCounter::none;
  Icmpv6ParameterProblem problem = Icmpv6ParameterProblem::header_field;  // parameter_problem
  std::uint32_t pointer = 0;     // parameter_problem: from the start of the IPv6 header
  // Seen on the way.
  std::optional<std::uint16_t> router_alert;   // hop-by-hop Router Alert value (RFC 2711)
  bool atomic_fragment = false;                // an atomic fragment header was passed
  bool fragment_seen = false;                  // a non-atomic fragment header was reached, whatever
                                               // became of it (Linux counts Ip6ReasmReqds there)
  std::optional<Ipv6FragmentRepr> fragment;    // verdict fragment: its fields

  // Where a following walk starts (after ok).
  Ipv6ExtPosition next() const { return {offset, nhoff}; }
};

// What the walks need to know beyond the datagram.
struct Ipv6ExtContext {
  Ipv6ExtLimits limits;
  bool link_multicast = false;  // the frame came to a link-layer multicast or broadcast address
};

// ipv6_rcv's part: the hop-by-hop options header, when the fixed header
// names one, with its options (Pad1, PadN, Router Alert, Jumbo refused,
// unknown ones by their type's high bits, the count and length limits).
// ok: position after it (or the fixed header's next header at 40).
Ipv6ExtResult process_hop_by_hop(const Ipv6View& ip, const Ipv6ExtContext& context);

// The rest of the chain for a datagram to this node, from `from` (40 when
// no hop-by-hop was processed, else process_hop_by_hop(...).next(); or a
// reassembled datagram's position): destination options, routing (a header
// with segments left 0 is passed whatever its type; otherwise types other
// than segment routing get parameter problem code 0 at the type, type 0
// included; segment routing, which the stack does not do, drops quietly),
// atomic fragments passed, hop-by-hop anywhere but at 40 refused with
// parameter problem code 1 at the field that named it. A non-atomic fragment
// ends the walk with verdict fragment after the checks ipv6_frag_rcv makes
// before queueing: a truncated fragment header (code 0 at it), a first
// fragment whose header chain stops before the upper-layer header (code 3,
// pointer 0), a fragment ending past 65535 (code 0 at its offset field), a
// non-last fragment not a multiple of 8 long (code 0 at payload_length), an
// empty fragment (dropped).
Ipv6ExtResult walk_extension_headers(const Ipv6View& ip, const Ipv6ExtContext& context,
                                     Ipv6ExtPosition from = {});

// Linux's ipv6_skip_exthdr over possibly cut-short bytes (a datagram quoted
// in an ICMPv6 error): from the header at `start` named `next_header`, skips
// extension headers without judging them, stopping at a fragment header of
// nonzero offset. nullopt when a header's first two bytes are missing or 59
// comes up. `offset` may lie past the bytes (the last header was cut short).
struct Ipv6SkipResult {
  std::size_t offset = 0;
  std::uint8_t next_header = 0;
  std::uint16_t frag_off = 0;  // the last fragment header's offset-and-flags field, 0 if none
};
std::optional<Ipv6SkipResult> skip_extension_headers(std::span<const std::byte> datagram, std::size_t start,
                                                     std::uint8_t next_header);

// Where a source inserts a fragment header (RFC 8200 4.5): after the
// unfragmentable part, which is the fixed header, a hop-by-hop header, and
// everything up to and including the last routing header (destination
// options before it belong to it). Linux's ip6_find_1stfragopt also keeps a
// destination options header that no routing header follows in the
// unfragmentable part; RFC 8200 4.1 puts that one after the fragment header,
// and so does this. `nhoff` is the next-header field to rewrite to 44.
// Errc::bad_message when the chain runs past the datagram.
struct Ipv6FragmentPoint {
  std::size_t offset = Ipv6Repr::kHeaderLen;
  std::size_t nhoff = 6;
};
[[nodiscard]] Result<Ipv6FragmentPoint> fragment_insertion_point(const Ipv6View& ip);

// One option to emit into a hop-by-hop or destination options header, with
// its alignment requirement xn+y (RFC 8200 4.2; Router Alert 2n+0, Jumbo 4n+2).
struct Ipv6OptionRepr {
  std::uint8_t type = 0;
  std::span<const std::byte> data;  // at most 255 bytes
  std::uint8_t align = 1;           // x: 1, 2, 4 or 8
  std::uint8_t align_offset = 0;    // y < x
};

// The length of the options header carrying `options` in order, each
// preceded by the padding its alignment needs, and padded to a multiple of
// 8 at the end; at most 2048 (bad_message beyond, or for a bad alignment).
[[nodiscard]] Result<std::size_t> ipv6_options_header_len(std::span<const Ipv6OptionRepr> options);
// Writes that header into out[0, ipv6_options_header_len()), with Pad1 for a
// single byte of padding and PadN (zero-filled) for more, as Linux pads.
// Returns the length written. Errc::message_size when out is too short.
[[nodiscard]] Result<std::size_t> emit_ipv6_options_header(std::span<std::byte> out, std::uint8_t next_header,
                                                           std::span<const Ipv6OptionRepr> options);

}  // namespace netns::wire
