// Device plumbing shared by the core and the device kinds.
#pragma once

#include "netns/device.hpp"

namespace netns {

// Brings the device down, unregisters it from its namespace, lets its kind
// dismantle (a veth takes its peer), and retires it to the Host. No checks:
// destroy_device() is the public, checked entry.
void unregister_and_free(Device& dev);

// dev_change_net_namespace without the policy checks Host::move_device makes
// (the loopback and bridges stay, the target must be alive): the device
// leaves its namespace (down, addresses and routes gone with it, backlog
// dropped) and joins `to` as `name`, keeping its ifindex when free there.
// Nothing changes on invalid_argument (a bad name) or file_exists (taken).
Result<void> change_net_namespace(Device& dev, Net& to, std::string_view name);

// Stacks `upper` on `lower` (netdev_upper_dev_link; with `master`,
// netdev_master_upper_dev_link: `upper` is the one device `lower` is
// enslaved to). The upper's carrier then follows its lowers. Refused, with
// nothing changed:
//   device_or_resource_busy  `upper` is `lower`, or already below it (a loop);
//                            with `master`, `lower` has another master
//   file_exists              `upper` is already above `lower` (the same master)
//   too_many_links           the stack would be more than kMaxNestDevices high
//   no_such_device           either is being destroyed
Result<void> link_upper(Device& lower, Device& upper, bool master);
// Undoes link_upper; nothing when they are not linked. The upper's carrier
// follows its remaining lowers.
void unlink_upper(Device& lower, Device& upper);

// A locally administered unicast MAC from the Host's keyed generator, as
// Linux's eth_random_addr.
MacAddress random_mac(Host& host);

}  // namespace netns
