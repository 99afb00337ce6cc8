// Per-device sysctls: names resolved, and every write with Linux's
// propagation (devinet_conf_proc, devinet_copy_dflt_conf,
// inet_forward_change; addrconf_fixup_forwarding for IPv6's forwarding).
#include "core/devconf.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "netns/host.hpp"
#include "netns/net.hpp"
#include "netns/wire/address.hpp"

namespace netns {

static_assert(static_cast<std::size_t>(DevconfFamily::count_) == 2, "Host keeps one listener per family");

namespace {

enum class Column { all, dflt, device };

constexpr std::array<std::int32_t, kDevconfCount> table_values(Column column) {
  std::array<std::int32_t, kDevconfCount> out{};
  for (std::size_t i = 0; i < kDevconfCount; ++i) {
    const DevconfInfo& row = kDevconfTable[i];
    out[i] = column == Column::all ? row.all : column == Column::dflt ? row.dflt : devconf_device_default(row);
  }
  return out;
}

constexpr auto kAllDefaults = table_values(Column::all);
constexpr auto kDefaultDefaults = table_values(Column::dflt);
constexpr auto kDeviceDefaults = table_values(Column::device);

std::size_t index(DevconfId id) { return static_cast<std::size_t>(id); }

// A device's own block, made with the table's values on its first need.
DevconfDevice& own_block(std::unique_ptr<DevconfDevice>& conf) {
  if (!conf) {
    conf = std::make_unique<DevconfDevice>();
    conf->values = kDeviceDefaults;
  }
  return *conf;
}

}  // namespace

std::string DevconfStore::name(DevconfId id, std::string_view scope) {
  const DevconfInfo& row = devconf_info(id);
  std::string out(kDevconfTrees[static_cast<std::size_t>(row.family)]);
  out += '.';
  out += scope;
  out += '.';
  out += row.name;
  return out;
}

namespace {

struct Scope {
  DevconfScope scope;
  Device* dev;
};

// "all", "default" or one of net's devices (IFNAME may be spelt with '/' for
// '.', as sysctl(8) writes eth0.100).
std::optional<Scope> resolve_scope(const Net* net, std::string_view scope) {
  if (scope == "all") return Scope{DevconfScope::all, nullptr};
  if (scope == "default") return Scope{DevconfScope::dflt, nullptr};
  if (net == nullptr) return std::nullopt;
  Device* dev = net->device(scope);
  if (dev == nullptr) {
    std::string dotted(scope);
    std::replace(dotted.begin(), dotted.end(), '/', '.');
    dev = net->device(dotted);
  }
  if (dev == nullptr) return std::nullopt;
  return Scope{DevconfScope::device, dev};
}

}  // namespace

std::optional<DevconfStore::Target> DevconfStore::parse(const Net* net, std::string_view name) {
  const std::size_t last_dot = name.rfind('.');
  if (last_dot == std::string_view::npos) return std::nullopt;
  const std::string_view key = name.substr(last_dot + 1);
  for (std::size_t i = 0; i < kDevconfCount; ++i) {
    const DevconfInfo& row = kDevconfTable[i];
    const std::string_view tree = kDevconfTrees[static_cast<std::size_t>(row.family)];
    if (row.name != key || last_dot <= tree.size() + 1 || !name.starts_with(tree) || name[tree.size()] != '.') {
      continue;
    }
    const auto id = static_cast<DevconfId>(i);
    const auto scope = resolve_scope(net, name.substr(tree.size() + 1, last_dot - tree.size() - 1));
    if (!scope) return std::nullopt;
    return Target{id, scope->scope, scope->dev};
  }
  return std::nullopt;
}

std::int32_t DevconfStore::read(const Sysctl& sysctl, const Target& target) {
  switch (target.scope) {
    case DevconfScope::all: return devconf_all(sysctl, target.id);
    case DevconfScope::dflt: return devconf_default(sysctl, target.id);
    case DevconfScope::device: return devconf_own(*target.dev, target.id);
  }
  return 0;
}

std::unique_ptr<DevconfDevice> DevconfStore::for_new_device(const Sysctl& sysctl) {
  const DevconfNet* n = sysctl.devconf();
  if (n == nullptr) return nullptr;
  std::array<std::int32_t, kDevconfCount> values = n->dflt;
  for (std::size_t i = 0; i < kDevconfCount; ++i) {
    if (kDevconfTable[i].follows_device_mtu) values[i] = kDeviceDefaults[i];  // ipv6_add_dev: mtu6 = dev->mtu
  }
  if (values == kDeviceDefaults && !n->stable_secret) return nullptr;
  auto block = std::make_unique<DevconfDevice>();
  block->values = values;
  block->stable_secret = n->stable_secret;  // ipv6_add_dev copies the whole of default's cnf
  return block;
}

void DevconfStore::device_mtu_changed(Device& dev) {
  if (dev.conf_ == nullptr) return;
  for (std::size_t i = 0; i < kDevconfCount; ++i) {
    if (kDevconfTable[i].follows_device_mtu) {
      dev.conf_->values[i] = kDeviceDefaults[i];
      dev.conf_->written &= ~(std::uint64_t{1} << i);
    }
  }
}

void DevconfStore::refresh(Device& dev, const Sysctl& sysctl) {
  std::uint32_t on = 0;
  for (std::size_t i = 0; i < kDevconfCount; ++i) {
    if (device_conf(sysctl, dev, static_cast<DevconfId>(i)) != 0) on |= std::uint32_t{1} << i;
  }
  dev.conf_on_ = on;
}

std::unique_ptr<DevconfNet> DevconfStore::copy(const DevconfNet* from) {
  return from != nullptr ? std::make_unique<DevconfNet>(*from) : nullptr;
}

namespace {

// The one writer: each helper changes one value and, when it did change,
// brings the devices' bits up to date and then tells the family's
// listener, so that a listener sees what the packet path will see.
class Writer {
 public:
  explicit Writer(Sysctl& sysctl, std::unique_ptr<DevconfNet>& block, const Net* net)
      : sysctl_(sysctl), block_(block), net_(net) {}

  void all(DevconfId id, std::int32_t v, std::int32_t* alias) {
    if (alias != nullptr) *alias = v;
    set(net_block().all[index(id)], v, DevconfScope::all, nullptr, id);
  }
  void dflt(DevconfId id, std::int32_t v) { set(net_block().dflt[index(id)], v, DevconfScope::dflt, nullptr, id); }
  void device(Device& dev, DevconfId id, std::int32_t v, bool written, std::unique_ptr<DevconfDevice>& conf) {
    DevconfDevice& block = own_block(conf);
    if (written) block.written |= std::uint64_t{1} << index(id);
    set(block.values[index(id)], v, DevconfScope::device, &dev, id);
  }

 private:
  DevconfNet& net_block() {
    if (!block_) block_ = std::make_unique<DevconfNet>(DevconfNet{kAllDefaults, kDefaultDefaults, std::nullopt});
    return *block_;
  }
  void set(std::int32_t& slot, std::int32_t v, DevconfScope scope, Device* dev, DevconfId id) {
    if (slot == v) return;
    slot = v;
    if (net_ == nullptr) return;
    // Sysctl::set is a write to the namespace that owns this table.
    Net& net = const_cast<Net&>(*net_);
    if (dev != nullptr) {
      DevconfStore::refresh(*dev, sysctl_);
    } else if (scope == DevconfScope::all) {
      for (Device& each : net.devices()) DevconfStore::refresh(each, sysctl_);
    }
    if (DevconfListener* l = net.host().devconf_listener(devconf_info(id).family)) {
      l->on_devconf_change(net, scope, dev, id, v);
    }
  }

  Sysctl& sysctl_;
  std::unique_ptr<DevconfNet>& block_;
  const Net* net_;
};

}  // namespace

Result<void> DevconfStore::write(Sysctl& sysctl, const Target& target, std::int32_t value) {
  const DevconfInfo& row = devconf_info(target.id);
  std::int32_t max = row.max;
  if (row.follows_device_mtu && target.scope == DevconfScope::device) {
    max = static_cast<std::int32_t>(target.dev->mtu());  // addrconf_sysctl_mtu
  }
  if (value < row.min || value > max) return error(Errc::invalid_argument);
  if (value >= 0 && value < 32 && (row.needs_secret >> value & 1) != 0) {
    // check_stable_privacy: the secret the device would use, or for `all`
    // and `default` the one every device would fall back to.
    const DevconfNet* n = sysctl.devconf();
    const bool secret = target.scope == DevconfScope::device ? device_stable_secret(sysctl, *target.dev) != nullptr
                                                             : n != nullptr && n->stable_secret.has_value();
    if (!secret) return error(Errc::invalid_argument);
  }
  apply(sysctl, target, value);  // each value it changes refreshes the bits it affects
  return {};
}

void DevconfStore::apply(Sysctl& sysctl, const Target& target, std::int32_t value) {
  const DevconfInfo& row = devconf_info(target.id);
  Writer w(sysctl, sysctl.devconf_, sysctl.net_);
  switch (target.scope) {
    case DevconfScope::device:
      w.device(*target.dev, target.id, value, true, target.dev->conf_);
      return;
    case DevconfScope::dflt:
      w.dflt(target.id, value);
      if (row.default_propagates && sysctl.net_ != nullptr) {
        const std::uint64_t bit = std::uint64_t{1} << index(target.id);
        for (Device& dev : sysctl.net_->devices()) {
          if (dev.conf_ == nullptr || (dev.conf_->written & bit) == 0) w.device(dev, target.id, value, false, dev.conf_);
        }
      }
      return;
    case DevconfScope::all: break;
  }
  std::int32_t* alias = row.all_alias == SysctlId::count_
                            ? nullptr
                            : &sysctl.values_[kSysctlOffsets[static_cast<std::size_t>(row.all_alias)]];
  w.all(target.id, value, alias);
  if (row.all_propagates) {
    // inet_forward_change: a router does not take redirects (all.accept_redirects
    // is the opposite of forwarding), and every device forwards as `all` says.
    if (target.id == DevconfId::ipv4_forwarding) w.all(DevconfId::ipv4_accept_redirects, value == 0 ? 1 : 0, nullptr);
    w.dflt(target.id, value);
    if (sysctl.net_ != nullptr) {
      for (Device& dev : sysctl.net_->devices()) w.device(dev, target.id, value, true, dev.conf_);
    }
  }
}

// ---- net.ipv6.conf.*.stable_secret ----

namespace {

constexpr std::string_view kStableSecretTree = "net.ipv6.conf.";
constexpr std::string_view kStableSecretKey = ".stable_secret";

std::optional<Scope> stable_secret_scope(const Net* net, std::string_view name) {
  if (!name.starts_with(kStableSecretTree) || !name.ends_with(kStableSecretKey) ||
      name.size() <= kStableSecretTree.size() + kStableSecretKey.size()) {
    return std::nullopt;
  }
  name.remove_prefix(kStableSecretTree.size());
  name.remove_suffix(kStableSecretKey.size());
  return resolve_scope(net, name);
}

}  // namespace

std::optional<Result<void>> DevconfStore::write_stable_secret(Sysctl& sysctl, std::string_view name,
                                                              std::string_view text) {
  const auto scope = stable_secret_scope(sysctl.net_, name);
  if (!scope) return std::nullopt;
  if (scope->scope == DevconfScope::all) return Result<void>(error(Errc::io_error));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  const auto address = Ipv6Address::parse(text);
  if (!address || address->scope_id() != 0) return Result<void>(error(Errc::io_error));  // in6_pton: no "%scope"
  const std::size_t gen_mode = index(DevconfId::ipv6_addr_gen_mode);
  // addr_gen_mode is set as Linux sets it, straight into the device's cnf:
  // no listener, so no address is made until the device next makes one.
  auto stable_privacy = [&](Device& dev) {
    own_block(dev.conf_).values[gen_mode] = 2;
    refresh(dev, sysctl);
  };
  if (scope->scope == DevconfScope::device) {
    stable_privacy(*scope->dev);
    scope->dev->conf_->stable_secret = address->bytes();
    return Result<void>{};
  }
  if (!sysctl.devconf_) sysctl.devconf_ = std::make_unique<DevconfNet>(DevconfNet{kAllDefaults, kDefaultDefaults, std::nullopt});
  sysctl.devconf_->stable_secret = address->bytes();
  if (sysctl.net_ != nullptr) {
    for (Device& dev : const_cast<Net*>(sysctl.net_)->devices()) stable_privacy(dev);
  }
  return Result<void>{};
}

void DevconfStore::give_stable_secret(Device& dev, const std::array<std::uint8_t, 16>& secret) {
  own_block(dev.conf_).stable_secret = secret;
}

std::optional<Result<std::string>> DevconfStore::read_stable_secret(const Sysctl& sysctl, std::string_view name) {
  const auto scope = stable_secret_scope(sysctl.net_, name);
  if (!scope) return std::nullopt;
  const StableSecret* secret = nullptr;
  if (scope->scope == DevconfScope::dflt && sysctl.devconf_) secret = &sysctl.devconf_->stable_secret;
  if (scope->scope == DevconfScope::device && scope->dev->conf_) secret = &scope->dev->conf_->stable_secret;
  if (secret == nullptr || !secret->has_value()) return Result<std::string>(error(Errc::io_error));
  // Linux's "%pI6": eight groups of four hex digits, nothing compressed.
  const auto& b = **secret;
  std::string out;
  for (std::size_t i = 0; i < b.size(); i += 2) {
    if (i > 0) out += ':';
    out += fmt::format("{:02x}{:02x}", b[i], b[i + 1]);
  }
  return Result<std::string>(std::move(out));
}

}  // namespace netns
