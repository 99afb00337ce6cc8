// TCP connection tracking, as Linux's nf_conntrack_proto_tcp.c: a state
// table for SYN, SYN-ACK, FIN, ACK and RST in each direction, and window
// tracking after Guido van Rooij's "Real Stateful TCP Packet Filtering in
// IP Filter" (tcp_in_window): a segment must lie within what the receiver
// allowed and acknowledge only what was sent.
#include <algorithm>

#include "conntrack/proto.hpp"
#include "conntrack/table.hpp"
#include "netns/wire/bytes.hpp"
#include "netns/wire/checksum.hpp"

namespace netns::conntrack {

namespace {

enum TcpIndex : std::uint8_t { kSynSet, kSynAckSet, kFinSet, kAckSet, kRstSet, kNoneSet };

// States as numbers, and the table's two verdicts past them.
constexpr std::uint8_t sNO = 0, sSS = 1, sSR = 2, sES = 3, sFW = 4, sCW = 5, sLA = 6, sTW = 7, sCL = 8, sS2 = 9;
constexpr std::uint8_t sIV = 10;  // invalid
constexpr std::uint8_t sIG = 11;  // ignored: may be valid, we may be out of sync

// Linux's tcp_conntracks[dir][index][state] (current kernels'). The columns
// are the states sNO sSS sSR sES sFW sCW sLA sTW sCL sS2.
constexpr std::uint8_t kStates[2][6][10] = {
    {
        // original
        /*syn*/ {sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2},
        /*synack*/ {sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR},
        /*fin*/ {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
        /*ack*/ {sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV},
        /*rst*/ {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
        /*none*/ {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
    },
    {
        // reply
        /*syn*/ {sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2},
        /*synack*/ {sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR},
        /*fin*/ {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
        /*ack*/ {sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG},
        /*rst*/ {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
        /*none*/ {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
    },
};

// The per-state timeout knobs, in TcpCtState order (SYN_SENT2 shares SYN_SENT's).
constexpr SysctlId kStateTimeouts[] = {
    SysctlId::nf_conntrack_tcp_timeout_close,  // none: never kept
    SysctlId::nf_conntrack_tcp_timeout_syn_sent,    SysctlId::nf_conntrack_tcp_timeout_syn_recv,
    SysctlId::nf_conntrack_tcp_timeout_established, SysctlId::nf_conntrack_tcp_timeout_fin_wait,
    SysctlId::nf_conntrack_tcp_timeout_close_wait,  SysctlId::nf_conntrack_tcp_timeout_last_ack,
    SysctlId::nf_conntrack_tcp_timeout_time_wait,   SysctlId::nf_conntrack_tcp_timeout_close,
    SysctlId::nf_conntrack_tcp_timeout_syn_sent,
};

// Linux's nf_conntrack_tcp_max_retrans default: identical ACKs in a row
// before the shorter max_retrans timeout applies.
constexpr std::uint8_t kTcpMaxRetrans = 3;
// Linux's MAXACKWINCONST: how far below the receiver's end an ACK may lie.
constexpr std::uint32_t kMaxAckWinConst = 66000;

constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10, kUrg = 0x20, kEce = 0x40,
                       kCwr = 0x80;

bool before(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b) < 0; }
bool after(std::uint32_t a, std::uint32_t b) { return before(b, a); }

struct Segment {
  std::uint32_t seq = 0, ack = 0, end = 0;
  std::uint16_t win = 0;
  std::uint8_t flags = 0;
  std::span<const std::byte> options;

  bool syn() const { return (flags & kSyn) != 0; }
  bool ackf() const { return (flags & kAck) != 0; }
  bool rst() const { return (flags & kRst) != 0; }
  bool fin() const { return (flags & kFin) != 0; }
};

TcpIndex index_of(const Segment& s) {
  if (s.rst()) return kRstSet;
  if (s.syn()) return s.ackf() ? kSynAckSet : kSynSet;
  if (s.fin()) return kFinSet;
  if (s.ackf()) return kAckSet;
  return kNoneSet;
}

// Linux's tcp_valid_flags, PSH, ECE and CWR aside.
bool valid_flags(std::uint8_t flags) {
  switch (flags & ~(kEce | kCwr | kPsh)) {
    case kSyn:
    case kSyn | kUrg:
    case kSyn | kAck:
    case kRst:
    case kRst | kAck:
    case kFin | kAck:
    case kFin | kAck | kUrg:
    case kAck:
    case kAck | kUrg:
      return true;
    default:
      return false;
  }
}

bool checksum_ok(const Datagram& d) {
  auto l4 = d.l4_bytes();
  if (d.family == Family::ipv4) {
    const Ipv4Address src(wire::load_be32(d.bytes, 12));
    const Ipv4Address dst(wire::load_be32(d.bytes, 16));
    return wire::ipv4_transport_checksum(src, dst, kProtoTcp, l4) == 0;
  }
  return wire::ipv6_transport_checksum(wire::load_ipv6(d.bytes, 8), wire::load_ipv6(d.bytes, 24), kProtoTcp, l4) == 0;
}

// Linux's tcp_error: what no connection could accept.
std::optional<Segment> parse(const Datagram& d) {
  auto l4 = d.l4_bytes();
  if (l4.size() < 20) return std::nullopt;  // short packet
  const std::size_t doff = static_cast<std::size_t>(wire::load_u8(l4, 12) >> 4) * 4;
  if (doff < 20 || doff > l4.size()) return std::nullopt;  // truncated
  if (d.verify_checksum() && !checksum_ok(d)) return std::nullopt;
  Segment s;
  s.flags = wire::load_u8(l4, 13);
  if (!valid_flags(s.flags)) return std::nullopt;
  s.seq = wire::load_be32(l4, 4);
  s.ack = wire::load_be32(l4, 8);
  s.win = wire::load_be16(l4, 14);
  s.options = l4.subspan(20, doff - 20);
  s.end = s.seq + static_cast<std::uint32_t>(l4.size() - doff) + (s.syn() ? 1 : 0) + (s.fin() ? 1 : 0);
  return s;
}

// Linux's tcp_options: window scale and SACK-permitted from a SYN.
void read_options(std::span<const std::byte> opts, TcpWindow& w) {
  w.td_scale = 0;
  w.flags &= kTcpFlagBeLiberal;
  std::size_t i = 0;
  while (i < opts.size()) {
    const std::uint8_t kind = wire::load_u8(opts, i);
    if (kind == 0) return;  // end of options
    if (kind == 1) {        // no-op
      ++i;
      continue;
    }
    if (i + 1 >= opts.size()) return;
    const std::uint8_t len = wire::load_u8(opts, i + 1);
    if (len < 2 || len > opts.size() - i) return;  // silly or partial
    if (kind == 4 && len == 2) w.flags |= kTcpFlagSackPerm;
    if (kind == 3 && len == 3) {
      w.td_scale = std::min<std::uint8_t>(wire::load_u8(opts, i + 2), 14);  // RFC 7323's most
      w.flags |= kTcpFlagWindowScale;
    }
    i += len;
  }
}

// Linux's tcp_sack: the highest right edge a SACK option acknowledges.
void read_sack(std::span<const std::byte> opts, std::uint32_t& sack) {
  std::size_t i = 0;
  while (i < opts.size()) {
    const std::uint8_t kind = wire::load_u8(opts, i);
    if (kind == 0) return;
    if (kind == 1) {
      ++i;
      continue;
    }
    if (i + 1 >= opts.size()) return;
    const std::uint8_t len = wire::load_u8(opts, i + 1);
    if (len < 2 || len > opts.size() - i) return;
    if (kind == 5 && len >= 10 && (len - 2) % 8 == 0) {
      for (std::size_t b = i + 2; b < i + len; b += 8) {
        const std::uint32_t right = wire::load_be32(opts, b + 4);
        if (after(right, sack)) sack = right;
      }
      return;
    }
    i += len;
  }
}

// Linux's tcp_new: the first datagram of an entry. False: it starts nothing.
bool tcp_new(Entry& ct, const Segment& s, const Sysctl& sysctl) {
  const std::uint8_t next = kStates[0][index_of(s)][sNO];
  if (next >= sIV) return false;
  ct.tcp = TcpTrack{};
  TcpWindow& w = ct.tcp.seen[0];
  w.td_end = s.end;
  w.td_maxwin = std::max<std::uint32_t>(s.win, 1);
  if (next == sSS) {
    w.td_maxend = s.end;
    read_options(s.options, w);
    return true;
  }
  if (sysctl.value(SysctlId::nf_conntrack_tcp_loose) == 0) return false;  // no pick-up
  // Mid-stream: the history is lost; trust the windows until both sides spoke.
  w.td_maxend = s.end + w.td_maxwin;
  ct.tcp.seen[0].flags = ct.tcp.seen[1].flags = kTcpFlagSackPerm | kTcpFlagBeLiberal;
  return true;
}

enum class WindowVerdict { accept, ignore, invalid };

WindowVerdict out_of_window(const TcpWindow& sender, const Sysctl& sysctl, WindowVerdict v) {
  const bool liberal = (sender.flags & kTcpFlagBeLiberal) != 0 || sysctl.value(SysctlId::nf_conntrack_tcp_be_liberal) != 0;
  return liberal ? WindowVerdict::accept : v;
}

std::uint32_t max_ack_window(const TcpWindow& sender) { return std::max(sender.td_maxwin, kMaxAckWinConst); }

// Linux's tcp_in_window.
WindowVerdict in_window(TcpTrack& state, Dir dir, TcpIndex index, const Segment& s, const Sysctl& sysctl) {
  TcpWindow& sender = state.seen[conntrack::index(dir)];
  TcpWindow& receiver = state.seen[conntrack::index(opposite(dir))];
  std::uint32_t seq = s.seq, ack = s.ack, sack = s.ack, end = s.end;
  std::uint32_t win = s.win;
  if ((receiver.flags & kTcpFlagSackPerm) != 0) read_sack(s.options, sack);

  if (sender.td_maxwin == 0) {
    if (s.syn()) {
      // The SYN-ACK answering a SYN, or the reply's SYN of a simultaneous open.
      sender.td_end = sender.td_maxend = end;
      sender.td_maxwin = std::max<std::uint32_t>(win, 1);
      read_options(s.options, sender);
      // RFC 7323: scaling only when both sides offered it.
      if ((sender.flags & kTcpFlagWindowScale) == 0 || (receiver.flags & kTcpFlagWindowScale) == 0) {
        sender.td_scale = receiver.td_scale = 0;
      }
      if (!s.ackf()) return WindowVerdict::accept;  // simultaneous open
    } else {
      // Mid-stream in this direction: take what the segment says.
      sender.td_end = end;
      const std::uint32_t swin = win << sender.td_scale;
      sender.td_maxwin = swin == 0 ? 1 : swin;
      sender.td_maxend = end + sender.td_maxwin;
      if (receiver.td_maxwin == 0) {
        receiver.td_end = receiver.td_maxend = sack;
      } else if (sack == receiver.td_end + 1) {
        ++receiver.td_end;  // likely the answer to a keepalive
      }
    }
  } else if (s.syn() && after(end, sender.td_end) &&
             (state.state == TcpCtState::syn_sent || state.state == TcpCtState::syn_recv)) {
    // A reinitialised connection with higher sequence numbers (RFC 793).
    sender.td_end = sender.td_maxend = end;
    sender.td_maxwin = std::max<std::uint32_t>(win, 1);
    read_options(s.options, sender);
  }

  if (!s.ackf() || (s.rst() && ack == 0)) {
    // No ACK (or a broken stack's RST with ACK 0): take it as acknowledging all.
    ack = sack = receiver.td_end;
  }
  if (s.rst() && seq == 0 && state.state == TcpCtState::syn_sent) seq = end = sender.td_end;  // RST answering a SYN

  bool seq_ok = before(seq, sender.td_maxend + 1);
  if (!seq_ok) {
    // Tolerate a sender that overshoots the receiver's window by what it allowed before.
    const std::uint32_t overshot = end - sender.td_maxend + 1;
    const bool ack_ok = after(sack, receiver.td_end - max_ack_window(sender) - 1);
    const bool in_recv_win = receiver.td_maxwin != 0 && after(end, sender.td_end - receiver.td_maxwin - 1);
    if (in_recv_win && ack_ok && overshot <= receiver.td_maxwin && before(sack, receiver.td_end + 1)) {
      sender.td_maxend += overshot;
      seq_ok = true;
    }
  }
  if (!seq_ok) return out_of_window(sender, sysctl, WindowVerdict::invalid);  // over the upper bound
  if (!before(sack, receiver.td_end + 1)) {
    return out_of_window(sender, sysctl, WindowVerdict::invalid);  // ACKs data not sent yet
  }
  const bool in_recv_win = receiver.td_maxwin == 0 || after(end, sender.td_end - receiver.td_maxwin - 1);
  if (!in_recv_win) return out_of_window(sender, sysctl, WindowVerdict::ignore);  // already ACKed data again
  if (!after(sack, receiver.td_end - max_ack_window(sender) - 1)) {
    return out_of_window(sender, sysctl, WindowVerdict::ignore);  // an overly delayed ACK
  }

  if (!s.syn()) win <<= sender.td_scale;
  const std::uint32_t swin = win + (sack - ack);
  sender.td_maxwin = std::max(sender.td_maxwin, swin);
  if (after(end, sender.td_end)) {
    sender.td_end = end;
    sender.flags |= kTcpFlagDataUnacked;
  }
  if (s.ackf()) {
    if ((sender.flags & kTcpFlagMaxackSet) == 0) {
      sender.td_maxack = ack;
      sender.flags |= kTcpFlagMaxackSet;
    } else if (after(ack, sender.td_maxack)) {
      sender.td_maxack = ack;
    }
  }
  if (receiver.td_maxwin != 0 && after(end, sender.td_maxend)) receiver.td_maxwin += end - sender.td_maxend;
  if (after(sack + win, receiver.td_maxend - 1)) {
    receiver.td_maxend = sack + win;
    if (win == 0) ++receiver.td_maxend;
  }
  if (ack == receiver.td_end) receiver.flags &= ~kTcpFlagDataUnacked;

  if (index == kAckSet) {
    const auto d = static_cast<std::uint8_t>(dir);
    if (state.last_dir == d && state.last_seq == seq && state.last_ack == ack && state.last_end == end &&
        state.last_win == s.win) {
      if (state.retrans < 255) ++state.retrans;
    } else {
      state.last_dir = d;
      state.last_seq = seq;
      state.last_ack = ack;
      state.last_end = end;
      state.last_win = s.win;
      state.retrans = 0;
    }
  }
  return WindowVerdict::accept;
}

bool can_early_drop(TcpCtState s) {
  switch (s) {
    case TcpCtState::fin_wait:
    case TcpCtState::last_ack:
    case TcpCtState::time_wait:
    case TcpCtState::close:
    case TcpCtState::close_wait:
      return true;
    default:
      return false;
  }
}

// What the state machine decided before the window is judged.
enum class Step { window, accept_unchanged, invalid, repeat, skip_window };

// The special cases of nf_conntrack_tcp_packet around the table: reopening,
// resynchronising after an ignored SYN, simultaneous open, challenge ACKs,
// RSTs. May change `next`.
Step special_cases(Entry& ct, Dir dir, TcpIndex index, const Segment& s, std::uint8_t old_state,
                   std::uint8_t& next, TrackContext& ctx) {
  TcpTrack& t = ct.tcp;
  const auto d = static_cast<std::uint8_t>(dir);
  switch (next) {
    case sSS:
      if (old_state < sTW) return Step::window;
      // A SYN in TIME_WAIT or CLOSE reopens (RFC 1122 4.2.2.13) only when
      // the old connection closed or was reset: forget it and start anew.
      if (((t.seen[0].flags | t.seen[1].flags) & kTcpFlagCloseInit) != 0 ||
          (t.last_dir == d && t.last_index == kRstSet)) {
        ctx.table.kill(ct);
        return Step::repeat;
      }
      [[fallthrough]];
    case sIG:
      if (index == kSynAckSet && t.last_index == kSynSet && t.last_dir != d && s.ack == t.last_end) {
        // The SYN-ACK answers a SYN we ignored: both ends agree, so do we.
        old_state = sSS;
        next = sSR;
        TcpWindow& w = t.seen[t.last_dir];
        w.td_end = w.td_maxend = t.last_end;
        w.td_maxwin = std::max<std::uint32_t>(t.last_win, 1);
        w.td_scale = t.last_wscale;
        w.flags = t.last_flags & (kTcpFlagWindowScale | kTcpFlagSackPerm);
        t.seen[d] = TcpWindow{};
        return Step::window;
      }
      t.last_index = index;
      t.last_dir = d;
      t.last_seq = s.seq;
      t.last_end = s.end;
      t.last_win = s.win;
      if (index == kSynSet && dir == Dir::original) {
        // Remember the SYN's options in case the other end answers it.
        TcpWindow seen;
        read_options(s.options, seen);
        t.last_flags = seen.flags & (kTcpFlagWindowScale | kTcpFlagSackPerm);
        t.last_wscale = seen.td_scale;
        if (old_state == sLA) t.last_flags |= kTcpFlagChallengeAck;
      }
      return Step::accept_unchanged;
    case sIV:
      return Step::invalid;
    case sTW:
      if (old_state == sLA && index == kAckSet && t.last_dir != d && t.last_index == kSynSet &&
          (t.last_flags & kTcpFlagChallengeAck) != 0) {
        // A challenge ACK (RFC 5961) answering a SYN: not the last ACK.
        t.last_flags &= ~kTcpFlagChallengeAck;
        return Step::accept_unchanged;
      }
      return Step::window;
    case sS2:
      t.last_flags |= kTcpFlagSimOpen;
      return Step::window;
    case sSR:
      if (dir == Dir::reply && index == kAckSet && (t.last_flags & kTcpFlagSimOpen) != 0) next = sES;
      return Step::window;
    case sCL: {
      if (index != kRstSet) return Step::window;
      if (can_early_drop(t.state)) return Step::skip_window;
      const TcpWindow& other = t.seen[1 - d];
      if ((other.flags & kTcpFlagMaxackSet) != 0) {
        if (before(s.seq, other.td_maxack)) return Step::invalid;  // an RST below what was acknowledged
        const bool established = t.state == TcpCtState::established;
        if (established && s.seq != other.td_maxack &&
            !(t.last_index == kAckSet && t.last_dir == d && s.seq == t.last_end)) {
          next = old_state;  // not exactly in sequence: keep the state, a challenge ACK may follow
        }
      }
      if (((ct.test(kStatusSeenReply) && t.last_index == kSynSet) ||
           (!ct.test(kStatusAssured) && t.last_index == kAckSet)) &&
          s.ack == t.last_end) {
        return Step::accept_unchanged;  // the RST answers a segment we let through unjudged
      }
      return Step::window;
    }
    default:
      return Step::window;
  }
}

Clock::duration timeout_for(const Entry& ct, TcpIndex index, std::uint8_t next, const Sysctl& sysctl) {
  const auto of = [&](SysctlId id) { return timeout(sysctl, id); };
  const Clock::duration state_timeout = of(kStateTimeouts[next]);
  const Clock::duration retrans = of(SysctlId::nf_conntrack_tcp_timeout_max_retrans);
  const Clock::duration unack = of(SysctlId::nf_conntrack_tcp_timeout_unacknowledged);
  const TcpTrack& t = ct.tcp;
  if (t.retrans >= kTcpMaxRetrans && state_timeout > retrans) return retrans;
  if (index == kRstSet) return of(SysctlId::nf_conntrack_tcp_timeout_close);
  if (((t.seen[0].flags | t.seen[1].flags) & kTcpFlagDataUnacked) != 0 && state_timeout > unack) return unack;
  if (t.last_win == 0 && state_timeout > retrans) return retrans;
  return state_timeout;
}

// Linux's nf_tcp_handle_invalid: an assured connection whose FIN or RST
// fell outside the window does not keep its long timeout.
void shorten_after_invalid(Entry& ct, TcpIndex index, TrackContext& ctx) {
  if (!ct.test(kStatusAssured) || (index != kFinSet && index != kRstSet)) return;
  const Clock::time_point limit = ctx.now + timeout(ctx.sysctl, SysctlId::nf_conntrack_tcp_timeout_unacknowledged);
  ct.expires = std::min(ct.expires, limit);
}

}  // namespace

const char* to_string(TcpCtState s) {
  static constexpr const char* kNames[] = {"NONE",       "SYN_SENT", "SYN_RECV",  "ESTABLISHED", "FIN_WAIT",
                                           "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE",       "SYN_SENT2"};
  const auto i = static_cast<std::size_t>(s);
  return i < std::size(kNames) ? kNames[i] : "UNKNOWN";
}

L4Verdict tcp_packet(Entry& ct, const Datagram& d, CtInfo info, TrackContext& ctx) {
  auto s = parse(d);
  if (!s) return L4Verdict::invalid;
  if (!ct.confirmed() && !tcp_new(ct, *s, ctx.sysctl)) return L4Verdict::invalid;

  const Dir dir = direction(info);
  const TcpIndex index = index_of(*s);
  const auto old_state = static_cast<std::uint8_t>(ct.tcp.state);
  std::uint8_t next = kStates[conntrack::index(dir)][index][old_state];
  switch (special_cases(ct, dir, index, *s, old_state, next, ctx)) {
    case Step::invalid:
      return L4Verdict::invalid;
    case Step::repeat:
      return L4Verdict::repeat;
    case Step::accept_unchanged:
      return L4Verdict::accept;
    case Step::window:
      switch (in_window(ct.tcp, dir, index, *s, ctx.sysctl)) {
        case WindowVerdict::ignore:
          return L4Verdict::accept;
        case WindowVerdict::invalid:
          shorten_after_invalid(ct, index, ctx);
          return L4Verdict::invalid;
        case WindowVerdict::accept:
          break;
      }
      break;
    case Step::skip_window:
      break;
  }

  TcpTrack& t = ct.tcp;
  t.last_index = index;
  t.last_dir = static_cast<std::uint8_t>(dir);
  t.state = static_cast<TcpCtState>(next);
  if (old_state != next && next == sFW) t.seen[conntrack::index(dir)].flags |= kTcpFlagCloseInit;

  Clock::duration extra = timeout_for(ct, index, next, ctx.sysctl);
  if (!ct.test(kStatusSeenReply)) {
    if (s->rst()) {
      // Only an RST came back: no connection was ever made. Gone now.
      ctx.table.kill(ct);
      return L4Verdict::accept;
    }
    // A retransmitted SYN does not renew the entry (a port reused forever would keep it).
    if (index == kSynSet && old_state == sSS) return L4Verdict::accept;
    const Clock::duration unack = timeout(ctx.sysctl, SysctlId::nf_conntrack_tcp_timeout_unacknowledged);
    if (next == sES && extra > unack) extra = unack;  // picked up mid-stream, unanswered
  } else if (!ct.test(kStatusAssured) && (old_state == sSR || old_state == sES) && next == sES) {
    ct.status |= kStatusAssured;  // the handshake completed, or a picked-up flow was answered
  }
  ct.expires = ctx.now + extra;
  return L4Verdict::accept;
}

}  // namespace netns::conntrack
