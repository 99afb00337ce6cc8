#include "ipv4/tcp/congestion.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>

namespace netns::tcp {

namespace {

// The MSS option is 16 bits; bounding it keeps [mss, kMaxWindow] a range.
constexpr std::uint32_t kMaxMss = 0xffff;

// beta_cubic as a ratio, so that ssthresh in bytes is exact.
constexpr std::uint64_t kBetaNumerator = 7;
constexpr std::uint64_t kBetaDenominator = 10;
static_assert(CubicCongestion::kBeta == double(kBetaNumerator) / double(kBetaDenominator));

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

// ---- CongestionControl ----

CongestionControl::CongestionControl(std::uint32_t mss)
    : mss_(std::clamp<std::uint32_t>(mss, 1, kMaxMss)), cwnd_(0), ssthresh_(kInfiniteSsthresh) {
  set_cwnd(std::uint64_t{kInitialWindowSegments} * mss_);
}

void CongestionControl::set_mss(std::uint32_t mss) {
  mss = std::clamp<std::uint32_t>(mss, 1, kMaxMss);
  if (mss == mss_) return;
  const std::uint32_t old_mss = std::exchange(mss_, mss);
  set_cwnd(std::uint64_t{cwnd_} * mss / old_mss);
  if (ssthresh_ != kInfiniteSsthresh) set_ssthresh(std::uint64_t{ssthresh_} * mss / old_mss);
  mss_changed(old_mss);
}

void CongestionControl::on_recovery_end(Clock::time_point /*now*/) { set_cwnd(ssthresh_); }

void CongestionControl::undo(std::uint32_t prior_cwnd, std::uint32_t prior_ssthresh) {
  set_cwnd(std::max(cwnd_, prior_cwnd));
  if (prior_ssthresh >= kInfiniteSsthresh) {
    ssthresh_ = kInfiniteSsthresh;  // back before the first loss
  } else if (prior_ssthresh > ssthresh_) {
    set_ssthresh(prior_ssthresh);
  }
}

std::uint32_t CongestionControl::slow_start(std::uint32_t acked) {
  // RFC 9406 4.2: at most L segments an ACK; a quarter of that in CSS.
  const std::uint64_t limited = std::min<std::uint64_t>(acked, std::uint64_t{kHystartL} * mss_);
  const std::uint64_t growth = hystart_.css ? limited / kCssGrowthDivisor : limited;
  const std::uint64_t target = std::min<std::uint64_t>(std::uint64_t{cwnd_} + growth, ssthresh_);
  const std::uint64_t used = target > cwnd_ ? target - cwnd_ : 0;
  const bool reached_ssthresh = target == ssthresh_;
  set_cwnd(target);
  // What is left once cwnd reaches ssthresh goes to congestion avoidance.
  return reached_ssthresh ? static_cast<std::uint32_t>(acked - std::min<std::uint64_t>(used, acked)) : 0;
}

bool CongestionControl::on_round_sample(Seq ack, Seq snd_nxt, std::optional<Clock::duration> rtt) {
  HyStart& h = hystart_;
  if (!in_slow_start()) return false;
  if (!h.round_started || seq_gt(ack, h.window_end)) {
    if (h.round_started && h.css && ++h.css_rounds >= kCssRounds) {
      set_ssthresh(cwnd_);  // five rounds of CSS: congestion avoidance from here
      h.css = false;
      return false;
    }
    h.round_started = true;
    h.window_end = snd_nxt;
    h.last_round_min = h.current_round_min;
    h.current_round_min = kNoRtt;
    h.samples = 0;
  }
  if (rtt) {
    h.current_round_min = std::min(h.current_round_min, *rtt);
    ++h.samples;
  }
  if (h.samples < kHystartSamples || h.current_round_min == kNoRtt || h.last_round_min == kNoRtt) {
    return false;
  }
  if (h.css) {
    // The RTT came down again: the rise was not the queue; slow start on.
    if (h.current_round_min < h.css_baseline) {
      h.css = false;
      h.css_baseline = kNoRtt;
    }
    return false;
  }
  const Clock::duration thresh = std::clamp(h.last_round_min / 8, kMinRttThresh, kMaxRttThresh);
  if (h.current_round_min < h.last_round_min + thresh) return false;
  h.css = true;
  h.css_baseline = h.current_round_min;
  h.css_rounds = 0;
  return true;
}

void CongestionControl::set_cwnd(std::uint64_t bytes) {
  cwnd_ = static_cast<std::uint32_t>(std::clamp<std::uint64_t>(bytes, mss_, kMaxWindow));
}

void CongestionControl::set_ssthresh(std::uint64_t bytes) {
  ssthresh_ = static_cast<std::uint32_t>(std::min<std::uint64_t>(bytes, kMaxWindow));
}

// ---- RenoCongestion ----

void RenoCongestion::on_ack(std::uint32_t acked, Clock::time_point /*now*/,
                            Clock::duration /*srtt*/, bool cwnd_limited) {
  if (acked == 0 || !cwnd_limited) return;
  if (in_slow_start()) {
    acked = slow_start(acked);
    if (acked == 0) return;
  }
  // Whole steps of cwnd bytes at once, as Linux's tcp_cong_avoid_ai, so a
  // stretch ACK grows cwnd as the ACKs it replaces would have.
  bytes_acked_ += acked;
  if (bytes_acked_ < cwnd_) return;
  const std::uint64_t steps = bytes_acked_ / cwnd_;
  bytes_acked_ -= steps * cwnd_;
  set_cwnd(cwnd_ + steps * mss_);
  if (cwnd_ == kMaxWindow) bytes_acked_ = 0;  // nothing more to count towards
}

void RenoCongestion::on_loss(std::uint32_t flight, Clock::time_point /*now*/) {
  set_ssthresh(std::max<std::uint64_t>(flight / 2, std::uint64_t{2} * mss_));
  bytes_acked_ = 0;
}

void RenoCongestion::on_timeout(Clock::time_point /*now*/) {
  bytes_acked_ = 0;
  restart_hystart();
}

void RenoCongestion::mss_changed(std::uint32_t old_mss) {
  bytes_acked_ = bytes_acked_ * mss_ / old_mss;
}

// ---- CubicCongestion ----

void CubicCongestion::on_ack(std::uint32_t acked, Clock::time_point now, Clock::duration srtt,
                             bool cwnd_limited) {
  if (acked == 0) return;
  if (!cwnd_limited) {
    // Time spent application-limited does not move along the curve, or the
    // first window-limited ACK afterwards would jump cwnd to wherever
    // W_cubic got to (Linux shifts epoch_start by the idle time likewise).
    if (epoch_started_ && now > last_ack_) epoch_start_ += now - last_ack_;
    last_ack_ = now;
    return;
  }
  if (in_slow_start()) {
    acked = slow_start(acked);
    if (acked == 0) return;
  }
  congestion_avoidance(acked, now, srtt);
}

void CubicCongestion::congestion_avoidance(std::uint32_t acked, Clock::time_point now,
                                           Clock::duration srtt) {
  const double mss = mss_;
  const double max_segments = kMaxWindow / mss;
  if (cwnd_ != cwnd_written_) cwnd_exact_ = cwnd_ / mss;
  double cwnd = cwnd_exact_;
  const double segments = acked / mss;
  if (!epoch_started_) start_epoch(now, cwnd);
  last_ack_ = now;
  const double t = std::max(0.0, seconds(now - epoch_start_));

  // RFC 9438 4.3: alpha_cubic until W_est regains the window before the
  // last reduction, then Reno's own 1 segment per RTT.
  const double alpha = w_est_ >= cwnd_prior_ ? 1.0 : kAlpha;
  w_est_ = std::min(w_est_ + alpha * segments / cwnd, max_segments);

  if (w_cubic(t) < w_est_) {
    cwnd = std::max(cwnd, w_est_);  // the Reno-friendly region
  } else {
    // RFC 9438 4.4, 4.5: aim one RTT ahead, at most 1.5 cwnd. The increase
    // is per acknowledged segment, capped at the target for stretch ACKs.
    const double target = std::clamp(w_cubic(t + seconds(srtt)), cwnd, 1.5 * cwnd);
    cwnd = std::min(target, cwnd + (target - cwnd) / cwnd * segments);
  }
  cwnd_exact_ = std::min(cwnd, max_segments);
  set_cwnd(static_cast<std::uint64_t>(cwnd_exact_ * mss));
  cwnd_written_ = cwnd_;
}

void CubicCongestion::start_epoch(Clock::time_point now, double cwnd) {
  epoch_started_ = true;
  epoch_start_ = now;
  w_est_ = cwnd;
  if (restart_curve_) {
    w_max_ = cwnd;
    k_ = 0;
    restart_curve_ = false;
  } else {
    // RFC 9438 Figure 2. Negative when the epoch starts above W_max: the
    // curve then passes cwnd at t = 0 already in its convex part.
    k_ = std::cbrt((w_max_ - cwnd) / kC);
  }
}

double CubicCongestion::w_cubic(double t) const {
  const double d = t - k_;
  return kC * d * d * d + w_max_;
}

void CubicCongestion::on_timeout(Clock::time_point /*now*/) {
  epoch_started_ = false;
  restart_curve_ = true;
  restart_hystart();
}

void CubicCongestion::undo(std::uint32_t prior_cwnd, std::uint32_t prior_ssthresh) {
  CongestionControl::undo(prior_cwnd, prior_ssthresh);
  w_max_ = undo_w_max_;
  cwnd_prior_ = undo_cwnd_prior_;
  epoch_started_ = false;
  restart_curve_ = false;
}

void CubicCongestion::on_loss(std::uint32_t /*flight*/, Clock::time_point /*now*/) {
  undo_w_max_ = w_max_;
  undo_cwnd_prior_ = cwnd_prior_;
  const double cwnd = cwnd_ / static_cast<double>(mss_);
  // Fast convergence (RFC 9438 4.7): losing below the last W_max means a
  // new flow is taking bandwidth, so release some by aiming lower.
  w_max_ = cwnd < w_max_ ? cwnd * (1 + kBeta) / 2 : cwnd;
  cwnd_prior_ = cwnd;
  set_ssthresh(std::max(std::uint64_t{cwnd_} * kBetaNumerator / kBetaDenominator,
                        std::uint64_t{2} * mss_));
  epoch_started_ = false;
  restart_curve_ = false;
}

// ---- make_congestion_control ----

std::unique_ptr<CongestionControl> make_congestion_control(CongestionAlgorithm algorithm,
                                                           std::uint32_t mss) {
  switch (algorithm) {
    case CongestionAlgorithm::reno:
      return std::make_unique<RenoCongestion>(mss);
    case CongestionAlgorithm::cubic:
      break;
  }
  return std::make_unique<CubicCongestion>(mss);  // Linux's default, also for unknown values
}

}  // namespace netns::tcp
