// conntrack/tuple.hpp — what identifies one direction of a connection, as
// Linux's nf_conntrack_tuple: family, addresses, protocol, and the ports (TCP,
// UDP) or the ICMP/ICMPv6 id, type and code; and how a datagram yields one.
//
//   auto at = l4_position(Family::ipv4, datagram);     // after IPv6's extension headers too
//   auto tuple = at ? tuple_at(Family::ipv4, datagram, *at) : std::nullopt;
//   auto reply = tuple ? invert(*tuple) : std::nullopt; // what the answer carries
//
// A tuple is a plain value: comparable, its bytes hashed by the table with
// the Host's keyed hash (conntrack/table.hpp), never by a pointer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "netns/address.hpp"

namespace netns::conntrack {

// Linux's enum ip_conntrack_dir: which of an entry's two tuples a datagram matched.
enum class Dir : std::uint8_t { original = 0, reply = 1 };

constexpr Dir opposite(Dir d) { return d == Dir::original ? Dir::reply : Dir::original; }
constexpr std::size_t index(Dir d) { return static_cast<std::size_t>(d); }

inline constexpr std::uint8_t kProtoIcmp = 1;
inline constexpr std::uint8_t kProtoTcp = 6;
inline constexpr std::uint8_t kProtoUdp = 17;
inline constexpr std::uint8_t kProtoIcmpv6 = 58;

struct Tuple {
  std::array<std::uint8_t, 16> src{};  // IPv4: the first four bytes, the rest zero
  std::array<std::uint8_t, 16> dst{};
  // TCP and UDP: the ports. ICMP and ICMPv6: `sport` is the echo id (both
  // directions carry the same), `dport` the type << 8 | code. Others: zero.
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  std::uint8_t protocol = 0;
  Family family = Family::ipv4;

  friend bool operator==(const Tuple&, const Tuple&) = default;

  bool is_icmp() const { return protocol == (family == Family::ipv4 ? kProtoIcmp : kProtoIcmpv6); }
  std::uint8_t icmp_type() const { return static_cast<std::uint8_t>(dport >> 8); }
  std::uint8_t icmp_code() const { return static_cast<std::uint8_t>(dport); }
  IpAddress src_address() const;
  IpAddress dst_address() const;
  void set_src(const IpAddress& a);
  void set_dst(const IpAddress& a);
};

// Where the transport header of a datagram starts, and its protocol.
struct L4Position {
  std::uint8_t protocol = 0;
  std::size_t offset = 0;
};

// Linux's get_l4proto. `datagram` starts at the IP header and holds the
// whole datagram (a reassembled one: conntrack sees no fragment but in a
// quoted datagram). nullopt for what conntrack cannot read: a bad header, an
// IPv4 fragment at a nonzero offset, an IPv6 chain that ends in no next
// header, a fragment or the datagram's end.
std::optional<L4Position> l4_position(Family family, std::span<const std::byte> datagram);

// The same for a datagram quoted in an ICMP error, which may be cut short
// after its transport header's first eight bytes.
std::optional<L4Position> quoted_l4_position(Family family, std::span<const std::byte> quoted);

// Linux's nf_ct_get_tuple: the tuple of the datagram whose transport header
// is at `at`. nullopt when the first eight bytes of a TCP, UDP, ICMP or
// ICMPv6 header are not there.
std::optional<Tuple> tuple_at(Family family, std::span<const std::byte> datagram, L4Position at);
// The same into `out`, for the packet path, which looks the tuple up right
// away: its words are stored as the table compares them (conntrack/table.cpp),
// and no copy out of an optional comes between. False where tuple_at gives
// nullopt (`out` then holds no tuple of the datagram).
bool tuple_into(Family family, std::span<const std::byte> datagram, L4Position at, Tuple& out);

// Linux's nf_ct_invert_tuple: the tuple of the answer. nullopt for an ICMP
// type that has no answer (only queries and their replies do: echo,
// timestamp, information, address mask; ICMPv6 echo and node information).
std::optional<Tuple> invert(const Tuple& t);

// conntrack's protocol name: "tcp", "udp", "icmp", "icmpv6", else "unknown".
const char* protocol_name(std::uint8_t protocol);

}  // namespace netns::conntrack
