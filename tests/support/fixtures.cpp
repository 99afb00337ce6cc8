#include "support/fixtures.hpp"

#include <fmt/format.h>

#include "netns/device.hpp"
#include "netns/ipv4.hpp"
#include "netns/ipv6.hpp"
#include "netns/net.hpp"
#include "netns/sysctl.hpp"

namespace netns::support {

HostConfig test_config(std::vector<std::string>* messages) {
  HostConfig config;
  config.secret = kTestSecret;
  if (messages != nullptr) {
    config.log = [messages](std::string_view m) { messages->emplace_back(m); };
  }
  return config;
}

Packet make_frame(Host& host, MacAddress dst, MacAddress src, std::uint16_t ethertype,
                  std::size_t payload_size) {
  Packet p = host.packets().allocate(kEthHeader + payload_size);
  auto bytes = p.mutable_data();
  for (std::size_t i = 0; i < 6; ++i) {
    bytes[i] = std::byte{dst.octets[i]};
    bytes[6 + i] = std::byte{src.octets[i]};
  }
  bytes[12] = std::byte(ethertype >> 8);
  bytes[13] = std::byte(ethertype & 0xff);
  for (std::size_t i = 0; i < payload_size; ++i) bytes[kEthHeader + i] = std::byte(i & 0xff);
  return p;
}

RecordingHandler::RecordingHandler(Host& host, std::uint16_t ethertype)
    : host_(host), ethertype_(ethertype) {
  auto added = host_.add_packet_handler(ethertype_, *this);
  EXPECT_TRUE(added) << "ethertype " << ethertype_ << " already has a handler";
}

RecordingHandler::~RecordingHandler() { host_.remove_packet_handler(ethertype_); }

void RecordingHandler::process(Net& net, Device& dev, Packet frame) {
  frames_.push_back({net.id(), std::string(dev.name()), dev.ifindex(), frame.size()});
  if (on_frame) on_frame(net, dev, std::move(frame));
}

Result<void> RecordingOps::init(Net& net) {
  if (++init_calls_ == fail_on_) {
    log_->push_back(fmt::format("fail:{}:{}", tag_, net.id()));
    return error(kFailure);
  }
  log_->push_back(init_entry(tag_, net.id()));
  return {};
}

void RecordingOps::exit(Net& net) { log_->push_back(exit_entry(tag_, net.id())); }

std::string init_entry(std::string_view tag, std::uint32_t net_id) {
  return fmt::format("init:{}:{}", tag, net_id);
}

std::string exit_entry(std::string_view tag, std::uint32_t net_id) {
  return fmt::format("exit:{}:{}", tag, net_id);
}

void HostTest::run_for(Clock::duration span) {
  const auto end = clock_.now() + span;
  for (int i = 0; i < 1'000'000; ++i) {
    const auto next = poll();
    if (next > end) break;
    if (next > clock_.now()) clock_.set(next);
  }
  clock_.set(end);
  poll();
}

std::vector<std::uint32_t> HostTest::live_ids() {
  std::vector<std::uint32_t> ids;
  host_.for_each_net([&](Net& net) { ids.push_back(net.id()); });
  return ids;
}

void link_two_nets(Host& host, LinkedNets& out, bool addresses) {
  auto blue = host.create_net("blue");
  auto red = host.create_net("red");
  ASSERT_TRUE(blue && red);
  out.blue = std::move(*blue);
  out.red = std::move(*red);
  auto veth = make_veth(*out.blue, "eth0", *out.red, "eth0");
  ASSERT_TRUE(veth);
  out.blue_eth0 = veth->a;
  out.red_eth0 = veth->b;
  ASSERT_TRUE(set_link_up(*out.blue_eth0));
  ASSERT_TRUE(set_link_up(*out.red_eth0));
  if (!addresses) return;
  ASSERT_TRUE(ipv4::add_address(*out.blue, *out.blue_eth0, Ipv4Prefix(Ipv4Address(192, 0, 2, 1), 24)));
  ASSERT_TRUE(ipv4::add_address(*out.red, *out.red_eth0, Ipv4Prefix(Ipv4Address(192, 0, 2, 2), 24)));
}

void route_through(Host& host, RoutedNets& out) {
  out.a = host.create_net("a").value();
  out.r = host.create_net("r").value();
  out.b = host.create_net("b").value();
  auto left = make_veth(*out.a, "eth0", *out.r, "left");
  auto right = make_veth(*out.r, "right", *out.b, "eth0");
  ASSERT_TRUE(left && right);
  out.a_eth0 = left->a;
  out.r_left = left->b;
  out.r_right = right->a;
  out.b_eth0 = right->b;
  for (Device* d : {out.a_eth0, out.r_left, out.r_right, out.b_eth0}) ASSERT_TRUE(set_link_up(*d));
  no_router_solicitations({out.a.get(), out.b.get()});
  no_router_solicitations({out.r.get()}, "left");
  no_router_solicitations({out.r.get()}, "right");
  const auto v4 = [](std::string_view p) { return Ipv4Prefix::parse(p).value(); };
  const auto v6 = [](std::string_view p) { return Ipv6Prefix::parse(p).value(); };
  ASSERT_TRUE(ipv4::add_address(*out.a, *out.a_eth0, v4("192.0.2.1/24")));
  ASSERT_TRUE(ipv4::add_address(*out.r, *out.r_left, v4("192.0.2.2/24")));
  ASSERT_TRUE(ipv4::add_address(*out.r, *out.r_right, v4("198.51.100.1/24")));
  ASSERT_TRUE(ipv4::add_address(*out.b, *out.b_eth0, v4("198.51.100.2/24")));
  ASSERT_TRUE(ipv4::add_route(*out.a, {.prefix = v4("0.0.0.0/0"), .via = Ipv4Address(192, 0, 2, 2)}));
  ASSERT_TRUE(ipv4::add_route(*out.b, {.prefix = v4("0.0.0.0/0"), .via = Ipv4Address(198, 51, 100, 1)}));
  ASSERT_TRUE(ipv6::add_address(*out.a, *out.a_eth0, v6("2001:db8:1::1/64")));
  ASSERT_TRUE(ipv6::add_address(*out.r, *out.r_left, v6("2001:db8:1::2/64")));
  ASSERT_TRUE(ipv6::add_address(*out.r, *out.r_right, v6("2001:db8:2::1/64")));
  ASSERT_TRUE(ipv6::add_address(*out.b, *out.b_eth0, v6("2001:db8:2::2/64")));
  ASSERT_TRUE(ipv6::add_route(*out.a, {.prefix = v6("::/0"), .via = Ipv6Address::parse("2001:db8:1::2").value(),
                                       .dev = out.a_eth0}));
  ASSERT_TRUE(ipv6::add_route(*out.b, {.prefix = v6("::/0"), .via = Ipv6Address::parse("2001:db8:2::1").value(),
                                       .dev = out.b_eth0}));
  ASSERT_TRUE(out.r->sysctl().set("net.ipv4.ip_forward", "1"));
  ASSERT_TRUE(out.r->sysctl().set("net.ipv6.conf.all.forwarding", "1"));
}

void no_router_solicitations(std::initializer_list<Net*> nets, std::string_view device) {
  for (Net* net : nets) {
    ASSERT_TRUE(net->sysctl().set(fmt::format("net.ipv6.conf.{}.accept_ra", device), "0")) << net->name();
  }
}

void TwoNets::set_up(bool addresses) {
  LinkedNets nets;
  link_two_nets(host_, nets, addresses);
  blue_ = std::move(nets.blue);
  red_ = std::move(nets.red);
  blue_eth0_ = nets.blue_eth0;
  red_eth0_ = nets.red_eth0;
}

void TwoNets::SetUp() { set_up(false); }

Packet TwoNets::frame_to_red(std::size_t payload, std::uint16_t ethertype) {
  return make_frame(host_, red_eth0_->mac(), blue_eth0_->mac(), ethertype, payload);
}

Packet TwoNets::frame_to_blue(std::size_t payload, std::uint16_t ethertype) {
  return make_frame(host_, blue_eth0_->mac(), red_eth0_->mac(), ethertype, payload);
}

}  // namespace netns::support

namespace netns::support {

void AddressedTwoNets::SetUp() { set_up(true); }

}  // namespace netns::support
