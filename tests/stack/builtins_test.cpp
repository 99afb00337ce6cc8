// The composition root: the built-ins are registered in dependency order,
// each transport holds its protocol number from construction on, and no
// built-in can be unregistered, so nothing is ever found missing.
#include "stack/builtins.hpp"

#include <algorithm>
#include <string>

#include <gtest/gtest.h>

#include "conntrack/conntrack.hpp"
#include "core/route_cache.hpp"
#include "devices/macvlan_ops.hpp"
#include "ipv4/ping_ops.hpp"
#include "ipv4/tcp/tcp_net.hpp"
#include "ipv4/udp_ops.hpp"
#include "ipv6/stack.hpp"
#include "netns/icmp.hpp"
#include "netns/ipv4.hpp"
#include "netns/macvlan.hpp"
#include "netns/tcp.hpp"
#include "netns/udp.hpp"
#include "nft/nft_net.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace stack_builtins_test {

using support::HostTest;

TEST_F(HostTest, BuiltinsRegisterSubsystemsInDependencyOrderThenDevices) {
  Builtins& b = host_.builtins();
  const auto list = builtin_registration(b);
  ASSERT_EQ(list.size(), 11u);
  const PernetOps* subsystems[] = {&b.route_cache(), &b.ipv4(),      &b.ipv6(),    &b.udp(), &b.ping(),
                                   &b.tcp(),         &b.conntrack(), &b.macvlan(), &b.nft()};
  for (std::size_t i = 0; i < std::size(subsystems); ++i) {
    EXPECT_EQ(list[i].ops, subsystems[i]) << i;
    EXPECT_FALSE(list[i].device) << i;
  }
  EXPECT_TRUE(list[9].device);
  EXPECT_TRUE(list[10].device);
  // The loopback's op is the first device op: lo is ifindex 1.
  EXPECT_EQ(host_.init_net().loopback().ifindex(), 1);
}

TEST_F(HostTest, EveryTransportHoldsItsNumberFromConstruction) {
  struct Nobody final : inet::Transport {
    void deliver(Net&, Packet, const ipv4::InputMeta&) override {}
  } nobody;
  inet::NetworkLayer& layer = host_.builtins().ipv4();
  for (auto protocol : {wire::IpProtocol::icmp, wire::IpProtocol::tcp, wire::IpProtocol::udp}) {
    auto added = layer.add_protocol(protocol, nobody);
    ASSERT_FALSE(added) << static_cast<int>(protocol);
    EXPECT_EQ(added.error(), error(Errc::file_exists));
  }
}

TEST_F(HostTest, BuiltinsCannotBeUnregisteredAndKeepWorking) {
  for (const BuiltinOps& b : builtin_registration(host_.builtins())) {
    host_.unregister_pernet_subsys(*b.ops);
    host_.unregister_pernet_device(*b.ops);
  }
  EXPECT_EQ(std::count(messages_.begin(), messages_.end(), "netns: a built-in subsystem cannot be unregistered"),
            22);

  // A namespace made afterwards has every built-in, and so does init_net.
  NetRef blue = host_.create_net("blue").value();
  EXPECT_NE(host_.builtins().route_cache().generation(*blue), RouteCache::kNoGeneration);
  EXPECT_NE(host_.builtins().udp().state(*blue), nullptr);
  EXPECT_NE(host_.builtins().ping().state(*blue), nullptr);
  EXPECT_NE(host_.builtins().tcp().state(*blue), nullptr);
  EXPECT_EQ(blue->loopback().ifindex(), 1);
  ASSERT_TRUE(set_link_up(blue->loopback()));
  EXPECT_TRUE(ipv4::route_output(*blue, Ipv4Address(127, 0, 0, 1)));
  EXPECT_TRUE(udp::open(*blue));
  EXPECT_TRUE(icmp::open(*blue));
  EXPECT_TRUE(tcp::listen(*blue, {Ipv4Address::any(), 80}));
  auto veth = make_veth(*blue, "eth0", host_.init_net(), "eth0");
  ASSERT_TRUE(veth);
  EXPECT_TRUE(make_macvlan(*veth->b, host_.init_net(), "mv0"));
  EXPECT_NE(host_.builtins().udp().state(host_.init_net()), nullptr);
}

TEST_F(HostTest, UserOpsStillUnregister) {
  // The refusal is for built-ins only: the DESIGN.md contract holds for others.
  support::RecordingOps& ops = make_ops("user");
  ASSERT_TRUE(host_.register_pernet_subsys(ops));
  host_.unregister_pernet_subsys(ops);
  EXPECT_EQ(log_.back(), support::exit_entry("user", host_.init_net().id()));
  EXPECT_TRUE(messages_.empty());
}

}  // namespace stack_builtins_test
}  // namespace
}  // namespace netns
