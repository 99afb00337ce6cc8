// conntrack/proto.hpp — the per-protocol trackers (Linux's
// nf_conntrack_proto_{tcp,udp,icmp,icmpv6,generic}.c): each judges a
// datagram against its entry, moves the protocol state and sets the
// entry's expiry from the namespace's net.netfilter timeouts.
#pragma once

#include <cstddef>
#include <span>

#include "conntrack/conntrack.hpp"
#include "conntrack/entry.hpp"
#include "netns/sysctl.hpp"

namespace netns::conntrack {

class Table;

// One datagram as the trackers see it: from its IP header to its end as the
// header says (padding cut), the transport header at `l4.offset`.
struct Datagram {
  Family family = Family::ipv4;
  std::span<const std::byte> bytes;
  L4Position l4;
  TrackParams params;

  std::span<const std::byte> l4_bytes() const { return bytes.subspan(l4.offset); }
  // Whether the transport checksum is to be judged (Linux: at prerouting, nf_conntrack_checksum).
  bool verify_checksum() const { return params.hook == Hook::prerouting && !params.checksum_verified; }
};

// What a tracker says of a datagram (Linux's NF_ACCEPT, -NF_ACCEPT, -NF_REPEAT).
enum class L4Verdict : std::uint8_t {
  accept,   // tracked: the entry moved
  invalid,  // not part of the connection: the datagram goes on untracked
  repeat,   // the entry was killed (a TCP connection reopened): look up again
};

struct TrackContext {
  const Sysctl& sysctl;
  Clock::time_point now;
  Table& table;
};

// The seconds of a net.netfilter timeout knob, as a duration.
inline Clock::duration timeout(const Sysctl& sysctl, SysctlId id) { return std::chrono::seconds(sysctl.value(id)); }

L4Verdict tcp_packet(Entry& ct, const Datagram& d, CtInfo info, TrackContext& ctx);
L4Verdict udp_packet(Entry& ct, const Datagram& d, CtInfo info, TrackContext& ctx);
L4Verdict icmp_packet(Entry& ct, const Datagram& d, CtInfo info, TrackContext& ctx);
L4Verdict generic_packet(Entry& ct, const Datagram& d, CtInfo info, TrackContext& ctx);

}  // namespace netns::conntrack
