// The differential rig of issue 14: one nft script loaded into a Linux
// router (the real `nft -f`) and into a netns router (nft::run), the same
// probes sent through both by the same Linux programs, and what the probers
// saw and what the rules counted compared.
//
//   Linux copy:  A1 (Linux) --veth-- R1 (Linux, nft)   --veth-- B1 (Linux)
//   netns copy:  A2 (Linux) --TAP--- R2 (netns, nft::run) --TAP-- B2 (Linux)
//
// Only the router differs: the probers, the servers behind the router and
// their kernels are the same, so the probes are byte-identical and every
// difference is the router's. A and B have two addresses each (the second a
// source only), R an address on each side, both families:
//
//   A  192.0.2.10, .11    2001:db8:1::10, ::11   (eth0; R's lan 192.0.2.1, 2001:db8:1::1)
//   B  198.51.100.10, .11 2001:db8:2::10, ::11   (eth0; R's wan 198.51.100.1, 2001:db8:2::1)
//
// R's interfaces have the same names on both copies (the TAPs' names; the
// Linux router's veth ends are created under them inside R1), which scripts
// read as $lan and $wan. Every host (A, B, both Rs) listens on TCP 22, 80,
// 81, 82 and 443 and echoes UDP 53, in both families; TCP 83 and UDP 54 are
// closed. ICMP error rate limits are off and neighbours stay reachable for
// an hour everywhere, so a probe's answer depends only on the rules.
//
// A probe run sends every probe of one side at once (a Python program in
// that side's A or B, both copies at the same time), waits until each has
// its answer or the window has passed (500 ms from the first send, half of
// TCP's first SYN retransmission timeout), then resets what connected, so every connection crosses the
// router as SYN, SYN-ACK, ACK, RST whatever the timing.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "netns/host.hpp"
#include "netns/tcp.hpp"
#include "netns/udp.hpp"
#include "support/linux_net.hpp"

namespace netns::support {

struct DiffProbe {
  enum class Kind { ping, tcp, udp };
  Kind kind = Kind::ping;
  std::string src, dst;
  int port = 0;  // tcp, udp
  std::string text() const;
};

// One side's probes, in the order they are sent; at most 128 (the echo
// identifiers of a run).
struct DiffProbeRun {
  char from = 'A';  // 'A' or 'B': which outside namespace sends them
  std::vector<DiffProbe> probes;
};

// What each prober saw, per probe: "established", "rst", "reply",
// "icmp TYPE/CODE from ADDR", "timeout" (dropped silently), or "error ..."
// when the probe could not be sent.
struct DiffOutcome {
  std::vector<std::string> linux_side, netns_side;
};

class NftDifferentialTest : public ::testing::Test {
 protected:
  static constexpr const char* kA1 = "192.0.2.10";
  static constexpr const char* kA2 = "192.0.2.11";
  static constexpr const char* kB1 = "198.51.100.10";
  static constexpr const char* kB2 = "198.51.100.11";
  static constexpr const char* kRlan = "192.0.2.1";
  static constexpr const char* kRwan = "198.51.100.1";
  static constexpr const char* kA1v6 = "2001:db8:1::10";
  static constexpr const char* kA2v6 = "2001:db8:1::11";
  static constexpr const char* kB1v6 = "2001:db8:2::10";
  static constexpr const char* kB2v6 = "2001:db8:2::11";
  static constexpr const char* kRlanV6 = "2001:db8:1::1";
  static constexpr const char* kRwanV6 = "2001:db8:2::1";

  void SetUp() override;
  void TearDown() override;

  // `script` (after `define lan = "…"` and `define wan = "…"`) into both
  // routers, replacing what they had (flush ruleset first). Fails the test
  // when either refuses it, and returns whether both took it.
  bool load(const std::string& script);
  // Runs each of `runs` on both copies (the runs one after the other, each
  // on both copies at once).
  std::vector<DiffOutcome> probe(const std::vector<DiffProbeRun>& runs);
  // `nft list ruleset` in R1, and list_ruleset in R2.
  std::string linux_listing();
  std::string netns_listing();

  // The probes every ruleset is judged on: from A (both sources, both
  // families) to B and to R's lan address, then from B (both sources) to A:
  // ping, TCP to 80 (open), 81 and 82 (open, for rules to drop or reject),
  // 83 (closed), 22 (open), UDP 53 (echo) and 54 (closed).
  static std::vector<DiffProbeRun> standard_probes();

  // load(script), the standard probes, then EXPECTs every probe's outcome
  // equal on both copies and the listings (with their counters) equal;
  // bytes are compared too when `compare_bytes` (false where a counted
  // packet is one R itself sent or answered: the two stacks' SYN-ACKs
  // carry different TCP options). Failures name the script, the probe and
  // both outcomes. Returns the outcomes (none when a router refused the script).
  std::vector<DiffOutcome> expect_same(const std::string& name, const std::string& script, bool compare_bytes);

  // For the ct test: whether R2's conntrack makes `ct state established`
  // match (a stateful forward chain with policy drop: a TCP connect to an
  // allowed port gets through, one to another port does not).
  bool netns_tracks_connections();

  Host host_{real_time_config()};
  NetRef r2_;
  std::string lan_, wan_;  // R's interface names on both copies

 private:
  static HostConfig real_time_config();
  std::vector<std::string> run_on_linux_side(const std::vector<std::string>& argv);
  void serve_netns_router();
  std::optional<LinuxNetns>& ns(char which, int copy);

  std::optional<LinuxNetns> a1_, r1_, b1_, a2_, b2_;
  std::vector<ChildProcess> servers_;
  std::vector<tcp::Listener> listeners_;
  std::vector<tcp::Stream> held_;
  std::vector<udp::Socket> echo_;
  std::string nft_path_;
  int probe_runs_ = 0;
};

}  // namespace netns::support
