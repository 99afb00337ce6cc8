// Bulk transfers across a veth that loses, delays, reorders and duplicates
// frames on purpose (set_link_faults), with every byte checked. Seeded:
// a failure replays exactly.
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <boost/asio/error.hpp>
#include <gtest/gtest.h>

#include "netns/device.hpp"
#include "netns/ipv4.hpp"
#include "netns/tcp.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace ipv4_tcp_lossy_transfer_test {

using namespace std::chrono_literals;

// The byte at offset i of the stream: position-dependent, so a byte
// delivered twice, skipped or misplaced shows.
std::byte stream_byte(std::uint64_t i) {
  return std::byte(static_cast<std::uint8_t>((i * 2654435761u) >> 13 ^ (i >> 20)));
}

struct LossCase {
  double loss;
  std::uint64_t bytes;
};

class TcpLossyTransfer : public support::AddressedTwoNets, public ::testing::WithParamInterface<LossCase> {
 protected:

  // Sends `total` bytes blue → red; returns the bytes red read, checking each.
  std::uint64_t transfer(std::uint64_t total, Clock::duration limit) {
    auto listener = tcp::listen(*red_, {Ipv4Address::any(), 5001}).value();
    auto client = tcp::connect(*blue_, {kRed, 5001}).value();
    tcp::Stream server;
    std::vector<std::byte> out(256 * 1024), in(256 * 1024);
    std::uint64_t sent = 0, received = 0;
    std::size_t out_begin = 0, out_end = 0;  // out[out_begin, out_end) is stream from `sent`
    bool shut = false;
    const auto end = clock_.now() + limit;
    while (clock_.now() < end) {
      const auto next = poll();
      if (!server.is_open()) {
        if (auto s = listener.accept()) server = std::move(*s);
      }
      while (sent < total) {
        if (out_begin == out_end) {
          out_begin = 0;
          out_end = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), total - sent));
          for (std::size_t i = 0; i < out_end; ++i) out[i] = stream_byte(sent + i);
        }
        auto w = client.write(std::span(out).subspan(out_begin, out_end - out_begin));
        if (!w) {
          EXPECT_EQ(w.error(), boost::asio::error::would_block) << w.error().message();
          break;
        }
        sent += *w;
        out_begin += *w;
      }
      if (sent == total && !shut) shut = static_cast<bool>(client.shutdown());
      while (server.is_open()) {
        auto r = server.read(in);
        if (!r) {
          EXPECT_EQ(r.error(), boost::asio::error::would_block) << r.error().message();
          break;
        }
        if (*r == 0) return received;  // FIN: the whole stream is in
        for (std::size_t i = 0; i < *r; ++i) {
          if (in[i] != stream_byte(received + i)) {
            ADD_FAILURE() << "byte " << received + i << " differs";
            return received;
          }
        }
        received += *r;
      }
      if (next > clock_.now()) clock_.set(std::min(next, end));
    }
    ADD_FAILURE() << "gave up at " << received << " bytes, state " << tcp::to_string(client.state());
    return received;
  }
};

TEST_P(TcpLossyTransfer, EveryByteArrivesInOrder) {
  const LossCase c = GetParam();
  LinkFaults faults{.loss = c.loss, .duplicate = 0.01, .reorder = 0.05,
                    .delay = 1ms, .jitter = 500us, .seed = 42};
  ASSERT_TRUE(set_link_faults(*blue_eth0_, faults));
  faults.seed = 43;
  ASSERT_TRUE(set_link_faults(*red_eth0_, faults));

  const auto start = clock_.now();
  EXPECT_EQ(transfer(c.bytes, 24h), c.bytes);
  RecordProperty("virtual_ms", static_cast<int>((clock_.now() - start) / 1ms));
  RecordProperty("retransmits", static_cast<int>(blue_->counters().get("TcpRetransSegs")));
  RecordProperty("timeouts", static_cast<int>(blue_->counters().get("TcpExtTCPTimeouts")));
  RecordProperty("tx_packets", static_cast<int>(blue_eth0_->stats().tx_packets));
  EXPECT_GT(blue_->counters().get("TcpRetransSegs"), 0u);
  EXPECT_EQ(blue_->counters().get("TcpExtTCPAbortOnTimeout"), 0u);
}

INSTANTIATE_TEST_SUITE_P(Loss, TcpLossyTransfer,
                         ::testing::Values(LossCase{0.01, 100u << 20}, LossCase{0.05, 100u << 20},
                                           LossCase{0.20, 100u << 20}),
                         [](const auto& info) {
                           return std::to_string(static_cast<int>(info.param.loss * 100)) + "percent";
                         });

}  // namespace ipv4_tcp_lossy_transfer_test
}  // namespace
}  // namespace netns
