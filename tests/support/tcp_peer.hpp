// A scripted remote TCP peer for packet-level tests (packetdrill and gVisor's
// checker in spirit): it sits on the far side of a channel device, injects
// exactly the segments a test writes and hands back exactly what the
// namespace answered, stamped with the virtual time it left.
//
//   TEST_F(TcpPeerTest, SynGetsSynAck) {
//     auto listener = listen();
//     peer_.send(peer_.syn());                          // default options
//     auto synack = peer_.expect(kTcpSyn | kTcpAck);    // fails the test if none
//     EXPECT_EQ(synack.tcp.ack_number, peer_.iss() + 1);
//     peer_.run_for(2s);                                // timers fire on the virtual clock
//     EXPECT_EQ(peer_.expect().at - synack.at, 1s);     // the first retransmission
//   }
//
// The peer keeps the little state a script needs to write the next segment
// (its sequence numbers, the namespace's, timestamps to echo, the windows)
// and the handshake helpers fill it in. send() never changes it: a test that
// writes a segment by hand says every number itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <ostream>
#include <source_location>
#include <span>
#include <string>
#include <vector>

#include <boost/system/errc.hpp>

#include "netns/clock.hpp"
#include "netns/device.hpp"
#include "netns/host.hpp"
#include "netns/tcp.hpp"
#include "netns/wire/ipv4.hpp"
#include "netns/wire/tcp.hpp"
#include "support/fixtures.hpp"
#include "support/ipv4_frames.hpp"

namespace netns::support {

using wire::kTcpAck;
using wire::kTcpFin;
using wire::kTcpPsh;
using wire::kTcpRst;
using wire::kTcpSyn;

inline const Ipv4Address kTcpLocal(192, 0, 2, 1);  // the namespace under test
inline const Ipv4Address kTcpPeer(192, 0, 2, 2);   // the scripted peer
inline const MacAddress kTcpPeerMac{0x02, 0, 0, 0, 0, 0x02};
inline constexpr std::uint16_t kTcpLocalPort = 80;
inline constexpr std::uint16_t kTcpPeerPort = 40000;
inline constexpr std::uint32_t kTcpPeerIss = 1'000'000;

// One TCP segment the namespace sent.
struct TcpSegment {
  wire::Ipv4Repr ip;
  wire::TcpRepr tcp;
  Bytes payload;
  Clock::time_point at{};  // the virtual time it left

  bool has(std::uint8_t flag) const { return (tcp.flags & flag) != 0; }
  std::uint32_t seq() const { return tcp.seq_number; }
  std::uint32_t ack() const { return tcp.ack_number; }
  // One past the sequence space it occupies (SYN and FIN count one each).
  std::uint32_t end() const;
};

// tcpdump's one-line form: "[S.] seq 1 ack 2 win 3 <mss 1460,sackOK,TS val 4 ecr 5,wscale 7> length 0".
std::string describe(const wire::TcpRepr& tcp);
void PrintTo(const TcpSegment& seg, std::ostream* os);

// What the peer offers in its SYN (or SYN-ACK).
struct PeerOptions {
  std::optional<std::uint16_t> mss = 1460;
  std::optional<std::uint8_t> window_scale = 7;
  bool sack_permitted = true;
  bool timestamps = true;
  std::uint16_t syn_window = 65535;  // the window of the SYN itself, never scaled
  // The window (unscaled, as on the wire) the peer advertises after the handshake.
  std::uint16_t window = 1024;
  // How long the peer's answers take in the handshake helpers: the
  // namespace measures it as its first RTT (RTO = rtt + 200 ms).
  Clock::duration rtt = std::chrono::milliseconds(10);
  // ECN (RFC 3168): a SYN asks with ECE|CWR, a SYN-ACK agrees with ECE.
  bool ecn = false;

  static PeerOptions none() {
    return {.mss = std::nullopt, .window_scale = std::nullopt, .sack_permitted = false, .timestamps = false};
  }
};

class TcpPeer {
 public:
  TcpPeer() = default;  // attach() before use
  // The peer at `self` on the wire of `dev`, talking to `remote` in the namespace.
  void attach(Host& host, VirtualClock& clock, ChannelDevice& dev, Endpoint self, Endpoint remote);

  // ---- the wire ----
  // Injects the segment (checksummed, in IPv4 and Ethernet) and polls.
  void send(const wire::TcpRepr& tcp, std::span<const std::byte> payload = {});
  // Injects `bytes` as the whole IP payload of a TCP datagram, however malformed.
  void send_raw(std::span<const std::byte> bytes);
  // An ICMP "fragmentation needed" (type 3 code 4) with next-hop `mtu`, from
  // the peer's address as from a router on the path, quoting `seg`'s IP
  // header and the first 8 bytes of its TCP header.
  void send_frag_needed(const TcpSegment& seg, std::uint16_t mtu);
  // The next segment the namespace sent; an added failure naming `where` when there is none.
  TcpSegment expect(std::source_location where = std::source_location::current());
  // The same, and its flags must be exactly `flags`.
  TcpSegment expect(std::uint8_t flags, std::source_location where = std::source_location::current());
  // Fails the test, naming what was sent, unless the namespace is silent.
  void expect_none(std::source_location where = std::source_location::current());
  // Segments sent and not yet taken by expect().
  std::size_t pending();

  // ---- virtual time ----
  // Runs the Host until `span` has passed, deadline by deadline, so that
  // each segment is stamped with the exact time its timer fired.
  void run_for(Clock::duration span);
  void run_until(Clock::time_point end);
  // Runs virtual time until the namespace sends a segment, at most `limit`,
  // and expect()s it: for answering each timer-driven segment as it comes.
  TcpSegment expect_within(Clock::duration limit,
                           std::source_location where = std::source_location::current());
  Clock::time_point now() const { return clock_->now(); }

  // ---- segments from the peer's state ----
  // A SYN at iss() with `opts`.
  wire::TcpRepr syn(const PeerOptions& opts = {}) const;
  // A segment at snd_nxt() acknowledging rcv_nxt() (when `flags` has ACK),
  // with the peer's window and, once negotiated, timestamps.
  wire::TcpRepr segment(std::uint8_t flags = kTcpAck) const;
  // Sends `payload` at snd_nxt() and moves snd_nxt() past it.
  void send_data(std::span<const std::byte> payload, std::uint8_t flags = kTcpAck | kTcpPsh);
  void send_data(std::size_t size, std::uint8_t flags = kTcpAck | kTcpPsh);
  void send_ack() { send(segment()); }
  void send_fin();  // FIN|ACK at snd_nxt(), which moves past it
  // Takes `seg` as received (rcv_nxt() moves to its end) and ACKs it.
  void ack(const TcpSegment& seg);

  // ---- handshakes ----
  // The peer opens: SYN, the namespace's SYN-ACK (checked and returned), ACK.
  TcpSegment connect(const PeerOptions& opts = {},
                     std::source_location where = std::source_location::current());
  // The namespace's SYN (tcp::connect sent it, asking for ECN or not),
  // checked; the peer talks to its port from now on.
  TcpSegment take_syn(std::source_location where = std::source_location::current());
  // The namespace opened (tcp::connect already sent its SYN): the peer takes
  // the SYN (checked and returned), answers SYN-ACK and takes the ACK.
  TcpSegment accept(const PeerOptions& opts = {},
                    std::source_location where = std::source_location::current());
  // What the SYN or SYN-ACK from the namespace fixes: its ISS and options.
  void learn_syn(const TcpSegment& syn, const PeerOptions& opts);
  // learn_syn() for the SYN-ACK answering the peer's SYN(opts): the peer's
  // SYN is acknowledged, so snd_nxt() is iss() + 1. The ACK is the caller's.
  void learn_synack(const TcpSegment& synack, const PeerOptions& opts = {});

  // ---- state ----
  Endpoint self() const { return self_; }
  Endpoint remote() const { return remote_; }
  void set_self(Endpoint e) { self_ = e; }
  void set_remote(Endpoint e) { remote_ = e; }
  std::uint32_t iss() const { return iss_; }
  void set_iss(std::uint32_t iss) { iss_ = snd_nxt_ = iss; }
  std::uint32_t snd_nxt() const { return snd_nxt_; }
  void set_snd_nxt(std::uint32_t seq) { snd_nxt_ = seq; }
  std::uint32_t rcv_nxt() const { return rcv_nxt_; }
  void set_rcv_nxt(std::uint32_t seq) { rcv_nxt_ = seq; }
  std::uint32_t remote_iss() const { return remote_iss_; }
  std::uint16_t window() const { return window_; }
  void set_window(std::uint16_t w) { window_ = w; }
  // The ECN field of the peer's datagrams from now on: ECT as an ECN
  // sender marks them, CE as a congested router leaves them.
  void set_ecn(wire::Ecn ecn) { ecn_ = ecn; }
  // The peer's TSval now: its own millisecond clock, far from the namespace's.
  std::uint32_t tsval() const;
  // The last TSval the namespace sent, which the peer echoes.
  std::uint32_t ts_recent() const { return ts_recent_; }
  bool timestamps() const { return timestamps_; }
  // The namespace's window scale, for reading its windows.
  std::uint8_t remote_wscale() const { return remote_wscale_; }

 private:
  void poll();
  void drain();
  // run_until(), or until a segment is sent when `stop_at_segment`.
  void run(Clock::time_point end, bool stop_at_segment);

  Host* host_ = nullptr;
  VirtualClock* clock_ = nullptr;
  ChannelDevice* dev_ = nullptr;
  Endpoint self_, remote_;
  std::deque<TcpSegment> received_;
  std::uint32_t iss_ = kTcpPeerIss, snd_nxt_ = kTcpPeerIss, rcv_nxt_ = 0, remote_iss_ = 0;
  std::uint16_t window_ = 1024;
  wire::Ecn ecn_ = wire::Ecn::not_ect;
  std::uint32_t ts_recent_ = 0;
  bool timestamps_ = false;
  std::uint8_t remote_wscale_ = 0;
};

// One namespace "dut" with a channel device eth0 at 192.0.2.1/24 (up, lo up,
// the peer 192.0.2.2 a permanent neighbour) and a TcpPeer at 192.0.2.2:40000
// talking to port 80.
class TcpPeerTest : public HostTest {
 protected:
  void SetUp() override;

  tcp::Listener listen(std::uint16_t port = kTcpLocalPort, int backlog = 128);
  // The peer connects to `listener` and the namespace accepts.
  tcp::Stream accept_peer(tcp::Listener& listener, const PeerOptions& opts = {});
  // The namespace connects to the peer, which accepts.
  tcp::Stream connect_peer(const PeerOptions& opts = {});
  // A listener on port 80 and one connection from the peer, accepted.
  tcp::Stream established(const PeerOptions& opts = {});

  std::uint64_t counter(std::string_view name) const { return net_->counters().get(name); }
  // The stream's connection is over and read() reports `error` (timed_out, connection_reset...).
  void expect_failed(tcp::Stream& s, boost::system::errc::errc_t error,
                     std::source_location where = std::source_location::current());
  // The stream lives until `at` and there gives up: timed_out, TcpExtTCPAbortOnTimeout.
  void expect_timeout_at(tcp::Stream& s, Clock::time_point at,
                         std::source_location where = std::source_location::current());
  void sysctl(std::string_view name, std::string_view value);
  Result<std::size_t> write(tcp::Stream& s, std::size_t size);
  // Everything readable now.
  Bytes read_all(tcp::Stream& s);

  NetRef net_;
  ChannelDevice* eth0_ = nullptr;
  TcpPeer peer_;
  tcp::Listener listener_;  // established()'s
};

// `size` bytes counting up from `seed`, to check payloads byte for byte.
Bytes pattern(std::size_t size, std::uint8_t seed = 0);

}  // namespace netns::support
