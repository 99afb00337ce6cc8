// The UDP subsystem inside the library: one socket table per namespace, and
// the network layer's transport for protocol 17. Built by the composition
// root (src/stack/builtins.cpp) after the IPv4 layer it registers with.
#pragma once

#include "inet/transport_ops.hpp"
#include "ipv4/socket_table.hpp"

namespace netns::udp {

struct UdpNet {
  explicit UdpNet(Net& net) : table(net, wire::IpProtocol::udp) {}
  ipv4::SocketTable table;
};

class UdpOps final : public inet::TransportOps<UdpOps, UdpNet> {
 public:
  UdpOps(Host& host, ipv4::Ipv4Stack& ipv4) : TransportOps(host, ipv4, wire::IpProtocol::udp) {}

  void deliver(Net& net, Packet datagram, const ipv4::InputMeta& meta) override;
  void deliver_error(Net& net, const ipv4::IcmpError& error) override;

 private:
  void deliver_multicast(Net& net, ipv4::SocketTable& table, Packet datagram, Endpoint local,
                         Endpoint remote);
};

}  // namespace netns::udp
