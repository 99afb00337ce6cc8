// One TCP connection driven deep by a scripted peer. "dut" has a channel
// eth0 (192.0.2.1/24); the peer at 192.0.2.2 is a permanent neighbour. The
// first bytes choose who opens and the options the peer offers (MSS, window
// scale, SACK, timestamps); then each step is one thing the peer or the
// application does. The peer tracks both sequence spaces, so its segments
// land in the window, acknowledge what was sent and SACK real ranges, and
// the input can still step outside: holes, old data, stray SYNs and RSTs,
// raw option bytes, zero windows and timers on the virtual clock.
#include <algorithm>
#include <array>
#include <optional>

#include "fuzz/driver.hpp"
#include "fuzz/targets.hpp"
#include "netns/ipv4.hpp"
#include "netns/tcp.hpp"
#include "netns/wire/bytes.hpp"
#include "netns/wire/ethernet.hpp"
#include "netns/wire/tcp.hpp"
#include "support/ipv4_frames.hpp"

namespace netns::fuzz {

namespace {

using wire::kTcpAck;
using wire::kTcpFin;
using wire::kTcpPsh;
using wire::kTcpRst;
using wire::kTcpSyn;

constexpr std::size_t kMaxSteps = 300;
const Ipv4Address kDut(192, 0, 2, 1);
const Ipv4Address kPeer(192, 0, 2, 2);
const MacAddress kPeerMac{0x02, 0, 0, 0, 0, 0x02};

bool after(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b) > 0; }

class Peer {
 public:
  Peer(Lab& lab, ChannelDevice& dev, Endpoint self, Endpoint remote)
      : lab_(lab), dev_(dev), self_(self), remote_(remote) {}

  void set_iss(std::uint32_t iss) { snd_nxt_ = snd_max_ = iss; }
  void offer(Input& in) {
    const std::uint8_t o = in.u8();
    if (o & 1) mss_ = static_cast<std::uint16_t>(in.u16() % 9000);
    if (o & 2) wscale_ = static_cast<std::uint8_t>(in.u8() % 16);
    sack_ = (o & 4) != 0;
    timestamps_ = (o & 8) != 0;
    window_ = (o & 16) ? in.u16() : 65535;
  }

  // The handshake's segments: the options offered, only there.
  void send_syn(std::uint8_t flags) {
    wire::TcpRepr t = base(flags);
    t.seq_number = snd_nxt_;
    t.mss = mss_;
    t.window_scale = wscale_;
    t.sack_permitted = sack_;
    if (!timestamps_) t.timestamps.reset();
    send(t, {});
    snd_nxt_ = snd_max_ = snd_nxt_ + 1;
  }

  // A segment at `seq` acknowledging `ack`, with timestamps once negotiated.
  wire::TcpRepr base(std::uint8_t flags) const {
    wire::TcpRepr t;
    t.src_port = self_.port;
    t.dst_port = remote_.port;
    t.seq_number = snd_nxt_;
    t.ack_number = rcv_nxt_;
    t.flags = flags;
    t.window = window_;
    if (timestamps_) t.timestamps = wire::TcpTimestamps{tsval(), ts_recent_};
    return t;
  }

  void send(const wire::TcpRepr& tcp, std::span<const std::byte> payload) {
    wire::TcpRepr repr = tcp;
    repr.payload_len = payload.size();
    support::Bytes segment(repr.buffer_len());
    std::copy(payload.begin(), payload.end(), segment.begin() + static_cast<std::ptrdiff_t>(repr.header_len()));
    repr.emit(segment, self_.address.to_v4(), remote_.address.to_v4());
    inject(segment);
    if (after(repr.seq_number + static_cast<std::uint32_t>(payload.size()), snd_max_)) {
      snd_max_ = repr.seq_number + static_cast<std::uint32_t>(payload.size());
    }
  }

  // Whatever bytes as the TCP part of a datagram from the peer.
  void inject(std::span<const std::byte> segment) {
    dev_.inject(support::ipv4_frame(dev_.mac(), kPeerMac,
                                    {.src = self_.address.to_v4(), .dst = remote_.address.to_v4(),
                                     .protocol = wire::IpProtocol::tcp, .dont_fragment = true},
                                    segment));
  }

  // Takes what the namespace sent: the peer accepts in-order data (so its
  // ACKs move on) and remembers the furthest byte it saw for SACKs.
  void receive() {
    while (auto frame = dev_.read()) {
      auto eth = wire::EthernetView::checked(*frame);
      if (!eth || eth->ethertype() != wire::EtherType::ipv4) continue;
      auto ip = wire::Ipv4View::checked(eth->payload());
      if (!ip || ip->protocol() != wire::IpProtocol::tcp) continue;
      auto view = wire::TcpView::checked(ip->payload());
      if (!view) fail("tcp_session: the namespace sent a TCP segment shorter than its header");
      auto tcp = wire::TcpRepr::parse(*view, ip->src(), ip->dst());
      if (!tcp) fail("tcp_session: the namespace sent a TCP segment with a bad checksum or option");
      take(*tcp, view->payload().size());
    }
  }

  // One step of the script.
  void step(Input& in) {
    switch (in.pick(10)) {
      case 0:
      case 1:
        send_data(in.bytes(3000), snd_nxt_, true);
        break;
      case 2:  // out of order, leaving a hole
        send_data(in.bytes(1500), snd_nxt_ + 1 + in.u16() % std::max<std::uint32_t>(window_ << wscale(), 1),
                  false);
        break;
      case 3:  // old data again, overlapping what was sent
        send_data(in.bytes(1500), snd_max_ - in.u16() % 4096, false);
        break;
      case 4:
        send_ack(in);
        break;
      case 5:
        window_ = in.flag() ? 0 : in.u16();
        send_ack(in);
        break;
      case 6: {
        wire::TcpRepr t = base(kTcpFin | kTcpAck);
        send(t, {});
        snd_nxt_ += 1;
        break;
      }
      case 7:
        send_stray(in);
        break;
      case 8:
        send_raw_options(in);
        break;
      default:
        lab_.advance(std::chrono::milliseconds(in.u16()) * (in.flag() ? 16 : 1));
        break;
    }
  }

 private:
  std::uint8_t wscale() const { return wscale_ ? std::min<std::uint8_t>(*wscale_, 14) : 0; }
  std::uint32_t tsval() const {
    return 7'000'000u + static_cast<std::uint32_t>(lab_.now().time_since_epoch() / std::chrono::milliseconds(1));
  }

  void take(const wire::TcpRepr& tcp, std::size_t payload) {
    if (tcp.timestamps) ts_recent_ = tcp.timestamps->value;
    remote_.port = tcp.src_port;
    std::uint32_t seq = tcp.seq_number;
    if (tcp.flags & kTcpSyn) {
      rcv_nxt_ = seq + 1;
      seq += 1;
      seen_ = rcv_nxt_;
    }
    const std::uint32_t end = seq + static_cast<std::uint32_t>(payload) + ((tcp.flags & kTcpFin) ? 1 : 0);
    if (!after(seq, rcv_nxt_) && after(end, rcv_nxt_)) rcv_nxt_ = end;
    if (after(end, seen_)) seen_ = end;
  }

  void send_data(std::span<const std::byte> payload, std::uint32_t seq, bool advance) {
    wire::TcpRepr t = base(kTcpAck | kTcpPsh);
    t.seq_number = seq;
    send(t, payload);
    if (advance) snd_nxt_ = seq + static_cast<std::uint32_t>(payload.size());
  }

  // An ACK anywhere from far behind to what was sent, with SACK blocks over
  // what the namespace sent past it.
  void send_ack(Input& in) {
    wire::TcpRepr t = base(kTcpAck);
    const std::uint32_t span = seen_ - rcv_nxt_;
    if (in.flag()) t.ack_number = rcv_nxt_ - in.u16() % 8192;
    const std::size_t blocks = sack_ ? in.pick(5) : 0;
    for (std::size_t i = 0; i < blocks; ++i) {
      const std::uint32_t left = rcv_nxt_ + static_cast<std::uint32_t>(in.u16()) % (span + 1);
      const std::uint32_t right = left + 1 + static_cast<std::uint32_t>(in.u16()) % (seen_ - left + 1);
      t.sack_blocks[i] = {left, right};
    }
    t.sack_block_count = blocks;
    send(t, {});
  }

  // A segment the connection does not expect: a SYN, an RST, odd flags, at
  // a sequence number near the window or anywhere.
  void send_stray(Input& in) {
    wire::TcpRepr t = base(in.u8());
    const std::uint8_t where = in.u8();
    if (where & 1) t.seq_number = snd_nxt_ + static_cast<std::uint32_t>(static_cast<std::int16_t>(in.u16()));
    if (where & 2) t.ack_number = in.u32();
    if (where & 4) t.flags = kTcpRst | (t.flags & kTcpAck);
    if (where & 8) t.flags = kTcpSyn | (t.flags & kTcpAck);
    send(t, in.bytes(200));
  }

  // A header written by hand with the input's option bytes.
  void send_raw_options(Input& in) {
    auto options = in.bytes(40);
    const std::size_t header = 20 + (options.size() + 3) / 4 * 4;
    auto payload = in.bytes(600);
    support::Bytes seg(header + payload.size());
    wire::store_be16(seg, 0, self_.port);
    wire::store_be16(seg, 2, remote_.port);
    wire::store_be32(seg, 4, snd_nxt_);
    wire::store_be32(seg, 8, rcv_nxt_);
    seg[12] = std::byte(header / 4 << 4);
    seg[13] = std::byte(in.flag() ? kTcpAck | kTcpPsh : in.u8());
    wire::store_be16(seg, 14, window_);
    std::copy(options.begin(), options.end(), seg.begin() + 20);
    std::copy(payload.begin(), payload.end(), seg.begin() + static_cast<std::ptrdiff_t>(header));
    auto frame = support::ipv4_frame(dev_.mac(), kPeerMac,
                                     {.src = self_.address.to_v4(), .dst = remote_.address.to_v4(),
                                      .protocol = wire::IpProtocol::tcp, .dont_fragment = true},
                                     seg);
    fix_checksums(frame);
    dev_.inject(frame);
  }

  Lab& lab_;
  ChannelDevice& dev_;
  Endpoint self_, remote_;
  std::uint32_t snd_nxt_ = 0, snd_max_ = 0;  // the peer's own sequence space
  std::uint32_t rcv_nxt_ = 0, seen_ = 0;     // the namespace's: in order, and the furthest seen
  std::uint32_t ts_recent_ = 0;
  std::optional<std::uint16_t> mss_;
  std::optional<std::uint8_t> wscale_;
  bool sack_ = false, timestamps_ = false;
  std::uint16_t window_ = 65535;
};

// What the application does with its end: write, read, half-close, close.
void application_step(Input& in, std::optional<tcp::Stream>& stream, tcp::Listener& listener) {
  std::array<std::byte, 4096> buffer{};
  if (!stream) {
    if (auto s = listener.accept()) stream.emplace(std::move(*s));
    return;
  }
  switch (in.pick(8)) {
    case 0:
    case 1:
      (void)stream->write(in.bytes(8000));
      break;
    case 2:
    case 3:
      (void)stream->read(buffer);
      break;
    case 4:
      (void)stream->shutdown();
      break;
    case 5:
      stream->set_nodelay(in.flag());
      stream->set_keepalive(in.flag());
      break;
    case 6:
      (void)stream->info();
      break;
    default:
      if (in.flag()) stream->abort(); else stream->close();
      break;
  }
}

}  // namespace

void tcp_session(std::span<const std::uint8_t> data) {
  Input in(data);
  Lab lab;
  {
    auto dut = lab.host().create_net("dut");
    if (!dut) fail("tcp_session: no namespace");
    auto eth0 = make_channel(**dut, "eth0");
    if (!eth0 || !set_link_up(**eth0) || !set_link_up((*dut)->loopback()) ||
        !ipv4::add_address(**dut, **eth0, Ipv4Prefix(kDut, 24)) ||
        !ipv4::add_neighbour(**dut, **eth0, kPeer, kPeerMac)) {
      fail("tcp_session: the namespace could not be built");
    }
    const bool active = in.flag();
    const std::uint16_t peer_port = static_cast<std::uint16_t>(40000 + in.u8());
    Peer peer(lab, **eth0, {kPeer, active ? std::uint16_t{80} : peer_port}, {kDut, 80});
    peer.set_iss(in.u32());
    peer.offer(in);
    auto listener = tcp::listen(**dut, {Ipv4Address::any(), 80});
    if (!listener) fail("tcp_session: no listener");
    std::optional<tcp::Stream> stream;
    if (active) {
      // The namespace opens to port 80; the peer learns its port from the SYN.
      auto s = tcp::connect(**dut, {kPeer, 80});
      if (!s) fail("tcp_session: connect failed");
      stream.emplace(std::move(*s));
      lab.poll();
      peer.receive();
      peer.send_syn(kTcpSyn | kTcpAck);
    } else {
      peer.send_syn(kTcpSyn);
      lab.poll();
      peer.receive();
      peer.send(peer.base(kTcpAck), {});
    }
    lab.poll();
    peer.receive();
    for (std::size_t step = 0; step < kMaxSteps && !in.empty(); ++step) {
      if (in.pick(3) == 0) {
        application_step(in, stream, *listener);
      } else {
        peer.step(in);
      }
      lab.poll();
      peer.receive();
    }
  }
  lab.finish();
}

}  // namespace netns::fuzz

NETNS_FUZZ_TARGET(tcp_session)
