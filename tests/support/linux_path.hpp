// The judge of issue 10: Linux against Linux, and Linux against netns, over
// one impaired path. A Linux client in a Linux namespace fetches bytes from,
// or sends bytes to, either a netns server or a Linux server; both sit behind
// the same netns link with faults (loss, reordering, delay, jitter) in both
// directions, so they face the same impairment.
//
//   client (Linux ns)  --TAP--  r1  ==veth, LinkFaults both ways==  r2  --veth--  server (netns)
//   192.0.2.1/24      192.0.2.2/24  198.51.100.1/30   198.51.100.2/30  203.0.113.1/26  203.0.113.2/26
//                                                                    --TAP--   server (Linux ns)
//                                                                   203.0.113.65/26  203.0.113.66/26
//
//   support::LinuxPath path;
//   if (!path.ok()) GTEST_SKIP() << path.error();
//   ASSERT_TRUE(path.set_faults({.loss = 0.01, .delay = std::chrono::milliseconds(1)}));
//   TransferResult r = path.transfer(PathServer::netns, PathDirection::download, 8 << 20);
//   EXPECT_TRUE(r.ok()) << r.error;          // every byte arrived and was checked
//   r.megabytes_per_second(); counter(r.sender, "TcpExtTCPTimeouts");
//
// Who runs where: the routers and the netns server run on the calling thread,
// which must be the only one driving the Host; transfer() polls it on the
// real clock (ppoll on the TAP descriptors, sleeping no longer than the next
// timer) while it waits. The client is a kernel socket driven by a thread of
// its own with blocking calls; the Linux server is another thread. Neither
// touches the Host. The Linux sockets run CUBIC (Linux's default, and
// netns's) whatever this machine's default is, and their namespaces forget
// route metrics (tcp_no_metrics_save), so one transfer does not start from
// the ssthresh the previous one learned. The Host polls at most 256 frames
// and timers at a time, so its clock moves on during a transfer. Before
// anything is timed, a first small transfer from each server resolves the
// neighbours.
//
// The protocol, the same for both servers: the client sends a 16-byte
// request ("NPJ1", 'D' or 'U', three zero bytes, the length as 8 bytes big
// endian). Download: the server sends that many bytes of TransferPattern,
// then FIN. Upload: the client sends them, then FIN; the server checks every
// byte and answers one byte, '+' when all were right, '!' otherwise, then
// FIN. Whoever receives checks every byte against the pattern.
//
// Root only: kernel_test_skip_reason({"ip"}) says why not. Every name given
// to the kernel is unique per process (unique_linux_name); everything is
// deleted when the LinuxPath goes, and the namespaces a killed process of
// the same prefix left are deleted by the next one.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "netns/address.hpp"
#include "netns/clock.hpp"
#include "netns/device.hpp"
#include "netns/host.hpp"
#include "netns/result.hpp"
#include "support/linux_net.hpp"

namespace netns::support {

// The bytes of every transfer: byte k is at(k). The period is prime, so a
// segment placed at a wrong offset (any multiple of an MSS) never matches.
class TransferPattern {
 public:
  static constexpr std::size_t kPeriod = 65521;
  static constexpr std::size_t kWindow = 256 * 1024;  // the longest span window() gives

  TransferPattern();
  // kWindow bytes starting at stream offset `offset`.
  std::span<const std::byte> window(std::uint64_t offset) const;
  // True when `data` (at most kWindow bytes) is what the stream holds at `offset`.
  bool matches(std::uint64_t offset, std::span<const std::byte> data) const;

 private:
  std::vector<std::byte> bytes_;
};

enum class PathServer { netns, kernel };
enum class PathDirection { download, upload };
std::string_view to_string(PathServer server);        // "netns", "linux"
std::string_view to_string(PathDirection direction);  // "download", "upload"

// Counters by the names nstat prints ("TcpExtTCPTimeouts", "TcpRetransSegs").
using CounterMap = std::map<std::string, std::uint64_t, std::less<>>;
// 0 for a name absent from the map.
std::uint64_t counter(const CounterMap& counters, std::string_view name);
// after - before for every name in `after` (counters only grow; a gauge that
// went down gives 0).
CounterMap counter_changes(const CounterMap& before, const CounterMap& after);
// The MIB a counter belongs to, as nstat prefixes it: "IpExt" for
// "IpExtInOctets", "Ip" for "IpInReceives", "Icmp6" for "Icmp6InEchos",
// "TcpExt", "UdpLite"...; empty for a name of no MIB Linux prints.
std::string_view mib_of(std::string_view name);
// The names that moved (non-zero) in either of two change maps, of the
// given MIBs only: what a comparison of two stacks must look at.
std::set<std::string> moved_in(const CounterMap& a, const CounterMap& b, std::initializer_list<std::string_view> mibs);

// /proc/net/snmp, /proc/net/netstat and /proc/net/snmp6 of the Linux namespace `name` (made
// by `ip netns add`), read by switching the calling thread there and back.
// Empty when the namespace cannot be entered.
CounterMap kernel_counters(const std::string& name);
// Every counter of a netns namespace.
CounterMap netns_counters(const Net& net);

struct TransferResult {
  std::string error;           // empty when every byte arrived and was checked
  std::uint64_t bytes = 0;     // payload bytes the receiver got and checked
  // From the client's connect() to the last byte (download) or to the
  // server's verdict (upload), on the client's thread.
  double seconds = 0;
  // Counter changes over the transfer in the namespace that sent the bulk
  // data (the server for a download, the client for an upload) and in the
  // one that received it. The client is always Linux.
  CounterMap sender, receiver;
  // Frames the faulty link dropped, both directions: its random loss and
  // netem's queue limit (1,000 frames held for their delay, as Linux's netem).
  std::uint64_t path_drops = 0;
  // Frames dropped in every other queue of the path: device backlogs
  // (net.core.netdev_max_backlog, 1,000 frames) in the routers and the
  // netns server, the TAPs' queues (txqueuelen 1,000) and the Linux
  // interfaces. Not the impairment: a sender that puts more than a queue
  // holds on the wire at once loses there, as behind a real NIC or router.
  std::uint64_t queue_drops = 0;
  // CPU time of the Host's thread over wall time: near 1 means the harness,
  // not TCP, set the pace.
  double host_busy = 0;

  bool ok() const { return error.empty(); }
  double megabytes_per_second() const { return seconds > 0 ? static_cast<double>(bytes) / seconds / 1e6 : 0; }
};

class NetnsPathServer;   // the netns server (internal)
class KernelPathServer;  // the Linux server's thread (internal)

class LinuxPath {
 public:
  static constexpr std::uint16_t kPort = 5001;
  static constexpr Ipv4Address kClient{192, 0, 2, 1};
  static constexpr Ipv4Address kNetnsServer{203, 0, 113, 2};
  static constexpr Ipv4Address kKernelServer{203, 0, 113, 66};
  static constexpr auto kTransferLimit = std::chrono::seconds(300);

  // Builds everything. Kernel names are unique_linux_name(prefix), so the
  // prefix has at most 3 bytes. On failure ok() is false, error() says what
  // failed, and what was made is deleted.
  explicit LinuxPath(std::string_view prefix = "np");
  ~LinuxPath();
  LinuxPath(const LinuxPath&) = delete;
  LinuxPath& operator=(const LinuxPath&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  // The faults of r1's and r2's ends of the middle link, so each direction
  // has them; r2's end draws from another seed (derived from faults.seed).
  // All zero removes them. Errors as set_link_faults.
  Result<void> set_faults(const LinkFaults& faults);

  // The next transfer() writes two pcap files: `<prefix>-client.pcap` (r1's
  // TAP: what the Linux client sent and got) and `<prefix>-server.pcap` (r2's
  // device toward the server of that transfer). A frame in one and not the
  // other was lost on the middle link. Timestamps are wall-clock.
  void capture_next(std::string prefix) { capture_prefix_ = std::move(prefix); }

  // One transfer of `bytes` between the Linux client and `server`, polling
  // the Host until it ends or `limit` passes (then the client's socket is
  // shut down and the result says it timed out).
  TransferResult transfer(PathServer server, PathDirection direction, std::uint64_t bytes,
                          Clock::duration limit = kTransferLimit);

  Host& host() { return host_; }
  Net& router1() { return *r1_; }
  Net& router2() { return *r2_; }
  Net& netns_server() { return *server_; }
  const std::string& client_namespace() const { return client_ns_->name(); }
  const std::string& kernel_server_namespace() const { return server_ns_->name(); }

 private:
  void build(std::string_view prefix);
  bool setup_linux_side(const LinuxNetns& ns, const std::string& interface, const std::string& prefix,
                        const std::string& gateway);
  std::uint64_t queue_drop_count();
  std::uint64_t path_drop_count() const;
  // Polls until done() or `limit`, waking for `wake_fd` too.
  bool poll_until(const std::function<bool()>& done, Clock::duration limit, int wake_fd = -1);

  std::string error_;
  // Before the Host: deleted after it, when its TAPs are gone.
  std::optional<LinuxNetns> client_ns_, server_ns_;
  Host host_;
  NetRef r1_, r2_, server_;
  Device* client_tap_ = nullptr;          // r1's end of the client's TAP
  Device* kernel_server_tap_ = nullptr;   // r2's end of the Linux server's TAP
  Device* netns_server_link_ = nullptr;   // r2's end of the veth to the netns server
  VethPair middle_{};                     // a: r1, b: r2
  std::string client_if_, kernel_server_if_;
  std::unique_ptr<KernelPathServer> kernel_server_;
  std::unique_ptr<NetnsPathServer> netns_server_;
  std::string capture_prefix_;
};

}  // namespace netns::support
