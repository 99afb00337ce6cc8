// devices/veth_cross.hpp — a veth between namespaces of two Hosts
// (veth_cross.cpp), which make_veth builds when the Hosts differ, and what
// both kinds of veth check alike.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "netns/device.hpp"

namespace netns {

// veth_forward_skb: what a veth's peer accepts, its MTU plus an Ethernet
// header and one VLAN tag; a larger frame is dropped (the sender's tx_dropped).
inline bool veth_peer_accepts(std::size_t frame_size, std::uint32_t peer_mtu) {
  constexpr std::size_t kLinkHeader = 14 + 4;
  return frame_size <= peer_mtu + kLinkHeader;
}

// make_veth's contract, for a and b of different Hosts. Neither Host may be
// running meanwhile: set up before their threads start.
[[nodiscard]] Result<VethPair> make_cross_host_veth(Net& a, std::string_view name_a, Net& b, std::string_view name_b);

}  // namespace netns
