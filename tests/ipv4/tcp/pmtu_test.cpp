// Path MTU discovery for TCP (RFC 1191), as Linux's tcp_v4_mtu_reduced: a
// "fragmentation needed" report lowers the namespace's path MTU to the
// peer (never below net.ipv4.route.min_pmtu), segments too large for it
// are resent smaller at once, and later connections start from it.
#include <chrono>
#include <vector>

#include <gtest/gtest.h>

#include "netns/ipv4.hpp"
#include "netns/tcp.hpp"
#include "support/tcp_peer.hpp"

namespace netns {
namespace {
namespace ipv4_tcp_pmtu_test {

using namespace std::chrono_literals;
using namespace support;

constexpr std::uint32_t kMss = 1448;  // 1500 - 40 - 12 (timestamps)

class TcpPmtu : public TcpPeerTest {
 protected:
  std::vector<TcpSegment> send_segments(tcp::Stream& conn, std::uint32_t count) {
    EXPECT_EQ(write(conn, count * kMss).value(), count * kMss);
    std::vector<TcpSegment> out;
    for (std::uint32_t i = 0; i < count; ++i) out.push_back(peer_.expect());
    return out;
  }
};

TEST_F(TcpPmtu, FragmentationNeededResendsSmallerSegmentsAtOnce) {
  auto conn = established();
  const auto segs = send_segments(conn, 3);
  EXPECT_TRUE(segs[0].ip.dont_fragment);
  peer_.send_frag_needed(segs[0], 1000);
  // The first lost segment again, cut to what 1000 bytes carry.
  const auto again = peer_.expect();
  EXPECT_EQ(again.seq(), segs[0].seq());
  EXPECT_EQ(again.payload.size(), 1000u - 40 - 12);
  EXPECT_TRUE(again.ip.dont_fragment);
  EXPECT_EQ(conn.info().mss, 1000u - 40 - 12);
  EXPECT_EQ(ipv4::path_mtu(*net_, kTcpPeer).value(), 1000u);
  EXPECT_EQ(counter("TcpExtTCPTimeouts"), 0u);
}

TEST_F(TcpPmtu, AReportBelowMinPmtuIsFlooredAndSegmentsGoWithoutDf) {
  auto conn = established();
  const auto segs = send_segments(conn, 2);
  peer_.send_frag_needed(segs[0], 300);  // as forged by an attacker: tiny
  const auto again = peer_.expect();
  EXPECT_EQ(again.payload.size(), 552u - 40 - 12);  // route.min_pmtu, not 300
  EXPECT_FALSE(again.ip.dont_fragment);             // Linux's locked MTU
  EXPECT_EQ(ipv4::path_mtu(*net_, kTcpPeer).value(), 552u);
}

TEST_F(TcpPmtu, AReportForDataNotInFlightChangesNothing) {
  auto conn = established();
  const auto segs = send_segments(conn, 2);
  peer_.ack(segs[1]);
  peer_.send_frag_needed(segs[0], 1000);  // quoting data already acknowledged
  peer_.expect_none();
  EXPECT_EQ(conn.info().mss, kMss);
  EXPECT_EQ(counter("TcpExtOutOfWindowIcmps"), 1u);
}

TEST_F(TcpPmtu, ANewConnectionStartsFromTheLearnedPathMtu) {
  auto first = established();
  const auto segs = send_segments(first, 1);
  peer_.send_frag_needed(segs[0], 1200);
  while (peer_.pending() != 0) peer_.expect();  // the segment again, in two
  first.abort();
  peer_.expect(kTcpRst | kTcpAck);
  peer_.set_self({kTcpPeer, kTcpPeerPort + 1});
  auto second = accept_peer(listener_);
  EXPECT_EQ(second.info().mss, 1200u - 40 - 12);
}

}  // namespace ipv4_tcp_pmtu_test
}  // namespace
}  // namespace netns
