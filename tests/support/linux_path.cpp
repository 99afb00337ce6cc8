#include "support/linux_path.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <list>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>

#include <boost/asio/error.hpp>
#include <fmt/format.h>

#include "netns/capture.hpp"
#include "netns/ipv4.hpp"
#include "netns/net.hpp"
#include "netns/tap.hpp"
#include "netns/tcp.hpp"

namespace netns::support {

namespace {

constexpr std::size_t kRequestSize = 16;
constexpr std::array<std::byte, 4> kMagic{std::byte{'N'}, std::byte{'P'}, std::byte{'J'}, std::byte{'1'}};
constexpr std::byte kVerdictOk{'+'};
constexpr std::byte kVerdictBad{'!'};
// A kernel socket call that makes no progress for this long fails: a bound
// on every blocking call, far beyond any retransmission backoff of a transfer.
constexpr auto kKernelStall = std::chrono::seconds(60);
constexpr std::uint64_t kHostSecret = 0x6a75'6467'6531;
// Frames and timers one Host::poll handles. poll(now) keeps one `now` while
// it works, and a TAP that keeps receiving keeps it working: with the
// default budget (65,536) a whole 8 MiB transfer fits in one poll, the
// clock stands still for seconds, and when it moves on every timer fires at
// once (a spurious RTO, netem releasing late). 256 is a few hundred
// microseconds of work, a few NAPI rounds of 64 frames.
constexpr std::size_t kPollBudget = 256;
constexpr std::uint64_t kWarmUpBytes = 64 * 1024;

struct Request {
  PathDirection direction;
  std::uint64_t length;
};

std::array<std::byte, kRequestSize> encode(Request r) {
  std::array<std::byte, kRequestSize> out{};
  std::copy(kMagic.begin(), kMagic.end(), out.begin());
  out[4] = std::byte{r.direction == PathDirection::download ? std::uint8_t{'D'} : std::uint8_t{'U'}};
  for (int i = 0; i < 8; ++i) out[8 + i] = std::byte(static_cast<std::uint8_t>(r.length >> (56 - 8 * i)));
  return out;
}

std::optional<Request> decode(std::span<const std::byte, kRequestSize> in) {
  if (!std::equal(kMagic.begin(), kMagic.end(), in.begin())) return std::nullopt;
  if (in[5] != std::byte{0} || in[6] != std::byte{0} || in[7] != std::byte{0}) return std::nullopt;
  Request r{};
  if (in[4] == std::byte{'D'}) r.direction = PathDirection::download;
  else if (in[4] == std::byte{'U'}) r.direction = PathDirection::upload;
  else return std::nullopt;
  r.length = 0;
  for (int i = 0; i < 8; ++i) r.length = r.length << 8 | std::to_integer<std::uint64_t>(in[8 + i]);
  return r;
}

const TransferPattern& pattern() {
  static const TransferPattern p;  // built once, then only read: shared by every thread
  return p;
}

std::size_t chunk(std::uint64_t remaining) {
  return static_cast<std::size_t>(std::min<std::uint64_t>(TransferPattern::kWindow, remaining));
}

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// ---- kernel sockets: blocking calls, bounded by SO_RCVTIMEO/SO_SNDTIMEO ----

std::string errno_text(std::string_view what, int err = errno) {
  if (err == EAGAIN) {
    return fmt::format("{}: no progress for {} s", what, std::chrono::seconds(kKernelStall).count());
  }
  return fmt::format("{}: {}", what, std::strerror(err));
}

void bound_blocking_calls(int fd) {
  const timeval stall{static_cast<time_t>(std::chrono::seconds(kKernelStall).count()), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &stall, sizeof stall);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &stall, sizeof stall);
}

// CUBIC, Linux's default and netns's, whatever this machine's default is.
// Per socket: a namespace other than the initial one may only make a
// congestion control in tcp_allowed_congestion_control its default, while a
// socket with CAP_NET_ADMIN may use any.
bool use_cubic(int fd, std::string& error) {
  static constexpr char kCubic[] = "cubic";
  if (::setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, kCubic, sizeof kCubic - 1) == 0) return true;
  error = errno_text("setsockopt(TCP_CONGESTION, cubic)");
  return false;
}

// socket(AF_INET, SOCK_STREAM) inside the Linux namespace `ns`, with CUBIC.
UniqueFd kernel_socket(const std::string& ns, std::string& error) {
  EnterNetns inside(ns);
  if (!inside.ok()) {
    error = errno_text(fmt::format("entering the Linux namespace {}", ns));
    return UniqueFd();
  }
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    error = errno_text("socket");
  } else if (!use_cubic(fd.get(), error)) {
    fd.reset();
  } else {
    bound_blocking_calls(fd.get());
  }
  return fd;
}

sockaddr_in socket_address(Ipv4Address address, std::uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, address.to_string().c_str(), &sa.sin_addr);
  return sa;
}

bool send_all(int fd, std::span<const std::byte> data, std::string& error) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = errno_text("send");
      return false;
    }
    data = data.subspan(static_cast<std::size_t>(n));
  }
  return true;
}

bool send_pattern(int fd, std::uint64_t length, std::string& error) {
  for (std::uint64_t sent = 0; sent < length;) {
    const auto w = pattern().window(sent).first(chunk(length - sent));
    const ssize_t n = ::send(fd, w.data(), w.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = errno_text(fmt::format("send after {} of {} bytes", sent, length));
      return false;
    }
    sent += static_cast<std::uint64_t>(n);
  }
  return true;
}

// Reads exactly buffer.size() bytes; the end of the stream before that is an error.
bool recv_exact(int fd, std::span<std::byte> buffer, std::string& error) {
  while (!buffer.empty()) {
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n == 0 ? std::string("the peer closed early") : errno_text("recv");
      return false;
    }
    buffer = buffer.subspan(static_cast<std::size_t>(n));
  }
  return true;
}

enum class Received { all, failed, corrupt };

// Receives `length` bytes of the pattern, checking each; `got` counts the
// bytes that arrived right.
Received recv_pattern(int fd, std::uint64_t length, std::uint64_t& got, std::string& error) {
  std::vector<std::byte> buffer(TransferPattern::kWindow);
  while (got < length) {
    const ssize_t n = ::recv(fd, buffer.data(), chunk(length - got), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n == 0 ? fmt::format("the stream ended after {} of {} bytes", got, length)
                     : errno_text(fmt::format("recv after {} of {} bytes", got, length));
      return Received::failed;
    }
    if (!pattern().matches(got, std::span(buffer).first(static_cast<std::size_t>(n)))) {
      error = fmt::format("bytes {}..{} differ from those sent", got, got + static_cast<std::uint64_t>(n));
      return Received::corrupt;
    }
    got += static_cast<std::uint64_t>(n);
  }
  return Received::all;
}

// The peer's FIN must come next.
bool recv_eof(int fd, std::string& error) {
  std::byte extra{};
  ssize_t n;
  do {
    n = ::recv(fd, &extra, 1, 0);
  } while (n < 0 && errno == EINTR);
  if (n == 0) return true;
  error = n > 0 ? std::string("bytes after the stated length") : errno_text("recv (waiting for FIN)");
  return false;
}

// ---- the client (a thread with a kernel socket) ----

struct ClientOutcome {
  std::string error;
  std::uint64_t bytes = 0;  // checked by the receiver
  Clock::time_point start{}, end{};
};

void run_client(int fd, sockaddr_in to, PathDirection direction, std::uint64_t length, ClientOutcome& out) {
  out.start = Clock::now();
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    out.error = errno_text("connect");
    return;
  }
  if (!send_all(fd, encode({direction, length}), out.error)) return;
  if (direction == PathDirection::download) {
    if (recv_pattern(fd, length, out.bytes, out.error) != Received::all) return;
    out.end = Clock::now();
    (void)recv_eof(fd, out.error);
    return;
  }
  if (!send_pattern(fd, length, out.error)) return;
  ::shutdown(fd, SHUT_WR);
  std::byte verdict{};
  if (!recv_exact(fd, std::span(&verdict, 1), out.error)) {
    out.error = "waiting for the server's verdict: " + out.error;
    return;
  }
  out.end = Clock::now();
  if (verdict != kVerdictOk) {
    out.error = "the server received bytes that differ from those sent";
    return;
  }
  out.bytes = length;
  (void)recv_eof(fd, out.error);
}

bool read_file(const std::string& path, std::string& into) {
  std::ifstream in(path);
  if (!in) return false;
  std::ostringstream text;
  text << in.rdbuf();
  into = text.str();
  return true;
}

// The "Mib: names" / "Mib: values" line pairs of /proc/net/snmp and netstat.
void parse_mib_pairs(const std::string& text, CounterMap& out) {
  std::istringstream lines(text);
  std::string names, values;
  while (std::getline(lines, names) && std::getline(lines, values)) {
    const auto colon = names.find(':');
    if (colon == std::string::npos || values.compare(0, colon + 1, names, 0, colon + 1) != 0) continue;
    const std::string mib = names.substr(0, colon);
    std::istringstream n(names.substr(colon + 1)), v(values.substr(colon + 1));
    std::string name, value;
    while (n >> name && v >> value) {
      if (!value.empty() && value[0] != '-') out[mib + name] = std::strtoull(value.c_str(), nullptr, 10);
    }
  }
}

// /proc/net/snmp6's "Name value" lines ("Ip6InReceives 12", "Icmp6InType128 3").
void parse_name_values(const std::string& text, CounterMap& out) {
  std::istringstream lines(text);
  std::string name, value;
  while (lines >> name >> value) out[name] = std::strtoull(value.c_str(), nullptr, 10);
}

// rx_drop + tx_drop of `interface` in /proc/net/dev of the calling thread's namespace.
std::uint64_t interface_drops(const std::string& interface) {
  std::string text;
  if (!read_file("/proc/thread-self/net/dev", text)) return 0;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::istringstream name_part(line.substr(0, colon));
    std::string name;
    name_part >> name;
    if (name != interface) continue;
    std::istringstream fields(line.substr(colon + 1));
    std::array<std::uint64_t, 16> f{};
    for (auto& x : f) fields >> x;
    return f[3] + f[11];  // rx drop, tx drop
  }
  return 0;
}

bool write_sysctl(const std::string& ns, const std::string& key, const std::string& value) {
  EnterNetns inside(ns);
  if (!inside.ok()) return false;
  std::ofstream out("/proc/sys/" + key);
  out << value << '\n';
  out.flush();
  return static_cast<bool>(out);
}

// Linux namespaces "<prefix><pid>-<n>" (unique_linux_name's) left by a
// process that was killed before it could delete them. Only dead pids:
// another process's path, a test running beside this one, stays.
void remove_stale_namespaces(std::string_view prefix) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/var/run/netns", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string rest = name.substr(prefix.size());
    const auto dash = rest.find('-');
    if (dash == 0 || dash == std::string::npos || dash + 1 == rest.size() ||
        rest.find_first_not_of("0123456789-") != std::string::npos || rest.find('-', dash + 1) != std::string::npos) {
      continue;
    }
    const pid_t pid = static_cast<pid_t>(std::stol(rest.substr(0, dash)));
    if (::kill(pid, 0) != 0 && errno == ESRCH) (void)ip({"netns", "del", name});
  }
}

double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

bool would_block(const boost::system::error_code& e) { return e == boost::asio::error::would_block; }

}  // namespace

// ---- TransferPattern and counters ----

TransferPattern::TransferPattern() : bytes_(kPeriod + kWindow) {
  for (std::size_t i = 0; i < bytes_.size(); ++i) {
    const std::size_t k = i % kPeriod;
    bytes_[i] = std::byte(static_cast<std::uint8_t>((k * 2654435761u) >> 13 ^ (k >> 7)));
  }
}

std::span<const std::byte> TransferPattern::window(std::uint64_t offset) const {
  return std::span(bytes_).subspan(static_cast<std::size_t>(offset % kPeriod), kWindow);
}

bool TransferPattern::matches(std::uint64_t offset, std::span<const std::byte> data) const {
  return data.size() <= kWindow && std::memcmp(window(offset).data(), data.data(), data.size()) == 0;
}

std::string_view to_string(PathServer server) { return server == PathServer::netns ? "netns" : "linux"; }
std::string_view to_string(PathDirection direction) {
  return direction == PathDirection::download ? "download" : "upload";
}

std::uint64_t counter(const CounterMap& counters, std::string_view name) {
  auto it = counters.find(name);
  return it == counters.end() ? 0 : it->second;
}

CounterMap counter_changes(const CounterMap& before, const CounterMap& after) {
  CounterMap out;
  for (const auto& [name, value] : after) {
    const std::uint64_t old = counter(before, name);
    out[name] = value > old ? value - old : 0;
  }
  return out;
}

std::string_view mib_of(std::string_view name) {
  // Longest first: "IpExt" and "Ip6" before "Ip", "UdpLite6" before "Udp".
  static constexpr std::string_view kMibs[] = {"IcmpMsg", "UdpLite6", "UdpLite", "TcpExt", "IpExt", "Icmp6",
                                                "Icmp",    "Udp6",     "Ip6",     "Tcp",    "Udp",   "Ip"};
  for (std::string_view mib : kMibs) {
    if (name.size() > mib.size() && name.starts_with(mib) && std::isupper(static_cast<unsigned char>(name[mib.size()]))) {
      return mib;
    }
  }
  return {};
}

std::set<std::string> moved_in(const CounterMap& a, const CounterMap& b, std::initializer_list<std::string_view> mibs) {
  std::set<std::string> names;
  for (const CounterMap* moved : {&a, &b}) {
    for (const auto& [name, value] : *moved) {
      if (value != 0 && std::find(mibs.begin(), mibs.end(), mib_of(name)) != mibs.end()) names.insert(name);
    }
  }
  return names;
}

CounterMap kernel_counters(const std::string& name) {
  CounterMap out;
  EnterNetns inside(name);
  if (!inside.ok()) return out;
  // thread-self, not self: /proc/self/net is the namespace of the process's
  // main thread, not of this one.
  std::string text;
  if (read_file("/proc/thread-self/net/snmp", text)) parse_mib_pairs(text, out);
  if (read_file("/proc/thread-self/net/netstat", text)) parse_mib_pairs(text, out);
  if (read_file("/proc/thread-self/net/snmp6", text)) parse_name_values(text, out);
  return out;
}

CounterMap netns_counters(const Net& net) {
  CounterMap out;
  for (const auto& [name, value] : net.counters().nonzero()) out[std::string(name)] = value;
  return out;
}

// ---- the Linux server: one thread, one connection at a time ----

class KernelPathServer {
 public:
  // Listens on `port` inside the Linux namespace `ns`; error set on failure.
  KernelPathServer(const std::string& ns, std::uint16_t port, std::string& error) {
    listener_ = kernel_socket(ns, error);
    if (listener_.get() < 0) return;
    const int one = 1;
    ::setsockopt(listener_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const sockaddr_in at = socket_address(Ipv4Address::any(), port);
    if (::bind(listener_.get(), reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0 ||
        ::listen(listener_.get(), 16) != 0) {
      error = errno_text("the Linux server's listener");
      return;
    }
    thread_ = std::thread([this] { run(); });
  }
  ~KernelPathServer() {
    stop_ = true;
    // Wakes a blocked accept (EINVAL) and a blocked send or recv.
    ::shutdown(listener_.get(), SHUT_RDWR);
    if (const int fd = current_.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
  }
  KernelPathServer(const KernelPathServer&) = delete;
  KernelPathServer& operator=(const KernelPathServer&) = delete;

  // Connections served to their end (well or not), and the last one's error.
  std::uint64_t finished() const { return finished_.load(); }
  std::string last_error() const {
    std::lock_guard lock(mutex_);
    return last_error_;
  }

 private:
  void run() {
    while (!stop_) {
      UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (conn.get() < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) continue;
        return;  // shut down
      }
      bound_blocking_calls(conn.get());
      current_ = conn.get();
      std::string error;
      // The listener's CUBIC is inherited; said again so a kernel that did not would fail loudly.
      if (!stop_ && use_cubic(conn.get(), error)) serve(conn.get(), error);
      current_ = -1;
      conn.reset();
      {
        std::lock_guard lock(mutex_);
        last_error_ = error;
      }
      ++finished_;
    }
  }

  static void serve(int fd, std::string& error) {
    std::array<std::byte, kRequestSize> raw{};
    if (!recv_exact(fd, raw, error)) return;
    const auto request = decode(raw);
    if (!request) {
      error = "malformed request";
      return;
    }
    if (request->direction == PathDirection::download) {
      if (!send_pattern(fd, request->length, error)) return;
      ::shutdown(fd, SHUT_WR);
      (void)recv_eof(fd, error);
      return;
    }
    std::uint64_t got = 0;
    const Received received = recv_pattern(fd, request->length, got, error);
    if (received == Received::failed) return;
    std::string reply_error;
    const std::byte verdict = received == Received::all ? kVerdictOk : kVerdictBad;
    if (!send_all(fd, std::span(&verdict, 1), reply_error)) {
      if (error.empty()) error = reply_error;
      return;
    }
    ::shutdown(fd, SHUT_WR);
    if (received == Received::all) (void)recv_eof(fd, error);
  }

  UniqueFd listener_;
  std::atomic<bool> stop_{false};
  std::atomic<int> current_{-1};
  std::atomic<std::uint64_t> finished_{0};
  mutable std::mutex mutex_;
  std::string last_error_;
  std::thread thread_;
};

// ---- the netns server: readiness callbacks inside Host::poll ----

class NetnsPathServer {
 public:
  NetnsPathServer(Net& net, std::uint16_t port, std::string& error) {
    auto listener = tcp::listen(net, {Ipv4Address::any(), port});
    if (!listener) {
      error = "the netns server's listener: " + listener.error().message();
      return;
    }
    listener_ = std::move(*listener);
    listener_.on_acceptable([this] { accept_all(); });
  }
  ~NetnsPathServer() {
    for (Conn& c : conns_) c.stream.close();
    listener_.close();
  }
  NetnsPathServer(const NetnsPathServer&) = delete;
  NetnsPathServer& operator=(const NetnsPathServer&) = delete;

  std::uint64_t finished() const { return finished_; }
  const std::string& last_error() const { return last_error_; }
  // Forgets finished connections. Outside Host::poll: their callbacks may be running inside it.
  void reap() {
    conns_.remove_if([](const Conn& c) { return c.done; });
  }

 private:
  struct Conn {
    tcp::Stream stream;
    std::array<std::byte, kRequestSize> raw{};
    std::size_t raw_got = 0;
    std::optional<Request> request;
    std::uint64_t moved = 0;  // payload sent, or received and checked
    bool corrupt = false, verdict_sent = false, fin_sent = false, done = false;
  };

  void accept_all() {
    while (auto stream = listener_.accept()) {
      Conn& c = conns_.emplace_back();
      c.stream = std::move(*stream);
      c.stream.on_readable([this, &c] { serve(c); });
      c.stream.on_writable([this, &c] { serve(c); });
      serve(c);
    }
  }

  // Stops at the first would_block; the next readiness callback goes on.
  void serve(Conn& c) {
    if (c.done) return;
    if (!c.request && !read_request(c)) return;
    if (c.request->direction == PathDirection::download) {
      if (send_data(c)) wait_for_fin(c);
    } else if (receive_data(c) && send_verdict(c)) {
      if (c.corrupt) finish(c, fmt::format("bytes from offset {} differ from those sent", c.moved));
      else wait_for_fin(c);
    }
  }

  bool read_request(Conn& c) {
    while (c.raw_got < kRequestSize) {
      auto n = c.stream.read(std::span(c.raw).subspan(c.raw_got));
      if (!n) return failed(c, n.error(), "read");
      if (*n == 0) return finish(c, "the client closed before its request"), false;
      c.raw_got += *n;
    }
    c.request = decode(c.raw);
    if (!c.request) return finish(c, "malformed request"), false;
    return true;
  }

  bool send_data(Conn& c) {
    const std::uint64_t length = c.request->length;
    while (c.moved < length) {
      auto n = c.stream.write(pattern().window(c.moved).first(chunk(length - c.moved)));
      if (!n) return failed(c, n.error(), "write");
      c.moved += *n;
    }
    if (!c.fin_sent) {
      c.fin_sent = true;
      if (auto r = c.stream.shutdown(); !r) return finish(c, "shutdown: " + r.error().message()), false;
    }
    return true;
  }

  bool receive_data(Conn& c) {
    const std::uint64_t length = c.request->length;
    while (c.moved < length && !c.corrupt) {
      auto n = c.stream.read(std::span(buffer_).first(chunk(length - c.moved)));
      if (!n) return failed(c, n.error(), "read");
      if (*n == 0) return finish(c, fmt::format("the stream ended after {} of {} bytes", c.moved, length)), false;
      if (!pattern().matches(c.moved, std::span(buffer_).first(*n))) c.corrupt = true;
      else c.moved += *n;
    }
    return true;
  }

  bool send_verdict(Conn& c) {
    if (c.verdict_sent) return true;
    const std::byte verdict = c.corrupt ? kVerdictBad : kVerdictOk;
    auto n = c.stream.write(std::span(&verdict, 1));
    if (!n) return failed(c, n.error(), "write");
    c.verdict_sent = true;
    if (auto r = c.stream.shutdown(); !r) return finish(c, "shutdown: " + r.error().message()), false;
    return true;
  }

  void wait_for_fin(Conn& c) {
    std::array<std::byte, 1> extra;
    auto n = c.stream.read(extra);
    if (!n) {
      failed(c, n.error(), "read (waiting for FIN)");
      return;
    }
    finish(c, *n == 0 ? std::string() : std::string("bytes after the stated length"));
  }

  // False; finishes the connection unless the error is would_block.
  bool failed(Conn& c, boost::system::error_code e, std::string_view what) {
    if (!would_block(e)) finish(c, fmt::format("{}: {}", what, e.message()));
    return false;
  }

  void finish(Conn& c, std::string error) {
    c.done = true;
    c.stream.close();  // allowed inside its own callback (tcp.hpp)
    last_error_ = std::move(error);
    ++finished_;
  }

  tcp::Listener listener_;
  std::list<Conn> conns_;  // stable addresses: the callbacks hold them
  std::vector<std::byte> buffer_ = std::vector<std::byte>(TransferPattern::kWindow);
  std::uint64_t finished_ = 0;
  std::string last_error_;
};

// ---- LinuxPath ----

LinuxPath::LinuxPath(std::string_view prefix)
    : host_(HostConfig{.secret = kHostSecret, .poll_budget = kPollBudget, .start = Clock::now()}) {
  build(prefix);
  if (!error_.empty()) {
    netns_server_.reset();
    kernel_server_.reset();
  }
}

LinuxPath::~LinuxPath() {
  // Streams before the Host; the Linux server's thread before its namespace.
  netns_server_.reset();
  kernel_server_.reset();
}

void LinuxPath::build(std::string_view prefix) {
  if (auto why = kernel_test_skip_reason({"ip"})) {
    error_ = *why;
    return;
  }
  remove_stale_namespaces(prefix);
  auto client_ns = LinuxNetns::create(unique_linux_name(prefix));
  auto server_ns = LinuxNetns::create(unique_linux_name(prefix));
  if (!client_ns || !server_ns) {
    error_ = "cannot create Linux network namespaces with `ip netns add`";
    return;
  }
  client_ns_.emplace(std::move(*client_ns));
  server_ns_.emplace(std::move(*server_ns));

  r1_ = host_.create_net("r1").value();
  r2_ = host_.create_net("r2").value();
  server_ = host_.create_net("server").value();
  client_if_ = unique_linux_name(prefix);
  kernel_server_if_ = unique_linux_name(prefix);
  auto client_tap = make_tap(*r1_, client_if_);
  auto server_tap = make_tap(*r2_, kernel_server_if_);
  auto middle = make_veth(*r1_, "mid", *r2_, "mid");
  auto serve = make_veth(*r2_, "srv", *server_, "eth0");
  if (!client_tap || !server_tap || !middle || !serve) {
    error_ = "cannot create the TAPs and veths of the path";
    return;
  }
  client_tap_ = *client_tap;
  kernel_server_tap_ = *server_tap;
  middle_ = *middle;
  netns_server_link_ = serve->a;

  auto p = [](const char* text) { return Ipv4Prefix::parse(text).value(); };
  auto a = [](const char* text) { return Ipv4Address::parse(text).value(); };
  bool ok = true;
  for (Device* dev : {client_tap_, kernel_server_tap_, middle_.a, middle_.b, serve->a, serve->b}) {
    ok = ok && set_link_up(*dev).has_value();
  }
  ok = ok && ipv4::add_address(*r1_, *client_tap_, p("192.0.2.2/24")) &&
       ipv4::add_address(*r1_, *middle_.a, p("198.51.100.1/30")) &&
       ipv4::add_address(*r2_, *middle_.b, p("198.51.100.2/30")) &&
       ipv4::add_address(*r2_, *serve->a, p("203.0.113.1/26")) &&
       ipv4::add_address(*r2_, *kernel_server_tap_, p("203.0.113.65/26")) &&
       ipv4::add_address(*server_, *serve->b, p("203.0.113.2/26")) &&
       ipv4::add_route(*r1_, {.prefix = p("203.0.113.0/24"), .via = a("198.51.100.2")}) &&
       ipv4::add_route(*r2_, {.prefix = p("192.0.2.0/24"), .via = a("198.51.100.1")}) &&
       ipv4::add_route(*server_, {.prefix = p("0.0.0.0/0"), .via = a("203.0.113.1")}) &&
       r1_->sysctl().set("net.ipv4.ip_forward", "1") && r2_->sysctl().set("net.ipv4.ip_forward", "1");
  if (!ok) {
    error_ = "cannot configure the netns routers and server";
    return;
  }
  if (!setup_linux_side(*client_ns_, client_if_, "192.0.2.1/24", "192.0.2.2") ||
      !setup_linux_side(*server_ns_, kernel_server_if_, "203.0.113.66/26", "203.0.113.65")) {
    return;
  }
  kernel_server_ = std::make_unique<KernelPathServer>(server_ns_->name(), kPort, error_);
  if (!error_.empty()) return;
  netns_server_ = std::make_unique<NetnsPathServer>(*server_, kPort, error_);
  if (!error_.empty()) return;
  // Neighbours resolved and sockets' first-use costs paid before anything is timed.
  for (PathServer server : {PathServer::netns, PathServer::kernel}) {
    const TransferResult r = transfer(server, PathDirection::download, kWarmUpBytes, std::chrono::seconds(20));
    if (!r.ok()) {
      error_ = fmt::format("a first transfer from the {} server failed: {}", to_string(server), r.error);
      return;
    }
  }
}

bool LinuxPath::setup_linux_side(const LinuxNetns& ns, const std::string& interface, const std::string& prefix,
                                 const std::string& gateway) {
  // No IPv6 on the path (router solicitations, MLD reports): captures show
  // the transfer and nothing else. Before the interface arrives, so it takes
  // the default. A kernel without IPv6 has nothing to silence.
  if (::access("/proc/sys/net/ipv6", F_OK) == 0) {
    (void)write_sysctl(ns.name(), "net/ipv6/conf/all/disable_ipv6", "1");
    (void)write_sysctl(ns.name(), "net/ipv6/conf/default/disable_ipv6", "1");
  }
  CommandResult r = ns.take_interface(interface, prefix);
  if (r.ok()) r = ns.ip({"link", "set", "lo", "up"});
  if (r.ok()) r = ns.ip({"route", "add", "default", "via", gateway});
  if (!r.ok()) {
    error_ = fmt::format("configuring {} in the Linux namespace {}: {}", interface, ns.name(), r.output);
    return false;
  }
  if (!write_sysctl(ns.name(), "net/ipv4/tcp_no_metrics_save", "1")) {
    error_ = fmt::format("cannot set tcp_no_metrics_save in the Linux namespace {}", ns.name());
    return false;
  }
  if (!ns.wait_operstate_up(interface)) {
    error_ = fmt::format("{} in {} never came up: {}", interface, ns.name(), ns.ip({"link", "show", interface}).output);
    return false;
  }
  return true;
}

Result<void> LinuxPath::set_faults(const LinkFaults& faults) {
  if (!ok()) return netns::error(Errc::operation_not_permitted);
  LinkFaults back = faults;
  back.seed = faults.seed * 0x9e37'79b9'7f4a'7c15ull + 1;  // the other direction, independent
  if (auto r = set_link_faults(*middle_.a, faults); !r) return r;
  return set_link_faults(*middle_.b, back);
}

std::uint64_t LinuxPath::queue_drop_count() {
  std::uint64_t drops = 0;
  for (Net* net : {r1_.get(), r2_.get(), server_.get()}) {
    for (const Device& dev : net->devices()) drops += dev.stats().rx_dropped + dev.stats().tx_dropped;
  }
  drops -= path_drop_count();  // netem's, on the middle link
  {
    EnterNetns inside(client_ns_->name());
    if (inside.ok()) drops += interface_drops(client_if_);
  }
  EnterNetns inside(server_ns_->name());
  if (inside.ok()) drops += interface_drops(kernel_server_if_);
  return drops;
}

std::uint64_t LinuxPath::path_drop_count() const {
  return middle_.a->stats().tx_dropped + middle_.b->stats().tx_dropped;
}

bool LinuxPath::poll_until(const std::function<bool()>& done, Clock::duration limit, int wake_fd) {
  const std::span<const int> wake = wake_fd >= 0 ? std::span<const int>(&wake_fd, 1) : std::span<const int>();
  return poll_host_until(host_, done, limit, wake);
}

TransferResult LinuxPath::transfer(PathServer server, PathDirection direction, std::uint64_t bytes,
                                   Clock::duration limit) {
  TransferResult result;
  if (!ok()) {
    result.error = error_;
    return result;
  }
  const bool to_netns = server == PathServer::netns;
  auto server_counters = [&] { return to_netns ? netns_counters(*server_) : kernel_counters(server_ns_->name()); };
  auto served = [&] {
    if (to_netns) netns_server_->reap();
    return to_netns ? netns_server_->finished() : kernel_server_->finished();
  };
  const CounterMap client_before = kernel_counters(client_ns_->name());
  const CounterMap server_before = server_counters();
  const std::uint64_t queues_before = queue_drop_count();
  const std::uint64_t path_before = path_drop_count();
  const std::uint64_t served_before = served();

  std::vector<std::unique_ptr<Capture>> captures;
  if (!capture_prefix_.empty()) {
    CaptureOptions options;
    options.snaplen = 128;  // headers (TCP options included), not the payload
    options.time_offset = std::chrono::system_clock::now().time_since_epoch() -
                          std::chrono::steady_clock::now().time_since_epoch();
    Device* server_side = to_netns ? netns_server_link_ : kernel_server_tap_;
    for (auto [dev, suffix] : {std::pair{client_tap_, "-client.pcap"}, std::pair{server_side, "-server.pcap"}}) {
      const std::string path = capture_prefix_ + suffix;
      auto capture = start_capture(*dev, path, options);
      if (!capture) {
        result.error = fmt::format("capture to {}: {}", path, capture.error().message());
        return result;
      }
      captures.push_back(std::move(*capture));
    }
    capture_prefix_.clear();
  }

  UniqueFd fd = kernel_socket(client_ns_->name(), result.error);
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (fd.get() < 0 || wake.get() < 0) {
    if (result.error.empty()) result.error = errno_text("eventfd");
    return result;
  }
  ClientOutcome outcome;
  std::atomic<bool> client_done{false};
  const sockaddr_in to = socket_address(to_netns ? kNetnsServer : kKernelServer, kPort);
  const double cpu_before = thread_cpu_seconds();
  const auto wall_before = Clock::now();
  std::thread client([&, socket = fd.get(), wake_fd = wake.get()] {
    run_client(socket, to, direction, bytes, outcome);
    client_done = true;
    const std::uint64_t one = 1;
    (void)!::write(wake_fd, &one, sizeof one);
  });
  auto client_finished = [&] { return client_done.load(); };
  const bool in_time = poll_until(client_finished, limit, wake.get());
  if (!in_time) {
    ::shutdown(fd.get(), SHUT_RDWR);  // wakes the client's blocked call
    poll_until(client_finished, std::chrono::seconds(10), wake.get());
  }
  client.join();
  const double cpu = thread_cpu_seconds() - cpu_before;
  const double wall = std::chrono::duration<double>(Clock::now() - wall_before).count();
  fd.reset();  // after a failure with bytes unread, an RST ends the server's side
  // The server's side ends with the client's FIN: wait for it, so the
  // counters below are the whole connection's.
  const bool server_done = poll_until([&] { return served() > served_before; }, std::chrono::seconds(10));
  for (auto& capture : captures) (void)capture->stop();

  result.bytes = outcome.bytes;
  if (outcome.end > outcome.start) result.seconds = std::chrono::duration<double>(outcome.end - outcome.start).count();
  const std::string server_error =
      !server_done ? std::string("it did not finish its side")
                   : (to_netns ? netns_server_->last_error() : kernel_server_->last_error());
  if (!in_time) {
    result.error = fmt::format("timed out after {:.0f} s with {} of {} bytes through", wall, outcome.bytes, bytes);
  } else if (!outcome.error.empty() || !server_error.empty()) {
    // Both sides' words: a server that found bad bytes resets, and the
    // client then only knows that its connection was reset.
    if (!outcome.error.empty()) result.error = "client: " + outcome.error;
    if (!server_error.empty()) {
      if (!result.error.empty()) result.error += "; ";
      result.error += fmt::format("{} server: {}", to_string(server), server_error);
    }
  }
  const CounterMap client_change = counter_changes(client_before, kernel_counters(client_ns_->name()));
  const CounterMap server_change = counter_changes(server_before, server_counters());
  const bool download = direction == PathDirection::download;
  result.sender = download ? server_change : client_change;
  result.receiver = download ? client_change : server_change;
  result.queue_drops = queue_drop_count() - queues_before;
  result.path_drops = path_drop_count() - path_before;
  result.host_busy = wall > 0 ? cpu / wall : 0;
  return result;
}

}  // namespace netns::support
