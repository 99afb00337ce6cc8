// A connection's life cycle and the user's calls on it.
#include "ipv4/tcp/connection.hpp"

#include <algorithm>
#include <cstring>

#include <boost/asio/error.hpp>

namespace netns::tcp {

namespace {

boost::system::error_code would_block() { return error(Errc::operation_would_block); }

std::size_t sysctl_triple(Net& net, SysctlId id, std::size_t index) {
  return static_cast<std::size_t>(net.sysctl().value(id, index));
}

}  // namespace

Connection::Connection(TcpNet& tn, Family family)
    : InetSocket(family),
      tn_(tn),
      send_buf_(sysctl_triple(tn.net, SysctlId::tcp_wmem, 1), &tn.memory),
      rcv_(tn.net, &tn.memory),
      cc_(make_congestion_control(
          static_cast<CongestionAlgorithm>(tn.net.sysctl().value(SysctlId::tcp_congestion_control)),
          kDefaultMss)),
      rtx_timer_(tn.net.host(), [this] { auto self = shared_from_this(); on_rtx_timer(); }),
      delack_timer_(tn.net.host(), [this] { auto self = shared_from_this(); on_delack_timer(); }),
      keepalive_timer_(tn.net.host(), [this] { auto self = shared_from_this(); on_keepalive_timer(); }),
      wait_timer_(tn.net.host(), [this] { auto self = shared_from_this(); on_wait_timer(); }),
      continue_timer_(tn.net.host(), [this] { auto self = shared_from_this(); push_output(); }) {
  // tcp_init_sock: the dupthresh starts at net.ipv4.tcp_reordering.
  reordering_ = static_cast<std::uint32_t>(tn.net.sysctl().value(SysctlId::tcp_reordering));
}

Connection::~Connection() = default;

// ---- opening ----

std::uint32_t Connection::effective_mss_for_route(std::uint32_t peer_mss) {
  const std::uint32_t route_mss = route_mss_now();
  const auto floor = static_cast<std::uint32_t>(tn_.net.sysctl().value(SysctlId::tcp_min_snd_mss));
  // tcp_min_snd_mss: a peer announcing a tiny MSS cannot make us send
  // floods of tiny segments (CVE-2019-11479).
  std::uint32_t mss = std::min(std::max(peer_mss, floor), route_mss);
  if (ts_ok_) mss -= kTimestampsOptionLen;  // the timestamps option rides in every segment
  return std::max<std::uint32_t>(mss, 8);
}

std::uint16_t Connection::route_mss_now() {
  // Looked up afresh: the memo's device may be gone with its namespace or
  // link, and only route_output checks the memo against the generation.
  // What we send fits the path MTU (tcp_sync_mss with dst_mtu), which a
  // fragmentation-needed report may have lowered below the device's.
  if (remote().address.is_v6()) {
    // tcp_v6: the route's MTU less 60, a Packet Too Big may have lowered
    // it; never below what 1280 bytes carry.
    const Ipv6Address dst = remote().address.to_v6();
    auto route = tn_.ops.route_output6(tn_.net, dst, route_memo6());
    if (!route) return mss_for_mtu6(kIpv6MinMtu);
    pmtu_locked_ = false;
    return std::min(advertised_mss(*route->dev, Family::ipv6),
                    mss_for_mtu6(tn_.ops.stack6().path_mtu(tn_.net, dst, *route->dev)));
  }
  auto route = tn_.ops.stack().route_output(tn_.net, remote().address.to_v4(), route_memo_);
  if (!route) return kDefaultMss;
  const ipv4::PathMtu pmtu = tn_.ops.stack().path_mtu(tn_.net, remote().address.to_v4(), *route->dev);
  pmtu_locked_ = pmtu.locked;
  return std::min(advertised_mss(*route->dev), mss_for_mtu(pmtu.mtu));
}

void Connection::sample_handshake_rtt() {
  const Clock::duration rtt = now() - syn_sent_at_;
  if (rtt > Clock::duration::zero()) {  // zero: answered within one poll, nothing measured
    const auto window = std::chrono::seconds(net().sysctl().value(SysctlId::tcp_min_rtt_wlen));
    min_rtt_.update(window, now(), rtt);
  }
  rtt_.sample(rtt);
}

Result<void> Connection::open_active(Endpoint local, Endpoint remote) {
  Net& net = tn_.net;
  Device* dev = nullptr;
  if (remote.address.is_v6()) {
    auto route = tn_.ops.route_output6(net, remote.address.to_v6(), route_memo6());
    if (!route) return ipv6::Ipv6Stack::no_route(net, route.error());
    dev = route->dev;
    if (local.address.is_unspecified()) {
      // A link-local source is known by its link, as input scopes it.
      const Ipv6Address source = route->source;
      if (source.is_unspecified()) return error(Errc::address_not_available);
      local.address = source.is_link_local() ? source.with_scope(static_cast<std::uint32_t>(dev->ifindex())) : source;
    }
  } else {
    auto route = tn_.ops.stack().route_output(net, remote.address.to_v4(), route_memo_);
    if (!route) return ipv4::Ipv4Stack::no_route(net, route.error());
    dev = route->dev;
    if (local.address.is_unspecified()) local.address = route->source;
  }
  std::optional<ipv4::RssPick> rss;  // replies to this core's queue
  if (auto queue = dev->rss_queue(); queue && local.port == 0) rss = ipv4::RssPick{local.address, remote, *queue};
  if (auto ok = tn_.ports.bind(*this, local, rss); !ok) return ok;
  tn_.ports.set_remote(*this, remote);
  const FourTuple t = tuple();
  if (tn_.connections.contains(t)) {
    tn_.ports.unbind(*this);
    return error(Errc::address_in_use);
  }
  tn_.connections.emplace(t, shared_from_this());

  iss_ = tn_.ops.initial_sequence(t);
  snd_una_ = snd_nxt_ = snd_max_ = snd_sml_ = iss_;
  ts_offset_ = tn_.ops.timestamp_offset(t);
  // Offer every option the sysctls allow; the SYN-ACK decides.
  ws_ok_ = net.sysctl().value(SysctlId::tcp_window_scaling) != 0;
  sack_ok_ = net.sysctl().value(SysctlId::tcp_sack) != 0;
  ts_ok_ = net.sysctl().value(SysctlId::tcp_timestamps) != 0;
  // tcp_connect_init: the SYN offers whole segments of our MSS, before we
  // know whether timestamps will take room in them.
  (void)rcv_.select_initial_window(advertised_mss(*dev, remote.address.family()), ws_ok_);
  ecn_start_active();
  set_state(State::syn_sent);
  counters().add(Counter::TcpActiveOpens);
  send_syn();
  return {};
}

void Connection::init_options_from_syn(const Segment& syn) {
  irs_ = syn.seq();
  rcv_nxt_ = irs_ + 1;
  rcv_.start(rcv_nxt_);  // our window is measured from here on
  peer_mss_ = announced_mss(syn.tcp);
  ws_ok_ = ws_ok_ && syn.tcp.window_scale.has_value();
  snd_wscale_ = ws_ok_ ? std::min<std::uint8_t>(*syn.tcp.window_scale, kMaxWscale) : 0;
  if (!ws_ok_) rcv_.disable_window_scaling();
  sack_ok_ = sack_ok_ && syn.tcp.sack_permitted;
  rcv_.set_sack_permitted(sack_ok_);
  ts_ok_ = ts_ok_ && syn.tcp.timestamps.has_value();
  rcv_.set_timestamps(ts_ok_);
  if (ts_ok_) {
    ts_recent_ = syn.tcp.timestamps->value;
    ts_recent_stamp_ = now();
  }
  // The window in a SYN is never scaled (RFC 7323 2.2).
  snd_wnd_ = syn.tcp.window;
  max_snd_wnd_ = snd_wnd_;
  snd_wl1_ = syn.seq();
}

void Connection::attach_child(ListenSocket& listener, const FourTuple& tuple) {
  // A child shares its listener's port and enters the table under the
  // four-tuple the SYN or cookie came with.
  parent_ = &listener;
  // An IPv4 child of an IPv6 listener shows ::ffff:a.b.c.d to its user.
  mapped_ = listener.local().address.is_v6() && tuple.local.address.is_v4();
  if (tuple.remote.address.is_v6()) {
    (void)tn_.ops.route_output6(tn_.net, tuple.remote.address.to_v6(), route_memo6());
  } else {
    (void)tn_.ops.stack().route_output(tn_.net, tuple.remote.address.to_v4(), route_memo_);
  }
  tn_.ports.bind_shared(*this, tuple.local);
  tn_.ports.set_remote(*this, tuple.remote);
  tn_.connections.emplace(tuple, shared_from_this());
}

void Connection::open_passive(ListenSocket& listener, const Segment& syn, const FourTuple& tuple) {
  Net& net = tn_.net;
  attach_child(listener, tuple);
  ws_ok_ = net.sysctl().value(SysctlId::tcp_window_scaling) != 0;
  sack_ok_ = net.sysctl().value(SysctlId::tcp_sack) != 0;
  ts_ok_ = net.sysctl().value(SysctlId::tcp_timestamps) != 0;
  init_options_from_syn(syn);
  // tcp_openreq_init_rwin: whole segments of our MSS less the timestamps
  // the peer offered (65160 for a 1500-byte MTU with timestamps).
  (void)rcv_.select_initial_window(route_mss_now() - (ts_ok_ ? kTimestampsOptionLen : 0), ws_ok_);
  mss_ = effective_mss_for_route(peer_mss_);
  cc_->set_mss(mss_);
  iss_ = syn.tw_isn != 0 ? syn.tw_isn : tn_.ops.initial_sequence(tuple);
  snd_una_ = snd_nxt_ = snd_max_ = snd_sml_ = iss_;
  ts_offset_ = tn_.ops.timestamp_offset(tuple);
  ecn_start_passive(syn);
  set_state(State::syn_received);
  send_syn();
}

void Connection::open_from_cookie(ListenSocket& listener, const Segment& ack, const FourTuple& tuple,
                                  std::uint16_t mss) {
  Net& net = tn_.net;
  attach_child(listener, tuple);
  // A cookie keeps only the MSS; timestamps carry window scale and SACK in
  // their low bits (as Linux's cookie_timestamp_decode).
  irs_ = ack.seq() - 1;
  rcv_nxt_ = ack.seq();
  iss_ = ack.tcp.ack_number - 1;
  snd_una_ = snd_nxt_ = snd_max_ = snd_sml_ = ack.tcp.ack_number;
  peer_mss_ = mss;
  if (ack.tcp.timestamps && net.sysctl().value(SysctlId::tcp_timestamps) != 0) {
    const std::uint32_t options = ack.tcp.timestamps->echo & kCookieTsMask;
    ts_ok_ = true;
    ts_recent_ = ack.tcp.timestamps->value;
    ts_recent_stamp_ = now();
    ts_offset_ = tn_.ops.timestamp_offset(tuple);
    sack_ok_ = (options & kCookieSack) != 0;
    // cookie_ecn_ok: agreed in the SYN-ACK, and still allowed.
    if ((options & kCookieEcn) != 0 && net.sysctl().value(SysctlId::tcp_ecn) != 0) ecn_flags_ = kEcnOk;
    const std::uint32_t wscale = options & 0x0f;
    ws_ok_ = wscale != 0x0f;
    snd_wscale_ = ws_ok_ ? static_cast<std::uint8_t>(std::min<std::uint32_t>(wscale, kMaxWscale)) : 0;
  }
  rcv_.set_sack_permitted(sack_ok_);
  rcv_.set_timestamps(ts_ok_);
  // The window the cookie SYN-ACK offered, from the same inputs.
  (void)rcv_.select_initial_window(route_mss_now() - (ts_ok_ ? kTimestampsOptionLen : 0), ws_ok_);
  rcv_.start(rcv_nxt_);
  mss_ = effective_mss_for_route(peer_mss_);
  cc_->set_mss(mss_);
  snd_wnd_ = static_cast<std::uint32_t>(ack.tcp.window) << snd_wscale_;
  max_snd_wnd_ = snd_wnd_;
  snd_wl1_ = ack.seq();
  snd_wl2_ = ack.tcp.ack_number;
  set_state(State::syn_received);
  enter_established();
}

void Connection::set_state(State next) {
  if (state_ == State::established || state_ == State::close_wait) {
    if (next != State::established && next != State::close_wait) {
      tn_.net.counters().sub(Counter::TcpCurrEstab);
    }
  } else if (next == State::established || next == State::close_wait) {
    tn_.net.counters().add(Counter::TcpCurrEstab);
  }
  state_ = next;
}

void Connection::enter_established() {
  const bool passive = state_ == State::syn_received;
  set_state(State::established);
  was_synchronized_ = true;
  last_received_ = now();
  if (retries_ != 0) rtt_.use_fallback();
  grow_send_buffer();  // two initial windows, as Linux's tcp_init_buffer_space
  rcv_.established(route_mss_now(), now());
  rtt_.reset_backoff();
  retries_ = 0;
  rtx_timer_.cancel();
  arm_keepalive();
  if (passive && parent_ != nullptr) {
    parent_->child_established(*this);
  }
  notify_writable();
}

void Connection::enter_time_wait() {
  // The ACK of the peer's FIN leaves from the connection, numbered as its
  // own segments (Linux's tcp_fin sends it before tcp_time_wait).
  flush_ack();
  if (tn_.time_wait.full()) {
    // No room to wait: the connection is simply gone (TCPTimeWaitOverflow).
    counters().add(Counter::TcpExtTCPTimeWaitOverflow);
    finish({});
    return;
  }
  counters().add(Counter::TcpExtTW);
  // The window our ACKs offered stays what the last one said (tw_rcv_wnd).
  const std::uint32_t window = rcv_.receive_window(rcv_nxt_) >> rcv_.rcv_wscale();
  const TimeWait record{.snd_nxt = snd_nxt_,
                        .rcv_nxt = rcv_nxt_,
                        .ts_recent = ts_ok_ ? ts_recent_ : 0,
                        .ts_offset = ts_offset_,
                        .ts_recent_stamp = static_cast<std::uint32_t>(
                            std::chrono::duration_cast<std::chrono::seconds>(ts_recent_stamp_.time_since_epoch()).count()),
                        .window = static_cast<std::uint16_t>(std::min<std::uint32_t>(window, 65535)),
                        .timestamps = ts_ok_,
                        .mapped = mapped_};
  const FourTuple t = tuple();
  if (user_closed_) {
    // An orphan: the record is all that is left of it.
    tn_.time_wait.insert(t, record, nullptr);
    finish({});
    return;
  }
  // A Stream holds it: the record answers the peer; the connection keeps
  // its port and what the user may still read, and shows TIME_WAIT until
  // the record ends (time_wait_over) or the user lets go (leave_time_wait).
  tn_.time_wait.insert(t, record, this);
  set_state(State::time_wait);
  rtx_timer_.cancel();
  delack_timer_.cancel();
  keepalive_timer_.cancel();
  wait_timer_.cancel();
  continue_timer_.cancel();
  auto it = tn_.connections.find(t);
  std::shared_ptr<Connection> keep;  // the caller holds another
  if (it != tn_.connections.end() && it->second.get() == this) {
    keep = std::move(it->second);
    tn_.connections.erase(it);
  }
}

void Connection::time_wait_over() {
  auto self = shared_from_this();  // the user's callbacks may close the Stream
  finish({});
}

void Connection::leave_time_wait() {
  tn_.time_wait.release_user(tuple());
  finish({});
}

void Connection::finish(boost::system::error_code err) {
  if (err) set_error(err);
  // RFC 1213's tcpAttemptFails: SYN-SENT or SYN-RECEIVED straight to CLOSED.
  if (state_ == State::syn_sent || state_ == State::syn_received) counters().add(Counter::TcpAttemptFails);
  if (state_ != State::closed) set_state(State::closed);
  rtx_timer_.cancel();
  delack_timer_.cancel();
  keepalive_timer_.cancel();
  wait_timer_.cancel();
  continue_timer_.cancel();
  if (user_closed_) {
    user_closed_ = false;
    --tn_.orphans;
  }
  if (ListenSocket* parent = std::exchange(parent_, nullptr)) parent->child_gone(*this);
  // Leave the tables last: this may drop the table's reference, and the
  // caller holds another (shared_from_this) while it still runs.
  const FourTuple t = tuple();
  auto it = tn_.connections.find(t);
  std::shared_ptr<Connection> keep;
  if (it != tn_.connections.end() && it->second.get() == this) {
    keep = std::move(it->second);
    tn_.connections.erase(it);
  }
  tn_.ports.unbind(*this);
  notify_readable_and_writable();
}

void Connection::reset_and_finish(boost::system::error_code err) {
  send_reset();
  finish(err);
}

void Connection::notify_writable() {
  if (writable_) {
    auto callback = writable_;  // it may replace itself or close the stream
    callback();
  }
}

void Connection::notify_readable_and_writable() {
  notify_readable();
  notify_writable();
}

// ---- the user's calls ----

Result<std::size_t> Connection::read(std::span<std::byte> buffer) {
  if (rcv_.readable() == 0) {
    if (has_error()) return take_error();
    if (fin_received_) return std::size_t{0};
    // After a reset (its error already reported) or a close, Linux's recv
    // reports the end of the stream; never connected, ENOTCONN.
    if (state_ == State::closed) return was_synchronized_ ? Result<std::size_t>(std::size_t{0}) : error(Errc::not_connected);
    return would_block();
  }
  const std::size_t copied = rcv_.read(buffer, now());
  // Reading opened the window: tell the peer at once when that matters
  // (tcp_cleanup_rbuf).
  if ((state_ == State::established || state_ == State::fin_wait_1 || state_ == State::fin_wait_2) &&
      rcv_.window_update_due(rcv_nxt_)) {
    send_ack();
  }
  return copied;
}

void Connection::grow_send_buffer() {
  // Send-buffer autotuning as Linux's tcp_sndbuf_expand: room for two
  // congestion windows, from tcp_wmem[1] up to tcp_wmem[2]. A small buffer
  // keeps what waits to be sent warm in the cache.
  const std::size_t max = sysctl_triple(net(), SysctlId::tcp_wmem, 2);
  const std::size_t want = std::min<std::size_t>(2 * std::size_t{cc_->cwnd()}, max);
  const std::size_t capacity = send_buf_.capacity();
  if (want <= capacity || !tn_.memory.admits_send_growth()) return;  // tcp_should_expand_sndbuf
  // In steps of a quarter at least: the ring is one allocation, and growing
  // it by the few bytes congestion avoidance adds an ACK would copy the
  // whole buffer into a new one on every write.
  send_buf_.set_capacity(std::min(max, std::max(want, capacity + capacity / 4)));
}

std::size_t Connection::writable_bytes() const {
  if (state_ != State::established && state_ != State::close_wait) return 0;
  if (fin_queued_) return 0;
  return send_buf_.free_space();
}

Result<std::size_t> Connection::write(std::span<const std::byte> data) {
  if (has_error()) return take_error();
  switch (state_) {
    case State::syn_sent:
    case State::syn_received:
      return would_block();
    case State::established:
    case State::close_wait:
      break;
    case State::closed:
      return error(was_synchronized_ ? Errc::broken_pipe : Errc::not_connected);
    default:
      return error(Errc::broken_pipe);
  }
  if (fin_queued_) return error(Errc::broken_pipe);
  if (data.empty()) return std::size_t{0};
  const std::size_t n = send_buf_.write(data);
  if (n == 0) return would_block();
  push_output();
  return n;
}

Result<void> Connection::shutdown() {
  switch (state_) {
    case State::closed:
      return error(Errc::not_connected);
    case State::listen:
      return error(Errc::not_connected);
    case State::syn_sent:
      finish({});
      return {};
    default:
      break;
  }
  if (fin_queued_) return {};
  fin_queued_ = true;
  if (state_ == State::established || state_ == State::syn_received) {
    set_state(State::fin_wait_1);
  } else if (state_ == State::close_wait) {
    set_state(State::last_ack);
  }
  push_output();
  return {};
}

void Connection::close() {
  user_ref_.reset();
  set_readable_callback(nullptr);
  writable_ = nullptr;
  if (state_ == State::closed) return;
  if (state_ == State::time_wait) {
    leave_time_wait();
    return;
  }
  if (state_ == State::syn_sent) {
    finish({});
    return;
  }
  // Unread data makes close an abort (RFC 9293 3.10.4 leaves it open; Linux
  // resets, RFC 2525 2.17).
  if (rcv_.readable() != 0) {
    counters().add(Counter::TcpExtTCPAbortOnClose);
    reset_and_finish({});
    return;
  }
  user_closed_ = true;
  ++tn_.orphans;
  if (tn_.orphans > static_cast<std::size_t>(tn_.net.sysctl().value(SysctlId::tcp_max_orphans))) {
    counters().add(Counter::TcpExtTCPAbortOnMemory);
    reset_and_finish({});
    return;
  }
  (void)shutdown();
  // An orphan in FIN_WAIT_2 waits tcp_fin_timeout, not forever.
  if (state_ == State::fin_wait_2) {
    wait_timer_.schedule(now() + std::chrono::seconds(tn_.net.sysctl().value(SysctlId::tcp_fin_timeout)));
  }
}

void Connection::abort() {
  user_ref_.reset();
  set_readable_callback(nullptr);
  writable_ = nullptr;
  if (state_ == State::closed) return;
  if (state_ == State::time_wait) {
    // The user's socket is closed already (Linux's tcp_done after
    // tcp_time_wait): there is nothing to reset, the record waits on.
    leave_time_wait();
    return;
  }
  if (state_ == State::syn_sent) {
    finish({});
    return;
  }
  counters().add(Counter::TcpExtTCPAbortOnClose);
  reset_and_finish({});
}

void Connection::set_nodelay(bool enabled) {
  nodelay_ = enabled;
  if (enabled) push_output();
}

void Connection::set_keepalive(bool enabled) {
  keepalive_ = enabled;
  keepalive_probes_ = 0;
  if (enabled) {
    arm_keepalive();
  } else {
    keepalive_timer_.cancel();
  }
}

Info Connection::info() const {
  Info i;
  i.state = state_;
  i.mss = mss_;
  i.cwnd = cc_->cwnd();
  i.ssthresh = cc_->ssthresh();
  i.srtt_us = static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(rtt_.srtt()).count());
  i.rto_ms = static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(rtt_.rto()).count());
  i.snd_wnd = snd_wnd_;
  i.rcv_wnd = rcv_.receive_window(rcv_nxt_);
  i.rcvbuf = static_cast<std::uint32_t>(rcv_.rcvbuf());
  i.rmem_alloc = static_cast<std::uint32_t>(rcv_.charged());
  i.bytes_acked = bytes_acked_;
  i.bytes_received = bytes_received_;
  i.retransmits = retransmits_;
  i.sack = sack_ok_;
  i.timestamps = ts_ok_;
  i.window_scaling = ws_ok_;
  i.ecn = (ecn_flags_ & kEcnOk) != 0;
  static constexpr std::string_view kCaStates[] = {"open", "disorder", "cwr", "recovery", "loss"};
  i.ca_state = kCaStates[static_cast<std::size_t>(ca_state_)];
  i.sacked = rtx_.sacked();
  i.lost = rtx_.lost();
  i.retrans = rtx_.retrans();
  i.reordering = reordering_;
  if (!min_rtt_.empty()) {
    i.min_rtt_us = static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(min_rtt_.get()).count());
  }
  i.delivered = delivered_;
  i.dsack_dups = dsack_dups_;
  return i;
}

}  // namespace netns::tcp
