// tests/devices/dpdk_eal.hpp — the one EAL of a test process.
//
// DPDK initialises once per process. ctest runs each test in a process of
// its own and running the binary runs them all in one, so every DPDK test
// takes the EAL from here: started on first use, cleaned up at exit.
//
//   dpdk::Eal* eal = support::test_eal();
//   if (eal == nullptr) GTEST_SKIP() << support::test_eal_error();
//
// Also what the DPDK tests share to play the NIC on net_ring ports.
#pragma once

#include <rte_mbuf.h>
#include <rte_ring.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "netns/dpdk.hpp"

namespace netns::support {

// No hugepages, no PCI, no shared files: virtual ports only. The file
// prefix keeps parallel test processes apart.
inline std::vector<std::string> test_eal_args() {
  return {"--no-huge",  "-m",     "256", "--no-pci", "--no-shconf", "-l", "0",
          "--no-telemetry", "--log-level=*:error",
          "--file-prefix=netns-test-" + std::to_string(getpid())};
}

namespace detail {
struct SharedEal {
  std::optional<dpdk::Eal> eal;
  std::string error;
};

inline SharedEal& shared_eal() {
  static SharedEal shared = [] {
    SharedEal s;
    if (geteuid() != 0) {
      s.error = "DPDK tests need root (virtual ports, TAP and AF_PACKET devices)";
      return s;
    }
    auto started = dpdk::start(test_eal_args());
    if (started) s.eal.emplace(std::move(*started));
    else s.error = "the DPDK EAL did not start: " + started.error().message();
    return s;
  }();
  return shared;
}
}  // namespace detail

// The process's EAL, or null when DPDK cannot run here (see test_eal_error).
inline dpdk::Eal* test_eal() {
  auto& shared = detail::shared_eal();
  return shared.eal ? &*shared.eal : nullptr;
}

inline const std::string& test_eal_error() { return detail::shared_eal().error; }

// Empties a ring of mbufs; returns how many there were.
inline std::size_t drain(rte_ring* ring) {
  std::size_t n = 0;
  void* obj = nullptr;
  while (rte_ring_dequeue(ring, &obj) == 0) {
    rte_pktmbuf_free(static_cast<rte_mbuf*>(obj));
    ++n;
  }
  return n;
}

}  // namespace netns::support
