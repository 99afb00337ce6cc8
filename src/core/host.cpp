// Host: the namespace list, pernet registration, teardown, and the poll loop.
#include "netns/host.hpp"

#include <algorithm>
#include <cstdio>
#include <random>

#include <fmt/format.h>

#include "core/builtin.hpp"
#include "core/device_internal.hpp"
#include "core/splitmix.hpp"

namespace netns {

namespace {

std::uint64_t random_secret() {
  std::random_device rd;
  return std::uint64_t{rd()} << 32 | rd();
}

// `ip netns add` names become file names: no '/', no NUL, not "." or "..".
bool is_valid_net_name(std::string_view name) {
  if (name == "." || name == "..") return false;
  return name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos &&
         name.size() <= 255;
}

}  // namespace

Host::Host(HostConfig config)
    : config_(std::move(config)),
      secret_(config_.secret ? *config_.secret : random_secret()),
      now_(config_.start),
      packets_(config_.packet_cache) {
  builtins_ = make_builtins(*this);
  for (const BuiltinOps& b : builtin_registration(*builtins_)) {
    auto registered = b.device ? register_pernet_device(*b.ops) : register_pernet_subsys(*b.ops);
    if (!registered) throw std::runtime_error("netns: a built-in subsystem failed to register");
    b.ops->builtin_ = true;
  }
  auto init = create_net();
  if (!init) throw std::runtime_error("netns: cannot create init_net: " + init.error().message());
  init_net_ = std::move(*init);
}

Host::~Host() { teardown_all(); }

// ---- creating namespaces ----

Result<NetRef> Host::create_net(std::string_view name) {
  if (!is_valid_net_name(name)) return error(Errc::invalid_argument);
  if (!name.empty() && find_net(name)) return error(Errc::file_exists);
  if (next_id_ == 0) return error(Errc::too_many_files_open);  // 2^32 ids used: never reuse one
  Net* net = net_pool_.create(*this, next_id_++, name);
  if (auto ok = setup_net(*net); !ok) {
    net_pool_.destroy(net);  // never created, so not counted in nets_freed
    return ok.error();
  }
  net->state_ = Net::State::alive;
  link_net(*net);
  ++nets_created_;
  return NetRef(net);
}

Result<void> Host::setup_net(Net& net) {
  for (std::size_t i = 0; i < ops_.size(); ++i) {
    if (auto ok = ops_[i]->init(net); !ok) {
      while (i-- > 0) ops_[i]->exit(net);  // undo in reverse
      unregister_remaining_devices(net);
      return ok.error();
    }
  }
  return {};
}

void Host::link_net(Net& net) {
  net.prev_ = tail_;
  net.next_ = nullptr;
  if (tail_ != nullptr) tail_->next_ = &net;
  else head_ = &net;
  tail_ = &net;
  if (!net.name_.empty()) names_[net.name_] = &net;
  live_nets_.fetch_add(1, std::memory_order_relaxed);
}

void Host::unlink_net(Net& net) {
  if (net.prev_ != nullptr) net.prev_->next_ = net.next_;
  else head_ = net.next_;
  if (net.next_ != nullptr) net.next_->prev_ = net.prev_;
  else tail_ = net.prev_;
  net.prev_ = net.next_ = nullptr;
  if (!net.name_.empty()) {
    auto it = names_.find(net.name_);
    if (it != names_.end() && it->second == &net) names_.erase(it);
  }
}

NetRef Host::find_net(std::string_view name) {
  if (name.empty()) return {};
  auto it = names_.find(std::string(name));
  if (it == names_.end()) return {};
  return it->second->ref();  // empty when that namespace is already dying
}

// ---- pernet registration ----

Result<void> Host::register_pernet_subsys(PernetOps& ops) { return register_pernet(ops, false); }
Result<void> Host::register_pernet_device(PernetOps& ops) { return register_pernet(ops, true); }

Result<void> Host::register_pernet(PernetOps& ops, bool device) {
  if (ops.host_ != nullptr) return error(Errc::file_exists);
  // Every namespace still on the list gets init, dying ones included: their
  // teardown will run this op's exit like every other's.
  for (Net* net = head_; net != nullptr; net = net->next_) {
    if (auto ok = ops.init(*net); !ok) {
      for (Net* done = net->prev_; done != nullptr; done = done->prev_) ops.exit(*done);
      return ok.error();
    }
  }
  ops.host_ = this;
  if (device) {
    ops_.push_back(&ops);
  } else {
    ops_.insert(ops_.begin() + static_cast<std::ptrdiff_t>(first_device_), &ops);
    ++first_device_;
  }
  return {};
}

void Host::unregister_pernet(PernetOps& ops) {
  auto it = std::find(ops_.begin(), ops_.end(), &ops);
  if (it == ops_.end()) return;
  if (ops.builtin_) {
    // Other built-ins hold references to it for the Host's whole life.
    log("netns: a built-in subsystem cannot be unregistered");
    return;
  }
  if (static_cast<std::size_t>(it - ops_.begin()) < first_device_) --first_device_;
  ops_.erase(it);
  ops.host_ = nullptr;
  for (Net* net = tail_; net != nullptr; net = net->prev_) ops.exit(*net);
}

// ---- teardown ----

void Host::schedule_cleanup(Net& net) {
  // Any thread: Linux's cleanup_list is an llist for the same reason.
  live_nets_.fetch_sub(1, std::memory_order_relaxed);
  queued_nets_.fetch_add(1, std::memory_order_relaxed);
  Net* head = cleanup_head_.load(std::memory_order_relaxed);
  do {
    net.cleanup_next_ = head;
  } while (!cleanup_head_.compare_exchange_weak(head, &net, std::memory_order_release,
                                                std::memory_order_relaxed));
}

void Host::cleanup_dying() {
  // A plain load first: the exchange's locked instruction costs every poll,
  // and nearly every poll finds nothing to clean up.
  if (cleanup_head_.load(std::memory_order_relaxed) == nullptr) return;
  Net* list = cleanup_head_.exchange(nullptr, std::memory_order_acquire);
  if (list == nullptr) return;
  std::vector<Net*> batch;
  for (Net* n = list; n != nullptr; n = n->cleanup_next_) batch.push_back(n);
  std::reverse(batch.begin(), batch.end());  // the order they died in
  for (Net* net : batch) {
    net->state_ = Net::State::dying;
    unlink_net(*net);
  }
  exit_nets(batch);
  for (Net* net : batch) finish_exit(*net);
}

void Host::exit_nets(std::vector<Net*>& batch) {
  // Batched like Linux's cleanup_net: each op runs over the whole batch,
  // device ops first, subsystems last, each list in reverse.
  for (std::size_t i = ops_.size(); i-- > 0;) {
    for (Net* net : batch) ops_[i]->exit(*net);
  }
}

void Host::finish_exit(Net& net) {
  unregister_remaining_devices(net);
  net.state_ = Net::State::exited;
  queued_nets_.fetch_sub(1, std::memory_order_relaxed);
  if (net.hold_count_ == 0) {
    free_net(net);
    return;
  }
  report_leaks(net);
  ++exited_nets_;
}

void Host::unregister_remaining_devices(Net& net) {
  // The device exits destroy every device; anything left is torn down here
  // so no device outlives its namespace.
  while (!net.devices_.empty()) unregister_and_free(*net.devices_.back());
}

void Host::report_leaks(Net& net) {
  leaked_holds_ += net.hold_count_;
  for (NetHold* h = net.holds_; h != nullptr; h = h->next_) {
    log(fmt::format("netns: namespace {} '{}' exited with a hold taken at {}:{} ({})", net.id_,
                    net.name_, h->where_.file_name(), h->where_.line(), h->where_.function_name()));
  }
}

void Host::free_net(Net& net) {
  ++nets_freed_;
  net_pool_.destroy(&net);
}

void Host::teardown_all() {
  {
    std::lock_guard lock(posted_mutex_);
    posted_.clear();  // their captured references go now, before the namespaces
  }
  run_device_todo();
  // Every namespace but init_net first (their tap and dpdk ports go back to
  // init_net), then init_net.
  for (Net* net = head_; net != nullptr; net = net->next_) {
    if (net == init_net_.get() || net->is_dying()) continue;
    log(fmt::format("netns: namespace {} '{}' still has {} references when its Host is destroyed",
                    net->id_, net->name_, net->refs_.load()));
    net->refs_.store(1);
    net->put();
  }
  cleanup_dying();
  init_net_.reset();
  cleanup_dying();
  run_device_todo();
  for (Net* net = head_; net != nullptr; net = net->next_) {
    log(fmt::format("netns: namespace {} was not torn down", net->id_));
  }
  // Ops may outlive this Host and be registered with another one.
  for (PernetOps* ops : ops_) ops->host_ = nullptr;
  ops_.clear();
  builtins_.reset();
}

// ---- devices ----

Result<void> Host::move_device(Device& dev, Net& to, std::string_view new_name) {
  if (dev.netns_local()) return error(Errc::invalid_argument);
  // Another Host's namespaces run on another thread: a device stays in its Host.
  if (&to.host() != this || &dev.net().host() != this) return error(Errc::invalid_argument);
  if (to.is_dying() || to.state_ != Net::State::alive) return error(Errc::invalid_argument);
  return change_net_namespace(dev, to, new_name.empty() ? dev.name() : new_name);
}

void Host::notify(NetdevEvent event, Device& dev) {
  // A listener may remove itself or another one while it hears the event (a
  // capture detaching from a device that goes away): walk a snapshot and skip
  // the ones removed since, so none is skipped and none called after removal.
  const std::vector<NetdevListener*> snapshot = listeners_;
  for (NetdevListener* listener : snapshot) {
    if (std::find(listeners_.begin(), listeners_.end(), listener) != listeners_.end()) {
      listener->on_netdev_event(event, dev);
    }
  }
}

void Host::add_netdev_listener(NetdevListener& listener) { listeners_.push_back(&listener); }

void Host::remove_netdev_listener(NetdevListener& listener) {
  std::erase(listeners_, &listener);
}

void Host::retire_device(std::unique_ptr<Device> dev) {
  // Freed at the end of poll (Linux's netdev_run_todo), so a device destroyed
  // by a handler running on its own frame is not freed under the caller.
  if (polling_) device_todo_.push_back(std::move(dev));
}

void Host::run_device_todo() { device_todo_.clear(); }

// ---- the poll loop ----

void Host::post(std::function<void()> fn) {
  std::lock_guard lock(posted_mutex_);
  posted_.push_back(std::move(fn));
  has_posted_.store(true, std::memory_order_release);
}

void Host::run_posted() {
  if (!has_posted_.load(std::memory_order_acquire)) return;
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(posted_mutex_);
    batch.swap(posted_);
    has_posted_.store(false, std::memory_order_relaxed);
  }
  for (auto& fn : batch) fn();
}

Clock::time_point Host::poll(Clock::time_point now) {
  if (polling_) return now_;  // poll() from inside poll(): the outer call finishes the work
  polling_ = true;
  now_ = std::max(now_, now);
  run_posted();
  packets_.take_home();  // buffers lent to other Hosts that came back
  cleanup_dying();
  std::size_t budget = config_.poll_budget;
  while (budget > 0) {
    ++poll_round_;
    // Timers first: a packet loop between namespaces spends the whole budget
    // in process_backlogs, and must not keep due timers from ever firing.
    std::size_t done = timers_.run_due(now_, budget);
    done += rx_.poll_devices(budget - done);
    done += rx_.process_backlogs(budget - done);
    rx_.flush_devices();
    if (done == 0) break;
    budget -= std::min(done, budget);
  }
  cleanup_dying();
  run_device_todo();
  packets_.send_home();  // other Hosts' buffers let go in this poll
  polling_ = false;
  bool more = rx_.has_backlog() || has_posted_.load(std::memory_order_acquire) ||
              cleanup_head_.load(std::memory_order_acquire) != nullptr ||
              timers_.next_deadline() <= now_;
  return more ? now_ : timers_.next_deadline();
}

// ---- misc ----

HostStats Host::stats() const {
  HostStats s;
  s.live_nets = live_nets_.load(std::memory_order_relaxed);
  s.dying_nets = queued_nets_.load(std::memory_order_relaxed) + exited_nets_;
  s.leaked_holds = leaked_holds_;
  s.packet_copies = packets_.copies();
  s.nets_created = nets_created_;
  s.nets_freed = nets_freed_;
  s.net_objects = net_pool_.live();
  s.packets_in_use = packets_.in_use();
  s.timers_pending = timers_.size();
  return s;
}

void Host::log(std::string_view message) const {
  if (config_.log) {
    config_.log(message);
  } else {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(message.size()), message.data());
  }
}

std::uint64_t Host::next_random() {
  // splitmix64 over the secret: deterministic for a given HostConfig::secret.
  return splitmix64_mix((random_state_ += kSplitmixIncrement) ^ secret_);
}

}  // namespace netns
