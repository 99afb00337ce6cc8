// The IPv6 layer inside the library: per-namespace state and the interface
// transports are written against. The same shape as ipv4/stack.hpp.
//
// Ingress: Ipv6Stack::process (an Ethernet PacketHandler for 0x86dd) →
// process_ipv6 (header checks, extension headers) → deliver_local →
// process_icmp6 | Transport::deliver, or → forward. Egress: a sender routes
// (route_output: FIB, then RFC 6724 source selection), and calls send,
// which adds the header, fragments at the source when needed and hands the
// datagram to the neighbour layer (NDP) or the loopback.
//
// Addresses (addrconf.cpp): link-local on up, ::1 on the loopback, DAD.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <span>

#include "core/siphash.hpp"
#include "inet/transport.hpp"
#include "ipv4/icmp_peers.hpp"
#include "ipv6/fragment.hpp"
#include "ipv6/neighbour_layer6.hpp"
#include "netfilter/hooks.hpp"
#include "netns/host.hpp"
#include "netns/ipv6.hpp"
#include "netns/pernet.hpp"
#include "netns/wire/ipv6.hpp"
#include "netns/wire/ipv6_ext.hpp"
#include "netns/wire/ndp.hpp"

namespace netns {
class RouteCache;
}
namespace netns::ipv4 {
class Ipv4Stack;
}

namespace netns::ipv6 {

struct Ipv6Net;
struct Inet6Address;
struct NdiscDevice;
struct DevConf6;

// What a transport learns about a datagram addressed to this namespace.
struct InputMeta {
  Device* dev = nullptr;  // where it arrived
  Ipv6Address src, dst;   // link-local ones carry dev's ifindex as scope id
  std::uint8_t hop_limit = 0, traffic_class = 0;
  bool multicast = false;
  // Bytes from the IPv6 header to the transport header (extension headers
  // included), all in the headroom: an ICMPv6 error quotes from there.
  std::size_t header_len = wire::Ipv6Repr::kHeaderLen;
};

// IPV6_MIN_MTU: every link carries it (RFC 8200 5).
inline constexpr std::uint32_t kMinMtu = 1280;

// ICMPv6 types the layer names (RFC 4443).
inline constexpr std::uint8_t kIcmp6DestUnreachable = 1, kIcmp6PacketTooBig = 2, kIcmp6TimeExceeded = 3,
                              kIcmp6ParameterProblem = 4, kIcmp6EchoRequest = 128, kIcmp6EchoReply = 129;
// Destination unreachable's port code (RFC 4443 3.1).
inline constexpr std::uint8_t kIcmp6PortUnreachable = 4;

// An ICMPv6 error about a datagram this namespace sent, as ICMPv6 input
// hands it to the transport that sent it (Linux's icmpv6_notify → err_handler).
struct IcmpError {
  std::uint8_t type = 0, code = 0;
  std::uint32_t info = 0;   // the MTU of packet too big, the pointer of parameter problem
  Ipv6Address reporter;     // who sent the error
  // The quoted datagram's addresses; link-local ones carry the scope id of
  // the device the error came in on, as the sockets bound to them do.
  Ipv6Address orig_src, orig_dst;
  std::span<const std::byte> quoted;  // the quoted transport header, 8 bytes at least
  // Linux's icmpv6_err_convert: the errno, and whether a socket without
  // IPV6_RECVERR reports it (port unreachable, prohibited, parameter problem).
  boost::system::error_code error() const;
  bool is_hard() const;
};

// Counts an ICMPv6 message leaving (Icmp6OutMsgs, OutErrors, the type's
// named counter and its Icmp6OutType).
void count_icmp6_out(Net& net, std::uint8_t type);

struct SendParams {
  Ipv6Address src;  // required: the route's source unless the socket is bound
  Ipv6Address dst;
  wire::IpProtocol next_header = wire::IpProtocol::udp;
  std::uint8_t hop_limit = 0;  // 0: the device's net.ipv6.conf.DEV.hop_limit
  std::uint8_t traffic_class = 0;
  std::uint32_t flow_label = 0;
  // IPV6_DONTFRAG / TCP: never fragmented at the source; too big is message_size.
  bool dont_fragment = false;
};

class Ipv6Stack final : public PernetOps,
                        public PacketHandler,
                        public NetdevListener,
                        public inet::NetworkLayer,
                        public Ipv6NeighbourLayer,
                        public DevconfListener {
 public:
  // `route_cache` must outlive this layer (the composition root builds it first).
  // ICMPv6 errors take from the namespace's ICMP credit, which ipv4 keeps
  // (Linux's net->ipv4.icmp_global_credit): one for both families.
  Ipv6Stack(Host& host, RouteCache& route_cache, ipv4::Ipv4Stack& ipv4);
  ~Ipv6Stack() override;
  Ipv6Stack(const Ipv6Stack&) = delete;
  Ipv6Stack& operator=(const Ipv6Stack&) = delete;

  Ipv6Net& state(Net& net) { return slot_.get(net); }
  Ipv6Net* find_state(Net& net) { return slot_.find(net); }

  // Output. `payload` holds the upper-layer header and data. Larger than the
  // path MTU: fragmented here unless params.dont_fragment (message_size).
  Result<void> send(Net& net, Packet payload, const SendParams& params, const RouteResult& route);
  // ipv6_select_ident: a fragment identification, random and never 0, as
  // Linux since 5.13 (predictable ones leak traffic to other hosts).
  std::uint32_t select_ident();
  // Hands a ready datagram (data() at its IPv6 header) to the link layer.
  // (Postrouting ran before: send and forward run it on the whole datagram.)
  void output_datagram(Net& net, Packet&& datagram, Device& dev, const Ipv6Address& next_hop);

  // inet::NetworkLayer: the transports by next header (inet6_protos).
  Result<void> add_protocol(wire::IpProtocol protocol, inet::Transport& transport) override;
  void remove_protocol(wire::IpProtocol protocol, const inet::Transport& transport) override;

  Result<RouteResult> route_output(Net& net, const Ipv6Address& dst);
  // The same, remembered by a socket for its last destination and checked
  // against the namespace's route generation (shared with IPv4): no hashing
  // while nothing in the namespace's routing changed.
  struct RouteMemo {
    Ipv6Address dst;
    std::uint64_t generation = ~std::uint64_t{0};
    RouteResult route{};
  };
  Result<RouteResult> route_output(Net& net, const Ipv6Address& dst, RouteMemo& memo);
  // A sender whose route_output failed: Ip6OutNoRoutes when there is no
  // route at all (not for an unreachable, blackhole or prohibit route), as
  // Linux's ip6_dst_lookup_tail counts for every local sender (ICMPv6's
  // replies and TCP's resets too); the error, handed on.
  static boost::system::error_code no_route(Net& net, boost::system::error_code why);
  // What datagrams to dst through dev may carry: the device's IPv6 MTU
  // (net.ipv6.conf.DEV.mtu), lowered by Packet Too Big for
  // net.ipv6.route.mtu_expires seconds.
  std::uint32_t path_mtu(Net& net, const Ipv6Address& dst, const Device& dev);
  void update_pmtu(Net& net, const Ipv6Address& dst, std::uint32_t mtu);
  // RFC 6724's choice among the namespace's usable addresses for `dst`
  // leaving through `dev`; nullopt when there is none.
  std::optional<Ipv6Address> select_source(Net& net, const Device& dev, const Ipv6Address& dst);
  bool is_local(Net& net, const Ipv6Address& address);

  // Ipv6NeighbourLayer: what NDP asks of the layer.
  bool is_local(Net& net, const Device& dev, const Ipv6Address& address) override;
  bool is_anycast(Net& net, const Device& dev, const Ipv6Address& address) override;
  bool is_tentative(Net& net, const Device& dev, const Ipv6Address& address) override;
  void dad_conflict(Net& net, Device& dev, const Ipv6Address& address) override;
  Ipv6Address solicit_source(Net& net, const Device& dev, const Ipv6Address& target) override;
  bool is_router(Net& net, const Device& dev) override;
  void router_lost(Net& net, Device& dev, const Ipv6Address& router) override;
  void error_report(Net& net, const Packet& datagram) override;
  NdpTimes advertised_ndp_times(Net& net, const Device& dev) override;
  bool local_out(Net& net, Device& dev, Packet& message) override;

  // icmp6_send: an error about `offending` (data() at its IPv6 header),
  // rate limited; never about an ICMPv6 error, nor to a multicast or
  // unspecified source, nor (but for packet too big and parameter problem
  // code 2) about a datagram sent to a multicast address.
  void send_icmp_error(Net& net, const Packet& offending, std::uint8_t type, std::uint8_t code,
                       std::uint32_t info = 0);
  // ip6_forward's redirect (RFC 4861 8.2): the datagram `ip` leaves by
  // `dev`, the link it came in by, for `target` (its gateway, or itself
  // when on-link); its sender, a neighbour there, hears of the better hop.
  void send_redirect(Net& net, Ipv6Net& ns, Device& dev, const wire::Ipv6View& ip, const Ipv6Address& target);

  // Control plane (ipv6.hpp's free functions land here).
  Result<void> add_address(Net& net, Device& dev, Ipv6Prefix prefix);
  Result<void> del_address(Net& net, Device& dev, Ipv6Prefix prefix);
  Result<void> add_route(Net& net, const RouteSpec& spec);
  Result<void> del_route(Net& net, const RouteSpec& spec);

  // PernetOps
  Result<void> init(Net& net) override;
  void exit(Net& net) override;
  // PacketHandler: Ethernet type 0x86dd.
  void process(Net& net, Device& dev, Packet frame) override;
  // The look-ahead: what prerouting's entries will look up (conntrack's bucket).
  bool prefetches(Net& net) override;
  void prefetch(Net& net, Device& dev, std::span<const std::byte> frame) override;
  // NetdevListener: link-local addresses, routes and DAD follow devices.
  void on_netdev_event(NetdevEvent event, Device& dev) override;
  // DevconfListener (devconf6.cpp): writes to net.ipv6.conf.* act on live
  // devices: disable_ipv6, forwarding, addr_gen_mode, mtu.
  void on_devconf_change(Net& net, DevconfScope scope, Device* dev, DevconfId id, std::int32_t value) override;

  Host& host() const { return host_; }

  // Router advertisements sent (advertiser.cpp), and what router discovery
  // knows of a device (ndisc_router.cpp): netns/ipv6.hpp's functions.
  Result<void> advertise(Net& net, Device& dev, const RouterAdvertConfig& config);
  Result<void> stop_advertising(Net& net, Device& dev);
  std::optional<RouterDiscoveryInfo> router_discovery(Net& net, const Device& dev);

 private:
  void process_ipv6(Net& net, Ipv6Net& ns, Device& dev, Packet&& packet);
  // Whether a datagram to multicast `dst` is for this host on dev.
  bool accepts_multicast(Ipv6Net& ns, const Device& dev, const Ipv6Address& dst);
  // `from`: where the extension headers past hop-by-hop begin.
  void receive_finish(Net& net, Ipv6Net& ns, Device& dev, Packet&& packet, const wire::Ipv6View& ip,
                      wire::Ipv6ExtPosition from, const wire::Ipv6ExtContext& context);
  // The input hook, then deliver_local_finish.
  void deliver_local(Net& net, Ipv6Net& ns, Device& dev, Packet packet, const wire::Ipv6View& ip,
                     wire::Ipv6ExtPosition from, const wire::Ipv6ExtContext& context, bool multicast);
  void deliver_local_finish(Net& net, Ipv6Net& ns, Device& dev, Packet&& packet, const wire::Ipv6View& ip,
                            wire::Ipv6ExtPosition from, const wire::Ipv6ExtContext& context, bool multicast);
  // deliver_local past the extension headers: the upper layer `next_header`
  // starts at `at.offset`, named by the field at `at.nhoff`.
  void deliver_upper(Net& net, Ipv6Net& ns, Device& dev, Packet packet, const wire::Ipv6View& ip,
                     std::uint8_t next_header, wire::Ipv6ExtPosition at, bool multicast);
  void drop_extension(Net& net, const Packet& packet, const wire::Ipv6ExtResult& verdict);
  void forward(Net& net, Ipv6Net& ns, Device& in, Packet&& packet, const wire::Ipv6View& ip);
  // Runs the hook `h` (precondition: ns.hooks.active(h)): true when the
  // datagram goes on. It may have been rewritten or replaced: the caller
  // reads its header again.
  bool run_hook(Net& net, Ipv6Net& ns, netfilter::Hook h, Packet& packet, Device* in, Device* out);
  // `ip`: the datagram's checked header (NDP reads it).
  void process_icmp6(Net& net, Ipv6Net& ns, Packet message, const InputMeta& meta, const wire::Ipv6View& ip);
  // The rate limits of an ICMPv6 message whose type net.ipv6.icmp.ratemask
  // limits: the namespace's credit first, then the destination's; each
  // counts what it refuses.
  bool icmp6_global_allow(Net& net);
  bool icmp6_xrlim_allow(Net& net, Ipv6Net& ns, const Ipv6Address& dst, const RouteResult& route);
  // The namespace's inet_peer base: ICMPv6 errors' and redirects' limits.
  ipv4::IcmpPeers6& icmp_peers(Ipv6Net& ns);
  // route_output's FIB lookup and source selection, behind the cache.
  Result<RouteResult> resolve_route(Net& net, const Ipv6Address& dst);
  void reply_echo(Net& net, Packet request, const InputMeta& meta);
  // ipv6_frag_rcv's part after the walk stopped at a fragment header: the
  // reassembled datagram and where its walk resumes, or nullopt (held or dropped).
  std::optional<Reassembler::Reassembled> reassemble(Net& net, Ipv6Net& ns, Device& dev, Packet&& packet,
                                                     const wire::Ipv6View& ip, const wire::Ipv6ExtResult& walk);
  void process_packet_too_big(Net& net, const Packet& message);
  void notify_error(Net& net, const Packet& message, const InputMeta& meta);

  // addrconf
  // DAD, when it runs, starts dad_after (and a random delay) from now.
  Inet6Address& insert_address(Ipv6Net& ns, Device& dev, Ipv6Prefix prefix, bool permanent,
                               Clock::duration dad_after = {});
  void remove_address(Ipv6Net& ns, Inet6Address& a);
  void start_dad(Ipv6Net& ns, Inet6Address& a, Clock::duration after = {});
  // addrconf_dad_failure's RFC 7217 part: the next DAD counter's address.
  void retry_stable_address(Ipv6Net& ns, const Inet6Address& failed);
  void on_address_timer(Net& net, Inet6Address& a);
  void address_ready(Ipv6Net& ns, Inet6Address& a);
  void dad_failed(Ipv6Net& ns, Inet6Address& a);
  void send_dad_probe(Net& net, Device& dev, const Ipv6Address& tentative);
  void schedule_lifetime(Inet6Address& a);
  void expire_lifetimes(Ipv6Net& ns, Inet6Address& a);
  void route_cache_invalidate(Net& net);
  void add_link_local(Ipv6Net& ns, Device& dev);
  void add_prefix_route(Ipv6Net& ns, const Inet6Address& a);
  void device_up(Ipv6Net& ns, Device& dev);
  void device_down(Ipv6Net& ns, Device& dev);
  void device_gone(Ipv6Net& ns, Device& dev);
  void purge_ra_default_routes(Ipv6Net& ns);

  // router discovery, host side (ndisc_router.cpp)
  NdiscDevice* ndisc_device(Ipv6Net& ns, Device& dev);  // made on first need
  // A link-local address of dev passed DAD: solicitations start, advertising resumes.
  void link_local_ready(Ipv6Net& ns, Device& dev);
  void on_rs_timer(Net& net, NdiscDevice& nd);
  void send_router_solicit(Net& net, Ipv6Net& ns, Device& dev);
  // An NDP message (data() at its ICMPv6 header, checksum filled) from src
  // on dev, hop limit 255, counted.
  void send_ndisc(Net& net, Device& dev, const Ipv6Address& src, const Ipv6Address& dst, Packet message);
  void process_router_solicit(Net& net, Ipv6Net& ns, Device& dev, const wire::Ipv6View& ip,
                              std::span<const std::byte> message);
  void process_router_advert(Net& net, Ipv6Net& ns, Device& dev, const wire::Ipv6View& ip,
                             std::span<const std::byte> message);
  void update_default_router(Ipv6Net& ns, Device& dev, const Ipv6Address& router, std::uint16_t lifetime);
  void schedule_route_expiry(Ipv6Net& ns);
  void expire_routes(Net& net);
  void ndisc_device_down(Ipv6Net& ns, Device& dev, bool gone);
  // SLAAC and on-link prefixes (slaac.cpp)
  void process_prefix_info(Ipv6Net& ns, NdiscDevice& nd, const wire::NdpPrefixInfo& info, const DevConf6& conf);
  void update_onlink_prefix(Ipv6Net& ns, NdiscDevice& nd, const Ipv6Prefix& prefix, std::uint32_t valid);
  void autoconf_prefix(Ipv6Net& ns, Device& dev, const wire::NdpPrefixInfo& info, const DevConf6& conf);
  // the advertiser (advertiser.cpp)
  void on_advert_timer(Net& net, NdiscDevice& nd);
  void send_router_advert(Net& net, NdiscDevice& nd, bool final);
  void schedule_solicited_advert(NdiscDevice& nd);
  void schedule_next_advert(NdiscDevice& nd);

  Host& host_;
  PernetSlot<Ipv6Net> slot_;
  RouteCache& route_cache_;
  ipv4::Ipv4Stack& ipv4_;
  inet::ProtocolTable transports_;
  std::minstd_rand dad_jitter_;  // DAD's random first delay: seeded from the Host's secret
  SipKey pmtu_key_;              // keys every namespace's Pmtu6Exceptions
  SipKey iid_key_;               // addr_gen_mode 3's per-device secrets
  std::uint64_t secret_draws_ = 0;
  SipKey frag_ident_key_;        // select_ident's generator: SipHash of a counter
  std::uint64_t frag_ident_counter_ = 0;
};

}  // namespace netns::ipv6
