// Capture: pcap files of a device's frames, written with libpcap.
#include "netns/capture.hpp"

#include <pcap/pcap.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "netns/wire/checksum.hpp"
#include "netns/wire/ethernet.hpp"

namespace netns {

namespace {

// The pcap record time of `now`: seconds, and micro- or nanoseconds in
// tv_usec (which is what pcap_dump writes for a nanosecond handle). Times
// before the epoch are written as the epoch.
timeval pcap_time(Clock::time_point now, const CaptureOptions& options) {
  auto since_epoch = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()) +
                     options.time_offset;
  since_epoch = std::max(since_epoch, std::chrono::nanoseconds{0});
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  auto fraction = since_epoch - seconds;
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(seconds.count());
  tv.tv_usec = static_cast<suseconds_t>(
      options.nanoseconds ? fraction.count()
                          : std::chrono::duration_cast<std::chrono::microseconds>(fraction).count());
  return tv;
}

}  // namespace

Result<std::unique_ptr<Capture>> start_capture(Device& dev, std::string_view path,
                                               CaptureOptions options) {
  if (options.snaplen == 0) options.snaplen = CaptureOptions::kMaxSnaplen;
  if (options.snaplen > CaptureOptions::kMaxSnaplen) return error(Errc::invalid_argument);
  if (dev.is_unregistering()) return error(Errc::no_such_device);

  pcap_t* handle = pcap_open_dead_with_tstamp_precision(
      DLT_EN10MB, static_cast<int>(options.snaplen),
      options.nanoseconds ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO);
  if (handle == nullptr) return error(Errc::not_enough_memory);
  // fopen rather than pcap_dump_open: its errno is the error to report, and
  // "-" stays a file name instead of meaning stdout. 'e': close-on-exec.
  std::string file(path);
  std::FILE* stream = std::fopen(file.c_str(), "wbe");
  if (stream == nullptr) {
    auto err = errno_error(errno);
    pcap_close(handle);
    return err;
  }
  pcap_dumper_t* dumper = pcap_dump_fopen(handle, stream);
  if (dumper == nullptr) {
    auto err = errno_error(errno);
    std::fclose(stream);
    std::remove(file.c_str());
    pcap_close(handle);
    return err;
  }
  return std::unique_ptr<Capture>(new Capture(dev, std::move(file), options, handle, dumper));
}

Capture::Capture(Device& dev, std::string path, const CaptureOptions& options, pcap* handle,
                 pcap_dumper* dumper)
    : device_(&dev),
      host_(&dev.net().host()),
      path_(std::move(path)),
      options_(options),
      handle_(handle),
      dumper_(dumper) {
  // The listener first: from here on, the device going away detaches us.
  host_->add_netdev_listener(*this);
  dev.add_observer(*this);
}

Capture::~Capture() { (void)stop(); }

bool Capture::wanted(FrameDirection dir) const {
  // On lo every frame sent is also received: libpcap keeps only the received copy.
  if (dir == FrameDirection::tx && device_->kind() == DeviceKind::loopback) return false;
  switch (options_.direction) {
    case CaptureDirection::in: return dir == FrameDirection::rx;
    case CaptureDirection::out: return dir == FrameDirection::tx;
    case CaptureDirection::inout: return true;
  }
  return false;
}

void Capture::observe(Device&, const Packet& frame, FrameDirection dir) {
  if (dumper_ == nullptr || !wanted(dir)) return;
  if (!frame.checksum_partial) {
    write(frame.data());
    return;
  }
  // Fill the checksum the receiver would trust unverified, in our copy only.
  scratch_.assign(frame.data().begin(), frame.data().end());
  if (scratch_.size() >= wire::EthernetView::kHeaderLen) {
    wire::fill_transport_checksum(std::span(scratch_).subspan(wire::EthernetView::kHeaderLen));
  }
  write(scratch_);
}

void Capture::write(std::span<const std::byte> bytes) {
  pcap_pkthdr header{};
  header.ts = pcap_time(host_->now(), options_);
  header.len = static_cast<bpf_u_int32>(bytes.size());
  header.caplen = static_cast<bpf_u_int32>(std::min<std::size_t>(bytes.size(), options_.snaplen));
  pcap_dump(reinterpret_cast<u_char*>(dumper_), &header,
            reinterpret_cast<const u_char*>(bytes.data()));
  ++stats_.frames;
  stats_.bytes += bytes.size();
  if (header.caplen < header.len) ++stats_.truncated;
}

void Capture::on_netdev_event(NetdevEvent event, Device& dev) {
  if (event == NetdevEvent::unregistering && &dev == device_) detach();
}

void Capture::note_write_error() {
  if (!write_error_) write_error_ = errno_error(errno);
}

Result<void> Capture::flush() {
  if (dumper_ != nullptr) {
    errno = 0;
    if (pcap_dump_flush(dumper_) != 0 || std::ferror(pcap_dump_file(dumper_)) != 0) note_write_error();
  }
  if (write_error_) return write_error_;
  return {};
}

void Capture::detach() {
  if (dumper_ == nullptr) return;
  device_->remove_observer(*this);
  host_->remove_netdev_listener(*this);
  (void)flush();
  pcap_dump_close(dumper_);
  pcap_close(handle_);
  dumper_ = nullptr;
  handle_ = nullptr;
  device_ = nullptr;
  host_ = nullptr;
  scratch_ = {};
}

Result<void> Capture::stop() {
  detach();
  if (write_error_) {
    auto err = write_error_;
    write_error_ = {};
    return err;
  }
  return {};
}

}  // namespace netns
