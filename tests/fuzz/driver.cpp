#include "fuzz/driver.hpp"

#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "netns/wire/bytes.hpp"
#include "netns/wire/checksum.hpp"
#include "netns/wire/ethernet.hpp"
#include "netns/wire/ipv4.hpp"

namespace netns::fuzz {

namespace {

// The Host reports leaks and undead namespaces with this prefix; martian
// and source-route notes (input.cpp) are the stack working, not findings.
constexpr std::string_view kReportPrefix = "netns: namespace";

// Ten minutes past the longest TCP timeout (tcp_retries2 at the largest RTO).
constexpr auto kFinishSpan = std::chrono::hours(2);

HostConfig lab_config(std::vector<std::string>& messages) {
  HostConfig config;
  config.secret = kFuzzSecret;
  config.utc_offset = std::chrono::nanoseconds(0);
  config.log = [&messages](std::string_view m) {
    if (m.starts_with(kReportPrefix)) messages.emplace_back(m);
  };
  return config;
}

}  // namespace

std::uint8_t Input::u8() { return empty() ? 0 : data_[pos_++]; }

std::uint16_t Input::u16() { return static_cast<std::uint16_t>(u8() << 8 | u8()); }

std::uint32_t Input::u32() { return std::uint32_t{u16()} << 16 | u16(); }

std::size_t Input::pick(std::size_t n) {
  if (n == 0) return 0;
  return (n <= 256 ? u8() : u16()) % n;
}

std::span<const std::byte> Input::bytes(std::size_t max) {
  const std::size_t want = max <= 255 ? u8() % (max + 1) : u16() % (max + 1);
  return take(want);
}

Ipv4Address Input::address(std::span<const Ipv4Address> known) {
  const std::size_t i = pick(known.size() + 1);
  return i < known.size() ? known[i] : Ipv4Address(u32());
}

std::span<const std::byte> Input::take(std::size_t n) {
  const std::size_t got = std::min(n, remaining());
  auto out = std::as_bytes(data_.subspan(empty() ? data_.size() : pos_, got));
  pos_ += got;
  return out;
}

void fix_checksums(std::span<std::byte> frame) {
  auto eth = wire::EthernetMutView::checked(frame);
  if (!eth || eth->ethertype() != wire::EtherType::ipv4) return;
  auto ip = wire::Ipv4MutView::checked(eth->payload());
  if (!ip || ip->is_fragment()) return;
  if (ip->protocol() != wire::IpProtocol::icmp) {
    wire::fill_transport_checksum(eth->payload());
    return;
  }
  auto icmp = ip->payload();
  if (icmp.size() < 4) return;
  wire::store_be16(icmp, 2, 0);
  wire::store_be16(icmp, 2, wire::internet_checksum(icmp));
}

void drain(ChannelDevice& dev) {
  while (dev.read_packet()) {
  }
}

void fail(std::string_view what) {
  std::fprintf(stderr, "netns fuzz: %.*s\n", static_cast<int>(what.size()), what.data());
  std::fflush(stderr);
  std::abort();
}

Lab::Lab() { host_.emplace(lab_config(messages_)); }

Lab::~Lab() {
  host_.reset();
  if (!messages_.empty()) fail(messages_.front());
}

void Lab::poll() {
  for (int i = 0; i < 1000; ++i) {
    if (host_->poll(clock_.now()) > clock_.now()) return;
  }
  fail("the Host still has work after 1000 polls at one instant (a loop the poll budget does not bound?)");
}

void Lab::advance(Clock::duration span, std::size_t max_polls) {
  const auto end = clock_.now() + span;
  for (std::size_t i = 0; i < max_polls; ++i) {
    const auto next = host_->poll(clock_.now());
    if (next > end) break;
    if (next > clock_.now()) clock_.set(next);
  }
  clock_.set(end);
  host_->poll(clock_.now());
}

void Lab::finish() {
  const auto deadline = clock_.now() + kFinishSpan;
  for (int i = 0; i < 1'000'000; ++i) {
    const auto next = host_->poll(clock_.now());
    const HostStats s = host_->stats();
    if (s.live_nets == 1 && s.dying_nets == 0) break;
    if (next == Clock::time_point::max() || next > deadline) {
      fail(fmt::format("{} namespaces live and {} dying with nothing left to do for them: a reference "
                       "outlives its socket",
                       s.live_nets - 1, s.dying_nets));
    }
    if (next > clock_.now()) clock_.set(next);
  }
  const HostStats s = host_->stats();
  if (s.live_nets != 1 || s.dying_nets != 0) {
    fail(fmt::format("{} namespaces still live and {} dying after a million polls", s.live_nets - 1,
                     s.dying_nets));
  }
  if (s.leaked_holds != 0) fail(fmt::format("leaked_holds == {}", s.leaked_holds));
  if (s.packets_in_use != 0) {
    fail(fmt::format("{} packets in use once every namespace but init_net is gone", s.packets_in_use));
  }
  if (!messages_.empty()) fail(messages_.front());
}

}  // namespace netns::fuzz
