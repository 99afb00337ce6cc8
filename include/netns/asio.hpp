// netns/asio.hpp — driving a Host from a boost::asio::io_context, and
// asynchronous sockets with completion tokens (callbacks, use_future,
// C++20 coroutines with use_awaitable).
//
// A Runner polls one Host from an io_context: it arms a steady_timer for the
// deadline poll() returns, re-polls through post() while work remains, and
// is woken by the sockets below after they create work. Devices fed from
// outside the process (Host::polled_devices(): TAP) are watched by the
// reactor: their rx_fd() turning readable asks for a poll, so an idle
// program sleeps until the kernel sends a frame. A polled device without a
// descriptor (a DPDK port) makes the Runner busy-poll while it exists. UdpSocket,
// EchoSocket, TcpAcceptor and TcpStream wrap the non-blocking netns sockets
// and complete their operations through the io_context, never inline.
//
//   boost::asio::io_context io;
//   netns::Host host;
//   auto red = host.create_net("red").value();        // + a veth and addresses
//   netns::asio::Runner runner(host, io);
//   runner.start();
//   auto server = netns::asio::UdpSocket::open(runner, *red).value();
//   server.bind({netns::Ipv4Address::any(), 7}).value();
//   boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
//     std::array<std::byte, 1500> buf;
//     netns::Endpoint from;
//     for (;;) {
//       std::size_t n = co_await server.async_receive_from(boost::asio::buffer(buf), from,
//                                                          boost::asio::use_awaitable);
//       co_await server.async_send_to(boost::asio::buffer(buf, n), from, boost::asio::use_awaitable);
//     }
//   }, boost::asio::detached);
//   io.run();
//
// Threads. A Host is driven by one thread (docs/ARCHITECTURE.md, section 3), so every
// poll, every socket operation and every on_readable callback must happen on
// one thread at a time. Either run the io_context on one thread, or give the
// Runner a strand (boost::asio::make_strand(io)) and run the io_context on
// as many threads as you like. Asynchronous operations may be *started* from
// any thread: they hop onto the Runner's executor before touching the Host.
// Only these are thread-safe: Runner::wake, Runner::post, Runner::stats and
// starting an async_* operation. Everything else (constructing, closing and
// destroying sockets, the synchronous passthroughs, start/stop, destroying
// the Runner) belongs on the Runner's executor, or to a time when the
// io_context is not running.
//
// Work and idleness. An idle Host (poll returns time_point::max()) arms no
// timer and costs nothing until something wakes the Runner. A pending
// asynchronous operation counts as outstanding work of its handler's
// executor, as an Asio socket operation does, so io_context::run() keeps
// running while a receive waits. Host timers (ARP, reassembly) keep it
// running too: call Runner::stop() to let run() return once the program's
// own work is done.
//
// Lifetimes. The Host outlives the Runner; the Runner outlives its sockets.
// Destroying a socket cancels its pending operations (operation_aborted).
// A pending operation is owned by its socket, not by the io_context: close
// the sockets and let the io_context run their completions before
// destroying it, or a coroutine suspended in a receive is never resumed nor
// freed. TcpStream::async_connect has no socket to own it: the attempt owns
// itself until it completes (established, refused, timed out after
// net.ipv4.tcp_syn_retries) or is cancelled through its cancellation slot,
// and must have completed before the Host is destroyed, like every stream.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <type_traits>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/system/error_code.hpp>

#include "netns/address.hpp"
#include "netns/clock.hpp"
#include "netns/icmp.hpp"
#include "netns/result.hpp"
#include "netns/tcp.hpp"
#include "netns/udp.hpp"

namespace netns {
class Host;
class Net;
}  // namespace netns

namespace netns::asio {

using ErrorCode = boost::system::error_code;

struct RunnerStats {
  std::uint64_t polls = 0;        // Host::poll calls made
  std::uint64_t timer_waits = 0;  // steady_timer waits armed for a Host deadline
  std::uint64_t wakes = 0;        // wake() and post() calls, coalesced or not
  std::uint64_t descriptor_wakeups = 0;  // polls asked for by a readable device descriptor
};

// Drives one Host from an executor (usually an io_context's, or a strand).
class Runner {
 public:
  using executor_type = boost::asio::any_io_executor;

  // Does not poll until start().
  Runner(Host& host, executor_type executor);
  Runner(Host& host, boost::asio::io_context& io) : Runner(host, io.get_executor()) {}
  ~Runner();  // stop(); polls already posted find the Runner gone and do nothing
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Polls the Host soon (through the executor, not inline) and from then on
  // whenever it is due: at the deadline poll returned, again at once (posted,
  // so other handlers run in between) when poll ran out of budget, never
  // while the Host is idle.
  void start();
  // No more polls; the timer is cancelled. start() may follow.
  void stop();
  bool running() const;

  // Any thread. Asks for a poll soon: after an action that created work
  // outside poll (a send, a configuration change, a timer scheduled by
  // hand). Wakes arriving while a poll is pending are coalesced into it.
  // The sockets of this header call it themselves. Also after making,
  // destroying, moving or bringing up a TAP outside a poll: the Runner
  // (re)watches descriptors, and closes its copy of a destroyed device's
  // descriptor (which keeps the Linux interface alive), when it next polls.
  void wake();
  // Any thread: Host::post(fn), then wake(), so fn runs on the Host's thread
  // in the next poll. (Host::post alone would wait for the next deadline.)
  void post(std::function<void()> fn);

  // Busy polling: while on, every poll posts the next one at once, whatever
  // the deadline. Costs a core; off by default. The Runner also busy-polls
  // by itself, whatever this says, while any polled device that is up has
  // no descriptor to wait on (rx_fd() == -1: a DPDK port).
  void set_busy_poll(bool on);
  bool busy_poll() const;

  Host& host() const;
  executor_type get_executor() const;
  RunnerStats stats() const;  // any thread

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

namespace detail {

// Which readiness an operation waits for: each socket keeps one FIFO per kind.
enum class Readiness : std::uint8_t { readable, writable };

// An operation waiting for its socket to become readable or writable. Owned
// by its SocketCore's queue while queued; completes exactly once, always
// through boost::asio::post.
class PendingOp {
 public:
  virtual ~PendingOp() = default;
  // Tries the operation: false on would_block (the op stays queued),
  // otherwise posts the completion and returns true.
  virtual bool attempt() = 0;
  // Posts the completion with `error`. `from_cancellation_slot`: called by
  // the op's own cancellation handler, whose slot must not be cleared from
  // inside it.
  virtual void fail(ErrorCode error, bool from_cancellation_slot) = 0;

  std::uint64_t id = 0;
};

// What every asynchronous socket shares: the Runner, a FIFO of pending
// operations per readiness, and the hop onto the Runner's executor. Lives in
// a shared_ptr so operations started from other threads, and cancellation
// handlers, can find it gone. A derived state owns the wrapped socket and
// points its readiness callbacks at drain(). All members but the
// constructor and next_op_id run on the Runner's executor.
class SocketCore : public std::enable_shared_from_this<SocketCore> {
 public:
  explicit SocketCore(Runner& runner) : runner_(&runner) {}
  virtual ~SocketCore() = default;
  SocketCore(const SocketCore&) = delete;
  SocketCore& operator=(const SocketCore&) = delete;

  Runner& runner() const { return *runner_; }
  Runner::executor_type executor() const { return runner_->get_executor(); }
  bool closed() const { return closed_.load(std::memory_order_acquire); }

  // Any thread: queues `op` on the Runner's executor, behind earlier
  // operations of its kind, and tries it. Started after close:
  // bad_file_descriptor; closed between the start and the hop onto the
  // executor: operation_aborted.
  void start(Readiness readiness, std::unique_ptr<PendingOp> op);
  // Any thread (a cancellation handler): completes the operation `id` with
  // operation_aborted if it is still queued.
  void cancel_op(std::uint64_t id);
  std::uint64_t next_op_id() { return next_op_id_.fetch_add(1, std::memory_order_relaxed); }

  // Completes queued operations of one kind while the socket is ready for
  // them (its readiness callbacks). An operation may release the last
  // reference to this state: drain keeps it alive until it returns.
  void drain(Readiness readiness);
  // Completes with operation_aborted every operation started before this
  // call, including those still hopping onto the executor.
  void cancel_all();
  // cancel_all(), no more operations start, and the wrapped socket is
  // closed. Idempotent.
  void close();

 protected:
  // Detaches the readiness callbacks and closes the wrapped socket.
  virtual void close_socket() = 0;

 private:
  std::deque<std::unique_ptr<PendingOp>>& queue(Readiness r) { return queues_[static_cast<std::size_t>(r)]; }

  Runner* runner_;
  std::array<std::deque<std::unique_ptr<PendingOp>>, 2> queues_;
  std::atomic<bool> closed_{false};
  std::atomic<std::uint64_t> next_op_id_{1};
  std::atomic<std::uint64_t> cancel_epoch_{0};  // cancel_all() calls so far
};

template <class Handler>
using HandlerExecutor = boost::asio::associated_executor_t<Handler, Runner::executor_type>;

// Completes `handler` with `args` on its associated executor (the Runner's
// when it has none), never inline.
template <class Handler, class... Args>
void post_completion(Handler handler, const Runner::executor_type& fallback, Args... args) {
  auto ex = boost::asio::get_associated_executor(handler, fallback);
  boost::asio::post(ex, boost::asio::append(std::move(handler), std::move(args)...));
}

// The value a failed operation completes with. A stream that failed to
// connect or accept is a closed one of the same Runner (specialised below).
template <class T>
T empty_value(Runner&) {
  return T{};
}

// The handler, the work it keeps outstanding on its executor while pending,
// and its cancellation slot. Signature void(ErrorCode, Values...).
template <class Handler, class... Values>
class BasicOp : public PendingOp {
 public:
  BasicOp(Handler handler, SocketCore& core)
      : handler_(std::move(handler)),
        work_(boost::asio::make_work_guard(handler_, core.executor())),
        runner_(&core.runner()),
        slot_(boost::asio::get_associated_cancellation_slot(handler_)) {
    id = core.next_op_id();
    if (slot_.is_connected()) {
      slot_.template emplace<CancelHandler>(CancelHandler{core.weak_from_this(), id});
    }
  }

  void fail(ErrorCode error, bool from_cancellation_slot) override {
    complete_with(from_cancellation_slot, error, empty_value<Values>(*runner_)...);
  }

  // The completion of an operation started on a closed (moved-from) socket.
  static void complete_closed(Handler handler, Runner& runner) {
    post_completion(std::move(handler), runner.get_executor(), ErrorCode(error(Errc::bad_file_descriptor)),
                    empty_value<Values>(runner)...);
  }

 protected:
  void complete(ErrorCode error, Values... values) { complete_with(false, error, std::move(values)...); }
  Runner& runner() const { return *runner_; }

 private:
  void complete_with(bool from_cancellation_slot, ErrorCode error, Values... values) {
    // A stale handler left in the slot only finds its id gone.
    if (slot_.is_connected() && !from_cancellation_slot) slot_.clear();
    post_completion(std::move(handler_), runner_->get_executor(), error, std::move(values)...);
    work_.reset();
  }

  struct CancelHandler {
    std::weak_ptr<SocketCore> core;
    std::uint64_t id;
    void operator()(boost::asio::cancellation_type_t type) {
      if (type == boost::asio::cancellation_type::none) return;
      if (auto c = core.lock()) c->cancel_op(id);
    }
  };

  Handler handler_;
  boost::asio::executor_work_guard<HandlerExecutor<Handler>> work_;
  Runner* runner_;
  boost::asio::associated_cancellation_slot_t<Handler> slot_;
};

// Starts an operation of type Op, built from the handler, the state and
// `args`, that waits for `readiness`; a moved-from socket (no state) gives
// bad_file_descriptor.
template <class Op, class State, class Handler, class... Args>
void start_op(Readiness readiness, const std::shared_ptr<State>& state, Runner& runner, Handler handler,
              Args... args) {
  if (state == nullptr) {
    Op::complete_closed(std::move(handler), runner);
    return;
  }
  state->start(readiness, std::make_unique<Op>(std::move(handler), *state, std::move(args)...));
}

// Runs `action` (returning Result<Value>) on the Runner's executor, wakes
// the Runner, and completes `handler` with the outcome through post.
template <class Value, class Handler, class Action>
void start_action(std::shared_ptr<SocketCore> core, Runner& runner, Handler handler, Action action) {
  auto work = boost::asio::make_work_guard(handler, runner.get_executor());
  const bool closed_before = core == nullptr || core->closed();
  boost::asio::dispatch(
      runner.get_executor(),
      [core = std::move(core), runner = &runner, handler = std::move(handler), work = std::move(work),
       action = std::move(action), closed_before]() mutable {
        if (closed_before || core->closed()) {
          // Closed before the start: as for a closed descriptor. Closed while
          // hopping onto the executor: aborted, like every op close() found.
          ErrorCode ec = closed_before ? ErrorCode(error(Errc::bad_file_descriptor))
                                       : ErrorCode(boost::asio::error::operation_aborted);
          post_completion(std::move(handler), runner->get_executor(), ec, Value{});
          return;
        }
        Result<Value> result = action();
        runner->wake();
        if (result) {
          post_completion(std::move(handler), runner->get_executor(), ErrorCode(), std::move(*result));
        } else {
          post_completion(std::move(handler), runner->get_executor(), result.error(), Value{});
        }
      });
}

// What every asynchronous socket class holds: its Runner and its state
// (none once moved from). Closing is the state's; the handle only forwards.
template <class State>
class SocketHandle {
 public:
  using executor_type = Runner::executor_type;

  executor_type get_executor() const { return runner_->get_executor(); }
  Runner& runner() const { return *runner_; }

  // Completes every pending operation with operation_aborted; the socket
  // stays open.
  void cancel() {
    if (state_) state_->cancel_all();
  }
  // cancel(), then closes the socket. Idempotent.
  void close() {
    if (state_) state_->close();
  }

 protected:
  SocketHandle(Runner& runner, std::shared_ptr<State> state) : runner_(&runner), state_(std::move(state)) {}
  SocketHandle(SocketHandle&& other) noexcept = default;
  SocketHandle& operator=(SocketHandle&& other) noexcept {  // closes what this handle held
    if (this != &other) {
      close();
      runner_ = other.runner_;
      state_ = std::move(other.state_);
    }
    return *this;
  }
  ~SocketHandle() { close(); }

  Runner* runner_;
  std::shared_ptr<State> state_;
};

inline std::span<const std::byte> bytes_of(boost::asio::const_buffer b) {
  return {static_cast<const std::byte*>(b.data()), b.size()};
}

inline std::span<std::byte> bytes_of(boost::asio::mutable_buffer b) {
  return {static_cast<std::byte*>(b.data()), b.size()};
}

struct UdpState final : SocketCore {
  UdpState(Runner& runner, udp::Socket s);
  void close_socket() override;
  udp::Socket socket;
};

template <class Handler>
class UdpReceiveOp final : public BasicOp<Handler, std::size_t> {
 public:
  UdpReceiveOp(Handler handler, UdpState& state, boost::asio::mutable_buffer buffer, Endpoint* from)
      : BasicOp<Handler, std::size_t>(std::move(handler), state),
        socket_(&state.socket), buffer_(buffer), from_(from) {}

  bool attempt() override {
    auto got = socket_->receive_from(bytes_of(buffer_));
    if (!got) {
      if (got.error() == boost::asio::error::would_block) return false;
      this->complete(got.error(), 0);
      return true;
    }
    if (from_ != nullptr) *from_ = got->from;
    this->complete(ErrorCode(), got->size);
    return true;
  }

 private:
  udp::Socket* socket_;  // owned by the UdpState that owns this op
  boost::asio::mutable_buffer buffer_;
  Endpoint* from_;
};

struct EchoState final : SocketCore {
  EchoState(Runner& runner, icmp::EchoSocket s);
  void close_socket() override;
  icmp::EchoSocket socket;
};

template <class Handler>
class EchoReceiveOp final : public BasicOp<Handler, icmp::EchoReply> {
 public:
  EchoReceiveOp(Handler handler, EchoState& state, boost::asio::mutable_buffer payload)
      : BasicOp<Handler, icmp::EchoReply>(std::move(handler), state),
        socket_(&state.socket), payload_(payload) {}

  bool attempt() override {
    auto got = socket_->receive(bytes_of(payload_));
    if (!got) {
      if (got.error() == boost::asio::error::would_block) return false;
      this->complete(got.error(), icmp::EchoReply{});
      return true;
    }
    this->complete(ErrorCode(), *got);
    return true;
  }

 private:
  icmp::EchoSocket* socket_;
  boost::asio::mutable_buffer payload_;
};

}  // namespace detail

// An asynchronous UDP socket: a udp::Socket driven by a Runner.
//
// Receives queue: any number may be outstanding, and they complete in the
// order they were started, one datagram each (like an Asio socket's). A
// datagram longer than the buffer is truncated and completes with the bytes
// copied and no error (Linux recvfrom without MSG_TRUNC). An error pending
// on the socket — connection_refused after an ICMP port unreachable
// answered a connected socket — completes the oldest receive.
//
// Sends copy the datagram before the operation's first step returns, so the
// buffer may be reused as soon as the completion runs; they complete with
// the bytes sent or the error send_to gave (network_unreachable,
// message_size...), always through the executor.
//
// Cancellation: cancel() and close() complete every pending receive with
// operation_aborted; so does the destructor. Per-operation cancellation
// (bind_cancellation_slot, awaitable operators, co_spawn with a cancellation
// slot) is supported for receives, for every cancellation type.
class UdpSocket : public detail::SocketHandle<detail::UdpState> {
 public:
  // Wraps an open (or inert) socket of one of the Runner's Host's namespaces.
  UdpSocket(Runner& runner, udp::Socket socket);
  // udp::open(net, family) wrapped; its errors. Endpoints are netns's, either family.
  [[nodiscard]] static Result<UdpSocket> open(Runner& runner, Net& net, Family family = Family::ipv4);
  // Moving leaves the source closed; assigning closes what this socket held;
  // destroying closes.

  // Receives one datagram into `buffer`, stores its source in `from` (which,
  // like the buffer, must stay valid until completion). Signature
  // void(ErrorCode, std::size_t bytes).
  template <class Token>
  auto async_receive_from(boost::asio::mutable_buffer buffer, Endpoint& from, Token&& token) {
    return boost::asio::async_initiate<Token, void(ErrorCode, std::size_t)>(
        [](auto handler, std::shared_ptr<detail::UdpState> state, Runner* runner,
           boost::asio::mutable_buffer buf, Endpoint* ep) {
          using Op = detail::UdpReceiveOp<std::decay_t<decltype(handler)>>;
          detail::start_op<Op>(detail::Readiness::readable, state, *runner, std::move(handler), buf, ep);
        },
        token, state_, runner_, buffer, &from);
  }
  // The same without the source (a connected socket's receive).
  template <class Token>
  auto async_receive(boost::asio::mutable_buffer buffer, Token&& token) {
    return boost::asio::async_initiate<Token, void(ErrorCode, std::size_t)>(
        [](auto handler, std::shared_ptr<detail::UdpState> state, Runner* runner,
           boost::asio::mutable_buffer buf) {
          using Op = detail::UdpReceiveOp<std::decay_t<decltype(handler)>>;
          detail::start_op<Op>(detail::Readiness::readable, state, *runner, std::move(handler), buf,
                               static_cast<Endpoint*>(nullptr));
        },
        token, state_, runner_, buffer);
  }

  // Sends one datagram to `to`. Signature void(ErrorCode, std::size_t bytes).
  template <class Token>
  auto async_send_to(boost::asio::const_buffer data, Endpoint to, Token&& token) {
    return boost::asio::async_initiate<Token, void(ErrorCode, std::size_t)>(
        [](auto handler, std::shared_ptr<detail::UdpState> state, Runner* runner,
           boost::asio::const_buffer buf, Endpoint dst) {
          detail::UdpState* s = state.get();
          detail::start_action<std::size_t>(std::move(state), *runner, std::move(handler),
                                            [s, buf, dst] { return s->socket.send_to(detail::bytes_of(buf), dst); });
        },
        token, state_, runner_, data, to);
  }
  // Sends one datagram to the connected peer (destination_address_required
  // when not connected).
  template <class Token>
  auto async_send(boost::asio::const_buffer data, Token&& token) {
    return boost::asio::async_initiate<Token, void(ErrorCode, std::size_t)>(
        [](auto handler, std::shared_ptr<detail::UdpState> state, Runner* runner,
           boost::asio::const_buffer buf) {
          detail::UdpState* s = state.get();
          detail::start_action<std::size_t>(std::move(state), *runner, std::move(handler),
                                            [s, buf] { return s->socket.send(detail::bytes_of(buf)); });
        },
        token, state_, runner_, data);
  }

  // Synchronous passthroughs: udp::Socket's, with its errors
  // (bad_file_descriptor once closed). The sends wake the Runner.
  [[nodiscard]] Result<void> bind(Endpoint local);
  [[nodiscard]] Result<void> connect(Endpoint remote);
  [[nodiscard]] Result<void> disconnect();
  [[nodiscard]] Result<std::size_t> send_to(boost::asio::const_buffer data, Endpoint to);
  [[nodiscard]] Result<std::size_t> send(boost::asio::const_buffer data);
  // would_block when nothing is queued; does not wait.
  [[nodiscard]] Result<udp::Datagram> receive_from(boost::asio::mutable_buffer buffer);
  Endpoint local_endpoint() const;
  Endpoint remote_endpoint() const;
  bool is_open() const;
  // The wrapped socket, for what this class does not pass through. Work it
  // creates (a send) needs runner().wake(); its on_readable belongs to this
  // class. Precondition: the socket was not moved from.
  udp::Socket& next_layer();

  // cancel(): every pending receive completes with operation_aborted, the
  // socket stays open. close(): cancel(), then the socket is closed.
};

// An asynchronous ping socket: an icmp::EchoSocket driven by a Runner.
// Replies queue like UdpSocket's receives; an ICMP error about one of the
// socket's requests (host_unreachable, network_unreachable) completes the
// oldest pending receive. cancel(), close() and the destructor complete
// pending receives with operation_aborted.
class EchoSocket : public detail::SocketHandle<detail::EchoState> {
 public:
  EchoSocket(Runner& runner, icmp::EchoSocket socket);
  [[nodiscard]] static Result<EchoSocket> open(Runner& runner, Net& net, Family family = Family::ipv4);

  // The next reply. Signature void(ErrorCode, icmp::EchoReply).
  template <class Token>
  auto async_receive(Token&& token) {
    return async_receive(boost::asio::mutable_buffer(), std::forward<Token>(token));
  }
  // The same, copying the reply's data into `payload` (truncated to its size).
  template <class Token>
  auto async_receive(boost::asio::mutable_buffer payload, Token&& token) {
    return boost::asio::async_initiate<Token, void(ErrorCode, icmp::EchoReply)>(
        [](auto handler, std::shared_ptr<detail::EchoState> state, Runner* runner,
           boost::asio::mutable_buffer buf) {
          using Op = detail::EchoReceiveOp<std::decay_t<decltype(handler)>>;
          detail::start_op<Op>(detail::Readiness::readable, state, *runner, std::move(handler), buf);
        },
        token, state_, runner_, payload);
  }

  // icmp::EchoSocket's, waking the Runner after a send.
  [[nodiscard]] Result<void> bind(Endpoint local);
  [[nodiscard]] Result<void> send_echo(IpAddress dst, std::uint16_t seq, boost::asio::const_buffer payload = {});
  std::uint16_t id() const;
  Endpoint local_endpoint() const;
  bool is_open() const;
  icmp::EchoSocket& next_layer();  // as UdpSocket::next_layer
};

// ---- TCP ----

class TcpStream;

namespace detail {

// At most this many buffers of a sequence are read into or written from
// by one operation (Asio's own sockets take 64; the rest waits for the next).
inline constexpr std::size_t kMaxBuffers = 16;

// The first kMaxBuffers buffers of a sequence, as one array.
template <class Buffer, class Sequence>
std::size_t gather_buffers(const Sequence& sequence, std::array<Buffer, kMaxBuffers>& out) {
  std::size_t count = 0;
  for (auto it = boost::asio::buffer_sequence_begin(sequence);
       it != boost::asio::buffer_sequence_end(sequence) && count < kMaxBuffers; ++it) {
    out[count++] = Buffer(*it);
  }
  return count;
}

struct TcpState final : SocketCore {
  TcpState(Runner& runner, tcp::Stream s);
  // Points the stream's readiness callbacks at drain().
  void watch();
  void close_socket() override;

  // readv/writev over tcp::Stream: a zero-sized request completes at once
  // with 0; otherwise would_block, the connection's error, eof (read only),
  // or the bytes moved. Wake the Runner after moving bytes (a window
  // update or segments to send).
  [[nodiscard]] Result<std::size_t> read_some(std::span<const boost::asio::mutable_buffer> buffers);
  [[nodiscard]] Result<std::size_t> write_some(std::span<const boost::asio::const_buffer> buffers);
  // How the handshake went: would_block while it goes on, the connection's
  // error once it failed.
  [[nodiscard]] Result<void> handshake();

  // tcp::connect on the Runner's executor, then `op` waits for the
  // handshake; `op` owns `state` until then.
  static void start_connect(std::shared_ptr<TcpState> state, std::unique_ptr<PendingOp> op, Net& net,
                            Endpoint remote);

  tcp::Stream stream;
};

// A read (Buffer = mutable_buffer) or a write (const_buffer) on a stream.
template <class Handler, class Buffers, class Buffer>
class TcpTransferOp final : public BasicOp<Handler, std::size_t> {
 public:
  static constexpr bool kRead = std::is_same_v<Buffer, boost::asio::mutable_buffer>;
  static constexpr Readiness kReadiness = kRead ? Readiness::readable : Readiness::writable;

  TcpTransferOp(Handler handler, TcpState& state, Buffers buffers)
      : BasicOp<Handler, std::size_t>(std::move(handler), state), state_(&state), buffers_(std::move(buffers)) {}

  bool attempt() override {
    std::array<Buffer, kMaxBuffers> bufs;
    const std::span<const Buffer> some(bufs.data(), gather_buffers(buffers_, bufs));
    Result<std::size_t> moved;
    if constexpr (kRead) {
      moved = state_->read_some(some);
    } else {
      moved = state_->write_some(some);
    }
    if (!moved && moved.error() == boost::asio::error::would_block) return false;
    this->complete(moved ? ErrorCode() : moved.error(), moved ? *moved : 0);
    return true;
  }

 private:
  TcpState* state_;  // owns this op
  Buffers buffers_;
};

template <class Handler>
class TcpConnectOp;

}  // namespace detail

// An asynchronous TCP connection: a tcp::Stream driven by a Runner. It is
// an Asio AsyncReadStream and AsyncWriteStream, so boost::asio::async_read,
// async_write and async_read_until work on it.
//
//   auto conn = co_await TcpStream::async_connect(runner, *blue, {server_ip, 7}, use_awaitable);
//   co_await boost::asio::async_write(conn, boost::asio::buffer(request), use_awaitable);
//   std::size_t n = co_await boost::asio::async_read_until(conn, boost::asio::dynamic_buffer(line),
//                                                          '\n', use_awaitable);
//
// Reads and writes each queue in FIFO order, any number outstanding, and
// complete when the stream has data (or space) for them: a read with the
// bytes it copied (at least one), a write with the bytes the send buffer
// took (at least one: async_write loops). A read completes with
// boost::asio::error::eof once the peer's FIN has been reached, as Asio's
// sockets do; with the connection's error (connection_reset, timed_out)
// when it failed. A zero-sized read or write completes at once with 0.
// Completions always go through the executor, never inline.
//
// Cancellation: cancel(), close() and the destructor complete every pending
// read and write with operation_aborted. Per-operation cancellation
// (bind_cancellation_slot, awaitable operators, co_spawn with a
// cancellation slot) is supported for every operation, connect included,
// for every cancellation type: a read or write cancelled has moved no bytes
// (a composed async_write reports what its earlier steps moved).
class TcpStream : public detail::SocketHandle<detail::TcpState> {
 public:
  // Wraps an established (or connecting, or inert: the default) stream of
  // one of the Runner's Host's namespaces.
  explicit TcpStream(Runner& runner, tcp::Stream stream = {});

  // tcp::connect(net, remote), completing once the handshake is done with
  // the established stream, or with its error: connection_refused (an RST
  // answered the SYN), timed_out (net.ipv4.tcp_syn_retries ran out),
  // network_unreachable... and a closed stream. Signature
  // void(ErrorCode, TcpStream). Any thread; `net` must stay alive until
  // the operation started. The connection attempt is owned by the operation
  // until it completes: cancelling it (its cancellation slot) closes it.
  template <class Token>
  static auto async_connect(Runner& runner, Net& net, Endpoint remote, Token&& token) {
    return boost::asio::async_initiate<Token, void(ErrorCode, TcpStream)>(
        [](auto handler, Runner* r, Net* n, Endpoint peer) {
          auto state = std::make_shared<detail::TcpState>(*r, tcp::Stream());
          auto op = std::make_unique<detail::TcpConnectOp<std::decay_t<decltype(handler)>>>(std::move(handler), state);
          detail::TcpState::start_connect(std::move(state), std::move(op), *n, peer);
        },
        token, &runner, &net, remote);
  }

  // Reads what is there into `buffers` (a MutableBufferSequence, which must
  // stay valid until completion). Signature void(ErrorCode, std::size_t).
  template <class MutableBufferSequence, class Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return async_transfer<boost::asio::mutable_buffer>(buffers, std::forward<Token>(token));
  }

  // Copies what fits of `buffers` (a ConstBufferSequence) into the send
  // buffer. The bytes are copied before the completion runs, so the
  // buffers may be reused then. Signature void(ErrorCode, std::size_t).
  // broken_pipe after shutdown().
  template <class ConstBufferSequence, class Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    return async_transfer<boost::asio::const_buffer>(buffers, std::forward<Token>(token));
  }

  // shutdown(SHUT_WR): a FIN follows what was written; writes still pending
  // complete with broken_pipe. Reads go on until eof.
  [[nodiscard]] Result<void> shutdown();
  // cancel(): pending reads and writes complete with operation_aborted, the
  // stream stays open. close(): cancel(), then tcp::Stream::close (a FIN,
  // or an RST when unread data remains).

  tcp::State state() const;
  Endpoint local_endpoint() const;
  Endpoint remote_endpoint() const;
  void set_nodelay(bool enabled);
  bool is_open() const;
  // The wrapped stream, for what this class does not pass through (info(),
  // keepalive, abort). Work it creates needs runner().wake(); its readiness
  // callbacks belong to this class. Precondition: not moved from.
  tcp::Stream& next_layer();

 private:
  template <class Handler>
  friend class detail::TcpConnectOp;
  TcpStream(Runner& runner, std::shared_ptr<detail::TcpState> state);

  // A read (Buffer = mutable_buffer) or a write (const_buffer).
  template <class Buffer, class BufferSequence, class Token>
  auto async_transfer(const BufferSequence& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(ErrorCode, std::size_t)>(
        [](auto handler, std::shared_ptr<detail::TcpState> state, Runner* runner, BufferSequence bufs) {
          using Op = detail::TcpTransferOp<std::decay_t<decltype(handler)>, BufferSequence, Buffer>;
          detail::start_op<Op>(Op::kReadiness, state, *runner, std::move(handler), std::move(bufs));
        },
        token, state_, runner_, buffers);
  }
};

namespace detail {

template <>
inline TcpStream empty_value<TcpStream>(Runner& runner) {
  return TcpStream(runner);
}

template <class Handler>
class TcpConnectOp final : public BasicOp<Handler, TcpStream> {
 public:
  TcpConnectOp(Handler handler, std::shared_ptr<TcpState> state)
      : BasicOp<Handler, TcpStream>(std::move(handler), *state), state_(std::move(state)) {}

  bool attempt() override {
    auto done = state_->handshake();
    if (!done && done.error() == boost::asio::error::would_block) return false;
    if (!done) {
      fail(done.error(), false);
    } else {
      // The stream's owner from now on: the handler.
      this->complete(ErrorCode(), TcpStream(this->runner(), std::move(state_)));
    }
    return true;
  }

  void fail(ErrorCode error, bool from_cancellation_slot) override {
    // Nobody else will ever see this connection: it ends with the operation.
    // (Not SocketCore::close: this op may still sit in the state's queue.)
    if (state_) state_->stream.close();
    BasicOp<Handler, TcpStream>::fail(error, from_cancellation_slot);
  }

 private:
  std::shared_ptr<TcpState> state_;  // the connection's only owner while connecting
};

struct AcceptorState final : SocketCore {
  AcceptorState(Runner& runner, tcp::Listener l);
  void close_socket() override;
  tcp::Listener listener;
};

template <class Handler>
class TcpAcceptOp final : public BasicOp<Handler, TcpStream> {
 public:
  TcpAcceptOp(Handler handler, AcceptorState& state)
      : BasicOp<Handler, TcpStream>(std::move(handler), state), listener_(&state.listener) {}

  bool attempt() override {
    auto got = listener_->accept();
    if (!got && got.error() == boost::asio::error::would_block) return false;
    if (!got) {
      this->complete(got.error(), TcpStream(this->runner()));
    } else {
      this->complete(ErrorCode(), TcpStream(this->runner(), std::move(*got)));
    }
    return true;
  }

 private:
  tcp::Listener* listener_;  // owned by the AcceptorState that owns this op
};

}  // namespace detail

// An asynchronous TCP listener: a tcp::Listener driven by a Runner.
// Accepts queue in FIFO order and complete, each with one established
// connection, as connections become acceptable. cancel(), close() and the
// destructor complete pending accepts with operation_aborted; closing
// resets the connections not yet accepted. Per-operation cancellation as
// TcpStream's.
class TcpAcceptor : public detail::SocketHandle<detail::AcceptorState> {
 public:
  TcpAcceptor(Runner& runner, tcp::Listener listener);
  // tcp::listen(net, local, backlog) wrapped; its errors (address_in_use...).
  [[nodiscard]] static Result<TcpAcceptor> open(Runner& runner, Net& net, Endpoint local, int backlog = 128);

  // The next connection. Signature void(ErrorCode, TcpStream).
  template <class Token>
  auto async_accept(Token&& token) {
    return boost::asio::async_initiate<Token, void(ErrorCode, TcpStream)>(
        [](auto handler, std::shared_ptr<detail::AcceptorState> state, Runner* runner) {
          using Op = detail::TcpAcceptOp<std::decay_t<decltype(handler)>>;
          detail::start_op<Op>(detail::Readiness::readable, state, *runner, std::move(handler));
        },
        token, state_, runner_);
  }

  Endpoint local_endpoint() const;
  bool is_open() const;
  // Connections waiting to be accepted.
  std::size_t pending() const;
  tcp::Listener& next_layer();  // as TcpStream::next_layer
};

}  // namespace netns::asio
