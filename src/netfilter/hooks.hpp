// netfilter/hooks.hpp — the seam between the IP layers and what inspects
// their datagrams: Linux's netfilter hooks (nf_hook_ops, nf_hook_entries,
// NF_HOOK) for one namespace and one family.
//
// A subsystem that wants to see datagrams (conntrack, nft's base chains)
// registers a HookOps at a hook with a priority. The IP layers hold one
// HookTable per family in their pernet state (Ipv4Net::hooks,
// Ipv6Net::hooks; hook_table(net, family) finds it) and ask it at each of
// the five places Linux does:
//
//   if (ns.hooks.active(Hook::prerouting)) [[unlikely]] {
//     if (ns.hooks.run(Hook::prerouting, packet, {net, Hook::prerouting, Family::ipv4, &dev, nullptr}) !=
//         Verdict::accept)
//       return;  // dropped (the entry counted it) or stolen (the entry has it now)
//   }
//
// A hook with nothing registered is a null pointer: a namespace without
// tables pays a load and a branch per hook and nothing else.
//
// What an entry sees: `packet` starts at the IP header, holds the whole
// datagram (no link padding), and its header was validated. An entry may
// rewrite it (NAT), replace it (reassembly: the whole datagram for the last
// fragment), or move it out and return stolen. At output and postrouting
// the transport checksum may still be partial (Packet::checksum_partial).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "netns/result.hpp"
#include "netns/wire/address.hpp"

namespace netns {
class Net;
class Device;
class Packet;
class RxScheduler;
}  // namespace netns

namespace netns::netfilter {

// Linux's NF_INET_* hooks, in its numbering.
enum class Hook : std::uint8_t { prerouting, input, forward, output, postrouting };
inline constexpr std::size_t kHookCount = 5;

enum class Verdict : std::uint8_t {
  accept,  // on to the next entry, then the layer
  drop,    // the entry has counted why; the layer drops the packet
  stolen,  // the entry took the packet (moved out of it, or queued it): the layer stops
};

// Linux's enum nf_ip_hook_priorities, for the entries netns has.
inline constexpr int kPriorityFirst = -2'147'483'647 - 1;
inline constexpr int kPriorityConntrackDefrag = -400;
inline constexpr int kPriorityRaw = -300;
inline constexpr int kPriorityConntrack = -200;
inline constexpr int kPriorityNatDst = -100;
inline constexpr int kPriorityFilter = 0;
inline constexpr int kPriorityNatSrc = 100;
inline constexpr int kPriorityConntrackConfirm = 2'147'483'647;  // NF_IP_PRI_CONNTRACK_CONFIRM (INT_MAX)

// Where a datagram is and which way it goes (Linux's struct nf_hook_state).
struct HookState {
  Net& net;
  Hook hook;
  Family family;
  Device* in = nullptr;   // prerouting, input, forward
  Device* out = nullptr;  // forward, output, postrouting
};

using HookFn = Verdict (*)(void* priv, Packet& packet, const HookState& state);
// A datagram (from its IP header, not yet validated) that will reach the
// hook a few frames from now: the entry may prefetch what it will look up
// for it (the receive path's look-ahead, PacketHandler::prefetch).
using PrefetchFn = void (*)(void* priv, Net& net, std::span<const std::byte> datagram);

struct HookOps {
  HookFn fn = nullptr;
  void* priv = nullptr;  // the registrant's; it must outlive the registration
  int priority = 0;      // lower runs first; equal priorities run in registration order
  PrefetchFn prefetch = nullptr;  // optional
  friend bool operator==(const HookOps&, const HookOps&) = default;
};

// Linux's MAX_HOOK_COUNT: registrations past it fail with E2BIG.
inline constexpr std::size_t kMaxHookEntries = 1024;

// Which hooks have an entry, a bit each: what the packet path asks of
// every datagram. A HookTable keeps one up to date wherever its owner puts
// it, so that the question costs no line the datagram does not read
// anyway (Ipv4Net keeps IPv4's beside its main table, in its first line).
class HookMask {
 public:
  bool active(Hook h) const { return (bits_ >> static_cast<unsigned>(h) & 1u) != 0; }

 private:
  friend class HookTable;
  void set(Hook h, bool on) {
    const auto bit = static_cast<std::uint8_t>(1u << static_cast<unsigned>(h));
    bits_ = static_cast<std::uint8_t>(on ? bits_ | bit : bits_ & ~bit);
  }
  std::uint8_t bits_ = 0;
};
static_assert(kHookCount <= 8, "HookMask: a bit per hook");

// One namespace's hooks for one family.
class HookTable {
 public:
  // `rx`, when given, counts this table's namespace in while its prerouting
  // hook has an entry that looks ahead (RxScheduler::count_lookahead).
  // `mask`, when given, is kept telling which hooks have an entry (it
  // must outlive the table); the packet path asks it rather than active().
  explicit HookTable(RxScheduler* rx = nullptr, HookMask* mask = nullptr);
  ~HookTable();
  HookTable(const HookTable&) = delete;
  HookTable& operator=(const HookTable&) = delete;

  bool active(Hook h) const { return hooks_[index(h)] != nullptr; }
  // Runs the hook's entries in priority order until one does not accept.
  // Precondition: active(h). Entries may be added or removed meanwhile
  // (a log sink that loads a ruleset): the run finishes on the entries it
  // started with, and those are freed once no run uses them.
  Verdict run(Hook h, Packet& packet, const HookState& state);
  // Whether an entry of hook `h` prefetches, and the look-ahead for them.
  bool prefetches(Hook h) const { return prefetching_.active(h); }
  void prefetch(Hook h, Net& net, std::span<const std::byte> datagram) const;

  // nf_register_net_hook: argument_list_too_long past kMaxHookEntries,
  // invalid_argument for a null fn.
  [[nodiscard]] Result<void> add(Hook h, const HookOps& ops);
  // nf_unregister_net_hook: removes the entry equal to `ops` (nothing when
  // there is none). The hook becomes inactive with its last entry.
  void remove(Hook h, const HookOps& ops);
  // Puts `to` in the place of the entry equal to `from` (nothing when there
  // is none): its order among equal priorities is kept. Precondition: the
  // same priority.
  void exchange(Hook h, const HookOps& from, const HookOps& to);
  std::size_t size(Hook h) const;

 private:
  using Entries = std::vector<HookOps>;
  static std::size_t index(Hook h) { return static_cast<std::size_t>(h); }
  void replace(Hook h, std::unique_ptr<const Entries> next);

  std::array<std::unique_ptr<const Entries>, kHookCount> hooks_;
  RxScheduler* rx_;
  HookMask* mask_;
  // Entries replaced while a run used them: freed when the last run ends.
  std::vector<std::unique_ptr<const Entries>> retired_;
  std::uint32_t running_ = 0;
  HookMask prefetching_;  // the hooks with an entry that prefetches
};

// The namespace's table for `family`: the one its IP layer asks
// (Ipv4Net::hooks, Ipv6Net::hooks), where conntrack and nft register.
HookTable& hook_table(Net& net, Family family);

}  // namespace netns::netfilter
