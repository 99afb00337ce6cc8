#include "ipv4/socket_table.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>

#include "core/siphash.hpp"
#include "ipv4/stack.hpp"
#include "ipv6/stack.hpp"
#include "netns/host.hpp"
#include "netns/net.hpp"
#include "netns/rss.hpp"
#include "netns/wire/bytes.hpp"

namespace netns::ipv4 {

bool is_hard_error(const IcmpError& error) {
  switch (error.type) {
    case wire::IcmpType::dest_unreachable:
      switch (error.code) {
        case 0:   // net
        case 1:   // host
        case 4:   // fragmentation needed: path MTU discovery's business
        case 5:   // source route failed
        case 11:  // net for TOS
        case 12:  // host for TOS
          return false;
        default:
          return error.code <= 15;
      }
    case wire::IcmpType::parameter_problem:
      return true;
    default:
      return false;  // time exceeded, redirects...
  }
}

bool is_broadcast_destination(Net& net, Ipv4Stack& stack, Ipv4Address address) {
  // The local table holds a broadcast route for every subnet broadcast
  // address (none for /31 and /32, RFC 3021): one lookup, no allocation.
  return address.is_broadcast() || stack.is_broadcast(net, address);
}

Result<void> check_bind_address(Net& net, Ipv4Stack& stack, Ipv4Address address) {
  if (address.is_unspecified() || address.is_multicast()) return {};
  if (net.sysctl().value(SysctlId::ip_nonlocal_bind) != 0) return {};
  if (stack.is_local(net, address) || is_broadcast_destination(net, stack, address)) return {};
  return error(Errc::address_not_available);
}

Result<void> check_bind_address(Net& net, Ipv4Stack& ipv4, ipv6::Ipv6Stack& ipv6, const Ipv6Address& address,
                                bool v6only) {
  if (address.is_v4_mapped()) {
    if (v6only) return error(Errc::invalid_argument);
    return check_bind_address(net, ipv4, address.to_v4_mapped());
  }
  if (address.is_unspecified() || address.is_multicast()) return {};
  if (address.is_link_local()) {
    if (address.scope_id() == 0) return error(Errc::invalid_argument);
    Device* dev = net.device(static_cast<int>(address.scope_id()));
    if (dev == nullptr) return error(Errc::no_such_device);
    if (ipv6.is_local(net, *dev, address.with_scope(0)) && !ipv6.is_tentative(net, *dev, address.with_scope(0))) {
      return {};
    }
    return error(Errc::address_not_available);
  }
  if (ipv6.is_local(net, address)) return {};
  return error(Errc::address_not_available);
}

// ---- InetSocket ----

Result<void> InetSocket::set_v6only(bool v6only) {
  if (family_ != Family::ipv6 || table_ != nullptr) return error(Errc::invalid_argument);
  v6only_ = v6only;
  return {};
}

InetSocket::~InetSocket() {
  if (table_ != nullptr) table_->unbind(*this);
}

void InetSocket::notify_readable() {
  if (readable_) {
    // A copy: the callback may replace itself or close the socket.
    auto callback = readable_;
    callback();
  }
}

// ---- SocketTable ----

SocketTable::SocketTable(Net& net, wire::IpProtocol protocol) : net_(net), protocol_(protocol) {}

SocketTable::~SocketTable() {
  for (auto& [port, socks] : by_port_) {
    for (InetSocket* sock : socks) sock->table_ = nullptr;
  }
}

namespace {

// The IPv4 addresses a binding takes: the unspecified address for all of
// them, nullopt for none (a v6-only socket, a non-mapped IPv6 address).
std::optional<Ipv4Address> ipv4_part(const IpAddress& address, bool v6only) {
  if (address.is_v4()) return address.to_v4();
  const Ipv6Address v6 = address.to_v6();
  if (v6.is_v4_mapped()) return v6.to_v4_mapped();
  if (v6.is_unspecified() && !v6only) return Ipv4Address::any();
  return std::nullopt;
}
// The IPv6 addresses it takes: nullopt for an IPv4 socket's or a mapped one.
std::optional<Ipv6Address> ipv6_part(const IpAddress& address) {
  if (address.is_v4() || address.to_v6().is_v4_mapped()) return std::nullopt;
  return address.to_v6();
}
template <class A>
bool overlap(const std::optional<A>& a, const std::optional<A>& b) {
  return a && b && (a->is_unspecified() || b->is_unspecified() || *a == *b);
}

}  // namespace

bool SocketTable::conflicts(std::uint16_t port, const Binding& binding) const {
  const auto v4 = ipv4_part(binding.address, binding.v6only);
  const auto v6 = ipv6_part(binding.address);
  auto clash = [&](const IpAddress& bound, bool v6only) {
    return overlap(v4, ipv4_part(bound, v6only)) || overlap(v6, ipv6_part(bound));
  };
  if (auto it = by_port_.find(port); it != by_port_.end()) {
    for (const InetSocket* other : it->second) {
      if (clash(other->local_.address, other->v6only_)) return true;
    }
  }
  if (auto it = shared_.find(port); it != shared_.end()) {
    for (const auto& [bound, count] : it->second) {
      if (clash(bound, false)) return true;
    }
  }
  return false;
}

namespace {

// The address as it is on the wire: an IPv4 peer of a dual-stack socket is
// ::ffff:a.b.c.d here, a.b.c.d in its packets.
IpAddress on_the_wire(const IpAddress& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return a.to_v6().to_v4_mapped();
  return a;
}

}  // namespace

bool RssPick::accepts(std::uint16_t port) const {
  const std::uint32_t hash = rss::flow_hash(on_the_wire(local), on_the_wire(remote.address), port, remote.port, true);
  return rss::queue_of(hash, queue.queues) == queue.queue;
}

Result<std::uint16_t> SocketTable::pick_ephemeral(const Binding& binding, const std::optional<RssPick>& rss) {
  const auto range = net_.sysctl().values(SysctlId::ip_local_port_range);
  std::uint32_t low = static_cast<std::uint32_t>(range[0]);
  std::uint32_t high = static_cast<std::uint32_t>(range[1]);
  if (high < low) std::swap(low, high);
  const std::uint32_t span = high - low + 1;

  // A keyed hash picks where the scan starts, so the next port is not
  // guessable from the last one without the Host's secret (RFC 6056
  // algorithm 1, Linux's udp_lib_get_port starts at a random offset too).
  // An IPv6 address takes 16 bytes where an IPv4 one takes 4.
  std::array<std::byte, 29> message{};
  wire::store_be32(message, 0, net_.id());
  wire::store_u8(message, 4, static_cast<std::uint8_t>(protocol_));
  std::size_t at = 5;
  if (binding.address.is_v4()) {
    wire::store_ipv4(message, at, binding.address.to_v4());
    at += 4;
  } else {
    const auto bytes = binding.address.to_v6().bytes();
    std::memcpy(message.data() + at, bytes.data(), bytes.size());
    at += bytes.size();
  }
  wire::store_be32(message, at, static_cast<std::uint32_t>(ephemeral_picks_ >> 32));
  wire::store_be32(message, at + 4, static_cast<std::uint32_t>(ephemeral_picks_));
  ++ephemeral_picks_;
  const SipKey key = SipKey::derive(net_.host().secret(), kSipPurposeEphemeralPort);
  const std::uint32_t offset =
      static_cast<std::uint32_t>(siphash13(key, std::span(message).first(at + 8)) % span);

  for (std::uint32_t i = 0; i < span; ++i) {
    const auto port = static_cast<std::uint16_t>(low + (offset + i) % span);
    if (port == 0 || (rss && !rss->accepts(port))) continue;
    if (!conflicts(port, binding)) return port;
  }
  return error(Errc::address_in_use);
}

Result<void> SocketTable::bind(InetSocket& sock, Endpoint local, const std::optional<RssPick>& rss) {
  if (sock.table_ != nullptr || local.family() != sock.family_) return error(Errc::invalid_argument);
  const Binding binding{local.address, sock.v6only_};
  if (local.port == 0) {
    auto port = pick_ephemeral(binding, rss);
    if (!port) return port.error();
    local.port = *port;
  } else if (conflicts(local.port, binding)) {
    return error(Errc::address_in_use);
  }
  insert(sock, local);
  return {};
}

void SocketTable::bind_shared(InetSocket& sock, Endpoint local) {
  if (sock.table_ != nullptr) unbind(sock);
  hold(local);
  set_bound(sock, local, true);
}

void SocketTable::hold(Endpoint local) {
  auto& addresses = shared_[local.port];
  auto it = std::find_if(addresses.begin(), addresses.end(),
                         [&](const auto& entry) { return entry.first == local.address; });
  if (it == addresses.end()) {
    addresses.emplace_back(local.address, 1);
  } else {
    ++it->second;
  }
}

void SocketTable::release(Endpoint local) {
  auto it = shared_.find(local.port);
  if (it == shared_.end()) return;
  auto& addresses = it->second;
  auto entry = std::find_if(addresses.begin(), addresses.end(),
                            [&](const auto& e) { return e.first == local.address; });
  if (entry != addresses.end() && --entry->second == 0) addresses.erase(entry);
  if (addresses.empty()) shared_.erase(it);
}

void SocketTable::insert(InetSocket& sock, Endpoint local) {
  by_port_[local.port].push_back(&sock);
  set_bound(sock, local, false);
}

void SocketTable::set_bound(InetSocket& sock, Endpoint local, bool shared) {
  sock.local_ = local;
  sock.remote_ = InetSocket::unspecified_endpoint(sock.family_);
  sock.table_ = this;
  sock.serial_ = next_serial_++;
  sock.shared_ = shared;
  ++size_;
}

void SocketTable::unbind(InetSocket& sock) {
  if (sock.table_ != this) return;
  if (sock.shared_) {
    release(sock.local_);
  } else if (auto it = by_port_.find(sock.local_.port); it != by_port_.end()) {
    std::erase(it->second, &sock);
    if (it->second.empty()) by_port_.erase(it);
  }
  sock.shared_ = false;
  sock.table_ = nullptr;
  sock.local_ = InetSocket::unspecified_endpoint(sock.family_);
  sock.remote_ = InetSocket::unspecified_endpoint(sock.family_);
  --size_;
}

void SocketTable::set_local_address(InetSocket& sock, IpAddress address) { sock.local_.address = address; }

void SocketTable::set_remote(InetSocket& sock, Endpoint remote) { sock.remote_ = remote; }

int SocketTable::score(const InetSocket& sock, const Endpoint& local, const Endpoint& remote) {
  const IpAddress& bound = sock.local_.address;
  if (bound.family() != local.family()) return score_mapped(sock, local, remote);
  int score = 1;  // a socket of the datagram's family beats a dual-stack one
  if (!bound.is_unspecified()) {
    if (bound != local.address) return -1;
    score += 4;
  }
  if (sock.is_connected()) {
    if (sock.remote_.address != remote.address || sock.remote_.port != remote.port) return -1;
    score += 8;
  }
  return score;
}

// An IPv4 datagram and an IPv6 socket: its addresses are v4-mapped.
int SocketTable::score_mapped(const InetSocket& sock, const Endpoint& local, const Endpoint& remote) {
  if (!local.address.is_v4() || sock.v6only_) return -1;
  const Ipv6Address bound = sock.local_.address.to_v6();
  int score = 0;
  if (!bound.is_unspecified()) {
    if (bound != Ipv6Address::v4_mapped(local.address.to_v4())) return -1;
    score += 4;
  }
  if (sock.is_connected()) {
    if (sock.remote_.address != IpAddress(Ipv6Address::v4_mapped(remote.address.to_v4())) ||
        sock.remote_.port != remote.port) {
      return -1;
    }
    score += 8;
  }
  return score;
}

InetSocket* SocketTable::lookup(const Endpoint& local, const Endpoint& remote) const {
  auto it = by_port_.find(local.port);
  if (it == by_port_.end()) return nullptr;
  InetSocket* best = nullptr;
  int best_score = -1;
  for (InetSocket* sock : it->second) {
    const int s = score(*sock, local, remote);
    if (s > best_score) {
      best = sock;
      best_score = s;
    }
  }
  return best;
}

std::vector<std::pair<InetSocket*, std::uint64_t>> SocketTable::matches(const Endpoint& local,
                                                                        const Endpoint& remote) const {
  std::vector<std::pair<InetSocket*, std::uint64_t>> out;
  auto it = by_port_.find(local.port);
  if (it == by_port_.end()) return out;
  for (InetSocket* sock : it->second) {
    if (score(*sock, local, remote) >= 0) out.emplace_back(sock, sock->serial_);
  }
  return out;
}

InetSocket* SocketTable::find(std::uint16_t port, std::uint64_t serial) const {
  auto it = by_port_.find(port);
  if (it == by_port_.end()) return nullptr;
  for (InetSocket* sock : it->second) {
    if (sock->serial_ == serial) return sock;
  }
  return nullptr;
}

}  // namespace netns::ipv4
