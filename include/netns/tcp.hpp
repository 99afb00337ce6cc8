// netns/tcp.hpp — TCP streams and listeners, one namespace each, non-blocking.
//
// A Stream is one TCP connection (RFC 9293) inside one namespace; a Listener
// is a socket in LISTEN with its SYN queue and accept backlog. Both keep the
// namespace alive (a NetRef) until closed. Nothing blocks: an operation that
// cannot complete now returns boost::asio::error::would_block and
// Host::poll does the work (segments, retransmissions, timers).
//
//   auto server = tcp::listen(*red, {Ipv4Address::any(), 80}).value();
//   auto client = tcp::connect(*blue, {Ipv4Address(192, 0, 2, 2), 80}).value();  // syn_sent
//   host.poll(clock.now());                       // the handshake crosses the veth
//   auto conn = server.accept().value();          // established
//   client.write(as_bytes(std::span("hello"))).value();
//   host.poll(clock.now());
//   std::array<std::byte, 64> buf;
//   std::size_t n = conn.read(buf).value();       // 0 once the peer has closed its side
//
// Behaviour is Linux's: options MSS, window scaling, timestamps with PAWS
// and SACK; CUBIC (or NewReno, net.ipv4.tcp_congestion_control) with
// HyStart++; loss detection by RACK-TLP (net.ipv4.tcp_recovery,
// tcp_early_retrans), recovery by PRR, undo of spurious reductions by
// D-SACKs and timestamps; RTO per RFC 6298 with Linux's 200 ms floor;
// delayed ACKs, Nagle, zero-window probes, keepalive; SYN cookies when the
// SYN queue is full; RFC 5961 challenge ACKs, rate limited per namespace.
// Not supported: urgent data (the URG flag is ignored), ECN, TCP Fast Open,
// MD5/AO signatures, SO_REUSEADDR/SO_LINGER, path MTU discovery beyond the
// route's device MTU.
//
// Errors are the codes a Linux user expects: address_in_use,
// address_not_available, network_unreachable, connection_refused (RST to a
// SYN), connection_reset, timed_out (each reported once), not_connected (a
// connection that never got established; before the handshake completes,
// read and write are would_block), broken_pipe (write after shutdown, or
// once a connection that was established has closed or been reset: reads
// then see the end of the stream, 0, as Linux's recv), invalid_argument,
// bad_file_descriptor (a closed or moved-from object).
//
// Streams and listeners must be closed before their Host is destroyed.
// Closing a Stream is close(2): the connection goes on in the namespace
// (FIN_WAIT, CLOSING, LAST_ACK) as an orphan, bounded by
// net.ipv4.tcp_max_orphans; unread data makes it a reset instead, as Linux
// does. TIME_WAIT is no connection but a small record, as Linux's
// timewait socket, bounded by net.ipv4.tcp_max_tw_buckets: a Stream whose
// connection entered it shows time_wait (and reads what is left) until the
// 60 s are over, then closed; closing or aborting it leaves the record
// waiting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "netns/address.hpp"
#include "netns/resources.hpp"
#include "netns/result.hpp"

namespace netns {
class Net;
}

namespace netns::tcp {

enum class State {
  closed,
  listen,
  syn_sent,
  syn_received,
  established,
  fin_wait_1,
  fin_wait_2,
  close_wait,
  closing,
  last_ack,
  time_wait
};

// "ESTAB", "SYN-SENT"... as ss prints them.
std::string_view to_string(State state);

class Connection;  // the connection state in the namespace (internal)

// What a Stream's connection knows about itself, as `ss -t -i` prints.
struct Info {
  State state = State::closed;
  std::uint32_t mss = 0;            // the sender's segment size
  std::uint32_t cwnd = 0;           // congestion window, bytes
  std::uint32_t ssthresh = 0;       // bytes
  std::uint32_t srtt_us = 0;        // 0 until measured
  std::uint32_t rto_ms = 0;
  std::uint32_t snd_wnd = 0;        // the peer's window, scaled
  std::uint32_t rcv_wnd = 0;        // ours, scaled
  // `ss -tm`'s skmem rb and r: the receive buffer (tcp_rmem[1], autotuned up
  // to tcp_rmem[2]) and what the data received pins in it (truesize).
  std::uint32_t rcvbuf = 0;
  std::uint32_t rmem_alloc = 0;
  std::uint64_t bytes_acked = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t retransmits = 0;    // segments retransmitted
  bool sack = false, timestamps = false, window_scaling = false;
  bool ecn = false;  // ECN (RFC 3168) agreed in the handshake: tcpi_options' TCPI_OPT_ECN
  // The sender's loss recovery, as Linux's tcp_info: its state ("open",
  // "disorder", "cwr", "recovery", "loss"); bytes outstanding now SACKed,
  // marked lost, and retransmitted with the retransmission in flight; the
  // reordering degree in segments; the windowed minimum RTT (0 before a
  // sample); bytes delivered; segments the peer reported as duplicates.
  std::string_view ca_state = "open";
  std::uint32_t sacked = 0, lost = 0, retrans = 0;
  std::uint32_t reordering = 0;
  std::uint32_t min_rtt_us = 0;
  std::uint64_t delivered = 0;
  std::uint64_t dsack_dups = 0;
};

class Stream {
 public:
  // An inert stream, like a moved-from one: operations fail with bad_file_descriptor.
  Stream();
  Stream(Stream&& other) noexcept;
  Stream& operator=(Stream&& other) noexcept;  // closes what this stream held
  ~Stream();                                    // close()

  // recv(2): copies up to buffer.size() bytes in order. 0 when the peer has
  // sent FIN and everything before it was read (or buffer is empty).
  // would_block when nothing is there yet; the connection's error
  // (connection_refused, connection_reset, timed_out) once it failed.
  [[nodiscard]] Result<std::size_t> read(std::span<std::byte> buffer);
  // send(2): copies what fits into the send buffer (net.ipv4.tcp_wmem) and
  // returns how much; would_block when none fits or the handshake is still
  // going on; broken_pipe after shutdown(), or the connection's error.
  [[nodiscard]] Result<std::size_t> write(std::span<const std::byte> data);
  // shutdown(SHUT_WR): a FIN follows the data already written.
  [[nodiscard]] Result<void> shutdown();
  // close(2): see the header comment. Idempotent.
  void close();
  // SO_LINGER with a zero timeout, then close: an RST now, data discarded.
  void abort();

  State state() const;
  Endpoint local_endpoint() const;
  Endpoint remote_endpoint() const;
  // TCP_NODELAY: segments leave without waiting for Nagle.
  void set_nodelay(bool enabled);
  // SO_KEEPALIVE, with net.ipv4.tcp_keepalive_{time,intvl,probes}.
  void set_keepalive(bool enabled);
  // Precondition: is_open().
  Net& net() const;
  bool is_open() const { return conn_ != nullptr; }
  Info info() const;

  // Bytes readable now (FIONREAD) and bytes the send buffer can take now.
  std::size_t readable_bytes() const;
  std::size_t writable_bytes() const;

  // Readiness for event loops: each callback runs on the Host's thread
  // inside Host::poll when the condition may have changed — readable: data,
  // FIN or an error arrived; writable: the handshake completed, send-buffer
  // space was freed, or an error arrived. Edge-triggered: drain until
  // would_block. Callbacks may read, write and close this or other sockets;
  // they must not call Host::poll. An empty function removes one.
  void on_readable(std::function<void()> callback);
  void on_writable(std::function<void()> callback);

 private:
  friend class Listener;
  friend Result<Stream> connect(Net& net, Endpoint remote);
  friend Result<Stream> connect(Net& net, Endpoint local, Endpoint remote);
  Stream(std::shared_ptr<Connection> conn, SocketSlot slot);
  std::shared_ptr<Connection> conn_;
  SocketSlot slot_;  // one of net.core.sockets_max, as a file descriptor
};

class ListenSocket;  // internal

struct ListenOptions;

class Listener {
 public:
  Listener();
  Listener(Listener&& other) noexcept;
  Listener& operator=(Listener&& other) noexcept;
  ~Listener();  // close(): connections not yet accepted are reset

  // accept(2): the oldest established connection, would_block when none;
  // too_many_files_open (EMFILE) at net.core.sockets_max, the connection
  // left waiting.
  [[nodiscard]] Result<Stream> accept();
  Endpoint local_endpoint() const;
  // Precondition: is_open().
  Net& net() const;
  bool is_open() const { return sock_ != nullptr; }
  void close();
  // Connections waiting to be accepted.
  std::size_t pending() const;
  // Runs (inside Host::poll) when a connection becomes acceptable.
  void on_acceptable(std::function<void()> callback);

 private:
  friend Result<Listener> listen(Net& net, Endpoint local, const ListenOptions& options);
  Listener(std::unique_ptr<ListenSocket> sock, SocketSlot slot);
  std::unique_ptr<ListenSocket> sock_;
  SocketSlot slot_;
};

// bind + listen(2). Port 0 picks an ephemeral port. The accept backlog is
// min(backlog, net.core.somaxconn); SYNs beyond net.ipv4.tcp_max_syn_backlog
// half-open connections are answered with SYN cookies
// (net.ipv4.tcp_syncookies). Errors as bind(2), invalid_argument for a
// backlog below 0, too_many_files_open (EMFILE) at net.core.sockets_max.
// A listener, and each stream a user holds, is one socket of the
// namespace's; connections waiting in the backlog, orphans and TIME_WAIT
// are not (as they hold no file descriptor in Linux).
[[nodiscard]] Result<Listener> listen(Net& net, Endpoint local, int backlog = 128);

// What setsockopt may set before listen: the backlog as above, and
// IPV6_V6ONLY for an IPv6 listener (unset: net.ipv6.bindv6only). A v6-only
// listener on [::] takes no IPv4 connection and leaves IPv4's port free;
// v6only on an IPv4 address is invalid_argument.
struct ListenOptions {
  int backlog = 128;
  std::optional<bool> v6only;
};
[[nodiscard]] Result<Listener> listen(Net& net, Endpoint local, const ListenOptions& options);
// connect(2), non-blocking: sends the SYN and returns in syn_sent. The
// source address is the route's, the port ephemeral. network_unreachable
// without a route, invalid_argument for port 0 or a broadcast/multicast peer,
// too_many_files_open (EMFILE) at net.core.sockets_max.
[[nodiscard]] Result<Stream> connect(Net& net, Endpoint remote);
// The same from a given local endpoint (bind(2) first); port 0 is ephemeral.
[[nodiscard]] Result<Stream> connect(Net& net, Endpoint local, Endpoint remote);

// `ss -t -a -n` for one namespace: State Recv-Q Send-Q Local Address:Port
// Peer Address:Port, one socket a line (listeners, connections, orphans,
// TIME_WAIT).
std::string dump_sockets(Net& net);

}  // namespace netns::tcp
