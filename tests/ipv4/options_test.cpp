// IP options as Linux's net/ipv4/ip_options.c treats them: compiled (checked
// and filled) on input, echoed in replies, built on output, updated when
// forwarded. Each expectation is what the kernel's code does with the same
// bytes; the frame-level and kernel tests (ip_options_test.cpp,
// linux_parity_test.cpp) check the same on the wire.
#include "ipv4/options.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

#include "netns/wire/bytes.hpp"
#include "netns/wire/ipv4.hpp"

namespace netns::ipv4 {
namespace {
namespace ipv4_options_test {

using Bytes = std::vector<std::byte>;

const Ipv4Address kSender(192, 0, 2, 2);
const Ipv4Address kUs(192, 0, 2, 1);
const Ipv4Address kOurOther(198, 51, 100, 1);
const Ipv4Address kR1(203, 0, 113, 1), kR2(203, 0, 113, 2);
constexpr std::uint32_t kNow = 12'345'678;   // ms since midnight
constexpr std::uint32_t kLater = 12'345'999;

// A header from kSender to kUs with these option bytes, then zeros (End of
// List) up to `size` bytes and a multiple of 4.
Bytes header(const std::vector<int>& option_bytes, std::size_t size = 0) {
  Bytes options;
  for (int b : option_bytes) options.push_back(std::byte(static_cast<std::uint8_t>(b)));
  while (options.size() < size || options.size() % 4 != 0) options.push_back(std::byte{0});
  Bytes h(20 + options.size());
  wire::Ipv4Repr{.src = kSender, .dst = kUs, .protocol = wire::IpProtocol::icmp}.emit(h, options);
  return h;
}

OptionContext context(Ipv4Address spec_dst = kUs) {
  return {.spec_dst = spec_dst, .timestamp = kNow, .is_unicast = [](Ipv4Address a) {
            return a != kUs && a != kOurOther;
          }};
}

std::uint8_t at(const Bytes& h, std::size_t i) { return wire::load_u8(h, i); }
Ipv4Address addr(const Bytes& h, std::size_t i) { return wire::load_ipv4(h, i); }
std::uint32_t time_at(const Bytes& h, std::size_t i) { return wire::load_be32(h, i); }

// A reply header carrying `options` from kUs back to kSender, built as output does.
Bytes reply_header(const SentOptions& options, Ipv4Address source = kUs) {
  Bytes h(20 + options.optlen);
  wire::Ipv4Repr{.src = source, .dst = kSender, .protocol = wire::IpProtocol::icmp}.emit(h, options.data());
  build_options(h, options, kSender, source, kLater);
  return h;
}

// ---- Record Route ----

// `ping -R`: nine empty slots. Linux records itself on input (the address the
// ping was sent to) and again on output (the reply's source): the target
// appears twice, as ping -R to a Linux host shows.
TEST(IpOptions, RecordRouteGetsThisHostOnInputAndAgainInTheReply) {
  Bytes h = header({1, 7, 39, 4}, 40);
  auto compiled = compile_received_options(h, context());
  ASSERT_FALSE(compiled.problem);
  EXPECT_EQ(compiled.options.rr, 21);
  EXPECT_TRUE(compiled.options.rr_needaddr);
  EXPECT_EQ(at(h, 23), 8);          // the pointer moved past the first slot
  EXPECT_EQ(addr(h, 24), kUs);

  auto reply = echo_options(h, compiled.options, context());
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->optlen, 40);     // 39 padded with End of List
  EXPECT_TRUE(reply->rr_needaddr);
  Bytes out = reply_header(*reply);
  EXPECT_EQ(at(out, 20), 7);
  EXPECT_EQ(at(out, 22), 12);
  EXPECT_EQ(addr(out, 23), kUs);
  EXPECT_EQ(addr(out, 27), kUs);
  EXPECT_EQ(addr(out, 31), Ipv4Address{});
}

TEST(IpOptions, AFullRecordRouteIsEchoedUnchanged) {
  Bytes h = header({7, 7, 8, 10, 0, 0, 1});  // one slot, already filled: pointer 8 > length 7
  Bytes before = h;
  auto compiled = compile_received_options(h, context());
  ASSERT_FALSE(compiled.problem);
  EXPECT_FALSE(compiled.options.rr_needaddr);
  EXPECT_EQ(h, before);
  auto reply = echo_options(h, compiled.options, context());
  ASSERT_TRUE(reply);
  EXPECT_FALSE(reply->rr_needaddr);
  Bytes out = reply_header(*reply);
  EXPECT_EQ(addr(out, 23), Ipv4Address(10, 0, 0, 1));
  EXPECT_EQ(at(out, 22), 8);
}

TEST(IpOptions, RecordRouteWithRoomForOneIsFilledOnInputOnly) {
  Bytes h = header({7, 7, 4, 0, 0, 0, 0});
  auto compiled = compile_received_options(h, context());
  ASSERT_FALSE(compiled.problem);
  auto reply = echo_options(h, compiled.options, context());
  ASSERT_TRUE(reply);
  EXPECT_FALSE(reply->rr_needaddr);
  Bytes out = reply_header(*reply, kOurOther);
  EXPECT_EQ(addr(out, 23), kUs);
  EXPECT_EQ(at(out, 22), 8);
}

// ---- Timestamp ----

TEST(IpOptions, TimestampsOnlyAreStampedOnInputAndOutput) {
  Bytes h = header({68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  auto compiled = compile_received_options(h, context());
  ASSERT_FALSE(compiled.problem);
  EXPECT_TRUE(compiled.options.ts_needtime);
  EXPECT_EQ(at(h, 22), 9);
  EXPECT_EQ(time_at(h, 24), kNow);
  auto reply = echo_options(h, compiled.options, context());
  ASSERT_TRUE(reply);
  Bytes out = reply_header(*reply);
  EXPECT_EQ(at(out, 22), 13);
  EXPECT_EQ(time_at(out, 24), kNow);
  EXPECT_EQ(time_at(out, 28), kLater);
}

TEST(IpOptions, TimestampsWithAddressesRecordBothEnds) {
  Bytes h = header({68, 20, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  auto compiled = compile_received_options(h, context());
  ASSERT_FALSE(compiled.problem);
  EXPECT_TRUE(compiled.options.ts_needaddr);
  EXPECT_EQ(at(h, 22), 13);
  auto reply = echo_options(h, compiled.options, context());
  ASSERT_TRUE(reply);
  Bytes out = reply_header(*reply, kOurOther);
  EXPECT_EQ(at(out, 22), 21);
  EXPECT_EQ(addr(out, 24), kUs);
  EXPECT_EQ(time_at(out, 28), kNow);
  EXPECT_EQ(addr(out, 32), kOurOther);
  EXPECT_EQ(time_at(out, 36), kLater);
}

// Prespecified: only a host the next pair names stamps it.
TEST(IpOptions, PrespecifiedTimestampsStampOnlyWhereNamed) {
  Bytes h = header({68, 20, 5, 3, 192, 0, 2, 1, 0, 0, 0, 0, 203, 0, 113, 9, 0, 0, 0, 0});
  auto compiled = compile_received_options(h, context());
  ASSERT_FALSE(compiled.problem);
  EXPECT_TRUE(compiled.options.ts_needtime);
  EXPECT_EQ(at(h, 22), 13);
  EXPECT_EQ(time_at(h, 28), kNow);
  // The next pair names someone else: the reply stamps nothing more.
  auto reply = echo_options(h, compiled.options, context());
  ASSERT_TRUE(reply);
  EXPECT_FALSE(reply->ts_needtime);
  Bytes out = reply_header(*reply);
  EXPECT_EQ(at(out, 22), 13);
  EXPECT_EQ(time_at(out, 36), 0u);

  Bytes other = header({68, 12, 5, 3, 203, 0, 113, 9, 0, 0, 0, 0});
  compiled = compile_received_options(other, context());
  ASSERT_FALSE(compiled.problem);
  EXPECT_FALSE(compiled.options.ts_needtime);
  EXPECT_EQ(at(other, 22), 5);
}

TEST(IpOptions, AFullTimestampCountsAnOverflowUntilFifteen) {
  Bytes h = header({68, 8, 9, 0x20, 0, 0, 0, 1});
  auto compiled = compile_received_options(h, context());
  ASSERT_FALSE(compiled.problem);
  EXPECT_EQ(at(h, 23), 0x30);
  Bytes fifteen = header({68, 8, 9, 0xf0, 0, 0, 0, 1});
  compiled = compile_received_options(fifteen, context());
  ASSERT_TRUE(compiled.problem);
  EXPECT_EQ(*compiled.problem, 23);
}

// Room for an address but not its time after input: ip_options_echo refuses,
// and Linux sends no reply at all.
TEST(IpOptions, AnEchoThatCannotFitItsEntryIsRefused) {
  Bytes h = header({68, 16, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  auto compiled = compile_received_options(h, context());
  ASSERT_FALSE(compiled.problem);
  EXPECT_EQ(at(h, 22), 13);  // 13 <= 16: room for the address, not for its time
  EXPECT_FALSE(echo_options(h, compiled.options, context()));
}

// ---- malformed options: the pointer of ICMP parameter problem ----

struct Malformed {
  const char* name;
  std::vector<int> options;
  std::uint8_t blame;  // from the start of the IP header
};

class MalformedOptions : public ::testing::TestWithParam<Malformed> {};

TEST_P(MalformedOptions, BlameTheByteLinuxBlames) {
  Bytes h = header(GetParam().options);
  auto compiled = compile_received_options(h, context());
  ASSERT_TRUE(compiled.problem) << GetParam().name;
  EXPECT_EQ(*compiled.problem, GetParam().blame) << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(
    IpOptions, MalformedOptions,
    ::testing::Values(Malformed{"length 0", {1, 7, 0, 4}, 21},
                      Malformed{"length 1", {7, 1, 4, 0}, 20},
                      Malformed{"length past the header", {1, 7, 9, 4, 0, 0, 0, 0}, 21},
                      Malformed{"a lone type byte at the end", {1, 1, 1, 7}, 23},
                      Malformed{"record route pointer below 4", {7, 7, 3, 0, 0, 0, 0}, 22},
                      Malformed{"record route shorter than 3", {7, 2, 1, 1}, 21},
                      Malformed{"record route half a slot", {7, 9, 8, 0, 0, 0, 0, 0, 0}, 22},
                      Malformed{"two record routes", {7, 3, 4, 7, 3, 4, 0, 0}, 23},
                      Malformed{"timestamp pointer below 5", {68, 8, 4, 0, 0, 0, 0, 0}, 22},
                      Malformed{"timestamp shorter than 4", {68, 3, 5, 1}, 21},
                      Malformed{"timestamp half a pair", {68, 8, 5, 1, 0, 0, 0, 0}, 22},
                      Malformed{"two source routes", {131, 3, 4, 137, 3, 4, 0, 0}, 23},
                      Malformed{"source route pointer below 4", {131, 7, 3, 1, 2, 3, 4}, 22},
                      Malformed{"router alert shorter than 4", {148, 2, 1, 1}, 21},
                      Malformed{"cipso without a known domain", {134, 8, 0, 0, 0, 1, 0, 0}, 22}),
    [](const ::testing::TestParamInfo<Malformed>& info) {
      std::string name = info.param.name;
      for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

TEST(IpOptions, WhateverFollowsEndOfListBecomesEndOfList) {
  Bytes h = header({0, 7, 3, 4});
  auto compiled = compile_received_options(h, context());
  ASSERT_FALSE(compiled.problem);
  EXPECT_EQ(compiled.options.rr, 0);
  for (std::size_t i = 20; i < h.size(); ++i) EXPECT_EQ(at(h, i), 0) << i;
}

TEST(IpOptions, RouterAlertAndUnknownOptionsPass) {
  Bytes h = header({148, 4, 0, 0, 130, 4, 9, 9, 25, 2});
  auto compiled = compile_received_options(h, context());
  ASSERT_FALSE(compiled.problem);
  EXPECT_EQ(compiled.options.router_alert, 20);
  auto reply = echo_options(h, compiled.options, context());
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->optlen, 0);  // neither is echoed
}

// ---- source routes ----

// A loose source route that went kSender -> R1 -> R2 -> us: each hop wrote
// the address it left by. The reply goes back R2, R1, kSender (RFC 1812
// 5.2.4.1), and is sent to R2 first.
TEST(IpOptions, ASourceRouteIsReversedForTheReply) {
  Bytes h = header({1, 131, 11, 12, 203, 0, 113, 1, 203, 0, 113, 2});
  auto compiled = compile_received_options(h, context());
  ASSERT_FALSE(compiled.problem);
  EXPECT_EQ(compiled.options.srr, 21);
  EXPECT_FALSE(compiled.options.is_strictroute);
  auto reply = echo_options(h, compiled.options, context());
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->faddr, kR2);
  Bytes out = reply_header(*reply);
  EXPECT_EQ(at(out, 20), 131);
  EXPECT_EQ(at(out, 21), 11);
  EXPECT_EQ(at(out, 22), 4);
  EXPECT_EQ(addr(out, 23), kR1);
  EXPECT_EQ(addr(out, 27), kSender);
}

// A route whose first hop is the sender itself is illegal; the reply drops it.
TEST(IpOptions, AReversedRouteLosesAFirstHopThatIsTheSender) {
  Bytes h = header({1, 137, 11, 12, 192, 0, 2, 2, 203, 0, 113, 2});
  auto compiled = compile_received_options(h, context());
  ASSERT_FALSE(compiled.problem);
  auto reply = echo_options(h, compiled.options, context());
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->faddr, kR2);
  EXPECT_TRUE(reply->is_strictroute);
  Bytes out = reply_header(*reply);
  EXPECT_EQ(at(out, 21), 7);
  EXPECT_EQ(addr(out, 23), kSender);
}

// ---- forwarding ----

TEST(IpOptions, ForwardingRecordsTheOutgoingAddress) {
  Bytes h = header({1, 7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0});
  auto compiled = compile_received_options(h, context(kUs));  // input records the address back
  ASSERT_FALSE(compiled.problem);
  EXPECT_EQ(addr(h, 24), kUs);
  EXPECT_TRUE(forward_options(h, compiled.options, kOurOther));
  EXPECT_EQ(addr(h, 24), kOurOther);
  EXPECT_EQ(at(h, 23), 8);
}

TEST(IpOptions, FollowingASourceRouteRecordsUsAndMovesTheDestination) {
  Bytes h = header({1, 131, 11, 4, 203, 0, 113, 1, 203, 0, 113, 2});
  auto compiled = compile_received_options(h, context());
  ASSERT_FALSE(compiled.problem);
  compiled.options.srr_is_hit = true;
  compiled.options.nexthop = kR1;
  EXPECT_TRUE(forward_options(h, compiled.options, kOurOther));
  EXPECT_EQ(addr(h, 16), kR1);
  EXPECT_EQ(addr(h, 24), kOurOther);
  EXPECT_EQ(at(h, 23), 8);
  compiled.options.nexthop = Ipv4Address(203, 0, 113, 77);  // not in the route: "destination lost"
  EXPECT_FALSE(forward_options(h, compiled.options, kOurOther));
}

}  // namespace ipv4_options_test
}  // namespace
}  // namespace netns::ipv4
