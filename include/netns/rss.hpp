// netns/rss.hpp — receive side scaling: which queue, and so which core, a
// frame belongs to.
//
// A NIC with several receive queues hashes each frame's addresses and ports
// with the Toeplitz function and a 40-byte key, and looks the hash up in an
// indirection table (RETA) that names the queue. netns configures DPDK ports
// with kSymmetricKey (Woo and Park's key, 0x6d5a repeated): the hash of a
// flow's replies equals the hash of its requests, so both directions of a
// connection land on the same queue, as conntrack and NAT need. This file is
// the same computation in software: for ports without RSS (software RSS),
// for a benchmark or test that plays the NIC, and for picking source ports
// whose replies come back to the core that opened the connection.
//
//   std::uint32_t h = netns::rss::frame_hash(frame_bytes);
//   std::uint16_t q = netns::rss::queue_of(h, 4);    // what the NIC picks of 4 queues
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "netns/address.hpp"

namespace netns::rss {

inline constexpr std::size_t kKeySize = 40;
using Key = std::array<std::uint8_t, kKeySize>;

// 0x6d5a repeated: every 16 bits of the key alike, so swapping source and
// destination (both 32 or 128 bits, and the 16-bit ports) leaves the hash
// unchanged.
inline constexpr Key kSymmetricKey = {
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a};

// The entries of the indirection table netns writes into a port: entry i
// names queue (i % kRetaSpan) % queues, whatever the port's table size, so
// that queue_of below is what every port computes.
inline constexpr std::uint32_t kRetaSpan = 128;

// The Toeplitz hash of `input` (at most kKeySize - 4 bytes: 36, an IPv6
// address pair and ports), as Microsoft's RSS specification defines it.
std::uint32_t toeplitz(std::span<const std::byte> input, const Key& key = kSymmetricKey);

// What a NIC hashes (DPDK's RSS_IPV4 | NONFRAG_IPV4_TCP | NONFRAG_IPV4_UDP
// and their IPv6 kin), in network byte order: the addresses, followed by
// the ports for TCP and UDP unless the packet is a fragment.
std::uint32_t flow_hash(const IpAddress& source, const IpAddress& destination, std::uint16_t source_port,
                        std::uint16_t destination_port, bool with_ports, const Key& key = kSymmetricKey);

// The hash of an Ethernet frame (one 802.1Q tag allowed) as a port
// configured by netns computes it: flow_hash over its IPv4 or IPv6 header
// and ports. 0 for anything else (ARP, a truncated header), which a NIC
// puts on queue 0 too.
std::uint32_t frame_hash(std::span<const std::byte> frame, const Key& key = kSymmetricKey);

// What no RSS hashes but every core's namespace needs to see: ARP, and
// IPv6 neighbour and router discovery (ICMPv6 133..137 right after the
// fixed header). One 802.1Q tag allowed.
bool is_neighbour_discovery(std::span<const std::byte> frame);

// The queue a hash selects among `queues` (at least 1) through the table
// netns configures.
inline std::uint16_t queue_of(std::uint32_t hash, std::uint16_t queues) {
  return static_cast<std::uint16_t>((hash % kRetaSpan) % queues);
}

}  // namespace netns::rss
