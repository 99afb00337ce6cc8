// netns/capture.hpp — pcap files of any device's traffic (tcpdump -i DEV -w FILE).
//
//   auto cap = netns::start_capture(*veth, "/tmp/veth.pcap").value();
//   ... host.poll(...) ...
//   cap->stop();          // or let it go out of scope; then: tshark -r /tmp/veth.pcap
//
// A capture sees every frame the device receives (before a bridge or macvlan
// takes it) and every frame it sends, after netem: a frame netem loses is
// never written, one it delays is written when it leaves. The file is a
// classic pcap file (libpcap's pcap_dump, LINKTYPE_ETHERNET).
//
// What a reader shows:
// - Checksums are right. TCP and UDP segments over a veth or the loopback
//   carry an unfilled checksum (Packet::checksum_partial, as Linux's
//   CHECKSUM_PARTIAL); the capture fills it in its own copy of the bytes, so
//   tshark's checksum validation passes. The frame itself is never changed.
// - On the loopback each frame appears once, as received (libpcap on Linux
//   ignores the outgoing copy on lo): direction `out` on lo writes nothing.
// - Timestamps are Host::now() (the `now` of the current poll) plus
//   CaptureOptions::time_offset, read as time since the Unix epoch. A Host on
//   a VirtualClock that starts at Clock::time_point{} therefore shows frames
//   on 1970-01-01 00:00:00 UTC plus the virtual time; one driven by
//   std::chrono::steady_clock shows the time since boot, unless time_offset
//   shifts it to the wall clock:
//     opts.time_offset = std::chrono::system_clock::now().time_since_epoch() -
//                        std::chrono::steady_clock::now().time_since_epoch();
//
// Lifetime: the capture detaches by itself when its device unregisters —
// destroyed, moved to another namespace, or its Host destroyed — as Linux's
// packet socket unbinds (packet_notifier): the file is flushed and closed,
// later frames are not written, and the Capture object stays valid with
// running() false. It may outlive the Host, and the Host may outlive it.
// Single-threaded like everything on a Host: use it on the Host's thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "netns/device.hpp"
#include "netns/host.hpp"
#include "netns/result.hpp"

struct pcap;          // libpcap's pcap_t
struct pcap_dumper;   // libpcap's pcap_dumper_t

namespace netns {

// tcpdump -Q: which frames are written.
enum class CaptureDirection : std::uint8_t {
  in,     // received by the device
  out,    // sent by the device
  inout,  // both
};

struct CaptureOptions {
  // tcpdump's MAXIMUM_SNAPLEN: its default, and the most it accepts.
  static constexpr std::uint32_t kMaxSnaplen = 262144;

  // tcpdump -s: bytes written of each frame; 0 means kMaxSnaplen, as in tcpdump.
  std::uint32_t snaplen = kMaxSnaplen;
  // tcpdump -Q.
  CaptureDirection direction = CaptureDirection::inout;
  // tcpdump --time-stamp-precision=nano: a nanosecond pcap file (magic
  // 0xa1b23c4d) instead of the classic microsecond one.
  bool nanoseconds = false;
  // Added to Host::now() for every timestamp (see the top of this file).
  std::chrono::nanoseconds time_offset{0};
};

struct CaptureStats {
  std::uint64_t frames = 0;     // written to the file
  std::uint64_t bytes = 0;      // their length on the wire, before snaplen
  std::uint64_t truncated = 0;  // written cut to snaplen
};

class Capture final : private FrameObserver, private NetdevListener {
 public:
  ~Capture() override;  // stop(), ignoring its error
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  // Attached and writing: false after stop() or once the device unregistered.
  bool running() const { return dumper_ != nullptr; }
  const CaptureStats& stats() const { return stats_; }
  const std::string& path() const { return path_; }

  // Pushes what is buffered to the file (pcap_dump_flush), so a reader sees
  // every frame written so far. The error of a failed write (e.g.
  // no_space_on_device), which stays until stop(); nothing to do once stopped.
  [[nodiscard]] Result<void> flush();
  // Detaches from the device, flushes and closes the file. Idempotent; the
  // first write error of the capture's life, if any, is returned once.
  [[nodiscard]] Result<void> stop();

 private:
  friend Result<std::unique_ptr<Capture>> start_capture(Device&, std::string_view, CaptureOptions);

  Capture(Device& dev, std::string path, const CaptureOptions& options, pcap* handle,
          pcap_dumper* dumper);

  void observe(Device& dev, const Packet& frame, FrameDirection dir) override;
  void on_netdev_event(NetdevEvent event, Device& dev) override;
  bool wanted(FrameDirection dir) const;
  void write(std::span<const std::byte> bytes);
  void detach();
  void note_write_error();

  Device* device_;
  Host* host_;
  std::string path_;
  CaptureOptions options_;
  pcap* handle_;
  pcap_dumper* dumper_;
  CaptureStats stats_;
  boost::system::error_code write_error_;
  // Frames whose checksum is left to fill are copied here first: the Packet
  // is const to observers. File I/O, so not a PacketPool copy.
  std::vector<std::byte> scratch_;
};

// Starts writing `dev`'s frames to a new pcap file at `path` (created or
// truncated). Errors, with nothing attached and no file created:
// invalid_argument for a snaplen above CaptureOptions::kMaxSnaplen;
// no_such_device when the device is being destroyed; the errno of opening
// the file (no_such_file_or_directory, permission_denied, is_a_directory…).
// The path is a file name only: "-" is a file called "-", not stdout.
[[nodiscard]] Result<std::unique_ptr<Capture>> start_capture(Device& dev, std::string_view path,
                                               CaptureOptions options = {});

}  // namespace netns
