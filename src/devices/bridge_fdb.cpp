// The bridge's forwarding database (see bridge_fdb.hpp).
#include "devices/bridge_fdb.hpp"

#include <cstddef>

namespace netns {

namespace {
constexpr std::size_t kInitialSlots = 16;
}

Fdb::Fdb(SipKey key) : key_(key), slots_(kInitialSlots) {}

std::size_t Fdb::hash(MacKey mac) const { return static_cast<std::size_t>(siphash13_word(key_, mac)); }

Fdb::Learned Fdb::learn(MacKey mac, BridgePort* port, Clock::time_point now, std::size_t max_learned) {
  if (FdbSlot* s = find(mac)) {
    if (!s->learned()) return {Learn::ignored, s};  // Linux warns about its own address as a source
    // Writing only on change keeps the line clean while one source streams.
    if (s->updated != now) s->updated = now;
    if (s->port == port) return {Learn::refreshed, s};
    s->port = port;
    return {Learn::moved, s};
  }
  if (learned_ >= max_learned) return {Learn::full, nullptr};
  put(mac, port, 0, now);
  return {Learn::learned, find(mac)};
}

void Fdb::put(MacKey mac, BridgePort* port, std::uint8_t kind_flags, Clock::time_point now) {
  FdbSlot* s = find(mac);
  if (s != nullptr) {
    count(*s, -1);
  } else {
    s = &insert_slot(mac);
  }
  s->mac = mac;
  s->port = port;
  s->updated = now;
  s->flags = static_cast<std::uint8_t>(FdbSlot::kUsed | kind_flags);
  count(*s, +1);
  ++generation_;
}

bool Fdb::erase(MacKey mac) {
  std::size_t mask = slots_.size() - 1;
  std::size_t i = hash(mac) & mask;
  while (slots_[i].used() && slots_[i].mac != mac) i = (i + 1) & mask;
  if (!slots_[i].used()) return false;
  count(slots_[i], -1);
  // Backward-shift deletion: pull later members of the probe run into the
  // hole so lookups never need tombstones.
  std::size_t hole = i;
  for (std::size_t j = (i + 1) & mask; slots_[j].used(); j = (j + 1) & mask) {
    std::size_t home = hash(slots_[j].mac) & mask;
    // j's entry may move to the hole when its home is not in (hole, j].
    bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    slots_[hole] = slots_[j];
    hole = j;
  }
  slots_[hole] = FdbSlot{};
  ++generation_;
  return true;
}

FdbSlot& Fdb::insert_slot(MacKey mac) {
  if ((size_ + 1) * 2 > slots_.size()) grow();
  std::size_t mask = slots_.size() - 1;
  std::size_t i = hash(mac) & mask;
  while (slots_[i].used()) i = (i + 1) & mask;
  slots_[i].mac = mac;
  ++generation_;
  return slots_[i];
}

void Fdb::count(const FdbSlot& s, int delta) {
  size_ += static_cast<std::size_t>(delta);
  if (s.learned()) learned_ += static_cast<std::size_t>(delta);
  if (s.is_static()) static_ += static_cast<std::size_t>(delta);
}

void Fdb::grow() {
  std::vector<FdbSlot> old(slots_.size() * 2);
  old.swap(slots_);
  std::size_t mask = slots_.size() - 1;
  for (const FdbSlot& s : old) {
    if (!s.used()) continue;
    std::size_t i = hash(s.mac) & mask;
    while (slots_[i].used()) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

}  // namespace netns
