// Route exceptions from ICMP redirects.
#include "ipv4/redirects.hpp"

namespace netns::ipv4 {

void RedirectExceptions::learn(Ipv4Address dst, Ipv4Address gateway, const Device& dev, Clock::time_point now) {
  if (!entries_.contains(dst.value) && entries_.size() >= kMaxEntries) entries_.erase(entries_.begin());
  entries_.insert_or_assign(dst.value, Entry{gateway, &dev, now + kLifetime});
}

std::optional<Ipv4Address> RedirectExceptions::lookup(Ipv4Address dst, const Device& dev, Clock::time_point now) {
  auto it = entries_.find(dst.value);
  if (it == entries_.end()) return std::nullopt;
  if (now >= it->second.expires) {
    entries_.erase(it);
    return std::nullopt;
  }
  if (it->second.dev != &dev) return std::nullopt;
  return it->second.gateway;
}

void RedirectExceptions::forget(const Device& dev) {
  boost::unordered::erase_if(entries_, [&](const auto& kv) { return kv.second.dev == &dev; });
}

}  // namespace netns::ipv4
