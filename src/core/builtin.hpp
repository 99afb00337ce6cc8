// The subsystems every Host starts with, in registration order.
#pragma once

#include <memory>
#include <vector>

#include "netns/pernet.hpp"

namespace netns {

class Host;

struct BuiltinOps {
  std::unique_ptr<PernetOps> ops;
  bool device;  // register_pernet_device rather than register_pernet_subsys
};

// One explicit list (gVisor builds a stack from a list of protocols; so do we).
std::vector<BuiltinOps> make_builtin_ops(Host& host);

// The pernet device ops of src/devices and src/core, named for the list.
std::unique_ptr<PernetOps> make_route_cache_ops(Host& host);  // core/route_cache.cpp
std::unique_ptr<PernetOps> make_loopback_ops(Host& host);
std::unique_ptr<PernetOps> make_ipv4_ops(Host& host);
std::unique_ptr<PernetOps> make_udp_ops(Host& host);   // ipv4/udp.cpp
std::unique_ptr<PernetOps> make_ping_ops(Host& host);  // ipv4/ping.cpp
std::unique_ptr<PernetOps> make_tcp_ops(Host& host);   // ipv4/tcp/tcp.cpp
std::unique_ptr<PernetOps> make_default_device_ops(Host& host);
std::unique_ptr<PernetOps> make_macvlan_ops(Host& host);  // devices/macvlan.cpp

}  // namespace netns
