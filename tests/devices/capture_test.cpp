// Capture: pcap files of a device's frames. Every file is read back with
// libpcap and checked with the stack's own wire views; where tshark is
// installed it reads them too, with checksum validation on, and must find
// the expected frames and protocols and no bad checksum.
#include <pcap/pcap.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "netns/capture.hpp"
#include "netns/icmp.hpp"
#include "netns/ipv4.hpp"
#include "netns/tcp.hpp"
#include "netns/udp.hpp"
#include "netns/wire/checksum.hpp"
#include "netns/wire/ethernet.hpp"
#include "netns/wire/ipv4.hpp"
#include "support/fixtures.hpp"
#include "support/ipv4_frames.hpp"

namespace netns {
namespace {
namespace devices_capture_test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Record {
  std::int64_t sec = 0, frac = 0;  // micro- or nanoseconds, as the file says
  std::uint32_t caplen = 0, len = 0;
  std::vector<std::byte> bytes;
};

// Every record of a pcap file, read with libpcap; fails the test when it cannot.
std::vector<Record> read_pcap(const fs::path& path, bool nanoseconds = false) {
  std::array<char, PCAP_ERRBUF_SIZE> errbuf{};
  pcap_t* in = pcap_open_offline_with_tstamp_precision(
      path.c_str(), nanoseconds ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO,
      errbuf.data());
  if (in == nullptr) {
    ADD_FAILURE() << "pcap_open_offline " << path << ": " << errbuf.data();
    return {};
  }
  EXPECT_EQ(pcap_datalink(in), DLT_EN10MB);
  std::vector<Record> records;
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  while (pcap_next_ex(in, &header, &data) == 1) {
    const auto* bytes = reinterpret_cast<const std::byte*>(data);
    records.push_back({header->ts.tv_sec, header->ts.tv_usec, header->caplen, header->len,
                       std::vector<std::byte>(bytes, bytes + header->caplen)});
  }
  pcap_close(in);
  return records;
}

// TCP and UDP segments, in complete records, whose checksum does not verify.
int bad_transport_checksums(const std::vector<Record>& records) {
  int bad = 0;
  for (const Record& r : records) {
    auto eth = wire::EthernetView::checked(r.bytes);
    if (!eth || eth->ethertype() != wire::EtherType::ipv4 || r.caplen != r.len) continue;
    auto ip = wire::Ipv4View::checked(eth->payload());
    if (!ip) continue;
    auto proto = ip->protocol();
    if (proto != wire::IpProtocol::tcp && proto != wire::IpProtocol::udp) continue;
    if (wire::ipv4_transport_checksum(ip->src(), ip->dst(), static_cast<std::uint8_t>(proto),
                                      ip->payload()) != 0) {
      ++bad;
    }
  }
  return bad;
}

bool have_tshark() { return std::system("command -v tshark >/dev/null 2>&1") == 0; }

// What tshark says of each frame, checksum validation on for IP, TCP and UDP
// (ICMP's is always checked): the protocol stack and each checksum status
// (Wireshark's 0 bad, 1 good, 2 unverified; empty when the header is absent).
struct TsharkFrame {
  std::string protocols, ip, tcp, udp, icmp, tcp_len;
};

std::vector<TsharkFrame> tshark_read(const fs::path& path) {
  std::string command = fmt::format(
      "tshark -r '{}' -n -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE "
      "-o ip.check_checksum:TRUE -T fields -E separator=, -e frame.protocols "
      "-e ip.checksum.status -e tcp.checksum.status -e udp.checksum.status "
      "-e icmp.checksum.status -e tcp.len 2>/dev/null",
      path.string());
  std::vector<TsharkFrame> frames;
  std::FILE* out = ::popen(command.c_str(), "r");
  if (out == nullptr) {
    ADD_FAILURE() << "popen: " << command;
    return frames;
  }
  std::string text;
  std::array<char, 4096> chunk{};
  while (std::size_t n = std::fread(chunk.data(), 1, chunk.size(), out)) text.append(chunk.data(), n);
  EXPECT_EQ(::pclose(out), 0) << command;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::array<std::string, 6> f;
    std::istringstream fields(line);
    for (std::string& field : f) std::getline(fields, field, ',');
    frames.push_back({f[0], f[1], f[2], f[3], f[4], f[5]});
  }
  return frames;
}

struct TsharkSummary {
  int frames = 0, arp = 0, tcp = 0, udp = 0, icmp = 0;
  int good = 0, bad = 0;  // checksum statuses over every header present
  int tcp_payload = 0;
};

TsharkSummary summarize(const std::vector<TsharkFrame>& frames) {
  TsharkSummary s;
  for (const TsharkFrame& f : frames) {
    ++s.frames;
    if (f.protocols.find(":arp") != std::string::npos) ++s.arp;
    if (f.protocols.find(":tcp") != std::string::npos) ++s.tcp;
    if (f.protocols.find(":udp") != std::string::npos) ++s.udp;
    if (f.protocols.find(":icmp") != std::string::npos) ++s.icmp;
    for (const std::string* status : {&f.ip, &f.tcp, &f.udp, &f.icmp}) {
      if (*status == "1") ++s.good;
      if (*status == "0") ++s.bad;
    }
    if (!f.tcp_len.empty()) s.tcp_payload += std::stoi(f.tcp_len);
  }
  return s;
}

std::span<const std::byte> text(std::string_view s) { return std::as_bytes(std::span(s)); }

// blue 192.0.2.1/24 — veth — red 192.0.2.2/24, and a directory of its own
// for the files (the pid and the test's name in it), removed afterwards.
class CaptureTest : public support::AddressedTwoNets {
 protected:
  void SetUp() override {
    AddressedTwoNets::SetUp();
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           fmt::format("netns-capture-{}-{}", ::getpid(), info->name());
    fs::remove_all(dir_);
    ASSERT_TRUE(fs::create_directory(dir_));
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  fs::path file(std::string_view name) const { return dir_ / name; }

  std::unique_ptr<Capture> start(Device& dev, std::string_view name, CaptureOptions options = {}) {
    auto cap = start_capture(dev, file(name).string(), options);
    EXPECT_TRUE(cap) << cap.error().message();
    return cap ? std::move(*cap) : nullptr;
  }

  // Each side knows the other's MAC address: no ARP in the files.
  void static_neighbours() {
    ASSERT_TRUE(ipv4::add_neighbour(*blue_, *blue_eth0_, kRed, red_eth0_->mac()));
    ASSERT_TRUE(ipv4::add_neighbour(*red_, *red_eth0_, kBlue, blue_eth0_->mac()));
  }

  static std::uint64_t frames_seen(const Device& dev) {
    return dev.stats().rx_packets + dev.stats().tx_packets;
  }

  fs::path dir_;
};

constexpr std::string_view kRequest = "GET / HTTP/1.0\r\n\r\n";
constexpr std::string_view kReply = "HTTP/1.0 200 OK\r\n\r\nhello from red";

TEST_F(CaptureTest, TcpExchangeOnAVethReadsBackWithGoodChecksums) {
  // No router solicitations, and IPv6's duplicate address detection ends:
  // the file holds only the exchange.
  support::no_router_solicitations({blue_.get(), red_.get()});
  run_for(support::kPastDad);
  const std::uint64_t before = frames_seen(*blue_eth0_);
  auto cap = start(*blue_eth0_, "tcp.pcap");
  ASSERT_TRUE(cap);
  auto listener = tcp::listen(*red_, {Ipv4Address::any(), 80}).value();
  auto client = tcp::connect(*blue_, {kRed, 80}).value();
  poll();
  auto server = listener.accept().value();
  ASSERT_EQ(client.write(text(kRequest)).value(), kRequest.size());
  poll();
  std::array<std::byte, 256> buf{};
  ASSERT_EQ(server.read(buf).value(), kRequest.size());
  ASSERT_EQ(server.write(text(kReply)).value(), kReply.size());
  poll();
  ASSERT_EQ(client.read(buf).value(), kReply.size());
  ASSERT_TRUE(client.shutdown());
  ASSERT_TRUE(server.shutdown());
  run_for(1s);
  EXPECT_EQ(client.state(), tcp::State::time_wait);

  ASSERT_TRUE(cap->stop());
  const std::uint64_t expected = frames_seen(*blue_eth0_) - before;
  EXPECT_EQ(cap->stats().frames, expected);
  auto records = read_pcap(file("tcp.pcap"));
  ASSERT_EQ(records.size(), expected);
  // Over the veth every segment left its checksum unfilled; the file has them filled.
  EXPECT_EQ(bad_transport_checksums(records), 0);
  EXPECT_EQ(cap->stats().truncated, 0u);

  if (!have_tshark()) GTEST_SKIP() << "tshark not found: the file was not checked with Wireshark";
  auto s = summarize(tshark_read(file("tcp.pcap")));
  EXPECT_EQ(s.frames, static_cast<int>(expected));
  EXPECT_EQ(s.arp, 2);  // who-has and is-at
  EXPECT_EQ(s.tcp, s.frames - 2);
  EXPECT_GE(s.tcp, 7);  // three for the handshake, two data, two FINs at least
  EXPECT_EQ(s.tcp_payload, static_cast<int>(kRequest.size() + kReply.size()));
  EXPECT_EQ(s.bad, 0);
  EXPECT_EQ(s.good, 2 * s.tcp);  // IP and TCP of every segment verified good
}

TEST_F(CaptureTest, UdpExchangeReadsBackWithGoodChecksums) {
  auto cap = start(*red_eth0_, "udp.pcap");
  ASSERT_TRUE(cap);
  auto server = udp::open(*red_).value();
  ASSERT_TRUE(server.bind({Ipv4Address::any(), 5353}));
  auto client = udp::open(*blue_).value();
  constexpr int kDatagrams = 3;
  std::array<std::byte, 64> buf{};
  for (int i = 0; i < kDatagrams; ++i) {
    ASSERT_TRUE(client.send_to(text("ping over udp"), {kRed, 5353}));
    poll();
    auto got = server.receive_from(buf).value();
    ASSERT_TRUE(server.send_to(std::span(buf).first(got.size), got.from));
    poll();
    ASSERT_TRUE(client.receive_from(buf));
  }

  ASSERT_TRUE(cap->stop());
  auto records = read_pcap(file("udp.pcap"));
  ASSERT_EQ(records.size(), frames_seen(*red_eth0_));
  EXPECT_EQ(bad_transport_checksums(records), 0);

  if (!have_tshark()) GTEST_SKIP() << "tshark not found: the file was not checked with Wireshark";
  auto s = summarize(tshark_read(file("udp.pcap")));
  EXPECT_EQ(s.frames, 2 + 2 * kDatagrams);
  EXPECT_EQ(s.arp, 2);
  EXPECT_EQ(s.udp, 2 * kDatagrams);
  EXPECT_EQ(s.bad, 0);
  EXPECT_EQ(s.good, 2 * s.udp);
}

TEST_F(CaptureTest, PingReadsBackWithGoodChecksums) {
  auto cap = start(*blue_eth0_, "ping.pcap");
  ASSERT_TRUE(cap);
  auto ping = icmp::open(*blue_).value();
  constexpr int kEchoes = 3;
  for (std::uint16_t seq = 1; seq <= kEchoes; ++seq) {
    ASSERT_TRUE(ping.send_echo(kRed, seq, text("0123456789abcdef")));
    poll();
    ASSERT_TRUE(ping.receive());
  }

  ASSERT_TRUE(cap->stop());
  auto records = read_pcap(file("ping.pcap"));
  ASSERT_EQ(records.size(), frames_seen(*blue_eth0_));
  EXPECT_EQ(records.size(), 2u + 2 * kEchoes);

  if (!have_tshark()) GTEST_SKIP() << "tshark not found: the file was not checked with Wireshark";
  auto s = summarize(tshark_read(file("ping.pcap")));
  EXPECT_EQ(s.frames, 2 + 2 * kEchoes);
  EXPECT_EQ(s.arp, 2);
  EXPECT_EQ(s.icmp, 2 * kEchoes);
  EXPECT_EQ(s.bad, 0);
  EXPECT_EQ(s.good, 2 * s.icmp);
}

TEST_F(CaptureTest, DirectionsInAndOutSplitWhatInoutSees) {
  auto in = start(*blue_eth0_, "in.pcap", {.direction = CaptureDirection::in});
  auto out = start(*blue_eth0_, "out.pcap", {.direction = CaptureDirection::out});
  auto both = start(*blue_eth0_, "both.pcap");
  ASSERT_TRUE(in && out && both);
  auto ping = icmp::open(*blue_).value();
  ASSERT_TRUE(ping.send_echo(kRed, 1));
  poll();
  ASSERT_TRUE(ping.receive());

  EXPECT_EQ(in->stats().frames, blue_eth0_->stats().rx_packets);
  EXPECT_EQ(out->stats().frames, blue_eth0_->stats().tx_packets);
  EXPECT_EQ(both->stats().frames, in->stats().frames + out->stats().frames);
  ASSERT_TRUE(in->stop());
  ASSERT_TRUE(out->stop());
  auto received = read_pcap(file("in.pcap"));
  auto sent = read_pcap(file("out.pcap"));
  ASSERT_EQ(received.size(), 2u);  // ARP reply, echo reply
  ASSERT_EQ(sent.size(), 2u);      // ARP request, echo request
  for (const Record& r : received) {
    EXPECT_EQ(wire::EthernetView::checked(r.bytes)->src(), red_eth0_->mac());
  }
  for (const Record& r : sent) {
    EXPECT_EQ(wire::EthernetView::checked(r.bytes)->src(), blue_eth0_->mac());
  }
}

TEST_F(CaptureTest, SnaplenCutsFramesAndKeepsTheirLength) {
  auto cap = start(*blue_eth0_, "snap.pcap", {.snaplen = 64, .direction = CaptureDirection::out});
  ASSERT_TRUE(cap);
  static_neighbours();
  auto client = udp::open(*blue_).value();
  std::vector<std::byte> payload(1000, std::byte{0x42});
  ASSERT_TRUE(client.send_to(payload, {kRed, 9}));
  ASSERT_TRUE(client.send_to(text("tiny"), {kRed, 9}));
  poll();

  EXPECT_EQ(cap->stats().frames, 2u);
  EXPECT_EQ(cap->stats().truncated, 1u);
  EXPECT_EQ(cap->stats().bytes, (14 + 20 + 8 + 1000) + (14 + 20 + 8 + 4u));
  ASSERT_TRUE(cap->stop());
  auto records = read_pcap(file("snap.pcap"));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].caplen, 64u);
  EXPECT_EQ(records[0].len, 14u + 20 + 8 + 1000);
  EXPECT_EQ(records[1].caplen, records[1].len);  // shorter than the snaplen: whole

  if (!have_tshark()) GTEST_SKIP() << "tshark not found: the file was not checked with Wireshark";
  auto s = summarize(tshark_read(file("snap.pcap")));
  EXPECT_EQ(s.udp, 2);
  EXPECT_EQ(s.bad, 0);
}

TEST_F(CaptureTest, SnaplenZeroIsTheMaximumAndAboveIsRefused) {
  auto too_big = start_capture(*blue_eth0_, file("big.pcap").string(),
                               {.snaplen = CaptureOptions::kMaxSnaplen + 1});
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error(), Errc::invalid_argument);
  EXPECT_FALSE(fs::exists(file("big.pcap")));  // refused before creating anything

  auto zero = start(*blue_eth0_, "zero.pcap", {.snaplen = 0});
  ASSERT_TRUE(zero);
  ASSERT_TRUE(zero->stop());
  std::array<char, PCAP_ERRBUF_SIZE> errbuf{};
  pcap_t* in = pcap_open_offline(file("zero.pcap").c_str(), errbuf.data());
  ASSERT_NE(in, nullptr) << errbuf.data();
  EXPECT_EQ(pcap_snapshot(in), static_cast<int>(CaptureOptions::kMaxSnaplen));
  pcap_close(in);
}

TEST_F(CaptureTest, LoopbackFramesAreWrittenOnce) {
  Device& lo = blue_->loopback();
  ASSERT_TRUE(set_link_up(lo));
  auto cap = start(lo, "lo.pcap");
  auto out_only = start(lo, "lo-out.pcap", {.direction = CaptureDirection::out});
  ASSERT_TRUE(cap && out_only);
  auto ping = icmp::open(*blue_).value();
  ASSERT_TRUE(ping.send_echo(kBlue, 1));  // to itself: through lo
  poll();
  ASSERT_TRUE(ping.receive());

  EXPECT_EQ(lo.stats().tx_packets, 2u);  // request and reply, each sent and received on lo
  EXPECT_EQ(lo.stats().rx_packets, 2u);
  EXPECT_EQ(cap->stats().frames, 2u);
  EXPECT_EQ(out_only->stats().frames, 0u);  // as libpcap on Linux: lo's outgoing copies are skipped
  ASSERT_TRUE(cap->stop());
  EXPECT_EQ(read_pcap(file("lo.pcap")).size(), 2u);
}

TEST_F(CaptureTest, DetachesWhenTheDeviceIsDestroyed) {
  auto cap = start(*red_eth0_, "destroyed.pcap");
  auto second = start(*red_eth0_, "second.pcap");  // both hear the device go
  ASSERT_TRUE(cap && second);
  auto ping = icmp::open(*blue_).value();
  ASSERT_TRUE(ping.send_echo(kRed, 1));
  poll();
  const std::uint64_t before = cap->stats().frames;
  EXPECT_EQ(before, 4u);

  ASSERT_TRUE(destroy_device(*blue_eth0_));  // takes its peer, red's eth0, with it
  red_eth0_ = blue_eth0_ = nullptr;
  poll();
  EXPECT_FALSE(cap->running());
  EXPECT_FALSE(second->running());
  EXPECT_EQ(cap->stats().frames, before);
  // Closed by the detach: a reader sees every frame without a stop().
  EXPECT_EQ(read_pcap(file("destroyed.pcap")).size(), before);
  EXPECT_TRUE(cap->flush());
  EXPECT_TRUE(cap->stop());
  EXPECT_TRUE(cap->stop());
}

TEST_F(CaptureTest, DetachesWhenTheDeviceMovesAndWritesNothingAfter) {
  auto cap = start(*red_eth0_, "moved.pcap");
  ASSERT_TRUE(cap);
  auto ping = icmp::open(*blue_).value();
  ASSERT_TRUE(ping.send_echo(kRed, 1));
  poll();
  ASSERT_TRUE(ping.receive());
  const std::uint64_t before = cap->stats().frames;

  auto green = host_.create_net("green").value();
  ASSERT_TRUE(host_.move_device(*red_eth0_, *green));
  EXPECT_FALSE(red_eth0_->is_unregistering());
  EXPECT_FALSE(cap->running());
  // The device lives on in green and carries traffic the capture no longer sees.
  ASSERT_TRUE(set_link_up(*red_eth0_));
  ASSERT_TRUE(ipv4::add_address(*green, *red_eth0_, Ipv4Prefix::parse("192.0.2.2/24").value()));
  ASSERT_TRUE(ping.send_echo(kRed, 2));
  run_for(1s);
  ASSERT_TRUE(ping.receive());
  EXPECT_GT(red_eth0_->stats().tx_packets, 2u);
  EXPECT_EQ(cap->stats().frames, before);
  EXPECT_EQ(read_pcap(file("moved.pcap")).size(), before);
}

TEST_F(CaptureTest, StopClosesTheFileAndLaterFramesAreNotWritten) {
  auto cap = start(*blue_eth0_, "stopped.pcap");
  ASSERT_TRUE(cap);
  auto ping = icmp::open(*blue_).value();
  ASSERT_TRUE(ping.send_echo(kRed, 1));
  poll();
  ASSERT_TRUE(cap->flush());
  EXPECT_EQ(read_pcap(file("stopped.pcap")).size(), 4u);  // flushed: readable while running
  ASSERT_TRUE(cap->stop());
  EXPECT_FALSE(cap->running());
  ASSERT_TRUE(ping.send_echo(kRed, 2));
  poll();
  EXPECT_EQ(cap->stats().frames, 4u);
  EXPECT_EQ(read_pcap(file("stopped.pcap")).size(), 4u);
}

TEST_F(CaptureTest, FileErrorsComeBackAndNothingIsAttached) {
  auto missing = start_capture(*blue_eth0_, file("no/such/dir.pcap").string());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), Errc::no_such_file_or_directory);
  auto directory = start_capture(*blue_eth0_, dir_.string());
  ASSERT_FALSE(directory);
  EXPECT_EQ(directory.error(), Errc::is_a_directory);
  // Nothing attached: frames flow, and the device can go away, with no capture to hear it.
  auto ping = icmp::open(*blue_).value();
  ASSERT_TRUE(ping.send_echo(kRed, 1));
  poll();
  ASSERT_TRUE(ping.receive());
  ASSERT_TRUE(destroy_device(*blue_eth0_));
  poll();
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(CaptureTest, FramesNetemLosesAreNotWritten) {
  static_neighbours();  // no ARP to lose: every frame is a datagram
  ASSERT_TRUE(set_link_faults(*blue_eth0_, LinkFaults{.loss = 0.5, .seed = 3}));
  auto sent = start(*blue_eth0_, "lossy-out.pcap", {.direction = CaptureDirection::out});
  auto received = start(*red_eth0_, "lossy-in.pcap", {.direction = CaptureDirection::in});
  ASSERT_TRUE(sent && received);
  auto server = udp::open(*red_).value();
  ASSERT_TRUE(server.bind({Ipv4Address::any(), 5353}));
  auto client = udp::open(*blue_).value();
  constexpr int kDatagrams = 40;
  for (int i = 0; i < kDatagrams; ++i) ASSERT_TRUE(client.send_to(text("maybe"), {kRed, 5353}));
  poll();
  int arrived = 0;
  std::array<std::byte, 16> buf{};
  while (server.receive_from(buf)) ++arrived;

  EXPECT_GT(arrived, 0);
  EXPECT_LT(arrived, kDatagrams);
  EXPECT_EQ(sent->stats().frames, static_cast<std::uint64_t>(arrived));
  EXPECT_EQ(received->stats().frames, static_cast<std::uint64_t>(arrived));
  ASSERT_TRUE(sent->stop());
  EXPECT_EQ(read_pcap(file("lossy-out.pcap")).size(), static_cast<std::size_t>(arrived));
}

TEST_F(CaptureTest, TimestampsAreTheHostClock) {
  clock_.advance(2s);  // IPv6's duplicate address detection ends: the files hold one frame
  poll();
  auto micro = start(*blue_eth0_, "micro.pcap", {.direction = CaptureDirection::out});
  auto nano = start(*blue_eth0_, "nano.pcap",
                    {.direction = CaptureDirection::out, .nanoseconds = true, .time_offset = 1000s});
  ASSERT_TRUE(micro && nano);
  static_neighbours();
  auto client = udp::open(*blue_).value();
  clock_.advance(1s + 234567891ns);
  poll();
  ASSERT_TRUE(client.send_to(text("now"), {kRed, 9}));
  poll();
  ASSERT_TRUE(micro->stop());
  ASSERT_TRUE(nano->stop());

  // The virtual clock started at Clock::time_point{}: 1970-01-01 plus its
  // time, 3.234567891 s.
  auto us = read_pcap(file("micro.pcap"));
  ASSERT_EQ(us.size(), 1u);
  EXPECT_EQ(us[0].sec, 3);
  EXPECT_EQ(us[0].frac, 234567);
  auto ns = read_pcap(file("nano.pcap"), /*nanoseconds=*/true);
  ASSERT_EQ(ns.size(), 1u);
  EXPECT_EQ(ns[0].sec, 1003);
  EXPECT_EQ(ns[0].frac, 234567891);
}

TEST_F(CaptureTest, TheObservedFrameIsNotChangedNorCopied) {
  // A UDP frame sent over the veth with its checksum left to fill, kept by an
  // rx handler on the far end so the test can look at it after the capture did.
  class Keep final : public RxHandler {
   public:
    RxResult handle_frame(Device&, Packet& frame) override {
      kept.push_back(std::move(frame));
      return RxResult::consumed;
    }
    std::vector<Packet> kept;
  } keep;
  ASSERT_TRUE(red_eth0_->set_rx_handler(keep));
  auto cap = start(*red_eth0_, "partial.pcap");
  ASSERT_TRUE(cap);

  auto bytes = support::udp_frame(red_eth0_->mac(), blue_eth0_->mac(), kBlue, kRed, 4000, 9, 32);
  constexpr std::size_t kUdpChecksum = 14 + 20 + 6;
  bytes[kUdpChecksum] = bytes[kUdpChecksum + 1] = std::byte{0};  // unfilled, as the offload leaves it
  Packet frame = host_.packets().allocate_from(bytes);
  frame.checksum_partial = true;
  const std::uint64_t copies = host_.stats().packet_copies;
  blue_eth0_->transmit(std::move(frame));
  poll();

  ASSERT_EQ(keep.kept.size(), 1u);
  EXPECT_TRUE(keep.kept[0].checksum_partial);
  EXPECT_TRUE(std::ranges::equal(keep.kept[0].data(), bytes));
  EXPECT_EQ(host_.stats().packet_copies, copies);
  ASSERT_TRUE(cap->stop());
  auto records = read_pcap(file("partial.pcap"));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_NE(records[0].bytes[kUdpChecksum], std::byte{0});
  EXPECT_EQ(bad_transport_checksums(records), 0);
  red_eth0_->clear_rx_handler();
}

TEST(CaptureLifetime, CaptureOutlivesItsHost) {
  auto dir = fs::temp_directory_path() / fmt::format("netns-capture-{}-outlives", ::getpid());
  fs::create_directories(dir);
  std::unique_ptr<Capture> cap;
  {
    Host host(support::test_config());
    auto net = host.create_net("blue").value();
    ASSERT_TRUE(set_link_up(net->loopback()));
    cap = start_capture(net->loopback(), (dir / "lo.pcap").string()).value();
    EXPECT_TRUE(cap->running());
  }  // the Host tears its namespaces down: the loopback unregisters
  EXPECT_FALSE(cap->running());
  EXPECT_TRUE(cap->stop());
  EXPECT_TRUE(read_pcap(dir / "lo.pcap").empty());
  cap.reset();
  fs::remove_all(dir);
}

}  // namespace devices_capture_test
}  // namespace
}  // namespace netns
