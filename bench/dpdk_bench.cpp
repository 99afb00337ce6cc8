// dpdk_bench — forwarding between two DPDK ports beside the same over veths, in one run.
//
//   BM_DpdkForward64   64-byte IPv4/UDP frames (60 + FCS) put straight on the rx
//                      ring of net_ring port A, forwarded by a router namespace
//                      to net_ring port B; the bench takes them off B's tx ring
//                      and recycles the same mbufs as the next frames.
//                      Targets: packet_copies 0, >= 14.88 Mpps on one core.
//   BM_DpdkForward64RouterOnly  the same, timing only the router's poll: on a
//                      real port, writing and taking frames off the rings is
//                      the NIC's work, not the core's.
//   BM_DpdkForwardCores/cores:<1|2>  the same on 1 or 2 cores (issue 15): a Host
//                      per core, each with its own queue of ports of 1 or 2 queues,
//                      each core playing its queue's NIC with flows RSS puts there.
//                      Target: 1 core / 2 cores (the speedup) >= 1.8, 0 copies.
//   BM_DpdkTcpConnectCores/cores:<1|2>  TCP connect, accept and close between a
//                      client and a server namespace per core, over their queues of a
//                      port pair, clients picking RSS-aware ports: connections/s.
//   BM_VethForward64   the same router between two in-process veths: a generator
//                      namespace transmits on one, a sink's rx handler takes the
//                      frames off the other.
//
// Both count the generator and the drain in their time (the whole loop runs on
// one core); items_per_second is forwarded packets per second, `Mpps` the same
// in millions, `copies_per_packet` HostStats::packet_copies per forwarded packet.
// The EAL runs without hugepages or NICs (--no-huge --no-pci, virtual ports);
// without root or when it cannot start, BM_DpdkForward64 reports why instead.
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <unistd.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <stdexcept>
#include <optional>
#include <string>
#include <vector>

#include "netns/netns.hpp"
#include "netns/wire/ethernet.hpp"
#include "netns/wire/ipv4.hpp"
#include "netns/wire/udp.hpp"
#include "support/ratio_reporter.hpp"

namespace {

using netns::Ipv4Address;
using netns::Ipv4Prefix;

constexpr int kBatch = 512;            // frames per iteration
constexpr unsigned kRingSize = 1024;   // holds a whole batch
constexpr std::uint16_t kFrameSize = 60;  // 64 bytes on a wire with the FCS
const netns::MacAddress kPeerMac{0x02, 0, 0, 0, 0, 2};
const netns::MacAddress kNextHopMac{0x02, 0, 0, 0, 0, 3};

Ipv4Prefix prefix(const char* text) { return Ipv4Prefix::parse(text).value(); }

std::optional<netns::dpdk::Eal>& eal() {
  static std::optional<netns::dpdk::Eal> e;
  return e;
}
std::string& eal_error() {
  static std::string e;
  return e;
}

// A 64-byte Ethernet frame (60 + FCS on a wire) carrying UDP from 192.0.2.2 to 198.51.100.2.
std::vector<std::byte> forward_template(netns::MacAddress router_mac) {
  std::vector<std::byte> frame(kFrameSize);
  constexpr std::size_t kPayload = kFrameSize - 14 - 20 - 8;
  netns::wire::EthernetRepr{router_mac, kPeerMac, netns::wire::EtherType::ipv4}.emit(frame);
  auto ip = std::span(frame).subspan(14);
  netns::wire::UdpRepr{4000, 5000, kPayload}.emit(ip.subspan(20), Ipv4Address(192, 0, 2, 2),
                                                   Ipv4Address(198, 51, 100, 2));
  netns::wire::Ipv4Repr{.src = Ipv4Address(192, 0, 2, 2), .dst = Ipv4Address(198, 51, 100, 2),
                        .protocol = netns::wire::IpProtocol::udp, .payload_len = 8 + kPayload}
      .emit(ip);
  return frame;
}

// The router's addresses, its neighbour behind `out`, forwarding on.
void make_router(netns::Net& router, netns::Device& in, netns::Device& out) {
  (void)netns::set_link_up(in);
  (void)netns::set_link_up(out);
  (void)netns::ipv4::add_address(router, in, prefix("192.0.2.1/24"));
  (void)netns::ipv4::add_address(router, out, prefix("198.51.100.1/24"));
  (void)netns::ipv4::add_neighbour(router, out, Ipv4Address(198, 51, 100, 2), kNextHopMac);
  (void)router.sysctl().set("net.ipv4.ip_forward", "1");
}

void report(benchmark::State& state, std::uint64_t forwarded, std::uint64_t copies) {
  state.SetItemsProcessed(static_cast<std::int64_t>(forwarded));
  state.counters["Mpps"] = benchmark::Counter(static_cast<double>(forwarded) / 1e6, benchmark::Counter::kIsRate);
  state.counters["packet_copies"] = static_cast<double>(copies);
  state.counters["copies_per_packet"] =
      forwarded == 0 ? 0.0 : static_cast<double>(copies) / static_cast<double>(forwarded);
}

// Port A (in.b) and port B (out.a) in a router namespace; in.a_to_b is A's
// rx ring, out.a_to_b is B's tx ring. in.a and out.b have no device.
class DpdkForwardRig {
 public:
  explicit DpdkForwardRig(netns::dpdk::Eal& eal) : eal_(eal) {
    const std::string tag = std::to_string(getpid()) + "_" + std::to_string(runs_++);
    in_ = eal.make_ring_pair("bi" + tag, kRingSize).value();
    out_ = eal.make_ring_pair("bo" + tag, kRingSize).value();
    router_ = host_->create_net("router").value();
    a_ = netns::make_dpdk_port(*router_, "eth0", in_.b).value();
    b_ = netns::make_dpdk_port(*router_, "eth1", out_.a).value();
    make_router(*router_, *a_, *b_);
    frame_ = forward_template(a_->mac());
    pool_ = rte_pktmbuf_pool_create(("bg" + tag).c_str(), 2 * kBatch - 1, 0, netns::dpdk::kMbufPrivSize,
                                    RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    mbufs_.resize(kBatch);
    if (pool_ == nullptr || rte_pktmbuf_alloc_bulk(pool_, mbufs_.data(), kBatch) != 0) {
      throw std::runtime_error("no mbufs for the generator");
    }
  }
  ~DpdkForwardRig() {
    for (rte_mbuf* m : mbufs_) rte_pktmbuf_free(m);
    router_.reset();
    host_.reset();  // the devices go first: a driven port cannot be detached
    drain_and_free(in_.a_to_b);
    drain_and_free(out_.a_to_b);
    for (std::uint16_t port : {in_.a, in_.b, out_.a, out_.b}) (void)eal_.detach(port);
    rte_mempool_free(pool_);
  }
  DpdkForwardRig(const DpdkForwardRig&) = delete;
  DpdkForwardRig& operator=(const DpdkForwardRig&) = delete;

  // The NIC's part: fresh frames into the recycled mbufs, onto A's rx ring;
  // then the router; then B's tx ring emptied into the mbufs for next time.
  void forward() {
    receive_wire();
    route();
    transmit_wire();
  }

  // The three steps, for timing the router's core alone (the NIC's work is
  // hardware's on a real port).
  void receive_wire() {
    for (rte_mbuf* m : mbufs_) {
      m->data_off = RTE_PKTMBUF_HEADROOM;
      m->data_len = m->pkt_len = kFrameSize;
      std::memcpy(rte_pktmbuf_mtod(m, void*), frame_.data(), kFrameSize);  // fixed size: inlined
    }
    queued_ = rte_ring_enqueue_burst(in_.a_to_b, reinterpret_cast<void* const*>(mbufs_.data()), kBatch,
                                     nullptr);
  }
  void route() { host_->poll(netns::Clock::time_point{}); }
  void transmit_wire() {
    unsigned got = rte_ring_dequeue_burst(out_.a_to_b, reinterpret_cast<void**>(mbufs_.data()), kBatch, nullptr);
    forwarded_ += got;
    // Anything lost stays lost for the count, but the generator keeps its batch.
    if (got < queued_ || queued_ < kBatch) refill(got);
  }

  std::uint64_t forwarded() const { return forwarded_; }
  std::uint64_t copies() const { return host_->stats().packet_copies; }

 private:
  void refill(unsigned have) {
    for (auto i = static_cast<int>(have); i < kBatch; ++i) {
      mbufs_[static_cast<std::size_t>(i)] = rte_pktmbuf_alloc(pool_);
      if (mbufs_[static_cast<std::size_t>(i)] == nullptr) throw std::runtime_error("generator out of mbufs");
    }
  }
  static void drain_and_free(rte_ring* ring) {
    void* obj = nullptr;
    while (rte_ring_dequeue(ring, &obj) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(obj));
  }

  static inline int runs_ = 0;
  netns::dpdk::Eal& eal_;
  netns::dpdk::RingPair in_, out_;
  std::optional<netns::Host> host_{std::in_place, netns::HostConfig{.secret = 1}};
  netns::NetRef router_;
  netns::Device* a_ = nullptr;
  netns::Device* b_ = nullptr;
  std::vector<std::byte> frame_;
  rte_mempool* pool_ = nullptr;
  std::vector<rte_mbuf*> mbufs_;
  std::uint64_t forwarded_ = 0;
  unsigned queued_ = 0;
};

// Every frame came out, nothing was copied; then the counters.
void check_and_report(benchmark::State& state, const DpdkForwardRig& rig) {
  if (rig.forwarded() != static_cast<std::uint64_t>(state.iterations()) * kBatch) {
    state.SkipWithError("packets were lost");
  }
  if (rig.copies() != 0) state.SkipWithError("forwarding copied payload");
  report(state, rig.forwarded(), rig.copies());
}

void BM_DpdkForward64(benchmark::State& state) {
  if (!eal()) {
    state.SkipWithError(eal_error().c_str());
    return;
  }
  DpdkForwardRig rig(*eal());
  for (auto _ : state) rig.forward();
  check_and_report(state, rig);
}
BENCHMARK(BM_DpdkForward64)->Unit(benchmark::kMicrosecond);

// The same, timing only the router's poll: the emulated NIC writing frames
// onto the rx ring and taking them off the tx ring is hardware's work on a
// real port, and pausing the timer costs well under a nanosecond per packet.
void BM_DpdkForward64RouterOnly(benchmark::State& state) {
  if (!eal()) {
    state.SkipWithError(eal_error().c_str());
    return;
  }
  DpdkForwardRig rig(*eal());
  for (auto _ : state) {
    state.PauseTiming();
    rig.receive_wire();
    state.ResumeTiming();
    rig.route();
    state.PauseTiming();
    rig.transmit_wire();
    state.ResumeTiming();
  }
  check_and_report(state, rig);
}
BENCHMARK(BM_DpdkForward64RouterOnly)->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------
// Forwarding on 1 and 2 cores (issue 15): per core a Host whose router
// namespace has queue q of ports A and B (make_dpdk_queue, `cores` queues
// each). Each core also plays its queue's NIC, as DpdkForwardRig does:
// the frames of its batch belong to flows whose RSS hash (rss::frame_hash,
// the symmetric key) picks queue q, so the spread is the one a NIC with RSS
// makes. Core 0 is the bench's thread (the EAL pins it to CPU 0), core 1 a
// thread pinned to CPU 1; an iteration is kRounds batches in all, split
// evenly over the cores, so the time ratio 1 core / 2 cores is the speedup.
// Nothing is shared on the packet path: each core has its own Host, queue
// pair, rings and mbufs.

constexpr int kRounds = 16;
constexpr int kFlowsPerQueue = 64;

// The template frames of the flows (UDP source ports) that RSS puts on `queue` of `queues`.
std::vector<std::vector<std::byte>> queue_flows(netns::MacAddress router_mac, std::uint16_t queue,
                                                std::uint16_t queues) {
  std::vector<std::vector<std::byte>> flows;
  const std::vector<std::byte> base = forward_template(router_mac);
  for (std::uint16_t port = 1024; flows.size() < kFlowsPerQueue; ++port) {
    std::vector<std::byte> frame = base;
    frame[34] = std::byte(port >> 8);  // the UDP source port (no checksum to keep: 0 is none over IPv4)
    frame[35] = std::byte(port & 0xff);
    frame[40] = frame[41] = std::byte{0};
    if (netns::rss::queue_of(netns::rss::frame_hash(frame), queues) == queue) flows.push_back(std::move(frame));
  }
  return flows;
}

// One core's share: a Host, its router on queue `queue`, and the NIC's part.
class CoreRig {
 public:
  CoreRig(const netns::dpdk::RingPair& in, const netns::dpdk::RingPair& out, std::uint16_t queue,
          std::uint16_t queues, const std::string& tag)
      : host_(std::in_place, netns::HostConfig{.secret = 1u + queue}),
        rx_(in.a_to_b_queues.at(queue)),
        tx_(out.a_to_b_queues.at(queue)) {
    router_ = host_->create_net("router").value();
    const netns::dpdk::QueueSpec spec{.queue = queue, .queues = queues, .rss = netns::dpdk::Rss::none};
    netns::Device* a = netns::make_dpdk_queue(*router_, "eth0", in.b, spec).value();
    netns::Device* b = netns::make_dpdk_queue(*router_, "eth1", out.a, spec).value();
    make_router(*router_, *a, *b);
    flows_ = queue_flows(a->mac(), queue, queues);
    pool_ = rte_pktmbuf_pool_create(("bq" + tag + "_" + std::to_string(queue)).c_str(), 2 * kBatch - 1, 0,
                                    netns::dpdk::kMbufPrivSize, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    mbufs_.resize(kBatch);
    if (pool_ == nullptr || rte_pktmbuf_alloc_bulk(pool_, mbufs_.data(), kBatch) != 0) {
      throw std::runtime_error("no mbufs for the generator");
    }
  }
  ~CoreRig() {
    for (rte_mbuf* m : mbufs_) rte_pktmbuf_free(m);
    router_.reset();
    host_.reset();
    for (rte_ring* ring : {rx_, tx_}) {
      void* obj = nullptr;
      while (rte_ring_dequeue(ring, &obj) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(obj));
    }
    rte_mempool_free(pool_);
  }
  CoreRig(const CoreRig&) = delete;
  CoreRig& operator=(const CoreRig&) = delete;

  void forward(int rounds) {
    for (int r = 0; r < rounds; ++r) {
      for (std::size_t i = 0; i < mbufs_.size(); ++i) {
        rte_mbuf* m = mbufs_[i];
        m->data_off = RTE_PKTMBUF_HEADROOM;
        m->data_len = m->pkt_len = kFrameSize;
        std::memcpy(rte_pktmbuf_mtod(m, void*), flows_[i % flows_.size()].data(), kFrameSize);
      }
      unsigned queued = rte_ring_enqueue_burst(rx_, reinterpret_cast<void* const*>(mbufs_.data()), kBatch, nullptr);
      host_->poll(netns::Clock::time_point{});
      unsigned got = rte_ring_dequeue_burst(tx_, reinterpret_cast<void**>(mbufs_.data()), kBatch, nullptr);
      forwarded_ += got;
      if (got < queued || queued < kBatch) lost_ = true;
      for (unsigned i = got; i < kBatch; ++i) mbufs_[i] = rte_pktmbuf_alloc(pool_);
    }
  }

  std::uint64_t forwarded() const { return forwarded_; }
  bool lost() const { return lost_; }
  std::uint64_t copies() const { return host_->stats().packet_copies; }

 private:
  std::optional<netns::Host> host_;
  netns::NetRef router_;
  rte_ring* rx_;
  rte_ring* tx_;
  std::vector<std::vector<std::byte>> flows_;
  rte_mempool* pool_ = nullptr;
  std::vector<rte_mbuf*> mbufs_;
  std::uint64_t forwarded_ = 0;
  bool lost_ = false;
};

// Core 1's thread: runs its job whenever the bench thread starts an
// iteration, spinning in between (both CPUs are the cores under test).
class Worker {
 public:
  explicit Worker(std::function<void()> job)
      : thread_([this, job = std::move(job)](std::stop_token stop) {
          cpu_set_t cpus;
          CPU_ZERO(&cpus);
          CPU_SET(1, &cpus);
          (void)pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
          std::uint64_t seen = 0;
          while (!stop.stop_requested()) {
            const std::uint64_t go = go_.load(std::memory_order_acquire);
            if (go == seen) continue;
            job();
            seen = go;
            done_.store(go, std::memory_order_release);
          }
        }) {}

  void start() { go_.fetch_add(1, std::memory_order_acq_rel); }
  void wait() {
    const std::uint64_t go = go_.load(std::memory_order_acquire);
    while (done_.load(std::memory_order_acquire) != go) {
    }
  }

 private:
  alignas(64) std::atomic<std::uint64_t> go_{0};
  alignas(64) std::atomic<std::uint64_t> done_{0};
  std::jthread thread_;  // last: stopped and joined before the counters go
};

// Each iteration runs `job` on core 0's rig (this thread) and, when there
// is a second, on core 1's at the same time, and waits for both.
template <class Rig, class Job>
void run_on_cores(benchmark::State& state, std::vector<std::unique_ptr<Rig>>& rigs, Job job) {
  std::optional<Worker> worker;
  if (rigs.size() == 2) worker.emplace([&rig = *rigs[1], job] { job(rig); });
  for (auto _ : state) {
    if (worker) worker->start();
    job(*rigs[0]);
    if (worker) worker->wait();
  }
}

// A name no earlier run of this process used, for rings and pools.
std::string run_tag() {
  static int runs = 0;
  return std::to_string(getpid()) + "_" + std::to_string(runs++);
}

void BM_DpdkForwardCores(benchmark::State& state) {
  if (!eal()) {
    state.SkipWithError(eal_error().c_str());
    return;
  }
  const auto cores = static_cast<std::uint16_t>(state.range(0));
  const std::string tag = run_tag();
  auto in = eal()->make_ring_pair("ci" + tag, kRingSize, cores).value();
  auto out = eal()->make_ring_pair("co" + tag, kRingSize, cores).value();
  {
    std::vector<std::unique_ptr<CoreRig>> rigs;
    for (std::uint16_t q = 0; q < cores; ++q) rigs.push_back(std::make_unique<CoreRig>(in, out, q, cores, tag));
    const int rounds = kRounds / cores;
    run_on_cores(state, rigs, [rounds](CoreRig& rig) { rig.forward(rounds); });
    std::uint64_t forwarded = 0, copies = 0;
    for (std::uint16_t q = 0; q < cores; ++q) {
      forwarded += rigs[q]->forwarded();
      copies += rigs[q]->copies();
      if (rigs[q]->lost()) state.SkipWithError("packets were lost");
      state.counters["Mpps_core" + std::to_string(q)] = benchmark::Counter(
          static_cast<double>(rigs[q]->forwarded()) / 1e6, benchmark::Counter::kIsRate);
    }
    if (copies != 0) state.SkipWithError("forwarding copied payload");
    report(state, forwarded, copies);
  }
  for (std::uint16_t port : {in.a, in.b, out.a, out.b}) (void)eal()->detach(port);
}
BENCHMARK(BM_DpdkForwardCores)->ArgName("cores")->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond)->UseRealTime();

// ---------------------------------------------------------------------------
// TCP connections per second on 1 and 2 cores (issue 15): per core a Host
// with a client namespace on queue q of port A and a server namespace on
// queue q of port B (ports of 1 or 2 queues, software RSS on both: a frame
// that reached the wrong queue would go to the other core). Each client
// connects from port 0 to the server, which accepts; the client closes,
// then the server (the client ends in TIME_WAIT), as BM_TcpConnectClose.
// The client's port is picked so that the replies' RSS hash names its own
// queue (ipv4::RssPick): without it, half the SYN-ACKs would reach the
// other core's client namespace and be refused. The neighbours are static,
// so that no ARP runs in the timed loop. An iteration is
// kConnections connections split evenly over the cores.

constexpr int kConnections = 128;
constexpr int kClientAddresses = 32;
constexpr std::uint16_t kServerPort = 80;
const netns::MacAddress kUnused{0x02, 0, 0, 0, 0, 9};

Ipv4Address client_address(std::int64_t i) {
  return Ipv4Address(192, 0, 2, static_cast<std::uint8_t>(64 + i % kClientAddresses));
}

class ConnectRig {
 public:
  ConnectRig(const netns::dpdk::RingPair& wire, std::uint16_t queue, std::uint16_t queues) {
    const netns::dpdk::QueueSpec spec{.queue = queue, .queues = queues, .rss = netns::dpdk::Rss::software};
    client_ = host_.create_net("client").value();
    server_ = host_.create_net("server").value();
    netns::Device* a = netns::make_dpdk_queue(*client_, "eth0", wire.a, spec).value();
    netns::Device* b = netns::make_dpdk_queue(*server_, "eth0", wire.b, spec).value();
    (void)netns::set_link_up(*a);
    (void)netns::set_link_up(*b);
    for (int i = 0; i < kClientAddresses; ++i) {
      (void)netns::ipv4::add_address(*client_, *a, netns::Ipv4Prefix(client_address(i), 24));
      (void)netns::ipv4::add_neighbour(*server_, *b, client_address(i), a->mac());
    }
    (void)netns::ipv4::add_address(*server_, *b, prefix("192.0.2.2/24"));
    (void)netns::ipv4::add_neighbour(*client_, *a, Ipv4Address(192, 0, 2, 2), b->mac());
    listener_ = netns::tcp::listen(*server_, {Ipv4Address::any(), kServerPort}, 4096).value();
  }
  ~ConnectRig() { listener_ = {}; }  // before the namespaces and the Host
  ConnectRig(const ConnectRig&) = delete;
  ConnectRig& operator=(const ConnectRig&) = delete;

  void run(int n) {
    const netns::Endpoint to{Ipv4Address(192, 0, 2, 2), kServerPort};
    for (int i = 0; i < n && error.empty(); ++i) {
      auto client = netns::tcp::connect(*client_, {client_address(done_), 0}, to);
      if (!client) {
        error = "connect: " + client.error().message();
        return;
      }
      poll();  // SYN, SYN-ACK, ACK (each frame crosses the port and is polled in one round)
      poll();
      auto server = listener_.accept();
      if (!server) {
        error = "accept: " + server.error().message();
        return;
      }
      client->close();
      poll();
      poll();
      server->close();
      poll();
      poll();
      ++done_;
    }
  }

  std::int64_t done() const { return done_; }
  std::uint64_t copies() const { return host_.stats().packet_copies; }
  // What a connection that went wrong leaves behind.
  std::uint64_t failures() const {
    const auto& c = client_->counters();
    return c.get("TcpAttemptFails") + c.get("TcpEstabResets") + c.get("TcpCurrEstab") +
           server_->counters().get("TcpCurrEstab");
  }

  std::string error;

 private:
  void poll() { host_.poll(netns::Clock::now()); }

  netns::Host host_{netns::HostConfig{.secret = 1, .start = netns::Clock::now()}};
  netns::NetRef client_, server_;
  netns::tcp::Listener listener_;
  std::int64_t done_ = 0;
};

void BM_DpdkTcpConnectCores(benchmark::State& state) {
  if (!eal()) {
    state.SkipWithError(eal_error().c_str());
    return;
  }
  const auto cores = static_cast<std::uint16_t>(state.range(0));
  auto wire = eal()->make_ring_pair("cc" + run_tag(), kRingSize, cores).value();
  {
    std::vector<std::unique_ptr<ConnectRig>> rigs;
    for (std::uint16_t q = 0; q < cores; ++q) rigs.push_back(std::make_unique<ConnectRig>(wire, q, cores));
    const int per_core = kConnections / cores;
    run_on_cores(state, rigs, [per_core](ConnectRig& rig) { rig.run(per_core); });
    std::int64_t done = 0;
    std::uint64_t copies = 0, failures = 0;
    for (auto& rig : rigs) {
      if (!rig->error.empty()) state.SkipWithError(rig->error.c_str());
      done += rig->done();
      copies += rig->copies();
      failures += rig->failures();
    }
    if (failures != 0) state.SkipWithError("connections failed, were reset or left open");
    state.SetItemsProcessed(done);
    state.counters["connections_per_s"] = benchmark::Counter(static_cast<double>(done), benchmark::Counter::kIsRate);
    state.counters["packet_copies"] = static_cast<double>(copies);
  }
  for (std::uint16_t port : {wire.a, wire.b}) (void)eal()->detach(port);
}
BENCHMARK(BM_DpdkTcpConnectCores)->ArgName("cores")->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Takes every frame a device receives before its namespace does: the sink.
class Sink final : public netns::RxHandler {
 public:
  netns::RxResult handle_frame(netns::Device&, netns::Packet&) override {
    ++frames_;
    return netns::RxResult::consumed;  // the frame is dropped when the caller's Packet goes
  }
  std::uint64_t frames() const { return frames_; }

 private:
  std::uint64_t frames_ = 0;
};

// gen:eth0 — veth — router:eth0, router:eth1 — veth — sink:eth0.
class VethForwardRig {
 public:
  VethForwardRig() {
    gen_ = host_.create_net("gen").value();
    router_ = host_.create_net("router").value();
    sink_ = host_.create_net("sink").value();
    auto in = netns::make_veth(*gen_, "eth0", *router_, "eth0").value();
    auto out = netns::make_veth(*router_, "eth1", *sink_, "eth0").value();
    gen_eth0_ = in.a;
    sink_eth0_ = out.b;
    (void)netns::set_link_up(*gen_eth0_);
    (void)netns::set_link_up(*sink_eth0_);
    make_router(*router_, *in.b, *out.a);
    (void)sink_eth0_->set_rx_handler(drain_);
    frame_ = forward_template(in.b->mac());
  }
  ~VethForwardRig() { sink_eth0_->clear_rx_handler(); }
  VethForwardRig(const VethForwardRig&) = delete;
  VethForwardRig& operator=(const VethForwardRig&) = delete;

  void forward() {
    for (int i = 0; i < kBatch; ++i) {
      netns::Packet p = host_.packets().allocate(frame_.size());
      std::memcpy(p.mutable_data().data(), frame_.data(), frame_.size());
      gen_eth0_->transmit(std::move(p));
    }
    host_.poll(netns::Clock::time_point{});
  }

  std::uint64_t forwarded() const { return drain_.frames(); }
  std::uint64_t copies() const { return host_.stats().packet_copies; }

 private:
  Sink drain_;  // outlives the Host, which may still reach it while tearing down
  netns::Host host_{netns::HostConfig{.secret = 1}};
  netns::NetRef gen_, router_, sink_;
  netns::Device* gen_eth0_ = nullptr;
  netns::Device* sink_eth0_ = nullptr;
  std::vector<std::byte> frame_;
};

void BM_VethForward64(benchmark::State& state) {
  VethForwardRig rig;
  for (auto _ : state) rig.forward();
  if (rig.forwarded() != static_cast<std::uint64_t>(state.iterations()) * kBatch) {
    state.SkipWithError("packets were lost");
  }
  if (rig.copies() != 0) state.SkipWithError("forwarding copied payload");
  report(state, rig.forwarded(), rig.copies());
}
BENCHMARK(BM_VethForward64)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (geteuid() != 0) {
    eal_error() = "DPDK needs root here";
  } else {
    auto started = netns::dpdk::start({"--no-huge", "-m", "256", "--no-pci", "--no-shconf", "-l", "0",
                                       "--no-telemetry", "--log-level=*:error",
                                       "--file-prefix=netns-bench-" + std::to_string(getpid())});
    if (started) eal().emplace(std::move(*started));
    else eal_error() = "the DPDK EAL did not start: " + started.error().message();
  }
  bench::RatioReporter reporter;
  reporter.add_ratio("forward 64B: dpdk / veth", "BM_DpdkForward64", "BM_VethForward64");
  reporter.add_ratio("forward 64B: dpdk router only / dpdk with the NIC's part",
                     "BM_DpdkForward64RouterOnly", "BM_DpdkForward64");
  // Time for the same frames: the speedup of the second core (target >= 1.8).
  reporter.add_ratio("forward 64B: 1 core / 2 cores (speedup)", "BM_DpdkForwardCores/cores:1",
                     "BM_DpdkForwardCores/cores:2");
  reporter.add_ratio("tcp connections: 1 core / 2 cores (speedup)", "BM_DpdkTcpConnectCores/cores:1",
                     "BM_DpdkTcpConnectCores/cores:2");
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  eal().reset();
  return 0;
}
