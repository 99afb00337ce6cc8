// conntrack/conntrack.hpp — connection tracking's packet interface and its
// per-namespace state: Linux's nf_conntrack_in and nf_conntrack_confirm.
//
// The hooks (next) call, for each datagram, where netfilter would:
//
//   Conntrack& ct = net.host().builtins().conntrack();
//   Tracked t = ct.track(net, Family::ipv4, datagram, {.hook = Hook::prerouting});
//   if (t.drop) { drop; }                         // table full: NF_DROP, counted in stats().drop
//   // t.ct empty: invalid (or untracked): rules see `ct state invalid` ("untracked")
//   // else t.info: new, established, related, established_reply, related_reply
//   ... the chains run, NAT may rewrite the reply tuple of a new entry ...
//   if (!ct.confirm(net, t)) { drop; }            // at the last hook (postrouting / input)
//
// A datagram keeps its entry alive through the CtRef in `Tracked`; a new
// entry is unconfirmed (not in the table, but counted in
// nf_conntrack_count) until confirm puts it there, so a datagram dropped on
// the way leaves nothing behind. Datagrams must be whole (defragmented):
// a later fragment is invalid.
//
// State: ConntrackNet, in a pernet slot, made by the first track() in a
// namespace; a namespace that never tracks has none. It dies with the
// namespace (exit) and frees the table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "conntrack/entry.hpp"
#include "conntrack/tuple.hpp"
#include "core/siphash.hpp"
#include "netns/conntrack.hpp"
#include "netns/pernet.hpp"
#include "netns/timer.hpp"

namespace netns::conntrack {

class Table;
class HookNet;
struct Datagram;

// Where a datagram is (Linux's NF_INET_* hooks).
enum class Hook : std::uint8_t { prerouting, input, forward, output, postrouting };

// Linux's enum ip_conntrack_info.
enum class CtInfo : std::uint8_t {
  established = 0,        // original direction, after a reply was seen
  related = 1,            // an ICMP error about the connection, original direction
  new_ = 2,               // original direction, no reply seen yet
  established_reply = 3,  // reply direction
  related_reply = 4,      // an ICMP error about it, reply direction
};
constexpr Dir direction(CtInfo i) { return i >= CtInfo::established_reply ? Dir::reply : Dir::original; }

struct TrackParams {
  Hook hook = Hook::prerouting;
  // The transport checksum was verified already, or the device that
  // delivered it computes none (an in-process link): conntrack need not
  // judge it. Otherwise it does at prerouting, as Linux with
  // nf_conntrack_checksum=1.
  bool checksum_verified = false;
};

struct Tracked {
  CtRef ct;                     // empty: not tracked (invalid, untracked, or dropped)
  CtInfo info = CtInfo::new_;   // meaningful with ct
  bool drop = false;            // NF_DROP: the table is full and nothing could be evicted
  bool untracked = false;       // Linux's IP_CT_UNTRACKED (NDP and MLD)

  bool invalid() const { return !ct && !drop && !untracked; }
};

// One namespace's tracking state.
class ConntrackNet {
 public:
  ConntrackNet(Net& net, Host& host, const SipKey& key);
  ~ConntrackNet();

  Table& table() { return *table_; }
  const Table& table() const { return *table_; }
  // Arms the garbage collection while the table holds entries.
  void arm_gc();

 private:
  void run_gc();

  Net& net_;
  Host& host_;
  std::unique_ptr<Table> table_;
  Timer gc_;
};

// Every how often the collector runs while the table holds entries, and how
// much of it one run looks at: at least kGcMinBuckets buckets, or an eighth
// of the table, so a full pass takes at most about eight seconds.
inline constexpr auto kGcInterval = std::chrono::seconds(1);
inline constexpr std::size_t kGcMinBuckets = 1024;
inline constexpr std::size_t kPrefetchMinBuckets = 16384;

class Conntrack : public PernetOps {
 public:
  explicit Conntrack(Host& host);
  ~Conntrack() override;

  // Nothing: a namespace's table is made by its first tracked datagram.
  [[nodiscard]] Result<void> init(Net& net) override;
  // Unregisters the namespace's hooks, then frees its table (entries a
  // packet still holds go with it).
  void exit(Net& net) override;

  // Linux's nf_conntrack_in for one datagram of `net`, from its IP header;
  // `datagram` may carry link padding past the IP length. Never fails:
  // what cannot be tracked is invalid (counted in stats().invalid or, for an
  // ICMP error that matches nothing, stats().error).
  Tracked track(Net& net, Family family, std::span<const std::byte> datagram, TrackParams params);
  // Linux's nf_conntrack_confirm: a new entry joins the table. False when
  // the datagram must be dropped: its tuple was taken meanwhile by another
  // entry (stats().insert_failed). A clash with an identical entry is
  // resolved by adopting it (stats().clash_resolve). Reply-direction and
  // already-confirmed datagrams confirm nothing and return true.
  [[nodiscard]] bool confirm(Net& net, Tracked& tracked);
  // The receive path's look-ahead (HookOps::prefetch at prerouting) for a
  // TCP or UDP datagram track() will see a few frames from now: its
  // tuple's hash is computed and kept for that lookup, and its bucket
  // line prefetched. Whatever else arrives is left for track() to judge.
  // Asked only while the table has kPrefetchMinBuckets buckets or more
  // (HookNet::follow_table): smaller, they stay in a core's cache (1 MiB)
  // and the look-ahead would cost more than it saves.
  void prefetch(Net& net, std::span<const std::byte> datagram);

  // The namespace's state, or null while it never tracked.
  ConntrackNet* find(Net& net) const { return slot_.find(net); }
  Host& host() const { return host_; }
  // The namespace's hook registrations (conntrack/hooks.hpp), made on demand.
  HookNet& hooks(Net& net);
  HookNet* find_hooks(Net& net) const { return hooks_.find(net); }

 private:
  ConntrackNet& state(Net& net);
  Tracked track_icmp_error(ConntrackNet& s, const Datagram& d, bool* handled);

  Host& host_;
  PernetSlot<ConntrackNet> slot_;
  PernetSlot<HookNet> hooks_;
};

}  // namespace netns::conntrack
