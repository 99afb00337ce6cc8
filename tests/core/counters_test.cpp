// Counters: nstat names, lazy MIB blocks, one set per namespace.
#include "netns/counters.hpp"

#include <gtest/gtest.h>

#include "netns/host.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace core_counters_test {

using support::HostTest;

TEST(Counters, AddAndGetByNstatName) {
  Counters c;
  c.add(Counter::UdpNoPorts);
  c.add(Counter::UdpNoPorts, 4);
  c.add(Counter::TcpExtListenDrops);
  EXPECT_EQ(c.get("UdpNoPorts"), 5u);
  EXPECT_EQ(c.value(Counter::UdpNoPorts), 5u);
  EXPECT_EQ(c.get("TcpExtListenDrops"), 1u);
  EXPECT_EQ(c.get("UdpInDatagrams"), 0u);  // same MIB, untouched
  EXPECT_EQ(c.get("IpInReceives"), 0u);    // MIB never touched
}

TEST(Counters, UnknownNameReadsZero) {
  Counters c;
  c.add(Counter::IpInReceives);
  EXPECT_EQ(c.get("NoSuchCounter"), 0u);
  EXPECT_EQ(c.get(""), 0u);
  EXPECT_FALSE(Counters::known("NoSuchCounter"));
  EXPECT_TRUE(Counters::known("IpInReceives"));
  EXPECT_TRUE(Counters::known("TcpExtTCPRcvQDrop"));
}

TEST(Counters, NonzeroListsOnlyTouchedCountersInTableOrder) {
  Counters c;
  EXPECT_TRUE(c.nonzero().empty());  // lazy: nothing allocated, nothing listed
  c.add(Counter::TcpExtTW, 2);
  c.add(Counter::IpInDelivers);
  auto nz = c.nonzero();
  ASSERT_EQ(nz.size(), 2u);
  EXPECT_EQ(nz[0], (std::pair<std::string_view, std::uint64_t>{"IpInDelivers", 1}));
  EXPECT_EQ(nz[1], (std::pair<std::string_view, std::uint64_t>{"TcpExtTW", 2}));
}

// Linux's IcmpMsg line and snmp6's Icmp6InType/OutType lines: a counter
// per type and direction, by nstat's names, listed after their family's
// ICMP counters (in types, then out types) and only when not zero.
TEST(Counters, IcmpTypesAreCountedByNameAfterTheirFamily) {
  Counters c;
  c.add(Counter::IcmpInMsgs);
  c.add(Counter::Icmp6OutMsgs);
  c.add(Counter::UdpInDatagrams);
  c.add_icmp_type(IcmpFamily::v4, IcmpDirection::out, 0);
  c.add_icmp_type(IcmpFamily::v4, IcmpDirection::in, 8);
  c.add_icmp_type(IcmpFamily::v4, IcmpDirection::in, 8);
  c.add_icmp_type(IcmpFamily::v6, IcmpDirection::out, 135);
  c.add_icmp_type(IcmpFamily::v6, IcmpDirection::in, 255);
  EXPECT_EQ(c.get("IcmpMsgInType8"), 2u);
  EXPECT_EQ(c.icmp_type(IcmpFamily::v4, IcmpDirection::in, 8), 2u);
  EXPECT_EQ(c.get("IcmpMsgOutType0"), 1u);
  EXPECT_EQ(c.get("Icmp6OutType135"), 1u);
  EXPECT_EQ(c.get("Icmp6InType255"), 1u);
  EXPECT_EQ(c.get("IcmpMsgInType0"), 0u);  // the other direction
  EXPECT_EQ(c.get("Icmp6InType8"), 0u);    // the other family
  EXPECT_TRUE(Counters::known("Icmp6InType0"));
  EXPECT_FALSE(Counters::known("IcmpMsgInType256"));
  using Row = std::pair<std::string_view, std::uint64_t>;
  EXPECT_EQ(c.nonzero(), (std::vector<Row>{{"IcmpInMsgs", 1},
                                           {"IcmpMsgInType8", 2},
                                           {"IcmpMsgOutType0", 1},
                                           {"UdpInDatagrams", 1},
                                           {"Icmp6OutMsgs", 1},
                                           {"Icmp6InType255", 1},
                                           {"Icmp6OutType135", 1}}));
}

// Each counter of every MIB lands in its own slot: adding i+1 to the i-th and
// reading all back detects an overlap between MIB blocks.
TEST(Counters, EveryCounterHasItsOwnSlot) {
  Counters c;
  constexpr auto kCount = static_cast<std::size_t>(Counter::count_);
  for (std::size_t i = 0; i < kCount; ++i) c.add(static_cast<Counter>(i), i + 1);
  for (std::size_t i = 0; i < kCount; ++i) {
    EXPECT_EQ(c.get(kCounterTable[i].name), i + 1) << kCounterTable[i].name;
  }
  EXPECT_EQ(c.nonzero().size(), kCount);
}

// A forwarded IPv4 frame adds to InReceives, InOctets, an ECN counter,
// ForwDatagrams, OutTransmits and OutOctets: one block, its first line (the
// block is line-aligned), as for IPv6's.
TEST(Counters, TheCountersOfEveryDatagramAreInTheFirstLineOfOneBlock) {
  auto slot = [](Counter c) { return kCounterLayout.slot[static_cast<std::size_t>(c)]; };
  for (Counter c : {Counter::IpInReceives, Counter::IpExtInOctets, Counter::IpExtInNoECTPkts,
                    Counter::IpForwDatagrams, Counter::IpOutRequests, Counter::IpExtOutOctets,
                    Counter::IpOutTransmits}) {
    EXPECT_EQ(slot(c).block, slot(Counter::IpInReceives).block) << kCounterTable[static_cast<std::size_t>(c)].name;
    EXPECT_LT(slot(c).index, 8u) << kCounterTable[static_cast<std::size_t>(c)].name;
  }
  for (Counter c : {Counter::Ip6InReceives, Counter::Ip6InOctets, Counter::Ip6InNoECTPkts,
                    Counter::Ip6OutForwDatagrams, Counter::Ip6OutRequests, Counter::Ip6OutTransmits}) {
    EXPECT_LT(slot(c).index, 8u) << kCounterTable[static_cast<std::size_t>(c)].name;
  }
  // The others follow them: InHdrErrors, Ip's first counter that is not hot, is the ninth.
  EXPECT_EQ(slot(Counter::IpInHdrErrors).index, 8u);
}

TEST_F(HostTest, CountersArePerNamespace) {
  NetRef blue = host_.create_net("blue").value();
  NetRef red = host_.create_net("red").value();
  blue->counters().add(Counter::IpInReceives, 3);
  EXPECT_EQ(blue->counters().get("IpInReceives"), 3u);
  EXPECT_EQ(red->counters().get("IpInReceives"), 0u);
  EXPECT_EQ(host_.init_net().counters().get("IpInReceives"), 0u);
}

}  // namespace core_counters_test
}  // namespace
}  // namespace netns
