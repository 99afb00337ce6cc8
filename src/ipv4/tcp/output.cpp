// What a connection sends: segments loss detection marked lost (Linux's
// tcp_xmit_retransmit_queue), then new data as the windows, Nagle and
// loss recovery allow (tcp_write_xmit); SYNs, ACKs, RSTs and probes. Every segment leaves through
// transmit(), which builds it from the send buffer and hands it to IPv4, or
// transmit6() to IPv6 (where every segment goes with DF's meaning: IPv6
// routers never fragment, and TCP does not at the source).
#include <algorithm>

#include "ipv4/tcp/connection.hpp"

namespace netns::tcp {

using wire::kTcpAck;
using wire::kTcpFin;
using wire::kTcpPsh;
using wire::kTcpRst;
using wire::kTcpSyn;

namespace {

bool sends_data(State state) {
  switch (state) {
    case State::established:
    case State::close_wait:
    case State::fin_wait_1:
    case State::closing:
    case State::last_ack:
      return true;
    default:
      return false;
  }
}

}  // namespace

// ---- windows ----

std::uint32_t Connection::unsent_bytes() const {
  if (fin_acked_) return 0;
  const Seq end = data_end();
  return seq_gt(end, snd_nxt_) ? end - snd_nxt_ : 0;
}

bool Connection::fin_to_send() const {
  return fin_queued_ && !fin_acked_ && snd_nxt_ == data_end();
}

bool Connection::sends_data_now() const { return sends_data(state_); }

std::uint32_t Connection::in_flight() const {
  std::uint32_t flight = rtx_.in_flight();
  if (!sack_ok_) {
    const std::uint32_t dup = reno_sacked_ * mss_;  // each duplicate ACK: a segment delivered
    flight = flight > dup ? flight - dup : 0;
  }
  return flight;
}

// ---- sending ----

void Connection::push_output() {
  if (!sends_data(state_)) return;
  const bool was_empty = rtx_.empty();
  bool sent_new = false;
  // Many ACKs handled in one round of the Host's poll each open the window
  // a little; together they must not fill the device's queue before it
  // drains (Linux's TCP small queues serve the same end). Past kMaxBurst
  // segments in a round the rest waits for the next, after the backlogs.
  const std::uint64_t round = net().host().poll_round();
  if (round != burst_round_) {
    burst_round_ = round;
    burst_sent_ = 0;
  }
  for (;; ++burst_sent_) {
    if (burst_sent_ >= kMaxBurst) {
      if (!continue_timer_.pending()) continue_timer_.schedule(now());
      break;
    }
    if (rtx_.lost() != 0 && retransmit_lost()) continue;
    if (!send_new_data()) break;
    sent_new = true;
  }
  if (sent_new) {
    // tcp_event_new_data_sent and the end of tcp_write_xmit: a loss probe
    // watches the tail, else the RTO runs from the first segment out.
    if (!schedule_loss_probe(false) &&
        (was_empty || (rtx_timer_.pending() && rtx_kind_ == RtxTimer::loss_probe))) {
      rearm_rto();
    }
  } else if (!rtx_.empty() && !rtx_timer_.pending()) {
    rearm_rto();
  }
  if (rtx_.empty() && unsent_bytes() != 0 && snd_wnd_ == 0 && !rtx_timer_.pending()) {
    arm_rtx_timer(RtxTimer::persist, rtt_.rto());  // probe the zero window
  }
}

bool Connection::send_new_data() {
  const std::uint32_t unsent = unsent_bytes();
  if (unsent == 0) {
    if (!fin_to_send()) return false;
    transmit(snd_nxt_, 0, kTcpFin | kTcpAck);
    return true;
  }
  // Linux's tcp_cwnd_test counts segments: a full one may go while the
  // flight is below cwnd.
  if (in_flight() >= cc_->cwnd()) return false;
  const Seq window_end = snd_una_ + snd_wnd_;
  const std::uint32_t by_rwnd = seq_gt(window_end, snd_nxt_) ? window_end - snd_nxt_ : 0;
  const std::uint32_t len = std::min({mss_, unsent, by_rwnd});
  if (len == 0) return false;
  if (len < mss_) {
    if (len < unsent) {
      // Sender-side silly window avoidance (RFC 9293 3.8.6.2.1): a segment
      // cut short by the window waits for the ACKs in flight, unless it is
      // half the largest window the peer has offered.
      if (!rtx_.empty() && len < max_snd_wnd_ / 2) return false;
    } else if (!nodelay_ && !fin_queued_ && seq_gt(snd_sml_, snd_una_) && seq_le(snd_sml_, snd_nxt_)) {
      // Nagle (RFC 896) with Minshall's refinement, as Linux: a small
      // segment waits only while an earlier small one is unacknowledged.
      return false;
    }
  }
  std::uint8_t flags = kTcpAck;
  if (len == unsent) {
    flags |= kTcpPsh;
    if (fin_queued_) flags |= kTcpFin;
  }
  if (ca_state_ == CaState::recovery || ca_state_ == CaState::cwr) prr_out_ += len;
  transmit(snd_nxt_, len, flags);
  return true;
}

bool Connection::retransmit_lost() {
  // tcp_xmit_retransmit_queue: lost segments not yet resent, in order, as
  // long as the flight is below cwnd.
  if (rtx_.lost() == 0) return false;
  for (std::size_t i = 0; i < rtx_.size(); ++i) {
    const SentSegment& s = rtx_[i];
    if (!s.has(SentSegment::kLost) || s.has(SentSegment::kRetrans)) continue;
    if (in_flight() >= cc_->cwnd()) return false;
    counters().add(ca_state_ == CaState::loss ? Counter::TcpExtTCPSlowStartRetrans
                                              : Counter::TcpExtTCPFastRetrans);
    const bool head = i == 0;
    retransmit(i);
    // The head resent: the RTO runs from now (unless RACK's timer waits).
    if (head && !(rtx_timer_.pending() && rtx_kind_ == RtxTimer::reorder)) {
      arm_rtx_timer(RtxTimer::retransmit, rtt_.rto());
    }
    return true;
  }
  return false;
}

bool Connection::retransmit(std::size_t index) {
  if (rtx_[index].data_len() > mss_) rtx_.split(index, rtx_[index].start + mss_);  // the MSS shrank
  const SentSegment& s = rtx_[index];
  // The flags it first had: PSH on the last data, FIN on the last segment.
  std::uint8_t flags = kTcpAck;
  if (s.has(SentSegment::kFin)) flags |= kTcpFin;
  if (s.data_len() != 0 && s.start + s.data_len() == data_end()) flags |= kTcpPsh;
  if (ca_state_ == CaState::recovery || ca_state_ == CaState::cwr) prr_out_ += s.len();
  transmit(s.start, s.data_len(), flags);
  rtx_.note_retransmit(index, now(), delivered_);
  // tcp_retransmit_skb: the episode's first retransmission and the count
  // D-SACKs must match before undo.
  if (!retrans_stamp_) retrans_stamp_ = tn_.ops.timestamp_now();
  undo_retrans_ = std::max<std::int64_t>(undo_retrans_, 0) + 1;
  ++total_retrans_;
  return true;
}

void Connection::transmit(Seq seq, std::uint32_t len, std::uint8_t flags) {
  if (remote().address.is_v6()) [[unlikely]] {
    transmit6(seq, len, flags);
    return;
  }
  Net& n = net();
  auto route = tn_.ops.stack().route_output(n, remote().address.to_v4(), route_memo_);
  wire::TcpRepr repr = header(seq, flags, route ? route->dev : nullptr);
  repr.payload_len = len;
  const wire::Ecn ecn = ecn_mark(repr, len);
  Packet packet = n.host().packets().allocate(repr.buffer_len());
  // The segment counts as sent even when it cannot leave (no route:
  // IpOutNoRoutes, whatever failed, as ip_queue_xmit; no buffer: the
  // pool's count): the retransmission timer sends it again, and the send
  // loop moves on.
  note_sent(seq, len, flags);
  if (!route) {
    n.counters().add(Counter::IpOutNoRoutes);
    return;
  }
  if (!packet) return;
  fill_segment(repr, packet, seq, len, *route->dev);
  // A connection numbers its own datagrams. Linux sends a passive open's
  // SYN-ACKs from the request (ip_build_and_send_pkt): under DF, their ID
  // is 0, as TIME_WAIT's answers (time_wait.cpp, from no socket).
  ipv4::SendParams params{.src = local().address.to_v4(), .dst = remote().address.to_v4(),
                          .protocol = wire::IpProtocol::tcp, .tos = static_cast<std::uint8_t>(ecn),
                          .dont_fragment = !pmtu_locked_};
  const bool request = state_ == State::syn_received && parent_ != nullptr;
  if (!request) params.ip_id = ip_id_++;
  (void)tn_.ops.stack().send(n, std::move(packet), params, *route);
}

void Connection::fill_segment(const wire::TcpRepr& repr, Packet& packet, Seq seq, std::uint32_t len,
                              const Device& dev) {
  auto bytes = packet.mutable_data();
  if (len != 0) send_buf_.copy_out(seq - snd_una_, bytes.subspan(repr.header_len(), len));
  // A device that fills checksums (a veth) gets the segment without one
  // (Packet::finish_transport_checksum fills it where one cannot).
  if (dev.offloads_checksum()) {
    repr.emit_without_checksum(bytes);
    packet.checksum_partial = true;
  } else if (local().address.is_v4()) {
    repr.emit(bytes, local().address.to_v4(), remote().address.to_v4());
  } else {
    emit6(repr, bytes, local().address.to_v6(), remote().address.to_v6());
  }
  counters().add(Counter::TcpOutSegs);
}

TcpOps::RouteMemo6& Connection::route_memo6() {
  if (!route_memo6_) route_memo6_ = std::make_unique<TcpOps::RouteMemo6>();
  return *route_memo6_;
}

void Connection::transmit6(Seq seq, std::uint32_t len, std::uint8_t flags) {
  Net& n = net();
  const Ipv6Address src = local().address.to_v6(), dst = remote().address.to_v6();
  auto route = tn_.ops.route_output6(n, dst, route_memo6());
  wire::TcpRepr repr = header(seq, flags, route ? route->dev : nullptr);
  repr.payload_len = len;
  const wire::Ecn ecn = ecn_mark(repr, len);
  Packet packet = n.host().packets().allocate(repr.buffer_len());
  note_sent(seq, len, flags);  // as transmit(): counted as sent even when it cannot leave
  if (!route) {
    ipv6::Ipv6Stack::no_route(n, route.error());
    return;
  }
  if (!packet) return;
  fill_segment(repr, packet, seq, len, *route->dev);
  (void)tn_.ops.stack6().send(n, std::move(packet),
                              {.src = src.with_scope(0), .dst = dst, .next_header = wire::IpProtocol::tcp,
                               .traffic_class = static_cast<std::uint8_t>(ecn), .dont_fragment = true},
                              *route);
}

void Connection::note_sent(Seq seq, std::uint32_t len, std::uint8_t flags) {
  const bool control_only = len == 0 && (flags & (kTcpSyn | kTcpFin)) == 0;
  const Seq end = seq + len + ((flags & (kTcpSyn | kTcpFin)) != 0 ? 1 : 0);
  if (!control_only) {
    if (seq_lt(seq, snd_max_)) {
      counters().add(Counter::TcpRetransSegs);
      ++retransmits_;
    } else if ((flags & kTcpSyn) == 0) {
      if (len != 0) counters().add(Counter::TcpExtTCPOrigDataSent);
      rtx_.push(seq, end, (flags & kTcpFin) != 0, now(), delivered_);
    }
    if (seq == snd_nxt_) snd_nxt_ = end;  // retransmissions leave snd_nxt alone
    if (len != 0 && len < mss_) snd_sml_ = seq + len;
    snd_max_ = seq_max(snd_max_, end);
  }
  if ((flags & kTcpAck) != 0) {
    last_ack_sent_ = rcv_nxt_;
    segs_since_ack_ = 0;
    ack_pending_ = false;
    if (delack_timer_.pending()) delack_timer_.cancel();
  }
}

wire::TcpRepr Connection::header(Seq seq, std::uint8_t flags, const Device* dev) {
  wire::TcpRepr repr{.src_port = local().port, .dst_port = remote().port, .seq_number = seq,
                     .flags = flags};
  if ((flags & kTcpAck) != 0) repr.ack_number = rcv_nxt_;
  if ((flags & kTcpSyn) != 0) {
    // The window of a SYN is never scaled (RFC 7323 2.2).
    repr.window = rcv_.syn_window();
    repr.mss = dev != nullptr ? advertised_mss(*dev, remote().address.family()) : kDefaultMss;
    if (ws_ok_) repr.window_scale = rcv_.rcv_wscale();
    repr.sack_permitted = sack_ok_;
  } else if ((flags & kTcpRst) == 0) {
    repr.window = rcv_.select_window(rcv_nxt_, net().host().polling());
  }
  if (ts_ok_) {
    const std::uint32_t ms = tn_.ops.timestamp_now();
    repr.timestamps = wire::TcpTimestamps{ms + ts_offset_, (flags & kTcpAck) != 0 ? ts_recent_ : 0};
    rcv_.note_tsval_sent(ms, now());
  }
  // A pending D-SACK first, then what the out-of-order queue holds.
  if (sack_ok_ && (flags & (kTcpSyn | kTcpRst)) == 0 && rcv_.has_sack_blocks()) {
    repr.sack_block_count = rcv_.sack_blocks(repr.sack_blocks);
  }
  return repr;
}

void Connection::send_syn() {
  const std::uint8_t flags = state_ == State::syn_sent ? kTcpSyn : kTcpSyn | kTcpAck;
  if (retries_ == 0) syn_sent_at_ = now();
  snd_nxt_ = iss_;
  transmit(iss_, 0, flags);
  arm_rtx_timer(RtxTimer::retransmit, rtt_.rto());
}

void Connection::send_ack() { transmit(snd_nxt_, 0, kTcpAck); }

void Connection::flush_ack() {
  if (ack_pending_) send_ack();
}

void Connection::send_reset() {
  counters().add(Counter::TcpOutRsts);
  transmit(snd_nxt_, 0, kTcpRst | kTcpAck);
}

void Connection::send_probe() {
  // An old sequence number with no data: the peer must answer with an ACK
  // carrying its window (Linux's tcp_xmit_probe_skb).
  transmit(snd_una_ - 1, 0, kTcpAck);
}

void Connection::ack_received_data(bool immediately) {
  if (immediately || segs_since_ack_ >= 2) {
    ack_pending_ = true;
    return;
  }
  if (!delack_timer_.pending()) {
    const auto delay = std::chrono::milliseconds(net().sysctl().value(SysctlId::tcp_delack_min_ms));
    delack_timer_.schedule(now() + delay);
  }
}

}  // namespace netns::tcp
