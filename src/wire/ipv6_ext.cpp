// The extension-header walk of RFC 8200 4 as Linux's net/ipv6/exthdrs.c,
// exthdrs_core.c and reassembly.c make it. Offsets are from the start of
// the IPv6 header throughout, as the parameter problem pointer counts them.
#include "netns/wire/ipv6_ext.hpp"

#include <algorithm>

namespace netns::wire {
namespace {

constexpr std::uint8_t kHopByHop = static_cast<std::uint8_t>(IpProtocol::hop_by_hop);
constexpr std::uint8_t kRouting = static_cast<std::uint8_t>(IpProtocol::ipv6_routing);
constexpr std::uint8_t kFragment = static_cast<std::uint8_t>(IpProtocol::ipv6_fragment);
constexpr std::uint8_t kNone = static_cast<std::uint8_t>(IpProtocol::ipv6_none);
constexpr std::uint8_t kDestination = static_cast<std::uint8_t>(IpProtocol::ipv6_destination);
constexpr std::size_t kFixed = Ipv6Repr::kHeaderLen;
constexpr std::size_t kPayloadLengthField = 4;
// Segment routing (RFC 6554, RFC 8754): Linux handles these only with
// rpl_seg_enabled / seg6_enabled, off by default, and drops them quietly then.
constexpr std::uint8_t kRoutingRpl = 3, kRoutingSrh = 4;

Ipv6ExtResult ok(std::uint8_t next_header, std::size_t offset, std::size_t nhoff) {
  return {.verdict = Ipv6ExtVerdict::ok, .next_header = next_header, .offset = offset, .nhoff = nhoff};
}
Ipv6ExtResult drop(Ipv6ExtCounter counter) { return {.verdict = Ipv6ExtVerdict::drop, .counter = counter}; }
Ipv6ExtResult problem(Icmpv6ParameterProblem code, std::size_t pointer, Ipv6ExtCounter counter) {
  return {.verdict = Ipv6ExtVerdict::parameter_problem, .counter = counter, .problem = code,
          .pointer = static_cast<std::uint32_t>(pointer)};
}

// (hdr ext len + 1) * 8 of the header at `at`, or 0 when it (8 bytes at
// least, then its stated length) does not fit in the datagram.
std::size_t options_header_len(std::span<const std::byte> d, std::size_t at) {
  if (at + 8 > d.size()) return 0;
  const std::size_t len = (std::size_t{load_u8(d, at + 1)} + 1) * 8;
  return len <= d.size() - at ? len : 0;
}

// ip6_tlvopt_unknown: what an option of an unknown type does.
std::optional<Ipv6ExtResult> unknown_option(std::span<const std::byte> d, std::size_t at, bool disallow_unknowns,
                                            const Ipv6Address& dst) {
  if (disallow_unknowns) return drop(Ipv6ExtCounter::in_hdr_errors);
  switch (unknown_option_action(load_u8(d, at))) {
    case Ipv6UnknownOption::skip:
      return std::nullopt;
    case Ipv6UnknownOption::discard:
      return drop(Ipv6ExtCounter::in_hdr_errors);
    case Ipv6UnknownOption::discard_send_problem_unless_multicast:
      if (dst.is_multicast()) return drop(Ipv6ExtCounter::in_hdr_errors);
      [[fallthrough]];
    case Ipv6UnknownOption::discard_send_problem:
      break;
  }
  return problem(Icmpv6ParameterProblem::option, at, Ipv6ExtCounter::in_hdr_errors);
}

// ipv6_hop_jumbo: a Jumbo Payload option is only valid in a datagram whose
// payload length is 0, which Ipv6View::checked() already refused; what is
// left is the complaint Linux makes about it.
Ipv6ExtResult jumbo_option(std::span<const std::byte> d, std::size_t at) {
  if (load_u8(d, at + 1) != 4 || (at & 3) != 2) return drop(Ipv6ExtCounter::in_hdr_errors);
  if (load_be32(d, at + 2) <= 0xffff) {
    return problem(Icmpv6ParameterProblem::header_field, at + 2, Ipv6ExtCounter::in_hdr_errors);
  }
  return problem(Icmpv6ParameterProblem::header_field, at, Ipv6ExtCounter::in_hdr_errors);
}

// ip6_parse_tlv over the options of the header at `start`, `len` bytes long.
// nullopt: every option is acceptable; `result` has recorded a Router Alert.
std::optional<Ipv6ExtResult> parse_options(const Ipv6View& ip, std::size_t start, std::size_t len, bool hop_by_hop,
                                           int max_count, Ipv6ExtResult& result) {
  const auto d = ip.bytes();
  const bool disallow_unknowns = max_count < 0;
  const int limit = max_count < 0 ? -max_count : max_count;
  int count = 0;
  std::size_t padding = 0;  // consecutive padding bytes; RFC 4942 2.1.9.5: never more than 7
  std::size_t at = start + 2;
  const std::size_t end = start + len;
  while (at < end) {
    const std::uint8_t type = load_u8(d, at);
    if (type == static_cast<std::uint8_t>(Ipv6OptionType::pad1)) {
      if (++padding > 7) return drop(Ipv6ExtCounter::in_hdr_errors);
      ++at;
      continue;
    }
    if (end - at < 2) return drop(Ipv6ExtCounter::in_hdr_errors);
    const std::size_t opt_len = std::size_t{load_u8(d, at + 1)} + 2;
    if (opt_len > end - at) return drop(Ipv6ExtCounter::in_hdr_errors);
    if (type == static_cast<std::uint8_t>(Ipv6OptionType::padn)) {
      padding += opt_len;
      if (padding > 7) return drop(Ipv6ExtCounter::in_hdr_errors);
      // RFC 4942 recommends receivers check that PadN carries only zeros.
      for (std::size_t i = 2; i < opt_len; ++i) {
        if (load_u8(d, at + i) != 0) return drop(Ipv6ExtCounter::in_hdr_errors);
      }
    } else {
      if (++count > limit) return drop(Ipv6ExtCounter::in_hdr_errors);
      if (hop_by_hop && type == static_cast<std::uint8_t>(Ipv6OptionType::router_alert)) {
        if (opt_len != 4) return drop(Ipv6ExtCounter::in_hdr_errors);
        result.router_alert = load_be16(d, at + 2);
      } else if (hop_by_hop && type == static_cast<std::uint8_t>(Ipv6OptionType::jumbo)) {
        return jumbo_option(d, at);
      } else if (auto verdict = unknown_option(d, at, disallow_unknowns, ip.dst())) {
        return verdict;
      }
      padding = 0;
    }
    at += opt_len;
  }
  return std::nullopt;
}

// An options header (hop-by-hop or destination) at `at`: ok with the
// position after it, or why not.
Ipv6ExtResult options_header(const Ipv6View& ip, std::size_t at, bool hop_by_hop, const Ipv6ExtLimits& limits,
                             Ipv6ExtResult& carry) {
  const std::size_t len = options_header_len(ip.bytes(), at);
  if (len == 0) return drop(Ipv6ExtCounter::in_hdr_errors);
  const int max_len = hop_by_hop ? limits.max_hbh_length : limits.max_dst_opts_length;
  // ipv6_destopt_rcv leaves this one uncounted.
  if (max_len < 0 || len > static_cast<std::size_t>(max_len)) {
    return drop(hop_by_hop ? Ipv6ExtCounter::in_hdr_errors : Ipv6ExtCounter::none);
  }
  const int max_count = hop_by_hop ? limits.max_hbh_opts_number : limits.max_dst_opts_number;
  if (auto verdict = parse_options(ip, at, len, hop_by_hop, max_count, carry)) return *verdict;
  return ok(load_u8(ip.bytes(), at), at + len, at);
}

// ipv6_rthdr_rcv without source routing: only a header with no segments
// left is passed.
Ipv6ExtResult routing_header(const Ipv6View& ip, std::size_t at, const Ipv6ExtContext& context) {
  const auto d = ip.bytes();
  const std::size_t len = options_header_len(d, at);
  if (len == 0) return drop(Ipv6ExtCounter::in_hdr_errors);
  if (ip.dst().is_multicast() || context.link_multicast) return drop(Ipv6ExtCounter::in_addr_errors);
  const std::uint8_t type = load_u8(d, at + 2);
  const std::uint8_t segments_left = load_u8(d, at + 3);
  if (segments_left == 0) return ok(load_u8(d, at), at + len, at);
  if (type == kRoutingRpl || type == kRoutingSrh) return drop(Ipv6ExtCounter::none);
  // Type 0 (deprecated by RFC 5095) and every type the stack does not route.
  return problem(Icmpv6ParameterProblem::header_field, at + 2, Ipv6ExtCounter::in_hdr_errors);
}

// ipv6frag_thdr_truncated: a first fragment whose chain, walked as
// ipv6_skip_exthdr does, ends before the whole upper-layer header
// (TCP 20, UDP 8, ICMPv6 8, anything else 1 byte). A chain that cannot be
// walked is not judged here, as in Linux.
bool first_fragment_truncated(std::span<const std::byte> d) {
  auto skip = skip_extension_headers(d, kFixed, load_u8(d, 6));
  if (!skip || (skip->frag_off & 0xfff8) != 0) return false;
  std::size_t need = 1;
  switch (skip->next_header) {
    case static_cast<std::uint8_t>(IpProtocol::tcp): need = 20; break;
    case static_cast<std::uint8_t>(IpProtocol::udp): need = 8; break;
    case static_cast<std::uint8_t>(IpProtocol::icmpv6): need = 8; break;
    default: break;
  }
  return skip->offset + need > d.size();
}

// ipv6_frag_rcv, and the checks of ip6_frag_queue that need only this datagram.
Ipv6ExtResult fragment_header(const Ipv6View& ip, std::size_t at, std::size_t nhoff, Ipv6ExtResult& carry) {
  const auto d = ip.bytes();
  auto seen = [](Ipv6ExtResult r) {
    r.fragment_seen = true;
    return r;
  };
  auto view = Ipv6FragmentView::checked(d.subspan(at));
  if (!view) return seen(problem(Icmpv6ParameterProblem::header_field, at, Ipv6ExtCounter::in_hdr_errors));
  if (view->is_atomic()) {
    carry.atomic_fragment = true;
    return ok(view->next_header(), at + Ipv6FragmentView::kLen, at);
  }
  // ipv6_frag_rcv counts Ip6InHdrErrors for an incomplete chain (RFC 7112).
  if (view->offset() == 0 && first_fragment_truncated(d)) {
    return seen(problem(Icmpv6ParameterProblem::incomplete_chain, 0, Ipv6ExtCounter::in_hdr_errors));
  }
  const std::size_t data_len = d.size() - (at + Ipv6FragmentView::kLen);
  const std::size_t end = view->offset() + data_len;
  if (end > 0xffff) return seen(problem(Icmpv6ParameterProblem::header_field, at + 2, Ipv6ExtCounter::in_hdr_errors));
  if (view->more_fragments() && (end & 7) != 0) {
    return seen(problem(Icmpv6ParameterProblem::header_field, kPayloadLengthField, Ipv6ExtCounter::in_hdr_errors));
  }
  // A fragment without data goes on too: ip6_frag_queue drops the whole
  // datagram it names, which only reassembly knows.
  Ipv6ExtResult result = carry;
  result.fragment_seen = true;
  result.verdict = Ipv6ExtVerdict::fragment;
  result.next_header = kFragment;
  result.offset = at;
  result.nhoff = nhoff;
  result.fragment = Ipv6FragmentRepr::parse(*view);
  return result;
}

// Keeps what earlier headers recorded (Router Alert, atomic fragment) in a
// verdict made by a later one.
Ipv6ExtResult with_carry(Ipv6ExtResult verdict, const Ipv6ExtResult& carry) {
  verdict.router_alert = carry.router_alert;
  verdict.atomic_fragment = carry.atomic_fragment;
  return verdict;
}

std::size_t padding_before(std::size_t at, const Ipv6OptionRepr& option) {
  const std::size_t x = option.align;
  return (option.align_offset + x - at % x) % x;
}

void emit_padding(std::span<std::byte> out, std::size_t at, std::size_t n) {
  if (n == 0) return;
  if (n == 1) {
    store_u8(out, at, static_cast<std::uint8_t>(Ipv6OptionType::pad1));
    return;
  }
  store_u8(out, at, static_cast<std::uint8_t>(Ipv6OptionType::padn));
  store_u8(out, at + 1, static_cast<std::uint8_t>(n - 2));
  for (std::size_t i = 2; i < n; ++i) store_u8(out, at + i, 0);
}

}  // namespace

Ipv6ExtResult process_hop_by_hop(const Ipv6View& ip, const Ipv6ExtContext& context) {
  if (ip.next_header() != kHopByHop) return ok(ip.next_header(), kFixed, 6);
  Ipv6ExtResult carry;
  return with_carry(options_header(ip, kFixed, true, context.limits, carry), carry);
}

Ipv6ExtResult walk_extension_headers(const Ipv6View& ip, const Ipv6ExtContext& context, Ipv6ExtPosition from) {
  const auto d = ip.bytes();
  Ipv6ExtResult carry;
  if (from.nhoff >= d.size() || from.offset > d.size()) return drop(Ipv6ExtCounter::in_hdr_errors);
  Ipv6ExtResult step = ok(load_u8(d, from.nhoff), from.offset, from.nhoff);
  // Every header passed advances offset by 8 bytes at least: at most
  // payload_length / 8 rounds.
  for (;;) {
    const std::size_t at = step.offset, nhoff = step.nhoff;
    switch (step.next_header) {
      case kHopByHop:
        if (at != kFixed) {
          return with_carry(problem(Icmpv6ParameterProblem::next_header, nhoff, Ipv6ExtCounter::in_unknown_protos),
                            carry);
        }
        step = options_header(ip, at, true, context.limits, carry);
        break;
      case kDestination:
        step = options_header(ip, at, false, context.limits, carry);
        break;
      case kRouting:
        step = routing_header(ip, at, context);
        break;
      case kFragment:
        step = fragment_header(ip, at, nhoff, carry);
        break;
      case kNone:
        return with_carry({.verdict = Ipv6ExtVerdict::no_next_header, .next_header = kNone, .offset = at,
                           .nhoff = nhoff},
                          carry);
      default:
        return with_carry(step, carry);
    }
    if (step.verdict == Ipv6ExtVerdict::fragment) return step;
    if (step.verdict != Ipv6ExtVerdict::ok) return with_carry(step, carry);
  }
}

std::optional<Ipv6SkipResult> skip_extension_headers(std::span<const std::byte> datagram, std::size_t start,
                                                     std::uint8_t next_header) {
  Ipv6SkipResult result{start, next_header, 0};
  // Every round advances by 8 bytes at least (AH: 8 too), and a header whose
  // first two bytes lie past the datagram ends the walk.
  while (is_ipv6_extension_header(result.next_header)) {
    if (result.next_header == kNone) return std::nullopt;
    const std::size_t at = result.offset;
    if (at > datagram.size() || datagram.size() - at < 2) return std::nullopt;
    std::size_t len;
    if (result.next_header == kFragment) {
      if (datagram.size() - at < 4) return std::nullopt;
      result.frag_off = load_be16(datagram, at + 2);
      if ((result.frag_off & 0xfff8) != 0) break;
      len = Ipv6FragmentView::kLen;
    } else if (result.next_header == kIpv6AuthHeader) {
      len = (std::size_t{load_u8(datagram, at + 1)} + 2) * 4;
    } else {
      len = (std::size_t{load_u8(datagram, at + 1)} + 1) * 8;
    }
    result.next_header = load_u8(datagram, at);
    result.offset = at + len;
  }
  return result;
}

Result<Ipv6FragmentPoint> fragment_insertion_point(const Ipv6View& ip) {
  const auto d = ip.bytes();
  Ipv6FragmentPoint unfragmentable;   // ends after hop-by-hop or the last routing header
  Ipv6FragmentPoint at{kFixed, 6};    // the header being looked at
  for (;;) {
    const std::uint8_t next = load_u8(d, at.nhoff);
    if (next != kHopByHop && next != kRouting && next != kDestination) return unfragmentable;
    if (next == kHopByHop && at.offset != kFixed) return unfragmentable;
    const std::size_t len = options_header_len(d, at.offset);
    if (len == 0) return error(Errc::bad_message);
    at = {at.offset + len, at.offset};
    if (next != kDestination) unfragmentable = at;
  }
}

Result<std::size_t> ipv6_options_header_len(std::span<const Ipv6OptionRepr> options) {
  std::size_t at = 2;
  for (const auto& option : options) {
    if (option.align == 0 || option.align > 8 || (option.align & (option.align - 1)) != 0 ||
        option.align_offset >= option.align || option.data.size() > 255) {
      return error(Errc::bad_message);
    }
    at += padding_before(at, option) + 2 + option.data.size();
  }
  const std::size_t len = (at + 7) / 8 * 8;
  if (len > 2048) return error(Errc::bad_message);
  return len;
}

Result<std::size_t> emit_ipv6_options_header(std::span<std::byte> out, std::uint8_t next_header,
                                             std::span<const Ipv6OptionRepr> options) {
  auto len = ipv6_options_header_len(options);
  if (!len) return len.error();
  if (out.size() < *len) return error(Errc::message_size);
  store_u8(out, 0, next_header);
  store_u8(out, 1, static_cast<std::uint8_t>(*len / 8 - 1));
  std::size_t at = 2;
  for (const auto& option : options) {
    const std::size_t pad = padding_before(at, option);
    emit_padding(out, at, pad);
    at += pad;
    store_u8(out, at, option.type);
    store_u8(out, at + 1, static_cast<std::uint8_t>(option.data.size()));
    std::copy(option.data.begin(), option.data.end(), out.begin() + static_cast<std::ptrdiff_t>(at + 2));
    at += 2 + option.data.size();
  }
  emit_padding(out, at, *len - at);
  return *len;
}

}  // namespace netns::wire
