// bridge: a learning switch, Linux's net/bridge (br_input.c, br_forward.c,
// br_fdb.c, br_if.c) without STP, VLANs or multicast snooping.
//
// Ports hand their received frames to the bridge through the rx handler
// hook, in Host::poll. Everything the bridge does with a frame either moves
// the Packet on (one port's transmit, or the bridge device's own backlog) or
// shares it (a flood): no byte is copied, and nothing is delivered
// recursively, because transmit on an in-process port and receive on the
// bridge device only queue.
#include "netns/bridge.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "core/device_internal.hpp"
#include "devices/bridge_fdb.hpp"
#include "netns/host.hpp"
#include "netns/timer.hpp"
#include "netns/wire/ethernet.hpp"

namespace netns {

class Bridge;

// One enslaved device: Linux's net_bridge_port, and the port's rx handler.
class BridgePort final : public RxHandler {
 public:
  BridgePort(Bridge& bridge, Device& dev) : bridge_(&bridge), dev_(&dev) {}
  RxResult handle_frame(Device& dev, Packet& frame) override;
  Bridge& bridge() const { return *bridge_; }
  Device& dev() const { return *dev_; }

  // The entry of the last source learned here, while the FDB's generation
  // holds: most ports have one host behind them, whose frames then refresh
  // their entry without hashing.
  MacKey last_src = 0;
  std::uint64_t last_generation = ~std::uint64_t{0};
  FdbSlot* last_slot = nullptr;

 private:
  Bridge* bridge_;
  Device* dev_;
};

namespace {

constexpr std::size_t kEthHeader = wire::EthernetView::kHeaderLen;
constexpr MacKey kGroupBit = MacKey{1} << 40;  // the I/G bit of the first octet
// Linux's is_link_local_ether_addr: 01:80:c2:00:00:0x.
constexpr MacKey kLinkLocalBase = 0x0180c2000000;
constexpr MacKey kPauseAddress = 0x0180c2000001;
constexpr MacKey kBridgeGroupAddress = 0x0180c2000000;
// br_fdb_cleanup never reruns sooner than this, however many entries expire.
constexpr Clock::duration kMinGcInterval = std::chrono::milliseconds(10);
constexpr std::size_t kMaxFdbLearnedLimit = std::size_t{1} << 20;

// The MAC at p as a key, read as one big-endian word: p must have 8 bytes,
// true for both addresses of an Ethernet header (the source ends at 12 of 14).
MacKey load_mac(const std::byte* p) {
  std::uint64_t word;
  std::memcpy(&word, p, sizeof word);
  if constexpr (std::endian::native == std::endian::little) word = __builtin_bswap64(word);
  return word >> 16;
}

MacKey mac_key(MacAddress mac) {
  MacKey k = 0;
  for (std::uint8_t o : mac.octets) k = k << 8 | o;
  return k;
}

MacAddress mac_of(MacKey k) {
  MacAddress mac;
  for (std::size_t i = 0; i < 6; ++i) mac.octets[i] = static_cast<std::uint8_t>(k >> (8 * (5 - i)));
  return mac;
}

bool is_link_local(MacKey dst) { return (dst & ~MacKey{0xf}) == kLinkLocalBase; }

}  // namespace

class Bridge final : public Device, public NetdevListener {
 public:
  Bridge(Net& net, std::string_view name)
      : Device(net, name, DeviceKind::bridge, random_mac(net.host()), 1500),
        host_(&net.host()),
        fdb_(SipKey::derive(net.host().secret(), kSipPurposeBridgeFdb)),
        gc_(net.host(), [this] { run_gc(); }) {
    set_carrier(false);  // until a port runs: its carrier follows its ports (lowers) from then on
    host_->add_netdev_listener(*this);
  }
  ~Bridge() override { host_->remove_netdev_listener(*this); }

  // The forwarding path (br_handle_frame, br_handle_frame_finish).
  RxResult process_frame(BridgePort& in, Packet& frame);

  Result<void> add_port(Device& dev);
  void remove_port(BridgePort& port);
  const std::vector<std::unique_ptr<BridgePort>>& ports() const { return ports_; }

  Result<void> set_ageing(Clock::duration ageing);
  Clock::duration ageing() const { return ageing_; }
  void set_max_learned(std::size_t max) { max_learned_ = max; }
  Result<void> add_static(BridgePort& port, MacKey mac);
  Result<void> del_entry(BridgePort& port, MacKey mac);
  void flush_learned() { fdb_.retain([](const FdbSlot& s) { return !s.learned(); }); }
  std::vector<FdbEntry> entries() const;
  BridgeStats bridge_stats() const;

 private:
  void xmit(Packet frame) override;
  bool offloads_checksum() const override { return true; }  // each port's transmit finishes it if needed
  // As Linux's NETIF_F_NETNS_LOCAL on bridges: its ports cannot follow it.
  bool netns_local() const override { return true; }
  void on_updown() override;
  void on_unregister() override;
  void on_netdev_event(NetdevEvent event, Device& dev) override;
  void on_lower_change(Device& lower) override;
  void on_upper_change(Device&) override { rebuild_locals(); }

  void learn(BridgePort& in, MacKey src);
  void forward(BridgePort* in, const FdbSlot& to, Packet frame);
  void flood(BridgePort* in, Packet frame, bool local);
  bool can_send(const BridgePort& to, const Packet& frame) const {
    return to.dev().is_running() && frame.size() <= to.dev().mtu() + kEthHeader;
  }
  void flush_port(const BridgePort& port, bool all);
  void rebuild_locals();
  void adjust_mtu();
  void run_gc();
  BridgePort* port_of(const Device& dev) const;

  Host* host_;
  std::vector<std::unique_ptr<BridgePort>> ports_;  // in the order they joined
  Fdb fdb_;
  Timer gc_;
  Clock::duration ageing_ = kBridgeDefaultAgeingTime;
  std::size_t max_learned_ = kBridgeDefaultMaxLearned;
  BridgeStats counters_;
  bool mtu_set_by_user_ = false;
  bool adjusting_mtu_ = false;
};

// ---- the forwarding path ----

RxResult Bridge::process_frame(BridgePort& in, Packet& frame) {
  // Host::deliver_frame checked the Ethernet header is there.
  const std::byte* header = frame.data().data();
  const MacKey dst = load_mac(header);
  const MacKey src = load_mac(header + 6);
  if ((src & kGroupBit) != 0 || src == 0) [[unlikely]] {
    ++counters_.dropped_invalid_source;
    return RxResult::consumed;
  }
  if (is_link_local(dst) && dst != kBridgeGroupAddress) [[unlikely]] {
    // Control protocols (LACP, LLDP, 802.1X) belong to the port itself;
    // pause frames to nobody. The bridge group address (STP) is forwarded,
    // as Linux does with STP off.
    if (dst == kPauseAddress) {
      ++counters_.dropped_pause;
      return RxResult::consumed;
    }
    if (is_up()) learn(in, src);
    ++counters_.passed_link_local;
    return RxResult::pass;
  }
  if (!is_up()) [[unlikely]] {
    ++counters_.dropped_bridge_down;  // every port is disabled with the bridge
    return RxResult::consumed;
  }
  learn(in, src);
  if ((dst & kGroupBit) != 0) {
    flood(&in, std::move(frame), true);
    return RxResult::consumed;
  }
  FdbSlot* to = fdb_.find(dst);
  if (to == nullptr) {
    flood(&in, std::move(frame), false);
  } else if (to->local()) {
    ++counters_.delivered_local;
    receive(std::move(frame));  // queued: the bridge device's stack runs later in this poll
  } else {
    forward(&in, *to, std::move(frame));
  }
  return RxResult::consumed;
}

RxResult BridgePort::handle_frame(Device&, Packet& frame) { return bridge_->process_frame(*this, frame); }

void Bridge::learn(BridgePort& in, MacKey src) {
  const Clock::time_point now = host_->now();
  if (in.last_src == src && in.last_generation == fdb_.generation()) {
    FdbSlot* s = in.last_slot;
    if (s->port == &in && s->learned()) {
      if (s->updated != now) s->updated = now;
      return;
    }
  }
  Fdb::Learned learned = fdb_.learn(src, &in, now, max_learned_);
  if (learned.slot != nullptr) {
    in.last_src = src;
    in.last_generation = fdb_.generation();
    in.last_slot = learned.slot;
  }
  switch (learned.result) {
    case Fdb::Learn::refreshed:
    case Fdb::Learn::ignored: return;
    case Fdb::Learn::moved: ++counters_.moved; return;
    case Fdb::Learn::full: ++counters_.not_learned_full; return;
    case Fdb::Learn::learned:
      ++counters_.learned;
      if (!gc_.pending()) gc_.schedule(now + ageing_);
      return;
  }
}

void Bridge::forward(BridgePort* in, const FdbSlot& entry, Packet frame) {
  BridgePort& to = *entry.port;
  if (&to == in) {
    ++counters_.dropped_same_port;  // should_deliver: never back out of the ingress port
    return;
  }
  Device& out = to.dev();
  if (!out.is_running()) [[unlikely]] {
    if (!entry.learned()) {
      ++counters_.dropped_port_down;  // a static entry stays; its port is disabled
      return;
    }
    // Learned while the port was not running (a DPDK port receiving before
    // the next check of its link sees it back): on_lower_change flushed
    // everything else it learned when it stopped. Flush this too and flood
    // like any unknown destination.
    flush_port(to, false);
    flood(in, std::move(frame), false);
    return;
  }
  if (frame.size() > out.mtu() + kEthHeader) [[unlikely]] {
    ++counters_.dropped_too_big;  // is_skb_forwardable
    return;
  }
  ++counters_.forwarded;
  out.transmit(std::move(frame));
}

void Bridge::flood(BridgePort* in, Packet frame, bool local) {
  ++counters_.flooded;
  // Every receiver but the last gets a share; the last takes the frame
  // itself (Linux's maybe_deliver with `prev`), so a flood to one port
  // costs what a forward does.
  BridgePort* prev = nullptr;
  for (const auto& port : ports_) {
    if (port.get() == in || !can_send(*port, frame)) continue;
    if (prev != nullptr) prev->dev().transmit(frame.share());
    prev = port.get();
  }
  if (local) {
    receive(prev != nullptr ? frame.share() : std::move(frame));
  } else if (prev == nullptr && in == nullptr) {
    ++counters_.dropped_no_port;
  }
  if (prev != nullptr) prev->dev().transmit(std::move(frame));
}

// br_dev_xmit: what the bridge's own namespace sends on it.
void Bridge::xmit(Packet frame) {
  if (frame.size() < kEthHeader) {
    ++stats_.tx_dropped;
    return;
  }
  count_tx(frame.size());
  const MacKey dst = load_mac(frame.data().data());
  FdbSlot* to = (dst & kGroupBit) != 0 ? nullptr : fdb_.find(dst);
  if (to == nullptr) {
    flood(nullptr, std::move(frame), false);
  } else if (to->port == nullptr) {
    ++counters_.dropped_no_port;  // to the bridge's own address: br_forward has no port
  } else {
    forward(nullptr, *to, std::move(frame));
  }
}

// ---- ports ----

Result<void> Bridge::add_port(Device& dev) {
  if (port_of(dev) != nullptr) return {};  // already ours, as `ip link set master` again
  // br_add_if's refusals, then netdev_master_upper_dev_link's (a loop
  // through stacked devices, a stack too high) from the core's link_upper.
  if (&dev == this || dev.kind() == DeviceKind::bridge) return error(Errc::too_many_symbolic_link_levels);
  // Not an Ethernet device: the loopback, or no valid unicast address.
  if (dev.kind() == DeviceKind::loopback || dev.mac().is_zero() || dev.mac().is_multicast()) {
    return error(Errc::invalid_argument);
  }
  if (&dev.net() != &net()) return error(Errc::invalid_argument);
  if (dev.is_unregistering() || is_unregistering()) return error(Errc::no_such_device);
  if (dev.master_upper() != nullptr) return error(Errc::device_or_resource_busy);
  if (ports_.size() >= kBridgeMaxPorts) return error(Errc::too_many_links);
  if (dev.rx_handler() != nullptr) return error(Errc::device_or_resource_busy);  // a macvlan's lower
  if (auto linked = link_upper(dev, *this, true); !linked) return linked.error();
  auto port = std::make_unique<BridgePort>(*this, dev);
  (void)dev.set_rx_handler(*port);  // free: checked above
  ports_.push_back(std::move(port));
  rebuild_locals();
  adjust_mtu();
  return {};
}

void Bridge::remove_port(BridgePort& port) {
  Device& dev = port.dev();
  dev.clear_rx_handler();
  flush_port(port, true);
  std::erase_if(ports_, [&](const auto& p) { return p.get() == &port; });
  unlink_upper(dev, *this);  // the bridge's carrier follows the ports left
  rebuild_locals();  // another port may share the MAC whose local entry just went
  adjust_mtu();
}

void Bridge::on_lower_change(Device& lower) {
  // br_port_carrier_check: a port that stopped running is disabled, and
  // what was learned on it goes.
  if (lower.is_running()) return;
  if (BridgePort* port = port_of(lower)) flush_port(*port, false);
}

void Bridge::flush_port(const BridgePort& port, bool all) {
  // br_fdb_delete_by_port: a disabled port loses what was learned on it; a
  // leaving one loses everything, its own address and static entries too.
  fdb_.retain([&](const FdbSlot& s) { return s.port != &port || (!all && !s.learned()); });
}

void Bridge::rebuild_locals() {
  fdb_.retain([](const FdbSlot& s) { return !s.local(); });
  const Clock::time_point now = host_->now();
  fdb_.put(mac_key(mac()), nullptr, FdbSlot::kLocal, now);
  for (const auto& port : ports_) {
    MacKey key = mac_key(port->dev().mac());
    FdbSlot* s = fdb_.find(key);
    if (s == nullptr || !s->local()) fdb_.put(key, port.get(), FdbSlot::kLocal, now);
  }
  // The devices stacked on the bridge (macvlans) receive through it: their
  // addresses go up to the bridge device, whose rx handler hands them over.
  // Linux gets there by dev_uc_add, which turns the bridge promiscuous.
  for (const Device* upper : uppers()) {
    MacKey key = mac_key(upper->mac());
    FdbSlot* s = fdb_.find(key);
    if (s == nullptr || !s->local()) fdb_.put(key, nullptr, FdbSlot::kLocal, now);
  }
}

void Bridge::adjust_mtu() {
  // br_mtu_auto_adjust: the smallest port MTU, until the user sets one.
  if (mtu_set_by_user_) return;
  std::uint32_t min_mtu = 0;
  for (const auto& port : ports_) {
    if (min_mtu == 0 || port->dev().mtu() < min_mtu) min_mtu = port->dev().mtu();
  }
  if (min_mtu == 0) min_mtu = 1500;  // ETH_DATA_LEN with no port
  if (min_mtu == mtu()) return;
  adjusting_mtu_ = true;
  (void)set_mtu(min_mtu);  // a port's MTU is always within [68, 65535]
  adjusting_mtu_ = false;
}

BridgePort* Bridge::port_of(const Device& dev) const {
  return dev.master_upper() == this ? static_cast<BridgePort*>(dev.rx_handler()) : nullptr;
}

void Bridge::on_netdev_event(NetdevEvent event, Device& dev) {
  if (&dev == this) {
    if (event == NetdevEvent::mtu_changed && !adjusting_mtu_) mtu_set_by_user_ = true;
    if (event == NetdevEvent::address_changed) rebuild_locals();
    return;
  }
  BridgePort* port = port_of(dev);
  if (port == nullptr) {
    // A device stacked on the bridge took another address (a macvlan's set_mac).
    const auto up = uppers();
    if (event == NetdevEvent::address_changed && std::find(up.begin(), up.end(), &dev) != up.end()) {
      rebuild_locals();
    }
    return;
  }
  switch (event) {
    case NetdevEvent::unregistering: remove_port(*port); break;  // destroyed or moving away
    case NetdevEvent::down: flush_port(*port, false); break;      // br_stp_disable_port
    case NetdevEvent::mtu_changed: adjust_mtu(); break;
    case NetdevEvent::address_changed: rebuild_locals(); break;
    case NetdevEvent::registered:
    case NetdevEvent::inet_address_removed:
    case NetdevEvent::up: break;
  }
}

void Bridge::on_updown() {
  // br_stp_disable_bridge disables every port, which flushes what they learned.
  if (!is_up()) {
    flush_learned();
    gc_.cancel();
  }
}

void Bridge::on_unregister() {
  // br_dev_delete: every port is released before the bridge goes.
  while (!ports_.empty()) remove_port(*ports_.back());
  gc_.cancel();
  host_->remove_netdev_listener(*this);
}

// ---- ageing ----

void Bridge::run_gc() {
  // br_fdb_cleanup: drop what expired, come back when the oldest survivor
  // expires (but not sooner than kMinGcInterval).
  const Clock::time_point now = host_->now();
  Clock::time_point next = Clock::time_point::max();
  std::size_t expired = 0;
  for (const FdbSlot& s : fdb_.slots()) {
    if (!s.used() || !s.learned()) continue;
    if (s.updated + ageing_ <= now) ++expired;
    else next = std::min(next, s.updated + ageing_);
  }
  if (expired != 0) {
    counters_.aged += fdb_.retain([&](const FdbSlot& s) { return !s.learned() || s.updated + ageing_ > now; });
  }
  if (fdb_.learned_count() != 0) gc_.schedule(std::max(next, now + kMinGcInterval));
}

Result<void> Bridge::set_ageing(Clock::duration ageing) {
  if (ageing < Clock::duration::zero()) return error(Errc::invalid_argument);
  ageing_ = ageing;
  if (fdb_.learned_count() != 0) gc_.schedule(host_->now());  // recomputes every expiry
  return {};
}

// ---- static entries and dumps ----

Result<void> Bridge::add_static(BridgePort& port, MacKey mac) {
  if ((mac & kGroupBit) != 0 || mac == 0) return error(Errc::invalid_argument);
  FdbSlot* s = fdb_.find(mac);
  if (s != nullptr && s->local()) return error(Errc::file_exists);
  bool replaces_static = s != nullptr && s->is_static();
  if (!replaces_static && fdb_.static_count() >= kBridgeMaxStaticEntries) return error(Errc::no_buffer_space);
  fdb_.put(mac, &port, FdbSlot::kStatic, host_->now());
  return {};
}

Result<void> Bridge::del_entry(BridgePort& port, MacKey mac) {
  FdbSlot* s = fdb_.find(mac);
  if (s == nullptr || s->local() || s->port != &port) return error(Errc::no_such_file_or_directory);
  fdb_.erase(mac);
  return {};
}

std::vector<FdbEntry> Bridge::entries() const {
  std::vector<FdbEntry> out;
  out.reserve(fdb_.size());
  const Clock::time_point now = host_->now();
  for (const FdbSlot& s : fdb_.slots()) {
    if (!s.used()) continue;
    Device* port = s.port != nullptr ? &s.port->dev() : nullptr;
    Clock::duration age = s.learned() ? now - s.updated : Clock::duration::zero();
    out.push_back({mac_of(s.mac), port, s.local(), s.is_static(), age});
  }
  std::sort(out.begin(), out.end(), [](const FdbEntry& a, const FdbEntry& b) { return a.mac < b.mac; });
  return out;
}

BridgeStats Bridge::bridge_stats() const {
  BridgeStats s = counters_;
  s.fdb_entries = fdb_.size();
  s.fdb_learned = fdb_.learned_count();
  return s;
}

// ---- the public API ----

namespace {

Bridge* as_bridge(const Device& dev) {
  if (dev.kind() != DeviceKind::bridge) return nullptr;
  return static_cast<Bridge*>(const_cast<Device*>(&dev));
}

// A device whose master is a bridge is its port (netif_is_bridge_port), and
// its rx handler the bridge's port; null while it is being added or removed.
BridgePort* as_port(const Device& dev) {
  const Device* master = dev.master_upper();
  return master != nullptr && master->kind() == DeviceKind::bridge ? static_cast<BridgePort*>(dev.rx_handler())
                                                                    : nullptr;
}

}  // namespace

Result<Device*> make_bridge(Net& net, std::string_view name) {
  return net.register_device(std::make_unique<Bridge>(net, name));
}

Result<void> set_master(Device& port, Device& bridge) {
  Bridge* br = as_bridge(bridge);
  if (br == nullptr) return error(Errc::invalid_argument);
  return br->add_port(port);
}

Result<void> set_nomaster(Device& port) {
  if (BridgePort* p = as_port(port)) p->bridge().remove_port(*p);
  return {};
}

Device* master(const Device& port) { return port.master_upper(); }

std::vector<Device*> bridge_ports(const Device& bridge) {
  std::vector<Device*> out;
  if (Bridge* br = as_bridge(bridge)) {
    for (const auto& p : br->ports()) out.push_back(&p->dev());
  }
  return out;
}

Result<void> set_ageing_time(Device& bridge, Clock::duration ageing) {
  Bridge* br = as_bridge(bridge);
  if (br == nullptr) return error(Errc::invalid_argument);
  return br->set_ageing(ageing);
}

Result<Clock::duration> ageing_time(const Device& bridge) {
  Bridge* br = as_bridge(bridge);
  if (br == nullptr) return error(Errc::invalid_argument);
  return br->ageing();
}

Result<void> set_fdb_max_learned(Device& bridge, std::size_t max) {
  Bridge* br = as_bridge(bridge);
  if (br == nullptr || max == 0 || max > kMaxFdbLearnedLimit) return error(Errc::invalid_argument);
  br->set_max_learned(max);
  return {};
}

Result<std::vector<FdbEntry>> fdb_entries(const Device& bridge) {
  Bridge* br = as_bridge(bridge);
  if (br == nullptr) return error(Errc::invalid_argument);
  return br->entries();
}

std::string dump_fdb(const Device& bridge) {
  std::string out;
  auto entries = fdb_entries(bridge);
  if (!entries) return out;
  for (const FdbEntry& e : *entries) {
    std::string_view dev = e.port != nullptr ? e.port->name() : bridge.name();
    std::string_view kind = e.local ? " permanent" : e.is_static ? " static" : "";
    out += fmt::format("{} dev {} master {}{}\n", e.mac, dev, bridge.name(), kind);
  }
  return out;
}

Result<void> fdb_add_static(Device& port, MacAddress mac) {
  BridgePort* p = as_port(port);
  if (p == nullptr) return error(Errc::invalid_argument);
  return p->bridge().add_static(*p, mac_key(mac));
}

Result<void> fdb_del(Device& port, MacAddress mac) {
  BridgePort* p = as_port(port);
  if (p == nullptr) return error(Errc::invalid_argument);
  return p->bridge().del_entry(*p, mac_key(mac));
}

Result<void> fdb_flush(Device& bridge) {
  Bridge* br = as_bridge(bridge);
  if (br == nullptr) return error(Errc::invalid_argument);
  br->flush_learned();
  return {};
}

Result<BridgeStats> bridge_stats(const Device& bridge) {
  Bridge* br = as_bridge(bridge);
  if (br == nullptr) return error(Errc::invalid_argument);
  return br->bridge_stats();
}

}  // namespace netns
