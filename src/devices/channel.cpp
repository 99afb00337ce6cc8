// ChannelDevice: the application is the wire.
#include "core/device_internal.hpp"
#include "netns/host.hpp"

namespace netns {

ChannelDevice::ChannelDevice(Net& net, std::string_view name, MacAddress mac)
    : Device(net, name, DeviceKind::channel, mac, 1500) {}

void ChannelDevice::inject(std::span<const std::byte> frame) {
  inject(net().host().packets().allocate_from(frame));
}

void ChannelDevice::inject(Packet frame) { receive(std::move(frame)); }

void ChannelDevice::xmit(Packet frame) {
  std::size_t bytes = frame.size();
  if (!outbound_.push(std::move(frame))) {
    ++stats_.tx_dropped;  // nobody reads: bounded, like a full TX ring
    return;
  }
  count_tx(bytes);
}

std::optional<Packet> ChannelDevice::read_packet() { return outbound_.pop(); }

std::optional<std::vector<std::byte>> ChannelDevice::read() {
  std::optional<Packet> frame = outbound_.pop();
  if (!frame) return std::nullopt;
  auto bytes = frame->data();
  return std::vector<std::byte>(bytes.begin(), bytes.end());
}

Result<ChannelDevice*> make_channel(Net& net, std::string_view name) {
  std::unique_ptr<ChannelDevice> dev(new ChannelDevice(net, name, random_mac(net.host())));
  ChannelDevice* raw = dev.get();
  if (auto ok = net.register_device(std::move(dev)); !ok) return ok.error();
  return raw;
}

}  // namespace netns
