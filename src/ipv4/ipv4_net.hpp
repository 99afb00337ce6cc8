// Per-namespace IPv4 state: the IPv4 layer's pernet slot.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "ipv4/fib.hpp"
#include "ipv4/fragment.hpp"
#include "ipv4/icmp_peers.hpp"
#include "ipv4/neighbour.hpp"
#include "ipv4/pmtu.hpp"
#include "ipv4/redirects.hpp"
#include "netns/address.hpp"

namespace netns::ipv4 {

class Ipv4Stack;

struct InAddress {
  Device* dev;
  Ipv4Prefix prefix;  // address and length, as added
};

// Linux's icmp_global: a token bucket over net.ipv4.icmp_msgs_per_sec/burst,
// refilled at `rate` per second up to `burst`; ICMP and ICMPv6 use it alike.
struct IcmpBucket {
  double tokens = -1;  // negative: not started
  Clock::time_point last{};

  // Takes a token; false when none is left.
  bool take(double rate, double burst, Clock::time_point now) {
    if (tokens < 0) {
      tokens = burst;
    } else {
      const double elapsed = std::chrono::duration<double>(now - last).count();
      tokens = std::min(burst, tokens + elapsed * rate);
    }
    last = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  }
};

// What a namespace needs only once it meets a martian, learns a path MTU
// or sends an ICMP error.
struct Ipv4Extras {
  explicit Ipv4Extras(const SipKey& pmtu_key)
      : pmtu(pmtu_key), icmp_peers(pmtu_key), redirect_peers(pmtu_key), redirects(pmtu_key) {}
  PmtuExceptions pmtu;
  IcmpPeers icmp_peers;  // net.ipv4.icmp_ratelimit per destination
  RedirectPeers redirect_peers;  // redirects sent, per source
  RedirectExceptions redirects;  // first hops learned from redirects received
  // Input route statistics, Linux's /proc/net/stat/rt_cache in_martian_*.
  std::uint64_t in_martian_src = 0, in_martian_dst = 0;
  // log_martians messages, at most 10 per 5 s per namespace (net_ratelimit).
  Clock::time_point martian_log_window{};
  std::uint32_t martian_log_count = 0;
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
  // Made on the first martian or path MTU (Ipv4Stack::extras): an idle
  // namespace pays one pointer for them.
  std::unique_ptr<Ipv4Extras> extras;
  // A Bloom filter of the namespace's addresses, two bits each
  // (address_filter_bits): when a source's bits are not both set it is
  // surely not local, and the LAND check costs one load on the packet path
  // (Linux hashes its addresses for that check). With a handful of
  // addresses one source in a few hundred takes the slower look.
  std::uint64_t local_address_filter = 0;

  const InAddress* find_address(const Device& dev, Ipv4Address address) const;
  // True when `address` is one of the namespace's addresses (on any device,
  // up or not: Linux's inet_lookup_ifaddr).
  bool has_address(Ipv4Address address) const;
  void refresh_address_filter();
  static std::uint64_t address_filter_bits(Ipv4Address a) {
    return std::uint64_t{1} << ((a.value * 0x9e3779b1u) >> 26) | std::uint64_t{1} << ((a.value * 0x85ebca6bu) >> 26);
  }
  // The reassembler, created on first use.
  Reassembler& fragments(Ipv4Stack& stack);
};

}  // namespace netns::ipv4
