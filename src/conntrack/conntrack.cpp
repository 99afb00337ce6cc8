// nf_conntrack_in and nf_conntrack_confirm for one namespace (see
// conntrack/conntrack.hpp), with ICMP errors as related and the collector.
#include "conntrack/conntrack.hpp"

#include <algorithm>

#include "conntrack/hooks.hpp"
#include "conntrack/proto.hpp"
#include "conntrack/table.hpp"
#include "netns/host.hpp"
#include "netns/net.hpp"
#include "netns/wire/bytes.hpp"
#include "netns/wire/checksum.hpp"
#include "netns/wire/ipv4.hpp"
#include "netns/wire/ipv6.hpp"
#include "stack/builtins.hpp"

namespace netns::conntrack {

namespace {

// A key per namespace from the Host's secret: one namespace's buckets say
// nothing of another's.
SipKey table_key(Host& host, Net& net) { return SipKey::derive(host.secret(), kSipPurposeConntrack + net.id()); }

// The datagram cut to the length its IP header gives (link padding off).
std::span<const std::byte> ip_extent(Family family, std::span<const std::byte> datagram) {
  if (family == Family::ipv4) {
    auto ip = wire::Ipv4View::checked(datagram);
    return ip ? ip->bytes() : std::span<const std::byte>{};
  }
  auto ip = wire::Ipv6View::checked(datagram);
  return ip ? ip->bytes() : std::span<const std::byte>{};
}

bool is_icmp_error(Family family, std::uint8_t type) {
  if (family == Family::ipv6) return type < 128;
  switch (type) {
    case 3:   // destination unreachable
    case 4:   // source quench
    case 5:   // redirect
    case 11:  // time exceeded
    case 12:  // parameter problem
      return true;
    default:
      return false;
  }
}

// ICMPv6 that Linux never tracks: MLD and neighbour discovery (noct_valid_new).
bool icmpv6_untracked(std::uint8_t type) {
  switch (type) {
    case 130: case 131: case 132:            // MLD query, report, done
    case 133: case 134: case 135: case 136:  // router and neighbour solicitation, advertisement
    case 143:                                // MLDv2 report
      return true;
    default:
      return false;
  }
}

L4Verdict run_tracker(Entry& ct, const Datagram& d, CtInfo info, TrackContext& ctx) {
  switch (ct.protocol()) {
    case kProtoTcp:
      return tcp_packet(ct, d, info, ctx);
    case kProtoUdp:
      return udp_packet(ct, d, info, ctx);
    default:
      if (ct.tuple(Dir::original).is_icmp()) return icmp_packet(ct, d, info, ctx);
      return generic_packet(ct, d, info, ctx);
  }
}

}  // namespace

ConntrackNet::ConntrackNet(Net& net, Host& host, const SipKey& key)
    : net_(net), host_(host), table_(std::make_unique<Table>(net, key)), gc_(host, [this] { run_gc(); }) {}

ConntrackNet::~ConntrackNet() = default;

void ConntrackNet::arm_gc() {
  if (!gc_.pending() && table_->confirmed() > 0) gc_.schedule(host_.now() + kGcInterval);
}

void ConntrackNet::run_gc() {
  table_->gc(host_.now(), std::max(kGcMinBuckets, table_->buckets() / 8));
  arm_gc();
}

Conntrack::Conntrack(Host& host) : host_(host), slot_(host), hooks_(host) {}
Conntrack::~Conntrack() = default;

Result<void> Conntrack::init(Net&) { return {}; }

void Conntrack::exit(Net& net) {
  hooks_.reset(net);
  slot_.reset(net);
}

HookNet& Conntrack::hooks(Net& net) {
  if (HookNet* h = hooks_.find(net)) return *h;
  return hooks_.emplace(net, net, *this);
}

ConntrackNet& Conntrack::state(Net& net) {
  if (ConntrackNet* s = slot_.find(net)) return *s;
  return slot_.emplace(net, net, host_, table_key(host_, net));
}

Tracked Conntrack::track(Net& net, Family family, std::span<const std::byte> datagram, TrackParams params) {
  ConntrackNet& s = state(net);
  Table& table = s.table();
  Stats& stats = table.stats();
  Datagram d{family, ip_extent(family, datagram), {}, params};
  auto at = d.bytes.empty() ? std::nullopt : l4_position(family, d.bytes);
  if (!at) {
    ++stats.invalid;
    return {};
  }
  // Field by field: one wide copy of the returned optional would stall on
  // the narrow stores that made it.
  d.l4.protocol = at->protocol;
  d.l4.offset = at->offset;
  const bool icmp = at->protocol == (family == Family::ipv4 ? kProtoIcmp : kProtoIcmpv6);
  if (icmp && d.l4_bytes().size() >= 1) {
    bool handled = false;
    Tracked t = track_icmp_error(s, d, &handled);
    if (handled) return t;
  }
  TrackContext ctx{net.sysctl(), host_.now(), table};
  // A TCP connection reopened in TIME_WAIT kills its entry: look up once more.
  for (int attempt = 0; attempt < 2; ++attempt) {
    Tuple tuple;
    if (!tuple_into(family, d.bytes, d.l4, tuple)) break;
    Tracked t;
    if (TupleHash* h = table.find_prefetched(tuple, ctx.now)) {
      ++stats.found;
      Entry& e = *h->entry;
      t.ct = CtRef(&e);
      if (e.direction_of(h) == Dir::reply) {
        t.info = CtInfo::established_reply;
      } else {
        t.info = e.test(kStatusSeenReply) ? CtInfo::established : CtInfo::new_;
      }
    } else {
      auto reply = invert(tuple);
      if (!reply) break;
      t.ct = table.make(tuple, *reply, ctx.now);
      if (!t.ct) {
        ++stats.drop;
        t.drop = true;
        return t;
      }
    }
    switch (run_tracker(*t.ct, d, t.info, ctx)) {
      case L4Verdict::accept:
        if (t.info == CtInfo::established_reply) t.ct->status |= kStatusSeenReply;
        return t;
      case L4Verdict::repeat:
        continue;
      case L4Verdict::invalid:
        break;
    }
    break;
  }
  ++stats.invalid;
  return {};
}

void Conntrack::prefetch(Net& net, std::span<const std::byte> datagram) {
  ConntrackNet* s = slot_.find(net);
  if (s == nullptr || datagram.empty()) return;
  const auto version = std::to_integer<unsigned>(datagram[0]) >> 4;
  if (version != 4 && version != 6) return;
  const Family family = version == 4 ? Family::ipv4 : Family::ipv6;
  const auto bytes = ip_extent(family, datagram);
  auto at = bytes.empty() ? std::nullopt : l4_position(family, bytes);
  if (!at || (at->protocol != kProtoTcp && at->protocol != kProtoUdp)) return;
  Tuple tuple;
  if (tuple_into(family, bytes, *at, tuple)) s->table().prefetch(tuple);
}

Tracked Conntrack::track_icmp_error(ConntrackNet& s, const Datagram& d, bool* handled) {
  Stats& stats = s.table().stats();
  auto icmp = d.l4_bytes();
  *handled = true;
  if (icmp.size() < 8) {
    ++stats.error;  // short packet
    return {};
  }
  const std::uint8_t type = wire::load_u8(icmp, 0);
  if (d.family == Family::ipv6 && icmpv6_untracked(type)) return Tracked{.untracked = true};
  if (d.family == Family::ipv4 && type > 18) {
    ++stats.error;  // no such ICMP type (NR_ICMP_TYPES)
    return {};
  }
  if (!is_icmp_error(d.family, type)) {
    *handled = false;  // a query or an answer: tracked as its own flow
    return {};
  }
  if (d.verify_checksum()) {
    const bool ok = d.family == Family::ipv4
                        ? wire::internet_checksum(icmp) == 0
                        : wire::ipv6_transport_checksum(wire::load_ipv6(d.bytes, 8), wire::load_ipv6(d.bytes, 24),
                                                        kProtoIcmpv6, icmp) == 0;
    if (!ok) {
      ++stats.error;
      return {};
    }
  }
  // The quoted datagram went from us to the error's sender: its answer's
  // tuple is what the table knows.
  auto quoted = icmp.subspan(8);
  auto inner_at = quoted_l4_position(d.family, quoted);
  auto inner = inner_at ? tuple_at(d.family, quoted, *inner_at) : std::nullopt;
  auto target = inner ? invert(*inner) : std::nullopt;
  TupleHash* h = target ? s.table().find(*target, host_.now()) : nullptr;
  if (h == nullptr) {
    ++stats.error;
    return {};
  }
  // The error must go to whoever sent the quoted datagram.
  Tuple outer;
  outer.family = d.family;
  if (auto t = tuple_at(d.family, d.bytes, {d.l4.protocol, d.l4.offset}); t) outer = *t;
  const Entry& e = *h->entry;
  const Dir dir = e.direction_of(h);
  if (outer.dst != e.tuple(dir).dst) {
    ++stats.error;
    return {};
  }
  return Tracked{.ct = CtRef(h->entry), .info = dir == Dir::reply ? CtInfo::related_reply : CtInfo::related};
}

bool Conntrack::confirm(Net& net, Tracked& tracked) {
  if (!tracked.ct || tracked.ct->confirmed() || direction(tracked.info) != Dir::original) return true;
  ConntrackNet& s = state(net);
  Table& table = s.table();
  Entry& e = *tracked.ct;
  if (e.test(kStatusDying)) {
    ++table.stats().insert_failed;
    tracked.ct.reset();
    return false;
  }
  TupleHash* clash = table.insert(e, host_.now());
  if (clash == nullptr) {
    s.arm_gc();
    return true;
  }
  // Two datagrams of one new flow raced to confirm: the second adopts the
  // first's entry when they are the same connection (nf_ct_resolve_clash),
  // which only protocols without a state machine allow.
  Entry& other = *clash->entry;
  const bool same = other.tuple(Dir::original) == e.tuple(Dir::original) && other.tuple(Dir::reply) == e.tuple(Dir::reply);
  if (same && e.protocol() != kProtoTcp) {
    ++table.stats().clash_resolve;
    tracked.ct = CtRef(&other);
    return true;
  }
  ++table.stats().insert_failed;
  tracked.ct.reset();
  return false;
}

Stats stats(Net& net) {
  ConntrackNet* s = net.host().builtins().conntrack().find(net);
  return s != nullptr ? s->table().stats() : Stats{};
}

std::size_t count(Net& net) {
  ConntrackNet* s = net.host().builtins().conntrack().find(net);
  return s != nullptr ? s->table().count() : 0;
}

void flush(Net& net) {
  if (ConntrackNet* s = net.host().builtins().conntrack().find(net)) s->table().flush();
}

}  // namespace netns::conntrack
