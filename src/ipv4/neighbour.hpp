// The neighbour table of one namespace: ARP resolution (RFC 826) with Linux's
// NUD states, a bounded queue of packets per unresolved entry, and timers.
//
// Bounds and reclaim. Every echo request or SYN from a new on-link source
// needs a neighbour for its answer, so a flood of spoofed sources is a flood
// of table entries; the table is built so that such a flood costs O(1) per
// frame and never keeps a real neighbour from resolving:
//   - Permanent entries (add_neighbour) are exempt from gc_thresh3, as Linux
//     exempts NUD_PERMANENT ones; they have their own bound, kMaxPermanent
//     (the control plane makes them, traffic never does).
//   - Every other entry counts against net.ipv4.neigh.default.gc_thresh3 and
//     sits on one of two lists, oldest first, so reclaiming never scans:
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
//     gets an entry and its ARP request. An entry learned from an ARP request
//     is refused instead (table_fulls), and the request is answered anyway.
//
// Linux, under the same flood, fills gc_thresh3 with INCOMPLETE entries that
// forced GC may not touch for 5 s (they are all recent), counts table_fulls,
// drops the traffic of every new neighbour, and stops answering ARP requests
// for itself (arp_process replies only when neigh_event_ns got an entry).
// Here a real neighbour resolves as long as it answers its ARP request
// before unresolved_limit newer spoofed sources have arrived: at 100,000 new
// sources a second and the default 256, within 2.5 ms.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include <boost/intrusive/list.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include "core/siphash.hpp"
#include "ipv4/neighbour_layer.hpp"
#include "netns/bounded_queue.hpp"
#include "netns/resources.hpp"
#include "netns/ipv4.hpp"
#include "netns/packet.hpp"
#include "netns/timer.hpp"
#include "netns/wire/ethernet.hpp"

namespace netns::ipv4 {

class NeighbourTable {
 public:
  // Permanent entries beyond this are refused with no_buffer_space: about
  // 12 MiB of entries, far above any static ARP table a host configures.
  static constexpr std::size_t kMaxPermanent = 65536;
  // The most INCOMPLETE entries a table of gc_thresh3 entries holds.
  static constexpr std::size_t unresolved_limit(std::size_t gc_thresh3) {
    return gc_thresh3 / 4 > 0 ? gc_thresh3 / 4 : 1;
  }

  // `layer` (one per Host, not per namespace) must outlive the table.
  NeighbourTable(Net& net, NeighbourLayer& layer);
  ~NeighbourTable();
  NeighbourTable(const NeighbourTable&) = delete;
  NeighbourTable& operator=(const NeighbourTable&) = delete;

  // Sends `datagram` (data() at its IP header) to next_hop on dev, resolving
  // the link address first when needed.
  void output(Device& dev, Ipv4Address next_hop, Packet&& datagram);
  // An ARP message (data() at the ARP header) received on dev.
  void process_arp(Device& dev, Packet message);
  void flush_device(const Device& dev);
  // ip neigh replace ... nud permanent: never counted against gc_thresh3;
  // no_buffer_space once kMaxPermanent are present, invalid_argument for a
  // multicast MAC or a multicast or unspecified address (nothing changes).
  Result<void> add_permanent(Device& dev, Ipv4Address address, MacAddress mac);
  std::vector<NeighbourInfo> list() const;
  std::size_t size() const { return entries_.size(); }
  NeighbourTableStats stats() const;

 private:
  using Key = std::uint64_t;  // ifindex << 32 | address
  static Key key(const Device& dev, Ipv4Address a) {
    return std::uint64_t(static_cast<std::uint32_t>(dev.ifindex())) << 32 | a.value;
  }
  // SipHash keyed by the Host's secret: the addresses are chosen by whoever
  // sends from them, and must not be able to aim at one group. Its output
  // is already uniform, so the map need not mix it again.
  struct KeyHash {
    using is_avalanching = void;
    SipKey sip;
    std::size_t operator()(Key k) const { return siphash13_word(sip, k); }
  };

  struct Entry {
    Entry(NeighbourTable& table, Device& d, Ipv4Address a);
    Device* dev;
    Ipv4Address address;
    MacAddress mac;
    NeighbourState state = NeighbourState::incomplete;
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
  using EntryList = boost::intrusive::list<
      Entry, boost::intrusive::member_hook<Entry, boost::intrusive::list_member_hook<>, &Entry::hook>,
      boost::intrusive::constant_time_size<true>>;

  Entry* lookup(const Device& dev, Ipv4Address address);
  // A new entry in `state`: incomplete, stale (learned from a request) or
  // permanent. Null when the table refuses it (counted as table_fulls).
  Entry* create(Device& dev, Ipv4Address address, NeighbourState state);
  bool make_room(NeighbourState state);
  std::size_t forced_gc();
  Entry* oldest_dynamic();
  std::size_t dynamic_entries() const { return unresolved_.size() + gc_list_.size(); }
  void set_state(Entry& e, NeighbourState state);
  void update(Entry& e, MacAddress mac, NeighbourState state);
  void on_timer(Entry& e);
  void send_request(Entry& e, bool unicast);
  void send_arp(Device& dev, std::uint16_t op, Ipv4Address sender_ip, MacAddress target_mac,
                Ipv4Address target_ip, MacAddress dst_mac);
  void enqueue_pending(Entry& e, Packet&& p);
  std::optional<Packet> take_pending(Entry& e);
  void flush_pending(Entry& e);
  void fail(Entry& e);
  void evict(Entry& e);
  EntryList& list_of(NeighbourState state) { return state == NeighbourState::incomplete ? unresolved_ : gc_list_; }
  void link(Entry& e);    // onto its state's list, or counted as permanent
  void unlink(Entry& e);  // the reverse
  void erase(Entry& e);
  void transmit(Device& dev, MacAddress dst, Packet datagram);
  Clock::duration reachable_time() const;

  static std::size_t memo_slot(Key k) { return (k * 0x9e3779b97f4a7c15u) >> 60; }  // Fibonacci: top 4 bits

  Net& net_;
  NeighbourLayer& layer_;
  // Open addressing: a lookup or an erase touches one group of keys and the
  // entry, never a chain of other entries, so its cost stays flat as the
  // table grows past the caches. Entries stay put (hooks, timers, memo).
  boost::unordered_flat_map<Key, std::unique_ptr<Entry>, KeyHash> entries_;
  EntryList unresolved_;
  EntryList gc_list_;
  std::size_t permanent_ = 0;
  Clock::time_point last_flush_{};  // the last forced GC (Linux's tbl->last_flush)
  // Entries lookup found lately, direct-mapped by a hash of their key: the
  // map costs a hash and dependent loads per forwarded packet, where Linux
  // finds the neighbour through the cached route. An entry that goes clears
  // its slot, so the memo never points at a freed one.
  struct Memo {
    Key key = ~Key{0};
    Entry* entry = nullptr;
  };
  std::array<Memo, 16> memo_{};
  // Linux's neigh_statistics, per namespace, and the two evictions it has no
  // name for (see NeighbourTableStats).
  std::uint64_t allocs_ = 0, destroys_ = 0, lookups_ = 0, hits_ = 0, unres_discards_ = 0, res_failed_ = 0,
                forced_gc_runs_ = 0, table_fulls_ = 0, unresolved_evictions_ = 0, resolved_evictions_ = 0;
};

// Prepends an Ethernet header and transmits: the one place frames get one.
void transmit_ethernet(Device& dev, MacAddress dst, wire::EtherType ethertype, Packet&& payload);

}  // namespace netns::ipv4
