// The netfilter seam (netfilter/hooks.hpp): a HookTable's order and
// bounds, and the five hook points of both IP layers on real traffic
// through a router namespace: which hooks a datagram meets, with which
// devices, what a drop does at each, and what a packet's netfilter
// metadata (mark, connection) keeps and forgets across a veth.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "ipv4/stack.hpp"
#include "ipv6/stack.hpp"
#include "netfilter/hooks.hpp"
#include "netns/device.hpp"
#include "netns/ipv4.hpp"
#include "netns/ipv6.hpp"
#include "netns/net.hpp"
#include "netns/packet.hpp"
#include "netns/udp.hpp"
#include "stack/builtins.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace netfilter_hooks_test {

using namespace std::chrono_literals;
using netfilter::Hook;
using netfilter::HookOps;
using netfilter::HookState;
using netfilter::HookTable;
using netfilter::Verdict;

// ---- HookTable alone ----

struct Trace {
  std::vector<int> calls;
};
template <int Tag, Verdict V = Verdict::accept>
Verdict traced(void* priv, Packet&, const HookState&) {
  static_cast<Trace*>(priv)->calls.push_back(Tag);
  return V;
}

class HookTableTest : public support::HostTest {
 protected:
  Verdict run(Hook h) {
    Packet p = host_.packets().allocate(20);
    return table_.run(h, p, {.net = host_.init_net(), .hook = h, .family = Family::ipv4});
  }
  Trace trace_;
  netfilter::HookMask mask_;
  HookTable table_{nullptr, &mask_};
};

TEST_F(HookTableTest, RunsByPriorityThenRegistrationOrder) {
  EXPECT_FALSE(table_.active(Hook::input));
  ASSERT_TRUE(table_.add(Hook::input, {&traced<1>, &trace_, 0}));
  ASSERT_TRUE(table_.add(Hook::input, {&traced<2>, &trace_, -200}));
  ASSERT_TRUE(table_.add(Hook::input, {&traced<3>, &trace_, 0}));
  ASSERT_TRUE(table_.add(Hook::input, {&traced<4>, &trace_, netfilter::kPriorityConntrackConfirm}));
  ASSERT_TRUE(table_.add(Hook::input, {&traced<5>, &trace_, netfilter::kPriorityFirst}));
  EXPECT_TRUE(table_.active(Hook::input));
  EXPECT_FALSE(table_.active(Hook::output));
  EXPECT_EQ(run(Hook::input), Verdict::accept);
  EXPECT_EQ(trace_.calls, (std::vector<int>{5, 2, 1, 3, 4}));
}

TEST_F(HookTableTest, AVerdictOtherThanAcceptEndsTheRun) {
  ASSERT_TRUE(table_.add(Hook::forward, {&traced<1>, &trace_, 0}));
  ASSERT_TRUE(table_.add(Hook::forward, {&traced<2, Verdict::drop>, &trace_, 10}));
  ASSERT_TRUE(table_.add(Hook::forward, {&traced<3>, &trace_, 20}));
  EXPECT_EQ(run(Hook::forward), Verdict::drop);
  EXPECT_EQ(trace_.calls, (std::vector<int>{1, 2}));
}

TEST_F(HookTableTest, RemovingTheLastEntryMakesTheHookInactive) {
  const HookOps a{&traced<1>, &trace_, 0}, b{&traced<2>, &trace_, 0};
  ASSERT_TRUE(table_.add(Hook::output, a));
  ASSERT_TRUE(table_.add(Hook::output, b));
  table_.remove(Hook::output, a);
  EXPECT_EQ(table_.size(Hook::output), 1u);
  table_.remove(Hook::output, a);  // absent: nothing
  EXPECT_EQ(table_.size(Hook::output), 1u);
  EXPECT_EQ(run(Hook::output), Verdict::accept);
  EXPECT_EQ(trace_.calls, (std::vector<int>{2}));
  table_.remove(Hook::output, b);
  EXPECT_FALSE(table_.active(Hook::output));
}

// The packet path asks the mask (Ipv4Net keeps it in its first line): it
// must say what active() says through every change, and nothing of the
// hooks left alone.
TEST_F(HookTableTest, TheMaskFollowsWhichHooksHaveEntries) {
  const HookOps a{&traced<1>, &trace_, 0}, b{&traced<2>, &trace_, 0};
  auto agrees = [&] {
    for (Hook h : {Hook::prerouting, Hook::input, Hook::forward, Hook::output, Hook::postrouting}) {
      if (mask_.active(h) != table_.active(h)) return false;
    }
    return true;
  };
  ASSERT_TRUE(table_.add(Hook::forward, a));
  ASSERT_TRUE(table_.add(Hook::postrouting, a));
  EXPECT_TRUE(mask_.active(Hook::forward));
  EXPECT_TRUE(mask_.active(Hook::postrouting));
  EXPECT_FALSE(mask_.active(Hook::prerouting));
  EXPECT_TRUE(agrees());
  table_.exchange(Hook::forward, a, b);
  EXPECT_TRUE(mask_.active(Hook::forward));
  table_.remove(Hook::forward, b);
  EXPECT_FALSE(mask_.active(Hook::forward));
  EXPECT_TRUE(mask_.active(Hook::postrouting));
  EXPECT_TRUE(agrees());
  table_.remove(Hook::postrouting, a);
  EXPECT_FALSE(mask_.active(Hook::postrouting));
  EXPECT_TRUE(agrees());
}

TEST_F(HookTableTest, RefusesANullFunctionAndMoreThanLinuxsMaximum) {
  EXPECT_EQ(table_.add(Hook::input, {nullptr, &trace_, 0}).error(), boost::system::errc::invalid_argument);
  for (std::size_t i = 0; i < netfilter::kMaxHookEntries; ++i) {
    ASSERT_TRUE(table_.add(Hook::input, {&traced<1>, &trace_, static_cast<int>(i)}));
  }
  EXPECT_EQ(table_.add(Hook::input, {&traced<1>, &trace_, 0}).error(), boost::system::errc::argument_list_too_long);
  EXPECT_EQ(table_.size(Hook::input), netfilter::kMaxHookEntries);
}

template <int Tag>
void traced_prefetch(void* priv, Net&, std::span<const std::byte> datagram) {
  static_cast<Trace*>(priv)->calls.push_back(Tag * 100 + static_cast<int>(datagram.size()));
}

TEST_F(HookTableTest, OnlyEntriesWithAPrefetchAreShownTheLookAheadAndOnlyWhileRegistered) {
  const HookOps plain{&traced<1>, &trace_, 0};
  const HookOps looking{&traced<2>, &trace_, 10, &traced_prefetch<2>};
  ASSERT_TRUE(table_.add(Hook::prerouting, plain));
  EXPECT_FALSE(table_.prefetches(Hook::prerouting));
  ASSERT_TRUE(table_.add(Hook::prerouting, looking));
  EXPECT_TRUE(table_.prefetches(Hook::prerouting));
  EXPECT_FALSE(table_.prefetches(Hook::input));
  const std::array<std::byte, 20> datagram{};
  table_.prefetch(Hook::prerouting, host_.init_net(), datagram);
  EXPECT_EQ(trace_.calls, (std::vector<int>{220}));
  // An entry is removed by what it was registered with, prefetch included.
  table_.remove(Hook::prerouting, {&traced<2>, &trace_, 10});
  EXPECT_TRUE(table_.prefetches(Hook::prerouting));
  table_.remove(Hook::prerouting, looking);
  EXPECT_FALSE(table_.prefetches(Hook::prerouting));
  EXPECT_TRUE(table_.active(Hook::prerouting));
}

// A table given the Host's receive scheduler counts its namespace in while
// prerouting has an entry that looks ahead, so that the scheduler asks.
TEST_F(HookTableTest, ATableWithALookingEntryCountsItsNamespaceIn) {
  const HookOps looking{&traced<2>, &trace_, 10, &traced_prefetch<2>};
  EXPECT_FALSE(host_.rx().looks_ahead());
  {
    HookTable counted(&host_.rx());
    ASSERT_TRUE(counted.add(Hook::input, looking));
    EXPECT_FALSE(host_.rx().looks_ahead()) << "only prerouting looks ahead";
    ASSERT_TRUE(counted.add(Hook::prerouting, looking));
    EXPECT_TRUE(host_.rx().looks_ahead());
    counted.remove(Hook::prerouting, looking);
    EXPECT_FALSE(host_.rx().looks_ahead());
    ASSERT_TRUE(counted.add(Hook::prerouting, looking));
    EXPECT_TRUE(host_.rx().looks_ahead());
  }
  EXPECT_FALSE(host_.rx().looks_ahead()) << "a table that goes counts itself out";
}

// An entry that unregisters itself and the next one while the run is on
// them (a log sink that loads a new ruleset does that): the run finishes on
// the entries it started with, nothing is freed under it.
struct SelfRemoving {
  HookTable* table;
  Trace* trace;
  HookOps self, next;
};
Verdict remove_both(void* priv, Packet&, const HookState&) {
  auto* s = static_cast<SelfRemoving*>(priv);
  s->trace->calls.push_back(9);
  s->table->remove(Hook::prerouting, s->self);
  s->table->remove(Hook::prerouting, s->next);
  return Verdict::accept;
}

TEST_F(HookTableTest, EntriesChangedDuringARunTakeEffectOnTheNext) {
  SelfRemoving s{&table_, &trace_, {}, {}};
  s.self = {&remove_both, &s, 0};
  s.next = {&traced<2>, &trace_, 10};
  ASSERT_TRUE(table_.add(Hook::prerouting, s.self));
  ASSERT_TRUE(table_.add(Hook::prerouting, s.next));
  EXPECT_EQ(run(Hook::prerouting), Verdict::accept);
  EXPECT_EQ(trace_.calls, (std::vector<int>{9, 2}));
  EXPECT_FALSE(table_.active(Hook::prerouting));
}

// ---- the hook points on traffic: a - r - b ----

// What a recording entry saw: the namespace, the hook and both devices' names.
struct Seen {
  std::string net;
  Hook hook;
  std::string in, out;
  std::uint32_t mark;
  bool has_ct;
  friend bool operator==(const Seen&, const Seen&) = default;
};

struct Recorder {
  std::vector<Seen> seen;
  Hook drop_at = Hook::prerouting;
  std::string drop_in;  // the namespace whose drop_at drops; empty: none
  // Set on every datagram at this namespace's postrouting, to see what a veth forgets.
  std::string tag_in;
  std::uint32_t tag_mark = 0;
  NfConntrack* tag_ct = nullptr;
};

Verdict record(void* priv, Packet& packet, const HookState& s) {
  auto* r = static_cast<Recorder*>(priv);
  r->seen.push_back({std::string(s.net.name()), s.hook, std::string(s.in != nullptr ? s.in->name() : ""),
                     std::string(s.out != nullptr ? s.out->name() : ""), packet.mark, packet.nfct() != nullptr});
  if (s.net.name() == r->tag_in && s.hook == Hook::postrouting) {
    packet.mark = r->tag_mark;
    packet.set_nfct(r->tag_ct, 2);
  }
  return s.net.name() == r->drop_in && s.hook == r->drop_at ? Verdict::drop : Verdict::accept;
}

struct Fake {
  NfConntrack ct{.use = 1, .destroy = [](NfConntrack* c) { c->use = 0xdead; }};
};

class HookPointsTest : public support::HostTest, public ::testing::WithParamInterface<Family> {
 protected:
  void SetUp() override {
    support::RoutedNets nets;
    support::route_through(host_, nets);
    a_ = nets.a;
    r_ = nets.r;
    b_ = nets.b;
    run_for(support::kPastDad);
    // Neighbours resolved once, so the traffic below is only the datagram.
    exchange();
  }
  void TearDown() override {
    for (Net* n : {a_.get(), r_.get(), b_.get()}) {
      for (std::size_t h = 0; h < netfilter::kHookCount; ++h) hooks(*n).remove(static_cast<Hook>(h), ops());
    }
  }

  bool v6() const { return GetParam() == Family::ipv6; }
  netfilter::HookTable& hooks(Net& n) {
    return netfilter::hook_table(n, GetParam());
  }
  HookOps ops() { return {&record, &recorder_, 0}; }
  void hook_everywhere() {
    for (Net* n : {a_.get(), r_.get(), b_.get()}) {
      for (std::size_t h = 0; h < netfilter::kHookCount; ++h) ASSERT_TRUE(hooks(*n).add(static_cast<Hook>(h), ops()));
    }
  }
  Endpoint b_endpoint() const {
    return v6() ? Endpoint{Ipv6Address::parse("2001:db8:2::2").value(), 7000} : Endpoint{Ipv4Address(198, 51, 100, 2), 7000};
  }
  // One datagram from a to b; what a's send_to said and whether b got it.
  struct Exchange {
    Result<void> sent;
    bool received;
  };
  Exchange exchange() {
    auto server = udp::open(*b_, GetParam()).value();
    EXPECT_TRUE(server.bind({v6() ? IpAddress(Ipv6Address::any()) : IpAddress(Ipv4Address::any()), 7000}));
    auto client = udp::open(*a_, GetParam()).value();
    const std::array<std::byte, 8> data{};
    Exchange e{};
    auto sent = client.send_to(data, b_endpoint());
    e.sent = sent ? Result<void>{} : Result<void>{sent.error()};
    run_for(50ms);
    std::array<std::byte, 64> buf{};
    e.received = server.receive_from(buf).has_value();
    return e;
  }

  Recorder recorder_;
  NetRef a_, r_, b_;
};

INSTANTIATE_TEST_SUITE_P(BothFamilies, HookPointsTest, ::testing::Values(Family::ipv4, Family::ipv6),
                         [](const auto& info) { return info.param == Family::ipv4 ? "Ipv4" : "Ipv6"; });

TEST_P(HookPointsTest, ADatagramMeetsTheHooksLinuxRunsWithTheirDevices) {
  hook_everywhere();
  const Exchange e = exchange();
  ASSERT_TRUE(e.sent);
  EXPECT_TRUE(e.received);
  const std::vector<Seen> expected{
      {"a", Hook::output, "", "eth0", 0, false},       {"a", Hook::postrouting, "", "eth0", 0, false},
      {"r", Hook::prerouting, "left", "", 0, false},   {"r", Hook::forward, "left", "right", 0, false},
      {"r", Hook::postrouting, "", "right", 0, false}, {"b", Hook::prerouting, "eth0", "", 0, false},
      {"b", Hook::input, "eth0", "", 0, false},
  };
  EXPECT_EQ(recorder_.seen, expected);
}

TEST_P(HookPointsTest, ADropAtEachHookStopsTheDatagramThere) {
  hook_everywhere();
  const std::array<std::pair<const char*, Hook>, 7> points{{{"a", Hook::output},
                                                            {"a", Hook::postrouting},
                                                            {"r", Hook::prerouting},
                                                            {"r", Hook::forward},
                                                            {"r", Hook::postrouting},
                                                            {"b", Hook::prerouting},
                                                            {"b", Hook::input}}};
  for (const auto& [net, hook] : points) {
    SCOPED_TRACE(std::string(net) + " " + std::to_string(static_cast<int>(hook)));
    recorder_.drop_in = net;
    recorder_.drop_at = hook;
    recorder_.seen.clear();
    const Exchange e = exchange();
    EXPECT_FALSE(e.received);
    // ip_local_out: what the sender's own hooks drop is its EPERM.
    if (recorder_.drop_in == "a") {
      ASSERT_FALSE(e.sent);
      EXPECT_EQ(e.sent.error(), boost::system::errc::operation_not_permitted);
    } else {
      EXPECT_TRUE(e.sent);
    }
    ASSERT_FALSE(recorder_.seen.empty());
    EXPECT_EQ(recorder_.seen.back().net, net);
    EXPECT_EQ(recorder_.seen.back().hook, hook);
  }
  // Unregistered, the hooks are inactive and traffic passes.
  TearDown();
  recorder_.seen.clear();
  EXPECT_TRUE(exchange().received);
  EXPECT_TRUE(recorder_.seen.empty());
}

TEST_P(HookPointsTest, AVethForgetsTheConnectionAndTheMarkOfAnotherNamespace) {
  hook_everywhere();
  Fake fake;
  recorder_.tag_in = "a";
  recorder_.tag_mark = 7;
  recorder_.tag_ct = &fake.ct;
  ASSERT_TRUE(exchange().received);
  // r saw neither; the datagram's reference went with the scrub.
  ASSERT_GE(recorder_.seen.size(), 3u);
  EXPECT_EQ(recorder_.seen[2].net, "r");
  EXPECT_EQ(recorder_.seen[2].mark, 0u);
  EXPECT_FALSE(recorder_.seen[2].has_ct);
  EXPECT_EQ(fake.ct.use, 1u);  // the fixture's own reference is all that is left
}

// The connection belongs to the bytes: a share sees the buffer's, a copy
// (and a buffer made to push a header in front) holds its own reference,
// and the last Packet of a buffer gives the buffer's back.
TEST(PacketMetadata, TheConnectionIsTheBuffersAndACopyHoldsItsOwn) {
  Host host(support::test_config());
  Fake fake;
  {
    Packet p = host.packets().allocate(64, 0);
    p.mark = 3;
    p.set_nfct(&fake.ct, 4);
    p.set_frag_max_size(1280);
    EXPECT_EQ(fake.ct.use, 2u);
    EXPECT_EQ(p.nfct_info(), 4);
    Packet shared = p.share();
    Packet copied = p.copy();
    EXPECT_EQ(fake.ct.use, 3u);
    EXPECT_EQ(copied.mark, 3u);
    EXPECT_EQ(shared.nfct(), &fake.ct);
    EXPECT_EQ(copied.nfct_info(), 4);
    EXPECT_EQ(copied.frag_max_size(), 1280);  // IPCB's, copied with the frame
    Packet moved = std::move(p);
    EXPECT_EQ(moved.nfct(), &fake.ct);
    EXPECT_EQ(fake.ct.use, 3u);
    shared.scrub(false);  // the same namespace: the mark stays; the shared bytes forget
    EXPECT_EQ(shared.mark, 3u);
    EXPECT_EQ(moved.nfct(), nullptr);
    EXPECT_EQ(fake.ct.use, 2u);
    ASSERT_FALSE(copied.push_front(14).empty());  // no headroom: a new buffer, the reference moves with it
    EXPECT_EQ(copied.nfct(), &fake.ct);
    EXPECT_EQ(fake.ct.use, 2u);
    Packet untracked = host.packets().allocate(64);
    untracked.set_nfct(nullptr, 7);
    EXPECT_EQ(untracked.nfct(), nullptr);
    EXPECT_EQ(untracked.nfct_info(), 7);
  }
  EXPECT_EQ(fake.ct.use, 1u);
  fake.ct.use = 1;
  nf_conntrack_put(&fake.ct);
  EXPECT_EQ(fake.ct.use, 0xdeadu);
}

}  // namespace netfilter_hooks_test
}  // namespace
}  // namespace netns
