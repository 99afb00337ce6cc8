// A TAP device whose "kernel" end is the test's side of a SOCK_SEQPACKET
// socketpair: frames in and out keep their boundaries as with tun, and no
// root is needed.
#pragma once

#include <string_view>

#include "netns/device.hpp"

namespace netns::support {

// The device, up, in `net`, and in `wire` the test's end of the pair (which
// the caller closes). Fails the test and returns nullptr on any error.
Device* make_socketpair_tap(Net& net, std::string_view name, int& wire);

}  // namespace netns::support
