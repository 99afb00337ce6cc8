// One TCP connection: the transmission control block of RFC 9293 with its
// timers, buffers and loss recovery.
//
//   connection.cpp  life cycle, the user's calls (read, write, close...)
//   input.cpp       SEGMENT ARRIVES (RFC 9293 3.10.7): acceptability, RST,
//                   SYN, ACK processing with SACK and recovery, data, FIN
//   output.cpp      what to send now (tcp_write_xmit), retransmissions, ACKs
//   timers.cpp      RTO, delayed ACK, zero-window probe, keepalive, TIME_WAIT
//
// A connection lives in its namespace's TcpNet::connections from its first
// segment to its end; a Stream shares ownership while the user holds it. It
// never outlives its TcpNet: the namespace's exit destroys them all, and the
// destructors cancel their timers.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>

#include "ipv4/tcp/congestion.hpp"
#include "ipv4/tcp/ofo_queue.hpp"
#include "ipv4/tcp/rtt.hpp"
#include "ipv4/tcp/sack_scoreboard.hpp"
#include "ipv4/tcp/send_buffer.hpp"
#include "ipv4/tcp/tcp_net.hpp"
#include "netns/timer.hpp"

namespace netns::tcp {

class Connection final : public ipv4::InetSocket, public std::enable_shared_from_this<Connection> {
 public:
  explicit Connection(TcpNet& tn);
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

  State state() const { return state_; }
  Info info() const;
  std::size_t readable_bytes() const { return recv_bytes_; }
  std::size_t writable_bytes() const;
  std::size_t send_queue_bytes() const { return send_buf_.size(); }
  bool orphaned() const { return user_closed_; }
  Net& net() const { return tn_.net; }
  FourTuple tuple() const { return {local(), remote()}; }

 private:
  friend class ListenSocket;
  friend class TcpOps;

  // ---- life cycle (connection.cpp) ----
  void attach_child(ListenSocket& listener, const FourTuple& tuple);
  void init_options_from_syn(const Segment& syn);
  void set_state(State next);
  void enter_established();
  void enter_time_wait();
  // The connection is over: leaves the tables and the user sees `error`.
  void finish(boost::system::error_code error);
  void reset_and_finish(boost::system::error_code error);  // sends an RST first
  void notify_readable_and_writable();
  void notify_writable();
  Endpoint local_for_parent() const;
  std::uint32_t effective_mss_for_route(std::uint32_t peer_mss);
  std::uint16_t route_mss_now();  // advertised_mss of the route's device now
  Counters& counters() const { return tn_.net.counters(); }
  Clock::time_point now() const { return tn_.net.host().now(); }

  // ---- input (input.cpp) ----
  void process_syn_sent(Segment& seg);
  bool check_sequence(Segment& seg);     // acceptability (RFC 9293 step 1) with PAWS
  bool process_rst(const Segment& seg);  // step 2; true when the segment is consumed
  bool process_ack(Segment& seg);        // step 5; false: drop the segment
  void process_sack(const Segment& seg);
  void on_new_ack(Seq ack);
  void on_duplicate_ack();
  void update_window(const Segment& seg);
  void process_data(Segment& seg);       // step 7
  void process_fin();                    // step 8
  void queue_in_order(Packet payload);
  void take_rtt_sample(Seq ack);
  void send_challenge_ack();
  bool out_of_window_rate_limited(const Segment& seg);
  bool invalid_rate_limited();  // one invalid-segment ACK per tcp_invalid_ratelimit
  std::uint32_t syn_window() const { return std::min<std::uint32_t>(receive_space(), 65535); }

  // ---- output (output.cpp) ----
  static constexpr std::uint32_t kMaxBurst = 128;  // segments sent by one push_output
  // Sends what the windows, Nagle and recovery allow now.
  void push_output();
  bool send_new_data(bool in_sack_recovery);
  bool retransmit_hole();
  void skip_sacked();
  void retransmit_head();
  void transmit(Seq seq, std::uint32_t len, std::uint8_t flags);
  void note_sent(Seq seq, std::uint32_t len, std::uint8_t flags);  // sequence and ACK bookkeeping
  void flush_ack();  // sends the ACK that ack_received_data asked for, unless data carried it
  void send_syn();
  void send_ack();
  void send_reset();
  void send_probe();  // seq snd_una - 1: zero-window probe, keepalive
  void ack_received_data(bool immediately);
  // Advertising a window moves rcv_adv_; `dev` (the route's, or null) sizes a SYN's MSS.
  wire::TcpRepr header(Seq seq, std::uint8_t flags, const Device* dev);
  std::uint16_t advertised_window();
  std::uint32_t receive_space() const;
  void grow_send_buffer();
  std::uint32_t in_flight() const;
  std::uint32_t pipe() const;           // RFC 6675's estimate of what is in the network
  Seq loss_boundary() const;            // holes below it count as lost
  std::uint32_t send_window_cwnd() const;
  std::uint32_t unsent_bytes() const;
  // One past the last byte written: where the FIN goes. Valid until the FIN is acknowledged.
  Seq data_end() const { return snd_una_ + static_cast<std::uint32_t>(send_buf_.size()); }
  bool fin_to_send() const;
  void arm_retransmit();

  // ---- timers (timers.cpp) ----
  void on_retransmit_timer();
  void on_delack_timer();
  void on_keepalive_timer();
  void on_wait_timer();
  void arm_keepalive();
  void enter_fast_recovery();
  void exit_recovery();

  TcpNet& tn_;
  State state_ = State::closed;
  NetRef user_ref_;        // while a Stream holds this connection
  bool user_closed_ = false;
  bool was_synchronized_ = false;  // reached ESTABLISHED once: closed now means EOF/EPIPE, not ENOTCONN
  ListenSocket* parent_ = nullptr;  // a passive open not yet accepted

  // Send sequence space (RFC 9293 3.3.1).
  Seq iss_ = 0, snd_una_ = 0, snd_nxt_ = 0, snd_max_ = 0, snd_wl1_ = 0, snd_wl2_ = 0;
  std::uint32_t snd_wnd_ = 0, max_snd_wnd_ = 0;
  std::uint32_t mss_ = 536;  // what we send per segment
  SendBuffer send_buf_;
  bool fin_queued_ = false;  // shutdown(): a FIN follows the buffered data
  bool fin_acked_ = false;
  bool nodelay_ = false;
  bool keepalive_ = false;

  // Receive sequence space.
  Seq irs_ = 0, rcv_nxt_ = 0;
  Seq rcv_adv_ = 0;  // right edge of the window we advertised
  // net.ipv4.tcp_rmem[1]; no autotuning (Linux grows it up to tcp_rmem[2],
  // which here only cooled the cache for in-process peers).
  std::uint32_t rcvbuf_ = 0;
  std::deque<Packet> recv_queue_;
  std::size_t recv_bytes_ = 0;
  OutOfOrderQueue ofo_;
  bool fin_received_ = false;
  std::optional<Seq> ofo_fin_;  // a FIN that arrived beyond a hole
  std::uint32_t segs_since_ack_ = 0;
  bool ack_pending_ = false;
  Clock::time_point last_received_{};
  std::optional<Clock::time_point> last_invalid_ack_;
  Seq snd_sml_ = 0;  // end of the last segment shorter than the MSS (Minshall's Nagle)

  // Options negotiated in the handshake.
  std::uint8_t snd_wscale_ = 0, rcv_wscale_ = 0;
  bool ws_ok_ = false, sack_ok_ = false, ts_ok_ = false;
  std::uint32_t ts_recent_ = 0, ts_offset_ = 0;
  Seq last_ack_sent_ = 0;
  std::uint16_t peer_mss_ = 536;

  // Loss recovery.
  RttEstimator rtt_;
  std::unique_ptr<CongestionControl> cc_;
  SackScoreboard sacks_;
  bool in_recovery_ = false;
  Seq recover_ = 0;        // snd_max when recovery began (RFC 6582)
  bool rto_recovery_ = false;  // recover_ was set by a timeout
  Seq high_rxt_ = 0;       // next hole byte to retransmit (RFC 6675 HighRxt)
  std::uint32_t dupacks_ = 0;
  std::uint32_t recovery_cwnd_ = 0;  // NewReno's inflated window without SACK
  bool rtt_timing_ = false;
  Seq rtt_seq_ = 0;
  Clock::time_point rtt_start_{};
  std::uint32_t retries_ = 0;  // consecutive timeouts, or probes unanswered
  std::uint32_t keepalive_probes_ = 0;

  Timer rtx_timer_;        // retransmission, SYN, zero-window probe
  Timer delack_timer_;
  Timer keepalive_timer_;
  Timer wait_timer_;       // TIME_WAIT 2MSL, FIN_WAIT_2 orphan timeout
  Timer continue_timer_;   // push_output stopped at kMaxBurst: the rest, later in this poll

  ipv4::Ipv4Stack::RouteMemo route_memo_;
  std::function<void()> writable_;
  std::uint64_t bytes_acked_ = 0, bytes_received_ = 0, retransmits_ = 0;
  // The IP ID of the next segment (Linux's inet_id): a random start, one per
  // segment, so a connection's IDs tell nothing about the host's other traffic.
  std::uint16_t ip_id_ = tn_.ops.stack().random_ip_id();
};

}  // namespace netns::tcp
