// veth: a pair of devices whose ends may live in different namespaces.
#include "core/device_internal.hpp"
#include "devices/veth_cross.hpp"
#include "netns/host.hpp"

namespace netns {

namespace {

class Veth final : public Device {
 public:
  Veth(Net& net, std::string_view name) : Device(net, name, DeviceKind::veth, random_mac(net.host()), 1500) {
    set_carrier(false);  // the peer starts down
  }

  void pair_with(Veth* peer) { peer_ = peer; }

 private:
  // Each end has carrier while the other is up, as veth_open and
  // veth_close turn it on and off on the peer.
  void on_updown() override {
    if (peer_ != nullptr) peer_->set_carrier(is_up());
  }
  bool offloads_checksum() const override { return true; }  // the peer is this stack

  void xmit(Packet frame) override {
    Veth* peer = peer_;
    if (peer == nullptr || !peer->is_up()) {
      ++stats_.tx_dropped;
      return;
    }
    if (!veth_peer_accepts(frame.size(), peer->mtu())) {
      ++stats_.tx_dropped;
      return;
    }
    count_tx(frame.size());
    frame.device = nullptr;
    frame.scrub(&peer->net() != &net());  // veth_forward_skb
    peer->receive(std::move(frame));  // the peer's namespace processes it in poll: no copy
  }

  void on_unregister() override {
    // Destroying either end destroys the pair (veth_dellink).
    if (Veth* peer = peer_) {
      peer_ = nullptr;
      peer->peer_ = nullptr;
      peer->set_carrier(false);
      unregister_and_free(*peer);
    }
  }

  Veth* peer_ = nullptr;
};

}  // namespace

Result<VethPair> make_veth(Net& a, std::string_view name_a, Net& b, std::string_view name_b) {
  // The second end is asked first so that registering the first is never
  // undone (listeners would have heard of it); the first end's own answer
  // comes from its registration.
  if (&a.host() != &b.host()) return make_cross_host_veth(a, name_a, b, name_b);
  if (auto ok = b.check_new_device(name_b); !ok) return ok.error();
  if (&a == &b && name_a == name_b) return error(Errc::file_exists);
  auto end_a = std::make_unique<Veth>(a, name_a);
  auto end_b = std::make_unique<Veth>(b, name_b);
  end_a->pair_with(end_b.get());
  end_b->pair_with(end_a.get());
  auto dev_a = a.register_device(std::move(end_a));
  if (!dev_a) return dev_a.error();  // end_a is gone; end_b goes with this scope
  // Cannot fail: b's name was free and valid, and registering a took another one.
  auto dev_b = b.register_device(std::move(end_b));
  return VethPair{*dev_a, *dev_b};
}

}  // namespace netns
