// The IPv6 layer: its pernet state and device events.
#include "ipv6/stack.hpp"

#include "core/route_cache.hpp"
#include "core/siphash.hpp"
#include "ipv6/devconf6.hpp"
#include "ipv6/ipv6_net.hpp"
#include "netns/host.hpp"
#include "netns/net.hpp"
#include "netns/wire/ethernet.hpp"

namespace netns::ipv6 {

namespace {
constexpr auto kEtherTypeIpv6 = static_cast<std::uint16_t>(wire::EtherType::ipv6);
}  // namespace

Ipv6Stack::Ipv6Stack(Host& host, RouteCache& route_cache, ipv4::Ipv4Stack& ipv4)
    : host_(host),
      slot_(host),
      route_cache_(route_cache),
      ipv4_(ipv4),
      dad_jitter_(static_cast<std::uint32_t>(SipKey::derive(host.secret(), 0x6461642d6a697474).k0)),
      pmtu_key_(SipKey::derive(host.secret(), 0x706d7475362d6578)),
      iid_key_(SipKey::derive(host.secret(), 0x726e642d69696400)),
      frag_ident_key_(SipKey::derive(host.secret(), 0x66726167362d6964)) {  // "frag6-id"
  (void)host.add_packet_handler(kEtherTypeIpv6, *this);
  host.add_netdev_listener(*this);
  host.set_devconf_listener(DevconfFamily::ipv6, this);
}

Ipv6Net::Ipv6Net(Net& n, Ipv6NeighbourLayer& layer)
    : net(n), hooks(&n.host().rx(), &active_hooks), layer_(&layer) {}

Ipv6Stack::~Ipv6Stack() {
  host_.set_devconf_listener(DevconfFamily::ipv6, nullptr);
  host_.remove_packet_handler(kEtherTypeIpv6);
  host_.remove_netdev_listener(*this);
}

Result<void> Ipv6Stack::init(Net& net) {
  Ipv6Net& ns = slot_.emplace(net, net, *this);
  // Devices registered before IPv6 (the loopback) get their addresses now.
  for (Device& dev : net.devices()) {
    if (dev.is_up()) device_up(ns, dev);
  }
  return {};
}

void Ipv6Stack::exit(Net& net) { slot_.reset(net); }

Result<void> Ipv6Stack::add_protocol(wire::IpProtocol protocol, inet::Transport& transport) {
  return transports_.add(protocol, transport);
}

void Ipv6Stack::remove_protocol(wire::IpProtocol protocol, const inet::Transport& transport) {
  transports_.remove(protocol, transport);
}

std::uint32_t Ipv6Stack::path_mtu(Net& net, const Ipv6Address& dst, const Device& dev) {
  std::uint32_t mtu = ipv6_mtu(net, dev);
  Ipv6Net& ns = state(net);
  if (const std::uint32_t advertised = ns.ra_mtu(dev); advertised != 0) mtu = std::min(mtu, advertised);
  if (ns.pmtu && !ns.pmtu->empty()) {
    if (auto e = ns.pmtu->lookup(dst.with_scope(0), host_.now())) mtu = std::min(mtu, e->mtu);
  }
  return mtu;
}

// rt6_do_update_pmtu: a Packet Too Big about a datagram we sent to dst.
// Never below 1280 (RFC 8200 5: every link carries that much).
void Ipv6Stack::update_pmtu(Net& net, const Ipv6Address& dst, std::uint32_t mtu) {
  auto route = route_output(net, dst);
  if (!route || route->dev == &net.loopback()) return;
  Ipv6Net& ns = state(net);
  if (!ns.pmtu) ns.pmtu = std::make_unique<ipv4::Pmtu6Exceptions>(pmtu_key_);
  const std::uint32_t current = path_mtu(net, dst, *route->dev);
  ns.pmtu->update(dst.with_scope(0), std::max<std::uint32_t>(mtu, kMinMtu), current, kMinMtu,
                  std::chrono::seconds(net.sysctl().value(SysctlId::ipv6_route_mtu_expires)), host_.now());
}

void Ipv6Stack::on_netdev_event(NetdevEvent event, Device& dev) {
  Net& net = dev.net();
  Ipv6Net* ns = slot_.find(net);
  if (ns == nullptr) return;  // IPv6 is gone from the namespace (teardown)
  switch (event) {
    case NetdevEvent::up:
      device_up(*ns, dev);
      break;
    case NetdevEvent::down:
      device_down(*ns, dev);
      break;
    case NetdevEvent::unregistering:
      device_gone(*ns, dev);
      break;
    case NetdevEvent::mtu_changed:
      // NETDEV_CHANGEMTU: the device's IPv6 MTU is its MTU again (core's
      // DevconfStore reset it); below IPV6_MIN_MTU IPv6 stops on it.
      if (dev.mtu() < kMinMtu) {
        device_down(*ns, dev);
      } else if (dev.is_up()) {
        device_up(*ns, dev);
      }
      break;
    case NetdevEvent::registered:
    case NetdevEvent::address_changed:
      break;
    case NetdevEvent::inet_address_removed:
      return;  // sent by remove_address itself, or by IPv4's
  }
  route_cache_invalidate(net);
}

}  // namespace netns::ipv6
