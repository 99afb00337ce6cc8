// netns/counters.hpp — per-namespace counters with the names `nstat` prints.
//
//   net.counters().get("UdpNoPorts");              // by name, for tests and dumps
//   net.counters().add(Counter::IpInReceives);     // by id, on the packet path
//
// The MIBs are those of /proc/net/snmp and /proc/net/netstat (Ip, Icmp, Tcp,
// Udp, IpExt, TcpExt) and /proc/net/snmp6 (Ip6, Icmp6, Udp6). A namespace
// allocates a MIB's block on its first increment, so an idle namespace pays
// a few pointers, not a kilobyte. The counters of each ICMP type (IcmpMsg,
// and snmp6's Icmp6InType/OutType lines) are kept apart, for the types seen.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

namespace netns {

// X(Mib, Field): the nstat name is Mib##Field.
#define NETNS_COUNTERS(X) \
  /* Ip */ \
  X(Ip, InReceives) \
  X(Ip, InHdrErrors) \
  X(Ip, InAddrErrors) \
  X(Ip, ForwDatagrams) \
  X(Ip, InUnknownProtos) \
  X(Ip, InDiscards) \
  X(Ip, InDelivers) \
  X(Ip, OutRequests) \
  X(Ip, OutDiscards) \
  X(Ip, OutNoRoutes) \
  X(Ip, ReasmTimeout) \
  X(Ip, ReasmReqds) \
  X(Ip, ReasmOKs) \
  X(Ip, ReasmFails) \
  X(Ip, FragOKs) \
  X(Ip, FragFails) \
  X(Ip, FragCreates) \
  X(Ip, OutTransmits) \
  /* Icmp */ \
  X(Icmp, InMsgs) \
  X(Icmp, InErrors) \
  X(Icmp, InCsumErrors) \
  X(Icmp, InDestUnreachs) \
  X(Icmp, InTimeExcds) \
  X(Icmp, InParmProbs) \
  X(Icmp, InSrcQuenchs) \
  X(Icmp, InRedirects) \
  X(Icmp, InEchos) \
  X(Icmp, InEchoReps) \
  X(Icmp, InTimestamps) \
  X(Icmp, InTimestampReps) \
  X(Icmp, InAddrMasks) \
  X(Icmp, InAddrMaskReps) \
  X(Icmp, OutMsgs) \
  X(Icmp, OutErrors) \
  X(Icmp, OutRateLimitGlobal) \
  X(Icmp, OutRateLimitHost) \
  X(Icmp, OutDestUnreachs) \
  X(Icmp, OutTimeExcds) \
  X(Icmp, OutParmProbs) \
  X(Icmp, OutSrcQuenchs) \
  X(Icmp, OutRedirects) \
  X(Icmp, OutEchos) \
  X(Icmp, OutEchoReps) \
  X(Icmp, OutTimestamps) \
  X(Icmp, OutTimestampReps) \
  X(Icmp, OutAddrMasks) \
  X(Icmp, OutAddrMaskReps) \
  /* Tcp */ \
  X(Tcp, ActiveOpens) \
  X(Tcp, PassiveOpens) \
  X(Tcp, AttemptFails) \
  X(Tcp, EstabResets) \
  X(Tcp, CurrEstab) \
  X(Tcp, InSegs) \
  X(Tcp, OutSegs) \
  X(Tcp, RetransSegs) \
  X(Tcp, InErrs) \
  X(Tcp, OutRsts) \
  X(Tcp, InCsumErrors) \
  /* Udp */ \
  X(Udp, InDatagrams) \
  X(Udp, NoPorts) \
  X(Udp, InErrors) \
  X(Udp, OutDatagrams) \
  X(Udp, RcvbufErrors) \
  X(Udp, SndbufErrors) \
  X(Udp, InCsumErrors) \
  X(Udp, IgnoredMulti) \
  X(Udp, MemErrors) \
  /* IpExt */ \
  X(IpExt, InNoRoutes) \
  X(IpExt, InTruncatedPkts) \
  X(IpExt, InMcastPkts) \
  X(IpExt, OutMcastPkts) \
  X(IpExt, InBcastPkts) \
  X(IpExt, OutBcastPkts) \
  X(IpExt, InOctets) \
  X(IpExt, OutOctets) \
  X(IpExt, InMcastOctets) \
  X(IpExt, OutMcastOctets) \
  X(IpExt, InBcastOctets) \
  X(IpExt, OutBcastOctets) \
  X(IpExt, InCsumErrors) \
  X(IpExt, InNoECTPkts) \
  X(IpExt, InECT1Pkts) \
  X(IpExt, InECT0Pkts) \
  X(IpExt, InCEPkts) \
  X(IpExt, ReasmOverlaps) \
  X(IpExt, PacketMemDrops)  /* netns: dropped at net.core.packet_mem_max */ \
  /* TcpExt */ \
  X(TcpExt, SyncookiesSent) \
  X(TcpExt, SyncookiesRecv) \
  X(TcpExt, SyncookiesFailed) \
  X(TcpExt, EmbryonicRsts) \
  X(TcpExt, PruneCalled) \
  X(TcpExt, RcvPruned) \
  X(TcpExt, OfoPruned) \
  X(TcpExt, OutOfWindowIcmps) \
  X(TcpExt, LockDroppedIcmps) \
  X(TcpExt, ArpFilter) \
  X(TcpExt, TW) \
  X(TcpExt, TWRecycled) \
  X(TcpExt, TWKilled) \
  X(TcpExt, PAWSActive) \
  X(TcpExt, PAWSEstab) \
  X(TcpExt, DelayedACKs) \
  X(TcpExt, DelayedACKLocked) \
  X(TcpExt, DelayedACKLost) \
  X(TcpExt, ListenOverflows) \
  X(TcpExt, ListenDrops) \
  X(TcpExt, TCPHPHits) \
  X(TcpExt, TCPPureAcks) \
  X(TcpExt, TCPHPAcks) \
  X(TcpExt, TCPRenoRecovery) \
  X(TcpExt, TCPSackRecovery) \
  X(TcpExt, TCPSACKReneging) \
  X(TcpExt, TCPSACKReorder) \
  X(TcpExt, TCPRenoReorder) \
  X(TcpExt, TCPTSReorder) \
  X(TcpExt, TCPFullUndo) \
  X(TcpExt, TCPPartialUndo) \
  X(TcpExt, TCPDSACKUndo) \
  X(TcpExt, TCPLossUndo) \
  X(TcpExt, TCPLostRetransmit) \
  X(TcpExt, TCPRenoFailures) \
  X(TcpExt, TCPSackFailures) \
  X(TcpExt, TCPLossFailures) \
  X(TcpExt, TCPFastRetrans) \
  X(TcpExt, TCPSlowStartRetrans) \
  X(TcpExt, TCPTimeouts) \
  X(TcpExt, TCPLossProbes) \
  X(TcpExt, TCPLossProbeRecovery) \
  X(TcpExt, TCPRenoRecoveryFail) \
  X(TcpExt, TCPSackRecoveryFail) \
  X(TcpExt, TCPRcvCollapsed) \
  X(TcpExt, TCPDSACKOldSent) \
  X(TcpExt, TCPDSACKOfoSent) \
  X(TcpExt, TCPDSACKRecv) \
  X(TcpExt, TCPDSACKOfoRecv) \
  X(TcpExt, TCPAbortOnData) \
  X(TcpExt, TCPAbortOnClose) \
  X(TcpExt, TCPAbortOnMemory) \
  X(TcpExt, TCPAbortOnTimeout) \
  X(TcpExt, TCPAbortOnLinger) \
  X(TcpExt, TCPAbortFailed) \
  X(TcpExt, TCPMemoryPressures) \
  X(TcpExt, TCPSACKDiscard) \
  X(TcpExt, TCPDSACKIgnoredOld) \
  X(TcpExt, TCPDSACKIgnoredNoUndo) \
  X(TcpExt, TCPSpuriousRTOs) \
  X(TcpExt, TCPSackShifted) \
  X(TcpExt, TCPSackMerged) \
  X(TcpExt, TCPSackShiftFallback) \
  X(TcpExt, TCPBacklogDrop) \
  X(TcpExt, TCPMinTTLDrop) \
  X(TcpExt, TCPDeferAcceptDrop) \
  X(TcpExt, IPReversePathFilter) \
  X(TcpExt, TCPTimeWaitOverflow) \
  X(TcpExt, TCPReqQFullDoCookies) \
  X(TcpExt, TCPReqQFullDrop) \
  X(TcpExt, TCPRetransFail) \
  X(TcpExt, TCPRcvCoalesce) \
  X(TcpExt, TCPOFOQueue) \
  X(TcpExt, TCPOFODrop) \
  X(TcpExt, TCPOFOMerge) \
  X(TcpExt, TCPChallengeACK) \
  X(TcpExt, TCPSYNChallenge) \
  X(TcpExt, TCPAutoCorking) \
  X(TcpExt, TCPFromZeroWindowAdv) \
  X(TcpExt, TCPToZeroWindowAdv) \
  X(TcpExt, TCPWantZeroWindowAdv) \
  X(TcpExt, TCPSynRetrans) \
  X(TcpExt, TCPOrigDataSent) \
  X(TcpExt, TCPHystartTrainDetect) \
  X(TcpExt, TCPHystartTrainCwnd) \
  X(TcpExt, TCPHystartDelayDetect) \
  X(TcpExt, TCPHystartDelayCwnd) \
  X(TcpExt, TCPACKSkippedSynRecv) \
  X(TcpExt, TCPACKSkippedPAWS) \
  X(TcpExt, TCPACKSkippedSeq) \
  X(TcpExt, TCPACKSkippedFinWait2) \
  X(TcpExt, TCPACKSkippedTimeWait) \
  X(TcpExt, TCPACKSkippedChallenge) \
  X(TcpExt, TCPWinProbe) \
  X(TcpExt, TCPKeepAlive) \
  X(TcpExt, TCPDelivered) \
  X(TcpExt, TCPAckCompressed) \
  X(TcpExt, TCPZeroWindowDrop) \
  X(TcpExt, TCPRcvQDrop) \
  X(TcpExt, TCPWqueueTooBig) \
  X(TcpExt, TCPDSACKRecvSegs) \
  X(TcpExt, TCPDSACKIgnoredDubious) \
  X(TcpExt, TCPMemoryPressuresChrono) \
  /* /proc/net/snmp6: Ip6, Icmp6, Udp6 (TCP over IPv6 counts in Tcp, as Linux) */ \
  X(Ip6, InReceives) \
  X(Ip6, InHdrErrors) \
  X(Ip6, InTooBigErrors) \
  X(Ip6, InNoRoutes) \
  X(Ip6, InAddrErrors) \
  X(Ip6, InUnknownProtos) \
  X(Ip6, InTruncatedPkts) \
  X(Ip6, InDiscards) \
  X(Ip6, InDelivers) \
  X(Ip6, OutForwDatagrams) \
  X(Ip6, OutRequests) \
  X(Ip6, OutDiscards) \
  X(Ip6, OutNoRoutes) \
  X(Ip6, ReasmTimeout) \
  X(Ip6, ReasmReqds) \
  X(Ip6, ReasmOKs) \
  X(Ip6, ReasmFails) \
  X(Ip6, FragOKs) \
  X(Ip6, FragFails) \
  X(Ip6, FragCreates) \
  X(Ip6, InMcastPkts) \
  X(Ip6, OutMcastPkts) \
  X(Ip6, InOctets) \
  X(Ip6, OutOctets) \
  X(Ip6, InMcastOctets) \
  X(Ip6, OutMcastOctets) \
  X(Ip6, InNoECTPkts) \
  X(Ip6, InECT1Pkts) \
  X(Ip6, InECT0Pkts) \
  X(Ip6, InCEPkts) \
  X(Ip6, OutTransmits) \
  X(Icmp6, InMsgs) \
  X(Icmp6, InErrors) \
  X(Icmp6, OutMsgs) \
  X(Icmp6, OutErrors) \
  X(Icmp6, InCsumErrors) \
  X(Icmp6, OutRateLimitHost) \
  X(Icmp6, InDestUnreachs) \
  X(Icmp6, InPktTooBigs) \
  X(Icmp6, InTimeExcds) \
  X(Icmp6, InParmProblems) \
  X(Icmp6, InEchos) \
  X(Icmp6, InEchoReplies) \
  X(Icmp6, InGroupMembQueries) \
  X(Icmp6, InGroupMembResponses) \
  X(Icmp6, InGroupMembReductions) \
  X(Icmp6, InRouterSolicits) \
  X(Icmp6, InRouterAdvertisements) \
  X(Icmp6, InNeighborSolicits) \
  X(Icmp6, InNeighborAdvertisements) \
  X(Icmp6, InRedirects) \
  X(Icmp6, InMLDv2Reports) \
  X(Icmp6, OutDestUnreachs) \
  X(Icmp6, OutPktTooBigs) \
  X(Icmp6, OutTimeExcds) \
  X(Icmp6, OutParmProblems) \
  X(Icmp6, OutEchos) \
  X(Icmp6, OutEchoReplies) \
  X(Icmp6, OutGroupMembQueries) \
  X(Icmp6, OutGroupMembResponses) \
  X(Icmp6, OutGroupMembReductions) \
  X(Icmp6, OutRouterSolicits) \
  X(Icmp6, OutRouterAdvertisements) \
  X(Icmp6, OutNeighborSolicits) \
  X(Icmp6, OutNeighborAdvertisements) \
  X(Icmp6, OutRedirects) \
  X(Icmp6, OutMLDv2Reports) \
  X(Udp6, InDatagrams) \
  X(Udp6, NoPorts) \
  X(Udp6, InErrors) \
  X(Udp6, OutDatagrams) \
  X(Udp6, RcvbufErrors) \
  X(Udp6, SndbufErrors) \
  X(Udp6, InCsumErrors) \
  X(Udp6, IgnoredMulti) \
  X(Udp6, MemErrors) \

enum class Mib : std::uint8_t { Ip, Icmp, Tcp, Udp, IpExt, TcpExt, Ip6, Icmp6, Udp6, count_ };

enum class Counter : std::uint16_t {
#define NETNS_COUNTER_ENUM(mib, field) mib##field,
  NETNS_COUNTERS(NETNS_COUNTER_ENUM)
#undef NETNS_COUNTER_ENUM
  count_
};

struct CounterInfo {
  std::string_view name;  // "IpInReceives"
  Mib mib;
};

inline constexpr std::array<CounterInfo, static_cast<std::size_t>(Counter::count_)> kCounterTable{{
#define NETNS_COUNTER_INFO(mib, field) {#mib #field, Mib::mib},
    NETNS_COUNTERS(NETNS_COUNTER_INFO)
#undef NETNS_COUNTER_INFO
}};

// Each MIB's counters stay together, in Mib's order, as nstat lists them.
inline constexpr bool kMibsContiguous = [] {
  for (std::size_t i = 1; i < kCounterTable.size(); ++i) {
    if (kCounterTable[i].mib < kCounterTable[i - 1].mib) return false;
  }
  return true;
}();
static_assert(kMibsContiguous, "NETNS_COUNTERS: add a counter beside the others of its MIB");

// The counters every IP datagram adds to, forwarded, delivered or sent, at
// the front of their blocks in this order (see CounterLayout): a frame
// writes one line of counters, not one per MIB and offset. Linux's
// ipstats_mib keeps Ip's and IpExt's counters together, InPkts and
// InOctets first, for the same reason.
inline constexpr std::array kHotCounters{
    Counter::IpInReceives,  Counter::IpExtInOctets,       Counter::IpExtInNoECTPkts, Counter::IpForwDatagrams,
    Counter::IpInDelivers,  Counter::IpOutRequests,       Counter::IpExtOutOctets,   Counter::IpOutTransmits,
    Counter::Ip6InReceives, Counter::Ip6InOctets,         Counter::Ip6InNoECTPkts,   Counter::Ip6OutForwDatagrams,
    Counter::Ip6InDelivers, Counter::Ip6OutRequests,      Counter::Ip6OutOctets,     Counter::Ip6OutTransmits,
};

// Where each counter is kept. A namespace allocates a block on the first
// increment of one of its counters, in whole cache lines. Each MIB is a
// block, except that IpExt's counters are in Ip's. A block starts with its
// hot counters (kHotCounters' order); the rest follow in table order.
struct CounterLayout {
  struct Slot {
    std::uint8_t block;  // a Mib's number
    std::uint16_t index;
  };
  std::array<Slot, static_cast<std::size_t>(Counter::count_)> slot{};
  std::array<std::uint16_t, static_cast<std::size_t>(Mib::count_)> size{};  // counters per block

  static constexpr std::size_t block_of(Mib mib) {
    return static_cast<std::size_t>(mib == Mib::IpExt ? Mib::Ip : mib);
  }
  static constexpr bool hot(std::size_t counter) {
    for (Counter c : kHotCounters) {
      if (static_cast<std::size_t>(c) == counter) return true;
    }
    return false;
  }
};
inline constexpr CounterLayout kCounterLayout = [] {
  CounterLayout out{};
  auto place = [&](std::size_t counter) {
    const std::size_t block = CounterLayout::block_of(kCounterTable[counter].mib);
    out.slot[counter] = {static_cast<std::uint8_t>(block), out.size[block]++};
  };
  for (Counter c : kHotCounters) place(static_cast<std::size_t>(c));
  for (std::size_t i = 0; i < kCounterTable.size(); ++i) {
    if (!CounterLayout::hot(i)) place(i);
  }
  return out;
}();
static_assert([] {
  for (Counter c : kHotCounters) {
    if (kCounterLayout.slot[static_cast<std::size_t>(c)].index >= 8) return false;
  }
  return true;
}(), "kHotCounters: at most 8 a block, one cache line");

// Linux's per-type ICMP counters (ICMPMSGIN/OUT_INC_STATS and their ICMPv6
// twins): /proc/net/snmp's IcmpMsg line, which nstat names
// "IcmpMsgInType8", and /proc/net/snmp6's "Icmp6OutType129". Listed, as
// Linux prints them, only when not zero.
enum class IcmpFamily : std::uint8_t { v4, v6 };
enum class IcmpDirection : std::uint8_t { in, out };

class Counters {
 public:
  void add(Counter c, std::uint64_t n = 1) {
    const CounterLayout::Slot s = kCounterLayout.slot[static_cast<std::size_t>(c)];
    if (!blocks_[s.block]) [[unlikely]] allocate(s.block);
    blocks_[s.block][s.index] += n;
  }
  // For the one gauge among them (TcpCurrEstab, connections now in
  // ESTABLISHED or CLOSE_WAIT), which goes down as well as up.
  void sub(Counter c, std::uint64_t n = 1) {
    const CounterLayout::Slot s = kCounterLayout.slot[static_cast<std::size_t>(c)];
    if (blocks_[s.block]) blocks_[s.block][s.index] -= n;
  }
  std::uint64_t value(Counter c) const {
    const CounterLayout::Slot s = kCounterLayout.slot[static_cast<std::size_t>(c)];
    return blocks_[s.block] ? blocks_[s.block][s.index] : 0;
  }
  // One ICMP message of `type` received (past its checksum) or sent.
  void add_icmp_type(IcmpFamily family, IcmpDirection dir, std::uint8_t type);
  std::uint64_t icmp_type(IcmpFamily family, IcmpDirection dir, std::uint8_t type) const;
  // By nstat name ("UdpNoPorts", "IcmpMsgInType8"); 0 for a name netns does not count.
  std::uint64_t get(std::string_view name) const;
  static bool known(std::string_view name);
  // Every non-zero counter, in table order, as nstat lists them; a
  // family's per-type counters follow its Icmp or Icmp6 block, in types
  // then out types.
  std::vector<std::pair<std::string_view, std::uint64_t>> nonzero() const;

 private:
  // The (family, direction, type) keys seen, in key order, each with its
  // count: most namespaces see a few of the 1,024.
  using IcmpTypes = std::vector<std::pair<std::uint16_t, std::uint64_t>>;
  std::uint64_t icmp_count(std::uint16_t key) const;

  struct FreeLines {
    void operator()(std::uint64_t* block) const;
  };
  void allocate(std::size_t block);
  // By block (a Mib's number; IpExt's stays null: its counters are in Ip's).
  // Ip's comes first: Net keeps it in its first line.
  std::array<std::unique_ptr<std::uint64_t[], FreeLines>, static_cast<std::size_t>(Mib::count_)> blocks_;
  std::unique_ptr<IcmpTypes> icmp_types_;  // made by the first ICMP message
};

}  // namespace netns
