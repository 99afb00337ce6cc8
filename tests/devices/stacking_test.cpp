// Stacking devices on each other: bridge ports and macvlans link their
// devices as Linux's uppers and lowers, and every link that would make a
// device its own upper or lower, or a stack higher than kMaxNestDevices, is
// refused with Linux's error and changes nothing. Carrier follows a stack
// without recursion; legal stacks pass frames; teardown leaves no link behind.
#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "netns/bridge.hpp"
#include "netns/host.hpp"
#include "netns/icmp.hpp"
#include "netns/ipv4.hpp"
#include "netns/macvlan.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace devices_stacking_test {

using namespace std::chrono_literals;
using support::kTestEthertype;
using support::make_frame;
using support::RecordingHandler;

std::string id_of(const Device& dev) { return fmt::format("{}:{}", dev.net().id(), dev.name()); }

std::string names(std::span<Device* const> devs) {
  std::string out;
  for (const Device* d : devs) out += id_of(*d) + ",";
  return out;
}

class Stacking : public support::HostTest {
 protected:
  void SetUp() override {
    sw_ = host_.create_net("switch").value();
    a_ = host_.create_net("a").value();
    b_ = host_.create_net("b").value();
  }

  Device* bridge(Net& net, std::string_view name) {
    auto br = make_bridge(net, name);
    EXPECT_TRUE(br) << br.error().message();
    return br ? *br : nullptr;
  }
  Device* macvlan(Device& lower, Net& net, std::string_view name) {
    auto mv = make_macvlan(lower, net, name, MacvlanMode::bridge);
    EXPECT_TRUE(mv) << mv.error().message();
    return mv ? *mv : nullptr;
  }
  // A veth from `net` (end `inner`) to `host_side` (end "eth0"), both up;
  // returns the end in `net`.
  Device* veth(Net& net, std::string_view inner, Net& host_side) {
    auto pair = make_veth(net, inner, host_side, "eth0");
    EXPECT_TRUE(pair) << pair.error().message();
    if (!pair) return nullptr;
    EXPECT_TRUE(set_link_up(*pair->a));
    EXPECT_TRUE(set_link_up(*pair->b));
    return pair->a;
  }

  // Everything a refused call could have touched, one line per device of
  // every live namespace: state, links, rx handler, bridge ports and FDB.
  std::vector<std::string> snapshot() {
    std::vector<std::string> out;
    out.push_back(fmt::format("nets {}", host_.net_count()));
    host_.for_each_net([&](Net& net) {
      for (Device& dev : net.devices()) {
        Device* m = dev.master_upper();
        out.push_back(fmt::format("{} #{} {} up={} carrier={} mtu={} mac={} master={} uppers={} lowers={} rx={} "
                                  "ports={} fdb={}",
                                  id_of(dev), dev.ifindex(), to_string(dev.kind()), dev.is_up(), dev.has_carrier(),
                                  dev.mtu(), dev.mac(), m != nullptr ? id_of(*m) : "-", names(dev.uppers()),
                                  names(dev.lowers()), dev.rx_handler() != nullptr,
                                  names(bridge_ports(dev)), dump_fdb(dev)));
      }
    });
    return out;
  }

  // Every link has both ends, each registered in a live namespace.
  void expect_links_consistent() {
    std::vector<const Device*> live;
    host_.for_each_net([&](Net& net) {
      for (Device& dev : net.devices()) live.push_back(&dev);
    });
    auto is_live = [&](const Device* d) { return std::find(live.begin(), live.end(), d) != live.end(); };
    for (const Device* dev : live) {
      for (const Device* up : dev->uppers()) {
        EXPECT_TRUE(is_live(up)) << id_of(*dev) << " has a dead upper";
        if (!is_live(up)) continue;
        auto l = up->lowers();
        EXPECT_NE(std::find(l.begin(), l.end(), dev), l.end()) << id_of(*up) << " lacks lower " << id_of(*dev);
      }
      for (const Device* low : dev->lowers()) {
        EXPECT_TRUE(is_live(low)) << id_of(*dev) << " has a dead lower";
        if (!is_live(low)) continue;
        auto u = low->uppers();
        EXPECT_NE(std::find(u.begin(), u.end(), dev), u.end()) << id_of(*low) << " lacks upper " << id_of(*dev);
      }
      if (const Device* m = dev->master_upper()) {
        auto u = dev->uppers();
        EXPECT_NE(std::find(u.begin(), u.end(), m), u.end());
      }
    }
  }

  // Sends a test broadcast from `from` and runs the Host.
  void broadcast_from(Device& from) {
    from.transmit(make_frame(host_, MacAddress::broadcast(), from.mac(), kTestEthertype, 46));
    run_for(1ms);
  }
  static bool reached(const RecordingHandler& seen, const Device& dev) {
    return std::any_of(seen.frames().begin(), seen.frames().end(), [&](const auto& f) {
      return f.net_id == dev.net().id() && f.device == dev.name();
    });
  }

  // ICMP echo from `net` to `dst`: whether the reply came back.
  bool ping(Net& net, Ipv4Address dst, std::uint16_t seq = 1) {
    auto sock = icmp::open(net).value();
    if (!sock.send_echo(dst, seq)) return false;
    run_for(20ms);
    auto reply = sock.receive();
    return reply && reply->seq == seq;
  }

  NetRef sw_, a_, b_;
};

// ---- refusals ----

// The fuzzer's crash: a macvlan on br0 enslaved to br0 made br0 its own
// upper, and the next frame recursed Bridge::carrier <-> Macvlan::carrier
// until the stack overflowed.
TEST_F(Stacking, TheFuzzersMacvlanOnABridgeEnslavedToItIsRefused) {
  Device* br0 = bridge(*sw_, "br0");
  Device* mv0 = macvlan(*br0, *sw_, "mv0");
  ASSERT_NE(mv0, nullptr);
  EXPECT_EQ(br0->uppers().size(), 1u);
  EXPECT_EQ(mv0->lowers()[0], br0);
  const auto before = snapshot();
  EXPECT_EQ(set_master(*mv0, *br0).error(), Errc::device_or_resource_busy);  // netdev_upper_dev_link: EBUSY
  EXPECT_EQ(snapshot(), before);

  // The next frame through br0 goes where it should, and nothing recurses.
  Device* p0 = veth(*sw_, "p0", *a_);
  ASSERT_TRUE(set_master(*p0, *br0));
  ASSERT_TRUE(set_link_up(*br0));
  ASSERT_TRUE(set_link_up(*mv0));
  EXPECT_TRUE(br0->is_running());
  EXPECT_TRUE(mv0->is_running());
  RecordingHandler seen(host_);
  broadcast_from(*a_->device("eth0"));
  EXPECT_TRUE(reached(seen, *br0));
  EXPECT_TRUE(reached(seen, *mv0));
  expect_links_consistent();
}

TEST_F(Stacking, ALoopThroughSeveralStackedDevicesIsRefused) {
  // br0 <- mv0 (on br0, port of br1) <- br1 <- mv1 (on br1): mv1 into br0
  // would close br0 -> mv0 -> br1 -> mv1 -> br0.
  Device* br0 = bridge(*sw_, "br0");
  Device* br1 = bridge(*sw_, "br1");
  Device* mv0 = macvlan(*br0, *sw_, "mv0");
  ASSERT_TRUE(set_master(*mv0, *br1));
  Device* mv1 = macvlan(*br1, *sw_, "mv1");
  const auto before = snapshot();
  EXPECT_EQ(set_master(*mv1, *br0).error(), Errc::device_or_resource_busy);
  // A macvlan on mv1 stacks on br1, the real lower, and is refused the same way.
  Device* mv2 = macvlan(*mv1, *sw_, "mv2");
  EXPECT_EQ(macvlan_lower(*mv2).value(), br1);
  const auto with_mv2 = snapshot();
  EXPECT_EQ(set_master(*mv2, *br0).error(), Errc::device_or_resource_busy);
  EXPECT_EQ(snapshot(), with_mv2);
  ASSERT_TRUE(destroy_device(*mv2));
  EXPECT_EQ(snapshot(), before);
  expect_links_consistent();
}

TEST_F(Stacking, ALoopAcrossNamespacesIsRefused) {
  // Links do not stop at a namespace: mv0 lives in a, on br0 in switch.
  Device* br0 = bridge(*sw_, "br0");
  Device* br_a = bridge(*a_, "br0");
  Device* mv0 = macvlan(*br0, *a_, "mv0");
  ASSERT_TRUE(set_master(*mv0, *br_a));
  Device* back = macvlan(*br_a, *sw_, "back");
  const auto before = snapshot();
  EXPECT_EQ(set_master(*back, *br0).error(), Errc::device_or_resource_busy);
  EXPECT_EQ(snapshot(), before);
  // Moving a device makes no link: the stack keeps its shape across the move.
  ASSERT_TRUE(host_.move_device(*back, *b_));
  EXPECT_EQ(back->lowers()[0], br_a);
  expect_links_consistent();
}

TEST_F(Stacking, BridgesLoopbacksAndNonEthernetDevicesAreNoPorts) {
  Device* br0 = bridge(*sw_, "br0");
  Device* br1 = bridge(*sw_, "br1");
  const auto before = snapshot();
  EXPECT_EQ(set_master(*br0, *br0).error(), Errc::too_many_symbolic_link_levels);  // br_add_if: ELOOP
  EXPECT_EQ(set_master(*br1, *br0).error(), Errc::too_many_symbolic_link_levels);
  EXPECT_EQ(set_master(sw_->loopback(), *br0).error(), Errc::invalid_argument);
  EXPECT_EQ(make_macvlan(sw_->loopback(), *sw_, "mv0").error(), Errc::invalid_argument);
  EXPECT_EQ(snapshot(), before);
}

TEST_F(Stacking, AnEnslavedDeviceBelongsToOneBridge) {
  Device* br0 = bridge(*sw_, "br0");
  Device* br1 = bridge(*sw_, "br1");
  Device* p0 = veth(*sw_, "p0", *a_);
  ASSERT_TRUE(set_master(*p0, *br0));
  const auto before = snapshot();
  EXPECT_EQ(set_master(*p0, *br1).error(), Errc::device_or_resource_busy);
  EXPECT_TRUE(set_master(*p0, *br0));  // the same master again: nothing to do
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(p0->master_upper(), br0);
  EXPECT_EQ(master(*p0), br0);
}

TEST_F(Stacking, AMacvlansLowerIsNoPortAndAPortIsNoLower) {
  Device* br0 = bridge(*sw_, "br0");
  Device* p0 = veth(*sw_, "p0", *a_);
  Device* p1 = veth(*sw_, "p1", *b_);
  ASSERT_TRUE(set_master(*p0, *br0));
  ASSERT_NE(macvlan(*p1, *sw_, "mv1"), nullptr);
  const auto before = snapshot();
  EXPECT_EQ(make_macvlan(*p0, *sw_, "mv0").error(), Errc::device_or_resource_busy);
  EXPECT_EQ(set_master(*p1, *br0).error(), Errc::device_or_resource_busy);
  EXPECT_EQ(snapshot(), before);
}

// ---- the nesting limit ----

class StackingChain : public Stacking {
 protected:
  // a's eth0 -- p0 in br0 <- mv0 <- br1 <- mv1 <- br2 <- mv2 <- br3: eight
  // devices from p0 to br3, Linux's MAX_NEST_DEV, every one up.
  void SetUp() override {
    Stacking::SetUp();
    Device* p0 = veth(*sw_, "p0", *a_);
    chain_.push_back(p0);
    for (int i = 0; i < 4; ++i) {
      Device* br = bridge(*sw_, fmt::format("br{}", i));
      ASSERT_NE(br, nullptr);
      ASSERT_TRUE(set_master(*chain_.back(), *br));
      chain_.push_back(br);
      if (i == 3) break;
      Device* mv = macvlan(*br, *sw_, fmt::format("mv{}", i));
      ASSERT_NE(mv, nullptr);
      chain_.push_back(mv);
    }
    for (Device* dev : chain_) ASSERT_TRUE(set_link_up(*dev));
    ASSERT_EQ(chain_.size(), kMaxNestDevices);
  }
  std::vector<Device*> chain_;  // lowest first
};

TEST_F(StackingChain, AStackIsAtMostEightDevicesHigh) {
  Device* peak = chain_.back();
  const auto before = snapshot();
  EXPECT_EQ(make_macvlan(*peak, *sw_, "mv3").error(), Errc::too_many_links);  // -EMLINK
  EXPECT_EQ(sw_->device("mv3"), nullptr);
  EXPECT_EQ(snapshot(), before);

  // Below the top there is room: a macvlan on br2 is the seventh device of its stack.
  Device* side = macvlan(*chain_[5], *sw_, "side");
  ASSERT_NE(side, nullptr);
  // From above, too: high has onhigh on it, enslaved to top (three high
  // from high up), so high takes ports at most five high. side is seven.
  Device* high = bridge(*sw_, "high");
  Device* top = bridge(*sw_, "top");
  Device* on_high = macvlan(*high, *sw_, "onhigh");
  ASSERT_TRUE(set_master(*on_high, *top));
  const auto with_high = snapshot();
  EXPECT_EQ(set_master(*side, *high).error(), Errc::too_many_links);
  EXPECT_EQ(snapshot(), with_high);
  // Five fits exactly: a macvlan on br1 (p0, br0, mv0, br1, it), eight in all.
  Device* five = macvlan(*chain_[3], *sw_, "five");
  EXPECT_TRUE(set_master(*five, *high));
  // And nothing more goes on top of that stack.
  EXPECT_EQ(make_macvlan(*top, *sw_, "over").error(), Errc::too_many_links);
  expect_links_consistent();
}

TEST_F(StackingChain, AFrameClimbsTheWholeStack) {
  // A broadcast from a enters p0 and goes up through every bridge, each
  // step queued on the next device's backlog, never delivered inline.
  // The bridges pass it to their own stacks as well, so each one shows it;
  // the macvlans' frames are their bridge's (the port's rx handler takes them).
  RecordingHandler seen(host_);
  broadcast_from(*a_->device("eth0"));
  for (Device* dev : chain_) {
    if (dev->kind() == DeviceKind::bridge) {
      EXPECT_TRUE(reached(seen, *dev)) << dev->name();
    }
  }
  EXPECT_EQ(host_.stats().packet_copies, 0u);
}

TEST_F(StackingChain, CarrierFollowsTheStackBothWays) {
  Device* far = a_->device("eth0");
  for (Device* dev : chain_) EXPECT_TRUE(dev->is_running()) << dev->name();
  ASSERT_TRUE(set_link_up(*far, false));  // p0 loses carrier, and so does everything above
  for (Device* dev : chain_) EXPECT_FALSE(dev->is_running()) << dev->name();
  ASSERT_TRUE(set_link_up(*far));
  for (Device* dev : chain_) EXPECT_TRUE(dev->is_running()) << dev->name();
  // Down in the middle: what is above stops, what is below runs on.
  ASSERT_TRUE(set_link_up(*chain_[4], false));
  for (std::size_t i = 0; i < chain_.size(); ++i) EXPECT_EQ(chain_[i]->is_running(), i < 4) << i;
  ASSERT_TRUE(set_link_up(*chain_[4]));
  EXPECT_TRUE(chain_.back()->is_running());
}

// Many macvlans on one bridge, all ports of another, twice over: every device
// above is reached through many paths, and a change still reaches each once.
TEST_F(Stacking, CarrierCrossesAWideStackOnce) {
  constexpr int kWidth = 64;
  Device* p0 = veth(*sw_, "p0", *a_);
  Device* low = bridge(*sw_, "low");
  Device* mid = bridge(*sw_, "mid");
  Device* top = bridge(*sw_, "top");
  ASSERT_TRUE(set_master(*p0, *low));
  for (Device* br : {low, mid, top}) ASSERT_TRUE(set_link_up(*br));
  for (int i = 0; i < kWidth; ++i) {
    Device* m = macvlan(*low, *sw_, fmt::format("m{}", i));
    Device* t = macvlan(*mid, *sw_, fmt::format("t{}", i));
    ASSERT_TRUE(set_master(*m, *mid));
    ASSERT_TRUE(set_master(*t, *top));
    ASSERT_TRUE(set_link_up(*m));
    ASSERT_TRUE(set_link_up(*t));
  }
  EXPECT_TRUE(top->is_running());
  EXPECT_EQ(top->lowers().size(), std::size_t{kWidth});
  ASSERT_TRUE(set_link_up(*a_->device("eth0"), false));
  EXPECT_FALSE(low->is_running());
  EXPECT_FALSE(mid->is_running());
  EXPECT_FALSE(top->is_running());
  ASSERT_TRUE(set_link_up(*a_->device("eth0")));
  EXPECT_TRUE(top->is_running());
  expect_links_consistent();
}

// ---- moves ----

TEST_F(Stacking, ABridgeCannotMoveAndAMovedPortLeavesItsBridge) {
  Device* br0 = bridge(*sw_, "br0");
  Device* p0 = veth(*sw_, "p0", *a_);
  ASSERT_TRUE(set_master(*p0, *br0));
  ASSERT_TRUE(set_link_up(*br0));
  Device* mv = macvlan(*br0, *b_, "mv0");
  ASSERT_TRUE(set_link_up(*mv));
  EXPECT_TRUE(mv->is_running());
  const auto before = snapshot();
  EXPECT_EQ(host_.move_device(*br0, *a_).error(), Errc::invalid_argument);  // NETIF_F_NETNS_LOCAL
  EXPECT_EQ(snapshot(), before);

  // The port's move unlinks it (NETDEV_UNREGISTER in the old namespace):
  // the bridge has no port left, no carrier, and neither has what is on it.
  ASSERT_TRUE(host_.move_device(*p0, *b_));
  EXPECT_EQ(p0->master_upper(), nullptr);
  EXPECT_TRUE(p0->uppers().empty());
  EXPECT_TRUE(br0->lowers().empty());
  EXPECT_FALSE(br0->is_running());
  EXPECT_FALSE(mv->is_running());
  expect_links_consistent();
}

TEST_F(Stacking, AMovedMacvlanStaysOnItsLowerAndLeavesItsBridge) {
  Device* br0 = bridge(*sw_, "br0");
  Device* br1 = bridge(*sw_, "br1");
  Device* p0 = veth(*sw_, "p0", *a_);
  ASSERT_TRUE(set_master(*p0, *br0));
  Device* mv = macvlan(*br0, *sw_, "mv0");
  ASSERT_TRUE(set_master(*mv, *br1));
  ASSERT_TRUE(host_.move_device(*mv, *b_));
  EXPECT_EQ(mv->master_upper(), nullptr);
  EXPECT_TRUE(br1->lowers().empty());
  ASSERT_EQ(mv->lowers().size(), 1u);
  EXPECT_EQ(mv->lowers()[0], br0);
  // Its lower's stack carries it on in b.
  ASSERT_TRUE(set_link_up(*br0));
  ASSERT_TRUE(set_link_up(*mv));
  EXPECT_TRUE(mv->is_running());
  RecordingHandler seen(host_);
  broadcast_from(*a_->device("eth0"));
  EXPECT_TRUE(reached(seen, *mv));
  expect_links_consistent();
}

// ---- legal stacks pass frames ----

class StackingPing : public Stacking {
 protected:
  static Ipv4Prefix at(std::uint8_t host) { return Ipv4Prefix(Ipv4Address(192, 0, 2, host), 24); }
};

TEST_F(StackingPing, ABridgeOfVeths) {
  Device* br0 = bridge(*sw_, "br0");
  for (auto [name, net] : {std::pair{"p0", &a_}, std::pair{"p1", &b_}}) {
    Device* p = veth(*sw_, name, **net);
    ASSERT_TRUE(set_master(*p, *br0));
  }
  ASSERT_TRUE(set_link_up(*br0));
  ASSERT_TRUE(ipv4::add_address(*a_, *a_->device("eth0"), at(1)));
  ASSERT_TRUE(ipv4::add_address(*b_, *b_->device("eth0"), at(2)));
  EXPECT_TRUE(ping(*a_, at(2).address()));
}

TEST_F(StackingPing, AMacvlanOnABridge) {
  // c's macvlan sits on br0 in switch; a is behind br0's port.
  NetRef c = host_.create_net("c").value();
  Device* br0 = bridge(*sw_, "br0");
  Device* p0 = veth(*sw_, "p0", *a_);
  ASSERT_TRUE(set_master(*p0, *br0));
  ASSERT_TRUE(set_link_up(*br0));
  Device* mv = macvlan(*br0, *c, "eth0");
  ASSERT_TRUE(set_link_up(*mv));
  ASSERT_TRUE(ipv4::add_address(*a_, *a_->device("eth0"), at(1)));
  ASSERT_TRUE(ipv4::add_address(*c, *mv, at(3)));
  ASSERT_TRUE(ipv4::add_address(*sw_, *br0, at(254)));
  EXPECT_TRUE(ping(*c, at(1).address()));
  EXPECT_TRUE(ping(*a_, at(3).address(), 2));
  EXPECT_TRUE(ping(*a_, at(254).address(), 3));  // the bridge's own address, beside its macvlan's
}

TEST_F(StackingPing, AMacvlanOnABridgePortsSibling) {
  // p0 is br0's port; the macvlan sits on its veth peer, a's eth0, and lives in c.
  NetRef c = host_.create_net("c").value();
  Device* br0 = bridge(*sw_, "br0");
  for (auto [name, net] : {std::pair{"p0", &a_}, std::pair{"p1", &b_}}) {
    ASSERT_TRUE(set_master(*veth(*sw_, name, **net), *br0));
  }
  ASSERT_TRUE(set_link_up(*br0));
  Device* mv = macvlan(*a_->device("eth0"), *c, "eth0");
  ASSERT_TRUE(set_link_up(*mv));
  ASSERT_TRUE(ipv4::add_address(*b_, *b_->device("eth0"), at(2)));
  ASSERT_TRUE(ipv4::add_address(*c, *mv, at(3)));
  EXPECT_TRUE(ping(*c, at(2).address()));
}

TEST_F(StackingPing, AMacvlanAsABridgePort) {
  // b's up0 (a veth to c) carries a macvlan in switch, which br0 enslaves
  // beside p0: a broadcast from c reaches a through the macvlan and br0.
  NetRef c = host_.create_net("c").value();
  Device* br0 = bridge(*sw_, "br0");
  ASSERT_TRUE(set_master(*veth(*sw_, "p0", *a_), *br0));
  Device* up0 = veth(*b_, "up0", *c);
  Device* mv = macvlan(*up0, *sw_, "mv0");
  ASSERT_TRUE(set_master(*mv, *br0));
  ASSERT_TRUE(set_link_up(*mv));
  ASSERT_TRUE(set_link_up(*br0));
  EXPECT_EQ(mv->master_upper(), br0);
  EXPECT_EQ(names(mv->lowers()), id_of(*up0) + ",");
  RecordingHandler seen(host_);
  broadcast_from(*c->device("eth0"));
  EXPECT_TRUE(reached(seen, *a_->device("eth0")));
  EXPECT_TRUE(reached(seen, *up0));  // the lower's own stack hears a broadcast too
  ASSERT_TRUE(ipv4::add_address(*a_, *a_->device("eth0"), at(1)));
  ASSERT_TRUE(ipv4::add_address(*sw_, *br0, at(254)));
  EXPECT_TRUE(ping(*a_, at(254).address()));
  expect_links_consistent();
}

// ---- teardown ----

TEST_F(Stacking, DestroyingABridgeTakesTheMacvlansOnItAndReleasesItsPorts) {
  Device* br0 = bridge(*sw_, "br0");
  Device* br_b = bridge(*b_, "br0");
  Device* p0 = veth(*sw_, "p0", *a_);
  ASSERT_TRUE(set_master(*p0, *br0));
  Device* mv = macvlan(*br0, *b_, "mv0");
  ASSERT_TRUE(set_master(*mv, *br_b));
  ASSERT_TRUE(set_link_up(*br0));
  ASSERT_TRUE(set_link_up(*br_b));
  ASSERT_TRUE(set_link_up(*mv));
  EXPECT_TRUE(br_b->is_running());
  ASSERT_TRUE(destroy_device(*br0));
  EXPECT_EQ(b_->device("mv0"), nullptr);  // macvlans die with their lower
  EXPECT_TRUE(br_b->lowers().empty());
  EXPECT_FALSE(br_b->is_running());
  EXPECT_TRUE(p0->uppers().empty());
  EXPECT_EQ(p0->rx_handler(), nullptr);
  poll();
  expect_links_consistent();
}

TEST_F(Stacking, NamespacesDieWithStacksAcrossThem) {
  // switch: br0 with port p0 (to a); b: a macvlan on br0 in b's bridge;
  // switch dies first, then b; a is left with a plain device.
  Device* br0 = bridge(*sw_, "br0");
  ASSERT_TRUE(set_master(*veth(*sw_, "p0", *a_), *br0));
  Device* br_b = bridge(*b_, "br0");
  Device* mv = macvlan(*br0, *b_, "mv0");
  ASSERT_TRUE(set_master(*mv, *br_b));
  Device* mv2 = macvlan(*br_b, *a_, "mv2");
  ASSERT_NE(mv2, nullptr);
  for (Device* d : {br0, br_b, mv, mv2}) ASSERT_TRUE(set_link_up(*d));
  EXPECT_TRUE(mv2->is_running());

  sw_.reset();
  poll();
  EXPECT_EQ(b_->device("mv0"), nullptr);
  EXPECT_TRUE(br_b->lowers().empty());
  EXPECT_FALSE(mv2->is_running());  // its lower lost its only port
  expect_links_consistent();

  b_.reset();
  poll();
  EXPECT_EQ(a_->device("mv2"), nullptr);  // a macvlan dies with its lower's namespace
  std::vector<std::string> left;
  for (Device& dev : a_->devices()) left.push_back(std::string(dev.name()));
  EXPECT_EQ(left, std::vector<std::string>{"lo"});  // eth0 went with its peer p0
  expect_links_consistent();
  EXPECT_EQ(host_.stats().dying_nets, 0u);
  EXPECT_EQ(host_.stats().leaked_holds, 0u);
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
}

}  // namespace devices_stacking_test
}  // namespace
}  // namespace netns
