// PLACEHOLDER until the fib6 branch lands: a linear table with its interface.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "netns/clock.hpp"
#include "netns/ipv4.hpp"
#include "netns/result.hpp"

namespace netns::ipv6 {

using RouteType = ipv4::RouteType;

struct Fib6Entry {
  Ipv6Prefix prefix;
  std::optional<Ipv6Address> via;
  Device* dev = nullptr;
  std::uint32_t metric = 1024;
  RouteType type = RouteType::unicast;
  std::uint8_t protocol = 0;
  std::optional<Clock::time_point> expires;
  Ipv6Address prefsrc;
};

class Fib6 {
 public:
  static constexpr std::size_t kDefaultMaxRoutes = 1 << 20;
  explicit Fib6(std::size_t max_routes = kDefaultMaxRoutes) : max_(max_routes) {}
  Result<void> insert(const Fib6Entry& e) {
    Fib6Entry n = e;
    n.prefix = Ipv6Prefix(Ipv6Prefix(e.prefix.address().with_scope(0), e.prefix.length()).network(), e.prefix.length());
    for (const auto& r : routes_) {
      if (r.prefix == n.prefix && r.metric == n.metric && r.dev == n.dev && r.via == n.via) return error(Errc::file_exists);
    }
    if (routes_.size() >= max_) return error(Errc::no_buffer_space);
    routes_.push_back(n);
    return {};
  }
  Result<void> erase(const Fib6Entry& m) {
    const Ipv6Prefix p(Ipv6Prefix(m.prefix.address().with_scope(0), m.prefix.length()).network(), m.prefix.length());
    auto it = std::find_if(routes_.begin(), routes_.end(), [&](const Fib6Entry& r) {
      return r.prefix == p && (m.metric == 0 || r.metric == m.metric) && (m.dev == nullptr || r.dev == m.dev) &&
             (!m.via || r.via == m.via);
    });
    if (it == routes_.end()) return error(Errc::no_such_process);
    routes_.erase(it);
    return {};
  }
  template <class P>
  std::size_t remove_if(P&& pred) {
    return std::erase_if(routes_, pred);
  }
  const Fib6Entry* lookup(const Ipv6Address& dst) const { return lookup(dst, nullptr); }
  const Fib6Entry* lookup(const Ipv6Address& dst, const Device* oif) const {
    const Fib6Entry* best = nullptr;
    for (const auto& r : routes_) {
      if (oif != nullptr && r.dev != oif) continue;
      if (!r.prefix.contains(dst)) continue;
      if (best == nullptr || r.prefix.length() > best->prefix.length() ||
          (r.prefix.length() == best->prefix.length() && r.metric < best->metric)) {
        best = &r;
      }
    }
    return best;
  }
  template <class F>
  void for_each(F&& f) const {
    for (const auto& r : routes_) f(r);
  }
  std::size_t size() const { return routes_.size(); }

 private:
  std::size_t max_;
  std::vector<Fib6Entry> routes_;
};

}  // namespace netns::ipv6
