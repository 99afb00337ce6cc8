// core/ip_idents.hpp — IP identification numbers for datagrams no connected
// socket numbers itself: Linux's ip_idents (net/ipv4/route.c,
// __ip_select_ident).
//
// One table per Host, shared by its namespaces the way Linux shares one
// table among all of its own: a bucket is chosen by SipHash, keyed with a
// secret derived from the Host's, of (destination, source, protocol,
// namespace id), so neither another destination's nor another namespace's
// traffic can be counted by watching one's own IDs (the idle scan), and the
// table costs nothing per namespace. Each bucket holds a counter and when it
// was last used; a datagram takes the counter plus a random increment below
// the number of ticks since then, so an IP ID seen now and one seen later
// leak nothing about how many datagrams went elsewhere in between — yet a
// burst to one destination counts up by one (nmap: "incremental" ICMP IDs,
// II=I, as Linux).
//
//   IpIdents idents(host.secret());
//   std::uint16_t id = idents.select(net.id(), dst, src, 1 /* ICMP */, host.now());
//   std::uint16_t start = idents.random_u16();   // a connected socket's first id
//
// Not thread-safe: the Host's thread only.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "core/siphash.hpp"
#include "netns/address.hpp"
#include "netns/clock.hpp"

namespace netns {

class IpIdents {
 public:
  // Linux's smallest table (alloc_large_system_hash's low limit): 16 KiB.
  static constexpr std::size_t kBuckets = 2048;
  // A tick is a jiffy at HZ=250, Debian's and Ubuntu's kernels' rate.
  static constexpr auto kTick = std::chrono::milliseconds(4);

  explicit IpIdents(std::uint64_t host_secret);

  // The IP ID of the next `segs` datagrams (GSO) with these addresses; the
  // counter moves on by segs and a random amount below the ticks since the
  // bucket was last used. `now` is the Host's clock.
  std::uint16_t select(std::uint32_t net_id, Ipv4Address dst, Ipv4Address src, std::uint8_t protocol,
                       Clock::time_point now, std::uint32_t segs = 1);
  // A random 16-bit number (get_random_u16): the first ID of a connected socket.
  std::uint16_t random_u16() { return static_cast<std::uint16_t>(random64()); }

 private:
  struct Bucket {
    std::uint32_t id = 0;
    std::uint32_t stamp = 0;  // the tick of last use; 0 in a bucket never used
  };

  // The buckets of recent flows, direct-mapped: a socket sending to one
  // destination hashes once, not once per datagram. It caches results only,
  // so a miss (another flow in the slot) costs one SipHash and nothing else.
  struct Memo {
    std::uint64_t addresses = ~std::uint64_t{0};
    std::uint64_t flow = ~std::uint64_t{0};  // never a real flow: those fit 40 bits
    std::uint32_t bucket = 0;
  };
  static constexpr std::size_t kMemoSlots = 64;  // a power of two
  static_assert((kMemoSlots & (kMemoSlots - 1)) == 0);

  std::uint32_t bucket_of(std::uint64_t addresses, std::uint64_t flow);
  std::uint64_t random64() { return siphash13_word(random_key_, ++random_counter_); }
  std::uint32_t random_below(std::uint32_t bound);  // uniform in [0, bound)
  static std::uint32_t ticks(Clock::time_point now);

  SipKey hash_key_;
  SipKey random_key_;
  std::uint64_t random_counter_ = 0;
  std::unique_ptr<std::array<Bucket, kBuckets>> buckets_;
  std::unique_ptr<std::array<Memo, kMemoSlots>> memo_;
};

// Purposes of the keys IpIdents derives from the Host's secret.
inline constexpr std::uint64_t kSipPurposeIpIdent = 0x69702d6964656e74;     // "ip-ident"
inline constexpr std::uint64_t kSipPurposeIpIdentRng = 0x6970696472616e64;  // "ipidrand"

}  // namespace netns
