// IPv4 egress: header, fragmentation, and the hand-over to the neighbour layer.
#include "ipv4/ipv4_net.hpp"
#include "ipv4/stack.hpp"

namespace netns::ipv4 {

Result<void> Ipv4Stack::send(Net& net, Packet payload, const SendParams& params, const RouteResult& route) {
  Ipv4Net& ns = state(net);
  std::size_t total = payload.size() + wire::Ipv4Repr::kHeaderLen;
  if (payload.size() > wire::Ipv4Repr::kMaxPayloadLen) return error(Errc::message_size);
  if (params.dont_fragment && total > route.dev->mtu()) return error(Errc::message_size);
  auto header = payload.push_front(wire::Ipv4Repr::kHeaderLen);
  if (header.empty()) return error(Errc::no_buffer_space);
  wire::Ipv4Repr{.src = params.src,
                 .dst = params.dst,
                 .protocol = params.protocol,
                 .payload_len = total - wire::Ipv4Repr::kHeaderLen,
                 .ttl = params.ttl != 0 ? params.ttl
                                        : static_cast<std::uint8_t>(net.sysctl().value(SysctlId::ip_default_ttl)),
                 .tos = params.tos,
                 .identification = ns.next_ip_id++,
                 .dont_fragment = params.dont_fragment}
      .emit(header);
  net.counters().add(Counter::IpOutRequests);
  net.counters().add(Counter::IpExtOutOctets, total);
  output_datagram(net, std::move(payload), *route.dev, route.next_hop);
  return {};
}

void Ipv4Stack::output_datagram(Net& net, Packet&& datagram, Device& dev, Ipv4Address next_hop) {
  Ipv4Net& ns = state(net);
  if (datagram.size() <= dev.mtu()) {
    ns.neighbours.output(dev, next_hop, std::move(datagram));
    return;
  }
  // Too big for the link: fragment (fragment() counts IpFragOKs/Creates/Fails).
  (void)fragment(net, std::move(datagram), dev.mtu(),
                 [&](Packet piece) { ns.neighbours.output(dev, next_hop, std::move(piece)); });
}

}  // namespace netns::ipv4
