// netns/sysctl.hpp — per-namespace knobs with Linux's names and defaults.
//
//   net.sysctl().set("net.ipv4.ip_forward", "1");                  // Result<void>
//   net.sysctl().get("net.ipv4.ip_local_port_range");              // "32768\t60999"
//   net.sysctl().value(SysctlId::ip_default_ttl);                  // 64, on the packet path
//   net.sysctl().set("net.ipv4.conf.eth0.accept_local", "1");      // one device's knob
//   net.sysctl().device_value(DevconfId::ipv4_accept_local, eth0.ifindex());  // with `all`
//
// The table of knobs is constant (netns/sysctl_table.hpp); a namespace
// stores only their values, a few hundred bytes, and the per-device values
// written for its devices. A value out of range, of the wrong arity or an
// unknown name (a device not in the namespace included) is invalid_argument /
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
  // Sets a knob by id; invalid_argument (nothing changed) when out of bounds.
  [[nodiscard]] Result<void> set_values(SysctlId id, std::span<const std::int32_t> values);

  // What the stack acts on for the device with `ifindex`: its own value (or
  // `default` while none was written for it) combined with `all` as the
  // knob's row says (kDevconfTable).
  std::int32_t device_value(DevconfId id, int ifindex) const;
  // The device left the namespace: the values written for it go too (a
  // device that comes back, or another with its ifindex, starts from `default`).
  void forget_device(int ifindex);

  // Every knob's name, in table order (for `sysctl -a` style dumps);
  // net.ipv4.conf.IFNAME.* are not listed, only their `all` and `default` rows.
  static std::vector<std::string_view> names();
  static const SysctlInfo& info(SysctlId id);

 private:
  friend class Net;

  struct DeviceConf {
    int ifindex = 0;
    std::uint32_t written = 0;  // bit per DevconfId
    std::array<std::int32_t, static_cast<std::size_t>(DevconfId::count_)> values{};
  };
  struct DeviceKnob {
    DevconfId id;
    int ifindex;
  };
  // "TREE.IFNAME.NAME" of a device of net_ (IFNAME with '/' for '.', as
  // sysctl(8) writes it, or as is), or nullopt.
  std::optional<DeviceKnob> device_knob(std::string_view name) const;
  const DeviceConf* find_device(int ifindex) const;
  std::int32_t own_value(DevconfId id, int ifindex) const;  // the device's, or `default`

  std::array<std::int32_t, kSysctlValueSlots> values_;
  const Net* net_ = nullptr;          // the owner, to find IFNAME; null for a table on its own
  // Only devices with a value written for them; allocated with the first.
  std::unique_ptr<std::vector<DeviceConf>> devices_;
};

}  // namespace netns
