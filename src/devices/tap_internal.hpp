// TAP plumbing for tests: a TAP device on a descriptor the caller opened.
#pragma once

#include <string_view>

#include "netns/device.hpp"
#include "netns/result.hpp"

namespace netns {

class Net;

// A TAP device on `fd`, which it owns from now on (closed on error too).
// The descriptor must keep frame boundaries as tun does — one frame per read
// and per write: a SOCK_SEQPACKET socketpair end lets a test play the kernel
// without root. Name checks and errors as make_tap.
Result<Device*> make_tap_on_descriptor(Net& net, std::string_view name, int fd);

}  // namespace netns
