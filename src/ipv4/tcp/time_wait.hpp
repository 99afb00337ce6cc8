// TIME_WAIT without the connection, as Linux's inet_timewait_sock
// (tcp_minisocks.c, inet_timewait_sock.c): a connection entering TIME_WAIT
// hands what the state needs to a small record and is freed; the record
// answers the peer for 60 seconds, keeps the local port from new binds and
// then goes, leaving no trace.
//
//   TcpOps::deliver   connections, then time_wait.find(tuple), then a listener
//   enter_time_wait   time_wait.insert(tuple, record, user)
//   dump_sockets      time_wait.for_each: TIME-WAIT lines
//
// Every record waits the same TCP_TIMEWAIT_LEN from when it was last
// (re)started and time only moves forward, so the records form one list in
// deadline order: a new or restarted record goes to the back, the front is
// the next to expire, and one Timer serves them all.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <utility>

#include "ipv4/tcp/defaults.hpp"
#include "ipv4/tcp/four_tuple.hpp"
#include "ipv4/tcp/seq.hpp"
#include "netns/clock.hpp"
#include "netns/timer.hpp"

namespace netns::tcp {

class Connection;
struct Segment;
struct TcpNet;

// What TIME_WAIT keeps of a connection (Linux's tcp_timewait_sock).
struct TimeWait {
  Seq snd_nxt = 0;
  Seq rcv_nxt = 0;
  std::uint32_t ts_recent = 0;        // 0: our ACKs carry no timestamps (tcp_v4_send_ack's tsecr)
  std::uint32_t ts_offset = 0;
  std::uint32_t ts_recent_stamp = 0;  // when ts_recent was stored, seconds on the Host's clock
  std::uint32_t last_oow_ack = 0;     // when the last rate-limited ACK left, ms (TcpOps::timestamp_now)
  std::uint16_t window = 0;           // the window field of our ACKs, as the last one sent said
  bool timestamps = false;            // negotiated: PAWS applies
  bool oow_acked = false;             // last_oow_ack is set
  bool user_held = false;             // a Stream still holds the connection it replaced
  bool mapped = false;                // an IPv6 socket's IPv4 connection: dumped as ::ffff:a.b.c.d
  Clock::time_point deadline{};
  std::pair<const FourTuple, TimeWait>* prev = nullptr;  // the list in deadline order
  std::pair<const FourTuple, TimeWait>* next = nullptr;
};

// One namespace's TIME_WAIT records, bounded by net.ipv4.tcp_max_tw_buckets.
class TimeWaitTable {
 public:
  using Entry = std::pair<const FourTuple, TimeWait>;

  // Linux's TCP_TIMEWAIT_LEN.
  static constexpr auto kLength = kTimeWaitLen;

  explicit TimeWaitTable(TcpNet& tn);
  ~TimeWaitTable();
  TimeWaitTable(const TimeWaitTable&) = delete;
  TimeWaitTable& operator=(const TimeWaitTable&) = delete;

  std::size_t size() const { return records_.size(); }
  bool empty() const { return records_.empty(); }
  // tcp_max_tw_buckets records exist: the next connection closes without one.
  bool full() const;

  // A connection enters TIME_WAIT (tcp_time_wait): `record` answers for it
  // under `tuple` for kLength and holds tuple.local in the port table. A
  // connection a Stream still holds passes itself as `user`: it shows
  // TIME_WAIT until the record ends, and is then told
  // (Connection::time_wait_over) unless release_user came first.
  // Precondition: !full(), and no record under `tuple`.
  void insert(const FourTuple& tuple, const TimeWait& record, Connection* user);
  Entry* find(const FourTuple& tuple) {
    auto it = records_.find(tuple);
    return it != records_.end() ? &*it : nullptr;
  }

  // SEGMENT ARRIVES in TIME_WAIT (tcp_timewait_state_process): PAWS, the
  // bare ACK or RST at rcv_nxt, a retransmitted FIN re-ACKed with the wait
  // restarted, anything else ACKed within tcp_invalid_ratelimit. A SYN that
  // may open a new incarnation (a higher sequence number or a newer
  // timestamp) is left to the caller: the ISN the new connection must start
  // above the old one with (RFC 1122 4.2.2.13) comes back, and the caller
  // either gives the SYN to a listener (and erases the record) or answers
  // it with send_ack. `entry` may be gone when this returns nullopt.
  std::optional<Seq> process(Entry& entry, const Segment& seg);
  // tcp_v4_timewait_ack: what the record knows, from the namespace's
  // control path (no socket: IP ID 0 under DF, as Linux's ctl socket).
  void send_ack(const Entry& entry);
  // The record ends now (RST, a new incarnation, or its deadline).
  void erase(FourTuple tuple);
  // The Stream holding the connection let it go: the record waits on alone.
  void release_user(const FourTuple& tuple);

  // f(const FourTuple&) for every record, in no particular order.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [tuple, record] : records_) f(tuple, record);
  }

 private:
  void restart(Entry& entry);  // inet_twsk_reschedule(TCP_TIMEWAIT_LEN)
  void link_back(Entry& entry);
  void unlink(Entry& entry);
  void arm();
  void expire();
  bool rate_limited(TimeWait& record, const Segment& seg);  // tcp_oow_rate_limited
  bool paws_reject(const TimeWait& record, std::uint32_t tsval, bool rst) const;
  Clock::time_point now() const;
  std::uint32_t now_seconds() const;

  TcpNet& tn_;
  std::unordered_map<FourTuple, TimeWait, FourTupleHash> records_;
  Entry* head_ = nullptr;  // the earliest deadline
  Entry* tail_ = nullptr;
  // Connections a Stream held when they entered TIME_WAIT (rare: most
  // connections are closed by their user first).
  std::unordered_map<FourTuple, Connection*, FourTupleHash> users_;
  Timer timer_;  // due at head_'s deadline or earlier (it then re-arms)
};

}  // namespace netns::tcp
