#include "netns/wire/checksum.hpp"

#include <array>
#include <bit>
#include <cassert>
#include <cstring>

#include "netns/wire/bytes.hpp"
#include "netns/wire/ipv4.hpp"
#include "netns/wire/ipv6.hpp"
#include "netns/wire/ipv6_ext.hpp"

namespace netns::wire {
namespace {

std::uint16_t fold(std::uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

}  // namespace

void Checksum::add(std::span<const std::byte> bytes) {
  const std::byte* p = bytes.data();
  std::size_t n = bytes.size();
  if (odd_ && n > 0) {
    sum_ += std::to_integer<std::uint64_t>(*p);
    odd_ = false;
    ++p;
    --n;
  }
  // Eight bytes at a time: as big-endian, they are two 32-bit sums of 16-bit
  // words, and one's-complement addition folds 2^32 back to 1 like 2^16.
  while (n >= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, sizeof v);
    if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
    sum_ += (v >> 32) + (v & 0xffffffffu);
    p += 8;
    n -= 8;
  }
  for (; n >= 2; p += 2, n -= 2) {
    sum_ += std::to_integer<std::uint64_t>(p[0]) << 8 | std::to_integer<std::uint64_t>(p[1]);
  }
  if (n == 1) {
    sum_ += std::to_integer<std::uint64_t>(p[0]) << 8;
    odd_ = true;
  }
}

void Checksum::add_odd_be16(std::uint16_t value) {
  // After an odd byte the word straddles two: feed it as bytes.
  const std::array<std::byte, 2> bytes{std::byte(value >> 8), std::byte(value & 0xff)};
  add(bytes);
}

std::uint16_t Checksum::sum() const { return fold(sum_); }

std::uint16_t internet_checksum(std::span<const std::byte> bytes) {
  Checksum c;
  c.add(bytes);
  return c.finish();
}

Checksum ipv4_pseudo_header(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol,
                            std::uint16_t length) {
  Checksum c;
  c.add_be32(src.value);
  c.add_be32(dst.value);
  c.add_be16(protocol);
  c.add_be16(length);
  return c;
}

std::uint16_t ipv4_transport_checksum(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol,
                                      std::span<const std::byte> segment) {
  assert(segment.size() <= 0xffff);
  Checksum c = ipv4_pseudo_header(src, dst, protocol, static_cast<std::uint16_t>(segment.size()));
  c.add(segment);
  return c.finish();
}

Checksum ipv6_pseudo_header(const Ipv6Address& src, const Ipv6Address& dst, std::uint8_t next_header,
                            std::uint32_t length) {
  Checksum c;
  for (int i = 0; i < 8; ++i) c.add_be16(src.group(i));
  for (int i = 0; i < 8; ++i) c.add_be16(dst.group(i));
  c.add_be32(length);
  c.add_be16(next_header);
  return c;
}

std::uint16_t ipv6_transport_checksum(const Ipv6Address& src, const Ipv6Address& dst, std::uint8_t next_header,
                                      std::span<const std::byte> segment) {
  Checksum c = ipv6_pseudo_header(src, dst, next_header, static_cast<std::uint32_t>(segment.size()));
  c.add(segment);
  return c.finish();
}

std::uint16_t checksum_update(std::uint16_t checksum, std::uint16_t old_word,
                              std::uint16_t new_word) {
  const std::uint64_t sum = std::uint16_t(~checksum) + std::uint64_t{std::uint16_t(~old_word)} +
                            new_word;
  return static_cast<std::uint16_t>(~fold(sum));
}

namespace {

// Where the checksum sits in a transport header; 0 for a protocol without one here.
std::size_t checksum_field(std::uint8_t protocol) {
  switch (static_cast<IpProtocol>(protocol)) {
    case IpProtocol::tcp: return 16;
    case IpProtocol::udp: return 6;
    case IpProtocol::icmpv6: return 2;
    default: return 0;
  }
}

void store_checksum(std::span<std::byte> segment, std::size_t field, std::uint8_t protocol, std::uint16_t sum) {
  if (protocol == static_cast<std::uint8_t>(IpProtocol::udp) && sum == 0) sum = 0xffff;  // RFC 768: 0 means none
  store_be16(segment, field, sum);
}

void fill_ipv4(std::span<std::byte> ip_packet) {
  auto ip = Ipv4MutView::checked(ip_packet);
  if (!ip) return;
  const auto protocol = static_cast<std::uint8_t>(ip->protocol());
  const std::size_t field = checksum_field(protocol);
  const auto segment = ip->payload();
  if (field == 0 || protocol == static_cast<std::uint8_t>(IpProtocol::icmpv6) || segment.size() < field + 2) return;
  store_be16(segment, field, 0);
  store_checksum(segment, field, protocol, ipv4_transport_checksum(ip->src(), ip->dst(), protocol, segment));
}

// Past the extension headers to the upper layer's; a non-first fragment
// carries no transport header.
void fill_ipv6(std::span<std::byte> ip_packet) {
  auto ip = Ipv6View::checked(ip_packet);
  if (!ip) return;
  auto upper = skip_extension_headers(ip->bytes(), Ipv6View::kHeaderLen, ip->next_header());
  if (!upper || (upper->frag_off & 0xfff8) != 0 || upper->offset > ip->bytes().size()) return;
  const std::size_t field = checksum_field(upper->next_header);
  const auto segment = ip_packet.subspan(upper->offset, ip->bytes().size() - upper->offset);
  if (field == 0 || segment.size() < field + 2) return;
  store_be16(segment, field, 0);
  store_checksum(segment, field, upper->next_header,
                 ipv6_transport_checksum(ip->src(), ip->dst(), upper->next_header, segment));
}

}  // namespace

void fill_transport_checksum(std::span<std::byte> ip_packet) {
  if (ip_packet.empty()) return;
  if ((std::to_integer<unsigned>(ip_packet[0]) >> 4) == 6) {
    fill_ipv6(ip_packet);
  } else {
    fill_ipv4(ip_packet);
  }
}

}  // namespace netns::wire
