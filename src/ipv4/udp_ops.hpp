// The UDP subsystem inside the library: one socket table per namespace for
// both families, and both network layers' transport for protocol 17. Built
// by the composition root (src/stack/builtins.cpp) after the layers it
// registers with.
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
  UdpOps(Host& host, ipv4::Ipv4Stack& ipv4, ipv6::Ipv6Stack& ipv6)
      : TransportOps(host, ipv4, ipv6, wire::IpProtocol::udp) {}

  void deliver(Net& net, Packet datagram, const ipv4::InputMeta& meta) override;
  void deliver(Net& net, Packet datagram, const ipv6::InputMeta& meta) override;
  void deliver_error(Net& net, const ipv4::IcmpError& error) override;
  void deliver_error(Net& net, const ipv6::IcmpError& error) override;

 private:
  // A checked datagram, either family: to its socket, or UdpNoPorts
  // (Udp6NoPorts) and `unreachable()` sends the ICMP error.
  template <class Unreachable>
  void demultiplex(Net& net, Packet datagram, const Endpoint& local, const Endpoint& remote, bool multicast,
                   Unreachable unreachable);
  void deliver_multicast(Net& net, ipv4::SocketTable& table, Packet datagram, const Endpoint& local,
                         const Endpoint& remote);
};

}  // namespace netns::udp
