// netns/wire/address.hpp — link and network addresses as regular values.
//
//   MacAddress mac{0x02, 0, 0, 0, 0, 1};
//   Ipv4Address a(10, 0, 0, 1);
//   auto b = Ipv4Address::parse("10.0.0.2");          // Result<Ipv4Address>
//   auto p = Ipv4Prefix::parse("10.0.0.1/24");        // address() 10.0.0.1, length() 24
//   p->network() == Ipv4Address(10, 0, 0, 0);
//   Ipv6Address c(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);   // 2001:db8::1
//   auto d = Ipv6Address::parse("fe80::1%3");         // link-local, scope id 3 (an ifindex)
//   IpAddress e = a;                                  // either family, as asio::ip::address
//   Endpoint ep{c, 80};                               // "[2001:db8::1]:80"
//   fmt::print("{} {} {}\n", mac, a, *p);             // 02:00:00:00:00:01 10.0.0.1 10.0.0.1/24
//
// All are comparable, hashable (std::hash) and fmt-formattable.
//
// They live in wire/, the bottom layer, because the header views read and
// write them and wire/ depends on nothing above it (smoltcp's wire owns its
// addresses too); their code is src/wire/address.cpp. Users include
// netns/address.hpp or netns/netns.hpp, which forward here.
#pragma once

#include <array>
#include <bit>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>

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

enum class Family : std::uint8_t { ipv4, ipv6 };

// An IPv6 address (RFC 4291) and, for a link-local or other scoped address,
// the interface it belongs to: scope_id() is an ifindex, 0 for none (as
// sin6_scope_id and asio::ip::address_v6). The scope takes part in
// comparison and hashing, as in asio: fe80::1%2 and fe80::1%3 are different
// endpoints.
struct Ipv6Address {
  using Bytes = std::array<std::uint8_t, 16>;

  constexpr Ipv6Address() = default;
  // Eight 16-bit groups, as written: Ipv6Address(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).
  constexpr Ipv6Address(std::uint16_t a, std::uint16_t b, std::uint16_t c, std::uint16_t d,
                        std::uint16_t e, std::uint16_t f, std::uint16_t g, std::uint16_t h,
                        std::uint32_t scope_id = 0)
      : bytes_{hi(a), lo(a), hi(b), lo(b), hi(c), lo(c), hi(d), lo(d),
               hi(e), lo(e), hi(f), lo(f), hi(g), lo(g), hi(h), lo(h)},
        scope_id_(scope_id) {}
  // Sixteen bytes in network order.
  constexpr explicit Ipv6Address(const Bytes& bytes, std::uint32_t scope_id = 0)
      : bytes_(bytes), scope_id_(scope_id) {}

  static constexpr Ipv6Address any() { return Ipv6Address{}; }
  static constexpr Ipv6Address loopback() { return Ipv6Address(0, 0, 0, 0, 0, 0, 0, 1); }
  // ::ffff:a.b.c.d, how a dual-stack socket sees an IPv4 peer (RFC 4291 2.5.5.2).
  static constexpr Ipv6Address v4_mapped(Ipv4Address v4) {
    Bytes b{};
    b[10] = b[11] = 0xff;
    b[12] = static_cast<std::uint8_t>(v4.value >> 24);
    b[13] = static_cast<std::uint8_t>(v4.value >> 16);
    b[14] = static_cast<std::uint8_t>(v4.value >> 8);
    b[15] = static_cast<std::uint8_t>(v4.value);
    return Ipv6Address{b};
  }
  // Every form of RFC 4291 section 2.2 ("2001:db8::1", "::", "::ffff:192.0.2.1",
  // full eight groups), hex case-insensitive, optionally followed by
  // "%N" with N a decimal scope id (an ifindex, 1..2^32-1); invalid_argument
  // otherwise (a second "::", a group over four digits, nine groups...).
  [[nodiscard]] static Result<Ipv6Address> parse(std::string_view text);

  constexpr const Bytes& bytes() const { return bytes_; }
  constexpr std::uint32_t scope_id() const { return scope_id_; }
  constexpr Ipv6Address with_scope(std::uint32_t scope_id) const { return Ipv6Address{bytes_, scope_id}; }
  // Group i (0..7) in host order.
  constexpr std::uint16_t group(int i) const {
    return static_cast<std::uint16_t>(bytes_[2 * i] << 8 | bytes_[2 * i + 1]);
  }
  // The high and low 64 bits in host order: what prefix arithmetic and the
  // FIB work on.
  constexpr std::uint64_t high() const { return half(0); }
  constexpr std::uint64_t low() const { return half(8); }

  constexpr bool is_unspecified() const { return high() == 0 && low() == 0; }
  constexpr bool is_loopback() const { return high() == 0 && low() == 1; }
  constexpr bool is_multicast() const { return bytes_[0] == 0xff; }
  constexpr bool is_link_local() const { return bytes_[0] == 0xfe && (bytes_[1] & 0xc0) == 0x80; }
  constexpr bool is_v4_mapped() const { return high() == 0 && (low() >> 32) == 0xffff; }
  // The IPv4 address of ::ffff:a.b.c.d; 0.0.0.0 for any other.
  constexpr Ipv4Address to_v4_mapped() const {
    return is_v4_mapped() ? Ipv4Address{static_cast<std::uint32_t>(low())} : Ipv4Address{};
  }
  // ff02::1:ffXX:XXXX, where a neighbour solicitation for this address goes (RFC 4291 2.7.1).
  constexpr Ipv6Address solicited_node() const {
    return Ipv6Address(0xff02, 0, 0, 0, 0, 1, static_cast<std::uint16_t>(0xff00 | bytes_[13]),
                       static_cast<std::uint16_t>(bytes_[14] << 8 | bytes_[15]));
  }
  // RFC 5952 text: lower case, leading zeros suppressed, the longest run of
  // two or more zero groups (the first of equals) as "::", ::ffff:a.b.c.d
  // for mapped addresses; "%N" when scoped.
  std::string to_string() const;

  friend constexpr auto operator<=>(const Ipv6Address&, const Ipv6Address&) = default;

 private:
  static constexpr std::uint8_t hi(std::uint16_t g) { return static_cast<std::uint8_t>(g >> 8); }
  static constexpr std::uint8_t lo(std::uint16_t g) { return static_cast<std::uint8_t>(g); }
  // One load and a byte swap on the packet path (a byte-by-byte loop is
  // what the compiler otherwise emits, with stalls); the loop at compile time.
  constexpr std::uint64_t half(int at) const {
    if (std::is_constant_evaluated()) {
      std::uint64_t v = 0;
      for (int i = at; i < at + 8; ++i) v = v << 8 | bytes_[i];
      return v;
    }
    std::uint64_t v;
    std::memcpy(&v, bytes_.data() + at, sizeof v);
    if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
    return v;
  }

  Bytes bytes_{};
  std::uint32_t scope_id_ = 0;
};

// An IPv6 address with a prefix length, as `ip -6 addr` writes it: 2001:db8::1/64.
struct Ipv6Prefix {
  constexpr Ipv6Prefix() = default;
  // Precondition: length <= 128 (parse() and make() check it).
  constexpr Ipv6Prefix(Ipv6Address address, std::uint8_t length) : address_(address), length_(length) {}

  // "ADDR/N" with N in 0..128, or "ADDR" meaning /128; invalid_argument otherwise.
  [[nodiscard]] static Result<Ipv6Prefix> parse(std::string_view text);
  [[nodiscard]] static Result<Ipv6Prefix> make(Ipv6Address address, unsigned length);

  constexpr Ipv6Address address() const { return address_; }
  constexpr std::uint8_t length() const { return length_; }
  // The address with every bit past the length cleared (scope kept).
  constexpr Ipv6Address network() const {
    Ipv6Address::Bytes b = address_.bytes();
    for (int i = 0; i < 16; ++i) {
      const int keep = static_cast<int>(length_) - 8 * i;
      if (keep <= 0) b[i] = 0;
      else if (keep < 8) b[i] = static_cast<std::uint8_t>(b[i] & (0xff00 >> keep));
    }
    return Ipv6Address{b, address_.scope_id()};
  }
  // Whether `a`'s first length() bits are the prefix's (scopes ignored).
  constexpr bool contains(const Ipv6Address& a) const {
    return Ipv6Prefix{a, length_}.network().bytes() == network().bytes();
  }
  std::string to_string() const;

  friend constexpr auto operator<=>(const Ipv6Prefix&, const Ipv6Prefix&) = default;

 private:
  Ipv6Address address_{};
  std::uint8_t length_ = 0;
};

// An address of either family, as asio::ip::address: made implicitly from
// either, asked which it is. The default is 0.0.0.0.
class IpAddress {
 public:
  constexpr IpAddress() = default;
  constexpr IpAddress(Ipv4Address v4) : v4_(v4) {}  // NOLINT: implicit, as asio's
  constexpr IpAddress(Ipv6Address v6) : family_(Family::ipv6), v6_(v6) {}  // NOLINT

  // An IPv4 dotted quad or an IPv6 text (with its scope); invalid_argument otherwise.
  [[nodiscard]] static Result<IpAddress> parse(std::string_view text);

  constexpr Family family() const { return family_; }
  constexpr bool is_v4() const { return family_ == Family::ipv4; }
  constexpr bool is_v6() const { return family_ == Family::ipv6; }
  // Precondition: is_v4() (is_v6()); the other family's reads as its unspecified address.
  constexpr Ipv4Address to_v4() const { return v4_; }
  constexpr Ipv6Address to_v6() const { return v6_; }
  constexpr bool is_unspecified() const { return is_v4() ? v4_.is_unspecified() : v6_.is_unspecified(); }
  constexpr bool is_loopback() const { return is_v4() ? v4_.is_loopback() : v6_.is_loopback(); }
  constexpr bool is_multicast() const { return is_v4() ? v4_.is_multicast() : v6_.is_multicast(); }
  std::string to_string() const { return is_v4() ? v4_.to_string() : v6_.to_string(); }

  // Ordered by family, then address; an IPv4 address compares equal to the
  // IpAddress holding it (through the implicit conversion).
  friend constexpr auto operator<=>(const IpAddress&, const IpAddress&) = default;

 private:
  Family family_ = Family::ipv4;
  Ipv4Address v4_{};
  Ipv6Address v6_{};
};

struct Endpoint {
  IpAddress address;
  std::uint16_t port = 0;
  constexpr Family family() const { return address.family(); }
  // "10.0.0.1:80", "[2001:db8::1]:80", "[fe80::1%2]:80".
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
struct std::hash<netns::Ipv6Address> {
  std::size_t operator()(const netns::Ipv6Address& a) const noexcept {
    std::uint64_t h = a.high() * 0x9e3779b97f4a7c15u ^ a.low();
    h = (h ^ (h >> 31)) * 0xbf58476d1ce4e5b9u ^ a.scope_id();
    return std::hash<std::uint64_t>{}(h ^ (h >> 29));
  }
};
template <>
struct std::hash<netns::Ipv6Prefix> {
  std::size_t operator()(const netns::Ipv6Prefix& p) const noexcept {
    return std::hash<netns::Ipv6Address>{}(p.address()) * 31 + p.length();
  }
};
template <>
struct std::hash<netns::IpAddress> {
  std::size_t operator()(const netns::IpAddress& a) const noexcept {
    return a.is_v4() ? std::hash<netns::Ipv4Address>{}(a.to_v4()) : std::hash<netns::Ipv6Address>{}(a.to_v6());
  }
};
template <>
struct std::hash<netns::Endpoint> {
  std::size_t operator()(const netns::Endpoint& e) const noexcept {
    return std::hash<netns::IpAddress>{}(e.address) * 0x9e3779b97f4a7c15u ^ e.port;
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
NETNS_FORMAT_AS_STRING(netns::Ipv6Address)
NETNS_FORMAT_AS_STRING(netns::Ipv6Prefix)
NETNS_FORMAT_AS_STRING(netns::IpAddress)
NETNS_FORMAT_AS_STRING(netns::Endpoint)
#undef NETNS_FORMAT_AS_STRING
