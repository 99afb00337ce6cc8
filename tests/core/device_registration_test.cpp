// One device registration (Net::register_device): the checks every kind
// shares, and the kind's own answer to where it goes when its namespace dies.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "netns/bridge.hpp"
#include "netns/host.hpp"
#include "netns/macvlan.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace core_device_registration_test {

using support::TwoNets;

// Every NetdevEvent::registered, by device name.
class RegisteredRecorder final : public NetdevListener {
 public:
  explicit RegisteredRecorder(Host& host) : host_(host) { host_.add_netdev_listener(*this); }
  ~RegisteredRecorder() override { host_.remove_netdev_listener(*this); }
  void on_netdev_event(NetdevEvent event, Device& dev) override {
    if (event == NetdevEvent::registered) names.emplace_back(dev.name());
  }
  std::vector<std::string> names;

 private:
  Host& host_;
};

// A device of no built-in kind: what a new kind does with the core.
class PlainDevice final : public Device {
 public:
  PlainDevice(Net& net, std::string_view name, bool refund)
      : Device(net, name, DeviceKind::channel, MacAddress{0x02, 0, 0, 0, 0, 0x42}, 1500), refund_(refund) {}
  bool netns_refund() const override { return refund_; }

 private:
  void xmit(Packet frame) override { (void)frame; }
  bool refund_;
};

// Each way of making a device in `net` under `name`: every kind's factory
// and the bare registration a new kind would use.
struct Maker {
  std::string kind;
  std::function<Result<void>(Net& net, std::string_view name)> make;
};

std::vector<Maker> makers(Net& other, Device& lower) {
  auto done = [](auto result) -> Result<void> {
    if (!result) return result.error();
    return {};
  };
  return {
      {"channel", [=](Net& net, std::string_view name) { return done(make_channel(net, name)); }},
      {"bridge", [=](Net& net, std::string_view name) { return done(make_bridge(net, name)); }},
      {"macvlan", [=, &lower](Net& net, std::string_view name) { return done(make_macvlan(lower, net, name)); }},
      {"veth a", [=, &other](Net& net, std::string_view name) { return done(make_veth(net, name, other, "peer9")); }},
      {"veth b", [=, &other](Net& net, std::string_view name) { return done(make_veth(other, "peer9", net, name)); }},
      {"register_device",
       [=](Net& net, std::string_view name) {
         return done(net.register_device(std::make_unique<PlainDevice>(net, name, false)));
       }},
  };
}

using DeviceRegistration = TwoNets;

TEST_F(DeviceRegistration, EveryKindIsRefusedTheSameWayAndNothingIsAnnounced) {
  auto green = host_.create_net("green");
  ASSERT_TRUE(green);
  Net* dying = green->get();
  NetHold memory(*dying);  // keeps the memory, not the namespace
  green->reset();
  ASSERT_TRUE(dying->is_dying());

  RegisteredRecorder heard(host_);
  for (const Maker& m : makers(*red_, *red_eth0_)) {
    for (std::string_view bad : {"", "sixteen-chars-xx", "a/b", "..", "a b"}) {
      auto made = m.make(*blue_, bad);
      ASSERT_FALSE(made) << m.kind << " '" << bad << "'";
      EXPECT_EQ(made.error(), Errc::invalid_argument) << m.kind << " '" << bad << "'";
    }
    auto taken = m.make(*blue_, "eth0");
    ASSERT_FALSE(taken) << m.kind;
    EXPECT_EQ(taken.error(), Errc::file_exists) << m.kind;
    auto late = m.make(*dying, "new0");
    ASSERT_FALSE(late) << m.kind;
    EXPECT_EQ(late.error(), Errc::invalid_argument) << m.kind;
  }
  EXPECT_TRUE(heard.names.empty());  // no refused device was ever registered, even for a moment
  EXPECT_EQ(blue_->device_count(), 2u);
  EXPECT_EQ(red_->device_count(), 2u);
  EXPECT_EQ(red_eth0_->rx_handler(), nullptr);  // no macvlan port was left on the lower
  EXPECT_TRUE(red_eth0_->uppers().empty());
}

TEST_F(DeviceRegistration, EveryKindIsAcceptedUnderAFreeName) {
  RegisteredRecorder heard(host_);
  for (const Maker& m : makers(*red_, *red_eth0_)) {
    ASSERT_TRUE(m.make(*blue_, "new0")) << m.kind;
    ASSERT_TRUE(destroy_device(*blue_->device("new0"))) << m.kind;  // a veth takes peer9 with it
    poll();
  }
  EXPECT_EQ(heard.names.size(), 8u);  // both ends of each veth
  EXPECT_EQ(blue_->device_count(), 2u);
  EXPECT_EQ(red_->device_count(), 2u);
}

TEST_F(DeviceRegistration, AKindThatAsksForARefundGoesHomeAndTheOthersDie) {
  auto green = host_.create_net("green");
  ASSERT_TRUE(green);
  Net& net = **green;
  ASSERT_TRUE(net.register_device(std::make_unique<PlainDevice>(net, "home0", true)));
  ASSERT_TRUE(net.register_device(std::make_unique<PlainDevice>(net, "gone0", false)));
  // Taken at home: comes back under the first free devN (Linux's default_device_exit).
  ASSERT_TRUE(make_channel(host_.init_net(), "home1"));
  ASSERT_TRUE(net.register_device(std::make_unique<PlainDevice>(net, "home1", true)));
  green->reset();
  poll();

  Net& init = host_.init_net();
  ASSERT_NE(init.device("home0"), nullptr);
  EXPECT_TRUE(init.device("home0")->netns_refund());
  EXPECT_EQ(init.device("gone0"), nullptr);
  ASSERT_NE(init.device("dev0"), nullptr);
  EXPECT_TRUE(init.device("dev0")->netns_refund());
  EXPECT_EQ(init.device_count(), 4u);  // lo, home0, home1 (the channel), dev0
  EXPECT_EQ(host_.stats().dying_nets, 0u);
}

TEST_F(DeviceRegistration, TheReceiveSchedulerIsTheHostsOwn) {
  // The forwarders on Host and the scheduler are one table: a handler added
  // through one is refused through the other.
  support::RecordingHandler seen(host_);
  struct Nothing final : PacketHandler {
    void process(Net&, Device&, Packet) override {}
  } other;
  auto again = host_.rx().add_packet_handler(support::kTestEthertype, other);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), Errc::file_exists);
  blue_eth0_->transmit(frame_to_red());
  EXPECT_TRUE(host_.rx().has_backlog());
  EXPECT_EQ(red_eth0_->backlog_size(), 1u);
  poll();
  EXPECT_FALSE(host_.rx().has_backlog());
  EXPECT_EQ(seen.count(), 1u);
}

}  // namespace core_device_registration_test
}  // namespace
}  // namespace netns
