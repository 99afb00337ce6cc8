// Ping sockets (Linux's net/ipv4/ping.c, both families): echo requests out
// through Ipv4Stack::send_icmp or Ipv6Stack::send; replies and the errors
// quoting a request in through each layer's transport slot for ICMP or
// ICMPv6 (their input hands echo replies and the errors quoting one of ours
// there); sockets found by echo id in the shared SocketTable. An IPv6 ping
// socket speaks ICMPv6 only: it is v6-only.
#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <utility>

#include <boost/asio/error.hpp>

#include "core/socket_errors.hpp"
#include "ipv4/ping_ops.hpp"
#include "ipv4/socket_table.hpp"
#include "ipv4/stack.hpp"
#include "ipv6/stack.hpp"
#include "netns/host.hpp"
#include "netns/icmp.hpp"
#include "netns/net.hpp"
#include "netns/wire/bytes.hpp"
#include "netns/wire/icmp.hpp"
#include "netns/wire/icmpv6.hpp"
#include "stack/builtins.hpp"

namespace netns::icmp {
namespace {

using ipv4::InetSocket;
using ipv4::Ipv4Stack;
using ipv4::SocketTable;

struct Received {
  Packet payload;  // data() at the echo data
  EchoReply reply;
};

// When each recent request left, by sequence number: rtt without a map.
class SendTimes {
 public:
  void record(std::uint16_t seq, Clock::time_point at) { slots_[seq % kSlots] = {seq, true, at}; }
  std::chrono::nanoseconds rtt(std::uint16_t seq, Clock::time_point now) const {
    const Slot& s = slots_[seq % kSlots];
    if (!s.used || s.seq != seq) return std::chrono::nanoseconds{0};
    return std::chrono::duration_cast<std::chrono::nanoseconds>(now - s.at);
  }

 private:
  static constexpr std::size_t kSlots = 64;
  struct Slot {
    std::uint16_t seq = 0;
    bool used = false;
    Clock::time_point at{};
  };
  std::array<Slot, kSlots> slots_{};
};

}  // namespace

struct EchoSocket::Impl final : InetSocket {
  Impl(NetRef ref, SocketSlot slot, PingOps& ops, SocketTable& table, Family family)
      : InetSocket(family, true),
        net(std::move(ref)),
        slot(std::move(slot)),
        ops(&ops),
        table(&table),
        queue(net->resources(), static_cast<std::size_t>(net->sysctl().value(SysctlId::core_rmem_default))),
        pmtu_discovery(net->sysctl().value(SysctlId::ip_no_pmtu_disc) == 0) {}

  Result<void> send_ipv4(Ipv4Address dst, std::uint16_t seq, std::span<const std::byte> payload);
  Result<void> send_ipv6(const Ipv6Address& dst, std::uint16_t seq, std::span<const std::byte> payload);

  NetRef net;
  SocketSlot slot;  // one of net.core.sockets_max
  PingOps* ops;
  SocketTable* table;
  ipv4::ReceiveQueue<Received> queue;
  SendTimes sent;
  bool pmtu_discovery;  // IP_PMTUDISC_WANT unless net.ipv4.ip_no_pmtu_disc (inet_create)
};

// ---- input ----

void PingOps::deliver(Net& net, Packet reply, const ipv4::InputMeta& meta) {
  auto view = wire::IcmpView::checked(reply.data());
  if (!view || view->type() != wire::IcmpType::echo_reply) return;
  // Linux's ping_lookup: the id, and the bound address when there is one.
  const std::size_t size = view->payload().size();
  reply.pull_front(wire::IcmpView::kHeaderLen);
  queue_reply(net, std::move(reply), {meta.dst, view->echo_id()}, meta.src, view->echo_seq(), size);
}

void PingOps::deliver(Net& net, Packet reply, const ipv6::InputMeta& meta) {
  // ICMPv6 input has checked the checksum and the type.
  if (reply.size() < wire::Icmpv6Repr::kHeaderLen) return;
  const auto bytes = reply.data();
  const std::uint16_t id = wire::load_be16(bytes, 4), seq = wire::load_be16(bytes, 6);
  const std::size_t size = bytes.size() - wire::Icmpv6Repr::kHeaderLen;
  reply.pull_front(wire::Icmpv6Repr::kHeaderLen);
  queue_reply(net, std::move(reply), {meta.dst, id}, meta.src, seq, size);
}

void PingOps::queue_reply(Net& net, Packet reply, Endpoint local, const IpAddress& from, std::uint16_t seq,
                          std::size_t payload_size) {
  PingNet* state = this->state(net);
  if (state == nullptr) return;
  InetSocket* sock = state->table.lookup(local, {from, 0});
  if (sock == nullptr) return;
  auto& impl = static_cast<EchoSocket::Impl&>(*sock);
  const EchoReply echo{.from = from, .seq = seq, .payload_size = payload_size,
                       .rtt = impl.sent.rtt(seq, net.host().now())};
  const std::size_t truesize = reply.truesize();
  switch (impl.queue.push(Received{std::move(reply), echo}, truesize)) {
    case ipv4::ReceiveQueue<Received>::Push::queued:
      impl.notify_readable();
      return;
    case ipv4::ReceiveQueue<Received>::Push::rcvbuf_full:
      return;  // as Linux's ping_queue_rcv_skb: no counter
    case ipv4::ReceiveQueue<Received>::Push::no_memory:
      net.counters().add(Counter::IpExtPacketMemDrops);
      return;
  }
}

void PingOps::deliver_error(Net& net, const ipv4::IcmpError& error) {
  auto quoted = wire::IcmpView::checked(error.quoted);
  if (!quoted || quoted->type() != wire::IcmpType::echo_request) return;
  if (error.type == wire::IcmpType::dest_unreachable &&
      error.code == static_cast<std::uint8_t>(wire::IcmpUnreachable::frag_needed)) {
    stack().update_pmtu(net, error.orig_dst, error.info);  // ping_err: ipv4_sk_update_pmtu
  }
  report_error(net, {error.orig_src, quoted->echo_id()}, error.orig_dst, error.error());
}

void PingOps::deliver_error(Net& net, const ipv6::IcmpError& error) {
  // The quoted echo request: type, code, checksum, id, sequence (only the
  // first 8 bytes are promised, so no checksum check).
  if (error.quoted.size() < wire::Icmpv6Repr::kHeaderLen ||
      wire::load_u8(error.quoted, 0) != ipv6::kIcmp6EchoRequest) {
    return;
  }
  report_error(net, {error.orig_src, wire::load_be16(error.quoted, 4)}, error.orig_dst, error.error());
}

void PingOps::report_error(Net& net, Endpoint local, const IpAddress& remote, boost::system::error_code error) {
  PingNet* state = this->state(net);
  if (state == nullptr) return;
  InetSocket* sock = state->table.lookup(local, {remote, 0});
  if (sock == nullptr) return;
  // As a ping with IP_RECVERR (iputils sets it): every error is reported,
  // soft ones (host unreachable, TTL exceeded) included.
  sock->set_error(error);
  sock->notify_readable();
}

// ---- EchoSocket ----

EchoSocket::EchoSocket() = default;
EchoSocket::EchoSocket(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EchoSocket::EchoSocket(EchoSocket&& other) noexcept = default;
EchoSocket& EchoSocket::operator=(EchoSocket&& other) noexcept = default;
EchoSocket::~EchoSocket() = default;

void EchoSocket::close() { impl_.reset(); }

Result<EchoSocket> open(Net& net, Family family) {
  PingOps& ops = net.host().builtins().ping();
  auto opened = ops.open(net);
  if (!opened) return opened.error();
  auto slot = net.resources().open_socket();
  if (!slot) return slot.error();
  return EchoSocket(std::make_unique<EchoSocket::Impl>(std::move(opened->ref), std::move(*slot), ops,
                                                       opened->state.table, family));
}

Result<void> EchoSocket::bind(Endpoint local) {
  if (!impl_) return bad_descriptor();
  if (impl_->is_bound()) return error(Errc::invalid_argument);
  if (local.family() != impl_->family()) return error(Errc::address_family_not_supported);
  Net& net = *impl_->net;
  auto ok = local.address.is_v4()
                ? ipv4::check_bind_address(net, impl_->ops->stack(), local.address.to_v4())
                : ipv4::check_bind_address(net, impl_->ops->stack(), impl_->ops->stack6(), local.address.to_v6(),
                                           true);
  if (!ok) return ok;
  return impl_->table->bind(*impl_, local);
}

Result<void> EchoSocket::send_echo(IpAddress dst, std::uint16_t seq, std::span<const std::byte> payload) {
  if (!impl_) return bad_descriptor();
  if (impl_->has_error()) return impl_->take_error();
  if (dst.family() != impl_->family()) return error(Errc::address_family_not_supported);
  if (payload.size() > (dst.is_v6() ? kMaxEchoPayload6 : kMaxEchoPayload)) return error(Errc::message_size);
  if (!impl_->is_bound()) {
    if (auto ok = impl_->table->bind(*impl_, impl_->local()); !ok) return ok;
  }
  auto sent = dst.is_v4() ? impl_->send_ipv4(dst.to_v4(), seq, payload) : impl_->send_ipv6(dst.to_v6(), seq, payload);
  if (sent) impl_->sent.record(seq, impl_->net->host().now());
  return sent;
}

Result<void> EchoSocket::Impl::send_ipv4(Ipv4Address dst, std::uint16_t seq, std::span<const std::byte> payload) {
  Net& net = *this->net;
  Ipv4Stack& stack = ops->stack();
  if (ipv4::is_broadcast_destination(net, stack, dst)) return error(Errc::permission_denied);
  auto route = stack.route_output(net, dst);
  if (!route) return Ipv4Stack::no_route(net, route.error());
  const Ipv4Address bound = local().address.to_v4();
  const Ipv4Address src = bound.is_unspecified() ? route->source : bound;

  const auto repr = wire::IcmpRepr::echo_request(local().port, seq, payload.size());
  Packet packet = net.host().packets().allocate(repr.buffer_len());
  if (!packet) return error(Errc::no_buffer_space);
  auto bytes = packet.mutable_data();
  if (!payload.empty()) std::memcpy(bytes.data() + wire::IcmpRepr::kHeaderLen, payload.data(), payload.size());
  repr.emit(bytes);
  // As any socket wanting path MTU discovery: DF on what fits the path, the
  // rest fragmented without it; DF or not, the ID is the hashed generator's.
  const ipv4::PathMtu path = stack.path_mtu(net, dst, *route->dev);
  const bool dont_fragment =
      pmtu_discovery && !path.locked && repr.buffer_len() + wire::Ipv4Repr::kHeaderLen <= path.mtu;
  stack.send_icmp(net, std::move(packet),
                  {.src = src, .dst = dst, .protocol = wire::IpProtocol::icmp,
                   .dont_fragment = dont_fragment, .ignore_df = true},
                  *route);
  return {};
}

// ping_v6_sendmsg: ICMPv6 echo through the IPv6 layer, which fragments
// what the path cannot carry.
Result<void> EchoSocket::Impl::send_ipv6(const Ipv6Address& dst, std::uint16_t seq,
                                         std::span<const std::byte> payload) {
  Net& net = *this->net;
  ipv6::Ipv6Stack& stack = ops->stack6();
  auto route = stack.route_output(net, dst);
  if (!route) return ipv6::Ipv6Stack::no_route(net, route.error());
  const Ipv6Address bound = local().address.to_v6();
  const Ipv6Address src = bound.is_unspecified() ? route->source : bound.with_scope(0);

  const auto repr = wire::Icmpv6Repr::echo_request(local().port, seq, payload.size());
  Packet packet = net.host().packets().allocate(repr.buffer_len());
  if (!packet) return error(Errc::no_buffer_space);
  auto bytes = packet.mutable_data();
  if (!payload.empty()) std::memcpy(bytes.data() + wire::Icmpv6Repr::kHeaderLen, payload.data(), payload.size());
  repr.emit(bytes, src, dst);
  auto sent = stack.send(net, std::move(packet), {.src = src, .dst = dst, .next_header = wire::IpProtocol::icmpv6},
                         *route);
  if (sent) ipv6::count_icmp6_out(net, ipv6::kIcmp6EchoRequest);
  return sent;
}

Result<EchoReply> EchoSocket::receive(std::span<std::byte> payload) {
  if (!impl_) return bad_descriptor();
  if (impl_->has_error()) return impl_->take_error();
  auto item = impl_->queue.pop();
  if (!item) return error(Errc::operation_would_block);
  const auto data = item->payload.data();
  const std::size_t n = std::min(data.size(), payload.size());
  if (n != 0) std::memcpy(payload.data(), data.data(), n);
  return item->reply;
}

Result<EchoReply> EchoSocket::receive() { return receive(std::span<std::byte>{}); }

std::uint16_t EchoSocket::id() const { return impl_ ? impl_->local().port : 0; }
Endpoint EchoSocket::local_endpoint() const { return impl_ ? impl_->local() : Endpoint{}; }
Family EchoSocket::family() const { return impl_ ? impl_->family() : Family::ipv4; }
Net& EchoSocket::net() const { return *impl_->net; }

void EchoSocket::on_readable(std::function<void()> callback) {
  if (impl_) impl_->set_readable_callback(std::move(callback));
}

Result<void> EchoSocket::set_receive_buffer_size(std::size_t bytes) {
  if (!impl_) return bad_descriptor();
  if (bytes == 0) return error(Errc::invalid_argument);
  impl_->queue.set_budget(bytes);
  return {};
}

}  // namespace netns::icmp
