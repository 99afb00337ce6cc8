// IPv6 fragments: fragmentation at the source (Ipv6Stack::send) and
// reassembly (RFC 8200 4.5, RFC 5722, RFC 6946, RFC 7112), between two
// namespaces over a veth and against crafted fragments on a channel device.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <random>
#include <vector>

#include "ipv6/ipv6_net.hpp"
#include "ipv6/stack.hpp"
#include "netns/device.hpp"
#include "netns/host.hpp"
#include "netns/ipv6.hpp"
#include "netns/net.hpp"
#include "netns/packet_pool.hpp"
#include "netns/sysctl.hpp"
#include "netns/wire/checksum.hpp"
#include "netns/wire/ethernet.hpp"
#include "netns/wire/icmpv6.hpp"
#include "netns/wire/ipv6.hpp"
#include "netns/wire/ipv6_ext.hpp"
#include "stack/builtins.hpp"
#include "wire/golden6_frames.hpp"

namespace netns {
namespace {
namespace ipv6_fragment_test {

using Bytes = std::vector<std::byte>;
using namespace std::chrono_literals;
Ipv6Address v6(std::string_view text) { return Ipv6Address::parse(text).value(); }

const Ipv6Address kA = v6("2001:db8::1");
const Ipv6Address kB = v6("2001:db8::2");

// An ICMPv6 echo request of `data_len` data bytes from src to dst, whole
// (the ICMPv6 message, no IPv6 header), in a Packet with headroom.
Packet echo_request(Host& host, const Ipv6Address& src, const Ipv6Address& dst, std::size_t data_len,
                    std::uint16_t seq = 1) {
  const auto repr = wire::Icmpv6Repr::echo_request(0x77, seq, data_len);
  Packet p = host.packets().allocate(wire::Icmpv6Repr::kHeaderLen + data_len);
  auto out = p.mutable_data();
  for (std::size_t i = 0; i < data_len; ++i) out[8 + i] = static_cast<std::byte>(i * 7 + 3);
  repr.emit(out, src, dst);
  return p;
}

Result<void> send_echo(Net& net, const Ipv6Address& src, const Ipv6Address& dst, std::size_t data_len,
                       std::uint16_t seq = 1) {
  auto& layer = net.host().builtins().ipv6();
  auto route = layer.route_output(net, dst);
  if (!route) return route.error();
  return layer.send(net, echo_request(net.host(), src, dst, data_len, seq),
                    {.src = src, .dst = dst, .next_header = wire::IpProtocol::icmpv6}, *route);
}

// ---- two namespaces over a veth ----

class Ipv6FragmentVethTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = host_.create_net("a").value();
    b_ = host_.create_net("b").value();
    auto pair = make_veth(*a_, "eth0", *b_, "eth0");
    ASSERT_TRUE(pair);
    for (auto [net, dev, addr] : {std::tuple{&*a_, pair->a, kA}, std::tuple{&*b_, pair->b, kB}}) {
      ASSERT_TRUE(set_link_up(net->loopback()));
      ASSERT_TRUE(set_link_up(*dev));
      ASSERT_TRUE(ipv6::add_address(*net, *dev, Ipv6Prefix(addr, 64)));
    }
    run_for(3s);  // past DAD
  }
  void run_for(Clock::duration span) {
    const auto end = now_ + span;
    while (now_ < end) {
      now_ += 10ms;
      host_.poll(now_);
    }
  }
  std::uint64_t counter(NetRef& net, std::string_view name) { return net->counters().get(name); }

  Clock::time_point now_{};
  Host host_{HostConfig{.secret = 21}};
  NetRef a_, b_;
};

TEST_F(Ipv6FragmentVethTest, A60KEchoIsFragmentedReassembledAndAnsweredInFragments) {
  constexpr std::size_t kData = 60'000;
  ASSERT_TRUE(send_echo(*a_, kA, kB, kData));
  run_for(100ms);
  // 60,008 bytes of ICMPv6 in 1448-byte pieces ((1500 - 40 - 8) & ~7): 42 fragments.
  EXPECT_EQ(counter(a_, "Ip6FragOKs"), 1u);
  EXPECT_EQ(counter(a_, "Ip6FragCreates"), 42u);
  EXPECT_EQ(counter(b_, "Ip6ReasmReqds"), 42u);
  EXPECT_EQ(counter(b_, "Ip6ReasmOKs"), 1u);
  EXPECT_EQ(counter(b_, "Ip6ReasmFails"), 0u);
  EXPECT_EQ(counter(b_, "Icmp6InEchos"), 1u);  // its checksum verified over the reassembled whole
  EXPECT_EQ(counter(b_, "Icmp6OutEchoReplies"), 1u);
  // The reply, as large, goes back fragmented too.
  EXPECT_EQ(counter(b_, "Ip6FragOKs"), 1u);
  EXPECT_EQ(counter(b_, "Ip6FragCreates"), 42u);
  EXPECT_EQ(counter(a_, "Ip6ReasmOKs"), 1u);
  EXPECT_EQ(counter(a_, "Icmp6InEchoReplies"), 1u);
  EXPECT_EQ(counter(a_, "Icmp6InErrors"), 0u);
  // Nothing is left held on either side.
  for (NetRef* n : {&a_, &b_}) {
    auto* reasm = host_.builtins().ipv6().state(**n).reassembler.get();
    ASSERT_NE(reasm, nullptr);
    EXPECT_EQ(reasm->queues(), 0u);
    EXPECT_EQ(reasm->memory(), 0u);
  }
}

TEST_F(Ipv6FragmentVethTest, DontFragmentRefusesAndIdentificationsDiffer) {
  auto& layer = host_.builtins().ipv6();
  auto route = layer.route_output(*a_, kB);
  ASSERT_TRUE(route);
  auto r = layer.send(*a_, echo_request(host_, kA, kB, 3000),
                      {.src = kA, .dst = kB, .next_header = wire::IpProtocol::icmpv6, .dont_fragment = true},
                      *route);
  EXPECT_EQ(r.error(), boost::system::errc::message_size);
  EXPECT_EQ(counter(a_, "Ip6FragCreates"), 0u);
  std::vector<std::uint32_t> ids;
  for (int i = 0; i < 50; ++i) ids.push_back(layer.select_ident());
  std::ranges::sort(ids);
  EXPECT_EQ(std::ranges::adjacent_find(ids), ids.end());
  EXPECT_EQ(std::ranges::count(ids, 0u), 0);
}

// ---- crafted fragments on a channel device ----

const Ipv6Address kLocal = v6("2001:db8::1");
const Ipv6Address kPeer = v6("2001:db8::2");
const MacAddress kPeerMac{0x02, 0, 0, 0, 0, 0x02};

struct Piece {
  std::size_t offset;  // in the fragmentable part
  std::size_t len;     // bytes of it
  bool more;
};

class Ipv6FragmentInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    net_ = host_.create_net("a").value();
    eth0_ = make_channel(*net_, "eth0").value();
    ASSERT_TRUE(set_link_up(net_->loopback()));
    ASSERT_TRUE(set_link_up(*eth0_));
    ASSERT_TRUE(ipv6::add_address(*net_, *eth0_, Ipv6Prefix(kLocal, 64)));
    run_for(15s);  // past DAD and the three router solicitations after it
    ASSERT_TRUE(layer().state(*net_).neighbours().add_permanent(*eth0_, kPeer, kPeerMac));
    drain();
  }
  ipv6::Ipv6Stack& layer() { return host_.builtins().ipv6(); }
  void run_for(Clock::duration span) {
    const auto end = now_ + span;
    while (now_ < end) {
      now_ += 10ms;
      host_.poll(now_);
    }
  }
  std::vector<Bytes> drain() {
    std::vector<Bytes> out;
    while (auto f = eth0_->read()) out.push_back(std::move(*f));
    return out;
  }
  // The ICMPv6 echo request of `data_len` bytes the pieces cut up.
  Bytes echo_message(std::size_t data_len, std::uint16_t seq = 1) {
    Packet p = echo_request(host_, kPeer, kLocal, data_len, seq);
    return Bytes(p.data().begin(), p.data().end());
  }
  // One fragment of `whole` (the fragmentable part: here the upper layer).
  Bytes fragment(const Bytes& whole, const Piece& piece, std::uint32_t id, std::uint8_t traffic_class = 0,
                 std::uint8_t next = 58) {
    // Cut to what `whole` has; a piece past its end carries zeros (bad offsets).
    const std::size_t have = whole.size() > piece.offset ? std::min(piece.len, whole.size() - piece.offset) : 0;
    const std::size_t len = have != 0 ? have : piece.len;
    Bytes out(14 + 48 + len);
    wire::EthernetRepr{eth0_->mac(), kPeerMac, wire::EtherType::ipv6}.emit(out);
    wire::Ipv6Repr{.src = kPeer, .dst = kLocal, .next_header = wire::IpProtocol::ipv6_fragment,
                   .hop_limit = 64, .traffic_class = traffic_class, .payload_len = 8 + len}
        .emit(std::span(out).subspan(14));
    wire::Ipv6FragmentRepr{.next_header = next, .offset = piece.offset, .more = piece.more, .identification = id}
        .emit(std::span(out).subspan(54));
    std::copy_n(whole.begin() + static_cast<std::ptrdiff_t>(std::min(piece.offset, whole.size())), have,
                out.begin() + 62);
    return out;
  }
  void inject(const Bytes& frame) {
    eth0_->inject(frame);
    host_.poll(now_);
  }
  std::uint64_t counter(std::string_view name) const { return net_->counters().get(name); }
  // ICMPv6 messages eth0 sent: (type, code, pointer/mtu field).
  std::vector<std::array<std::uint32_t, 3>> icmp_out() {
    std::vector<std::array<std::uint32_t, 3>> out;
    for (const Bytes& f : drain()) {
      auto ip = wire::Ipv6View::checked(std::span(f).subspan(14));
      if (!ip) continue;
      auto walk = wire::walk_extension_headers(*ip, {});
      if (walk.verdict != wire::Ipv6ExtVerdict::ok || walk.next_header != 58) continue;
      auto m = ip->bytes().subspan(walk.offset);
      out.push_back({wire::load_u8(m, 0), wire::load_u8(m, 1), wire::load_be32(m, 4)});
    }
    return out;
  }
  ipv6::Reassembler* reassembler() { return layer().state(*net_).reassembler.get(); }

  Clock::time_point now_{};
  Host host_{HostConfig{.secret = 5}};
  NetRef net_;
  ChannelDevice* eth0_ = nullptr;
};

// An echo reply to echo_message(): type 129, code 0, identifier 0x77, sequence 1.
constexpr std::array<std::uint32_t, 3> kEchoReplyOut{129, 0, 0x77u << 16 | 1};

TEST_F(Ipv6FragmentInputTest, OutOfOrderFragmentsAreReassembledAndAnswered) {
  const Bytes echo = echo_message(1000);  // 1008 bytes: 400 + 400 + 208
  inject(fragment(echo, {800, 400, false}, 9));
  inject(fragment(echo, {0, 400, true}, 9));
  EXPECT_TRUE(drain().empty());
  inject(fragment(echo, {400, 400, true}, 9));
  auto out = icmp_out();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0][0], 129u);
  EXPECT_EQ(counter("Ip6ReasmReqds"), 3u);
  EXPECT_EQ(counter("Ip6ReasmOKs"), 1u);
  EXPECT_EQ(counter("Icmp6InEchos"), 1u);
  EXPECT_EQ(reassembler()->memory(), 0u);
}

TEST_F(Ipv6FragmentInputTest, ADuplicateIsDroppedAloneAndAnOverlapDropsTheDatagram) {
  const Bytes echo = echo_message(1000);
  inject(fragment(echo, {0, 400, true}, 1));
  inject(fragment(echo, {0, 400, true}, 1));    // exact duplicate
  inject(fragment(echo, {0, 200, true}, 1));    // inside held data: a duplicate too
  inject(fragment(echo, {400, 400, true}, 1));
  inject(fragment(echo, {800, 400, false}, 1));
  EXPECT_EQ(icmp_out().size(), 1u);
  EXPECT_EQ(counter("Ip6ReasmOKs"), 1u);
  EXPECT_EQ(counter("Ip6ReasmFails"), 0u);

  // RFC 5722: a piece reaching into held data drops all of it.
  inject(fragment(echo, {0, 400, true}, 2));
  inject(fragment(echo, {392, 400, true}, 2));
  EXPECT_EQ(counter("Ip6ReasmFails"), 1u);
  EXPECT_EQ(reassembler()->queues(), 0u);
  // What comes after starts a new datagram without its first fragment: never complete.
  inject(fragment(echo, {400, 400, true}, 2));
  inject(fragment(echo, {800, 400, false}, 2));
  EXPECT_TRUE(icmp_out().empty());
  EXPECT_EQ(counter("Ip6ReasmOKs"), 1u);
}

TEST_F(Ipv6FragmentInputTest, InconsistentEndsDropTheDatagram) {
  const Bytes echo = echo_message(1000);
  inject(fragment(echo, {800, 400, false}, 3));
  inject(fragment(echo, {800, 200, false}, 3));  // a second last fragment with another end
  EXPECT_EQ(counter("Ip6ReasmFails"), 1u);
  inject(fragment(echo, {400, 400, false}, 4));
  inject(fragment(echo, {800, 8, true}, 4));     // data past the known end
  EXPECT_EQ(counter("Ip6ReasmFails"), 2u);
  EXPECT_EQ(reassembler()->queues(), 0u);
}

// ip6_frag_queue: a fragment carrying no data, last or not, drops the
// whole datagram it names with one failure counted; alone it holds nothing.
TEST_F(Ipv6FragmentInputTest, AnEmptyFragmentDropsTheWholeQueue) {
  const Bytes echo = echo_message(1000);
  inject(fragment(echo, {0, 400, true}, 5));
  inject(fragment(echo, {400, 400, true}, 5));
  EXPECT_EQ(reassembler()->queues(), 1u);
  inject(fragment(echo, {400, 0, true}, 5));  // offset 400, nothing after the fragment header
  EXPECT_EQ(counter("Ip6ReasmFails"), 1u);
  EXPECT_EQ(reassembler()->queues(), 0u);
  EXPECT_EQ(reassembler()->memory(), 0u);
  inject(fragment(echo, {800, 400, false}, 5));  // the rest completes nothing now
  EXPECT_TRUE(icmp_out().empty());
  EXPECT_EQ(reassembler()->queues(), 1u);
  inject(fragment(echo, {0, 400, true}, 6));
  inject(fragment(echo, {1008, 0, false}, 6));  // an empty last fragment
  EXPECT_EQ(counter("Ip6ReasmFails"), 2u);
  EXPECT_EQ(reassembler()->queues(), 1u);
  inject(fragment(echo, {16, 0, true}, 7));  // no datagram 7 held: none made
  EXPECT_EQ(counter("Ip6ReasmFails"), 3u);
  EXPECT_EQ(reassembler()->queues(), 1u);
  EXPECT_EQ(counter("Ip6ReasmOKs"), 0u);
}

TEST_F(Ipv6FragmentInputTest, BadFragmentsGetParameterProblems) {
  const Bytes echo = echo_message(1000);
  // Not the last, and not a multiple of 8 long: code 0 at payload length.
  inject(fragment(echo, {0, 404, true}, 5));
  // Ending past 65535: code 0 at the fragment offset field (40 + 2).
  inject(fragment(echo, {65528, 400, true}, 6));
  // A first fragment cut inside the ICMPv6 header (RFC 7112): code 3, pointer 0.
  inject(fragment(echo, {0, 4, true}, 7));
  const auto out = icmp_out();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0], (std::array<std::uint32_t, 3>{4, 0, 4}));
  EXPECT_EQ(out[1], (std::array<std::uint32_t, 3>{4, 0, 42}));
  EXPECT_EQ(out[2], (std::array<std::uint32_t, 3>{4, 3, 0}));
  EXPECT_EQ(counter("Ip6ReasmReqds"), 3u);
  EXPECT_EQ(counter("Ip6InHdrErrors"), 3u);
  EXPECT_EQ(reassembler(), nullptr);  // nothing was queued
}

TEST_F(Ipv6FragmentInputTest, AnAtomicFragmentIsAWholeDatagram) {
  const Bytes echo = echo_message(100);
  inject(fragment(echo, {0, echo.size(), false}, 8));
  EXPECT_EQ(icmp_out(), (std::vector{kEchoReplyOut}));
  EXPECT_EQ(counter("Ip6ReasmReqds"), 1u);
  EXPECT_EQ(counter("Ip6ReasmOKs"), 1u);
  EXPECT_EQ(reassembler(), nullptr);
}

TEST_F(Ipv6FragmentInputTest, ATimeoutIsAnsweredOnlyWhenTheFirstFragmentCame) {
  const Bytes echo = echo_message(1000);
  inject(fragment(echo, {0, 400, true}, 10));
  inject(fragment(echo, {400, 400, true}, 11));  // another datagram, first fragment missing
  run_for(59s);
  EXPECT_EQ(counter("Ip6ReasmTimeout"), 0u);
  run_for(2s);  // net.ipv6.ip6frag_time: 60 s
  EXPECT_EQ(counter("Ip6ReasmTimeout"), 2u);
  EXPECT_EQ(counter("Ip6ReasmFails"), 2u);
  const auto out = icmp_out();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0][0], 3u);  // time exceeded
  EXPECT_EQ(out[0][1], 1u);  // fragment reassembly time exceeded
  EXPECT_EQ(reassembler()->queues(), 0u);
  EXPECT_EQ(reassembler()->memory(), 0u);
}

TEST_F(Ipv6FragmentInputTest, HighThreshBoundsAFloodOfIncompleteDatagrams) {
  constexpr std::size_t kThresh = 200'000;
  ASSERT_TRUE(net_->sysctl().set("net.ipv6.ip6frag_low_thresh", "0"));
  ASSERT_TRUE(net_->sysctl().set("net.ipv6.ip6frag_high_thresh", std::to_string(kThresh)));
  const Bytes echo = echo_message(1200);
  for (std::uint32_t id = 100; id < 1100; ++id) {
    inject(fragment(echo, {0, 1200, true}, id));
    ASSERT_LE(reassembler()->memory(), kThresh);
  }
  EXPECT_GT(counter("Ip6ReasmFails"), 800u);
  EXPECT_GT(reassembler()->queues(), 10u);
  EXPECT_EQ(net_->resources().packet_memory(), reassembler()->memory());
  // A complete datagram finds no room until the flood times out.
  inject(fragment(echo, {0, 1200, true}, 5000));
  inject(fragment(echo, {1200, 1200, false}, 5000));
  EXPECT_TRUE(icmp_out().empty());
  run_for(61s);
  (void)drain();
  EXPECT_EQ(reassembler()->memory(), 0u);
  inject(fragment(echo, {0, 1200, true}, 5001));
  inject(fragment(echo, {1200, 1200, false}, 5001));
  EXPECT_EQ(icmp_out(), (std::vector{kEchoReplyOut}));
  // 0 disables reassembly.
  ASSERT_TRUE(net_->sysctl().set("net.ipv6.ip6frag_high_thresh", "0"));
  const auto fails = counter("Ip6ReasmFails");
  inject(fragment(echo, {0, 1200, true}, 5002));
  EXPECT_EQ(counter("Ip6ReasmFails"), fails + 1);
  EXPECT_EQ(reassembler()->queues(), 0u);
}

TEST_F(Ipv6FragmentInputTest, PacketTooBigMakesTheNextDatagramFragmentSmaller) {
  const Ipv6Address far = v6("2001:db8:77::9");
  ASSERT_TRUE(ipv6::add_route(*net_, {.prefix = Ipv6Prefix(v6("2001:db8:77::"), 48), .via = kPeer}));
  auto sizes = [&] {
    std::vector<std::size_t> out;
    for (const Bytes& f : drain()) out.push_back(f.size() - 14);
    return out;
  };
  ASSERT_TRUE(send_echo(*net_, kLocal, far, 3000));
  EXPECT_EQ(sizes(), (std::vector<std::size_t>{1496, 1496, 160}));
  // A router on the way says 1280 (quoting the start of our first fragment).
  Bytes message(8 + 40 + 8);
  wire::store_u8(message, 0, 2);
  wire::store_be32(message, 4, 1280);
  wire::Ipv6Repr{.src = kLocal, .dst = far, .next_header = wire::IpProtocol::ipv6_fragment, .payload_len = 1456}
      .emit(std::span(message).subspan(8));
  wire::store_be16(message, 2, wire::ipv6_transport_checksum(kPeer, kLocal, 58, message));
  Bytes frame(14 + 40 + message.size());
  wire::EthernetRepr{eth0_->mac(), kPeerMac, wire::EtherType::ipv6}.emit(frame);
  wire::Ipv6Repr{.src = kPeer, .dst = kLocal, .next_header = wire::IpProtocol::icmpv6, .hop_limit = 64,
                 .payload_len = message.size()}
      .emit(std::span(frame).subspan(14));
  std::copy(message.begin(), message.end(), frame.begin() + 54);
  inject(frame);
  EXPECT_EQ(*ipv6::path_mtu(*net_, far), 1280u);
  ASSERT_TRUE(send_echo(*net_, kLocal, far, 3000));
  // (1280 - 48) & ~7 = 1232 bytes of data a fragment, as Linux on a 1280 path.
  EXPECT_EQ(sizes(), (std::vector<std::size_t>{1280, 1280, 48 + 3008 - 2464}));
  EXPECT_EQ(counter("Ip6FragOKs"), 2u);
  EXPECT_EQ(counter("Ip6FragCreates"), 6u);
}

// The three fragments of `ping -6 -s 3000` Linux sent (tests/wire/golden6_frames.hpp),
// reassembled, and answered in fragments of our own that Linux's reassembly
// would accept: the reply's data is the request's.
TEST(Ipv6FragmentGolden, LinuxsThreeFragmentEchoIsReassembledAndAnswered) {
  namespace g = wire::golden6;
  const Ipv6Address r1 = v6("2001:db8:2::1"), b = v6("2001:db8:2::2");
  const MacAddress r1_mac{0x02, 0x00, 0x5e, 0x00, 0x02, 0x01}, b_mac{0x02, 0x00, 0x5e, 0x00, 0x02, 0x02};
  Host host{HostConfig{.secret = 3}};
  auto net = host.create_net("r").value();
  auto* eth = make_channel(*net, "r1").value();
  ASSERT_TRUE(eth->set_mac(r1_mac));
  ASSERT_TRUE(eth->set_mtu(1280));
  ASSERT_TRUE(set_link_up(*eth));
  ASSERT_TRUE(ipv6::add_address(*net, *eth, Ipv6Prefix(r1, 64)));
  Clock::time_point now{};
  for (int i = 0; i < 1500; ++i) host.poll(now += 10ms);  // DAD, then three router solicitations
  ASSERT_TRUE(host.builtins().ipv6().state(*net).neighbours().add_permanent(*eth, b, b_mac));
  while (eth->read()) {
  }
  for (auto frame : {std::span<const std::byte>(g::kFragmentMiddle), std::span<const std::byte>(g::kFragmentLast),
                     std::span<const std::byte>(g::kFragmentFirst)}) {
    eth->inject(frame);
    host.poll(now);
  }
  EXPECT_EQ(net->counters().get("Ip6ReasmOKs"), 1u);
  EXPECT_EQ(net->counters().get("Icmp6InEchos"), 1u);
  // Our reply, reassembled here as a receiver would, is the request with type 129.
  Bytes whole(3008);
  std::size_t got = 0;
  int fragments = 0;
  while (auto f = eth->read()) {
    ++fragments;
    auto ip = wire::Ipv6View::checked(std::span(*f).subspan(14));
    ASSERT_TRUE(ip);
    EXPECT_LE(ip->bytes().size(), 1280u);
    EXPECT_EQ(ip->dst(), b);
    auto walk = wire::walk_extension_headers(*ip, {});
    ASSERT_EQ(walk.verdict, wire::Ipv6ExtVerdict::fragment);
    const auto data = ip->bytes().subspan(walk.offset + 8);
    ASSERT_LE(walk.fragment->offset + data.size(), whole.size());
    std::ranges::copy(data, whole.begin() + static_cast<std::ptrdiff_t>(walk.fragment->offset));
    got += data.size();
  }
  EXPECT_EQ(fragments, 3);
  ASSERT_EQ(got, whole.size());
  auto reply = wire::Icmpv6View::checked(whole, r1, b);
  ASSERT_TRUE(reply) << "the reply's checksum must verify over the reassembled whole";
  EXPECT_EQ(static_cast<int>(reply->type()), 129);
  const auto request = std::span<const std::byte>(g::kFragmentFirst).subspan(14 + 48 + 8);
  EXPECT_TRUE(std::equal(request.begin(), request.end(), reply->payload().begin()));
}

// Random fragment streams (overlaps, duplicates, odd lengths, bad offsets,
// many identifications, time passing) never crash, never exceed the bound,
// and leave nothing held once every queue has expired. Run under ASan.
TEST_F(Ipv6FragmentInputTest, RandomFragmentStreamsAreSurvived) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv6.ip6frag_low_thresh", "0"));
  ASSERT_TRUE(net_->sysctl().set("net.ipv6.ip6frag_high_thresh", "65536"));
  std::mt19937 rng(1234);
  auto below = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  const Bytes echo = echo_message(4000);
  for (int i = 0; i < 20'000; ++i) {
    const std::size_t offset = below(8) == 0 ? below(65536) : below(4100) & ~std::size_t{7};
    const std::size_t len = below(4) == 0 ? below(1500) : (below(1400) & ~std::size_t{7}) + 8;  // odd ones too
    Bytes f = fragment(echo, {offset & 0xfff8, len, below(3) != 0}, static_cast<std::uint32_t>(below(40)),
                       static_cast<std::uint8_t>(below(4)), below(10) == 0 ? 17 : 58);
    if (below(20) == 0) f.resize(below(f.size()) + 1);  // cut anywhere
    inject(f);
    if (reassembler() != nullptr) {
      ASSERT_LE(reassembler()->memory(), 65536u);
    }
    if (below(500) == 0) run_for(5s);
    (void)drain();
  }
  run_for(61s);
  (void)drain();
  ASSERT_NE(reassembler(), nullptr);
  EXPECT_EQ(reassembler()->queues(), 0u);
  EXPECT_EQ(reassembler()->memory(), 0u);
  EXPECT_GT(counter("Ip6ReasmReqds"), 10'000u);
}

}  // namespace ipv6_fragment_test
}  // namespace
}  // namespace netns
