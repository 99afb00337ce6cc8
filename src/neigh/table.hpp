// The neighbour machinery of both families — one implementation, two
// families: entries with Linux's NUD states, their timers, a bounded queue
// of packets per unresolved entry, garbage collection, statistics. What a
// family adds is its messages: ARP (ipv4::NeighbourTable, src/ipv4/neighbour.*)
// and NDP (ipv6::NeighbourTable, src/ipv6/neighbour6.*).
//
//   class NeighbourTable : public neigh::Table<NeighbourTable, ArpFamily> { ... };
//
// A family part derives from Table<Derived, Family> (CRTP: the machinery
// calls its hooks directly, no virtual call) and provides
//   bool resolve_unlisted(Device&, const Address&, MacAddress& mac);
//       on a miss only: an address never resolved (IPv4's broadcasts, IPv6's
//       multicast groups), mapped straight to its link address;
//   void solicit(Entry&, bool unicast);
//       send one solicitation (unicast to e.mac for a NUD probe);
//   void report_unreachable(const Packet& datagram);
//       a datagram that waited for a neighbour that never answered;
// and may shadow
//   std::int32_t base_reachable_time_ms(const Device&) const;
//   std::int32_t retrans_time_ms(const Device&) const;
//       a device's own times (Linux's per-device neigh_parms, which IPv6
//       router advertisements set); by default the family's sysctls.
// Family (a traits type) gives the address type, the table key and its
// hash, the EtherType of the datagrams, and the sysctls the table reads:
//   using Address; using Key; struct KeyHash (from a SipKey);
//   static Key key(const Device&, const Address&);
//   static std::uint64_t memo_hash(Key);  // the memo's slot is its top bits
//   static Address canonical(const Address&);  // as the entry stores it
//   static bool valid_neighbour(const Address&);   // add_permanent's check
//   static constexpr wire::EtherType kEtherType; static constexpr Knobs kKnobs;
//   using Info; static Info info(const Entry&);      // one row of list()
//
// Bounds and reclaim. Every echo request or SYN from a new on-link source
// needs a neighbour for its answer, so a flood of spoofed sources is a flood
// of table entries; the table is built so that such a flood costs O(1) per
// frame and never keeps a real neighbour from resolving:
//   - Permanent entries (add_permanent) are exempt from gc_thresh3, as Linux
//     exempts NUD_PERMANENT ones; they have their own bound, kMaxPermanent
//     (the control plane makes them, traffic never does).
//   - Every other entry counts against the family's gc_thresh3 and sits on
//     one of two lists, oldest first, so reclaiming never scans:
//       unresolved_: INCOMPLETE entries, in creation order;
//       gc_list_:    resolved ones (reachable, stale, delay, probe), in the
//                    order of their last state change (Linux's `updated`;
//                    a change moves the entry to the tail).
//   - INCOMPLETE entries are capped at unresolved_limit(gc_thresh3), a
//     quarter of it (at least 1). A new one over the cap takes the place of
//     the oldest: its queued packets are dropped (unres_discards) and the
//     eviction counts as unresolved_evictions. A flood therefore churns that
//     quarter only; resolved entries are never reclaimed to make room for it.
//   - At gc_thresh3, or at gc_thresh2 when the last forced GC is over 5 s
//     old, forced GC as Linux's neigh_forced_gc: entries unchanged for 5 s
//     go, oldest first, down to gc_thresh2; it stops at the first recent
//     entry, so a run costs what it reclaims plus one.
//   - If the table is still full, a new INCOMPLETE entry takes the place of
//     the oldest INCOMPLETE one, or, when there is none, of the resolved entry
//     changed least recently (resolved_evictions): a new neighbour always
//     gets an entry and its solicitation. An entry learned from a
//     solicitation (ARP request, NS) is refused instead (table_fulls), and
//     the solicitation is answered anyway.
//
// Linux, under the same flood, fills gc_thresh3 with INCOMPLETE entries that
// forced GC may not touch for 5 s (they are all recent), counts table_fulls,
// drops the traffic of every new neighbour, and stops answering ARP requests
// for itself (arp_process replies only when neigh_event_ns got an entry).
// Here a real neighbour resolves as long as it answers its solicitation
// before unresolved_limit newer spoofed sources have arrived: at 100,000 new
// sources a second and the default 256, within 2.5 ms.
//
// The member functions live in table_impl.hpp, included by each family's
// .cpp, which instantiates its Table explicitly: the packet path compiles
// as it did when the table was IPv4's alone.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <boost/intrusive/list.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include "core/siphash.hpp"
#include "netns/bounded_queue.hpp"
#include "netns/detail/hot_heap.hpp"
#include "netns/device.hpp"
#include "netns/neighbour.hpp"
#include "netns/packet.hpp"
#include "netns/resources.hpp"
#include "netns/result.hpp"
#include "netns/sysctl_table.hpp"
#include "netns/timer.hpp"
#include "netns/wire/ethernet.hpp"

namespace netns {
class Net;
}

namespace netns::neigh {

// The sysctls of one family's table (net.ipv4.neigh.default.* or net.ipv6.neigh.default.*).
struct Knobs {
  SysctlId base_reachable_time_ms, gc_stale_time, retrans_time_ms, mcast_solicit, unres_qlen, gc_thresh3,
      gc_thresh2, unres_qlen_bytes;
  std::optional<SysctlId> ucast_solicit;  // none: Linux's default, 3
};

// Prepends an Ethernet header and transmits: the one place frames get one.
void transmit_ethernet(Device& dev, MacAddress dst, wire::EtherType ethertype, Packet&& payload);

// One line of `ip neigh` / `ip -6 neigh`: "ADDR dev NAME lladdr MAC [router] STATE\n"
// (no lladdr while incomplete or failed).
std::string format_neighbour(std::string_view address, const Device& dev, MacAddress mac, NeighbourState state,
                             bool router);

template <class Derived, class Family>
class Table {
 public:
  using Address = typename Family::Address;
  // By value when it fits a register (IPv4's), as the table took it before it was generic.
  using AddressArg = std::conditional_t<sizeof(Address) <= 8, Address, const Address&>;

  // Permanent entries beyond this are refused with no_buffer_space: about
  // 12 MiB of entries, far above any static table a host configures.
  static constexpr std::size_t kMaxPermanent = 65536;
  // The most INCOMPLETE entries a table of gc_thresh3 entries holds.
  static constexpr std::size_t unresolved_limit(std::size_t gc_thresh3) {
    return gc_thresh3 / 4 > 0 ? gc_thresh3 / 4 : 1;
  }

  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  // Sends `datagram` (data() at its IP header) to next_hop on dev, resolving
  // the link address first when needed.
  void output(Device& dev, AddressArg next_hop, Packet&& datagram);
  void flush_device(const Device& dev);
  // ip neigh replace ... nud permanent: never counted against gc_thresh3;
  // no_buffer_space once kMaxPermanent are present, invalid_argument for a
  // multicast MAC or an address the family never resolves (nothing changes).
  Result<void> add_permanent(Device& dev, const Address& address, MacAddress mac);
  // Every entry, by ifindex then address.
  std::vector<typename Family::Info> list() const;
  std::size_t size() const { return entries_.size(); }
  NeighbourTableStats stats() const;

 protected:
  using Key = typename Family::Key;

  struct Entry : detail::HotAllocated {
    Entry(Table& table, Device& d, const Address& a);
    Device* dev;
    Address address;
    MacAddress mac;
    NeighbourState state = NeighbourState::incomplete;
    bool router = false;  // NDP's IsRouter (Linux's NTF_ROUTER); ARP leaves it clear
    // The lookups its memo slots counted for it, folded in as it left each
    // (stats() sums these, the slots' own and those of entries gone).
    std::uint64_t hits = 0;
    // What waits for the resolution: at most unres_qlen packets and
    // unres_qlen_bytes of truesize, charged to the namespace's packet memory.
    BoundedQueue<Packet> pending;
    PacketCharge pending_bytes;
    int probes = 0;
    Clock::time_point updated;  // the last state change: forced GC's age
    // On unresolved_ (INCOMPLETE) or gc_list_ (resolved); on neither when permanent.
    boost::intrusive::list_member_hook<> hook;
    Timer timer;
  };
  friend Family;

  explicit Table(Net& net);
  ~Table();

  Entry* lookup(const Device& dev, AddressArg address);
  // A new entry in `state`: incomplete, stale (learned from a solicitation)
  // or permanent. Null when the table refuses it (counted as table_fulls).
  Entry* create(Device& dev, AddressArg address, NeighbourState state);
  // Learned `mac` in `state` (reachable: confirmed; stale: heard of):
  // restamps on a real change, restarts the timer, sends what waited.
  void update(Entry& e, MacAddress mac, NeighbourState state);
  void set_state(Entry& e, NeighbourState state);
  void transmit(Device& dev, MacAddress dst, Packet&& datagram) {
    transmit_ethernet(dev, dst, Family::kEtherType, std::move(datagram));
  }
  // neigh_rand_reach_time for an entry on dev.
  Clock::duration reachable_time(const Device& dev) const;
  std::int32_t knob(SysctlId id) const;
  std::int32_t base_reachable_time_ms(const Device&) const { return knob(Family::kKnobs.base_reachable_time_ms); }
  std::int32_t retrans_time_ms(const Device&) const { return knob(Family::kKnobs.retrans_time_ms); }

 private:
  // Entries lookup found lately, direct-mapped by a hash of their key: the
  // map costs a hash and dependent loads per forwarded packet, where Linux
  // finds the neighbour through the cached route. A slot counts its entry's
  // hits and keeps a copy of its MAC while the entry's state lets output
  // send at once (not incomplete, not stale), so output to a known
  // neighbour reads and writes that slot's line and not the entry's, as
  // Linux's output reads the neighbour's hh cache. An entry that changes
  // state or MAC refreshes its slot (refresh_memo); one that goes clears
  // it, so the memo never points at a freed one.
  // A slot never straddles two lines: 32 bytes for IPv4's one-word key, a
  // line for IPv6's. The memo is the table's first member, so its
  // alignment costs no padding.
  struct alignas(sizeof(Key) <= 8 ? 32 : 64) Memo {
    Key key = Family::kNoKey;
    Entry* entry = nullptr;
    std::uint64_t hits = 0;  // Entry::hits', since the entry took the slot
    MacAddress mac{};
    bool ready = false;  // mac is the entry's and its state sends at once
  };
  // Eight slots: the four lines sixteen slots of key and entry took for
  // IPv4, and the eight they took for IPv6.
  static constexpr unsigned kMemoBits = 3;
  std::array<Memo, std::size_t{1} << kMemoBits> memo_{};
  Memo& memo_of(const Key& k) { return memo_[Family::memo_hash(k) >> (64 - kMemoBits)]; }
  // Points k's slot at e (folding the hits of the entry it held into it).
  void remember(Memo& memo, const Key& k, Entry& e);
  // After e's state or MAC changed: its slot's copy follows.
  void refresh_memo(Entry& e);

 protected:
  Net& net_;

 private:
  using EntryList = boost::intrusive::list<
      Entry, boost::intrusive::member_hook<Entry, boost::intrusive::list_member_hook<>, &Entry::hook>,
      boost::intrusive::constant_time_size<true>>;

  Derived& derived() { return static_cast<Derived&>(*this); }
  bool make_room(NeighbourState state);
  std::size_t forced_gc();
  Entry* oldest_dynamic();
  std::size_t dynamic_entries() const { return unresolved_.size() + gc_list_.size(); }
  void on_timer(Entry& e);
  void enqueue_pending(Entry& e, Packet&& p);
  std::optional<Packet> take_pending(Entry& e);
  void flush_pending(Entry& e);
  void fail(Entry& e);
  void evict(Entry& e);
  EntryList& list_of(NeighbourState state) { return state == NeighbourState::incomplete ? unresolved_ : gc_list_; }
  void link(Entry& e);    // onto its state's list, or counted as permanent
  void unlink(Entry& e);  // the reverse
  void erase(Entry& e);

  // Open addressing: a lookup or an erase touches one group of keys and the
  // entry, never a chain of other entries, so its cost stays flat as the
  // table grows past the caches. Entries stay put (hooks, timers, memo).
  // SipHash keyed by the Host's secret: the addresses are chosen by whoever
  // sends from them, and must not be able to aim at one group.
  boost::unordered_flat_map<Key, std::unique_ptr<Entry>, typename Family::KeyHash> entries_;
  EntryList unresolved_;
  EntryList gc_list_;
  std::size_t permanent_ = 0;
  Clock::time_point last_flush_{};  // the last forced GC (Linux's tbl->last_flush)
  // Linux's neigh_statistics, per namespace, and the two evictions it has no
  // name for (see NeighbourTableStats).
  // Hits are the entries' own (Entry::hits), their memo slots' and those of
  // entries gone; lookups are the hits and the misses.
  std::uint64_t allocs_ = 0, destroys_ = 0, misses_ = 0, gone_hits_ = 0, unres_discards_ = 0, res_failed_ = 0,
                forced_gc_runs_ = 0, table_fulls_ = 0, unresolved_evictions_ = 0, resolved_evictions_ = 0;
};

}  // namespace netns::neigh
