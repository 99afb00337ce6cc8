// Router advertisements sent (RFC 4861 6.2, as radvd sends them): periodic
// unsolicited RAs to ff02::1, answers to router solicitations, and a final
// RA with router lifetime 0 when advertising stops.
#include <algorithm>

#include "ipv6/devconf6.hpp"
#include "ipv6/ipv6_net.hpp"
#include "ipv6/stack.hpp"
#include "netns/net.hpp"
#include "stack/builtins.hpp"

namespace netns::ipv6 {

namespace {
using std::chrono::milliseconds;
using std::chrono::seconds;

// RFC 4861 10, router constants.
constexpr std::uint32_t kMaxInitialAdverts = 3;        // MAX_INITIAL_RTR_ADVERTISEMENTS
constexpr auto kMaxInitialInterval = seconds(16);      // MAX_INITIAL_RTR_ADVERT_INTERVAL
constexpr auto kMinDelayBetweenRas = seconds(3);       // MIN_DELAY_BETWEEN_RAS
constexpr std::uint64_t kMaxRaDelayUs = 500'000;       // MAX_RA_DELAY_TIME
// RFC 4861 6.2.1's bounds of the configuration.
constexpr auto kMinMaxInterval = seconds(4), kMaxMaxInterval = seconds(1800);
constexpr auto kMinMinInterval = seconds(3);
constexpr std::uint32_t kMaxRouterLifetime = 9000;     // seconds
constexpr std::uint32_t kMaxReachableTime = 3'600'000;  // ms

Result<void> check_config(const Device& dev, const RouterAdvertConfig& c) {
  if (c.max_interval < kMinMaxInterval || c.max_interval > kMaxMaxInterval) return error(Errc::invalid_argument);
  if (c.min_interval < kMinMinInterval || c.min_interval * 4 > c.max_interval * 3) return error(Errc::invalid_argument);
  if (c.router_lifetime && *c.router_lifetime != 0 &&
      (seconds(*c.router_lifetime) < c.max_interval || *c.router_lifetime > kMaxRouterLifetime)) {
    return error(Errc::invalid_argument);
  }
  if (c.reachable_time > kMaxReachableTime) return error(Errc::invalid_argument);
  if (c.mtu != 0 && (c.mtu < kMinMtu || c.mtu > dev.mtu())) return error(Errc::invalid_argument);
  if (c.prefixes.size() > kMaxAdvertisedPrefixes) return error(Errc::invalid_argument);
  for (const AdvertisedPrefix& p : c.prefixes) {
    const Ipv6Address network = p.prefix.network();
    if (p.prefix.length() > 128 || network.is_link_local() || network.is_multicast() ||
        p.preferred_lifetime > p.valid_lifetime) {
      return error(Errc::invalid_argument);
    }
  }
  return {};
}

// radvd's AdvDefaultLifetime: 3 * MaxRtrAdvInterval unless set.
std::uint16_t router_lifetime(const RouterAdvertConfig& c) {
  if (c.router_lifetime) return *c.router_lifetime;
  const auto s = std::chrono::duration_cast<seconds>(c.max_interval * 3).count();
  return static_cast<std::uint16_t>(std::min<std::int64_t>(s, kMaxRouterLifetime));
}
}  // namespace

Result<void> Ipv6Stack::advertise(Net& net, Device& dev, const RouterAdvertConfig& config) {
  Ipv6Net* ns = slot_.find(net);
  if (ns == nullptr || &dev.net() != &net || dev.kind() == DeviceKind::loopback) return error(Errc::no_such_device);
  if (devconf(net, dev).disable_ipv6) return error(Errc::address_family_not_supported);
  if (auto ok = check_config(dev, config); !ok) return ok;
  NdiscDevice* nd = ndisc_device(*ns, dev);
  nd->advert = config;
  nd->initial_adverts = 0;
  // Without a usable link-local address the first RA waits for DAD
  // (link_local_ready starts it).
  if (dev.is_up() && ns->link_local(dev) != nullptr) schedule_solicited_advert(*nd);
  return {};
}

Result<void> Ipv6Stack::stop_advertising(Net& net, Device& dev) {
  Ipv6Net* ns = slot_.find(net);
  NdiscDevice* nd = ns != nullptr && ns->ndisc ? ns->ndisc->find(dev) : nullptr;
  if (nd == nullptr || !nd->advert) return error(Errc::no_such_process);
  // RFC 4861 6.2.5: hosts drop us as a default router at once.
  if (dev.is_up()) send_router_advert(net, *nd, true);
  nd->advert.reset();
  nd->advert_timer.cancel();
  return {};
}

void Ipv6Stack::on_advert_timer(Net& net, NdiscDevice& nd) {
  if (!nd.advert || !nd.dev->is_up()) return;
  Ipv6Net* ns = slot_.find(net);
  if (ns == nullptr || ns->link_local(*nd.dev) == nullptr) return;  // link_local_ready resumes
  send_router_advert(net, nd, false);
  schedule_next_advert(nd);
}

// RFC 4861 6.2.4: uniform in [MinRtrAdvInterval, MaxRtrAdvInterval], the
// first few no more than 16 s apart so that hosts learn of a new router soon.
void Ipv6Stack::schedule_next_advert(NdiscDevice& nd) {
  const RouterAdvertConfig& c = *nd.advert;
  const auto spread = static_cast<std::uint64_t>(milliseconds(c.max_interval - c.min_interval).count());
  milliseconds interval = c.min_interval + milliseconds(host_.next_random() % (spread + 1));
  if (nd.initial_adverts < kMaxInitialAdverts) interval = std::min<milliseconds>(interval, kMaxInitialInterval);
  nd.advert_timer.schedule(host_.now() + interval);
}

// RFC 4861 6.2.6: a random delay up to MAX_RA_DELAY_TIME, and multicast
// RAs at least MIN_DELAY_BETWEEN_RAS apart; the answer replaces the next
// unsolicited RA when it comes first.
void Ipv6Stack::schedule_solicited_advert(NdiscDevice& nd) {
  if (!nd.advert) return;
  auto at = host_.now() + std::chrono::microseconds(host_.next_random() % (kMaxRaDelayUs + 1));
  if (nd.last_multicast) at = std::max(at, *nd.last_multicast + kMinDelayBetweenRas);
  if (nd.advert_timer.pending() && nd.advert_timer.deadline() <= at) return;
  nd.advert_timer.schedule(at);
}

void Ipv6Stack::send_router_advert(Net& net, NdiscDevice& nd, bool final) {
  Ipv6Net* ns = slot_.find(net);
  const Inet6Address* ll = ns != nullptr ? ns->link_local(*nd.dev) : nullptr;
  if (ll == nullptr) return;
  const RouterAdvertConfig& c = *nd.advert;
  wire::RouterAdvertRepr ra{.cur_hop_limit = c.cur_hop_limit, .managed = c.managed, .other_config = c.other_config,
                            .router_lifetime = final ? std::uint16_t{0} : router_lifetime(c),
                            .reachable_time = c.reachable_time, .retrans_timer = c.retrans_timer};
  if (c.source_link) ra.source_link = nd.dev->mac();
  if (c.mtu != 0) ra.mtu = c.mtu;
  for (const AdvertisedPrefix& p : c.prefixes) {
    ra.prefixes.push_back({.prefix = Ipv6Prefix(p.prefix.network(), p.prefix.length()), .on_link = p.on_link,
                           .autonomous = p.autonomous, .valid_lifetime = p.valid_lifetime,
                           .preferred_lifetime = p.preferred_lifetime});
  }
  Packet message = host_.packets().allocate(ra.buffer_len());
  if (!message) return;
  const Ipv6Address src = ll->prefix.address();
  ra.emit(message.mutable_data(), src, wire::kAllNodes);
  send_ndisc(net, *nd.dev, src, wire::kAllNodes, std::move(message));
  nd.last_multicast = host_.now();
  if (!final && nd.initial_adverts < kMaxInitialAdverts) ++nd.initial_adverts;
}

Result<void> advertise(Net& net, Device& dev, const RouterAdvertConfig& config) {
  return net.host().builtins().ipv6().advertise(net, dev, config);
}

Result<void> stop_advertising(Net& net, Device& dev) { return net.host().builtins().ipv6().stop_advertising(net, dev); }

}  // namespace netns::ipv6
