#include "support/ipv4_channel.hpp"

#include "netns/ipv4.hpp"
#include "netns/wire/bytes.hpp"
#include "netns/wire/ethernet.hpp"
#include "support/fixtures.hpp"

namespace netns::support {

HostConfig Ipv4ChannelTest::config(std::vector<std::string>* messages) {
  HostConfig c = test_config(messages);
  c.utc_offset = kUtcAtZero;
  return c;
}

void Ipv4ChannelTest::SetUp() {
  net_ = host_.create_net("dut").value();
  eth0_ = make_channel(*net_, "eth0").value();
  ASSERT_TRUE(set_link_up(*eth0_));
  ASSERT_TRUE(set_link_up(net_->loopback()));
  ASSERT_TRUE(ipv4::add_address(*net_, *eth0_, Ipv4Prefix(kChannelLocal, 24)));
}

void Ipv4ChannelTest::inject(const Bytes& frame, ChannelDevice* dev) {
  (dev != nullptr ? dev : eth0_)->inject(frame);
  host_.poll(clock_.now());
}

std::vector<Parsed> Ipv4ChannelTest::sent(ChannelDevice* dev) {
  std::vector<Parsed> out;
  for (const Bytes& f : sent_bytes(dev)) out.push_back(parse_frame(f));
  return out;
}

std::vector<Bytes> Ipv4ChannelTest::sent_bytes(ChannelDevice* dev) {
  std::vector<Bytes> out;
  while (auto f = (dev != nullptr ? dev : eth0_)->read()) {
    // IPv6's own traffic (DAD when the device came up) is not what an IPv4
    // test looks at.
    if (!keep_ipv6_ && f->size() >= 14 &&
        wire::load_be16(*f, 12) == static_cast<std::uint16_t>(wire::EtherType::ipv6)) {
      continue;
    }
    out.push_back(std::move(*f));
  }
  return out;
}

void Ipv4ChannelTest::learn_peer() {
  ASSERT_TRUE(ipv4::add_neighbour(*net_, *eth0_, kChannelPeer, kChannelPeerMac));
}

void Ipv4ChannelTest::run_for(Clock::duration span) {
  const auto end = clock_.now() + span;
  for (int i = 0; i < 1'000'000; ++i) {  // deadline by deadline, bounded
    const auto next = host_.poll(clock_.now());
    if (next > end) break;
    if (next > clock_.now()) clock_.set(next);
  }
  clock_.set(end);
  host_.poll(end);
}

}  // namespace netns::support
