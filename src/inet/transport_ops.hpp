// TransportOps: the skeleton every transport subsystem shares, written once.
//
// A transport (UDP, ping, TCP) is a pernet subsystem with one State per
// namespace (its socket tables) and a Transport registered with both
// network layers, for one protocol number each (ping: ICMP and ICMPv6).
// The composition root constructs it with the layers, after them:
//
//   class UdpOps final : public inet::TransportOps<UdpOps, UdpNet> {
//    public:
//     UdpOps(Host& host, ipv4::Ipv4Stack& ipv4, ipv6::Ipv6Stack& ipv6)
//         : TransportOps(host, ipv4, ipv6, wire::IpProtocol::udp) {}
//     void deliver(Net&, Packet, const ipv4::InputMeta&) override;
//     void deliver(Net&, Packet, const ipv6::InputMeta&) override;
//   };
//   auto opened = ops.open(net);   // in udp::open(Net&): the NetRef and the namespace's UdpNet
//
// One State serves both families: a socket table holds IPv4 and IPv6
// sockets, as Linux's udp_table does, so that dual-stack binds conflict.
// State is constructed as State(Net&, Derived&) when it has that
// constructor, else State(Net&).
#pragma once

#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "inet/transport.hpp"
#include "ipv4/stack.hpp"
#include "ipv6/stack.hpp"
#include "netns/host.hpp"
#include "netns/net.hpp"
#include "netns/pernet.hpp"

namespace netns::inet {

template <class Derived, class State>
class TransportOps : public PernetOps, public Transport {
 public:
  TransportOps(const TransportOps&) = delete;
  TransportOps& operator=(const TransportOps&) = delete;

  Result<void> init(Net& net) override {
    if constexpr (std::is_constructible_v<State, Net&, Derived&>) {
      slot_.emplace(net, net, static_cast<Derived&>(*this));
    } else {
      slot_.emplace(net, net);
    }
    return {};
  }
  void exit(Net& net) override { slot_.reset(net); }

  // The namespace's state; nullptr where init has not run or exit has.
  State* state(Net& net) { return slot_.find(net); }
  // The network layers this transport sends through.
  ipv4::Ipv4Stack& stack() { return ipv4_; }
  ipv6::Ipv6Stack& stack6() { return ipv6_; }
  Host& host() const { return host_; }

  // The first steps of opening a socket in `net`: a strong reference
  // (invalid_argument when the namespace is dying) and its state
  // (address_family_not_supported where the transport has exited).
  struct Opened {
    NetRef ref;
    State& state;
  };
  Result<Opened> open(Net& net) {
    NetRef ref = net.ref();
    if (!ref) return error(Errc::invalid_argument);
    State* s = slot_.find(net);
    if (s == nullptr) return error(Errc::address_family_not_supported);
    return Opened{std::move(ref), *s};
  }

 protected:
  // Registers with `ipv4` for `protocol` and with `ipv6` for `protocol6`.
  // Throws when a number is taken: the composition root gave two
  // transports one number.
  TransportOps(Host& host, ipv4::Ipv4Stack& ipv4, ipv6::Ipv6Stack& ipv6, wire::IpProtocol protocol,
               wire::IpProtocol protocol6)
      : host_(host), slot_(host), ipv4_(ipv4), ipv6_(ipv6), protocol_(protocol), protocol6_(protocol6) {
    add(ipv4_, protocol_);
    try {
      add(ipv6_, protocol6_);
    } catch (...) {
      static_cast<NetworkLayer&>(ipv4_).remove_protocol(protocol_, *this);
      throw;
    }
  }
  TransportOps(Host& host, ipv4::Ipv4Stack& ipv4, ipv6::Ipv6Stack& ipv6, wire::IpProtocol protocol)
      : TransportOps(host, ipv4, ipv6, protocol, protocol) {}
  ~TransportOps() override {
    static_cast<NetworkLayer&>(ipv6_).remove_protocol(protocol6_, *this);
    static_cast<NetworkLayer&>(ipv4_).remove_protocol(protocol_, *this);
  }

 private:
  void add(NetworkLayer& layer, wire::IpProtocol protocol) {
    if (!layer.add_protocol(protocol, *this)) {
      throw std::logic_error("netns: IP protocol " + std::to_string(static_cast<int>(protocol)) +
                             " has a transport already");
    }
  }

  Host& host_;
  PernetSlot<State> slot_;
  ipv4::Ipv4Stack& ipv4_;
  ipv6::Ipv6Stack& ipv6_;
  wire::IpProtocol protocol_, protocol6_;
};

}  // namespace netns::inet
