#include "support/soak.hpp"

#include <time.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <thread>
#include <utility>

#include <boost/asio/error.hpp>
#include <fmt/format.h>

#include "ipv4/tcp/tcp_net.hpp"
#include "netns/bridge.hpp"
#include "netns/host.hpp"
#include "netns/icmp.hpp"
#include "netns/ipv4.hpp"
#include "netns/macvlan.hpp"
#include "netns/net.hpp"
#include "netns/tcp.hpp"
#include "netns/udp.hpp"
#include "stack/builtins.hpp"

namespace netns::soak {

namespace {

using std::chrono::duration;
using std::chrono::milliseconds;

constexpr std::size_t kGroupSize = 10;  // a hub and nine leaves
constexpr std::uint16_t kTcpPort = 80;
constexpr std::uint16_t kUdpPort = 53;
constexpr std::size_t kPeriod = 65521;  // the stream's pattern repeats every kPeriod bytes (prime)
constexpr std::size_t kChunk = 16384;   // bytes per write or read at most
constexpr std::size_t kHeader = 8;      // a stream starts with its payload length, big-endian

// Poll and gap times in a fixed histogram (allocated before the first RSS
// sample, so recording never grows memory): 2 µs buckets up to 200 ms.
class Histogram {
 public:
  static constexpr double kBucketUs = 2;
  Histogram() : buckets_(100'000) {}
  void add(double us) {
    auto i = static_cast<std::size_t>(us / kBucketUs);
    ++buckets_[std::min(i, buckets_.size() - 1)];
    ++count_;
    max_ = std::max(max_, us);
  }
  double percentile_ms(double p) const {
    if (count_ == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(p * static_cast<double>(count_ - 1));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
      seen += buckets_[i];
      if (seen > rank) return std::min(static_cast<double>(i + 1) * kBucketUs, max_) / 1000;
    }
    return max_ / 1000;
  }
  double max_ms() const { return max_ / 1000; }

 private:
  std::vector<std::uint64_t> buckets_;
  std::uint64_t count_ = 0;
  double max_ = 0;
};

// This thread's CPU time: a poll that took long in wall time but little
// here was descheduled, not working.
double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

std::size_t heap_bytes() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

std::size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

bool would_block(const boost::system::error_code& e) { return e == boost::asio::error::would_block; }

// The bytes every stream carries after its header: byte k is pattern[k % kPeriod].
class Pattern {
 public:
  Pattern() : bytes_(kPeriod + kChunk) {
    for (std::size_t i = 0; i < bytes_.size(); ++i) {
      const std::size_t k = i % kPeriod;
      bytes_[i] = std::byte(static_cast<std::uint8_t>((k * 2654435761u) >> 13 ^ (k >> 7)));
    }
  }
  std::span<const std::byte> at(std::uint64_t offset, std::size_t n) const {
    return std::span(bytes_).subspan(static_cast<std::size_t>(offset % kPeriod), std::min(n, kChunk));
  }

 private:
  std::vector<std::byte> bytes_;
};

struct Leaf {
  std::size_t group = 0, slot = 0;
  std::uint64_t generation = 0;
  NetRef net;
  Device* eth0 = nullptr;
  Device* port = nullptr;       // eth0's peer, a port in the hub
  Device* eth1 = nullptr;       // an extra veth end moved in from the hub, or none
  Device* eth1_peer = nullptr;  // its peer in the hub (a port of bridge 1)
  tcp::Listener listener;
  udp::Socket udp_server, udp_client;
  icmp::EchoSocket ping;
  std::uint16_t ping_seq = 0;
  bool secondary = false, route = false, blackhole = false, faults = false;
  bool accept_ready = false, udp_server_ready = false, udp_client_ready = false, ping_ready = false;
};

struct Hub {
  NetRef net;
  std::array<Device*, 2> bridge{};
};

struct Client {
  tcp::Stream stream;
  std::size_t leaf;
  std::uint64_t generation;
  std::uint64_t payload;  // bytes after the header
  std::uint64_t written = 0;  // header included
  bool shut = false;
  Clock::time_point deadline;
};

struct Server {
  tcp::Stream stream;
  std::size_t leaf;
  std::uint64_t generation;
  std::array<std::byte, kHeader> header{};
  std::uint64_t got = 0;  // header included
  bool bad = false;
  Clock::time_point deadline;
};

class Driver {
 public:
  explicit Driver(const Config& config)
      : config_(config),
        rng_(config.seed),
        host_(HostConfig{.secret = config.seed, .start = Clock::now()}),
        groups_(std::max<std::size_t>(1, config.nets / kGroupSize)),
        leaves_per_group_(std::max<std::size_t>(2, config.nets / groups_ - 1)) {}

  Report run();

 private:
  // ---- set-up and churn of leaves ----
  void build_hub(std::size_t g);
  void build_leaf(Leaf& leaf);
  void tear_down_leaf(Leaf& leaf);
  Ipv4Address leaf_address(std::size_t group, std::size_t slot, std::uint8_t base = 1) const {
    return Ipv4Address(10, static_cast<std::uint8_t>(group / 256), static_cast<std::uint8_t>(group % 256),
                       static_cast<std::uint8_t>(base + slot));
  }
  Leaf& leaf_at(std::size_t g, std::size_t s) { return leaves_[g * leaves_per_group_ + s]; }
  std::size_t random(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  LinkFaults lossy_faults() {
    return LinkFaults{.loss = 0.01, .duplicate = 0.002, .reorder = 0.02,
                      .delay = std::chrono::microseconds(500 + random(1500)),
                      .jitter = std::chrono::microseconds(random(500)), .seed = rng_()};
  }

  // ---- traffic ----
  void start_connection();
  void send_datagram();
  void send_ping();
  void serve_ready();
  void drive_clients(Clock::time_point now);
  void drive_servers(Clock::time_point now);
  void connection_failed(const boost::system::error_code& e) {
    ++report_.connections_failed;
    ++report_.connection_errors[e.message()];
  }

  // ---- topology ----
  void topology_op(Clock::time_point now);
  void illegal_op();
  void check_routes(Leaf& leaf);
  void legal(std::string_view kind, const Result<void>& r);
  // An illegal operation: `r` must be an error, and `unchanged` must hold.
  template <class T>
  void refused(std::string_view kind, const Result<T>& r, bool unchanged);
  void problem(std::string text) {
    if (report_.problems.size() < 32) report_.problems.push_back(std::move(text));
  }

  // ---- accounting ----
  void absorb(const Device* dev) {
    if (dev == nullptr) return;
    report_.tx_dropped += dev->stats().tx_dropped;
    report_.rx_dropped += dev->stats().rx_dropped;
  }
  void absorb(Net& net) {
    const Counters& c = net.counters();
    report_.retrans_segs += c.get("TcpRetransSegs");
    report_.packet_mem_drops += c.get("IpExtPacketMemDrops");
    report_.udp_rcvbuf_errors += c.get("UdpRcvbufErrors");
    report_.tw_overflow += c.get("TcpExtTCPTimeWaitOverflow");
  }
  Sample sample(double seconds);
  void teardown();

  Config config_;
  std::mt19937_64 rng_;
  Host host_;
  std::size_t groups_, leaves_per_group_;
  std::vector<Hub> hubs_;
  std::vector<Leaf> leaves_;
  std::vector<Client> clients_;
  std::vector<Server> servers_;
  std::vector<std::size_t> ready_;  // leaves with a socket that turned readable
  std::vector<std::pair<Clock::time_point, std::pair<std::size_t, std::uint64_t>>> flapped_;
  Pattern pattern_;
  std::vector<std::byte> buffer_ = std::vector<std::byte>(kChunk);
  std::uint64_t names_ = 0;  // suffixes of names made up for devices
  Report report_;
};

void Driver::legal(std::string_view kind, const Result<void>& r) {
  if (r) {
    ++report_.topology_ops[std::string(kind)];
    return;
  }
  ++report_.legal_failed;
  problem(fmt::format("legal {} failed: {}", kind, r.error().message()));
}

template <class T>
void Driver::refused(std::string_view kind, const Result<T>& r, bool unchanged) {
  if (r) {
    ++report_.illegal_accepted;
    problem(fmt::format("illegal {} was accepted", kind));
  } else {
    ++report_.refusals_total;
    ++report_.refusals[fmt::format("{} ({})", kind, r.error().message())];
  }
  if (!unchanged) {
    ++report_.refusal_changed_state;
    problem(fmt::format("refused {} changed state", kind));
  }
}

void Driver::build_hub(std::size_t g) {
  Hub& hub = hubs_[g];
  hub.net = host_.create_net(fmt::format("hub{}", g)).value();
  for (int b = 0; b < 2; ++b) {
    hub.bridge[b] = make_bridge(*hub.net, fmt::format("br{}", b)).value();
    set_link_up(*hub.bridge[b]).value();
  }
  // The two bridges are one segment through this link, so a port moved from
  // one to the other keeps its leaf reachable (its FDB entries move).
  auto link = make_veth(*hub.net, "link0", *hub.net, "link1").value();
  set_master(*link.a, *hub.bridge[0]).value();
  set_master(*link.b, *hub.bridge[1]).value();
  set_link_up(*link.a).value();
  set_link_up(*link.b).value();
}

void Driver::build_leaf(Leaf& leaf) {
  Hub& hub = hubs_[leaf.group];
  ++leaf.generation;
  leaf.net = host_.create_net(fmt::format("g{}s{}v{}", leaf.group, leaf.slot, leaf.generation)).value();
  Net& net = *leaf.net;
  // The old port goes with the old namespace at the next poll: a new name.
  auto veth = make_veth(net, "eth0", *hub.net, fmt::format("p{}v{}", leaf.slot, leaf.generation)).value();
  leaf.eth0 = veth.a;
  leaf.port = veth.b;
  set_master(*leaf.port, *hub.bridge[random(2)]).value();
  set_link_up(*leaf.port).value();
  set_link_up(*leaf.eth0).value();
  ipv4::add_address(net, *leaf.eth0, Ipv4Prefix(leaf_address(leaf.group, leaf.slot), 24)).value();
  leaf.faults = leaf.group % 3 == 0;
  if (leaf.faults) {
    set_link_faults(*leaf.eth0, lossy_faults()).value();
    set_link_faults(*leaf.port, lossy_faults()).value();
  }
  leaf.listener = tcp::listen(net, {Ipv4Address::any(), kTcpPort}).value();
  leaf.udp_server = udp::open(net).value();
  leaf.udp_server.bind({Ipv4Address::any(), kUdpPort}).value();
  leaf.udp_client = udp::open(net).value();
  leaf.ping = icmp::open(net).value();
  const std::size_t index = static_cast<std::size_t>(&leaf - leaves_.data());
  // Readiness only marks the leaf: the work is done between polls.
  auto mark = [this, index](bool Leaf::*flag) {
    return [this, index, flag] {
      Leaf& l = leaves_[index];
      if (!(l.accept_ready || l.udp_server_ready || l.udp_client_ready || l.ping_ready)) ready_.push_back(index);
      l.*flag = true;
    };
  };
  leaf.listener.on_acceptable(mark(&Leaf::accept_ready));
  leaf.udp_server.on_readable(mark(&Leaf::udp_server_ready));
  leaf.udp_client.on_readable(mark(&Leaf::udp_client_ready));
  leaf.ping.on_readable(mark(&Leaf::ping_ready));
  leaf.secondary = leaf.route = leaf.blackhole = false;
}

void Driver::tear_down_leaf(Leaf& leaf) {
  const std::size_t index = static_cast<std::size_t>(&leaf - leaves_.data());
  auto mine = [&](const auto& s) { return s.leaf == index; };
  for (Client& c : clients_) {
    if (mine(c)) {
      c.stream.abort();
      ++report_.connections_aborted;
    }
  }
  std::erase_if(clients_, mine);
  for (Server& s : servers_) {
    if (mine(s)) s.stream.abort();
  }
  std::erase_if(servers_, mine);
  leaf.listener.close();
  leaf.udp_server.close();
  leaf.udp_client.close();
  leaf.ping.close();
  leaf.accept_ready = leaf.udp_server_ready = leaf.udp_client_ready = leaf.ping_ready = false;
  if (leaf.eth1 != nullptr) {
    absorb(leaf.eth1);
    absorb(leaf.eth1_peer);
    legal("destroy_device", destroy_device(*leaf.eth1));  // its peer in the hub with it
    leaf.eth1 = leaf.eth1_peer = nullptr;
  }
  absorb(leaf.eth0);
  absorb(leaf.port);
  absorb(*leaf.net);
  leaf.eth0 = leaf.port = nullptr;
  // The namespace dies at the next poll, its veth (and the hub's port) with it.
  leaf.net.reset();
}

// ---- traffic ----

void Driver::start_connection() {
  const std::size_t g = random(groups_);
  const std::size_t from = random(leaves_per_group_);
  const std::size_t to = (from + 1 + random(leaves_per_group_ - 1)) % leaves_per_group_;
  Leaf& client = leaf_at(g, from);
  auto stream = tcp::connect(*client.net, {leaf_address(g, to), kTcpPort});
  if (!stream) {
    ++report_.connect_refused_locally;
    ++report_.connection_errors["connect: " + stream.error().message()];
    return;
  }
  // Sizes spread over 0 .. 64 KiB, most of them small, as real traffic.
  const std::uint64_t payload = (std::uint64_t{1} << random(17)) - 1 + random(1024);
  clients_.push_back(Client{.stream = std::move(*stream), .leaf = g * leaves_per_group_ + from,
                            .generation = client.generation, .payload = payload,
                            .deadline = Clock::now() + config_.connection_deadline});
  ++report_.connections_started;
}

void Driver::send_datagram() {
  const std::size_t g = random(groups_);
  const std::size_t from = random(leaves_per_group_);
  const std::size_t to = (from + 1 + random(leaves_per_group_ - 1)) % leaves_per_group_;
  const std::size_t size = 16 + random(1000);
  if (leaf_at(g, from).udp_client.send_to(pattern_.at(random(kPeriod), size), {leaf_address(g, to), kUdpPort})) {
    ++report_.datagrams_sent;
  }
}

void Driver::send_ping() {
  const std::size_t g = random(groups_);
  const std::size_t from = random(leaves_per_group_);
  const std::size_t to = (from + 1 + random(leaves_per_group_ - 1)) % leaves_per_group_;
  Leaf& leaf = leaf_at(g, from);
  // Now and then to an address that is there only while its owner has it.
  const std::uint8_t base = chance(0.1) ? 100 : 1;
  if (leaf.ping.send_echo(leaf_address(g, to, base), ++leaf.ping_seq, pattern_.at(0, 56))) ++report_.pings_sent;
}

void Driver::serve_ready() {
  std::vector<std::size_t> ready;
  ready.swap(ready_);
  for (std::size_t index : ready) {
    Leaf& leaf = leaves_[index];
    if (std::exchange(leaf.accept_ready, false)) {
      for (;;) {
        auto accepted = leaf.listener.accept();
        if (!accepted) break;
        servers_.push_back(Server{.stream = std::move(*accepted), .leaf = index, .generation = leaf.generation,
                                  .deadline = Clock::now() + config_.connection_deadline});
      }
    }
    if (std::exchange(leaf.udp_server_ready, false)) {
      for (;;) {
        auto got = leaf.udp_server.receive_from(buffer_);
        if (!got) {
          if (would_block(got.error())) break;
          continue;  // a pending ICMP error, reported once
        }
        (void)leaf.udp_server.send_to(std::span(buffer_).first(got->size), got->from);
      }
    }
    if (std::exchange(leaf.udp_client_ready, false)) {
      for (;;) {
        auto got = leaf.udp_client.receive_from(buffer_);
        if (!got) {
          if (would_block(got.error())) break;
          continue;
        }
        ++report_.datagrams_answered;
      }
    }
    if (std::exchange(leaf.ping_ready, false)) {
      for (;;) {
        auto got = leaf.ping.receive();
        if (!got) {
          if (would_block(got.error())) break;
          continue;
        }
        ++report_.pings_answered;
      }
    }
  }
  ready.clear();
  if (ready_.empty()) ready_.swap(ready);  // keep the capacity
}

void Driver::drive_clients(Clock::time_point now) {
  for (std::size_t i = 0; i < clients_.size();) {
    Client& c = clients_[i];
    bool done = false;
    const std::uint64_t total = kHeader + c.payload;
    while (!c.shut && c.written < total) {
      std::span<const std::byte> data;
      std::array<std::byte, kHeader> header{};
      if (c.written < kHeader) {
        for (std::size_t k = 0; k < kHeader; ++k) header[k] = std::byte(c.payload >> (56 - 8 * k));
        data = std::span<const std::byte>(header).subspan(c.written);
      } else {
        data = pattern_.at(c.written - kHeader, total - c.written);
      }
      auto w = c.stream.write(data);
      if (!w) {
        if (!would_block(w.error())) {
          connection_failed(w.error());
          done = true;
        }
        break;
      }
      c.written += *w;
      report_.bytes_sent += *w;
    }
    if (!done && !c.shut && c.written == total) {
      c.shut = true;
      if (auto s = c.stream.shutdown(); !s) {
        connection_failed(s.error());
        done = true;
      }
    }
    if (!done && c.shut) {
      // The server sends nothing but its FIN.
      auto r = c.stream.read(buffer_);
      if (r && *r == 0) {
        ++report_.connections_completed;
        done = true;
      } else if (r) {
        ++report_.stream_mismatches;
        problem("the server sent data");
        done = true;
      } else if (!would_block(r.error())) {
        connection_failed(r.error());
        done = true;
      }
    }
    if (!done && now > c.deadline) {
      c.stream.abort();
      ++report_.connections_aborted;
      done = true;
    }
    if (done) {
      c.stream.close();  // a completed one leaves its TIME_WAIT record
      clients_[i] = std::move(clients_.back());
      clients_.pop_back();
    } else {
      ++i;
    }
  }
}

void Driver::drive_servers(Clock::time_point now) {
  for (std::size_t i = 0; i < servers_.size();) {
    Server& s = servers_[i];
    bool done = false;
    for (;;) {
      auto r = s.stream.read(buffer_);
      if (!r) {
        // A reset or timeout is the client's to count.
        if (!would_block(r.error())) done = true;
        break;
      }
      if (*r == 0) {
        std::uint64_t payload = 0;
        for (std::byte b : s.header) payload = payload << 8 | std::to_integer<std::uint64_t>(b);
        if (s.bad || s.got != kHeader + payload) {
          ++report_.stream_mismatches;
          problem(fmt::format("stream of {} bytes ended after {}", kHeader + payload, s.got));
        } else {
          ++report_.server_streams_completed;
        }
        done = true;
        break;
      }
      std::span<const std::byte> data = std::span(buffer_).first(*r);
      while (!data.empty() && s.got < kHeader) {
        s.header[s.got++] = data.front();
        data = data.subspan(1);
      }
      if (!data.empty()) {
        if (std::memcmp(data.data(), pattern_.at(s.got - kHeader, data.size()).data(), data.size()) != 0) {
          s.bad = true;
        }
        s.got += data.size();
      }
      report_.bytes_received += *r;
    }
    if (!done && now > s.deadline) {
      s.stream.abort();
      done = true;
    }
    if (done) {
      s.stream.close();
      servers_[i] = std::move(servers_.back());
      servers_.pop_back();
    } else {
      ++i;
    }
  }
}

// ---- topology ----

void Driver::topology_op(Clock::time_point now) {
  const std::size_t g = random(groups_);
  const std::size_t slot = random(leaves_per_group_);
  Leaf& leaf = leaf_at(g, slot);
  Hub& hub = hubs_[g];
  Net& net = *leaf.net;
  switch (random(7)) {
    case 0: {  // ip link set pN nomaster; ip link set pN master <the other bridge>
      Device* to = master(*leaf.port) == hub.bridge[0] ? hub.bridge[1] : hub.bridge[0];
      legal("set_nomaster", set_nomaster(*leaf.port));
      legal("set_master", set_master(*leaf.port, *to));
      break;
    }
    case 1: {  // the port down for a moment (its FDB entries flushed)
      if (!leaf.port->is_up()) break;
      legal("link_down", set_link_up(*leaf.port, false));
      flapped_.push_back({now + milliseconds(100 + random(400)),
                          {g * leaves_per_group_ + slot, leaf.generation}});
      break;
    }
    case 2: {  // a second address on eth0, or not
      const Ipv4Prefix secondary(leaf_address(g, slot, 100), 24);
      legal(leaf.secondary ? "del_address" : "add_address",
            leaf.secondary ? ipv4::del_address(net, *leaf.eth0, secondary)
                           : ipv4::add_address(net, *leaf.eth0, secondary));
      leaf.secondary = !leaf.secondary;
      check_routes(leaf);
      break;
    }
    case 3: {  // a route through a neighbour leaf, and a blackhole
      const bool route = chance(0.5);
      bool& present = route ? leaf.route : leaf.blackhole;
      ipv4::RouteSpec spec{.prefix = Ipv4Prefix(Ipv4Address(route ? 172 : 198, route ? 16 : 18,
                                                            static_cast<std::uint8_t>(g % 256), 0), 24)};
      if (route) {
        spec.via = leaf_address(g, (slot + 1) % leaves_per_group_);
      } else {
        spec.type = ipv4::RouteType::blackhole;
      }
      legal(present ? "del_route" : "add_route", present ? ipv4::del_route(net, spec) : ipv4::add_route(net, spec));
      present = !present;
      break;
    }
    case 4: {  // faults on, off, or changed
      leaf.faults = !leaf.faults || chance(0.5);
      const LinkFaults faults = leaf.faults ? lossy_faults() : LinkFaults{};
      legal("set_link_faults", set_link_faults(*leaf.eth0, faults));
      break;
    }
    case 5:
    case 6: {  // an extra veth: added through the hub, moved between leaves, destroyed
      if (leaf.eth1 == nullptr) {
        const std::uint64_t n = ++names_;
        auto veth = make_veth(*hub.net, fmt::format("x{}", n), *hub.net, fmt::format("y{}", n));
        legal("make_veth", veth ? Result<void>{} : Result<void>(veth.error()));
        if (!veth) break;
        legal("set_master", set_master(*veth->a, *hub.bridge[1]));
        legal("set_link_up", set_link_up(*veth->a));
        legal("move_device", host_.move_device(*veth->b, net, "eth1"));
        legal("set_link_up", set_link_up(*veth->b));
        legal("add_address", ipv4::add_address(net, *veth->b,
                                               Ipv4Prefix(Ipv4Address(172, 17, static_cast<std::uint8_t>(g % 256),
                                                                      static_cast<std::uint8_t>(slot + 1)), 24)));
        leaf.eth1 = veth->b;
        leaf.eth1_peer = veth->a;
        break;
      }
      Leaf& other = leaf_at(g, (slot + 1 + random(leaves_per_group_ - 1)) % leaves_per_group_);
      if (other.eth1 == nullptr && chance(0.5)) {
        legal("move_device", host_.move_device(*leaf.eth1, *other.net));
        legal("set_link_up", set_link_up(*leaf.eth1));
        other.eth1 = std::exchange(leaf.eth1, nullptr);
        other.eth1_peer = std::exchange(leaf.eth1_peer, nullptr);
        break;
      }
      if (other.eth1 != nullptr) {
        // Its name is taken there: refused, and eth1 stays where it is.
        Device* eth1 = leaf.eth1;
        refused("move_device to a taken name", host_.move_device(*eth1, *other.net),
                &eth1->net() == &net && net.device("eth1") == eth1);
        break;
      }
      absorb(leaf.eth1);
      absorb(leaf.eth1_peer);
      legal("destroy_device", destroy_device(*leaf.eth1));
      leaf.eth1 = leaf.eth1_peer = nullptr;
      break;
    }
  }
}

void Driver::check_routes(Leaf& leaf) {
  // A static route through a device outlives another address of the device
  // coming or going, as in Linux (fib_inetaddr_event).
  const auto g = static_cast<std::uint8_t>(leaf.group % 256);
  if (leaf.route && !ipv4::route_output(*leaf.net, Ipv4Address(172, 16, g, 1))) {
    leaf.route = false;
    ++report_.routes_lost;
    problem("a static route went with an address change of its device");
  }
  if (leaf.blackhole && ipv4::route_output(*leaf.net, Ipv4Address(198, 18, g, 1)).error() != Errc::invalid_argument) {
    leaf.blackhole = false;
    ++report_.routes_lost;
    problem("a blackhole route went with an address change");
  }
}

void Driver::illegal_op() {
  const std::size_t g = random(groups_);
  const std::size_t slot = random(leaves_per_group_);
  Leaf& leaf = leaf_at(g, slot);
  Hub& hub = hubs_[g];
  Device* br0 = hub.bridge[0];
  Device* br1 = hub.bridge[1];
  const auto ports0 = bridge_ports(*br0).size();
  const auto ports1 = bridge_ports(*br1).size();
  auto bridges_unchanged = [&] {
    return br0->master_upper() == nullptr && br1->master_upper() == nullptr && bridge_ports(*br0).size() == ports0 &&
           bridge_ports(*br1).size() == ports1;
  };
  switch (random(11)) {
    case 0:  // a bridge as a port of a bridge (ELOOP)
      refused("bridge in a bridge", set_master(*br0, *br1), bridges_unchanged());
      break;
    case 1: {  // a bridge as a port of itself
      refused("bridge its own port", set_master(*br0, *br0), bridges_unchanged());
      break;
    }
    case 2: {  // the crash of issue 11: a macvlan on a bridge enslaved to it
      auto mv = make_macvlan(*br0, *hub.net, fmt::format("mv{}", ++names_));
      legal("make_macvlan", mv ? Result<void>{} : Result<void>(mv.error()));
      if (!mv) break;
      refused("macvlan enslaved to its lower", set_master(**mv, *br0),
              (*mv)->master_upper() == nullptr && bridge_ports(*br0).size() == ports0);
      legal("destroy_device", destroy_device(**mv));
      break;
    }
    case 3: {  // a port of another namespace
      Hub& other = hubs_[(g + 1) % groups_];
      if (&other == &hub) break;
      Device* before = master(*leaf.port);
      const auto other_ports = bridge_ports(*other.bridge[0]).size();
      refused("port of another namespace", set_master(*leaf.port, *other.bridge[0]),
              master(*leaf.port) == before && bridge_ports(*other.bridge[0]).size() == other_ports);
      break;
    }
    case 4:  // the loopback as a port
      refused("loopback as a port", set_master(hub.net->loopback(), *br0), bridges_unchanged());
      break;
    case 5:  // a bridge is netns-local
      refused("move a bridge", host_.move_device(*br0, *leaf.net),
              &br0->net() == hub.net.get() && bridges_unchanged());
      break;
    case 6: {  // the loopback cannot move nor go
      Device& lo = leaf.net->loopback();
      refused("move the loopback", host_.move_device(lo, *hub.net, "lo2"),
              &lo.net() == leaf.net.get() && hub.net->device("lo2") == nullptr);
      const bool up = lo.is_up();
      refused("destroy the loopback", destroy_device(lo), leaf.net->device("lo") == &lo && lo.is_up() == up);
      break;
    }
    case 7: {  // an address already there
      const auto before = ipv4::addresses(*leaf.net).size();
      refused("address already present",
              ipv4::add_address(*leaf.net, *leaf.eth0, Ipv4Prefix(leaf_address(g, slot), 24)),
              ipv4::addresses(*leaf.net).size() == before);
      break;
    }
    case 8: {  // names already taken
      const std::size_t nets = host_.net_count();
      refused("namespace name taken", host_.create_net(hub.net->name()), host_.net_count() == nets);
      refused("device name taken", make_veth(*leaf.net, "eth0", *hub.net, "zz0"),
              hub.net->device("zz0") == nullptr && leaf.net->device("eth0") == leaf.eth0);
      break;
    }
    case 9: {  // a port of one bridge enslaved to the other without leaving the first
      Device* before = master(*leaf.port);
      Device* other = before == br0 ? br1 : br0;
      if (before == nullptr) break;
      refused("port already enslaved", set_master(*leaf.port, *other), master(*leaf.port) == before);
      break;
    }
    case 10: {  // a probability outside [0, 1]
      refused("bad link faults", set_link_faults(*leaf.eth0, LinkFaults{.loss = 1.5}), leaf.eth0->is_up());
      // A loop through a chain: br0 <- mv1 (a macvlan on br0) <- bx (a
      // bridge with mv1 as its port) <- mv2 (a macvlan on bx); mv2 as a
      // port of br0 would close it.
      auto bx = make_bridge(*hub.net, fmt::format("bx{}", ++names_));
      legal("make_bridge", bx ? Result<void>{} : Result<void>(bx.error()));
      if (!bx) break;
      auto mv1 = make_macvlan(*br0, *hub.net, fmt::format("mv{}", ++names_));
      legal("make_macvlan", mv1 ? Result<void>{} : Result<void>(mv1.error()));
      if (mv1) {
        legal("set_master", set_master(**mv1, **bx));
        auto mv2 = make_macvlan(**bx, *hub.net, fmt::format("mv{}", ++names_));
        legal("make_macvlan", mv2 ? Result<void>{} : Result<void>(mv2.error()));
        if (mv2) {
          refused("loop through a chain", set_master(**mv2, *br0),
                  (*mv2)->master_upper() == nullptr && bridges_unchanged());
          legal("destroy_device", destroy_device(**mv2));
        }
        legal("destroy_device", destroy_device(**mv1));
      }
      legal("destroy_device", destroy_device(**bx));
      break;
    }
  }
}

// ---- sampling and teardown ----

Sample Driver::sample(double seconds) {
  const HostStats stats = host_.stats();
  Sample s{.seconds = seconds, .rss_bytes = resident_bytes(), .heap_bytes = heap_bytes(), .packets_in_use = stats.packets_in_use,
           .packets_cached = host_.packets().cached(),
           .leaked_holds = stats.leaked_holds, .live_nets = stats.live_nets, .dying_nets = stats.dying_nets,
           .net_objects = stats.net_objects, .timers = stats.timers_pending,
           .active_connections = clients_.size()};
  tcp::TcpOps& tcp_ops = host_.builtins().tcp();
  host_.for_each_net([&](Net& net) {
    s.sockets += net.resources().sockets();
    s.packet_memory += net.resources().packet_memory();
    s.neighbours += ipv4::neighbour_table_stats(net).entries;
    if (tcp::TcpNet* tn = tcp_ops.state(net)) s.time_wait += tn->time_wait.size();
  });
  return s;
}

void Driver::teardown() {
  for (Client& c : clients_) c.stream.abort();
  clients_.clear();
  for (Server& s : servers_) s.stream.abort();
  servers_.clear();
  for (Leaf& leaf : leaves_) tear_down_leaf(leaf);
  for (Hub& hub : hubs_) {
    for (Device& dev : hub.net->devices()) absorb(&dev);
    absorb(*hub.net);
    hub.net.reset();
  }
  // Until every namespace has gone (each poll runs the queued teardown).
  const auto give_up = Clock::now() + std::chrono::seconds(30);
  for (;;) {
    host_.poll(Clock::now());
    const HostStats stats = host_.stats();
    if ((stats.live_nets <= 1 && stats.dying_nets == 0) || Clock::now() > give_up) break;
    std::this_thread::sleep_for(milliseconds(1));
  }
  const HostStats stats = host_.stats();
  report_.final_packets_in_use = stats.packets_in_use;
  report_.final_leaked_holds = stats.leaked_holds;
  report_.final_live_nets = stats.live_nets;
  report_.final_dying_nets = stats.dying_nets;
  report_.final_net_objects = stats.net_objects;
  report_.nets_created = stats.nets_created;
  report_.nets_freed = stats.nets_freed;
}

Report Driver::run() {
  const auto t0 = Clock::now();
  hubs_.resize(groups_);
  leaves_.resize(groups_ * leaves_per_group_);
  for (std::size_t g = 0; g < groups_; ++g) build_hub(g);
  for (std::size_t i = 0; i < leaves_.size(); ++i) {
    leaves_[i].group = i / leaves_per_group_;
    leaves_[i].slot = i % leaves_per_group_;
    build_leaf(leaves_[i]);
  }
  clients_.reserve(4096);
  servers_.reserve(4096);
  ready_.reserve(leaves_.size());
  flapped_.reserve(1024);
  report_.samples.reserve(static_cast<std::size_t>(config_.duration / config_.sample_every) + 2);

  Histogram polls, poll_cpus, gaps, lates;
  report_.rss_initial = resident_bytes();
  const auto start = Clock::now();
  const auto end = start + config_.duration;
  const auto warm = start + config_.warmup;
  auto next_sample = start + config_.sample_every;
  double connections = 0, datagrams = 0, pings = 0, replacements = 0, topology = 0, illegal = 0;
  auto last = start;
  auto last_poll_end = start;
  auto asked = start;  // the deadline the last poll returned
  bool warmed = false;
  if (config_.log) {
    config_.log(fmt::format("soak: {} groups of 1 hub + {} leaves ({} namespaces), set up in {:.1f} s",
                            groups_, leaves_per_group_, groups_ * (1 + leaves_per_group_),
                            duration<double>(start - t0).count()));
    config_.log("     t  rss_MiB  heap_MiB  cached  pkts_in_use  leaked  live  dying  sockets  time_wait  neigh  pkt_mem_KiB  "
                "timers  conns  completed");
  }
  for (;;) {
    const auto now = Clock::now();
    if (now >= end) break;
    const double dt = duration<double>(now - last).count();
    last = now;
    // Work arrives at its rate in real time, whatever the loop's pace.
    connections += dt * config_.connections_per_second;
    datagrams += dt * config_.datagrams_per_second;
    pings += dt * config_.pings_per_second;
    replacements += dt * config_.replacements_per_second;
    topology += dt * config_.topology_ops_per_second;
    illegal += dt * config_.illegal_ops_per_second;
    for (; replacements >= 1; --replacements) {
      Leaf& leaf = leaves_[random(leaves_.size())];
      tear_down_leaf(leaf);
      build_leaf(leaf);
      ++report_.nets_replaced;
    }
    for (; topology >= 1; --topology) topology_op(now);
    for (; illegal >= 1; --illegal) illegal_op();
    std::erase_if(flapped_, [&](const auto& f) {
      if (f.first > now) return false;
      Leaf& leaf = leaves_[f.second.first];
      if (leaf.generation == f.second.second) legal("link_up", set_link_up(*leaf.port));
      return true;
    });
    for (; connections >= 1; --connections) start_connection();
    for (; datagrams >= 1; --datagrams) send_datagram();
    for (; pings >= 1; --pings) send_ping();
    serve_ready();
    drive_clients(now);
    drive_servers(now);

    const auto poll_start = Clock::now();
    const double work_us = duration<double, std::micro>(poll_start - now).count();
    // How much later than it asked the Host is polled: its timers fire that late.
    const double late_us =
        asked <= poll_start ? duration<double, std::micro>(poll_start - asked).count() : 0.0;
    const double cpu_start_us = thread_cpu_us();
    const auto next = host_.poll(poll_start);
    const double poll_cpu_us = thread_cpu_us() - cpu_start_us;
    asked = next;
    const auto poll_end = Clock::now();
    ++report_.polls;
    const double poll_us = duration<double, std::micro>(poll_end - poll_start).count();
    const double gap_us = duration<double, std::micro>(poll_start - last_poll_end).count();
    report_.max_poll_ms_all = std::max(report_.max_poll_ms_all, poll_us / 1000);
    if (poll_start >= warm) {
      polls.add(poll_us);
      poll_cpus.add(poll_cpu_us);
      if (poll_us > 2000) {
        ++report_.polls_over_2ms;
        // Most of its wall time off the CPU: the thread was descheduled.
        if (poll_cpu_us < poll_us / 2) ++report_.polls_over_2ms_descheduled;
      }
      gaps.add(gap_us);
      lates.add(late_us);
      report_.max_work_ms = std::max(report_.max_work_ms, work_us / 1000);
    }
    last_poll_end = poll_end;
    serve_ready();  // answer what this poll brought before the next one

    if (poll_end >= next_sample) {
      next_sample += config_.sample_every;
      Sample s = sample(duration<double>(poll_end - start).count());
      if (config_.log) {
        config_.log(fmt::format("{:6.0f}  {:7.1f}  {:8.1f}  {:6}  {:11}  {:6}  {:4}  {:5}  {:7}  {:9}  {:5}  {:11}  {:6}  {:5}  {:9}",
                                s.seconds, static_cast<double>(s.rss_bytes) / (1 << 20),
                                static_cast<double>(s.heap_bytes) / (1 << 20), s.packets_cached, s.packets_in_use,
                                s.leaked_holds, s.live_nets, s.dying_nets, s.sockets, s.time_wait, s.neighbours,
                                s.packet_memory / 1024, s.timers, s.active_connections,
                                report_.connections_completed));
      }
      if (poll_end >= warm) {
        if (!warmed) {
          report_.rss_start = s.rss_bytes;
          report_.heap_start = s.heap_bytes;
          report_.packets_cached_start = s.packets_cached;
        }
        report_.packets_cached_end = s.packets_cached;
        report_.heap_max = std::max(report_.heap_max, s.heap_bytes);
        report_.heap_end = s.heap_bytes;
        warmed = true;
        report_.rss_max = std::max(report_.rss_max, s.rss_bytes);
        report_.rss_end = s.rss_bytes;
      }
      report_.samples.push_back(s);
      const auto after = Clock::now();
      report_.max_sample_ms = std::max(report_.max_sample_ms, duration<double, std::milli>(after - poll_end).count());
      last_poll_end = after;  // sampling is the benchmark's, not the Host's
    }
    // Poll again when the Host has work, and at least every millisecond
    // for the traffic.
    const auto wake = std::min(next, Clock::now() + milliseconds(1));
    if (wake > Clock::now()) std::this_thread::sleep_until(wake);
  }
  report_.seconds = duration<double>(Clock::now() - start).count();
  report_.max_poll_ms = polls.max_ms();
  report_.p50_poll_ms = polls.percentile_ms(0.50);
  report_.p99_poll_ms = polls.percentile_ms(0.99);
  report_.p999_poll_ms = polls.percentile_ms(0.999);
  report_.max_poll_cpu_ms = poll_cpus.max_ms();
  report_.p999_poll_cpu_ms = poll_cpus.percentile_ms(0.999);
  report_.max_gap_ms = gaps.max_ms();
  report_.p99_gap_ms = gaps.percentile_ms(0.99);
  report_.max_late_ms = lates.max_ms();
  report_.p99_late_ms = lates.percentile_ms(0.99);
  teardown();
  return std::move(report_);
}

}  // namespace

Report run(const Config& config) { return Driver(config).run(); }

std::string format_report(const Report& r) {
  std::string out;
  auto line = [&](std::string text) { out += text + "\n"; };
  constexpr double kMiB = 1 << 20;
  line(fmt::format("run: {:.0f} s, {} polls", r.seconds, r.polls));
  line(fmt::format("rss_initial {:.1f} MiB, after warm-up: rss_start {:.1f} MiB, rss_end {:.1f} MiB, rss_max {:.1f} MiB",
                   static_cast<double>(r.rss_initial) / kMiB, static_cast<double>(r.rss_start) / kMiB,
                   static_cast<double>(r.rss_end) / kMiB, static_cast<double>(r.rss_max) / kMiB));
  line(fmt::format("heap in use (mallinfo2), after warm-up: start {:.1f} MiB, end {:.1f} MiB, max {:.1f} MiB; "
                   "free packet buffers the pool keeps: {} then {}",
                   static_cast<double>(r.heap_start) / kMiB, static_cast<double>(r.heap_end) / kMiB,
                   static_cast<double>(r.heap_max) / kMiB, r.packets_cached_start, r.packets_cached_end));
  line(fmt::format("poll: p50 {:.3f} ms, p99 {:.3f} ms, p99.9 {:.3f} ms, max {:.3f} ms (max over the whole run {:.3f} ms)",
                   r.p50_poll_ms, r.p99_poll_ms, r.p999_poll_ms, r.max_poll_ms, r.max_poll_ms_all));
  line(fmt::format("poll in thread CPU time: p99.9 {:.3f} ms, max {:.3f} ms; polls over 2 ms of wall time: {} "
                   "({} of them mostly descheduled)",
                   r.p999_poll_cpu_ms, r.max_poll_cpu_ms, r.polls_over_2ms, r.polls_over_2ms_descheduled));
  line(fmt::format("gap between polls: p99 {:.3f} ms, max {:.3f} ms (the driver's work in it: max {:.3f} ms); "
                   "sampling max {:.3f} ms",
                   r.p99_gap_ms, r.max_gap_ms, r.max_work_ms, r.max_sample_ms));
  line(fmt::format("polled after the deadline the Host asked for: p99 {:.3f} ms, max {:.3f} ms", r.p99_late_ms,
                   r.max_late_ms));
  line(fmt::format("tcp: {} started, {} completed ({} checked by the server), {} failed, {} aborted, {} refused "
                   "locally, {} mismatches; {} bytes sent, {} received",
                   r.connections_started, r.connections_completed, r.server_streams_completed, r.connections_failed,
                   r.connections_aborted, r.connect_refused_locally, r.stream_mismatches, r.bytes_sent,
                   r.bytes_received));
  for (const auto& [e, n] : r.connection_errors) line(fmt::format("  tcp error {}: {}", e, n));
  line(fmt::format("udp: {} sent, {} answered; ping: {} sent, {} answered", r.datagrams_sent, r.datagrams_answered,
                   r.pings_sent, r.pings_answered));
  std::uint64_t legal = 0;
  for (const auto& [k, n] : r.topology_ops) legal += n;
  line(fmt::format("churn: {} namespaces replaced, {} legal topology operations, {} legal ones failed",
                   r.nets_replaced, legal, r.legal_failed));
  for (const auto& [k, n] : r.topology_ops) line(fmt::format("  {}: {}", k, n));
  if (r.routes_lost != 0) {
    line(fmt::format("  static routes gone with an address change of their device (must be 0): {}",
                     r.routes_lost));
  }
  line(fmt::format("refusals: {} (illegal accepted {}, refusals that changed state {})", r.refusals_total,
                   r.illegal_accepted, r.refusal_changed_state));
  for (const auto& [k, n] : r.refusals) line(fmt::format("  {}: {}", k, n));
  line(fmt::format("drops: tx_dropped {}, rx_dropped {}, TcpRetransSegs {}, IpExtPacketMemDrops {}, "
                   "UdpRcvbufErrors {}, TCPTimeWaitOverflow {}",
                   r.tx_dropped, r.rx_dropped, r.retrans_segs, r.packet_mem_drops, r.udp_rcvbuf_errors,
                   r.tw_overflow));
  line(fmt::format("end: packets_in_use {}, leaked_holds {}, live_nets {}, dying_nets {}, net_objects {}, "
                   "nets created {} freed {}",
                   r.final_packets_in_use, r.final_leaked_holds, r.final_live_nets, r.final_dying_nets,
                   r.final_net_objects, r.nets_created, r.nets_freed));
  for (const auto& p : r.problems) line("problem: " + p);
  return out;
}

}  // namespace netns::soak
