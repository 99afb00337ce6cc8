// The soak of issue 11: many namespaces with churn, mixed TCP/UDP/ICMP
// traffic over lossy links and random topology changes, on one Host driven
// on the real clock, for as long as asked. soak_bench runs it for minutes
// with 1,000 namespaces and reports the figures; a GoogleTest runs it for a
// few seconds with ~50, so the code stays compiled and checked in CI.
//
//   soak::Config config{.nets = 1000, .duration = std::chrono::seconds(600)};
//   soak::Report r = soak::run(config);
//   // r.final_packets_in_use == 0, r.final_leaked_holds == 0, r.rss_max ...
//
// The topology: groups of ten namespaces, a hub and nine leaves. The hub
// holds two bridges joined by a veth (so a port can be re-mastered from one
// to the other without cutting its leaf off); each leaf has eth0, a veth
// whose other end is a port of one of the bridges, with 10.G.G.(slot+1)/24.
// Every third group's links lose, reorder and delay frames (netem).
//
// Every leaf listens on TCP port 80 and UDP port 53 (an echo server) and
// opens connections, datagrams and pings to leaves of its group. A
// connection writes an 8-byte length and that many pattern bytes, shuts
// down and waits for the server's FIN (the client ends in TIME_WAIT); the
// server checks length and content. Churn replaces leaves (sockets aborted,
// the namespace dropped, a new one made and wired), re-masters ports,
// flaps links, changes addresses, routes and faults, adds, moves and
// destroys extra devices. Illegal operations (loops of uppers and lowers, a
// bridge as a port, moving a bridge or a loopback, taken names...) are
// tried too: each must be refused and change nothing, which is checked.
//
// The loop polls at least every millisecond of real time; every poll is
// timed (the Host's stall) and so is the gap between two polls (the
// driver's own work, sampling excluded and timed on its own).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace netns::soak {

struct Config {
  std::size_t nets = 1000;  // namespaces besides init_net: hubs and leaves, in groups of ten
  std::chrono::seconds duration{600};
  // RSS and stall figures are taken after it (TIME_WAIT's 60 s fill first).
  std::chrono::seconds warmup{90};
  std::chrono::seconds sample_every{10};
  std::uint64_t seed = 1;
  // Per second of real time, over the whole Host.
  double connections_per_second = 200;
  double datagrams_per_second = 400;
  double pings_per_second = 200;
  double replacements_per_second = 4;  // leaves destroyed and created anew
  double topology_ops_per_second = 20;
  double illegal_ops_per_second = 4;
  // A connection not finished after this long is aborted (a leaf replaced
  // under it, a port flapped...).
  std::chrono::seconds connection_deadline{30};
  // Each sample as a line, when set.
  std::function<void(std::string_view)> log;
};

struct Sample {
  double seconds = 0;  // since the start
  std::size_t rss_bytes = 0;
  // Bytes the process has allocated and not freed (mallinfo2: arenas in use
  // plus mmapped blocks): flat while RSS grows means the allocator's
  // fragmentation, not something kept.
  std::size_t heap_bytes = 0;
  std::size_t packets_in_use = 0;
  // Free buffers the Host's pool keeps for reuse (at most 4,096, 8.6 MB):
  // it grows with the largest burst seen and stays.
  std::size_t packets_cached = 0;
  std::uint64_t leaked_holds = 0;
  std::size_t live_nets = 0, dying_nets = 0, net_objects = 0;
  std::size_t sockets = 0;        // net.resources().sockets(), summed
  std::size_t time_wait = 0;      // TIME_WAIT records, summed
  std::size_t neighbours = 0;     // neighbour entries, summed
  std::size_t packet_memory = 0;  // truesize held in queues, summed
  std::size_t timers = 0;
  std::size_t active_connections = 0;  // client streams the driver holds
};

struct Report {
  // Memory: at the first sample after the warm-up, at the last sample
  // before teardown, and the largest sample after the warm-up.
  std::size_t rss_start = 0, rss_end = 0, rss_max = 0, rss_initial = 0;
  std::size_t heap_start = 0, heap_end = 0, heap_max = 0;
  std::size_t packets_cached_start = 0, packets_cached_end = 0;
  // Host::poll in real time, after the warm-up (the whole run for max_poll_ms_all).
  double max_poll_ms = 0, p99_poll_ms = 0, p999_poll_ms = 0, p50_poll_ms = 0, max_poll_ms_all = 0;
  // The same polls in this thread's CPU time, which a descheduled thread
  // does not spend; polls over 2 ms of wall time, and how many of them
  // spent less than half of it on the CPU.
  double max_poll_cpu_ms = 0, p999_poll_cpu_ms = 0;
  std::uint64_t polls_over_2ms = 0, polls_over_2ms_descheduled = 0;
  // Real time between the end of one poll and the start of the next: the
  // driver's traffic and churn, and its sleep until the Host's next deadline
  // (or 1 ms) with however late the OS woke it (sampling excluded, timed as
  // max_sample_ms). max_work_ms: the driver's work alone. late: how long
  // after the deadline the previous poll returned the next one started,
  // which is how late the Host's timers fired.
  double max_gap_ms = 0, p99_gap_ms = 0, max_sample_ms = 0, max_work_ms = 0;
  double max_late_ms = 0, p99_late_ms = 0;
  std::uint64_t polls = 0;
  double seconds = 0;

  std::uint64_t connections_started = 0, connections_completed = 0, connections_failed = 0,
                connections_aborted = 0, connect_refused_locally = 0;
  std::map<std::string, std::uint64_t> connection_errors;  // failed connections, by error
  std::uint64_t bytes_sent = 0, bytes_received = 0, stream_mismatches = 0, server_streams_completed = 0;
  std::uint64_t datagrams_sent = 0, datagrams_answered = 0, pings_sent = 0, pings_answered = 0;

  std::uint64_t nets_replaced = 0;
  std::map<std::string, std::uint64_t> topology_ops;  // legal operations done, by kind
  std::map<std::string, std::uint64_t> refusals;      // illegal operations refused, by kind
  std::uint64_t refusals_total = 0;
  std::uint64_t illegal_accepted = 0;        // must be 0
  std::uint64_t refusal_changed_state = 0;   // must be 0
  std::uint64_t legal_failed = 0;            // a legal operation that failed (should be 0)
  // Static routes that went when an address of their device was added or
  // removed, which Linux keeps (must be 0; see check_routes in soak.cpp).
  std::uint64_t routes_lost = 0;
  std::vector<std::string> problems;         // what went wrong, first few of each

  // Drops and retransmissions, summed over every device and namespace that
  // existed (read just before each went away).
  std::uint64_t tx_dropped = 0, rx_dropped = 0, retrans_segs = 0, packet_mem_drops = 0,
                udp_rcvbuf_errors = 0, tw_overflow = 0;

  // After everything was closed and every namespace dropped and cleaned up.
  std::size_t final_packets_in_use = 0, final_live_nets = 0, final_dying_nets = 0, final_net_objects = 0;
  std::uint64_t final_leaked_holds = 0, nets_created = 0, nets_freed = 0;

  std::vector<Sample> samples;
};

Report run(const Config& config);

// One line per figure, for logs and bench/README.md.
std::string format_report(const Report& report);

}  // namespace netns::soak
