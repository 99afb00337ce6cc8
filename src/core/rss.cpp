// Receive side scaling in software: the Toeplitz hash as a NIC computes it.
#include "netns/rss.hpp"

#include <algorithm>
#include <cassert>
#include <optional>

#include "netns/wire/bytes.hpp"
#include "netns/wire/ethernet.hpp"
#include "netns/wire/ipv4.hpp"

namespace netns::rss {

namespace {

using wire::EtherType;
using wire::IpProtocol;
using wire::load_be16;

bool has_ports(std::uint8_t protocol) {
  return protocol == static_cast<std::uint8_t>(IpProtocol::tcp) || protocol == static_cast<std::uint8_t>(IpProtocol::udp);
}

// Where an Ethernet frame's network header starts and its ethertype, one
// 802.1Q tag looked through; empty for a truncated link header.
struct NetworkHeader {
  EtherType type;
  std::size_t at;
};

std::optional<NetworkHeader> network_header(std::span<const std::byte> frame) {
  constexpr std::size_t kEthernetHeader = 14;
  if (frame.size() < kEthernetHeader) return std::nullopt;
  const auto type = static_cast<EtherType>(load_be16(frame, 12));
  if (type != EtherType::vlan) return NetworkHeader{type, kEthernetHeader};
  if (frame.size() < kEthernetHeader + 4) return std::nullopt;
  return NetworkHeader{static_cast<EtherType>(load_be16(frame, 16)), kEthernetHeader + 4};
}

// The fields a NIC hashes, copied in order: addresses, then the ports when
// `ports_at` is within the frame.
std::uint32_t hash_fields(std::span<const std::byte> frame, std::size_t addresses_at, std::size_t address_bytes,
                          std::size_t ports_at, const Key& key) {
  std::array<std::byte, kKeySize - 4> input{};
  std::copy_n(frame.begin() + static_cast<std::ptrdiff_t>(addresses_at), 2 * address_bytes, input.begin());
  std::size_t size = 2 * address_bytes;
  if (ports_at + 4 <= frame.size()) {
    std::copy_n(frame.begin() + static_cast<std::ptrdiff_t>(ports_at), 4, input.begin() + size);
    size += 4;
  }
  return toeplitz(std::span(input).first(size), key);
}

std::uint32_t ipv4_hash(std::span<const std::byte> frame, std::size_t l3, const Key& key) {
  constexpr std::size_t kMinHeader = 20;
  if (frame.size() < l3 + kMinHeader) return 0;
  const auto first = std::to_integer<unsigned>(frame[l3]);
  const std::size_t header = (first & 0x0f) * 4u;
  if (first >> 4 != 4 || header < kMinHeader) return 0;
  const bool fragment = (load_be16(frame, l3 + 6) & 0x3fff) != 0;  // MF or an offset
  const auto protocol = std::to_integer<std::uint8_t>(frame[l3 + 9]);
  const std::size_t ports_at = !fragment && has_ports(protocol) ? l3 + header : frame.size();
  return hash_fields(frame, l3 + 12, 4, ports_at, key);
}

// Only a transport header right after the fixed header counts as one, as
// most NICs parse: a packet with extension headers hashes by its addresses.
std::uint32_t ipv6_hash(std::span<const std::byte> frame, std::size_t l3, const Key& key) {
  constexpr std::size_t kHeader = 40;
  if (frame.size() < l3 + kHeader || std::to_integer<unsigned>(frame[l3]) >> 4 != 6) return 0;
  const auto next = std::to_integer<std::uint8_t>(frame[l3 + 6]);
  const std::size_t ports_at = has_ports(next) ? l3 + kHeader : frame.size();
  return hash_fields(frame, l3 + 8, 16, ports_at, key);
}

void append_address(const IpAddress& a, std::array<std::byte, kKeySize - 4>& input, std::size_t& size) {
  if (a.is_v4()) {
    const std::uint32_t v = a.to_v4().value;
    for (int shift = 24; shift >= 0; shift -= 8) input[size++] = static_cast<std::byte>(v >> shift);
    return;
  }
  const Ipv6Address v6 = a.to_v6();  // bytes() is a view into it
  for (std::uint8_t octet : v6.bytes()) input[size++] = static_cast<std::byte>(octet);
}


// What each byte value contributes to the hash under kSymmetricKey. Its
// key repeats every 2 bytes, so the 32-bit windows of a byte's bits depend
// only on whether the byte's position is even or odd: two tables of 256
// replace the eight shifts per byte (a third of software RSS's time).
struct SymmetricTables {
  std::array<std::array<std::uint32_t, 256>, 2> by_parity{};
};

constexpr SymmetricTables make_symmetric_tables() {
  SymmetricTables t;
  for (std::size_t parity = 0; parity < 2; ++parity) {
    const std::uint64_t window = std::uint64_t{kSymmetricKey[parity]} << 32 |
                                 std::uint64_t{kSymmetricKey[parity + 1]} << 24 |
                                 std::uint64_t{kSymmetricKey[parity + 2]} << 16 |
                                 std::uint64_t{kSymmetricKey[parity + 3]} << 8 | kSymmetricKey[parity + 4];
    for (unsigned byte = 0; byte < 256; ++byte) {
      std::uint32_t h = 0;
      for (unsigned bit = 0; bit < 8; ++bit) {
        if (byte & (0x80u >> bit)) h ^= static_cast<std::uint32_t>(window >> (8 - bit));
      }
      t.by_parity[parity][byte] = h;
    }
  }
  return t;
}

constexpr SymmetricTables kSymmetricTables = make_symmetric_tables();

std::uint32_t toeplitz_symmetric(std::span<const std::byte> input) {
  std::uint32_t hash = 0;
  for (std::size_t i = 0; i < input.size(); ++i) {
    hash ^= kSymmetricTables.by_parity[i & 1][std::to_integer<unsigned>(input[i])];
  }
  return hash;
}

}  // namespace

std::uint32_t toeplitz(std::span<const std::byte> input, const Key& key) {
  assert(input.size() <= kKeySize - 4);
  if (&key == &kSymmetricKey || key == kSymmetricKey) return toeplitz_symmetric(input);
  std::uint32_t hash = 0;
  for (std::size_t i = 0; i < input.size(); ++i) {
    // Key bits 8i .. 8i+39: the 32-bit windows of this byte's eight bits.
    const std::uint64_t window = std::uint64_t{key[i]} << 32 | std::uint64_t{key[i + 1]} << 24 |
                                 std::uint64_t{key[i + 2]} << 16 | std::uint64_t{key[i + 3]} << 8 | key[i + 4];
    const auto byte = std::to_integer<unsigned>(input[i]);
    for (unsigned bit = 0; bit < 8; ++bit) {
      if (byte & (0x80u >> bit)) hash ^= static_cast<std::uint32_t>(window >> (8 - bit));
    }
  }
  return hash;
}

std::uint32_t flow_hash(const IpAddress& source, const IpAddress& destination, std::uint16_t source_port,
                        std::uint16_t destination_port, bool with_ports, const Key& key) {
  std::array<std::byte, kKeySize - 4> input{};
  std::size_t size = 0;
  append_address(source, input, size);
  append_address(destination, input, size);
  if (with_ports) {
    for (std::uint16_t port : {source_port, destination_port}) {
      input[size++] = static_cast<std::byte>(port >> 8);
      input[size++] = static_cast<std::byte>(port);
    }
  }
  return toeplitz(std::span(input).first(size), key);
}

bool is_neighbour_discovery(std::span<const std::byte> frame) {
  const auto l3 = network_header(frame);
  if (!l3) return false;
  if (l3->type == EtherType::arp) return true;
  if (l3->type != EtherType::ipv6 || frame.size() < l3->at + 41) return false;
  const auto icmp_type = std::to_integer<unsigned>(frame[l3->at + 40]);
  const auto next_header = std::to_integer<std::uint8_t>(frame[l3->at + 6]);
  return next_header == static_cast<std::uint8_t>(IpProtocol::icmpv6) && icmp_type >= 133 && icmp_type <= 137;
}

std::uint32_t frame_hash(std::span<const std::byte> frame, const Key& key) {
  const auto l3 = network_header(frame);
  if (!l3) return 0;
  if (l3->type == EtherType::ipv4) return ipv4_hash(frame, l3->at, key);
  if (l3->type == EtherType::ipv6) return ipv6_hash(frame, l3->at, key);
  return 0;
}

}  // namespace netns::rss
