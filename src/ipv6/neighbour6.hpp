// The IPv6 neighbour table of one namespace: NDP (RFC 4861 7, Linux's
// ndisc.c) on the neighbour machinery both families share
// (src/neigh/table.hpp: NUD states, bounded queues, timers, the bounds and
// reclaim policy under a flood, statistics), reading net.ipv6.neigh.default.*.
//
//   ipv6::NeighbourTable table(net, layer);                 // one per namespace
//   table.output(dev, next_hop, std::move(datagram));      // data() at the IPv6 header
//   table.process_ndp(dev, ip, std::move(message));         // ICMPv6 135/136, data() at its header
//   table.send_dad_probe(dev, tentative);                   // the layer's DAD timer
//
// What is IPv6's here: the key (ifindex and the 128-bit address, scope ids
// ignored), multicast next hops mapped to 33:33:xx:xx:xx:xx without an entry
// (RFC 2464 7), the router flag of each entry, and NDP's messages:
//   - resolution by a multicast NS to the target's solicited-node group with
//     the source link-layer option (none when the layer has no source yet:
//     the NS then comes from ::), NUD probes as unicast NS to the cached MAC;
//   - an NS for an address of ours is answered with a solicited NA (R when
//     forwarding on dev; O and the target link-layer option only for a
//     multicast NS, as ndisc_recv_ns); its source link-layer option is
//     learned (STALE); an NS from :: (DAD) for an address of ours is answered
//     to ff02::1, and for one of our tentative addresses reported as a
//     conflict;
//   - an NA updates only an existing entry, as RFC 4861 7.2.5 and
//     neigh_update: INCOMPLETE needs the target link-layer option; a
//     different address without O only turns REACHABLE into STALE; S makes
//     the entry REACHABLE; R is kept, and a router that becomes a host is
//     reported (router_lost). An NA for a tentative address of ours is a
//     DAD conflict; one for a confirmed address of ours is ignored.
// Counters: Icmp6InNeighborSolicits/Advertisements for every message whose
// checksum is right, Icmp6InCsumErrors and Icmp6InErrors for a wrong one,
// Icmp6InErrors for a malformed message (dropped, nothing learned);
// Icmp6OutMsgs, Icmp6OutNeighborSolicits/Advertisements and the type's
// Icmp6OutType for what the table sends (count_icmp6_out). Icmp6InMsgs and
// Icmp6InType are the ICMPv6 dispatcher's, not counted here.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "ipv6/neighbour_layer6.hpp"
#include "neigh/table.hpp"
#include "netns/wire/ipv6.hpp"
#include "netns/wire/ndp.hpp"

namespace netns::ipv6 {

class NeighbourTable;

// IPv6 as the neighbour machinery sees it.
struct NdpFamily {
  using Address = Ipv6Address;
  struct Key {
    std::uint64_t high = 0, low = 0;
    std::uint32_t ifindex = 0;
    friend bool operator==(const Key&, const Key&) = default;
  };
  using Info = NeighbourInfo;
  static constexpr Key kNoKey{~std::uint64_t{0}, ~std::uint64_t{0}, 0};
  static constexpr wire::EtherType kEtherType = wire::EtherType::ipv6;
  static constexpr neigh::Knobs kKnobs{
      SysctlId::ipv6_neigh_base_reachable_time_ms, SysctlId::ipv6_neigh_gc_stale_time,
      SysctlId::ipv6_neigh_retrans_time_ms,        SysctlId::ipv6_neigh_mcast_solicit,
      SysctlId::ipv6_neigh_unres_qlen,             SysctlId::ipv6_neigh_gc_thresh3,
      SysctlId::ipv6_neigh_gc_thresh2,             SysctlId::ipv6_neigh_unres_qlen_bytes,
      SysctlId::ipv6_neigh_ucast_solicit};

  static Key key(const Device& dev, const Ipv6Address& a) {
    return {a.high(), a.low(), static_cast<std::uint32_t>(dev.ifindex())};
  }
  struct KeyHash {
    using is_avalanching = void;
    SipKey sip;
    std::size_t operator()(const Key& k) const;
  };
  static std::uint64_t memo_hash(const Key& k) { return (k.low ^ k.ifindex) * 0x9e3779b97f4a7c15u; }
  static Ipv6Address canonical(const Ipv6Address& a) { return a.with_scope(0); }
  static bool valid_neighbour(const Ipv6Address& a) { return !a.is_multicast() && !a.is_unspecified(); }
  template <class Entry>
  static Info info(const Entry& e) {
    return {e.address, e.dev, e.mac, e.state, e.router};
  }
};

class NeighbourTable : public neigh::Table<NeighbourTable, NdpFamily> {
 public:
  // `layer` (one per Host, not per namespace) must outlive the table.
  NeighbourTable(Net& net, Ipv6NeighbourLayer& layer);

  // An NS or NA (ICMPv6 type 135 or 136; message.data() at the ICMPv6
  // header) that reached dev in `ip`, whose IPv6 header the layer checked.
  // Everything else (checksum, hop limit, RFC 4861 7.1) is checked here;
  // another type is ignored.
  void process_ndp(Device& dev, const wire::Ipv6View& ip, Packet message);
  // The sender of a router solicitation or advertisement, with its source
  // link-layer option (RFC 4861 6.2.6, 6.3.4): STALE unless it says what the
  // entry knows; `router` sets the IsRouter flag (an RS clears it).
  void learn_sender(Device& dev, const Ipv6Address& address, MacAddress mac, bool router);
  // DAD (RFC 4862 5.4.2): an NS from :: for `tentative` to its
  // solicited-node group, without options.
  void send_dad_probe(Device& dev, const Ipv6Address& tentative);
  // An unsolicited NA for `address` to ff02::1 (RFC 4861 7.2.6): O set
  // unless anycast, R when forwarding on dev, the target link-layer option.
  void send_unsolicited_na(Device& dev, const Ipv6Address& address);
  // ndisc_send_redirect's message, from `own` (our link-local address on
  // dev) to `to`: `target` is the better first hop for `destination`. It
  // carries the target's link-layer address when the table holds a valid
  // one, and as much of `datagram` as keeps the message within 1,280 bytes,
  // in whole 8-byte units.
  void send_redirect(Device& dev, const Ipv6Address& own, const Ipv6Address& to, const Ipv6Address& target,
                     const Ipv6Address& destination, std::span<const std::byte> datagram);
  // `ip -6 neigh`: "fe80::1 dev veth0 lladdr 02:00:00:00:00:01 router REACHABLE".
  std::string dump() const;

 private:
  friend neigh::Table<NeighbourTable, NdpFamily>;
  // The machinery's hooks (neigh/table.hpp).
  bool resolve_unlisted(Device& dev, const Ipv6Address& address, MacAddress& mac);
  void solicit(Entry& e, bool unicast);
  void report_unreachable(const Packet& datagram) { layer_.error_report(net_, datagram); }
  // The device's times as its router advertised them, else the sysctls.
  std::int32_t base_reachable_time_ms(const Device& dev) const;
  std::int32_t retrans_time_ms(const Device& dev) const;

  void process_solicit(Device& dev, const wire::Ipv6View& ip, const wire::NeighbourSolicitRepr& ns);
  void process_advert(Device& dev, const wire::NeighbourAdvertRepr& na);
  void learn(Device& dev, const Ipv6Address& address, MacAddress mac);
  void set_router(Entry& e, bool router);
  void send_advert(Device& dev, const Ipv6Address& dst, const wire::NeighbourAdvertRepr& na);
  // An IPv6 datagram from src to dst carrying `repr`, hop limit 255; empty
  // when packet memory is short.
  template <class Repr>
  Packet build(const Ipv6Address& src, const Ipv6Address& dst, const Repr& repr);

  Ipv6NeighbourLayer& layer_;
};

}  // namespace netns::ipv6
