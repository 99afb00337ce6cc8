// The Asio integration: a Runner driving a Host from an io_context on the
// real clock, and asynchronous UDP and ping sockets with callbacks,
// use_future and coroutines. Two namespaces over a veth: blue 192.0.2.1/24,
// red 192.0.2.2/24. Every wait is bounded; the bounds are generous so two
// busy CI cores do not make them flaky.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "netns/asio.hpp"
#include "netns/host.hpp"
#include "netns/ipv4.hpp"
#include "netns/timer.hpp"
#include "asio/asio_fixture.hpp"

namespace netns {
namespace {
namespace asio_asio_test {

using namespace std::chrono_literals;
namespace ba = boost::asio;
using netns::asio::ErrorCode;
using netns::asio::Runner;
using netns::asio::UdpSocket;

const Ipv4Address kBlue(192, 0, 2, 1);
const Ipv4Address kRed(192, 0, 2, 2);
constexpr auto kLimit = support::kAsioLimit;

ba::const_buffer text(std::string_view s) { return ba::buffer(s.data(), s.size()); }

std::string as_string(const std::array<char, 2048>& buf, std::size_t n) { return {buf.data(), n}; }

using support::AsioRunner;

class AsioUdp : public support::AsioTwoNets {
 protected:
  UdpSocket open_bound(Net& net, Endpoint local) {
    auto sock = UdpSocket::open(runner_, net);
    EXPECT_TRUE(sock);
    EXPECT_TRUE(sock->bind(local));
    return std::move(*sock);
  }
};

// ---- the Runner ----

TEST_F(AsioRunner, IdleHostArmsNoTimerAndLetsRunReturn) {
  Runner runner(host_, io_);
  runner.start();
  ASSERT_EQ(host_.stats().timers_pending, 0u);
  // Nothing to do: run() polls once and returns at once, no timer armed.
  const auto before = Clock::now();
  io_.run();
  EXPECT_LT(Clock::now() - before, 1s);
  EXPECT_EQ(runner.stats().polls, 1u);
  EXPECT_EQ(runner.stats().timer_waits, 0u);

  // wake() polls again, once however often it is called before the poll runs.
  runner.wake();
  runner.wake();
  runner.wake();
  io_.restart();
  io_.run();
  EXPECT_EQ(runner.stats().polls, 2u);
  EXPECT_EQ(runner.stats().wakes, 3u);

  // Stopped: wakes do nothing.
  runner.stop();
  runner.wake();
  io_.restart();
  io_.run();
  EXPECT_EQ(runner.stats().polls, 2u);
}

TEST_F(AsioRunner, FiresAtTheHostsNextDeadline) {
  Runner runner(host_, io_);
  std::optional<Clock::time_point> fired;
  Timer timer(host_, [&] { fired = Clock::now(); });
  const auto start = Clock::now();
  timer.schedule(start + 50ms);  // before run: no other thread touches the Host
  runner.start();
  ASSERT_TRUE(run_until([&] { return fired.has_value(); }));
  EXPECT_GE(*fired - start, 50ms);
  EXPECT_LT(*fired - start, 5s);
  // One poll to learn the deadline, one at it: waiting is not polling.
  EXPECT_LE(runner.stats().polls, 4u);
  EXPECT_GE(runner.stats().timer_waits, 1u);
}

TEST_F(AsioRunner, RescheduledEarlierDeadlineMovesTheTimer) {
  Runner runner(host_, io_);
  int fired = 0;
  Timer late(host_, [&] { ++fired; });
  late.schedule(Clock::now() + 1h);
  runner.start();
  run_for(20ms);
  EXPECT_EQ(runner.stats().timer_waits, 1u);
  // A timer scheduled by hand on the Host's thread, then a wake: the next
  // poll re-arms for the earlier deadline.
  std::optional<Clock::time_point> early_at;
  Timer early(host_, [&] { early_at = Clock::now(); });
  Clock::time_point due{};
  ba::post(io_, [&] {
    due = Clock::now() + 30ms;
    early.schedule(due);
    runner.wake();
  });
  ASSERT_TRUE(run_until([&] { return early_at.has_value(); }));
  EXPECT_GE(*early_at, due);
  EXPECT_LT(*early_at - due, 5s);  // not an hour: the timer moved
  EXPECT_EQ(fired, 0);
  // 1h, 30ms, 1h again; only 1h if a loaded machine delayed the wake's poll
  // past the 30ms, when that poll ran the early timer itself.
  EXPECT_TRUE(runner.stats().timer_waits == 3 || runner.stats().timer_waits == 1);
  runner.stop();
}

TEST_F(AsioRunner, PostFromAnotherThreadRunsOnTheIoThread) {
  Runner runner(host_, io_);
  runner.start();
  auto work = ba::make_work_guard(io_);
  std::thread io_thread([&] { io_.run(); });
  std::promise<std::thread::id> ran_on;
  std::thread poster([&] { runner.post([&] { ran_on.set_value(std::this_thread::get_id()); }); });
  auto ran = ran_on.get_future();
  ASSERT_EQ(ran.wait_for(kLimit), std::future_status::ready);
  EXPECT_EQ(ran.get(), io_thread.get_id());
  poster.join();
  work.reset();
  ba::post(io_, [&] { runner.stop(); });
  io_thread.join();
}

TEST_F(AsioRunner, BusyPollKeepsPollingUntilTurnedOff) {
  Runner runner(host_, io_);
  runner.set_busy_poll(true);
  EXPECT_TRUE(runner.busy_poll());
  runner.start();
  run_for(30ms);
  const auto busy_polls = runner.stats().polls;
  EXPECT_GT(busy_polls, 20u);  // an idle Host, and still polled over and over
  runner.set_busy_poll(false);
  run_for(5ms);  // the poll already posted runs and arms nothing
  const auto after = runner.stats().polls;
  run_for(30ms);
  EXPECT_EQ(runner.stats().polls, after);
}

// ---- UDP with callbacks ----

TEST_F(AsioUdp, CallbacksCarryADatagramThereAndBack) {
  auto server = open_bound(*red_, {Ipv4Address::any(), 7});
  auto client = UdpSocket::open(runner_, *blue_).value();

  std::array<char, 2048> server_buf{};
  std::array<char, 2048> client_buf{};
  Endpoint server_from;
  Endpoint client_from;
  std::optional<std::size_t> echoed;
  std::optional<std::size_t> reply;
  const auto io_thread = std::this_thread::get_id();

  server.async_receive_from(ba::buffer(server_buf), server_from, [&](ErrorCode ec, std::size_t n) {
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(std::this_thread::get_id(), io_thread);
    server.async_send_to(ba::buffer(server_buf.data(), n), server_from, [&](ErrorCode ec, std::size_t sent) {
      ASSERT_FALSE(ec) << ec.message();
      echoed = sent;
    });
  });
  bool sent_inline = false;
  bool send_done = false;
  client.async_send_to(text("hello, red"), {kRed, 7}, [&](ErrorCode ec, std::size_t n) {
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(n, 10u);
    send_done = true;
  });
  sent_inline = send_done;
  EXPECT_FALSE(sent_inline);  // completions always go through the executor
  client.async_receive_from(ba::buffer(client_buf), client_from, [&](ErrorCode ec, std::size_t n) {
    ASSERT_FALSE(ec) << ec.message();
    reply = n;
  });

  ASSERT_TRUE(run_until([&] { return reply.has_value() && echoed.has_value(); }));
  EXPECT_TRUE(send_done);
  EXPECT_EQ(as_string(server_buf, 10), "hello, red");
  EXPECT_EQ(server_from, (Endpoint{kBlue, client.local_endpoint().port}));
  EXPECT_EQ(*echoed, 10u);
  EXPECT_EQ(as_string(client_buf, *reply), "hello, red");
  EXPECT_EQ(client_from, (Endpoint{kRed, 7}));
}

TEST_F(AsioUdp, QueuedReceivesCompleteInOrder) {
  auto server = open_bound(*red_, {Ipv4Address::any(), 7});
  auto client = UdpSocket::open(runner_, *blue_).value();
  std::array<char, 2048> a{};
  std::array<char, 2048> b{};
  std::vector<std::string> got;
  server.async_receive(ba::buffer(a), [&](ErrorCode ec, std::size_t n) {
    EXPECT_FALSE(ec);
    got.push_back("a:" + as_string(a, n));
  });
  server.async_receive(ba::buffer(b), [&](ErrorCode ec, std::size_t n) {
    EXPECT_FALSE(ec);
    got.push_back("b:" + as_string(b, n));
  });
  ASSERT_TRUE(client.send_to(text("one"), {kRed, 7}));
  ASSERT_TRUE(client.send_to(text("two"), {kRed, 7}));
  ASSERT_TRUE(run_until([&] { return got.size() == 2; }));
  EXPECT_EQ(got, (std::vector<std::string>{"a:one", "b:two"}));
}

TEST_F(AsioUdp, SendErrorsCompleteTheHandler) {
  auto client = UdpSocket::open(runner_, *blue_).value();
  std::optional<ErrorCode> result;
  client.async_send_to(text("nowhere"), {Ipv4Address(198, 51, 100, 1), 7},
                       [&](ErrorCode ec, std::size_t n) {
                         EXPECT_EQ(n, 0u);
                         result = ec;
                       });
  EXPECT_FALSE(result.has_value());
  ASSERT_TRUE(run_until([&] { return result.has_value(); }));
  EXPECT_EQ(*result, boost::system::errc::network_unreachable);

  // A moved-from socket fails every operation with bad_file_descriptor.
  UdpSocket moved = std::move(client);
  std::optional<ErrorCode> bad_send;
  std::optional<ErrorCode> bad_receive;
  std::array<char, 16> buf{};
  client.async_send(text("x"), [&](ErrorCode ec, std::size_t) { bad_send = ec; });  // NOLINT(bugprone-use-after-move)
  client.async_receive(ba::buffer(buf), [&](ErrorCode ec, std::size_t) { bad_receive = ec; });
  ASSERT_TRUE(run_until([&] { return bad_send && bad_receive; }));
  EXPECT_EQ(*bad_send, boost::system::errc::bad_file_descriptor);
  EXPECT_EQ(*bad_receive, boost::system::errc::bad_file_descriptor);
  EXPECT_TRUE(moved.is_open());
}

// ---- a receive that waits ----

TEST_F(AsioUdp, WaitingReceiveCompletesWhenTheDatagramArrivesWithoutBusyPolling) {
  auto server = open_bound(*red_, {Ipv4Address::any(), 7});
  auto client = UdpSocket::open(runner_, *blue_).value();
  std::array<char, 2048> buf{};
  std::optional<std::size_t> got;
  server.async_receive(ba::buffer(buf), [&](ErrorCode ec, std::size_t n) {
    EXPECT_FALSE(ec);
    got = n;
  });

  // IPv6's duplicate address detection on the veths is the Host's only
  // timer work: nothing solicits routers, so once it ends the Host is idle.
  support::no_router_solicitations({blue_.get(), red_.get()});
  run_for(support::kPastDad);
  const auto timer_waits = runner_.stats().timer_waits;
  // Nothing arrives: the receive waits and the Runner sleeps.
  const auto settled_polls = runner_.stats().polls;
  run_for(100ms);
  EXPECT_FALSE(got.has_value());
  const auto idle_polls = runner_.stats().polls;
  EXPECT_LE(idle_polls - settled_polls, 2u);
  run_for(100ms);
  EXPECT_EQ(runner_.stats().polls, idle_polls);
  EXPECT_EQ(runner_.stats().timer_waits, timer_waits);

  // The pending receive is outstanding work: run_for does not return early
  // although the Host is idle (without it, run() returns at once: see
  // IdleHostArmsNoTimerAndLetsRunReturn).
  io_.restart();
  const auto before = Clock::now();
  io_.run_for(50ms);
  EXPECT_GE(Clock::now() - before, 40ms);
  EXPECT_FALSE(got.has_value());

  // A datagram sent later, from the Host's thread, completes it.
  std::thread sender([&] {
    std::this_thread::sleep_for(20ms);
    ba::post(io_, [&] { EXPECT_TRUE(client.send_to(text("late"), {kRed, 7})); });
  });
  const bool done = run_until([&] { return got.has_value(); });
  sender.join();
  ASSERT_TRUE(done);
  EXPECT_EQ(as_string(buf, *got), "late");
  // ARP both ways, the datagram, and a few polls: far from a spin.
  EXPECT_LT(runner_.stats().polls, idle_polls + 30);
}

// ---- cancellation ----

TEST_F(AsioUdp, CancelCloseAndDestroyGiveOperationAborted) {
  auto server = open_bound(*red_, {Ipv4Address::any(), 7});
  std::array<char, 64> buf{};
  std::vector<ErrorCode> results;
  auto record = [&](ErrorCode ec, std::size_t) { results.push_back(ec); };

  // Cancelled before the io_context ever ran: the op was still on its way
  // onto the Runner's executor, and is aborted all the same.
  server.async_receive(ba::buffer(buf), record);
  server.cancel();
  ASSERT_TRUE(run_until([&] { return results.size() == 1; }));
  EXPECT_EQ(results[0], ba::error::operation_aborted);
  results.clear();

  server.async_receive(ba::buffer(buf), record);
  server.async_receive(ba::buffer(buf), record);
  run_for(20ms);
  EXPECT_TRUE(results.empty());
  server.cancel();
  EXPECT_TRUE(results.empty());  // not inline
  ASSERT_TRUE(run_until([&] { return results.size() == 2; }));
  EXPECT_EQ(results[0], ba::error::operation_aborted);
  EXPECT_EQ(results[1], ba::error::operation_aborted);

  // Still open after cancel(): the next receive gets the next datagram.
  auto client = UdpSocket::open(runner_, *blue_).value();
  std::optional<std::size_t> got;
  server.async_receive(ba::buffer(buf), [&](ErrorCode ec, std::size_t n) {
    EXPECT_FALSE(ec);
    got = n;
  });
  ASSERT_TRUE(client.send_to(text("after"), {kRed, 7}));
  ASSERT_TRUE(run_until([&] { return got.has_value(); }));
  EXPECT_EQ(*got, 5u);

  // Destroying the socket aborts what it had pending.
  {
    auto doomed = open_bound(*red_, {Ipv4Address::any(), 8});
    doomed.async_receive(ba::buffer(buf), record);
  }
  ASSERT_TRUE(run_until([&] { return results.size() == 3; }));
  EXPECT_EQ(results[2], ba::error::operation_aborted);

  // close(): pending aborted, later operations bad_file_descriptor.
  server.async_receive(ba::buffer(buf), record);
  server.close();
  EXPECT_FALSE(server.is_open());
  server.async_receive(ba::buffer(buf), record);
  ASSERT_TRUE(run_until([&] { return results.size() == 5; }));
  EXPECT_EQ(results[3], ba::error::operation_aborted);
  EXPECT_EQ(results[4], boost::system::errc::bad_file_descriptor);
}

TEST_F(AsioUdp, PerOperationCancellationAbortsOnlyThatReceive) {
  auto server = open_bound(*red_, {Ipv4Address::any(), 7});
  auto client = UdpSocket::open(runner_, *blue_).value();
  expect_slot_aborts_only_its_read(
      [&](ba::mutable_buffer buf, auto handler) { server.async_receive(buf, std::move(handler)); },
      [&](std::string_view data) { ASSERT_TRUE(client.send_to(text(data), {kRed, 7})); });
}

// ---- ICMP errors ----

TEST_F(AsioUdp, ConnectionRefusedCompletesAConnectedSocketsPendingReceive) {
  auto client = UdpSocket::open(runner_, *blue_).value();
  ASSERT_TRUE(client.connect({kRed, 9}));  // nothing listens on red:9
  std::array<char, 64> buf{};
  std::optional<ErrorCode> received;
  client.async_receive(ba::buffer(buf), [&](ErrorCode ec, std::size_t n) {
    EXPECT_EQ(n, 0u);
    received = ec;
  });
  std::optional<ErrorCode> sent;
  client.async_send(text("anyone?"), [&](ErrorCode ec, std::size_t) { sent = ec; });
  ASSERT_TRUE(run_until([&] { return received.has_value() && sent.has_value(); }));
  EXPECT_FALSE(*sent);
  EXPECT_EQ(*received, boost::system::errc::connection_refused);
  EXPECT_EQ(*received, boost::asio::error::connection_refused);
  EXPECT_EQ(red_->counters().get("UdpNoPorts"), 1u);
}

// ---- futures, with the io_context on its own thread ----

TEST_F(AsioUdp, UseFutureFromAnotherThread) {
  auto server = open_bound(*red_, {Ipv4Address::any(), 7});
  auto client = UdpSocket::open(runner_, *blue_).value();
  // From here on only the io thread touches the Host: the operations below
  // are started on this thread and hop onto the Runner's executor.
  auto work = ba::make_work_guard(io_);
  std::thread io_thread([&] { io_.run(); });

  std::array<char, 2048> server_buf{};
  std::array<char, 2048> client_buf{};
  Endpoint from;
  for (int i = 0; i < 10; ++i) {
    const std::string message = fmt::format("future #{}", i);
    auto at_server = server.async_receive_from(ba::buffer(server_buf), from, ba::use_future);
    auto sent = client.async_send_to(text(message), {kRed, 7}, ba::use_future);
    ASSERT_EQ(sent.wait_for(kLimit), std::future_status::ready);
    EXPECT_EQ(sent.get(), message.size());
    ASSERT_EQ(at_server.wait_for(kLimit), std::future_status::ready);
    const std::size_t n = at_server.get();
    EXPECT_EQ(as_string(server_buf, n), message);

    auto at_client = client.async_receive(ba::buffer(client_buf), ba::use_future);
    auto echoed = server.async_send_to(ba::buffer(server_buf.data(), n), from, ba::use_future);
    ASSERT_EQ(echoed.wait_for(kLimit), std::future_status::ready);
    EXPECT_EQ(echoed.get(), n);
    ASSERT_EQ(at_client.wait_for(kLimit), std::future_status::ready);
    EXPECT_EQ(as_string(client_buf, at_client.get()), message);
  }

  // An error reaches the future as an exception.
  auto failed = client.async_send_to(text("x"), {Ipv4Address(198, 51, 100, 1), 7}, ba::use_future);
  ASSERT_EQ(failed.wait_for(kLimit), std::future_status::ready);
  try {
    failed.get();
    ADD_FAILURE() << "expected network_unreachable";
  } catch (const boost::system::system_error& e) {
    EXPECT_EQ(e.code(), boost::system::errc::network_unreachable);
  }

  ba::post(io_, [&] { runner_.stop(); });
  work.reset();
  io_thread.join();
}

// ---- coroutines ----

ba::awaitable<void> echo_server(UdpSocket& socket, int count) {
  std::array<char, 2048> buf{};
  Endpoint from;
  for (int i = 0; i < count; ++i) {
    std::size_t n = co_await socket.async_receive_from(ba::buffer(buf), from, ba::use_awaitable);
    co_await socket.async_send_to(ba::buffer(buf.data(), n), from, ba::use_awaitable);
  }
}

ba::awaitable<int> echo_client(UdpSocket& socket, Endpoint server, int count) {
  std::array<char, 2048> buf{};
  int matched = 0;
  for (int i = 0; i < count; ++i) {
    // Sizes and bytes differ per message, so a mix-up shows.
    std::string message = fmt::format("datagram {:03} ", i) + std::string(static_cast<std::size_t>(i) * 7, char('a' + i % 26));
    std::size_t sent = co_await socket.async_send_to(text(message), server, ba::use_awaitable);
    EXPECT_EQ(sent, message.size());
    Endpoint from;
    std::size_t n = co_await socket.async_receive_from(ba::buffer(buf), from, ba::use_awaitable);
    EXPECT_EQ(from, server);
    if (as_string(buf, n) == message) ++matched;
  }
  co_return matched;
}

TEST_F(AsioUdp, CoroutinesEchoAHundredDatagrams) {
  auto server = open_bound(*red_, {Ipv4Address::any(), 7});
  auto client = UdpSocket::open(runner_, *blue_).value();
  bool server_done = false;
  std::optional<int> matched;
  ba::co_spawn(io_, echo_server(server, 100), [&](std::exception_ptr e) {
    EXPECT_FALSE(e);
    server_done = true;
  });
  ba::co_spawn(io_, echo_client(client, {kRed, 7}, 100), [&](std::exception_ptr e, int m) {
    EXPECT_FALSE(e);
    matched = m;
  });
  ASSERT_TRUE(run_until([&] { return server_done && matched.has_value(); }));
  EXPECT_EQ(*matched, 100);
  EXPECT_EQ(red_->counters().get("UdpInDatagrams"), 100u);
  EXPECT_EQ(blue_->counters().get("UdpInDatagrams"), 100u);
}

TEST_F(AsioUdp, CoroutineSeesOperationAbortedAsAnException) {
  auto server = open_bound(*red_, {Ipv4Address::any(), 7});
  std::optional<ErrorCode> caught;
  ba::co_spawn(
      io_,
      [&]() -> ba::awaitable<void> {
        std::array<char, 64> buf{};
        try {
          co_await server.async_receive(ba::buffer(buf), ba::use_awaitable);
        } catch (const boost::system::system_error& e) {
          caught = e.code();
        }
      },
      ba::detached);
  run_for(20ms);
  server.cancel();
  ASSERT_TRUE(run_until([&] { return caught.has_value(); }));
  EXPECT_EQ(*caught, ba::error::operation_aborted);
}

// A strand makes the Runner safe on a multi-threaded io_context: the
// coroutines run on any of the threads, the Host only on the strand.
TEST_F(AsioUdp, StrandAllowsAMultiThreadedIoContext) {
  runner_.stop();
  Runner runner(host_, ba::make_strand(io_));
  runner.start();
  auto server = UdpSocket::open(runner, *red_).value();
  ASSERT_TRUE(server.bind({Ipv4Address::any(), 7}));
  auto client = UdpSocket::open(runner, *blue_).value();
  std::atomic<bool> server_done{false};
  std::promise<int> matched;
  ba::co_spawn(io_, echo_server(server, 50), [&](std::exception_ptr e) {
    EXPECT_FALSE(e);
    server_done = true;
  });
  ba::co_spawn(io_, echo_client(client, {kRed, 7}, 50), [&](std::exception_ptr e, int m) {
    EXPECT_FALSE(e);
    matched.set_value(m);
  });
  auto work = ba::make_work_guard(io_);
  std::thread t1([&] { io_.run(); });
  std::thread t2([&] { io_.run(); });
  auto result = matched.get_future();
  ASSERT_EQ(result.wait_for(kLimit), std::future_status::ready);
  EXPECT_EQ(result.get(), 50);
  // Sockets and the Runner are closed on the strand, then the threads end.
  std::promise<void> closed;
  ba::post(runner.get_executor(), [&] {
    server.close();
    client.close();
    runner.stop();
    closed.set_value();
  });
  closed.get_future().wait();
  work.reset();
  t1.join();
  t2.join();
  EXPECT_TRUE(server_done);
}

// ---- ping ----

TEST_F(AsioUdp, EchoSocketReceivesRepliesAsynchronously) {
  auto ping = asio::EchoSocket::open(runner_, *blue_).value();
  std::array<std::byte, 32> payload{};
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = std::byte(i);
  std::array<std::byte, 64> back{};
  std::vector<icmp::EchoReply> replies;
  std::function<void(ErrorCode, icmp::EchoReply)> on_reply = [&](ErrorCode ec, icmp::EchoReply reply) {
    ASSERT_FALSE(ec) << ec.message();
    replies.push_back(reply);
    if (replies.size() < 3) {
      ASSERT_TRUE(ping.send_echo(kRed, static_cast<std::uint16_t>(replies.size() + 1), ba::buffer(payload)));
      ping.async_receive(ba::buffer(back), on_reply);
    }
  };
  ping.async_receive(ba::buffer(back), on_reply);
  ASSERT_TRUE(ping.send_echo(kRed, 1, ba::buffer(payload)));
  ASSERT_TRUE(run_until([&] { return replies.size() == 3; }));
  for (std::uint16_t i = 0; i < 3; ++i) {
    EXPECT_EQ(replies[i].from, kRed);
    EXPECT_EQ(replies[i].seq, i + 1);
    EXPECT_EQ(replies[i].payload_size, payload.size());
  }
  EXPECT_TRUE(std::equal(payload.begin(), payload.end(), back.begin()));

  std::optional<ErrorCode> aborted;
  ping.async_receive([&](ErrorCode ec, icmp::EchoReply) { aborted = ec; });
  ping.close();
  ASSERT_TRUE(run_until([&] { return aborted.has_value(); }));
  EXPECT_EQ(*aborted, ba::error::operation_aborted);
}

}  // namespace asio_asio_test
}  // namespace
}  // namespace netns
