// Runner: polls a Host from an Asio executor. A steady_timer waits for the
// deadline poll returned; a posted poll follows when work remains; the
// reactor watches the descriptors of polled devices (TAP); nothing else is
// armed while the Host is idle.
#include <fcntl.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include "netns/asio.hpp"
#include "netns/host.hpp"

namespace netns::asio {

struct Runner::Impl : std::enable_shared_from_this<Impl> {
  Impl(Host& h, executor_type ex) : host(&h), executor(std::move(ex)) { timer.emplace(executor); }

  // Any thread. A poll already posted and not yet started absorbs this one.
  void request_poll() {
    if (poll_pending.exchange(true, std::memory_order_acq_rel)) return;
    boost::asio::post(executor, [self = shared_from_this()] { self->run_poll(); });
  }

  // On the executor from here on.
  void run_poll() {
    // Cleared first: a wake during this poll (another thread's post) must
    // still get a poll of its own.
    poll_pending.store(false, std::memory_order_release);
    if (!running.load(std::memory_order_acquire)) return;
    polls.fetch_add(1, std::memory_order_relaxed);
    // Waits are armed before the poll reads, so a frame arriving after the
    // read found nothing still wakes us (the reactor is edge-triggered).
    (void)sync_watches();
    Clock::time_point next = host->poll(Clock::now());
    if (!running.load(std::memory_order_acquire)) return;  // stopped from inside poll
    // A device made or brought up during the poll was armed only now: what
    // it received before that needs a poll of its own.
    if (sync_watches()) next = host->now();
    schedule(next);
  }

  void schedule(Clock::time_point next) {
    if (busy.load(std::memory_order_relaxed) || unwaitable || next <= host->now()) {
      // Budget exhausted (or busy polling): again soon, but after the
      // handlers already queued, so the application is not starved.
      request_poll();
      return;
    }
    if (next == Clock::time_point::max()) {
      disarm();
      return;
    }
    if (next == armed) return;  // the pending wait already covers it
    armed = next;
    const std::uint64_t generation = ++timer_generation;
    timer->expires_at(next);  // cancels the previous wait, if any
    timer_waits.fetch_add(1, std::memory_order_relaxed);
    timer->async_wait([self = shared_from_this(), generation](const ErrorCode& ec) {
      // A superseded wait may have fired before it was cancelled: only the
      // latest one polls.
      if (ec || generation != self->timer_generation) return;
      self->armed = Clock::time_point::max();
      self->run_poll();
    });
  }

  void disarm() {
    if (armed == Clock::time_point::max()) return;
    armed = Clock::time_point::max();
    ++timer_generation;
    if (timer) timer->cancel();
  }

  // ---- descriptors of polled devices ----

  // A wait on a device's rx_fd(), through a dup of it: the reactor owns the
  // copy, so it never closes the device's own descriptor.
  struct Watch {
    Device* dev;
    std::unique_ptr<boost::asio::posix::stream_descriptor> descriptor;
    bool armed = false;
  };

  // Rewatches when the Host's polled devices changed, then arms the wait of
  // every device that can receive. True when it armed any.
  bool sync_watches() {
    if (watched_version != host->polled_devices_version()) rewatch();
    bool armed_any = false;
    for (std::size_t i = 0; i < watches.size(); ++i) armed_any |= arm(i);
    // Only a device that is up gets polled, so only then is it busy-polled.
    unwaitable = std::any_of(unwatched.begin(), unwatched.end(), [](Device* d) { return d->is_up(); });
    return armed_any;
  }

  void rewatch() {
    unwatch();
    watched_version = host->polled_devices_version();
    for (Device* dev : host->polled_devices()) {
      const int fd = dev->rx_fd();
      const int copy = fd < 0 ? -1 : ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
      if (copy < 0) {
        unwatched.push_back(dev);  // nothing to wait on (a DPDK port): busy-polled
        continue;
      }
      watches.push_back({dev, std::make_unique<boost::asio::posix::stream_descriptor>(executor, copy)});
    }
  }

  // Closes every copy; pending waits end with operation_aborted and, being
  // of an older generation, do nothing.
  void unwatch() {
    ++watch_generation;
    watches.clear();
    unwatched.clear();
    unwaitable = false;
    watched_version.reset();
  }

  // A device that is down (or lost its interface) is not waited for: its
  // descriptor may stay readable, and poll does not read it.
  bool arm(std::size_t index) {
    Watch& watch = watches[index];
    if (watch.armed || !watch.dev->is_running()) return false;
    watch.armed = true;
    watch.descriptor->async_wait(
        boost::asio::posix::stream_descriptor::wait_read,
        [self = shared_from_this(), generation = watch_generation, index](const ErrorCode& ec) {
          if (ec || generation != self->watch_generation) return;
          self->watches[index].armed = false;
          self->descriptor_wakeups.fetch_add(1, std::memory_order_relaxed);
          self->run_poll();
        });
    return true;
  }

  Host* host;
  executor_type executor;
  std::vector<Watch> watches;
  std::optional<std::uint64_t> watched_version;  // Host::polled_devices_version() watched
  std::uint64_t watch_generation = 0;
  std::vector<Device*> unwatched;  // polled devices without a descriptor
  bool unwaitable = false;         // one of them is up
  std::optional<boost::asio::steady_timer> timer;
  Clock::time_point armed = Clock::time_point::max();  // the deadline the timer waits for
  std::uint64_t timer_generation = 0;
  std::atomic<bool> running{false};
  std::atomic<bool> busy{false};
  std::atomic<bool> poll_pending{false};
  std::atomic<std::uint64_t> polls{0}, timer_waits{0}, wakes{0}, descriptor_wakeups{0};
};

Runner::Runner(Host& host, executor_type executor)
    : impl_(std::make_shared<Impl>(host, std::move(executor))) {}

Runner::~Runner() {
  stop();
  // The timer and the descriptors go now, while their io_context surely
  // exists; handlers still queued hold the Impl but see running == false
  // (or an old watch generation) and touch nothing.
  impl_->timer.reset();
}

void Runner::start() {
  impl_->running.store(true, std::memory_order_release);
  impl_->request_poll();
}

void Runner::stop() {
  impl_->running.store(false, std::memory_order_release);
  impl_->disarm();
  // The copies of device descriptors would keep destroyed TAPs' Linux
  // interfaces alive; start() watches afresh.
  impl_->unwatch();
}

bool Runner::running() const { return impl_->running.load(std::memory_order_acquire); }

void Runner::wake() {
  impl_->wakes.fetch_add(1, std::memory_order_relaxed);
  if (!impl_->running.load(std::memory_order_acquire)) return;  // start() polls anyway
  impl_->request_poll();
}

void Runner::post(std::function<void()> fn) {
  impl_->host->post(std::move(fn));
  wake();
}

void Runner::set_busy_poll(bool on) {
  impl_->busy.store(on, std::memory_order_relaxed);
  if (on) wake();
}

bool Runner::busy_poll() const { return impl_->busy.load(std::memory_order_relaxed); }

Host& Runner::host() const { return *impl_->host; }

Runner::executor_type Runner::get_executor() const { return impl_->executor; }

RunnerStats Runner::stats() const {
  return {.polls = impl_->polls.load(std::memory_order_relaxed),
          .timer_waits = impl_->timer_waits.load(std::memory_order_relaxed),
          .wakes = impl_->wakes.load(std::memory_order_relaxed),
          .descriptor_wakeups = impl_->descriptor_wakeups.load(std::memory_order_relaxed)};
}

}  // namespace netns::asio
