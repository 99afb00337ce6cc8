// netem, in the order Linux's netem_enqueue applies it: loss, duplication,
// corruption, then delay with jitter, where a frame picked for reordering
// skips the delay and overtakes the ones held.
#include "core/link_faults.hpp"
#include "core/splitmix.hpp"

#include <algorithm>

#include "netns/host.hpp"
#include "netns/wire/ethernet.hpp"

namespace netns {

namespace {
bool later(const auto& a, const auto& b) { return a.at > b.at || (a.at == b.at && a.order > b.order); }
}  // namespace

LinkFaultState::LinkFaultState(Device& dev, const LinkFaults& faults)
    : dev_(dev), faults_(faults), rng_(faults.seed), timer_(dev.net().host(), [this] { release(); }) {}

double LinkFaultState::uniform() {
  // splitmix64: a few instructions, and the same seed gives the same faults.
  std::uint64_t z = splitmix64_mix(rng_ += kSplitmixIncrement);
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

void LinkFaultState::transmit(Packet frame) {
  if (faults_.loss > 0 && uniform() < faults_.loss) {
    ++dev_.stats_.tx_dropped;
    return;
  }
  if (faults_.duplicate > 0 && uniform() < faults_.duplicate) {
    send(frame.share(), true);  // the same bytes twice: no copy
  }
  if (faults_.corrupt > 0 && uniform() < faults_.corrupt) corrupt(frame);
  send(std::move(frame), true);
}

void LinkFaultState::corrupt(Packet& frame) {
  // As netem does with offloaded checksums: fill it first, so the flipped
  // bit is caught by the receiver's check.
  frame.finish_transport_checksum(wire::EthernetView::kHeaderLen);
  // One bit anywhere in the frame, as netem's corrupt flips one bit.
  auto bytes = frame.mutable_data();  // unshares a duplicated frame (a counted copy)
  if (bytes.empty()) return;
  std::size_t bit = static_cast<std::size_t>(uniform() * static_cast<double>(bytes.size() * 8));
  bytes[bit / 8] ^= std::byte(1u << (bit % 8));
}

void LinkFaultState::send(Packet frame, bool may_reorder) {
  using std::chrono::duration_cast;
  if (faults_.delay.count() == 0 && faults_.jitter.count() == 0) {
    dev_.xmit_observed(std::move(frame));
    return;
  }
  if (may_reorder && faults_.reorder > 0 && uniform() < faults_.reorder) {
    dev_.xmit_observed(std::move(frame));  // netem's reorder: this one goes now, ahead of those held
    return;
  }
  if (held_.size() >= kLimit) {
    ++dev_.stats_.tx_dropped;
    return;
  }
  auto jitter = duration_cast<Clock::duration>(faults_.jitter);
  auto offset = duration_cast<Clock::duration>(jitter * (2 * uniform() - 1));
  auto delay = std::max(Clock::duration::zero(), duration_cast<Clock::duration>(faults_.delay) + offset);
  held_.push_back({dev_.net().host().now() + delay, order_++, std::move(frame)});
  std::push_heap(held_.begin(), held_.end(), [](const Held& a, const Held& b) { return later(a, b); });
  arm();
}

void LinkFaultState::arm() {
  if (held_.empty()) {
    timer_.cancel();
  } else if (!timer_.pending() || timer_.deadline() != held_.front().at) {
    timer_.schedule(held_.front().at);
  }
}

void LinkFaultState::release() {
  auto now = dev_.net().host().now();
  auto cmp = [](const Held& a, const Held& b) { return later(a, b); };
  while (!held_.empty() && held_.front().at <= now) {
    std::pop_heap(held_.begin(), held_.end(), cmp);
    Packet frame = std::move(held_.back().frame);
    held_.pop_back();
    if (dev_.is_up()) dev_.xmit_observed(std::move(frame));
    else ++dev_.stats_.tx_dropped;
  }
  arm();
}

void LinkFaultState::drop_held() {
  dev_.stats_.tx_dropped += held_.size();
  held_.clear();
  timer_.cancel();
}

Result<void> set_link_faults(Device& dev, const LinkFaults& faults) {
  for (double p : {faults.loss, faults.duplicate, faults.reorder, faults.corrupt}) {
    if (!(p >= 0 && p <= 1)) return error(Errc::invalid_argument);  // NaN fails too
  }
  if (faults.delay.count() < 0 || faults.jitter.count() < 0) return error(Errc::invalid_argument);
  if (dev.unregistering_) return error(Errc::no_such_device);
  bool none = faults.loss == 0 && faults.duplicate == 0 && faults.reorder == 0 && faults.corrupt == 0 &&
              faults.delay.count() == 0 && faults.jitter.count() == 0;
  if (dev.faults_) dev.faults_->drop_held();
  if (none) {
    dev.faults_.reset();
  } else {
    dev.faults_ = std::make_unique<LinkFaultState>(dev, faults);
  }
  return {};
}

}  // namespace netns
