// Conntrack's hook entries (conntrack/hooks.hpp): Linux's
// ipv4_conntrack_defrag / nf_ct_frag6_gather, nf_conntrack_in and
// nf_conntrack_confirm as nf_hook_ops, and nf_ct_netns_get/put.
#include "conntrack/hooks.hpp"

#include "conntrack/conntrack.hpp"
#include "conntrack/entry.hpp"
#include "conntrack/table.hpp"
#include "ipv4/fragment.hpp"
#include "ipv6/fragment.hpp"
#include "netns/conntrack.hpp"
#include "netns/device.hpp"
#include "netns/net.hpp"
#include "netns/packet.hpp"
#include "netns/wire/bytes.hpp"
#include "netns/wire/ipv4.hpp"
#include "netns/wire/ipv6.hpp"
#include "netns/wire/ipv6_ext.hpp"
#include "stack/builtins.hpp"

namespace netns::conntrack {

using netfilter::Verdict;
namespace nf = netfilter;

namespace {

// track() passes the hook on by its number: both are Linux's NF_INET_*.
static_assert(static_cast<int>(Hook::prerouting) == static_cast<int>(nf::Hook::prerouting) &&
              static_cast<int>(Hook::output) == static_cast<int>(nf::Hook::output) &&
              static_cast<int>(Hook::postrouting) == static_cast<int>(nf::Hook::postrouting));

// Linux's two defrag users per family: what arrives, and what this
// namespace sends. Their queues never mix, nor mix with local reassembly.
std::size_t defrag_user(nf::Hook h) { return h == nf::Hook::output ? 1 : 0; }

// A packet conntrack has seen already (loopback: tracked on output, it
// comes back in through prerouting) or must not see (`notrack`, NDP).
bool skip(const Packet& packet) { return packet.nfct() != nullptr || packet.nfct_info() == kCtInfoUntracked; }

}  // namespace

HookNet::HookNet(Net& net, Conntrack& conntrack) : net_(net), conntrack_(conntrack) {}

HookNet::~HookNet() {
  for (const Family f : {Family::ipv4, Family::ipv6}) {
    if (users(f) > 0) unregister(f);
  }
}

std::array<HookNet::Registration, 6> HookNet::registrations() {
  return {{
      {nf::Hook::prerouting, {&HookNet::defrag, this, nf::kPriorityConntrackDefrag}},
      {nf::Hook::output, {&HookNet::defrag, this, nf::kPriorityConntrackDefrag}},
      // Looked up a few frames ahead once the table is large (follow_table).
      {nf::Hook::prerouting, track_ops(false)},
      {nf::Hook::output, track_ops(false)},
      {nf::Hook::input, {&HookNet::confirm, this, nf::kPriorityConntrackConfirm}},
      {nf::Hook::postrouting, {&HookNet::confirm, this, nf::kPriorityConntrackConfirm}},
  }};
}

Result<void> HookNet::get(Family family) {
  std::uint32_t& users = users_[index(family)];
  if (users > 0) {
    ++users;
    return {};
  }
  const auto entries = registrations();
  nf::HookTable& hooks = nf::hook_table(net_, family);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto added = hooks.add(entries[i].hook, entries[i].ops);
    if (!added) {
      for (std::size_t j = 0; j < i; ++j) hooks.remove(entries[j].hook, entries[j].ops);
      return added;
    }
  }
  users = 1;
  return {};
}

void HookNet::put(Family family) {
  std::uint32_t& users = users_[index(family)];
  if (users == 0) return;
  if (--users == 0) unregister(family);
}

nf::HookOps HookNet::track_ops(bool prefetching) {
  return {&HookNet::track, this, nf::kPriorityConntrack, prefetching ? &HookNet::prefetch : nullptr};
}

// The receive path's look-ahead costs a table whose buckets stay in cache
// more than it saves: prerouting's entry carries its prefetch only once
// the table has kPrefetchMinBuckets or more (it grows on confirmation, and
// never shrinks).
void HookNet::follow_table(Family family) {
  const ConntrackNet* s = conntrack_.find(net_);
  const bool want = s != nullptr && s->table().buckets() >= kPrefetchMinBuckets;
  bool& have = prefetching_[index(family)];
  if (want == have) return;
  nf::hook_table(net_, family).exchange(nf::Hook::prerouting, track_ops(have), track_ops(want));
  have = want;
}

void HookNet::unregister(Family family) {
  nf::HookTable& hooks = nf::hook_table(net_, family);
  hooks.remove(nf::Hook::prerouting, track_ops(true));  // registrations() has it without its prefetch
  prefetching_[index(family)] = false;
  for (const Registration& r : registrations()) hooks.remove(r.hook, r.ops);
}

// ---- the entries ----

Verdict HookNet::defrag(void* priv, Packet& packet, const nf::HookState& state) {
  if (skip(packet)) return Verdict::accept;
  auto* self = static_cast<HookNet*>(priv);
  return state.family == Family::ipv4 ? self->defrag4(packet, state) : self->defrag6(packet, state);
}

// ipv4_conntrack_defrag: a fragment goes into the queue (stolen); the one
// that completes it comes back as the whole datagram.
Verdict HookNet::defrag4(Packet& packet, const nf::HookState& state) {
  // The layer validated the header: MF and the offset are read straight,
  // so a whole datagram costs one load here.
  const auto bytes = packet.data();
  if (bytes.size() < wire::Ipv4Repr::kHeaderLen || (wire::load_be16(bytes, 6) & 0x3fff) == 0) return Verdict::accept;
  auto ip = wire::Ipv4View::checked(bytes);
  if (!ip) return Verdict::accept;
  auto& queues = defrag4_[defrag_user(state.hook)];
  // No time exceeded from here: only the host that reassembles for its
  // own delivery sends it (ip_expire skips conntrack's users).
  if (!queues) queues = std::make_unique<ipv4::Reassembler>(net_, [](Packet) {});
  auto whole = queues->add(std::move(packet), *ip);
  if (!whole) return Verdict::stolen;
  packet = std::move(*whole);
  return Verdict::accept;
}

// nf_ct_frag6_gather: the same, found past the extension headers the
// fragment header may follow.
Verdict HookNet::defrag6(Packet& packet, const nf::HookState& state) {
  auto ip = wire::Ipv6View::checked(packet.data());
  if (!ip) return Verdict::accept;
  // A fragment header is one, or follows others (ipv6_ext_hdr's kinds): an
  // upper layer straight after the fixed header is no fragment.
  switch (ip->next_header()) {
    case 0: case 43: case 44: case 51: case 60:  // hop-by-hop, routing, fragment, AH, destination options
      break;
    default:
      return Verdict::accept;
  }
  const wire::Ipv6ExtContext context{};
  wire::Ipv6ExtPosition from{};
  if (ip->next_header() == 0) {
    const auto hbh = wire::process_hop_by_hop(*ip, context);
    if (hbh.verdict != wire::Ipv6ExtVerdict::ok) return Verdict::accept;  // the layer judges it
    from = hbh.next();
  }
  const auto walk = wire::walk_extension_headers(*ip, context, from);
  if (walk.verdict != wire::Ipv6ExtVerdict::fragment) return Verdict::accept;
  auto& queues = defrag6_[defrag_user(state.hook)];
  if (!queues) queues = std::make_unique<ipv6::Reassembler>(net_, [](Packet) {});
  const Device* dev = state.in != nullptr ? state.in : state.out;
  auto whole = queues->add(std::move(packet), *ip, walk, dev != nullptr ? dev->ifindex() : 0);
  if (!whole) return Verdict::stolen;
  packet = std::move(whole->packet);
  return Verdict::accept;
}

// nf_conntrack_in. Checksums are conntrack's to judge only for what came
// from outside the process (nf_conntrack_checksum at prerouting).
Verdict HookNet::track(void* priv, Packet& packet, const nf::HookState& state) {
  if (skip(packet)) return Verdict::accept;
  auto* self = static_cast<HookNet*>(priv);
  const bool verified = packet.checksum_partial || (state.in != nullptr && state.in->offloads_checksum());
  const TrackParams params{.hook = static_cast<Hook>(state.hook), .checksum_verified = verified};
  Tracked t = self->conntrack_.track(state.net, state.family, packet.data(), params);
  if (t.drop) return Verdict::drop;  // counted in stats().drop
  if (t.untracked) {
    packet.set_nfct(nullptr, kCtInfoUntracked);
  } else if (t.ct) {
    packet.set_nfct(t.ct.get(), static_cast<std::uint8_t>(t.info));
  }
  return Verdict::accept;
}

void HookNet::prefetch(void* priv, Net& net, std::span<const std::byte> datagram) {
  static_cast<HookNet*>(priv)->conntrack_.prefetch(net, datagram);
}

// ipv4_confirm / ipv6_confirm: a new connection's first datagram, leaving
// or delivered, puts its entry in the table.
Verdict HookNet::confirm(void* priv, Packet& packet, const nf::HookState& state) {
  Entry* e = Entry::of(packet);
  if (e == nullptr || e->confirmed()) return Verdict::accept;
  const auto info = static_cast<CtInfo>(packet.nfct_info());
  if (direction(info) != Dir::original) return Verdict::accept;
  Tracked t{.ct = CtRef(e), .info = info};
  auto* self = static_cast<HookNet*>(priv);
  if (!self->conntrack_.confirm(state.net, t)) return Verdict::drop;  // insert_failed
  self->follow_table(state.family);  // the table may have grown
  if (t.ct.get() != e) packet.set_nfct(t.ct.get(), static_cast<std::uint8_t>(info));  // the clash's winner
  return Verdict::accept;
}

// ---- the public switch (netns/conntrack.hpp) ----

Result<void> netns_get(Net& net, Family family) { return net.host().builtins().conntrack().hooks(net).get(family); }

void netns_put(Net& net, Family family) {
  if (HookNet* h = net.host().builtins().conntrack().find_hooks(net)) h->put(family);
}

std::uint32_t netns_users(Net& net, Family family) {
  const HookNet* h = net.host().builtins().conntrack().find_hooks(net);
  return h != nullptr ? h->users(family) : 0;
}

}  // namespace netns::conntrack
