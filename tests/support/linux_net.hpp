// Helpers for tests that put the Linux kernel on the other side of a device
// (TAP, later DPDK): Linux network namespaces made and deleted by RAII, child
// processes (ip, ping, curl, nc) run with a timeout while a Host is polled on
// the real clock, and the checks that decide whether such a test can run.
//
//   if (auto why = support::kernel_test_skip_reason({"ip", "ping"})) GTEST_SKIP() << *why;
//   auto ns = support::LinuxNetns::create(support::unique_linux_name("nnt-tap")).value();
//   ASSERT_TRUE(ns.ip({"link", "set", "lo", "up"}).ok());
//   auto ping = support::run_while_polling(host, ns.exec_argv({"ping", "-c", "3", "192.0.2.2"}));
//   EXPECT_TRUE(ping.ok()) << ping.output;
//
// Every name a test gives the kernel must be unique per test and per process
// (ctest runs two test processes at once): unique_linux_name puts the pid and
// a counter in it. Every loop here is bounded by a deadline.
#pragma once

#include <chrono>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include "netns/clock.hpp"
#include "netns/result.hpp"

namespace netns {
class Host;
}

namespace netns::support {

inline constexpr auto kCommandTimeout = std::chrono::seconds(20);

// Why a test talking to the kernel cannot run here (not root, no
// /dev/net/tun, one of `tools` not on PATH), or nullopt when it can.
std::optional<std::string> kernel_test_skip_reason(std::initializer_list<std::string_view> tools);
bool tool_available(std::string_view tool);

// "<prefix><pid>-<n>", n counting up per process; at most 15 bytes (an
// interface name) when the prefix is at most 3 bytes.
std::string unique_linux_name(std::string_view prefix);

struct CommandResult {
  int exit_code = -1;      // -1 when it did not exit normally (killed, timed out, not started)
  bool timed_out = false;
  std::string output;      // stdout and stderr, interleaved
  bool ok() const { return exit_code == 0; }
};

// A child process whose stdout and stderr go to one pipe the test reads,
// and whose stdin is a pipe the test may write to. Killed (SIGKILL) and
// reaped when destroyed while still running.
class ChildProcess {
 public:
  // posix_spawnp(argv); `input` is written to its stdin, which is then closed.
  static Result<ChildProcess> spawn(const std::vector<std::string>& argv, std::string_view input = {});
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ~ChildProcess();

  // Collects available output and reaps the child if it exited; true while it runs.
  bool running();
  // Output so far.
  const std::string& output() const { return output_; }
  // The descriptor that turns readable when output arrives (for poll(2)).
  int output_fd() const { return out_fd_; }
  // SIGKILL and reap; the result says timed_out.
  void kill();
  // Once it is no longer running: how it ended and everything it printed.
  CommandResult result() const;

 private:
  ChildProcess(pid_t pid, int out_fd) : pid_(pid), out_fd_(out_fd) {}
  void drain_output();

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int status_ = 0;
  bool exited_ = false;
  bool killed_ = false;
  std::string output_;
};

// Polls `host` with the real clock until done() or `timeout`, sleeping in
// ppoll(2) on the host's polled devices (and the output of `child`, when
// given) until its next deadline, at most a few milliseconds at a time.
// Returns done().
bool poll_host_until(Host& host, const std::function<bool()>& done, Clock::duration timeout,
                     ChildProcess* child = nullptr);
// The same, also waking when one of `wake_fds` turns readable (an eventfd a
// thread writes when it has finished). The sleep is as precise as ppoll's
// nanoseconds: a netem delay of 1 ms stays 1 ms, not 2.
bool poll_host_until(Host& host, const std::function<bool()>& done, Clock::duration timeout,
                     std::span<const int> wake_fds);

// Runs argv to the end (or kills it at `timeout`) while polling `host`;
// `each_round` runs after every poll (a server the test plays in netns).
CommandResult run_while_polling(Host& host, const std::vector<std::string>& argv,
                                Clock::duration timeout = kCommandTimeout,
                                const std::function<void()>& each_round = {},
                                std::string_view input = {});

// Runs argv to the end without a Host (configuration commands).
CommandResult run_command(const std::vector<std::string>& argv, Clock::duration timeout = kCommandTimeout);

// A Linux network namespace (ip netns add), deleted (ip netns del) on destruction.
class LinuxNetns {
 public:
  // file_exists when the name is taken; io_error when `ip netns add` fails otherwise.
  static Result<LinuxNetns> create(std::string name);
  LinuxNetns(LinuxNetns&& other) noexcept : name_(std::move(other.name_)) { other.name_.clear(); }
  LinuxNetns& operator=(LinuxNetns&&) = delete;
  ~LinuxNetns();

  const std::string& name() const { return name_; }
  // {"ip", "netns", "exec", NAME, argv...}
  std::vector<std::string> exec_argv(const std::vector<std::string>& argv) const;
  // ip -n NAME args..., run to the end.
  CommandResult ip(const std::vector<std::string>& args) const;
  // Moves `interface` from the test's own Linux namespace into this one,
  // gives it `prefix` (e.g. "192.0.2.1/24") and brings it up. Stops at the
  // first failing command and returns its result.
  CommandResult take_interface(const std::string& interface, const std::string& prefix) const;
  // Waits until the interface's operstate is UP: Linux's linkwatch has seen
  // its carrier, and it transmits (before that its frames are dropped).
  bool wait_operstate_up(const std::string& interface, Clock::duration timeout = std::chrono::seconds(5)) const;

 private:
  explicit LinuxNetns(std::string name) : name_(std::move(name)) {}
  std::string name_;
};

// The calling thread inside a Linux namespace made by `ip netns add` for the
// guard's lifetime (setns): for drivers that open a kernel interface by name
// from the calling thread's namespace (DPDK's net_tap and net_af_packet).
class EnterNetns {
 public:
  explicit EnterNetns(const std::string& name);
  ~EnterNetns();  // back to the thread's own namespace; aborts if it cannot
  EnterNetns(const EnterNetns&) = delete;
  EnterNetns& operator=(const EnterNetns&) = delete;
  bool ok() const { return entered_; }

 private:
  int self_ = -1;
  bool entered_ = false;
};

// `ip args...` in the test's own Linux namespace.
CommandResult ip(const std::vector<std::string>& args);

}  // namespace netns::support
