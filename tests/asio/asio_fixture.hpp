// Fixtures of the Asio tests: a Host on the real clock driven by a Runner
// over an io_context, and two namespaces on it joined by a veth. Every wait
// is bounded; the bounds are generous so two busy CI cores do not make them
// flaky.
//
//   TEST_F(AsioTwoNets, Something) {
//     auto socket = asio::UdpSocket::open(runner_, *blue_).value();
//     std::optional<ErrorCode> done;
//     socket.async_send_to(..., [&](ErrorCode ec, std::size_t) { done = ec; });
//     ASSERT_TRUE(run_until([&] { return done.has_value(); }));
//   }
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string_view>
#include <thread>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "netns/asio.hpp"
#include "netns/device.hpp"
#include "netns/host.hpp"
#include "netns/ipv4.hpp"
#include "support/fixtures.hpp"

namespace netns::support {

inline constexpr auto kAsioLimit = std::chrono::seconds(10);  // only reached on failure

// A Host on the real clock and an io_context, with no Runner yet.
class AsioRunner : public ::testing::Test {
 protected:
  static HostConfig real_time_config() {
    HostConfig config = test_config();
    config.start = Clock::now();  // the Runner feeds the real clock from the first poll
    return config;
  }

  // Runs handlers until `done` or the limit; false on the limit.
  bool run_until(const std::function<bool()>& done, Clock::duration limit = kAsioLimit) {
    const auto deadline = Clock::now() + limit;
    while (!done()) {
      if (Clock::now() > deadline) return false;
      if (io_.stopped()) io_.restart();
      if (io_.run_one_for(std::chrono::milliseconds(10)) == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    return true;
  }
  // Runs handlers for `d` of real time, whatever happens.
  void run_for(Clock::duration d) {
    if (io_.stopped()) io_.restart();
    io_.run_for(d);
  }

  // Per-operation cancellation, for any socket: `start_read(buffer,
  // handler)` starts one of its reads (signature void(ErrorCode,
  // std::size_t)). Of two pending reads, the one bound to a cancellation
  // slot is aborted by the slot's signal, the other is not, and gets the
  // bytes `deliver("kept")` sends afterwards.
  template <class StartRead>
  void expect_slot_aborts_only_its_read(StartRead start_read, const std::function<void(std::string_view)>& deliver) {
    namespace ba = boost::asio;
    std::array<char, 64> first_buf{};
    std::array<char, 64> second_buf{};
    ba::cancellation_signal signal;
    std::optional<asio::ErrorCode> first;
    std::optional<std::size_t> second;
    start_read(ba::buffer(first_buf),
               ba::bind_cancellation_slot(signal.slot(), [&](asio::ErrorCode ec, std::size_t) { first = ec; }));
    start_read(ba::buffer(second_buf), [&](asio::ErrorCode ec, std::size_t n) {
      EXPECT_FALSE(ec) << ec.message();
      second = n;
    });
    run_for(std::chrono::milliseconds(10));
    signal.emit(ba::cancellation_type::terminal);
    ASSERT_TRUE(run_until([&] { return first.has_value(); }));
    EXPECT_EQ(*first, ba::error::operation_aborted);
    EXPECT_FALSE(second.has_value());
    signal.emit(ba::cancellation_type::terminal);  // finds nothing to cancel

    deliver("kept");
    ASSERT_TRUE(run_until([&] { return second.has_value(); }));
    EXPECT_EQ(std::string_view(second_buf.data(), *second), "kept");
  }

  boost::asio::io_context io_;  // first: destroyed last, after every socket and the Host
  Host host_{real_time_config()};
};

// ... and two namespaces joined by a veth, with addresses: blue
// 192.0.2.1/24 on eth0, red 192.0.2.2/24 on eth0; a Runner, started.
class AsioTwoNets : public AsioRunner {
 protected:
  void SetUp() override {
    LinkedNets nets;
    link_two_nets(host_, nets, true);
    if (HasFatalFailure()) return;
    blue_ = std::move(nets.blue);
    red_ = std::move(nets.red);
    blue_eth0_ = nets.blue_eth0;
    red_eth0_ = nets.red_eth0;
    runner_.start();
  }

  NetRef blue_;
  NetRef red_;
  Device* blue_eth0_ = nullptr;
  Device* red_eth0_ = nullptr;
  asio::Runner runner_{host_, io_};
};

}  // namespace netns::support
