// UDP (RFC 768): the per-namespace socket table, input (process → deliver to
// a socket's receive queue, or UdpNoPorts and ICMP port unreachable), ICMP
// errors for connected sockets, and output through Ipv4Stack::send.
#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>

#include <boost/asio/error.hpp>
#include <fmt/format.h>

#include "core/socket_errors.hpp"
#include "ipv4/socket_table.hpp"
#include "ipv4/stack.hpp"
#include "ipv4/udp_ops.hpp"
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

struct Received {
  Packet payload;  // data() at the UDP payload
  Endpoint from;
};

}  // namespace

struct Socket::Impl final : InetSocket {
  Impl(NetRef ref, SocketSlot slot, UdpOps& ops, SocketTable& table)
      : net(std::move(ref)),
        slot(std::move(slot)),
        ops(&ops),
        table(&table),
        queue(net->resources(), static_cast<std::size_t>(net->sysctl().value(SysctlId::core_rmem_default))),
        pmtu_discovery(net->sysctl().value(SysctlId::ip_no_pmtu_disc) == 0) {}
  // ~InetSocket leaves the table; dropping the NetRef before that is safe,
  // since the last reference never tears a namespace down inline.

  // Queues a datagram; false (counted) when the receive buffer is full or
  // the namespace at its packet memory (__udp_queue_rcv_skb's ENOMEM and
  // ENOBUFS: UdpRcvbufErrors or UdpMemErrors, and UdpInErrors).
  bool enqueue(Packet payload, Endpoint from) {
    const std::size_t truesize = payload.truesize();
    switch (queue.push(Received{std::move(payload), from}, truesize)) {
      case ipv4::ReceiveQueue<Received>::Push::queued:
        return true;
      case ipv4::ReceiveQueue<Received>::Push::rcvbuf_full:
        net->counters().add(Counter::UdpRcvbufErrors);
        break;
      case ipv4::ReceiveQueue<Received>::Push::no_memory:
        net->counters().add(Counter::UdpMemErrors);
        net->counters().add(Counter::IpExtPacketMemDrops);
        break;
    }
    net->counters().add(Counter::UdpInErrors);
    return false;
  }

  Result<void> autobind() {
    if (is_bound()) return {};
    return table->bind(*this, {Ipv4Address::any(), 0});
  }

  NetRef net;
  SocketSlot slot;  // one of net.core.sockets_max
  UdpOps* ops;
  SocketTable* table;
  ipv4::ReceiveQueue<Received> queue;
  Ipv4Stack::RouteMemo route_memo;  // the last destination's route
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
  Counters& counters = net.counters();
  auto view = wire::UdpView::checked(datagram.data());
  if (!view) {
    counters.add(Counter::UdpInErrors);  // shorter than its header or its length field
    return;
  }
  if (!view->verify_checksum(meta.src, meta.dst)) {
    counters.add(Counter::UdpInCsumErrors);
    counters.add(Counter::UdpInErrors);
    return;
  }
  UdpNet* state = this->state(net);
  if (state == nullptr) return;
  SocketTable* sockets = &state->table;
  const Endpoint local{meta.dst, view->dst_port()};
  const Endpoint remote{meta.src, view->src_port()};
  datagram.trim(view->length());

  if (meta.broadcast || meta.dst.is_broadcast() || meta.dst.is_multicast()) {
    deliver_multicast(net, *sockets, std::move(datagram), local, remote);
    return;
  }
  InetSocket* sock = sockets->lookup(local, remote);
  if (sock == nullptr) {
    counters.add(Counter::UdpNoPorts);
    // Quote the datagram from its IP header, which is still in the headroom.
    datagram.push_front(meta.header_len);
    stack().send_icmp_error(net, datagram, wire::IcmpType::dest_unreachable,
                            static_cast<std::uint8_t>(wire::IcmpUnreachable::port));
    return;
  }
  datagram.pull_front(wire::UdpView::kHeaderLen);
  auto& impl = static_cast<Socket::Impl&>(*sock);
  if (impl.enqueue(std::move(datagram), remote)) impl.notify_readable();
}

void UdpOps::deliver_multicast(Net& net, SocketTable& table, Packet datagram, Endpoint local,
                               Endpoint remote) {
  auto targets = table.matches(local, remote);
  if (targets.empty()) {
    // Linux sends no ICMP error about broadcasts, and counts them apart.
    net.counters().add(Counter::UdpIgnoredMulti);
    return;
  }
  datagram.pull_front(wire::UdpView::kHeaderLen);
  std::vector<std::size_t> queued;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    // Every socket gets the same bytes: shared, never copied.
    Packet copy = i + 1 == targets.size() ? std::move(datagram) : datagram.share();
    if (static_cast<Socket::Impl*>(targets[i].first)->enqueue(std::move(copy), remote)) {
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

// ---- Socket ----

Socket::Socket() = default;
Socket::Socket(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Socket::Socket(Socket&& other) noexcept = default;
Socket& Socket::operator=(Socket&& other) noexcept = default;
Socket::~Socket() = default;

void Socket::close() { impl_.reset(); }

Result<Socket> open(Net& net) {
  UdpOps& ops = net.host().builtins().udp();
  auto opened = ops.open(net);
  if (!opened) return opened.error();
  auto slot = net.resources().open_socket();
  if (!slot) return slot.error();
  return Socket(std::make_unique<Socket::Impl>(std::move(opened->ref), std::move(*slot), ops,
                                               opened->state.table));
}

Result<void> Socket::bind(Endpoint local) {
  if (!impl_) return bad_descriptor();
  if (impl_->is_bound()) return error(Errc::invalid_argument);
  if (!local.address.is_v4()) return error(Errc::address_family_not_supported);
  Net& net = *impl_->net;
  if (auto ok = ipv4::check_bind_address(net, impl_->ops->stack(), local.address.to_v4()); !ok) return ok;
  if (auto ok = impl_->table->bind(*impl_, local); !ok) return ok;
  impl_->bound_address = !local.address.is_unspecified();
  impl_->bound_port = true;
  return {};
}

Result<void> Socket::connect(Endpoint remote) {
  if (!impl_) return bad_descriptor();
  if (remote.port == 0) return error(Errc::invalid_argument);
  if (!remote.address.is_v4()) return error(Errc::address_family_not_supported);
  Net& net = *impl_->net;
  auto route = impl_->ops->stack().route_output(net, remote.address.to_v4());
  if (!route) return route.error();
  if (!impl_->broadcast && ipv4::is_broadcast_destination(net, impl_->ops->stack(), remote.address.to_v4())) {
    return error(Errc::permission_denied);
  }
  if (auto ok = impl_->autobind(); !ok) return ok;
  if (impl_->local().address.is_unspecified()) {
    impl_->table->set_local_address(*impl_, route->source);
  }
  impl_->table->set_remote(*impl_, remote);
  impl_->ip_id = impl_->ops->stack().random_ip_id();  // ip4_datagram_connect
  return {};
}

Result<void> Socket::disconnect() {
  if (!impl_) return bad_descriptor();
  if (!impl_->is_bound()) return {};
  impl_->table->set_remote(*impl_, {});
  if (!impl_->bound_port) {
    impl_->table->unbind(*impl_);
  } else if (!impl_->bound_address) {
    impl_->table->set_local_address(*impl_, Ipv4Address::any());
  }
  return {};
}

Result<std::size_t> Socket::send_to(std::span<const std::byte> data, Endpoint to) {
  if (!impl_) return bad_descriptor();
  if (impl_->has_error()) return impl_->take_error();
  if (data.size() > kMaxPayload) return error(Errc::message_size);
  if (to.port == 0) return error(Errc::invalid_argument);
  if (!to.address.is_v4()) return error(Errc::address_family_not_supported);
  Net& net = *impl_->net;
  Ipv4Stack& stack = impl_->ops->stack();
  if (!impl_->broadcast && ipv4::is_broadcast_destination(net, stack, to.address.to_v4())) {
    return error(Errc::permission_denied);
  }
  if (auto ok = impl_->autobind(); !ok) return ok.error();
  auto route = stack.route_output(net, to.address.to_v4(), impl_->route_memo);
  if (!route) return route.error();
  const Endpoint local = impl_->local();
  const Ipv4Address src = local.address.to_v4().is_unspecified() ? route->source : local.address.to_v4();

  const wire::UdpRepr repr{.src_port = local.port, .dst_port = to.port, .payload_len = data.size()};
  Packet packet = net.host().packets().allocate(repr.buffer_len());
  if (!packet) return error(Errc::no_buffer_space);
  auto bytes = packet.mutable_data();
  if (!data.empty()) std::memcpy(bytes.data() + wire::UdpRepr::kHeaderLen, data.data(), data.size());
  repr.emit(bytes, src, to.address.to_v4());

  // IP_PMTUDISC_WANT: DF on what fits the path, the rest fragmented here
  // without it. A connected socket numbers its datagrams itself.
  const ipv4::PathMtu path = stack.path_mtu(net, to.address.to_v4(), *route->dev);
  const bool dont_fragment = impl_->pmtu_discovery && !path.locked &&
                             repr.buffer_len() + wire::Ipv4Repr::kHeaderLen <= path.mtu;
  ipv4::SendParams params{.src = src, .dst = to.address.to_v4(), .protocol = wire::IpProtocol::udp,
                          .dont_fragment = dont_fragment, .ignore_df = true};
  if (impl_->is_connected()) params.ip_id = impl_->ip_id++;
  auto sent = stack.send(net, std::move(packet), params, *route);
  if (!sent) {
    if (sent.error() == Errc::no_buffer_space) net.counters().add(Counter::UdpSndbufErrors);
    return sent.error();
  }
  net.counters().add(Counter::UdpOutDatagrams);
  return data.size();
}

Result<std::size_t> Socket::send(std::span<const std::byte> data) {
  if (!impl_) return bad_descriptor();
  if (!impl_->is_connected()) return error(Errc::destination_address_required);
  return send_to(data, impl_->remote());
}

Result<Datagram> Socket::receive_from(std::span<std::byte> buffer) {
  if (!impl_) return bad_descriptor();
  if (impl_->has_error()) return impl_->take_error();
  auto item = impl_->queue.pop();
  if (!item) return error(Errc::operation_would_block);
  const auto payload = item->payload.data();
  const std::size_t n = std::min(payload.size(), buffer.size());
  if (n != 0) std::memcpy(buffer.data(), payload.data(), n);
  // Linux counts a datagram delivered when the application reads it.
  impl_->net->counters().add(Counter::UdpInDatagrams);
  return Datagram{.size = n, .from = item->from, .truncated = n < payload.size()};
}

Endpoint Socket::local_endpoint() const { return impl_ ? impl_->local() : Endpoint{}; }
Endpoint Socket::remote_endpoint() const { return impl_ ? impl_->remote() : Endpoint{}; }
Net& Socket::net() const { return *impl_->net; }

std::size_t Socket::next_size() const {
  if (!impl_) return 0;
  const Received* next = impl_->queue.front();
  return next != nullptr ? next->payload.size() : 0;
}

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
    const std::string peer_text =
        sock.is_connected() ? peer.to_string() : fmt::format("{}:*", peer.address);
    out += fmt::format("{:<7}{:<7}{:<7}{:>24} {:<24}\n", sock.is_connected() ? "ESTAB" : "UNCONN",
                       impl.queue.bytes(), 0, local.to_string(), peer_text);
  });
  return out;
}

}  // namespace netns::udp
