// What an ACK tells the sender, in Linux's order (tcp_ack): the peer's
// window; its SACK and D-SACK blocks tagged on the retransmission queue;
// the cumulative ACK clearing it, with RTT samples and RACK's newest
// delivery; then, when the ACK is not a plain step forward, loss recovery
// (recovery.cpp); the retransmission or loss-probe timer; and the
// congestion window (PRR in recovery, the algorithm's growth otherwise).
#include <algorithm>
#include <array>
#include <utility>

#include "ipv4/tcp/connection.hpp"

namespace netns::tcp {

void Connection::process_new_ack(const Segment& seg, AckEvent& ev) {
  const Seq ack = seg.tcp.ack_number;
  ev.prior_snd_una = snd_una_;
  ev.prior_fack = rtx_.empty() ? snd_una_ : rtx_.highest_sacked();
  ev.prior_in_flight = in_flight();
  ev.prior_delivered = delivered_;
  ev.data = seg.len() != 0;
  ts_ecr_.reset();
  if (ts_ok_ && seg.tcp.timestamps && seg.tcp.timestamps->echo != 0) {
    ts_ecr_ = seg.tcp.timestamps->echo - ts_offset_;
  }
  if (seq_lt(ack, snd_una_)) {
    // An old ACK, reordered on the way: its SACK blocks may still be news.
    if (sack_ok_ && seg.tcp.sack_block_count != 0 && !rtx_.empty()) {
      process_sack(seg, ev);
      process_loss_state(ev);
    }
    return;
  }
  ev.window_update = update_window(seg);
  const bool had_outstanding = !rtx_.empty();
  if (sack_ok_ && seg.tcp.sack_block_count != 0) process_sack(seg, ev);
  if (seq_gt(ack, snd_una_)) clean_rtx_queue(ack, ev);
  if (!had_outstanding) {
    if (ev.dsack) process_loss_state(ev);  // a D-SACK may still undo a reduction
    if (tlp_high_seq_) process_tlp_ack(ev);
    return;
  }
  ev.ece = ecn_echo(seg);
  update_rtt(ev);
  if ((rack_.reo_wnd_steps != 1 || rack_.dsack_seen) && ev.sample_tx != 0) {
    rack_.update_reo_wnd(ev.sample_delivered, delivered_,
                         (net().sysctl().value(SysctlId::tcp_recovery) & kRecoveryStaticReoWnd) != 0);
  }
  if (tlp_high_seq_) process_tlp_ack(ev);
  if (ack_is_dubious(ev)) {
    if (!ev.una_advanced() && !ev.not_dup() && !ev.dsack) ev.dupacks = 1;
    process_loss_state(ev);
  }
  if (ev.set_xmit_timer) set_xmit_timer();
  congestion_on_ack(ev);
}

bool Connection::update_window(const Segment& seg) {
  const Seq ack = seg.tcp.ack_number;
  const std::uint32_t nwin = static_cast<std::uint32_t>(seg.tcp.window) << snd_wscale_;
  // Linux's tcp_may_update_window: also what makes an ACK "not a duplicate".
  const bool window_update = seq_gt(ack, snd_una_) || seq_gt(seg.seq(), snd_wl1_) ||
                             (seg.seq() == snd_wl1_ && (nwin > snd_wnd_ || nwin == 0));
  if (seq_lt(snd_wl1_, seg.seq()) || (snd_wl1_ == seg.seq() && seq_le(snd_wl2_, ack))) {
    const bool was_zero = snd_wnd_ == 0;
    snd_wnd_ = nwin;
    max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
    snd_wl1_ = seg.seq();
    snd_wl2_ = ack;
    if (was_zero && snd_wnd_ != 0 && rtx_kind_ == RtxTimer::persist) {
      retries_ = 0;  // the zero-window probes got their answer
      rtx_timer_.cancel();
    }
  }
  return window_update;
}

// ---- SACK (RFC 2018, RFC 2883) ----

void Connection::process_sack(const Segment& seg, AckEvent& ev) {
  const Seq ack = seg.tcp.ack_number;
  const bool dsack = check_dsack(seg, ev);
  // Too old an ACK to believe (Linux's check against max_window).
  if (seq_lt(ack, ev.prior_snd_una - max_snd_wnd_) || rtx_.empty()) return;
  const Seq una = seq_max(ack, snd_una_);
  // Valid blocks are tagged in sequence order, as Linux sorts them: a
  // segment is reordering evidence only below what earlier blocks SACKed.
  struct Block {
    Seq left, right;
    bool dup;
  };
  std::array<Block, wire::TcpRepr::kMaxSackBlocks> valid_blocks{};
  std::size_t count = 0;
  for (std::size_t i = 0; i < seg.tcp.sack_block_count; ++i) {
    const wire::TcpSackBlock block = seg.tcp.sack_blocks[i];
    const bool dup = i == 0 && dsack;
    // tcp_is_sackblock_valid: within what was sent; below snd_una only a
    // D-SACK, and only above undo_marker, where it can still undo.
    bool valid = !seq_gt(block.right, snd_max_) && seq_lt(block.left, block.right) &&
                 seq_lt(block.left, snd_max_);
    if (valid && !seq_gt(block.left, una)) {
      valid = dup && undo_marker_ && !seq_gt(block.right, una) &&
              seq_gt(block.right, *undo_marker_) &&
              (!seq_lt(block.left, *undo_marker_) || !seq_lt(block.left, block.right - max_snd_wnd_));
    }
    if (!valid) {
      if (dup) {
        counters().add(undo_marker_ ? Counter::TcpExtTCPDSACKIgnoredOld : Counter::TcpExtTCPDSACKIgnoredNoUndo);
      } else if (ack == snd_una_ || seq_gt(block.right, snd_una_)) {
        // Blocks made old by a newer cumulative ACK are ACK reordering, not discards.
        counters().add(Counter::TcpExtTCPSACKDiscard);
      }
      continue;
    }
    if (!seq_gt(block.right, ev.prior_snd_una)) continue;  // wholly acknowledged already
    valid_blocks[count++] = {seq_max(block.left, una), block.right, dup};
  }
  // At most four: an insertion sort (std::sort's makes GCC 12 warn of an
  // out-of-bounds read it cannot rule out for an array this small).
  for (std::size_t i = 1; i < count; ++i) {
    for (std::size_t j = i; j > 0 && seq_lt(valid_blocks[j].left, valid_blocks[j - 1].left); --j) {
      std::swap(valid_blocks[j], valid_blocks[j - 1]);
    }
  }
  for (std::size_t i = 0; i < count; ++i) tag_sack_block(valid_blocks[i].left, valid_blocks[i].right, valid_blocks[i].dup, ev);
  if (ev.has_reord && (ca_state_ != CaState::loss || undo_marker_)) check_reordering(ev.reord, false);
}

bool Connection::check_dsack(const Segment& seg, AckEvent& ev) {
  // RFC 2883: the first block reports a duplicate when it lies below the
  // cumulative ACK, or within the second block.
  const auto& blocks = seg.tcp.sack_blocks;
  const wire::TcpSackBlock first = blocks[0];
  if (seq_lt(first.left, seg.tcp.ack_number)) {
    counters().add(Counter::TcpExtTCPDSACKRecv);
  } else if (seg.tcp.sack_block_count > 1 && !seq_gt(first.right, blocks[1].right) &&
             !seq_lt(first.left, blocks[1].left)) {
    counters().add(Counter::TcpExtTCPDSACKOfoRecv);
  } else {
    return false;
  }
  // Linux's tcp_dsack_seen: an impossible block, or more duplicates
  // reported than we ever retransmitted, is dubious and ignored.
  std::uint32_t dup_segs = 0;
  if (seq_lt(first.left, first.right) && first.right - first.left <= max_snd_wnd_) {
    const std::uint32_t len = first.right - first.left;
    dup_segs = len > mss_ ? (len + mss_ - 1) / mss_ : 1;
    if (len <= mss_ && tlp_high_seq_ && *tlp_high_seq_ == first.right) ev.dsack_tlp = true;
    dsack_dups_ += dup_segs;
    if (dsack_dups_ > total_retrans_) dup_segs = 0;
  }
  if (dup_segs == 0) {
    counters().add(Counter::TcpExtTCPDSACKIgnoredDubious);
    return false;
  }
  counters().add(Counter::TcpExtTCPDSACKRecvSegs, dup_segs);
  // Reordering made a retransmission spurious: RACK waits longer next time.
  if (reord_seen_ != 0 && !ev.dsack_tlp) rack_.dsack_seen = true;
  ev.dsack = true;
  delivered_ += first.right - first.left;  // a spurious retransmission was delivered
  // A D-SACK for data already acknowledged: one retransmission fewer to
  // account for before the reduction can be undone.
  if (undo_marker_ && undo_retrans_ > 0 && !seq_gt(first.right, ev.prior_snd_una) &&
      seq_gt(first.right, *undo_marker_)) {
    undo_retrans_ = std::max<std::int64_t>(0, undo_retrans_ - dup_segs);
  }
  return true;
}

void Connection::tag_sack_block(Seq left, Seq right, bool dsack, AckEvent& ev) {
  const Clock::time_point t = now();
  for (std::size_t i = rtx_.find(left); i < rtx_.size(); ++i) {
    const SentSegment& s = rtx_[i];
    if (!seq_lt(s.start, right)) break;
    if (seq_lt(s.start, left) || seq_gt(s.end, right)) continue;  // only whole segments
    if (dsack && s.has(SentSegment::kEverRetrans)) {
      if (undo_marker_ && undo_retrans_ > 0 && seq_gt(s.end, *undo_marker_)) --undo_retrans_;
      if (s.has(SentSegment::kSacked) && (!ev.has_reord || seq_lt(s.start, ev.reord))) {
        ev.reord = s.start;  // the original arrived after all: reordering
        ev.has_reord = true;
      }
    }
    if (!s.has(SentSegment::kSacked)) {
      rack_.advance(s, t, min_rtt_.empty() ? Clock::duration::zero() : min_rtt_.get());
      if (!s.has(SentSegment::kEverRetrans)) {
        // A hole below the highest SACK filled by an original: reordering.
        if (seq_lt(s.start, rtx_.highest_sacked()) && (!ev.has_reord || seq_lt(s.start, ev.reord))) {
          ev.reord = s.start;
          ev.has_reord = true;
        }
        if (seq_le(s.end, high_seq_)) ev.orig_sack_acked = true;
        if (!ev.first_sackt) ev.first_sackt = s.sent;
        ev.last_sackt = s.sent;
      }
      ev.data_sacked = true;
      ev.newly_sacked += s.len();
      delivered_ += s.len();
      ev.note_delivery(s);
      rtx_.mark_sacked(i);
    }
    // The D-SACK says the retransmission arrived (as a duplicate): it no
    // longer flies.
    if (dsack && rtx_[i].has(SentSegment::kRetrans)) rtx_.clear_retrans(i);
  }
}

void Connection::check_reordering(Seq low_seq, bool from_timestamps) {
  const Seq fack = rtx_.empty() ? snd_una_ : rtx_.highest_sacked();
  if (!seq_lt(low_seq, fack)) return;
  const std::uint32_t metric = fack - low_seq;
  if (metric > reordering_ * mss_) {
    const auto max = static_cast<std::uint32_t>(net().sysctl().value(SysctlId::tcp_max_reordering));
    reordering_ = std::min((metric + mss_ - 1) / mss_, max);
  }
  ++reord_seen_;
  counters().add(from_timestamps ? Counter::TcpExtTCPTSReorder : Counter::TcpExtTCPSACKReorder);
}

// ---- the cumulative ACK ----

void Connection::clean_rtx_queue(Seq ack, AckEvent& ev) {
  const Clock::time_point t = now();
  const Clock::duration min_rtt = min_rtt_.empty() ? Clock::duration::zero() : min_rtt_.get();
  ev.acked = ack - snd_una_;
  bytes_acked_ += ev.acked;
  // RACK needs only the newest delivery, and its RTT from the last one
  // (calling Rack::advance for each segment gives the same).
  const SentSegment* newest = nullptr;
  SentSegment newest_copy, last;
  rtx_.acknowledge(ack, [&](const SentSegment& s) {
    ++ev.acked_segments;
    const bool sacked = s.has(SentSegment::kSacked);
    if (s.has(SentSegment::kEverRetrans)) {
      ev.retrans_data_acked = true;
    } else if (!sacked) {
      if (!ev.first_ackt) {
        ev.first_ackt = s.sent;
        ev.reord = s.start;  // the lowest: the queue is in sequence order
        ev.has_reord = true;
      }
      ev.last_ackt = s.sent;
      if (seq_le(s.end, high_seq_)) ev.orig_sack_acked = true;
    }
    if (!sack_ok_ || sacked) return;
    delivered_ += s.len();  // without SACK, remove_reno_sacks counts
    ev.note_delivery(s);
    // A retransmission the timestamps show was not needed says nothing new.
    if (s.has(SentSegment::kEverRetrans) && ts_ecr_ && seq_lt(*ts_ecr_, TcpOps::timestamp_at(s.sent))) return;
    if (newest == nullptr || s.tx > newest_copy.tx) newest_copy = s;
    newest = &newest_copy;
    last = s;
  });
  if (newest != nullptr) {
    rack_.advance(newest_copy, t, min_rtt);
    if (last.tx != newest_copy.tx) rack_.advance(last, t, min_rtt);
  }
  // The FIN takes one sequence number but no buffer byte.
  std::uint32_t data = ev.acked;
  if (fin_queued_ && !fin_acked_ && seq_gt(ack, data_end())) {
    fin_acked_ = true;
    --data;
    bytes_acked_ -= 1;
  }
  send_buf_.consume(std::min<std::size_t>(data, send_buf_.size()));
  snd_una_ = ack;
  retries_ = 0;
  ev.set_xmit_timer = true;
  if (!sack_ok_) {
    remove_reno_sacks(ev.acked_segments);
    if (ev.retrans_data_acked) ev.orig_sack_acked = false;  // cannot tell which copy arrived
  } else if (ev.has_reord && seq_lt(ev.reord, ev.prior_fack)) {
    check_reordering(ev.reord, false);  // a hole filled by an original: reordering
  }
  if (send_buf_.free_space() != 0 && (state_ == State::established || state_ == State::close_wait)) {
    notify_writable();
  }
}

void Connection::update_rtt(const AckEvent& ev) {
  // Linux's tcp_ack_update_rtt: from the oldest segment this ACK
  // acknowledged that was never retransmitted (Karn), else the oldest
  // newly SACKed one, else the echoed timestamp of an ACK that moved
  // snd_una (RFC 7323 RTTM).
  const Clock::time_point t = now();
  std::optional<Clock::duration> seq_rtt, ca_rtt;
  if (ev.first_ackt && !ev.retrans_data_acked) {
    seq_rtt = t - *ev.first_ackt;
    ca_rtt = t - *ev.last_ackt;
  }
  if (ev.first_sackt) {
    if (!seq_rtt) seq_rtt = t - *ev.first_sackt;
    ca_rtt = t - *ev.last_sackt;
  }
  if (!seq_rtt && ts_ecr_ && ev.una_advanced()) {
    // The timestamp clock ticks in ms: an echo of this very tick means
    // less than one, taken as one (tcp_rtt_tsopt_us), not as nothing.
    const std::uint32_t ms = tn_.ops.timestamp_now() - *ts_ecr_;
    if (ms < 0x7fffffff) seq_rtt = ca_rtt = std::chrono::milliseconds(std::max<std::uint32_t>(ms, 1));
  }
  // A segment answered within the poll that sent it measured nothing: the
  // Host's clock stands still during a poll (and a virtual clock between
  // steps), so zero is not a round trip. It must not become the minimum
  // RTT, which sizes RACK's reordering window and HyStart++'s rounds.
  const bool measured = ca_rtt && *ca_rtt > Clock::duration::zero();
  // HyStart++ watches each round's least RTT while in slow start.
  if (cc_->in_slow_start() && ev.una_advanced() && ca_state_ == CaState::open &&
      cc_->on_round_sample(snd_una_, snd_nxt_, measured ? ca_rtt : std::nullopt)) {
    counters().add(Counter::TcpExtTCPHystartDelayDetect);
    counters().add(Counter::TcpExtTCPHystartDelayCwnd, cc_->cwnd() / mss_);
  }
  if (!seq_rtt) return;
  if (measured) {
    const auto window = std::chrono::seconds(net().sysctl().value(SysctlId::tcp_min_rtt_wlen));
    min_rtt_.update(window, t, *ca_rtt);
  }
  rtt_.sample(*seq_rtt);
  rtt_.reset_backoff();
}

// ---- the congestion window ----

bool Connection::cwnd_limited(std::uint32_t prior_in_flight) const {
  // The window grows only when it was filled (RFC 7661). Linux lets slow
  // start grow it to twice the flight; here that doubled the send buffer
  // (two windows, tcp_sndbuf_expand) of a receiver-limited sender, and the
  // data waiting in it went cold in the cache (bench/README.md).
  return prior_in_flight + mss_ >= cc_->cwnd();
}

void Connection::congestion_on_ack(const AckEvent& ev) {
  const auto newly_delivered = static_cast<std::uint32_t>(delivered_ - ev.prior_delivered);
  if (ca_state_ == CaState::recovery || ca_state_ == CaState::cwr) {
    cwnd_reduction(ev);
    return;
  }
  // RFC 5681: grow on in-order delivery; with much reordering seen, on any.
  if (!ev.acked_data() &&
      (newly_delivered == 0 ||
       reordering_ <= static_cast<std::uint32_t>(net().sysctl().value(SysctlId::tcp_reordering)))) {
    return;
  }
  cc_->on_ack(newly_delivered, now(), rtt_.srtt(), cwnd_limited(ev.prior_in_flight));
  grow_send_buffer();
}

}  // namespace netns::tcp
