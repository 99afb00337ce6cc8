// The retransmission timer's value for one connection: RFC 6298's smoothed
// RTT and variance, with Linux's 200 ms floor and 120 s ceiling.
//
//   RttEstimator rtt;                  // rto() == 1 s until the first sample
//   rtt.sample(now - sent_at);         // Karn's rule is the caller's job
//   timer.arm(now + rtt.rto());
//   ...the timer fires: retransmit, then
//   rtt.backoff();                     // rto() doubles, up to 120 s
//   ...new data is acknowledged:
//   rtt.reset_backoff();
//
// Pure arithmetic on Clock::duration (integer nanoseconds): deterministic,
// no clock of its own, and no overflow for any sample or backoff count.
#pragma once

#include <chrono>

#include "netns/clock.hpp"

namespace netns::tcp {

class RttEstimator {
 public:
  using Duration = Clock::duration;

  static constexpr Duration kInitialRto = std::chrono::seconds(1);     // RFC 6298 2.1
  static constexpr Duration kMinRto = std::chrono::milliseconds(200);  // Linux TCP_RTO_MIN
  static constexpr Duration kMaxRto = std::chrono::seconds(120);       // Linux TCP_RTO_MAX
  // RFC 6298 5.7 (Linux's TCP_TIMEOUT_FALLBACK): the RTO once the handshake
  // is done, when its SYN or SYN-ACK had to be retransmitted.
  static constexpr Duration kFallbackRto = std::chrono::seconds(3);

  // A measured round trip (the caller applies Karn's rule, or uses
  // timestamps). Non-positive samples count as 1 us.
  void sample(Duration rtt);

  // The current RTO: SRTT + max(kMinRto, 4*RTTVAR) (Linux uses its 200 ms
  // floor where RFC 6298 says G), times 2^backoffs, clamped to
  // [kMinRto, kMaxRto]. kInitialRto (with backoff) before any sample.
  Duration rto() const;

  // RTO expired: double (RFC 6298 5.5); saturates at kMaxRto. The count
  // keeps going (callers compare it with tcp_retries2).
  void backoff();
  // New data acknowledged.
  void reset_backoff() { backoffs_ = 0; }
  unsigned backoffs() const { return backoffs_; }
  // The handshake lost a segment: until the first sample, the RTO is
  // kFallbackRto instead of kInitialRto.
  void use_fallback() { fallback_ = true; }

  bool has_sample() const { return has_sample_; }
  Duration srtt() const { return srtt_; }  // zero before the first sample
  Duration rttvar() const { return rttvar_; }
  Duration min_rtt() const { return min_rtt_; }  // smallest sample seen, zero before any

 private:
  // rto() without backoff, already at most kMaxRto.
  Duration base_rto() const;

  Duration srtt_{};
  Duration rttvar_{};
  Duration min_rtt_{};
  unsigned backoffs_ = 0;
  bool has_sample_ = false;
  bool fallback_ = false;
};

// The least of the samples taken in the last `window` (Kathleen Nichols'
// windowed min-filter, as Linux's lib/minmax.c keeps tp->rtt_min): three
// candidates from successive parts of the window, so an old minimum ages
// out when the path's delay grows, in O(1) per sample.
class WindowedMin {
 public:
  using Duration = Clock::duration;

  void update(Duration window, Clock::time_point now, Duration sample);
  // Duration::max() before the first sample.
  Duration get() const { return s_[0].value; }
  bool empty() const { return s_[0].value == Duration::max(); }

 private:
  struct Sample {
    Clock::time_point at{};
    Duration value = Duration::max();
  };
  void reset(Sample s) { s_[0] = s_[1] = s_[2] = s; }

  Sample s_[3];
};

}  // namespace netns::tcp
