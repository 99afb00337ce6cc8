// netns/dpdk.hpp — DPDK ports as netns devices (built with NETNS_WITH_DPDK).
//
// dpdk::start initialises DPDK's Environment Abstraction Layer once per
// process and returns the Eal that keeps it alive; ports are then added
// (hot-plugged virtual devices, or ports the EAL arguments created) and each
// is wrapped by make_dpdk_port as a Device that Host::poll busy-polls:
//
//   auto eal = netns::dpdk::start({"--no-huge", "-m", "256", "--no-pci", "--no-shconf",
//                                  "-l", "0"}).value();
//   auto pair = eal.make_ring_pair("r0").value();              // two ports, back to back
//   Device* a = netns::make_dpdk_port(*blue, "eth0", pair.a).value();
//   Device* b = netns::make_dpdk_port(*red, "eth0", pair.b).value();
//   netns::set_link_up(*a);                                    // starts the port
//   std::uint16_t tap = eal.attach("net_tap0,iface=dtap0").value();
//
// Received mbufs become Packets without copying: the Packet's header lives in
// the mbuf's private area (kMbufPrivSize), so receiving allocates nothing.
// A Packet that wraps an mbuf leaves as that same mbuf (forwarding between
// DPDK ports copies nothing); any other Packet is written into a fresh mbuf,
// which is I/O out of the stack like a write() to a TAP, not a counted copy.
// Only a wrapped mbuf that another Packet still shares is copied (counted).
//
// Transmitted frames are batched and sent (rte_eth_tx_burst) by 32, or at the
// end of each Host::poll round (flush_tx). Received frames go through the
// device's backlog like any device's, up to 64 per device per poll round.
//
// Several cores: make_dpdk_queue makes a device per rx/tx queue pair of a
// port, each in a namespace of its core's Host (HostGroup), which alone
// polls it. RSS with rss::kSymmetricKey sends both directions of a flow to
// one queue; for a port without RSS, the queue devices hash in software
// and pass frames to each other (Rss::software). ARP and IPv6 neighbour
// discovery, which no RSS hashes, reach every queue's device as copies:
//
//   for (std::uint16_t q = 0; q < 2; ++q)
//     group.run_on(q, [&](netns::Host&) {
//       netns::make_dpdk_queue(*router[q], "eth0", port, {.queue = q, .queues = 2}).value(); });
//
// Counters: Device::stats() counts what the stack saw and sent (rx_packets
// are frames taken from the port, tx_dropped includes frames the port's tx
// queue refused and frames that fit no mbuf); dpdk::port_stats gives the
// port's own rte_eth_stats (imissed, ierrors, rx_nombuf...), which count
// frames the stack never saw.
//
// Ports on kernel interfaces: the TAP and AF_PACKET drivers find their
// interface by name in the calling thread's network namespace when they are
// probed (attach), when their queues are set up (make_dpdk_port) and when
// they start (set_link_up). With the interface in another Linux namespace,
// make those calls from a thread inside it (setns); moving the interface
// after probing leaves net_tap writing to a new interface of the same name.
//
// Addresses: the device takes the port's MAC address; a port without one
// (net_ring) gets a random locally administered address, also given to the
// port. Device::set_mac changes the stack's address only. set_mtu is
// applied to the port (rte_eth_dev_set_mtu; a port without an MTU of its own,
// such as net_ring, leaves it to the stack), at most kMaxMtu (one mbuf).
//
// Lifetimes: one Eal per process, ever (DPDK cannot initialise again after
// rte_eal_cleanup). Destroy the Hosts holding DPDK port devices, and every
// Packet that may wrap an mbuf, before the Eal. If an Eal is destroyed while
// port devices still exist, they are stopped and cut off from DPDK first
// (they then drop and count everything they are given) so nothing touches
// DPDK after cleanup.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "netns/result.hpp"

struct rte_ring;

namespace netns {

class Device;
class Net;

// A netns device on DPDK ethdev port `port_id` (ip link for a DPDK port):
// one rx and one tx queue, a mbuf pool of its own, MAC address and MTU read
// from the port. The port starts on set_link_up(dev) and stops when the
// device goes down, moves or is destroyed; when its namespace dies the
// device goes back to init_net. Errors (nothing created): invalid_argument
// for a bad name, file_exists when the name is taken, operation_not_permitted
// when no Eal is running, no_such_device for an unknown port,
// device_or_resource_busy when another device already drives the port, and
// DPDK's errno when the port cannot be configured.
[[nodiscard]] Result<Device*> make_dpdk_port(Net& net, std::string_view name, std::uint16_t port_id);

namespace dpdk {

// How the frames a port receives are spread over its queues.
enum class Rss : std::uint8_t {
  // The port's own RSS when it has it and reports hashing with the key it
  // was given, else software (net_tap claims RSS but cannot: the kernel
  // spreads a multi-queue TAP by a hash of its own).
  automatic,
  hardware,  // the port's own, with rss::kSymmetricKey and netns's indirection table
  // The queue that reads a frame hashes it (rss::frame_hash) and passes a
  // frame of another queue to that queue's device, through a bounded ring
  // between the two (Linux's RPS). Ports whose queues are spread some other
  // way, or not at all, end up as if they had symmetric RSS.
  software,
  // The port spreads frames itself and netns takes them where they arrive:
  // a net_ring port whose writer hashes as a NIC would, an af_packet port's
  // fanout. The only choice for one queue.
  none,
};

inline constexpr std::uint16_t kMaxQueues = 64;

// One queue of a port that has `queues` rx and tx queue pairs.
struct QueueSpec {
  std::uint16_t queue = 0;
  std::uint16_t queues = 1;
  Rss rss = Rss::automatic;
};

}  // namespace dpdk

// A netns device on one rx and tx queue pair of a DPDK port, for a port
// shared by several Hosts, one queue each (one core each). The first queue
// device made on a port configures it for spec.queues pairs and spec.rss;
// the others must ask the same. Every queue device has the port's MAC
// address and a mempool of its own; the port starts when the first of them
// comes up and stops when the last goes down (a queue whose device is down
// or missing meanwhile drops what the port puts on it, counted by the
// port). Errors as make_dpdk_port, and: invalid_argument when spec.queue is
// not below spec.queues or spec.queues is 0 or above kMaxQueues;
// device_or_resource_busy when the queue has a device already or the port
// is driven with another spec (or as a whole by make_dpdk_port);
// not_supported when the port has fewer queue pairs than asked, or for
// Rss::hardware no RSS of its own that reports the symmetric key back. Make the devices of a port from the
// threads of their Hosts, or before those run.
[[nodiscard]] Result<Device*> make_dpdk_queue(Net& net, std::string_view name, std::uint16_t port_id,
                                              const dpdk::QueueSpec& spec);

namespace dpdk {

// Private space each mbuf must have (rte_pktmbuf_pool_create's priv_size)
// for a Packet to wrap it without allocating. Mbufs from pools with less are
// still received without copying, with a heap-allocated Packet header.
inline constexpr std::uint16_t kMbufPrivSize = 64;
// The largest MTU of a DPDK device: a frame fits one 2048-byte mbuf data room.
inline constexpr std::uint32_t kMaxMtu = 2048 - 18;

// Two net_ring ports wired back to back: what a transmits, b receives and
// the other way round. The rings are exposed for tests and benchmarks that
// feed or drain a port directly (a_to_b is a's tx and b's rx ring).
// With several queues, queue i of a transmits into a_to_b_queues[i], which
// queue i of b reads: whoever writes into b's rings directly plays a NIC
// and picks the queue (rss::queue_of of rss::frame_hash, as RSS would).
struct RingPair {
  std::uint16_t a = 0, b = 0;
  rte_ring* a_to_b = nullptr;  // queue 0's
  rte_ring* b_to_a = nullptr;
  std::vector<rte_ring*> a_to_b_queues, b_to_a_queues;
};

// The port's own counters (rte_eth_stats_get), of all its queues.
struct PortStats {
  std::uint64_t ipackets = 0, opackets = 0, ibytes = 0, obytes = 0;
  std::uint64_t imissed = 0;     // frames the port dropped because its rx queue was full
  std::uint64_t ierrors = 0;     // erroneous frames the port received
  std::uint64_t oerrors = 0;     // frames the port failed to send
  std::uint64_t rx_nombuf = 0;   // receive attempts that found no free mbuf
};

// The running EAL. Move-only; destroying the last owner runs rte_eal_cleanup
// (after stopping any port device still alive, see the header comment).
class Eal {
 public:
  Eal(Eal&& other) noexcept : owns_(other.owns_) { other.owns_ = false; }
  Eal& operator=(Eal&& other) noexcept;
  Eal(const Eal&) = delete;
  Eal& operator=(const Eal&) = delete;
  ~Eal();

  // False for a moved-from Eal.
  bool running() const { return owns_; }

  // Hot-plugs a device (rte_dev_probe), e.g. "net_tap0,iface=dtap0" or
  // "net_af_packet0,iface=veth0", and returns its ethdev port. Errors:
  // operation_not_permitted on a moved-from Eal, file_exists when a device of
  // that name is already attached, DPDK's errno when probing fails,
  // no_such_device when the probed device brought no ethdev port.
  [[nodiscard]] Result<std::uint16_t> attach(std::string_view devargs);
  // Closes a port and removes its device (rte_dev_remove). Errors:
  // no_such_device for an unknown port, device_or_resource_busy while a
  // netns device drives it (destroy that first).
  [[nodiscard]] Result<void> detach(std::uint16_t port_id);
  // Two net_ring ports named net_ring_<name>a and net_ring_<name>b whose
  // rings (ring_size slots, a power of two; `queues` of them each way, at
  // most 16, net_ring's limit) cross. `name` is at most 20 bytes;
  // file_exists when it is in use, invalid_argument for a bad name, size
  // or queue count. Detaching both ports frees the rings.
  [[nodiscard]] Result<RingPair> make_ring_pair(std::string_view name, unsigned ring_size = 1024,
                                                std::uint16_t queues = 1);

 private:
  friend Result<Eal> start(std::vector<std::string> args);
  Eal() : owns_(true) {}
  void cleanup();

  bool owns_ = false;
};

// rte_eal_init with these EAL arguments (without the program name). Once per
// process: device_or_resource_busy while an Eal is running,
// operation_not_permitted after one was cleaned up (DPDK cannot start
// again), and DPDK's rte_errno (as a generic error_code) when it fails.
[[nodiscard]] Result<Eal> start(std::vector<std::string> args);

// rte_eth_stats of the port behind a DPDK device; invalid_argument for a
// device of another kind, operation_not_permitted once its Eal is gone.
[[nodiscard]] Result<PortStats> port_stats(const Device& dev);

// The ethdev port behind a DPDK device; invalid_argument for another kind.
[[nodiscard]] Result<std::uint16_t> port_id(const Device& dev);

// The queue a DPDK device drives, how many its port has, and the RSS the
// port was given (never Rss::automatic: what it resolved to).
struct QueueInfo {
  std::uint16_t queue = 0, queues = 1;
  Rss rss = Rss::none;
};
[[nodiscard]] Result<QueueInfo> queue_info(const Device& dev);

}  // namespace dpdk
}  // namespace netns
