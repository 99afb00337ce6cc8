// The per-namespace nftables state: a pernet subsystem (registered by the
// composition root, src/stack/builtins.cpp) whose slot holds the live
// ruleset. A transaction builds a new Ruleset and swaps the pointer, so a
// reader holding the old one (the packet path's compiled form, later) keeps
// a consistent snapshot; `generation` tells it when to rebuild.
#pragma once

#include <cstdint>
#include <memory>

#include "netns/pernet.hpp"
#include "nft/hooks.hpp"
#include "nft/ruleset.hpp"

namespace netns::nft {

struct NftNet {
  std::shared_ptr<const Ruleset> ruleset = std::make_shared<const Ruleset>();
  std::uint64_t generation = 0;  // bumped by every successful run
  // The ruleset's compiled form on the hooks, its counters (nft/hooks.hpp).
  std::unique_ptr<Runtime> runtime = std::make_unique<Runtime>();
};

class NftOps : public PernetOps {
 public:
  explicit NftOps(Host& host) : state_(host) {}
  [[nodiscard]] Result<void> init(Net& net) override;
  void exit(Net& net) override;

  NftNet& state(Net& net) const { return state_.get(net); }

 private:
  PernetSlot<NftNet> state_;
};

}  // namespace netns::nft
