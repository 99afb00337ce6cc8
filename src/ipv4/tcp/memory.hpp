// ipv4/tcp/memory.hpp — net.ipv4.tcp_mem: the memory TCP's queues hold in
// one namespace, and its memory pressure (Linux's tcp_memory_allocated,
// tcp_memory_pressure and __sk_mem_raise_allocated, net/core/sock.c).
//
// Linux keeps one account per protocol for the whole machine; netns keeps
// one per namespace, like every other limit, so one namespace's load never
// puts another's TCP under pressure. tcp_mem is in pages of 4096 bytes, as
// Linux's; what is counted is in bytes:
// - receive and out-of-order queues: the truesize of every packet held
//   (ReceiveBuffer, as sk_rmem_alloc);
// - send queues: the storage of the send ring, allocated or not yet
//   filled (SendBuffer::memory(), as sk_wmem_queued counts whole skbs).
//
//   TcpMemory& mem = tn.memory;
//   if (!mem.admits_receive(rb.charged(), truesize)) prune, then drop;
//   mem.charge(n); ... mem.uncharge(n);
//
// Above tcp_mem[1] the namespace's TCP is under memory pressure
// (TcpExtTCPMemoryPressures counts each entry; TcpExtTCPMemoryPressuresChrono
// the milliseconds spent in it, counted on leaving) until it falls below
// tcp_mem[0]: receive windows stop growing and shrink towards four
// segments, send buffers are not expanded. Above tcp_mem[2] receive queues
// refuse data (sk_rmem_schedule fails: out-of-order data is pruned first,
// then the segment dropped), except a segment into an empty queue, which
// lets data move (sk_forced_mem_schedule).
#pragma once

#include <cstddef>
#include <optional>

#include "netns/clock.hpp"

namespace netns {
class Net;
}  // namespace netns

namespace netns::tcp {

class TcpMemory {
 public:
  static constexpr std::size_t kPageSize = 4096;  // tcp_mem's unit

  explicit TcpMemory(Net& net) : net_(net) {}
  TcpMemory(const TcpMemory&) = delete;
  TcpMemory& operator=(const TcpMemory&) = delete;

  // Bytes held by every TCP queue of the namespace.
  std::size_t allocated() const { return allocated_; }
  bool under_pressure() const { return pressure_since_.has_value(); }  // tcp_under_memory_pressure
  // tcp_mem[i] in bytes.
  std::size_t limit(std::size_t i) const;

  // Sockets that may hold memory (tcp_sockets_allocated): each one's fair
  // share under pressure is tcp_mem[2] divided among them.
  void add_socket() { ++sockets_; }
  void remove_socket() { --sockets_; }

  // Whether a receive queue holding `held` bytes may take a packet of
  // `truesize` more (__sk_mem_raise_allocated for SK_MEM_RECV): always
  // below tcp_mem[0] (leaving pressure), never above tcp_mem[2]; between,
  // while the queue holds less than tcp_rmem[0], while not under pressure,
  // or while the socket holds less than its fair share. Enters pressure
  // above tcp_mem[1]. Charges nothing: the queue charges what it keeps.
  bool admits_receive(std::size_t held, std::size_t truesize);
  // Whether the send buffer may grow (tcp_should_expand_sndbuf's test):
  // not under pressure nor above tcp_mem[0].
  bool admits_send_growth() const { return !under_pressure() && allocated_ < limit(0); }

  void charge(std::size_t n) { allocated_ += n; }
  // Falling below tcp_mem[0] ends the pressure (__sk_mem_reduce_allocated).
  void uncharge(std::size_t n) {
    allocated_ -= n;
    if (under_pressure() && allocated_ < limit(0)) leave_pressure();
  }

 private:
  void enter_pressure();  // tcp_enter_memory_pressure
  void leave_pressure();  // tcp_leave_memory_pressure

  Net& net_;
  std::size_t allocated_ = 0;
  std::size_t sockets_ = 0;
  std::optional<Clock::time_point> pressure_since_;
};

}  // namespace netns::tcp
