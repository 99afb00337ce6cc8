// The bridge's forwarding database: MAC address -> port, Linux's br_fdb.c.
//
// An open-addressing table with linear probing and backward-shift deletion,
// kept at most half full, so a lookup on the forwarding path is one SipHash
// and, almost always, one cache line. Its keys are source MACs anybody on a
// port can choose, so the hash is keyed with the Host's secret (as every
// table an outsider fills): nobody can aim entries at one run of slots.
// Bounded: learned entries by max_learned, static ones by the caller, local
// ones by the number of ports.
#pragma once

#include <cstdint>
#include <vector>

#include "core/siphash.hpp"
#include "netns/clock.hpp"

namespace netns {

class BridgePort;

// SipKey::derive purpose for the bridge FDB ("brfdb").
inline constexpr std::uint64_t kSipPurposeBridgeFdb = 0x6272666462000000;

// A MAC address as the low 48 bits, first octet most significant.
using MacKey = std::uint64_t;

struct FdbSlot {
  enum Flags : std::uint8_t { kUsed = 1, kLocal = 2, kStatic = 4 };
  MacKey mac = 0;
  BridgePort* port = nullptr;       // nullptr for the bridge's own address
  Clock::time_point updated{};      // last frame from this source (learned entries)
  std::uint8_t flags = 0;

  bool used() const { return (flags & kUsed) != 0; }
  bool local() const { return (flags & kLocal) != 0; }
  bool is_static() const { return (flags & kStatic) != 0; }
  bool learned() const { return (flags & (kLocal | kStatic)) == 0; }
};

class Fdb {
 public:
  enum class Learn : std::uint8_t { refreshed, learned, moved, full, ignored };
  struct Learned {
    Learn result;
    FdbSlot* slot;  // the source's entry, or nullptr when full
  };

  explicit Fdb(SipKey key);

  // The entry for `mac`, or nullptr. The pointer is valid until the next change.
  FdbSlot* find(MacKey mac) {
    std::size_t mask = slots_.size() - 1;
    for (std::size_t i = hash(mac) & mask;; i = (i + 1) & mask) {
      FdbSlot& s = slots_[i];
      if (!s.used()) return nullptr;
      if (s.mac == mac) return &s;
    }
  }

  // br_fdb_update: a frame from `mac` arrived on `port` at `now`. Local and
  // static entries are left alone (ignored); a new source is learned unless
  // `max_learned` entries are already learned (full).
  Learned learn(MacKey mac, BridgePort* port, Clock::time_point now, std::size_t max_learned);

  // Sets `mac`'s entry to the given kind, replacing whatever was there.
  void put(MacKey mac, BridgePort* port, std::uint8_t kind_flags, Clock::time_point now);
  bool erase(MacKey mac);
  // Keeps only the entries for which keep(slot) is true; returns how many went.
  template <class Keep>
  std::size_t retain(Keep keep);

  std::size_t size() const { return size_; }
  std::size_t learned_count() const { return learned_; }
  std::size_t static_count() const { return static_; }
  const std::vector<FdbSlot>& slots() const { return slots_; }
  // Changes whenever an entry is added, removed or changes kind, or slots
  // move: a slot pointer taken at one generation is valid while it lasts.
  std::uint64_t generation() const { return generation_; }

 private:
  std::size_t hash(MacKey mac) const;
  FdbSlot& insert_slot(MacKey mac);   // an empty slot for a new key (grows first if needed)
  void count(const FdbSlot& s, int delta);
  void grow();

  SipKey key_;
  std::vector<FdbSlot> slots_;  // a power of two, at most half used
  std::size_t size_ = 0;
  std::size_t learned_ = 0;
  std::size_t static_ = 0;
  std::uint64_t generation_ = 0;
};

template <class Keep>
std::size_t Fdb::retain(Keep keep) {
  // Rebuilding is simpler than deleting while probing, and this runs on
  // the control path (flushes, ageing) only.
  std::vector<FdbSlot> old(slots_.size());
  old.swap(slots_);
  ++generation_;
  std::size_t before = size_;
  size_ = learned_ = static_ = 0;
  for (const FdbSlot& s : old) {
    if (!s.used() || !keep(s)) continue;
    FdbSlot& fresh = insert_slot(s.mac);
    fresh = s;
    count(fresh, +1);
  }
  return before - size_;
}

}  // namespace netns
