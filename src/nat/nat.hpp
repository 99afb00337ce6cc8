// nat/nat.hpp — network address translation over conntrack entries: Linux's
// nf_nat_core (choosing the translated tuple), nf_nat_proto (rewriting a
// datagram, ICMP errors included) and nf_nat_masquerade / nf_nat_redirect,
// for IPv4 and IPv6 alike (no NPTv6).
//
// A connection's translation lives in its entry: setup() rewrites the reply
// tuple of a new, unconfirmed entry (Table::set_reply) and marks it
// kStatusSrcNat / kStatusDstNat; from then on every datagram of the
// connection, either way, is rewritten by manip() from the two tuples alone.
// Each manip type is set up once per entry (kStatus*NatDone), by a rule or
// by the null binding.
//
// The hooks call it as Linux's nf_nat_inet_fn / nf_nat_ipv4_fn. nft's
// Runtime (nft/hooks.hpp) registers a NAT hook at prerouting and output
// (kPriorityNatDst, manip dst) and at postrouting and input
// (kPriorityNatSrc, manip src), after conntrack (which set
// packet.set_nfct) and before confirm:
//
//   netfilter::Verdict Runtime::nat_hook_fn(void* priv, Packet& packet, const netfilter::HookState& state) {
//     auto* h = static_cast<NatHook*>(priv);              // one family's nat chains at this hook
//     return nat::hook(packet, state, h->chains);         // std::span<const HookOps>, priority order
//   }
//
// A masqueraded connection whose datagram is routed out of another device
// than its masquerade's is dropped and forgotten (nf_nat_oif_changed), so
// the next one is translated for the new device.
//
// nat::hook runs those chains only for the first datagram of a connection
// (or a related one) whose manip type is not set up yet, stopping at the
// first chain that set it up; when none did it makes the null binding, so
// replies of untranslated flows stay untranslated and later connections
// cannot take their tuple. Then it rewrites the datagram. A `snat`, `dnat`,
// `masquerade` or `redirect` statement in such a chain is:
//
//   auto v = nat::apply(*conntrack::Entry::of(packet), stmt, state);  // stmt: nft::Nat
//   if (!v) continue_with_next_rule;     // another family's statement (inet): not for this datagram
//   return *v;                           // accept: terminal, as nft's nat expression; drop: no free tuple
//
// Afterwards the IP layer must route again when the destination changed
// (dnat at output: Linux's nf_nat_ipv4_local_fn calls ip_route_me_harder;
// at prerouting the route is looked up after the hook anyway).
//
// Never clashes: setup() picks a translated tuple whose reply tuple no
// entry of the namespace's table holds (either direction), trying at most
// kMaxAttempts ports per round; when none is free the datagram is dropped
// and counted in the namespace's conntrack stats().insert_failed (where
// Linux counts the clash it would meet at confirm). What no search can
// move (a single-port range, dnat without ports, a protocol without ports)
// stays as Linux leaves it: a later manip may still move it (the null
// binding at postrouting), else confirm refuses the clash (insert_failed).
// Entries still unconfirmed are not in the table: two new connections
// racing for one tuple are settled at confirm, as in Linux.
//
// A source already translated keeps its mapping for its next connections
// (find_appropriate_src, over the table's by-source index).
//
// Not done (yet): NAT helpers (ftp, sip).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "conntrack/conntrack.hpp"
#include "conntrack/entry.hpp"
#include "netfilter/hooks.hpp"
#include "netns/address.hpp"

namespace netns {
class Device;
class Net;
class Packet;
namespace nft {
struct Nat;
}
}  // namespace netns

namespace netns::nat {

// Linux's enum nf_nat_manip_type: which side of the original tuple a
// translation changes.
enum class ManipType : std::uint8_t { src, dst };

// Linux's HOOK2MANIP: source at postrouting and input, destination before routing
// (prerouting, output).
constexpr ManipType manip_of(netfilter::Hook h) {
  return h == netfilter::Hook::postrouting || h == netfilter::Hook::input ? ManipType::src : ManipType::dst;
}

// Linux's struct nf_nat_range2. The ports are TCP/UDP ports, or the
// ICMP/ICMPv6 echo id.
struct Range {
  bool map_ips = false;          // NF_NAT_RANGE_MAP_IPS: the address becomes one of min..max
  bool proto_specified = false;  // NF_NAT_RANGE_PROTO_SPECIFIED: the port becomes one of min..max
  bool random = false;           // NF_NAT_RANGE_PROTO_RANDOM_ALL: a port from a random start, never the original
  bool persistent = false;       // NF_NAT_RANGE_PERSISTENT: the address hashed from the source alone
  IpAddress min_addr, max_addr;  // same family as the entry; min <= max
  std::uint16_t min_port = 0, max_port = 0;
};

// Ports (or ids) tried per round of the search (Linux's NF_NAT_MAX_ATTEMPTS);
// rounds halve it down to 16.
inline constexpr unsigned kMaxAttempts = 128;

// Linux's nf_nat_initialized: this manip type of `e` is set up.
bool initialized(const conntrack::Entry& e, ManipType m);

// Linux's nf_nat_setup_info for a new entry: chooses the tuple (the
// original when it is in the range and free, else for source NAT the
// mapping the same source has in another connection when it is in the
// range and free for this destination, else an address of the range
// hashed from the connection's addresses and a free port or id of the range,
// or of the original port's class: 1-511, 600-1023, 1024-65535), rewrites
// the reply tuple and sets the status bits. Drop: no free tuple (counted).
// Accept without change for a confirmed entry or one whose manip type is
// set up already.
netfilter::Verdict setup(Net& net, conntrack::Entry& e, const Range& range, ManipType m);

// Linux's nf_nat_alloc_null_binding: the manip type of `hook` set up to the
// entry's own address (the port changes only if its tuple is taken).
netfilter::Verdict null_binding(Net& net, conntrack::Entry& e, netfilter::Hook hook);

// Linux's nf_nat_masquerade_ipv4/ipv6: source NAT to the address the output
// device would send from towards the connection's destination (after any
// dnat; inet_select_addr, RFC 6724 for IPv6), ports from `range` if it names
// them. Drop when the device has no usable address. Only at postrouting
// (state.out set).
netfilter::Verdict masquerade(conntrack::Entry& e, const Range& range, const netfilter::HookState& state);

// Linux's masq_device_event and masq_inet_event: the connections a
// masquerade translated for `dev` are removed from the namespace's table
// when it goes down or away (all of them), or when it loses an address
// (`stale_only`: those translated to an address the namespace no longer
// has), so their next datagram is translated anew rather than leaving with
// a stale source.
void forget_masqueraded(Net& net, const Device& dev, bool stale_only = false);
// Removes one connection from the namespace's table (nf_ct_kill).
void forget(Net& net, conntrack::Entry& e);

// Linux's nf_nat_redirect_ipv4/ipv6: destination NAT to the input device's
// address (127.0.0.1 or ::1 at output), ports from `range`. Drop when the
// input device has no address.
netfilter::Verdict redirect(conntrack::Entry& e, const Range& range, const netfilter::HookState& state);

// nft's nat expression: `snat`, `dnat`, `masquerade` or `redirect` for the
// datagram's entry. nullopt when the statement names another family than
// the datagram's (the rule goes on); otherwise the verdict that ends the
// chain. Precondition: state.family is the entry's.
std::optional<netfilter::Verdict> apply(conntrack::Entry& e, const nft::Nat& stmt, const netfilter::HookState& state);

// Linux's nf_nat_packet: rewrites a datagram (from its IP header) of
// entry `e` that `info` says goes which way, as the hook's manip type asks:
// the original direction gets the translation, the reply has it undone.
// Incremental checksums: the IPv4 header, TCP/UDP/ICMPv6 with the
// pseudo-header (a UDP checksum 0 over IPv4 stays 0; with `partial`, the
// transport checksum field holds the pseudo-header sum only, Linux's
// CHECKSUM_PARTIAL), the ICMP echo id. Drop: the datagram is too short for
// the headers it names.
netfilter::Verdict manip(Packet& packet, const conntrack::Entry& e, conntrack::CtInfo info, netfilter::Hook hook);
netfilter::Verdict manip(std::span<std::byte> datagram, bool partial, const conntrack::Entry& e,
                         conntrack::CtInfo info, netfilter::Hook hook);

// Linux's nf_nat_icmp_reply_translation (and its ICMPv6 twin) for an ICMP
// error related to `e`: the quoted datagram is translated as the
// connection's datagram going the other way would be (its checksums fixed),
// the ICMP checksum recomputed, and the outer addresses rewritten so the
// error reaches the host that sent the quoted datagram. Drop: a bad ICMP
// checksum, a truncated error, or a redirect about a translated connection.
netfilter::Verdict icmp_reply_translation(std::span<std::byte> datagram, const conntrack::Entry& e,
                                          conntrack::CtInfo info, netfilter::Hook hook);

// Linux's nf_nat_ipv4_fn / nf_nat_ipv6_fn / nf_nat_inet_fn: everything a nat
// hook does for one datagram. `chains`: the nat base chains registered at
// state.hook, in priority order. An untracked datagram passes unchanged.
netfilter::Verdict hook(Packet& packet, const netfilter::HookState& state, std::span<const netfilter::HookOps> chains);

}  // namespace netns::nat
