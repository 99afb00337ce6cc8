// Linux on both sides of a netns NAT router (issue 14): a Linux namespace
// inside and one outside, each over a TAP of a netns router that runs nft's
// masquerade out of its outside TAP and a port forward in.
//
//   inside (Linux)          router (netns, nft::run)           outside (Linux)
//   eth0 192.0.2.10  --TAP-- lan 192.0.2.1 | wan 198.51.100.1 --TAP-- eth0 198.51.100.10
//        2001:db8:1::10       2001:db8:1::1 | 2001:db8:2::1           2001:db8:2::10
//
// The inside has a default route through the router; the outside has none,
// only its own subnet. So an answer from outside reaches the inside only if
// the router gave the inside's datagrams its own outside address, and the
// HTTP servers (a few lines of Python) report the peer they saw. Skipped
// without root, /dev/net/tun, ip, curl, ping or /usr/bin/python3.
#include <gtest/gtest.h>

#include <unistd.h>

#include <fmt/format.h>

#include <deque>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "netns/conntrack.hpp"
#include "netns/device.hpp"
#include "netns/host.hpp"
#include "netns/ipv4.hpp"
#include "netns/ipv6.hpp"
#include "netns/net.hpp"
#include "netns/nft.hpp"
#include "netns/tap.hpp"
#include "support/fixtures.hpp"
#include "support/linux_net.hpp"

namespace netns {
namespace {
namespace nat_nat_linux_test {

using namespace std::chrono_literals;
using support::ChildProcess;
using support::CommandResult;
using support::LinuxNetns;

constexpr const char* kPython = "/usr/bin/python3";
constexpr auto kServerLifetime = "120";  // seconds: the server ends by itself if the test dies

// An HTTP server on argv[1] port argv[2] that answers "peer ADDR" and logs
// the same line: the address its kernel saw the connection come from.
constexpr const char* kPeerServer = R"(
import http.server, socket, sys, time
class Peer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        line = 'peer %s\n' % self.client_address[0]
        print(line, end='', flush=True)
        body = line.encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server(http.server.HTTPServer):
    address_family = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
server = Server((sys.argv[1], int(sys.argv[2])), Peer)
server.timeout = 0.5
print('ready', flush=True)
end = time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:
    server.handle_request()
)";

struct Addresses {
  const char *inside, *router_lan, *router_wan, *outside;
  int prefix_len;
};
constexpr Addresses kV4{"192.0.2.10", "192.0.2.1", "198.51.100.1", "198.51.100.10", 24};
constexpr Addresses kV6{"2001:db8:1::10", "2001:db8:1::1", "2001:db8:2::1", "2001:db8:2::10", 64};

// The forwarded port: 8080 on the router to 80 inside, both families.
constexpr int kForwarded = 8080, kInsidePort = 80, kOutsidePort = 80;

void check(const CommandResult& r, const std::string& what) { ASSERT_TRUE(r.ok()) << what << ": " << r.output; }

class NatLinuxTest : public ::testing::TestWithParam<Family> {
 protected:
  void SetUp() override {
    if (auto why = support::kernel_test_skip_reason({"ip", "curl", "ping", "sysctl"})) GTEST_SKIP() << *why;
    if (::access(kPython, X_OK) != 0) GTEST_SKIP() << kPython << " is not installed";
    for (auto* slot : {&inside_, &outside_}) {
      auto made = LinuxNetns::create(support::unique_linux_name("nnl"));
      if (!made) GTEST_SKIP() << "cannot create Linux network namespaces";
      slot->emplace(std::move(*made));
    }
    make_router();
    ASSERT_FALSE(HasFatalFailure());
    wire(*inside_, lan_, kV4.inside, kV6.inside, true);
    wire(*outside_, wan_, kV4.outside, kV6.outside, false);
    ASSERT_FALSE(HasFatalFailure());
    for (auto* ns : {&inside_, &outside_}) ASSERT_TRUE((*ns)->wait_operstate_up("eth0"));
  }

  void TearDown() override { servers_.clear(); }  // before the namespaces go

  // The netns router: a TAP on each side, forwarding both families.
  void make_router() {
    router_ = host_.create_net("router").value();
    ASSERT_TRUE(set_link_up(router_->loopback()));
    ASSERT_TRUE(router_->sysctl().set("net.ipv4.ip_forward", "1"));
    ASSERT_TRUE(router_->sysctl().set("net.ipv6.conf.all.forwarding", "1"));
    lan_ = support::unique_linux_name("nnl");
    wan_ = support::unique_linux_name("nnw");
    for (const auto& [name, v4, v6] : {std::tuple{lan_, kV4.router_lan, kV6.router_lan},
                                       std::tuple{wan_, kV4.router_wan, kV6.router_wan}}) {
      auto tap = make_tap(*router_, name);
      ASSERT_TRUE(tap) << tap.error().message();
      // Usable at once: no DAD, and no router advertisements taken.
      ASSERT_TRUE(router_->sysctl().set(fmt::format("net.ipv6.conf.{}.accept_dad", name), "0"));
      ASSERT_TRUE(router_->sysctl().set(fmt::format("net.ipv6.conf.{}.accept_ra", name), "0"));
      ASSERT_TRUE(set_link_up(**tap));
      ASSERT_TRUE(ipv4::add_address(*router_, **tap, Ipv4Prefix::parse(fmt::format("{}/24", v4)).value()));
      ASSERT_TRUE(ipv6::add_address(*router_, **tap, Ipv6Prefix::parse(fmt::format("{}/64", v6)).value()));
    }
  }

  // Moves the TAP's Linux end into `ns` as eth0 with the host's addresses;
  // only the inside gets a default route.
  void wire(const LinuxNetns& ns, const std::string& tap, const char* v4, const char* v6, bool inside) {
    check(support::run_command(ns.exec_argv({"sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0",
                                    "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_ra=0",
                                    "net.ipv6.conf.default.accept_ra=0"})),
          "sysctl");
    check(support::ip({"link", "set", tap, "netns", ns.name()}), "TAP move");
    check(ns.ip({"link", "set", tap, "name", "eth0"}), "TAP rename");
    check(ns.ip({"link", "set", "lo", "up"}), "lo");
    check(ns.ip({"addr", "add", fmt::format("{}/{}", v4, kV4.prefix_len), "dev", "eth0"}), "address");
    check(ns.ip({"-6", "addr", "add", fmt::format("{}/{}", v6, kV6.prefix_len), "dev", "eth0", "nodad"}), "address");
    check(ns.ip({"link", "set", "eth0", "up"}), "eth0 up");
    if (!inside) return;
    check(ns.ip({"route", "add", "default", "via", kV4.router_lan}), "route");
    check(ns.ip({"-6", "route", "add", "default", "via", kV6.router_lan, "dev", "eth0"}), "route");
  }

  // Masquerade out of wan and the port forward in, both families.
  void load_nat() {
    const std::string script = fmt::format(
        "table ip nat {{\n"
        "  chain pre {{\n"
        "    type nat hook prerouting priority dstnat; policy accept;\n"
        "    iifname \"{wan}\" tcp dport {fwd} dnat to {in4}:{port}\n"
        "  }}\n"
        "  chain post {{\n"
        "    type nat hook postrouting priority srcnat; policy accept;\n"
        "    oifname \"{wan}\" masquerade\n"
        "  }}\n"
        "}}\n"
        "table ip6 nat {{\n"
        "  chain pre {{\n"
        "    type nat hook prerouting priority dstnat; policy accept;\n"
        "    iifname \"{wan}\" tcp dport {fwd} dnat to [{in6}]:{port}\n"
        "  }}\n"
        "  chain post {{\n"
        "    type nat hook postrouting priority srcnat; policy accept;\n"
        "    oifname \"{wan}\" masquerade\n"
        "  }}\n"
        "}}\n",
        fmt::arg("wan", wan_), fmt::arg("fwd", kForwarded), fmt::arg("in4", kV4.inside),
        fmt::arg("port", kInsidePort), fmt::arg("in6", kV6.inside));
    std::string diagnostics;
    ASSERT_TRUE(nft::run(*router_, script, diagnostics)) << diagnostics << "\n" << script;
  }

  bool v6() const { return GetParam() == Family::ipv6; }
  const Addresses& addrs() const { return v6() ? kV6 : kV4; }
  static std::string url(const char* address, int port) {
    return std::string(address).find(':') != std::string::npos ? fmt::format("http://[{}]:{}/", address, port)
                                                               : fmt::format("http://{}:{}/", address, port);
  }

  // The peer-reporting server on address:port in `ns` once it listens;
  // null (the test failed) when it did not start.
  ChildProcess* serve(const LinuxNetns& ns, const char* address, int port) {
    auto server =
        ChildProcess::spawn(ns.exec_argv({kPython, "-c", kPeerServer, address, std::to_string(port), kServerLifetime}));
    EXPECT_TRUE(server) << server.error().message();
    if (!server) return nullptr;
    ChildProcess& s = servers_.emplace_back(std::move(*server));
    const bool up = support::poll_host_until(
        host_, [&] { return !s.running() || s.output().find("ready") != std::string::npos; }, support::kCommandTimeout,
        &s);
    EXPECT_TRUE(up && s.running()) << s.output();
    return up && s.running() ? &s : nullptr;
  }

  // curl in `ns` while the router runs; "-g" keeps IPv6 brackets literal,
  // and no proxy from the environment stands between.
  CommandResult curl(const LinuxNetns& ns, const std::string& target) {
    return support::run_while_polling(
        host_, ns.exec_argv({"curl", "-sS", "-g", "--noproxy", "*", "--max-time", "10", target}));
  }

  // Polls until the server has logged `line` (its output arrives when it is read).
  bool server_logged(ChildProcess& server, const std::string& line) {
    return support::poll_host_until(
        host_, [&] { return !server.running() || server.output().find(line) != std::string::npos; }, 2s, &server) &&
           server.output().find(line) != std::string::npos;
  }

  CommandResult ping(const LinuxNetns& ns, const char* to, const char* count, const char* wait) {
    return support::run_while_polling(host_, ns.exec_argv({"ping", "-n", "-c", count, "-i", "0.2", "-W", wait, to}));
  }

  static HostConfig real_time_config() {
    HostConfig config = support::test_config();
    config.start = Clock::now();
    config.utc_offset = system_utc_offset();
    return config;
  }

  Host host_{real_time_config()};
  NetRef router_;
  std::string lan_, wan_;
  std::optional<LinuxNetns> inside_, outside_;
  std::deque<ChildProcess> servers_;  // stable addresses: serve() hands them out
};

INSTANTIATE_TEST_SUITE_P(BothFamilies, NatLinuxTest, ::testing::Values(Family::ipv4, Family::ipv6),
                         [](const auto& info) { return info.param == Family::ipv4 ? "Ipv4" : "Ipv6"; });

TEST_P(NatLinuxTest, CurlFromInsideReachesAServerOutsideThatSeesTheRouter) {
  ASSERT_NO_FATAL_FAILURE(load_nat());
  ChildProcess* server = serve(*outside_, addrs().outside, kOutsidePort);
  ASSERT_NE(server, nullptr);
  const CommandResult got = curl(*inside_, url(addrs().outside, kOutsidePort));
  const std::string seen = fmt::format("peer {}\n", addrs().router_wan);
  ASSERT_TRUE(got.ok()) << got.output << "\n" << conntrack::dump(*router_);
  EXPECT_EQ(got.output, seen);
  EXPECT_TRUE(server_logged(*server, seen)) << server->output();
  // One TCP connection, translated: its reply comes back to the router.
  const std::string table = conntrack::dump(*router_);
  EXPECT_NE(table.find(fmt::format("dst={} sport={}", addrs().router_wan, kOutsidePort)), std::string::npos)
      << table;
}

TEST_P(NatLinuxTest, APortOnTheRouterReachesAServerInsideThatSeesTheClient) {
  ASSERT_NO_FATAL_FAILURE(load_nat());
  ChildProcess* server = serve(*inside_, addrs().inside, kInsidePort);
  ASSERT_NE(server, nullptr);
  const int forwarded = kForwarded;
  const CommandResult got = curl(*outside_, url(addrs().router_wan, forwarded));
  // Destination NAT only: the inside server sees the outside client itself.
  const std::string seen = fmt::format("peer {}\n", addrs().outside);
  ASSERT_TRUE(got.ok()) << got.output << "\n" << conntrack::dump(*router_);
  EXPECT_EQ(got.output, seen);
  EXPECT_TRUE(server_logged(*server, seen)) << server->output();
}

TEST_P(NatLinuxTest, PingCrossesTheMasqueradeAndNothingElseDoes) {
  // Without the rules the outside has no way back to the inside.
  const CommandResult lost = ping(*inside_, addrs().outside, "1", "1");
  EXPECT_FALSE(lost.ok()) << lost.output;
  ASSERT_NO_FATAL_FAILURE(load_nat());
  const CommandResult got = ping(*inside_, addrs().outside, "3", "2");
  EXPECT_TRUE(got.ok()) << got.output << "\n" << conntrack::dump(*router_);
  EXPECT_NE(got.output.find("3 received"), std::string::npos) << got.output;
  const std::string table = conntrack::dump(*router_);
  EXPECT_NE(table.find(fmt::format("dst={} type=", addrs().router_wan)), std::string::npos) << table;
}

TEST_P(NatLinuxTest, TheOutsideCannotReachTheInsideExceptThroughTheForwardedPort) {
  ASSERT_NO_FATAL_FAILURE(load_nat());
  ASSERT_NE(serve(*inside_, addrs().inside, kInsidePort), nullptr);
  // The outside has no route to the inside's subnet: only the router's
  // address is reachable, and only the forwarded port leads in.
  const CommandResult direct = curl(*outside_, url(addrs().inside, kInsidePort));
  EXPECT_FALSE(direct.ok()) << direct.output;
  const int other = kForwarded + 1;
  const CommandResult closed = curl(*outside_, url(addrs().router_wan, other));
  EXPECT_FALSE(closed.ok()) << closed.output;
  EXPECT_EQ(closed.output.find("peer"), std::string::npos) << closed.output;
}

}  // namespace nat_nat_linux_test
}  // namespace
}  // namespace netns
