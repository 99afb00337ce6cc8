// The TCP subsystem: per-namespace tables, input demultiplexing, RSTs for
// segments nobody owns, ICMP errors, ISNs and SYN cookies.
#include <array>
#include <cstring>

#include "core/siphash.hpp"
#include "core/splitmix.hpp"
#include "ipv4/tcp/connection.hpp"
#include "core/route_cache.hpp"
#include "netns/wire/bytes.hpp"
#include "netns/wire/checksum.hpp"

namespace netns::tcp {

using wire::kTcpAck;
using wire::kTcpFin;
using wire::kTcpRst;
using wire::kTcpSyn;

std::size_t FourTupleHash::operator()(const FourTuple& t) const {
  const std::uint64_t b = (std::uint64_t{t.local.port} << 16) | t.remote.port;
  if (t.local.address.is_v4()) [[likely]] {
    const std::uint64_t a = (std::uint64_t{t.local.address.to_v4().value} << 32) | t.remote.address.to_v4().value;
    return static_cast<std::size_t>(splitmix64_mix(a ^ key) ^ splitmix64_mix(b + key + kSplitmixIncrement));
  }
  // IPv6: all 32 bytes of the two addresses, each half through the mixer
  // (the scope id too: fe80::1 on two links are two peers).
  const Ipv6Address& l = t.local.address.to_v6();
  const Ipv6Address& r = t.remote.address.to_v6();
  std::uint64_t h = splitmix64_mix(l.high() ^ key);
  h = splitmix64_mix(h ^ l.low());
  h = splitmix64_mix(h ^ r.high());
  h = splitmix64_mix(h ^ r.low());
  h = splitmix64_mix(h ^ (std::uint64_t{l.scope_id()} << 32 | r.scope_id()));
  return static_cast<std::size_t>(h ^ splitmix64_mix(b + key + kSplitmixIncrement));
}

namespace {

// inet_lhash2's compute_score for a listener and a segment to `address`: a
// listener of the segment's family counts 2, an IPv6 one taking IPv4 too 1;
// a specific address must match and adds 4. 0: it does not take it.
int listen_score(const ListenSocket& l, const IpAddress& address) {
  const IpAddress& bound = l.local().address;
  if (bound.family() == address.family()) {
    if (bound.is_unspecified()) return 2;
    return bound == address ? 6 : 0;
  }
  // An IPv4 segment and an IPv6 listener: :: unless v6only, or its own
  // IPv4 address written as ::ffff:a.b.c.d.
  if (!address.is_v4() || l.v6only()) return 0;
  const Ipv6Address& v6 = bound.to_v6();
  if (v6.is_unspecified()) return 1;
  return v6.is_v4_mapped() && v6.to_v4_mapped() == address.to_v4() ? 5 : 0;
}

}  // namespace

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
  ListenSocket* best = nullptr;
  int best_score = 0;
  for (ListenSocket* l : it->second) {
    const int score = listen_score(*l, local.address);
    if (score > best_score) {
      best = l;
      best_score = score;
    }
  }
  return best;
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
  const SipKey key = SipKey::derive(host().secret(), purpose);
  if (t.local.address.is_v4()) {
    std::array<std::byte, 16> message{};
    wire::store_ipv4(message, 0, t.local.address.to_v4());
    wire::store_ipv4(message, 4, t.remote.address.to_v4());
    wire::store_be16(message, 8, t.local.port);
    wire::store_be16(message, 10, t.remote.port);
    wire::store_be32(message, 12, extra);
    return siphash13(key, message);
  }
  // The 16-byte addresses, as Linux's secure_tcpv6_seq and cookie_v6_init_sequence hash them.
  std::array<std::byte, 40> message{};
  const auto local = t.local.address.to_v6().bytes();
  const auto remote = t.remote.address.to_v6().bytes();
  std::memcpy(message.data(), local.data(), 16);
  std::memcpy(message.data() + 16, remote.data(), 16);
  wire::store_be16(message, 32, t.local.port);
  wire::store_be16(message, 34, t.remote.port);
  wire::store_be32(message, 36, extra);
  return siphash13(key, message);
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
  if (data >= std::size(kCookieMss)) return std::nullopt;  // kCookieMss6 is as long
  return static_cast<unsigned>(data);
}

void TcpOps::send_control(Net& net, const FourTuple& tuple, const wire::TcpRepr& repr) {
  Packet packet = host().packets().allocate(repr.buffer_len());
  if (!packet) return;
  if (tuple.remote.address.is_v6()) {
    const Ipv6Address src = tuple.local.address.to_v6(), dst = tuple.remote.address.to_v6();
    emit6(repr, packet.mutable_data(), src, dst);
    auto route = stack6().route_output(net, dst);
    if (!route) {
      ipv6::Ipv6Stack::no_route(net, route.error());  // tcp_v6_send_response counts; IPv4's reset does not
      return;
    }
    net.counters().add(Counter::TcpOutSegs);
    (void)stack6().send(net, std::move(packet),
                     {.src = src, .dst = dst, .next_header = wire::IpProtocol::tcp, .dont_fragment = true}, *route);
    return;
  }
  repr.emit(packet.mutable_data(), tuple.local.address.to_v4(), tuple.remote.address.to_v4());
  auto route = stack().route_output(net, tuple.remote.address.to_v4());
  if (!route) return;
  net.counters().add(Counter::TcpOutSegs);
  (void)stack().send(net, std::move(packet),
                     {.src = tuple.local.address.to_v4(), .dst = tuple.remote.address.to_v4(),
                      .protocol = wire::IpProtocol::tcp, .dont_fragment = true},
                     *route);
}

Result<ipv6::RouteResult> TcpOps::route_output6(Net& net, const Ipv6Address& dst, RouteMemo6& memo) {
  const std::uint64_t generation = stack().route_cache().generation(net);
  if (generation != RouteCache::kNoGeneration && memo.generation == generation && memo.dst == dst) {
    return memo.route;
  }
  auto route = stack6().route_output(net, dst);
  if (route) memo = {dst, generation, *route};
  return route;
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

void emit6(const wire::TcpRepr& repr, std::span<std::byte> segment, const Ipv6Address& src, const Ipv6Address& dst) {
  repr.emit_without_checksum(segment);
  constexpr std::size_t kChecksumField = 16;  // RFC 9293 3.1
  wire::store_be16(segment, kChecksumField,
                   wire::ipv6_transport_checksum(src, dst, static_cast<std::uint8_t>(wire::IpProtocol::tcp),
                                                 segment.first(repr.buffer_len())));
}

// Inlined into both deliver()s: the IPv4 path pays no call for sharing it.
[[gnu::always_inline]] inline void TcpOps::receive(Net& net, TcpNet& tn, Segment& seg, const FourTuple& tuple) {
  Counters& counters = net.counters();
  if (auto it = tn.connections.find(tuple); it != tn.connections.end()) {
    std::shared_ptr<Connection> conn = it->second;  // it may leave the table while it works
    conn->process(seg);
    return;
  }
  if (!tn.time_wait.empty()) {
    if (TimeWaitTable::Entry* tw = tn.time_wait.find(tuple)) {
      const std::optional<Seq> isn = tn.time_wait.process(*tw, seg);
      if (!isn) return;
      // A new incarnation of the pair (RFC 9293 3.10.7.4): TIME_WAIT gives
      // way to the listener; without one the SYN is answered as any other
      // segment (tcp_v4_rcv's TCP_TW_SYN).
      ListenSocket* listener = tn.find_listener(tuple.local);
      if (listener == nullptr) {
        tn.time_wait.send_ack(*tw);
        return;
      }
      counters.add(Counter::TcpExtTWRecycled);
      tn.time_wait.erase(tuple);
      seg.tw_isn = *isn;
      listener->process(seg, tuple);
      return;
    }
  }
  if (ListenSocket* listener = tn.find_listener(tuple.local)) {
    listener->process(seg, tuple);
    return;
  }
  send_reset(net, seg);
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
  receive(net, *tn, seg, {{meta.dst, repr.dst_port}, {meta.src, repr.src_port}});
}

void TcpOps::deliver(Net& net, Packet datagram, const ipv6::InputMeta& meta) {
  Counters& counters = net.counters();
  counters.add(Counter::TcpInSegs);
  auto view = wire::TcpView::checked(datagram.data());
  if (!view) {
    counters.add(Counter::TcpInErrs);
    return;
  }
  if (!datagram.checksum_partial &&
      wire::ipv6_transport_checksum(meta.src, meta.dst, static_cast<std::uint8_t>(wire::IpProtocol::tcp),
                                    datagram.data()) != 0) {
    counters.add(Counter::TcpInCsumErrors);
    counters.add(Counter::TcpInErrs);
    return;
  }
  const wire::TcpRepr repr = wire::TcpRepr::parse_verified(*view);
  // Unicast only. A v4-mapped source goes on, as in Linux: no connection
  // has one on the IPv6 wire, and a listener refuses its SYN.
  if (meta.multicast || meta.dst.is_multicast() || meta.dst.is_v4_mapped()) return;
  TcpNet* tn = state(net);
  if (tn == nullptr) return;
  Segment seg{.tcp = repr, .payload = std::move(datagram), .src = meta.src, .dst = meta.dst,
              .ecn = wire::Ecn{static_cast<std::uint8_t>(meta.traffic_class & 0x03)}, .reserved = view->reserved()};
  seg.payload.pull_front(view->header_len());
  receive(net, *tn, seg, {{meta.dst, repr.dst_port}, {meta.src, repr.src_port}});
}

std::shared_ptr<Connection> TcpOps::error_target(Net& net, std::span<const std::byte> quoted, const IpAddress& src,
                                                 const IpAddress& dst, Counter no_socket) {
  if (quoted.size() < 8) return nullptr;
  TcpNet* tn = state(net);
  if (tn == nullptr) return nullptr;
  const FourTuple tuple{{src, wire::load_be16(quoted, 0)}, {dst, wire::load_be16(quoted, 2)}};
  auto it = tn->connections.find(tuple);
  if (it == tn->connections.end()) {
    // TIME_WAIT has nothing in flight to learn about (tcp_v4_err, tcp_v6_err).
    if (tn->time_wait.find(tuple) == nullptr) net.counters().add(no_socket);
    return nullptr;
  }
  return it->second;
}

void TcpOps::deliver_error(Net& net, const ipv4::IcmpError& err) {
  if (auto conn = error_target(net, err.quoted, err.orig_src, err.orig_dst, Counter::IcmpInErrors)) {
    conn->process_icmp_error(err, wire::load_be32(err.quoted, 4));
  }
}

void TcpOps::deliver_error(Net& net, const ipv6::IcmpError& err) {
  if (auto conn = error_target(net, err.quoted, err.orig_src, err.orig_dst, Counter::Icmp6InErrors)) {
    conn->process_icmp6_error(err, wire::load_be32(err.quoted, 4));
  }
}

}  // namespace netns::tcp
