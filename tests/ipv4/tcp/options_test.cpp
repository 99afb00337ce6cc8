// TCP options on the wire: what each side of a handshake offers and what
// the connection then uses (RFC 7323 window scaling and timestamps, RFC 2018
// SACK, the MSS with Linux's tcp_min_snd_mss floor).
#include <chrono>
#include <string_view>

#include <gtest/gtest.h>

#include "netns/tcp.hpp"
#include "support/tcp_peer.hpp"

namespace netns {
namespace {
namespace ipv4_tcp_options_test {

using namespace std::chrono_literals;
using namespace support;

struct Negotiation {
  const char* name;
  PeerOptions peer;                // what the peer offers
  const char* sysctl = nullptr;    // turned off in the namespace
  bool ws = true, sack = true, ts = true;  // what the connection then uses

  friend void PrintTo(const Negotiation& n, std::ostream* os) { *os << n.name; }
};

const Negotiation kNegotiations[] = {
    {"Everything", {}},
    {"PeerWithoutWindowScale", {.window_scale = std::nullopt}, nullptr, false, true, true},
    {"PeerWithoutSack", {.sack_permitted = false}, nullptr, true, false, true},
    {"PeerWithoutTimestamps", {.timestamps = false}, nullptr, true, true, false},
    {"PeerWithoutAnyOption", PeerOptions::none(), nullptr, false, false, false},
    {"WindowScalingSysctlOff", {}, "net.ipv4.tcp_window_scaling", false, true, true},
    {"SackSysctlOff", {}, "net.ipv4.tcp_sack", true, false, true},
    {"TimestampsSysctlOff", {}, "net.ipv4.tcp_timestamps", true, true, false},
};

class TcpOptionNegotiation : public TcpPeerTest, public ::testing::WithParamInterface<Negotiation> {
 protected:
  void SetUp() override {
    TcpPeerTest::SetUp();
    if (GetParam().sysctl != nullptr) sysctl(GetParam().sysctl, "0");
  }
  bool offered(std::string_view sysctl_name) const {
    return GetParam().sysctl == nullptr || GetParam().sysctl != sysctl_name;
  }

  // The connection uses what was negotiated, and its segments show it.
  // `snd_wnd`: the window the peer last advertised, in bytes; `offered`:
  // the window of our SYN or SYN-ACK.
  void expect_negotiated(tcp::Stream& conn, std::uint32_t snd_wnd, std::uint32_t offered) {
    const Negotiation& n = GetParam();
    const tcp::Info info = conn.info();
    EXPECT_EQ(info.window_scaling, n.ws);
    EXPECT_EQ(info.sack, n.sack);
    EXPECT_EQ(info.timestamps, n.ts);
    // Without an MSS option the peer's is 536 (RFC 9293 3.7.1); timestamps take 12 bytes of it.
    EXPECT_EQ(info.mss, n.peer.mss.value_or(536) - (n.ts ? 12u : 0u));
    EXPECT_EQ(info.snd_wnd, snd_wnd);

    ASSERT_EQ(write(conn, 10).value(), 10u);
    const auto data = peer_.expect(kTcpAck | kTcpPsh);
    // Never less than the handshake offered: rounded up to the 128-byte
    // scale unit, or as it was (Linux's tcp_select_window).
    EXPECT_EQ(data.tcp.window, n.ws ? (offered + 127) / 128 : offered);
    EXPECT_EQ(data.tcp.timestamps.has_value(), n.ts);
    if (n.ts && data.tcp.timestamps) {
      EXPECT_EQ(data.tcp.timestamps->echo, peer_.tsval());
    }
    EXPECT_FALSE(data.tcp.mss || data.tcp.window_scale || data.tcp.sack_permitted);  // SYN-only options
  }
};

TEST_P(TcpOptionNegotiation, Passive) {
  const Negotiation& n = GetParam();
  auto listener = listen();
  const auto synack = peer_.connect(n.peer);
  // A SYN-ACK carries only what the SYN offered and the sysctls allow; the MSS always.
  EXPECT_EQ(synack.tcp.mss, 1460);
  EXPECT_EQ(synack.tcp.window_scale, n.ws ? std::optional<std::uint8_t>(7) : std::nullopt);
  EXPECT_EQ(synack.tcp.sack_permitted, n.sack);
  EXPECT_EQ(synack.tcp.timestamps.has_value(), n.ts);
  // Whole segments of 1460 less the timestamps when they are on (Linux's
  // tcp_openreq_init_rwin): 45 x 1448 or 44 x 1460.
  EXPECT_EQ(synack.tcp.window, n.ts ? 65160 : 64240);
  auto conn = listener.accept();
  ASSERT_TRUE(conn);
  // The final ACK's window, scaled when both sides scale.
  expect_negotiated(*conn, std::uint32_t{n.peer.window} << (n.ws ? *n.peer.window_scale : 0), synack.tcp.window);
}

TEST_P(TcpOptionNegotiation, Active) {
  auto conn = tcp::connect(*net_, peer_.self()).value();
  const auto syn = peer_.accept(GetParam().peer);
  // A SYN offers whatever the sysctls allow.
  EXPECT_EQ(syn.tcp.mss, 1460);
  EXPECT_EQ(syn.tcp.window_scale,
            offered("net.ipv4.tcp_window_scaling") ? std::optional<std::uint8_t>(7) : std::nullopt);
  EXPECT_EQ(syn.tcp.sack_permitted, offered("net.ipv4.tcp_sack"));
  EXPECT_EQ(syn.tcp.timestamps.has_value(), offered("net.ipv4.tcp_timestamps"));
  EXPECT_EQ(syn.tcp.window, 64240);  // whole segments of 1460, timestamps or not (tcp_connect_init)
  expect_negotiated(conn, GetParam().peer.syn_window, syn.tcp.window);  // the SYN-ACK's, never scaled
}

INSTANTIATE_TEST_SUITE_P(Tcp, TcpOptionNegotiation, ::testing::ValuesIn(kNegotiations),
                         [](const auto& info) { return std::string(info.param.name); });

using TcpWindowScale = TcpPeerTest;

TEST_F(TcpWindowScale, ShiftAbove14IsTakenAs14) {
  auto conn = established({.window_scale = 15, .window = 2});
  EXPECT_EQ(conn.info().snd_wnd, 2u << 14);  // RFC 7323 2.3: "MUST use 14 instead"
}

// ---- the MSS we send with ----

struct MssCase {
  std::optional<std::uint16_t> peer_mss;
  bool timestamps;
  std::uint32_t segment;  // payload bytes per full segment
};

class TcpSendMss : public TcpPeerTest, public ::testing::WithParamInterface<MssCase> {};

TEST_P(TcpSendMss, SegmentsAreCutToThePeersMssAboveTheFloor) {
  const MssCase& c = GetParam();
  auto conn = established({.mss = c.peer_mss, .timestamps = c.timestamps});
  EXPECT_EQ(conn.info().mss, c.segment);
  conn.set_nodelay(true);
  const std::size_t total = 2 * c.segment + 7;
  ASSERT_EQ(write(conn, total).value(), total);
  const Bytes sent = pattern(total);
  std::size_t offset = 0;
  std::uint32_t seq = peer_.rcv_nxt();
  for (std::size_t len : {std::size_t{c.segment}, std::size_t{c.segment}, std::size_t{7}}) {
    const auto seg = peer_.expect();
    EXPECT_EQ(seg.seq(), seq);
    ASSERT_EQ(seg.payload.size(), len);
    EXPECT_TRUE(std::equal(seg.payload.begin(), seg.payload.end(), sent.begin() + static_cast<std::ptrdiff_t>(offset)));
    offset += len;
    seq += static_cast<std::uint32_t>(len);
  }
  peer_.expect_none();
}

INSTANTIATE_TEST_SUITE_P(
    Tcp, TcpSendMss,
    ::testing::Values(MssCase{1460, true, 1448}, MssCase{1460, false, 1460}, MssCase{1000, true, 988},
                      MssCase{std::nullopt, true, 524}, MssCase{std::nullopt, false, 536},
                      // Linux's tcp_parse_options ignores an MSS of 0: the default 536 holds.
                      MssCase{0, true, 524}, MssCase{0, false, 536},
                      // tcp_min_snd_mss (48) is the floor for a peer's tiny MSS (CVE-2019-11479).
                      MssCase{1, true, 36}, MssCase{1, false, 48}, MssCase{20, true, 36},
                      MssCase{20, false, 48}),
    [](const auto& info) {
      return "Mss" + (info.param.peer_mss ? std::to_string(*info.param.peer_mss) : std::string("None")) +
             (info.param.timestamps ? "WithTimestamps" : "");
    });

using TcpMinSndMss = TcpPeerTest;

TEST_F(TcpMinSndMss, SysctlRaisesTheFloor) {
  sysctl("net.ipv4.tcp_min_snd_mss", "500");
  auto conn = established({.mss = 100});
  EXPECT_EQ(conn.info().mss, 488u);
  conn.set_nodelay(true);
  ASSERT_EQ(write(conn, 600).value(), 600u);
  EXPECT_EQ(peer_.expect().payload.size(), 488u);
  EXPECT_EQ(peer_.expect().payload.size(), 112u);
}

// ---- timestamps in an established connection ----

using TcpTimestampEcho = TcpPeerTest;

TEST_F(TcpTimestampEcho, DelayedAckEchoesTheEarliestUnacknowledgedTsval) {
  auto conn = established();
  const std::uint32_t first_tsval = peer_.tsval();
  peer_.send_data(100);
  peer_.run_for(5ms);
  peer_.send_data(100);  // a second segment: the ACK goes now
  const auto ack = peer_.expect(kTcpAck);
  EXPECT_EQ(ack.ack(), kTcpPeerIss + 1 + 200);
  ASSERT_TRUE(ack.tcp.timestamps);
  // RFC 7323 4.3: TS.Recent moves only for a segment at or before Last.ACK.sent.
  EXPECT_EQ(ack.tcp.timestamps->echo, first_tsval);
}

TEST_F(TcpTimestampEcho, TsvalAdvancesWithTheClockInMilliseconds) {
  auto conn = established();
  conn.set_nodelay(true);
  ASSERT_TRUE(write(conn, 1));
  const auto a = peer_.expect();
  peer_.ack(a);
  peer_.run_for(1234ms);
  ASSERT_TRUE(write(conn, 1));
  const auto b = peer_.expect();
  ASSERT_TRUE(a.tcp.timestamps && b.tcp.timestamps);
  EXPECT_EQ(b.tcp.timestamps->value - a.tcp.timestamps->value, 1234u);
}

}  // namespace ipv4_tcp_options_test
}  // namespace
}  // namespace netns
