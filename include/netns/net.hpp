// netns/net.hpp — a network namespace, and the references that keep it.
//
// A Net holds what Linux keeps in `struct net`: its devices (loopback
// included), its sysctls and counters, and one slot per registered subsystem
// for that subsystem's state (addresses, routes, sockets...). Every layer is
// handed the Net it works in; there is no current namespace.
//
//   Result<NetRef> blue = host.create_net("blue");
//   Net& net = **blue;
//   net.device("lo")->ifindex() == 1;
//   NetHold weak(net);              // keeps the memory, not the namespace
//   blue->reset();                  // last strong ref: queued, torn down by the next poll
//   weak.lock();                    // empty NetRef from now on
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <ranges>
#include <source_location>
#include <string>
#include <string_view>
#include <vector>

#include "netns/counters.hpp"
#include "netns/device.hpp"
#include "netns/pernet.hpp"
#include "netns/resources.hpp"
#include "netns/sysctl.hpp"

namespace netns {

class Host;
class Net;
class NetHold;
namespace detail {
template <class T, std::size_t kPerChunk>
class Slab;
}

// A strong reference (get_net/put_net): the namespace stays alive while one
// exists. Copyable and movable; may be dropped on any thread.
class NetRef {
 public:
  NetRef() = default;
  NetRef(const NetRef& other);
  NetRef(NetRef&& other) noexcept : net_(other.net_) { other.net_ = nullptr; }
  NetRef& operator=(const NetRef& other);
  NetRef& operator=(NetRef&& other) noexcept;
  ~NetRef() { reset(); }

  Net* get() const { return net_; }
  Net& operator*() const { return *net_; }
  Net* operator->() const { return net_; }
  explicit operator bool() const { return net_ != nullptr; }
  void reset();

  friend bool operator==(const NetRef& a, const NetRef& b) { return a.net_ == b.net_; }

 private:
  friend class Net;
  friend class Host;
  explicit NetRef(Net* adopted) : net_(adopted) {}
  Net* net_ = nullptr;
};

// A passive reference (hold_net/release_net): keeps the Net's memory, not the
// namespace. It remembers where it was taken so a hold that outlives the
// namespace's teardown is reported as a leak naming its holder.
class NetHold {
 public:
  NetHold() = default;
  explicit NetHold(Net& net, std::source_location where = std::source_location::current());
  NetHold(const NetHold& other);
  NetHold(NetHold&& other) noexcept;
  NetHold& operator=(const NetHold& other);
  NetHold& operator=(NetHold&& other) noexcept;
  ~NetHold() { reset(); }

  // A strong reference, or an empty one once the namespace is dying.
  NetRef lock() const;
  // The namespace's memory (valid while held); it may already be dead.
  Net* get() const { return net_; }
  std::source_location where() const { return where_; }
  void reset();

 private:
  friend class Net;
  friend class Host;
  void link(Net* net);
  void unlink();

  Net* net_ = nullptr;
  std::source_location where_{};
  NetHold* prev_ = nullptr;
  NetHold* next_ = nullptr;
};

// 64-aligned: its first two lines are the packet path's (below).
class alignas(64) Net {
 public:
  Net(const Net&) = delete;
  Net& operator=(const Net&) = delete;

  Host& host() const { return *host_; }
  std::uint32_t id() const { return id_; }
  std::string_view name() const { return name_; }
  // Dying: the last strong reference is gone; teardown is queued or done.
  bool is_dying() const { return refs_.load(std::memory_order_acquire) == 0; }

  Device& loopback() const { return *loopback_; }
  Device* device(std::string_view name) const;
  Device* device(int ifindex) const;
  // Every device, in ifindex order.
  auto devices() const {
    return devices_ | std::views::transform([](const std::unique_ptr<Device>& d) -> Device& {
             return *d;
           });
  }
  std::size_t device_count() const { return devices_.size(); }

  Sysctl& sysctl() { return sysctl_; }
  const Sysctl& sysctl() const { return sysctl_; }
  Counters& counters() { return counters_; }
  const Counters& counters() const { return counters_; }
  // Sockets open and packet memory held, against net.core.sockets_max and
  // net.core.packet_mem_max (netns/resources.hpp).
  NetResources& resources() { return resources_; }
  const NetResources& resources() const { return resources_; }

  // A new strong reference; empty when the namespace is already dying.
  NetRef ref();

  // ---- for device kinds and the core ----
  // Linux's register_netdevice, the one door every device kind comes in by:
  // takes ownership of a new device, assigns an ifindex (the preferred one
  // when free) and announces it. Refused with check_new_device's errors, the
  // device then destroyed and nothing changed.
  [[nodiscard]] Result<Device*> register_device(std::unique_ptr<Device> dev, int preferred_ifindex = 0);
  // What register_device checks, for a kind to ask before it does anything
  // it would have to undo (opening a TAP, claiming a DPDK port, stacking on a
  // lower): invalid_argument for a name is_valid_device_name refuses or a
  // dying namespace, file_exists when the name is taken here.
  [[nodiscard]] Result<void> check_new_device(std::string_view name) const;
  // Announces the device's departure and gives it back (the caller destroys or moves it).
  std::unique_ptr<Device> unregister_device(Device& dev);
  // True when `name` is free here.
  bool name_free(std::string_view name) const { return device(name) == nullptr; }
  // The first free name for a pattern with "%d" (e.g. "dev%d"); empty when none.
  std::string unique_name(std::string_view pattern) const;

 private:
  friend class Host;
  friend class NetRef;
  friend class NetHold;
  template <class T> friend class PernetSlot;
  template <class T, std::size_t kPerChunk> friend class detail::Slab;
  friend class LoopbackOps;

  enum class State : std::uint8_t { creating, alive, dying, exited };

  Net(Host& host, std::uint32_t id, std::string_view name);
  ~Net();
  void put();
  int allocate_ifindex(int preferred) const;
  PernetSlotEntry& slot(std::size_t id);

  // The packet path's fields first: with thousands of namespaces busy each
  // line is a miss a frame. Line 0: the subsystems' state of the first slot
  // ids (PernetSlot::find reads nothing else) and the pointer to the Ip
  // counters' block (Counters begins with it), so a datagram's counters
  // cost the block's line alone; line 1: the other blocks'. A device keeps
  // its own pointer to the Host, which receive reads.
  static constexpr std::size_t kFastSlots = 7;
  std::array<void*, kFastSlots> fast_slots_{};  // slots_[id].object for id < kFastSlots
  Counters counters_;
  Host* host_;
  std::atomic<std::uint32_t> refs_{1};
  std::uint32_t id_;
  State state_ = State::creating;
  std::uint32_t hold_count_ = 0;
  NetHold* holds_ = nullptr;          // every live hold, to name leaks
  Net* prev_ = nullptr;               // the Host's list, in creation order
  Net* next_ = nullptr;
  Net* cleanup_next_ = nullptr;       // the Host's lock-free queue of dying namespaces
  std::string name_;
  Device* loopback_ = nullptr;
  int last_ifindex_ = 0;
  std::vector<std::unique_ptr<Device>> devices_;  // sorted by ifindex
  std::vector<PernetSlotEntry> slots_;
  Sysctl sysctl_;
  NetResources resources_{sysctl_};
};

// ---- PernetSlot, inline: the packet path reaches subsystem state through it ----

template <class T>
T& PernetSlot<T>::get(Net& net) const {
  return *find(net);
}

template <class T>
T* PernetSlot<T>::find(Net& net) const {
  if (id_ < Net::kFastSlots) return static_cast<T*>(net.fast_slots_[id_]);
  return id_ < net.slots_.size() ? static_cast<T*>(net.slots_[id_].object) : nullptr;
}

template <class T>
template <std::size_t Id>
T* PernetSlot<T>::find_fixed(Net& net) {
  static_assert(Id < Net::kFastSlots, "a fixed slot is one of the first, held in Net itself");
  return static_cast<T*>(net.fast_slots_[Id]);
}

template <class T>
template <class... Args>
T& PernetSlot<T>::emplace(Net& net, Args&&... args) {
  reset(net);
  PernetSlotEntry& e = net.slot(id_);
  T* object = new T(std::forward<Args>(args)...);
  e.object = object;
  e.destroy = [](void* p) { delete static_cast<T*>(p); };
  if (id_ < Net::kFastSlots) net.fast_slots_[id_] = object;
  return *object;
}

template <class T>
void PernetSlot<T>::reset(Net& net) {
  if (id_ >= net.slots_.size()) return;
  PernetSlotEntry& e = net.slots_[id_];
  if (e.object != nullptr) {
    void* object = e.object;
    e.object = nullptr;
    if (id_ < Net::kFastSlots) net.fast_slots_[id_] = nullptr;
    e.destroy(object);
  }
}

}  // namespace netns
