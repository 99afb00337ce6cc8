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
  if (!process_ack(seg)) return;
  if (state_ == State::closed) return;
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
  rcv_adv_ = rcv_nxt_ + syn_window();  // what our SYN offered, now that rcv_nxt is known
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
  // an old duplicate from a previous incarnation or a wrapped sequence.
  if (ts_ok_ && seg.tcp.timestamps && !seg.has(kTcpRst) &&
      static_cast<std::int32_t>(seg.tcp.timestamps->value - ts_recent_) < 0) {
    counters().add(Counter::TcpExtPAWSEstab);
    if (!out_of_window_rate_limited(seg)) send_ack();
    return false;
  }
  const std::uint32_t wnd = seq_gt(rcv_adv_, rcv_nxt_) ? rcv_adv_ - rcv_nxt_ : 0;
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
    if (state_ == State::time_wait && seg.has(kTcpFin)) {
      wait_timer_.schedule(now() + std::chrono::seconds(60));  // a retransmitted FIN restarts 2MSL
    }
    if (!out_of_window_rate_limited(seg)) send_ack();
    return false;
  }
  // Trim what lies before rcv_nxt (a retransmission overlapping what we
  // have) and beyond the window.
  if (seq_lt(seq, rcv_nxt_)) {
    std::uint32_t drop = rcv_nxt_ - seq;
    if (seg.has(kTcpSyn)) {
      seg.tcp.flags &= static_cast<std::uint8_t>(~kTcpSyn);
      --drop;
    }
    drop = std::min<std::uint32_t>(drop, static_cast<std::uint32_t>(seg.payload.size()));
    seg.payload.pull_front(drop);
    seg.tcp.seq_number = rcv_nxt_;
  }
  const Seq window_end = rcv_nxt_ + wnd;
  if (seq_gt(seg.seq() + static_cast<std::uint32_t>(seg.payload.size()), window_end)) {
    seg.payload.trim(window_end - seg.seq());
    seg.tcp.flags &= static_cast<std::uint8_t>(~kTcpFin);
  }
  // RFC 7323 4.3: remember the timestamp of a segment covering the last
  // ACK we sent.
  if (ts_ok_ && seg.tcp.timestamps && seq_le(seg.seq(), last_ack_sent_)) {
    ts_recent_ = seg.tcp.timestamps->value;
  }
  return true;
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
  if (invalid_rate_limited()) return;
  if (!tn_.allow_challenge_ack()) return;
  counters().add(Counter::TcpExtTCPChallengeACK);
  send_ack();
}

bool Connection::out_of_window_rate_limited(const Segment& seg) {
  // Linux's tcp_oow_rate_limited: a segment carrying data is always
  // answered; pure ACKs and control segments at most once per
  // tcp_invalid_ratelimit, so two stacks cannot loop on dup ACKs.
  if (!seg.payload.empty() || seg.has(kTcpFin)) return false;
  return invalid_rate_limited();
}

bool Connection::invalid_rate_limited() {
  const auto interval = std::chrono::milliseconds(net().sysctl().value(SysctlId::tcp_invalid_ratelimit));
  if (last_invalid_ack_ && now() - *last_invalid_ack_ < interval) {
    counters().add(Counter::TcpExtTCPACKSkippedSeq);
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
      // hoping the application accepts in the meantime.
      counters().add(Counter::TcpExtListenOverflows);
      counters().add(Counter::TcpExtListenDrops);
      return false;
    }
    snd_wnd_ = static_cast<std::uint32_t>(seg.tcp.window) << snd_wscale_;
    max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
    snd_wl1_ = seg.seq();
    snd_wl2_ = ack;
    rcv_adv_ = seq_max(rcv_adv_, rcv_nxt_);
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
  if (seg.seq() == rcv_nxt_) {
    rcv_nxt_ += len;
    bytes_received_ += len;
    queue_in_order(std::move(seg.payload));
    const bool filled_hole = !ofo_.empty();
    if (filled_hole) {
      rcv_nxt_ = ofo_.drain(rcv_nxt_, [this](Packet p) {
        bytes_received_ += p.size();
        queue_in_order(std::move(p));
      });
    }
    if (ofo_fin_ && rcv_nxt_ == *ofo_fin_) {
      seg.tcp.flags |= kTcpFin;  // the FIN that came early is now in order
      ofo_fin_.reset();
    }
    ++segs_since_ack_;
    ack_received_data(filled_hole || seg.has(kTcpFin) || segs_since_ack_ >= 2);
    notify_readable();
    return;
  }
  // Out of order (the sequence check kept it within the window): queue it
  // and say at once what we have, so the sender sees the hole (RFC 5681 4.2).
  if (seg.has(kTcpFin)) ofo_fin_ = seg.seq() + len;
  const auto inserted = ofo_.insert(seg.seq(), std::move(seg.payload));
  if (inserted == OutOfOrderQueue::Insert::full) {
    counters().add(Counter::TcpExtTCPOFODrop);
  } else if (inserted == OutOfOrderQueue::Insert::queued) {
    counters().add(Counter::TcpExtTCPOFOQueue);
  }
  seg.tcp.flags &= static_cast<std::uint8_t>(~kTcpFin);
  ack_received_data(true);
}

void Connection::queue_in_order(Packet payload) {
  if (payload.empty()) return;
  recv_bytes_ += payload.size();
  // Tiny segments are merged into the previous one's spare room, so a
  // flood of them cannot pin a pool buffer each (Linux's TCPRcvCoalesce).
  if (!recv_queue_.empty() && payload.size() <= 256) {
    Packet& last = recv_queue_.back();
    if (!last.is_shared() && last.tailroom() >= payload.size()) {
      auto room = last.push_back(payload.size());
      net().host().packets().copy_bytes(room, payload.data());
      counters().add(Counter::TcpExtTCPRcvCoalesce);
      return;
    }
  }
  recv_queue_.push_back(std::move(payload));
}

// ---- step 8: FIN ----

void Connection::process_fin() {
  // Only a FIN in order gets here (one beyond a hole waits in ofo_fin_).
  if (fin_received_) return;
  fin_received_ = true;
  rcv_nxt_ += 1;
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
  if (err.type == wire::IcmpType::dest_unreachable && err.code == 4) {
    // Fragmentation needed (RFC 1191), as tcp_v4_mtu_reduced: the namespace
    // remembers the path MTU (never below route.min_pmtu), and segments
    // too large for it are resent smaller.
    tn_.ops.stack().update_pmtu(net(), remote().address, err.info);
    const std::uint32_t mss = effective_mss_for_route(peer_mss_);
    if (mss < mss_) {
      mss_ = mss;
      cc_->set_mss(mss_);
      path_mtu_shrank();
    }
    return;
  }
  if (state_ == State::syn_sent && ipv4::is_hard_error(err)) finish(err.error());
  // Otherwise a soft error: retransmissions go on (Linux keeps it in sk_err_soft).
}

}  // namespace netns::tcp
