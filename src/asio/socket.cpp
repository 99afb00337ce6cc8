// The asynchronous sockets' shared core (the FIFO of pending reads and the
// hop onto the Runner's executor) and the non-template members of UdpSocket
// and EchoSocket.
#include <algorithm>

#include "netns/asio.hpp"

namespace netns::asio {
namespace detail {

void SocketCore::start_read(std::unique_ptr<ReadOp> op) {
  // dispatch: inline when already on the Runner's executor, else a hop, so
  // an operation started from another thread never touches the Host there.
  const bool closed_before = closed();
  const std::uint64_t epoch = cancel_epoch_.load(std::memory_order_acquire);
  boost::asio::dispatch(executor(), [self = shared_from_this(), op = std::move(op), closed_before,
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
    self->reads_.push_back(std::move(op));
    // Earlier reads go first; if they are still waiting, so is this one.
    if (self->reads_.size() == 1) self->drain();
  });
}

void SocketCore::cancel_read(std::uint64_t id) {
  boost::asio::dispatch(executor(), [weak = weak_from_this(), id] {
    auto self = weak.lock();
    if (self == nullptr) return;
    auto it = std::find_if(self->reads_.begin(), self->reads_.end(),
                           [id](const std::unique_ptr<ReadOp>& op) { return op->id == id; });
    if (it == self->reads_.end()) return;  // completed meanwhile
    std::unique_ptr<ReadOp> op = std::move(*it);
    self->reads_.erase(it);
    op->fail(boost::asio::error::operation_aborted, true);
  });
}

void SocketCore::drain() {
  // attempt() completes through post, never inline, so nothing re-enters
  // this loop while it runs.
  while (!reads_.empty() && reads_.front()->attempt()) reads_.pop_front();
}

void SocketCore::cancel_all() {
  cancel_epoch_.fetch_add(1, std::memory_order_acq_rel);
  auto reads = std::move(reads_);
  reads_.clear();
  for (auto& op : reads) op->fail(boost::asio::error::operation_aborted, false);
}

void SocketCore::close_core() {
  closed_.store(true, std::memory_order_release);
  cancel_all();
}

}  // namespace detail

namespace {

boost::system::error_code bad_descriptor() { return error(Errc::bad_file_descriptor); }

}  // namespace

// ---- UdpSocket ----

UdpSocket::UdpSocket(Runner& runner, udp::Socket socket)
    : runner_(&runner), state_(std::make_shared<detail::UdpState>(runner, std::move(socket))) {
  if (!state_->socket.is_open()) return;
  // The state owns the socket, and closing it removes the callback, so the
  // raw pointer never outlives its target.
  state_->socket.on_readable([state = state_.get()] { state->drain(); });
}

Result<UdpSocket> UdpSocket::open(Runner& runner, Net& net) {
  auto socket = udp::open(net);
  if (!socket) return socket.error();
  return UdpSocket(runner, std::move(*socket));
}

UdpSocket& UdpSocket::operator=(UdpSocket&& other) noexcept {
  if (this != &other) {
    close();
    runner_ = other.runner_;
    state_ = std::move(other.state_);
  }
  return *this;
}

UdpSocket::~UdpSocket() { close(); }

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
  return state_->socket.receive_from(
      std::span<std::byte>(static_cast<std::byte*>(buffer.data()), buffer.size()));
}

Endpoint UdpSocket::local_endpoint() const { return state_ ? state_->socket.local_endpoint() : Endpoint{}; }

Endpoint UdpSocket::remote_endpoint() const { return state_ ? state_->socket.remote_endpoint() : Endpoint{}; }

bool UdpSocket::is_open() const { return state_ && state_->socket.is_open(); }

udp::Socket& UdpSocket::next_layer() { return state_->socket; }

void UdpSocket::cancel() {
  if (state_) state_->cancel_all();
}

void UdpSocket::close() {
  if (!state_ || state_->closed()) return;
  state_->close_core();
  state_->socket.on_readable({});
  state_->socket.close();
}

// ---- EchoSocket ----

EchoSocket::EchoSocket(Runner& runner, icmp::EchoSocket socket)
    : runner_(&runner), state_(std::make_shared<detail::EchoState>(runner, std::move(socket))) {
  if (!state_->socket.is_open()) return;
  state_->socket.on_readable([state = state_.get()] { state->drain(); });
}

Result<EchoSocket> EchoSocket::open(Runner& runner, Net& net) {
  auto socket = icmp::open(net);
  if (!socket) return socket.error();
  return EchoSocket(runner, std::move(*socket));
}

EchoSocket& EchoSocket::operator=(EchoSocket&& other) noexcept {
  if (this != &other) {
    close();
    runner_ = other.runner_;
    state_ = std::move(other.state_);
  }
  return *this;
}

EchoSocket::~EchoSocket() { close(); }

Result<void> EchoSocket::bind(Endpoint local) {
  if (!state_) return bad_descriptor();
  return state_->socket.bind(local);
}

Result<void> EchoSocket::send_echo(Ipv4Address dst, std::uint16_t seq, boost::asio::const_buffer payload) {
  if (!state_) return bad_descriptor();
  auto sent = state_->socket.send_echo(dst, seq, detail::bytes_of(payload));
  runner_->wake();
  return sent;
}

std::uint16_t EchoSocket::id() const { return state_ ? state_->socket.id() : 0; }

Endpoint EchoSocket::local_endpoint() const { return state_ ? state_->socket.local_endpoint() : Endpoint{}; }

bool EchoSocket::is_open() const { return state_ && state_->socket.is_open(); }

icmp::EchoSocket& EchoSocket::next_layer() { return state_->socket; }

void EchoSocket::cancel() {
  if (state_) state_->cancel_all();
}

void EchoSocket::close() {
  if (!state_ || state_->closed()) return;
  state_->close_core();
  state_->socket.on_readable({});
  state_->socket.close();
}

}  // namespace netns::asio
