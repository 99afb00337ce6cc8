// What a network layer and its transports agree on, written once for IPv4
// and IPv6: Linux's net_protocol / inet_protos (inet_add_protocol), gVisor's
// TransportProtocol registered with a NetworkProtocol.
//
//   Transport      a transport's handlers: input, and the ICMP errors that
//                  quote one of its datagrams. UDP, ping and TCP implement it.
//   NetworkLayer   where a transport registers for its protocol number.
//                  Ipv4Stack and Ipv6Stack implement it; a transport
//                  serving both families registers with each.
//   ProtocolTable  the network layer's table behind NetworkLayer: protocol
//                  number -> Transport*, one load on the packet path.
//
// A transport normally derives TransportOps (inet/transport_ops.hpp), which
// does the registration, the per-namespace slot and the socket opening.
// The composition root (src/stack/builtins.cpp) hands each transport the
// network layer it registers with; nothing looks one up at run time.
#pragma once

#include <array>
#include <cstdint>

#include "netns/packet.hpp"
#include "netns/result.hpp"
#include "netns/wire/ipv4.hpp"

namespace netns {
class Net;
}

namespace netns::ipv4 {
struct InputMeta;
struct IcmpError;
}  // namespace netns::ipv4
namespace netns::ipv6 {
struct InputMeta;
struct IcmpError;
}  // namespace netns::ipv6

namespace netns::inet {

class Transport {
 public:
  virtual ~Transport() = default;
  // An IPv4 datagram for this namespace: data() at the transport header,
  // the IP header in the headroom. IPv6 adds its own overload.
  virtual void deliver(Net& net, Packet datagram, const ipv4::InputMeta& meta) = 0;
  // An IPv6 datagram: data() at the transport header, the IPv6 header and
  // any extension headers in the headroom. Only a transport registered with
  // the IPv6 layer receives these.
  virtual void deliver(Net& /*net*/, Packet /*datagram*/, const ipv6::InputMeta& /*meta*/) {}
  // An ICMP error quoting a datagram this transport sent (ICMP input has
  // checked it and found the quoted protocol to be this one).
  virtual void deliver_error(Net& /*net*/, const ipv4::IcmpError& /*error*/) {}
  // An ICMPv6 error quoting a datagram this transport sent over IPv6.
  virtual void deliver_error(Net& /*net*/, const ipv6::IcmpError& /*error*/) {}
};

class NetworkLayer {
 public:
  // inet_add_protocol: `transport` receives every datagram of `protocol`
  // from now on. file_exists when the number has a transport already (the
  // table is unchanged). `transport` must stay alive until removed.
  virtual Result<void> add_protocol(wire::IpProtocol protocol, Transport& transport) = 0;
  // inet_del_protocol: frees the number if `transport` holds it; no-op otherwise.
  virtual void remove_protocol(wire::IpProtocol protocol, const Transport& transport) = 0;

 protected:
  ~NetworkLayer() = default;  // not owned through this interface
};

class ProtocolTable {
 public:
  Result<void> add(wire::IpProtocol protocol, Transport& transport) {
    Transport*& entry = table_[static_cast<std::uint8_t>(protocol)];
    if (entry != nullptr) return error(Errc::file_exists);
    entry = &transport;
    return {};
  }
  void remove(wire::IpProtocol protocol, const Transport& transport) {
    Transport*& entry = table_[static_cast<std::uint8_t>(protocol)];
    if (entry == &transport) entry = nullptr;
  }
  // The packet path: the transport for a protocol number, or nullptr.
  Transport* operator[](std::uint8_t protocol) const { return table_[protocol]; }

 private:
  std::array<Transport*, 256> table_{};
};

}  // namespace netns::inet
