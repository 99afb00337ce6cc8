// Sysctl: Linux's names and defaults, checked writes, one table per namespace.
#include "netns/sysctl.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "netns/devconf.hpp"
#include "netns/device.hpp"
#include "netns/host.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace core_sysctl_test {

using support::HostTest;

TEST(Sysctl, HasLinuxDefaults) {
  Sysctl s;
  EXPECT_EQ(s.get("net.ipv4.ip_forward").value(), "0");
  EXPECT_EQ(s.get("net.ipv4.ip_default_ttl").value(), "64");
  EXPECT_EQ(s.get("net.ipv4.ip_local_port_range").value(), "32768\t60999");
  EXPECT_EQ(s.get("net.ipv4.tcp_rmem").value(), "4096\t131072\t6291456");
  EXPECT_EQ(s.get("net.core.netdev_max_backlog").value(), "1000");
  EXPECT_EQ(s.get("net.ipv4.tcp_congestion_control").value(), "cubic");
  EXPECT_EQ(s.value(SysctlId::ip_default_ttl), 64);
  EXPECT_EQ(s.value(SysctlId::ip_local_port_range, 1), 60999);
  auto rmem = s.values(SysctlId::tcp_rmem);
  EXPECT_EQ(std::vector<std::int32_t>(rmem.begin(), rmem.end()),
            (std::vector<std::int32_t>{4096, 131072, 6291456}));
}

TEST(Sysctl, SetThenGetRoundTrips) {
  Sysctl s;
  ASSERT_TRUE(s.set("net.ipv4.ip_forward", "1"));
  EXPECT_EQ(s.get("net.ipv4.ip_forward").value(), "1");
  EXPECT_EQ(s.value(SysctlId::ip_forward), 1);
  // Any run of blanks separates vector values, as /proc/sys accepts.
  ASSERT_TRUE(s.set("net.ipv4.ip_local_port_range", " 1024  65535\n"));
  EXPECT_EQ(s.get("net.ipv4.ip_local_port_range").value(), "1024\t65535");
  ASSERT_TRUE(s.set("net.ipv4.tcp_rmem", "1\t2\t3"));
  EXPECT_EQ(s.get("net.ipv4.tcp_rmem").value(), "1\t2\t3");
  ASSERT_TRUE(s.set("net.ipv4.tcp_congestion_control", "reno\n"));
  EXPECT_EQ(s.get("net.ipv4.tcp_congestion_control").value(), "reno");
  EXPECT_EQ(s.value(SysctlId::tcp_congestion_control), 1);
}

TEST(Sysctl, SetValuesByIdIsCheckedToo) {
  Sysctl s;
  const std::int32_t ok[] = {128};
  ASSERT_TRUE(s.set_values(SysctlId::ip_default_ttl, ok));
  EXPECT_EQ(s.value(SysctlId::ip_default_ttl), 128);
  const std::int32_t too_big[] = {256};
  EXPECT_EQ(s.set_values(SysctlId::ip_default_ttl, too_big).error(), Errc::invalid_argument);
  const std::int32_t two[] = {1, 2};
  EXPECT_EQ(s.set_values(SysctlId::ip_default_ttl, two).error(), Errc::invalid_argument);
  EXPECT_EQ(s.value(SysctlId::ip_default_ttl), 128);
}

struct BadWrite {
  std::string_view name;
  std::string_view value;
  Errc expected;
};

class SysctlBadWrite : public ::testing::TestWithParam<BadWrite> {};

TEST_P(SysctlBadWrite, IsRefusedAndNothingChanges) {
  Sysctl s;
  std::vector<std::string> before;
  for (auto name : Sysctl::names()) before.push_back(s.get(name).value());
  auto result = s.set(GetParam().name, GetParam().value);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), GetParam().expected);
  std::vector<std::string> after;
  for (auto name : Sysctl::names()) after.push_back(s.get(name).value());
  EXPECT_EQ(before, after);
}

INSTANTIATE_TEST_SUITE_P(
    Sysctl, SysctlBadWrite,
    ::testing::Values(
        BadWrite{"net.ipv4.ip_forward", "2", Errc::invalid_argument},             // out of range
        BadWrite{"net.ipv4.ip_default_ttl", "0", Errc::invalid_argument},         // below range
        BadWrite{"net.ipv4.ip_default_ttl", "99999999999", Errc::invalid_argument},  // overflow
        BadWrite{"net.ipv4.tcp_rmem", "4096 131072", Errc::invalid_argument},     // arity
        BadWrite{"net.ipv4.tcp_rmem", "1 2 3 4", Errc::invalid_argument},         // arity
        BadWrite{"net.ipv4.ip_forward", "1 1", Errc::invalid_argument},           // arity
        BadWrite{"net.ipv4.ip_forward", "", Errc::invalid_argument},              // empty
        BadWrite{"net.ipv4.ip_forward", "yes", Errc::invalid_argument},           // garbage
        BadWrite{"net.ipv4.ip_default_ttl", "64x", Errc::invalid_argument},       // trailing junk
        BadWrite{"net.ipv4.ip_local_port_range", "61000 32768", Errc::invalid_argument},  // order
        BadWrite{"net.ipv4.ip_local_port_range", "0 100", Errc::invalid_argument},
        BadWrite{"net.ipv4.tcp_rmem", "1 -5 3", Errc::invalid_argument},  // one element bad
        BadWrite{"net.ipv4.tcp_congestion_control", "bbr", Errc::no_such_file_or_directory},
        BadWrite{"net.ipv4.no_such_knob", "1", Errc::no_such_file_or_directory},
        // A bitmap's ranges: each bit below its size, ranges in order, no empty entry.
        BadWrite{"net.ipv6.icmp.ratemask", "256", Errc::invalid_argument},
        BadWrite{"net.ipv6.icmp.ratemask", "5-3", Errc::invalid_argument},
        BadWrite{"net.ipv6.icmp.ratemask", "0-1,", Errc::invalid_argument},
        BadWrite{"net.ipv6.icmp.ratemask", ",1", Errc::invalid_argument},
        BadWrite{"net.ipv6.icmp.ratemask", "1-2-3", Errc::invalid_argument},
        BadWrite{"net.ipv6.icmp.ratemask", "one", Errc::invalid_argument},
        BadWrite{"net.ipv6.icmp.ratemask", "-1", Errc::invalid_argument},
        // RFC 7217's secret is an address; `all` has none (Linux's EIO for both).
        BadWrite{"net.ipv6.conf.default.stable_secret", "2001:db8::g", Errc::io_error},
        BadWrite{"net.ipv6.conf.default.stable_secret", "fe80::1%2", Errc::io_error},
        BadWrite{"net.ipv6.conf.all.stable_secret", "2001:db8::1", Errc::io_error},
        // Each reassembly threshold bounds the other, as Linux's.
        BadWrite{"net.ipv4.ipfrag_high_thresh", "3145727", Errc::invalid_argument},
        BadWrite{"net.ipv4.ipfrag_low_thresh", "4194305", Errc::invalid_argument},
        BadWrite{"net.ipv6.ip6frag_high_thresh", "3145727", Errc::invalid_argument},
        BadWrite{"net.ipv6.ip6frag_low_thresh", "4194305", Errc::invalid_argument},
        // Knobs Linux has and netns does not act on are not there at all.
        BadWrite{"net.core.wmem_default", "212992", Errc::no_such_file_or_directory},
        BadWrite{"net.ipv4.route.gc_timeout", "300", Errc::no_such_file_or_directory},
        BadWrite{"net.ipv4.ipfrag_max_dist", "64", Errc::no_such_file_or_directory},
        BadWrite{"net.ipv4.tcp_base_mss", "1024", Errc::no_such_file_or_directory},
        BadWrite{"net.ipv4.tcp_retries1", "3", Errc::no_such_file_or_directory},
        BadWrite{"net.ipv4.tcp_no_metrics_save", "1", Errc::no_such_file_or_directory},
        BadWrite{"net.ipv4.tcp_adv_win_scale", "1", Errc::no_such_file_or_directory},
        BadWrite{"net.ipv4.udp_rmem_min", "4096", Errc::no_such_file_or_directory},
        BadWrite{"net.ipv4.udp_wmem_min", "4096", Errc::no_such_file_or_directory},
        BadWrite{"", "1", Errc::no_such_file_or_directory}));

// net.ipv6.icmp.ratemask: a bitmap read and written as ranges, as Linux's
// proc_do_large_bitmap prints and parses them.
TEST(Sysctl, BitmapsAreListsOfRanges) {
  Sysctl s;
  EXPECT_EQ(s.get("net.ipv6.icmp.ratemask").value(), "0-1,3-127");
  ASSERT_TRUE(s.set("net.ipv6.icmp.ratemask", "3,1,0-1,200-255,31-33\n"));
  EXPECT_EQ(s.get("net.ipv6.icmp.ratemask").value(), "0-1,3,31-33,200-255");
  EXPECT_EQ(static_cast<std::uint32_t>(s.value(SysctlId::ipv6_icmp_ratemask, 0)), 0x8000000bu);
  EXPECT_EQ(static_cast<std::uint32_t>(s.value(SysctlId::ipv6_icmp_ratemask, 7)), 0xffffffffu);
  ASSERT_TRUE(s.set("net.ipv6.icmp.ratemask", ""));  // nothing limited
  EXPECT_EQ(s.get("net.ipv6.icmp.ratemask").value(), "");
  ASSERT_TRUE(s.set("net.ipv6.icmp.ratemask", "0-255"));
  EXPECT_EQ(s.get("net.ipv6.icmp.ratemask").value(), "0-255");
}

TEST(Sysctl, GetOfAnUnknownNameIsNoSuchFile) {
  Sysctl s;
  EXPECT_EQ(s.get("net.ipv4.nope").error(), Errc::no_such_file_or_directory);
}

// Every id reads the row of its own name: a row added in the wrong place in
// the table would silently make the packet path read another knob.
TEST(Sysctl, EveryIdMapsToTheRowWithItsName) {
  const std::pair<SysctlId, std::string_view> expected[] = {
      {SysctlId::core_netdev_max_backlog, "net.core.netdev_max_backlog"},
      {SysctlId::core_somaxconn, "net.core.somaxconn"},
      {SysctlId::core_rmem_default, "net.core.rmem_default"},
      {SysctlId::ip_forward, "net.ipv4.ip_forward"},
      {SysctlId::ip_default_ttl, "net.ipv4.ip_default_ttl"},
      {SysctlId::ip_local_port_range, "net.ipv4.ip_local_port_range"},
      {SysctlId::ip_no_pmtu_disc, "net.ipv4.ip_no_pmtu_disc"},
      {SysctlId::ip_nonlocal_bind, "net.ipv4.ip_nonlocal_bind"},
      {SysctlId::icmp_echo_ignore_all, "net.ipv4.icmp_echo_ignore_all"},
      {SysctlId::icmp_echo_ignore_broadcasts, "net.ipv4.icmp_echo_ignore_broadcasts"},
      {SysctlId::icmp_ratelimit, "net.ipv4.icmp_ratelimit"},
      {SysctlId::icmp_ratemask, "net.ipv4.icmp_ratemask"},
      {SysctlId::icmp_msgs_per_sec, "net.ipv4.icmp_msgs_per_sec"},
      {SysctlId::icmp_msgs_burst, "net.ipv4.icmp_msgs_burst"},
      {SysctlId::route_max_size, "net.ipv4.route.max_size"},
      {SysctlId::ipfrag_high_thresh, "net.ipv4.ipfrag_high_thresh"},
      {SysctlId::ipfrag_low_thresh, "net.ipv4.ipfrag_low_thresh"},
      {SysctlId::ipfrag_time, "net.ipv4.ipfrag_time"},
      {SysctlId::neigh_base_reachable_time_ms, "net.ipv4.neigh.default.base_reachable_time_ms"},
      {SysctlId::neigh_gc_stale_time, "net.ipv4.neigh.default.gc_stale_time"},
      {SysctlId::neigh_retrans_time_ms, "net.ipv4.neigh.default.retrans_time_ms"},
      {SysctlId::neigh_mcast_solicit, "net.ipv4.neigh.default.mcast_solicit"},
      {SysctlId::neigh_unres_qlen, "net.ipv4.neigh.default.unres_qlen"},
      {SysctlId::neigh_gc_thresh3, "net.ipv4.neigh.default.gc_thresh3"},
      {SysctlId::tcp_rmem, "net.ipv4.tcp_rmem"},
      {SysctlId::tcp_wmem, "net.ipv4.tcp_wmem"},
      {SysctlId::tcp_mem, "net.ipv4.tcp_mem"},
      {SysctlId::tcp_syn_retries, "net.ipv4.tcp_syn_retries"},
      {SysctlId::tcp_synack_retries, "net.ipv4.tcp_synack_retries"},
      {SysctlId::tcp_max_syn_backlog, "net.ipv4.tcp_max_syn_backlog"},
      {SysctlId::tcp_syncookies, "net.ipv4.tcp_syncookies"},
      {SysctlId::tcp_timestamps, "net.ipv4.tcp_timestamps"},
      {SysctlId::tcp_window_scaling, "net.ipv4.tcp_window_scaling"},
      {SysctlId::tcp_sack, "net.ipv4.tcp_sack"},
      {SysctlId::tcp_min_snd_mss, "net.ipv4.tcp_min_snd_mss"},
      {SysctlId::tcp_fin_timeout, "net.ipv4.tcp_fin_timeout"},
      {SysctlId::tcp_keepalive_time, "net.ipv4.tcp_keepalive_time"},
      {SysctlId::tcp_keepalive_intvl, "net.ipv4.tcp_keepalive_intvl"},
      {SysctlId::tcp_keepalive_probes, "net.ipv4.tcp_keepalive_probes"},
      {SysctlId::tcp_retries2, "net.ipv4.tcp_retries2"},
      {SysctlId::tcp_orphan_retries, "net.ipv4.tcp_orphan_retries"},
      {SysctlId::tcp_challenge_ack_limit, "net.ipv4.tcp_challenge_ack_limit"},
      {SysctlId::tcp_invalid_ratelimit, "net.ipv4.tcp_invalid_ratelimit"},
      {SysctlId::tcp_max_tw_buckets, "net.ipv4.tcp_max_tw_buckets"},
      {SysctlId::tcp_max_orphans, "net.ipv4.tcp_max_orphans"},
      {SysctlId::tcp_rfc1337, "net.ipv4.tcp_rfc1337"},
      {SysctlId::tcp_abort_on_overflow, "net.ipv4.tcp_abort_on_overflow"},
      {SysctlId::tcp_delack_min_ms, "net.ipv4.tcp_delack_min_ms"},
      {SysctlId::tcp_congestion_control, "net.ipv4.tcp_congestion_control"},
      {SysctlId::tcp_ecn, "net.ipv4.tcp_ecn"},
      {SysctlId::tcp_recovery, "net.ipv4.tcp_recovery"},
      {SysctlId::tcp_early_retrans, "net.ipv4.tcp_early_retrans"},
      {SysctlId::tcp_reordering, "net.ipv4.tcp_reordering"},
      {SysctlId::tcp_max_reordering, "net.ipv4.tcp_max_reordering"},
      {SysctlId::tcp_min_rtt_wlen, "net.ipv4.tcp_min_rtt_wlen"},
      {SysctlId::route_min_pmtu, "net.ipv4.route.min_pmtu"},
      {SysctlId::route_mtu_expires, "net.ipv4.route.mtu_expires"},
      {SysctlId::tcp_moderate_rcvbuf, "net.ipv4.tcp_moderate_rcvbuf"},
      {SysctlId::tcp_dsack, "net.ipv4.tcp_dsack"},
      {SysctlId::tcp_ecn_fallback, "net.ipv4.tcp_ecn_fallback"},
      {SysctlId::neigh_gc_thresh2, "net.ipv4.neigh.default.gc_thresh2"},
      {SysctlId::core_sockets_max, "net.core.sockets_max"},
      {SysctlId::core_packet_mem_max, "net.core.packet_mem_max"},
      {SysctlId::neigh_unres_qlen_bytes, "net.ipv4.neigh.default.unres_qlen_bytes"},
      {SysctlId::ipv6_route_mtu_expires, "net.ipv6.route.mtu_expires"},
      {SysctlId::ipv6_neigh_base_reachable_time_ms, "net.ipv6.neigh.default.base_reachable_time_ms"},
      {SysctlId::ipv6_neigh_gc_stale_time, "net.ipv6.neigh.default.gc_stale_time"},
      {SysctlId::ipv6_neigh_retrans_time_ms, "net.ipv6.neigh.default.retrans_time_ms"},
      {SysctlId::ipv6_neigh_mcast_solicit, "net.ipv6.neigh.default.mcast_solicit"},
      {SysctlId::ipv6_neigh_ucast_solicit, "net.ipv6.neigh.default.ucast_solicit"},
      {SysctlId::ipv6_neigh_unres_qlen, "net.ipv6.neigh.default.unres_qlen"},
      {SysctlId::ipv6_neigh_unres_qlen_bytes, "net.ipv6.neigh.default.unres_qlen_bytes"},
      {SysctlId::ipv6_neigh_gc_thresh2, "net.ipv6.neigh.default.gc_thresh2"},
      {SysctlId::ipv6_neigh_gc_thresh3, "net.ipv6.neigh.default.gc_thresh3"},
      {SysctlId::ipv6_bindv6only, "net.ipv6.bindv6only"},
      {SysctlId::ip6frag_high_thresh, "net.ipv6.ip6frag_high_thresh"},
      {SysctlId::ip6frag_low_thresh, "net.ipv6.ip6frag_low_thresh"},
      {SysctlId::ip6frag_time, "net.ipv6.ip6frag_time"},
      {SysctlId::ipv6_icmp_ratelimit, "net.ipv6.icmp.ratelimit"},
      {SysctlId::ipv6_idgen_retries, "net.ipv6.idgen_retries"},
      {SysctlId::ipv6_idgen_delay, "net.ipv6.idgen_delay"},
      {SysctlId::ipv6_icmp_ratemask, "net.ipv6.icmp.ratemask"},
      {SysctlId::nf_conntrack_max, "net.netfilter.nf_conntrack_max"},
      {SysctlId::nf_conntrack_count, "net.netfilter.nf_conntrack_count"},
      {SysctlId::nf_conntrack_buckets, "net.netfilter.nf_conntrack_buckets"},
      {SysctlId::nf_conntrack_tcp_be_liberal, "net.netfilter.nf_conntrack_tcp_be_liberal"},
      {SysctlId::nf_conntrack_tcp_loose, "net.netfilter.nf_conntrack_tcp_loose"},
      {SysctlId::nf_conntrack_tcp_timeout_syn_sent, "net.netfilter.nf_conntrack_tcp_timeout_syn_sent"},
      {SysctlId::nf_conntrack_tcp_timeout_syn_recv, "net.netfilter.nf_conntrack_tcp_timeout_syn_recv"},
      {SysctlId::nf_conntrack_tcp_timeout_established, "net.netfilter.nf_conntrack_tcp_timeout_established"},
      {SysctlId::nf_conntrack_tcp_timeout_fin_wait, "net.netfilter.nf_conntrack_tcp_timeout_fin_wait"},
      {SysctlId::nf_conntrack_tcp_timeout_close_wait, "net.netfilter.nf_conntrack_tcp_timeout_close_wait"},
      {SysctlId::nf_conntrack_tcp_timeout_last_ack, "net.netfilter.nf_conntrack_tcp_timeout_last_ack"},
      {SysctlId::nf_conntrack_tcp_timeout_time_wait, "net.netfilter.nf_conntrack_tcp_timeout_time_wait"},
      {SysctlId::nf_conntrack_tcp_timeout_close, "net.netfilter.nf_conntrack_tcp_timeout_close"},
      {SysctlId::nf_conntrack_tcp_timeout_max_retrans, "net.netfilter.nf_conntrack_tcp_timeout_max_retrans"},
      {SysctlId::nf_conntrack_tcp_timeout_unacknowledged, "net.netfilter.nf_conntrack_tcp_timeout_unacknowledged"},
      {SysctlId::nf_conntrack_udp_timeout, "net.netfilter.nf_conntrack_udp_timeout"},
      {SysctlId::nf_conntrack_udp_timeout_stream, "net.netfilter.nf_conntrack_udp_timeout_stream"},
      {SysctlId::nf_conntrack_icmp_timeout, "net.netfilter.nf_conntrack_icmp_timeout"},
      {SysctlId::nf_conntrack_icmpv6_timeout, "net.netfilter.nf_conntrack_icmpv6_timeout"},
      {SysctlId::nf_conntrack_generic_timeout, "net.netfilter.nf_conntrack_generic_timeout"},
  };
  ASSERT_EQ(std::size(expected), static_cast<std::size_t>(SysctlId::count_));
  // Then the per-device knobs' `all` and `default` names (devconf_test.cpp).
  auto names = Sysctl::names();
  ASSERT_EQ(names.size(), std::size(expected) + 2 * kDevconfCount);
  for (std::size_t i = 0; i < std::size(expected); ++i) {
    auto [id, name] = expected[i];
    EXPECT_EQ(static_cast<std::size_t>(id), i) << name;
    EXPECT_EQ(Sysctl::info(id).name, name);
    EXPECT_EQ(names[i], name);
  }
}

TEST(Sysctl, EveryDefaultIsWithinItsOwnBounds) {
  Sysctl s;
  for (std::size_t i = 0; i < static_cast<std::size_t>(SysctlId::count_); ++i) {
    auto id = static_cast<SysctlId>(i);
    const SysctlInfo& row = Sysctl::info(id);
    ASSERT_GE(row.arity, 1u);
    ASSERT_LE(row.arity, row.bitmap ? 8u : 3u);
    for (std::int32_t v : s.values(id)) {
      EXPECT_GE(v, row.min) << row.name;
      EXPECT_LE(v, row.max) << row.name;
    }
    // Writing back what get() printed is accepted (the /proc/sys round
    // trip), but by a read-only knob, which refuses every write.
    auto written = s.set(row.name, s.get(row.name).value());
    EXPECT_EQ(written.has_value(), !row.read_only) << row.name;
  }
}

TEST_F(HostTest, EachNamespaceHasItsOwnSysctls) {
  NetRef blue = host_.create_net("blue").value();
  NetRef red = host_.create_net("red").value();
  ASSERT_TRUE(blue->sysctl().set("net.ipv4.ip_forward", "1"));
  EXPECT_EQ(blue->sysctl().value(SysctlId::ip_forward), 1);
  EXPECT_EQ(red->sysctl().value(SysctlId::ip_forward), 0);
  EXPECT_EQ(host_.init_net().sysctl().value(SysctlId::ip_forward), 0);
  // A new namespace starts from Linux's defaults, not from init_net's values.
  ASSERT_TRUE(host_.init_net().sysctl().set("net.ipv4.ip_default_ttl", "32"));
  NetRef green = host_.create_net("green").value();
  EXPECT_EQ(green->sysctl().value(SysctlId::ip_default_ttl), 64);
}

}  // namespace core_sysctl_test
}  // namespace
}  // namespace netns
