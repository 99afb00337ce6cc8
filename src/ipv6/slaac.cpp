// Prefix information from router advertisements (Linux's
// addrconf_prefix_rcv): on-link prefixes become routes that expire with
// their valid lifetime (RFC 4861 6.3.4), autonomous ones addresses made of
// the prefix and the device's EUI-64 interface identifier, through DAD,
// deprecated when their preferred lifetime ends and removed when their
// valid lifetime does (RFC 4862 5.5.3).
#include <algorithm>

#include "core/route_cache.hpp"
#include "inet/route_protocol.hpp"
#include "ipv6/devconf6.hpp"
#include "ipv6/fib6.hpp"
#include "ipv6/ipv6_net.hpp"
#include "ipv6/stack.hpp"
#include "netns/net.hpp"

namespace netns::ipv6 {

namespace {
// RFC 4862 5.5.3 e: a received valid lifetime may shorten a longer one to
// no less than this (MIN_VALID_LIFETIME), so a forged RA cannot take an
// address away at once.
constexpr auto kTwoHours = std::chrono::hours(2);
// The slack SLAAC's addresses need: an EUI-64 identifier fills 64 bits.
constexpr int kEui64PrefixLength = 64;

std::optional<Clock::time_point> lifetime_end(std::uint32_t seconds, Clock::time_point now) {
  if (seconds == wire::NdpPrefixInfo::kInfinite) return std::nullopt;
  return now + std::chrono::seconds(seconds);
}
}  // namespace

void Ipv6Stack::process_prefix_info(Ipv6Net& ns, NdiscDevice& nd, const wire::NdpPrefixInfo& info,
                                    const DevConf6& conf) {
  const Ipv6Prefix prefix(info.prefix.network().with_scope(0), info.prefix.length());
  const Ipv6Address network = prefix.address();
  if (network.is_multicast() || network.is_link_local()) return;  // RFC 4862 5.5.3 b
  if (info.preferred_lifetime > info.valid_lifetime) return;      // 5.5.3 c
  if (info.on_link) update_onlink_prefix(ns, nd, prefix, info.valid_lifetime);
  if (info.autonomous && conf.autoconf) autoconf_prefix(ns, *nd.dev, info, conf);
}

// RFC 4861 6.3.4: a new on-link prefix is a route (metric 256, proto kernel
// as Linux shows it) expiring with the valid lifetime; a known one is
// refreshed; lifetime 0 removes it. A route the device's own addresses
// brought is not the RA's to change.
void Ipv6Stack::update_onlink_prefix(Ipv6Net& ns, NdiscDevice& nd, const Ipv6Prefix& prefix, std::uint32_t valid) {
  const Fib6Entry route{.prefix = prefix, .dev = nd.dev, .metric = kAddrconfMetric, .protocol = inet::kProtoKernel};
  const auto expires = lifetime_end(valid, host_.now());
  auto known = std::find(nd.onlink.begin(), nd.onlink.end(), prefix);
  if (known != nd.onlink.end()) {
    if (valid == 0) {
      (void)ns.routes.erase(route);
      nd.onlink.erase(known);
      route_cache_invalidate(ns.net);
    } else if (!ns.routes.set_expires(route, expires)) {
      nd.onlink.erase(known);  // removed meanwhile: made again below
      known = nd.onlink.end();
    }
  }
  if (known == nd.onlink.end() && valid != 0 && ns.routes.find(route) == nullptr &&
      nd.onlink.size() < NdiscDevice::kMaxOnlinkPrefixes) {
    Fib6Entry added = route;
    added.expires = expires;
    if (ns.routes.insert(added)) {
      nd.onlink.push_back(prefix);
      route_cache_invalidate(ns.net);
    }
  }
  schedule_route_expiry(ns);
}

// addrconf_prefix_rcv_add_addr: the address of the prefix, made (DAD
// first) or its lifetimes updated under RFC 4862 5.5.3 e's two-hour rule.
void Ipv6Stack::autoconf_prefix(Ipv6Net& ns, Device& dev, const wire::NdpPrefixInfo& info, const DevConf6& conf) {
  // 5.5.3 d: the prefix and the interface identifier must make 128 bits.
  if (info.prefix.length() != kEui64PrefixLength) return;
  // addr_gen_mode 2 and 3 (is_addr_mode_generate_stable): RFC 7217's
  // identifier (EUI-64 without a secret, as Linux).
  const std::optional<Ipv6Address> stable =
      conf.addr_gen_mode == kAddrGenStablePrivacy || conf.addr_gen_mode == kAddrGenRandom
          ? stable_privacy_address(ns.net, dev, info.prefix.network(), 0)
          : std::nullopt;
  const Ipv6Address address = stable ? *stable : eui64_address(info.prefix.network(), dev.mac());
  const auto now = host_.now();
  Inet6Address* a = ns.find_address(dev, address);
  if (stable && a != nullptr && a->dad_failed) {
    // After DAD conflicts the prefix's address is a later counter's: that
    // one's lifetimes follow the RAs (Linux deletes the failed one and
    // makes counter 0's again on the next RA; netns keeps it marked).
    const Ipv6Prefix network(info.prefix.network().with_scope(0), kEui64PrefixLength);
    for (auto& p : ns.addresses) {
      if (p->dev == &dev && p->stable_privacy && !p->permanent && !p->dad_failed &&
          network.contains(p->prefix.address())) {
        a = p.get();
      }
    }
  }
  if (a == nullptr) {
    if (info.valid_lifetime == 0) return;
    // max_addresses (Linux's 16): the device's addresses of every origin.
    const auto held = std::count_if(ns.addresses.begin(), ns.addresses.end(),
                                    [&](const auto& p) { return p->dev == &dev; });
    if (static_cast<std::uint32_t>(held) >= conf.max_addresses) return;
    a = &insert_address(ns, dev, Ipv6Prefix(address, kEui64PrefixLength), false);
    a->stable_privacy = stable.has_value();
    a->valid_until = lifetime_end(info.valid_lifetime, now);
    a->preferred_until = lifetime_end(info.preferred_lifetime, now);
    if (!a->tentative) {  // no DAD on this device: the lifetimes run from now
      a->timer.cancel();
      schedule_lifetime(*a);
    }
    route_cache_invalidate(ns.net);
    return;
  }
  // Addresses by hand are not SLAAC's; a duplicate stays unused.
  if (a->permanent || a->dad_failed) return;
  std::optional<Clock::time_point> valid_until = lifetime_end(info.valid_lifetime, now);
  if (valid_until) {
    const Clock::duration received = *valid_until - now;
    const bool remaining_infinite = !a->valid_until;
    const Clock::duration remaining = remaining_infinite ? Clock::duration::max() : *a->valid_until - now;
    // A short lifetime that would cut the address's: at most down to two hours.
    if (received <= kTwoHours && received <= remaining) {
      valid_until = remaining <= kTwoHours ? a->valid_until : std::optional(now + kTwoHours);
    }
  }
  a->valid_until = valid_until;
  a->preferred_until = lifetime_end(info.preferred_lifetime, now);  // always the received one
  if (!a->tentative) {
    a->timer.cancel();
    schedule_lifetime(*a);
  }
  route_cache_invalidate(ns.net);  // deprecated or preferred again: source selection changes
}

}  // namespace netns::ipv6
