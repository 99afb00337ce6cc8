// TcpStream and TcpAcceptor: tcp::Stream and tcp::Listener driven by a
// Runner. The stream's on_readable and on_writable drain its queues of
// reads and writes (the connect waits among the writes: the handshake's end
// is a writable event); the listener's on_acceptable drains its accepts.
#include "core/socket_errors.hpp"
#include "netns/asio.hpp"

namespace netns::asio {
namespace detail {

namespace {

std::size_t total_size(auto buffers) {
  std::size_t total = 0;
  for (const auto& b : buffers) total += b.size();
  return total;
}

}  // namespace

TcpState::TcpState(Runner& runner, tcp::Stream s) : SocketCore(runner), stream(std::move(s)) { watch(); }

void TcpState::watch() {
  // The state owns the stream, and closing it removes the callbacks, so
  // the raw pointer never outlives its target.
  stream.on_readable([this] { drain(Readiness::readable); });
  stream.on_writable([this] { drain(Readiness::writable); });
}

void TcpState::close_socket() {
  if (!stream.is_open()) return;
  stream.close();    // removes the callbacks too
  runner().wake();   // a FIN or an RST to send
}

Result<std::size_t> TcpState::read_some(std::span<const boost::asio::mutable_buffer> buffers) {
  if (total_size(buffers) == 0) return std::size_t{0};
  std::size_t done = 0;
  for (const auto& b : buffers) {
    if (b.size() == 0) continue;
    // Only what is there now: an error or the FIN is reported alone, by
    // the next read, not swallowed behind bytes.
    if (done != 0 && stream.readable_bytes() == 0) break;
    auto got = stream.read(bytes_of(b));
    if (!got) return got.error();
    if (*got == 0) return make_error_code(boost::asio::error::eof);
    done += *got;
    if (*got < b.size()) break;
  }
  runner().wake();  // reading may have opened the window: an update to send
  return done;
}

Result<std::size_t> TcpState::write_some(std::span<const boost::asio::const_buffer> buffers) {
  if (total_size(buffers) == 0) return std::size_t{0};
  std::size_t done = 0;
  for (const auto& b : buffers) {
    if (b.size() == 0) continue;
    if (done != 0 && stream.writable_bytes() == 0) break;
    auto put = stream.write(bytes_of(b));
    if (!put) {
      if (done == 0) return put.error();
      break;
    }
    done += *put;
    if (*put < b.size()) break;
  }
  runner().wake();  // segments to send
  return done;
}

Result<void> TcpState::handshake() {
  switch (stream.state()) {
    case tcp::State::syn_sent:
    case tcp::State::syn_received:
      return error(Errc::operation_would_block);
    case tcp::State::closed: {
      // An empty write reports the connection's error (and takes it, as
      // connect(2) takes SO_ERROR); not_connected if it had none.
      auto probe = stream.write({});
      return probe ? error(Errc::not_connected) : probe.error();
    }
    default:
      return {};  // established, or beyond it already (the peer's FIN came with the handshake)
  }
}

void TcpState::start_connect(std::shared_ptr<TcpState> state, std::unique_ptr<PendingOp> op, Net& net,
                             Endpoint remote) {
  const auto executor = state->executor();
  boost::asio::dispatch(executor, [state = std::move(state), op = std::move(op), net = &net, remote]() mutable {
    auto stream = tcp::connect(*net, remote);
    if (!stream) {
      op->fail(stream.error(), false);
      return;
    }
    state->stream = std::move(*stream);
    state->watch();
    state->runner().wake();  // the SYN
    state->start(Readiness::writable, std::move(op));
  });
}

AcceptorState::AcceptorState(Runner& runner, tcp::Listener l) : SocketCore(runner), listener(std::move(l)) {
  listener.on_acceptable([this] { drain(Readiness::readable); });
}

void AcceptorState::close_socket() {
  if (!listener.is_open()) return;
  listener.on_acceptable({});
  listener.close();
  runner().wake();  // resets for the connections never accepted
}

}  // namespace detail

// ---- TcpStream ----

TcpStream::TcpStream(Runner& runner, tcp::Stream stream)
    : SocketHandle(runner, std::make_shared<detail::TcpState>(runner, std::move(stream))) {}

TcpStream::TcpStream(Runner& runner, std::shared_ptr<detail::TcpState> state)
    : SocketHandle(runner, std::move(state)) {}

Result<void> TcpStream::shutdown() {
  if (!state_) return bad_descriptor();
  auto done = state_->stream.shutdown();
  runner_->wake();  // the FIN
  // Writes still waiting now fail (broken_pipe), as a blocked send(2) does.
  state_->drain(detail::Readiness::writable);
  return done;
}

tcp::State TcpStream::state() const { return state_ ? state_->stream.state() : tcp::State::closed; }

Endpoint TcpStream::local_endpoint() const { return state_ ? state_->stream.local_endpoint() : Endpoint{}; }

Endpoint TcpStream::remote_endpoint() const { return state_ ? state_->stream.remote_endpoint() : Endpoint{}; }

void TcpStream::set_nodelay(bool enabled) {
  if (state_) state_->stream.set_nodelay(enabled);
}

bool TcpStream::is_open() const { return state_ && state_->stream.is_open(); }

tcp::Stream& TcpStream::next_layer() { return state_->stream; }

// ---- TcpAcceptor ----

TcpAcceptor::TcpAcceptor(Runner& runner, tcp::Listener listener)
    : SocketHandle(runner, std::make_shared<detail::AcceptorState>(runner, std::move(listener))) {}

Result<TcpAcceptor> TcpAcceptor::open(Runner& runner, Net& net, Endpoint local, int backlog) {
  auto listener = tcp::listen(net, local, backlog);
  if (!listener) return listener.error();
  return TcpAcceptor(runner, std::move(*listener));
}

Endpoint TcpAcceptor::local_endpoint() const { return state_ ? state_->listener.local_endpoint() : Endpoint{}; }

bool TcpAcceptor::is_open() const { return state_ && state_->listener.is_open(); }

std::size_t TcpAcceptor::pending() const { return state_ ? state_->listener.pending() : 0; }

tcp::Listener& TcpAcceptor::next_layer() { return state_->listener; }

}  // namespace netns::asio
