// netns/host_group.hpp — several Hosts, one per core, each driven by a
// thread of its own: how an application uses every core without sharing
// anything on the packet path (Seastar's shards, VPP's workers).
//
//   netns::HostGroup group({.hosts = 2});
//   auto a = group.host(0).create_net("a").value();    // set up before start(),
//   auto b = group.host(1).create_net("b").value();    // from one thread
//   auto veth = netns::make_veth(*a, "eth0", *b, "eth0").value();   // across Hosts
//   group.start();                                     // thread i polls Host i
//   auto more = netns::make_veth(*a, "eth1", *b, "eth1", group).value();  // while running
//   group.run_on(1, [&](netns::Host&) { ... });        // on Host 1's thread; waits
//   group.run_on_all([](netns::Host& h) { ... });      // on every Host's thread; waits for all
//   group.stop();                                      // the threads finish their poll and join
//
// Host i is the one for core i: its thread is pinned to CPU i (modulo the
// CPUs there are) when the group pins, and it polls on the real clock,
// busily, since frames from a polled device (a DPDK queue, a veth from
// another Host) come without telling. After stop() the calling thread owns
// every Host again and may drive them in turn. The group destroys its Hosts
// in reverse order; whatever traffic was in flight between them, every
// buffer goes home or is freed (PacketPool::lend), none is lost or leaked.
// What the application holds in a Host (NetRefs, sockets) must be let go
// before the group goes, as for a single Host.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "netns/host.hpp"

namespace netns {

struct HostGroupConfig {
  std::size_t hosts = 1;
  // Every Host's configuration; a given secret becomes secret + i for Host
  // i, so no two Hosts share their hashes' keys.
  HostConfig host;
  // Thread i on CPU i (modulo the CPUs there are). A CPU that cannot be
  // had leaves the thread wherever the system puts it.
  bool pin_threads = true;
};

class HostGroup {
 public:
  // The Hosts, not running yet. Precondition: config.hosts >= 1.
  explicit HostGroup(HostGroupConfig config);
  // stop(), then the Hosts are destroyed, the last first.
  ~HostGroup();
  HostGroup(const HostGroup&) = delete;
  HostGroup& operator=(const HostGroup&) = delete;

  std::size_t size() const { return hosts_.size(); }
  // The Host of core `index`. Precondition: index < size().
  Host& host(std::size_t index) { return *hosts_.at(index); }
  // The index of one of the group's Hosts; empty for another Host.
  std::optional<std::size_t> index_of(const Host& host) const;

  // Each Host's thread starts polling it. Nothing when running.
  void start();
  bool running() const { return !threads_.empty(); }
  // Each thread finishes the poll it is in and joins; every Host is the
  // calling thread's again. Nothing when not running.
  void stop();

  // fn(host(index)) on that Host's thread, in its next poll, and waits for
  // it; on the calling thread when the group is not running. Must not be
  // called from one of the group's threads (it would wait for itself).
  void run_on(std::size_t index, const std::function<void(Host&)>& fn);
  // fn on every Host's thread at once, waiting for all of them; in index
  // order on the calling thread when the group is not running.
  void run_on_all(const std::function<void(Host&)>& fn);

 private:
  void drive(std::stop_token stop, std::size_t index);

  HostGroupConfig config_;
  std::vector<std::unique_ptr<Host>> hosts_;
  std::vector<std::jthread> threads_;
  std::chrono::steady_clock::time_point epoch_;
};

}  // namespace netns
