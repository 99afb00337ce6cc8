// nft/eval.hpp — nft_do_chain: one compiled base chain run on one datagram.
//
// Rules run in order; a rule's checks load a field from the header at a
// fixed offset (the transport's found once per datagram, IPv6 extension
// headers walked as ipv6_find_hdr does) and compare it. A field the
// datagram does not have — a port of another protocol, any transport field
// of a non-first fragment, `ip saddr` of an IPv6 datagram in an inet
// table, an interface at a hook without one, `ct status` of an untracked
// datagram — ends the rule unmatched, `!=` included, as the kernel's
// NFT_BREAK. Actions run in order; a verdict or reject ends the run.
// `jump` pushes on a stack of 16 (NFT_JUMP_STACK_SIZE), `goto` does not,
// the end of a chain or `return` pops, and the end of the base chain is its
// policy. A drop (policy, `drop`, `reject`) counts in the deciding chain's
// ChainCell.
#pragma once

#include <cstdint>
#include <string>

#include "netfilter/hooks.hpp"
#include "netns/clock.hpp"
#include "nft/compile.hpp"

namespace netns {
class Packet;
}

namespace netns::nft {

// What `log` may write per namespace (net_ratelimit's budget: a burst of
// 10 lines, then one per 5 s / 10); lines over it are counted and the next
// line that passes says how many were suppressed, as printk does.
struct LogLimiter {
  static constexpr std::int64_t kBurst = 10;
  static constexpr std::int64_t kInterval = 5'000'000'000;  // ns per kBurst lines
  std::int64_t tokens = kBurst * (kInterval / kBurst);
  Clock::time_point last{};
  bool primed = false;
  std::uint64_t suppressed = 0;
  bool allow(Clock::time_point now);
};

netfilter::Verdict do_chain(const Compiled& compiled, std::uint32_t chain, Packet& packet,
                            const netfilter::HookState& state, LogLimiter& log);

// The line `log` writes for `packet` at `state`, in nf_log's format
// (nf_log_ip_packet / nf_log_ip6_packet): "<prefix>IN=… OUT=… MAC=… SRC=…".
std::string format_log(const Packet& packet, const netfilter::HookState& state, const Log& log);

}  // namespace netns::nft
