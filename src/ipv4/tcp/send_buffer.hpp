// ipv4/tcp/send_buffer.hpp — a TCP connection's send queue as bytes: what the
// application wrote and the peer has not acknowledged yet, sent or not.
//
// The connection keeps one per socket, its first byte always at snd_una:
//
//   SendBuffer buf(tcp_wmem[1], &tn.memory);            // storage charged to tcp_mem
//   std::size_t taken = buf.write(user_bytes);           // short when full
//   buf.copy_out(snd_nxt - snd_una, segment_payload);    // (re)transmission
//   buf.consume(ack - snd_una);                          // cumulative ACK
//
// Storage is one ring that grows on demand, doubling, up to capacity(): a
// connection that never sends much never holds much, and a full buffer never
// holds more than capacity() bytes of storage. Storage is kept once grown (a
// bulk sender that drains its buffer every RTT would otherwise allocate and
// free it every RTT); set_capacity() below the storage size gives it back.
//
// Precondition violations (offsets past size()) are caller bugs, checked by
// assert in debug builds.
#pragma once

#include <cstddef>
#include <memory>
#include <span>

#include "ipv4/tcp/memory.hpp"

namespace netns::tcp {

// A byte ring holding [snd_una, snd_una + size()): data the application
// wrote, sent or not, until acknowledged.
class SendBuffer {
 public:
  // The first allocation; smaller only when capacity() is.
  static constexpr std::size_t kMinStorage = 2048;

  // `memory`, when given, is charged the storage (net.ipv4.tcp_mem) while
  // it is held, and must outlive the buffer.
  explicit SendBuffer(std::size_t capacity, TcpMemory* memory = nullptr);
  ~SendBuffer();
  SendBuffer(const SendBuffer&) = delete;
  SendBuffer& operator=(const SendBuffer&) = delete;

  std::size_t size() const { return size_; }
  std::size_t capacity() const { return capacity_; }
  std::size_t free_space() const { return capacity_ - size_; }
  bool empty() const { return size_ == 0; }

  // Copies as much of `data` as fits; returns how much.
  std::size_t write(std::span<const std::byte> data);
  // Copies out.size() bytes starting `offset` bytes after the first
  // unacknowledged byte. Precondition: offset + out.size() <= size().
  void copy_out(std::size_t offset, std::span<std::byte> out) const;
  // The first n bytes were acknowledged. Precondition: n <= size().
  void consume(std::size_t n);
  // SO_SNDBUF / autotuning: a new bound, never below size() (clamped up to
  // it). Storage larger than the new bound is reallocated down to it.
  void set_capacity(std::size_t capacity);
  // Bytes of storage allocated now.
  std::size_t memory() const { return storage_size_; }

 private:
  // Index in storage of the byte `offset` after the head; offset <= size().
  std::size_t index(std::size_t offset) const {
    const std::size_t i = head_ + offset;
    return i >= storage_size_ ? i - storage_size_ : i;
  }
  // Moves the contents to fresh storage of `storage_size` bytes, head at 0.
  void reallocate(std::size_t storage_size);

  std::unique_ptr<std::byte[]> storage_;
  std::size_t storage_size_ = 0;
  std::size_t capacity_;
  TcpMemory* memory_;
  std::size_t head_ = 0;  // index of snd_una's byte
  std::size_t size_ = 0;
};

}  // namespace netns::tcp
