// core/devconf.hpp — writing per-device sysctls (netns/devconf.hpp): the
// one place that changes `all`, `default` and devices' values, keeping
// Linux's propagation rules, and tells the family's DevconfListener.
// Sysctl::set/get and the Device constructor are its only callers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "netns/devconf.hpp"
#include "netns/result.hpp"

namespace netns {

struct DevconfStore {
  // A name of the form TREE.{all,default,IFNAME}.KEY, resolved.
  struct Target {
    DevconfId id;
    DevconfScope scope;
    Device* dev;  // for DevconfScope::device
  };
  // nullopt when `name` is no per-device knob, or names a device `net`
  // (null for a table on its own) does not have. IFNAME may be spelt with
  // '/' for '.', as sysctl(8) writes eth0.100.
  static std::optional<Target> parse(const Net* net, std::string_view name);
  static std::int32_t read(const Sysctl& sysctl, const Target& target);
  // invalid_argument (nothing changed) outside the key's bounds.
  static Result<void> write(Sysctl& sysctl, const Target& target, std::int32_t value);
  // write's changes, the value being within bounds.
  static void apply(Sysctl& sysctl, const Target& target, std::int32_t value);

  // The block a device created in the namespace of `sysctl` starts with:
  // null while every `default` is the table's, else a copy of `default`.
  static std::unique_ptr<DevconfDevice> for_new_device(const Sysctl& sysctl);
  static std::unique_ptr<DevconfNet> copy(const DevconfNet* from);
  // Device::set_mtu: values that follow the device's MTU follow it again
  // (NETDEV_CHANGEMTU sets IPv6's mtu6 to the new MTU).
  static void device_mtu_changed(Device& dev);
  // Recomputes dev's conf_on bits from its values and `all` of `sysctl`
  // (its namespace's): after it is made or moved, and after every write.
  static void refresh(Device& dev, const Sysctl& sysctl);

  // net.ipv6.conf.{all,default,IFNAME}.stable_secret, Linux's
  // addrconf_sysctl_stable_secret: an IPv6 address as text, "2001:db8::1"
  // (no scope), read back in full, "2001:0db8:0000:...:0001". nullopt when
  // `name` is no such name of the namespace. io_error (Linux's EIO), with
  // nothing changed: `all` (never read nor written), a read before any
  // write, text that is no address. Writing `default` turns addr_gen_mode
  // 2 on for every device, writing a device's for that device, as Linux
  // does: neither makes an address now; the next link-local or SLAAC
  // address is made from the secret.
  static std::optional<Result<void>> write_stable_secret(Sysctl& sysctl, std::string_view name,
                                                         std::string_view text);
  static std::optional<Result<std::string>> read_stable_secret(const Sysctl& sysctl, std::string_view name);

  // ipv6_gen_mode_random_init: dev's own stable_secret set to `secret`
  // (drawn at random by the caller), nothing else changed.
  static void give_stable_secret(Device& dev, const std::array<std::uint8_t, 16>& secret);

  // The names of `key` for `all`/`default`, "net.ipv4.conf.all.rp_filter".
  static std::string name(DevconfId id, std::string_view scope);
};

}  // namespace netns
