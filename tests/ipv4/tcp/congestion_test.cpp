#include "ipv4/tcp/congestion.hpp"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace netns::tcp {
namespace {
namespace ipv4_tcp_congestion_test {

using namespace std::chrono_literals;

constexpr std::uint32_t kMss = 1000;
constexpr std::uint32_t kGiB = std::uint32_t{1} << 30;

double to_seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
Clock::duration from_seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

// What the connection does with an algorithm at a fast-recovery loss
// (ssthresh, then PRR ends at cwnd = ssthresh) and at a retransmission
// timeout (ssthresh, a fresh start, the one-segment loss window).
void lose(CongestionControl& cc, std::uint32_t flight, Clock::time_point now) {
  cc.on_loss(flight, now);
  cc.set_cwnd(cc.ssthresh());
}
// Slow start by `bytes`, in ACKs of at most the 8 segments slow start counts
// an ACK (RFC 9406's L).
void grow(CongestionControl& cc, std::uint32_t bytes, Clock::time_point now = {}) {
  while (bytes != 0) {
    const std::uint32_t n = std::min(bytes, 8 * cc.mss());
    cc.on_ack(n, now, std::chrono::milliseconds(100), true);
    bytes -= n;
  }
}
void time_out(CongestionControl& cc, std::uint32_t flight, Clock::time_point now) {
  cc.on_loss(flight, now);
  cc.on_timeout(now);
  cc.set_cwnd(cc.mss());
}

// A window-limited sender on a path of a fixed RTT: its ACKs come back one
// mss at a time, cwnd of them per RTT, evenly spaced.
class AckClock {
 public:
  AckClock(CongestionControl& cc, Clock::duration rtt) : cc_(cc), rtt_(rtt) {}

  Clock::time_point now() const { return now_; }
  double elapsed() const { return to_seconds(now_ - Clock::time_point{}); }
  double segments() const { return static_cast<double>(cc_.cwnd()) / cc_.mss(); }

  // One round trip: the window at its start, acknowledged mss by mss.
  void round() {
    const std::uint32_t n = cc_.cwnd() / cc_.mss();
    for (std::uint32_t i = 0; i < n; ++i) {
      now_ += rtt_ / n;
      cc_.on_ack(cc_.mss(), now_, rtt_, true);
    }
  }
  void rounds(int count) {
    for (int i = 0; i < count; ++i) round();
  }
  // ACKs at the current rate cwnd / RTT until `until`.
  void run_until(Clock::time_point until, bool cwnd_limited = true) {
    while (now_ < until) {
      now_ += rtt_ * cc_.mss() / cc_.cwnd();
      cc_.on_ack(cc_.mss(), now_, rtt_, cwnd_limited);
    }
  }
  void run_for(Clock::duration d, bool cwnd_limited = true) { run_until(now_ + d, cwnd_limited); }

  // Slow start straight to `segments` within one RTT, with stretch ACKs of
  // the most slow start counts (RFC 9406's L = 8 segments).
  void grow_to(std::uint32_t segments) {
    ASSERT_TRUE(cc_.in_slow_start());
    ASSERT_GT(segments * cc_.mss(), cc_.cwnd());
    now_ += rtt_;
    while (cc_.cwnd() < segments * cc_.mss()) {
      cc_.on_ack(std::min(segments * cc_.mss() - cc_.cwnd(), 8 * cc_.mss()), now_, rtt_, true);
    }
    ASSERT_EQ(cc_.cwnd(), segments * cc_.mss());
  }
  // Fast retransmit and recovery taking one RTT, with the whole window in flight.
  void lose_one() {
    lose(cc_, cc_.cwnd(), now_);
    now_ += rtt_;
    cc_.on_recovery_end(now_);
  }

 private:
  CongestionControl& cc_;
  Clock::duration rtt_;
  Clock::time_point now_{};
};

// ---- Both algorithms ----

class CongestionControlTest : public ::testing::TestWithParam<CongestionAlgorithm> {
 protected:
  std::unique_ptr<CongestionControl> make(std::uint32_t mss = kMss) {
    return make_congestion_control(GetParam(), mss);
  }
};

INSTANTIATE_TEST_SUITE_P(CongestionAlgorithms, CongestionControlTest,
                         ::testing::Values(CongestionAlgorithm::cubic, CongestionAlgorithm::reno),
                         [](const auto& param_info) {
                           return std::string(make_congestion_control(param_info.param, kMss)->name());
                         });

TEST_P(CongestionControlTest, InitialWindowIsTenSegmentsAndSsthreshInfinite) {
  auto cc = make(1460);
  EXPECT_EQ(cc->mss(), 1460u);
  EXPECT_EQ(cc->cwnd(), 14600u);
  EXPECT_EQ(cc->ssthresh(), 0x7fffffffu);
  EXPECT_TRUE(cc->in_slow_start());
}

TEST_P(CongestionControlTest, FactoryNamesMatchTheSysctl) {
  EXPECT_EQ(make()->name(), GetParam() == CongestionAlgorithm::cubic ? "cubic" : "reno");
}

TEST_P(CongestionControlTest, SlowStartDoublesEachRoundWhenEveryByteIsAcked) {
  auto cc = make();
  AckClock clock(*cc, 100ms);
  for (std::uint32_t segments : {20u, 40u, 80u, 160u, 320u, 640u}) {
    clock.round();
    EXPECT_EQ(cc->cwnd(), segments * kMss);
  }
  EXPECT_TRUE(cc->in_slow_start());
}

TEST_P(CongestionControlTest, SlowStartCountsEveryByteOfAStretchAckUpToEightSegments) {
  auto cc = make();
  cc->on_ack(5'000, Clock::time_point{}, 100ms, true);
  EXPECT_EQ(cc->cwnd(), 15'000u);
  cc->on_ack(1, Clock::time_point{}, 100ms, true);
  EXPECT_EQ(cc->cwnd(), 15'001u);
  cc->on_ack(50'000, Clock::time_point{}, 100ms, true);  // RFC 9406's L: unpaced, 8 segments
  EXPECT_EQ(cc->cwnd(), 23'001u);
}

TEST_P(CongestionControlTest, ZeroBytesAckedChangesNothing) {
  auto cc = make();
  cc->on_ack(0, Clock::time_point{}, 100ms, true);
  EXPECT_EQ(cc->cwnd(), 10 * kMss);
}

TEST_P(CongestionControlTest, AppLimitedSenderDoesNotGrowInSlowStart) {
  auto cc = make();
  AckClock clock(*cc, 100ms);
  clock.run_for(10s, /*cwnd_limited=*/false);
  EXPECT_EQ(cc->cwnd(), 10 * kMss);
}

TEST_P(CongestionControlTest, AppLimitedSenderDoesNotGrowInCongestionAvoidance) {
  auto cc = make();
  AckClock clock(*cc, 100ms);
  clock.grow_to(100);
  clock.lose_one();
  const std::uint32_t after_loss = cc->cwnd();
  ASSERT_FALSE(cc->in_slow_start());
  clock.run_for(30s, /*cwnd_limited=*/false);
  EXPECT_EQ(cc->cwnd(), after_loss);
}

TEST_P(CongestionControlTest, SetMssKeepsTheSegmentCount) {
  auto cc = make(536);
  ASSERT_EQ(cc->cwnd(), 5360u);
  cc->set_mss(1460);
  EXPECT_EQ(cc->mss(), 1460u);
  EXPECT_EQ(cc->cwnd(), 14600u);
  EXPECT_EQ(cc->ssthresh(), 0x7fffffffu);  // "infinite" stays infinite

  lose(*cc, cc->cwnd(), Clock::time_point{});
  const std::uint32_t cwnd_segments = cc->cwnd() / 1460;
  const std::uint32_t ssthresh_segments = cc->ssthresh() / 1460;
  ASSERT_EQ(cc->cwnd() % 1460, 0u);
  ASSERT_EQ(cc->ssthresh() % 1460, 0u);
  cc->set_mss(1000);
  EXPECT_EQ(cc->cwnd(), cwnd_segments * 1000);
  EXPECT_EQ(cc->ssthresh(), ssthresh_segments * 1000);
}

TEST_P(CongestionControlTest, MssOfZeroCountsAsOne) {
  auto cc = make(0);
  EXPECT_EQ(cc->mss(), 1u);
  EXPECT_EQ(cc->cwnd(), 10u);
  time_out(*cc, 0, Clock::time_point{});
  EXPECT_EQ(cc->cwnd(), 1u);
  // Reno halves the (empty) flight, CUBIC takes 70% of cwnd = 10.
  EXPECT_EQ(cc->ssthresh(), GetParam() == CongestionAlgorithm::reno ? 2u : 7u);
}

TEST_P(CongestionControlTest, TimeoutLeavesOneSegment) {
  auto cc = make();
  AckClock clock(*cc, 100ms);
  clock.grow_to(100);
  time_out(*cc, 100 * kMss, clock.now());
  EXPECT_EQ(cc->cwnd(), kMss);
  EXPECT_TRUE(cc->in_slow_start());
}

TEST_P(CongestionControlTest, LossLeavesCwndToTheConnection) {
  auto cc = make();
  AckClock clock(*cc, 100ms);
  clock.grow_to(100);
  cc->on_loss(100 * kMss, clock.now());
  EXPECT_EQ(cc->cwnd(), 100 * kMss);  // PRR walks it down, not the algorithm
  EXPECT_LT(cc->ssthresh(), 100 * kMss);
  cc->on_timeout(clock.now());
  EXPECT_EQ(cc->cwnd(), 100 * kMss);
}

TEST_P(CongestionControlTest, UndoRestoresTheWindowBeforeTheLoss) {
  auto cc = make();
  AckClock clock(*cc, 100ms);
  clock.grow_to(100);
  const std::uint32_t prior_cwnd = cc->cwnd(), prior_ssthresh = cc->ssthresh();
  lose(*cc, 100 * kMss, clock.now());
  ASSERT_LT(cc->cwnd(), prior_cwnd);
  cc->undo(prior_cwnd, prior_ssthresh);
  EXPECT_EQ(cc->cwnd(), prior_cwnd);
  EXPECT_EQ(cc->ssthresh(), prior_ssthresh);
  // A window that grew past the old one since is kept.
  cc->set_cwnd(150 * kMss);
  cc->undo(prior_cwnd, 20 * kMss);
  EXPECT_EQ(cc->cwnd(), 150 * kMss);
  EXPECT_EQ(cc->ssthresh(), prior_ssthresh);
}

TEST_P(CongestionControlTest, RecoveryEndLeavesCwndAtSsthresh) {
  auto cc = make();
  AckClock clock(*cc, 100ms);
  clock.grow_to(100);
  lose(*cc, 100 * kMss, clock.now());
  EXPECT_EQ(cc->cwnd(), cc->ssthresh());
  cc->on_recovery_end(clock.now() + 100ms);
  EXPECT_EQ(cc->cwnd(), cc->ssthresh());
  EXPECT_FALSE(cc->in_slow_start());
}

TEST_P(CongestionControlTest, WindowsStopAtOneGibibyte) {
  auto cc = make(65535);
  for (int i = 0; i < 3000; ++i) cc->on_ack(0xffffffff, Clock::time_point{}, 100ms, true);
  EXPECT_EQ(cc->cwnd(), kGiB);
  lose(*cc, 0xffffffff, Clock::time_point{});
  EXPECT_LE(cc->ssthresh(), kGiB);
  EXPECT_GE(cc->ssthresh(), kGiB / 2);
  EXPECT_EQ(cc->cwnd(), cc->ssthresh());
  for (int i = 0; i < 100; ++i) cc->on_ack(0xffffffff, Clock::time_point{} + i * 1s, 1ms, true);
  EXPECT_LE(cc->cwnd(), kGiB);
  EXPECT_GT(cc->cwnd(), kGiB / 2);
}

// ---- NewReno ----

TEST(RenoTest, LossHalvesTheFlightWithATwoSegmentFloor) {
  RenoCongestion cc(kMss);
  grow(cc, 90 * kMss);
  ASSERT_EQ(cc.cwnd(), 100 * kMss);
  lose(cc, 100 * kMss, Clock::time_point{});
  EXPECT_EQ(cc.ssthresh(), 50 * kMss);
  EXPECT_EQ(cc.cwnd(), 50 * kMss);
  EXPECT_FALSE(cc.in_slow_start());

  lose(cc, 3 * kMss, Clock::time_point{});  // little in flight: the floor
  EXPECT_EQ(cc.ssthresh(), 2 * kMss);
  EXPECT_EQ(cc.cwnd(), 2 * kMss);
  lose(cc, 0, Clock::time_point{});
  EXPECT_EQ(cc.ssthresh(), 2 * kMss);
}

TEST(RenoTest, LossUsesTheFlightNotCwnd) {
  RenoCongestion cc(kMss);
  grow(cc, 90 * kMss);
  lose(cc, 31 * kMss + 1, Clock::time_point{});  // application-limited: 31 segments out
  EXPECT_EQ(cc.ssthresh(), (31 * kMss + 1) / 2);
}

TEST(RenoTest, TimeoutHalvesTheFlightAndRestartsFromOneSegment) {
  RenoCongestion cc(kMss);
  time_out(cc, 64 * kMss, Clock::time_point{});
  EXPECT_EQ(cc.ssthresh(), 32 * kMss);
  EXPECT_EQ(cc.cwnd(), kMss);
}

TEST(RenoTest, SlowStartStopsAtSsthreshAndCarriesTheRestIntoAvoidance) {
  RenoCongestion cc(kMss);
  AckClock clock(cc, 100ms);
  time_out(cc, 64 * kMss, clock.now());
  for (std::uint32_t segments : {2u, 4u, 8u, 16u}) {
    clock.round();
    ASSERT_EQ(cc.cwnd(), segments * kMss);
  }
  grow(cc, 12 * kMss, clock.now());
  ASSERT_EQ(cc.cwnd(), 28 * kMss);
  // 8 segments acknowledged at once: 4 fill cwnd up to ssthresh (32), the
  // other 4 count towards the first congestion-avoidance increase.
  cc.on_ack(8 * kMss, clock.now(), 100ms, true);
  EXPECT_EQ(cc.cwnd(), 32 * kMss);
  EXPECT_EQ(cc.bytes_acked(), 4 * kMss);
  EXPECT_FALSE(cc.in_slow_start());
  cc.on_ack(27 * kMss, clock.now(), 100ms, true);
  EXPECT_EQ(cc.cwnd(), 32 * kMss);
  cc.on_ack(kMss, clock.now(), 100ms, true);  // 32 segments since reaching 32
  EXPECT_EQ(cc.cwnd(), 33 * kMss);
  EXPECT_EQ(cc.bytes_acked(), 0u);
}

TEST(RenoTest, CongestionAvoidanceAddsOneSegmentPerRound) {
  RenoCongestion cc(kMss);
  AckClock clock(cc, 100ms);
  clock.grow_to(100);
  clock.lose_one();
  ASSERT_EQ(cc.cwnd(), 50 * kMss);
  for (std::uint32_t segments = 51; segments <= 70; ++segments) {
    clock.round();
    EXPECT_EQ(cc.cwnd(), segments * kMss);
  }
}

TEST(RenoTest, SmallAcksAddUpWithoutDrift) {
  RenoCongestion cc(1460);
  time_out(cc, 40 * 1460, Clock::time_point{});  // ssthresh 20 segments
  grow(cc, 19 * 1460);
  ASSERT_EQ(cc.cwnd(), 20u * 1460);
  // 10 windows of 29200 bytes in 7-byte ACKs (and a remainder).
  std::uint64_t acked = 0;
  std::uint32_t expected = 20 * 1460;
  for (int window = 0; window < 10; ++window) {
    const std::uint64_t target = acked + cc.cwnd();
    while (acked + 7 <= target) {
      cc.on_ack(7, Clock::time_point{}, 100ms, true);
      acked += 7;
    }
    cc.on_ack(static_cast<std::uint32_t>(target - acked), Clock::time_point{}, 100ms, true);
    acked = target;
    expected += 1460;
    EXPECT_EQ(cc.cwnd(), expected);
    EXPECT_EQ(cc.bytes_acked(), 0u);
  }
}

TEST(RenoTest, StretchAckInAvoidanceCountsWholeWindows) {
  RenoCongestion cc(kMss);
  time_out(cc, 20 * kMss, Clock::time_point{});
  grow(cc, 9 * kMss);  // cwnd = ssthresh = 10
  ASSERT_EQ(cc.cwnd(), 10 * kMss);
  cc.on_ack(35 * kMss, Clock::time_point{}, 100ms, true);
  EXPECT_EQ(cc.cwnd(), 13 * kMss);
  EXPECT_EQ(cc.bytes_acked(), 5 * kMss);
}

TEST(RenoTest, SetMssRescalesTheAvoidanceCount) {
  RenoCongestion cc(500);
  time_out(cc, 20 * 500, Clock::time_point{});
  grow(cc, 9 * 500);
  cc.on_ack(5 * 500, Clock::time_point{}, 100ms, true);  // half a window towards the next segment
  cc.set_mss(1000);
  EXPECT_EQ(cc.cwnd(), 10 * 1000u);
  EXPECT_EQ(cc.bytes_acked(), 5 * 1000u);
  cc.on_ack(5 * 1000, Clock::time_point{}, 100ms, true);
  EXPECT_EQ(cc.cwnd(), 11 * 1000u);
}

// ---- CUBIC ----

// W_cubic(t) = C (t - K)^3 + W_max, RFC 9438 Figure 1.
double w_cubic(double t, double k, double w_max) {
  return CubicCongestion::kC * std::pow(t - k, 3) + w_max;
}

// cwnd chases the target W_cubic(t + RTT) (RFC 9438 4.4, 4.5), so after
// each ACK it lies between W_cubic(t) (give or take the last ACK's step)
// and the target, at the 100 ms RTT the curve tests use.
void expect_on_curve(double cwnd, double t, double k, double w_max) {
  EXPECT_GE(cwnd, w_cubic(t, k, w_max) - 0.5) << "t=" << t;
  EXPECT_LE(cwnd, w_cubic(t + 0.1, k, w_max)) << "t=" << t;
}

TEST(CubicTest, ConstantsAreRfc9438s) {
  EXPECT_DOUBLE_EQ(CubicCongestion::kC, 0.4);
  EXPECT_DOUBLE_EQ(CubicCongestion::kBeta, 0.7);
  EXPECT_DOUBLE_EQ(CubicCongestion::kAlpha, 3 * 0.3 / 1.7);
}

TEST(CubicTest, LossKeepsSeventyPercentAndRemembersWMax) {
  CubicCongestion cc(kMss);
  AckClock clock(cc, 100ms);
  clock.grow_to(100);
  lose(cc, 40 * kMss, clock.now());  // flight is not used: cwnd is
  EXPECT_EQ(cc.ssthresh(), 70 * kMss);
  EXPECT_EQ(cc.cwnd(), 70 * kMss);
  EXPECT_DOUBLE_EQ(cc.w_max(), 100);
  EXPECT_FALSE(cc.epoch_started());
}

TEST(CubicTest, SsthreshIsAtLeastTwoSegments) {
  CubicCongestion cc(kMss);
  time_out(cc, 0, Clock::time_point{});  // cwnd 10 -> ssthresh 7
  EXPECT_EQ(cc.ssthresh(), 7 * kMss);
  cc.on_ack(kMss, Clock::time_point{} + 1s, 100ms, true);
  lose(cc, kMss, Clock::time_point{} + 2s);  // cwnd 2: 1.4 segments
  EXPECT_EQ(cc.ssthresh(), 2 * kMss);
  EXPECT_EQ(cc.cwnd(), 2 * kMss);
}

TEST(CubicTest, FastConvergenceLowersWMaxWhenLosingBelowIt) {
  CubicCongestion cc(kMss);
  AckClock clock(cc, 100ms);
  clock.grow_to(100);
  clock.lose_one();  // W_max 100, cwnd 70
  lose(cc, 70 * kMss, clock.now());
  // RFC 9438 4.7: W_max = cwnd (1 + beta) / 2.
  EXPECT_DOUBLE_EQ(cc.w_max(), 70 * 1.7 / 2);
  EXPECT_EQ(cc.ssthresh(), 49 * kMss);
  EXPECT_EQ(cc.cwnd(), 49 * kMss);
}

TEST(CubicTest, LossAboveWMaxTakesCwndAsWMax) {
  CubicCongestion cc(kMss);
  AckClock clock(cc, 100ms);
  clock.grow_to(100);
  clock.lose_one();
  clock.run_for(10s);  // well past K = 4.2 s
  const double cwnd = clock.segments();
  ASSERT_GT(cwnd, 100);
  lose(cc, cc.cwnd(), clock.now());
  EXPECT_DOUBLE_EQ(cc.w_max(), cwnd);
}

TEST(CubicTest, EpochStartsAtTheFirstAckAfterRecovery) {
  CubicCongestion cc(kMss);
  AckClock clock(cc, 100ms);
  clock.grow_to(100);
  clock.lose_one();
  EXPECT_FALSE(cc.epoch_started());
  cc.on_ack(kMss, clock.now(), 100ms, true);
  EXPECT_TRUE(cc.epoch_started());
  // K = cbrt(W_max (1 - beta) / C) when the epoch starts at beta W_max.
  EXPECT_NEAR(cc.k(), std::cbrt(100 * 0.3 / 0.4), 1e-9);
  EXPECT_DOUBLE_EQ(cc.w_est(), 70 + CubicCongestion::kAlpha / 70);
}

// After a loss at W = 100 segments and a 100 ms RTT (where the cubic curve
// is above Reno's), cwnd climbs quickly, flattens out near 100 at t = K and
// only then grows past it.
TEST(CubicTest, ConcaveUpToWMaxAtK) {
  CubicCongestion cc(kMss);
  AckClock clock(cc, 100ms);
  clock.grow_to(100);
  clock.lose_one();
  const double k = std::cbrt(100 * (1 - 0.7) / 0.4);  // 4.217 s
  const Clock::time_point start = clock.now();

  clock.run_until(start + from_seconds(k / 2));
  const double half = clock.segments();
  clock.run_until(start + from_seconds(k));
  const double at_k = clock.segments();
  clock.run_until(start + from_seconds(k + 1));
  const double after = clock.segments();

  EXPECT_NEAR(cc.k(), k, 1e-9);
  // W_cubic(K/2) = 100 - 0.4 (K/2)^3 = 96.25.
  expect_on_curve(half, k / 2, k, 100);
  EXPECT_GT(half - 70, 2 * (at_k - half));  // concave: most of the way in the first half
  EXPECT_NEAR(at_k, 100, 0.5);
  EXPECT_LE(at_k, 100.1);
  EXPECT_GT(after, 100);
  EXPECT_LT(after, 101);  // W_cubic(K + 1) = 100.4: the plateau
}

// With W_max = 1000 segments the whole curve is above Reno's at 100 ms, and
// cwnd tracks W_cubic(t) through the concave and the convex part.
TEST(CubicTest, FollowsTheCubicCurveAroundWMax) {
  CubicCongestion cc(kMss);
  AckClock clock(cc, 100ms);
  clock.grow_to(1000);
  clock.lose_one();
  const double k = std::cbrt(1000 * (1 - 0.7) / 0.4);  // 9.09 s
  const Clock::time_point start = clock.now();
  ASSERT_EQ(cc.cwnd(), 700 * kMss);

  double previous = 700;
  double previous_growth = 1e9;
  for (double t = 1; t <= k; t += 1) {
    clock.run_until(start + from_seconds(t));
    const double cwnd = clock.segments();
    expect_on_curve(cwnd, t, k, 1000);
    EXPECT_LT(cwnd - previous, previous_growth) << "concave at t=" << t;
    previous_growth = cwnd - previous;
    previous = cwnd;
  }
  clock.run_until(start + from_seconds(k));
  EXPECT_NEAR(clock.segments(), 1000, 1);

  previous = clock.segments();
  previous_growth = 0;
  for (double t = std::ceil(k); t <= k + 6; t += 1) {
    clock.run_until(start + from_seconds(t));
    const double cwnd = clock.segments();
    expect_on_curve(cwnd, t, k, 1000);
    EXPECT_GT(cwnd - previous, previous_growth) << "convex at t=" << t;
    previous_growth = cwnd - previous;
    previous = cwnd;
  }
  EXPECT_GT(clock.segments(), 1080);  // W_cubic(K + 6) = 1086.4
  EXPECT_LT(cc.w_est(), 900);         // Reno would be far behind
}

// At a 1 ms RTT and a 20-segment window, Reno's linear growth beats the
// cubic curve: cwnd follows W_est, alpha_cubic per RTT until W_est regains
// the window before the loss, then 1 segment per RTT (RFC 9438 4.3).
TEST(CubicTest, RenoFriendlyRegionDominatesAtSmallBdp) {
  CubicCongestion cc(kMss);
  AckClock clock(cc, 1ms);
  clock.grow_to(20);
  lose(cc, cc.cwnd(), clock.now());
  ASSERT_EQ(cc.cwnd(), 14 * kMss);
  const double k = std::cbrt(20 * 0.3 / 0.4);  // 2.47 s: the curve is slow here
  const Clock::time_point start = clock.now();

  clock.rounds(10);
  EXPECT_NEAR(clock.segments(), 14 + 10 * CubicCongestion::kAlpha, 0.3);
  EXPECT_NEAR(cc.w_est(), clock.segments(), 0.01);

  // 6 segments at alpha take 11.3 RTTs; each later RTT adds one segment.
  const double rtts_to_prior = 6 / CubicCongestion::kAlpha;
  clock.rounds(90);
  EXPECT_NEAR(clock.segments(), 20 + (100 - rtts_to_prior), 2);
  const double t = to_seconds(clock.now() - start);
  EXPECT_GT(clock.segments(), 4 * w_cubic(t, k, 20));
}

// After a timeout, the next congestion avoidance starts a curve with K = 0
// and W_max = the window it starts from (RFC 9438 4.8).
TEST(CubicTest, TimeoutRestartsTheCurveFromItsStartingWindow) {
  CubicCongestion cc(kMss);
  AckClock clock(cc, 100ms);
  clock.grow_to(100);
  time_out(cc, 100 * kMss, clock.now());
  EXPECT_EQ(cc.ssthresh(), 70 * kMss);
  EXPECT_EQ(cc.cwnd(), kMss);
  for (std::uint32_t segments : {2u, 4u, 8u, 16u, 32u, 64u}) {
    clock.round();
    EXPECT_EQ(cc.cwnd(), segments * kMss);
  }
  cc.on_ack(6 * kMss, clock.now(), 100ms, true);  // exactly up to ssthresh
  EXPECT_EQ(cc.cwnd(), 70 * kMss);
  EXPECT_FALSE(cc.in_slow_start());
  EXPECT_FALSE(cc.epoch_started());
  const Clock::time_point start = clock.now();
  cc.on_ack(kMss, start, 100ms, true);
  ASSERT_TRUE(cc.epoch_started());
  EXPECT_EQ(cc.k(), 0);
  EXPECT_DOUBLE_EQ(cc.w_max(), 70);
  // From there it is convex at once: 70 + 0.4 t^3, above W_est at 100 ms.
  clock.run_until(start + 5s);
  expect_on_curve(clock.segments(), 5, 0, 70);
}

TEST(CubicTest, AppLimitedTimeDoesNotAdvanceTheCurve) {
  CubicCongestion limited(kMss);
  CubicCongestion busy(kMss);
  AckClock limited_clock(limited, 100ms);
  AckClock busy_clock(busy, 100ms);
  for (AckClock* clock : {&limited_clock, &busy_clock}) {
    clock->grow_to(100);
    clock->lose_one();
  }
  limited_clock.run_for(1s);
  const std::uint32_t before = limited.cwnd();
  limited_clock.run_for(20s, /*cwnd_limited=*/false);
  EXPECT_EQ(limited.cwnd(), before);
  limited_clock.run_for(1s);
  busy_clock.run_for(2s);
  // The same 2 s of window-limited sending: the same window, not a jump
  // to W_cubic(22 s) = 100 + 0.4 * 17.8^3.
  EXPECT_NEAR(limited_clock.segments(), busy_clock.segments(), 0.5);
  EXPECT_LT(limited_clock.segments(), 100);
}

TEST(CubicTest, StretchAckGrowsAtMostHalfAWindow) {
  CubicCongestion cc(kMss);
  AckClock clock(cc, 100ms);
  clock.grow_to(100);
  clock.lose_one();
  cc.on_ack(kMss, clock.now(), 100ms, true);  // the epoch starts
  // 20 s on, W_cubic is ~ 1700 segments; the target stops at 1.5 cwnd.
  const double cwnd = clock.segments();
  cc.on_ack(10'000 * kMss, clock.now() + 20s, 100ms, true);
  EXPECT_LE(clock.segments(), 1.5 * cwnd + 0.01);
  EXPECT_GT(clock.segments(), 1.4 * cwnd);
}

TEST(CubicTest, SetMssKeepsTheCurveInSegments) {
  CubicCongestion cc(1000);
  AckClock clock(cc, 100ms);
  clock.grow_to(100);
  clock.lose_one();
  clock.run_for(2s);
  const double segments = clock.segments();
  cc.set_mss(500);
  EXPECT_NEAR(clock.segments(), segments, 0.01);
  clock.run_until(clock.now() + from_seconds(std::cbrt(75) - 2));  // to t = K
  EXPECT_NEAR(clock.segments(), 100, 0.6);
}

// ---- HyStart++ (RFC 9406) ----

namespace hystart {

// One round of `acks` ACKs of one segment each, every one with `rtt`; the
// round ends at snd_nxt = `end`. Returns how many ACKs started CSS.
int round(CongestionControl& cc, Seq& una, Seq end, int acks, Clock::duration rtt) {
  int entered = 0;
  for (int i = 0; i < acks; ++i) {
    una += cc.mss();
    if (cc.on_round_sample(una, end, rtt)) ++entered;
    cc.on_ack(cc.mss(), Clock::time_point{}, rtt, true);
  }
  return entered;
}

}  // namespace hystart

TEST_P(CongestionControlTest, HyStartLeavesSlowStartWhenTheRoundsRttRises) {
  auto cc = make();
  Seq una = 0;
  Seq end = 10 * kMss;
  EXPECT_EQ(hystart::round(*cc, una, end, 10, 10ms), 0);
  end = una + cc->cwnd();
  // 10 ms + max(4 ms, 10 ms / 8): a round whose least RTT is 14 ms or more.
  EXPECT_EQ(hystart::round(*cc, una, end, 20, 15ms), 1);
  EXPECT_TRUE(cc->in_css());
  EXPECT_TRUE(cc->in_slow_start());
  // Conservative Slow Start grows a quarter as fast.
  const auto before = cc->cwnd();
  hystart::round(*cc, una, una + 8 * kMss, 8, 15ms);
  EXPECT_EQ(cc->cwnd() - before, 8 * kMss / 4);
  // Five rounds of CSS end slow start for good.
  for (int r = 0; r < 5; ++r) hystart::round(*cc, una, una + 8 * kMss, 8, 15ms);
  EXPECT_FALSE(cc->in_slow_start());
  EXPECT_GT(cc->ssthresh(), before);  // where CSS left cwnd, then avoidance goes on
  EXPECT_LE(cc->ssthresh(), cc->cwnd());
}

TEST_P(CongestionControlTest, HyStartGoesBackToSlowStartWhenTheRttFalls) {
  auto cc = make();
  Seq una = 0;
  hystart::round(*cc, una, 10 * kMss, 10, 10ms);
  hystart::round(*cc, una, una + cc->cwnd(), 20, 20ms);
  ASSERT_TRUE(cc->in_css());
  hystart::round(*cc, una, una + 10 * kMss, 10, 12ms);  // below the 20 ms that started CSS
  EXPECT_FALSE(cc->in_css());
  EXPECT_TRUE(cc->in_slow_start());
}

TEST_P(CongestionControlTest, HyStartNeedsEightSamplesARound) {
  auto cc = make();
  Seq una = 0;
  hystart::round(*cc, una, 10 * kMss, 10, 10ms);
  EXPECT_EQ(hystart::round(*cc, una, una + cc->cwnd(), 7, 50ms), 0);
  EXPECT_FALSE(cc->in_css());
}

}  // namespace ipv4_tcp_congestion_test
}  // namespace
}  // namespace netns::tcp
