#include "netns/wire/address.hpp"

#include <optional>
#include <vector>

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

namespace {

// The "%N" after an IPv6 address: a decimal ifindex, 1..2^32-1.
std::optional<std::uint32_t> parse_scope(std::string_view text) {
  if (text.empty() || text.size() > 10 || text.front() == '0') return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (!is_digit(c)) return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 0xffffffffu) return std::nullopt;
  return static_cast<std::uint32_t>(value);
}

// One to four hex digits.
std::optional<std::uint16_t> parse_group(std::string_view text) {
  if (text.empty() || text.size() > 4) return std::nullopt;
  unsigned value = 0;
  for (char c : text) {
    auto d = parse_hex_digit(c);
    if (!d) return std::nullopt;
    value = value << 4 | *d;
  }
  return static_cast<std::uint16_t>(value);
}

// The groups of one side of "::" (or of a whole address without it), the
// last of which may be a dotted quad when `tail_may_be_v4`; appends to
// `groups`, false on any malformed part.
bool parse_groups(std::string_view text, bool tail_may_be_v4, std::vector<std::uint16_t>& groups) {
  if (text.empty()) return true;
  while (true) {
    const auto colon = text.find(':');
    const std::string_view part = text.substr(0, colon);
    if (colon == std::string_view::npos && tail_may_be_v4 && part.find('.') != std::string_view::npos) {
      auto v4 = Ipv4Address::parse(part);
      if (!v4) return false;
      groups.push_back(static_cast<std::uint16_t>(v4->value >> 16));
      groups.push_back(static_cast<std::uint16_t>(v4->value));
      return true;
    }
    auto group = parse_group(part);
    if (!group) return false;
    groups.push_back(*group);
    if (colon == std::string_view::npos) return true;
    text.remove_prefix(colon + 1);
  }
}

}  // namespace

Result<Ipv6Address> Ipv6Address::parse(std::string_view text) {
  std::uint32_t scope = 0;
  if (const auto percent = text.find('%'); percent != std::string_view::npos) {
    auto parsed = parse_scope(text.substr(percent + 1));
    if (!parsed) return error(Errc::invalid_argument);
    scope = *parsed;
    text = text.substr(0, percent);
  }
  std::vector<std::uint16_t> head, tail;
  const auto gap = text.find("::");
  if (gap == std::string_view::npos) {
    if (!parse_groups(text, true, head) || head.size() != 8) return error(Errc::invalid_argument);
  } else {
    const std::string_view before = text.substr(0, gap), after = text.substr(gap + 2);
    if (after.find("::") != std::string_view::npos) return error(Errc::invalid_argument);
    if (!parse_groups(before, false, head) || !parse_groups(after, true, tail)) {
      return error(Errc::invalid_argument);
    }
    // "::" stands for one zero group at least (RFC 4291 2.2, item 2).
    if (head.size() + tail.size() > 7) return error(Errc::invalid_argument);
  }
  Bytes bytes{};
  auto put = [&bytes](std::size_t index, std::uint16_t g) {
    bytes[2 * index] = static_cast<std::uint8_t>(g >> 8);
    bytes[2 * index + 1] = static_cast<std::uint8_t>(g);
  };
  for (std::size_t i = 0; i < head.size(); ++i) put(i, head[i]);
  for (std::size_t i = 0; i < tail.size(); ++i) put(8 - tail.size() + i, tail[i]);
  return Ipv6Address{bytes, scope};
}

std::string Ipv6Address::to_string() const {
  std::string text;
  if (is_v4_mapped()) {
    text = "::ffff:" + to_v4_mapped().to_string();
  } else {
    // RFC 5952 4.2: the longest run of zero groups, the first of equal
    // ones, and only a run of two or more.
    int best_at = -1, best_len = 1;
    for (int i = 0; i < 8;) {
      int j = i;
      while (j < 8 && group(j) == 0) ++j;
      if (j - i > best_len) best_at = i, best_len = j - i;
      i = j == i ? i + 1 : j;
    }
    for (int i = 0; i < 8; ++i) {
      if (i == best_at) {
        text += "::";
        i += best_len - 1;
        continue;
      }
      if (!text.empty() && text.back() != ':') text += ':';
      text += fmt::format("{:x}", group(i));
    }
  }
  if (scope_id_ != 0) text += fmt::format("%{}", scope_id_);
  return text;
}

Result<Ipv6Prefix> Ipv6Prefix::parse(std::string_view text) {
  const auto slash = text.find('/');
  auto address = Ipv6Address::parse(text.substr(0, slash));
  if (!address) return address.error();
  if (slash == std::string_view::npos) return Ipv6Prefix{*address, 128};
  auto length = parse_decimal(text.substr(slash + 1), 3);
  if (!length) return error(Errc::invalid_argument);
  return make(*address, *length);
}

Result<Ipv6Prefix> Ipv6Prefix::make(Ipv6Address address, unsigned length) {
  if (length > 128) return error(Errc::invalid_argument);
  return Ipv6Prefix{address, static_cast<std::uint8_t>(length)};
}

std::string Ipv6Prefix::to_string() const { return fmt::format("{}/{}", address_.to_string(), length_); }

Result<IpAddress> IpAddress::parse(std::string_view text) {
  if (auto v4 = Ipv4Address::parse(text)) return IpAddress{*v4};
  auto v6 = Ipv6Address::parse(text);
  if (!v6) return v6.error();
  return IpAddress{*v6};
}

std::string Endpoint::to_string() const {
  if (address.is_v6()) return fmt::format("[{}]:{}", address.to_string(), port);
  return fmt::format("{}:{}", address.to_string(), port);
}

}  // namespace netns
