// The fragment queue both IP families reassemble in (inet/reassembly.hpp).
#include "inet/reassembly.hpp"

#include <algorithm>
#include <iterator>

#include "netns/packet_pool.hpp"

namespace netns::inet {

auto FragmentQueue::fit(const FragmentInfo& f) const -> Fit {
  if (!f.more) {
    if (f.end < len_ || (last_in_ && f.end != len_)) return Fit::invalid;
  } else if (last_in_ && f.end > len_) {
    return Fit::invalid;
  }
  auto at = fragments_.upper_bound(f.offset);
  if (at != fragments_.begin() && std::prev(at)->second.end > f.offset) --at;
  if (at == fragments_.end() || at->first >= f.end) return Fit::fits;
  // Walk the held data from f.offset while it runs without a gap.
  std::uint32_t covered = f.offset;
  for (; at != fragments_.end() && at->first <= covered && covered < f.end; ++at) {
    covered = std::max(covered, at->second.end);
  }
  return covered >= f.end ? Fit::duplicate : Fit::overlap;
}

void FragmentQueue::insert(const FragmentInfo& f, Packet fragment, std::size_t cost) {
  fragments_.emplace(f.offset, Fragment{f.end, f.data_at, std::move(fragment)});
  meat_ += f.end - f.offset;
  memory_ += cost;
  ecn_seen_ = static_cast<std::uint8_t>(ecn_seen_ | 1u << (f.ecn & 0x03));
  if (f.offset == 0) first_in_ = true;
  if (!f.more) {
    last_in_ = true;
    len_ = f.end;
  } else {
    len_ = std::max(len_, f.end);
  }
}

std::optional<std::uint8_t> FragmentQueue::combined_ecn() const {
  constexpr std::uint8_t kNotEct = 1, kCe = 8;
  if ((ecn_seen_ & kNotEct) != 0 && ecn_seen_ != kNotEct) return std::nullopt;
  if ((ecn_seen_ & kCe) != 0) return std::uint8_t{0x03};
  return std::uint8_t{0};
}

Packet FragmentQueue::assemble(PacketPool& pool, std::size_t header_len) const {
  Packet whole = pool.allocate(header_len + len_);
  if (!whole) return whole;
  auto out = whole.mutable_data();
  std::size_t max_size = 0;
  for (const auto& [offset, frag] : fragments_) {
    pool.copy_bytes(out.subspan(header_len + offset, frag.end - offset),
                    frag.packet.data().subspan(frag.data_at, frag.end - offset));
    max_size = std::max(max_size, frag.packet.size());
  }
  const Packet& first = fragments_.begin()->second.packet;
  whole.set_frag_max_size(static_cast<std::uint16_t>(max_size));
  whole.device = first.device;
  whole.type = first.type;
  whole.protocol = first.protocol;
  return whole;
}

}  // namespace netns::inet
