// netns/device.hpp — network devices: the base every kind derives from.
//
// A Device lives in exactly one namespace at a time (net()), which owns it.
// Its name and ifindex are unique within that namespace only, so two
// namespaces can both have an "eth0" with ifindex 2.
//
//   auto pair = make_veth(*blue, "eth0", *red, "eth0");   // Result<VethPair>
//   set_link_up(*pair->a);
//   pair->a->transmit(std::move(frame));   // delivered to red by the next poll
//
// Transmit and receive never return errors (the data plane drops and counts,
// in stats()); creating, destroying and configuring return Result.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "netns/address.hpp"
#include "netns/bounded_queue.hpp"
#include "netns/detail/hot_heap.hpp"
#include "netns/detail/rx_hook.hpp"
#include "netns/packet.hpp"
#include "netns/result.hpp"

namespace netns {

class Net;
class Host;
class HostGroup;
class LinkFaultState;
struct DevconfDevice;
struct DevconfStore;

enum class DeviceKind : std::uint8_t { loopback, veth, channel, bridge, macvlan, tap, dpdk };
std::string_view to_string(DeviceKind kind);

// A receive queue among a port's `queues` (Device::rss_queue).
struct RssQueue {
  std::uint16_t queue = 0, queues = 1;
};

// As `ip -s link` shows them.
struct DeviceStats {
  std::uint64_t rx_packets = 0, rx_bytes = 0, rx_dropped = 0, rx_errors = 0;
  std::uint64_t tx_packets = 0, tx_bytes = 0, tx_dropped = 0, tx_errors = 0;
  std::uint64_t rx_nohandler = 0;   // frames of an ethertype nothing in the namespace handles
  std::uint64_t rx_length_errors = 0;  // runts: shorter than an Ethernet header
  std::uint64_t rx_otherhost_dropped = 0;  // unicast frames for another MAC address
};

// Linux's IFNAMSIZ is 16 with the terminating NUL: names are 1..15 bytes.
inline constexpr std::size_t kMaxDeviceName = 15;
// Linux's dev_valid_name: 1..15 bytes, not "." or "..", no '/', ':' or blanks.
bool is_valid_device_name(std::string_view name);

// Linux's MAX_NEST_DEV: the most devices one stack may hold, counted from
// its lowest device to its highest (a veth in a bridge under a macvlan is 3).
inline constexpr std::size_t kMaxNestDevices = 8;

// What an rx handler did with a frame (Linux's rx_handler_result_t).
enum class RxResult : std::uint8_t {
  consumed,  // the handler took the frame (forwarded, queued elsewhere, or dropped and counted)
  pass,      // not for the handler: the device's own namespace processes it
};

// Takes the frames a device receives before its namespace's stack sees them
// (netdev_rx_handler_register): the bridge a port is enslaved to, the
// macvlans stacked on a lower device. Called in Host::poll with the Ethernet
// header still on the frame (at least 14 bytes) and frame.device set.
class RxHandler {
 public:
  virtual ~RxHandler() = default;
  virtual RxResult handle_frame(Device& dev, Packet& frame) = 0;
};

enum class FrameDirection : std::uint8_t { rx, tx };

// Sees every frame a device receives or sends, without taking it (Linux's
// ptype_all, what a packet socket and tcpdump use). Received frames are
// observed before the rx handler, sent ones as the kind transmits them
// (after netem). The frame may carry Packet::checksum_partial; an observer
// that lets the bytes leave the process fills the checksum in its own copy.
class FrameObserver {
 public:
  virtual ~FrameObserver() = default;
  virtual void observe(Device& dev, const Packet& frame, FrameDirection dir) = 0;
};

// netem for in-process links (veth and the other virtual kinds), applied on transmit.
struct LinkFaults {
  double loss = 0, duplicate = 0, reorder = 0, corrupt = 0;   // probabilities 0..1
  std::chrono::microseconds delay{0}, jitter{0};
  std::uint64_t seed = 1;               // same seed, same faults: failures replay exactly
};

class Device : public detail::HotAllocated {
 public:
  virtual ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  Net& net() const { return *net_; }
  std::string_view name() const { return {name_.data(), name_len_}; }
  int ifindex() const { return ifindex_; }
  MacAddress mac() const { return mac_; }
  std::uint32_t mtu() const { return mtu_; }
  bool is_up() const { return up_; }
  // Up, and the link has carrier (a veth whose peer is also up).
  bool is_running() const { return up_ && carrier_; }
  // Linux's netif_carrier_ok: the kind's link is there (a veth's peer is up,
  // a TAP's Linux interface exists, a DPDK port's link is up), or for a
  // device stacked on others (a bridge, a macvlan), one of its lowers is
  // running. Kept up to date as the state changes, never computed on demand.
  bool has_carrier() const { return carrier_; }
  DeviceKind kind() const { return kind_; }
  // Leaving for good (Linux's NETREG_UNREGISTERING): destroyed, not moved.
  // NetdevEvent::unregistering comes for both; this tells them apart.
  bool is_unregistering() const { return unregistering_; }
  // A copy: rx_packets and rx_bytes are kept with the receive backlog.
  DeviceStats stats() const {
    DeviceStats s = stats_;
    s.rx_packets = rx_hook_.rx_packets();
    s.rx_bytes = rx_hook_.rx_bytes();
    return s;
  }
  // For the stack's drop accounting on this device (malformed frames, full
  // queues); rx_packets and rx_bytes here are not the device's (stats()).
  DeviceStats& mutable_stats() { return stats_; }
  // The device's own per-device sysctl values (netns/devconf.hpp), null
  // while every one is its table default; kept across rename and move.
  const DevconfDevice* devconf() const { return conf_.get(); }
  // Whether the value the stack acts on for per-device knob `key` (a
  // DevconfId's index) is nonzero: kept by every write that can change it,
  // so the packet path tests a bit of the Device itself (device_conf_on).
  bool conf_on(std::size_t key) const { return (conf_on_ >> key & 1) != 0; }

  // invalid_argument outside [68, max_mtu()] (Linux's ETH_MIN_MTU .. the kind's maximum).
  [[nodiscard]] Result<void> set_mtu(std::uint32_t mtu);
  // invalid_argument for a multicast or zero address; or the kind refuses it
  // (a macvlan: address_in_use when a sibling or its lower device has it).
  [[nodiscard]] Result<void> set_mac(MacAddress mac);
  virtual std::uint32_t max_mtu() const { return 65535; }
  // Bound to its namespace, cannot move (NETIF_F_NETNS_LOCAL in Linux: the
  // loopback, which cannot be destroyed either, and bridges).
  virtual bool netns_local() const { return false; }
  // Goes back to init_net when its namespace dies, instead of dying with it:
  // what Linux's default_device_exit does with a device backed by something
  // outside the namespace (hardware; rtnl_link_ops::netns_refund). TAP and
  // DPDK ports say yes; purely virtual kinds (veth, bridge, macvlan) no.
  virtual bool netns_refund() const { return false; }
  // Takes frames whose TCP/UDP checksum is left to fill (Packet::
  // checksum_partial): in-process links (veth, loopback), whose receiver is
  // this stack. transmit() fills it for every other device.
  virtual bool offloads_checksum() const { return false; }
  // Which receive queue of a port with several this device is (a DPDK
  // queue device, make_dpdk_queue); empty for every other. Connections
  // leaving through it pick source ports whose RSS hash brings their
  // replies back to this queue, so to this core (rss.hpp).
  virtual std::optional<RssQueue> rss_queue() const { return std::nullopt; }

  // Sends a complete Ethernet frame. Dropped and counted (tx_dropped) when the
  // device is down or the frame is empty; otherwise the kind's transmit runs.
  void transmit(Packet frame);

  // A frame arrived from this device's wire: queued on the device's backlog
  // (bounded by net.core.netdev_max_backlog of its namespace) and handed to
  // the namespace's stack by the next Host::poll. Drops are counted in
  // rx_dropped. Device kinds call this; applications use ChannelDevice.
  void receive(Packet frame);

  // Frames waiting in the backlog (for tests and dumps).
  std::size_t backlog_size() const { return rx_hook_.backlog_size(); }

  // One rx handler per device: device_or_resource_busy when another holds it
  // (a port already in a bridge, a lower device of both a bridge and a
  // macvlan). Whoever sets it clears it, at the latest when the device
  // unregisters (NetdevEvent::unregistering).
  [[nodiscard]] Result<void> set_rx_handler(RxHandler& handler);
  void clear_rx_handler() { rx_handler_ = nullptr; }
  RxHandler* rx_handler() const { return rx_handler_; }
  // Any number of observers; each removes itself by the time the device unregisters.
  void add_observer(FrameObserver& observer);
  void remove_observer(FrameObserver& observer);

  // Stacking, as Linux's adjacency lists: the devices directly on top of
  // this one (the bridge it is a port of, the macvlans on it) and directly
  // below it (a bridge's ports, a macvlan's lower), in the order they were
  // linked. The links never form a loop, whatever the namespaces, and no
  // stack is more than kMaxNestDevices high: every kind links through one
  // checked place, which refuses a link that would break either rule.
  std::span<Device* const> uppers() const { return uppers_; }
  std::span<Device* const> lowers() const { return lowers_; }
  // The one upper this device is enslaved to (a bridge), or nullptr:
  // netdev_master_upper_dev_get.
  Device* master_upper() const { return master_; }

  // Devices fed from outside the process (TAP, DPDK) are polled by every
  // Host::poll. The descriptor that turns readable when poll_rx has work, for
  // an event loop to wait on; -1 when the source can only be busy-polled.
  virtual bool polled() const { return false; }
  virtual int rx_fd() const { return -1; }

 protected:
  Device(Net& net, std::string_view name, DeviceKind kind, MacAddress mac, std::uint32_t mtu);

  // The kind's transmit: the device is up and the frame non-empty. Must
  // consume the frame (deliver, queue, or drop and count).
  virtual void xmit(Packet frame) = 0;
  // netif_carrier_on/off, for kinds whose link can come and go: every device
  // stacked on this one hears of it before this returns (no recursion: see
  // link_upper). A kind starts with carrier unless it turns it off in its
  // constructor; a device with lowers has its carrier set from them instead.
  void set_carrier(bool on);
  // A lower of this device started or stopped running (or was linked or
  // unlinked): called after this device's carrier followed. The bridge
  // flushes what a port that stopped learned, as br_port_carrier_check.
  // It must not link, unlink or destroy devices: the change is still going up.
  virtual void on_lower_change(Device& lower) { (void)lower; }
  // A device was stacked on this one or left it (`upper` is in uppers() or
  // not any more). A bridge takes the addresses of the devices on it as its
  // own, as Linux's dev_uc_add of a macvlan's address on its lower does.
  virtual void on_upper_change(Device& upper) { (void)upper; }
  // The kind's ndo_set_mac_address, called by set_mac before the address
  // changes: an error refuses the change and nothing changes. A kind that
  // keys a table by its address (a macvlan's lower) re-keys it here.
  [[nodiscard]] virtual Result<void> prepare_mac(MacAddress mac) {
    (void)mac;
    return {};
  }
  // Called after the administrative state changed (set_link_up).
  virtual void on_updown() {}
  // Called by set_mtu with a value already checked against [68, max_mtu()],
  // before it takes effect: a kind whose wire has an MTU of its own (a DPDK
  // port) applies it there, and an error refuses the change.
  [[nodiscard]] virtual Result<void> on_mtu_change(std::uint32_t mtu) {
    (void)mtu;
    return {};
  }
  // For polled() kinds, called by Host::poll while the device is up: moves
  // up to `budget` frames from the outside source into receive() and
  // returns how many it took.
  virtual std::size_t poll_rx(std::size_t budget) {
    (void)budget;
    return 0;
  }
  // For polled() kinds, from poll_rx: hands a frame to the namespace's stack
  // at once, as a NAPI poll calls netif_receive_skb, instead of queueing it
  // on the backlog as receive() does. Nothing recurses: whatever the stack
  // sends in return is queued or batched by the devices it leaves by.
  // Counted like receive(); dropped (rx_dropped) once the device is down or
  // going away, which a handler running on an earlier frame may have done.
  void deliver_now(Packet frame);
  // For polled() kinds, called by Host::poll after each round of receiving
  // and processing: sends what xmit batched (a DPDK tx burst).
  virtual void flush_tx() {}

  // For kinds: count a frame that left by the wire.
  void count_tx(std::size_t bytes) {
    ++stats_.tx_packets;
    stats_.tx_bytes += bytes;
  }
  // For kinds: called once when the device leaves its namespace for good
  // (a veth takes its peer down with it here).
  virtual void on_unregister() {}
  // For kinds: the device moved to another namespace.
  virtual void on_moved() {}

 private:
  friend class Net;
  friend class RxScheduler;  // the receive path: backlog, observers, poll_rx, flush_tx
  friend Result<void> change_net_namespace(Device& dev, Net& to, std::string_view name);
  friend Result<void> set_link_up(Device& dev, bool up);
  friend void unregister_and_free(Device& dev);
  friend Result<void> destroy_device(Device& dev);
  friend Result<void> set_link_faults(Device& dev, const LinkFaults& faults);
  friend class LinkFaultState;
  friend Result<void> link_upper(Device& lower, Device& upper, bool master);
  friend void unlink_upper(Device& lower, Device& upper);
  friend void propagate_running(Device& from);
  friend struct DevconfStore;

  void set_name(std::string_view name);
  // The kind's xmit, after the observers saw the frame. Inline: it is on
  // every frame's way out.
  void xmit_observed(Packet frame) {
    if (observed_) [[unlikely]] observe(frame, FrameDirection::tx);
    xmit(std::move(frame));
  }
  void observe(const Packet& frame, FrameDirection dir) {
    for (FrameObserver* o : observers_) o->observe(*this, frame, dir);
  }
  // A lower changed (started or stopped running, linked or unlinked): the
  // carrier follows the lowers, the kind hears of it. Whether this device's
  // running state changed with it.
  bool follow_lowers(Device& lower);
  // Drops whatever waits in the backlog (counted as rx_dropped) and leaves the ready list.
  void drop_backlog();

  // The packet path's fields come first, in three lines: with thousands of
  // namespaces busy each is a miss a frame. Line 0: what receive,
  // deliver_frame and transmit read (the vtable pointer is before them);
  // line 1: the backlog, the ready list and the receive counters; line 2:
  // the counters every transmitted frame adds to. The rest is control plane.
  Net* net_;
  DeviceKind kind_;
  bool up_ = false;
  bool carrier_ = true;
  bool unregistering_ = false;
  bool observed_ = false;               // observers_ is not empty: one load tells the packet path
  MacAddress mac_;                      // here, 1-aligned, it fills what the flags leave of 8 bytes
  std::uint32_t conf_on_ = 0;           // bit per DevconfId: conf_on()
  std::uint32_t mtu_;
  int ifindex_ = 0;
  RxHandler* rx_handler_ = nullptr;
  // netem on transmit, when set_link_faults gave any (else null: no cost).
  std::unique_ptr<LinkFaultState> faults_;
  // net_'s Host, which a device never leaves: receive reads it here, not
  // in a line of the Net.
  Host* host_;

  // The receive backlog and the device's place on the scheduler's ready list.
  alignas(64) detail::RxHook rx_hook_;

 protected:
  alignas(64) DeviceStats stats_;

 private:
  std::array<char, kMaxDeviceName> name_{};
  std::uint8_t name_len_ = 0;
  std::unique_ptr<DevconfDevice> conf_;  // made by the first value that is not the default
  std::vector<FrameObserver*> observers_;

  // Direct neighbours only; the master upper is also in uppers_.
  std::vector<Device*> uppers_;
  std::vector<Device*> lowers_;
  Device* master_ = nullptr;
};

// tc qdisc ... netem for in-process devices: every frame this device
// transmits meets `faults` (loss, duplication, corruption, delay with jitter,
// reordering), drawn from a generator seeded with faults.seed, so a failing
// test replays exactly. All zero removes them. invalid_argument (nothing
// changed) for a probability outside [0, 1] or a negative delay or jitter.
// Frames held for their delay are bounded (netem's limit, 1000) and dropped
// if the device goes down, moves or is destroyed.
[[nodiscard]] Result<void> set_link_faults(Device& dev, const LinkFaults& faults);

struct VethPair {
  Device* a;
  Device* b;
};

// A veth pair whose ends may be in different namespaces (ip link add A type veth peer name B netns N).
// invalid_argument for a bad name; file_exists when a name is taken in its
// namespace (or both ends share one name in one namespace); nothing is created then.
// The namespaces may be of two Hosts, each driven by its own thread: frames
// then cross through bounded rings (net.core.netdev_max_backlog of the
// receiving namespace; a full ring is the sender's tx_dropped), buffers go
// home to their pool without a copy, each end is a polled device, and
// destroying one end destroys the other at its Host's next poll. Neither
// Host may be running while the pair is made: for running Hosts, use the
// overload below.
[[nodiscard]] Result<VethPair> make_veth(Net& a, std::string_view name_a, Net& b, std::string_view name_b);
// The same between namespaces of Hosts of `group`, running or not: each end
// is made on its own Host's thread (HostGroup::run_on) while the caller
// waits, so call it from a thread that is not one of the group's. The
// errors above, and invalid_argument when a Host is not the group's;
// no_such_device when the first end was destroyed before the second was
// made (then neither exists).
[[nodiscard]] Result<VethPair> make_veth(Net& a, std::string_view name_a, Net& b, std::string_view name_b,
                                         HostGroup& group);

// Destroys a device (ip link del). A veth takes its peer with it; the loopback
// refuses with operation_not_permitted.
[[nodiscard]] Result<void> destroy_device(Device& dev);

// ip link set DEV up|down.
[[nodiscard]] Result<void> set_link_up(Device& dev, bool up = true);

// A device whose wire is the application: frames in with inject(), frames the
// stack sent out with read(). gVisor's link/channel, for tests and for apps
// that do their own I/O.
class ChannelDevice : public Device {
 public:
  static constexpr std::size_t kDefaultOutboundLimit = 1024;

  void inject(std::span<const std::byte> frame);         // as if received on the wire
  void inject(Packet frame);
  std::optional<std::vector<std::byte>> read();         // next frame the stack transmitted
  std::optional<Packet> read_packet();                  // the same, without copying it out
  std::size_t pending() const { return outbound_.size(); }

 private:
  friend Result<ChannelDevice*> make_channel(Net&, std::string_view);
  ChannelDevice(Net& net, std::string_view name, MacAddress mac);
  void xmit(Packet frame) override;

  BoundedQueue<Packet> outbound_{kDefaultOutboundLimit};
};

[[nodiscard]] Result<ChannelDevice*> make_channel(Net& net, std::string_view name);

}  // namespace netns
