// memory_bench — bytes per namespace, measured from the allocator, not sizeof.
//
// This program replaces every form of the global operator new/delete (plain,
// array, nothrow, aligned, sized) with versions that count the bytes the
// allocator hands out (malloc_usable_size: what the allocator really reserved
// for the request, slack included). That global state lives in this program
// only, never in the library.
//
//   BM_BytesPerNet/<N>          create N empty namespaces (each with its
//                               loopback); counter bytes_per_net = (live bytes
//                               after - before) / N. Target: < 4 KiB.
//   BM_BytesPerNetWithVeth/<N>  N namespaces joined in pairs by N/2 veths, so
//                               each has its loopback and one veth end; also
//                               bytes_per_veth_end = the veths' bytes / N.
//
// bytes_per_net includes the blocks of the hot heap (core/hot_heap.hpp: the
// Net, devices and IPv4 state), which hot_bytes_per_net shows alone.
// Other counters: allocs_per_net (operator new calls per namespace),
// malloc_bytes_per_net (glibc mallinfo2's in-use bytes, which adds malloc's
// own chunk headers), residual_per_net (bytes still live after every
// namespace was dropped and polled away: pools the Host keeps for reuse), and
// sizeof_net for comparison only.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

#include "core/hot_heap.hpp"
#include "netns/netns.hpp"

// ---- counting allocator (this program only) ----

namespace {

std::atomic<std::int64_t> g_live_bytes{0};
std::atomic<std::int64_t> g_allocations{0};

void* counted_alloc(std::size_t size) noexcept {
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p != nullptr) {
    g_live_bytes.fetch_add(static_cast<std::int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
    g_allocations.fetch_add(1, std::memory_order_relaxed);
  }
  return p;
}

void* counted_alloc_aligned(std::size_t size, std::align_val_t align) noexcept {
  std::size_t a = static_cast<std::size_t>(align);
  if (a < sizeof(void*)) a = sizeof(void*);
  void* p = nullptr;
  if (posix_memalign(&p, a, size == 0 ? 1 : size) != 0) return nullptr;
  g_live_bytes.fetch_add(static_cast<std::int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return p;
}

void counted_free(void* p) noexcept {
  if (p == nullptr) return;
  g_live_bytes.fetch_sub(static_cast<std::int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
  std::free(p);
}

void* throwing(void* p) {
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(std::size_t n) { return throwing(counted_alloc(n)); }
void* operator new[](std::size_t n) { return throwing(counted_alloc(n)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n); }
void* operator new(std::size_t n, std::align_val_t a) { return throwing(counted_alloc_aligned(n, a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return throwing(counted_alloc_aligned(n, a)); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc_aligned(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc_aligned(n, a);
}

void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { counted_free(p); }

// ---- benchmarks ----

namespace {

// live_bytes counts operator new's bytes and the hot heap's blocks (the
// packet path's per-namespace objects: core/hot_heap.hpp); hot_bytes the
// latter alone.
struct Snapshot {
  std::int64_t live_bytes, allocations, malloc_bytes, hot_bytes;
  static Snapshot take() {
    const auto hot = static_cast<std::int64_t>(netns::detail::hot_heap_in_use());
    return {g_live_bytes.load(std::memory_order_relaxed) + hot, g_allocations.load(std::memory_order_relaxed),
            static_cast<std::int64_t>(mallinfo2().uordblks), hot};
  }
};

netns::HostConfig bench_config() { return netns::HostConfig{.secret = 1}; }

void per_net(benchmark::State& state, const char* name, std::int64_t delta, std::size_t n) {
  state.counters[name] = static_cast<double>(delta) / static_cast<double>(n);
}

// Drops every reference, polls the teardown, and reports what stays allocated
// per namespace (slab chunks and caches the Host keeps for reuse).
bool drop_all(benchmark::State& state, netns::Host& host, std::vector<netns::NetRef>& nets,
              const Snapshot& before, std::size_t n) {
  nets.clear();
  host.poll(host.now());
  Snapshot after = Snapshot::take();
  per_net(state, "residual_per_net", after.live_bytes - before.live_bytes, n);
  netns::HostStats s = host.stats();
  if (s.live_nets != 1 || s.dying_nets != 0 || s.net_objects != 1) {
    state.SkipWithError("namespaces were not torn down by poll");
    return false;
  }
  return true;
}

// Creates n unnamed namespaces into `nets`; false (the benchmark skipped) on failure.
bool create_nets(benchmark::State& state, netns::Host& host, std::vector<netns::NetRef>& nets,
                 std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    auto net = host.create_net();
    if (!net) {
      state.SkipWithError("create_net failed");
      return false;
    }
    nets.push_back(std::move(*net));
  }
  return true;
}

void BM_BytesPerNet(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    netns::Host host(bench_config());
    std::vector<netns::NetRef> nets;
    nets.reserve(n);  // the benchmark's own storage, outside the measurement
    const Snapshot before = Snapshot::take();
    if (!create_nets(state, host, nets, n)) return;
    const Snapshot after = Snapshot::take();
    per_net(state, "bytes_per_net", after.live_bytes - before.live_bytes, n);
    per_net(state, "hot_bytes_per_net", after.hot_bytes - before.hot_bytes, n);
    per_net(state, "allocs_per_net", after.allocations - before.allocations, n);
    per_net(state, "malloc_bytes_per_net", after.malloc_bytes - before.malloc_bytes, n);
    if (!drop_all(state, host, nets, before, n)) return;
  }
  state.counters["sizeof_net"] = sizeof(netns::Net);
  state.counters["nets"] = static_cast<double>(n);
}

void BM_BytesPerNetWithVeth(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));  // even: n / 2 pairs
  for (auto _ : state) {
    netns::Host host(bench_config());
    std::vector<netns::NetRef> nets;
    nets.reserve(n);
    const Snapshot before = Snapshot::take();
    if (!create_nets(state, host, nets, n)) return;
    const Snapshot empty = Snapshot::take();
    for (std::size_t i = 0; i + 1 < n; i += 2) {
      if (!netns::make_veth(*nets[i], "eth0", *nets[i + 1], "eth0")) {
        state.SkipWithError("make_veth failed");
        return;
      }
    }
    const Snapshot after = Snapshot::take();
    per_net(state, "bytes_per_net", after.live_bytes - before.live_bytes, n);
    per_net(state, "bytes_per_veth_end", after.live_bytes - empty.live_bytes, n);
    per_net(state, "hot_bytes_per_net", after.hot_bytes - before.hot_bytes, n);
    per_net(state, "allocs_per_net", after.allocations - before.allocations, n);
    per_net(state, "malloc_bytes_per_net", after.malloc_bytes - before.malloc_bytes, n);
    if (!drop_all(state, host, nets, before, n)) return;
  }
  state.counters["nets"] = static_cast<double>(n);
}

// One iteration each: the figure is a count of bytes, not a time.
BENCHMARK(BM_BytesPerNet)->Arg(10000)->Arg(100000)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BytesPerNetWithVeth)->Arg(10000)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
