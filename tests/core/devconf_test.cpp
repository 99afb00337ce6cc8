// Per-device sysctls, net.ipv4.conf.{all,default,IFNAME}.*: Linux's values,
// its all/default propagation and combination per key, what renaming,
// moving and destroying a device do to its names, and bad writes.
#include "netns/devconf.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

#include "netns/host.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace core_devconf_test {

using support::HostTest;

class DeviceConf : public HostTest {
 protected:
  void SetUp() override {
    net_ = host_.create_net("n").value();
    eth0_ = make_channel(*net_, "eth0").value();
    vlan_ = make_channel(*net_, "eth0.100").value();
  }
  Sysctl& sysctl() { return net_->sysctl(); }
  std::string get(std::string_view name) { return sysctl().get(name).value(); }
  void set(std::string_view name, std::string_view value) { ASSERT_TRUE(sysctl().set(name, value)) << name; }
  std::int32_t effective(const Device& dev, DevconfId id) { return sysctl().device_value(id, dev); }

  NetRef net_;
  Device* eth0_ = nullptr;
  Device* vlan_ = nullptr;
};

TEST(Devconf, EveryRowHasAllAndDefaultNamesAndSaneBounds) {
  const auto names = Sysctl::names();
  for (std::size_t i = 0; i < kDevconfCount; ++i) {
    const DevconfInfo& row = kDevconfTable[i];
    const std::string tree(kDevconfTrees[static_cast<std::size_t>(row.family)]);
    for (const char* scope : {"all", "default"}) {
      const std::string name = fmt::format("{}.{}.{}", tree, scope, row.name);
      EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
    }
    EXPECT_LE(row.min, row.all) << row.name;
    EXPECT_GE(row.max, row.all) << row.name;
    EXPECT_LE(row.min, row.dflt) << row.name;
    EXPECT_GE(row.max, row.dflt) << row.name;
  }
}

// A fresh Linux namespace's values (devinet.c: ipv4_devconf, ipv4_devconf_dflt).
TEST_F(DeviceConf, ReadsAsAFreshLinuxNamespace) {
  const std::pair<const char*, const char*> expected[] = {
      {"forwarding", "0"},      {"rp_filter", "0"},           {"accept_redirects", "1"}, {"send_redirects", "1"},
      {"accept_local", "0"},    {"log_martians", "0"},
  };
  for (auto [key, value] : expected) {
    for (const char* scope : {"all", "default", "eth0", "lo"}) {
      EXPECT_EQ(get(fmt::format("net.ipv4.conf.{}.{}", scope, key)), value) << scope << "." << key;
    }
  }
  EXPECT_EQ(get("net.ipv4.conf.all.accept_source_route"), "0");
  EXPECT_EQ(get("net.ipv4.conf.default.accept_source_route"), "1");
  EXPECT_EQ(get("net.ipv4.conf.eth0.accept_source_route"), "1");
  // Nothing written: neither the namespace nor a device holds a block.
  EXPECT_EQ(sysctl().devconf(), nullptr);
  EXPECT_EQ(eth0_->devconf(), nullptr);
}

// IN_DEV_SOURCE_ROUTE wants both: Linux's all 0 / default 1 refuses source routes.
TEST_F(DeviceConf, AcceptSourceRouteIsAnd) {
  EXPECT_EQ(effective(*eth0_, DevconfId::ipv4_accept_source_route), 0);
  set("net.ipv4.conf.all.accept_source_route", "1");
  EXPECT_EQ(effective(*eth0_, DevconfId::ipv4_accept_source_route), 1);
  set("net.ipv4.conf.eth0.accept_source_route", "0");
  EXPECT_EQ(effective(*eth0_, DevconfId::ipv4_accept_source_route), 0);
  EXPECT_EQ(effective(*vlan_, DevconfId::ipv4_accept_source_route), 1);
}

// Either `all` or the device turns an ORCONF key on.
TEST_F(DeviceConf, AcceptLocalLogMartiansAndSendRedirectsAreOr) {
  for (DevconfId id : {DevconfId::ipv4_accept_local, DevconfId::ipv4_log_martians}) {
    const std::string key(devconf_info(id).name);
    EXPECT_EQ(effective(*eth0_, id), 0) << key;
    set(fmt::format("net.ipv4.conf.eth0.{}", key), "1");
    EXPECT_EQ(effective(*eth0_, id), 1) << key;
    EXPECT_EQ(effective(*vlan_, id), 0) << key;
    set(fmt::format("net.ipv4.conf.all.{}", key), "1");
    EXPECT_EQ(effective(*vlan_, id), 1) << key;
  }
  // send_redirects: on by default on both sides; off only when both are.
  set("net.ipv4.conf.all.send_redirects", "0");
  EXPECT_EQ(effective(*eth0_, DevconfId::ipv4_send_redirects), 1);
  set("net.ipv4.conf.eth0.send_redirects", "0");
  EXPECT_EQ(effective(*eth0_, DevconfId::ipv4_send_redirects), 0);
  EXPECT_EQ(effective(*vlan_, DevconfId::ipv4_send_redirects), 1);
}

// IN_DEV_MAXCONF: the stricter of loose (2) and strict (1) does not win; the larger does.
TEST_F(DeviceConf, RpFilterIsTheMaximum) {
  set("net.ipv4.conf.eth0.rp_filter", "1");
  EXPECT_EQ(effective(*eth0_, DevconfId::ipv4_rp_filter), 1);
  EXPECT_EQ(effective(*vlan_, DevconfId::ipv4_rp_filter), 0);
  set("net.ipv4.conf.all.rp_filter", "2");
  EXPECT_EQ(effective(*eth0_, DevconfId::ipv4_rp_filter), 2);
  EXPECT_EQ(effective(*vlan_, DevconfId::ipv4_rp_filter), 2);
  set("net.ipv4.conf.all.rp_filter", "0");
  EXPECT_EQ(effective(*eth0_, DevconfId::ipv4_rp_filter), 1);
}

// IN_DEV_RX_REDIRECTS: AND while the device forwards, OR otherwise; and
// turning forwarding on turns all.accept_redirects off (inet_forward_change).
TEST_F(DeviceConf, AcceptRedirectsDependsOnForwarding) {
  set("net.ipv4.conf.eth0.accept_redirects", "0");
  EXPECT_EQ(effective(*eth0_, DevconfId::ipv4_accept_redirects), 1);  // all 1 OR dev 0
  set("net.ipv4.conf.eth0.forwarding", "1");
  EXPECT_EQ(effective(*eth0_, DevconfId::ipv4_accept_redirects), 0);  // all 1 AND dev 0
  set("net.ipv4.conf.eth0.accept_redirects", "1");
  EXPECT_EQ(effective(*eth0_, DevconfId::ipv4_accept_redirects), 1);
  set("net.ipv4.ip_forward", "1");
  EXPECT_EQ(get("net.ipv4.conf.all.accept_redirects"), "0");
  EXPECT_EQ(effective(*eth0_, DevconfId::ipv4_accept_redirects), 0);
  set("net.ipv4.ip_forward", "0");
  EXPECT_EQ(get("net.ipv4.conf.all.accept_redirects"), "1");
}

// inet_forward_change: all.forwarding is ip_forward, and writes `default`
// and every device; default.forwarding reaches only devices made later;
// a device's own forwarding is its alone (IN_DEV_FORWARD).
TEST_F(DeviceConf, ForwardingPropagatesFromAll) {
  set("net.ipv4.conf.eth0.forwarding", "1");
  EXPECT_EQ(get("net.ipv4.ip_forward"), "0");
  EXPECT_EQ(effective(*eth0_, DevconfId::ipv4_forwarding), 1);
  EXPECT_EQ(effective(*vlan_, DevconfId::ipv4_forwarding), 0);
  set("net.ipv4.ip_forward", "1");
  for (const char* scope : {"all", "default", "eth0", "eth0/100", "lo"}) {
    EXPECT_EQ(get(fmt::format("net.ipv4.conf.{}.forwarding", scope)), "1") << scope;
  }
  set("net.ipv4.conf.all.forwarding", "0");
  EXPECT_EQ(get("net.ipv4.ip_forward"), "0");
  EXPECT_EQ(sysctl().value(SysctlId::ip_forward), 0);
  EXPECT_EQ(get("net.ipv4.conf.eth0.forwarding"), "0");
  set("net.ipv4.conf.default.forwarding", "1");
  EXPECT_EQ(get("net.ipv4.conf.eth0.forwarding"), "0");
  Device* later = make_channel(*net_, "eth1").value();
  EXPECT_EQ(get("net.ipv4.conf.eth1.forwarding"), "1");
  EXPECT_EQ(effective(*later, DevconfId::ipv4_forwarding), 1);
  EXPECT_EQ(get("net.ipv4.ip_forward"), "0");
}

// devinet_copy_dflt_conf: `default` reaches the devices that never wrote the
// key themselves, and is what a new device starts with.
TEST_F(DeviceConf, DefaultReachesDevicesThatNeverWroteTheKey) {
  set("net.ipv4.conf.eth0.rp_filter", "0");
  set("net.ipv4.conf.default.rp_filter", "2");
  EXPECT_EQ(get("net.ipv4.conf.eth0.rp_filter"), "0");
  EXPECT_EQ(get("net.ipv4.conf.eth0/100.rp_filter"), "2");  // sysctl(8)'s spelling of eth0.100
  EXPECT_EQ(get("net.ipv4.conf.eth0.100.rp_filter"), "2");
  EXPECT_EQ(get("net.ipv4.conf.lo.rp_filter"), "2");
  EXPECT_TRUE(make_channel(*net_, "eth1"));
  EXPECT_EQ(get("net.ipv4.conf.eth1.rp_filter"), "2");
  // Writing the table's default back does not make `default` forget.
  set("net.ipv4.conf.default.rp_filter", "0");
  EXPECT_EQ(get("net.ipv4.conf.eth1.rp_filter"), "0");
  EXPECT_EQ(get("net.ipv4.conf.eth0.rp_filter"), "0");
}

TEST_F(DeviceConf, BadWritesChangeNothing) {
  set("net.ipv4.conf.eth0.rp_filter", "1");
  const std::pair<const char*, const char*> bad[] = {
      {"net.ipv4.conf.eth0.rp_filter", "3"},   {"net.ipv4.conf.eth0.rp_filter", "-1"},
      {"net.ipv4.conf.eth0.rp_filter", "1 1"}, {"net.ipv4.conf.eth0.rp_filter", "x"},
      {"net.ipv4.conf.eth0.rp_filter", ""},    {"net.ipv4.conf.all.rp_filter", "9"},
      {"net.ipv4.conf.default.forwarding", "2"}, {"net.ipv4.ip_forward", "2"},
      {"net.ipv4.conf.all.forwarding", "one"},
  };
  for (auto [name, value] : bad) {
    EXPECT_EQ(sysctl().set(name, value).error(), Errc::invalid_argument) << name << " = " << value;
  }
  const char* unknown[] = {"net.ipv4.conf.eth9.rp_filter", "net.ipv4.conf.eth0.no_such_knob",
                           "net.ipv4.conf..rp_filter",      "net.ipv4.conf.rp_filter",
                           "net.ipv6.conf.eth0.rp_filter",  "net.ipv4.conf.eth0"};
  for (const char* name : unknown) {
    EXPECT_EQ(sysctl().set(name, "1").error(), Errc::no_such_file_or_directory) << name;
    EXPECT_EQ(sysctl().get(name).error(), Errc::no_such_file_or_directory) << name;
  }
  EXPECT_EQ(get("net.ipv4.conf.eth0.rp_filter"), "1");
  EXPECT_EQ(get("net.ipv4.conf.all.rp_filter"), "0");
  EXPECT_EQ(get("net.ipv4.conf.default.forwarding"), "0");
  EXPECT_EQ(get("net.ipv4.ip_forward"), "0");
  EXPECT_EQ(get("net.ipv4.conf.eth0.forwarding"), "0");
  // A table on its own has `all` and `default` but no devices to name.
  Sysctl alone;
  EXPECT_EQ(alone.get("net.ipv4.conf.eth0.accept_local").error(), Errc::no_such_file_or_directory);
  EXPECT_EQ(alone.get("net.ipv4.conf.all.accept_local").value(), "0");
  ASSERT_TRUE(alone.set("net.ipv4.conf.all.forwarding", "1"));
  EXPECT_EQ(alone.value(SysctlId::ip_forward), 1);
}

// A renamed device's names follow it (ip link set eth0 name wan0).
TEST_F(DeviceConf, RenamedDeviceKeepsItsValuesUnderItsNewName) {
  set("net.ipv4.conf.eth0.rp_filter", "1");
  ASSERT_TRUE(host_.move_device(*eth0_, *net_, "wan0"));
  EXPECT_EQ(get("net.ipv4.conf.wan0.rp_filter"), "1");
  EXPECT_EQ(sysctl().get("net.ipv4.conf.eth0.rp_filter").error(), Errc::no_such_file_or_directory);
  EXPECT_EQ(effective(*eth0_, DevconfId::ipv4_rp_filter), 1);
}

// Moved, a device takes its values along (as issue 13 asks, where Linux
// resets them), and `default` of its new namespace does not overwrite them.
TEST_F(DeviceConf, MovedDeviceTakesItsValuesAlong) {
  set("net.ipv4.conf.eth0.rp_filter", "2");
  set("net.ipv4.conf.eth0.forwarding", "1");
  NetRef other = host_.create_net("other").value();
  ASSERT_TRUE(other->sysctl().set("net.ipv4.conf.default.log_martians", "1"));
  ASSERT_TRUE(host_.move_device(*eth0_, *other));
  EXPECT_EQ(other->sysctl().get("net.ipv4.conf.eth0.rp_filter").value(), "2");
  EXPECT_EQ(other->sysctl().get("net.ipv4.conf.eth0.forwarding").value(), "1");
  EXPECT_EQ(other->sysctl().get("net.ipv4.conf.eth0.log_martians").value(), "0");
  EXPECT_EQ(other->sysctl().device_value(DevconfId::ipv4_forwarding, *eth0_), 1);
  EXPECT_EQ(sysctl().get("net.ipv4.conf.eth0.rp_filter").error(), Errc::no_such_file_or_directory);
  // From now on it is one of `other`'s devices: its `default` reaches it.
  ASSERT_TRUE(other->sysctl().set("net.ipv4.conf.default.accept_local", "1"));
  EXPECT_EQ(other->sysctl().get("net.ipv4.conf.eth0.accept_local").value(), "1");
  ASSERT_TRUE(host_.move_device(*eth0_, *net_, "eth7"));
  EXPECT_EQ(get("net.ipv4.conf.eth7.rp_filter"), "2");
}

// Destroyed, its names are gone and a new device of the same name starts
// from `default`.
TEST_F(DeviceConf, DestroyedDeviceTakesItsValuesAway) {
  set("net.ipv4.conf.eth0.rp_filter", "1");
  ASSERT_TRUE(destroy_device(*eth0_));
  poll();
  EXPECT_EQ(sysctl().get("net.ipv4.conf.eth0.rp_filter").error(), Errc::no_such_file_or_directory);
  EXPECT_EQ(sysctl().set("net.ipv4.conf.eth0.rp_filter", "2").error(), Errc::no_such_file_or_directory);
  Device* again = make_channel(*net_, "eth0").value();
  EXPECT_EQ(get("net.ipv4.conf.eth0.rp_filter"), "0");
  EXPECT_EQ(again->devconf(), nullptr);
}

// The bits the packet path tests (device_conf_on) agree with the values,
// through writes to every scope and a move into a namespace whose `all` differs.
TEST_F(DeviceConf, TheDevicesBitsFollowEveryWriteAndMove) {
  NetRef other = host_.create_net("other").value();
  ASSERT_TRUE(other->sysctl().set("net.ipv4.conf.all.rp_filter", "2"));
  auto agree = [&](const Net& net, const Device& dev) {
    for (std::size_t i = 0; i < kDevconfCount; ++i) {
      const auto id = static_cast<DevconfId>(i);
      EXPECT_EQ(device_conf_on(dev, id), device_conf(net.sysctl(), dev, id) != 0)
          << net.name() << " " << dev.name() << " " << devconf_info(id).name;
    }
  };
  agree(*net_, *eth0_);
  EXPECT_FALSE(device_conf_on(*eth0_, DevconfId::ipv4_rp_filter));
  EXPECT_TRUE(device_conf_on(*eth0_, DevconfId::ipv4_send_redirects));
  set("net.ipv4.conf.all.rp_filter", "1");
  EXPECT_TRUE(device_conf_on(*vlan_, DevconfId::ipv4_rp_filter));
  set("net.ipv4.conf.all.rp_filter", "0");
  set("net.ipv4.conf.default.log_martians", "1");
  set("net.ipv4.conf.eth0.forwarding", "1");
  set("net.ipv4.conf.all.accept_source_route", "1");
  for (const Device& dev : net_->devices()) agree(*net_, dev);
  EXPECT_TRUE(device_conf_on(*eth0_, DevconfId::ipv4_forwarding));
  EXPECT_FALSE(device_conf_on(*vlan_, DevconfId::ipv4_forwarding));
  ASSERT_TRUE(host_.move_device(*eth0_, *other));
  agree(*other, *eth0_);
  EXPECT_TRUE(device_conf_on(*eth0_, DevconfId::ipv4_rp_filter));  // other's all is 2
  EXPECT_FALSE(device_conf_on(*eth0_, DevconfId::ipv4_accept_source_route));  // other's all is 0
  Device* fresh = make_channel(*net_, "eth9").value();
  agree(*net_, *fresh);
  EXPECT_TRUE(device_conf_on(*fresh, DevconfId::ipv4_log_martians));
}

TEST_F(DeviceConf, EachNamespaceHasItsOwn) {
  NetRef other = host_.create_net("other").value();
  Device* other_eth0 = make_channel(*other, "eth0").value();
  set("net.ipv4.conf.eth0.log_martians", "1");
  set("net.ipv4.conf.all.rp_filter", "1");
  EXPECT_EQ(other->sysctl().get("net.ipv4.conf.eth0.log_martians").value(), "0");
  EXPECT_EQ(other->sysctl().device_value(DevconfId::ipv4_log_martians, *other_eth0), 0);
  EXPECT_EQ(other->sysctl().device_value(DevconfId::ipv4_rp_filter, *other_eth0), 0);
  EXPECT_EQ(effective(*eth0_, DevconfId::ipv4_log_martians), 1);
}

TEST_F(DeviceConf, DeviceNamesListEveryDeviceAndKey) {
  const std::vector<std::string> names = sysctl().device_names();
  EXPECT_EQ(names.size(), 3 * kDevconfCount);  // lo, eth0, eth0.100
  for (const char* name : {"net.ipv4.conf.lo.forwarding", "net.ipv4.conf.eth0.rp_filter",
                           "net.ipv4.conf.eth0/100.send_redirects"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
  for (const std::string& name : names) EXPECT_TRUE(sysctl().get(name)) << name;
}

// The family's listener hears every value that changed, once, and nothing
// for a write of the value already there.
class RecordingListener final : public DevconfListener {
 public:
  void on_devconf_change(Net& net, DevconfScope scope, Device* dev, DevconfId id, std::int32_t value) override {
    const char* where = scope == DevconfScope::all ? "all" : scope == DevconfScope::dflt ? "default" : "dev";
    seen.push_back(fmt::format("{} {} {} {}={}", net.name(), where, dev != nullptr ? dev->name() : "-",
                               devconf_info(id).name, value));
  }
  std::vector<std::string> seen;
};

TEST_F(DeviceConf, TheFamilysListenerHearsEachChange) {
  RecordingListener listener;
  host_.set_devconf_listener(DevconfFamily::ipv4, &listener);
  set("net.ipv4.conf.eth0.rp_filter", "1");
  set("net.ipv4.conf.eth0.rp_filter", "1");
  set("net.ipv4.ip_forward", "1");
  EXPECT_EQ(sysctl().set("net.ipv4.conf.eth0.rp_filter", "7").error(), Errc::invalid_argument);
  host_.set_devconf_listener(DevconfFamily::ipv4, nullptr);
  set("net.ipv4.conf.eth0.rp_filter", "2");
  const std::vector<std::string> expected = {
      "n dev eth0 rp_filter=1",      "n all - forwarding=1",          "n all - accept_redirects=0",
      "n default - forwarding=1",    "n dev lo forwarding=1",         "n dev eth0 forwarding=1",
      "n dev eth0.100 forwarding=1",
  };
  EXPECT_EQ(listener.seen, expected);
}

}  // namespace core_devconf_test
}  // namespace
}  // namespace netns
