// What the Eal and the DPDK port devices share: the process-wide EAL state.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "netns/dpdk.hpp"

struct rte_mbuf;

#if defined(__SANITIZE_THREAD__)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace netns::dpdk::detail {

class PortQueues;

// DPDK is not built with ThreadSanitizer, which therefore cannot see its
// rings and mempools hand an mbuf from one thread to another: each
// handover says so, in that build only. handed_on before an mbuf goes into
// a ring or back to its pool; taken_over once it came out of one.
#if defined(__SANITIZE_THREAD__)
inline void handed_on(rte_mbuf* m) { __tsan_release(m); }
inline void taken_over(rte_mbuf* m) { __tsan_acquire(m); }
#else
inline void handed_on(rte_mbuf*) {}
inline void taken_over(rte_mbuf*) {}
#endif

// A port device as the Eal sees it: it drives one queue of a port, and must
// let go of DPDK before rte_eal_cleanup.
class EalClient {
 public:
  virtual std::uint16_t port() const = 0;
  virtual std::uint16_t queue() const = 0;
  // The EAL is being cleaned up: stop the port, drop what is queued, and
  // never call DPDK again.
  virtual void cut_off() = 0;

 protected:
  ~EalClient() = default;
};

// The state the queue devices of `port` share: the live one when the port
// has devices (device_or_resource_busy unless it was configured with the
// same queue count and RSS), else a new one from `configure`, called under
// the EAL's lock so that two Hosts making queue devices at once configure
// the port once. operation_not_permitted when no EAL runs.
Result<std::shared_ptr<PortQueues>> share_port(
    std::uint16_t port, const QueueSpec& spec,
    const std::function<Result<std::shared_ptr<PortQueues>>()>& configure);
// Registers `client` as the driver of its queue: operation_not_permitted
// when no EAL runs, device_or_resource_busy when the queue has a driver.
Result<void> claim_port(EalClient& client);
// Unregisters it (no-op when the Eal already cut it off).
void release_port(EalClient& client);

}  // namespace netns::dpdk::detail
