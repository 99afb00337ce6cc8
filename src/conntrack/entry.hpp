// conntrack/entry.hpp — one tracked connection, Linux's struct nf_conn: the
// original and the reply tuple (tuplehash[2]), status bits, mark, expiry
// and per-protocol state; and CtRef, the counted reference that packets and
// the table hold.
//
// The reply tuple is the inverted original when the entry is made; NAT
// (next) rewrites it before the entry is confirmed (Table::set_reply), so a
// translated answer finds the entry as Linux's does, and sets
// kStatusSrcNat/kStatusDstNat.
#pragma once

#include <array>
#include <cstdint>
#include <utility>

#include "conntrack/tuple.hpp"
#include "netns/clock.hpp"
#include "netns/packet.hpp"

namespace netns::conntrack {

class Table;
class Entry;

// Linux's enum ip_conntrack_status bits, at the same positions.
inline constexpr std::uint32_t kStatusExpected = 1u << 0;
inline constexpr std::uint32_t kStatusSeenReply = 1u << 1;
inline constexpr std::uint32_t kStatusAssured = 1u << 2;
inline constexpr std::uint32_t kStatusConfirmed = 1u << 3;
inline constexpr std::uint32_t kStatusSrcNat = 1u << 4;
inline constexpr std::uint32_t kStatusDstNat = 1u << 5;
inline constexpr std::uint32_t kStatusSrcNatDone = 1u << 7;
inline constexpr std::uint32_t kStatusDstNatDone = 1u << 8;
inline constexpr std::uint32_t kStatusDying = 1u << 9;

// Linux's enum tcp_conntrack, in its order (the dump prints these names).
enum class TcpCtState : std::uint8_t {
  none,
  syn_sent,
  syn_recv,
  established,
  fin_wait,
  close_wait,
  last_ack,
  time_wait,
  close,
  syn_sent2,
  count_,
};
const char* to_string(TcpCtState s);

// What conntrack knows of one side's sequence space (ip_ct_tcp_state).
struct TcpWindow {
  std::uint32_t td_end = 0;     // the highest seq + len seen from this side
  std::uint32_t td_maxend = 0;  // the highest ack + window the other side allowed
  std::uint32_t td_maxwin = 0;  // the largest window this side announced (0: side unseen)
  std::uint32_t td_maxack = 0;  // the highest ack this side sent
  std::uint8_t td_scale = 0;
  std::uint8_t flags = 0;  // kTcpFlag*
};

inline constexpr std::uint8_t kTcpFlagWindowScale = 0x01;
inline constexpr std::uint8_t kTcpFlagSackPerm = 0x02;
inline constexpr std::uint8_t kTcpFlagCloseInit = 0x04;   // this side sent the first FIN
inline constexpr std::uint8_t kTcpFlagBeLiberal = 0x08;   // picked up mid-stream: windows not judged
inline constexpr std::uint8_t kTcpFlagDataUnacked = 0x10;
inline constexpr std::uint8_t kTcpFlagMaxackSet = 0x20;
inline constexpr std::uint8_t kTcpFlagChallengeAck = 0x40;  // a SYN in LAST_ACK may draw a challenge ACK
inline constexpr std::uint8_t kTcpFlagSimOpen = 0x80;       // simultaneous open (SYN_SENT2 seen)

// Linux's struct ip_ct_tcp: both windows and the last packet, for retransmission and resync.
struct TcpTrack {
  std::array<TcpWindow, 2> seen{};
  TcpCtState state = TcpCtState::none;
  std::uint8_t last_dir = 0;
  std::uint8_t retrans = 0;
  std::uint8_t last_index = 5;  // TcpIndex::none
  std::uint8_t last_wscale = 0;
  std::uint8_t last_flags = 0;  // kTcpFlag* of an ignored SYN, and kTcpFlagChallengeAck/SimOpen
  std::uint16_t last_win = 0;
  std::uint32_t last_seq = 0;
  std::uint32_t last_ack = 0;
  std::uint32_t last_end = 0;
};

// One direction's tuple, as the table's buckets point at it.
struct TupleHash {
  Tuple tuple;
  Entry* entry = nullptr;
};

// Begins with the NfConntrack a Packet holds (packet.nfct()): its `use` is
// the entry's reference count, and a packet's last reference frees it as a
// CtRef's does.
class alignas(64) Entry : public NfConntrack {
 public:
  Entry(const Tuple& original, const Tuple& reply, Table* table);
  // The entry a packet holds, or null.
  static Entry* of(const Packet& packet) { return static_cast<Entry*>(packet.nfct()); }
  Entry(const Entry&) = delete;
  Entry& operator=(const Entry&) = delete;

  const Tuple& tuple(Dir d) const { return tuplehash_[index(d)].tuple; }
  Family family() const { return tuplehash_[0].tuple.family; }
  std::uint8_t protocol() const { return tuplehash_[0].tuple.protocol; }
  // Which direction a chain node of this entry stands for.
  Dir direction_of(const TupleHash* node) const { return node == &tuplehash_[1] ? Dir::reply : Dir::original; }

  // Laid out for a datagram of an established flow: the count (the base)
  // and the original tuple fill the first cache line; the reply tuple,
  // status, the masquerade's device and expiry the second; the rest is
  // colder.
 private:
  std::array<TupleHash, 2> tuplehash_;

 public:
  std::uint32_t status = 0;  // kStatus*
  // NAT: the ifindex of the device a masquerade translated this connection
  // for (nf_conn_nat's masq_index), 0 for none; its events forget it. NAT's
  // postrouting hook reads it for every original datagram.
  int masq_index = 0;
  Clock::time_point expires{};
  // UDP: a reply seen after this instant makes the flow a stream (assured,
  // the longer timeout); two seconds after the first datagram, as Linux.
  Clock::time_point udp_stream_after{};
  TcpTrack tcp;  // TCP only
  std::uint32_t mark = 0;

  bool test(std::uint32_t bit) const { return (status & bit) != 0; }
  bool confirmed() const { return test(kStatusConfirmed); }
  // NfConntrack::use counts the references: the table's (when confirmed),
  // each CtRef's and each Packet's.

 private:
  friend class Table;
  friend class CtRef;
  static void destroy_entry(NfConntrack* ct);  // the last reference went
  Table* table_;                     // null once the table is gone: the last CtRef frees alone
  Entry* unconfirmed_prev_ = nullptr;  // Table::unconfirmed_, while not in the hash
  Entry* unconfirmed_next_ = nullptr;
  // Table's by-source index (nf_conn's nat_bysource), while linked.
  Entry* by_source_next_ = nullptr;
  Entry** by_source_pprev_ = nullptr;
  std::uint64_t by_source_hash_ = 0;
};

static_assert(alignof(Entry) >= 8, "a Packet keeps ctinfo in the low bits of its entry pointer");
static_assert(sizeof(TupleHash) == 48 && sizeof(NfConntrack) == 16, "the layout above: two lines before status");

// A counted reference to an entry (nf_conntrack_get/put); the last one frees
// it and gives its place in the namespace's count back. Single-threaded, as
// everything on a Host's packet path.
class CtRef {
 public:
  CtRef() = default;
  explicit CtRef(Entry* e) : e_(e) {
    if (e_ != nullptr) nf_conntrack_get(e_);
  }
  CtRef(const CtRef& o) : CtRef(o.e_) {}
  CtRef(CtRef&& o) noexcept : e_(o.e_) { o.e_ = nullptr; }
  CtRef& operator=(CtRef o) noexcept {
    std::swap(e_, o.e_);
    return *this;
  }
  ~CtRef() { reset(); }
  void reset();

  Entry* get() const { return e_; }
  Entry& operator*() const { return *e_; }
  Entry* operator->() const { return e_; }
  explicit operator bool() const { return e_ != nullptr; }

 private:
  Entry* e_ = nullptr;
};

}  // namespace netns::conntrack
