// A full accept queue at the handshake's last ACK (Linux's tcp_check_req):
// the ACK is dropped and the SYN-ACK retransmitted, or with
// net.ipv4.tcp_abort_on_overflow the peer is reset.
#include <chrono>

#include <gtest/gtest.h>

#include "netns/tcp.hpp"
#include "support/tcp_peer.hpp"

namespace netns {
namespace {
namespace ipv4_tcp_accept_overflow_test {

using namespace std::chrono_literals;
using namespace support;

class TcpAcceptOverflow : public TcpPeerTest {
 protected:
  // Backlog 2: two connections wait to be accepted, two more send their
  // SYNs; the first of those completes (the queue takes one over its
  // backlog, as Linux's sk_acceptq_is_full), the second's ACK overflows.
  // Returns the ACK number the overflowing peer used.
  std::uint32_t overflow() {
    listener_ = listen(kTcpLocalPort, 2);
    complete(40000, syn(40000));
    complete(40001, syn(40001));
    const std::uint32_t third = syn(40002);
    const std::uint32_t fourth = syn(40003);
    complete(40002, third);
    EXPECT_EQ(listener_.pending(), 3u);
    complete(40003, fourth);
    return fourth;
  }
  // A SYN from `port`; the SYN-ACK's sequence number plus one.
  std::uint32_t syn(std::uint16_t port) {
    peer_.set_self({kTcpPeer, port});
    peer_.set_snd_nxt(kTcpPeerIss);
    peer_.send(peer_.syn(PeerOptions::none()));
    return peer_.expect(kTcpSyn | kTcpAck).seq() + 1;
  }
  void complete(std::uint16_t port, std::uint32_t rcv_nxt) {
    peer_.set_self({kTcpPeer, port});
    peer_.set_snd_nxt(kTcpPeerIss + 1);
    peer_.set_rcv_nxt(rcv_nxt);
    peer_.send_ack();
  }
};

TEST_F(TcpAcceptOverflow, TheAckIsDroppedAndTheSynAckRetransmitted) {
  overflow();
  peer_.expect_none();
  EXPECT_EQ(counter("TcpExtListenOverflows"), 1u);
  EXPECT_EQ(counter("TcpExtListenDrops"), 1u);
  EXPECT_EQ(counter("TcpExtEmbryonicRsts"), 0u);
  // The half-open connection stays and retransmits its SYN-ACK.
  const TcpSegment again = peer_.expect_within(2s);
  EXPECT_EQ(again.tcp.flags, kTcpSyn | kTcpAck);
  EXPECT_EQ(again.tcp.dst_port, 40003);
  // Once the application accepts, the retransmitted ACK completes it.
  auto first = listener_.accept();
  ASSERT_TRUE(first);
  complete(40003, again.seq() + 1);
  peer_.expect_none();
  EXPECT_EQ(listener_.pending(), 3u);
}

TEST_F(TcpAcceptOverflow, AbortOnOverflowResetsThePeer) {
  sysctl("net.ipv4.tcp_abort_on_overflow", "1");
  const std::uint32_t ack = overflow();
  // The RST answers the ACK: its sequence number is the ACK's acknowledgment.
  const TcpSegment rst = peer_.expect(kTcpRst);
  EXPECT_EQ(rst.seq(), ack);
  EXPECT_EQ(rst.tcp.dst_port, 40003);
  EXPECT_EQ(counter("TcpExtListenOverflows"), 1u);
  EXPECT_EQ(counter("TcpExtEmbryonicRsts"), 1u);
  // Nothing is left of it: no SYN-ACK comes again, the queue is as it was.
  peer_.run_for(10s);
  peer_.expect_none();
  EXPECT_EQ(listener_.pending(), 3u);
  EXPECT_EQ(tcp::dump_sockets(*net_).find(":40003"), std::string::npos);
}

}  // namespace ipv4_tcp_accept_overflow_test
}  // namespace
}  // namespace netns
