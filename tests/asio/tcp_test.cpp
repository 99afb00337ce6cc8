// Asynchronous TCP: TcpAcceptor and TcpStream with callbacks, use_future and
// coroutines, the Asio composed operations (async_read, async_write,
// async_read_until) on a TcpStream, end of stream, connection errors and
// every way of aborting a pending operation. Two namespaces over a veth on
// the real clock (asio_fixture.hpp): blue 192.0.2.1/24, red 192.0.2.2/24.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "netns/asio.hpp"
#include "netns/device.hpp"
#include "netns/host.hpp"
#include "netns/ipv4.hpp"
#include "netns/tcp.hpp"
#include "asio/asio_fixture.hpp"
#include "support/tcp_peer.hpp"

namespace netns {
namespace {
namespace asio_tcp_test {

using namespace std::chrono_literals;
namespace ba = boost::asio;
using netns::asio::ErrorCode;
using netns::asio::Runner;
using netns::asio::TcpAcceptor;
using netns::asio::TcpStream;

const Ipv4Address kBlue(192, 0, 2, 1);
const Ipv4Address kRed(192, 0, 2, 2);
constexpr std::uint16_t kPort = 7;
constexpr auto kLimit = support::kAsioLimit;

ba::const_buffer text(std::string_view s) { return ba::buffer(s.data(), s.size()); }

// Bytes whose value depends on their position, with no short period, so a
// byte lost, duplicated or reordered shows.
std::vector<std::uint8_t> pattern(std::size_t size) {
  std::vector<std::uint8_t> data(size);
  for (std::size_t i = 0; i < size; ++i) data[i] = static_cast<std::uint8_t>(i * 131 + (i >> 12));
  return data;
}

// The first position where `got` differs from `want`, or want.size().
std::size_t first_difference(const std::vector<std::uint8_t>& want, const std::vector<std::uint8_t>& got) {
  auto [w, g] = std::mismatch(want.begin(), want.end(), got.begin(), got.end());
  return static_cast<std::size_t>(w - want.begin());
}

class AsioTcp : public support::AsioTwoNets {
 protected:
  // Blue's streams opened after this get a send buffer of 64 KiB (4 MiB by
  // default), so a larger write can be made to wait: see stall_blue().
  void small_send_buffer() { ASSERT_TRUE(blue_->sysctl().set("net.ipv4.tcp_wmem", "4096 16384 65536")); }
  // Every frame blue sends is lost from now on: its send buffer fills and
  // stays full, whatever red's receive window.
  void stall_blue() { ASSERT_TRUE(set_link_faults(*blue_eth0_, LinkFaults{.loss = 1.0})); }

  TcpAcceptor listen(std::uint16_t port = kPort) {
    auto acceptor = TcpAcceptor::open(runner_, *red_, {Ipv4Address::any(), port});
    EXPECT_TRUE(acceptor) << acceptor.error().message();
    return std::move(*acceptor);
  }

  // An established pair through the asynchronous API: {client in blue,
  // server in red}.
  std::pair<TcpStream, TcpStream> connected_pair(TcpAcceptor& acceptor) {
    std::optional<TcpStream> server;
    std::optional<TcpStream> client;
    acceptor.async_accept([&](ErrorCode ec, TcpStream s) {
      EXPECT_FALSE(ec) << ec.message();
      server.emplace(std::move(s));
    });
    TcpStream::async_connect(runner_, *blue_, {kRed, acceptor.local_endpoint().port},
                             [&](ErrorCode ec, TcpStream s) {
                               EXPECT_FALSE(ec) << ec.message();
                               client.emplace(std::move(s));
                             });
    EXPECT_TRUE(run_until([&] { return server && client; }));
    if (!server || !client) return {TcpStream(runner_), TcpStream(runner_)};
    return {std::move(*client), std::move(*server)};
  }
};

// ---- accept and connect ----

TEST_F(AsioTcp, CallbacksAcceptConnectAndCarryBytesBothWays) {
  auto acceptor = listen();
  EXPECT_EQ(acceptor.local_endpoint(), (Endpoint{Ipv4Address::any(), kPort}));
  std::optional<TcpStream> server;
  std::optional<TcpStream> client;
  bool accepted_inline = true;
  bool connected_inline = true;
  const auto io_thread = std::this_thread::get_id();
  acceptor.async_accept([&](ErrorCode ec, TcpStream s) {
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(std::this_thread::get_id(), io_thread);
    server.emplace(std::move(s));
  });
  accepted_inline = server.has_value();
  TcpStream::async_connect(runner_, *blue_, {kRed, kPort}, [&](ErrorCode ec, TcpStream s) {
    ASSERT_FALSE(ec) << ec.message();
    client.emplace(std::move(s));
  });
  connected_inline = client.has_value();
  EXPECT_FALSE(accepted_inline);  // completions always go through the executor
  EXPECT_FALSE(connected_inline);
  ASSERT_TRUE(run_until([&] { return server && client; }));

  EXPECT_TRUE(client->is_open());
  EXPECT_EQ(client->state(), tcp::State::established);
  EXPECT_EQ(server->state(), tcp::State::established);
  EXPECT_EQ(client->remote_endpoint(), (Endpoint{kRed, kPort}));
  EXPECT_EQ(server->remote_endpoint(), client->local_endpoint());
  EXPECT_EQ(client->local_endpoint().address, kBlue);
  EXPECT_EQ(acceptor.pending(), 0u);

  // A read waits for its bytes; the write completes with what was taken.
  std::array<char, 64> at_server{};
  std::optional<std::size_t> read;
  std::optional<std::size_t> written;
  server->async_read_some(ba::buffer(at_server), [&](ErrorCode ec, std::size_t n) {
    EXPECT_FALSE(ec) << ec.message();
    read = n;
  });
  run_for(20ms);
  EXPECT_FALSE(read.has_value());
  client->async_write_some(text("hello, red"), [&](ErrorCode ec, std::size_t n) {
    EXPECT_FALSE(ec) << ec.message();
    written = n;
  });
  ASSERT_TRUE(run_until([&] { return read && written; }));
  EXPECT_EQ(*written, 10u);
  EXPECT_EQ(std::string_view(at_server.data(), *read), "hello, red");

  // And back, the read started after the bytes arrived.
  std::optional<std::size_t> echoed;
  server->async_write_some(text("hello, blue"), [&](ErrorCode ec, std::size_t n) {
    EXPECT_FALSE(ec) << ec.message();
    echoed = n;
  });
  ASSERT_TRUE(run_until([&] { return echoed.has_value(); }));
  run_for(20ms);
  std::array<char, 64> at_client{};
  std::optional<std::size_t> back;
  client->async_read_some(ba::buffer(at_client), [&](ErrorCode ec, std::size_t n) {
    EXPECT_FALSE(ec) << ec.message();
    back = n;
  });
  ASSERT_TRUE(run_until([&] { return back.has_value(); }));
  EXPECT_EQ(std::string_view(at_client.data(), *back), "hello, blue");
  EXPECT_EQ(blue_->counters().get("TcpActiveOpens"), 1u);
  EXPECT_EQ(red_->counters().get("TcpPassiveOpens"), 1u);
}

TEST_F(AsioTcp, AcceptsQueueInOrderAndConnectionsWaitForThem) {
  auto acceptor = listen();
  // Two connections established before anyone accepts: they wait in the
  // listener's backlog, and the accepts take them oldest first.
  std::vector<TcpStream> clients;
  for (int i = 0; i < 2; ++i) {
    TcpStream::async_connect(runner_, *blue_, {kRed, kPort}, [&](ErrorCode ec, TcpStream s) {
      EXPECT_FALSE(ec) << ec.message();
      clients.push_back(std::move(s));
    });
    ASSERT_TRUE(run_until([&] { return clients.size() == static_cast<std::size_t>(i + 1); }));
  }
  EXPECT_EQ(acceptor.pending(), 2u);
  std::vector<std::pair<char, Endpoint>> accepted;
  for (char tag : {'a', 'b'}) {
    acceptor.async_accept([&, tag](ErrorCode ec, TcpStream s) {
      EXPECT_FALSE(ec) << ec.message();
      accepted.emplace_back(tag, s.remote_endpoint());
    });
  }
  ASSERT_TRUE(run_until([&] { return accepted.size() == 2; }));
  EXPECT_EQ(accepted[0].first, 'a');
  EXPECT_EQ(accepted[0].second, clients[0].local_endpoint());
  EXPECT_EQ(accepted[1].first, 'b');
  EXPECT_EQ(accepted[1].second, clients[1].local_endpoint());
}

TEST_F(AsioTcp, FuturesFromAnotherThread) {
  auto acceptor = listen();
  // From here on only the io thread touches the Host: the operations below
  // are started on this thread and hop onto the Runner's executor.
  auto work = ba::make_work_guard(io_);
  std::thread io_thread([&] { io_.run(); });

  auto accepted = acceptor.async_accept(ba::use_future);
  auto connected = TcpStream::async_connect(runner_, *blue_, {kRed, kPort}, ba::use_future);
  ASSERT_EQ(connected.wait_for(kLimit), std::future_status::ready);
  ASSERT_EQ(accepted.wait_for(kLimit), std::future_status::ready);
  TcpStream client = connected.get();
  TcpStream server = accepted.get();

  std::array<char, 64> buf{};
  for (int i = 0; i < 10; ++i) {
    const std::string message = "future #" + std::to_string(i);
    auto at_server = ba::async_read(server, ba::buffer(buf.data(), message.size()), ba::use_future);
    auto sent = ba::async_write(client, text(message), ba::use_future);
    ASSERT_EQ(sent.wait_for(kLimit), std::future_status::ready);
    EXPECT_EQ(sent.get(), message.size());
    ASSERT_EQ(at_server.wait_for(kLimit), std::future_status::ready);
    ASSERT_EQ(at_server.get(), message.size());
    EXPECT_EQ(std::string_view(buf.data(), message.size()), message);
  }

  // An error reaches the future as an exception.
  auto refused = TcpStream::async_connect(runner_, *blue_, {kRed, 9}, ba::use_future);
  ASSERT_EQ(refused.wait_for(kLimit), std::future_status::ready);
  try {
    refused.get();
    ADD_FAILURE() << "expected connection_refused";
  } catch (const boost::system::system_error& e) {
    EXPECT_EQ(e.code(), boost::system::errc::connection_refused);
  }

  // The streams are closed on the io thread, as the header asks.
  std::promise<void> closed;
  ba::post(runner_.get_executor(), [&] {
    client.close();
    server.close();
    acceptor.close();
    runner_.stop();
    closed.set_value();
  });
  closed.get_future().wait();
  work.reset();
  io_thread.join();
}

// ---- coroutines and Asio's composed operations ----

// Echoes one connection until its peer shuts down, then shuts down too.
ba::awaitable<std::size_t> echo_one(TcpAcceptor& acceptor) {
  TcpStream conn = co_await acceptor.async_accept(ba::use_awaitable);
  std::array<char, 8192> buf;
  std::size_t echoed = 0;
  for (;;) {
    auto [ec, n] = co_await conn.async_read_some(ba::buffer(buf), ba::as_tuple(ba::use_awaitable));
    if (ec == ba::error::eof) break;
    if (ec) throw boost::system::system_error(ec);
    co_await ba::async_write(conn, ba::buffer(buf.data(), n), ba::use_awaitable);
    echoed += n;
  }
  if (auto done = conn.shutdown(); !done) throw boost::system::system_error(done.error());
  co_return echoed;
}

// Sends `data` and reads its echo at the same time (one after the other
// would fill both windows and stall), then checks the stream ends.
ba::awaitable<std::vector<std::uint8_t>> echo_through(Runner& runner, Net& net, Endpoint server,
                                                      const std::vector<std::uint8_t>& data) {
  using namespace ba::experimental::awaitable_operators;
  TcpStream conn = co_await TcpStream::async_connect(runner, net, server, ba::use_awaitable);
  std::vector<std::uint8_t> got(data.size());
  auto send = [&]() -> ba::awaitable<void> {
    std::size_t n = co_await ba::async_write(conn, ba::buffer(data), ba::use_awaitable);
    EXPECT_EQ(n, data.size());
    if (auto done = conn.shutdown(); !done) throw boost::system::system_error(done.error());
  };
  auto receive = [&]() -> ba::awaitable<void> {
    std::size_t n = co_await ba::async_read(conn, ba::buffer(got), ba::use_awaitable);
    EXPECT_EQ(n, got.size());
  };
  co_await (send() && receive());
  std::array<char, 16> more{};
  auto [ec, n] = co_await conn.async_read_some(ba::buffer(more), ba::as_tuple(ba::use_awaitable));
  EXPECT_EQ(ec, ba::error::eof);
  EXPECT_EQ(n, 0u);
  co_return got;
}

TEST_F(AsioTcp, CoroutinesEchoAMebibyteThroughAsyncWriteAndAsyncRead) {
  auto acceptor = listen();
  const std::vector<std::uint8_t> data = pattern(1 << 20);
  std::optional<std::size_t> echoed;
  std::optional<std::vector<std::uint8_t>> got;
  ba::co_spawn(io_, echo_one(acceptor), [&](std::exception_ptr e, std::size_t n) {
    EXPECT_FALSE(e);
    echoed = n;
  });
  ba::co_spawn(io_, echo_through(runner_, *blue_, {kRed, kPort}, data),
               [&](std::exception_ptr e, std::vector<std::uint8_t> bytes) {
                 EXPECT_FALSE(e);
                 got = std::move(bytes);
               });
  ASSERT_TRUE(run_until([&] { return echoed && got; }, 60s));
  EXPECT_EQ(*echoed, data.size());
  ASSERT_EQ(got->size(), data.size());
  EXPECT_EQ(first_difference(data, *got), data.size());
  EXPECT_GE(blue_->counters().get("TcpOutSegs"), (1u << 20) / 1448);
}

TEST_F(AsioTcp, AsyncReadUntilSplitsLines) {
  auto acceptor = listen();
  auto [client, server] = connected_pair(acceptor);
  std::vector<std::string> lines;
  ba::co_spawn(
      io_,
      [&]() -> ba::awaitable<void> {
        std::string pending;
        for (int i = 0; i < 3; ++i) {
          std::size_t n = co_await ba::async_read_until(client, ba::dynamic_buffer(pending), '\n', ba::use_awaitable);
          lines.push_back(pending.substr(0, n - 1));
          pending.erase(0, n);
        }
      },
      ba::detached);
  // Lines cut across writes, two in one, the last on its own.
  for (std::string_view piece : {"alp", "ha\nbeta\ngam", "ma\n"}) {
    std::optional<ErrorCode> sent;
    ba::async_write(server, text(piece), [&](ErrorCode ec, std::size_t) { sent = ec; });
    ASSERT_TRUE(run_until([&] { return sent.has_value(); }));
    EXPECT_FALSE(*sent);
    run_for(5ms);
  }
  ASSERT_TRUE(run_until([&] { return lines.size() == 3; }));
  EXPECT_EQ(lines, (std::vector<std::string>{"alpha", "beta", "gamma"}));
}

// ---- end of stream and errors ----

TEST_F(AsioTcp, PeerShutdownGivesEofAfterTheLastBytes) {
  auto acceptor = listen();
  auto [client, server] = connected_pair(acceptor);
  std::array<char, 64> buf{};
  std::optional<ErrorCode> result;
  std::size_t got = 0;
  // async_read wants 64 bytes: it gets the 3 there are, then eof.
  ba::async_read(client, ba::buffer(buf), [&](ErrorCode ec, std::size_t n) {
    result = ec;
    got = n;
  });
  std::optional<std::size_t> sent;
  server.async_write_some(text("bye"), [&](ErrorCode ec, std::size_t n) {
    EXPECT_FALSE(ec);
    sent = n;
  });
  ASSERT_TRUE(run_until([&] { return sent.has_value(); }));
  ASSERT_TRUE(server.shutdown());
  ASSERT_TRUE(run_until([&] { return result.has_value(); }));
  EXPECT_EQ(*result, ba::error::eof);
  EXPECT_EQ(got, 3u);
  EXPECT_EQ(std::string_view(buf.data(), got), "bye");
  EXPECT_EQ(client.state(), tcp::State::close_wait);

  // Every read from now on: eof at once, nothing copied.
  std::optional<ErrorCode> again;
  client.async_read_some(ba::buffer(buf), [&](ErrorCode ec, std::size_t n) {
    EXPECT_EQ(n, 0u);
    again = ec;
  });
  ASSERT_TRUE(run_until([&] { return again.has_value(); }));
  EXPECT_EQ(*again, ba::error::eof);

  // The other direction is still open until our own shutdown.
  std::string at_server;
  std::optional<ErrorCode> server_read;
  ba::async_read(server, ba::dynamic_buffer(at_server), [&](ErrorCode ec, std::size_t) { server_read = ec; });
  std::optional<ErrorCode> wrote;
  client.async_write_some(text("still here"), [&](ErrorCode ec, std::size_t) { wrote = ec; });
  ASSERT_TRUE(run_until([&] { return wrote.has_value(); }));
  EXPECT_FALSE(*wrote);
  ASSERT_TRUE(client.shutdown());
  ASSERT_TRUE(run_until([&] { return server_read.has_value(); }));
  EXPECT_EQ(*server_read, ba::error::eof);
  EXPECT_EQ(at_server, "still here");
}

TEST_F(AsioTcp, ZeroSizedOperationsCompleteAtOnce) {
  auto acceptor = listen();
  auto [client, server] = connected_pair(acceptor);
  std::vector<std::pair<ErrorCode, std::size_t>> results;
  auto record = [&](ErrorCode ec, std::size_t n) { results.emplace_back(ec, n); };
  client.async_read_some(ba::mutable_buffer(), record);  // nothing to read, and still done
  client.async_write_some(ba::const_buffer(), record);
  EXPECT_TRUE(results.empty());  // not inline
  ASSERT_TRUE(run_until([&] { return results.size() == 2; }));
  for (auto& [ec, n] : results) {
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(n, 0u);
  }
}

TEST_F(AsioTcp, ScatterAndGatherBufferSequences) {
  auto acceptor = listen();
  auto [client, server] = connected_pair(acceptor);
  const std::array<ba::const_buffer, 3> out = {text("one "), text("two "), text("three")};
  std::optional<std::size_t> sent;
  client.async_write_some(out, [&](ErrorCode ec, std::size_t n) {
    EXPECT_FALSE(ec);
    sent = n;
  });
  ASSERT_TRUE(run_until([&] { return sent.has_value(); }));
  EXPECT_EQ(*sent, 13u);  // all three buffers in one write
  // All of it at red (Nagle may hold the tail back until the first is acknowledged).
  ASSERT_TRUE(run_until([&] { return server.next_layer().readable_bytes() == 13; }));
  std::array<char, 5> a{};
  std::array<char, 20> b{};
  const std::array<ba::mutable_buffer, 2> in = {ba::buffer(a), ba::buffer(b)};
  std::optional<std::size_t> read;
  server.async_read_some(in, [&](ErrorCode ec, std::size_t n) {
    EXPECT_FALSE(ec);
    read = n;
  });
  ASSERT_TRUE(run_until([&] { return read.has_value(); }));
  EXPECT_EQ(*read, 13u);
  EXPECT_EQ(std::string_view(a.data(), a.size()), "one t");
  EXPECT_EQ(std::string_view(b.data(), 8), "wo three");
}

TEST_F(AsioTcp, ConnectErrors) {
  // Nothing listens on red:9: an RST answers the SYN.
  std::optional<ErrorCode> refused;
  std::optional<bool> open;
  TcpStream::async_connect(runner_, *blue_, {kRed, 9}, [&](ErrorCode ec, TcpStream s) {
    refused = ec;
    open = s.is_open();
    // A failed connect gives a closed stream of the same Runner.
    EXPECT_EQ(&s.runner(), &runner_);
  });
  ASSERT_TRUE(run_until([&] { return refused.has_value(); }));
  EXPECT_EQ(*refused, boost::system::errc::connection_refused);
  EXPECT_EQ(*refused, boost::asio::error::connection_refused);  // as a real Asio socket's
  EXPECT_FALSE(*open);
  EXPECT_EQ(blue_->counters().get("TcpAttemptFails"), 1u);
  EXPECT_EQ(red_->counters().get("TcpOutRsts"), 1u);

  // No route: the error comes from tcp::connect itself, still through the executor.
  std::optional<ErrorCode> unreachable;
  TcpStream::async_connect(runner_, *blue_, {Ipv4Address(198, 51, 100, 1), 80},
                           [&](ErrorCode ec, TcpStream) { unreachable = ec; });
  EXPECT_FALSE(unreachable.has_value());
  ASSERT_TRUE(run_until([&] { return unreachable.has_value(); }));
  EXPECT_EQ(*unreachable, boost::system::errc::network_unreachable);

  // Port taken: the acceptor does not open.
  auto first = listen();
  auto second = TcpAcceptor::open(runner_, *red_, {Ipv4Address::any(), kPort});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), boost::system::errc::address_in_use);
  EXPECT_EQ(tcp::dump_sockets(*blue_).find("SYN-SENT"), std::string::npos);
}

TEST_F(AsioTcp, ResetByThePeerFailsThePendingRead) {
  auto acceptor = listen();
  auto [client, server] = connected_pair(acceptor);
  std::array<char, 64> buf{};
  std::optional<ErrorCode> result;
  client.async_read_some(ba::buffer(buf), [&](ErrorCode ec, std::size_t n) {
    EXPECT_EQ(n, 0u);
    result = ec;
  });
  run_for(10ms);
  server.next_layer().abort();  // an RST now
  runner_.wake();
  ASSERT_TRUE(run_until([&] { return result.has_value(); }));
  EXPECT_EQ(*result, boost::system::errc::connection_reset);
  EXPECT_EQ(client.state(), tcp::State::closed);
}

// ---- aborting pending operations ----

TEST_F(AsioTcp, CancelAndCloseAbortPendingReadsWritesAndAccepts) {
  small_send_buffer();
  auto acceptor = listen();
  auto [client, server] = connected_pair(acceptor);
  std::array<char, 64> buf{};
  std::vector<ErrorCode> results;
  auto record = [&](ErrorCode ec, std::size_t) { results.push_back(ec); };

  // Cancelled before the io_context ran: the read was still hopping onto
  // the Runner's executor, and is aborted all the same.
  client.async_read_some(ba::buffer(buf), record);
  client.cancel();
  ASSERT_TRUE(run_until([&] { return results.size() == 1; }));
  EXPECT_EQ(results[0], ba::error::operation_aborted);

  // A write that cannot finish: 1 MiB into a 64 KiB send buffer that never drains.
  stall_blue();
  const std::vector<std::uint8_t> big = pattern(1 << 20);
  std::optional<ErrorCode> write_result;
  std::size_t write_done = 0;
  ba::async_write(client, ba::buffer(big), [&](ErrorCode ec, std::size_t n) {
    write_result = ec;
    write_done = n;
  });
  client.async_read_some(ba::buffer(buf), record);
  client.async_read_some(ba::buffer(buf), record);
  run_for(100ms);
  EXPECT_FALSE(write_result.has_value());
  EXPECT_EQ(results.size(), 1u);
  client.cancel();
  EXPECT_EQ(results.size(), 1u);  // not inline
  ASSERT_TRUE(run_until([&] { return results.size() == 3 && write_result.has_value(); }));
  EXPECT_EQ(results[1], ba::error::operation_aborted);
  EXPECT_EQ(results[2], ba::error::operation_aborted);
  EXPECT_EQ(*write_result, ba::error::operation_aborted);
  EXPECT_GT(write_done, 0u);
  EXPECT_LT(write_done, big.size());

  // Still open after cancel(): the next read gets the next bytes.
  std::optional<std::size_t> got;
  client.async_read_some(ba::buffer(buf), [&](ErrorCode ec, std::size_t n) {
    EXPECT_FALSE(ec);
    got = n;
  });
  server.async_write_some(text("after"), [](ErrorCode ec, std::size_t) { EXPECT_FALSE(ec); });
  ASSERT_TRUE(run_until([&] { return got.has_value(); }));
  EXPECT_EQ(std::string_view(buf.data(), *got), "after");

  // close(): pending aborted, later operations bad_file_descriptor.
  results.clear();
  client.async_read_some(ba::buffer(buf), record);
  run_for(10ms);
  client.close();
  EXPECT_FALSE(client.is_open());
  client.async_read_some(ba::buffer(buf), record);
  client.async_write_some(text("x"), record);
  ASSERT_TRUE(run_until([&] { return results.size() == 3; }));
  EXPECT_EQ(results[0], ba::error::operation_aborted);
  EXPECT_EQ(results[1], boost::system::errc::bad_file_descriptor);
  EXPECT_EQ(results[2], boost::system::errc::bad_file_descriptor);

  // The acceptor: cancel keeps it listening, close ends it.
  std::vector<ErrorCode> accepts;
  auto record_accept = [&](ErrorCode ec, TcpStream s) {
    accepts.push_back(ec);
    EXPECT_FALSE(s.is_open());
  };
  acceptor.async_accept(record_accept);
  run_for(10ms);
  acceptor.cancel();
  ASSERT_TRUE(run_until([&] { return accepts.size() == 1; }));
  EXPECT_TRUE(acceptor.is_open());
  acceptor.async_accept(record_accept);
  run_for(10ms);
  acceptor.close();
  acceptor.async_accept(record_accept);
  ASSERT_TRUE(run_until([&] { return accepts.size() == 3; }));
  EXPECT_EQ(accepts[0], ba::error::operation_aborted);
  EXPECT_EQ(accepts[1], ba::error::operation_aborted);
  EXPECT_EQ(accepts[2], boost::system::errc::bad_file_descriptor);
  EXPECT_FALSE(acceptor.is_open());
}

TEST_F(AsioTcp, ShutdownFailsTheWritesStillWaiting) {
  small_send_buffer();
  auto acceptor = listen();
  auto [client, server] = connected_pair(acceptor);
  stall_blue();
  const std::vector<std::uint8_t> big = pattern(1 << 20);
  std::optional<ErrorCode> result;
  std::size_t done = 0;
  ba::async_write(client, ba::buffer(big), [&](ErrorCode ec, std::size_t n) {
    result = ec;
    done = n;
  });
  run_for(100ms);
  ASSERT_FALSE(result.has_value());
  ASSERT_TRUE(client.shutdown());
  ASSERT_TRUE(run_until([&] { return result.has_value(); }));
  EXPECT_EQ(*result, boost::system::errc::broken_pipe);
  EXPECT_GT(done, 0u);
  EXPECT_LT(done, big.size());
}

TEST_F(AsioTcp, PerOperationCancellationAbortsOnlyThatRead) {
  auto acceptor = listen();
  auto [client, server] = connected_pair(acceptor);
  expect_slot_aborts_only_its_read(
      [&](ba::mutable_buffer buf, auto handler) { client.async_read_some(buf, std::move(handler)); },
      [&](std::string_view data) {
        server.async_write_some(text(data), [](ErrorCode ec, std::size_t) { EXPECT_FALSE(ec); });
      });
}

TEST_F(AsioTcp, CancellingAConnectClosesTheAttempt) {
  // The SYN (or the ARP request before it) never arrives: the connect waits.
  stall_blue();
  ba::cancellation_signal signal;
  std::optional<ErrorCode> result;
  std::optional<bool> open;
  TcpStream::async_connect(runner_, *blue_, {kRed, kPort},
                           ba::bind_cancellation_slot(signal.slot(), [&](ErrorCode ec, TcpStream s) {
                             result = ec;
                             open = s.is_open();
                           }));
  run_for(50ms);
  EXPECT_FALSE(result.has_value());
  EXPECT_NE(tcp::dump_sockets(*blue_).find("SYN-SENT"), std::string::npos);
  signal.emit(ba::cancellation_type::terminal);
  ASSERT_TRUE(run_until([&] { return result.has_value(); }));
  EXPECT_EQ(*result, ba::error::operation_aborted);
  EXPECT_FALSE(*open);
  // The attempt is gone from the namespace, not left behind retrying.
  EXPECT_EQ(tcp::dump_sockets(*blue_).find("SYN-SENT"), std::string::npos);
}

TEST_F(AsioTcp, AwaitableOperatorTimesOutAConnect) {
  using namespace ba::experimental::awaitable_operators;
  stall_blue();
  std::optional<std::size_t> winner;
  ba::co_spawn(
      io_,
      [&]() -> ba::awaitable<void> {
        ba::steady_timer timeout(io_, 50ms);
        auto either = co_await (TcpStream::async_connect(runner_, *blue_, {kRed, kPort}, ba::use_awaitable) ||
                                timeout.async_wait(ba::use_awaitable));
        winner = either.index();
      },
      ba::detached);
  ASSERT_TRUE(run_until([&] { return winner.has_value(); }));
  EXPECT_EQ(*winner, 1u);  // the timer
  EXPECT_EQ(tcp::dump_sockets(*blue_).find("SYN-SENT"), std::string::npos);
}

TEST_F(AsioTcp, DestroyingStreamsAndAcceptorsAbortsTheirPendingOperations) {
  auto acceptor = listen();
  auto [client, server] = connected_pair(acceptor);
  std::array<char, 64> buf{};
  std::vector<ErrorCode> results;
  auto record = [&](ErrorCode ec, std::size_t) { results.push_back(ec); };
  {
    TcpStream doomed = std::move(client);
    doomed.async_read_some(ba::buffer(buf), record);
    run_for(10ms);
  }
  // The moved-from stream fails every operation with bad_file_descriptor.
  client.async_read_some(ba::buffer(buf), record);  // NOLINT(bugprone-use-after-move)
  ASSERT_TRUE(run_until([&] { return results.size() == 2; }));
  EXPECT_EQ(results[0], ba::error::operation_aborted);
  EXPECT_EQ(results[1], boost::system::errc::bad_file_descriptor);

  // The peer sees the close as the end of its stream.
  std::optional<ErrorCode> at_server;
  server.async_read_some(ba::buffer(buf), [&](ErrorCode ec, std::size_t) { at_server = ec; });
  ASSERT_TRUE(run_until([&] { return at_server.has_value(); }));
  EXPECT_EQ(*at_server, ba::error::eof);

  std::optional<ErrorCode> accept_result;
  {
    TcpAcceptor doomed = std::move(acceptor);
    doomed.async_accept([&](ErrorCode ec, TcpStream) { accept_result = ec; });
    run_for(10ms);
  }
  ASSERT_TRUE(run_until([&] { return accept_result.has_value(); }));
  EXPECT_EQ(*accept_result, ba::error::operation_aborted);

  // A coroutine suspended in a read resumes with the abort as an exception.
  auto again = listen(kPort + 1);
  auto [c2, s2] = connected_pair(again);
  std::optional<ErrorCode> caught;
  auto stream = std::make_unique<TcpStream>(std::move(c2));
  ba::co_spawn(
      io_,
      [&]() -> ba::awaitable<void> {
        try {
          co_await stream->async_read_some(ba::buffer(buf), ba::use_awaitable);
        } catch (const boost::system::system_error& e) {
          caught = e.code();
        }
      },
      ba::detached);
  run_for(10ms);
  stream.reset();
  ASSERT_TRUE(run_until([&] { return caught.has_value(); }));
  EXPECT_EQ(*caught, ba::error::operation_aborted);
}

// ---- TCP behaviour found from here (src/ipv4/tcp) ----

// Seen from the Asio tests (red buffered 1 MiB unread with a 128 KiB
// tcp_rmem) until 280c347 fixed it: a passive open started with rcv_adv_ == 0,
// so when the peer's ISN lay in the upper half of the sequence space the
// window wrapped to about 2^32 and the connection took every byte offered.
// With ISNs that depend on the clock that was half of all accepted
// connections, so the regression test pins both halves.
class TcpPassiveWindow : public support::TcpPeerTest {};

TEST_F(TcpPassiveWindow, HonoursTheReceiveBufferWhateverThePeersIsn) {
  for (std::uint32_t iss : {0x1000'0000u, 0x9000'0000u}) {
    SCOPED_TRACE(iss);
    auto listener = listen(static_cast<std::uint16_t>(support::kTcpLocalPort + (iss >> 28)));
    peer_.set_remote({support::kTcpLocal, listener.local_endpoint().port});
    peer_.set_iss(iss);
    tcp::Stream stream = accept_peer(listener);
    EXPECT_LE(stream.info().rcv_wnd, 131072u);  // net.ipv4.tcp_rmem's default
    for (int i = 0; i < 200; ++i) peer_.send_data(1000);  // 200 kB nobody reads
    EXPECT_LT(stream.readable_bytes(), 140000u);  // the window, give or take its rounding
    stream.abort();
    peer_.run_for(std::chrono::seconds(1));
    while (peer_.pending() != 0) (void)peer_.expect();
  }
}

// Once a reset has been reported, reads see the end of the stream and
// writes broken_pipe, as Linux (tcp_reset sets RCV_SHUTDOWN; EPIPE); the
// same for a write after our own shutdown once the close is over.
TEST_F(AsioTcp, AfterAResetReadsSeeEofAndWritesBrokenPipe) {
  auto acceptor = listen();
  auto [client, server] = connected_pair(acceptor);
  server.next_layer().abort();
  runner_.wake();
  std::array<char, 16> buf{};
  std::vector<ErrorCode> reads;
  for (int i = 0; i < 2; ++i) {
    client.async_read_some(ba::buffer(buf), [&](ErrorCode ec, std::size_t) { reads.push_back(ec); });
  }
  std::optional<ErrorCode> wrote;
  client.async_write_some(text("x"), [&](ErrorCode ec, std::size_t) { wrote = ec; });
  ASSERT_TRUE(run_until([&] { return reads.size() == 2 && wrote.has_value(); }));
  EXPECT_EQ(reads[0], boost::system::errc::connection_reset);
  EXPECT_EQ(reads[1], ba::error::eof);
  EXPECT_EQ(*wrote, boost::system::errc::broken_pipe);
}

TEST_F(AsioTcp, WriteAfterShutdownIsBrokenPipeAfterTheCloseToo) {
  auto acceptor = listen();
  auto [client, server] = connected_pair(acceptor);
  ASSERT_TRUE(server.shutdown());
  ASSERT_TRUE(run_until([&] { return client.state() == tcp::State::close_wait; }));
  ASSERT_TRUE(client.shutdown());  // LAST-ACK, then CLOSED
  ASSERT_TRUE(run_until([&] { return client.state() == tcp::State::closed; }));
  std::optional<ErrorCode> wrote;
  client.async_write_some(text("x"), [&](ErrorCode ec, std::size_t) { wrote = ec; });
  ASSERT_TRUE(run_until([&] { return wrote.has_value(); }));
  EXPECT_EQ(*wrote, boost::system::errc::broken_pipe);
}

}  // namespace asio_tcp_test
}  // namespace
}  // namespace netns
