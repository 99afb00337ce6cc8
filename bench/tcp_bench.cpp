// tcp_bench — the TCP benchmarks of issue 4, each beside the Linux kernel
// doing the same between two kernel namespaces over a kernel veth, in one run.
//
//   BM_TcpBulk/<mtu>                 one connection between two namespaces over a
//                                    veth of that MTU (both ends), one thread:
//                                    write what fits, Host::poll(Clock::now()),
//                                    read everything. bytes/s; an iteration is
//                                    1 MiB received and checked.
//   BM_KernelTcpBulk/<mtu>           the same transfer between two Linux namespaces
//                                    over a kernel veth: non-blocking sockets driven
//                                    from one thread, as netns is.
//   BM_KernelTcpBulkTwoThreads/<mtu> the kernel again with a blocking sender thread
//                                    and a blocking receiver thread (both cores).
//   BM_TcpBulkInterleaved/<mtu>      netns and the one-thread kernel in alternating
//                                    1 MiB chunks, each timed, so load from other
//                                    processes hits both alike: counters netns_MBps
//                                    and kernel_MBps (median chunks) and `ratio`,
//                                    the median of the pairs' netns/kernel throughput.
//   BM_Tcp6Bulk/<mtu>, BM_KernelTcp6Bulk/<mtu>  BM_TcpBulk and BM_KernelTcpBulk
//                                    over IPv6 (2001:db8::1 -> 2001:db8::2).
//   BM_TcpConnectClose               connect, accept, close the client then the
//                                    server: connections/s. Clients end in
//                                    TIME_WAIT, the server's side is gone.
//   BM_KernelTcpConnectClose         the same with kernel sockets, one thread.
//   BM_KernelTcpConnectCloseTwoThreads  a connecting thread and an accepting thread.
//   BM_TcpConnectCloseInterleaved    netns and the one-thread kernel in alternating
//                                    chunks of 256 connections: `ratio` as above.
//
// MTU 1500 and 65535: at 1500 the kernel veth still moves 64 KiB GSO
// super-segments (segmentation is never needed between two veth ends), netns
// moves one packet per MSS; 65535 gives both the same segment size.
// TIME_WAIT lasts 60 s, so each connection binds the next of 64 client
// addresses and the ephemeral ports never run out; both stacks keep up to
// 262,144 TIME_WAIT sockets (netns's default tcp_max_tw_buckets), so each
// pays what its TIME_WAIT costs (netns: a record of its own, time_wait.hpp).
// Kernel rows need root; otherwise they report an error and the ratios say n/a.
#include <benchmark/benchmark.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/error.hpp>

#include "netns/netns.hpp"
#include "netns/tcp.hpp"
#include "support/kernel_netns.hpp"
#include "support/ratio_reporter.hpp"

namespace {

using netns::Ipv4Address;
namespace tcp = netns::tcp;

constexpr std::size_t kChunk = 1 << 20;        // bytes received per iteration of a bulk benchmark
constexpr std::size_t kWindow = 256 * 1024;    // bytes offered per write, read per read at most
constexpr std::size_t kPeriod = 65521;         // the stream's pattern repeats every kPeriod bytes (prime)
constexpr std::int64_t kConnectionChunk = 256;  // connections per turn in the interleaved benchmark
constexpr std::uint16_t kPort = 5001;
constexpr std::int64_t kMtus[] = {1500, 65535};

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// Wall-clock seconds taken by f().
template <typename F>
double seconds(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The stream's content: byte k is pattern[k % kPeriod]. Senders offer
// window(k) and receivers check what arrived with matches(), so a byte lost,
// duplicated or misplaced ends the benchmark with an error.
class StreamPattern {
 public:
  StreamPattern() : bytes_(kPeriod + kWindow) {
    for (std::size_t i = 0; i < bytes_.size(); ++i) {
      const std::size_t k = i % kPeriod;
      bytes_[i] = std::byte(static_cast<std::uint8_t>((k * 2654435761u) >> 13 ^ (k >> 7)));
    }
  }
  std::span<const std::byte> window(std::uint64_t offset) const {
    return std::span(bytes_).subspan(static_cast<std::size_t>(offset % kPeriod), kWindow);
  }
  bool matches(std::uint64_t offset, std::span<const std::byte> data) const {
    return data.size() <= kWindow && std::memcmp(window(offset).data(), data.data(), data.size()) == 0;
  }

 private:
  std::vector<std::byte> bytes_;
};

bool would_block(const boost::system::error_code& e) { return e == boost::asio::error::would_block; }

// The client side of the connection benchmarks binds each connection to the
// next of these addresses (192.0.2.64 ...), so TIME_WAIT can keep its 60 s
// without the ephemeral ports running out: 64 x 28,232 four-tuples.
constexpr int kClientAddresses = 64;
Ipv4Address client_address(std::int64_t i) {
  return Ipv4Address(192, 0, 2, static_cast<std::uint8_t>(64 + i % kClientAddresses));
}

// ---- netns ----

// "a" 192.0.2.1/24 and 2001:db8::1/64 — veth of `mtu` — "b" 192.0.2.2/24
// and 2001:db8::2/64, in a Host of its own; the IPv6 addresses skip DAD
// (accept_dad 0), as the kernel pair's do (nodad). Declared before any
// Stream or Listener, so those close first.
struct NetnsPair {
  // Started at the real time, so the first connect's timers are not 0 + RTO
  // (they would fire at the first poll and retransmit the SYN spuriously).
  netns::Host host{netns::HostConfig{.secret = 1, .start = netns::Clock::now()}};
  netns::NetRef a = host.create_net("a").value();
  netns::NetRef b = host.create_net("b").value();
  netns::VethPair veth = netns::make_veth(*a, "eth0", *b, "eth0").value();

  explicit NetnsPair(std::uint32_t mtu) {
    (void)veth.a->set_mtu(mtu);
    (void)veth.b->set_mtu(mtu);
    (void)a->sysctl().set("net.ipv6.conf.eth0.accept_dad", "0");
    (void)b->sysctl().set("net.ipv6.conf.eth0.accept_dad", "0");
    (void)netns::set_link_up(*veth.a);
    (void)netns::set_link_up(*veth.b);
    (void)netns::ipv4::add_address(*a, *veth.a, netns::Ipv4Prefix::parse("192.0.2.1/24").value());
    (void)netns::ipv4::add_address(*b, *veth.b, netns::Ipv4Prefix::parse("192.0.2.2/24").value());
    (void)netns::ipv6::add_address(*a, *veth.a, netns::Ipv6Prefix::parse("2001:db8::1/64").value());
    (void)netns::ipv6::add_address(*b, *veth.b, netns::Ipv6Prefix::parse("2001:db8::2/64").value());
  }
  netns::Clock::time_point poll() {
    const auto now = netns::Clock::now();
    if (last_poll != netns::Clock::time_point{}) max_poll_gap = std::max(max_poll_gap, now - last_poll);
    last_poll = now;
    return host.poll(now);
  }
  // The longest real time between two polls: beyond an RTO (200 ms), the
  // thread was descheduled long enough for spurious retransmissions.
  double max_poll_gap_ms() const { return std::chrono::duration<double, std::milli>(max_poll_gap).count(); }

  netns::Clock::time_point last_poll{};
  netns::Clock::duration max_poll_gap{};
};

// The server's address in each family.
netns::IpAddress server_address(netns::Family family) {
  if (family == netns::Family::ipv6) return netns::Ipv6Address::parse("2001:db8::2").value();
  return Ipv4Address(192, 0, 2, 2);
}

// One established connection a -> b; transfer() moves bytes through it.
class NetnsBulk {
 public:
  explicit NetnsBulk(std::int64_t mtu, netns::Family family = netns::Family::ipv4)
      : pair_(static_cast<std::uint32_t>(mtu)) {
    const netns::IpAddress any =
        family == netns::Family::ipv6 ? netns::IpAddress(netns::Ipv6Address::any()) : Ipv4Address::any();
    listener_ = tcp::listen(*pair_.b, {any, kPort}).value();
    client_ = tcp::connect(*pair_.a, {server_address(family), kPort}).value();
    pair_.poll();
    auto accepted = listener_.accept();
    if (!accepted) {
      error = "netns handshake did not complete: " + accepted.error().message();
      return;
    }
    server_ = std::move(*accepted);
    copies_before_ = pair_.host.stats().packet_copies;
    segments_before_ = pair_.veth.a->stats().tx_packets;
  }

  // Receives `bytes` more (checked): write what fits, poll, read all. False
  // with `error` set when something went wrong.
  bool transfer(std::size_t bytes) {
    std::size_t got = 0;
    auto last_progress = std::chrono::steady_clock::now();
    while (got < bytes && error.empty()) {
      bool progress = false;
      for (;;) {
        auto w = client_.write(pattern_.window(sent_));
        if (!w) {
          if (!would_block(w.error())) error = "write: " + w.error().message();
          break;
        }
        sent_ += *w;
        progress = true;
      }
      pair_.poll();
      while (got < bytes) {
        auto r = server_.read(std::span(in_).first(std::min(kWindow, bytes - got)));
        if (!r) {
          if (!would_block(r.error())) error = "read: " + r.error().message();
          break;
        }
        if (*r == 0) {
          error = "unexpected end of stream";
          break;
        }
        if (!pattern_.matches(received_, std::span(in_).first(*r))) error = "received bytes differ from those sent";
        got += *r;
        received_ += *r;
        progress = true;
      }
      const auto now = std::chrono::steady_clock::now();
      if (progress) {
        last_progress = now;
      } else if (now - last_progress > std::chrono::seconds(2)) {
        error = "no progress for 2 s";
      }
    }
    return error.empty();
  }

  std::uint64_t received() const { return received_; }
  // Packet copies, packets sent and retransmissions since the handshake.
  void report(benchmark::State& state) const {
    const double mib = static_cast<double>(received_) / kChunk;
    const auto copies = pair_.host.stats().packet_copies - copies_before_;
    const auto segments = pair_.veth.a->stats().tx_packets - segments_before_;
    state.counters["packet_copies"] = static_cast<double>(copies);
    state.counters["copies_per_MiB"] = mib > 0 ? static_cast<double>(copies) / mib : 0;
    state.counters["segs_per_MiB"] = mib > 0 ? static_cast<double>(segments) / mib : 0;
    state.counters["retrans_segs"] = static_cast<double>(pair_.a->counters().get("TcpRetransSegs"));
    state.counters["mss"] = client_.info().mss;
    state.counters["max_poll_gap_ms"] = pair_.max_poll_gap_ms();
    // The receiver's buffer (autotuned from tcp_rmem[1]) and what made room in it.
    const tcp::Info rx = server_.info();
    state.counters["rcvbuf"] = rx.rcvbuf;
    state.counters["rcv_collapsed"] = static_cast<double>(pair_.b->counters().get("TcpExtTCPRcvCollapsed"));
    state.counters["prune_called"] = static_cast<double>(pair_.b->counters().get("TcpExtPruneCalled"));
  }

  std::string error;

 private:
  NetnsPair pair_;
  tcp::Listener listener_;
  tcp::Stream client_, server_;
  StreamPattern pattern_;
  std::vector<std::byte> in_ = std::vector<std::byte>(kWindow);
  std::uint64_t sent_ = 0, received_ = 0;
  std::uint64_t copies_before_ = 0, segments_before_ = 0;
};

// A listener in b and 64 client addresses in a; run(n) opens and closes n
// connections one after another.
class NetnsConnections {
 public:
  NetnsConnections() : pair_(1500) {
    for (int i = 0; i < kClientAddresses; ++i) {
      (void)netns::ipv4::add_address(*pair_.a, *pair_.veth.a, netns::Ipv4Prefix(client_address(i), 24));
    }
    listener_ = tcp::listen(*pair_.b, {Ipv4Address::any(), kPort}, 4096).value();
    copies_before_ = pair_.host.stats().packet_copies;
  }

  bool run(std::int64_t n) {
    const netns::Endpoint to{Ipv4Address(192, 0, 2, 2), kPort};
    for (std::int64_t i = 0; i < n && error.empty(); ++i) {
      auto client = tcp::connect(*pair_.a, {client_address(done_), 0}, to);
      if (!client) {
        error = "connect: " + client.error().message();
        break;
      }
      pair_.poll();  // SYN, SYN-ACK, ACK
      auto server = listener_.accept();
      if (!server) {
        error = "accept: " + server.error().message();
        break;
      }
      client->close();  // FIN; the server's ACK
      pair_.poll();
      server->close();  // the server's FIN and the last ACK: the client is in TIME_WAIT, the server gone
      pair_.poll();
      ++done_;
    }
    return error.empty();
  }

  std::int64_t done() const { return done_; }

  // Every connection opened, none refused or reset, none left established.
  // Not "every client in TIME_WAIT": at commit 9cd1112 a passive connection
  // whose peer's ISN lies within one window below 2^31 advertises a window
  // it then treats as zero (rcv_adv_ starts at 0 and seq_max keeps it there),
  // so about one connection in 65,536 has its FIN ignored and finishes
  // closing only after a retransmission. Counters time_wait and
  // retrans_segs show it.
  void check_and_report(benchmark::State& state) {
    const auto& ca = pair_.a->counters();
    const auto& cb = pair_.b->counters();
    const auto n = static_cast<std::uint64_t>(done_);
    if (error.empty() && (ca.get("TcpActiveOpens") != n || cb.get("TcpPassiveOpens") != n ||
                          ca.get("TcpCurrEstab") != 0 || cb.get("TcpCurrEstab") != 0 ||
                          ca.get("TcpEstabResets") + cb.get("TcpEstabResets") + ca.get("TcpAttemptFails") != 0)) {
      error = "connections were refused, reset or left open:";
      for (auto [name, value] : ca.nonzero()) error += " a." + std::string(name) + "=" + std::to_string(value);
      for (auto [name, value] : cb.nonzero()) error += " b." + std::string(name) + "=" + std::to_string(value);
    }
    state.counters["packet_copies"] = static_cast<double>(pair_.host.stats().packet_copies - copies_before_);
    state.counters["time_wait"] = static_cast<double>(ca.get("TcpExtTW"));
    state.counters["retrans_segs"] = static_cast<double>(ca.get("TcpRetransSegs") + cb.get("TcpRetransSegs"));
    state.counters["max_poll_gap_ms"] = pair_.max_poll_gap_ms();
  }

  std::string error;

 private:
  NetnsPair pair_;
  tcp::Listener listener_;
  std::int64_t done_ = 0;
  std::uint64_t copies_before_ = 0;
};

// ---- the kernel, for comparison ----

// Two kernel namespaces joined by a veth of `mtu`, a connected pair of TCP
// sockets across it (client in -a, server in -b), and transfer() as
// NetnsBulk's: non-blocking calls from one thread.
class KernelBulk {
 public:
  explicit KernelBulk(std::int64_t mtu, netns::Family family = netns::Family::ipv4)
      : pair_("netns-tcpbench", static_cast<unsigned>(mtu)) {
    if (!pair_.ok()) {
      error = pair_.error();
      return;
    }
    const int domain = family == netns::Family::ipv6 ? AF_INET6 : AF_INET;
    int listener = bench::KernelNetnsPair::socket_in(pair_.b(), SOCK_STREAM, domain);
    client = bench::KernelNetnsPair::socket_in(pair_.a(), SOCK_STREAM, domain);
    sockaddr_storage at{};
    socklen_t at_len = 0;
    if (family == netns::Family::ipv6) {
      auto& sa = reinterpret_cast<sockaddr_in6&>(at);
      sa.sin6_family = AF_INET6;
      sa.sin6_port = htons(kPort);
      inet_pton(AF_INET6, "2001:db8::2", &sa.sin6_addr);
      at_len = sizeof sa;
    } else {
      reinterpret_cast<sockaddr_in&>(at) = bench::ipv4_socket_address("192.0.2.2", kPort);
      at_len = sizeof(sockaddr_in);
    }
    auto* addr = reinterpret_cast<sockaddr*>(&at);
    if (listener < 0 || client < 0 || bind(listener, addr, at_len) != 0 || listen(listener, 1) != 0 ||
        connect(client, addr, at_len) != 0 ||
        (server = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC)) < 0) {
      error = errno_text("kernel socket setup");
    }
    if (listener >= 0) close(listener);
  }
  ~KernelBulk() {
    if (client >= 0) close(client);
    if (server >= 0) close(server);
  }
  KernelBulk(const KernelBulk&) = delete;
  KernelBulk& operator=(const KernelBulk&) = delete;

  bool transfer(std::size_t bytes) {
    std::size_t got = 0;
    while (got < bytes && error.empty()) {
      bool progress = false;
      for (;;) {  // write as much as fits
        auto w = pattern.window(sent_);
        ssize_t n = send(client, w.data(), w.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
          if (errno != EAGAIN) error = errno_text("send");
          break;
        }
        sent_ += static_cast<std::uint64_t>(n);
        progress = true;
      }
      while (got < bytes) {
        ssize_t n = recv(server, in_.data(), std::min(kWindow, bytes - got), MSG_DONTWAIT);
        if (n < 0) {
          if (errno != EAGAIN) error = errno_text("recv");
          break;
        }
        if (n == 0) {
          error = "unexpected end of stream";
          break;
        }
        const auto size = static_cast<std::size_t>(n);
        if (!pattern.matches(received_, std::span(in_).first(size))) error = "received bytes differ from those sent";
        got += size;
        received_ += size;
        progress = true;
      }
      if (!progress && error.empty()) {
        // Softirq work went to ksoftirqd: sleep until either socket is ready.
        pollfd fds[2] = {{client, POLLOUT, 0}, {server, POLLIN, 0}};
        if (::poll(fds, 2, 2000) <= 0) error = "no progress for 2 s";
      }
    }
    return error.empty();
  }

  std::uint64_t received() const { return received_; }

  int client = -1, server = -1;
  const StreamPattern pattern;
  std::string error;

 private:
  bench::KernelNetnsPair pair_;
  std::vector<std::byte> in_ = std::vector<std::byte>(kWindow);
  std::uint64_t sent_ = 0, received_ = 0;
};

// A TcpExt counter of /proc/net/netstat (TW, TCPTimeWaitOverflow...) as
// the calling thread's namespace sees it; -1 when absent.
double kernel_tcpext(const std::string& name) {
  std::FILE* f = std::fopen("/proc/thread-self/net/netstat", "r");
  if (f == nullptr) return -1;
  std::vector<std::string> lines;
  char line[8192];
  while (std::fgets(line, sizeof line, f) != nullptr) lines.emplace_back(line);
  std::fclose(f);
  auto fields = [](const std::string& text) {
    std::vector<std::string> out;
    std::size_t pos = text.find(':') + 1;
    while (pos < text.size()) {
      const std::size_t next = text.find_first_of(" \n", pos);
      if (next != pos) out.push_back(text.substr(pos, next - pos));
      if (next == std::string::npos) break;
      pos = next + 1;
    }
    return out;
  };
  for (std::size_t i = 0; i + 1 < lines.size(); i += 2) {
    if (lines[i].rfind("TcpExt:", 0) != 0) continue;
    const auto names = fields(lines[i]), values = fields(lines[i + 1]);
    for (std::size_t k = 0; k < names.size() && k < values.size(); ++k) {
      if (names[k] == name) return std::stod(values[k]);
    }
  }
  return -1;
}

// Two kernel namespaces, the client side with the same 64 extra addresses,
// both with netns's default net.ipv4.tcp_max_tw_buckets (262,144; this
// kernel's is 131,072), and a listener in -b with a 4,096 backlog.
class KernelConnections {
 public:
  KernelConnections() : pair_("netns-tcpbench", 1500) {
    if (!pair_.ok()) {
      error = pair_.error();
      return;
    }
    std::string batch;
    for (int i = 0; i < kClientAddresses; ++i) {
      batch += "addr add " + client_address(i).to_string() + "/24 dev eth0\\n";
    }
    if (!bench::run_quiet("printf '" + batch + "' | ip -n " + pair_.a() + " -batch -") ||
        !pair_.sysctl(pair_.a(), "net.ipv4.tcp_max_tw_buckets=262144") ||
        !pair_.sysctl(pair_.b(), "net.ipv4.tcp_max_tw_buckets=262144")) {
      error = "could not add the client addresses or set tcp_max_tw_buckets in the kernel namespaces";
      return;
    }
    listener = bench::KernelNetnsPair::socket_in(pair_.b(), SOCK_STREAM);
    if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&to_), sizeof to_) != 0 ||
        ::listen(listener, 4096) != 0) {
      error = errno_text("kernel listener");
    }
  }
  ~KernelConnections() {
    if (listener >= 0) close(listener);
  }
  KernelConnections(const KernelConnections&) = delete;
  KernelConnections& operator=(const KernelConnections&) = delete;

  const std::string& client_netns() const { return pair_.a(); }

  // Connection i's client socket, connected; -1 with `why` set on failure.
  // The calling thread must be inside -a. IP_BIND_ADDRESS_NO_PORT leaves the
  // port to connect(), which picks it by the whole four-tuple: the kernel's
  // fastest way to bind a source address.
  int connect_from(std::int64_t i, std::string& why) const {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    sockaddr_in from = bench::ipv4_socket_address(client_address(i).to_string().c_str(), 0);
    if (c < 0 || setsockopt(c, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) != 0 ||
        bind(c, reinterpret_cast<const sockaddr*>(&from), sizeof from) != 0 ||
        ::connect(c, reinterpret_cast<const sockaddr*>(&to_), sizeof to_) != 0) {
      why = errno_text("connect");
      if (c >= 0) close(c);
      return -1;
    }
    return c;
  }

  // n connections, each connected, accepted and closed by this thread, which
  // must be inside -a (accept works on the listener made in -b all the same).
  bool run_inside(std::int64_t n) {
    for (std::int64_t i = 0; i < n && error.empty(); ++i) {
      int c = connect_from(done_, error);
      if (c < 0) break;
      int s = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (s < 0) error = errno_text("accept");
      close(c);
      if (s >= 0) close(s);
      ++done_;
    }
    return error.empty();
  }

  std::int64_t done() const { return done_; }

  int listener = -1;
  std::string error;

 private:
  bench::KernelNetnsPair pair_;
  sockaddr_in to_ = bench::ipv4_socket_address("192.0.2.2", kPort);
  std::int64_t done_ = 0;
};

// ---- the benchmarks ----

// 1 MiB through `bulk` (NetnsBulk or KernelBulk) per iteration.
template <typename Bulk>
void run_bulk(benchmark::State& state, Bulk& bulk) {
  for (auto _ : state) {
    if (!bulk.transfer(kChunk)) break;
  }
  if (!bulk.error.empty()) state.SkipWithError(bulk.error.c_str());
  state.SetBytesProcessed(static_cast<std::int64_t>(bulk.received()));
}

void BM_TcpBulk(benchmark::State& state) {
  NetnsBulk bulk(state.range(0));
  run_bulk(state, bulk);
  bulk.report(state);
}
BENCHMARK(BM_TcpBulk)->ArgName("mtu")->Arg(kMtus[0])->Arg(kMtus[1])->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_KernelTcpBulk(benchmark::State& state) {
  KernelBulk bulk(state.range(0));
  run_bulk(state, bulk);
}
BENCHMARK(BM_KernelTcpBulk)->ArgName("mtu")->Arg(kMtus[0])->Arg(kMtus[1])->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_Tcp6Bulk(benchmark::State& state) {
  NetnsBulk bulk(state.range(0), netns::Family::ipv6);
  run_bulk(state, bulk);
  bulk.report(state);
}
BENCHMARK(BM_Tcp6Bulk)->ArgName("mtu")->Arg(kMtus[0])->Arg(kMtus[1])->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_KernelTcp6Bulk(benchmark::State& state) {
  KernelBulk bulk(state.range(0), netns::Family::ipv6);
  run_bulk(state, bulk);
}
BENCHMARK(BM_KernelTcp6Bulk)->ArgName("mtu")->Arg(kMtus[0])->Arg(kMtus[1])->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_KernelTcpBulkTwoThreads(benchmark::State& state) {
  KernelBulk conn(state.range(0));
  if (!conn.error.empty()) {
    state.SkipWithError(conn.error.c_str());
    return;
  }
  timeval timeout{5, 0};  // a stall ends the benchmark, not the machine's patience
  setsockopt(conn.client, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  setsockopt(conn.server, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::atomic<bool> stop{false};
  std::thread sender([&] {
    std::uint64_t sent = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      auto w = conn.pattern.window(sent);
      ssize_t n = send(conn.client, w.data(), w.size(), MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<std::uint64_t>(n);
    }
    shutdown(conn.client, SHUT_WR);
  });
  std::vector<std::byte> in(kWindow);
  std::uint64_t received = 0;
  std::string error;
  for (auto _ : state) {
    std::size_t got = 0;
    while (got < kChunk && error.empty()) {
      ssize_t n = recv(conn.server, in.data(), std::min(kWindow, kChunk - got), 0);
      if (n <= 0) {
        error = n == 0 ? "unexpected end of stream" : errno_text("recv");
        break;
      }
      const auto size = static_cast<std::size_t>(n);
      if (!conn.pattern.matches(received, std::span(in).first(size))) error = "received bytes differ from those sent";
      got += size;
      received += size;
    }
    if (!error.empty()) break;
  }
  stop = true;
  while (recv(conn.server, in.data(), in.size(), 0) > 0) {  // drain until the sender's FIN
  }
  sender.join();
  if (!error.empty()) state.SkipWithError(error.c_str());
  state.SetBytesProcessed(static_cast<std::int64_t>(received));
}
BENCHMARK(BM_KernelTcpBulkTwoThreads)
    ->ArgName("mtu")
    ->Arg(kMtus[0])
    ->Arg(kMtus[1])
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// One iteration: a 1 MiB chunk through netns and one through the kernel, in
// alternating order, each timed on the wall clock.
void BM_TcpBulkInterleaved(benchmark::State& state) {
  NetnsBulk ours(state.range(0));
  KernelBulk theirs(state.range(0));
  if (!theirs.error.empty() || !ours.error.empty()) {
    state.SkipWithError((theirs.error.empty() ? ours.error : theirs.error).c_str());
    return;
  }
  std::vector<double> netns_s, kernel_s, ratios;
  bool netns_first = true;
  for (auto _ : state) {
    double n = 0, k = 0;
    if (netns_first) n = seconds([&] { ours.transfer(kChunk); });
    k = seconds([&] { theirs.transfer(kChunk); });
    if (!netns_first) n = seconds([&] { ours.transfer(kChunk); });
    netns_first = !netns_first;
    if (!ours.error.empty() || !theirs.error.empty()) break;
    netns_s.push_back(n);
    kernel_s.push_back(k);
    ratios.push_back(k / n);
  }
  if (!ours.error.empty() || !theirs.error.empty()) {
    state.SkipWithError((ours.error.empty() ? theirs.error : ours.error).c_str());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(ours.received() + theirs.received()));
  state.counters["netns_MBps"] = kChunk / median(netns_s) / 1e6;
  state.counters["kernel_MBps"] = kChunk / median(kernel_s) / 1e6;
  state.counters["ratio"] = median(ratios);
}
BENCHMARK(BM_TcpBulkInterleaved)
    ->ArgName("mtu")
    ->Arg(kMtus[0])
    ->Arg(kMtus[1])
    ->MinTime(2)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void BM_TcpConnectClose(benchmark::State& state) {
  NetnsConnections conns;
  for (auto _ : state) {
    if (!conns.run(1)) break;
  }
  conns.check_and_report(state);
  if (!conns.error.empty()) state.SkipWithError(conns.error.c_str());
  state.SetItemsProcessed(conns.done());
}
BENCHMARK(BM_TcpConnectClose)->UseRealTime();

// The thread sits in -a for the timed loop, so each connection's socket is
// made there without a setns per connection.
void BM_KernelTcpConnectClose(benchmark::State& state) {
  KernelConnections conns;
  if (!conns.error.empty()) {
    state.SkipWithError(conns.error.c_str());
    return;
  }
  double time_wait = 0;
  {
    bench::EnterNetns in_a(conns.client_netns());
    if (!in_a.ok()) conns.error = errno_text("setns");
    const double tw_before = kernel_tcpext("TW");
    for (auto _ : state) {
      if (!conns.error.empty() || !conns.run_inside(1)) break;
    }
    time_wait = kernel_tcpext("TW") - tw_before;
  }
  if (!conns.error.empty()) state.SkipWithError(conns.error.c_str());
  state.SetItemsProcessed(conns.done());
  state.counters["time_wait"] = time_wait;
}
BENCHMARK(BM_KernelTcpConnectClose)->UseRealTime();

// A connecting thread (in -a) and the benchmark's thread accepting, on both cores.
void BM_KernelTcpConnectCloseTwoThreads(benchmark::State& state) {
  KernelConnections conns;
  if (!conns.error.empty()) {
    state.SkipWithError(conns.error.c_str());
    return;
  }
  timeval timeout{5, 0};
  setsockopt(conns.listener, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::atomic<bool> stop{false};
  std::string client_error;
  std::thread client([&] {
    bench::EnterNetns in_a(conns.client_netns());
    if (!in_a.ok()) {
      client_error = errno_text("setns");
      return;
    }
    for (std::int64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
      int c = conns.connect_from(i, client_error);
      if (c < 0) break;
      close(c);
    }
  });
  std::int64_t connections = 0;
  std::string error;
  for (auto _ : state) {
    int s = accept4(conns.listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (s < 0) {
      error = errno_text("accept");
      break;
    }
    close(s);
    ++connections;
  }
  stop = true;
  client.join();
  if (error.empty()) error = client_error;
  if (!error.empty()) state.SkipWithError(error.c_str());
  state.SetItemsProcessed(connections);
}
BENCHMARK(BM_KernelTcpConnectCloseTwoThreads)->UseRealTime();

// One iteration: 256 connections through netns and 256 through the kernel,
// in alternating order, each chunk timed on the wall clock.
void BM_TcpConnectCloseInterleaved(benchmark::State& state) {
  NetnsConnections ours;
  KernelConnections theirs;
  if (!theirs.error.empty()) {
    state.SkipWithError(theirs.error.c_str());
    return;
  }
  auto kernel_chunk = [&] {
    bench::EnterNetns in_a(theirs.client_netns());
    if (!in_a.ok()) theirs.error = errno_text("setns");
    theirs.run_inside(kConnectionChunk);
  };
  std::vector<double> netns_s, kernel_s, ratios;
  bool netns_first = true;
  for (auto _ : state) {
    double n = 0, k = 0;
    if (netns_first) n = seconds([&] { ours.run(kConnectionChunk); });
    k = seconds(kernel_chunk);
    if (!netns_first) n = seconds([&] { ours.run(kConnectionChunk); });
    netns_first = !netns_first;
    if (!ours.error.empty() || !theirs.error.empty()) break;
    netns_s.push_back(n);
    kernel_s.push_back(k);
    ratios.push_back(k / n);
  }
  ours.check_and_report(state);
  if (!ours.error.empty() || !theirs.error.empty()) {
    state.SkipWithError((ours.error.empty() ? theirs.error : ours.error).c_str());
  }
  state.SetItemsProcessed(ours.done() + theirs.done());
  state.counters["netns_per_s"] = kConnectionChunk / median(netns_s);
  state.counters["kernel_per_s"] = kConnectionChunk / median(kernel_s);
  state.counters["ratio"] = median(ratios);
}
BENCHMARK(BM_TcpConnectCloseInterleaved)->MinTime(2)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  bench::RatioReporter reporter;
  // Time per iteration is time per MiB or per connection, so kernel / netns
  // time is netns / kernel throughput.
  reporter.add_ratio("bulk mtu 1500: netns/kernel", "BM_KernelTcpBulk/mtu:1500", "BM_TcpBulk/mtu:1500");
  reporter.add_ratio("bulk mtu 65535: netns/kernel", "BM_KernelTcpBulk/mtu:65535", "BM_TcpBulk/mtu:65535");
  reporter.add_ratio("bulk6 mtu 1500: netns/kernel", "BM_KernelTcp6Bulk/mtu:1500", "BM_Tcp6Bulk/mtu:1500");
  reporter.add_ratio("bulk6 mtu 65535: netns/kernel", "BM_KernelTcp6Bulk/mtu:65535", "BM_Tcp6Bulk/mtu:65535");
  reporter.add_ratio("bulk 1500: netns/kernel 2 thr", "BM_KernelTcpBulkTwoThreads/mtu:1500", "BM_TcpBulk/mtu:1500");
  reporter.add_ratio("bulk 65535: netns/kernel 2 thr", "BM_KernelTcpBulkTwoThreads/mtu:65535",
                     "BM_TcpBulk/mtu:65535");
  reporter.add_ratio("conn/s: netns/kernel", "BM_KernelTcpConnectClose", "BM_TcpConnectClose");
  reporter.add_ratio("conn/s: netns/kernel 2 thr", "BM_KernelTcpConnectCloseTwoThreads", "BM_TcpConnectClose");
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
