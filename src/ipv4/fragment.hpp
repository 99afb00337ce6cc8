// ipv4/fragment.hpp — IPv4 fragmentation on output and reassembly on input
// (RFC 791; behaviour as Linux's net/ipv4/ip_fragment.c, ip_output.c and
// inet_fragment.c).
//
// The IPv4 layer keeps one Reassembler per namespace in its pernet slot and
// hands it every fragment that is addressed to this host:
//
//   Reassembler reasm(net, [&](Packet first) { send_time_exceeded(net, std::move(first)); });
//   if (ip.is_fragment()) {
//     auto whole = reasm.add(std::move(packet));   // data() at the IPv4 header
//     if (!whole) return;                          // held, or dropped and counted
//     packet = std::move(*whole);                  // the datagram, as if never fragmented
//   }
//
// and fragments on output when a datagram is larger than the device's MTU:
//
//   auto r = ipv4::fragment(net, std::move(datagram), dev.mtu(), [&](Packet f) { dispatch(f); });
//   if (!r) { /* DF set: send ICMP fragmentation needed */ }
//
// Everything here is data plane: drops are counted in the namespace's
// counters (IpReasm*, IpExtReasmOverlaps, IpFrag*), never reported upward,
// except that fragment() tells its caller why nothing was sent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "inet/reassembly.hpp"
#include "netns/address.hpp"
#include "netns/packet.hpp"
#include "netns/resources.hpp"
#include "netns/result.hpp"
#include "netns/wire/ipv4.hpp"

namespace netns {
class Host;
class Net;
}  // namespace netns

namespace netns::ipv4 {

// The reassembly state of one namespace: one queue per datagram being
// reassembled, keyed by (source, destination, identification, protocol).
//
// Bounds: the bytes held (each fragment's buffer plus bookkeeping, as Linux
// counts skb truesize) never exceed net.ipv4.ipfrag_high_thresh, read as each
// fragment arrives — a fragment that would exceed it is dropped (IpReasmFails)
// and 0 disables reassembly; at most kMaxQueues datagrams are in progress.
// The bytes held count in the namespace's net.core.packet_mem_max too: a
// fragment the namespace has no room for is dropped (IpReasmFails and
// IpExtPacketMemDrops).
// Every queue expires net.ipv4.ipfrag_time seconds after its first fragment.
//
// Overlaps, as Linux since 4.19 (RFC 5722 applied to IPv4): a fragment whose
// bytes are all already held (an exact duplicate, or one inside held data) is
// dropped alone; any other overlap drops the whole datagram
// (IpExtReasmOverlaps, IpReasmFails). A fragment ending past 65535, an empty
// fragment, a non-final fragment whose length is not a multiple of 8, a
// second final fragment with a different end or data past the known end
// drop the datagram (IpReasmFails). ECN codepoints of the fragments are
// combined as RFC 3168 section 5.3 says (Linux's ip_frag_ecn_table): CE wins
// over ECT, and Not-ECT mixed with ECT or CE drops the datagram.
//
// Destroying the Reassembler (namespace teardown) frees every queue and
// cancels its timer; nothing fires afterwards.
class Reassembler {
 public:
  static constexpr std::size_t kMaxQueues = inet::kMaxFragmentQueues;

  // on_timeout(first_fragment) runs when a datagram times out after its first
  // fragment (offset 0) arrived, so the caller can send ICMP time exceeded,
  // code 1 (RFC 792: only the host that has fragment zero sends it). It runs
  // from a timer in Host::poll, after the queue is freed; it may call add().
  Reassembler(Net& net, std::function<void(Packet first_fragment)> on_timeout);
  ~Reassembler();
  Reassembler(const Reassembler&) = delete;
  Reassembler& operator=(const Reassembler&) = delete;

  // Takes a fragment: `fragment.data()` starts at the IPv4 header of a
  // datagram with MF set or a non-zero offset, already validated by
  // Ipv4View::checked with its header checksum verified; bytes past
  // total_length (link padding) are ignored. Returns the reassembled datagram
  // once the last missing piece arrives: data() at a header copied from the
  // first fragment (options included) with total_length, MF, offset, ECN and
  // checksum rewritten, DF set when any fragment had it; device, type and
  // protocol from the first fragment. Otherwise the fragment is held or
  // dropped (and counted) and the result is empty. A packet that is not a
  // fragment is handed back unchanged.
  std::optional<Packet> add(Packet fragment);
  // The same, for a fragment whose header input has checked already: `ip` is
  // Ipv4View::checked(fragment.data()), and is not checked again.
  std::optional<Packet> add(Packet fragment, const wire::Ipv4View& ip);

  // Bytes held, as counted against net.ipv4.ipfrag_high_thresh.
  std::size_t memory() const { return table_.memory(); }
  // Datagrams being reassembled.
  std::size_t queues() const { return table_.queues(); }

 private:
  struct Key {
    Ipv4Address src;
    Ipv4Address dst;
    std::uint16_t id;
    std::uint8_t protocol;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    std::uint64_t secret;
    std::size_t operator()(const Key& key) const;
  };
  struct Extra {
    bool dont_fragment = false;  // any fragment had DF
  };
  using Table = inet::FragmentTable<Key, KeyHash, Extra>;

  std::optional<Packet> reassemble(Table::Queue& q);

  Net* net_;
  Table table_;
};

// Splits `datagram` (data() at its IPv4 header, checksum valid) into
// fragments of at most `mtu` bytes and calls emit(fragment) for each, in
// order of offset. Each fragment carries a copy of the header; the first one
// every option, the others only the options with the copied flag (RFC 791
// 3.1). MF is set on all but the last (and on the last too when the datagram
// was itself a non-final fragment, whose offset the new ones continue);
// offsets are in 8-byte units and checksums are filled. Payload bytes are
// copied through PacketPool::copy_bytes; the first fragment reuses the
// datagram's buffer. Counts IpFragOKs per datagram and IpFragCreates per
// fragment.
//
// A datagram that already fits is emitted unchanged (nothing counted). Fails,
// emitting nothing and counting IpFragFails: message_size when DF is set and
// the datagram does not fit (the caller sends ICMP fragmentation needed);
// invalid_argument when `mtu` leaves no room for 8 bytes of payload after the
// header; bad_message when `datagram` is not a valid IPv4 datagram.
[[nodiscard]] Result<void> fragment(Net& net, Packet datagram, std::uint32_t mtu,
                                    const std::function<void(Packet)>& emit);

}  // namespace netns::ipv4
