// Route exceptions for path MTU, as Linux's __ip_rt_update_pmtu and
// update_or_create_fnhe.
#include "ipv4/pmtu.hpp"

#include <algorithm>

namespace netns::ipv4 {

void PmtuExceptions::update(Ipv4Address dst, std::uint32_t reported, std::uint32_t current,
                            std::uint32_t min_pmtu, Clock::duration lifetime, Clock::time_point now) {
  auto existing = lookup(dst, now);
  if (existing && existing->locked) return;  // ip_mtu_locked
  if (current < reported) return;
  bool locked = false;
  std::uint32_t mtu = reported;
  if (mtu < min_pmtu) {
    locked = true;
    mtu = std::min(current, min_pmtu);
  }
  if (existing && existing->mtu == mtu && !locked && now < existing->expires - lifetime / 2) return;
  if (!existing && entries_.size() >= kMaxEntries) entries_.erase(entries_.begin());
  entries_.insert_or_assign(dst.value, Entry{mtu, locked, now + lifetime});
}

std::optional<PmtuExceptions::Entry> PmtuExceptions::lookup(Ipv4Address dst, Clock::time_point now) {
  auto it = entries_.find(dst.value);
  if (it == entries_.end()) return std::nullopt;
  if (now >= it->second.expires) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

}  // namespace netns::ipv4
