// Every knob in the sysctl table does something: for each name, one small
// scenario runs twice in fresh namespaces, once with the default and once
// with another value, and what the namespace did (on the wire, through the
// API, in its counters) must differ. A name added to the table without a
// scenario here fails the walk: a knob that is accepted and ignored is a lie
// to whoever sets it (issue 12).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "netns/devconf.hpp"
#include "ipv6/devconf6.hpp"
#include "ipv6/ipv6_net.hpp"
#include "ipv6/neighbour6.hpp"
#include "ipv6/stack.hpp"
#include "stack/builtins.hpp"
#include "netns/ipv4.hpp"
#include "netns/ipv6.hpp"
#include "netns/wire/ipv6.hpp"
#include "netns/wire/ipv6_ext.hpp"
#include "netns/wire/checksum.hpp"
#include "netns/wire/ethernet.hpp"
#include "netns/wire/ndp.hpp"
#include "netns/wire/udp.hpp"
#include "netns/sysctl.hpp"
#include "netns/tcp.hpp"
#include "netns/udp.hpp"
#include "conntrack/conntrack.hpp"
#include "netns/conntrack.hpp"
#include "support/ct_packets.hpp"
#include "support/fixtures.hpp"
#include "support/ipv4_frames.hpp"
#include "support/tcp_peer.hpp"

namespace netns {
namespace {
namespace core_sysctl_walk_test {

using namespace std::chrono_literals;
using support::Bytes;
using support::kTcpLocal;
using support::kTcpPeer;
using support::kTcpPeerMac;
using support::PeerOptions;

const Ipv4Address kStranger(192, 0, 2, 3);  // on eth0's subnet, not yet a neighbour
const MacAddress kStrangerMac{0x02, 0, 0, 0, 0, 0x03};
constexpr std::uint32_t kPeerBase = support::kTcpPeerIss + 1;  // the peer's first data byte

// One namespace "dut": eth0 (a channel) at 192.0.2.1/24 with lo up, the
// peer 192.0.2.2 a permanent neighbour, and a scripted TCP peer on eth0 (as
// TcpPeerTest's). Built anew for each run of a scenario.
struct Lab {
  Lab() {
    net = host.create_net("dut").value();
    eth0 = make_channel(*net, "eth0").value();
    EXPECT_TRUE(set_link_up(*eth0));
    EXPECT_TRUE(set_link_up(net->loopback()));
    EXPECT_TRUE(ipv4::add_address(*net, *eth0, Ipv4Prefix(kTcpLocal, 24)));
    EXPECT_TRUE(ipv4::add_neighbour(*net, *eth0, kTcpPeer, kTcpPeerMac));
    peer.attach(host, clock, *eth0, {kTcpPeer, support::kTcpPeerPort}, {kTcpLocal, support::kTcpLocalPort});
  }

  void set(std::string_view name, std::string_view value) {
    auto ok = net->sysctl().set(name, value);
    EXPECT_TRUE(ok) << name << " = " << value;
  }
  std::uint64_t counter(std::string_view name) const { return net->counters().get(name); }
  std::string counters() const {
    std::string out;
    for (const auto& [name, value] : net->counters().nonzero()) out += fmt::format("{}={} ", name, value);
    return out;
  }

  // ---- frames, for IPv4-level scenarios ----
  void inject(const Bytes& frame) {
    eth0->inject(frame);
    host.poll(clock.now());
  }
  Bytes from_peer(const support::IpFields& ip, std::span<const std::byte> payload) const {
    return support::ipv4_frame(eth0->mac(), kTcpPeerMac, ip, payload);
  }
  Bytes udp_from_peer(std::uint16_t src_port, std::uint16_t dst_port, std::size_t size = 32) const {
    return support::udp_frame(eth0->mac(), kTcpPeerMac, kTcpPeer, kTcpLocal, src_port, dst_port, size);
  }
  Bytes ping_from_peer(std::uint16_t seq, Ipv4Address dst = kTcpLocal) const {
    return support::echo_request_frame(eth0->mac(), kTcpPeerMac, kTcpPeer, dst, 7, seq, 16);
  }
  // Everything eth0 sent since the last call, one line each.
  std::string frames() {
    std::string out;
    while (auto f = eth0->read()) out += describe(*f) + "\n";
    return out;
  }
  // Runs `span` of virtual time from deadline to deadline; every frame sent,
  // with the millisecond it left.
  std::string run(Clock::duration span) {
    std::string out;
    const auto end = clock.now() + span;
    for (int i = 0; i < 100'000; ++i) {
      const auto next = host.poll(clock.now());
      while (auto f = eth0->read()) out += fmt::format("{} {}\n", ms(), describe(*f));
      if (next > end) break;
      if (next > clock.now()) clock.set(next);
    }
    clock.set(end);
    host.poll(end);
    while (auto f = eth0->read()) out += fmt::format("{} {}\n", ms(), describe(*f));
    return out;
  }
  long ms() const {
    return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(clock.now().time_since_epoch()).count());
  }
  static std::string describe(std::span<const std::byte> frame) {
    const support::Parsed p = support::parse_frame(frame);
    if (p.arp) return fmt::format("arp {} {}", static_cast<int>(p.arp->operation), p.arp->target_ip);
    if (!p.ip) return "other";
    std::string out = fmt::format("ip {}>{} p{} ttl{} df{} id{} len{}", p.ip->src, p.ip->dst,
                                  static_cast<int>(p.ip->protocol), p.ip->ttl, p.ip->dont_fragment,
                                  p.ip->identification, p.ip->payload_len);
    if (p.icmp) out += fmt::format(" icmp {}/{}", static_cast<int>(p.icmp->type), p.icmp->code);
    if (p.udp) out += fmt::format(" udp {}>{}", p.udp->src_port, p.udp->dst_port);
    return out;
  }

  // ---- TCP, through the scripted peer ----
  std::string segments() {
    std::string out;
    while (peer.pending() != 0) {
      const support::TcpSegment s = peer.expect();
      out += fmt::format("{} {}\n", std::chrono::duration_cast<std::chrono::milliseconds>(s.at.time_since_epoch()).count(),
                         support::describe(s.tcp));
    }
    return out;
  }
  tcp::Listener listen(int backlog = 128) {
    auto l = tcp::listen(*net, {Ipv4Address::any(), support::kTcpLocalPort}, backlog);
    EXPECT_TRUE(l);
    return l ? std::move(*l) : tcp::Listener();
  }
  // A connection from the peer, accepted; the handshake's segments consumed.
  tcp::Stream established(const PeerOptions& opts = {}) {
    listener = listen();
    peer.connect(opts);
    auto s = listener.accept();
    EXPECT_TRUE(s);
    return s ? std::move(*s) : tcp::Stream();
  }
  // The namespace closes first and the peer answers the FIN with its own:
  // the connection is in TIME_WAIT.
  void into_time_wait(tcp::Stream& s) {
    s.close();
    const support::TcpSegment fin = peer.expect(support::kTcpFin | support::kTcpAck);
    peer.ack(fin);
    peer.send_fin();
    peer.run_for(10ms);
  }
  std::string info(const tcp::Stream& s) const {
    const tcp::Info i = s.info();
    return fmt::format("{} cwnd{} ssthresh{} rcvbuf{} reord{} minrtt{} retrans{} {}", to_string(i.state), i.cwnd,
                       i.ssthresh, i.rcvbuf, i.reordering, i.min_rtt_us, i.retransmits, i.ca_state);
  }

  std::vector<std::string> messages;
  VirtualClock clock;
  Host host{support::test_config(&messages)};
  NetRef net;
  ChannelDevice* eth0 = nullptr;
  support::TcpPeer peer;
  tcp::Listener listener;
};

// ---- helpers shared by several scenarios ----

Bytes payload(std::size_t n) { return Bytes(n, std::byte{0x5a}); }

udp::Socket udp_socket(Lab& lab, Endpoint local) {
  auto s = udp::open(*lab.net);
  EXPECT_TRUE(s);
  if (!s) return {};
  EXPECT_TRUE(s->bind(local));
  return std::move(*s);
}

// Datagrams a socket on port 5000 takes when 40 of 1000 bytes arrive at once.
std::string udp_burst(Lab& lab) {
  auto sock = udp_socket(lab, {kTcpLocal, 5000});
  for (std::uint16_t i = 0; i < 40; ++i) lab.eth0->inject(lab.udp_from_peer(1000, 5000, 1000));
  lab.host.poll(lab.clock.now());
  std::array<std::byte, 2048> buf{};
  int got = 0;
  while (sock.receive_from(buf)) ++got;
  return fmt::format("{} {}", got, lab.counters());
}

// Ten datagrams to a closed port: the ICMP port unreachables sent.
std::string closed_port_burst(Lab& lab, int n = 10) {
  for (int i = 0; i < n; ++i) lab.inject(lab.udp_from_peer(static_cast<std::uint16_t>(1000 + i), 9));
  return lab.frames() + lab.counters();
}

// One datagram to eth0's own address from the peer, in two fragments of the
// 72-byte UDP payload (the first carrying 64 bytes, the second the rest).
std::array<Bytes, 2> udp_fragments(Lab& lab, std::uint16_t dst_port) {
  const Bytes whole = lab.udp_from_peer(1000, dst_port, 64);  // 8 + 64 bytes of UDP
  constexpr std::size_t kEth = 14, kIp = 20, kFirst = 64;
  auto make = [&](std::size_t from, std::size_t len, bool more) {
    Bytes f(kEth + kIp + len);
    std::copy_n(whole.begin(), kEth + kIp, f.begin());
    std::copy_n(whole.begin() + static_cast<std::ptrdiff_t>(kEth + kIp + from), len,
                f.begin() + static_cast<std::ptrdiff_t>(kEth + kIp));
    const auto total = static_cast<std::uint16_t>(kIp + len);
    const auto flags = static_cast<std::uint16_t>((more ? 0x2000 : 0) | (from / 8));
    f[kEth + 2] = std::byte(total >> 8);
    f[kEth + 3] = std::byte(total & 0xff);
    f[kEth + 6] = std::byte(flags >> 8);
    f[kEth + 7] = std::byte(flags & 0xff);
    f[kEth + 10] = f[kEth + 11] = std::byte{0};
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i < kIp; i += 2) {
      sum += (std::to_integer<std::uint32_t>(f[kEth + i]) << 8) | std::to_integer<std::uint32_t>(f[kEth + i + 1]);
    }
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
    const auto check = static_cast<std::uint16_t>(~sum);
    f[kEth + 10] = std::byte(check >> 8);
    f[kEth + 11] = std::byte(check & 0xff);
    return f;
  };
  const std::size_t udp_len = whole.size() - kEth - kIp;
  return {make(0, kFirst, true), make(kFirst, udp_len - kFirst, false)};
}

// A datagram to the stranger 192.0.2.3: ARP first, the datagram queued.
std::string send_to_stranger(Lab& lab, int datagrams = 1) {
  auto sock = udp_socket(lab, {kTcpLocal, 5000});
  for (int i = 0; i < datagrams; ++i) (void)sock.send_to(payload(100), {kStranger, 9});
  return lab.run(10s);
}

// The stranger answers ARP: it becomes a reachable neighbour.
void answer_arp(Lab& lab, Ipv4Address who, MacAddress mac) {
  lab.inject(support::arp_frame(wire::ArpOperation::reply, mac, who, lab.eth0->mac(), kTcpLocal, lab.eth0->mac()));
}

std::string resolve_stranger_then_wait(Lab& lab, Clock::duration wait) {
  auto sock = udp_socket(lab, {kTcpLocal, 5000});
  (void)sock.send_to(payload(100), {kStranger, 9});
  lab.host.poll(lab.clock.now());
  answer_arp(lab, kStranger, kStrangerMac);
  (void)lab.run(wait);
  return ipv4::dump_neighbours(*lab.net);
}

// Five datagrams to the stranger before it answers ARP: how many leave after.
std::string queued_for_stranger(Lab& lab) {
  auto sock = udp_socket(lab, {kTcpLocal, 5000});
  for (int i = 0; i < 5; ++i) (void)sock.send_to(payload(100), {kStranger, 9});
  lab.host.poll(lab.clock.now());
  (void)lab.frames();
  answer_arp(lab, kStranger, kStrangerMac);
  return lab.frames() + lab.counters();
}

// An echo request with a loose source route whose route is used up, as the
// last hop sees it: only accepted where source routing is.
std::string source_routed_ping(Lab& lab) {
  const Bytes icmp_frame = lab.ping_from_peer(1);
  const Bytes icmp(icmp_frame.begin() + 34, icmp_frame.end());
  support::IpFields ip{.src = kTcpPeer, .dst = kTcpLocal};
  ip.options = {std::byte{0x83}, std::byte{7}, std::byte{8}, std::byte{192}, std::byte{0}, std::byte{2},
                std::byte{1}, std::byte{0x01}};
  lab.inject(lab.from_peer(ip, icmp));
  return lab.frames() + lab.counters();
}

// An echo request claiming to come from the namespace's own address (LAND).
std::string ping_from_ourselves(Lab& lab) {
  const Bytes icmp_frame = lab.ping_from_peer(1);
  const Bytes icmp(icmp_frame.begin() + 34, icmp_frame.end());
  lab.inject(lab.from_peer({.src = kTcpLocal, .dst = kTcpLocal}, icmp));
  (void)lab.run(10ms);
  const auto stats = ipv4::route_cache_stats(*lab.net);
  return fmt::format("martian_src {} {}", stats.in_martian_src, lab.counters());
}

// A martian (a source in 127/8 off the loopback): logged or not.
std::string martian_logged(Lab& lab) {
  const Bytes icmp_frame = lab.ping_from_peer(1);
  const Bytes icmp(icmp_frame.begin() + 34, icmp_frame.end());
  const std::size_t before = lab.messages.size();
  lab.inject(lab.from_peer({.src = Ipv4Address(127, 0, 0, 9), .dst = kTcpLocal}, icmp));
  return fmt::format("{} messages", lab.messages.size() - before);
}

// A datagram from the peer to another host on eth0's link, sent to us as
// its first hop: forwarded back out (with a redirect) or refused.
std::string hairpin(Lab& lab) {
  lab.inject(support::udp_frame(lab.eth0->mac(), kTcpPeerMac, kTcpPeer, kStranger, 1000, 9, 16));
  return lab.frames() + lab.counters();
}

// Forwarding on a device made after the knob was set: eth1, whose frames
// go out of eth0 to the peer when eth1 forwards.
std::string forwarded_from_new_device(Lab& lab) {
  ChannelDevice* eth1 = make_channel(*lab.net, "eth1").value();
  EXPECT_TRUE(set_link_up(*eth1));
  EXPECT_TRUE(ipv4::add_address(*lab.net, *eth1, Ipv4Prefix(Ipv4Address(203, 0, 113, 1), 24)));
  eth1->inject(support::udp_frame(eth1->mac(), kStrangerMac, Ipv4Address(203, 0, 113, 2), kTcpPeer, 1000, 9, 16));
  lab.host.poll(lab.clock.now());
  return lab.frames() + lab.counters();
}

// A datagram to us from a source no route leads back to.
std::string unroutable_source(Lab& lab) {
  lab.inject(support::udp_frame(lab.eth0->mac(), kTcpPeerMac, Ipv4Address(198, 51, 100, 7), kTcpLocal, 1000, 9, 16));
  return fmt::format("martian_src {} {}", ipv4::route_cache_stats(*lab.net).in_martian_src, lab.counters());
}

// The peer, our gateway to 198.51.100.0/24, redirects us to the stranger:
// the first hop route_output then gives.
std::string redirected(Lab& lab) {
  const Ipv4Address far(198, 51, 100, 9);
  EXPECT_TRUE(ipv4::add_neighbour(*lab.net, *lab.eth0, kStranger, kStrangerMac));
  EXPECT_TRUE(ipv4::add_route(*lab.net, {.prefix = Ipv4Prefix(Ipv4Address(198, 51, 100, 0), 24), .via = kTcpPeer}));
  const Bytes ours = support::udp_frame(kTcpPeerMac, lab.eth0->mac(), kTcpLocal, far, 4000, 5000, 8);
  Bytes icmp(8 + 28);
  std::copy_n(ours.begin() + 14, 28, icmp.begin() + 8);
  wire::IcmpRepr{wire::IcmpType::redirect, 1, kStranger.value, 28}.emit(icmp);
  lab.inject(lab.from_peer({.src = kTcpPeer, .dst = kTcpLocal}, icmp));
  return fmt::format("{} {}", ipv4::route_output(*lab.net, far).value().next_hop, lab.counters());
}

void forwarding_on(Lab& lab) { lab.set("net.ipv4.ip_forward", "1"); }

// The SYN-ACK a listener answers the peer's SYN with.
std::string synack(Lab& lab, const PeerOptions& opts = {}) {
  auto l = lab.listen();
  lab.peer.send(lab.peer.syn(opts));
  lab.peer.run_for(1ms);
  return lab.segments() + lab.counters();
}

// The namespace's SYNs when nobody answers.
std::string unanswered_connect(Lab& lab, Clock::duration span) {
  auto s = tcp::connect(*lab.net, lab.peer.self());
  EXPECT_TRUE(s);
  lab.peer.run_for(span);
  return lab.segments() + lab.counters();
}

// Data the peer never acknowledges: what the namespace sends meanwhile.
std::string unacknowledged(Lab& lab, Clock::duration span, bool close) {
  auto s = lab.established();
  (void)s.write(payload(1000));
  if (close) s.close();
  lab.peer.run_for(span);
  return lab.segments() + lab.counters() + tcp::dump_sockets(*lab.net);
}

// 10 KB sent (seven segments); the peer SACKs `sacked` of them above the first, at once.
std::string sack_above_a_hole(Lab& lab, std::uint32_t sacked, Clock::duration after) {
  auto s = lab.established();
  (void)s.write(payload(10 * 1000));
  lab.peer.run_for(1ms);
  std::vector<support::TcpSegment> sent;
  while (lab.peer.pending() != 0) sent.push_back(lab.peer.expect());
  if (sent.size() < 1 + sacked) return "too few segments";
  wire::TcpRepr ack = lab.peer.segment();
  ack.sack_block_count = 1;
  ack.sack_blocks[0] = {sent[1].seq(), sent[sacked].end()};
  lab.peer.send(ack);
  lab.peer.run_for(after);
  return lab.segments() + lab.info(s) + lab.counters();
}

// ---- IPv6's neighbour table (net.ipv6.neigh.default.*) ----

const Ipv6Address kNdpLocal(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const Ipv6Address kNdpStranger(0x2001, 0xdb8, 0, 0, 0, 0, 0, 3);

// The IPv6 table on eth0 with the layer's answers scripted (2001:db8::1 is
// ours); it reads the namespace's net.ipv6.neigh.default.* as it goes.
struct Ndp final : ipv6::Ipv6NeighbourLayer {
  explicit Ndp(Lab& l) : lab(l), table(*l.net, *this) {}
  bool is_local(Net&, const Device&, const Ipv6Address& a) override { return a == kNdpLocal; }
  bool is_anycast(Net&, const Device&, const Ipv6Address&) override { return false; }
  bool is_tentative(Net&, const Device&, const Ipv6Address&) override { return false; }
  void dad_conflict(Net&, Device&, const Ipv6Address&) override {}
  Ipv6Address solicit_source(Net&, const Device&, const Ipv6Address&) override { return kNdpLocal; }
  bool is_router(Net&, const Device&) override { return false; }
  void router_lost(Net&, Device&, const Ipv6Address&) override {}
  void error_report(Net&, const Packet&) override { ++unreachable; }
  NdpTimes advertised_ndp_times(Net&, const Device&) override { return {}; }

  void send(const Ipv6Address& to, int datagrams = 1) {
    for (int i = 0; i < datagrams; ++i) {
      Packet p = lab.host.packets().allocate(wire::Ipv6Repr::kHeaderLen + 100);
      wire::Ipv6Repr{.src = kNdpLocal, .dst = to, .next_header = wire::IpProtocol::udp, .payload_len = 100}.emit(
          p.mutable_data());
      table.output(*lab.eth0, to, std::move(p));
    }
    lab.host.poll(lab.clock.now());
  }
  // `who` answers at `mac`: solicited (REACHABLE) or not (STALE).
  void advertise(const Ipv6Address& who, MacAddress mac, bool solicited) {
    const wire::NeighbourAdvertRepr na{.target = who, .solicited = solicited, .override = true, .target_link = mac};
    std::vector<std::byte> bytes(wire::Ipv6Repr::kHeaderLen + na.buffer_len());
    wire::Ipv6Repr{.src = who, .dst = kNdpLocal, .next_header = wire::IpProtocol::icmpv6, .hop_limit = 255,
                   .payload_len = na.buffer_len()}
        .emit(bytes);
    na.emit(std::span(bytes).subspan(wire::Ipv6Repr::kHeaderLen), who, kNdpLocal);
    Packet message = lab.host.packets().allocate(na.buffer_len());
    std::ranges::copy(std::span(bytes).subspan(wire::Ipv6Repr::kHeaderLen), message.mutable_data().begin());
    table.process_ndp(*lab.eth0, *wire::Ipv6View::checked(bytes), std::move(message));
    lab.host.poll(lab.clock.now());
  }
  void resolve(const Ipv6Address& who, MacAddress mac, bool solicited = true) {
    send(who);
    advertise(who, mac, solicited);
  }
  std::string state() {
    const auto s = table.stats();
    return fmt::format("{}unresolved={} unreachable={} discards={}", table.dump(), s.unresolved, unreachable,
                       s.unres_discards);
  }

  Lab& lab;
  ipv6::NeighbourTable table;
  int unreachable = 0;
};

MacAddress ndp_mac(std::uint8_t i) { return MacAddress{0x02, 0, 0, 0, 0x66, i}; }
Ipv6Address ndp_host(std::uint16_t i) { return Ipv6Address(0x2001, 0xdb8, 0, 0, 0, 0, 1, i); }

// Five datagrams to the stranger before it answers: how many leave after.
std::string ndp_queued_for_stranger(Lab& lab) {
  Ndp ndp(lab);
  ndp.send(kNdpStranger, 5);
  (void)lab.frames();
  ndp.advertise(kNdpStranger, kStrangerMac, true);
  return lab.frames() + ndp.state();
}

// Fragments of an IPv6 datagram (nothing after them: next header 59) to
// eth0's address: the first, and with `both` the last too.
std::string ipv6_fragments_in(Lab& lab, bool both) {
  const Ipv6Address local(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), peer(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
  EXPECT_TRUE(ipv6::add_address(*lab.net, *lab.eth0, Ipv6Prefix(local, 64)));
  lab.peer.run_for(3s);  // past DAD
  (void)lab.frames();
  for (std::size_t offset : {std::size_t{0}, std::size_t{64}}) {
    if (offset != 0 && !both) break;
    Bytes frame(14 + 48 + 64);
    wire::EthernetRepr{lab.eth0->mac(), kTcpPeerMac, wire::EtherType::ipv6}.emit(frame);
    wire::Ipv6Repr{.src = peer, .dst = local, .next_header = wire::IpProtocol::ipv6_fragment, .hop_limit = 64,
                   .payload_len = 72}
        .emit(std::span(frame).subspan(14));
    wire::Ipv6FragmentRepr{.next_header = 59, .offset = offset, .more = offset == 0, .identification = 7}.emit(
        std::span(frame).subspan(54));
    lab.inject(frame);
  }
  return lab.counters();
}

// ---- connection tracking (fed by hand until the hooks call it) ----

// One datagram for conntrack, after `wait` of virtual time.
struct CtStep {
  support::ct::Bytes datagram;
  Clock::duration wait{};
};

// Runs the lab's Host for `span`, timers at their instants.
void ct_run_for(Lab& lab, Clock::duration span) {
  const auto end = lab.clock.now() + span;
  for (int i = 0; i < 100000; ++i) {
    const auto next = lab.host.poll(lab.clock.now());
    if (next > end) break;
    if (next > lab.clock.now()) lab.clock.set(next);
  }
  lab.clock.set(end);
  lab.host.poll(lab.clock.now());
}

// Feeds the steps to the namespace's tracker as the output hook will, each
// confirmed, and says what the table then holds (`conntrack -L`) and counted.
std::string conntrack_after(Lab& lab, const std::vector<CtStep>& steps) {
  auto& tracker = lab.host.builtins().conntrack();
  for (const CtStep& step : steps) {
    ct_run_for(lab, step.wait);
    const Family family = (std::to_integer<int>(step.datagram[0]) >> 4) == 6 ? Family::ipv6 : Family::ipv4;
    auto t = tracker.track(*lab.net, family, step.datagram, {.hook = conntrack::Hook::output});
    if (t.ct && !tracker.confirm(*lab.net, t)) return "insert failed";
  }
  const auto stats = conntrack::stats(*lab.net);
  return fmt::format("{}invalid={} drop={} early_drop={}", conntrack::dump(*lab.net), stats.invalid, stats.drop,
                     stats.early_drop);
}

namespace ctp = support::ct;
const Ipv4Address kCtA(192, 0, 2, 1);
const Ipv4Address kCtB(192, 0, 2, 2);

std::vector<CtStep> ct_handshake() {
  return {{ctp::tcp4(kCtA, 40000, kCtB, 80, ctp::kSyn, 1000, 0)},
          {ctp::tcp4(kCtB, 80, kCtA, 40000, ctp::kSyn | ctp::kAck, 5000, 1001)},
          {ctp::tcp4(kCtA, 40000, kCtB, 80, ctp::kAck, 1001, 5001)}};
}

// The handshake, then `more`.
std::string ct_tcp(Lab& lab, std::vector<CtStep> more) {
  std::vector<CtStep> steps = ct_handshake();
  for (CtStep& s : more) steps.push_back(std::move(s));
  return conntrack_after(lab, steps);
}

CtStep ct_fin_from_a() { return {ctp::tcp4(kCtA, 40000, kCtB, 80, ctp::kFin | ctp::kAck, 1001, 5001)}; }
CtStep ct_ack_from_b() { return {ctp::tcp4(kCtB, 80, kCtA, 40000, ctp::kAck, 5001, 1002)}; }
CtStep ct_fin_from_b() { return {ctp::tcp4(kCtB, 80, kCtA, 40000, ctp::kFin | ctp::kAck, 5001, 1002)}; }
CtStep ct_last_ack() { return {ctp::tcp4(kCtA, 40000, kCtB, 80, ctp::kAck, 1002, 5002)}; }

// ---- the scenarios ----

struct Scenario {
  std::string_view name;
  std::string_view value;  // not the default
  std::string (*observe)(Lab&);
  void (*prepare)(Lab&) = nullptr;  // settings both runs share
};

// An IPv6 datagram to all-nodes arriving on eth0: delivered, or discarded
// where IPv6 is off.
std::string ipv6_all_nodes_input(Lab& lab) {
  Bytes frame(14 + 40);
  wire::EthernetRepr{MacAddress(0x33, 0x33, 0, 0, 0, 1), kTcpPeerMac, wire::EtherType::ipv6}.emit(frame);
  wire::Ipv6Repr{.src = Ipv6Address(0xfe80, 0, 0, 0, 0, 0, 0, 2), .dst = Ipv6Address(0xff02, 0, 0, 0, 0, 0, 0, 1),
                 .next_header = wire::IpProtocol::ipv6_none}
      .emit(std::span(frame).subspan(14));
  lab.inject(frame);
  return fmt::format("delivered {} discarded {}", lab.counter("Ip6InDelivers"), lab.counter("Ip6InDiscards"));
}

// The IPv6 addresses a device created now gets when it comes up.
std::string ipv6_addresses_of_new_device(Lab& lab) {
  auto* eth1 = make_channel(*lab.net, "eth1").value();
  EXPECT_TRUE(set_link_up(*eth1));
  std::size_t n = 0;
  for (const auto& a : ipv6::addresses(*lab.net)) n += a.dev == eth1;
  return fmt::format("{} addresses", n);
}

// ---- net.ipv6.conf.* ----

// The device a `default` scenario watches: made after the knob was set, up.
Device& new_ipv6_device(Lab& lab) {
  Device* eth1 = make_channel(*lab.net, "eth1").value();
  EXPECT_TRUE(set_link_up(*eth1));
  return *eth1;
}

// A datagram to all-routers on `dev`: delivered only where dev is a router.
std::string ipv6_all_routers_input(Lab& lab, Device& dev) {
  Bytes frame(14 + 40);
  wire::EthernetRepr{MacAddress(0x33, 0x33, 0, 0, 0, 2), kTcpPeerMac, wire::EtherType::ipv6}.emit(frame);
  wire::Ipv6Repr{.src = Ipv6Address(0xfe80, 0, 0, 0, 0, 0, 0, 2), .dst = Ipv6Address(0xff02, 0, 0, 0, 0, 0, 0, 2),
                 .next_header = wire::IpProtocol::ipv6_none}
      .emit(std::span(frame).subspan(14));
  static_cast<ChannelDevice&>(dev).inject(frame);
  lab.host.poll(lab.clock.now());
  return fmt::format("delivered {} router {}", lab.counter("Ip6InDelivers"),
                     lab.host.builtins().ipv6().is_router(*lab.net, dev));
}

// A default route an RA taught on `dev`, after forwarding comes on: gone,
// unless dev takes RAs even when forwarding (accept_ra 2).
std::string ipv6_ra_route_after_forwarding(Lab& lab, Device& dev) {
  const Ipv6Address router(0xfe80, 0, 0, 0, 0, 0, 0, 1);
  EXPECT_TRUE(lab.host.builtins().ipv6().state(*lab.net).routes.insert(
      {.prefix = Ipv6Prefix(Ipv6Address{}, 0), .via = router, .dev = &dev, .protocol = 9}));
  lab.set("net.ipv6.conf.all.forwarding", "1");
  return ipv6::dump_routes(*lab.net);
}

// Whether an address added to `dev` now is tentative (DAD runs).
std::string ipv6_address_tentative(Lab& lab, Device& dev) {
  const Ipv6Address a(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
  EXPECT_TRUE(ipv6::add_address(*lab.net, dev, Ipv6Prefix(a, 64)));
  for (const auto& info : ipv6::addresses(*lab.net)) {
    if (info.prefix.address() == a) return fmt::format("tentative {}", info.tentative);
  }
  return "missing";
}

// The hop limit of a datagram the layer sends through `dev` without one.
std::string ipv6_hop_limit_sent(Lab& lab, Device& dev) {
  const Ipv6Address me(0xfe80, 0, 0, 0, 0, 0, 0, 1), peer(0xfe80, 0, 0, 0, 0, 0, 0, 2);
  ipv6::Ipv6Stack& layer = lab.host.builtins().ipv6();
  EXPECT_TRUE(layer.state(*lab.net).neighbours().add_permanent(dev, peer, kTcpPeerMac));
  Packet payload = lab.host.packets().allocate(8);
  EXPECT_TRUE(layer.send(*lab.net, std::move(payload), {.src = me, .dst = peer},
                         {.dev = &dev, .next_hop = peer, .source = me}));
  lab.host.poll(lab.clock.now());
  std::string out;
  auto& channel = static_cast<ChannelDevice&>(dev);
  while (auto f = channel.read()) {
    auto ip = wire::Ipv6View::checked(std::span(*f).subspan(14));
    if (ip && ip->next_header() == static_cast<std::uint8_t>(wire::IpProtocol::udp)) out += fmt::format("hop limit {} ", ip->hop_limit());
  }
  return out;
}

// The IPv6 MTU the layer sends to through eth0.
std::string ipv6_path_mtu(Lab& lab) {
  return fmt::format("mtu {}", lab.host.builtins().ipv6().path_mtu(*lab.net, Ipv6Address(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2),
                                                                    *lab.eth0));
}

// The link-local addresses eth0 gets when it comes up again.
std::string ipv6_link_local_after_up(Lab& lab) {
  EXPECT_TRUE(set_link_up(*lab.eth0, false));
  EXPECT_TRUE(set_link_up(*lab.eth0));
  std::string out;
  for (const auto& a : ipv6::addresses(*lab.net)) {
    if (a.dev == lab.eth0) out += a.prefix.to_string() + " ";
  }
  return out;
}

// The addresses `dev` autoconfigures from a router advertisement carrying
// 2001:db8:5::/64 with the A flag (RFC 4862 5.5.3).
std::string ipv6_slaac_addresses(Lab& lab, Device& dev) {
  const Ipv6Address router(0xfe80, 0, 0, 0, 0, 0, 0, 1);
  const wire::RouterAdvertRepr ra{
      .router_lifetime = 1800,
      .source_link = kTcpPeerMac,
      .prefixes = {{.prefix = Ipv6Prefix(Ipv6Address(0x2001, 0xdb8, 5, 0, 0, 0, 0, 0), 64),
                    .on_link = true, .autonomous = true, .valid_lifetime = 86400, .preferred_lifetime = 14400}}};
  Bytes frame(14 + 40 + ra.buffer_len());
  wire::EthernetRepr{wire::ipv6_multicast_mac(wire::kAllNodes), kTcpPeerMac, wire::EtherType::ipv6}.emit(frame);
  wire::Ipv6Repr{.src = router, .dst = wire::kAllNodes, .next_header = wire::IpProtocol::icmpv6, .hop_limit = 255,
                 .payload_len = ra.buffer_len()}
      .emit(std::span(frame).subspan(14));
  ra.emit(std::span(frame).subspan(54), router, wire::kAllNodes);
  static_cast<ChannelDevice&>(dev).inject(frame);
  lab.run(std::chrono::seconds(3));  // DAD
  std::string out;
  for (const auto& a : ipv6::addresses(*lab.net)) {
    if (a.dev == &dev && !a.prefix.address().is_link_local()) out += a.prefix.to_string() + " ";
  }
  return out.empty() ? "no address" : out;
}

// An IPv6 path MTU learned from a Packet Too Big, 30 s later.
std::string ipv6_pmtu_after_30s(Lab& lab) {
  const Ipv6Address local(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), router(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
  const Ipv6Address far(0x2001, 0xdb8, 0x77, 0, 0, 0, 0, 9);
  EXPECT_TRUE(ipv6::add_address(*lab.net, *lab.eth0, Ipv6Prefix(local, 64)));
  lab.peer.run_for(3s);  // past DAD
  EXPECT_TRUE(ipv6::add_route(*lab.net, {.prefix = Ipv6Prefix(far, 48), .via = router}));
  Bytes message(8 + 40 + 8);
  wire::store_u8(message, 0, 2);
  wire::store_be32(message, 4, 1400);
  wire::Ipv6Repr{.src = local, .dst = far, .next_header = wire::IpProtocol::udp, .payload_len = 1452}.emit(
      std::span(message).subspan(8));
  wire::store_be16(message, 2, wire::ipv6_transport_checksum(router, local, 58, message));
  Bytes frame(14 + 40 + message.size());
  wire::EthernetRepr{lab.eth0->mac(), kTcpPeerMac, wire::EtherType::ipv6}.emit(frame);
  wire::Ipv6Repr{.src = router, .dst = local, .next_header = wire::IpProtocol::icmpv6, .payload_len = message.size()}
      .emit(std::span(frame).subspan(14));
  std::copy(message.begin(), message.end(), frame.begin() + 54);
  lab.inject(frame);
  lab.peer.run_for(30s);
  return fmt::format("pmtu {}", ipv6::path_mtu(*lab.net, far).value());
}

// `n` UDP datagrams from 2001:db8::2 to a closed port at once: the port
// unreachables sent and those the per-destination limit held back.
std::string ipv6_closed_port_burst(Lab& lab, int n) {
  const Ipv6Address local(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), peer(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
  EXPECT_TRUE(ipv6::add_address(*lab.net, *lab.eth0, Ipv6Prefix(local, 64)));
  lab.peer.run_for(3s);  // past DAD
  EXPECT_TRUE(ipv6::add_neighbour(*lab.net, *lab.eth0, peer, kTcpPeerMac));
  for (int i = 0; i < n; ++i) {
    Bytes frame(14 + 40 + 8);
    wire::EthernetRepr{lab.eth0->mac(), kTcpPeerMac, wire::EtherType::ipv6}.emit(frame);
    wire::Ipv6Repr{.src = peer, .dst = local, .next_header = wire::IpProtocol::udp, .hop_limit = 64, .payload_len = 8}
        .emit(std::span(frame).subspan(14));
    wire::UdpRepr{.src_port = 4000, .dst_port = 9, .payload_len = 0}.emit(std::span(frame).subspan(54), peer, local);
    lab.inject(frame);
  }
  return fmt::format("unreachables {} limited {}", lab.counter("Icmp6OutDestUnreachs"),
                     lab.counter("Icmp6OutRateLimitHost"));
}

// eth0 down and up with an RFC 7217 secret (written in preparation), a DAD
// conflict on its stable link-local address as NDP reports one: eth0's
// addresses 3.5 s later, and their state.
std::string ipv6_stable_dad_conflict(Lab& lab) {
  EXPECT_TRUE(set_link_up(*lab.eth0, false));
  EXPECT_TRUE(set_link_up(*lab.eth0));
  for (const auto& a : ipv6::addresses(*lab.net)) {
    if (a.dev == lab.eth0 && a.stable_privacy && a.tentative) {
      lab.host.builtins().ipv6().dad_conflict(*lab.net, *lab.eth0, a.prefix.address());
    }
  }
  (void)lab.run(3500ms);
  std::string out;
  for (const auto& a : ipv6::addresses(*lab.net)) {
    if (a.dev == lab.eth0) out += fmt::format("{} tentative {} dadfailed {}; ", a.prefix, a.tentative, a.dad_failed);
  }
  return out;
}

void stable_secret_on_eth0(Lab& lab) { lab.set("net.ipv6.conf.eth0.stable_secret", "2001:db8::1"); }

const Scenario kScenarios[] = {
    // ---- net.core ----
    {"net.core.netdev_max_backlog", "1",
     [](Lab& lab) {
       for (std::uint16_t i = 0; i < 5; ++i) lab.eth0->inject(lab.ping_from_peer(i));
       lab.host.poll(lab.clock.now());
       return lab.frames();
     }},
    {"net.core.somaxconn", "1",
     [](Lab& lab) {
       auto l = lab.listen(128);
       return tcp::dump_sockets(*lab.net);
     }},
    {"net.core.rmem_default", "2304", udp_burst},
    {"net.core.sockets_max", "1",
     [](Lab& lab) {
       std::string out;
       std::vector<udp::Socket> open;
       for (int i = 0; i < 3; ++i) {
         auto s = udp::open(*lab.net);
         out += s ? "ok " : s.error().message() + " ";
         if (s) open.push_back(std::move(*s));
       }
       return out;
     }},
    {"net.core.packet_mem_max", "0", udp_burst},
    // ---- IPv4 ----
    {"net.ipv4.ip_forward", "1",
     [](Lab& lab) {
       // For the stranger, sent to our MAC: a router resolves it and forwards.
       Bytes frame = support::udp_frame(lab.eth0->mac(), kTcpPeerMac, kTcpPeer, kStranger, 1000, 9, 32);
       lab.inject(frame);
       return lab.run(10ms) + lab.counters();
     }},
    {"net.ipv4.ip_default_ttl", "9",
     [](Lab& lab) {
       auto sock = udp_socket(lab, {kTcpLocal, 5000});
       (void)sock.send_to(payload(10), {kTcpPeer, 9});
       return lab.run(1ms);
     }},
    {"net.ipv4.ip_local_port_range", "40000 40000",
     [](Lab& lab) {
       auto sock = udp_socket(lab, {Ipv4Address::any(), 0});
       return sock.local_endpoint().to_string();
     }},
    {"net.ipv4.ip_no_pmtu_disc", "1",
     [](Lab& lab) {
       auto sock = udp_socket(lab, {kTcpLocal, 5000});
       (void)sock.send_to(payload(10), {kTcpPeer, 9});
       return lab.run(1ms);
     }},
    {"net.ipv4.ip_nonlocal_bind", "1",
     [](Lab& lab) {
       auto s = udp::open(*lab.net);
       if (!s) return std::string("no socket");
       auto r = s->bind({Ipv4Address(203, 0, 113, 9), 5000});
       return r ? std::string("bound") : r.error().message();
     }},
    {"net.ipv4.icmp_echo_ignore_all", "1",
     [](Lab& lab) {
       lab.inject(lab.ping_from_peer(1));
       return lab.frames();
     }},
    {"net.ipv4.icmp_echo_ignore_broadcasts", "0",
     [](Lab& lab) {
       lab.inject(support::echo_request_frame(MacAddress::broadcast(), kTcpPeerMac, kTcpPeer,
                                              Ipv4Address(192, 0, 2, 255), 7, 1, 16));
       return lab.frames();
     }},
    {"net.ipv4.icmp_ratelimit", "0", [](Lab& lab) { return closed_port_burst(lab); }},
    {"net.ipv4.icmp_ratemask", "0", [](Lab& lab) { return closed_port_burst(lab); }},
    {"net.ipv4.icmp_msgs_per_sec", "1",
     [](Lab& lab) {
       std::string out = closed_port_burst(lab, 5);
       (void)lab.run(100ms);
       return out + closed_port_burst(lab, 5);
     },
     [](Lab& lab) {
       lab.set("net.ipv4.icmp_ratelimit", "0");
       lab.set("net.ipv4.icmp_msgs_burst", "5");
     }},
    {"net.ipv4.icmp_msgs_burst", "100", [](Lab& lab) { return closed_port_burst(lab, 60); },
     [](Lab& lab) { lab.set("net.ipv4.icmp_ratelimit", "0"); }},
    {"net.ipv4.route.max_size", "5",
     [](Lab& lab) {
       for (std::uint8_t i = 10; i < 30; ++i) (void)ipv4::route_output(*lab.net, Ipv4Address(192, 0, 2, i));
       const auto stats = ipv4::route_cache_stats(*lab.net);
       return fmt::format("entries {} evictions {}", stats.entries, stats.evictions);
     }},
    {"net.ipv4.ipfrag_high_thresh", "0",
     [](Lab& lab) {
       for (const Bytes& f : udp_fragments(lab, 9)) lab.inject(f);
       return lab.frames() + lab.counters();
     },
     [](Lab& lab) { lab.set("net.ipv4.ipfrag_low_thresh", "0"); }},
    {"net.ipv4.ipfrag_low_thresh", "0",
     [](Lab& lab) {
       auto r = lab.net->sysctl().set("net.ipv4.ipfrag_high_thresh", "1000");
       return r ? std::string("high_thresh lowered") : r.error().message();
     }},
    {"net.ipv4.ipfrag_time", "5",
     [](Lab& lab) {
       lab.inject(udp_fragments(lab, 9)[0]);
       return lab.run(10s) + lab.counters();
     }},
    {"net.ipv4.route.min_pmtu", "400",
     [](Lab& lab) {
       auto s = lab.established();
       (void)s.write(payload(1000));
       lab.peer.run_for(1ms);
       lab.peer.send_frag_needed(lab.peer.expect(), 300);
       lab.peer.run_for(1ms);
       return fmt::format("pmtu {}", ipv4::path_mtu(*lab.net, kTcpPeer).value());
     }},
    {"net.ipv4.route.mtu_expires", "10",
     [](Lab& lab) {
       auto s = lab.established();
       (void)s.write(payload(1000));
       lab.peer.run_for(1ms);
       lab.peer.send_frag_needed(lab.peer.expect(), 1000);
       lab.peer.run_for(30s);
       return fmt::format("pmtu {}", ipv4::path_mtu(*lab.net, kTcpPeer).value());
     }},
    {"net.ipv6.route.mtu_expires", "10", ipv6_pmtu_after_30s},
    {"net.ipv6.icmp.ratelimit", "0", [](Lab& lab) { return ipv6_closed_port_burst(lab, 10); }},
    // Destination unreachable out of the mask: nothing holds the burst back.
    {"net.ipv6.icmp.ratemask", "2", [](Lab& lab) { return ipv6_closed_port_burst(lab, 10); }},
    {"net.ipv6.idgen_retries", "0", ipv6_stable_dad_conflict, stable_secret_on_eth0},
    {"net.ipv6.idgen_delay", "5", ipv6_stable_dad_conflict, stable_secret_on_eth0},
    // ---- net.netfilter: connection tracking ----
    {"net.netfilter.nf_conntrack_max", "1",
     [](Lab& lab) {
       return conntrack_after(lab, {{ctp::udp4(kCtA, 1, kCtB, 53)}, {ctp::udp4(kCtA, 2, kCtB, 53)}});
     }},
    {"net.netfilter.nf_conntrack_tcp_be_liberal", "1",
     [](Lab& lab) { return ct_tcp(lab, {{ctp::tcp4(kCtA, 40000, kCtB, 80, ctp::kAck, 900000000, 5001, 502, 10)}}); }},
    {"net.netfilter.nf_conntrack_tcp_loose", "0",
     [](Lab& lab) { return conntrack_after(lab, {{ctp::tcp4(kCtA, 40000, kCtB, 80, ctp::kAck, 1, 1)}}); }},
    {"net.netfilter.nf_conntrack_tcp_timeout_syn_sent", "5",
     [](Lab& lab) { return conntrack_after(lab, {{ctp::tcp4(kCtA, 40000, kCtB, 80, ctp::kSyn, 1000, 0)}}); }},
    {"net.netfilter.nf_conntrack_tcp_timeout_syn_recv", "5",
     [](Lab& lab) {
       auto steps = ct_handshake();
       steps.pop_back();
       return conntrack_after(lab, steps);
     }},
    {"net.netfilter.nf_conntrack_tcp_timeout_established", "50", [](Lab& lab) { return ct_tcp(lab, {}); }},
    {"net.netfilter.nf_conntrack_tcp_timeout_fin_wait", "5", [](Lab& lab) { return ct_tcp(lab, {ct_fin_from_a()}); }},
    {"net.netfilter.nf_conntrack_tcp_timeout_close_wait", "5",
     [](Lab& lab) { return ct_tcp(lab, {ct_fin_from_a(), ct_ack_from_b()}); }},
    {"net.netfilter.nf_conntrack_tcp_timeout_last_ack", "5",
     [](Lab& lab) { return ct_tcp(lab, {ct_fin_from_a(), ct_fin_from_b()}); }},
    {"net.netfilter.nf_conntrack_tcp_timeout_time_wait", "5",
     [](Lab& lab) { return ct_tcp(lab, {ct_fin_from_a(), ct_fin_from_b(), ct_last_ack()}); }},
    {"net.netfilter.nf_conntrack_tcp_timeout_close", "5",
     [](Lab& lab) { return ct_tcp(lab, {{ctp::tcp4(kCtB, 80, kCtA, 40000, ctp::kRst | ctp::kAck, 5001, 1001, 0)}}); }},
    {"net.netfilter.nf_conntrack_tcp_timeout_max_retrans", "100",
     [](Lab& lab) {
       // The same ACK four times: retransmissions nobody answers.
       std::vector<CtStep> same(4, CtStep{ctp::tcp4(kCtA, 40000, kCtB, 80, ctp::kAck, 1001, 5001, 502)});
       return ct_tcp(lab, same);
     }},
    {"net.netfilter.nf_conntrack_tcp_timeout_unacknowledged", "100",
     [](Lab& lab) { return ct_tcp(lab, {{ctp::tcp4(kCtA, 40000, kCtB, 80, ctp::kAck, 1001, 5001, 502, 100)}}); }},
    {"net.netfilter.nf_conntrack_udp_timeout", "5",
     [](Lab& lab) { return conntrack_after(lab, {{ctp::udp4(kCtA, 5000, kCtB, 53)}}); }},
    {"net.netfilter.nf_conntrack_udp_timeout_stream", "50",
     [](Lab& lab) {
       return conntrack_after(lab, {{ctp::udp4(kCtA, 5000, kCtB, 53)},
                                    {ctp::udp4(kCtB, 53, kCtA, 5000)},
                                    {ctp::udp4(kCtA, 5000, kCtB, 53), std::chrono::seconds(3)}});
     }},
    {"net.netfilter.nf_conntrack_icmp_timeout", "5",
     [](Lab& lab) { return conntrack_after(lab, {{ctp::icmp4(kCtA, kCtB, 8, 0, ctp::echo(1, 1))}}); }},
    {"net.netfilter.nf_conntrack_icmpv6_timeout", "5",
     [](Lab& lab) {
       const Ipv6Address a(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), b(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
       return conntrack_after(lab, {{ctp::icmp6(a, b, 128, 0, ctp::echo(1, 1))}});
     }},
    {"net.netfilter.nf_conntrack_generic_timeout", "5",
     [](Lab& lab) { return conntrack_after(lab, {{ctp::ipv4(kCtA, kCtB, 253, ctp::Bytes(8))}}); }},
    {"net.ipv6.bindv6only", "1",
     [](Lab& lab) {
       // A new IPv6 socket on [::]:5000 either holds IPv4's 0.0.0.0:5000 too or not.
       auto v6 = udp::open(*lab.net, Family::ipv6);
       if (!v6 || !v6->bind({Ipv6Address::any(), 5000})) return std::string("no IPv6 socket");
       auto v4 = udp::open(*lab.net);
       if (!v4) return std::string("no IPv4 socket");
       auto r = v4->bind({Ipv4Address::any(), 5000});
       return r ? std::string("IPv4 bound beside it") : r.error().message();
     }},
    {"net.ipv6.conf.all.disable_ipv6", "1", ipv6_all_nodes_input},
    {"net.ipv6.conf.default.disable_ipv6", "1", ipv6_addresses_of_new_device},
    {"net.ipv6.conf.all.forwarding", "1", [](Lab& lab) { return ipv6_all_routers_input(lab, *lab.eth0); }},
    {"net.ipv6.conf.default.forwarding", "1",
     [](Lab& lab) { return ipv6_all_routers_input(lab, new_ipv6_device(lab)); }},
    {"net.ipv6.conf.default.accept_ra", "2",
     [](Lab& lab) { return ipv6_ra_route_after_forwarding(lab, new_ipv6_device(lab)); }},
    {"net.ipv6.conf.default.autoconf", "0", [](Lab& lab) { return ipv6_slaac_addresses(lab, new_ipv6_device(lab)); }},
    {"net.ipv6.conf.all.accept_dad", "1", [](Lab& lab) { return ipv6_address_tentative(lab, *lab.eth0); },
     [](Lab& lab) { lab.set("net.ipv6.conf.eth0.accept_dad", "0"); }},
    {"net.ipv6.conf.default.accept_dad", "0",
     [](Lab& lab) { return ipv6_address_tentative(lab, new_ipv6_device(lab)); }},
    {"net.ipv6.conf.default.dad_transmits", "0",
     [](Lab& lab) { return ipv6_address_tentative(lab, new_ipv6_device(lab)); }},
    {"net.ipv6.conf.default.hop_limit", "9", [](Lab& lab) { return ipv6_hop_limit_sent(lab, new_ipv6_device(lab)); }},
    {"net.ipv6.conf.all.addr_gen_mode", "1", ipv6_link_local_after_up},
    {"net.ipv6.conf.default.addr_gen_mode", "1", ipv6_addresses_of_new_device},
    // ---- per-device knobs' all and default rows ----
    {"net.ipv4.conf.all.accept_source_route", "1", source_routed_ping},
    {"net.ipv4.conf.default.accept_source_route", "0", source_routed_ping,
     [](Lab& lab) { lab.set("net.ipv4.conf.all.accept_source_route", "1"); }},
    {"net.ipv4.conf.all.accept_local", "1", ping_from_ourselves},
    {"net.ipv4.conf.default.accept_local", "1", ping_from_ourselves},
    {"net.ipv4.conf.all.log_martians", "1", martian_logged},
    {"net.ipv4.conf.default.log_martians", "1", martian_logged},
    {"net.ipv4.conf.all.forwarding", "1", hairpin},
    {"net.ipv4.conf.default.forwarding", "1", forwarded_from_new_device},
    {"net.ipv4.conf.all.rp_filter", "1", unroutable_source},
    {"net.ipv4.conf.default.rp_filter", "2", unroutable_source},
    {"net.ipv4.conf.all.accept_redirects", "0", redirected,
     [](Lab& lab) { lab.set("net.ipv4.conf.eth0.accept_redirects", "0"); }},
    {"net.ipv4.conf.default.accept_redirects", "0", redirected,
     [](Lab& lab) { lab.set("net.ipv4.conf.all.accept_redirects", "0"); }},
    {"net.ipv4.conf.all.send_redirects", "0", hairpin,
     [](Lab& lab) {
       forwarding_on(lab);
       lab.set("net.ipv4.conf.eth0.send_redirects", "0");
     }},
    {"net.ipv4.conf.default.send_redirects", "0", hairpin,
     [](Lab& lab) {
       forwarding_on(lab);
       lab.set("net.ipv4.conf.all.send_redirects", "0");
     }},
    // ---- neighbours ----
    {"net.ipv4.neigh.default.base_reachable_time_ms", "1000",
     [](Lab& lab) { return resolve_stranger_then_wait(lab, 10s); }},
    {"net.ipv4.neigh.default.gc_stale_time", "1",
     [](Lab& lab) { return resolve_stranger_then_wait(lab, 50s); }},
    {"net.ipv4.neigh.default.retrans_time_ms", "200", [](Lab& lab) { return send_to_stranger(lab); }},
    {"net.ipv4.neigh.default.mcast_solicit", "1", [](Lab& lab) { return send_to_stranger(lab); }},
    {"net.ipv4.neigh.default.unres_qlen", "1", queued_for_stranger},
    {"net.ipv4.neigh.default.unres_qlen_bytes", "3000", queued_for_stranger},
    {"net.ipv4.neigh.default.gc_thresh3", "4",
     [](Lab& lab) {
       auto sock = udp_socket(lab, {kTcpLocal, 5000});
       for (std::uint8_t i = 10; i < 20; ++i) (void)sock.send_to(payload(10), {Ipv4Address(192, 0, 2, i), 9});
       lab.host.poll(lab.clock.now());
       return ipv4::dump_neighbours(*lab.net);
     }},
    {"net.ipv4.neigh.default.gc_thresh2", "2",
     [](Lab& lab) {
       // Six resolved neighbours, then, past the forced GC's 5 s, a seventh.
       auto sock = udp_socket(lab, {kTcpLocal, 5000});
       for (std::uint8_t i = 10; i < 16; ++i) {
         (void)sock.send_to(payload(10), {Ipv4Address(192, 0, 2, i), 9});
         lab.host.poll(lab.clock.now());
         answer_arp(lab, Ipv4Address(192, 0, 2, i), MacAddress{0x02, 0, 0, 0, 0, i});
       }
       (void)lab.run(6s);
       (void)sock.send_to(payload(10), {Ipv4Address(192, 0, 2, 20), 9});
       lab.host.poll(lab.clock.now());
       return ipv4::dump_neighbours(*lab.net);
     }},
    // ---- TCP: the handshake ----
    {"net.ipv4.tcp_rmem", "4096 8192 8192", [](Lab& lab) { return synack(lab); }},
    {"net.ipv4.tcp_timestamps", "0", [](Lab& lab) { return synack(lab); }},
    {"net.ipv4.tcp_window_scaling", "0", [](Lab& lab) { return synack(lab); }},
    {"net.ipv4.tcp_sack", "0", [](Lab& lab) { return synack(lab); }},
    {"net.ipv4.tcp_syncookies", "2", [](Lab& lab) { return synack(lab); }},
    {"net.ipv4.tcp_ecn", "0", [](Lab& lab) { return synack(lab, {.ecn = true}); }},
    {"net.ipv4.tcp_syn_retries", "2", [](Lab& lab) { return unanswered_connect(lab, 300s); }},
    {"net.ipv4.tcp_ecn_fallback", "0", [](Lab& lab) { return unanswered_connect(lab, 2s); },
     [](Lab& lab) { lab.set("net.ipv4.tcp_ecn", "1"); }},
    {"net.ipv4.tcp_synack_retries", "1",
     [](Lab& lab) {
       auto l = lab.listen();
       lab.peer.send(lab.peer.syn());
       lab.peer.run_for(100s);
       return lab.segments();
     }},
    {"net.ipv4.tcp_max_syn_backlog", "1",
     [](Lab& lab) {
       auto l = lab.listen();
       for (std::uint16_t port = 40000; port < 40003; ++port) {
         lab.peer.set_self({kTcpPeer, port});
         lab.peer.send(lab.peer.syn());
       }
       lab.peer.run_for(1ms);
       return lab.segments() + lab.counters();
     },
     [](Lab& lab) { lab.set("net.ipv4.tcp_syncookies", "0"); }},
    {"net.ipv4.tcp_abort_on_overflow", "1",
     [](Lab& lab) {
       // Backlog 2: two connections wait to be accepted; two more send their
       // SYNs, then their ACKs, and the second ACK finds the queue full.
       auto l = lab.listen(2);
       auto syn = [&](std::uint16_t port) {
         lab.peer.set_self({kTcpPeer, port});
         lab.peer.set_snd_nxt(support::kTcpPeerIss);
         lab.peer.send(lab.peer.syn(PeerOptions::none()));
         lab.peer.run_for(1ms);
         return lab.peer.expect().seq() + 1;
       };
       auto ack = [&](std::uint16_t port, std::uint32_t rcv_nxt) {
         lab.peer.set_self({kTcpPeer, port});
         lab.peer.set_snd_nxt(kPeerBase);
         lab.peer.set_rcv_nxt(rcv_nxt);
         lab.peer.send_ack();
         lab.peer.run_for(1ms);
       };
       ack(40000, syn(40000));
       ack(40001, syn(40001));
       const std::uint32_t third = syn(40002);
       const std::uint32_t fourth = syn(40003);
       ack(40002, third);
       ack(40003, fourth);
       return lab.segments() + lab.counters() + tcp::dump_sockets(*lab.net);
     }},
    // ---- TCP: data ----
    {"net.ipv4.tcp_wmem", "4096 8192 8192",
     [](Lab& lab) {
       auto s = lab.established();
       auto n = s.write(payload(1 << 20));
       return fmt::format("{}", n ? *n : 0);
     }},
    {"net.ipv4.tcp_mem", "1 1 1",
     [](Lab& lab) {
       auto s = lab.established();
       // A hole at the first byte, then out-of-order data.
       lab.peer.set_snd_nxt(kPeerBase + 1000);
       for (int i = 0; i < 5; ++i) lab.peer.send_data(1000);
       lab.peer.run_for(1ms);
       return lab.counters();
     }},
    {"net.ipv4.tcp_min_snd_mss", "500",
     [](Lab& lab) {
       auto s = lab.established({.mss = 100});
       (void)s.write(payload(1000));
       lab.peer.run_for(1ms);
       return lab.segments();
     }},
    {"net.ipv4.tcp_delack_min_ms", "200",
     [](Lab& lab) {
       auto s = lab.established();
       // Past the quick ACKs of a new connection, one small segment at a time.
       for (int i = 0; i < 20; ++i) {
         lab.peer.send_data(100);
         lab.peer.run_for(300ms);
       }
       return lab.segments();
     }},
    {"net.ipv4.tcp_dsack", "0",
     [](Lab& lab) {
       auto s = lab.established();
       lab.peer.send_data(100);
       lab.peer.set_snd_nxt(kPeerBase);
       lab.peer.send_data(100);
       lab.peer.run_for(1ms);
       return lab.segments();
     }},
    {"net.ipv4.tcp_moderate_rcvbuf", "0",
     [](Lab& lab) {
       auto listener = lab.listen();
       const support::TcpSegment sa = lab.peer.connect();
       auto conn = listener.accept().value();
       std::vector<std::byte> sink(1 << 22);
       conn.on_readable([&] {
         while (conn.readable_bytes() != 0) (void)conn.read(sink);
       });
       std::uint32_t edge = kPeerBase + sa.tcp.window;
       for (int i = 0; i < 30; ++i) {
         const std::uint32_t until = std::min(edge, lab.peer.snd_nxt() + 400'000);
         while (lab.peer.snd_nxt() != until) lab.peer.send_data(std::min(1448u, until - lab.peer.snd_nxt()));
         lab.peer.run_for(1ms);
         while (lab.peer.pending() != 0) {
           const support::TcpSegment ack = lab.peer.expect();
           edge = std::max(edge, ack.ack() + (std::uint32_t{ack.tcp.window} << lab.peer.remote_wscale()));
         }
         lab.peer.run_for(19ms);
       }
       conn.on_readable(nullptr);
       return fmt::format("rcvbuf {}", conn.info().rcvbuf);
     }},
    // ---- TCP: loss and recovery ----
    {"net.ipv4.tcp_congestion_control", "reno", [](Lab& lab) { return sack_above_a_hole(lab, 5, 5ms); }},
    {"net.ipv4.tcp_recovery", "0", [](Lab& lab) { return sack_above_a_hole(lab, 2, 100ms); }},
    {"net.ipv4.tcp_reordering", "2", [](Lab& lab) { return sack_above_a_hole(lab, 2, 5ms); },
     [](Lab& lab) { lab.set("net.ipv4.tcp_recovery", "0"); }},
    {"net.ipv4.tcp_max_reordering", "4",
     [](Lab& lab) {
       // Without SACK, more duplicate ACKs than segments in flight: the
       // excess was reordering, as many segments as fly, bounded by
       // tcp_max_reordering (tcp_check_reno_reordering).
       auto s = lab.established({.sack_permitted = false});
       (void)s.write(payload(10 * 1000));
       lab.peer.run_for(1ms);
       (void)lab.segments();
       for (int i = 0; i < 10; ++i) lab.peer.send_ack();
       lab.peer.run_for(1ms);
       return lab.info(s) + lab.counters();
     }},
    {"net.ipv4.tcp_early_retrans", "0",
     [](Lab& lab) {
       // Several segments in flight: a loss probe after two RTTs, well before the RTO.
       auto s = lab.established();
       (void)s.write(payload(5000));
       lab.peer.run_for(150ms);
       return lab.segments() + lab.counters();
     }},
    {"net.ipv4.tcp_min_rtt_wlen", "0",
     [](Lab& lab) {
       // The handshake measured 10 ms; a later ACK takes 50 ms.
       auto s = lab.established();
       (void)s.write(payload(100));
       lab.peer.run_for(50ms);
       const support::TcpSegment data = lab.peer.expect();
       lab.peer.ack(data);
       lab.peer.run_for(1ms);
       return lab.info(s);
     }},
    // ---- TCP: timers and ends ----
    {"net.ipv4.tcp_retries2", "2", [](Lab& lab) { return unacknowledged(lab, 120s, false); }},
    {"net.ipv4.tcp_orphan_retries", "1", [](Lab& lab) { return unacknowledged(lab, 60s, true); }},
    {"net.ipv4.tcp_max_orphans", "0", [](Lab& lab) { return unacknowledged(lab, 1ms, true); }},
    {"net.ipv4.tcp_fin_timeout", "5",
     [](Lab& lab) {
       auto s = lab.established();
       s.close();
       const support::TcpSegment fin = lab.peer.expect(support::kTcpFin | support::kTcpAck);
       lab.peer.ack(fin);
       lab.peer.run_for(10s);
       return tcp::dump_sockets(*lab.net);
     }},
    {"net.ipv4.tcp_keepalive_time", "30",
     [](Lab& lab) {
       auto s = lab.established();
       s.set_keepalive(true);
       lab.peer.run_for(100s);
       return lab.segments();
     }},
    {"net.ipv4.tcp_keepalive_intvl", "5",
     [](Lab& lab) {
       auto s = lab.established();
       s.set_keepalive(true);
       lab.peer.run_for(60s);
       return lab.segments();
     },
     [](Lab& lab) { lab.set("net.ipv4.tcp_keepalive_time", "10"); }},
    {"net.ipv4.tcp_keepalive_probes", "2",
     [](Lab& lab) {
       auto s = lab.established();
       s.set_keepalive(true);
       lab.peer.run_for(100s);
       return lab.segments() + tcp::dump_sockets(*lab.net);
     },
     [](Lab& lab) {
       lab.set("net.ipv4.tcp_keepalive_time", "10");
       lab.set("net.ipv4.tcp_keepalive_intvl", "5");
     }},
    {"net.ipv4.tcp_challenge_ack_limit", "1",
     [](Lab& lab) {
       auto s = lab.established();
       for (int i = 0; i < 5; ++i) lab.peer.send(lab.peer.segment(support::kTcpSyn));
       lab.peer.run_for(1ms);
       return lab.segments() + lab.counters();
     },
     [](Lab& lab) { lab.set("net.ipv4.tcp_invalid_ratelimit", "0"); }},
    {"net.ipv4.tcp_invalid_ratelimit", "0",
     [](Lab& lab) {
       auto s = lab.established();
       // Data far beyond the window: each is answered by a duplicate ACK.
       lab.peer.set_snd_nxt(kPeerBase + 10'000'000);
       for (int i = 0; i < 3; ++i) lab.peer.send(lab.peer.segment());
       lab.peer.run_for(1ms);
       return lab.segments() + lab.counters();
     }},
    {"net.ipv4.tcp_max_tw_buckets", "0",
     [](Lab& lab) {
       auto s = lab.established();
       lab.into_time_wait(s);
       return tcp::dump_sockets(*lab.net) + lab.counters();
     }},
    {"net.ipv4.tcp_rfc1337", "1",
     [](Lab& lab) {
       auto s = lab.established();
       lab.into_time_wait(s);
       lab.peer.send(lab.peer.segment(support::kTcpRst));
       lab.peer.run_for(1ms);
       return tcp::dump_sockets(*lab.net);
     }},
    // ---- IPv6 neighbours ----
    {"net.ipv6.neigh.default.base_reachable_time_ms", "1000",
     [](Lab& lab) {
       Ndp ndp(lab);
       ndp.resolve(kNdpStranger, kStrangerMac);
       (void)lab.run(3s);
       return ndp.state();
     }},
    {"net.ipv6.neigh.default.gc_stale_time", "1",
     [](Lab& lab) {
       Ndp ndp(lab);
       ndp.resolve(kNdpStranger, kStrangerMac, false);
       (void)lab.run(3s);
       return ndp.state();
     }},
    {"net.ipv6.neigh.default.retrans_time_ms", "200",
     [](Lab& lab) {
       Ndp ndp(lab);
       ndp.send(kNdpStranger);
       return lab.run(1500ms) + ndp.state();
     }},
    {"net.ipv6.neigh.default.mcast_solicit", "1",
     [](Lab& lab) {
       Ndp ndp(lab);
       ndp.send(kNdpStranger);
       return lab.run(1500ms) + ndp.state();
     }},
    {"net.ipv6.neigh.default.ucast_solicit", "1",
     [](Lab& lab) {
       Ndp ndp(lab);
       ndp.resolve(kNdpStranger, kStrangerMac, false);
       ndp.send(kNdpStranger);  // STALE -> DELAY, then 5 s later PROBE
       return lab.run(7500ms) + ndp.state();
     }},
    {"net.ipv6.neigh.default.unres_qlen", "1", ndp_queued_for_stranger},
    {"net.ipv6.neigh.default.unres_qlen_bytes", "3000", ndp_queued_for_stranger},
    {"net.ipv6.neigh.default.gc_thresh2", "2",
     [](Lab& lab) {
       // Six resolved neighbours, then, past the forced GC's 5 s, a seventh.
       Ndp ndp(lab);
       for (std::uint8_t i = 0; i < 6; ++i) ndp.resolve(ndp_host(i), ndp_mac(i));
       (void)lab.run(6s);
       ndp.resolve(ndp_host(6), ndp_mac(6));
       return ndp.state();
     }},
    {"net.ipv6.neigh.default.gc_thresh3", "4",
     [](Lab& lab) {
       Ndp ndp(lab);
       for (std::uint8_t i = 0; i < 8; ++i) ndp.send(ndp_host(i));
       return ndp.state();
     }},
    {"net.ipv6.ip6frag_high_thresh", "0", [](Lab& lab) { return ipv6_fragments_in(lab, true); },
     [](Lab& lab) { lab.set("net.ipv6.ip6frag_low_thresh", "0"); }},
    {"net.ipv6.ip6frag_low_thresh", "0",
     [](Lab& lab) {
       auto r = lab.net->sysctl().set("net.ipv6.ip6frag_high_thresh", "1000");
       return r ? std::string("high_thresh lowered") : r.error().message();
     }},
    {"net.ipv6.ip6frag_time", "5",
     [](Lab& lab) {
       std::string out = ipv6_fragments_in(lab, false);
       return out + lab.run(10s) + lab.counters();
     }},
};

// One device's own knobs, net.ipv4.conf.eth0.*: with `all` left alone (or
// set where the combination would hide the device's value), the device's
// value alone must change what the namespace does.
const Scenario kDeviceScenarios[] = {
    {"net.ipv4.conf.eth0.forwarding", "1", hairpin},
    {"net.ipv4.conf.eth0.rp_filter", "1", unroutable_source},
    {"net.ipv4.conf.eth0.accept_redirects", "0", redirected,
     [](Lab& lab) { lab.set("net.ipv4.conf.all.accept_redirects", "0"); }},
    {"net.ipv4.conf.eth0.send_redirects", "0", hairpin,
     [](Lab& lab) {
       forwarding_on(lab);
       lab.set("net.ipv4.conf.all.send_redirects", "0");
     }},
    {"net.ipv4.conf.eth0.accept_source_route", "0", source_routed_ping,
     [](Lab& lab) { lab.set("net.ipv4.conf.all.accept_source_route", "1"); }},
    {"net.ipv4.conf.eth0.accept_local", "1", ping_from_ourselves},
    {"net.ipv4.conf.eth0.log_martians", "1", martian_logged},
    {"net.ipv6.conf.eth0.disable_ipv6", "1", ipv6_all_nodes_input},
    {"net.ipv6.conf.eth0.forwarding", "1", [](Lab& lab) { return ipv6_all_routers_input(lab, *lab.eth0); }},
    {"net.ipv6.conf.eth0.accept_ra", "2", [](Lab& lab) { return ipv6_ra_route_after_forwarding(lab, *lab.eth0); }},
    {"net.ipv6.conf.eth0.autoconf", "0", [](Lab& lab) { return ipv6_slaac_addresses(lab, *lab.eth0); }},
    {"net.ipv6.conf.eth0.accept_dad", "0", [](Lab& lab) { return ipv6_address_tentative(lab, *lab.eth0); }},
    {"net.ipv6.conf.eth0.dad_transmits", "0", [](Lab& lab) { return ipv6_address_tentative(lab, *lab.eth0); }},
    {"net.ipv6.conf.eth0.hop_limit", "9", [](Lab& lab) { return ipv6_hop_limit_sent(lab, *lab.eth0); }},
    {"net.ipv6.conf.eth0.mtu", "1280", ipv6_path_mtu},
    {"net.ipv6.conf.eth0.addr_gen_mode", "1", ipv6_link_local_after_up},
};

// Linux keeps rows that act on nothing: `all` of most IPv6 keys (the stack
// reads idev->cnf alone) and `default` of a key that follows the device's
// MTU (a new device starts from its MTU). Such a name must be accepted and
// must change nothing: its device key's scenario, run with the inert name
// written instead, sees what it sees by default.
std::string inert_device_name(std::string_view name) {
  for (const DevconfInfo& row : kDevconfTable) {
    const std::string_view tree = kDevconfTrees[static_cast<std::size_t>(row.family)];
    const bool all = name == fmt::format("{}.all.{}", tree, row.name);
    const bool dflt = name == fmt::format("{}.default.{}", tree, row.name);
    if ((all && row.all_inert) || (dflt && row.follows_device_mtu)) return fmt::format("{}.eth0.{}", tree, row.name);
  }
  return {};
}

const Scenario* find_scenario(std::string_view name) {
  for (const Scenario& s : kScenarios) {
    if (s.name == name) return &s;
  }
  for (const Scenario& s : kDeviceScenarios) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

// eth0's per-device names, as Sysctl::device_names lists them.
std::vector<std::string> eth0_names() {
  std::vector<std::string> out;
  for (const DevconfInfo& row : kDevconfTable) {
    out.push_back(fmt::format("{}.eth0.{}", kDevconfTrees[static_cast<std::size_t>(row.family)], row.name));
  }
  return out;
}

std::string run_scenario(const Scenario& s, std::string_view value) {
  Lab lab;
  if (s.prepare != nullptr) s.prepare(lab);
  if (!value.empty()) lab.set(s.name, value);
  return s.observe(lab);
}

class SysctlWalk : public ::testing::TestWithParam<std::string> {};

// A read-only knob (nf_conntrack_count) refuses every write, as Linux's
// mode 0444 file, and keeps its value.
bool expect_read_only(std::string_view name) {
  const auto row = std::find_if(kSysctlTable.begin(), kSysctlTable.end(), [&](const SysctlInfo& r) { return r.name == name; });
  if (row == kSysctlTable.end() || !row->read_only) return false;
  Lab lab;
  const std::string before = lab.net->sysctl().get(name).value();
  auto r = lab.net->sysctl().set(name, "1");
  EXPECT_FALSE(r) << name;
  if (!r) {
    EXPECT_EQ(r.error(), error(Errc::permission_denied)) << name;
  }
  EXPECT_EQ(lab.net->sysctl().get(name).value(), before) << name;
  EXPECT_EQ(find_scenario(name), nullptr) << name << " is read only: it has no scenario";
  return true;
}

void expect_acts(std::string_view name) {
  if (expect_read_only(name)) return;
  if (const std::string device = inert_device_name(name); !device.empty()) {
    const Scenario* s = find_scenario(device);
    ASSERT_NE(s, nullptr) << device << " has no scenario in sysctl_walk_test.cpp";
    ASSERT_EQ(find_scenario(name), nullptr) << name << " acts on nothing in Linux: no scenario of its own";
    Scenario inert = *s;
    inert.name = name;
    const std::string by_default = run_scenario(inert, {});
    const std::string written = run_scenario(inert, s->value);
    EXPECT_EQ(by_default, written) << name << " = " << s->value << " is Linux's inert row, yet it acted";
    EXPECT_NE(by_default, run_scenario(*s, s->value)) << device << "'s scenario shows nothing";
    return;
  }
  const Scenario* s = find_scenario(name);
  ASSERT_NE(s, nullptr) << name << " has no scenario in sysctl_walk_test.cpp: every knob must act";
  const std::string by_default = run_scenario(*s, {});
  const std::string changed = run_scenario(*s, s->value);
  EXPECT_NE(by_default, changed) << name << " = " << s->value << " changed nothing:\n" << changed;
}

TEST_P(SysctlWalk, ChangesBehaviour) { expect_acts(GetParam()); }

INSTANTIATE_TEST_SUITE_P(Sysctl, SysctlWalk, ::testing::ValuesIn(Sysctl::names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string id(info.param);
                           for (char& c : id) {
                             if (c == '.') c = '_';
                           }
                           return id;
                         });

class SysctlDeviceWalk : public ::testing::TestWithParam<std::string> {};

TEST_P(SysctlDeviceWalk, ChangesBehaviour) { expect_acts(GetParam()); }

INSTANTIATE_TEST_SUITE_P(Sysctl, SysctlDeviceWalk, ::testing::ValuesIn(eth0_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string id = info.param;
                           for (char& c : id) {
                             if (c == '.') c = '_';
                           }
                           return id;
                         });

// The walk covers every per-device name the namespace lists for eth0.
TEST(SysctlWalkTable, DeviceWalkCoversEveryNameOfADevice) {
  Lab lab;
  std::vector<std::string> listed;
  for (const std::string& name : lab.net->sysctl().device_names()) {
    if (name.starts_with("net.ipv4.conf.eth0.") || name.starts_with("net.ipv6.conf.eth0.")) listed.push_back(name);
  }
  EXPECT_EQ(listed, eth0_names());
  for (const Scenario& s : kDeviceScenarios) {
    Lab fresh;
    if (s.prepare != nullptr) s.prepare(fresh);
    EXPECT_TRUE(fresh.net->sysctl().set(s.name, s.value)) << s.name << " = " << s.value;
  }
}

// Each scenario names a knob that exists, with a value it accepts after
// its preparation.
TEST(SysctlWalkTable, EveryScenarioNamesAKnob) {
  const auto names = Sysctl::names();
  for (const Scenario& s : kScenarios) {
    EXPECT_NE(std::find(names.begin(), names.end(), s.name), names.end()) << s.name;
    Lab lab;
    if (s.prepare != nullptr) s.prepare(lab);
    EXPECT_TRUE(lab.net->sysctl().set(s.name, s.value)) << s.name << " = " << s.value;
  }
}

}  // namespace core_sysctl_walk_test
}  // namespace
}  // namespace netns
