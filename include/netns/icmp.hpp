// netns/icmp.hpp — ping sockets: ICMP and ICMPv6 echo from an application.
//
// An EchoSocket is Linux's ping socket (socket(AF_INET, SOCK_DGRAM,
// IPPROTO_ICMP), or AF_INET6 and IPPROTO_ICMPV6 with open(net,
// Family::ipv6)): the application names a destination, a sequence number
// and the data; the socket fills in the echo id (its "port", unique in its
// namespace) and the checksum, and receives only the replies carrying its
// id. Like a UDP socket it is non-blocking, belongs to one namespace and
// keeps it alive until closed.
//
//   auto ping = icmp::open(*blue).value();
//   ping.send_echo(Ipv4Address(192, 0, 2, 2), 1).value();
//   host.poll(clock.now());                   // request out, reply back
//   auto reply = ping.receive();              // Result<EchoReply>: from, seq, payload_size, rtt
//   auto ping6 = icmp::open(*blue, Family::ipv6).value();
//   ping6.send_echo(Ipv6Address::parse("fe80::1%2").value(), 1).value();   // link-local: a scope id
//
// Errors: would_block when no reply is queued; an ICMP error about one of
// the socket's requests (host_unreachable when ARP got no answer or a router
// said so, network_unreachable, host_unreachable for TTL exceeded too, as
// Linux maps it) is returned once by the next receive() or send_echo().
// send_echo fails with network_unreachable (no route), message_size (data
// over 65507 bytes, 65527 over IPv6), permission_denied (a broadcast
// destination), address_family_not_supported (the other family's address),
// bad_file_descriptor (closed or moved-from socket). Linux's
// net.ipv4.ping_group_range permission check is not modelled.
//
// Sockets must be closed before their Host is destroyed.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "netns/address.hpp"
#include "netns/result.hpp"

namespace netns {
class Net;
}

namespace netns::icmp {

// The largest echo data: 65535 minus the IPv4 and ICMP headers; over IPv6
// minus the ICMPv6 header alone.
inline constexpr std::size_t kMaxEchoPayload = 65507;
inline constexpr std::size_t kMaxEchoPayload6 = 65527;

struct EchoReply {
  IpAddress from;
  std::uint16_t seq = 0;
  std::size_t payload_size = 0;
  // From send_echo to the reply's arrival, on the Host's clock (the times
  // poll was given); 0 when the request's send time is no longer known (the
  // socket remembers the last 64 sequence numbers).
  std::chrono::nanoseconds rtt{0};
};

class EchoSocket {
 public:
  // An inert socket, like a moved-from one: every operation fails with bad_file_descriptor.
  EchoSocket();
  EchoSocket(EchoSocket&& other) noexcept;
  EchoSocket& operator=(EchoSocket&& other) noexcept;  // closes what this socket held
  ~EchoSocket();                                        // closes

  // bind(2): the source address (0.0.0.0 or a local one, address_not_available
  // otherwise) and the echo id (0: allocated like an ephemeral port).
  // address_in_use when the id is taken for that address; invalid_argument
  // when already bound. send_echo binds to 0.0.0.0 by itself.
  [[nodiscard]] Result<void> bind(Endpoint local);
  // One echo request to `dst` with this sequence number and data (copied
  // before it returns). Errors: see the header comment.
  [[nodiscard]] Result<void> send_echo(IpAddress dst, std::uint16_t seq, std::span<const std::byte> payload = {});
  // The oldest queued reply; would_block when none. A pending error comes first.
  [[nodiscard]] Result<EchoReply> receive();
  // The same, also copying the reply's data into `payload` (truncated to its size).
  [[nodiscard]] Result<EchoReply> receive(std::span<std::byte> payload);

  // The echo id (0 until bound).
  std::uint16_t id() const;
  // address:id; the unspecified address, id 0, until bound.
  Endpoint local_endpoint() const;
  Family family() const;
  // Precondition: is_open().
  Net& net() const;
  bool is_open() const { return impl_ != nullptr; }

  // Readiness, as udp::Socket::on_readable: runs inside Host::poll each time
  // a reply is queued or an error becomes pending; it may use or close
  // sockets but must not call Host::poll. An empty function removes it.
  void on_readable(std::function<void()> callback);
  // SO_RCVBUF, as for UDP (default net.core.rmem_default).
  [[nodiscard]] Result<void> set_receive_buffer_size(std::size_t bytes);

  // Closes now (the destructor does it too); idempotent.
  void close();

  struct Impl;

 private:
  friend Result<EchoSocket> open(Net& net, Family family);
  explicit EchoSocket(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A ping socket of `family` in `net`. invalid_argument when the namespace is already dying.
[[nodiscard]] Result<EchoSocket> open(Net& net, Family family = Family::ipv4);

}  // namespace netns::icmp
