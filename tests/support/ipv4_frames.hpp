// Frames for IPv4 tests: builders for what a peer would send, and a parser
// for what the stack sent (gVisor's checker in spirit).
//
//   auto frame = support::echo_request_frame(peer_mac, eth0->mac(), peer_ip, local_ip, 7, 1, 56);
//   eth0->inject(frame);
//   host.poll(now);
//   auto out = support::parse_frame(*eth0->read());
//   EXPECT_EQ(out.icmp->type, wire::IcmpType::echo_reply);
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "netns/address.hpp"
#include "netns/wire/arp.hpp"
#include "netns/wire/ethernet.hpp"
#include "netns/wire/icmp.hpp"
#include "netns/wire/ipv4.hpp"
#include "netns/wire/udp.hpp"

namespace netns::support {

using Bytes = std::vector<std::byte>;

Bytes arp_frame(wire::ArpOperation op, MacAddress src_mac, Ipv4Address src_ip, MacAddress target_mac,
                Ipv4Address target_ip, MacAddress dst_mac);

// An IPv4 datagram around `payload`, in an Ethernet frame.
struct IpFields {
  Ipv4Address src, dst;
  wire::IpProtocol protocol = wire::IpProtocol::icmp;
  std::uint8_t ttl = 64;
  bool dont_fragment = false;
  std::uint16_t id = 1;
  Bytes options;  // IP options after the fixed header: a multiple of 4 bytes, at most 40
  std::uint8_t tos = 0;  // DSCP and ECN
};
Bytes ipv4_frame(MacAddress dst_mac, MacAddress src_mac, const IpFields& ip, std::span<const std::byte> payload);

Bytes echo_request_frame(MacAddress dst_mac, MacAddress src_mac, Ipv4Address src, Ipv4Address dst,
                         std::uint16_t id, std::uint16_t seq, std::size_t payload_size, std::uint8_t ttl = 64);
Bytes udp_frame(MacAddress dst_mac, MacAddress src_mac, Ipv4Address src, Ipv4Address dst,
                std::uint16_t src_port, std::uint16_t dst_port, std::size_t payload_size,
                std::uint8_t ttl = 64, bool dont_fragment = false);

// What a frame the stack sent holds; each layer present only when it parsed
// and its checksum was right.
struct Parsed {
  wire::EthernetRepr eth;
  std::optional<wire::ArpRepr> arp;
  std::optional<wire::Ipv4Repr> ip;
  std::optional<wire::IcmpRepr> icmp;
  std::optional<wire::UdpRepr> udp;
  Bytes l4_payload;       // ICMP/UDP payload bytes
  std::uint16_t echo_id = 0, echo_seq = 0;
  Bytes quoted;           // for ICMP errors: the quoted datagram
  Bytes ip_options;       // the IP header's options, as sent
};
Parsed parse_frame(std::span<const std::byte> frame);

}  // namespace netns::support
