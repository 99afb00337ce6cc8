// HostGroup: one Host per core, each polled by a thread of its own
// (netns/host_group.hpp).
#include "netns/host_group.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <latch>
#include <utility>

namespace netns {

namespace {

// Best effort: a CPU the process may not use leaves the thread unpinned.
void pin_to_cpu(std::size_t index) {
  const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<int>(index % cpus), &set);
  (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

}  // namespace

HostGroup::HostGroup(HostGroupConfig config) : config_(std::move(config)) {
  hosts_.reserve(config_.hosts);
  for (std::size_t i = 0; i < config_.hosts; ++i) {
    HostConfig c = config_.host;
    if (c.secret) *c.secret += i;
    hosts_.push_back(std::make_unique<Host>(std::move(c)));
  }
}

HostGroup::~HostGroup() {
  stop();
  while (!hosts_.empty()) hosts_.pop_back();
}

void HostGroup::start() {
  if (running()) return;
  epoch_ = std::chrono::steady_clock::now();
  threads_.reserve(hosts_.size());
  for (std::size_t i = 0; i < hosts_.size(); ++i) {
    threads_.emplace_back([this, i](std::stop_token stop) { drive(stop, i); });
  }
}

void HostGroup::stop() {
  for (std::jthread& t : threads_) t.request_stop();
  threads_.clear();  // joins
}

// Busy: a polled device's frames come without a descriptor to wait on.
// An idle round yields the CPU to whatever else wants it.
void HostGroup::drive(std::stop_token stop, std::size_t index) {
  if (config_.pin_threads) pin_to_cpu(index);
  Host& host = *hosts_[index];
  while (!stop.stop_requested()) {
    const Clock::time_point now = Clock::time_point{} + (std::chrono::steady_clock::now() - epoch_);
    if (host.poll(now) > now) std::this_thread::yield();
  }
}

std::optional<std::size_t> HostGroup::index_of(const Host& host) const {
  for (std::size_t i = 0; i < hosts_.size(); ++i) {
    if (hosts_[i].get() == &host) return i;
  }
  return std::nullopt;
}

void HostGroup::run_on(std::size_t index, const std::function<void(Host&)>& fn) {
  Host& h = host(index);
  if (!running()) {
    fn(h);
    return;
  }
  std::latch done(1);
  h.post([&] {
    fn(h);
    done.count_down();
  });
  done.wait();
}

void HostGroup::run_on_all(const std::function<void(Host&)>& fn) {
  if (!running()) {
    for (auto& h : hosts_) fn(*h);
    return;
  }
  std::latch done(static_cast<std::ptrdiff_t>(hosts_.size()));
  for (auto& h : hosts_) {
    h->post([&fn, &done, host = h.get()] {
      fn(*host);
      done.count_down();
    });
  }
  done.wait();
}

}  // namespace netns
