// ipv4/pmtu.hpp — path MTUs learned from ICMP "fragmentation needed" (and
// ICMPv6 "packet too big"), per destination: Linux's route exceptions
// (fib_nh_exception's fnhe_pmtu, __ip_rt_update_pmtu; rt6_exception for
// IPv6). One implementation for both families: PmtuExceptions (IPv4) and
// Pmtu6Exceptions (IPv6).
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

#include <algorithm>
#include <cstdint>
#include <optional>

#include <boost/unordered/unordered_flat_map.hpp>

#include "core/siphash.hpp"
#include "netns/address.hpp"
#include "netns/clock.hpp"

namespace netns::ipv4 {

template <class Address>
class BasicPmtuExceptions {
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

  explicit BasicPmtuExceptions(const SipKey& key) : entries_(0, Hash{key}) {}

  // An ICMP reported `reported` (0 when it gave none) for a datagram to dst
  // whose path MTU was `current`. Ignored when the report does not lower it,
  // or the entry is locked; refreshed only past half its life when it says
  // the same again (as Linux, so a stream of ICMPs cannot keep it forever).
  void update(const Address& dst, std::uint32_t reported, std::uint32_t current, std::uint32_t min_pmtu,
              Clock::duration lifetime, Clock::time_point now) {
    auto existing = lookup(dst, now);
    if (existing && existing->locked) return;  // ip_mtu_locked
    if (current < reported) return;
    bool locked = false;
    std::uint32_t mtu = reported;
    if (mtu < min_pmtu) {
      locked = true;
      mtu = std::min(current, min_pmtu);
    }
    if (existing && existing->mtu == mtu && !locked && now < existing->expires - lifetime / 2) return;
    if (!existing && entries_.size() >= kMaxEntries) entries_.erase(entries_.begin());
    entries_.insert_or_assign(dst, Entry{mtu, locked, now + lifetime});
  }
  // The live entry for dst; an expired one is erased.
  std::optional<Entry> lookup(const Address& dst, Clock::time_point now) {
    auto it = entries_.find(dst);
    if (it == entries_.end()) return std::nullopt;
    if (now >= it->second.expires) {
      entries_.erase(it);
      return std::nullopt;
    }
    return it->second;
  }
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

 private:
  struct Hash {
    SipKey key;
    std::size_t operator()(const Ipv4Address& a) const { return siphash13_word(key, a.value); }
    std::size_t operator()(const Ipv6Address& a) const {
      return siphash13_words(key, a.high() ^ a.scope_id(), a.low());
    }
  };
  boost::unordered_flat_map<Address, Entry, Hash> entries_;
};

using PmtuExceptions = BasicPmtuExceptions<Ipv4Address>;
using Pmtu6Exceptions = BasicPmtuExceptions<Ipv6Address>;

}  // namespace netns::ipv4
