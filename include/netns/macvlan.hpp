// netns/macvlan.hpp — macvlan: devices with their own MAC address on a lower device.
//
// A macvlan child (ip link add link LOWER name NAME type macvlan mode MODE)
// shares the lower device's wire but has its own MAC address, and may live
// in any namespace of the Host while the lower lives in another: a container
// gets its own address on the host's network without a bridge.
//
//   auto mv = make_macvlan(*uplink, *container, "eth0", MacvlanMode::bridge);   // Result<Device*>
//   set_link_up(**mv);
//   ipv4::add_address(*container, **mv, Ipv4Prefix::parse("192.0.2.10/24").value());
//
// As Linux's drivers/net/macvlan.c: the children of one lower share one port,
// the lower's rx handler, which hands a unicast frame to the child owning its
// destination MAC (the lower's stack never sees it), gives a broadcast or
// multicast frame to every child and to the lower's own stack, and passes
// anything else to the lower. A child transmits through the lower, in
// whatever namespace the lower is; the mode decides what siblings see:
//
//   private  everything leaves by the lower, and a broadcast of its own that
//            an outside switch reflects comes back to it alone (not to its
//            siblings, not to the lower's stack)
//   vepa     everything leaves by the lower; siblings meet only through an
//            outside switch that reflects (802.1Qbg hairpin)
//   bridge   unicast to another bridge-mode child goes straight to it, never
//            touching the wire (nor the lower's frame observers, unlike
//            Linux's dev_forward_skb through the lower); broadcast and
//            multicast reach the bridge-mode siblings and the wire
//
// A frame from the wire with a child's destination MAC goes to that child
// whatever the modes (Linux checks no source on unicast); one for a child
// that is down is dropped and counted in the child's rx_dropped. Unlike
// Linux, which hashes a child's address only while it is up, a child keeps
// its address in the port while down, so set_mac refuses a down sibling's too.
//
// Linux's passthru and source modes are not implemented. Multicast is
// delivered to every child (as if each were IFF_ALLMULTI: there are no
// multicast filters), and broadcast IPv4 fragments are not reassembled
// before demultiplexing (Linux's ip_check_defrag).
//
// Lifetimes follow Linux: destroying the lower destroys every child, in every
// namespace; moving the lower to another namespace keeps the children
// working; a child dies with its namespace; the last child gone, the lower
// is free for another rx handler (a bridge) again.
//
// Each child has its own MAC address (random, locally administered), unique
// among the lower's children and distinct from the lower's: Device::set_mac
// refuses a taken one with address_in_use. Its MTU starts at the lower's and
// can never exceed it (lowering the lower's lowers the children's); it has
// carrier only while the lower is running, updated as the lower changes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "netns/device.hpp"
#include "netns/result.hpp"

namespace netns {

class Net;

// Linux's MACVLAN_MODE_* that are implemented; the names `ip link` takes.
enum class MacvlanMode : std::uint8_t { private_, vepa, bridge };

// "private", "vepa", "bridge".
std::string_view to_string(MacvlanMode mode);
// The `ip link ... mode` word: invalid_argument for an unknown one,
// operation_not_supported for Linux's passthru and source.
[[nodiscard]] Result<MacvlanMode> parse_macvlan_mode(std::string_view text);

// Children one lower device can carry (Linux has no limit; every table here has one).
inline constexpr std::size_t kMaxMacvlansPerLower = 4096;

// A macvlan child named `name` in `net` on `lower`, in Linux's default mode
// (vepa) or `mode`; down, MTU the lower's, a random MAC address. `net` owns
// the child. A macvlan given as `lower` stands for its own lower device (the
// child stacks on the real one, as Linux does). Errors, nothing created:
//   invalid_argument         bad name; `net` dying; `lower` is a loopback or
//                            belongs to another Host
//   file_exists              `name` taken in `net`
//   no_such_device           `lower` is being destroyed
//   device_or_resource_busy  `lower` has another rx handler (a bridge port)
//   too_many_links           `lower` tops a stack kMaxNestDevices high already
//   no_buffer_space          `lower` already carries kMaxMacvlansPerLower children
// The child is an upper of the lower (Device::uppers(), lowers()), in
// whatever namespaces the two are.
[[nodiscard]] Result<Device*> make_macvlan(Device& lower, Net& net, std::string_view name);
[[nodiscard]] Result<Device*> make_macvlan(Device& lower, Net& net, std::string_view name, MacvlanMode mode);

// ip link set NAME type macvlan mode MODE: invalid_argument when `dev` is not a macvlan.
[[nodiscard]] Result<void> set_macvlan_mode(Device& dev, MacvlanMode mode);
// The child's mode; invalid_argument when `dev` is not a macvlan.
[[nodiscard]] Result<MacvlanMode> macvlan_mode(const Device& dev);
// The lower device a macvlan child transmits through (`ip -d link`'s "@LOWER");
// invalid_argument when `dev` is not a macvlan.
[[nodiscard]] Result<Device*> macvlan_lower(const Device& dev);

}  // namespace netns
