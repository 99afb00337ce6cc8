#include "nft/hooks.hpp"

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

namespace {

constexpr std::array<netns::Family, 2> kFamilies{netns::Family::ipv4, netns::Family::ipv6};

bool needs_conntrack(const Table& t) {
  for (const Chain& c : t.chains) {
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
  Generation g{compile(next, cells_, SipKey::derive(net.host().secret(), kSipPurposeNftSet)), {}, conntrack_families(next)};
  // Conntrack's hooks first, so the chains never see a datagram it did not track.
  if (auto got = get_conntrack(net, g); !got) return got;
  for (const CompiledBase& b : g.compiled->bases) {
    const auto hook = static_cast<netfilter::Hook>(b.hook);
    for (const netns::Family f : kFamilies) {
      if ((b.family == Family::ip && f != netns::Family::ipv4) || (b.family == Family::ip6 && f != netns::Family::ipv6)) {
        continue;
      }
      g.entries.push_back(std::make_unique<Entry>(Entry{this, g.compiled.get(), b.chain, f, hook, b.priority}));
      if (auto added = netfilter::hook_table(net, f).add(hook, g.entries.back()->ops()); !added) {
        g.entries.pop_back();
        unregister(net, g);
        put_conntrack(net, g, &live_);
        cells_.collect();
        return added;
      }
    }
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

void Runtime::unregister(Net& net, Generation& g) {
  for (const auto& e : g.entries) netfilter::hook_table(net, e->family).remove(e->hook, e->ops());
}

void Runtime::retire(Generation g) {
  if (running_ > 0) retired_.push_back(std::move(g));
}

}  // namespace netns::nft
