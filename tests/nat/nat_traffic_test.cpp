// NAT on real traffic (nft nat chains, nat::hook): a - r - b over veths, r
// forwarding and translating, both families. Masquerade and port
// forwarding for TCP, UDP and ping, with the ICMP errors either end sends
// translated back to the host that caused them; hairpin on a bridged LAN;
// destination NAT of the router's own traffic, routed again; redirect; and
// a source range that runs out of ports without ever reusing one.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "netns/bridge.hpp"
#include "netns/conntrack.hpp"
#include "netns/counters.hpp"
#include "netns/device.hpp"
#include "netns/icmp.hpp"
#include "netns/ipv4.hpp"
#include "netns/ipv6.hpp"
#include "netns/net.hpp"
#include "netns/nft.hpp"
#include "netns/tcp.hpp"
#include "netns/udp.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace nat_nat_traffic_test {

using namespace std::chrono_literals;
namespace errc = boost::system::errc;

std::size_t bytes_of(const Result<std::size_t>& r) { return r ? *r : 0; }

class NatTrafficTest : public support::HostTest, public ::testing::WithParamInterface<Family> {
 protected:
  void SetUp() override {
    support::RoutedNets nets;
    support::route_through(host_, nets);
    ASSERT_FALSE(HasFatalFailure());
    a_ = nets.a;
    r_ = nets.r;
    b_ = nets.b;
    r_left_ = nets.r_left;
    for (Net* n : {a_.get(), r_.get(), b_.get()}) ASSERT_TRUE(set_link_up(n->loopback()));
    run_for(support::kPastDad);
  }

  bool v6() const { return GetParam() == Family::ipv6; }
  IpAddress ip(std::string_view v4, std::string_view v6text) const {
    return v6() ? IpAddress(Ipv6Address::parse(v6text).value()) : IpAddress(Ipv4Address::parse(v4).value());
  }
  IpAddress any() const { return ip("0.0.0.0", "::"); }
  IpAddress a_addr() const { return ip("192.0.2.1", "2001:db8:1::1"); }
  IpAddress r_inside() const { return ip("192.0.2.2", "2001:db8:1::2"); }
  IpAddress r_outside() const { return ip("198.51.100.1", "2001:db8:2::1"); }
  IpAddress b_addr() const { return ip("198.51.100.2", "2001:db8:2::2"); }
  // nft's spelling of an address in a statement ("[a]" for IPv6 with a port).
  std::string nat_to(std::string_view v4, std::string_view v6text, int port = 0) const {
    if (port == 0) return std::string(v6() ? v6text : v4);
    return v6() ? fmt::format("[{}]:{}", v6text, port) : fmt::format("{}:{}", v4, port);
  }
  std::string l3() const { return v6() ? "ip6" : "ip"; }
  // `address` on `dev`, as the test networks' prefixes (/24, /64) have it.
  void add_address(Net& net, Device& dev, const IpAddress& address) {
    if (v6()) {
      ASSERT_TRUE(ipv6::add_address(net, dev, Ipv6Prefix(address.to_v6(), 64)));
    } else {
      ASSERT_TRUE(ipv4::add_address(net, dev, Ipv4Prefix(address.to_v4(), 24)));
    }
  }
  void del_address(Net& net, Device& dev, const IpAddress& address) {
    if (v6()) {
      ASSERT_TRUE(ipv6::del_address(net, dev, Ipv6Prefix(address.to_v6(), 64)));
    } else {
      ASSERT_TRUE(ipv4::del_address(net, dev, Ipv4Prefix(address.to_v4(), 24)));
    }
  }
  std::string icmp() const { return v6() ? "icmpv6" : "icmp"; }
  Counter in_echos() const { return v6() ? Counter::Icmp6InEchos : Counter::IcmpInEchos; }

  void load(Net& n, const std::string& script) {
    std::string diagnostics;
    ASSERT_TRUE(nft::run(n, script, diagnostics)) << diagnostics << "\n" << script;
  }
  // A nat table of the test's family in r with these chains' rules.
  void nat_rules(const std::string& pre, const std::string& post, const std::string& out = "") {
    load(*r_, fmt::format("flush ruleset\ntable {} nat {{\n"
                          " chain pre {{ type nat hook prerouting priority dstnat;\n{}\n }}\n"
                          " chain post {{ type nat hook postrouting priority srcnat;\n{}\n }}\n"
                          " chain out {{ type nat hook output priority -100;\n{}\n }}\n}}\n",
                          l3(), pre, post, out));
  }
  void masquerade() { nat_rules("", "oifname \"right\" masquerade"); }

  // r's conntrack table, one line per entry, for failure messages.
  std::string table() { return conntrack::dump(*r_); }

  // A UDP server on b's port 7000 and a client in a (on `client_port`; 0: any).
  struct UdpProbe {
    udp::Socket server, client;
  };
  UdpProbe udp_probe(std::uint16_t client_port = 0) {
    UdpProbe p{udp::open(*b_, GetParam()).value(), udp::open(*a_, GetParam()).value()};
    EXPECT_TRUE(p.server.bind({any(), 7000}));
    if (client_port != 0) {
      EXPECT_TRUE(p.client.bind({any(), client_port}));
    }
    return p;
  }
  // One datagram from the probe's client to b:7000: where b saw it come
  // from, nullopt when it did not arrive.
  std::optional<Endpoint> send_once(UdpProbe& p) {
    const std::array<std::byte, 2> hi{std::byte{'h'}, std::byte{'i'}};
    EXPECT_TRUE(p.client.send_to(hi, {b_addr(), 7000}));
    run_for(50ms);
    std::array<std::byte, 16> buf{};
    auto got = p.server.receive_from(buf);
    if (!got) return std::nullopt;
    return got->from;
  }

  NetRef a_, r_, b_;
  Device* r_left_ = nullptr;
};

INSTANTIATE_TEST_SUITE_P(BothFamilies, NatTrafficTest, ::testing::Values(Family::ipv4, Family::ipv6),
                         [](const auto& info) { return info.param == Family::ipv4 ? "Ipv4" : "Ipv6"; });

TEST_P(NatTrafficTest, MasqueradeHidesTheInsideForUdp) {
  masquerade();
  auto server = udp::open(*b_, GetParam()).value();
  ASSERT_TRUE(server.bind({any(), 7000}));
  auto client = udp::open(*a_, GetParam()).value();
  ASSERT_TRUE(client.bind({any(), 4000}));
  const std::array<std::byte, 4> ping{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  ASSERT_TRUE(client.send_to(ping, {b_addr(), 7000}));
  run_for(50ms);
  std::array<std::byte, 64> buf{};
  auto got = server.receive_from(buf);
  ASSERT_TRUE(got) << table();
  EXPECT_EQ(got->from.address, r_outside());
  EXPECT_EQ(got->from.port, 4000);  // free outside: masquerade keeps the port
  ASSERT_TRUE(server.send_to(std::span(buf).first(got->size), got->from));
  run_for(50ms);
  auto back = client.receive_from(buf);
  ASSERT_TRUE(back) << table();
  EXPECT_EQ(back->from, Endpoint(b_addr(), 7000));
  EXPECT_EQ(conntrack::count(*r_), 1u);
}

TEST_P(NatTrafficTest, MasqueradeHidesTheInsideForTcp) {
  masquerade();
  auto listener = tcp::listen(*b_, {any(), 80}).value();
  auto stream = tcp::connect(*a_, {b_addr(), 80}).value();
  run_for(100ms);
  auto conn = listener.accept();
  ASSERT_TRUE(conn) << table();
  EXPECT_EQ(conn->remote_endpoint().address, r_outside());
  const std::array<std::byte, 3> hello{std::byte{'h'}, std::byte{'i'}, std::byte{'!'}};
  ASSERT_TRUE(stream.write(hello));
  ASSERT_TRUE(conn->write(hello));
  run_for(100ms);
  std::array<std::byte, 16> buf{};
  EXPECT_EQ(bytes_of(conn->read(buf)), 3u);
  EXPECT_EQ(bytes_of(stream.read(buf)), 3u);
  EXPECT_NE(table().find("ESTABLISHED"), std::string::npos) << table();
}

TEST_P(NatTrafficTest, MasqueradeHidesTheInsideForPing) {
  masquerade();
  auto pinger = icmp::open(*a_, GetParam()).value();
  ASSERT_TRUE(pinger.bind({any(), 77}));
  ASSERT_TRUE(pinger.send_echo(b_addr(), 1));
  run_for(50ms);
  auto reply = pinger.receive();
  ASSERT_TRUE(reply) << table();
  EXPECT_EQ(reply->from, b_addr());
  EXPECT_EQ(b_->counters().value(in_echos()), 1u);
  // The reply tuple is addressed to the router: b answered r, not a.
  EXPECT_NE(table().find(fmt::format("dst={} type=", r_outside().to_string())), std::string::npos) << table();
}

// nf_nat_icmp_reply_translation: b's errors about translated datagrams
// reach a, quoted datagram and outer header turned back.
TEST_P(NatTrafficTest, ErrorsFromOutsideReachTheHostBehindTheMasquerade) {
  masquerade();
  load(*b_, fmt::format("table inet f {{ chain in {{ type filter hook input priority filter;\n"
                        " tcp dport 81 reject with icmpx type port-unreachable\n"
                        " {} type echo-request reject with icmpx type admin-prohibited\n }}\n}}\n",
                        icmp()));
  std::array<std::byte, 64> buf{};
  {
    SCOPED_TRACE("udp to a closed port");
    auto client = udp::open(*a_, GetParam()).value();
    ASSERT_TRUE(client.connect({b_addr(), 7001}));
    ASSERT_TRUE(client.send(std::span(buf).first(8)));
    run_for(50ms);
    auto got = client.receive_from(buf);
    ASSERT_FALSE(got) << table();
    EXPECT_EQ(got.error(), errc::connection_refused);
  }
  run_for(2s);  // past b's ICMP rate limit towards r
  {
    SCOPED_TRACE("tcp to a rejected port");
    auto stream = tcp::connect(*a_, {b_addr(), 81}).value();
    run_for(100ms);
    auto got = stream.read(buf);
    ASSERT_FALSE(got) << table();
    EXPECT_EQ(got.error(), errc::connection_refused);
  }
  run_for(2s);
  {
    SCOPED_TRACE("a rejected ping");
    auto pinger = icmp::open(*a_, GetParam()).value();
    ASSERT_TRUE(pinger.send_echo(b_addr(), 1));
    run_for(50ms);
    auto got = pinger.receive();
    ASSERT_FALSE(got) << table();
    EXPECT_EQ(got.error(), v6() ? errc::permission_denied : errc::host_unreachable);
  }
}

TEST_P(NatTrafficTest, PortForwardingReachesTheServerInsideForTcpAndUdp) {
  const int tcp_port = 8080, udp_port = 5300;
  nat_rules(fmt::format("iifname \"right\" tcp dport {} dnat to {}\n"
                        " iifname \"right\" udp dport {} dnat to {}",
                        tcp_port, nat_to("192.0.2.1", "2001:db8:1::1", 80), udp_port,
                        nat_to("192.0.2.1", "2001:db8:1::1", 53)),
            "");
  auto listener = tcp::listen(*a_, {any(), 80}).value();
  auto stream = tcp::connect(*b_, {r_outside(), static_cast<std::uint16_t>(tcp_port)}).value();
  run_for(100ms);
  auto conn = listener.accept();
  ASSERT_TRUE(conn) << table();
  EXPECT_EQ(conn->remote_endpoint().address, b_addr());  // no source NAT: a sees the client
  const std::array<std::byte, 2> hi{std::byte{'h'}, std::byte{'i'}};
  ASSERT_TRUE(conn->write(hi));
  run_for(100ms);
  std::array<std::byte, 16> buf{};
  EXPECT_EQ(bytes_of(stream.read(buf)), 2u);
  EXPECT_EQ(stream.remote_endpoint(), Endpoint(r_outside(), static_cast<std::uint16_t>(tcp_port)));

  auto server = udp::open(*a_, GetParam()).value();
  ASSERT_TRUE(server.bind({any(), 53}));
  auto client = udp::open(*b_, GetParam()).value();
  ASSERT_TRUE(client.send_to(hi, {r_outside(), static_cast<std::uint16_t>(udp_port)}));
  run_for(50ms);
  auto got = server.receive_from(buf);
  ASSERT_TRUE(got) << table();
  EXPECT_EQ(got->from.address, b_addr());
  ASSERT_TRUE(server.send_to(hi, got->from));
  run_for(50ms);
  auto back = client.receive_from(buf);
  ASSERT_TRUE(back) << table();
  EXPECT_EQ(back->from, Endpoint(r_outside(), static_cast<std::uint16_t>(udp_port)));
}

TEST_P(NatTrafficTest, PortForwardingReachesTheServerInsideForPing) {
  nat_rules(fmt::format("iifname \"right\" {} type echo-request dnat to {}", icmp(),
                        nat_to("192.0.2.1", "2001:db8:1::1")),
            "");
  auto pinger = icmp::open(*b_, GetParam()).value();
  ASSERT_TRUE(pinger.send_echo(r_outside(), 7));
  run_for(50ms);
  auto reply = pinger.receive();
  ASSERT_TRUE(reply) << table();
  EXPECT_EQ(reply->from, r_outside());
  EXPECT_EQ(reply->seq, 7);
  EXPECT_EQ(a_->counters().value(in_echos()), 1u);  // a answered, not r
  EXPECT_EQ(r_->counters().value(in_echos()), 0u);
}

// a's port unreachable about a forwarded datagram reaches b as if r sent it.
TEST_P(NatTrafficTest, ErrorsFromInsideReachTheClientOutsideAsTheRoutersOwn) {
  nat_rules(fmt::format("iifname \"right\" udp dport 53 dnat to {}", nat_to("192.0.2.1", "2001:db8:1::1")), "");
  auto client = udp::open(*b_, GetParam()).value();
  ASSERT_TRUE(client.connect({r_outside(), 53}));  // nobody listens on a:53
  std::array<std::byte, 16> buf{};
  ASSERT_TRUE(client.send(std::span(buf).first(4)));
  run_for(50ms);
  auto got = client.receive_from(buf);
  ASSERT_FALSE(got) << table();
  EXPECT_EQ(got.error(), errc::connection_refused);
}

// A client on the LAN reaches the forwarded port by the public address: the
// router translates both ways so the server answers through it (Linux's
// hairpin NAT, with masquerade for LAN-to-LAN).
TEST_P(NatTrafficTest, HairpinReachesTheForwardedPortFromTheLan) {
  // The LAN: r's "left" and a new port to c, on a bridge holding r's address.
  NetRef c = host_.create_net("c").value();
  auto lan = make_veth(*r_, "lan2", *c, "eth0").value();
  ASSERT_TRUE(c->sysctl().set("net.ipv6.conf.eth0.accept_ra", "0"));
  Device* br = make_bridge(*r_, "br0").value();
  ASSERT_TRUE(set_master(*r_left_, *br));
  ASSERT_TRUE(set_master(*lan.a, *br));
  for (Device* d : {lan.a, lan.b, br}) ASSERT_TRUE(set_link_up(*d));
  ASSERT_TRUE(set_link_up(c->loopback()));
  del_address(*r_, *r_left_, r_inside());
  add_address(*r_, *br, r_inside());
  add_address(*c, *lan.b, ip("192.0.2.3", "2001:db8:1::3"));
  if (v6()) {
    ASSERT_TRUE(ipv6::add_route(*c, {.prefix = Ipv6Prefix::parse("::/0").value(), .via = r_inside().to_v6(),
                                     .dev = lan.b}));
  } else {
    ASSERT_TRUE(ipv4::add_route(*c, {.prefix = Ipv4Prefix::parse("0.0.0.0/0").value(), .via = r_inside().to_v4()}));
  }
  run_for(support::kPastDad);
  const int port = 8080;
  const std::string lan_net = v6() ? "2001:db8:1::/64" : "192.0.2.0/24";
  nat_rules(fmt::format("{} daddr {} tcp dport {} dnat to {}", l3(), r_outside().to_string(), port,
                        nat_to("192.0.2.1", "2001:db8:1::1", 80)),
            fmt::format("{} saddr {} {} daddr {} tcp dport 80 masquerade", l3(), lan_net, l3(),
                        a_addr().to_string()));
  auto listener = tcp::listen(*a_, {any(), 80}).value();
  auto stream = tcp::connect(*c, {r_outside(), static_cast<std::uint16_t>(port)}).value();
  run_for(200ms);
  auto conn = listener.accept();
  ASSERT_TRUE(conn) << table();
  EXPECT_EQ(conn->remote_endpoint().address, r_inside());  // masqueraded on the LAN
  const std::array<std::byte, 2> hi{std::byte{'h'}, std::byte{'i'}};
  ASSERT_TRUE(conn->write(hi));
  ASSERT_TRUE(stream.write(hi));
  run_for(100ms);
  std::array<std::byte, 16> buf{};
  EXPECT_EQ(bytes_of(stream.read(buf)), 2u);
  EXPECT_EQ(bytes_of(conn->read(buf)), 2u);
}

// nf_nat_ipv4_local_fn / ip_route_me_harder: r's own datagram to an address
// routed left is sent right once an output rule changes its destination,
// and the reply comes back from the address it was sent to.
TEST_P(NatTrafficTest, OutputDnatIsRoutedAgain) {
  if (v6()) {
    ASSERT_TRUE(ipv6::add_route(*r_, {.prefix = Ipv6Prefix::parse("2001:db8:99::/64").value(),
                                      .via = Ipv6Address::parse("2001:db8:1::1").value(), .dev = r_left_}));
  } else {
    ASSERT_TRUE(ipv4::add_route(*r_, {.prefix = Ipv4Prefix::parse("203.0.113.0/24").value(),
                                      .via = Ipv4Address(192, 0, 2, 1)}));
  }
  const IpAddress elsewhere = ip("203.0.113.7", "2001:db8:99::7");
  nat_rules("", "",
            fmt::format("{} daddr {} udp dport 53 dnat to {}", l3(), elsewhere.to_string(),
                        nat_to("198.51.100.2", "2001:db8:2::2", 7000)));
  const std::uint16_t server_port = 7000;
  auto server = udp::open(*b_, GetParam()).value();
  ASSERT_TRUE(server.bind({any(), server_port}));
  auto a_side = udp::open(*a_, GetParam()).value();
  ASSERT_TRUE(a_side.bind({any(), 53}));
  auto client = udp::open(*r_, GetParam()).value();
  const std::array<std::byte, 2> hi{std::byte{'h'}, std::byte{'i'}};
  ASSERT_TRUE(client.send_to(hi, {elsewhere, 53}));
  run_for(50ms);
  std::array<std::byte, 16> buf{};
  EXPECT_FALSE(a_side.receive_from(buf));  // not where the first route pointed
  auto got = server.receive_from(buf);
  ASSERT_TRUE(got) << table();
  ASSERT_TRUE(server.send_to(hi, got->from));
  run_for(50ms);
  auto back = client.receive_from(buf);
  ASSERT_TRUE(back) << table();
  EXPECT_EQ(back->from, Endpoint(elsewhere, 53));
}

// nf_nat_redirect: a datagram for b's port 5300 is taken by r itself.
TEST_P(NatTrafficTest, RedirectDeliversToTheRouter) {
  nat_rules("iifname \"left\" udp dport 5300 redirect to :7000", "");
  auto local = udp::open(*r_, GetParam()).value();
  ASSERT_TRUE(local.bind({any(), 7000}));
  auto client = udp::open(*a_, GetParam()).value();
  const std::array<std::byte, 2> hi{std::byte{'h'}, std::byte{'i'}};
  ASSERT_TRUE(client.send_to(hi, {b_addr(), 5300}));
  run_for(50ms);
  std::array<std::byte, 16> buf{};
  auto got = local.receive_from(buf);
  ASSERT_TRUE(got) << table();
  EXPECT_EQ(got->from.address, a_addr());
  ASSERT_TRUE(local.send_to(hi, got->from));
  run_for(50ms);
  auto back = client.receive_from(buf);
  ASSERT_TRUE(back) << table();
  EXPECT_EQ(back->from, Endpoint(b_addr(), 5300));  // as if b answered
}

// Two inside sockets on one port share an outside address of two ports:
// each gets its own, and a third finds none free and is dropped (counted),
// never sent with a tuple another connection holds.
TEST_P(NatTrafficTest, ASourceRangeNeverGivesOnePortTwice) {
  Device* eth0 = a_->device("eth0");
  const std::vector<std::string> sources =
      v6() ? std::vector<std::string>{"2001:db8:1::1", "2001:db8:1::11", "2001:db8:1::12"}
           : std::vector<std::string>{"192.0.2.1", "192.0.2.11", "192.0.2.12"};
  for (std::size_t i = 1; i < sources.size(); ++i) {
    add_address(*a_, *eth0, IpAddress::parse(sources[i]).value());
  }
  run_for(support::kPastDad);
  nat_rules("", fmt::format("oifname \"right\" meta l4proto udp snat to {}-{}",
                            nat_to("198.51.100.1", "2001:db8:2::1", 20000), 20001));
  auto server = udp::open(*b_, GetParam()).value();
  ASSERT_TRUE(server.bind({any(), 7000}));
  std::vector<udp::Socket> clients;
  const std::array<std::byte, 2> hi{std::byte{'h'}, std::byte{'i'}};
  for (const std::string& src : sources) {
    clients.push_back(udp::open(*a_, GetParam()).value());
    ASSERT_TRUE(clients.back().bind({IpAddress::parse(src).value(), 4000}));
    ASSERT_TRUE(clients.back().send_to(hi, {b_addr(), 7000}));
    run_for(20ms);
  }
  std::array<std::byte, 16> buf{};
  std::vector<std::uint16_t> ports;
  while (auto got = server.receive_from(buf)) {
    EXPECT_EQ(got->from.address, r_outside());
    ports.push_back(got->from.port);
  }
  ASSERT_EQ(ports.size(), 2u) << table();
  EXPECT_NE(ports[0], ports[1]);
  for (std::uint16_t p : ports) EXPECT_TRUE(p == 20000 || p == 20001) << p;
  EXPECT_EQ(conntrack::stats(*r_).insert_failed, 1u);
}


// NF_NAT_RANGE_PROTO_RANDOM: masquerade picks a port even when the
// client's is free outside.
TEST_P(NatTrafficTest, MasqueradeRandomNeverKeepsTheClientsPort) {
  nat_rules("", "oifname \"right\" masquerade random");
  UdpProbe probe = udp_probe(4000);
  const auto seen = send_once(probe);
  ASSERT_TRUE(seen) << table();
  EXPECT_EQ(seen->address, r_outside());
  EXPECT_NE(seen->port, 4000);
  EXPECT_GE(seen->port, 1024);
}

// find_best_ips_proto: an address of the range hashed from both ends, or,
// `persistent`, from the source address alone: one client, one address,
// whatever the destination and the port.
TEST_P(NatTrafficTest, PersistentKeepsAClientsAddressTowardsEveryDestination) {
  std::vector<IpAddress> destinations{b_addr()};
  for (int i = 3; i < 9; ++i) {
    const IpAddress d = ip(fmt::format("198.51.100.{}", i), fmt::format("2001:db8:2::{}", i));
    add_address(*b_, *b_->device("eth0"), d);
    destinations.push_back(d);
  }
  run_for(support::kPastDad);
  auto server = udp::open(*b_, GetParam()).value();
  ASSERT_TRUE(server.bind({any(), 7000}));
  const std::string range = v6() ? "2001:db8:2::100-2001:db8:2::1ff" : "198.51.100.100-198.51.100.199";
  // How many source addresses b sees from one client sending to each destination.
  auto addresses_seen = [&](const std::string& flags) {
    conntrack::flush(*r_);
    nat_rules("", fmt::format("oifname \"right\" snat to {} {}", range, flags));
    // A socket (a source port) per destination: one source's later
    // connections would keep its first mapping (find_appropriate_src).
    const std::array<std::byte, 2> hi{std::byte{'h'}, std::byte{'i'}};
    for (const IpAddress& d : destinations) {
      auto client = udp::open(*a_, GetParam()).value();
      EXPECT_TRUE(client.send_to(hi, {d, 7000}));
    }
    run_for(50ms);
    std::vector<IpAddress> seen;
    std::array<std::byte, 16> buf{};
    while (auto got = server.receive_from(buf)) {
      if (std::find(seen.begin(), seen.end(), got->from.address) == seen.end()) seen.push_back(got->from.address);
    }
    return seen.size();
  };
  EXPECT_GT(addresses_seen(""), 1u);
  EXPECT_EQ(addresses_seen("persistent"), 1u);
}


// masq_device_event: what was masqueraded out of a device that went down is
// forgotten, so the next datagram takes the address the device has now,
// not the one it had.
TEST_P(NatTrafficTest, ADeviceGoingDownForgetsWhatWasMasqueradedOutOfIt) {
  masquerade();
  UdpProbe probe = udp_probe();
  auto source_seen = [&] { return send_once(probe).value_or(Endpoint{}).address; };
  ASSERT_EQ(source_seen(), r_outside()) << table();
  ASSERT_EQ(conntrack::count(*r_), 1u);

  // The router's outside address changes while its device is down.
  Device* right = r_->device("right");
  ASSERT_TRUE(set_link_up(*right, false));
  EXPECT_EQ(conntrack::count(*r_), 0u) << table();
  const IpAddress renumbered = ip("198.51.100.9", "2001:db8:2::9");
  // IPv6's went with the link (keep_addr_on_down 0, as Linux).
  if (!v6()) del_address(*r_, *right, r_outside());
  add_address(*r_, *right, renumbered);
  ASSERT_TRUE(set_link_up(*right));
  run_for(support::kPastDad);
  EXPECT_EQ(source_seen(), renumbered) << table();
}


// nf_nat_oif_changed: once the route sends a masqueraded connection out of
// another device, its next datagram is dropped and the connection
// forgotten, rather than leaving with the first device's address.
TEST_P(NatTrafficTest, AMasqueradedConnectionRoutedElsewhereIsForgotten) {
  masquerade();
  UdpProbe probe = udp_probe();
  ASSERT_TRUE(send_once(probe)) << table();
  ASSERT_EQ(conntrack::count(*r_), 1u);

  // b is now reached out of "left" (a host route beats the connected one).
  if (v6()) {
    ASSERT_TRUE(ipv6::add_route(*r_, {.prefix = Ipv6Prefix(b_addr().to_v6(), 128), .dev = r_left_}));
  } else {
    ASSERT_TRUE(ipv4::add_route(*r_, {.prefix = Ipv4Prefix(b_addr().to_v4(), 32), .dev = r_left_}));
  }
  EXPECT_FALSE(send_once(probe));
  EXPECT_EQ(conntrack::count(*r_), 0u) << table();
}

// find_appropriate_src: a source whose port was taken outside keeps the
// port it was given for its next connections, towards any destination.
TEST_P(NatTrafficTest, ASourceKeepsItsMappingForItsNextConnections) {
  masquerade();
  const IpAddress other = ip("192.0.2.11", "2001:db8:1::11");
  add_address(*a_, *a_->device("eth0"), other);
  run_for(support::kPastDad);
  std::array<udp::Socket, 2> servers{udp::open(*b_, GetParam()).value(), udp::open(*b_, GetParam()).value()};
  ASSERT_TRUE(servers[0].bind({any(), 7000}));
  ASSERT_TRUE(servers[1].bind({any(), 7001}));
  const std::array<std::byte, 2> hi{std::byte{'h'}, std::byte{'i'}};
  std::array<std::byte, 16> buf{};
  auto port_seen = [&](udp::Socket& client, int server) -> int {
    EXPECT_TRUE(client.send_to(hi, {b_addr(), static_cast<std::uint16_t>(7000 + server)}));
    run_for(50ms);
    auto got = servers[server].receive_from(buf);
    return got ? got->from.port : -1;
  };
  // Another host takes router:4000 towards b:7000 first.
  auto first = udp::open(*a_, GetParam()).value();
  ASSERT_TRUE(first.bind({other, 4000}));
  ASSERT_EQ(port_seen(first, 0), 4000) << table();
  // a's port 4000 is then moved towards b:7000, and keeps that port towards b:7001.
  auto client = udp::open(*a_, GetParam()).value();
  ASSERT_TRUE(client.bind({a_addr(), 4000}));
  const int moved = port_seen(client, 0);
  ASSERT_NE(moved, 4000) << table();
  ASSERT_NE(moved, -1) << table();
  EXPECT_EQ(port_seen(client, 1), moved) << table();
}

// Conntrack gathers the fragments first, NAT rewrites the whole datagram
// (its transport checksum too), and the router cuts it again to the size
// its fragments came in: b reassembles a datagram it can check.
TEST_P(NatTrafficTest, AFragmentedDatagramIsTranslatedWhole) {
  masquerade();
  UdpProbe probe = udp_probe(4000);
  std::vector<std::byte> big(3000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::byte>(i * 7);
  ASSERT_TRUE(probe.client.send_to(big, {b_addr(), 7000}));  // fragmented by a at its 1500-byte MTU
  run_for(50ms);
  std::vector<std::byte> buf(4000);
  auto got = probe.server.receive_from(buf);
  ASSERT_TRUE(got) << table();
  EXPECT_EQ(got->from.address, r_outside());
  ASSERT_EQ(got->size, big.size());
  EXPECT_TRUE(std::equal(big.begin(), big.end(), buf.begin()));
  // Gathered by r's conntrack, then cut again on the way out.
  EXPECT_GT(r_->counters().value(v6() ? Counter::Ip6FragCreates : Counter::IpFragCreates), 0u);
}

// masq_inet_event: the router's outside address is replaced with its link
// up; connections masqueraded to the old one are forgotten with it, and the
// next datagram takes the new one.
TEST_P(NatTrafficTest, AnAddressGoingForgetsWhatWasMasqueradedToIt) {
  masquerade();
  UdpProbe probe = udp_probe();
  auto source_seen = [&] { return send_once(probe).value_or(Endpoint{}).address; };
  ASSERT_EQ(source_seen(), r_outside()) << table();
  Device* right = r_->device("right");
  const IpAddress renumbered = ip("198.51.100.9", "2001:db8:2::9");
  add_address(*r_, *right, renumbered);
  run_for(support::kPastDad);
  ASSERT_EQ(conntrack::count(*r_), 1u);  // another address coming changes nothing
  del_address(*r_, *right, r_outside());
  EXPECT_EQ(conntrack::count(*r_), 0u) << table();
  EXPECT_EQ(source_seen(), renumbered) << table();
}

}  // namespace nat_nat_traffic_test
}  // namespace
}  // namespace netns
