// ARP and the neighbour table, with Linux's NUD states:
//   incomplete --reply--> reachable --timeout--> stale --used--> delay --> probe
//   incomplete/probe --no answer after the retries--> failed (queued packets get
//   ICMP host unreachable, the entry goes); stale and unused --gc_stale_time--> gone.
#include "ipv4/neighbour.hpp"

#include <algorithm>

#include "netns/host.hpp"
#include "netns/wire/arp.hpp"
#include "netns/wire/ethernet.hpp"

namespace netns::ipv4 {

namespace {
constexpr auto kEtherTypeIpv4 = wire::EtherType::ipv4;
constexpr auto kEtherTypeArp = wire::EtherType::arp;
constexpr auto kDelayFirstProbe = std::chrono::seconds(5);  // delay_first_probe_time
constexpr int kUnicastProbes = 3;                            // ucast_solicit
// neigh_forced_gc spares entries changed this recently, and runs below
// gc_thresh3 at most this often.
constexpr auto kForcedGcMinAge = std::chrono::seconds(5);

std::chrono::milliseconds ms(std::int32_t v) { return std::chrono::milliseconds(v); }
}  // namespace

NeighbourTable::Entry::Entry(NeighbourTable& table, Device& d, Ipv4Address a)
    : dev(&d),
      address(a),
      pending_bytes(d.net().resources()),
      timer(d.net().host(), [&table, this] { table.on_timer(*this); }) {}

void transmit_ethernet(Device& dev, MacAddress dst, wire::EtherType ethertype, Packet&& payload) {
  auto header = payload.push_front(wire::EthernetRepr::kHeaderLen);
  if (header.empty()) {
    ++dev.mutable_stats().tx_dropped;
    return;
  }
  wire::EthernetRepr{dst, dev.mac(), ethertype}.emit(header);
  dev.transmit(std::move(payload));
}

NeighbourTable::NeighbourTable(Net& net, NeighbourLayer& layer)
    : net_(net), layer_(layer), entries_(0, KeyHash{SipKey::derive(net.host().secret(), kSipPurposeNeighbour)}),
      last_flush_(net.host().now()) {}

NeighbourTable::~NeighbourTable() {
  // The lists' hooks must be unlinked before the entries they thread go.
  unresolved_.clear();
  gc_list_.clear();
}

NeighbourTableStats NeighbourTable::stats() const {
  NeighbourTableStats s;
  s.entries = entries_.size();
  s.unres_discards = unres_discards_;
  s.res_failed = res_failed_;
  s.table_fulls = table_fulls_;
  s.allocs = allocs_;
  s.destroys = destroys_;
  s.lookups = lookups_;
  s.hits = hits_;
  s.forced_gc_runs = forced_gc_runs_;
  s.unresolved = unresolved_.size();
  s.permanent = permanent_;
  s.unresolved_evictions = unresolved_evictions_;
  s.resolved_evictions = resolved_evictions_;
  return s;
}

NeighbourTable::Entry* NeighbourTable::lookup(const Device& dev, Ipv4Address address) {
  ++lookups_;
  const Key k = key(dev, address);
  Memo& memo = memo_[memo_slot(k)];
  if (memo.entry != nullptr && memo.key == k) {
    ++hits_;
    return memo.entry;
  }
  auto it = entries_.find(k);
  if (it == entries_.end()) return nullptr;
  ++hits_;
  memo = {k, it->second.get()};
  return memo.entry;
}

NeighbourTable::Entry* NeighbourTable::create(Device& dev, Ipv4Address address, NeighbourState state) {
  if (!make_room(state)) return nullptr;
  auto [it, inserted] = entries_.try_emplace(key(dev, address), std::make_unique<Entry>(*this, dev, address));
  Entry& e = *it->second;
  e.state = state;
  e.updated = net_.host().now();
  e.pending.set_capacity(static_cast<std::size_t>(net_.sysctl().value(SysctlId::neigh_unres_qlen)));
  link(e);
  ++allocs_;
  return &e;
}

// neigh_alloc's admission, with the policy the header describes. Every
// eviction here is O(1); the loops only run long after gc_thresh3 was lowered
// under a full table, and each entry can be evicted once.
bool NeighbourTable::make_room(NeighbourState state) {
  if (state == NeighbourState::permanent) return permanent_ < kMaxPermanent;
  const auto thresh3 = static_cast<std::size_t>(net_.sysctl().value(SysctlId::neigh_gc_thresh3));
  const auto thresh2 = static_cast<std::size_t>(net_.sysctl().value(SysctlId::neigh_gc_thresh2));
  const bool unresolved = state == NeighbourState::incomplete;
  if (unresolved) {
    while (unresolved_.size() >= unresolved_limit(thresh3)) {
      ++unresolved_evictions_;
      evict(unresolved_.front());
    }
  }
  const auto now = net_.host().now();
  if (dynamic_entries() >= thresh3 ||
      (dynamic_entries() >= thresh2 && now > last_flush_ + kForcedGcMinAge)) {
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
std::size_t NeighbourTable::forced_gc() {
  ++forced_gc_runs_;
  const auto now = net_.host().now();
  const auto thresh2 = static_cast<std::size_t>(net_.sysctl().value(SysctlId::neigh_gc_thresh2));
  const std::size_t max_clean = dynamic_entries() > thresh2 ? dynamic_entries() - thresh2 : 1;
  std::size_t shrunk = 0;
  while (shrunk < max_clean) {
    Entry* e = oldest_dynamic();
    if (e == nullptr || e->updated >= now - kForcedGcMinAge) break;
    evict(*e);
    ++shrunk;
  }
  last_flush_ = now;
  return shrunk;
}

NeighbourTable::Entry* NeighbourTable::oldest_dynamic() {
  if (unresolved_.empty()) return gc_list_.empty() ? nullptr : &gc_list_.front();
  if (gc_list_.empty()) return &unresolved_.front();
  return unresolved_.front().updated <= gc_list_.front().updated ? &unresolved_.front() : &gc_list_.front();
}

// Reclaiming an unresolved entry drops what waited for it, as neigh_destroy
// purges arp_queue; those packets count as unres_discards.
void NeighbourTable::evict(Entry& e) {
  unres_discards_ += e.pending.size();
  erase(e);
}

void NeighbourTable::link(Entry& e) {
  if (e.state == NeighbourState::permanent) ++permanent_;
  else list_of(e.state).push_back(e);
}

void NeighbourTable::unlink(Entry& e) {
  if (e.hook.is_linked()) list_of(e.state).erase(EntryList::s_iterator_to(e));
  else if (e.state == NeighbourState::permanent) --permanent_;
}

void NeighbourTable::erase(Entry& e) {
  unlink(e);
  Memo& memo = memo_[memo_slot(key(*e.dev, e.address))];
  if (memo.entry == &e) memo = {};
  ++destroys_;
  entries_.erase(key(*e.dev, e.address));
}

// Every state change restamps `updated` and moves the entry to the tail of
// the list its new state belongs on, which keeps both lists in age order.
void NeighbourTable::set_state(Entry& e, NeighbourState state) {
  unlink(e);
  e.state = state;
  e.updated = net_.host().now();
  link(e);
}

Clock::duration NeighbourTable::reachable_time() const {
  // neigh_rand_reach_time: uniform in [base/2, 3*base/2), from the Host's keyed generator.
  auto base = net_.sysctl().value(SysctlId::neigh_base_reachable_time_ms);
  auto r = net_.host().next_random() % static_cast<std::uint64_t>(base);
  return ms(base / 2) + ms(static_cast<std::int32_t>(r));
}

void NeighbourTable::output(Device& dev, Ipv4Address next_hop, Packet&& datagram) {
  if (dev.kind() == DeviceKind::loopback) {
    transmit_ethernet(dev, dev.mac(), kEtherTypeIpv4, std::move(datagram));
    return;
  }
  // A broadcast next hop never gets an entry, so the common case (a known
  // neighbour) costs one lookup and the address walk is left to misses.
  Entry* e = lookup(dev, next_hop);
  if (e == nullptr && (next_hop.is_broadcast() || layer_.is_broadcast_on(net_, dev, next_hop))) {
    transmit_ethernet(dev, MacAddress::broadcast(), kEtherTypeIpv4, std::move(datagram));
    return;
  }
  if (e == nullptr) {
    e = create(dev, next_hop, NeighbourState::incomplete);  // always succeeds: see make_room
    e->probes = 1;
    send_request(*e, false);
    e->timer.schedule(net_.host().now() + ms(net_.sysctl().value(SysctlId::neigh_retrans_time_ms)));
  }
  switch (e->state) {
    case NeighbourState::incomplete:
      enqueue_pending(*e, std::move(datagram));
      return;
    case NeighbourState::stale:
      set_state(*e, NeighbourState::delay);
      e->timer.schedule(net_.host().now() + kDelayFirstProbe);
      [[fallthrough]];
    default:
      transmit_ethernet(dev, e->mac, kEtherTypeIpv4, std::move(datagram));
  }
}

void NeighbourTable::update(Entry& e, MacAddress mac, NeighbourState state) {
  if (e.state == NeighbourState::permanent) return;
  // __neigh_update restamps `updated` only on a real change, so repeating
  // what the entry says cannot keep it young for forced GC.
  if (state != e.state || mac != e.mac) set_state(e, state);
  e.mac = mac;
  e.probes = 0;
  auto now = net_.host().now();
  if (state == NeighbourState::reachable) e.timer.schedule(now + reachable_time());
  else e.timer.schedule(now + std::chrono::seconds(net_.sysctl().value(SysctlId::neigh_gc_stale_time)));
  flush_pending(e);
}

// __neigh_event_send: the oldest make way for the newest while the queue
// would hold more than unres_qlen packets or unres_qlen_bytes, each drop
// counted as the table's unres_discards (never the device's: it was never
// handed the frame). One the namespace's packet memory refuses is dropped
// too, and counted there as well.
void NeighbourTable::enqueue_pending(Entry& e, Packet&& p) {
  const std::size_t truesize = p.truesize();
  const auto max_bytes = static_cast<std::size_t>(net_.sysctl().value(SysctlId::neigh_unres_qlen_bytes));
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

std::optional<Packet> NeighbourTable::take_pending(Entry& e) {
  auto p = e.pending.pop();
  if (p) e.pending_bytes -= p->truesize();
  return p;
}

void NeighbourTable::flush_pending(Entry& e) {
  while (auto p = take_pending(e)) transmit_ethernet(*e.dev, e.mac, kEtherTypeIpv4, std::move(*p));
}

void NeighbourTable::on_timer(Entry& e) {
  auto now = net_.host().now();
  auto retrans = ms(net_.sysctl().value(SysctlId::neigh_retrans_time_ms));
  switch (e.state) {
    case NeighbourState::incomplete:
      if (e.probes < net_.sysctl().value(SysctlId::neigh_mcast_solicit)) {
        ++e.probes;
        send_request(e, false);
        e.timer.schedule(now + retrans);
      } else {
        fail(e);
      }
      return;
    case NeighbourState::reachable:
      set_state(e, NeighbourState::stale);
      e.timer.schedule(now + std::chrono::seconds(net_.sysctl().value(SysctlId::neigh_gc_stale_time)));
      return;
    case NeighbourState::stale:
      erase(e);  // unused for gc_stale_time
      return;
    case NeighbourState::delay:
      set_state(e, NeighbourState::probe);
      e.probes = 0;
      [[fallthrough]];
    case NeighbourState::probe:
      if (e.probes < kUnicastProbes) {
        ++e.probes;
        send_request(e, true);
        e.timer.schedule(now + retrans);
      } else {
        fail(e);
      }
      return;
    case NeighbourState::failed:
    case NeighbourState::permanent:
      return;
  }
}

void NeighbourTable::fail(Entry& e) {
  // arp_error_report: every packet that waited gets ICMP host unreachable.
  ++res_failed_;
  std::vector<Packet> waiting;
  while (auto p = take_pending(e)) waiting.push_back(std::move(*p));
  erase(e);  // e is gone from here on
  for (const Packet& p : waiting) layer_.error_report(net_, p);
}

void NeighbourTable::send_request(Entry& e, bool unicast) {
  Ipv4Address source = layer_.solicit_source(net_, *e.dev, e.address);
  send_arp(*e.dev, 1, source, MacAddress{}, e.address, unicast ? e.mac : MacAddress::broadcast());
}

void NeighbourTable::send_arp(Device& dev, std::uint16_t op, Ipv4Address sender_ip,
                              MacAddress target_mac, Ipv4Address target_ip, MacAddress dst_mac) {
  Packet msg = net_.host().packets().allocate(wire::ArpRepr::kLen);
  if (!msg) return;
  wire::ArpRepr{wire::ArpOperation{op}, dev.mac(), sender_ip, target_mac, target_ip}.emit(msg.mutable_data());
  transmit_ethernet(dev, dst_mac, kEtherTypeArp, std::move(msg));
}

void NeighbourTable::process_arp(Device& dev, Packet message) {
  auto view = wire::ArpView::checked(message.data());
  auto repr = view ? wire::ArpRepr::parse(*view) : Result<wire::ArpRepr>(view.error());
  if (!repr) {
    ++dev.mutable_stats().rx_errors;
    return;
  }
  if (dev.kind() == DeviceKind::loopback) return;
  const wire::ArpRepr& arp = *repr;
  // arp_process: never about loopback or multicast targets, never from a
  // multicast sender; nor from a broadcast one, whose NOARP entry Linux never
  // lets ARP change (output finds an entry before it checks for broadcast).
  if (arp.target_ip.is_loopback() || arp.target_ip.is_multicast() || arp.sender_ip.is_multicast() ||
      arp.sender_mac.is_multicast() || arp.sender_ip.is_broadcast() ||
      layer_.is_broadcast_on(net_, dev, arp.sender_ip)) {
    ++dev.mutable_stats().rx_dropped;
    return;
  }
  const bool request = arp.operation == wire::ArpOperation::request;
  const bool for_us = layer_.is_local(net_, arp.target_ip);
  if (arp.sender_ip.is_unspecified()) {  // an address probe (RFC 5227): answer, learn nothing
    if (request && for_us) send_arp(dev, 2, arp.target_ip, arp.sender_mac, arp.sender_ip, arp.sender_mac);
    return;
  }
  Entry* e = lookup(dev, arp.sender_ip);
  if (request && for_us) {
    // neigh_event_ns; a full table refuses the entry (table_fulls) but,
    // unlike Linux, the request is still answered.
    if (e == nullptr) e = create(dev, arp.sender_ip, NeighbourState::stale);
    if (e != nullptr) update(*e, arp.sender_mac, e->state == NeighbourState::reachable && e->mac == arp.sender_mac
                                                     ? NeighbourState::reachable
                                                     : NeighbourState::stale);
    send_arp(dev, 2, arp.target_ip, arp.sender_mac, arp.sender_ip, arp.sender_mac);
    return;
  }
  // A reply, or a request for someone else: update what we know, create nothing.
  if (e != nullptr) {
    update(*e, arp.sender_mac,
           !request && for_us ? NeighbourState::reachable : NeighbourState::stale);
  }
}

void NeighbourTable::flush_device(const Device& dev) {
  std::vector<Entry*> doomed;
  for (const auto& [k, e] : entries_) {
    if (e->dev == &dev) doomed.push_back(e.get());
  }
  for (Entry* e : doomed) erase(*e);
}

Result<void> NeighbourTable::add_permanent(Device& dev, Ipv4Address address, MacAddress mac) {
  if (mac.is_multicast() || address.is_multicast() || address.is_unspecified()) {
    return error(Errc::invalid_argument);
  }
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
  flush_pending(*e);
  return {};
}

std::vector<NeighbourInfo> NeighbourTable::list() const {
  std::vector<NeighbourInfo> out;
  for (const auto& [k, e] : entries_) out.push_back({e->address, e->dev, e->mac, e->state});
  std::sort(out.begin(), out.end(), [](const NeighbourInfo& a, const NeighbourInfo& b) {
    return a.dev->ifindex() != b.dev->ifindex() ? a.dev->ifindex() < b.dev->ifindex()
                                                : a.address < b.address;
  });
  return out;
}

}  // namespace netns::ipv4
