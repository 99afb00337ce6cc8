// netns::nft::run and list_ruleset: the transaction around the parser and
// the printer, on the namespace's NftNet.
#include "netns/nft.hpp"

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

void NftOps::exit(Net& net) { state_.reset(net); }

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
  state.ruleset = std::move(next);
  ++state.generation;
  return {};
}

std::string list_ruleset(Net& net) {
  const NftNet& state = net.host().builtins().nft().state(net);
  return print_ruleset(*state.ruleset, [&net](int ifindex) {
    const Device* dev = net.device(ifindex);
    return dev != nullptr ? std::string(dev->name()) : std::string();
  });
}

}  // namespace netns::nft
