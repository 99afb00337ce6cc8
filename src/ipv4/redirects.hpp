// ipv4/redirects.hpp — first hops learned from ICMP redirects, per
// destination: Linux's route exceptions (fib_nh_exception's fnhe_gw, made by
// __ip_do_redirect), which route_output honours while they last.
//
//   RedirectExceptions& table = ...;            // one per namespace, made on first use
//   table.learn(dst, better_gw, dev, now);       // a redirect was accepted
//   if (auto gw = table.lookup(dst, dev, now)) next_hop = *gw;
//
// Bounded: at kMaxEntries a new destination replaces an existing one,
// chosen by where a keyed hash put it. An entry lasts kLifetime from when it
// was last learned, applies only while the route to its destination still
// leaves by the device it was learned for, and goes with that device.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include <boost/unordered/unordered_flat_map.hpp>

#include "core/siphash.hpp"
#include "netns/address.hpp"
#include "netns/clock.hpp"

namespace netns {
class Device;
}

namespace netns::ipv4 {

class RedirectExceptions {
 public:
  static constexpr std::size_t kMaxEntries = 4096;
  static constexpr Clock::duration kLifetime = std::chrono::seconds(300);  // ip_rt_gc_timeout

  explicit RedirectExceptions(const SipKey& key) : entries_(0, Hash{key}) {}

  void learn(Ipv4Address dst, Ipv4Address gateway, const Device& dev, Clock::time_point now);
  // The gateway for dst through dev, while it lasts; an expired entry is erased.
  std::optional<Ipv4Address> lookup(Ipv4Address dst, const Device& dev, Clock::time_point now);
  bool contains(Ipv4Address dst) const { return entries_.contains(dst.value); }
  // The device is going away or moving: what was learned through it goes.
  void forget(const Device& dev);
  bool empty() const { return entries_.empty(); }
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Ipv4Address gateway;
    const Device* dev;
    Clock::time_point expires;
  };
  struct Hash {
    SipKey key;
    std::size_t operator()(std::uint32_t a) const { return siphash13_word(key, a); }
  };
  boost::unordered_flat_map<std::uint32_t, Entry, Hash> entries_;
};

}  // namespace netns::ipv4
