// A connection's timers. The retransmission timer serves four purposes,
// as Linux's: the RTO (RFC 6298, SYNs included), the zero-window probe,
// the tail loss probe (RFC 8985 7) and RACK's reordering window; then
// delayed ACK, keepalive, an orphan's FIN_WAIT_2.
#include <algorithm>

#include "ipv4/tcp/connection.hpp"

namespace netns::tcp {

using wire::kTcpAck;
using wire::kTcpFin;
using wire::kTcpPsh;

// ---- the retransmission timer and its other uses ----

void Connection::arm_rtx_timer(RtxTimer kind, Clock::duration after) {
  rtx_kind_ = kind;
  rtx_deadline_ = now() + after;
  // Every ACK pushes the deadline out; moving it later leaves the timer
  // heap alone, and the timer, firing early, re-arms itself (a timer
  // wheel's lazy mod_timer): one heap operation per firing, not per ACK.
  if (!rtx_timer_.pending() || rtx_timer_.deadline() > rtx_deadline_) rtx_timer_.schedule(rtx_deadline_);
}

void Connection::rearm_rto() {
  // tcp_rearm_rto: after a loss probe or reordering timer, the RTO still
  // counts from when the head last left.
  if (rtx_.empty()) {
    if (rtx_kind_ != RtxTimer::persist) rtx_timer_.cancel();
    return;
  }
  Clock::duration rto = rtt_.rto();
  if (rtx_timer_.pending() && (rtx_kind_ == RtxTimer::reorder || rtx_kind_ == RtxTimer::loss_probe)) {
    rto = std::max<Clock::duration>(rtx_.front().sent + rto - now(), std::chrono::microseconds(1));
  }
  arm_rtx_timer(RtxTimer::retransmit, rto);
}

bool Connection::schedule_loss_probe(bool advancing_rto) {
  // RFC 8985 7.2 as Linux's tcp_schedule_loss_probe: with SACK, outside
  // recovery, a probe 2 SRTT after the last send (plus a delayed ACK's
  // worth when a single segment is out), never later than the RTO.
  const auto early_retrans = net().sysctl().value(SysctlId::tcp_early_retrans);
  if ((early_retrans != 3 && early_retrans != 4) || rtx_.empty() || !sack_ok_ ||
      (ca_state_ != CaState::open && ca_state_ != CaState::cwr)) {
    return false;
  }
  Clock::duration timeout = RttEstimator::kInitialRto;
  if (rtt_.has_sample()) {
    timeout = 2 * rtt_.srtt() +
              (rtx_.size() == 1 ? Clock::duration{RttEstimator::kMinRto} : std::chrono::milliseconds(2));
  }
  const Clock::duration rto_delta = advancing_rto ? rtt_.rto() : rtx_.front().sent + rtt_.rto() - now();
  if (rto_delta > Clock::duration::zero()) timeout = std::min(timeout, rto_delta);
  arm_rtx_timer(RtxTimer::loss_probe, timeout);
  return true;
}

void Connection::set_xmit_timer() {
  if (!schedule_loss_probe(true)) rearm_rto();
}

void Connection::on_rtx_timer() {
  if (now() < rtx_deadline_) {
    rtx_timer_.schedule(rtx_deadline_);  // moved later since it was set
    return;
  }
  switch (rtx_kind_) {
    case RtxTimer::retransmit:
      on_retransmit_timer();
      break;
    case RtxTimer::persist:
      on_persist_timer();
      break;
    case RtxTimer::loss_probe:
      send_loss_probe();
      break;
    case RtxTimer::reorder:
      on_reorder_timer();
      break;
  }
}

void Connection::on_retransmit_timer() {
  Net& n = net();
  switch (state_) {
    case State::syn_sent:
    case State::syn_received: {
      const auto limit = n.sysctl().value(state_ == State::syn_sent ? SysctlId::tcp_syn_retries
                                                                    : SysctlId::tcp_synack_retries);
      if (++retries_ > static_cast<std::uint32_t>(limit)) {
        finish(error(Errc::timed_out));
        return;
      }
      rtt_.backoff();
      counters().add(Counter::TcpExtTCPSynRetrans);
      send_syn();
      return;
    }
    default:
      break;
  }
  if (!sends_data_now() || rtx_.empty()) return;
  if (++retries_ > retries_limit()) {
    // As Linux's tcp_write_err: the peer is gone, no RST is sent.
    counters().add(Counter::TcpExtTCPAbortOnTimeout);
    finish(error(Errc::timed_out));
    return;
  }
  // tcp_retransmit_timer: the loss state, cwnd from the flight plus one
  // segment, the head resent now and the rest as ACKs come back; RFC 6298
  // 5.5's backoff.
  counters().add(Counter::TcpExtTCPTimeouts);
  if (retries_ == 1) {
    if (ca_state_ == CaState::recovery) {
      counters().add(sack_ok_ ? Counter::TcpExtTCPSackFailures : Counter::TcpExtTCPRenoFailures);
    } else if (ca_state_ == CaState::loss) {
      counters().add(Counter::TcpExtTCPLossFailures);
    }
  }
  enter_loss();
  retransmit(0);
  rtt_.backoff();
  arm_rtx_timer(RtxTimer::retransmit, rtt_.rto());
}

std::uint32_t Connection::retries_limit() const {
  Sysctl& sysctl = net().sysctl();
  const bool orphan = user_closed_ && sysctl.value(SysctlId::tcp_orphan_retries) != 0;
  return static_cast<std::uint32_t>(sysctl.value(orphan ? SysctlId::tcp_orphan_retries : SysctlId::tcp_retries2));
}

void Connection::on_persist_timer() {
  // Nothing outstanding: probe the zero window (RFC 9293 3.8.6.1). Probes
  // are answered, so only unanswered ones count.
  if (!sends_data_now() || !rtx_.empty()) return;
  if (unsent_bytes() == 0 && !fin_to_send()) return;
  if (snd_wnd_ != 0) {
    push_output();
    return;
  }
  if (++retries_ > retries_limit()) {
    counters().add(Counter::TcpExtTCPAbortOnTimeout);
    finish(error(Errc::timed_out));
    return;
  }
  counters().add(Counter::TcpExtTCPWinProbe);
  send_probe();
  rtt_.backoff();
  arm_rtx_timer(RtxTimer::persist, rtt_.rto());
}

void Connection::send_loss_probe() {
  // RFC 8985 7.3 as Linux's tcp_send_loss_probe: new data if the peer's
  // window takes it, else the last segment again; one probe per tail.
  if (!sends_data_now() || rtx_.empty()) return;
  if (tlp_high_seq_) {
    rearm_rto();
    return;
  }
  tlp_retrans_ = false;
  const std::uint32_t unsent = unsent_bytes();
  const std::uint32_t len = std::min(mss_, unsent);
  if (unsent != 0 && !seq_gt(snd_nxt_ + len, snd_una_ + snd_wnd_)) {
    // New data, past cwnd if need be (tcp_write_xmit's push_one == 2).
    std::uint8_t flags = kTcpAck;
    if (len == unsent) flags |= fin_queued_ ? kTcpPsh | kTcpFin : kTcpPsh;
    transmit(snd_nxt_, len, flags);
  } else {
    std::size_t last = rtx_.size() - 1;
    if (rtx_[last].data_len() > mss_) {
      // The MSS shrank under it: probe with its last MSS.
      rtx_.split(last, rtx_[last].start + (rtx_[last].data_len() - mss_));
      last = rtx_.size() - 1;
    }
    const SentSegment& s = rtx_[last];
    std::uint8_t flags = kTcpAck;
    if (s.has(SentSegment::kFin)) flags |= kTcpFin;
    if (s.data_len() != 0) flags |= kTcpPsh;
    transmit(s.start, s.data_len(), flags);
    rtx_.note_probe(last, now(), delivered_);
    ++total_retrans_;
    tlp_retrans_ = true;
  }
  tlp_high_seq_ = snd_nxt_;
  counters().add(Counter::TcpExtTCPLossProbes);
  arm_rtx_timer(RtxTimer::retransmit, rtt_.rto());  // from now, not from the head
}

void Connection::on_reorder_timer() {
  // tcp_rack_reo_timeout: a segment's reordering window ran out.
  if (!sends_data_now() || rtx_.empty()) return;
  const std::uint32_t prior_in_flight = in_flight();
  const Rack::Detection d = rack_.detect_loss(rtx_, now(), reo_wnd());
  counters().add(Counter::TcpExtTCPLostRetransmit, d.lost_retransmits);
  if (prior_in_flight != in_flight()) {
    if (ca_state_ != CaState::recovery) {
      enter_recovery(false);
      AckEvent ev;  // as one segment delivered (Linux passes 1)
      ev.prior_delivered = delivered_ - mss_;
      ev.newly_lost = d.newly_lost;
      cwnd_reduction(ev);
    }
    push_output();
  }
  if (rtx_.empty() || (rtx_timer_.pending() && rtx_kind_ == RtxTimer::retransmit)) return;
  // The RTO still counts from the head's last send.
  const Clock::duration rto = rtx_.front().sent + rtt_.rto() - now();
  arm_rtx_timer(RtxTimer::retransmit, std::max<Clock::duration>(rto, std::chrono::microseconds(1)));
}

void Connection::path_mtu_shrank() {
  // tcp_simple_retransmit: segments now too large are lost; resend them
  // in the loss state without a congestion reduction (a smaller MTU is
  // not congestion).
  for (std::size_t i = 0; i < rtx_.size(); ++i) {
    if (rtx_[i].data_len() > mss_) rtx_.mark_lost(i);
  }
  if (rtx_.lost() == 0) return;
  if (!sack_ok_) limit_reno_sacked();
  if (ca_state_ != CaState::loss) {
    high_seq_ = snd_nxt_;
    prior_ssthresh_ = 0;
    undo_marker_.reset();
    ca_state_ = CaState::loss;
  }
  push_output();
}

void Connection::on_delack_timer() {
  if (segs_since_ack_ == 0 && !ack_pending_) return;
  counters().add(Counter::TcpExtDelayedACKs);
  send_ack();
}

void Connection::arm_keepalive() {
  if (!keepalive_) return;
  auto& sysctl = net().sysctl();
  const auto idle = std::chrono::seconds(sysctl.value(SysctlId::tcp_keepalive_time));
  keepalive_timer_.schedule(last_received_ + idle);
}

void Connection::on_keepalive_timer() {
  if (!keepalive_ || (state_ != State::established && state_ != State::close_wait)) return;
  auto& sysctl = net().sysctl();
  const auto idle = std::chrono::seconds(sysctl.value(SysctlId::tcp_keepalive_time));
  const auto interval = std::chrono::seconds(sysctl.value(SysctlId::tcp_keepalive_intvl));
  if (keepalive_probes_ == 0 && now() < last_received_ + idle) {
    keepalive_timer_.schedule(last_received_ + idle);  // traffic came meanwhile
    return;
  }
  if (keepalive_probes_ >= static_cast<std::uint32_t>(sysctl.value(SysctlId::tcp_keepalive_probes))) {
    counters().add(Counter::TcpExtTCPAbortOnTimeout);
    reset_and_finish(error(Errc::timed_out));
    return;
  }
  // Data outstanding: the retransmission timer watches the peer already.
  if (snd_una_ == snd_max_) {
    counters().add(Counter::TcpExtTCPKeepAlive);
    send_probe();
    ++keepalive_probes_;
  }
  keepalive_timer_.schedule(now() + interval);
}

void Connection::on_wait_timer() {
  // An orphan's tcp_fin_timeout in FIN_WAIT_2 (TIME_WAIT is time_wait.cpp's).
  if (state_ == State::fin_wait_2) finish({});
}

}  // namespace netns::tcp
