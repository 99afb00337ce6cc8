#include "support/nft_differential.hpp"

#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>

#include <fmt/format.h>

#include "netns/clock.hpp"
#include "netns/device.hpp"
#include "netns/ipv4.hpp"
#include "netns/ipv6.hpp"
#include "netns/net.hpp"
#include "netns/nft.hpp"
#include "netns/tap.hpp"
#include "support/fixtures.hpp"

namespace netns::support {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPython = "/usr/bin/python3";
constexpr int kTcpOpen[] = {22, 80, 81, 82, 443};
constexpr int kUdpEcho = 53;

// Every host's services: TCP ports accepted and held open (the prober
// resets them) on dual-stack sockets, UDP 53 echoed on each of the host's
// addresses (argv), so that the answer leaves from the address asked (with
// two addresses in a prefix, IPv6 picks either as the source).
constexpr const char* kServer = R"(
import selectors, socket, sys, time
sel = selectors.DefaultSelector()
held = []
for port in (22, 80, 81, 82, 443):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('::', port)); s.listen(128); s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, 'tcp')
for addr in sys.argv[1:]:
    u = socket.socket(socket.AF_INET6 if ':' in addr else socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((addr, 53)); u.setblocking(False)
    sel.register(u, selectors.EVENT_READ, 'udp')
print('ready', flush=True)
end = time.monotonic() + 600
while time.monotonic() < end:
    for key, _ in sel.select(1.0):
        try:
            if key.data == 'tcp':
                held.append(key.fileobj.accept()[0])
            else:
                data, peer = key.fileobj.recvfrom(2048)
                key.fileobj.sendto(data, peer)
        except OSError:
            pass
)";

// The prober: argv[1] a JSON list of probes, argv[2] the window in
// seconds, argv[3] the run's number, which makes echo identifiers the same
// on both copies and new in every run (no conntrack entry of an earlier
// ruleset's ping is met again). Sends them all, then reads answers until each has one or the
// window ends; ICMP errors are read on raw sockets (matched to the probe
// they quote), so a TCP connect refused by an ICMP error is told from one
// refused by a reset. Prints "INDEX OUTCOME" per probe.
constexpr const char* kProber = R"(
import errno, json, select, socket, struct, sys, time
probes = json.loads(sys.argv[1]); window = float(sys.argv[2]); run = int(sys.argv[3])
V4, V6 = socket.AF_INET, socket.AF_INET6
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
cap4 = socket.socket(V4, socket.SOCK_RAW, socket.IPPROTO_ICMP)
cap6 = socket.socket(V6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
cap4.setblocking(False); cap6.setblocking(False)
out = [None] * len(probes)
keys = {}; tcp = {}; udp = {}; keep = []
deadline = time.monotonic() + window  # from the first SYN: closed before TCP would send it again
for i, p in enumerate(probes):
    fam = V6 if ':' in p['dst'] else V4
    try:
        if p['k'] == 'ping':
            s = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_ICMP if fam == V4 else socket.IPPROTO_ICMPV6)
            s.bind((p['src'], 0))
            ident = (run * 128 + i) & 0xffff
            msg = struct.pack('!BBHHH', 8 if fam == V4 else 128, 0, 0, ident, 1) + b'netns-nft-diff'
            if fam == V4:
                msg = msg[:2] + struct.pack('!H', csum(msg)) + msg[4:]
            s.sendto(msg, (p['dst'], 0))
            keys[(fam, 'ping', ident)] = i; keep.append(s)  # identifiers are unique per probe
        else:
            s = socket.socket(fam, socket.SOCK_STREAM if p['k'] == 'tcp' else socket.SOCK_DGRAM)
            s.setblocking(False)
            s.bind((p['src'], 0))
            if p['k'] == 'tcp':
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
                s.connect_ex((p['dst'], p['port'])); tcp[s.fileno()] = (i, s)
            else:
                s.connect((p['dst'], p['port'])); s.send(b'netns-nft-diff'); udp[s.fileno()] = (i, s)
            # Sockets of two families, or from two sources, may share a port.
            keys[(fam, p['k'], s.getsockname()[0], s.getsockname()[1])] = i
    except OSError as e:
        out[i] = 'error ' + errno.errorcode.get(e.errno, str(e.errno))
def answer(key, what):
    i = keys.get(key)
    if i is not None and out[i] is None:
        out[i] = what
def quoted(fam, proto, src, l4):
    if proto in (6, 17) and len(l4) >= 2:
        return (fam, 'tcp' if proto == 6 else 'udp', src, struct.unpack('!H', l4[0:2])[0])
    if proto in (1, 58) and len(l4) >= 6:
        return (fam, 'ping', struct.unpack('!H', l4[4:6])[0])
    return None
def drain():
    while True:
        try:
            pkt, frm = cap4.recvfrom(4096)
        except BlockingIOError:
            break
        icmp = pkt[(pkt[0] & 15) * 4:]
        if icmp[0] == 0:
            answer((V4, 'ping', struct.unpack('!H', icmp[4:6])[0]), 'reply')
        elif icmp[0] in (3, 11, 12) and len(icmp) >= 28:
            q = icmp[8:]
            k = quoted(V4, q[9], socket.inet_ntop(V4, q[12:16]), q[(q[0] & 15) * 4:])
            if k: answer(k, 'icmp %d/%d from %s' % (icmp[0], icmp[1], frm[0]))
    while True:
        try:
            icmp, frm = cap6.recvfrom(4096)
        except BlockingIOError:
            break
        if icmp[0] == 129:
            answer((V6, 'ping', struct.unpack('!H', icmp[4:6])[0]), 'reply')
        elif icmp[0] in (1, 2, 3, 4) and len(icmp) >= 48:
            k = quoted(V6, icmp[8 + 6], socket.inet_ntop(V6, icmp[16:32]), icmp[48:])
            if k: answer(k, 'icmp %d/%d from %s' % (icmp[0], icmp[1], frm[0]))
while None in out:
    left = deadline - time.monotonic()
    if left <= 0:
        break
    r, w, _ = select.select([cap4, cap6] + [s for i, s in udp.values() if out[i] is None],
                            [s for i, s in tcp.values() if out[i] is None], [], left)
    drain()
    for s in w:
        i, _ = tcp[s.fileno()]
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        drain()  # an ICMP error reaches the raw socket before TCP reads it
        if out[i] is None and err == 0:
            out[i] = 'established'
        elif out[i] is None and err == errno.ECONNREFUSED:
            out[i] = 'rst'
        elif out[i] is None:
            out[i] = 'error ' + errno.errorcode.get(err, str(err))
    for s in r:
        if s.fileno() in udp:
            i, _ = udp[s.fileno()]
            try:
                s.recv(2048)
                if out[i] is None: out[i] = 'reply'
            except OSError:
                drain()
for i, s in list(tcp.values()) + list(udp.values()):
    s.close()
time.sleep(0.05)
for i, o in enumerate(out):
    print(i, o or 'timeout')
)";

std::string json_probes(const std::vector<DiffProbe>& probes) {
  std::string json = "[";
  for (const DiffProbe& p : probes) {
    const char* kind = p.kind == DiffProbe::Kind::ping ? "ping" : p.kind == DiffProbe::Kind::tcp ? "tcp" : "udp";
    json += fmt::format(R"({}{{"k":"{}","src":"{}","dst":"{}","port":{}}})", json.size() > 1 ? "," : "", kind,
                        p.src, p.dst, p.port);
  }
  return json + "]";
}

std::vector<std::string> parse_outcomes(const std::string& output, std::size_t count) {
  std::vector<std::string> outcomes(count, "no answer from the prober");
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    std::size_t index = 0;
    char* end = nullptr;
    index = std::strtoul(line.c_str(), &end, 10);
    if (end == line.c_str() || *end != ' ' || index >= count) continue;
    outcomes[index] = std::string(end + 1);
  }
  return outcomes;
}

void check(const CommandResult& r, const std::string& what) {
  ASSERT_TRUE(r.ok()) << what << ": " << r.output;
}

}  // namespace

std::string DiffProbe::text() const {
  switch (kind) {
    case Kind::ping:
      return fmt::format("ping {} -> {}", src, dst);
    case Kind::tcp:
      return fmt::format("tcp {} -> {}:{}", src, dst, port);
    case Kind::udp:
      return fmt::format("udp {} -> {}:{}", src, dst, port);
  }
  return {};
}

HostConfig NftDifferentialTest::real_time_config() {
  HostConfig config = test_config();
  config.start = Clock::now();
  config.utc_offset = system_utc_offset();
  return config;
}

std::optional<LinuxNetns>& NftDifferentialTest::ns(char which, int copy) {
  if (which == 'R') return r1_;
  if (which == 'A') return copy == 1 ? a1_ : a2_;
  return copy == 1 ? b1_ : b2_;
}

void NftDifferentialTest::SetUp() {
  if (auto why = kernel_test_skip_reason({"ip", "nft", "sysctl"})) GTEST_SKIP() << *why;
  if (::access(kPython, X_OK) != 0) GTEST_SKIP() << kPython << " is not installed";
  for (auto* slot : {&a1_, &r1_, &b1_, &a2_, &b2_}) {
    auto made = LinuxNetns::create(unique_linux_name("ndn"));
    if (!made) GTEST_SKIP() << "cannot create Linux network namespaces";
    slot->emplace(std::move(*made));
  }
  // Before any interface exists, so that `default` reaches them all.
  const std::vector<std::string> quiet = {
      "sysctl", "-q", "-w", "net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0",
      "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
      "net.ipv6.conf.default.accept_ra=0", "net.ipv6.conf.all.accept_ra=0"};
  for (auto* slot : {&a1_, &r1_, &b1_, &a2_, &b2_}) check(run_command((*slot)->exec_argv(quiet)), "sysctl");
  check(run_command(r1_->exec_argv({"sysctl", "-q", "-w", "net.ipv4.ip_forward=1",
                                    "net.ipv6.conf.all.forwarding=1"})),
        "forwarding");

  lan_ = unique_linux_name("ndl");
  wan_ = unique_linux_name("ndw");
  // The Linux copy: R1's veth ends carry the TAPs' names.
  check(r1_->ip({"link", "add", lan_, "type", "veth", "peer", "name", "eth0", "netns", a1_->name()}), "veth lan");
  check(r1_->ip({"link", "add", wan_, "type", "veth", "peer", "name", "eth0", "netns", b1_->name()}), "veth wan");
  for (const auto& [dev, v4, v6] : {std::tuple{lan_, kRlan, kRlanV6}, std::tuple{wan_, kRwan, kRwanV6}}) {
    check(r1_->ip({"addr", "add", fmt::format("{}/24", v4), "dev", dev}), "R1 address");
    check(r1_->ip({"-6", "addr", "add", fmt::format("{}/64", v6), "dev", dev, "nodad"}), "R1 address");
    check(r1_->ip({"link", "set", dev, "up"}), "R1 link");
  }
  check(r1_->ip({"link", "set", "lo", "up"}), "R1 lo");

  // The netns copy.
  r2_ = host_.create_net("r").value();
  for (const char* knob : {"net.ipv4.icmp_ratelimit", "net.ipv6.icmp.ratelimit"}) {
    ASSERT_TRUE(r2_->sysctl().set(knob, "0"));
  }
  for (const char* knob : {"net.ipv4.neigh.default.base_reachable_time_ms",
                           "net.ipv6.neigh.default.base_reachable_time_ms"}) {
    ASSERT_TRUE(r2_->sysctl().set(knob, "3600000"));
  }
  ASSERT_TRUE(r2_->sysctl().set("net.ipv4.ip_forward", "1"));
  ASSERT_TRUE(r2_->sysctl().set("net.ipv6.conf.all.forwarding", "1"));
  ASSERT_TRUE(set_link_up(r2_->loopback()));
  for (const auto& [dev, v4, v6, outside] :
       {std::tuple{lan_, kRlan, kRlanV6, &a2_}, std::tuple{wan_, kRwan, kRwanV6, &b2_}}) {
    auto tap = make_tap(*r2_, dev);
    ASSERT_TRUE(tap) << tap.error().message();
    ASSERT_TRUE(r2_->sysctl().set(fmt::format("net.ipv6.conf.{}.accept_dad", dev), "0"));
    ASSERT_TRUE(r2_->sysctl().set(fmt::format("net.ipv6.conf.{}.accept_ra", dev), "0"));
    ASSERT_TRUE(set_link_up(**tap));
    ASSERT_TRUE(ipv4::add_address(*r2_, **tap, Ipv4Prefix::parse(fmt::format("{}/24", v4)).value()));
    ASSERT_TRUE(ipv6::add_address(*r2_, **tap, Ipv6Prefix::parse(fmt::format("{}/64", v6)).value()));
    check(ip({"link", "set", dev, "netns", (*outside)->name()}), "TAP move");
    check((*outside)->ip({"link", "set", dev, "name", "eth0"}), "TAP rename");
  }

  // The outside hosts, the same on both copies.
  for (char which : {'A', 'B'}) {
    const bool a = which == 'A';
    for (int copy : {1, 2}) {
      LinuxNetns& n = *ns(which, copy);
      check(n.ip({"link", "set", "lo", "up"}), "lo");
      for (const char* addr : {a ? kA1 : kB1, a ? kA2 : kB2}) {
        check(n.ip({"addr", "add", fmt::format("{}/24", addr), "dev", "eth0"}), "address");
      }
      for (const char* addr : {a ? kA1v6 : kB1v6, a ? kA2v6 : kB2v6}) {
        check(n.ip({"-6", "addr", "add", fmt::format("{}/64", addr), "dev", "eth0", "nodad"}), "address");
      }
      check(n.ip({"link", "set", "eth0", "up"}), "eth0 up");
      check(n.ip({"route", "add", "default", "via", a ? kRlan : kRwan}), "route");
      check(n.ip({"-6", "route", "add", "default", "via", a ? kRlanV6 : kRwanV6, "dev", "eth0"}), "route");
    }
  }
  // A namespace other than the first has no neigh/default: per interface.
  const auto reachable = [](LinuxNetns& n, const std::string& dev) {
    check(run_command(n.exec_argv({"sysctl", "-q", "-w",
                                   fmt::format("net.ipv4.neigh.{}.base_reachable_time_ms=3600000", dev),
                                   fmt::format("net.ipv6.neigh.{}.base_reachable_time_ms=3600000", dev)})),
          "neighbour sysctls");
  };
  for (auto* slot : {&a1_, &b1_, &a2_, &b2_}) reachable(**slot, "eth0");
  reachable(*r1_, lan_);
  reachable(*r1_, wan_);
  for (int copy : {1, 2}) {
    ASSERT_TRUE(ns('A', copy)->wait_operstate_up("eth0"));
    ASSERT_TRUE(ns('B', copy)->wait_operstate_up("eth0"));
  }
  ASSERT_TRUE(r1_->wait_operstate_up(lan_));
  ASSERT_TRUE(r1_->wait_operstate_up(wan_));

  // Services: Python on the Linux hosts, sockets in R2.
  const std::vector<std::string> a_addrs = {kA1, kA2, kA1v6, kA2v6}, b_addrs = {kB1, kB2, kB1v6, kB2v6},
                                 r_addrs = {kRlan, kRwan, kRlanV6, kRwanV6};
  for (const auto& [slot, addrs] : {std::pair{&a1_, &a_addrs}, std::pair{&r1_, &r_addrs}, std::pair{&b1_, &b_addrs},
                                     std::pair{&a2_, &a_addrs}, std::pair{&b2_, &b_addrs}}) {
    std::vector<std::string> argv = {kPython, "-c", kServer};
    argv.insert(argv.end(), addrs->begin(), addrs->end());
    auto server = ChildProcess::spawn((*slot)->exec_argv(argv));
    ASSERT_TRUE(server);
    servers_.push_back(std::move(*server));
  }
  for (int port : kTcpOpen) {
    const auto v4 = static_cast<std::uint16_t>(port);
    listeners_.push_back(tcp::listen(*r2_, {Ipv4Address::any(), v4}).value());
    listeners_.push_back(tcp::listen(*r2_, {Ipv6Address::any(), v4}, {.v6only = true}).value());
  }
  echo_.push_back(udp::open(*r2_, Family::ipv4).value());
  ASSERT_TRUE(echo_.back().bind({Ipv4Address::any(), kUdpEcho}));
  echo_.push_back(udp::open(*r2_, Family::ipv6).value());
  ASSERT_TRUE(echo_.back().set_v6only(true));
  ASSERT_TRUE(echo_.back().bind({Ipv6Address::any(), kUdpEcho}));
  for (ChildProcess& server : servers_) {
    ASSERT_TRUE(poll_host_until(
        host_, [&] { return !server.running() || server.output().find("ready") != std::string::npos; },
        kCommandTimeout, &server));
    ASSERT_TRUE(server.running()) << server.result().output;
  }
  nft_path_ = "/tmp/" + unique_linux_name("ndf") + ".nft";

  // Neighbours resolved everywhere, and the rig itself the same on both
  // copies before any rule: what each probe must get without rules.
  const std::vector<DiffProbeRun> runs = standard_probes();
  const std::vector<DiffOutcome> got = expect_same("no ruleset", "", true);
  ASSERT_EQ(got.size(), runs.size());
  for (std::size_t r = 0; r < runs.size(); ++r) {
    for (std::size_t i = 0; i < runs[r].probes.size(); ++i) {
      const DiffProbe& p = runs[r].probes[i];
      const bool v6 = p.dst.find(':') != std::string::npos;
      const std::string expected =
          p.kind == DiffProbe::Kind::ping ? "reply"
          : p.kind == DiffProbe::Kind::tcp ? (p.port == 83 ? "rst" : "established")
          : p.port == kUdpEcho            ? "reply"
                                          : fmt::format("icmp {} from {}", v6 ? "1/4" : "3/3", p.dst);
      ASSERT_EQ(got[r].linux_side[i], expected) << p.text() << " without rules, on the Linux copy";
    }
  }
}

void NftDifferentialTest::TearDown() {
  held_.clear();
  listeners_.clear();
  echo_.clear();
  servers_.clear();
  if (!nft_path_.empty()) std::remove(nft_path_.c_str());
}

void NftDifferentialTest::serve_netns_router() {
  for (tcp::Listener& l : listeners_) {
    while (auto s = l.accept()) held_.push_back(std::move(*s));
  }
  std::array<std::byte, 2048> buf{};
  for (udp::Socket& s : echo_) {
    while (auto d = s.receive_from(buf)) (void)s.send_to(std::span(buf.data(), d->size), d->from);
  }
}

bool NftDifferentialTest::load(const std::string& script) {
  const std::string text =
      fmt::format("flush ruleset\ndefine lan = \"{}\"\ndefine wan = \"{}\"\n{}", lan_, wan_, script);
  { std::ofstream(nft_path_) << text; }
  const auto linux_loaded = run_command(r1_->exec_argv({"nft", "-f", nft_path_}));
  EXPECT_TRUE(linux_loaded.ok()) << "Linux's nft refused:\n" << script << "\n" << linux_loaded.output;
  std::string diagnostics;
  const bool ours = static_cast<bool>(nft::run(*r2_, text, diagnostics));
  EXPECT_TRUE(ours) << "nft::run refused:\n" << script << "\n" << diagnostics;
  return linux_loaded.ok() && ours;
}

std::vector<DiffOutcome> NftDifferentialTest::probe(const std::vector<DiffProbeRun>& runs) {
  std::vector<DiffOutcome> outcomes;
  for (const DiffProbeRun& run : runs) {
    EXPECT_LE(run.probes.size(), 128u) << "a probe run's echo identifiers would repeat";
    const std::vector<std::string> argv = {kPython, "-c", kProber, json_probes(run.probes), "0.5",
                                           std::to_string(probe_runs_++)};
    auto linux_prober = ChildProcess::spawn(ns(run.from, 1)->exec_argv(argv));
    DiffOutcome got;
    if (!linux_prober) {
      got.linux_side.assign(run.probes.size(), "the prober did not start");
    }
    const auto netns_said =
        run_while_polling(host_, ns(run.from, 2)->exec_argv(argv), kCommandTimeout, [this] { serve_netns_router(); });
    got.netns_side = parse_outcomes(netns_said.output, run.probes.size());
    if (linux_prober) {
      poll_host_until(host_, [&] { return !linux_prober->running(); }, kCommandTimeout, &*linux_prober);
      if (linux_prober->running()) linux_prober->kill();
      got.linux_side = parse_outcomes(linux_prober->result().output, run.probes.size());
    }
    outcomes.push_back(std::move(got));
  }
  return outcomes;
}

std::string NftDifferentialTest::linux_listing() {
  return run_command(r1_->exec_argv({"nft", "list", "ruleset"})).output;
}

std::string NftDifferentialTest::netns_listing() { return nft::list_ruleset(*r2_); }

std::vector<DiffProbeRun> NftDifferentialTest::standard_probes() {
  using K = DiffProbe::Kind;
  DiffProbeRun from_a{'A', {}}, from_b{'B', {}};
  for (bool v6 : {false, true}) {
    for (const char* src : {v6 ? kA1v6 : kA1, v6 ? kA2v6 : kA2}) {
      const std::string b = v6 ? kB1v6 : kB1, r = v6 ? kRlanV6 : kRlan;
      for (const std::string& dst : {b, r}) {
        from_a.probes.push_back({K::ping, src, dst, 0});
        for (int port : {80, 81, 82, 83}) from_a.probes.push_back({K::tcp, src, dst, port});
        if (dst == b) from_a.probes.push_back({K::tcp, src, dst, 22});
        for (int port : {53, 54}) from_a.probes.push_back({K::udp, src, dst, port});
      }
    }
    for (const char* src : {v6 ? kB1v6 : kB1, v6 ? kB2v6 : kB2}) {
      const std::string a = v6 ? kA1v6 : kA1, r = v6 ? kRwanV6 : kRwan;
      from_b.probes.push_back({K::ping, src, a, 0});
      for (int port : {80, 81, 82, 83}) from_b.probes.push_back({K::tcp, src, a, port});
      for (int port : {53, 54}) from_b.probes.push_back({K::udp, src, a, port});
      from_b.probes.push_back({K::ping, src, r, 0});
      from_b.probes.push_back({K::tcp, src, r, 80});
      from_b.probes.push_back({K::udp, src, r, 53});
    }
  }
  return {from_a, from_b};
}

std::vector<DiffOutcome> NftDifferentialTest::expect_same(const std::string& name, const std::string& script,
                                                          bool compare_bytes) {
  if (!load(script)) return {};
  const std::vector<DiffProbeRun> runs = standard_probes();
  std::vector<DiffOutcome> got = probe(runs);
  std::string differences;
  const bool print = std::getenv("NETNS_NFT_DIFF_PRINT") != nullptr;  // every outcome, to read a ruleset's effect
  if (print) fmt::print("ruleset \"{}\"\n", name);
  for (std::size_t r = 0; r < runs.size(); ++r) {
    for (std::size_t i = 0; i < runs[r].probes.size(); ++i) {
      if (print) fmt::print("  {:<44} {:<32} {}\n", runs[r].probes[i].text(), got[r].linux_side[i], got[r].netns_side[i]);
      if (got[r].linux_side[i] == got[r].netns_side[i]) continue;
      differences += fmt::format("  {:<44} Linux: {:<32} netns: {}\n", runs[r].probes[i].text(),
                                 got[r].linux_side[i], got[r].netns_side[i]);
    }
  }
  EXPECT_TRUE(differences.empty()) << "ruleset \"" << name << "\":\n"
                                   << script << "\nprobes answered differently:\n"
                                   << differences;
  std::string linux_rules = linux_listing(), netns_rules = netns_listing();
  if (!compare_bytes) {
    const std::regex bytes(R"(bytes \d+)");
    linux_rules = std::regex_replace(linux_rules, bytes, "bytes _");
    netns_rules = std::regex_replace(netns_rules, bytes, "bytes _");
  }
  EXPECT_EQ(linux_rules, netns_rules) << "ruleset \"" << name << "\": the counters differ (Linux's listing "
                                      << "first, netns's second)";
  return got;
}

bool NftDifferentialTest::netns_tracks_connections() {
  if (!load(R"(
table inet probe {
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established accept
    tcp dport 80 ct state new accept
  }
}
)")) {
    return false;
  }
  // Port 80 passes only if replies are tracked as established; 81, never
  // allowed, shows the chain runs at all (a router without nft's hooks
  // would let both through).
  const auto got =
      probe({{'A', {{DiffProbe::Kind::tcp, kA1, kB1, 80}, {DiffProbe::Kind::tcp, kA1, kB1, 81}}}});
  return got.front().netns_side == std::vector<std::string>{"established", "timeout"};
}

}  // namespace netns::support
