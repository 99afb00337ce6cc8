// Two namespaces joined by a veth pair exchange frames, then print their
// device tables and counters, as `ip -s link` would in each.
//
//   ./veth_demo
#include <cstring>

#include <fmt/format.h>

#include <netns/netns.hpp>

namespace {

constexpr std::uint16_t kDemoEthertype = 0x88b5;  // IEEE local experimental

// Counts the frames of the demo's ethertype that reach each namespace, and
// answers every request frame with a reply, so traffic flows both ways.
class Responder : public netns::PacketHandler {
 public:
  void process(netns::Net& net, netns::Device& dev, netns::Packet frame) override {
    ++received_;
    fmt::print("  {:<5} {:<5} got a {}-byte frame, first byte '{}'\n", net.name(), dev.name(),
               frame.size(), static_cast<char>(frame.data()[0]));
    if (frame.data()[0] == std::byte{'?'}) send(dev, net.host(), '!');
  }

  static void send(netns::Device& dev, netns::Host& host, char tag) {
    netns::Packet frame = host.packets().allocate(14 + 46);
    auto bytes = frame.mutable_data();
    std::memset(bytes.data(), 0, bytes.size());
    std::memset(bytes.data(), 0xff, 6);  // broadcast: whoever is on the other end
    auto mac = dev.mac().octets;
    std::memcpy(bytes.data() + 6, mac.data(), 6);
    bytes[12] = std::byte{kDemoEthertype >> 8};
    bytes[13] = std::byte{kDemoEthertype & 0xff};
    bytes[14] = std::byte(tag);
    dev.transmit(std::move(frame));
  }

  int received() const { return received_; }

 private:
  int received_ = 0;
};

void print_devices(netns::Net& net) {
  fmt::print("namespace {} (id {}):\n", net.name(), net.id());
  for (netns::Device& dev : net.devices()) {
    const auto& s = dev.stats();
    fmt::print("  {}: {:<5} <{}> mtu {} kind {} link/ether {}\n", dev.ifindex(), dev.name(),
               dev.is_up() ? "UP" : "DOWN", dev.mtu(), netns::to_string(dev.kind()), dev.mac());
    fmt::print("      RX: packets {} bytes {} dropped {}   TX: packets {} bytes {} dropped {}\n",
               s.rx_packets, s.rx_bytes, s.rx_dropped, s.tx_packets, s.tx_bytes, s.tx_dropped);
  }
}

}  // namespace

int main() {
  netns::Host host(netns::HostConfig{.secret = 2026});
  netns::VirtualClock clock;
  Responder responder;
  if (!host.add_packet_handler(kDemoEthertype, responder)) return 1;

  netns::NetRef blue = host.create_net("blue").value();
  netns::NetRef red = host.create_net("red").value();
  auto veth = netns::make_veth(*blue, "eth0", *red, "eth0").value();
  (void)netns::set_link_up(*veth.a);
  (void)netns::set_link_up(*veth.b);

  fmt::print("blue asks three times; red answers each:\n");
  for (int i = 0; i < 3; ++i) Responder::send(*veth.a, host, '?');
  host.poll(clock.now());

  fmt::print("\n");
  print_devices(*blue);
  print_devices(*red);
  auto stats = host.stats();
  fmt::print("\nhost: {} namespaces live, {} frames delivered, {} payload copies\n",
             stats.live_nets, responder.received(), stats.packet_copies);

  // Dropping red's last reference tears it down at the next poll; its veth
  // end goes, and blue's end with it.
  red.reset();
  host.poll(clock.now());
  fmt::print("after red is gone: {} namespaces live, blue has {} device(s)\n",
             host.stats().live_nets, blue->device_count());
  return responder.received() == 6 ? 0 : 1;
}
