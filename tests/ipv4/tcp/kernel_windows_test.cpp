// The handshake's windows compared with the Linux kernel's, through a TAP
// (issue 10, "Linux parity on the wire": nmap -O reads them). A Linux
// namespace L holds the TAP's kernel side (192.0.2.1) and a veth to a second
// Linux namespace R (198.51.100.1 - 198.51.100.2); netns sits behind the TAP
// (192.0.2.2). The same probe from L meets netns and Linux in R, both with
// Linux's default tcp_rmem of 4096 131072 6291456 and a 1500-byte MTU:
// - a SYN sent with scapy: the SYN-ACK's window, scale and MSS;
// - a connection to a listener in L that keeps the SYN (TCP_SAVE_SYN): the
//   SYN's window, scale and MSS.
// Skipped without root, /dev/net/tun, ip, nc or python3 with scapy.
#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "netns/host.hpp"
#include "netns/ipv4.hpp"
#include "netns/tap.hpp"
#include "netns/tcp.hpp"
#include "support/fixtures.hpp"
#include "support/linux_net.hpp"

namespace netns {
namespace {
namespace ipv4_tcp_kernel_windows_test {

constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kRmem = "4096 131072 6291456";

// argv: destination, port, timestamps (0/1). Prints "window wscale mss" of
// the SYN-ACK answering a Linux-like SYN.
constexpr const char* kSynProbe = R"(
import sys
from scapy.all import IP, TCP, sr1, conf
conf.verb = 0
dst, port, ts = sys.argv[1], int(sys.argv[2]), sys.argv[3] == '1'
opts = [('MSS', 1460), ('SAckOK', b'')] + ([('Timestamp', (12345, 0))] if ts else []) + [('NOP', None), ('WScale', 7)]
r = sr1(IP(dst=dst) / TCP(sport=40123, dport=port, flags='S', seq=1000, window=64240, options=opts), timeout=5)
if r is None or TCP not in r:
    sys.exit('no answer')
o = dict(r[TCP].options)
print(r[TCP].window, o.get('WScale', -1), o.get('MSS', -1))
)";

// argv: port. Accepts one connection and prints "window wscale mss" of its SYN.
constexpr const char* kSavedSyn = R"(
import socket, struct, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_TCP, 27, 1)  # TCP_SAVE_SYN
s.bind(('0.0.0.0', int(sys.argv[1])))
s.listen()
s.settimeout(15)
c, _ = s.accept()
syn = c.getsockopt(socket.IPPROTO_TCP, 28, 512)  # TCP_SAVED_SYN
tcp = syn[(syn[0] & 15) * 4:]
window = struct.unpack('!H', tcp[14:16])[0]
opts, i, wscale, mss = tcp[20:(tcp[12] >> 4) * 4], 0, -1, -1
while i < len(opts):
    kind = opts[i]
    if kind == 0: break
    if kind == 1: i += 1; continue
    if kind == 2: mss = struct.unpack('!H', opts[i + 2:i + 4])[0]
    if kind == 3: wscale = opts[i + 2]
    i += opts[i + 1]
print(window, wscale, mss, flush=True)
c.close()
)";

class KernelWindows : public ::testing::Test {
 protected:
  static constexpr Ipv4Address kLinuxL{192, 0, 2, 1};
  static constexpr Ipv4Address kNetns{192, 0, 2, 2};
  static constexpr auto kLimit = std::chrono::seconds(20);

  void SetUp() override {
    if (auto why = support::kernel_test_skip_reason({"ip", "nc"})) GTEST_SKIP() << *why;
    if (!support::run_command({kPython, "-c", "import scapy.all"}).ok()) {
      GTEST_SKIP() << kPython << " has no scapy (Debian: python3-scapy)";
    }
    auto l = support::LinuxNetns::create(support::unique_linux_name("nkl"));
    auto r = support::LinuxNetns::create(support::unique_linux_name("nkr"));
    if (!l || !r) GTEST_SKIP() << "cannot create Linux network namespaces";
    linux_l_.emplace(std::move(*l));
    linux_r_.emplace(std::move(*r));
    for (auto* ns : {&*linux_l_, &*linux_r_}) {
      ASSERT_TRUE(ns->ip({"link", "set", "lo", "up"}).ok());
      ASSERT_TRUE(support::run_command(ns->exec_argv({"sysctl", "-q", "-w", std::string("net.ipv4.tcp_rmem=") + kRmem})).ok());
    }
    // L - R over a veth.
    const std::string vl = support::unique_linux_name("nvl"), vr = support::unique_linux_name("nvr");
    ASSERT_TRUE(support::ip({"link", "add", vl, "type", "veth", "peer", "name", vr}).ok());
    ASSERT_TRUE(linux_l_->take_interface(vl, "198.51.100.1/24").ok());
    ASSERT_TRUE(linux_r_->take_interface(vr, "198.51.100.2/24").ok());
    // L - netns over a TAP.
    red_ = host_.create_net("red").value();
    const std::string tap_name = support::unique_linux_name("nt");
    auto tap = make_tap(*red_, tap_name);
    ASSERT_TRUE(tap) << tap.error().message();
    auto taken = linux_l_->take_interface(tap_name, "192.0.2.1/24");
    ASSERT_TRUE(taken.ok()) << taken.output;
    ASSERT_TRUE(set_link_up(**tap));
    ASSERT_TRUE(ipv4::add_address(*red_, **tap, Ipv4Prefix(kNetns, 24)));
    ASSERT_TRUE(linux_l_->wait_operstate_up(tap_name));
  }

  // "window wscale mss" of the SYN-ACK `dst` answers on `port`.
  std::string probe_syn(const std::string& dst, int port, bool timestamps) {
    auto r = support::run_while_polling(
        host_, linux_l_->exec_argv({kPython, "-c", kSynProbe, dst, std::to_string(port), timestamps ? "1" : "0"}),
        kLimit);
    EXPECT_TRUE(r.ok()) << r.output;
    return r.output;
  }

  // "window wscale mss" of the SYN of a connection `connect` makes to L.
  std::string saved_syn(int port, const std::function<void()>& connect) {
    auto listener = support::ChildProcess::spawn(linux_l_->exec_argv({kPython, "-c", kSavedSyn, std::to_string(port)}));
    EXPECT_TRUE(listener);
    if (!listener) return {};
    std::optional<Clock::time_point> last_attempt;
    support::poll_host_until(
        host_,
        [&] {
          // Until L listens, an attempt is refused: another a little later.
          const bool idle = !stream_.is_open() || stream_.state() == tcp::State::closed;
          if (idle && (!last_attempt || Clock::now() - *last_attempt > std::chrono::milliseconds(200))) {
            last_attempt = Clock::now();
            connect();
          }
          return !listener->running();
        },
        kLimit, &*listener);
    auto result = listener->result();
    EXPECT_TRUE(result.ok()) << result.output;
    return result.output;
  }

  HostConfig real_time_config() {
    HostConfig config = support::test_config(&messages_);
    config.start = Clock::now();
    return config;
  }

  std::vector<std::string> messages_;
  Host host_{real_time_config()};
  std::optional<support::LinuxNetns> linux_l_, linux_r_;
  NetRef red_;
  tcp::Stream stream_;
};

TEST_F(KernelWindows, SynAckIsLinuxs) {
  auto netns_listener = tcp::listen(*red_, {Ipv4Address::any(), 80}).value();
  auto linux_listener = support::ChildProcess::spawn(linux_r_->exec_argv({"nc", "-l", "-k", "-p", "80"}));
  ASSERT_TRUE(linux_listener);
  for (bool ts : {true, false}) {
    const std::string linux_synack = probe_syn("198.51.100.2", 80, ts);
    EXPECT_EQ(probe_syn("192.0.2.2", 80, ts), linux_synack) << "timestamps " << ts;
    EXPECT_EQ(linux_synack, ts ? "65160 7 1460\n" : "64240 7 1460\n");  // Linux 6.x on this machine
  }
}

TEST_F(KernelWindows, SynIsLinuxs) {
  const std::string linux_syn = saved_syn(5001, [&] {
    (void)support::run_command(linux_r_->exec_argv({"nc", "-z", "-w", "2", "198.51.100.1", "5001"}));
  });
  const std::string netns_syn = saved_syn(5002, [&] {
    auto s = tcp::connect(*red_, {kLinuxL, 5002});
    if (s) stream_ = std::move(*s);
  });
  EXPECT_EQ(netns_syn, linux_syn);
  EXPECT_EQ(linux_syn, "64240 7 1460\n");
}

}  // namespace ipv4_tcp_kernel_windows_test
}  // namespace
}  // namespace netns
