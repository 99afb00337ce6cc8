// The IPv4 layer inside the library: per-namespace state and the interface
// transports (UDP, ICMP echo, TCP) are written against.
//
// Ingress reads top-down: Ipv4Stack::process (an Ethernet PacketHandler) →
// process_ipv4 → deliver_local → Transport::deliver. Egress: a transport
// routes (route_output), builds its header with the route's source, and
// calls Ipv4Stack::send, which adds the IP header, fragments when needed and
// hands the frame to the neighbour layer.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "netns/host.hpp"
#include "netns/ipv4.hpp"
#include "netns/wire/icmp.hpp"
#include "netns/wire/ipv4.hpp"

namespace netns {
class RouteCache;
}

namespace netns::ipv4 {

class Fib;
struct FibEntry;
class Reassembler;
class NeighbourTable;
struct Ipv4Net;

// What a transport learns about a datagram addressed to this namespace.
struct InputMeta {
  Device* dev = nullptr;       // where it arrived
  Ipv4Address src, dst;
  std::uint8_t ttl = 0, tos = 0;
  bool broadcast = false;      // sent to a broadcast address
  // The IP header's length, options included. It is in the headroom, so a
  // transport re-exposes it with push_front(header_len) to quote the
  // datagram in an ICMP error (UDP's port unreachable).
  std::size_t header_len = wire::Ipv4Repr::kHeaderLen;
};

// An ICMP error about a datagram this namespace sent.
struct IcmpError {
  wire::IcmpType type{};
  std::uint8_t code = 0;
  std::uint32_t info = 0;      // next-hop MTU for frag-needed, pointer for parameter problem
  Ipv4Address reporter;        // who sent the ICMP error
  Ipv4Address orig_src, orig_dst;
  std::span<const std::byte> quoted;  // the original transport header, 8 bytes at least
  // The errno a socket reports for it (connection_refused for port unreachable...).
  boost::system::error_code error() const;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // datagram.data() starts at the transport header; the IP header is in the headroom.
  virtual void deliver(Net& net, Packet datagram, const InputMeta& meta) = 0;
  virtual void deliver_error(Net& /*net*/, const IcmpError& /*error*/) {}
};

struct SendParams {
  Ipv4Address src;             // required: the route's source unless the socket is bound
  Ipv4Address dst;
  wire::IpProtocol protocol = wire::IpProtocol::udp;
  std::uint8_t ttl = 0;        // 0: net.ipv4.ip_default_ttl
  std::uint8_t tos = 0;
  bool dont_fragment = false;
};

class Ipv4Stack final : public PernetOps, public PacketHandler, public NetdevListener {
 public:
  explicit Ipv4Stack(Host& host);
  ~Ipv4Stack() override;

  // The Host's IPv4 layer (a built-in subsystem).
  static Ipv4Stack& of(Host& host);
  Ipv4Net& state(Net& net) { return slot_.get(net); }

  void set_transport(wire::IpProtocol protocol, Transport* transport);

  // Output. `payload` holds the transport header and data; `route` comes from
  // route_output for params.dst. Errors a socket reports: message_size (too
  // big with DF, or over 65535), network_unreachable...
  Result<void> send(Net& net, Packet payload, const SendParams& params, const RouteResult& route);
  Result<RouteResult> route_output(Net& net, Ipv4Address dst);
  // route_output remembered by one socket for its last destination, checked
  // against the namespace's route generation (Linux's sk_dst_cache): no
  // hashing while nothing in the namespace's routing changed.
  struct RouteMemo {
    Ipv4Address dst;
    std::uint64_t generation = ~std::uint64_t{0};
    RouteResult route{};
  };
  Result<RouteResult> route_output(Net& net, Ipv4Address dst, RouteMemo& memo);
  bool is_local(Net& net, Ipv4Address address);
  // A subnet broadcast address of any of the namespace's addresses.
  bool is_broadcast(Net& net, Ipv4Address address);
  // A subnet broadcast address of one of dev's addresses.
  bool is_broadcast_on(Net& net, const Device& dev, Ipv4Address address);
  // The address a socket bound to 0.0.0.0 sends from towards `dst`'s route.
  Ipv4Address select_source(Net& net, const Device& dev, Ipv4Address dst);

  // icmp_send: an error about `offending` (data() at its IP header), rate
  // limited per namespace; never about ICMP errors, fragments other than the
  // first, or broadcasts.
  void send_icmp_error(Net& net, const Packet& offending, wire::IcmpType type, std::uint8_t code,
                       std::uint32_t info = 0);
  // Counts and sends an ICMP message built by a transport (echo replies).
  void send_icmp(Net& net, Packet message, const SendParams& params, const RouteResult& route);

  // Hands a ready IP datagram (data() at its header) to the link layer via
  // the neighbour table: the one exit of the layer.
  void output_datagram(Net& net, Packet&& datagram, Device& dev, Ipv4Address next_hop);

  // PernetOps
  Result<void> init(Net& net) override;
  void exit(Net& net) override;
  // PacketHandler: Ethernet type 0x0800.
  void process(Net& net, Device& dev, Packet frame) override;
  // NetdevListener: addresses, routes and neighbours follow their devices.
  void on_netdev_event(NetdevEvent event, Device& dev) override;

  // Control plane (ipv4.hpp's free functions land here).
  Result<void> add_address(Net& net, Device& dev, Ipv4Prefix prefix);
  Result<void> del_address(Net& net, Device& dev, Ipv4Prefix prefix);
  Result<void> add_route(Net& net, const RouteSpec& spec);
  Result<void> del_route(Net& net, const RouteSpec& spec);
  void invalidate_routes(Net& net);
  RouteCache& route_cache();

 private:
  void process_ipv4(Net& net, Ipv4Net& ns, Device& dev, Packet&& packet);
  void deliver_local(Net& net, Ipv4Net& ns, Device& dev, Packet packet, bool broadcast);
  void forward(Net& net, Ipv4Net& ns, Device& dev, Packet&& packet);
  void process_icmp(Net& net, Ipv4Net& ns, Packet packet, const InputMeta& meta);
  void sync_device_routes(Ipv4Net& ns, Device& dev);
  // The local table's answer for an address (local or broadcast), or null.
  const FibEntry* local_route(Net& net, Ipv4Address address);
  void remove_device(Net& net, Ipv4Net& ns, Device& dev);
  Result<RouteResult> resolve_route(Net& net, Ipv4Net& ns, Ipv4Address dst);
  bool icmp_allowed(Net& net, Ipv4Net& ns);

  class ArpReceiver;

  Host& host_;
  PernetSlot<Ipv4Net> slot_;
  RouteCache* route_cache_ = nullptr;  // found on first use: built-ins are constructed before registration
  std::unique_ptr<ArpReceiver> arp_;
  std::array<Transport*, 256> transports_{};
};

}  // namespace netns::ipv4
