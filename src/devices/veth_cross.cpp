// A veth whose ends are in namespaces of two Hosts, each driven by its own
// thread (DESIGN.md section 2): what make_veth builds when the namespaces'
// Hosts differ.
//
// Frames cross through two bounded single-producer, single-consumer rings,
// one per direction (core/spsc_ring.hpp): the sending end pushes on its
// Host's thread, the receiving end is a polled device whose poll_rx pops on
// the other's, as a NAPI poll would, up to its budget. A full ring drops
// and counts (tx_dropped), as a full backlog does for an in-Host veth.
// Buffers cross without a copy: the sender lends its own (PacketPool::lend)
// and the receiver adopts it; its last release sends it home, and one sent
// back is home at once. Shared bytes or foreign storage (a DPDK mbuf) are
// copied first, counted in packet_copies.
//
// Each end has carrier while the other is up, learnt at its next poll.
// Destroying either end destroys the other at its Host's next poll (a
// posted call); frames still in a ring then go home with the link. The
// link's mutex is taken only there, never on the packet path: it keeps the
// other Host alive while a call is posted to it, since a Host destroys its
// devices before it goes.
#include <algorithm>
#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "core/device_internal.hpp"
#include "core/spsc_ring.hpp"
#include "devices/veth_cross.hpp"
#include "netns/host.hpp"
#include "netns/host_group.hpp"
#include "netns/packet_pool.hpp"
#include "netns/sysctl.hpp"

namespace netns {

namespace {

class CrossVeth;

struct CrossLink {
  CrossLink(Host& a, Host& b, std::size_t slots_a, std::size_t slots_b)
      : rings{SpscRing<Packet>(slots_b), SpscRing<Packet>(slots_a)}, hosts{&a, &b} {}

  // rings[i] carries frames from end i to end 1 - i (sized by the receiver's backlog).
  std::array<SpscRing<Packet>, 2> rings;
  std::array<std::atomic<bool>, 2> up{};  // end i is up: its peer has carrier
  std::array<std::atomic<std::uint32_t>, 2> mtu{};
  std::array<Host*, 2> hosts;
  std::mutex mutex;                          // ends, and posting to the other Host
  std::array<CrossVeth*, 2> ends{};          // while registered
};

class CrossVeth final : public Device {
 public:
  CrossVeth(Net& net, std::string_view name, std::shared_ptr<CrossLink> link, int side)
      : Device(net, name, DeviceKind::veth, random_mac(net.host()), 1500), link_(std::move(link)), side_(side) {
    link_->mtu[side_].store(mtu(), std::memory_order_relaxed);
    set_carrier(false);  // the peer starts down
  }

  bool polled() const override { return true; }

  // Called on its Host's thread once it is registered.
  void attach() {
    std::lock_guard lock(link_->mutex);
    link_->ends[side_] = this;
  }

 private:
  int peer() const { return 1 - side_; }

  void on_updown() override {
    link_->up[side_].store(is_up(), std::memory_order_release);
    follow_peer();
  }
  bool offloads_checksum() const override { return true; }  // the peer is this stack, on another thread

  [[nodiscard]] Result<void> on_mtu_change(std::uint32_t mtu) override {
    link_->mtu[side_].store(mtu, std::memory_order_relaxed);
    return {};
  }

  void follow_peer() {
    const bool peer_up = link_->up[peer()].load(std::memory_order_acquire);
    if (peer_up != has_carrier()) set_carrier(peer_up);
  }

  void xmit(Packet frame) override {
    CrossLink& link = *link_;
    if (!link.up[peer()].load(std::memory_order_acquire)) {
      ++stats_.tx_dropped;
      return;
    }
    if (!veth_peer_accepts(frame.size(), link.mtu[peer()].load(std::memory_order_relaxed))) {
      ++stats_.tx_dropped;
      return;
    }
    const std::size_t bytes = frame.size();
    frame.device = nullptr;
    frame.scrub(true);  // always another namespace
    PacketPool& pool = net().host().packets();
    if (!pool.lend(frame)) {
      Packet copy = frame.copy();
      if (!copy || !pool.lend(copy)) {
        ++stats_.tx_dropped;
        return;
      }
      frame = std::move(copy);
    }
    // A full ring: the frame dies here, and its buffer comes home at the next poll.
    if (!link.rings[side_].push(std::move(frame))) {
      ++stats_.tx_dropped;
      return;
    }
    count_tx(bytes);
  }

  std::size_t poll_rx(std::size_t budget) override {
    follow_peer();
    SpscRing<Packet>& ring = link_->rings[peer()];
    PacketPool& pool = net().host().packets();
    std::size_t n = 0;
    for (; n < budget; ++n) {
      std::optional<Packet> frame = ring.pop();
      if (!frame) break;
      pool.adopt(*frame);
      deliver_now(std::move(*frame));
    }
    return n;
  }

  void on_unregister() override {
    std::lock_guard lock(link_->mutex);
    link_->ends[side_] = nullptr;
    link_->up[side_].store(false, std::memory_order_release);
    if (link_->ends[peer()] == nullptr) return;  // gone already, or going
    // veth_dellink takes the peer along; here at its Host's next poll.
    link_->hosts[peer()]->post([link = link_, end = peer()] {
      CrossVeth* dev = nullptr;
      {
        std::lock_guard lock(link->mutex);
        dev = link->ends[end];
      }
      // Only this thread destroys its end: dev stays valid past the lock.
      if (dev != nullptr) unregister_and_free(*dev);
    });
  }

  std::shared_ptr<CrossLink> link_;
  int side_;
};

}  // namespace

namespace {

// Runs a function on the thread of a Host and returns once it ran.
using RunOn = std::function<void(Host&, const std::function<void()>&)>;

std::size_t backlog_of(Net& net) {
  return static_cast<std::size_t>(std::max(1, net.sysctl().value(SysctlId::core_netdev_max_backlog)));
}

// End a on a's thread: the link, sized by both backlogs, and the first end.
Result<Device*> make_first_end(Net& a, std::string_view name, Host& b_host, std::size_t b_backlog,
                               std::shared_ptr<CrossLink>& link) {
  link = std::make_shared<CrossLink>(a.host(), b_host, backlog_of(a), b_backlog);
  auto end = std::make_unique<CrossVeth>(a, name, link, 0);
  CrossVeth* raw = end.get();
  auto dev = a.register_device(std::move(end));
  if (dev) raw->attach();
  return dev;
}

// End b on b's thread, unless end a went meanwhile (its Host was running).
Result<Device*> make_second_end(Net& b, std::string_view name, const std::shared_ptr<CrossLink>& link) {
  {
    std::lock_guard lock(link->mutex);
    if (link->ends[0] == nullptr) return error(Errc::no_such_device);
  }
  auto end = std::make_unique<CrossVeth>(b, name, link, 1);
  CrossVeth* raw = end.get();
  auto dev = b.register_device(std::move(end));
  if (dev) raw->attach();
  return dev;
}

// Each step on its own Host's thread: b's name is checked first, so that
// registering a is seldom undone; it is when b's name was taken between
// the check and b's registration (b's Host ran meanwhile).
Result<VethPair> make_in_steps(Net& a, std::string_view name_a, Net& b, std::string_view name_b, const RunOn& run) {
  Result<void> b_free;
  std::size_t b_backlog = 0;
  run(b.host(), [&] {
    b_free = b.check_new_device(name_b);
    b_backlog = backlog_of(b);
  });
  if (!b_free) return b_free.error();
  std::shared_ptr<CrossLink> link;
  Result<Device*> dev_a = error(Errc::invalid_argument);
  run(a.host(), [&] { dev_a = make_first_end(a, name_a, b.host(), b_backlog, link); });
  if (!dev_a) return dev_a.error();
  Result<Device*> dev_b = error(Errc::invalid_argument);
  run(b.host(), [&] { dev_b = make_second_end(b, name_b, link); });
  if (!dev_b) {
    run(a.host(), [&] {
      CrossVeth* end = nullptr;
      {
        std::lock_guard lock(link->mutex);
        end = link->ends[0];
      }
      if (end != nullptr) unregister_and_free(*end);
    });
    return dev_b.error();
  }
  return VethPair{*dev_a, *dev_b};
}

}  // namespace

Result<VethPair> make_cross_host_veth(Net& a, std::string_view name_a, Net& b, std::string_view name_b) {
  return make_in_steps(a, name_a, b, name_b, [](Host&, const std::function<void()>& fn) { fn(); });
}

Result<VethPair> make_veth(Net& a, std::string_view name_a, Net& b, std::string_view name_b, HostGroup& group) {
  const auto ia = group.index_of(a.host());
  const auto ib = group.index_of(b.host());
  if (!ia || !ib) return error(Errc::invalid_argument);
  const RunOn run = [&](Host& host, const std::function<void()>& fn) {
    group.run_on(&host == &a.host() ? *ia : *ib, [&](Host&) { fn(); });
  };
  if (*ia == *ib) {
    Result<VethPair> pair = error(Errc::invalid_argument);
    run(a.host(), [&] { pair = make_veth(a, name_a, b, name_b); });
    return pair;
  }
  return make_in_steps(a, name_a, b, name_b, run);
}

}  // namespace netns
