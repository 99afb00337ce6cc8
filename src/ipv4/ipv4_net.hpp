// Per-namespace IPv4 state: the IPv4 layer's pernet slot.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "ipv4/fib.hpp"
#include "ipv4/fragment.hpp"
#include "ipv4/neighbour.hpp"
#include "netns/address.hpp"

namespace netns::ipv4 {

struct InAddress {
  Device* dev;
  Ipv4Prefix prefix;  // address and length, as added
};

// Linux's icmp_global: a token bucket over net.ipv4.icmp_msgs_per_sec/burst.
struct IcmpBucket {
  double tokens = -1;  // negative: not started
  Clock::time_point last{};
};

struct Ipv4Net {
  Ipv4Net(Net& net, Ipv4Stack& stack);

  Net& net;
  std::vector<InAddress> addresses;      // in the order they were added
  Fib main;                              // `ip route` (table main)
  Fib local;                             // local and broadcast routes (table local)
  NeighbourTable neighbours;
  std::unique_ptr<Reassembler> reassembler;  // made on the first fragment
  IcmpBucket icmp_bucket;
  std::uint16_t next_ip_id = 0;

  const InAddress* find_address(const Device& dev, Ipv4Address address) const;
  // The reassembler, created on first use.
  Reassembler& fragments(Ipv4Stack& stack);
};

}  // namespace netns::ipv4
