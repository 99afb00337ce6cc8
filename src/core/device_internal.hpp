// Device plumbing shared by the core and the device kinds.
#pragma once

#include "netns/device.hpp"

namespace netns {

// Brings the device down, unregisters it from its namespace, lets its kind
// dismantle (a veth takes its peer), and retires it to the Host. No checks:
// destroy_device() is the public, checked entry.
void unregister_and_free(Device& dev);

// A locally administered unicast MAC from the Host's keyed generator, as
// Linux's eth_random_addr.
MacAddress random_mac(Host& host);

}  // namespace netns
