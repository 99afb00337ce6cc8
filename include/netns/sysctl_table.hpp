// netns/sysctl_table.hpp — the constant table of every knob netns knows.
//
// Names and defaults are Linux's (Documentation/networking/ip-sysctl.rst);
// where netns needs a finite bound that Linux no longer has, the note says so.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <span>
#include <string_view>

namespace netns {

enum class SysctlId : std::uint16_t {
  core_netdev_max_backlog,
  core_somaxconn,
  core_rmem_default,
  ip_forward,
  ip_default_ttl,
  ip_local_port_range,
  ip_no_pmtu_disc,
  ip_nonlocal_bind,
  icmp_echo_ignore_all,
  icmp_echo_ignore_broadcasts,
  icmp_ratelimit,
  icmp_ratemask,
  icmp_msgs_per_sec,
  icmp_msgs_burst,
  route_max_size,
  ipfrag_high_thresh,
  ipfrag_low_thresh,
  ipfrag_time,
  neigh_base_reachable_time_ms,
  neigh_gc_stale_time,
  neigh_retrans_time_ms,
  neigh_mcast_solicit,
  neigh_unres_qlen,
  neigh_gc_thresh3,
  tcp_rmem,
  tcp_wmem,
  tcp_mem,
  tcp_syn_retries,
  tcp_synack_retries,
  tcp_max_syn_backlog,
  tcp_syncookies,
  tcp_timestamps,
  tcp_window_scaling,
  tcp_sack,
  tcp_min_snd_mss,
  tcp_fin_timeout,
  tcp_keepalive_time,
  tcp_keepalive_intvl,
  tcp_keepalive_probes,
  tcp_retries2,
  tcp_orphan_retries,
  tcp_challenge_ack_limit,
  tcp_invalid_ratelimit,
  tcp_max_tw_buckets,
  tcp_max_orphans,
  tcp_rfc1337,
  tcp_abort_on_overflow,
  tcp_delack_min_ms,
  tcp_congestion_control,
  tcp_ecn,
  tcp_recovery,
  tcp_early_retrans,
  tcp_reordering,
  tcp_max_reordering,
  tcp_min_rtt_wlen,
  route_min_pmtu,
  route_mtu_expires,
  tcp_moderate_rcvbuf,
  tcp_dsack,
  tcp_ecn_fallback,
  neigh_gc_thresh2,
  core_sockets_max,
  core_packet_mem_max,
  neigh_unres_qlen_bytes,
  ipv6_route_mtu_expires,
  ipv6_neigh_base_reachable_time_ms,
  ipv6_neigh_gc_stale_time,
  ipv6_neigh_retrans_time_ms,
  ipv6_neigh_mcast_solicit,
  ipv6_neigh_ucast_solicit,
  ipv6_neigh_unres_qlen,
  ipv6_neigh_unres_qlen_bytes,
  ipv6_neigh_gc_thresh2,
  ipv6_neigh_gc_thresh3,
  ipv6_bindv6only,
  ip6frag_high_thresh,
  ip6frag_low_thresh,
  ip6frag_time,
  ipv6_icmp_ratelimit,
  ipv6_idgen_retries,
  ipv6_idgen_delay,
  ipv6_icmp_ratemask,
  nf_conntrack_max,
  nf_conntrack_count,
  nf_conntrack_buckets,
  nf_conntrack_tcp_be_liberal,
  nf_conntrack_tcp_loose,
  nf_conntrack_tcp_timeout_syn_sent,
  nf_conntrack_tcp_timeout_syn_recv,
  nf_conntrack_tcp_timeout_established,
  nf_conntrack_tcp_timeout_fin_wait,
  nf_conntrack_tcp_timeout_close_wait,
  nf_conntrack_tcp_timeout_last_ack,
  nf_conntrack_tcp_timeout_time_wait,
  nf_conntrack_tcp_timeout_close,
  nf_conntrack_tcp_timeout_max_retrans,
  nf_conntrack_tcp_timeout_unacknowledged,
  nf_conntrack_udp_timeout,
  nf_conntrack_udp_timeout_stream,
  nf_conntrack_icmp_timeout,
  nf_conntrack_icmpv6_timeout,
  nf_conntrack_generic_timeout,
  count_
};

// One knob of the constant table.
struct SysctlInfo {
  std::string_view name;               // "net.ipv4.ip_forward"
  std::uint8_t arity;                  // 1, or 2/3 for vectors like tcp_rmem, 8 for a bitmap
  std::array<std::int32_t, 8> defaults;
  std::int32_t min, max;               // bounds for every element
  std::span<const std::string_view> choices;  // string-valued knobs store an index
  // A bitmap of 32 * arity bits (bit b of element b / 32), written and read
  // as a list of ranges, "0-1,3-127" (Linux's proc_do_large_bitmap).
  bool bitmap = false;
  // Shown, never written (mode 0444 in Linux: a write is permission_denied);
  // its owner keeps the value current with Sysctl::publish.
  bool read_only = false;
};

inline constexpr std::string_view kCongestionControls[] = {"cubic", "reno"};

inline constexpr std::int32_t kIntMax = std::numeric_limits<std::int32_t>::max();
inline constexpr std::int32_t kIntMin = std::numeric_limits<std::int32_t>::min();

inline constexpr std::array<SysctlInfo, static_cast<std::size_t>(SysctlId::count_)> kSysctlTable{{
    {"net.core.netdev_max_backlog", 1, {1000}, 1, 1 << 20, {}},
    {"net.core.somaxconn", 1, {4096}, 0, 65535, {}},
    // A UDP or ping socket's receive buffer; the minimum is Linux's SOCK_MIN_RCVBUF, about 2 KiB.
    {"net.core.rmem_default", 1, {212992}, 2304, kIntMax, {}},
    {"net.ipv4.ip_forward", 1, {0}, 0, 1, {}},
    {"net.ipv4.ip_default_ttl", 1, {64}, 1, 255, {}},
    {"net.ipv4.ip_local_port_range", 2, {32768, 60999}, 1, 65535, {}},
    {"net.ipv4.ip_no_pmtu_disc", 1, {0}, 0, 3, {}},
    {"net.ipv4.ip_nonlocal_bind", 1, {0}, 0, 1, {}},
    {"net.ipv4.icmp_echo_ignore_all", 1, {0}, 0, 1, {}},
    {"net.ipv4.icmp_echo_ignore_broadcasts", 1, {1}, 0, 1, {}},
    // ICMP errors of the types in the mask (bit = type; 6168: destination
    // unreachable but fragmentation needed, source quench, time exceeded,
    // parameter problem) take from the namespace's icmp_msgs_per_sec bucket,
    // then one per icmp_ratelimit ms per destination after a burst of six.
    {"net.ipv4.icmp_ratelimit", 1, {1000}, 0, kIntMax, {}},
    {"net.ipv4.icmp_ratemask", 1, {6168}, 0, kIntMax, {}},
    {"net.ipv4.icmp_msgs_per_sec", 1, {1000}, 0, kIntMax, {}},
    {"net.ipv4.icmp_msgs_burst", 1, {50}, 0, kIntMax, {}},
    // Linux removed its route cache and made max_size INT_MAX; netns has a
    // shared cache again and needs a real per-namespace quota.
    {"net.ipv4.route.max_size", 1, {16384}, 1, 1 << 24, {}},
    {"net.ipv4.ipfrag_high_thresh", 1, {4194304}, 0, kIntMax, {}},
    // As Linux since 4.17: nothing is evicted at low_thresh any more; it is
    // only the least high_thresh may be set to (and high_thresh its most).
    {"net.ipv4.ipfrag_low_thresh", 1, {3145728}, 0, kIntMax, {}},
    {"net.ipv4.ipfrag_time", 1, {30}, 1, 3600, {}},
    {"net.ipv4.neigh.default.base_reachable_time_ms", 1, {30000}, 1, kIntMax, {}},
    {"net.ipv4.neigh.default.gc_stale_time", 1, {60}, 1, kIntMax, {}},
    {"net.ipv4.neigh.default.retrans_time_ms", 1, {1000}, 1, kIntMax, {}},
    {"net.ipv4.neigh.default.mcast_solicit", 1, {3}, 0, 255, {}},
    {"net.ipv4.neigh.default.unres_qlen", 1, {101}, 0, 65535, {}},
    {"net.ipv4.neigh.default.gc_thresh3", 1, {1024}, 1, 1 << 20, {}},
    {"net.ipv4.tcp_rmem", 3, {4096, 131072, 6291456}, 1, kIntMax, {}},
    {"net.ipv4.tcp_wmem", 3, {4096, 16384, 4194304}, 1, kIntMax, {}},
    // Pages of 4 KiB held by the namespace's TCP queues: below [0] no
    // pressure, above [1] pressure, above [2] receive queues refuse data
    // (per namespace, where Linux's is machine-wide: ipv4/tcp/memory.hpp).
    {"net.ipv4.tcp_mem", 3, {190000, 253000, 380000}, 1, kIntMax, {}},
    {"net.ipv4.tcp_syn_retries", 1, {6}, 1, 127, {}},
    {"net.ipv4.tcp_synack_retries", 1, {5}, 0, 255, {}},
    {"net.ipv4.tcp_max_syn_backlog", 1, {1024}, 1, 1 << 20, {}},
    {"net.ipv4.tcp_syncookies", 1, {1}, 0, 2, {}},
    {"net.ipv4.tcp_timestamps", 1, {1}, 0, 2, {}},
    {"net.ipv4.tcp_window_scaling", 1, {1}, 0, 1, {}},
    {"net.ipv4.tcp_sack", 1, {1}, 0, 1, {}},
    {"net.ipv4.tcp_min_snd_mss", 1, {48}, 48, 65535, {}},
    {"net.ipv4.tcp_fin_timeout", 1, {60}, 1, kIntMax, {}},
    {"net.ipv4.tcp_keepalive_time", 1, {7200}, 1, 32767, {}},
    {"net.ipv4.tcp_keepalive_intvl", 1, {75}, 1, 32767, {}},
    {"net.ipv4.tcp_keepalive_probes", 1, {9}, 1, 127, {}},
    {"net.ipv4.tcp_retries2", 1, {15}, 0, 255, {}},
    {"net.ipv4.tcp_orphan_retries", 1, {0}, 0, 255, {}},
    {"net.ipv4.tcp_challenge_ack_limit", 1, {1000}, 0, kIntMax, {}},
    {"net.ipv4.tcp_invalid_ratelimit", 1, {500}, 0, kIntMax, {}},
    {"net.ipv4.tcp_max_tw_buckets", 1, {262144}, 0, kIntMax, {}},
    {"net.ipv4.tcp_max_orphans", 1, {262144}, 0, kIntMax, {}},
    {"net.ipv4.tcp_rfc1337", 1, {0}, 0, 1, {}},
    {"net.ipv4.tcp_abort_on_overflow", 1, {0}, 0, 1, {}},
    {"net.ipv4.tcp_delack_min_ms", 1, {40}, 1, 1000, {}},
    {"net.ipv4.tcp_congestion_control", 1, {0}, 0, 1, kCongestionControls},
    {"net.ipv4.tcp_ecn", 1, {2}, 0, 2, {}},
    // Bits: 1 RACK loss detection (else RFC 6675's DupThresh), 2 a static
    // reordering window, 4 no fast recovery at DupThresh SACKs.
    {"net.ipv4.tcp_recovery", 1, {1}, 0, 7, {}},
    // 3 and 4 enable tail loss probes (RFC 8985 7), as Linux's default 3.
    {"net.ipv4.tcp_early_retrans", 1, {3}, 0, 4, {}},
    {"net.ipv4.tcp_reordering", 1, {3}, 1, 1024, {}},
    {"net.ipv4.tcp_max_reordering", 1, {300}, 1, 65535, {}},
    {"net.ipv4.tcp_min_rtt_wlen", 1, {300}, 0, 86400, {}},
    // Path MTU exceptions (Linux's fnhe): never below min_pmtu (at least
    // 68, RFC 791's minimum), forgotten mtu_expires seconds after learned.
    {"net.ipv4.route.min_pmtu", 1, {552}, 68, 65535, {}},
    {"net.ipv4.route.mtu_expires", 1, {600}, 0, kIntMax, {}},
    {"net.ipv4.tcp_moderate_rcvbuf", 1, {1}, 0, 1, {}},
    {"net.ipv4.tcp_dsack", 1, {1}, 0, 1, {}},
    // A retransmitted SYN no longer asks for ECN (RFC 3168 6.1.1.1).
    {"net.ipv4.tcp_ecn_fallback", 1, {1}, 0, 1, {}},
    {"net.ipv4.neigh.default.gc_thresh2", 1, {512}, 1, 1 << 20, {}},
    // netns's own caps on what one namespace may take from its Host
    // (netns/resources.hpp; Linux's nearest are RLIMIT_NOFILE and a memory
    // cgroup). Sockets open at once: as a raised RLIMIT_NOFILE, for servers
    // with tens of thousands of connections. Bytes of packets held in the
    // namespace's queues, charged their truesize (2.1 KiB for a standard
    // buffer however little it holds): 256 MiB is a thousand UDP sockets'
    // full default buffers; at most 2 GiB - 1, the table's values being int32.
    {"net.core.sockets_max", 1, {65536}, 0, kIntMax, {}},
    {"net.core.packet_mem_max", 1, {268435456}, 0, kIntMax, {}},
    // Bytes of truesize that may wait for one neighbour's resolution, with
    // unres_qlen packets. Linux keeps one and derives the other; netns
    // keeps both, and the first to be reached drops the oldest.
    {"net.ipv4.neigh.default.unres_qlen_bytes", 1, {212992}, 0, kIntMax, {}},
    // Seconds an IPv6 path MTU learned from a Packet Too Big is kept.
    {"net.ipv6.route.mtu_expires", 1, {600}, 0, kIntMax, {}},
    // IPv6's neighbour table (NDP) has its own, with the same defaults as
    // Linux's nd_tbl.
    {"net.ipv6.neigh.default.base_reachable_time_ms", 1, {30000}, 1, kIntMax, {}},
    {"net.ipv6.neigh.default.gc_stale_time", 1, {60}, 1, kIntMax, {}},
    {"net.ipv6.neigh.default.retrans_time_ms", 1, {1000}, 1, kIntMax, {}},
    {"net.ipv6.neigh.default.mcast_solicit", 1, {3}, 0, 255, {}},
    {"net.ipv6.neigh.default.ucast_solicit", 1, {3}, 0, 255, {}},
    {"net.ipv6.neigh.default.unres_qlen", 1, {101}, 0, 65535, {}},
    {"net.ipv6.neigh.default.unres_qlen_bytes", 1, {212992}, 0, kIntMax, {}},
    {"net.ipv6.neigh.default.gc_thresh2", 1, {512}, 1, 1 << 20, {}},
    {"net.ipv6.neigh.default.gc_thresh3", 1, {1024}, 1, 1 << 20, {}},
    // Whether IPv6 sockets start v6-only (IPV6_V6ONLY), taking no IPv4.
    {"net.ipv6.bindv6only", 1, {0}, 0, 1, {}},
    // IPv6 reassembly, as net.ipv4.ipfrag_* (low_thresh only bounds high_thresh).
    {"net.ipv6.ip6frag_high_thresh", 1, {4194304}, 0, kIntMax, {}},
    {"net.ipv6.ip6frag_low_thresh", 1, {3145728}, 0, kIntMax, {}},
    {"net.ipv6.ip6frag_time", 1, {60}, 1, 3600, {}},
    // ICMPv6 errors to one destination: one per ratelimit ms after a burst
    // of six, halved for every 32 bits the route's prefix is shorter than
    // /128 (icmpv6_xrlim_allow); 0 turns the limit off.
    {"net.ipv6.icmp.ratelimit", 1, {1000}, 0, kIntMax, {}},
    // RFC 7217 stable privacy addresses after a DAD conflict: how many other
    // interface identifiers are tried (the DAD counter's u8 bounds it), and
    // the seconds before each one's DAD starts (Linux's idgen_retries,
    // idgen_delay; netns bounds the delay to an hour).
    {"net.ipv6.idgen_retries", 1, {3}, 0, 255, {}},
    {"net.ipv6.idgen_delay", 1, {1}, 0, 3600, {}},
    // The ICMPv6 types rate limited (icmpv6_mask_allow), a bitmap of the 256
    // types: Linux's "0-1,3-127", every error but packet too big.
    {"net.ipv6.icmp.ratemask", 8, {-5, -1, -1, -1, 0, 0, 0, 0}, kIntMin, kIntMax, {}, true},
    // Connection tracking (src/conntrack), per namespace. Linux's
    // nf_conntrack_max of 0 means no limit; netns keeps every table bounded,
    // so the least is 1. The default is Linux's on a 64-bit machine with
    // more than 4 GiB.
    {"net.netfilter.nf_conntrack_max", 1, {262144}, 1, kIntMax, {}},
    // Entries in the namespace's table, unconfirmed ones included.
    {"net.netfilter.nf_conntrack_count", 1, {0}, 0, kIntMax, {}, false, true},
    // The namespace's hash buckets: the table starts small when first used
    // and doubles as it fills (Linux's is one fixed size for all).
    {"net.netfilter.nf_conntrack_buckets", 1, {256}, 0, kIntMax, {}, false, true},
    {"net.netfilter.nf_conntrack_tcp_be_liberal", 1, {0}, 0, 1, {}},
    {"net.netfilter.nf_conntrack_tcp_loose", 1, {1}, 0, 1, {}},
    // Seconds, as Linux's defaults.
    {"net.netfilter.nf_conntrack_tcp_timeout_syn_sent", 1, {120}, 0, kIntMax, {}},
    {"net.netfilter.nf_conntrack_tcp_timeout_syn_recv", 1, {60}, 0, kIntMax, {}},
    {"net.netfilter.nf_conntrack_tcp_timeout_established", 1, {432000}, 0, kIntMax, {}},
    {"net.netfilter.nf_conntrack_tcp_timeout_fin_wait", 1, {120}, 0, kIntMax, {}},
    {"net.netfilter.nf_conntrack_tcp_timeout_close_wait", 1, {60}, 0, kIntMax, {}},
    {"net.netfilter.nf_conntrack_tcp_timeout_last_ack", 1, {30}, 0, kIntMax, {}},
    {"net.netfilter.nf_conntrack_tcp_timeout_time_wait", 1, {120}, 0, kIntMax, {}},
    {"net.netfilter.nf_conntrack_tcp_timeout_close", 1, {10}, 0, kIntMax, {}},
    {"net.netfilter.nf_conntrack_tcp_timeout_max_retrans", 1, {300}, 0, kIntMax, {}},
    {"net.netfilter.nf_conntrack_tcp_timeout_unacknowledged", 1, {300}, 0, kIntMax, {}},
    {"net.netfilter.nf_conntrack_udp_timeout", 1, {30}, 0, kIntMax, {}},
    {"net.netfilter.nf_conntrack_udp_timeout_stream", 1, {120}, 0, kIntMax, {}},
    {"net.netfilter.nf_conntrack_icmp_timeout", 1, {30}, 0, kIntMax, {}},
    {"net.netfilter.nf_conntrack_icmpv6_timeout", 1, {30}, 0, kIntMax, {}},
    {"net.netfilter.nf_conntrack_generic_timeout", 1, {600}, 0, kIntMax, {}},
}};

// Every enum value has its row: a short initialiser would leave the tail empty.
static_assert(!kSysctlTable.back().name.empty());

// Per-device knobs, net.FAMILY.conf.{all,default,IFNAME}.NAME: their rows,
// semantics and storage are in netns/devconf.hpp (kDevconfTable), not in
// this table; a namespace stores no value for them until one is written.
// Grouped by family; a family appends its own (devconf.hpp says how).
enum class DevconfId : std::uint8_t {
  ipv4_forwarding,           // IN_DEV_FORWARD; `all` is net.ipv4.ip_forward
  ipv4_rp_filter,            // IN_DEV_RPFILTER: max
  ipv4_accept_redirects,     // IN_DEV_RX_REDIRECTS: and while forwarding, else or
  ipv4_send_redirects,       // IN_DEV_TX_REDIRECTS: or
  ipv4_accept_source_route,  // IN_DEV_SOURCE_ROUTE: and
  ipv4_accept_local,         // IN_DEV_ACCEPT_LOCAL: or
  ipv4_log_martians,         // IN_DEV_LOG_MARTIANS: or
  ipv6_disable_ipv6,         // idev->cnf.disable_ipv6; an `all` write reaches every device
  ipv6_forwarding,           // idev->cnf.forwarding (router behaviour); `all` also gates ip6_forward
  ipv6_accept_ra,            // idev->cnf.accept_ra; `all` inert
  ipv6_autoconf,             // idev->cnf.autoconf; `all` inert
  ipv6_accept_dad,           // DAD when `all` or the device says so: max
  ipv6_dad_transmits,        // idev->cnf.dad_transmits; `all` inert
  ipv6_hop_limit,            // idev->cnf.hop_limit; `all` inert
  ipv6_mtu,                  // idev->cnf.mtu6: the device's MTU until written; `all` inert
  ipv6_addr_gen_mode,        // idev->cnf.addr_gen_mode; an `all` write reaches every device
  count_
};

// Where each knob's values start in a namespace's flat value array.
inline constexpr auto kSysctlOffsets = [] {
  std::array<std::uint16_t, kSysctlTable.size()> out{};
  std::uint16_t at = 0;
  for (std::size_t i = 0; i < kSysctlTable.size(); ++i) {
    out[i] = at;
    at = static_cast<std::uint16_t>(at + kSysctlTable[i].arity);
  }
  return out;
}();

inline constexpr std::size_t kSysctlValueSlots =
    kSysctlOffsets.back() + kSysctlTable.back().arity;

// Every knob's defaults laid out as a namespace stores them: a new namespace
// copies this once instead of walking the table.
inline constexpr auto kSysctlDefaults = [] {
  std::array<std::int32_t, kSysctlValueSlots> out{};
  for (std::size_t i = 0; i < kSysctlTable.size(); ++i) {
    for (std::size_t e = 0; e < kSysctlTable[i].arity; ++e) {
      out[kSysctlOffsets[i] + e] = kSysctlTable[i].defaults[e];
    }
  }
  return out;
}();

}  // namespace netns
