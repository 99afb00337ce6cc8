// The receive path's look-ahead (PacketHandler::prefetch): a handler that
// prefetches for a namespace is shown each frame of a backlog once, a few
// frames before it gets it, Ethernet header on; one that does not, or a
// frame an rx handler takes, costs no call at all.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "netns/bridge.hpp"
#include "netns/device.hpp"
#include "netns/rx_scheduler.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace core_rx_lookahead_test {

// Records "p<size>" for a frame shown to prefetch and "d<size>" for one
// delivered, the size being the payload's (Ethernet header off), and
// "@<device>" when asked to.
class LookAheadHandler final : public PacketHandler {
 public:
  LookAheadHandler(Host& host, const Net* prefetching) : host_(host), prefetching_(prefetching) {
    EXPECT_TRUE(host_.rx().add_packet_handler(support::kTestEthertype, *this));
    if (prefetching_ != nullptr) host_.rx().count_lookahead(1);
  }
  ~LookAheadHandler() override {
    if (prefetching_ != nullptr) host_.rx().count_lookahead(-1);
    host_.rx().remove_packet_handler(support::kTestEthertype);
  }

  bool prefetches(Net& net) override { return &net == prefetching_; }
  void prefetch(Net&, Device& dev, std::span<const std::byte> frame) override {
    events.push_back("p" + std::to_string(frame.size() - 14) + where(dev));
  }
  void process(Net&, Device& dev, Packet frame) override {
    events.push_back("d" + std::to_string(frame.size()) + where(dev));
  }

  std::vector<std::string> events;
  bool with_device = false;

 private:
  std::string where(const Device& dev) const { return with_device ? "@" + std::string(dev.name()) : ""; }

  Host& host_;
  const Net* prefetching_;
};

using RxLookAhead = support::TwoNets;

TEST_F(RxLookAhead, EachFrameIsShownOnceAFewFramesBeforeItIsDelivered) {
  LookAheadHandler handler(host_, red_.get());
  constexpr std::size_t kFrames = 10;
  for (std::size_t i = 0; i < kFrames; ++i) blue_eth0_->transmit(frame_to_red(46 + i));
  poll();

  static_assert(RxScheduler::kPrefetchDistance == 4, "the sequence below");
  const std::vector<std::string> expected{"p46", "p47", "p48", "p49",  // the turn starts with the first four
                                          "p50", "d46", "p51", "d47", "p52", "d48", "p53", "d49",
                                          "p54", "d50", "p55", "d51", "d52", "d53", "d54", "d55"};
  EXPECT_EQ(handler.events, expected);
}

TEST_F(RxLookAhead, ANamespaceTheHandlerDoesNotPrefetchForCostsNoCall) {
  LookAheadHandler handler(host_, blue_.get());  // frames go to red
  for (std::size_t i = 0; i < 6; ++i) blue_eth0_->transmit(frame_to_red(46 + i));
  poll();
  const std::vector<std::string> expected{"d46", "d47", "d48", "d49", "d50", "d51"};
  EXPECT_EQ(handler.events, expected);
}

TEST_F(RxLookAhead, NoNamespaceCountedInNoHandlerAsked) {
  LookAheadHandler handler(host_, red_.get());
  host_.rx().count_lookahead(-1);  // as if nothing looked ahead in this Host
  for (std::size_t i = 0; i < 6; ++i) blue_eth0_->transmit(frame_to_red(46 + i));
  poll();
  EXPECT_EQ(handler.events, (std::vector<std::string>{"d46", "d47", "d48", "d49", "d50", "d51"}));
  host_.rx().count_lookahead(1);
}

TEST_F(RxLookAhead, FramesAnRxHandlerTakesAreShownOnlyWhereTheyGoNext) {
  LookAheadHandler handler(host_, red_.get());
  handler.with_device = true;
  // A bridge port's frames belong to the bridge, whatever their ethertype:
  // they are shown from br0's backlog, where it delivers them, not eth0's.
  auto bridge = make_bridge(*red_, "br0");
  ASSERT_TRUE(bridge);
  ASSERT_TRUE(set_link_up(**bridge));
  ASSERT_TRUE(set_master(*red_eth0_, **bridge));
  for (std::size_t i = 0; i < 6; ++i) blue_eth0_->transmit(frame_to_red(46 + i));
  poll();
  ASSERT_EQ(handler.events.size(), 12u);
  for (const std::string& e : handler.events) EXPECT_TRUE(e.ends_with("@br0")) << e;
}

}  // namespace core_rx_lookahead_test
}  // namespace
}  // namespace netns
