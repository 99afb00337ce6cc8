#include "nft/symbols.hpp"

#include <span>

namespace netns::nft {

namespace {

struct Symbol {
  std::string_view name;
  std::uint32_t value;
};

constexpr Symbol kIcmpTypes[] = {
    {"echo-reply", 0},           {"destination-unreachable", 3}, {"source-quench", 4},
    {"redirect", 5},             {"echo-request", 8},            {"router-advertisement", 9},
    {"router-solicitation", 10}, {"time-exceeded", 11},          {"parameter-problem", 12},
    {"timestamp-request", 13},   {"timestamp-reply", 14},        {"info-request", 15},
    {"info-reply", 16},          {"address-mask-request", 17},   {"address-mask-reply", 18},
};
constexpr Symbol kIcmpv6Types[] = {
    {"destination-unreachable", 1}, {"packet-too-big", 2},         {"time-exceeded", 3},
    {"parameter-problem", 4},       {"echo-request", 128},         {"echo-reply", 129},
    {"mld-listener-query", 130},    {"mld-listener-report", 131},  {"mld-listener-done", 132},
    {"mld-listener-reduction", 132}, {"nd-router-solicit", 133},   {"nd-router-advert", 134},
    {"nd-neighbor-solicit", 135},   {"nd-neighbor-advert", 136},   {"nd-redirect", 137},
    {"router-renumbering", 138},    {"ind-neighbor-solicit", 141}, {"ind-neighbor-advert", 142},
    {"mld2-listener-report", 143},
};
// Printed in bit order, as nft's bitmask printer does.
constexpr Symbol kCtStates[] = {
    {"invalid", kCtStateInvalid}, {"established", kCtStateEstablished}, {"related", kCtStateRelated},
    {"new", kCtStateNew},         {"untracked", kCtStateUntracked},
};
constexpr Symbol kCtStatus[] = {
    {"expected", 1}, {"seen-reply", 2}, {"assured", 4}, {"confirmed", 8}, {"snat", 16}, {"dnat", 32}, {"dying", 512},
};
constexpr Symbol kPktTypes[] = {{"host", 0}, {"broadcast", 1}, {"multicast", 2}, {"other", 3}};
constexpr Symbol kTcpFlags[] = {{"fin", 0x01}, {"syn", 0x02}, {"rst", 0x04}, {"psh", 0x08},
                                {"ack", 0x10}, {"urg", 0x20}, {"ecn", 0x40}, {"cwr", 0x80}};
// The names nft prints for protocol numbers: it asks getprotobynumber(3),
// which reads /etc/protocols; these are Debian netbase's (the first name of
// each number), so a listing does not depend on the machine's files.
constexpr Symbol kProtocols[] = {
    {"ip", 0},          {"icmp", 1},        {"igmp", 2},        {"ggp", 3},           {"ipencap", 4},
    {"st", 5},          {"tcp", 6},         {"egp", 8},         {"igp", 9},           {"pup", 12},
    {"udp", 17},        {"hmp", 20},        {"xns-idp", 22},    {"rdp", 27},          {"iso-tp4", 29},
    {"dccp", 33},       {"xtp", 36},        {"ddp", 37},        {"idpr-cmtp", 38},    {"ipv6", 41},
    {"ipv6-route", 43}, {"ipv6-frag", 44},  {"idrp", 45},       {"rsvp", 46},         {"gre", 47},
    {"esp", 50},        {"ah", 51},         {"skip", 57},       {"ipv6-icmp", 58},    {"ipv6-nonxt", 59},
    {"ipv6-opts", 60},  {"rspf", 73},       {"vmtp", 81},       {"eigrp", 88},        {"ospf", 89},
    {"ax.25", 93},      {"ipip", 94},       {"etherip", 97},    {"encap", 98},        {"pim", 103},
    {"ipcomp", 108},    {"vrrp", 112},      {"l2tp", 115},      {"isis", 124},        {"sctp", 132},
    {"fc", 133},        {"mobility-header", 135}, {"udplite", 136}, {"mpls-in-ip", 137}, {"manet", 138},
    {"hip", 139},       {"shim6", 140},     {"wesp", 141},      {"rohc", 142},        {"ethernet", 143},
    {"icmpv6", 58},  // nft's own alias, after the printed name
};

std::span<const Symbol> table_of(DataType type) {
  switch (type) {
    case DataType::icmp_type: return kIcmpTypes;
    case DataType::icmpv6_type: return kIcmpv6Types;
    case DataType::ct_state: return kCtStates;
    case DataType::ct_status: return kCtStatus;
    case DataType::pkttype: return kPktTypes;
    case DataType::tcp_flag: return kTcpFlags;
    case DataType::inet_proto: return kProtocols;
    default: return {};
  }
}

constexpr Symbol kIcmpCodes[] = {{"net-unreachable", 0},  {"host-unreachable", 1}, {"prot-unreachable", 2},
                                 {"port-unreachable", 3}, {"net-prohibited", 9},   {"host-prohibited", 10},
                                 {"admin-prohibited", 13}, {"frag-needed", 4}};
constexpr Symbol kIcmpv6Codes[] = {{"no-route", 0},         {"admin-prohibited", 1}, {"addr-unreachable", 3},
                                   {"port-unreachable", 4}, {"policy-fail", 5},      {"reject-route", 6}};
constexpr Symbol kIcmpxCodes[] = {
    {"no-route", 0}, {"port-unreachable", 1}, {"host-unreachable", 2}, {"admin-prohibited", 3}};

std::span<const Symbol> codes_of(RejectKind kind) {
  switch (kind) {
    case RejectKind::icmp: return kIcmpCodes;
    case RejectKind::icmpv6: return kIcmpv6Codes;
    case RejectKind::icmpx: return kIcmpxCodes;
    case RejectKind::tcp_reset: return {};
  }
  return {};
}

}  // namespace

std::optional<std::uint32_t> symbol_value(DataType type, std::string_view name) {
  for (const Symbol& s : table_of(type))
    if (s.name == name) return s.value;
  return std::nullopt;
}

std::optional<std::string_view> symbol_name(DataType type, std::uint32_t value) {
  for (const Symbol& s : table_of(type))
    if (s.value == value) return s.name;
  return std::nullopt;
}

bool has_symbols(DataType type) { return !table_of(type).empty(); }

std::optional<std::uint8_t> reject_code(RejectKind kind, std::string_view name) {
  for (const Symbol& s : codes_of(kind))
    if (s.name == name) return static_cast<std::uint8_t>(s.value);
  return std::nullopt;
}

std::optional<std::string_view> reject_code_name(RejectKind kind, std::uint8_t code) {
  for (const Symbol& s : codes_of(kind))
    if (s.value == code) return s.name;
  return std::nullopt;
}

}  // namespace netns::nft
