// netns::nft::run and list_ruleset: the transaction around the parser and
// the printer, on the namespace's NftNet.
#include "netns/nft.hpp"

#include "nat/nat.hpp"
#include "netns/device.hpp"
#include "netns/host.hpp"
#include "netns/net.hpp"
#include "nft/nft_net.hpp"
#include "nft/parser.hpp"
#include "nft/printer.hpp"
#include "stack/builtins.hpp"

namespace netns::nft {

Result<void> NftOps::init(Net& net) {
  state_.emplace(net);
  return {};
}

void NftOps::exit(Net& net) {
  state_.get(net).runtime->clear(net);
  state_.reset(net);
}

void NftOps::on_netdev_event(NetdevEvent event, Device& dev) {
  switch (event) {
    case NetdevEvent::down:
    case NetdevEvent::unregistering: nat::forget_masqueraded(dev.net(), dev); break;
    case NetdevEvent::inet_address_removed: nat::forget_masqueraded(dev.net(), dev, true); break;
    default: break;
  }
}

Result<void> run(Net& net, std::string_view script) {
  std::string ignored;
  return run(net, script, ignored);
}

Result<void> run(Net& net, std::string_view script, std::string& diagnostics) {
  NftNet& state = net.host().builtins().nft().state(net);
  // The copy shares every set with the live ruleset; a command that changes
  // a set clones that one set (Table::set_for_write).
  auto next = std::make_shared<Ruleset>(*state.ruleset);
  const DeviceLookup devices{[&net](std::string_view name) -> std::optional<int> {
    if (const Device* dev = net.device(name)) return dev->ifindex();
    return std::nullopt;
  }};
  ScriptError err;
  if (!apply_script(*next, script, devices, &err)) {
    diagnostics = format_error(script, err);
    return err.code;
  }
  if (auto registered = state.runtime->commit(net, *next); !registered) {
    diagnostics = "Error: Could not process rule: " + registered.error().message() + "\n";
    return registered;
  }
  state.ruleset = std::move(next);
  ++state.generation;
  return {};
}

std::string list_ruleset(Net& net) {
  const NftNet& state = net.host().builtins().nft().state(net);
  return print_ruleset(with_live_counters(*state.ruleset, state.runtime->cells()), [&net](int ifindex) {
    const Device* dev = net.device(ifindex);
    return dev != nullptr ? std::string(dev->name()) : std::string();
  });
}

}  // namespace netns::nft

namespace netns::nft {

std::optional<std::uint64_t> chain_drops(Net& net, std::string_view family, std::string_view table,
                                         std::string_view chain) {
  const NftNet& state = net.host().builtins().nft().state(net);
  const auto f = family_from(family);
  const Table* t = f ? state.ruleset->table(*f, table) : nullptr;
  const Chain* c = t != nullptr ? t->chain(chain) : nullptr;
  if (c == nullptr) return std::nullopt;
  const ChainCell* cell = state.runtime->cells().find_chain({t->handle, c->handle});
  return cell != nullptr ? cell->drops : 0;
}

}  // namespace netns::nft
