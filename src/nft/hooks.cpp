#include "nft/hooks.hpp"

#include "ipv4/stack.hpp"
#include "ipv6/stack.hpp"
#include "netns/host.hpp"
#include "netns/net.hpp"
#include "stack/builtins.hpp"

namespace netns::nft {

Runtime::~Runtime() = default;

netfilter::HookTable& Runtime::table(Net& net, netns::Family family) {
  return family == netns::Family::ipv6 ? net.host().builtins().ipv6().hooks(net)
                                       : net.host().builtins().ipv4().hooks(net);
}

netfilter::Verdict Runtime::hook_fn(void* priv, Packet& packet, const netfilter::HookState& state) {
  auto* e = static_cast<Entry*>(priv);
  Runtime& rt = *e->runtime;
  ++rt.running_;
  const netfilter::Verdict v = do_chain(*e->compiled, e->chain, packet, state, rt.log_);
  if (--rt.running_ == 0 && !rt.retired_.empty()) [[unlikely]] rt.retired_.clear();
  return v;
}

Result<void> Runtime::commit(Net& net, const Ruleset& next) {
  Generation g{compile(next, cells_, SipKey::derive(net.host().secret(), kSipPurposeNftSet)), {}};
  for (const CompiledBase& b : g.compiled->bases) {
    const auto hook = static_cast<netfilter::Hook>(b.hook);
    for (const netns::Family f : {netns::Family::ipv4, netns::Family::ipv6}) {
      if ((b.family == Family::ip && f != netns::Family::ipv4) || (b.family == Family::ip6 && f != netns::Family::ipv6)) {
        continue;
      }
      g.entries.push_back(std::make_unique<Entry>(Entry{this, g.compiled.get(), b.chain, f, hook, b.priority}));
      if (auto added = table(net, f).add(hook, g.entries.back()->ops()); !added) {
        g.entries.pop_back();
        unregister(net, g);
        cells_.collect();
        return added;
      }
    }
  }
  unregister(net, live_);
  retire(std::move(live_));
  live_ = std::move(g);
  cells_.collect();
  return {};
}

void Runtime::clear(Net& net) {
  unregister(net, live_);
  retire(std::move(live_));
  live_ = {};
}

void Runtime::unregister(Net& net, Generation& g) {
  for (const auto& e : g.entries) table(net, e->family).remove(e->hook, e->ops());
}

void Runtime::retire(Generation g) {
  if (running_ > 0) retired_.push_back(std::move(g));
}

}  // namespace netns::nft
