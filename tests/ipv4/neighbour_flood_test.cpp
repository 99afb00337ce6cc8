// The neighbour table under a flood of spoofed on-link sources (issue 11):
// every echo request from a new source needs a neighbour for its reply. The
// table stays bounded, unresolved entries never crowd out a real neighbour's
// resolution, permanent entries are exempt from gc_thresh3, and forced GC
// reclaims what Linux's neigh_forced_gc would. Policy: src/ipv4/neighbour.hpp.
#include <gtest/gtest.h>

#include "ipv4/neighbour.hpp"
#include "netns/ipv4.hpp"
#include "support/ipv4_channel.hpp"

namespace netns {
namespace {
namespace ipv4_neighbour_flood_test {

using support::kChannelLocal;
using support::kChannelPeer;
using support::kChannelPeerMac;
using NeighbourTable = ipv4::NeighbourTable;

constexpr std::size_t kThresh3 = 64;
const MacAddress kFloodMac{0x02, 0, 0, 0, 0, 0x66};

class NeighbourFlood : public support::Ipv4ChannelTest {
 protected:
  void SetUp() override {
    Ipv4ChannelTest::SetUp();
    ASSERT_TRUE(net_->sysctl().set("net.ipv4.neigh.default.gc_thresh3", std::to_string(kThresh3)));
    ASSERT_TRUE(net_->sysctl().set("net.ipv4.neigh.default.gc_thresh2", std::to_string(kThresh3 / 2)));
  }

  // The n-th spoofed source: every on-link address but ours and the peer's, in turn.
  static Ipv4Address spoofed(std::size_t n) { return Ipv4Address(192, 0, 2, std::uint8_t(3 + n % 250)); }

  // One echo request from a spoofed source, 10 us after the previous one.
  // Returns the ARP requests the stack sent for it (the reply waits for them).
  std::vector<support::Parsed> spoof_echo(std::size_t n) {
    clock_.advance(std::chrono::microseconds(10));
    inject(support::echo_request_frame(eth0_->mac(), kFloodMac, spoofed(n), kChannelLocal, 7, std::uint16_t(n), 8));
    return sent();
  }
  // One ARP request for our address claimed by a spoofed sender (learned as stale).
  void spoof_arp_request(std::size_t n) {
    inject(support::arp_frame(wire::ArpOperation::request, kFloodMac, spoofed(n), MacAddress{}, kChannelLocal,
                              MacAddress::broadcast()));
  }
  void expect_bounded() {
    auto s = ipv4::neighbour_table_stats(*net_);
    ASSERT_LE(s.entries - s.permanent, kThresh3);
    ASSERT_LE(s.unresolved, NeighbourTable::unresolved_limit(kThresh3));
  }
  std::optional<ipv4::NeighbourInfo> entry(Ipv4Address a) {
    for (const auto& n : ipv4::neighbours(*net_)) {
      if (n.address == a) return n;
    }
    return std::nullopt;
  }
};

TEST_F(NeighbourFlood, SpoofedEchoFloodKeepsTheTableBoundedAndEverySourceGetsItsArpRequest) {
  for (std::size_t n = 0; n < 2000; ++n) {
    auto out = spoof_echo(n);
    ASSERT_EQ(out.size(), 1u) << "frame " << n;
    ASSERT_TRUE(out[0].arp);
    EXPECT_EQ(out[0].arp->target_ip, spoofed(n));
    expect_bounded();
  }
  auto s = ipv4::neighbour_table_stats(*net_);
  EXPECT_EQ(s.unresolved, NeighbourTable::unresolved_limit(kThresh3));
  EXPECT_EQ(s.allocs, 2000u);
  EXPECT_EQ(s.unresolved_evictions, 2000u - s.unresolved);
  EXPECT_EQ(s.unres_discards, s.unresolved_evictions) << "each evicted entry held one echo reply";
  EXPECT_EQ(s.table_fulls, 0u);
  EXPECT_EQ(s.resolved_evictions, 0u);
}

TEST_F(NeighbourFlood, ARealNeighbourResolvesInTheMiddleOfTheFloodAndStaysResolved) {
  std::size_t n = 0;
  for (; n < 500; ++n) spoof_echo(n);

  // The peer pings us: the reply needs its link address, so we ask.
  inject(support::echo_request_frame(eth0_->mac(), kChannelPeerMac, kChannelPeer, kChannelLocal, 1, 1, 8));
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].arp);
  EXPECT_EQ(out[0].arp->target_ip, kChannelPeer);

  // The flood goes on while the answer travels: fewer new spoofed sources
  // than the unresolved cap arrive before it.
  for (std::size_t i = 0; i < NeighbourTable::unresolved_limit(kThresh3) - 1; ++i, ++n) spoof_echo(n);
  inject(support::arp_frame(wire::ArpOperation::reply, kChannelPeerMac, kChannelPeer, eth0_->mac(), kChannelLocal,
                            eth0_->mac()));
  out = sent();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].icmp);
  EXPECT_EQ(out[0].icmp->type, wire::IcmpType::echo_reply);
  EXPECT_EQ(out[0].eth.dst, kChannelPeerMac);
  ASSERT_TRUE(entry(kChannelPeer));
  EXPECT_EQ(entry(kChannelPeer)->state, ipv4::NeighbourState::reachable);

  // A resolved neighbour is never reclaimed for the flood's sake: much more
  // flood, and the peer's next ping is answered at once, without ARP.
  for (std::size_t i = 0; i < 3000; ++i, ++n) spoof_echo(n);
  inject(support::echo_request_frame(eth0_->mac(), kChannelPeerMac, kChannelPeer, kChannelLocal, 1, 2, 8));
  out = sent();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].icmp);
  EXPECT_EQ(out[0].icmp->type, wire::IcmpType::echo_reply);
  EXPECT_EQ(out[0].eth.dst, kChannelPeerMac);
  EXPECT_EQ(ipv4::neighbour_table_stats(*net_).resolved_evictions, 0u);
}

// The limit of the policy, stated: an answer that comes after the cap's worth
// of newer spoofed sources finds its entry reclaimed and is ignored, as any
// unsolicited reply; the next packet to the neighbour asks again.
TEST_F(NeighbourFlood, AnAnswerSlowerThanTheCapIsLostAndTheNextPacketAsksAgain) {
  inject(support::echo_request_frame(eth0_->mac(), kChannelPeerMac, kChannelPeer, kChannelLocal, 1, 1, 8));
  sent();
  for (std::size_t n = 0; n < NeighbourTable::unresolved_limit(kThresh3); ++n) spoof_echo(n);
  EXPECT_FALSE(entry(kChannelPeer));
  inject(support::arp_frame(wire::ArpOperation::reply, kChannelPeerMac, kChannelPeer, eth0_->mac(), kChannelLocal,
                            eth0_->mac()));
  EXPECT_TRUE(sent().empty());
  EXPECT_FALSE(entry(kChannelPeer)) << "an unsolicited reply creates nothing";
}

TEST_F(NeighbourFlood, PermanentEntriesAreAddedWhileTheTableIsFullAndDoNotCountAgainstIt) {
  // ARP requests for us from spoofed senders fill the table with recent stale entries.
  for (std::size_t n = 0; n < kThresh3 + 10; ++n) spoof_arp_request(n);
  auto s = ipv4::neighbour_table_stats(*net_);
  EXPECT_EQ(s.entries, kThresh3);
  EXPECT_EQ(s.table_fulls, 10u) << "forced GC spares entries younger than 5 s, as Linux";
  auto replies = sent();
  EXPECT_EQ(replies.size(), kThresh3 + 10) << "every request answered, even those the table refused";

  for (std::uint8_t i = 0; i < 100; ++i) {
    ASSERT_TRUE(ipv4::add_neighbour(*net_, *eth0_, Ipv4Address(198, 51, 100, i), kChannelPeerMac));
  }
  s = ipv4::neighbour_table_stats(*net_);
  EXPECT_EQ(s.entries, kThresh3 + 100);
  EXPECT_EQ(s.permanent, 100u);
  EXPECT_EQ(s.table_fulls, 10u);

  // A stale entry made permanent leaves the dynamic count: room for one more.
  ASSERT_TRUE(ipv4::add_neighbour(*net_, *eth0_, spoofed(0), kChannelPeerMac));
  spoof_arp_request(kThresh3 + 20);
  s = ipv4::neighbour_table_stats(*net_);
  EXPECT_EQ(s.permanent, 101u);
  EXPECT_EQ(s.entries, kThresh3 + 101);
  EXPECT_EQ(s.table_fulls, 10u);
}

TEST_F(NeighbourFlood, PermanentEntriesHaveTheirOwnBound) {
  for (std::uint32_t i = 0; i < NeighbourTable::kMaxPermanent; ++i) {
    ASSERT_TRUE(ipv4::add_neighbour(*net_, *eth0_, Ipv4Address(0x0a000000u + i), kChannelPeerMac)) << i;
  }
  auto r = ipv4::add_neighbour(*net_, *eth0_, Ipv4Address(0x0a000000u + NeighbourTable::kMaxPermanent),
                               kChannelPeerMac);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), error(Errc::no_buffer_space));
  // Replacing one that is already there is no new entry.
  EXPECT_TRUE(ipv4::add_neighbour(*net_, *eth0_, Ipv4Address(10, 0, 0, 1), kFloodMac));
  EXPECT_EQ(ipv4::neighbour_table_stats(*net_).permanent, NeighbourTable::kMaxPermanent);
  // Dynamic entries do not care.
  auto out = spoof_echo(0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].arp);
}

TEST_F(NeighbourFlood, ForcedGcReclaimsEntriesOlderThanFiveSecondsDownToGcThresh2) {
  for (std::size_t n = 0; n < kThresh3; ++n) spoof_arp_request(n);
  sent();
  clock_.advance(std::chrono::seconds(6));
  host_.poll(clock_.now());
  spoof_arp_request(kThresh3);
  auto s = ipv4::neighbour_table_stats(*net_);
  EXPECT_EQ(s.forced_gc_runs, 1u) << "none at gc_thresh2 during the fill: the table is not 5 s old";
  EXPECT_EQ(s.table_fulls, 0u);
  EXPECT_EQ(s.entries, kThresh3 / 2 + 1);
  EXPECT_EQ(s.destroys, kThresh3 / 2);
  // The oldest went: the first senders are gone, the last ones and the new one stay.
  EXPECT_FALSE(entry(spoofed(0)));
  EXPECT_TRUE(entry(spoofed(kThresh3 - 1)));
  EXPECT_TRUE(entry(spoofed(kThresh3)));
}

TEST_F(NeighbourFlood, ForcedGcSparesAnEntryThatChangedLately) {
  for (std::size_t n = 0; n < kThresh3; ++n) spoof_arp_request(n);
  clock_.advance(std::chrono::seconds(4));
  host_.poll(clock_.now());
  // The first sender's address changes: a state change restamps it.
  inject(support::arp_frame(wire::ArpOperation::request, kChannelPeerMac, spoofed(0), MacAddress{}, kChannelLocal,
                            MacAddress::broadcast()));
  clock_.advance(std::chrono::seconds(2));
  host_.poll(clock_.now());
  spoof_arp_request(kThresh3);
  EXPECT_TRUE(entry(spoofed(0))) << "changed 2 s ago: younger than 5 s";
  EXPECT_FALSE(entry(spoofed(1)));
  EXPECT_EQ(ipv4::neighbour_table_stats(*net_).table_fulls, 0u);
}

TEST_F(NeighbourFlood, ANewResolutionInATableFullOfRecentResolvedEntriesTakesTheLeastRecentlyChangedOne) {
  for (std::size_t n = 0; n < kThresh3; ++n) {
    clock_.advance(std::chrono::milliseconds(1));
    spoof_arp_request(n);
  }
  sent();
  // Linux: table_fulls, and the new neighbour never resolves. Here it does.
  inject(support::echo_request_frame(eth0_->mac(), kChannelPeerMac, kChannelPeer, kChannelLocal, 1, 1, 8));
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].arp);
  auto s = ipv4::neighbour_table_stats(*net_);
  EXPECT_EQ(s.table_fulls, 0u);
  EXPECT_EQ(s.resolved_evictions, 1u);
  EXPECT_EQ(s.entries, kThresh3);
  EXPECT_FALSE(entry(spoofed(0)));
  EXPECT_TRUE(entry(spoofed(1)));
}

TEST_F(NeighbourFlood, LoweringGcThresh3ShrinksTheTableAtTheNextCreation) {
  for (std::size_t n = 0; n < 40; ++n) spoof_arp_request(n);
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.neigh.default.gc_thresh3", "8"));
  spoof_echo(100);
  expect_bounded();
  auto s = ipv4::neighbour_table_stats(*net_);
  EXPECT_LE(s.entries, 8u);
  EXPECT_EQ(s.unresolved, 1u);
}

// arp_process: what is not for us teaches nothing new; a reply nobody asked
// for creates nothing (arp_accept 0). Only what we must answer needs an entry.
TEST_F(NeighbourFlood, ArpNotForUsAndUnsolicitedRepliesCreateNothing) {
  for (std::size_t n = 0; n < 100; ++n) {
    inject(support::arp_frame(wire::ArpOperation::request, kFloodMac, spoofed(n), MacAddress{},
                              Ipv4Address(192, 0, 2, 250), MacAddress::broadcast()));
    inject(support::arp_frame(wire::ArpOperation::reply, kFloodMac, spoofed(n), eth0_->mac(), kChannelLocal,
                              eth0_->mac()));
  }
  EXPECT_TRUE(sent().empty());
  auto s = ipv4::neighbour_table_stats(*net_);
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.allocs, 0u);
}

TEST_F(NeighbourFlood, FlushingADeviceEmptiesEveryList) {
  for (std::size_t n = 0; n < 20; ++n) spoof_echo(n);
  for (std::size_t n = 20; n < 40; ++n) spoof_arp_request(n);
  ASSERT_TRUE(ipv4::add_neighbour(*net_, *eth0_, kChannelPeer, kChannelPeerMac));
  ASSERT_TRUE(set_link_up(*eth0_, false));
  auto s = ipv4::neighbour_table_stats(*net_);
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.unresolved, 0u);
  EXPECT_EQ(s.permanent, 0u);
  EXPECT_EQ(s.destroys, s.allocs);
}

}  // namespace ipv4_neighbour_flood_test
}  // namespace
}  // namespace netns
