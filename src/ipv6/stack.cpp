// The IPv6 layer: its pernet state and device events.
#include "ipv6/stack.hpp"

#include "core/route_cache.hpp"
#include "core/siphash.hpp"
#include "ipv6/ipv6_net.hpp"
#include "netns/net.hpp"
#include "netns/wire/ethernet.hpp"

namespace netns::ipv6 {

namespace {
constexpr auto kEtherTypeIpv6 = static_cast<std::uint16_t>(wire::EtherType::ipv6);
}  // namespace

Ipv6Stack::Ipv6Stack(Host& host, RouteCache& route_cache)
    : host_(host),
      slot_(host),
      route_cache_(route_cache),
      dad_jitter_(static_cast<std::uint32_t>(SipKey::derive(host.secret(), 0x6461642d6a697474).k0)) {
  (void)host.add_packet_handler(kEtherTypeIpv6, *this);
  host.add_netdev_listener(*this);
}

Ipv6Stack::~Ipv6Stack() {
  host_.remove_packet_handler(kEtherTypeIpv6);
  host_.remove_netdev_listener(*this);
}

Result<void> Ipv6Stack::init(Net& net) {
  Ipv6Net& ns = slot_.emplace(net, net);
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
  (void)net;
  (void)dst;
  return dev.mtu();
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
    case NetdevEvent::registered:
    case NetdevEvent::mtu_changed:
    case NetdevEvent::address_changed:
      break;
  }
  route_cache_invalidate(net);
}

}  // namespace netns::ipv6
