// The asynchronous sockets' shared core (the FIFOs of pending operations
// and the hop onto the Runner's executor) and the non-template members of
// UdpSocket and EchoSocket.
#include <algorithm>

#include "core/socket_errors.hpp"
#include "netns/asio.hpp"

namespace netns::asio {
namespace detail {

void SocketCore::start(Readiness readiness, std::unique_ptr<PendingOp> op) {
  // dispatch: inline when already on the Runner's executor, else a hop, so
  // an operation started from another thread never touches the Host there.
  const bool closed_before = closed();
  const std::uint64_t epoch = cancel_epoch_.load(std::memory_order_acquire);
  boost::asio::dispatch(executor(), [self = shared_from_this(), op = std::move(op), readiness, closed_before,
                                     epoch]() mutable {
    if (closed_before) {
      op->fail(error(Errc::bad_file_descriptor), false);
      return;
    }
    // cancel() or close() ran while this op hopped onto the executor.
    if (self->cancel_epoch_.load(std::memory_order_acquire) != epoch) {
      op->fail(boost::asio::error::operation_aborted, false);
      return;
    }
    auto& ops = self->queue(readiness);
    ops.push_back(std::move(op));
    // Earlier operations go first; if they are still waiting, so is this one.
    if (ops.size() == 1) self->drain(readiness);
  });
}

void SocketCore::cancel_op(std::uint64_t id) {
  boost::asio::dispatch(executor(), [weak = weak_from_this(), id] {
    auto self = weak.lock();
    if (self == nullptr) return;
    for (auto& ops : self->queues_) {
      auto it = std::find_if(ops.begin(), ops.end(),
                             [id](const std::unique_ptr<PendingOp>& op) { return op->id == id; });
      if (it == ops.end()) continue;
      std::unique_ptr<PendingOp> op = std::move(*it);
      ops.erase(it);
      op->fail(boost::asio::error::operation_aborted, true);
      return;
    }
    // Completed meanwhile.
  });
}

void SocketCore::drain(Readiness readiness) {
  // attempt() completes through post, never inline, so nothing re-enters
  // this loop while it runs; but a completed operation may have held the
  // last reference to this state (a connect that failed).
  auto keep = shared_from_this();
  auto& ops = queue(readiness);
  while (!ops.empty() && ops.front()->attempt()) ops.pop_front();
}

void SocketCore::cancel_all() {
  cancel_epoch_.fetch_add(1, std::memory_order_acq_rel);
  for (auto& queued : queues_) {
    auto ops = std::move(queued);
    queued.clear();
    for (auto& op : ops) op->fail(boost::asio::error::operation_aborted, false);
  }
}

void SocketCore::close() {
  if (closed_.exchange(true, std::memory_order_acq_rel)) return;
  cancel_all();
  close_socket();
}

UdpState::UdpState(Runner& runner, udp::Socket s) : SocketCore(runner), socket(std::move(s)) {
  // The state owns the socket, and closing it removes the callback, so the
  // raw pointer never outlives its target.
  socket.on_readable([this] { drain(Readiness::readable); });
}

void UdpState::close_socket() {
  socket.on_readable({});
  socket.close();
}

EchoState::EchoState(Runner& runner, icmp::EchoSocket s) : SocketCore(runner), socket(std::move(s)) {
  socket.on_readable([this] { drain(Readiness::readable); });
}

void EchoState::close_socket() {
  socket.on_readable({});
  socket.close();
}

}  // namespace detail

// ---- UdpSocket ----

UdpSocket::UdpSocket(Runner& runner, udp::Socket socket)
    : SocketHandle(runner, std::make_shared<detail::UdpState>(runner, std::move(socket))) {}

Result<UdpSocket> UdpSocket::open(Runner& runner, Net& net, Family family) {
  auto socket = udp::open(net, family);
  if (!socket) return socket.error();
  return UdpSocket(runner, std::move(*socket));
}

Result<void> UdpSocket::bind(Endpoint local) {
  if (!state_) return bad_descriptor();
  return state_->socket.bind(local);
}

Result<void> UdpSocket::connect(Endpoint remote) {
  if (!state_) return bad_descriptor();
  return state_->socket.connect(remote);
}

Result<void> UdpSocket::disconnect() {
  if (!state_) return bad_descriptor();
  return state_->socket.disconnect();
}

Result<std::size_t> UdpSocket::send_to(boost::asio::const_buffer data, Endpoint to) {
  if (!state_) return bad_descriptor();
  auto sent = state_->socket.send_to(detail::bytes_of(data), to);
  runner_->wake();
  return sent;
}

Result<std::size_t> UdpSocket::send(boost::asio::const_buffer data) {
  if (!state_) return bad_descriptor();
  auto sent = state_->socket.send(detail::bytes_of(data));
  runner_->wake();
  return sent;
}

Result<udp::Datagram> UdpSocket::receive_from(boost::asio::mutable_buffer buffer) {
  if (!state_) return bad_descriptor();
  return state_->socket.receive_from(detail::bytes_of(buffer));
}

Endpoint UdpSocket::local_endpoint() const { return state_ ? state_->socket.local_endpoint() : Endpoint{}; }

Endpoint UdpSocket::remote_endpoint() const { return state_ ? state_->socket.remote_endpoint() : Endpoint{}; }

bool UdpSocket::is_open() const { return state_ && state_->socket.is_open(); }

udp::Socket& UdpSocket::next_layer() { return state_->socket; }

// ---- EchoSocket ----

EchoSocket::EchoSocket(Runner& runner, icmp::EchoSocket socket)
    : SocketHandle(runner, std::make_shared<detail::EchoState>(runner, std::move(socket))) {}

Result<EchoSocket> EchoSocket::open(Runner& runner, Net& net, Family family) {
  auto socket = icmp::open(net, family);
  if (!socket) return socket.error();
  return EchoSocket(runner, std::move(*socket));
}

Result<void> EchoSocket::bind(Endpoint local) {
  if (!state_) return bad_descriptor();
  return state_->socket.bind(local);
}

Result<void> EchoSocket::send_echo(IpAddress dst, std::uint16_t seq, boost::asio::const_buffer payload) {
  if (!state_) return bad_descriptor();
  auto sent = state_->socket.send_echo(dst, seq, detail::bytes_of(payload));
  runner_->wake();
  return sent;
}

std::uint16_t EchoSocket::id() const { return state_ ? state_->socket.id() : 0; }

Endpoint EchoSocket::local_endpoint() const { return state_ ? state_->socket.local_endpoint() : Endpoint{}; }

bool EchoSocket::is_open() const { return state_ && state_->socket.is_open(); }

icmp::EchoSocket& EchoSocket::next_layer() { return state_->socket; }

}  // namespace netns::asio
