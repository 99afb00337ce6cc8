// IPv6 input: every malformed or misaddressed datagram dropped and counted
// under nstat's name, nothing answered, no other namespace touched.
#include <gtest/gtest.h>

#include <vector>

#include "netns/device.hpp"
#include "netns/host.hpp"
#include "netns/ipv6.hpp"
#include "netns/net.hpp"
#include "netns/wire/ethernet.hpp"
#include "netns/wire/checksum.hpp"
#include "netns/wire/ipv6.hpp"
#include "support/ipv6_channel.hpp"

namespace netns {
namespace {
namespace ipv6_input_test {

using Bytes = std::vector<std::byte>;
using support::v6;

const Ipv6Address kLocal = v6("2001:db8::1");
const Ipv6Address kPeer = v6("2001:db8::2");
const MacAddress kPeerMac{0x02, 0, 0, 0, 0, 0x02};

class Ipv6InputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    net_ = host_.create_net("a").value();
    other_ = host_.create_net("b").value();
    eth0_ = make_channel(*net_, "eth0").value();
    ASSERT_TRUE(set_link_up(net_->loopback()));
    ASSERT_TRUE(set_link_up(*eth0_));
    ASSERT_TRUE(ipv6::add_address(*net_, *eth0_, Ipv6Prefix(kLocal, 64)));
    run_for(std::chrono::seconds(3));  // past DAD
    while (eth0_->read()) {
    }
  }
  void run_for(Clock::duration span) { support::step_for(host_, now_, span); }
  // An Ethernet frame carrying an IPv6 datagram: header fields from `ip`,
  // payload_len the payload's size unless `ip` set it.
  Bytes frame(wire::Ipv6Repr ip, const Bytes& payload) {
    if (ip.payload_len == 0) ip.payload_len = payload.size();
    Bytes out(wire::EthernetRepr::kHeaderLen + wire::Ipv6Repr::kHeaderLen + payload.size());
    wire::EthernetRepr{eth0_->mac(), kPeerMac, wire::EtherType::ipv6}.emit(out);
    ip.emit(std::span(out).subspan(wire::EthernetRepr::kHeaderLen));
    std::copy(payload.begin(), payload.end(), out.begin() + 54);
    return out;
  }
  void inject(const Bytes& bytes) {
    eth0_->inject(bytes);
    host_.poll(now_);
  }
  std::uint64_t counter(std::string_view name) const { return net_->counters().get(name); }

  Clock::time_point now_{};
  Host host_{HostConfig{.secret = 7}};
  NetRef net_, other_;
  ChannelDevice* eth0_ = nullptr;
};

TEST_F(Ipv6InputTest, MalformedHeadersAreCountedAndDropped) {
  const wire::Ipv6Repr good{.src = kPeer, .dst = kLocal, .next_header = wire::IpProtocol::ipv6_none};
  const std::uint64_t receives = counter("Ip6InReceives");
  Bytes truncated = frame(good, Bytes(8));
  truncated.resize(truncated.size() - 4);
  inject(truncated);
  EXPECT_EQ(counter("Ip6InTruncatedPkts"), 1u);
  Bytes short_header = frame(good, {});
  short_header.resize(wire::EthernetRepr::kHeaderLen + 39);
  inject(short_header);
  Bytes v4 = frame(good, {});
  v4[14] = std::byte{0x45};
  inject(v4);
  auto jumbo = good;
  jumbo.next_header = wire::IpProtocol::hop_by_hop;
  inject(frame(jumbo, {}));
  EXPECT_EQ(counter("Ip6InHdrErrors"), 3u);
  EXPECT_EQ(counter("Ip6InReceives"), receives + 4);
  EXPECT_EQ(eth0_->pending(), 0u);
}

TEST_F(Ipv6InputTest, ForbiddenAddressesAreHeaderErrors) {
  auto with = [&](Ipv6Address src, Ipv6Address dst) {
    return frame({.src = src, .dst = dst, .next_header = wire::IpProtocol::ipv6_none}, {});
  };
  inject(with(v6("ff02::1"), kLocal));                // multicast source
  inject(with(Ipv6Address::loopback(), kLocal));      // ::1 off the loopback
  inject(with(kPeer, Ipv6Address::loopback()));
  inject(with(kPeer, v6("ff00::1")));                 // multicast scope 0
  inject(with(kPeer, v6("ff01::1")));                 // interface-local, off the loopback
  EXPECT_EQ(counter("Ip6InHdrErrors"), 5u);
  EXPECT_EQ(counter("Ip6InDelivers"), 0u);
  EXPECT_EQ(eth0_->pending(), 0u);
}

// Linux took back ip6_rcv_core's refusal of v4-mapped sources: only
// a TCP SYN from one is refused (tcp_test's), the rest is delivered.
TEST_F(Ipv6InputTest, AV4MappedSourceIsDelivered) {
  inject(frame({.src = v6("::ffff:192.0.2.1"), .dst = kLocal, .next_header = wire::IpProtocol::ipv6_none}, {}));
  EXPECT_EQ(counter("Ip6InHdrErrors"), 0u);
  EXPECT_EQ(counter("Ip6InDelivers"), 1u);
}

TEST_F(Ipv6InputTest, NotOursIsAnAddressErrorWithoutForwarding) {
  inject(frame({.src = kPeer, .dst = v6("2001:db8:99::1"), .next_header = wire::IpProtocol::ipv6_none}, {}));
  EXPECT_EQ(counter("Ip6InAddrErrors"), 1u);
  // A group we have not joined: freed without a counter, as ip6_mc_input.
  inject(frame({.src = kPeer, .dst = v6("ff02::1:ff00:77"), .next_header = wire::IpProtocol::ipv6_none}, {}));
  EXPECT_EQ(counter("Ip6InMcastPkts"), 1u);
  EXPECT_EQ(counter("Ip6InDiscards") + counter("Ip6InDelivers"), 0u);
  // Ours, and all-nodes: delivered (no next header).
  inject(frame({.src = kPeer, .dst = kLocal, .next_header = wire::IpProtocol::ipv6_none}, {}));
  inject(frame({.src = kPeer, .dst = v6("ff02::1"), .next_header = wire::IpProtocol::ipv6_none}, {}));
  inject(frame({.src = kPeer, .dst = kLocal.solicited_node(), .next_header = wire::IpProtocol::ipv6_none}, {}));
  EXPECT_EQ(counter("Ip6InDelivers"), 3u);
  EXPECT_EQ(other_->counters().get("Ip6InReceives"), 0u);
}

TEST_F(Ipv6InputTest, EcnAndOctetsAreCounted) {
  inject(frame({.src = kPeer, .dst = kLocal, .next_header = wire::IpProtocol::ipv6_none, .traffic_class = 3}, {}));
  inject(frame({.src = kPeer, .dst = kLocal, .next_header = wire::IpProtocol::ipv6_none}, Bytes(10)));
  EXPECT_EQ(counter("Ip6InCEPkts"), 1u);
  EXPECT_EQ(counter("Ip6InNoECTPkts"), 1u);
  EXPECT_EQ(counter("Ip6InOctets"), 40u + 50u);
}

}  // namespace ipv6_input_test
}  // namespace
}  // namespace netns

namespace netns {
namespace {
namespace ipv6_input_test {

TEST_F(Ipv6InputTest, PacketTooBigLowersThePathMtuForAWhile) {
  const Ipv6Address far = v6("2001:db8:77::9");
  ASSERT_TRUE(ipv6::add_route(*net_, {.prefix = Ipv6Prefix(v6("2001:db8:77::"), 48), .via = kPeer}));
  EXPECT_EQ(*ipv6::path_mtu(*net_, far), 1500u);
  // An ICMPv6 Packet Too Big from a router, quoting a datagram we sent to `far`.
  auto ptb = [&](std::uint32_t mtu, Ipv6Address quoted_src) {
    Bytes message(8 + 40 + 8);
    wire::store_u8(message, 0, 2);
    wire::store_be32(message, 4, mtu);
    wire::Ipv6Repr{.src = quoted_src, .dst = far, .next_header = wire::IpProtocol::udp, .payload_len = 1452}
        .emit(std::span(message).subspan(8));
    const Ipv6Address router = v6("2001:db8::2");
    wire::store_be16(message, 2, wire::ipv6_transport_checksum(router, kLocal, 58, message));
    return frame({.src = router, .dst = kLocal, .next_header = wire::IpProtocol::icmpv6}, message);
  };
  inject(ptb(1400, v6("2001:db8::5")));  // not a datagram of ours: ignored
  EXPECT_EQ(*ipv6::path_mtu(*net_, far), 1500u);
  inject(ptb(1400, kLocal));
  EXPECT_EQ(counter("Icmp6InPktTooBigs"), 2u);
  EXPECT_EQ(*ipv6::path_mtu(*net_, far), 1400u);
  inject(ptb(600, kLocal));  // below the minimum: 1280 (RFC 8200 5)
  EXPECT_EQ(*ipv6::path_mtu(*net_, far), 1280u);
  EXPECT_EQ(*ipv6::path_mtu(*net_, v6("2001:db8:77::10")), 1500u);  // per destination
  run_for(std::chrono::seconds(601));  // net.ipv6.route.mtu_expires
  EXPECT_EQ(*ipv6::path_mtu(*net_, far), 1500u);
}

}  // namespace ipv6_input_test
}  // namespace
}  // namespace netns

namespace netns {
namespace {
namespace ipv6_input_test {

// ICMPv6 errors take from the namespace's icmp_msgs_per_sec/burst bucket,
// and the global limit is counted in the ICMP MIB, as Linux counts it.
TEST_F(Ipv6InputTest, ErrorsAreRateLimitedByTheNamespaceBucket) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.icmp_msgs_burst", "1"));
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.icmp_msgs_per_sec", "1"));
  const wire::Ipv6Repr unknown{.src = kPeer, .dst = kLocal, .next_header = wire::IpProtocol{253}};
  inject(frame(unknown, Bytes(8)));
  inject(frame(unknown, Bytes(8)));
  EXPECT_EQ(counter("Ip6InUnknownProtos"), 2u);
  EXPECT_EQ(counter("Icmp6OutParmProblems"), 1u);
  EXPECT_EQ(counter("IcmpOutRateLimitGlobal"), 1u);
  run_for(std::chrono::seconds(2));  // a token again
  inject(frame(unknown, Bytes(8)));
  EXPECT_EQ(counter("Icmp6OutParmProblems"), 2u);
}

// net.ipv6.icmp.ratemask (icmpv6_mask_allow): only the types in the mask
// take from the namespace's credit and the destination's limit.
TEST_F(Ipv6InputTest, RatemaskChoosesTheTypesLimited) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.icmp_msgs_burst", "1"));
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.icmp_msgs_per_sec", "1"));
  const wire::Ipv6Repr unknown{.src = kPeer, .dst = kLocal, .next_header = wire::IpProtocol{253}};
  ASSERT_TRUE(net_->sysctl().set("net.ipv6.icmp.ratemask", "0-3,5-127"));  // all but parameter problem
  for (int i = 0; i < 8; ++i) inject(frame(unknown, Bytes(8)));
  EXPECT_EQ(counter("Icmp6OutParmProblems"), 8u);
  EXPECT_EQ(counter("IcmpOutRateLimitGlobal") + counter("Icmp6OutRateLimitHost"), 0u);
  ASSERT_TRUE(net_->sysctl().set("net.ipv6.icmp.ratemask", "4"));  // parameter problem alone
  for (int i = 0; i < 8; ++i) inject(frame(unknown, Bytes(8)));
  EXPECT_EQ(counter("Icmp6OutParmProblems"), 9u);
  EXPECT_EQ(counter("IcmpOutRateLimitGlobal"), 7u);
}

}  // namespace ipv6_input_test
}  // namespace
}  // namespace netns
