// UDP sockets between namespaces: two namespaces over a veth for the
// socket API, a channel device where the exact frames matter.
#include <algorithm>
#include <array>
#include <memory>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include <boost/asio/error.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "netns/ipv4.hpp"
#include "netns/udp.hpp"
#include "netns/wire/bytes.hpp"
#include "support/fixtures.hpp"
#include "support/ipv4_frames.hpp"

namespace netns {
namespace {
namespace ipv4_udp_test {

const Ipv4Address kBlue(192, 0, 2, 1);
const Ipv4Address kRed(192, 0, 2, 2);

Ipv4Prefix prefix(std::string_view text) { return Ipv4Prefix::parse(text).value(); }

std::vector<std::byte> pattern(std::size_t n, std::uint8_t seed = 0) {
  std::vector<std::byte> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = std::byte(static_cast<std::uint8_t>(i * 7 + seed));
  return out;
}

std::span<const std::byte> text(std::string_view s) { return std::as_bytes(std::span(s)); }

bool is_would_block(const boost::system::error_code& e) {
  return e == boost::asio::error::would_block;
}

// blue 192.0.2.1/24 — veth — red 192.0.2.2/24.
class Udp : public support::TwoNets {
 protected:
  void SetUp() override {
    TwoNets::SetUp();
    ASSERT_TRUE(ipv4::add_address(*blue_, *blue_eth0_, prefix("192.0.2.1/24")));
    ASSERT_TRUE(ipv4::add_address(*red_, *red_eth0_, prefix("192.0.2.2/24")));
  }
  udp::Socket open_bound(Net& net, Endpoint local) {
    auto sock = udp::open(net);
    EXPECT_TRUE(sock);
    EXPECT_TRUE(sock->bind(local));
    return std::move(*sock);
  }
};

TEST_F(Udp, DatagramCrossesTheVethBothWays) {
  auto server = open_bound(*red_, {Ipv4Address::any(), 5353});
  auto client = udp::open(*blue_).value();
  ASSERT_EQ(client.send_to(text("hello"), {kRed, 5353}).value(), 5u);
  const Endpoint client_end = client.local_endpoint();
  EXPECT_NE(client_end.port, 0);  // send_to bound it
  poll();

  std::array<std::byte, 1500> buf{};
  auto got = server.receive_from(buf);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->size, 5u);
  EXPECT_FALSE(got->truncated);
  EXPECT_EQ(got->from, (Endpoint{kBlue, client_end.port}));
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(buf.data()), 5), "hello");
  EXPECT_EQ(red_->counters().get("UdpInDatagrams"), 1u);
  EXPECT_EQ(blue_->counters().get("UdpOutDatagrams"), 1u);

  ASSERT_TRUE(server.send_to(text("world!"), got->from));
  poll();
  auto back = client.receive_from(buf);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->size, 6u);
  EXPECT_EQ(back->from, (Endpoint{kRed, 5353}));
  EXPECT_EQ(&server.net(), red_.get());
}

TEST_F(Udp, EmptyQueueIsWouldBlockAndTruncationIsReported) {
  auto server = open_bound(*red_, {Ipv4Address::any(), 7});
  std::array<std::byte, 4> small{};
  auto none = server.receive_from(small);
  ASSERT_FALSE(none);
  EXPECT_TRUE(is_would_block(none.error()));

  auto client = udp::open(*blue_).value();
  ASSERT_TRUE(client.send_to(pattern(10), {kRed, 7}));
  poll();
  EXPECT_EQ(server.next_size(), 10u);
  auto got = server.receive_from(small);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->size, 4u);
  EXPECT_TRUE(got->truncated);
  EXPECT_TRUE(is_would_block(server.receive_from(small).error()));
}

TEST_F(Udp, ConnectSetsThePeerAndFiltersOthers) {
  auto server = open_bound(*red_, {Ipv4Address::any(), 5353});
  ASSERT_TRUE(server.connect({kBlue, 1111}));
  // connect picked the route's source for the wildcard bind, as Linux does.
  EXPECT_EQ(server.local_endpoint(), (Endpoint{kRed, 5353}));
  EXPECT_EQ(server.remote_endpoint(), (Endpoint{kBlue, 1111}));

  auto friendly = open_bound(*blue_, {Ipv4Address::any(), 1111});
  auto stranger = open_bound(*blue_, {Ipv4Address::any(), 2222});
  ASSERT_TRUE(stranger.send_to(text("no"), {kRed, 5353}));
  ASSERT_TRUE(friendly.send_to(text("yes"), {kRed, 5353}));
  poll();

  std::array<std::byte, 16> buf{};
  auto got = server.receive_from(buf);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->from, (Endpoint{kBlue, 1111}));
  EXPECT_TRUE(is_would_block(server.receive_from(buf).error()));
  // Nobody took the stranger's datagram.
  EXPECT_EQ(red_->counters().get("UdpNoPorts"), 1u);

  // send() goes to the peer; disconnect() forgets it and the implicit address.
  ASSERT_TRUE(server.send(text("hi")));
  ASSERT_TRUE(server.disconnect());
  EXPECT_EQ(server.local_endpoint(), (Endpoint{Ipv4Address::any(), 5353}));
  EXPECT_EQ(server.send(text("x")).error(), boost::system::errc::destination_address_required);
  poll();
  EXPECT_TRUE(friendly.receive_from(buf));
}

TEST_F(Udp, EphemeralPortsAreInTheRangeAndDistinct) {
  ASSERT_TRUE(blue_->sysctl().set("net.ipv4.ip_local_port_range", "40000 40099"));
  std::vector<udp::Socket> socks;
  std::vector<std::uint16_t> ports;
  for (int i = 0; i < 100; ++i) {
    auto s = udp::open(*blue_).value();
    ASSERT_TRUE(s.bind({Ipv4Address::any(), 0}));
    ports.push_back(s.local_endpoint().port);
    socks.push_back(std::move(s));
  }
  for (std::uint16_t p : ports) {
    EXPECT_GE(p, 40000);
    EXPECT_LE(p, 40099);
  }
  std::sort(ports.begin(), ports.end());
  EXPECT_EQ(std::adjacent_find(ports.begin(), ports.end()), ports.end()) << "a port given twice";
  // Not handed out in order: the scan starts at a keyed-hash offset.
  std::vector<std::uint16_t> first_two{socks[0].local_endpoint().port, socks[1].local_endpoint().port};
  EXPECT_NE(first_two[1], first_two[0] + 1);

  // The range is exhausted.
  auto extra = udp::open(*blue_).value();
  EXPECT_EQ(extra.bind({Ipv4Address::any(), 0}).error(), boost::system::errc::address_in_use);
  EXPECT_EQ(extra.send_to(text("x"), {kRed, 9}).error(), boost::system::errc::address_in_use);
  // A closed socket's port is free again.
  const std::uint16_t freed = socks[42].local_endpoint().port;
  socks[42].close();
  ASSERT_TRUE(extra.bind({Ipv4Address::any(), 0}));
  EXPECT_EQ(extra.local_endpoint().port, freed);
}

TEST_F(Udp, BindConflictsAndAddresses) {
  ASSERT_TRUE(ipv4::add_address(*blue_, *blue_eth0_, prefix("192.0.2.11/24")));
  auto a = open_bound(*blue_, {Ipv4Address::any(), 7000});
  auto b = udp::open(*blue_).value();
  EXPECT_EQ(b.bind({Ipv4Address::any(), 7000}).error(), boost::system::errc::address_in_use);
  EXPECT_EQ(b.bind({kBlue, 7000}).error(), boost::system::errc::address_in_use);
  ASSERT_TRUE(b.bind({kBlue, 7001}));
  EXPECT_EQ(b.bind({kBlue, 7002}).error(), boost::system::errc::invalid_argument);  // already bound

  auto c = udp::open(*blue_).value();
  EXPECT_EQ(c.bind({Ipv4Address::any(), 7001}).error(), boost::system::errc::address_in_use);
  ASSERT_TRUE(c.bind({Ipv4Address(192, 0, 2, 11), 7001}));  // another specific address

  auto d = udp::open(*blue_).value();
  EXPECT_EQ(d.bind({Ipv4Address(198, 51, 100, 1), 7003}).error(),
            boost::system::errc::address_not_available);
  ASSERT_TRUE(blue_->sysctl().set("net.ipv4.ip_nonlocal_bind", "1"));
  EXPECT_TRUE(d.bind({Ipv4Address(198, 51, 100, 1), 7003}));

  // The same port is free in another namespace.
  auto e = open_bound(*red_, {Ipv4Address::any(), 7000});
  EXPECT_EQ(e.local_endpoint().port, 7000);
}

// udp_sendmsg: no route at all is ENETUNREACH and counts IpOutNoRoutes;
// an unreachable route is EHOSTUNREACH and counts nothing (as on Linux).
TEST_F(Udp, NoRouteIsNetworkUnreachableAndCounted) {
  auto client = udp::open(*blue_).value();
  EXPECT_EQ(client.send_to(text("x"), {Ipv4Address(198, 51, 100, 1), 9}).error(), error(Errc::network_unreachable));
  EXPECT_EQ(client.connect({Ipv4Address(198, 51, 100, 1), 9}).error(), error(Errc::network_unreachable));
  EXPECT_EQ(blue_->counters().get("IpOutNoRoutes"), 2u);
  ASSERT_TRUE(ipv4::add_route(*blue_, {.prefix = prefix("203.0.113.0/24"), .type = ipv4::RouteType::unreachable}));
  EXPECT_EQ(client.send_to(text("x"), {Ipv4Address(203, 0, 113, 1), 9}).error(), error(Errc::host_unreachable));
  EXPECT_EQ(blue_->counters().get("IpOutNoRoutes"), 2u);
}

TEST_F(Udp, NoListenerCountsNoPortsAndAnswersPortUnreachable) {
  auto client = udp::open(*blue_).value();
  ASSERT_TRUE(client.send_to(text("anyone?"), {kRed, 9}));
  poll();
  EXPECT_EQ(red_->counters().get("UdpNoPorts"), 1u);
  EXPECT_EQ(red_->counters().get("IcmpOutDestUnreachs"), 1u);
  EXPECT_EQ(blue_->counters().get("IcmpInDestUnreachs"), 1u);
  // An unconnected socket does not hear of it (no IP_RECVERR).
  std::array<std::byte, 16> buf{};
  EXPECT_TRUE(is_would_block(client.receive_from(buf).error()));
  EXPECT_TRUE(client.send_to(text("again"), {kRed, 9}));
}

TEST_F(Udp, ConnectedSocketGetsConnectionRefusedOnce) {
  auto client = udp::open(*blue_).value();
  ASSERT_TRUE(client.connect({kRed, 9}));
  int wakeups = 0;
  client.on_readable([&] { ++wakeups; });
  ASSERT_TRUE(client.send(text("anyone?")));
  poll();
  EXPECT_EQ(wakeups, 1);
  std::array<std::byte, 16> buf{};
  auto first = client.receive_from(buf);
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error(), boost::system::errc::connection_refused);
  EXPECT_TRUE(is_would_block(client.receive_from(buf).error()));

  // The error is reported by send too, once.
  ASSERT_TRUE(client.send(text("again")));
  poll();
  EXPECT_EQ(client.send(text("third")).error(), boost::system::errc::connection_refused);
  EXPECT_TRUE(client.send(text("fourth")));
}

TEST_F(Udp, ReceiveQueueIsBoundedInBytes) {
  auto server = open_bound(*red_, {Ipv4Address::any(), 5000});
  EXPECT_EQ(server.receive_buffer_size(), 212992u);  // net.core.rmem_default
  ASSERT_TRUE(server.set_receive_buffer_size(4096));
  auto client = udp::open(*blue_).value();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(client.send_to(pattern(1000), {kRed, 5000}));
  poll();
  // Each datagram is charged its truesize, a 2 KiB buffer and its
  // bookkeeping: one is taken under 4096, a second takes the queue over.
  std::array<std::byte, 2000> buf{};
  int received = 0;
  while (server.receive_from(buf)) ++received;
  EXPECT_EQ(received, 2);
  EXPECT_EQ(red_->counters().get("UdpRcvbufErrors"), 8u);
  EXPECT_EQ(red_->counters().get("UdpInErrors"), 8u);
  EXPECT_EQ(red_->counters().get("UdpInDatagrams"), 2u);

  // The namespace default applies to sockets opened after it changes.
  ASSERT_TRUE(red_->sysctl().set("net.core.rmem_default", "2304"));
  auto small = udp::open(*red_).value();
  EXPECT_EQ(small.receive_buffer_size(), 2304u);
  EXPECT_FALSE(red_->sysctl().set("net.core.rmem_default", "100"));  // below Linux's minimum
}

TEST_F(Udp, SixtyKibDatagramIsFragmentedAndReassembled) {
  auto server = open_bound(*red_, {Ipv4Address::any(), 6000});
  auto client = udp::open(*blue_).value();
  const auto sent = pattern(60 * 1024, 3);
  ASSERT_TRUE(client.send_to(sent, {kRed, 6000}));
  poll();
  std::vector<std::byte> buf(udp::kMaxPayload);
  auto got = server.receive_from(buf);
  ASSERT_TRUE(got) << got.error().message();
  ASSERT_EQ(got->size, sent.size());
  EXPECT_TRUE(std::equal(sent.begin(), sent.end(), buf.begin()));
  EXPECT_GT(blue_->counters().get("IpFragCreates"), 40u);
  EXPECT_EQ(red_->counters().get("IpReasmOKs"), 1u);

  // The largest datagram still goes; one byte more is message_size.
  EXPECT_TRUE(client.send_to(pattern(udp::kMaxPayload), {kRed, 6000}));
  EXPECT_EQ(client.send_to(pattern(udp::kMaxPayload + 1), {kRed, 6000}).error(),
            boost::system::errc::message_size);
  poll();
  auto big = server.receive_from(buf);
  ASSERT_TRUE(big);
  EXPECT_EQ(big->size, udp::kMaxPayload);
}

TEST_F(Udp, BroadcastReachesWildcardSockets) {
  auto wildcard = open_bound(*red_, {Ipv4Address::any(), 6100});
  auto specific = open_bound(*red_, {kRed, 6101});
  auto client = udp::open(*blue_).value();
  const Endpoint subnet_broadcast{Ipv4Address(192, 0, 2, 255), 6100};
  EXPECT_EQ(client.send_to(text("all"), subnet_broadcast).error(),
            boost::system::errc::permission_denied);  // no SO_BROADCAST
  client.set_broadcast(true);
  ASSERT_TRUE(client.send_to(text("all"), subnet_broadcast));
  ASSERT_TRUE(client.send_to(text("all"), {Ipv4Address(192, 0, 2, 255), 6101}));
  poll();
  std::array<std::byte, 16> buf{};
  auto got = wildcard.receive_from(buf);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->from.address, kBlue);
  // A socket bound to the unicast address does not take broadcasts, and
  // nobody answers a broadcast with an ICMP error.
  EXPECT_TRUE(is_would_block(specific.receive_from(buf).error()));
  EXPECT_EQ(red_->counters().get("UdpIgnoredMulti"), 1u);
  EXPECT_EQ(red_->counters().get("UdpNoPorts"), 0u);
  EXPECT_EQ(red_->counters().get("IcmpOutDestUnreachs"), 0u);
}

TEST_F(Udp, SocketKeepsItsNamespaceAlive) {
  NetRef net = host_.create_net("kept").value();
  NetHold hold(*net);
  auto sock = udp::open(*net).value();
  const std::size_t live = host_.net_count();
  net.reset();
  poll();
  EXPECT_EQ(host_.net_count(), live);
  EXPECT_TRUE(hold.lock());
  EXPECT_EQ(sock.net().name(), "kept");
  sock.close();  // the last reference: the namespace is dying at once
  EXPECT_FALSE(hold.lock());
  hold.reset();
  poll();
  EXPECT_EQ(host_.net_count(), live - 1);
  EXPECT_EQ(host_.stats().leaked_holds, 0u);
}

TEST_F(Udp, MovedFromSocketsAreInert) {
  auto a = open_bound(*blue_, {Ipv4Address::any(), 8000});
  udp::Socket b = std::move(a);
  EXPECT_FALSE(a.is_open());  // NOLINT(bugprone-use-after-move): the point of the test
  EXPECT_EQ(a.local_endpoint(), Endpoint{});
  EXPECT_EQ(a.send_to(text("x"), {kRed, 9}).error(), boost::system::errc::bad_file_descriptor);
  std::array<std::byte, 4> buf{};
  EXPECT_EQ(a.receive_from(buf).error(), boost::system::errc::bad_file_descriptor);
  EXPECT_EQ(a.bind({Ipv4Address::any(), 8001}).error(), boost::system::errc::bad_file_descriptor);
  EXPECT_EQ(b.local_endpoint().port, 8000);

  // Assigning over a bound socket closes it: its port is free again.
  b = udp::open(*blue_).value();
  auto c = udp::open(*blue_).value();
  EXPECT_TRUE(c.bind({Ipv4Address::any(), 8000}));
  udp::Socket inert;
  EXPECT_FALSE(inert.is_open());
}

TEST_F(Udp, ReadableCallbackMayCloseTheSocket) {
  auto server = std::make_unique<udp::Socket>(open_bound(*red_, {Ipv4Address::any(), 5353}));
  int calls = 0;
  server->on_readable([&] {
    ++calls;
    server.reset();
  });
  auto client = udp::open(*blue_).value();
  ASSERT_TRUE(client.send_to(text("one"), {kRed, 5353}));
  ASSERT_TRUE(client.send_to(text("two"), {kRed, 5353}));
  poll();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(red_->counters().get("UdpNoPorts"), 1u);  // the second found it closed
}

TEST_F(Udp, DumpListsSocketsAsSs) {
  auto server = open_bound(*red_, {Ipv4Address::any(), 5353});
  auto peer = udp::open(*red_).value();
  ASSERT_TRUE(peer.connect({kBlue, 53}));
  const std::string dump = udp::dump_sockets(*red_);
  EXPECT_NE(dump.find("State"), std::string::npos);
  EXPECT_NE(dump.find("Local Address:Port"), std::string::npos);
  EXPECT_NE(dump.find("UNCONN"), std::string::npos);
  EXPECT_NE(dump.find("0.0.0.0:5353"), std::string::npos);
  EXPECT_NE(dump.find("0.0.0.0:*"), std::string::npos);
  EXPECT_NE(dump.find("ESTAB"), std::string::npos);
  EXPECT_NE(dump.find(fmt::format("192.0.2.2:{}", peer.local_endpoint().port)), std::string::npos);
  EXPECT_NE(dump.find("192.0.2.1:53"), std::string::npos);
  EXPECT_EQ(std::count(dump.begin(), dump.end(), '\n'), 3);
}

// 1,000 pairs of namespaces with the same addresses and ports: each server
// hears its own client only.
TEST_F(Udp, SamePortInAThousandNamespacesStaysApart) {
  constexpr int kPairs = 1000;
  std::vector<NetRef> nets;
  std::vector<udp::Socket> servers, clients;
  nets.reserve(2 * kPairs);
  for (int i = 0; i < kPairs; ++i) {
    NetRef a = host_.create_net().value();
    NetRef b = host_.create_net().value();
    auto veth = make_veth(*a, "eth0", *b, "eth0").value();
    ASSERT_TRUE(set_link_up(*veth.a) && set_link_up(*veth.b));
    ASSERT_TRUE(ipv4::add_address(*a, *veth.a, prefix("192.0.2.1/24")));
    ASSERT_TRUE(ipv4::add_address(*b, *veth.b, prefix("192.0.2.2/24")));
    servers.push_back(open_bound(*b, {Ipv4Address::any(), 5353}));
    clients.push_back(open_bound(*a, {kBlue, 4000}));
    const std::array<std::byte, 2> id{std::byte(i & 0xff), std::byte(i >> 8)};
    ASSERT_TRUE(clients.back().send_to(id, {kRed, 5353}));
    nets.push_back(std::move(a));
    nets.push_back(std::move(b));
  }
  poll();
  std::array<std::byte, 8> buf{};
  for (int i = 0; i < kPairs; ++i) {
    auto got = servers[i].receive_from(buf);
    ASSERT_TRUE(got) << "pair " << i << ": " << got.error().message();
    ASSERT_EQ(got->size, 2u);
    EXPECT_EQ(static_cast<int>(buf[0]) | static_cast<int>(buf[1]) << 8, i);
    EXPECT_EQ(got->from, (Endpoint{kBlue, 4000}));
    EXPECT_TRUE(is_would_block(servers[i].receive_from(buf).error()));
  }
  servers.clear();
  clients.clear();
}

// Frames injected through a channel device, for what the veth cannot forge.
class UdpWire : public ::testing::Test {
 protected:
  void SetUp() override {
    net_ = host_.create_net("a").value();
    eth0_ = make_channel(*net_, "eth0").value();
    ASSERT_TRUE(set_link_up(*eth0_));
    ASSERT_TRUE(ipv4::add_address(*net_, *eth0_, prefix("192.0.2.1/24")));
    ASSERT_TRUE(ipv4::add_neighbour(*net_, *eth0_, kPeer, kPeerMac));
  }
  void inject(const support::Bytes& frame) {
    eth0_->inject(frame);
    host_.poll(clock_.now());
  }

  static constexpr MacAddress kPeerMac{0x02, 0, 0, 0, 0, 0x02};
  static constexpr Ipv4Address kPeer{192, 0, 2, 2};
  std::vector<std::string> messages_;
  VirtualClock clock_;
  Host host_{support::test_config(&messages_)};
  NetRef net_;
  ChannelDevice* eth0_ = nullptr;
};

TEST_F(UdpWire, BadChecksumIsCountedAndDropped) {
  auto sock = udp::open(*net_).value();
  ASSERT_TRUE(sock.bind({Ipv4Address::any(), 53}));
  std::vector<std::byte> datagram(wire::UdpRepr::kHeaderLen + 4);
  wire::UdpRepr{.src_port = 1234, .dst_port = 53, .payload_len = 4}.emit(datagram, kPeer, kBlue);
  datagram[6] ^= std::byte{0x5a};
  inject(support::ipv4_frame(eth0_->mac(), kPeerMac,
                             {.src = kPeer, .dst = kBlue, .protocol = wire::IpProtocol::udp}, datagram));
  EXPECT_EQ(net_->counters().get("UdpInCsumErrors"), 1u);
  EXPECT_EQ(net_->counters().get("UdpInErrors"), 1u);
  std::array<std::byte, 16> buf{};
  EXPECT_TRUE(is_would_block(sock.receive_from(buf).error()));
  EXPECT_EQ(eth0_->pending(), 0u);  // no ICMP error for a corrupt datagram

  inject(support::udp_frame(eth0_->mac(), kPeerMac, kPeer, kBlue, 1234, 53, 4));
  auto got = sock.receive_from(buf);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->size, 4u);
  EXPECT_EQ(got->from, (Endpoint{kPeer, 1234}));
}

TEST_F(UdpWire, PortUnreachableQuotesTheDatagram) {
  inject(support::udp_frame(eth0_->mac(), kPeerMac, kPeer, kBlue, 1234, 9, 20));
  EXPECT_EQ(net_->counters().get("UdpNoPorts"), 1u);
  auto frame = eth0_->read();
  ASSERT_TRUE(frame);
  auto out = support::parse_frame(*frame);
  ASSERT_TRUE(out.ip && out.icmp);
  EXPECT_EQ(out.ip->dst, kPeer);
  EXPECT_EQ(out.ip->src, kBlue);
  EXPECT_EQ(out.icmp->type, wire::IcmpType::dest_unreachable);
  EXPECT_EQ(out.icmp->code, static_cast<std::uint8_t>(wire::IcmpUnreachable::port));
  // The quote starts at the offending IP header and includes its UDP header.
  auto quoted = wire::Ipv4View::checked_quoted(out.quoted);
  ASSERT_TRUE(quoted);
  EXPECT_EQ(quoted->src(), kPeer);
  EXPECT_EQ(quoted->dst(), kBlue);
  EXPECT_EQ(quoted->protocol(), wire::IpProtocol::udp);
  ASSERT_GE(quoted->payload().size(), 8u);
  EXPECT_EQ(wire::load_be16(quoted->payload(), 0), 1234);
  EXPECT_EQ(wire::load_be16(quoted->payload(), 2), 9);
}

}  // namespace ipv4_udp_test
}  // namespace
}  // namespace netns
