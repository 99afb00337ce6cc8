// Receive side scaling in software: Microsoft's verification vectors, the
// symmetric key's promise, and frames hashed as a NIC hashes them.
#include "netns/rss.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace netns {
namespace {
namespace core_rss_test {

// The key of Microsoft's RSS verification suite ("Verifying the RSS Hash
// Calculation"), whose expected hashes every NIC vendor tests against.
constexpr rss::Key kMicrosoftKey = {0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
                                    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
                                    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

IpAddress ip(std::string_view text) { return IpAddress::parse(text).value(); }

TEST(RssTest, MicrosoftsIpv4Vectors) {
  // source, destination, ports: the expected hash with and without ports.
  EXPECT_EQ(rss::flow_hash(ip("66.9.149.187"), ip("161.142.100.80"), 2794, 1766, true, kMicrosoftKey), 0x51ccc178u);
  EXPECT_EQ(rss::flow_hash(ip("66.9.149.187"), ip("161.142.100.80"), 0, 0, false, kMicrosoftKey), 0x323e8fc2u);
  EXPECT_EQ(rss::flow_hash(ip("199.92.111.2"), ip("65.69.140.83"), 14230, 4739, true, kMicrosoftKey), 0xc626b0eau);
  EXPECT_EQ(rss::flow_hash(ip("199.92.111.2"), ip("65.69.140.83"), 0, 0, false, kMicrosoftKey), 0xd718262au);
}

TEST(RssTest, MicrosoftsIpv6Vectors) {
  const auto src = ip("3ffe:2501:200:1fff::7"), dst = ip("3ffe:2501:200:3::1");
  EXPECT_EQ(rss::flow_hash(src, dst, 2794, 1766, true, kMicrosoftKey), 0x40207d3du);
  EXPECT_EQ(rss::flow_hash(src, dst, 0, 0, false, kMicrosoftKey), 0x2cc18cd5u);
  const auto src2 = ip("3ffe:501:8::260:97ff:fe40:efab"), dst2 = ip("ff02::1");
  EXPECT_EQ(rss::flow_hash(src2, dst2, 14230, 4739, true, kMicrosoftKey), 0xdde51bbfu);
  EXPECT_EQ(rss::flow_hash(src2, dst2, 0, 0, false, kMicrosoftKey), 0x0f0c461cu);
}

TEST(RssTest, TheSymmetricKeyGivesRepliesTheHashOfRequests) {
  const std::pair<const char*, const char*> pairs[] = {
      {"192.0.2.1", "198.51.100.7"}, {"10.1.2.3", "10.200.0.9"}, {"2001:db8::1", "2001:db8:ff::42"}};
  for (auto [a, b] : pairs) {
    for (std::uint16_t port = 1; port < 2000; port += 37) {
      EXPECT_EQ(rss::flow_hash(ip(a), ip(b), port, 443, true), rss::flow_hash(ip(b), ip(a), 443, port, true));
    }
    EXPECT_EQ(rss::flow_hash(ip(a), ip(b), 0, 0, false), rss::flow_hash(ip(b), ip(a), 0, 0, false));
  }
}

// The specification's loop, bit by bit, to check the tables that the
// symmetric key's hash takes.
std::uint32_t reference_toeplitz(std::span<const std::byte> input, const rss::Key& key) {
  std::uint32_t hash = 0;
  for (std::size_t bit = 0; bit < input.size() * 8; ++bit) {
    if ((std::to_integer<unsigned>(input[bit / 8]) >> (7 - bit % 8) & 1) == 0) continue;
    std::uint32_t window = 0;
    for (std::size_t k = 0; k < 32; ++k) {
      const std::size_t at = bit + k;
      window = window << 1 | (key[at / 8] >> (7 - at % 8) & 1u);
    }
    hash ^= window;
  }
  return hash;
}

TEST(RssTest, TheSymmetricKeysTablesAgreeWithTheSpecification) {
  std::uint64_t state = 0x9e3779b97f4a7c15u;
  for (int round = 0; round < 200; ++round) {
    std::array<std::byte, 36> input{};
    for (auto& b : input) {
      state = state * 6364136223846793005u + 1442695040888963407u;
      b = static_cast<std::byte>(state >> 56);
    }
    const std::size_t size = static_cast<std::size_t>(round % 37);
    const auto in = std::span<const std::byte>(input).first(size);
    EXPECT_EQ(rss::toeplitz(in), reference_toeplitz(in, rss::kSymmetricKey)) << "size " << size;
    EXPECT_EQ(rss::toeplitz(in, kMicrosoftKey), reference_toeplitz(in, kMicrosoftKey)) << "size " << size;
  }
}

TEST(RssTest, QueuesFollowTheIndirectionTableNetnsWrites) {
  for (std::uint32_t hash : {0u, 1u, 127u, 128u, 0xdeadbeefu}) {
    EXPECT_EQ(rss::queue_of(hash, 1), 0);
    EXPECT_EQ(rss::queue_of(hash, 3), (hash % 128) % 3);
  }
  // A spread of flows covers every queue.
  std::vector<int> seen(4);
  for (std::uint16_t port = 1024; port < 1024 + 64; ++port) {
    ++seen[rss::queue_of(rss::flow_hash(ip("192.0.2.1"), ip("198.51.100.1"), port, 80, true), 4)];
  }
  for (int n : seen) EXPECT_GT(n, 0);
}

// An Ethernet frame carrying an IPv4 (or IPv6) header and, for TCP and UDP,
// its ports.
std::vector<std::byte> frame(bool ipv6, std::uint8_t protocol, bool vlan = false, std::uint16_t frag = 0) {
  std::vector<std::uint8_t> f(12, 0xaa);
  if (vlan) f.insert(f.end(), {0x81, 0x00, 0x00, 0x07});
  if (!ipv6) {
    f.insert(f.end(), {0x08, 0x00, 0x45, 0, 0, 40, 0, 0, static_cast<std::uint8_t>(frag >> 8),
                       static_cast<std::uint8_t>(frag), 64, protocol, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7});
  } else {
    f.insert(f.end(), {0x86, 0xdd, 0x60, 0, 0, 0, 0, 20, protocol, 64});
    const std::uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const std::uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42};
    f.insert(f.end(), a, a + 16);
    f.insert(f.end(), b, b + 16);
  }
  f.insert(f.end(), {0x04, 0xd2, 0x01, 0xbb, 0, 0, 0, 0});  // ports 1234 -> 443
  std::vector<std::byte> out(f.size());
  std::memcpy(out.data(), f.data(), f.size());
  return out;
}

TEST(RssTest, FramesHashTheirAddressesAndForTcpAndUdpTheirPorts) {
  const auto with_ports4 = rss::flow_hash(ip("192.0.2.1"), ip("198.51.100.7"), 1234, 443, true);
  const auto without4 = rss::flow_hash(ip("192.0.2.1"), ip("198.51.100.7"), 0, 0, false);
  EXPECT_EQ(rss::frame_hash(frame(false, 6)), with_ports4);
  EXPECT_EQ(rss::frame_hash(frame(false, 17)), with_ports4);
  EXPECT_EQ(rss::frame_hash(frame(false, 6, true)), with_ports4) << "one 802.1Q tag is looked through";
  EXPECT_EQ(rss::frame_hash(frame(false, 1)), without4) << "ICMP: addresses only";
  EXPECT_EQ(rss::frame_hash(frame(false, 17, false, 0x2000)), without4) << "a first fragment: addresses only";
  EXPECT_EQ(rss::frame_hash(frame(false, 17, false, 0x0010)), without4) << "a later fragment: addresses only";
  const auto with_ports6 = rss::flow_hash(ip("2001:db8::1"), ip("2001:db8:ff::42"), 1234, 443, true);
  EXPECT_EQ(rss::frame_hash(frame(true, 6)), with_ports6);
  EXPECT_EQ(rss::frame_hash(frame(true, 0)), rss::flow_hash(ip("2001:db8::1"), ip("2001:db8:ff::42"), 0, 0, false))
      << "an extension header first: addresses only";
}

TEST(RssTest, ArpAndNeighbourDiscoveryAreToldApart) {
  auto arp = frame(false, 6);
  arp[12] = std::byte{0x08};
  arp[13] = std::byte{0x06};
  EXPECT_TRUE(rss::is_neighbour_discovery(arp));
  EXPECT_FALSE(rss::is_neighbour_discovery(frame(false, 6)));
  EXPECT_FALSE(rss::is_neighbour_discovery(frame(true, 6)));
  for (unsigned type : {133u, 135u, 136u, 137u, 128u}) {
    auto nd = frame(true, 58);
    nd[14 + 40] = static_cast<std::byte>(type);
    EXPECT_EQ(rss::is_neighbour_discovery(nd), type != 128) << type;
  }
  EXPECT_FALSE(rss::is_neighbour_discovery({}));
}

TEST(RssTest, AnythingElseHashesToZero) {
  auto arp = frame(false, 6);
  arp[12] = std::byte{0x08};
  arp[13] = std::byte{0x06};
  EXPECT_EQ(rss::frame_hash(arp), 0u);
  auto truncated = frame(false, 6);
  truncated.resize(20);
  EXPECT_EQ(rss::frame_hash(truncated), 0u);
  EXPECT_EQ(rss::frame_hash({}), 0u);
  auto bad_version = frame(false, 6);
  bad_version[14] = std::byte{0x65};
  EXPECT_EQ(rss::frame_hash(bad_version), 0u);
}

}  // namespace core_rss_test
}  // namespace
}  // namespace netns
