// devices/veth_cross.hpp — a veth between namespaces of two Hosts
// (veth_cross.cpp), which make_veth builds when the Hosts differ.
#pragma once

#include <string_view>

#include "netns/device.hpp"

namespace netns {

// make_veth's contract, for a and b of different Hosts. Neither Host may be
// running meanwhile: set up before their threads start.
[[nodiscard]] Result<VethPair> make_cross_host_veth(Net& a, std::string_view name_a, Net& b, std::string_view name_b);

}  // namespace netns
