// Loss recovery for an ACK that is not a plain step forward (Linux's
// tcp_fastretrans_alert and the functions around it):
//
//   - which state the sender is in: open, disorder (SACKs or duplicate
//     ACKs, nothing lost), cwr (a loss probe repaired a tail), recovery
//     (fast recovery after a loss), loss (after a timeout);
//   - loss detection: RACK (RFC 8985) with SACK, RFC 6675's DupThresh when
//     net.ipv4.tcp_recovery turns RACK off, NewReno (RFC 6582) without SACK;
//   - the window in recovery: PRR (RFC 6937);
//   - undo: a reduction that D-SACKs (RFC 2883, every retransmission was a
//     duplicate) or timestamps (an original arrived; Eifel, RFC 3522) show
//     to be spurious is taken back, as Linux does.
#include <algorithm>

#include "ipv4/tcp/connection.hpp"

namespace netns::tcp {

void Connection::process_loss_state(AckEvent& ev) {
  if (ev.sack_reneging && ev.una_advanced()) {
    // The head was SACKed yet not acknowledged: give the receiver a moment
    // to make sense before believing it reneged (tcp_check_sack_reneging).
    const auto delay = std::max<Clock::duration>(rtt_.srtt() / 2, std::chrono::milliseconds(10));
    arm_rtx_timer(RtxTimer::retransmit, delay);
    ev.set_xmit_timer = false;
    return;
  }
  // State exits: recovery and cwr end when high_seq is acknowledged.
  if (ca_state_ == CaState::open) {
    retrans_stamp_.reset();
  } else if (!seq_lt(snd_una_, high_seq_)) {
    if (ca_state_ == CaState::cwr && snd_una_ != high_seq_) {
      end_cwnd_reduction();
      ca_state_ = CaState::open;
    } else if (ca_state_ == CaState::recovery) {
      if (!sack_ok_) reno_sacked_ = 0;
      if (try_undo_recovery()) return;
      end_cwnd_reduction();
    }
  }
  switch (ca_state_) {
    case CaState::recovery:
      if (!ev.una_advanced()) {
        if (!sack_ok_) add_reno_sack(ev.dupacks);
      } else if (try_undo_partial(ev.prior_snd_una)) {
        return;
      }
      if (try_undo_dsack()) try_to_open(ev.ece);
      detect_losses(ev);
      // Undo took the sender out of recovery; a loss since starts another.
      if (ca_state_ != CaState::recovery && rtx_.lost() != 0) enter_recovery(ev.ece);
      return;
    case CaState::loss:
      process_ack_in_loss(ev);
      detect_losses(ev);
      // Stay in loss unless undone, or a retransmission was lost again.
      if (ca_state_ != CaState::open && !ev.lost_retrans) return;
      [[fallthrough]];
    default:
      if (!sack_ok_) {
        if (ev.una_advanced()) reno_sacked_ = 0;
        add_reno_sack(ev.dupacks);
      }
      if (ca_state_ == CaState::open || ca_state_ == CaState::disorder) try_undo_dsack();
      detect_losses(ev);
      if (rtx_.lost() == 0) {
        try_to_open(ev.ece);
        return;
      }
      enter_recovery(ev.ece);
  }
}

void Connection::process_ack_in_loss(AckEvent& ev) {
  // After a timeout (tcp_process_loss, without F-RTO): undo when the
  // timestamps show the timeout was spurious, open again once everything
  // outstanding at the timeout is acknowledged.
  const bool recovered = !seq_lt(snd_una_, high_seq_);
  if (ev.una_advanced() && try_undo_loss()) return;
  if (recovered) {
    try_undo_recovery();
    return;
  }
  if (!sack_ok_) {
    if (seq_gt(snd_nxt_, high_seq_) && ev.dupacks != 0) {
      add_reno_sack(ev.dupacks);
    } else if (ev.una_advanced()) {
      reno_sacked_ = 0;
    }
  }
}

// ---- loss detection ----

void Connection::detect_losses(AckEvent& ev) {
  if (rtx_.empty()) return;
  if (!sack_ok_) {
    // NewReno: three duplicate ACKs lose the head; in recovery, so does
    // each partial ACK (RFC 6582 3.2 step 5).
    if ((ca_state_ < CaState::recovery && reno_sacked_ >= reordering_) ||
        (ca_state_ == CaState::recovery && ev.una_advanced())) {
      mark_head_lost();
    }
    return;
  }
  const std::uint32_t prior_retrans = rtx_.retrans();
  const std::uint32_t prior_lost = rtx_.lost();
  if ((net().sysctl().value(SysctlId::tcp_recovery) & kRecoveryRack) != 0) {
    if (rack_.advanced) {
      const Rack::Detection d = rack_.detect_loss(rtx_, now(), reo_wnd());
      counters().add(Counter::TcpExtTCPLostRetransmit, d.lost_retransmits);
      if (d.wait > Clock::duration::zero()) {
        // Linux adds TCP_TIMEOUT_MIN; the RTO bounds the wait.
        arm_rtx_timer(RtxTimer::reorder, std::min(d.wait + std::chrono::milliseconds(2), rtt_.rto()));
        ev.set_xmit_timer = false;
      }
    }
  } else {
    // RFC 6675 IsLost: DupThresh segments' worth SACKed above a hole.
    const std::uint32_t threshold = reordering_ * mss_;
    std::uint32_t sacked_below = 0;
    for (std::size_t i = 0; i < rtx_.size(); ++i) {
      const SentSegment& s = rtx_[i];
      if (s.has(SentSegment::kSacked)) {
        sacked_below += s.len();
        continue;
      }
      if (rtx_.sacked() - sacked_below < threshold) break;
      rtx_.mark_lost(i);
    }
  }
  if (rtx_.lost() > prior_lost) ev.newly_lost += rtx_.lost() - prior_lost;
  if (prior_retrans > rtx_.retrans()) ev.lost_retrans = true;
}

void Connection::mark_head_lost() {
  if (rtx_.front().has(SentSegment::kLost)) return;
  if (rtx_.front().data_len() > mss_) rtx_.split(0, rtx_.front().start + mss_);
  rtx_.mark_lost(0);
}

std::chrono::microseconds Connection::reo_wnd() const {
  using std::chrono::microseconds;
  // tcp_rack_reo_wnd: with no reordering seen, no waiting once in recovery
  // or once DupThresh segments are SACKed (the classic fast retransmit).
  if (reord_seen_ == 0) {
    if (ca_state_ == CaState::recovery || ca_state_ == CaState::loss) return microseconds(0);
    const std::uint32_t sacked_segments = (rtx_.sacked() + mss_ - 1) / mss_;
    if (sacked_segments >= reordering_ &&
        (net().sysctl().value(SysctlId::tcp_recovery) & kRecoveryNoDupthresh) == 0) {
      return microseconds(0);
    }
  }
  // A quarter of the minimum RTT, widened by D-SACKs, never above SRTT.
  const auto srtt = std::chrono::duration_cast<microseconds>(rtt_.srtt());
  if (min_rtt_.empty()) return srtt;
  const auto step = std::chrono::duration_cast<microseconds>(min_rtt_.get()) / 4;
  return std::min(step * rack_.reo_wnd_steps, srtt);
}

// ---- entering recovery and loss ----

void Connection::enter_recovery(bool ece_ack) {
  if (!any_retrans_done()) retrans_stamp_.reset();  // the clock starts with this recovery
  counters().add(sack_ok_ ? Counter::TcpExtTCPSackRecovery : Counter::TcpExtTCPRenoRecovery);
  prior_ssthresh_ = 0;
  init_undo();
  if (ca_state_ != CaState::recovery && ca_state_ != CaState::cwr) {
    // tcp_current_ssthresh: what undo may come back to; nothing when the
    // receiver reported congestion (ECE), which no undo takes back.
    if (!ece_ack) prior_ssthresh_ = std::max(cc_->ssthresh(), cc_->cwnd() / 2 + cc_->cwnd() / 4);
    init_cwnd_reduction();
  }
  ca_state_ = CaState::recovery;
}

void Connection::enter_loss() {
  // tcp_timeout_mark_lost: a SACKed head means the receiver reneged; else
  // everything not SACKed is lost, but for segments sent too recently for
  // RACK to judge.
  const Clock::time_point t = now();
  const std::uint32_t prior_in_flight = in_flight();
  if (rtx_.front().has(SentSegment::kSacked)) {
    counters().add(Counter::TcpExtTCPSACKReneging);
    rtx_.clear_sacks();
  } else if (!sack_ok_) {
    reno_sacked_ = 0;
  }
  for (std::size_t i = 0; i < rtx_.size(); ++i) {
    if (i != 0 && rack_.rtt - (t - rtx_[i].sent) > Clock::duration::zero()) continue;
    rtx_.mark_lost(i);
  }
  // Reduce once per episode: not again for the same loss (RFC 5681 3.1).
  if (ca_state_ == CaState::open || ca_state_ == CaState::disorder || !seq_gt(high_seq_, snd_una_) ||
      (ca_state_ == CaState::loss && retries_ <= 1)) {
    const bool reducing = ca_state_ == CaState::recovery || ca_state_ == CaState::cwr;
    prior_ssthresh_ = reducing ? cc_->ssthresh()
                               : std::max(cc_->ssthresh(), cc_->cwnd() / 2 + cc_->cwnd() / 4);
    prior_cwnd_ = cc_->cwnd();
    cc_->on_loss(prior_in_flight, t);
    init_undo();
  }
  cc_->on_timeout(t);
  cc_->set_cwnd(in_flight() + mss_);
  const auto sysctl_reordering = static_cast<std::uint32_t>(net().sysctl().value(SysctlId::tcp_reordering));
  if ((ca_state_ == CaState::open || ca_state_ == CaState::disorder) &&
      (rtx_.sacked() + mss_ - 1) / mss_ >= sysctl_reordering) {
    reordering_ = std::min(reordering_, sysctl_reordering);  // the reordering was overestimated
  }
  ca_state_ = CaState::loss;
  high_seq_ = snd_nxt_;
  tlp_high_seq_.reset();
  ecn_queue_cwr();
}

// ---- the window in recovery: PRR ----

void Connection::init_cwnd_reduction() {
  high_seq_ = snd_nxt_;
  tlp_high_seq_.reset();
  prior_cwnd_ = cc_->cwnd();
  prr_delivered_ = 0;
  prr_out_ = 0;
  cc_->on_loss(in_flight(), now());
  ecn_queue_cwr();  // the receiver learns of the reduction (RFC 3168 6.1.2)
}

void Connection::cwnd_reduction(const AckEvent& ev) {
  // RFC 6937 as Linux's tcp_cwnd_reduction, in bytes: above ssthresh,
  // send in proportion to what was delivered, so the flight comes down to
  // ssthresh over one round trip; below it, as much as was delivered, and
  // one segment more when snd_una moved without new loss (PRR-SSRB).
  const auto newly = static_cast<std::uint32_t>(delivered_ - ev.prior_delivered);
  if (newly == 0 || prior_cwnd_ == 0) return;
  const std::int64_t ssthresh = cc_->ssthresh();
  const std::int64_t flight = in_flight();
  const std::int64_t delta = ssthresh - flight;
  prr_delivered_ += newly;
  std::int64_t sndcnt;
  if (delta < 0) {
    const std::int64_t target = (ssthresh * prr_delivered_ + prior_cwnd_ - 1) / prior_cwnd_;
    sndcnt = target - prr_out_;
  } else {
    sndcnt = std::max<std::int64_t>(std::int64_t{prr_delivered_} - prr_out_, newly);
    if (ev.una_advanced() && ev.newly_lost == 0) sndcnt += mss_;
    sndcnt = std::min(delta, sndcnt);
  }
  // The fast retransmit goes whatever the arithmetic says.
  sndcnt = std::max<std::int64_t>(sndcnt, prr_out_ != 0 ? 0 : mss_);
  cc_->set_cwnd(static_cast<std::uint64_t>(flight + sndcnt));
}

void Connection::end_cwnd_reduction() {
  if (cc_->ssthresh() < CongestionControl::kInfiniteSsthresh &&
      (ca_state_ == CaState::cwr || undo_marker_)) {
    cc_->on_recovery_end(now());
  }
}

// ---- undo ----

void Connection::init_undo() {
  undo_marker_ = snd_una_;
  // Retransmissions still in flight may bring D-SACKs later.
  std::int64_t in_flight_retrans = (rtx_.retrans() + mss_ - 1) / mss_;
  if (tlp_high_seq_ && tlp_retrans_) ++in_flight_retrans;
  undo_retrans_ = in_flight_retrans != 0 ? in_flight_retrans : -1;
}

bool Connection::packet_delayed() const {
  // The peer echoes a time before our first retransmission: an original
  // got there (tcp_packet_delayed).
  if (retrans_stamp_) return ts_ecr_ && seq_lt(*ts_ecr_, *retrans_stamp_);
  if (!sack_ok_ && !seq_lt(snd_una_, high_seq_)) return false;
  return true;  // nothing was retransmitted yet
}

bool Connection::may_undo() const { return undo_marker_ && (undo_retrans_ == 0 || packet_delayed()); }

void Connection::undo_cwnd_reduction(bool unmark_loss) {
  if (unmark_loss) rtx_.clear_lost_marks();
  if (prior_ssthresh_ != 0) {
    // The window comes back: no CWR for a reduction that did not happen.
    if (prior_ssthresh_ > cc_->ssthresh()) ecn_flags_ &= ~kEcnQueueCwr;
    cc_->undo(prior_cwnd_, prior_ssthresh_);
  }
  undo_marker_.reset();
  rack_.advanced = true;  // look at the losses again with the window restored
}

bool Connection::try_undo_recovery() {
  if (may_undo()) {
    // Nothing was lost after all: every retransmission was unneeded.
    undo_cwnd_reduction(false);
    counters().add(ca_state_ == CaState::loss ? Counter::TcpExtTCPLossUndo : Counter::TcpExtTCPFullUndo);
  } else {
    rack_.recovery_done();
  }
  if (non_sack_preventing_reopen()) return true;
  ca_state_ = CaState::open;
  return false;
}

bool Connection::try_undo_dsack() {
  if (!undo_marker_ || undo_retrans_ != 0) return false;
  rack_.undone();
  undo_cwnd_reduction(false);
  counters().add(Counter::TcpExtTCPDSACKUndo);
  return true;
}

bool Connection::try_undo_partial(Seq prior_snd_una) {
  if (!undo_marker_ || !packet_delayed()) return false;
  // The hole was filled by a delayed original, not by our retransmission.
  check_reordering(prior_snd_una, true);
  // Retransmissions still in flight: clock out new data, but retransmit no more.
  if (rtx_.retrans() != 0) return true;
  if (!any_retrans_done()) retrans_stamp_.reset();
  undo_cwnd_reduction(true);
  counters().add(Counter::TcpExtTCPPartialUndo);
  try_keep_open();
  return false;
}

bool Connection::try_undo_loss() {
  if (!may_undo()) return false;
  undo_cwnd_reduction(true);
  counters().add(Counter::TcpExtTCPLossUndo);
  retries_ = 0;
  if (!non_sack_preventing_reopen() && sack_ok_) ca_state_ = CaState::open;
  return true;
}

void Connection::try_to_open(bool ece) {
  if (!any_retrans_done()) retrans_stamp_.reset();
  if (ece) enter_cwr();
  if (ca_state_ != CaState::cwr) try_keep_open();
}

void Connection::try_keep_open() {
  const bool left_out = rtx_.sacked() != 0 || rtx_.lost() != 0 || reno_sacked_ != 0;
  const CaState state = left_out || any_retrans_done() ? CaState::disorder : CaState::open;
  if (ca_state_ != state) {
    ca_state_ = state;
    high_seq_ = snd_nxt_;
  }
}

bool Connection::any_retrans_done() const {
  return rtx_.retrans() != 0 || (!rtx_.empty() && rtx_.front().has(SentSegment::kEverRetrans));
}

bool Connection::non_sack_preventing_reopen() {
  // Without SACK, hold the state until something above high_seq is
  // acknowledged (RFC 6582's guard against false fast retransmits).
  if (snd_una_ != high_seq_ || sack_ok_) return false;
  if (!any_retrans_done()) retrans_stamp_.reset();
  return true;
}

// ---- tail loss probes (RFC 8985 section 7) ----

void Connection::process_tlp_ack(const AckEvent& ev) {
  if (seq_lt(snd_una_, *tlp_high_seq_)) return;
  if (!tlp_retrans_ || ev.dsack_tlp) {
    tlp_high_seq_.reset();  // new data probed, or the D-SACK shows both copies arrived
  } else if (seq_gt(snd_una_, *tlp_high_seq_)) {
    // The probe repaired a real loss: reduce once, as for a loss (cwr).
    init_cwnd_reduction();
    ca_state_ = CaState::cwr;
    end_cwnd_reduction();
    try_keep_open();
    counters().add(Counter::TcpExtTCPLossProbeRecovery);
  } else if (!ev.una_advanced() && !ev.not_dup() && !ev.data_sacked) {
    tlp_high_seq_.reset();  // a pure duplicate: original and probe both arrived
  }
}

// ---- duplicate ACKs as SACKs, without SACK (tcp_add_reno_sack) ----

void Connection::add_reno_sack(std::uint32_t dupacks) {
  if (dupacks == 0) return;
  const std::uint32_t prior = reno_sacked_;
  reno_sacked_ += dupacks;
  limit_reno_sacked();
  if (reno_sacked_ > prior) delivered_ += std::uint64_t{reno_sacked_ - prior} * mss_;
}

void Connection::remove_reno_sacks(std::uint32_t acked_segments) {
  if (acked_segments == 0) return;
  // One segment filled the hole; the rest were the duplicates' deliveries.
  const std::uint32_t counted = acked_segments > reno_sacked_ ? acked_segments - reno_sacked_ : 1;
  delivered_ += std::uint64_t{counted} * mss_;
  reno_sacked_ = acked_segments - 1 >= reno_sacked_ ? 0 : reno_sacked_ - (acked_segments - 1);
  limit_reno_sacked();
}

void Connection::limit_reno_sacked() {
  // More duplicates than segments outstanding (less the holes): the
  // excess was reordering (tcp_check_reno_reordering).
  const auto segments = static_cast<std::uint32_t>(rtx_.size());
  const std::uint32_t holes = std::min(std::max((rtx_.lost() + mss_ - 1) / mss_, 1u), segments);
  if (reno_sacked_ + holes <= segments) return;
  reno_sacked_ = segments - holes;
  const auto max = static_cast<std::uint32_t>(net().sysctl().value(SysctlId::tcp_max_reordering));
  reordering_ = std::min(segments, max);
  ++reord_seen_;
  counters().add(Counter::TcpExtTCPRenoReorder);
}

}  // namespace netns::tcp
