// The nftables model of one namespace: tables, chains, rules, named sets.
//
// Everything here is typed and resolved when a command is applied, so the
// packet-path compiler never reads text: addresses, ports, marks and flag
// bitmasks are Keys (network byte order, as the fields sit in the packet or
// in the metadata), interface names are 16-byte keys (IFNAMSIZ, NUL padded),
// `iif`/`oif` hold the ifindex resolved when the rule was added, set
// references name a set of the rule's table that exists, and verdicts name
// a regular chain of that table that exists (checked: no jump loops).
//
//   Ruleset rs;                     // what nft::run parses into (parser.hpp)
//   for (const Table& t : rs.tables)
//     for (const Chain& c : t.chains)
//       for (const Rule& r : c.rules) { r.matches; r.statements; r.counter(); }
//
// A Ruleset is a value: nft::run copies the live one, applies a script to
// the copy and swaps it in when all of it succeeded. Sets are shared between
// copies (shared_ptr<const Set>) and cloned only when a command changes one,
// so a run that does not touch a 100,000-element set does not copy it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "netns/wire/address.hpp"

namespace netns::nft {

// The IP protocol numbers the rules name (`tcp dport`, `meta l4proto icmpv6`).
inline constexpr std::uint8_t kTcp = 6, kUdp = 17, kIcmp = 1, kIcmpv6 = 58;

// Bounds per namespace. Linux has none but memory accounting (kmemcg); ours
// are fixed so one namespace cannot take the Host's memory.
inline constexpr std::size_t kMaxRules = 65'536;
inline constexpr std::size_t kMaxSetElements = 1'048'576;  // named and anonymous sets together
inline constexpr std::size_t kMaxTables = 1'024;
inline constexpr std::size_t kMaxChainsPerTable = 4'096;
inline constexpr std::size_t kMaxNameLength = 255;  // NFT_NAME_MAXLEN - 1

enum class Family : std::uint8_t { ip, ip6, inet };
enum class ChainType : std::uint8_t { filter, nat };
enum class Hook : std::uint8_t { prerouting, input, forward, output, postrouting };
enum class Policy : std::uint8_t { accept, drop };

// The data types of nft, as far as the fields below use them. The byte
// order of a Key follows the type (see DataTypeInfo::length).
enum class DataType : std::uint8_t {
  ipv4_addr,     // 4 bytes, network order
  ipv6_addr,     // 16 bytes, network order
  inet_service,  // port, 2 bytes, network order
  inet_proto,    // 1 byte (IPPROTO_*)
  ifname,        // 16 bytes, NUL padded
  ifindex,       // 4 bytes, big-endian here (the number, not the wire)
  mark,          // 4 bytes, big-endian
  icmp_type,     // 1 byte
  icmpv6_type,   // 1 byte
  ct_state,      // 4 bytes, big-endian bitmask (kCtState*)
  ct_status,     // 4 bytes, big-endian bitmask (IPS_* bits)
  pkttype,       // 1 byte (PACKET_HOST 0, BROADCAST 1, MULTICAST 2, OTHERHOST 3)
  tcp_flag,      // 1 byte bitmask (FIN 0x01 ... CWR 0x80)
};

// A type whose values are ORs of named bits (tcp flags, ct state, ct status).
constexpr bool is_bitmask(DataType t) {
  return t == DataType::tcp_flag || t == DataType::ct_state || t == DataType::ct_status;
}

// ct state bits as Linux's NF_CT_STATE_BIT / NF_CT_STATE_INVALID_BIT.
inline constexpr std::uint32_t kCtStateInvalid = 1;
inline constexpr std::uint32_t kCtStateEstablished = 2;
inline constexpr std::uint32_t kCtStateRelated = 4;
inline constexpr std::uint32_t kCtStateNew = 8;
inline constexpr std::uint32_t kCtStateUntracked = 64;

// A value of a DataType: `len` significant bytes in `bytes`, big-endian, so
// memcmp order is numeric order for every type but ifname.
struct Key {
  std::array<std::uint8_t, 16> bytes{};
  std::uint8_t len = 0;

  static Key of_uint(std::uint64_t value, std::uint8_t len);
  static Key of_ipv4(Ipv4Address a);
  static Key of_ipv6(const Ipv6Address& a);
  static Key of_ifname(std::string_view name);  // precondition: name.size() < 16
  std::uint64_t to_uint() const;                // len <= 8
  Ipv4Address to_ipv4() const;
  Ipv6Address to_ipv6() const;
  std::string_view to_ifname() const;
  friend bool operator==(const Key& a, const Key& b) = default;
  friend auto operator<=>(const Key& a, const Key& b) = default;
};
bool key_less(const Key& a, const Key& b);  // memcmp over len bytes (numeric for big-endian)

// A closed interval [lo, hi] of one type; a single value has lo == hi.
struct Interval {
  Key lo, hi;
  friend bool operator==(const Interval&, const Interval&) = default;
};

// The packet fields a match reads.
enum class Field : std::uint8_t {
  iifname, oifname, iif, oif,
  ip_saddr, ip_daddr, ip_protocol,
  ip6_saddr, ip6_daddr,
  meta_l4proto,
  tcp_sport, tcp_dport, udp_sport, udp_dport, tcp_flags,
  icmp_type, icmpv6_type,
  ct_state, ct_status, meta_mark, meta_pkttype,
};

struct FieldInfo {
  const char* name;       // as nft prints it: "ip saddr"
  DataType type;
  std::uint8_t length;    // bytes of a Key of this field
  bool bitmask;           // ct state/status, tcp flags: implicit match is (x & v) != 0
  Family network;         // ip: needs IPv4, ip6: needs IPv6, inet: either
  std::uint8_t l4proto;   // implied transport (IPPROTO_TCP, ...) or 0
};
const FieldInfo& field_info(Field f);

enum class Op : std::uint8_t { eq, ne, lt, gt, le, ge };

// `ip saddr 10.0.0.0/8`: the prefix is kept for printing; as a value it is
// the Interval [network, broadcast]. For ifname a wildcard "eth*" is a
// prefix of 8 * 3 bits.
struct Prefix {
  Key address;
  std::uint8_t bits = 0;
  Interval interval() const;
};
struct Range {
  Key lo, hi;  // inclusive, lo <= hi
};
// An anonymous set `{ a, b-c, d/24 }`: sorted by lo (key_less), disjoint,
// at least two elements (a one-element set is stored as its element, as nft
// does). For a bitmask field its elements are exact values.
struct AnonSet {
  std::vector<Interval> elements;
};
struct SetRef {
  std::string name;  // a set of the rule's table, of the field's type
};
// `ct state established,related`, `tcp flags syn`: (x & mask) != 0 for eq,
// == 0 for ne (`tcp flags ! syn`). The implicit match of a bitmask field.
struct Flags {
  std::uint32_t mask = 0;
};
// `tcp flags syn / syn,ack` == `tcp flags & (syn|ack) == syn`: (x & mask) op value.
struct Masked {
  std::uint32_t value = 0, mask = 0;
};
using Operand = std::variant<Key, Prefix, Range, AnonSet, SetRef, Flags, Masked>;

// How a match holds, by operand: Key: the field op the value (for a bitmask
// field eq or ne, exact: `ct state == established`, `tcp flags != syn`); Prefix, Range,
// AnonSet, SetRef: the field is (eq) or is not (ne) inside; Flags, Masked:
// as their comments say. All matches of a rule must hold.
struct Match {
  Field field;
  Op op = Op::eq;  // lt/gt/le/ge only with a Key operand
  Operand operand;
};

enum class VerdictKind : std::uint8_t { accept, drop, continue_, return_, jump, goto_ };
struct Verdict {
  VerdictKind kind;
  std::string chain;  // jump/goto: a regular chain of the same table
};

// reject: what goes on the wire. A plain `reject` is stored as the
// family's default (ip: icmp port-unreachable, ip6: icmpv6
// port-unreachable, inet: icmpx port-unreachable), which the printer omits.
enum class RejectKind : std::uint8_t { icmp, icmpv6, icmpx, tcp_reset };
struct Reject {
  RejectKind kind = RejectKind::icmp;
  std::uint8_t code = 3;  // the ICMP/ICMPv6 code, or NFT_REJECT_ICMPX_* for icmpx
};
Reject default_reject(Family f);

// The rule's counter state: the packet path adds to it.
struct Counter {
  std::uint64_t packets = 0, bytes = 0;
};

enum class RateUnit : std::uint8_t { second, minute, hour, day, week };
struct Limit {
  std::uint64_t rate = 0;   // packets per unit
  RateUnit unit = RateUnit::second;
  std::uint32_t burst = 5;  // packets (nft's default is 5)
  bool over = false;        // `over`: matches when the rate is exceeded
};

enum class LogLevel : std::uint8_t { emerg, alert, crit, err, warn, notice, info, debug, audit };
struct Log {
  std::optional<std::string> prefix;
  LogLevel level = LogLevel::warn;  // nft's default; printed only when not warn
};

struct MetaMarkSet {
  std::uint32_t mark = 0;
};
struct Notrack {};

enum class NatKind : std::uint8_t { snat, dnat, masquerade, redirect };
// snat/dnat `to ADDR[-ADDR][:PORT[-PORT]]` (IPv6 with ports:
// `[ADDR]-[ADDR]:PORT`; a prefix ADDR/LEN is the range it covers),
// masquerade `to :P-P`, redirect `to :P`. addr_hi and port_hi are set when
// a range was written, even one value wide (nft lists those as such). In
// an inet table snat/dnat name their family (`dnat ip to …`, written or
// implied by an ip/ip6 match): `family` is ip or ip6 and family_explicit set.
struct Nat {
  NatKind kind;
  Family family = Family::ip;
  std::optional<IpAddress> addr_lo, addr_hi;
  std::optional<std::uint16_t> port_lo, port_hi;
  bool family_explicit = false;  // in an inet table: listed `dnat ip to`
  // nf_nat_range2's flags: NF_NAT_RANGE_PROTO_RANDOM and _RANDOM_FULLY
  // (a new port even when the original is free, no reuse of a source's
  // mapping), NF_NAT_RANGE_PERSISTENT (the address hashed from the source
  // alone, whatever the destination).
  bool random = false, fully_random = false, persistent = false;
};

using Statement = std::variant<Verdict, Reject, Counter, Limit, Log, MetaMarkSet, Notrack, Nat>;

struct Rule {
  std::uint64_t handle = 0;
  std::vector<Match> matches;        // all must hold, in order
  std::vector<Statement> statements; // run in order; a Verdict or Reject ends the rule
  std::string comment;
  std::size_t anon_elements() const;  // elements of its anonymous sets (the bound)
};

struct BaseChain {
  ChainType type = ChainType::filter;
  Hook hook = Hook::input;
  int priority = 0;
  Policy policy = Policy::accept;
};

struct Chain {
  std::string name;
  std::uint64_t handle = 0;
  std::optional<BaseChain> base;  // empty: a regular chain (jump/goto target)
  std::vector<Rule> rules;
};

struct Set {
  std::string name;
  std::uint64_t handle = 0;
  DataType type = DataType::ipv4_addr;
  bool interval = false;
  bool constant = false;  // `flags constant`: kept for the listing (nft refuses element updates)
  // Sorted by lo (key_less), disjoint. Without `interval` every element
  // is a single value (lo == hi).
  std::vector<Interval> elements;
};

struct Table {
  Family family = Family::ip;
  std::string name;
  std::uint64_t handle = 0;
  std::uint64_t last_handle = 0;  // the kernel's table->hgenerator: chains, sets, rules
  std::vector<Chain> chains;
  std::vector<std::shared_ptr<const Set>> sets;

  Chain* chain(std::string_view name);
  const Chain* chain(std::string_view name) const;
  const Set* set(std::string_view name) const;
  // The set for writing: clones it first if another Ruleset shares it.
  Set* set_for_write(std::string_view name);
};

struct Ruleset {
  std::vector<Table> tables;
  std::uint64_t last_table_handle = 0;  // per namespace, as the kernel's
  std::size_t rules = 0;                // totals against the bounds
  std::size_t set_elements = 0;

  Table* table(Family family, std::string_view name);
  const Table* table(Family family, std::string_view name) const;
  bool empty() const { return tables.empty(); }
};

// Names as nft spells them.
std::string_view to_string(Family f);
std::string_view to_string(ChainType t);
std::string_view to_string(Hook h);
std::string_view to_string(DataType t);
std::optional<Family> family_from(std::string_view s);
std::optional<Hook> hook_from(std::string_view s);
std::optional<DataType> set_type_from(std::string_view s);
std::uint8_t data_type_length(DataType t);

// Standard priorities (raw -300 ... srcnat 100) and whether nft uses the
// name for this hook: dstnat only at prerouting, srcnat only at postrouting.
std::optional<int> std_priority(std::string_view name, Hook hook);
std::string priority_to_string(int priority, Hook hook);

}  // namespace netns::nft
