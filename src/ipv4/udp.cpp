// UDP (RFC 768, RFC 8200 8.1 over IPv6): one socket table per namespace for
// both families, input (process → deliver to a socket's receive queue, or
// UdpNoPorts and an ICMP port unreachable), ICMP and ICMPv6 errors for
// connected sockets, and output through Ipv4Stack::send or Ipv6Stack::send.
// An IPv6 socket reaches IPv4 peers as ::ffff:a.b.c.d, through IPv4, as
// Linux's udpv6_sendmsg hands them to udp_sendmsg.
#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>

#include <boost/asio/error.hpp>
#include <fmt/format.h>

#include "core/socket_errors.hpp"
#include "ipv4/socket_table.hpp"
#include "ipv4/stack.hpp"
#include "ipv4/udp_ops.hpp"
#include "ipv6/stack.hpp"
#include "netns/host.hpp"
#include "netns/net.hpp"
#include "netns/udp.hpp"
#include "netns/wire/bytes.hpp"
#include "netns/wire/udp.hpp"
#include "stack/builtins.hpp"

namespace netns::udp {
namespace {

using ipv4::InetSocket;
using ipv4::InputMeta;
using ipv4::IcmpError;
using ipv4::Ipv4Stack;
using ipv4::SocketTable;

// /proc/net/snmp's Udp and /proc/net/snmp6's Udp6: a datagram counts in
// its own family's, whatever the family of the socket it reaches.
struct Mib {
  Counter in_datagrams, no_ports, in_errors, out_datagrams, rcvbuf_errors, sndbuf_errors, in_csum_errors,
      ignored_multi, mem_errors;
};
constexpr Mib kMib4{Counter::UdpInDatagrams,  Counter::UdpNoPorts,      Counter::UdpInErrors,
                    Counter::UdpOutDatagrams, Counter::UdpRcvbufErrors, Counter::UdpSndbufErrors,
                    Counter::UdpInCsumErrors, Counter::UdpIgnoredMulti, Counter::UdpMemErrors};
constexpr Mib kMib6{Counter::Udp6InDatagrams,  Counter::Udp6NoPorts,      Counter::Udp6InErrors,
                    Counter::Udp6OutDatagrams, Counter::Udp6RcvbufErrors, Counter::Udp6SndbufErrors,
                    Counter::Udp6InCsumErrors, Counter::Udp6IgnoredMulti, Counter::Udp6MemErrors};
constexpr const Mib& mib(Family family) { return family == Family::ipv6 ? kMib6 : kMib4; }

struct Received {
  Packet payload;  // data() at the UDP payload
  Endpoint from;   // in the socket's family
  Family family;   // the datagram's
};

// An IPv4 endpoint as an IPv6 socket sees it.
Endpoint mapped(const Endpoint& e) {
  return e.address.is_v4() ? Endpoint{Ipv6Address::v4_mapped(e.address.to_v4()), e.port} : e;
}
bool is_mapped(const IpAddress& a) { return a.is_v6() && a.to_v6().is_v4_mapped(); }
// The IPv4 address behind an IPv4 socket's address or an IPv6 socket's mapped or unspecified one.
Ipv4Address ipv4_of(const IpAddress& a) { return a.is_v4() ? a.to_v4() : a.to_v6().to_v4_mapped(); }

// The header of a datagram from src to dst, the datagram trimmed to its
// length field; nullopt (counted) when it is shorter than its header or
// that field, or its checksum is wrong (absent is wrong over IPv6).
template <class Address>
std::optional<wire::UdpView> checked(Net& net, Packet& datagram, const Address& src, const Address& dst,
                                     const Mib& m) {
  auto view = wire::UdpView::checked(datagram.data());
  if (!view) {
    net.counters().add(m.in_errors);
    return std::nullopt;
  }
  if (!view->verify_checksum(src, dst)) {
    net.counters().add(m.in_csum_errors);
    net.counters().add(m.in_errors);
    return std::nullopt;
  }
  datagram.trim(view->length());
  return *view;
}

}  // namespace

struct Socket::Impl final : InetSocket {
  Impl(NetRef ref, SocketSlot slot, UdpOps& ops, SocketTable& table, Family family)
      : InetSocket(family, ref->sysctl().value(SysctlId::ipv6_bindv6only) != 0),
        net(std::move(ref)),
        slot(std::move(slot)),
        ops(&ops),
        table(&table),
        queue(net->resources(), static_cast<std::size_t>(net->sysctl().value(SysctlId::core_rmem_default))),
        // IPv6 sockets start with IPV6_PMTUDISC_WANT whatever IPv4's sysctl says.
        pmtu_discovery(family == Family::ipv6 || net->sysctl().value(SysctlId::ip_no_pmtu_disc) == 0) {}
  // ~InetSocket leaves the table; dropping the NetRef before that is safe,
  // since the last reference never tears a namespace down inline.

  // Queues a datagram of `family`; false (counted) when the receive buffer
  // is full or the namespace at its packet memory (__udp_queue_rcv_skb's
  // ENOMEM and ENOBUFS: UdpRcvbufErrors or UdpMemErrors, and UdpInErrors).
  bool enqueue(Packet payload, const Endpoint& from, Family family) {
    const std::size_t truesize = payload.truesize();
    const Mib& m = mib(family);
    const bool map = this->family() == Family::ipv6 && from.address.is_v4();
    const auto fill = [&](Received& slot) {
      slot.payload = std::move(payload);
      slot.from = from;
      if (map) slot.from.address = Ipv6Address::v4_mapped(from.address.to_v4());
      slot.family = family;
    };
    switch (queue.push_in_place(truesize, fill)) {
      case ipv4::ReceiveQueue<Received>::Push::queued:
        return true;
      case ipv4::ReceiveQueue<Received>::Push::rcvbuf_full:
        net->counters().add(m.rcvbuf_errors);
        break;
      case ipv4::ReceiveQueue<Received>::Push::no_memory:
        net->counters().add(m.mem_errors);
        net->counters().add(Counter::IpExtPacketMemDrops);
        break;
    }
    net->counters().add(m.in_errors);
    return false;
  }

  // With `rss`, for a connect() through a queue of a port with several.
  Result<void> autobind(const std::optional<ipv4::RssPick>& rss = std::nullopt) {
    if (is_bound()) return {};
    return table->bind(*this, local(), rss);  // the unspecified address of the family, port 0
  }

  // Makes `to` a peer as this socket addresses it: IPv4 peers of an IPv6
  // socket are v4-mapped. address_family_not_supported for an IPv6 peer of
  // an IPv4 socket, and for an IPv4 one of a v6-only socket.
  Result<void> as_peer(Endpoint& to) const {
    if (family() == Family::ipv4) {
      if (!to.address.is_v4()) return error(Errc::address_family_not_supported);
      return {};
    }
    if (to.address.is_v4()) to = mapped(to);
    if (v6only() && is_mapped(to.address)) return error(Errc::address_family_not_supported);
    return {};
  }

  Result<void> send_ipv4(std::span<const std::byte> data, const Endpoint& to);
  Result<void> send_ipv6(std::span<const std::byte> data, const Endpoint& to);

  NetRef net;
  SocketSlot slot;  // one of net.core.sockets_max
  UdpOps* ops;
  SocketTable* table;
  ipv4::ReceiveQueue<Received> queue;
  Ipv4Stack::RouteMemo route_memo;         // the last IPv4 destination's route
  ipv6::Ipv6Stack::RouteMemo route_memo6;  // the last IPv6 destination's
  bool broadcast = false;
  bool bound_address = false;  // bind() chose the address: disconnect keeps it
  bool bound_port = false;     // bind() chose the port (even an ephemeral one): disconnect keeps it
  // IP_PMTUDISC_WANT, or IP_PMTUDISC_DONT when net.ipv4.ip_no_pmtu_disc was
  // set at open (inet_create): whether DF goes on datagrams that fit the path.
  bool pmtu_discovery;
  std::uint16_t ip_id = 0;     // inet_id: the next IP ID while connected
};

// ---- input ----

void UdpOps::deliver(Net& net, Packet datagram, const InputMeta& meta) {
  auto view = checked(net, datagram, meta.src, meta.dst, kMib4);
  if (!view) return;
  const bool multicast = meta.broadcast || meta.dst.is_broadcast() || meta.dst.is_multicast();
  demultiplex(net, std::move(datagram), {meta.dst, view->dst_port()}, {meta.src, view->src_port()}, multicast,
              [&](Packet& unclaimed) {
                // Quote the datagram from its IP header, which is still in the headroom.
                unclaimed.push_front(meta.header_len);
                stack().send_icmp_error(net, unclaimed, wire::IcmpType::dest_unreachable,
                                        static_cast<std::uint8_t>(wire::IcmpUnreachable::port));
              });
}

void UdpOps::deliver(Net& net, Packet datagram, const ipv6::InputMeta& meta) {
  auto view = checked(net, datagram, meta.src, meta.dst, kMib6);
  if (!view) return;
  demultiplex(net, std::move(datagram), {meta.dst, view->dst_port()}, {meta.src, view->src_port()},
              meta.multicast, [&](Packet& unclaimed) {
                unclaimed.push_front(meta.header_len);
                stack6().send_icmp_error(net, unclaimed, ipv6::kIcmp6DestUnreachable,
                                         ipv6::kIcmp6PortUnreachable);
              });
}

template <class Unreachable>
void UdpOps::demultiplex(Net& net, Packet datagram, const Endpoint& local, const Endpoint& remote, bool multicast,
                         Unreachable unreachable) {
  UdpNet* state = this->state(net);
  if (state == nullptr) return;
  SocketTable* sockets = &state->table;
  if (multicast) {
    deliver_multicast(net, *sockets, std::move(datagram), local, remote);
    return;
  }
  InetSocket* sock = sockets->lookup(local, remote);
  if (sock == nullptr) {
    net.counters().add(mib(local.family()).no_ports);
    unreachable(datagram);
    return;
  }
  datagram.pull_front(wire::UdpView::kHeaderLen);
  auto& impl = static_cast<Socket::Impl&>(*sock);
  if (impl.enqueue(std::move(datagram), remote, local.family())) impl.notify_readable();
}

void UdpOps::deliver_multicast(Net& net, SocketTable& table, Packet datagram, const Endpoint& local,
                               const Endpoint& remote) {
  auto targets = table.matches(local, remote);
  if (targets.empty()) {
    // Linux sends no ICMP error about broadcasts, and counts them apart.
    net.counters().add(mib(local.family()).ignored_multi);
    return;
  }
  datagram.pull_front(wire::UdpView::kHeaderLen);
  std::vector<std::size_t> queued;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    // Every socket gets the same bytes: shared, never copied.
    Packet copy = i + 1 == targets.size() ? std::move(datagram) : datagram.share();
    if (static_cast<Socket::Impl*>(targets[i].first)->enqueue(std::move(copy), remote, local.family())) {
      queued.push_back(i);
    }
  }
  // Callbacks may close sockets: each is found again by its serial first.
  for (std::size_t i : queued) {
    if (InetSocket* sock = table.find(local.port, targets[i].second)) sock->notify_readable();
  }
}

void UdpOps::deliver_error(Net& net, const IcmpError& error) {
  if (error.quoted.size() < wire::UdpView::kHeaderLen) return;
  UdpNet* state = this->state(net);
  if (state == nullptr) return;
  SocketTable* sockets = &state->table;
  const Endpoint local{error.orig_src, wire::load_be16(error.quoted, 0)};
  const Endpoint remote{error.orig_dst, wire::load_be16(error.quoted, 2)};
  InetSocket* sock = sockets->lookup(local, remote);
  if (sock == nullptr) {
    net.counters().add(Counter::IcmpInErrors);  // as Linux's __udp4_lib_err
    return;
  }
  bool hard = ipv4::is_hard_error(error);
  if (error.type == wire::IcmpType::dest_unreachable &&
      error.code == static_cast<std::uint8_t>(wire::IcmpUnreachable::frag_needed)) {
    // Path MTU discovery: the next datagrams to that destination fit (or
    // go without DF), and a socket that wants DF hears EMSGSIZE.
    stack().update_pmtu(net, error.orig_dst, error.info);
    hard = static_cast<Socket::Impl*>(sock)->pmtu_discovery;
  }
  // Without IP_RECVERR, Linux reports only hard errors, and only to
  // connected sockets: an unconnected one cannot tell whose datagram it was.
  if (!sock->is_connected() || !hard) return;
  sock->set_error(error.error());
  sock->notify_readable();
}

// __udp6_lib_err: Packet Too Big has lowered the path already (ICMPv6
// input did); a connected socket hears the hard errors.
void UdpOps::deliver_error(Net& net, const ipv6::IcmpError& error) {
  if (error.quoted.size() < wire::UdpView::kHeaderLen) return;
  UdpNet* state = this->state(net);
  if (state == nullptr) return;
  const Endpoint local{error.orig_src, wire::load_be16(error.quoted, 0)};
  const Endpoint remote{error.orig_dst, wire::load_be16(error.quoted, 2)};
  InetSocket* sock = state->table.lookup(local, remote);
  if (sock == nullptr) {
    net.counters().add(Counter::Icmp6InErrors);
    return;
  }
  bool hard = error.is_hard();
  if (error.type == ipv6::kIcmp6PacketTooBig) hard = static_cast<Socket::Impl*>(sock)->pmtu_discovery;
  if (!sock->is_connected() || !hard) return;
  sock->set_error(error.error());
  sock->notify_readable();
}

// ---- Socket ----

Socket::Socket() = default;
Socket::Socket(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Socket::Socket(Socket&& other) noexcept = default;
Socket& Socket::operator=(Socket&& other) noexcept = default;
Socket::~Socket() = default;

void Socket::close() { impl_.reset(); }

Result<Socket> open(Net& net, Family family) {
  UdpOps& ops = net.host().builtins().udp();
  auto opened = ops.open(net);
  if (!opened) return opened.error();
  auto slot = net.resources().open_socket();
  if (!slot) return slot.error();
  return Socket(std::make_unique<Socket::Impl>(std::move(opened->ref), std::move(*slot), ops,
                                               opened->state.table, family));
}

Result<void> Socket::bind(Endpoint local) {
  if (!impl_) return bad_descriptor();
  if (impl_->is_bound()) return error(Errc::invalid_argument);
  if (local.family() != impl_->family()) return error(Errc::address_family_not_supported);
  Net& net = *impl_->net;
  Ipv4Stack& stack = impl_->ops->stack();
  auto ok = local.address.is_v4()
                ? ipv4::check_bind_address(net, stack, local.address.to_v4())
                : ipv4::check_bind_address(net, stack, impl_->ops->stack6(), local.address.to_v6(), impl_->v6only());
  if (!ok) return ok;
  if (auto bound = impl_->table->bind(*impl_, local); !bound) return bound;
  impl_->bound_address = !local.address.is_unspecified();
  impl_->bound_port = true;
  return {};
}

Result<void> Socket::connect(Endpoint remote) {
  if (!impl_) return bad_descriptor();
  if (remote.port == 0) return error(Errc::invalid_argument);
  if (auto ok = impl_->as_peer(remote); !ok) return ok;
  const Endpoint* peer = &remote;
  Net& net = *impl_->net;
  IpAddress source;
  Device* dev = nullptr;
  if (peer->address.is_v6() && !is_mapped(peer->address)) {
    auto route = impl_->ops->stack6().route_output(net, peer->address.to_v6());
    if (!route) return ipv6::Ipv6Stack::no_route(net, route.error());
    source = route->source;
    dev = route->dev;
  } else {
    Ipv4Stack& stack = impl_->ops->stack();
    const Ipv4Address dst = ipv4_of(peer->address);
    auto route = stack.route_output(net, dst);
    if (!route) return Ipv4Stack::no_route(net, route.error());
    if (!impl_->broadcast && ipv4::is_broadcast_destination(net, stack, dst)) {
      return error(Errc::permission_denied);
    }
    source = impl_->family() == Family::ipv6 ? IpAddress(Ipv6Address::v4_mapped(route->source))
                                             : IpAddress(route->source);
    impl_->ip_id = stack.random_ip_id();  // ip4_datagram_connect
    dev = route->dev;
  }
  // The port is picked knowing the peer and the source the route gives, so
  // that RSS brings the replies to this core (the source is only set below).
  std::optional<ipv4::RssPick> rss;
  const IpAddress wire_source = impl_->local().address.is_unspecified() ? source : impl_->local().address;
  if (auto queue = dev != nullptr ? dev->rss_queue() : std::nullopt) rss = ipv4::RssPick{wire_source, *peer, *queue};
  if (auto ok = impl_->autobind(rss); !ok) return ok;
  if (impl_->local().address.is_unspecified()) impl_->table->set_local_address(*impl_, source);
  impl_->table->set_remote(*impl_, *peer);
  return {};
}

Result<void> Socket::disconnect() {
  if (!impl_) return bad_descriptor();
  if (!impl_->is_bound()) return {};
  impl_->table->set_remote(*impl_, {});
  if (!impl_->bound_port) {
    impl_->table->unbind(*impl_);
  } else if (!impl_->bound_address) {
    impl_->table->set_local_address(*impl_, impl_->family() == Family::ipv6 ? IpAddress(Ipv6Address::any())
                                                                            : IpAddress(Ipv4Address::any()));
  }
  return {};
}

Result<std::size_t> Socket::send_to(std::span<const std::byte> data, Endpoint to) {
  if (!impl_) return bad_descriptor();
  if (impl_->has_error()) return impl_->take_error();
  if (to.port == 0) return error(Errc::invalid_argument);
  if (auto ok = impl_->as_peer(to); !ok) {
    // udpv6_sendmsg: an IPv4 peer of a v6-only socket is unreachable.
    return ok.error() == Errc::address_family_not_supported && impl_->family() == Family::ipv6
               ? error(Errc::network_unreachable)
               : ok.error();
  }
  const bool over_ipv6 = to.address.is_v6() && !is_mapped(to.address);
  if (data.size() > (over_ipv6 ? kMaxPayload6 : kMaxPayload)) return error(Errc::message_size);
  if (auto ok = impl_->autobind(); !ok) return ok.error();
  auto sent = over_ipv6 ? impl_->send_ipv6(data, to) : impl_->send_ipv4(data, to);
  const Mib& m = mib(over_ipv6 ? Family::ipv6 : Family::ipv4);
  if (!sent) {
    if (sent.error() == Errc::no_buffer_space) impl_->net->counters().add(m.sndbuf_errors);
    return sent.error();
  }
  impl_->net->counters().add(m.out_datagrams);
  return data.size();
}

// udp_sendmsg, for an IPv4 socket or an IPv6 socket's mapped peer.
Result<void> Socket::Impl::send_ipv4(std::span<const std::byte> data, const Endpoint& to) {
  Net& net = *this->net;
  Ipv4Stack& stack = ops->stack();
  const Ipv4Address dst = ipv4_of(to.address);
  const IpAddress bound = local().address;
  // An IPv6 socket bound to a non-mapped address has no IPv4 source.
  if (bound.is_v6() && !bound.is_unspecified() && !is_mapped(bound)) return error(Errc::network_unreachable);
  if (!broadcast && ipv4::is_broadcast_destination(net, stack, dst)) return error(Errc::permission_denied);
  auto route = stack.route_output(net, dst, route_memo);
  if (!route) return Ipv4Stack::no_route(net, route.error());
  const Ipv4Address src = bound.is_unspecified() ? route->source : ipv4_of(bound);

  const wire::UdpRepr repr{.src_port = local().port, .dst_port = to.port, .payload_len = data.size()};
  Packet packet = net.host().packets().allocate(repr.buffer_len());
  if (!packet) return error(Errc::no_buffer_space);
  auto bytes = packet.mutable_data();
  if (!data.empty()) std::memcpy(bytes.data() + wire::UdpRepr::kHeaderLen, data.data(), data.size());
  repr.emit(bytes, src, dst);

  // IP_PMTUDISC_WANT: DF on what fits the path, the rest fragmented here
  // without it. A connected socket numbers its datagrams itself.
  const ipv4::PathMtu path = stack.path_mtu(net, dst, *route->dev);
  const bool dont_fragment = pmtu_discovery && !path.locked &&
                             repr.buffer_len() + wire::Ipv4Repr::kHeaderLen <= path.mtu;
  ipv4::SendParams params{.src = src, .dst = dst, .protocol = wire::IpProtocol::udp,
                          .dont_fragment = dont_fragment, .ignore_df = true};
  if (is_connected()) params.ip_id = ip_id++;
  return stack.send(net, std::move(packet), params, *route);
}

// udpv6_sendmsg: the route's source unless bound; larger than the path is
// fragmented by the IPv6 layer.
Result<void> Socket::Impl::send_ipv6(std::span<const std::byte> data, const Endpoint& to) {
  Net& net = *this->net;
  ipv6::Ipv6Stack& stack = ops->stack6();
  const Ipv6Address dst = to.address.to_v6();
  auto route = stack.route_output(net, dst, route_memo6);
  if (!route) return ipv6::Ipv6Stack::no_route(net, route.error());
  const Ipv6Address bound = local().address.to_v6();
  const Ipv6Address src = bound.is_unspecified() ? route->source : bound.with_scope(0);

  const wire::UdpRepr repr{.src_port = local().port, .dst_port = to.port, .payload_len = data.size()};
  Packet packet = net.host().packets().allocate(repr.buffer_len());
  if (!packet) return error(Errc::no_buffer_space);
  auto bytes = packet.mutable_data();
  if (!data.empty()) std::memcpy(bytes.data() + wire::UdpRepr::kHeaderLen, data.data(), data.size());
  repr.emit(bytes, src, dst);
  return stack.send(net, std::move(packet), {.src = src, .dst = dst, .next_header = wire::IpProtocol::udp}, *route);
}

Result<std::size_t> Socket::send(std::span<const std::byte> data) {
  if (!impl_) return bad_descriptor();
  if (!impl_->is_connected()) return error(Errc::destination_address_required);
  return send_to(data, impl_->remote());
}

Result<Datagram> Socket::receive_from(std::span<std::byte> buffer) {
  if (!impl_) return bad_descriptor();
  if (impl_->has_error()) return impl_->take_error();
  // Read in place, then dropped: the item is not moved out (an Endpoint
  // copied twice costs more than the rest of this function).
  const Received* item = impl_->queue.front();
  if (item == nullptr) return error(Errc::operation_would_block);
  const auto payload = item->payload.data();
  const std::size_t n = std::min(payload.size(), buffer.size());
  if (n != 0) std::memcpy(buffer.data(), payload.data(), n);
  // Linux counts a datagram delivered when the application reads it.
  impl_->net->counters().add(mib(item->family).in_datagrams);
  const Endpoint from = item->from;
  const bool truncated = n < payload.size();
  impl_->queue.drop_front();
  // Built in the caller's slot: a named result is not, and copying it out
  // stalls on the stores that just wrote it.
  return Result<Datagram>(boost::system::in_place_value, n, from, truncated);
}

Endpoint Socket::local_endpoint() const { return impl_ ? impl_->local() : Endpoint{}; }
Endpoint Socket::remote_endpoint() const { return impl_ ? impl_->remote() : Endpoint{}; }
Net& Socket::net() const { return *impl_->net; }

std::size_t Socket::next_size() const {
  if (!impl_) return 0;
  const Received* next = impl_->queue.front();
  return next != nullptr ? next->payload.size() : 0;
}

Result<void> Socket::set_v6only(bool enabled) {
  if (!impl_) return bad_descriptor();
  return impl_->set_v6only(enabled);
}

bool Socket::v6only() const { return impl_ && impl_->v6only(); }
Family Socket::family() const { return impl_ ? impl_->family() : Family::ipv4; }

void Socket::set_broadcast(bool enabled) {
  if (impl_) impl_->broadcast = enabled;
}

Result<void> Socket::set_receive_buffer_size(std::size_t bytes) {
  if (!impl_) return bad_descriptor();
  if (bytes == 0) return error(Errc::invalid_argument);
  impl_->queue.set_budget(bytes);
  return {};
}

std::size_t Socket::receive_buffer_size() const { return impl_ ? impl_->queue.budget() : 0; }

void Socket::on_readable(std::function<void()> callback) {
  if (impl_) impl_->set_readable_callback(std::move(callback));
}

// ---- ss ----

std::string dump_sockets(Net& net) {
  std::string out = fmt::format("{:<7}{:<7}{:<7}{:>24} {:<24}\n", "State", "Recv-Q", "Send-Q",
                                "Local Address:Port", "Peer Address:Port");
  UdpNet* state = net.host().builtins().udp().state(net);
  if (state == nullptr) return out;
  SocketTable* table = &state->table;
  table->for_each([&](const InetSocket& sock) {
    const auto& impl = static_cast<const Socket::Impl&>(sock);
    const Endpoint local = sock.local();
    const Endpoint peer = sock.remote();
    const std::string peer_text = sock.is_connected() ? peer.to_string()
                                  : peer.address.is_v6() ? fmt::format("[{}]:*", peer.address)
                                                         : fmt::format("{}:*", peer.address);
    out += fmt::format("{:<7}{:<7}{:<7}{:>24} {:<24}\n", sock.is_connected() ? "ESTAB" : "UNCONN",
                       impl.queue.bytes(), 0, local.to_string(), peer_text);
  });
  return out;
}

}  // namespace netns::udp
