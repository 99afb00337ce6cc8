#include "ipv4/tcp/rack.hpp"

#include <algorithm>

namespace netns::tcp {

void Rack::advance(std::uint64_t seg_tx, Clock::time_point sent, bool retransmitted, Clock::time_point now,
                   Clock::duration min_rtt) {
  const Clock::duration rtt_now = now - sent;
  if (retransmitted && rtt_now < min_rtt) return;
  advanced = true;
  rtt = rtt_now;
  if (!has_sample || seg_tx > tx) {
    tx = seg_tx;
    has_sample = true;
  }
}

Rack::Detection Rack::detect_loss(RtxQueue& queue, Clock::time_point now, Clock::duration reo_wnd) {
  advanced = false;
  Detection d;
  if (!has_sample) return d;
  // The queue is in sequence order, which is sending order for segments
  // never retransmitted; a retransmitted one may have left later than
  // anything after it. So the walk stops at the first segment never
  // retransmitted that left after the delivered one, as Linux's walk of its
  // time-sorted list stops at the first that left after it. (Order is by
  // SentSegment::tx; times only measure how long a segment has been out.)
  for (std::size_t i = 0; i < queue.size(); ++i) {
    const SentSegment& s = queue[i];
    if (s.has(SentSegment::kSacked)) continue;
    if (s.has(SentSegment::kLost) && !s.has(SentSegment::kRetrans)) continue;  // waits for its retransmission
    if (s.tx >= tx) {  // not sent before the delivered one
      if (!s.has(SentSegment::kEverRetrans)) break;
      continue;
    }
    const Clock::duration remaining = rtt + reo_wnd - (now - s.sent);
    if (remaining <= Clock::duration::zero()) {
      // Lost and in flight can only be a retransmission that is lost again.
      if (s.has(SentSegment::kLost)) ++d.lost_retransmits;
      const std::uint32_t len = s.len();
      if (queue.mark_lost(i)) d.newly_lost += len;
    } else {
      d.wait = std::max(d.wait, remaining);
    }
  }
  return d;
}

void Rack::update_reo_wnd(std::uint64_t prior_delivered, std::uint64_t delivered, bool static_window) {
  if (static_window) return;
  // Disregard a D-SACK within a round trip of the last widening.
  if (prior_delivered < last_delivered) dsack_seen = false;
  if (dsack_seen) {
    if (reo_wnd_steps < 0xff) ++reo_wnd_steps;
    dsack_seen = false;
    last_delivered = delivered;
    reo_wnd_persist = kRecoveryThresh;
  } else if (reo_wnd_persist == 0) {
    reo_wnd_steps = 1;
  }
}

}  // namespace netns::tcp
