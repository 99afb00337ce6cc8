#include "nft/hooks.hpp"

#include <algorithm>

#include "nat/nat.hpp"
#include "netns/conntrack.hpp"
#include "netns/host.hpp"
#include "netns/net.hpp"

namespace netns::nft {

Runtime::~Runtime() = default;

netfilter::Verdict Runtime::hook_fn(void* priv, Packet& packet, const netfilter::HookState& state) {
  auto* e = static_cast<Entry*>(priv);
  Runtime& rt = *e->runtime;
  ++rt.running_;
  const netfilter::Verdict v = do_chain(*e->compiled, e->chain, packet, state, rt.log_);
  if (--rt.running_ == 0 && !rt.retired_.empty()) [[unlikely]] rt.retired_.clear();
  return v;
}

netfilter::HookOps Runtime::NatHook::ops() {
  const bool dst = nat::manip_of(hook) == nat::ManipType::dst;
  return {&Runtime::nat_hook_fn, this, dst ? netfilter::kPriorityNatDst : netfilter::kPriorityNatSrc};
}

netfilter::Verdict Runtime::nat_hook_fn(void* priv, Packet& packet, const netfilter::HookState& state) {
  auto* h = static_cast<NatHook*>(priv);
  Runtime& rt = *h->runtime;
  ++rt.running_;
  const netfilter::Verdict v = nat::hook(packet, state, h->chains);
  if (--rt.running_ == 0 && !rt.retired_.empty()) [[unlikely]] rt.retired_.clear();
  return v;
}

namespace {

constexpr std::array<netns::Family, 2> kFamilies{netns::Family::ipv4, netns::Family::ipv6};

bool needs_conntrack(const Table& t) {
  for (const Chain& c : t.chains) {
    if (c.base && c.base->type == ChainType::nat) return true;
    for (const Rule& r : c.rules) {
      for (const Match& m : r.matches) {
        if (m.field == Field::ct_state || m.field == Field::ct_status) return true;
      }
      for (const Statement& s : r.statements) {
        if (std::holds_alternative<Nat>(s)) return true;
      }
    }
  }
  return false;
}

// nft_ct_init's nf_ct_netns_get, per table: an inet table's for both families.
std::array<bool, 2> conntrack_families(const Ruleset& rs) {
  std::array<bool, 2> out{};
  for (const Table& t : rs.tables) {
    if (!needs_conntrack(t)) continue;
    if (t.family != Family::ip6) out[0] = true;
    if (t.family != Family::ip) out[1] = true;
  }
  return out;
}

bool covers(Family table, netns::Family f) {
  return table == Family::inet || (table == Family::ip) == (f == netns::Family::ipv4);
}

constexpr std::array<netfilter::Hook, 4> kNatHooks{netfilter::Hook::prerouting, netfilter::Hook::input,
                                                   netfilter::Hook::output, netfilter::Hook::postrouting};

}  // namespace

Result<void> Runtime::get_conntrack(Net& net, const Generation& g) {
  for (std::size_t i = 0; i < kFamilies.size(); ++i) {
    if (!g.conntrack[i] || live_.conntrack[i]) continue;
    if (auto got = conntrack::netns_get(net, kFamilies[i]); !got) {
      for (std::size_t j = 0; j < i; ++j) {
        if (g.conntrack[j] && !live_.conntrack[j]) conntrack::netns_put(net, kFamilies[j]);
      }
      return got;
    }
  }
  return {};
}

void Runtime::put_conntrack(Net& net, const Generation& held, const Generation* kept) {
  for (std::size_t i = 0; i < kFamilies.size(); ++i) {
    if (held.conntrack[i] && (kept == nullptr || !kept->conntrack[i])) conntrack::netns_put(net, kFamilies[i]);
  }
}

Result<void> Runtime::commit(Net& net, const Ruleset& next) {
  Generation g{compile(next, cells_, SipKey::derive(net.host().secret(), kSipPurposeNftSet)), {}, {},
               conntrack_families(next)};
  // Conntrack's hooks first, so the chains never see a datagram it did not track.
  if (auto got = get_conntrack(net, g); !got) return got;
  for (const CompiledBase& b : g.compiled->bases) {
    for (const netns::Family f : kFamilies) {
      if (!covers(b.family, f)) continue;
      g.entries.push_back(std::make_unique<Entry>(Entry{this, g.compiled.get(), b.chain, f,
                                                        static_cast<netfilter::Hook>(b.hook), b.priority,
                                                        b.type == ChainType::nat}));
    }
  }
  make_nat_hooks(g);
  if (auto added = register_all(net, g); !added) {
    put_conntrack(net, g, &live_);
    cells_.collect();
    return added;
  }
  unregister(net, live_);
  put_conntrack(net, live_, &g);
  retire(std::move(live_));
  live_ = std::move(g);
  cells_.collect();
  return {};
}

void Runtime::clear(Net& net) {
  unregister(net, live_);
  put_conntrack(net, live_, nullptr);
  retire(std::move(live_));
  live_ = {};
}

void Runtime::make_nat_hooks(Generation& g) {
  for (const netns::Family f : kFamilies) {
    const auto nat_chain_of = [&](const auto& e) { return e->nat && e->family == f; };
    if (std::none_of(g.entries.begin(), g.entries.end(), nat_chain_of)) continue;
    for (const netfilter::Hook h : kNatHooks) {
      auto nat = std::make_unique<NatHook>(NatHook{this, f, h, {}});
      for (const auto& e : g.entries) {
        if (nat_chain_of(e) && e->hook == h) nat->chains.push_back(e->ops());
      }
      std::stable_sort(nat->chains.begin(), nat->chains.end(),
                       [](const netfilter::HookOps& a, const netfilter::HookOps& b) { return a.priority < b.priority; });
      g.nat_hooks.push_back(std::move(nat));
    }
  }
}

std::vector<Runtime::Registration> Runtime::registrations(Generation& g) {
  std::vector<Registration> out;
  for (const auto& e : g.entries) {
    if (!e->nat) out.push_back({e->family, e->hook, e->ops()});
  }
  for (const auto& n : g.nat_hooks) out.push_back({n->family, n->hook, n->ops()});
  return out;
}

Result<void> Runtime::register_all(Net& net, Generation& g) {
  const std::vector<Registration> all = registrations(g);
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (auto added = netfilter::hook_table(net, all[i].family).add(all[i].hook, all[i].ops); !added) {
      for (std::size_t j = 0; j < i; ++j) netfilter::hook_table(net, all[j].family).remove(all[j].hook, all[j].ops);
      return added;
    }
  }
  return {};
}

void Runtime::unregister(Net& net, Generation& g) {
  for (const Registration& r : registrations(g)) netfilter::hook_table(net, r.family).remove(r.hook, r.ops);
}

void Runtime::retire(Generation g) {
  if (running_ > 0) retired_.push_back(std::move(g));
}

}  // namespace netns::nft
