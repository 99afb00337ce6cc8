// Per-namespace sysctl values: parsing and printing in /proc/sys's format.
#include "netns/sysctl.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

#include "core/devconf.hpp"
#include "netns/net.hpp"

namespace netns {

namespace {

const SysctlInfo* find_info(std::string_view name, std::size_t* index) {
  for (std::size_t i = 0; i < kSysctlTable.size(); ++i) {
    if (kSysctlTable[i].name == name) {
      *index = i;
      return &kSysctlTable[i];
    }
  }
  return nullptr;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n'; }

// Splits "4096 87380 6291456" (any run of blanks, as /proc/sys accepts) into ints.
Result<std::array<std::int32_t, 3>> parse_ints(std::string_view text, std::size_t arity) {
  std::array<std::int32_t, 3> out{};
  std::size_t count = 0;
  std::size_t i = 0;
  while (true) {
    while (i < text.size() && is_space(text[i])) ++i;
    if (i == text.size()) break;
    if (count == arity) return error(Errc::invalid_argument);
    std::size_t end = i;
    while (end < text.size() && !is_space(text[end])) ++end;
    std::int32_t v = 0;
    auto [ptr, ec] = std::from_chars(text.data() + i, text.data() + end, v);
    if (ec != std::errc{} || ptr != text.data() + end) return error(Errc::invalid_argument);
    out[count++] = v;
    i = end;
  }
  if (count != arity) return error(Errc::invalid_argument);
  return out;
}

// proc_do_large_bitmap's text: ranges "N" or "N-M" separated by commas,
// each bit below `bits`; nothing (or only blanks) clears every bit.
Result<std::array<std::int32_t, 8>> parse_bitmap(std::string_view text, std::size_t bits) {
  std::array<std::uint32_t, 8> words{};
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  auto number = [&](std::string_view digits) -> std::optional<std::size_t> {
    std::size_t v = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (digits.empty() || ec != std::errc{} || ptr != digits.data() + digits.size() || v >= bits) return std::nullopt;
    return v;
  };
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view range = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (comma != std::string_view::npos && text.empty()) return error(Errc::invalid_argument);  // "3,"
    const std::size_t dash = range.find('-');
    const auto first = number(range.substr(0, dash));
    const auto last = dash == std::string_view::npos ? first : number(range.substr(dash + 1));
    if (!first || !last || *last < *first) return error(Errc::invalid_argument);
    for (std::size_t b = *first; b <= *last; ++b) words[b / 32] |= std::uint32_t{1} << (b % 32);
  }
  std::array<std::int32_t, 8> out{};
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::int32_t>(words[i]);
  return out;
}

// The ranges of set bits, "0-1,3-127", as Linux prints a large bitmap.
std::string print_bitmap(std::span<const std::int32_t> words) {
  auto bit = [&](std::size_t b) { return (static_cast<std::uint32_t>(words[b / 32]) >> (b % 32) & 1) != 0; };
  const std::size_t bits = words.size() * 32;
  std::string out;
  for (std::size_t b = 0; b < bits; ++b) {
    if (!bit(b)) continue;
    std::size_t last = b;
    while (last + 1 < bits && bit(last + 1)) ++last;
    if (!out.empty()) out += ',';
    out += std::to_string(b);
    if (last > b) out += '-' + std::to_string(last);
    b = last;
  }
  return out;
}

}  // namespace

Sysctl::Sysctl() : values_(kSysctlDefaults) {}
Sysctl::~Sysctl() = default;

Sysctl::Sysctl(const Sysctl& other)
    : values_(other.values_), net_(other.net_), devconf_(DevconfStore::copy(other.devconf_.get())) {}

Sysctl& Sysctl::operator=(const Sysctl& other) {
  if (this != &other) *this = Sysctl(other);
  return *this;
}

const SysctlInfo& Sysctl::info(SysctlId id) { return kSysctlTable[static_cast<std::size_t>(id)]; }

std::vector<std::string> Sysctl::names() {
  std::vector<std::string> out;
  out.reserve(kSysctlTable.size() + 2 * kDevconfCount);
  for (const auto& row : kSysctlTable) out.emplace_back(row.name);
  for (std::size_t i = 0; i < kDevconfCount; ++i) {
    for (std::string_view scope : {"all", "default"}) out.push_back(DevconfStore::name(static_cast<DevconfId>(i), scope));
  }
  return out;
}

std::vector<std::string> Sysctl::device_names() const {
  std::vector<std::string> out;
  if (net_ == nullptr) return out;
  for (const Device& dev : net_->devices()) {
    std::string scope(dev.name());
    std::replace(scope.begin(), scope.end(), '.', '/');  // as sysctl(8) lists eth0.100
    for (std::size_t i = 0; i < kDevconfCount; ++i) out.push_back(DevconfStore::name(static_cast<DevconfId>(i), scope));
  }
  return out;
}

std::int32_t Sysctl::device_value(DevconfId id, const Device& dev) const { return device_conf(*this, dev, id); }

std::span<const std::int32_t> Sysctl::values(SysctlId id) const {
  auto i = static_cast<std::size_t>(id);
  return {values_.data() + kSysctlOffsets[i], kSysctlTable[i].arity};
}

Result<void> Sysctl::set_values(SysctlId id, std::span<const std::int32_t> values) {
  auto i = static_cast<std::size_t>(id);
  const SysctlInfo& row = kSysctlTable[i];
  if (row.read_only) return error(Errc::permission_denied);
  if (values.size() != row.arity) return error(Errc::invalid_argument);
  for (std::int32_t v : values) {
    if (v < row.min || v > row.max) return error(Errc::invalid_argument);
  }
  // Ranges must be ordered, as Linux refuses ip_local_port_range "61000 32768".
  if (id == SysctlId::ip_local_port_range && values[0] > values[1]) {
    return error(Errc::invalid_argument);
  }
  // Each reassembly threshold bounds the other (Linux's extra1/extra2).
  if ((id == SysctlId::ipfrag_high_thresh && values[0] < value(SysctlId::ipfrag_low_thresh)) ||
      (id == SysctlId::ipfrag_low_thresh && values[0] > value(SysctlId::ipfrag_high_thresh))) {
    return error(Errc::invalid_argument);
  }
  if ((id == SysctlId::ip6frag_high_thresh && values[0] < value(SysctlId::ip6frag_low_thresh)) ||
      (id == SysctlId::ip6frag_low_thresh && values[0] > value(SysctlId::ip6frag_high_thresh))) {
    return error(Errc::invalid_argument);
  }
  // A knob that is a per-device knob's `all` (ip_forward) is written as that,
  // with its propagation.
  for (std::size_t d = 0; d < kDevconfCount; ++d) {
    if (kDevconfTable[d].all_alias == id) {
      return DevconfStore::write(*this, {static_cast<DevconfId>(d), DevconfScope::all, nullptr}, values[0]);
    }
  }
  std::copy(values.begin(), values.end(), values_.begin() + kSysctlOffsets[i]);
  return {};
}

Result<void> Sysctl::set(std::string_view name, std::string_view value) {
  std::size_t index = 0;
  const SysctlInfo* row = find_info(name, &index);
  if (row == nullptr) {
    if (auto secret = DevconfStore::write_stable_secret(*this, name, value)) return *secret;
    auto target = DevconfStore::parse(net_, name);
    if (!target) return error(Errc::no_such_file_or_directory);
    auto parsed = parse_ints(value, 1);
    if (!parsed) return parsed.error();
    return DevconfStore::write(*this, *target, (*parsed)[0]);
  }
  auto id = static_cast<SysctlId>(index);
  if (row->read_only) return error(Errc::permission_denied);  // before parsing, as a 0444 file
  if (!row->choices.empty()) {
    while (!value.empty() && is_space(value.back())) value.remove_suffix(1);
    auto it = std::find(row->choices.begin(), row->choices.end(), value);
    if (it == row->choices.end()) return error(Errc::no_such_file_or_directory);  // as Linux: ENOENT
    std::int32_t choice = static_cast<std::int32_t>(it - row->choices.begin());
    return set_values(id, {&choice, 1});
  }
  if (row->bitmap) {
    auto bits = parse_bitmap(value, std::size_t{32} * row->arity);
    if (!bits) return bits.error();
    return set_values(id, {bits->data(), row->arity});
  }
  auto parsed = parse_ints(value, row->arity);
  if (!parsed) return parsed.error();
  return set_values(id, {parsed->data(), row->arity});
}

Result<std::string> Sysctl::get(std::string_view name) const {
  std::size_t index = 0;
  const SysctlInfo* row = find_info(name, &index);
  if (row == nullptr) {
    if (auto secret = DevconfStore::read_stable_secret(*this, name)) return *secret;
    auto target = DevconfStore::parse(net_, name);
    if (!target) return error(Errc::no_such_file_or_directory);
    return std::to_string(DevconfStore::read(*this, *target));
  }
  auto vals = values(static_cast<SysctlId>(index));
  if (!row->choices.empty()) return std::string(row->choices[static_cast<std::size_t>(vals[0])]);
  if (row->bitmap) return print_bitmap(vals);
  std::string out;
  for (std::size_t e = 0; e < vals.size(); ++e) {
    if (e > 0) out += '\t';  // /proc/sys separates vector values with tabs
    out += std::to_string(vals[e]);
  }
  return out;
}

}  // namespace netns
