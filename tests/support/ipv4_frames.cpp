#include "support/ipv4_frames.hpp"

#include <gtest/gtest.h>

#include "netns/wire/checksum.hpp"

namespace netns::support {

namespace {

Bytes ethernet(MacAddress dst, MacAddress src, wire::EtherType type, std::span<const std::byte> payload) {
  Bytes out(wire::EthernetRepr::kHeaderLen + payload.size());
  wire::EthernetRepr{dst, src, type}.emit(out);
  std::copy(payload.begin(), payload.end(), out.begin() + wire::EthernetRepr::kHeaderLen);
  return out;
}

Bytes counting(std::size_t n) {
  Bytes out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = std::byte(i & 0xff);
  return out;
}

}  // namespace

Bytes arp_frame(wire::ArpOperation op, MacAddress src_mac, Ipv4Address src_ip, MacAddress target_mac,
                Ipv4Address target_ip, MacAddress dst_mac) {
  Bytes arp(wire::ArpRepr::kLen);
  wire::ArpRepr{op, src_mac, src_ip, target_mac, target_ip}.emit(arp);
  return ethernet(dst_mac, src_mac, wire::EtherType::arp, arp);
}

Bytes ipv4_frame(MacAddress dst_mac, MacAddress src_mac, const IpFields& f, std::span<const std::byte> payload) {
  const std::size_t header_len = wire::Ipv4Repr::kHeaderLen + f.options.size();
  Bytes ip(header_len + payload.size());
  wire::Ipv4Repr{.src = f.src, .dst = f.dst, .protocol = f.protocol, .payload_len = payload.size(),
                 .ttl = f.ttl, .tos = f.tos, .identification = f.id, .dont_fragment = f.dont_fragment}
      .emit(ip, f.options);
  std::copy(payload.begin(), payload.end(), ip.begin() + static_cast<std::ptrdiff_t>(header_len));
  return ethernet(dst_mac, src_mac, wire::EtherType::ipv4, ip);
}

Bytes echo_request_frame(MacAddress dst_mac, MacAddress src_mac, Ipv4Address src, Ipv4Address dst,
                         std::uint16_t id, std::uint16_t seq, std::size_t payload_size, std::uint8_t ttl) {
  Bytes icmp = counting(wire::IcmpRepr::kHeaderLen + payload_size);
  wire::IcmpRepr::echo_request(id, seq, payload_size).emit(icmp);
  return ipv4_frame(dst_mac, src_mac, {.src = src, .dst = dst, .ttl = ttl}, icmp);
}

Bytes udp_frame(MacAddress dst_mac, MacAddress src_mac, Ipv4Address src, Ipv4Address dst,
                std::uint16_t src_port, std::uint16_t dst_port, std::size_t payload_size, std::uint8_t ttl,
                bool dont_fragment) {
  Bytes udp = counting(wire::UdpRepr::kHeaderLen + payload_size);
  wire::UdpRepr{src_port, dst_port, payload_size}.emit(udp, src, dst);
  return ipv4_frame(dst_mac, src_mac,
                    {.src = src, .dst = dst, .protocol = wire::IpProtocol::udp, .ttl = ttl,
                     .dont_fragment = dont_fragment},
                    udp);
}

Parsed parse_frame(std::span<const std::byte> frame) {
  Parsed out;
  auto eth = wire::EthernetView::checked(frame);
  EXPECT_TRUE(eth) << "frame shorter than an Ethernet header";
  if (!eth) return out;
  out.eth = *wire::EthernetRepr::parse(*eth);
  if (out.eth.ethertype == wire::EtherType::arp) {
    if (auto arp = wire::ArpView::checked(eth->payload())) {
      if (auto r = wire::ArpRepr::parse(*arp)) out.arp = *r;
    }
    return out;
  }
  auto ip = wire::Ipv4View::checked(eth->payload());
  if (!ip) return out;
  auto ip_repr = wire::Ipv4Repr::parse(*ip);
  if (!ip_repr) return out;
  out.ip = *ip_repr;
  out.ip_options.assign(ip->options().begin(), ip->options().end());
  if (ip->is_fragment()) return out;
  if (ip_repr->protocol == wire::IpProtocol::icmp) {
    auto icmp = wire::IcmpView::checked(ip->payload());
    if (!icmp) return out;
    auto r = wire::IcmpRepr::parse(*icmp);
    if (!r) return out;
    out.icmp = *r;
    out.echo_id = icmp->echo_id();
    out.echo_seq = icmp->echo_seq();
    auto rest = icmp->bytes().subspan(wire::IcmpRepr::kHeaderLen);
    out.l4_payload.assign(rest.begin(), rest.end());
    out.quoted = out.l4_payload;
  } else if (ip_repr->protocol == wire::IpProtocol::udp) {
    auto udp = wire::UdpView::checked(ip->payload());
    if (!udp) return out;
    auto r = wire::UdpRepr::parse(*udp, ip_repr->src, ip_repr->dst);
    if (!r) return out;
    out.udp = *r;
    out.l4_payload.assign(udp->payload().begin(), udp->payload().end());
  }
  return out;
}

}  // namespace netns::support
