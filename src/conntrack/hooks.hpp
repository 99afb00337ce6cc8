// conntrack/hooks.hpp — connection tracking on the packet path: Linux's
// nf_conntrack_l3proto_ipv4/ipv6 hook entries and nf_defrag_ipv4/ipv6,
// registered on a namespace's netfilter hooks (netfilter/hooks.hpp) while
// something needs them. Per family, while on:
//
//   prerouting   -400 defrag (Linux's IP_DEFRAG_CONNTRACK_IN)   -200 track
//   output       -400 defrag (IP_DEFRAG_CONNTRACK_OUT)          -200 track
//   input        INT_MAX confirm
//   postrouting  INT_MAX confirm
//
// Defrag takes fragments (stolen) into reassemblers of its own, apart from
// the layers' local ones, and replaces the last fragment with the whole
// datagram; an expired queue sends no ICMP (only a local reassembly does).
// Track sets the packet's connection (Packet::set_nfct) for the rules to
// read; a packet that has one already (loopback: tracked on its way out) or
// is marked untracked (`notrack`) is left alone. Confirm drops what
// Conntrack::confirm refuses.
//
// Who turns it on: netns_get / netns_put (include/netns/conntrack.hpp),
// counted per namespace and family; the first get registers, the last put
// unregisters so the hooks are null again. The state lives in Conntrack's
// pernet slot (HookNet) and unregisters at namespace exit.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "netfilter/hooks.hpp"
#include "netns/result.hpp"
#include "netns/wire/address.hpp"

namespace netns {
class Net;
class Packet;
namespace ipv4 {
class Reassembler;
}
namespace ipv6 {
class Reassembler;
}
}  // namespace netns

namespace netns::conntrack {

class Conntrack;

// Linux's IP_CT_UNTRACKED: the ctinfo of a packet conntrack leaves alone.
inline constexpr std::uint8_t kCtInfoUntracked = 7;

// One namespace's conntrack hook registrations and defrag queues.
class HookNet {
 public:
  HookNet(Net& net, Conntrack& conntrack);
  // Unregisters whatever is registered.
  ~HookNet();
  HookNet(const HookNet&) = delete;
  HookNet& operator=(const HookNet&) = delete;

  // nf_ct_netns_get: one more user of `family`; the first registers the
  // hooks. Fails (nothing changed) when a hook table is full
  // (argument_list_too_long).
  [[nodiscard]] Result<void> get(Family family);
  // nf_ct_netns_put: one user fewer; the last unregisters. Nothing when
  // there is no user.
  void put(Family family);
  std::uint32_t users(Family family) const { return users_[index(family)]; }

 private:
  static std::size_t index(Family f) { return f == Family::ipv4 ? 0 : 1; }
  struct Registration {
    netfilter::Hook hook;
    netfilter::HookOps ops;
  };
  // What get() registers and unregister() removes.
  std::array<Registration, 6> registrations();
  netfilter::HookOps track_ops(bool prefetching);
  void follow_table(Family family);
  void unregister(Family family);

  static netfilter::Verdict defrag(void* priv, Packet& packet, const netfilter::HookState& state);
  static netfilter::Verdict track(void* priv, Packet& packet, const netfilter::HookState& state);
  static netfilter::Verdict confirm(void* priv, Packet& packet, const netfilter::HookState& state);
  static void prefetch(void* priv, Net& net, std::span<const std::byte> datagram);
  netfilter::Verdict defrag4(Packet& packet, const netfilter::HookState& state);
  netfilter::Verdict defrag6(Packet& packet, const netfilter::HookState& state);

  Net& net_;
  Conntrack& conntrack_;
  std::array<std::uint32_t, 2> users_{};
  std::array<bool, 2> prefetching_{};  // prerouting's track entry has its prefetch
  // Made on the first fragment; [0] for prerouting, [1] for output.
  std::array<std::unique_ptr<ipv4::Reassembler>, 2> defrag4_;
  std::array<std::unique_ptr<ipv6::Reassembler>, 2> defrag6_;
};

}  // namespace netns::conntrack
