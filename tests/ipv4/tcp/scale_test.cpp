// Many connections at once, in many namespaces that all use the same
// addresses: each namespace's connections stay its own.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <boost/asio/error.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "netns/device.hpp"
#include "netns/ipv4.hpp"
#include "netns/tcp.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace ipv4_tcp_scale_test {

const Ipv4Address kServer(192, 0, 2, 2);

// One client namespace and one server namespace joined by a veth, with the
// same two addresses as every other pair.
struct Pair {
  NetRef client, server;
  tcp::Listener listener;
  std::vector<tcp::Stream> clients, servers;
};

class TcpScale : public support::HostTest {
 protected:
  Pair make_pair(int i) {
    Pair p;
    p.client = host_.create_net(fmt::format("c{}", i)).value();
    p.server = host_.create_net(fmt::format("s{}", i)).value();
    auto veth = make_veth(*p.client, "eth0", *p.server, "eth0").value();
    EXPECT_TRUE(set_link_up(*veth.a));
    EXPECT_TRUE(set_link_up(*veth.b));
    EXPECT_TRUE(ipv4::add_address(*p.client, *veth.a, Ipv4Prefix::parse("192.0.2.1/24").value()));
    EXPECT_TRUE(ipv4::add_address(*p.server, *veth.b, Ipv4Prefix::parse("192.0.2.2/24").value()));
    p.listener = tcp::listen(*p.server, {Ipv4Address::any(), 80}, 1024).value();
    return p;
  }
};

// Pair i, connection j sends this many bytes, each tagged with (i, j).
std::size_t payload_size(std::size_t i, std::size_t j) { return 1000 + (i * 37 + j * 101) % 20000; }
std::byte tag(std::size_t i, std::size_t j, std::size_t k) {
  return std::byte(static_cast<std::uint8_t>(i * 7 + j * 13 + k));
}

TEST_F(TcpScale, ThousandConnectionsInNamespacesWithIdenticalAddresses) {
  constexpr std::size_t kPairs = 50, kPerPair = 20;
  std::vector<Pair> pairs;
  for (std::size_t i = 0; i < kPairs; ++i) pairs.push_back(make_pair(static_cast<int>(i)));

  for (auto& p : pairs) {
    for (std::size_t j = 0; j < kPerPair; ++j) p.clients.push_back(tcp::connect(*p.client, {kServer, 80}).value());
  }
  poll();
  for (auto& p : pairs) {
    while (auto s = p.listener.accept()) p.servers.push_back(std::move(*s));
    ASSERT_EQ(p.servers.size(), kPerPair);
    EXPECT_EQ(p.server->counters().get("TcpCurrEstab"), kPerPair);
  }
  // The same four-tuples exist in every pair: ports are chosen per namespace.
  EXPECT_EQ(pairs[0].clients[0].local_endpoint().address, pairs[1].clients[0].local_endpoint().address);

  // Every client sends its own bytes; every server must get exactly them.
  for (std::size_t i = 0; i < kPairs; ++i) {
    for (std::size_t j = 0; j < kPerPair; ++j) {
      std::vector<std::byte> data(payload_size(i, j));
      for (std::size_t k = 0; k < data.size(); ++k) data[k] = tag(i, j, k);
      ASSERT_EQ(pairs[i].clients[j].write(data).value(), data.size());
      ASSERT_TRUE(pairs[i].clients[j].shutdown());
    }
  }
  for (int round = 0; round < 10; ++round) {
    clock_.advance(std::chrono::milliseconds(50));
    poll();
  }
  std::vector<std::byte> buf(64 * 1024);
  for (std::size_t i = 0; i < kPairs; ++i) {
    for (std::size_t j = 0; j < kPerPair; ++j) {
      tcp::Stream& s = pairs[i].servers[j];
      // Accept order follows the handshakes: find which client this is by port.
      std::size_t client = kPerPair;
      for (std::size_t c = 0; c < kPerPair; ++c) {
        if (pairs[i].clients[c].local_endpoint() == s.remote_endpoint()) client = c;
      }
      ASSERT_LT(client, kPerPair);
      auto n = s.read(buf);
      ASSERT_TRUE(n) << n.error().message();
      ASSERT_EQ(*n, payload_size(i, client)) << "pair " << i << " connection " << j;
      for (std::size_t k = 0; k < *n; ++k) ASSERT_EQ(buf[k], tag(i, client, k));
      EXPECT_EQ(s.read(buf).value(), 0u);  // then the FIN
    }
  }
  std::uint64_t segments = 0;
  for (auto& p : pairs) segments += p.server->counters().get("TcpInSegs");
  EXPECT_GE(segments, kPairs * kPerPair * 3);
}

TEST_F(TcpScale, ThousandConnectionsToOneListener) {
  Pair p = make_pair(0);
  constexpr std::size_t kCount = 1000;
  for (std::size_t j = 0; j < kCount; ++j) p.clients.push_back(tcp::connect(*p.client, {kServer, 80}).value());
  // SYNs beyond the neighbour queue's bound (ARP is still resolving) are
  // dropped, as in Linux, and go again when their 1 s RTO fires.
  for (int round = 0; round < 30; ++round) {
    clock_.advance(std::chrono::milliseconds(100));
    poll();
    while (auto s = p.listener.accept()) p.servers.push_back(std::move(*s));
  }
  ASSERT_EQ(p.servers.size(), kCount);
  for (std::size_t j = 0; j < kCount; ++j) {
    const std::array<std::byte, 2> bytes{std::byte(j & 0xff), std::byte(j >> 8)};
    ASSERT_EQ(p.clients[j].write(bytes).value(), 2u);
  }
  clock_.advance(std::chrono::milliseconds(50));
  poll();
  std::vector<bool> seen(kCount);
  for (auto& s : p.servers) {
    std::array<std::byte, 4> buf{};
    ASSERT_EQ(s.read(buf).value(), 2u);
    const std::size_t j = std::to_integer<std::size_t>(buf[0]) | std::to_integer<std::size_t>(buf[1]) << 8;
    ASSERT_LT(j, kCount);
    EXPECT_EQ(p.clients[j].local_endpoint(), s.remote_endpoint());
    seen[j] = true;
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), true), static_cast<long>(kCount));
  EXPECT_EQ(p.server->counters().get("TcpPassiveOpens"), kCount);
}

}  // namespace ipv4_tcp_scale_test
}  // namespace
}  // namespace netns
