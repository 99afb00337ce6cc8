// bench/support/kernel_netns.hpp — two Linux network namespaces joined by a
// kernel veth, for benchmarks that compare netns with the kernel in one run.
//
// Root only. The namespaces are made with iproute2 (`ip netns add`), so they
// are named files under /var/run/netns; the destructor deletes them whatever
// happened in between, and the constructor first deletes leftovers of a run
// that was killed. Sockets are created inside a namespace by switching the
// calling thread there (setns) and back, so one thread can hold sockets of
// both namespaces.
//
//   bench::KernelNetnsPair pair("netns-bench", 1500);  // -a: 192.0.2.1/24, -b: 192.0.2.2/24
//                                                      // and 2001:db8::1/64, 2001:db8::2/64
//   if (!pair.ok()) { state.SkipWithError(pair.error().c_str()); return; }
//   int server = pair.socket_in(pair.b(), SOCK_STREAM);
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace bench {

// Runs a shell command, its output discarded; true when it exited 0.
inline bool run_quiet(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
}

inline sockaddr_in ipv4_socket_address(const char* ip, std::uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, ip, &sa.sin_addr);
  return sa;
}

// The calling thread inside a named Linux namespace for the guard's
// lifetime. Sockets made meanwhile belong to that namespace and keep it
// after the thread has gone back.
class EnterNetns {
 public:
  explicit EnterNetns(const std::string& name) {
    self_ = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int target = open(("/var/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    entered_ = self_ >= 0 && target >= 0 && setns(target, CLONE_NEWNET) == 0;
    if (target >= 0) close(target);
  }
  ~EnterNetns() {
    if (entered_ && setns(self_, CLONE_NEWNET) != 0) std::abort();  // never leave the thread elsewhere
    if (self_ >= 0) close(self_);
  }
  EnterNetns(const EnterNetns&) = delete;
  EnterNetns& operator=(const EnterNetns&) = delete;
  bool ok() const { return entered_; }

 private:
  int self_ = -1;
  bool entered_ = false;
};

// <prefix>-a (eth0 192.0.2.1/24, 2001:db8::1/64) — kernel veth — <prefix>-b
// (eth0 192.0.2.2/24, 2001:db8::2/64), both ends up with the given MTU
// (offloads at the kernel's defaults). The IPv6 addresses skip DAD (nodad),
// so they are usable at once.
class KernelNetnsPair {
 public:
  explicit KernelNetnsPair(std::string prefix, unsigned mtu = 1500)
      : a_(prefix + "-a"), b_(prefix + "-b") {
    remove();
    if (geteuid() != 0) {
      error_ = "needs root to create Linux network namespaces";
      return;
    }
    const std::string m = std::to_string(mtu);
    const bool made = run_quiet("ip netns add " + a_) && run_quiet("ip netns add " + b_) &&
                      run_quiet("ip -n " + a_ + " link add eth0 type veth peer name eth0 netns " + b_) &&
                      run_quiet("ip -n " + a_ + " link set eth0 mtu " + m) &&
                      run_quiet("ip -n " + b_ + " link set eth0 mtu " + m) &&
                      run_quiet("ip -n " + a_ + " addr add 192.0.2.1/24 dev eth0") &&
                      run_quiet("ip -n " + b_ + " addr add 192.0.2.2/24 dev eth0") &&
                      run_quiet("ip -n " + a_ + " addr add 2001:db8::1/64 dev eth0 nodad") &&
                      run_quiet("ip -n " + b_ + " addr add 2001:db8::2/64 dev eth0 nodad") &&
                      run_quiet("ip -n " + a_ + " link set eth0 up") &&
                      run_quiet("ip -n " + b_ + " link set eth0 up") &&
                      run_quiet("ip -n " + a_ + " link set lo up") && run_quiet("ip -n " + b_ + " link set lo up");
    if (!made) {
      remove();
      error_ = "could not create two Linux namespaces joined by a veth (mtu " + m + ") with iproute2";
    }
  }
  ~KernelNetnsPair() { remove(); }
  KernelNetnsPair(const KernelNetnsPair&) = delete;
  KernelNetnsPair& operator=(const KernelNetnsPair&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& a() const { return a_; }
  const std::string& b() const { return b_; }

  // `sysctl -w key=value` inside namespace `name`.
  bool sysctl(const std::string& name, const std::string& key_value) const {
    return run_quiet("ip netns exec " + name + " sysctl -qw " + key_value);
  }

  // socket(family, type, 0) inside namespace `name`; -1 on failure.
  static int socket_in(const std::string& name, int type, int family = AF_INET) {
    EnterNetns inside(name);
    return inside.ok() ? socket(family, type | SOCK_CLOEXEC, 0) : -1;
  }

 private:
  void remove() const {
    run_quiet("ip netns del " + a_);
    run_quiet("ip netns del " + b_);
  }
  std::string a_, b_;
  std::string error_;
};

}  // namespace bench
