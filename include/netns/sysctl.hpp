// netns/sysctl.hpp — per-namespace knobs with Linux's names and defaults.
//
//   net.sysctl().set("net.ipv4.ip_forward", "1");                  // Result<void>
//   net.sysctl().get("net.ipv4.ip_local_port_range");              // "32768\t60999"
//   net.sysctl().value(SysctlId::ip_default_ttl);                  // 64, on the packet path
//   net.sysctl().set("net.ipv4.conf.eth0.rp_filter", "1");         // one device's knob
//   net.sysctl().device_value(DevconfId::ipv4_rp_filter, eth0);    // combined with `all`
//
// The table of knobs is constant (netns/sysctl_table.hpp); a namespace
// stores only their values, a few hundred bytes. Per-device knobs,
// net.FAMILY.conf.{all,default,IFNAME}.KEY, are netns/devconf.hpp's: their
// `all` and `default` values hang off the namespace's Sysctl, a device's own
// off the Device. A value out of range, of the wrong arity or an unknown
// name (a device not in the namespace included) is invalid_argument /
// no_such_file_or_directory and changes nothing, as writing to /proc/sys would.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "netns/result.hpp"
#include "netns/sysctl_table.hpp"

namespace netns {

class Net;
class Device;
struct DevconfStore;

// net.ipv6.conf.{default,IFNAME}.stable_secret, RFC 7217's secret key: 128
// bits in network order once written (Linux's ipv6_stable_secret).
using StableSecret = std::optional<std::array<std::uint8_t, 16>>;

// A namespace's `all` and `default` values of per-device knobs
// (netns/devconf.hpp), once one of them was written.
struct DevconfNet {
  static constexpr std::size_t kCount = static_cast<std::size_t>(DevconfId::count_);
  std::array<std::int32_t, kCount> all;
  std::array<std::int32_t, kCount> dflt;
  StableSecret stable_secret;  // `default`'s; `all` has none, as Linux
};

class Sysctl {
 public:
  Sysctl();
  Sysctl(const Sysctl& other);
  Sysctl& operator=(const Sysctl& other);
  Sysctl(Sysctl&&) noexcept = default;
  Sysctl& operator=(Sysctl&&) noexcept = default;
  ~Sysctl();

  [[nodiscard]] Result<void> set(std::string_view name, std::string_view value);
  [[nodiscard]] Result<std::string> get(std::string_view name) const;

  // The packet path reads values by id, with no parsing and no lookup.
  std::int32_t value(SysctlId id, std::size_t element = 0) const {
    return values_[kSysctlOffsets[static_cast<std::size_t>(id)] + element];
  }
  std::span<const std::int32_t> values(SysctlId id) const;
  // Sets a knob by id; invalid_argument (nothing changed) when out of bounds,
  // permission_denied for a read-only knob.
  [[nodiscard]] Result<void> set_values(SysctlId id, std::span<const std::int32_t> values);
  // The value a read-only knob shows (net.netfilter.nf_conntrack_count),
  // kept current by the subsystem that owns it. Precondition: the row is
  // read_only and of arity 1.
  void publish(SysctlId id, std::int32_t value) { values_[kSysctlOffsets[static_cast<std::size_t>(id)]] = value; }

  // What the stack acts on for `dev`, one of this namespace's devices: its
  // own value combined with `all` as the knob's row says (kDevconfTable).
  // The packet path calls device_conf (netns/devconf.hpp) inline instead.
  std::int32_t device_value(DevconfId id, const Device& dev) const;
  // The namespace's `all` and `default` values of per-device knobs; null
  // while none was written (every one is then the table's default).
  const DevconfNet* devconf() const { return devconf_.get(); }

  // Every knob's name, in table order, then the `all` and `default` names
  // of every per-device knob (for `sysctl -a` style dumps). Built per call:
  // the library keeps no writable state outside a Host.
  static std::vector<std::string> names();
  // The per-device names of this namespace's devices, in ifindex then
  // kDevconfTable order: net.ipv4.conf.lo.forwarding...
  std::vector<std::string> device_names() const;
  static const SysctlInfo& info(SysctlId id);

 private:
  friend class Net;
  friend struct DevconfStore;

  std::array<std::int32_t, kSysctlValueSlots> values_;
  const Net* net_ = nullptr;  // the owner, to find IFNAME; null for a table on its own
  std::unique_ptr<DevconfNet> devconf_;
};

}  // namespace netns
