// The core's hooks for device kinds: rx handlers (bridge, macvlan), frame
// observers (capture) and polled devices (TAP, DPDK).
#include <deque>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "netns/host.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace core_device_hooks_test {

using support::kEthHeader;
using support::kTestEthertype;
using support::make_frame;
using support::RecordingHandler;
using support::TwoNets;

// Takes every frame whose payload's first byte is odd; passes the rest.
class OddTaker final : public RxHandler {
 public:
  RxResult handle_frame(Device& dev, Packet& frame) override {
    EXPECT_EQ(frame.device, &dev);
    EXPECT_GE(frame.size(), kEthHeader);  // the Ethernet header is still on
    if ((std::to_integer<int>(frame.data()[kEthHeader]) & 1) == 0) return RxResult::pass;
    taken.push_back(std::move(frame));
    return RxResult::consumed;
  }
  std::vector<Packet> taken;
};

struct Observed {
  FrameDirection dir;
  std::size_t size;
};

class Recorder final : public FrameObserver {
 public:
  void observe(Device&, const Packet& frame, FrameDirection dir) override {
    seen.push_back({dir, frame.size()});
  }
  std::vector<Observed> seen;
};

// A frame whose first payload byte is `first`.
Packet frame_starting_with(Host& host, Device& to, std::byte first) {
  Packet p = make_frame(host, to.mac(), MacAddress{0x02, 0, 0, 0, 0, 9}, kTestEthertype, 46);
  p.mutable_data()[kEthHeader] = first;
  return p;
}

using DeviceHooks = TwoNets;

// Declared after the handlers, so it clears the device's rx handler before
// they go: a device must never keep a handler that no longer exists.
struct ClearRxHandler {
  Device& dev;
  ~ClearRxHandler() { dev.clear_rx_handler(); }
};

TEST_F(DeviceHooks, RxHandlerTakesWhatItConsumesAndPassesTheRest) {
  RecordingHandler stack(host_);
  OddTaker taker;
  ClearRxHandler clear{*red_eth0_};
  ASSERT_TRUE(red_eth0_->set_rx_handler(taker));
  blue_eth0_->transmit(frame_starting_with(host_, *red_eth0_, std::byte{1}));
  blue_eth0_->transmit(frame_starting_with(host_, *red_eth0_, std::byte{2}));
  poll();
  ASSERT_EQ(taker.taken.size(), 1u);
  EXPECT_EQ(taker.taken[0].size(), kEthHeader + 46);
  ASSERT_EQ(stack.count(), 1u);
  EXPECT_EQ(stack.frames()[0].net_id, red_->id());
  EXPECT_EQ(host_.stats().packet_copies, 0u);
}

// Rewrites the ethertype of every frame (unsharing it) and lets it pass.
class EthertypeRewriter final : public RxHandler {
 public:
  RxResult handle_frame(Device&, Packet& frame) override {
    auto bytes = frame.mutable_data();
    bytes[12] = std::byte{kTestEthertype >> 8};
    bytes[13] = std::byte{kTestEthertype & 0xff};
    return RxResult::pass;
  }
};

TEST_F(DeviceHooks, AHandlerThatUnsharesAndPassesIsReadAfresh) {
  RecordingHandler stack(host_);
  EthertypeRewriter rewriter;
  ClearRxHandler clear{*red_eth0_};
  ASSERT_TRUE(red_eth0_->set_rx_handler(rewriter));
  Packet original = make_frame(host_, red_eth0_->mac(), MacAddress{0x02, 0, 0, 0, 0, 9},
                               support::kUnhandledEthertype, 46);
  blue_eth0_->transmit(original.share());  // shared: the handler's write is a copy
  poll();
  EXPECT_EQ(stack.count(), 1u);  // dispatched by the rewritten ethertype
  EXPECT_EQ(red_eth0_->stats().rx_nohandler, 0u);
  EXPECT_EQ(host_.stats().packet_copies, 1u);
}

TEST_F(DeviceHooks, OneRxHandlerPerDevice) {
  OddTaker first, second;
  ClearRxHandler clear{*red_eth0_};
  ASSERT_TRUE(red_eth0_->set_rx_handler(first));
  EXPECT_TRUE(red_eth0_->set_rx_handler(first));  // the same one again is no change
  auto busy = red_eth0_->set_rx_handler(second);
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error(), Errc::device_or_resource_busy);
  EXPECT_EQ(red_eth0_->rx_handler(), &first);
  red_eth0_->clear_rx_handler();
  EXPECT_TRUE(red_eth0_->set_rx_handler(second));
}

TEST_F(DeviceHooks, RuntsNeverReachTheRxHandler) {
  OddTaker taker;
  ClearRxHandler clear{*red_eth0_};
  ASSERT_TRUE(red_eth0_->set_rx_handler(taker));
  Packet runt = host_.packets().allocate(10);
  std::fill(runt.mutable_data().begin(), runt.mutable_data().end(), std::byte{1});
  blue_eth0_->transmit(std::move(runt));
  poll();
  EXPECT_TRUE(taker.taken.empty());
  EXPECT_EQ(red_eth0_->stats().rx_length_errors, 1u);
}

TEST_F(DeviceHooks, ObserversSeeBothDirectionsWithoutTakingFrames) {
  RecordingHandler stack(host_);
  Recorder sent, received;
  blue_eth0_->add_observer(sent);
  red_eth0_->add_observer(received);
  red_eth0_->add_observer(received);  // added once only
  blue_eth0_->transmit(frame_starting_with(host_, *red_eth0_, std::byte{2}));
  poll();
  ASSERT_EQ(sent.seen.size(), 1u);
  EXPECT_EQ(sent.seen[0].dir, FrameDirection::tx);
  ASSERT_EQ(received.seen.size(), 1u);
  EXPECT_EQ(received.seen[0].dir, FrameDirection::rx);
  EXPECT_EQ(received.seen[0].size, kEthHeader + 46);
  EXPECT_EQ(stack.count(), 1u);

  red_eth0_->remove_observer(received);
  blue_eth0_->transmit(frame_starting_with(host_, *red_eth0_, std::byte{2}));
  poll();
  EXPECT_EQ(received.seen.size(), 1u);
  EXPECT_EQ(stack.count(), 2u);
}

TEST_F(DeviceHooks, ObserversSeeFramesNetemDropsOnlyIfTheyLeave) {
  Recorder sent;
  blue_eth0_->add_observer(sent);
  ASSERT_TRUE(set_link_faults(*blue_eth0_, LinkFaults{.loss = 1.0}));
  blue_eth0_->transmit(frame_starting_with(host_, *red_eth0_, std::byte{2}));
  poll();
  EXPECT_TRUE(sent.seen.empty());  // lost in the qdisc, before the wire, as tcpdump shows it
}

// A device fed from a queue outside the stack, like a TAP or a DPDK port.
class FakePolledDevice final : public Device {
 public:
  explicit FakePolledDevice(Net& net) : Device(net, "poll0", DeviceKind::tap, MacAddress{0x02, 0, 0, 0, 0, 7}, 1500) {}
  bool polled() const override { return true; }
  int rx_fd() const override { return 42; }

  std::deque<Packet> outside;
  std::vector<std::size_t> budgets;
  std::size_t flushes = 0;
  std::vector<Packet> sent;

 private:
  std::size_t poll_rx(std::size_t budget) override {
    budgets.push_back(budget);
    std::size_t n = 0;
    while (n < budget && !outside.empty()) {
      receive(std::move(outside.front()));
      outside.pop_front();
      ++n;
    }
    return n;
  }
  void flush_tx() override { ++flushes; }
  void xmit(Packet frame) override { sent.push_back(std::move(frame)); }
};

class PolledDevices : public support::HostTest {
 protected:
  FakePolledDevice& add_device(Net& net) {
    auto dev = net.register_device(std::make_unique<FakePolledDevice>(net));
    EXPECT_TRUE(dev);
    return static_cast<FakePolledDevice&>(**dev);
  }
};

TEST_F(PolledDevices, ARegisteredDeviceIsListedUntilItUnregisters) {
  auto before = host_.polled_devices_version();
  FakePolledDevice& dev = add_device(host_.init_net());
  ASSERT_EQ(host_.polled_devices().size(), 1u);
  EXPECT_EQ(host_.polled_devices()[0], &dev);
  EXPECT_NE(host_.polled_devices_version(), before);
  auto listed = host_.polled_devices_version();
  ASSERT_TRUE(destroy_device(dev));
  EXPECT_TRUE(host_.polled_devices().empty());
  EXPECT_NE(host_.polled_devices_version(), listed);
}

TEST_F(PolledDevices, PollAsksOnlyDevicesThatAreUp) {
  FakePolledDevice& dev = add_device(host_.init_net());
  dev.outside.push_back(make_frame(host_, dev.mac(), MacAddress{0x02, 0, 0, 0, 0, 9}, kTestEthertype, 46));
  poll();
  EXPECT_TRUE(dev.budgets.empty());
  EXPECT_EQ(dev.outside.size(), 1u);
  ASSERT_TRUE(set_link_up(dev));
  RecordingHandler stack(host_);
  poll();
  EXPECT_TRUE(dev.outside.empty());
  EXPECT_EQ(stack.count(), 1u);  // received and processed in the same poll
  EXPECT_GE(dev.flushes, 1u);
}

TEST_F(PolledDevices, AFloodIsTakenInRoundsOfAtMost64) {
  FakePolledDevice& dev = add_device(host_.init_net());
  ASSERT_TRUE(set_link_up(dev));
  RecordingHandler stack(host_);
  for (int i = 0; i < 200; ++i) {
    dev.outside.push_back(make_frame(host_, dev.mac(), MacAddress{0x02, 0, 0, 0, 0, 9}, kTestEthertype, 46));
  }
  poll();
  EXPECT_EQ(stack.count(), 200u);
  for (std::size_t b : dev.budgets) EXPECT_LE(b, 64u);
}

TEST_F(PolledDevices, AMovedDeviceStaysListedOnce) {
  FakePolledDevice& dev = add_device(host_.init_net());
  auto blue = host_.create_net("blue");
  ASSERT_TRUE(blue);
  ASSERT_TRUE(host_.move_device(dev, **blue));
  ASSERT_EQ(host_.polled_devices().size(), 1u);
  EXPECT_EQ(&host_.polled_devices()[0]->net(), blue->get());
}

// Records is_unregistering() at each NetdevEvent::unregistering.
class LeavingRecorder final : public NetdevListener {
 public:
  explicit LeavingRecorder(Host& host) : host_(host) { host_.add_netdev_listener(*this); }
  ~LeavingRecorder() override { host_.remove_netdev_listener(*this); }
  void on_netdev_event(NetdevEvent event, Device& dev) override {
    if (event == NetdevEvent::unregistering) for_good.push_back(dev.is_unregistering());
  }
  std::vector<bool> for_good;

 private:
  Host& host_;
};

TEST_F(DeviceHooks, ListenersTellAMoveFromADestruction) {
  LeavingRecorder leaving(host_);
  auto green = host_.create_net("green");
  ASSERT_TRUE(green);
  ASSERT_TRUE(host_.move_device(*blue_eth0_, **green));
  ASSERT_EQ(leaving.for_good, std::vector<bool>{false});
  ASSERT_TRUE(destroy_device(*blue_eth0_));  // and its peer with it
  EXPECT_EQ(leaving.for_good, (std::vector<bool>{false, true, true}));
}

// Stops listening at the first unregistering event, from inside the notification.
class OneShotListener final : public NetdevListener {
 public:
  explicit OneShotListener(Host& host) : host_(&host) { host.add_netdev_listener(*this); }
  ~OneShotListener() override {
    if (host_ != nullptr) host_->remove_netdev_listener(*this);
  }
  void on_netdev_event(NetdevEvent event, Device&) override {
    if (event != NetdevEvent::unregistering || host_ == nullptr) return;
    ++heard;
    host_->remove_netdev_listener(*this);
    host_ = nullptr;
  }
  int heard = 0;

 private:
  Host* host_;
};

TEST_F(DeviceHooks, AListenerLeavingDuringANotificationHidesNoOther) {
  OneShotListener first(host_), second(host_), third(host_);
  auto green = host_.create_net("green");
  ASSERT_TRUE(green);
  ASSERT_TRUE(host_.move_device(*blue_eth0_, **green));  // one unregistering event
  EXPECT_EQ(first.heard, 1);
  EXPECT_EQ(second.heard, 1);
  EXPECT_EQ(third.heard, 1);
}

}  // namespace core_device_hooks_test
}  // namespace
}  // namespace netns
