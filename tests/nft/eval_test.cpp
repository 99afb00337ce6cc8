// nft_do_chain on datagrams built byte by byte and run through a
// namespace's hooks: what the header walk finds (IPv6 extension headers,
// fragments), nf_log's line for TCP, the jump stack, and the compiled
// form's lifetime when a hook run replaces the ruleset under itself.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "ipv4/stack.hpp"
#include "ipv6/stack.hpp"
#include "netfilter/hooks.hpp"
#include "netns/net.hpp"
#include "netns/nft.hpp"
#include "netns/packet.hpp"
#include "nft/eval.hpp"
#include "stack/builtins.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace nft_eval_test {

using netfilter::Hook;
using netfilter::Verdict;

class NftEvalTest : public support::HostTest {
 protected:
  void SetUp() override { net_ = host_.create_net("n").value(); }
  void load(const std::string& script) {
    std::string diagnostics;
    ASSERT_TRUE(nft::run(*net_, script, diagnostics)) << diagnostics;
  }
  Packet packet(const std::vector<std::uint8_t>& bytes) {
    Packet p = host_.packets().allocate(bytes.size());
    std::memcpy(p.mutable_data().data(), bytes.data(), bytes.size());
    return p;
  }
  Verdict input(Family f, const std::vector<std::uint8_t>& bytes) {
    Packet p = packet(bytes);
    auto& table = netfilter::hook_table(*net_, f);
    if (!table.active(Hook::input)) return Verdict::accept;
    return table.run(Hook::input, p, {.net = *net_, .hook = Hook::input, .family = f});
  }
  NetRef net_;
};

// 2001:db8::1 -> 2001:db8::2, `next` first, then `rest`.
std::vector<std::uint8_t> ipv6(std::uint8_t next, const std::vector<std::uint8_t>& rest) {
  std::vector<std::uint8_t> d{0x60, 0, 0, 0, static_cast<std::uint8_t>(rest.size() >> 8),
                              static_cast<std::uint8_t>(rest.size()), next, 64};
  for (int side = 1; side <= 2; ++side) {
    const std::vector<std::uint8_t> a{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, static_cast<std::uint8_t>(side)};
    d.insert(d.end(), a.begin(), a.end());
  }
  d.insert(d.end(), rest.begin(), rest.end());
  return d;
}

// A TCP header 1234 -> 22, SYN, window 512.
std::vector<std::uint8_t> tcp_syn() {
  return {0x04, 0xd2, 0, 22, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0x02, 0x00, 0, 0, 0, 0};
}

TEST_F(NftEvalTest, Ipv6PortsArePastTheExtensionHeaders) {
  load("table ip6 t { chain in { type filter hook input priority 0; tcp dport 22 drop; }\n}");
  // Hop-by-hop, then destination options, then TCP.
  std::vector<std::uint8_t> rest{60, 0, 1, 4, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0, 0, 0};
  const auto syn = tcp_syn();
  rest.insert(rest.end(), syn.begin(), syn.end());
  EXPECT_EQ(input(Family::ipv6, ipv6(0, rest)), Verdict::drop);
  EXPECT_EQ(input(Family::ipv6, ipv6(6, syn)), Verdict::drop);
  // A non-first fragment of a TCP datagram carries no port: not matched.
  std::vector<std::uint8_t> frag{6, 0, 0, 0x08, 0, 0, 0, 7};  // offset 1 (8 bytes)
  frag.insert(frag.end(), syn.begin(), syn.end());
  EXPECT_EQ(input(Family::ipv6, ipv6(44, frag)), Verdict::accept);
  // Cut short inside the TCP header: no port either.
  EXPECT_EQ(input(Family::ipv6, ipv6(6, {0x04, 0xd2})), Verdict::accept);
}

TEST_F(NftEvalTest, Ipv4NonFirstFragmentsHaveNoTransportFields) {
  load("table ip t { chain in { type filter hook input priority 0; tcp dport 22 drop; meta l4proto tcp counter; }\n}");
  std::vector<std::uint8_t> d{0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2};
  const auto syn = tcp_syn();
  d.insert(d.end(), syn.begin(), syn.end());
  EXPECT_EQ(input(Family::ipv4, d), Verdict::drop);
  d[7] = 1;  // fragment offset 8
  EXPECT_EQ(input(Family::ipv4, d), Verdict::accept);
  // The protocol is still known (meta l4proto), as Linux's tprot.
  EXPECT_NE(nft::list_ruleset(*net_).find("counter packets 1 bytes 40"), std::string::npos) << nft::list_ruleset(*net_);
}

// Each form of a flag match on SYN, SYN-ACK and ACK segments, as nft 1.0.6
// compiles it: a flag list is any of (x & m) != 0, `!` none of them,
// == and != compare the whole byte, `/` and `&` compare under the mask.
TEST_F(NftEvalTest, TcpFlagFormsMatchAsNftCompilesThem) {
  struct Case {
    const char* match;
    bool syn, syn_ack, ack;  // dropped
  };
  const Case cases[] = {
      {"tcp flags syn|ack", true, true, true},
      {"tcp flags ! syn|ack", false, false, false},
      {"tcp flags ! syn", false, false, true},
      {"tcp flags == syn|ack", false, true, false},
      {"tcp flags != syn", false, true, true},  // exact: a SYN-ACK is not `syn`
      {"tcp flags != syn,ack", true, false, true},
      {"tcp flags & (syn|ack) == syn", true, false, false},
      {"tcp flags & (syn|ack) != syn", false, true, true},
      {"tcp flags & (syn|ack) == 0", false, false, false},
      {"tcp flags syn / syn,ack", true, false, false},
      {"tcp flags & syn == syn", true, true, false},
      {"tcp flags { syn|ack, ack }", false, true, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.match);
    load(std::string("flush ruleset\ntable ip6 t { chain in { type filter hook input priority 0; ") + c.match +
         " drop; }\n}");
    for (const auto& [flags, dropped] : {std::pair{0x02, c.syn}, {0x12, c.syn_ack}, {0x10, c.ack}}) {
      auto segment = tcp_syn();
      segment[13] = static_cast<std::uint8_t>(flags);
      EXPECT_EQ(input(Family::ipv6, ipv6(6, segment)), dropped ? Verdict::drop : Verdict::accept) << flags;
    }
  }
}

TEST_F(NftEvalTest, LogLineForTcpAsNfLogPrintsIt) {
  std::vector<std::uint8_t> d{0x45, 0x10, 0, 40, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2};
  const auto syn = tcp_syn();
  d.insert(d.end(), syn.begin(), syn.end());
  Packet p = packet(d);
  p.mark = 0x2a;
  const netfilter::HookState state{.net = *net_, .hook = Hook::output, .family = Family::ipv4};
  EXPECT_EQ(nft::format_log(p, state, {.prefix = "out: "}),
            "out: IN= OUT= SRC=192.0.2.1 DST=192.0.2.2 LEN=40 TOS=0x10 PREC=0x00 TTL=64 ID=4660 DF PROTO=TCP SPT=1234 "
            "DPT=22 WINDOW=512 RES=0x00 SYN URGP=0 MARK=0x2a ");
}

TEST_F(NftEvalTest, JumpsReturnWhereTheyLeft) {
  // Sixteen chains deep (the kernel's bound), each returning to the rule after its jump.
  std::string script = "table ip t {\n";
  for (int i = 1; i <= 15; ++i) {
    script += " chain c" + std::to_string(i) + " { " + (i < 15 ? "jump c" + std::to_string(i + 1) + "; " : "") +
              "meta mark set " + std::to_string(i) + "; }\n";
  }
  script += " chain in { type filter hook input priority 0; jump c1; meta mark 1 drop; }\n}\n";
  load(script);
  std::vector<std::uint8_t> d{0x45, 0, 0, 20, 0, 1, 0, 0, 64, 253, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2};
  // c15 sets 15, then each chain on the way back sets its own: c1's 1 is last.
  EXPECT_EQ(input(Family::ipv4, d), Verdict::drop);
}

// A log sink that loads a ruleset while a hook runs on the old one: the
// run finishes on what it started with (the rule's counter and drop), the
// next datagram meets the new ruleset.
TEST(NftEvalReentry, ARulesetReplacedFromInsideAHookRun) {
  Net* target = nullptr;
  int lines = 0;
  HostConfig config = support::test_config();
  config.log = [&](std::string_view) {
    if (lines++ == 0) {
      ASSERT_TRUE(nft::run(*target, "flush ruleset\ntable ip t { chain in { type filter hook input priority 0; accept; }\n}"));
    }
  };
  Host host(config);
  NetRef net = host.create_net("n").value();
  target = net.get();
  ASSERT_TRUE(nft::run(*net, "table ip t { chain in { type filter hook input priority 0; log prefix \"x\"; counter drop; }\n}"));
  auto& table = netfilter::hook_table(*net, Family::ipv4);
  const std::vector<std::uint8_t> d{0x45, 0, 0, 20, 0, 1, 0, 0, 64, 253, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2};
  for (const Verdict expected : {Verdict::drop, Verdict::accept}) {
    Packet p = host.packets().allocate(d.size());
    std::memcpy(p.mutable_data().data(), d.data(), d.size());
    EXPECT_EQ(table.run(Hook::input, p, {.net = *net, .hook = Hook::input, .family = Family::ipv4}), expected);
  }
  EXPECT_EQ(lines, 1);
}

}  // namespace nft_eval_test
}  // namespace
}  // namespace netns
