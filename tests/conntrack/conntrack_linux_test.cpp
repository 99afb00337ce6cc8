// Linux's conntrack as the judge: two Linux namespaces joined by a veth,
// conntrack enabled in the server's by an nft rule, TCP connections between
// them captured on the server's side; the same frames fed to netns's
// tracker must give the lines `conntrack -L` printed there (state, tuples,
// [UNREPLIED]/[ASSURED], mark, use), all but the seconds left.
#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "conntrack/conntrack.hpp"
#include "netns/conntrack.hpp"
#include "netns/host.hpp"
#include "netns/net.hpp"
#include "stack/builtins.hpp"
#include "support/fixtures.hpp"
#include "support/linux_net.hpp"

namespace netns {
namespace {
namespace conntrack_conntrack_linux_test {

using namespace std::chrono_literals;
using support::run_command;

// The seconds left (the third field) go: they differ by the time elapsed.
std::string without_timeout(const std::string& line) {
  static const std::regex timeout(R"(^(\S+\s+\d+) \d+ )");
  return std::regex_replace(line, timeout, "$1 _ ");  // "tcp      6 _ ESTABLISHED ..."
}

// The lines of `text` that mention `port`, without timeouts, sorted.
std::vector<std::string> lines_for(const std::string& text, int port) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  const std::string key = "dport=" + std::to_string(port) + " ";
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
    if (line.find(key) != std::string::npos) out.push_back(without_timeout(line));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Every datagram of `family` in an Ethernet capture, in order.
std::vector<std::vector<std::byte>> datagrams(const std::string& path, Family family) {
  const u_char ethertype_low = family == Family::ipv4 ? 0x00 : 0xdd;
  const u_char ethertype_high = family == Family::ipv4 ? 0x08 : 0x86;
  std::vector<std::vector<std::byte>> out;
  std::array<char, PCAP_ERRBUF_SIZE> errbuf{};
  pcap_t* in = pcap_open_offline(path.c_str(), errbuf.data());
  if (in == nullptr) {
    ADD_FAILURE() << "pcap_open_offline " << path << ": " << errbuf.data();
    return out;
  }
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  while (pcap_next_ex(in, &header, &data) == 1) {
    if (header->caplen < 34 || data[12] != ethertype_high || data[13] != ethertype_low) continue;
    const auto* first = reinterpret_cast<const std::byte*>(data) + 14;
    out.emplace_back(first, first + (header->caplen - 14));
  }
  pcap_close(in);
  return out;
}

constexpr const char* kServer = R"(
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[2] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[2], int(sys.argv[1]))); s.listen(4)
print("listening", flush=True)
for _ in range(2):
    c, _ = s.accept()
    data = c.recv(100)
    c.sendall(b"pong")
    if c.recv(100) == b"":
        c.close()
    else:
        c.close()
)";

// Closes after the exchange when argv[3] is "close"; else stays until killed.
constexpr const char* kClient = R"(
import socket, sys, time
c = socket.create_connection((sys.argv[2], int(sys.argv[1])))
c.sendall(b"ping"); c.recv(100)
if sys.argv[3] == "close":
    c.shutdown(socket.SHUT_WR); c.recv(100); c.close()
else:
    print("ready", flush=True); time.sleep(30)
)";

bool wait_for_output(support::ChildProcess& child, std::string_view text, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    child.running();
    if (child.output().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

struct JudgeFamily {
  Family family;
  const char* nft_family;  // ip, ip6
  const char* conntrack_family;  // conntrack -f
  const char* client;
  const char* server;
  int prefix_len;
};

// Two connections A -> B:8080 in Linux namespaces, the first closed, the
// second left open, conntrack on in B's; Linux's listing then, and netns's
// after the same captured frames.
void judge(const JudgeFamily& f) {
  if (auto why = support::kernel_test_skip_reason({"ip", "nft", "conntrack", "dumpcap"})) GTEST_SKIP() << *why;
  if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/python3";
  auto client_ns = support::LinuxNetns::create(support::unique_linux_name("ctc"));
  auto server_ns = support::LinuxNetns::create(support::unique_linux_name("cts"));
  ASSERT_TRUE(client_ns && server_ns);
  const std::string veth_c = support::unique_linux_name("cv"), veth_s = support::unique_linux_name("sv");
  ASSERT_TRUE(support::ip({"link", "add", veth_c, "type", "veth", "peer", "name", veth_s}).ok());
  const std::string len = "/" + std::to_string(f.prefix_len);
  if (f.family == Family::ipv4) {
    ASSERT_TRUE(client_ns->take_interface(veth_c, f.client + len).ok());
    ASSERT_TRUE(server_ns->take_interface(veth_s, f.server + len).ok());
  } else {
    // No duplicate address detection: the addresses work at once.
    for (auto [ns, dev, addr] : {std::tuple{&*client_ns, veth_c, f.client}, std::tuple{&*server_ns, veth_s, f.server}}) {
      ASSERT_TRUE(support::ip({"link", "set", dev, "netns", ns->name()}).ok());
      ASSERT_TRUE(ns->ip({"addr", "add", addr + len, "dev", dev, "nodad"}).ok());
      ASSERT_TRUE(ns->ip({"link", "set", dev, "up"}).ok());
    }
  }
  ASSERT_TRUE(server_ns->wait_operstate_up(veth_s));
  ASSERT_TRUE(client_ns->wait_operstate_up(veth_c));
  // Conntrack runs in the server's namespace only because this rule asks for it.
  const std::string fam = f.nft_family;
  for (const std::string& cmd : {"add table " + fam + " t", "add chain " + fam + " t c { type filter hook input priority 0; }",
                                 "add rule " + fam + " t c ct state new,established accept"}) {
    auto r = run_command(server_ns->exec_argv({"nft", cmd}));
    ASSERT_TRUE(r.ok()) << cmd << ": " << r.output;
  }
  const std::string pcap = "/tmp/" + support::unique_linux_name("ct") + ".pcap";
  // dumpcap stops by itself (and writes out what it holds, which a kill
  // would lose) well after the connections are done.
  auto capture = support::ChildProcess::spawn(
      server_ns->exec_argv({"dumpcap", "-P", "-a", "duration:10", "-i", veth_s, "-w", pcap}));
  ASSERT_TRUE(capture);
  ASSERT_TRUE(wait_for_output(*capture, "Capturing on", 10000ms)) << capture->output();

  auto server = support::ChildProcess::spawn(server_ns->exec_argv({"/usr/bin/python3", "-c", kServer, "8080", f.server}));
  ASSERT_TRUE(server);
  ASSERT_TRUE(wait_for_output(*server, "listening", 5000ms)) << server->output();
  auto closing = run_command(client_ns->exec_argv({"/usr/bin/python3", "-c", kClient, "8080", f.server, "close"}));
  ASSERT_TRUE(closing.ok()) << closing.output;
  auto open =
      support::ChildProcess::spawn(client_ns->exec_argv({"/usr/bin/python3", "-c", kClient, "8080", f.server, "open"}));
  ASSERT_TRUE(open);
  ASSERT_TRUE(wait_for_output(*open, "ready", 5000ms)) << open->output();
  std::this_thread::sleep_for(300ms);  // the last ACKs arrive
  auto listing = run_command(server_ns->exec_argv({"conntrack", "-L", "-f", f.conntrack_family}));
  ASSERT_TRUE(listing.ok()) << listing.output;
  const auto capture_end = std::chrono::steady_clock::now() + 20s;
  while (capture->running() && std::chrono::steady_clock::now() < capture_end) std::this_thread::sleep_for(50ms);
  ASSERT_FALSE(capture->running()) << capture->output();
  open->kill();
  server->kill();

  // The same frames through netns's tracker, as Linux's saw them: arriving
  // ones at prerouting, the server's own at output.
  VirtualClock clock;
  Host host(support::test_config());
  NetRef net = host.create_net("judge").value();
  auto& tracker = host.builtins().conntrack();
  const auto frames = datagrams(pcap, f.family);
  unlink(pcap.c_str());
  ASSERT_FALSE(frames.empty());
  const IpAddress server_address = IpAddress::parse(f.server).value();
  for (const auto& d : frames) {
    const auto at = conntrack::l4_position(f.family, d);
    const auto tuple = at ? conntrack::tuple_at(f.family, d, *at) : std::nullopt;
    const bool to_server = tuple && tuple->dst_address() == server_address;
    auto t = tracker.track(*net, f.family, d,
                           {.hook = to_server ? conntrack::Hook::prerouting : conntrack::Hook::output,
                            .checksum_verified = true});  // veth leaves checksums to the receiver
    if (t.ct) {
      EXPECT_TRUE(tracker.confirm(*net, t));
    }
  }
  const auto linux_lines = lines_for(listing.output, 8080);
  const auto netns_lines = lines_for(conntrack::dump(*net), 8080);
  ASSERT_EQ(linux_lines.size(), 2u) << listing.output;
  // The closed connection and the open one, as sorted: ESTABLISHED before TIME_WAIT.
  EXPECT_NE(linux_lines[0].find(" ESTABLISHED src="), std::string::npos) << linux_lines[0];
  EXPECT_NE(linux_lines[1].find(" TIME_WAIT src="), std::string::npos) << linux_lines[1];
  EXPECT_EQ(netns_lines, linux_lines) << "Linux:\n" << listing.output << "netns:\n" << conntrack::dump(*net);
}

TEST(ConntrackLinux, SameStatesAndTuplesAsLinuxConntrack) {
  judge({Family::ipv4, "ip", "ipv4", "192.0.2.1", "192.0.2.2", 24});
}

TEST(ConntrackLinux, SameStatesAndTuplesAsLinuxConntrackOverIpv6) {
  judge({Family::ipv6, "ip6", "ipv6", "2001:db8::1", "2001:db8::2", 64});
}

}  // namespace conntrack_conntrack_linux_test
}  // namespace
}  // namespace netns
