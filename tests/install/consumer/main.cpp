// Links against an installed netns and uses a namespace: exit 0 when it works.
#include <netns/netns.hpp>

int main() {
  netns::Host host;
  auto net = host.create_net("consumer");
  if (!net || host.net_count() != 2) return 1;
  return (*net)->loopback().ifindex() == 1 ? 0 : 1;
}
