// SYN cookies (RFC 4987, Linux's syncookies.c) and the listener's queues:
// when a cookie replaces the SYN queue, what the cookie SYN-ACK offers, what
// the returning ACK recovers, and what a forged or stale ACK gets.
#include <chrono>

#include <gtest/gtest.h>

#include "netns/tcp.hpp"
#include "support/tcp_peer.hpp"

namespace netns {
namespace {
namespace ipv4_tcp_syncookies_test {

using namespace std::chrono_literals;
using namespace support;

constexpr std::uint16_t kOtherPort = kTcpPeerPort + 1;  // a second peer

class TcpSynCookies : public TcpPeerTest {
 protected:
  // A SYN from the peer at `port`, and the namespace's SYN-ACK.
  TcpSegment syn_from(std::uint16_t port, const PeerOptions& opts = {}) {
    peer_.set_self({kTcpPeer, port});
    peer_.send(peer_.syn(opts));
    return peer_.expect(kTcpSyn | kTcpAck);
  }
  // The peer's ACK of `synack`, with `payload`.
  void complete(const TcpSegment& synack, const PeerOptions& opts = {}, std::size_t payload = 0) {
    peer_.learn_synack(synack, opts);
    if (payload == 0) {
      peer_.send_ack();
    } else {
      peer_.send_data(payload);
    }
  }
};

TEST_F(TcpSynCookies, FullSynQueueAnswersWithACookieAndItsAckEstablishes) {
  auto listener = listen(kTcpLocalPort, 1);
  syn_from(kTcpPeerPort);  // takes the one place in the SYN queue
  EXPECT_EQ(counter("TcpExtSyncookiesSent"), 0u);

  const auto syn = peer_.syn();
  const auto cookie = syn_from(kOtherPort);
  EXPECT_EQ(cookie.ack(), kTcpPeerIss + 1);
  EXPECT_EQ(cookie.tcp.mss, 1460);
  EXPECT_EQ(cookie.tcp.window, 65160);  // as any SYN-ACK (tcp_openreq_init_rwin)
  EXPECT_EQ(cookie.tcp.window_scale, 7);
  EXPECT_TRUE(cookie.tcp.sack_permitted);
  ASSERT_TRUE(cookie.tcp.timestamps);
  EXPECT_EQ(cookie.tcp.timestamps->echo, syn.timestamps->value);
  EXPECT_EQ(counter("TcpExtSyncookiesSent"), 1u);
  EXPECT_EQ(counter("TcpExtTCPReqQFullDoCookies"), 1u);
  // Neither handshake has completed: nothing is opened yet.
  EXPECT_EQ(counter("TcpPassiveOpens"), 0u);

  complete(cookie);
  peer_.expect_none();
  EXPECT_EQ(counter("TcpExtSyncookiesRecv"), 1u);
  EXPECT_EQ(counter("TcpPassiveOpens"), 1u);  // the cookie's, at its ACK
  EXPECT_EQ(listener.pending(), 1u);
  auto conn = listener.accept();
  ASSERT_TRUE(conn);
  EXPECT_EQ(conn->state(), tcp::State::established);
  EXPECT_EQ(conn->remote_endpoint(), (Endpoint{kTcpPeer, kOtherPort}));
  // What the cookie and its timestamp kept.
  const tcp::Info info = conn->info();
  EXPECT_EQ(info.mss, 1448u);
  EXPECT_TRUE(info.window_scaling);
  EXPECT_TRUE(info.sack);
  EXPECT_TRUE(info.timestamps);
  EXPECT_EQ(info.snd_wnd, 1024u << 7);
  ASSERT_EQ(write(*conn, 10).value(), 10u);
  const auto data = peer_.expect(kTcpAck | kTcpPsh);
  EXPECT_EQ(data.seq(), cookie.seq() + 1);
  EXPECT_EQ(data.ack(), kTcpPeerIss + 1);
  EXPECT_EQ(data.tcp.window, 510);  // what the cookie SYN-ACK offered, 65160, in scale units
  peer_.ack(data);
  // Only the first connection's SYN-ACK is ever retransmitted (at 1 s and 3 s).
  peer_.run_for(5s);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(peer_.expect(kTcpSyn | kTcpAck).tcp.dst_port, kTcpPeerPort);
  peer_.expect_none();
}

TEST_F(TcpSynCookies, SysctlTwoSendsCookiesAlways) {
  sysctl("net.ipv4.tcp_syncookies", "2");
  auto listener = listen();
  const auto cookie = syn_from(kTcpPeerPort);
  EXPECT_EQ(counter("TcpExtSyncookiesSent"), 1u);
  EXPECT_EQ(counter("TcpExtTCPReqQFullDoCookies"), 0u);
  EXPECT_EQ(counter("TcpPassiveOpens"), 0u);
  // No state: no retransmission, and the same SYN gets the same cookie.
  peer_.run_for(5s);
  peer_.expect_none();
  peer_.send(peer_.syn());
  EXPECT_EQ(peer_.expect(kTcpSyn | kTcpAck).seq(), cookie.seq());
  complete(cookie);
  EXPECT_EQ(listener.pending(), 1u);
  EXPECT_EQ(counter("TcpExtSyncookiesRecv"), 1u);
}

// Data on the cookie-carrying ACK is queued for the reader (the SYN-ACK offered a
// window), as in Linux.
TEST_F(TcpSynCookies, AckCarryingDataIsDelivered) {
  sysctl("net.ipv4.tcp_syncookies", "2");
  auto listener = listen();
  const auto cookie = syn_from(kTcpPeerPort);
  complete(cookie, {}, 100);
  auto conn = listener.accept();
  ASSERT_TRUE(conn);
  EXPECT_EQ(read_all(*conn), pattern(100, 1));
}

struct CookieMss {
  std::uint16_t peer_mss;
  std::uint32_t kept;  // the largest of Linux's msstab not above it
};

class TcpSynCookieMss : public TcpSynCookies, public ::testing::WithParamInterface<CookieMss> {};

TEST_P(TcpSynCookieMss, WithoutTimestampsOnlyTheMssSurvives) {
  sysctl("net.ipv4.tcp_syncookies", "2");
  auto listener = listen();
  const PeerOptions opts{.mss = GetParam().peer_mss, .timestamps = false};
  const auto cookie = syn_from(kTcpPeerPort, opts);
  EXPECT_EQ(cookie.tcp.mss, 1460);
  EXPECT_EQ(cookie.tcp.window, 64240);     // whole segments of 1460
  EXPECT_FALSE(cookie.tcp.window_scale);  // nowhere to keep them
  EXPECT_FALSE(cookie.tcp.sack_permitted);
  EXPECT_FALSE(cookie.tcp.timestamps);
  complete(cookie, opts);
  auto conn = listener.accept();
  ASSERT_TRUE(conn);
  const tcp::Info info = conn->info();
  EXPECT_EQ(info.mss, GetParam().kept);
  EXPECT_FALSE(info.window_scaling || info.sack || info.timestamps);
  EXPECT_EQ(info.snd_wnd, 1024u);  // unscaled
}

INSTANTIATE_TEST_SUITE_P(Tcp, TcpSynCookieMss,
                         ::testing::Values(CookieMss{9000, 1460}, CookieMss{1460, 1460}, CookieMss{1440, 1440},
                                           CookieMss{1400, 1300}, CookieMss{1300, 1300}, CookieMss{1000, 536},
                                           CookieMss{536, 536}),
                         [](const auto& info) { return "Mss" + std::to_string(info.param.peer_mss); });

TEST_F(TcpSynCookies, ForgedAckGetsRst) {
  sysctl("net.ipv4.tcp_syncookies", "2");
  auto listener = listen();
  const auto cookie = syn_from(kTcpPeerPort);
  peer_.learn_synack(cookie);
  peer_.set_rcv_nxt(cookie.seq() + 12345);  // not the cookie
  peer_.send_ack();
  const auto rst = peer_.expect(kTcpRst);
  EXPECT_EQ(rst.seq(), cookie.seq() + 12345);
  EXPECT_EQ(counter("TcpExtSyncookiesFailed"), 1u);
  EXPECT_EQ(counter("TcpExtSyncookiesRecv"), 0u);
  EXPECT_EQ(listener.pending(), 0u);
}

TEST_F(TcpSynCookies, CookieIsStillGoodAMinuteLater) {
  sysctl("net.ipv4.tcp_syncookies", "2");
  auto listener = listen();
  const auto cookie = syn_from(kTcpPeerPort);
  peer_.run_for(100s);
  complete(cookie);
  peer_.expect_none();
  EXPECT_EQ(listener.pending(), 1u);
}

// A cookie 2 ticks old (64 s each) is refused, as Linux's check_tcp_syn_cookie does
// (MAX_SYNCOOKIE_AGE = 2): a cookie lives about two minutes at most.
TEST_F(TcpSynCookies, CookieExpiresAfterTwoTicks) {
  sysctl("net.ipv4.tcp_syncookies", "2");
  auto listener = listen();
  const auto cookie = syn_from(kTcpPeerPort);  // at t = 0: tick 0
  peer_.run_for(125s);
  // Another cookie keeps the listener's cookies recent (an ACK is checked
  // as a cookie only within 120 s of the last one sent).
  (void)syn_from(kTcpPeerPort + 1);
  peer_.run_for(5s);                            // t = 130 s: tick 2
  complete(cookie);
  EXPECT_EQ(peer_.expect(kTcpRst).seq(), cookie.seq() + 1);
  EXPECT_EQ(counter("TcpExtSyncookiesFailed"), 1u);
  EXPECT_EQ(listener.pending(), 0u);
}

// The cookie SYN-ACK's TSval is never ahead of the clock, so the peer's PAWS accepts the
// connection's later segments (Linux's cookie_init_timestamp subtracts 2^6 if needed).
TEST_F(TcpSynCookies, CookieTimestampIsNeverAheadOfTheClock) {
  sysctl("net.ipv4.tcp_syncookies", "2");
  auto listener = listen();
  // Without window scaling the options bits are 0x1f (of 0x3f): ahead unless the clock's are too.
  const PeerOptions opts{.window_scale = std::nullopt};
  const auto cookie = syn_from(kTcpPeerPort, opts);
  complete(cookie, opts);
  auto conn = listener.accept();
  ASSERT_TRUE(conn);
  ASSERT_EQ(write(*conn, 10).value(), 10u);
  const auto data = peer_.expect(kTcpAck | kTcpPsh);
  ASSERT_TRUE(cookie.tcp.timestamps && data.tcp.timestamps);
  EXPECT_GE(static_cast<std::int32_t>(data.tcp.timestamps->value - cookie.tcp.timestamps->value), 0)
      << "the connection's TSval went back from the cookie's";
}

// An ACK at a listener that has sent no cookie recently is not checked as a cookie: it just
// gets its RST (Linux's cookie_v4_check returns early on tcp_synq_no_recent_overflow).
TEST_F(TcpSynCookies, StrayAckIsNotACookieFailureWithoutRecentCookies) {
  auto listener = listen();
  peer_.send({.src_port = kTcpPeerPort, .dst_port = kTcpLocalPort, .seq_number = 1, .ack_number = 777,
              .flags = kTcpAck, .window = 100});
  EXPECT_EQ(peer_.expect(kTcpRst).seq(), 777u);
  EXPECT_EQ(counter("TcpExtSyncookiesFailed"), 0u);
}

TEST_F(TcpSynCookies, FullSynQueueWithoutCookiesDropsTheSyn) {
  sysctl("net.ipv4.tcp_syncookies", "0");
  auto listener = listen(kTcpLocalPort, 1);
  syn_from(kTcpPeerPort);
  peer_.set_self({kTcpPeer, kOtherPort});
  peer_.send(peer_.syn());
  peer_.expect_none();
  EXPECT_EQ(counter("TcpExtTCPReqQFullDrop"), 1u);
  EXPECT_EQ(counter("TcpExtListenDrops"), 1u);
}

// As Linux's sk_acceptq_is_full (sk_ack_backlog > sk_max_ack_backlog), the
// accept queue holds backlog + 1: listen(fd, 1) takes a second connection.
TEST_F(TcpSynCookies, FullAcceptQueueDropsSynsAtBacklogPlusOne) {
  auto listener = listen(kTcpLocalPort, 1);
  for (std::uint16_t i = 0; i < 2; ++i) {
    peer_.set_self({kTcpPeer, static_cast<std::uint16_t>(kTcpPeerPort + i)});
    peer_.connect();
  }
  EXPECT_EQ(listener.pending(), 2u);
  peer_.set_self({kTcpPeer, static_cast<std::uint16_t>(kTcpPeerPort + 2)});
  peer_.send(peer_.syn());
  peer_.expect_none();
  EXPECT_EQ(counter("TcpExtListenOverflows"), 1u);
  EXPECT_EQ(counter("TcpExtListenDrops"), 1u);
}

}  // namespace ipv4_tcp_syncookies_test
}  // namespace
}  // namespace netns
