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

#include "devices/dpdk_internal.hpp"

namespace netns::dpdk {

namespace {

enum class EalState : std::uint8_t { idle, running, cleaned };

// The rings of a pair made by make_ring_pair, freed when both ports are gone.
struct RingRecord {
  std::uint16_t a, b;
  bool a_attached = true, b_attached = true;
  rte_ring* a_to_b;
  rte_ring* b_to_a;
};

// DPDK's own state is process-wide, so this is too. Reached through a
// function so there is no global constructor; it outlives any static Eal
// created after its first use.
struct Registry {
  std::mutex mutex;
  EalState state = EalState::idle;
  std::vector<std::string> args;  // kept alive: the EAL may keep pointers into argv
  std::vector<detail::EalClient*> clients;
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

// Frees the rings of a pair once neither of its ports remains.
void forget_ring_port(Registry& r, std::uint16_t port) {
  for (auto it = r.rings.begin(); it != r.rings.end(); ++it) {
    if (it->a == port) it->a_attached = false;
    else if (it->b == port) it->b_attached = false;
    else continue;
    if (!it->a_attached && !it->b_attached) {
      rte_ring_free(it->a_to_b);
      rte_ring_free(it->b_to_a);
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

Result<void> check_port_free(std::uint16_t port) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  if (r.state != EalState::running) return error(Errc::operation_not_permitted);
  if (port_claimed(r, port)) return error(Errc::device_or_resource_busy);
  return {};
}

Result<void> claim_port(EalClient& client) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  if (r.state != EalState::running) return error(Errc::operation_not_permitted);
  if (port_claimed(r, client.port())) return error(Errc::device_or_resource_busy);
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
    rte_ring_free(rec.a_to_b);
    rte_ring_free(rec.b_to_a);
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

Result<RingPair> Eal::make_ring_pair(std::string_view name, unsigned ring_size) {
  if (!owns_) return error(Errc::operation_not_permitted);
  // Ring names are "nr_<name>_ab": RTE_RING_NAMESIZE less the memzone prefix.
  constexpr std::size_t kMaxName = 20;
  if (name.empty() || name.size() > kMaxName || name.find(',') != std::string_view::npos ||
      ring_size < 2 || (ring_size & (ring_size - 1)) != 0) {
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
  // One thread drives both ends (Host::poll): single producer and consumer.
  constexpr unsigned kFlags = RING_F_SP_ENQ | RING_F_SC_DEQ;
  rte_ring* ab = rte_ring_create(("nr_" + base + "_ab").c_str(), ring_size, SOCKET_ID_ANY, kFlags);
  int err = rte_errno;
  rte_ring* ba = ab ? rte_ring_create(("nr_" + base + "_ba").c_str(), ring_size, SOCKET_ID_ANY, kFlags)
                    : nullptr;
  if (ab != nullptr && ba == nullptr) err = rte_errno;
  if (ba == nullptr) {
    rte_ring_free(ab);
    return err == EEXIST ? error(Errc::file_exists) : errno_error(err);
  }
  int a = rte_eth_from_rings((base + "a").c_str(), &ba, 1, &ab, 1, SOCKET_ID_ANY);
  err = rte_errno;
  int b = a >= 0 ? rte_eth_from_rings((base + "b").c_str(), &ab, 1, &ba, 1, SOCKET_ID_ANY) : -1;
  if (a >= 0 && b < 0) err = rte_errno;
  if (b < 0) {
    if (a >= 0) (void)remove_port(r, static_cast<std::uint16_t>(a));
    rte_ring_free(ab);
    rte_ring_free(ba);
    return errno_error(err);
  }
  RingRecord rec{static_cast<std::uint16_t>(a), static_cast<std::uint16_t>(b), true, true, ab, ba};
  r.rings.push_back(rec);
  return RingPair{rec.a, rec.b, ab, ba};
}

}  // namespace netns::dpdk
