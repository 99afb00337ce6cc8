// ARP and the neighbour table, with Linux's NUD states:
//   incomplete --reply--> reachable --timeout--> stale --used--> delay --> probe
//   incomplete/probe --no answer after the retries--> failed (queued packets get
//   ICMP host unreachable, the entry goes); stale and unused --gc_stale_time--> gone.
#include "ipv4/neighbour.hpp"

#include <algorithm>

#include "ipv4/stack.hpp"
#include "netns/host.hpp"
#include "netns/wire/arp.hpp"
#include "netns/wire/ethernet.hpp"

namespace netns::ipv4 {

namespace {
constexpr auto kEtherTypeIpv4 = wire::EtherType::ipv4;
constexpr auto kEtherTypeArp = wire::EtherType::arp;
constexpr auto kDelayFirstProbe = std::chrono::seconds(5);  // delay_first_probe_time
constexpr int kUnicastProbes = 3;                            // ucast_solicit

std::chrono::milliseconds ms(std::int32_t v) { return std::chrono::milliseconds(v); }
}  // namespace

struct NeighbourTable::Entry {
  Entry(NeighbourTable& table, Device& d, Ipv4Address a)
      : dev(&d), address(a), timer(d.net().host(), [&table, this] { table.on_timer(*this); }) {}

  Device* dev;
  Ipv4Address address;
  MacAddress mac;
  NeighbourState state = NeighbourState::incomplete;
  BoundedQueue<Packet> pending;
  int probes = 0;
  Timer timer;
};

void transmit_ethernet(Device& dev, MacAddress dst, wire::EtherType ethertype, Packet&& payload) {
  auto header = payload.push_front(wire::EthernetRepr::kHeaderLen);
  if (header.empty()) {
    ++dev.mutable_stats().tx_dropped;
    return;
  }
  wire::EthernetRepr{dst, dev.mac(), ethertype}.emit(header);
  dev.transmit(std::move(payload));
}

NeighbourTable::NeighbourTable(Net& net, Ipv4Stack& stack) : net_(net), stack_(stack) {}
NeighbourTable::~NeighbourTable() = default;

NeighbourTable::Entry* NeighbourTable::lookup(const Device& dev, Ipv4Address address) {
  const Key k = key(dev, address);
  Memo& memo = memo_[(k * 0x9e3779b97f4a7c15u) >> 60];  // Fibonacci hashing: the top 4 bits
  if (memo.entry != nullptr && memo.key == k) return memo.entry;
  auto it = entries_.find(k);
  if (it == entries_.end()) return nullptr;
  memo = {k, it->second.get()};
  return memo.entry;
}

NeighbourTable::Entry* NeighbourTable::create(Device& dev, Ipv4Address address) {
  auto limit = static_cast<std::size_t>(net_.sysctl().value(SysctlId::neigh_gc_thresh3));
  if (entries_.size() >= limit) {
    // Forced GC as Linux's neigh_forced_gc: stale and failed entries make room.
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->second->state == NeighbourState::stale) {
        forget_memo();
        entries_.erase(it);
        break;
      }
    }
    if (entries_.size() >= limit) {  // "neighbor table overflow"
      ++table_fulls_;
      return nullptr;
    }
  }
  auto entry = std::make_unique<Entry>(*this, dev, address);
  entry->pending.set_capacity(static_cast<std::size_t>(net_.sysctl().value(SysctlId::neigh_unres_qlen)));
  Entry* raw = entry.get();
  entries_.emplace(key(dev, address), std::move(entry));
  return raw;
}

void NeighbourTable::erase(Entry& e) {
  forget_memo();
  entries_.erase(key(*e.dev, e.address));
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
  if (e == nullptr && (next_hop.is_broadcast() || stack_.is_broadcast_on(net_, dev, next_hop))) {
    transmit_ethernet(dev, MacAddress::broadcast(), kEtherTypeIpv4, std::move(datagram));
    return;
  }
  if (e == nullptr) {
    e = create(dev, next_hop);
    if (e == nullptr) return;  // counted in table_fulls, as Linux (the device never saw it)
    e->probes = 1;
    send_request(*e, false);
    e->timer.schedule(net_.host().now() + ms(net_.sysctl().value(SysctlId::neigh_retrans_time_ms)));
  }
  switch (e->state) {
    case NeighbourState::incomplete:
      // __neigh_event_send: a full queue drops its oldest for the newest,
      // counted as the table's unres_discards (never the device's: it was
      // never handed the frame).
      if (e->pending.full() && e->pending.pop()) ++unres_discards_;
      if (!e->pending.push(std::move(datagram))) ++unres_discards_;  // unres_qlen 0
      return;
    case NeighbourState::stale:
      e->state = NeighbourState::delay;
      e->timer.schedule(net_.host().now() + kDelayFirstProbe);
      [[fallthrough]];
    default:
      transmit_ethernet(dev, e->mac, kEtherTypeIpv4, std::move(datagram));
  }
}

void NeighbourTable::update(Entry& e, MacAddress mac, NeighbourState state) {
  if (e.state == NeighbourState::permanent) return;
  e.mac = mac;
  e.state = state;
  e.probes = 0;
  auto now = net_.host().now();
  if (state == NeighbourState::reachable) e.timer.schedule(now + reachable_time());
  else e.timer.schedule(now + std::chrono::seconds(net_.sysctl().value(SysctlId::neigh_gc_stale_time)));
  flush_pending(e);
}

void NeighbourTable::flush_pending(Entry& e) {
  while (auto p = e.pending.pop()) transmit_ethernet(*e.dev, e.mac, kEtherTypeIpv4, std::move(*p));
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
      e.state = NeighbourState::stale;
      e.timer.schedule(now + std::chrono::seconds(net_.sysctl().value(SysctlId::neigh_gc_stale_time)));
      return;
    case NeighbourState::stale:
      erase(e);  // unused for gc_stale_time
      return;
    case NeighbourState::delay:
      e.state = NeighbourState::probe;
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
  e.state = NeighbourState::failed;
  std::vector<Packet> waiting;
  while (auto p = e.pending.pop()) waiting.push_back(std::move(*p));
  erase(e);  // e is gone from here on
  for (Packet& p : waiting) {
    stack_.send_icmp_error(net_, p, wire::IcmpType::dest_unreachable,
                           static_cast<std::uint8_t>(wire::IcmpUnreachable::host));
  }
}

void NeighbourTable::send_request(Entry& e, bool unicast) {
  Ipv4Address source = stack_.select_source(net_, *e.dev, e.address);
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
      stack_.is_broadcast_on(net_, dev, arp.sender_ip)) {
    ++dev.mutable_stats().rx_dropped;
    return;
  }
  const bool request = arp.operation == wire::ArpOperation::request;
  const bool for_us = stack_.is_local(net_, arp.target_ip);
  if (arp.sender_ip.is_unspecified()) {  // an address probe (RFC 5227): answer, learn nothing
    if (request && for_us) send_arp(dev, 2, arp.target_ip, arp.sender_mac, arp.sender_ip, arp.sender_mac);
    return;
  }
  Entry* e = lookup(dev, arp.sender_ip);
  if (request && for_us) {
    if (e == nullptr) e = create(dev, arp.sender_ip);
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
  forget_memo();
  std::erase_if(entries_, [&](const auto& kv) { return kv.second->dev == &dev; });
}

Result<void> NeighbourTable::add_permanent(Device& dev, Ipv4Address address, MacAddress mac) {
  if (mac.is_multicast() || address.is_multicast() || address.is_unspecified()) {
    return error(Errc::invalid_argument);
  }
  Entry* e = lookup(dev, address);
  if (e == nullptr) e = create(dev, address);
  if (e == nullptr) return error(Errc::no_buffer_space);
  e->timer.cancel();
  e->mac = mac;
  e->state = NeighbourState::permanent;
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
