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
#include "netfilter/hooks.hpp"
#include "netns/address.hpp"
#include "netns/detail/hot_heap.hpp"

namespace netns::ipv4 {

class Ipv4Stack;

struct InAddress {
  Device* dev;
  Ipv4Prefix prefix;  // address and length, as added
};

// Linux's icmp_global credit over net.ipv4.icmp_msgs_per_sec/burst, one
// per namespace for ICMP and ICMPv6 errors alike (Ipv4Stack::icmp_global_*).
// allow() only looks (refilling when none is left); an error that is then
// also allowed by its destination's limit consume()s. So errors a
// destination's limit holds back spend nothing of the namespace's.
struct IcmpBucket {
  std::int64_t credit = 0;
  Clock::time_point stamp{};
  bool started = false;  // Linux's stamp starts long ago: the first refill is a whole second's

  // icmp_global_allow: credit left, or else refilled at `rate` per second
  // for the time since the last refill (at most a second, at least 20 ms,
  // Linux's HZ / 50), up to `burst`.
  bool allow(std::int64_t rate, std::int64_t burst, Clock::time_point now) {
    using namespace std::chrono_literals;
    if (credit > 0) return true;
    const Clock::duration delta = started ? std::min<Clock::duration>(now - stamp, 1s) : Clock::duration(1s);
    if (delta < 20ms) return false;
    const std::int64_t incr = rate * std::chrono::duration_cast<std::chrono::microseconds>(delta).count() / 1'000'000;
    if (incr == 0) return false;
    stamp = now;
    started = true;
    credit = std::min(credit + incr, burst);
    return true;
  }
  // icmp_global_consume: what an error sent costs. Linux takes 0, 1 or 2
  // at random (one on average), to blur what an outsider can learn from
  // the limit; netns takes one, so the limit is exact and testable.
  void consume() { --credit; }
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

// 64-aligned, and its packet path's fields first: with thousands of
// namespaces busy each line is a miss a frame. Line 0: the main table,
// which hooks have entries and the filter of what the local table can
// hold, all a datagram to forward reads of Ipv4Net; line 1: the local
// table, which only a datagram the filter lets through looks in; then the
// hooks themselves, which only a datagram meeting one reads. It lives in
// the hot heap, with the namespace's devices (netns/detail/hot_heap.hpp).
struct alignas(64) Ipv4Net : detail::HotAllocated {
  Ipv4Net(Net& net, Ipv4Stack& stack);

  // `ip route` (table main). [[no_unique_address]] lets the next member
  // take the bytes its alignment leaves at its end: line 0 holds all three.
  [[no_unique_address]] Fib main;
  netfilter::HookMask active_hooks;      // kept by `hooks`
  // A Bloom filter, two bits each (local_filter_bits), of every destination
  // outside 127/8 the local table can hold: the namespace's addresses and
  // their subnets' broadcasts; all ones while an address on the loopback
  // covers a network outside 127/8 (Linux makes that whole network local).
  // When a destination's bits are not both set the local table surely has
  // no route for it, so a datagram to forward skips that lookup, as Linux's
  // merged local and main tries take one. It serves the LAND check too: a
  // source whose bits are not both set is surely not ours. With two
  // addresses (four keys) about one address in seventy takes the slower look.
  std::uint64_t local_filter = 0;
  Fib local;                             // local and broadcast routes (table local)
  Net& net;
  netfilter::HookTable hooks;  // null per hook until conntrack or a base chain registers there
  NeighbourTable neighbours;
  std::vector<InAddress> addresses;      // in the order they were added
  std::unique_ptr<Reassembler> reassembler;  // made on the first fragment
  IcmpBucket icmp_bucket;
  // Made on the first martian or path MTU (Ipv4Stack::extras): an idle
  // namespace pays one pointer for them.
  std::unique_ptr<Ipv4Extras> extras;

  const InAddress* find_address(const Device& dev, Ipv4Address address) const;
  // True when `address` is one of the namespace's addresses (on any device,
  // up or not: Linux's inet_lookup_ifaddr).
  bool has_address(Ipv4Address address) const;
  // Builds local_filter again from the addresses (after one is removed).
  void refresh_local_filter();
  // What `a` adds to local_filter.
  static std::uint64_t local_filter_bits(const InAddress& a);
  static std::uint64_t local_filter_bits(Ipv4Address a) {
    return std::uint64_t{1} << ((a.value * 0x9e3779b1u) >> 26) | std::uint64_t{1} << ((a.value * 0x85ebca6bu) >> 26);
  }
  // The reassembler, created on first use.
  Reassembler& fragments(Ipv4Stack& stack);
};

}  // namespace netns::ipv4
