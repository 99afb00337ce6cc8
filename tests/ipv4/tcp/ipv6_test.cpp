// TCP over IPv6 across a veth: the same implementation as IPv4's, with the
// family taken from the address. Global and link-local (scope id)
// connections, a lossy 1 MiB transfer, RSTs from closed ports, ICMPv6
// errors (Packet Too Big lowering the MSS, unreachable ending a connect),
// and the ss-style dump.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include <boost/asio/error.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "ipv6/stack.hpp"
#include "netns/device.hpp"
#include "netns/ipv4.hpp"
#include "netns/ipv6.hpp"
#include "netns/tcp.hpp"
#include "stack/builtins.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace ipv4_tcp_ipv6_test {

using namespace std::chrono_literals;

const Ipv6Address kBlue6 = Ipv6Address::parse("2001:db8::1").value();
const Ipv6Address kRed6 = Ipv6Address::parse("2001:db8::2").value();
constexpr Ipv4Address kBlue4{192, 0, 2, 1};
constexpr Ipv4Address kRed4{192, 0, 2, 2};

std::byte stream_byte(std::uint64_t i) {
  return std::byte(static_cast<std::uint8_t>((i * 2654435761u) >> 13 ^ (i >> 20)));
}

// Keeps a copy of every IPv6 TCP datagram a device receives (from its IPv6
// header on): what a router on the path would quote in an error.
class Ipv6TcpRecorder final : public FrameObserver {
 public:
  void observe(Device&, const Packet& frame, FrameDirection dir) override {
    const auto bytes = frame.data();
    constexpr std::size_t kEth = 14;
    if (dir != FrameDirection::rx || bytes.size() < kEth + 40 + 20) return;
    if (bytes[12] != std::byte{0x86} || bytes[13] != std::byte{0xdd}) return;
    if (bytes[kEth + 6] != std::byte{6}) return;  // next header TCP
    datagrams.emplace_back(bytes.begin() + kEth, bytes.end());
  }
  std::vector<std::vector<std::byte>> datagrams;
};

class Tcp6Test : public support::TwoNets {
 protected:
  void SetUp() override {
    set_up(false);
    ASSERT_TRUE(set_link_up(blue_->loopback()));
    ASSERT_TRUE(set_link_up(red_->loopback()));
    ASSERT_TRUE(ipv6::add_address(*blue_, *blue_eth0_, Ipv6Prefix(kBlue6, 64)));
    ASSERT_TRUE(ipv6::add_address(*red_, *red_eth0_, Ipv6Prefix(kRed6, 64)));
    run_for(2100ms);  // DAD on the link-local and global addresses
  }

  // The device's link-local address (EUI-64), without a scope.
  static Ipv6Address link_local(Net& net, Device& dev) {
    for (const auto& a : ipv6::addresses(net)) {
      if (a.dev == &dev && a.prefix.address().is_link_local()) return a.prefix.address().with_scope(0);
    }
    ADD_FAILURE() << "no link-local address on " << dev.name();
    return {};
  }

  // Runs until `done` or `limit` of virtual time, deadline by deadline.
  template <class Done>
  bool run_until(Done done, Clock::duration limit = 10s) {
    const auto end = clock_.now() + limit;
    while (clock_.now() < end) {
      poll();
      if (done()) return true;
      const auto next = poll();  // what done() started (a read opens the window)
      if (next > clock_.now()) clock_.set(std::min(next, end));
    }
    return done();
  }

  // Accepts one connection on `listener` once `client` is established.
  tcp::Stream accept_one(tcp::Listener& listener, tcp::Stream& client) {
    tcp::Stream server;
    EXPECT_TRUE(run_until([&] {
      if (!server.is_open()) {
        if (auto s = listener.accept()) server = std::move(*s);
      }
      return server.is_open() && client.state() == tcp::State::established;
    })) << "client " << tcp::to_string(client.state());
    return server;
  }

  // Sends `total` bytes client → server and checks each; returns what arrived.
  std::uint64_t transfer(tcp::Stream& client, tcp::Stream& server, std::uint64_t total, Clock::duration limit) {
    std::vector<std::byte> out(64 * 1024), in(64 * 1024);
    std::uint64_t sent = 0, received = 0;
    std::size_t out_begin = 0, out_end = 0;
    bool shut = false;
    const auto end = clock_.now() + limit;
    while (clock_.now() < end) {
      poll();
      const std::uint64_t sent_before = sent, received_before = received;
      while (sent < total) {
        if (out_begin == out_end) {
          out_begin = 0;
          out_end = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), total - sent));
          for (std::size_t i = 0; i < out_end; ++i) out[i] = stream_byte(sent + i);
        }
        auto w = client.write(std::span(out).subspan(out_begin, out_end - out_begin));
        if (!w) break;
        sent += *w;
        out_begin += *w;
      }
      if (sent == total && !shut) shut = static_cast<bool>(client.shutdown());
      for (;;) {
        auto r = server.read(in);
        if (!r) {
          EXPECT_EQ(r.error(), boost::asio::error::would_block) << r.error().message();
          break;
        }
        if (*r == 0) return received;
        for (std::size_t i = 0; i < *r; ++i) {
          if (in[i] != stream_byte(received + i)) {
            ADD_FAILURE() << "byte " << received + i << " differs";
            return received;
          }
        }
        received += *r;
      }
      // Time moves on only when nothing moved now: what the writes and
      // reads started (segments, window updates) runs first.
      const auto next = poll();
      if (sent != sent_before || received != received_before) continue;
      if (next > clock_.now()) clock_.set(std::min(next, end));
    }
    ADD_FAILURE() << "gave up at " << received << " bytes, client " << tcp::to_string(client.state());
    return received;
  }
};

TEST_F(Tcp6Test, ConnectAcceptTransferOverGlobalAddresses) {
  auto listener = tcp::listen(*red_, {Ipv6Address::any(), 8080}).value();
  auto client = tcp::connect(*blue_, {kRed6, 8080}).value();
  auto server = accept_one(listener, client);
  ASSERT_TRUE(server.is_open());
  EXPECT_EQ(client.local_endpoint().address, IpAddress(kBlue6));
  EXPECT_EQ(client.remote_endpoint(), (Endpoint{kRed6, 8080}));
  EXPECT_EQ(server.local_endpoint(), (Endpoint{kRed6, 8080}));
  EXPECT_EQ(server.remote_endpoint(), client.local_endpoint());
  // A 1500-byte link: 1500 - 40 - 20, less the timestamps option.
  EXPECT_EQ(client.info().mss, 1500u - 60 - 12);
  EXPECT_EQ(transfer(client, server, 256 * 1024, 10s), 256u * 1024);
  EXPECT_EQ(red_->counters().get("TcpPassiveOpens"), 1u);
  EXPECT_EQ(blue_->counters().get("TcpActiveOpens"), 1u);
  EXPECT_EQ(blue_->counters().get("TcpInCsumErrors") + red_->counters().get("TcpInCsumErrors"), 0u);
  EXPECT_EQ(blue_->counters().get("Ip6OutRequests") > 100, true);
}

TEST_F(Tcp6Test, ConnectOverLinkLocalWithScopeId) {
  const Ipv6Address red_ll = link_local(*red_, *red_eth0_);
  auto listener = tcp::listen(*red_, {Ipv6Address::any(), 22}).value();
  // Without a scope the link is unknown: EINVAL, as Linux.
  EXPECT_EQ(tcp::connect(*blue_, {red_ll, 22}).error(), boost::system::errc::invalid_argument);
  const auto scope = static_cast<std::uint32_t>(blue_eth0_->ifindex());
  auto client = tcp::connect(*blue_, {red_ll.with_scope(scope), 22}).value();
  auto server = accept_one(listener, client);
  ASSERT_TRUE(server.is_open());
  const Endpoint local = client.local_endpoint();
  EXPECT_EQ(local.address.to_v6(), link_local(*blue_, *blue_eth0_).with_scope(scope));
  // The server knows its peer by its own link's index.
  EXPECT_EQ(server.remote_endpoint().address.to_v6(),
            local.address.to_v6().with_scope(static_cast<std::uint32_t>(red_eth0_->ifindex())));
  EXPECT_EQ(server.local_endpoint().address.to_v6(),
            red_ll.with_scope(static_cast<std::uint32_t>(red_eth0_->ifindex())));
  EXPECT_EQ(transfer(client, server, 64 * 1024, 10s), 64u * 1024);
  // A listener bound to the link-local address with its scope takes it too.
  auto bound = tcp::listen(*red_, {red_ll.with_scope(static_cast<std::uint32_t>(red_eth0_->ifindex())), 23});
  ASSERT_TRUE(bound) << bound.error().message();
  EXPECT_EQ(tcp::listen(*red_, {red_ll, 24}).error(), boost::system::errc::invalid_argument);
}

TEST_F(Tcp6Test, OneMebibyteUnderFivePercentLoss) {
  LinkFaults faults{.loss = 0.05, .duplicate = 0.01, .reorder = 0.05, .delay = 1ms, .jitter = 500us, .seed = 42};
  ASSERT_TRUE(set_link_faults(*blue_eth0_, faults));
  faults.seed = 43;
  ASSERT_TRUE(set_link_faults(*red_eth0_, faults));
  auto listener = tcp::listen(*red_, {Ipv6Address::any(), 5001}).value();
  auto client = tcp::connect(*blue_, {kRed6, 5001}).value();
  auto server = accept_one(listener, client);
  ASSERT_TRUE(server.is_open());
  EXPECT_EQ(transfer(client, server, 1u << 20, 1h), 1u << 20);
  EXPECT_GT(blue_->counters().get("TcpRetransSegs"), 0u);
  EXPECT_EQ(blue_->counters().get("TcpExtTCPAbortOnTimeout"), 0u);
}

TEST_F(Tcp6Test, AClosedPortAnswersWithRst) {
  auto client = tcp::connect(*blue_, {kRed6, 81}).value();
  ASSERT_TRUE(run_until([&] { return client.state() == tcp::State::closed; }));
  std::byte buf[1];
  EXPECT_EQ(client.read(buf).error(), boost::system::errc::connection_refused);
  EXPECT_EQ(red_->counters().get("TcpOutRsts"), 1u);
  EXPECT_EQ(blue_->counters().get("TcpExtTCPAbortOnTimeout"), 0u);
}

TEST_F(Tcp6Test, PacketTooBigLowersTheMss) {
  auto listener = tcp::listen(*red_, {Ipv6Address::any(), 9000}).value();
  auto client = tcp::connect(*blue_, {kRed6, 9000}).value();
  auto server = accept_one(listener, client);
  ASSERT_TRUE(server.is_open());
  ASSERT_EQ(client.info().mss, 1500u - 60 - 12);
  Ipv6TcpRecorder recorder;
  red_eth0_->add_observer(recorder);
  std::vector<std::byte> data(4 * 1428, std::byte{7});
  ASSERT_EQ(client.write(data).value(), data.size());
  run_for(1s);  // sent and acknowledged
  ASSERT_EQ(recorder.datagrams.size(), 4u);
  // A router on the way reports a 1400-byte link, quoting a segment at
  // snd_una (Linux's tcp_v6_err takes seq in [snd_una, snd_nxt]).
  auto quoted = recorder.datagrams.front();
  const std::uint32_t seq = (std::uint32_t(quoted[44]) << 24 | std::uint32_t(quoted[45]) << 16 |
                             std::uint32_t(quoted[46]) << 8 | std::uint32_t(quoted[47])) +
                            static_cast<std::uint32_t>(data.size());
  for (int i = 0; i < 4; ++i) quoted[44 + i] = std::byte(seq >> (24 - 8 * i));
  Packet offending = host_.packets().allocate(quoted.size());
  std::copy(quoted.begin(), quoted.end(), offending.mutable_data().begin());
  auto& layer = host_.builtins().ipv6();
  layer.send_icmp_error(*red_, offending, ipv6::kIcmp6PacketTooBig, 0, 1400);
  poll();
  EXPECT_EQ(blue_->counters().get("Icmp6InPktTooBigs"), 1u);
  EXPECT_EQ(blue_->counters().get("TcpExtOutOfWindowIcmps"), 0u);
  EXPECT_EQ(client.info().mss, 1400u - 60 - 12);
  EXPECT_EQ(ipv6::path_mtu(*blue_, kRed6).value(), 1400u);
  // Later data leaves in datagrams that fit the path.
  recorder.datagrams.clear();
  ASSERT_EQ(client.write(data).value(), data.size());
  run_for(1s);
  ASSERT_EQ(recorder.datagrams.size(), 5u);  // 5712 bytes in 1328-byte segments
  for (const auto& d : recorder.datagrams) EXPECT_LE(d.size(), 1400u);
  std::vector<std::byte> in(2 * data.size());
  EXPECT_EQ(server.read(in).value(), in.size());
  // A report below the IPv6 minimum lowers the path to 1280, never below
  // (RFC 8200 5), and the MSS with it.
  auto at_una = recorder.datagrams.back();
  const std::uint32_t una = (std::uint32_t(at_una[44]) << 24 | std::uint32_t(at_una[45]) << 16 |
                             std::uint32_t(at_una[46]) << 8 | std::uint32_t(at_una[47])) +
                            static_cast<std::uint32_t>(at_una.size() - 40 - 32);
  for (int i = 0; i < 4; ++i) at_una[44 + i] = std::byte(una >> (24 - 8 * i));
  Packet small = host_.packets().allocate(at_una.size());
  std::copy(at_una.begin(), at_una.end(), small.mutable_data().begin());
  layer.send_icmp_error(*red_, small, ipv6::kIcmp6PacketTooBig, 0, 600);
  poll();
  EXPECT_EQ(ipv6::path_mtu(*blue_, kRed6).value(), 1280u);
  EXPECT_EQ(client.info().mss, 1280u - 60 - 12);
  // Quoting data long acknowledged: out of the window.
  layer.send_icmp_error(*red_, offending, ipv6::kIcmp6PacketTooBig, 0, 1300);
  poll();
  EXPECT_EQ(blue_->counters().get("TcpExtOutOfWindowIcmps"), 1u);
  red_eth0_->remove_observer(recorder);
}

TEST_F(Tcp6Test, IcmpV6ErrorsReachAConnectInSynSent) {
  // A listener whose accept queue is full drops SYNs without a word: the
  // second connect stays in SYN_SENT, its SYN recorded on red's link.
  auto listener = tcp::listen(*red_, {Ipv6Address::any(), 82}, 0).value();
  auto first = tcp::connect(*blue_, {kRed6, 82}).value();
  ASSERT_TRUE(run_until([&] { return listener.pending() == 1; }));
  Ipv6TcpRecorder recorder;
  red_eth0_->add_observer(recorder);
  auto second = tcp::connect(*blue_, {kRed6, 82}).value();
  poll();
  red_eth0_->remove_observer(recorder);
  ASSERT_EQ(second.state(), tcp::State::syn_sent);
  ASSERT_EQ(recorder.datagrams.size(), 1u);
  const auto& quoted = recorder.datagrams.front();
  Packet offending = host_.packets().allocate(quoted.size());
  std::copy(quoted.begin(), quoted.end(), offending.mutable_data().begin());
  auto& layer = host_.builtins().ipv6();
  // Soft errors (time exceeded, no route: icmpv6_err_convert's not fatal): the connect goes on.
  layer.send_icmp_error(*red_, offending, ipv6::kIcmp6TimeExceeded, 0);
  layer.send_icmp_error(*red_, offending, ipv6::kIcmp6DestUnreachable, 0);
  run_for(10ms);
  EXPECT_EQ(second.state(), tcp::State::syn_sent);
  EXPECT_EQ(blue_->counters().get("Icmp6InTimeExcds"), 1u);
  // Port unreachable is fatal while opening: ECONNREFUSED.
  layer.send_icmp_error(*red_, offending, ipv6::kIcmp6DestUnreachable, 4);
  poll();
  EXPECT_EQ(second.state(), tcp::State::closed);
  std::byte buf[1];
  EXPECT_EQ(second.read(buf).error(), boost::system::errc::connection_refused);
  EXPECT_EQ(first.state(), tcp::State::established);
}

TEST_F(Tcp6Test, DumpSocketsPrintsBracketedAddresses) {
  auto listener = tcp::listen(*red_, {Ipv6Address::any(), 443}).value();
  auto client = tcp::connect(*blue_, {kRed6, 443}).value();
  auto server = accept_one(listener, client);
  ASSERT_TRUE(server.is_open());
  const std::string dump = tcp::dump_sockets(*red_);
  EXPECT_NE(dump.find("[::]:443"), std::string::npos) << dump;
  EXPECT_NE(dump.find("[::]:*"), std::string::npos) << dump;
  EXPECT_NE(dump.find("[2001:db8::2]:443"), std::string::npos) << dump;
  EXPECT_NE(dump.find(fmt::format("[2001:db8::1]:{}", client.local_endpoint().port)), std::string::npos) << dump;
}

TEST_F(Tcp6Test, BadCallsAreRefused) {
  EXPECT_EQ(tcp::connect(*blue_, {Ipv6Address::any(), 80}).error(), boost::system::errc::invalid_argument);
  EXPECT_EQ(tcp::connect(*blue_, {Ipv6Address::parse("ff02::1").value(), 80}).error(),
            boost::system::errc::invalid_argument);
  EXPECT_EQ(tcp::connect(*blue_, {Ipv4Address::any(), 0}, {kRed6, 80}).error(),
            boost::system::errc::address_family_not_supported);
  EXPECT_EQ(tcp::listen(*blue_, {kRed6, 80}).error(), boost::system::errc::address_not_available);
  EXPECT_EQ(tcp::listen(*blue_, {Ipv6Address::parse("ff02::1").value(), 80}).error(),
            boost::system::errc::invalid_argument);
  EXPECT_EQ(tcp::dump_sockets(*blue_).find('\n', 0) + 1, tcp::dump_sockets(*blue_).size());  // the header only
}

TEST_F(Tcp6Test, ADualStackListenerAcceptsBothFamilies) {
  ASSERT_TRUE(ipv4::add_address(*blue_, *blue_eth0_, Ipv4Prefix(kBlue4, 24)));
  ASSERT_TRUE(ipv4::add_address(*red_, *red_eth0_, Ipv4Prefix(kRed4, 24)));
  // [::]:7000 with net.ipv6.bindv6only=0 (the default): IPv4 too.
  auto listener = tcp::listen(*red_, {Ipv6Address::any(), 7000}).value();
  auto c4 = tcp::connect(*blue_, {kRed4, 7000}).value();
  auto s4 = accept_one(listener, c4);
  auto c6 = tcp::connect(*blue_, {kRed6, 7000}).value();
  auto s6 = accept_one(listener, c6);
  ASSERT_TRUE(s4.is_open() && s6.is_open());
  // The IPv4 peer as an IPv6 socket sees it, ::ffff:a.b.c.d; on the wire, IPv4.
  EXPECT_EQ(s4.remote_endpoint(), (Endpoint{Ipv6Address::v4_mapped(kBlue4), c4.local_endpoint().port}));
  EXPECT_EQ(s4.local_endpoint(), (Endpoint{Ipv6Address::v4_mapped(kRed4), 7000}));
  EXPECT_EQ(c4.remote_endpoint(), (Endpoint{kRed4, 7000}));
  EXPECT_EQ(s6.remote_endpoint(), c6.local_endpoint());
  EXPECT_EQ(transfer(c4, s4, 64 * 1024, 10s), 64u * 1024);
  EXPECT_EQ(transfer(c6, s6, 64 * 1024, 10s), 64u * 1024);
  EXPECT_GT(red_->counters().get("IpInReceives"), 40u);
  EXPECT_GT(red_->counters().get("Ip6InReceives"), 40u);
  const std::string dump = tcp::dump_sockets(*red_);
  EXPECT_NE(dump.find(fmt::format("[::ffff:192.0.2.1]:{}", c4.local_endpoint().port)), std::string::npos) << dump;
  EXPECT_NE(dump.find("[::ffff:192.0.2.2]:7000"), std::string::npos) << dump;
  // A client connecting to ::ffff:a.b.c.d speaks IPv4 and shows mapped addresses.
  auto mapped = tcp::connect(*blue_, {Ipv6Address::v4_mapped(kRed4), 7000}).value();
  auto s_mapped = accept_one(listener, mapped);
  ASSERT_TRUE(s_mapped.is_open());
  EXPECT_EQ(mapped.local_endpoint().address, IpAddress(Ipv6Address::v4_mapped(kBlue4)));
  EXPECT_EQ(mapped.remote_endpoint(), (Endpoint{Ipv6Address::v4_mapped(kRed4), 7000}));
  // The dual-stack listener holds the IPv4 port too (inet_rcv_saddr_equal).
  EXPECT_EQ(tcp::listen(*red_, {Ipv4Address::any(), 7000}).error(), boost::system::errc::address_in_use);
}

// ss shows a dual-stack child's TIME-WAIT in the socket's family, as
// [::ffff:a.b.c.d]:port, after the Stream is gone too.
TEST_F(Tcp6Test, ADualStackChildsTimeWaitIsDumpedWithMappedAddresses) {
  ASSERT_TRUE(ipv4::add_address(*blue_, *blue_eth0_, Ipv4Prefix(kBlue4, 24)));
  ASSERT_TRUE(ipv4::add_address(*red_, *red_eth0_, Ipv4Prefix(kRed4, 24)));
  auto listener = tcp::listen(*red_, {Ipv6Address::any(), 7004}).value();
  auto c4 = tcp::connect(*blue_, {kRed4, 7004}).value();
  auto s4 = accept_one(listener, c4);
  ASSERT_TRUE(s4.is_open());
  const std::uint16_t client_port = c4.local_endpoint().port;
  s4.close();  // the server closes first: its side ends in TIME_WAIT, an orphan record
  ASSERT_TRUE(run_until([&] { return c4.state() == tcp::State::close_wait; }));
  c4.close();
  ASSERT_TRUE(run_until([&] { return c4.state() == tcp::State::closed; }));
  const std::string dump = tcp::dump_sockets(*red_);
  EXPECT_NE(dump.find("TIME-WAIT"), std::string::npos) << dump;
  EXPECT_NE(dump.find("[::ffff:192.0.2.2]:7004"), std::string::npos) << dump;
  EXPECT_NE(dump.find(fmt::format("[::ffff:192.0.2.1]:{}", client_port)), std::string::npos) << dump;
  EXPECT_EQ(dump.find(" 192.0.2.2:7004"), std::string::npos) << dump;  // never bare IPv4
}

// IPV6_V6ONLY set on the listener, whatever net.ipv6.bindv6only says.
TEST_F(Tcp6Test, AV6OnlyListenerLeavesIpv4ToAnotherListener) {
  ASSERT_TRUE(ipv4::add_address(*blue_, *blue_eth0_, Ipv4Prefix(kBlue4, 24)));
  ASSERT_TRUE(ipv4::add_address(*red_, *red_eth0_, Ipv4Prefix(kRed4, 24)));
  auto only6 = tcp::listen(*red_, {Ipv6Address::any(), 7002}, {.v6only = true}).value();
  auto only4 = tcp::listen(*red_, {Ipv4Address::any(), 7002}).value();  // no conflict
  auto c4 = tcp::connect(*blue_, {kRed4, 7002}).value();
  auto s4 = accept_one(only4, c4);
  ASSERT_TRUE(s4.is_open());
  EXPECT_EQ(s4.local_endpoint(), (Endpoint{kRed4, 7002}));
  EXPECT_EQ(only6.pending(), 0u);
  // v6only on an IPv4 address, or a dual-stack listener where IPv4 is taken: refused.
  EXPECT_EQ(tcp::listen(*red_, {Ipv4Address::any(), 7003}, {.v6only = true}).error(),
            boost::system::errc::invalid_argument);
  EXPECT_EQ(tcp::listen(*red_, {Ipv6Address::any(), 7002}, {.v6only = false}).error(),
            boost::system::errc::address_in_use);
}

TEST_F(Tcp6Test, WithBindv6onlyAnIpv4ListenerTakesIpv4AndAnIpv6OneIpv6) {
  ASSERT_TRUE(ipv4::add_address(*blue_, *blue_eth0_, Ipv4Prefix(kBlue4, 24)));
  ASSERT_TRUE(ipv4::add_address(*red_, *red_eth0_, Ipv4Prefix(kRed4, 24)));
  ASSERT_TRUE(red_->sysctl().set("net.ipv6.bindv6only", "1"));
  auto only6 = tcp::listen(*red_, {Ipv6Address::any(), 7001}).value();
  // Nothing takes IPv4 on the port yet: an RST.
  auto refused = tcp::connect(*blue_, {kRed4, 7001}).value();
  ASSERT_TRUE(run_until([&] { return refused.state() == tcp::State::closed; }));
  std::byte buf[1];
  EXPECT_EQ(refused.read(buf).error(), boost::system::errc::connection_refused);
  // Both listeners on one port, each taking its family.
  auto only4 = tcp::listen(*red_, {Ipv4Address::any(), 7001}).value();
  auto c4 = tcp::connect(*blue_, {kRed4, 7001}).value();
  auto s4 = accept_one(only4, c4);
  auto c6 = tcp::connect(*blue_, {kRed6, 7001}).value();
  auto s6 = accept_one(only6, c6);
  ASSERT_TRUE(s4.is_open() && s6.is_open());
  EXPECT_EQ(s4.remote_endpoint().address, IpAddress(kBlue4));
  EXPECT_EQ(s6.remote_endpoint().address, IpAddress(kBlue6));
  EXPECT_EQ(only4.pending() + only6.pending(), 0u);
}

}  // namespace ipv4_tcp_ipv6_test
}  // namespace
}  // namespace netns
