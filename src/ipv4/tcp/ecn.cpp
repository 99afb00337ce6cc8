// Explicit Congestion Notification (RFC 3168) as Linux's tcp_ecn_*:
//
//   - negotiation: a SYN asks with ECE|CWR (net.ipv4.tcp_ecn 1), a SYN-ACK
//     agrees with ECE alone; a listener agrees whenever tcp_ecn is not 0
//     (Linux's default 2: accept when asked, never ask);
//   - the sender marks new data ECT(0), never pure ACKs nor
//     retransmissions (RFC 3168 6.1.5), and sets CWR on the first new data
//     after it reduced its window;
//   - the receiver that sees CE echoes ECE on every segment until a CWR
//     arrives;
//   - the sender reduces its window once per window of data on ECE
//     (tcp_enter_cwr; the reduction itself is PRR, recovery.cpp).
#include "ipv4/tcp/connection.hpp"

namespace netns::tcp {

using wire::Ecn;
using wire::kTcpAck;
using wire::kTcpCwr;
using wire::kTcpEce;
using wire::kTcpSyn;

bool Connection::ecn_requested(Net& net, const Segment& syn) {
  // tcp_ecn_create_request: a SYN that is itself ECT cannot be from an
  // RFC 3168 sender, unless the reserved bits say it knows more (AccECN).
  if (!syn.has(kTcpEce) || !syn.has(kTcpCwr)) return false;
  if (net.sysctl().value(SysctlId::tcp_ecn) == 0) return false;
  return syn.ecn == Ecn::not_ect || syn.reserved != 0;
}

void Connection::ecn_start_active() {
  ecn_flags_ = net().sysctl().value(SysctlId::tcp_ecn) == 1 ? kEcnOk : 0;
}

void Connection::ecn_start_passive(const Segment& syn) {
  ecn_flags_ = ecn_requested(net(), syn) ? kEcnOk : 0;
}

void Connection::ecn_process_synack(const Segment& seg) {
  // Agreement is ECE without CWR; ECE|CWR is a SYN's request reflected.
  if ((ecn_flags_ & kEcnOk) != 0 && (!seg.has(kTcpEce) || seg.has(kTcpCwr))) ecn_flags_ &= ~kEcnOk;
}

void Connection::ecn_process_syn(const Segment& seg) {
  if ((ecn_flags_ & kEcnOk) != 0 && (!seg.has(kTcpEce) || !seg.has(kTcpCwr))) ecn_flags_ &= ~kEcnOk;
}

Ecn Connection::ecn_mark_slow(wire::TcpRepr& repr, std::uint32_t len) {
  if ((ecn_flags_ & kEcnOk) == 0) return Ecn::not_ect;
  if ((repr.flags & kTcpSyn) != 0) {
    if ((repr.flags & kTcpAck) != 0) {
      repr.flags |= kTcpEce;  // tcp_ecn_make_synack
    } else if (retries_ == 0 || net().sysctl().value(SysctlId::tcp_ecn_fallback) == 0) {
      // A SYN that went unanswered may have been dropped for asking
      // (tcp_ecn_clear_syn): its retransmissions ask no more.
      repr.flags |= kTcpEce | kTcpCwr;
    }
    return Ecn::not_ect;
  }
  // tcp_ecn_send: only new data is ECT. A retransmission may be the answer
  // to a CE mark, and an ACK is not under congestion control.
  Ecn ecn = Ecn::not_ect;
  if (len != 0 && !seq_lt(repr.seq_number, snd_nxt_)) {
    ecn = Ecn::ect0;
    if ((ecn_flags_ & kEcnQueueCwr) != 0) {
      ecn_flags_ &= ~kEcnQueueCwr;
      repr.flags |= kTcpCwr;
    }
  }
  if ((ecn_flags_ & kEcnDemandCwr) != 0) repr.flags |= kTcpEce;
  return ecn;
}

bool Connection::ecn_check_ce(const Segment& seg) {
  // tcp_ecn_check_ce; true asks for an ACK at once (Linux's quick ACKs).
  switch (seg.ecn) {
    case Ecn::not_ect:
      // Not ECT after ECT: probably a retransmission, so the sender is
      // waiting for this ACK.
      return (ecn_flags_ & kEcnSeen) != 0;
    case Ecn::ce: {
      const bool first = (ecn_flags_ & kEcnDemandCwr) == 0;
      ecn_flags_ |= kEcnDemandCwr | kEcnSeen;
      return first;  // a congested sender may have a very small window
    }
    default:
      ecn_flags_ |= kEcnSeen;
      return false;
  }
}

bool Connection::ecn_accept_cwr(const Segment& seg) {
  if (!seg.has(kTcpCwr)) return false;
  ecn_flags_ &= ~kEcnDemandCwr;
  // The sender just reduced its window, perhaps to one segment: ACK at once.
  return !seg.payload.empty();
}

void Connection::enter_cwr() {
  // tcp_enter_cwr: a reduction that no D-SACK or timestamp may undo, and
  // none while one is under way.
  prior_ssthresh_ = 0;
  if (ca_state_ < CaState::cwr) {
    undo_marker_.reset();
    init_cwnd_reduction();
    ca_state_ = CaState::cwr;
  }
}

}  // namespace netns::tcp
