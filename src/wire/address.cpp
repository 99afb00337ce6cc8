#include "netns/wire/address.hpp"

#include <optional>

namespace netns {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A decimal number of at most max_digits digits, without sign or leading
// zeros: "010" is rejected because inet_aton would read it as octal 8, and a
// user who wrote it may have meant either.
std::optional<unsigned> parse_decimal(std::string_view text, std::size_t max_digits) {
  if (text.empty() || text.size() > max_digits) return std::nullopt;
  if (text.size() > 1 && text.front() == '0') return std::nullopt;
  unsigned value = 0;
  for (char c : text) {
    if (!is_digit(c)) return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value;
}

std::optional<std::uint8_t> parse_hex_digit(char c) {
  if (c >= '0' && c <= '9') return static_cast<std::uint8_t>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<std::uint8_t>(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return static_cast<std::uint8_t>(c - 'A' + 10);
  return std::nullopt;
}

}  // namespace

Result<MacAddress> MacAddress::parse(std::string_view text) {
  constexpr std::size_t kTextLen = 6 * 2 + 5;
  if (text.size() != kTextLen) return error(Errc::invalid_argument);
  MacAddress mac;
  for (std::size_t i = 0; i < mac.octets.size(); ++i) {
    const std::size_t at = i * 3;
    if (i > 0 && text[at - 1] != ':') return error(Errc::invalid_argument);
    auto hi = parse_hex_digit(text[at]);
    auto lo = parse_hex_digit(text[at + 1]);
    if (!hi || !lo) return error(Errc::invalid_argument);
    mac.octets[i] = static_cast<std::uint8_t>(*hi << 4 | *lo);
  }
  return mac;
}

std::string MacAddress::to_string() const {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", octets[0], octets[1], octets[2],
                     octets[3], octets[4], octets[5]);
}

Result<Ipv4Address> Ipv4Address::parse(std::string_view text) {
  std::uint32_t value = 0;
  for (int part = 0; part < 4; ++part) {
    const auto dot = text.find('.');
    const bool last = part == 3;
    // Exactly three dots: the last part must have none, the others must.
    if (last != (dot == std::string_view::npos)) return error(Errc::invalid_argument);
    auto octet = parse_decimal(text.substr(0, dot), 3);
    if (!octet || *octet > 255) return error(Errc::invalid_argument);
    value = value << 8 | *octet;
    if (!last) text.remove_prefix(dot + 1);
  }
  return Ipv4Address{value};
}

std::string Ipv4Address::to_string() const {
  return fmt::format("{}.{}.{}.{}", value >> 24, (value >> 16) & 0xff, (value >> 8) & 0xff,
                     value & 0xff);
}

Result<Ipv4Prefix> Ipv4Prefix::parse(std::string_view text) {
  const auto slash = text.find('/');
  auto address = Ipv4Address::parse(text.substr(0, slash));
  if (!address) return address.error();
  if (slash == std::string_view::npos) return Ipv4Prefix{*address, 32};
  auto length = parse_decimal(text.substr(slash + 1), 2);
  if (!length) return error(Errc::invalid_argument);
  return make(*address, *length);
}

Result<Ipv4Prefix> Ipv4Prefix::make(Ipv4Address address, unsigned length) {
  if (length > 32) return error(Errc::invalid_argument);
  return Ipv4Prefix{address, static_cast<std::uint8_t>(length)};
}

std::string Ipv4Prefix::to_string() const {
  return fmt::format("{}/{}", address_.to_string(), length_);
}

std::string Endpoint::to_string() const { return fmt::format("{}:{}", address.to_string(), port); }

}  // namespace netns
