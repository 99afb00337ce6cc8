#include "support/tcp_peer.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "netns/ipv4.hpp"
#include "netns/wire/ethernet.hpp"

namespace netns::support {

namespace {

// The peer's timestamp clock runs in milliseconds from an origin of its own.
constexpr std::uint32_t kPeerTsOrigin = 7'000'000;

std::string where_text(const std::source_location& where) {
  return fmt::format("{}:{}", where.file_name(), where.line());
}

std::string flag_text(std::uint8_t flags) {
  std::string out;
  if (flags & kTcpSyn) out += 'S';
  if (flags & kTcpFin) out += 'F';
  if (flags & kTcpRst) out += 'R';
  if (flags & kTcpPsh) out += 'P';
  if (flags & wire::kTcpUrg) out += 'U';
  if (flags & wire::kTcpEce) out += 'E';
  if (flags & wire::kTcpCwr) out += 'W';
  if (flags & kTcpAck) out += '.';
  return out.empty() ? "none" : out;
}

}  // namespace

std::uint32_t TcpSegment::end() const {
  return tcp.seq_number + static_cast<std::uint32_t>(payload.size()) + (has(kTcpSyn) ? 1 : 0) +
         (has(kTcpFin) ? 1 : 0);
}

std::string describe(const wire::TcpRepr& tcp) {
  std::string out = fmt::format("{} > {} [{}] seq {}", tcp.src_port, tcp.dst_port, flag_text(tcp.flags),
                                tcp.seq_number);
  if (tcp.flags & kTcpAck) out += fmt::format(" ack {}", tcp.ack_number);
  out += fmt::format(" win {}", tcp.window);
  std::vector<std::string> options;
  if (tcp.mss) options.push_back(fmt::format("mss {}", *tcp.mss));
  if (tcp.window_scale) options.push_back(fmt::format("wscale {}", *tcp.window_scale));
  if (tcp.sack_permitted) options.emplace_back("sackOK");
  if (tcp.timestamps) options.push_back(fmt::format("TS val {} ecr {}", tcp.timestamps->value, tcp.timestamps->echo));
  if (tcp.sack_block_count != 0) {
    std::string sack = fmt::format("sack {} ", tcp.sack_block_count);
    for (std::size_t i = 0; i < tcp.sack_block_count; ++i) {
      sack += fmt::format("{{{}:{}}}", tcp.sack_blocks[i].left, tcp.sack_blocks[i].right);
    }
    options.push_back(std::move(sack));
  }
  if (!options.empty()) out += fmt::format(" <{}>", fmt::join(options, ","));
  out += fmt::format(" length {}", tcp.payload_len);
  return out;
}

void PrintTo(const TcpSegment& seg, std::ostream* os) {
  *os << fmt::format("{} at {} ms", describe(seg.tcp),
                     std::chrono::duration_cast<std::chrono::milliseconds>(seg.at.time_since_epoch()).count());
}

Bytes pattern(std::size_t size, std::uint8_t seed) {
  Bytes out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = std::byte(static_cast<std::uint8_t>(i + seed));
  return out;
}

// ---- TcpPeer: the wire ----

void TcpPeer::attach(Host& host, VirtualClock& clock, ChannelDevice& dev, Endpoint self, Endpoint remote) {
  host_ = &host;
  clock_ = &clock;
  dev_ = &dev;
  self_ = self;
  remote_ = remote;
}

void TcpPeer::send(const wire::TcpRepr& tcp, std::span<const std::byte> payload) {
  wire::TcpRepr repr = tcp;
  repr.payload_len = payload.size();
  Bytes segment(repr.buffer_len());
  std::copy(payload.begin(), payload.end(), segment.begin() + static_cast<std::ptrdiff_t>(repr.header_len()));
  repr.emit(segment, self_.address.to_v4(), remote_.address.to_v4());
  send_raw(segment);
}

void TcpPeer::send_raw(std::span<const std::byte> bytes) {
  dev_->inject(ipv4_frame(dev_->mac(), kTcpPeerMac,
                          {.src = self_.address.to_v4(), .dst = remote_.address.to_v4(), .protocol = wire::IpProtocol::tcp,
                           .dont_fragment = true, .tos = static_cast<std::uint8_t>(ecn_)},
                          bytes));
  poll();
}

void TcpPeer::send_frag_needed(const TcpSegment& seg, std::uint16_t mtu) {
  Bytes icmp(8 + 20 + 8);
  icmp[0] = std::byte{3};  // destination unreachable
  icmp[1] = std::byte{4};  // fragmentation needed and DF set
  icmp[6] = std::byte(mtu >> 8);
  icmp[7] = std::byte(mtu & 0xff);
  // The quoted datagram: its IP header as sent, then ports and sequence.
  wire::Ipv4Repr ip = seg.ip;
  ip.payload_len = seg.tcp.header_len() + seg.payload.size();
  ip.emit(std::span(icmp).subspan(8, 20));
  auto tcp = std::span(icmp).subspan(28, 8);
  wire::store_be16(tcp, 0, seg.tcp.src_port);
  wire::store_be16(tcp, 2, seg.tcp.dst_port);
  wire::store_be32(tcp, 4, seg.tcp.seq_number);
  wire::store_be16(icmp, 2, wire::internet_checksum(icmp));
  dev_->inject(ipv4_frame(dev_->mac(), kTcpPeerMac,
                          {.src = self_.address.to_v4(), .dst = remote_.address.to_v4(), .protocol = wire::IpProtocol::icmp},
                          icmp));
  poll();
}

void TcpPeer::poll() {
  for (int i = 0; i < 1000; ++i) {
    const auto next = host_->poll(clock_->now());
    drain();
    if (next > clock_->now()) return;
  }
  ADD_FAILURE() << "the Host still has work after 1000 polls at one instant";
}

void TcpPeer::drain() {
  while (auto frame = dev_->read()) {
    auto eth = wire::EthernetView::checked(*frame);
    if (!eth) {
      ADD_FAILURE() << "the namespace sent a frame shorter than an Ethernet header";
      continue;
    }
    const auto eth_repr = wire::EthernetRepr::parse(*eth);
    if (eth_repr->ethertype == wire::EtherType::arp) continue;  // the peer is a permanent neighbour
    // IPv6's own traffic (DAD when the device came up): not the peer's business.
    if (eth_repr->ethertype == wire::EtherType::ipv6) continue;
    auto ip = wire::Ipv4View::checked(eth->payload());
    auto ip_repr = ip ? wire::Ipv4Repr::parse(*ip) : Result<wire::Ipv4Repr>(ip.error());
    if (!ip_repr || ip_repr->protocol != wire::IpProtocol::tcp) {
      ADD_FAILURE() << "the namespace sent a frame that is not a valid IPv4 TCP datagram";
      continue;
    }
    auto view = wire::TcpView::checked(ip->payload());
    auto tcp = view ? wire::TcpRepr::parse(*view, ip_repr->src, ip_repr->dst) : Result<wire::TcpRepr>(view.error());
    if (!tcp) {
      ADD_FAILURE() << "the namespace sent a malformed TCP segment (bad checksum, length or option)";
      continue;
    }
    EXPECT_EQ(eth_repr->dst, kTcpPeerMac);
    received_.push_back({.ip = *ip_repr,
                         .tcp = *tcp,
                         .payload = Bytes(view->payload().begin(), view->payload().end()),
                         .at = clock_->now()});
  }
}

TcpSegment TcpPeer::expect(std::source_location where) {
  poll();
  if (received_.empty()) {
    ADD_FAILURE_AT(where.file_name(), static_cast<int>(where.line()))
        << "expected a TCP segment from the namespace at "
        << std::chrono::duration_cast<std::chrono::milliseconds>(clock_->now().time_since_epoch()).count()
        << " ms, but it sent none";
    return {};
  }
  TcpSegment seg = std::move(received_.front());
  received_.pop_front();
  if (seg.tcp.timestamps) ts_recent_ = seg.tcp.timestamps->value;
  return seg;
}

TcpSegment TcpPeer::expect(std::uint8_t flags, std::source_location where) {
  const bool any = pending() != 0;  // expect() reports the absence itself
  TcpSegment seg = expect(where);
  if (any && seg.tcp.flags != flags) {
    ADD_FAILURE_AT(where.file_name(), static_cast<int>(where.line()))
        << "expected flags [" << flag_text(flags) << "], the namespace sent " << ::testing::PrintToString(seg);
  }
  return seg;
}

void TcpPeer::expect_none(std::source_location where) {
  poll();
  if (received_.empty()) return;
  std::string sent;
  for (const auto& seg : received_) sent += "\n  " + ::testing::PrintToString(seg);
  ADD_FAILURE_AT(where.file_name(), static_cast<int>(where.line()))
      << "expected silence from the namespace, it sent:" << sent;
  received_.clear();
}

std::size_t TcpPeer::pending() {
  poll();
  return received_.size();
}

// ---- virtual time ----

void TcpPeer::run_for(Clock::duration span) { run_until(clock_->now() + span); }

void TcpPeer::run_until(Clock::time_point end) { run(end, false); }

TcpSegment TcpPeer::expect_within(Clock::duration limit, std::source_location where) {
  run(clock_->now() + limit, true);
  return expect(where);
}

void TcpPeer::run(Clock::time_point end, bool stop_at_segment) {
  for (int i = 0; i < 1'000'000; ++i) {
    const auto next = host_->poll(clock_->now());
    drain();
    if (stop_at_segment && !received_.empty()) return;
    if (next <= clock_->now()) continue;  // the poll budget ran out
    if (next > end) {
      clock_->set(end);
      poll();
      return;
    }
    clock_->set(next);
  }
  ADD_FAILURE() << "the Host kept finding work: a timer loop?";
}

// ---- segments from the peer's state ----

std::uint32_t TcpPeer::tsval() const {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_->now().time_since_epoch());
  return kPeerTsOrigin + static_cast<std::uint32_t>(ms.count());
}

wire::TcpRepr TcpPeer::syn(const PeerOptions& opts) const {
  wire::TcpRepr r{.src_port = self_.port, .dst_port = remote_.port, .seq_number = iss_, .flags = kTcpSyn,
                  .window = opts.syn_window, .mss = opts.mss, .window_scale = opts.window_scale,
                  .sack_permitted = opts.sack_permitted};
  if (opts.timestamps) r.timestamps = wire::TcpTimestamps{tsval(), 0};
  if (opts.ecn) r.flags |= wire::kTcpEce | wire::kTcpCwr;
  return r;
}

wire::TcpRepr TcpPeer::segment(std::uint8_t flags) const {
  wire::TcpRepr r{.src_port = self_.port, .dst_port = remote_.port, .seq_number = snd_nxt_, .flags = flags,
                  .window = window_};
  if (flags & kTcpAck) r.ack_number = rcv_nxt_;
  if (timestamps_) r.timestamps = wire::TcpTimestamps{tsval(), ts_recent_};
  return r;
}

void TcpPeer::send_data(std::span<const std::byte> payload, std::uint8_t flags) {
  send(segment(flags), payload);
  snd_nxt_ += static_cast<std::uint32_t>(payload.size());
}

void TcpPeer::send_data(std::size_t size, std::uint8_t flags) {
  send_data(pattern(size, static_cast<std::uint8_t>(snd_nxt_ - iss_)), flags);
}

void TcpPeer::send_fin() {
  send(segment(kTcpFin | kTcpAck));
  snd_nxt_ += 1;
}

void TcpPeer::ack(const TcpSegment& seg) {
  if (static_cast<std::int32_t>(seg.end() - rcv_nxt_) > 0) rcv_nxt_ = seg.end();
  send_ack();
}

// ---- handshakes ----

void TcpPeer::learn_syn(const TcpSegment& syn, const PeerOptions& opts) {
  remote_iss_ = syn.seq();
  rcv_nxt_ = syn.seq() + 1;
  timestamps_ = opts.timestamps && syn.tcp.timestamps.has_value();
  remote_wscale_ = opts.window_scale && syn.tcp.window_scale ? *syn.tcp.window_scale : 0;
  window_ = opts.window;
}

void TcpPeer::learn_synack(const TcpSegment& synack, const PeerOptions& opts) {
  learn_syn(synack, opts);
  snd_nxt_ = iss_ + 1;
}

TcpSegment TcpPeer::connect(const PeerOptions& opts, std::source_location where) {
  snd_nxt_ = iss_;
  send(syn(opts));
  TcpSegment synack = expect(kTcpSyn | kTcpAck | (opts.ecn ? wire::kTcpEce : 0), where);
  EXPECT_EQ(synack.ack(), iss_ + 1) << "at " << where_text(where);
  learn_synack(synack, opts);
  run_for(opts.rtt);
  send_ack();
  return synack;
}

TcpSegment TcpPeer::take_syn(std::source_location where) {
  TcpSegment syn_seg = expect(where);
  EXPECT_EQ(syn_seg.tcp.flags & ~(wire::kTcpEce | wire::kTcpCwr), kTcpSyn) << "at " << where_text(where);
  remote_ = {syn_seg.ip.src, syn_seg.tcp.src_port};
  EXPECT_EQ(syn_seg.tcp.dst_port, self_.port) << "at " << where_text(where);
  return syn_seg;
}

TcpSegment TcpPeer::accept(const PeerOptions& opts, std::source_location where) {
  TcpSegment syn_seg = take_syn(where);
  learn_syn(syn_seg, opts);
  run_for(opts.rtt);
  wire::TcpRepr synack = syn(opts);
  synack.flags = kTcpSyn | kTcpAck | (opts.ecn ? wire::kTcpEce : 0);
  synack.ack_number = rcv_nxt_;
  if (!syn_seg.tcp.window_scale) synack.window_scale.reset();
  if (!syn_seg.tcp.sack_permitted) synack.sack_permitted = false;
  if (timestamps_) {
    synack.timestamps = wire::TcpTimestamps{tsval(), syn_seg.tcp.timestamps->value};
  } else {
    synack.timestamps.reset();
  }
  send(synack);
  snd_nxt_ = iss_ + 1;
  TcpSegment ack = expect(kTcpAck, where);
  EXPECT_EQ(ack.seq(), remote_iss_ + 1) << "at " << where_text(where);
  EXPECT_EQ(ack.ack(), iss_ + 1) << "at " << where_text(where);
  return syn_seg;
}

// ---- the fixture ----

void TcpPeerTest::SetUp() {
  net_ = host_.create_net("dut").value();
  eth0_ = make_channel(*net_, "eth0").value();
  ASSERT_TRUE(set_link_up(*eth0_));
  ASSERT_TRUE(set_link_up(net_->loopback()));
  ASSERT_TRUE(ipv4::add_address(*net_, *eth0_, Ipv4Prefix::parse("192.0.2.1/24").value()));
  ASSERT_TRUE(ipv4::add_neighbour(*net_, *eth0_, kTcpPeer, kTcpPeerMac));
  peer_.attach(host_, clock_, *eth0_, {kTcpPeer, kTcpPeerPort}, {kTcpLocal, kTcpLocalPort});
  peer_.expect_none();
}

tcp::Listener TcpPeerTest::listen(std::uint16_t port, int backlog) {
  auto listener = tcp::listen(*net_, {Ipv4Address::any(), port}, backlog);
  EXPECT_TRUE(listener) << listener.error().message();
  return listener ? std::move(*listener) : tcp::Listener();
}

tcp::Stream TcpPeerTest::accept_peer(tcp::Listener& listener, const PeerOptions& opts) {
  peer_.connect(opts);
  auto stream = listener.accept();
  EXPECT_TRUE(stream) << stream.error().message();
  return stream ? std::move(*stream) : tcp::Stream();
}

tcp::Stream TcpPeerTest::connect_peer(const PeerOptions& opts) {
  auto stream = tcp::connect(*net_, peer_.self());
  EXPECT_TRUE(stream) << stream.error().message();
  peer_.accept(opts);
  return stream ? std::move(*stream) : tcp::Stream();
}

tcp::Stream TcpPeerTest::established(const PeerOptions& opts) {
  listener_ = listen();
  return accept_peer(listener_, opts);
}

void TcpPeerTest::sysctl(std::string_view name, std::string_view value) {
  auto ok = net_->sysctl().set(name, value);
  ASSERT_TRUE(ok) << name << " = " << value << ": " << ok.error().message();
}

void TcpPeerTest::expect_failed(tcp::Stream& s, boost::system::errc::errc_t error, std::source_location where) {
  EXPECT_EQ(s.state(), tcp::State::closed) << "at " << where_text(where);
  std::array<std::byte, 4> buf{};
  auto n = s.read(buf);
  EXPECT_FALSE(n) << "at " << where_text(where);
  if (!n) {
    EXPECT_EQ(n.error(), error) << "at " << where_text(where);
  }
}

void TcpPeerTest::expect_timeout_at(tcp::Stream& s, Clock::time_point at, std::source_location where) {
  peer_.run_until(at - std::chrono::nanoseconds(1));
  EXPECT_NE(s.state(), tcp::State::closed) << "at " << where_text(where);
  peer_.run_until(at);
  expect_failed(s, boost::system::errc::timed_out, where);
  EXPECT_EQ(counter("TcpExtTCPAbortOnTimeout"), 1u) << "at " << where_text(where);
}

Result<std::size_t> TcpPeerTest::write(tcp::Stream& s, std::size_t size) { return s.write(pattern(size)); }

Bytes TcpPeerTest::read_all(tcp::Stream& s) {
  Bytes out;
  std::array<std::byte, 4096> buf{};
  for (;;) {
    auto n = s.read(buf);
    if (!n || *n == 0) break;
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
  }
  return out;
}

}  // namespace netns::support
