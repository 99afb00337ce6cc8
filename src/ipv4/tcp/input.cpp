// SEGMENT ARRIVES (RFC 9293 3.10.7) for a connection, in the RFC's order:
// sequence check with PAWS, RST, SYN, ACK (the sender's side of it in
// ack.cpp), data, FIN. RFC 5961's challenge ACKs answer RSTs and SYNs that
// are in the window but not exact.
#include <algorithm>

#include "ipv4/tcp/connection.hpp"

namespace netns::tcp {

using wire::kTcpAck;
using wire::kTcpFin;
using wire::kTcpPsh;
using wire::kTcpRst;
using wire::kTcpSyn;

void Connection::process(Segment& seg) {
  switch (state_) {
    case State::closed:
    case State::listen:
      return;
    case State::syn_sent:
      process_syn_sent(seg);
      return;
    default:
      break;
  }
  if (state_ == State::syn_received && seg.has(kTcpSyn) && seg.seq() == irs_) {
    if (!seg.has(kTcpAck)) {
      send_syn();  // our SYN-ACK was lost: the peer retransmitted its SYN
      return;
    }
    if (parent_ == nullptr && seg.tcp.ack_number == snd_nxt_) {
      // Simultaneous open (RFC 9293 figure 7): the peer's SYN-ACK acknowledges
      // our SYN; its SYN is the one we already have. Go on as for an ACK.
      seg.tcp.flags &= static_cast<std::uint8_t>(~kTcpSyn);
      seg.tcp.seq_number += 1;
    }
  }
  // A D-SACK not yet sent is forgotten when new data comes (tcp_data_queue).
  if (!seg.payload.empty()) rcv_.forget_duplicate();
  const Seq seq = seg.seq();  // before check_sequence trims what we had
  if (!check_sequence(seg)) return;
  if (seg.has(kTcpRst)) {
    process_rst(seg);
    return;
  }
  if (seg.has(kTcpSyn)) {
    // RFC 5961 4.2: a SYN on a synchronized connection gets a challenge ACK,
    // never a reset.
    counters().add(Counter::TcpExtTCPSYNChallenge);
    send_challenge_ack();
    return;
  }
  if (!seg.has(kTcpAck)) return;
  const Seq prior_una = snd_una_;
  if (!process_ack(seg)) return;
  if (state_ == State::closed) return;
  // Only once the ACK is known good, and not for an old one (tcp_ack's
  // FLAG_UPDATE_TS_RECENT).
  if (ts_ok_ && seg.tcp.timestamps && seg.tcp.timestamps->value != ts_recent_ &&
      !seq_lt(seg.tcp.ack_number, prior_una)) {
    replace_ts_recent(seg, seq);
  }
  keepalive_probes_ = 0;
  last_received_ = now();
  if (!seg.payload.empty()) {
    process_data(seg);  // clears FIN on a segment that is not in order
  } else if (seg.seq() != rcv_nxt_) {
    if (seg.has(kTcpFin) && seq_gt(seg.seq(), rcv_nxt_)) ofo_fin_ = seg.seq();  // a FIN beyond a hole
    seg.tcp.flags &= static_cast<std::uint8_t>(~kTcpFin);
  }
  if (state_ == State::closed) return;
  if (seg.has(kTcpFin)) process_fin();
  if (state_ == State::closed) return;
  push_output();
  flush_ack();
}

// ---- SYN_SENT (RFC 9293 3.10.7.3) ----

void Connection::process_syn_sent(Segment& seg) {
  const bool ack = seg.has(kTcpAck);
  if (ack && (seq_le(seg.tcp.ack_number, iss_) || seq_gt(seg.tcp.ack_number, snd_max_))) {
    if (!seg.has(kTcpRst)) tn_.ops.send_reset(net(), seg);
    return;
  }
  if (seg.has(kTcpRst)) {
    if (ack) finish(error(Errc::connection_refused));
    return;
  }
  if (!seg.has(kTcpSyn)) return;
  init_options_from_syn(seg);
  mss_ = effective_mss_for_route(peer_mss_);
  cc_->set_mss(mss_);
  if (ack) {
    ecn_process_synack(seg);
  } else {
    ecn_process_syn(seg);
  }
  if (!ack) {
    // Simultaneous open (RFC 9293 figure 7): SYN-ACK with our first ISS.
    set_state(State::syn_received);
    send_syn();
    return;
  }
  if (retries_ == 0) sample_handshake_rtt();  // Karn: only an unretransmitted SYN
  snd_una_ = seg.tcp.ack_number;
  snd_wl2_ = seg.tcp.ack_number;
  if (seq_lt(snd_nxt_, snd_una_)) snd_nxt_ = snd_una_;
  enter_established();
  if (state_ != State::established) return;  // a callback closed it
  // Data and FIN on the SYN-ACK follow the SYN's sequence number.
  seg.tcp.seq_number += 1;
  seg.tcp.flags &= static_cast<std::uint8_t>(~kTcpSyn);
  if (!seg.payload.empty()) process_data(seg);
  if (seg.has(kTcpFin) && seg.seq() + static_cast<std::uint32_t>(seg.payload.size()) == rcv_nxt_) process_fin();
  send_ack();
  push_output();
}

// ---- step 1: is the segment acceptable? ----

bool Connection::check_sequence(Segment& seg) {
  // PAWS (RFC 7323 5): a timestamp older than the last one in sequence is
  // an old duplicate from a previous incarnation or a wrapped sequence. An
  // RST is taken whatever its timestamp.
  if (ts_ok_ && seg.tcp.timestamps && !seg.has(kTcpRst) &&
      static_cast<std::int32_t>(ts_recent_ - seg.tcp.timestamps->value) > kPawsWindow && paws_reject(seg)) {
    if (seg.has(kTcpSyn)) {
      counters().add(Counter::TcpExtTCPSYNChallenge);
      send_challenge_ack();
      return false;
    }
    counters().add(Counter::TcpExtPAWSEstab);
    send_dupack(seg, Counter::TcpExtTCPACKSkippedPAWS);
    return false;
  }
  const Seq acceptable_end = rcv_.acceptable_end();
  const std::uint32_t wnd = seq_gt(acceptable_end, rcv_nxt_) ? acceptable_end - rcv_nxt_ : 0;
  const Seq seq = seg.seq();
  const std::uint32_t len = seg.len();
  bool ok;
  if (len == 0) {
    ok = wnd == 0 ? seq == rcv_nxt_ : seq_in(seq, rcv_nxt_, rcv_nxt_ + wnd);
  } else {
    ok = wnd != 0 && (seq_in(seq, rcv_nxt_, rcv_nxt_ + wnd) ||
                      seq_in(seq + len - 1, rcv_nxt_, rcv_nxt_ + wnd));
  }
  // A zero window still takes ACKs and RSTs at rcv_nxt: only the data is refused.
  if (!ok && wnd == 0 && seq == rcv_nxt_) {
    // A probe into our zero window: its data is refused, its ACK taken,
    // and it is answered with our window.
    if (!seg.payload.empty()) {
      counters().add(Counter::TcpExtTCPZeroWindowDrop);
      ack_pending_ = true;
    }
    seg.payload.trim(0);
    seg.tcp.flags &= static_cast<std::uint8_t>(~kTcpFin);
    ok = true;
  }
  if (!ok) {
    if (seg.has(kTcpRst)) return false;
    if (seg.has(kTcpSyn)) {
      // RFC 5961 4.2 covers every SYN on a synchronized connection.
      counters().add(Counter::TcpExtTCPSYNChallenge);
      send_challenge_ack();
      return false;
    }
    send_dupack(seg, Counter::TcpExtTCPACKSkippedSeq);
    return false;
  }
  // Trim what lies before rcv_nxt (a retransmission overlapping what we
  // have: reported by a D-SACK, tcp_data_queue) and beyond the window.
  if (seq_lt(seq, rcv_nxt_)) {
    std::uint32_t drop = rcv_nxt_ - seq;
    if (seg.has(kTcpSyn)) {
      seg.tcp.flags &= static_cast<std::uint8_t>(~kTcpSyn);
      --drop;
    }
    drop = std::min<std::uint32_t>(drop, static_cast<std::uint32_t>(seg.payload.size()));
    if (drop != 0) {
      rcv_.note_duplicate(rcv_nxt_ - drop, rcv_nxt_, rcv_nxt_);
      ack_pending_ = true;  // an immediate ACK carries it
    }
    seg.payload.pull_front(drop);
    seg.tcp.seq_number = rcv_nxt_;
  }
  const Seq window_end = rcv_nxt_ + wnd;
  if (seq_gt(seg.seq() + static_cast<std::uint32_t>(seg.payload.size()), window_end)) {
    seg.payload.trim(window_end - seg.seq());
    seg.tcp.flags &= static_cast<std::uint8_t>(~kTcpFin);
  }
  return true;
}

bool Connection::paws_check(std::uint32_t tsval, std::int32_t window) const {
  // tcp_paws_check: within `window` ticks of TS.Recent, or TS.Recent too old
  // to compare (TCP_PAWS_WRAP, 2147 s), or 0 (some stacks send 0 in SYNs).
  if (static_cast<std::int32_t>(ts_recent_ - tsval) <= window) return true;
  if (now() - ts_recent_stamp_ >= kPawsWrap) return true;
  return ts_recent_ == 0;
}

bool Connection::paws_reject(const Segment& seg) const {
  // tcp_paws_discard: one tick of tolerance (TCP_PAWS_WINDOW): a peer's
  // segments sent within one of its clock ticks may arrive reordered.
  return !paws_check(seg.tcp.timestamps->value, kPawsWindow) && !disordered_ack(seg);
}

bool Connection::disordered_ack(const Segment& seg) const {
  // tcp_disordered_ack: a pure duplicate ACK that changes nothing, within
  // an RTO's worth of timestamp ticks of TS.Recent, is only reordered: its
  // old timestamp does no harm.
  if (!seg.has(kTcpAck) || seg.len() != 0 || seg.seq() != rcv_nxt_ || seg.tcp.ack_number != snd_una_) {
    return false;
  }
  const std::uint32_t window = static_cast<std::uint32_t>(seg.tcp.window) << snd_wscale_;
  const bool updates_window = seq_gt(seg.seq(), snd_wl1_) || (seg.seq() == snd_wl1_ && window > snd_wnd_);
  if (updates_window) return false;
  const auto rto_ms = std::chrono::duration_cast<std::chrono::milliseconds>(rtt_.rto()).count();
  return static_cast<std::int32_t>(ts_recent_ - seg.tcp.timestamps->value) <= rto_ms * 1024 / 1000;
}

void Connection::replace_ts_recent(const Segment& seg, Seq seq) {
  // RFC 7323 4.3 as Linux's tcp_replace_ts_recent: a segment covering the
  // last ACK we sent, and TS.Recent only moves forward (a segment let
  // through by PAWS's tolerance does not take it back).
  if (!ts_ok_ || !seg.tcp.timestamps || seg.tcp.timestamps->value == ts_recent_ ||
      seq_gt(seq, last_ack_sent_) || !paws_check(seg.tcp.timestamps->value, 0)) {
    return;
  }
  ts_recent_ = seg.tcp.timestamps->value;
  ts_recent_stamp_ = now();
}

void Connection::send_dupack(const Segment& seg, Counter skipped) {
  // Data we had already: the peer's retransmission was spurious, or our ACK
  // was lost (TcpExtDelayedACKLost); a D-SACK says which (RFC 2883).
  const auto len = static_cast<std::uint32_t>(seg.payload.size());
  if (len != 0 && seq_lt(seg.seq(), rcv_nxt_)) {
    counters().add(Counter::TcpExtDelayedACKLost);
    const Seq end = seq_min(seg.seq() + len, rcv_nxt_);
    rcv_.note_duplicate(seg.seq(), end, rcv_nxt_);
  }
  if (!out_of_window_rate_limited(seg, skipped)) send_ack();
}

ReceiveBuffer::Arrival Connection::arrival(const Segment& seg) const {
  ReceiveBuffer::Arrival a{.now = now(), .push = (seg.tcp.flags & (kTcpPsh | kTcpFin | wire::kTcpUrg)) != 0};
  if (ts_ok_ && seg.tcp.timestamps && seg.tcp.timestamps->echo != 0) {
    a.echoed_ms = seg.tcp.timestamps->echo - ts_offset_;
  }
  return a;
}

// ---- step 2: RST (RFC 5961 3) ----

bool Connection::process_rst(const Segment& seg) {
  if (seg.seq() != rcv_nxt_) {
    send_challenge_ack();  // in the window but not exact: maybe blind
    return true;
  }
  switch (state_) {
    case State::syn_received:
      // From a listener: the half-open connection just goes away.
      if (parent_ != nullptr) counters().add(Counter::TcpExtEmbryonicRsts);
      finish(parent_ != nullptr ? boost::system::error_code{} : error(Errc::connection_refused));
      break;
    case State::established:
    case State::close_wait:
      counters().add(Counter::TcpEstabResets);
      finish(error(Errc::connection_reset));
      break;
    case State::fin_wait_1:
    case State::fin_wait_2:
      finish(error(Errc::connection_reset));
      break;
    default:  // closing, last_ack, time_wait
      finish({});
      break;
  }
  return true;
}

void Connection::send_challenge_ack() {
  // Per connection first (tcp_invalid_ratelimit), then the namespace's
  // budget per second (tcp_challenge_ack_limit), as Linux's
  // tcp_send_challenge_ack.
  if (invalid_rate_limited(Counter::TcpExtTCPACKSkippedChallenge)) return;
  if (!tn_.allow_challenge_ack()) return;
  counters().add(Counter::TcpExtTCPChallengeACK);
  send_ack();
}

bool Connection::out_of_window_rate_limited(const Segment& seg, Counter skipped) {
  // Linux's tcp_oow_rate_limited: a segment carrying data is always
  // answered; pure ACKs and control segments at most once per
  // tcp_invalid_ratelimit, so two stacks cannot loop on dup ACKs.
  if (!seg.payload.empty() || seg.has(kTcpFin)) return false;
  return invalid_rate_limited(skipped);
}

bool Connection::invalid_rate_limited(Counter skipped) {
  const auto interval = std::chrono::milliseconds(net().sysctl().value(SysctlId::tcp_invalid_ratelimit));
  if (last_invalid_ack_ && now() - *last_invalid_ack_ < interval) {
    counters().add(skipped);
    return true;
  }
  last_invalid_ack_ = now();
  return false;
}

// ---- step 5: ACK ----

bool Connection::process_ack(Segment& seg) {
  const Seq ack = seg.tcp.ack_number;
  if (state_ == State::syn_received) {
    if (!seq_gt(ack, snd_una_) || seq_gt(ack, snd_max_)) {
      tn_.ops.send_reset(net(), seg);
      return false;
    }
    if (parent_ != nullptr && parent_->accept_queue_full()) {
      // Linux drops the final ACK and lets the SYN-ACK be retransmitted,
      // hoping the application accepts in the meantime; with
      // tcp_abort_on_overflow it resets the peer instead (tcp_check_req).
      counters().add(Counter::TcpExtListenOverflows);
      counters().add(Counter::TcpExtListenDrops);
      if (net().sysctl().value(SysctlId::tcp_abort_on_overflow) != 0) {
        tn_.ops.send_reset(net(), seg);
        counters().add(Counter::TcpExtEmbryonicRsts);
        finish({});
      }
      return false;
    }
    snd_wnd_ = static_cast<std::uint32_t>(seg.tcp.window) << snd_wscale_;
    max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
    snd_wl1_ = seg.seq();
    snd_wl2_ = ack;
    if (retries_ == 0) sample_handshake_rtt();
    snd_una_ = ack;
    enter_established();
    if (state_ != State::established) return false;
  }
  // RFC 5961 5.2: an ACK for data never sent, or older than the largest
  // window the peer offered, is answered (rate limited) and dropped.
  if (seq_gt(ack, snd_max_)) {
    send_challenge_ack();
    return false;
  }
  if (seq_lt(ack, snd_una_ - std::max(max_snd_wnd_, 1u))) {
    send_challenge_ack();
    return false;
  }
  // An answer from the peer: zero-window probes are not going unanswered
  // (Linux resets icsk_probes_out on every ACK).
  if (snd_una_ == snd_max_) retries_ = 0;
  if (ack == snd_una_ && rtx_.empty() && seg.tcp.sack_block_count == 0) {
    // Nothing outstanding (a receiver's data segments): only the window.
    const bool window_update = update_window(seg);
    if (tlp_high_seq_) {
      AckEvent ev;
      ev.window_update = window_update;
      ev.data = seg.len() != 0;
      process_tlp_ack(ev);
    }
  } else {
    AckEvent ev;
    process_new_ack(seg, ev);
  }
  if (state_ == State::closed) return false;

  const bool fin_acked = fin_queued_ && fin_acked_;
  switch (state_) {
    case State::fin_wait_1:
      if (fin_acked) {
        set_state(State::fin_wait_2);
        if (user_closed_) {
          wait_timer_.schedule(now() + std::chrono::seconds(
                                           net().sysctl().value(SysctlId::tcp_fin_timeout)));
        }
      }
      break;
    case State::closing:
      if (fin_acked) enter_time_wait();
      break;
    case State::last_ack:
      if (fin_acked) {
        finish({});
        return false;
      }
      break;
    default:
      break;
  }
  return state_ != State::closed;
}

// ---- step 7: data ----

void Connection::process_data(Segment& seg) {
  if (state_ != State::established && state_ != State::fin_wait_1 && state_ != State::fin_wait_2) {
    return;  // the peer's FIN came before: nothing more is taken
  }
  if (user_closed_) {
    // Nobody will read it (Linux's TCPAbortOnData).
    counters().add(Counter::TcpExtTCPAbortOnData);
    reset_and_finish(error(Errc::connection_reset));
    return;
  }
  const auto len = static_cast<std::uint32_t>(seg.payload.size());
  const ReceiveBuffer::Arrival a = arrival(seg);
  const bool ecn = (ecn_flags_ & kEcnOk) != 0;
  bool ecn_ack_now = ecn && ecn_accept_cwr(seg);
  if (seg.seq() == rcv_nxt_) {
    const bool filled_hole = rcv_.has_out_of_order();
    const Seq before = rcv_nxt_;
    if (!rcv_.queue_in_order(rcv_nxt_, std::move(seg.payload), a)) {
      // No room even after collapsing and pruning: refused, and the peer
      // told at once, with a zero window.
      seg.tcp.flags &= static_cast<std::uint8_t>(~kTcpFin);
      ack_received_data(true);
      return;
    }
    bytes_received_ += rcv_nxt_ - before;
    if (ecn && ecn_check_ce(seg)) ecn_ack_now = true;
    if (ofo_fin_ && rcv_nxt_ == *ofo_fin_) {
      seg.tcp.flags |= kTcpFin;  // the FIN that came early is now in order
      ofo_fin_.reset();
    }
    ++segs_since_ack_;
    ack_received_data(filled_hole || seg.has(kTcpFin) || segs_since_ack_ >= 2 || ecn_ack_now);
    notify_readable();
    return;
  }
  // Out of order (the sequence check kept it within the window): queue it
  // and say at once what we have, so the sender sees the hole (RFC 5681 4.2).
  const Seq seq = seg.seq();
  if (ecn) (void)ecn_check_ce(seg);  // the ACK goes at once anyway
  if (rcv_.queue_out_of_order(rcv_nxt_, seq, std::move(seg.payload), a) && seg.has(kTcpFin)) {
    ofo_fin_ = seq + len;
  }
  seg.tcp.flags &= static_cast<std::uint8_t>(~kTcpFin);
  ack_received_data(true);
}

// ---- step 8: FIN ----

void Connection::process_fin() {
  // Only a FIN in order gets here (one beyond a hole waits in ofo_fin_).
  if (fin_received_) return;
  fin_received_ = true;
  rcv_nxt_ += 1;
  // Nothing beyond the FIN is data (tcp_fin purges the out-of-order queue).
  rcv_.drop_out_of_order();
  ofo_fin_.reset();
  ack_received_data(true);
  switch (state_) {
    case State::established:
      set_state(State::close_wait);
      break;
    case State::fin_wait_1:
      if (fin_acked_) {
        enter_time_wait();
      } else {
        set_state(State::closing);
      }
      break;
    case State::fin_wait_2:
      enter_time_wait();
      break;
    default:
      break;
  }
  notify_readable();
}

// ---- ICMP ----

void Connection::process_icmp_error(const ipv4::IcmpError& err, Seq seq) {
  if (!seq_in(seq, snd_una_, snd_max_ + 1)) {
    counters().add(Counter::TcpExtOutOfWindowIcmps);
    return;
  }
  if (err.type == wire::IcmpType::dest_unreachable &&
      err.code == static_cast<std::uint8_t>(wire::IcmpUnreachable::frag_needed)) {
    // Fragmentation needed (RFC 1191), as tcp_v4_mtu_reduced: the namespace
    // remembers the path MTU (never below route.min_pmtu), and segments
    // too large for it are resent smaller.
    tn_.ops.stack().update_pmtu(net(), remote().address.to_v4(), err.info);
    mtu_reduced();
    return;
  }
  if (state_ == State::syn_sent && ipv4::is_hard_error(err)) finish(err.error());
  // Otherwise a soft error: retransmissions go on (Linux keeps it in sk_err_soft).
}

void Connection::mtu_reduced() {
  const std::uint32_t mss = effective_mss_for_route(peer_mss_);
  if (mss < mss_) {
    mss_ = mss;
    cc_->set_mss(mss_);
    path_mtu_shrank();
  }
}

void Connection::process_icmp6_error(const ipv6::IcmpError& err, Seq seq) {
  if (!seq_in(seq, snd_una_, snd_max_ + 1)) {
    counters().add(Counter::TcpExtOutOfWindowIcmps);
    return;
  }
  if (err.type == ipv6::kIcmp6PacketTooBig) {
    // tcp_v6_mtu_reduced: the layer has lowered the path MTU (Ipv6Stack's
    // Packet Too Big input, never below 1280), and segments too large for
    // it are resent smaller.
    mtu_reduced();
    return;
  }
  // icmpv6_err_convert's fatal errors end a connection still opening;
  // the rest are soft (time exceeded, no route, address unreachable).
  if (state_ == State::syn_sent && err.is_hard()) finish(err.error());
}

}  // namespace netns::tcp
