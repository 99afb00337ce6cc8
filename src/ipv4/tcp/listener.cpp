// LISTEN (RFC 9293 3.10.7.2): SYNs become SYN_RECEIVED children, up to the
// backlog; beyond it, SYN cookies (RFC 4987) answer without keeping state,
// and an ACK carrying a valid cookie creates the connection directly.
#include <algorithm>

#include <boost/asio/error.hpp>

#include "ipv4/tcp/connection.hpp"

namespace netns::tcp {

using wire::kTcpAck;
using wire::kTcpRst;
using wire::kTcpSyn;

ListenSocket::ListenSocket(TcpNet& tn, NetRef ref, std::size_t backlog, Family family)
    : InetSocket(family, tn.net.sysctl().value(SysctlId::ipv6_bindv6only) != 0),
      tn_(tn), ref_(std::move(ref)), backlog_(backlog) {}

ListenSocket::~ListenSocket() {
  if (is_bound()) {
    auto it = tn_.listeners.find(local().port);
    if (it != tn_.listeners.end()) {
      std::erase(it->second, this);
      if (it->second.empty()) tn_.listeners.erase(it);
    }
  }
  // Connections nobody accepted: half-open ones vanish, established ones
  // are reset (Linux's inet_csk_listen_stop).
  auto children = std::move(children_);
  accept_queue_.clear();
  for (Connection* child : children) {
    auto keep = child->shared_from_this();
    child->set_parent(nullptr);
    if (child->state() == State::syn_received) {
      child->finish({});
    } else {
      child->abort();
    }
  }
}

Result<void> ListenSocket::bind(Endpoint local) {
  if (auto ok = tn_.ports.bind(*this, local); !ok) return ok;
  tn_.listeners[this->local().port].push_back(this);
  return {};
}

void ListenSocket::process(Segment& seg, const FourTuple& tuple) {
  if (seg.has(kTcpRst)) return;
  if (seg.has(kTcpAck)) {
    if (!seg.has(kTcpSyn) && recent_cookies()) {
      process_cookie_ack(seg, tuple);
      return;
    }
    tn_.ops.send_reset(tn_.net, seg);
    return;
  }
  // SYN|FIN is nonsense (a scanner's probe): Linux drops it, so do we.
  if (seg.has(kTcpSyn) && !seg.has(wire::kTcpFin)) process_syn(seg, tuple);
}

bool ListenSocket::recent_cookies() const {
  // An ACK is checked as a cookie only when this listener sent cookies in
  // the last two minutes (Linux's tcp_synq_no_recent_overflow).
  if (tn_.net.sysctl().value(SysctlId::tcp_syncookies) == 0) return false;
  return last_cookie_ && tn_.net.host().now() - *last_cookie_ < kCookieValid;
}

void ListenSocket::process_syn(Segment& seg, const FourTuple& tuple) {
  Counters& counters = tn_.net.counters();
  // An IPv6 datagram from a v4-mapped address opens nothing: it could pose
  // as the IPv4 host to a dual-stack listener (tcp_v6_conn_request).
  if (tuple.remote.address.is_v6() && tuple.remote.address.to_v6().is_v4_mapped()) {
    counters.add(Counter::Ip6InHdrErrors);
    return;
  }
  if (accept_queue_full()) {
    counters.add(Counter::TcpExtListenOverflows);
    counters.add(Counter::TcpExtListenDrops);
    return;
  }
  const auto cookies = tn_.net.sysctl().value(SysctlId::tcp_syncookies);
  const auto max_syn = static_cast<std::size_t>(tn_.net.sysctl().value(SysctlId::tcp_max_syn_backlog));
  const bool queue_full = syn_queue_ >= std::min(backlog_, max_syn);
  if (cookies == 2 || (queue_full && cookies == 1)) {
    if (queue_full) counters.add(Counter::TcpExtTCPReqQFullDoCookies);
    send_cookie_synack(seg, tuple);
    return;
  }
  if (queue_full) {
    counters.add(Counter::TcpExtTCPReqQFullDrop);
    counters.add(Counter::TcpExtListenDrops);
    return;
  }
  auto child = std::make_shared<Connection>(tn_, tuple.local.address.family());
  children_.push_back(child.get());
  ++syn_queue_;
  child->open_passive(*this, seg, tuple);
}

void ListenSocket::send_cookie_synack(Segment& seg, const FourTuple& tuple) {
  Net& net = tn_.net;
  const std::uint16_t peer_mss = announced_mss(seg.tcp);
  const Family family = tuple.remote.address.family();
  const auto table = cookie_mss_table(family);
  unsigned index = 0;
  for (unsigned i = 0; i < table.size(); ++i) {
    if (table[i] <= peer_mss) index = i;
  }
  wire::TcpRepr synack{.src_port = tuple.local.port, .dst_port = tuple.remote.port,
                       .seq_number = tn_.ops.syn_cookie(tuple, seg.seq(), index),
                       .ack_number = seg.seq() + 1,
                       .flags = kTcpSyn | kTcpAck};
  Device* dev = nullptr;
  if (family == Family::ipv6) {
    auto route = tn_.ops.stack6().route_output(net, tuple.remote.address.to_v6());
    if (!route) {
      ipv6::Ipv6Stack::no_route(net, route.error());
      return;
    }
    dev = route->dev;
  } else {
    auto route = tn_.ops.stack().route_output(net, tuple.remote.address.to_v4());
    if (!route) {
      net.counters().add(Counter::IpOutNoRoutes);  // inet_csk_route_req: whatever failed
      return;
    }
    dev = route->dev;
  }
  synack.mss = advertised_mss(*dev, family);
  // Without timestamps a cookie keeps only the MSS; with them, window scale,
  // SACK and ECN ride in the low bits of our TSval (Linux's
  // cookie_init_timestamp), and ECN is agreed only then.
  const bool timestamps = seg.tcp.timestamps && net.sysctl().value(SysctlId::tcp_timestamps) != 0;
  const bool window_scaling =
      timestamps && seg.tcp.window_scale && net.sysctl().value(SysctlId::tcp_window_scaling) != 0;
  // The window any SYN-ACK offers (tcp_openreq_init_rwin); the connection
  // the cookie makes computes the same.
  const InitialWindow window =
      initial_window(net, *synack.mss - (timestamps ? kTimestampsOptionLen : 0), window_scaling);
  synack.window = static_cast<std::uint16_t>(window.window);
  if (timestamps) {
    std::uint32_t options = 0x0f;  // no window scaling
    if (window_scaling) {
      options = std::min<std::uint32_t>(*seg.tcp.window_scale, kMaxWscale);
      synack.window_scale = window.wscale;
    }
    if (seg.tcp.sack_permitted && net.sysctl().value(SysctlId::tcp_sack) != 0) {
      options |= kCookieSack;
      synack.sack_permitted = true;
    }
    if (Connection::ecn_requested(net, seg)) {
      options |= kCookieEcn;
      synack.flags |= wire::kTcpEce;
    }
    // Never ahead of the clock, or the connection's later TSvals would look
    // older to the peer's PAWS (Linux's cookie_init_timestamp).
    const std::uint32_t now = tn_.ops.timestamp_now() + tn_.ops.timestamp_offset(tuple);
    std::uint32_t ts = (now & ~kCookieTsMask) | options;
    if (static_cast<std::int32_t>(ts - now) > 0) ts = ((now & ~kCookieTsMask) - (kCookieTsMask + 1)) | options;
    synack.timestamps = wire::TcpTimestamps{ts, seg.tcp.timestamps->value};
  }
  last_cookie_ = net.host().now();
  net.counters().add(Counter::TcpExtSyncookiesSent);
  tn_.ops.send_control(net, tuple, synack);
}

void ListenSocket::process_cookie_ack(Segment& seg, const FourTuple& tuple) {
  Counters& counters = tn_.net.counters();
  const auto index = tn_.ops.check_syn_cookie(tuple, seg.seq() - 1, seg.tcp.ack_number - 1);
  if (!index) {
    counters.add(Counter::TcpExtSyncookiesFailed);
    tn_.ops.send_reset(tn_.net, seg);
    return;
  }
  if (accept_queue_full()) {
    counters.add(Counter::TcpExtListenOverflows);
    counters.add(Counter::TcpExtListenDrops);
    return;
  }
  counters.add(Counter::TcpExtSyncookiesRecv);
  auto child = std::make_shared<Connection>(tn_, tuple.local.address.family());
  children_.push_back(child.get());
  ++syn_queue_;  // child_established takes it off again
  child->open_from_cookie(*this, seg, tuple, cookie_mss_table(tuple.remote.address.family())[*index]);
  if (child->state() == State::established && !seg.payload.empty()) child->process(seg);
}

void ListenSocket::child_established(Connection& child) {
  // A passive open is counted when the handshake completes, where Linux's
  // tcp_create_openreq_child makes the socket: a SYN that is answered and
  // then reset, or never acknowledged, opened nothing.
  tn_.net.counters().add(Counter::TcpPassiveOpens);
  --syn_queue_;
  accept_queue_.push_back(child.shared_from_this());
  notify_readable();
}

void ListenSocket::child_gone(Connection& child) {
  std::erase(children_, &child);
  auto it = std::find_if(accept_queue_.begin(), accept_queue_.end(),
                         [&](const auto& c) { return c.get() == &child; });
  if (it != accept_queue_.end()) {
    accept_queue_.erase(it);
  } else {
    --syn_queue_;
  }
}

Result<std::shared_ptr<Connection>> ListenSocket::accept() {
  if (accept_queue_.empty()) return error(Errc::operation_would_block);
  std::shared_ptr<Connection> child = std::move(accept_queue_.front());
  accept_queue_.pop_front();
  std::erase(children_, child.get());
  child->set_parent(nullptr);
  return child;
}

}  // namespace netns::tcp
