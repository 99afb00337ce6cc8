// netns/packet.hpp — the buffer every frame lives in.
//
// A Packet is move-only and refers to a pooled buffer with headroom, so
// headers are prepended in place on the way down and stripped by moving an
// offset on the way up. Packets are made by the Host's PacketPool:
//
//   Packet p = host.packets().allocate(64);          // 64 bytes, default headroom
//   std::memcpy(p.data().data(), bytes, 64);
//   auto eth = p.push_front(14);                     // room for an Ethernet header
//   dev.transmit(std::move(p));
//
// Bytes are never copied behind the caller's back: every copy of packet
// payload goes through PacketPool::copy_bytes, which counts it in
// HostStats::packet_copies. share() gives a second Packet on the same bytes
// (a flood over bridge ports); writing to shared bytes first unshares them,
// which is such a counted copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace netns {

class Device;
class PacketPool;

// What a packet holds of the connection it belongs to (Linux's struct
// nf_conntrack, which a conntrack entry begins with): the count of its
// references, and who frees it when the last one goes. One thread, as
// everything on a Host's packet path: not atomic.
struct NfConntrack {
  std::uint32_t use = 0;
  void (*destroy)(NfConntrack*) = nullptr;
};
inline void nf_conntrack_get(NfConntrack* ct) { ++ct->use; }
inline void nf_conntrack_put(NfConntrack* ct) {
  if (--ct->use == 0) ct->destroy(ct);
}

// How a frame reached us, as Linux's skb->pkt_type.
enum class PacketType : std::uint8_t { host, broadcast, multicast, otherhost, outgoing };

// The room a buffer's header takes in front of its storage (a PacketBuffer,
// cache-line aligned).
inline constexpr std::size_t kPacketBufferHeader = 64;

// The shared, reference-counted storage behind one or more Packets. Private
// to the pool; exposed only so Packet's accessors can be inline.
struct PacketBuffer {
  PacketPool* pool;
  std::byte* bytes;            // capacity bytes of storage
  std::uint32_t capacity;
  std::uint32_t refs;          // Packets sharing these bytes (one thread: not atomic)
  void (*release)(PacketBuffer*);  // gives the storage back (pool, heap or foreign owner)
  void* owner;                 // the foreign owner's handle (e.g. a DPDK mbuf), else null
  // The frame's tracked connection and its ctinfo in the low bits
  // (Packet::nfct): here rather than in every Packet, so that moving a
  // Packet, which the packet path does a dozen times a frame, stays 32
  // bytes and destroying one checks it only when the buffer goes.
  std::uintptr_t nfct = 0;
  // Packet::frag_max_size, here for the same reason.
  std::uint16_t frag_max_size = 0;
  // A buffer lent to another Host (PacketPool::lend): the next on its
  // pool's list of buffers come home, while on it.
  PacketBuffer* next_home = nullptr;
};

class Packet {
 public:
  Packet() = default;
  Packet(Packet&& other) noexcept { steal(other); }
  Packet& operator=(Packet&& other) noexcept {
    if (this != &other) {
      reset();
      steal(other);
    }
    return *this;
  }
  Packet(const Packet&) = delete;
  Packet& operator=(const Packet&) = delete;
  ~Packet() { reset(); }

  explicit operator bool() const { return buf_ != nullptr; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::size_t headroom() const { return offset_; }
  std::size_t tailroom() const { return buf_ ? buf_->capacity - offset_ - size_ : 0; }
  bool is_shared() const { return buf_ != nullptr && buf_->refs > 1; }
  // What holding this packet pins in memory, as Linux's skb->truesize: the
  // whole buffer however little of it holds data, its header, and the
  // Packet itself. Queues that hold packets for long (a socket's receive
  // buffer) charge this, not size().
  std::size_t truesize() const {
    return (buf_ != nullptr ? buf_->capacity + kPacketBufferHeader : 0) + sizeof(Packet);
  }

  std::span<const std::byte> data() const { return {bytes(), size_}; }
  // Writable bytes; unshares (a counted copy) if another Packet shares them.
  std::span<std::byte> mutable_data() {
    if (is_shared()) unshare();
    return {bytes(), size_};
  }

  // Grows the front by n bytes (a header going down the stack) and returns them.
  // Reallocates, counted as a copy, when the headroom is too small; returns an
  // empty span and changes nothing if the result would exceed PacketPool::kMaxPacket.
  std::span<std::byte> push_front(std::size_t n);
  // Strips n bytes from the front (a header going up the stack). n <= size().
  void pull_front(std::size_t n) {
    offset_ += static_cast<std::uint32_t>(n);
    size_ -= static_cast<std::uint32_t>(n);
  }
  // Grows the back by n bytes and returns them; reallocates when out of tailroom
  // (counted); an empty span, nothing changed, beyond PacketPool::kMaxPacket.
  std::span<std::byte> push_back(std::size_t n);
  // Cuts the packet to its first n bytes (n <= size()), e.g. Ethernet padding.
  void trim(std::size_t n) {
    if (n < size_) size_ = static_cast<std::uint32_t>(n);
  }

  // A second Packet on the same bytes: no copy. Both become read-only until unshared.
  Packet share() const;
  // A private copy of the bytes (counted).
  Packet copy() const;

  // Metadata the stack keeps with a frame while it travels. (Ordered so
  // that it fills 16 bytes.)
  Device* device = nullptr;         // the device it arrived on, or leaves by
  PacketType type = PacketType::host;
  // The TCP/UDP checksum is not filled in (Linux's CHECKSUM_PARTIAL): the
  // frame was built for an in-process link, which cannot corrupt it, so its
  // receiver trusts it unverified. Anything that lets the bytes leave the
  // process or changes them (a device without offload, capture, netem's
  // corruption, fragmentation) calls finish_transport_checksum first.
  bool checksum_partial = false;
  std::uint16_t protocol = 0;       // ethertype once the link layer is parsed
  std::uint32_t mark = 0;           // skb->mark: `meta mark set` writes it, rules and conntrack read it

  // A reassembled datagram's largest fragment, IP header included (Linux's
  // IPCB/IP6CB frag_max_size), else 0: forwarding cuts it again to that
  // size (conntrack reassembles what it forwards). The buffer's, as nfct;
  // scrub forgets it. set_frag_max_size's precondition: a buffer.
  std::uint16_t frag_max_size() const { return buf_ != nullptr ? buf_->frag_max_size : 0; }
  void set_frag_max_size(std::uint16_t size) { buf_->frag_max_size = size; }

  // The tracked connection the datagram belongs to (skb->_nfct), with
  // conntrack's ctinfo for it (0..7), or null. Set by the hooks; the
  // buffer holds a reference until it is freed (or handed to a device) or
  // the connection is replaced. As in Linux, a null connection may carry an
  // info (IP_CT_UNTRACKED, 7: the datagram is not to be tracked).
  //
  // Unlike Linux's, which is per skb, it belongs to the bytes: shares of
  // one frame (share(): floods, duplicates) see the same connection. They
  // are copies of one datagram, and every namespace they enter tracks them
  // afresh (scrub). copy() gives the copy its own reference.
  NfConntrack* nfct() const { return buf_ != nullptr ? nfct_of(buf_->nfct) : nullptr; }
  std::uint8_t nfct_info() const {
    return buf_ != nullptr ? static_cast<std::uint8_t>(buf_->nfct & kNfctInfoMask) : 0;
  }
  // Precondition: the Packet holds a buffer.
  void set_nfct(NfConntrack* ct, std::uint8_t info);
  // What crossing into another namespace forgets (skb_scrub_packet): the
  // connection always, the mark when `other_namespace`.
  void scrub(bool other_namespace) {
    if (buf_ != nullptr && buf_->nfct != 0) [[unlikely]] set_nfct(nullptr, 0);
    if (other_namespace) mark = 0;
    if (buf_ != nullptr) buf_->frag_max_size = 0;
  }

  PacketPool* pool() const { return buf_ ? buf_->pool : nullptr; }

  // Fills a partial TCP/UDP checksum (no-op otherwise). `ip_offset`: where
  // the IPv4 header starts in data() (14 for an Ethernet frame, 0 inside
  // the IP layer). Unshares when needed.
  void finish_transport_checksum(std::size_t ip_offset);

 private:
  friend class PacketPool;
  Packet(PacketBuffer* buf, std::uint32_t offset, std::uint32_t size)
      : buf_(buf), offset_(offset), size_(size) {}

  std::byte* bytes() const { return buf_->bytes + offset_; }
  void unshare();
  // The metadata of `from`, for a Packet of the same frame (a share or a
  // copy); the connection is the buffer's (see nfct).
  void copy_metadata(const Packet& from);
  // copy_metadata, and what the buffer's header holds, for a Packet of the
  // same frame in a buffer of its own (copy, push_front, push_back).
  void copy_frame_metadata(const Packet& from);
  void steal(Packet& other) {
    buf_ = other.buf_;
    offset_ = other.offset_;
    size_ = other.size_;
    device = other.device;
    type = other.type;
    checksum_partial = other.checksum_partial;
    protocol = other.protocol;
    mark = other.mark;
    other.buf_ = nullptr;
    other.offset_ = other.size_ = 0;
  }
  void reset() {
    if (buf_ != nullptr && --buf_->refs == 0) {
      if (buf_->nfct != 0) [[unlikely]] put_nfct(buf_);
      buf_->release(buf_);
    }
    buf_ = nullptr;
  }
  static constexpr std::uintptr_t kNfctInfoMask = 7;  // ctinfo in the pointer's low bits, as Linux's _nfct
  static NfConntrack* nfct_of(std::uintptr_t v) { return reinterpret_cast<NfConntrack*>(v & ~kNfctInfoMask); }
  // Drops the buffer's reference to its connection.
  static void put_nfct(PacketBuffer* buf);

  PacketBuffer* buf_ = nullptr;
  std::uint32_t offset_ = 0;
  std::uint32_t size_ = 0;
};

}  // namespace netns
