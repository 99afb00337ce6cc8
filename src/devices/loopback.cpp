// The loopback device: one per namespace, made by a pernet device op.
#include "core/builtin.hpp"
#include "core/device_internal.hpp"
#include "netns/host.hpp"

namespace netns {

namespace {

class Loopback final : public Device {
 public:
  explicit Loopback(Net& net) : Device(net, "lo", DeviceKind::loopback, MacAddress{}, kMtu) {}
  std::uint32_t max_mtu() const override { return kMtu; }
  bool netns_local() const override { return true; }
  bool offloads_checksum() const override { return true; }

 private:
  static constexpr std::uint32_t kMtu = 65536;  // Linux's loopback MTU
  void xmit(Packet frame) override {
    count_tx(frame.size());
    receive(std::move(frame));  // through this namespace's backlog, never inline
  }
};

}  // namespace

class LoopbackOps final : public PernetOps {
 public:
  Result<void> init(Net& net) override {
    // Down, as in a new Linux namespace; ifindex 1 because it is the first device.
    auto dev = net.register_device(std::make_unique<Loopback>(net));
    if (!dev) return dev.error();
    net.loopback_ = *dev;
    return {};
  }
  void exit(Net& net) override {
    if (Device* lo = net.loopback_) unregister_and_free(*lo);
  }
};

std::unique_ptr<PernetOps> make_loopback_ops(Host&) { return std::make_unique<LoopbackOps>(); }

}  // namespace netns
