// Per-destination ICMP rate limit, as Linux's inet_peer_xrlim_allow.
#include "ipv4/icmp_peers.hpp"

#include <algorithm>

namespace netns::ipv4 {

bool IcmpPeers::allow(Ipv4Address dst, Clock::duration interval, Clock::time_point now) {
  const Clock::duration burst = kBurstFactor * interval;
  auto it = peers_.find(dst.value);
  if (it == peers_.end()) {
    if (peers_.size() >= kMaxPeers) peers_.erase(peers_.begin());
    // A new inet_peer was last limited a minute ago: full, up to a minute.
    it = peers_.emplace(dst.value, Peer{now, std::min<Clock::duration>(burst, std::chrono::minutes(1))}).first;
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

bool RedirectPeers::allow(Ipv4Address src, Clock::time_point now) {
  auto it = peers_.find(src.value);
  if (it == peers_.end()) {
    if (peers_.size() >= kMaxPeers) peers_.erase(peers_.begin());
    it = peers_.emplace(src.value, Peer{now, 0}).first;
  }
  Peer& p = it->second;
  if (now - p.rate_last > kSilence) p.n_redirects = 0;  // quiet long enough: start again
  if (p.n_redirects >= kNumber) {
    // The source ignores them: say nothing until it has been quiet kSilence.
    p.rate_last = now;
    return false;
  }
  if (p.n_redirects != 0 && now - p.rate_last <= kLoad * (1 << p.n_redirects)) return false;
  p.rate_last = now;
  ++p.n_redirects;
  return true;
}

}  // namespace netns::ipv4
