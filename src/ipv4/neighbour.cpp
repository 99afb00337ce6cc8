// ARP on the shared neighbour machinery (neigh/table_impl.hpp).
#include "ipv4/neighbour.hpp"

#include "neigh/table_impl.hpp"
#include "netns/host.hpp"
#include "netns/wire/arp.hpp"
#include "netns/wire/ethernet.hpp"

namespace netns::neigh {
template class Table<ipv4::NeighbourTable, ipv4::ArpFamily>;
}

namespace netns::ipv4 {

NeighbourTable::NeighbourTable(Net& net, NeighbourLayer& layer) : Table(net), layer_(layer) {}

bool NeighbourTable::resolve_unlisted(Device& dev, Ipv4Address address, MacAddress& mac) {
  if (!address.is_broadcast() && !layer_.is_broadcast_on(net_, dev, address)) return false;
  mac = MacAddress::broadcast();
  return true;
}

void NeighbourTable::solicit(Entry& e, bool unicast) {
  Ipv4Address source = layer_.solicit_source(net_, *e.dev, e.address);
  send_arp(*e.dev, 1, source, MacAddress{}, e.address, unicast ? e.mac : MacAddress::broadcast());
}

void NeighbourTable::send_arp(Device& dev, std::uint16_t op, Ipv4Address sender_ip,
                              MacAddress target_mac, Ipv4Address target_ip, MacAddress dst_mac) {
  Packet msg = net_.host().packets().allocate(wire::ArpRepr::kLen);
  if (!msg) return;
  wire::ArpRepr{wire::ArpOperation{op}, dev.mac(), sender_ip, target_mac, target_ip}.emit(msg.mutable_data());
  transmit_ethernet(dev, dst_mac, wire::EtherType::arp, std::move(msg));
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

}  // namespace netns::ipv4
