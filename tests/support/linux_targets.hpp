// Two targets for the same probes, so that netns can be judged against the
// Linux kernel answer by answer: a prober in a Linux namespace reaches a
// netns namespace through a TAP and a Linux namespace through a veth. Both
// targets listen on TCP port 80 and nowhere else.
//
//   prober (Linux) --tap-- 192.0.2.2  netns "dut"   (192.0.2.1 on the prober)
//                  --veth- 198.51.100.2 Linux "ref" (198.51.100.1 on the prober)
//
//   class MyProbes : public support::LinuxTargetsTest {};
//   TEST_F(MyProbes, Same) {
//     auto linux_said = support::ChildProcess::spawn(prober({"nmap", ..., kLinuxTarget}));
//     auto netns_said = support::run_while_polling(host_, prober({"nmap", ..., kNetnsTarget}));
//   }
//
// SetUp skips the test (GTEST_SKIP) without root, /dev/net/tun, ip or the
// `tools` a derived fixture names, and fails it on any other set-up error.
// Everything it made in the kernel goes away with the fixture.
#pragma once

#include <chrono>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "netns/host.hpp"
#include "netns/tcp.hpp"
#include "support/linux_net.hpp"
#include "support/linux_path.hpp"

namespace netns::support {

// What a probe script made both targets say and count: its lines
// "<probe> <target> <answer>", the target "netns" or "linux".
struct ProbeRun {
  std::map<std::string, std::map<std::string, std::string>> answers;  // probe -> target -> answer
  CounterMap linux_moved, netns_moved;  // every counter's change over the run
  const std::string& linux_said(const std::string& probe) const { return answers.at(probe).at("linux"); }
};

// Linux's answers, probe by probe ("none" for silence), so that a broken
// set-up cannot pass by silence; netns's are held to Linux's by run_probes.
void expect_linux_said(const ProbeRun& run, std::initializer_list<std::pair<std::string, std::string>> said);
// Every counter of `mibs` (mib_of's names) that moved in either Linux's or
// netns's changes moved alike in both, but those `ignored` names (another
// timer moves them, say).
void expect_counted_alike(const CounterMap& linux_moved, const CounterMap& netns_moved,
                          std::initializer_list<std::string_view> mibs, bool (*ignored)(std::string_view) = nullptr);

class LinuxTargetsTest : public ::testing::Test {
 protected:
  static constexpr std::string_view kNetnsTarget = "192.0.2.2";
  static constexpr std::string_view kLinuxTarget = "198.51.100.2";
  static constexpr std::string_view kProberToNetns = "192.0.2.1";
  static constexpr std::string_view kProberToLinux = "198.51.100.1";

  // `tools`: programs the test runs in the prober besides ip.
  explicit LinuxTargetsTest(std::initializer_list<std::string_view> tools = {}) : tools_(tools) {}

  void SetUp() override;

  // argv run inside the prober's namespace.
  std::vector<std::string> prober(const std::vector<std::string>& argv) const { return prober_->exec_argv(argv); }
  // The Linux target's namespace, for kernel_counters().
  const std::string& linux_target_name() const { return ref_->name(); }
  // The Linux target's side of its veth.
  const std::string& linux_target_interface() const { return ref_interface_; }
  // Runs the python3 `script` in the prober with `args`: both targets must
  // give each of `expected` probes the same answer (checked here).
  ProbeRun run_probes(const std::string& script, const std::vector<std::string>& args, std::size_t expected);
  // argv run inside the Linux target's namespace.
  std::vector<std::string> in_linux_target(const std::vector<std::string>& argv) const {
    return ref_->exec_argv(argv);
  }

  Host host_{real_time_config()};
  NetRef dut_;            // the netns target
  Device* dut_tap_ = nullptr;
  tcp::Listener listener_;  // netns's port 80
  std::string tap_name_;  // the prober's side of the TAP
  std::string veth_;      // the prober's side of the veth

 private:
  // The real clock, and UTC for ICMP timestamps.
  static HostConfig real_time_config();

  std::vector<std::string_view> tools_;
  std::optional<LinuxNetns> prober_, ref_;
  std::string ref_interface_;
  std::optional<ChildProcess> ref_server_;  // Linux's port 80
};

}  // namespace netns::support
