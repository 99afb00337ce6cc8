// net_bench — the time benchmarks of issue 2, and the kernel for scale.
//
//   BM_CreateDestroyNet/<alive>       create one namespace (with its loopback),
//                                     drop its NetRef, poll so the teardown runs;
//                                     <alive> namespaces (init_net included) exist
//                                     throughout. Target: < 5 us, flat to 100,000.
//   BM_CreateDestroyNamedNet/<alive>  the same with a name (ip netns add NAME).
//   BM_CreateDestroyNetFlatness/<alive>  1 alive and <alive> alive measured in
//                                     alternating chunks: counter `ratio`.
//   BM_VethFrames/<batch>             <batch> 64-byte frames across a veth between
//                                     two namespaces per iteration, delivered by
//                                     poll to a PacketHandler; frames/s, no copies.
//   BM_KernelUnshareNet               unshare(CLONE_NEWNET) in a forked child, timed
//                                     there (root only; not registered otherwise).
//
// After the table the program prints ratios computed from this same run
// (bench/support/ratio_reporter.hpp). bench/run.sh runs it with repetitions.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "netns/netns.hpp"
#include "support/ratio_reporter.hpp"

namespace {

using netns::Clock;

netns::HostConfig bench_config() { return netns::HostConfig{.secret = 1}; }

// Creates namespaces until `alive` are on the list (init_net counts as one).
std::vector<netns::NetRef> populate(netns::Host& host, std::size_t alive, bool named) {
  std::vector<netns::NetRef> keep;
  keep.reserve(alive);
  while (host.net_count() < alive) {
    std::string name;
    if (named) name = "n", name += std::to_string(keep.size());
    auto net = host.create_net(name);
    if (!net) return keep;
    keep.push_back(std::move(*net));
  }
  return keep;
}

// Checks the Host is back where the timed loop found it: every namespace the
// loop created was torn down and freed, nothing leaked.
bool settled(benchmark::State& state, netns::Host& host, std::size_t alive) {
  netns::HostStats s = host.stats();
  state.counters["alive"] = static_cast<double>(s.live_nets);
  if (s.live_nets != alive || s.dying_nets != 0 || s.net_objects != alive || s.leaked_holds != 0) {
    state.SkipWithError("namespaces were not torn down by poll (see live/dying/net_objects)");
    return false;
  }
  return true;
}

void create_destroy(benchmark::State& state, bool named) {
  const auto alive = static_cast<std::size_t>(state.range(0));
  netns::Host host(bench_config());
  std::vector<netns::NetRef> keep = populate(host, alive, named);
  if (host.net_count() != alive) {
    state.SkipWithError("could not create the alive namespaces");
    return;
  }
  const Clock::time_point now = host.now();
  const std::string name = "bench";  // free: the alive ones are n0, n1, ...
  for (auto _ : state) {
    auto net = named ? host.create_net(name) : host.create_net();
    if (!net) {
      state.SkipWithError("create_net failed");
      break;
    }
    benchmark::DoNotOptimize(net->get());
    net->reset();     // the last strong reference: queued for teardown
    host.poll(now);   // runs every exit and frees the namespace
  }
  if (!settled(state, host, alive)) return;
  state.SetItemsProcessed(state.iterations());
  keep.clear();
  host.poll(now);
}

void BM_CreateDestroyNet(benchmark::State& state) { create_destroy(state, false); }
void BM_CreateDestroyNamedNet(benchmark::State& state) { create_destroy(state, true); }

BENCHMARK(BM_CreateDestroyNet)->Arg(1)->Arg(1000)->Arg(100000);
BENCHMARK(BM_CreateDestroyNamedNet)->Arg(1)->Arg(100000);

// The flatness ratio, robust to a loaded machine: two Hosts, one with 1
// namespace alive and one with <alive>, measured in alternating chunks so any
// load from other processes hits both alike. Counters: ns_at_1 and
// ns_at_alive (medians of the chunks' ns per create+destroy) and their ratio.
double create_destroy_chunk(netns::Host& host, int count) {
  const Clock::time_point now = host.now();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < count; ++i) {
    auto net = host.create_net();
    benchmark::DoNotOptimize(net->get());
    net->reset();
    host.poll(now);
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  return std::chrono::duration<double, std::nano>(elapsed).count() / count;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

void BM_CreateDestroyNetFlatness(benchmark::State& state) {
  constexpr int kChunk = 256;
  const auto alive = static_cast<std::size_t>(state.range(0));
  netns::Host one(bench_config()), many(bench_config());
  std::vector<netns::NetRef> keep_one = populate(one, 1, false);
  std::vector<netns::NetRef> keep_many = populate(many, alive, false);
  if (many.net_count() != alive) {
    state.SkipWithError("could not create the alive namespaces");
    return;
  }
  std::vector<double> at_one, at_many;
  bool one_first = true;
  for (auto _ : state) {
    if (one_first) at_one.push_back(create_destroy_chunk(one, kChunk));
    at_many.push_back(create_destroy_chunk(many, kChunk));
    if (!one_first) at_one.push_back(create_destroy_chunk(one, kChunk));
    one_first = !one_first;  // neither side always runs right after the other
  }
  if (!settled(state, one, 1) || !settled(state, many, alive)) return;
  state.SetItemsProcessed(state.iterations() * 2 * kChunk);
  const double a = median(at_one), b = median(at_many);
  state.counters["ns_at_1"] = a;
  state.counters["ns_at_alive"] = b;
  state.counters["ratio"] = a > 0 ? b / a : 0;
  keep_many.clear();
  many.poll(many.now());
}

BENCHMARK(BM_CreateDestroyNetFlatness)->Arg(100000);

// ---- frames across a veth ----

constexpr std::uint16_t kExperimentalEthertype = 0x88B5;  // IEEE 802 local experimental 1
constexpr std::size_t kFrameSize = 64;
constexpr std::size_t kEthHeader = 14;

// Counts what reaches the peer namespace, and anything that arrives elsewhere.
class CountingHandler final : public netns::PacketHandler {
 public:
  CountingHandler(netns::Net& net, netns::Device& dev) : net_(&net), dev_(&dev) {}
  void process(netns::Net& net, netns::Device& dev, netns::Packet frame) override {
    if (&net != net_ || &dev != dev_ || frame.type != netns::PacketType::host ||
        frame.size() != kFrameSize - kEthHeader) {
      ++misdelivered;
      return;
    }
    ++frames;
  }
  std::uint64_t frames = 0;
  std::uint64_t misdelivered = 0;

 private:
  netns::Net* net_;
  netns::Device* dev_;
};

void write_mac(std::byte* at, netns::MacAddress mac) {
  for (std::size_t i = 0; i < 6; ++i) at[i] = static_cast<std::byte>(mac.octets[i]);
}

void BM_VethFrames(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  netns::Host host(bench_config());
  netns::NetRef blue = host.create_net("blue").value();
  netns::NetRef red = host.create_net("red").value();
  netns::VethPair veth = netns::make_veth(*blue, "veth0", *red, "veth0").value();
  if (!netns::set_link_up(*veth.a) || !netns::set_link_up(*veth.b)) {
    state.SkipWithError("set_link_up failed");
    return;
  }
  CountingHandler handler(*red, *veth.b);
  if (!host.add_packet_handler(kExperimentalEthertype, handler)) {
    state.SkipWithError("add_packet_handler failed");
    return;
  }
  const netns::MacAddress src = veth.a->mac(), dst = veth.b->mac();
  const Clock::time_point now = host.now();

  for (auto _ : state) {
    for (std::size_t i = 0; i < batch; ++i) {
      netns::Packet frame = host.packets().allocate(kFrameSize);
      std::byte* p = frame.mutable_data().data();
      write_mac(p, dst);
      write_mac(p + 6, src);
      p[12] = std::byte{kExperimentalEthertype >> 8};
      p[13] = std::byte{kExperimentalEthertype & 0xff};
      std::memset(p + kEthHeader, static_cast<int>(i), kFrameSize - kEthHeader);
      veth.a->transmit(std::move(frame));
    }
    host.poll(now);
  }

  const auto sent = static_cast<std::uint64_t>(state.iterations()) * batch;
  const netns::HostStats stats = host.stats();
  state.SetItemsProcessed(static_cast<std::int64_t>(sent));
  state.SetBytesProcessed(static_cast<std::int64_t>(sent * kFrameSize));
  state.counters["packet_copies"] = static_cast<double>(stats.packet_copies);
  state.counters["frames_seen"] = static_cast<double>(handler.frames);
  state.counters["rx_dropped"] = static_cast<double>(veth.b->stats().rx_dropped);
  host.remove_packet_handler(kExperimentalEthertype);
  if (handler.frames != sent || handler.misdelivered != 0) {
    state.SkipWithError("the peer's handler did not see every frame exactly once");
  } else if (stats.packet_copies != 0) {
    state.SkipWithError("packet_copies != 0: delivery across the veth copied bytes");
  } else if (stats.packets_in_use != 0) {
    state.SkipWithError("packets still in use after delivery");
  }
}

BENCHMARK(BM_VethFrames)->Arg(1)->Arg(64)->Arg(256);

// ---- the Linux kernel, for scale ----

// A child process that runs unshare(CLONE_NEWNET) on command and reports how
// long the call took, so the benchmark process itself never changes namespace.
// Each unshare drops the child's previous namespace, whose teardown the kernel
// runs asynchronously (cleanup_net on a workqueue): this times creation only.
class KernelNetnsChild {
 public:
  KernelNetnsChild() {
    int cmd[2], res[2];
    if (pipe2(cmd, O_CLOEXEC) != 0) return;
    if (pipe2(res, O_CLOEXEC) != 0) {
      close(cmd[0]), close(cmd[1]);
      return;
    }
    pid_ = fork();
    if (pid_ == 0) {
      close(cmd[1]), close(res[0]);
      serve(cmd[0], res[1]);  // never returns
    }
    close(cmd[0]), close(res[1]);
    if (pid_ < 0) {
      close(cmd[1]), close(res[0]);
      return;
    }
    cmd_ = cmd[1];
    res_ = res[0];
  }
  ~KernelNetnsChild() {
    if (pid_ <= 0) return;
    close(cmd_);  // EOF: the child exits
    close(res_);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  KernelNetnsChild(const KernelNetnsChild&) = delete;
  KernelNetnsChild& operator=(const KernelNetnsChild&) = delete;

  // Nanoseconds one unshare(CLONE_NEWNET) took, or -errno.
  std::int64_t unshare_once() {
    if (pid_ <= 0) return -ECHILD;
    char c = 'u';
    if (write(cmd_, &c, 1) != 1) return -EPIPE;
    std::int64_t ns = 0;
    if (read(res_, &ns, sizeof ns) != sizeof ns) return -EPIPE;
    return ns;
  }

 private:
  [[noreturn]] static void serve(int cmd, int res) {
    char c = 0;
    while (read(cmd, &c, 1) == 1) {
      timespec t0{}, t1{};
      clock_gettime(CLOCK_MONOTONIC, &t0);
      int rc = unshare(CLONE_NEWNET);
      clock_gettime(CLOCK_MONOTONIC, &t1);
      std::int64_t ns = rc == 0 ? (t1.tv_sec - t0.tv_sec) * 1'000'000'000LL + (t1.tv_nsec - t0.tv_nsec)
                                : -static_cast<std::int64_t>(errno);
      if (write(res, &ns, sizeof ns) != sizeof ns) break;
    }
    _exit(0);
  }

  pid_t pid_ = -1;
  int cmd_ = -1, res_ = -1;
};

void BM_KernelUnshareNet(benchmark::State& state) {
  KernelNetnsChild child;
  for (auto _ : state) {
    std::int64_t ns = child.unshare_once();
    if (ns < 0) {
      state.SkipWithError(("unshare(CLONE_NEWNET): " + std::string(std::strerror(static_cast<int>(-ns)))).c_str());
      break;
    }
    state.SetIterationTime(static_cast<double>(ns) * 1e-9);
  }
  state.SetItemsProcessed(state.iterations());
}

// Registered only when unshare(CLONE_NEWNET) works here (root, no seccomp veto).
bool kernel_netns_available() {
  if (geteuid() != 0) return false;
  KernelNetnsChild probe;
  return probe.unshare_once() >= 0;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (kernel_netns_available()) {
    benchmark::RegisterBenchmark("BM_KernelUnshareNet", BM_KernelUnshareNet)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  } else {
    std::fprintf(stderr, "note: BM_KernelUnshareNet skipped (needs root and unshare(CLONE_NEWNET))\n");
  }
  bench::RatioReporter reporter;
  reporter.add_ratio("create+destroy 1000 alive / 1", "BM_CreateDestroyNet/1000",
                     "BM_CreateDestroyNet/1");
  reporter.add_ratio("create+destroy 100000 alive / 1", "BM_CreateDestroyNet/100000",
                     "BM_CreateDestroyNet/1");
  reporter.add_ratio("named 100000 alive / 1", "BM_CreateDestroyNamedNet/100000",
                     "BM_CreateDestroyNamedNet/1");
  reporter.add_ratio("kernel unshare / netns create+destroy", "BM_KernelUnshareNet",
                     "BM_CreateDestroyNet/1");
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
