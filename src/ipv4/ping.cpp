// Ping sockets (Linux's net/ipv4/ping.c): echo requests out through
// Ipv4Stack::send_icmp; replies and the errors quoting a request in through
// the IPv4 layer's transport slot for ICMP (its ICMP input hands echo replies
// and ICMP-quoting errors there); sockets found by echo id in the shared
// SocketTable.
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
#include "netns/host.hpp"
#include "netns/icmp.hpp"
#include "netns/net.hpp"
#include "netns/wire/bytes.hpp"
#include "netns/wire/icmp.hpp"
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
  Impl(NetRef ref, SocketSlot slot, PingOps& ops, SocketTable& table)
      : net(std::move(ref)),
        slot(std::move(slot)),
        ops(&ops),
        table(&table),
        queue(net->resources(), static_cast<std::size_t>(net->sysctl().value(SysctlId::core_rmem_default))),
        pmtu_discovery(net->sysctl().value(SysctlId::ip_no_pmtu_disc) == 0) {}

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
  PingNet* state = this->state(net);
  if (state == nullptr) return;
  SocketTable* sockets = &state->table;
  // Linux's ping_lookup: the id, and the bound address when there is one.
  InetSocket* sock = sockets->lookup({meta.dst, view->echo_id()}, {meta.src, 0});
  if (sock == nullptr) return;
  auto& impl = static_cast<EchoSocket::Impl&>(*sock);
  const std::uint16_t seq = view->echo_seq();
  const std::size_t size = view->payload().size();
  reply.pull_front(wire::IcmpView::kHeaderLen);
  const EchoReply echo{.from = meta.src,
                       .seq = seq,
                       .payload_size = size,
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
  PingNet* state = this->state(net);
  if (state == nullptr) return;
  SocketTable* sockets = &state->table;
  InetSocket* sock = sockets->lookup({error.orig_src, quoted->echo_id()}, {error.orig_dst, 0});
  if (sock == nullptr) return;
  if (error.type == wire::IcmpType::dest_unreachable &&
      error.code == static_cast<std::uint8_t>(wire::IcmpUnreachable::frag_needed)) {
    stack().update_pmtu(net, error.orig_dst, error.info);  // ping_err: ipv4_sk_update_pmtu
  }
  // As a ping with IP_RECVERR (iputils sets it): every error is reported,
  // soft ones (host unreachable, TTL exceeded) included.
  sock->set_error(error.error());
  sock->notify_readable();
}

// ---- EchoSocket ----

EchoSocket::EchoSocket() = default;
EchoSocket::EchoSocket(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EchoSocket::EchoSocket(EchoSocket&& other) noexcept = default;
EchoSocket& EchoSocket::operator=(EchoSocket&& other) noexcept = default;
EchoSocket::~EchoSocket() = default;

void EchoSocket::close() { impl_.reset(); }

Result<EchoSocket> open(Net& net) {
  PingOps& ops = net.host().builtins().ping();
  auto opened = ops.open(net);
  if (!opened) return opened.error();
  auto slot = net.resources().open_socket();
  if (!slot) return slot.error();
  return EchoSocket(std::make_unique<EchoSocket::Impl>(std::move(opened->ref), std::move(*slot), ops,
                                                       opened->state.table));
}

Result<void> EchoSocket::bind(Endpoint local) {
  if (!impl_) return bad_descriptor();
  if (impl_->is_bound()) return error(Errc::invalid_argument);
  if (!local.address.is_v4()) return error(Errc::address_family_not_supported);
  if (auto ok = ipv4::check_bind_address(*impl_->net, impl_->ops->stack(), local.address.to_v4()); !ok) {
    return ok;
  }
  return impl_->table->bind(*impl_, local);
}

Result<void> EchoSocket::send_echo(Ipv4Address dst, std::uint16_t seq,
                                   std::span<const std::byte> payload) {
  if (!impl_) return bad_descriptor();
  if (impl_->has_error()) return impl_->take_error();
  if (payload.size() > kMaxEchoPayload) return error(Errc::message_size);
  Net& net = *impl_->net;
  if (ipv4::is_broadcast_destination(net, impl_->ops->stack(), dst)) return error(Errc::permission_denied);
  if (!impl_->is_bound()) {
    if (auto ok = impl_->table->bind(*impl_, {Ipv4Address::any(), 0}); !ok) return ok;
  }
  Ipv4Stack& stack = impl_->ops->stack();
  auto route = stack.route_output(net, dst);
  if (!route) return route.error();
  const Endpoint local = impl_->local();
  const Ipv4Address src = local.address.to_v4().is_unspecified() ? route->source : local.address.to_v4();

  const auto repr = wire::IcmpRepr::echo_request(local.port, seq, payload.size());
  Packet packet = net.host().packets().allocate(repr.buffer_len());
  if (!packet) return error(Errc::no_buffer_space);
  auto bytes = packet.mutable_data();
  if (!payload.empty()) {
    std::memcpy(bytes.data() + wire::IcmpRepr::kHeaderLen, payload.data(), payload.size());
  }
  repr.emit(bytes);
  impl_->sent.record(seq, net.host().now());
  // As any socket wanting path MTU discovery: DF on what fits the path, the
  // rest fragmented without it; DF or not, the ID is the hashed generator's.
  const ipv4::PathMtu path = stack.path_mtu(net, dst, *route->dev);
  const bool dont_fragment = impl_->pmtu_discovery && !path.locked &&
                             repr.buffer_len() + wire::Ipv4Repr::kHeaderLen <= path.mtu;
  stack.send_icmp(net, std::move(packet),
                  {.src = src, .dst = dst, .protocol = wire::IpProtocol::icmp,
                   .dont_fragment = dont_fragment, .ignore_df = true},
                  *route);
  return {};
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
