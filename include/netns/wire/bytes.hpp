// netns/wire/bytes.hpp — big-endian field loads and stores for the wire views.
//
// Every header view reads its fields through these functions instead of
// casting a struct over the buffer, so alignment, padding and host byte order
// never matter:
//
//   std::uint16_t ethertype = load_be16(frame, 12);
//   store_be32(segment, 4, seq);
//   Ipv4Address dst = load_ipv4(packet, 16);
//   constexpr auto frame = byte_array({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...});
//
// Bounds: the caller guarantees `at + width <= bytes.size()`; the views check
// lengths once in `checked()` so their accessors meet this. Debug builds
// assert it.
#pragma once

#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>

#include "netns/wire/address.hpp"

namespace netns::wire {

constexpr std::uint8_t load_u8(std::span<const std::byte> bytes, std::size_t at) {
  assert(at < bytes.size());
  return static_cast<std::uint8_t>(bytes[at]);
}

constexpr std::uint16_t load_be16(std::span<const std::byte> bytes, std::size_t at) {
  assert(at + 2 <= bytes.size());
  return static_cast<std::uint16_t>(std::to_integer<unsigned>(bytes[at]) << 8 |
                                    std::to_integer<unsigned>(bytes[at + 1]));
}

constexpr std::uint32_t load_be32(std::span<const std::byte> bytes, std::size_t at) {
  assert(at + 4 <= bytes.size());
  return std::uint32_t{load_be16(bytes, at)} << 16 | load_be16(bytes, at + 2);
}

constexpr void store_u8(std::span<std::byte> bytes, std::size_t at, std::uint8_t value) {
  assert(at < bytes.size());
  bytes[at] = std::byte{value};
}

constexpr void store_be16(std::span<std::byte> bytes, std::size_t at, std::uint16_t value) {
  assert(at + 2 <= bytes.size());
  bytes[at] = static_cast<std::byte>(value >> 8);
  bytes[at + 1] = static_cast<std::byte>(value);
}

constexpr void store_be32(std::span<std::byte> bytes, std::size_t at, std::uint32_t value) {
  store_be16(bytes, at, static_cast<std::uint16_t>(value >> 16));
  store_be16(bytes, at + 2, static_cast<std::uint16_t>(value));
}

constexpr MacAddress load_mac(std::span<const std::byte> bytes, std::size_t at) {
  assert(at + 6 <= bytes.size());
  MacAddress mac;
  for (std::size_t i = 0; i < mac.octets.size(); ++i) mac.octets[i] = load_u8(bytes, at + i);
  return mac;
}

constexpr void store_mac(std::span<std::byte> bytes, std::size_t at, const MacAddress& mac) {
  assert(at + 6 <= bytes.size());
  for (std::size_t i = 0; i < mac.octets.size(); ++i) store_u8(bytes, at + i, mac.octets[i]);
}

constexpr Ipv4Address load_ipv4(std::span<const std::byte> bytes, std::size_t at) {
  return Ipv4Address{load_be32(bytes, at)};
}

constexpr void store_ipv4(std::span<std::byte> bytes, std::size_t at, Ipv4Address address) {
  store_be32(bytes, at, address.value);
}

constexpr Ipv6Address load_ipv6(std::span<const std::byte> bytes, std::size_t at) {
  assert(at + 16 <= bytes.size());
  Ipv6Address::Bytes b{};
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = load_u8(bytes, at + i);
  return Ipv6Address{b};
}

// The scope id is not on the wire: only the 16 bytes are stored.
constexpr void store_ipv6(std::span<std::byte> bytes, std::size_t at, const Ipv6Address& address) {
  assert(at + 16 <= bytes.size());
  for (std::size_t i = 0; i < 16; ++i) store_u8(bytes, at + i, address.bytes()[i]);
}

// Packet bytes spelled as integers, e.g. golden frames in tests.
template <std::size_t N>
constexpr std::array<std::byte, N> byte_array(const std::uint8_t (&values)[N]) {
  std::array<std::byte, N> bytes{};
  for (std::size_t i = 0; i < N; ++i) bytes[i] = std::byte{values[i]};
  return bytes;
}

}  // namespace netns::wire
