#include "ipv4/tcp/rtt.hpp"

#include <algorithm>
#include <limits>

namespace netns::tcp {

void RttEstimator::sample(Duration rtt) {
  // A zero sample (an ACK in the same poll as its segment) would drive
  // RTTVAR to nothing; Linux's usec clock can't measure less than 1 us either.
  rtt = std::max(rtt, Duration{std::chrono::microseconds(1)});
  min_rtt_ = has_sample_ ? std::min(min_rtt_, rtt) : rtt;
  if (!has_sample_) {  // RFC 6298 2.2
    srtt_ = rtt;
    rttvar_ = rtt / 2;
    has_sample_ = true;
    return;
  }
  // RFC 6298 2.3 with alpha = 1/8, beta = 1/4, RTTVAR first as it needs the
  // old SRTT. Written as x += (y - x) / n: both operands are non-negative,
  // so no intermediate leaves the range of the values themselves.
  const Duration error = srtt_ > rtt ? srtt_ - rtt : rtt - srtt_;
  rttvar_ += (error - rttvar_) / 4;
  srtt_ += (rtt - srtt_) / 8;
}

RttEstimator::Duration RttEstimator::base_rto() const {
  if (!has_sample_) return fallback_ ? kFallbackRto : kInitialRto;
  // Saturate before adding so that absurd samples cannot overflow.
  if (srtt_ >= kMaxRto || rttvar_ >= kMaxRto / 4) return kMaxRto;
  return std::min(srtt_ + std::max(kMinRto, 4 * rttvar_), kMaxRto);
}

RttEstimator::Duration RttEstimator::rto() const {
  Duration rto = base_rto();
  // At least kMinRto, so at most log2(600) doublings reach kMaxRto: the
  // loop is short whatever the count, and never doubles past the ceiling.
  for (unsigned i = 0; i < backoffs_ && rto < kMaxRto; ++i) rto *= 2;
  return std::clamp(rto, kMinRto, kMaxRto);
}

void RttEstimator::backoff() {
  if (backoffs_ < std::numeric_limits<unsigned>::max()) ++backoffs_;
}

}  // namespace netns::tcp
