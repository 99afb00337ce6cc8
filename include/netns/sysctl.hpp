// netns/sysctl.hpp — per-namespace knobs with Linux's names and defaults.
//
//   net.sysctl().set("net.ipv4.ip_forward", "1");                  // Result<void>
//   net.sysctl().get("net.ipv4.ip_local_port_range");              // "32768\t60999"
//   net.sysctl().value(SysctlId::ip_default_ttl);                  // 64, on the packet path
//
// The table of knobs is constant (netns/sysctl_table.hpp); a namespace
// stores only their values, a few hundred bytes. A value out of range, of the
// wrong arity or an unknown name is invalid_argument / no_such_file_or_directory
// and changes nothing, as writing to /proc/sys would.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "netns/result.hpp"
#include "netns/sysctl_table.hpp"

namespace netns {

class Sysctl {
 public:
  Sysctl();

  Result<void> set(std::string_view name, std::string_view value);
  Result<std::string> get(std::string_view name) const;

  // The packet path reads values by id, with no parsing and no lookup.
  std::int32_t value(SysctlId id, std::size_t element = 0) const {
    return values_[kSysctlOffsets[static_cast<std::size_t>(id)] + element];
  }
  std::span<const std::int32_t> values(SysctlId id) const;
  // Sets a knob by id; invalid_argument (nothing changed) when out of bounds.
  Result<void> set_values(SysctlId id, std::span<const std::int32_t> values);

  // Every knob's name, in table order (for `sysctl -a` style dumps).
  static std::vector<std::string_view> names();
  static const SysctlInfo& info(SysctlId id);

 private:
  std::array<std::int32_t, kSysctlValueSlots> values_;
};

}  // namespace netns
