// The Device base: naming, state, the backlog, and the checked control-plane entries.
#include "netns/device.hpp"

#include <algorithm>

#include "core/builtin.hpp"
#include "core/device_internal.hpp"
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
    : net_(&net), kind_(kind), mac_(mac), mtu_(mtu) {
  set_name(name);
}

Device::~Device() = default;

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

Result<void> Device::set_rx_handler(RxHandler& handler) {
  if (rx_handler_ != nullptr && rx_handler_ != &handler) return error(Errc::device_or_resource_busy);
  rx_handler_ = &handler;
  return {};
}

void Device::add_observer(FrameObserver& observer) {
  if (std::find(observers_.begin(), observers_.end(), &observer) == observers_.end()) {
    observers_.push_back(&observer);
  }
}

void Device::remove_observer(FrameObserver& observer) { std::erase(observers_, &observer); }

void Device::receive(Packet frame) {
  if (!up_ || unregistering_ || !frame) {
    ++stats_.rx_dropped;
    return;
  }
  backlog_.set_capacity(
      static_cast<std::size_t>(net_->sysctl().value(SysctlId::core_netdev_max_backlog)));
  std::size_t bytes = frame.size();
  if (!backlog_.push(std::move(frame))) {
    ++stats_.rx_dropped;
    return;
  }
  ++stats_.rx_packets;
  stats_.rx_bytes += bytes;
  if (!ready_) net_->host().add_ready(*this);
}

void Device::deliver_now(Packet frame) {
  if (!up_ || unregistering_ || !frame) {
    ++stats_.rx_dropped;
    return;
  }
  ++stats_.rx_packets;
  stats_.rx_bytes += frame.size();
  net_->host().deliver_frame(*this, std::move(frame));
}

void Device::drop_backlog() {
  // Frames held by link faults are in flight too: never seen after a move.
  if (faults_) faults_->drop_held();
  stats_.rx_dropped += backlog_.size();
  backlog_.clear();
  net_->host().remove_ready(*this);
}

Result<void> set_link_up(Device& dev, bool up) {
  if (dev.unregistering_) return error(Errc::no_such_device);
  if (dev.up_ == up) return {};
  dev.up_ = up;
  // A device going down loses what it had queued, as dev_deactivate does.
  if (!up) dev.drop_backlog();
  dev.on_updown();
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
  host.retire_device(std::move(owned));
}

Result<void> destroy_device(Device& dev) {
  if (dev.kind() == DeviceKind::loopback) return error(Errc::operation_not_permitted);
  if (dev.unregistering_) return error(Errc::no_such_device);
  unregister_and_free(dev);
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

// Linux's default_device_exit: when a namespace dies its virtual devices die
// with it and devices backed by something real (tap, dpdk) go home to init_net.
class DefaultDeviceOps final : public PernetOps {
 public:
  Result<void> init(Net&) override { return {}; }
  void exit(Net& net) override {
    // Each step removes the device from `net` (moved or destroyed, a veth
    // with its peer), so this ends; no pointer outlives a step.
    while (Device* dev = first_non_loopback(net)) {
      if (goes_home(*dev) && send_home(*dev, net)) continue;
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
  static bool goes_home(const Device& dev) {
    return dev.kind() == DeviceKind::tap || dev.kind() == DeviceKind::dpdk;
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
