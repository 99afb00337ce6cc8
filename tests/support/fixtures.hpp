// Shared test fixtures: a deterministic Host, two namespaces joined by a veth,
// a frame builder, a recording packet handler and recording pernet ops.
//
//   TEST_F(TwoNets, FrameCrossesTheVeth) {
//     RecordingHandler seen(host_);
//     blue_eth0_->transmit(make_frame(host_, red_eth0_->mac(), blue_eth0_->mac(),
//                                     kTestEthertype, 46));
//     poll();
//     EXPECT_EQ(seen.frames().at(0).net_id, red_->id());
//   }
//
// Everything a Host keeps a pointer to (logs, pernet ops) is declared before
// the Host in the fixtures, so the Host's destructor can still call into it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "netns/address.hpp"
#include "netns/clock.hpp"
#include "netns/host.hpp"

namespace netns::support {

inline constexpr std::uint64_t kTestSecret = 0x6e65'746e'7301;
// IEEE 802 "local experimental ethertype 1": nothing in netns handles it.
inline constexpr std::uint16_t kTestEthertype = 0x88b5;
// Local experimental ethertype 2: never given a handler, so counted as rx_nohandler.
inline constexpr std::uint16_t kUnhandledEthertype = 0x88b6;
inline constexpr std::size_t kEthHeader = 14;

// A HostConfig that replays exactly: fixed secret, and diagnostics appended
// to `messages` (when given) instead of stderr.
HostConfig test_config(std::vector<std::string>* messages = nullptr);

// An Ethernet frame: dst, src, ethertype, then `payload_size` bytes counting
// up from 0 (so a test can tell frames apart by content).
Packet make_frame(Host& host, MacAddress dst, MacAddress src, std::uint16_t ethertype,
                  std::size_t payload_size);

// Records every frame of one ethertype that reaches any namespace of a Host.
// Registers itself on construction and removes itself on destruction.
class RecordingHandler : public PacketHandler {
 public:
  struct Seen {
    std::uint32_t net_id;
    std::string device;
    int ifindex;
    std::size_t size;  // after the Ethernet header was pulled
  };

  explicit RecordingHandler(Host& host, std::uint16_t ethertype = kTestEthertype);
  ~RecordingHandler() override;
  RecordingHandler(const RecordingHandler&) = delete;
  RecordingHandler& operator=(const RecordingHandler&) = delete;

  // Called after recording, with the frame; lets a test retransmit or tear down.
  std::function<void(Net&, Device&, Packet)> on_frame;

  const std::vector<Seen>& frames() const { return frames_; }
  std::size_t count() const { return frames_.size(); }

  void process(Net& net, Device& dev, Packet frame) override;

 private:
  Host& host_;
  std::uint16_t ethertype_;
  std::vector<Seen> frames_;
};

// Pernet ops that log "init:<tag>:<net id>" and "exit:<tag>:<net id>" to a
// shared vector, and can be told to fail their Nth init (counting from 1,
// over this op's whole life).
class RecordingOps : public PernetOps {
 public:
  static constexpr Errc kFailure = Errc::no_buffer_space;

  RecordingOps(std::vector<std::string>& log, std::string tag) : log_(&log), tag_(std::move(tag)) {}

  void fail_on_init(std::size_t nth) { fail_on_ = nth; }
  std::size_t init_calls() const { return init_calls_; }

  Result<void> init(Net& net) override;
  void exit(Net& net) override;

 private:
  std::vector<std::string>* log_;
  std::string tag_;
  std::size_t init_calls_ = 0;
  std::size_t fail_on_ = 0;  // 0: never
};

// "init:<tag>:<id>" / "exit:<tag>:<id>", for building expected logs.
std::string init_entry(std::string_view tag, std::uint32_t net_id);
std::string exit_entry(std::string_view tag, std::uint32_t net_id);

// A Host on a virtual clock, with its diagnostics and a pernet log captured.
class HostTest : public ::testing::Test {
 protected:
  // Pernet ops owned by the fixture; they outlive the Host, so the Host's
  // destructor may still run their exits.
  RecordingOps& make_ops(std::string tag) { return ops_.emplace_back(log_, std::move(tag)); }
  Clock::time_point poll() { return host_.poll(clock_.now()); }
  // Runs the Host for `span` of virtual time, jumping from one deadline to
  // the next (timers fire at their exact instants), and ends at now + span.
  void run_for(Clock::duration span);
  // Every live namespace's id, in for_each_net order.
  std::vector<std::uint32_t> live_ids();

  std::vector<std::string> messages_;  // HostConfig::log output
  std::vector<std::string> log_;       // RecordingOps entries
  std::deque<RecordingOps> ops_;
  VirtualClock clock_;
  Host host_{test_config(&messages_)};
};

// The namespaces of TwoNets, for fixtures whose Host is not HostTest's (the
// Asio tests run theirs on the real clock): "blue" and "red" joined by a
// veth whose ends are both eth0, up; with `addresses`, 192.0.2.1/24 on
// blue's and 192.0.2.2/24 on red's. Fails the test on any error.
struct LinkedNets {
  NetRef blue, red;
  Device* blue_eth0 = nullptr;
  Device* red_eth0 = nullptr;
};
void link_two_nets(Host& host, LinkedNets& out, bool addresses);

// Three namespaces in a row, a - r - b, over veths (a's eth0 to r's
// "left", r's "right" to b's eth0), r forwarding both families; a and b
// route everything through r. Addresses: a 192.0.2.1 and 2001:db8:1::1,
// r 192.0.2.2 / 198.51.100.1 and 2001:db8:1::2 / 2001:db8:2::1, b
// 198.51.100.2 and 2001:db8:2::2. Nobody solicits routers. Call
// run_for(kPastDad) before sending IPv6. Fails the test on any error.
struct RoutedNets {
  NetRef a, r, b;
  Device* a_eth0 = nullptr;
  Device* r_left = nullptr;
  Device* r_right = nullptr;
  Device* b_eth0 = nullptr;
};
void route_through(Host& host, RoutedNets& out);

// For tests that count frames or timers and have nothing to do with router
// discovery: every device of `nets` named `device` stops soliciting routers
// (net.ipv6.conf.DEV.accept_ra=0, read when DAD ends), so once DAD is over
// (kPastDad after the devices came up) the IPv6 layer has no timer left.
inline constexpr auto kPastDad = std::chrono::milliseconds(2100);  // at most 1 s of delay, a probe, 1 s
void no_router_solicitations(std::initializer_list<Net*> nets, std::string_view device = "eth0");

// Two namespaces, "blue" and "red", joined by a veth whose ends are both
// called eth0, both up.
class TwoNets : public HostTest {
 protected:
  void SetUp() override;
  Packet frame_to_red(std::size_t payload = 46, std::uint16_t ethertype = kTestEthertype);
  Packet frame_to_blue(std::size_t payload = 46, std::uint16_t ethertype = kTestEthertype);
  void set_up(bool addresses);  // link_two_nets into the members below

  NetRef blue_;
  NetRef red_;
  Device* blue_eth0_ = nullptr;
  Device* red_eth0_ = nullptr;
};

// TwoNets with addresses: blue 192.0.2.1/24 and red 192.0.2.2/24 on eth0.
class AddressedTwoNets : public TwoNets {
 protected:
  static constexpr Ipv4Address kBlue{192, 0, 2, 1};
  static constexpr Ipv4Address kRed{192, 0, 2, 2};
  void SetUp() override;
};

}  // namespace netns::support
