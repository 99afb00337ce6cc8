// ipv4/tcp/rack.hpp — RACK loss detection (RFC 8985, Linux's
// tcp_recovery.c): a segment is lost once a segment sent after it has been
// delivered and a reordering window has passed since — time, not counts of
// duplicate ACKs, so lost retransmissions and tail losses are found too.
//
//   Rack rack;
//   rack.advance(segment, now, min_rtt);            // each newly (S)ACKed segment
//   if (rack.advanced) {
//     auto r = rack.detect_loss(queue, now, reo_wnd); // marks what is lost
//     if (r.wait != 0) arm_reorder_timer(r.wait);    // the rest, when its window ends
//   }
//
// The reordering window itself (how long to wait) depends on the
// connection's state; the caller computes it (tcp_rack_reo_wnd) from
// reo_wnd_steps, which D-SACKs widen (update_reo_wnd).
#pragma once

#include <cstdint>

#include "ipv4/tcp/rtx_queue.hpp"
#include "netns/clock.hpp"

namespace netns::tcp {

class Rack {
 public:
  // D-SACKs widen the window for this many recoveries (TCP_RACK_RECOVERY_THRESH).
  static constexpr std::uint8_t kRecoveryThresh = 16;

  struct Detection {
    std::uint32_t newly_lost = 0;       // sequence space newly marked lost
    std::uint32_t lost_retransmits = 0; // of which retransmissions lost again (records)
    Clock::duration wait{};             // until the next window ends; zero when none waits
  };

  // RFC 8985 step 2: `s` was just delivered (ACKed or SACKed); remember it
  // when it was sent later than what RACK knew. A retransmitted segment
  // delivered sooner than min_rtt after its retransmission was probably
  // the original: it says nothing.
  void advance(const SentSegment& s, Clock::time_point now, Clock::duration min_rtt) {
    advance(s.tx, s.sent, s.has(SentSegment::kEverRetrans), now, min_rtt);
  }
  void advance(std::uint64_t tx, Clock::time_point sent, bool retransmitted, Clock::time_point now,
               Clock::duration min_rtt);

  // RFC 8985 steps 4-5 over the queue: every segment sent before the most
  // recently delivered one, not SACKed and not already lost, is marked lost
  // once rtt + reo_wnd has passed since it left.
  Detection detect_loss(RtxQueue& queue, Clock::time_point now, Clock::duration reo_wnd);

  // A D-SACK arrived (dsack_seen) and, once per round trip, widens the
  // window by one step (tcp_rack_update_reo_wnd). `prior_delivered` is the
  // delivered count when this ACK arrived, `delivered` after.
  void update_reo_wnd(std::uint64_t prior_delivered, std::uint64_t delivered, bool static_window);
  // A recovery ended without undo: the widened window lasts one fewer.
  void recovery_done() {
    if (reo_wnd_persist != 0) --reo_wnd_persist;
  }
  // A D-SACK undo: keep the window a little longer.
  void undone() {
    if (reo_wnd_persist < kRecoveryThresh) ++reo_wnd_persist;
  }

  std::uint64_t tx = 0;           // order of the most recently sent delivered segment
  Clock::duration rtt{};          // the RTT of the last delivery it took
  bool has_sample = false;
  bool advanced = false;          // a newer delivery since the last detect_loss
  bool dsack_seen = false;
  std::uint8_t reo_wnd_steps = 1;
  std::uint8_t reo_wnd_persist = 0;
  std::uint64_t last_delivered = 0;  // delivered count when the window last widened
};

}  // namespace netns::tcp
