#include "ipv4/tcp/rtt.hpp"

#include <chrono>

#include <gtest/gtest.h>

namespace netns::tcp {
namespace {
namespace ipv4_tcp_rtt_test {

using namespace std::chrono_literals;
using Duration = RttEstimator::Duration;

double as_ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

TEST(RttEstimatorTest, BeforeAnySampleRtoIsOneSecond) {
  RttEstimator rtt;
  EXPECT_FALSE(rtt.has_sample());
  EXPECT_EQ(rtt.rto(), 1s);
  EXPECT_EQ(rtt.srtt(), 0s);
  EXPECT_EQ(rtt.rttvar(), 0s);
  EXPECT_EQ(rtt.min_rtt(), 0s);
  EXPECT_EQ(rtt.backoffs(), 0u);
}

TEST(RttEstimatorTest, FirstSampleSetsSrttAndHalfOfItAsVariance) {
  RttEstimator rtt;
  rtt.sample(300ms);
  EXPECT_TRUE(rtt.has_sample());
  EXPECT_EQ(rtt.srtt(), 300ms);
  EXPECT_EQ(rtt.rttvar(), 150ms);
  EXPECT_EQ(rtt.min_rtt(), 300ms);
  EXPECT_EQ(rtt.rto(), 300ms + 4 * 150ms);  // 900 ms: 4*RTTVAR above the floor
}

TEST(RttEstimatorTest, FirstSmallSampleUsesTheFloorInPlaceOfVariance) {
  RttEstimator rtt;
  rtt.sample(40ms);  // 4*RTTVAR = 80 ms < 200 ms
  EXPECT_EQ(rtt.rto(), 40ms + 200ms);
}

TEST(RttEstimatorTest, SecondSampleFollowsRfc6298Gains) {
  RttEstimator rtt;
  rtt.sample(100ms);  // SRTT 100, RTTVAR 50
  rtt.sample(200ms);
  // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5; SRTT = 7/8 * 100 + 1/8 * 200 = 112.5
  EXPECT_EQ(rtt.rttvar(), 62500us);
  EXPECT_EQ(rtt.srtt(), 112500us);
  EXPECT_EQ(rtt.rto(), 112500us + 4 * 62500us);
  EXPECT_EQ(rtt.min_rtt(), 100ms);
}

TEST(RttEstimatorTest, ConvergesOnASteadyRtt) {
  RttEstimator rtt;
  rtt.sample(500ms);
  for (int i = 0; i < 200; ++i) rtt.sample(50ms);
  // The first sample's error decays as (7/8)^n: 450 ms * (7/8)^200 is picoseconds.
  EXPECT_NEAR(as_ms(rtt.srtt()), 50, 0.001);
  EXPECT_LT(rtt.rttvar(), 1us);
  EXPECT_GE(rtt.rto(), 250ms);  // 50 ms + the 200 ms floor
  EXPECT_LT(rtt.rto(), 250ms + 10us);
  EXPECT_EQ(rtt.min_rtt(), 50ms);
}

TEST(RttEstimatorTest, AnRttSpikeRaisesTheVariance) {
  RttEstimator rtt;
  for (int i = 0; i < 200; ++i) rtt.sample(100ms);
  rtt.sample(1s);
  // RTTVAR ~ 1/4 * 900 = 225 ms, SRTT ~ 100 + 900/8 = 212.5 ms.
  EXPECT_NEAR(as_ms(rtt.rttvar()), 225, 0.01);
  EXPECT_NEAR(as_ms(rtt.srtt()), 212.5, 0.01);
  EXPECT_NEAR(as_ms(rtt.rto()), 1112.5, 0.05);
  EXPECT_EQ(rtt.min_rtt(), 100ms);
}

TEST(RttEstimatorTest, MicrosecondRttsStillWaitTheLinuxFloor) {
  RttEstimator rtt;
  for (int i = 0; i < 1000; ++i) rtt.sample(1us);
  EXPECT_EQ(rtt.srtt(), 1us);
  EXPECT_EQ(rtt.rto(), 200ms + 1us);
  EXPECT_GE(rtt.rto(), RttEstimator::kMinRto);
}

TEST(RttEstimatorTest, NonPositiveSamplesCountAsOneMicrosecond) {
  RttEstimator rtt;
  rtt.sample(Duration::zero());
  EXPECT_EQ(rtt.srtt(), 1us);
  EXPECT_EQ(rtt.min_rtt(), 1us);
  rtt.sample(-5ms);
  EXPECT_EQ(rtt.srtt(), 1us);
  EXPECT_EQ(rtt.min_rtt(), 1us);
  EXPECT_EQ(rtt.rto(), 200ms + 1us);
}

TEST(RttEstimatorTest, MinRttIsTheSmallestSample) {
  RttEstimator rtt;
  rtt.sample(80ms);
  rtt.sample(30ms);
  rtt.sample(120ms);
  EXPECT_EQ(rtt.min_rtt(), 30ms);
}

TEST(RttEstimatorTest, BackoffDoublesAndSaturatesAt120Seconds) {
  RttEstimator rtt;
  rtt.sample(100ms);  // RTO 300 ms
  ASSERT_EQ(rtt.rto(), 300ms);
  const Duration expected[] = {600ms, 1200ms, 2400ms, 4800ms, 9600ms, 19200ms,
                               38400ms, 76800ms, 120s, 120s};
  for (Duration e : expected) {
    rtt.backoff();
    EXPECT_EQ(rtt.rto(), e) << "after " << rtt.backoffs() << " backoffs";
  }
  EXPECT_EQ(rtt.backoffs(), 10u);
}

TEST(RttEstimatorTest, BackoffBeforeAnySampleDoublesTheInitialRto) {
  RttEstimator rtt;
  const Duration expected[] = {2s, 4s, 8s, 16s, 32s, 64s, 120s};
  for (Duration e : expected) {
    rtt.backoff();
    EXPECT_EQ(rtt.rto(), e);
  }
}

TEST(RttEstimatorTest, ManyBackoffsDoNotOverflow) {
  RttEstimator rtt;
  rtt.sample(100ms);
  for (int i = 0; i < 100'000; ++i) rtt.backoff();
  EXPECT_EQ(rtt.backoffs(), 100'000u);
  EXPECT_EQ(rtt.rto(), 120s);
}

TEST(RttEstimatorTest, ResetBackoffRestoresTheComputedRto) {
  RttEstimator rtt;
  rtt.sample(100ms);
  rtt.backoff();
  rtt.backoff();
  ASSERT_EQ(rtt.rto(), 1200ms);
  rtt.reset_backoff();
  EXPECT_EQ(rtt.backoffs(), 0u);
  EXPECT_EQ(rtt.rto(), 300ms);
}

TEST(RttEstimatorTest, HugeSamplesSaturateWithoutOverflow) {
  RttEstimator rtt;
  rtt.sample(Duration::max());
  EXPECT_EQ(rtt.srtt(), Duration::max());
  EXPECT_EQ(rtt.rto(), 120s);
  rtt.backoff();
  EXPECT_EQ(rtt.rto(), 120s);
  rtt.sample(1ms);  // an error of nearly Duration::max()
  EXPECT_GT(rtt.srtt(), 1ms);
  EXPECT_GT(rtt.rttvar(), 0s);
  EXPECT_EQ(rtt.rto(), 120s);
  EXPECT_EQ(rtt.min_rtt(), 1ms);
}

TEST(RttEstimatorTest, LongRttsAreClampedTo120Seconds) {
  RttEstimator rtt;
  rtt.sample(100s);  // 100 + 4 * 50 s
  EXPECT_EQ(rtt.rto(), 120s);
  EXPECT_EQ(rtt.srtt(), 100s);
}

}  // namespace ipv4_tcp_rtt_test
}  // namespace
}  // namespace netns::tcp
