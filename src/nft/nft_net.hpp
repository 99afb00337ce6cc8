// The per-namespace nftables state: a pernet subsystem (registered by the
// composition root, src/stack/builtins.cpp) whose slot holds the live
// ruleset. A transaction builds a new Ruleset and swaps the pointer, so a
// reader holding the old one (the packet path's compiled form, later) keeps
// a consistent snapshot; `generation` tells it when to rebuild.
#pragma once

#include <cstdint>
#include <memory>

#include "netns/host.hpp"
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

class NftOps final : public PernetOps, public NetdevListener {
 public:
  explicit NftOps(Host& host) : host_(host), state_(host) { host.add_netdev_listener(*this); }
  ~NftOps() override { host_.remove_netdev_listener(*this); }
  [[nodiscard]] Result<void> init(Net& net) override;
  void exit(Net& net) override;

  NftNet& state(Net& net) const { return state_.get(net); }

  // nft_masq's notifiers (masq_device_event, masq_inet_event): what was
  // masqueraded out of a device is forgotten when it goes down or away, or,
  // for the address it took, when that address is deleted.
  void on_netdev_event(NetdevEvent event, Device& dev) override;

 private:
  Host& host_;
  PernetSlot<NftNet> state_;
};

}  // namespace netns::nft
