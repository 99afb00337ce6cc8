// The composition root: every built-in subsystem, in dependency order, and
// the one list the Host registers. See stack/builtins.hpp.
#include "stack/builtins.hpp"

#include <stdexcept>

#include "conntrack/conntrack.hpp"
#include "core/route_cache.hpp"
#include "devices/macvlan_ops.hpp"
#include "ipv4/ping_ops.hpp"
#include "ipv4/stack.hpp"
#include "ipv4/tcp/tcp_net.hpp"
#include "ipv4/udp_ops.hpp"
#include "ipv6/stack.hpp"
#include "nft/nft_net.hpp"

namespace netns {

Builtins::Builtins(Host& host)
    : route_cache_(std::make_unique<RouteCache>(host)),
      ipv4_(std::make_unique<ipv4::Ipv4Stack>(host, *route_cache_)),
      ipv6_(std::make_unique<ipv6::Ipv6Stack>(host, *route_cache_, *ipv4_)),
      udp_(std::make_unique<udp::UdpOps>(host, *ipv4_, *ipv6_)),
      ping_(std::make_unique<icmp::PingOps>(host, *ipv4_, *ipv6_)),
      tcp_(std::make_unique<tcp::TcpOps>(host, *ipv4_, *ipv6_)),
      conntrack_(std::make_unique<conntrack::Conntrack>(host)),
      macvlan_(std::make_unique<macvlan::MacvlanOps>(host)),
      nft_(std::make_unique<nft::NftOps>(host)),
      loopback_(make_loopback_ops(host)),
      default_devices_(make_default_device_ops(host)),
      registration_{{
          // Subsystems, in the order their inits run; exits run in reverse,
          // so the route cache, which IPv4 fills, goes last.
          {route_cache_.get(), false},
          {ipv4_.get(), false},     // IPv4, ARP, ICMP
          {ipv6_.get(), false},     // IPv6, NDP, ICMPv6
          {udp_.get(), false},      // transports: after the layer they register with,
          {ping_.get(), false},     // and exit before it
          {tcp_.get(), false},
          {conntrack_.get(), false},  // nothing per namespace until its first tracked datagram
          {macvlan_.get(), false},  // macvlan ports follow their lower devices
          {nft_.get(), false},      // nftables: its state only, no hook yet
          // Devices: the loopback first, so it is ifindex 1; the default
          // device exit after it, so at teardown it runs first (ops exit in
          // reverse) and finds every other device still there.
          {loopback_.get(), true},
          {default_devices_.get(), true},
      }} {
  // RouteCache::builtin_lookup(net, dst) finds the cache's state at a fixed slot:
  // made first of everything per namespace, it has the Host's first id.
  if (route_cache_->slot_id() != RouteCache::kSlotId) {
    throw std::logic_error("netns: the route cache must hold the Host's first pernet slot");
  }
}

Builtins::~Builtins() = default;

std::unique_ptr<Builtins, detail::BuiltinsDeleter> make_builtins(Host& host) {
  return std::unique_ptr<Builtins, detail::BuiltinsDeleter>(new Builtins(host));
}

std::span<const BuiltinOps> builtin_registration(const Builtins& builtins) { return builtins.registration(); }

void detail::BuiltinsDeleter::operator()(Builtins* builtins) const noexcept { delete builtins; }

}  // namespace netns
