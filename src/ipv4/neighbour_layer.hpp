// ipv4/neighbour_layer.hpp — what the neighbour table asks of its network
// layer, and nothing more (NDP's counterpart: ipv6/neighbour_layer6.hpp).
#pragma once

#include "netns/address.hpp"

namespace netns {
class Device;
class Net;
class Packet;
}  // namespace netns

namespace netns::ipv4 {

// What a neighbour table asks of the network layer it resolves for, and
// nothing more: the address questions of arp_process and arp_constructor,
// the source a solicitation carries, and Linux's neigh_ops->error_report.
// The table sees its layer only through this (as the Reassembler sees only
// its on_timeout), so the machinery of entries, states, timers, queues and
// garbage collection does not depend on IPv4 (it is neigh::Table, shared with
// NDP, which asks IPv6 the same questions through Ipv6NeighbourLayer). Each is asked on a miss, an ARP
// message or a failure, never for a datagram to a known neighbour. One
// implementation per Host (Ipv4Stack), so a namespace pays one reference.
class NeighbourLayer {
 public:
  // An address of this namespace: a request for it is answered.
  virtual bool is_local(Net& net, Ipv4Address address) = 0;
  // A subnet broadcast of one of dev's addresses: never resolved (NUD_NOARP),
  // sent to the link broadcast, and never learned as a sender.
  virtual bool is_broadcast_on(Net& net, const Device& dev, Ipv4Address address) = 0;
  // The source of a solicitation for `target` sent on dev.
  virtual Ipv4Address solicit_source(Net& net, const Device& dev, Ipv4Address target) = 0;
  // A datagram (data() at its IP header) that waited for a neighbour that
  // never answered: the sender hears host unreachable.
  virtual void error_report(Net& net, const Packet& datagram) = 0;

 protected:
  ~NeighbourLayer() = default;
};

}  // namespace netns::ipv4
