// The fuzz targets as functions, for their libFuzzer programs and for the
// corpus replay in netns_tests. Each builds its own Host, runs the input as
// a script and aborts on a finding (driver.hpp).
#pragma once

#include <cstdint>
#include <span>

namespace netns::fuzz {

// Frames into a namespace with UDP, ping and TCP sockets, a bridge and a veth.
void frames(std::span<const std::uint8_t> data);
// One TCP connection driven by a peer that tracks sequence space.
void tcp_session(std::span<const std::uint8_t> data);
// IPv4 fragments to a namespace with UDP and ping sockets (reassembly).
void fragments(std::span<const std::uint8_t> data);
// Control-plane operations over several namespaces.
void control_plane(std::span<const std::uint8_t> data);
// A router under nftables, conntrack and NAT, or an nft script's round trip.
void netfilter(std::span<const std::uint8_t> data);

}  // namespace netns::fuzz
