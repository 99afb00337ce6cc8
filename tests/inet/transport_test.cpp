// The transport seam: a transport written on TransportOps, registered with
// the IPv4 layer through NetworkLayer for an unused protocol number, gets
// that number's datagrams and nothing else; a taken number is refused and
// leaves the owner in place.
#include "inet/transport_ops.hpp"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include "netns/ipv4.hpp"
#include "netns/wire/bytes.hpp"
#include "stack/builtins.hpp"
#include "support/fixtures.hpp"

namespace netns::inet {
namespace {
namespace inet_transport_test {

// RFC 3692: IP protocol 253 is for experimentation; netns gives it no transport.
constexpr auto kExperimental = wire::IpProtocol{253};

struct ProbeNet {
  explicit ProbeNet(Net&) {}
  std::vector<Ipv4Address> from;  // the source of every datagram delivered
};

class ProbeOps final : public TransportOps<ProbeOps, ProbeNet> {
 public:
  ProbeOps(Host& host, wire::IpProtocol protocol = kExperimental)
      : TransportOps(host, host.builtins().ipv4(), host.builtins().ipv6(), protocol) {}
  void deliver(Net& net, Packet, const ipv4::InputMeta& meta) override {
    if (ProbeNet* s = state(net)) s->from.push_back(meta.src);
  }
};

class TransportSeam : public support::AddressedTwoNets {
 protected:
  ipv4::Ipv4Stack& ip() { return host_.builtins().ipv4(); }

  // One datagram of `protocol` from blue to red, delivered. Its 8 bytes
  // are a valid UDP header (ports 1024 -> 9, no checksum) whatever the protocol.
  void send_to_red(wire::IpProtocol protocol) {
    auto route = ip().route_output(*blue_, kRed);
    ASSERT_TRUE(route) << route.error().message();
    Packet payload = host_.packets().allocate(8);
    const auto bytes = payload.mutable_data();
    std::fill(bytes.begin(), bytes.end(), std::byte{0});
    wire::store_be16(bytes, 0, 1024);
    wire::store_be16(bytes, 2, 9);
    wire::store_be16(bytes, 4, 8);
    ASSERT_TRUE(ip().send(*blue_, std::move(payload), {.src = route->source, .dst = kRed, .protocol = protocol},
                          *route));
    poll();
  }
};

TEST_F(TransportSeam, ARegisteredTransportGetsItsProtocolAndGivesItBackWhenDestroyed) {
  {
    ProbeOps probe(host_);
    ASSERT_TRUE(host_.register_pernet_subsys(probe));  // init on every namespace there
    send_to_red(kExperimental);
    ASSERT_NE(probe.state(*red_), nullptr);
    EXPECT_EQ(probe.state(*red_)->from, std::vector<Ipv4Address>{kBlue});
    EXPECT_TRUE(probe.state(*blue_)->from.empty());
    EXPECT_EQ(red_->counters().get("IpInUnknownProtos"), 0u);
    host_.unregister_pernet_subsys(probe);
    EXPECT_EQ(probe.state(*red_), nullptr);  // exit ran
  }
  // The number is free again: the next datagram has nobody (Linux's
  // IpInUnknownProtos, and a protocol unreachable back to blue).
  send_to_red(kExperimental);
  EXPECT_EQ(red_->counters().get("IpInUnknownProtos"), 1u);
  EXPECT_EQ(blue_->counters().get("IcmpInDestUnreachs"), 1u);
}

TEST_F(TransportSeam, ADatagramForAnUnregisteredNamespaceStateIsDroppedQuietly) {
  ProbeOps probe(host_);  // in the table, but its init never ran
  send_to_red(kExperimental);
  EXPECT_EQ(probe.state(*red_), nullptr);
  EXPECT_EQ(red_->counters().get("IpInUnknownProtos"), 0u);  // it was the transport's to drop
}

TEST_F(TransportSeam, ATakenNumberIsRefusedAndItsOwnerKeepsIt) {
  ProbeOps probe(host_);
  NetworkLayer& layer = ip();
  auto refused = layer.add_protocol(wire::IpProtocol::udp, probe);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), error(Errc::file_exists));
  // Removing a number one does not hold changes nothing.
  layer.remove_protocol(wire::IpProtocol::udp, probe);
  // Constructing a second transport on a taken number is a wiring mistake.
  EXPECT_THROW(ProbeOps(host_, wire::IpProtocol::tcp), std::logic_error);
  // ICMPv6's number is free in IPv4 but ping's in IPv6: the IPv4
  // registration is undone when IPv6 refuses.
  EXPECT_THROW(ProbeOps(host_, wire::IpProtocol::icmpv6), std::logic_error);
  ASSERT_TRUE(layer.add_protocol(wire::IpProtocol::icmpv6, probe));
  layer.remove_protocol(wire::IpProtocol::icmpv6, probe);

  // UDP still owns 17: a datagram to a closed port is its to count.
  send_to_red(wire::IpProtocol::udp);
  EXPECT_EQ(red_->counters().get("UdpNoPorts"), 1u);
  EXPECT_EQ(red_->counters().get("IpInUnknownProtos"), 0u);
}

TEST_F(TransportSeam, OpenNeedsALiveNamespaceWhereTheTransportRuns) {
  ProbeOps probe(host_);
  auto before = probe.open(*red_);
  ASSERT_FALSE(before);
  EXPECT_EQ(before.error(), error(Errc::address_family_not_supported));
  ASSERT_TRUE(host_.register_pernet_subsys(probe));
  auto opened = probe.open(*red_);
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->ref.get(), red_.get());
  EXPECT_EQ(&opened->state, probe.state(*red_));
  host_.unregister_pernet_subsys(probe);
}

}  // namespace inet_transport_test
}  // namespace
}  // namespace netns::inet
