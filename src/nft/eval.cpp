#include "nft/eval.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <span>

#include "conntrack/entry.hpp"
#include "ipv4/stack.hpp"
#include "ipv6/stack.hpp"
#include "nat/nat.hpp"
#include "netns/device.hpp"
#include "netns/host.hpp"
#include "netns/net.hpp"
#include "netns/packet.hpp"
#include "netns/wire/checksum.hpp"
#include "netns/wire/ipv6_ext.hpp"
#include "netns/wire/tcp.hpp"
#include "stack/builtins.hpp"

namespace netns::nft {

namespace {

using netfilter::HookState;
using NfVerdict = netfilter::Verdict;

constexpr std::uint8_t kUntracked = 7;  // IP_CT_UNTRACKED
constexpr int kJumpStack = 16;          // NFT_JUMP_STACK_SIZE

// A big-endian number of n bytes; the fixed sizes of header fields are one load.
inline std::uint64_t be(const std::uint8_t* p, std::size_t n) {
  switch (n) {
    case 2: {
      std::uint16_t v;
      std::memcpy(&v, p, 2);
      return __builtin_bswap16(v);
    }
    case 4: {
      std::uint32_t v;
      std::memcpy(&v, p, 4);
      return __builtin_bswap32(v);
    }
    case 8: {
      std::uint64_t v;
      std::memcpy(&v, p, 8);
      return __builtin_bswap64(v);
    }
    default: {
      std::uint64_t v = 0;
      for (std::size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
      return v;
    }
  }
}

// The datagram as the checks see it: its family and where its transport
// header is (nft_pktinfo).
struct Pkt {
  const Packet& packet;
  const HookState& state;
  const std::uint8_t* data;
  std::size_t len;
  bool v6;
  bool l4_known = false;   // the transport was looked for
  bool has_l4 = false;     // a protocol number was found (NFT_PKTINFO_L4PROTO)
  bool fragment = false;   // a non-first fragment: no transport header here
  std::uint16_t frag_off = 0;  // IPv6: the fragment header's offset field, if one came up
  std::uint8_t l4proto = 0;
  std::size_t thoff = 0;

  Pkt(const Packet& p, const HookState& s)
      : packet(p), state(s), data(reinterpret_cast<const std::uint8_t*>(p.data().data())), len(p.size()),
        v6(s.family == netns::Family::ipv6) {}

  void find_l4() {
    l4_known = true;
    if (!v6) {
      if (len < 20) return;
      thoff = std::size_t{data[0] & 0x0fu} * 4;
      l4proto = data[9];
      fragment = (be(data + 6, 2) & 0x1fff) != 0;
      has_l4 = thoff <= len;
      return;
    }
    if (len < 40) return;
    // ipv6_find_hdr: past every extension header to the transport; stops
    // at a fragment header of nonzero offset (the walk is bounded by the bytes).
    const auto skip = wire::skip_extension_headers({reinterpret_cast<const std::byte*>(data), len}, 40, data[6]);
    if (!skip || skip->offset > len) return;
    thoff = skip->offset;
    l4proto = skip->next_header;
    frag_off = skip->frag_off;
    fragment = (skip->frag_off & 0xfff8) != 0;
    has_l4 = true;
  }
  // n bytes of the transport header at `off`, when the datagram is of
  // `proto`, a first fragment, and long enough.
  const std::uint8_t* l4(std::uint8_t proto, std::size_t off, std::size_t n) {
    if (!l4_known) find_l4();
    if (!has_l4 || fragment || l4proto != proto || thoff + off + n > len) return nullptr;
    return data + thoff + off;
  }
};

Word ifname_word(const Device* dev) {
  std::array<std::uint8_t, 16> name{};
  const std::string_view n = dev->name();
  std::memcpy(name.data(), n.data(), std::min<std::size_t>(n.size(), 15));
  return {be(name.data(), 8), be(name.data() + 8, 8)};
}

// NF_CT_STATE_BIT(ctinfo): established 0/3, related 1/4, new 2.
std::uint32_t ct_state_bits(const Packet& p) {
  if (p.nfct() == nullptr) return p.nfct_info() == kUntracked ? kCtStateUntracked : kCtStateInvalid;
  return 1u << (p.nfct_info() % 3 + 1);
}

// nft's payload and meta loads: false when the field is absent (NFT_BREAK).
bool load(Field f, Pkt& k, Word& w) {
  switch (f) {
    case Field::iifname:
      if (k.state.in == nullptr) return false;
      w = ifname_word(k.state.in);
      return true;
    case Field::oifname:
      if (k.state.out == nullptr) return false;
      w = ifname_word(k.state.out);
      return true;
    case Field::iif:
      if (k.state.in == nullptr) return false;
      w = {0, static_cast<std::uint32_t>(k.state.in->ifindex())};
      return true;
    case Field::oif:
      if (k.state.out == nullptr) return false;
      w = {0, static_cast<std::uint32_t>(k.state.out->ifindex())};
      return true;
    case Field::ip_saddr:
    case Field::ip_daddr:
      if (k.v6 || k.len < 20) return false;
      w = {0, be(k.data + (f == Field::ip_saddr ? 12 : 16), 4)};
      return true;
    case Field::ip_protocol:
      if (k.v6 || k.len < 20) return false;
      w = {0, k.data[9]};
      return true;
    case Field::ip6_saddr:
    case Field::ip6_daddr: {
      if (!k.v6 || k.len < 40) return false;
      const std::uint8_t* a = k.data + (f == Field::ip6_saddr ? 8 : 24);
      w = {be(a, 8), be(a + 8, 8)};
      return true;
    }
    case Field::meta_l4proto:
      if (!k.l4_known) k.find_l4();
      if (!k.has_l4) return false;
      w = {0, k.l4proto};
      return true;
    case Field::tcp_sport:
    case Field::tcp_dport:
    case Field::udp_sport:
    case Field::udp_dport: {
      const bool tcp = f == Field::tcp_sport || f == Field::tcp_dport;
      const bool src = f == Field::tcp_sport || f == Field::udp_sport;
      const std::uint8_t* p = k.l4(tcp ? kTcp : kUdp, src ? 0 : 2, 2);
      if (p == nullptr) return false;
      w = {0, be(p, 2)};
      return true;
    }
    case Field::tcp_flags: {
      const std::uint8_t* p = k.l4(kTcp, 13, 1);
      if (p == nullptr) return false;
      w = {0, *p};
      return true;
    }
    case Field::icmp_type:
    case Field::icmpv6_type: {
      const bool v6 = f == Field::icmpv6_type;
      if (v6 != k.v6) return false;
      const std::uint8_t* p = k.l4(v6 ? kIcmpv6 : kIcmp, 0, 1);
      if (p == nullptr) return false;
      w = {0, *p};
      return true;
    }
    case Field::ct_state:
      w = {0, ct_state_bits(k.packet)};
      return true;
    case Field::ct_status: {
      const conntrack::Entry* ct = conntrack::Entry::of(k.packet);
      if (ct == nullptr) return false;
      w = {0, ct->status};
      return true;
    }
    case Field::meta_mark:
      w = {0, k.packet.mark};
      return true;
    case Field::meta_pkttype:
      w = {0, static_cast<std::uint8_t>(k.packet.type)};
      return true;
  }
  return false;
}

bool compare(Op op, const Word& x, const Word& v) {
  switch (op) {
    case Op::eq: return x == v;
    case Op::ne: return x != v;
    case Op::lt: return x < v;
    case Op::gt: return x > v;
    case Op::le: return x <= v;
    case Op::ge: return x >= v;
  }
  return false;
}

bool holds(const Compiled& c, const Check& ck, Pkt& k) {
  if (ck.kind == CheckKind::family) return (ck.family_ == netns::Family::ipv6) == k.v6;
  Word w;
  if (!load(ck.field, k, w)) return false;
  const bool eq = ck.op != Op::ne;
  switch (ck.kind) {
    case CheckKind::compare: return compare(ck.op, w, ck.a);
    case CheckKind::range: return (!(w < ck.a) && !(ck.b < w)) == eq;
    case CheckKind::flags: return ((w.lo & ck.mask) != 0) == eq;
    case CheckKind::masked: return compare(ck.op, {0, w.lo & ck.mask}, {0, ck.value});
    case CheckKind::set: return contains(*c.sets[ck.set], w) == eq;
    case CheckKind::family: break;
  }
  return false;
}

// nft_limit_eval: true when the packet is within the rate (or, `over`, beyond it).
bool limit_passes(const Action& a, Clock::time_point now) {
  RuleCell& cell = *a.cell;
  if (!cell.primed) {
    cell.primed = true;
    cell.tokens = a.max_tokens;
    cell.last = now;
  }
  const std::int64_t elapsed = std::max<std::int64_t>((now - cell.last).count(), 0);
  std::int64_t tokens = elapsed > a.max_tokens - cell.tokens ? a.max_tokens : cell.tokens + elapsed;
  cell.last = now;
  if (tokens >= a.cost) {
    cell.tokens = tokens - a.cost;
    return !a.over;
  }
  cell.tokens = tokens;
  return a.over;
}

// ---- reject (nf_reject_ipv4 / nf_reject_ipv6) ----

// icmpx codes (NFT_REJECT_ICMPX_*: no route, port, host, admin) per family.
constexpr std::array<std::uint8_t, 4> kIcmpxV4{0, 3, 1, 13};
constexpr std::array<std::uint8_t, 4> kIcmpxV6{0, 4, 3, 1};

// nf_send_reset / nf_send_reset6: a RST from the datagram's destination to
// its source, ports swapped; seq from the ACK it carried, else an ACK of
// everything it occupied.
void send_reset(Pkt& k) {
  const std::uint8_t* th = k.l4(kTcp, 0, 20);
  if (th == nullptr) return;
  const std::uint8_t flags = th[13];
  if ((flags & wire::kTcpRst) != 0) return;
  const std::size_t doff = static_cast<std::size_t>(th[12] >> 4) * 4;
  const std::size_t total = k.v6 ? 40 + be(k.data + 4, 2) : be(k.data + 2, 2);
  if (doff < 20 || total < k.thoff + doff || total > k.len) return;
  wire::TcpRepr rst{.src_port = static_cast<std::uint16_t>(be(th + 2, 2)),
                    .dst_port = static_cast<std::uint16_t>(be(th, 2))};
  if ((flags & wire::kTcpAck) != 0) {
    rst.seq_number = static_cast<std::uint32_t>(be(th + 8, 4));
    rst.flags = wire::kTcpRst;
  } else {
    const std::size_t seglen = total - k.thoff - doff;
    rst.ack_number = static_cast<std::uint32_t>(be(th + 4, 4) + ((flags & wire::kTcpSyn) != 0) +
                                                ((flags & wire::kTcpFin) != 0) + seglen);
    rst.flags = wire::kTcpRst | wire::kTcpAck;
  }
  Net& net = k.state.net;
  Packet seg = net.host().packets().allocate(20);
  const auto bytes = seg.mutable_data();
  if (!k.v6) {
    const Ipv4Address src(static_cast<std::uint32_t>(be(k.data + 16, 4)));
    const Ipv4Address dst(static_cast<std::uint32_t>(be(k.data + 12, 4)));
    rst.emit(bytes, src, dst);
    auto& ip4 = net.host().builtins().ipv4();
    auto route = ip4.route_output(net, dst);
    if (!route) return;
    (void)ip4.send(net, std::move(seg), {.src = src, .dst = dst, .protocol = wire::IpProtocol::tcp,
                                         .dont_fragment = true}, *route);
    return;
  }
  Ipv6Address::Bytes s{}, d{};
  std::memcpy(s.data(), k.data + 24, 16);
  std::memcpy(d.data(), k.data + 8, 16);
  const Ipv6Address src(s), dst(d);
  rst.emit_without_checksum(bytes);
  wire::Checksum sum = wire::ipv6_pseudo_header(src, dst, kTcp, 20);
  sum.add(std::span<const std::byte>(bytes.data(), bytes.size()));
  const std::uint16_t c = sum.finish();
  bytes[16] = static_cast<std::byte>(c >> 8);
  bytes[17] = static_cast<std::byte>(c & 0xff);
  auto& ip6 = net.host().builtins().ipv6();
  auto route = ip6.route_output(net, dst);
  if (!route) return;
  (void)ip6.send(net, std::move(seg), {.src = src, .dst = dst, .next_header = wire::IpProtocol::tcp,
                                       .dont_fragment = true}, *route);
}

void reject(Pkt& k, const Reject& r) {
  Net& net = k.state.net;
  if (r.kind == RejectKind::tcp_reset) return send_reset(k);
  std::uint8_t code = r.code;
  if (r.kind == RejectKind::icmpx) code = (k.v6 ? kIcmpxV6 : kIcmpxV4)[std::min<std::size_t>(r.code, 3)];
  if (k.v6) {
    net.host().builtins().ipv6().send_icmp_error(net, k.packet, 1, code);  // ICMPV6_DEST_UNREACH
  } else {
    net.host().builtins().ipv4().send_icmp_error(net, k.packet, wire::IcmpType::dest_unreachable, code);
  }
}

void log_packet(Pkt& k, const Log& l, LogLimiter& limiter) {
  Host& host = k.state.net.host();
  if (!limiter.allow(host.now())) return;
  if (limiter.suppressed != 0) {
    host.log(fmt::format("nft log: {} lines suppressed", limiter.suppressed));
    limiter.suppressed = 0;
  }
  host.log(format_log(k.packet, k.state, l));
}

struct Frame {
  std::uint32_t chain, rule;
};

}  // namespace

bool LogLimiter::allow(Clock::time_point now) {
  constexpr std::int64_t kCost = kInterval / kBurst, kMax = kBurst * kCost;
  if (!primed) {
    primed = true;
    last = now;
  }
  const std::int64_t elapsed = std::max<std::int64_t>((now - last).count(), 0);
  tokens = elapsed > kMax - tokens ? kMax : tokens + elapsed;
  last = now;
  if (tokens >= kCost) {
    tokens -= kCost;
    return true;
  }
  ++suppressed;
  return false;
}

NfVerdict do_chain(const Compiled& compiled, std::uint32_t base, Packet& packet, const HookState& state,
                   LogLimiter& log) {
  Pkt k(packet, state);
  std::array<Frame, kJumpStack> stack;
  int depth = 0;
  std::uint32_t chain = base, next = 0;
  const auto dropped = [&](std::uint32_t by) {
    ++compiled.chains[by].cell->drops;
    return NfVerdict::drop;
  };
  for (;;) {
    const CompiledChain& cc = compiled.chains[chain];
    const auto rules = static_cast<std::uint32_t>(cc.rules.size());
    bool moved = false;
    while (next < rules && !moved) {
      const CompiledRule& r = cc.rules[next++];
      const Check* checks = cc.checks.data() + r.first_check;
      if (!std::all_of(checks, checks + r.checks, [&](const Check& c) { return holds(compiled, c, k); })) continue;
      const Action* actions = cc.actions.data() + r.first_action;
      for (std::uint32_t i = 0; i < r.actions && !moved; ++i) {
        const Action& a = actions[i];
        switch (a.kind) {
          case ActionKind::counter:
            ++a.cell->counter.packets;
            a.cell->counter.bytes += packet.size();
            continue;
          case ActionKind::limit:
            if (!limit_passes(a, state.net.host().now())) i = r.actions;  // NFT_BREAK: the next rule
            continue;
          case ActionKind::log: log_packet(k, compiled.logs[a.log], log); continue;
          case ActionKind::mark_set: packet.mark = a.mark; continue;
          case ActionKind::notrack: packet.set_nfct(nullptr, kUntracked); continue;
          case ActionKind::reject: reject(k, a.reject); return dropped(chain);
          case ActionKind::nat: {
            // nft_nat_eval: nat::hook runs nat chains only for a tracked
            // datagram, and the parser allows NAT nowhere else.
            conntrack::Entry* e = conntrack::Entry::of(packet);
            if (e == nullptr) return dropped(chain);
            const std::optional<NfVerdict> v = nat::apply(*e, compiled.nats[a.nat], state);
            if (!v) continue;  // nft_nat_inet_eval: another family's statement does nothing
            return *v == NfVerdict::drop ? dropped(chain) : *v;
          }
          case ActionKind::verdict: break;
        }
        switch (a.verdict) {
          case VerdictKind::accept: return NfVerdict::accept;
          case VerdictKind::drop: return dropped(chain);
          case VerdictKind::continue_: i = r.actions; break;  // on to the next rule
          case VerdictKind::return_: next = rules; moved = true; break;
          case VerdictKind::jump:
            if (depth == kJumpStack) return dropped(chain);  // validated at load; never reached
            stack[depth++] = {chain, next};
            [[fallthrough]];
          case VerdictKind::goto_:
            chain = a.target;
            next = 0;
            moved = true;
            break;
        }
      }
    }
    if (moved && next == 0) continue;  // entered a chain
    if (depth > 0) {
      --depth;
      chain = stack[depth].chain;
      next = stack[depth].rule;
      continue;
    }
    // The end of, or a return from, the base chain: its policy.
    const CompiledChain& b = compiled.chains[base];
    return b.policy == Policy::accept ? NfVerdict::accept : dropped(base);
  }
}

// ---- nf_log's format ----

namespace {

void append_mac(std::string& s, const Packet& p, const HookState& st) {
  // dump_mac_header's fallback: the link header's bytes, or none.
  s += "MAC=";
  const std::uint16_t ethertype = st.family == netns::Family::ipv6 ? 0x86dd : 0x0800;
  if (p.headroom() >= 14 && p.protocol == ethertype) {
    const auto* h = reinterpret_cast<const std::uint8_t*>(p.data().data()) - 14;
    if (be(h + 12, 2) == ethertype) {
      for (int i = 0; i < 14; ++i) s += fmt::format("{:02x}{}", h[i], i == 13 ? ' ' : ':');
      return;
    }
  }
  s += ' ';
}

void append_tcp(std::string& s, const std::uint8_t* th, std::size_t avail) {
  if (avail < 20) {
    s += fmt::format("INCOMPLETE [{} bytes] ", avail);
    return;
  }
  s += fmt::format("SPT={} DPT={} WINDOW={} RES=0x{:02x} ", be(th, 2), be(th + 2, 2), be(th + 14, 2),
                   (th[12] & 0x0f) << 2);
  static constexpr std::pair<std::uint8_t, const char*> kFlags[] = {
      {0x80, "CWR "}, {0x40, "ECE "}, {0x20, "URG "}, {0x10, "ACK "},
      {0x08, "PSH "}, {0x04, "RST "}, {0x02, "SYN "}, {0x01, "FIN "}};
  for (const auto& [bit, name] : kFlags) {
    if ((th[13] & bit) != 0) s += name;
  }
  s += fmt::format("URGP={} ", be(th + 18, 2));
}

void append_transport(std::string& s, std::uint8_t proto, bool fragment, const std::uint8_t* th, std::size_t avail) {
  switch (proto) {
    case kTcp:
      s += "PROTO=TCP ";
      if (!fragment) append_tcp(s, th, avail);
      return;
    case kUdp:
      s += "PROTO=UDP ";
      if (fragment) return;
      if (avail < 8) {
        s += fmt::format("INCOMPLETE [{} bytes] ", avail);
        return;
      }
      s += fmt::format("SPT={} DPT={} LEN={} ", be(th, 2), be(th + 2, 2), be(th + 4, 2));
      return;
    case kIcmp:
    case kIcmpv6:
      s += proto == kIcmp ? "PROTO=ICMP " : "PROTO=ICMPv6 ";
      if (fragment) return;
      if (avail < 4) {
        s += fmt::format("INCOMPLETE [{} bytes] ", avail);
        return;
      }
      s += fmt::format("TYPE={} CODE={} ", th[0], th[1]);
      // Echo request and reply carry an id and a sequence.
      if (avail >= 8 && ((proto == kIcmp && (th[0] == 0 || th[0] == 8)) || (proto == kIcmpv6 && (th[0] == 128 || th[0] == 129)))) {
        s += fmt::format("ID={} SEQ={} ", be(th + 4, 2), be(th + 6, 2));
      }
      return;
    default:
      s += fmt::format("PROTO={} ", proto);
  }
}

std::string ipv6_full(const std::uint8_t* a) {  // %pI6: eight groups of four digits
  std::string s;
  for (int i = 0; i < 16; i += 2) s += fmt::format("{}{:02x}{:02x}", i == 0 ? "" : ":", a[i], a[i + 1]);
  return s;
}

}  // namespace

std::string format_log(const Packet& packet, const HookState& state, const Log& log) {
  std::string s = fmt::format("{}IN={} OUT={} ", log.prefix.value_or(""), state.in != nullptr ? state.in->name() : "",
                              state.out != nullptr ? state.out->name() : "");
  if (state.in != nullptr) append_mac(s, packet, state);
  Pkt k(packet, state);
  k.find_l4();
  const std::uint8_t* d = k.data;
  if (!k.v6) {
    if (k.len < 20) return s + "TRUNCATED";
    const auto frag = be(d + 6, 2);
    s += fmt::format("SRC={}.{}.{}.{} DST={}.{}.{}.{} LEN={} TOS=0x{:02X} PREC=0x{:02X} TTL={} ID={} ", d[12], d[13],
                     d[14], d[15], d[16], d[17], d[18], d[19], be(d + 2, 2), d[1] & 0x1e, d[1] & 0xe0, d[8], be(d + 4, 2));
    if ((frag & 0x8000) != 0) s += "CE ";
    if ((frag & 0x4000) != 0) s += "DF ";
    if ((frag & 0x2000) != 0) s += "MF ";
    if ((frag & 0x1fff) != 0) s += fmt::format("FRAG:{} ", frag & 0x1fff);
  } else {
    if (k.len < 40) return s + "TRUNCATED";
    const auto word = be(d, 4);
    s += fmt::format("SRC={} DST={} LEN={} TC={} HOPLIMIT={} FLOWLBL={} ", ipv6_full(d + 8), ipv6_full(d + 24),
                     be(d + 4, 2) + 40, (word & 0x0ff00000) >> 20, d[7], word & 0x000fffff);
    if (k.fragment) s += fmt::format("FRAG:{} ", k.frag_off & 0xfff8);
  }
  if (k.has_l4) {
    const std::size_t avail = k.thoff <= k.len ? k.len - k.thoff : 0;
    append_transport(s, k.l4proto, k.fragment, d + k.thoff, avail);
  }
  if (packet.mark != 0) s += fmt::format("MARK=0x{:x} ", packet.mark);
  return s;
}

}  // namespace netns::nft
