// The ping subsystem inside the library (Linux's net/ipv4/ping.c): one table
// of ping sockets per namespace, keyed by echo id, and the network layer's
// transport for what ICMP input passes up (echo replies, and errors quoting
// an echo request). Built by the composition root after the IPv4 layer.
#pragma once

#include "inet/transport_ops.hpp"
#include "ipv4/socket_table.hpp"

namespace netns::icmp {

struct PingNet {
  explicit PingNet(Net& net) : table(net, wire::IpProtocol::icmp) {}
  ipv4::SocketTable table;  // keyed by echo id
};

class PingOps final : public inet::TransportOps<PingOps, PingNet> {
 public:
  PingOps(Host& host, ipv4::Ipv4Stack& ipv4) : TransportOps(host, ipv4, wire::IpProtocol::icmp) {}

  // An echo reply (data() at the ICMP header, checksum verified and counted
  // by ICMP input): queued on the socket with its id, else dropped.
  void deliver(Net& net, Packet reply, const ipv4::InputMeta& meta) override;
  // An ICMP error quoting one of our echo requests.
  void deliver_error(Net& net, const ipv4::IcmpError& error) override;
};

}  // namespace netns::icmp
