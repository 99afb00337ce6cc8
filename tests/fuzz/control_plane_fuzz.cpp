// Random control-plane operations over several namespaces: namespaces made
// and dropped; veth, bridge, macvlan and channel devices made, moved between
// namespaces, enslaved, brought up and down and destroyed; addresses,
// routes, neighbours and sockets added; traffic sent across whatever
// topology results; time passing. Devices are found again by position at
// every step, never kept, since one operation may take others with it (a
// veth's peer, a lower's macvlans, a namespace's devices).
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "fuzz/driver.hpp"
#include "fuzz/targets.hpp"
#include "netns/bridge.hpp"
#include "netns/icmp.hpp"
#include "netns/ipv4.hpp"
#include "netns/macvlan.hpp"
#include "netns/tcp.hpp"
#include "netns/udp.hpp"

namespace netns::fuzz {

namespace {

constexpr std::size_t kMaxSteps = 250;
constexpr std::size_t kNets = 4;
constexpr std::size_t kMaxSockets = 24;
constexpr std::size_t kMaxDevicesPerNet = 12;

// Addresses from a small space so that routes, neighbours and sockets meet.
Ipv4Address pick_address(Input& in) {
  const std::uint8_t b = in.u8();
  return Ipv4Address(10, 0, b & 3, (b >> 2) & 7);
}

struct World {
  std::array<NetRef, kNets> nets;
  std::vector<udp::Socket> udp;
  std::vector<tcp::Listener> listeners;
  std::vector<tcp::Stream> streams;
  std::vector<icmp::EchoSocket> pings;

  std::size_t sockets() const { return udp.size() + listeners.size() + streams.size() + pings.size(); }
};

Net* pick_net(Input& in, World& w) { return w.nets[in.pick(kNets)].get(); }

Device* pick_device(Input& in, Net* net) {
  if (net == nullptr) return nullptr;
  std::vector<Device*> devices;
  for (Device& d : net->devices()) devices.push_back(&d);
  return devices[in.pick(devices.size())];
}

std::string pick_name(Input& in) { return "d" + std::to_string(in.u8() % 8); }

void make_device(Input& in, World& w) {
  Net* net = pick_net(in, w);
  if (net == nullptr || net->device_count() >= kMaxDevicesPerNet) return;
  switch (in.pick(4)) {
    case 0: {
      Net* other = pick_net(in, w);
      if (other != nullptr && other->device_count() < kMaxDevicesPerNet) {
        (void)make_veth(*net, pick_name(in), *other, pick_name(in));
      }
      break;
    }
    case 1:
      (void)make_bridge(*net, pick_name(in));
      break;
    case 2: {
      Device* lower = pick_device(in, net);
      Net* to = pick_net(in, w);
      if (lower != nullptr && to != nullptr && to->device_count() < kMaxDevicesPerNet) {
        (void)make_macvlan(*lower, *to, pick_name(in), static_cast<MacvlanMode>(in.pick(3)));
      }
      break;
    }
    default:
      (void)make_channel(*net, pick_name(in));
      break;
  }
}

void change_device(Input& in, World& w) {
  Net* net = pick_net(in, w);
  Device* dev = pick_device(in, net);
  if (dev == nullptr) return;
  switch (in.pick(7)) {
    case 0:
      (void)set_link_up(*dev, in.flag());
      break;
    case 1:
      (void)destroy_device(*dev);
      break;
    case 2: {
      Net* to = pick_net(in, w);
      if (to != nullptr && to->device_count() < kMaxDevicesPerNet) {
        (void)net->host().move_device(*dev, *to, in.flag() ? pick_name(in) : std::string());
      }
      break;
    }
    case 3:
      if (Device* master = pick_device(in, net)) (void)set_master(*dev, *master);
      break;
    case 4:
      (void)set_nomaster(*dev);
      break;
    case 5:
      (void)dev->set_mtu(in.flag() ? 1500 : in.u16());
      break;
    default:
      (void)dev->set_mac(MacAddress{0x02, 0, 0, 0, in.u8(), in.u8()});
      break;
  }
}

void change_ipv4(Input& in, World& w) {
  Net* net = pick_net(in, w);
  Device* dev = pick_device(in, net);
  if (dev == nullptr) return;
  const Ipv4Prefix prefix(pick_address(in), static_cast<std::uint8_t>(in.pick(33)));
  switch (in.pick(6)) {
    case 0:
      (void)ipv4::add_address(*net, *dev, prefix);
      break;
    case 1:
      (void)ipv4::del_address(*net, *dev, prefix);
      break;
    case 2:
    case 3: {
      ipv4::RouteSpec spec{.prefix = in.flag() ? prefix : Ipv4Prefix(prefix.network(), prefix.length()), .dev = in.flag() ? dev : nullptr,
                           .metric = in.u8(), .type = static_cast<ipv4::RouteType>(in.pick(4))};
      if (in.flag()) spec.via = pick_address(in);
      (void)(in.flag() ? ipv4::add_route(*net, spec) : ipv4::del_route(*net, spec));
      break;
    }
    default:
      (void)ipv4::add_neighbour(*net, *dev, pick_address(in), MacAddress{0x02, 0, 0, 1, in.u8(), in.u8()});
      break;
  }
}

void use_sockets(Input& in, World& w) {
  Net* net = pick_net(in, w);
  std::array<std::byte, 2048> buffer{};
  const Endpoint to{pick_address(in), static_cast<std::uint16_t>(in.pick(4))};
  switch (in.pick(7)) {
    case 0:
      if (net != nullptr && w.sockets() < kMaxSockets) {
        if (auto s = udp::open(*net); s && s->bind({Ipv4Address::any(), to.port})) w.udp.push_back(std::move(*s));
      }
      break;
    case 1:
      if (net != nullptr && w.sockets() < kMaxSockets) {
        if (auto l = tcp::listen(*net, {Ipv4Address::any(), to.port})) w.listeners.push_back(std::move(*l));
      }
      break;
    case 2:
      if (net != nullptr && w.sockets() < kMaxSockets) {
        if (auto s = tcp::connect(*net, to)) w.streams.push_back(std::move(*s));
      }
      break;
    case 3:
      if (net != nullptr && w.sockets() < kMaxSockets) {
        if (auto p = icmp::open(*net)) w.pings.push_back(std::move(*p));
      }
      break;
    case 4:
      for (auto& s : w.udp) (void)s.send_to(in.bytes(1600), to);
      for (auto& p : w.pings) (void)p.send_echo(to.address.to_v4(), in.u16(), in.bytes(64));
      for (auto& s : w.streams) (void)s.write(in.bytes(3000));
      break;
    case 5:
      for (auto& l : w.listeners) {
        while (auto s = l.accept()) {
          if (w.sockets() < kMaxSockets) w.streams.push_back(std::move(*s));
        }
      }
      for (auto& s : w.udp) (void)s.receive_from(buffer);
      for (auto& s : w.streams) (void)s.read(buffer);
      for (auto& p : w.pings) (void)p.receive();
      break;
    default:
      // Closing one of each kind lets its namespace go when nothing else holds it.
      if (!w.streams.empty()) w.streams.erase(w.streams.begin() + static_cast<std::ptrdiff_t>(in.pick(w.streams.size())));
      if (!w.udp.empty()) w.udp.pop_back();
      if (!w.listeners.empty()) w.listeners.pop_back();
      if (!w.pings.empty()) w.pings.pop_back();
      break;
  }
}

}  // namespace

void control_plane(std::span<const std::uint8_t> data) {
  Input in(data);
  Lab lab;
  {
    World w;
    for (std::size_t step = 0; step < kMaxSteps && !in.empty(); ++step) {
      switch (in.pick(8)) {
        case 0: {
          NetRef& slot = w.nets[in.pick(kNets)];
          if (!slot) {
            if (auto n = lab.host().create_net()) {
              slot = std::move(*n);
              (void)set_link_up(slot->loopback());
            }
          } else {
            slot.reset();  // sockets in it keep it alive
          }
          break;
        }
        case 1:
        case 2:
          make_device(in, w);
          break;
        case 3:
        case 4:
          change_device(in, w);
          break;
        case 5:
          change_ipv4(in, w);
          break;
        case 6:
          use_sockets(in, w);
          break;
        default:
          lab.advance(std::chrono::milliseconds(in.u16()) * 8);
          break;
      }
      lab.poll();
    }
  }
  lab.finish();
}

}  // namespace netns::fuzz

NETNS_FUZZ_TARGET(control_plane)
