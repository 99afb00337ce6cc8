#include "core/builtin.hpp"

namespace netns {

std::vector<BuiltinOps> make_builtin_ops(Host& host) {
  std::vector<BuiltinOps> list;
  // Devices: the loopback first, so it is ifindex 1; the default device exit
  // after it, so at teardown it runs first (ops exit in reverse) and finds
  // every other device still there.
  list.push_back({make_loopback_ops(host), true});
  list.push_back({make_default_device_ops(host), true});
  return list;
}

}  // namespace netns
