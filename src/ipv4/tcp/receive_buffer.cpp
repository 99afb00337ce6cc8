// The receive buffer and the window it offers, after Linux 6.8's
// tcp_input.c (tcp_data_queue, tcp_data_queue_ofo, tcp_prune_queue,
// tcp_grow_window, tcp_rcv_space_adjust...) and tcp_output.c
// (tcp_select_initial_window, __tcp_select_window, tcp_select_window).
#include "ipv4/tcp/receive_buffer.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#include "netns/host.hpp"
#include "netns/packet_pool.hpp"

namespace netns::tcp {

namespace {

constexpr std::uint32_t kMinRcvbufWindow = 1152;    // SOCK_MIN_RCVBUF / 2
// defaults.hpp's and the wire's constants, in the width this file computes in.
constexpr std::uint32_t kDefaultRcvMss = kDefaultMss;
constexpr std::uint32_t kTimestampsLen = wire::kTcpOptLenTimestampsAligned;
constexpr std::size_t kGrowMinLen = 128;            // tcp_event_data_recv grows for skb->len >= 128
// Distinct echoed TSvals (milliseconds of our clock) before autotuning
// trusts the estimate.
constexpr std::uint32_t kRttSettleTicks = 8;

std::size_t rmem(Net& net, std::size_t index) {
  return static_cast<std::size_t>(net.sysctl().value(SysctlId::tcp_rmem, index));
}

// `unit` is a power of two: a scale unit, 1 << wscale.
std::uint32_t align_up(std::uint32_t v, std::uint32_t unit) { return (v + unit - 1) & ~(unit - 1); }
std::uint32_t align_down(std::uint32_t v, std::uint32_t unit) { return v & ~(unit - 1); }

}  // namespace

InitialWindow initial_window(Net& net, std::uint32_t mss, bool window_scaling) {
  // tcp_full_space of a fresh socket: tcp_rmem[1] at the default 50% ratio.
  std::uint32_t space = static_cast<std::uint32_t>(rmem(net, 1) / 2);
  std::uint32_t clamp = 65535u << kMaxWscale;
  space = std::min(space, clamp);
  // A whole number of segments (tcp_select_initial_window).
  if (space > mss) space = space / mss * mss;
  InitialWindow out{.window = std::min<std::uint32_t>(space, 65535)};
  if (window_scaling) {
    // The shift that tcp_rmem[2] will need, so autotuning can use it all.
    const std::uint32_t max_space = std::min<std::uint32_t>(
        std::max<std::uint32_t>(space, static_cast<std::uint32_t>(std::min<std::size_t>(rmem(net, 2), clamp))),
        clamp);
    const int log = std::bit_width(max_space) - 1;
    out.wscale = static_cast<std::uint8_t>(std::clamp(log - 15, 0, static_cast<int>(kMaxWscale)));
  }
  out.clamp = std::min(65535u << out.wscale, clamp);
  return out;
}

ReceiveBuffer::ReceiveBuffer(Net& net, TcpMemory* memory)
    : net_(net), memory_(memory), net_charge_(net.resources()), rcvbuf_(rmem(net, 1)) {
  full_space_ = win_from_space(rcvbuf_);
  if (memory_ != nullptr) memory_->add_socket();
}

ReceiveBuffer::~ReceiveBuffer() {
  if (memory_ == nullptr) return;
  memory_->uncharge(net_charge_);
  memory_->remove_socket();
}

// ---- the handshake ----

std::uint16_t ReceiveBuffer::select_initial_window(std::uint32_t mss, bool window_scaling) {
  const InitialWindow w = initial_window(net_, mss, window_scaling);
  rcv_wnd_ = w.window;
  rcv_ssthresh_ = w.window;
  window_clamp_ = w.clamp;
  rcv_wscale_ = w.wscale;
  acceptable_end_ = window_end();
  return static_cast<std::uint16_t>(w.window);
}

void ReceiveBuffer::disable_window_scaling() {
  rcv_wscale_ = 0;
  window_clamp_ = std::min<std::uint32_t>(window_clamp_, 65535);
}

void ReceiveBuffer::established(std::uint32_t advmss, Clock::time_point now) {
  // tcp_initialize_rcv_mss: an underestimate of the peer's segments, which
  // the first full-sized one corrects.
  advmss_ = advmss;
  rcv_mss_ = std::max(kMinMss, std::min({advmss, rcv_wnd_ / 2, std::uint32_t{kDefaultRcvMss}}));
  // tcp_init_buffer_space: at most the whole buffer's window, less one
  // segment kept back for the application (tcp_app_win).
  const std::uint32_t maxwin = full_space();
  if (window_clamp_ >= maxwin) window_clamp_ = maxwin;
  if (window_clamp_ > 2 * advmss && window_clamp_ + advmss > maxwin) {
    window_clamp_ = std::max(2 * advmss, maxwin - advmss);
  }
  rcv_ssthresh_ = std::min(rcv_ssthresh_, window_clamp_);
  space_ = std::min({rcv_ssthresh_, rcv_wnd_, kInitCwnd * advmss});
  space_copied_ = copied_;
  space_time_ = now;
}

// ---- data ----

bool ReceiveBuffer::queue_in_order(Seq& rcv_nxt, Packet payload, const Arrival& arrival) {
  const std::size_t len = payload.size();
  const std::size_t truesize = payload.truesize();
  // With nothing queued in order the segment is always taken, so data can
  // always move (tcp_data_queue's sk_forced_mem_schedule); one that will be
  // coalesced into the last pins nothing more.
  const bool coalesce = coalescable(payload);
  if (!coalesce && !queue_.empty() && !make_room(rcv_nxt, truesize)) {
    net_.counters().add(Counter::TcpExtTCPRcvQDrop);
    nomem_ = true;
    return false;
  }
  rcv_nxt += static_cast<Seq>(len);
  if (coalesce) {
    append_to_last(payload);
  } else {
    queued_bytes_ += len;
    queue_charged_ += truesize;
    queue_.push_back(std::move(payload));
  }
  // tcp_event_data_recv; a segment of the size already seen, echoing what
  // the last one did, inside the window being timed, measures nothing new.
  if (len != rcv_mss_ || last_seg_size_ != 0) measure_segment(len, truesize, arrival.push);
  if (arrival.echoed_ms != rtt_last_echo_ || !timestamps_) measure_rtt(len, arrival, rcv_nxt);
  if (len >= kGrowMinLen && rcv_ssthresh_ < window_clamp_) grow_window(len, truesize);
  if (has_out_of_order()) {
    rcv_nxt = ofo_->drain(
        rcv_nxt, [this](Packet p) { enqueue(std::move(p)); },
        [this, rcv_nxt](Seq left, Seq right) { note_duplicate(left, right, rcv_nxt, true); });
  }
  sync_charge();
  return true;
}

bool ReceiveBuffer::queue_out_of_order(Seq rcv_nxt, Seq seq, Packet payload, const Arrival&) {
  const std::size_t len = payload.size();
  const std::size_t truesize = payload.truesize();
  if (!make_room(seq, truesize)) {
    net_.counters().add(Counter::TcpExtTCPOFODrop);
    return false;
  }
  Counters& counters = net_.counters();
  counters.add(Counter::TcpExtTCPOFOQueue);
  if (!ofo_) ofo_ = std::make_unique<OutOfOrderQueue>();
  const OutOfOrderQueue::Inserted r = ofo_->insert(seq, std::move(payload));
  if (r.has_duplicate()) note_duplicate(r.dup_left, r.dup_right, rcv_nxt);
  counters.add(Counter::TcpExtTCPOFOMerge, r.replaced + (r.result == OutOfOrderQueue::Insert::duplicate ? 1 : 0));
  if (r.result == OutOfOrderQueue::Insert::coalesced) counters.add(Counter::TcpExtTCPRcvCoalesce);
  // Without SACK the window stays put, so the sender sees duplicate ACKs
  // and retransmits (tcp_data_queue_ofo).
  if (sack_ok_ && r.result != OutOfOrderQueue::Insert::duplicate) grow_window(len, truesize);
  sync_charge();
  return true;
}

void ReceiveBuffer::enqueue(Packet payload) {
  if (payload.empty()) return;
  if (coalescable(payload)) {
    append_to_last(payload);
    return;
  }
  queued_bytes_ += payload.size();
  queue_charged_ += payload.truesize();
  queue_.push_back(std::move(payload));
}

void ReceiveBuffer::append_to_last(const Packet& payload) {
  // tcp_try_coalesce: a segment that fits the spare room of the last one
  // costs a copy instead of a whole buffer.
  Packet& last = queue_.back();
  last.pool()->copy_bytes(last.push_back(payload.size()), payload.data());
  queued_bytes_ += payload.size();
  net_.counters().add(Counter::TcpExtTCPRcvCoalesce);
}

std::size_t ReceiveBuffer::read(std::span<std::byte> buffer, Clock::time_point now) {
  std::size_t copied = 0;
  while (copied < buffer.size() && !queue_.empty()) {
    Packet& front = queue_.front();
    const std::size_t n = std::min(buffer.size() - copied, front.size());
    std::memcpy(buffer.data() + copied, front.data().data(), n);
    copied += n;
    if (n == front.size()) {
      queue_charged_ -= front.truesize();
      queue_.pop_front();
    } else {
      front.pull_front(n);
    }
  }
  queued_bytes_ -= copied;
  copied_ += copied;
  sync_charge();
  if (copied != 0) adjust_space(now);
  return copied;
}

// ---- room ----

bool ReceiveBuffer::make_room(Seq seq, std::size_t truesize) {
  // As tcp_try_rmem_schedule: while the buffer is not over, a segment is
  // taken. The window is honest for segments like those measured; the last
  // one of a window is often shorter and pins as much, so the buffer may
  // end up one segment over. The namespace's cap is hard: a namespace at
  // it makes room here as Linux does under tcp_mem's pressure.
  if (fits(truesize)) return true;
  Counters& counters = net_.counters();
  counters.add(Counter::TcpExtPruneCalled);
  // tcp_clamp_window: the buffer is full, so the window stops growing.
  // Linux also raises sk_rcvbuf to what is allocated (up to tcp_rmem[2]);
  // netns keeps the buffer's bound and makes room (issue 10: a receiver
  // takes no more than its buffer).
  rcv_ssthresh_ = std::min(window_clamp_, 2 * advmss_);
  // tcp_prune_queue: dense copies of what is held first, then out-of-order
  // data from the top, an eighth of the buffer at a time, sparing what lies
  // below the segment (nearer rcv_nxt, worth more; tcp_prune_ofo_queue).
  if (ofo_) counters.add(Counter::TcpExtTCPRcvCollapsed, ofo_->collapse(rcvbuf_ / 8));
  collapse_in_order();
  if (fits(truesize)) return true;
  bool pruned = false;
  while (ofo_ && !fits(truesize) && ofo_->prune_from_top(seq, rcvbuf_ / 8) != 0) pruned = true;
  if (pruned) counters.add(Counter::TcpExtOfoPruned);
  if (fits(truesize)) return true;
  counters.add(Counter::TcpExtRcvPruned);
  // The namespace refused (packet_mem_max), not the buffer or tcp_mem.
  if (charged() <= rcvbuf_ && !net_.resources().admits(truesize)) counters.add(Counter::IpExtPacketMemDrops);
  return false;
}

void ReceiveBuffer::collapse_in_order() {
  // The whole queue into dense packets, when that frees memory (tcp_collapse
  // of the receive queue). Linux collapses only packets less dense than its
  // window assumes, and otherwise raises sk_rcvbuf; netns keeps the bound,
  // so it packs whatever a full buffer holds.
  if (queue_.size() < 2 || queue_charged_ <= collapsed_truesize(queued_bytes_)) return;
  auto first = queue_.begin();
  std::vector<Packet> run;
  std::size_t old_truesize = 0;
  for (auto it = first; it != queue_.end(); ++it) {
    old_truesize += it->truesize();
    run.push_back(std::move(*it));
  }
  std::vector<Packet> dense = collapse_run(run);
  if (dense.empty()) {  // the pool refused: as it was
    auto it = first;
    for (Packet& p : run) *it++ = std::move(p);
    return;
  }
  net_.counters().add(Counter::TcpExtTCPRcvCollapsed, run.size());
  queue_.erase(first, queue_.end());
  queue_charged_ -= old_truesize;
  for (Packet& p : dense) {
    queue_charged_ += p.truesize();
    queue_.push_back(std::move(p));
  }
}

// ---- per segment ----

void ReceiveBuffer::measure_segment(std::size_t len, std::size_t truesize, bool push) {
  // tcp_measure_rcv_mss: the largest segment seen is the peer's MSS, and
  // the ratio of its payload to what it pins scales every window offered.
  const std::uint32_t last = std::exchange(last_seg_size_, 0);
  if (len >= rcv_mss_) {
    if (len != rcv_mss_) {
      const auto ratio = std::max<std::uint32_t>(
          static_cast<std::uint32_t>((std::uint64_t{len} << kRatioShift) / truesize), 1);
      if (ratio != scaling_ratio_) {
        set_rcvbuf_or_ratio(rcvbuf_, ratio);
        set_window_clamp(full_space());
        space_ = std::min(space_, window_clamp_);
      }
    }
    rcv_mss_ = std::min<std::uint32_t>(static_cast<std::uint32_t>(len), advmss_);
    return;
  }
  // A shorter segment may be the peer's real MSS: two in a row of the same
  // size, large enough or without PSH, say so.
  if (len >= kDefaultRcvMss - kTimestampsLen || (len >= kMinMss - kTimestampsLen && !push)) {
    last_seg_size_ = static_cast<std::uint32_t>(len);
    if (len == last) rcv_mss_ = static_cast<std::uint32_t>(len);
  }
}

void ReceiveBuffer::set_window_clamp(std::uint32_t clamp) {
  const std::uint32_t old = window_clamp_;
  window_clamp_ = std::max(clamp, kMinRcvbufWindow);
  if (window_clamp_ < old) {
    rcv_ssthresh_ = std::min(rcv_ssthresh_, window_clamp_);
  } else if (window_clamp_ > old) {
    rcv_ssthresh_ = std::max(std::min(rcv_wnd_, window_clamp_), rcv_ssthresh_);
  }
}

void ReceiveBuffer::grow_window(std::size_t len, std::size_t truesize) {
  // tcp_grow_window: rcv_ssthresh opens by two segments per segment whose
  // payload/truesize ratio is as good as the window assumes; a worse one
  // opens it only while the window is small enough to afford it.
  const std::uint32_t limit = std::min(window_clamp_, free_space());
  if (limit <= rcv_ssthresh_ || under_pressure()) return;
  std::uint32_t incr = 0;
  if (win_from_space(truesize) <= len) {
    incr = 2 * advmss_;
  } else {
    std::uint32_t t = win_from_space(truesize) >> 1;
    std::uint32_t window = win_from_space(rmem(net_, 2)) >> 1;
    for (; rcv_ssthresh_ <= window; t >>= 1, window >>= 1) {
      if (t <= len) {
        incr = 2 * rcv_mss_;
        break;
      }
    }
  }
  if (incr == 0) return;
  incr = std::max(incr, static_cast<std::uint32_t>(2 * len));
  rcv_ssthresh_ += std::min(limit - rcv_ssthresh_, incr);
}

void ReceiveBuffer::measure_rtt(std::size_t len, const Arrival& arrival, Seq rcv_nxt) {
  // With timestamps (tcp_rcv_rtt_measure_ts): once per TSval echoed, for a
  // full-sized segment, from when the first segment carrying that TSval
  // left. The echo may answer a later one, so each sample is at least the
  // round trip, and the smallest is the estimate. (Linux measures at its
  // 1 ms timestamp resolution; in process the RTT is microseconds.) A
  // segment beyond every window offered by a timed segment was let go by an
  // untimed one: the time it left is not known, and in process the sample
  // would be the user's loop, not a path.
  if (arrival.echoed_ms && arrival.echoed_ms != rtt_last_echo_ && len >= rcv_mss_ &&
      !seq_gt(rcv_nxt, timed_end_)) {
    rtt_last_echo_ = arrival.echoed_ms;
    if (rtt_ticks_ < kRttSettleTicks) ++rtt_ticks_;
    take_rtt_sample(arrival.now - first_sent(*arrival.echoed_ms, arrival.now));
  }
  // Without (tcp_rcv_rtt_measure): the time a whole window takes to come,
  // which includes the reader's pace (with timestamps Linux takes both).
  if (timestamps_) return;
  if (!rtt_started_ || !seq_lt(rcv_nxt, rtt_seq_)) {
    if (rtt_started_) take_rtt_sample(arrival.now - rtt_start_);
    rtt_seq_ = rcv_nxt + rcv_wnd_;
    rtt_start_ = arrival.now;
    rtt_started_ = true;
  }
}

void ReceiveBuffer::note_new_tsval(std::uint32_t ms, Clock::time_point now) {
  std::move_backward(sent_.begin(), sent_.end() - 1, sent_.end());
  sent_[0] = {now, ms, true};
}

Clock::time_point ReceiveBuffer::first_sent(std::uint32_t ms, Clock::time_point now) const {
  for (const SentTsval& sent : sent_) {
    if (sent.known && sent.ms == ms) return sent.at;
  }
  return tick_start(ms, now);
}

Clock::time_point ReceiveBuffer::tick_start(std::uint32_t ms, Clock::time_point now) {
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  const std::uint32_t age = static_cast<std::uint32_t>(now_ms.count()) - ms;
  // An echo of a TSval we never sent (ahead of our clock) counts as now.
  return age < (1u << 31) ? Clock::time_point(now_ms - std::chrono::milliseconds(age)) : now;
}

void ReceiveBuffer::take_rtt_sample(Clock::duration sample) {
  // Every sample is at least the round trip: the smallest is the estimate
  // (Linux keeps the smallest window-based sample too, tcp_rcv_rtt_update).
  sample = std::max<Clock::duration>(sample, std::chrono::microseconds(1));
  if (rtt_ == Clock::duration::zero() || sample < rtt_) rtt_ = sample;
}

void ReceiveBuffer::adjust_space(Clock::time_point now) {
  // tcp_rcv_space_adjust, once per RTT: a buffer for twice what one RTT
  // brings, more while that is growing (the sender in slow start).
  // With timestamps, only once their samples span a few ticks of our clock:
  // the first ones may all come long after their tick began.
  if (rtt_ == Clock::duration::zero() || (timestamps_ && rtt_ticks_ < kRttSettleTicks)) return;
  const Clock::duration time = now - space_time_;
  if (time < rtt_) return;
  std::uint64_t copied = copied_ - space_copied_;
  // Linux counts what was read since the last measure, taken about an RTT
  // ago. A reader polling less often than the RTT (in process the RTT is a
  // few microseconds, and the reader reads once per poll) would size the
  // buffer to its own interval; the path needs one RTT's worth.
  copied = static_cast<std::uint64_t>(static_cast<double>(copied) * (static_cast<double>(rtt_.count()) /
                                                                     static_cast<double>(time.count())));
  if (copied > space_ && space_ != 0) {
    if (net_.sysctl().value(SysctlId::tcp_moderate_rcvbuf) != 0) {
      std::uint64_t rcvwin = 2 * copied + 16 * std::uint64_t{advmss_};
      const std::uint64_t grow = rcvwin * (copied - space_) / space_;
      rcvwin += 2 * grow;
      const std::size_t rcvbuf = std::min<std::size_t>(space_from_win(rcvwin), rmem(net_, 2));
      if (rcvbuf > rcvbuf_) {
        set_rcvbuf_or_ratio(rcvbuf, scaling_ratio_);
        window_clamp_ = full_space();  // the clamp follows along
      }
    }
    space_ = static_cast<std::uint32_t>(std::min<std::uint64_t>(copied, UINT32_MAX));
  }
  space_copied_ = copied_;
  space_time_ = now;
}

// ---- D-SACK ----

void ReceiveBuffer::note_duplicate(Seq left, Seq right, Seq rcv_nxt, bool extend) {
  if (!sack_ok_ || !seq_lt(left, right) || net_.sysctl().value(SysctlId::tcp_dsack) == 0) return;
  if (extend && dsack_) {
    // tcp_sack_extend: only a range that overlaps or touches
    if (!seq_gt(left, dsack_right_) && !seq_gt(dsack_left_, right)) {
      dsack_left_ = seq_min(dsack_left_, left);
      dsack_right_ = seq_max(dsack_right_, right);
    }
    return;
  }
  net_.counters().add(seq_lt(left, rcv_nxt) ? Counter::TcpExtTCPDSACKOldSent : Counter::TcpExtTCPDSACKOfoSent);
  dsack_ = true;
  dsack_left_ = left;
  dsack_right_ = right;
}

std::size_t ReceiveBuffer::sack_blocks(std::span<wire::TcpSackBlock> out) {
  if (!sack_ok_ || out.empty()) return 0;
  std::size_t n = 0;
  if (dsack_) {
    out[n++] = {dsack_left_, dsack_right_};
    dsack_ = false;
  }
  return ofo_ ? n + ofo_->sack_blocks(out.subspan(n)) : n;
}

// ---- the window ----

std::uint32_t ReceiveBuffer::choose_window(std::uint32_t space) const {
  // __tcp_select_window; `space` is free_space(). All of these are below
  // 2^31 (windows are at most 2^30).
  const std::uint32_t allowed = full_space();
  const std::uint32_t full = std::min(window_clamp_, allowed);
  std::uint32_t mss = std::min(rcv_mss_, full);
  if (mss == 0) return 0;
  const std::uint32_t unit = std::uint32_t{1} << rcv_wscale_;
  std::uint32_t free = space;
  if (free < full / 2) {
    // Below half the buffer: no window growth by rounding, and a zero
    // window rather than one too small to be of use (receiver SWS, RFC 9293
    // 3.8.6.2.2), or so small the buffer would overflow before it closes.
    free = align_down(free, unit);
    if (free < (allowed >> 4) || free < mss) return 0;
  }
  free = std::min(free, rcv_ssthresh_);
  if (rcv_wscale_ != 0) {
    // A whole number of scale units; up only while the buffer backs it.
    const std::uint32_t window = align_up(free, unit);
    return window <= space || align_down(space, unit) == 0 ? window : align_down(space, unit);
  }
  // Unscaled: a whole number of segments, kept while within one of the free space.
  const auto f = static_cast<std::int64_t>(free);
  auto window = static_cast<std::int64_t>(rcv_wnd_);
  if (window <= f - mss || window > f) {
    window = f / mss * mss;
  } else if (mss == full && f > window + full / 2) {
    window = f;
  }
  return static_cast<std::uint32_t>(window);
}

std::uint16_t ReceiveBuffer::select_window(Seq rcv_nxt, bool timed) {
  // tcp_select_window: the right edge never moves back (RFC 7323 2.4).
  const std::uint32_t old = rcv_wnd_;
  Counters& counters = net_.counters();
  if (std::exchange(nomem_, false)) {
    rcv_wnd_ = 0;
    rcv_wup_ = rcv_nxt;
    acceptable_end_ = rcv_nxt;
    if (old != 0) counters.add(Counter::TcpExtTCPToZeroWindowAdv);
    return 0;
  }
  const std::uint32_t current = receive_window(rcv_nxt);
  const std::uint32_t space = free_space();
  // __tcp_select_window under memory pressure: a window past half full
  // shrinks towards four segments (tcp_adjust_rcv_ssthresh).
  if (space < full_space() / 2 && under_pressure()) rcv_ssthresh_ = std::min(rcv_ssthresh_, 4 * advmss_);
  std::uint32_t window = choose_window(space);
  if (window < current) {
    // Keep the right edge, to within the scale's granularity: Linux rounds
    // up, which can move the edge on by up to 2^wscale - 1 bytes at every
    // ACK of a reader that does not read, past what the buffer holds. Where
    // the buffer does not back that, round down: the edge retracts by less
    // than a unit (RFC 7323 2.4), and what the peer may already have sent
    // up to the old edge is still taken (acceptable_end()).
    if (window == 0) counters.add(Counter::TcpExtTCPWantZeroWindowAdv);
    const std::uint32_t unit = std::uint32_t{1} << rcv_wscale_;
    window = align_up(current, unit) <= space ? align_up(current, unit) : align_down(current, unit);
  }
  rcv_wnd_ = window;
  rcv_wup_ = rcv_nxt;
  if (seq_gt(window_end(), acceptable_end_)) acceptable_end_ = window_end();
  if (timed) {
    if (seq_gt(window_end(), timed_end_)) timed_end_ = window_end();
  } else if (seq_lt(timed_end_, rcv_nxt)) {
    timed_end_ = rcv_nxt;  // nothing beyond is timed; and it stays within 2^31 of rcv_nxt
  }
  const std::uint32_t scaled = std::min(window, 65535u << rcv_wscale_) >> rcv_wscale_;
  if (scaled == 0) {
    if (old != 0) counters.add(Counter::TcpExtTCPToZeroWindowAdv);
  } else if (old == 0) {
    counters.add(Counter::TcpExtTCPFromZeroWindowAdv);
  }
  return static_cast<std::uint16_t>(scaled);
}

bool ReceiveBuffer::window_update_due(Seq rcv_nxt) const {
  // tcp_cleanup_rbuf: worth an ACK of its own when the window offered now
  // would at least double what is left of the last one.
  const std::uint32_t now = receive_window(rcv_nxt);
  if (2 * std::uint64_t{now} > window_clamp_) return false;
  const std::uint32_t window = choose_window(free_space());
  return window != 0 && window >= 2 * std::uint64_t{now};
}

}  // namespace netns::tcp
