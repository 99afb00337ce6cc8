// netns/neighbour.hpp — what the neighbour tables of both families report:
// Linux's NUD states, the table's statistics, and IPv6's entries (IPv4's are
// ipv4::NeighbourInfo in netns/ipv4.hpp). One machinery serves ARP and NDP
// (src/neigh/table.hpp), so both speak these.
#pragma once

#include <cstdint>

#include "netns/wire/address.hpp"

namespace netns {

class Device;

enum class NeighbourState : std::uint8_t { incomplete, reachable, stale, delay, probe, failed, permanent };

// A neighbour table's statistics, named as Linux's struct neigh_statistics
// (/proc/net/stat/arp_cache and ndisc_cache, `ip -s ntable`), for one
// namespace and family. The bounds and the reclaim policy they count are
// described in docs/ARCHITECTURE.md ("The neighbour table under a flood").
struct NeighbourTableStats {
  std::uint64_t entries = 0;         // now, permanent ones included
  std::uint64_t unres_discards = 0;  // packets dropped while their neighbour was unresolved (queue full,
                                     // or the entry reclaimed)
  std::uint64_t res_failed = 0;      // resolutions that gave up (the entry failed)
  std::uint64_t table_fulls = 0;     // entries refused: the table was at gc_thresh3 (only entries
                                     // learned from ARP requests; a resolution always gets one)
  std::uint64_t allocs = 0;          // entries created
  std::uint64_t destroys = 0;        // entries gone, for any reason
  std::uint64_t lookups = 0;         // table lookups
  std::uint64_t hits = 0;            // lookups that found an entry
  std::uint64_t forced_gc_runs = 0;  // neigh_forced_gc runs (at gc_thresh3, or gc_thresh2 after 5 s)
  // netns's own, where Linux has no name:
  std::uint64_t unresolved = 0;            // INCOMPLETE entries now (capped at gc_thresh3 / 4)
  std::uint64_t permanent = 0;             // permanent entries now (not counted against gc_thresh3)
  std::uint64_t unresolved_evictions = 0;  // INCOMPLETE entries reclaimed for a newer one
  std::uint64_t resolved_evictions = 0;    // resolved entries reclaimed under 5 s old for a new resolution
};

// "REACHABLE", "STALE"...: as `ip neigh` prints a state.
const char* neighbour_state_text(NeighbourState state);

namespace ipv6 {
// One entry of a namespace's IPv6 neighbour table (`ip -6 neigh`).
struct NeighbourInfo {
  Ipv6Address address;
  Device* dev;
  MacAddress mac;  // meaningless while incomplete or failed
  NeighbourState state;
  bool router;  // the last advertisement said so (RFC 4861 IsRouter)
};
}  // namespace ipv6

}  // namespace netns
