// The forwarding rig of ipv4_bench's BM_Forward64, shared with the benches
// that measure what sits on the same path (nft_bench, conntrack_bench): a
// router namespace between two channel devices forwarding 64-byte UDP
// frames. With `flows` > 1 the frames cycle through that many UDP flows
// (source port, then source address), each with its checksum right. Each
// source address talks to a destination port of its own, so the flows
// stay distinct when a masquerade puts them all behind one address.
#pragma once

#include <algorithm>
#include <cstring>
#include <vector>

#include "netns/netns.hpp"
#include "netns/wire/ethernet.hpp"
#include "netns/wire/ipv4.hpp"
#include "netns/wire/udp.hpp"

namespace bench {

inline netns::HostConfig bench_config() { return netns::HostConfig{.secret = 1}; }
inline netns::Ipv4Prefix prefix(const char* text) { return netns::Ipv4Prefix::parse(text).value(); }

// A 64-byte Ethernet frame (60 + FCS on a wire) carrying UDP from `src`:`sport` to 198.51.100.2:`dport`.
inline std::vector<std::byte> forward_template(netns::MacAddress router_mac,
                                               netns::Ipv4Address src = netns::Ipv4Address(192, 0, 2, 2),
                                               std::uint16_t sport = 4000, std::uint16_t dport = 5000) {
  const netns::MacAddress peer{0x02, 0, 0, 0, 0, 2};
  const netns::Ipv4Address dst(198, 51, 100, 2);
  std::vector<std::byte> frame(60);
  constexpr std::size_t kPayload = 60 - 14 - 20 - 8;
  netns::wire::EthernetRepr{router_mac, peer, netns::wire::EtherType::ipv4}.emit(frame);
  auto ip = std::span(frame).subspan(14);
  netns::wire::UdpRepr{sport, dport, kPayload}.emit(ip.subspan(20), src, dst);
  netns::wire::Ipv4Repr{.src = src, .dst = dst, .protocol = netns::wire::IpProtocol::udp, .payload_len = 8 + kPayload}
      .emit(ip);
  return frame;
}

// A router namespace between two channel devices, in a Host where `alive`
// namespaces exist; forward() pushes one batch through it.
class ForwardRig {
 public:
  static constexpr int kBatch = 256;
  static constexpr std::size_t kPortsPerAddress = 60000;

  explicit ForwardRig(std::size_t alive, std::size_t flows = 1) {
    while (host_.net_count() < alive) keep_.push_back(host_.create_net().value());
    router_ = host_.create_net("router").value();
    in_ = netns::make_channel(*router_, "eth0").value();
    out_ = netns::make_channel(*router_, "eth1").value();
    (void)netns::set_link_up(*in_);
    (void)netns::set_link_up(*out_);
    (void)netns::ipv4::add_address(*router_, *in_, prefix("192.0.2.1/24"));
    (void)netns::ipv4::add_address(*router_, *out_, prefix("198.51.100.1/24"));
    (void)netns::ipv4::add_neighbour(*router_, *out_, netns::Ipv4Address(198, 51, 100, 2), {0x02, 0, 0, 0, 0, 3});
    (void)router_->sysctl().set("net.ipv4.ip_forward", "1");
    flows = std::max<std::size_t>(flows, 1);
    frames_.reserve(flows);
    for (std::size_t i = 0; i < flows; ++i) {
      const auto host = static_cast<std::uint8_t>(2 + i / kPortsPerAddress);
      const auto sport = static_cast<std::uint16_t>(4000 + i % kPortsPerAddress);
      const auto dport = static_cast<std::uint16_t>(5000 + i / kPortsPerAddress);
      frames_.push_back(forward_template(in_->mac(), netns::Ipv4Address(192, 0, 2, host), sport, dport));
    }
  }

  void forward() {
    for (int i = 0; i < kBatch; ++i) {
      const std::vector<std::byte>& frame = frames_[next_];
      if (++next_ == frames_.size()) next_ = 0;
      netns::Packet p = host_.packets().allocate(frame.size());
      std::memcpy(p.mutable_data().data(), frame.data(), frame.size());  // the "NIC" fills the buffer
      in_->inject(std::move(p));
    }
    host_.poll(netns::Clock::time_point{});
    while (out_->read_packet()) ++forwarded_;
  }

  std::uint64_t forwarded() const { return forwarded_; }
  std::uint64_t copies() const { return host_.stats().packet_copies; }
  netns::Net& router() { return *router_; }

 private:
  netns::Host host_{bench_config()};
  std::vector<netns::NetRef> keep_;
  netns::NetRef router_;
  netns::ChannelDevice* in_ = nullptr;
  netns::ChannelDevice* out_ = nullptr;
  std::vector<std::vector<std::byte>> frames_;
  std::size_t next_ = 0;
  std::uint64_t forwarded_ = 0;
};

}  // namespace bench
