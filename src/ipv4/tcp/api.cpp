// tcp.hpp's public objects: Stream and Listener are handles on a Connection
// and a ListenSocket; listen() and connect() open them; dump_sockets is ss.
#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include <boost/asio/error.hpp>

#include "core/socket_errors.hpp"
#include "ipv4/tcp/connection.hpp"
#include "stack/builtins.hpp"

namespace netns::tcp {

namespace {

TcpNet* tcp_net(Net& net) { return net.host().builtins().tcp().state(net); }

// inet_bind's and inet6_bind's address checks (socket_table.hpp); TCP is
// unicast only, so a multicast address is refused for IPv6 too.
Result<void> check_local_address(Net& net, TcpNet& tn, const IpAddress& address, std::optional<bool> v6only = {}) {
  if (address.is_v4()) return ipv4::check_bind_address(net, tn.ops.stack(), address.to_v4());
  if (address.is_multicast()) return error(Errc::invalid_argument);
  const bool only = v6only.value_or(net.sysctl().value(SysctlId::ipv6_bindv6only) != 0);
  return ipv4::check_bind_address(net, tn.ops.stack(), tn.ops.stack6(), address.to_v6(), only);
}

IpAddress any_of(Family family) {
  return family == Family::ipv4 ? IpAddress(Ipv4Address::any()) : IpAddress(Ipv6Address::any());
}

}  // namespace

std::string_view to_string(State state) {
  switch (state) {
    case State::closed: return "CLOSE";
    case State::listen: return "LISTEN";
    case State::syn_sent: return "SYN-SENT";
    case State::syn_received: return "SYN-RECV";
    case State::established: return "ESTAB";
    case State::fin_wait_1: return "FIN-WAIT-1";
    case State::fin_wait_2: return "FIN-WAIT-2";
    case State::close_wait: return "CLOSE-WAIT";
    case State::closing: return "CLOSING";
    case State::last_ack: return "LAST-ACK";
    case State::time_wait: return "TIME-WAIT";
  }
  return "UNKNOWN";
}

// ---- Stream ----

Stream::Stream() = default;
Stream::Stream(std::shared_ptr<Connection> conn, SocketSlot slot)
    : conn_(std::move(conn)), slot_(std::move(slot)) {}
Stream::Stream(Stream&& other) noexcept = default;
Stream& Stream::operator=(Stream&& other) noexcept {
  if (this != &other) {
    close();
    conn_ = std::move(other.conn_);
    slot_ = std::move(other.slot_);
  }
  return *this;
}
Stream::~Stream() { close(); }

Result<std::size_t> Stream::read(std::span<std::byte> buffer) {
  if (!conn_) return bad_descriptor();
  return conn_->read(buffer);
}

Result<std::size_t> Stream::write(std::span<const std::byte> data) {
  if (!conn_) return bad_descriptor();
  return conn_->write(data);
}

Result<void> Stream::shutdown() {
  if (!conn_) return bad_descriptor();
  return conn_->shutdown();
}

void Stream::close() {
  if (auto conn = std::move(conn_)) conn->close();
  slot_.reset();
}

void Stream::abort() {
  if (auto conn = std::move(conn_)) conn->abort();
  slot_.reset();
}

State Stream::state() const { return conn_ ? conn_->state() : State::closed; }
Endpoint Stream::local_endpoint() const { return conn_ ? conn_->user_local() : Endpoint{}; }
Endpoint Stream::remote_endpoint() const { return conn_ ? conn_->user_remote() : Endpoint{}; }
void Stream::set_nodelay(bool enabled) {
  if (conn_) conn_->set_nodelay(enabled);
}
void Stream::set_keepalive(bool enabled) {
  if (conn_) conn_->set_keepalive(enabled);
}
Net& Stream::net() const { return conn_->net(); }
Info Stream::info() const { return conn_ ? conn_->info() : Info{}; }
std::size_t Stream::readable_bytes() const { return conn_ ? conn_->readable_bytes() : 0; }
std::size_t Stream::writable_bytes() const { return conn_ ? conn_->writable_bytes() : 0; }
void Stream::on_readable(std::function<void()> callback) {
  if (conn_) conn_->set_readable_callback(std::move(callback));
}
void Stream::on_writable(std::function<void()> callback) {
  if (conn_) conn_->set_writable_callback(std::move(callback));
}

// ---- Listener ----

Listener::Listener() = default;
Listener::Listener(std::unique_ptr<ListenSocket> sock, SocketSlot slot)
    : sock_(std::move(sock)), slot_(std::move(slot)) {}
Listener::Listener(Listener&& other) noexcept = default;
Listener& Listener::operator=(Listener&& other) noexcept = default;
Listener::~Listener() = default;

Result<Stream> Listener::accept() {
  if (!sock_) return bad_descriptor();
  if (sock_->pending() == 0) return error(Errc::operation_would_block);
  // As accept(2) at RLIMIT_NOFILE: EMFILE, and the connection stays queued.
  auto slot = sock_->net().resources().open_socket();
  if (!slot) return slot.error();
  auto child = sock_->accept();
  if (!child) return child.error();
  (*child)->set_user_ref(sock_->net().ref());
  return Stream(std::move(*child), std::move(*slot));
}

Endpoint Listener::local_endpoint() const { return sock_ ? sock_->local() : Endpoint{}; }
Net& Listener::net() const { return sock_->net(); }
void Listener::close() {
  sock_.reset();
  slot_.reset();
}
std::size_t Listener::pending() const { return sock_ ? sock_->pending() : 0; }
void Listener::on_acceptable(std::function<void()> callback) {
  if (sock_) sock_->set_acceptable_callback(std::move(callback));
}

// ---- opening ----

Result<Listener> listen(Net& net, Endpoint local, int backlog) {
  return listen(net, local, ListenOptions{.backlog = backlog});
}

Result<Listener> listen(Net& net, Endpoint local, const ListenOptions& options) {
  if (options.backlog < 0) return error(Errc::invalid_argument);
  if (options.v6only && !local.address.is_v6()) return error(Errc::invalid_argument);
  NetRef ref = net.ref();
  if (!ref) return error(Errc::invalid_argument);
  TcpNet* tn = tcp_net(net);
  if (tn == nullptr) return error(Errc::address_family_not_supported);
  if (auto ok = check_local_address(net, *tn, local.address, options.v6only); !ok) return ok.error();
  const auto somaxconn = static_cast<std::size_t>(net.sysctl().value(SysctlId::core_somaxconn));
  const std::size_t limit = std::min(static_cast<std::size_t>(options.backlog), somaxconn);
  auto slot = net.resources().open_socket();
  if (!slot) return slot.error();
  auto sock = std::make_unique<ListenSocket>(*tn, std::move(ref), limit, local.address.family());
  if (options.v6only) {
    if (auto ok = sock->set_v6only(*options.v6only); !ok) return ok.error();
  }
  if (auto ok = sock->bind(local); !ok) return ok.error();
  return Listener(std::move(sock), std::move(*slot));
}

Result<Stream> connect(Net& net, Endpoint remote) {
  return connect(net, {any_of(remote.address.family()), 0}, remote);
}

Result<Stream> connect(Net& net, Endpoint local, Endpoint remote) {
  if (local.address.family() != remote.address.family()) return error(Errc::address_family_not_supported);
  // An IPv6 socket connecting to ::ffff:a.b.c.d speaks IPv4 (tcp_v6_connect
  // hands it to tcp_v4_connect) and shows the mapped addresses.
  bool mapped = false;
  if (remote.address.is_v6() && remote.address.to_v6().is_v4_mapped()) {
    const Ipv6Address l = local.address.to_v6();
    if (!l.is_unspecified() && !l.is_v4_mapped()) return error(Errc::invalid_argument);
    remote.address = remote.address.to_v6().to_v4_mapped();
    local.address = l.to_v4_mapped();
    mapped = true;
  }
  if (remote.port == 0 || remote.address.is_unspecified() || remote.address.is_multicast()) {
    return error(Errc::invalid_argument);
  }
  if (remote.address.is_v4() && remote.address.to_v4().is_broadcast()) return error(Errc::invalid_argument);
  // A link-local peer is reachable only on a named link.
  if (remote.address.is_v6() && remote.address.to_v6().is_link_local() && remote.address.to_v6().scope_id() == 0) {
    return error(Errc::invalid_argument);
  }
  NetRef ref = net.ref();
  if (!ref) return error(Errc::invalid_argument);
  TcpNet* tn = tcp_net(net);
  if (tn == nullptr) return error(Errc::address_family_not_supported);
  if (auto ok = check_local_address(net, *tn, local.address); !ok) return ok.error();
  if (remote.address.is_v4() && ipv4::is_broadcast_destination(net, tn->ops.stack(), remote.address.to_v4())) {
    return error(Errc::invalid_argument);
  }
  auto slot = net.resources().open_socket();
  if (!slot) return slot.error();
  auto conn = std::make_shared<Connection>(*tn, remote.address.family());
  conn->set_mapped(mapped);
  conn->set_user_ref(std::move(ref));
  if (auto ok = conn->open_active(local, remote); !ok) return ok.error();
  return Stream(std::move(conn), std::move(*slot));
}

// ---- ss ----

std::string dump_sockets(Net& net) {
  constexpr std::string_view kLine = "{:<11}{:<7}{:<7}{:>24} {:<24}\n";
  std::string out = fmt::format(kLine, "State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port");
  TcpNet* tn = tcp_net(net);
  if (tn == nullptr) return out;
  // Listeners, then connections (orphans and TIME_WAIT records included),
  // each in the order of their addresses, so that two dumps compare line by
  // line.
  auto key = [](Endpoint e) { return std::pair(e.port, e.address); };
  std::vector<const ListenSocket*> listeners;
  for (const auto& [port, on_port] : tn->listeners) listeners.insert(listeners.end(), on_port.begin(), on_port.end());
  std::sort(listeners.begin(), listeners.end(),
            [&](const auto* a, const auto* b) { return key(a->local()) < key(b->local()); });
  for (const ListenSocket* l : listeners) {
    // As ss: Recv-Q is the accept queue, Send-Q the backlog.
    // The peer column as ss: 0.0.0.0:* or [::]:*.
    const std::string any_peer = l->local().address.is_v4() ? "0.0.0.0:*" : "[::]:*";
    out += fmt::format(kLine, "LISTEN", l->pending(), l->backlog(), l->local().to_string(), any_peer);
  }
  struct Row {
    FourTuple tuple;
    const Connection* conn;  // null: a TIME_WAIT record, which queues nothing
    bool mapped = false;     // a record of an IPv6 socket that showed ::ffff:a.b.c.d
  };
  std::vector<Row> rows;
  rows.reserve(tn->connections.size() + tn->time_wait.size());
  for (const auto& [tuple, conn] : tn->connections) rows.push_back({tuple, conn.get()});
  tn->time_wait.for_each(
      [&](const FourTuple& tuple, const TimeWait& record) { rows.push_back({tuple, nullptr, record.mapped}); });
  const auto shown = [](const Endpoint& e, bool mapped) {
    return mapped ? Connection::map_endpoint(e).to_string() : e.to_string();
  };
  std::sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
    return std::pair(key(a.tuple.local), key(a.tuple.remote)) < std::pair(key(b.tuple.local), key(b.tuple.remote));
  });
  for (const Row& r : rows) {
    out += fmt::format(kLine, to_string(r.conn != nullptr ? r.conn->state() : State::time_wait),
                       r.conn != nullptr ? r.conn->readable_bytes() : 0,
                       r.conn != nullptr ? r.conn->send_queue_bytes() : 0,
                       r.conn != nullptr ? r.conn->user_local().to_string() : shown(r.tuple.local, r.mapped),
                       r.conn != nullptr ? r.conn->user_remote().to_string() : shown(r.tuple.remote, r.mapped));
  }
  return out;
}

}  // namespace netns::tcp
