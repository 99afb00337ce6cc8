// A TCP echo server in namespace "server" (192.0.2.1) and a client in
// namespace "client" (192.0.2.2), joined by a veth and written as C++20
// coroutines on one io_context. The server echoes every connection until
// its peer shuts down; the client sends a few lines, reads each echo with
// async_read_until, then sends 256 KiB with async_write while reading the
// echo with async_read at the same time, and checks every byte. The program
// prints what was exchanged and exits 0 when everything came back intact.
//
//   ./tcp_echo_coroutines
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <netns/asio.hpp>
#include <netns/ipv4.hpp>
#include <netns/netns.hpp>
#include <netns/tcp.hpp>

namespace {

namespace ba = boost::asio;
using netns::asio::TcpAcceptor;
using netns::asio::TcpStream;

constexpr std::uint16_t kEchoPort = 7;
constexpr std::size_t kBulkSize = 256 * 1024;

// Echoes one connection until the peer shuts its side down, then shuts
// down ours.
ba::awaitable<void> echo(TcpStream conn) {
  const netns::Endpoint peer = conn.remote_endpoint();
  std::array<char, 4096> buf;
  std::size_t total = 0;
  for (;;) {
    auto [ec, n] = co_await conn.async_read_some(ba::buffer(buf), ba::as_tuple(ba::use_awaitable));
    if (ec == ba::error::eof) break;
    if (ec) {
      fmt::print("server: read from {} failed: {}\n", peer, ec.message());
      co_return;
    }
    co_await ba::async_write(conn, ba::buffer(buf.data(), n), ba::use_awaitable);
    total += n;
  }
  fmt::print("server: {} shut down after {} bytes; closing\n", peer, total);
  (void)conn.shutdown();
}

// Accepts connections until the acceptor is closed, one coroutine each.
ba::awaitable<void> serve(TcpAcceptor& acceptor) {
  for (;;) {
    auto [ec, conn] = co_await acceptor.async_accept(ba::as_tuple(ba::use_awaitable));
    if (ec == ba::error::operation_aborted) co_return;  // closed: the program is done
    if (ec) {
      fmt::print("server: accept failed: {}\n", ec.message());
      continue;
    }
    fmt::print("server: connection from {}\n", conn.remote_endpoint());
    ba::co_spawn(acceptor.get_executor(), echo(std::move(conn)), ba::detached);
  }
}

// Lines first, then a bulk transfer; true when every echo matched.
ba::awaitable<bool> talk(netns::asio::Runner& runner, netns::Net& net, netns::Endpoint server) {
  using namespace ba::experimental::awaitable_operators;
  const auto started = std::chrono::steady_clock::now();
  TcpStream conn = co_await TcpStream::async_connect(runner, net, server, ba::use_awaitable);
  const auto rtt = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
  fmt::print("client: connected {} -> {} in {}\n", conn.local_endpoint(), conn.remote_endpoint(), rtt);
  conn.set_nodelay(true);  // one line at a time: no waiting for Nagle

  bool ok = true;
  std::string pending;
  for (std::string_view line : {"hello\n", "from the client namespace\n", "to the server namespace\n"}) {
    co_await ba::async_write(conn, ba::buffer(line.data(), line.size()), ba::use_awaitable);
    const std::size_t n = co_await ba::async_read_until(conn, ba::dynamic_buffer(pending), '\n', ba::use_awaitable);
    const std::string echoed = pending.substr(0, n);
    pending.erase(0, n);
    fmt::print("client: sent {:?}, got back {:?}\n", line, echoed);
    ok = ok && echoed == line;
  }

  // Writing and reading at once: one after the other, the windows would
  // fill and both sides would wait for each other.
  std::vector<std::uint8_t> out(kBulkSize);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::uint8_t>(i * 131 + (i >> 12));
  std::vector<std::uint8_t> back(kBulkSize);
  auto send = [&]() -> ba::awaitable<void> {
    co_await ba::async_write(conn, ba::buffer(out), ba::use_awaitable);
    (void)conn.shutdown();  // the server sees end of stream and shuts down too
  };
  auto receive = [&]() -> ba::awaitable<void> {
    co_await ba::async_read(conn, ba::buffer(back), ba::use_awaitable);
  };
  co_await (send() && receive());
  const bool bulk_ok = back == out;
  fmt::print("client: sent {} bytes in one async_write, {} came back {}\n", out.size(), back.size(),
             bulk_ok ? "intact" : "CORRUPTED");

  std::array<char, 16> rest;
  auto [ec, n] = co_await conn.async_read_some(ba::buffer(rest), ba::as_tuple(ba::use_awaitable));
  fmt::print("client: then {} ({} bytes)\n", ec.message(), n);
  co_return ok && bulk_ok && ec == ba::error::eof;
}

}  // namespace

int main() {
  // The io_context is declared first so it goes last: the sockets are
  // closed, then the Runner, then the Host.
  ba::io_context io;
  netns::Host host;

  netns::NetRef server_net = host.create_net("server").value();
  netns::NetRef client_net = host.create_net("client").value();
  auto veth = netns::make_veth(*server_net, "eth0", *client_net, "eth0").value();
  if (!netns::set_link_up(*veth.a) || !netns::set_link_up(*veth.b)) return 1;
  if (!netns::ipv4::add_address(*server_net, *veth.a, netns::Ipv4Prefix::parse("192.0.2.1/24").value()) ||
      !netns::ipv4::add_address(*client_net, *veth.b, netns::Ipv4Prefix::parse("192.0.2.2/24").value())) {
    return 1;
  }

  netns::asio::Runner runner(host, io);
  runner.start();

  auto acceptor = TcpAcceptor::open(runner, *server_net, {netns::Ipv4Address::any(), kEchoPort});
  if (!acceptor) {
    fmt::print("listen: {}\n", acceptor.error().message());
    return 1;
  }

  bool ok = false;
  ba::co_spawn(io, serve(*acceptor), ba::detached);
  ba::co_spawn(io, talk(runner, *client_net, {netns::Ipv4Address(192, 0, 2, 1), kEchoPort}),
               [&](std::exception_ptr e, bool result) {
                 if (e) {
                   try {
                     std::rethrow_exception(e);
                   } catch (const std::exception& ex) {
                     fmt::print("client: {}\n", ex.what());
                   }
                 }
                 ok = !e && result;
                 // Done: the accept loop ends with operation_aborted, and with
                 // the Runner stopped (TIME_WAIT and ARP timers not waited
                 // for) run() returns.
                 acceptor->close();
                 runner.stop();
               });
  io.run();

  fmt::print("{}\n", ok ? "every echo matched" : "echo FAILED");
  fmt::print("{}", netns::tcp::dump_sockets(*client_net));
  return ok ? 0 : 1;
}
