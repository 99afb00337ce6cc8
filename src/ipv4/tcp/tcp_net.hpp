// The TCP subsystem inside the library: one TcpNet per namespace (its
// ports, connections and listeners), and TcpOps, the pernet ops that are
// also the IPv4 layer's transport for protocol 6.
//
// Ingress: TcpOps::deliver checks the segment, then demultiplexes — an exact
// four-tuple match in `connections` (every connection from SYN_SENT until
// it closes or enters TIME_WAIT), else in `time_wait` (the small records
// that replace connections in TIME_WAIT, time_wait.hpp), else a listener on
// the port (ListenSocket::process), else an RST. Connections own their
// state and timers; the table owns orphans (closed by the user, still
// finishing).
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "inet/transport_ops.hpp"
#include "ipv4/socket_table.hpp"
#include "ipv4/stack.hpp"
#include "ipv4/tcp/defaults.hpp"
#include "ipv4/tcp/four_tuple.hpp"
#include "ipv4/tcp/memory.hpp"
#include "ipv4/tcp/seq.hpp"
#include "ipv4/tcp/time_wait.hpp"
#include "netns/host.hpp"
#include "netns/net.hpp"
#include "netns/tcp.hpp"
#include "netns/wire/tcp.hpp"

namespace netns::tcp {

class TcpOps;

// A received segment, parsed once: header and options, and the payload
// (data() at the first payload byte).
struct Segment {
  wire::TcpRepr tcp;
  Packet payload;
  Ipv4Address src, dst;
  wire::Ecn ecn = wire::Ecn::not_ect;  // the IP header's ECN field
  std::uint8_t reserved = 0;           // the TCP header's reserved bits (TcpView::reserved)
  // A SYN that reopens a pair in TIME_WAIT: the ISN its connection takes
  // (Linux's TCP_SKB_CB(skb)->tcp_tw_isn); 0 otherwise.
  Seq tw_isn = 0;

  Seq seq() const { return tcp.seq_number; }
  bool has(std::uint8_t flag) const { return (tcp.flags & flag) != 0; }
  // Sequence space it occupies: SYN and FIN count one each.
  std::uint32_t len() const {
    return static_cast<std::uint32_t>(payload.size()) + (has(wire::kTcpSyn) ? 1 : 0) +
           (has(wire::kTcpFin) ? 1 : 0);
  }
};

// One namespace's TCP.
struct TcpNet {
  TcpNet(Net& net, TcpOps& ops);
  ~TcpNet();
  TcpNet(const TcpNet&) = delete;
  TcpNet& operator=(const TcpNet&) = delete;

  Net& net;
  TcpOps& ops;
  // net.ipv4.tcp_mem's account; outlives every queue charging it.
  TcpMemory memory;
  // Bind conflicts and ephemeral ports for listeners, connecting and
  // accepted sockets. Declared first: destroyed after the sockets in it.
  ipv4::SocketTable ports;
  std::unordered_map<FourTuple, std::shared_ptr<Connection>, FourTupleHash> connections;
  std::unordered_map<std::uint16_t, std::vector<ListenSocket*>> listeners;
  std::size_t orphans = 0;  // connections closed by their user, still in the table
  TimeWaitTable time_wait;  // not connections any more, nor orphans (as Linux's)
  // RFC 5961 section 7: challenge ACKs per second, per namespace.
  std::optional<Clock::time_point> challenge_second;  // when this second's budget began
  std::uint32_t challenges_left = 0;

  // The listener for a segment to `local`: a specific address beats 0.0.0.0.
  ListenSocket* find_listener(Endpoint local) const;
  // Spends one challenge ACK from this second's budget
  // (net.ipv4.tcp_challenge_ack_limit); false when it is spent.
  bool allow_challenge_ack();
};

// Built by the composition root after the IPv4 layer it registers with;
// state(net), stack(), host() and init/exit come from TransportOps.
class TcpOps final : public inet::TransportOps<TcpOps, TcpNet> {
 public:
  TcpOps(Host& host, ipv4::Ipv4Stack& ipv4, ipv6::Ipv6Stack& ipv6);
  ~TcpOps() override;

  void deliver(Net& net, Packet datagram, const ipv4::InputMeta& meta) override;
  void deliver_error(Net& net, const ipv4::IcmpError& error) override;

  // RFC 6528: ISN = M + F(four-tuple, secret), M a 4 µs clock.
  Seq initial_sequence(const FourTuple& tuple) const;
  // Per-connection timestamp offset (Linux randomises TSval per connection).
  std::uint32_t timestamp_offset(const FourTuple& tuple) const;
  // The SYN cookie (RFC 4987, Linux's cookie_v4_init_sequence) carrying an
  // index into kCookieMss, and checking one: the MSS index or nullopt.
  Seq syn_cookie(const FourTuple& tuple, Seq peer_isn, unsigned mss_index) const;
  std::optional<unsigned> check_syn_cookie(const FourTuple& tuple, Seq peer_isn, Seq cookie) const;

  // An RST answering `seg`, which matched no connection (RFC 9293 3.10.7.1),
  // or that a connection must refuse. Never answers an RST.
  void send_reset(Net& net, const Segment& seg);
  // A segment with no payload, for replies outside a connection's state
  // (RSTs, SYN cookies' SYN-ACKs). Counts OutSegs.
  void send_control(Net& net, const FourTuple& tuple, const wire::TcpRepr& repr);

  std::uint32_t timestamp_now() const;  // ms since the Host's epoch
  static std::uint32_t timestamp_at(Clock::time_point t) {  // the same clock at t
    return static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
  }

 private:
  std::uint64_t hash(std::uint64_t purpose, const FourTuple& tuple, std::uint32_t extra) const;
};

// The MSS a SYN announces. Linux's tcp_parse_options ignores an MSS option
// of 0, so the default holds, as when the option is absent.
inline std::uint16_t announced_mss(const wire::TcpRepr& syn) {
  return syn.mss && *syn.mss != 0 ? *syn.mss : kDefaultMss;
}

// The MSS we announce on a device: what fits its MTU.
inline std::uint16_t advertised_mss(const Device& dev) { return mss_for_mtu(dev.mtu()); }

// The room the timestamps option takes in every segment.
inline constexpr std::uint16_t kTimestampsOptionLen = wire::kTcpOptLenTimestampsAligned;

// PAWS tolerates a timestamp one tick older than TS.Recent (Linux's
// TCP_PAWS_WINDOW), and gives up comparing with a TS.Recent this old
// (TCP_PAWS_WRAP: INT_MAX microsecond ticks, as Linux 6.7 on).
inline constexpr std::int32_t kPawsWindow = 1;
inline constexpr auto kPawsWrap = std::chrono::seconds(2147);
// How long after the last cookie a stray ACK is still checked as one
// (Linux's TCP_SYNCOOKIE_VALID).
inline constexpr auto kCookieValid = std::chrono::seconds(120);

// The MSS values a SYN cookie can carry (Linux's msstab).
inline constexpr std::uint16_t kCookieMss[] = {kDefaultMss, 1300, 1440, 1460};
// A cookie's options in the low bits of its SYN-ACK's TSval (Linux's
// TSBITS and TS_OPT_*): window scale (0xf: none), SACK, ECN.
inline constexpr std::uint32_t kCookieTsMask = 0x3f;
inline constexpr std::uint32_t kCookieSack = 0x10;
inline constexpr std::uint32_t kCookieEcn = 0x20;

// A socket in LISTEN: its port in the namespace's table, the SYN queue (its
// SYN_RECEIVED children) and the accept queue. Children keep a pointer to
// it until accepted; closing it resets them.
class ListenSocket final : public ipv4::InetSocket {
 public:
  ListenSocket(TcpNet& tn, NetRef ref, std::size_t backlog);
  ~ListenSocket() override;

  Result<void> bind(Endpoint local);
  void process(Segment& seg, const ipv4::InputMeta& meta);

  // A child finished its handshake (or was created from a cookie).
  void child_established(Connection& child);
  // A child left before being accepted (reset, timed out).
  void child_gone(Connection& child);
  Result<std::shared_ptr<Connection>> accept();
  std::size_t pending() const { return accept_queue_.size(); }
  std::size_t backlog() const { return backlog_; }
  // As Linux's sk_acceptq_is_full: a backlog of n holds n + 1.
  bool accept_queue_full() const { return accept_queue_.size() > backlog_; }
  void set_acceptable_callback(std::function<void()> callback) { set_readable_callback(std::move(callback)); }
  Net& net() const { return *ref_; }
  TcpNet& tcp_net() const { return tn_; }

 private:
  void process_syn(Segment& seg, const ipv4::InputMeta& meta);
  void process_cookie_ack(Segment& seg, const ipv4::InputMeta& meta);
  void send_cookie_synack(Segment& seg, const FourTuple& tuple);
  bool recent_cookies() const;

  TcpNet& tn_;
  NetRef ref_;
  std::size_t backlog_;
  std::size_t syn_queue_ = 0;  // children in SYN_RECEIVED
  std::optional<Clock::time_point> last_cookie_;  // when this listener last sent a cookie
  std::vector<Connection*> children_;  // not yet accepted, any state (the table owns them)
  std::deque<std::shared_ptr<Connection>> accept_queue_;
};

}  // namespace netns::tcp
