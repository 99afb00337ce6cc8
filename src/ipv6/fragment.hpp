// ipv6/fragment.hpp — IPv6 fragmentation at the source and reassembly
// (RFC 8200 4.5, RFC 5722, RFC 6946, RFC 7112; behaviour as Linux's
// net/ipv6/ip6_output.c ip6_fragment, reassembly.c and inet_fragment.c).
//
// The IPv6 layer keeps one Reassembler per namespace (made on the first
// fragment) and hands it every fragment addressed to this host once the
// extension-header walk has stopped at its fragment header:
//
//   auto walk = wire::walk_extension_headers(ip, context, from);   // verdict fragment
//   auto whole = reasm.add(std::move(packet), ip, walk);           // data() at the IPv6 header
//   if (!whole) return;                      // held, or dropped and counted
//   // whole->packet: the datagram without its fragment header; walk it on
//   // from whole->resume, where the fragment header was.
//
// and fragments at the source when a datagram exceeds the path MTU:
//
//   auto r = ipv6::fragment(net, std::move(datagram), mtu, id, [&](Packet f) { output(f); });
//
// Everything here is data plane: drops are counted in the namespace's
// counters (Ip6Reasm*, Ip6Frag*), never reported upward, except that
// fragment() tells its caller why nothing was sent.
//
// The queue core (offset map, overlap rule, bounds, timers) is IPv4's too:
// inet/reassembly.hpp. What is IPv6's own is the key, the counters, and
// what a reassembled datagram is: the fragment header removed from the
// middle of the chain, where IPv4 rewrites its header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "core/siphash.hpp"
#include "inet/reassembly.hpp"
#include "netns/address.hpp"
#include "netns/packet.hpp"
#include "netns/resources.hpp"
#include "netns/result.hpp"
#include "netns/wire/ipv6.hpp"
#include "netns/wire/ipv6_ext.hpp"

namespace netns {
class Host;
class Net;
}  // namespace netns

namespace netns::ipv6 {

// One namespace's datagrams being reassembled, keyed as Linux's
// frag_v6_compare_key: (source, destination, identification, and the
// arrival device's ifindex when the destination is link-local or
// multicast, whose scope is the link).
//
// Bounds: the bytes held (each fragment's truesize plus bookkeeping) never
// exceed net.ipv6.ip6frag_high_thresh, read as each fragment arrives — a
// fragment that would exceed it is dropped (Ip6ReasmFails) and 0 disables
// reassembly; at most kMaxQueues datagrams are in progress. The bytes held
// count in the namespace's net.core.packet_mem_max too (a fragment it has no
// room for: Ip6ReasmFails and IpExtPacketMemDrops). Every queue expires
// net.ipv6.ip6frag_time seconds after its first fragment (Ip6ReasmTimeout
// and Ip6ReasmFails).
//
// RFC 5722: a fragment whose bytes are all already held (a duplicate) is
// dropped alone, uncounted, as Linux's inet_frag_queue_insert; any other
// overlap drops the whole datagram (Ip6ReasmFails: Linux's
// IPSTATS_MIB_REASM_OVERLAPS has no line in /proc/net/snmp6). A second final
// fragment with another end, data past the known end, a reassembled
// datagram longer than 65535, and ECN codepoints that cannot combine
// (RFC 3168 5.3: Not-ECT with ECT or CE) drop the datagram (Ip6ReasmFails).
// The per-fragment checks that answer with a parameter problem (RFC 8200
// 4.5, RFC 7112) are the extension-header walk's (wire/ipv6_ext.hpp).
//
// Destroying the Reassembler (namespace teardown) frees every queue and
// cancels its timer; nothing fires afterwards.
class Reassembler {
 public:
  static constexpr std::size_t kMaxQueues = inet::kMaxFragmentQueues;

  // on_timeout(first_fragment) runs when a datagram times out after its
  // first fragment (offset 0) arrived, so the caller can send time exceeded
  // code 1 (RFC 8200 4.5). It runs from a timer in Host::poll, after the
  // queue is freed; it may call add().
  Reassembler(Net& net, std::function<void(Packet first_fragment)> on_timeout);
  ~Reassembler();
  Reassembler(const Reassembler&) = delete;
  Reassembler& operator=(const Reassembler&) = delete;

  struct Reassembled {
    Packet packet;                    // data() at the IPv6 header; payload_length rewritten
    wire::Ipv6ExtPosition resume;     // where the fragment header was: the walk goes on there
  };

  // Takes a fragment: `fragment.data()` is `ip`'s bytes (trimmed to the
  // payload length), and `walk` the extension-header walk's verdict
  // fragment over it. `iif`: the ifindex it arrived on. Returns the
  // reassembled datagram once the last missing piece arrives: the
  // unfragmentable part of the first fragment, with the next-header field
  // at walk.nhoff naming what the fragment header named, then the data; the
  // traffic class's ECN combined; device and type from the first fragment.
  // Otherwise the fragment is held, or dropped and counted, and the result
  // is empty.
  std::optional<Reassembled> add(Packet fragment, const wire::Ipv6View& ip, const wire::Ipv6ExtResult& walk,
                                 int iif);

  // Bytes held, as counted against net.ipv6.ip6frag_high_thresh.
  std::size_t memory() const { return table_.memory(); }
  // Datagrams being reassembled.
  std::size_t queues() const { return table_.queues(); }

 private:
  struct Key {
    Ipv6Address src;
    Ipv6Address dst;
    std::uint32_t id;
    int iif;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    SipKey key;
    std::size_t operator()(const Key& k) const;
  };
  // From the first fragment (Linux's fq->nhoffset): where its fragment
  // header sits, the field that named it, and what it named.
  struct Extra {
    std::uint32_t unfragmentable = 0;
    std::uint32_t nhoff = 0;
    std::uint8_t next_header = 0;
  };
  using Table = inet::FragmentTable<Key, KeyHash, Extra>;

  std::optional<Reassembled> reassemble(Table::Queue& q);

  Net* net_;
  Table table_;
};

// ip6_fragment: splits `datagram` (data() at its IPv6 header, payload
// length true) into fragments of at most `mtu` bytes carrying a fragment
// header with `identification`, and calls emit(fragment) for each, in order
// of offset. The unfragmentable part (the fixed header, hop-by-hop, and
// everything up to the last routing header; wire::fragment_insertion_point)
// is repeated in each; a destination options header no routing header
// follows goes into the fragmentable part, as RFC 8200 4.1 orders it (Linux's
// ip6_find_1stfragopt keeps it in front; both are valid to a receiver).
// Every fragment but the last carries a multiple of 8 bytes of data. The
// first fragment is the datagram's own buffer (no copy); the others are
// copied through PacketPool::copy_bytes. A partial transport checksum is
// filled first. Counts Ip6FragCreates per fragment and Ip6FragOKs per
// datagram.
//
// A datagram that already fits is emitted unchanged (nothing counted).
// Fails, emitting nothing and counting Ip6FragFails: message_size when
// `mtu` leaves no room for 8 bytes of data after the unfragmentable part and
// the fragment header (Linux's fail_toobig); bad_message when `datagram` is
// not a valid IPv6 datagram; not_enough_memory when the pool is dry.
[[nodiscard]] Result<void> fragment(Net& net, Packet datagram, std::uint32_t mtu, std::uint32_t identification,
                                    const std::function<void(Packet)>& emit);

// Fills a partial TCP, UDP or ICMPv6 checksum of an IPv6 datagram (data()
// at its header); a no-op for a packet whose checksum is complete.
void finish_checksum(Packet& datagram);

}  // namespace netns::ipv6
