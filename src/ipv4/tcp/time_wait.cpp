// TIME_WAIT records: what they answer (tcp_timewait_state_process), and
// their one list of deadlines.
#include "ipv4/tcp/time_wait.hpp"

#include "core/siphash.hpp"
#include "ipv4/tcp/connection.hpp"

namespace netns::tcp {

using wire::kTcpAck;
using wire::kTcpRst;
using wire::kTcpSyn;

namespace {

// Records expired in one run of the timer; the rest wait for the next round
// of the Host's poll, so that a crowd expiring at once holds up nothing.
constexpr std::size_t kExpireBatch = 1024;

// An RST whose timestamp fails PAWS is still taken this long after
// TS.Recent was stored (Linux's TCP_PAWS_MSL): RSTs need not carry a
// current timestamp.
constexpr std::uint32_t kPawsMslSeconds = 60;

}  // namespace

TimeWaitTable::TimeWaitTable(TcpNet& tn)
    : tn_(tn),
      records_(16, FourTupleHash{tn.net.host().secret() ^ kSipPurposeTcpIsn}),
      users_(0, FourTupleHash{tn.net.host().secret() ^ kSipPurposeTcpIsn}),
      timer_(tn.net.host(), [this] { expire(); }) {}

// The namespace is going: its records go without a word. Their port holds
// go with the port table.
TimeWaitTable::~TimeWaitTable() = default;

Clock::time_point TimeWaitTable::now() const { return tn_.net.host().now(); }

std::uint32_t TimeWaitTable::now_seconds() const {
  return static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(now().time_since_epoch()).count());
}

bool TimeWaitTable::full() const {
  return records_.size() >= static_cast<std::size_t>(tn_.net.sysctl().value(SysctlId::tcp_max_tw_buckets));
}

void TimeWaitTable::insert(const FourTuple& tuple, const TimeWait& record, Connection* user) {
  auto [it, inserted] = records_.try_emplace(tuple, record);
  if (!inserted) return;
  TimeWait& tw = it->second;
  tw.prev = tw.next = nullptr;
  tw.deadline = now() + kLength;
  tw.user_held = user != nullptr;
  if (user != nullptr) users_[tuple] = user;
  tn_.ports.hold(tuple.local);
  link_back(*it);
  arm();
}

void TimeWaitTable::erase(FourTuple tuple) {
  auto it = records_.find(tuple);
  if (it == records_.end()) return;
  unlink(*it);
  tn_.ports.release(tuple.local);
  Connection* user = nullptr;
  if (it->second.user_held) {
    if (auto u = users_.find(tuple); u != users_.end()) {
      user = u->second;
      users_.erase(u);
    }
  }
  records_.erase(it);
  if (head_ == nullptr) timer_.cancel();
  // Last: the user's callbacks may run.
  if (user != nullptr) user->time_wait_over();
}

void TimeWaitTable::release_user(const FourTuple& tuple) {
  users_.erase(tuple);
  if (Entry* e = find(tuple)) e->second.user_held = false;
}

// ---- the list of deadlines ----

void TimeWaitTable::link_back(Entry& e) {
  e.second.prev = tail_;
  e.second.next = nullptr;
  if (tail_ != nullptr) {
    tail_->second.next = &e;
  } else {
    head_ = &e;
  }
  tail_ = &e;
}

void TimeWaitTable::unlink(Entry& e) {
  TimeWait& tw = e.second;
  if (tw.prev != nullptr) {
    tw.prev->second.next = tw.next;
  } else {
    head_ = tw.next;
  }
  if (tw.next != nullptr) {
    tw.next->second.prev = tw.prev;
  } else {
    tail_ = tw.prev;
  }
  tw.prev = tw.next = nullptr;
}

void TimeWaitTable::restart(Entry& e) {
  unlink(e);
  e.second.deadline = now() + kLength;
  link_back(e);
  arm();
}

void TimeWaitTable::arm() {
  // A restarted front leaves the timer early; it finds nothing due and
  // re-arms for the new front (one heap operation per firing, not per
  // restart).
  if (head_ == nullptr) return;
  if (!timer_.pending() || timer_.deadline() > head_->second.deadline) timer_.schedule(head_->second.deadline);
}

void TimeWaitTable::expire() {
  const Clock::time_point t = now();
  for (std::size_t n = 0; head_ != nullptr && head_->second.deadline <= t; ++n) {
    if (n == kExpireBatch) {
      timer_.schedule(t);
      return;
    }
    erase(head_->first);
  }
  if (head_ != nullptr) timer_.schedule(head_->second.deadline);
}

// ---- segments ----

bool TimeWaitTable::paws_reject(const TimeWait& tw, std::uint32_t tsval, bool rst) const {
  // tcp_paws_reject: tcp_paws_check without TCP_PAWS_WINDOW's tolerance,
  // and an RST is believed once TS.Recent is a PAWS_MSL old.
  if (static_cast<std::int32_t>(tw.ts_recent - tsval) <= 0 || tw.ts_recent == 0) return false;
  const std::uint32_t age = now_seconds() - tw.ts_recent_stamp;
  if (age >= static_cast<std::uint32_t>(kPawsWrap.count())) return false;
  return !(rst && age >= kPawsMslSeconds);
}

bool TimeWaitTable::rate_limited(TimeWait& tw, const Segment& seg) {
  // tcp_oow_rate_limited: data or a FIN is always answered (no ACK loop
  // carries data); anything else once per tcp_invalid_ratelimit.
  if (seg.len() != 0 && !seg.has(kTcpSyn)) return false;
  const std::uint32_t ms = tn_.ops.timestamp_now();
  const auto interval = tn_.net.sysctl().value(SysctlId::tcp_invalid_ratelimit);
  if (tw.oow_acked) {
    const auto elapsed = static_cast<std::int32_t>(ms - tw.last_oow_ack);
    if (elapsed >= 0 && elapsed < interval) {
      tn_.net.counters().add(Counter::TcpExtTCPACKSkippedTimeWait);
      return true;
    }
  }
  tw.oow_acked = true;
  tw.last_oow_ack = ms;
  return false;
}

std::optional<Seq> TimeWaitTable::process(Entry& e, const Segment& seg) {
  TimeWait& tw = e.second;
  const bool rst = seg.has(kTcpRst);
  const bool timestamped = tw.timestamps && seg.tcp.timestamps.has_value();
  const bool paws_rejected = timestamped && paws_reject(tw, seg.tcp.timestamps->value, rst);
  const Seq seq = seg.seq();
  const std::uint32_t len = seg.len();

  if (!paws_rejected && seq == tw.rcv_nxt && (len == 0 || rst)) {
    // In order and empty: a bare ACK restarts the wait; an RST ends it
    // (TIME_WAIT assassination, RFC 1337) unless net.ipv4.tcp_rfc1337.
    if (rst && tn_.net.sysctl().value(SysctlId::tcp_rfc1337) == 0) {
      erase(e.first);
      return std::nullopt;
    }
    restart(e);
    if (timestamped) {
      tw.ts_recent = seg.tcp.timestamps->value;
      tw.ts_recent_stamp = now_seconds();
    }
    return std::nullopt;
  }
  // RFC 1122 4.2.2.13: a SYN that cannot be an old duplicate may reopen the
  // pair. Its connection starts above everything this one sent.
  if (seg.has(kTcpSyn) && !rst && !seg.has(kTcpAck) && !paws_rejected &&
      (seq_gt(seq, tw.rcv_nxt) ||
       (timestamped && static_cast<std::int32_t>(tw.ts_recent - seg.tcp.timestamps->value) < 0))) {
    const Seq isn = tw.snd_nxt + 65535 + 2;
    return isn != 0 ? isn : 1;
  }
  if (paws_rejected) tn_.net.counters().add(Counter::TcpExtPAWSEstab);
  if (rst) return std::nullopt;  // out of the window or too old: ignored
  // Anything else is ACKed (a retransmitted FIN: our ACK was lost). An ACK
  // or an old duplicate restarts the wait; a SYN without ACK below rcv_nxt
  // may be a new connection with a random ISN and does not.
  if (paws_rejected || seg.has(kTcpAck)) restart(e);
  if (!rate_limited(tw, seg)) send_ack(e);
  return std::nullopt;
}

void TimeWaitTable::send_ack(const Entry& e) {
  const FourTuple& t = e.first;
  const TimeWait& tw = e.second;
  wire::TcpRepr ack{.src_port = t.local.port, .dst_port = t.remote.port, .seq_number = tw.snd_nxt,
                    .ack_number = tw.rcv_nxt, .flags = kTcpAck, .window = tw.window};
  if (tw.ts_recent != 0) ack.timestamps = wire::TcpTimestamps{tn_.ops.timestamp_now() + tw.ts_offset, tw.ts_recent};
  tn_.ops.send_control(tn_.net, t, ack);
}

}  // namespace netns::tcp
