// nat_bench — the same NAT router in the Linux kernel and in netns, UDP
// request/response through it, in one run (issue 14: netns at least 20x).
//
//   client 192.0.2.2 --veth-- lan 192.0.2.1 [router] wan 198.51.100.1 --veth-- server 198.51.100.2
//
// The router masquerades out of wan (nft: oifname "wan" masquerade) and the
// server has no route back to 192.0.2.0/24, so every answer depends on the
// translation; the first request of each run checks that the server saw the
// router's address. One iteration is kRoundTrips round trips of a 64-byte
// datagram, one at a time: the client sends, the server answers, the client
// reads the answer.
//
//   BM_NatUdpRoundTripLinux/threads:0
//                            three Linux namespaces joined by kernel veths,
//                            `nft` in the router. One thread holds both
//                            sockets (made inside their namespaces with
//                            setns), as ipv4_bench's kernel comparison does:
//                            a veth hands a datagram on in the sender's
//                            softirq, so each recvfrom finds it waiting and
//                            no wake-up is timed, only the kernel's path:
//                            the kernel at its best, the ratio's basis.
//   BM_NatUdpRoundTripLinux/threads:1
//                            the same with the server answering from a
//                            thread of its own, as a server process would:
//                            two wake-ups per round trip.
//                            Both root and nft only; otherwise they say why.
//   BM_NatUdpRoundTripNetns  the same three namespaces in one Host, veths,
//                            nft::run in the router, netns UDP sockets, the
//                            Host polled inline after each send.
//
// Counters: round_trips_per_s, ns_per_round_trip. The ratio at the end is
// Linux's time over netns's: how many times faster netns is.
#include <benchmark/benchmark.h>

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "netns/netns.hpp"
#include "netns/nft.hpp"
#include "support/kernel_netns.hpp"
#include "support/ratio_reporter.hpp"

namespace {

constexpr int kRoundTrips = 64;
constexpr std::uint16_t kServerPort = 7;
constexpr const char* kMasquerade = R"(table ip nat {
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" masquerade
  }
})";

void set_rates(benchmark::State& state, std::int64_t trips) {
  state.SetItemsProcessed(trips);
  state.counters["round_trips_per_s"] = benchmark::Counter(static_cast<double>(trips), benchmark::Counter::kIsRate);
  state.counters["ns_per_round_trip"] = benchmark::Counter(static_cast<double>(trips) * 1e-9,
                                                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Ten round trips outside the timing (ARP, conntrack's entry, caches), a
// check that the server saw the router's address, then kRoundTrips per
// iteration; a lost datagram ends the run.
template <typename RoundTrip, typename SawRouter>
void time_round_trips(benchmark::State& state, RoundTrip round_trip, SawRouter saw_router) {
  bool warm = true;
  for (int i = 0; i < 10 && warm; ++i) warm = round_trip();
  if (!warm || !saw_router()) {
    state.SkipWithError(warm ? "the server did not see the router's address" : "a datagram was lost");
    return;
  }
  std::int64_t trips = 0;
  for (auto _ : state) {
    for (int i = 0; i < kRoundTrips; ++i) {
      if (!round_trip()) {
        state.SkipWithError("a datagram was lost");
        break;
      }
      ++trips;
    }
  }
  set_rates(state, trips);
}

// ---- the Linux kernel ----

// client - router - server as Linux namespaces (iproute2, so named files
// under /var/run/netns), deleted by the destructor whatever happened, and
// first deleted if a killed run left them.
class KernelNatRouter {
 public:
  KernelNatRouter() {
    remove();
    if (geteuid() != 0) {
      error_ = "needs root to create Linux network namespaces";
      return;
    }
    if (!bench::run_quiet("nft --version")) {
      error_ = "nft (the nftables package) is not installed";
      return;
    }
    if (!build()) {
      remove();
      error_ = "could not build client - router - server in Linux namespaces with iproute2 and nft";
    }
  }
  ~KernelNatRouter() { remove(); }
  KernelNatRouter(const KernelNatRouter&) = delete;
  KernelNatRouter& operator=(const KernelNatRouter&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& client() const { return client_; }
  const std::string& server() const { return server_; }

 private:
  bool in(const std::string& ns, const std::string& args) const { return bench::run_quiet("ip -n " + ns + " " + args); }
  bool build() const {
    for (const std::string& ns : {client_, router_, server_}) {
      if (!bench::run_quiet("ip netns add " + ns) || !in(ns, "link set lo up")) return false;
    }
    return in(router_, "link add lan type veth peer name eth0 netns " + client_) &&
           in(router_, "link add wan type veth peer name eth0 netns " + server_) &&
           in(client_, "addr add 192.0.2.2/24 dev eth0") && in(client_, "link set eth0 up") &&
           in(client_, "route add default via 192.0.2.1") && in(router_, "addr add 192.0.2.1/24 dev lan") &&
           in(router_, "addr add 198.51.100.1/24 dev wan") && in(router_, "link set lan up") &&
           in(router_, "link set wan up") && in(server_, "addr add 198.51.100.2/24 dev eth0") &&
           in(server_, "link set eth0 up") &&
           bench::run_quiet("ip netns exec " + router_ + " sysctl -qw net.ipv4.ip_forward=1") &&
           bench::run_quiet("printf '%s\\n' '" + std::string(kMasquerade) + "' | ip netns exec " + router_ +
                            " nft -f -");
  }
  void remove() const {
    for (const std::string& ns : {client_, router_, server_}) bench::run_quiet("ip netns del " + ns);
  }

  std::string client_ = "netns-natb-c", router_ = "netns-natb-r", server_ = "netns-natb-s";
  std::string error_;
};

// The server as a process of its own would be: a thread blocked in
// recvfrom, woken by each request; the client is woken by each answer.
class EchoThread {
 public:
  explicit EchoThread(int fd) : fd_(fd), thread_([this] { run(); }) {}
  ~EchoThread() {
    stop_ = true;
    thread_.join();  // within the socket's receive timeout
  }
  EchoThread(const EchoThread&) = delete;
  EchoThread& operator=(const EchoThread&) = delete;
  in_addr_t last_peer() const { return last_peer_; }

 private:
  void run() {
    char buf[64];
    while (!stop_) {
      sockaddr_in from{};
      socklen_t len = sizeof from;
      const ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 0) continue;
      last_peer_ = from.sin_addr.s_addr;
      sendto(fd_, buf, static_cast<std::size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  }
  int fd_;
  std::atomic<bool> stop_{false};
  std::atomic<in_addr_t> last_peer_{0};
  std::thread thread_;
};

void set_receive_timeout(int fd, long microseconds) {
  timeval timeout{microseconds / 1'000'000, microseconds % 1'000'000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
}

// threads:0  one thread plays both ends;
// threads:1  the server answers from a thread of its own.
void BM_NatUdpRoundTripLinux(benchmark::State& state) {
  KernelNatRouter rig;
  if (!rig.ok()) {
    state.SkipWithError(rig.error().c_str());
    return;
  }
  const int client = bench::KernelNetnsPair::socket_in(rig.client(), SOCK_DGRAM);
  const int server = bench::KernelNetnsPair::socket_in(rig.server(), SOCK_DGRAM);
  auto server_addr = bench::ipv4_socket_address("198.51.100.2", kServerPort);
  auto client_addr = bench::ipv4_socket_address("192.0.2.2", 0);
  bind(server, reinterpret_cast<sockaddr*>(&server_addr), sizeof server_addr);
  bind(client, reinterpret_cast<sockaddr*>(&client_addr), sizeof client_addr);
  // A lost datagram ends the benchmark instead of hanging it; the echo
  // thread looks at its stop flag at least every 100 ms.
  set_receive_timeout(client, 2'000'000);
  set_receive_timeout(server, state.range(0) != 0 ? 100'000 : 2'000'000);
  const in_addr_t router = bench::ipv4_socket_address("198.51.100.1", 0).sin_addr.s_addr;
  char msg[64] = {}, buf[64];
  if (state.range(0) != 0) {
    EchoThread echo(server);
    auto round_trip = [&] {
      sendto(client, msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&server_addr), sizeof server_addr);
      return recvfrom(client, buf, sizeof buf, 0, nullptr, nullptr) >= 0;
    };
    time_round_trips(state, round_trip, [&] { return echo.last_peer() == router; });
  } else {
    sockaddr_in from{};
    auto round_trip = [&] {
      sendto(client, msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&server_addr), sizeof server_addr);
      socklen_t len = sizeof from;
      const ssize_t n = recvfrom(server, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 0) return false;
      sendto(server, buf, static_cast<std::size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), len);
      return recvfrom(client, buf, sizeof buf, 0, nullptr, nullptr) >= 0;
    };
    time_round_trips(state, round_trip, [&] { return from.sin_addr.s_addr == router; });
  }
  close(client);
  close(server);
}
BENCHMARK(BM_NatUdpRoundTripLinux)->ArgName("threads")->Arg(0)->Arg(1)->UseRealTime();

// ---- netns ----

netns::Ipv4Prefix prefix(const char* text) { return netns::Ipv4Prefix::parse(text).value(); }

// The same topology in one Host, on its fixed clock.
struct NetnsNatRouter {
  NetnsNatRouter() {
    client = host.create_net("client").value();
    router = host.create_net("router").value();
    server = host.create_net("server").value();
    auto lan = netns::make_veth(*client, "eth0", *router, "lan").value();
    auto wan = netns::make_veth(*router, "wan", *server, "eth0").value();
    for (netns::Device* d : {lan.a, lan.b, wan.a, wan.b}) ok = ok && netns::set_link_up(*d);
    ok = ok && netns::ipv4::add_address(*client, *lan.a, prefix("192.0.2.2/24")) &&
         netns::ipv4::add_address(*router, *lan.b, prefix("192.0.2.1/24")) &&
         netns::ipv4::add_address(*router, *wan.a, prefix("198.51.100.1/24")) &&
         netns::ipv4::add_address(*server, *wan.b, prefix("198.51.100.2/24")) &&
         netns::ipv4::add_route(*client, {.prefix = prefix("0.0.0.0/0"), .via = netns::Ipv4Address(192, 0, 2, 1)}) &&
         router->sysctl().set("net.ipv4.ip_forward", "1") && netns::nft::run(*router, kMasquerade);
  }

  netns::Host host{netns::HostConfig{.secret = 1}};
  netns::NetRef client, router, server;
  bool ok = true;
};

// Polls until `socket` has a datagram (a few polls at most: one carries it
// across both veths) and reads it.
netns::Result<netns::udp::Datagram> deliver(netns::Host& host, netns::udp::Socket& socket, std::span<std::byte> buf) {
  host.poll(netns::Clock::time_point{});
  auto got = socket.receive_from(buf);
  for (int polls = 1; !got && polls < 4; ++polls) {
    host.poll(netns::Clock::time_point{});
    got = socket.receive_from(buf);
  }
  return got;
}

void BM_NatUdpRoundTripNetns(benchmark::State& state) {
  NetnsNatRouter rig;
  if (!rig.ok) {
    state.SkipWithError("could not build client - router - server in netns");
    return;
  }
  auto client = netns::udp::open(*rig.client).value();
  auto server = netns::udp::open(*rig.server).value();
  if (!server.bind({netns::Ipv4Address::any(), kServerPort})) {
    state.SkipWithError("bind failed");
    return;
  }
  const netns::Endpoint to{netns::Ipv4Address(198, 51, 100, 2), kServerPort};
  std::array<std::byte, 64> msg{}, buf{};
  netns::Endpoint seen;
  auto round_trip = [&] {
    (void)client.send_to(msg, to);
    auto req = deliver(rig.host, server, buf);
    if (!req) return false;
    seen = req->from;
    (void)server.send_to(std::span(buf).first(req->size), req->from);
    return static_cast<bool>(deliver(rig.host, client, buf));
  };
  const netns::IpAddress router(netns::Ipv4Address(198, 51, 100, 1));
  time_round_trips(state, round_trip, [&] { return seen.address == router; });
  state.counters["conntrack_entries"] = static_cast<double>(netns::conntrack::count(*rig.router));
}
BENCHMARK(BM_NatUdpRoundTripNetns)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  bench::RatioReporter reporter;
  reporter.add_ratio("NAT UDP round trip: Linux / netns", "BM_NatUdpRoundTripLinux/threads:0",
                     "BM_NatUdpRoundTripNetns");
  reporter.add_ratio("... Linux's server in a thread / netns", "BM_NatUdpRoundTripLinux/threads:1",
                     "BM_NatUdpRoundTripNetns");
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
