// netns/wire/address.hpp — link and network addresses as regular values.
//
//   MacAddress mac{0x02, 0, 0, 0, 0, 1};
//   Ipv4Address a(10, 0, 0, 1);
//   auto b = Ipv4Address::parse("10.0.0.2");          // Result<Ipv4Address>
//   auto p = Ipv4Prefix::parse("10.0.0.1/24");        // address() 10.0.0.1, length() 24
//   p->network() == Ipv4Address(10, 0, 0, 0);
//   fmt::print("{} {} {}\n", mac, a, *p);             // 02:00:00:00:00:01 10.0.0.1 10.0.0.1/24
//
// All are comparable, hashable (std::hash) and fmt-formattable.
//
// They live in wire/, the bottom layer, because the header views read and
// write them and wire/ depends on nothing above it (smoltcp's wire owns its
// addresses too); their code is src/wire/address.cpp. The IPv6 types
// (Ipv6Address, Ipv6Prefix) and the family-neutral IpAddress belong here as
// well, beside Endpoint, which will carry an IpAddress. Users include
// netns/address.hpp or netns/netns.hpp, which forward here.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "netns/result.hpp"

namespace netns {

struct MacAddress {
  std::array<std::uint8_t, 6> octets{};

  constexpr MacAddress() = default;
  constexpr MacAddress(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d,
                       std::uint8_t e, std::uint8_t f)
      : octets{a, b, c, d, e, f} {}

  static constexpr MacAddress broadcast() { return {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}; }
  // "02:00:5e:10:00:01"; invalid_argument on anything else.
  [[nodiscard]] static Result<MacAddress> parse(std::string_view text);

  constexpr bool is_broadcast() const { return *this == broadcast(); }
  constexpr bool is_multicast() const { return (octets[0] & 0x01) != 0; }
  constexpr bool is_unicast() const { return !is_multicast(); }
  constexpr bool is_zero() const { return *this == MacAddress{}; }
  std::string to_string() const;

  friend constexpr auto operator<=>(const MacAddress&, const MacAddress&) = default;
};

struct Ipv4Address {
  std::uint32_t value = 0;  // host byte order: 10.0.0.1 is 0x0a000001

  constexpr Ipv4Address() = default;
  constexpr explicit Ipv4Address(std::uint32_t host_order) : value(host_order) {}
  constexpr Ipv4Address(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d)
      : value(std::uint32_t{a} << 24 | std::uint32_t{b} << 16 | std::uint32_t{c} << 8 | d) {}

  static constexpr Ipv4Address any() { return Ipv4Address{}; }
  static constexpr Ipv4Address broadcast() { return Ipv4Address{0xffffffffu}; }
  static constexpr Ipv4Address loopback() { return Ipv4Address{127, 0, 0, 1}; }
  // Dotted quad, four decimal octets 0..255 without sign, spaces or leading zeros ("010"
  // would be octal to inet_aton; inet_pton rejects it too); invalid_argument otherwise.
  [[nodiscard]] static Result<Ipv4Address> parse(std::string_view text);

  constexpr bool is_unspecified() const { return value == 0; }
  constexpr bool is_broadcast() const { return value == 0xffffffffu; }
  constexpr bool is_loopback() const { return (value >> 24) == 127; }
  constexpr bool is_multicast() const { return (value >> 28) == 0xe; }
  std::string to_string() const;

  friend constexpr auto operator<=>(const Ipv4Address&, const Ipv4Address&) = default;
};

// An address with a prefix length, as `ip addr` writes it: 10.0.0.1/24.
struct Ipv4Prefix {
  constexpr Ipv4Prefix() = default;
  // Precondition: length <= 32 (parse() checks it for text input).
  constexpr Ipv4Prefix(Ipv4Address address, std::uint8_t length)
      : address_(address), length_(length) {}

  // "A.B.C.D/N" with N in 0..32, or "A.B.C.D" meaning /32; invalid_argument otherwise.
  [[nodiscard]] static Result<Ipv4Prefix> parse(std::string_view text);
  [[nodiscard]] static Result<Ipv4Prefix> make(Ipv4Address address, unsigned length);

  constexpr Ipv4Address address() const { return address_; }
  constexpr std::uint8_t length() const { return length_; }
  constexpr std::uint32_t mask() const {
    return length_ == 0 ? 0 : ~std::uint32_t{0} << (32 - length_);
  }
  constexpr Ipv4Address network() const { return Ipv4Address{address_.value & mask()}; }
  constexpr Ipv4Address broadcast() const { return Ipv4Address{address_.value | ~mask()}; }
  constexpr bool contains(Ipv4Address a) const { return (a.value & mask()) == network().value; }
  std::string to_string() const;

  friend constexpr auto operator<=>(const Ipv4Prefix&, const Ipv4Prefix&) = default;

 private:
  Ipv4Address address_{};
  std::uint8_t length_ = 0;
};

struct Endpoint {
  Ipv4Address address;
  std::uint16_t port = 0;
  std::string to_string() const;
  friend constexpr auto operator<=>(const Endpoint&, const Endpoint&) = default;
};

}  // namespace netns

template <>
struct std::hash<netns::MacAddress> {
  std::size_t operator()(const netns::MacAddress& m) const noexcept {
    std::uint64_t v = 0;
    for (auto o : m.octets) v = v << 8 | o;
    return std::hash<std::uint64_t>{}(v);
  }
};
template <>
struct std::hash<netns::Ipv4Address> {
  std::size_t operator()(const netns::Ipv4Address& a) const noexcept {
    return std::hash<std::uint32_t>{}(a.value);
  }
};
template <>
struct std::hash<netns::Ipv4Prefix> {
  std::size_t operator()(const netns::Ipv4Prefix& p) const noexcept {
    return std::hash<std::uint64_t>{}(std::uint64_t{p.address().value} << 8 | p.length());
  }
};
template <>
struct std::hash<netns::Endpoint> {
  std::size_t operator()(const netns::Endpoint& e) const noexcept {
    return std::hash<std::uint64_t>{}(std::uint64_t{e.address.value} << 16 | e.port);
  }
};

// fmt support: fmt::format("{}", Ipv4Address(10, 0, 0, 1)) == "10.0.0.1".
#define NETNS_FORMAT_AS_STRING(T)                                              \
  template <>                                                                  \
  struct fmt::formatter<T> : fmt::formatter<std::string_view> {                \
    template <class Ctx>                                                       \
    auto format(const T& v, Ctx& ctx) const {                                  \
      return fmt::formatter<std::string_view>::format(v.to_string(), ctx);     \
    }                                                                          \
  };
NETNS_FORMAT_AS_STRING(netns::MacAddress)
NETNS_FORMAT_AS_STRING(netns::Ipv4Address)
NETNS_FORMAT_AS_STRING(netns::Ipv4Prefix)
NETNS_FORMAT_AS_STRING(netns::Endpoint)
#undef NETNS_FORMAT_AS_STRING
