// Per-namespace caps (netns/resources.hpp): net.core.sockets_max refuses a
// socket with EMFILE and changes nothing; net.core.packet_mem_max drops and
// counts what a namespace has no room for, and a namespace at its cap
// stops nobody else's traffic.
#include <array>
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include <boost/asio/error.hpp>
#include <gtest/gtest.h>

#include "netns/icmp.hpp"
#include "netns/ipv4.hpp"
#include "netns/packet_pool.hpp"
#include "netns/resources.hpp"
#include "netns/tcp.hpp"
#include "netns/udp.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace core_resources_test {

using namespace std::chrono_literals;

constexpr auto kEmfile = Errc::too_many_files_open;

bool is_would_block(const boost::system::error_code& e) { return e == boost::asio::error::would_block; }

TEST(NetResources, ChargesAddUpAndComeBackWhenTheQueueGoes) {
  Sysctl sysctl;
  NetResources account(sysctl);
  ASSERT_TRUE(sysctl.set("net.core.packet_mem_max", "10000"));
  {
    PacketCharge a(account);
    PacketCharge b(account);
    EXPECT_TRUE(a.try_add(6000));
    EXPECT_TRUE(b.try_add(4000));          // exactly at the cap: admitted
    EXPECT_FALSE(b.try_add(1));            // a hard cap
    EXPECT_EQ(b, 4000u);                   // nothing charged by the refusal
    EXPECT_EQ(account.packet_memory(), 10000u);
    a -= 1000;
    EXPECT_TRUE(b.try_add(1000));
    b += 500;                              // forced: a collapse holding both copies a moment
    EXPECT_EQ(account.packet_memory(), 10500u);
    a.clear();
    EXPECT_EQ(account.packet_memory(), 5500u);
  }
  EXPECT_EQ(account.packet_memory(), 0u);
}

TEST(NetResources, SocketSlotsAreCountedAndMoveWithTheirHolder) {
  Sysctl sysctl;
  NetResources account(sysctl);
  ASSERT_TRUE(sysctl.set("net.core.sockets_max", "2"));
  auto a = account.open_socket();
  auto b = account.open_socket();
  ASSERT_TRUE(a && b);
  auto c = account.open_socket();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), kEmfile);
  EXPECT_EQ(account.sockets(), 2u);
  SocketSlot moved = std::move(*a);
  EXPECT_FALSE(*a);
  EXPECT_EQ(account.sockets(), 2u);
  moved.reset();
  EXPECT_EQ(account.sockets(), 1u);
  EXPECT_TRUE(account.open_socket());  // a temporary: given back at once
  EXPECT_EQ(account.sockets(), 1u);
}

TEST(NetResources, DefaultsAreTheDocumentedOnes) {
  Sysctl sysctl;
  EXPECT_EQ(sysctl.get("net.core.sockets_max").value(), "65536");
  EXPECT_EQ(sysctl.get("net.core.packet_mem_max").value(), "268435456");
  EXPECT_FALSE(sysctl.set("net.core.sockets_max", "-1"));
  EXPECT_FALSE(sysctl.set("net.core.packet_mem_max", "4294967296"));
  EXPECT_EQ(sysctl.get("net.core.packet_mem_max").value(), "268435456");
}

class NetCaps : public support::AddressedTwoNets {
 protected:
  void cap_sockets(Net& net, int n) {
    ASSERT_TRUE(net.sysctl().set("net.core.sockets_max", std::to_string(n)));
  }
  void cap_memory(Net& net, std::size_t bytes) {
    ASSERT_TRUE(net.sysctl().set("net.core.packet_mem_max", std::to_string(bytes)));
  }
  std::size_t truesize() { return host_.packets().allocate(1).truesize(); }
  // Fills `net` to its packet memory cap with datagrams to an unread socket.
  udp::Socket fill(Net& net, Net& from, Ipv4Address to) {
    auto sink = udp::open(net).value();
    EXPECT_TRUE(sink.bind({Ipv4Address::any(), 9}));
    auto sender = udp::open(from).value();
    const std::array<std::byte, 1> one{};
    for (int i = 0; i < 64; ++i) EXPECT_TRUE(sender.send_to(one, {to, 9}));
    poll();
    return sink;
  }
};

TEST_F(NetCaps, EverySocketKindIsRefusedAtTheCapAndNothingChanges) {
  cap_sockets(*red_, 3);
  auto u = udp::open(*red_).value();
  auto p = icmp::open(*red_).value();
  auto l = tcp::listen(*red_, {Ipv4Address::any(), 80}).value();
  EXPECT_EQ(red_->resources().sockets(), 3u);

  auto u2 = udp::open(*red_);
  ASSERT_FALSE(u2);
  EXPECT_EQ(u2.error(), kEmfile);
  auto p2 = icmp::open(*red_);
  ASSERT_FALSE(p2);
  EXPECT_EQ(p2.error(), kEmfile);
  auto l2 = tcp::listen(*red_, {Ipv4Address::any(), 81});
  ASSERT_FALSE(l2);
  EXPECT_EQ(l2.error(), kEmfile);
  auto c2 = tcp::connect(*red_, {kBlue, 80});
  ASSERT_FALSE(c2);
  EXPECT_EQ(c2.error(), kEmfile);
  EXPECT_EQ(red_->resources().sockets(), 3u);
  poll();
  EXPECT_EQ(red_->counters().get("TcpActiveOpens"), 0u);  // no SYN left
  EXPECT_EQ(tcp::dump_sockets(*red_).find(":81"), std::string::npos);  // nothing bound

  // The other namespace is not limited by this one's cap.
  std::vector<udp::Socket> blues;
  for (int i = 0; i < 10; ++i) blues.push_back(udp::open(*blue_).value());
  EXPECT_EQ(blue_->resources().sockets(), 10u);

  // Closing one frees its slot; lowering the cap closes nothing.
  u.close();
  EXPECT_EQ(red_->resources().sockets(), 2u);
  ASSERT_TRUE(tcp::listen(*red_, {Ipv4Address::any(), 81}));  // a temporary, closed at once
  cap_sockets(*red_, 1);
  EXPECT_EQ(red_->resources().sockets(), 2u);
  EXPECT_EQ(l.local_endpoint().port, 80);
  EXPECT_EQ(udp::open(*red_).error(), kEmfile);
}

TEST_F(NetCaps, AcceptAtTheCapIsEmfileAndTheConnectionWaits) {
  cap_sockets(*red_, 1);
  auto listener = tcp::listen(*red_, {Ipv4Address::any(), 80}).value();
  auto client = tcp::connect(*blue_, {kRed, 80}).value();
  poll();
  ASSERT_EQ(listener.pending(), 1u);
  auto refused = listener.accept();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), kEmfile);
  EXPECT_EQ(listener.pending(), 1u);
  EXPECT_EQ(client.state(), tcp::State::established);

  cap_sockets(*red_, 2);
  auto server = listener.accept();
  ASSERT_TRUE(server) << server.error().message();
  EXPECT_EQ(red_->resources().sockets(), 2u);
  const std::array<std::byte, 3> hello{std::byte{'h'}, std::byte{'i'}, std::byte{'!'}};
  ASSERT_EQ(client.write(hello).value(), 3u);
  poll();
  std::array<std::byte, 8> buf{};
  EXPECT_EQ(server->read(buf).value(), 3u);
  // An empty backlog is would_block whatever the cap.
  cap_sockets(*red_, 0);
  auto none = listener.accept();
  ASSERT_FALSE(none);
  EXPECT_TRUE(is_would_block(none.error()));
  server->close();
  EXPECT_EQ(red_->resources().sockets(), 1u);  // the connection itself goes on closing
}

TEST_F(NetCaps, DatagramsBeyondThePacketCapAreDroppedAndCounted) {
  cap_memory(*red_, 10 * truesize());
  auto sink = fill(*red_, *blue_, kRed);
  EXPECT_EQ(red_->resources().packet_memory(), 10 * truesize());
  EXPECT_EQ(red_->counters().get("UdpMemErrors"), 54u);
  EXPECT_EQ(red_->counters().get("IpExtPacketMemDrops"), 54u);
  EXPECT_EQ(red_->counters().get("UdpInErrors"), 54u);
  EXPECT_EQ(red_->counters().get("UdpRcvbufErrors"), 0u);

  // A second socket gets nothing while the first holds it all...
  auto other = udp::open(*red_).value();
  ASSERT_TRUE(other.bind({Ipv4Address::any(), 10}));
  auto sender = udp::open(*blue_).value();
  const std::array<std::byte, 1> one{};
  ASSERT_TRUE(sender.send_to(one, {kRed, 10}));
  poll();
  std::array<std::byte, 4> buf{};
  EXPECT_FALSE(other.receive_from(buf));
  // ...and gets it again once the first is read.
  while (sink.receive_from(buf)) {
  }
  EXPECT_EQ(red_->resources().packet_memory(), 0u);
  ASSERT_TRUE(sender.send_to(one, {kRed, 10}));
  poll();
  EXPECT_TRUE(other.receive_from(buf));
}

TEST_F(NetCaps, FragmentsBeyondThePacketCapAreDroppedAndCounted) {
  cap_memory(*red_, 2 * truesize());
  auto server = udp::open(*red_).value();
  ASSERT_TRUE(server.bind({Ipv4Address::any(), 5353}));
  auto client = udp::open(*blue_).value();
  std::vector<std::byte> big(6000);  // five fragments on a 1500-byte link
  ASSERT_TRUE(client.send_to(big, {kRed, 5353}));
  poll();
  EXPECT_GT(red_->counters().get("IpExtPacketMemDrops"), 0u);
  EXPECT_GT(red_->counters().get("IpReasmFails"), 0u);
  EXPECT_EQ(red_->counters().get("IpReasmOKs"), 0u);
  EXPECT_LE(red_->resources().packet_memory(), 2 * truesize());

  cap_memory(*red_, 268435456);
  run_for(31s);  // ipfrag_time: the partial datagram expires
  EXPECT_EQ(red_->resources().packet_memory(), 0u);
  ASSERT_TRUE(client.send_to(big, {kRed, 5353}));
  poll();
  std::array<std::byte, 8000> buf{};
  auto got = server.receive_from(buf);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->size, 6000u);
}

TEST_F(NetCaps, TcpAtTheNamespaceCapDropsThenRecovers) {
  auto listener = tcp::listen(*red_, {Ipv4Address::any(), 80}).value();
  auto client = tcp::connect(*blue_, {kRed, 80}).value();
  poll();
  auto server = listener.accept().value();
  // Red is at its cap, held by a socket nobody reads yet.
  cap_memory(*red_, 20 * truesize());
  auto sink = fill(*red_, *blue_, kRed);
  ASSERT_EQ(red_->resources().packet_memory(), 20 * truesize());
  const std::uint64_t drops = red_->counters().get("IpExtPacketMemDrops");

  std::vector<std::byte> data(20 * 1448);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = std::byte(static_cast<std::uint8_t>(i));
  ASSERT_EQ(client.write(data).value(), data.size());
  poll();
  // One segment is always taken so data can move; the rest are refused.
  EXPECT_GT(red_->counters().get("TcpExtTCPRcvQDrop"), 0u);
  EXPECT_GT(red_->counters().get("IpExtPacketMemDrops"), drops);
  EXPECT_LE(red_->resources().packet_memory(), 21 * truesize());

  std::array<std::byte, 4> small{};
  while (sink.receive_from(small)) {
  }
  std::vector<std::byte> got;
  std::array<std::byte, 65536> buf{};
  for (int i = 0; i < 200 && got.size() < data.size(); ++i) {
    run_for(50ms);  // retransmissions
    while (auto n = server.read(buf)) {
      if (*n == 0) break;
      got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
    }
  }
  EXPECT_EQ(got, data);
}

TEST_F(NetCaps, ANamespaceAtItsCapDoesNotStopAnother) {
  // A third namespace, green, on its own veth to blue.
  auto green = host_.create_net("green").value();
  auto pair = make_veth(*blue_, "eth1", *green, "eth0").value();
  ASSERT_TRUE(set_link_up(*pair.a));
  ASSERT_TRUE(set_link_up(*pair.b));
  ASSERT_TRUE(ipv4::add_address(*blue_, *pair.a, Ipv4Prefix::parse("198.51.100.1/24").value()));
  ASSERT_TRUE(ipv4::add_address(*green, *pair.b, Ipv4Prefix::parse("198.51.100.2/24").value()));
  const Ipv4Address green_addr(198, 51, 100, 2);

  // Red pinned at its cap.
  cap_memory(*red_, 10 * truesize());
  auto sink = fill(*red_, *blue_, kRed);
  ASSERT_EQ(red_->resources().packet_memory(), 10 * truesize());
  const std::uint64_t red_drops = red_->counters().get("IpExtPacketMemDrops");

  // Blue and green still exchange a TCP stream and datagrams, and blue
  // still takes red's datagrams.
  auto listener = tcp::listen(*green, {Ipv4Address::any(), 80}).value();
  auto client = tcp::connect(*blue_, {green_addr, 80}).value();
  poll();
  auto server = listener.accept().value();
  std::vector<std::byte> data(256 * 1024, std::byte{7});
  std::size_t sent = 0, received = 0;
  std::array<std::byte, 65536> buf{};
  for (int i = 0; i < 2000 && received < data.size(); ++i) {
    if (sent < data.size()) {
      if (auto n = client.write(std::span(data).subspan(sent))) sent += *n;
    }
    poll();
    while (auto n = server.read(buf)) {
      if (*n == 0) break;
      received += *n;
    }
  }
  EXPECT_EQ(received, data.size());
  EXPECT_EQ(green->counters().get("IpExtPacketMemDrops"), 0u);

  auto blue_sock = udp::open(*blue_).value();
  ASSERT_TRUE(blue_sock.bind({Ipv4Address::any(), 7000}));
  auto red_sender = udp::open(*red_).value();
  const std::array<std::byte, 1> one{};
  ASSERT_TRUE(red_sender.send_to(one, {kBlue, 7000}));
  poll();
  EXPECT_TRUE(blue_sock.receive_from(buf));
  EXPECT_EQ(blue_->counters().get("IpExtPacketMemDrops"), 0u);
  EXPECT_EQ(red_->counters().get("IpExtPacketMemDrops"), red_drops);
  EXPECT_EQ(red_->resources().packet_memory(), 10 * truesize());
  server.close();
  client.close();
}

}  // namespace core_resources_test
}  // namespace
}  // namespace netns
