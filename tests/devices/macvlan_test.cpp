// macvlan: children in other namespaces than their lower device, demux by
// destination MAC, the three modes, and every way a child or its lower ends.
#include "netns/macvlan.hpp"

#include <array>
#include <chrono>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "netns/host.hpp"
#include "netns/icmp.hpp"
#include "netns/ipv4.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace devices_macvlan_test {

using namespace std::chrono_literals;
using support::HostTest;
using support::kEthHeader;
using support::kTestEthertype;
using support::make_frame;
using support::RecordingHandler;

constexpr std::uint16_t kEtherTypeArp = 0x0806;
const Ipv4Address kFar(192, 0, 2, 1);
const Ipv4Address kChildA(192, 0, 2, 10);
const Ipv4Address kChildB(192, 0, 2, 11);

Ipv4Prefix on_link(Ipv4Address a) { return Ipv4Prefix(a, 24); }

// Counts the frames of one ethertype a device receives, as a packet socket
// bound to it would; removes itself when it goes out of scope.
class RxTap final : public FrameObserver {
 public:
  RxTap(Device& dev, std::uint16_t ethertype) : dev_(&dev), ethertype_(ethertype) { dev.add_observer(*this); }
  ~RxTap() override { dev_->remove_observer(*this); }
  RxTap(const RxTap&) = delete;
  RxTap& operator=(const RxTap&) = delete;

  void observe(Device&, const Packet& frame, FrameDirection dir) override {
    auto bytes = frame.data();
    auto type = static_cast<std::uint16_t>(std::to_integer<unsigned>(bytes[12]) << 8 |
                                           std::to_integer<unsigned>(bytes[13]));
    if (dir == FrameDirection::rx && type == ethertype_) ++count_;
  }
  std::size_t count() const { return count_; }

 private:
  Device* dev_;
  std::uint16_t ethertype_;
  std::size_t count_ = 0;
};

// Any rx handler that is not a macvlan port: what a bridge port looks like.
class OtherHandler final : public RxHandler {
 public:
  RxResult handle_frame(Device&, Packet&) override { return RxResult::pass; }
};

// TwoNets' veth is the wire: blue's end is the far side, red's end (red_eth0_)
// the lower device; the children live in green and yellow.
class Macvlan : public support::TwoNets {
 protected:
  void SetUp() override {
    TwoNets::SetUp();
    green_ = host_.create_net("green").value();
    yellow_ = host_.create_net("yellow").value();
  }

  Device* child(Net& net, std::string_view name, MacvlanMode mode, Device* lower = nullptr) {
    auto made = make_macvlan(lower != nullptr ? *lower : *red_eth0_, net, name, mode);
    EXPECT_TRUE(made) << made.error().message();
    if (!made) return nullptr;
    EXPECT_TRUE(set_link_up(**made));
    return *made;
  }

  // Sends a test frame from `from` to `dst` and delivers it.
  void send(Device& from, MacAddress dst, std::size_t payload = 46) {
    from.transmit(make_frame(host_, dst, from.mac(), kTestEthertype, payload));
    poll();
  }

  static std::vector<std::string> receivers(const RecordingHandler& seen) {
    std::vector<std::string> out;
    for (const auto& f : seen.frames()) out.push_back(fmt::format("{}:{}", f.net_id, f.device));
    return out;
  }
  static std::string at(const Net& net, std::string_view dev) { return fmt::format("{}:{}", net.id(), dev); }

  NetRef green_;
  NetRef yellow_;
};

// The lower is a channel, so a test plays the wire (and the switch beyond it).
class MacvlanOnChannel : public HostTest {
 protected:
  void SetUp() override {
    mid_ = host_.create_net("mid").value();
    green_ = host_.create_net("green").value();
    wire_ = make_channel(*mid_, "eth0").value();
    ASSERT_TRUE(set_link_up(*wire_));
  }

  Device* child(Net& net, std::string_view name, MacvlanMode mode) {
    auto made = make_macvlan(*wire_, net, name, mode);
    EXPECT_TRUE(made) << made.error().message();
    if (!made) return nullptr;
    EXPECT_TRUE(set_link_up(**made));
    return *made;
  }
  void inject(MacAddress dst, MacAddress src, std::size_t payload = 46) {
    wire_->inject(make_frame(host_, dst, src, kTestEthertype, payload));
    poll();
  }
  std::size_t drain_wire() {
    std::size_t n = 0;
    while (wire_->read_packet()) ++n;
    return n;
  }

  const MacAddress kOutside{0x02, 0x00, 0x00, 0x00, 0x00, 0x99};
  NetRef mid_;
  NetRef green_;
  ChannelDevice* wire_ = nullptr;
};

// ---- the design's corner case: child, lower and far end in three namespaces ----

TEST_F(Macvlan, PingCrossesFromTheFarSideToAChildWhoseLowerIsInAnotherNamespace) {
  Device* mv = child(*green_, "eth0", MacvlanMode::vepa);
  ASSERT_NE(mv, nullptr);
  EXPECT_EQ(&mv->net(), green_.get());
  EXPECT_EQ(mv->kind(), DeviceKind::macvlan);
  EXPECT_EQ(macvlan_lower(*mv).value(), red_eth0_);
  ASSERT_TRUE(ipv4::add_address(*blue_, *blue_eth0_, on_link(kFar)));
  ASSERT_TRUE(ipv4::add_address(*green_, *mv, on_link(kChildA)));

  auto ping = icmp::open(*blue_).value();
  ASSERT_TRUE(ping.send_echo(kChildA, 1));
  run_for(10ms);
  auto reply = ping.receive();
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(reply->from, kChildA);
  EXPECT_EQ(reply->seq, 1);

  // The other way, from the child's namespace.
  auto back = icmp::open(*green_).value();
  ASSERT_TRUE(back.send_echo(kFar, 7));
  run_for(10ms);
  auto answer = back.receive();
  ASSERT_TRUE(answer) << answer.error().message();
  EXPECT_EQ(answer->from, kFar);

  EXPECT_EQ(green_->counters().get("IcmpInEchos"), 1u);
  EXPECT_EQ(blue_->counters().get("IcmpInEchos"), 1u);
  // The lower's namespace saw the ARP broadcast but not one IP packet: every
  // unicast frame went to the child.
  EXPECT_EQ(red_->counters().get("IpInReceives"), 0u);
  EXPECT_GT(red_eth0_->stats().rx_packets, 0u);
  EXPECT_GT(red_eth0_->stats().tx_packets, 0u);
  EXPECT_EQ(red_eth0_->stats().rx_otherhost_dropped, 0u);
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
}

TEST_F(Macvlan, UnicastAcrossCopiesNothing) {
  RecordingHandler seen(host_);
  Device* a = child(*green_, "mv0", MacvlanMode::bridge);
  Device* b = child(*yellow_, "mv0", MacvlanMode::bridge);
  ASSERT_TRUE(a && b);
  send(*blue_eth0_, a->mac(), 1000);  // wire to child
  send(*a, blue_eth0_->mac(), 1000);  // child to wire
  send(*a, b->mac(), 1000);           // child to sibling
  EXPECT_EQ(receivers(seen),
            (std::vector<std::string>{at(*green_, "mv0"), at(*blue_, "eth0"), at(*yellow_, "mv0")}));
  EXPECT_EQ(host_.stats().packet_copies, 0u);
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
}

// ---- modes ----

TEST_F(Macvlan, BridgeModeSiblingsReachEachOtherWithoutTheWire) {
  RecordingHandler seen(host_);
  Device* a = child(*green_, "mv0", MacvlanMode::bridge);
  Device* b = child(*yellow_, "mv0", MacvlanMode::bridge);
  ASSERT_TRUE(a && b);
  send(*a, b->mac(), 100);
  ASSERT_EQ(receivers(seen), (std::vector<std::string>{at(*yellow_, "mv0")}));
  EXPECT_EQ(seen.frames()[0].size, 100u);
  EXPECT_EQ(a->stats().tx_packets, 1u);
  EXPECT_EQ(b->stats().rx_packets, 1u);
  EXPECT_EQ(red_eth0_->stats().tx_packets, 0u);  // never touched the wire
  EXPECT_EQ(blue_eth0_->stats().rx_packets, 0u);

  // And over IPv4: ARP and echo between the two namespaces.
  ASSERT_TRUE(ipv4::add_address(*green_, *a, on_link(kChildA)));
  ASSERT_TRUE(ipv4::add_address(*yellow_, *b, on_link(kChildB)));
  auto ping = icmp::open(*green_).value();
  ASSERT_TRUE(ping.send_echo(kChildB, 1));
  run_for(10ms);
  ASSERT_TRUE(ping.receive());
  // Only the ARP request (a broadcast) also went out to the wire.
  EXPECT_EQ(red_eth0_->stats().tx_packets, 1u);
  EXPECT_EQ(blue_->counters().get("IpInReceives"), 0u);
}

TEST_F(Macvlan, BridgeModeBroadcastReachesBridgeSiblingsAndTheWireOnly) {
  RecordingHandler seen(host_);
  NetRef white = host_.create_net("white").value();
  Device* a = child(*green_, "mv0", MacvlanMode::bridge);
  Device* b = child(*yellow_, "mv0", MacvlanMode::bridge);
  Device* v = child(*white, "vepa0", MacvlanMode::vepa);
  Device* p = child(*white, "priv0", MacvlanMode::private_);
  ASSERT_TRUE(a && b && v && p);
  send(*a, MacAddress::broadcast());
  // The sibling in bridge mode and the far side; the vepa and private children
  // would need an outside switch to reflect it; the lower's own stack never
  // sees what it sends.
  EXPECT_EQ(receivers(seen), (std::vector<std::string>{at(*yellow_, "mv0"), at(*blue_, "eth0")}));
  EXPECT_EQ(host_.stats().packet_copies, 0u);
}

TEST_F(Macvlan, PrivateModeSiblingsCannotReachEachOther) {
  RecordingHandler seen(host_);
  Device* a = child(*green_, "mv0", MacvlanMode::private_);
  Device* b = child(*yellow_, "mv0", MacvlanMode::private_);
  ASSERT_TRUE(a && b);
  send(*a, b->mac());
  send(*a, MacAddress::broadcast());
  // Both left by the wire; the far end got them (one for another host), the sibling nothing.
  EXPECT_EQ(red_eth0_->stats().tx_packets, 2u);
  EXPECT_EQ(receivers(seen), (std::vector<std::string>{at(*blue_, "eth0"), at(*blue_, "eth0")}));
  EXPECT_EQ(b->stats().rx_packets, 0u);

  ASSERT_TRUE(ipv4::add_address(*green_, *a, on_link(kChildA)));
  ASSERT_TRUE(ipv4::add_address(*yellow_, *b, on_link(kChildB)));
  auto ping = icmp::open(*green_).value();
  ASSERT_TRUE(ping.send_echo(kChildB, 1));
  run_for(5s);  // ARP gives up
  EXPECT_FALSE(ping.receive());
  EXPECT_EQ(yellow_->counters().get("IcmpInEchos"), 0u);
}

TEST_F(Macvlan, VepaSendsEverythingToTheWire) {
  RecordingHandler seen(host_);
  Device* a = child(*green_, "mv0", MacvlanMode::vepa);
  Device* b = child(*yellow_, "mv0", MacvlanMode::vepa);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(macvlan_mode(*a).value(), MacvlanMode::vepa);
  send(*a, b->mac());
  send(*a, MacAddress::broadcast());
  EXPECT_EQ(a->stats().tx_packets, 2u);
  EXPECT_EQ(red_eth0_->stats().tx_packets, 2u);
  EXPECT_EQ(receivers(seen), (std::vector<std::string>{at(*blue_, "eth0"), at(*blue_, "eth0")}));
  EXPECT_EQ(b->stats().rx_packets, 0u);
}

TEST_F(Macvlan, TheDefaultModeIsVepaAndCanBeChanged) {
  auto made = make_macvlan(*red_eth0_, *green_, "mv0");
  ASSERT_TRUE(made);
  EXPECT_EQ(macvlan_mode(**made).value(), MacvlanMode::vepa);
  ASSERT_TRUE(set_macvlan_mode(**made, MacvlanMode::bridge));
  EXPECT_EQ(macvlan_mode(**made).value(), MacvlanMode::bridge);
  EXPECT_EQ(set_macvlan_mode(*red_eth0_, MacvlanMode::bridge).error(), Errc::invalid_argument);
  EXPECT_EQ(macvlan_mode(*red_eth0_).error(), Errc::invalid_argument);
  EXPECT_EQ(macvlan_lower(*red_eth0_).error(), Errc::invalid_argument);
}

TEST(MacvlanMode, ParsesIpLinkWords) {
  EXPECT_EQ(parse_macvlan_mode("private").value(), MacvlanMode::private_);
  EXPECT_EQ(parse_macvlan_mode("vepa").value(), MacvlanMode::vepa);
  EXPECT_EQ(parse_macvlan_mode("bridge").value(), MacvlanMode::bridge);
  EXPECT_EQ(parse_macvlan_mode("passthru").error(), Errc::operation_not_supported);
  EXPECT_EQ(parse_macvlan_mode("source").error(), Errc::operation_not_supported);
  EXPECT_EQ(parse_macvlan_mode("Bridge").error(), Errc::invalid_argument);
  EXPECT_EQ(to_string(MacvlanMode::private_), "private");
  EXPECT_EQ(to_string(MacvlanMode::vepa), "vepa");
  EXPECT_EQ(to_string(MacvlanMode::bridge), "bridge");
}

// ---- what comes in from the wire ----

TEST_F(Macvlan, ArpBroadcastReachesEveryChildAndTheLower) {
  Device* a = child(*green_, "mv0", MacvlanMode::vepa);
  Device* b = child(*yellow_, "mv0", MacvlanMode::bridge);
  Device* c = child(*yellow_, "mv1", MacvlanMode::private_);
  ASSERT_TRUE(a && b && c);
  RxTap tap_a(*a, kEtherTypeArp), tap_b(*b, kEtherTypeArp), tap_c(*c, kEtherTypeArp);
  RxTap tap_lower(*red_eth0_, kEtherTypeArp);
  ASSERT_TRUE(ipv4::add_address(*blue_, *blue_eth0_, on_link(kFar)));
  ASSERT_TRUE(ipv4::add_address(*yellow_, *b, on_link(kChildB)));

  auto ping = icmp::open(*blue_).value();
  ASSERT_TRUE(ping.send_echo(kChildB, 1));
  run_for(10ms);
  ASSERT_TRUE(ping.receive());
  // One request, heard by every child and the lower; the reply was unicast to the far end.
  EXPECT_EQ(tap_a.count(), 1u);
  EXPECT_EQ(tap_b.count(), 1u);
  EXPECT_EQ(tap_c.count(), 1u);
  EXPECT_EQ(tap_lower.count(), 1u);
  EXPECT_EQ(host_.stats().packet_copies, 0u);
}

TEST_F(MacvlanOnChannel, DemultiplexesByDestinationMacAcrossManyChildren) {
  RecordingHandler seen(host_);
  constexpr int kChildren = 64;
  std::vector<NetRef> nets;
  std::vector<Device*> children;
  for (int i = 0; i < kChildren; ++i) {
    if (i % 16 == 0) nets.push_back(host_.create_net().value());
    children.push_back(child(*nets.back(), fmt::format("mv{}", i), MacvlanMode::vepa));
    ASSERT_NE(children.back(), nullptr);
  }
  // In reverse, so delivery order shows each frame went to its own child.
  for (int i = kChildren - 1; i >= 0; --i) inject(children[i]->mac(), kOutside, static_cast<std::size_t>(i));
  ASSERT_EQ(seen.count(), static_cast<std::size_t>(kChildren));
  for (int i = 0; i < kChildren; ++i) {
    const auto& f = seen.frames()[kChildren - 1 - i];
    EXPECT_EQ(f.device, fmt::format("mv{}", i));
    EXPECT_EQ(f.net_id, nets[i / 16]->id());
    EXPECT_EQ(f.size, static_cast<std::size_t>(i));
    EXPECT_EQ(children[i]->stats().rx_packets, 1u);
  }
  // The lower's own address and unknown ones stay with the lower.
  inject(wire_->mac(), kOutside);
  inject(MacAddress(0x02, 0, 0, 0, 0, 0x42), kOutside);
  ASSERT_EQ(seen.count(), static_cast<std::size_t>(kChildren + 2));
  EXPECT_EQ(seen.frames()[kChildren].net_id, mid_->id());
  EXPECT_EQ(seen.frames()[kChildren + 1].net_id, mid_->id());
  EXPECT_EQ(host_.stats().packet_copies, 0u);
}

TEST_F(MacvlanOnChannel, BroadcastsThatComeBackFollowLinuxModeRules) {
  RecordingHandler seen(host_);
  NetRef yellow = host_.create_net("yellow").value();
  Device* vepa = child(*green_, "vepa0", MacvlanMode::vepa);
  Device* bridge = child(*green_, "bridge0", MacvlanMode::bridge);
  Device* priv = child(*yellow, "priv0", MacvlanMode::private_);
  Device* priv2 = child(*yellow, "priv1", MacvlanMode::private_);
  ASSERT_TRUE(vepa && bridge && priv && priv2);
  auto names = [&] {
    std::vector<std::string> out;
    for (const auto& f : seen.frames()) out.push_back(f.device);
    return out;
  };
  // The lower's stack handles its share at once; the children's shares are
  // queued on their backlogs, so they come after it.
  const auto everyone = std::vector<std::string>{"eth0", "vepa0", "bridge0", "priv0", "priv1"};

  inject(MacAddress::broadcast(), kOutside);  // from an outside host: everyone
  EXPECT_EQ(names(), everyone);

  // A reflecting switch sends each child's broadcast back down the wire.
  auto reflected = [&](Device& from) {
    std::size_t before = seen.count();
    inject(MacAddress::broadcast(), from.mac());
    auto all = names();
    return std::vector<std::string>(all.begin() + static_cast<std::ptrdiff_t>(before), all.end());
  };
  // From a vepa child: everyone but it and the private children.
  EXPECT_EQ(reflected(*vepa), (std::vector<std::string>{"eth0", "bridge0"}));
  // From a bridge child: only vepa children; bridge ones had it on the way out.
  EXPECT_EQ(reflected(*bridge), (std::vector<std::string>{"eth0", "vepa0"}));
  // From a private child: back to the sender alone, not even the lower.
  EXPECT_EQ(reflected(*priv), (std::vector<std::string>{"priv0"}));
  EXPECT_EQ(priv2->stats().rx_packets, 1u);  // only the outside broadcast
  EXPECT_EQ(host_.stats().packet_copies, 0u);
}

TEST_F(MacvlanOnChannel, VepaSiblingsMeetThroughAReflectingSwitch) {
  RecordingHandler seen(host_);
  Device* a = child(*green_, "mv0", MacvlanMode::vepa);
  Device* b = child(*green_, "mv1", MacvlanMode::vepa);
  ASSERT_TRUE(a && b);
  a->transmit(make_frame(host_, b->mac(), a->mac(), kTestEthertype, 46));
  poll();
  EXPECT_EQ(seen.count(), 0u);
  auto out = wire_->read_packet();
  ASSERT_TRUE(out);  // out on the wire, untouched
  wire_->inject(std::move(*out));  // the switch's hairpin
  poll();
  ASSERT_EQ(seen.count(), 1u);
  EXPECT_EQ(seen.frames()[0].device, "mv1");
}

TEST_F(MacvlanOnChannel, PauseFramesAreNotFlooded) {
  RecordingHandler seen(host_, 0x8808);
  Device* a = child(*green_, "mv0", MacvlanMode::bridge);
  Device* b = child(*green_, "mv1", MacvlanMode::bridge);
  ASSERT_TRUE(a && b);
  const MacAddress pause_group(0x01, 0x80, 0xc2, 0x00, 0x00, 0x01);
  wire_->inject(make_frame(host_, pause_group, kOutside, 0x8808, 46));
  poll();
  ASSERT_EQ(seen.count(), 1u);
  EXPECT_EQ(seen.frames()[0].device, "eth0");
  a->transmit(make_frame(host_, pause_group, a->mac(), 0x8808, 46));
  poll();
  EXPECT_EQ(seen.count(), 1u);
  EXPECT_EQ(b->stats().rx_packets, 0u);
  EXPECT_EQ(drain_wire(), 1u);
}

TEST_F(MacvlanOnChannel, ADownChildDropsItsFramesAndCountsThem) {
  Device* a = child(*green_, "mv0", MacvlanMode::vepa);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(set_link_up(*a, false));
  RecordingHandler seen(host_);
  inject(a->mac(), kOutside);
  EXPECT_EQ(seen.count(), 0u);  // not passed to the lower either
  EXPECT_EQ(a->stats().rx_dropped, 1u);
}

TEST_F(MacvlanOnChannel, RuntsAreDroppedAndCounted) {
  Device* a = child(*green_, "mv0", MacvlanMode::bridge);
  Device* b = child(*green_, "mv1", MacvlanMode::bridge);
  ASSERT_TRUE(a && b);
  for (std::size_t size : {1u, 6u, 13u}) {
    Packet runt = host_.packets().allocate(size);
    for (std::byte& x : runt.mutable_data()) x = std::byte{0xff};
    a->transmit(std::move(runt));
    Packet in = host_.packets().allocate(size);
    for (std::byte& x : in.mutable_data()) x = std::byte{0xff};
    wire_->inject(std::move(in));
  }
  poll();
  EXPECT_EQ(a->stats().tx_dropped, 3u);
  EXPECT_EQ(a->stats().tx_packets, 0u);
  EXPECT_EQ(wire_->stats().rx_length_errors, 3u);
  EXPECT_EQ(b->stats().rx_packets, 0u);
  EXPECT_EQ(drain_wire(), 0u);
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
}

// ---- addresses, MTU, carrier ----

TEST_F(Macvlan, EachChildHasItsOwnUnicastMac) {
  Device* a = child(*green_, "mv0", MacvlanMode::bridge);
  Device* b = child(*green_, "mv1", MacvlanMode::bridge);
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->mac(), b->mac());
  EXPECT_NE(a->mac(), red_eth0_->mac());
  EXPECT_FALSE(a->mac().is_multicast());
  EXPECT_FALSE(a->mac().is_zero());
}

TEST_F(Macvlan, SetMacRefusesASiblingsOrTheLowersAddressAndRekeysTheDemux) {
  RecordingHandler seen(host_);
  Device* a = child(*green_, "mv0", MacvlanMode::bridge);
  Device* b = child(*yellow_, "mv0", MacvlanMode::bridge);
  ASSERT_TRUE(a && b);
  const MacAddress old_b = b->mac();
  auto taken = b->set_mac(a->mac());
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error(), Errc::address_in_use);
  auto lowers = b->set_mac(red_eth0_->mac());
  ASSERT_FALSE(lowers);
  EXPECT_EQ(lowers.error(), Errc::address_in_use);
  EXPECT_EQ(b->mac(), old_b);
  EXPECT_TRUE(b->set_mac(old_b));  // its own address again: fine

  const MacAddress fresh(0x02, 0x12, 0x34, 0x56, 0x78, 0x9a);
  ASSERT_TRUE(b->set_mac(fresh));
  send(*blue_eth0_, fresh);
  send(*blue_eth0_, old_b);  // nobody's now: the lower's stack drops it as another host's
  EXPECT_EQ(receivers(seen), (std::vector<std::string>{at(*yellow_, "mv0"), at(*red_, "eth0")}));
  // The old address is free for a sibling.
  EXPECT_TRUE(a->set_mac(old_b));
}

TEST_F(Macvlan, MtuStartsAtTheLowersAndIsCappedByIt) {
  Device* a = child(*green_, "mv0", MacvlanMode::vepa);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->mtu(), 1500u);
  EXPECT_EQ(a->set_mtu(1501).error(), Errc::invalid_argument);
  EXPECT_TRUE(a->set_mtu(1400));
  ASSERT_TRUE(red_eth0_->set_mtu(9000));
  EXPECT_EQ(a->mtu(), 1400u);  // raising the lower leaves the child alone
  EXPECT_TRUE(a->set_mtu(9000));
  ASSERT_TRUE(red_eth0_->set_mtu(1280));
  EXPECT_EQ(a->mtu(), 1280u);  // lowering it caps the child
  EXPECT_EQ(a->set_mtu(1500).error(), Errc::invalid_argument);
  auto later = make_macvlan(*red_eth0_, *green_, "mv1");
  ASSERT_TRUE(later);
  EXPECT_EQ((*later)->mtu(), 1280u);
}

TEST_F(Macvlan, BridgeSiblingDropsAFrameOverItsMtu) {
  RecordingHandler seen(host_);
  Device* a = child(*green_, "mv0", MacvlanMode::bridge);
  Device* b = child(*yellow_, "mv0", MacvlanMode::bridge);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(b->set_mtu(576));
  send(*a, b->mac(), 1400);
  EXPECT_EQ(seen.count(), 0u);
  EXPECT_EQ(a->stats().tx_dropped, 1u);
  send(*a, b->mac(), 576);
  EXPECT_EQ(seen.count(), 1u);
}

TEST_F(Macvlan, CarrierFollowsTheLower) {
  RecordingHandler seen(host_);
  Device* a = child(*green_, "mv0", MacvlanMode::bridge);
  Device* b = child(*yellow_, "mv0", MacvlanMode::bridge);
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(a->is_running());
  ASSERT_TRUE(set_link_up(*blue_eth0_, false));  // the lower loses its carrier
  EXPECT_FALSE(red_eth0_->is_running());
  EXPECT_FALSE(a->is_running());
  EXPECT_TRUE(a->is_up());
  ASSERT_TRUE(set_link_up(*blue_eth0_));
  EXPECT_TRUE(a->is_running());
  ASSERT_TRUE(set_link_up(*red_eth0_, false));  // the lower down: the children cannot send
  EXPECT_FALSE(a->is_running());
  send(*a, b->mac());
  send(*a, blue_eth0_->mac());
  EXPECT_EQ(seen.count(), 0u);
  EXPECT_EQ(a->stats().tx_dropped, 2u);
  ASSERT_TRUE(set_link_up(*red_eth0_));
  send(*a, b->mac());
  EXPECT_EQ(seen.count(), 1u);
}

// ---- errors ----

TEST_F(Macvlan, TheLoopbackCannotBeALower) {
  auto made = make_macvlan(red_->loopback(), *green_, "mv0");
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error(), Errc::invalid_argument);
  EXPECT_EQ(green_->device("mv0"), nullptr);
  EXPECT_EQ(red_->loopback().rx_handler(), nullptr);
}

TEST_F(Macvlan, ALowerWithAnotherRxHandlerIsBusy) {
  OtherHandler bridge_port;
  ASSERT_TRUE(red_eth0_->set_rx_handler(bridge_port));
  auto made = make_macvlan(*red_eth0_, *green_, "mv0");
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error(), Errc::device_or_resource_busy);
  EXPECT_EQ(green_->device_count(), 1u);
  EXPECT_EQ(red_eth0_->rx_handler(), &bridge_port);
  red_eth0_->clear_rx_handler();

  // And the other way: a lower carrying macvlans refuses a bridge.
  ASSERT_TRUE(make_macvlan(*red_eth0_, *green_, "mv0"));
  auto busy = red_eth0_->set_rx_handler(bridge_port);
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error(), Errc::device_or_resource_busy);
}

TEST_F(Macvlan, BadOrTakenNamesAreRefusedAndNothingChanges) {
  for (std::string_view bad : {"", "sixteen-chars-xx", "a/b", "a b", "."}) {
    auto made = make_macvlan(*red_eth0_, *green_, bad);
    ASSERT_FALSE(made) << bad;
    EXPECT_EQ(made.error(), Errc::invalid_argument) << bad;
  }
  auto taken = make_macvlan(*red_eth0_, *red_, "eth0");
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error(), Errc::file_exists);
  EXPECT_EQ(green_->device_count(), 1u);
  EXPECT_EQ(red_->device_count(), 2u);
  EXPECT_EQ(red_eth0_->rx_handler(), nullptr);  // no port was left behind

  // The same name in the lower's namespace and in another one is fine.
  EXPECT_TRUE(make_macvlan(*red_eth0_, *red_, "mv0"));
  EXPECT_TRUE(make_macvlan(*red_eth0_, *green_, "mv0"));
}

TEST_F(Macvlan, ADyingNamespaceOrALowerOfAnotherHostIsRefused) {
  NetHold memory(*green_);  // keeps the dying namespace's memory, not the namespace
  Net* dying = green_.get();
  green_.reset();
  ASSERT_TRUE(dying->is_dying());
  auto late = make_macvlan(*red_eth0_, *dying, "mv0");
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error(), Errc::invalid_argument);
  EXPECT_EQ(red_eth0_->rx_handler(), nullptr);

  Host other(support::test_config());
  auto far = make_channel(other.init_net(), "eth9").value();
  auto cross = make_macvlan(*far, *yellow_, "mv0");
  ASSERT_FALSE(cross);
  EXPECT_EQ(cross.error(), Errc::invalid_argument);
  EXPECT_EQ(far->rx_handler(), nullptr);
}

TEST_F(Macvlan, AMacvlanOnAMacvlanStacksOnTheRealLower) {
  RecordingHandler seen(host_);
  Device* a = child(*green_, "mv0", MacvlanMode::bridge);
  ASSERT_NE(a, nullptr);
  Device* b = child(*yellow_, "mv0", MacvlanMode::bridge, a);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(macvlan_lower(*b).value(), red_eth0_);
  send(*blue_eth0_, b->mac());
  EXPECT_EQ(receivers(seen), (std::vector<std::string>{at(*yellow_, "mv0")}));
}

TEST_F(MacvlanOnChannel, ALowerCarriesABoundedNumberOfChildren) {
  for (std::size_t i = 0; i < kMaxMacvlansPerLower; ++i) {
    ASSERT_TRUE(make_macvlan(*wire_, *green_, fmt::format("mv{}", i))) << i;
  }
  auto one_more = make_macvlan(*wire_, *green_, "mvx");
  ASSERT_FALSE(one_more);
  EXPECT_EQ(one_more.error(), Errc::no_buffer_space);
  EXPECT_EQ(green_->device("mvx"), nullptr);
}

// ---- lifetimes ----

TEST_F(Macvlan, DestroyingTheLowerDestroysEveryChildInEveryNamespace) {
  Device* a = child(*green_, "mv0", MacvlanMode::bridge);
  Device* b = child(*yellow_, "mv0", MacvlanMode::vepa);
  Device* c = child(*red_, "mv0", MacvlanMode::private_);
  ASSERT_TRUE(a && b && c);
  ASSERT_TRUE(destroy_device(*blue_eth0_));  // the veth takes the lower with it
  poll();
  EXPECT_EQ(red_->device("eth0"), nullptr);
  EXPECT_EQ(green_->device("mv0"), nullptr);
  EXPECT_EQ(yellow_->device("mv0"), nullptr);
  EXPECT_EQ(red_->device("mv0"), nullptr);
  EXPECT_EQ(green_->device_count(), 1u);
}

TEST_F(Macvlan, TheLowersNamespaceDyingDestroysTheChildren) {
  RecordingHandler seen(host_);
  Device* a = child(*green_, "mv0", MacvlanMode::bridge);
  ASSERT_NE(a, nullptr);
  red_.reset();
  poll();
  EXPECT_EQ(green_->device("mv0"), nullptr);
  EXPECT_EQ(blue_->device("eth0"), nullptr);  // the veth went with its namespace
  EXPECT_EQ(host_.stats().dying_nets, 0u);
}

TEST_F(Macvlan, ALowerDestroyedWhilePollingDestroysTheChildren) {
  RecordingHandler seen(host_);
  Device* a = child(*green_, "mv0", MacvlanMode::bridge);
  ASSERT_NE(a, nullptr);
  // The child's own frame leads to its lower's destruction, mid-poll.
  seen.on_frame = [&](Net&, Device&, Packet) { (void)destroy_device(*blue_eth0_); };
  send(*blue_eth0_, a->mac());
  EXPECT_EQ(seen.count(), 1u);
  EXPECT_EQ(green_->device("mv0"), nullptr);
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
}

TEST_F(Macvlan, MovingTheLowerKeepsTheChildrenWorking) {
  RecordingHandler seen(host_);
  Device* a = child(*green_, "mv0", MacvlanMode::bridge);
  ASSERT_NE(a, nullptr);
  NetRef elsewhere = host_.create_net("elsewhere").value();
  ASSERT_TRUE(host_.move_device(*red_eth0_, *elsewhere, "uplink"));
  ASSERT_TRUE(set_link_up(*red_eth0_));
  EXPECT_EQ(&red_eth0_->net(), elsewhere.get());
  EXPECT_EQ(green_->device("mv0"), a);
  EXPECT_EQ(macvlan_lower(*a).value(), red_eth0_);
  EXPECT_TRUE(a->is_running());
  send(*blue_eth0_, a->mac());
  send(*a, blue_eth0_->mac());
  EXPECT_EQ(receivers(seen), (std::vector<std::string>{at(*green_, "mv0"), at(*blue_, "eth0")}));

  // Its new namespace dying destroys it, and the children with it.
  elsewhere.reset();
  poll();
  EXPECT_EQ(green_->device("mv0"), nullptr);
}

TEST_F(Macvlan, AChildMovedToAnotherNamespaceKeepsWorking) {
  RecordingHandler seen(host_);
  Device* a = child(*green_, "mv0", MacvlanMode::bridge);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(host_.move_device(*a, *yellow_));
  ASSERT_TRUE(set_link_up(*a));
  send(*blue_eth0_, a->mac());
  EXPECT_EQ(receivers(seen), (std::vector<std::string>{at(*yellow_, "mv0")}));
}

TEST_F(Macvlan, AChildDiesWithItsNamespaceAndTheLastOneFreesTheLower) {
  RecordingHandler seen(host_);
  Device* a = child(*green_, "mv0", MacvlanMode::bridge);
  Device* b = child(*yellow_, "mv0", MacvlanMode::bridge);
  ASSERT_TRUE(a && b);
  const MacAddress mac_a = a->mac();
  green_.reset();
  poll();
  EXPECT_NE(red_eth0_->rx_handler(), nullptr);  // b still uses the port
  send(*blue_eth0_, mac_a);  // a's address left the port: the lower's now
  send(*blue_eth0_, b->mac());
  EXPECT_EQ(receivers(seen), (std::vector<std::string>{at(*red_, "eth0"), at(*yellow_, "mv0")}));
  EXPECT_TRUE(b->set_mac(mac_a));  // and is free for a sibling

  yellow_.reset();
  poll();
  EXPECT_EQ(red_eth0_->rx_handler(), nullptr);
  OtherHandler bridge_port;
  EXPECT_TRUE(red_eth0_->set_rx_handler(bridge_port));  // free for a bridge again
  red_eth0_->clear_rx_handler();
  EXPECT_EQ(host_.stats().dying_nets, 0u);
}

TEST_F(Macvlan, DestroyingAChildLeavesItsSiblingsAlone) {
  RecordingHandler seen(host_);
  Device* a = child(*green_, "mv0", MacvlanMode::bridge);
  Device* b = child(*yellow_, "mv0", MacvlanMode::bridge);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(destroy_device(*a));
  EXPECT_EQ(green_->device("mv0"), nullptr);
  send(*blue_eth0_, b->mac());
  EXPECT_EQ(receivers(seen), (std::vector<std::string>{at(*yellow_, "mv0")}));
  ASSERT_TRUE(destroy_device(*b));
  EXPECT_EQ(red_eth0_->rx_handler(), nullptr);
  EXPECT_TRUE(red_eth0_->is_up());
  send(*blue_eth0_, red_eth0_->mac());  // the lower works alone again
  EXPECT_EQ(seen.count(), 2u);
}

}  // namespace devices_macvlan_test
}  // namespace
}  // namespace netns
