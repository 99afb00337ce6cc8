// ipv4/options.hpp — IP options (RFC 791) as Linux handles them
// (net/ipv4/ip_options.c).
//
// A received header with options is checked and, where Record Route and
// Timestamp have room, filled in as the datagram passes this host
// (ip_options_compile); a reply echoes them, with room for this host once
// more and a source route reversed (ip_options_echo); output fills that room
// (ip_options_build); forwarding records the outgoing address and follows a
// source route (ip_forward_options). Whether a source route is honoured at
// all (accept_source_route) is the input path's decision.
//
//   OptionContext ctx{.spec_dst = dst, .timestamp = stack.timestamp_now(net), .is_unicast = ...};
//   auto compiled = compile_received_options(header, ctx);      // header: the IP header, writable
//   if (compiled.problem) send parameter problem, pointer *compiled.problem;
//   auto reply = echo_options(header, compiled.options, ctx);    // nullopt: Linux sends no reply
//   ... build_options(reply_header, *reply, reply_source, ctx.timestamp);
//
// Data plane only: nothing here allocates or fails upward.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "netns/address.hpp"

namespace netns::ipv4 {

// Where the options of a received header are and what passing this host did
// to them (Linux's struct ip_options of an input skb). Offsets count from the
// start of the IP header; 0 means absent.
struct ReceivedOptions {
  std::uint8_t optlen = 0;
  std::uint8_t srr = 0, rr = 0, ts = 0, router_alert = 0;
  bool is_strictroute = false;
  bool rr_needaddr = false;   // Record Route had room and this host recorded itself
  bool ts_needaddr = false;   // Timestamp with addresses had room
  bool ts_needtime = false;   // Timestamp had room (for a prespecified one: this host was named)
  bool srr_is_hit = false;    // the source route sends the datagram on to `nexthop`
  Ipv4Address nexthop;
};

// What filling options needs from the input path.
struct OptionContext {
  // The address this host records (Linux's fib_compute_spec_dst: the
  // destination when it is ours, else the source of the route back).
  Ipv4Address spec_dst;
  // Milliseconds since midnight UTC, or with the high bit set when the Host
  // does not know UTC (Ipv4Stack::timestamp_now).
  std::uint32_t timestamp = 0;
  // inet_addr_type(addr) == RTN_UNICAST: not one of this namespace's local or
  // broadcast addresses, nor multicast, limited broadcast or 0.0.0.0.
  std::function<bool(Ipv4Address)> is_unicast;
};

struct CompiledOptions {
  ReceivedOptions options;
  // The byte to blame, counted from the start of the IP header, when the
  // options are malformed: the pointer of ICMP parameter problem.
  std::optional<std::uint8_t> problem;
};

// ip_options_compile for a received datagram: `header` is its whole IP header
// (20 bytes and the options), writable; Record Route and Timestamp with room
// get spec_dst and the time, and their pointers move on; a full Timestamp
// counts one more overflow.
CompiledOptions compile_received_options(std::span<std::byte> header, const OptionContext& ctx);

// Options of a datagram this host sends (Linux's struct ip_options of an
// output skb): the bytes to put after the fixed header and what output fills.
struct SentOptions {
  std::array<std::byte, 40> bytes{};
  std::uint8_t optlen = 0;                 // a multiple of 4
  std::uint8_t srr = 0, rr = 0, ts = 0;    // offsets from the start of the IP header, 0: absent
  bool rr_needaddr = false, ts_needaddr = false, ts_needtime = false;
  bool is_strictroute = false;
  // With a source route: the first hop, where the datagram is sent (its
  // header's destination); the final destination goes in the route's last slot.
  Ipv4Address faddr;

  std::span<const std::byte> data() const { return std::span(bytes).first(optlen); }
};

// ip_options_echo: the options a reply to the datagram whose header input
// processed (`header`, `received`) carries; nullopt when Linux sends no reply
// (a Record Route or Timestamp left with room for part of an entry).
std::optional<SentOptions> echo_options(std::span<const std::byte> header, const ReceivedOptions& received,
                                        const OptionContext& ctx);

// ip_options_build: `header` is an outgoing header already carrying
// `options` at offset 20; fills what they left for this host: the final
// destination in a source route's last slot, `source` in Record Route and
// Timestamp's address, the time.
void build_options(std::span<std::byte> header, const SentOptions& options, Ipv4Address final_destination,
                   Ipv4Address source, std::uint32_t timestamp);

// ip_forward_options: in a forwarded datagram's header, Record Route's slot
// that input filled gets `out_source` (the address of the outgoing route);
// with srr_is_hit, the source route records `out_source` where it names the
// next hop, the header's destination becomes the next hop, and a Timestamp
// with addresses records `out_source` too. Returns false when the next hop
// is not in the route any more (Linux: "Destination lost"; the datagram goes
// on unchanged). The caller refreshes the checksum.
bool forward_options(std::span<std::byte> header, const ReceivedOptions& received, Ipv4Address out_source);

}  // namespace netns::ipv4
