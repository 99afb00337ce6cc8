// Per-namespace IPv6 state: the IPv6 layer's pernet slot.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "ipv4/ipv4_net.hpp"
#include "ipv4/pmtu.hpp"
#include "ipv6/fib6.hpp"
#include "ipv6/fragment.hpp"
#include "ipv6/neighbour6.hpp"
#include "netns/address.hpp"
#include "netns/timer.hpp"

namespace netns::ipv6 {

class Ipv6Stack;

// One address of a device, as Linux's inet6_ifaddr.
struct Inet6Address {
  Inet6Address(Host& host, Device& d, Ipv6Prefix p, std::function<void(Inet6Address&)> on_timer)
      : dev(&d), prefix(p), timer(host, [this, f = std::move(on_timer)] { f(*this); }) {}
  Inet6Address(const Inet6Address&) = delete;
  Inet6Address& operator=(const Inet6Address&) = delete;

  Device* dev;
  Ipv6Prefix prefix;       // scope id 0: the device says where
  bool tentative = false;  // DAD running (IFA_F_TENTATIVE)
  bool dad_failed = false;
  bool permanent = true;   // by hand; SLAAC's are not
  std::uint32_t dad_probes_left = 0;
  std::optional<Clock::time_point> valid_until, preferred_until;  // nullopt: forever
  Timer timer;             // DAD's next step, then the next lifetime to expire

  bool usable() const { return !tentative && !dad_failed; }
  bool deprecated(Clock::time_point now) const { return preferred_until && *preferred_until <= now; }
};

struct Ipv6Net {
  Ipv6Net(Net& n, Ipv6NeighbourLayer& layer) : net(n), layer_(&layer) {}

  Net& net;
  // In the order they were added, stable (timers point into them).
  std::vector<std::unique_ptr<Inet6Address>> addresses;
  Fib6 routes;  // `ip -6 route` (table main)
  // NDP, made when the namespace first sends or hears NDP (a DAD probe is
  // the first): a namespace whose devices never carry IPv6 pays a pointer.
  NeighbourTable& neighbours() {
    if (!ndp_) ndp_ = std::make_unique<NeighbourTable>(net, *layer_);
    return *ndp_;
  }
  NeighbourTable* neighbours_if_any() { return ndp_.get(); }
  // Path MTUs from Packet Too Big (Linux's rt6_exception), made on the first.
  std::unique_ptr<ipv4::Pmtu6Exceptions> pmtu;
  // icmpv6_global_allow's bucket (icmp_msgs_per_sec/burst).
  ipv4::IcmpBucket icmp_bucket;
  // Datagrams being reassembled (net.ipv6.ip6frag_*), made on the first fragment.
  std::unique_ptr<Reassembler> reassembler;

  Inet6Address* find_address(const Device& dev, const Ipv6Address& address);
  // A usable address of the namespace on any device (the weak host model,
  // as Linux's ipv6_chk_addr with no device), or on `dev` only.
  Inet6Address* local_address(const Ipv6Address& address, const Device* dev = nullptr);

 private:
  Ipv6NeighbourLayer* layer_;
  std::unique_ptr<NeighbourTable> ndp_;
};

}  // namespace netns::ipv6
