// The mechanisms every IPv4 and IPv6 socket shares, written once:
//
//   InetSocket     a socket's family and addresses as the demultiplexer sees
//                  them, its pending error (Linux's sk_err) and its
//                  readiness callback;
//   SocketTable    one namespace's sockets of one protocol, both families,
//                  by local port: bind with conflict checks, ephemeral
//                  allocation, lookup;
//   ReceiveQueue   a receive queue bounded in bytes (Linux's sk_rcvbuf),
//                  charged the truesize of what it holds.
//
// A protocol keeps one SocketTable per namespace in its pernet slot, for
// both families, as Linux's udp_table and inet_hashinfo hold AF_INET and
// AF_INET6 sockets side by side:
//
//   SocketTable table(net, wire::IpProtocol::udp);
//   table.bind(sock, {Ipv4Address::any(), 0});        // an ephemeral port
//   InetSocket* s = table.lookup({meta.dst, dport}, {meta.src, sport});
//
// Dual stack: an IPv6 socket bound to :: takes IPv4 datagrams too, unless
// it is v6-only; one bound to ::ffff:a.b.c.d takes only IPv4 ones to
// a.b.c.d. Its addresses stay IPv6 (an IPv4 peer is ::ffff:a.b.c.d); lookup
// and matches() take the datagram's own addresses, either family.
//
// One thread (the Host's) uses all of this; nothing here is locked.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/system/error_code.hpp>

#include "netns/address.hpp"
#include "netns/bounded_queue.hpp"
#include "netns/device.hpp"
#include "netns/packet.hpp"
#include "netns/resources.hpp"
#include "netns/result.hpp"
#include "netns/wire/ipv4.hpp"

namespace netns {
class Net;
}
namespace netns::ipv6 {
class Ipv6Stack;
}

namespace netns::ipv4 {

class SocketTable;
class Ipv4Stack;
struct IcmpError;

// inet_bind's address check: 0.0.0.0, one of the namespace's addresses, a
// broadcast or multicast address, or anything with ip_nonlocal_bind=1.
// address_not_available otherwise.
Result<void> check_bind_address(Net& net, Ipv4Stack& stack, Ipv4Address address);
// inet6_bind's: ::, a multicast address, or one of the namespace's usable
// (not tentative) addresses — a link-local one with the scope id of its
// device (invalid_argument without one, no_such_device for an unknown
// ifindex); ::ffff:a.b.c.d as check_bind_address, not for a v6-only socket
// (invalid_argument). address_not_available otherwise.
Result<void> check_bind_address(Net& net, Ipv4Stack& ipv4, ipv6::Ipv6Stack& ipv6, const Ipv6Address& address,
                                bool v6only);
// 255.255.255.255 or the broadcast address of one of the namespace's
// subnets: what needs SO_BROADCAST to send to.
bool is_broadcast_destination(Net& net, Ipv4Stack& stack, Ipv4Address address);

// Linux's icmp_err_convert "fatal" column: the errors a connected socket
// without IP_RECVERR reports (port and protocol unreachable, unknown or
// prohibited destinations). Soft errors (net/host unreachable, TTL
// exceeded, fragmentation needed) are transient and ignored by such sockets.
bool is_hard_error(const IcmpError& error);

// What a socket of any protocol has in common: the four-tuple the table
// matches on, sk_err, and the readiness callback. Protocol sockets derive
// from it; the table keeps non-owning pointers, and a socket leaves its
// table in its destructor.
class InetSocket {
 public:
  // An IPv6 socket is v6-only from birth when net.ipv6.bindv6only says so.
  explicit InetSocket(Family family = Family::ipv4, bool v6only = false)
      : local_(unspecified_endpoint(family)), remote_(unspecified_endpoint(family)), family_(family),
        v6only_(family == Family::ipv6 && v6only) {}
  InetSocket(const InetSocket&) = delete;
  InetSocket& operator=(const InetSocket&) = delete;
  virtual ~InetSocket();

  Family family() const { return family_; }
  // IPV6_V6ONLY: an IPv6 socket that takes no IPv4 datagram. Settable only
  // before bind, on an IPv6 socket (invalid_argument otherwise), as Linux.
  bool v6only() const { return v6only_; }
  Result<void> set_v6only(bool v6only);

  // The unspecified address of the socket's family, port 0, until bound;
  // the port is the echo id for ping sockets.
  // By reference: a copy read back in parts stalls on its own stores.
  const Endpoint& local() const { return local_; }
  // Port 0 when not connected.
  const Endpoint& remote() const { return remote_; }
  bool is_bound() const { return table_ != nullptr; }
  bool is_connected() const { return remote_.port != 0; }

  // sk_err: set by an ICMP error, reported once by the next operation.
  void set_error(boost::system::error_code error) { error_ = error; }
  bool has_error() const { return static_cast<bool>(error_); }
  boost::system::error_code take_error() { return std::exchange(error_, {}); }

  void set_readable_callback(std::function<void()> callback) { readable_ = std::move(callback); }
  // Runs the readiness callback, if any. It may close this socket: callers
  // touch nothing of it afterwards.
  void notify_readable();

 private:
  friend class SocketTable;

  static constexpr Endpoint unspecified_endpoint(Family family) {
    return family == Family::ipv6 ? Endpoint{Ipv6Address::any(), 0} : Endpoint{Ipv4Address::any(), 0};
  }

  Endpoint local_;
  Endpoint remote_;
  Family family_;
  bool v6only_;
  SocketTable* table_ = nullptr;
  std::uint64_t serial_ = 0;  // unique per table: tells a closed socket from a new one at the same address
  bool shared_ = false;       // bound by bind_shared: counted, not listed
  boost::system::error_code error_{};
  std::function<void()> readable_;
};

// What an ephemeral port must also satisfy when a connection leaves
// through one queue of a port with several (Device::rss_queue): the RSS
// hash of its four-tuple picks that queue, so the replies come back to the
// core that opened it (Seastar's choice of ports). The symmetric key makes
// the replies' hash the requests'.
struct RssPick {
  IpAddress local;  // the source address the connection will have
  Endpoint remote;
  RssQueue queue;
  // Whether source port `port` brings the replies to `queue`.
  bool accepts(std::uint16_t port) const;
};

// One namespace's sockets of one protocol, demultiplexed by local port.
class SocketTable {
 public:
  SocketTable(Net& net, wire::IpProtocol protocol);
  // Sockets still bound (only when the Host is destroyed under open
  // sockets) are detached, so closing them later touches no freed table.
  ~SocketTable();
  SocketTable(const SocketTable&) = delete;
  SocketTable& operator=(const SocketTable&) = delete;

  // Binds `sock` to `local` (of the socket's family); port 0 picks an
  // ephemeral port from net.ipv4.ip_local_port_range. Two sockets conflict
  // on one port when the addresses they take overlap: in each family,
  // either is bound to the unspecified address or both to the same one; a
  // dual-stack :: takes 0.0.0.0 too, ::ffff:a.b.c.d is a.b.c.d (Linux's
  // inet_rcv_saddr_equal). There is no SO_REUSEADDR yet: this is where it
  // would go. address_in_use on a conflict or when the range is exhausted;
  // invalid_argument when `sock` is already bound or `local` is of the
  // other family. Checking that the address is local is the caller's job.
  // With `rss`, an ephemeral port is one whose replies come back to its
  // queue (about one port in rss->queue.queues qualifies).
  Result<void> bind(InetSocket& sock, Endpoint local, const std::optional<RssPick>& rss = std::nullopt);
  // Joins `local`'s port without the conflict check: a TCP connection
  // accepted by a listener shares its port (Linux's __inet_inherit_port).
  // Such sockets are counted per port and address, not listed: a server
  // with 100,000 connections on port 80 binds and unbinds each in O(1).
  // They hold the port against new binds, but lookup(), matches(), find()
  // and for_each() do not see them (their protocol demultiplexes them).
  void bind_shared(InetSocket& sock, Endpoint local);
  // Holds `local` against new binds as bind_shared does, for what is no
  // socket: a TCP TIME_WAIT record keeps its port (Linux's tw_tb). One
  // release() per hold().
  void hold(Endpoint local);
  void release(Endpoint local);
  // Leaves the table (close, or a disconnect that drops an automatic bind).
  void unbind(InetSocket& sock);
  // connect(): the source address a route chose replaces the unspecified
  // one (Linux's rehash keeps the port without a new conflict check), and
  // the peer is set. Both of the socket's family.
  void set_local_address(InetSocket& sock, IpAddress address);
  void set_remote(InetSocket& sock, Endpoint remote);

  // The socket a datagram from `remote` to `local` belongs to, best match
  // first as Linux's compute_score: a specific local address and a matching
  // connected peer each count, and for an IPv4 datagram an IPv4 socket
  // beats a dual-stack one; a connected socket never takes another peer's
  // datagram. nullptr when none.
  InetSocket* lookup(const Endpoint& local, const Endpoint& remote) const;
  // Every socket a broadcast or multicast datagram to `local` reaches (bound
  // to 0.0.0.0 or to `local`'s address on its port, peer matching when
  // connected), in bind order. Serials come with them so a caller that runs
  // callbacks can tell whether each is still open (find()).
  std::vector<std::pair<InetSocket*, std::uint64_t>> matches(const Endpoint& local, const Endpoint& remote) const;
  // The socket bound on `port` with this serial, if it is still there.
  InetSocket* find(std::uint16_t port, std::uint64_t serial) const;

  // f(const InetSocket&) for every bound socket, by port then bind order.
  template <class F>
  void for_each(F&& f) const;
  std::size_t size() const { return size_; }
  wire::IpProtocol protocol() const { return protocol_; }

 private:
  // What a bound socket holds its port for.
  struct Binding {
    IpAddress address;
    bool v6only = false;
    friend bool operator==(const Binding&, const Binding&) = default;
  };

  void insert(InetSocket& sock, Endpoint local);
  void set_bound(InetSocket& sock, Endpoint local, bool shared);
  bool conflicts(std::uint16_t port, const Binding& binding) const;
  Result<std::uint16_t> pick_ephemeral(const Binding& binding, const std::optional<RssPick>& rss);
  static int score(const InetSocket& sock, const Endpoint& local, const Endpoint& remote);
  static int score_mapped(const InetSocket& sock, const Endpoint& local, const Endpoint& remote);

  Net& net_;
  wire::IpProtocol protocol_;
  std::uint64_t next_serial_ = 1;
  std::uint64_t ephemeral_picks_ = 0;  // varies the hash between two picks
  std::size_t size_ = 0;
  std::unordered_map<std::uint16_t, std::vector<InetSocket*>> by_port_;
  // bind_shared sockets and held ports: per port, each address with its
  // count. Their addresses are specific, so v6-only changes nothing there.
  std::unordered_map<std::uint16_t, std::vector<std::pair<IpAddress, std::size_t>>> shared_;
};

template <class F>
void SocketTable::for_each(F&& f) const {
  std::vector<std::uint16_t> ports;
  ports.reserve(by_port_.size());
  for (const auto& [port, socks] : by_port_) ports.push_back(port);
  std::sort(ports.begin(), ports.end());
  for (std::uint16_t port : ports) {
    for (const InetSocket* sock : by_port_.at(port)) f(*sock);
  }
}

// A receive queue bounded in bytes, as sk_rcvbuf bounds a Linux socket's.
// Each item is charged the truesize of the packet it holds (the whole
// buffer, however little of it a datagram fills), to the queue and to the
// namespace (net.core.packet_mem_max), so a flood of tiny datagrams pins no
// more than the buffer. As Linux's sock_queue_rcv_skb, an item is taken
// while what is held is under the budget: the last one may take the queue
// over, and an empty queue takes one whatever its size.
template <class T>
class ReceiveQueue {
 public:
  enum class Push : std::uint8_t { queued, rcvbuf_full, no_memory };

  ReceiveQueue(NetResources& account, std::size_t budget)
      : budget_(budget), charged_(account), items_(slots_for(budget)) {}

  // Anything but queued: the caller counts the drop (UdpRcvbufErrors or
  // UdpMemErrors...) and the item is gone.
  [[nodiscard]] Push push(T&& item, std::size_t truesize) {
    return push_in_place(truesize, [&](T& slot) { slot = std::move(item); });
  }
  // push() with the item written in its slot by `fill(T&)` (see
  // BoundedQueue::push_in_place); `fill` runs only when the item is queued.
  template <class Fill>
  [[nodiscard]] Push push_in_place(std::size_t truesize, Fill&& fill) {
    if (charged_ >= budget_) return Push::rcvbuf_full;
    if (!charged_.try_add(truesize)) return Push::no_memory;
    const bool queued = items_.push_in_place([&](Slot& slot) {
      fill(slot.item);
      slot.charge = truesize;
    });
    if (!queued) {
      charged_ -= truesize;  // unreachable while slots_for() holds: kept for safety
      return Push::rcvbuf_full;
    }
    return Push::queued;
  }
  std::optional<T> pop() {
    auto slot = items_.pop();
    if (!slot) return std::nullopt;
    charged_ -= slot->charge;
    return std::move(slot->item);
  }
  const T* front() { return items_.empty() ? nullptr : &items_.front().item; }
  // Drops the oldest item (read through front()); no-op when empty.
  void drop_front() {
    if (items_.empty()) return;
    charged_ -= items_.front().charge;
    items_.drop_front();
  }

  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }
  // Bytes charged: sk_rmem_alloc, which ss shows as a UDP socket's Recv-Q.
  std::size_t bytes() const { return charged_; }
  std::size_t budget() const { return budget_; }
  // SO_RCVBUF: what is queued stays; pushes fail until it drains below.
  void set_budget(std::size_t budget) {
    budget_ = budget;
    items_.set_capacity(slots_for(budget));
  }
  void clear() {
    items_.clear();
    charged_.clear();
  }

 private:
  struct Slot {
    T item{};
    std::size_t charge = 0;
  };
  // The byte budget is the real bound; the item count never binds first:
  // no packet is charged less than a buffer header and a Packet.
  static constexpr std::size_t kMinCharge = kPacketBufferHeader + sizeof(Packet);
  static std::size_t slots_for(std::size_t budget) { return budget / kMinCharge + 1; }

  std::size_t budget_;
  PacketCharge charged_;
  BoundedQueue<Slot> items_;
};

}  // namespace netns::ipv4
