// TAP: a Linux TAP interface as a netns device, read without blocking in Host::poll.
#include "netns/tap.hpp"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/device_internal.hpp"
#include "devices/tap_internal.hpp"
#include "netns/host.hpp"
#include "netns/wire/ethernet.hpp"

namespace netns {

namespace {

// tun's max_mtu: MAX_MTU (65535) minus the Ethernet header.
constexpr std::uint32_t kTunMaxMtu = 65535 - 14;
// What a frame may carry beyond the MTU: the Ethernet header and one VLAN tag.
constexpr std::size_t kLinkOverhead = 14 + 4;
// Where the rest of a frame longer than our MTU lands, so it is read whole
// and dropped as oversize instead of being silently cut: the largest frame a
// tun interface can send.
constexpr std::size_t kOverflowSize = 65536 + kLinkOverhead;

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

class TapDevice final : public Device {
 public:
  TapDevice(Net& net, std::string_view name, Fd fd)
      : Device(net, name, DeviceKind::tap, random_mac(net.host()), 1500),
        fd_(std::move(fd)),
        linux_name_(name) {
    // Down until set_link_up, like the netns side: no carrier for the kernel.
    set_kernel_carrier(false);
  }

  bool polled() const override { return true; }
  bool netns_refund() const override { return true; }  // the Linux interface outlives the namespace
  int rx_fd() const override { return fd_.get(); }
  std::uint32_t max_mtu() const override { return kTunMaxMtu; }
  const std::string& linux_name() const { return linux_name_; }

 private:
  void on_updown() override { set_kernel_carrier(is_up()); }

  std::size_t poll_rx(std::size_t budget) override {
    std::size_t taken = 0;
    while (taken < budget && !detached_ && read_frame()) ++taken;
    return taken;
  }

  // One read: false when nothing more is there now (EAGAIN) or reading failed.
  bool read_frame() {
    const std::size_t room = mtu() + kLinkOverhead;
    Packet frame = net().host().packets().allocate(room);
    if (!frame) {
      ++stats_.rx_dropped;
      return false;
    }
    if (overflow_.empty()) overflow_.resize(kOverflowSize);
    // Reading into the Packet is the I/O that brings the frame in, not a copy.
    iovec iov[2] = {{frame.mutable_data().data(), room}, {overflow_.data(), overflow_.size()}};
    ssize_t n;
    do {
      n = ::readv(fd_.get(), iov, 2);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      count_read_error(errno);
      return false;
    }
    if (n == 0) {  // tun never reads 0 bytes; a socket standing in for it is closed
      detach();
      return false;
    }
    const auto size = static_cast<std::size_t>(n);
    if (size < wire::EthernetView::kHeaderLen || size > room) {
      ++stats_.rx_length_errors;
      ++stats_.rx_errors;
      return true;  // consumed a frame: the round goes on
    }
    frame.trim(size);
    receive(std::move(frame));
    return true;
  }

  void count_read_error(int err) {
    if (err == EAGAIN || err == EWOULDBLOCK) return;
    ++stats_.rx_errors;
    if (err == EBADFD) detach();
  }

  void xmit(Packet frame) override {
    const std::size_t size = frame.size();
    if (detached_) {
      ++stats_.tx_dropped;
      return;
    }
    ssize_t n;
    do {
      n = ::write(fd_.get(), frame.data().data(), size);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(size)) {
      count_tx(size);
      return;
    }
    count_write_error(n < 0 ? errno : 0);
  }

  void count_write_error(int err) {
    // EIO: the Linux interface is down; EAGAIN/ENOBUFS: the kernel is out of room.
    if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || err == EIO) {
      ++stats_.tx_dropped;
      return;
    }
    ++stats_.tx_errors;
    if (err == EBADFD) detach();
  }

  // The interface was deleted under us (ip link del): the descriptor is
  // dead, and the device has no carrier from now on.
  void detach() {
    if (detached_) return;
    detached_ = true;
    set_carrier(false);
    net().host().log(fmt::format("tap {}: Linux interface {} is gone; the device has no carrier now",
                                 name(), linux_name_));
  }

  void set_kernel_carrier(bool on) {
    int carrier = on ? 1 : 0;
    // Kernels before 4.19 lack TUNSETCARRIER: the Linux side then keeps its
    // carrier, and frames queue until the device comes up or the queue fills.
    (void)::ioctl(fd_.get(), TUNSETCARRIER, &carrier);
  }

  Fd fd_;
  std::string linux_name_;
  bool detached_ = false;
  std::vector<std::byte> overflow_;  // allocated on the first read
};

// Opens /dev/net/tun and attaches it to the TAP interface `name` (created if absent).
Result<Fd> open_tun(std::string_view name, std::string& linux_name) {
  Fd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENXIO || err == ENODEV) return error(Errc::no_such_device);
    return errno_error(err);
  }
  ifreq ifr{};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  std::memcpy(ifr.ifr_name, name.data(), name.size());  // <= 15 bytes: NUL-terminated by ifr{}
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) {
    const int err = errno;
    // The only EINVAL our valid name and fixed flags can meet: a Linux
    // interface of that name exists and is not a TAP.
    if (err == EINVAL) return error(Errc::file_exists);
    return errno_error(err);
  }
  linux_name.assign(ifr.ifr_name, ::strnlen(ifr.ifr_name, IFNAMSIZ));
  return fd;
}

}  // namespace

Result<Device*> make_tap(Net& net, std::string_view name) {
  // Asked before the kernel makes an interface.
  if (auto ok = net.check_new_device(name); !ok) return ok.error();
  std::string linux_name;
  auto fd = open_tun(name, linux_name);
  if (!fd) return fd.error();
  // A pattern (tap%d) became a real name only now; if registration refuses
  // it (taken here), closing the descriptor deletes the interface the kernel
  // just made.
  return net.register_device(std::make_unique<TapDevice>(net, linux_name, std::move(*fd)));
}

Result<Device*> make_tap_on_descriptor(Net& net, std::string_view name, int fd) {
  Fd owned(fd);
  // poll_rx must never block the Host's thread.
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return errno_error(errno);
  return net.register_device(std::make_unique<TapDevice>(net, name, std::move(owned)));
}

std::string tap_linux_name(const Device& dev) {
  if (dev.kind() != DeviceKind::tap) return {};
  return static_cast<const TapDevice&>(dev).linux_name();
}

}  // namespace netns
