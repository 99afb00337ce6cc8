// netns/netns.hpp — the whole public API.
#pragma once

#include "netns/address.hpp"
#include "netns/bounded_queue.hpp"
#include "netns/bridge.hpp"
#include "netns/capture.hpp"
#include "netns/clock.hpp"
#include "netns/conntrack.hpp"
#include "netns/counters.hpp"
#include "netns/device.hpp"
#include "netns/host.hpp"
#include "netns/host_group.hpp"
#include "netns/ipv4.hpp"
#include "netns/ipv6.hpp"
#include "netns/icmp.hpp"
#include "netns/macvlan.hpp"
#include "netns/net.hpp"
#include "netns/packet.hpp"
#include "netns/packet_pool.hpp"
#include "netns/pernet.hpp"
#include "netns/resources.hpp"
#include "netns/result.hpp"
#include "netns/rx_scheduler.hpp"
#include "netns/devconf.hpp"
#include "netns/sysctl.hpp"
#include "netns/tap.hpp"
#include "netns/tcp.hpp"
#include "netns/timer.hpp"
#include "netns/udp.hpp"

#if defined(NETNS_WITH_DPDK)
#include "netns/dpdk.hpp"
#endif
