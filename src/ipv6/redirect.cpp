// Redirects a router sends (RFC 4861 8.2): Linux's ip6_forward, then
// ndisc_send_redirect.
#include <chrono>

#include "ipv6/ipv6_net.hpp"
#include "ipv6/stack.hpp"

namespace netns::ipv6 {

namespace {
// Both limits, by destination and by source, allow one redirect a second
// after a burst (inet_peer_xrlim_allow(peer, 1*HZ)).
constexpr auto kRedirectInterval = std::chrono::seconds(1);
}  // namespace

void Ipv6Stack::send_redirect(Net& net, Ipv6Net& ns, Device& dev, const wire::Ipv6View& ip,
                              const Ipv6Address& target) {
  const Ipv6Address src = ip.src(), dst = ip.dst();
  // The limits share the peers ICMPv6 errors are limited by, as Linux's
  // inet_peer does: the destination's first (ip6_forward), the source's last.
  ipv4::IcmpPeers6& peers = icmp_peers(ns);
  const Clock::time_point now = host_.now();
  if (!peers.allow(dst, kRedirectInterval, now)) return;
  const Inet6Address* own = ns.link_local(dev);
  if (own == nullptr) return;  // a redirect comes from a link-local address
  // A router is known by its link-local address; an on-link destination is
  // its own target.
  if (target != dst && !target.is_link_local()) return;
  // Only a neighbour is told: the way back to the sender is this link, no
  // gateway on it (a link-local sender is looked up on this link).
  auto back = route_output(net, src.is_link_local() ? src.with_scope(static_cast<std::uint32_t>(dev.ifindex())) : src);
  if (!back || back->dev != &dev || back->next_hop != src) return;
  if (!peers.allow(src, kRedirectInterval, now)) return;
  ns.neighbours().send_redirect(dev, own->prefix.address(), src, target.with_scope(0), dst, ip.bytes());
}

}  // namespace netns::ipv6
