// ipv4/tcp/receive_buffer.hpp — the receiving half of a connection: the
// data it holds, in order and out of order, the buffer that bounds it, the
// window offered to the peer, and D-SACK reports (Linux's sk_receive_queue,
// out_of_order_queue, sk_rcvbuf and sk_rmem_alloc, and the tcp_sock's rcv_wnd,
// rcv_wup, rcv_ssthresh, window_clamp, scaling_ratio, rcvq_space,
// rcv_rtt_est and duplicate_sack).
//
// The model is Linux 6.8's (net/ipv4/tcp_input.c, tcp_output.c):
// - Every packet held is charged its truesize against one receive buffer
//   (tcp_rmem[1] at first). The window offered is the free space scaled by
//   scaling_ratio, the payload/truesize ratio measured on arriving segments
//   (50% until the first is measured), further bounded by rcv_ssthresh
//   (grown per segment, tcp_grow_window) and window_clamp; it never shrinks.
//   A peer that fills it with segments like those measured fits the buffer.
// - A segment is taken while the buffer is not over (tcp_try_rmem_schedule):
//   the last of a window, often shorter than the rest, pins as much as a
//   full one and may take the buffer one segment over. Over it, room is made
//   by collapsing what is held into dense packets, then, for data arriving
//   below out-of-order segments, by dropping those from the top (reneging);
//   only then is the segment dropped (tcp_prune_queue, tcp_prune_ofo_queue).
//   A segment that fits the spare room of the one before it is coalesced
//   into it and pins nothing more (tcp_try_coalesce).
// - Autotuning (tcp_rcv_space_adjust, net.ipv4.tcp_moderate_rcvbuf) grows the
//   buffer up to tcp_rmem[2] to what the measured RTT times the reading rate
//   needs, the RTT measured in microseconds from timestamp echoes: in
//   process, where the RTT is a few microseconds, it stays at tcp_rmem[1]
//   (see adjust_space()).
//
//   ReceiveBuffer rb(net);
//   syn.window = rb.select_initial_window(advmss, /*window_scaling=*/true);
//   rb.start(rcv_nxt);  rb.established(advmss, now);
//   rb.queue_in_order(rcv_nxt, std::move(payload), arrival);   // or queue_out_of_order
//   ack.window = rb.select_window(rcv_nxt);
//   ack.sack_block_count = rb.sack_blocks(ack.sack_blocks, sack_ok);
//   std::size_t n = rb.read(user_buffer, now);
//
// Sequence numbers passed in must lie within the window offered (the
// caller's acceptability check guarantees it).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>

#include "ipv4/tcp/defaults.hpp"
#include "ipv4/tcp/memory.hpp"
#include "ipv4/tcp/ofo_queue.hpp"
#include "ipv4/tcp/seq.hpp"
#include "netns/clock.hpp"
#include "netns/net.hpp"

namespace netns::tcp {

// What tcp_select_initial_window offers in a SYN or SYN-ACK.
struct InitialWindow {
  std::uint32_t window = 0;   // unscaled, as a SYN carries it
  std::uint32_t clamp = 0;    // the largest window representable with `wscale`
  std::uint8_t wscale = 0;    // our shift when window scaling is on: from tcp_rmem[2]
};
// For segments of `mss` bytes (ours less the timestamps option when the SYN
// we answer carries it), from tcp_rmem[1] as tcp_full_space sees it.
InitialWindow initial_window(Net& net, std::uint32_t mss, bool window_scaling);

class ReceiveBuffer {
 public:
  // What the caller knows about an arriving data segment.
  struct Arrival {
    Clock::time_point now;
    // The TSval the segment echoes, less our offset: our millisecond clock
    // (TcpOps::timestamp_now) when we sent it. None without timestamps.
    std::optional<std::uint32_t> echoed_ms;
    bool push = false;  // PSH, FIN or URG: maybe less than a full segment
  };

  // `memory`, when given, is the namespace's TCP account (net.ipv4.tcp_mem),
  // charged what the queues hold and outliving the buffer; without it only
  // the buffer and the namespace's packet_mem_max bound them.
  explicit ReceiveBuffer(Net& net, TcpMemory* memory = nullptr);
  ~ReceiveBuffer();
  ReceiveBuffer(const ReceiveBuffer&) = delete;
  ReceiveBuffer& operator=(const ReceiveBuffer&) = delete;

  // ---- the handshake ----
  // Our SYN's or SYN-ACK's window, and the scale we announce.
  std::uint16_t select_initial_window(std::uint32_t mss, bool window_scaling);
  // What our SYN or SYN-ACK offers, again when it is retransmitted.
  std::uint16_t syn_window() const { return static_cast<std::uint16_t>(std::min<std::uint32_t>(rcv_wnd_, 65535)); }
  // The peer does not scale: neither do we (RFC 7323 2.2).
  void disable_window_scaling();
  std::uint8_t rcv_wscale() const { return rcv_wscale_; }
  // The window offered in the handshake starts at rcv_nxt.
  void start(Seq rcv_nxt) {
    rcv_wup_ = rcv_nxt;
    acceptable_end_ = timed_end_ = window_end();
  }
  // ESTABLISHED (tcp_init_buffer_space): `advmss` is the MSS we announced.
  void established(std::uint32_t advmss, Clock::time_point now);

  // ---- data ----
  // In-order data at rcv_nxt, which moves past it and past what the
  // out-of-order queue then holds in order. False (counted TcpExtTCPRcvQDrop,
  // rcv_nxt unchanged) when no room could be made: the next window offered
  // is then 0, the one time it may shrink (Linux's ICSK_ACK_NOMEM).
  bool queue_in_order(Seq& rcv_nxt, Packet payload, const Arrival& arrival);
  // Data beyond rcv_nxt. False (counted TcpExtTCPOFODrop) when dropped for room.
  bool queue_out_of_order(Seq rcv_nxt, Seq seq, Packet payload, const Arrival& arrival);
  // Copies up to buffer.size() bytes in order to the user; autotunes.
  std::size_t read(std::span<std::byte> buffer, Clock::time_point now);
  std::size_t readable() const { return queued_bytes_; }
  bool has_out_of_order() const { return ofo_ && !ofo_->empty(); }
  // The peer's FIN came: nothing beyond it will be taken (tcp_fin purges
  // the out-of-order queue).
  void drop_out_of_order() {
    if (ofo_) ofo_->clear();
    sync_charge();
  }

  // SACK was negotiated: out-of-order data is reported, and duplicates.
  void set_sack_permitted(bool on) { sack_ok_ = on; }
  // Timestamps were negotiated: the RTT for autotuning comes from them.
  void set_timestamps(bool on) { timestamps_ = on; }

  // ---- D-SACK (RFC 2883) ----
  // A segment brought [left, right) a second time (Linux's tcp_dsack_set;
  // tcp_dsack_extend when `extend`): the next ACK reports it first.
  // `rcv_nxt` tells old data (TcpExtTCPDSACKOldSent) from out-of-order
  // (TcpExtTCPDSACKOfoSent).
  void note_duplicate(Seq left, Seq right, Seq rcv_nxt, bool extend = false);
  // A new data segment is being processed: a D-SACK not yet sent is
  // forgotten (tcp_data_queue clears rx_opt.dsack first).
  void forget_duplicate() { dsack_ = false; }
  // The SACK blocks for the next segment: a pending D-SACK first (then
  // forgotten, as Linux sends it once), then the out-of-order queue's.
  std::size_t sack_blocks(std::span<wire::TcpSackBlock> out);
  bool has_sack_blocks() const { return dsack_ || has_out_of_order(); }

  // A segment carrying our TSval `ms` (less our offset) leaves at `now`:
  // the first one of each TSval times the echoes of it.
  void note_tsval_sent(std::uint32_t ms, Clock::time_point now) {
    if (ms != sent_[0].ms || !sent_[0].known) note_new_tsval(ms, now);
  }

  // ---- the window ----
  // The window for an outgoing segment, scaled for the header; remembers it
  // (tcp_select_window). `timed`: the segment leaves at a time the stack
  // knows (during Host::poll); a user's read between polls sends its window
  // update at a now() that is the last poll's, and what that update lets the
  // peer send is not timed for autotuning (see measure_rtt()).
  std::uint16_t select_window(Seq rcv_nxt, bool timed = true);
  // The right edge of the window offered.
  Seq window_end() const { return rcv_wup_ + rcv_wnd_; }
  // The furthest right edge ever offered: data up to it is taken, though
  // the window may since have been rounded down below it.
  Seq acceptable_end() const { return acceptable_end_; }
  // What is left of the window offered (tcp_receive_window).
  std::uint32_t receive_window(Seq rcv_nxt) const {
    return seq_gt(window_end(), rcv_nxt) ? window_end() - rcv_nxt : 0;
  }
  // Whether a read just freed enough to tell the peer at once
  // (tcp_cleanup_rbuf): the window would at least double.
  bool window_update_due(Seq rcv_nxt) const;

  // ---- state, for tests and tcp::Info ----
  std::size_t rcvbuf() const { return rcvbuf_; }
  // sk_rmem_alloc: the truesize of everything held, charged to the
  // namespace too (net.core.packet_mem_max) when each call returns.
  std::size_t charged() const { return queue_charged_ + (ofo_ ? ofo_->charged() : 0); }
  std::uint32_t window_clamp() const { return window_clamp_; }
  std::uint32_t rcv_ssthresh() const { return rcv_ssthresh_; }
  std::uint32_t scaling_ratio() const { return scaling_ratio_; }  // of 256
  // The receiver's RTT estimate (rcv_rtt_est), zero until measured.
  Clock::duration rcv_rtt() const { return rtt_; }
  // The out-of-order queue, or null before the first out-of-order segment.
  const OutOfOrderQueue* out_of_order() const { return ofo_.get(); }

 private:
  static constexpr unsigned kRatioShift = 8;  // TCP_RMEM_TO_WIN_SCALE
  static constexpr std::uint32_t kDefaultRatio = 1u << (kRatioShift - 1);  // TCP_DEFAULT_SCALING_RATIO, 50%

  std::uint32_t win_from_space(std::size_t space) const {
    return static_cast<std::uint32_t>((std::uint64_t{space} * scaling_ratio_) >> kRatioShift);
  }
  std::size_t space_from_win(std::uint64_t win) const {
    return static_cast<std::size_t>((win << kRatioShift) / scaling_ratio_);
  }
  // tcp_space and tcp_full_space: windows the free and the whole buffer allow.
  std::uint32_t free_space() const { return win_from_space(rcvbuf_ > charged() ? rcvbuf_ - charged() : 0); }
  std::uint32_t full_space() const { return full_space_; }
  void set_rcvbuf_or_ratio(std::size_t rcvbuf, std::uint32_t ratio) {
    rcvbuf_ = rcvbuf;
    scaling_ratio_ = ratio;
    full_space_ = win_from_space(rcvbuf);
  }
  std::uint32_t choose_window(std::uint32_t space) const;  // __tcp_select_window

  // Whether a segment pinning `truesize` may be taken
  // (tcp_try_rmem_schedule), making room when the buffer is over or the
  // namespace would be (tcp_prune_queue): out-of-order data below `seq`,
  // where the segment goes, is spared.
  bool make_room(Seq seq, std::size_t truesize);
  // The buffer is not over and the namespace admits `truesize` more
  // (sk_rmem_schedule): its packet_mem_max and its tcp_mem.
  bool fits(std::size_t truesize) {
    sync_charge();
    return charged() <= rcvbuf_ && net_.resources().admits(truesize) && tcp_memory_admits(truesize);
  }
  bool tcp_memory_admits(std::size_t truesize) {
    return memory_ == nullptr || memory_->admits_receive(charged(), truesize);
  }
  bool under_pressure() const { return memory_ != nullptr && memory_->under_pressure(); }
  // Brings the namespace's charges to what is held now: the queues change
  // it in many places (collapse, prune, coalesce, drain), this is the one
  // that tells the namespace.
  void sync_charge() {
    const std::size_t now = charged();
    if (now >= net_charge_) {
      if (memory_ != nullptr) memory_->charge(now - net_charge_);
      net_charge_ += now - net_charge_;
    } else {
      if (memory_ != nullptr) memory_->uncharge(net_charge_ - now);
      net_charge_ -= net_charge_ - now;
    }
  }
  void collapse_in_order();              // tcp_collapse on the receive queue
  void enqueue(Packet payload);          // tcp_queue_rcv with tcp_try_coalesce
  bool coalescable(const Packet& payload) const {  // fits the spare room of the last
    if (queue_.empty()) return false;
    const Packet& last = queue_.back();
    return last.tailroom() >= payload.size() && !last.is_shared() && last.pool() != nullptr;
  }
  void append_to_last(const Packet& payload);

  // Per segment that arrived (tcp_event_data_recv, tcp_data_queue_ofo).
  void measure_segment(std::size_t len, std::size_t truesize, bool push);  // tcp_measure_rcv_mss
  void set_window_clamp(std::uint32_t clamp);                              // tcp_set_window_clamp
  void grow_window(std::size_t len, std::size_t truesize);                 // tcp_grow_window
  void measure_rtt(std::size_t len, const Arrival& arrival, Seq rcv_nxt);
  void take_rtt_sample(Clock::duration sample);
  // The start of our timestamp clock's millisecond `ms`, the latest not after `now`.
  static Clock::time_point tick_start(std::uint32_t ms, Clock::time_point now);
  void note_new_tsval(std::uint32_t ms, Clock::time_point now);
  // When the first segment carrying TSval `ms` left; for one older than
  // those remembered, the start of its millisecond (earlier still).
  Clock::time_point first_sent(std::uint32_t ms, Clock::time_point now) const;
  void adjust_space(Clock::time_point now);                // tcp_rcv_space_adjust

  // Grouped by size: a connection's size costs (see ofo_).
  Net& net_;
  TcpMemory* memory_;
  PacketCharge net_charge_;  // charged(), as the namespace (and memory_) last heard it
  std::deque<Packet> queue_;
  // Made at the first out-of-order segment: most connections never see
  // one, and a TIME_WAIT connection keeps everything.
  std::unique_ptr<OutOfOrderQueue> ofo_;
  std::size_t queued_bytes_ = 0;
  std::size_t queue_charged_ = 0;
  std::size_t rcvbuf_;  // sk_rcvbuf

  // Autotuning (DRS): what was read by when, and the receiver's RTT.
  std::uint64_t copied_ = 0;        // bytes read, ever (copied_seq)
  std::uint64_t space_copied_ = 0;  // rcvq_space.seq
  Clock::time_point space_time_{};  // rcvq_space.time
  Clock::duration rtt_{};           // rcv_rtt_est: the path's, 0 until measured
  Clock::time_point rtt_start_{};   // window-based measure without timestamps, if rtt_started_
  // Our last TSvals (less the offset), most recent first, and when the
  // first segment carrying each left.
  struct SentTsval {
    Clock::time_point at{};
    std::uint32_t ms = 0;
    bool known = false;
  };
  std::array<SentTsval, 4> sent_{};

  std::uint32_t scaling_ratio_ = kDefaultRatio;
  std::uint32_t full_space_ = 0;  // win_from_space(rcvbuf_)
  std::uint32_t window_clamp_ = 0;
  std::uint32_t rcv_ssthresh_ = 0;
  std::uint32_t rcv_wnd_ = 0;
  Seq rcv_wup_ = 0;
  Seq acceptable_end_ = 0;
  Seq timed_end_ = 0;  // the furthest right edge offered by a timed segment
  std::uint32_t advmss_ = kDefaultMss;
  std::uint32_t rcv_mss_ = kDefaultMss;  // icsk_ack.rcv_mss: the peer's segments, as seen
  std::uint32_t last_seg_size_ = 0;
  Seq dsack_left_ = 0, dsack_right_ = 0;
  std::uint32_t space_ = 0;  // rcvq_space.space
  Seq rtt_seq_ = 0;
  std::optional<std::uint32_t> rtt_last_echo_;  // the last TSval echoed (ms)

  std::uint8_t rcv_wscale_ = 0;
  std::uint8_t rtt_ticks_ = 0;  // distinct TSvals echoed, up to kRttSettleTicks
  bool sack_ok_ = false;
  bool timestamps_ = false;
  bool nomem_ = false;  // data was refused for room: offer a zero window
  bool dsack_ = false;
  bool rtt_started_ = false;
};

}  // namespace netns::tcp
