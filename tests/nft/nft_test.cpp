// nft's language into the model and back: every match and statement parsed
// and printed as nftables 1.0.6 prints it (the expected lines are what the
// real nft listed for the same input), the commands, the transaction (a
// failing script changes nothing), the bounds and the per-namespace state.
#include "netns/nft.hpp"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "netns/device.hpp"
#include "netns/host.hpp"
#include "netns/net.hpp"
#include "nft/nft_net.hpp"
#include "nft/printer.hpp"
#include "stack/builtins.hpp"
#include "support/fixtures.hpp"

namespace netns::nft {
namespace {
namespace nft_nft_test {

class NftTest : public support::HostTest {
 protected:
  Net& net() { return host_.init_net(); }
  void run_ok(std::string_view script) {
    std::string diag;
    auto r = run(net(), script, diag);
    ASSERT_TRUE(r) << diag;
  }
  // Runs `script`, expects it to fail with `code`, and the listing unchanged.
  std::string run_fails(std::string_view script, Errc code) {
    const std::string before = list_ruleset(net());
    std::string diag;
    auto r = run(net(), script, diag);
    EXPECT_FALSE(r) << script;
    if (!r) {
      EXPECT_EQ(r.error(), error(code)) << diag;
    }
    EXPECT_EQ(list_ruleset(net()), before) << script;
    return diag;
  }
  // list_ruleset fed back into a fresh Host gives the same listing.
  void expect_round_trip() {
    const std::string listing = list_ruleset(net());
    Host other(support::test_config(nullptr));
    ASSERT_TRUE(make_channel(other.init_net(), "nd0"));
    std::string diag;
    ASSERT_TRUE(run(other.init_net(), listing, diag)) << diag << listing;
    EXPECT_EQ(list_ruleset(other.init_net()), listing);
  }
};

struct RuleCase {
  const char* family;
  const char* in;
  const char* out;  // as `nft list ruleset` prints it (nullptr: same as `in`)
};

// Each line as nft 1.0.6 listed it after loading the left-hand side.
const RuleCase kRules[] = {
    {"inet", R"(iifname "eth*" accept)", nullptr},
    {"inet", R"(iifname != "lo" drop)", nullptr},
    {"inet", R"(oifname "eth0" counter)", R"(oifname "eth0" counter packets 0 bytes 0)"},
    {"inet", R"(iifname @names accept)", nullptr},
    {"inet", "iif nd0 oif lo accept", R"(iif "nd0" oif "lo" accept)"},
    {"inet", "ip saddr { 10.0.0.3, 10.0.0.1 } tcp dport { 443, 22 } accept",
     "ip saddr { 10.0.0.1, 10.0.0.3 } tcp dport { 22, 443 } accept"},
    {"inet", "ip saddr 10.0.0.0/8 ip daddr 10.0.0.1-10.0.0.9 drop", nullptr},
    {"ip", "ip saddr { 10.0.0.0/8, 192.0.2.1-192.0.2.9 } counter packets 3 bytes 300", nullptr},
    {"ip", "ip saddr != 10.0.0.0/8", nullptr},
    {"ip", "ip daddr 10.0.0.1 ip daddr 10.0.0.2", nullptr},
    {"ip", "ip daddr 192.0.2.1 ip saddr 192.0.2.2 accept", nullptr},
    {"ip", "ip saddr @v4 return", nullptr},
    {"inet", "ip6 saddr ::1 ip6 daddr 2001:db8::/32 reject with icmpv6 type admin-prohibited",
     "ip6 saddr ::1 ip6 daddr 2001:db8::/32 reject with icmpv6 admin-prohibited"},
    {"ip6", "ip6 saddr { ::1, 2001:db8::1/64, 2001:db8:1::1-2001:db8:1::5 }",
     "ip6 saddr { ::1, 2001:db8::/64, 2001:db8:1::1-2001:db8:1::5 }"},
    {"ip", "ip protocol tcp reject with tcp reset", "reject with tcp reset"},
    {"inet", "ip protocol tcp reject with tcp reset", nullptr},
    {"inet", "reject with tcp reset", "meta l4proto tcp reject with tcp reset"},
    {"ip", "udp dport 53 udp sport 5353 accept", "udp sport 5353 udp dport 53 accept"},
    {"ip", "ip protocol { tcp, udp }", nullptr},
    {"ip", "ip protocol 99", nullptr},
    {"ip", "ip protocol tcp tcp dport 22", "tcp dport 22"},
    {"inet", "meta l4proto tcp iifname \"x\" tcp dport 22", "iifname \"x\" tcp dport 22"},
    {"inet", "meta l4proto { icmp, 58 }", "meta l4proto { icmp, ipv6-icmp }"},
    {"inet", "meta l4proto tcp oifname \"eth1\" accept", nullptr},
    {"ip", "tcp dport 22 tcp sport 1", "tcp sport 1 tcp dport 22"},
    {"ip", "tcp dport 1-1024", nullptr},
    {"ip", "tcp dport != { 1, 2 }", nullptr},
    {"ip", "tcp dport != 3-5", nullptr},
    {"ip", "tcp dport < 1024 accept", nullptr},
    {"ip", "udp sport @ports continue", nullptr},
    {"ip", "udp dport 53-60 log prefix \"dns \" level warn", "udp dport 53-60 log prefix \"dns \""},
    {"ip", "tcp flags syn accept", nullptr},
    {"ip", "tcp flags & (syn|ack) == syn accept", "tcp flags syn / syn,ack accept"},
    {"ip", "tcp flags syn / syn,ack accept", nullptr},
    {"ip", "tcp flags != syn accept", nullptr},
    {"ip", "tcp flags { syn, ack }", nullptr},
    {"ip", "tcp flags syn,ack", nullptr},
    {"ip", "tcp flags == syn", nullptr},
    {"ip", "icmp type echo-request limit rate 10/second burst 5 packets accept",
     "icmp type echo-request limit rate 10/second accept"},
    {"ip", "icmp type 200", nullptr},
    {"ip", "meta l4proto icmp icmp type echo-reply", "icmp type echo-reply"},
    {"ip6", "icmpv6 type { nd-neighbor-solicit, echo-request } accept",
     "icmpv6 type { echo-request, nd-neighbor-solicit } accept"},
    {"ip6", "meta l4proto ipv6-icmp icmpv6 type echo-request", "icmpv6 type echo-request"},
    {"inet", "ct state established,related accept", nullptr},
    {"inet", "ct state != invalid accept", nullptr},
    {"inet", "ct state { established, related } accept", nullptr},
    {"inet", "ct state new,established,related,invalid,untracked", "ct state invalid,established,related,new,untracked"},
    {"inet", "ct status dnat accept", nullptr},
    {"inet", "ct status expected,seen-reply,assured,confirmed,snat,dnat,dying", nullptr},
    {"inet", "meta mark 0x10 meta pkttype broadcast drop", "meta mark 0x00000010 meta pkttype broadcast drop"},
    {"inet", "meta mark != 3", "meta mark != 0x00000003"},
    {"inet", "mark 7", "meta mark 0x00000007"},
    {"inet", "meta pkttype { host, broadcast, multicast, other }", nullptr},
    {"inet", "reject with icmp type host-unreachable", "reject with icmp host-unreachable"},
    {"inet", "reject", nullptr},
    {"inet", "reject with icmpx type port-unreachable", "reject"},
    {"inet", "reject with icmpx admin-prohibited", nullptr},
    {"ip", "reject with icmp type port-unreachable", "reject"},
    {"ip", "reject with icmp type net-prohibited", "reject with icmp net-prohibited"},
    {"ip6", "reject with icmpv6 type port-unreachable", "reject"},
    {"ip6", "reject with icmpv6 type no-route", "reject with icmpv6 no-route"},
    {"ip6", "reject with tcp reset", nullptr},
    {"inet", "meta mark set 0x5 jump other comment \"hello\"", "meta mark set 0x00000005 jump other comment \"hello\""},
    {"inet", "tcp dport != 22 goto other", nullptr},
    {"inet", "ip daddr != 10.0.0.1 notrack", nullptr},
    {"inet", "limit rate over 100/minute drop", nullptr},
    {"ip", "limit rate 5/hour burst 10 packets", nullptr},
    {"ip", "limit rate 1/day", nullptr},
    {"ip", "log level info", nullptr},
    {"ip", "log", nullptr},
    {"ip", "counter packets 7 bytes 700 drop", nullptr},
    {"ip", "return", nullptr},
    {"ip", "continue", nullptr},
};

TEST_F(NftTest, EveryMatchAndStatementPrintsAsNftListsIt) {
  ASSERT_TRUE(make_channel(net(), "nd0"));
  for (const RuleCase& c : kRules) {
    SCOPED_TRACE(c.in);
    const std::string script = fmt::format(
        "flush ruleset\ntable {} t {{\n set names {{ type ifname; elements = {{ \"lo\" }} }}\n"
        " set v4 {{ type ipv4_addr; }}\n set ports {{ type inet_service; }}\n"
        " chain other {{\n }}\n chain c {{\n  {}\n }}\n}}\n",
        c.family, c.in);
    run_ok(script);
    const std::string listing = list_ruleset(net());
    const std::string want = std::string("\t\t") + (c.out != nullptr ? c.out : c.in) + "\n";
    EXPECT_NE(listing.find("\tchain c {\n" + want + "\t}\n"), std::string::npos) << listing;
    expect_round_trip();
  }
}

TEST_F(NftTest, NatStatementsAtTheirHooks) {
  run_ok(R"(
table inet t {
  chain pre { type nat hook prerouting priority dstnat; policy accept;
    tcp dport 80 dnat ip to 192.0.2.1:8080
    udp dport 53 redirect to :5353
  }
  chain post { type nat hook postrouting priority srcnat; policy accept;
    oifname "eth0" masquerade
    meta l4proto tcp oifname "eth1" masquerade to :1024-2048
    ip saddr 10.0.0.0/8 udp dport 5 snat ip to 203.0.113.1-203.0.113.5:1000-2000
  }
}
table ip n { chain o { type nat hook output priority -100; policy accept; tcp dport 22 dnat to 192.0.2.7; }; }
)");
  EXPECT_EQ(list_ruleset(net()), R"(table inet t {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		tcp dport 80 dnat ip to 192.0.2.1:8080
		udp dport 53 redirect to :5353
	}

	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "eth0" masquerade
		meta l4proto tcp oifname "eth1" masquerade to :1024-2048
		ip saddr 10.0.0.0/8 udp dport 5 snat ip to 203.0.113.1-203.0.113.5:1000-2000
	}
}
table ip n {
	chain o {
		type nat hook output priority -100; policy accept;
		tcp dport 22 dnat to 192.0.2.7
	}
}
)");
  expect_round_trip();
}

TEST_F(NftTest, PrioritiesPrintByNameWithinTenOfAStandardOne) {
  run_ok(R"(table ip x {
 chain a1 { type filter hook input priority 20; }
 chain a2 { type filter hook input priority -160; }
 chain a3 { type nat hook postrouting priority 90; }
 chain a4 { type filter hook prerouting priority -100; }
 chain a5 { type filter hook output priority raw - 10; }
 chain a6 { type filter hook output priority 55; policy drop; }
 chain a7 { type filter hook forward priority filter + 10; }
 chain a8 { type nat hook output priority -100; }
})");
  const std::string l = list_ruleset(net());
  for (const char* want : {"hook input priority 20;", "hook input priority mangle - 10;",
                           "hook postrouting priority srcnat - 10;", "hook prerouting priority dstnat;",
                           "hook output priority raw - 10;", "hook output priority security + 5; policy drop;",
                           "hook forward priority filter + 10;", "hook output priority -100;"})
    EXPECT_NE(l.find(want), std::string::npos) << want << "\n" << l;
  // dstnat names -100 at prerouting only, as nft's std_prio_family_hook_compat.
  run_fails("add chain ip x z { type nat hook output priority dstnat; }", Errc::invalid_argument);
  expect_round_trip();
}

TEST_F(NftTest, NamedSetsListSortedAndWrappedAsNft) {
  run_ok(R"(table inet t {
  set s { type ipv4_addr; flags interval; elements = { 10.0.0.3, 10.0.0.1, 10.0.0.2, 192.0.2.0/24, 10.1.0.0-10.1.0.255, 10.2.0.5-10.2.0.9 } }
  set h { type ipv4_addr; elements = { 10.0.0.3, 10.0.0.1, 10.0.0.2, 1.2.3.4 } }
  set p { type inet_service; elements = { 443, 22, 80 } }
  set n { type ifname; elements = { "eth0", "lo" } }
  set m { type mark; elements = { 1, 0x10 } }
  set e { type ipv6_addr; }
  chain other { }
})");
  EXPECT_FALSE(run(net(), "add set ip6 nope s6 { type ipv6_addr; }"));
  run_ok("add table ip6 y\nadd set ip6 y s6 { type ipv6_addr; flags interval; elements = { 2001:db8:5::1, 2001:db8::/64, ::2 }; }");
  EXPECT_EQ(list_ruleset(net()), R"(table inet t {
	set s {
		type ipv4_addr
		flags interval
		elements = { 10.0.0.1, 10.0.0.2,
			     10.0.0.3, 10.1.0.0/24,
			     10.2.0.5-10.2.0.9, 192.0.2.0/24 }
	}

	set h {
		type ipv4_addr
		elements = { 1.2.3.4, 10.0.0.1,
			     10.0.0.2, 10.0.0.3 }
	}

	set p {
		type inet_service
		elements = { 22, 80, 443 }
	}

	set n {
		type ifname
		elements = { "lo",
			     "eth0" }
	}

	set m {
		type mark
		elements = { 0x00000001, 0x00000010 }
	}

	set e {
		type ipv6_addr
	}

	chain other {
	}
}
table ip6 y {
	set s6 {
		type ipv6_addr
		flags interval
		elements = { ::2,
			     2001:db8::/64,
			     2001:db8:5::1 }
	}
}
)");
  expect_round_trip();
}

TEST_F(NftTest, CommandsAddressRulesByHandle) {
  run_ok("add table ip t\nadd chain ip t c\nadd rule ip t c tcp dport 1 accept\nadd rule ip t c tcp dport 2 accept");
  // Handles per table, shared by chains, sets and rules, as the kernel's: c is 1, the rules 2 and 3.
  run_ok("insert rule ip t c tcp dport 0 accept");                    // 4, first
  run_ok("add rule ip t c position 2 tcp dport 15 accept");           // 5, after 2
  run_ok("insert rule ip t c position 3 tcp dport 19 accept");        // 6, before 3
  run_ok("replace rule ip t c handle 3 tcp dport 20 drop");           // keeps 3, as the kernel
  run_ok("delete rule ip t c handle 2");
  EXPECT_EQ(list_ruleset(net()), R"(table ip t {
	chain c {
		tcp dport 0 accept
		tcp dport 15 accept
		tcp dport 19 accept
		tcp dport 20 drop
	}
}
)");
  const auto& rules = host_.builtins().nft().state(net()).ruleset->tables[0].chains[0].rules;
  ASSERT_EQ(rules.size(), 4u);
  EXPECT_EQ(rules[0].handle, 4u);
  EXPECT_EQ(rules[1].handle, 5u);
  EXPECT_EQ(rules[2].handle, 6u);
  EXPECT_EQ(rules[3].handle, 3u);
  run_fails("delete rule ip t c handle 2", Errc::no_such_file_or_directory);
  run_fails("add rule ip t c position 99 accept", Errc::no_such_file_or_directory);
  run_ok("flush chain ip t c");
  EXPECT_EQ(list_ruleset(net()), "table ip t {\n\tchain c {\n\t}\n}\n");
  run_ok("delete chain ip t c; delete table ip t");
  EXPECT_EQ(list_ruleset(net()), "");
}

TEST_F(NftTest, AnonymousSetsTakeHandlesBeforeTheirRule) {
  run_ok("table inet t { chain c { ip saddr { 10.0.0.1, 10.0.0.2 } accept; accept; }; }");
  const auto& rules = host_.builtins().nft().state(net()).ruleset->tables[0].chains[0].rules;
  EXPECT_EQ(rules[0].handle, 3u);  // chain 1, __set0 2
  EXPECT_EQ(rules[1].handle, 4u);
}

TEST_F(NftTest, ElementsAddAndDeleteAndSetsAreFlushed) {
  run_ok("add table ip t; add set ip t s { type inet_service; }; add element ip t s { 22, 80 }");
  run_ok("add element ip t s { 80, 443 }");  // adding what is there is no error
  run_fails("create element ip t s { 80 }", Errc::file_exists);
  run_ok("delete element ip t s { 22 }");
  run_fails("delete element ip t s { 22 }", Errc::no_such_file_or_directory);
  EXPECT_NE(list_ruleset(net()).find("elements = { 80, 443 }"), std::string::npos);
  run_fails("add element ip t s { 1-5 }", Errc::invalid_argument);  // no flags interval
  run_ok("flush set ip t s");
  EXPECT_EQ(list_ruleset(net()).find("elements"), std::string::npos);
  run_ok("add set ip t i { type ipv4_addr; flags interval; }; add element ip t i { 10.0.0.0/8 }");
  run_fails("add element ip t i { 10.1.0.0/16 }", Errc::file_exists);  // conflicting intervals
}

TEST_F(NftTest, DefineAndVariables) {
  run_ok(R"(define wan = "eth0"
define ports = { 22, 80 }
define net4 = 192.0.2.0/24
table inet t {
  chain c {
    iifname $wan tcp dport $ports ip saddr $net4 accept
  }
})");
  EXPECT_NE(list_ruleset(net()).find("iifname \"eth0\" tcp dport { 22, 80 } ip saddr 192.0.2.0/24 accept"),
            std::string::npos)
      << list_ruleset(net());
  run_fails("add rule inet t c tcp dport $nope accept", Errc::invalid_argument);
}

TEST_F(NftTest, AFailingScriptChangesNothing) {
  run_ok("table inet t { chain c { type filter hook input priority 0; policy drop; tcp dport 22 accept; }; }");
  // A syntax error on the last line, after commands that would have worked.
  std::string diag = run_fails("add rule inet t c tcp dport 80 accept\nflush chain inet t c\nadd rule inet t c tcp dport ?",
                               Errc::invalid_argument);
  EXPECT_NE(diag.find("<cmdline>:3:"), std::string::npos) << diag;
  EXPECT_NE(diag.find("Error: "), std::string::npos) << diag;
  EXPECT_NE(diag.find("\nadd rule inet t c tcp dport ?\n" + std::string(28, ' ') + "^\n"), std::string::npos) << diag;
  // An unknown chain, table, set.
  diag = run_fails("add rule inet t c accept\nadd rule inet t nope accept", Errc::no_such_file_or_directory);
  EXPECT_NE(diag.find("<cmdline>:2:17-20: Error: Could not process rule: No such file or directory"), std::string::npos)
      << diag;
  run_fails("add rule inet nope c accept", Errc::no_such_file_or_directory);
  run_fails("add rule inet t c ip saddr @nope accept", Errc::no_such_file_or_directory);
  // A bad address, port, prefix, value.
  run_fails("add rule inet t c ip saddr 10.0.0.300 accept", Errc::invalid_argument);
  run_fails("add rule inet t c ip saddr 10.0.0.0/33 accept", Errc::invalid_argument);
  run_fails("add rule inet t c tcp dport 65536 accept", Errc::invalid_argument);
  run_fails("add rule inet t c ip6 daddr 2001:db8::g accept", Errc::invalid_argument);
  run_fails("add rule inet t c ct state bogus accept", Errc::invalid_argument);
  run_fails("add rule inet t c meta mark 0x100000000", Errc::invalid_argument);
  // Unknown devices for iif (resolved when the rule is added).
  run_fails("add rule inet t c iif nosuch accept", Errc::no_such_device);
  // Exists already.
  run_fails("create table inet t", Errc::file_exists);
  run_fails("create chain inet t c", Errc::file_exists);
  // include is refused.
  diag = run_fails("include \"/etc/nftables.conf\"", Errc::operation_not_supported);
  EXPECT_NE(diag.find("include is not supported"), std::string::npos);
  // An unterminated string and a stray character.
  run_fails("add rule inet t c iifname \"eth0 accept", Errc::invalid_argument);
  run_fails("add rule inet t c accept ~", Errc::invalid_argument);
  // Nothing may follow a verdict.
  run_fails("add rule inet t c accept counter", Errc::invalid_argument);
}

TEST_F(NftTest, FamiliesAreConsistent) {
  run_ok("add table ip t4; add chain ip t4 c; add table ip6 t6; add chain ip6 t6 c; add table inet t; add chain inet t c");
  run_fails("add rule ip t4 c ip6 saddr ::1", Errc::invalid_argument);
  run_fails("add rule ip6 t6 c ip saddr 192.0.2.1", Errc::invalid_argument);
  run_fails("add rule ip t4 c icmpv6 type echo-request", Errc::invalid_argument);
  run_fails("add rule ip6 t6 c icmp type echo-request", Errc::invalid_argument);
  run_fails("add rule ip6 t6 c reject with icmp type host-unreachable", Errc::invalid_argument);
  run_fails("add rule ip t4 c reject with icmpx type host-unreachable", Errc::invalid_argument);
  run_fails("add rule inet t c ip saddr 192.0.2.1 ip6 daddr ::1", Errc::invalid_argument);
  run_fails("add rule inet t c tcp dport 22 udp sport 53", Errc::invalid_argument);
  run_fails("add rule inet t c ip protocol udp tcp dport 22", Errc::invalid_argument);
  // inet takes both families, one per rule.
  run_ok("add rule inet t c ip saddr 192.0.2.1 accept; add rule inet t c ip6 saddr ::1 accept");
  // A set's type must be the field's.
  run_ok("add set inet t s4 { type ipv4_addr; }");
  run_fails("add rule inet t c ip6 saddr @s4", Errc::invalid_argument);
  run_fails("add rule inet t c tcp dport @s4", Errc::invalid_argument);
  run_fails("add table arp a", Errc::operation_not_supported);
}

TEST_F(NftTest, NatOnlyInNatChainsAtTheRightHooks) {
  run_ok(R"(table ip t {
  chain pre { type nat hook prerouting priority dstnat; }
  chain post { type nat hook postrouting priority srcnat; }
  chain in { type filter hook input priority 0; }
  chain sub { }
})");
  run_fails("add rule ip t in tcp dport 1 dnat to 192.0.2.1", Errc::operation_not_supported);
  run_fails("add rule ip t pre masquerade", Errc::operation_not_supported);
  run_fails("add rule ip t post tcp dport 1 dnat to 192.0.2.1", Errc::operation_not_supported);
  run_fails("add rule ip t post redirect to :1", Errc::invalid_argument);  // port needs a transport match
  run_fails("add chain ip t fw { type nat hook forward priority 0; }", Errc::operation_not_supported);
  run_ok("add rule ip t post masquerade; add rule ip t pre tcp dport 1 redirect to :2");
  // As the kernel's validate callbacks: masquerade at postrouting only, snat at input too, no reject at postrouting.
  run_ok("add chain ip t nin { type nat hook input priority 100; }; add rule ip t nin snat to 192.0.2.1");
  run_fails("add rule ip t nin masquerade", Errc::operation_not_supported);
  run_fails("add rule ip t post reject", Errc::operation_not_supported);
  run_ok("add rule ip t pre reject; add rule ip t in reject");
  // A regular chain with NAT is checked against the base chains that reach it.
  run_ok("add rule ip t sub masquerade; add rule ip t post jump sub");
  run_fails("add rule ip t pre jump sub", Errc::operation_not_supported);
  run_fails("add rule inet nope c dnat to 1.2.3.4", Errc::no_such_file_or_directory);
}

TEST_F(NftTest, JumpsNeedARegularChainAndNeverLoop) {
  run_ok(R"(table inet t {
  chain in { type filter hook input priority 0; }
  chain a { }
  chain b { }
  chain c { }
})");
  run_ok("add rule inet t a jump b; add rule inet t b goto c");
  // As the kernel: a loop no base chain reaches is allowed; reached, it is EMLINK.
  run_ok("add rule inet t c jump a");
  std::string diag = run_fails("add rule inet t in jump a", Errc::too_many_links);
  EXPECT_NE(diag.find("<cmdline>:1:20-23: Error: Could not process rule: Too many links"), std::string::npos) << diag;
  run_ok("flush chain inet t c; add rule inet t in jump a");
  run_fails("add rule inet t c jump a", Errc::too_many_links);
  run_fails("add rule inet t a jump a", Errc::too_many_links);
  // Deeper than the kernel's 16 levels is refused too.
  std::string deep = "add chain inet t d0\nadd rule inet t c jump d0\n";
  for (int i = 1; i <= 16; ++i) deep += fmt::format("add chain inet t d{}\nadd rule inet t d{} jump d{}\n", i, i - 1, i);
  run_fails(deep, Errc::too_many_links);
  run_fails("add rule inet t a jump nope", Errc::no_such_file_or_directory);
  run_fails("add rule inet t a jump in", Errc::operation_not_supported);
  // A chain jumped to, or with rules, or a set used, is busy.
  run_fails("delete chain inet t c", Errc::device_or_resource_busy);
  run_fails("delete chain inet t a", Errc::device_or_resource_busy);
  run_ok("add set inet t s { type ipv4_addr; }; add rule inet t c ip saddr @s accept");
  run_fails("delete set inet t s", Errc::device_or_resource_busy);
  run_ok("flush table inet t; delete set inet t s; delete chain inet t a");
  EXPECT_EQ(list_ruleset(net()).find("chain a"), std::string::npos);
}

TEST_F(NftTest, IifResolvesTheDeviceWhenTheRuleIsAdded) {
  Device* dev = make_channel(net(), "nd0").value();
  run_ok("table ip t { chain c { iif nd0 accept; oif lo drop; }; }");
  const auto& rule = host_.builtins().nft().state(net()).ruleset->tables[0].chains[0].rules[0];
  EXPECT_EQ(std::get<Key>(rule.matches[0].operand).to_uint(), static_cast<std::uint64_t>(dev->ifindex()));
  EXPECT_NE(list_ruleset(net()).find("iif \"nd0\" accept"), std::string::npos);
}

TEST_F(NftTest, UnchangedSetsAreSharedNotCopied) {
  std::string script = "add table ip t\nadd set ip t big { type ipv4_addr; }\nadd element ip t big { ";
  for (std::uint32_t i = 0; i < 100'000; ++i) {
    if (i > 0) script += ", ";
    script += Ipv4Address{0x0a000000u + i}.to_string();
  }
  script += " }\n";
  run_ok(script);
  NftNet& state = host_.builtins().nft().state(net());
  const Set* before = state.ruleset->tables[0].set("big");
  ASSERT_EQ(before->elements.size(), 100'000u);
  run_ok("add chain ip t c; add rule ip t c ip saddr @big accept");
  EXPECT_EQ(state.ruleset->tables[0].set("big"), before);  // the same object: not copied
  run_ok("add element ip t big { 192.0.2.1 }");
  const Set* after = state.ruleset->tables[0].set("big");
  EXPECT_NE(after, before);
  EXPECT_EQ(after->elements.size(), 100'001u);
  EXPECT_EQ(state.ruleset->set_elements, 100'001u);
  expect_round_trip();
}

TEST_F(NftTest, TheNamespaceIsBounded) {
  std::string script = "add table ip t\nadd set ip t s { type inet_service; flags interval; }\n";
  // 1,048,577 intervals would pass the bound; ports allow 65,536 per set, so many sets.
  for (int s = 0; s < 17; ++s) {
    script += fmt::format("add set ip t s{} {{ type ipv4_addr; }}\nadd element ip t s{} {{ ", s, s);
    for (std::uint32_t i = 0; i < 65'536; ++i) {
      if (i > 0) script += ',';
      script += Ipv4Address{0x0a000000u + i}.to_string();
    }
    script += " }\n";
  }
  run_fails(script, Errc::too_many_files_open_in_system);
  EXPECT_EQ(list_ruleset(net()), "");
}

TEST_F(NftTest, StateIsPerNamespaceAndFreedWithIt) {
  auto blue = host_.create_net("blue").value();
  run_ok("add table ip t");
  EXPECT_EQ(list_ruleset(*blue), "");
  ASSERT_TRUE(run(*blue, "add table inet b"));
  EXPECT_EQ(list_ruleset(*blue), "table inet b {\n}\n");
  EXPECT_EQ(list_ruleset(net()), "table ip t {\n}\n");
  NetHold hold(*blue);
  blue.reset();
  poll();
  EXPECT_FALSE(hold.lock());
}

TEST_F(NftTest, FlushRulesetAndTableHandlesContinue) {
  run_ok("add table ip a; add table ip b; flush ruleset; add table inet c");
  EXPECT_EQ(host_.builtins().nft().state(net()).ruleset->tables[0].handle, 3u);
  run_ok("add table ip d; flush ruleset ip");
  EXPECT_EQ(list_ruleset(net()), "table inet c {\n}\n");
}

TEST_F(NftTest, ChainsJumpingToOneAnotherManyTimesValidateQuickly) {
  // Fourteen levels of ten jumps each: 10^14 paths, each chain walked a few times.
  std::string script = "add table ip t\nadd chain ip t in { type filter hook input priority 0; }\n";
  for (int i = 0; i <= 13; ++i) script += fmt::format("add chain ip t c{}\n", i);
  for (int i = 0; i < 13; ++i)
    for (int k = 0; k < 10; ++k) script += fmt::format("add rule ip t c{} tcp dport {} jump c{}\n", i, k, i + 1);
  script += "add rule ip t in jump c0\n";
  run_ok(script);
  run_fails("add rule ip t c13 jump c5", Errc::too_many_links);
}

// Bytes changed at random in valid scripts: each result either fails and
// changes nothing, or succeeds with a listing that reads back as itself.
TEST_F(NftTest, MangledScriptsNeverCrashAndFailWhole) {
  ASSERT_TRUE(make_channel(net(), "nd0"));
  const std::string seeds[] = {
      R"(table inet t {
  set s { type ipv4_addr; flags interval; elements = { 10.0.0.0/8, 192.0.2.1-192.0.2.9 } }
  chain c { type filter hook input priority filter + 1; policy drop;
    ct state established,related accept
    iifname "nd0" ip saddr @s tcp dport { 22, 80 } counter accept
    tcp flags syn / syn,ack limit rate 5/second log prefix "x" drop
    meta mark set 0x1 jump r
  }
  chain r { icmpv6 type echo-request reject with icmpv6 type no-route; return; }
})",
      R"(define p = { 1-10, 20 }
add table ip n
add chain ip n post { type nat hook postrouting priority srcnat; }
add rule ip n post udp dport $p oif nd0 snat to 203.0.113.1-203.0.113.2:1000-2000
insert rule ip n post position 3 masquerade
add set ip n e { type inet_service; }
add element ip n e { 1, 2 }
delete element ip n e { 1 }
)",
  };
  const std::string alphabet = "{}\";,/-:@$!=<>&|()*#\n \t a09.x";
  std::mt19937 rng(14);
  for (int i = 0; i < 3000; ++i) {
    std::string script = seeds[static_cast<std::size_t>(i) % std::size(seeds)];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = rng() % script.size();
      switch (rng() % 3) {
        case 0: script[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: script.erase(at, 1 + rng() % 4); break;
        default: script.resize(at); break;
      }
      if (script.empty()) script = "x";
    }
    const std::string before = list_ruleset(net());
    std::string diag;
    if (run(net(), script, diag)) {
      const std::string after = list_ruleset(net());
      Host other(support::test_config(nullptr));
      ASSERT_TRUE(make_channel(other.init_net(), "nd0"));
      ASSERT_TRUE(run(other.init_net(), after, diag)) << script << "\n" << diag << after;
      ASSERT_EQ(list_ruleset(other.init_net()), after) << script;
    } else {
      ASSERT_EQ(list_ruleset(net()), before) << script;
      ASSERT_NE(diag.find("Error: "), std::string::npos);
    }
    if (i % 50 == 0) {
      ASSERT_TRUE(run(net(), "flush ruleset"));
    }
  }
}

TEST(NftPrinter, IntervalsPrintAsPrefixesWhenAligned) {
  auto v4 = [](const char* a) { return Key::of_ipv4(Ipv4Address::parse(a).value()); };
  EXPECT_EQ(print_interval(DataType::ipv4_addr, {v4("10.1.0.0"), v4("10.1.0.255")}), "10.1.0.0/24");
  EXPECT_EQ(print_interval(DataType::ipv4_addr, {v4("10.1.0.0"), v4("10.1.0.254")}), "10.1.0.0-10.1.0.254");
  EXPECT_EQ(print_interval(DataType::ipv4_addr, {v4("0.0.0.0"), v4("255.255.255.255")}), "0.0.0.0/0");
  EXPECT_EQ(print_interval(DataType::ipv4_addr, {v4("10.0.0.1"), v4("10.0.0.1")}), "10.0.0.1");
  EXPECT_EQ(print_interval(DataType::inet_service, {Key::of_uint(1024, 2), Key::of_uint(2047, 2)}), "1024-2047");
}

}  // namespace nft_nft_test
}  // namespace
}  // namespace netns::nft
