// A TCP connection's identity, as the demultiplexer matches it: the local
// and remote endpoints, and the keyed hash the namespace's tables use.
#pragma once

#include <cstddef>
#include <cstdint>

#include "netns/address.hpp"

namespace netns::tcp {

struct FourTuple {
  Endpoint local, remote;
  friend bool operator==(const FourTuple&, const FourTuple&) = default;
};

// Keyed with the Host's secret, so a peer cannot aim its four-tuples at one
// bucket (Linux keys its ehash with a random secret too).
struct FourTupleHash {
  std::uint64_t key = 0;
  std::size_t operator()(const FourTuple& t) const;
};

}  // namespace netns::tcp
