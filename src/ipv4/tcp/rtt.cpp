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

void WindowedMin::update(Duration window, Clock::time_point now, Duration sample) {
  const Sample val{now, sample};
  if (empty() || val.value <= s_[0].value || now - s_[2].at > window) {
    reset(val);  // a new minimum, or nothing left in the window
    return;
  }
  if (val.value <= s_[1].value) {
    s_[2] = s_[1] = val;
  } else if (val.value <= s_[2].value) {
    s_[2] = val;
  }
  const Duration age = now - s_[0].at;
  if (age > window) {
    // The best aged out with no better one since: the candidates move up,
    // maybe twice, as the second may be out of the window too.
    s_[0] = s_[1];
    s_[1] = s_[2];
    s_[2] = val;
    if (now - s_[0].at > window) {
      s_[0] = s_[1];
      s_[1] = s_[2];
      s_[2] = val;
    }
  } else if (s_[1].at == s_[0].at && age > window / 4) {
    s_[2] = s_[1] = val;  // a second choice from the window's second quarter
  } else if (s_[2].at == s_[1].at && age > window / 2) {
    s_[2] = val;  // a third choice from its second half
  }
}

}  // namespace netns::tcp
