// Shared helpers of the IPv6 tests: parse shorthands, EUI-64 addresses, the
// rows of a namespace's addresses, and a fixture with one channel device on
// a virtual clock stepped 10 ms at a time, as DAD and router discovery
// tests want (every timer fires within 10 ms of its deadline).
//
//   class Ipv6AddrconfTest : public support::Ipv6ChannelTest {
//    protected:
//     Ipv6AddrconfTest() : Ipv6ChannelTest(13, "a") {}
//   };
//   TEST_F(Ipv6AddrconfTest, LinkLocalIsUsableAfterDad) {
//     bring_up();
//     EXPECT_FALSE(find(link_local())->tentative);
//   }
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "netns/clock.hpp"
#include "netns/device.hpp"
#include "netns/host.hpp"
#include "netns/ipv6.hpp"
#include "netns/net.hpp"

namespace netns::support {

// Parsed, or the test throws (a typo in a literal is the test's bug).
Ipv6Address v6(std::string_view text);
Ipv6Prefix p6(std::string_view text);

// `prefix`'s first 64 bits and `mac`'s modified EUI-64 identifier (RFC 4291 appendix A).
Ipv6Address eui64(const Ipv6Address& prefix, const MacAddress& mac);
// The link-local address `dev` gets when it comes up (addr_gen_mode 0).
Ipv6Address link_local(const Device& dev);

// `address`'s row among net's addresses, if it has it.
std::optional<ipv6::AddressInfo> find_address(Net& net, const Ipv6Address& address);
// Present, past DAD and not refused by it: usable as a source.
bool usable(Net& net, const Ipv6Address& address);

// Polls `host` every 10 ms of virtual time from `now` for `span`; `now` ends at now + span.
void step_for(Host& host, Clock::time_point& now, Clock::duration span);

// A namespace with its loopback up and one channel device, eth0, still down.
class Ipv6ChannelTest : public ::testing::Test {
 protected:
  Ipv6ChannelTest(std::uint64_t secret, std::string_view net_name);
  void SetUp() override;

  void run_for(Clock::duration span) { step_for(host_, now_, span); }
  // eth0 up, then 3 s: past DAD of its link-local address (at most 1 s of
  // delay, one probe, 1 s of waiting).
  void bring_up();
  // `a`'s row, valid until the next call; null when absent.
  const ipv6::AddressInfo* find(const Ipv6Address& a);
  Ipv6Address link_local() const { return support::link_local(*eth0_); }
  std::uint64_t counter(std::string_view name) const { return net_->counters().get(name); }

  Clock::time_point now_{};
  Host host_;
  NetRef net_;
  ChannelDevice* eth0_ = nullptr;

 private:
  std::string net_name_;
  std::vector<ipv6::AddressInfo> infos_;
};

}  // namespace netns::support
