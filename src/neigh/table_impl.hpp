// The neighbour machinery's member functions (table.hpp), included by the
// .cpp of each family, which instantiates its table. Linux's NUD states:
//   incomplete --answer--> reachable --timeout--> stale --used--> delay --> probe
//   incomplete/probe --no answer after the retries--> failed (queued packets are
//   reported unreachable, the entry goes); stale and unused --gc_stale_time--> gone.
#pragma once

#include <algorithm>
#include <chrono>

#include "neigh/table.hpp"
#include "netns/host.hpp"

namespace netns::neigh {

namespace detail {
inline constexpr auto kDelayFirstProbe = std::chrono::seconds(5);  // delay_first_probe_time
inline constexpr int kUnicastProbes = 3;                            // ucast_solicit's default
// neigh_forced_gc spares entries changed this recently, and runs below
// gc_thresh3 at most this often.
inline constexpr auto kForcedGcMinAge = std::chrono::seconds(5);
inline std::chrono::milliseconds ms(std::int32_t v) { return std::chrono::milliseconds(v); }
}  // namespace detail

template <class D, class F>
Table<D, F>::Entry::Entry(Table& table, Device& d, const Address& a)
    : dev(&d),
      address(a),
      pending_bytes(d.net().resources()),
      timer(d.net().host(), [&table, this] { table.on_timer(*this); }) {}

template <class D, class F>
Table<D, F>::Table(Net& net)
    : net_(net),
      entries_(0, typename F::KeyHash{SipKey::derive(net.host().secret(), kSipPurposeNeighbour)}),
      last_flush_(net.host().now()) {}

template <class D, class F>
Table<D, F>::~Table() {
  // The lists' hooks must be unlinked before the entries they thread go.
  unresolved_.clear();
  gc_list_.clear();
}

template <class D, class F>
std::int32_t Table<D, F>::knob(SysctlId id) const {
  return net_.sysctl().value(id);
}

template <class D, class F>
NeighbourTableStats Table<D, F>::stats() const {
  NeighbourTableStats s;
  s.entries = entries_.size();
  s.unres_discards = unres_discards_;
  s.res_failed = res_failed_;
  s.table_fulls = table_fulls_;
  s.allocs = allocs_;
  s.destroys = destroys_;
  s.hits = gone_hits_;
  for (const auto& [key, e] : entries_) s.hits += e->hits;
  for (const Memo& memo : memo_) s.hits += memo.hits;
  s.lookups = s.hits + misses_;
  s.forced_gc_runs = forced_gc_runs_;
  s.unresolved = unresolved_.size();
  s.permanent = permanent_;
  s.unresolved_evictions = unresolved_evictions_;
  s.resolved_evictions = resolved_evictions_;
  return s;
}

template <class D, class F>
typename Table<D, F>::Entry* Table<D, F>::lookup(const Device& dev, AddressArg address) {
  const Key k = F::key(dev, address);
  Memo& memo = memo_of(k);
  if (memo.entry == nullptr || memo.key != k) {
    auto it = entries_.find(k);
    if (it == entries_.end()) {
      ++misses_;
      return nullptr;
    }
    remember(memo, k, *it->second);
  }
  ++memo.hits;
  return memo.entry;
}

template <class D, class F>
void Table<D, F>::remember(Memo& memo, const Key& k, Entry& e) {
  if (memo.entry != nullptr) memo.entry->hits += memo.hits;
  memo = {k, &e};
  refresh_memo(e);
}

template <class D, class F>
void Table<D, F>::refresh_memo(Entry& e) {
  Memo& memo = memo_of(F::key(*e.dev, e.address));
  if (memo.entry != &e) return;
  memo.mac = e.mac;
  memo.ready = e.state != NeighbourState::incomplete && e.state != NeighbourState::stale;
}

template <class D, class F>
typename Table<D, F>::Entry* Table<D, F>::create(Device& dev, AddressArg address, NeighbourState state) {
  if (!make_room(state)) return nullptr;
  const Address a = F::canonical(address);
  auto [it, inserted] = entries_.try_emplace(F::key(dev, a), std::make_unique<Entry>(*this, dev, a));
  Entry& e = *it->second;
  e.state = state;
  e.updated = net_.host().now();
  e.pending.set_capacity(static_cast<std::size_t>(knob(F::kKnobs.unres_qlen)));
  link(e);
  ++allocs_;
  return &e;
}

// neigh_alloc's admission, with the policy table.hpp describes. Every
// eviction here is O(1); the loops only run long after gc_thresh3 was lowered
// under a full table, and each entry can be evicted once.
template <class D, class F>
bool Table<D, F>::make_room(NeighbourState state) {
  if (state == NeighbourState::permanent) return permanent_ < kMaxPermanent;
  const auto thresh3 = static_cast<std::size_t>(knob(F::kKnobs.gc_thresh3));
  const auto thresh2 = static_cast<std::size_t>(knob(F::kKnobs.gc_thresh2));
  const bool unresolved = state == NeighbourState::incomplete;
  if (unresolved) {
    while (unresolved_.size() >= unresolved_limit(thresh3)) {
      ++unresolved_evictions_;
      evict(unresolved_.front());
    }
  }
  const auto now = net_.host().now();
  if (dynamic_entries() >= thresh3 ||
      (dynamic_entries() >= thresh2 && now > last_flush_ + detail::kForcedGcMinAge)) {
    forced_gc();
  }
  while (dynamic_entries() >= thresh3) {
    if (!unresolved) {  // "neighbor table overflow"
      ++table_fulls_;
      return false;
    }
    if (!unresolved_.empty()) {
      ++unresolved_evictions_;
      evict(unresolved_.front());
    } else {
      ++resolved_evictions_;
      evict(gc_list_.front());
    }
  }
  return true;
}

// neigh_forced_gc: entries unchanged for 5 s go, oldest first, down to
// gc_thresh2. Both lists are in `updated` order, so the first recent head
// ends the run: it never walks past what it keeps.
template <class D, class F>
std::size_t Table<D, F>::forced_gc() {
  ++forced_gc_runs_;
  const auto now = net_.host().now();
  const auto thresh2 = static_cast<std::size_t>(knob(F::kKnobs.gc_thresh2));
  const std::size_t max_clean = dynamic_entries() > thresh2 ? dynamic_entries() - thresh2 : 1;
  std::size_t shrunk = 0;
  while (shrunk < max_clean) {
    Entry* e = oldest_dynamic();
    if (e == nullptr || e->updated >= now - detail::kForcedGcMinAge) break;
    evict(*e);
    ++shrunk;
  }
  last_flush_ = now;
  return shrunk;
}

template <class D, class F>
typename Table<D, F>::Entry* Table<D, F>::oldest_dynamic() {
  if (unresolved_.empty()) return gc_list_.empty() ? nullptr : &gc_list_.front();
  if (gc_list_.empty()) return &unresolved_.front();
  return unresolved_.front().updated <= gc_list_.front().updated ? &unresolved_.front() : &gc_list_.front();
}

// Reclaiming an unresolved entry drops what waited for it, as neigh_destroy
// purges arp_queue; those packets count as unres_discards.
template <class D, class F>
void Table<D, F>::evict(Entry& e) {
  unres_discards_ += e.pending.size();
  erase(e);
}

template <class D, class F>
void Table<D, F>::link(Entry& e) {
  if (e.state == NeighbourState::permanent) ++permanent_;
  else list_of(e.state).push_back(e);
}

template <class D, class F>
void Table<D, F>::unlink(Entry& e) {
  if (e.hook.is_linked()) list_of(e.state).erase(EntryList::s_iterator_to(e));
  else if (e.state == NeighbourState::permanent) --permanent_;
}

template <class D, class F>
void Table<D, F>::erase(Entry& e) {
  unlink(e);
  const Key k = F::key(*e.dev, e.address);
  Memo& memo = memo_of(k);
  if (memo.entry == &e) {
    e.hits += memo.hits;
    memo = {};
  }
  gone_hits_ += e.hits;
  ++destroys_;
  entries_.erase(k);
}

// Every state change restamps `updated` and moves the entry to the tail of
// the list its new state belongs on, which keeps both lists in age order.
template <class D, class F>
void Table<D, F>::set_state(Entry& e, NeighbourState state) {
  unlink(e);
  e.state = state;
  e.updated = net_.host().now();
  link(e);
  refresh_memo(e);
}

template <class D, class F>
Clock::duration Table<D, F>::reachable_time(const Device& dev) const {
  // neigh_rand_reach_time: uniform in [base/2, 3*base/2), from the Host's keyed generator.
  auto base = static_cast<const D&>(*this).base_reachable_time_ms(dev);
  auto r = net_.host().next_random() % static_cast<std::uint64_t>(base);
  return detail::ms(base / 2) + detail::ms(static_cast<std::int32_t>(r));
}

template <class D, class F>
void Table<D, F>::output(Device& dev, AddressArg next_hop, Packet&& datagram) {
  if (dev.kind() == DeviceKind::loopback) {
    transmit(dev, dev.mac(), std::move(datagram));
    return;
  }
  // A known neighbour whose state sends at once: its memo slot alone.
  const Key k = F::key(dev, next_hop);
  if (Memo& memo = memo_of(k); memo.ready && memo.key == k) {
    ++memo.hits;
    transmit(dev, memo.mac, std::move(datagram));
    return;
  }
  // An unlisted next hop (a broadcast, a multicast group) never gets an
  // entry, so the common case (a known neighbour) costs one lookup and the
  // family's checks are left to misses.
  Entry* e = lookup(dev, next_hop);
  if (e == nullptr) {
    MacAddress mapped;
    if (derived().resolve_unlisted(dev, next_hop, mapped)) {
      transmit(dev, mapped, std::move(datagram));
      return;
    }
    e = create(dev, next_hop, NeighbourState::incomplete);  // always succeeds: see make_room
    e->probes = 1;
    derived().solicit(*e, false);
    e->timer.schedule(net_.host().now() + detail::ms(derived().retrans_time_ms(dev)));
  }
  switch (e->state) {
    case NeighbourState::incomplete:
      enqueue_pending(*e, std::move(datagram));
      return;
    case NeighbourState::stale:
      set_state(*e, NeighbourState::delay);
      e->timer.schedule(net_.host().now() + detail::kDelayFirstProbe);
      [[fallthrough]];
    default:
      transmit(dev, e->mac, std::move(datagram));
  }
}

template <class D, class F>
void Table<D, F>::update(Entry& e, MacAddress mac, NeighbourState state) {
  if (e.state == NeighbourState::permanent) return;
  // __neigh_update restamps `updated` only on a real change, so repeating
  // what the entry says cannot keep it young for forced GC.
  if (state != e.state || mac != e.mac) set_state(e, state);
  e.mac = mac;
  refresh_memo(e);
  e.probes = 0;
  auto now = net_.host().now();
  if (state == NeighbourState::reachable) e.timer.schedule(now + reachable_time(*e.dev));
  else e.timer.schedule(now + std::chrono::seconds(knob(F::kKnobs.gc_stale_time)));
  flush_pending(e);
}

// __neigh_event_send: the oldest make way for the newest while the queue
// would hold more than unres_qlen packets or unres_qlen_bytes, each drop
// counted as the table's unres_discards (never the device's: it was never
// handed the frame). One the namespace's packet memory refuses is dropped
// too, and counted there as well.
template <class D, class F>
void Table<D, F>::enqueue_pending(Entry& e, Packet&& p) {
  const std::size_t truesize = p.truesize();
  const auto max_bytes = static_cast<std::size_t>(knob(F::kKnobs.unres_qlen_bytes));
  while (!e.pending.empty() && (e.pending.full() || e.pending_bytes + truesize > max_bytes)) {
    (void)take_pending(e);
    ++unres_discards_;
  }
  if (e.pending.capacity() == 0 || truesize > max_bytes) {
    ++unres_discards_;
    return;
  }
  if (!e.pending_bytes.try_add(truesize)) {
    ++unres_discards_;
    net_.counters().add(Counter::IpExtPacketMemDrops);
    return;
  }
  (void)e.pending.push(std::move(p));  // room was made above
}

template <class D, class F>
std::optional<Packet> Table<D, F>::take_pending(Entry& e) {
  auto p = e.pending.pop();
  if (p) e.pending_bytes -= p->truesize();
  return p;
}

template <class D, class F>
void Table<D, F>::flush_pending(Entry& e) {
  while (auto p = take_pending(e)) transmit(*e.dev, e.mac, std::move(*p));
}

template <class D, class F>
void Table<D, F>::on_timer(Entry& e) {
  auto now = net_.host().now();
  auto retrans = detail::ms(derived().retrans_time_ms(*e.dev));
  switch (e.state) {
    case NeighbourState::incomplete:
      if (e.probes < knob(F::kKnobs.mcast_solicit)) {
        ++e.probes;
        derived().solicit(e, false);
        e.timer.schedule(now + retrans);
      } else {
        fail(e);
      }
      return;
    case NeighbourState::reachable:
      set_state(e, NeighbourState::stale);
      e.timer.schedule(now + std::chrono::seconds(knob(F::kKnobs.gc_stale_time)));
      return;
    case NeighbourState::stale:
      erase(e);  // unused for gc_stale_time
      return;
    case NeighbourState::delay:
      set_state(e, NeighbourState::probe);
      e.probes = 0;
      [[fallthrough]];
    case NeighbourState::probe: {
      const int unicast_probes =
          F::kKnobs.ucast_solicit ? knob(*F::kKnobs.ucast_solicit) : detail::kUnicastProbes;
      if (e.probes < unicast_probes) {
        ++e.probes;
        derived().solicit(e, true);
        e.timer.schedule(now + retrans);
      } else {
        fail(e);
      }
      return;
    }
    case NeighbourState::failed:
    case NeighbourState::permanent:
      return;
  }
}

template <class D, class F>
void Table<D, F>::fail(Entry& e) {
  // neigh_invalidate: every packet that waited is reported unreachable.
  ++res_failed_;
  std::vector<Packet> waiting;
  while (auto p = take_pending(e)) waiting.push_back(std::move(*p));
  erase(e);  // e is gone from here on
  for (const Packet& p : waiting) derived().report_unreachable(p);
}

template <class D, class F>
void Table<D, F>::flush_device(const Device& dev) {
  std::vector<Entry*> doomed;
  for (const auto& [k, e] : entries_) {
    if (e->dev == &dev) doomed.push_back(e.get());
  }
  for (Entry* e : doomed) erase(*e);
}

template <class D, class F>
Result<void> Table<D, F>::add_permanent(Device& dev, const Address& address, MacAddress mac) {
  if (mac.is_multicast() || !F::valid_neighbour(address)) return error(Errc::invalid_argument);
  Entry* e = lookup(dev, address);
  if (e == nullptr) {
    e = create(dev, address, NeighbourState::permanent);
  } else if (e->state != NeighbourState::permanent) {
    e = permanent_ < kMaxPermanent ? e : nullptr;
    if (e != nullptr) set_state(*e, NeighbourState::permanent);
  }
  if (e == nullptr) return error(Errc::no_buffer_space);
  e->timer.cancel();
  e->mac = mac;
  refresh_memo(*e);
  flush_pending(*e);
  return {};
}

template <class D, class F>
std::vector<typename F::Info> Table<D, F>::list() const {
  std::vector<typename F::Info> out;
  out.reserve(entries_.size());
  for (const auto& [k, e] : entries_) out.push_back(F::info(*e));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.dev->ifindex() != b.dev->ifindex() ? a.dev->ifindex() < b.dev->ifindex() : a.address < b.address;
  });
  return out;
}

}  // namespace netns::neigh
