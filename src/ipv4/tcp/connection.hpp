// One TCP connection: the transmission control block of RFC 9293 with its
// timers, buffers and loss recovery.
//
//   connection.cpp  life cycle, the user's calls (read, write, close...)
//   input.cpp       SEGMENT ARRIVES (RFC 9293 3.10.7): acceptability, RST,
//                   SYN, ACK, data, FIN
//   ack.cpp         what an ACK tells the sender: SACK and D-SACK tags, the
//                   cumulative ACK, RTT, then recovery and the window
//   recovery.cpp    loss detection (RACK, NewReno), recovery and loss
//                   states, PRR, undo (Linux's tcp_fastretrans_alert)
//   output.cpp      what to send now (tcp_write_xmit), retransmissions, ACKs
//   timers.cpp      RTO, loss probe, reordering, delayed ACK, zero-window
//                   probe, keepalive, an orphan's FIN_WAIT_2
//   ecn.cpp         ECN (RFC 3168): negotiation, ECT on new data, CE echoed
//                   with ECE until CWR, the sender's reduction on ECE
//
// A connection lives in its namespace's TcpNet::connections from its first
// segment until it closes or enters TIME_WAIT, where a small record
// (time_wait.hpp) replaces it; a Stream shares ownership while the user
// holds it. It never outlives its TcpNet: the namespace's exit destroys
// them all, and the destructors cancel their timers.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>

#include "ipv4/tcp/congestion.hpp"
#include "ipv4/tcp/rack.hpp"
#include "ipv4/tcp/receive_buffer.hpp"
#include "ipv4/tcp/rtt.hpp"
#include "ipv4/tcp/rtx_queue.hpp"
#include "ipv4/tcp/send_buffer.hpp"
#include "ipv4/tcp/tcp_net.hpp"
#include "netns/timer.hpp"

namespace netns::tcp {

class Connection final : public ipv4::InetSocket, public std::enable_shared_from_this<Connection> {
 public:
  // Of `family`: the family of its segments (an IPv4 connection of an
  // IPv6 socket is ipv4, and mapped).
  explicit Connection(TcpNet& tn, Family family = Family::ipv4);
  ~Connection() override;

  // Active open: binds (ephemeral port when local.port is 0), routes, sends the SYN.
  Result<void> open_active(Endpoint local, Endpoint remote);
  // Passive open from a SYN to `listener`: SYN_RECEIVED, SYN-ACK sent.
  void open_passive(ListenSocket& listener, const Segment& syn, const FourTuple& tuple);
  // From a valid SYN cookie: ESTABLISHED at once with what the cookie kept.
  void open_from_cookie(ListenSocket& listener, const Segment& ack, const FourTuple& tuple,
                        std::uint16_t mss);

  // SEGMENT ARRIVES for this connection's four-tuple.
  void process(Segment& seg);
  // An ICMP error about a segment we sent.
  void process_icmp_error(const ipv4::IcmpError& error, Seq seq);
  // An ICMPv6 error about a segment we sent (tcp_v6_err).
  void process_icmp6_error(const ipv6::IcmpError& error, Seq seq);

  // The user's calls (tcp.hpp's Stream).
  Result<std::size_t> read(std::span<std::byte> buffer);
  Result<std::size_t> write(std::span<const std::byte> data);
  Result<void> shutdown();
  void close();   // the user lets go: the connection may go on as an orphan
  void abort();   // RST now
  void set_nodelay(bool enabled);
  void set_keepalive(bool enabled);
  void set_writable_callback(std::function<void()> cb) { writable_ = std::move(cb); }
  void set_user_ref(NetRef ref) { user_ref_ = std::move(ref); }
  void set_parent(ListenSocket* parent) { parent_ = parent; }
  // The TIME_WAIT record that replaced this connection, which a Stream
  // still holds, has ended: closed now.
  void time_wait_over();

  State state() const { return state_; }
  Info info() const;
  std::size_t readable_bytes() const { return rcv_.readable(); }
  std::size_t writable_bytes() const;
  std::size_t send_queue_bytes() const { return send_buf_.size(); }
  bool orphaned() const { return user_closed_; }
  Net& net() const { return tn_.net; }
  FourTuple tuple() const { return {local(), remote()}; }
  // The endpoints as the user sees them: an IPv4 connection of an IPv6
  // socket (a dual-stack listener's child, a connect to ::ffff:a.b.c.d)
  // shows ::ffff:a.b.c.d; inside, and on the wire, it is IPv4.
  Endpoint user_local() const { return mapped_ ? map_endpoint(local()) : local(); }
  Endpoint user_remote() const { return mapped_ ? map_endpoint(remote()) : remote(); }
  void set_mapped(bool mapped) { mapped_ = mapped; }
  static Endpoint map_endpoint(Endpoint e) { return {Ipv6Address::v4_mapped(e.address.to_v4()), e.port}; }

 private:
  friend class ListenSocket;
  friend class TcpOps;

  // net.ipv4.tcp_recovery's bits (Linux's TCP_RACK_*).
  static constexpr std::int32_t kRecoveryRack = 1;          // RACK loss detection
  static constexpr std::int32_t kRecoveryStaticReoWnd = 2;  // D-SACKs do not widen the window
  static constexpr std::int32_t kRecoveryNoDupthresh = 4;   // no fast start at dupthresh SACKs

  // Linux's congestion-avoidance states (icsk_ca_state): open; disorder
  // (SACKs or duplicate ACKs seen, nothing lost yet); cwr (a window
  // reduction without loss: a loss probe repaired a tail); recovery (fast
  // recovery after a detected loss); loss (after a retransmission timeout).
  enum class CaState : std::uint8_t { open, disorder, cwr, recovery, loss };

  // What one ACK told the sender: Linux's FLAG_* bits and rate sample.
  struct AckEvent {
    Seq prior_snd_una = 0;
    Seq prior_fack = 0;              // highest SACKed before this ACK
    std::uint32_t prior_in_flight = 0;
    std::uint64_t prior_delivered = 0;
    // The delivered count when the newest segment this ACK delivered left
    // (Linux's rate sample prior_delivered); 0 when it delivered none.
    std::uint64_t sample_delivered = 0;
    std::uint64_t sample_tx = 0;
    std::uint32_t acked = 0;         // sequence space cumulatively acknowledged now
    std::uint32_t acked_segments = 0;
    std::uint32_t newly_sacked = 0;
    std::uint32_t newly_lost = 0;
    std::uint32_t dupacks = 0;       // 1: a duplicate ACK (RFC 5681)
    bool data = false;               // the segment carried data
    bool window_update = false;
    bool data_sacked = false;        // FLAG_DATA_SACKED
    bool dsack = false;              // FLAG_DSACKING_ACK
    bool dsack_tlp = false;          // the D-SACK is for the loss probe
    bool retrans_data_acked = false; // FLAG_RETRANS_DATA_ACKED
    bool orig_sack_acked = false;    // never-retransmitted data below high_seq delivered
    bool lost_retrans = false;       // a retransmission was found lost
    bool set_xmit_timer = false;     // FLAG_SET_XMIT_TIMER
    bool sack_reneging = false;      // the head was SACKed yet not acknowledged
    bool ece = false;                // FLAG_ECE: the receiver saw congestion (RFC 3168)
    Seq reord = 0;                   // lowest never-retransmitted delivered seq (reordering)
    bool has_reord = false;
    std::optional<Clock::time_point> first_ackt, last_ackt, first_sackt, last_sackt;

    bool una_advanced() const { return acked != 0; }
    void note_delivery(const SentSegment& s) {
      if (s.tx > sample_tx) {
        sample_tx = s.tx;
        sample_delivered = s.delivered;
      }
    }
    bool acked_data() const { return acked != 0; }
    bool not_dup() const { return data || window_update || acked != 0; }
  };

  // ---- life cycle (connection.cpp) ----
  void attach_child(ListenSocket& listener, const FourTuple& tuple);
  void init_options_from_syn(const Segment& syn);
  void set_state(State next);
  void enter_established();
  void enter_time_wait();  // tcp_time_wait: a TIME_WAIT record replaces the connection
  void leave_time_wait();  // the user lets go of a connection that record replaced
  // The connection is over: leaves the tables and the user sees `error`.
  void finish(boost::system::error_code error);
  void reset_and_finish(boost::system::error_code error);  // sends an RST first
  void notify_readable_and_writable();
  void notify_writable();
  Endpoint local_for_parent() const;
  std::uint32_t effective_mss_for_route(std::uint32_t peer_mss);
  std::uint16_t route_mss_now();  // the MSS the path MTU allows now (updates pmtu_locked_)
  void sample_handshake_rtt();    // the SYN (or SYN-ACK) was answered, never resent
  Counters& counters() const { return tn_.net.counters(); }
  Clock::time_point now() const { return tn_.net.host().now(); }

  // ---- input (input.cpp) ----
  void process_syn_sent(Segment& seg);
  bool check_sequence(Segment& seg);     // acceptability (RFC 9293 step 1) with PAWS
  bool paws_reject(const Segment& seg) const;  // tcp_paws_discard
  bool paws_check(std::uint32_t tsval, std::int32_t window) const;  // tcp_paws_check
  bool disordered_ack(const Segment& seg) const;
  void replace_ts_recent(const Segment& seg, Seq seq);  // tcp_replace_ts_recent
  // ACKs a segment refused as old or out of the window, with a D-SACK for
  // data we had (tcp_send_dupack); rate limited for pure ACKs.
  void send_dupack(const Segment& seg, Counter skipped);
  ReceiveBuffer::Arrival arrival(const Segment& seg) const;
  bool process_rst(const Segment& seg);  // step 2; true when the segment is consumed
  bool process_ack(Segment& seg);        // step 5; false: drop the segment
  bool update_window(const Segment& seg);  // true: Linux's tcp_may_update_window
  void process_data(Segment& seg);       // step 7
  void process_fin();                    // step 8
  void send_challenge_ack();
  // One invalid-segment ACK per tcp_invalid_ratelimit; `skipped` counts the others.
  bool out_of_window_rate_limited(const Segment& seg, Counter skipped);
  bool invalid_rate_limited(Counter skipped);

  // ---- what an ACK tells the sender (ack.cpp) ----
  void process_new_ack(const Segment& seg, AckEvent& ev);  // tcp_ack
  void process_sack(const Segment& seg, AckEvent& ev);     // tcp_sacktag_write_queue
  bool check_dsack(const Segment& seg, AckEvent& ev);      // is the first block a D-SACK?
  void tag_sack_block(Seq left, Seq right, bool dsack, AckEvent& ev);
  void clean_rtx_queue(Seq ack, AckEvent& ev);             // the cumulative ACK
  void update_rtt(const AckEvent& ev);
  void check_reordering(Seq low_seq, bool from_timestamps);  // tcp_check_sack_reordering
  void congestion_on_ack(const AckEvent& ev);              // PRR, or the algorithm's growth
  bool cwnd_limited(std::uint32_t prior_in_flight) const;

  // ---- loss recovery (recovery.cpp): Linux's tcp_fastretrans_alert ----
  // Not a plain step forward: Linux's tcp_ack_is_dubious.
  bool ack_is_dubious(const AckEvent& ev) const {
    return !ev.not_dup() || ev.data_sacked || ev.dsack || ev.ece || ca_state_ != CaState::open;
  }
  void process_loss_state(AckEvent& ev);
  void process_ack_in_loss(AckEvent& ev);
  void detect_losses(AckEvent& ev);  // RACK, or NewReno without SACK
  void mark_head_lost();
  std::chrono::microseconds reo_wnd() const;  // RACK's reordering window now
  void enter_recovery(bool ece_ack);
  void enter_loss();                 // the retransmission timer fired
  void init_cwnd_reduction();
  void cwnd_reduction(const AckEvent& ev);  // PRR (RFC 6937)
  void end_cwnd_reduction();
  void init_undo();
  bool may_undo() const;
  bool packet_delayed() const;       // the ACK echoes a time before our first retransmission
  void undo_cwnd_reduction(bool unmark_loss);
  bool try_undo_recovery();
  bool try_undo_dsack();
  bool try_undo_partial(Seq prior_snd_una);
  bool try_undo_loss();
  void try_to_open(bool ece = false);
  void try_keep_open();
  bool any_retrans_done() const;
  bool non_sack_preventing_reopen();
  void process_tlp_ack(const AckEvent& ev);
  void add_reno_sack(std::uint32_t dupacks);
  void remove_reno_sacks(std::uint32_t acked_segments);
  void limit_reno_sacked();

  // ---- output (output.cpp) ----
  static constexpr std::uint32_t kMaxBurst = 128;  // segments sent in one round of the Host's poll
  // Sends what the windows, Nagle and recovery allow now: lost segments
  // first (tcp_xmit_retransmit_queue), then new data (tcp_write_xmit).
  void push_output();
  bool send_new_data();
  bool retransmit_lost();                 // the first lost segment not yet resent
  bool retransmit(std::size_t index);     // record `index` of rtx_, at most one mss
  void transmit(Seq seq, std::uint32_t len, std::uint8_t flags);
  void transmit6(Seq seq, std::uint32_t len, std::uint8_t flags);  // transmit() of an IPv6 connection
  // Both families' segment bytes: the data from the send buffer, then the
  // header, its checksum left to `dev` when it fills them. Counts TcpOutSegs.
  void fill_segment(const wire::TcpRepr& repr, Packet& packet, Seq seq, std::uint32_t len, const Device& dev);
  TcpOps::RouteMemo6& route_memo6();
  void note_sent(Seq seq, std::uint32_t len, std::uint8_t flags);  // sequence and ACK bookkeeping
  void flush_ack();  // sends the ACK that ack_received_data asked for, unless data carried it
  void send_syn();
  void send_ack();
  void send_reset();
  void send_probe();  // seq snd_una - 1: zero-window probe, keepalive
  void ack_received_data(bool immediately);
  // Advertising a window remembers it (ReceiveBuffer::select_window) and a
  // pending D-SACK is sent; `dev` (the route's, or null) sizes a SYN's MSS.
  wire::TcpRepr header(Seq seq, std::uint8_t flags, const Device* dev);
  void grow_send_buffer();
  // What the network holds (RFC 6675's pipe, Linux's tcp_packets_in_flight),
  // with duplicate ACKs counted as delivered segments when there is no SACK.
  std::uint32_t in_flight() const;
  std::uint32_t unsent_bytes() const;
  // One past the last byte written: where the FIN goes. Valid until the FIN is acknowledged.
  Seq data_end() const { return snd_una_ + static_cast<std::uint32_t>(send_buf_.size()); }
  bool fin_to_send() const;
  bool sends_data_now() const;  // a state in which data and FIN may leave
  void path_mtu_shrank();  // tcp_simple_retransmit
  void mtu_reduced();      // tcp_v4/v6_mtu_reduced: the MSS follows a lower path MTU

  // ---- ECN, RFC 3168 as Linux's tcp_ecn_* (ecn.cpp) ----
  // Linux's tp->ecn_flags.
  static constexpr std::uint8_t kEcnOk = 1;         // negotiated (or asked for, until the SYN-ACK)
  static constexpr std::uint8_t kEcnQueueCwr = 2;   // the next new data carries CWR
  static constexpr std::uint8_t kEcnDemandCwr = 4;  // CE seen: ECE on every segment until CWR
  static constexpr std::uint8_t kEcnSeen = 8;       // the peer's data came ECT or CE
  // Whether this namespace agrees to ECN for a SYN (tcp_ecn_create_request).
  static bool ecn_requested(Net& net, const Segment& syn);
  void ecn_start_active();                      // tcp_ecn_send_syn's choice, by net.ipv4.tcp_ecn
  void ecn_start_passive(const Segment& syn);   // the request's choice (tcp_ecn_openreq_child)
  void ecn_process_synack(const Segment& seg);  // tcp_ecn_rcv_synack
  void ecn_process_syn(const Segment& seg);     // tcp_ecn_rcv_syn: simultaneous open
  // The ECN flags of a segment about to leave, set in `repr`, and the ECN
  // field of its datagram (tcp_ecn_send, tcp_ecn_send_syn, tcp_ecn_make_synack).
  wire::Ecn ecn_mark(wire::TcpRepr& repr, std::uint32_t len) {
    return ecn_flags_ == 0 ? wire::Ecn::not_ect : ecn_mark_slow(repr, len);
  }
  wire::Ecn ecn_mark_slow(wire::TcpRepr& repr, std::uint32_t len);
  // Data arrived (tcp_ecn_check_ce), or a CWR (tcp_ecn_accept_cwr): true
  // when it must be acknowledged at once.
  bool ecn_check_ce(const Segment& seg);
  bool ecn_accept_cwr(const Segment& seg);
  // The peer saw congestion (tcp_ecn_rcv_ecn_echo).
  bool ecn_echo(const Segment& seg) const {
    return (ecn_flags_ & kEcnOk) != 0 && seg.has(wire::kTcpEce) && !seg.has(wire::kTcpSyn);
  }
  void ecn_queue_cwr() {
    if ((ecn_flags_ & kEcnOk) != 0) ecn_flags_ |= kEcnQueueCwr;
  }
  void enter_cwr();  // tcp_enter_cwr: reduce once for ECE

  // ---- timers (timers.cpp) ----
  // One timer serves four purposes, as Linux's icsk_retransmit_timer.
  enum class RtxTimer : std::uint8_t { retransmit, persist, loss_probe, reorder };
  void arm_rtx_timer(RtxTimer kind, Clock::duration after);
  void rearm_rto();                       // tcp_rearm_rto
  bool schedule_loss_probe(bool advancing_rto);
  void set_xmit_timer();                  // a loss probe if allowed, else the RTO
  void on_rtx_timer();
  void on_retransmit_timer();
  std::uint32_t retries_limit() const;    // tcp_retries2, or tcp_orphan_retries for an orphan
  void on_persist_timer();
  void send_loss_probe();                 // tcp_send_loss_probe (RFC 8985 TLP)
  void on_reorder_timer();                // tcp_rack_reo_timeout
  void on_delack_timer();
  void on_keepalive_timer();
  void on_wait_timer();
  void arm_keepalive();

  TcpNet& tn_;
  State state_ = State::closed;
  NetRef user_ref_;        // while a Stream holds this connection
  bool user_closed_ = false;
  bool was_synchronized_ = false;  // reached ESTABLISHED once: closed now means EOF/EPIPE, not ENOTCONN
  ListenSocket* parent_ = nullptr;  // a passive open not yet accepted

  // Send sequence space (RFC 9293 3.3.1).
  Seq iss_ = 0, snd_una_ = 0, snd_nxt_ = 0, snd_max_ = 0, snd_wl1_ = 0, snd_wl2_ = 0;
  std::uint32_t snd_wnd_ = 0, max_snd_wnd_ = 0;
  std::uint32_t mss_ = kDefaultMss;  // what we send per segment
  // The path MTU was reported below net.ipv4.route.min_pmtu: segments go
  // without DF and may be fragmented on the way (Linux's locked mtu).
  bool pmtu_locked_ = false;
  SendBuffer send_buf_;
  bool fin_queued_ = false;  // shutdown(): a FIN follows the buffered data
  bool fin_acked_ = false;
  bool nodelay_ = false;
  bool keepalive_ = false;

  // Receive sequence space; the data, the buffer and the window offered.
  Seq irs_ = 0, rcv_nxt_ = 0;
  ReceiveBuffer rcv_;
  bool fin_received_ = false;
  std::optional<Seq> ofo_fin_;  // a FIN that arrived beyond a hole
  std::uint32_t segs_since_ack_ = 0;
  bool ack_pending_ = false;
  Clock::time_point last_received_{};
  std::optional<Clock::time_point> last_invalid_ack_;
  Seq snd_sml_ = 0;  // end of the last segment shorter than the MSS (Minshall's Nagle)

  // Options negotiated in the handshake.
  std::uint8_t snd_wscale_ = 0;  // ours is rcv_.rcv_wscale()
  bool ws_ok_ = false, sack_ok_ = false, ts_ok_ = false;
  std::uint8_t ecn_flags_ = 0;  // kEcn* (in the padding before ts_recent_)
  std::uint32_t ts_recent_ = 0, ts_offset_ = 0;
  Clock::time_point ts_recent_stamp_{};  // when ts_recent_ was stored
  Seq last_ack_sent_ = 0;
  std::uint16_t peer_mss_ = kDefaultMss;

  // The sender's loss recovery (RFC 6675, RFC 8985, RFC 6937), as Linux.
  RttEstimator rtt_;
  WindowedMin min_rtt_;
  std::unique_ptr<CongestionControl> cc_;
  RtxQueue rtx_;
  Rack rack_;
  CaState ca_state_ = CaState::open;
  Seq high_seq_ = 0;              // snd_nxt when recovery or loss began
  std::uint32_t reordering_ = 3;  // tp->reordering: dupthresh in segments
  std::uint32_t reord_seen_ = 0;
  std::uint32_t reno_sacked_ = 0; // duplicate ACKs taken as delivered segments (no SACK)
  std::uint64_t delivered_ = 0;   // sequence space ever delivered (ACKed or SACKed)
  std::uint64_t dsack_dups_ = 0, total_retrans_ = 0;  // segments: D-SACKed, retransmitted
  // Undo (Linux's undo_marker/undo_retrans/prior_*): a reduction proves
  // spurious when D-SACKs cover every retransmission, or timestamps show
  // an original arrived.
  std::optional<Seq> undo_marker_;
  std::int64_t undo_retrans_ = -1;
  std::optional<std::uint32_t> retrans_stamp_;  // TS clock of the episode's first retransmission
  std::uint32_t prior_cwnd_ = 0, prior_ssthresh_ = 0;
  std::uint32_t prr_delivered_ = 0, prr_out_ = 0;  // PRR, bytes
  std::optional<Seq> tlp_high_seq_;  // snd_nxt when a loss probe went out
  bool tlp_retrans_ = false;         // that probe was a retransmission
  std::optional<std::uint32_t> ts_ecr_;  // this ACK's echoed timestamp, our clock
  std::uint32_t retries_ = 0;  // consecutive timeouts, or probes unanswered
  std::uint32_t keepalive_probes_ = 0;
  Clock::time_point syn_sent_at_{};  // the handshake's RTT sample

  RtxTimer rtx_kind_ = RtxTimer::retransmit;
  std::uint64_t burst_round_ = 0;  // the Host's poll round burst_sent_ counts in
  std::uint32_t burst_sent_ = 0;
  Clock::time_point rtx_deadline_{};  // when rtx_timer_ is due; the timer may fire before and wait on
  Timer rtx_timer_;        // retransmission (SYN too), persist, loss probe, reordering (rtx_kind_)
  Timer delack_timer_;
  Timer keepalive_timer_;
  Timer wait_timer_;       // FIN_WAIT_2 orphan timeout
  Timer continue_timer_;   // push_output stopped at kMaxBurst: the rest, later in this poll

  ipv4::Ipv4Stack::RouteMemo route_memo_;
  std::unique_ptr<TcpOps::RouteMemo6> route_memo6_;  // an IPv6 connection's: allocated on its first route
  bool mapped_ = false;  // user_local/user_remote show ::ffff:a.b.c.d
  std::function<void()> writable_;
  std::uint64_t bytes_acked_ = 0, bytes_received_ = 0, retransmits_ = 0;
  // The IP ID of the next segment (Linux's inet_id): a random start, one per
  // segment, so a connection's IDs tell nothing about the host's other traffic.
  std::uint16_t ip_id_ = tn_.ops.stack().random_ip_id();
};

}  // namespace netns::tcp
