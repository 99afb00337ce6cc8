// SipHash-2-4 and SipHash-1-3 against the reference implementation's vectors.
#include "core/siphash.hpp"

#include <array>
#include <cstdint>

#include <gtest/gtest.h>

namespace netns {
namespace {
namespace core_siphash_test {

// Key 00 01 .. 0f and messages 00 01 .. (len-1), as in the reference's vectors.h.
SipKey reference_key() {
  std::array<std::byte, 16> k;
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = std::byte(i);
  return SipKey::from_bytes(k);
}

std::array<std::byte, 64> counting_message() {
  std::array<std::byte, 64> m;
  for (std::size_t i = 0; i < m.size(); ++i) m[i] = std::byte(i);
  return m;
}

TEST(SipHash, KeyBytesAreReadLittleEndian) {
  SipKey k = reference_key();
  EXPECT_EQ(k.k0, 0x0706050403020100u);
  EXPECT_EQ(k.k1, 0x0f0e0d0c0b0a0908u);
}

TEST(SipHash, Siphash24PaperAppendixVector) {
  // Aumasson and Bernstein, "SipHash: a fast short-input PRF", appendix A:
  // key 00..0f, the 15-byte message 00..0e.
  auto m = counting_message();
  EXPECT_EQ(siphash24(reference_key(), std::span(m).first(15)), 0xa129ca6149be45e5u);
}

TEST(SipHash, Siphash24ReferenceVectorsAcrossTailLengths) {
  // veorq/SipHash vectors.h (vectors_sip64), lengths 0..16: every tail length
  // 0..7 and both sides of a word boundary.
  constexpr std::array<std::uint64_t, 17> kExpected{
      0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a, 0x85676696d7fb7e2d,
      0xcf2794e0277187b7, 0x18765564cd99a68d, 0xcbc9466e58fee3ce, 0xab0200f58b01d137,
      0x93f5f5799a932462, 0x9e0082df0ba9e4b0, 0x7a5dbbc594ddb9f3, 0xf4b32f46226bada7,
      0x751e8fbc860ee5fb, 0x14ea5627c0843d90, 0xf723ca908e7af2ee, 0xa129ca6149be45e5,
      0x3f2acc7f57c29bdb};
  auto m = counting_message();
  for (std::size_t len = 0; len < kExpected.size(); ++len) {
    EXPECT_EQ(siphash24(reference_key(), std::span(m).first(len)), kExpected[len]) << len;
  }
  EXPECT_EQ(siphash24(reference_key(), std::span(m).first(63)), 0x958a324ceb064572u);  // the last
}

TEST(SipHash, Siphash13ReferenceVectors) {
  // SipHash-1-3 from the reference implementation (its vectors for the
  // all-zero key, messages 00 01 .. (len-1)).
  const SipKey zero{};
  auto m = counting_message();
  EXPECT_EQ(siphash13(zero, {}), 0xd1fba762150c532cu);
  EXPECT_EQ(siphash13(zero, std::span(m).first(1)), 0x68a914128e01e473u);
  EXPECT_EQ(siphash13(zero, std::span(m).first(8)), 0xead411e67ebe2eeau);
  EXPECT_EQ(siphash13(zero, std::span(m).first(15)), 0xf30eb725bb91c9eau);
  EXPECT_EQ(siphash13(zero, std::span(m).first(17)), 0x4883c49a2c009c1du);
}

TEST(SipHash, Siphash13OfAWordIsSiphash13OfItsLittleEndianBytes) {
  EXPECT_EQ(siphash13_word(SipKey{}, 0x0706050403020100), 0xead411e67ebe2eeau);  // the reference's 8-byte vector
  auto m = counting_message();
  std::uint64_t word = 0;
  for (std::size_t i = 0; i < 8; ++i) word |= std::uint64_t{std::to_integer<std::uint8_t>(m[i + 3])} << (8 * i);
  EXPECT_EQ(siphash13_word(reference_key(), word), siphash13(reference_key(), std::span(m).subspan(3, 8)));
}

TEST(SipHash, Siphash13OfTwoWordsIsSiphash13OfTheirSixteenBytes) {
  auto m = counting_message();
  std::uint64_t w0 = 0, w1 = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    w0 |= std::uint64_t{std::to_integer<std::uint8_t>(m[i])} << (8 * i);
    w1 |= std::uint64_t{std::to_integer<std::uint8_t>(m[i + 8])} << (8 * i);
  }
  EXPECT_EQ(siphash13_words(reference_key(), w0, w1), siphash13(reference_key(), std::span(m).first(16)));
}

TEST(SipHash, Siphash13OfTwoWordsAndATailIsSiphash13OfTheirBytes) {
  auto m = counting_message();
  std::uint64_t words[2] = {};
  for (std::size_t i = 0; i < 16; ++i) words[i / 8] |= std::uint64_t{std::to_integer<std::uint8_t>(m[i])} << (8 * (i % 8));
  for (std::size_t size = 16; size < 24; ++size) {
    std::uint64_t tail = 0;
    for (std::size_t i = 16; i < size; ++i) tail |= std::uint64_t{std::to_integer<std::uint8_t>(m[i])} << (8 * (i - 16));
    EXPECT_EQ(siphash13_words(reference_key(), words[0], words[1], tail, size),
              siphash13(reference_key(), std::span(m).first(size)))
        << size << " bytes";
  }
}

TEST(SipHash, Siphash13OfAWordAndATailIsSiphash13OfTheirBytes) {
  auto m = counting_message();
  std::uint64_t word = 0;
  for (std::size_t i = 0; i < 8; ++i) word |= std::uint64_t{std::to_integer<std::uint8_t>(m[i])} << (8 * i);
  for (std::size_t size = 8; size < 16; ++size) {
    std::uint64_t tail = 0;
    for (std::size_t i = 8; i < size; ++i) tail |= std::uint64_t{std::to_integer<std::uint8_t>(m[i])} << (8 * (i - 8));
    EXPECT_EQ(siphash13_word_and_tail(reference_key(), word, tail, size),
              siphash13(reference_key(), std::span(m).first(size)))
        << size << " bytes";
  }
}

TEST(SipHash, Siphash13DiffersFromSiphash24) {
  auto m = counting_message();
  EXPECT_NE(siphash13(reference_key(), std::span(m).first(15)),
            siphash24(reference_key(), std::span(m).first(15)));
}

TEST(SipHash, DerivedKeysDependOnSecretAndPurpose) {
  SipKey a = SipKey::derive(1, kSipPurposeRouteCache);
  EXPECT_EQ(a, SipKey::derive(1, kSipPurposeRouteCache));
  EXPECT_NE(a, SipKey::derive(2, kSipPurposeRouteCache));
  EXPECT_NE(a, SipKey::derive(1, kSipPurposeTcpIsn));
  EXPECT_NE(SipKey::derive(1, kSipPurposeTcpIsn), SipKey::derive(1, kSipPurposeEphemeralPort));
}

}  // namespace core_siphash_test
}  // namespace
}  // namespace netns
