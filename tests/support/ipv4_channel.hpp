// A namespace on the end of a channel device, for frame-level IPv4 tests: the
// test injects what a peer sends and reads back exactly what the stack sent,
// on a virtual clock whose UTC is known (HostConfig::utc_offset), so ICMP
// timestamps and the IP Timestamp option have values a test can predict.
//
//   TEST_F(Ipv4ChannelTest, AnswersPing) {
//     learn_peer();
//     inject(support::echo_request_frame(eth0_->mac(), kPeerMac, kPeer, kLocal, 1, 1, 8));
//     auto out = sent();
//     EXPECT_EQ(out.at(0).icmp->type, wire::IcmpType::echo_reply);
//   }
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "netns/clock.hpp"
#include "netns/device.hpp"
#include "netns/host.hpp"
#include "netns/net.hpp"
#include "support/ipv4_frames.hpp"

namespace netns::support {

inline const Ipv4Address kChannelLocal(192, 0, 2, 1);   // eth0's address
inline const Ipv4Address kChannelPeer(192, 0, 2, 2);    // the peer on eth0
inline const MacAddress kChannelPeerMac{0x02, 0, 0, 0, 0, 0x02};
// UTC at the virtual clock's zero: 2024-03-01 12:34:56.789, so that "now" is
// 45,296,789 ms since midnight UTC.
inline constexpr std::chrono::milliseconds kUtcAtZero{1'709'296'496'789};
inline constexpr std::uint32_t kMsSinceMidnightAtZero = 45'296'789;

class Ipv4ChannelTest : public ::testing::Test {
 protected:
  void SetUp() override;

  // Injects the frame on `dev` (eth0 when null) and polls once.
  void inject(const Bytes& frame, ChannelDevice* dev = nullptr);
  // Every frame the device transmitted since the last call, parsed.
  std::vector<Parsed> sent(ChannelDevice* dev = nullptr);
  // Every frame, as bytes.
  std::vector<Bytes> sent_bytes(ChannelDevice* dev = nullptr);
  std::uint64_t counter(std::string_view name) const { return net_->counters().get(name); }
  // The peer as a permanent neighbour: answers leave at once, no ARP.
  void learn_peer();
  void run_for(Clock::duration span);

  static HostConfig config(std::vector<std::string>* messages);

  std::vector<std::string> messages_;  // HostConfig::log output (log_martians...)
  // sent_bytes() drops the IPv6 layer's own frames (DAD when eth0 came up)
  // unless a test of IPv6 frames sets this.
  bool keep_ipv6_ = false;
  VirtualClock clock_;
  Host host_{config(&messages_)};
  NetRef net_;
  ChannelDevice* eth0_ = nullptr;
};

}  // namespace netns::support
