// netns/bridge.hpp — a learning Ethernet switch whose ports are devices of its namespace.
//
// Linux's bridge (net/bridge): `ip link add br0 type bridge`, `ip link set
// dev veth0 master br0`. The bridge is itself a device: addresses given to it
// are reached through any port, and what its namespace's stack sends on it
// goes out of the port the destination was learned on.
//
//   Device* br = make_bridge(*sw, "br0").value();
//   for (Device* port : {p1, p2, p3}) {
//     set_master(*port, *br).value();
//     set_link_up(*port).value();
//   }
//   set_link_up(*br).value();
//   ipv4::add_address(*sw, *br, Ipv4Prefix::parse("192.0.2.254/24").value()).value();
//   fmt::print("{}", dump_fdb(*br));             // as `bridge fdb show br br0` prints
//
// What a port receives is the bridge's from then on (the port's own stack no
// longer sees it): the source MAC is learned on the port; a frame for the
// bridge's or a port's own MAC goes up to the bridge device; a known unicast
// destination goes out of its port; anything else (unknown unicast,
// broadcast, multicast) is flooded to every other running port, and
// broadcast and multicast also go up to the bridge device. Forwarding copies
// no bytes and a flood shares one buffer between its copies (Packet::share).
//
// Learned entries age out after ageing_time (300 s, Linux's default) on the
// Host's clock. At most fdb_max_learned entries are learned (4096 by default;
// Linux's fdb_max_learned defaults to unlimited, but every netns table is
// bounded): past it new sources are not learned and frames to them flood,
// which is slower but loses nothing. A port that goes down, moves to another
// namespace or is destroyed has its entries flushed (Linux flushes on port
// disable); the port of a destroyed bridge is released.
//
// Not implemented: STP (every up port forwards at once, as with Linux's
// default stp_state 0, so a loop of bridges loops frames until their
// backlogs drop them), VLAN filtering, IGMP snooping (multicast floods),
// hairpin mode, the bridge taking the lowest port MAC as its own (its MAC is
// random and fixed, as when an address was assigned). A frame to a port's
// own MAC goes up to the bridge device, but its stack classifies it by the
// bridge's MAC, as for another host (Linux keeps PACKET_HOST), so IPv4
// drops it (rx_otherhost_dropped): address the bridge's MAC.
//
// A port is a lower of its bridge, the bridge its master upper
// (Device::master_upper()); a macvlan on the bridge is another upper, and
// its address is a local FDB entry (shown as permanent on the bridge), so
// frames for it go up to the bridge device and on to the macvlan. What a
// macvlan sends through the bridge goes out of its ports, never up to the
// bridge's own stack (as in Linux).
//
// Errors, as Linux's br_add_if and netdev_master_upper_dev_link: invalid_argument
// for a device that is not a bridge where one is expected, a port in another
// namespace, the loopback or a device without a unicast MAC (not Ethernet),
// a bad name; file_exists for a taken name; device_or_resource_busy for a
// device already enslaved (another bridge's port), one with another rx
// handler (a macvlan's lower device), or one stacked above the bridge
// already, however far (a macvlan on it, or on a bridge on a macvlan on it:
// the link would make a loop); too_many_symbolic_link_levels (ELOOP) for a
// bridge as a port; too_many_links past kBridgeMaxPorts ports or when the
// stack would hold more than kMaxNestDevices devices (EMLINK);
// no_such_device for a device being destroyed. Nothing changes on error.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "netns/address.hpp"
#include "netns/clock.hpp"
#include "netns/device.hpp"
#include "netns/result.hpp"

namespace netns {

class Net;

// Linux's BR_DEFAULT_AGEING_TIME.
inline constexpr std::chrono::seconds kBridgeDefaultAgeingTime{300};
inline constexpr std::size_t kBridgeDefaultMaxLearned = 4096;
// Linux's BR_MAX_PORTS.
inline constexpr std::size_t kBridgeMaxPorts = 1024;
// Entries added by hand (`bridge fdb add ... static`) a bridge keeps at most.
inline constexpr std::size_t kBridgeMaxStaticEntries = 4096;

// ip link add NAME type bridge. Starts down, with no port and no carrier.
[[nodiscard]] Result<Device*> make_bridge(Net& net, std::string_view name);

// ip link set dev PORT master BRIDGE. The port must be in the bridge's
// namespace; enslaving it to the bridge it is already in does nothing.
[[nodiscard]] Result<void> set_master(Device& port, Device& bridge);
// ip link set dev PORT nomaster: the port's frames go to its own stack
// again and its FDB entries go. Nothing to do for a device in no bridge.
[[nodiscard]] Result<void> set_nomaster(Device& port);
// The bridge PORT is enslaved to, or nullptr.
Device* master(const Device& port);
// The ports of a bridge, in the order they joined (empty for another device).
std::vector<Device*> bridge_ports(const Device& bridge);

// ip link set BRIDGE type bridge ageing_time T. Zero makes every learned
// entry expire at once, a hub (as Linux). invalid_argument when negative.
[[nodiscard]] Result<void> set_ageing_time(Device& bridge, Clock::duration ageing);
[[nodiscard]] Result<Clock::duration> ageing_time(const Device& bridge);
// ip link set BRIDGE type bridge fdb_max_learned N, 1..1,048,576. Entries
// already learned beyond a lowered bound stay until they age out.
[[nodiscard]] Result<void> set_fdb_max_learned(Device& bridge, std::size_t max);

struct FdbEntry {
  MacAddress mac;
  Device* port = nullptr;       // nullptr: the bridge's own address
  bool local = false;           // the bridge's or a port's own address ("permanent")
  bool is_static = false;       // added by hand: never ages, never moves
  Clock::duration age{};        // since a frame from it was last seen (learned entries)
};

// bridge fdb show br BRIDGE: every entry, sorted by MAC.
[[nodiscard]] Result<std::vector<FdbEntry>> fdb_entries(const Device& bridge);
// The same as `bridge fdb show` prints it, one entry a line:
//   "02:00:00:00:00:01 dev veth0 master br0\n"
//   "02:00:00:00:00:02 dev veth0 master br0 permanent\n"
std::string dump_fdb(const Device& bridge);
// bridge fdb add MAC dev PORT master static: frames to MAC go out of PORT
// whatever is learned. invalid_argument for a multicast or zero MAC or a
// device in no bridge; file_exists when MAC is a local address;
// no_buffer_space past kBridgeMaxStaticEntries. An existing entry for MAC
// becomes this static one.
[[nodiscard]] Result<void> fdb_add_static(Device& port, MacAddress mac);
// bridge fdb del MAC dev PORT master (a learned or static entry of PORT).
// no_such_file_or_directory when PORT has no such entry.
[[nodiscard]] Result<void> fdb_del(Device& port, MacAddress mac);
// ip link set BRIDGE type bridge fdb_flush: every learned entry goes.
[[nodiscard]] Result<void> fdb_flush(Device& bridge);

// Where frames went, by reason: every frame a port hands to the bridge ends
// in exactly one of forwarded, flooded, delivered_local, passed_link_local
// or a dropped_* counter.
struct BridgeStats {
  std::uint64_t forwarded = 0;            // known unicast, out of one port
  std::uint64_t flooded = 0;              // frames flooded (each to every other running port)
  std::uint64_t delivered_local = 0;      // unicast to the bridge's or a port's own MAC
  std::uint64_t passed_link_local = 0;    // 01:80:c2:00:00:0x, left to the port's own stack
  std::uint64_t learned = 0;              // entries created by learning
  std::uint64_t moved = 0;                // entries relearned on another port
  std::uint64_t not_learned_full = 0;     // sources not learned: fdb_max_learned reached
  std::uint64_t aged = 0;                 // entries removed by ageing
  std::uint64_t dropped_invalid_source = 0;  // multicast or zero source MAC
  std::uint64_t dropped_bridge_down = 0;  // arrived on a port while the bridge was down
  std::uint64_t dropped_same_port = 0;    // destination learned on the ingress port
  std::uint64_t dropped_port_down = 0;    // a static entry's port is not running
  std::uint64_t dropped_too_big = 0;      // larger than the egress port's MTU
  std::uint64_t dropped_pause = 0;        // 802.3x pause frames, never forwarded
  std::uint64_t dropped_no_port = 0;      // sent by the bridge device with no running port to take it
  std::size_t fdb_entries = 0;            // all entries, local and static included
  std::size_t fdb_learned = 0;            // learned entries (what fdb_max_learned bounds)
};
[[nodiscard]] Result<BridgeStats> bridge_stats(const Device& bridge);

}  // namespace netns
