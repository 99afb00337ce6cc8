// IPv4 fragments to a namespace with a UDP socket on port 7 and a ping
// socket: "dut" has a channel eth0 (192.0.2.1/24). Each step sends one
// fragment written by the input (id, source, protocol, offset, MF, bytes),
// or cuts a whole datagram with valid checksums at the input's offsets and
// sends the pieces in the input's order, duplicated or overlapping, so
// reassembly both fails every way and succeeds; time passes (the 30 s
// reassembly timeout) and the sockets are read.
#include <array>
#include <vector>

#include "fuzz/driver.hpp"
#include "fuzz/targets.hpp"
#include "netns/icmp.hpp"
#include "netns/ipv4.hpp"
#include "netns/udp.hpp"
#include "netns/wire/ethernet.hpp"
#include "netns/wire/icmp.hpp"
#include "netns/wire/ipv4.hpp"
#include "netns/wire/udp.hpp"
#include "support/ipv4_frames.hpp"

namespace netns::fuzz {

namespace {

constexpr std::size_t kMaxSteps = 200;
constexpr std::size_t kMaxPieces = 48;
const Ipv4Address kDut(192, 0, 2, 1);
const std::array kSources{Ipv4Address(192, 0, 2, 2), Ipv4Address(192, 0, 2, 3), Ipv4Address(198, 51, 100, 9)};
const MacAddress kRemoteMac{0x02, 0, 0, 0, 0, 0x02};

struct Fragment {
  Ipv4Address src;
  wire::IpProtocol protocol;
  std::uint16_t id;
  std::uint16_t offset;  // bytes, a multiple of 8
  bool more;
};

void send_fragment(ChannelDevice& eth0, const Fragment& f, std::span<const std::byte> bytes) {
  support::Bytes frame(wire::EthernetRepr::kHeaderLen + wire::Ipv4Repr::kHeaderLen + bytes.size());
  wire::EthernetRepr{eth0.mac(), kRemoteMac, wire::EtherType::ipv4}.emit(frame);
  auto ip = std::span(frame).subspan(wire::EthernetRepr::kHeaderLen);
  wire::Ipv4Repr{.src = f.src, .dst = kDut, .protocol = f.protocol, .payload_len = bytes.size(),
                 .identification = f.id, .more_fragments = f.more, .fragment_offset = f.offset}
      .emit(ip);
  std::copy(bytes.begin(), bytes.end(), ip.begin() + wire::Ipv4Repr::kHeaderLen);
  eth0.inject(frame);
}

Fragment pick_fragment(Input& in) {
  const std::uint8_t shape = in.u8();
  return {.src = kSources[shape % kSources.size()],
          .protocol = (shape & 4) ? wire::IpProtocol::icmp : (shape & 8) ? wire::IpProtocol{in.u8()}
                                                                         : wire::IpProtocol::udp,
          .id = static_cast<std::uint16_t>((shape & 16) ? in.u16() : (shape >> 5)),
          .offset = 0,
          .more = false};
}

// A UDP datagram to port 7 or an echo request, checksummed, as IP payload.
support::Bytes whole_datagram(Input& in, const Fragment& f) {
  const std::size_t size = 8 + in.u16() % 6000;
  support::Bytes out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = std::byte(i * 7);
  if (f.protocol == wire::IpProtocol::icmp) {
    wire::IcmpRepr::echo_request(in.u16(), in.u16(), size - 8).emit(out);
  } else {
    wire::UdpRepr{in.u16(), 7, size - 8}.emit(out, f.src, kDut);
  }
  return out;
}

// Cuts at multiples of 8 the input chooses, then sends each piece once or
// more, each at an offset that may overlap its neighbour's.
void send_split(Input& in, ChannelDevice& eth0) {
  Fragment f = pick_fragment(in);
  const support::Bytes datagram = whole_datagram(in, f);
  struct Piece { std::size_t from, to; };
  std::vector<Piece> pieces;
  for (std::size_t at = 0; at < datagram.size() && pieces.size() < kMaxPieces;) {
    const std::size_t len = std::min<std::size_t>(datagram.size() - at, 8 * (1 + in.u8() % 185));
    pieces.push_back({at, at + len});
    at += len;
  }
  const std::size_t sends = in.pick(kMaxPieces) + pieces.size();
  for (std::size_t i = 0; i < sends && i < 2 * kMaxPieces; ++i) {
    // The first pass goes in the input's order; later ones repeat pieces.
    const Piece p = pieces[i < pieces.size() ? (i + in.pick(pieces.size())) % pieces.size() : in.pick(pieces.size())];
    const std::size_t overlap = in.flag() ? 8 * in.pick(4) : 0;
    const std::size_t from = p.from >= overlap ? p.from - overlap : p.from;
    f.offset = static_cast<std::uint16_t>(from);
    f.more = p.to < datagram.size();
    send_fragment(eth0, f, std::span(datagram).subspan(from, p.to - from));
  }
}

void read_sockets(udp::Socket& udp, icmp::EchoSocket& ping) {
  std::array<std::byte, 8192> buffer{};
  while (udp.receive_from(buffer)) {
  }
  while (ping.receive()) {
  }
}

}  // namespace

void fragments(std::span<const std::uint8_t> data) {
  Input in(data);
  Lab lab;
  {
    auto dut = lab.host().create_net("dut");
    if (!dut) fail("fragments: no namespace");
    auto eth0 = make_channel(**dut, "eth0");
    if (!eth0 || !set_link_up(**eth0) || !set_link_up((*dut)->loopback()) ||
        !ipv4::add_address(**dut, **eth0, Ipv4Prefix(kDut, 24))) {
      fail("fragments: the namespace could not be built");
    }
    auto sock = udp::open(**dut);
    auto echo = icmp::open(**dut);
    if (!sock || !echo || !sock->bind({Ipv4Address::any(), 7}) || !echo->bind({})) fail("fragments: no sockets");
    for (std::size_t step = 0; step < kMaxSteps && !in.empty(); ++step) {
      switch (in.pick(5)) {
        case 0:
        case 1: {
          Fragment f = pick_fragment(in);
          f.offset = static_cast<std::uint16_t>(8 * (in.u16() % 8192));
          f.more = in.flag();
          send_fragment(**eth0, f, in.bytes(1480));
          break;
        }
        case 2:
          send_split(in, **eth0);
          break;
        case 3:
          lab.advance(std::chrono::milliseconds(in.u16()) * (in.flag() ? 1 : 64));
          break;
        default:
          if (in.flag()) {
            (void)(*dut)->sysctl().set("net.ipv4.ipfrag_low_thresh", "0");  // high_thresh's least
            (void)(*dut)->sysctl().set("net.ipv4.ipfrag_high_thresh", in.flag() ? "4096" : "262144");
          }
          read_sockets(*sock, *echo);
          break;
      }
      lab.poll();
      drain(**eth0);
    }
  }
  lab.finish();
}

}  // namespace netns::fuzz

NETNS_FUZZ_TARGET(fragments)
