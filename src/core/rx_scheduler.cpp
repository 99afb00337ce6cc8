// RxScheduler: the ready list, the polled devices, NAPI turns and the ethertype table.
#include "netns/rx_scheduler.hpp"

#include <algorithm>
#include <optional>

#include "netns/wire/ethernet.hpp"

namespace netns {

// ---- the ethertype table ----

Result<void> RxScheduler::add_packet_handler(std::uint16_t ethertype, PacketHandler& handler) {
  for (auto& [type, h] : handlers_) {
    if (type == ethertype) return error(Errc::file_exists);
  }
  handlers_.emplace_back(ethertype, &handler);
  return {};
}

void RxScheduler::remove_packet_handler(std::uint16_t ethertype) {
  std::erase_if(handlers_, [&](const auto& e) { return e.first == ethertype; });
}

// ---- polled devices ----

void RxScheduler::attach(Device& dev) {
  if (!dev.polled()) return;
  polled_.push_back(&dev);
  ++polled_version_;
}

void RxScheduler::detach(Device& dev) {
  if (std::erase(polled_, &dev) != 0) ++polled_version_;
}

// ---- the ready list ----

void RxScheduler::add_ready(Device& dev) {
  detail::RxHook& hook = dev.rx_hook_;
  hook.ready_ = true;
  hook.next_ = nullptr;
  hook.prev_ = ready_tail_;
  if (ready_tail_ != nullptr) ready_tail_->rx_hook_.next_ = &dev;
  else ready_head_ = &dev;
  ready_tail_ = &dev;
}

void RxScheduler::remove_ready(Device& dev) {
  detail::RxHook& hook = dev.rx_hook_;
  if (!hook.ready_) return;
  if (hook.prev_ != nullptr) hook.prev_->rx_hook_.next_ = hook.next_;
  else ready_head_ = hook.next_;
  if (hook.next_ != nullptr) hook.next_->rx_hook_.prev_ = hook.prev_;
  else ready_tail_ = hook.prev_;
  hook.prev_ = hook.next_ = nullptr;
  hook.ready_ = false;
}

void RxScheduler::drop_backlog(Device& dev) {
  detail::RxHook& hook = dev.rx_hook_;
  dev.stats_.rx_dropped += hook.backlog_.size();
  hook.backlog_.clear();
  remove_ready(dev);
}

// ---- one round of Host::poll ----

std::size_t RxScheduler::process_backlogs(std::size_t budget) {
  std::size_t done = 0;
  while (done < budget && ready_head_ != nullptr) {
    Device* dev = ready_head_;
    remove_ready(*dev);
    detail::RxHook& hook = dev->rx_hook_;
    // A lone frame has nothing behind it to look ahead to (many busy
    // namespaces hand over one frame a turn: the question would cost them
    // a miss each), and frames an rx handler takes (a bridge port's) go
    // elsewhere.
    const bool ahead = looks_ahead() && hook.backlog_.size() > 1 && dev->rx_handler_ == nullptr &&
                       prefetches(dev->net());
    if (ahead) {
      for (std::size_t i = 0; i < kPrefetchDistance; ++i) prefetch(*dev, hook.backlog_.peek(i));
    }
    std::size_t turn = 0;
    while (turn < kWeight && done < budget && !dev->unregistering_) {
      if (ahead) prefetch(*dev, hook.backlog_.peek(kPrefetchDistance));
      std::optional<Packet> frame = hook.backlog_.pop();
      if (!frame) break;
      ++turn;
      ++done;
      deliver_frame(*dev, std::move(*frame));
    }
    if (!dev->unregistering_ && !hook.backlog_.empty() && !hook.ready_) add_ready(*dev);
  }
  return done;
}

std::size_t RxScheduler::poll_devices(std::size_t budget) {
  // Frames delivered at once may destroy a polled device (a handler tearing
  // something down), which leaves the list: walk by index, and a device that
  // moved up the list waits for the next round.
  std::size_t done = 0;
  for (std::size_t i = 0; i < polled_.size() && done < budget; ++i) {
    Device* dev = polled_[i];
    if (dev->is_up()) done += dev->poll_rx(std::min(kWeight, budget - done));
  }
  return done;
}

void RxScheduler::flush_devices() {
  for (std::size_t i = 0; i < polled_.size(); ++i) polled_[i]->flush_tx();
}

// ---- look-ahead ----

bool RxScheduler::prefetches(Net& net) const {
  return std::any_of(handlers_.begin(), handlers_.end(), [&](const auto& h) { return h.second->prefetches(net); });
}

void RxScheduler::prefetch(Device& dev, const Packet* frame) const {
  if (frame == nullptr) return;
  auto eth = wire::EthernetView::checked(frame->data());
  if (!eth) return;
  if (PacketHandler* handler = handler_of(static_cast<std::uint16_t>(eth->ethertype()))) {
    handler->prefetch(dev.net(), dev, frame->data());
  }
}

PacketHandler* RxScheduler::handler_of(std::uint16_t ethertype) const {
  for (const auto& [type, handler] : handlers_) {
    if (type == ethertype) return handler;
  }
  return nullptr;
}

// ---- delivery ----

void RxScheduler::deliver_frame(Device& dev, Packet&& frame) {
  auto eth = wire::EthernetView::checked(frame.data());
  if (!eth) {
    ++dev.stats_.rx_length_errors;
    ++dev.stats_.rx_errors;
    return;
  }
  frame.device = &dev;
  if (dev.observed_) [[unlikely]] dev.observe(frame, FrameDirection::rx);
  if (dev.rx_handler_ != nullptr) {
    if (dev.rx_handler_->handle_frame(dev, frame) == RxResult::consumed) return;
    // A handler that passes may still have unshared the bytes: look again.
    eth = wire::EthernetView::checked(frame.data());
    if (!eth) return;
  }
  // eth_type_trans: classify by destination, strip the header, dispatch by ethertype.
  MacAddress dst = eth->dst();
  auto ethertype = static_cast<std::uint16_t>(eth->ethertype());
  if (dst.is_broadcast()) frame.type = PacketType::broadcast;
  else if (dst.is_multicast()) frame.type = PacketType::multicast;
  else if (dst == dev.mac()) frame.type = PacketType::host;
  else frame.type = PacketType::otherhost;
  frame.protocol = ethertype;
  frame.pull_front(wire::EthernetView::kHeaderLen);
  if (PacketHandler* handler = handler_of(ethertype)) {
    handler->process(dev.net(), dev, std::move(frame));
    return;
  }
  ++dev.stats_.rx_nohandler;
}

}  // namespace netns
