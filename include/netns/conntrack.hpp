// netns/conntrack.hpp — connection tracking per namespace, as Linux's
// nf_conntrack: what a namespace's table holds, in `conntrack -L`'s format,
// and its statistics, `conntrack -S`'s.
//
//   std::string listing = conntrack::dump(net);
//   // tcp      6 431999 ESTABLISHED src=192.0.2.1 dst=192.0.2.2 sport=40000 dport=80
//   //     src=192.0.2.2 dst=192.0.2.1 sport=80 dport=40000 [ASSURED] mark=0 use=1   (one line)
//   conntrack::Stats s = conntrack::stats(net);   // s.early_drop, s.insert_failed...
//
// The knobs are sysctls with Linux's names and defaults, per namespace:
// net.netfilter.nf_conntrack_max (the bound), nf_conntrack_count and
// nf_conntrack_buckets (read only), nf_conntrack_tcp_be_liberal,
// nf_conntrack_tcp_loose and the nf_conntrack_*_timeout* family. A
// namespace that never tracked a datagram has no table: it dumps nothing
// and pays nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "netns/result.hpp"
#include "netns/wire/address.hpp"

namespace netns {
class Net;
}

namespace netns::conntrack {

// Linux's per-namespace conntrack statistics (struct ip_conntrack_stat).
struct Stats {
  std::uint64_t found = 0;          // lookups that found an entry
  std::uint64_t invalid = 0;        // datagrams conntrack could not track
  std::uint64_t insert = 0;         // entries confirmed
  std::uint64_t insert_failed = 0;  // confirmations refused: the tuple was taken meanwhile
  std::uint64_t drop = 0;           // datagrams dropped: the table full, nothing to evict
  std::uint64_t early_drop = 0;     // not-assured entries evicted for a new one
  std::uint64_t error = 0;          // ICMP errors that matched no entry or were malformed
  std::uint64_t clash_resolve = 0;  // a clash on confirmation merged into the entry already there
};

// Every confirmed entry of `net`, one line each as `conntrack -L` prints
// them (timeouts in whole seconds left), in the table's order. Empty for a
// namespace that never tracked.
std::string dump(Net& net);
// `conntrack -S`'s counters for `net` (zeros before the first tracking).
Stats stats(Net& net);
// Entries in `net`'s table, unconfirmed ones included (nf_conntrack_count).
std::size_t count(Net& net);
// Removes every entry of `net` (conntrack -F); packets in flight keep theirs.
void flush(Net& net);

// Tracking on the packet path, as Linux's nf_ct_netns_get / nf_ct_netns_put:
// counted per namespace and family. The first get registers defrag,
// tracking and confirmation on `net`'s hooks for `family`; the last put
// unregisters them, and the hooks cost nothing again. A ruleset that reads
// connections (`ct` matches, NAT) holds one reference per family it covers
// (an inet table: both) while it is installed; a test or an application may
// hold its own.
//
// Both may be called while a hook runs on `net` (a commit from a log sink):
// the run finishes on the entries it began with. get fails only when a
// hook table is full (argument_list_too_long), and then changes nothing:
// call it where a transaction can still fail (prepare) and put on abort.
// put never fails; a put without a get does nothing. Reassembly queues and
// the table outlive the last put (they expire as usual).
[[nodiscard]] Result<void> netns_get(Net& net, Family family);
void netns_put(Net& net, Family family);
// The references held on `net` for `family` (0: not tracking).
std::uint32_t netns_users(Net& net, Family family);

}  // namespace netns::conntrack
