// MacvlanOps: follows every lower device's life for its macvlan port (Linux's
// macvlan_notifier_block) and knows which devices are lowers. One per Host,
// built by the composition root and never unregistered, so no port registers
// or removes a listener while the Host is notifying; and a lower is found in
// its own table, never by looking into a device's rx handler, which may
// belong to someone else.
#pragma once

#include <unordered_map>

#include "netns/host.hpp"
#include "netns/pernet.hpp"

namespace netns::macvlan {

class MacvlanPort;  // devices/macvlan.cpp

class MacvlanOps final : public PernetOps, public NetdevListener {
 public:
  explicit MacvlanOps(Host& host) : host_(host) { host.add_netdev_listener(*this); }
  ~MacvlanOps() override { host_.remove_netdev_listener(*this); }
  MacvlanOps(const MacvlanOps&) = delete;
  MacvlanOps& operator=(const MacvlanOps&) = delete;

  Result<void> init(Net&) override { return {}; }
  void on_netdev_event(NetdevEvent event, Device& dev) override;

  MacvlanPort* port_of(const Device& lower) const {
    auto it = ports_.find(&lower);
    return it != ports_.end() ? it->second : nullptr;
  }
  void attach(const Device& lower, MacvlanPort& port) { ports_[&lower] = &port; }
  void detach(const Device& lower) { ports_.erase(&lower); }

 private:
  Host& host_;
  // Bounded by the devices of the Host: one entry per lower with children.
  std::unordered_map<const Device*, MacvlanPort*> ports_;
};

}  // namespace netns::macvlan
