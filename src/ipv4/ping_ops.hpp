// The ping subsystem inside the library (Linux's net/ipv4/ping.c): one table
// of ping sockets per namespace, both families, keyed by echo id, and the
// network layers' transport for what ICMP and ICMPv6 input pass up (echo
// replies, and errors quoting an echo request). Built by the composition
// root after the layers.
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
  PingOps(Host& host, ipv4::Ipv4Stack& ipv4, ipv6::Ipv6Stack& ipv6)
      : TransportOps(host, ipv4, ipv6, wire::IpProtocol::icmp, wire::IpProtocol::icmpv6) {}

  // An echo reply (data() at the ICMP header, checksum verified and counted
  // by ICMP input): queued on the socket with its id, else dropped.
  void deliver(Net& net, Packet reply, const ipv4::InputMeta& meta) override;
  void deliver(Net& net, Packet reply, const ipv6::InputMeta& meta) override;
  // An ICMP error quoting one of our echo requests.
  void deliver_error(Net& net, const ipv4::IcmpError& error) override;
  void deliver_error(Net& net, const ipv6::IcmpError& error) override;

 private:
  // Queues a reply on the socket with this id for `local`, if any.
  void queue_reply(Net& net, Packet reply, Endpoint local, const IpAddress& from, std::uint16_t seq,
                   std::size_t payload_size);
  void report_error(Net& net, Endpoint local, const IpAddress& remote, boost::system::error_code error);
};

}  // namespace netns::icmp
