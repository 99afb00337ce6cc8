// nft/hooks.hpp — a namespace's base chains on its netfilter hooks.
//
// Runtime holds the compiled form of the live ruleset and one HookOps per
// base chain and IP family (ip: IPv4, ip6: IPv6, inet: both), at the
// chain's hook and priority. nft::run calls commit() with the ruleset it
// is about to swap in: the new entries are registered before the old ones
// go, so no datagram slips between them, and a namespace without base
// chains ends with nothing registered (its hooks null again). A hook run
// may commit (a log sink that loads a ruleset): the compiled form it runs
// on is retired, not freed, until no run is on it.
//
// Chains of type nat are not registered on their own (Linux's
// nf_nat_register_fn): once a family has one, a NAT hook is registered at
// prerouting and output (kPriorityNatDst) and at input and postrouting
// (kPriorityNatSrc), and hands nat::hook the family's nat chains of that
// hook in priority order. The chains choose a connection's translation on
// its first datagram; the hook rewrites every datagram of it, replies too,
// whether or not the hook it passes has a chain.
#pragma once

#include <array>
#include <memory>
#include <vector>

#include "netfilter/hooks.hpp"
#include "nft/compile.hpp"
#include "nft/eval.hpp"

namespace netns {
class Net;
}

namespace netns::nft {

class Runtime {
 public:
  Runtime() = default;
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  ~Runtime();

  // Compiles `next` and moves the registrations to it. On failure (more
  // than netfilter::kMaxHookEntries on a hook) the old registrations stay
  // and the error is returned: the caller keeps the old ruleset.
  [[nodiscard]] Result<void> commit(Net& net, const Ruleset& next);
  // Unregisters everything (pernet exit).
  void clear(Net& net);

  // The live state of a statement or chain, by the model's identity (null:
  // no such cell yet, e.g. a rule without counter).
  const CellStore& cells() const { return cells_; }

 private:
  // One base chain on one family's hook: the HookOps's priv.
  struct Entry {
    Runtime* runtime;
    const Compiled* compiled;
    std::uint32_t chain;
    netns::Family family;
    netfilter::Hook hook;
    int priority;
    bool nat;  // run by a NatHook, not registered itself
    netfilter::HookOps ops() { return {&Runtime::hook_fn, this, priority}; }
  };
  // A family's NAT at one hook (Linux's nf_nat_lookup_hook_priv).
  struct NatHook {
    Runtime* runtime;
    netns::Family family;
    netfilter::Hook hook;
    std::vector<netfilter::HookOps> chains;  // the nat chains at `hook`, by priority
    netfilter::HookOps ops();
  };
  struct Generation {
    std::shared_ptr<Compiled> compiled;
    std::vector<std::unique_ptr<Entry>> entries;
    std::vector<std::unique_ptr<NatHook>> nat_hooks;
    // The families whose conntrack this generation holds (nf_ct_netns_get):
    // those of tables with a `ct` match or a NAT statement.
    std::array<bool, 2> conntrack{};
  };
  static netfilter::Verdict hook_fn(void* priv, Packet& packet, const netfilter::HookState& state);
  static netfilter::Verdict nat_hook_fn(void* priv, Packet& packet, const netfilter::HookState& state);
  struct Registration {
    netns::Family family;
    netfilter::Hook hook;
    netfilter::HookOps ops;
  };
  // What g puts on the hook tables: its chains that are not nat, and its NAT hooks.
  static std::vector<Registration> registrations(Generation& g);
  // Registers g's chains and NAT hooks; on failure none of them.
  Result<void> register_all(Net& net, Generation& g);
  // The NatHooks of every family that has a nat chain in g, holding its chains.
  void make_nat_hooks(Generation& g);
  void unregister(Net& net, Generation& g);
  // Takes the conntrack references `g` needs and `live_` does not hold yet;
  // on failure takes none.
  Result<void> get_conntrack(Net& net, const Generation& g);
  // Gives back those `held` has and `kept` does not.
  static void put_conntrack(Net& net, const Generation& held, const Generation* kept);
  void retire(Generation g);

  Generation live_;
  std::vector<Generation> retired_;  // replaced while a hook ran on them
  std::uint32_t running_ = 0;
  CellStore cells_;
  LogLimiter log_;
};

}  // namespace netns::nft
