// TAP devices. Two halves: the device on a SOCK_SEQPACKET socketpair, where
// the test plays the kernel (frames in and out, runts and oversize frames,
// moves and namespace death; no root needed), and the device on a real Linux
// TAP interface with the kernel on the other side, in a Linux namespace the
// test creates (ping, curl, nc both ways; skipped without root, /dev/net/tun
// or the tools).
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/error.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "devices/tap_internal.hpp"
#include "netns/host.hpp"
#include "netns/icmp.hpp"
#include "netns/ipv4.hpp"
#include "netns/ipv6.hpp"
#include "netns/tap.hpp"
#include "netns/tcp.hpp"
#include "support/fixtures.hpp"
#include "support/ipv6_channel.hpp"
#include "support/linux_net.hpp"
#include "support/tap_socketpair.hpp"

namespace netns {
namespace {
namespace devices_tap_test {

using support::HostTest;
using support::kEthHeader;
using support::kTestEthertype;
using support::make_frame;
using support::RecordingHandler;
using support::usable;

std::span<const std::byte> as_bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

// ---- the test plays the kernel on a socketpair ----

class TapOnSocketpair : public HostTest {
 protected:
  void SetUp() override {
    tap_ = support::make_socketpair_tap(host_.init_net(), "tap0", wire_);
    ASSERT_NE(tap_, nullptr);
  }
  void TearDown() override {
    if (wire_ >= 0) ::close(wire_);
  }

  // The kernel sends a frame of `size` bytes (a test-ethertype frame to the
  // device when it is big enough for a header).
  void kernel_sends(std::size_t size) {
    std::vector<std::byte> bytes(size, std::byte{0x5a});
    if (size >= kEthHeader) {
      Packet frame = make_frame(host_, tap_->mac(), kKernelMac, kTestEthertype, size - kEthHeader);
      std::memcpy(bytes.data(), frame.data().data(), size);
    }
    ASSERT_EQ(::send(wire_, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(size));
  }
  // The next frame the device wrote, if any.
  std::optional<std::vector<std::byte>> kernel_reads() {
    std::vector<std::byte> buf(70000);
    ssize_t n = ::recv(wire_, buf.data(), buf.size(), 0);
    if (n < 0) return std::nullopt;
    buf.resize(static_cast<std::size_t>(n));
    return buf;
  }

  static constexpr MacAddress kKernelMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
  int wire_ = -1;
  Device* tap_ = nullptr;
};

TEST_F(TapOnSocketpair, IsAPolledDeviceWatchedThroughItsDescriptor) {
  EXPECT_EQ(tap_->kind(), DeviceKind::tap);
  EXPECT_TRUE(tap_->polled());
  EXPECT_GE(tap_->rx_fd(), 0);
  EXPECT_EQ(tap_->mtu(), 1500u);
  EXPECT_EQ(tap_->max_mtu(), 65521u);
  EXPECT_FALSE(tap_->mac().is_multicast());
  EXPECT_EQ(tap_->mac().octets[0] & 0x02, 0x02);  // locally administered
  ASSERT_EQ(host_.polled_devices().size(), 1u);
  EXPECT_EQ(host_.polled_devices()[0], tap_);
  EXPECT_EQ(tap_linux_name(*tap_), "tap0");
  EXPECT_EQ(tap_linux_name(host_.init_net().loopback()), "");
}

TEST_F(TapOnSocketpair, FramesFromTheKernelReachTheStackInPoll) {
  RecordingHandler seen(host_);
  kernel_sends(60);
  kernel_sends(kEthHeader + 1500);
  poll();
  ASSERT_EQ(seen.count(), 2u);
  EXPECT_EQ(seen.frames()[0].size, 46u);
  EXPECT_EQ(seen.frames()[1].size, 1500u);
  EXPECT_EQ(seen.frames()[1].device, "tap0");
  EXPECT_EQ(tap_->stats().rx_packets, 2u);
  EXPECT_EQ(tap_->stats().rx_bytes, 60u + kEthHeader + 1500);
  EXPECT_EQ(host_.stats().packet_copies, 0u);  // read straight into the packets
}

TEST_F(TapOnSocketpair, TransmittedFramesReachTheKernelWhole) {
  tap_->transmit(make_frame(host_, kKernelMac, tap_->mac(), kTestEthertype, 100));
  auto frame = kernel_reads();
  ASSERT_TRUE(frame);
  ASSERT_EQ(frame->size(), kEthHeader + 100);
  EXPECT_EQ((*frame)[kEthHeader + 99], std::byte{99});
  EXPECT_EQ(tap_->stats().tx_packets, 1u);
  EXPECT_EQ(tap_->stats().tx_bytes, kEthHeader + 100);
}

TEST_F(TapOnSocketpair, RuntsAndFramesLongerThanTheMtuAreCountedNotDelivered) {
  RecordingHandler seen(host_);
  kernel_sends(1);
  kernel_sends(kEthHeader - 1);
  kernel_sends(1500 + 18 + 1);   // one byte beyond Ethernet + VLAN headers
  kernel_sends(9000 + kEthHeader);  // a jumbo frame: read whole, not cut
  kernel_sends(1500 + 18);       // the largest that fits
  poll();
  EXPECT_EQ(seen.count(), 1u);
  EXPECT_EQ(tap_->stats().rx_length_errors, 4u);
  EXPECT_EQ(tap_->stats().rx_errors, 4u);
  EXPECT_EQ(tap_->stats().rx_packets, 1u);
  // A larger MTU takes the jumbo frame.
  ASSERT_TRUE(tap_->set_mtu(9000));
  kernel_sends(9000 + kEthHeader);
  poll();
  EXPECT_EQ(seen.count(), 2u);
  EXPECT_EQ(seen.frames()[1].size, 9000u);
}

TEST_F(TapOnSocketpair, ADownDeviceLeavesFramesWithTheKernelAndSendsNothing) {
  RecordingHandler seen(host_);
  ASSERT_TRUE(set_link_up(*tap_, false));
  kernel_sends(60);
  poll();
  EXPECT_EQ(seen.count(), 0u);
  tap_->transmit(make_frame(host_, kKernelMac, tap_->mac(), kTestEthertype, 46));
  EXPECT_FALSE(kernel_reads());
  EXPECT_EQ(tap_->stats().tx_dropped, 1u);
  // Up again, it reads what waited.
  ASSERT_TRUE(set_link_up(*tap_));
  poll();
  EXPECT_EQ(seen.count(), 1u);
}

TEST_F(TapOnSocketpair, AFullKernelQueueIsATxDrop) {
  // The socket's buffer plays tun's queue: nobody reads, it fills up.
  std::size_t sent = 0;
  for (int i = 0; i < 100000 && tap_->stats().tx_dropped == 0; ++i) {
    tap_->transmit(make_frame(host_, kKernelMac, tap_->mac(), kTestEthertype, 1000));
    ++sent;
  }
  EXPECT_EQ(tap_->stats().tx_dropped, 1u);
  EXPECT_EQ(tap_->stats().tx_packets, sent - 1);
  EXPECT_EQ(tap_->stats().tx_errors, 0u);
}

TEST_F(TapOnSocketpair, OnePollTakesMoreThanOneRoundOfFrames) {
  RecordingHandler seen(host_);
  for (int i = 0; i < 100; ++i) kernel_sends(60);  // more than a NAPI weight of 64
  poll();
  EXPECT_EQ(seen.count(), 100u);
  EXPECT_EQ(tap_->stats().rx_packets, 100u);
}

TEST_F(TapOnSocketpair, TheKernelSideGoingAwayLeavesTheDeviceWithoutCarrier) {
  ::close(wire_);
  wire_ = -1;
  poll();
  EXPECT_TRUE(tap_->is_up());
  EXPECT_FALSE(tap_->is_running());
  EXPECT_EQ(tap_->stats().rx_errors, 0u);  // an end, not an error
  poll();  // and nothing spins on the dead descriptor
  ASSERT_FALSE(messages_.empty());
  EXPECT_NE(messages_.back().find("tap0"), std::string::npos);
}

TEST_F(TapOnSocketpair, MovingKeepsTheDescriptorAndTheLinuxName) {
  auto red = host_.create_net("red").value();
  const int fd = tap_->rx_fd();
  const auto version = host_.polled_devices_version();
  ASSERT_TRUE(host_.move_device(*tap_, *red, "eth0"));
  EXPECT_EQ(&tap_->net(), red.get());
  EXPECT_EQ(tap_->name(), "eth0");
  EXPECT_EQ(tap_linux_name(*tap_), "tap0");
  EXPECT_EQ(tap_->rx_fd(), fd);
  EXPECT_NE(host_.polled_devices_version(), version);
  ASSERT_EQ(host_.polled_devices().size(), 1u);
  // Moving brings the device down, as in Linux; up again it works in red.
  EXPECT_FALSE(tap_->is_up());
  ASSERT_TRUE(set_link_up(*tap_));
  RecordingHandler seen(host_);
  kernel_sends(60);
  poll();
  ASSERT_EQ(seen.count(), 1u);
  EXPECT_EQ(seen.frames()[0].net_id, red->id());
}

TEST_F(TapOnSocketpair, ANamespaceThatDiesSendsItsTapHomeToInitNet) {
  auto blue = host_.create_net("blue").value();
  ASSERT_TRUE(host_.move_device(*tap_, *blue));
  ASSERT_TRUE(make_channel(host_.init_net(), "tap0"));  // home has the name: renamed on the way
  blue.reset();
  poll();
  EXPECT_EQ(host_.net_count(), 1u);
  EXPECT_EQ(&tap_->net(), &host_.init_net());
  EXPECT_EQ(tap_->kind(), DeviceKind::tap);
  EXPECT_NE(tap_->name(), "tap0");
  EXPECT_EQ(tap_linux_name(*tap_), "tap0");
  ASSERT_TRUE(set_link_up(*tap_));
  RecordingHandler seen(host_);
  kernel_sends(60);
  poll();
  ASSERT_EQ(seen.count(), 1u);
  EXPECT_EQ(seen.frames()[0].net_id, host_.init_net().id());
}

TEST_F(TapOnSocketpair, DestroyingClosesTheDescriptor) {
  ASSERT_TRUE(destroy_device(*tap_));
  poll();
  EXPECT_TRUE(host_.polled_devices().empty());
  // The kernel's end sees the other side closed.
  char byte;
  EXPECT_EQ(::recv(wire_, &byte, 1, 0), 0);
}

TEST(TapNames, AreCheckedBeforeTheKernelIsAsked) {
  Host host(support::test_config());
  for (std::string_view bad : {"", "sixteen-chars-xx", "a/b", "a:b", "a b", ".", ".."}) {
    auto tap = make_tap(host.init_net(), bad);
    ASSERT_FALSE(tap) << bad;
    EXPECT_EQ(tap.error(), Errc::invalid_argument) << bad;
  }
  auto taken = make_tap(host.init_net(), "lo");
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error(), Errc::file_exists);
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
  auto on_fd = make_tap_on_descriptor(host.init_net(), "lo", fds[0]);  // closes fds[0]
  ASSERT_FALSE(on_fd);
  EXPECT_EQ(on_fd.error(), Errc::file_exists);
  char byte;
  EXPECT_EQ(::recv(fds[1], &byte, 1, MSG_DONTWAIT), 0);
  ::close(fds[1]);
  EXPECT_EQ(host.init_net().device_count(), 1u);
}

// ---- the Linux kernel on the other side ----

// A one-page HTTP/1.0 server on netns TCP: every request gets `body`, then the
// connection is closed. step() after every poll does the work.
class TinyHttpServer {
 public:
  TinyHttpServer(Net& net, Endpoint at, std::string body) : body_(std::move(body)) {
    auto listener = tcp::listen(net, at);
    EXPECT_TRUE(listener) << listener.error().message();
    if (listener) listener_ = std::move(*listener);
  }
  void step() {
    while (auto stream = listener_.accept()) conns_.push_back({std::move(*stream)});
    for (Conn& c : conns_) serve(c);
  }
  std::size_t served() const { return served_; }
  const std::string& last_request() const { return last_request_; }

 private:
  struct Conn {
    tcp::Stream stream;
    std::string request;
    std::string reply;
    std::size_t sent = 0;
  };
  void serve(Conn& c) {
    if (!c.stream.is_open()) return;
    std::array<std::byte, 2048> buf;
    while (c.reply.empty()) {
      auto n = c.stream.read(buf);
      if (!n || *n == 0) break;
      c.request.append(reinterpret_cast<const char*>(buf.data()), *n);
      if (c.request.find("\r\n\r\n") != std::string::npos) {
        last_request_ = c.request;
        c.reply = fmt::format("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{}",
                              body_.size(), body_);
      }
    }
    while (!c.reply.empty() && c.sent < c.reply.size()) {
      auto n = c.stream.write(as_bytes(std::string_view(c.reply).substr(c.sent)));
      if (!n) return;
      c.sent += *n;
    }
    if (!c.reply.empty() && c.sent == c.reply.size()) {
      c.stream.close();  // the FIN follows the data
      ++served_;
    }
  }

  std::string body_;
  tcp::Listener listener_;
  std::vector<Conn> conns_;
  std::size_t served_ = 0;
  std::string last_request_;
};

// Reads everything `stream` has into `into`; true once the peer closed its side.
bool read_all(tcp::Stream& stream, std::string& into) {
  std::array<std::byte, 2048> buf;
  for (;;) {
    auto n = stream.read(buf);
    if (!n) return false;
    if (*n == 0) return true;
    into.append(reinterpret_cast<const char*>(buf.data()), *n);
  }
}

// A TAP whose Linux side is in a Linux namespace of the test's own with
// 192.0.2.1/24, and whose netns side is in `red_` with 192.0.2.2/24. The Host
// runs on the real clock.
class TapKernel : public ::testing::Test {
 protected:
  static constexpr Ipv4Address kLinux{192, 0, 2, 1};
  static constexpr Ipv4Address kNetns{192, 0, 2, 2};
  static constexpr auto kLimit = std::chrono::seconds(20);  // only reached on failure

  static HostConfig real_time_config(std::vector<std::string>* messages) {
    HostConfig config = support::test_config(messages);
    config.start = Clock::now();
    return config;
  }

  void SetUp() override {
    if (auto why = support::kernel_test_skip_reason({"ip"})) GTEST_SKIP() << *why;
    auto ns = support::LinuxNetns::create(support::unique_linux_name("nnt-tap-"));
    if (!ns) GTEST_SKIP() << "cannot create a Linux network namespace: " << ns.error().message();
    linux_ns_.emplace(std::move(*ns));
    ASSERT_TRUE(linux_ns_->ip({"link", "set", "lo", "up"}).ok());
    red_ = host_.create_net("red").value();
    tap_name_ = support::unique_linux_name("nt");
    auto tap = make_tap(*red_, tap_name_);
    ASSERT_TRUE(tap) << tap.error().message();
    tap_ = *tap;
    auto taken = linux_ns_->take_interface(tap_name_, "192.0.2.1/24");
    ASSERT_TRUE(taken.ok()) << taken.output;
    ASSERT_TRUE(set_link_up(*tap_));
    ASSERT_TRUE(ipv4::add_address(*red_, *tap_, Ipv4Prefix(kNetns, 24)));
    // Linux sends nothing until its linkwatch has seen the carrier come on.
    ASSERT_TRUE(linux_ns_->wait_operstate_up(tap_name_)) << linux_ns_->ip({"link", "show", tap_name_}).output;
  }

  support::CommandResult in_linux(const std::vector<std::string>& argv,
                                  const std::function<void()>& each_round = {}, std::string_view input = {}) {
    return support::run_while_polling(host_, linux_ns_->exec_argv(argv), kLimit, each_round, input);
  }

  bool poll_until(const std::function<bool()>& done, Clock::duration limit = kLimit,
                  support::ChildProcess* child = nullptr) {
    return support::poll_host_until(host_, done, limit, child);
  }

  bool linux_has_interface(const std::string& name) { return linux_ns_->ip({"link", "show", name}).ok(); }

  // What exchange() saw: the connection, and what the peer sent before its FIN.
  struct Exchange {
    bool done = false;  // the peer's FIN came (and `peer` exited, when waited for)
    tcp::Stream stream;
    Endpoint local;  // the stream's while it was connected (a CLOSED one shows none)
    std::string received;
  };
  // Connects from red_ to `to`, sends `message` and a FIN (at once, or with
  // Order::after_peer_fin once the peer's FIN came), and reads until the
  // peer's FIN; with `until_exit`, until `peer` (the server on Linux's
  // side) has exited too. The server may not listen yet: an attempt that is
  // refused (it never connected) is made again 50 ms later, and only such
  // an attempt. Whichever side closes first, the exchange ends: when the
  // peer's FIN comes first, the connection goes CLOSE_WAIT, LAST_ACK, then
  // CLOSED, and is not a refusal to retry (a server that accepts once would
  // never answer again).
  enum class Order { at_once, after_peer_fin };
  Exchange exchange(const Endpoint& to, std::string_view message, support::ChildProcess& peer,
                    bool until_exit = true, Order order = Order::at_once) {
    Exchange x;
    bool connected = false, sent = false, peer_closed = false;
    auto last_attempt = Clock::time_point{};
    auto step = [&]() -> bool {
      if (!connected) {
        const tcp::State state = x.stream.state();  // closed when not open
        if (state == tcp::State::syn_sent) return false;
        if (state == tcp::State::closed) {
          if (Clock::now() - last_attempt < std::chrono::milliseconds(50)) return false;
          last_attempt = Clock::now();
          if (auto s = tcp::connect(*red_, to)) x.stream = std::move(*s);
          return false;
        }
        connected = true;
        x.local = x.stream.local_endpoint();
      }
      if (!peer_closed) peer_closed = read_all(x.stream, x.received);
      if (!sent && (order == Order::at_once || peer_closed)) {
        sent = x.stream.write(as_bytes(message)).has_value();  // small: fits whole
        if (sent) {
          EXPECT_TRUE(x.stream.shutdown());
        }
      }
      return sent && peer_closed && (!until_exit || !peer.running());
    };
    x.done = poll_until(step, kLimit, &peer);
    return x;
  }
  // exchange() with nc listening on Linux's side (`nc_argv`, with -N: its
  // input, "from linux\n", ends and it sends FIN, then prints what comes
  // until ours), checked both ways.
  Exchange exchange_with_nc(const std::vector<std::string>& nc_argv, const Endpoint& to,
                            Order order = Order::at_once) {
    auto nc = support::ChildProcess::spawn(linux_ns_->exec_argv(nc_argv), "from linux\n");
    EXPECT_TRUE(nc) << nc.error().message();
    if (!nc) return {};
    auto x = exchange(to, "from netns\n", *nc, true, order);
    EXPECT_TRUE(x.done) << nc->output();
    EXPECT_EQ(x.received, "from linux\n");
    nc->running();
    auto result = nc->result();
    EXPECT_TRUE(result.ok()) << result.output;
    EXPECT_EQ(result.output, "from netns\n");
    return x;
  }

  std::vector<std::string> messages_;
  Host host_{real_time_config(&messages_)};
  std::optional<support::LinuxNetns> linux_ns_;
  NetRef red_;
  std::string tap_name_;
  Device* tap_ = nullptr;
};

TEST_F(TapKernel, LinuxPingReachesTheNetnsNamespace) {
  if (auto why = support::kernel_test_skip_reason({"ping"})) GTEST_SKIP() << *why;
  auto ping = in_linux({"ping", "-c", "3", "-i", "0.2", "-W", "2", "192.0.2.2"});
  EXPECT_TRUE(ping.ok()) << ping.output;
  EXPECT_NE(ping.output.find("3 received"), std::string::npos) << ping.output;
  EXPECT_GE(red_->counters().get("IcmpInEchos"), 3u);
  EXPECT_GE(tap_->stats().rx_packets, 4u);  // ARP and three echoes
  EXPECT_GE(tap_->stats().tx_packets, 4u);
  EXPECT_EQ(tap_->stats().rx_errors, 0u);
}

// The kernel pings netns over IPv6 (issue 13): its global address and its
// link-local one, NDP resolving both ways.
TEST_F(TapKernel, LinuxPing6ReachesTheNetnsNamespace) {
  if (auto why = support::kernel_test_skip_reason({"ping"})) GTEST_SKIP() << *why;
  const Ipv6Address global(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
  ASSERT_TRUE(ipv6::add_address(*red_, *tap_, Ipv6Prefix(global, 64)));
  ASSERT_TRUE(linux_ns_->ip({"-6", "addr", "add", "2001:db8::1/64", "dev", tap_name_, "nodad"}).ok());
  // Our DAD: at most 1 s of delay, one probe, 1 s of waiting.
  const Ipv6Address link_local = support::link_local(*tap_);
  ASSERT_TRUE(poll_until([&] { return usable(*red_, global) && usable(*red_, link_local); }, std::chrono::seconds(5)))
      << ipv6::dump_addresses(*red_);

  auto ping = in_linux({"ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", "2001:db8::2"});
  EXPECT_TRUE(ping.ok()) << ping.output;
  EXPECT_NE(ping.output.find("3 received"), std::string::npos) << ping.output;
  auto ping_ll = in_linux({"ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", fmt::format("{}%{}", link_local, tap_name_)});
  EXPECT_TRUE(ping_ll.ok()) << ping_ll.output;
  EXPECT_NE(ping_ll.output.find("2 received"), std::string::npos) << ping_ll.output;
  EXPECT_GE(red_->counters().get("Icmp6InEchos"), 5u);
  EXPECT_GE(red_->counters().get("Icmp6OutEchoReplies"), 5u);
  EXPECT_NE(ipv6::dump_neighbours(*red_).find("2001:db8::1 dev " + tap_name_), std::string::npos)
      << ipv6::dump_neighbours(*red_);
}

// `ping -6 -s 4000`: Linux fragments the echo (4048 bytes over a 1500 MTU),
// netns reassembles it and fragments its reply, which Linux reassembles.
TEST_F(TapKernel, LinuxPing6WithFragmentsBothWays) {
  if (auto why = support::kernel_test_skip_reason({"ping"})) GTEST_SKIP() << *why;
  const Ipv6Address global(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
  ASSERT_TRUE(ipv6::add_address(*red_, *tap_, Ipv6Prefix(global, 64)));
  ASSERT_TRUE(linux_ns_->ip({"-6", "addr", "add", "2001:db8::1/64", "dev", tap_name_, "nodad"}).ok());
  ASSERT_TRUE(poll_until([&] { return usable(*red_, global); }, std::chrono::seconds(5)))
      << ipv6::dump_addresses(*red_);
  auto ping = in_linux({"ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", "-s", "4000", "2001:db8::2"});
  EXPECT_TRUE(ping.ok()) << ping.output;
  EXPECT_NE(ping.output.find("2 received"), std::string::npos) << ping.output;
  EXPECT_GE(red_->counters().get("Ip6ReasmOKs"), 2u);
  EXPECT_EQ(red_->counters().get("Ip6ReasmFails"), 0u);
  EXPECT_GE(red_->counters().get("Ip6FragOKs"), 2u);
  EXPECT_GE(red_->counters().get("Ip6FragCreates"), 6u);  // 4048 bytes: three fragments a reply
}

// SLAAC from Linux's side (issue 13): the netns namespace advertises a
// prefix on the TAP, the Linux namespace autoconfigures an address from it
// and takes the netns side as its default router.
TEST_F(TapKernel, LinuxAutoconfiguresFromANetnsRouter) {
  (void)in_linux({"sysctl", "-qw", fmt::format("net.ipv6.conf.{}.accept_ra=1", tap_name_)});
  ipv6::RouterAdvertConfig ra;
  ra.min_interval = std::chrono::seconds(3);
  ra.max_interval = std::chrono::seconds(4);
  ra.prefixes.push_back({.prefix = Ipv6Prefix::parse("2001:db8:5::/64").value()});
  ASSERT_TRUE(ipv6::advertise(*red_, *tap_, ra));
  std::string addrs;
  auto asked = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  const bool configured = poll_until(
      [&] {
        if (std::chrono::steady_clock::now() - asked < std::chrono::milliseconds(500)) return false;
        asked = std::chrono::steady_clock::now();
        addrs = linux_ns_->ip({"-6", "addr", "show", "dev", tap_name_}).output;
        return addrs.find("inet6 2001:db8:5:") != std::string::npos;
      },
      std::chrono::seconds(15));
  ASSERT_TRUE(configured) << addrs << ipv6::dump_addresses(*red_);
  EXPECT_NE(addrs.find("dynamic"), std::string::npos) << addrs;  // tentative until its DAD ends
  const auto routes = linux_ns_->ip({"-6", "route", "show"}).output;
  EXPECT_NE(routes.find("default via fe80::"), std::string::npos) << routes;
  EXPECT_NE(routes.find("proto ra"), std::string::npos) << routes;
  EXPECT_GE(red_->counters().get("Icmp6OutRouterAdvertisements"), 1u);
  EXPECT_TRUE(ipv6::stop_advertising(*red_, *tap_));
}

TEST_F(TapKernel, CurlFetchesAPageFromANetnsTcpServer) {
  if (auto why = support::kernel_test_skip_reason({"curl"})) GTEST_SKIP() << *why;
  const std::string body = "hello from a netns namespace\n";
  TinyHttpServer server(*red_, {Ipv4Address::any(), 8080}, body);
  auto curl = in_linux({"curl", "-sS", "--max-time", "15", "http://192.0.2.2:8080/page"},
                       [&] { server.step(); });
  EXPECT_TRUE(curl.ok()) << curl.output;
  EXPECT_EQ(curl.output, body);
  EXPECT_EQ(server.served(), 1u);
  EXPECT_NE(server.last_request().find("GET /page HTTP/1.1\r\n"), std::string::npos) << server.last_request();
}

TEST_F(TapKernel, NetnsConnectsToALinuxNcAndDataFlowsBothWays) {
  if (auto why = support::kernel_test_skip_reason({"nc"})) GTEST_SKIP() << *why;
  exchange_with_nc({"nc", "-N", "-l", "192.0.2.1", "5001"}, {kLinux, 5001});
  EXPECT_GE(red_->counters().get("TcpActiveOpens"), 1u);
}

TEST_F(TapKernel, LinuxNcConnectsToANetnsListenerAndDataFlowsBothWays) {
  if (auto why = support::kernel_test_skip_reason({"nc"})) GTEST_SKIP() << *why;
  auto listener = tcp::listen(*red_, {Ipv4Address::any(), 5002}).value();
  tcp::Stream conn;
  std::string received;
  bool peer_closed = false, answered = false;
  auto nc = in_linux({"nc", "-N", "192.0.2.2", "5002"},
                     [&] {
                       if (!conn.is_open()) {
                         if (auto s = listener.accept()) conn = std::move(*s);
                         else return;
                       }
                       if (!peer_closed) peer_closed = read_all(conn, received);
                       // Answer once Linux has said everything (its FIN after its input).
                       if (peer_closed && !answered) {
                         answered = conn.write(as_bytes("from netns\n")).has_value();
                         if (answered) (void)conn.shutdown();
                       }
                     },
                     "from linux\n");
  EXPECT_TRUE(nc.ok()) << nc.output;
  EXPECT_EQ(nc.output, "from netns\n");
  EXPECT_EQ(received, "from linux\n");
  EXPECT_GE(red_->counters().get("TcpPassiveOpens"), 1u);
}

TEST_F(TapKernel, NetnsPingsTheKernel) {
  auto ping = icmp::open(*red_).value();
  for (std::uint16_t seq = 1; seq <= 3; ++seq) ASSERT_TRUE(ping.send_echo(kLinux, seq));
  std::vector<icmp::EchoReply> replies;
  EXPECT_TRUE(poll_until([&] {
    while (auto reply = ping.receive()) replies.push_back(*reply);
    return replies.size() == 3;
  }));
  ASSERT_EQ(replies.size(), 3u);
  for (std::uint16_t i = 0; i < 3; ++i) {
    EXPECT_EQ(replies[i].from, kLinux);
    EXPECT_EQ(replies[i].seq, i + 1);
  }
}

TEST_F(TapKernel, TheLinuxSideHasCarrierOnlyWhileTheNetnsSideIsUp) {
  auto no_carrier = [&] {
    auto r = linux_ns_->ip({"link", "show", tap_name_});
    return r.output.find("NO-CARRIER") != std::string::npos;
  };
  EXPECT_FALSE(no_carrier());
  ASSERT_TRUE(set_link_up(*tap_, false));
  EXPECT_TRUE(no_carrier());
  ASSERT_TRUE(set_link_up(*tap_));
  EXPECT_FALSE(no_carrier());
}

TEST_F(TapKernel, FramesLongerThanTheNetnsMtuAreCountedAndTheLinkGoesOn) {
  if (auto why = support::kernel_test_skip_reason({"ping"})) GTEST_SKIP() << *why;
  ASSERT_TRUE(linux_ns_->ip({"link", "set", tap_name_, "mtu", "9000"}).ok());
  auto big = in_linux({"ping", "-c", "1", "-W", "1", "-s", "4000", "192.0.2.2"});
  EXPECT_FALSE(big.ok()) << big.output;
  EXPECT_GE(tap_->stats().rx_length_errors, 1u);
  EXPECT_EQ(tap_->stats().rx_length_errors, tap_->stats().rx_errors);
  auto small = in_linux({"ping", "-c", "1", "-W", "2", "192.0.2.2"});
  EXPECT_TRUE(small.ok()) << small.output;
  // With the same MTU on both sides the big one passes.
  ASSERT_TRUE(tap_->set_mtu(9000));
  auto big_again = in_linux({"ping", "-c", "1", "-W", "2", "-s", "4000", "192.0.2.2"});
  EXPECT_TRUE(big_again.ok()) << big_again.output;
}

TEST_F(TapKernel, DestroyingTheDeviceDeletesTheLinuxInterface) {
  ASSERT_TRUE(linux_has_interface(tap_name_));
  ASSERT_TRUE(destroy_device(*tap_));
  tap_ = nullptr;
  host_.poll(Clock::now());
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (linux_has_interface(tap_name_) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(linux_has_interface(tap_name_));
}

TEST_F(TapKernel, DeletingTheLinuxInterfaceLeavesTheDeviceWithoutCarrier) {
  auto deleted = linux_ns_->ip({"link", "del", tap_name_});
  ASSERT_TRUE(deleted.ok()) << deleted.output;
  EXPECT_TRUE(poll_until([&] { return !tap_->is_running(); }, std::chrono::seconds(5)));
  EXPECT_TRUE(tap_->is_up());
  EXPECT_EQ(tap_->stats().rx_errors, 1u);  // the read that found the interface gone
  const auto dropped = tap_->stats().tx_dropped;
  tap_->transmit(host_.packets().allocate_from(std::vector<std::byte>(60)));
  EXPECT_EQ(tap_->stats().tx_dropped, dropped + 1);
  ASSERT_FALSE(messages_.empty());
  EXPECT_NE(messages_.back().find("is gone"), std::string::npos) << messages_.back();
  ASSERT_TRUE(destroy_device(*tap_));
}

TEST_F(TapKernel, ANamespaceThatDiesSendsItsTapHomeWhereItStillWorks) {
  if (auto why = support::kernel_test_skip_reason({"ping"})) GTEST_SKIP() << *why;
  red_.reset();
  host_.poll(Clock::now());
  ASSERT_EQ(host_.net_count(), 1u);
  Device* home = host_.init_net().device(tap_name_);
  ASSERT_EQ(home, tap_);
  EXPECT_EQ(home->kind(), DeviceKind::tap);
  EXPECT_TRUE(linux_has_interface(tap_name_));
  // Its addresses stayed behind; it came home down, as Linux moves a device.
  ASSERT_TRUE(set_link_up(*home));
  ASSERT_TRUE(ipv4::add_address(host_.init_net(), *home, Ipv4Prefix(kNetns, 24)));
  ASSERT_TRUE(linux_ns_->wait_operstate_up(tap_name_));
  auto ping = in_linux({"ping", "-c", "1", "-W", "2", "192.0.2.2"});
  EXPECT_TRUE(ping.ok()) << ping.output;
}

TEST_F(TapKernel, APatternNameIsCompletedByTheKernel) {
  auto tap = make_tap(host_.init_net(), "nnt%d");
  ASSERT_TRUE(tap) << tap.error().message();
  const std::string name((*tap)->name());
  EXPECT_EQ(name.rfind("nnt", 0), 0u);
  EXPECT_EQ(name.find('%'), std::string::npos);
  EXPECT_EQ(tap_linux_name(**tap), name);
  EXPECT_TRUE(support::ip({"link", "show", name}).ok());
  ASSERT_TRUE(destroy_device(**tap));
  EXPECT_FALSE(support::ip({"link", "show", name}).ok());
}

TEST_F(TapKernel, WithoutCapNetAdminTheKernelRefusesAndNothingIsMade) {
  // A child that gave up root tries; its exit code is the error it got.
  const std::string name = support::unique_linux_name("nu");
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(200);
    Host host;
    auto tap = make_tap(host.init_net(), name);
    ::_exit(tap ? 0 : (host.init_net().device(name) == nullptr ? tap.error().value() : 201));
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), EPERM);  // operation_not_permitted, as `ip tuntap add` says
  EXPECT_FALSE(support::ip({"link", "show", name}).ok());
}

TEST_F(TapKernel, ALinuxInterfaceOfAnotherKindIsRefused) {
  // A veth in the test's own Linux namespace (where TUNSETIFF looks), deleted after.
  const std::string veth = support::unique_linux_name("nv");
  auto added = support::ip({"link", "add", veth, "type", "veth", "peer", "name", veth + "p"});
  ASSERT_TRUE(added.ok()) << added.output;
  auto other = make_tap(host_.init_net(), veth);
  (void)support::ip({"link", "del", veth});
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error(), Errc::file_exists);
  EXPECT_EQ(host_.init_net().device(veth), nullptr);
}

// TCP over IPv6 with the kernel (issue 13): both sides get global addresses
// (Linux's without DAD), and netns waits for its own DAD.
class TapKernel6 : public TapKernel {
 protected:
  const Ipv6Address kLinux6 = Ipv6Address(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
  const Ipv6Address kNetns6 = Ipv6Address(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

  void SetUp() override {
    TapKernel::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_TRUE(ipv6::add_address(*red_, *tap_, Ipv6Prefix(kNetns6, 64)));
    auto added = linux_ns_->ip({"-6", "addr", "add", "2001:db8::1/64", "dev", tap_name_, "nodad"});
    ASSERT_TRUE(added.ok()) << added.output;
    const Ipv6Address ll = support::link_local(*tap_);
    ASSERT_TRUE(poll_until([&] { return usable(*red_, kNetns6) && usable(*red_, ll); }, std::chrono::seconds(5)))
        << ipv6::dump_addresses(*red_);
  }
};

TEST_F(TapKernel6, Curl6FetchesAPageFromANetnsTcpServer) {
  if (auto why = support::kernel_test_skip_reason({"curl"})) GTEST_SKIP() << *why;
  const std::string body = "hello over IPv6\n";
  TinyHttpServer server(*red_, {Ipv6Address::any(), 8080}, body);
  auto curl = in_linux({"curl", "-6", "-sS", "-g", "--max-time", "15", "http://[2001:db8::2]:8080/page"},
                       [&] { server.step(); });
  EXPECT_TRUE(curl.ok()) << curl.output;
  EXPECT_EQ(curl.output, body);
  // Its link-local address, with the zone (%25 in a URL) naming Linux's side.
  const std::string url = fmt::format("http://[{}%25{}]:8080/ll", support::link_local(*tap_), tap_name_);
  auto curl_ll = in_linux({"curl", "-6", "-sS", "-g", "--max-time", "15", url}, [&] { server.step(); });
  EXPECT_TRUE(curl_ll.ok()) << curl_ll.output;
  EXPECT_EQ(curl_ll.output, body);
  EXPECT_EQ(server.served(), 2u);
  EXPECT_NE(server.last_request().find("GET /ll HTTP/1.1\r\n"), std::string::npos) << server.last_request();
  EXPECT_EQ(red_->counters().get("TcpInCsumErrors"), 0u);
}

TEST_F(TapKernel6, NetnsConnectsToALinuxNc6AndDataFlowsBothWays) {
  if (auto why = support::kernel_test_skip_reason({"nc"})) GTEST_SKIP() << *why;
  auto x = exchange_with_nc({"nc", "-6", "-N", "-l", "2001:db8::1", "5001"}, {kLinux6, 5001});
  EXPECT_EQ(x.local.address, IpAddress(kNetns6));
}

// The other order of closing, made certain: Linux's FIN comes first, so
// the netns side closes passively (CLOSE_WAIT, LAST_ACK, CLOSED) and no
// refused attempt may be made again after it.
TEST_F(TapKernel6, NetnsAnswersALinuxNc6ThatClosedFirst) {
  if (auto why = support::kernel_test_skip_reason({"nc"})) GTEST_SKIP() << *why;
  exchange_with_nc({"nc", "-6", "-N", "-l", "2001:db8::1", "5003"}, {kLinux6, 5003}, Order::after_peer_fin);
  EXPECT_GE(red_->counters().get("TcpActiveOpens"), 1u);
}

TEST_F(TapKernel6, NetnsFetchesFromALinuxPythonHttpServer) {
  if (auto why = support::kernel_test_skip_reason({"curl"})) GTEST_SKIP() << *why;
  if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3";
  auto server = support::ChildProcess::spawn(linux_ns_->exec_argv(
      {"/usr/bin/python3", "-m", "http.server", "--bind", "2001:db8::1", "--directory", "/usr/share/common-licenses",
       "8000"}));
  ASSERT_TRUE(server) << server.error().message();
  auto x = exchange({kLinux6, 8000}, "GET /GPL-3 HTTP/1.0\r\nHost: x\r\n\r\n", *server, false);
  EXPECT_TRUE(x.done) << server->output();
  const std::string& reply = x.received;
  EXPECT_EQ(reply.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << reply.substr(0, 200);
  // The GPL's 35149 bytes, in segments of the TAP's MSS.
  EXPECT_NE(reply.find("GNU GENERAL PUBLIC LICENSE"), std::string::npos);
  EXPECT_GT(reply.size(), 35000u);
}

}  // namespace devices_tap_test
}  // namespace
}  // namespace netns
