// active_namespaces_bench — many namespaces busy at once (issue 15): what
// per-namespace state costs on the packet path when every namespace
// forwards, not only one beside idle others.
//
//   BM_ForwardAcrossActiveNamespaces/<N>  64-byte UDP frames spread round
//                                robin over N router namespaces, each with
//                                its own two channel devices, addresses,
//                                routes and neighbour, forwarding them: a
//                                batch of 256 frames meets 256 different
//                                routers (all of them, when N < 256).
//                                Counters: ns_per_packet, Mpps.
//   BM_MemoryFloor/<N>           what the machine's memory alone charges a
//                                frame at N busy: kLinesPerFrame lines read
//                                at random from as many lines as N
//                                namespaces' frames touch, on huge pages,
//                                every address known in advance, so the
//                                CPU overlaps as many misses as it can.
//
// The ratios at the end are N / 1 (targets: at most 1.10 at 100 and 1.5 at
// 100,000), then the best ratio the floor leaves at each N: one busy
// namespace's time plus the floor's extra cost at N, over one busy
// namespace's time. No order of visiting the same lines (prefetch, bursts
// of frames) beats that ratio; only fewer lines a frame do. The machine's
// cache-miss counters, where perf has them, say where the rest goes; this
// VM exposes none.
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <span>
#include <string>
#include <vector>

#include "support/forward_rig.hpp"
#include "support/ratio_reporter.hpp"

namespace {

// One router namespace between two channel devices, as ForwardRig's.
struct Router {
  netns::NetRef net;
  netns::ChannelDevice* in = nullptr;
  netns::ChannelDevice* out = nullptr;
};

// The frames the "NIC" fills buffers from, one per router (addressed to its
// eth0), side by side: read in order, as a NIC's ring would be, they cost
// the stack's measure nothing of their own.
using FrameBytes = std::array<std::byte, 60>;

class ActiveRouters {
 public:
  static constexpr std::size_t kBatch = 256;

  explicit ActiveRouters(std::size_t n) {
    routers_.reserve(n);
    frames_.reserve(n);
    for (std::size_t i = 0; i < n && ok_; ++i) add();
  }

  bool ok() const { return ok_; }

  // kBatch frames, each to the next router in turn; then each router's
  // forwarded frame is read back.
  void forward() {
    const std::size_t first = next_;
    for (std::size_t k = 0; k < kBatch; ++k) {
      Router& r = routers_[next_];
      const FrameBytes& frame = frames_[next_];
      if (++next_ == routers_.size()) next_ = 0;
      netns::Packet p = host_.packets().allocate(frame.size());
      std::memcpy(p.mutable_data().data(), frame.data(), frame.size());
      r.in->inject(std::move(p));
    }
    host_.poll(netns::Clock::time_point{});
    std::size_t at = first;
    for (std::size_t k = 0; k < kBatch; ++k) {
      while (routers_[at].out->read_packet()) ++forwarded_;
      if (++at == routers_.size()) at = 0;
    }
  }

  std::uint64_t forwarded() const { return forwarded_; }
  std::uint64_t copies() const { return host_.stats().packet_copies; }

 private:
  void add() {
    Router r;
    r.net = host_.create_net().value();
    r.in = netns::make_channel(*r.net, "eth0").value();
    r.out = netns::make_channel(*r.net, "eth1").value();
    ok_ = netns::set_link_up(*r.in) && netns::set_link_up(*r.out) &&
          netns::ipv4::add_address(*r.net, *r.in, bench::prefix("192.0.2.1/24")) &&
          netns::ipv4::add_address(*r.net, *r.out, bench::prefix("198.51.100.1/24")) &&
          netns::ipv4::add_neighbour(*r.net, *r.out, netns::Ipv4Address(198, 51, 100, 2), {0x02, 0, 0, 0, 0, 3}) &&
          r.net->sysctl().set("net.ipv4.ip_forward", "1");
    const std::vector<std::byte> frame = bench::forward_template(r.in->mac());
    FrameBytes& bytes = frames_.emplace_back();
    std::copy(frame.begin(), frame.end(), bytes.begin());
    routers_.push_back(std::move(r));
  }

  netns::Host host_{bench::bench_config()};
  std::vector<Router> routers_;
  std::vector<FrameBytes> frames_;
  std::size_t next_ = 0;
  std::uint64_t forwarded_ = 0;
  bool ok_ = true;
};

void BM_ForwardAcrossActiveNamespaces(benchmark::State& state) {
  ActiveRouters routers(static_cast<std::size_t>(state.range(0)));
  if (!routers.ok()) {
    state.SkipWithError("set-up failed");
    return;
  }
  // Every router's first frame allocates its namespace's counters: warm them all.
  for (std::int64_t i = 0; i < state.range(0); i += ActiveRouters::kBatch) routers.forward();
  const std::uint64_t before = routers.forwarded();
  for (auto _ : state) routers.forward();
  const std::uint64_t forwarded = routers.forwarded() - before;
  if (forwarded != static_cast<std::uint64_t>(state.iterations()) * ActiveRouters::kBatch) {
    state.SkipWithError("frames were lost");
  }
  if (routers.copies() != 0) state.SkipWithError("forwarding copied payload");
  state.SetItemsProcessed(static_cast<std::int64_t>(forwarded));
  state.counters["Mpps"] = benchmark::Counter(static_cast<double>(forwarded) / 1e6, benchmark::Counter::kIsRate);
  state.counters["ns_per_packet"] = benchmark::Counter(static_cast<double>(forwarded) * 1e-9,
                                                       benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
// The numbers of busy namespaces every benchmark here runs at; ratios are against the first.
constexpr std::array<std::int64_t, 4> kBusy{1, 100, 10000, 100000};
void busy_args(benchmark::internal::Benchmark* b) {
  for (std::int64_t n : kBusy) b->Arg(n);
}
// "prefix/N" (a benchmark's name at N) or "N / 1" (a ratio's label).
std::string at_busy(const char* prefix, std::int64_t n, const char* suffix = "") {
  char text[96];
  std::snprintf(text, sizeof text, "%s%lld%s", prefix, static_cast<long long>(n), suffix);
  return text;
}

BENCHMARK(BM_ForwardAcrossActiveNamespaces)->Apply(busy_args)->Unit(benchmark::kMicrosecond);

// The lines a forwarded frame touches at 10,000 busy, warm-up excluded:
// bench/lines_per_packet.sh's count. Recount it when the packet path changes.
constexpr std::size_t kLinesPerFrame = 12;

// Anonymous memory in 2 MiB huge pages where the kernel gives them (the hot
// heap's, which holds most of those lines), every page touched.
class LineArena {
 public:
  explicit LineArena(std::size_t lines) : bytes_(round_up(lines * 64)), lines_(lines) {
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    madvise(p, bytes_, MADV_HUGEPAGE);
    base_ = static_cast<std::uint64_t*>(p);
    for (std::size_t i = 0; i < lines_; ++i) base_[i * 8] = i;
  }
  ~LineArena() { munmap(base_, bytes_); }
  LineArena(const LineArena&) = delete;
  LineArena& operator=(const LineArena&) = delete;

  // The first word of line `(x * lines) >> 32`: a random line for a random
  // 32-bit x, without a division.
  std::uint64_t read(std::uint32_t x) const { return base_[((std::uint64_t{x} * lines_) >> 32) * 8]; }

 private:
  static std::size_t round_up(std::size_t bytes) {
    constexpr std::size_t kHuge = std::size_t{2} << 20;
    return (bytes + kHuge - 1) / kHuge * kHuge;
  }
  std::uint64_t* base_ = nullptr;
  std::size_t bytes_;
  std::size_t lines_;
};

void BM_MemoryFloor(benchmark::State& state) {
  LineArena arena(static_cast<std::size_t>(state.range(0)) * kLinesPerFrame);
  std::uint64_t rng = 0x9e3779b97f4a7c15;
  std::uint64_t sum = 0;
  for (auto _ : state) {
    for (std::size_t k = 0; k < ActiveRouters::kBatch * kLinesPerFrame; ++k) {
      rng = rng * 6364136223846793005 + 1442695040888963407;  // Knuth's MMIX LCG
      sum += arena.read(static_cast<std::uint32_t>(rng >> 32));
    }
  }
  benchmark::DoNotOptimize(sum);
  const auto frames = static_cast<double>(state.iterations() * ActiveRouters::kBatch);
  state.SetItemsProcessed(static_cast<std::int64_t>(frames));
  state.counters["ns_per_packet"] =
      benchmark::Counter(frames * 1e-9, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["ns_per_line"] = benchmark::Counter(frames * kLinesPerFrame * 1e-9,
                                                     benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_MemoryFloor)->Apply(busy_args)->Unit(benchmark::kMicrosecond);

// (forwarding at 1 + floor at N - floor at 1) / forwarding at 1.
void print_floor_ratios(const bench::RatioReporter& reporter) {
  const double one = reporter.seconds("BM_ForwardAcrossActiveNamespaces/1");
  const double floor_one = reporter.seconds("BM_MemoryFloor/1");
  if (one <= 0 || floor_one < 0) return;
  std::printf("\nBest N / 1 the memory floor leaves (%zu lines a frame):\n", kLinesPerFrame);
  for (std::int64_t n : std::span(kBusy).subspan(1)) {
    const double floor_n = reporter.seconds(at_busy("BM_MemoryFloor/", n));
    if (floor_n < 0) continue;
    std::printf("  %-34s %10.3f\n", at_busy("", n, " / 1").c_str(), (one + floor_n - floor_one) / one);
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  // For bench/lines_per_packet.sh: one call of exactly this many iterations
  // (Google Benchmark 1.7 has no flag for it), so that the warm-up of two
  // runs is the same and cancels in their difference.
  if (const char* fixed = std::getenv("NETNS_BENCH_ITERATIONS")) {
    benchmark::RegisterBenchmark("BM_ForwardAcrossActiveNamespacesFixed", BM_ForwardAcrossActiveNamespaces)
        ->Apply(busy_args)
        ->Iterations(std::strtoll(fixed, nullptr, 10));
  }
  bench::RatioReporter reporter;
  for (std::int64_t n : std::span(kBusy).subspan(1)) {
    reporter.add_ratio(at_busy("", n, " / 1"), at_busy("BM_ForwardAcrossActiveNamespaces/", n),
                       "BM_ForwardAcrossActiveNamespaces/1");
  }
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_floor_ratios(reporter);
  benchmark::Shutdown();
  return 0;
}
