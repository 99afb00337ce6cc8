// netns/tap.hpp — a Linux TAP interface as a netns device: the way out to the kernel.
//
// make_tap opens /dev/net/tun and creates (or attaches to) the Linux TAP
// interface of the same name. Frames the kernel sends on that interface
// arrive on the netns device; frames netns transmits appear on it in Linux.
//
//   auto tap = netns::make_tap(*red, "nstap0").value();       // Linux: nstap0 appears
//   netns::set_link_up(*tap).value();                         // Linux: nstap0 gets carrier
//   netns::ipv4::add_address(*red, *tap, netns::Ipv4Prefix::parse("192.0.2.2/24").value()).value();
//   // $ ip addr add 192.0.2.1/24 dev nstap0 && ip link set nstap0 up && ping 192.0.2.2
//   for (;;) host.poll(netns::Clock::now());                  // or a netns::asio::Runner
//
// Driving. A TAP is a polled device (Device::polled()): every Host::poll
// reads what the kernel queued, without blocking. rx_fd() is the tun
// descriptor; netns::asio::Runner waits on it so an idle program sleeps
// until the kernel sends something. A program with its own loop waits on
// rx_fd() becoming readable, then polls.
//
// Both ends have their own MAC address: netns picks a random locally
// administered one for its side, the kernel has its own for the Linux
// interface. Their MTUs are independent too: set each side (set_mtu here,
// `ip link set NAME mtu N` in Linux) to the same value. Frames from the
// kernel longer than this side's MTU plus an Ethernet and a VLAN header are
// dropped and counted in rx_length_errors, as are runts shorter than an
// Ethernet header; both count in rx_errors too. Nothing is truncated.
//
// Link state follows veth: the Linux interface has carrier only while the
// netns device is up (TUNSETCARRIER), so the kernel does not queue frames
// for a device that would not read them. Linux acts on a carrier change a
// moment later (its linkwatch): until the interface's operstate is UP it
// drops what it would send, an ARP reply included.
//
// Names and lifetime. The netns name is the Linux interface name when the
// device is made; moving the device (Host::move_device, or its namespace
// dying, which sends a TAP home to init_net as Linux does with physical
// devices) keeps the descriptor and the Linux interface, whose name stays
// what it was even if the netns side is renamed (tap_linux_name tells it).
// Moving the Linux interface between Linux namespaces (`ip link set NAME
// netns NS`) is Linux's business and changes nothing here. Destroying the
// device closes the descriptor, and Linux deletes the interface — unless it
// is persistent (`ip tuntap add mode tap`), which make_tap then attached to.
// The descriptor is close-on-exec: child processes do not keep it open.
#pragma once

#include <string>
#include <string_view>

#include "netns/device.hpp"
#include "netns/result.hpp"

namespace netns {

class Net;

// Creates a TAP device in `net` on the Linux interface `name` (TUNSETIFF with
// IFF_TAP | IFF_NO_PI, non-blocking), down, MTU 1500, max_mtu 65521 (tun's).
// A name with "%d" is a pattern the kernel completes (tap%d -> tap0); the
// device takes the name the kernel chose. Errors, nothing created:
// invalid_argument for a name Linux would refuse or a dying namespace;
// file_exists when the name is taken in `net` (checked before the kernel is
// asked) or a Linux interface of that name exists and is not a TAP;
// no_such_device when /dev/net/tun is absent; permission_denied or
// operation_not_permitted without CAP_NET_ADMIN (or the rights to a
// persistent TAP); device_or_resource_busy when another process holds that
// TAP; other errno values as they come.
[[nodiscard]] Result<Device*> make_tap(Net& net, std::string_view name);

// The Linux interface name of a TAP device (what `ip link` shows, in
// whatever Linux namespace it is now); empty for any other kind.
std::string tap_linux_name(const Device& dev);

}  // namespace netns
