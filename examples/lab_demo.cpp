// A small network lab in one process: three hosts on a learning bridge, a
// guest on a macvlan whose lower device lives in another namespace, pings
// and a TCP exchange across them, and a pcap of one switch port.
//
//            switch: br0 192.0.2.254/24 (ports p1 p2 p3)
//             /            |              \
//   h1 eth0 .1      h2 eth0 .2        h3 eth0 .3  (TCP echo on :7)
//                         |
//               guest eth0 .10 (macvlan, bridge mode, on h2's eth0)
//
// Each host's link delays its frames by 250 µs (netem), on a virtual clock.
//
//   ./lab_demo [capture.pcap]      (default: lab.pcap in the current directory)
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <netns/netns.hpp>

namespace {

using namespace std::chrono_literals;
using netns::Ipv4Address;

constexpr std::uint16_t kEchoPort = 7;

// The lab's clock: virtual, so a run is the same every time.
struct Lab {
  netns::Host host{netns::HostConfig{.secret = 2026}};
  netns::VirtualClock clock;

  // Polls through `span` of virtual time in 100 µs steps.
  void run_for(netns::Clock::duration span) {
    auto end = clock.now() + span;
    while (clock.now() < end) {
      host.poll(clock.now());
      clock.advance(100us);
    }
    host.poll(clock.now());
  }
};

template <class T>
T must(netns::Result<T> r, std::string_view what) {
  if (!r) {
    fmt::print(stderr, "lab_demo: {}: {}\n", what, r.error().message());
    std::exit(1);
  }
  return std::move(*r);
}

void must(netns::Result<void> r, std::string_view what) {
  if (!r) {
    fmt::print(stderr, "lab_demo: {}: {}\n", what, r.error().message());
    std::exit(1);
  }
}

// A host namespace on its own switch port: veth eth0 <-> switch's `port`.
netns::NetRef add_host(Lab& lab, netns::Net& sw, netns::Device& br0, std::string_view name,
                       std::string_view port, Ipv4Address address) {
  netns::NetRef net = must(lab.host.create_net(name), "create_net");
  auto veth = must(netns::make_veth(*net, "eth0", sw, port), "make_veth");
  must(netns::set_master(*veth.b, br0), "set_master");
  must(netns::set_link_up(*veth.a), "link up");
  must(netns::set_link_up(*veth.b), "link up");
  must(netns::ipv4::add_address(*net, *veth.a, {address, 24}), "add_address");
  // tc qdisc add dev eth0 root netem delay 250us: a link you can see in the RTTs.
  must(netns::set_link_faults(*veth.a, {.delay = 250us}), "set_link_faults");
  return net;
}

// Pings every target once from `from`; returns how many answered.
int ping_all(Lab& lab, netns::Net& from, const std::vector<Ipv4Address>& targets) {
  auto sock = must(netns::icmp::open(from), "icmp::open");
  for (std::size_t i = 0; i < targets.size(); ++i) {
    must(sock.send_echo(targets[i], static_cast<std::uint16_t>(i + 1)), "send_echo");
  }
  lab.run_for(50ms);
  int answered = 0;
  while (auto reply = sock.receive()) {
    fmt::print("  {} -> {}: icmp_seq={} time={} us\n", from.name(), fmt::to_string(reply->from),
               reply->seq, std::chrono::duration_cast<std::chrono::microseconds>(reply->rtt).count());
    ++answered;
  }
  return answered;
}

// The guest sends a line to h3's echo server and reads it back.
std::string tcp_echo(Lab& lab, netns::Net& client_net, netns::Net& server_net, Ipv4Address server) {
  auto listener = must(netns::tcp::listen(server_net, {Ipv4Address::any(), kEchoPort}), "listen");
  auto client = must(netns::tcp::connect(client_net, {server, kEchoPort}), "connect");
  lab.run_for(5ms);
  auto conn = must(listener.accept(), "accept");
  std::string_view line = "hello through a macvlan and a bridge\n";
  must(client.write(std::as_bytes(std::span(line))), "write");
  lab.run_for(5ms);
  std::array<std::byte, 256> buf{};
  std::size_t n = must(conn.read(buf), "server read");
  must(conn.write(std::span(buf).first(n)), "server write");
  lab.run_for(5ms);
  n = must(client.read(buf), "client read");
  client.close();
  conn.close();
  lab.run_for(10ms);
  return {reinterpret_cast<const char*>(buf.data()), n};
}

void print_port_counters(netns::Net& sw) {
  for (netns::Device& dev : sw.devices()) {
    const auto& s = dev.stats();
    fmt::print("  {:<4} {:<9} RX {:>3} packets  TX {:>3} packets  dropped {}/{}\n", dev.name(),
               netns::to_string(dev.kind()), s.rx_packets, s.tx_packets, s.rx_dropped, s.tx_dropped);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string pcap_path = argc > 1 ? argv[1] : "lab.pcap";
  Lab lab;

  netns::NetRef sw = must(lab.host.create_net("switch"), "create_net");
  netns::Device* br0 = must(netns::make_bridge(*sw, "br0"), "make_bridge");
  must(netns::set_link_up(*br0), "link up");
  must(netns::ipv4::add_address(*sw, *br0, {Ipv4Address(192, 0, 2, 254), 24}), "add_address");

  netns::NetRef h1 = add_host(lab, *sw, *br0, "h1", "p1", Ipv4Address(192, 0, 2, 1));
  netns::NetRef h2 = add_host(lab, *sw, *br0, "h2", "p2", Ipv4Address(192, 0, 2, 2));
  netns::NetRef h3 = add_host(lab, *sw, *br0, "h3", "p3", Ipv4Address(192, 0, 2, 3));

  // The guest's eth0 is a macvlan on h2's eth0: its lower device is in another namespace.
  netns::NetRef guest = must(lab.host.create_net("guest"), "create_net");
  netns::Device* mv = must(netns::make_macvlan(*h2->device("eth0"), *guest, "eth0",
                                               netns::MacvlanMode::bridge), "make_macvlan");
  must(netns::set_link_up(*mv), "link up");
  must(netns::ipv4::add_address(*guest, *mv, {Ipv4Address(192, 0, 2, 10), 24}), "add_address");

  auto capture = must(netns::start_capture(*sw->device("p1"), pcap_path), "start_capture");

  fmt::print("h1 pings everyone (the first frames flood; the bridge learns):\n");
  std::vector<Ipv4Address> everyone{Ipv4Address(192, 0, 2, 2), Ipv4Address(192, 0, 2, 3),
                                    Ipv4Address(192, 0, 2, 10), Ipv4Address(192, 0, 2, 254)};
  int answered = ping_all(lab, *h1, everyone);

  fmt::print("\nguest talks TCP to h3's echo server:\n");
  std::string echoed = tcp_echo(lab, *guest, *h3, Ipv4Address(192, 0, 2, 3));
  fmt::print("  echoed: {}", echoed);

  fmt::print("\nswitch$ bridge fdb show br br0\n{}", netns::dump_fdb(*br0));
  fmt::print("\nswitch$ ip -s link (summary)\n");
  print_port_counters(*sw);

  must(capture->stop(), "capture stop");
  fmt::print("\ncaptured {} frames on switch port p1 into {} (open it with tshark or wireshark)\n",
             capture->stats().frames, pcap_path);
  auto stats = lab.host.stats();
  fmt::print("host: {} namespaces, {} payload copies\n", stats.live_nets, stats.packet_copies);

  bool ok = answered == static_cast<int>(everyone.size()) &&
            echoed == "hello through a macvlan and a bridge\n";
  fmt::print("{}\n", ok ? "lab ok" : "lab FAILED");
  return ok ? 0 : 1;
}
