// IP options, as net/ipv4/ip_options.c: compile on input, echo in replies,
// build on output, update when forwarding. Offsets follow Linux's: the
// pointer of Record Route, Timestamp and source routes counts from the
// option's first byte, starting at 1 (RFC 791), so the slot it names starts at
// option[pointer - 1].
#include "ipv4/options.hpp"

#include <algorithm>

#include "netns/wire/bytes.hpp"
#include "netns/wire/ipv4.hpp"

namespace netns::ipv4 {

namespace {

using wire::Ipv4OptionType;
using wire::Ipv4TimestampFlag;

constexpr std::size_t kFixedHeader = 20;

std::uint8_t byte_at(std::span<const std::byte> bytes, std::size_t at) { return wire::load_u8(bytes, at); }
void set_byte(std::span<std::byte> bytes, std::size_t at, std::size_t v) {
  wire::store_u8(bytes, at, static_cast<std::uint8_t>(v));
}
Ipv4TimestampFlag ts_flag(std::uint8_t flags_byte) {
  return Ipv4TimestampFlag{static_cast<std::uint8_t>(flags_byte & 0x0f)};
}

// ip_options_compile over one header: each option checked in Linux's order
// and filled in; the first fault ends the walk with the byte to blame. It
// walks the bytes itself rather than with wire::Ipv4OptionReader because
// End of List rewrites what follows it.
class Compiler {
 public:
  Compiler(std::span<std::byte> header, const OptionContext& ctx) : h_(header), ctx_(ctx) {}

  CompiledOptions run() {
    CompiledOptions out;
    out.options.optlen = static_cast<std::uint8_t>(h_.size() - kFixedHeader);
    opt_ = &out.options;
    std::size_t at = kFixedHeader;
    while (at < h_.size()) {
      const auto type = Ipv4OptionType{byte_at(h_, at)};
      if (type == Ipv4OptionType::end_of_list) {
        // Whatever follows End of List becomes End of List too.
        for (std::size_t i = at + 1; i < h_.size(); ++i) set_byte(h_, i, 0);
        break;
      }
      if (type == Ipv4OptionType::no_operation) {
        ++at;
        continue;
      }
      const std::size_t left = h_.size() - at;
      const std::size_t len = left >= 2 ? byte_at(h_, at + 1) : 0;
      if (len < 2 || len > left) return fail(out, at);
      if (auto blame = compile_one(type, at, len)) return fail(out, *blame);
      at += len;
    }
    return out;
  }

 private:
  static CompiledOptions fail(CompiledOptions& out, std::size_t at) {
    out.problem = static_cast<std::uint8_t>(at);
    return out;
  }

  // The option at header[at, at + len): nullopt when fine, else the offset to blame.
  std::optional<std::size_t> compile_one(Ipv4OptionType type, std::size_t at, std::size_t len) {
    const auto offset = static_cast<std::uint8_t>(at);
    switch (type) {
      case Ipv4OptionType::loose_source_route:
      case Ipv4OptionType::strict_source_route:
        if (len < 3) return at + 1;
        if (byte_at(h_, at + 2) < 4) return at + 2;
        if (opt_->srr != 0) return at;  // RFC 1812 5.2.4.1: one source route
        opt_->is_strictroute = type == Ipv4OptionType::strict_source_route;
        opt_->srr = offset;
        return std::nullopt;
      case Ipv4OptionType::record_route:
        return record_route(at, len);
      case Ipv4OptionType::timestamp:
        return timestamp(at, len);
      case Ipv4OptionType::router_alert:
        if (len < 4) return at + 1;
        if (byte_at(h_, at + 2) == 0 && byte_at(h_, at + 3) == 0) opt_->router_alert = offset;
        return std::nullopt;
      case Ipv4OptionType::cipso:
        // No CIPSO domain of interpretation is ever configured here, so
        // Linux's cipso_v4_validate finds none and blames the DOI field.
        if (cipso_seen_) return at;
        cipso_seen_ = true;
        return len < 6 ? at + 1 : at + 2;
      default:
        return std::nullopt;  // security, stream id and unknown options pass untouched
    }
  }

  std::optional<std::size_t> record_route(std::size_t at, std::size_t len) {
    if (opt_->rr != 0) return at;
    if (len < 3) return at + 1;
    const std::size_t pointer = byte_at(h_, at + 2);
    if (pointer < 4) return at + 2;
    if (pointer <= len) {
      if (pointer + 3 > len) return at + 2;
      wire::store_ipv4(h_, at + pointer - 1, ctx_.spec_dst);
      set_byte(h_, at + 2, pointer + 4);
      opt_->rr_needaddr = true;
    }
    opt_->rr = static_cast<std::uint8_t>(at);
    return std::nullopt;
  }

  std::optional<std::size_t> timestamp(std::size_t at, std::size_t len) {
    if (opt_->ts != 0) return at;
    if (len < 4) return at + 1;
    const std::size_t pointer = byte_at(h_, at + 2);
    if (pointer < 5) return at + 2;
    const std::uint8_t flags = byte_at(h_, at + 3);
    if (pointer <= len) {
      if (pointer + 3 > len) return at + 2;
      std::optional<std::size_t> time_at;
      switch (ts_flag(flags)) {
        case Ipv4TimestampFlag::timestamps_only:
          time_at = at + pointer - 1;
          opt_->ts_needtime = true;
          set_byte(h_, at + 2, pointer + 4);
          break;
        case Ipv4TimestampFlag::with_addresses:
          if (pointer + 7 > len) return at + 2;
          wire::store_ipv4(h_, at + pointer - 1, ctx_.spec_dst);
          time_at = at + pointer + 3;
          opt_->ts_needaddr = opt_->ts_needtime = true;
          set_byte(h_, at + 2, pointer + 8);
          break;
        case Ipv4TimestampFlag::prespecified:
          if (pointer + 7 > len) return at + 2;
          // Only the host the next pair names stamps it.
          if (!ctx_.is_unicast(wire::load_ipv4(h_, at + pointer - 1))) {
            time_at = at + pointer + 3;
            opt_->ts_needtime = true;
            set_byte(h_, at + 2, pointer + 8);
          }
          break;
        default:
          break;  // an unknown flag: kept as it is
      }
      if (time_at) wire::store_be32(h_, *time_at, ctx_.timestamp);
    } else if (ts_flag(flags) != Ipv4TimestampFlag::prespecified) {
      const unsigned overflow = flags >> 4;
      if (overflow == 15) return at + 3;
      set_byte(h_, at + 3, (flags & 0x0fu) | (overflow + 1) << 4);
    }
    opt_->ts = static_cast<std::uint8_t>(at);
    return std::nullopt;
  }

  std::span<std::byte> h_;
  const OptionContext& ctx_;
  ReceivedOptions* opt_ = nullptr;
  bool cipso_seen_ = false;
};

// Appends a copy of the option at header[at] to `out`; its offset in the
// header the reply will have.
std::size_t copy_option(SentOptions& out, std::span<const std::byte> header, std::size_t at) {
  const std::size_t len = byte_at(header, at + 1);
  std::copy_n(header.begin() + static_cast<std::ptrdiff_t>(at), len, out.bytes.begin() + out.optlen);
  const std::size_t where = out.optlen;
  out.optlen = static_cast<std::uint8_t>(out.optlen + len);
  return where;
}

bool echo_timestamp(SentOptions& out, std::span<const std::byte> header, const ReceivedOptions& received,
                    const OptionContext& ctx) {
  const std::size_t len = byte_at(header, received.ts + 1);
  std::size_t pointer = byte_at(header, received.ts + 2);
  const std::size_t d = copy_option(out, header, received.ts);
  out.ts = static_cast<std::uint8_t>(kFixedHeader + d);
  if (pointer > len) return true;  // full: echoed as it is, overflow counted
  if (received.ts_needaddr) {
    if (pointer + 3 > len) return false;
    out.ts_needaddr = true;
    pointer += 4;
  }
  if (received.ts_needtime) {
    if (pointer + 3 > len) return false;
    if (ts_flag(byte_at(header, received.ts + 3)) != Ipv4TimestampFlag::prespecified) {
      out.ts_needtime = true;
      pointer += 4;
    } else if (pointer + 7 <= len && !ctx.is_unicast(wire::load_ipv4(header, received.ts + pointer - 1))) {
      out.ts_needtime = true;
      pointer += 8;
    }
  }
  out.bytes[d + 2] = std::byte(static_cast<std::uint8_t>(pointer));
  return true;
}

// The source route reversed: the hops this datagram visited, last first; the
// first of them is where the reply goes, and the final slot (left for
// build_options) takes the original sender.
void echo_source_route(SentOptions& out, std::span<const std::byte> header, const ReceivedOptions& received) {
  const std::size_t start = received.srr;
  const std::size_t len = byte_at(header, start + 1);
  std::size_t pointer = std::min<std::size_t>(byte_at(header, start + 2), len + 1);
  if (pointer < 8) return;  // nothing visited yet (pointer - 4 <= 3)
  pointer -= 4;
  const std::size_t d = out.optlen;
  const Ipv4Address faddr = wire::load_ipv4(header, start + pointer - 1);
  std::size_t written = 4;
  for (pointer -= 4; pointer > 3; pointer -= 4, written += 4) {
    std::copy_n(header.begin() + static_cast<std::ptrdiff_t>(start + pointer - 1), 4,
                out.bytes.begin() + static_cast<std::ptrdiff_t>(d + written - 1));
  }
  // RFC 1812 5.2.4.1: a route whose first hop is the sender itself is illegal; drop that hop.
  if (wire::load_ipv4(header, start + pointer + 3) == wire::load_ipv4(header, 12)) written -= 4;
  if (written <= 3) return;
  out.faddr = faddr;
  out.bytes[d] = header[start];
  out.bytes[d + 1] = std::byte(static_cast<std::uint8_t>(written + 3));
  out.bytes[d + 2] = std::byte{4};
  out.srr = static_cast<std::uint8_t>(kFixedHeader + d);
  out.optlen = static_cast<std::uint8_t>(d + written + 3);
  out.is_strictroute = received.is_strictroute;
}

}  // namespace

CompiledOptions compile_received_options(std::span<std::byte> header, const OptionContext& ctx) {
  return Compiler(header, ctx).run();
}

std::optional<SentOptions> echo_options(std::span<const std::byte> header, const ReceivedOptions& received,
                                        const OptionContext& ctx) {
  SentOptions out;
  if (received.optlen == 0) return out;
  if (received.rr != 0) {
    const std::size_t len = byte_at(header, received.rr + 1);
    const std::size_t pointer = byte_at(header, received.rr + 2);
    const std::size_t d = copy_option(out, header, received.rr);
    out.rr = static_cast<std::uint8_t>(kFixedHeader + d);
    if (received.rr_needaddr && pointer <= len) {
      if (pointer + 3 > len) return std::nullopt;
      out.bytes[d + 2] = std::byte(static_cast<std::uint8_t>(pointer + 4));
      out.rr_needaddr = true;
    }
  }
  if (received.ts != 0 && !echo_timestamp(out, header, received, ctx)) return std::nullopt;
  if (received.srr != 0) echo_source_route(out, header, received);
  while (out.optlen % 4 != 0) out.bytes[out.optlen++] = std::byte{0};  // End of List
  return out;
}

void build_options(std::span<std::byte> header, const SentOptions& options, Ipv4Address final_destination,
                   Ipv4Address source, std::uint32_t timestamp) {
  if (options.srr != 0) {
    wire::store_ipv4(header, options.srr + byte_at(header, options.srr + 1) - 4, final_destination);
  }
  if (options.rr_needaddr) wire::store_ipv4(header, options.rr + byte_at(header, options.rr + 2) - 5, source);
  if (options.ts_needaddr) wire::store_ipv4(header, options.ts + byte_at(header, options.ts + 2) - 9, source);
  if (options.ts_needtime) wire::store_be32(header, options.ts + byte_at(header, options.ts + 2) - 5, timestamp);
}

bool forward_options(std::span<std::byte> header, const ReceivedOptions& received, Ipv4Address out_source) {
  if (received.rr_needaddr) {
    wire::store_ipv4(header, received.rr + byte_at(header, received.rr + 2) - 5, out_source);
  }
  if (!received.srr_is_hit) return true;
  const std::size_t start = received.srr;
  const std::size_t len = byte_at(header, start + 1);
  std::size_t pointer = byte_at(header, start + 2);
  for (; pointer <= len && pointer + 3 <= len; pointer += 4) {
    if (wire::load_ipv4(header, start + pointer - 1) == received.nexthop) break;
  }
  if (pointer + 3 > len) return false;
  wire::store_ipv4(header, 16, received.nexthop);
  wire::store_ipv4(header, start + pointer - 1, out_source);
  set_byte(header, start + 2, pointer + 4);
  if (received.ts_needaddr) wire::store_ipv4(header, received.ts + byte_at(header, received.ts + 2) - 9, out_source);
  return true;
}

}  // namespace netns::ipv4
