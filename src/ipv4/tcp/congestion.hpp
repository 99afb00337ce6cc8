// Congestion control for one connection, in bytes: how much may be in
// flight (cwnd) and where slow start ends (ssthresh).
//
//   auto cc = make_congestion_control(CongestionAlgorithm::cubic, 1460);
//   cc->cwnd();                                   // 14600: IW10
//   cc->on_ack(acked, now, rtt.srtt(), in_flight >= cc->cwnd());
//   cc->on_loss(in_flight, now);                  // a loss: ssthresh goes down
//   cc->set_cwnd(prr_window);                     // the connection's PRR
//   cc->on_recovery_end(now);                     // the full ACK: cwnd = ssthresh
//   cc->on_timeout(now);  cc->set_cwnd(mss);      // RTO: the loss window
//
// The connection owns the loss-recovery machinery (RACK, PRR, undo, the
// loss window); these classes only say how the window grows and where
// ssthresh goes at each event. They are pure and deterministic: time is
// the `now` passed in, nothing else.
//
// Slow start is RFC 9406's HyStart++ (which RFC 9438 4.10 recommends for
// CUBIC; Linux has its own HyStart): byte counting of at most L = 8
// segments an ACK, and when the round's minimum RTT rises by a threshold,
// Conservative Slow Start (a quarter of the growth) for up to five rounds
// before congestion avoidance, back to slow start if the RTT falls again.
// Not done: ECN.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include <optional>

#include "ipv4/tcp/seq.hpp"
#include "netns/clock.hpp"

namespace netns::tcp {

// The order of net.ipv4.tcp_congestion_control's names: {"cubic", "reno"}.
enum class CongestionAlgorithm { cubic, reno };

class CongestionControl {
 public:
  // Nothing grows past 1 GiB, so byte arithmetic on uint32 cannot wrap.
  static constexpr std::uint32_t kMaxWindow = std::uint32_t{1} << 30;
  // ssthresh before the first loss: "arbitrarily high" (RFC 5681 3.1),
  // Linux's TCP_INFINITE_SSTHRESH.
  static constexpr std::uint32_t kInfiniteSsthresh = 0x7fffffff;
  static constexpr std::uint32_t kInitialWindowSegments = 10;  // RFC 6928, as Linux

  virtual ~CongestionControl() = default;
  CongestionControl(const CongestionControl&) = delete;
  CongestionControl& operator=(const CongestionControl&) = delete;

  virtual std::string_view name() const = 0;  // "cubic", "reno"

  std::uint32_t cwnd() const { return cwnd_; }  // bytes
  std::uint32_t ssthresh() const { return ssthresh_; }
  std::uint32_t mss() const { return mss_; }
  bool in_slow_start() const { return cwnd_ < ssthresh_; }

  // HyStart++ (RFC 9406), for each ACK while in slow start (before
  // on_ack): `ack` is snd_una after it, `snd_nxt` ends the round it starts,
  // `rtt` the sample it gave, if any. True when this ACK ends slow start
  // for Conservative Slow Start (Linux counts TcpExtTCPHystartDelayDetect).
  bool on_round_sample(Seq ack, Seq snd_nxt, std::optional<Clock::duration> rtt);
  bool in_css() const { return hystart_.css; }

  // The sender's MSS changed (after the handshake): cwnd keeps its count of
  // segments, and so does a finite ssthresh. The MSS option is 16 bits: 0
  // counts as 1 and anything above 65535 as 65535 (here and in the constructor).
  void set_mss(std::uint32_t mss);

  // New data acknowledged outside loss recovery: `acked` bytes newly
  // acknowledged, `srtt` the smoothed RTT (zero if unknown), `cwnd_limited`
  // false when the sender had less than cwnd in flight (an
  // application-limited sender does not grow cwnd, RFC 7661 / Linux
  // tcp_is_cwnd_limited).
  virtual void on_ack(std::uint32_t acked, Clock::time_point now, Clock::duration srtt,
                      bool cwnd_limited) = 0;
  // A loss (found by RACK, duplicate ACKs or the retransmission timer)
  // starts a window reduction: stores the reduced ssthresh and the
  // algorithm's own memory of the loss (Linux's ca_ops->ssthresh).
  // `flight`: bytes in flight. cwnd is the connection's to set: PRR walks
  // it down to ssthresh in fast recovery, a timeout starts from one segment.
  virtual void on_loss(std::uint32_t flight, Clock::time_point now) = 0;
  // A retransmission timeout, after on_loss when the connection reduced:
  // what the algorithm forgets (RFC 9438 4.8's fresh curve). Leaves cwnd
  // and ssthresh alone.
  virtual void on_timeout(Clock::time_point now) = 0;
  // Fast recovery ended (the full ACK of RFC 6582): cwnd = ssthresh.
  virtual void on_recovery_end(Clock::time_point now);
  // The reduction was spurious (D-SACKs or timestamps showed no loss):
  // cwnd and ssthresh back to at least what they were before it
  // (tcp_undo_cwnd_reduction; RFC 9438 4.9 for CUBIC's own state).
  virtual void undo(std::uint32_t prior_cwnd, std::uint32_t prior_ssthresh);

  // Store a window, clamped to [one mss, kMaxWindow]: PRR's, the loss window.
  void set_cwnd(std::uint64_t bytes);

 protected:
  // cwnd = IW10, ssthresh = kInfiniteSsthresh.
  explicit CongestionControl(std::uint32_t mss);

  // Slow start (RFC 9406 4.2): cwnd += acked (at most L segments, a quarter
  // in CSS), up to ssthresh. Returns the acked bytes left over once cwnd
  // reaches ssthresh, for congestion avoidance.
  std::uint32_t slow_start(std::uint32_t acked);
  // Store a finite ssthresh, at most kMaxWindow.
  void set_ssthresh(std::uint64_t bytes);

  std::uint32_t mss_;
  std::uint32_t cwnd_;
  std::uint32_t ssthresh_;

  // Every slow start begins with fresh HyStart++ rounds (after a timeout).
  void restart_hystart() { hystart_ = {}; }

 private:
  // RFC 9406's constants.
  static constexpr std::uint32_t kHystartL = 8;             // segments an ACK may add, unpaced
  static constexpr std::uint32_t kHystartSamples = 8;       // N_RTT_SAMPLE
  static constexpr std::uint32_t kCssGrowthDivisor = 4;
  static constexpr std::uint32_t kCssRounds = 5;
  static constexpr Clock::duration kMinRttThresh = std::chrono::milliseconds(4);
  static constexpr Clock::duration kMaxRttThresh = std::chrono::milliseconds(16);
  static constexpr Clock::duration kNoRtt = Clock::duration::max();

  struct HyStart {
    bool round_started = false;
    Seq window_end = 0;  // the round ends when this is acknowledged
    Clock::duration last_round_min = kNoRtt, current_round_min = kNoRtt;
    std::uint32_t samples = 0;
    bool css = false;
    Clock::duration css_baseline = kNoRtt;
    std::uint32_t css_rounds = 0;
  };
  HyStart hystart_;

  // Lets an algorithm rescale state it keeps in bytes; cwnd_ and ssthresh_
  // are already rescaled.
  virtual void mss_changed(std::uint32_t /*old_mss*/) {}
};

// NewReno's window (RFC 5681, RFC 6582 for the recovery the connection runs).
class RenoCongestion final : public CongestionControl {
 public:
  explicit RenoCongestion(std::uint32_t mss) : CongestionControl(mss) {}

  std::string_view name() const override { return "reno"; }
  // Congestion avoidance grows cwnd by one mss per cwnd bytes acknowledged
  // (RFC 5681 3.1's byte counting; RFC 3465).
  void on_ack(std::uint32_t acked, Clock::time_point now, Clock::duration srtt,
              bool cwnd_limited) override;
  // ssthresh = max(flight / 2, 2 * mss), RFC 5681 (4).
  void on_loss(std::uint32_t flight, Clock::time_point now) override;
  void on_timeout(Clock::time_point now) override;

  // Bytes acknowledged in congestion avoidance towards the next mss of cwnd.
  std::uint64_t bytes_acked() const { return bytes_acked_; }

 private:
  void mss_changed(std::uint32_t old_mss) override;

  std::uint64_t bytes_acked_ = 0;
};

// CUBIC (RFC 9438): after a loss, cwnd follows W_cubic(t) = C*(t-K)^3 + W_max,
// concave up to the window of the last loss and convex beyond it, but never
// below what Reno would have reached (the Reno-friendly W_est). The curve is
// kept in segments (doubles), cwnd in bytes.
class CubicCongestion final : public CongestionControl {
 public:
  static constexpr double kC = 0.4;      // RFC 9438 4.1, segments / s^3
  static constexpr double kBeta = 0.7;   // beta_cubic
  // alpha_cubic = 3 (1 - beta) / (1 + beta), RFC 9438 4.3.
  static constexpr double kAlpha = 3 * (1 - kBeta) / (1 + kBeta);

  explicit CubicCongestion(std::uint32_t mss) : CongestionControl(mss) {}

  std::string_view name() const override { return "cubic"; }
  void on_ack(std::uint32_t acked, Clock::time_point now, Clock::duration srtt,
              bool cwnd_limited) override;
  // ssthresh = cwnd * beta_cubic, at least 2 mss (RFC 9438 4.6). RFC 9438
  // allows cwnd in place of `flight` when an application-limited sender
  // does not grow cwnd, which on_ack's cwnd_limited ensures; Linux does the
  // same. W_max with fast convergence (4.7).
  void on_loss(std::uint32_t flight, Clock::time_point now) override;
  // The next congestion avoidance starts a curve with K = 0 from its own
  // starting window (RFC 9438 4.8).
  void on_timeout(Clock::time_point now) override;
  // RFC 9438 4.9: W_max and the window before the loss come back too.
  void undo(std::uint32_t prior_cwnd, std::uint32_t prior_ssthresh) override;

  // The curve's parameters, for tests and diagnostics.
  double w_max() const { return w_max_; }  // segments
  double k() const { return k_; }          // seconds
  double w_est() const { return w_est_; }  // segments
  bool epoch_started() const { return epoch_started_; }

 private:
  void start_epoch(Clock::time_point now, double cwnd);
  void congestion_avoidance(std::uint32_t acked, Clock::time_point now, Clock::duration srtt);
  double w_cubic(double t) const;

  double w_max_ = 0;       // segments at the last reduction, after fast convergence
  double cwnd_prior_ = 0;  // segments just before the last reduction
  double undo_w_max_ = 0, undo_cwnd_prior_ = 0;  // both before the last reduction
  double k_ = 0;           // seconds from the epoch to the plateau at W_max
  double w_est_ = 0;       // the Reno-friendly window, segments
  bool epoch_started_ = false;
  // The next epoch takes W_max from its own starting window, K = 0: after
  // a timeout (RFC 9438 4.8) or before any loss has set W_max.
  bool restart_curve_ = true;
  Clock::time_point epoch_start_{};
  Clock::time_point last_ack_{};
  // cwnd in segments with the fraction cwnd_ (bytes) cannot hold, valid
  // while cwnd_ still equals cwnd_written_ (recovery and set_mss change it).
  double cwnd_exact_ = 0;
  std::uint32_t cwnd_written_ = 0;
};

// The algorithm net.ipv4.tcp_congestion_control names, for a sender of `mss`.
std::unique_ptr<CongestionControl> make_congestion_control(CongestionAlgorithm algorithm,
                                                           std::uint32_t mss);

}  // namespace netns::tcp
