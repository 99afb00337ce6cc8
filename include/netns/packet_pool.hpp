// netns/packet_pool.hpp — where Packets come from, and the one counted copy.
//
// Each Host owns one pool (host.packets()). Buffers of the standard size are
// recycled through a bounded free list; larger ones come from the heap and go
// back to it. Foreign storage (a DPDK mbuf) is wrapped without copying.
//
//   Packet p = host.packets().allocate(60);
//   Packet q = host.packets().allocate_from(bytes);   // filled from caller's bytes
//
// packet_copies counts copies of bytes that are already in a Packet (unshare,
// copy, reallocation for headroom): the stack's own copies. Filling a Packet
// from a caller's buffer, or reading one out to it, is I/O, not counted.
//
// A buffer may cross to another Host's thread (a veth between Hosts) and
// come home without a lock, as DPDK's mempools take mbufs back from other
// cores: the sending Host lends it (lend), the receiving one adopts it
// (adopt) and uses it as its own, and its last release there puts it on
// its home pool's list of returns, a lock-free stack that the home Host's
// poll empties into its free list (take_home); the adopting Host's poll
// sends what it let go in bulk (send_home). A pool that dies while
// buffers are out leaves its list behind, and those free themselves.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "netns/packet.hpp"

namespace netns {

class PacketPool {
 public:
  static constexpr std::size_t kDefaultHeadroom = 128;   // Ethernet + IPv4 + TCP with options, and more
  static constexpr std::size_t kStandardCapacity = 2048; // a 1500-byte frame with headroom
  static constexpr std::size_t kMaxPacket = 256 * 1024;  // larger requests are refused (empty Packet)

  explicit PacketPool(std::size_t max_cached = 4096);
  ~PacketPool();
  PacketPool(const PacketPool&) = delete;
  PacketPool& operator=(const PacketPool&) = delete;

  // A packet of `size` uninitialised bytes after `headroom` free bytes. Empty
  // Packet when size + headroom exceeds kMaxPacket.
  Packet allocate(std::size_t size, std::size_t headroom = kDefaultHeadroom);
  // A packet holding a copy of the caller's bytes (I/O into the stack, not counted).
  Packet allocate_from(std::span<const std::byte> bytes, std::size_t headroom = kDefaultHeadroom);
  // Wraps foreign storage without copying; `release(buf)` is called when the
  // last Packet on it goes away and must free buf->owner's storage and then
  // call PacketPool::free_header(buf).
  Packet wrap(std::byte* storage, std::uint32_t capacity, std::uint32_t offset, std::uint32_t size,
              void (*release)(PacketBuffer*), void* owner);
  static void free_header(PacketBuffer* buf);
  // The same without allocating: the header is built in `header`, memory the
  // foreign storage carries with it (a DPDK mbuf's private area), which must
  // stay valid until release. `release(buf)` frees the storage after calling
  // PacketPool::forget_header(buf) (the header dies with the storage).
  Packet wrap_in_place(PacketBuffer* header, std::byte* storage, std::uint32_t capacity,
                       std::uint32_t offset, std::uint32_t size, void (*release)(PacketBuffer*),
                       void* owner);
  static void forget_header(PacketBuffer* buf) { --buf->pool->in_use_; }

  // The buffer behind a Packet (null for an empty one), so the owner of
  // foreign storage can recognise its own (buf->release) and reach its handle.
  static const PacketBuffer* buffer_of(const Packet& p) { return p.buf_; }
  // Hands the buffer of a Packet holding its only reference over to the
  // caller, emptying the Packet without calling release: the caller then owns
  // the storage and ends the header with free_header or forget_header, as its
  // release would have. Null, nothing changed, for an empty or shared Packet.
  static PacketBuffer* detach(Packet& p);

  // The one function through which the stack copies packet bytes.
  void copy_bytes(std::span<std::byte> to, std::span<const std::byte> from);

  std::uint64_t copies() const { return copies_; }
  // Buffers of this pool held by Packets on this Host's thread, those it
  // adopted from other Hosts included, lent ones not.
  std::size_t in_use() const { return in_use_; }
  std::size_t cached() const { return free_.size(); }

  // ---- buffers crossing to another Host's thread ----
  // Readies `p` to cross: its buffer leaves this pool's count and, wherever
  // its last release happens, comes home. For a buffer `p` alone holds,
  // its connection scrubbed, of this pool's own storage or adopted from
  // another (which passes on, still its home's); false, nothing changed,
  // otherwise (foreign storage, shared bytes: the caller sends a copy).
  [[nodiscard]] bool lend(Packet& p);
  // On the receiving Host's thread: the lent buffer of `p` joins this
  // pool's count, and copies and reallocations of it come from this pool.
  // One of this pool's own, back, is no longer on loan.
  void adopt(Packet& p);
  // The owner's thread (Host::poll): the buffers come home go back to the
  // free list (or the heap). One atomic load when none did.
  std::size_t take_home();
  // The owner's thread (Host::poll): other pools' buffers this one adopted
  // and let go since the last call go home, one compare-and-swap per home
  // (as a DPDK mempool cache returns objects in bulk). Nothing when none.
  void send_home();
  // Lent buffers not yet home (those on their way back included).
  std::size_t lent() const { return lent_; }

 private:
  PacketBuffer* new_buffer(std::size_t capacity);
  static void release_owned(PacketBuffer* buf);
  static void release_lent(PacketBuffer* buf);
  void recycle(PacketBuffer* buf);

  // Where lent buffers come home: outlives the pool while any is out.
  struct Home;
  // Adopted buffers let go, by home, until send_home: chains linked by next_home.
  struct Returning {
    Home* home;
    PacketBuffer* first;
    PacketBuffer* last;
    std::size_t count;
  };
  static void push_home(Home* home, PacketBuffer* first, PacketBuffer* last, std::size_t count);

  Home* home_;
  std::size_t lent_ = 0;
  std::vector<Returning> returning_;
  std::vector<PacketBuffer*> free_;
  std::size_t max_cached_;
  std::size_t in_use_ = 0;
  std::uint64_t copies_ = 0;
};

}  // namespace netns
