#include "ipv4/fragment.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "netns/host.hpp"
#include "netns/net.hpp"
#include "netns/pernet.hpp"
#include "netns/wire/bytes.hpp"
#include "netns/wire/ipv4.hpp"

namespace netns::ipv4 {
namespace {
namespace ipv4_fragment_test {

using namespace std::chrono_literals;
using wire::Ipv4Repr;
using wire::Ipv4View;

const Ipv4Address kSrc(10, 0, 0, 1);
const Ipv4Address kDst(10, 0, 0, 2);
constexpr std::size_t k60KiB = 60 * 1024;

std::vector<std::byte> pattern(std::size_t n, std::uint8_t seed = 0) {
  std::vector<std::byte> bytes(n);
  for (std::size_t i = 0; i < n; ++i) bytes[i] = std::byte(static_cast<std::uint8_t>(i * 7 + i / 251 + seed));
  return bytes;
}

// Router Alert (copied, RFC 2113), then a Record Route with one slot (not
// copied), then End of Option List: 12 bytes, a 32-byte header.
constexpr auto kOptions = wire::byte_array({0x94, 0x04, 0x00, 0x00,     //
                                            0x07, 0x07, 0x04, 0, 0, 0, 0,  //
                                            0x00});
constexpr auto kCopiedOptions = wire::byte_array({0x94, 0x04, 0x00, 0x00});

class FragmentTest : public ::testing::Test {
 protected:
  std::uint64_t counter(std::string_view name) const { return net->counters().get(name); }

  // A datagram of `payload` from kSrc to kDst, built with Ipv4Repr::emit and,
  // when given, options placed after the fixed header.
  Packet datagram(std::span<const std::byte> payload, Ipv4Repr repr,
                  std::span<const std::byte> options = {}) {
    const std::size_t header_len = Ipv4Repr::kHeaderLen + options.size();
    Packet p = host.packets().allocate(header_len + payload.size());
    auto bytes = p.mutable_data();
    repr.payload_len = options.size() + payload.size();
    repr.emit(bytes);
    if (!options.empty()) {
      wire::store_u8(bytes, 0, static_cast<std::uint8_t>(0x40 | header_len / 4));
      std::ranges::copy(options, bytes.begin() + Ipv4Repr::kHeaderLen);
      wire::Ipv4MutView::checked(bytes)->fill_checksum();
    }
    std::ranges::copy(payload, bytes.begin() + static_cast<std::ptrdiff_t>(header_len));
    return p;
  }
  Packet datagram(std::span<const std::byte> payload, std::uint16_t id = 0x1234, bool df = false) {
    return datagram(payload, Ipv4Repr{.src = kSrc, .dst = kDst, .protocol = wire::IpProtocol::udp,
                                      .identification = id, .dont_fragment = df});
  }
  // One hand-made fragment: `payload` at byte `offset` of the datagram `id`.
  Packet fragment_of(std::uint16_t id, std::uint16_t offset, bool more,
                     std::span<const std::byte> payload, std::uint8_t tos = 0) {
    return datagram(payload, Ipv4Repr{.src = kSrc, .dst = kDst, .protocol = wire::IpProtocol::udp,
                                      .tos = tos, .identification = id, .more_fragments = more,
                                      .fragment_offset = offset});
  }

  std::vector<Packet> split(Packet whole, std::uint32_t mtu) {
    std::vector<Packet> out;
    auto r = fragment(*net, std::move(whole), mtu, [&](Packet p) { out.push_back(std::move(p)); });
    EXPECT_TRUE(r) << r.error().message();
    return out;
  }

  // Feeds every fragment; expects the datagram exactly on the last one.
  std::optional<Packet> feed(Reassembler& r, std::vector<Packet>& fragments) {
    std::optional<Packet> whole;
    for (std::size_t i = 0; i < fragments.size(); ++i) {
      auto got = r.add(std::move(fragments[i]));
      EXPECT_EQ(got.has_value(), i + 1 == fragments.size()) << "fragment " << i;
      if (got) whole = std::move(got);
    }
    return whole;
  }

  static void expect_datagram(const Packet& p, std::span<const std::byte> payload,
                              std::uint16_t id = 0x1234) {
    auto ip = Ipv4View::checked(p.data());
    ASSERT_TRUE(ip);
    auto repr = Ipv4Repr::parse(*ip);
    ASSERT_TRUE(repr) << "header checksum";
    EXPECT_FALSE(ip->is_fragment());
    EXPECT_EQ(ip->total_length(), p.size());
    EXPECT_EQ(repr->identification, id);
    EXPECT_EQ(repr->src, kSrc);
    EXPECT_EQ(repr->dst, kDst);
    EXPECT_EQ(repr->protocol, wire::IpProtocol::udp);
    ASSERT_EQ(ip->payload().size(), payload.size());
    EXPECT_TRUE(std::ranges::equal(ip->payload(), payload)) << "payload differs";
  }

  Host host{HostConfig{.secret = 1}};
  NetRef net = host.create_net("a").value();
  std::vector<Packet> timed_out;
  Reassembler reasm{*net, [this](Packet first) { timed_out.push_back(std::move(first)); }};
};

// ---- fragmentation ----

TEST_F(FragmentTest, SplitsAt1500WithHeadersOffsetsAndChecksums) {
  const auto payload = pattern(k60KiB);
  auto fragments = split(datagram(payload), 1500);
  ASSERT_EQ(fragments.size(), (k60KiB + 1479) / 1480);  // 42
  std::size_t expected_offset = 0;
  for (std::size_t i = 0; i < fragments.size(); ++i) {
    SCOPED_TRACE(i);
    const Packet& f = fragments[i];
    EXPECT_LE(f.size(), 1500u);
    auto ip = Ipv4View::checked(f.data());
    ASSERT_TRUE(ip);
    auto repr = Ipv4Repr::parse(*ip);
    ASSERT_TRUE(repr) << "checksum";
    EXPECT_EQ(ip->total_length(), f.size());
    EXPECT_EQ(repr->identification, 0x1234);
    EXPECT_EQ(repr->fragment_offset, expected_offset);
    EXPECT_EQ(repr->more_fragments, i + 1 < fragments.size());
    if (i + 1 < fragments.size()) {
      EXPECT_EQ(ip->payload().size(), 1480u);
    }
    EXPECT_TRUE(std::ranges::equal(ip->payload(),
                                   std::span(payload).subspan(expected_offset, ip->payload().size())));
    expected_offset += ip->payload().size();
  }
  EXPECT_EQ(expected_offset, k60KiB);
  EXPECT_EQ(counter("IpFragOKs"), 1u);
  EXPECT_EQ(counter("IpFragCreates"), fragments.size());
  EXPECT_EQ(counter("IpFragFails"), 0u);
}

TEST_F(FragmentTest, PayloadCopiesAreCounted) {
  const auto payload = pattern(4000);
  Packet whole = datagram(payload);
  const auto before = host.stats().packet_copies;
  auto fragments = split(std::move(whole), 1500);
  ASSERT_EQ(fragments.size(), 3u);
  // The first fragment is cut from the datagram's own buffer; the others are copies.
  EXPECT_EQ(host.stats().packet_copies - before, 2u);
}

TEST_F(FragmentTest, DontFragmentFailsAndEmitsNothing) {
  const auto payload = pattern(3000);
  std::vector<Packet> emitted;
  auto r = fragment(*net, datagram(payload, 7, /*df=*/true), 1500,
                    [&](Packet p) { emitted.push_back(std::move(p)); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), boost::system::errc::message_size);
  EXPECT_TRUE(emitted.empty());
  EXPECT_EQ(counter("IpFragFails"), 1u);
  EXPECT_EQ(counter("IpFragOKs"), 0u);
  EXPECT_EQ(counter("IpFragCreates"), 0u);
}

TEST_F(FragmentTest, DatagramThatFitsIsEmittedUnchanged) {
  const auto payload = pattern(1000);
  auto out = split(datagram(payload, 9, /*df=*/true), 1500);
  ASSERT_EQ(out.size(), 1u);
  expect_datagram(out[0], payload, 9);
  EXPECT_TRUE(Ipv4View::checked(out[0].data())->dont_fragment());
  EXPECT_EQ(counter("IpFragOKs"), 0u);
  EXPECT_EQ(counter("IpFragCreates"), 0u);
}

TEST_F(FragmentTest, MtuWithoutRoomForEightBytesFails) {
  std::vector<Packet> emitted;
  auto r = fragment(*net, datagram(pattern(100)), 27, [&](Packet p) { emitted.push_back(std::move(p)); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), boost::system::errc::invalid_argument);
  EXPECT_TRUE(emitted.empty());
  EXPECT_EQ(counter("IpFragFails"), 1u);
  // 28 bytes: a 20-byte header and 8 bytes of payload each.
  auto pieces = split(datagram(pattern(100)), 28);
  EXPECT_EQ(pieces.size(), 13u);
}

TEST_F(FragmentTest, OnlyCopiedOptionsGoIntoLaterFragments) {
  const auto payload = pattern(3000);
  Packet whole = datagram(payload, Ipv4Repr{.src = kSrc, .dst = kDst, .identification = 0x1234}, kOptions);
  ASSERT_EQ(Ipv4View::checked(whole.data())->header_len(), 32u);
  auto fragments = split(std::move(whole), 1500);
  ASSERT_EQ(fragments.size(), 3u);
  std::size_t offset = 0;
  for (std::size_t i = 0; i < fragments.size(); ++i) {
    SCOPED_TRACE(i);
    auto ip = Ipv4View::checked(fragments[i].data());
    ASSERT_TRUE(ip);
    EXPECT_TRUE(ip->verify_checksum());
    EXPECT_LE(fragments[i].size(), 1500u);
    EXPECT_EQ(ip->fragment_offset(), offset);
    if (i == 0) {
      EXPECT_TRUE(std::ranges::equal(ip->options(), kOptions));
      EXPECT_EQ(ip->payload().size(), 1464u);  // (1500 - 32) rounded down to 8
    } else {
      EXPECT_TRUE(std::ranges::equal(ip->options(), kCopiedOptions));
    }
    offset += ip->payload().size();
  }
  EXPECT_EQ(offset, payload.size());

  // Reassembly keeps the first fragment's header, options included.
  auto back = feed(reasm, fragments);
  ASSERT_TRUE(back);
  expect_datagram(*back, payload);
  auto ip = Ipv4View::checked(back->data());
  EXPECT_TRUE(std::ranges::equal(ip->options(), kOptions));
}

TEST_F(FragmentTest, RefragmentingAFragmentContinuesItsOffsetAndMf) {
  // A router forwarding 1500-byte fragments onto a 576-byte link.
  const auto payload = pattern(4000);
  auto at1500 = split(datagram(payload), 1500);
  ASSERT_EQ(at1500.size(), 3u);
  std::vector<Packet> at576;
  for (Packet& f : at1500) {
    for (Packet& g : split(std::move(f), 576)) at576.push_back(std::move(g));
  }
  std::size_t offset = 0;
  for (std::size_t i = 0; i < at576.size(); ++i) {
    auto ip = Ipv4View::checked(at576[i].data());
    ASSERT_TRUE(ip);
    EXPECT_LE(at576[i].size(), 576u);
    EXPECT_EQ(ip->fragment_offset(), offset) << i;
    EXPECT_EQ(ip->more_fragments(), i + 1 < at576.size()) << i;
    offset += ip->payload().size();
  }
  EXPECT_EQ(offset, payload.size());
  auto back = feed(reasm, at576);
  ASSERT_TRUE(back);
  expect_datagram(*back, payload);
}

// ---- reassembly ----

using ReassemblerTest = FragmentTest;

TEST_F(ReassemblerTest, InOrder60KiBIsByteExact) {
  const auto payload = pattern(k60KiB);
  auto fragments = split(datagram(payload), 1500);
  const auto count = fragments.size();
  auto whole = feed(reasm, fragments);
  ASSERT_TRUE(whole);
  expect_datagram(*whole, payload);
  EXPECT_EQ(counter("IpReasmReqds"), count);
  EXPECT_EQ(counter("IpReasmOKs"), 1u);
  EXPECT_EQ(counter("IpReasmFails"), 0u);
  EXPECT_EQ(reasm.memory(), 0u);
  EXPECT_EQ(reasm.queues(), 0u);
}

TEST_F(ReassemblerTest, ReverseOrder60KiBIsByteExact) {
  const auto payload = pattern(k60KiB, 3);
  auto fragments = split(datagram(payload), 1500);
  std::ranges::reverse(fragments);
  auto whole = feed(reasm, fragments);
  ASSERT_TRUE(whole);
  expect_datagram(*whole, payload);
  EXPECT_EQ(reasm.memory(), 0u);
}

TEST_F(ReassemblerTest, ShuffledOrder60KiBIsByteExact) {
  const auto payload = pattern(k60KiB, 5);
  for (std::uint32_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE(seed);
    auto fragments = split(datagram(payload, static_cast<std::uint16_t>(seed)), 1500);
    std::mt19937 rng(seed);
    std::shuffle(fragments.begin(), fragments.end(), rng);
    auto whole = feed(reasm, fragments);
    ASSERT_TRUE(whole);
    expect_datagram(*whole, payload, static_cast<std::uint16_t>(seed));
  }
  EXPECT_EQ(counter("IpReasmOKs"), 3u);
  EXPECT_EQ(reasm.memory(), 0u);
}

TEST_F(ReassemblerTest, FirstFragmentArrivingLastCompletes) {
  const auto payload = pattern(10000);
  auto fragments = split(datagram(payload), 1500);
  std::ranges::rotate(fragments, fragments.begin() + 1);  // offset 0 goes to the end
  ASSERT_EQ(Ipv4View::checked(fragments.back().data())->fragment_offset(), 0);
  auto whole = feed(reasm, fragments);
  ASSERT_TRUE(whole);
  expect_datagram(*whole, payload);
}

TEST_F(ReassemblerTest, ExactDuplicateIsIgnoredAndDatagramCompletes) {
  const auto payload = pattern(4000);
  auto fragments = split(datagram(payload), 1500);
  ASSERT_EQ(fragments.size(), 3u);
  EXPECT_FALSE(reasm.add(fragments[0].copy()));
  const auto held = reasm.memory();
  EXPECT_FALSE(reasm.add(fragments[0].copy()));  // exact duplicate
  EXPECT_EQ(reasm.memory(), held);
  // Bytes inside what is held are a duplicate too (Linux: inside a fragment run).
  EXPECT_FALSE(reasm.add(fragment_of(0x1234, 8, true, std::span(payload).subspan(8, 800))));
  EXPECT_EQ(reasm.memory(), held);
  EXPECT_FALSE(reasm.add(std::move(fragments[1])));
  EXPECT_FALSE(reasm.add(fragments[0].copy()));
  auto whole = reasm.add(std::move(fragments[2]));
  ASSERT_TRUE(whole);
  expect_datagram(*whole, payload);
  EXPECT_EQ(counter("IpReasmOKs"), 1u);
  EXPECT_EQ(counter("IpReasmFails"), 0u);
  EXPECT_EQ(counter("IpExtReasmOverlaps"), 0u);
  EXPECT_EQ(counter("IpReasmReqds"), 6u);
}

TEST_F(ReassemblerTest, PartialOverlapDropsTheDatagram) {
  const auto payload = pattern(4000);
  auto fragments = split(datagram(payload), 1500);
  EXPECT_FALSE(reasm.add(std::move(fragments[0])));  // [0, 1480)
  // [1472, 2952): eight bytes over the first fragment.
  EXPECT_FALSE(reasm.add(fragment_of(0x1234, 1472, true, std::span(payload).subspan(1472, 1480))));
  EXPECT_EQ(reasm.queues(), 0u);
  EXPECT_EQ(reasm.memory(), 0u);
  EXPECT_EQ(counter("IpExtReasmOverlaps"), 1u);
  EXPECT_EQ(counter("IpReasmFails"), 1u);
  // A complete set with the same id (a retransmission) starts afresh and reassembles.
  auto again = split(datagram(payload), 1500);
  std::optional<Packet> whole;
  for (Packet& f : again) {
    auto got = reasm.add(std::move(f));
    if (got) whole = std::move(got);
  }
  ASSERT_TRUE(whole);
  expect_datagram(*whole, payload);
  EXPECT_EQ(reasm.queues(), 0u);
  EXPECT_EQ(reasm.memory(), 0u);
  EXPECT_EQ(counter("IpReasmOKs"), 1u);
}

TEST_F(ReassemblerTest, OverlapAcrossAGapDropsTheDatagram) {
  const auto payload = pattern(4000);
  EXPECT_FALSE(reasm.add(fragment_of(1, 0, true, std::span(payload).first(800))));
  EXPECT_FALSE(reasm.add(fragment_of(1, 1600, true, std::span(payload).subspan(1600, 800))));
  // [400, 2000) covers a gap and both neighbours: not a duplicate.
  EXPECT_FALSE(reasm.add(fragment_of(1, 400, true, std::span(payload).subspan(400, 1600))));
  EXPECT_EQ(reasm.queues(), 0u);
  EXPECT_EQ(counter("IpExtReasmOverlaps"), 1u);
}

TEST_F(ReassemblerTest, TimeoutCountsFreesAndReportsTheFirstFragment) {
  const auto payload = pattern(4000);
  auto fragments = split(datagram(payload), 1500);
  const auto timers_before = host.stats().timers_pending;
  const auto packets_before = host.stats().packets_in_use;
  EXPECT_FALSE(reasm.add(std::move(fragments[0])));
  EXPECT_FALSE(reasm.add(std::move(fragments[2])));
  EXPECT_GT(reasm.memory(), 0u);
  EXPECT_EQ(host.stats().timers_pending, timers_before + 1);

  host.poll(Clock::time_point{} + 29s);
  EXPECT_EQ(reasm.queues(), 1u);
  EXPECT_EQ(counter("IpReasmTimeout"), 0u);
  host.poll(Clock::time_point{} + 30s + 1ms);
  EXPECT_EQ(counter("IpReasmTimeout"), 1u);
  EXPECT_EQ(counter("IpReasmFails"), 1u);
  EXPECT_EQ(reasm.queues(), 0u);
  EXPECT_EQ(reasm.memory(), 0u);
  EXPECT_EQ(host.stats().timers_pending, timers_before);
  ASSERT_EQ(timed_out.size(), 1u);
  auto ip = Ipv4View::checked(timed_out[0].data());
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->fragment_offset(), 0);
  EXPECT_TRUE(ip->more_fragments());
  EXPECT_EQ(ip->identification(), 0x1234);
  EXPECT_EQ(ip->src(), kSrc);
  timed_out.clear();
  EXPECT_EQ(host.stats().packets_in_use, packets_before - 2);  // the two held fragments freed
  // The missing fragment, arriving late, starts a new queue.
  EXPECT_FALSE(reasm.add(std::move(fragments[1])));
  EXPECT_EQ(reasm.queues(), 1u);
}

TEST_F(ReassemblerTest, TimeoutWithoutTheFirstFragmentSendsNothing) {
  const auto payload = pattern(4000);
  auto fragments = split(datagram(payload), 1500);
  EXPECT_FALSE(reasm.add(std::move(fragments[1])));
  EXPECT_FALSE(reasm.add(std::move(fragments[2])));
  host.poll(Clock::time_point{} + 31s);
  EXPECT_EQ(counter("IpReasmTimeout"), 1u);
  EXPECT_EQ(reasm.queues(), 0u);
  EXPECT_EQ(reasm.memory(), 0u);
  EXPECT_TRUE(timed_out.empty());
}

TEST_F(ReassemblerTest, TimeoutFollowsIpfragTime) {
  ASSERT_TRUE(net->sysctl().set("net.ipv4.ipfrag_time", "5"));
  host.poll(Clock::time_point{} + 100s);
  const auto payload = pattern(4000);
  auto fragments = split(datagram(payload), 1500);
  EXPECT_FALSE(reasm.add(std::move(fragments[0])));
  host.poll(Clock::time_point{} + 104s);
  EXPECT_EQ(reasm.queues(), 1u);
  host.poll(Clock::time_point{} + 105s);  // 5 s from the first fragment
  EXPECT_EQ(reasm.queues(), 0u);
  EXPECT_EQ(timed_out.size(), 1u);
}

TEST_F(ReassemblerTest, HighThreshBoundsMemoryAndDropsTheExcess) {
  constexpr std::size_t kThresh = 20000;
  // low_thresh is the least high_thresh may be, as in Linux: lowered first.
  ASSERT_TRUE(net->sysctl().set("net.ipv4.ipfrag_low_thresh", "0"));
  ASSERT_TRUE(net->sysctl().set("net.ipv4.ipfrag_high_thresh", std::to_string(kThresh)));
  const auto payload = pattern(4000);
  std::size_t accepted = 0, dropped = 0;
  for (std::uint16_t id = 0; id < 50; ++id) {
    auto fragments = split(datagram(payload, id), 1500);
    const auto before = counter("IpReasmFails");
    EXPECT_FALSE(reasm.add(std::move(fragments[0])));
    (counter("IpReasmFails") > before ? dropped : accepted) += 1;
    EXPECT_LE(reasm.memory(), kThresh);
  }
  EXPECT_GT(accepted, 0u);
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(reasm.queues(), accepted);
  EXPECT_EQ(counter("IpReasmFails"), dropped);

  // A datagram larger than the bound can never be held whole; memory stays bounded.
  for (Packet& f : split(datagram(pattern(k60KiB), 999), 1500)) {
    EXPECT_FALSE(reasm.add(std::move(f)));
    EXPECT_LE(reasm.memory(), kThresh);
  }
  const auto queues = reasm.queues();
  const auto held = reasm.memory();
  // 0 disables reassembly: nothing more is taken.
  ASSERT_TRUE(net->sysctl().set("net.ipv4.ipfrag_high_thresh", "0"));
  const auto fails = counter("IpReasmFails");
  for (Packet& f : split(datagram(pattern(4000), 998), 1500)) {
    EXPECT_FALSE(reasm.add(std::move(f)));
  }
  EXPECT_EQ(counter("IpReasmFails"), fails + 3);
  EXPECT_EQ(reasm.queues(), queues);
  EXPECT_EQ(reasm.memory(), held);

  // Once the held queues expire the memory is free again.
  host.poll(Clock::time_point{} + 31s);
  EXPECT_EQ(reasm.memory(), 0u);
  ASSERT_TRUE(net->sysctl().set("net.ipv4.ipfrag_high_thresh", std::to_string(kThresh)));
  auto fragments = split(datagram(payload, 1000), 1500);
  auto whole = feed(reasm, fragments);
  ASSERT_TRUE(whole);
  expect_datagram(*whole, payload, 1000);
}

TEST_F(ReassemblerTest, QueueCountIsBounded) {
  ASSERT_TRUE(net->sysctl().set("net.ipv4.ipfrag_high_thresh", "2147483647"));
  const auto payload = pattern(8);
  for (std::size_t i = 0; i <= Reassembler::kMaxQueues; ++i) {
    const auto src = Ipv4Address(10, 1, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i));
    EXPECT_FALSE(reasm.add(datagram(payload, Ipv4Repr{.src = src, .dst = kDst, .identification = 7,
                                                      .more_fragments = true})));
  }
  EXPECT_EQ(reasm.queues(), Reassembler::kMaxQueues);
  EXPECT_EQ(counter("IpReasmFails"), 1u);
  host.poll(Clock::time_point{} + 31s);
  EXPECT_EQ(reasm.queues(), 0u);
  EXPECT_EQ(reasm.memory(), 0u);
  EXPECT_EQ(timed_out.size(), Reassembler::kMaxQueues);
}

TEST_F(ReassemblerTest, MalformedFragmentsDropTheDatagram) {
  const auto payload = pattern(8000);
  const auto bytes = std::span(payload);

  // A middle fragment whose length is not a multiple of 8.
  EXPECT_FALSE(reasm.add(fragment_of(1, 0, true, bytes.first(1480))));
  EXPECT_FALSE(reasm.add(fragment_of(1, 1480, true, bytes.subspan(1480, 1001))));
  EXPECT_EQ(reasm.queues(), 0u);
  EXPECT_EQ(counter("IpReasmFails"), 1u);

  // Ending past 65535 (the ping of death): offset 65000 + 1000 bytes.
  EXPECT_FALSE(reasm.add(fragment_of(2, 0, true, bytes.first(1480))));
  EXPECT_FALSE(reasm.add(fragment_of(2, 65000, false, bytes.first(1000))));
  EXPECT_EQ(reasm.queues(), 0u);
  EXPECT_EQ(counter("IpReasmFails"), 2u);
  // Also when it is the first of its datagram to arrive: no queue is made.
  EXPECT_FALSE(reasm.add(fragment_of(3, 65000, true, bytes.first(1000))));
  EXPECT_EQ(reasm.queues(), 0u);
  EXPECT_EQ(counter("IpReasmFails"), 3u);

  // Two last fragments with different ends.
  EXPECT_FALSE(reasm.add(fragment_of(4, 1480, false, bytes.subspan(1480, 100))));
  EXPECT_FALSE(reasm.add(fragment_of(4, 2000, false, bytes.subspan(2000, 100))));
  EXPECT_EQ(reasm.queues(), 0u);
  EXPECT_EQ(counter("IpReasmFails"), 4u);

  // Data past the end a last fragment fixed.
  EXPECT_FALSE(reasm.add(fragment_of(5, 1480, false, bytes.subspan(1480, 100))));
  EXPECT_FALSE(reasm.add(fragment_of(5, 1584, true, bytes.subspan(1584, 800))));
  EXPECT_EQ(reasm.queues(), 0u);
  EXPECT_EQ(counter("IpReasmFails"), 5u);

  // A last fragment ending before data already held.
  EXPECT_FALSE(reasm.add(fragment_of(6, 2960, true, bytes.subspan(2960, 1480))));
  EXPECT_FALSE(reasm.add(fragment_of(6, 1480, false, bytes.subspan(1480, 100))));
  EXPECT_EQ(reasm.queues(), 0u);
  EXPECT_EQ(counter("IpReasmFails"), 6u);

  // An empty fragment.
  EXPECT_FALSE(reasm.add(fragment_of(7, 0, true, bytes.first(1480))));
  EXPECT_FALSE(reasm.add(fragment_of(7, 1480, true, {})));
  EXPECT_EQ(reasm.queues(), 0u);
  EXPECT_EQ(counter("IpReasmFails"), 7u);

  EXPECT_EQ(reasm.memory(), 0u);
  EXPECT_EQ(counter("IpExtReasmOverlaps"), 0u);
  EXPECT_EQ(counter("IpReasmOKs"), 0u);
}

TEST_F(ReassemblerTest, TrailingLinkPaddingIsIgnored) {
  const auto payload = pattern(100);
  Packet first = fragment_of(1, 0, true, std::span(payload).first(48));
  Packet last = fragment_of(1, 48, false, std::span(payload).subspan(48));
  std::ranges::fill(last.push_back(10), std::byte{0xee});  // as Ethernet padding would be
  EXPECT_FALSE(reasm.add(std::move(first)));
  auto whole = reasm.add(std::move(last));
  ASSERT_TRUE(whole);
  expect_datagram(*whole, payload, 1);
}

TEST_F(ReassemblerTest, EcnIsCombinedAsRfc3168Says) {
  const auto payload = pattern(64);
  const auto bytes = std::span(payload);
  constexpr std::uint8_t kNotEct = 0, kEct0 = 2, kCe = 3;
  // ECT(0) and CE: the datagram is CE.
  EXPECT_FALSE(reasm.add(fragment_of(1, 0, true, bytes.first(32), 0x20 | kEct0)));
  auto whole = reasm.add(fragment_of(1, 32, false, bytes.subspan(32), 0x20 | kCe));
  ASSERT_TRUE(whole);
  EXPECT_EQ(Ipv4View::checked(whole->data())->tos(), 0x20 | kCe);
  EXPECT_TRUE(Ipv4View::checked(whole->data())->verify_checksum());
  // Not-ECT and CE cannot be combined: dropped.
  EXPECT_FALSE(reasm.add(fragment_of(2, 0, true, bytes.first(32), kNotEct)));
  EXPECT_FALSE(reasm.add(fragment_of(2, 32, false, bytes.subspan(32), kCe)));
  EXPECT_EQ(reasm.queues(), 0u);
  EXPECT_EQ(counter("IpReasmFails"), 1u);
}

TEST_F(ReassemblerTest, KeyIncludesProtocolAndAddresses) {
  const auto payload = pattern(64);
  const auto bytes = std::span(payload);
  EXPECT_FALSE(reasm.add(fragment_of(1, 0, true, bytes.first(32))));
  // Same id, other protocol: another datagram.
  EXPECT_FALSE(reasm.add(datagram(bytes.subspan(32), Ipv4Repr{.src = kSrc, .dst = kDst,
                                                              .protocol = wire::IpProtocol::tcp,
                                                              .identification = 1,
                                                              .fragment_offset = 32})));
  // Same id, other source.
  EXPECT_FALSE(reasm.add(datagram(bytes.subspan(32), Ipv4Repr{.src = Ipv4Address(10, 0, 0, 9), .dst = kDst,
                                                              .identification = 1,
                                                              .fragment_offset = 32})));
  EXPECT_EQ(reasm.queues(), 3u);
  EXPECT_TRUE(reasm.add(fragment_of(1, 32, false, bytes.subspan(32))));
  EXPECT_EQ(reasm.queues(), 2u);
}

TEST_F(ReassemblerTest, NotAFragmentIsHandedBack) {
  const auto payload = pattern(64);
  auto back = reasm.add(datagram(payload));
  ASSERT_TRUE(back);
  expect_datagram(*back, payload);
  EXPECT_EQ(counter("IpReasmReqds"), 0u);
}

TEST_F(ReassemblerTest, NamespacesDoNotShareQueues) {
  NetRef other = host.create_net("b").value();
  std::vector<Packet> other_timed_out;
  Reassembler other_reasm(*other, [&](Packet p) { other_timed_out.push_back(std::move(p)); });
  const auto payload = pattern(4000);
  auto fragments = split(datagram(payload), 1500);
  // The same datagram's fragments, split between the namespaces, meet in neither.
  EXPECT_FALSE(reasm.add(fragments[0].copy()));
  EXPECT_FALSE(other_reasm.add(std::move(fragments[1])));
  EXPECT_FALSE(other_reasm.add(std::move(fragments[2])));
  EXPECT_EQ(reasm.queues(), 1u);
  EXPECT_EQ(other_reasm.queues(), 1u);
  EXPECT_EQ(counter("IpReasmReqds"), 1u);
  EXPECT_EQ(other->counters().get("IpReasmReqds"), 2u);
  // Each namespace's own full set completes there only.
  std::vector<Packet> rest = split(datagram(payload), 1500);
  rest.erase(rest.begin());
  std::optional<Packet> whole;
  for (Packet& f : rest) {
    auto got = reasm.add(std::move(f));
    if (got) whole = std::move(got);
  }
  ASSERT_TRUE(whole);
  expect_datagram(*whole, payload);
  EXPECT_EQ(reasm.queues(), 0u);
  EXPECT_EQ(other_reasm.queues(), 1u);
  EXPECT_EQ(other->counters().get("IpReasmOKs"), 0u);
  host.poll(Clock::time_point{} + 31s);
  EXPECT_EQ(other_reasm.queues(), 0u);
  EXPECT_EQ(other->counters().get("IpReasmTimeout"), 1u);
  EXPECT_EQ(counter("IpReasmTimeout"), 0u);
  EXPECT_TRUE(other_timed_out.empty());  // its first fragment never came
}

// The Reassembler as the IPv4 layer will hold it: in a pernet slot, destroyed
// when its namespace dies with datagrams still pending.
class ReassemblerOps : public PernetOps {
 public:
  explicit ReassemblerOps(Host& host) : slot(host) {}
  Result<void> init(Net& net) override {
    slot.emplace(net, net, [this](Packet) { ++timeouts; });
    return {};
  }
  void exit(Net& net) override { slot.reset(net); }
  PernetSlot<Reassembler> slot;
  int timeouts = 0;
};

TEST(ReassemblerTeardown, PendingQueuesAreFreedWithTheNamespace) {
  std::optional<ReassemblerOps> ops;  // outlives the Host, which runs exit on every namespace
  Host host(HostConfig{.secret = 1});
  ops.emplace(host);
  ASSERT_TRUE(host.register_pernet_subsys(*ops));
  const auto timers_before = host.stats().timers_pending;
  const auto packets_before = host.stats().packets_in_use;
  NetRef a = host.create_net("a").value();
  NetRef b = host.create_net("b").value();
  const auto payload = pattern(4000);
  for (Net* net : {a.get(), b.get()}) {
    for (std::uint16_t id = 0; id < 10; ++id) {
      Packet p = host.packets().allocate(Ipv4Repr::kHeaderLen + 1480);
      Ipv4Repr{.src = kSrc, .dst = kDst, .payload_len = 1480, .identification = id,
               .more_fragments = true}
          .emit(p.mutable_data());
      EXPECT_FALSE(ops->slot.get(*net).add(std::move(p)));
    }
    EXPECT_EQ(ops->slot.get(*net).queues(), 10u);
  }
  EXPECT_EQ(host.stats().timers_pending, timers_before + 20);
  a.reset();
  host.poll(Clock::time_point{} + 1s);  // a is torn down with 10 queues pending
  EXPECT_EQ(host.stats().timers_pending, timers_before + 10);
  host.poll(Clock::time_point{} + 60s);  // nothing of a fires; b's expire
  EXPECT_EQ(ops->timeouts, 10);
  EXPECT_EQ(host.stats().timers_pending, timers_before);
  EXPECT_EQ(host.stats().packets_in_use, packets_before);
  // b is torn down by the Host's destructor with fresh queues pending.
  Packet p = host.packets().allocate(Ipv4Repr::kHeaderLen + 8);
  Ipv4Repr{.src = kSrc, .dst = kDst, .payload_len = 8, .more_fragments = true}.emit(p.mutable_data());
  EXPECT_FALSE(ops->slot.get(*b).add(std::move(p)));
}

}  // namespace ipv4_fragment_test
}  // namespace
}  // namespace netns::ipv4
