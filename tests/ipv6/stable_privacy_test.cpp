// RFC 7217 stable privacy addresses as Linux makes them (addr_gen_mode 2):
// net.ipv6.conf.*.stable_secret as Linux reads and writes it, the
// interface identifier Linux computes for the same inputs, link-local and
// SLAAC addresses from the secret, stable for the same device and secret,
// different per prefix and per device, and the next DAD counter after a
// conflict (idgen_retries, idgen_delay).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <array>
#include <string>
#include <vector>

#include "ipv6/ipv6_net.hpp"
#include "netns/device.hpp"
#include "netns/host.hpp"
#include "netns/ipv6.hpp"
#include "netns/net.hpp"
#include "netns/wire/ethernet.hpp"
#include "netns/wire/ipv6.hpp"
#include "netns/wire/ndp.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace ipv6_stable_privacy_test {

using namespace std::chrono_literals;
using Bytes = std::vector<std::byte>;

Ipv6Address v6(std::string_view text) { return Ipv6Address::parse(text).value(); }

const Ipv6Address kLinkLocalPrefix(0xfe80, 0, 0, 0, 0, 0, 0, 0);
const std::array<std::uint8_t, 16> kSecret = Ipv6Address(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).bytes();
const MacAddress kRouterMac{2, 0, 0, 0, 0, 9};

// Linux 6.18: `ip link add v0 address 02:00:00:00:00:01 type veth ...`,
// `sysctl net.ipv6.conf.v0.stable_secret=2001:db8::1`, up: v0 shows
// fe80::88cf:4891:a68c:e03f/64 stable-privacy. A veth given its MAC has a
// zero perm_addr, which is what Linux hashes.
TEST(StablePrivacyAddress, IsLinuxsForTheSameInputs) {
  const std::array<std::uint8_t, 6> perm_addr{};
  EXPECT_EQ(ipv6::stable_privacy_address(kLinkLocalPrefix, 0, kSecret, perm_addr, 3), v6("fe80::88cf:4891:a68c:e03f"));
  // Another counter, another hardware address, another prefix: another identifier.
  const auto base = ipv6::stable_privacy_address(kLinkLocalPrefix, 0, kSecret, perm_addr, 3);
  const std::array<std::uint8_t, 6> mac{2, 0, 0, 0, 0, 1};
  EXPECT_NE(ipv6::stable_privacy_address(kLinkLocalPrefix, 1, kSecret, perm_addr, 3), base);
  EXPECT_NE(ipv6::stable_privacy_address(kLinkLocalPrefix, 0, kSecret, mac, 3), base);
  const auto global = ipv6::stable_privacy_address(v6("2001:db8:1::"), 0, kSecret, perm_addr, 3);
  ASSERT_TRUE(global);
  EXPECT_EQ(global->high(), v6("2001:db8:1::").high());
  EXPECT_NE(global->low(), base->low());
}

class StablePrivacyTest : public support::HostTest {
 protected:
  void SetUp() override {
    net_ = host_.create_net("n").value();
    ASSERT_TRUE(set_link_up(net_->loopback()));
    eth0_ = make_channel(*net_, "eth0").value();
  }
  Sysctl& sysctl() { return net_->sysctl(); }
  void set(std::string_view name, std::string_view value) { ASSERT_TRUE(sysctl().set(name, value)) << name; }
  std::string get(std::string_view name) { return sysctl().get(name).value(); }
  std::vector<ipv6::AddressInfo> addresses_of(const Device& dev) {
    std::vector<ipv6::AddressInfo> out;
    for (const auto& a : ipv6::addresses(*net_)) {
      if (a.dev == &dev) out.push_back(a);
    }
    return out;
  }
  std::optional<ipv6::AddressInfo> find(const Ipv6Address& address) {
    for (const auto& a : ipv6::addresses(*net_)) {
      if (a.prefix.address() == address) return a;
    }
    return std::nullopt;
  }
  Ipv6Address stable(const Device& dev, const Ipv6Address& prefix, std::uint8_t count) {
    return ipv6::stable_privacy_address(prefix, count, kSecret, dev.mac().octets, 3).value();
  }
  // A neighbour advertisement for `target` from another node: a DAD conflict.
  void conflict(Device& dev, const Ipv6Address& target) {
    inject_ndp(dev, wire::NeighbourAdvertRepr{.target = target, .override = true, .target_link = kRouterMac});
  }
  // A router advertisement with autonomous /64 prefixes.
  void advertise(Device& dev, const std::vector<Ipv6Address>& prefixes) {
    wire::RouterAdvertRepr ra{.router_lifetime = 1800, .source_link = kRouterMac};
    for (const Ipv6Address& p : prefixes) {
      ra.prefixes.push_back({.prefix = Ipv6Prefix(p, 64), .on_link = true, .autonomous = true,
                             .valid_lifetime = 86400, .preferred_lifetime = 14400});
    }
    inject_ndp(dev, ra);
  }
  // An NDP message from fe80::9 to all nodes on dev.
  template <class Repr>
  void inject_ndp(Device& dev, const Repr& message) {
    Bytes frame(wire::EthernetRepr::kHeaderLen + wire::Ipv6Repr::kHeaderLen + message.buffer_len());
    wire::EthernetRepr{wire::ipv6_multicast_mac(wire::kAllNodes), kRouterMac, wire::EtherType::ipv6}.emit(frame);
    wire::Ipv6Repr{.src = v6("fe80::9"), .dst = wire::kAllNodes, .next_header = wire::IpProtocol::icmpv6,
                   .hop_limit = 255, .payload_len = message.buffer_len()}
        .emit(std::span(frame).subspan(wire::EthernetRepr::kHeaderLen));
    message.emit(std::span(frame).subspan(wire::EthernetRepr::kHeaderLen + wire::Ipv6Repr::kHeaderLen),
                 v6("fe80::9"), wire::kAllNodes);
    static_cast<ChannelDevice&>(dev).inject(frame);
    poll();
  }

  NetRef net_;
  ChannelDevice* eth0_ = nullptr;
};

// addrconf_sysctl_stable_secret: EIO before a write and always for `all`;
// an address as text in, the full form out; the device's addr_gen_mode
// turns to 2; bad text refused with nothing changed.
TEST_F(StablePrivacyTest, SecretIsReadAndWrittenAsLinuxDoes) {
  for (const char* name : {"net.ipv6.conf.all.stable_secret", "net.ipv6.conf.default.stable_secret",
                           "net.ipv6.conf.eth0.stable_secret"}) {
    auto r = sysctl().get(name);
    ASSERT_FALSE(r) << name;
    EXPECT_EQ(r.error(), Errc::io_error) << name;
  }
  for (const char* bad : {"", "2001:db8::g", "2001:db8::1%2", "10.0.0.1", "2001:db8::1 2001:db8::2"}) {
    auto r = sysctl().set("net.ipv6.conf.eth0.stable_secret", bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error(), Errc::io_error) << bad;
  }
  EXPECT_FALSE(sysctl().set("net.ipv6.conf.all.stable_secret", "2001:db8::1"));
  EXPECT_FALSE(sysctl().set("net.ipv6.conf.eth9.stable_secret", "2001:db8::1"));
  EXPECT_FALSE(sysctl().get("net.ipv6.conf.eth0.stable_secret"));
  EXPECT_EQ(get("net.ipv6.conf.eth0.addr_gen_mode"), "0");

  set("net.ipv6.conf.eth0.stable_secret", "2001:db8::1\n");
  EXPECT_EQ(get("net.ipv6.conf.eth0.stable_secret"), "2001:0db8:0000:0000:0000:0000:0000:0001");
  EXPECT_EQ(get("net.ipv6.conf.eth0.addr_gen_mode"), "2");
  EXPECT_EQ(get("net.ipv6.conf.default.addr_gen_mode"), "0");
  EXPECT_FALSE(sysctl().get("net.ipv6.conf.default.stable_secret"));
}

// addr_gen_mode 2 needs a secret the device would use (check_stable_privacy).
TEST_F(StablePrivacyTest, AddrGenMode2WantsASecret) {
  for (const char* scope : {"all", "default", "eth0"}) {
    auto r = sysctl().set(fmt::format("net.ipv6.conf.{}.addr_gen_mode", scope), "2");
    ASSERT_FALSE(r) << scope;
    EXPECT_EQ(r.error(), Errc::invalid_argument);
    EXPECT_EQ(get(fmt::format("net.ipv6.conf.{}.addr_gen_mode", scope)), "0");
  }
  set("net.ipv6.conf.eth0.addr_gen_mode", "1");
  set("net.ipv6.conf.eth0.stable_secret", "2001:db8::1");
  set("net.ipv6.conf.eth0.addr_gen_mode", "1");
  set("net.ipv6.conf.eth0.addr_gen_mode", "2");  // its own secret
  Device* eth1 = make_channel(*net_, "eth1").value();
  EXPECT_FALSE(sysctl().set("net.ipv6.conf.eth1.addr_gen_mode", "2"));
  // `default`'s secret: every device turns to 2, a new device copies the secret.
  set("net.ipv6.conf.default.stable_secret", "2001:db8::2");
  EXPECT_EQ(get("net.ipv6.conf.eth1.addr_gen_mode"), "2");
  EXPECT_EQ(get("net.ipv6.conf.lo.addr_gen_mode"), "2");
  EXPECT_EQ(get("net.ipv6.conf.default.addr_gen_mode"), "0");
  EXPECT_FALSE(sysctl().get("net.ipv6.conf.eth1.stable_secret"));  // existing devices fall back to it
  set("net.ipv6.conf.eth1.addr_gen_mode", "0");
  set("net.ipv6.conf.eth1.addr_gen_mode", "2");
  set("net.ipv6.conf.default.addr_gen_mode", "2");
  Device* eth2 = make_channel(*net_, "eth2").value();
  EXPECT_EQ(get("net.ipv6.conf.eth2.stable_secret"), "2001:0db8:0000:0000:0000:0000:0000:0002");
  EXPECT_EQ(get("net.ipv6.conf.eth2.addr_gen_mode"), "2");
  (void)eth1;
  (void)eth2;
}

TEST_F(StablePrivacyTest, LinkLocalComesFromTheSecret) {
  set("net.ipv6.conf.eth0.stable_secret", "2001:db8::1");
  ASSERT_TRUE(set_link_up(*eth0_));
  run_for(3s);
  const auto all = addresses_of(*eth0_);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].prefix, Ipv6Prefix(stable(*eth0_, kLinkLocalPrefix, 0), 64));
  EXPECT_TRUE(all[0].stable_privacy);
  EXPECT_FALSE(all[0].tentative);
  EXPECT_NE(ipv6::dump_addresses(*net_).find("scope link stable-privacy"), std::string::npos);
}

// The same device (its MAC) and secret make the same address wherever and
// whenever the device is made again; another device another one.
TEST_F(StablePrivacyTest, StableAcrossRecreationAndDifferentPerDevice) {
  const MacAddress mac{2, 0, 0, 0, 0x42, 1};
  auto make = [&](Net& net, std::string_view name) {
    ChannelDevice* dev = make_channel(net, name).value();
    EXPECT_TRUE(dev->set_mac(mac));
    EXPECT_TRUE(net.sysctl().set(fmt::format("net.ipv6.conf.{}.stable_secret", name), "2001:db8::1"));
    EXPECT_TRUE(set_link_up(*dev));
    return dev;
  };
  ChannelDevice* first = make(*net_, "eth5");
  run_for(3s);
  const auto before = addresses_of(*first);
  ASSERT_EQ(before.size(), 1u);
  ASSERT_TRUE(destroy_device(*first));
  NetRef other = host_.create_net("other").value();
  ChannelDevice* again = make(*other, "eth5");
  ChannelDevice* renamed = make(*net_, "eth6");
  run_for(3s);
  std::vector<Ipv6Address> seen;
  for (const auto& a : ipv6::addresses(*other)) {
    if (a.dev == again) seen.push_back(a.prefix.address());
  }
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], before[0].prefix.address());
  ASSERT_EQ(addresses_of(*renamed).size(), 1u);
  EXPECT_EQ(addresses_of(*renamed)[0].prefix.address(), before[0].prefix.address());  // the name is no input
  Device* eth1 = make_channel(*net_, "eth1").value();
  set("net.ipv6.conf.eth1.stable_secret", "2001:db8::1");
  ASSERT_TRUE(set_link_up(*eth1));
  ASSERT_EQ(addresses_of(*eth1).size(), 1u);
  EXPECT_NE(addresses_of(*eth1)[0].prefix.address(), before[0].prefix.address());
  // Another secret, another address.
  Device* eth2 = make_channel(*net_, "eth2").value();
  ASSERT_TRUE(eth2->set_mac(mac));
  set("net.ipv6.conf.eth2.stable_secret", "2001:db8::2");
  ASSERT_TRUE(set_link_up(*eth2));
  ASSERT_EQ(addresses_of(*eth2).size(), 1u);
  EXPECT_NE(addresses_of(*eth2)[0].prefix.address(), before[0].prefix.address());
}

// SLAAC in addr_gen_mode 2: one address per prefix, each from the secret.
TEST_F(StablePrivacyTest, SlaacAddressesComeFromTheSecretPerPrefix) {
  set("net.ipv6.conf.eth0.stable_secret", "2001:db8::1");
  ASSERT_TRUE(set_link_up(*eth0_));
  run_for(3s);
  advertise(*eth0_, {v6("2001:db8:1::"), v6("2001:db8:2::")});
  run_for(3s);
  const auto one = find(stable(*eth0_, v6("2001:db8:1::"), 0));
  const auto two = find(stable(*eth0_, v6("2001:db8:2::"), 0));
  ASSERT_TRUE(one);
  ASSERT_TRUE(two);
  EXPECT_TRUE(one->stable_privacy);
  EXPECT_FALSE(one->permanent);
  EXPECT_FALSE(one->tentative);
  EXPECT_NE(one->prefix.address().low(), two->prefix.address().low());
  EXPECT_GT(one->valid_lifetime.value_or(0), 86390u);  // the RA's, less DAD's seconds
  // Without a secret (mode 0), the same RA makes EUI-64 addresses.
  Device* eth1 = make_channel(*net_, "eth1").value();
  ASSERT_TRUE(set_link_up(*eth1));
  run_for(3s);
  advertise(*eth1, {v6("2001:db8:3::")});
  run_for(3s);
  EXPECT_TRUE(find(ipv6::eui64_address(v6("2001:db8:3::"), eth1->mac())));
}

// addr_gen_mode 3 as Linux: a random secret of the device's own, drawn when
// it first makes an address and readable, then mode 2's addresses from it.
TEST_F(StablePrivacyTest, RandomModeDrawsASecretOfTheDevicesOwn) {
  set("net.ipv6.conf.eth0.addr_gen_mode", "3");
  EXPECT_FALSE(sysctl().get("net.ipv6.conf.eth0.stable_secret"));
  ASSERT_TRUE(set_link_up(*eth0_));
  run_for(3s);
  const std::string secret = get("net.ipv6.conf.eth0.stable_secret");
  const auto bytes = Ipv6Address::parse(secret).value().bytes();
  const Ipv6Address ll = ipv6::stable_privacy_address(kLinkLocalPrefix, 0, bytes, eth0_->mac().octets, 3).value();
  ASSERT_TRUE(find(ll));
  EXPECT_TRUE(find(ll)->stable_privacy);
  advertise(*eth0_, {v6("2001:db8:1::")});
  EXPECT_TRUE(find(ipv6::stable_privacy_address(v6("2001:db8:1::"), 0, bytes, eth0_->mac().octets, 3).value()));
  // Kept while the device lives: the same address after down and up.
  ASSERT_TRUE(set_link_up(*eth0_, false));
  ASSERT_TRUE(set_link_up(*eth0_));
  EXPECT_EQ(get("net.ipv6.conf.eth0.stable_secret"), secret);
  EXPECT_TRUE(find(ll));
  // Another device draws another.
  Device* eth1 = make_channel(*net_, "eth1").value();
  set("net.ipv6.conf.eth1.addr_gen_mode", "3");
  ASSERT_TRUE(set_link_up(*eth1));
  EXPECT_NE(get("net.ipv6.conf.eth1.stable_secret"), secret);
}

// RFC 7217 6 as Linux does it: a conflict marks the address failed and
// makes the next counter's, whose DAD starts idgen_delay later; after
// idgen_retries conflicts, nothing more.
TEST_F(StablePrivacyTest, DadConflictMovesToTheNextCounter) {
  set("net.ipv6.idgen_retries", "2");
  set("net.ipv6.idgen_delay", "3");
  set("net.ipv6.conf.eth0.stable_secret", "2001:db8::1");
  ASSERT_TRUE(set_link_up(*eth0_));
  const Ipv6Address first = stable(*eth0_, kLinkLocalPrefix, 0);
  ASSERT_TRUE(find(first));
  conflict(*eth0_, first);
  EXPECT_TRUE(find(first)->dad_failed);
  const Ipv6Address second = stable(*eth0_, kLinkLocalPrefix, 1);
  ASSERT_TRUE(find(second));
  EXPECT_TRUE(find(second)->tentative);
  EXPECT_TRUE(find(second)->stable_privacy);
  run_for(2900ms);  // no probe before idgen_delay
  EXPECT_TRUE(find(second)->tentative);
  run_for(2200ms);  // delay, jitter under 1 s, one probe, 1 s
  EXPECT_FALSE(find(second)->tentative);
  EXPECT_FALSE(find(second)->dad_failed);

  // Down and up starts again from counter 0; two conflicts spend the two retries.
  ASSERT_TRUE(set_link_up(*eth0_, false));
  ASSERT_TRUE(set_link_up(*eth0_));
  conflict(*eth0_, first);
  conflict(*eth0_, second);
  const Ipv6Address third = stable(*eth0_, kLinkLocalPrefix, 2);
  ASSERT_TRUE(find(third));
  conflict(*eth0_, third);
  EXPECT_TRUE(find(third)->dad_failed);
  run_for(10s);
  EXPECT_EQ(addresses_of(*eth0_).size(), 3u);  // counter 3 is past idgen_retries
  for (const auto& a : addresses_of(*eth0_)) EXPECT_TRUE(a.dad_failed);
}

// A SLAAC address's conflict moves its prefix to the next counter, which
// the router's next advertisements then keep alive.
TEST_F(StablePrivacyTest, SlaacConflictMovesToTheNextCounter) {
  set("net.ipv6.conf.eth0.stable_secret", "2001:db8::1");
  ASSERT_TRUE(set_link_up(*eth0_));
  run_for(3s);
  advertise(*eth0_, {v6("2001:db8:1::")});
  const Ipv6Address first = stable(*eth0_, v6("2001:db8:1::"), 0);
  ASSERT_TRUE(find(first));
  conflict(*eth0_, first);
  const Ipv6Address second = stable(*eth0_, v6("2001:db8:1::"), 1);
  ASSERT_TRUE(find(second));
  EXPECT_FALSE(find(second)->permanent);
  run_for(4s);
  EXPECT_FALSE(find(second)->tentative);
  run_for(100s);
  advertise(*eth0_, {v6("2001:db8:1::")});
  EXPECT_EQ(find(second)->valid_lifetime.value_or(0), 86400u);  // refreshed by the RA
  EXPECT_TRUE(find(first)->dad_failed);
  std::size_t global = 0;
  for (const auto& a : addresses_of(*eth0_)) global += a.prefix.address().is_link_local() ? 0 : 1;
  EXPECT_EQ(global, 2u);  // no counter-0 address made again
}

}  // namespace ipv6_stable_privacy_test
}  // namespace
}  // namespace netns
