// netns/udp.hpp — UDP sockets, one namespace each, non-blocking, either family.
//
// A Socket is Linux's SOCK_DGRAM socket opened inside one namespace: it
// binds, connects, sends and receives there for its whole life, and keeps
// the namespace alive (it holds a NetRef) until it is closed. Nothing
// blocks: an operation that cannot complete now returns
// boost::asio::error::would_block, and Host::poll does the work.
//
//   auto server = udp::open(*red).value();
//   server.bind({Ipv4Address::any(), 5353}).value();
//   auto client = udp::open(*blue).value();
//   client.send_to(as_bytes(std::span("hello")), {Ipv4Address(192, 0, 2, 2), 5353}).value();
//   host.poll(clock.now());                               // the datagram crosses the veth
//   std::array<std::byte, 1500> buf;
//   auto got = server.receive_from(buf);                 // Result<Datagram>: size, from
//
// An IPv6 socket (open(net, Family::ipv6)) bound to :: takes IPv4 datagrams
// too, their peers seen as ::ffff:a.b.c.d, and reaches IPv4 peers given
// either way, unless it is v6-only (net.ipv6.bindv6only=1 at open, or
// set_v6only(true) before bind), as Linux's dual-stack sockets.
//
// Behaviour is Linux's, with these limits: no SO_REUSEADDR/SO_REUSEPORT (a
// second bind to a taken port is address_in_use), no multicast group
// membership, no socket options beyond SO_BROADCAST and SO_RCVBUF, no
// control messages, and checksums are verified on input rather than lazily.
//
// Errors are the codes a Linux user expects: address_in_use,
// address_not_available (binding to an address the namespace does not
// have), network_unreachable, host_unreachable, connection_refused (an ICMP
// port unreachable answered a connected socket), message_size (a datagram
// over 65507 bytes), invalid_argument, permission_denied (broadcast without
// set_broadcast), bad_file_descriptor (a closed or moved-from socket).
//
// Sockets must be closed before their Host is destroyed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "netns/address.hpp"
#include "netns/result.hpp"

namespace netns {
class Net;
}

namespace netns::udp {

// The largest payload: 65535 minus the IPv4 and UDP headers; over IPv6,
// where the payload length leaves out the IPv6 header, minus UDP's alone.
inline constexpr std::size_t kMaxPayload = 65507;
inline constexpr std::size_t kMaxPayload6 = 65527;

struct Datagram {
  std::size_t size = 0;    // bytes copied into the caller's buffer
  Endpoint from;
  bool truncated = false;  // the datagram was longer than the buffer (MSG_TRUNC); the rest is gone
};

class Socket {
 public:
  // An inert socket, like a moved-from one: every operation fails with bad_file_descriptor.
  Socket();
  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&& other) noexcept;  // closes what this socket held
  ~Socket();                                    // closes

  // bind(2). Port 0 picks an ephemeral port from net.ipv4.ip_local_port_range.
  // The address is of the socket's family (address_family_not_supported
  // otherwise). IPv4: 0.0.0.0, one of the namespace's addresses, a broadcast
  // or multicast address, or anything with net.ipv4.ip_nonlocal_bind=1.
  // IPv6: ::, a multicast address, one of the namespace's addresses past
  // DAD (a link-local one with its device's ifindex as scope id, else
  // invalid_argument), or ::ffff:a.b.c.d as IPv4 (not when v6-only).
  // address_not_available otherwise. address_in_use when taken (a
  // dual-stack :: takes 0.0.0.0 as well); invalid_argument when already bound.
  [[nodiscard]] Result<void> bind(Endpoint local);
  // connect(2): sets the default peer, and from then on only datagrams from
  // it are received. Binds first when unbound; a socket bound to the
  // unspecified address takes the route's source address. An IPv6 socket
  // takes an IPv4 peer as ::ffff:a.b.c.d (address_family_not_supported when
  // v6-only); an IPv4 socket no IPv6 peer (address_family_not_supported).
  // network_unreachable when there is no route, invalid_argument for port 0,
  // permission_denied for a broadcast peer without set_broadcast(true).
  [[nodiscard]] Result<void> connect(Endpoint remote);
  // connect(AF_UNSPEC): forgets the peer, and undoes what connect bound
  // implicitly (the source address, and the port when bind did not choose it).
  [[nodiscard]] Result<void> disconnect();

  // sendto(2): one datagram of data.size() bytes, copied out of the caller's
  // buffer before it returns. Binds to an ephemeral port first when unbound.
  // A v6-only socket cannot reach an IPv4 peer (network_unreachable).
  // Returns the bytes sent. A pending error (an ICMP error answering a
  // connected socket) is returned once instead.
  [[nodiscard]] Result<std::size_t> send_to(std::span<const std::byte> data, Endpoint to);
  // send(2) on a connected socket; destination_address_required otherwise.
  [[nodiscard]] Result<std::size_t> send(std::span<const std::byte> data);
  // recvfrom(2): the oldest queued datagram, copied into `buffer` (a longer
  // one is truncated, see Datagram). would_block when nothing is queued. A
  // pending error is returned once, before any queued datagram.
  [[nodiscard]] Result<Datagram> receive_from(std::span<std::byte> buffer);

  // The unspecified address of its family, port 0, until bound (0.0.0.0:0
  // for an inert socket).
  Endpoint local_endpoint() const;
  // The peer of a connected socket; port 0 when not connected.
  Endpoint remote_endpoint() const;
  // The namespace the socket was opened in. Precondition: is_open().
  Net& net() const;
  bool is_open() const { return impl_ != nullptr; }
  // Bytes of the next queued datagram (FIONREAD), 0 when none.
  std::size_t next_size() const;

  Family family() const;
  // IPV6_V6ONLY: an IPv6 socket that neither takes nor sends IPv4. Only
  // before bind (or the send that binds), and only on an IPv6 socket:
  // invalid_argument otherwise.
  [[nodiscard]] Result<void> set_v6only(bool enabled);
  bool v6only() const;

  // SO_BROADCAST: allow sending to broadcast addresses.
  void set_broadcast(bool enabled);
  // SO_RCVBUF: the bytes the receive queue may hold (default
  // net.core.rmem_default; each datagram is charged its size plus 256 bytes
  // of bookkeeping). Datagrams that do not fit are dropped and counted as
  // UdpRcvbufErrors. invalid_argument for 0.
  [[nodiscard]] Result<void> set_receive_buffer_size(std::size_t bytes);
  std::size_t receive_buffer_size() const;

  // Readiness for event loops (the Asio adapter): `callback` runs on the
  // Host's thread, inside Host::poll, each time a datagram is queued or an
  // error becomes pending — edge-triggered, so drain with receive_from until
  // would_block. It may receive, send, close this or other sockets; it must
  // not call Host::poll. An empty function removes it.
  void on_readable(std::function<void()> callback);

  // Closes now (the destructor does it too); idempotent.
  void close();

  struct Impl;

 private:
  friend Result<Socket> open(Net& net, Family family);
  explicit Socket(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// socket(AF_INET or AF_INET6, SOCK_DGRAM, 0) in `net`. invalid_argument
// when the namespace is already dying.
[[nodiscard]] Result<Socket> open(Net& net, Family family = Family::ipv4);

// `ss -u -a -n` for one namespace: State Recv-Q Send-Q Local Address:Port
// Peer Address:Port, UNCONN or ESTAB, one bound socket a line.
std::string dump_sockets(Net& net);

}  // namespace netns::udp
