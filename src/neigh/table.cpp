// What both families' tables share outside the template.
#include "neigh/table.hpp"

#include <fmt/format.h>

#include "netns/device.hpp"

namespace netns {

const char* neighbour_state_text(NeighbourState state) {
  switch (state) {
    case NeighbourState::incomplete: return "INCOMPLETE";
    case NeighbourState::reachable: return "REACHABLE";
    case NeighbourState::stale: return "STALE";
    case NeighbourState::delay: return "DELAY";
    case NeighbourState::probe: return "PROBE";
    case NeighbourState::failed: return "FAILED";
    case NeighbourState::permanent: return "PERMANENT";
  }
  return "NONE";
}

namespace neigh {

void transmit_ethernet(Device& dev, MacAddress dst, wire::EtherType ethertype, Packet&& payload) {
  auto header = payload.push_front(wire::EthernetRepr::kHeaderLen);
  if (header.empty()) {
    ++dev.mutable_stats().tx_dropped;
    return;
  }
  wire::EthernetRepr{dst, dev.mac(), ethertype}.emit(header);
  dev.transmit(std::move(payload));
}

std::string format_neighbour(std::string_view address, const Device& dev, MacAddress mac, NeighbourState state,
                             bool router) {
  std::string out = fmt::format("{} dev {}", address, dev.name());
  if (state != NeighbourState::incomplete && state != NeighbourState::failed) {
    out += fmt::format(" lladdr {}", mac.to_string());
  }
  if (router) out += " router";
  out += fmt::format(" {}\n", neighbour_state_text(state));
  return out;
}

}  // namespace neigh
}  // namespace netns
