// ipv4/pmtu.hpp — path MTUs learned from ICMP "fragmentation needed", per
// destination: Linux's route exceptions (fib_nh_exception's fnhe_pmtu,
// __ip_rt_update_pmtu).
//
//   PmtuExceptions& table = ...;                    // one per namespace, made on first use
//   table.update(dst, 1400, 1500, 552, 600s, now);  // an ICMP said 1400; the path had 1500
//   if (auto e = table.lookup(dst, now)) mtu = std::min(mtu, e->mtu);
//
// Bounded: at kMaxEntries a new destination replaces an existing one, chosen
// by where a keyed hash put it (an outsider cannot aim at a given entry). An
// entry expires net.ipv4.route.mtu_expires after it was last set and is
// dropped when next looked up.
#pragma once

#include <cstdint>
#include <optional>

#include <boost/unordered/unordered_flat_map.hpp>

#include "core/siphash.hpp"
#include "netns/address.hpp"
#include "netns/clock.hpp"

namespace netns::ipv4 {

class PmtuExceptions {
 public:
  // Linux bounds its exceptions per next hop (2048 buckets, chains reclaimed
  // past 5); one namespace here holds at most this many.
  static constexpr std::size_t kMaxEntries = 4096;

  struct Entry {
    std::uint32_t mtu = 0;
    // Reported below min_pmtu: the MTU is min_pmtu and DF is no longer set
    // (Linux's locked MTU), so routers may fragment what still does not fit.
    bool locked = false;
    Clock::time_point expires{};
  };

  explicit PmtuExceptions(const SipKey& key) : entries_(0, Hash{key}) {}

  // An ICMP reported `reported` (0 when it gave none) for a datagram to dst
  // whose path MTU was `current`. Ignored when the report does not lower it,
  // or the entry is locked; refreshed only past half its life when it says
  // the same again (as Linux, so a stream of ICMPs cannot keep it forever).
  void update(Ipv4Address dst, std::uint32_t reported, std::uint32_t current, std::uint32_t min_pmtu,
              Clock::duration lifetime, Clock::time_point now);
  // The live entry for dst; an expired one is erased.
  std::optional<Entry> lookup(Ipv4Address dst, Clock::time_point now);
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

 private:
  struct Hash {
    SipKey key;
    std::size_t operator()(std::uint32_t a) const { return siphash13_word(key, a); }
  };
  boost::unordered_flat_map<std::uint32_t, Entry, Hash> entries_;
};

}  // namespace netns::ipv4
