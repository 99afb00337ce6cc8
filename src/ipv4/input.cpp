// IPv4 ingress: validate, route (refusing martians), process options, then
// deliver locally or forward.
//   process → process_ipv4 → route_input → deliver_local → process_options
//                                          → process_icmp | Transport::deliver
//                                        → forward → process_options → output_datagram
#include <array>

#include <fmt/format.h>

#include "core/route_cache.hpp"
#include "netns/devconf.hpp"
#include "ipv4/ipv4_net.hpp"
#include "ipv4/stack.hpp"
#include "netns/wire/ethernet.hpp"

namespace netns::ipv4 {

using wire::IcmpType;
using wire::IcmpUnreachable;

namespace {
std::uint8_t code(IcmpUnreachable c) { return static_cast<std::uint8_t>(c); }

// ip_rcv_core's distinction: a sound header whose total_length promises more
// than arrived is InTruncatedPkts; anything wrong with the header itself is InHdrErrors.
bool is_truncated(std::span<const std::byte> bytes) {
  if (bytes.size() < wire::Ipv4View::kMinHeaderLen) return false;
  std::size_t header_len = (std::to_integer<std::size_t>(bytes[0]) & 0x0f) * 4;
  std::size_t total = std::to_integer<std::size_t>(bytes[2]) << 8 | std::to_integer<std::size_t>(bytes[3]);
  return std::to_integer<unsigned>(bytes[0]) >> 4 == 4 && header_len >= wire::Ipv4View::kMinHeaderLen &&
         header_len <= bytes.size() && total >= header_len && total > bytes.size();
}

// Linux's ipv4_is_zeronet, which since 5.3 ("Allow 0.0.0.0/8 as a valid
// address range") is 0.0.0.0 alone: the rest of RFC 1122's "this network"
// is unicast, as a source and as a destination.
bool is_zeronet(Ipv4Address a) { return a.is_unspecified(); }

// First octets that make an address worth the martian checks: 0 (this
// network), 127 (loopback) and 224..255 (multicast, reserved, the limited
// broadcast). Everything else costs input one table load per address.
constexpr auto kUnusualOctet = [] {
  std::array<bool, 256> out{};
  out[0] = out[127] = true;
  for (std::size_t i = 224; i < 256; ++i) out[i] = true;
  return out;
}();

bool unusual(Ipv4Address a) { return kUnusualOctet[a.value >> 24]; }

// False when `a` is surely not one of the namespace's addresses nor in its
// local table (Ipv4Net::local_filter): the LAND check's first step, and the
// input route's.
bool may_be_local(const Ipv4Net& ns, Ipv4Address a) {
  const std::uint64_t bits = Ipv4Net::local_filter_bits(a);
  return (ns.local_filter & bits) == bits;
}

// Whether the input device filters reverse paths (IN_DEV_RPFILTER): a bit
// of the Device, so a datagram pays one load to learn that it does not.
bool rp_filter(const Device& in) { return device_conf_on(in, DevconfId::ipv4_rp_filter); }

// net_ratelimit's budget, which Linux spends on log_martians messages.
constexpr std::uint32_t kLogBurst = 10;
constexpr auto kLogInterval = std::chrono::seconds(5);
}  // namespace

bool Ipv4Stack::prefetches(Net& net) {
  const Ipv4Net* ns = slot_.find(net);
  return ns != nullptr && ns->hooks.prefetches(netfilter::Hook::prerouting);
}

void Ipv4Stack::prefetch(Net& net, Device&, std::span<const std::byte> frame) {
  const Ipv4Net* ns = slot_.find(net);
  if (ns == nullptr || !ns->hooks.prefetches(netfilter::Hook::prerouting)) return;
  ns->hooks.prefetch(netfilter::Hook::prerouting, net, frame.subspan(wire::EthernetView::kHeaderLen));
}

void Ipv4Stack::process(Net& net, Device& dev, Packet frame) {
  Ipv4Net* ns = slot_.find(net);
  if (ns == nullptr) return;
  process_ipv4(net, *ns, dev, std::move(frame));
}

void Ipv4Stack::process_ipv4(Net& net, Ipv4Net& ns, Device& dev, Packet&& packet) {
  Counters& c = net.counters();
  if (packet.type == PacketType::otherhost) {  // ip_rcv_core drops these before counting
    ++dev.mutable_stats().rx_otherhost_dropped;
    return;
  }
  c.add(Counter::IpInReceives);
  auto view = wire::Ipv4View::checked(packet.data());
  if (!view) {
    c.add(is_truncated(packet.data()) ? Counter::IpExtInTruncatedPkts : Counter::IpInHdrErrors);
    return;
  }
  // By ECN field, as ip_rcv_core: IpExtInNoECTPkts, InECT1Pkts, InECT0Pkts, InCEPkts.
  static_assert(static_cast<int>(Counter::IpExtInCEPkts) - static_cast<int>(Counter::IpExtInNoECTPkts) == 3);
  c.add(static_cast<Counter>(static_cast<int>(Counter::IpExtInNoECTPkts) + view->ecn()));
  if (!view->verify_checksum()) {
    c.add(Counter::IpExtInCsumErrors);
    c.add(Counter::IpInHdrErrors);
    return;
  }
  // The ping of death: a fragment reaching past the largest datagram.
  if (std::size_t{view->fragment_offset()} + view->total_length() > 0xffff) {
    c.add(Counter::IpInHdrErrors);
    return;
  }
  packet.trim(view->total_length());  // Ethernet padding is not ours
  c.add(Counter::IpExtInOctets, packet.size());
  if (ns.active_hooks.active(netfilter::Hook::prerouting)) [[unlikely]] {
    if (!run_hook(net, ns, netfilter::Hook::prerouting, packet, &dev, nullptr)) return;
    view = wire::Ipv4View::checked(packet.data());  // NAT may have rewritten it, defrag made it whole
    if (!view) return;
  }
  const Ipv4Address src = view->src(), dst = view->dst();
  if (dst.is_multicast()) {
    c.add(Counter::IpExtInMcastPkts);
    c.add(Counter::IpInDiscards);  // no multicast sockets yet
    return;
  }
  const InputRoute route = route_input(net, ns, dev, src, dst);
  switch (route) {
    case InputRoute::reverse_path:
      c.add(Counter::TcpExtIPReversePathFilter);  // ip_rcv_finish_core on -EXDEV
      drop_martian(net, ns, dev, InputRoute::martian_source, src, dst);
      return;
    case InputRoute::martian_source:
    case InputRoute::martian_destination:
      drop_martian(net, ns, dev, route, src, dst);
      return;
    case InputRoute::broadcast:
      c.add(Counter::IpExtInBcastPkts);
      deliver_local(net, ns, dev, std::move(packet), *view, true);
      return;
    case InputRoute::local:
      deliver_local(net, ns, dev, std::move(packet), *view, false);
      return;
    case InputRoute::forward:
      forward(net, ns, dev, std::move(packet), *view, nullptr);
      return;
  }
}

// ip_route_input_slow's checks, in its order, before and around the FIB.
// The loopback's datagrams were routed on output already (Linux gives them
// their output route): no martian is looked for there.
// Every received datagram takes it; its common case is a few compares.
inline Ipv4Stack::InputRoute Ipv4Stack::route_input(Net& net, Ipv4Net& ns, const Device& dev, Ipv4Address src,
                                             Ipv4Address dst) {
  const bool loopback = dev.kind() == DeviceKind::loopback;
  if (!loopback) {
    if (unusual(src) || unusual(dst)) [[unlikely]] {
      if (src.is_multicast() || src.is_broadcast()) return InputRoute::martian_source;
      if (dst.is_broadcast() || (src.is_unspecified() && dst.is_unspecified())) {
        // brd_input: any source but one of ours (0.0.0.0 too: DHCP clients).
        return src.is_unspecified() ? InputRoute::broadcast
                                    : source_verdict(validate_source(net, ns, dev, src, nullptr), InputRoute::broadcast);
      }
      if (is_zeronet(src)) return InputRoute::martian_source;
      if (is_zeronet(dst) || dst.is_loopback()) return InputRoute::martian_destination;  // route_localnet 0
      if (src.is_loopback()) return InputRoute::martian_source;
    }
  } else if (dst.is_broadcast()) {
    return InputRoute::broadcast;
  }
  // The local filter holds every destination of the local table but the
  // loopback's networks, which only the loopback's datagrams reach: a
  // datagram to forward reads neither the local table nor its line.
  if (!loopback && !may_be_local(ns, dst)) return InputRoute::forward;
  const FibEntry* local = ns.local.lookup(dst);
  if (local == nullptr) return InputRoute::forward;
  InputRoute verdict = InputRoute::forward;
  if (local->type == RouteType::broadcast && local->prefix.length() == 32) {
    verdict = InputRoute::broadcast;
  } else if (local->type == RouteType::local) {
    verdict = InputRoute::local;
  }
  if (verdict != InputRoute::forward && !loopback && (may_be_local(ns, src) || rp_filter(dev))) {
    return source_verdict(validate_source(net, ns, dev, src, nullptr), verdict);
  }
  return verdict;
}

// fib_validate_source. Its fast path, with rp_filter 0 (Linux's default)
// and no redirect to consider, is the LAND check: a source that is one of
// the namespace's own addresses is a martian unless accept_local. Otherwise
// __fib_validate_source looks up the route back to the source as output
// would: none is a reverse path failure under rp_filter and fine without;
// anything but unicast (or local with accept_local) is a martian; one
// through the input device passes (on_link when it has no gateway); one
// through another device fails strict mode (1) and passes loose mode (2),
// as does any route while the input device has no address.
Ipv4Stack::InputRoute Ipv4Stack::source_verdict(SourceCheck check, InputRoute ok) {
  switch (check) {
    case SourceCheck::invalid: return InputRoute::martian_source;
    case SourceCheck::reverse_path: return InputRoute::reverse_path;
    default: return ok;
  }
}

Ipv4Stack::SourceCheck Ipv4Stack::validate_source(Net& net, Ipv4Net& ns, const Device& in, Ipv4Address src,
                                                  const Device* out) {
  const Sysctl& sysctl = net.sysctl();
  const std::int32_t rpf = device_conf(sysctl, in, DevconfId::ipv4_rp_filter);
  const bool accept_local = device_conf(sysctl, in, DevconfId::ipv4_accept_local) != 0;
  if (rpf == 0 && (out != &in || device_conf(sysctl, in, DevconfId::ipv4_send_redirects) == 0)) {
    return accept_local || !may_be_local(ns, src) || !ns.has_address(src) ? SourceCheck::ok : SourceCheck::invalid;
  }
  const SourceCheck failed = rpf != 0 ? SourceCheck::reverse_path : SourceCheck::ok;
  const FibEntry* back = ns.local.lookup(src);
  if (back == nullptr) back = ns.main.lookup(src);
  if (back == nullptr) return failed;
  if (back->type != RouteType::unicast && (back->type != RouteType::local || !accept_local)) {
    return SourceCheck::invalid;
  }
  if (back->dev == &in || (back->type == RouteType::local && in.kind() == DeviceKind::loopback)) {
    return back->gateway.is_unspecified() ? SourceCheck::on_link : SourceCheck::ok;
  }
  const bool no_addr = std::none_of(ns.addresses.begin(), ns.addresses.end(),
                                    [&](const InAddress& a) { return a.dev == &in; });
  if (no_addr) return failed;
  return rpf == 1 ? SourceCheck::reverse_path : SourceCheck::ok;
}

void Ipv4Stack::drop_martian(Net& net, Ipv4Net& ns, const Device& dev, InputRoute why, Ipv4Address src,
                             Ipv4Address dst) {
  const bool source = why == InputRoute::martian_source;
  Ipv4Extras& x = extras(ns);
  ++(source ? x.in_martian_src : x.in_martian_dst);
  if (device_conf(net.sysctl(), dev, DevconfId::ipv4_log_martians) == 0) return;
  const auto now = host_.now();
  if (now - x.martian_log_window >= kLogInterval) {
    x.martian_log_window = now;
    x.martian_log_count = 0;
  }
  if (x.martian_log_count++ >= kLogBurst) return;
  host_.log(source ? fmt::format("martian source {} from {}, on dev {}", dst, src, dev.name())
                   : fmt::format("martian destination {} from {}, dev {}", dst, src, dev.name()));
}

Ipv4Extras& Ipv4Stack::extras(Ipv4Net& ns) {
  if (!ns.extras) ns.extras = std::make_unique<Ipv4Extras>(pmtu_key_);
  return *ns.extras;
}

std::uint64_t Ipv4Stack::martian_sources(Net& net) {
  const Ipv4Net* ns = slot_.find(net);
  return ns != nullptr && ns->extras ? ns->extras->in_martian_src : 0;
}

std::uint64_t Ipv4Stack::martian_destinations(Net& net) {
  const Ipv4Net* ns = slot_.find(net);
  return ns != nullptr && ns->extras ? ns->extras->in_martian_dst : 0;
}

// ---- options: ip_rcv_options ----

bool Ipv4Stack::is_unicast_address(Net& net, Ipv4Address address) {
  // inet_addr_type(address) == RTN_UNICAST.
  if (is_zeronet(address) || address.is_broadcast() || address.is_multicast()) return false;
  return local_route(net, address) == nullptr;
}

OptionContext Ipv4Stack::option_context(Net& net, const Device& dev, Ipv4Address src, Ipv4Address dst,
                                        bool local) {
  // fib_compute_spec_dst: our own destination address, else the source of the
  // route back to the sender.
  Ipv4Address spec_dst = dst;
  if (!local) {
    auto back = is_zeronet(src) ? Result<RouteResult>(error(Errc::network_unreachable)) : route_output(net, src);
    spec_dst = back && back->dev != &net.loopback() ? back->source : select_source(net, dev, src);
  }
  return {.spec_dst = spec_dst,
          .timestamp = timestamp_now(),
          .is_unicast = [this, &net](Ipv4Address a) { return is_unicast_address(net, a); }};
}

bool Ipv4Stack::process_options(Net& net, Ipv4Net& ns, const Device& dev, Packet& packet, wire::Ipv4View& ip,
                                InputRoute& route, ReceivedOptions& options) {
  // Options are rewritten in place: the header becomes the packet's own
  // (a copy if it was shared), and the caller's view follows it there.
  const wire::Ipv4MutView view = ip.rebind(packet.mutable_data());
  ip = view;
  const std::span<std::byte> header = view.header();
  const CompiledOptions compiled = compile_received_options(
      header, option_context(net, dev, view.src(), view.dst(), route == InputRoute::local));
  if (compiled.problem) {
    net.counters().add(Counter::IpInHdrErrors);
    send_icmp_error(net, packet, IcmpType::parameter_problem, 0, std::uint32_t{*compiled.problem} << 24);
    return false;
  }
  options = compiled.options;
  view.fill_checksum();
  if (options.srr == 0) return true;
  if (device_conf(net.sysctl(), dev, DevconfId::ipv4_accept_source_route) == 0) {
    // Refused by policy, not broken: Linux's ip_rcv_options drops these
    // without a counter in any MIB, and says so only under log_martians.
    if (device_conf(net.sysctl(), dev, DevconfId::ipv4_log_martians) != 0) {
      host_.log(fmt::format("source route option {} -> {}", view.src(), view.dst()));
    }
    return false;
  }
  return follow_source_route(net, ns, dev, packet, view, options, route);
}

bool Ipv4Stack::follow_source_route(Net& net, Ipv4Net& ns, const Device& dev, const Packet& packet,
                                    const wire::Ipv4MutView& view, ReceivedOptions& options, InputRoute& route) {
  if (packet.type != PacketType::host) return false;
  if (route == InputRoute::forward) {
    if (!options.is_strictroute) return true;  // a loose route to someone else: forwarded as it is
    send_icmp_error(net, packet, IcmpType::parameter_problem, 0, 16u << 24);  // blames the destination
    return false;
  }
  if (route != InputRoute::local) return false;
  const std::span<std::byte> srr = view.header().subspan(options.srr);
  const std::size_t len = wire::load_u8(srr, 1);
  std::size_t pointer = wire::load_u8(srr, 2);
  Ipv4Address nexthop;
  for (; pointer <= len; pointer += 4) {
    if (pointer + 3 > len) {
      send_icmp_error(net, packet, IcmpType::parameter_problem, 0, std::uint32_t{options.srr + 2u} << 24);
      return false;
    }
    nexthop = wire::load_ipv4(srr, pointer - 1);
    const InputRoute hop = route_input(net, ns, dev, view.src(), nexthop);
    if (hop == InputRoute::local) {  // another of our addresses: on to the next hop at once
      view.set_dst(nexthop);
      continue;
    }
    const FibEntry* out = ns.main.lookup(nexthop);
    if (hop != InputRoute::forward || device_conf(net.sysctl(), dev, DevconfId::ipv4_forwarding) == 0 ||
        out == nullptr ||
        out->type != RouteType::unicast || out->dev == nullptr || !out->dev->is_up()) {
      return false;
    }
    break;
  }
  view.fill_checksum();
  if (pointer <= len) {
    options.srr_is_hit = true;
    options.nexthop = nexthop;
    route = InputRoute::forward;
  }
  return true;
}

// ---- local delivery and forwarding ----

void Ipv4Stack::deliver_local(Net& net, Ipv4Net& ns, Device& dev, Packet packet, const wire::Ipv4View& ip,
                              bool broadcast) {
  wire::Ipv4View view = ip;
  if (view.is_fragment()) {
    std::optional<Packet> whole = ns.fragments(*this).add(std::move(packet), view);
    if (!whole) return;
    packet = std::move(*whole);
    // A new datagram, whose header the reassembler wrote: checked here for
    // the first time, as every header that enters input is once.
    auto reassembled = wire::Ipv4View::checked(packet.data());
    if (!reassembled) return;
    view = *reassembled;
  }
  // Options are processed once the datagram is whole (Linux does it per
  // fragment; only the first carries Record Route and Timestamp).
  ReceivedOptions options;
  const bool has_options = view.header_len() > wire::Ipv4Repr::kHeaderLen;
  if (has_options) {
    InputRoute route = broadcast ? InputRoute::broadcast : InputRoute::local;
    if (!process_options(net, ns, dev, packet, view, route, options)) return;
    if (options.srr_is_hit) {
      forward(net, ns, dev, std::move(packet), view, &options);
      return;
    }
  }
  if (ns.active_hooks.active(netfilter::Hook::input)) [[unlikely]] {
    if (!run_hook(net, ns, netfilter::Hook::input, packet, &dev, nullptr)) return;
    auto after = wire::Ipv4View::checked(packet.data());
    if (!after) return;
    view = *after;
  }
  InputMeta meta{&dev, view.src(), view.dst(), view.ttl(), view.tos(), broadcast};
  meta.header_len = view.header_len();
  meta.options = has_options ? &options : nullptr;
  auto protocol = static_cast<std::uint8_t>(view.protocol());
  std::size_t header_len = view.header_len();
  Transport* transport = transports_[protocol];
  if (view.protocol() != wire::IpProtocol::icmp && transport == nullptr) {
    net.counters().add(Counter::IpInUnknownProtos);
    if (!broadcast) send_icmp_error(net, packet, IcmpType::dest_unreachable, code(IcmpUnreachable::protocol));
    return;
  }
  net.counters().add(Counter::IpInDelivers);
  packet.pull_front(header_len);
  if (view.protocol() == wire::IpProtocol::icmp) {
    process_icmp(net, ns, std::move(packet), meta);
  } else {
    transport->deliver(net, std::move(packet), meta);
  }
}

void Ipv4Stack::forward(Net& net, Ipv4Net& ns, Device& in, Packet&& packet, const wire::Ipv4View& ip,
                        const ReceivedOptions* followed) {
  wire::Ipv4View view = ip;  // options processing may move it to the packet's own copy
  Counters& c = net.counters();
  if (packet.type != PacketType::host) return;  // ip_forward: only frames sent to us
  // IN_DEV_FORWARD: the input device's own forwarding, which all.forwarding
  // (net.ipv4.ip_forward) writes on every device.
  const bool forwarding = device_conf_on(in, DevconfId::ipv4_forwarding);
  // What forwarding reads of the header (options processing leaves it alone).
  const Ipv4Address src = view.src(), dst = view.dst();
  const std::uint8_t ttl = view.ttl();
  const bool dont_fragment = view.dont_fragment();
  const bool has_options = view.header_len() > wire::Ipv4Repr::kHeaderLen;
  // A source route that this host follows names the next hop; the header's
  // destination becomes it once forward_options has run.
  const Ipv4Address target = followed != nullptr ? followed->nexthop : dst;
  const FibEntry* route = ns.main.lookup(target);
  const bool usable =
      route != nullptr && (route->type != RouteType::unicast || (route->dev != nullptr && route->dev->is_up()));
  // __mkroute_input validates the source of what it will forward, and marks
  // a datagram going back out of the device it came in by, from a source on
  // that link, for a redirect (IPSKB_DOREDIRECT; shared_media being on as
  // Linux's default, the gateway need not share the source's subnet).
  bool redirect = false;
  if (forwarding && usable && route->type == RouteType::unicast &&
      (route->dev == &in || may_be_local(ns, src) || rp_filter(in))) [[unlikely]] {
    const SourceCheck check = validate_source(net, ns, in, src, route->dev);
    if (check == SourceCheck::invalid || check == SourceCheck::reverse_path) {
      if (check == SourceCheck::reverse_path) c.add(Counter::TcpExtIPReversePathFilter);
      drop_martian(net, ns, in, InputRoute::martian_source, src, dst);
      return;
    }
    redirect = check == SourceCheck::on_link && route->dev == &in &&
               device_conf(net.sysctl(), in, DevconfId::ipv4_send_redirects) != 0;
  }
  std::optional<ReceivedOptions> compiled;  // made only for a datagram with options
  const ReceivedOptions* options = followed;
  if (options == nullptr && has_options) {
    InputRoute r = InputRoute::forward;
    if (!process_options(net, ns, in, packet, view, r, compiled.emplace())) return;
    options = &*compiled;
  }
  if (!forwarding) {
    // ip_error without forwarding: counted, and nothing said to the sender
    // (an answer would tell a scanner this host exists).
    c.add(Counter::IpInAddrErrors);
    return;
  }
  if (!usable) {
    c.add(Counter::IpExtInNoRoutes);
    send_icmp_error(net, packet, IcmpType::dest_unreachable, code(IcmpUnreachable::net));
    return;
  }
  switch (route->type) {
    case RouteType::unicast: break;
    case RouteType::blackhole: return;  // dst_discard: silently
    case RouteType::unreachable:
      c.add(Counter::IpInAddrErrors);
      send_icmp_error(net, packet, IcmpType::dest_unreachable, code(IcmpUnreachable::host));
      return;
    case RouteType::prohibit:
      send_icmp_error(net, packet, IcmpType::dest_unreachable, code(IcmpUnreachable::admin_prohibited));
      return;
    case RouteType::local:
    case RouteType::broadcast: return;
  }
  if (ttl <= 1) {
    c.add(Counter::IpInHdrErrors);
    send_icmp_error(net, packet, IcmpType::time_exceeded,
                    static_cast<std::uint8_t>(wire::IcmpTimeExceeded::ttl));
    return;
  }
  if (options != nullptr && options->is_strictroute && !route->gateway.is_unspecified()) {
    // A strict route's next hop must be a neighbour (ip_forward: sr_failed).
    send_icmp_error(net, packet, IcmpType::dest_unreachable, code(IcmpUnreachable::source_route_failed));
    return;
  }
  Device& out = *route->dev;
  if (dont_fragment && packet.size() > out.mtu()) {
    c.add(Counter::IpFragFails);
    send_icmp_error(net, packet, IcmpType::dest_unreachable, code(IcmpUnreachable::frag_needed),
                    out.mtu());
    return;
  }
  const Ipv4Address next_hop = route->gateway.is_unspecified() ? target : route->gateway;
  // The one write forwarding makes: TTL and checksum, in place (no copy unless shared).
  const wire::Ipv4MutView writable = view.rebind(packet.mutable_data());
  if (options != nullptr && options->optlen != 0) {
    // ip_forward_options: what this host records is the outgoing address (ip_rt_get_source).
    const Ipv4Address out_source = route->prefsrc.is_unspecified() ? select_source(net, out, next_hop)
                                                                   : route->prefsrc;
    (void)forward_options(writable.header(), *options, out_source);
    writable.fill_checksum();
  }
  writable.decrement_ttl();
  // ip_forward: the redirect quotes the datagram as it goes on (TTL
  // decremented), and never for a source-routed one.
  if (redirect && (options == nullptr || options->srr == 0)) [[unlikely]] {
    send_redirect(net, ns, packet, src, next_hop);
  }
  if (ns.active_hooks.active(netfilter::Hook::forward)) [[unlikely]] {
    if (!run_hook(net, ns, netfilter::Hook::forward, packet, &in, &out)) return;
  }
  c.add(Counter::IpForwDatagrams);  // ip_forward_finish: past the hook
  packet.device = nullptr;
  if (ns.active_hooks.active(netfilter::Hook::postrouting)) [[unlikely]] {
    if (!run_hook(net, ns, netfilter::Hook::postrouting, packet, nullptr, &out)) return;
  }
  output_datagram(net, std::move(packet), out, next_hop);
}

}  // namespace netns::ipv4
