// Per-namespace IPv6 state: the IPv6 layer's pernet slot.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "ipv4/icmp_peers.hpp"
#include "ipv4/ipv4_net.hpp"
#include "ipv4/pmtu.hpp"
#include "ipv6/fib6.hpp"
#include "ipv6/fragment.hpp"
#include "ipv6/neighbour6.hpp"
#include "netfilter/hooks.hpp"
#include "netns/address.hpp"
#include "netns/ipv6.hpp"
#include "netns/timer.hpp"

namespace netns::ipv6 {

class Ipv6Stack;

// One address of a device, as Linux's inet6_ifaddr.
struct Inet6Address {
  Inet6Address(Host& host, Device& d, Ipv6Prefix p, std::function<void(Inet6Address&)> on_timer)
      : dev(&d), prefix(p), timer(host, [this, f = std::move(on_timer)] { f(*this); }) {}
  Inet6Address(const Inet6Address&) = delete;
  Inet6Address& operator=(const Inet6Address&) = delete;

  Device* dev;
  Ipv6Prefix prefix;       // scope id 0: the device says where
  bool tentative = false;  // DAD running (IFA_F_TENTATIVE)
  bool dad_failed = false;
  bool permanent = true;   // by hand; SLAAC's are not
  std::uint32_t dad_probes_left = 0;
  // RFC 7217 (IFA_F_STABLE_PRIVACY): made from the stable secret with DAD
  // counter stable_privacy_retry; a conflict tries the next counter.
  bool stable_privacy = false;
  std::uint8_t stable_privacy_retry = 0;
  std::optional<Clock::time_point> valid_until, preferred_until;  // nullopt: forever
  Timer timer;             // DAD's next step, then the next lifetime to expire

  bool usable() const { return !tentative && !dad_failed; }
  bool deprecated(Clock::time_point now) const { return preferred_until && *preferred_until <= now; }
};

// Router discovery on one device (Linux keeps it in inet6_dev): the
// solicitations of a host (addrconf_rs_timer), what its RAs taught, the
// on-link prefixes they announced, and the advertiser of a router.
struct NdiscDevice {
  NdiscDevice(Host& host, Device& d, std::function<void(NdiscDevice&)> on_rs_timer,
              std::function<void(NdiscDevice&)> on_advert_timer)
      : dev(&d),
        rs_timer(host, [this, f = std::move(on_rs_timer)] { f(*this); }),
        advert_timer(host, [this, f = std::move(on_advert_timer)] { f(*this); }) {}
  NdiscDevice(const NdiscDevice&) = delete;
  NdiscDevice& operator=(const NdiscDevice&) = delete;

  Device* dev;
  // Host side.
  Timer rs_timer;
  std::uint32_t rs_sent = 0;
  bool ra_received = false;             // IF_RA_RCVD: no more solicitations
  RouterDiscoveryInfo learned;          // hop limit, MTU, NDP times (0: none)
  std::vector<Ipv6Prefix> onlink;       // prefix routes RAs made, at most kMaxOnlinkPrefixes
  // Router side.
  std::optional<RouterAdvertConfig> advert;  // set while advertising
  Timer advert_timer;
  std::uint32_t initial_adverts = 0;    // sent since advertising began (RFC 4861 6.2.4)
  std::optional<Clock::time_point> last_multicast;

  static constexpr std::size_t kMaxOnlinkPrefixes = 64;
};

struct Ipv6Net {
  Ipv6Net(Net& n, Ipv6NeighbourLayer& layer);

  Net& net;
  // In the order they were added, stable (timers point into them).
  std::vector<std::unique_ptr<Inet6Address>> addresses;
  [[no_unique_address]] Fib6 routes;  // `ip -6 route` (table main)
  // Kept by `hooks`: what the packet path asks. In what routes' alignment
  // leaves of its last word ([[no_unique_address]]), where it costs nothing.
  netfilter::HookMask active_hooks;
  netfilter::HookTable hooks;  // null per hook until conntrack or a base chain registers there
  // NDP, made when the namespace first sends or hears NDP (a DAD probe is
  // the first): a namespace whose devices never carry IPv6 pays a pointer.
  NeighbourTable& neighbours() {
    if (!ndp_) ndp_ = std::make_unique<NeighbourTable>(net, *layer_);
    return *ndp_;
  }
  NeighbourTable* neighbours_if_any() { return ndp_.get(); }
  // Path MTUs from Packet Too Big (Linux's rt6_exception), made on the first.
  std::unique_ptr<ipv4::Pmtu6Exceptions> pmtu;
  // net.ipv6.icmp.ratelimit per destination, made on the first error limited.
  std::unique_ptr<ipv4::IcmpPeers6> icmp_peers;
  // Datagrams being reassembled (net.ipv6.ip6frag_*), made on the first fragment.
  std::unique_ptr<Reassembler> reassembler;

  Inet6Address* find_address(const Device& dev, const Ipv6Address& address);
  // A usable address of the namespace on any device (the weak host model,
  // as Linux's ipv6_chk_addr with no device), or on `dev` only.
  Inet6Address* local_address(const Ipv6Address& address, const Device* dev = nullptr);

  // Router discovery, made when a device first solicits, hears an RA or
  // advertises: one entry per such device, and the timer that removes the
  // routes RAs made when their lifetime ends (Linux's fib6 gc of RTF_EXPIRES).
  struct Ndisc {
    Ndisc(Host& host, std::function<void()> on_expiry) : route_expiry(host, std::move(on_expiry)) {}
    std::vector<std::unique_ptr<NdiscDevice>> devices;
    Timer route_expiry;
    NdiscDevice* find(const Device& dev) const {
      for (const auto& d : devices) {
        if (d->dev == &dev) return d.get();
      }
      return nullptr;
    }
  };
  std::unique_ptr<Ndisc> ndisc;
  // dev's usable link-local address (an RS's and an RA's source), or null.
  const Inet6Address* link_local(const Device& dev) const;
  // What RAs set for dev (Linux's cnf.hop_limit, cnf.mtu6); 0 when nothing.
  std::uint8_t ra_hop_limit(const Device& dev) const {
    const NdiscDevice* nd = ndisc ? ndisc->find(dev) : nullptr;
    return nd != nullptr ? nd->learned.hop_limit : 0;
  }
  std::uint32_t ra_mtu(const Device& dev) const {
    const NdiscDevice* nd = ndisc ? ndisc->find(dev) : nullptr;
    return nd != nullptr ? nd->learned.mtu : 0;
  }

 private:
  Ipv6NeighbourLayer* layer_;
  std::unique_ptr<NeighbourTable> ndp_;
};

// The address of a /64 `prefix` with the EUI-64 interface identifier of
// `mac` (RFC 4291 appendix A: the universal/local bit flipped, ff:fe in the
// middle): link-local addresses and SLAAC's (RFC 4862 5.5.3 d).
Ipv6Address eui64_address(const Ipv6Address& prefix, const MacAddress& mac);

// RFC 7217's address in the /64 `prefix` (its first 64 bits are kept) as
// Linux's ipv6_generate_stable_address makes it: SHA-1's compression of one
// block of the secret, the prefix, the hardware address (zero-padded to
// MAX_ADDR_LEN, 32 bytes) and the DAD counter, whose first two state words
// are the interface identifier, stored in a little-endian CPU's byte order
// (x86, arm64: what Linux on them makes). A reserved identifier (RFC 5453)
// moves to the next counter; nullopt past `retries` (idgen_retries).
std::optional<Ipv6Address> stable_privacy_address(const Ipv6Address& prefix, std::uint8_t dad_count,
                                                  const std::array<std::uint8_t, 16>& secret,
                                                  std::span<const std::uint8_t> hwaddr, int retries);
// The same for dev in net: its secret (or `default`'s, nullopt for none),
// its MAC (Linux reads perm_addr, which the virtual devices netns has leave
// zero in Linux: a MAC makes two devices of a namespace differ, as RFC
// 7217's Net_Iface asks) and net.ipv6.idgen_retries.
std::optional<Ipv6Address> stable_privacy_address(Net& net, const Device& dev, const Ipv6Address& prefix,
                                                  std::uint8_t dad_count);

}  // namespace netns::ipv6
