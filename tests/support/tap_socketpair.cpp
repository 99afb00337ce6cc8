#include "support/tap_socketpair.hpp"

#include <sys/socket.h>

#include <gtest/gtest.h>

#include "devices/tap_internal.hpp"

namespace netns::support {

Device* make_socketpair_tap(Net& net, std::string_view name, int& wire) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    ADD_FAILURE() << "socketpair failed";
    return nullptr;
  }
  wire = fds[1];
  auto tap = make_tap_on_descriptor(net, name, fds[0]);  // owns fds[0], even on error
  if (!tap) {
    ADD_FAILURE() << tap.error().message();
    return nullptr;
  }
  if (auto up = set_link_up(**tap); !up) {
    ADD_FAILURE() << up.error().message();
    return nullptr;
  }
  return *tap;
}

}  // namespace netns::support
