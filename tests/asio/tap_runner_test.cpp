// The Runner and polled devices: the descriptor of a TAP is watched by the
// reactor (a readable descriptor asks for a poll; a down device is not
// waited for; the Runner's copy goes with the device), and a polled device
// without a descriptor makes the Runner busy-poll. First on a socketpair
// where the test plays the kernel, then with a real Linux TAP and the
// kernel pinging while only the io_context drives the Host.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "asio/asio_fixture.hpp"
#include "netns/asio.hpp"
#include "netns/host.hpp"
#include "netns/ipv4.hpp"
#include "netns/tap.hpp"
#include "support/fixtures.hpp"
#include "support/linux_net.hpp"
#include "support/tap_socketpair.hpp"

namespace netns {
namespace {
namespace asio_tap_runner_test {

using namespace std::chrono_literals;
using support::kTestEthertype;
using support::RecordingHandler;

class AsioTap : public support::AsioRunner {
 protected:
  void SetUp() override {
    tap_ = support::make_socketpair_tap(host_.init_net(), "tap0", wire_);
    ASSERT_NE(tap_, nullptr);
    runner_.start();
    run_for(20ms);  // the first poll, then idle
  }
  void TearDown() override {
    if (wire_ >= 0) ::close(wire_);
  }

  void kernel_sends_frame() {
    Packet frame = support::make_frame(host_, tap_->mac(), MacAddress(2, 0, 0, 0, 0, 1), kTestEthertype, 46);
    ASSERT_EQ(::send(wire_, frame.data().data(), frame.size(), 0), static_cast<ssize_t>(frame.size()));
  }
  // The device's end of the socketpair is closed everywhere (the device's
  // descriptor and the Runner's copy): the kernel's end reads end-of-file.
  bool device_end_closed() {
    pollfd fd{wire_, POLLIN, 0};
    if (::poll(&fd, 1, 0) != 1) return false;
    char byte;
    return ::recv(wire_, &byte, 1, MSG_DONTWAIT) == 0;
  }

  RecordingHandler seen_{host_};
  int wire_ = -1;
  Device* tap_ = nullptr;
  asio::Runner runner_{host_, io_};
};

TEST_F(AsioTap, AReadableDescriptorWakesTheRunner) {
  const auto before = runner_.stats();
  kernel_sends_frame();
  ASSERT_TRUE(run_until([&] { return seen_.count() == 1; }, 5s));
  EXPECT_GE(runner_.stats().descriptor_wakeups, before.descriptor_wakeups + 1);
  // And again: the wait was armed anew.
  kernel_sends_frame();
  ASSERT_TRUE(run_until([&] { return seen_.count() == 2; }, 5s));
  EXPECT_GE(runner_.stats().descriptor_wakeups, before.descriptor_wakeups + 2);
}

TEST_F(AsioTap, ADownDeviceIsNotWaitedForAndIsReadOnceUp) {
  ASSERT_TRUE(set_link_up(*tap_, false));
  runner_.wake();
  run_for(20ms);
  const auto before = runner_.stats();
  kernel_sends_frame();  // readable from now on, but poll does not read a down device
  run_for(200ms);
  EXPECT_EQ(seen_.count(), 0u);
  EXPECT_LE(runner_.stats().polls - before.polls, 5u) << "the Runner spins on a descriptor it does not read";
  ASSERT_TRUE(set_link_up(*tap_));
  runner_.wake();
  ASSERT_TRUE(run_until([&] { return seen_.count() == 1; }, 5s));
}

TEST_F(AsioTap, DestroyingTheDeviceClosesTheRunnersCopy) {
  ASSERT_TRUE(destroy_device(*tap_));
  EXPECT_FALSE(device_end_closed());  // the Runner still holds its copy...
  runner_.wake();
  ASSERT_TRUE(run_until([&] { return device_end_closed(); }, 5s));  // ...until its next poll
}

TEST_F(AsioTap, StoppingTheRunnerClosesItsCopies) {
  runner_.stop();
  ASSERT_TRUE(destroy_device(*tap_));
  EXPECT_TRUE(device_end_closed());
}

TEST_F(AsioTap, AMovedDeviceIsWatchedInItsNewNamespace) {
  auto red = host_.create_net("red").value();
  ASSERT_TRUE(host_.move_device(*tap_, *red));
  ASSERT_TRUE(set_link_up(*tap_));
  runner_.wake();
  run_for(20ms);
  const auto before = runner_.stats();
  kernel_sends_frame();
  ASSERT_TRUE(run_until([&] { return seen_.count() == 1; }, 5s));
  EXPECT_EQ(seen_.frames()[0].net_id, red->id());
  EXPECT_GE(runner_.stats().descriptor_wakeups, before.descriptor_wakeups + 1);
}

// A polled device with nothing to wait on, as a DPDK port.
class PortWithoutDescriptor final : public Device {
 public:
  explicit PortWithoutDescriptor(Net& net)
      : Device(net, "port0", DeviceKind::dpdk, MacAddress(2, 0, 0, 0, 0, 9), 1500) {}
  bool polled() const override { return true; }
  std::size_t polls() const { return polls_; }

 private:
  std::size_t poll_rx(std::size_t) override {
    ++polls_;
    return 0;
  }
  void xmit(Packet) override { ++stats_.tx_dropped; }
  std::size_t polls_ = 0;
};

TEST_F(AsioTap, APolledDeviceWithoutADescriptorIsBusyPolled) {
  auto port = host_.init_net().register_device(std::make_unique<PortWithoutDescriptor>(host_.init_net()));
  ASSERT_TRUE(port);
  auto* fake = static_cast<PortWithoutDescriptor*>(*port);
  ASSERT_TRUE(set_link_up(*fake));
  runner_.wake();
  run_for(100ms);
  EXPECT_GE(fake->polls(), 20u);  // thousands when the machine is idle; few is enough to tell
  EXPECT_FALSE(runner_.busy_poll());  // the application's switch is untouched
  // The TAP is still served through its descriptor meanwhile.
  kernel_sends_frame();
  ASSERT_TRUE(run_until([&] { return seen_.count() == 1; }, 5s));
  // Down, it is not polled, so not busy-polled either.
  ASSERT_TRUE(set_link_up(*fake, false));
  runner_.wake();
  run_for(20ms);
  auto before = runner_.stats();
  run_for(200ms);
  EXPECT_LE(runner_.stats().polls - before.polls, 5u);
  // Up again, then gone: the Runner idles again.
  ASSERT_TRUE(set_link_up(*fake));
  runner_.wake();
  const auto polls_up = fake->polls();
  run_for(50ms);
  EXPECT_GE(fake->polls() - polls_up, 10u);
  ASSERT_TRUE(destroy_device(*fake));
  runner_.wake();
  run_for(20ms);
  before = runner_.stats();
  run_for(200ms);
  EXPECT_LE(runner_.stats().polls - before.polls, 5u);
}

// ---- the Linux kernel on the other side ----

class AsioTapKernel : public support::AsioRunner {
 protected:
  void SetUp() override {
    if (auto why = support::kernel_test_skip_reason({"ip", "ping"})) GTEST_SKIP() << *why;
    auto ns = support::LinuxNetns::create(support::unique_linux_name("nnt-atap-"));
    if (!ns) GTEST_SKIP() << "cannot create a Linux network namespace: " << ns.error().message();
    linux_ns_.emplace(std::move(*ns));
    red_ = host_.create_net("red").value();
    tap_name_ = support::unique_linux_name("nt");
    auto tap = make_tap(*red_, tap_name_);
    ASSERT_TRUE(tap) << tap.error().message();
    tap_ = *tap;
    auto taken = linux_ns_->take_interface(tap_name_, "192.0.2.1/24");
    ASSERT_TRUE(taken.ok()) << taken.output;
    ASSERT_TRUE(set_link_up(*tap_));
    ASSERT_TRUE(ipv4::add_address(*red_, *tap_, Ipv4Prefix(Ipv4Address(192, 0, 2, 2), 24)));
    ASSERT_TRUE(linux_ns_->wait_operstate_up(tap_name_));
  }

  std::optional<support::LinuxNetns> linux_ns_;
  NetRef red_;
  std::string tap_name_;
  Device* tap_ = nullptr;
  asio::Runner runner_{host_, io_};
};

TEST_F(AsioTapKernel, LinuxPingsTheNetnsSideWhileOnlyTheIoContextRuns) {
  runner_.start();
  auto ping = support::ChildProcess::spawn(
      linux_ns_->exec_argv({"ping", "-c", "3", "-i", "0.2", "-W", "2", "192.0.2.2"}));
  ASSERT_TRUE(ping) << ping.error().message();
  ASSERT_TRUE(run_until([&] { return !ping->running(); }, 20s)) << ping->output();
  auto result = ping->result();
  EXPECT_TRUE(result.ok()) << result.output;
  EXPECT_NE(result.output.find("3 received"), std::string::npos) << result.output;
  // Echoes 200 ms apart each wake it (the ARP exchange may share the first wakeup).
  EXPECT_GE(runner_.stats().descriptor_wakeups, 3u);
  EXPECT_GE(red_->counters().get("IcmpInEchos"), 3u);
}

}  // namespace asio_tap_runner_test
}  // namespace
}  // namespace netns
