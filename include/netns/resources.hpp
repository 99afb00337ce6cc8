// netns/resources.hpp — what one namespace may take from its Host: sockets
// and the memory of the packets it holds.
//
// Every namespace of a Host shares one process: its packet buffers, its
// memory, its sockets. Two per-namespace caps keep one namespace from
// exhausting them for the others (Linux's nearest are RLIMIT_NOFILE and a
// memory cgroup's socket memory):
//
//   net.core.sockets_max      sockets open in the namespace (UDP, ping, TCP
//                             listeners and streams a user holds). Opening or
//                             accepting one more fails with
//                             too_many_files_open (EMFILE) and changes nothing.
//   net.core.packet_mem_max   bytes of packets the namespace holds beyond
//                             the poll they arrived in (socket receive and
//                             out-of-order queues, fragments being
//                             reassembled), each charged its truesize. A
//                             packet that would take the namespace over is
//                             dropped and counted (IpExtPacketMemDrops, with
//                             the protocol's own counter: UdpMemErrors,
//                             TcpExtTCPRcvQDrop, IpReasmFails...).
//
//   auto slot = net.resources().open_socket();   // Result<SocketSlot>
//   PacketCharge charged(net.resources());       // a queue's share
//   if (!charged.try_add(p.truesize())) drop and count;
//   charged -= p.truesize();                     // when the queue lets go
//
// Both caps are read when they are consulted: lowering one refuses what
// comes next and takes nothing back. Charging is two additions and a
// compare: the packet path pays nothing measurable for it.
#pragma once

#include <cstddef>
#include <utility>

#include "netns/result.hpp"
#include "netns/sysctl.hpp"

namespace netns {

class NetResources;

// One of the namespace's net.core.sockets_max, held by an open socket as
// a file descriptor holds one of RLIMIT_NOFILE; given back when destroyed.
// Move-only.
class SocketSlot {
 public:
  SocketSlot() = default;
  SocketSlot(SocketSlot&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
  SocketSlot& operator=(SocketSlot&& other) noexcept {
    if (this != &other) {
      reset();
      owner_ = std::exchange(other.owner_, nullptr);
    }
    return *this;
  }
  SocketSlot(const SocketSlot&) = delete;
  SocketSlot& operator=(const SocketSlot&) = delete;
  ~SocketSlot() { reset(); }

  explicit operator bool() const { return owner_ != nullptr; }
  inline void reset();

 private:
  friend class NetResources;
  explicit SocketSlot(NetResources* owner) : owner_(owner) {}
  NetResources* owner_ = nullptr;
};

// A namespace's account of sockets and packet memory (net.resources()).
// The Host's thread only, like everything on the packet path.
class NetResources {
 public:
  explicit NetResources(const Sysctl& sysctl) : sysctl_(&sysctl) {}
  NetResources(const NetResources&) = delete;
  NetResources& operator=(const NetResources&) = delete;

  // A slot for a new socket; too_many_files_open (EMFILE) at sockets_max.
  [[nodiscard]] Result<SocketSlot> open_socket() {
    if (sockets_ >= cap(SysctlId::core_sockets_max)) return error(Errc::too_many_files_open);
    ++sockets_;
    return SocketSlot(this);
  }
  std::size_t sockets() const { return sockets_; }

  // The truesize of every packet the namespace's queues hold now.
  std::size_t packet_memory() const { return packet_memory_; }
  std::size_t packet_memory_max() const { return cap(SysctlId::core_packet_mem_max); }
  // Whether `truesize` more stays within packet_mem_max. A hard cap, unlike
  // a socket's buffer, which takes one packet over: the namespace's queues
  // together may not take more than it.
  bool admits(std::size_t truesize) const {
    return packet_memory_ + truesize <= packet_memory_max();
  }

 private:
  friend class SocketSlot;
  friend class PacketCharge;

  std::size_t cap(SysctlId id) const { return static_cast<std::size_t>(sysctl_->value(id)); }

  const Sysctl* sysctl_;
  std::size_t sockets_ = 0;
  std::size_t packet_memory_ = 0;
};

void SocketSlot::reset() {
  if (owner_ != nullptr) --std::exchange(owner_, nullptr)->sockets_;
}

// The packet memory one queue holds, charged to its namespace as it
// changes, so the namespace's total is always the sum of its queues'. It
// reads as the queue's own total (sk_rmem_alloc). A queue that lets go of
// everything at once (destroyed, cleared) gives it all back. Neither
// copyable nor movable: the account must outlive it, and a queue is
// destroyed before its namespace.
class PacketCharge {
 public:
  explicit PacketCharge(NetResources& account) : account_(&account) {}
  PacketCharge(const PacketCharge&) = delete;
  PacketCharge& operator=(const PacketCharge&) = delete;
  ~PacketCharge() { clear(); }

  operator std::size_t() const { return bytes_; }  // NOLINT: reads as the total it is
  // Charges `n` whatever the cap (a collapse briefly holding both copies,
  // a queue that must take one packet so data can move).
  PacketCharge& operator+=(std::size_t n) {
    bytes_ += n;
    account_->packet_memory_ += n;
    return *this;
  }
  PacketCharge& operator-=(std::size_t n) {
    bytes_ -= n;
    account_->packet_memory_ -= n;
    return *this;
  }
  // Charges `n` if the namespace admits it; false, nothing charged, if not.
  [[nodiscard]] bool try_add(std::size_t n) {
    if (!account_->admits(n)) return false;
    *this += n;
    return true;
  }
  void clear() { *this -= bytes_; }
  const NetResources& account() const { return *account_; }

 private:
  NetResources* account_;
  std::size_t bytes_ = 0;
};

}  // namespace netns
