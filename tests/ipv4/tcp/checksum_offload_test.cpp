// In-process links carry TCP segments with their checksum left to fill
// (Packet::checksum_partial, Linux's CHECKSUM_PARTIAL on a veth): it is
// filled the moment a segment reaches a device that does not offload, and
// before netem corrupts a bit, so nothing leaves with a bad checksum and
// corruption is still caught.
#include <boost/asio/error.hpp>
#include <gtest/gtest.h>

#include "netns/device.hpp"
#include "netns/ipv4.hpp"
#include "netns/tcp.hpp"
#include "netns/wire/ethernet.hpp"
#include "netns/wire/ipv4.hpp"
#include "netns/wire/tcp.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace ipv4_tcp_checksum_offload_test {

using namespace std::chrono_literals;

// blue — veth — red (a router) — channel "out" 198.51.100.1/24.
class TcpChecksumOffload : public support::AddressedTwoNets {
 protected:
  void SetUp() override {
    AddressedTwoNets::SetUp();
    out_ = make_channel(*red_, "out").value();
    ASSERT_TRUE(set_link_up(*out_));
    ASSERT_TRUE(ipv4::add_address(*red_, *out_, Ipv4Prefix::parse("198.51.100.1/24").value()));
    ASSERT_TRUE(ipv4::add_neighbour(*red_, *out_, Ipv4Address(198, 51, 100, 2), MacAddress{2, 0, 0, 0, 0, 9}));
    ASSERT_TRUE(red_->sysctl().set("net.ipv4.ip_forward", "1"));
    ASSERT_TRUE(ipv4::add_route(*blue_, {.prefix = Ipv4Prefix::parse("0.0.0.0/0").value(),
                                         .via = Ipv4Address(192, 0, 2, 2)}));
  }

  ChannelDevice* out_ = nullptr;
};

TEST_F(TcpChecksumOffload, ForwardedOntoAWireTheChecksumIsFilled) {
  auto client = tcp::connect(*blue_, {Ipv4Address(198, 51, 100, 2), 80}).value();
  poll();
  auto frame = out_->read();
  ASSERT_TRUE(frame);
  auto eth = wire::EthernetView::checked(*frame).value();
  auto ip = wire::Ipv4View::checked(eth.payload()).value();
  auto tcp = wire::TcpView::checked(ip.payload()).value();
  EXPECT_TRUE(tcp.syn());
  EXPECT_TRUE(tcp.verify_checksum(ip.src(), ip.dst()));
  EXPECT_NE(tcp.checksum(), 0);
}

TEST_F(TcpChecksumOffload, SegmentsOverTheVethAreTrustedAndDataArrives) {
  auto listener = tcp::listen(*red_, {Ipv4Address::any(), 80}).value();
  auto client = tcp::connect(*blue_, {Ipv4Address(192, 0, 2, 2), 80}).value();
  poll();
  auto server = listener.accept().value();
  const std::string_view hello = "hello";
  ASSERT_EQ(client.write(std::as_bytes(std::span(hello))).value(), hello.size());
  poll();
  std::array<std::byte, 16> buf{};
  EXPECT_EQ(server.read(buf).value(), hello.size());
  EXPECT_EQ(red_->counters().get("TcpInCsumErrors"), 0u);
}

TEST_F(TcpChecksumOffload, NetemCorruptionIsStillCaught) {
  auto listener = tcp::listen(*red_, {Ipv4Address::any(), 80}).value();
  auto client = tcp::connect(*blue_, {Ipv4Address(192, 0, 2, 2), 80}).value();
  poll();
  auto server = listener.accept().value();
  // Every frame blue sends gets one bit flipped from now on.
  ASSERT_TRUE(set_link_faults(*blue_eth0_, LinkFaults{.corrupt = 1.0, .seed = 7}));
  std::vector<std::byte> data(64 * 1024, std::byte{0x5a});
  ASSERT_TRUE(client.write(data));
  poll();
  // A flipped bit lands in the Ethernet, IP or TCP header or in the data;
  // those in the TCP segment are counted as checksum errors, and no
  // corrupted byte is ever delivered (a frame whose flipped bit was in the
  // source MAC address may arrive intact).
  std::array<std::byte, 1024> buf{};
  while (auto got = server.read(buf)) {
    for (std::size_t i = 0; i < *got; ++i) ASSERT_EQ(buf[i], std::byte{0x5a});
    if (*got == 0) break;
  }
  EXPECT_GT(red_->counters().get("TcpInCsumErrors"), 0u);
}

}  // namespace ipv4_tcp_checksum_offload_test
}  // namespace
}  // namespace netns
