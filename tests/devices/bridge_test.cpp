// The bridge: four namespaces h0..h3, each with an eth0 whose veth peer p<i>
// is a port of br0 in a "switch" namespace. Learning, flooding by sharing,
// ageing on the virtual clock, the bridge's own stack, ports coming and going.
#include <algorithm>
#include <array>
#include <optional>
#include <chrono>
#include <string>
#include <vector>

#include <boost/asio/error.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "netns/bridge.hpp"
#include "netns/host.hpp"
#include "netns/icmp.hpp"
#include "netns/ipv4.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace devices_bridge_test {

using namespace std::chrono_literals;
using support::kTestEthertype;
using support::make_frame;
using support::RecordingHandler;

constexpr std::size_t kHosts = 4;

class Bridged : public support::HostTest {
 protected:
  void SetUp() override {
    // These tests count every frame the bridge sees: IPv6 stays off on the
    // devices they make, so that no DAD probe joins the count.
    sw_ = host_.create_net("switch").value();
    ASSERT_TRUE(sw_->sysctl().set("net.ipv6.conf.default.disable_ipv6", "1"));
    auto br = make_bridge(*sw_, "br0");
    ASSERT_TRUE(br) << br.error().message();
    br_ = *br;
    for (std::size_t i = 0; i < kHosts; ++i) {
      h_[i] = host_.create_net(fmt::format("h{}", i)).value();
      ASSERT_TRUE(h_[i]->sysctl().set("net.ipv6.conf.default.disable_ipv6", "1"));
      auto veth = make_veth(*sw_, fmt::format("p{}", i), *h_[i], "eth0");
      ASSERT_TRUE(veth);
      port_[i] = veth->a;
      eth_[i] = veth->b;
      ASSERT_TRUE(set_master(*port_[i], *br_));
      ASSERT_TRUE(set_link_up(*port_[i]));
      ASSERT_TRUE(set_link_up(*eth_[i]));
    }
    ASSERT_TRUE(set_link_up(*br_));
  }

  // A test frame from h<from>'s eth0 to `dst`, with `src` (h<from>'s MAC by default).
  void send(std::size_t from, MacAddress dst, std::optional<MacAddress> src = {}) {
    eth_[from]->transmit(make_frame(host_, dst, src.value_or(eth_[from]->mac()), kTestEthertype, 46));
  }
  void send(std::size_t from, std::size_t to) { send(from, eth_[to]->mac()); }

  // Which namespaces the recorded frames reached, from index `first` on.
  std::vector<std::uint32_t> reached(const RecordingHandler& seen, std::size_t first = 0) {
    std::vector<std::uint32_t> ids;
    for (std::size_t i = first; i < seen.count(); ++i) ids.push_back(seen.frames()[i].net_id);
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  std::vector<std::uint32_t> ids(std::initializer_list<std::size_t> hosts) {
    std::vector<std::uint32_t> out;
    for (std::size_t i : hosts) out.push_back(h_[i]->id());
    std::sort(out.begin(), out.end());
    return out;
  }
  BridgeStats stats() { return bridge_stats(*br_).value(); }
  // The port an address was learned on, or nullptr.
  Device* learned_on(MacAddress mac) {
    for (const FdbEntry& e : fdb_entries(*br_).value()) {
      if (e.mac == mac && !e.local) return e.port;
    }
    return nullptr;
  }

  NetRef sw_;
  Device* br_ = nullptr;
  std::array<NetRef, kHosts> h_;
  std::array<Device*, kHosts> port_{};
  std::array<Device*, kHosts> eth_{};
};

TEST_F(Bridged, FirstFrameFloodsAndTheReplyIsUnicast) {
  RecordingHandler seen(host_);
  send(0, 1);
  poll();
  EXPECT_EQ(reached(seen), ids({1, 2, 3}));  // unknown destination: every other port
  EXPECT_EQ(learned_on(eth_[0]->mac()), port_[0]);
  EXPECT_EQ(stats().flooded, 1u);
  EXPECT_EQ(stats().learned, 1u);

  send(1, 0);
  poll();
  EXPECT_EQ(reached(seen, 3), ids({0}));  // learned: out of p0 only
  EXPECT_EQ(learned_on(eth_[1]->mac()), port_[1]);

  send(0, 1);
  poll();
  EXPECT_EQ(reached(seen, 4), ids({1}));
  EXPECT_EQ(stats().forwarded, 2u);
  EXPECT_EQ(stats().flooded, 1u);
  EXPECT_EQ(stats().fdb_learned, 2u);
  // Forwarded frames are the ports', not the bridge device's.
  EXPECT_EQ(br_->stats().rx_packets, 0u);
  EXPECT_EQ(br_->stats().tx_packets, 0u);
  EXPECT_EQ(port_[1]->stats().tx_packets, 2u);
  EXPECT_EQ(port_[0]->stats().rx_packets, 2u);
  EXPECT_EQ(host_.stats().packet_copies, 0u);
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
}

TEST_F(Bridged, BroadcastIsSharedWithEveryOtherPortAndTheBridgeWithoutACopy) {
  RecordingHandler seen(host_);
  std::size_t shared = 0;
  seen.on_frame = [&](Net&, Device&, Packet frame) { shared += frame.is_shared() ? 1 : 0; };
  send(0, MacAddress::broadcast());
  poll();
  std::vector<std::uint32_t> expected = ids({1, 2, 3});
  expected.push_back(sw_->id());  // up to br0's own stack
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(reached(seen), expected);
  EXPECT_EQ(shared, 3u);  // one buffer: each receiver but the last still shared it
  EXPECT_EQ(br_->stats().rx_packets, 1u);
  EXPECT_EQ(stats().flooded, 1u);
  EXPECT_EQ(host_.stats().packet_copies, 0u);
  EXPECT_EQ(host_.stats().packets_in_use, 0u);

  send(1, MacAddress(0x01, 0x00, 0x5e, 0, 0, 1));  // multicast: flooded the same way
  poll();
  EXPECT_EQ(seen.count(), 8u);
  EXPECT_EQ(host_.stats().packet_copies, 0u);
}

TEST_F(Bridged, LearnedEntriesAgeOutAfterTheAgeingTime) {
  EXPECT_EQ(ageing_time(*br_).value(), Clock::duration(300s));
  RecordingHandler seen(host_);
  send(0, 1);
  send(1, 0);
  poll();
  run_for(200s);
  send(0, MacAddress::broadcast());  // h0 refreshes its entry at 200s
  poll();
  run_for(99s);
  EXPECT_EQ(stats().fdb_learned, 2u);
  auto entries = fdb_entries(*br_).value();
  auto h1 = std::find_if(entries.begin(), entries.end(), [&](auto& e) { return e.mac == eth_[1]->mac(); });
  ASSERT_NE(h1, entries.end());
  EXPECT_EQ(h1->age, Clock::duration(299s));

  run_for(1s);  // h1 was last seen 300s ago
  EXPECT_EQ(learned_on(eth_[1]->mac()), nullptr);
  EXPECT_EQ(learned_on(eth_[0]->mac()), port_[0]);
  EXPECT_EQ(stats().aged, 1u);
  std::size_t before = seen.count();
  send(0, 1);
  poll();
  EXPECT_EQ(reached(seen, before), ids({1, 2, 3}));  // forgotten: floods again

  run_for(300s);  // h0 refreshed its entry at 300s
  EXPECT_EQ(stats().fdb_learned, 0u);
  EXPECT_EQ(stats().aged, 2u);
  EXPECT_EQ(host_.stats().timers_pending, 0u);  // nothing left to age: no timer
}

TEST_F(Bridged, AShorterAgeingTimeAppliesToEntriesAlreadyLearned) {
  send(0, 1);
  poll();
  run_for(10s);
  ASSERT_TRUE(set_ageing_time(*br_, 5s));
  poll();
  EXPECT_EQ(stats().fdb_learned, 0u);
  EXPECT_EQ(set_ageing_time(*br_, -1s).error(), Errc::invalid_argument);
  EXPECT_EQ(ageing_time(*br_).value(), Clock::duration(5s));
}

TEST_F(Bridged, AnAddressSeenOnAnotherPortMovesThere) {
  RecordingHandler seen(host_);
  send(0, 1);
  poll();
  send(2, eth_[1]->mac(), eth_[0]->mac());  // h0's MAC now behind p2
  poll();
  EXPECT_EQ(learned_on(eth_[0]->mac()), port_[2]);
  EXPECT_EQ(stats().moved, 1u);
  std::size_t before = seen.count();
  send(1, 0);
  poll();
  EXPECT_EQ(reached(seen, before), ids({2}));

  send(0, 1);  // and back again
  poll();
  EXPECT_EQ(learned_on(eth_[0]->mac()), port_[0]);
  EXPECT_EQ(stats().moved, 2u);
}

TEST_F(Bridged, ADestinationOnTheIngressPortIsNotSentBack) {
  RecordingHandler seen(host_);
  send(0, 1);
  poll();
  std::size_t before = seen.count();
  send(0, 0);  // to h0's own MAC, learned on p0
  poll();
  EXPECT_EQ(seen.count(), before);
  EXPECT_EQ(stats().dropped_same_port, 1u);
}

TEST_F(Bridged, FramesTheBridgeDeviceSendsAreForwardedOrFlooded) {
  RecordingHandler seen(host_);
  br_->transmit(make_frame(host_, eth_[2]->mac(), br_->mac(), kTestEthertype, 46));
  poll();
  EXPECT_EQ(reached(seen), ids({0, 1, 2, 3}));  // unknown: every port
  send(2, MacAddress::broadcast());
  poll();
  std::size_t before = seen.count();
  br_->transmit(make_frame(host_, eth_[2]->mac(), br_->mac(), kTestEthertype, 46));
  poll();
  EXPECT_EQ(reached(seen, before), ids({2}));
  EXPECT_EQ(br_->stats().tx_packets, 2u);
  EXPECT_EQ(host_.stats().packet_copies, 0u);

  Packet runt = host_.packets().allocate(10);
  br_->transmit(std::move(runt));
  poll();
  EXPECT_EQ(br_->stats().tx_dropped, 1u);
}

TEST_F(Bridged, FramesToTheBridgesOwnAddressGoUpToItsStack) {
  RecordingHandler seen(host_);
  send(0, br_->mac());
  send(1, port_[3]->mac());  // a port's own address is the bridge's too
  poll();
  ASSERT_EQ(seen.count(), 2u);
  for (const auto& f : seen.frames()) {
    EXPECT_EQ(f.net_id, sw_->id());
    EXPECT_EQ(f.device, "br0");
  }
  EXPECT_EQ(stats().delivered_local, 2u);
  EXPECT_EQ(br_->stats().rx_packets, 2u);
}

class PingBridged : public Bridged {
 protected:
  void SetUp() override {
    Bridged::SetUp();
    for (std::size_t i = 0; i < kHosts; ++i) {
      ASSERT_TRUE(ipv4::add_address(*h_[i], *eth_[i], Ipv4Prefix(Ipv4Address(192, 0, 2, static_cast<std::uint8_t>(1 + i)), 24)));
    }
    ASSERT_TRUE(ipv4::add_address(*sw_, *br_, Ipv4Prefix(kBridgeAddress, 24)));
  }
  static constexpr Ipv4Address kBridgeAddress{192, 0, 2, 254};
};

TEST_F(PingBridged, EchoCrossesTheBridgeAndReachesItsOwnAddress) {
  auto ping = icmp::open(*h_[0]).value();
  ASSERT_TRUE(ping.send_echo(Ipv4Address(192, 0, 2, 2), 1));
  ASSERT_TRUE(ping.send_echo(kBridgeAddress, 2));
  run_for(10ms);
  std::vector<std::uint16_t> replies;
  for (auto r = ping.receive(); r; r = ping.receive()) replies.push_back(r->seq);
  std::sort(replies.begin(), replies.end());
  EXPECT_EQ(replies, (std::vector<std::uint16_t>{1, 2}));
  EXPECT_EQ(learned_on(eth_[0]->mac()), port_[0]);
  EXPECT_EQ(learned_on(eth_[1]->mac()), port_[1]);
  EXPECT_EQ(h_[1]->counters().get("IcmpInEchos"), 1u);
  EXPECT_EQ(sw_->counters().get("IcmpInEchos"), 1u);
  EXPECT_EQ(h_[2]->counters().get("IcmpInEchos"), 0u);
  EXPECT_GE(br_->stats().tx_packets, 2u);  // its ARP reply and echo reply
  EXPECT_EQ(host_.stats().packet_copies, 0u);  // ARP broadcasts flooded by sharing, too

  // The bridge's own namespace pings through it too.
  auto from_switch = icmp::open(*sw_).value();
  ASSERT_TRUE(from_switch.send_echo(Ipv4Address(192, 0, 2, 4), 7));
  run_for(10ms);
  auto reply = from_switch.receive();
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(reply->seq, 7);
}

TEST_F(Bridged, ControlPlaneErrorsChangeNothing) {
  NetRef other = host_.create_net("other").value();
  auto stray = make_veth(*other, "x0", *h_[0], "x1").value();
  EXPECT_EQ(set_master(*stray.a, *br_).error(), Errc::invalid_argument);  // another namespace
  EXPECT_EQ(set_master(sw_->loopback(), *br_).error(), Errc::invalid_argument);
  EXPECT_EQ(set_master(*br_, *br_).error(), Errc::too_many_symbolic_link_levels);
  EXPECT_EQ(set_master(*port_[1], *port_[0]).error(), Errc::invalid_argument);  // not a bridge

  Device* br1 = make_bridge(*sw_, "br1").value();
  EXPECT_EQ(set_master(*br1, *br_).error(), Errc::too_many_symbolic_link_levels);
  EXPECT_EQ(set_master(*port_[0], *br1).error(), Errc::device_or_resource_busy);
  EXPECT_EQ(master(*port_[0]), br_);
  EXPECT_TRUE(set_master(*port_[0], *br_));  // again into the same bridge: nothing to do
  EXPECT_EQ(bridge_ports(*br_).size(), kHosts);
  EXPECT_TRUE(bridge_ports(*br1).empty());

  EXPECT_EQ(make_bridge(*sw_, "br0").error(), Errc::file_exists);
  EXPECT_EQ(make_bridge(*sw_, "a/b").error(), Errc::invalid_argument);
  EXPECT_EQ(host_.move_device(*br_, *other).error(), Errc::invalid_argument);  // NETIF_F_NETNS_LOCAL
  EXPECT_EQ(set_fdb_max_learned(*br_, 0).error(), Errc::invalid_argument);
  EXPECT_EQ(set_ageing_time(*port_[0], 1s).error(), Errc::invalid_argument);
  EXPECT_EQ(fdb_add_static(*stray.a, eth_[0]->mac()).error(), Errc::invalid_argument);
  EXPECT_EQ(fdb_add_static(*port_[0], MacAddress::broadcast()).error(), Errc::invalid_argument);
  EXPECT_EQ(fdb_add_static(*port_[0], br_->mac()).error(), Errc::file_exists);
  EXPECT_EQ(fdb_del(*port_[0], eth_[0]->mac()).error(), Errc::no_such_file_or_directory);
  EXPECT_TRUE(set_nomaster(*stray.a));  // in no bridge: nothing to do
  EXPECT_EQ(&br_->net(), sw_.get());
  EXPECT_EQ(master(*stray.a), nullptr);
}

TEST_F(Bridged, NoPortRunningMeansNoCarrier) {
  Device* br1 = make_bridge(*sw_, "br1").value();
  ASSERT_TRUE(set_link_up(*br1));
  EXPECT_FALSE(br1->is_running());
  EXPECT_TRUE(br_->is_running());
  for (Device* eth : eth_) ASSERT_TRUE(set_link_up(*eth, false));  // the ports lose carrier
  EXPECT_FALSE(br_->is_running());
  ASSERT_TRUE(set_link_up(*eth_[2]));
  EXPECT_TRUE(br_->is_running());
}

TEST_F(Bridged, APortGoingDownIsFlushedAndSkipped) {
  RecordingHandler seen(host_);
  send(1, MacAddress::broadcast());
  send(0, 1);
  poll();
  ASSERT_EQ(learned_on(eth_[1]->mac()), port_[1]);
  ASSERT_TRUE(set_link_up(*port_[1], false));
  EXPECT_EQ(learned_on(eth_[1]->mac()), nullptr);
  EXPECT_EQ(learned_on(eth_[0]->mac()), port_[0]);
  std::size_t before = seen.count();
  send(0, MacAddress::broadcast());
  poll();
  std::vector<std::uint32_t> expected = ids({2, 3});
  expected.insert(expected.begin(), sw_->id());  // and up to br0, created first
  EXPECT_EQ(reached(seen, before), expected);
  EXPECT_EQ(port_[1]->stats().tx_dropped, 0u);  // skipped, not tried
}

TEST_F(Bridged, APortLosingCarrierIsFlushedAtOnceAndSkipped) {
  RecordingHandler seen(host_);
  send(1, 0);
  poll();
  ASSERT_EQ(learned_on(eth_[1]->mac()), port_[1]);
  ASSERT_TRUE(set_link_up(*eth_[1], false));  // p1 stays up, without carrier
  EXPECT_FALSE(port_[1]->is_running());
  EXPECT_EQ(learned_on(eth_[1]->mac()), nullptr);  // as br_port_carrier_check disables the port
  std::size_t before = seen.count();
  send(0, 1);
  poll();
  EXPECT_EQ(reached(seen, before), ids({2, 3}));
}

TEST_F(Bridged, ADestroyedPortLeavesTheBridgeWithItsEntries) {
  send(1, 0);
  poll();
  const MacAddress h1 = eth_[1]->mac(), p1 = port_[1]->mac();
  ASSERT_TRUE(destroy_device(*eth_[1]));  // takes p1 with it
  EXPECT_EQ(bridge_ports(*br_).size(), kHosts - 1);
  EXPECT_EQ(learned_on(h1), nullptr);
  for (const FdbEntry& e : fdb_entries(*br_).value()) EXPECT_NE(e.mac, p1);
  RecordingHandler seen(host_);
  send(0, MacAddress::broadcast());
  poll();
  EXPECT_EQ(reached(seen).size(), 3u);  // h2, h3 and the bridge
}

TEST_F(Bridged, AMovedPortLeavesTheBridgeAndTalksToItsNewStack) {
  NetRef other = host_.create_net("other").value();
  send(2, 0);
  poll();
  Device* p2 = port_[2];
  ASSERT_TRUE(host_.move_device(*p2, *other));
  EXPECT_EQ(master(*p2), nullptr);
  EXPECT_EQ(p2->rx_handler(), nullptr);
  EXPECT_EQ(learned_on(eth_[2]->mac()), nullptr);
  ASSERT_TRUE(set_link_up(*p2));
  RecordingHandler seen(host_);
  send(2, p2->mac());
  poll();
  ASSERT_EQ(seen.count(), 1u);
  EXPECT_EQ(seen.frames()[0].net_id, other->id());
}

TEST_F(Bridged, NomasterGivesThePortBackToItsOwnStack) {
  ASSERT_TRUE(set_nomaster(*port_[3]));
  EXPECT_EQ(master(*port_[3]), nullptr);
  EXPECT_EQ(bridge_ports(*br_).size(), kHosts - 1);
  RecordingHandler seen(host_);
  send(3, port_[3]->mac());
  poll();
  ASSERT_EQ(seen.count(), 1u);
  EXPECT_EQ(seen.frames()[0].device, "p3");
  EXPECT_TRUE(set_master(*port_[3], *br_));  // and it can join again
}

TEST_F(Bridged, DestroyingTheBridgeReleasesEveryPort) {
  send(0, 1);
  poll();
  ASSERT_TRUE(destroy_device(*br_));
  for (Device* p : port_) {
    EXPECT_EQ(p->rx_handler(), nullptr);
    EXPECT_EQ(master(*p), nullptr);
  }
  RecordingHandler seen(host_);
  send(0, port_[0]->mac());
  poll();
  ASSERT_EQ(seen.count(), 1u);
  EXPECT_EQ(seen.frames()[0].net_id, sw_->id());
  EXPECT_EQ(host_.stats().timers_pending, 0u);
}

TEST_F(Bridged, TheSwitchNamespaceDyingTakesBridgeAndPortsAlong) {
  send(0, 1);
  RecordingHandler seen(host_);
  sw_.reset();
  poll();
  EXPECT_EQ(seen.count(), 0u);
  for (std::size_t i = 0; i < kHosts; ++i) EXPECT_EQ(h_[i]->device("eth0"), nullptr);
  EXPECT_EQ(host_.stats().dying_nets, 0u);
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
  EXPECT_EQ(host_.stats().timers_pending, 0u);
}

TEST_F(Bridged, AHostNamespaceDyingTakesItsPortOutOfTheBridge) {
  send(3, 0);
  poll();
  h_[3].reset();
  poll();
  EXPECT_EQ(bridge_ports(*br_).size(), kHosts - 1);
  EXPECT_EQ(sw_->device("p3"), nullptr);
  EXPECT_EQ(stats().fdb_learned, 0u);
}

TEST_F(Bridged, LearningStopsAtTheBoundAndUnknownDestinationsFlood) {
  ASSERT_TRUE(set_fdb_max_learned(*br_, 2));
  for (std::size_t i = 0; i < kHosts; ++i) send(i, MacAddress::broadcast());
  poll();
  EXPECT_EQ(stats().fdb_learned, 2u);
  EXPECT_EQ(stats().not_learned_full, 2u);
  EXPECT_EQ(stats().fdb_entries, 2u + 1 + kHosts);  // and the bridge's and ports' own
  RecordingHandler seen(host_);
  send(0, 3);  // h3 was not learned
  poll();
  EXPECT_EQ(reached(seen), ids({1, 2, 3}));
  EXPECT_EQ(port_[0]->stats().rx_dropped, 0u);  // flooding is not dropping
}

TEST_F(Bridged, MalformedFramesAreDroppedAndCounted) {
  RecordingHandler seen(host_);
  Packet runt = host_.packets().allocate(13);
  eth_[0]->transmit(std::move(runt));
  send(0, eth_[1]->mac(), MacAddress(0x01, 0, 0, 0, 0, 1));  // multicast source
  send(0, eth_[1]->mac(), MacAddress());                     // zero source
  send(0, MacAddress(0x01, 0x80, 0xc2, 0, 0, 1));            // pause
  poll();
  EXPECT_EQ(seen.count(), 0u);
  EXPECT_EQ(port_[0]->stats().rx_length_errors, 1u);
  EXPECT_EQ(stats().dropped_invalid_source, 2u);
  EXPECT_EQ(stats().dropped_pause, 1u);
  EXPECT_EQ(stats().fdb_learned, 0u);
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
}

TEST_F(Bridged, LinkLocalControlFramesStayWithThePort) {
  RecordingHandler seen(host_);
  send(0, MacAddress(0x01, 0x80, 0xc2, 0, 0, 0x0e));  // LLDP
  poll();
  ASSERT_EQ(seen.count(), 1u);
  EXPECT_EQ(seen.frames()[0].device, "p0");
  EXPECT_EQ(stats().passed_link_local, 1u);
  send(0, MacAddress(0x01, 0x80, 0xc2, 0, 0, 0));  // STP's group address floods with STP off
  poll();
  EXPECT_EQ(seen.count(), 1u + 4);
}

TEST_F(Bridged, ABridgeDownDropsWhatItsPortsReceive) {
  send(0, 1);
  poll();
  ASSERT_TRUE(set_link_up(*br_, false));
  EXPECT_EQ(stats().fdb_learned, 0u);
  RecordingHandler seen(host_);
  send(0, 1);
  poll();
  EXPECT_EQ(seen.count(), 0u);
  EXPECT_EQ(stats().dropped_bridge_down, 1u);
}

TEST_F(Bridged, StaticEntriesNeverAgeNorMove) {
  const MacAddress mac(0x02, 0, 0, 0, 0, 0x42);
  ASSERT_TRUE(fdb_add_static(*port_[3], mac));
  send(1, eth_[2]->mac(), mac);  // seen behind p1: a static entry stays
  poll();
  run_for(400s);
  EXPECT_EQ(learned_on(mac), port_[3]);
  RecordingHandler seen(host_);
  send(0, mac);
  poll();
  EXPECT_EQ(reached(seen), ids({3}));
  std::string dump = dump_fdb(*br_);
  EXPECT_NE(dump.find(fmt::format("{} dev p3 master br0 static\n", mac)), std::string::npos) << dump;
  EXPECT_NE(dump.find(fmt::format("{} dev br0 master br0 permanent\n", br_->mac())), std::string::npos);
  EXPECT_NE(dump.find(fmt::format("{} dev p0 master br0\n", eth_[0]->mac())), std::string::npos);
  ASSERT_TRUE(set_link_up(*eth_[3], false));  // p3 loses carrier: the static entry stays
  send(0, mac);
  poll();
  EXPECT_EQ(learned_on(mac), port_[3]);
  EXPECT_EQ(stats().dropped_port_down, 1u);
  ASSERT_TRUE(fdb_del(*port_[3], mac));
  EXPECT_EQ(learned_on(mac), nullptr);
  ASSERT_TRUE(fdb_flush(*br_));
  EXPECT_EQ(stats().fdb_learned, 0u);
}

TEST_F(Bridged, TheBridgeTakesItsSmallestPortsMtuUntilOneIsSet) {
  EXPECT_EQ(br_->mtu(), 1500u);
  ASSERT_TRUE(port_[2]->set_mtu(1400));
  EXPECT_EQ(br_->mtu(), 1400u);
  ASSERT_TRUE(set_nomaster(*port_[2]));
  EXPECT_EQ(br_->mtu(), 1500u);
  ASSERT_TRUE(br_->set_mtu(9000));
  ASSERT_TRUE(port_[1]->set_mtu(1300));
  EXPECT_EQ(br_->mtu(), 9000u);
}

TEST_F(Bridged, AFrameTooLargeForTheEgressPortIsDropped) {
  send(1, 0);
  poll();
  ASSERT_TRUE(port_[1]->set_mtu(100));
  RecordingHandler seen(host_);
  eth_[0]->transmit(make_frame(host_, eth_[1]->mac(), eth_[0]->mac(), kTestEthertype, 101));
  poll();
  EXPECT_EQ(seen.count(), 0u);
  EXPECT_EQ(stats().dropped_too_big, 1u);
}

}  // namespace devices_bridge_test
}  // namespace
}  // namespace netns
