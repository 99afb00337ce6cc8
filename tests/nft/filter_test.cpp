// nft rules on real traffic: a - r - b over veths, r forwarding, both
// families. Every match and statement on datagrams that cross r (or leave
// a), counters against the datagrams sent, jumps, priorities, the sender's
// EPERM, reject's answers, log lines, and hooks null again after a flush.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <array>
#include <string>
#include <vector>

#include "ipv4/stack.hpp"
#include "ipv6/stack.hpp"
#include "netfilter/hooks.hpp"
#include "netns/conntrack.hpp"
#include "netns/counters.hpp"
#include "netns/device.hpp"
#include "netns/ipv4.hpp"
#include "netns/ipv6.hpp"
#include "netns/net.hpp"
#include "netns/nft.hpp"
#include "netns/tcp.hpp"
#include "netns/udp.hpp"
#include "stack/builtins.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace nft_filter_test {

using namespace std::chrono_literals;
using netfilter::Hook;

class NftFilterTest : public support::HostTest, public ::testing::WithParamInterface<Family> {
 protected:
  void SetUp() override {
    support::RoutedNets nets;
    support::route_through(host_, nets);
    a_ = nets.a;
    r_ = nets.r;
    b_ = nets.b;
    left_ = nets.r_left;
    run_for(support::kPastDad);
    server_ = udp::open(*b_, GetParam()).value();
    ASSERT_TRUE(server_.bind({any(), 7000}));
    ASSERT_EQ(udp_through(1), 1);  // neighbours resolved: the traffic below is only the datagrams
  }

  bool v6() const { return GetParam() == Family::ipv6; }
  IpAddress any() const { return v6() ? IpAddress(Ipv6Address::any()) : IpAddress(Ipv4Address::any()); }
  IpAddress b_addr() const {
    return v6() ? IpAddress(Ipv6Address::parse("2001:db8:2::2").value()) : IpAddress(Ipv4Address(198, 51, 100, 2));
  }
  netfilter::HookTable& hooks(Net& n) {
    return netfilter::hook_table(n, GetParam());
  }
  void load(Net& n, const std::string& script) {
    std::string diagnostics;
    ASSERT_TRUE(nft::run(n, script, diagnostics)) << diagnostics;
  }
  // A forward chain in r holding `rules`, policy accept.
  void forward_rules(const std::string& rules, const std::string& policy = "accept") {
    load(*r_, "flush ruleset\ntable inet f {\n chain fwd {\n  type filter hook forward priority filter; policy " +
                  policy + ";\n" + rules + "\n }\n}\n");
  }
  // `count` datagrams from a (source port 4000) to b:7000; how many b got.
  int udp_through(int count, std::size_t bytes = 8) {
    auto client = udp::open(*a_, GetParam()).value();
    EXPECT_TRUE(client.bind({any(), 4000}));
    std::vector<std::byte> data(bytes);
    for (int i = 0; i < count; ++i) (void)client.send_to(data, {b_addr(), 7000});
    run_for(50ms);
    int got = 0;
    std::array<std::byte, 2048> buf{};
    while (server_.receive_from(buf)) ++got;
    return got;
  }
  bool passes(const std::string& rules) {
    forward_rules(rules);
    return udp_through(1) == 1;
  }

  NetRef a_, r_, b_;
  Device* left_ = nullptr;
  udp::Socket server_;
};

INSTANTIATE_TEST_SUITE_P(BothFamilies, NftFilterTest, ::testing::Values(Family::ipv4, Family::ipv6),
                         [](const auto& info) { return info.param == Family::ipv4 ? "Ipv4" : "Ipv6"; });

TEST_P(NftFilterTest, PolicyDropAndCountersMatchThePacketsSent) {
  forward_rules("  udp dport 7000 counter accept", "drop");
  EXPECT_EQ(udp_through(5, 8), 5);
  const std::size_t len = (v6() ? 40 : 20) + 8 + 8;
  EXPECT_NE(nft::list_ruleset(*r_).find("counter packets 5 bytes " + std::to_string(5 * len)), std::string::npos)
      << nft::list_ruleset(*r_);
  // A rule added beside it keeps its counts (the kernel's do).
  load(*r_, "add rule inet f fwd udp dport 7001 counter accept");
  EXPECT_EQ(udp_through(2, 8), 2);
  EXPECT_NE(nft::list_ruleset(*r_).find("counter packets 7 bytes " + std::to_string(7 * len)), std::string::npos);
  EXPECT_EQ(nft::chain_drops(*r_, "inet", "f", "fwd"), 0u);
  // What no rule accepts falls to the policy, counted as the chain's drop.
  load(*r_, "flush chain inet f fwd");
  EXPECT_EQ(udp_through(3), 0);
  EXPECT_EQ(nft::chain_drops(*r_, "inet", "f", "fwd"), 3u);
  EXPECT_EQ(nft::chain_drops(*r_, "inet", "f", "nope"), std::nullopt);
}

TEST_P(NftFilterTest, EveryMatchOnAForwardedDatagram) {
  const std::string saddr = v6() ? "ip6 saddr" : "ip saddr";
  const std::string daddr = v6() ? "ip6 daddr" : "ip daddr";
  const std::string net_a = v6() ? "2001:db8:1::/64" : "192.0.2.0/24";
  const std::string b = v6() ? "2001:db8:2::2" : "198.51.100.2";
  const std::string other = v6() ? "2001:db8:3::9" : "203.0.113.9";
  const std::string lo_hi = v6() ? "2001:db8:2::1-2001:db8:2::5" : "198.51.100.1-198.51.100.5";
  const std::string proto = v6() ? "" : "ip protocol udp drop";  // the IPv6 header has no ip protocol
  struct Case {
    std::string rule;
    bool dropped;
  };
  const std::vector<Case> cases{
      {"iifname \"left\" drop", true},
      {"iifname \"lef*\" drop", true},
      {"iifname != \"left\" drop", false},
      {"oifname \"right\" drop", true},
      {"oifname \"left\" drop", false},
      {"iif \"left\" drop", true},
      {"oif \"right\" drop", true},
      {"oif != \"right\" drop", false},
      {saddr + " " + net_a + " drop", true},
      {saddr + " != " + net_a + " drop", false},
      {daddr + " " + b + " drop", true},
      {daddr + " { " + other + ", " + b + " } drop", true},
      {daddr + " { " + other + " } drop", false},
      {daddr + " " + lo_hi + " drop", true},
      {"meta l4proto udp drop", true},
      {"meta l4proto tcp drop", false},
      {"udp dport 7000 drop", true},
      {"udp dport 6000-7000 drop", true},
      {"udp dport { 22, 7000 } drop", true},
      {"udp sport 4000 drop", true},
      {"udp sport != 4000 drop", false},
      {"tcp dport 7000 drop", false},     // a UDP datagram has no TCP port
      {"tcp dport != 7000 drop", false},  // not even for !=
      {"icmp type echo-request drop", false},
      {"meta mark 0 drop", true},
      {"meta mark 1 drop", false},
      {"meta pkttype host drop", true},
      // A `ct` match brings conntrack onto the hooks: the datagram is a new connection.
      {"ct state invalid drop", false},
      {"ct state new drop", true},
      {"ct status assured drop", false},
      {"ct status != assured drop", true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.rule);
    EXPECT_EQ(passes(c.rule), !c.dropped);
  }
  if (!v6()) {
    EXPECT_FALSE(passes(proto));
  }
  // Family-specific fields in an inet table do not match the other family.
  EXPECT_TRUE(passes(v6() ? "ip saddr 0.0.0.0/0 drop" : "ip6 saddr ::/0 drop"));
  // A named set.
  load(*r_, "flush ruleset\ntable inet f {\n set ports { type inet_service; flags interval; elements = { 1-10, 7000 } }\n"
            " chain fwd { type filter hook forward priority 0; udp dport @ports drop; }\n}\n");
  EXPECT_EQ(udp_through(1), 0);
}

TEST_P(NftFilterTest, JumpGotoAndReturn) {
  const std::string chains =
      "table inet f {\n"
      " chain deny { counter drop; }\n"
      " chain check { udp dport 7000 return; jump deny; }\n"
      " chain skip { meta mark set 9; }\n"
      " chain fwd { type filter hook forward priority 0; policy accept;\n"
      "  jump check; goto skip; drop; }\n"
      " chain out { type filter hook postrouting priority 0; meta mark 9 counter accept; drop; }\n"
      "}\n";
  load(*r_, "flush ruleset\n" + chains);
  // check returns for 7000, goto skip marks it and, at skip's end, the base chain's policy accepts (no drop after goto).
  EXPECT_EQ(udp_through(2), 2);
  EXPECT_NE(nft::list_ruleset(*r_).find("meta mark 0x00000009 counter packets 2"), std::string::npos)
      << nft::list_ruleset(*r_);
  // A port check does not return for: jump deny drops, counted in deny.
  load(*r_, "flush chain inet f check\nadd rule inet f check udp dport 7001 return\nadd rule inet f check jump deny");
  EXPECT_EQ(udp_through(2), 0);
  EXPECT_EQ(nft::chain_drops(*r_, "inet", "f", "deny"), 2u);
  EXPECT_EQ(nft::chain_drops(*r_, "inet", "f", "fwd"), 0u);
}

TEST_P(NftFilterTest, PrioritiesOrderTwoBaseChainsOnOneHook) {
  // The later chain (priority 10) sees the earlier's mark; listed first to show order is by priority.
  load(*r_, "table inet f {\n"
            " chain late { type filter hook forward priority 10; meta mark 5 counter drop; }\n"
            " chain early { type filter hook forward priority -10; meta mark set 5; }\n"
            "}\n");
  EXPECT_EQ(hooks(*r_).size(Hook::forward), 1u + 1u);
  EXPECT_EQ(udp_through(2), 0);
  EXPECT_EQ(nft::chain_drops(*r_, "inet", "f", "late"), 2u);
  // Swapped: the drop runs before anything sets the mark.
  load(*r_, "flush ruleset\ntable inet f {\n"
            " chain late { type filter hook forward priority -20; meta mark 5 counter drop; }\n"
            " chain early { type filter hook forward priority -10; meta mark set 5; }\n"
            "}\n");
  EXPECT_EQ(udp_through(2), 2);
}

TEST_P(NftFilterTest, AnOutputDropIsTheSendersEperm) {
  load(*a_, "table inet f { chain out { type filter hook output priority 0; udp dport 7000 drop; }\n}");
  auto client = udp::open(*a_, GetParam()).value();
  const std::array<std::byte, 8> data{};
  auto sent = client.send_to(data, {b_addr(), 7000});
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error(), boost::system::errc::operation_not_permitted);
}

// ndisc_send_skb runs NF_INET_LOCAL_OUT: an output rule silences NDP's own
// solicitations, which are then neither sent nor counted.
TEST_P(NftFilterTest, NeighbourSolicitationsMeetTheOutputHook) {
  if (!v6()) GTEST_SKIP() << "neighbour discovery is IPv6's";
  load(*a_, "table ip6 f {\n chain out {\n  type filter hook output priority filter;\n"
            "  icmpv6 type nd-neighbor-solicit counter drop\n }\n}\n");
  const std::uint64_t solicits = a_->counters().value(Counter::Icmp6OutNeighborSolicits);
  auto client = udp::open(*a_, GetParam()).value();
  const std::array<std::byte, 8> data{};
  ASSERT_TRUE(client.send_to(data, {Ipv6Address::parse("2001:db8:1::99").value(), 7000}));  // on-link, unknown
  run_for(50ms);
  EXPECT_NE(nft::list_ruleset(*a_).find("counter packets 1 "), std::string::npos) << nft::list_ruleset(*a_);
  EXPECT_EQ(a_->counters().value(Counter::Icmp6OutNeighborSolicits), solicits);
  load(*a_, "flush ruleset");
  ASSERT_TRUE(client.send_to(data, {Ipv6Address::parse("2001:db8:1::98").value(), 7000}));
  run_for(50ms);
  EXPECT_EQ(a_->counters().value(Counter::Icmp6OutNeighborSolicits), solicits + 1);
}

TEST_P(NftFilterTest, RejectAnswersWithIcmpAsLinux) {
  struct Case {
    std::string reject;
    boost::system::errc::errc_t error;
  };
  const std::vector<Case> cases{
      {"reject", boost::system::errc::connection_refused},  // icmpx port-unreachable in inet
      // icmp_err_convert / icmpv6_err_convert: hard errors a connected socket hears.
      {v6() ? "reject with icmpv6 type admin-prohibited" : "reject with icmp type admin-prohibited",
       v6() ? boost::system::errc::permission_denied : boost::system::errc::host_unreachable},
      // icmpx's admin-prohibited is code 13 (ICMP) or 1 (ICMPv6).
      {"reject with icmpx type admin-prohibited",
       v6() ? boost::system::errc::permission_denied : boost::system::errc::host_unreachable},
      {"reject with icmpx type port-unreachable", boost::system::errc::connection_refused},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.reject);
    forward_rules("udp dport 7000 " + c.reject);
    auto client = udp::open(*a_, GetParam()).value();
    ASSERT_TRUE(client.connect({b_addr(), 7000}));
    const std::array<std::byte, 8> data{};
    ASSERT_TRUE(client.send(data));
    run_for(50ms);
    std::array<std::byte, 64> buf{};
    auto got = client.receive_from(buf);
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error(), c.error);
    run_for(2s);  // past the ICMP rate limit for the next case
  }
}

TEST_P(NftFilterTest, RejectWithTcpResetRefusesTheConnection) {
  auto listener = tcp::listen(*b_, {any(), 80}).value();
  forward_rules("tcp dport 80 tcp flags syn counter reject with tcp reset");
  auto stream = tcp::connect(*a_, {b_addr(), 80}).value();
  run_for(100ms);
  std::array<std::byte, 16> buf{};
  auto got = stream.read(buf);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), boost::system::errc::connection_refused);
  EXPECT_EQ(nft::chain_drops(*r_, "inet", "f", "fwd"), 1u);
  EXPECT_NE(nft::list_ruleset(*r_).find("counter packets 1 "), std::string::npos);
  stream.close();
  listener.close();
}

TEST_P(NftFilterTest, LogWritesNfLogLinesToTheHostsSink) {
  forward_rules("udp dport 7000 log prefix \"fw: \" accept");
  messages_.clear();
  EXPECT_EQ(udp_through(1), 1);
  ASSERT_EQ(messages_.size(), 1u);
  const std::string& line = messages_[0];
  EXPECT_EQ(line.rfind("fw: IN=left OUT=right MAC=", 0), 0u) << line;
  if (v6()) {
    EXPECT_NE(line.find("SRC=2001:0db8:0001:0000:0000:0000:0000:0001 DST=2001:0db8:0002:0000:0000:0000:0000:0002 "
                        "LEN=56 TC=0 HOPLIMIT=63 FLOWLBL="),
              std::string::npos)
        << line;
  } else {
    EXPECT_NE(line.find("SRC=192.0.2.1 DST=198.51.100.2 LEN=36 TOS=0x00 PREC=0x00 TTL=63 ID="), std::string::npos)
        << line;
  }
  EXPECT_NE(line.find("PROTO=UDP SPT=4000 DPT=7000 LEN=16 "), std::string::npos) << line;
  // A flood is cut to the budget, and the next line says how much was left out.
  messages_.clear();
  EXPECT_EQ(udp_through(30), 30);
  EXPECT_LT(messages_.size(), 30u);
  run_for(10s);
  messages_.clear();
  EXPECT_EQ(udp_through(1), 1);
  ASSERT_EQ(messages_.size(), 2u);
  EXPECT_NE(messages_[0].find("lines suppressed"), std::string::npos);
}

TEST_P(NftFilterTest, LimitPassesTheBurstThenTheRate) {
  forward_rules("udp dport 7000 limit rate 2/second burst 3 packets accept\n  drop");
  EXPECT_EQ(udp_through(10), 3);
  run_for(1s);  // 2 more tokens (udp_through's own 50 ms aside)
  EXPECT_EQ(udp_through(10), 2);
  // `over`: matches beyond the rate.
  forward_rules("udp dport 7000 limit rate over 1/minute burst 1 packets drop");
  EXPECT_EQ(udp_through(4), 1);
}

TEST_P(NftFilterTest, ARulesetReplacedWhileTrafficFlows) {
  auto client = udp::open(*a_, GetParam()).value();
  const std::array<std::byte, 8> data{};
  forward_rules("udp dport 7000 counter accept", "drop");
  int got = 0;
  std::array<std::byte, 64> buf{};
  for (int i = 0; i < 20; ++i) {
    (void)client.send_to(data, {b_addr(), 7000});
    run_for(1ms);
    while (server_.receive_from(buf)) ++got;
    if (i == 9) load(*r_, "flush chain inet f fwd");  // the rest fall to the policy
  }
  run_for(50ms);
  while (server_.receive_from(buf)) ++got;
  EXPECT_EQ(got, 10);
  EXPECT_EQ(nft::chain_drops(*r_, "inet", "f", "fwd"), 10u);
}

TEST_P(NftFilterTest, AFlushedRulesetLeavesTheHooksNull) {
  EXPECT_FALSE(hooks(*r_).active(Hook::forward));
  load(*r_, "table ip t { chain c { type filter hook forward priority 0; }\n}\n"
            "table ip6 t { chain c { type filter hook input priority 0; }\n}\n"
            "table inet t { chain regular { }\n}");
  EXPECT_EQ(hooks(*r_).active(Hook::forward), !v6());
  EXPECT_EQ(hooks(*r_).active(Hook::input), v6());
  EXPECT_FALSE(hooks(*r_).active(Hook::output));
  load(*r_, "flush ruleset");
  for (std::size_t h = 0; h < netfilter::kHookCount; ++h) EXPECT_FALSE(hooks(*r_).active(static_cast<Hook>(h)));
  // A table with only regular chains registers nothing.
  load(*r_, "table inet t { chain regular { drop; }\n}");
  for (std::size_t h = 0; h < netfilter::kHookCount; ++h) EXPECT_FALSE(hooks(*r_).active(static_cast<Hook>(h)));
  EXPECT_EQ(udp_through(1), 1);
}

}  // namespace nft_filter_test
}  // namespace
}  // namespace netns

namespace netns {
namespace {
namespace nft_filter_test {

// Issue 14: a 10,000-element named set decides on real traffic, in
// constant-time lookups (set_lookup.hpp), and its listing rebuilds it.
TEST_P(NftFilterTest, ATenThousandElementSetDecidesAndItsListingRebuildsIt) {
  std::string elements;
  for (int i = 0; i < 10'000; ++i) {
    if (!elements.empty()) elements += ", ";
    // Addresses that are not a's, and a's own among them at the end.
    elements += v6() ? fmt::format("2001:db8:9::{:x}", i + 1) : fmt::format("10.{}.{}.1", i / 250, i % 250);
  }
  const std::string type = v6() ? "ipv6_addr" : "ipv4_addr";
  const std::string saddr = v6() ? "ip6 saddr" : "ip saddr";
  const std::string script = "flush ruleset\ntable inet f {\n set blocked {\n  type " + type + "\n  elements = { " +
                             elements + " }\n }\n chain fwd {\n  type filter hook forward priority filter; policy accept;\n  " +
                             saddr + " @blocked counter drop\n }\n}\n";
  load(*r_, script);
  EXPECT_EQ(udp_through(3), 3);  // a is not in the set
  const std::string a_addr = v6() ? "2001:db8:1::1" : "192.0.2.1";
  load(*r_, "add element inet f blocked { " + a_addr + " }");
  EXPECT_EQ(udp_through(3), 0);
  EXPECT_EQ(nft::chain_drops(*r_, "inet", "f", "fwd"), 3u);
  load(*r_, "delete element inet f blocked { " + a_addr + " }");
  EXPECT_EQ(udp_through(2), 2);
  // The listing, fed back through run in another namespace, lists the same.
  const std::string listing = nft::list_ruleset(*r_);
  NetRef copy = host_.create_net("copy").value();
  load(*copy, listing);
  EXPECT_EQ(nft::list_ruleset(*copy), listing);
}

}  // namespace nft_filter_test
}  // namespace
}  // namespace netns

namespace netns {
namespace {
namespace nft_filter_test {

// The stateful forwarding: a ruleset that lets replies pass and
// new connections in only from inside; `ct` in it brings conntrack onto the
// hooks (nf_ct_netns_get) and its flush takes it away.
TEST_P(NftFilterTest, StatefulForwardingPassesRepliesAndRefusesNewConnectionsFromOutside) {
  const Family family = GetParam();
  EXPECT_EQ(conntrack::netns_users(*r_, family), 0u);
  forward_rules("  ct state established,related counter accept\n"
                "  ct state new iifname \"left\" counter accept",
                "drop");
  EXPECT_EQ(conntrack::netns_users(*r_, family), 1u);
  EXPECT_TRUE(hooks(*r_).active(Hook::prerouting));  // conntrack's
  // From inside (a, behind "left") to b: the connection and its replies pass.
  auto listener = tcp::listen(*b_, {any(), 80}).value();
  auto out = tcp::connect(*a_, {b_addr(), 80}).value();
  run_for(100ms);
  auto accepted = listener.accept();
  ASSERT_TRUE(accepted);
  const std::array<std::byte, 4> ping{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  ASSERT_TRUE(accepted->write(ping));
  run_for(100ms);
  std::array<std::byte, 16> buf{};
  auto got = out.read(buf);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(*got, 4u);
  // From outside (b) to a: a new connection is dropped by the policy.
  auto inner = tcp::listen(*a_, {any(), 22}).value();
  const IpAddress a_addr = v6() ? IpAddress(Ipv6Address::parse("2001:db8:1::1").value()) : IpAddress(Ipv4Address(192, 0, 2, 1));
  auto in = tcp::connect(*b_, {a_addr, 22}).value();
  run_for(100ms);
  EXPECT_FALSE(inner.accept());
  EXPECT_GE(nft::chain_drops(*r_, "inet", "f", "fwd").value_or(0), 1u);
  const std::string listing = nft::list_ruleset(*r_);
  EXPECT_NE(listing.find("ct state new iifname \"left\" counter packets 1 "), std::string::npos) << listing;
  in.close();
  inner.close();
  out.close();
  accepted->close();
  listener.close();
  // Without `ct`, nft gives conntrack back: its hooks go with it.
  load(*r_, "flush ruleset");
  EXPECT_EQ(conntrack::netns_users(*r_, family), 0u);
  EXPECT_FALSE(hooks(*r_).active(Hook::prerouting));
}

}  // namespace nft_filter_test
}  // namespace
}  // namespace netns
