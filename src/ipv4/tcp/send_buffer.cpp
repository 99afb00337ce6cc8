#include "ipv4/tcp/send_buffer.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <memory>

namespace netns::tcp {

SendBuffer::SendBuffer(std::size_t capacity, TcpMemory* memory) : capacity_(capacity), memory_(memory) {}

SendBuffer::~SendBuffer() {
  if (memory_ != nullptr) memory_->uncharge(storage_size_);
}

std::size_t SendBuffer::write(std::span<const std::byte> data) {
  const std::size_t n = std::min(data.size(), free_space());
  if (n == 0) return 0;
  if (size_ + n > storage_size_) {
    const std::size_t doubled = std::max(storage_size_ * 2, kMinStorage);
    reallocate(std::min(capacity_, std::max(size_ + n, doubled)));
  }
  const std::size_t tail = index(size_);
  const std::size_t first = std::min(n, storage_size_ - tail);
  std::memcpy(storage_.get() + tail, data.data(), first);
  std::memcpy(storage_.get(), data.data() + first, n - first);
  size_ += n;
  return n;
}

void SendBuffer::copy_out(std::size_t offset, std::span<std::byte> out) const {
  assert(offset + out.size() <= size_);
  if (out.empty()) return;
  const std::size_t start = index(offset);
  const std::size_t first = std::min(out.size(), storage_size_ - start);
  std::memcpy(out.data(), storage_.get() + start, first);
  std::memcpy(out.data() + first, storage_.get(), out.size() - first);
}

void SendBuffer::consume(std::size_t n) {
  assert(n <= size_);
  head_ = index(n);
  size_ -= n;
  // An empty ring restarts at 0 so the next writes are contiguous.
  if (size_ == 0) head_ = 0;
}

void SendBuffer::set_capacity(std::size_t capacity) {
  capacity_ = std::max(capacity, size_);
  if (storage_size_ > capacity_) reallocate(capacity_);
}

void SendBuffer::reallocate(std::size_t storage_size) {
  assert(storage_size >= size_);
  std::unique_ptr<std::byte[]> storage;
  if (storage_size != 0) storage = std::make_unique_for_overwrite<std::byte[]>(storage_size);
  if (size_ != 0) copy_out(0, {storage.get(), size_});
  storage_ = std::move(storage);
  if (memory_ != nullptr) {
    memory_->charge(storage_size);
    memory_->uncharge(storage_size_);
  }
  storage_size_ = storage_size;
  head_ = 0;
}

}  // namespace netns::tcp
