// A UDP echo server in namespace "server" (192.0.2.1) and a client in
// namespace "client" (192.0.2.2), joined by a veth and written as C++20
// coroutines on one io_context. The client sends a few messages and prints
// each reply with its round-trip time; the program exits 0 when every reply
// matched.
//
//   ./udp_echo_coroutines
#include <array>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <netns/asio.hpp>
#include <netns/ipv4.hpp>
#include <netns/netns.hpp>

namespace {

namespace ba = boost::asio;
using netns::asio::UdpSocket;

constexpr std::uint16_t kEchoPort = 7;

// Answers every datagram with itself until its socket is closed.
ba::awaitable<void> serve(UdpSocket& socket) {
  std::array<char, 2048> buf;
  netns::Endpoint from;
  for (;;) {
    auto [ec, n] = co_await socket.async_receive_from(ba::buffer(buf), from,
                                                      ba::as_tuple(ba::use_awaitable));
    if (ec == ba::error::operation_aborted) co_return;  // closed: the program is done
    if (ec) {
      fmt::print("server: receive failed: {}\n", ec.message());
      continue;
    }
    co_await socket.async_send_to(ba::buffer(buf.data(), n), from, ba::use_awaitable);
  }
}

// Sends each message, waits for its echo, and counts the ones that matched.
ba::awaitable<int> ask(UdpSocket& socket, netns::Endpoint server) {
  const std::array<std::string_view, 4> messages = {"hello", "from the client namespace",
                                                    "to the server namespace", "bye"};
  std::array<char, 2048> buf;
  int matched = 0;
  for (std::string_view message : messages) {
    const auto sent_at = std::chrono::steady_clock::now();
    co_await socket.async_send_to(ba::buffer(message.data(), message.size()), server, ba::use_awaitable);
    netns::Endpoint from;
    std::size_t n = co_await socket.async_receive_from(ba::buffer(buf), from, ba::use_awaitable);
    const auto rtt = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - sent_at);
    const std::string_view reply(buf.data(), n);
    fmt::print("client: {} bytes from {}: \"{}\" rtt {}\n", n, from, reply, rtt);
    if (reply == message && from == server) ++matched;
  }
  co_return matched;
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

  auto server = UdpSocket::open(runner, *server_net).value();
  if (!server.bind({netns::Ipv4Address::any(), kEchoPort})) return 1;
  auto client = UdpSocket::open(runner, *client_net).value();

  int matched = -1;
  ba::co_spawn(io, serve(server), ba::detached);
  ba::co_spawn(io, ask(client, {netns::Ipv4Address(192, 0, 2, 1), kEchoPort}),
               [&](std::exception_ptr e, int m) {
                 if (e) {
                   try {
                     std::rethrow_exception(e);
                   } catch (const std::exception& ex) {
                     fmt::print("client: {}\n", ex.what());
                   }
                 }
                 matched = m;
                 // Done: the server coroutine ends with operation_aborted, and
                 // with the Runner stopped (no ARP timers waited for) run() returns.
                 server.close();
                 client.close();
                 runner.stop();
               });
  io.run();

  fmt::print("{} of 4 replies matched\n", matched);
  return matched == 4 ? 0 : 1;
}
