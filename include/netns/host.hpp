// netns/host.hpp — the Host: every namespace of one process, and the loop that drives them.
//
// A Host owns the namespaces (init_net first), the registered pernet
// operations, the packet pool, the timers and the receive scheduler (rx():
// the devices' backlogs, the polled devices, the ethertype table). One thread
// drives it: all work happens in poll(now).
//
//   netns::Host host;
//   auto blue = host.create_net("blue").value();
//   auto red = host.create_net("red").value();
//   auto veth = netns::make_veth(*blue, "eth0", *red, "eth0").value();
//   ...
//   auto next = host.poll(clock.now());   // the next instant poll has work
//
// Two things may be done from any thread: dropping a NetRef, and post().
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "netns/clock.hpp"
#include "netns/detail/slab.hpp"
#include "netns/devconf.hpp"
#include "netns/device.hpp"
#include "netns/net.hpp"
#include "netns/packet_pool.hpp"
#include "netns/pernet.hpp"
#include "netns/result.hpp"
#include "netns/rx_scheduler.hpp"
#include "netns/timer.hpp"

namespace netns {

class Builtins;  // the built-in subsystems: src/stack/builtins.hpp
namespace detail {
// Defined with Builtins, so that this header needs none of their definitions.
struct BuiltinsDeleter {
  void operator()(Builtins* builtins) const noexcept;
};
}  // namespace detail

struct HostConfig {
  // Keys every hash (route cache, ISNs, ephemeral ports). Random when absent;
  // set it to make a run replay exactly.
  std::optional<std::uint64_t> secret;
  // Frames and timers one poll() handles at most before returning, so a
  // packet loop between namespaces cannot starve the caller.
  std::size_t poll_budget = 65536;
  // Free standard-size packet buffers kept for reuse.
  std::size_t packet_cache = 4096;
  // Where leak reports and other diagnostics go; stderr when empty.
  std::function<void(std::string_view)> log;
  // The time before the first poll().
  Clock::time_point start{};
  // How the Host's clock maps to UTC, which the stack needs for ICMP
  // timestamps (RFC 792) and the IP Timestamp option: UTC since the Unix
  // epoch = the time poll() was given + utc_offset. Absent, the Host does not
  // know UTC and says so as RFC 791 asks: those timestamps have their high
  // bit set and count milliseconds of the Host's clock instead. A program on
  // the real clock sets it to netns::system_utc_offset(); tests pin it.
  std::optional<std::chrono::nanoseconds> utc_offset;
};

struct HostStats {
  std::size_t live_nets = 0;       // on the list, init_net included
  std::size_t dying_nets = 0;      // queued for teardown, or exited and waiting for holds
  std::uint64_t leaked_holds = 0;  // holds still present when their namespace finished exiting
  std::uint64_t packet_copies = 0;
  std::uint64_t nets_created = 0, nets_freed = 0;
  std::size_t net_objects = 0;     // Net objects allocated from the pool (live + dying)
  std::size_t packets_in_use = 0;
  std::size_t timers_pending = 0;
};

// Device events a subsystem can follow (Linux's netdevice notifier chain).
// address_changed is the MAC; inet_address_removed an IPv4 or IPv6 address
// of the device deleted (the inetaddr and inet6addr chains' NETDEV_DOWN).
enum class NetdevEvent : std::uint8_t {
  registered,
  unregistering,
  up,
  down,
  mtu_changed,
  address_changed,
  inet_address_removed,
};

class NetdevListener {
 public:
  virtual ~NetdevListener() = default;
  virtual void on_netdev_event(NetdevEvent event, Device& dev) = 0;
};

class Host {
 public:
  explicit Host(HostConfig config = {});
  ~Host();  // tears every namespace down, init_net last
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  Net& init_net() { return *init_net_; }
  // clone(CLONE_NEWNET): a namespace with its loopback, every pernet init run.
  // file_exists when `name` is taken by a live namespace, invalid_argument for
  // a name with '/' or NUL, too_many_files_open when ids are exhausted.
  [[nodiscard]] Result<NetRef> create_net(std::string_view name = {});
  NetRef find_net(std::string_view name);
  std::size_t net_count() const { return live_nets_.load(std::memory_order_relaxed); }
  // f(Net&) for every live namespace, in creation order; f may drop references
  // and create namespaces (those made during the walk are not visited).
  template <class F>
  void for_each_net(F&& f);

  [[nodiscard]] Result<void> register_pernet_subsys(PernetOps& ops);
  [[nodiscard]] Result<void> register_pernet_device(PernetOps& ops);
  void unregister_pernet_subsys(PernetOps& ops) { unregister_pernet(ops); }
  void unregister_pernet_device(PernetOps& ops) { unregister_pernet(ops); }

  // dev_change_net_namespace. See docs/ARCHITECTURE.md, section 8.
  // invalid_argument for a namespace of another Host: a device stays in its Host.
  [[nodiscard]] Result<void> move_device(Device& dev, Net& to, std::string_view new_name = {});

  // Does everything due at `now` and returns when it next has work
  // (`now` again when the budget ran out, time_point::max() when idle).
  Clock::time_point poll(Clock::time_point now);
  // Any thread: fn runs on the Host's thread in the next poll.
  void post(std::function<void()> fn);
  HostStats stats() const;

  // ---- for subsystems and device kinds ----
  Clock::time_point now() const { return now_; }
  // Whether poll() is running. Outside it (the user's calls between polls)
  // now() is still the last poll's time, earlier than the real one.
  bool polling() const { return polling_; }
  // Counts the rounds of poll's loop (timers, devices, backlogs): what one
  // sender hands the devices within a round all waits in their queues
  // together, so a sender bounds itself per round (TCP's kMaxBurst).
  std::uint64_t poll_round() const { return poll_round_; }
  // UTC now, since the Unix epoch, when HostConfig::utc_offset says how to
  // find it; nullopt otherwise.
  std::optional<std::chrono::nanoseconds> utc_now() const {
    if (!config_.utc_offset) return std::nullopt;
    return std::chrono::duration_cast<std::chrono::nanoseconds>(now_.time_since_epoch()) + *config_.utc_offset;
  }
  std::uint64_t secret() const { return secret_; }
  PacketPool& packets() { return packets_; }
  TimerQueue& timers() { return timers_; }
  std::size_t allocate_slot_id() { return next_slot_id_++; }
  // The receive path of every namespace (netns/rx_scheduler.hpp).
  RxScheduler& rx() { return rx_; }
  const RxScheduler& rx() const { return rx_; }
  // rx().add_packet_handler: one PacketHandler per ethertype (file_exists).
  [[nodiscard]] Result<void> add_packet_handler(std::uint16_t ethertype, PacketHandler& handler) {
    return rx_.add_packet_handler(ethertype, handler);
  }
  void remove_packet_handler(std::uint16_t ethertype) { rx_.remove_packet_handler(ethertype); }
  void add_netdev_listener(NetdevListener& listener);
  void remove_netdev_listener(NetdevListener& listener);
  void notify(NetdevEvent event, Device& dev);
  // The layer told of changes to a family's per-device sysctls
  // (netns/devconf.hpp: DevconfListener); null removes it. One per family.
  void set_devconf_listener(DevconfFamily family, DevconfListener* listener) {
    devconf_listeners_[static_cast<std::size_t>(family)] = listener;
  }
  DevconfListener* devconf_listener(DevconfFamily family) const {
    return devconf_listeners_[static_cast<std::size_t>(family)];
  }
  void log(std::string_view message) const;
  // Deterministic pseudo-random numbers keyed by the secret (MAC addresses, faults).
  std::uint64_t next_random();
  // init_net while it is alive; nullptr while the Host is being destroyed.
  Net* home_net() const { return init_net_.get(); }
  // Devices fed from outside the process (Device::polled(): TAP, DPDK) in
  // every namespace, which poll() asks for frames; the version changes
  // whenever one comes or goes, so an event loop knows to rewatch rx_fd()s.
  std::span<Device* const> polled_devices() const { return rx_.polled_devices(); }
  std::uint64_t polled_devices_version() const { return rx_.polled_devices_version(); }
  // Takes a device that left its namespace for good; frees it at the end of
  // the current poll, or at once outside poll.
  void retire_device(std::unique_ptr<Device> dev);
  // The built-in subsystems, built with the Host and destroyed with it: how
  // an entry point given only a Net reaches one (src/stack/builtins.hpp).
  Builtins& builtins() const { return *builtins_; }

 private:
  friend class Net;
  friend class NetRef;
  friend class NetHold;

  Net* first_live(Net* from);
  [[nodiscard]] Result<void> register_pernet(PernetOps& ops, bool device);
  void unregister_pernet(PernetOps& ops);
  [[nodiscard]] Result<void> setup_net(Net& net);
  void link_net(Net& net);
  void unlink_net(Net& net);
  void schedule_cleanup(Net& net);     // any thread
  void cleanup_dying();
  void exit_nets(std::vector<Net*>& batch);
  void finish_exit(Net& net);
  void free_net(Net& net);
  void report_leaks(Net& net);
  void run_posted();
  void teardown_all();
  void unregister_remaining_devices(Net& net);
  void run_device_todo();

  HostConfig config_;
  std::uint64_t secret_;
  Clock::time_point now_;
  detail::Slab<Net> net_pool_;
  PacketPool packets_;
  TimerQueue timers_;

  // Pernet operations: subsystems first, then devices (Linux's first_device).
  std::vector<PernetOps*> ops_;
  std::size_t first_device_ = 0;
  std::size_t next_slot_id_ = 0;
  std::unique_ptr<Builtins, detail::BuiltinsDeleter> builtins_;

  // The namespace list, in creation order, and the names of live ones.
  Net* head_ = nullptr;
  Net* tail_ = nullptr;
  std::unordered_map<std::string, Net*> names_;
  std::uint32_t next_id_ = 1;
  std::atomic<std::size_t> live_nets_{0};
  std::atomic<std::size_t> queued_nets_{0};
  std::size_t exited_nets_ = 0;    // exited, memory kept by holds
  std::atomic<Net*> cleanup_head_{nullptr};
  std::uint64_t leaked_holds_ = 0;
  std::uint64_t nets_created_ = 0, nets_freed_ = 0;
  NetRef init_net_;
  bool polling_ = false;
  std::uint64_t poll_round_ = 0;
  std::uint64_t random_state_ = 0;
  std::vector<std::unique_ptr<Device>> device_todo_;

  RxScheduler rx_;
  std::vector<NetdevListener*> listeners_;
  std::array<DevconfListener*, 2> devconf_listeners_{};  // by DevconfFamily

  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
  std::atomic<bool> has_posted_{false};
};

template <class F>
void Host::for_each_net(F&& f) {
  // Nets leave the list only in poll(), and memory is freed only there, so
  // the walk stays valid even when f drops the last reference to one.
  Net* last = tail_;
  for (Net* net = head_; net != nullptr; net = net->next_) {
    if (!net->is_dying() && net->state_ == Net::State::alive) f(*net);
    if (net == last) break;
  }
}

template <class T>
PernetSlot<T>::PernetSlot(Host& host) : id_(host.allocate_slot_id()) {}

}  // namespace netns
