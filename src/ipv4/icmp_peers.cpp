// Linux's limit on the redirects sent to one source (ip_rt_send_redirect).
#include "ipv4/icmp_peers.hpp"

#include <algorithm>

namespace netns::ipv4 {

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
