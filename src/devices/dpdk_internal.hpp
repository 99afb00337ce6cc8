// What the Eal and the DPDK port devices share: the process-wide EAL state.
#pragma once

#include <cstdint>

#include "netns/dpdk.hpp"

namespace netns::dpdk::detail {

// A port device as the Eal sees it: it drives one port, and must let go of
// DPDK before rte_eal_cleanup.
class EalClient {
 public:
  virtual std::uint16_t port() const = 0;
  // The EAL is being cleaned up: stop the port, drop what is queued, and
  // never call DPDK again.
  virtual void cut_off() = 0;

 protected:
  ~EalClient() = default;
};

// operation_not_permitted when no EAL runs, device_or_resource_busy when a
// device drives the port already.
Result<void> check_port_free(std::uint16_t port);
// Registers `client` as the driver of its port: operation_not_permitted
// when no EAL runs, device_or_resource_busy when the port has a driver.
Result<void> claim_port(EalClient& client);
// Unregisters it (no-op when the Eal already cut it off).
void release_port(EalClient& client);

}  // namespace netns::dpdk::detail
