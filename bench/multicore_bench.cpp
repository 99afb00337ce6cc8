// multicore_bench — namespaces of two Hosts on two cores (issue 15), each
// comparison in one run.
//
//   BM_VethOneWay/cross:<0|1>    64-byte frames from one namespace to another
//                                over a veth, in batches of 256: both ends in
//                                one Host on one thread (0), or in two Hosts,
//                                the receiving one polled by a thread of its
//                                own (1). The sender keeps at most 512 frames
//                                unseen by the receiver, so nothing is
//                                dropped. Counters: Mpps (frames the
//                                receiver's handler saw), packet_copies.
//   BM_VethRoundTrip/cross:<0|1> one frame there and back (the receiver's
//                                handler bounces it): ns per round trip, the
//                                sender polling until it is back.
//
// The ratios at the end are cross-Host / in-Host: above 1 for frames per
// second is the second core's gain; the round trip shows what crossing
// costs in latency. packet_copies must stay 0: buffers cross and come back.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

#include "netns/netns.hpp"
#include "support/ratio_reporter.hpp"

namespace {

using netns::Clock;

constexpr std::uint16_t kEthertype = 0x88B5;  // IEEE 802 local experimental 1
constexpr std::size_t kFrameSize = 64;
constexpr std::size_t kBatch = 256;
constexpr std::uint64_t kInFlight = 512;

// Counts frames of kEthertype. Those reaching `bounce_at` (when set) go
// back where they came from and count as `there`; the others count as
// `back` then (`there` without a bounce device).
class Receiver final : public netns::PacketHandler {
 public:
  void process(netns::Net&, netns::Device& dev, netns::Packet frame) override {
    if (bounce_at == nullptr) {
      bump(there);
      return;
    }
    if (&dev != bounce_at) {
      bump(back);
      return;
    }
    bump(there);
    auto eth = frame.push_front(14);
    std::array<std::byte, 6> dst{};
    std::memcpy(dst.data(), eth.data() + 6, 6);
    std::memcpy(eth.data() + 6, eth.data(), 6);
    std::memcpy(eth.data(), dst.data(), 6);
    dev.transmit(std::move(frame));
  }

  netns::Device* bounce_at = nullptr;
  alignas(64) std::atomic<std::uint64_t> there{0};
  alignas(64) std::atomic<std::uint64_t> back{0};

 private:
  // One writer (the handler's Host's thread), read by the rig's.
  static void bump(std::atomic<std::uint64_t>& n) {
    n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
};

// Two namespaces over a veth, in one Host or in two; with two, the second
// Host is polled by a thread of its own while the rig lives.
class VethRig {
 public:
  VethRig(bool cross, bool bounce) {
    a_host_ = std::make_unique<netns::Host>(netns::HostConfig{.secret = 1});
    netns::Host* b_host = a_host_.get();
    if (cross) {
      b_owned_ = std::make_unique<netns::Host>(netns::HostConfig{.secret = 2});
      b_host = b_owned_.get();
    }
    a_ = a_host_->create_net("a").value();
    b_ = b_host->create_net("b").value();
    veth_ = netns::make_veth(*a_, "eth0", *b_, "eth0").value();
    if (bounce) there_.bounce_at = back_.bounce_at = veth_.b;
    // In one Host, one handler sees both ends' frames.
    ok_ = netns::set_link_up(*veth_.a) && netns::set_link_up(*veth_.b) &&
          b_host->add_packet_handler(kEthertype, there_) && (!cross || a_host_->add_packet_handler(kEthertype, back_));
    if (cross) {
      b_thread_ = std::jthread([this, b_host](std::stop_token stop) {
        while (!stop.stop_requested()) b_host->poll(now());
      });
    }
    poll_a();  // carrier
  }
  ~VethRig() {
    b_thread_ = {};  // joins: the rig's thread is the only one again
    a_.reset();
    b_.reset();
  }

  bool ok() const { return ok_; }
  netns::Host& a_host() { return *a_host_; }
  std::uint64_t received() const { return there_.there.load(std::memory_order_acquire); }
  std::uint64_t returned() const {
    return (b_owned_ ? back_ : there_).back.load(std::memory_order_acquire);
  }
  void poll_a() { a_host_->poll(now()); }

  void send_one() {
    netns::Packet frame = a_host_->packets().allocate(kFrameSize);
    std::byte* p = frame.mutable_data().data();
    write_mac(p, veth_.b->mac());
    write_mac(p + 6, veth_.a->mac());
    p[12] = std::byte{kEthertype >> 8};
    p[13] = std::byte{kEthertype & 0xff};
    std::memset(p + 14, 0, kFrameSize - 14);
    veth_.a->transmit(std::move(frame));
  }

 private:
  static void write_mac(std::byte* at, netns::MacAddress mac) {
    for (std::size_t i = 0; i < 6; ++i) at[i] = static_cast<std::byte>(mac.octets[i]);
  }
  Clock::time_point now() const { return Clock::time_point{} + (std::chrono::steady_clock::now() - epoch_); }

  std::chrono::steady_clock::time_point epoch_ = std::chrono::steady_clock::now();
  Receiver back_;
  Receiver there_;
  std::unique_ptr<netns::Host> a_host_;
  std::unique_ptr<netns::Host> b_owned_;
  netns::NetRef a_, b_;
  netns::VethPair veth_{};
  bool ok_ = false;
  std::jthread b_thread_;
};

void finish(benchmark::State& state, VethRig& rig) {
  state.counters["packet_copies"] = static_cast<double>(rig.a_host().stats().packet_copies);
  if (rig.a_host().stats().packet_copies != 0) state.SkipWithError("frames were copied");
}

void BM_VethOneWay(benchmark::State& state) {
  const bool cross = state.range(0) != 0;
  VethRig rig(cross, false);
  if (!rig.ok()) {
    state.SkipWithError("set-up failed");
    return;
  }
  std::uint64_t sent = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < kBatch; ++i) {
      while (sent - rig.received() >= kInFlight) rig.poll_a();  // in one Host, the poll delivers
      rig.send_one();
      ++sent;
    }
    rig.poll_a();
  }
  while (rig.received() < sent) rig.poll_a();
  state.SetItemsProcessed(static_cast<std::int64_t>(sent));
  state.counters["Mpps"] = benchmark::Counter(static_cast<double>(sent) / 1e6, benchmark::Counter::kIsRate);
  finish(state, rig);
}
BENCHMARK(BM_VethOneWay)->ArgName("cross")->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_VethRoundTrip(benchmark::State& state) {
  const bool cross = state.range(0) != 0;
  VethRig rig(cross, true);
  if (!rig.ok()) {
    state.SkipWithError("set-up failed");
    return;
  }
  std::uint64_t rounds = 0;
  for (auto _ : state) {
    rig.send_one();
    ++rounds;
    while (rig.returned() < rounds) rig.poll_a();
  }
  state.counters["ns_per_round_trip"] = benchmark::Counter(static_cast<double>(rounds) * 1e-9,
                                                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  finish(state, rig);
}
BENCHMARK(BM_VethRoundTrip)->ArgName("cross")->Arg(0)->Arg(1)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  bench::RatioReporter reporter;
  reporter.add_ratio("frames per second, cross-Host / in-Host", "BM_VethOneWay/cross:0",
                     "BM_VethOneWay/cross:1");
  reporter.add_ratio("round trip, cross-Host / in-Host", "BM_VethRoundTrip/cross:1",
                     "BM_VethRoundTrip/cross:0");
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
