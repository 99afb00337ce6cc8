// A connection's timers and the loss recovery they drive: retransmission
// (RFC 6298, with the SYN and zero-window probe cases), delayed ACK,
// keepalive, TIME_WAIT / FIN_WAIT_2; entering and leaving fast recovery.
#include <algorithm>

#include "ipv4/tcp/connection.hpp"

namespace netns::tcp {

using wire::kTcpAck;

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
    case State::established:
    case State::close_wait:
    case State::fin_wait_1:
    case State::closing:
    case State::last_ack:
      break;
    default:
      return;
  }
  const auto retries2 = static_cast<std::uint32_t>(
      n.sysctl().value(user_closed_ && n.sysctl().value(SysctlId::tcp_orphan_retries) != 0
                           ? SysctlId::tcp_orphan_retries
                           : SysctlId::tcp_retries2));
  if (snd_una_ == snd_max_) {
    // Nothing outstanding: this is the persist timer probing a zero window
    // (RFC 9293 3.8.6.1). Probes are answered, so only unanswered ones count.
    if (unsent_bytes() == 0 && !fin_to_send()) return;
    if (snd_wnd_ != 0) {
      push_output();
      return;
    }
    if (++retries_ > retries2) {
      // As Linux's tcp_write_err: the peer is gone, no RST is sent.
      counters().add(Counter::TcpExtTCPAbortOnTimeout);
      finish(error(Errc::timed_out));
      return;
    }
    counters().add(Counter::TcpExtTCPWinProbe);
    send_probe();
    rtt_.backoff();
    arm_retransmit();
    return;
  }
  if (++retries_ > retries2) {
    counters().add(Counter::TcpExtTCPAbortOnTimeout);
    finish(error(Errc::timed_out));
    return;
  }
  // RFC 6298 5.4-5.6 with RFC 5681's loss window: back off, shrink cwnd to
  // one segment and resend from the first unacknowledged byte.
  counters().add(Counter::TcpExtTCPTimeouts);
  cc_->on_timeout(in_flight(), now());
  rtt_.backoff();
  in_recovery_ = false;
  recover_ = snd_max_;
  rto_recovery_ = true;  // RFC 6582 step 2: old duplicate ACKs start no fast retransmit
  // RFC 2018 section 8: the receiver may renege on what it SACKed. The
  // marks are kept through one timeout, and dropped on the next, which a
  // reneging receiver (one that pruned its out-of-order queue) would cause.
  if (retries_ >= 2) sacks_.clear();
  high_rxt_ = snd_una_;
  dupacks_ = 0;
  rtt_timing_ = false;
  snd_nxt_ = snd_una_;
  if (unsent_bytes() == 0 && !fin_to_send()) {
    retransmit_head();
  } else {
    push_output();
  }
  arm_retransmit();
}

void Connection::enter_fast_recovery() {
  in_recovery_ = true;
  recover_ = snd_max_;
  high_rxt_ = snd_una_;
  rtt_timing_ = false;
  cc_->on_loss(in_flight(), now());
  counters().add(sack_ok_ ? Counter::TcpExtTCPSackRecovery : Counter::TcpExtTCPRenoRecovery);
  counters().add(Counter::TcpExtTCPFastRetrans);
  if (sack_ok_) {
    // The first hole goes now; push_output sends the rest as pipe allows.
    if (!retransmit_hole()) {
      retransmit_head();
      high_rxt_ = snd_una_ + std::min(mss_, snd_max_ - snd_una_);
    }
  } else {
    // NewReno (RFC 6582 3.2 step 3): cwnd = ssthresh + 3 segments.
    recovery_cwnd_ = cc_->ssthresh() + 3 * mss_;
    retransmit_head();
  }
  arm_retransmit();
}

void Connection::exit_recovery() {
  in_recovery_ = false;
  dupacks_ = 0;
  cc_->on_recovery_end(now());
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
  // TIME_WAIT's 2MSL, or an orphan's tcp_fin_timeout in FIN_WAIT_2.
  if (state_ == State::time_wait || state_ == State::fin_wait_2) finish({});
}

}  // namespace netns::tcp
