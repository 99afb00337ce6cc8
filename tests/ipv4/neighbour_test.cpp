// The neighbour table's own statistics, named as Linux's neigh_statistics
// (/proc/net/stat/arp_cache): what waits for an unresolved neighbour and is
// dropped counts as unres_discards, never as the device's tx_dropped (the
// device never saw it); a resolution that gives up is res_failed; an entry
// the full table refuses is table_fulls. The flood policy has its own tests
// in neighbour_flood_test.cpp.
#include <gtest/gtest.h>

#include "netns/ipv4.hpp"
#include "netns/udp.hpp"
#include "support/ipv4_channel.hpp"

namespace netns {
namespace {
namespace ipv4_neighbour_test {

using support::kChannelLocal;
using support::kChannelPeer;
using support::kChannelPeerMac;

class NeighbourStats : public support::Ipv4ChannelTest {
 protected:
  void send_to_peer(std::uint8_t tag, Ipv4Address to = kChannelPeer) {
    const std::byte data[1] = {std::byte{tag}};
    ASSERT_TRUE(sock_.send_to(data, {to, 9}));
  }
  void SetUp() override {
    Ipv4ChannelTest::SetUp();
    sock_ = udp::open(*net_).value();
  }
  udp::Socket sock_;
};

// __neigh_event_send: a full queue drops its oldest for the newest.
TEST_F(NeighbourStats, AFullUnresolvedQueueDropsItsOldestAsUnresDiscards) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.neigh.default.unres_qlen", "3"));
  for (std::uint8_t i = 0; i < 5; ++i) send_to_peer(i);
  host_.poll(clock_.now());
  auto stats = ipv4::neighbour_table_stats(*net_);
  EXPECT_EQ(stats.unres_discards, 2u);
  EXPECT_EQ(stats.entries, 1u);
  EXPECT_EQ(eth0_->stats().tx_dropped, 0u);
  sent();  // the ARP request
  inject(support::arp_frame(wire::ArpOperation::reply, kChannelPeerMac, kChannelPeer, eth0_->mac(), kChannelLocal,
                            eth0_->mac()));
  auto out = sent();
  ASSERT_EQ(out.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(out[i].udp);
    EXPECT_EQ(out[i].l4_payload.at(0), std::byte(i + 2)) << "the newest three were kept";
  }
}

// What waits is charged its truesize, to unres_qlen_bytes and to the
// namespace's packet memory, and given back however it leaves.
TEST_F(NeighbourStats, AnUnresolvedQueueIsBoundedInBytesAndChargedToItsNamespace) {
  send_to_peer(0);
  host_.poll(clock_.now());
  const std::size_t truesize = net_->resources().packet_memory();
  ASSERT_GT(truesize, 2048u) << "a 1-byte datagram still pins a whole buffer";
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.neigh.default.unres_qlen_bytes", std::to_string(3 * truesize)));
  for (std::uint8_t i = 1; i < 5; ++i) send_to_peer(i);
  host_.poll(clock_.now());
  EXPECT_EQ(net_->resources().packet_memory(), 3 * truesize);
  EXPECT_EQ(ipv4::neighbour_table_stats(*net_).unres_discards, 2u);

  sent();  // the ARP request
  inject(support::arp_frame(wire::ArpOperation::reply, kChannelPeerMac, kChannelPeer, eth0_->mac(), kChannelLocal,
                            eth0_->mac()));
  auto out = sent();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].l4_payload.at(0), std::byte(2)) << "the oldest made way";
  EXPECT_EQ(net_->resources().packet_memory(), 0u);
}

TEST_F(NeighbourStats, AQueueTheNamespaceCannotPayForDropsTheNewest) {
  send_to_peer(0);
  host_.poll(clock_.now());
  const std::size_t truesize = net_->resources().packet_memory();
  ASSERT_TRUE(net_->sysctl().set("net.core.packet_mem_max", std::to_string(truesize + truesize / 2)));
  send_to_peer(1);
  host_.poll(clock_.now());
  EXPECT_EQ(net_->resources().packet_memory(), truesize);
  EXPECT_EQ(ipv4::neighbour_table_stats(*net_).unres_discards, 1u);
  EXPECT_EQ(net_->counters().get("IpExtPacketMemDrops"), 1u);

  run_for(std::chrono::seconds(5));  // the resolution gives up: what waited is answered and let go
  EXPECT_EQ(ipv4::neighbour_table_stats(*net_).res_failed, 1u);
  EXPECT_EQ(net_->resources().packet_memory(), 0u);
}

TEST_F(NeighbourStats, AResolutionThatGivesUpIsResFailed) {
  send_to_peer(1);
  run_for(std::chrono::seconds(5));
  auto stats = ipv4::neighbour_table_stats(*net_);
  EXPECT_EQ(stats.res_failed, 1u);
  EXPECT_EQ(stats.entries, 0u);
  EXPECT_EQ(stats.unres_discards, 0u);
  EXPECT_EQ(eth0_->stats().tx_dropped, 0u);
}

// neigh_statistics are the table's, not its entries': the lookups and hits
// an entry had stay counted when it goes.
TEST_F(NeighbourStats, LookupsAndHitsOutliveTheEntriesThatHadThem) {
  ASSERT_TRUE(ipv4::add_neighbour(*net_, *eth0_, kChannelPeer, kChannelPeerMac));
  const auto added = ipv4::neighbour_table_stats(*net_);  // adding looked first, and missed
  for (std::uint8_t i = 0; i < 3; ++i) send_to_peer(i);
  host_.poll(clock_.now());
  const auto used = ipv4::neighbour_table_stats(*net_);
  EXPECT_EQ(used.hits, added.hits + 3);
  EXPECT_EQ(used.lookups, added.lookups + 3);
  ASSERT_TRUE(set_link_up(*eth0_, false));  // neigh_ifdown: the device's entries go
  const auto after = ipv4::neighbour_table_stats(*net_);
  EXPECT_EQ(after.entries, 0u);
  EXPECT_EQ(after.hits, used.hits);
  EXPECT_EQ(after.lookups, used.lookups);
}

// neigh_event_ns at gc_thresh3: the entry is refused, the request answered.
TEST_F(NeighbourStats, AnEntryTheFullTableRefusesIsTableFulls) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.neigh.default.gc_thresh3", "2"));
  for (std::uint8_t i = 10; i < 13; ++i) {
    inject(support::arp_frame(wire::ArpOperation::request, kChannelPeerMac, Ipv4Address(192, 0, 2, i), MacAddress{},
                              kChannelLocal, MacAddress::broadcast()));
  }
  auto stats = ipv4::neighbour_table_stats(*net_);
  EXPECT_EQ(stats.entries, 2u);
  EXPECT_EQ(stats.table_fulls, 1u);
  EXPECT_EQ(sent().size(), 3u);
}

// A resolution is never refused: over the unresolved cap (gc_thresh3 / 4, at
// least 1) the newest takes the place of the oldest, whose queued packet
// counts as unres_discards.
TEST_F(NeighbourStats, ANewResolutionTakesThePlaceOfTheOldestUnresolvedOne) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.neigh.default.gc_thresh3", "2"));
  send_to_peer(1, Ipv4Address(192, 0, 2, 10));
  send_to_peer(2, Ipv4Address(192, 0, 2, 11));
  send_to_peer(3, Ipv4Address(192, 0, 2, 12));
  host_.poll(clock_.now());
  auto stats = ipv4::neighbour_table_stats(*net_);
  EXPECT_EQ(stats.entries, 1u);
  EXPECT_EQ(stats.table_fulls, 0u);
  EXPECT_EQ(stats.unresolved_evictions, 2u);
  EXPECT_EQ(stats.unres_discards, 2u);
  EXPECT_EQ(eth0_->stats().tx_dropped, 0u);
  auto out = sent();
  ASSERT_EQ(out.size(), 3u) << "one ARP request each";
  EXPECT_EQ(out[2].arp->target_ip, Ipv4Address(192, 0, 2, 12));
}

}  // namespace ipv4_neighbour_test
}  // namespace
}  // namespace netns
