// ipv4/icmp_peers.hpp — net.ipv4.icmp_ratelimit and net.ipv6.icmp.ratelimit:
// ICMP errors to one destination, at most one per ratelimit milliseconds
// after a burst of six (Linux's inet_peer_xrlim_allow, XRLIM_BURST_FACTOR).
//
//   IcmpPeers& peers = ...;                        // one per namespace, made on first use
//   if (!peers.allow(dst, 1000ms, now)) count IcmpOutRateLimitHost and send nothing;
//
// Each destination has a bucket of credit in time, refilled as time passes
// up to six intervals; an error spends one interval. A destination not seen
// before starts full, as Linux's new inet_peer. Bounded: at kMaxPeers a new
// destination replaces an existing one, chosen by where a keyed hash put it
// (an outsider cannot aim at a given entry); the one replaced starts full
// again when it comes back, which the namespace's icmp_msgs_per_sec bounds.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <span>

#include <boost/unordered/unordered_flat_map.hpp>

#include "core/siphash.hpp"
#include "netns/address.hpp"
#include "netns/clock.hpp"

namespace netns::ipv4 {

template <class Address>
class BasicIcmpPeers {
 public:
  static constexpr std::size_t kMaxPeers = 4096;  // Linux: inet_peer_threshold, machine-wide
  static constexpr int kBurstFactor = 6;          // XRLIM_BURST_FACTOR

  explicit BasicIcmpPeers(const SipKey& key) : peers_(0, Hash{key}) {}

  // Whether one more error may go to `dst`, spending its credit if so. An
  // interval of 0 allows everything.
  bool allow(const Address& dst, Clock::duration interval, Clock::time_point now) {
    const Clock::duration burst = kBurstFactor * interval;
    auto it = peers_.find(dst);
    if (it == peers_.end()) {
      if (peers_.size() >= kMaxPeers) peers_.erase(peers_.begin());
      // A new inet_peer was last limited a minute ago: full, up to a minute.
      it = peers_.emplace(dst, Peer{now, std::min<Clock::duration>(burst, std::chrono::minutes(1))}).first;
    } else {
      Peer& p = it->second;
      if (now > p.last) p.credit = std::min(burst, p.credit + (now - p.last));
      p.last = now;
    }
    Peer& p = it->second;
    if (p.credit < interval) return false;
    p.credit -= interval;
    return true;
  }
  std::size_t size() const { return peers_.size(); }

 private:
  struct Peer {
    Clock::time_point last{};
    Clock::duration credit{};
  };
  struct Hash {
    SipKey key;
    std::size_t operator()(Ipv4Address a) const { return siphash13_word(key, a.value); }
    std::size_t operator()(const Ipv6Address& a) const { return siphash13(key, std::as_bytes(std::span(a.bytes()))); }
  };
  boost::unordered_flat_map<Address, Peer, Hash> peers_;
};

// net.ipv4.icmp_ratelimit's peers, and net.ipv6.icmp.ratelimit's (inet_getpeer_v6).
using IcmpPeers = BasicIcmpPeers<Ipv4Address>;
using IcmpPeers6 = BasicIcmpPeers<Ipv6Address>;

// ip_rt_send_redirect's limit on the redirects sent to one source (Linux
// keeps it in the same inet_peer): the first at once, then each after twice
// the wait of the one before (20 ms, 40 ms...), none after nine until the
// source has sent nothing that deserved one for 20.48 s. Bounded as
// IcmpPeers.
class RedirectPeers {
 public:
  static constexpr std::size_t kMaxPeers = IcmpPeers::kMaxPeers;
  static constexpr std::uint32_t kNumber = 9;                               // ip_rt_redirect_number
  static constexpr Clock::duration kLoad = std::chrono::milliseconds(20);  // ip_rt_redirect_load, HZ/50
  static constexpr Clock::duration kSilence = kLoad * (1 << (kNumber + 1));  // ip_rt_redirect_silence

  explicit RedirectPeers(const SipKey& key) : peers_(0, Hash{key}) {}

  // Whether a redirect may go to `src` now, counting it if so.
  bool allow(Ipv4Address src, Clock::time_point now);
  std::size_t size() const { return peers_.size(); }

 private:
  struct Peer {
    Clock::time_point rate_last{};
    std::uint32_t n_redirects = 0;
  };
  struct Hash {
    SipKey key;
    std::size_t operator()(std::uint32_t a) const { return siphash13_word(key, a); }
  };
  boost::unordered_flat_map<std::uint32_t, Peer, Hash> peers_;
};

}  // namespace netns::ipv4
