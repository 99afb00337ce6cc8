#include "support/ipv6_channel.hpp"

#include <string>

namespace netns::support {

Ipv6Address v6(std::string_view text) { return Ipv6Address::parse(text).value(); }
Ipv6Prefix p6(std::string_view text) { return Ipv6Prefix::parse(text).value(); }

Ipv6Address eui64(const Ipv6Address& prefix, const MacAddress& mac) {
  const auto& m = mac.octets;
  const auto& p = prefix.bytes();
  auto word = [&](int i) { return static_cast<std::uint16_t>(p[2 * i] << 8 | p[2 * i + 1]); };
  return Ipv6Address(word(0), word(1), word(2), word(3), static_cast<std::uint16_t>((m[0] ^ 2) << 8 | m[1]),
                     static_cast<std::uint16_t>(m[2] << 8 | 0xff), static_cast<std::uint16_t>(0xfe00 | m[3]),
                     static_cast<std::uint16_t>(m[4] << 8 | m[5]));
}

Ipv6Address link_local(const Device& dev) { return eui64(Ipv6Address(0xfe80, 0, 0, 0, 0, 0, 0, 0), dev.mac()); }

std::optional<ipv6::AddressInfo> find_address(Net& net, const Ipv6Address& address) {
  for (const auto& info : ipv6::addresses(net)) {
    if (info.prefix.address() == address) return info;
  }
  return std::nullopt;
}

bool usable(Net& net, const Ipv6Address& address) {
  auto info = find_address(net, address);
  return info && !info->tentative && !info->dad_failed;
}

void step_for(Host& host, Clock::time_point& now, Clock::duration span) {
  const auto end = now + span;
  while (now < end) {
    now += std::chrono::milliseconds(10);
    host.poll(now);
  }
}

Ipv6ChannelTest::Ipv6ChannelTest(std::uint64_t secret, std::string_view net_name)
    : host_(HostConfig{.secret = secret}), net_name_(net_name) {}

void Ipv6ChannelTest::SetUp() {
  net_ = host_.create_net(net_name_).value();
  ASSERT_TRUE(set_link_up(net_->loopback()));  // down in a new namespace, as in Linux
  eth0_ = make_channel(*net_, "eth0").value();
}

void Ipv6ChannelTest::bring_up() {
  ASSERT_TRUE(set_link_up(*eth0_));
  run_for(std::chrono::seconds(3));
}

const ipv6::AddressInfo* Ipv6ChannelTest::find(const Ipv6Address& a) {
  infos_ = ipv6::addresses(*net_);
  for (const auto& info : infos_) {
    if (info.prefix.address() == a) return &info;
  }
  return nullptr;
}

}  // namespace netns::support
