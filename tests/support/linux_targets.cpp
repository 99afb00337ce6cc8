#include "support/linux_targets.hpp"

#include <fmt/format.h>

#include <sstream>

#include "netns/clock.hpp"
#include "netns/ipv4.hpp"
#include "netns/tap.hpp"
#include "support/fixtures.hpp"

namespace netns::support {
namespace {

std::map<std::string, std::map<std::string, std::string>> parse_answers(const std::string& output) {
  std::map<std::string, std::map<std::string, std::string>> out;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    const auto a = line.find(' ');
    const auto b = a == std::string::npos ? a : line.find(' ', a + 1);
    if (b == std::string::npos) continue;
    std::string target = line.substr(a + 1, b - a - 1);
    if (target == "netns" || target == "linux") out[line.substr(0, a)][target] = line.substr(b + 1);
  }
  return out;
}

}  // namespace

void expect_linux_said(const ProbeRun& run, std::initializer_list<std::pair<std::string, std::string>> said) {
  for (const auto& [probe, answer] : said) EXPECT_EQ(run.linux_said(probe), answer) << probe;
}

void expect_counted_alike(const CounterMap& linux_moved, const CounterMap& netns_moved,
                          std::initializer_list<std::string_view> mibs, bool (*ignored)(std::string_view)) {
  for (const std::string& name : moved_in(linux_moved, netns_moved, mibs)) {
    if (ignored != nullptr && ignored(name)) continue;
    EXPECT_EQ(counter(netns_moved, name), counter(linux_moved, name)) << name;
  }
}

ProbeRun LinuxTargetsTest::run_probes(const std::string& script, const std::vector<std::string>& args,
                                      std::size_t expected) {
  static constexpr auto kLimit = std::chrono::seconds(90);  // only reached on failure
  ProbeRun out;
  const CounterMap linux_before = kernel_counters(linux_target_name());
  const CounterMap netns_before = netns_counters(*dut_);
  EXPECT_FALSE(linux_before.empty()) << "cannot read the Linux target's counters";
  std::vector<std::string> argv{"/usr/bin/python3", "-"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto run = run_while_polling(host_, prober(argv), kLimit, {}, script);
  EXPECT_TRUE(run.ok()) << run.output;
  out.answers = parse_answers(run.output);
  EXPECT_EQ(out.answers.size(), expected) << run.output;
  for (const auto& [probe, by_target] : out.answers) {
    EXPECT_EQ(by_target.count("linux"), 1u) << probe;
    EXPECT_EQ(by_target.count("netns"), 1u) << probe;
    if (by_target.size() == 2) EXPECT_EQ(by_target.at("netns"), by_target.at("linux")) << probe;
  }
  out.linux_moved = counter_changes(linux_before, kernel_counters(linux_target_name()));
  out.netns_moved = counter_changes(netns_before, netns_counters(*dut_));
  return out;
}

HostConfig LinuxTargetsTest::real_time_config() {
  HostConfig config = test_config();
  config.start = Clock::now();
  config.utc_offset = system_utc_offset();
  return config;
}

void LinuxTargetsTest::SetUp() {
  if (auto why = kernel_test_skip_reason({"ip"})) GTEST_SKIP() << *why;
  for (std::string_view tool : tools_) {
    if (!tool_available(tool)) GTEST_SKIP() << fmt::format("the tool '{}' is not installed", tool);
  }
  auto prober = LinuxNetns::create(unique_linux_name("npp"));
  auto ref = LinuxNetns::create(unique_linux_name("npr"));
  if (!prober || !ref) GTEST_SKIP() << "cannot create Linux network namespaces";
  prober_.emplace(std::move(*prober));
  ref_.emplace(std::move(*ref));
  ASSERT_TRUE(prober_->ip({"link", "set", "lo", "up"}).ok());
  ASSERT_TRUE(ref_->ip({"link", "set", "lo", "up"}).ok());

  veth_ = unique_linux_name("npv");
  ref_interface_ = unique_linux_name("npw");
  const std::string& peer = ref_interface_;
  auto made = ip({"link", "add", veth_, "type", "veth", "peer", "name", peer});
  ASSERT_TRUE(made.ok()) << made.output;
  auto taken = prober_->take_interface(veth_, fmt::format("{}/24", kProberToLinux));
  ASSERT_TRUE(taken.ok()) << taken.output;
  taken = ref_->take_interface(peer, fmt::format("{}/24", kLinuxTarget));
  ASSERT_TRUE(taken.ok()) << taken.output;

  dut_ = host_.create_net("dut").value();
  tap_name_ = unique_linux_name("npt");
  auto tap = make_tap(*dut_, tap_name_);
  ASSERT_TRUE(tap) << tap.error().message();
  dut_tap_ = *tap;
  ASSERT_TRUE(set_link_up(*dut_tap_));
  ASSERT_TRUE(set_link_up(dut_->loopback()));
  ASSERT_TRUE(ipv4::add_address(*dut_, *dut_tap_, Ipv4Prefix::parse(fmt::format("{}/24", kNetnsTarget)).value()));
  taken = prober_->take_interface(tap_name_, fmt::format("{}/24", kProberToNetns));
  ASSERT_TRUE(taken.ok()) << taken.output;
  ASSERT_TRUE(prober_->wait_operstate_up(tap_name_));
  ASSERT_TRUE(ref_->wait_operstate_up(peer));

  listener_ = tcp::listen(*dut_, {Ipv4Address::any(), 80}).value();
  auto server = ChildProcess::spawn(ref_->exec_argv(
      {"/usr/bin/python3", "-c",
       "import socket,time\ns=socket.socket()\ns.bind(('0.0.0.0',80))\ns.listen()\n"
       "print('listening',flush=True)\ntime.sleep(300)"}));
  ASSERT_TRUE(server);
  ref_server_.emplace(std::move(*server));
  // Probes must not reach port 80 before Linux listens there.
  ASSERT_TRUE(poll_host_until(
      host_, [&] { return !ref_server_->running() || ref_server_->output().find("listening") != std::string::npos; },
      kCommandTimeout, &*ref_server_));
  ASSERT_TRUE(ref_server_->running()) << ref_server_->result().output;
}

}  // namespace netns::support
