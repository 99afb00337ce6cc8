// The IPv4 neighbour table of one namespace: ARP (RFC 826) on the neighbour
// machinery both families share (src/neigh/table.hpp: NUD states, bounded
// queues, timers, the bounds and reclaim policy under a flood, statistics).
// What is IPv4's here: the key (ifindex and address in one word), broadcasts
// that are never resolved, and ARP's messages.
#pragma once

#include <cstdint>

#include "ipv4/neighbour_layer.hpp"
#include "neigh/table.hpp"
#include "netns/ipv4.hpp"

namespace netns::ipv4 {

class NeighbourTable;

// IPv4 as the neighbour machinery sees it: net.ipv4.neigh.default.*.
struct ArpFamily {
  using Address = Ipv4Address;
  using Key = std::uint64_t;  // ifindex << 32 | address
  using Info = NeighbourInfo;
  static constexpr Key kNoKey = ~Key{0};
  static constexpr wire::EtherType kEtherType = wire::EtherType::ipv4;
  static constexpr neigh::Knobs kKnobs{SysctlId::neigh_base_reachable_time_ms, SysctlId::neigh_gc_stale_time,
                                       SysctlId::neigh_retrans_time_ms,        SysctlId::neigh_mcast_solicit,
                                       SysctlId::neigh_unres_qlen,             SysctlId::neigh_gc_thresh3,
                                       SysctlId::neigh_gc_thresh2,             SysctlId::neigh_unres_qlen_bytes,
                                       std::nullopt};

  static Key key(const Device& dev, Ipv4Address a) {
    return std::uint64_t(static_cast<std::uint32_t>(dev.ifindex())) << 32 | a.value;
  }
  // The key is one word: SipHash's output is already uniform, so the map
  // need not mix it again.
  struct KeyHash {
    using is_avalanching = void;
    SipKey sip;
    std::size_t operator()(Key k) const { return siphash13_word(sip, k); }
  };
  static std::uint64_t memo_hash(Key k) { return k * 0x9e3779b97f4a7c15u; }  // Fibonacci: the top bits
  static Ipv4Address canonical(Ipv4Address a) { return a; }
  static bool valid_neighbour(Ipv4Address a) { return !a.is_multicast() && !a.is_unspecified(); }
  template <class Entry>
  static Info info(const Entry& e) {
    return {e.address, e.dev, e.mac, e.state};
  }
};

class NeighbourTable : public neigh::Table<NeighbourTable, ArpFamily> {
 public:
  // `layer` (one per Host, not per namespace) must outlive the table.
  NeighbourTable(Net& net, NeighbourLayer& layer);

  // An ARP message (data() at the ARP header) received on dev.
  void process_arp(Device& dev, Packet message);

 private:
  friend neigh::Table<NeighbourTable, ArpFamily>;
  // The machinery's hooks (neigh/table.hpp).
  bool resolve_unlisted(Device& dev, Ipv4Address address, MacAddress& mac);
  void solicit(Entry& e, bool unicast);
  void report_unreachable(const Packet& datagram) { layer_.error_report(net_, datagram); }

  void send_arp(Device& dev, std::uint16_t op, Ipv4Address sender_ip, MacAddress target_mac,
                Ipv4Address target_ip, MacAddress dst_mac);

  NeighbourLayer& layer_;
};

using neigh::transmit_ethernet;

}  // namespace netns::ipv4
