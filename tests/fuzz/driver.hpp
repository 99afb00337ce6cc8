// The small library under every fuzz target (tests/fuzz/*_fuzz.cpp): a
// reader that turns the fuzzer's bytes into choices, and a deterministic Host
// that checks, when a run ends, that everything it made is gone.
//
//   void frames(std::span<const std::uint8_t> data) {
//     fuzz::Input in(data);
//     fuzz::Lab lab;                        // virtual clock, fixed secret
//     { ... build namespaces, read `in`, inject, lab.advance(...) ... }
//     lab.finish();                         // aborts on a leaked hold or a live packet
//   }
//   NETNS_FUZZ_TARGET(frames)
//
// Each *_fuzz.cpp is compiled twice: with NETNS_FUZZ_ENTRY into its libFuzzer
// program (NETNS_FUZZ=ON, clang), and without into netns_tests, where
// corpus_test.cpp replays tests/fuzz/corpus/<target>/ through the same
// function. A failed check prints what it found and aborts in both.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "netns/address.hpp"
#include "netns/clock.hpp"
#include "netns/device.hpp"
#include "netns/host.hpp"

namespace netns::fuzz {

// The fuzzer's bytes read front to back. Past the end every read gives zeros
// (and empty spans), so any input is a complete, finite script.
class Input {
 public:
  explicit Input(std::span<const std::uint8_t> data) : data_(data) {}

  bool empty() const { return pos_ >= data_.size(); }
  std::size_t remaining() const { return empty() ? 0 : data_.size() - pos_; }
  std::uint8_t u8();
  std::uint16_t u16();
  std::uint32_t u32();
  bool flag() { return (u8() & 1) != 0; }
  // A value in [0, n); 0 when n is 0.
  std::size_t pick(std::size_t n);
  // Up to `max` bytes, as many as the next byte (scaled to `max`) says.
  std::span<const std::byte> bytes(std::size_t max);
  // One of `known` most of the time, any address otherwise: inputs reach
  // the namespace's own addresses and still try every other.
  Ipv4Address address(std::span<const Ipv4Address> known);
  // Exactly the next `n` bytes or fewer at the end.
  std::span<const std::byte> take(std::size_t n);

 private:
  std::span<const std::uint8_t> data_;
  std::size_t pos_ = 0;
};

// The fixed secret every target's Host uses: runs replay exactly.
inline constexpr std::uint64_t kFuzzSecret = 0x66757a7a'6e65746eULL;

// A Host on a virtual clock that keeps its diagnostics. finish() drops
// nothing itself: the target first releases every socket and NetRef it holds.
class Lab {
 public:
  Lab();
  ~Lab();  // destroys the Host, then checks that its destructor reported nothing
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;

  Host& host() { return *host_; }
  Clock::time_point now() const { return clock_.now(); }
  // Polls at the current instant until the Host has no more work now.
  void poll();
  // Runs virtual time forward by `span`, deadline by deadline, so every
  // timer fires at its instant; at most `max_polls` polls.
  void advance(Clock::duration span, std::size_t max_polls = 20'000);
  // After the target released everything: runs virtual time until every
  // namespace but init_net has exited (closing connections, TIME_WAIT),
  // then checks leaked_holds == 0, no dying namespace, no packet in use and
  // no leak report in the log. Aborts, naming the check, otherwise.
  void finish();

 private:
  std::vector<std::string> messages_;  // before host_: its destructor logs here
  VirtualClock clock_;
  std::optional<Host> host_;  // reset first in ~Lab, so its reports can be checked
};

// Makes the transport checksum of an Ethernet frame carrying IPv4 right
// (TCP, UDP, or ICMP) so the input reaches past checksum validation; other
// frames are left alone.
void fix_checksums(std::span<std::byte> frame);

// Reads every socket-independent thing a target drains after each step:
// the frames `dev` transmitted (dropped; the Host must not hold them).
void drain(ChannelDevice& dev);

// Prints "netns fuzz: <what>" to stderr and aborts: a finding.
[[noreturn]] void fail(std::string_view what);

}  // namespace netns::fuzz

#ifdef NETNS_FUZZ_ENTRY
#define NETNS_FUZZ_TARGET(function)                                               \
  extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) { \
    ::netns::fuzz::function(std::span<const std::uint8_t>(data, size));            \
    return 0;                                                                     \
  }
#else
#define NETNS_FUZZ_TARGET(function)
#endif
