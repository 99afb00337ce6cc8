// UDP and ping sockets over IPv6 and dual stack: two namespaces on a veth
// with both families' addresses, as Linux's AF_INET6 sockets behave.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "netns/icmp.hpp"
#include "netns/ipv4.hpp"
#include "netns/ipv6.hpp"
#include "netns/sysctl.hpp"
#include "netns/udp.hpp"
#include "netns/device.hpp"
#include "netns/net.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace ipv6_sockets_test {

using namespace std::chrono_literals;

Ipv6Address addr6(std::string_view text) { return Ipv6Address::parse(text).value(); }

const Ipv6Address kBlue6 = addr6("2001:db8::1");
const Ipv6Address kRed6 = addr6("2001:db8::2");

std::span<const std::byte> bytes_of(std::string_view text) { return std::as_bytes(std::span(text)); }

// The link-local address a device got when it came up.
Ipv6Address link_local(Net& net, const Device& dev) {
  for (const auto& a : ipv6::addresses(net)) {
    if (a.dev == &dev && a.prefix.address().is_link_local()) {
      return a.prefix.address().with_scope(static_cast<std::uint32_t>(dev.ifindex()));
    }
  }
  ADD_FAILURE() << "no link-local address on " << dev.name();
  return {};
}

class Ipv6Sockets : public support::AddressedTwoNets {
 protected:
  void SetUp() override {
    AddressedTwoNets::SetUp();
    ASSERT_TRUE(ipv6::add_address(*blue_, *blue_eth0_, Ipv6Prefix(kBlue6, 64)));
    ASSERT_TRUE(ipv6::add_address(*red_, *red_eth0_, Ipv6Prefix(kRed6, 64)));
    run_for(2100ms);  // past DAD
  }

  udp::Socket udp_socket(Net& net, Family family, Endpoint local) {
    auto sock = udp::open(net, family);
    EXPECT_TRUE(sock);
    if (!sock) return {};
    auto bound = sock->bind(local);
    EXPECT_TRUE(bound) << local.to_string() << ": " << bound.error().message();
    return std::move(*sock);
  }
  // One datagram, received whole; fails the test when none is queued.
  std::string receive(udp::Socket& sock, Endpoint* from = nullptr) {
    std::array<std::byte, 2048> buf{};
    auto got = sock.receive_from(buf);
    EXPECT_TRUE(got) << got.error().message();
    if (!got) return {};
    if (from != nullptr) *from = got->from;
    return std::string(reinterpret_cast<const char*>(buf.data()), got->size);
  }
  std::uint64_t counter(Net& net, std::string_view name) { return net.counters().get(name); }
};

TEST_F(Ipv6Sockets, UdpCrossesTheVethAndTheReplyFindsItsWayBack) {
  auto server = udp_socket(*red_, Family::ipv6, {kRed6, 5353});
  auto client = udp::open(*blue_, Family::ipv6).value();
  ASSERT_TRUE(client.send_to(bytes_of("query"), {kRed6, 5353}));
  run_for(10ms);  // NDP, then the datagram
  Endpoint from;
  EXPECT_EQ(receive(server, &from), "query");
  EXPECT_EQ(from.address, IpAddress(kBlue6));  // the route's source
  EXPECT_EQ(from.port, client.local_endpoint().port);
  EXPECT_TRUE(client.local_endpoint().address.is_v6());
  ASSERT_TRUE(server.send_to(bytes_of("answer"), from));
  run_for(10ms);
  EXPECT_EQ(receive(client, &from), "answer");
  EXPECT_EQ(from, (Endpoint{kRed6, 5353}));
  EXPECT_EQ(counter(*blue_, "Udp6OutDatagrams"), 1u);
  EXPECT_EQ(counter(*blue_, "Udp6InDatagrams"), 1u);
  EXPECT_EQ(counter(*red_, "Udp6InDatagrams"), 1u);
  EXPECT_EQ(counter(*red_, "UdpInDatagrams"), 0u);  // nothing in IPv4's MIB
  EXPECT_NE(udp::dump_sockets(*red_).find("[2001:db8::2]:5353"), std::string::npos) << udp::dump_sockets(*red_);
}

// A 60 KB datagram leaves in 42 fragments of a 1500-byte link and is
// reassembled whole, both ways.
TEST_F(Ipv6Sockets, ASixtyKilobyteDatagramIsFragmentedAndReassembled) {
  auto server = udp_socket(*red_, Family::ipv6, {kRed6, 7});
  auto client = udp::open(*blue_, Family::ipv6).value();
  std::vector<std::byte> big(60'000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = std::byte(static_cast<std::uint8_t>(i * 7 + i / 251));
  ASSERT_EQ(client.send_to(big, {kRed6, 7}).value(), big.size());
  run_for(20ms);
  std::vector<std::byte> got(65'536);
  auto datagram = server.receive_from(got);
  ASSERT_TRUE(datagram) << datagram.error().message();
  ASSERT_EQ(datagram->size, big.size());
  EXPECT_TRUE(std::equal(big.begin(), big.end(), got.begin()));
  EXPECT_EQ(counter(*blue_, "Ip6FragOKs"), 1u);
  EXPECT_EQ(counter(*blue_, "Ip6FragCreates"), 42u);
  EXPECT_EQ(counter(*red_, "Ip6ReasmOKs"), 1u);
  ASSERT_EQ(server.send_to(std::span(got).first(datagram->size), datagram->from).value(), big.size());
  run_for(20ms);
  auto back = client.receive_from(got);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->size, big.size());
  EXPECT_EQ(counter(*blue_, "Ip6ReasmOKs"), 1u);
}

TEST_F(Ipv6Sockets, LinkLocalAddressesNeedTheirScope) {
  const Ipv6Address red_ll = link_local(*red_, *red_eth0_);
  auto unscoped = udp::open(*red_, Family::ipv6).value();
  EXPECT_EQ(unscoped.bind({red_ll.with_scope(0), 9}).error(), error(Errc::invalid_argument));
  EXPECT_EQ(unscoped.bind({red_ll.with_scope(99), 9}).error(), error(Errc::no_such_device));
  auto server = udp_socket(*red_, Family::ipv6, {red_ll, 9});

  // Blue names red's link-local address through its own eth0.
  const Ipv6Address dst = red_ll.with_scope(static_cast<std::uint32_t>(blue_eth0_->ifindex()));
  auto client = udp::open(*blue_, Family::ipv6).value();
  ASSERT_TRUE(client.connect({dst, 9}));
  EXPECT_TRUE(client.local_endpoint().address.to_v6().is_link_local());
  ASSERT_TRUE(client.send(bytes_of("on-link")));
  run_for(10ms);
  Endpoint from;
  EXPECT_EQ(receive(server, &from), "on-link");
  EXPECT_TRUE(from.address.to_v6().is_link_local());
  EXPECT_EQ(from.address.to_v6().scope_id(), static_cast<std::uint32_t>(red_eth0_->ifindex()));
}

TEST_F(Ipv6Sockets, ADualStackSocketTakesIpv4PeersAsMappedAddresses) {
  auto server = udp_socket(*red_, Family::ipv6, {Ipv6Address::any(), 7});
  EXPECT_FALSE(server.v6only());
  auto v4_client = udp::open(*blue_).value();
  ASSERT_TRUE(v4_client.send_to(bytes_of("from v4"), {kRed, 7}));
  auto v6_client = udp::open(*blue_, Family::ipv6).value();
  ASSERT_TRUE(v6_client.send_to(bytes_of("from v6"), {kRed6, 7}));
  run_for(10ms);

  Endpoint from;
  EXPECT_EQ(receive(server, &from), "from v4");
  EXPECT_EQ(from, (Endpoint{Ipv6Address::v4_mapped(kBlue), v4_client.local_endpoint().port}));
  EXPECT_EQ(from.to_string(), fmt::format("[::ffff:192.0.2.1]:{}", from.port));
  const Endpoint v4_peer = from;
  EXPECT_EQ(receive(server, &from), "from v6");
  EXPECT_EQ(from.address, IpAddress(kBlue6));
  // Each datagram counts in its own family's MIB.
  EXPECT_EQ(counter(*red_, "UdpInDatagrams"), 1u);
  EXPECT_EQ(counter(*red_, "Udp6InDatagrams"), 1u);

  // The answer to a mapped peer leaves over IPv4, from red's IPv4 address.
  ASSERT_TRUE(server.send_to(bytes_of("back"), v4_peer));
  run_for(10ms);
  EXPECT_EQ(receive(v4_client, &from), "back");
  EXPECT_EQ(from, (Endpoint{kRed, 7}));
  EXPECT_EQ(counter(*red_, "UdpOutDatagrams"), 1u);
  EXPECT_EQ(counter(*red_, "Udp6OutDatagrams"), 0u);

  // Holding 0.0.0.0:7 too, it keeps an IPv4 socket off the port.
  auto v4_server = udp::open(*red_).value();
  EXPECT_EQ(v4_server.bind({Ipv4Address::any(), 7}).error(), error(Errc::address_in_use));
  EXPECT_EQ(v4_server.bind({kRed, 7}).error(), error(Errc::address_in_use));
}

TEST_F(Ipv6Sockets, AConnectedDualStackSocketTalksToItsIpv4PeerGivenEitherWay) {
  auto server = udp_socket(*blue_, Family::ipv4, {kBlue, 53});
  auto client = udp::open(*red_, Family::ipv6).value();
  ASSERT_TRUE(client.connect({kBlue, 53}));  // an IPv4 address: taken as ::ffff:192.0.2.1
  EXPECT_EQ(client.remote_endpoint(), (Endpoint{Ipv6Address::v4_mapped(kBlue), 53}));
  EXPECT_EQ(client.local_endpoint().address, IpAddress(Ipv6Address::v4_mapped(kRed)));
  ASSERT_TRUE(client.send(bytes_of("hi")));
  run_for(10ms);
  Endpoint from;
  EXPECT_EQ(receive(server, &from), "hi");
  EXPECT_EQ(from, (Endpoint{kRed, client.local_endpoint().port}));
  ASSERT_TRUE(server.send_to(bytes_of("ho"), from));
  run_for(10ms);
  EXPECT_EQ(receive(client), "ho");
  // Disconnected, it forgets the port and source connect gave it.
  ASSERT_TRUE(client.disconnect());
  EXPECT_EQ(client.local_endpoint(), (Endpoint{Ipv6Address::any(), 0}));
}

TEST_F(Ipv6Sockets, AV6OnlySocketLeavesIpv4Alone) {
  auto v6only = udp::open(*red_, Family::ipv6).value();
  ASSERT_TRUE(v6only.set_v6only(true));
  ASSERT_TRUE(v6only.bind({Ipv6Address::any(), 7}));
  EXPECT_EQ(v6only.set_v6only(false).error(), error(Errc::invalid_argument));  // bound already
  // IPv4's port 7 is free for an IPv4 socket.
  auto v4_server = udp_socket(*red_, Family::ipv4, {Ipv4Address::any(), 7});

  auto client = udp::open(*blue_).value();
  ASSERT_TRUE(client.send_to(bytes_of("v4"), {kRed, 7}));
  run_for(10ms);
  EXPECT_EQ(receive(v4_server), "v4");
  EXPECT_EQ(v6only.next_size(), 0u);

  // It neither binds nor sends to IPv4.
  auto other = udp::open(*red_, Family::ipv6).value();
  ASSERT_TRUE(other.set_v6only(true));
  EXPECT_EQ(other.bind({Ipv6Address::v4_mapped(kRed), 8}).error(), error(Errc::invalid_argument));
  EXPECT_EQ(other.send_to(bytes_of("x"), {kBlue, 7}).error(), error(Errc::network_unreachable));
  EXPECT_EQ(other.connect({kBlue, 7}).error(), error(Errc::address_family_not_supported));
  // An IPv4 socket has no v6-only switch.
  auto v4 = udp::open(*red_).value();
  EXPECT_EQ(v4.set_v6only(true).error(), error(Errc::invalid_argument));
}

TEST_F(Ipv6Sockets, BindV6OnlyMakesNewSocketsV6Only) {
  ASSERT_TRUE(red_->sysctl().set("net.ipv6.bindv6only", "1"));
  auto v6 = udp_socket(*red_, Family::ipv6, {Ipv6Address::any(), 7});
  EXPECT_TRUE(v6.v6only());
  auto v4 = udp_socket(*red_, Family::ipv4, {Ipv4Address::any(), 7});  // no conflict
  EXPECT_TRUE(v4.is_open());
  // The socket may still choose dual stack before it binds.
  auto dual = udp::open(*red_, Family::ipv6).value();
  ASSERT_TRUE(dual.set_v6only(false));
  EXPECT_EQ(dual.bind({Ipv6Address::any(), 7}).error(), error(Errc::address_in_use));
}

TEST_F(Ipv6Sockets, BadAddressesAreRefusedAndChangeNothing) {
  auto v6 = udp::open(*red_, Family::ipv6).value();
  EXPECT_EQ(v6.bind({kRed, 1}).error(), error(Errc::address_family_not_supported));
  EXPECT_EQ(v6.bind({kBlue6, 1}).error(), error(Errc::address_not_available));  // not red's
  EXPECT_EQ(v6.bind({Ipv6Address::v4_mapped(kBlue), 1}).error(), error(Errc::address_not_available));
  EXPECT_EQ(v6.local_endpoint(), (Endpoint{Ipv6Address::any(), 0}));
  auto v4 = udp::open(*red_).value();
  EXPECT_EQ(v4.bind({kRed6, 1}).error(), error(Errc::address_family_not_supported));
  EXPECT_EQ(v4.send_to(bytes_of("x"), {kBlue6, 1}).error(), error(Errc::address_family_not_supported));
  EXPECT_EQ(v6.send_to(bytes_of("x"), {addr6("2001:db8:ffff::1"), 1}).error(), error(Errc::network_unreachable));
  EXPECT_EQ(counter(*red_, "Ip6OutNoRoutes"), 1u);  // ip6_dst_lookup_tail's
  EXPECT_EQ(v6.send_to(std::span<const std::byte>(std::vector<std::byte>(udp::kMaxPayload6 + 1)), {kBlue6, 1})
                .error(),
            error(Errc::message_size));
  // A tentative address is not bound to (inet6_bind refuses IFA_F_TENTATIVE).
  auto fresh = udp::open(*red_, Family::ipv6).value();
  ASSERT_TRUE(ipv6::add_address(*red_, *red_eth0_, Ipv6Prefix(addr6("2001:db8::99"), 64)));
  EXPECT_EQ(fresh.bind({addr6("2001:db8::99"), 1}).error(), error(Errc::address_not_available));
  run_for(2100ms);
  EXPECT_TRUE(fresh.bind({addr6("2001:db8::99"), 1}));
}

TEST_F(Ipv6Sockets, APortUnreachableReachesTheConnectedSocket) {
  auto client = udp::open(*blue_, Family::ipv6).value();
  ASSERT_TRUE(client.connect({kRed6, 9}));
  ASSERT_TRUE(client.send(bytes_of("anyone?")));
  run_for(10ms);
  EXPECT_EQ(counter(*red_, "Udp6NoPorts"), 1u);
  EXPECT_EQ(counter(*red_, "Icmp6OutDestUnreachs"), 1u);
  EXPECT_EQ(counter(*blue_, "Icmp6InDestUnreachs"), 1u);
  std::array<std::byte, 16> buf{};
  auto got = client.receive_from(buf);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), error(Errc::connection_refused));
  // Reported once.
  EXPECT_EQ(client.receive_from(buf).error(), error(Errc::operation_would_block));
}

// icmpv6_xrlim_allow: six port unreachables to one host at once, then one
// per net.ipv6.icmp.ratelimit / 4 (its route, 2001:db8::/64, is 64 bits
// short of /128); the rest counted as Icmp6OutRateLimitHost.
TEST_F(Ipv6Sockets, PortUnreachablesToOneHostAreRateLimited) {
  auto client = udp::open(*blue_, Family::ipv6).value();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(client.send_to(bytes_of("x"), {kRed6, 9}));
  run_for(10ms);
  EXPECT_EQ(counter(*red_, "Udp6NoPorts"), 10u);
  EXPECT_EQ(counter(*red_, "Icmp6OutDestUnreachs"), 6u);
  EXPECT_EQ(counter(*red_, "Icmp6OutRateLimitHost"), 4u);
  run_for(250ms);  // one interval's credit back
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(client.send_to(bytes_of("x"), {kRed6, 9}));
  run_for(10ms);
  EXPECT_EQ(counter(*red_, "Icmp6OutDestUnreachs"), 7u);
  EXPECT_EQ(counter(*red_, "Icmp6OutRateLimitHost"), 5u);
  // 0 turns the limit off.
  ASSERT_TRUE(red_->sysctl().set("net.ipv6.icmp.ratelimit", "0"));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client.send_to(bytes_of("x"), {kRed6, 9}));
  run_for(10ms);
  EXPECT_EQ(counter(*red_, "Icmp6OutDestUnreachs"), 10u);
}

TEST_F(Ipv6Sockets, PingOverIpv6ToGlobalAndLinkLocalAddresses) {
  auto ping = icmp::open(*blue_, Family::ipv6).value();
  EXPECT_EQ(ping.family(), Family::ipv6);
  ASSERT_TRUE(ping.send_echo(kRed6, 1, bytes_of("abcd")));
  const Ipv6Address red_ll =
      link_local(*red_, *red_eth0_).with_scope(static_cast<std::uint32_t>(blue_eth0_->ifindex()));
  ASSERT_TRUE(ping.send_echo(red_ll, 2));
  run_for(20ms);
  auto first = ping.receive();
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(first->from, IpAddress(kRed6));
  EXPECT_EQ(first->seq, 1);
  EXPECT_EQ(first->payload_size, 4u);
  auto second = ping.receive();
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(second->seq, 2);
  EXPECT_TRUE(second->from.to_v6().is_link_local());
  EXPECT_EQ(counter(*blue_, "Icmp6OutEchos"), 2u);
  EXPECT_EQ(counter(*blue_, "Icmp6InEchoReplies"), 2u);
  EXPECT_EQ(counter(*red_, "Icmp6InEchos"), 2u);

  EXPECT_EQ(ping.send_echo(kRed, 3).error(), error(Errc::address_family_not_supported));
  auto v4_ping = icmp::open(*blue_).value();
  EXPECT_EQ(v4_ping.send_echo(kRed6, 1).error(), error(Errc::address_family_not_supported));
  EXPECT_EQ(ping.send_echo(addr6("2001:db8:ffff::1"), 4).error(), error(Errc::network_unreachable));
  EXPECT_EQ(counter(*blue_, "Ip6OutNoRoutes"), 1u);
}

TEST_F(Ipv6Sockets, PingSocketsOfBothFamiliesShareNoReplies) {
  auto ping4 = icmp::open(*blue_).value();
  auto ping6 = icmp::open(*blue_, Family::ipv6).value();
  ASSERT_TRUE(ping4.bind({Ipv4Address::any(), 77}));
  ASSERT_TRUE(ping6.bind({Ipv6Address::any(), 77}));  // the same id, another family
  ASSERT_TRUE(ping4.send_echo(kRed, 1));
  ASSERT_TRUE(ping6.send_echo(kRed6, 2));
  run_for(20ms);
  auto r4 = ping4.receive();
  auto r6 = ping6.receive();
  ASSERT_TRUE(r4 && r6);
  EXPECT_EQ(r4->from, IpAddress(kRed));
  EXPECT_EQ(r6->from, IpAddress(kRed6));
  EXPECT_FALSE(ping4.receive());
  EXPECT_FALSE(ping6.receive());
}

// The scale check: a hundred pairs of namespaces with the same
// addresses, each pinging its own peer and hearing only it.
TEST(Ipv6Namespaces, AHundredPairsWithIdenticalAddressesPingTheirOwnPeer) {
  VirtualClock clock;
  Host host{support::test_config()};
  struct Pair {
    NetRef a, b;
    Device* b_eth0 = nullptr;
    icmp::EchoSocket ping;
  };
  std::vector<Pair> pairs(100);
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    Pair& p = pairs[i];
    p.a = host.create_net(fmt::format("a{}", i)).value();
    p.b = host.create_net(fmt::format("b{}", i)).value();
    auto veth = make_veth(*p.a, "eth0", *p.b, "eth0").value();
    ASSERT_TRUE(set_link_up(*veth.a) && set_link_up(*veth.b));
    ASSERT_TRUE(ipv6::add_address(*p.a, *veth.a, Ipv6Prefix(kBlue6, 64)));
    ASSERT_TRUE(ipv6::add_address(*p.b, *veth.b, Ipv6Prefix(kRed6, 64)));
    p.b_eth0 = veth.b;
    p.ping = icmp::open(*p.a, Family::ipv6).value();
  }
  auto run = [&](Clock::duration span) {
    const auto end = clock.now() + span;
    while (clock.now() < end) {
      clock.advance(10ms);
      host.poll(clock.now());
    }
  };
  run(2100ms);
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    ASSERT_TRUE(pairs[i].ping.send_echo(kRed6, static_cast<std::uint16_t>(i)));
  }
  run(50ms);
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    auto reply = pairs[i].ping.receive();
    ASSERT_TRUE(reply) << "pair " << i << ": " << reply.error().message();
    EXPECT_EQ(reply->seq, i);
    EXPECT_FALSE(pairs[i].ping.receive());
    EXPECT_EQ(pairs[i].b->counters().get("Icmp6InEchos"), 1u) << "pair " << i;
  }
  for (auto& p : pairs) p.ping.close();
}

}  // namespace ipv6_sockets_test
}  // namespace
}  // namespace netns
