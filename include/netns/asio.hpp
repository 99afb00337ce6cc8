// netns/asio.hpp — driving a Host from a boost::asio::io_context, and
// asynchronous sockets with completion tokens (callbacks, use_future,
// C++20 coroutines with use_awaitable).
//
// A Runner polls one Host from an io_context: it arms a steady_timer for the
// deadline poll() returns, re-polls through post() while work remains, and
// is woken by the sockets below after they create work. UdpSocket and
// EchoSocket wrap the non-blocking netns sockets and complete their
// operations through the io_context, never inline.
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
// Threads. A Host is driven by one thread (DESIGN.md section 2), so every
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
// freed.
#pragma once

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
  // The sockets of this header call it themselves.
  void wake();
  // Any thread: Host::post(fn), then wake(), so fn runs on the Host's thread
  // in the next poll. (Host::post alone would wait for the next deadline.)
  void post(std::function<void()> fn);

  // Busy polling, for devices that must be polled rather than waited for
  // (DPDK ports, later): while on, every poll posts the next one at once,
  // whatever the deadline. Costs a core; off by default.
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

// A read waiting for its socket to become readable. Owned by its
// SocketCore's queue while queued; completes exactly once, always through
// boost::asio::post.
class ReadOp {
 public:
  virtual ~ReadOp() = default;
  // Tries the read: false on would_block (the op stays queued), otherwise
  // posts the completion and returns true.
  virtual bool attempt() = 0;
  // Posts the completion with `error`. `from_cancellation_slot`: called by
  // the op's own cancellation handler, whose slot must not be cleared from
  // inside it.
  virtual void fail(ErrorCode error, bool from_cancellation_slot) = 0;

  std::uint64_t id = 0;
};

// What UdpSocket and EchoSocket share: the Runner, the FIFO of pending
// reads, and the hop onto the Runner's executor. Lives in a shared_ptr so
// operations started from other threads, and cancellation handlers, can
// find it gone. All members but the constructor run on the Runner's executor.
class SocketCore : public std::enable_shared_from_this<SocketCore> {
 public:
  explicit SocketCore(Runner& runner) : runner_(&runner) {}
  virtual ~SocketCore() = default;

  Runner& runner() const { return *runner_; }
  Runner::executor_type executor() const { return runner_->get_executor(); }
  bool closed() const { return closed_.load(std::memory_order_acquire); }

  // Any thread: queues `op` on the Runner's executor, behind earlier reads,
  // and tries it. Started after close: bad_file_descriptor; closed between
  // the start and the hop onto the executor: operation_aborted.
  void start_read(std::unique_ptr<ReadOp> op);
  // Any thread (a cancellation handler): completes the read `id` with
  // operation_aborted if it is still queued.
  void cancel_read(std::uint64_t id);
  std::uint64_t next_op_id() { return next_op_id_.fetch_add(1, std::memory_order_relaxed); }

  // Completes queued reads while the socket has something for them (its
  // on_readable callback).
  void drain();
  // Completes with operation_aborted every read started before this call,
  // including those still hopping onto the executor.
  void cancel_all();
  // cancel_all(), and no more reads start.
  void close_core();

 private:
  Runner* runner_;
  std::deque<std::unique_ptr<ReadOp>> reads_;
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

// The handler, the work it keeps outstanding on its executor while pending,
// and its cancellation slot. Signature void(ErrorCode, Value).
template <class Handler, class Value>
class BasicReadOp : public ReadOp {
 public:
  BasicReadOp(Handler handler, SocketCore& core)
      : handler_(std::move(handler)),
        work_(boost::asio::make_work_guard(handler_, core.executor())),
        fallback_(core.executor()),
        slot_(boost::asio::get_associated_cancellation_slot(handler_)) {
    id = core.next_op_id();
    if (slot_.is_connected()) {
      slot_.template emplace<CancelHandler>(CancelHandler{core.weak_from_this(), id});
    }
  }

  void fail(ErrorCode error, bool from_cancellation_slot) override {
    complete(error, Value{}, from_cancellation_slot);
  }

 protected:
  void complete(ErrorCode error, Value value, bool from_cancellation_slot = false) {
    // A stale handler left in the slot only finds its id gone.
    if (slot_.is_connected() && !from_cancellation_slot) slot_.clear();
    post_completion(std::move(handler_), fallback_, error, std::move(value));
    work_.reset();
  }

 private:
  struct CancelHandler {
    std::weak_ptr<SocketCore> core;
    std::uint64_t id;
    void operator()(boost::asio::cancellation_type_t type) {
      if (type == boost::asio::cancellation_type::none) return;
      if (auto c = core.lock()) c->cancel_read(id);
    }
  };

  Handler handler_;
  boost::asio::executor_work_guard<HandlerExecutor<Handler>> work_;
  Runner::executor_type fallback_;
  boost::asio::associated_cancellation_slot_t<Handler> slot_;
};

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

struct UdpState final : SocketCore {
  UdpState(Runner& runner, udp::Socket s) : SocketCore(runner), socket(std::move(s)) {}
  udp::Socket socket;
};

template <class Handler>
class UdpReceiveOp final : public BasicReadOp<Handler, std::size_t> {
 public:
  UdpReceiveOp(Handler handler, UdpState& state, boost::asio::mutable_buffer buffer, Endpoint* from)
      : BasicReadOp<Handler, std::size_t>(std::move(handler), state),
        socket_(&state.socket), buffer_(buffer), from_(from) {}

  bool attempt() override {
    auto got = socket_->receive_from(
        std::span<std::byte>(static_cast<std::byte*>(buffer_.data()), buffer_.size()));
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
  EchoState(Runner& runner, icmp::EchoSocket s) : SocketCore(runner), socket(std::move(s)) {}
  icmp::EchoSocket socket;
};

template <class Handler>
class EchoReceiveOp final : public BasicReadOp<Handler, icmp::EchoReply> {
 public:
  EchoReceiveOp(Handler handler, EchoState& state, boost::asio::mutable_buffer payload)
      : BasicReadOp<Handler, icmp::EchoReply>(std::move(handler), state),
        socket_(&state.socket), payload_(payload) {}

  bool attempt() override {
    auto got = socket_->receive(
        std::span<std::byte>(static_cast<std::byte*>(payload_.data()), payload_.size()));
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

inline std::span<const std::byte> bytes_of(boost::asio::const_buffer b) {
  return {static_cast<const std::byte*>(b.data()), b.size()};
}

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
class UdpSocket {
 public:
  using executor_type = Runner::executor_type;

  // Wraps an open (or inert) socket of one of the Runner's Host's namespaces.
  UdpSocket(Runner& runner, udp::Socket socket);
  // udp::open(net) wrapped; its errors.
  static Result<UdpSocket> open(Runner& runner, Net& net);
  UdpSocket(UdpSocket&& other) noexcept = default;
  UdpSocket& operator=(UdpSocket&& other) noexcept;  // closes what this socket held
  ~UdpSocket();                                       // close()

  executor_type get_executor() const { return runner_->get_executor(); }
  Runner& runner() const { return *runner_; }

  // Receives one datagram into `buffer`, stores its source in `from` (which,
  // like the buffer, must stay valid until completion). Signature
  // void(ErrorCode, std::size_t bytes).
  template <class Token>
  auto async_receive_from(boost::asio::mutable_buffer buffer, Endpoint& from, Token&& token) {
    return boost::asio::async_initiate<Token, void(ErrorCode, std::size_t)>(
        [](auto handler, std::shared_ptr<detail::UdpState> state, Runner* runner,
           boost::asio::mutable_buffer buf, Endpoint* ep) {
          using H = std::decay_t<decltype(handler)>;
          if (state == nullptr) {
            detail::post_completion(std::move(handler), runner->get_executor(),
                                    ErrorCode(error(Errc::bad_file_descriptor)), std::size_t{0});
            return;
          }
          auto& s = *state;
          s.start_read(std::make_unique<detail::UdpReceiveOp<H>>(std::move(handler), s, buf, ep));
        },
        token, state_, runner_, buffer, &from);
  }
  // The same without the source (a connected socket's receive).
  template <class Token>
  auto async_receive(boost::asio::mutable_buffer buffer, Token&& token) {
    return boost::asio::async_initiate<Token, void(ErrorCode, std::size_t)>(
        [](auto handler, std::shared_ptr<detail::UdpState> state, Runner* runner,
           boost::asio::mutable_buffer buf) {
          using H = std::decay_t<decltype(handler)>;
          if (state == nullptr) {
            detail::post_completion(std::move(handler), runner->get_executor(),
                                    ErrorCode(error(Errc::bad_file_descriptor)), std::size_t{0});
            return;
          }
          auto& s = *state;
          s.start_read(std::make_unique<detail::UdpReceiveOp<H>>(std::move(handler), s, buf, nullptr));
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
  Result<void> bind(Endpoint local);
  Result<void> connect(Endpoint remote);
  Result<void> disconnect();
  Result<std::size_t> send_to(boost::asio::const_buffer data, Endpoint to);
  Result<std::size_t> send(boost::asio::const_buffer data);
  // would_block when nothing is queued; does not wait.
  Result<udp::Datagram> receive_from(boost::asio::mutable_buffer buffer);
  Endpoint local_endpoint() const;
  Endpoint remote_endpoint() const;
  bool is_open() const;
  // The wrapped socket, for what this class does not pass through. Work it
  // creates (a send) needs runner().wake(); its on_readable belongs to this
  // class. Precondition: the socket was not moved from.
  udp::Socket& next_layer();

  // Completes every pending receive with operation_aborted; the socket stays open.
  void cancel();
  // cancel(), then closes the socket. Idempotent.
  void close();

 private:
  Runner* runner_;
  std::shared_ptr<detail::UdpState> state_;
};

// An asynchronous ping socket: an icmp::EchoSocket driven by a Runner.
// Replies queue like UdpSocket's receives; an ICMP error about one of the
// socket's requests (host_unreachable, network_unreachable) completes the
// oldest pending receive. cancel(), close() and the destructor complete
// pending receives with operation_aborted.
class EchoSocket {
 public:
  using executor_type = Runner::executor_type;

  EchoSocket(Runner& runner, icmp::EchoSocket socket);
  static Result<EchoSocket> open(Runner& runner, Net& net);
  EchoSocket(EchoSocket&& other) noexcept = default;
  EchoSocket& operator=(EchoSocket&& other) noexcept;
  ~EchoSocket();

  executor_type get_executor() const { return runner_->get_executor(); }
  Runner& runner() const { return *runner_; }

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
          using H = std::decay_t<decltype(handler)>;
          if (state == nullptr) {
            detail::post_completion(std::move(handler), runner->get_executor(),
                                    ErrorCode(error(Errc::bad_file_descriptor)), icmp::EchoReply{});
            return;
          }
          auto& s = *state;
          s.start_read(std::make_unique<detail::EchoReceiveOp<H>>(std::move(handler), s, buf));
        },
        token, state_, runner_, payload);
  }

  // icmp::EchoSocket's, waking the Runner after a send.
  Result<void> bind(Endpoint local);
  Result<void> send_echo(Ipv4Address dst, std::uint16_t seq, boost::asio::const_buffer payload = {});
  std::uint16_t id() const;
  Endpoint local_endpoint() const;
  bool is_open() const;
  icmp::EchoSocket& next_layer();  // as UdpSocket::next_layer

  void cancel();
  void close();

 private:
  Runner* runner_;
  std::shared_ptr<detail::EchoState> state_;
};

}  // namespace netns::asio
