// The composition root: the subsystems every Host is built with, constructed
// in dependency order, each handed references to what it needs, and
// registered with the Host from one explicit list (gVisor's
// stack.New(Options{NetworkProtocols, TransportProtocols}), with Linux's
// pernet order).
//
// The Host owns one Builtins (make_builtins, declared in core/builtin.hpp,
// is defined here: core names this class and never its contents), so every
// reference below lives as long as the Host. Built-ins cannot be
// unregistered (Host::unregister_pernet_* ignores them), so a subsystem
// holding another's reference never meets a missing one.
//
// Entry points that are given only a Net (udp::open, ipv4::add_route,
// make_macvlan) find their subsystem through the Host that owns it, a
// typed member access (no search):
//
//   ipv4::Ipv4Stack& stack = net.host().builtins().ipv4();
//
// This header names the subsystems without their definitions: include the
// subsystem's own header to use one.
#pragma once

#include <array>
#include <memory>
#include <span>

#include "core/builtin.hpp"

namespace netns {

class Host;
class RouteCache;
namespace macvlan {
class MacvlanOps;
}
namespace ipv4 {
class Ipv4Stack;
}
namespace ipv6 {
class Ipv6Stack;
}
namespace udp {
class UdpOps;
}
namespace icmp {
class PingOps;
}
namespace tcp {
class TcpOps;
}
namespace conntrack {
class Conntrack;
}
namespace nft {
class NftOps;
}

class Builtins {
 public:
  // Constructs every built-in subsystem for `host` (none is registered yet).
  explicit Builtins(Host& host);
  // Destroys them in reverse order of construction. Precondition: every
  // namespace of the Host has exited (the Host's destructor sees to it).
  ~Builtins();
  Builtins(const Builtins&) = delete;
  Builtins& operator=(const Builtins&) = delete;

  RouteCache& route_cache() const { return *route_cache_; }
  ipv4::Ipv4Stack& ipv4() const { return *ipv4_; }
  ipv6::Ipv6Stack& ipv6() const { return *ipv6_; }
  udp::UdpOps& udp() const { return *udp_; }
  icmp::PingOps& ping() const { return *ping_; }
  tcp::TcpOps& tcp() const { return *tcp_; }
  conntrack::Conntrack& conntrack() const { return *conntrack_; }
  macvlan::MacvlanOps& macvlan() const { return *macvlan_; }
  nft::NftOps& nft() const { return *nft_; }

  // What the Host registers, in this order: subsystems (register_pernet_subsys)
  // first, then devices (register_pernet_device).
  std::span<const BuiltinOps> registration() const { return registration_; }

 private:
  // Declared in dependency order: members are built top-down, destroyed bottom-up.
  std::unique_ptr<RouteCache> route_cache_;
  std::unique_ptr<ipv4::Ipv4Stack> ipv4_;  // IPv4, ARP, ICMP; uses the route cache
  std::unique_ptr<ipv6::Ipv6Stack> ipv6_;  // IPv6, NDP, ICMPv6; uses the route cache
  std::unique_ptr<udp::UdpOps> udp_;       // transports: register with IPv4
  std::unique_ptr<icmp::PingOps> ping_;
  std::unique_ptr<tcp::TcpOps> tcp_;
  std::unique_ptr<conntrack::Conntrack> conntrack_;  // a table per namespace, made on first use
  std::unique_ptr<macvlan::MacvlanOps> macvlan_;
  std::unique_ptr<nft::NftOps> nft_;       // the namespace's nftables ruleset
  std::unique_ptr<PernetOps> loopback_;
  std::unique_ptr<PernetOps> default_devices_;
  std::array<BuiltinOps, 11> registration_;
};

}  // namespace netns
