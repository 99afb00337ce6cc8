// Who added a route, as both families record it in a route's `protocol`
// (Linux's RTPROT_*, rtnetlink.h; what `ip route` prints as "proto").
#pragma once

#include <cstdint>

namespace netns::inet {

inline constexpr std::uint8_t kProtoKernel = 2;  // for an address: its subnet, local and broadcast routes
inline constexpr std::uint8_t kProtoStatic = 4;  // added by hand
inline constexpr std::uint8_t kProtoRa = 9;      // learned from a router advertisement

}  // namespace netns::inet
