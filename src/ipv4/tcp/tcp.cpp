// The TCP subsystem: per-namespace tables, input demultiplexing, RSTs for
// segments nobody owns, ICMP errors, ISNs and SYN cookies.
#include <array>

#include "core/siphash.hpp"
#include "core/splitmix.hpp"
#include "ipv4/tcp/connection.hpp"
#include "netns/wire/bytes.hpp"

namespace netns::tcp {

using wire::kTcpAck;
using wire::kTcpFin;
using wire::kTcpRst;
using wire::kTcpSyn;

std::size_t FourTupleHash::operator()(const FourTuple& t) const {
  const std::uint64_t a = (std::uint64_t{t.local.address.to_v4().value} << 32) | t.remote.address.to_v4().value;
  const std::uint64_t b = (std::uint64_t{t.local.port} << 16) | t.remote.port;
  return static_cast<std::size_t>(splitmix64_mix(a ^ key) ^ splitmix64_mix(b + key + kSplitmixIncrement));
}

// ---- TcpNet ----

TcpNet::TcpNet(Net& n, TcpOps& o)
    : net(n), ops(o), memory(n), ports(n, wire::IpProtocol::tcp),
      connections(16, FourTupleHash{o.host().secret() ^ kSipPurposeTcpIsn}), time_wait(*this) {}

TcpNet::~TcpNet() {
  // The namespace is going: every connection still here (orphans,
  // TIME_WAIT, children nobody accepted) ends without a word, and its
  // timers are cancelled by its destructor.
  auto doomed = std::move(connections);
  connections.clear();
  for (auto& [tuple, conn] : doomed) conn->set_parent(nullptr);
  doomed.clear();
}

ListenSocket* TcpNet::find_listener(Endpoint local) const {
  auto it = listeners.find(local.port);
  if (it == listeners.end()) return nullptr;
  ListenSocket* wildcard = nullptr;
  for (ListenSocket* l : it->second) {
    if (l->local().address == local.address) return l;
    if (l->local().address.is_unspecified()) wildcard = l;
  }
  return wildcard;
}

bool TcpNet::allow_challenge_ack() {
  const Clock::time_point now = net.host().now();
  if (!challenge_second || now - *challenge_second >= std::chrono::seconds(1)) {
    challenge_second = now;
    challenges_left = static_cast<std::uint32_t>(net.sysctl().value(SysctlId::tcp_challenge_ack_limit));
  }
  if (challenges_left == 0) return false;
  --challenges_left;
  return true;
}

// ---- TcpOps ----

TcpOps::TcpOps(Host& host, ipv4::Ipv4Stack& ipv4, ipv6::Ipv6Stack& ipv6)
    : TransportOps(host, ipv4, ipv6, wire::IpProtocol::tcp) {}
TcpOps::~TcpOps() = default;

std::uint64_t TcpOps::hash(std::uint64_t purpose, const FourTuple& t, std::uint32_t extra) const {
  std::array<std::byte, 16> message{};
  wire::store_ipv4(message, 0, t.local.address.to_v4());
  wire::store_ipv4(message, 4, t.remote.address.to_v4());
  wire::store_be16(message, 8, t.local.port);
  wire::store_be16(message, 10, t.remote.port);
  wire::store_be32(message, 12, extra);
  return siphash13(SipKey::derive(host().secret(), purpose), message);
}

Seq TcpOps::initial_sequence(const FourTuple& tuple) const {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(host().now().time_since_epoch());
  const auto clock = static_cast<Seq>(ns.count() / 4000);  // RFC 6528: M ticks every 4 us
  return clock + static_cast<Seq>(hash(kSipPurposeTcpIsn, tuple, 0));
}

std::uint32_t TcpOps::timestamp_offset(const FourTuple& tuple) const {
  return static_cast<std::uint32_t>(hash(kSipPurposeTcpIsn, tuple, 1) >> 32);
}

std::uint32_t TcpOps::timestamp_now() const { return timestamp_at(host().now()); }


namespace {

constexpr unsigned kCookieBits = 24;
constexpr Seq kCookieMask = (Seq{1} << kCookieBits) - 1;

// Linux's cookie clock: one tick a minute (64 s); a cookie lives 2 ticks.
std::uint32_t cookie_minute(const Host& host) {
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(host.now().time_since_epoch());
  return static_cast<std::uint32_t>(s.count() / 64);
}

}  // namespace

Seq TcpOps::syn_cookie(const FourTuple& tuple, Seq peer_isn, unsigned mss_index) const {
  // RFC 4987 / Linux's secure_tcp_syn_cookie: H1 + their ISN + (minute << 24)
  // + ((H2(minute) + data) mod 2^24).
  const std::uint32_t minute = cookie_minute(host());
  return static_cast<Seq>(hash(kSipPurposeTcpIsn, tuple, 2)) + peer_isn + (minute << kCookieBits) +
         ((static_cast<Seq>(hash(kSipPurposeTcpIsn, tuple, 3 + minute)) + mss_index) & kCookieMask);
}

std::optional<unsigned> TcpOps::check_syn_cookie(const FourTuple& tuple, Seq peer_isn, Seq cookie) const {
  const Seq rest = cookie - static_cast<Seq>(hash(kSipPurposeTcpIsn, tuple, 2)) - peer_isn;
  const std::uint32_t now_minute = cookie_minute(host());
  const std::uint32_t minute = rest >> kCookieBits;
  // The minute is kept in 8 bits: compare modulo 256. A cookie lives this
  // tick and the next (Linux's MAX_SYNCOOKIE_AGE, 2).
  if (((now_minute - minute) & 0xff) >= 2) return std::nullopt;
  const std::uint32_t full_minute = now_minute - ((now_minute - minute) & 0xff);
  const Seq data = (rest - static_cast<Seq>(hash(kSipPurposeTcpIsn, tuple, 3 + full_minute))) & kCookieMask;
  if (data >= std::size(kCookieMss)) return std::nullopt;
  return static_cast<unsigned>(data);
}

void TcpOps::send_control(Net& net, const FourTuple& tuple, const wire::TcpRepr& repr) {
  Packet packet = host().packets().allocate(repr.buffer_len());
  if (!packet) return;
  repr.emit(packet.mutable_data(), tuple.local.address.to_v4(), tuple.remote.address.to_v4());
  auto route = stack().route_output(net, tuple.remote.address.to_v4());
  if (!route) return;
  net.counters().add(Counter::TcpOutSegs);
  (void)stack().send(net, std::move(packet),
                     {.src = tuple.local.address.to_v4(), .dst = tuple.remote.address.to_v4(),
                      .protocol = wire::IpProtocol::tcp, .dont_fragment = true},
                     *route);
}

void TcpOps::send_reset(Net& net, const Segment& seg) {
  if (seg.has(kTcpRst)) return;
  wire::TcpRepr rst{.src_port = seg.tcp.dst_port, .dst_port = seg.tcp.src_port};
  if (seg.has(kTcpAck)) {
    rst.seq_number = seg.tcp.ack_number;
    rst.flags = kTcpRst;
  } else {
    rst.ack_number = seg.seq() + seg.len();
    rst.flags = kTcpRst | kTcpAck;
  }
  net.counters().add(Counter::TcpOutRsts);
  send_control(net, {{seg.dst, seg.tcp.dst_port}, {seg.src, seg.tcp.src_port}}, rst);
}

void TcpOps::deliver(Net& net, Packet datagram, const ipv4::InputMeta& meta) {
  Counters& counters = net.counters();
  counters.add(Counter::TcpInSegs);  // every segment, before any check, as Linux
  auto view = wire::TcpView::checked(datagram.data());
  if (!view) {
    counters.add(Counter::TcpInErrs);
    return;
  }
  // A partial checksum came over an in-process link from this stack.
  if (!datagram.checksum_partial && !view->verify_checksum(meta.src, meta.dst)) {
    counters.add(Counter::TcpInCsumErrors);
    counters.add(Counter::TcpInErrs);
    return;
  }
  // A malformed option does not drop the segment (Linux's tcp_parse_options).
  const wire::TcpRepr repr = wire::TcpRepr::parse_verified(*view);
  // TCP is unicast only (RFC 1122 4.2.3.10).
  if (meta.broadcast || meta.dst.is_broadcast() || meta.dst.is_multicast()) return;
  TcpNet* tn = state(net);
  if (tn == nullptr) return;

  Segment seg{.tcp = repr, .payload = std::move(datagram), .src = meta.src, .dst = meta.dst,
              .ecn = wire::Ecn{static_cast<std::uint8_t>(meta.tos & 0x03)}, .reserved = view->reserved()};
  seg.payload.pull_front(view->header_len());
  const FourTuple tuple{{meta.dst, repr.dst_port}, {meta.src, repr.src_port}};
  if (auto it = tn->connections.find(tuple); it != tn->connections.end()) {
    std::shared_ptr<Connection> conn = it->second;  // it may leave the table while it works
    conn->process(seg);
    return;
  }
  if (!tn->time_wait.empty()) {
    if (TimeWaitTable::Entry* tw = tn->time_wait.find(tuple)) {
      const std::optional<Seq> isn = tn->time_wait.process(*tw, seg);
      if (!isn) return;
      // A new incarnation of the pair (RFC 9293 3.10.7.4): TIME_WAIT gives
      // way to the listener; without one the SYN is answered as any other
      // segment (tcp_v4_rcv's TCP_TW_SYN).
      ListenSocket* listener = tn->find_listener(tuple.local);
      if (listener == nullptr) {
        tn->time_wait.send_ack(*tw);
        return;
      }
      counters.add(Counter::TcpExtTWRecycled);
      tn->time_wait.erase(tuple);
      seg.tw_isn = *isn;
      listener->process(seg, meta);
      return;
    }
  }
  if (ListenSocket* listener = tn->find_listener(tuple.local)) {
    listener->process(seg, meta);
    return;
  }
  send_reset(net, seg);
}

void TcpOps::deliver_error(Net& net, const ipv4::IcmpError& err) {
  if (err.quoted.size() < 8) return;
  TcpNet* tn = state(net);
  if (tn == nullptr) return;
  const FourTuple tuple{{err.orig_src, wire::load_be16(err.quoted, 0)},
                        {err.orig_dst, wire::load_be16(err.quoted, 2)}};
  auto it = tn->connections.find(tuple);
  if (it == tn->connections.end()) {
    // TIME_WAIT has nothing in flight to learn about (tcp_v4_err).
    if (tn->time_wait.find(tuple) == nullptr) net.counters().add(Counter::IcmpInErrors);
    return;
  }
  std::shared_ptr<Connection> conn = it->second;
  conn->process_icmp_error(err, wire::load_be32(err.quoted, 4));
}

}  // namespace netns::tcp
