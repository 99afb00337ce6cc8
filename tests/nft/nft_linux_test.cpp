// The judge is the real nft: each script is loaded with `nft -f` into a
// Linux namespace this test creates and with nft::run into a netns
// namespace, and `nft list ruleset` there must equal list_ruleset here,
// byte for byte; run() of that listing must give it back. Needs root and
// nft (Debian's nftables); skips otherwise.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "netns/device.hpp"
#include "netns/host.hpp"
#include "netns/net.hpp"
#include "netns/nft.hpp"
#include "nft/nft_net.hpp"
#include "nft/printer.hpp"
#include "stack/builtins.hpp"
#include "support/fixtures.hpp"
#include "support/linux_net.hpp"

namespace netns::nft {
namespace {
namespace nft_nft_linux_test {

struct Script {
  const char* name;
  const char* text;
};

// Each script starts from an empty ruleset. nd0 exists on both sides (a
// veth end in Linux, a channel device in netns: their ifindexes differ and
// nft prints `iif` by name).
const Script kScripts[] = {
    {"stateful inet filter", R"(
table inet filter {
  chain input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    ct state invalid drop
    iifname "lo" accept
    ip protocol icmp icmp type echo-request limit rate 5/second accept
    icmpv6 type { echo-request, nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept
    tcp dport { 22, 80, 443 } ct state new counter accept
  }
  chain forward { type filter hook forward priority filter; policy drop; }
  chain output { type filter hook output priority filter; policy accept; }
}
)"},
    {"nat router", R"(
table ip nat {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "nd0" tcp dport 8080 dnat to 192.0.2.10:80
    iifname "nd0" udp dport 5353 dnat to 192.0.2.11
    tcp dport 2222 redirect to :22
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "nd0" masquerade
    ip saddr 198.51.100.0/24 oifname "nd0" snat to 203.0.113.1
    ip saddr 198.51.100.0/24 udp dport 53 snat to 203.0.113.1-203.0.113.9:1024-2048
    meta l4proto tcp masquerade to :10000-20000
  }
}
)"},
    {"inet nat with families", R"(
table inet nat {
  chain pre {
    type nat hook prerouting priority dstnat - 5; policy accept;
    tcp dport 80 dnat ip to 192.0.2.1:8080
    ip6 daddr 2001:db8::1 dnat ip6 to 2001:db8::2
  }
  chain out { type nat hook output priority -100; policy accept; udp dport 53 redirect to :5353; }
  chain post { type nat hook postrouting priority srcnat + 1; policy accept; masquerade; }
}
)"},
    {"ip6 filter", R"(
table ip6 f {
  chain in {
    type filter hook input priority 0; policy drop;
    ip6 saddr ::1 accept
    ip6 saddr 2001:db8::/32 ip6 daddr != 2001:db8:1::/48 drop
    ip6 saddr { ::1, 2001:db8::/64, 2001:db8:1::1-2001:db8:1::5 } accept
    icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem, echo-request, echo-reply } accept
    meta l4proto ipv6-icmp icmpv6 type nd-redirect drop
    reject with icmpv6 type admin-prohibited
  }
}
)"},
    {"named interval sets", R"(
table inet t {
  set blocked { type ipv4_addr; flags interval; elements = { 10.0.0.3, 10.0.0.1, 192.0.2.0/24, 10.1.0.0-10.1.0.255, 10.2.0.5-10.2.0.9, 198.51.100.0/25 } }
  set hosts { type ipv4_addr; elements = { 10.0.0.3, 10.0.0.1, 10.0.0.2, 1.2.3.4, 203.0.113.9 } }
  set v6 { type ipv6_addr; flags interval; elements = { 2001:db8:5::1, 2001:db8::/64, ::2 } }
  set ports { type inet_service; elements = { 443, 22, 80, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17 } }
  set pr { type inet_service; flags interval; elements = { 1024-2047, 8080, 6000-6010 } }
  set names { type ifname; elements = { "eth0", "lo", "nd0", "wan1" } }
  set marks { type mark; elements = { 1, 0x10, 0xffffffff } }
  set protos { type inet_proto; elements = { tcp, udp, 132 } }
  set empty { type ipv4_addr; }
  chain c {
    type filter hook forward priority 0; policy accept;
    ip saddr @blocked drop
    ip daddr @hosts accept
    ip6 saddr @v6 drop
    tcp dport @ports accept
    udp dport @pr accept
    iifname @names accept
    meta mark @marks accept
    meta l4proto @protos counter
  }
}
)"},
    {"variables", R"(
define wan = "nd0"
define admin = { 192.0.2.1, 192.0.2.2 }
define web = { 80, 443 }
table ip t {
  chain c {
    type filter hook input priority 0; policy accept;
    iifname $wan ip saddr $admin tcp dport 22 accept
    iifname $wan tcp dport $web accept
  }
}
)"},
    {"commands and positions", R"(
add table ip t
add chain ip t c { type filter hook input priority 0; policy accept; }
add rule ip t c tcp dport 1 accept
add rule ip t c tcp dport 2 accept
insert rule ip t c tcp dport 0 accept
add rule ip t c position 3 tcp dport 15 accept
insert rule ip t c position 4 tcp dport 19 accept
replace rule ip t c handle 4 tcp dport 20 drop
delete rule ip t c handle 3
)"},
    {"create, delete, flush", R"(
create table inet a
add chain inet a keep
add chain inet a gone
add rule inet a keep accept
add rule inet a gone drop
flush chain inet a gone
delete chain inet a gone
add table ip b
add chain ip b c
add rule ip b c counter
flush table ip b
add table ip6 z
delete table ip6 z
)"},
    {"priorities", R"(
table ip x {
  chain a1 { type filter hook input priority 20; }
  chain a2 { type filter hook input priority 11; }
  chain a3 { type filter hook input priority -200; }
  chain a4 { type filter hook input priority -160; }
  chain a5 { type filter hook input priority mangle; }
  chain a6 { type filter hook input priority security; }
  chain a7 { type nat hook postrouting priority 100; }
  chain a8 { type nat hook postrouting priority 90; }
  chain a9 { type filter hook prerouting priority -100; }
  chain b1 { type filter hook output priority -310; }
  chain b2 { type filter hook output priority 1000; }
  chain b3 { type filter hook forward priority raw + 3; policy drop; }
}
)"},
    {"tcp flags", R"(
table inet t {
  chain c {
    tcp flags syn accept
    tcp flags & (syn|ack) == syn accept
    tcp flags syn / syn,ack accept
    tcp flags & (fin|syn|rst|ack) != syn drop
    tcp flags != syn accept
    tcp flags { syn, ack }
    tcp flags syn,ack
    tcp flags == syn
    tcp flags rst,psh,urg,ecn,cwr counter
  }
}
)"},
    {"reject ip", R"(
table ip t {
  chain c {
    reject
    reject with icmp type port-unreachable
    reject with icmp type host-unreachable
    reject with icmp type net-unreachable
    reject with icmp type prot-unreachable
    reject with icmp type net-prohibited
    reject with icmp type host-prohibited
    reject with icmp type admin-prohibited
    ip protocol tcp reject with tcp reset
    tcp dport 22 reject with tcp reset
  }
}
)"},
    {"reject ip6 and inet", R"(
table ip6 t {
  chain c {
    reject
    reject with icmpv6 type no-route
    reject with icmpv6 type port-unreachable
    reject with icmpv6 type addr-unreachable
    reject with icmpv6 type policy-fail
    reject with icmpv6 type reject-route
    reject with icmpv6 type admin-prohibited
  }
}
table inet u {
  chain c {
    reject
    reject with icmpx type port-unreachable
    reject with icmpx type admin-prohibited
    reject with icmpx type no-route
    reject with icmpx type host-unreachable
    reject with icmp type host-unreachable
    reject with icmpv6 type no-route
  }
}
)"},
    {"log and limit", R"(
table ip t {
  chain c {
    log
    log prefix "in: "
    log prefix "x" level info
    log level debug
    log level emerg prefix "both"
    limit rate 10/second
    limit rate over 100/minute drop
    limit rate 5/hour burst 10 packets
    limit rate 1/day burst 5 packets accept
    udp dport 53-60 log prefix "dns " level warn
  }
}
)"},
    {"meta", R"(
table inet t {
  chain c {
    meta mark 0x10 accept
    mark 7 drop
    meta mark != 3
    meta mark set 0x5
    mark set 42 accept
    meta pkttype broadcast drop
    meta pkttype { host, broadcast, multicast, other }
    meta pkttype != host
    meta l4proto { icmp, 58 }
    meta l4proto 99
    notrack
  }
}
)"},
    {"interfaces", R"(
table inet t {
  chain c {
    type filter hook input priority 0; policy accept;
    iif nd0 accept
    iif "lo" oif nd0 counter
    meta iif lo drop
    iifname "eth*" accept
    iifname != "lo" drop
    oifname { "nd0", "lo" } accept
    meta oifname "nd0" continue
  }
}
)"},
    {"jumps", R"(
table inet t {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr 192.0.2.0/24 jump from_lan
    tcp dport != 22 goto other
    meta mark set 0x5 jump other comment "hello"
  }
  chain from_lan {
    tcp dport 22 accept
    jump common
    return
  }
  chain common { udp sport 53 continue; counter; }
  chain other { }
}
)"},
    {"elements", R"(
add table ip t
add set ip t s { type ipv4_addr; }
add element ip t s { 192.0.2.1, 192.0.2.2, 192.0.2.3 }
delete element ip t s { 192.0.2.2 }
add set ip t i { type inet_service; flags interval; }
add element ip t i { 1-10, 100 }
add element ip t i { 20-30 }
delete element ip t i { 1-10 }
add set ip t gone { type ipv4_addr; }
delete set ip t gone
add chain ip t c
add rule ip t c ip saddr @s tcp dport @i accept
flush set ip t s
)"},
    {"ct", R"(
table inet t {
  chain c {
    ct state established,related accept
    ct state != invalid accept
    ct state { established, related } accept
    ct state new,established,related,invalid,untracked
    ct state new counter
    ct status dnat accept
    ct status expected,seen-reply,assured,confirmed,snat,dnat,dying
    ct status != snat
  }
}
)"},
    {"dependencies and merged fields", R"(
table ip t {
  chain c {
    meta l4proto tcp iifname "x" tcp dport 22
    ip protocol tcp tcp dport 22
    meta l4proto icmp icmp type echo-reply
    tcp dport 22 tcp sport 1
    udp dport 53 udp sport 5353 accept
    ip daddr 192.0.2.1 ip saddr 192.0.2.2 accept
    ip daddr 10.0.0.1 ip daddr 10.0.0.2
    ip protocol udp
    icmp type 200
  }
}
)"},
    {"every family", R"(
table ip a { chain c { type filter hook prerouting priority raw; }; }
table ip6 b { chain c { type filter hook postrouting priority 50; policy drop; }; }
table inet c { chain c { type filter hook forward priority -150; }; }
table ip d { }
table inet e { chain only { }; }
)"},
    {"anonymous sets", R"(
table ip t {
  chain c {
    ip saddr { 10.0.0.0/8, 192.0.2.1-192.0.2.9, 198.51.100.7 } counter packets 3 bytes 300
    ip saddr { 10.0.0.3, 10.0.0.1 } tcp dport { 443, 22 } accept
    tcp dport { 1-1024, 8080 } accept
    tcp dport != { 1, 2 }
    tcp dport { 22 } accept
    ip protocol { tcp, udp }
    icmp type { echo-reply, destination-unreachable, source-quench, redirect, echo-request, time-exceeded, parameter-problem }
  }
}
)"},
    {"ranges and relations", R"(
table ip t {
  chain c {
    tcp dport 1-1024
    tcp dport != 3-5
    tcp dport < 1024 accept
    tcp dport >= 49152 drop
    udp sport > 1000
    udp sport <= 10
    ip saddr 10.0.0.0/8 ip daddr 10.0.0.1-10.0.0.9 drop
    ip saddr != 10.0.0.0/8
    ip daddr 0.0.0.0/0
  }
}
)"},
    {"the big one", R"(
table inet t {
  chain in {
    type filter hook input priority filter + 10; policy drop;
    ip6 saddr ::1 ip6 daddr 2001:db8::/32 reject with icmpv6 type admin-prohibited
    icmp type echo-request limit rate 10/second burst 5 packets accept
    ip daddr != 10.0.0.1 notrack
    limit rate over 100/minute drop
    reject with icmp type host-unreachable
    reject
  }
}
table ip t4 { chain c { type filter hook forward priority -5; policy accept; tcp dport 22 accept; }; }
table ip6 t6 {
  chain c { type filter hook output priority raw; }
  chain d { type filter hook output priority 55; }
  chain e { type nat hook output priority -100; }
}
)"},
    {"set wrapping and reset dependencies", R"(
table inet t {
  set m { type mark; elements = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20 } }
  set p { type inet_proto; elements = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20 } }
  set c { type ct_state; elements = { new, established, related, invalid, untracked } }
  set k { type pkt_type; elements = { host, broadcast, multicast, other } }
  set i { type icmp_type; elements = { echo-request, echo-reply, redirect } }
  set s { type ct_status; elements = { snat, dnat, assured } }
  set v { type ipv4_addr; flags interval; elements = { 10.0.0.0/8, 192.168.0.0/16, 1.1.1.1, 2.2.2.2, 3.3.3.3 } }
  chain c {
    reject with tcp reset
    meta l4proto tcp reject with tcp reset
    tcp dport 1 reject with tcp reset
  }
}
table ip u { chain c { reject with tcp reset; meta l4proto tcp reject with tcp reset; ip protocol udp; }; }
table ip6 w { chain c { reject with tcp reset; meta l4proto tcp reject with tcp reset; }; }
)"},
    {"exact values and host bits", R"(
table ip6 t {
  chain c {
    ip6 saddr { ::1, 2001:db8::1/64, 2001:db8:1::1-2001:db8:1::5 }
    ip6 saddr 2001:db8::1/64
  }
}
table ip u {
  chain c {
    ip saddr 10.0.0.1/8
    ct state == established
    tcp flags == 0x12
  }
}
table inet v { chain c { mark set 0x1; meta l4proto { tcp, udp }; }; }
)"},
    {"flag values with |", R"(
table inet t {
  chain c {
    tcp flags syn|ack
    tcp flags & (syn|ack) == syn|ack counter
    tcp flags & (syn|ack) != syn
    tcp flags & syn == syn
    tcp flags & (syn|ack) == 0
    tcp flags ! syn|ack,fin
    tcp flags == syn|ack
    tcp flags != syn
    tcp flags { syn|ack, fin, 0x0 }
    tcp flags syn|fin / syn,ack
    tcp flags & 0xff == syn
    ct status snat|dnat
    ct status snat|0x100
    ct state != established,related
    ct state { established|related, new }
    ct status & 0x300 == 0x300
  }
}
)"},
    {"tcp reset dependencies", R"(
table ip a {
  chain c {
    meta mark 7 counter reject with tcp reset
    iifname "x" meta l4proto tcp reject with tcp reset
    ip protocol tcp counter reject with tcp reset
    ct state new reject with tcp reset
  }
}
table ip6 b { chain c { ip6 saddr ::1 log reject with tcp reset; tcp dport 1 counter reject with tcp reset; }; }
table inet c {
  chain c {
    tcp dport 81 meta mark set 7
    meta mark 7 counter reject with tcp reset
    ct state new reject with tcp reset
    iifname "x" meta l4proto tcp reject with tcp reset
  }
}
)"},
    {"IPv6 NAT targets", R"(
table ip6 n {
  chain pre {
    type nat hook prerouting priority dstnat; policy accept;
    tcp dport 1 dnat ip6 to [2001:db8::1]:8080
    tcp dport 2 dnat to [2001:db8::1]:80-90
    tcp dport 3 dnat to [2001:db8::1]-[2001:db8::2]:80-90
    dnat to [2001:db8::1]-2001:db8::2
    dnat to 2001:db8::-2001:db8::3
    udp dport 4 dnat to [2001:db8::1] : http
  }
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
    snat ip6 to [2001:db8::1]-[2001:db8::2]
    udp dport 1 snat to [2001:db8::1]:1000-1000
  }
}
table inet i {
  chain pre {
    type nat hook prerouting priority dstnat; policy accept;
    ip6 daddr 2001:db8::5 tcp dport 3 dnat to [2001:db8::1]:80
    ip daddr 192.0.2.9 dnat to 192.0.2.0-192.0.2.3
    tcp dport 4 dnat ip to 192.0.2.1-192.0.2.1:80
  }
}
)"},
};

class NftLinuxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = support::kernel_test_skip_reason({"ip", "nft"})) GTEST_SKIP() << *why;
    auto ns = support::LinuxNetns::create(support::unique_linux_name("nft"));
    if (!ns) GTEST_SKIP() << "cannot create Linux network namespaces";
    ns_.emplace(std::move(*ns));
    if (!ns_->ip({"link", "add", "nd0", "type", "veth", "peer", "name", "nd1"}).ok())
      GTEST_SKIP() << "cannot create a veth in a Linux namespace";
    path_ = "/tmp/" + support::unique_linux_name("nft") + ".nft";
  }
  void TearDown() override {
    if (!path_.empty()) std::remove(path_.c_str());
  }

  support::CommandResult nft(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"nft"};
    argv.insert(argv.end(), args.begin(), args.end());
    return support::run_command(ns_->exec_argv(argv));
  }

  std::optional<support::LinuxNetns> ns_;
  std::string path_;
};

TEST_F(NftLinuxTest, ListingsEqualLinuxNftForEveryScript) {
  ASSERT_GE(std::size(kScripts), 20u);
  for (const Script& s : kScripts) {
    SCOPED_TRACE(s.name);
    ASSERT_TRUE(nft({"flush", "ruleset"}).ok());
    { std::ofstream(path_) << s.text; }
    const auto loaded = nft({"-f", path_});
    ASSERT_TRUE(loaded.ok()) << loaded.output;
    const auto linux_listing = nft({"list", "ruleset"});
    ASSERT_TRUE(linux_listing.ok()) << linux_listing.output;

    Host host(support::test_config(nullptr));
    ASSERT_TRUE(make_channel(host.init_net(), "nd0"));
    std::string diag;
    ASSERT_TRUE(run(host.init_net(), s.text, diag)) << diag;
    const std::string ours = list_ruleset(host.init_net());
    EXPECT_EQ(ours, linux_listing.output);

    // The handles too (`nft -a`), but the tables': Linux numbers them per
    // namespace across this test's flushes, a fresh Host from 1.
    const std::regex table_handle(R"(^(table .*) # handle \d+$)", std::regex::multiline);
    const auto linux_handles = nft({"-a", "list", "ruleset"});
    const Net& net = host.init_net();
    const std::string our_handles = print_ruleset(
        *host.builtins().nft().state(host.init_net()).ruleset,
        [&net](int ifindex) {
          const Device* dev = net.device(ifindex);
          return dev != nullptr ? std::string(dev->name()) : std::string();
        },
        true);
    EXPECT_EQ(std::regex_replace(our_handles, table_handle, "$1"),
              std::regex_replace(linux_handles.output, table_handle, "$1"));

    // The listing is a script: both sides read it back into the same ruleset.
    Host again(support::test_config(nullptr));
    ASSERT_TRUE(make_channel(again.init_net(), "nd0"));
    ASSERT_TRUE(run(again.init_net(), ours, diag)) << diag;
    EXPECT_EQ(list_ruleset(again.init_net()), ours);
  }
}

// The scripts nft refuses are refused here too, and change nothing on either side.
TEST_F(NftLinuxTest, FailingScriptsFailOnBothSides) {
  const char* kBase = "table inet t { chain c { type filter hook input priority 0; tcp dport 22 accept; }; chain r { }; }";
  const char* kBad[] = {
      "add rule inet t c tcp dport 80 accept\nadd rule inet t c tcp dport ?",
      "add rule inet t c accept\nadd rule inet t nope accept",
      "add rule inet t c ip saddr 10.0.0.300 accept",
      "add rule inet t c ip saddr 10.0.0.0/33",
      "add rule inet t c tcp dport 65536",
      "add rule inet t c iif nosuchdev accept",
      "add rule inet t c ip protocol udp tcp dport 22",
      "add rule inet t c jump nope",
      "add rule inet t r jump r\nadd rule inet t c jump r",
      "add rule inet t c jump c",
      "add rule inet t c dnat ip to 192.0.2.1",
      "add rule inet t c masquerade to :1-2",
      "create table inet t",
      "add set inet t s { type ipv4_addr; flags interval; elements = { 10.0.0.0/8, 10.1.0.0/16 }; }",
      "delete rule inet t c handle 999",
      "add rule inet t c ip saddr @nope",
      "add rule inet t c ct state bogus",
      "add chain inet t p { type filter hook postrouting priority 0; }\nadd rule inet t p reject",
      "add chain inet t n { type nat hook input priority 100; }\nadd rule inet t n masquerade",
      "add rule inet t r reject\nadd chain inet t p { type filter hook postrouting priority 0; }\nadd rule inet t p jump r",
  };
  for (const char* bad : kBad) {
    SCOPED_TRACE(bad);
    ASSERT_TRUE(nft({"flush", "ruleset"}).ok());
    { std::ofstream(path_) << kBase; }
    ASSERT_TRUE(nft({"-f", path_}).ok());
    const std::string linux_before = nft({"list", "ruleset"}).output;
    { std::ofstream(path_) << bad; }
    EXPECT_FALSE(nft({"-f", path_}).ok());
    EXPECT_EQ(nft({"list", "ruleset"}).output, linux_before);

    Host host(support::test_config(nullptr));
    ASSERT_TRUE(run(host.init_net(), kBase));
    const std::string before = list_ruleset(host.init_net());
    EXPECT_EQ(before, linux_before);
    std::string diag;
    EXPECT_FALSE(run(host.init_net(), bad, diag));
    EXPECT_NE(diag.find("Error: "), std::string::npos);
    EXPECT_EQ(list_ruleset(host.init_net()), before);
  }
}

}  // namespace nft_nft_linux_test
}  // namespace
}  // namespace netns::nft
