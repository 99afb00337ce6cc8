// Per-namespace sysctl values: parsing and printing in /proc/sys's format.
#include "netns/sysctl.hpp"

#include <algorithm>
#include <charconv>

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

}  // namespace

Sysctl::Sysctl() : values_(kSysctlDefaults) {}
Sysctl::~Sysctl() = default;

Sysctl::Sysctl(const Sysctl& other) : values_(other.values_), net_(other.net_) {
  if (other.devices_) devices_ = std::make_unique<std::vector<DeviceConf>>(*other.devices_);
}

Sysctl& Sysctl::operator=(const Sysctl& other) {
  if (this != &other) *this = Sysctl(other);
  return *this;
}

const SysctlInfo& Sysctl::info(SysctlId id) { return kSysctlTable[static_cast<std::size_t>(id)]; }

std::vector<std::string_view> Sysctl::names() {
  std::vector<std::string_view> out;
  out.reserve(kSysctlTable.size());
  for (const auto& row : kSysctlTable) out.push_back(row.name);
  return out;
}

std::span<const std::int32_t> Sysctl::values(SysctlId id) const {
  auto i = static_cast<std::size_t>(id);
  return {values_.data() + kSysctlOffsets[i], kSysctlTable[i].arity};
}

Result<void> Sysctl::set_values(SysctlId id, std::span<const std::int32_t> values) {
  auto i = static_cast<std::size_t>(id);
  const SysctlInfo& row = kSysctlTable[i];
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
  std::copy(values.begin(), values.end(), values_.begin() + kSysctlOffsets[i]);
  return {};
}

std::optional<Sysctl::DeviceKnob> Sysctl::device_knob(std::string_view name) const {
  if (net_ == nullptr) return std::nullopt;
  const std::size_t last_dot = name.rfind('.');
  if (last_dot == std::string_view::npos) return std::nullopt;
  const std::string_view knob = name.substr(last_dot + 1);
  for (std::size_t i = 0; i < kDevconfTable.size(); ++i) {
    const DevconfInfo& row = kDevconfTable[i];
    if (row.name != knob || name.size() <= row.tree.size() + 1 + knob.size() + 1 ||
        !name.starts_with(row.tree) || name[row.tree.size()] != '.') {
      continue;
    }
    std::string device(name.substr(row.tree.size() + 1, last_dot - row.tree.size() - 1));
    const Device* dev = net_->device(device);
    if (dev == nullptr) {  // sysctl(8) spells "eth0.100" as "eth0/100"
      std::replace(device.begin(), device.end(), '/', '.');
      dev = net_->device(device);
    }
    if (dev == nullptr) return std::nullopt;
    return DeviceKnob{static_cast<DevconfId>(i), dev->ifindex()};
  }
  return std::nullopt;
}

const Sysctl::DeviceConf* Sysctl::find_device(int ifindex) const {
  if (!devices_) return nullptr;
  for (const DeviceConf& d : *devices_) {
    if (d.ifindex == ifindex) return &d;
  }
  return nullptr;
}

std::int32_t Sysctl::own_value(DevconfId id, int ifindex) const {
  const auto i = static_cast<std::size_t>(id);
  if (const DeviceConf* d = find_device(ifindex); d != nullptr && (d->written >> i & 1) != 0) {
    return d->values[i];
  }
  return value(kDevconfTable[i].dflt);
}

std::int32_t Sysctl::device_value(DevconfId id, int ifindex) const {
  const DevconfInfo& row = kDevconfTable[static_cast<std::size_t>(id)];
  const std::int32_t all = value(row.all);
  const std::int32_t own = devices_ ? own_value(id, ifindex) : value(row.dflt);
  switch (row.combine) {
    case DevconfCombine::both: return all != 0 && own != 0 ? own : 0;
    case DevconfCombine::either: return all != 0 ? all : own;
  }
  return own;
}

void Sysctl::forget_device(int ifindex) {
  if (!devices_) return;
  std::erase_if(*devices_, [&](const DeviceConf& d) { return d.ifindex == ifindex; });
  if (devices_->empty()) devices_.reset();
}

Result<void> Sysctl::set(std::string_view name, std::string_view value) {
  std::size_t index = 0;
  const SysctlInfo* row = find_info(name, &index);
  if (row == nullptr) {
    auto knob = device_knob(name);
    if (!knob) return error(Errc::no_such_file_or_directory);
    const auto i = static_cast<std::size_t>(knob->id);
    const SysctlInfo& bounds = info(kDevconfTable[i].all);
    auto parsed = parse_ints(value, 1);
    if (!parsed) return parsed.error();
    const std::int32_t v = (*parsed)[0];
    if (v < bounds.min || v > bounds.max) return error(Errc::invalid_argument);
    if (!devices_) devices_ = std::make_unique<std::vector<DeviceConf>>();
    auto it = std::find_if(devices_->begin(), devices_->end(),
                           [&](const DeviceConf& d) { return d.ifindex == knob->ifindex; });
    if (it == devices_->end()) it = devices_->insert(devices_->end(), DeviceConf{.ifindex = knob->ifindex});
    it->values[i] = v;
    it->written |= 1u << i;
    return {};
  }
  auto id = static_cast<SysctlId>(index);
  if (!row->choices.empty()) {
    while (!value.empty() && is_space(value.back())) value.remove_suffix(1);
    auto it = std::find(row->choices.begin(), row->choices.end(), value);
    if (it == row->choices.end()) return error(Errc::no_such_file_or_directory);  // as Linux: ENOENT
    std::int32_t choice = static_cast<std::int32_t>(it - row->choices.begin());
    return set_values(id, {&choice, 1});
  }
  auto parsed = parse_ints(value, row->arity);
  if (!parsed) return parsed.error();
  return set_values(id, {parsed->data(), row->arity});
}

Result<std::string> Sysctl::get(std::string_view name) const {
  std::size_t index = 0;
  const SysctlInfo* row = find_info(name, &index);
  if (row == nullptr) {
    auto knob = device_knob(name);
    if (!knob) return error(Errc::no_such_file_or_directory);
    return std::to_string(own_value(knob->id, knob->ifindex));
  }
  auto vals = values(static_cast<SysctlId>(index));
  if (!row->choices.empty()) return std::string(row->choices[static_cast<std::size_t>(vals[0])]);
  std::string out;
  for (std::size_t e = 0; e < vals.size(); ++e) {
    if (e > 0) out += '\t';  // /proc/sys separates vector values with tabs
    out += std::to_string(vals[e]);
  }
  return out;
}

}  // namespace netns
