#include "netns/wire/checksum.hpp"

#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "netns/wire/bytes.hpp"

namespace netns::wire {
namespace {
namespace wire_checksum_test {

// A deliberately naive reference: pad to even length, add 32-bit words,
// fold once at the end.
std::uint16_t reference_checksum(std::vector<std::byte> bytes) {
  if (bytes.size() % 2 != 0) bytes.push_back(std::byte{0});
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < bytes.size(); i += 2) sum += load_be16(bytes, i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

std::vector<std::byte> random_bytes(std::mt19937& rng, std::size_t n) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<std::byte> out(n);
  for (auto& b : out) b = std::byte(byte(rng));
  return out;
}

TEST(WireChecksum, Rfc1071Example) {
  // RFC 1071 section 3: the sum of 0001 f203 f4f5 f6f7 is ddf2.
  constexpr auto data = byte_array({0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7});
  Checksum c;
  c.add(data);
  EXPECT_EQ(c.sum(), 0xddf2);
  EXPECT_EQ(c.finish(), 0x220d);
  EXPECT_EQ(internet_checksum(data), 0x220d);
}

TEST(WireChecksum, Rfc1071ByteOrderIndependence) {
  // Section 2(B): swapping the bytes of every word swaps the bytes of the sum.
  constexpr auto swapped = byte_array({0x01, 0x00, 0x03, 0xf2, 0xf5, 0xf4, 0xf7, 0xf6});
  Checksum c;
  c.add(swapped);
  EXPECT_EQ(c.sum(), 0xf2dd);
}

TEST(WireChecksum, EmptyAndZeroData) {
  EXPECT_EQ(internet_checksum({}), 0xffff);
  constexpr auto zeros = byte_array({0, 0, 0});
  EXPECT_EQ(internet_checksum(zeros), 0xffff);
}

TEST(WireChecksum, OddLengthPadsWithZero) {
  constexpr auto odd = byte_array({0x12, 0x34, 0x56});
  constexpr auto padded = byte_array({0x12, 0x34, 0x56, 0x00});
  EXPECT_EQ(internet_checksum(odd), internet_checksum(padded));
  EXPECT_EQ(internet_checksum(odd), static_cast<std::uint16_t>(~(0x1234 + 0x5600)));
}

TEST(WireChecksum, MatchesReferenceForEveryLength) {
  std::mt19937 rng(1071);
  for (std::size_t n = 0; n < 300; ++n) {
    const auto data = random_bytes(rng, n);
    EXPECT_EQ(internet_checksum(data), reference_checksum(data)) << "length " << n;
  }
}

TEST(WireChecksum, SpansContinueAcrossOddSplits) {
  std::mt19937 rng(7);
  const auto data = random_bytes(rng, 61);
  const std::span<const std::byte> all(data);
  const std::uint16_t whole = internet_checksum(all);
  for (std::size_t i = 0; i <= all.size(); ++i) {
    for (std::size_t j = i; j <= all.size(); j += 7) {
      Checksum c;
      c.add(all.first(i));
      c.add(all.subspan(i, j - i));
      c.add(all.subspan(j));
      ASSERT_EQ(c.finish(), whole) << "split at " << i << " and " << j;
    }
  }
}

TEST(WireChecksum, WordsAfterOddSpanAreBytes) {
  // add_be16 after an odd byte must behave as two appended bytes.
  Checksum a;
  a.add(byte_array({0xab}));
  a.add_be16(0x1234);
  a.add_be32(0xdeadbeef);
  EXPECT_EQ(a.finish(), internet_checksum(byte_array({0xab, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef})));
}

TEST(WireChecksum, VerifyingStoredChecksumGivesZero) {
  std::mt19937 rng(3);
  for (std::size_t n : {2u, 20u, 64u, 1500u}) {
    auto data = random_bytes(rng, n);
    data[0] = data[1] = std::byte{0};  // the checksum field
    store_be16(data, 0, internet_checksum(data));
    EXPECT_EQ(internet_checksum(data), 0) << n;
  }
}

TEST(WireChecksum, PseudoHeaderOfRealDnsQuery) {
  // UDP part of a query for example.com A from 192.168.1.10:48563 to
  // 192.168.1.1:53; its checksum field is c3a2.
  auto udp = byte_array({0xbd, 0xb3, 0x00, 0x35, 0x00, 0x25, 0xc3, 0xa2, 0x2b, 0x4f, 0x01, 0x00,
                         0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x65, 0x78, 0x61,
                         0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00,
                         0x01});
  const Ipv4Address src(192, 168, 1, 10);
  const Ipv4Address dst(192, 168, 1, 1);
  EXPECT_EQ(ipv4_transport_checksum(src, dst, 17, udp), 0);
  store_be16(udp, 6, 0);
  EXPECT_EQ(ipv4_transport_checksum(src, dst, 17, udp), 0xc3a2);

  // The same thing by hand: pseudo-header, then the datagram in two odd pieces.
  Checksum c = ipv4_pseudo_header(src, dst, 17, static_cast<std::uint16_t>(udp.size()));
  c.add(std::span(udp).first(9));
  c.add(std::span(udp).subspan(9));
  EXPECT_EQ(c.finish(), 0xc3a2);
  // Swapping the addresses leaves the sum alone, changing the protocol does not.
  EXPECT_EQ(ipv4_transport_checksum(dst, src, 17, udp), 0xc3a2);
  EXPECT_NE(ipv4_transport_checksum(src, dst, 6, udp), 0xc3a2);
}

TEST(WireChecksum, IncrementalUpdateMatchesRecomputationForEveryWord) {
  // RFC 1624: one 16-bit word of a real IPv4 header takes every value.
  auto header = byte_array({0x45, 0x00, 0x00, 0x54, 0x3c, 0x5a, 0x40, 0x00, 0x40, 0x01,
                            0x7a, 0xf3, 0xc0, 0xa8, 0x01, 0x0a, 0xc0, 0xa8, 0x01, 0x01});
  ASSERT_EQ(internet_checksum(header), 0);
  constexpr std::size_t kWord = 8;  // TTL and protocol
  std::uint16_t checksum = load_be16(header, 10);
  std::uint16_t old_word = load_be16(header, kWord);
  for (std::uint32_t v = 0; v <= 0xffff; ++v) {
    const auto new_word = static_cast<std::uint16_t>(v ^ 0x5a5a);
    checksum = checksum_update(checksum, old_word, new_word);
    store_be16(header, kWord, new_word);
    store_be16(header, 10, 0);
    ASSERT_EQ(checksum, internet_checksum(header)) << "word " << new_word;
    store_be16(header, 10, checksum);
    old_word = new_word;
  }
}

TEST(WireChecksum, IncrementalUpdateOnRandomData) {
  std::mt19937 rng(1624);
  std::uniform_int_distribution<int> word(0, 0xffff);
  for (int round = 0; round < 2000; ++round) {
    auto data = random_bytes(rng, 2 * (1 + round % 30));
    const std::size_t at = 2 * (static_cast<std::size_t>(round) % (data.size() / 2));
    const std::uint16_t before = internet_checksum(data);
    const std::uint16_t old_word = load_be16(data, at);
    const auto new_word = static_cast<std::uint16_t>(word(rng));
    store_be16(data, at, new_word);
    ASSERT_EQ(checksum_update(before, old_word, new_word), internet_checksum(data));
  }
}

TEST(WireChecksum, HeaderFastPathAgreesWithTheReference) {
  // Random headers of every legal length, filled with their correct checksum
  // (valid), then with one bit flipped (invalid), and with extreme words.
  std::mt19937 rng(7);
  for (int round = 0; round < 20000; ++round) {
    std::size_t len = 20 + 4 * (static_cast<std::size_t>(rng()) % 11);
    std::vector<std::byte> header(len);
    const bool extreme = round % 4 == 0;
    for (auto& b : header) b = extreme ? std::byte{0xff} : static_cast<std::byte>(rng());
    if (round % 8 == 0) std::fill(header.begin() + 12, header.end(), std::byte{0});
    store_be16(header, 10, 0);
    store_be16(header, 10, internet_checksum(header));
    ASSERT_EQ(ipv4_header_checksum_ok(header), internet_checksum(header) == 0) << "round " << round;
    ASSERT_TRUE(ipv4_header_checksum_ok(header)) << "round " << round;
    header[static_cast<std::size_t>(rng()) % len] ^= std::byte{1};
    ASSERT_EQ(ipv4_header_checksum_ok(header), internet_checksum(header) == 0) << "round " << round;
  }
}

}  // namespace wire_checksum_test
}  // namespace
}  // namespace netns::wire
