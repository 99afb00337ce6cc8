// Frames into a namespace with sockets: "dut" has a channel eth0
// (192.0.2.1/24) the input writes to, and a bridge br0 (198.51.100.1/24)
// whose port is a veth to "peer" (198.51.100.2/24). dut has a UDP socket on
// port 7, a ping socket and a TCP listener on port 80 with one connection
// accepted from peer. The input is a script of steps: raw frames, IPv4
// datagrams with their checksums made right (so they reach the sockets),
// ARP, time passing, and the applications reading and writing.
#include <array>
#include <optional>

#include "fuzz/driver.hpp"
#include "fuzz/targets.hpp"
#include "netns/bridge.hpp"
#include "netns/icmp.hpp"
#include "netns/ipv4.hpp"
#include "netns/tcp.hpp"
#include "netns/udp.hpp"
#include "support/ipv4_frames.hpp"

namespace netns::fuzz {

namespace {

constexpr std::size_t kMaxSteps = 200;
const Ipv4Address kDut(192, 0, 2, 1);
const Ipv4Address kBridge(198, 51, 100, 1);
const Ipv4Address kPeer(198, 51, 100, 2);
const std::array kKnown{kDut,
                        kBridge,
                        kPeer,
                        Ipv4Address(192, 0, 2, 2),
                        Ipv4Address(192, 0, 2, 255),
                        Ipv4Address(255, 255, 255, 255),
                        Ipv4Address(127, 0, 0, 1),
                        Ipv4Address(224, 0, 0, 1),
                        Ipv4Address(0, 0, 0, 0)};
const MacAddress kRemoteMac{0x02, 0, 0, 0, 0, 0x02};

struct Frames {
  NetRef dut, peer;
  ChannelDevice* eth0 = nullptr;
  Device* br0 = nullptr;
  udp::Socket udp, peer_udp;
  icmp::EchoSocket ping;
  tcp::Listener listener;
  tcp::Stream server, client;
};

bool build(Lab& lab, Frames& f) {
  Host& host = lab.host();
  auto dut = host.create_net("dut");
  auto peer = host.create_net("peer");
  if (!dut || !peer) return false;
  f.dut = *dut;
  f.peer = *peer;
  auto eth0 = make_channel(*f.dut, "eth0");
  auto br0 = make_bridge(*f.dut, "br0");
  auto veth = make_veth(*f.dut, "vp", *f.peer, "eth0");
  if (!eth0 || !br0 || !veth) return false;
  f.eth0 = *eth0;
  f.br0 = *br0;
  for (Device* d : {static_cast<Device*>(f.eth0), f.br0, veth->a, veth->b, &f.dut->loopback(), &f.peer->loopback()}) {
    if (!set_link_up(*d)) return false;
  }
  if (!set_master(*veth->a, *f.br0)) return false;
  if (!ipv4::add_address(*f.dut, *f.eth0, Ipv4Prefix(kDut, 24)) ||
      !ipv4::add_address(*f.dut, *f.br0, Ipv4Prefix(kBridge, 24)) ||
      !ipv4::add_address(*f.peer, *veth->b, Ipv4Prefix(kPeer, 24))) {
    return false;
  }
  auto u = udp::open(*f.dut);
  auto pu = udp::open(*f.peer);
  auto p = icmp::open(*f.dut);
  auto l = tcp::listen(*f.dut, {Ipv4Address::any(), 80});
  if (!u || !pu || !p || !l) return false;
  f.udp = std::move(*u);
  f.peer_udp = std::move(*pu);
  f.ping = std::move(*p);
  f.listener = std::move(*l);
  if (!f.udp.bind({Ipv4Address::any(), 7}) || !f.peer_udp.bind({kPeer, 9}) || !f.ping.bind({})) return false;
  auto c = tcp::connect(*f.peer, {kBridge, 80});
  if (!c) return false;
  f.client = std::move(*c);
  lab.advance(std::chrono::milliseconds(10));
  auto s = f.listener.accept();
  if (!s) return false;
  f.server = std::move(*s);
  return true;
}

void send_datagram(Input& in, Frames& f) {
  static constexpr std::array kProtocols{wire::IpProtocol::icmp, wire::IpProtocol::udp, wire::IpProtocol::tcp};
  const std::uint8_t shape = in.u8();
  support::IpFields ip{.src = in.address(kKnown), .dst = in.address(kKnown)};
  ip.protocol = (shape & 3) < 3 ? kProtocols[shape & 3] : wire::IpProtocol{in.u8()};
  ip.ttl = (shape & 4) ? in.u8() : 64;
  ip.dont_fragment = (shape & 8) != 0;
  ip.id = in.u16();
  if (shape & 16) {
    auto opts = in.bytes(40);
    ip.options.assign(opts.begin(), opts.begin() + static_cast<std::ptrdiff_t>(opts.size() / 4 * 4));
  }
  const MacAddress dst = (shape & 32) ? MacAddress::broadcast() : f.eth0->mac();
  auto frame = support::ipv4_frame(dst, kRemoteMac, ip, in.bytes(1400));
  if (!(shape & 64)) fix_checksums(frame);
  f.eth0->inject(frame);
}

void send_arp(Input& in, Frames& f) {
  const auto op = in.flag() ? wire::ArpOperation::request : wire::ArpOperation::reply;
  const MacAddress src{0x02, 0, 0, 0, in.u8(), in.u8()};
  f.eth0->inject(support::arp_frame(op, src, in.address(kKnown), MacAddress{}, in.address(kKnown),
                                    in.flag() ? MacAddress::broadcast() : f.eth0->mac()));
}

void run_applications(Input& in, Frames& f) {
  std::array<std::byte, 2048> buffer{};
  switch (in.pick(6)) {
    case 0:
      (void)f.server.write(in.bytes(4000));
      break;
    case 1:
      (void)f.client.write(in.bytes(4000));
      break;
    case 2:
      (void)f.udp.send_to(in.bytes(1500), {in.address(kKnown), in.u16()});
      break;
    case 3:
      (void)f.ping.send_echo(in.address(kKnown), in.u16(), in.bytes(100));
      break;
    case 4:
      (void)f.peer_udp.send_to(in.bytes(100), {kBridge, 7});
      break;
    default:
      (void)in.u8();
      break;
  }
  while (f.udp.receive_from(buffer)) {
  }
  while (f.peer_udp.receive_from(buffer)) {
  }
  while (f.ping.receive()) {
  }
  (void)f.server.read(buffer);
  (void)f.client.read(buffer);
  while (auto more = f.listener.accept()) more->close();
}

}  // namespace

void frames(std::span<const std::uint8_t> data) {
  Input in(data);
  Lab lab;
  {
    Frames f;
    if (!build(lab, f)) fail("frames: the namespaces could not be built");
    for (std::size_t step = 0; step < kMaxSteps && !in.empty(); ++step) {
      switch (in.pick(6)) {
        case 0:
          f.eth0->inject(in.bytes(1514));
          break;
        case 1:
        case 2:
          send_datagram(in, f);
          break;
        case 3:
          send_arp(in, f);
          break;
        case 4:
          lab.advance(std::chrono::milliseconds(in.u16()) * 4);
          break;
        default:
          run_applications(in, f);
          break;
      }
      lab.poll();
      drain(*f.eth0);
    }
  }
  lab.finish();
}

}  // namespace netns::fuzz

NETNS_FUZZ_TARGET(frames)
