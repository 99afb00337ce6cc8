#include "netfilter/hooks.hpp"

#include <algorithm>

#include "netns/packet.hpp"
#include "netns/rx_scheduler.hpp"

namespace netns::netfilter {

HookTable::HookTable(RxScheduler* rx, HookMask* mask) : rx_(rx), mask_(mask) {}

HookTable::~HookTable() {
  if (rx_ != nullptr && prefetches(Hook::prerouting)) rx_->count_lookahead(-1);
}

Verdict HookTable::run(Hook h, Packet& packet, const HookState& state) {
  const Entries& entries = *hooks_[index(h)];
  ++running_;
  Verdict verdict = Verdict::accept;
  for (const HookOps& ops : entries) {
    verdict = ops.fn(ops.priv, packet, state);
    if (verdict != Verdict::accept) break;
  }
  if (--running_ == 0 && !retired_.empty()) [[unlikely]] retired_.clear();
  return verdict;
}

void HookTable::prefetch(Hook h, Net& net, std::span<const std::byte> datagram) const {
  for (const HookOps& ops : *hooks_[index(h)]) {
    if (ops.prefetch != nullptr) ops.prefetch(ops.priv, net, datagram);
  }
}

Result<void> HookTable::add(Hook h, const HookOps& ops) {
  if (ops.fn == nullptr) return error(Errc::invalid_argument);
  const Entries* current = hooks_[index(h)].get();
  if (current != nullptr && current->size() >= kMaxHookEntries) return error(Errc::argument_list_too_long);
  auto next = std::make_unique<Entries>(current != nullptr ? *current : Entries{});
  // After the entries of the same priority: registration order breaks ties (nf_hook_entries_grow).
  auto at = std::upper_bound(next->begin(), next->end(), ops.priority,
                             [](int priority, const HookOps& e) { return priority < e.priority; });
  next->insert(at, ops);
  replace(h, std::move(next));
  return {};
}

void HookTable::remove(Hook h, const HookOps& ops) {
  const Entries* current = hooks_[index(h)].get();
  if (current == nullptr) return;
  auto found = std::find(current->begin(), current->end(), ops);
  if (found == current->end()) return;
  std::unique_ptr<Entries> next;
  if (current->size() > 1) {
    next = std::make_unique<Entries>(*current);
    next->erase(next->begin() + (found - current->begin()));
  }
  replace(h, std::move(next));
}

void HookTable::exchange(Hook h, const HookOps& from, const HookOps& to) {
  const Entries* current = hooks_[index(h)].get();
  if (current == nullptr) return;
  auto found = std::find(current->begin(), current->end(), from);
  if (found == current->end()) return;
  auto next = std::make_unique<Entries>(*current);
  (*next)[static_cast<std::size_t>(found - current->begin())] = to;
  replace(h, std::move(next));
}

std::size_t HookTable::size(Hook h) const {
  const Entries* current = hooks_[index(h)].get();
  return current != nullptr ? current->size() : 0;
}

void HookTable::replace(Hook h, std::unique_ptr<const Entries> next) {
  std::unique_ptr<const Entries>& slot = hooks_[index(h)];
  if (running_ > 0) retired_.push_back(std::move(slot));
  const bool was = prefetches(h);
  const bool now =
      next != nullptr && std::any_of(next->begin(), next->end(), [](const HookOps& e) { return e.prefetch != nullptr; });
  prefetching_.set(h, now);
  if (rx_ != nullptr && h == Hook::prerouting && was != now) rx_->count_lookahead(was ? -1 : 1);
  if (mask_ != nullptr) mask_->set(h, next != nullptr);
  slot = std::move(next);
}

}  // namespace netns::netfilter
