// net.ipv4.tcp_mem, after Linux's __sk_mem_raise_allocated (net/core/sock.c)
// and tcp_enter_memory_pressure / tcp_leave_memory_pressure (tcp.c).
#include "ipv4/tcp/memory.hpp"

#include <chrono>

#include "netns/host.hpp"
#include "netns/net.hpp"

namespace netns::tcp {

std::size_t TcpMemory::limit(std::size_t i) const {
  return static_cast<std::size_t>(net_.sysctl().value(SysctlId::tcp_mem, i)) * kPageSize;
}

bool TcpMemory::admits_receive(std::size_t held, std::size_t truesize) {
  const std::size_t after = allocated_ + truesize;
  if (after <= limit(0)) {
    if (under_pressure()) leave_pressure();
    return true;
  }
  if (after > limit(1)) enter_pressure();
  if (after > limit(2)) return false;
  // A minimum buffer is guaranteed even under pressure.
  if (held < static_cast<std::size_t>(net_.sysctl().value(SysctlId::tcp_rmem, 0))) return true;
  if (!under_pressure()) return true;
  return limit(2) > sockets_ * (held + truesize);
}

void TcpMemory::enter_pressure() {
  if (under_pressure()) return;
  pressure_since_ = net_.host().now();
  net_.counters().add(Counter::TcpExtTCPMemoryPressures);
}

void TcpMemory::leave_pressure() {
  const auto since = *pressure_since_;
  pressure_since_.reset();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(net_.host().now() - since);
  net_.counters().add(Counter::TcpExtTCPMemoryPressuresChrono, static_cast<std::uint64_t>(ms.count()));
}

}  // namespace netns::tcp
