// inet/reassembly.hpp — what IPv4's and IPv6's reassembly share, as Linux's
// net/ipv4/inet_fragment.c serves both: a datagram's queue of fragments
// under the RFC 5722 overlap rule, and a namespace's bounded table of such
// queues with their memory, timers and counters.
//
// Each family keeps the rest (ipv4/fragment.cpp, ipv6/fragment.cpp): it
// reads a fragment's offsets from its header, refuses what that header
// alone decides, and writes the reassembled datagram's header:
//
//   inet::FragmentInfo f{offset, end, header_len, more, ecn};
//   if (/* the header alone is wrong */) return table.drop(key);
//   auto* q = table.add(key, std::move(packet), f);
//   if (q == nullptr || !q->complete()) return;   // held, or dropped and counted
//   Packet whole = q->assemble(pool, header_len); // the data, header to write
//   table.done(*q);
//
// The members of FragmentTable are in inet/reassembly_impl.hpp, which only
// the .cpp of each family includes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>

#include "netns/counters.hpp"
#include "netns/packet.hpp"
#include "netns/resources.hpp"
#include "netns/sysctl_table.hpp"
#include "netns/timer.hpp"

namespace netns {
class Host;
class Net;
class PacketPool;
}  // namespace netns

namespace netns::inet {

// One fragment, as its family read it.
struct FragmentInfo {
  std::uint32_t offset;   // where its data goes in the datagram's payload
  std::uint32_t end;      // one past its data
  std::uint32_t data_at;  // where its data starts in the packet's bytes
  bool more;              // MF (IPv4), M (IPv6): fragments follow
  std::uint8_t ecn;       // the ECN codepoint of its TOS or traffic class
};

// One datagram being reassembled: Linux's inet_frag_queue. Its fragments
// never overlap; memory() is what it holds, charged by its table.
class FragmentQueue {
 public:
  struct Fragment {
    std::uint32_t end;      // one past its data, in the payload
    std::uint32_t data_at;  // its data starts there in packet.data()
    Packet packet;
  };
  enum class Fit { fits, duplicate, overlap, invalid };

  FragmentQueue(Host& host, std::function<void()> on_expiry) : timer_(host, std::move(on_expiry)) {}

  // Whether `f` may join: invalid when it contradicts the end already known
  // (ip_frag_queue's checks); else inet_frag_queue_insert's policy — data
  // already held over its whole range is a duplicate, anything else
  // touching held data an overlap, which could be read two ways.
  Fit fit(const FragmentInfo& f) const;
  // Holds `fragment` (fit() said fits), charging `cost` bytes.
  void insert(const FragmentInfo& f, Packet fragment, std::size_t cost);

  // Every byte from offset 0 to the final fragment's end is held.
  bool complete() const { return first_in_ && last_in_ && meat_ == len_; }
  bool has_first() const { return first_in_; }
  // The fragment at offset 0; has_first() must hold.
  const Fragment& first() const { return fragments_.begin()->second; }
  Packet take_first() { return std::move(fragments_.begin()->second.packet); }
  // The payload's length once complete.
  std::uint32_t length() const { return len_; }
  std::size_t memory() const { return memory_; }
  // RFC 3168 5.3 as Linux's ip_frag_ecn_table: the ECN bits to OR into the
  // reassembled header, or nullopt when Not-ECT mixes with ECT or CE (drop).
  std::optional<std::uint8_t> combined_ecn() const;
  // The payload put together behind `header_len` bytes left for the caller's
  // header: frag_max_size, the largest fragment's; device, type and protocol
  // the first fragment's. Empty when the pool is dry.
  Packet assemble(PacketPool& pool, std::size_t header_len) const;

  Timer& timer() { return timer_; }

 private:
  std::map<std::uint32_t, Fragment> fragments_;  // by offset
  std::uint32_t len_ = 0;     // the payload's length once last_in_, else the furthest end seen
  std::uint32_t meat_ = 0;    // payload bytes held
  std::size_t memory_ = 0;
  bool first_in_ = false;     // offset 0 is held
  bool last_in_ = false;      // the final fragment is held: len_ is final
  std::uint8_t ecn_seen_ = 0; // a bit per ECN codepoint held (Linux's IPFRAG_ECN_*)
  Timer timer_;               // last member: cancelled before the fragments go
};

// Datagrams one namespace reassembles at once, per family (and per
// conntrack defragmenter).
inline constexpr std::size_t kMaxFragmentQueues = 16384;

// What one family's reassembly counts, and the sysctls that bound it.
struct ReassemblyNames {
  Counter fails;
  Counter oks;
  Counter timeout;
  std::optional<Counter> overlaps;  // IPv4's IpExtReasmOverlaps; IPv6 counts none
  SysctlId high_thresh;
  SysctlId time;
};

// One namespace's datagrams being reassembled, by the family's Key.
//
// Bounds: the bytes held (each fragment's truesize plus bookkeeping) never
// exceed names.high_thresh, read as each fragment arrives (0 disables
// reassembly); at most kMaxFragmentQueues datagrams are in progress; the bytes held
// count in the namespace's net.core.packet_mem_max too. A queue expires
// names.time seconds after its first fragment. Destroying the table frees
// every queue and cancels its timer; nothing fires afterwards.
template <class Key, class Hash, class Extra>
class FragmentTable {
 public:
  // A queue with its key and what the family keeps of its datagram.
  struct Queue : FragmentQueue {
    Queue(Host& host, std::function<void()> on_expiry, const Key& k)
        : FragmentQueue(host, std::move(on_expiry)), key(k) {}
    Key key;
    Extra extra{};
  };

  // on_timeout(first_fragment) runs when a datagram whose offset 0 was held
  // times out, so the caller can send time exceeded code 1. It runs from a
  // timer in Host::poll, after the queue is freed; it may call add().
  FragmentTable(Net& net, Hash hash, const ReassemblyNames& names, std::function<void(Packet)> on_timeout);
  FragmentTable(const FragmentTable&) = delete;
  FragmentTable& operator=(const FragmentTable&) = delete;

  // Takes a fragment the family has read as `f`. Returns the queue that
  // holds it now, complete() once the datagram is whole; nullptr when it was
  // a duplicate (dropped alone, uncounted, as Linux) or was dropped and
  // counted — an empty fragment, one that contradicts the known end or
  // overlaps drops its whole datagram.
  Queue* add(const Key& key, Packet fragment, const FragmentInfo& f);
  // Drops the datagram `key` names, if one is held, and counts a failure.
  void drop(const Key& key);
  // Frees a queue whose datagram was put together, counting it reassembled.
  void done(Queue& q);

  // Bytes held, as counted against names.high_thresh.
  std::size_t memory() const { return memory_; }
  // Datagrams being reassembled.
  std::size_t queues() const { return queues_.size(); }

 private:
  using QueueMap = std::unordered_map<Key, std::unique_ptr<Queue>, Hash>;

  bool admits(const Queue* q, std::size_t cost);
  Queue& create(const Key& key);
  void erase(typename QueueMap::iterator it);
  void expire(Key key);

  Net* net_;
  Host* host_;
  ReassemblyNames names_;
  std::function<void(Packet)> on_timeout_;
  QueueMap queues_;
  PacketCharge memory_;  // to the namespace too (net.core.packet_mem_max)
};

}  // namespace netns::inet
