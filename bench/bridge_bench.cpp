// bridge_bench — frames per second across a learning bridge (issue 5).
//
//   BM_BridgeForward/<ports>  a bridge br0 in a "switch" namespace with <ports>
//                             ports, each a veth whose far end eth0 is in its own
//                             namespace. Every address is learned first; then
//                             batches of 64-byte unicast frames are sent from h0's
//                             eth0 to h1..h<ports-1> in turn, switched by the
//                             bridge and consumed by a PacketHandler at the far
//                             ends. items_per_second is frames through the bridge
//                             (each crosses two veths and the bridge); counter
//                             packet_copies must stay 0.
//                             Target: >= 10 M frames/s on one core, 0 copies.
//   BM_BridgeFlood/<ports>    the same with broadcast frames: each is shared to
//                             every other port and up to br0's own stack;
//                             items_per_second counts deliveries (frames x
//                             receivers), frames_per_second the floods.
//
// After the table: the 256-port over 2-port time ratio of this run.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "netns/netns.hpp"
#include "support/ratio_reporter.hpp"

namespace {

using netns::Clock;

constexpr std::uint16_t kExperimentalEthertype = 0x88B5;  // IEEE 802 local experimental 1
constexpr std::size_t kFrameSize = 64;
constexpr std::size_t kEthHeader = 14;
constexpr std::size_t kBatch = 256;  // frames sent before each poll (netdev_max_backlog is 1000)

class CountingHandler final : public netns::PacketHandler {
 public:
  void process(netns::Net&, netns::Device&, netns::Packet frame) override {
    if (frame.size() != kFrameSize - kEthHeader) ++wrong;
    ++frames;
  }
  std::uint64_t frames = 0;
  std::uint64_t wrong = 0;
};

void write_mac(std::byte* at, netns::MacAddress mac) {
  for (std::size_t i = 0; i < 6; ++i) at[i] = static_cast<std::byte>(mac.octets[i]);
}

// A switch namespace with br0 and `ports` ports, h<i>'s eth0 behind p<i>,
// every far end's address learned.
struct Switch {
  explicit Switch(std::size_t ports) : host(netns::HostConfig{.secret = 1}) {
    sw = host.create_net("switch").value();
    br = netns::make_bridge(*sw, "br0").value();
    for (std::size_t i = 0; i < ports; ++i) {
      hosts.push_back(host.create_net(fmt::format("h{}", i)).value());
      netns::VethPair veth = netns::make_veth(*sw, fmt::format("p{}", i), *hosts.back(), "eth0").value();
      netns::set_master(*veth.a, *br).value();
      netns::set_link_up(*veth.a).value();
      netns::set_link_up(*veth.b).value();
      far.push_back(veth.b);
    }
    netns::set_link_up(*br).value();
    (void)host.add_packet_handler(kExperimentalEthertype, handler);
    // One frame from each far end to br0's own address teaches the bridge where it is.
    for (netns::Device* dev : far) dev->transmit(frame(br->mac(), dev->mac()));
    host.poll(host.now());
    handler.frames = 0;
  }
  ~Switch() { host.remove_packet_handler(kExperimentalEthertype); }

  netns::Packet frame(netns::MacAddress dst, netns::MacAddress src) {
    netns::Packet p = host.packets().allocate(kFrameSize);
    std::byte* b = p.mutable_data().data();
    write_mac(b, dst);
    write_mac(b + 6, src);
    b[12] = std::byte{kExperimentalEthertype >> 8};
    b[13] = std::byte{kExperimentalEthertype & 0xff};
    std::memset(b + kEthHeader, 0, kFrameSize - kEthHeader);
    return p;
  }

  CountingHandler handler;
  netns::Host host;
  netns::NetRef sw;
  netns::Device* br = nullptr;
  std::vector<netns::NetRef> hosts;
  std::vector<netns::Device*> far;
};

void report(benchmark::State& state, Switch& s, std::uint64_t expected) {
  const netns::HostStats stats = s.host.stats();
  const netns::BridgeStats bs = netns::bridge_stats(*s.br).value();
  state.counters["packet_copies"] = static_cast<double>(stats.packet_copies);
  state.counters["flooded"] = static_cast<double>(bs.flooded);
  if (s.handler.frames != expected || s.handler.wrong != 0) {
    state.SkipWithError(fmt::format("{} frames arrived, {} expected", s.handler.frames, expected).c_str());
  } else if (stats.packet_copies != 0) {
    state.SkipWithError("packet_copies != 0: the bridge path copied bytes");
  } else if (stats.packets_in_use != 0) {
    state.SkipWithError("packets still in use after delivery");
  }
}

void BM_BridgeForward(benchmark::State& state) {
  const auto ports = static_cast<std::size_t>(state.range(0));
  Switch s(ports);
  netns::Device* in = s.far[0];
  // Destinations h1..h<ports-1> in turn, so every egress port takes its share.
  std::vector<netns::MacAddress> dst;
  for (std::size_t i = 1; i < ports; ++i) dst.push_back(s.far[i]->mac());
  const netns::MacAddress src = in->mac();
  const Clock::time_point now = s.host.now();
  std::size_t next = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < kBatch; ++i) {
      in->transmit(s.frame(dst[next], src));
      if (++next == dst.size()) next = 0;
    }
    s.host.poll(now);
  }
  const auto sent = static_cast<std::uint64_t>(state.iterations()) * kBatch;
  state.SetItemsProcessed(static_cast<std::int64_t>(sent));
  report(state, s, sent);
  if (netns::bridge_stats(*s.br).value().flooded != 0) state.SkipWithError("a frame was flooded");
}

BENCHMARK(BM_BridgeForward)->Arg(2)->Arg(16)->Arg(256);

void BM_BridgeFlood(benchmark::State& state) {
  const auto ports = static_cast<std::size_t>(state.range(0));
  Switch s(ports);
  netns::Device* in = s.far[0];
  const Clock::time_point now = s.host.now();
  // Fewer frames per poll at 256 ports: each becomes 256 deliveries.
  const std::size_t batch = std::max<std::size_t>(1, kBatch / ports);
  for (auto _ : state) {
    for (std::size_t i = 0; i < batch; ++i) {
      in->transmit(s.frame(netns::MacAddress::broadcast(), in->mac()));
    }
    s.host.poll(now);
  }
  const auto floods = static_cast<std::uint64_t>(state.iterations()) * batch;
  const std::uint64_t deliveries = floods * ports;  // ports - 1 far ends and br0 itself
  state.SetItemsProcessed(static_cast<std::int64_t>(deliveries));
  state.counters["frames_per_second"] =
      benchmark::Counter(static_cast<double>(floods), benchmark::Counter::kIsRate);
  report(state, s, deliveries);
}

BENCHMARK(BM_BridgeFlood)->Arg(2)->Arg(16)->Arg(256);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  bench::RatioReporter reporter;
  reporter.add_ratio("forward 256 ports / 2 ports", "BM_BridgeForward/256", "BM_BridgeForward/2");
  reporter.add_ratio("forward 16 ports / 2 ports", "BM_BridgeForward/16", "BM_BridgeForward/2");
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
