// Packet buffers: pooled storage, sharing, and the one counted copy.
#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

#include "netns/packet_pool.hpp"
#include "netns/wire/checksum.hpp"

namespace netns {

namespace {
// Header and storage in one allocation, the storage cache-line aligned.
constexpr std::size_t kHeaderSpace = kPacketBufferHeader;
static_assert(sizeof(PacketBuffer) <= kHeaderSpace);
// Moved a dozen times a frame: its metadata fills the padding (packet.hpp).
static_assert(sizeof(void*) != 8 || sizeof(Packet) == 32);
}  // namespace

// ---- lending across Hosts ----

struct PacketPool::Home {
  // Buffers come home, linked by next_home; orphaned() once the pool is gone.
  std::atomic<PacketBuffer*> returned{nullptr};
  // The pool's reference and one per buffer out.
  std::atomic<std::size_t> refs{1};

  void unref() {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
};

namespace {

// Never a buffer's address: buffers are 64-byte aligned.
PacketBuffer* orphaned() { return reinterpret_cast<PacketBuffer*>(std::uintptr_t{1}); }

void free_storage(PacketBuffer* buf) { ::operator delete(buf, std::align_val_t{64}); }

}  // namespace

PacketPool::PacketPool(std::size_t max_cached) : home_(new Home), max_cached_(max_cached) {}

PacketPool::~PacketPool() {
  send_home();
  // Buffers still out free themselves when they come back (release_lent).
  PacketBuffer* back = home_->returned.exchange(orphaned(), std::memory_order_acq_rel);
  while (back != nullptr) free_storage(std::exchange(back, back->next_home));
  home_->unref();
  for (PacketBuffer* buf : free_) free_storage(buf);
}

bool PacketPool::lend(Packet& p) {
  PacketBuffer* buf = p.buf_;
  if (buf == nullptr || buf->refs != 1 || buf->pool != this || buf->nfct != 0) return false;
  if (buf->release == &PacketPool::release_owned) {
    buf->release = &PacketPool::release_lent;
    buf->owner = home_;
    home_->refs.fetch_add(1, std::memory_order_relaxed);
    ++lent_;
  } else if (buf->release != &PacketPool::release_lent) {
    return false;  // foreign storage
  }
  // A buffer adopted from elsewhere passes on, still its home's.
  buf->pool = nullptr;  // nobody's count until adopted
  --in_use_;
  return true;
}

void PacketPool::adopt(Packet& p) {
  PacketBuffer* buf = p.buf_;
  buf->pool = this;
  ++in_use_;
  if (buf->owner != home_) return;
  // One of ours, back: its own again, not on loan.
  buf->release = &PacketPool::release_owned;
  buf->owner = nullptr;
  --lent_;
  home_->unref();  // the buffer's; the pool's own keeps the home
}

// The last release of a lent buffer. Adopted, it waits in its adopter's
// returns for the adopter's next poll; never adopted (it died in a ring),
// it goes home at once, from whichever thread lets it go.
void PacketPool::release_lent(PacketBuffer* buf) {
  auto* home = static_cast<Home*>(buf->owner);
  PacketPool* adopter = buf->pool;
  if (adopter == nullptr) {
    buf->next_home = nullptr;
    push_home(home, buf, buf, 1);
    return;
  }
  --adopter->in_use_;
  for (Returning& r : adopter->returning_) {
    if (r.home != home) continue;
    buf->next_home = r.first;
    r.first = buf;
    ++r.count;
    return;
  }
  buf->next_home = nullptr;
  adopter->returning_.push_back({home, buf, buf, 1});
}

void PacketPool::send_home() {
  for (const Returning& r : returning_) push_home(r.home, r.first, r.last, r.count);
  returning_.clear();
}

// A chain onto its home's stack with one compare-and-swap, or freed when
// its pool is gone; then the chain's references to the home go.
void PacketPool::push_home(Home* home, PacketBuffer* first, PacketBuffer* last, std::size_t count) {
  PacketBuffer* head = home->returned.load(std::memory_order_relaxed);
  do {
    if (head == orphaned()) {
      for (std::size_t i = 0; i < count; ++i) free_storage(std::exchange(first, first->next_home));
      break;
    }
    last->next_home = head;
  } while (!home->returned.compare_exchange_weak(head, first, std::memory_order_release, std::memory_order_relaxed));
  if (home->refs.fetch_sub(count, std::memory_order_acq_rel) == count) delete home;
}

std::size_t PacketPool::take_home() {
  if (home_->returned.load(std::memory_order_relaxed) == nullptr) return 0;
  PacketBuffer* back = home_->returned.exchange(nullptr, std::memory_order_acquire);
  std::size_t n = 0;
  while (back != nullptr) {
    PacketBuffer* buf = std::exchange(back, back->next_home);
    buf->next_home = nullptr;
    buf->pool = this;
    buf->release = &PacketPool::release_owned;
    buf->owner = nullptr;
    --lent_;
    ++n;
    recycle(buf);
  }
  return n;
}

// ---- the pool ----

PacketBuffer* PacketPool::new_buffer(std::size_t capacity) {
  if (capacity == kStandardCapacity && !free_.empty()) {
    PacketBuffer* buf = free_.back();
    free_.pop_back();
    buf->refs = 1;
    buf->frag_max_size = 0;
    ++in_use_;
    return buf;
  }
  void* raw = ::operator new(kHeaderSpace + capacity, std::align_val_t{64});
  auto* buf = static_cast<PacketBuffer*>(raw);
  buf->pool = this;
  buf->bytes = static_cast<std::byte*>(raw) + kHeaderSpace;
  buf->capacity = static_cast<std::uint32_t>(capacity);
  buf->refs = 1;
  buf->release = &PacketPool::release_owned;
  buf->owner = nullptr;
  buf->nfct = 0;
  buf->frag_max_size = 0;
  buf->next_home = nullptr;
  ++in_use_;
  return buf;
}

void PacketPool::release_owned(PacketBuffer* buf) {
  --buf->pool->in_use_;
  buf->pool->recycle(buf);
}

void PacketPool::recycle(PacketBuffer* buf) {
  if (buf->capacity == kStandardCapacity && free_.size() < max_cached_) {
    free_.push_back(buf);
    return;
  }
  free_storage(buf);
}

Packet PacketPool::allocate(std::size_t size, std::size_t headroom) {
  std::size_t need = size + headroom;
  if (need > kMaxPacket) return {};
  PacketBuffer* buf = new_buffer(std::max(need, kStandardCapacity) == kStandardCapacity
                                     ? kStandardCapacity
                                     : need);
  return Packet(buf, static_cast<std::uint32_t>(headroom), static_cast<std::uint32_t>(size));
}

Packet PacketPool::allocate_from(std::span<const std::byte> bytes, std::size_t headroom) {
  Packet p = allocate(bytes.size(), headroom);
  if (p && !bytes.empty()) std::memcpy(p.mutable_data().data(), bytes.data(), bytes.size());
  return p;
}

Packet PacketPool::wrap(std::byte* storage, std::uint32_t capacity, std::uint32_t offset,
                        std::uint32_t size, void (*release)(PacketBuffer*), void* owner) {
  auto* buf = new PacketBuffer{this, storage, capacity, 1, release, owner};
  ++in_use_;
  return Packet(buf, offset, size);
}

Packet PacketPool::wrap_in_place(PacketBuffer* header, std::byte* storage, std::uint32_t capacity,
                                 std::uint32_t offset, std::uint32_t size,
                                 void (*release)(PacketBuffer*), void* owner) {
  auto* buf = new (header) PacketBuffer{this, storage, capacity, 1, release, owner};
  ++in_use_;
  return Packet(buf, offset, size);
}

PacketBuffer* PacketPool::detach(Packet& p) {
  if (p.buf_ == nullptr || p.buf_->refs != 1) return nullptr;
  PacketBuffer* buf = p.buf_;
  if (buf->nfct != 0) Packet::put_nfct(buf);  // the bytes leave the stack; the connection stays
  p.buf_ = nullptr;
  p.offset_ = p.size_ = 0;
  return buf;
}

void PacketPool::free_header(PacketBuffer* buf) {
  --buf->pool->in_use_;
  delete buf;
}

void PacketPool::copy_bytes(std::span<std::byte> to, std::span<const std::byte> from) {
  std::memcpy(to.data(), from.data(), std::min(to.size(), from.size()));
  ++copies_;
}

Packet Packet::share() const {
  if (buf_ == nullptr) return {};
  ++buf_->refs;
  Packet p(buf_, offset_, size_);
  p.copy_metadata(*this);
  return p;
}

Packet Packet::copy() const {
  if (buf_ == nullptr) return {};
  Packet p = buf_->pool->allocate(size_, offset_);
  if (!p) return {};
  buf_->pool->copy_bytes({p.bytes(), size_}, data());
  p.copy_frame_metadata(*this);
  return p;
}

void Packet::copy_metadata(const Packet& from) {
  device = from.device;
  type = from.type;
  checksum_partial = from.checksum_partial;
  protocol = from.protocol;
  mark = from.mark;
}

void Packet::copy_frame_metadata(const Packet& from) {
  copy_metadata(from);
  if (from.buf_->nfct != 0) set_nfct(from.nfct(), from.nfct_info());
  buf_->frag_max_size = from.buf_->frag_max_size;
}

void Packet::set_nfct(NfConntrack* ct, std::uint8_t info) {
  if (ct != nullptr) nf_conntrack_get(ct);  // first: `ct` may be the one held now
  if (NfConntrack* old = nfct()) nf_conntrack_put(old);
  buf_->nfct = reinterpret_cast<std::uintptr_t>(ct) | (info & kNfctInfoMask);
}

void Packet::put_nfct(PacketBuffer* buf) {
  NfConntrack* ct = nfct_of(buf->nfct);
  buf->nfct = 0;
  if (ct != nullptr) nf_conntrack_put(ct);
}

void Packet::unshare() {
  Packet fresh = copy();
  *this = std::move(fresh);
}

std::span<std::byte> Packet::push_front(std::size_t n) {
  if (buf_ == nullptr) return {};  // an empty Packet (e.g. a refused allocation) has no pool
  if (n > offset_ || is_shared()) {
    // Not enough headroom, or the bytes are shared: move to a private buffer.
    Packet fresh = buf_->pool->allocate(size_, std::max(n, PacketPool::kDefaultHeadroom));
    if (!fresh) return {};  // beyond kMaxPacket: the caller sees an empty span
    buf_->pool->copy_bytes({fresh.bytes(), size_}, data());
    fresh.copy_frame_metadata(*this);
    *this = std::move(fresh);
  }
  offset_ -= static_cast<std::uint32_t>(n);
  size_ += static_cast<std::uint32_t>(n);
  return {bytes(), n};
}

std::span<std::byte> Packet::push_back(std::size_t n) {
  if (buf_ == nullptr) return {};
  if (n > tailroom() || is_shared()) {
    Packet fresh = buf_->pool->allocate(size_ + n, offset_);
    if (!fresh) return {};
    buf_->pool->copy_bytes({fresh.bytes(), size_}, data());
    fresh.size_ = size_;
    fresh.copy_frame_metadata(*this);
    *this = std::move(fresh);
  }
  std::byte* tail = bytes() + size_;
  size_ += static_cast<std::uint32_t>(n);
  return {tail, n};
}

void Packet::finish_transport_checksum(std::size_t ip_offset) {
  if (!checksum_partial) return;
  checksum_partial = false;
  auto bytes = mutable_data();
  if (bytes.size() < ip_offset) return;
  wire::fill_transport_checksum(bytes.subspan(ip_offset));
}

}  // namespace netns
