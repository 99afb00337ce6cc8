// The EAL, once per process: start, hot-plug, net_ring pairs, cleanup.
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include "devices/dpdk_internal.hpp"
#include "devices/dpdk_queues.hpp"

namespace netns::dpdk {

namespace {

enum class EalState : std::uint8_t { idle, running, cleaned };

// The rings of a pair made by make_ring_pair, freed when both ports are gone.
struct RingRecord {
  std::uint16_t a, b;
  bool a_attached = true, b_attached = true;
  std::vector<rte_ring*> a_to_b, b_to_a;  // one per queue
};

// DPDK's own state is process-wide, so this is too. Reached through a
// function so there is no global constructor; it outlives any static Eal
// created after its first use.
struct Registry {
  std::mutex mutex;
  EalState state = EalState::idle;
  std::vector<std::string> args;  // kept alive: the EAL may keep pointers into argv
  std::vector<detail::EalClient*> clients;
  // What the devices of each driven port share, alive while one of them is.
  std::vector<std::pair<std::uint16_t, std::weak_ptr<detail::PortQueues>>> shared_ports;
  std::vector<RingRecord> rings;
};

Registry& registry() {
  static Registry r;
  return r;
}

bool port_claimed(const Registry& r, std::uint16_t port) {
  return std::any_of(r.clients.begin(), r.clients.end(),
                     [&](const detail::EalClient* c) { return c->port() == port; });
}

bool queue_claimed(const Registry& r, std::uint16_t port, std::uint16_t queue) {
  return std::any_of(r.clients.begin(), r.clients.end(),
                     [&](const detail::EalClient* c) { return c->port() == port && c->queue() == queue; });
}

// Frees the rings of a pair once neither of its ports remains.
void forget_ring_port(Registry& r, std::uint16_t port) {
  for (auto it = r.rings.begin(); it != r.rings.end(); ++it) {
    if (it->a == port) it->a_attached = false;
    else if (it->b == port) it->b_attached = false;
    else continue;
    if (!it->a_attached && !it->b_attached) {
      for (rte_ring* ring : it->a_to_b) rte_ring_free(ring);
      for (rte_ring* ring : it->b_to_a) rte_ring_free(ring);
      r.rings.erase(it);
    }
    return;
  }
}

// Stops, closes and removes a port's device. The caller holds the lock.
Result<void> remove_port(Registry& r, std::uint16_t port) {
  rte_eth_dev_info info{};
  if (int ret = rte_eth_dev_info_get(port, &info); ret != 0) return errno_error(-ret);
  (void)rte_eth_dev_stop(port);
  (void)rte_eth_dev_close(port);
  if (info.device != nullptr) {
    if (int ret = rte_dev_remove(info.device); ret != 0 && ret != -ENOENT) return errno_error(-ret);
  }
  forget_ring_port(r, port);
  return {};
}

}  // namespace

namespace detail {

Result<std::shared_ptr<PortQueues>> share_port(
    std::uint16_t port, const QueueSpec& spec,
    const std::function<Result<std::shared_ptr<PortQueues>>()>& configure) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  if (r.state != EalState::running) return error(Errc::operation_not_permitted);
  std::erase_if(r.shared_ports, [](const auto& entry) { return entry.second.expired(); });
  for (const auto& [driven, weak] : r.shared_ports) {
    if (driven != port) continue;
    std::shared_ptr<PortQueues> live = weak.lock();
    if (live != nullptr && live->matches(spec)) return live;
    return error(Errc::device_or_resource_busy);
  }
  // A device in its destructor has released its queue but may still hold
  // the old state: the port is free once no client names it.
  if (port_claimed(r, port)) return error(Errc::device_or_resource_busy);
  auto made = configure();
  if (made) r.shared_ports.emplace_back(port, *made);
  return made;
}

Result<void> claim_port(EalClient& client) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  if (r.state != EalState::running) return error(Errc::operation_not_permitted);
  if (queue_claimed(r, client.port(), client.queue())) return error(Errc::device_or_resource_busy);
  r.clients.push_back(&client);
  return {};
}

void release_port(EalClient& client) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::erase(r.clients, &client);
}

}  // namespace detail

Result<Eal> start(std::vector<std::string> args) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  if (r.state == EalState::running) return error(Errc::device_or_resource_busy);
  if (r.state == EalState::cleaned) return error(Errc::operation_not_permitted);
  r.args.clear();
  r.args.push_back("netns");  // argv[0]: rte_eal_init parses from argv[1]
  for (std::string& a : args) r.args.push_back(std::move(a));
  std::vector<char*> argv;
  for (std::string& a : r.args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(r.args.size()), argv.data()) < 0) {
    int err = rte_errno;
    // EALREADY: something else in the process initialised DPDK, or it
    // failed in a way it cannot retry; either way this process is done.
    if (err == EALREADY) r.state = EalState::cleaned;
    return errno_error(err);
  }
  r.state = EalState::running;
  return Eal();
}

Eal& Eal::operator=(Eal&& other) noexcept {
  if (this != &other) {
    cleanup();
    owns_ = other.owns_;
    other.owns_ = false;
  }
  return *this;
}

Eal::~Eal() { cleanup(); }

void Eal::cleanup() {
  if (!owns_) return;
  owns_ = false;
  Registry& r = registry();
  std::unique_lock lock(r.mutex);
  // Cut each device off without holding the lock: cutting off takes the
  // device down, and whoever listens may destroy devices (release_port).
  while (!r.clients.empty()) {
    detail::EalClient* client = r.clients.back();
    r.clients.pop_back();
    lock.unlock();
    client->cut_off();
    lock.lock();
  }
  for (RingRecord& rec : r.rings) {
    for (rte_ring* ring : rec.a_to_b) rte_ring_free(ring);
    for (rte_ring* ring : rec.b_to_a) rte_ring_free(ring);
  }
  r.rings.clear();
  r.state = EalState::cleaned;
  // DPDK leaves its runtime directory behind, empty without shared files:
  // one per process with a --file-prefix of its own.
  const std::string runtime_dir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  (void)::rmdir(runtime_dir.c_str());  // fails harmlessly when something is left in it
}

Result<std::uint16_t> Eal::attach(std::string_view devargs) {
  if (!owns_) return error(Errc::operation_not_permitted);
  const std::string args(devargs);
  const std::string name = args.substr(0, args.find(','));
  if (name.empty()) return error(Errc::invalid_argument);
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::uint16_t port = 0;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port) == 0) return error(Errc::file_exists);
  if (int ret = rte_dev_probe(args.c_str()); ret < 0) return errno_error(-ret);
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port) != 0) return error(Errc::no_such_device);
  return port;
}

Result<void> Eal::detach(std::uint16_t port_id) {
  if (!owns_) return error(Errc::operation_not_permitted);
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  if (!rte_eth_dev_is_valid_port(port_id)) return error(Errc::no_such_device);
  if (port_claimed(r, port_id)) return error(Errc::device_or_resource_busy);
  return remove_port(r, port_id);
}

namespace {

void free_rings(const std::vector<rte_ring*>& rings) {
  for (rte_ring* ring : rings) rte_ring_free(ring);
}

// `queues` rings named nr_<base>_<suffix><i> (queue 0's without the number,
// as a pair of one queue always had).
Result<std::vector<rte_ring*>> make_rings(const std::string& base, const char* suffix, unsigned size,
                                          std::uint16_t queues) {
  // One thread drives each end of a queue: single producer and consumer.
  constexpr unsigned kFlags = RING_F_SP_ENQ | RING_F_SC_DEQ;
  std::vector<rte_ring*> rings;
  for (std::uint16_t q = 0; q < queues; ++q) {
    std::string name = "nr_" + base + "_" + suffix + (q == 0 ? "" : std::to_string(q));
    rte_ring* ring = rte_ring_create(name.c_str(), size, SOCKET_ID_ANY, kFlags);
    if (ring == nullptr) {
      const int err = rte_errno;
      free_rings(rings);
      return err == EEXIST ? error(Errc::file_exists) : errno_error(err);
    }
    rings.push_back(ring);
  }
  return rings;
}

}  // namespace

Result<RingPair> Eal::make_ring_pair(std::string_view name, unsigned ring_size, std::uint16_t queues) {
  if (!owns_) return error(Errc::operation_not_permitted);
  // Ring names are "nr_<name>_ab<queue>": RTE_RING_NAMESIZE less the memzone prefix.
  constexpr std::size_t kMaxName = 20;
  constexpr std::uint16_t kMaxRingQueues = 16;  // RTE_PMD_RING_MAX_RX_RINGS
  if (name.empty() || name.size() > kMaxName || name.find(',') != std::string_view::npos ||
      ring_size < 2 || (ring_size & (ring_size - 1)) != 0 || queues == 0 || queues > kMaxRingQueues) {
    return error(Errc::invalid_argument);
  }
  const std::string base(name);
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::uint16_t existing = 0;
  if (rte_eth_dev_get_port_by_name(("net_ring_" + base + "a").c_str(), &existing) == 0 ||
      rte_eth_dev_get_port_by_name(("net_ring_" + base + "b").c_str(), &existing) == 0) {
    return error(Errc::file_exists);
  }
  auto ab = make_rings(base, "ab", ring_size, queues);
  if (!ab) return ab.error();
  auto ba = make_rings(base, "ba", ring_size, queues);
  if (!ba) {
    free_rings(*ab);
    return ba.error();
  }
  int a = rte_eth_from_rings((base + "a").c_str(), ba->data(), queues, ab->data(), queues, SOCKET_ID_ANY);
  int err = rte_errno;
  int b = a >= 0 ? rte_eth_from_rings((base + "b").c_str(), ab->data(), queues, ba->data(), queues, SOCKET_ID_ANY)
                 : -1;
  if (a >= 0 && b < 0) err = rte_errno;
  if (b < 0) {
    if (a >= 0) (void)remove_port(r, static_cast<std::uint16_t>(a));
    free_rings(*ab);
    free_rings(*ba);
    return errno_error(err);
  }
  r.rings.push_back(RingRecord{static_cast<std::uint16_t>(a), static_cast<std::uint16_t>(b), true, true, *ab, *ba});
  return RingPair{r.rings.back().a, r.rings.back().b, ab->front(), ba->front(), *ab, *ba};
}

}  // namespace netns::dpdk
