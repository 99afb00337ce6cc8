// IPv6's neighbour table (NDP) on a channel device, with a scripted IPv6
// layer (the answers of Ipv6NeighbourLayer) and a scripted peer: the test
// hands the table the NS and NA a peer would send, as the IPv6 layer does,
// and reads back every frame the table sent. Resolution, queue bounds, the
// NUD transitions of RFC 4861 7.3.3 and 7.2.5, the R/S/O flags, DAD
// conflicts, and malformed messages dropped and counted.
#include <map>
#include <string>

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "ipv6/neighbour6.hpp"
#include "netns/wire/ethernet.hpp"
#include "netns/wire/ndp.hpp"
#include "support/ipv4_channel.hpp"

namespace netns {
namespace {
namespace ipv6_neighbour6_test {

using wire::NeighbourAdvertRepr;
using wire::NeighbourSolicitRepr;

const Ipv6Address kLocal(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const Ipv6Address kPeer(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
const Ipv6Address kLinkLocal(0xfe80, 0, 0, 0, 0, 0, 0, 1);
const Ipv6Address kTentative(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x99);
const Ipv6Address kAnycast(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xac);
const MacAddress kPeerMac{0x02, 0, 0, 0, 0, 0x02};
const MacAddress kOtherMac{0x02, 0, 0, 0, 0, 0x03};

// What IPv6 answers the table, scripted, and what the table reported.
struct ScriptedLayer final : ipv6::Ipv6NeighbourLayer {
  bool is_local(Net&, const Device&, const Ipv6Address& a) override { return a == kLocal || a == kAnycast; }
  bool is_anycast(Net&, const Device&, const Ipv6Address& a) override { return a == kAnycast; }
  bool is_tentative(Net&, const Device&, const Ipv6Address& a) override { return a == kTentative; }
  void dad_conflict(Net&, Device&, const Ipv6Address& a) override { conflicts.push_back(a); }
  Ipv6Address solicit_source(Net&, const Device&, const Ipv6Address&) override { return source; }
  bool is_router(Net&, const Device&) override { return forwarding; }
  void router_lost(Net&, Device&, const Ipv6Address& a) override { lost_routers.push_back(a); }
  void error_report(Net&, const Packet& p) override { unreachable.push_back(p.data().size()); }
  NdpTimes advertised_ndp_times(Net&, const Device&) override { return {}; }

  Ipv6Address source = kLocal;
  bool forwarding = false;
  std::vector<Ipv6Address> conflicts, lost_routers;
  std::vector<std::size_t> unreachable;  // the datagrams' sizes
};

// One frame the table sent, taken apart.
struct Sent {
  MacAddress dst_mac;
  wire::Ipv6Repr ip;
  std::vector<std::byte> message;  // the ICMPv6 message, or the datagram's payload
  std::optional<NeighbourSolicitRepr> ns;
  std::optional<NeighbourAdvertRepr> na;
};

class Neighbour6 : public support::Ipv4ChannelTest {
 protected:
  void SetUp() override {
    keep_ipv6_ = true;
    Ipv4ChannelTest::SetUp();
    // The namespace's own IPv6 layer probes eth0's link-local address when
    // the device comes up (DAD): let it finish, and count from there.
    run_for(std::chrono::seconds(3));
    (void)sent_bytes();
    for (const auto& [name, value] : net_->counters().nonzero()) baseline_[std::string(name)] = value;
    table_.emplace(*net_, layer_);
  }
  std::uint64_t counter(std::string_view name) const {
    auto it = baseline_.find(std::string(name));
    return net_->counters().get(name) - (it == baseline_.end() ? 0 : it->second);
  }
  std::map<std::string, std::uint64_t> baseline_;
  void TearDown() override { table_.reset(); }

  ipv6::NeighbourTable& table() { return *table_; }

  // A datagram from us to `dst` with a one-byte payload `tag`.
  Packet datagram(const Ipv6Address& dst, std::uint8_t tag) {
    Packet p = host_.packets().allocate(wire::Ipv6Repr::kHeaderLen + 1);
    wire::Ipv6Repr{.src = kLocal, .dst = dst, .next_header = wire::IpProtocol::udp, .payload_len = 1}.emit(
        p.mutable_data());
    p.mutable_data()[wire::Ipv6Repr::kHeaderLen] = std::byte{tag};
    return p;
  }
  void send(const Ipv6Address& next_hop, std::uint8_t tag = 0) {
    table().output(*eth0_, next_hop, datagram(kPeer, tag));
    host_.poll(clock_.now());
  }

  // The peer's message `message_bytes` (ICMPv6, checksum done) from src to dst, handed in.
  void receive_message(const Ipv6Address& src, const Ipv6Address& dst, std::span<const std::byte> message,
                       std::uint8_t hop_limit = 255) {
    std::vector<std::byte> ip(wire::Ipv6Repr::kHeaderLen + message.size());
    wire::Ipv6Repr{.src = src, .dst = dst, .next_header = wire::IpProtocol::icmpv6, .hop_limit = hop_limit,
                   .payload_len = message.size()}
        .emit(ip);
    std::ranges::copy(message, ip.begin() + wire::Ipv6Repr::kHeaderLen);
    auto view = wire::Ipv6View::checked(ip);
    ASSERT_TRUE(view);
    Packet p = host_.packets().allocate(message.size());
    std::ranges::copy(message, p.mutable_data().begin());
    table().process_ndp(*eth0_, *view, std::move(p));
    host_.poll(clock_.now());
  }
  template <class Repr>
  void receive(const Ipv6Address& src, const Ipv6Address& dst, const Repr& repr, std::uint8_t hop_limit = 255) {
    std::vector<std::byte> message(repr.buffer_len());
    repr.emit(message, src, dst);
    receive_message(src, dst, message, hop_limit);
  }
  void advertise(const NeighbourAdvertRepr& na, const Ipv6Address& dst = kLocal) { receive(kPeer, dst, na); }

  std::vector<Sent> frames() {
    std::vector<Sent> out;
    for (const auto& f : sent_bytes()) {
      auto eth = wire::EthernetView::checked(f);
      EXPECT_TRUE(eth);
      EXPECT_EQ(eth->ethertype(), wire::EtherType::ipv6);
      auto ip = wire::Ipv6View::checked(eth->payload());
      EXPECT_TRUE(ip);
      Sent s{eth->dst(), wire::Ipv6Repr::parse(*ip), {ip->payload().begin(), ip->payload().end()}, {}, {}};
      // The IPv6 layer's router solicitations (the device came up) are not the table's.
      if (s.ip.dst == wire::kAllRouters) continue;
      if (s.ip.next_header == wire::IpProtocol::icmpv6) {
        EXPECT_TRUE(wire::icmpv6_checksum_ok(s.ip.src, s.ip.dst, s.message));
        EXPECT_EQ(s.ip.hop_limit, 255);
        if (auto ns = wire::validate_neighbour_solicit(*ip, s.message)) s.ns = *ns;
        if (auto na = wire::validate_neighbour_advert(*ip, s.message)) s.na = *na;
      }
      out.push_back(std::move(s));
    }
    return out;
  }

  std::optional<ipv6::NeighbourInfo> entry(const Ipv6Address& a) {
    for (const auto& n : table().list()) {
      if (n.address == a) return n;
    }
    return std::nullopt;
  }

  // Resolves kPeer: NS out, solicited NA in.
  void resolve_peer(bool router = false) {
    send(kPeer);
    (void)frames();
    advertise({.target = kPeer, .router = router, .solicited = true, .override = true, .target_link = kPeerMac});
    (void)frames();
  }

  ScriptedLayer layer_;
  std::optional<ipv6::NeighbourTable> table_;
};

TEST_F(Neighbour6, ResolvesByMulticastSolicitationAndSendsWhatWaited) {
  send(kPeer, 1);
  send(kPeer, 2);
  auto out = frames();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].dst_mac, (MacAddress{0x33, 0x33, 0xff, 0, 0, 2}));
  EXPECT_EQ(out[0].ip.dst, kPeer.solicited_node());
  EXPECT_EQ(out[0].ip.src, kLocal);
  ASSERT_TRUE(out[0].ns);
  EXPECT_EQ(*out[0].ns, (NeighbourSolicitRepr{.target = kPeer, .source_link = eth0_->mac()}));
  EXPECT_EQ(counter("Icmp6OutNeighborSolicits"), 1u);
  EXPECT_EQ(counter("Icmp6OutMsgs"), 1u);
  EXPECT_EQ(entry(kPeer)->state, NeighbourState::incomplete);

  advertise({.target = kPeer, .solicited = true, .override = true, .target_link = kPeerMac});
  out = frames();
  ASSERT_EQ(out.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(out[i].dst_mac, kPeerMac);
    EXPECT_EQ(out[i].message.at(0), std::byte(i + 1));
  }
  EXPECT_EQ(entry(kPeer)->state, NeighbourState::reachable);
  EXPECT_EQ(counter("Icmp6InNeighborAdvertisements"), 1u);
  send(kPeer, 3);
  ASSERT_EQ(frames().size(), 1u) << "a known neighbour: sent at once";
}

TEST_F(Neighbour6, WithoutASourceAddressTheSolicitationComesFromUnspecifiedWithoutOption) {
  layer_.source = Ipv6Address::any();
  send(kPeer);
  auto out = frames();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].ns);
  EXPECT_EQ(out[0].ip.src, Ipv6Address::any());
  EXPECT_FALSE(out[0].ns->source_link);
}

TEST_F(Neighbour6, MulticastNextHopsMapToTheirEthernetGroupWithoutAnEntry) {
  table().output(*eth0_, wire::kAllNodes, datagram(wire::kAllNodes, 7));
  auto out = frames();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].dst_mac, (MacAddress{0x33, 0x33, 0, 0, 0, 1}));
  EXPECT_EQ(table().size(), 0u);
}

TEST_F(Neighbour6, TheQueueIsBoundedByItsOwnSysctls) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv6.neigh.default.unres_qlen", "3"));
  for (std::uint8_t i = 0; i < 5; ++i) send(kPeer, i);
  EXPECT_EQ(table().stats().unres_discards, 2u);
  (void)frames();
  advertise({.target = kPeer, .solicited = true, .override = true, .target_link = kPeerMac});
  auto out = frames();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].message.at(0), std::byte{2}) << "the oldest made way";
}

TEST_F(Neighbour6, AResolutionGivesUpAfterMcastSolicitAndReportsWhatWaited) {
  send(kPeer, 1);
  send(kPeer, 2);
  run_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(frames().size(), 3u) << "three solicitations, a second apart";
  EXPECT_TRUE(layer_.unreachable.empty());
  run_for(std::chrono::seconds(1));
  EXPECT_EQ(layer_.unreachable.size(), 2u);
  EXPECT_EQ(table().size(), 0u);
  EXPECT_EQ(table().stats().res_failed, 1u);
  EXPECT_EQ(counter("Icmp6OutNeighborSolicits"), 3u);
}

TEST_F(Neighbour6, ReachableGoesStaleThenDelayThenProbesByUnicast) {
  resolve_peer();
  run_for(std::chrono::seconds(46));  // base_reachable_time 30 s, at most 1.5 times that
  EXPECT_EQ(entry(kPeer)->state, NeighbourState::stale);
  send(kPeer);
  EXPECT_EQ(entry(kPeer)->state, NeighbourState::delay);
  ASSERT_EQ(frames().size(), 1u) << "a stale entry is used at once";
  run_for(std::chrono::seconds(5));
  EXPECT_EQ(entry(kPeer)->state, NeighbourState::probe);
  auto out = frames();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].dst_mac, kPeerMac);
  EXPECT_EQ(out[0].ip.dst, kPeer) << "a NUD probe goes to the address itself";
  ASSERT_TRUE(out[0].ns);
  EXPECT_EQ(out[0].ns->target, kPeer);

  advertise({.target = kPeer, .solicited = true});  // no option, no override: confirms
  EXPECT_EQ(entry(kPeer)->state, NeighbourState::reachable);
  EXPECT_EQ(entry(kPeer)->mac, kPeerMac);
}

TEST_F(Neighbour6, UnansweredProbesFailAfterUcastSolicit) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv6.neigh.default.ucast_solicit", "2"));
  resolve_peer();
  run_for(std::chrono::seconds(46));
  send(kPeer);
  (void)frames();
  run_for(std::chrono::milliseconds(5000 + 1500));
  EXPECT_EQ(frames().size(), 2u);
  run_for(std::chrono::seconds(1));
  EXPECT_FALSE(entry(kPeer));
}

TEST_F(Neighbour6, WithoutOverrideADifferentAddressOnlyMakesAReachableEntryStale) {
  resolve_peer();
  advertise({.target = kPeer, .solicited = true, .target_link = kOtherMac});
  EXPECT_EQ(entry(kPeer)->state, NeighbourState::stale);
  EXPECT_EQ(entry(kPeer)->mac, kPeerMac) << "the address is kept";
  advertise({.target = kPeer, .solicited = true, .target_link = kOtherMac});
  EXPECT_EQ(entry(kPeer)->state, NeighbourState::stale) << "a stale entry ignores it";
  EXPECT_EQ(entry(kPeer)->mac, kPeerMac);
  advertise({.target = kPeer, .override = true, .target_link = kOtherMac});
  EXPECT_EQ(entry(kPeer)->mac, kOtherMac) << "override: the new address, unconfirmed";
  EXPECT_EQ(entry(kPeer)->state, NeighbourState::stale);
}

TEST_F(Neighbour6, AnUnsolicitedAdvertisementNeitherCreatesNorConfirms) {
  advertise({.target = kPeer, .override = true, .target_link = kPeerMac}, wire::kAllNodes);
  EXPECT_EQ(table().size(), 0u);
  send(kPeer);
  (void)frames();
  advertise({.target = kPeer, .solicited = true, .override = true}, kLocal);  // no option
  EXPECT_EQ(entry(kPeer)->state, NeighbourState::incomplete) << "INCOMPLETE needs the target's address";
  advertise({.target = kPeer, .override = true, .target_link = kPeerMac}, wire::kAllNodes);
  EXPECT_EQ(entry(kPeer)->state, NeighbourState::stale);
  EXPECT_EQ(frames().size(), 1u) << "what waited leaves";
}

TEST_F(Neighbour6, TheRouterFlagIsKeptAndItsLossReported) {
  resolve_peer(/*router=*/true);
  EXPECT_TRUE(entry(kPeer)->router);
  EXPECT_EQ(table().dump(), "2001:db8::2 dev eth0 lladdr 02:00:00:00:00:02 router REACHABLE\n");
  advertise({.target = kPeer, .router = true, .solicited = true, .override = true, .target_link = kPeerMac});
  EXPECT_TRUE(layer_.lost_routers.empty());
  advertise({.target = kPeer, .solicited = true, .override = true, .target_link = kPeerMac});
  EXPECT_FALSE(entry(kPeer)->router);
  EXPECT_EQ(layer_.lost_routers, std::vector<Ipv6Address>{kPeer});
  EXPECT_EQ(table().dump(), "2001:db8::2 dev eth0 lladdr 02:00:00:00:00:02 REACHABLE\n");
}

TEST_F(Neighbour6, ASolicitationForUsIsAnsweredAndItsSenderLearned) {
  layer_.forwarding = true;
  receive(kPeer, kLocal.solicited_node(), NeighbourSolicitRepr{.target = kLocal, .source_link = kPeerMac});
  EXPECT_EQ(counter("Icmp6InNeighborSolicits"), 1u);
  // Learned STALE, then used for the answer: DELAY, as Linux's neigh_output.
  EXPECT_EQ(entry(kPeer)->state, NeighbourState::delay);
  EXPECT_FALSE(entry(kPeer)->router) << "RFC 4861 7.2.3: a new entry is not a router";
  auto out = frames();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].dst_mac, kPeerMac);
  EXPECT_EQ(out[0].ip.src, kLocal);
  EXPECT_EQ(out[0].ip.dst, kPeer);
  ASSERT_TRUE(out[0].na);
  EXPECT_EQ(*out[0].na, (NeighbourAdvertRepr{.target = kLocal, .router = true, .solicited = true, .override = true,
                                             .target_link = eth0_->mac()}));
  EXPECT_EQ(counter("Icmp6OutNeighborAdvertisements"), 1u);

  // A unicast NS (a NUD probe) gets neither O nor the option (ndisc_recv_ns).
  layer_.forwarding = false;
  receive(kPeer, kLocal, NeighbourSolicitRepr{.target = kLocal, .source_link = kPeerMac});
  out = frames();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].na);
  EXPECT_EQ(*out[0].na, (NeighbourAdvertRepr{.target = kLocal, .solicited = true}));
}

TEST_F(Neighbour6, AnAnycastAddressIsAnsweredWithoutOverride) {
  receive(kPeer, kAnycast.solicited_node(), NeighbourSolicitRepr{.target = kAnycast, .source_link = kPeerMac});
  auto out = frames();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].na);
  EXPECT_FALSE(out[0].na->override);
  EXPECT_TRUE(out[0].na->solicited);
}

TEST_F(Neighbour6, ASolicitationForSomeoneElseIsIgnored) {
  receive(kPeer, kLinkLocal.solicited_node(), NeighbourSolicitRepr{.target = kLinkLocal, .source_link = kPeerMac});
  EXPECT_TRUE(frames().empty());
  EXPECT_EQ(table().size(), 0u);
}

TEST_F(Neighbour6, DuplicateAddressDetection) {
  // Our probe: from ::, to the solicited-node group, no option.
  table().send_dad_probe(*eth0_, kTentative);
  auto out = frames();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ip.src, Ipv6Address::any());
  EXPECT_EQ(out[0].ip.dst, kTentative.solicited_node());
  EXPECT_EQ(out[0].dst_mac, wire::ipv6_multicast_mac(kTentative.solicited_node()));
  ASSERT_TRUE(out[0].ns);
  EXPECT_EQ(*out[0].ns, (NeighbourSolicitRepr{.target = kTentative}));

  // Another node probing for our tentative address; one resolving it is ignored.
  receive(Ipv6Address::any(), kTentative.solicited_node(), NeighbourSolicitRepr{.target = kTentative});
  EXPECT_EQ(layer_.conflicts, std::vector<Ipv6Address>{kTentative});
  receive(kPeer, kTentative.solicited_node(), NeighbourSolicitRepr{.target = kTentative, .source_link = kPeerMac});
  EXPECT_EQ(layer_.conflicts.size(), 1u);
  EXPECT_TRUE(frames().empty());
  EXPECT_EQ(table().size(), 0u);
  // Someone advertising it.
  advertise({.target = kTentative, .override = true, .target_link = kPeerMac}, wire::kAllNodes);
  EXPECT_EQ(layer_.conflicts.size(), 2u);

  // A probe for an address we hold is answered to all nodes.
  receive(Ipv6Address::any(), kLocal.solicited_node(), NeighbourSolicitRepr{.target = kLocal});
  out = frames();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ip.dst, wire::kAllNodes);
  EXPECT_EQ(out[0].dst_mac, (MacAddress{0x33, 0x33, 0, 0, 0, 1}));
  ASSERT_TRUE(out[0].na);
  EXPECT_EQ(*out[0].na, (NeighbourAdvertRepr{.target = kLocal, .override = true, .target_link = eth0_->mac()}));
  EXPECT_EQ(table().size(), 0u) << "nothing learned from ::";
}

TEST_F(Neighbour6, UnsolicitedAdvertisementGoesToAllNodes) {
  layer_.forwarding = true;
  table().send_unsolicited_na(*eth0_, kLocal);
  auto out = frames();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ip.dst, wire::kAllNodes);
  ASSERT_TRUE(out[0].na);
  EXPECT_EQ(*out[0].na, (NeighbourAdvertRepr{.target = kLocal, .router = true, .override = true,
                                             .target_link = eth0_->mac()}));
}

TEST_F(Neighbour6, MalformedMessagesAreDroppedAndCounted) {
  const NeighbourSolicitRepr ns{.target = kLocal, .source_link = kPeerMac};
  std::vector<std::byte> message(ns.buffer_len());
  ns.emit(message, kPeer, kLocal.solicited_node());

  auto corrupt = message;
  corrupt[10] ^= std::byte{1};
  receive_message(kPeer, kLocal.solicited_node(), corrupt);
  EXPECT_EQ(counter("Icmp6InCsumErrors"), 1u);
  EXPECT_EQ(counter("Icmp6InErrors"), 1u);

  receive_message(kPeer, kLocal.solicited_node(), message, 64);  // forwarded
  EXPECT_EQ(counter("Icmp6InErrors"), 2u);

  // A zero-length option after the source link-layer option.
  std::vector<std::byte> zero_option(message.size() + 8);
  std::ranges::copy(message, zero_option.begin());
  zero_option[message.size()] = std::byte{99};
  wire::fill_icmpv6_checksum(zero_option, kPeer, kLocal.solicited_node());
  receive_message(kPeer, kLocal.solicited_node(), zero_option);
  EXPECT_EQ(counter("Icmp6InErrors"), 3u);

  // Cut short of its fixed part.
  std::vector<std::byte> shorty(message.begin(), message.begin() + 20);
  wire::fill_icmpv6_checksum(shorty, kPeer, kLocal.solicited_node());
  receive_message(kPeer, kLocal.solicited_node(), shorty);
  EXPECT_EQ(counter("Icmp6InErrors"), 4u);

  // A solicited advertisement to a group.
  advertise({.target = kPeer, .solicited = true, .override = true, .target_link = kPeerMac}, wire::kAllNodes);
  EXPECT_EQ(counter("Icmp6InErrors"), 5u);

  EXPECT_TRUE(frames().empty());
  EXPECT_EQ(table().size(), 0u) << "nothing learned from any of them";
  EXPECT_EQ(counter("Icmp6InNeighborSolicits"), 3u) << "counted by type once the checksum is right";
}

TEST_F(Neighbour6, UnresolvedEntriesAreCappedAtAQuarterOfGcThresh3) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv6.neigh.default.gc_thresh3", "16"));
  for (std::uint16_t i = 0; i < 40; ++i) send(Ipv6Address(0x2001, 0xdb8, 0, 0, 0, 0, 1, i));
  const auto s = table().stats();
  EXPECT_EQ(s.unresolved, ipv6::NeighbourTable::unresolved_limit(16));
  EXPECT_EQ(s.unresolved_evictions, 40u - 4u);
  EXPECT_EQ(s.entries, 4u);
}

TEST_F(Neighbour6, ScopesAreNotPartOfTheKeyAndPermanentEntriesAreChecked) {
  ASSERT_TRUE(table().add_permanent(*eth0_, kLinkLocal.with_scope(eth0_->ifindex()), kPeerMac));
  EXPECT_EQ(entry(kLinkLocal)->state, NeighbourState::permanent);
  table().output(*eth0_, kLinkLocal, datagram(kLinkLocal, 1));
  auto out = frames();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].dst_mac, kPeerMac);
  EXPECT_EQ(table().add_permanent(*eth0_, wire::kAllNodes, kPeerMac).error(), error(Errc::invalid_argument));
  EXPECT_EQ(table().add_permanent(*eth0_, kPeer, MacAddress::broadcast()).error(), error(Errc::invalid_argument));
  table().flush_device(*eth0_);
  EXPECT_EQ(table().size(), 0u);
}

TEST_F(Neighbour6, RouterMessagesTeachTheSenderAndItsRole) {
  table().learn_sender(*eth0_, kLinkLocal, kPeerMac, true);
  EXPECT_EQ(entry(kLinkLocal)->state, NeighbourState::stale);
  EXPECT_TRUE(entry(kLinkLocal)->router);
  table().learn_sender(*eth0_, kLinkLocal, kPeerMac, false);
  EXPECT_FALSE(entry(kLinkLocal)->router);
  EXPECT_EQ(layer_.lost_routers.size(), 1u);
}

TEST_F(Neighbour6, SysctlsHaveLinuxDefaults) {
  EXPECT_EQ(*net_->sysctl().get("net.ipv6.neigh.default.gc_thresh3"), "1024");
  EXPECT_EQ(*net_->sysctl().get("net.ipv6.neigh.default.gc_thresh2"), "512");
  EXPECT_EQ(*net_->sysctl().get("net.ipv6.neigh.default.base_reachable_time_ms"), "30000");
  EXPECT_EQ(*net_->sysctl().get("net.ipv6.neigh.default.retrans_time_ms"), "1000");
  EXPECT_EQ(*net_->sysctl().get("net.ipv6.neigh.default.mcast_solicit"), "3");
  EXPECT_EQ(*net_->sysctl().get("net.ipv6.neigh.default.ucast_solicit"), "3");
  EXPECT_EQ(*net_->sysctl().get("net.ipv6.neigh.default.unres_qlen_bytes"), "212992");
}

}  // namespace ipv6_neighbour6_test
}  // namespace
}  // namespace netns
