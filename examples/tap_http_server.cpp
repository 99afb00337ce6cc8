// An HTTP/1.0 server in a netns namespace that Linux reaches through a TAP
// interface. The namespace "web" gets the TAP with 192.0.2.2/24; the server
// answers every request with a short page naming the path asked for. Only
// the io_context runs: the Runner waits on the TAP's descriptor, so the
// program sleeps until Linux sends something. Needs CAP_NET_ADMIN.
//
//   sudo ./tap_http_server [TAP-NAME] [REQUESTS]      # default nstap0, forever
//   # in another shell:
//   sudo ip addr add 192.0.2.1/24 dev nstap0 && sudo ip link set nstap0 up
//   curl http://192.0.2.2:8080/hello
//
// With REQUESTS, it exits 0 after serving that many. Ctrl-C stops it; the
// TAP interface goes away with the program.
#include <array>
#include <csignal>
#include <cstdlib>
#include <string>
#include <string_view>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include <netns/asio.hpp>
#include <netns/ipv4.hpp>
#include <netns/netns.hpp>
#include <netns/tap.hpp>
#include <netns/tcp.hpp>

namespace {

namespace ba = boost::asio;
using netns::asio::TcpAcceptor;
using netns::asio::TcpStream;

constexpr std::uint16_t kPort = 8080;

// Reads the request head, answers, closes. Returns the request line.
ba::awaitable<std::string> serve_one(TcpStream conn) {
  std::string request;
  std::array<char, 2048> buf;
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 16384) {
    auto [ec, n] = co_await conn.async_read_some(ba::buffer(buf), ba::as_tuple(ba::use_awaitable));
    if (ec) co_return std::string();
    request.append(buf.data(), n);
  }
  const std::string line = request.substr(0, request.find("\r\n"));
  // "GET /path HTTP/1.1": the path is the second word.
  const auto first = line.find(' ');
  const auto second = line.find(' ', first + 1);
  const std::string path = first == std::string::npos ? "?" : line.substr(first + 1, second - first - 1);
  const std::string body = fmt::format("hello from netns {}, you asked for {}\n", conn.local_endpoint(), path);
  const std::string reply = fmt::format(
      "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
      body.size(), body);
  auto [ec, n] = co_await ba::async_write(conn, ba::buffer(reply), ba::as_tuple(ba::use_awaitable));
  (void)n;
  if (!ec) (void)conn.shutdown();
  co_return line;
}

ba::awaitable<void> serve(TcpAcceptor& acceptor, long requests, bool& done) {
  for (long served = 0; requests == 0 || served < requests;) {
    auto [ec, conn] = co_await acceptor.async_accept(ba::as_tuple(ba::use_awaitable));
    if (ec == ba::error::operation_aborted) co_return;
    if (ec) continue;
    const netns::Endpoint peer = conn.remote_endpoint();
    std::string line = co_await serve_one(std::move(conn));
    if (line.empty()) continue;
    fmt::print("{} \"{}\"\n", peer, line);
    ++served;
  }
  done = true;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string tap_name = argc > 1 ? argv[1] : "nstap0";
  const long requests = argc > 2 ? std::strtol(argv[2], nullptr, 10) : 0;

  ba::io_context io;  // first: destroyed last, after the sockets and the Host
  netns::HostConfig config;
  config.start = netns::Clock::now();  // the Runner drives the Host on the real clock
  config.utc_offset = netns::system_utc_offset();  // so ICMP timestamps carry real UTC
  netns::Host host(config);
  netns::NetRef web = host.create_net("web").value();

  auto tap = netns::make_tap(*web, tap_name);
  if (!tap) {
    fmt::print(stderr, "make_tap {}: {}\n", tap_name, tap.error().message());
    return 1;
  }
  if (!netns::set_link_up(**tap) ||
      !netns::ipv4::add_address(*web, **tap, netns::Ipv4Prefix::parse("192.0.2.2/24").value())) {
    return 1;
  }

  netns::asio::Runner runner(host, io);
  runner.start();
  auto acceptor = TcpAcceptor::open(runner, *web, {netns::Ipv4Address::any(), kPort});
  if (!acceptor) {
    fmt::print(stderr, "listen: {}\n", acceptor.error().message());
    return 1;
  }
  fmt::print("serving http://192.0.2.2:{}/ on TAP {}; in Linux:\n"
             "  ip addr add 192.0.2.1/24 dev {} && ip link set {} up\n",
             kPort, tap_name, tap_name, tap_name);
  std::fflush(stdout);

  bool done = false;
  auto stop = [&] {
    acceptor->close();
    runner.stop();  // ARP and TCP timers are not waited for: run() returns
  };
  ba::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) stop();
  });
  // The last reply was only handed to TCP: let it reach Linux before stopping.
  ba::steady_timer linger(io);
  ba::co_spawn(io, serve(*acceptor, requests, done), [&](std::exception_ptr) {
    signals.cancel();
    linger.expires_after(std::chrono::milliseconds(500));
    linger.async_wait([&](const boost::system::error_code&) { stop(); });
  });
  io.run();
  return requests == 0 || done ? 0 : 1;
}
