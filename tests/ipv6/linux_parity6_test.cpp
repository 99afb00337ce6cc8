// IPv6 judged by Linux: the prober of support/linux_targets.hpp pings each
// target's link-local address with datagrams that go in fragments both
// ways, and the counters of reassembly, fragmentation and ICMPv6 (snmp6's,
// by type too) must move in the netns target as in the Linux one. Skipped
// without root, /dev/net/tun, ip or ping.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "netns/ipv6.hpp"
#include "support/linux_net.hpp"
#include "support/linux_path.hpp"
#include "support/linux_targets.hpp"

namespace netns {
namespace {
namespace ipv6_linux_parity6_test {

constexpr auto kLimit = std::chrono::seconds(30);  // only reached on failure

class LinuxParity6 : public support::LinuxTargetsTest {
 protected:
  LinuxParity6() : LinuxTargetsTest({"ping"}) {}

  // The netns target's link-local address on its TAP, once DAD is done.
  std::optional<Ipv6Address> netns_link_local() {
    for (const ipv6::AddressInfo& a : ipv6::addresses(*dut_)) {
      if (a.dev == dut_tap_ && a.prefix.address().is_link_local() && !a.tentative) return a.prefix.address();
    }
    return std::nullopt;
  }

  // The Linux target's, from `ip -6 -o addr show scope link`, once DAD is done.
  std::optional<std::string> linux_link_local() {
    auto shown = support::run_command(in_linux_target({"ip", "-6", "-o", "addr", "show", "scope", "link"}));
    const auto at = shown.output.find("inet6 ");
    if (!shown.ok() || at == std::string::npos || shown.output.find("tentative") != std::string::npos) {
      return std::nullopt;
    }
    const auto begin = at + 6;
    return shown.output.substr(begin, shown.output.find('/', begin) - begin);
  }

  // Whether the prober's own addresses are usable as sources.
  bool prober_ready() {
    auto shown = support::run_command(prober({"ip", "-6", "addr", "show", "tentative"}));
    return shown.ok() && shown.output.find("inet6") == std::string::npos;
  }
};

TEST_F(LinuxParity6, FragmentAndIcmp6CountersMoveAsLinuxsForFragmentedEchoes) {
  std::optional<std::string> linux_target;
  ASSERT_TRUE(support::poll_host_until(
      host_, [&] { return netns_link_local() && (linux_target = linux_link_local()) && prober_ready(); }, kLimit))
      << "duplicate address detection did not finish";
  const std::string netns_target = netns_link_local()->to_string();
  auto ping = [&](const std::string& target, const std::string& interface) {
    return prober({"ping", "-6", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "2", "-s", "3000",
                   target + "%" + interface});
  };
  const support::CounterMap linux_before = support::kernel_counters(linux_target_name());
  const support::CounterMap netns_before = support::netns_counters(*dut_);
  ASSERT_FALSE(linux_before.empty()) << "cannot read the Linux target's counters";
  auto on_linux = support::run_while_polling(host_, ping(*linux_target, veth_), kLimit);
  ASSERT_TRUE(on_linux.ok()) << on_linux.output;
  auto on_netns = support::run_while_polling(host_, ping(netns_target, tap_name_), kLimit);
  ASSERT_TRUE(on_netns.ok()) << on_netns.output;
  const auto linux_moved =
      support::counter_changes(linux_before, support::kernel_counters(linux_target_name()));
  const auto netns_moved = support::counter_changes(netns_before, support::netns_counters(*dut_));
  // What the echoes alone move: neighbour discovery and MLD, which either
  // side may send at its own time, are left out.
  for (const char* name :
       {"Ip6ReasmReqds", "Ip6ReasmOKs", "Ip6ReasmFails", "Ip6FragOKs", "Ip6FragCreates", "Icmp6InEchos",
        "Icmp6OutEchoReplies", "Icmp6InType128", "Icmp6OutType129"}) {
    EXPECT_EQ(support::counter(netns_moved, name), support::counter(linux_moved, name)) << name;
  }
  // What Linux counted: 3,048-byte datagrams in three fragments each way,
  // so that a silent target cannot pass.
  EXPECT_EQ(support::counter(linux_moved, "Ip6ReasmOKs"), 3u);
  EXPECT_EQ(support::counter(linux_moved, "Ip6FragCreates"), 9u);
  EXPECT_EQ(support::counter(linux_moved, "Icmp6OutType129"), 3u);
}

}  // namespace ipv6_linux_parity6_test
}  // namespace
}  // namespace netns
