// IPv6 addresses of a namespace (Linux's addrconf.c): link-local addresses
// on up, ::1 on the loopback, addresses by hand, duplicate address
// detection (RFC 4862 5.4) and the prefix routes addresses bring.
#include <algorithm>
#include <random>

#include "core/devconf.hpp"
#include "core/route_cache.hpp"
#include "core/sha1.hpp"
#include "core/siphash.hpp"
#include "inet/route_protocol.hpp"
#include "ipv6/devconf6.hpp"
#include "ipv6/fib6.hpp"
#include "ipv6/ipv6_net.hpp"
#include "ipv6/stack.hpp"
#include "netns/net.hpp"

namespace netns::ipv6 {

namespace {
// Bounds `ip -6 addr` like IPv4's table: addresses per namespace.
constexpr std::size_t kMaxAddresses = 65536;
// DAD waits up to this before its first solicitation (rtr_solicit_delay, RFC 4862 5.4.2).
constexpr auto kMaxDadDelay = std::chrono::milliseconds(1000);

Ipv6Address eui64_link_local(const MacAddress& mac) {
  return eui64_address(Ipv6Address(0xfe80, 0, 0, 0, 0, 0, 0, 0), mac);
}

// ipv6_reserved_interfaceid (RFC 5453): zero, the proxy mobile IPv6 range
// and the subnet anycast range.
bool reserved_interface_id(const Ipv6Address& a) {
  const std::uint64_t iid = a.low();
  return iid == 0 || (iid >> 32 == 0x02005eff && (iid & 0xfe000000) == 0xfe000000) ||
         (iid >> 32 == 0xfdffffff && (iid & 0xffffff80) == 0xffffff80);
}

bool needs_dad(Net& net, const Device& dev) {
  const DevConf6 conf = devconf(net, dev);
  return dev.kind() != DeviceKind::loopback && conf.accept_dad > 0 && conf.dad_transmits > 0;
}
}  // namespace

std::optional<Ipv6Address> stable_privacy_address(const Ipv6Address& prefix, std::uint8_t dad_count,
                                                  const std::array<std::uint8_t, 16>& secret,
                                                  std::span<const std::uint8_t> hwaddr, int retries) {
  constexpr std::size_t kSecretAt = 0, kPrefixAt = 16, kHwaddrAt = 24, kMaxAddrLen = 32, kCountAt = 56;
  for (int count = dad_count;; ++count) {
    std::array<std::uint8_t, 64> block{};
    std::copy(secret.begin(), secret.end(), block.begin() + kSecretAt);
    std::copy_n(prefix.bytes().begin(), 8, block.begin() + kPrefixAt);
    std::copy_n(hwaddr.begin(), std::min(hwaddr.size(), kMaxAddrLen), block.begin() + kHwaddrAt);
    block[kCountAt] = static_cast<std::uint8_t>(count);
    const auto h = sha1_block(block);
    Ipv6Address::Bytes bytes = prefix.bytes();
    for (std::size_t i = 0; i < 8; ++i) bytes[8 + i] = static_cast<std::uint8_t>(h[i / 4] >> (8 * (i % 4)));
    const Ipv6Address address(bytes);
    if (!reserved_interface_id(address)) return address;
    if (count + 1 > retries) return std::nullopt;
  }
}

std::optional<Ipv6Address> stable_privacy_address(Net& net, const Device& dev, const Ipv6Address& prefix,
                                                  std::uint8_t dad_count) {
  const auto* secret = device_stable_secret(net.sysctl(), dev);
  if (secret == nullptr) return std::nullopt;
  return stable_privacy_address(prefix.with_scope(0), dad_count, *secret, dev.mac().octets,
                                net.sysctl().value(SysctlId::ipv6_idgen_retries));
}

// ---- lookups ----

Inet6Address* Ipv6Net::find_address(const Device& dev, const Ipv6Address& address) {
  for (auto& a : addresses) {
    if (a->dev == &dev && a->prefix.address().bytes() == address.bytes()) return a.get();
  }
  return nullptr;
}

Ipv6Address eui64_address(const Ipv6Address& prefix, const MacAddress& mac) {
  const auto& m = mac.octets;
  const auto& p = prefix.bytes();
  auto word = [&](int i) { return static_cast<std::uint16_t>(p[2 * i] << 8 | p[2 * i + 1]); };
  return Ipv6Address(word(0), word(1), word(2), word(3), static_cast<std::uint16_t>((m[0] ^ 0x02) << 8 | m[1]),
                     static_cast<std::uint16_t>(m[2] << 8 | 0xff), static_cast<std::uint16_t>(0xfe00 | m[3]),
                     static_cast<std::uint16_t>(m[4] << 8 | m[5]));
}

Inet6Address* Ipv6Net::local_address(const Ipv6Address& address, const Device* dev) {
  for (auto& a : addresses) {
    if ((dev == nullptr || a->dev == dev) && a->usable() && a->prefix.address().bytes() == address.bytes()) {
      return a.get();
    }
  }
  return nullptr;
}

bool Ipv6Stack::is_local(Net& net, const Ipv6Address& address) {
  Ipv6Net* ns = slot_.find(net);
  return ns != nullptr && ns->local_address(address) != nullptr;
}

// ---- by hand ----

Result<void> Ipv6Stack::add_address(Net& net, Device& dev, Ipv6Prefix prefix) {
  Ipv6Net* ns = slot_.find(net);
  if (ns == nullptr || &dev.net() != &net) return error(Errc::no_such_device);
  const Ipv6Address address = prefix.address().with_scope(0);
  if (address.is_unspecified() || address.is_multicast() || address.is_v4_mapped()) {
    return error(Errc::invalid_argument);
  }
  if (address.is_loopback() && dev.kind() != DeviceKind::loopback) return error(Errc::invalid_argument);
  if (devconf(net, dev).disable_ipv6) return error(Errc::address_family_not_supported);
  if (ns->find_address(dev, address) != nullptr) return error(Errc::file_exists);
  if (ns->addresses.size() >= kMaxAddresses) return error(Errc::no_buffer_space);
  insert_address(*ns, dev, Ipv6Prefix(address, prefix.length()), true);
  return {};
}

Result<void> Ipv6Stack::del_address(Net& net, Device& dev, Ipv6Prefix prefix) {
  Ipv6Net* ns = slot_.find(net);
  if (ns == nullptr || &dev.net() != &net) return error(Errc::no_such_device);
  Inet6Address* a = ns->find_address(dev, prefix.address());
  if (a == nullptr || a->prefix.length() != prefix.length()) return error(Errc::address_not_available);
  remove_address(*ns, *a);
  return {};
}

// ---- the table ----

Inet6Address& Ipv6Stack::insert_address(Ipv6Net& ns, Device& dev, Ipv6Prefix prefix, bool permanent,
                                        Clock::duration dad_after) {
  Net& net = ns.net;
  auto owned = std::make_unique<Inet6Address>(host_, dev, prefix,
                                              [this, &net](Inet6Address& a) { on_address_timer(net, a); });
  Inet6Address& a = *owned;
  a.permanent = permanent;
  ns.addresses.push_back(std::move(owned));
  add_prefix_route(ns, a);
  if (dev.is_up()) start_dad(ns, a, dad_after);
  else a.tentative = needs_dad(net, dev);  // DAD runs when the device comes up
  route_cache_invalidate(net);
  return a;
}

void Ipv6Stack::remove_address(Ipv6Net& ns, Inet6Address& a) {
  Device& dev = *a.dev;
  const Ipv6Prefix prefix = a.prefix;
  // The prefix route goes with the last address that brought it.
  // SLAAC's addresses bring none: an RA's on-link prefix does (slaac.cpp).
  const bool permanent = a.permanent;
  std::erase_if(ns.addresses, [&](const auto& p) { return p.get() == &a; });
  const bool still_covered = std::any_of(ns.addresses.begin(), ns.addresses.end(), [&](const auto& p) {
    return p->permanent && p->dev == &dev && p->prefix.length() == prefix.length() &&
           prefix.contains(p->prefix.address());
  });
  if (permanent && !still_covered && (prefix.length() < 128 || prefix.address().is_loopback())) {
    (void)ns.routes.erase({.prefix = Ipv6Prefix(prefix.network(), prefix.length()), .dev = &dev,
                           .metric = kAddrconfMetric});
  }
  route_cache_invalidate(ns.net);
  host_.notify(NetdevEvent::inet_address_removed, dev);
}

void Ipv6Stack::add_prefix_route(Ipv6Net& ns, const Inet6Address& a) {
  if (!a.dev->is_up() || !a.permanent) return;
  // A /128 brings none, but for ::1, whose route `ip -6 route` shows on lo.
  if (a.prefix.length() == 128 && !a.prefix.address().is_loopback()) return;
  // file_exists when another address of the prefix brought it already: fine.
  (void)ns.routes.insert({.prefix = Ipv6Prefix(a.prefix.network(), a.prefix.length()), .dev = a.dev,
                          .metric = kAddrconfMetric, .protocol = inet::kProtoKernel});
}

// ---- duplicate address detection ----

void Ipv6Stack::start_dad(Ipv6Net& ns, Inet6Address& a, Clock::duration after) {
  Net& net = ns.net;
  if (!needs_dad(net, *a.dev)) {
    address_ready(ns, a);
    return;
  }
  a.tentative = true;
  a.dad_failed = false;
  a.dad_probes_left = devconf(net, *a.dev).dad_transmits;
  // A random delay before the first solicitation (RFC 4862 5.4.2), so that
  // devices that come up together do not solicit together.
  const auto delay = std::chrono::microseconds(dad_jitter_() % (kMaxDadDelay.count() * 1000));
  a.timer.schedule(host_.now() + after + delay);
}

void Ipv6Stack::on_address_timer(Net& net, Inet6Address& a) {
  Ipv6Net* ns = slot_.find(net);
  if (ns == nullptr) return;
  if (a.tentative) {
    if (a.dad_probes_left == 0) {
      address_ready(*ns, a);
      return;
    }
    --a.dad_probes_left;
    send_dad_probe(net, *a.dev, a.prefix.address());
    a.timer.schedule(host_.now() + std::chrono::milliseconds(devconf(net, *a.dev).retrans_time_ms));
    return;
  }
  expire_lifetimes(*ns, a);
}

void Ipv6Stack::address_ready(Ipv6Net& ns, Inet6Address& a) {
  a.tentative = false;
  a.timer.cancel();
  schedule_lifetime(a);
  route_cache_invalidate(ns.net);
  if (a.prefix.address().is_link_local() && a.dev->kind() != DeviceKind::loopback) link_local_ready(ns, *a.dev);
}

// The next lifetime of `a` to end: its preferred, then its valid one.
void Ipv6Stack::schedule_lifetime(Inet6Address& a) {
  const auto now = host_.now();
  if (a.preferred_until && *a.preferred_until > now) {
    a.timer.schedule(*a.preferred_until);
  } else if (a.valid_until) {
    a.timer.schedule(*a.valid_until);
  }
}

void Ipv6Stack::expire_lifetimes(Ipv6Net& ns, Inet6Address& a) {
  if (a.valid_until && *a.valid_until <= host_.now()) {
    remove_address(ns, a);
    return;
  }
  // Deprecated now (deprecated() reads the time): no longer a preferred source.
  route_cache_invalidate(ns.net);
  schedule_lifetime(a);
}

void Ipv6Stack::dad_failed(Ipv6Net& ns, Inet6Address& a) {
  // addrconf_dad_failure: the address stays, marked, never used.
  a.tentative = false;
  a.dad_failed = true;
  a.timer.cancel();
  route_cache_invalidate(ns.net);
  // accept_dad 2 (the device's own): a duplicate of the MAC-based
  // link-local address means another host has our MAC; IPv6 stops on the
  // device. Written as a sysctl write, so the device goes down for IPv6 as
  // with disable_ipv6=1 (Linux only sets the flag and keeps the addresses).
  Device& dev = *a.dev;
  if (devconf_own(dev, DevconfId::ipv6_accept_dad) > 1 && a.prefix.address() == eui64_link_local(dev.mac())) {
    (void)DevconfStore::write(ns.net.sysctl(), {DevconfId::ipv6_disable_ipv6, DevconfScope::device, &dev}, 1);
    return;
  }
  if (a.stable_privacy) retry_stable_address(ns, a);
}

// RFC 7217 6: after a conflict, the identifier of the next DAD counter,
// its DAD net.ipv6.idgen_delay seconds later (Linux's PREDAD state), at
// most net.ipv6.idgen_retries times; the failed address stays, marked.
void Ipv6Stack::retry_stable_address(Ipv6Net& ns, const Inet6Address& failed) {
  Net& net = ns.net;
  Device& dev = *failed.dev;
  const int retries = failed.stable_privacy_retry + 1;
  if (retries > net.sysctl().value(SysctlId::ipv6_idgen_retries)) return;
  const auto next = stable_privacy_address(net, dev, failed.prefix.address(), static_cast<std::uint8_t>(retries));
  if (!next || ns.find_address(dev, *next) != nullptr || ns.addresses.size() >= kMaxAddresses) return;
  const auto held = std::count_if(ns.addresses.begin(), ns.addresses.end(), [&](const auto& p) { return p->dev == &dev; });
  if (static_cast<std::uint32_t>(held) >= devconf(net, dev).max_addresses) return;
  const std::chrono::seconds delay(net.sysctl().value(SysctlId::ipv6_idgen_delay));
  Inet6Address& a = insert_address(ns, dev, Ipv6Prefix(*next, failed.prefix.length()), failed.permanent, delay);
  a.stable_privacy = true;
  a.stable_privacy_retry = static_cast<std::uint8_t>(retries);
  a.valid_until = failed.valid_until;
  a.preferred_until = failed.preferred_until;
}

// ---- devices ----

void Ipv6Stack::add_link_local(Ipv6Net& ns, Device& dev) {
  if (dev.kind() == DeviceKind::loopback) {
    if (ns.find_address(dev, Ipv6Address::loopback()) == nullptr) {
      insert_address(ns, dev, Ipv6Prefix(Ipv6Address::loopback(), 128), true);
    }
    return;
  }
  Ipv6Address ll;
  const int mode = devconf(ns.net, dev).addr_gen_mode;
  switch (mode) {
    case kAddrGenEui64: ll = eui64_link_local(dev.mac()); break;
    case kAddrGenRandom:
      // ipv6_gen_mode_random_init: a random secret of the device's own,
      // drawn once and kept (readable as its stable_secret) while the
      // device lives; its addresses are then stable privacy ones.
      if (dev.devconf() == nullptr || !dev.devconf()->stable_secret) {
        std::array<std::uint8_t, 16> secret{};
        const std::uint64_t draw = ++secret_draws_;
        for (std::uint64_t half = 0; half < 2; ++half) {
          const std::uint64_t bits = siphash13_words(iid_key_, draw, half);
          for (std::size_t i = 0; i < 8; ++i) secret[8 * half + i] = static_cast<std::uint8_t>(bits >> (8 * i));
        }
        DevconfStore::give_stable_secret(dev, secret);
      }
      [[fallthrough]];
    case kAddrGenStablePrivacy: {
      // addrconf_addr_gen: none without a secret (or past idgen_retries' reserved identifiers).
      const auto stable = stable_privacy_address(ns.net, dev, Ipv6Address(0xfe80, 0, 0, 0, 0, 0, 0, 0), 0);
      if (!stable) return;
      ll = *stable;
      break;
    }
    default: return;  // none: no link-local address (IN6_ADDR_GEN_MODE_NONE)
  }
  if (ns.find_address(dev, ll) == nullptr) {
    insert_address(ns, dev, Ipv6Prefix(ll, 64), true).stable_privacy = mode != kAddrGenEui64;
  }
}

void Ipv6Stack::device_up(Ipv6Net& ns, Device& dev) {
  // addrconf_notify: no IPv6 on a device that cannot carry 1280 bytes.
  if (devconf(ns.net, dev).disable_ipv6 || dev.mtu() < kMinMtu) return;
  add_link_local(ns, dev);
  for (auto& a : ns.addresses) {
    if (a->dev != &dev) continue;
    add_prefix_route(ns, *a);
    if (a->tentative && !a->timer.pending()) start_dad(ns, *a);
  }
}

void Ipv6Stack::device_down(Ipv6Net& ns, Device& dev) {
  // addrconf_ifdown with keep_addr_on_down 0: Linux forgets a device's
  // IPv6 addresses when it goes down; routes through it go too.
  std::vector<Inet6Address*> gone;
  for (auto& a : ns.addresses) {
    if (a->dev == &dev) gone.push_back(a.get());
  }
  for (Inet6Address* a : gone) remove_address(ns, *a);
  ns.routes.remove_if([&](const Fib6Entry& e) { return e.dev == &dev; });
  if (NeighbourTable* ndp = ns.neighbours_if_any()) ndp->flush_device(dev);
  ndisc_device_down(ns, dev, false);
}

void Ipv6Stack::device_gone(Ipv6Net& ns, Device& dev) {
  device_down(ns, dev);
  ndisc_device_down(ns, dev, true);
}

}  // namespace netns::ipv6

namespace netns::ipv6 {

void Ipv6Stack::send_dad_probe(Net& net, Device& dev, const Ipv6Address& tentative) {
  state(net).neighbours().send_dad_probe(dev, tentative);
}

// ---- what NDP asks ----

bool Ipv6Stack::is_local(Net& net, const Device& dev, const Ipv6Address& address) {
  Ipv6Net* ns = slot_.find(net);
  return ns != nullptr && ns->local_address(address.with_scope(0), &dev) != nullptr;
}

// No anycast addresses are configured yet (the subnet-router anycast
// address of a forwarding device is the first candidate).
bool Ipv6Stack::is_anycast(Net&, const Device&, const Ipv6Address&) { return false; }

bool Ipv6Stack::is_tentative(Net& net, const Device& dev, const Ipv6Address& address) {
  Ipv6Net* ns = slot_.find(net);
  if (ns == nullptr) return false;
  const Inet6Address* a = ns->find_address(dev, address);
  return a != nullptr && a->tentative;
}

void Ipv6Stack::dad_conflict(Net& net, Device& dev, const Ipv6Address& address) {
  Ipv6Net* ns = slot_.find(net);
  if (ns == nullptr) return;
  if (Inet6Address* a = ns->find_address(dev, address); a != nullptr && a->tentative) dad_failed(*ns, *a);
}

// ndisc_solicit's source: a usable address of dev, link-local preferred
// for a link-local target; :: before any is usable.
Ipv6Address Ipv6Stack::solicit_source(Net& net, const Device& dev, const Ipv6Address& target) {
  Ipv6Net* ns = slot_.find(net);
  if (ns == nullptr) return {};
  const Inet6Address* best = nullptr;
  for (const auto& a : ns->addresses) {
    if (a->dev != &dev || !a->usable()) continue;
    if (best == nullptr || (a->prefix.address().is_link_local() && !best->prefix.address().is_link_local()) ||
        (!target.is_link_local() && a->prefix.contains(target))) {
      best = a.get();
    }
  }
  return best != nullptr ? best->prefix.address() : Ipv6Address{};
}

bool Ipv6Stack::is_router(Net&, const Device& dev) { return acts_as_router(dev); }

// A neighbour stopped being a router (RFC 4861 7.2.5): routes through it
// that a router advertisement made go. Routes added by hand stay, as Linux.
void Ipv6Stack::router_lost(Net& net, Device& dev, const Ipv6Address& router) {
  Ipv6Net* ns = slot_.find(net);
  if (ns == nullptr) return;
  const Ipv6Address gw = router.with_scope(0);
  const auto learned = [&](const Fib6Entry& e) { return e.dev == &dev && e.via == gw && e.protocol == inet::kProtoRa; };
  if (ns->routes.remove_if(learned) > 0) {
    route_cache_invalidate(net);
  }
}

// A datagram whose next hop never answered: address unreachable (code 3).
void Ipv6Stack::error_report(Net& net, const Packet& datagram) {
  send_icmp_error(net, datagram, kIcmp6DestUnreachable, 3);
}

}  // namespace netns::ipv6
