// A real Linux host is served in the middle of a spoofed-source flood (issue
// 11). A Linux namespace on the other side of a TAP answers ARP for eleven
// addresses; while echo requests from spoofed on-link sources pour in (each
// one needs a neighbour entry for its reply), the Linux host's own pings are
// all answered and netns resolves each of the Linux addresses and gets its
// echo replies. The flood is written in-process into the TAP's Linux side
// through an AF_PACKET socket opened in that namespace.
//
//   netns "dut" 192.0.2.2/24 --tap-- Linux "peer" 192.0.2.1, .11-.20 /24
//   spoofed sources 192.0.2.100-.249, written on the peer's side of the tap
//
// Skipped without root, /dev/net/tun, ip or ping.
#include <gtest/gtest.h>

#include <array>
#include <optional>
#include <set>

#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include "ipv4/neighbour.hpp"
#include "netns/host.hpp"
#include "netns/icmp.hpp"
#include "netns/ipv4.hpp"
#include "netns/tap.hpp"
#include "support/fixtures.hpp"
#include "support/ipv4_frames.hpp"
#include "support/linux_net.hpp"

namespace netns {
namespace {
namespace ipv4_neighbour_linux_test {

constexpr std::size_t kThresh3 = 128;  // an unresolved cap of 32
constexpr int kLinuxPings = 20;
constexpr std::size_t kFloodBurst = 16;          // spoofed frames written per poll round
constexpr std::size_t kFloodLimit = 2'000'000;   // bounds the flood if everything else hangs

// An AF_PACKET socket on an interface of a Linux namespace: frames sent on it
// leave that interface, here toward the TAP's reader, netns.
class PacketSocket {
 public:
  static std::optional<PacketSocket> open(const support::LinuxNetns& ns, const std::string& interface) {
    support::EnterNetns inside(ns.name());
    if (!inside.ok()) return std::nullopt;
    PacketSocket s;
    s.fd_ = ::socket(AF_PACKET, SOCK_RAW, 0);
    s.ifindex_ = static_cast<int>(::if_nametoindex(interface.c_str()));
    if (s.fd_ < 0 || s.ifindex_ == 0) return std::nullopt;
    return s;
  }
  PacketSocket(PacketSocket&& o) noexcept : fd_(std::exchange(o.fd_, -1)), ifindex_(o.ifindex_) {}
  ~PacketSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool send(const support::Bytes& frame) const {
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = ifindex_;
    to.sll_halen = ETH_ALEN;
    return ::sendto(fd_, frame.data(), frame.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&to),
                    sizeof to) == static_cast<ssize_t>(frame.size());
  }

 private:
  PacketSocket() = default;
  int fd_ = -1;
  int ifindex_ = 0;
};

HostConfig real_time_config() {
  HostConfig config = support::test_config();
  config.start = Clock::now();
  return config;
}

TEST(NeighbourLinux, ALinuxHostIsServedInTheMiddleOfASpoofedSourceFlood) {
  if (auto why = support::kernel_test_skip_reason({"ip", "ping"})) GTEST_SKIP() << *why;
  auto peer_ns = support::LinuxNetns::create(support::unique_linux_name("nnf"));
  if (!peer_ns) GTEST_SKIP() << "cannot create Linux network namespaces";
  const support::LinuxNetns& peer = *peer_ns;
  ASSERT_TRUE(peer.ip({"link", "set", "lo", "up"}).ok());

  Host host(real_time_config());
  NetRef dut = host.create_net("dut").value();
  ASSERT_TRUE(dut->sysctl().set("net.ipv4.neigh.default.gc_thresh3", std::to_string(kThresh3)));
  ASSERT_TRUE(dut->sysctl().set("net.ipv4.neigh.default.gc_thresh2", std::to_string(kThresh3 / 2)));
  const std::string tap_name = support::unique_linux_name("nft");
  auto tap = make_tap(*dut, tap_name);
  ASSERT_TRUE(tap) << tap.error().message();
  ASSERT_TRUE(set_link_up(**tap));
  ASSERT_TRUE(ipv4::add_address(*dut, **tap, Ipv4Prefix(Ipv4Address(192, 0, 2, 2), 24)));
  auto taken = peer.take_interface(tap_name, "192.0.2.1/24");
  ASSERT_TRUE(taken.ok()) << taken.output;
  std::vector<Ipv4Address> linux_addresses{Ipv4Address(192, 0, 2, 1)};
  for (std::uint8_t i = 11; i <= 20; ++i) {
    linux_addresses.emplace_back(192, 0, 2, i);
    auto added = peer.ip({"addr", "add", fmt::format("192.0.2.{}/24", i), "dev", tap_name});
    ASSERT_TRUE(added.ok()) << added.output;
  }
  ASSERT_TRUE(peer.wait_operstate_up(tap_name));
  auto flood_socket = PacketSocket::open(peer, tap_name);
  ASSERT_TRUE(flood_socket) << "no AF_PACKET socket in the Linux namespace";

  auto ping = icmp::open(*dut).value();
  std::set<Ipv4Address> answered;
  std::size_t next = 0;  // the Linux address netns pings now
  std::uint16_t seq = 0;
  auto last_ping = Clock::time_point{};
  std::size_t flooded = 0;
  const MacAddress flood_mac{0x02, 0, 0, 0, 0x66, 0x66};
  const auto each_round = [&] {
    for (std::size_t i = 0; i < kFloodBurst && flooded < kFloodLimit; ++i, ++flooded) {
      const Ipv4Address spoofed(192, 0, 2, std::uint8_t(100 + flooded % 150));
      flood_socket->send(support::echo_request_frame((*tap)->mac(), flood_mac, spoofed, Ipv4Address(192, 0, 2, 2),
                                                     0x6666, std::uint16_t(flooded), 16));
    }
    while (auto reply = ping.receive()) answered.insert(reply->from.to_v4());
    while (next < linux_addresses.size() && answered.count(linux_addresses[next]) != 0) ++next;
    // One Linux address at a time, asked again every 100 ms until it answers:
    // each one is a fresh resolution in the middle of the flood.
    if (next < linux_addresses.size() && host.now() - last_ping >= std::chrono::milliseconds(100)) {
      (void)ping.send_echo(linux_addresses[next], ++seq);
      last_ping = host.now();
    }
  };
  auto linux_ping = support::run_while_polling(
      host, peer.exec_argv({"ping", "-c", std::to_string(kLinuxPings), "-i", "0.1", "-W", "1", "192.0.2.2"}),
      std::chrono::seconds(30), each_round);
  // Let netns finish its own round of pings if the Linux ping ended first.
  support::poll_host_until(host, [&] {
    each_round();
    return next == linux_addresses.size();
  }, std::chrono::seconds(10));

  EXPECT_TRUE(linux_ping.ok()) << linux_ping.output;
  EXPECT_NE(linux_ping.output.find(fmt::format("{} received", kLinuxPings)), std::string::npos) << linux_ping.output;
  EXPECT_EQ(answered.size(), linux_addresses.size()) << "Linux addresses netns resolved and pinged";
  EXPECT_LE(seq, 2 * linux_addresses.size()) << "at most one retry per address on average";

  const auto stats = ipv4::neighbour_table_stats(*dut);
  RecordProperty("flood_frames", static_cast<int>(flooded));
  RecordProperty("unresolved_evictions", static_cast<int>(stats.unresolved_evictions));
  std::printf("flood: %zu spoofed frames; unresolved_evictions %llu, table_fulls %llu, entries %llu, "
              "netns pings sent %u for %zu addresses\n",
              flooded, static_cast<unsigned long long>(stats.unresolved_evictions),
              static_cast<unsigned long long>(stats.table_fulls), static_cast<unsigned long long>(stats.entries),
              unsigned(seq), linux_addresses.size());
  EXPECT_GT(stats.unresolved_evictions, 1000u) << "the flood did churn the unresolved entries";
  EXPECT_LE(stats.unresolved, ipv4::NeighbourTable::unresolved_limit(kThresh3));
  EXPECT_LE(stats.entries, kThresh3);
  EXPECT_EQ(stats.resolved_evictions, 0u);
  EXPECT_EQ(stats.table_fulls, 0u);
}

}  // namespace ipv4_neighbour_linux_test
}  // namespace
}  // namespace netns
