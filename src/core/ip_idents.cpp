// Linux's ip_idents_reserve and __ip_select_ident, one table per Host.
#include "core/ip_idents.hpp"

#include <bit>

namespace netns {

namespace {
// Linux starts jiffies 300 s before wrapping (INITIAL_JIFFIES), so a bucket
// never used has "old" 0 and its first increment is random over nearly the
// whole 32-bit range: its first ID tells nothing. Ticks here start there too.
constexpr std::uint32_t kInitialTicks = static_cast<std::uint32_t>(-300 * 250);
}  // namespace

IpIdents::IpIdents(std::uint64_t host_secret)
    : hash_key_(SipKey::derive(host_secret, kSipPurposeIpIdent)),
      random_key_(SipKey::derive(host_secret, kSipPurposeIpIdentRng)),
      buckets_(std::make_unique<std::array<Bucket, kBuckets>>()),
      memo_(std::make_unique<std::array<Memo, kMemoSlots>>()) {}

std::uint32_t IpIdents::ticks(Clock::time_point now) {
  return kInitialTicks + static_cast<std::uint32_t>(now.time_since_epoch() / kTick);
}

std::uint32_t IpIdents::bucket_of(std::uint64_t addresses, std::uint64_t flow) {
  constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15;
  constexpr int kShift = 64 - std::countr_zero(kMemoSlots);  // the top bits index the slots
  Memo& m = (*memo_)[((addresses ^ flow * kGolden) * kGolden) >> kShift];
  if (m.addresses != addresses || m.flow != flow) {
    m = {addresses, flow, static_cast<std::uint32_t>(siphash13_words(hash_key_, addresses, flow) % kBuckets)};
  }
  return m.bucket;
}

std::uint32_t IpIdents::random_below(std::uint32_t bound) {
  // Lemire's multiply-shift (get_random_u32_below without its rejection
  // step: a bias below 2^-32 is of no use to anyone here).
  return static_cast<std::uint32_t>((random64() & 0xffff'ffffu) * bound >> 32);
}

std::uint16_t IpIdents::select(std::uint32_t net_id, Ipv4Address dst, Ipv4Address src, std::uint8_t protocol,
                               Clock::time_point now, std::uint32_t segs) {
  const std::uint64_t addresses = std::uint64_t{dst.value} << 32 | src.value;
  const std::uint64_t flow = std::uint64_t{net_id} << 8 | protocol;
  Bucket& b = (*buckets_)[bucket_of(addresses, flow)];
  const std::uint32_t tick = ticks(now);
  std::uint32_t delta = 0;
  if (b.stamp != tick) {
    delta = random_below(tick - b.stamp);
    b.stamp = tick;
  }
  const std::uint32_t id = b.id + delta;
  b.id = id + segs;
  return static_cast<std::uint16_t>(id);
}

}  // namespace netns
