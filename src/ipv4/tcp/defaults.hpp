// TCP's protocol defaults, each beside the name Linux gives it (include/net/tcp.h),
// so a number read here can be checked against the kernel. Facts of the wire
// format (option kinds and lengths, header sizes) are in netns/wire/tcp.hpp.
#pragma once

#include <chrono>
#include <cstdint>

#include "netns/wire/ipv4.hpp"
#include "netns/wire/tcp.hpp"

namespace netns::tcp {

// RFC 9293 3.7.1: the MSS to assume when nothing better is known.
inline constexpr std::uint16_t kDefaultMss = 536;  // TCP_MSS_DEFAULT
// The smallest MSS the receive side assumes of a peer.
inline constexpr std::uint32_t kMinMss = 88;  // TCP_MIN_MSS
// RFC 7323 2.3: the largest window scale shift.
inline constexpr std::uint8_t kMaxWscale = 14;  // TCP_MAX_WSCALE
// RFC 6928: the initial congestion window, in segments.
inline constexpr std::uint32_t kInitCwnd = 10;  // TCP_INIT_CWND
// How long a TIME_WAIT record waits (2 MSL).
inline constexpr auto kTimeWaitLen = std::chrono::seconds(60);  // TCP_TIMEWAIT_LEN

// What the IPv4 and TCP headers without options take of a datagram: an MTU
// minus this is the MSS (tcp_mtu_to_mss), within the 65535 bytes an IPv4
// datagram can hold (the loopback's MTU is 65536).
inline constexpr std::uint32_t kIpTcpHeadersLen = wire::Ipv4Repr::kHeaderLen + wire::TcpView::kMinHeaderLen;
inline constexpr std::uint16_t mss_for_mtu(std::uint32_t mtu) {
  return static_cast<std::uint16_t>((mtu < 65535 ? mtu : 65535) - kIpTcpHeadersLen);
}

// The same for IPv6 (tcp_v6's tcp_mtu_to_mss): its 40-byte header and TCP's
// without options, within the 65535 bytes of payload a datagram without a
// jumbo option holds, and never below what the IPv6 minimum MTU carries
// (1280: every IPv6 link's, RFC 8200 5).
inline constexpr std::uint32_t kIp6TcpHeadersLen = 40 + wire::TcpView::kMinHeaderLen;
inline constexpr std::uint32_t kIpv6MinMtu = 1280;  // IPV6_MIN_MTU
inline constexpr std::uint16_t mss_for_mtu6(std::uint32_t mtu) {
  const std::uint32_t bounded = mtu < kIpv6MinMtu ? kIpv6MinMtu : (mtu > 65535 + 40 ? 65535 + 40 : mtu);
  return static_cast<std::uint16_t>(bounded - kIp6TcpHeadersLen);
}

}  // namespace netns::tcp
