// netns/counters.hpp — per-namespace counters with the names `nstat` prints.
//
//   net.counters().get("UdpNoPorts");              // by name, for tests and dumps
//   net.counters().add(Counter::IpInReceives);     // by id, on the packet path
//
// The MIBs are those of /proc/net/snmp and /proc/net/netstat (Ip, Icmp, Tcp,
// Udp, IpExt, TcpExt). A namespace allocates a MIB's block on its first
// increment, so an idle namespace pays a few pointers, not a kilobyte.
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
  /* Icmp6 (/proc/net/snmp6) */ \
  X(Icmp6, InMsgs) \
  X(Icmp6, InErrors) \
  X(Icmp6, InCsumErrors) \
  X(Icmp6, InNeighborSolicits) \
  X(Icmp6, InNeighborAdvertisements) \
  X(Icmp6, OutMsgs) \
  X(Icmp6, OutNeighborSolicits) \
  X(Icmp6, OutNeighborAdvertisements) \

enum class Mib : std::uint8_t { Ip, Icmp, Tcp, Udp, IpExt, TcpExt, Icmp6, count_ };

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

// Each MIB's counters must stay together, in Mib's order: a MIB is one
// block indexed from its first counter, so a counter added at the end of
// the list under another MIB would write past that MIB's block.
inline constexpr bool kMibsContiguous = [] {
  for (std::size_t i = 1; i < kCounterTable.size(); ++i) {
    if (kCounterTable[i].mib < kCounterTable[i - 1].mib) return false;
  }
  return true;
}();
static_assert(kMibsContiguous, "NETNS_COUNTERS: add a counter beside the others of its MIB");

// Each MIB's first counter and size, derived from the table above.
struct MibLayout {
  std::array<std::uint16_t, static_cast<std::size_t>(Mib::count_)> first{};
  std::array<std::uint16_t, static_cast<std::size_t>(Mib::count_)> size{};
};
inline constexpr MibLayout kMibLayout = [] {
  MibLayout out{};
  for (std::size_t i = kCounterTable.size(); i-- > 0;) {
    auto m = static_cast<std::size_t>(kCounterTable[i].mib);
    out.first[m] = static_cast<std::uint16_t>(i);
    ++out.size[m];
  }
  return out;
}();

class Counters {
 public:
  void add(Counter c, std::uint64_t n = 1) {
    auto i = static_cast<std::size_t>(c);
    auto m = static_cast<std::size_t>(kCounterTable[i].mib);
    if (!blocks_[m]) [[unlikely]] allocate(m);
    blocks_[m][i - kMibLayout.first[m]] += n;
  }
  // For the one gauge among them (TcpCurrEstab, connections now in
  // ESTABLISHED or CLOSE_WAIT), which goes down as well as up.
  void sub(Counter c, std::uint64_t n = 1) {
    auto i = static_cast<std::size_t>(c);
    auto m = static_cast<std::size_t>(kCounterTable[i].mib);
    if (blocks_[m]) blocks_[m][i - kMibLayout.first[m]] -= n;
  }
  std::uint64_t value(Counter c) const {
    auto i = static_cast<std::size_t>(c);
    auto m = static_cast<std::size_t>(kCounterTable[i].mib);
    return blocks_[m] ? blocks_[m][i - kMibLayout.first[m]] : 0;
  }
  // By nstat name ("UdpNoPorts"); 0 for a name netns does not count.
  std::uint64_t get(std::string_view name) const;
  static bool known(std::string_view name);
  // Every non-zero counter, in table order, as nstat lists them.
  std::vector<std::pair<std::string_view, std::uint64_t>> nonzero() const;

 private:
  void allocate(std::size_t mib);
  std::array<std::unique_ptr<std::uint64_t[]>, static_cast<std::size_t>(Mib::count_)> blocks_;
};

}  // namespace netns
