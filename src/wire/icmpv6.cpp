// When an ICMPv6 error may be sent and how it is laid out, as Linux's
// net/ipv6/icmp.c (icmp6_send, is_ineligible, opt_unrec) does it.
#include "netns/wire/icmpv6.hpp"

#include <algorithm>

#include "netns/wire/ipv6_ext.hpp"

namespace netns::wire {
namespace {

// opt_unrec: the option a parameter problem code 2 points at asks for the
// error even towards multicast (its type's high bits are 10). A pointer
// past the quoted bytes counts as asking, as in Linux.
bool option_demands_error(std::span<const std::byte> invoking, std::uint32_t pointer) {
  if (pointer >= invoking.size()) return true;
  return unknown_option_action(load_u8(invoking, pointer)) == Ipv6UnknownOption::discard_send_problem;
}

// is_ineligible: never an error about an ICMPv6 error, nor about an ICMPv6
// message whose type is not there to tell, unless it is a later fragment.
bool is_ineligible(const Ipv6View& ip) {
  auto skip = skip_extension_headers(ip.bytes(), Ipv6View::kHeaderLen, ip.next_header());
  if (!skip || skip->next_header != static_cast<std::uint8_t>(IpProtocol::icmpv6)) return false;
  if (skip->offset >= ip.bytes().size()) return skip->frag_off == 0;
  return is_error(load_u8(ip.bytes(), skip->offset));
}

}  // namespace

bool icmpv6_error_allowed(std::span<const std::byte> invoking, Icmpv6Type type, std::uint8_t code,
                          std::uint32_t info, bool link_multicast) {
  auto ip = Ipv6View::checked_quoted(invoking);
  if (!ip) return false;
  if (ip->dst().is_multicast() || link_multicast) {
    const bool option_problem = type == Icmpv6Type::parameter_problem &&
                                code == static_cast<std::uint8_t>(Icmpv6ParameterProblem::option) &&
                                option_demands_error(ip->bytes(), info);
    if (type != Icmpv6Type::packet_too_big && !option_problem) return false;
  }
  // RFC 4443 2.4 (e): the source must name one node.
  if (ip->src().is_unspecified() || ip->src().is_multicast()) return false;
  return !is_ineligible(*ip);
}

std::size_t emit_icmpv6_error(std::span<std::byte> out, Ipv6Repr ip, Icmpv6Repr error,
                              std::span<const std::byte> invoking) {
  const std::size_t quote = icmpv6_error_quote_len(invoking.size());
  const std::size_t len = icmpv6_error_len(invoking.size());
  assert(out.size() >= len);
  error.payload_len = quote;
  ip.next_header = IpProtocol::icmpv6;
  ip.payload_len = error.buffer_len();
  ip.emit(out);
  auto message = out.subspan(Ipv6Repr::kHeaderLen, error.buffer_len());
  std::copy_n(invoking.begin(), quote, message.begin() + Icmpv6Repr::kHeaderLen);
  error.emit(message, ip.src, ip.dst);
  return len;
}

}  // namespace netns::wire
