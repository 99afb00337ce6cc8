// ipv6/neighbour_layer6.hpp — what IPv6's neighbour table (NDP) asks of the
// IPv6 layer, and nothing more: ipv4::NeighbourLayer's counterpart.
#pragma once

#include <cstdint>

#include "netns/wire/address.hpp"

namespace netns {
class Device;
class Net;
class Packet;
}  // namespace netns

namespace netns::ipv6 {

// The address questions of ndisc_recv_ns/ndisc_recv_na, the source a
// solicitation carries, and what the table reports back: a duplicate address
// (DAD failed), a router that became a host, a datagram that could not be
// delivered. Asked on a miss, an NDP message or a failure, never for a
// datagram to a known neighbour. One implementation per Host (Ipv6Stack), so
// a namespace's table pays one reference.
class Ipv6NeighbourLayer {
 public:
  // A non-tentative address of ours on dev: a solicitation for it is answered.
  virtual bool is_local(Net& net, const Device& dev, const Ipv6Address& address) = 0;
  // An anycast address of ours on dev: answered without the override flag.
  virtual bool is_anycast(Net& net, const Device& dev, const Ipv6Address& address) = 0;
  // An address of ours on dev whose DAD is in progress.
  virtual bool is_tentative(Net& net, const Device& dev, const Ipv6Address& address) = 0;
  // Someone else has (or probes for) our tentative `address` on dev: an NS
  // from :: for it, or an NA for it (RFC 4862 5.4.3, 5.4.4). DAD failed.
  virtual void dad_conflict(Net& net, Device& dev, const Ipv6Address& address) = 0;
  // The source of a solicitation for `target` sent on dev; :: when dev has
  // no usable address yet (the NS then goes without a source link-layer option).
  virtual Ipv6Address solicit_source(Net& net, const Device& dev, const Ipv6Address& target) = 0;
  // Forwarding is on for dev: our advertisements set the router flag.
  virtual bool is_router(Net& net, const Device& dev) = 0;
  // A neighbour that advertised itself as a router no longer does (RFC 4861
  // 7.2.5): the layer drops the default routes through it.
  virtual void router_lost(Net& net, Device& dev, const Ipv6Address& router) = 0;
  // A datagram (data() at its IPv6 header) that waited for a neighbour that
  // never answered: the sender hears address unreachable.
  virtual void error_report(Net& net, const Packet& datagram) = 0;
  // What router advertisements on dev set (RFC 4861 6.3.4: BaseReachableTime
  // and RetransTimer, in ms, into Linux's per-device nd_parms); 0 leaves
  // net.ipv6.neigh.default's. Asked when an entry's timer is set, never per datagram.
  struct NdpTimes {
    std::uint32_t base_reachable_ms = 0;
    std::uint32_t retrans_ms = 0;
  };
  virtual NdpTimes advertised_ndp_times(Net& net, const Device& dev) = 0;
  // ndisc_send_skb's NF_HOOK: a solicitation or advertisement the table
  // built (data() at its IPv6 header) meets the namespace's output and
  // postrouting hooks before it leaves on dev; false when they dropped it
  // (it is then neither sent nor counted). A layer without hooks passes all.
  virtual bool local_out(Net& /*net*/, Device& /*dev*/, Packet& /*message*/) { return true; }

 protected:
  ~Ipv6NeighbourLayer() = default;
};

}  // namespace netns::ipv6
