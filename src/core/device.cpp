// The Device base: naming, state, the backlog, and the checked control-plane entries.
#include "netns/device.hpp"

#include <algorithm>
#include <cstddef>
#include <unordered_map>
#include <unordered_set>

#include "core/builtin.hpp"
#include "core/device_internal.hpp"
#include "core/devconf.hpp"
#include "core/link_faults.hpp"
#include "netns/host.hpp"
#include "netns/wire/ethernet.hpp"

namespace netns {

std::string_view to_string(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::loopback: return "loopback";
    case DeviceKind::veth: return "veth";
    case DeviceKind::channel: return "channel";
    case DeviceKind::bridge: return "bridge";
    case DeviceKind::macvlan: return "macvlan";
    case DeviceKind::tap: return "tap";
    case DeviceKind::dpdk: return "dpdk";
  }
  return "unknown";
}

bool is_valid_device_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxDeviceName || name == "." || name == "..") return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    return c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\0';
  });
}

Device::Device(Net& net, std::string_view name, DeviceKind kind, MacAddress mac, std::uint32_t mtu)
    : net_(&net), kind_(kind), mac_(mac), mtu_(mtu), host_(&net.host()),
      conf_(DevconfStore::for_new_device(net.sysctl())) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"  // GCC lays a class with a vtable out as any other
  static_assert(offsetof(Device, host_) + sizeof(host_) <= 64, "what a frame reads of a Device fits line 0");
#pragma GCC diagnostic pop
  set_name(name);
  DevconfStore::refresh(*this, net.sysctl());
}

Device::~Device() {
  // Links go when a device unregisters; one freed without registering (a
  // kind's set-up failing midway) still leaves no neighbour pointing at it.
  for (Device* upper : uppers_) std::erase(upper->lowers_, this);
  for (Device* lower : lowers_) {
    std::erase(lower->uppers_, this);
    if (lower->master_ == this) lower->master_ = nullptr;
  }
}

void Device::set_name(std::string_view name) {
  // An over-long name is stored empty, so registration refuses it as invalid.
  name_len_ = name.size() <= kMaxDeviceName ? static_cast<std::uint8_t>(name.size()) : 0;
  std::copy_n(name.begin(), name_len_, name_.begin());
}

Result<void> Device::set_mtu(std::uint32_t mtu) {
  constexpr std::uint32_t kEthMinMtu = 68;
  if (mtu < kEthMinMtu || mtu > max_mtu()) return error(Errc::invalid_argument);
  if (mtu == mtu_) return {};
  if (auto applied = on_mtu_change(mtu); !applied) return applied.error();
  mtu_ = mtu;
  DevconfStore::device_mtu_changed(*this);
  net().host().notify(NetdevEvent::mtu_changed, *this);
  return {};
}

Result<void> Device::set_mac(MacAddress mac) {
  if (mac.is_multicast() || mac.is_zero()) return error(Errc::invalid_argument);
  if (auto ok = prepare_mac(mac); !ok) return ok;
  mac_ = mac;
  net().host().notify(NetdevEvent::address_changed, *this);
  return {};
}

void Device::transmit(Packet frame) {
  if (!up_ || unregistering_ || !frame || frame.empty()) {
    ++stats_.tx_dropped;
    return;
  }
  if (frame.checksum_partial && !offloads_checksum()) frame.finish_transport_checksum(wire::EthernetView::kHeaderLen);
  if (faults_) {
    faults_->transmit(std::move(frame));
    return;
  }
  xmit_observed(std::move(frame));
}

void Device::set_carrier(bool on) {
  const bool was = is_running();
  carrier_ = on;
  if (is_running() != was) propagate_running(*this);
}

// ---- stacking: Linux's adjacency lists, levels and linkwatch ----

namespace {

enum class Toward : std::uint8_t { uppers, lowers };

std::span<Device* const> next_to(const Device& dev, Toward side) {
  return side == Toward::uppers ? dev.uppers() : dev.lowers();
}

// Whether `target` is somewhere beyond `from` on one side (__netdev_has_upper_dev
// walks the same way). Iterative, each device once: the stacks below a
// bridge share devices, so a walk without a visited set could revisit one
// exponentially often.
bool reaches(const Device& from, const Device& target, Toward side) {
  std::vector<const Device*> todo{&from};
  std::unordered_set<const Device*> seen{&from};
  while (!todo.empty()) {
    const Device* dev = todo.back();
    todo.pop_back();
    for (const Device* next : next_to(*dev, side)) {
      if (next == &target) return true;
      if (seen.insert(next).second) todo.push_back(next);
    }
  }
  return false;
}

// How many devices the longest chain from `dev` holds on one side, `dev`
// included: Linux's upper_level and lower_level. The recursion is as deep as
// a stack is high, which link_upper keeps at kMaxNestDevices; past that the
// answer is only "too high", so it stops there whatever the links say.
std::size_t level(const Device& dev, Toward side, std::unordered_map<const Device*, std::size_t>& memo,
                  std::size_t depth = 1) {
  if (depth > kMaxNestDevices) return kMaxNestDevices + 1;
  if (auto it = memo.find(&dev); it != memo.end()) return it->second;
  std::size_t longest = 0;
  for (const Device* next : next_to(dev, side)) longest = std::max(longest, level(*next, side, memo, depth + 1));
  memo.emplace(&dev, longest + 1);
  return longest + 1;
}

std::size_t level(const Device& dev, Toward side) {
  std::unordered_map<const Device*, std::size_t> memo;
  return level(dev, side, memo);
}

bool any_running(std::span<Device* const> devs) {
  return std::any_of(devs.begin(), devs.end(), [](const Device* d) { return d->is_running(); });
}

}  // namespace

// Linux's linkwatch and the NETDEV_CHANGE notifiers of stacked drivers, in
// one place: `from` started or stopped running, and every device above it
// follows, each from its own lowers (netif_stacked_transfer_operstate,
// br_port_carrier_check). Breadth first over a list, never recursion, so the
// stack's height costs no stack. A single change moves every running state
// above it the same way (a stacked device runs while any lower does), so
// each device changes at most once and the list holds each at most once.
void propagate_running(Device& from) {
  if (from.uppers_.empty()) return;
  std::vector<Device*> changed{&from};
  for (std::size_t i = 0; i < changed.size(); ++i) {
    Device& lower = *changed[i];
    for (Device* upper : lower.uppers_) {
      if (upper->follow_lowers(lower)) changed.push_back(upper);
    }
  }
}

bool Device::follow_lowers(Device& lower) {
  const bool was = is_running();
  carrier_ = any_running(lowers_);
  on_lower_change(lower);
  return is_running() != was;
}

Result<void> link_upper(Device& lower, Device& upper, bool master) {
  if (lower.unregistering_ || upper.unregistering_) return error(Errc::no_such_device);
  // __netdev_upper_dev_link's checks, in its order and with its errors.
  if (&lower == &upper || reaches(upper, lower, Toward::uppers)) return error(Errc::device_or_resource_busy);
  if (level(lower, Toward::lowers) + level(upper, Toward::uppers) > kMaxNestDevices) {
    return error(Errc::too_many_links);
  }
  if (master && lower.master_ != nullptr) {
    return error(lower.master_ == &upper ? Errc::file_exists : Errc::device_or_resource_busy);
  }
  if (!master && reaches(lower, upper, Toward::uppers)) return error(Errc::file_exists);
  lower.uppers_.push_back(&upper);
  upper.lowers_.push_back(&lower);
  if (master) lower.master_ = &upper;
  lower.on_upper_change(upper);
  if (upper.follow_lowers(lower)) propagate_running(upper);
  return {};
}

void unlink_upper(Device& lower, Device& upper) {
  auto at = std::find(lower.uppers_.begin(), lower.uppers_.end(), &upper);
  if (at == lower.uppers_.end()) return;
  lower.uppers_.erase(at);
  std::erase(upper.lowers_, &lower);
  if (lower.master_ == &upper) lower.master_ = nullptr;
  lower.on_upper_change(upper);
  if (upper.follow_lowers(lower)) propagate_running(upper);
}

Result<void> Device::set_rx_handler(RxHandler& handler) {
  if (rx_handler_ != nullptr && rx_handler_ != &handler) return error(Errc::device_or_resource_busy);
  rx_handler_ = &handler;
  return {};
}

void Device::add_observer(FrameObserver& observer) {
  if (std::find(observers_.begin(), observers_.end(), &observer) == observers_.end()) {
    observers_.push_back(&observer);
  }
  observed_ = true;
}

void Device::remove_observer(FrameObserver& observer) {
  std::erase(observers_, &observer);
  observed_ = !observers_.empty();
}

void Device::receive(Packet frame) { host_->rx().enqueue(*this, std::move(frame)); }

void Device::deliver_now(Packet frame) {
  if (!up_ || unregistering_ || !frame) {
    ++stats_.rx_dropped;
    return;
  }
  rx_hook_.count_rx(frame.size());
  host_->rx().deliver_frame(*this, std::move(frame));
}

void Device::drop_backlog() {
  // Frames held by link faults are in flight too: never seen after a move.
  if (faults_) faults_->drop_held();
  host_->rx().drop_backlog(*this);
}

Result<void> set_link_up(Device& dev, bool up) {
  if (dev.unregistering_) return error(Errc::no_such_device);
  if (dev.up_ == up) return {};
  const bool was_running = dev.is_running();
  dev.up_ = up;
  // A device going down loses what it had queued, as dev_deactivate does.
  if (!up) dev.drop_backlog();
  // The kind may change its own carrier here too (a DPDK port reads its link).
  dev.on_updown();
  if (dev.is_running() != was_running) propagate_running(dev);
  dev.net().host().notify(up ? NetdevEvent::up : NetdevEvent::down, dev);
  return {};
}

void unregister_and_free(Device& dev) {
  if (dev.unregistering_) return;  // already on its way (a veth peer mid-teardown)
  (void)set_link_up(dev, false);
  Host& host = dev.net().host();
  // Set before the listeners hear NetdevEvent::unregistering, so they can
  // tell a device going away from one moving (is_unregistering()).
  dev.unregistering_ = true;
  std::unique_ptr<Device> owned = dev.net().unregister_device(dev);
  owned->on_unregister();
  // The kinds undid their links above (a bridge releasing its ports, a
  // macvlan leaving its lower); whatever is left goes too, so no device
  // keeps a pointer to one that is gone.
  while (!dev.uppers_.empty()) unlink_upper(dev, *dev.uppers_.back());
  while (!dev.lowers_.empty()) unlink_upper(*dev.lowers_.back(), dev);
  host.retire_device(std::move(owned));
}

Result<void> destroy_device(Device& dev) {
  if (dev.kind() == DeviceKind::loopback) return error(Errc::operation_not_permitted);
  if (dev.unregistering_) return error(Errc::no_such_device);
  unregister_and_free(dev);
  return {};
}

Result<void> change_net_namespace(Device& dev, Net& to, std::string_view name) {
  if (&dev.net() == &to && name == dev.name()) return {};
  // Asked before anything changes: past unregister_device there is no way back.
  if (auto free = to.check_new_device(name); !free) return free;
  if (dev.is_up()) (void)set_link_up(dev, false);  // Linux closes the device first
  const int ifindex = dev.ifindex_;
  std::unique_ptr<Device> owned = dev.net().unregister_device(dev);
  owned->set_name(name);
  // Cannot fail: the name was found free above, and an ifindex always is.
  auto registered = to.register_device(std::move(owned), ifindex);
  if (!registered) return registered.error();
  DevconfStore::refresh(**registered, to.sysctl());  // its values, combined with its new namespace's `all`
  (*registered)->on_moved();
  return {};
}

MacAddress random_mac(Host& host) {
  std::uint64_t r = host.next_random();
  MacAddress mac;
  for (std::size_t i = 0; i < 6; ++i) mac.octets[i] = static_cast<std::uint8_t>(r >> (8 * i));
  mac.octets[0] = static_cast<std::uint8_t>((mac.octets[0] & 0xfe) | 0x02);  // unicast, local
  return mac;
}

namespace {

// Linux's default_device_exit: when a namespace dies its devices die with it,
// except those whose kind says they go home to init_net (netns_refund).
class DefaultDeviceOps final : public PernetOps {
 public:
  Result<void> init(Net&) override { return {}; }
  void exit(Net& net) override {
    // Each step removes the device from `net` (moved or destroyed, a veth
    // with its peer), so this ends; no pointer outlives a step.
    while (Device* dev = first_non_loopback(net)) {
      if (dev->netns_refund() && send_home(*dev, net)) continue;
      unregister_and_free(*dev);
    }
  }

 private:
  static Device* first_non_loopback(Net& net) {
    for (Device& dev : net.devices()) {
      if (dev.kind() != DeviceKind::loopback) return &dev;
    }
    return nullptr;
  }
  static bool send_home(Device& dev, Net& net) {
    Net* home = dev.net().host().home_net();
    if (home == nullptr || home == &net || home->is_dying()) return false;
    std::string name(dev.name());
    if (!home->name_free(name)) name = home->unique_name("dev%d");
    return !name.empty() && dev.net().host().move_device(dev, *home, name).has_value();
  }
};

}  // namespace

std::unique_ptr<PernetOps> make_default_device_ops(Host&) {
  return std::make_unique<DefaultDeviceOps>();
}

}  // namespace netns
