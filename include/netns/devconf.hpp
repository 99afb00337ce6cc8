// netns/devconf.hpp — per-device sysctls, net.FAMILY.conf.{all,default,IFNAME}.KEY,
// with Linux's semantics (ipv4_devconf / in_device->cnf, ipv6_devconf /
// inet6_dev->cnf).
//
//   net.sysctl().set("net.ipv4.conf.all.rp_filter", "1");       // through Sysctl, as /proc/sys
//   net.sysctl().get("net.ipv4.conf.eth0.forwarding");          // the device's own value
//   device_conf(net.sysctl(), dev, DevconfId::ipv4_rp_filter);  // what the stack acts on
//
// Every key has three kinds of value: `all` and `default` per namespace, and
// the device's own. A device takes `default`'s values when it is created;
// writing `default` later changes the devices that never wrote the key
// themselves when the key says so (IPv4's devinet_copy_dflt_conf), and
// writing `all` of a key like forwarding writes `default` and every device
// too (inet_forward_change). What the stack acts on combines `all` with the
// device's value as the key's row says (IN_DEV_ANDCONF, ORCONF, MAXCONF...).
//
// Costs: a namespace that never wrote an `all` or `default` value holds one
// null pointer for all of them (Sysctl), and a device whose values are all
// the table's defaults another (Device); both blocks are made on the first
// write that needs them. Reading a value on the packet path is a pointer
// load, a branch and an indexed load: no name, no hash, no lookup.
//
// A device keeps its values when it is renamed and when it moves to another
// namespace (as issue 13 asks; Linux gives a moved device the new
// namespace's defaults instead); they go when it is destroyed.
//
// How a layer registers its set of keys (the IPv6 layer's net.ipv6.conf.*):
//   1. append its keys to DevconfId, grouped after the other families' and
//      named FAMILY_KEY (ipv6_forwarding, ipv6_accept_ra...);
//   2. append one row per key to kDevconfTable, in the same order, with
//      Linux's name, defaults, bounds, how `all` and the device combine and
//      whether writes to `default` or `all` propagate;
//   3. to act when a value changes (disable_ipv6 bringing the layer down on
//      a device, forwarding turning router behaviour on), implement
//      DevconfListener and install it on the Host for its family with
//      Host::set_devconf_listener (netns/host.hpp) at construction, removing
//      it before it is destroyed;
//   4. give every new name a scenario in tests/core/sysctl_walk_test.cpp.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>

#include "netns/device.hpp"
#include "netns/sysctl.hpp"

namespace netns {

enum class DevconfFamily : std::uint8_t { ipv4, ipv6, count_ };

// The tree each family's names live under.
inline constexpr std::array<std::string_view, static_cast<std::size_t>(DevconfFamily::count_)> kDevconfTrees{
    "net.ipv4.conf", "net.ipv6.conf"};

// How the value the stack acts on is made of `all` and the device's own.
enum class DevconfCombine : std::uint8_t {
  own,     // the device's alone (IN_DEV_FORWARD; IPv6 reads idev->cnf)
  both,    // IN_DEV_ANDCONF: the device's value when `all` is on too, else 0
  either,  // IN_DEV_ORCONF: `all`'s value when on, else the device's
  max,     // IN_DEV_MAXCONF: the larger (rp_filter)
  // IN_DEV_RX_REDIRECTS: `both` while the device forwards, `either` otherwise.
  both_if_forwarding,
};

struct DevconfInfo {
  DevconfFamily family;
  std::string_view name;  // "rp_filter": TREE.{all,default,IFNAME}.NAME
  std::int32_t all, dflt;  // Linux's defaults of `all` and `default`
  std::int32_t min, max;
  DevconfCombine combine;
  // A write to `default` also changes every device that never wrote the key
  // itself (IPv4's devinet_copy_dflt_conf; not IPv6, not forwarding).
  bool default_propagates;
  // A write to `all` also writes `default` and every device's value
  // (forwarding: inet_forward_change, addrconf_fixup_forwarding).
  bool all_propagates;
  // A kSysctlTable row that is the same value as `all` (net.ipv4.ip_forward
  // is all.forwarding): writing either writes both; count_ for none.
  SysctlId all_alias = SysctlId::count_;
  // `all` is a row Linux keeps but acts on nothing (most of IPv6's keys:
  // the stack reads idev->cnf alone). Written and read back, never used.
  bool all_inert = false;
  // A device's value is its MTU until written, and again after each change
  // of its MTU (IPv6's mtu6: ipv6_add_dev, NETDEV_CHANGEMTU); a device's
  // value is bounded by its MTU; `default` is never copied to a device.
  bool follows_device_mtu = false;
  // Values within [min, max] refused while no stable_secret applies, one
  // bit each for 0..31 (addr_gen_mode 2, stable privacy: Linux's
  // check_stable_privacy wants the device's or `default`'s secret).
  std::uint32_t needs_secret = 0;
};

inline constexpr std::int32_t kDevconfIntMax = 0x7fffffff;

// Rows in DevconfId order; grouped by family.
inline constexpr std::array<DevconfInfo, static_cast<std::size_t>(DevconfId::count_)> kDevconfTable{{
    // net.ipv4.conf (net/ipv4/devinet.c: ipv4_devconf, ipv4_devconf_dflt)
    {DevconfFamily::ipv4, "forwarding", 0, 0, 0, 1, DevconfCombine::own, false, true, SysctlId::ip_forward},
    {DevconfFamily::ipv4, "rp_filter", 0, 0, 0, 2, DevconfCombine::max, true, false},
    {DevconfFamily::ipv4, "accept_redirects", 1, 1, 0, 1, DevconfCombine::both_if_forwarding, true, false},
    {DevconfFamily::ipv4, "send_redirects", 1, 1, 0, 1, DevconfCombine::either, true, false},
    // all 0 and default 1: a device reads 1 while the AND refuses source routes.
    {DevconfFamily::ipv4, "accept_source_route", 0, 1, 0, 1, DevconfCombine::both, true, false},
    {DevconfFamily::ipv4, "accept_local", 0, 0, 0, 1, DevconfCombine::either, true, false},
    {DevconfFamily::ipv4, "log_martians", 0, 0, 0, 1, DevconfCombine::either, true, false},
    // net.ipv6.conf (net/ipv6/addrconf.c: ipv6_devconf, ipv6_devconf_dflt):
    // a device acts on its own value, `default` is copied when it is
    // created and reaches no existing device. Linux bounds only hop_limit,
    // mtu and addr_gen_mode; netns bounds the others to the values that
    // mean something (dad_transmits to Linux's u8 probe counter).
    {DevconfFamily::ipv6, "disable_ipv6", 0, 0, 0, 1, DevconfCombine::own, false, true},
    // addrconf_fixup_forwarding: `all` writes `default` and every device;
    // ip6_forward forwards only while `all` is on; a device's own value is
    // its router behaviour (NDP's router flag, all-routers, RAs ignored).
    {DevconfFamily::ipv6, "forwarding", 0, 0, 0, 1, DevconfCombine::own, false, true},
    // ipv6_accept_ra: 1 while not forwarding, 2 even when forwarding.
    {DevconfFamily::ipv6, "accept_ra", 1, 1, 0, 2, DevconfCombine::own, false, false, SysctlId::count_, true},
    {DevconfFamily::ipv6, "autoconf", 1, 1, 0, 1, DevconfCombine::own, false, false, SysctlId::count_, true},
    // addrconf_dad_begin runs DAD when either says so; 2 also turns IPv6
    // off on the device when its EUI-64 link-local address is a duplicate
    // (addrconf_dad_failure, reading the device's own value).
    {DevconfFamily::ipv6, "accept_dad", 0, 1, 0, 2, DevconfCombine::max, false, false},
    {DevconfFamily::ipv6, "dad_transmits", 1, 1, 0, 255, DevconfCombine::own, false, false, SysctlId::count_, true},
    {DevconfFamily::ipv6, "hop_limit", 64, 64, 1, 255, DevconfCombine::own, false, false, SysctlId::count_, true},
    // addrconf_sysctl_mtu: IPV6_MIN_MTU up to the device's MTU.
    {DevconfFamily::ipv6, "mtu", 1280, 1280, 1280, kDevconfIntMax, DevconfCombine::own, false, false,
     SysctlId::count_, true, true},
    // addrconf_sysctl_addr_gen_mode: 0 EUI-64, 1 none, 2 stable privacy
    // (RFC 7217), 3 random; `all` writes `default` and every device. 2 is
    // refused on a device with neither its own stable_secret nor
    // `default`'s, as Linux refuses it; on `all` and `default` (which Linux
    // takes unchecked) netns wants `default`'s, so no device is left in a
    // mode that makes no address.
    {DevconfFamily::ipv6, "addr_gen_mode", 0, 0, 0, 3, DevconfCombine::own, false, true, SysctlId::count_, false,
     false, 1u << 2},
}};

inline constexpr std::size_t kDevconfCount = kDevconfTable.size();
static_assert(kDevconfCount <= 32, "DevconfDevice::written and Device::conf_on are one bit per key");

// What a device's own value is before it is written: `default`'s, or for a
// key that follows the device's MTU, 0 (read as the MTU itself).
constexpr std::int32_t devconf_device_default(const DevconfInfo& row) { return row.follows_device_mtu ? 0 : row.dflt; }
static_assert(!kDevconfTable.back().name.empty(), "every DevconfId has its row");

constexpr const DevconfInfo& devconf_info(DevconfId id) { return kDevconfTable[static_cast<std::size_t>(id)]; }

// A device's own values, once one differs from the table's defaults.
struct DevconfDevice {
  std::uint64_t written = 0;  // bit per key written for this device (Linux's cnf.state)
  std::array<std::int32_t, kDevconfCount> values;
  // net.ipv6.conf.IFNAME.stable_secret: `default`'s when the device was
  // made (ipv6_add_dev copies the whole of default's cnf), written, or
  // drawn at random for addr_gen_mode 3 (ipv6_gen_mode_random_init).
  StableSecret stable_secret;
};

// `all`'s value.
inline std::int32_t devconf_all(const Sysctl& sysctl, DevconfId id) {
  const DevconfNet* n = sysctl.devconf();
  return n != nullptr ? n->all[static_cast<std::size_t>(id)] : devconf_info(id).all;
}

// `default`'s value.
inline std::int32_t devconf_default(const Sysctl& sysctl, DevconfId id) {
  const DevconfNet* n = sysctl.devconf();
  return n != nullptr ? n->dflt[static_cast<std::size_t>(id)] : devconf_info(id).dflt;
}

// The device's own value, as net.FAMILY.conf.IFNAME.KEY reads.
inline std::int32_t devconf_own(const Device& dev, DevconfId id) {
  const DevconfInfo& row = devconf_info(id);
  const DevconfDevice* d = dev.devconf();
  const std::int32_t v = d != nullptr ? d->values[static_cast<std::size_t>(id)] : devconf_device_default(row);
  if (row.follows_device_mtu && v == 0) return static_cast<std::int32_t>(dev.mtu());
  return v;
}

// What the stack acts on for `dev` (of the namespace `sysctl` belongs to).
// Inline with a constant id, the switch folds away.
inline std::int32_t device_conf(const Sysctl& sysctl, const Device& dev, DevconfId id) {
  const std::int32_t own = devconf_own(dev, id);
  DevconfCombine combine = devconf_info(id).combine;
  if (combine == DevconfCombine::own) return own;
  const std::int32_t all = devconf_all(sysctl, id);
  if (combine == DevconfCombine::both_if_forwarding) {
    const DevconfId forwarding =
        devconf_info(id).family == DevconfFamily::ipv4 ? DevconfId::ipv4_forwarding : id;
    combine = devconf_own(dev, forwarding) != 0 ? DevconfCombine::both : DevconfCombine::either;
  }
  switch (combine) {
    case DevconfCombine::both: return all != 0 && own != 0 ? own : 0;
    case DevconfCombine::either: return all != 0 ? all : own;
    case DevconfCombine::max: return std::max(all, own);
    default: return own;
  }
}

// Whether device_conf(sysctl, dev, id) is nonzero, for the namespace `dev`
// is in: one bit of the Device, for the packet path's common questions
// (does this device forward? does it filter reverse paths at all?).
inline bool device_conf_on(const Device& dev, DevconfId id) { return dev.conf_on(static_cast<std::size_t>(id)); }

// The RFC 7217 secret dev's stable privacy addresses are made from: its
// own, else `default`'s (ipv6_generate_stable_address); null for none.
inline const std::array<std::uint8_t, 16>* device_stable_secret(const Sysctl& sysctl, const Device& dev) {
  if (const DevconfDevice* d = dev.devconf(); d != nullptr && d->stable_secret) return &*d->stable_secret;
  if (const DevconfNet* n = sysctl.devconf(); n != nullptr && n->stable_secret) return &*n->stable_secret;
  return nullptr;
}

// Where a write landed, for a DevconfListener.
enum class DevconfScope : std::uint8_t { all, dflt, device };

// A layer acting on its family's values: told after each value changed
// (never for a write of the value already there), once per value, so a
// write to all.forwarding calls it for `all`, `default` and each device
// (dev is null for `all` and `default`). It must not write devconf values
// itself.
class DevconfListener {
 public:
  virtual ~DevconfListener() = default;
  virtual void on_devconf_change(Net& net, DevconfScope scope, Device* dev, DevconfId id, std::int32_t value) = 0;
};

}  // namespace netns
