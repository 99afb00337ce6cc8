// Net: the device table of one namespace, and its strong and passive references.
#include "netns/net.hpp"

#include <algorithm>
#include <cstddef>
#include <charconv>

#include "netns/host.hpp"

namespace netns {

// ---- NetRef ----

NetRef::NetRef(const NetRef& other) : net_(other.net_) {
  if (net_ != nullptr) net_->refs_.fetch_add(1, std::memory_order_relaxed);
}

NetRef& NetRef::operator=(const NetRef& other) {
  NetRef copy(other);
  *this = std::move(copy);
  return *this;
}

NetRef& NetRef::operator=(NetRef&& other) noexcept {
  if (this != &other) {
    reset();
    net_ = other.net_;
    other.net_ = nullptr;
  }
  return *this;
}

void NetRef::reset() {
  if (Net* net = net_) {
    net_ = nullptr;
    net->put();
  }
}

// ---- NetHold ----

NetHold::NetHold(Net& net, std::source_location where) : where_(where) { link(&net); }

NetHold::NetHold(const NetHold& other) : where_(other.where_) { link(other.net_); }

NetHold::NetHold(NetHold&& other) noexcept : where_(other.where_) {
  // Link first: releasing `other` first would free an exited namespace whose
  // last hold it was, and we would link to freed memory.
  link(other.net_);
  other.reset();
}

NetHold& NetHold::operator=(const NetHold& other) {
  if (this != &other) {
    Net* net = other.net_;
    where_ = other.where_;
    NetHold keep(other);  // other's namespace must not be freed between reset and link
    reset();
    link(net);
  }
  return *this;
}

NetHold& NetHold::operator=(NetHold&& other) noexcept {
  if (this != &other) {
    *this = static_cast<const NetHold&>(other);
    other.reset();
  }
  return *this;
}

void NetHold::link(Net* net) {
  net_ = net;
  if (net == nullptr) return;
  prev_ = nullptr;
  next_ = net->holds_;
  if (next_ != nullptr) next_->prev_ = this;
  net->holds_ = this;
  ++net->hold_count_;
}

void NetHold::unlink() {
  if (prev_ != nullptr) prev_->next_ = next_;
  else net_->holds_ = next_;
  if (next_ != nullptr) next_->prev_ = prev_;
  prev_ = next_ = nullptr;
  --net_->hold_count_;
}

void NetHold::reset() {
  Net* net = net_;
  if (net == nullptr) return;
  unlink();
  net_ = nullptr;
  // The last hold on an exited namespace frees it (release_net after cleanup_net).
  if (net->hold_count_ == 0 && net->state_ == Net::State::exited) {
    --net->host_->exited_nets_;
    net->host_->free_net(*net);
  }
}

NetRef NetHold::lock() const {
  if (net_ == nullptr) return {};
  return net_->ref();
}

// ---- Net ----

Net::Net(Host& host, std::uint32_t id, std::string_view name)
    : host_(&host), id_(id), name_(name) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"  // GCC lays a non-standard-layout class out as any other
  static_assert(offsetof(Net, counters_) + sizeof(void*) <= 64, "the Ip counters' block pointer is in line 0");
#pragma GCC diagnostic pop
  sysctl_.net_ = this;
}

Net::~Net() {
  for (PernetSlotEntry& e : slots_) {
    if (e.object != nullptr) e.destroy(e.object);
  }
}

NetRef Net::ref() {
  // maybe_get_net: never resurrect a namespace whose count reached zero.
  std::uint32_t n = refs_.load(std::memory_order_relaxed);
  while (n != 0) {
    if (refs_.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel)) return NetRef(this);
  }
  return {};
}

void Net::put() {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) host_->schedule_cleanup(*this);
}

PernetSlotEntry& Net::slot(std::size_t id) {
  if (id >= slots_.size()) slots_.resize(id + 1);
  return slots_[id];
}

Device* Net::device(std::string_view name) const {
  for (const auto& d : devices_) {
    if (d->name() == name) return d.get();
  }
  return nullptr;
}

Device* Net::device(int ifindex) const {
  auto it = std::lower_bound(devices_.begin(), devices_.end(), ifindex,
                             [](const std::unique_ptr<Device>& d, int i) { return d->ifindex() < i; });
  return it != devices_.end() && (*it)->ifindex() == ifindex ? it->get() : nullptr;
}

int Net::allocate_ifindex(int preferred) const {
  if (preferred > 0 && device(preferred) == nullptr) return preferred;
  // Like Linux's dev_index_reserve: the next number after the last one handed out.
  int candidate = last_ifindex_;
  do {
    candidate = candidate == std::numeric_limits<int>::max() ? 1 : candidate + 1;
  } while (device(candidate) != nullptr);
  return candidate;
}

Result<void> Net::check_new_device(std::string_view name) const {
  if (!is_valid_device_name(name) || is_dying()) return error(Errc::invalid_argument);
  if (!name_free(name)) return error(Errc::file_exists);
  return {};
}

Result<Device*> Net::register_device(std::unique_ptr<Device> dev, int preferred_ifindex) {
  if (auto ok = check_new_device(dev->name()); !ok) return ok.error();
  int ifindex = allocate_ifindex(preferred_ifindex);
  if (ifindex != preferred_ifindex) last_ifindex_ = ifindex;
  Device* raw = dev.get();
  raw->net_ = this;
  raw->ifindex_ = ifindex;
  raw->unregistering_ = false;
  auto at = std::lower_bound(devices_.begin(), devices_.end(), ifindex,
                             [](const std::unique_ptr<Device>& d, int i) { return d->ifindex() < i; });
  devices_.insert(at, std::move(dev));
  host_->rx().attach(*raw);
  host_->notify(NetdevEvent::registered, *raw);
  return raw;
}

std::unique_ptr<Device> Net::unregister_device(Device& dev) {
  host_->notify(NetdevEvent::unregistering, dev);
  host_->rx().detach(dev);
  dev.drop_backlog();
  auto it = std::find_if(devices_.begin(), devices_.end(),
                         [&](const std::unique_ptr<Device>& d) { return d.get() == &dev; });
  std::unique_ptr<Device> owned = std::move(*it);
  devices_.erase(it);
  if (loopback_ == &dev) loopback_ = nullptr;
  return owned;
}

std::string Net::unique_name(std::string_view pattern) const {
  auto at = pattern.find("%d");
  if (at == std::string_view::npos) return name_free(pattern) ? std::string(pattern) : std::string();
  for (int i = 0; i < 100000; ++i) {
    std::string name(pattern.substr(0, at));
    name += std::to_string(i);
    name += pattern.substr(at + 2);
    if (!is_valid_device_name(name)) return {};
    if (name_free(name)) return name;
  }
  return {};
}

}  // namespace netns
