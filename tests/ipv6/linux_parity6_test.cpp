// IPv6 judged by Linux, with the prober and the two targets of
// support/linux_targets.hpp:
// - the prober pings each target's link-local address with datagrams that
//   go in fragments both ways, and the counters of reassembly,
//   fragmentation and ICMPv6 (snmp6's, by type too) must move in the netns
//   target as in the Linux one;
// - the prober sends both targets the same crafted probes (python3-scapy):
//   extension headers and their options' action bits, routing header 0,
//   atomic fragments, impossible sources, closed ports, a truncated
//   datagram, and, to both as routers, a redirect, a hop limit that runs
//   out and no route. Both must answer alike, and the counters the probes
//   move must move alike.
// Skipped without root, /dev/net/tun, ip, ping or python3-scapy.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "netns/ipv6.hpp"
#include "support/linux_net.hpp"
#include "support/linux_path.hpp"
#include "support/linux_targets.hpp"

namespace netns {
namespace {
namespace ipv6_linux_parity6_test {

constexpr auto kLimit = std::chrono::seconds(30);  // only reached on failure

class LinuxParity6 : public support::LinuxTargetsTest {
 protected:
  LinuxParity6() : LinuxTargetsTest({"ping"}) {}

  // The netns target's link-local address on its TAP, once DAD is done.
  std::optional<Ipv6Address> netns_link_local() {
    for (const ipv6::AddressInfo& a : ipv6::addresses(*dut_)) {
      if (a.dev == dut_tap_ && a.prefix.address().is_link_local() && !a.tentative) return a.prefix.address();
    }
    return std::nullopt;
  }

  // The Linux target's, from `ip -6 -o addr show scope link`, once DAD is done.
  std::optional<std::string> linux_link_local() {
    auto shown = support::run_command(in_linux_target({"ip", "-6", "-o", "addr", "show", "scope", "link"}));
    const auto at = shown.output.find("inet6 ");
    if (!shown.ok() || at == std::string::npos || shown.output.find("tentative") != std::string::npos) {
      return std::nullopt;
    }
    const auto begin = at + 6;
    return shown.output.substr(begin, shown.output.find('/', begin) - begin);
  }

  // Whether the prober's own addresses are usable as sources.
  bool prober_ready() {
    auto shown = support::run_command(prober({"ip", "-6", "addr", "show", "tentative"}));
    return shown.ok() && shown.output.find("inet6") == std::string::npos;
  }
};

TEST_F(LinuxParity6, FragmentAndIcmp6CountersMoveAsLinuxsForFragmentedEchoes) {
  std::optional<std::string> linux_target;
  ASSERT_TRUE(support::poll_host_until(
      host_, [&] { return netns_link_local() && (linux_target = linux_link_local()) && prober_ready(); }, kLimit))
      << "duplicate address detection did not finish";
  const std::string netns_target = netns_link_local()->to_string();
  auto ping = [&](const std::string& target, const std::string& interface) {
    return prober({"ping", "-6", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "2", "-s", "3000",
                   target + "%" + interface});
  };
  const support::CounterMap linux_before = support::kernel_counters(linux_target_name());
  const support::CounterMap netns_before = support::netns_counters(*dut_);
  ASSERT_FALSE(linux_before.empty()) << "cannot read the Linux target's counters";
  auto on_linux = support::run_while_polling(host_, ping(*linux_target, veth_), kLimit);
  ASSERT_TRUE(on_linux.ok()) << on_linux.output;
  auto on_netns = support::run_while_polling(host_, ping(netns_target, tap_name_), kLimit);
  ASSERT_TRUE(on_netns.ok()) << on_netns.output;
  const auto linux_moved =
      support::counter_changes(linux_before, support::kernel_counters(linux_target_name()));
  const auto netns_moved = support::counter_changes(netns_before, support::netns_counters(*dut_));
  // What the echoes alone move: neighbour discovery and MLD, which either
  // side may send at its own time, are left out.
  for (const char* name :
       {"Ip6ReasmReqds", "Ip6ReasmOKs", "Ip6ReasmFails", "Ip6FragOKs", "Ip6FragCreates", "Icmp6InEchos",
        "Icmp6OutEchoReplies", "Icmp6InType128", "Icmp6OutType129"}) {
    EXPECT_EQ(support::counter(netns_moved, name), support::counter(linux_moved, name)) << name;
  }
  // What Linux counted: 3,048-byte datagrams in three fragments each way,
  // so that a silent target cannot pass.
  EXPECT_EQ(support::counter(linux_moved, "Ip6ReasmOKs"), 3u);
  EXPECT_EQ(support::counter(linux_moved, "Ip6FragCreates"), 9u);
  EXPECT_EQ(support::counter(linux_moved, "Icmp6OutType129"), 3u);
}

// ---- crafted probes ----

// Runs probes(say, t, src, gw) against each target named on the command
// line as NAME=TARGET,INTERFACE,SOURCE,GATEWAY (the prober's link-local
// address there), and say() prints "<probe> <target> <answer>": the first
// IPv6 datagram from the target that is neither neighbour discovery nor
// MLD nor a datagram it forwarded, normalised (T: the target, TL: a
// link-local address of it, P: the prober, G: the prober's link-local
// address; an error's quote by its length).
constexpr std::string_view kProbe6Helpers = R"PY(
import logging, sys, threading
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)  # not the neighbour lookup's warnings
from scapy.all import (Ether, IPv6, ICMPv6EchoRequest, IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt,
                       IPv6ExtHdrRouting, IPv6ExtHdrFragment, HBHOptUnknown, UDP, TCP, Raw,
                       AsyncSniffer, sendp, getmacbyip6, get_if_hwaddr, conf)
conf.verb = 0

def background(pkt):
    l = pkt[IPv6].payload
    return getattr(l, "type", None) in (130, 131, 132, 133, 134, 135, 136, 143)

def options(raw):  # NDP options as type:bytes
    out, i = [], 0
    while i + 2 <= len(raw) and raw[i + 1] > 0:
        out.append("%d:%d" % (raw[i], raw[i + 1] * 8))
        i += raw[i + 1] * 8
    return ",".join(out)

def name_of(addr, names):
    return names.get(addr, "TL" if addr.startswith("fe80:") else addr)

def answer(pkt, names):
    if pkt is None:
        return "none"
    ip = pkt[IPv6]
    if TCP in pkt:
        return "tcp(%s) hlim=%d" % (pkt[TCP].flags, ip.hlim)
    l = ip.payload
    s = "icmp6(%d,%d) hlim=%d src=%s" % (l.type, l.code, ip.hlim, name_of(ip.src, names))
    if l.type == 4:
        s += " ptr=%d" % l.ptr
    if l.type == 137:
        s += " tgt=%s dst=%s opts=%s" % (name_of(l.tgt, names), l.dst, options(bytes(l)[40:]))
    if l.type in (1, 2, 3, 4):
        s += " quote=%d" % len(bytes(l.payload))
    return s

def each_target(probes):
    for arg in sys.argv[1:]:
        name, rest = arg.split("=")
        t, iface, src, gw = rest.split(",")
        mac = getmacbyip6(t)
        eth = Ether(dst=mac, src=get_if_hwaddr(iface))
        names = {t: "T", src: "P", gw: "G"}
        def say(probe, p):
            started = threading.Event()
            sniffer = AsyncSniffer(iface=iface, count=1, timeout=0.8, started_callback=started.set,
                                   lfilter=lambda r: r.src == mac and IPv6 in r and r[IPv6].src != src and
                                                     not background(r))
            sniffer.start()
            started.wait(5)
            sendp(eth / p, iface=iface)
            sniffer.join()
            got = sniffer.results[0] if sniffer.results else None
            print("%s %s %s" % (probe, name, answer(got, names)), flush=True)
        probes(say, t, src, gw)
)PY";

// A host's probes. Each option is the unknown type 0x1e with its two
// action bits set as named: skip, discard, ICMP, ICMP unless multicast.
constexpr std::string_view kHost6Probes = R"PY(
def host_probes(say, t, src, gw):
    pre = t.rsplit(":", 1)[0] + ":"
    echo = lambda seq: ICMPv6EchoRequest(id=7, seq=seq)
    opt = lambda kind: [HBHOptUnknown(otype=kind, optdata=b"\0" * 4)]
    say("echo", IPv6(src=src, dst=t) / echo(1))
    say("hbh-skip", IPv6(src=src, dst=t) / IPv6ExtHdrHopByHop(options=opt(0x1e)) / echo(2))
    say("hbh-discard", IPv6(src=src, dst=t) / IPv6ExtHdrHopByHop(options=opt(0x5e)) / echo(3))
    say("hbh-icmp", IPv6(src=src, dst=t) / IPv6ExtHdrHopByHop(options=opt(0x9e)) / echo(4))
    say("hbh-icmp-unless-mcast", IPv6(src=src, dst=t) / IPv6ExtHdrHopByHop(options=opt(0xde)) / echo(5))
    say("dstopt-icmp", IPv6(src=src, dst=t) / IPv6ExtHdrDestOpt(options=opt(0x9e)) / echo(6))
    say("unknown-next-header", IPv6(src=src, dst=t, nh=253) / Raw(b"x" * 8))
    say("rh0", IPv6(src=src, dst=t) / IPv6ExtHdrRouting(type=0, addresses=[pre + "99"], segleft=1) / echo(7))
    say("rh0-done", IPv6(src=src, dst=t) / IPv6ExtHdrRouting(type=0, addresses=[pre + "99"], segleft=0) / echo(8))
    say("atomic-fragment", IPv6(src=src, dst=t) / IPv6ExtHdrFragment(offset=0, m=0, id=0x1234) / echo(9))
    say("udp-closed", IPv6(src=src, dst=t) / UDP(sport=40003, dport=81) / Raw(b"x" * 8))
    say("syn-closed", IPv6(src=src, dst=t) / TCP(sport=40002, dport=81, flags="S", seq=1000))
    say("multicast-src", IPv6(src="ff02::1", dst=t) / echo(10))
    say("loopback-src", IPv6(src="::1", dst=t) / echo(11))
    say("v4mapped-src", IPv6(src="::ffff:192.0.2.1", dst=t) / echo(12))
    say("not-for-us", IPv6(src=src, dst=pre + "99") / UDP(sport=4000, dport=4001))
    say("truncated", IPv6(src=src, dst=t, plen=200) / echo(13))

each_target(host_probes)
)PY";

// A router's probes, through 2001:db8:99::/64, which each target routes
// back by the prober's link-local address (2001:db8:98::/64 is routed
// nowhere): an echo from that address first, so that each target has it
// resolved (whether a redirect carries the target's link-layer address
// must not hang on background neighbour discovery); a datagram whose
// better first hop is that address (a redirect, before any error: an
// ICMPv6 error just before spends the credit both share for the prober),
// and the same from that link-local address itself;
// a hop limit that runs out; no route; and a hop limit of 1 that is ours
// to take.
constexpr std::string_view kRouter6Probes = R"PY(
def router_probes(say, t, src, gw):
    say("echo-from-gateway", IPv6(src=gw, dst=t) / ICMPv6EchoRequest(id=7, seq=19))
    say("redirect", IPv6(src=src, dst="2001:db8:99::6") / UDP(sport=40011, dport=9) / Raw(b"x" * 8))
    say("redirect-link-local-src", IPv6(src=gw, dst="2001:db8:99::7") / UDP(sport=40013, dport=9) / Raw(b"x" * 8))
    say("hlim-expired", IPv6(src=src, dst="2001:db8:99::5", hlim=1) / UDP(sport=40010, dport=9) / Raw(b"x" * 1400))
    say("no-route", IPv6(src=src, dst="2001:db8:98::1") / UDP(sport=40012, dport=9) / Raw(b"x" * 8))
    say("hlim-1-to-us", IPv6(src=src, dst=t, hlim=1) / ICMPv6EchoRequest(id=7, seq=20))

each_target(router_probes)
)PY";

// Counters that neighbour discovery, MLD and router solicitations move
// too, each side at its own time: left out of the comparison.
bool moved_by_background(std::string_view name) {
  for (std::string_view part : {"InReceives", "InDelivers", "OutRequests", "OutTransmits", "Octets", "Mcast", "Msgs",
                                "ECT", "Neighbor", "Router", "MLD", "Group", "Type133", "Type134", "Type135",
                                "Type136", "Type143"}) {
    if (name.find(part) != std::string_view::npos) return true;
  }
  return false;
}

constexpr std::string_view kNetnsGlobal = "2001:db8:1::2";
constexpr std::string_view kProberToNetnsGlobal = "2001:db8:1::1";
constexpr std::string_view kLinuxGlobal = "2001:db8:2::2";
constexpr std::string_view kProberToLinuxGlobal = "2001:db8:2::1";

class LinuxProbes6 : public LinuxParity6 {
 protected:
  void SetUp() override {
    if (!support::run_command({"/usr/bin/python3", "-c", "import scapy.all"}).ok()) {
      GTEST_SKIP() << "python3-scapy is not installed";
    }
    LinuxParity6::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_TRUE(ipv6::add_address(*dut_, *dut_tap_, Ipv6Prefix::parse(std::string(kNetnsGlobal) + "/64").value()));
    for (const auto& argv : {prober({"ip", "-6", "addr", "add", std::string(kProberToNetnsGlobal) + "/64", "dev",
                                     tap_name_, "nodad"}),
                             prober({"ip", "-6", "addr", "add", std::string(kProberToLinuxGlobal) + "/64", "dev",
                                     veth_, "nodad"}),
                             in_linux_target({"ip", "-6", "addr", "add", std::string(kLinuxGlobal) + "/64", "dev",
                                              linux_target_interface(), "nodad"})}) {
      auto done = support::run_command(argv);
      ASSERT_TRUE(done.ok()) << done.output;
    }
    ASSERT_TRUE(support::poll_host_until(
        host_, [&] { return netns_ready() && linux_link_local() && prober_ready(); }, kLimit))
        << "duplicate address detection did not finish";
  }

  // Whether every netns address on the TAP passed DAD.
  bool netns_ready() {
    bool any = false;
    for (const ipv6::AddressInfo& a : ipv6::addresses(*dut_)) {
      if (a.dev != dut_tap_) continue;
      if (a.tentative) return false;
      any = true;
    }
    return any;
  }

  // The prober's link-local address on `interface`.
  std::string prober_link_local(const std::string& interface) {
    auto shown = support::run_command(prober({"ip", "-6", "-o", "addr", "show", "dev", interface, "scope", "link"}));
    const auto at = shown.output.find("inet6 ");
    if (!shown.ok() || at == std::string::npos) return {};
    return shown.output.substr(at + 6, shown.output.find('/', at + 6) - at - 6);
  }

  // Runs kProbe6Helpers + `probes` against both targets.
  support::ProbeRun probe_both(std::string_view probes, std::size_t expected) {
    auto target = [&](std::string_view name, std::string_view t, const std::string& interface, std::string_view src) {
      return fmt::format("{}={},{},{},{}", name, t, interface, src, prober_link_local(interface));
    };
    return run_probes(std::string(kProbe6Helpers) + std::string(probes),
                      {target("netns", kNetnsGlobal, tap_name_, kProberToNetnsGlobal),
                       target("linux", kLinuxGlobal, veth_, kProberToLinuxGlobal)},
                      expected);
  }

  // Every Ip6, Icmp6, Udp6, Tcp and TcpExt counter that moved on either
  // target, but those the background moves too, moved alike.
  static void expect_counted_alike(const support::ProbeRun& run) {
    support::expect_counted_alike(run.linux_moved, run.netns_moved, {"Ip6", "Icmp6", "Udp6", "Tcp", "TcpExt"},
                                  moved_by_background);
  }
};

TEST_F(LinuxProbes6, NetnsAnswersEveryProbeAsLinuxDoes) {
  const support::ProbeRun run = probe_both(kHost6Probes, 17);
  if (HasFailure()) return;
  support::expect_linux_said(run, {{"echo", "icmp6(129,0) hlim=64 src=T"},
                                   {"hbh-icmp", "icmp6(4,2) hlim=64 src=T ptr=42 quote=56"},
                                   {"unknown-next-header", "icmp6(4,1) hlim=64 src=T ptr=6 quote=48"},
                                   {"rh0", "icmp6(4,0) hlim=64 src=T ptr=42 quote=72"},
                                   {"udp-closed", "icmp6(1,4) hlim=64 src=T quote=56"},
                                   {"syn-closed", "tcp(RA) hlim=64"},
                                   {"hbh-discard", "none"},
                                   {"multicast-src", "none"},
                                   {"loopback-src", "none"},
                                   {"v4mapped-src", "none"},
                                   {"not-for-us", "none"},
                                   {"truncated", "none"}});
  expect_counted_alike(run);
}

TEST_F(LinuxProbes6, NetnsRoutesAndCountsAsLinuxDoes) {
  ASSERT_TRUE(dut_->sysctl().set("net.ipv6.conf.all.forwarding", "1"));
  const std::string to_netns = prober_link_local(tap_name_), to_linux = prober_link_local(veth_);
  ASSERT_FALSE(to_netns.empty() || to_linux.empty());
  ASSERT_TRUE(ipv6::add_route(*dut_, {.prefix = Ipv6Prefix::parse("2001:db8:99::/64").value(),
                                      .via = Ipv6Address::parse(to_netns).value(), .dev = dut_tap_}));
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{"sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"},
        std::vector<std::string>{"ip", "-6", "route", "add", "2001:db8:99::/64", "via", to_linux, "dev",
                                 linux_target_interface()}}) {
    auto done = support::run_command(in_linux_target(argv));
    ASSERT_TRUE(done.ok()) << done.output;
  }
  const support::ProbeRun run = probe_both(kRouter6Probes, 6);
  if (HasFailure()) return;
  // A redirect carries the target's link-layer address (resolved by the
  // echo's reply) and the redirected header (the datagram's 56 bytes); a
  // link-local source goes back out of its own link, redirected too.
  support::expect_linux_said(
      run, {{"redirect", "icmp6(137,0) hlim=255 src=TL tgt=G dst=2001:db8:99::6 opts=2:8,4:64"},
            {"redirect-link-local-src", "icmp6(137,0) hlim=255 src=TL tgt=G dst=2001:db8:99::7 opts=2:8,4:64"},
            {"hlim-expired", "icmp6(3,0) hlim=64 src=T quote=1232"},
            {"no-route", "icmp6(1,0) hlim=64 src=T quote=56"},
            {"hlim-1-to-us", "icmp6(129,0) hlim=64 src=T"}});
  expect_counted_alike(run);
}

}  // namespace ipv6_linux_parity6_test
}  // namespace
}  // namespace netns
