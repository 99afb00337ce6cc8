// neighbour_bench — the neighbour table under a spoofed-source flood (issue 11).
//
//   BM_SpoofedEchoFlood/<entries>  one echo request from a new on-link source
//                            per frame: each needs a new INCOMPLETE entry (the
//                            oldest unresolved one makes room), an ARP request
//                            goes out and the reply waits. The table holds
//                            <entries> = gc_thresh3: three quarters resolved
//                            neighbours, one quarter (the unresolved cap) the
//                            flood's. Time per frame; target: flat from 1k to 32k.
//   BM_KnownNeighbourEcho/<entries>  echo requests from the resolved neighbours
//                            in turn (the lookup misses the memo and goes to
//                            the hash): the reply leaves at once. Flat as well.
//
// Ratios printed at the end: 32768 over 1024 entries for each. Before issue 11
// a frame of the flood cost 260-714 us at 16-32k entries (a scan of the whole
// table per miss in NeighbourTable::create).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "netns/netns.hpp"
#include "netns/wire/arp.hpp"
#include "netns/wire/ethernet.hpp"
#include "netns/wire/icmp.hpp"
#include "netns/wire/ipv4.hpp"
#include "support/ratio_reporter.hpp"

namespace {

using netns::Ipv4Address;
using netns::MacAddress;
namespace wire = netns::wire;

const MacAddress kPeerMac{0x02, 0, 0, 0, 0, 2};
const Ipv4Address kLocal(10, 0, 0, 1);
// The i-th other address of 10.0.0.0/8: the resolved neighbours come first,
// the flood's spoofed sources after them.
Ipv4Address host_address(std::size_t i) { return Ipv4Address(0x0a000002u + static_cast<std::uint32_t>(i)); }

using Frame = std::vector<std::byte>;

Frame echo_request(MacAddress dst_mac, Ipv4Address src, std::uint16_t seq) {
  constexpr std::size_t kPayload = 16;
  Frame frame(14 + 20 + 8 + kPayload);
  wire::EthernetRepr{dst_mac, kPeerMac, wire::EtherType::ipv4}.emit(frame);
  auto ip = std::span(frame).subspan(14);
  wire::IcmpRepr::echo_request(7, seq, kPayload).emit(ip.subspan(20));
  wire::Ipv4Repr{.src = src, .dst = kLocal, .protocol = wire::IpProtocol::icmp, .payload_len = 8 + kPayload}.emit(ip);
  return frame;
}

Frame arp_request(Ipv4Address sender) {
  Frame frame(14 + wire::ArpRepr::kLen);
  wire::EthernetRepr{MacAddress::broadcast(), kPeerMac, wire::EtherType::arp}.emit(frame);
  wire::ArpRepr{wire::ArpOperation::request, kPeerMac, sender, MacAddress{}, kLocal}.emit(
      std::span(frame).subspan(14));
  return frame;
}

// One namespace on a channel device whose neighbour table holds `entries`
// (gc_thresh3): resolved neighbours learned from their ARP requests in three
// quarters of it, the rest left to the flood. The clock stands still, so no
// entry ages and the table stays in the steady state of a flood.
struct FloodedNamespace {
  explicit FloodedNamespace(std::size_t entries) : resolved(entries - entries / 4) {
    net = host.create_net("dut").value();
    eth0 = netns::make_channel(*net, "eth0").value();
    (void)netns::set_link_up(*eth0);
    (void)netns::ipv4::add_address(*net, *eth0, netns::Ipv4Prefix(kLocal, 8));
    (void)net->sysctl().set("net.ipv4.neigh.default.gc_thresh3", std::to_string(entries));
    (void)net->sysctl().set("net.ipv4.neigh.default.gc_thresh2", std::to_string(entries / 2));
    for (std::size_t i = 0; i < resolved; ++i) inject(arp_request(host_address(i)));
    // Twice the unresolved cap of spoofed sources: each has been evicted
    // long before it comes round again, so every frame is a new neighbour.
    for (std::size_t i = 0; i < 2 * (entries / 4); ++i) {
      flood.push_back(echo_request(eth0->mac(), host_address(resolved + i), static_cast<std::uint16_t>(i)));
    }
    for (std::size_t i = 0; i < resolved; ++i) {
      known.push_back(echo_request(eth0->mac(), host_address(i), static_cast<std::uint16_t>(i)));
    }
    for (const Frame& f : flood) inject(f);  // fill the unresolved quarter
  }
  void inject(const Frame& frame) {
    eth0->inject(frame);
    host.poll(now);
    while (eth0->read()) {
    }
  }
  bool full() { return netns::ipv4::neighbour_table_stats(*net).entries == resolved + (flood.size() / 2); }

  netns::Clock::time_point now{};
  netns::Host host{netns::HostConfig{.secret = 1}};
  netns::NetRef net;
  netns::ChannelDevice* eth0 = nullptr;
  std::size_t resolved;
  std::vector<Frame> flood, known;
};

void BM_SpoofedEchoFlood(benchmark::State& state) {
  FloodedNamespace ns(static_cast<std::size_t>(state.range(0)));
  if (!ns.full()) state.SkipWithError("the table is not in the flood's steady state");
  std::size_t i = 0;
  for (auto _ : state) {
    ns.inject(ns.flood[i]);
    if (++i == ns.flood.size()) i = 0;
  }
  const auto stats = netns::ipv4::neighbour_table_stats(*ns.net);
  state.counters["entries"] = static_cast<double>(stats.entries);
  state.counters["frames_per_s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                      benchmark::Counter::kIsRate);
}

void BM_KnownNeighbourEcho(benchmark::State& state) {
  FloodedNamespace ns(static_cast<std::size_t>(state.range(0)));
  if (!ns.full()) state.SkipWithError("the table is not in the flood's steady state");
  std::size_t i = 0;
  for (auto _ : state) {
    ns.inject(ns.known[i]);
    if (++i == ns.known.size()) i = 0;
  }
  state.counters["entries"] = static_cast<double>(netns::ipv4::neighbour_table_stats(*ns.net).entries);
  state.counters["frames_per_s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                      benchmark::Counter::kIsRate);
}

BENCHMARK(BM_SpoofedEchoFlood)->Arg(1024)->Arg(4096)->Arg(16384)->Arg(32768);
BENCHMARK(BM_KnownNeighbourEcho)->Arg(1024)->Arg(4096)->Arg(16384)->Arg(32768);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  bench::RatioReporter reporter;
  reporter.add_ratio("flood_flatness", "BM_SpoofedEchoFlood/32768", "BM_SpoofedEchoFlood/1024");
  reporter.add_ratio("known_flatness", "BM_KnownNeighbourEcho/32768", "BM_KnownNeighbourEcho/1024");
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
