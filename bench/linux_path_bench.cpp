// linux_path_bench — the judge of issue 10: a Linux client against a netns
// server and against a Linux server behind the same impaired path, in one run.
//
//   client (Linux ns) --TAP-- r1 ==veth with faults both ways== r2 --veth-- netns server
//                                                                  --TAP--  Linux server (Linux ns)
//
// (tests/support/linux_path.hpp builds it.) BM_Download/<case> and
// BM_Upload/<case>: one iteration is one pair of transfers of
// LINUX_PATH_BYTES (default 8 MiB), one to each server, in alternating order
// so load from other processes hits both alike, each checked byte by byte.
// The faults are re-seeded before every transfer, with the same seed for the
// two transfers of a pair. Counters are medians over the pairs:
//   netns_MBps, linux_MBps  throughput, client's connect() to the last byte
//                           (download) or to the server's verdict (upload)
//   ratio                   median of the pairs' netns/linux throughput (target >= 0.9)
//   netns_rto, linux_rto    TcpExtTCPTimeouts of the sending side (target: netns <= 2x linux)
//   netns_retrans, linux_retrans  TcpRetransSegs of the sending side
//   netns_qdrops, linux_qdrops  frames dropped in the path's queues outside the impaired
//                           link (device backlogs, TAP queues): a sender bursting more
//                           than a queue holds (1,000 frames) loses there
//   host_busy               CPU time of the Host's thread / wall time, the worst transfer:
//                           near 100 % the harness, not TCP, set the pace
// For an upload both senders are the Linux client: its timeouts against each
// server show what each receiver made it do.
//
// After the table: a summary with the targets, and the server-side counters
// that explain the losses (netns/linux side by side).
//
// Cases (each fault applies on both directions of the middle link):
//   clean     no faults: the harness's own ceiling
//   delay     1 ms each way
//   loss1     1 % loss, 1 ms
//   loss5     5 % loss, 1 ms
//   reorder   2 % loss, 5 % reordering, 2 ms +- 1 ms jitter
//
// Environment: LINUX_PATH_BYTES (per transfer), LINUX_PATH_PAIRS (default
// 5), LINUX_PATH_PCAP=DIR (a pcap of both ends of the middle link for every
// transfer: DIR/<case>-<direction>-<server>-<pair>-{client,server}.pcap).
// Root only; otherwise every benchmark reports why instead of a figure.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "netns/device.hpp"
#include "support/linux_net.hpp"
#include "support/linux_path.hpp"

namespace {

namespace support = netns::support;
using support::counter;
using support::PathDirection;
using support::PathServer;
using namespace std::chrono_literals;

struct PathCase {
  const char* name;
  const char* what;
  netns::LinkFaults faults;
};

const PathCase kCases[] = {
    {"clean", "no faults", {}},
    {"delay", "1 ms", {.delay = 1ms}},
    {"loss1", "1 % loss, 1 ms", {.loss = 0.01, .delay = 1ms}},
    {"loss5", "5 % loss, 1 ms", {.loss = 0.05, .delay = 1ms}},
    {"reorder", "2 % loss, 5 % reorder, 2+-1 ms", {.loss = 0.02, .reorder = 0.05, .delay = 2ms, .jitter = 1ms}},
};

// The server-side counters printed after the table, netns beside Linux.
const char* const kExplaining[] = {
    "TcpExtTCPTimeouts",    "TcpRetransSegs",       "TcpExtTCPLossProbes",  "TcpExtTCPSackRecovery",
    "TcpExtTCPFastRetrans", "TcpExtTCPSpuriousRTOs", "TcpExtTCPDSACKRecv",  "TcpExtTCPDSACKUndo",
    "TcpExtTCPOFOQueue",    "TcpExtTCPOFODrop",     "TcpExtPAWSEstab",      "TcpExtTCPRcvQDrop",
};

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 10);
  return end != nullptr && *end == '\0' && v > 0 ? v : fallback;
}

const std::uint64_t kBytes = env_number("LINUX_PATH_BYTES", 8u << 20);
const std::int64_t kPairs = static_cast<std::int64_t>(env_number("LINUX_PATH_PAIRS", 5));

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The path, built on first use and kept for the whole run.
support::LinuxPath* path(std::string& why) {
  static std::unique_ptr<support::LinuxPath> made;
  static std::string error;
  if (!made && error.empty()) {
    if (auto reason = support::kernel_test_skip_reason({"ip"})) {
      error = *reason;
    } else {
      made = std::make_unique<support::LinuxPath>("npb");
      if (!made->ok()) error = "cannot build the path: " + made->error(), made.reset();
    }
  }
  why = error;
  return made.get();
}

// Every transfer of one server in one benchmark.
struct Side {
  std::vector<double> mbps, rto, retrans;
  std::map<std::string, std::vector<double>> server_counters;
  std::vector<double> queue_drops, path_drops;
  double host_busy = 0;

  void add(const support::TransferResult& r, PathDirection direction) {
    mbps.push_back(r.megabytes_per_second());
    rto.push_back(static_cast<double>(counter(r.sender, "TcpExtTCPTimeouts")));
    retrans.push_back(static_cast<double>(counter(r.sender, "TcpRetransSegs")));
    const auto& server_side = direction == PathDirection::download ? r.sender : r.receiver;
    for (const char* name : kExplaining) server_counters[name].push_back(static_cast<double>(counter(server_side, name)));
    queue_drops.push_back(static_cast<double>(r.queue_drops));
    path_drops.push_back(static_cast<double>(r.path_drops));
    host_busy = std::max(host_busy, r.host_busy);
  }
};

struct Row {
  std::string name, what, direction;
  Side netns, linux_side;
  std::vector<double> ratios;
  std::string error;
};
std::vector<Row> rows;  // in the order the benchmarks ran

void BM_Path(benchmark::State& state, const PathCase& c, PathDirection direction) {
  Row& row = rows.emplace_back();
  row.name = c.name;
  row.what = c.what;
  row.direction = std::string(support::to_string(direction));
  std::string why;
  support::LinuxPath* p = path(why);
  if (p == nullptr) {
    row.error = why;
    state.SkipWithError(why.c_str());
    return;
  }
  const char* pcap_dir = std::getenv("LINUX_PATH_PCAP");
  std::int64_t pair = 0;
  for (auto _ : state) {
    double netns_mbps = 0, linux_mbps = 0;
    const PathServer order[2] = {pair % 2 == 0 ? PathServer::netns : PathServer::kernel,
                                 pair % 2 == 0 ? PathServer::kernel : PathServer::netns};
    for (PathServer server : order) {
      netns::LinkFaults faults = c.faults;
      faults.seed = static_cast<std::uint64_t>(pair) + 1;
      if (auto r = p->set_faults(faults); !r) row.error = "set_faults: " + r.error().message();
      if (pcap_dir != nullptr && *pcap_dir != '\0') {
        p->capture_next(fmt::format("{}/{}-{}-{}-{}", pcap_dir, c.name, row.direction, support::to_string(server), pair));
      }
      const support::TransferResult r = p->transfer(server, direction, kBytes);
      if (!r.ok()) {
        row.error = fmt::format("{} {}: {}", support::to_string(server), row.direction, r.error);
        break;
      }
      Side& side = server == PathServer::netns ? row.netns : row.linux_side;
      side.add(r, direction);
      (server == PathServer::netns ? netns_mbps : linux_mbps) = r.megabytes_per_second();
    }
    if (!row.error.empty()) break;
    row.ratios.push_back(linux_mbps > 0 ? netns_mbps / linux_mbps : 0);
    ++pair;
  }
  (void)p->set_faults({});
  if (!row.error.empty()) {
    state.SkipWithError(row.error.c_str());
    return;
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(2 * kBytes) * pair);
  state.counters["netns_MBps"] = median(row.netns.mbps);
  state.counters["linux_MBps"] = median(row.linux_side.mbps);
  state.counters["ratio"] = median(row.ratios);
  state.counters["netns_rto"] = median(row.netns.rto);
  state.counters["linux_rto"] = median(row.linux_side.rto);
  state.counters["netns_retrans"] = median(row.netns.retrans);
  state.counters["linux_retrans"] = median(row.linux_side.retrans);
  state.counters["netns_qdrops"] = median(row.netns.queue_drops);
  state.counters["linux_qdrops"] = median(row.linux_side.queue_drops);
  state.counters["host_busy"] = std::max(row.netns.host_busy, row.linux_side.host_busy);
}

const char* verdict(bool met) { return met ? "yes" : "NO"; }

// The figures of issue 10 with their targets, then the counters behind them.
void print_summary() {
  if (rows.empty()) return;
  std::printf("\nLinux client, netns server vs Linux server behind the same path: %llu bytes a transfer, "
              "medians of up to %lld interleaved pairs\n",
              static_cast<unsigned long long>(kBytes), static_cast<long long>(kPairs));
  const char* header =
      "%-8s %-30s %-8s %8s %8s %6s %5s %7s %7s %5s %8s %8s %7s %7s %7s %7s %5s\n";
  std::printf(header, "case", "faults (each way)", "dir", "netns", "linux", "ratio", ">=.9", "netns", "linux", "<=2x",
              "netns", "linux", "netns", "linux", "netns", "linux", "host");
  std::printf(header, "", "", "", "MB/s", "MB/s", "", "", "RTOs", "RTOs", "", "retrans", "retrans", "qdrops", "qdrops",
              "pdrops", "pdrops", "busy");
  for (const Row& r : rows) {
    if (!r.error.empty()) {
      std::printf("%-8s %-30s %-8s error: %s\n", r.name.c_str(), r.what.c_str(), r.direction.c_str(), r.error.c_str());
      continue;
    }
    const double ratio = median(r.ratios);
    const double netns_rto = median(r.netns.rto), linux_rto = median(r.linux_side.rto);
    std::printf("%-8s %-30s %-8s %8.2f %8.2f %6.2f %5s %7.1f %7.1f %5s %8.0f %8.0f %7.0f %7.0f %7.0f %7.0f %4.0f%%\n",
                r.name.c_str(), r.what.c_str(), r.direction.c_str(), median(r.netns.mbps), median(r.linux_side.mbps),
                ratio, verdict(ratio >= 0.9), netns_rto, linux_rto, verdict(netns_rto <= 2 * linux_rto),
                median(r.netns.retrans), median(r.linux_side.retrans), median(r.netns.queue_drops),
                median(r.linux_side.queue_drops), median(r.netns.path_drops), median(r.linux_side.path_drops),
                100 * std::max(r.netns.host_busy, r.linux_side.host_busy));
  }
  std::printf("\nServer-side counters over one transfer (medians), netns/linux; the server sends on a download and "
              "receives on an upload\n");
  std::printf("%-8s %-8s", "case", "dir");
  for (const char* name : kExplaining) {
    std::string shorter = name;
    for (const char* mib : {"TcpExtTCP", "TcpExt", "Tcp"}) {
      if (shorter.rfind(mib, 0) == 0) {
        shorter.erase(0, std::string(mib).size());
        break;
      }
    }
    std::printf(" %13s", shorter.c_str());
  }
  std::printf("\n");
  for (const Row& r : rows) {
    if (!r.error.empty()) continue;
    std::printf("%-8s %-8s", r.name.c_str(), r.direction.c_str());
    for (const char* name : kExplaining) {
      const auto n = r.netns.server_counters.find(name), l = r.linux_side.server_counters.find(name);
      const std::string cell = fmt::format("{:.0f}/{:.0f}", n == r.netns.server_counters.end() ? 0 : median(n->second),
                                           l == r.linux_side.server_counters.end() ? 0 : median(l->second));
      std::printf(" %13s", cell.c_str());
    }
    std::printf("\n");
  }
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  for (const PathCase& c : kCases) {
    for (PathDirection direction : {PathDirection::download, PathDirection::upload}) {
      const std::string name = fmt::format("BM_{}/{}", direction == PathDirection::download ? "Download" : "Upload", c.name);
      benchmark::RegisterBenchmark(name.c_str(), BM_Path, c, direction)
          ->Iterations(kPairs)
          ->Repetitions(1)  // the pairs are the repetitions; run.sh's --benchmark_repetitions does not multiply them
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  print_summary();
  benchmark::Shutdown();
  return 0;
}
