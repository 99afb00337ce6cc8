// Conntrack on the packet path (conntrack/hooks.hpp) on real traffic
// through a router namespace, both families: what the router's table holds
// after UDP, a TCP connection's life, ping and a fragmented datagram; ICMP
// errors the stack sends tracked as related; notrack; loopback tracked once;
// a full table in one namespace while another works; netns_get/put turning
// the hooks on and off; and entries that packets keep alive past a flush.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "conntrack/conntrack.hpp"
#include "conntrack/entry.hpp"
#include "conntrack/hooks.hpp"
#include "ipv4/stack.hpp"
#include "ipv6/stack.hpp"
#include "netfilter/hooks.hpp"
#include "netns/conntrack.hpp"
#include "netns/counters.hpp"
#include "netns/device.hpp"
#include "netns/icmp.hpp"
#include "netns/ipv4.hpp"
#include "netns/ipv6.hpp"
#include "netns/net.hpp"
#include "netns/tcp.hpp"
#include "netns/udp.hpp"
#include "stack/builtins.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace conntrack_hooks_test {

using namespace std::chrono_literals;
using netfilter::Hook;
using netfilter::HookOps;
using netfilter::HookState;
using netfilter::Verdict;

// A hook entry a test places beside conntrack's: drops what it is told to,
// marks datagrams untracked, and records the ctinfo of ICMP it sees.
struct Probe {
  bool drop = false;
  bool notrack = false;
  std::vector<int> icmp_info;  // ctinfo of each ICMP(v6) error seen (-1: no connection)
};
Verdict probe(void* priv, Packet& packet, const HookState& s) {
  auto* p = static_cast<Probe*>(priv);
  if (p->notrack) packet.set_nfct(nullptr, conntrack::kCtInfoUntracked);
  const auto bytes = packet.data();
  const bool v4 = s.family == Family::ipv4;
  const std::size_t l4 = v4 ? (static_cast<std::size_t>(bytes[0]) & 0xf) * 4 : 40;
  const auto proto = static_cast<std::uint8_t>(bytes[v4 ? 9 : 6]);
  if (bytes.size() > l4 && (v4 ? proto == 1 : proto == 58)) {
    const auto type = static_cast<std::uint8_t>(bytes[l4]);
    const bool error = v4 ? (type == 3 || type == 11) : type < 128;
    if (error) p->icmp_info.push_back(packet.nfct() != nullptr ? packet.nfct_info() : -1);
  }
  return p->drop ? Verdict::drop : Verdict::accept;
}

// Takes every datagram it sees (stolen), as a queue would.
struct Keeper {
  std::vector<Packet> kept;
};
Verdict keep(void* priv, Packet& packet, const HookState&) {
  static_cast<Keeper*>(priv)->kept.push_back(std::move(packet));
  return Verdict::stolen;
}

class CtHooksTest : public support::HostTest, public ::testing::WithParamInterface<Family> {
 protected:
  void SetUp() override {
    support::RoutedNets nets;
    support::route_through(host_, nets);
    ASSERT_FALSE(HasFatalFailure());
    a_ = std::move(nets.a);
    r_ = std::move(nets.r);
    b_ = std::move(nets.b);
    left_ = {nets.a_eth0, nets.r_left};
    for (Net* n : {a_.get(), r_.get(), b_.get()}) ASSERT_TRUE(set_link_up(n->loopback()));
    run_for(support::kPastDad);
    ASSERT_TRUE(conntrack::netns_get(*r_, GetParam()));
  }
  void TearDown() override {
    for (auto& [net, h, ops] : probes_) hooks(*net).remove(h, ops);
    for (Net* n : {a_.get(), r_.get(), b_.get()}) {
      while (n != nullptr && conntrack::netns_users(*n, GetParam()) > 0) conntrack::netns_put(*n, GetParam());
    }
  }

  bool v6() const { return GetParam() == Family::ipv6; }
  netfilter::HookTable& hooks(Net& n) {
    return netfilter::hook_table(n, GetParam());
  }
  void add_probe(Net& net, Hook h, int priority, Probe& p) {
    const HookOps ops{&probe, &p, priority};
    ASSERT_TRUE(hooks(net).add(h, ops));
    probes_.push_back({&net, h, ops});
  }
  void remove_probe(Net& net, Hook h, Probe& p) {
    for (auto it = probes_.begin(); it != probes_.end(); ++it) {
      if (it->net == &net && it->hook == h && it->ops.priv == &p) {
        hooks(net).remove(h, it->ops);
        probes_.erase(it);
        return;
      }
    }
  }

  IpAddress any() const { return v6() ? IpAddress(Ipv6Address::any()) : IpAddress(Ipv4Address::any()); }
  IpAddress a_addr() const { return v6() ? IpAddress(Ipv6Address::parse("2001:db8:1::1").value()) : IpAddress(Ipv4Address(192, 0, 2, 1)); }
  IpAddress b_addr() const {
    return v6() ? IpAddress(Ipv6Address::parse("2001:db8:2::2").value()) : IpAddress(Ipv4Address(198, 51, 100, 2));
  }
  IpAddress r_left() const { return v6() ? IpAddress(Ipv6Address::parse("2001:db8:1::2").value()) : IpAddress(Ipv4Address(192, 0, 2, 2)); }
  std::string a_str() const { return v6() ? "2001:db8:1::1" : "192.0.2.1"; }
  std::string b_str() const { return v6() ? "2001:db8:2::2" : "198.51.100.2"; }
  std::string tuple(std::uint16_t sport, std::uint16_t dport) const {
    return "src=" + a_str() + " dst=" + b_str() + " sport=" + std::to_string(sport) + " dport=" + std::to_string(dport);
  }

  // The router's table, one line per entry.
  std::vector<std::string> entries(Net& net) {
    std::vector<std::string> out;
    const std::string all = conntrack::dump(net);
    for (std::size_t at = 0; at < all.size();) {
      const std::size_t end = all.find('\n', at);
      out.push_back(all.substr(at, end - at));
      at = end + 1;
    }
    return out;
  }
  std::string only_entry(Net& net) {
    auto e = entries(net);
    EXPECT_EQ(e.size(), 1u) << conntrack::dump(net);
    return e.empty() ? "" : e[0];
  }

  struct Flow {
    std::uint16_t sport = 0;
    std::size_t received = 0;  // bytes b got
  };
  // One UDP datagram of `size` bytes from a to b:7000, and b's answer when `reply`.
  Flow udp_flow(std::size_t size, bool reply) {
    auto server = udp::open(*b_, GetParam()).value();
    EXPECT_TRUE(server.bind({any(), 7000}));
    auto client = udp::open(*a_, GetParam()).value();
    std::vector<std::byte> data(size, std::byte{0x5a});
    EXPECT_TRUE(client.send_to(data, {b_addr(), 7000}));
    run_for(50ms);
    Flow f;
    f.sport = client.local_endpoint().port;
    std::vector<std::byte> buf(size + 16);
    if (auto got = server.receive_from(buf)) {
      f.received = got->size;
      if (reply) {
        EXPECT_TRUE(server.send_to(std::span(buf).first(4), got->from));
        run_for(50ms);
        std::array<std::byte, 16> back{};
        EXPECT_TRUE(client.receive_from(back));
      }
    }
    return f;
  }

  struct ProbeAt {
    Net* net;
    Hook hook;
    HookOps ops;
  };
  std::vector<ProbeAt> probes_;
  std::array<Device*, 2> left_{};
  NetRef a_, r_, b_;
};

INSTANTIATE_TEST_SUITE_P(BothFamilies, CtHooksTest, ::testing::Values(Family::ipv4, Family::ipv6),
                         [](const auto& info) { return info.param == Family::ipv4 ? "Ipv4" : "Ipv6"; });

TEST_P(CtHooksTest, UdpThroughTheRouterIsOneEntryThatSeesItsReply) {
  Flow f = udp_flow(8, false);
  ASSERT_EQ(f.received, 8u);
  std::string e = only_entry(*r_);
  EXPECT_EQ(e.rfind("udp      17 ", 0), 0u) << e;
  EXPECT_NE(e.find(tuple(f.sport, 7000) + " [UNREPLIED] src=" + b_str()), std::string::npos) << e;
  EXPECT_EQ(r_->sysctl().get("net.netfilter.nf_conntrack_count").value(), "1");
  // Neither end tracks: only r asked for it.
  EXPECT_EQ(conntrack::count(*a_), 0u);
  EXPECT_EQ(conntrack::count(*b_), 0u);

  conntrack::flush(*r_);
  f = udp_flow(8, true);
  e = only_entry(*r_);
  EXPECT_NE(e.find(tuple(f.sport, 7000) + " src=" + b_str()), std::string::npos) << e;  // no [UNREPLIED]
  EXPECT_EQ(conntrack::stats(*r_).insert, 2u);
}

TEST_P(CtHooksTest, ATcpConnectionGoesThroughItsStatesAsTheRouterSeesIt) {
  auto listener = tcp::listen(*b_, {any(), 80}).value();
  // b does not hear the first SYN: the router has seen only it.
  Probe deaf{.drop = true};
  add_probe(*b_, Hook::prerouting, 0, deaf);
  auto client = tcp::connect(*a_, {b_addr(), 80}).value();
  run_for(100ms);
  const std::uint16_t sport = client.local_endpoint().port;
  std::string e = only_entry(*r_);
  EXPECT_EQ(e.rfind("tcp      6 ", 0), 0u) << e;
  EXPECT_NE(e.find(" SYN_SENT " + tuple(sport, 80) + " [UNREPLIED] src="), std::string::npos) << e;

  remove_probe(*b_, Hook::prerouting, deaf);
  run_for(1500ms);  // the SYN's retransmission, the handshake
  auto server = listener.accept().value();
  e = only_entry(*r_);
  EXPECT_NE(e.find(" ESTABLISHED " + tuple(sport, 80) + " src="), std::string::npos) << e;
  EXPECT_NE(e.find("[ASSURED]"), std::string::npos) << e;

  client.close();
  run_for(100ms);
  server.close();
  run_for(100ms);
  e = only_entry(*r_);
  EXPECT_NE(e.find(" TIME_WAIT " + tuple(sport, 80) + " src="), std::string::npos) << e;
  listener.close();
  EXPECT_EQ(conntrack::stats(*r_).invalid, 0u);
}

TEST_P(CtHooksTest, PingIsTrackedWithItsEchoId) {
  auto ping = icmp::open(*a_, GetParam()).value();
  ASSERT_TRUE(ping.send_echo(b_addr(), 1));
  run_for(50ms);
  ASSERT_TRUE(ping.receive());
  const std::string e = only_entry(*r_);
  const std::string head = v6() ? "icmpv6   58 " : "icmp     1 ";
  const std::string echo = v6() ? " type=128 code=0 id=" : " type=8 code=0 id=";
  EXPECT_EQ(e.rfind(head, 0), 0u) << e;
  EXPECT_NE(e.find(" src=" + a_str() + " dst=" + b_str() + echo), std::string::npos) << e;
  EXPECT_EQ(e.find("[UNREPLIED]"), std::string::npos) << e;
}

TEST_P(CtHooksTest, ErrorsTheStackSendsAreRelatedToTheirConnection) {
  ASSERT_TRUE(conntrack::netns_get(*b_, GetParam()));
  Probe at_b, at_r;
  add_probe(*b_, Hook::postrouting, 0, at_b);
  add_probe(*r_, Hook::forward, 0, at_r);
  auto client = udp::open(*a_, GetParam()).value();
  const std::array<std::byte, 8> data{};
  ASSERT_TRUE(client.send_to(data, {b_addr(), 7001}));
  run_for(50ms);
  EXPECT_EQ(b_->counters().value(v6() ? Counter::Icmp6OutDestUnreachs : Counter::IcmpOutDestUnreachs), 1u);
  // The port unreachable leaves b and crosses r as the reply side's related.
  EXPECT_EQ(at_b.icmp_info, (std::vector<int>{static_cast<int>(conntrack::CtInfo::related_reply)}));
  EXPECT_EQ(at_r.icmp_info, (std::vector<int>{static_cast<int>(conntrack::CtInfo::related_reply)}));
  EXPECT_EQ(conntrack::stats(*b_).error, 0u);
}

TEST_P(CtHooksTest, AFragmentedDatagramIsReassembledTrackedOnceAndForwardedInItsPieces) {
  // 3000 bytes over 1500-byte links: cut by a, whole at r's conntrack, cut
  // again to the same sizes on the way out (an IPv6 router too, as Linux's
  // frag_max_size does), whole again at b.
  const Flow f = udp_flow(3000, false);
  EXPECT_EQ(f.received, 3000u);
  const std::string e = only_entry(*r_);
  EXPECT_NE(e.find(tuple(f.sport, 7000)), std::string::npos) << e;
  EXPECT_EQ(conntrack::stats(*r_).invalid, 0u);
  const auto value = [&](Net& n, Counter four, Counter six) { return n.counters().value(v6() ? six : four); };
  EXPECT_EQ(value(*r_, Counter::IpReasmOKs, Counter::Ip6ReasmOKs), 1u);
  EXPECT_EQ(value(*r_, Counter::IpFragOKs, Counter::Ip6FragOKs), 1u);
  EXPECT_EQ(value(*r_, Counter::IpFragCreates, Counter::Ip6FragCreates),
            value(*a_, Counter::IpFragCreates, Counter::Ip6FragCreates));
  EXPECT_EQ(value(*b_, Counter::IpReasmOKs, Counter::Ip6ReasmOKs), 1u);
}

TEST_P(CtHooksTest, AReassembledDatagramWhosePiecesDoNotFitTheNextLinkIsRefused) {
  // b's link narrower than the fragments r reassembled: IPv4 cuts them
  // smaller (DF is not set); IPv6 answers Packet Too Big, as Linux.
  ASSERT_TRUE(r_->device("right")->set_mtu(1280));
  ASSERT_TRUE(b_->device("eth0")->set_mtu(1280));
  const Flow f = udp_flow(3000, false);
  EXPECT_EQ(f.received, v6() ? 0u : 3000u);
  EXPECT_EQ(r_->counters().value(Counter::Ip6InTooBigErrors), v6() ? 1u : 0u);
}

TEST_P(CtHooksTest, LocalReassemblyStillWorksWithConntrackOn) {
  // r passes the fragments on as they are (an IPv6 router could not send
  // the whole datagram on); b's conntrack reassembles them before its own
  // reassembly would.
  conntrack::netns_put(*r_, GetParam());
  ASSERT_TRUE(conntrack::netns_get(*b_, GetParam()));
  const Flow f = udp_flow(3000, false);
  EXPECT_EQ(f.received, 3000u);
  EXPECT_EQ(entries(*b_).size(), 1u);
  EXPECT_EQ(b_->counters().value(v6() ? Counter::Ip6ReasmOKs : Counter::IpReasmOKs), 1u);
}

TEST_P(CtHooksTest, NotrackLeavesTheDatagramUntracked) {
  Probe raw{.notrack = true};
  add_probe(*r_, Hook::prerouting, netfilter::kPriorityRaw, raw);
  const Flow f = udp_flow(8, false);
  EXPECT_EQ(f.received, 8u);
  EXPECT_EQ(conntrack::count(*r_), 0u);
  EXPECT_EQ(conntrack::stats(*r_).invalid, 0u);
}

TEST_P(CtHooksTest, LoopbackTrafficIsTrackedOnce) {
  ASSERT_TRUE(conntrack::netns_get(*a_, GetParam()));
  auto server = udp::open(*a_, GetParam()).value();
  ASSERT_TRUE(server.bind({any(), 7000}));
  auto client = udp::open(*a_, GetParam()).value();
  const std::array<std::byte, 8> data{};
  ASSERT_TRUE(client.send_to(data, {a_addr(), 7000}));
  run_for(50ms);
  std::array<std::byte, 16> buf{};
  ASSERT_TRUE(server.receive_from(buf));
  EXPECT_EQ(entries(*a_).size(), 1u) << conntrack::dump(*a_);
  const conntrack::Stats s = conntrack::stats(*a_);
  EXPECT_EQ(s.insert, 1u);
  EXPECT_EQ(s.found, 0u);  // prerouting did not look it up again
  EXPECT_EQ(s.invalid, 0u);
}

TEST_P(CtHooksTest, TheLastPutMakesTheHooksInactive) {
  ASSERT_TRUE(conntrack::netns_get(*r_, GetParam()));  // a second user
  EXPECT_EQ(conntrack::netns_users(*r_, GetParam()), 2u);
  conntrack::netns_put(*r_, GetParam());
  for (const Hook h : {Hook::prerouting, Hook::input, Hook::output, Hook::postrouting}) {
    EXPECT_TRUE(hooks(*r_).active(h));
  }
  EXPECT_FALSE(hooks(*r_).active(Hook::forward));
  conntrack::netns_put(*r_, GetParam());
  EXPECT_EQ(conntrack::netns_users(*r_, GetParam()), 0u);
  for (std::size_t h = 0; h < netfilter::kHookCount; ++h) EXPECT_FALSE(hooks(*r_).active(static_cast<Hook>(h)));
  conntrack::netns_put(*r_, GetParam());  // one too many: nothing
  EXPECT_EQ(udp_flow(8, false).received, 8u);
  EXPECT_EQ(conntrack::count(*r_), 0u);
  // The other family was never on.
  const Family other = v6() ? Family::ipv4 : Family::ipv6;
  EXPECT_EQ(conntrack::netns_users(*r_, other), 0u);
}

TEST_P(CtHooksTest, AFullTableDropsNewFlowsInItsNamespaceOnly) {
  // One assured connection fills r; early drop cannot evict it.
  ASSERT_TRUE(r_->sysctl().set("net.netfilter.nf_conntrack_max", "1"));
  auto listener = tcp::listen(*b_, {any(), 80}).value();
  auto client = tcp::connect(*a_, {b_addr(), 80}).value();
  run_for(100ms);
  auto server = listener.accept().value();
  ASSERT_NE(only_entry(*r_).find("[ASSURED]"), std::string::npos);

  EXPECT_EQ(udp_flow(8, false).received, 0u);
  EXPECT_EQ(conntrack::stats(*r_).drop, 1u);
  EXPECT_EQ(conntrack::stats(*r_).early_drop, 0u);
  EXPECT_EQ(conntrack::count(*r_), 1u);

  // b tracks with a table of its own, which has room.
  ASSERT_TRUE(conntrack::netns_get(*b_, GetParam()));
  auto local = udp::open(*b_, GetParam()).value();
  ASSERT_TRUE(local.bind({any(), 7000}));
  auto sender = udp::open(*b_, GetParam()).value();
  const std::array<std::byte, 8> data{};
  ASSERT_TRUE(sender.send_to(data, {b_addr(), 7000}));
  run_for(50ms);
  std::array<std::byte, 16> buf{};
  EXPECT_TRUE(local.receive_from(buf));
  EXPECT_EQ(conntrack::count(*b_), 1u);
  EXPECT_EQ(conntrack::stats(*b_).drop, 0u);

  client.close();
  server.close();
  listener.close();
}

TEST_P(CtHooksTest, QueuedPacketsKeepTheirEntryPastAFlush) {
  auto server = udp::open(*r_, GetParam()).value();
  ASSERT_TRUE(server.bind({any(), 7000}));
  auto client = udp::open(*a_, GetParam()).value();
  const std::array<std::byte, 8> data{};
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(client.send_to(data, {r_left(), 7000}));
  run_for(50ms);
  ASSERT_EQ(entries(*r_).size(), 1u);
  conntrack::flush(*r_);
  EXPECT_EQ(conntrack::dump(*r_), "");
  // Out of the table, alive in the two datagrams the socket holds.
  EXPECT_EQ(conntrack::count(*r_), 1u);
  EXPECT_EQ(r_->sysctl().get("net.netfilter.nf_conntrack_count").value(), "1");
  std::array<std::byte, 16> buf{};
  ASSERT_TRUE(server.receive_from(buf));
  EXPECT_EQ(conntrack::count(*r_), 1u);
  ASSERT_TRUE(server.receive_from(buf));
  EXPECT_EQ(conntrack::count(*r_), 0u);
  EXPECT_EQ(r_->sysctl().get("net.netfilter.nf_conntrack_count").value(), "0");

  // And past the namespace's table itself: r goes with a datagram queued.
  ASSERT_TRUE(client.send_to(data, {r_left(), 7000}));
  run_for(50ms);
  EXPECT_EQ(conntrack::count(*r_), 1u);
  server.close();
}

TEST_P(CtHooksTest, APacketKeepsItsEntryPastItsNamespace) {
  Keeper keeper;
  const HookOps ops{&keep, &keeper, 0};
  ASSERT_TRUE(hooks(*r_).add(Hook::forward, ops));
  EXPECT_EQ(udp_flow(8, false).received, 0u);
  ASSERT_EQ(keeper.kept.size(), 1u);
  const conntrack::Entry* e = conntrack::Entry::of(keeper.kept[0]);
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(e->confirmed());
  EXPECT_EQ(conntrack::count(*r_), 1u);  // not in the table, but counted
  // r goes with its table; the datagram's entry is detached and goes with
  // the datagram (ASan sees to the rest).
  hooks(*r_).remove(Hook::forward, ops);
  const std::size_t nets = host_.net_count();
  r_.reset();
  poll();
  ASSERT_EQ(host_.net_count(), nets - 1);
  keeper.kept.clear();
}

}  // namespace conntrack_hooks_test
}  // namespace
}  // namespace netns
