// FragmentTable's members (inet/reassembly.hpp), included by the .cpp of
// each family, which instantiates its table.
#pragma once

#include <algorithm>
#include <chrono>

#include "inet/reassembly.hpp"
#include "netns/host.hpp"
#include "netns/net.hpp"
#include "netns/sysctl.hpp"

namespace netns::inet {

namespace detail {
// Memory charged besides a fragment's buffer, so that queues of tiny
// fragments are not free: roughly a map node.
inline constexpr std::size_t kFragmentOverhead = 64;
}  // namespace detail

template <class Key, class Hash, class Extra>
FragmentTable<Key, Hash, Extra>::FragmentTable(Net& net, Hash hash, const ReassemblyNames& names,
                                               std::function<void(Packet)> on_timeout)
    : net_(&net),
      host_(&net.host()),
      names_(names),
      on_timeout_(std::move(on_timeout)),
      queues_(16, std::move(hash)),
      memory_(net.resources()) {}

template <class Key, class Hash, class Extra>
auto FragmentTable<Key, Hash, Extra>::add(const Key& key, Packet fragment, const FragmentInfo& f) -> Queue* {
  auto it = queues_.find(key);
  Queue* q = it == queues_.end() ? nullptr : it->second.get();
  // A fragment that carries no data discards the datagram it names.
  if (f.end == f.offset) {
    drop(key);
    return nullptr;
  }
  switch (q == nullptr ? FragmentQueue::Fit::fits : q->fit(f)) {
    case FragmentQueue::Fit::fits:
      break;
    case FragmentQueue::Fit::duplicate:
      return nullptr;
    case FragmentQueue::Fit::overlap:
      if (names_.overlaps) net_->counters().add(*names_.overlaps);
      [[fallthrough]];
    case FragmentQueue::Fit::invalid:
      drop(key);
      return nullptr;
  }
  const std::size_t cost = fragment.truesize() + detail::kFragmentOverhead + (q == nullptr ? sizeof(Queue) : 0);
  if (!admits(q, cost)) return nullptr;
  if (q == nullptr) q = &create(key);
  q->insert(f, std::move(fragment), cost);
  memory_ += cost;
  return q;
}

// The table's bounds, then the namespace's packet memory; counts a refusal.
template <class Key, class Hash, class Extra>
bool FragmentTable<Key, Hash, Extra>::admits(const Queue* q, std::size_t cost) {
  Counters& counters = net_->counters();
  const auto high_thresh = static_cast<std::size_t>(std::max<std::int32_t>(0, net_->sysctl().value(names_.high_thresh)));
  if (memory_ + cost > high_thresh || (q == nullptr && queues_.size() >= kMaxFragmentQueues)) {
    counters.add(names_.fails);
    return false;
  }
  if (!memory_.account().admits(cost)) {
    counters.add(Counter::IpExtPacketMemDrops);
    counters.add(names_.fails);
    return false;
  }
  return true;
}

template <class Key, class Hash, class Extra>
auto FragmentTable<Key, Hash, Extra>::create(const Key& key) -> Queue& {
  auto queue = std::make_unique<Queue>(*host_, [this, key] { expire(key); }, key);
  queue->timer().schedule(host_->now() + std::chrono::seconds(net_->sysctl().value(names_.time)));
  return *queues_.emplace(key, std::move(queue)).first->second;
}

template <class Key, class Hash, class Extra>
void FragmentTable<Key, Hash, Extra>::drop(const Key& key) {
  if (auto it = queues_.find(key); it != queues_.end()) erase(it);
  net_->counters().add(names_.fails);
}

template <class Key, class Hash, class Extra>
void FragmentTable<Key, Hash, Extra>::done(Queue& q) {
  const Key key = q.key;  // erasing destroys q
  erase(queues_.find(key));
  net_->counters().add(names_.oks);
}

template <class Key, class Hash, class Extra>
void FragmentTable<Key, Hash, Extra>::erase(typename QueueMap::iterator it) {
  memory_ -= it->second->memory();
  queues_.erase(it);
}

// Linux's ip_expire and ip6_frag_expire. `key` is a copy: the lambda holding
// the original is destroyed with the queue.
template <class Key, class Hash, class Extra>
void FragmentTable<Key, Hash, Extra>::expire(Key key) {
  auto it = queues_.find(key);
  if (it == queues_.end()) return;
  net_->counters().add(names_.fails);
  net_->counters().add(names_.timeout);
  Packet first;
  if (it->second->has_first()) first = it->second->take_first();
  erase(it);  // destroys the timer running this call; timer.cpp allows that
  if (first && on_timeout_) on_timeout_(std::move(first));
}

}  // namespace netns::inet
