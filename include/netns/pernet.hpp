// netns/pernet.hpp — per-namespace operations and per-namespace state.
//
// The pattern of Linux's net_namespace.c: a subsystem registers a PernetOps
// with the Host; init runs for every namespace (existing ones at registration,
// new ones at creation) and exit when a namespace dies. Its state lives in a
// typed slot of the namespace (Linux's net_generic), not in Net itself:
//
//   struct Conntrack { std::size_t entries = 0; };
//   class ConntrackOps : public PernetOps {
//    public:
//     explicit ConntrackOps(Host& host) : state_(host) {}
//     Result<void> init(Net& net) override { state_.emplace(net); return {}; }
//     void exit(Net& net) override { state_.reset(net); }
//     PernetSlot<Conntrack> state_;
//   };
//   ConntrackOps ops(host);
//   host.register_pernet_subsys(ops);       // runs init on every namespace
//   ops.state_.get(net).entries;
#pragma once

#include <cstddef>
#include <utility>

#include "netns/result.hpp"

namespace netns {

class Net;
class Host;

class PernetOps {
 public:
  virtual ~PernetOps() = default;
  // Sets up this subsystem in `net`. On error nothing of it may remain.
  [[nodiscard]] virtual Result<void> init(Net& net) = 0;
  // Tears it down; runs only on namespaces where init succeeded.
  virtual void exit([[maybe_unused]] Net& net) {}

 private:
  friend class Host;
  Host* host_ = nullptr;  // the Host it is registered with, if any
  bool builtin_ = false;  // one of the Host's own: never unregistered while the Host lives
};

// Type-erased slot storage inside a Net.
struct PernetSlotEntry {
  void* object = nullptr;
  void (*destroy)(void*) = nullptr;
};

// A typed slot in every namespace of one Host. The slot id comes from the
// Host, so two Hosts never share slot numbering (there is no global registry).
template <class T>
class PernetSlot {
 public:
  explicit PernetSlot(Host& host);

  // The state in `net`. Precondition: emplace() ran on it (init succeeded).
  T& get(Net& net) const;
  // The state, or nullptr when this slot is empty in `net`.
  T* find(Net& net) const;
  // The same for a slot whose id is known when compiling (a built-in's that
  // checks its id): the namespace alone leads to it, no slot object first.
  template <std::size_t Id>
  static T* find_fixed(Net& net);
  // Constructs the state in `net`, replacing any previous one.
  template <class... Args>
  T& emplace(Net& net, Args&&... args);
  // Destroys the state in `net` (no-op when empty).
  void reset(Net& net);

  std::size_t id() const { return id_; }

 private:
  std::size_t id_;
};

}  // namespace netns
