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
#include <rte_mempool.h>
#include <rte_ring.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <span>
#include <string_view>

#include <optional>
#include <string>
#include <vector>

#include "devices/dpdk_internal.hpp"
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

// Names unique per process and per call (rings, ports, pools): ctest runs
// two test processes at once.
inline std::string unique_name(std::string_view stem) {
  static std::atomic<int> counter{0};
  return std::string(stem) + std::to_string(getpid()) + "x" + std::to_string(counter++);
}

// Mbufs the tests put on rings themselves, with room for the Packet header.
inline rte_mempool* test_mbufs() {
  static rte_mempool* pool = rte_pktmbuf_pool_create(("netns_tmb" + std::to_string(getpid())).c_str(), 4095, 0,
                                                     dpdk::kMbufPrivSize, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  return pool;
}

// A frame in a fresh mbuf of test_mbufs(), null when none is free. DPDK's
// handovers are told to ThreadSanitizer (devices/dpdk_internal.hpp) as the
// port devices tell them: from the pool, and on to a ring.
inline rte_mbuf* mbuf_from(std::span<const std::byte> frame) {
  rte_mbuf* m = rte_pktmbuf_alloc(test_mbufs());
  if (m == nullptr) return nullptr;
  dpdk::detail::taken_over(m);
  std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(frame.size())), frame.data(), frame.size());
  dpdk::detail::handed_on(m);
  return m;
}

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
