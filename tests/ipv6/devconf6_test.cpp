// net.ipv6.conf.{all,default,IFNAME}.*: Linux's values in a fresh
// namespace, every key's bad values refused with nothing changed, `all` and
// `default` as Linux has them per key (propagating, inert, or combined),
// and writes acting on live devices through the IPv6 layer's listener.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <string>
#include <vector>

#include "ipv6/devconf6.hpp"
#include "ipv6/ipv6_net.hpp"
#include "ipv6/stack.hpp"
#include "netns/device.hpp"
#include "netns/host.hpp"
#include "netns/ipv6.hpp"
#include "netns/net.hpp"
#include "netns/wire/ethernet.hpp"
#include "netns/wire/ipv6.hpp"
#include "netns/wire/ndp.hpp"
#include "stack/builtins.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace ipv6_devconf6_test {

using namespace std::chrono_literals;
using Bytes = std::vector<std::byte>;

Ipv6Address v6(std::string_view text) { return Ipv6Address::parse(text).value(); }
Ipv6Prefix p6(std::string_view text) { return Ipv6Prefix::parse(text).value(); }

constexpr const char* kKeys[] = {"disable_ipv6", "forwarding",    "accept_ra", "autoconf",     "accept_dad",
                                 "dad_transmits", "hop_limit",    "mtu",       "addr_gen_mode"};

class Ipv6DevconfTest : public support::HostTest {
 protected:
  void SetUp() override {
    net_ = host_.create_net("n").value();
    ASSERT_TRUE(set_link_up(net_->loopback()));
    eth0_ = make_channel(*net_, "eth0").value();
  }
  Sysctl& sysctl() { return net_->sysctl(); }
  std::string get(std::string_view name) { return sysctl().get(name).value(); }
  void set(std::string_view name, std::string_view value) { ASSERT_TRUE(sysctl().set(name, value)) << name; }
  // Every net.ipv6.conf name of the namespace with its value.
  std::string snapshot() {
    std::string out;
    for (const char* key : kKeys) {
      for (const char* scope : {"all", "default", "lo", "eth0"}) {
        const std::string name = fmt::format("net.ipv6.conf.{}.{}", scope, key);
        out += name + "=" + get(name) + "\n";
      }
    }
    return out;
  }
  void bring_up(Device& dev) {
    ASSERT_TRUE(set_link_up(dev));
    run_for(3s);  // DAD
  }
  std::vector<ipv6::AddressInfo> addresses_of(const Device& dev) {
    std::vector<ipv6::AddressInfo> out;
    for (const auto& a : ipv6::addresses(*net_)) {
      if (a.dev == &dev) out.push_back(a);
    }
    return out;
  }
  const ipv6::AddressInfo* find(const Ipv6Address& address) {
    infos_ = ipv6::addresses(*net_);
    for (const auto& a : infos_) {
      if (a.prefix.address() == address) return &a;
    }
    return nullptr;
  }
  Ipv6Address eui64(const Device& dev) const {
    const auto& m = dev.mac().octets;
    return Ipv6Address(0xfe80, 0, 0, 0, static_cast<std::uint16_t>((m[0] ^ 2) << 8 | m[1]),
                       static_cast<std::uint16_t>(m[2] << 8 | 0xff), static_cast<std::uint16_t>(0xfe00 | m[3]),
                       static_cast<std::uint16_t>(m[4] << 8 | m[5]));
  }
  ipv6::Ipv6Stack& layer() { return host_.builtins().ipv6(); }
  // A datagram from a neighbour to `dst` (next header none) on eth0.
  void inject_to(const Ipv6Address& dst) {
    Bytes frame(wire::EthernetRepr::kHeaderLen + wire::Ipv6Repr::kHeaderLen);
    const MacAddress to = dst.is_multicast() ? wire::ipv6_multicast_mac(dst) : eth0_->mac();
    wire::EthernetRepr{to, MacAddress{2, 0, 0, 0, 0, 9}, wire::EtherType::ipv6}.emit(frame);
    wire::Ipv6Repr{.src = v6("fe80::9"), .dst = dst, .next_header = wire::IpProtocol::ipv6_none}.emit(
        std::span(frame).subspan(wire::EthernetRepr::kHeaderLen));
    eth0_->inject(frame);
    poll();
  }
  std::uint64_t count(std::string_view name) { return net_->counters().get(name); }

  NetRef net_;
  ChannelDevice* eth0_ = nullptr;
  std::vector<ipv6::AddressInfo> infos_;
};

// A fresh Linux namespace's values (ipv6_devconf, ipv6_devconf_dflt,
// ipv6_add_dev): mtu is the device's MTU; all.accept_dad 0, default 1.
TEST_F(Ipv6DevconfTest, ReadsAsAFreshLinuxNamespace) {
  const std::tuple<const char*, const char*, const char*, const char*> expected[] = {
      {"disable_ipv6", "0", "0", "0"}, {"forwarding", "0", "0", "0"},     {"accept_ra", "1", "1", "1"},
      {"autoconf", "1", "1", "1"},     {"accept_dad", "0", "1", "1"},     {"dad_transmits", "1", "1", "1"},
      {"hop_limit", "64", "64", "64"}, {"mtu", "1280", "1280", "1500"},   {"addr_gen_mode", "0", "0", "0"},
  };
  for (auto [key, all, dflt, dev] : expected) {
    EXPECT_EQ(get(fmt::format("net.ipv6.conf.all.{}", key)), all) << key;
    EXPECT_EQ(get(fmt::format("net.ipv6.conf.default.{}", key)), dflt) << key;
    EXPECT_EQ(get(fmt::format("net.ipv6.conf.eth0.{}", key)), dev) << key;
  }
  EXPECT_EQ(get("net.ipv6.conf.lo.mtu"), std::to_string(net_->loopback().mtu()));
  EXPECT_EQ(sysctl().devconf(), nullptr);
  EXPECT_EQ(eth0_->devconf(), nullptr);
  const ipv6::DevConf6 conf = ipv6::devconf(*net_, *eth0_);
  EXPECT_EQ(conf.mtu, 1500u);
  EXPECT_EQ(conf.accept_ra, 1);
  EXPECT_TRUE(conf.autoconf);
  EXPECT_TRUE(ipv6::accepts_ra(conf));
}

TEST_F(Ipv6DevconfTest, EveryKeysBadValuesAreRefusedAndChangeNothing) {
  const std::pair<const char*, std::vector<const char*>> bad[] = {
      {"disable_ipv6", {"-1", "2"}},
      {"forwarding", {"-1", "2"}},
      {"accept_ra", {"-1", "3"}},
      {"autoconf", {"-1", "2"}},
      {"accept_dad", {"-1", "3"}},
      {"dad_transmits", {"-1", "256"}},
      {"hop_limit", {"0", "256", "-1"}},
      {"mtu", {"1279", "0", "-1"}},
      {"addr_gen_mode", {"-1", "4", "2"}},  // 2: stable privacy needs a stable_secret
  };
  const std::string before = snapshot();
  for (const auto& [key, values] : bad) {
    for (const char* scope : {"all", "default", "eth0"}) {
      const std::string name = fmt::format("net.ipv6.conf.{}.{}", scope, key);
      for (const char* value : values) {
        EXPECT_EQ(sysctl().set(name, value).error(), Errc::invalid_argument) << name << " = " << value;
      }
      EXPECT_EQ(sysctl().set(name, "x").error(), Errc::invalid_argument) << name;
      EXPECT_EQ(sysctl().set(name, "1 1").error(), Errc::invalid_argument) << name;
    }
  }
  // A device's IPv6 MTU is bounded by its MTU; all and default are not.
  EXPECT_EQ(sysctl().set("net.ipv6.conf.eth0.mtu", "1501").error(), Errc::invalid_argument);
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(sysctl().devconf(), nullptr);
  EXPECT_EQ(eth0_->devconf(), nullptr);
  ASSERT_TRUE(eth0_->set_mtu(1000));  // under IPV6_MIN_MTU: no value fits
  EXPECT_EQ(sysctl().set("net.ipv6.conf.eth0.mtu", "1280").error(), Errc::invalid_argument);
  EXPECT_EQ(get("net.ipv6.conf.eth0.mtu"), "1000");
  set("net.ipv6.conf.all.mtu", "9000");  // `all` and `default` are bounded by nothing but IPV6_MIN_MTU
}

// addrconf_fixup_forwarding / addrconf_disable_ipv6 /
// addrconf_sysctl_addr_gen_mode: `all` writes `default` and every device;
// `default` only devices made later; a device's value is its own.
TEST_F(Ipv6DevconfTest, ForwardingDisableAndAddrGenModePropagateFromAll) {
  int made = 0;
  for (auto [key, value] : {std::pair{"forwarding", "1"}, {"disable_ipv6", "1"}, {"addr_gen_mode", "3"}}) {
    set(fmt::format("net.ipv6.conf.eth0.{}", key), value);
    EXPECT_EQ(get(fmt::format("net.ipv6.conf.lo.{}", key)), "0") << key;
    EXPECT_EQ(get(fmt::format("net.ipv6.conf.default.{}", key)), "0") << key;
    set(fmt::format("net.ipv6.conf.all.{}", key), value);
    for (const char* scope : {"default", "lo", "eth0"}) {
      EXPECT_EQ(get(fmt::format("net.ipv6.conf.{}.{}", scope, key)), value) << scope << "." << key;
    }
    set(fmt::format("net.ipv6.conf.all.{}", key), "0");
    for (const char* scope : {"default", "lo", "eth0"}) {
      EXPECT_EQ(get(fmt::format("net.ipv6.conf.{}.{}", scope, key)), "0") << scope << "." << key;
    }
    set(fmt::format("net.ipv6.conf.default.{}", key), value);
    EXPECT_EQ(get(fmt::format("net.ipv6.conf.eth0.{}", key)), "0") << key;
    Device* later = make_channel(*net_, fmt::format("new{}", ++made)).value();
    EXPECT_EQ(get(fmt::format("net.ipv6.conf.{}.{}", later->name(), key)), value) << key;
    set(fmt::format("net.ipv6.conf.default.{}", key), "0");
  }
}

// Linux's `all` rows of these keys act on nothing: written and read back,
// no device or `default` changes and what the stack acts on is unchanged.
// `default` reaches devices made later (for mtu, never: a device's IPv6
// MTU starts at its MTU).
TEST_F(Ipv6DevconfTest, InertAllRowsChangeNoDevice) {
  const std::pair<const char*, const char*> keys[] = {
      {"accept_ra", "0"}, {"autoconf", "0"}, {"dad_transmits", "5"}, {"hop_limit", "9"}, {"mtu", "9000"}};
  for (auto [key, value] : keys) {
    const std::string eth0 = get(fmt::format("net.ipv6.conf.eth0.{}", key));
    set(fmt::format("net.ipv6.conf.all.{}", key), value);
    EXPECT_EQ(get(fmt::format("net.ipv6.conf.all.{}", key)), value);
    EXPECT_EQ(get(fmt::format("net.ipv6.conf.eth0.{}", key)), eth0) << key;
    EXPECT_NE(get(fmt::format("net.ipv6.conf.default.{}", key)), value) << key;
    Device* later = make_channel(*net_, fmt::format("a_{}", key)).value();
    EXPECT_NE(get(fmt::format("net.ipv6.conf.{}.{}", later->name(), key)), value) << key;
    set(fmt::format("net.ipv6.conf.default.{}", key), value);
    EXPECT_EQ(get(fmt::format("net.ipv6.conf.eth0.{}", key)), eth0) << key;
    Device* after = make_channel(*net_, fmt::format("d_{}", key)).value();
    const std::string expected = std::string_view(key) == "mtu" ? "1500" : value;
    EXPECT_EQ(get(fmt::format("net.ipv6.conf.{}.{}", after->name(), key)), expected) << key;
  }
  const ipv6::DevConf6 conf = ipv6::devconf(*net_, *eth0_);
  EXPECT_EQ(conf.accept_ra, 1);
  EXPECT_TRUE(conf.autoconf);
  EXPECT_EQ(conf.dad_transmits, 1u);
  EXPECT_EQ(conf.hop_limit, 64);
  EXPECT_EQ(conf.mtu, 1500u);
}

// addrconf_dad_begin: DAD runs when `all` or the device asks for it.
TEST_F(Ipv6DevconfTest, AcceptDadIsEitherAllOrTheDevice) {
  set("net.ipv6.conf.eth0.accept_dad", "0");
  bring_up(*eth0_);
  ASSERT_TRUE(ipv6::add_address(*net_, *eth0_, p6("2001:db8::1/64")));
  EXPECT_FALSE(find(v6("2001:db8::1"))->tentative);  // no DAD
  set("net.ipv6.conf.all.accept_dad", "1");
  EXPECT_EQ(ipv6::devconf(*net_, *eth0_).accept_dad, 1);
  ASSERT_TRUE(ipv6::add_address(*net_, *eth0_, p6("2001:db8::2/64")));
  EXPECT_TRUE(find(v6("2001:db8::2"))->tentative);
}

TEST_F(Ipv6DevconfTest, DadTransmitsIsHowManyProbes) {
  set("net.ipv6.conf.eth0.dad_transmits", "3");
  set("net.ipv6.conf.eth0.accept_ra", "0");  // no router solicitations among the frames counted
  bring_up(*eth0_);
  while (eth0_->read()) {
  }
  ASSERT_TRUE(ipv6::add_address(*net_, *eth0_, p6("2001:db8::1/64")));
  run_for(2500ms);  // up to 1 s of delay, then three probes a second apart
  EXPECT_TRUE(find(v6("2001:db8::1"))->tentative);
  int probes = 0;
  while (eth0_->read()) ++probes;
  run_for(1600ms);
  EXPECT_FALSE(find(v6("2001:db8::1"))->tentative);
  while (eth0_->read()) ++probes;
  EXPECT_EQ(probes, 3);
  set("net.ipv6.conf.eth0.dad_transmits", "0");
  ASSERT_TRUE(ipv6::add_address(*net_, *eth0_, p6("2001:db8::2/64")));
  EXPECT_FALSE(find(v6("2001:db8::2"))->tentative);
}

// dev_disable_change: 1 on an up device takes its addresses and routes
// away; 0 brings the link-local address back.
TEST_F(Ipv6DevconfTest, DisableIpv6ActsOnAnUpDevice) {
  bring_up(*eth0_);
  ASSERT_TRUE(ipv6::add_address(*net_, *eth0_, p6("2001:db8::1/64")));
  run_for(3s);
  EXPECT_EQ(addresses_of(*eth0_).size(), 2u);
  set("net.ipv6.conf.eth0.disable_ipv6", "1");
  EXPECT_TRUE(addresses_of(*eth0_).empty());
  EXPECT_EQ(ipv6::dump_routes(*net_), "::1 dev lo proto kernel metric 256 pref medium\n");
  EXPECT_FALSE(ipv6::route_output(*net_, v6("2001:db8::9")));
  EXPECT_EQ(ipv6::add_address(*net_, *eth0_, p6("2001:db8::1/64")).error(), Errc::address_family_not_supported);
  set("net.ipv6.conf.eth0.disable_ipv6", "0");
  run_for(3s);
  const auto back = addresses_of(*eth0_);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].prefix.address(), eui64(*eth0_));
  EXPECT_FALSE(back[0].tentative);
  // `all` reaches the loopback too.
  set("net.ipv6.conf.all.disable_ipv6", "1");
  EXPECT_TRUE(ipv6::addresses(*net_).empty());
  set("net.ipv6.conf.all.disable_ipv6", "0");
  EXPECT_NE(find(Ipv6Address::loopback()), nullptr);
}

// A device's forwarding is its router behaviour: NDP's router flag and
// all-routers; turning it on drops the default routes RAs taught, except
// on devices with accept_ra 2; RAs are honoured per accept_ra.
TEST_F(Ipv6DevconfTest, ForwardingMakesTheDeviceARouter) {
  bring_up(*eth0_);
  EXPECT_FALSE(layer().is_router(*net_, *eth0_));
  inject_to(wire::kAllRouters);
  EXPECT_EQ(count("Ip6InDelivers"), 0u);
  Device* eth1 = make_channel(*net_, "eth1").value();
  bring_up(*eth1);
  auto& routes = layer().state(*net_).routes;
  ASSERT_TRUE(routes.insert({.prefix = p6("::/0"), .via = v6("fe80::1"), .dev = eth0_, .protocol = 9}));
  ASSERT_TRUE(routes.insert({.prefix = p6("::/0"), .via = v6("fe80::2"), .dev = eth1, .metric = 1025, .protocol = 9}));
  set("net.ipv6.conf.eth1.accept_ra", "2");
  EXPECT_TRUE(ipv6::accepts_ra(ipv6::devconf(*net_, *eth0_)));
  set("net.ipv6.conf.eth0.forwarding", "1");
  EXPECT_TRUE(layer().is_router(*net_, *eth0_));
  EXPECT_FALSE(layer().is_router(*net_, *eth1));
  EXPECT_FALSE(ipv6::accepts_ra(ipv6::devconf(*net_, *eth0_)));
  EXPECT_TRUE(ipv6::accepts_ra(ipv6::devconf(*net_, *eth1)));  // accept_ra 2
  inject_to(wire::kAllRouters);
  EXPECT_EQ(count("Ip6InDelivers"), 1u);
  EXPECT_EQ(ipv6::dump_routes(*net_).find("via fe80::1"), std::string::npos);
  EXPECT_NE(ipv6::dump_routes(*net_).find("via fe80::2"), std::string::npos);
  set("net.ipv6.conf.eth0.forwarding", "0");
  EXPECT_FALSE(layer().is_router(*net_, *eth0_));
  inject_to(wire::kAllRouters);
  EXPECT_EQ(count("Ip6InDelivers"), 1u);
}

// The device's IPv6 MTU is what the layer sends to: a write, or a change
// of the device's MTU (which resets it), changes path state at once.
TEST_F(Ipv6DevconfTest, MtuIsTheDevicesIpv6Mtu) {
  bring_up(*eth0_);
  ASSERT_TRUE(ipv6::add_address(*net_, *eth0_, p6("2001:db8::1/64")));
  run_for(3s);
  const Ipv6Address peer = v6("2001:db8::2");
  EXPECT_EQ(layer().path_mtu(*net_, peer, *eth0_), 1500u);
  set("net.ipv6.conf.eth0.mtu", "1400");
  EXPECT_EQ(layer().path_mtu(*net_, peer, *eth0_), 1400u);
  EXPECT_EQ(ipv6::devconf(*net_, *eth0_).mtu, 1400u);
  ASSERT_TRUE(eth0_->set_mtu(1450));  // NETDEV_CHANGEMTU: mtu6 = dev->mtu
  EXPECT_EQ(get("net.ipv6.conf.eth0.mtu"), "1450");
  EXPECT_EQ(layer().path_mtu(*net_, peer, *eth0_), 1450u);
  // Below 1280 the device carries no IPv6; back above, its link-local returns.
  ASSERT_TRUE(eth0_->set_mtu(1200));
  EXPECT_TRUE(addresses_of(*eth0_).empty());
  ASSERT_TRUE(eth0_->set_mtu(1500));
  ASSERT_EQ(addresses_of(*eth0_).size(), 1u);
  EXPECT_EQ(addresses_of(*eth0_)[0].prefix.address(), eui64(*eth0_));
}

TEST_F(Ipv6DevconfTest, AddrGenModeChoosesTheLinkLocalAddress) {
  set("net.ipv6.conf.eth0.addr_gen_mode", "1");
  bring_up(*eth0_);
  EXPECT_TRUE(addresses_of(*eth0_).empty());  // none
  set("net.ipv6.conf.eth0.addr_gen_mode", "3");  // acts on the up device
  run_for(3s);
  auto random = addresses_of(*eth0_);
  ASSERT_EQ(random.size(), 1u);
  const Ipv6Address ll = random[0].prefix.address();
  EXPECT_TRUE(ll.is_link_local());
  EXPECT_NE(ll, eui64(*eth0_));
  EXPECT_FALSE(random[0].tentative);
  // The same after down and up; another device gets another.
  ASSERT_TRUE(set_link_up(*eth0_, false));
  bring_up(*eth0_);
  ASSERT_EQ(addresses_of(*eth0_).size(), 1u);
  EXPECT_EQ(addresses_of(*eth0_)[0].prefix.address(), ll);
  Device* eth1 = make_channel(*net_, "eth1").value();
  set("net.ipv6.conf.eth1.addr_gen_mode", "3");
  bring_up(*eth1);
  ASSERT_EQ(addresses_of(*eth1).size(), 1u);
  EXPECT_NE(addresses_of(*eth1)[0].prefix.address(), ll);
  // Back to EUI-64: its address joins the random one (addrconf_init_auto_addrs).
  set("net.ipv6.conf.eth0.addr_gen_mode", "0");
  EXPECT_NE(find(eui64(*eth0_)), nullptr);
  EXPECT_NE(find(ll), nullptr);
}

// accept_dad 2: a duplicate of the MAC-based link-local address turns IPv6
// off on the device (addrconf_dad_failure).
TEST_F(Ipv6DevconfTest, AcceptDad2DisablesIpv6OnADuplicateEui64) {
  set("net.ipv6.conf.eth0.accept_dad", "2");
  ASSERT_TRUE(set_link_up(*eth0_));
  const Ipv6Address ll = eui64(*eth0_);
  ASSERT_NE(find(ll), nullptr);
  ASSERT_TRUE(find(ll)->tentative);
  const wire::NeighbourAdvertRepr na{.target = ll, .override = true, .target_link = MacAddress{2, 0, 0, 0, 0, 9}};
  Bytes frame(wire::EthernetRepr::kHeaderLen + wire::Ipv6Repr::kHeaderLen + na.buffer_len());
  wire::EthernetRepr{wire::ipv6_multicast_mac(wire::kAllNodes), MacAddress{2, 0, 0, 0, 0, 9}, wire::EtherType::ipv6}
      .emit(frame);
  wire::Ipv6Repr{.src = v6("fe80::9"), .dst = wire::kAllNodes, .next_header = wire::IpProtocol::icmpv6,
                 .hop_limit = 255, .payload_len = na.buffer_len()}
      .emit(std::span(frame).subspan(wire::EthernetRepr::kHeaderLen));
  na.emit(std::span(frame).subspan(wire::EthernetRepr::kHeaderLen + wire::Ipv6Repr::kHeaderLen), v6("fe80::9"),
          wire::kAllNodes);
  eth0_->inject(frame);
  poll();
  EXPECT_EQ(get("net.ipv6.conf.eth0.disable_ipv6"), "1");
  EXPECT_TRUE(addresses_of(*eth0_).empty());
  EXPECT_TRUE(ipv6::ipv6_disabled(*eth0_));
}

// Renamed or moved, a device keeps its values; destroyed, its names go.
TEST_F(Ipv6DevconfTest, RenamedMovedAndDestroyedDevices) {
  set("net.ipv6.conf.eth0.hop_limit", "7");
  set("net.ipv6.conf.eth0.forwarding", "1");
  set("net.ipv6.conf.eth0.mtu", "1400");
  ASSERT_TRUE(host_.move_device(*eth0_, *net_, "wan0"));
  EXPECT_EQ(get("net.ipv6.conf.wan0.hop_limit"), "7");
  EXPECT_EQ(sysctl().get("net.ipv6.conf.eth0.hop_limit").error(), Errc::no_such_file_or_directory);
  NetRef other = host_.create_net("other").value();
  ASSERT_TRUE(host_.move_device(*eth0_, *other));
  for (auto [key, value] : {std::pair{"hop_limit", "7"}, {"forwarding", "1"}, {"mtu", "1400"}}) {
    EXPECT_EQ(other->sysctl().get(fmt::format("net.ipv6.conf.wan0.{}", key)).value(), value) << key;
  }
  EXPECT_TRUE(ipv6::acts_as_router(*eth0_));
  ASSERT_TRUE(destroy_device(*eth0_));
  poll();
  EXPECT_EQ(other->sysctl().get("net.ipv6.conf.wan0.hop_limit").error(), Errc::no_such_file_or_directory);
}

}  // namespace ipv6_devconf6_test
}  // namespace
}  // namespace netns
