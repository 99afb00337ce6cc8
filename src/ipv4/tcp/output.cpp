// What a connection sends: new data as the windows, Nagle and loss
// recovery allow (Linux's tcp_write_xmit), retransmissions of SACK holes
// (RFC 6675), SYNs, ACKs, RSTs and probes. Every segment leaves through
// transmit(), which builds it from the send buffer and hands it to IPv4.
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

std::uint32_t Connection::in_flight() const { return snd_nxt_ - snd_una_; }

std::uint32_t Connection::pipe() const {
  // RFC 6675's pipe, with every hole below the highest SACKed byte taken
  // as lost: what was sent, minus what the peer holds, minus holes not yet
  // retransmitted.
  std::uint32_t outstanding = snd_max_ - snd_una_;
  const std::uint32_t sacked = sacks_.sacked_bytes();
  outstanding = outstanding > sacked ? outstanding - sacked : 0;
  if (!sacks_.empty()) {
    const std::uint32_t lost = sacks_.hole_bytes(seq_max(high_rxt_, snd_una_), loss_boundary());
    outstanding = outstanding > lost ? outstanding - lost : 0;
  }
  return outstanding;
}

Seq Connection::loss_boundary() const {
  // RFC 6675 IsLost: a hole is lost once DupThresh (3) segments' worth of
  // bytes above it are SACKed; a hole with less above it may be reordering.
  std::uint32_t above = 0;
  for (std::size_t i = sacks_.ranges(); i-- > 0;) {
    const auto [left, right] = sacks_.range(i);
    above += right - left;
    if (above >= 3 * mss_) return left;
  }
  return snd_una_;
}

std::uint32_t Connection::send_window_cwnd() const {
  return in_recovery_ && !sack_ok_ ? recovery_cwnd_ : cc_->cwnd();
}

std::uint32_t Connection::receive_space() const {
  const std::size_t used = recv_bytes_ + ofo_.bytes();
  return used < rcvbuf_ ? static_cast<std::uint32_t>(rcvbuf_ - used) : 0;
}

std::uint16_t Connection::advertised_window() {
  std::uint32_t space = receive_space();
  // Receiver-side silly window avoidance (RFC 9293 3.8.6.2.2).
  if (space < std::min<std::uint32_t>(rcvbuf_ / 2, mss_)) space = 0;
  Seq right = rcv_nxt_ + space;
  if (seq_lt(right, rcv_adv_)) right = rcv_adv_;  // never move the right edge back (RFC 7323 2.4)
  const std::uint32_t window = right - rcv_nxt_;
  const std::uint32_t unit = std::uint32_t{1} << rcv_wscale_;
  const std::uint32_t scaled = std::min<std::uint32_t>((window + unit - 1) >> rcv_wscale_, 65535);
  rcv_adv_ = seq_max(rcv_adv_, rcv_nxt_ + (scaled << rcv_wscale_));
  return static_cast<std::uint16_t>(scaled);
}

// ---- sending ----

void Connection::push_output() {
  if (!sends_data(state_)) return;
  const bool sack_recovery = in_recovery_ && sack_ok_;
  for (std::uint32_t burst = 0;; ++burst) {
    if (burst == kMaxBurst) {
      // A window that opened wide would otherwise land in the device's
      // backlog all at once and overflow it (Linux's TCP small queues
      // serve the same end): the rest goes once this poll has delivered
      // what is queued.
      if (!continue_timer_.pending()) continue_timer_.schedule(now());
      break;
    }
    if (sack_recovery) {
      if (pipe() >= cc_->cwnd()) break;
      if (retransmit_hole()) continue;
    }
    if (!send_new_data(sack_recovery)) break;
  }
  if (snd_max_ != snd_una_) {
    if (!rtx_timer_.pending()) arm_retransmit();
  } else if (unsent_bytes() != 0 && snd_wnd_ == 0 && !rtx_timer_.pending()) {
    arm_retransmit();  // the persist timer: probe the zero window
  }
}

bool Connection::send_new_data(bool in_sack_recovery) {
  skip_sacked();
  const std::uint32_t unsent = unsent_bytes();
  if (unsent == 0) {
    if (!fin_to_send()) return false;
    transmit(snd_nxt_, 0, kTcpFin | kTcpAck);
    return true;
  }
  const Seq window_end = snd_una_ + snd_wnd_;
  const std::uint32_t by_rwnd = seq_gt(window_end, snd_nxt_) ? window_end - snd_nxt_ : 0;
  const std::uint32_t cwnd = send_window_cwnd();
  const std::uint32_t used = in_sack_recovery ? pipe() : in_flight();
  const std::uint32_t by_cwnd = cwnd > used ? cwnd - used : 0;
  std::uint32_t sendable = unsent;
  if (seq_lt(snd_nxt_, snd_max_) && !sacks_.empty() && seq_lt(snd_nxt_, sacks_.highest_sacked())) {
    // Resending after a timeout: stop at the next range the peer holds.
    if (auto hole = sacks_.next_hole(snd_nxt_)) sendable = std::min(sendable, hole->second - snd_nxt_);
  }
  const std::uint32_t len = std::min({mss_, sendable, by_rwnd, by_cwnd});
  if (len == 0) return false;
  if (len < mss_) {
    if (len < sendable) {
      // Sender-side silly window avoidance (RFC 9293 3.8.6.2.1): a segment
      // cut short by a window waits for the ACKs in flight, unless it is
      // half the largest window the peer has offered.
      if (in_flight() != 0 && len < max_snd_wnd_ / 2) return false;
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
  transmit(snd_nxt_, len, flags);
  return true;
}

void Connection::skip_sacked() {
  // After a timeout snd_nxt goes back to snd_una; what the peer SACKed need
  // not go again (Linux keeps SACK marks through loss recovery too).
  if (sacks_.empty() || !seq_lt(snd_nxt_, snd_max_) || !sacks_.is_sacked(snd_nxt_)) return;
  const auto hole = sacks_.next_hole(snd_nxt_);
  snd_nxt_ = hole ? hole->first : seq_max(snd_nxt_, sacks_.highest_sacked());
}

bool Connection::retransmit_hole() {
  if (sacks_.empty()) return false;
  const auto hole = sacks_.next_hole(seq_max(high_rxt_, snd_una_));
  const Seq boundary = loss_boundary();
  if (!hole || !seq_lt(hole->first, boundary)) return false;
  const std::uint32_t len = std::min(mss_, seq_min(hole->second, boundary) - hole->first);
  transmit(hole->first, len, kTcpAck);
  high_rxt_ = hole->first + len;
  return true;
}

void Connection::retransmit_head() {
  // The first unacknowledged segment: data, or a lone FIN.
  const std::uint32_t sent_data =
      fin_acked_ ? 0 : std::min<std::uint32_t>(snd_max_ - snd_una_, send_buf_.size());
  const std::uint32_t len = std::min(mss_, sent_data);
  std::uint8_t flags = kTcpAck;
  if (fin_queued_ && !fin_acked_ && snd_una_ + len == data_end() && seq_gt(snd_max_, data_end())) {
    flags |= kTcpFin;
  }
  if (len == 0 && (flags & kTcpFin) == 0) return;
  transmit(snd_una_, len, flags);
}

void Connection::transmit(Seq seq, std::uint32_t len, std::uint8_t flags) {
  Net& n = net();
  auto route = tn_.ops.stack().route_output(n, remote().address, route_memo_);
  wire::TcpRepr repr = header(seq, flags, route ? route->dev : nullptr);
  repr.payload_len = len;
  Packet packet = n.host().packets().allocate(repr.buffer_len());
  // The segment counts as sent even when it cannot leave (no route, no
  // buffer: counted by the IPv4 layer or the pool): the retransmission
  // timer sends it again, and the send loop moves on.
  note_sent(seq, len, flags);
  if (!route || !packet) return;
  auto bytes = packet.mutable_data();
  if (len != 0) send_buf_.copy_out(seq - snd_una_, bytes.subspan(repr.header_len(), len));
  if (route->dev->offloads_checksum()) {
    repr.emit_without_checksum(bytes);
    packet.checksum_partial = true;
  } else {
    repr.emit(bytes, local().address, remote().address);
  }
  counters().add(Counter::TcpOutSegs);
  // A connection numbers its own datagrams. Linux sends a passive open's
  // SYN-ACKs from the request (ip_build_and_send_pkt) and TIME_WAIT's
  // answers from its control socket: under DF, their ID is 0.
  ipv4::SendParams params{.src = local().address, .dst = remote().address,
                          .protocol = wire::IpProtocol::tcp, .dont_fragment = true};
  const bool request = state_ == State::syn_received && parent_ != nullptr;
  if (!request && state_ != State::time_wait) params.ip_id = ip_id_++;
  (void)tn_.ops.stack().send(n, std::move(packet), params, *route);
}

void Connection::note_sent(Seq seq, std::uint32_t len, std::uint8_t flags) {
  const bool control_only = len == 0 && (flags & (kTcpSyn | kTcpFin)) == 0;
  const Seq end = seq + len + ((flags & (kTcpSyn | kTcpFin)) != 0 ? 1 : 0);
  if (!control_only) {
    if (seq_lt(seq, snd_max_)) {
      counters().add(Counter::TcpRetransSegs);
      ++retransmits_;
      if (rtt_timing_ && seq_le(seq, rtt_seq_)) rtt_timing_ = false;  // Karn's rule
    } else {
      if (len != 0) counters().add(Counter::TcpExtTCPOrigDataSent);
      if (!rtt_timing_) {
        rtt_timing_ = true;
        rtt_seq_ = seq;
        rtt_start_ = now();
      }
    }
    if (seq == snd_nxt_) snd_nxt_ = end;  // hole retransmissions leave snd_nxt alone
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
    repr.window = static_cast<std::uint16_t>(syn_window());
    rcv_adv_ = seq_max(rcv_adv_, rcv_nxt_ + repr.window);
    repr.mss = dev != nullptr ? advertised_mss(*dev) : kDefaultMss;
    if (ws_ok_) repr.window_scale = rcv_wscale_;
    repr.sack_permitted = sack_ok_;
  } else if ((flags & kTcpRst) == 0) {
    repr.window = advertised_window();
  }
  if (ts_ok_) {
    repr.timestamps = wire::TcpTimestamps{tn_.ops.timestamp_now() + ts_offset_,
                                          (flags & kTcpAck) != 0 ? ts_recent_ : 0};
  }
  if (sack_ok_ && !ofo_.empty() && (flags & kTcpSyn) == 0) {
    repr.sack_block_count = ofo_.sack_blocks(repr.sack_blocks);
  }
  return repr;
}

void Connection::send_syn() {
  const std::uint8_t flags = state_ == State::syn_sent ? kTcpSyn : kTcpSyn | kTcpAck;
  if (retries_ == 0) rtt_start_ = now();
  snd_nxt_ = iss_;
  transmit(iss_, 0, flags);
  rtt_timing_ = false;  // the handshake is timed by rtt_start_
  arm_retransmit();
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

void Connection::arm_retransmit() { rtx_timer_.schedule(now() + rtt_.rto()); }

}  // namespace netns::tcp
