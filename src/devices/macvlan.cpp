// macvlan: children with their own MAC addresses on a lower device, after
// Linux's drivers/net/macvlan.c (macvlan_port, macvlan_handle_frame,
// macvlan_queue_xmit, macvlan_broadcast).
#include "netns/macvlan.hpp"

#include <algorithm>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/device_internal.hpp"
#include "devices/macvlan_ops.hpp"
#include "netns/host.hpp"
#include "netns/wire/ethernet.hpp"
#include "stack/builtins.hpp"

namespace netns {

// Internals with external linkage: MacvlanOps, which the composition root
// owns, names the port.
namespace macvlan {

constexpr std::uint16_t kEtherTypePause = 0x8808;  // 802.3x flow control: never flooded
constexpr std::size_t kLinkHeader = 14 + 4;        // Ethernet plus one VLAN tag

// Linux's macvlan_mode bits, so a flood names the modes it reaches as a mask.
constexpr unsigned mode_bit(MacvlanMode mode) { return 1u << static_cast<unsigned>(mode); }
constexpr unsigned kAllModes =
    mode_bit(MacvlanMode::private_) | mode_bit(MacvlanMode::vepa) | mode_bit(MacvlanMode::bridge);

class Macvlan;
class MacvlanPort;

// Linux's macvlan_port: the one rx handler of a lower device, shared by all
// its children, owned by them together (the last one gone, it lets go of the
// lower). The lower stays alive while the port has children: destroying the
// lower destroys them first (MacvlanOps).
class MacvlanPort final : public RxHandler, public std::enable_shared_from_this<MacvlanPort> {
 public:
  MacvlanPort(Device& lower, MacvlanOps& ops) : lower_(&lower), ops_(&ops) {}

  // The port `lower` already has, or a new one not yet attached;
  // device_or_resource_busy when another rx handler holds the lower.
  static Result<std::shared_ptr<MacvlanPort>> of(Device& lower, MacvlanOps& ops) {
    if (MacvlanPort* port = ops.port_of(lower)) return port->shared_from_this();
    if (lower.rx_handler() != nullptr) return error(Errc::device_or_resource_busy);
    return std::make_shared<MacvlanPort>(lower, ops);
  }

  // Null once the last child left.
  Device* lower() const { return lower_; }
  std::size_t child_count() const { return children_.size(); }

  // macvlan_addr_busy: a sibling's address, or the lower's.
  bool mac_busy(MacAddress mac, const Macvlan* except) const {
    if (lower_ != nullptr && lower_->mac() == mac) return true;
    auto it = by_mac_.find(mac);
    return it != by_mac_.end() && it->second != except;
  }
  MacAddress free_mac(Host& host) const;

  // The child's MAC must be free (mac_busy); the first child attaches the port.
  void add(Macvlan& child);
  void remove(Macvlan& child);
  Result<void> rekey(Macvlan& child, MacAddress mac);

  // macvlan_handle_frame: a frame the lower received.
  RxResult handle_frame(Device& lower, Packet& frame) override;
  // macvlan_queue_xmit: a frame a child sends.
  void dispatch_from(Macvlan& child, Packet frame);

  // The lower is being destroyed: so is every child (macvlan_device_event, NETDEV_UNREGISTER).
  void destroy_children();
  // The lower's MTU changed: no child may stay above it (NETDEV_CHANGEMTU).
  void cap_mtu();

 private:
  Macvlan* find(MacAddress mac) const {
    auto it = by_mac_.find(mac);
    return it != by_mac_.end() ? it->second : nullptr;
  }
  // macvlan_broadcast: a shared copy to every child in `modes` but `except`.
  void flood(const Packet& frame, const Macvlan* except, unsigned modes);
  RxResult process_group(const wire::EthernetView& eth, Packet& frame);

  Device* lower_;
  MacvlanOps* ops_;
  std::vector<Macvlan*> children_;  // creation order, so floods are deterministic
  std::unordered_map<MacAddress, Macvlan*> by_mac_;
};

class Macvlan final : public Device {
 public:
  Macvlan(Net& net, std::string_view name, MacAddress mac, std::shared_ptr<MacvlanPort> port,
          MacvlanMode mode)
      : Device(net, name, DeviceKind::macvlan, mac, port->lower()->mtu()),
        port_(std::move(port)),
        mode_(mode) {
    set_carrier(false);  // until it is stacked on the lower: then it follows it
  }

  MacvlanMode mode() const { return mode_; }
  void set_mode(MacvlanMode mode) { mode_ = mode; }
  MacvlanPort& port() const { return *port_; }

  // For the port: the device's counters and the kind's helpers.
  void count_sent(std::size_t bytes) { count_tx(bytes); }
  void count_tx_drop() { ++stats_.tx_dropped; }

 private:
  std::uint32_t max_mtu() const override {
    return port_->lower() != nullptr ? port_->lower()->mtu() : mtu();
  }
  // Everything a child sends ends in this stack or in the lower's transmit,
  // which fills a checksum the lower cannot leave unfinished.
  bool offloads_checksum() const override {
    return port_->lower() != nullptr && port_->lower()->offloads_checksum();
  }
  Result<void> prepare_mac(MacAddress mac) override { return port_->rekey(*this, mac); }
  void xmit(Packet frame) override { port_->dispatch_from(*this, std::move(frame)); }
  void on_unregister() override { port_->remove(*this); }

  std::shared_ptr<MacvlanPort> port_;
  MacvlanMode mode_;
};

MacAddress MacvlanPort::free_mac(Host& host) const {
  // eth_hw_addr_random; a collision among 2^46 addresses is next to impossible, retried anyway.
  MacAddress mac = random_mac(host);
  for (int tries = 0; tries < 16 && mac_busy(mac, nullptr); ++tries) mac = random_mac(host);
  return mac;
}

void MacvlanPort::add(Macvlan& child) {
  // The first child attaches: of() checked that no other handler holds the lower.
  if (children_.empty()) {
    (void)lower_->set_rx_handler(*this);
    ops_->attach(*lower_, *this);
  }
  children_.push_back(&child);
  by_mac_.emplace(child.mac(), &child);
}

void MacvlanPort::remove(Macvlan& child) {
  if (lower_ != nullptr) unlink_upper(*lower_, child);
  std::erase(children_, &child);
  auto it = by_mac_.find(child.mac());
  if (it != by_mac_.end() && it->second == &child) by_mac_.erase(it);
  if (!children_.empty() || lower_ == nullptr) return;
  // macvlan_port_destroy: the lower is free for a bridge again.
  if (lower_->rx_handler() == this) lower_->clear_rx_handler();
  ops_->detach(*lower_);
  lower_ = nullptr;
}

Result<void> MacvlanPort::rekey(Macvlan& child, MacAddress mac) {
  if (mac == child.mac()) return {};
  if (mac_busy(mac, &child)) return error(Errc::address_in_use);  // macvlan_set_mac_address: EADDRINUSE
  by_mac_.erase(child.mac());
  by_mac_.emplace(mac, &child);
  return {};
}

void MacvlanPort::flood(const Packet& frame, const Macvlan* except, unsigned modes) {
  for (Macvlan* child : children_) {
    if (child == except || (mode_bit(child->mode()) & modes) == 0) continue;
    Packet copy = frame.share();  // the same bytes: no copy
    copy.device = nullptr;
    copy.scrub(&child->net() != &lower_->net());
    child->receive(std::move(copy));
  }
}

RxResult MacvlanPort::handle_frame(Device&, Packet& frame) {
  // The Host checked the Ethernet header is there before calling the handler.
  auto eth = wire::EthernetView::checked(frame.data());
  if (!eth) return RxResult::pass;
  if (eth->dst().is_multicast()) return process_group(*eth, frame);
  Macvlan* child = find(eth->dst());
  if (child == nullptr) return RxResult::pass;  // the lower's own, or another host's
  // A down child drops it (receive counts rx_dropped), as Linux frees it.
  frame.device = nullptr;
  child->receive(std::move(frame));
  return RxResult::consumed;
}

RxResult MacvlanPort::process_group(const wire::EthernetView& eth, Packet& frame) {
  if (static_cast<std::uint16_t>(eth.ethertype()) == kEtherTypePause) return RxResult::pass;
  Macvlan* src = find(eth.src());
  if (src == nullptr) {
    flood(frame, nullptr, kAllModes);  // from an outside address: every child hears it
    return RxResult::pass;
  }
  switch (src->mode()) {
    case MacvlanMode::vepa:
      // Reflected by the outside switch: everyone but the sender, private children excepted.
      flood(frame, src, mode_bit(MacvlanMode::vepa) | mode_bit(MacvlanMode::bridge));
      return RxResult::pass;
    case MacvlanMode::bridge:
      // Bridge-mode siblings already had it on the way out.
      flood(frame, src, mode_bit(MacvlanMode::vepa));
      return RxResult::pass;
    case MacvlanMode::private_:
      break;
  }
  // A private child's own broadcast, reflected: back to the sender only,
  // and not to the lower ("forward to original port").
  frame.device = nullptr;
  src->receive(std::move(frame));
  return RxResult::consumed;
}

void MacvlanPort::dispatch_from(Macvlan& child, Packet frame) {
  auto eth = wire::EthernetView::checked(frame.data());
  if (!eth || lower_ == nullptr || !lower_->is_up()) {
    child.count_tx_drop();  // a runt, or a lower that cannot send
    return;
  }
  if (child.mode() == MacvlanMode::bridge) {
    if (eth->dst().is_multicast()) {
      if (static_cast<std::uint16_t>(eth->ethertype()) != kEtherTypePause) {
        flood(frame, &child, mode_bit(MacvlanMode::bridge));
      }
    } else if (Macvlan* dest = find(eth->dst()); dest != nullptr && dest->mode() == MacvlanMode::bridge) {
      // Straight to the sibling, whatever namespace it is in; dev_forward_skb's size check.
      if (frame.size() > dest->mtu() + kLinkHeader) {
        child.count_tx_drop();
        return;
      }
      child.count_sent(frame.size());
      frame.device = nullptr;
      frame.scrub(&dest->net() != &child.net());  // dev_forward_skb
      dest->receive(std::move(frame));
      return;
    }
  }
  child.count_sent(frame.size());
  lower_->transmit(std::move(frame));  // out of the lower, in whatever namespace it is
}

void MacvlanPort::destroy_children() {
  auto keep = shared_from_this();  // the last child's destruction must not free the port under us
  // Each step unregisters one child, which leaves children_; a child already
  // on its way out (unregistering) is skipped, so this ends.
  for (;;) {
    auto it = std::find_if(children_.rbegin(), children_.rend(),
                           [](const Macvlan* c) { return !c->is_unregistering(); });
    if (it == children_.rend()) break;
    unregister_and_free(**it);
  }
}

void MacvlanPort::cap_mtu() {
  if (lower_ == nullptr) return;
  for (Macvlan* child : children_) {
    // Below ETH_MIN_MTU the lower carries nothing anyway; the child keeps its MTU.
    if (child->mtu() > lower_->mtu()) (void)child->set_mtu(lower_->mtu());
  }
}

// Every DeviceKind::macvlan device is a Macvlan: only make_macvlan makes them.
Macvlan* as_macvlan(Device& dev) {
  return dev.kind() == DeviceKind::macvlan ? static_cast<Macvlan*>(&dev) : nullptr;
}
const Macvlan* as_macvlan(const Device& dev) {
  return dev.kind() == DeviceKind::macvlan ? static_cast<const Macvlan*>(&dev) : nullptr;
}

void MacvlanOps::on_netdev_event(NetdevEvent event, Device& dev) {
  if (ports_.empty()) return;
  MacvlanPort* port = port_of(dev);
  if (port == nullptr) return;
  // A lower moving to another namespace keeps its children, as in Linux
  // (only NETREG_UNREGISTERING destroys them).
  if (event == NetdevEvent::unregistering && dev.is_unregistering()) port->destroy_children();
  if (event == NetdevEvent::mtu_changed) port->cap_mtu();
}

}  // namespace macvlan

using macvlan::Macvlan;
using macvlan::MacvlanPort;
using macvlan::as_macvlan;

std::string_view to_string(MacvlanMode mode) {
  switch (mode) {
    case MacvlanMode::private_: return "private";
    case MacvlanMode::vepa: return "vepa";
    case MacvlanMode::bridge: return "bridge";
  }
  return "unknown";
}

Result<MacvlanMode> parse_macvlan_mode(std::string_view text) {
  if (text == "private") return MacvlanMode::private_;
  if (text == "vepa") return MacvlanMode::vepa;
  if (text == "bridge") return MacvlanMode::bridge;
  if (text == "passthru" || text == "source") return error(Errc::operation_not_supported);
  return error(Errc::invalid_argument);
}

Result<Device*> make_macvlan(Device& lower, Net& net, std::string_view name) {
  return make_macvlan(lower, net, name, MacvlanMode::vepa);  // Linux's default mode
}

Result<Device*> make_macvlan(Device& lower_given, Net& net, std::string_view name, MacvlanMode mode) {
  Device* lower = &lower_given;
  // A macvlan on a macvlan stacks on the real lower (macvlan_common_newlink).
  if (Macvlan* parent = as_macvlan(*lower)) {
    if (parent->port().lower() == nullptr) return error(Errc::no_such_device);
    lower = parent->port().lower();
  }
  if (lower->is_unregistering()) return error(Errc::no_such_device);
  if (lower->kind() == DeviceKind::loopback || &lower->net().host() != &net.host()) {
    return error(Errc::invalid_argument);
  }
  // Asked before the port below takes the lower's rx handler.
  if (auto ok = net.check_new_device(name); !ok) return ok.error();
  auto port = MacvlanPort::of(*lower, net.host().builtins().macvlan());
  if (!port) return port.error();
  if ((*port)->child_count() >= kMaxMacvlansPerLower) return error(Errc::no_buffer_space);
  MacAddress mac = (*port)->free_mac(net.host());
  if ((*port)->mac_busy(mac, nullptr)) return error(Errc::address_in_use);

  auto child = std::make_unique<Macvlan>(net, name, mac, *port, mode);
  Macvlan& raw = *child;
  // Stacked before it is registered (Linux links after register_netdevice),
  // so a refusal (a stack already kMaxNestDevices high) leaves nothing
  // behind. From here its carrier follows the lower's running state
  // (netif_stacked_transfer_operstate).
  if (auto linked = link_upper(*lower, raw, false); !linked) return linked.error();
  // The name was checked free and valid: registration cannot fail now (and
  // would unlink the child as it is freed).
  auto registered = net.register_device(std::move(child));
  if (!registered) return registered.error();
  (*port)->add(raw);
  return &raw;
}

Result<void> set_macvlan_mode(Device& dev, MacvlanMode mode) {
  Macvlan* child = as_macvlan(dev);
  if (child == nullptr) return error(Errc::invalid_argument);
  child->set_mode(mode);
  return {};
}

Result<MacvlanMode> macvlan_mode(const Device& dev) {
  const Macvlan* child = as_macvlan(dev);
  if (child == nullptr) return error(Errc::invalid_argument);
  return child->mode();
}

Result<Device*> macvlan_lower(const Device& dev) {
  const Macvlan* child = as_macvlan(dev);
  if (child == nullptr) return error(Errc::invalid_argument);
  if (child->port().lower() == nullptr) return error(Errc::no_such_device);
  return child->port().lower();
}

}  // namespace netns
