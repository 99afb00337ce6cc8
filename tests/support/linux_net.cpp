#include "support/linux_net.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "netns/host.hpp"

extern char** environ;

namespace netns::support {

namespace {

constexpr auto kMaxSleep = std::chrono::milliseconds(5);

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Writes all of `data`, then closes: the child sees its input end.
void feed_and_close(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  ::close(fd);
}

timespec sleep_until(Clock::time_point next, Clock::time_point now) {
  if (next <= now) return {0, 0};
  const auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(std::min<Clock::duration>(next - now, kMaxSleep));
  return {static_cast<time_t>(wait.count() / 1'000'000'000), static_cast<long>(wait.count() % 1'000'000'000)};
}

}  // namespace

bool tool_available(std::string_view tool) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
  while (!dirs.empty()) {
    auto colon = dirs.find(':');
    std::string_view dir = dirs.substr(0, colon);
    std::string candidate = fmt::format("{}/{}", dir.empty() ? "." : dir, tool);
    if (::access(candidate.c_str(), X_OK) == 0) return true;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return false;
}

std::optional<std::string> kernel_test_skip_reason(std::initializer_list<std::string_view> tools) {
  if (::geteuid() != 0) return "needs root (CAP_NET_ADMIN) for TAP interfaces and Linux namespaces";
  if (::access("/dev/net/tun", R_OK | W_OK) != 0) return "/dev/net/tun is missing or not usable";
  for (std::string_view tool : tools) {
    if (!tool_available(tool)) return fmt::format("the tool '{}' is not installed", tool);
  }
  return std::nullopt;
}

std::string unique_linux_name(std::string_view prefix) {
  static std::atomic<unsigned> counter{0};
  return fmt::format("{}{}-{}", prefix, ::getpid(), counter.fetch_add(1));
}

// ---- ChildProcess ----

Result<ChildProcess> ChildProcess::spawn(const std::vector<std::string>& argv, std::string_view input) {
  if (argv.empty()) return error(Errc::invalid_argument);
  // A child that exits before reading its input must not kill the test with SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  int out[2];
  int in[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return errno_error(errno);
  if (::pipe2(in, O_CLOEXEC) != 0) {
    const int err = errno;
    ::close(out[0]);
    ::close(out[1]);
    return errno_error(err);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  ::close(in[0]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(in[1]);
    return errno_error(rc);
  }
  feed_and_close(in[1], input);
  ::fcntl(out[0], F_SETFL, ::fcntl(out[0], F_GETFL) | O_NONBLOCK);
  return ChildProcess(pid, out[0]);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      out_fd_(std::exchange(other.out_fd_, -1)),
      status_(other.status_),
      exited_(other.exited_),
      killed_(other.killed_),
      output_(std::move(other.output_)) {}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exited_) kill();
  close_fd(out_fd_);
}

void ChildProcess::drain_output() {
  char buf[4096];
  while (out_fd_ >= 0) {
    ssize_t n = ::read(out_fd_, buf, sizeof buf);
    if (n > 0) {
      output_.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) close_fd(out_fd_);  // every writer is gone
    break;
  }
}

bool ChildProcess::running() {
  drain_output();
  if (exited_ || pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) return true;
  exited_ = true;
  status_ = status;
  drain_output();
  return false;
}

void ChildProcess::kill() {
  if (pid_ <= 0 || exited_) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  exited_ = true;
  killed_ = true;
  status_ = status;
  drain_output();
}

CommandResult ChildProcess::result() const {
  CommandResult r;
  r.timed_out = killed_;
  r.output = output_;
  if (exited_ && !killed_ && WIFEXITED(status_)) r.exit_code = WEXITSTATUS(status_);
  return r;
}

// ---- driving a Host while children run ----

namespace {

// ppoll on the Host's polled devices, `child`'s output (looked up each round:
// it closes when the child exits) and `wake_fds`.
bool poll_loop(Host& host, const std::function<bool()>& done, Clock::duration timeout, ChildProcess* child,
               std::span<const int> wake_fds) {
  const auto deadline = Clock::now() + timeout;
  std::vector<pollfd> fds;
  for (;;) {
    const Clock::time_point next = host.poll(Clock::now());
    if (done()) return true;
    const auto now = Clock::now();
    if (now >= deadline) return false;
    fds.clear();
    for (Device* dev : host.polled_devices()) {
      if (dev->rx_fd() >= 0) fds.push_back({dev->rx_fd(), POLLIN, 0});
    }
    if (child != nullptr && child->output_fd() >= 0) fds.push_back({child->output_fd(), POLLIN, 0});
    for (int fd : wake_fds) fds.push_back({fd, POLLIN, 0});
    const timespec wait = sleep_until(std::min(next, deadline), now);
    ::ppoll(fds.data(), fds.size(), &wait, nullptr);
  }
}

}  // namespace

bool poll_host_until(Host& host, const std::function<bool()>& done, Clock::duration timeout,
                     ChildProcess* child) {
  return poll_loop(host, done, timeout, child, {});
}

bool poll_host_until(Host& host, const std::function<bool()>& done, Clock::duration timeout,
                     std::span<const int> wake_fds) {
  return poll_loop(host, done, timeout, nullptr, wake_fds);
}

CommandResult run_while_polling(Host& host, const std::vector<std::string>& argv, Clock::duration timeout,
                                const std::function<void()>& each_round, std::string_view input) {
  auto child = ChildProcess::spawn(argv, input);
  if (!child) return {.output = fmt::format("could not start {}: {}", argv.at(0), child.error().message())};
  const bool ended = poll_host_until(
      host,
      [&] {
        if (each_round) each_round();
        return !child->running();
      },
      timeout, &*child);
  if (!ended) child->kill();
  return child->result();
}

CommandResult run_command(const std::vector<std::string>& argv, Clock::duration timeout) {
  auto child = ChildProcess::spawn(argv);
  if (!child) return {.output = fmt::format("could not start {}: {}", argv.at(0), child.error().message())};
  const auto deadline = Clock::now() + timeout;
  while (child->running()) {
    if (Clock::now() >= deadline) {
      child->kill();
      break;
    }
    pollfd fd{child->output_fd(), POLLIN, 0};
    // Once the output pipe is closed only the exit remains: wait in small steps.
    if (fd.fd >= 0) ::poll(&fd, 1, 10);
    else std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return child->result();
}

CommandResult ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv);
}

// ---- LinuxNetns ----

Result<LinuxNetns> LinuxNetns::create(std::string name) {
  CommandResult r = support::ip({"netns", "add", name});
  if (!r.ok()) {
    if (r.output.find("File exists") != std::string::npos) return error(Errc::file_exists);
    return error(Errc::io_error);
  }
  return LinuxNetns(std::move(name));
}

LinuxNetns::~LinuxNetns() {
  if (!name_.empty()) (void)support::ip({"netns", "del", name_});
}

std::vector<std::string> LinuxNetns::exec_argv(const std::vector<std::string>& argv) const {
  std::vector<std::string> full{"ip", "netns", "exec", name_};
  full.insert(full.end(), argv.begin(), argv.end());
  return full;
}

CommandResult LinuxNetns::ip(const std::vector<std::string>& args) const {
  std::vector<std::string> full{"-n", name_};
  full.insert(full.end(), args.begin(), args.end());
  return support::ip(full);
}

CommandResult LinuxNetns::take_interface(const std::string& interface, const std::string& prefix) const {
  CommandResult r = support::ip({"link", "set", interface, "netns", name_});
  if (!r.ok()) return r;
  r = ip({"addr", "add", prefix, "dev", interface});
  if (!r.ok()) return r;
  return ip({"link", "set", interface, "up"});
}

bool LinuxNetns::wait_operstate_up(const std::string& interface, Clock::duration timeout) const {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (ip({"link", "show", interface}).output.find("state UP") != std::string::npos) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

EnterNetns::EnterNetns(const std::string& name) {
  self_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  int target = ::open(("/var/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  entered_ = self_ >= 0 && target >= 0 && ::setns(target, CLONE_NEWNET) == 0;
  if (target >= 0) ::close(target);
}

EnterNetns::~EnterNetns() {
  if (entered_ && ::setns(self_, CLONE_NEWNET) != 0) std::abort();  // never leave the thread elsewhere
  if (self_ >= 0) ::close(self_);
}

}  // namespace netns::support
