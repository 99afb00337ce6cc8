// The IPv4 layer seen from the wire: frames injected through channel devices,
// and exactly what the stack answers.
#include <gtest/gtest.h>

#include <cctype>
#include <functional>

#include "netns/host.hpp"
#include "netns/ipv4.hpp"
#include "netns/udp.hpp"
#include "support/fixtures.hpp"
#include "support/ipv4_frames.hpp"

namespace netns {
namespace {
namespace ipv4_stack_test {

using support::Parsed;
using wire::IcmpType;

const MacAddress kPeerMac{0x02, 0, 0, 0, 0, 0x02};
const Ipv4Address kLocal(192, 0, 2, 1);
const Ipv4Address kPeer(192, 0, 2, 2);
const Ipv4Address kFar(198, 51, 100, 2);

Ipv4Prefix prefix(std::string_view text) { return Ipv4Prefix::parse(text).value(); }

// One namespace with a channel device eth0 at 192.0.2.1/24, up, and lo up.
class ChannelStack : public ::testing::Test {
 protected:
  void SetUp() override {
    net_ = host_.create_net("a").value();
    eth0_ = make_channel(*net_, "eth0").value();
    ASSERT_TRUE(set_link_up(*eth0_));
    ASSERT_TRUE(set_link_up(net_->loopback()));
    ASSERT_TRUE(ipv4::add_address(*net_, *eth0_, prefix("192.0.2.1/24")));
  }

  void inject(const support::Bytes& frame, ChannelDevice* dev = nullptr) {
    (dev ? dev : eth0_)->inject(frame);
    host_.poll(clock_.now());
  }
  std::vector<Parsed> sent(ChannelDevice* dev = nullptr) {
    std::vector<Parsed> out;
    while (auto f = (dev ? dev : eth0_)->read()) {
      // IPv6's own frames (DAD when eth0 came up) are not what these tests look at.
      if (wire::load_be16(*f, 12) == static_cast<std::uint16_t>(wire::EtherType::ipv6)) continue;
      out.push_back(support::parse_frame(*f));
    }
    return out;
  }
  std::uint64_t counter(std::string_view name) { return net_->counters().get(name); }
  void learn_peer() { ASSERT_TRUE(ipv4::add_neighbour(*net_, *eth0_, kPeer, kPeerMac)); }

  std::vector<std::string> messages_;
  VirtualClock clock_;
  Host host_{support::test_config(&messages_)};
  NetRef net_;
  ChannelDevice* eth0_ = nullptr;
};

TEST_F(ChannelStack, AnswersArpRequestsForItsAddress) {
  inject(support::arp_frame(wire::ArpOperation::request, kPeerMac, kPeer, {}, kLocal, MacAddress::broadcast()));
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].arp);
  EXPECT_EQ(out[0].eth.dst, kPeerMac);
  EXPECT_EQ(out[0].arp->operation, wire::ArpOperation::reply);
  EXPECT_EQ(out[0].arp->sender_ip, kLocal);
  EXPECT_EQ(out[0].arp->sender_mac, eth0_->mac());
  EXPECT_EQ(out[0].arp->target_ip, kPeer);
  auto neigh = ipv4::neighbours(*net_);
  ASSERT_EQ(neigh.size(), 1u);
  EXPECT_EQ(neigh[0].mac, kPeerMac);
  EXPECT_EQ(neigh[0].state, ipv4::NeighbourState::stale);
}

TEST_F(ChannelStack, IgnoresArpForOtherAddressesAndLearnsNothing) {
  inject(support::arp_frame(wire::ArpOperation::request, kPeerMac, kPeer, {}, Ipv4Address(192, 0, 2, 9),
                            MacAddress::broadcast()));
  EXPECT_TRUE(sent().empty());
  EXPECT_TRUE(ipv4::neighbours(*net_).empty());
}

TEST_F(ChannelStack, RepliesToEchoWithTheSamePayload) {
  learn_peer();
  inject(support::echo_request_frame(eth0_->mac(), kPeerMac, kPeer, kLocal, 77, 3, 56));
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].icmp);
  EXPECT_EQ(out[0].icmp->type, IcmpType::echo_reply);
  EXPECT_EQ(out[0].echo_id, 77);
  EXPECT_EQ(out[0].echo_seq, 3);
  EXPECT_EQ(out[0].ip->src, kLocal);
  EXPECT_EQ(out[0].ip->dst, kPeer);
  EXPECT_EQ(out[0].eth.dst, kPeerMac);
  ASSERT_EQ(out[0].l4_payload.size(), 56u);
  for (std::size_t i = 0; i < 56; ++i) EXPECT_EQ(out[0].l4_payload[i], std::byte(i + 8));
  EXPECT_EQ(counter("IcmpInEchos"), 1u);
  EXPECT_EQ(counter("IcmpOutEchoReps"), 1u);
  EXPECT_EQ(counter("IpInReceives"), 1u);
  EXPECT_EQ(counter("IpInDelivers"), 1u);
}

TEST_F(ChannelStack, EchoIgnoreAllSilencesReplies) {
  learn_peer();
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.icmp_echo_ignore_all", "1"));
  inject(support::echo_request_frame(eth0_->mac(), kPeerMac, kPeer, kLocal, 1, 1, 8));
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(counter("IcmpInEchos"), 1u);
}

TEST_F(ChannelStack, ResolvesTheSenderBeforeReplying) {
  inject(support::echo_request_frame(eth0_->mac(), kPeerMac, kPeer, kLocal, 5, 1, 16));
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);  // an ARP request; the reply waits for the answer
  ASSERT_TRUE(out[0].arp);
  EXPECT_EQ(out[0].arp->operation, wire::ArpOperation::request);
  EXPECT_EQ(out[0].arp->target_ip, kPeer);
  EXPECT_EQ(out[0].eth.dst, MacAddress::broadcast());
  inject(support::arp_frame(wire::ArpOperation::reply, kPeerMac, kPeer, eth0_->mac(), kLocal, eth0_->mac()));
  out = sent();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].icmp);
  EXPECT_EQ(out[0].icmp->type, IcmpType::echo_reply);
  EXPECT_EQ(ipv4::neighbours(*net_).at(0).state, ipv4::NeighbourState::reachable);
}

// Output to a known neighbour reads its memo slot, which keeps a copy of
// the entry's MAC while its state sends at once: each change of state or
// MAC must reach that copy. Reachable, then stale after base_reachable_time
// (30 s, at most 1.5 times that): the next datagram is sent at once and
// starts DELAY, which 5 s later probes by unicast.
TEST_F(ChannelStack, ANeighbourGoneStaleIsUsedOnceThenProbedByUnicast) {
  inject(support::echo_request_frame(eth0_->mac(), kPeerMac, kPeer, kLocal, 5, 1, 16));
  inject(support::arp_frame(wire::ArpOperation::reply, kPeerMac, kPeer, eth0_->mac(), kLocal, eth0_->mac()));
  ASSERT_EQ(sent().size(), 2u);  // the request, then the reply that waited
  clock_.advance(std::chrono::seconds(46));
  host_.poll(clock_.now());
  EXPECT_EQ(ipv4::neighbours(*net_).at(0).state, ipv4::NeighbourState::stale);
  inject(support::echo_request_frame(eth0_->mac(), kPeerMac, kPeer, kLocal, 5, 2, 16));
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].icmp);
  EXPECT_EQ(ipv4::neighbours(*net_).at(0).state, ipv4::NeighbourState::delay);
  clock_.advance(std::chrono::seconds(5));
  host_.poll(clock_.now());
  out = sent();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].arp);
  EXPECT_EQ(out[0].eth.dst, kPeerMac);
  EXPECT_EQ(ipv4::neighbours(*net_).at(0).state, ipv4::NeighbourState::probe);
}

// ip neigh replace with another MAC: the next datagram goes there.
TEST_F(ChannelStack, ANeighbourReplacedWithAnotherMacGetsTheNextDatagram) {
  const MacAddress moved{0x02, 0, 0, 0, 0, 0x22};
  learn_peer();
  inject(support::echo_request_frame(eth0_->mac(), kPeerMac, kPeer, kLocal, 5, 1, 16));
  ASSERT_TRUE(ipv4::add_neighbour(*net_, *eth0_, kPeer, moved));
  inject(support::echo_request_frame(eth0_->mac(), kPeerMac, kPeer, kLocal, 5, 2, 16));
  auto out = sent();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].eth.dst, kPeerMac);
  EXPECT_EQ(out[1].eth.dst, moved);
}

TEST_F(ChannelStack, ArpRetriesThenGivesUp) {
  inject(support::echo_request_frame(eth0_->mac(), kPeerMac, kPeer, kLocal, 5, 1, 16));
  for (int i = 0; i < 10; ++i) {
    clock_.advance(std::chrono::seconds(1));
    host_.poll(clock_.now());
  }
  auto out = sent();
  ASSERT_EQ(out.size(), 3u);  // mcast_solicit requests, then failure
  for (auto& p : out) EXPECT_TRUE(p.arp);
  EXPECT_TRUE(ipv4::neighbours(*net_).empty());
}

TEST_F(ChannelStack, MalformedFramesAreCountedAndDropped) {
  learn_peer();
  auto good = support::echo_request_frame(eth0_->mac(), kPeerMac, kPeer, kLocal, 1, 1, 8);
  auto truncated = good;
  truncated.resize(14 + 10);  // half an IP header
  inject(truncated);
  auto bad_version = good;
  bad_version[14] = std::byte{0x65};
  inject(bad_version);
  auto bad_checksum = good;
  bad_checksum[14 + 10] ^= std::byte{0xff};
  inject(bad_checksum);
  auto short_total = good;
  short_total.resize(good.size() - 4);  // total_length promises more than arrived
  inject(short_total);
  auto bad_icmp = good;
  bad_icmp.back() ^= std::byte{0x01};
  inject(bad_icmp);
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(counter("IpInHdrErrors"), 3u);
  EXPECT_EQ(counter("IpExtInCsumErrors"), 1u);
  EXPECT_EQ(counter("IpExtInTruncatedPkts"), 1u);
  EXPECT_EQ(counter("IcmpInCsumErrors"), 1u);
  EXPECT_EQ(counter("IcmpInEchos"), 0u);
}

// Every way a frame can be malformed, one injected at a time: dropped, counted
// under its own name, nothing sent back.
struct Malformation {
  const char* name;
  std::function<void(support::Bytes&)> damage;
  // nstat name, "rx_errors" for the device's count, or "in_martian_src" for
  // the input route's (Linux counts martians in /proc/net/stat/rt_cache only)
  const char* counter;
};

class MalformedFrames : public ChannelStack, public ::testing::WithParamInterface<Malformation> {};

TEST_P(MalformedFrames, AreDroppedAndCounted) {
  learn_peer();
  const Malformation& m = GetParam();
  support::Bytes frame = std::string_view(m.counter) == "rx_errors"
                             ? support::arp_frame(wire::ArpOperation::request, kPeerMac, kPeer, {}, kLocal,
                                                  MacAddress::broadcast())
                             : support::udp_frame(eth0_->mac(), kPeerMac, kPeer, kLocal, 1000, 2000, 16);
  m.damage(frame);
  inject(frame);
  EXPECT_TRUE(sent().empty()) << m.name;
  const std::string_view name = m.counter;
  std::uint64_t count = name == "rx_errors"        ? eth0_->stats().rx_errors
                        : name == "in_martian_src" ? ipv4::route_cache_stats(*net_).in_martian_src
                                                   : counter(name);
  EXPECT_EQ(count, 1u) << m.name << " not counted as " << m.counter;
}

constexpr std::size_t kIp = 14, kUdp = 14 + 20;

INSTANTIATE_TEST_SUITE_P(
    EveryCase, MalformedFrames,
    ::testing::Values(
        Malformation{"ip header cut short", [](auto& f) { f.resize(kIp + 12); }, "IpInHdrErrors"},
        Malformation{"version 6 in an IPv4 frame", [](auto& f) { f[kIp] = std::byte{0x65}; }, "IpInHdrErrors"},
        Malformation{"IHL below 5", [](auto& f) { f[kIp] = std::byte{0x44}; }, "IpInHdrErrors"},
        Malformation{"IHL past the buffer", [](auto& f) { f[kIp] = std::byte{0x4f}; f.resize(kIp + 40); },
                     "IpInHdrErrors"},
        Malformation{"total length below the header", [](auto& f) { f[kIp + 2] = std::byte{0}; f[kIp + 3] = std::byte{10}; },
                     "IpInHdrErrors"},
        Malformation{"total length past the frame", [](auto& f) { f.resize(f.size() - 6); }, "IpExtInTruncatedPkts"},
        Malformation{"header checksum", [](auto& f) { f[kIp + 11] ^= std::byte{1}; }, "IpExtInCsumErrors"},
        Malformation{"ping of death offset", [](auto& f) {
                       f[kIp + 6] = std::byte{0x1f}, f[kIp + 7] = std::byte{0xff};  // offset 65528
                       auto ip = wire::Ipv4MutView::checked(std::span(f).subspan(kIp));
                       ip->fill_checksum();
                     }, "IpInHdrErrors"},
        Malformation{"martian broadcast source", [](auto& f) {
                       auto ip = wire::Ipv4MutView::checked(std::span(f).subspan(kIp));
                       ip->set_src(Ipv4Address::broadcast());
                       ip->fill_checksum();
                     }, "in_martian_src"},
        Malformation{"udp length below 8", [](auto& f) { f[kUdp + 4] = std::byte{0}; f[kUdp + 5] = std::byte{4}; },
                     "UdpInErrors"},
        Malformation{"udp length past the datagram", [](auto& f) { f[kUdp + 4] = std::byte{0x10}; },
                     "UdpInErrors"},
        Malformation{"udp checksum", [](auto& f) { f.back() ^= std::byte{1}; }, "UdpInCsumErrors"},
        Malformation{"arp cut short", [](auto& f) { f.resize(14 + 20); }, "rx_errors"},
        Malformation{"arp hardware type", [](auto& f) { f[15] = std::byte{6}; }, "rx_errors"},
        Malformation{"arp operation 9", [](auto& f) { f[14 + 7] = std::byte{9}; }, "rx_errors"}),
    [](const ::testing::TestParamInfo<Malformation>& info) {
      std::string name = info.param.name;
      for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

TEST_F(ChannelStack, RandomGarbageNeverCrashes) {
  learn_peer();
  std::uint64_t x = 88172645463325252ull;
  for (int n = 0; n < 2000; ++n) {
    auto frame = support::echo_request_frame(eth0_->mac(), kPeerMac, kPeer, kLocal, 1, 1, 40);
    for (int k = 0; k < 4; ++k) {  // flip a few bytes after the Ethernet header
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      frame[14 + x % (frame.size() - 14)] = std::byte(x >> 32);
    }
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    frame.resize(14 + x % (frame.size() - 13));
    eth0_->inject(frame);
    if (n % 500 == 499) host_.poll(clock_.now());  // stay inside the backlog
  }
  host_.poll(clock_.now());
  sent();
  EXPECT_EQ(counter("IpInReceives"), 2000u);
}

TEST_F(ChannelStack, UnknownProtocolGetsProtocolUnreachable) {
  learn_peer();
  support::Bytes payload(8);
  inject(support::ipv4_frame(eth0_->mac(), kPeerMac,
                             {.src = kPeer, .dst = kLocal, .protocol = wire::IpProtocol{99}}, payload));
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].icmp);
  EXPECT_EQ(out[0].icmp->type, IcmpType::dest_unreachable);
  EXPECT_EQ(out[0].icmp->code, static_cast<std::uint8_t>(wire::IcmpUnreachable::protocol));
  EXPECT_EQ(counter("IpInUnknownProtos"), 1u);
}

TEST_F(ChannelStack, LoopbackGetsItsAddressWhenUp) {
  auto addrs = ipv4::addresses(*net_);
  ASSERT_EQ(addrs.size(), 2u);
  EXPECT_EQ(addrs[0].dev, &net_->loopback());  // lo came up before eth0 got its address
  EXPECT_EQ(addrs[0].prefix, prefix("127.0.0.1/8"));
  auto r = ipv4::route_output(*net_, Ipv4Address(127, 0, 0, 1));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->dev, &net_->loopback());
  r = ipv4::route_output(*net_, kLocal);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->dev, &net_->loopback());
  EXPECT_EQ(r->source, kLocal);
}

TEST_F(ChannelStack, AddressErrorsChangeNothing) {
  EXPECT_EQ(ipv4::add_address(*net_, *eth0_, prefix("192.0.2.1/24")).error(), error(Errc::file_exists));
  EXPECT_EQ(ipv4::del_address(*net_, *eth0_, prefix("192.0.2.7/24")).error(),
            error(Errc::address_not_available));
  EXPECT_EQ(ipv4::add_address(*net_, *eth0_, prefix("224.0.0.1/24")).error(), error(Errc::invalid_argument));
  auto other = host_.create_net().value();
  EXPECT_EQ(ipv4::add_address(*other, *eth0_, prefix("10.0.0.1/8")).error(), error(Errc::no_such_device));
  EXPECT_EQ(ipv4::addresses(*net_).size(), 2u);
  EXPECT_FALSE(Ipv4Prefix::parse("10.0.0.1/33"));
}

TEST_F(ChannelStack, RoutesAndTheirErrors) {
  using ipv4::RouteType;
  EXPECT_EQ(ipv4::add_route(*net_, {.prefix = prefix("0.0.0.0/0"), .via = Ipv4Address(10, 9, 9, 9)}).error(),
            error(Errc::network_unreachable));  // gateway not on a connected network
  ASSERT_TRUE(ipv4::add_route(*net_, {.prefix = prefix("0.0.0.0/0"), .via = kPeer}));
  EXPECT_EQ(ipv4::add_route(*net_, {.prefix = prefix("0.0.0.0/0"), .via = kPeer}).error(),
            error(Errc::file_exists));
  ASSERT_TRUE(ipv4::add_route(*net_, {.prefix = prefix("203.0.113.0/24"), .type = RouteType::blackhole}));
  ASSERT_TRUE(ipv4::add_route(*net_, {.prefix = prefix("203.0.113.128/25"), .type = RouteType::unreachable}));
  ASSERT_TRUE(ipv4::add_route(*net_, {.prefix = prefix("203.0.113.64/26"), .type = RouteType::prohibit}));

  auto r = ipv4::route_output(*net_, kFar);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->dev, eth0_);
  EXPECT_EQ(r->next_hop, kPeer);
  EXPECT_EQ(r->source, kLocal);
  EXPECT_EQ(ipv4::route_output(*net_, Ipv4Address(203, 0, 113, 1)).error(), error(Errc::invalid_argument));
  EXPECT_EQ(ipv4::route_output(*net_, Ipv4Address(203, 0, 113, 200)).error(), error(Errc::host_unreachable));
  EXPECT_EQ(ipv4::route_output(*net_, Ipv4Address(203, 0, 113, 70)).error(), error(Errc::permission_denied));

  std::string routes = ipv4::dump_routes(*net_);
  EXPECT_NE(routes.find("default via 192.0.2.2 dev eth0\n"), std::string::npos) << routes;
  EXPECT_NE(routes.find("192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.1\n"), std::string::npos)
      << routes;
  EXPECT_NE(routes.find("blackhole 203.0.113.0/24\n"), std::string::npos) << routes;

  ASSERT_TRUE(ipv4::del_route(*net_, {.prefix = prefix("0.0.0.0/0")}));
  EXPECT_EQ(ipv4::del_route(*net_, {.prefix = prefix("0.0.0.0/0")}).error(), error(Errc::no_such_process));
  EXPECT_EQ(ipv4::route_output(*net_, kFar).error(), error(Errc::network_unreachable));
}

TEST_F(ChannelStack, LinkDownRemovesItsRoutesAndUpRestoresConnected) {
  ASSERT_TRUE(ipv4::add_route(*net_, {.prefix = prefix("0.0.0.0/0"), .via = kPeer}));
  ASSERT_TRUE(set_link_up(*eth0_, false));
  EXPECT_EQ(ipv4::route_output(*net_, kPeer).error(), error(Errc::network_unreachable));
  ASSERT_TRUE(set_link_up(*eth0_, true));
  EXPECT_TRUE(ipv4::route_output(*net_, kPeer));                                          // connected is back
  EXPECT_EQ(ipv4::route_output(*net_, kFar).error(), error(Errc::network_unreachable));  // static is gone
}

// An address is local while route_output sends to it through the loopback.
bool routes_to_loopback(Net& net, Ipv4Address a) {
  auto r = ipv4::route_output(net, a);
  return r && r->dev == &net.loopback();
}

// fib_inetaddr_event: a new address removes nothing; a deleted one takes its
// own kernel routes, and every route through the device only when it was the
// device's last address.
TEST_F(ChannelStack, AddressChangesKeepStaticRoutesThroughTheDevice) {
  ASSERT_TRUE(ipv4::add_route(*net_, {.prefix = prefix("0.0.0.0/0"), .via = kPeer}));
  ASSERT_TRUE(ipv4::add_route(*net_, {.prefix = prefix("203.0.113.0/24"), .dev = eth0_}));
  ASSERT_TRUE(ipv4::add_address(*net_, *eth0_, prefix("198.18.0.1/24")));
  ASSERT_TRUE(ipv4::del_address(*net_, *eth0_, prefix("198.18.0.1/24")));

  std::string routes = ipv4::dump_routes(*net_);
  EXPECT_NE(routes.find("default via 192.0.2.2 dev eth0\n"), std::string::npos) << routes;
  EXPECT_NE(routes.find("203.0.113.0/24 dev eth0"), std::string::npos) << routes;
  EXPECT_EQ(routes.find("198.18.0.0/24"), std::string::npos) << routes;
  EXPECT_FALSE(routes_to_loopback(*net_, Ipv4Address(198, 18, 0, 1)));
  EXPECT_TRUE(ipv4::route_output(*net_, kFar));

  ASSERT_TRUE(ipv4::del_address(*net_, *eth0_, prefix("192.0.2.1/24")));  // the last one
  EXPECT_EQ(ipv4::dump_routes(*net_).find("eth0"), std::string::npos) << ipv4::dump_routes(*net_);
  EXPECT_EQ(ipv4::route_output(*net_, kFar).error(), error(Errc::network_unreachable));
}

TEST_F(ChannelStack, ASubnetRouteSharedByTwoAddressesOutlivesTheFirst) {
  ASSERT_TRUE(ipv4::add_address(*net_, *eth0_, prefix("192.0.2.9/24")));
  ASSERT_TRUE(ipv4::del_address(*net_, *eth0_, prefix("192.0.2.1/24")));
  std::string routes = ipv4::dump_routes(*net_);
  EXPECT_NE(routes.find("192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.9\n"), std::string::npos)
      << routes;
  auto r = ipv4::route_output(*net_, kPeer);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->source, Ipv4Address(192, 0, 2, 9));
  EXPECT_TRUE(routes_to_loopback(*net_, Ipv4Address(192, 0, 2, 9)));
  EXPECT_FALSE(routes_to_loopback(*net_, kLocal));
}

TEST_F(ChannelStack, AnAddressHeldTwiceStaysLocalWhenOneGoes) {
  ChannelDevice* eth1 = make_channel(*net_, "eth1").value();
  ASSERT_TRUE(set_link_up(*eth1));
  ASSERT_TRUE(ipv4::add_address(*net_, *eth1, prefix("192.0.2.1/32")));
  ASSERT_TRUE(ipv4::add_address(*net_, *eth1, prefix("198.18.0.1/24")));
  ASSERT_TRUE(ipv4::del_address(*net_, *eth0_, prefix("192.0.2.1/24")));
  EXPECT_TRUE(routes_to_loopback(*net_, kLocal));
  ASSERT_TRUE(ipv4::del_address(*net_, *eth1, prefix("192.0.2.1/32")));
  EXPECT_FALSE(routes_to_loopback(*net_, kLocal));
  EXPECT_TRUE(routes_to_loopback(*net_, Ipv4Address(198, 18, 0, 1)));
}

TEST_F(ChannelStack, DumpsAddressesAndNeighbours) {
  learn_peer();
  std::string addrs = ipv4::dump_addresses(*net_);
  EXPECT_NE(addrs.find("inet 192.0.2.1/24 brd 192.0.2.255 scope global eth0"), std::string::npos) << addrs;
  EXPECT_NE(addrs.find("inet 127.0.0.1/8 brd 127.255.255.255 scope host lo"), std::string::npos) << addrs;
  EXPECT_EQ(ipv4::dump_neighbours(*net_), "192.0.2.2 dev eth0 lladdr 02:00:00:00:00:02 PERMANENT\n");
}

TEST_F(ChannelStack, RouteCacheCountsHitsAndAChangeInvalidatesOnlyThisNamespace) {
  auto other = host_.create_net("b").value();
  ASSERT_TRUE(set_link_up(other->loopback()));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(ipv4::route_output(*net_, kPeer));
    ASSERT_TRUE(ipv4::route_output(*other, Ipv4Address(127, 0, 0, 1)));
  }
  auto a = ipv4::route_cache_stats(*net_);
  auto b = ipv4::route_cache_stats(*other);
  EXPECT_EQ(a.misses, 1u);
  EXPECT_EQ(a.hits, 2u);
  EXPECT_EQ(b.hits, 2u);
  ASSERT_TRUE(ipv4::add_route(*net_, {.prefix = prefix("198.51.100.0/24"), .via = kPeer}));
  ASSERT_TRUE(ipv4::route_output(*net_, kPeer));
  ASSERT_TRUE(ipv4::route_output(*other, Ipv4Address(127, 0, 0, 1)));
  EXPECT_EQ(ipv4::route_cache_stats(*net_).misses, 2u);   // invalidated
  EXPECT_EQ(ipv4::route_cache_stats(*other).hits, 3u);    // untouched
  EXPECT_EQ(ipv4::route_cache_stats(*other).misses, 1u);
}

TEST_F(ChannelStack, SocketRouteMemoFollowsRouteChanges) {
  learn_peer();
  ASSERT_TRUE(ipv4::add_route(*net_, {.prefix = prefix("0.0.0.0/0"), .via = kPeer}));
  auto sock = udp::open(*net_).value();
  std::array<std::byte, 4> data{};
  ASSERT_TRUE(sock.send_to(data, {kFar, 9}));
  ASSERT_TRUE(sock.send_to(data, {kFar, 9}));  // the remembered route
  host_.poll(clock_.now());
  EXPECT_EQ(sent().size(), 2u);
  // A more specific route appears: the very next datagram must take it.
  auto* eth1 = make_channel(*net_, "eth1").value();
  ASSERT_TRUE(set_link_up(*eth1));
  ASSERT_TRUE(ipv4::add_address(*net_, *eth1, prefix("198.51.100.1/24")));
  ASSERT_TRUE(ipv4::add_neighbour(*net_, *eth1, kFar, kPeerMac));
  ASSERT_TRUE(sock.send_to(data, {kFar, 9}));
  host_.poll(clock_.now());
  EXPECT_TRUE(sent().empty());
  auto out = sent(eth1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ip->src, Ipv4Address(198, 51, 100, 1));
  // And when its device goes away, sending fails over to the default route again.
  ASSERT_TRUE(destroy_device(*eth1));
  ASSERT_TRUE(sock.send_to(data, {kFar, 9}));
  host_.poll(clock_.now());
  EXPECT_EQ(sent().size(), 1u);
}

// A router namespace between two channel "wires".
class Router : public ChannelStack {
 protected:
  void SetUp() override {
    ChannelStack::SetUp();
    eth1_ = make_channel(*net_, "eth1").value();
    ASSERT_TRUE(set_link_up(*eth1_));
    ASSERT_TRUE(ipv4::add_address(*net_, *eth1_, prefix("198.51.100.1/24")));
    learn_peer();
    ASSERT_TRUE(ipv4::add_neighbour(*net_, *eth1_, kFar, kFarMac));
  }
  support::Bytes packet_to_far(std::uint8_t ttl = 64, std::size_t size = 100, bool df = false) {
    return support::udp_frame(eth0_->mac(), kPeerMac, kPeer, kFar, 4000, 5000, size, ttl, df);
  }
  const MacAddress kFarMac{0x02, 0, 0, 0, 0, 0x03};
  ChannelDevice* eth1_ = nullptr;
};

// Linux's ip_error without forwarding counts InAddrErrors and answers
// nothing (martian_test.cpp and linux_parity_test.cpp check the same).
TEST_F(Router, RefusesToForwardWhenForwardingIsOffAndSaysNothing) {
  inject(packet_to_far());
  EXPECT_TRUE(sent(eth1_).empty());
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(counter("IpInAddrErrors"), 1u);
  EXPECT_EQ(counter("IpForwDatagrams"), 0u);
}

TEST_F(Router, ForwardsWithoutCopyingAndDecrementsTtl) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.ip_forward", "1"));
  inject(packet_to_far(64, 100));
  auto out = sent(eth1_);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].ip) << "bad header checksum after the TTL update";
  EXPECT_EQ(out[0].ip->ttl, 63);
  EXPECT_EQ(out[0].eth.dst, kFarMac);
  EXPECT_EQ(out[0].eth.src, eth1_->mac());
  ASSERT_TRUE(out[0].udp) << "the UDP checksum still holds";
  EXPECT_EQ(counter("IpForwDatagrams"), 1u);
  EXPECT_EQ(host_.stats().packet_copies, 0u);
}

TEST_F(Router, TtlExpiryAnswersTimeExceeded) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.ip_forward", "1"));
  inject(packet_to_far(1));
  EXPECT_TRUE(sent(eth1_).empty());
  auto back = sent();
  ASSERT_EQ(back.size(), 1u);
  ASSERT_TRUE(back[0].icmp);
  EXPECT_EQ(back[0].icmp->type, IcmpType::time_exceeded);
  EXPECT_EQ(back[0].ip->src, kLocal);
  EXPECT_EQ(counter("IcmpOutTimeExcds"), 1u);
  // The quote starts with the offending IP header.
  auto quoted = wire::Ipv4View::checked_quoted(back[0].quoted);
  ASSERT_TRUE(quoted);
  EXPECT_EQ(quoted->dst(), kFar);
}

TEST_F(Router, NoRouteAnswersNetUnreachable) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.ip_forward", "1"));
  inject(support::udp_frame(eth0_->mac(), kPeerMac, kPeer, Ipv4Address(203, 0, 113, 5), 1, 2, 10));
  auto back = sent();
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].icmp->code, static_cast<std::uint8_t>(wire::IcmpUnreachable::net));
  EXPECT_EQ(counter("IpExtInNoRoutes"), 1u);
}

TEST_F(Router, DontFragmentTooBigAnswersFragNeeded) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.ip_forward", "1"));
  ASSERT_TRUE(eth1_->set_mtu(1000));
  inject(packet_to_far(64, 1200, true));
  EXPECT_TRUE(sent(eth1_).empty());
  auto back = sent();
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].icmp->code, static_cast<std::uint8_t>(wire::IcmpUnreachable::frag_needed));
  EXPECT_EQ(back[0].icmp->rest_of_header & 0xffff, 1000u);
  EXPECT_EQ(counter("IpFragFails"), 1u);
}

TEST_F(Router, FragmentsWhenAllowed) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.ip_forward", "1"));
  ASSERT_TRUE(eth1_->set_mtu(576));
  inject(packet_to_far(64, 1400, false));
  auto out = sent(eth1_);
  ASSERT_EQ(out.size(), 3u);
  for (auto& f : out) {
    ASSERT_TRUE(f.ip);
    EXPECT_LE(f.ip->payload_len + 20, 576u);
  }
  EXPECT_EQ(counter("IpFragOKs"), 1u);
  EXPECT_EQ(counter("IpFragCreates"), 3u);
}

// A datagram to forward skips the local table when the local filter rules
// it out (Ipv4Net::local_filter). What the local table holds must still
// win: a subnet's broadcast, and a whole network given to the loopback
// (Linux's AnyIP), which the filter cannot list address by address.
TEST_F(Router, TheSubnetBroadcastIsReceivedNotForwarded) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.ip_forward", "1"));
  inject(support::udp_frame(eth0_->mac(), kPeerMac, kPeer, Ipv4Address(198, 51, 100, 255), 4000, 5000, 40));
  EXPECT_TRUE(sent(eth1_).empty());
  EXPECT_EQ(counter("IpExtInBcastPkts"), 1u);
  EXPECT_EQ(counter("IpForwDatagrams"), 0u);
}

TEST_F(Router, ANetworkOnTheLoopbackIsLocalToFramesFromAnyDevice) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.ip_forward", "1"));
  const Ipv4Address any(203, 0, 113, 77);
  ASSERT_TRUE(ipv4::add_route(*net_, {.prefix = prefix("203.0.113.0/24"), .via = kFar}));
  ASSERT_TRUE(ipv4::add_address(*net_, net_->loopback(), prefix("203.0.113.1/24")));
  inject(support::echo_request_frame(eth0_->mac(), kPeerMac, kPeer, any, 9, 1, 8));
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].icmp);
  EXPECT_EQ(out[0].icmp->type, IcmpType::echo_reply);
  EXPECT_EQ(out[0].ip->src, any);
  EXPECT_TRUE(sent(eth1_).empty());

  // Without the address the network is another's again: forwarded.
  ASSERT_TRUE(ipv4::del_address(*net_, net_->loopback(), prefix("203.0.113.1/24")));
  inject(support::echo_request_frame(eth0_->mac(), kPeerMac, kPeer, any, 9, 2, 8));
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(sent(eth1_).size(), 1u);
  EXPECT_EQ(counter("IpForwDatagrams"), 1u);
}

// Enough addresses to fill the filter's 64 bits: each is still delivered,
// and a destination that is none of them is still forwarded.
TEST_F(Router, ManyAddressesAreEachLocalAndTheRestForwarded) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.ip_forward", "1"));
  for (std::uint8_t i = 10; i < 110; ++i) {
    ASSERT_TRUE(ipv4::add_address(*net_, *eth0_, Ipv4Prefix(Ipv4Address(192, 0, 2, i), 24)));
  }
  learn_peer();
  for (std::uint8_t i = 10; i < 110; ++i) {
    inject(support::echo_request_frame(eth0_->mac(), kPeerMac, kPeer, Ipv4Address(192, 0, 2, i), 9, i, 8));
  }
  EXPECT_EQ(sent().size(), 100u);
  EXPECT_EQ(counter("IcmpOutEchoReps"), 100u);
  inject(packet_to_far());
  EXPECT_EQ(sent(eth1_).size(), 1u);
}

// Identical addresses in a thousand namespaces: each answers only on its own wire.
TEST(ManyNamespaces, IdenticalAddressesNeverMeet) {
  Host host(support::test_config());
  VirtualClock clock;
  struct Tenant {
    NetRef net;
    ChannelDevice* eth0;
  };
  std::vector<Tenant> tenants;
  for (int i = 0; i < 1000; ++i) {
    Tenant t{host.create_net().value(), nullptr};
    t.eth0 = make_channel(*t.net, "eth0").value();
    ASSERT_TRUE(set_link_up(*t.eth0));
    ASSERT_TRUE(ipv4::add_address(*t.net, *t.eth0, prefix("192.0.2.1/24")));
    ASSERT_TRUE(ipv4::add_neighbour(*t.net, *t.eth0, kPeer, kPeerMac));
    tenants.push_back(t);
  }
  for (int i = 0; i < 1000; i += 2) {  // every other tenant is pinged, with its index as the id
    tenants[i].eth0->inject(support::echo_request_frame(tenants[i].eth0->mac(), kPeerMac, kPeer, kLocal,
                                                        static_cast<std::uint16_t>(i), 1, 8));
  }
  host.poll(clock.now());
  for (int i = 0; i < 1000; ++i) {
    auto f = tenants[i].eth0->read();
    if (i % 2 == 1) {
      EXPECT_FALSE(f) << "tenant " << i << " answered a ping it never got";
      continue;
    }
    ASSERT_TRUE(f) << "tenant " << i;
    auto p = support::parse_frame(*f);
    EXPECT_EQ(p.echo_id, i);
    EXPECT_EQ(p.eth.src, tenants[i].eth0->mac());
    EXPECT_EQ(tenants[i].net->counters().get("IcmpInEchos"), 1u);
  }
}

}  // namespace ipv4_stack_test
}  // namespace
}  // namespace netns

namespace netns {
namespace {
namespace ipv4_stack_test {

// DESIGN.md section 5: a flood of destinations in one namespace evicts only
// its own entries from the shared cache.
TEST(RouteCacheIsolation, FloodInOneNamespaceLeavesTheOtherIntact) {
  Host host(support::test_config());
  auto make = [&](const char* name) {
    NetRef net = host.create_net(name).value();
    auto* eth0 = make_channel(*net, "eth0").value();
    EXPECT_TRUE(set_link_up(*eth0));
    EXPECT_TRUE(ipv4::add_address(*net, *eth0, prefix("192.0.2.1/24")));
    EXPECT_TRUE(ipv4::add_route(*net, {.prefix = prefix("0.0.0.0/0"), .via = kPeer}));
    return net;
  };
  NetRef a = make("a"), b = make("b");
  ASSERT_TRUE(a->sysctl().set("net.ipv4.route.max_size", "4096"));
  for (std::uint32_t i = 0; i < 200; ++i) ASSERT_TRUE(ipv4::route_output(*b, Ipv4Address(0xc6336400u + i)));
  auto before = ipv4::route_cache_stats(*b);
  for (std::uint32_t i = 0; i < 1'000'000; ++i) {
    ASSERT_TRUE(ipv4::route_output(*a, Ipv4Address(0x0a000000u + i)));
  }
  auto flooded = ipv4::route_cache_stats(*a);
  EXPECT_LE(flooded.entries, 4096u);
  EXPECT_GE(flooded.evictions, 1'000'000u - 4096u);
  for (std::uint32_t i = 0; i < 200; ++i) ASSERT_TRUE(ipv4::route_output(*b, Ipv4Address(0xc6336400u + i)));
  auto after = ipv4::route_cache_stats(*b);
  EXPECT_EQ(after.entries, 200u);
  EXPECT_EQ(after.evictions, 0u);
  EXPECT_EQ(after.hits - before.hits, 200u);  // every one of B's lookups still hits
  EXPECT_EQ(after.misses, before.misses);
}

}  // namespace ipv4_stack_test
}  // namespace
}  // namespace netns
