// ipv6_bench — the IPv6 benchmarks of issue 13, each comparison in one run.
//
//   BM_Forward6_78/<alive>   78-byte frames (UDP over IPv6, 16 bytes of data)
//                            forwarded by a router namespace between two
//                            channel devices, <alive> namespaces existing;
//                            packets/s, packet_copies must stay 0.
//                            Target: >= 10 Mpps, 1 vs 100,000 within 2%.
//   BM_Forward6Flatness/<alive>  1 and <alive> alive in alternating batches,
//                            in thread CPU time: counter `ratio` (target <= 1.02).
//   BM_Udp6RoundTrip         UDP request/response over IPv6 between two
//                            namespaces over a veth.
//   BM_KernelUdp6RoundTrip   the same between two Linux namespaces over a
//                            kernel veth pair, both sockets driven from one
//                            thread (root only; skipped otherwise).
//                            Target: netns >= 20x.
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "netns/ipv6.hpp"
#include "netns/netns.hpp"
#include "netns/udp.hpp"
#include "netns/wire/ethernet.hpp"
#include "netns/wire/ipv6.hpp"
#include "netns/wire/udp.hpp"
#include "support/cpu_time.hpp"
#include "support/kernel_netns.hpp"
#include "support/ratio_reporter.hpp"

namespace {

using netns::Ipv6Address;
using netns::Ipv6Prefix;

netns::HostConfig bench_config() { return netns::HostConfig{.secret = 1}; }
Ipv6Address v6(const char* text) { return Ipv6Address::parse(text).value(); }
Ipv6Prefix prefix6(const char* text) { return Ipv6Prefix::parse(text).value(); }

// Runs `host` through DAD (a random delay up to 1 s, then one probe a
// second) in 10 ms steps, so every timer fires when due.
netns::Clock::time_point past_dad(netns::Host& host, netns::Clock::time_point now) {
  for (int i = 0; i < 210; ++i) host.poll(now += std::chrono::milliseconds(10));
  return now;
}

// A 78-byte Ethernet frame carrying UDP from 2001:db8:1::2 to 2001:db8:2::2.
std::vector<std::byte> forward_template(netns::MacAddress router_mac) {
  const netns::MacAddress peer{0x02, 0, 0, 0, 0, 2};
  std::vector<std::byte> frame(78);
  constexpr std::size_t kPayload = 78 - 14 - 40 - 8;
  const Ipv6Address src = v6("2001:db8:1::2"), dst = v6("2001:db8:2::2");
  netns::wire::EthernetRepr{router_mac, peer, netns::wire::EtherType::ipv6}.emit(frame);
  auto ip = std::span(frame).subspan(14);
  netns::wire::UdpRepr{4000, 5000, kPayload}.emit(ip.subspan(40), src, dst);
  netns::wire::Ipv6Repr{.src = src, .dst = dst, .next_header = netns::wire::IpProtocol::udp, .hop_limit = 64,
                        .payload_len = 8 + kPayload}
      .emit(ip);
  return frame;
}

// A router namespace between two channel devices, in a Host where `alive`
// namespaces exist; forward() pushes one batch through it.
class ForwardRig {
 public:
  static constexpr int kBatch = 256;

  explicit ForwardRig(std::size_t alive) {
    while (host_.net_count() < alive) keep_.push_back(host_.create_net().value());
    router_ = host_.create_net("router").value();
    in_ = netns::make_channel(*router_, "eth0").value();
    out_ = netns::make_channel(*router_, "eth1").value();
    (void)router_->sysctl().set("net.ipv6.conf.all.forwarding", "1");
    (void)netns::set_link_up(*in_);
    (void)netns::set_link_up(*out_);
    (void)netns::ipv6::add_address(*router_, *in_, prefix6("2001:db8:1::1/64"));
    (void)netns::ipv6::add_address(*router_, *out_, prefix6("2001:db8:2::1/64"));
    (void)netns::ipv6::add_neighbour(*router_, *out_, v6("2001:db8:2::2"), {0x02, 0, 0, 0, 0, 3});
    now_ = past_dad(host_, now_);  // the addresses past DAD, its frames drained
    while (out_->read_packet()) {
    }
    while (in_->read_packet()) {
    }
    frame_ = forward_template(in_->mac());
  }

  void forward() {
    for (int i = 0; i < kBatch; ++i) {
      netns::Packet p = host_.packets().allocate(frame_.size());
      std::memcpy(p.mutable_data().data(), frame_.data(), frame_.size());  // the "NIC" fills the buffer
      in_->inject(std::move(p));
    }
    host_.poll(now_);
    while (out_->read_packet()) ++forwarded_;
  }

  std::uint64_t forwarded() const { return forwarded_; }
  std::uint64_t copies() const { return host_.stats().packet_copies; }

 private:
  netns::Host host_{bench_config()};
  netns::Clock::time_point now_{};
  std::vector<netns::NetRef> keep_;
  netns::NetRef router_;
  netns::ChannelDevice* in_ = nullptr;
  netns::ChannelDevice* out_ = nullptr;
  std::vector<std::byte> frame_;
  std::uint64_t forwarded_ = 0;
};

void BM_Forward6_78(benchmark::State& state) {
  ForwardRig rig(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) rig.forward();
  if (rig.forwarded() != static_cast<std::uint64_t>(state.iterations()) * ForwardRig::kBatch) {
    state.SkipWithError("packets were lost");
  }
  if (rig.copies() != 0) state.SkipWithError("forwarding copied payload");
  state.SetItemsProcessed(static_cast<std::int64_t>(rig.forwarded()));
  state.counters["packet_copies"] = static_cast<double>(rig.copies());
}
BENCHMARK(BM_Forward6_78)->Arg(1)->Arg(100000)->Unit(benchmark::kMicrosecond);

// As ipv4_bench's BM_ForwardFlatness: batches through a router with 1 and
// with <alive> namespaces alive, alternating, timed in thread CPU time.
void BM_Forward6Flatness(benchmark::State& state) {
  ForwardRig one(1), many(static_cast<std::size_t>(state.range(0)));
  std::vector<double> at_one, at_many;
  bool one_first = true;
  auto timed = [](ForwardRig& rig) {
    double t0 = bench::thread_cpu_ns();
    rig.forward();
    return (bench::thread_cpu_ns() - t0) / ForwardRig::kBatch;
  };
  for (auto _ : state) {
    if (one_first) at_one.push_back(timed(one));
    at_many.push_back(timed(many));
    if (!one_first) at_one.push_back(timed(one));
    one_first = !one_first;
  }
  state.SetItemsProcessed(state.iterations() * 2 * ForwardRig::kBatch);
  const double a = bench::median(at_one), b = bench::median(at_many);
  state.counters["ns_per_packet_at_1"] = a;
  state.counters["ns_per_packet_at_alive"] = b;
  state.counters["ratio"] = b / a;
  state.counters["packet_copies"] = static_cast<double>(one.copies() + many.copies());
}
BENCHMARK(BM_Forward6Flatness)->Arg(100000)->Unit(benchmark::kMicrosecond);

void BM_Udp6RoundTrip(benchmark::State& state) {
  netns::Host host(bench_config());
  netns::NetRef a = host.create_net("client").value();
  netns::NetRef b = host.create_net("server").value();
  auto veth = netns::make_veth(*a, "eth0", *b, "eth0").value();
  (void)netns::set_link_up(*veth.a);
  (void)netns::set_link_up(*veth.b);
  (void)netns::ipv6::add_address(*a, *veth.a, prefix6("2001:db8::1/64"));
  (void)netns::ipv6::add_address(*b, *veth.b, prefix6("2001:db8::2/64"));
  const auto now = past_dad(host, {});
  auto client = netns::udp::open(*a, netns::Family::ipv6).value();
  auto server = netns::udp::open(*b, netns::Family::ipv6).value();
  (void)server.bind({Ipv6Address::any(), 7});
  const netns::Endpoint to{v6("2001:db8::2"), 7};
  std::array<std::byte, 64> msg{}, buf{};
  auto round_trip = [&] {
    (void)client.send_to(msg, to);
    host.poll(now);
    auto req = server.receive_from(buf);
    if (!req) return false;
    (void)server.send_to(std::span(buf).first(req->size), req->from);
    host.poll(now);
    return static_cast<bool>(client.receive_from(buf));
  };
  for (int i = 0; i < 10; ++i) round_trip();  // NDP resolved outside the timing, as the kernel's
  std::int64_t trips = 0;
  for (auto _ : state) {
    if (!round_trip()) {
      state.SkipWithError("a datagram was lost");
      break;
    }
    ++trips;
  }
  state.SetItemsProcessed(trips);
}
BENCHMARK(BM_Udp6RoundTrip);

// ---- the kernel, for comparison ----

sockaddr_in6 ipv6_socket_address(const char* ip, std::uint16_t port) {
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &sa.sin6_addr);
  return sa;
}

void BM_KernelUdp6RoundTrip(benchmark::State& state) {
  bench::KernelNetnsPair pair("netns-bench6");  // 2001:db8::1/64 — veth — 2001:db8::2/64 (nodad)
  if (!pair.ok()) {
    state.SkipWithError(pair.error().c_str());
    return;
  }
  int client = bench::KernelNetnsPair::socket_in(pair.a(), SOCK_DGRAM, AF_INET6);
  int server = bench::KernelNetnsPair::socket_in(pair.b(), SOCK_DGRAM, AF_INET6);
  auto server_addr = ipv6_socket_address("2001:db8::2", 7);
  auto client_addr = ipv6_socket_address("2001:db8::1", 0);
  if (bind(server, reinterpret_cast<sockaddr*>(&server_addr), sizeof server_addr) != 0 ||
      bind(client, reinterpret_cast<sockaddr*>(&client_addr), sizeof client_addr) != 0) {
    state.SkipWithError("could not bind the kernel's IPv6 sockets");
    close(client);
    close(server);
    return;
  }
  // A lost datagram must end the benchmark, not hang it.
  timeval timeout{2, 0};
  setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(server, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  char msg[64] = {}, buf[64];
  auto round_trip = [&] {
    sendto(client, msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&server_addr), sizeof server_addr);
    sockaddr_in6 from{};
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(server, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) return false;
    sendto(server, buf, static_cast<std::size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), len);
    return recvfrom(client, buf, sizeof buf, 0, nullptr, nullptr) >= 0;
  };
  for (int i = 0; i < 10; ++i) round_trip();  // NDP and caches warm, outside the timing
  std::int64_t trips = 0;
  for (auto _ : state) {
    if (!round_trip()) {
      state.SkipWithError("a datagram was lost");
      break;
    }
    ++trips;
  }
  state.SetItemsProcessed(trips);
  close(client);
  close(server);
}
BENCHMARK(BM_KernelUdp6RoundTrip)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  bench::RatioReporter reporter;
  reporter.add_ratio("forward6: 100000 alive / 1 alive", "BM_Forward6_78/100000", "BM_Forward6_78/1");
  reporter.add_ratio("UDP6 RTT: kernel / netns", "BM_KernelUdp6RoundTrip", "BM_Udp6RoundTrip");
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
