// The IPv4 layer inside the library: per-namespace state and the interface
// transports (UDP, ICMP echo, TCP) are written against.
//
// Ingress reads top-down: Ipv4Stack::process (an Ethernet PacketHandler) →
// process_ipv4 → deliver_local → Transport::deliver. Egress: a transport
// routes (route_output), builds its header with the route's source, and
// calls Ipv4Stack::send, which adds the IP header, fragments when needed and
// hands the frame to the neighbour layer.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "core/ip_idents.hpp"
#include "inet/transport.hpp"
#include "ipv4/neighbour_layer.hpp"
#include "ipv4/options.hpp"
#include "netfilter/hooks.hpp"
#include "netns/host.hpp"
#include "netns/ipv4.hpp"
#include "netns/wire/icmp.hpp"
#include "netns/wire/ipv4.hpp"

namespace netns {
class RouteCache;
}

namespace netns::ipv4 {

class Fib;
struct FibEntry;
class Reassembler;
class NeighbourTable;
struct Ipv4Net;
struct InAddress;
struct Ipv4Extras;

// What a transport learns about a datagram addressed to this namespace.
struct InputMeta {
  Device* dev = nullptr;       // where it arrived
  Ipv4Address src, dst;
  std::uint8_t ttl = 0, tos = 0;
  bool broadcast = false;      // sent to a broadcast address
  // The IP header's length, options included. It is in the headroom, so a
  // transport re-exposes it with push_front(header_len) to quote the
  // datagram in an ICMP error (UDP's port unreachable).
  std::size_t header_len = wire::Ipv4Repr::kHeaderLen;
  // The IP options as input processed them (null without options): a reply
  // echoes them (echo_reply_options).
  const ReceivedOptions* options = nullptr;
};

// An ICMP error about a datagram this namespace sent.
struct IcmpError {
  wire::IcmpType type{};
  std::uint8_t code = 0;
  std::uint32_t info = 0;      // next-hop MTU for frag-needed, pointer for parameter problem
  Ipv4Address reporter;        // who sent the ICMP error
  Ipv4Address orig_src, orig_dst;
  std::span<const std::byte> quoted;  // the original transport header, 8 bytes at least
  // The errno a socket reports for it (connection_refused for port unreachable...).
  boost::system::error_code error() const;
};

// IPv4's transports are the inet ones (inet/transport.hpp), shared with IPv6.
using inet::Transport;

struct SendParams {
  Ipv4Address src;             // required: the route's source unless the socket is bound
  Ipv4Address dst;             // the final destination (with a source route, not the first hop)
  wire::IpProtocol protocol = wire::IpProtocol::udp;
  std::uint8_t ttl = 0;        // 0: net.ipv4.ip_default_ttl
  std::uint8_t tos = 0;
  bool dont_fragment = false;
  // Linux's skb->ignore_df: DF is set because the datagram fits the path
  // (IP_PMTUDISC_WANT: UDP and ping sockets), not because the sender insists
  // on it (IP_PMTUDISC_DO: TCP's replies without a socket, SYN-ACKs).
  bool ignore_df = false;
  // The IP ID a connected socket gives its datagram from its own counter
  // (Linux's inet_id: TCP connections, connected UDP sockets). Unset, as
  // ip_select_ident_segs: 0 when DF is set and not ignorable (the ID of a
  // datagram nobody may fragment means nothing), else the Host's hashed
  // generator (IpIdents).
  std::optional<std::uint16_t> ip_id;
  // Options to carry (a reply's, from echo_reply_options), or null. With a
  // source route the header goes to options->faddr, which `route` must reach.
  const SentOptions* options = nullptr;
};

// The path MTU towards a destination, and whether DF may be set on it.
struct PathMtu {
  std::uint32_t mtu = 0;
  bool locked = false;  // reported below net.ipv4.route.min_pmtu: send without DF
};

class Ipv4Stack final : public PernetOps,
                        public PacketHandler,
                        public NetdevListener,
                        public inet::NetworkLayer,
                        public NeighbourLayer {
 public:
  // `route_cache` must outlive this layer (the composition root builds it first).
  Ipv4Stack(Host& host, RouteCache& route_cache);
  ~Ipv4Stack() override;
  Ipv4Stack(const Ipv4Stack&) = delete;
  Ipv4Stack& operator=(const Ipv4Stack&) = delete;

  Ipv4Net& state(Net& net) { return slot_.get(net); }

  // inet::NetworkLayer: the transports by protocol number (inet_protos).
  Result<void> add_protocol(wire::IpProtocol protocol, Transport& transport) override;
  void remove_protocol(wire::IpProtocol protocol, const Transport& transport) override;

  // Output. `payload` holds the transport header and data; `route` comes from
  // route_output for params.dst. A datagram larger than the path MTU is
  // fragmented at it unless DF is set; with DF it must fit the device's MTU
  // (TCP sizes its own segments). Errors a socket reports: message_size (too
  // big with DF, or over 65535), network_unreachable...
  Result<void> send(Net& net, Packet payload, const SendParams& params, const RouteResult& route);

  // Path MTU (Linux's route exceptions): what datagrams to dst through dev
  // may carry, and the learning side: an ICMP fragmentation needed reported
  // `mtu` (0 when it gave none) for a datagram this namespace sent to dst.
  PathMtu path_mtu(Net& net, Ipv4Address dst, const Device& dev);
  void update_pmtu(Net& net, Ipv4Address dst, std::uint32_t mtu);

  // IP IDs: a random first ID for a connected socket (get_random_u16).
  std::uint16_t random_ip_id() { return idents_.random_u16(); }
  // The time ICMP timestamps and the IP Timestamp option carry: milliseconds
  // since midnight UTC, or, when the Host does not know UTC
  // (HostConfig::utc_offset), milliseconds of its clock with the high bit
  // set, as RFC 791 and RFC 792 ask for a non-standard value.
  std::uint32_t timestamp_now() const;
  // ip_options_echo for a reply to `request` (data() past its IP header,
  // which is still in the headroom), delivered with `meta`; nullopt when
  // Linux would send no reply at all.
  std::optional<SentOptions> echo_reply_options(Net& net, Packet& request, const InputMeta& meta);
  // ipv4::route_output: the shared cache, then the FIB.
  Result<RouteResult> route_output(Net& net, Ipv4Address dst);
  // Its miss (Linux's ip_route_output_slow): the FIB, then the answer cached.
  Result<RouteResult> route_output_slow(Net& net, Ipv4Address dst);
  // route_output remembered by one socket for its last destination, checked
  // against the namespace's route generation (Linux's sk_dst_cache): no
  // hashing while nothing in the namespace's routing changed.
  struct RouteMemo {
    Ipv4Address dst;
    std::uint64_t generation = ~std::uint64_t{0};
    RouteResult route{};
  };
  Result<RouteResult> route_output(Net& net, Ipv4Address dst, RouteMemo& memo);
  // A sender whose route_output failed: IpOutNoRoutes when there is no
  // route at all (not for an unreachable, blackhole or prohibit route), as
  // Linux's UDP, ping and TCP senders count it; the error, handed on.
  // ICMP's replies and TCP's resets count nothing (icmp_reply,
  // ip_send_unicast_reply), and do not call it.
  static boost::system::error_code no_route(Net& net, boost::system::error_code why);
  bool is_local(Net& net, Ipv4Address address) override;
  // A subnet broadcast address of any of the namespace's addresses.
  bool is_broadcast(Net& net, Ipv4Address address);
  // A subnet broadcast address of one of dev's addresses.
  bool is_broadcast_on(Net& net, const Device& dev, Ipv4Address address) override;
  // The address a socket bound to 0.0.0.0 sends from towards `dst`'s route.
  Ipv4Address select_source(Net& net, const Device& dev, Ipv4Address dst);
  // NeighbourLayer: what the neighbour table asks of IPv4 beyond the two above.
  Ipv4Address solicit_source(Net& net, const Device& dev, Ipv4Address target) override;
  void error_report(Net& net, const Packet& datagram) override;

  // icmp_send: an error about `offending` (data() at its IP header), rate
  // limited per namespace and per destination (icmp_ratemask's types; see
  // icmp_peers.hpp); never about ICMP errors, fragments other than the
  // first, or broadcasts.
  void send_icmp_error(Net& net, const Packet& offending, wire::IcmpType type, std::uint8_t code,
                       std::uint32_t info = 0);
  // icmp_global_allow and icmp_global_consume: the namespace's credit for
  // ICMP and ICMPv6 errors alike (net.ipv4.icmp_msgs_per_sec and
  // icmp_msgs_burst govern both, as in Linux). allow() spends nothing; an
  // error its destination's limit also allows is then consume()d.
  bool icmp_global_allow(Net& net);
  void icmp_global_consume(Net& net);
  // Counts and sends an ICMP message built by a transport (echo replies).
  void send_icmp(Net& net, Packet message, const SendParams& params, const RouteResult& route);

  // Hands a ready IP datagram (data() at its header) to the link layer via
  // the neighbour table: the one exit of the layer. Fragments it when larger
  // than `mtu` (0: the device's). The caller ran the postrouting hook.
  void output_datagram(Net& net, Packet&& datagram, Device& dev, Ipv4Address next_hop, std::uint32_t mtu = 0);
  // Counts a datagram or fragment leaving and hands it to the neighbour table.
  void transmit(Net& net, Ipv4Net& ns, Device& dev, Ipv4Address next_hop, Packet&& datagram);

  // PernetOps
  Result<void> init(Net& net) override;
  void exit(Net& net) override;
  // PacketHandler: Ethernet type 0x0800.
  void process(Net& net, Device& dev, Packet frame) override;
  // The look-ahead: what prerouting's entries will look up (conntrack's bucket).
  bool prefetches(Net& net) override;
  void prefetch(Net& net, Device& dev, std::span<const std::byte> frame) override;
  // Martians refused by input (route_cache_stats reports them).
  std::uint64_t martian_sources(Net& net);
  std::uint64_t martian_destinations(Net& net);
  // NetdevListener: addresses, routes and neighbours follow their devices.
  void on_netdev_event(NetdevEvent event, Device& dev) override;

  // Control plane (ipv4.hpp's free functions land here).
  Result<void> add_address(Net& net, Device& dev, Ipv4Prefix prefix);
  Result<void> del_address(Net& net, Device& dev, Ipv4Prefix prefix);
  Result<void> add_route(Net& net, const RouteSpec& spec);
  Result<void> del_route(Net& net, const RouteSpec& spec);
  void invalidate_routes(Net& net);
  RouteCache& route_cache() { return route_cache_; }

 private:
  // ip_route_input_slow's verdict on a received datagram.
  // reverse_path: a martian source found by rp_filter (counted as IPReversePathFilter too).
  enum class InputRoute : std::uint8_t { local, broadcast, forward, martian_source, martian_destination, reverse_path };
  // fib_validate_source's verdict on a datagram's source: on_link when the
  // route back to it leaves directly (no gateway) through the input device
  // (Linux's positive return, RTCF_DIRECTSRC, what a redirect needs);
  // invalid its -EINVAL, reverse_path its -EXDEV (rp_filter).
  enum class SourceCheck : std::uint8_t { ok, on_link, invalid, reverse_path };

  void process_ipv4(Net& net, Ipv4Net& ns, Device& dev, Packet&& packet);
  // Inline, defined in input.cpp (its only user): every datagram takes it.
  inline InputRoute route_input(Net& net, Ipv4Net& ns, const Device& dev, Ipv4Address src, Ipv4Address dst);
  // fib_validate_source, with rp_filter (RFC 3704: 1 strict, 2 loose) and
  // accept_local of `in`; `out` is the device a forwarded datagram leaves by.
  // The rare paths of input are cold: kept out of line, so that the common
  // datagram's path stays as short as it was before they existed.
  [[gnu::cold]] SourceCheck validate_source(Net& net, Ipv4Net& ns, const Device& in, Ipv4Address src,
                                            const Device* out);
  // ip_rt_redirect: a redirect received, maybe taken as a route exception.
  [[gnu::cold]] void process_redirect(Net& net, const wire::IcmpView& icmp, const InputMeta& meta);
  // What input makes of a source check on a datagram it would route as `ok`.
  static InputRoute source_verdict(SourceCheck check, InputRoute ok);
  // ip_rt_send_redirect: an ICMP host redirect to `gateway` for a datagram
  // forwarded back out of the device it came in by, rate limited per source.
  [[gnu::cold]] void send_redirect(Net& net, Ipv4Net& ns, const Packet& packet, Ipv4Address src,
                                   Ipv4Address gateway);
  [[gnu::cold]] void drop_martian(Net& net, Ipv4Net& ns, const Device& dev, InputRoute why, Ipv4Address src, Ipv4Address dst);
  // ip_rcv_options: checks and fills the options of a datagram input routed
  // as `route`; false when it is dropped (counted). A source route that goes
  // on from here turns `route` into forward, with options.srr_is_hit.
  // `ip` is the packet's checked header; it follows the header when the
  // options are written into a copy.
  [[gnu::cold]] bool process_options(Net& net, Ipv4Net& ns, const Device& dev, Packet& packet, wire::Ipv4View& ip,
                                     InputRoute& route, ReceivedOptions& options);
  // ip_options_rcv_srr: follows a source route through this host's own
  // addresses; false when it must be dropped.
  [[gnu::cold]] bool follow_source_route(Net& net, Ipv4Net& ns, const Device& dev, const Packet& packet,
                                         const wire::Ipv4MutView& view, ReceivedOptions& options,
                                         InputRoute& route);
  OptionContext option_context(Net& net, const Device& dev, Ipv4Address src, Ipv4Address dst, bool local);
  bool is_unicast_address(Net& net, Ipv4Address address);
  // Input validates a datagram's header once (process_ipv4) and hands the
  // view down with the packet: `view` is over packet's bytes.
  // The checked view comes by reference: a 16-byte view built into the
  // argument area just before the call stalls store forwarding (measured on
  // the forwarding path, dpdk_bench).
  void deliver_local(Net& net, Ipv4Net& ns, Device& dev, Packet packet, const wire::Ipv4View& ip, bool broadcast);
  // `followed`: the options of a datagram whose source route this host
  // follows on to followed->nexthop (already processed), or null.
  void forward(Net& net, Ipv4Net& ns, Device& dev, Packet&& packet, const wire::Ipv4View& ip,
               const ReceivedOptions* followed);
  // Runs the hook `h` (precondition: ns.hooks.active(h)): true when the
  // datagram goes on. It may have been rewritten or replaced: the caller
  // reads its header again.
  bool run_hook(Net& net, Ipv4Net& ns, netfilter::Hook h, Packet& packet, Device* in, Device* out);
  void process_icmp(Net& net, Ipv4Net& ns, Packet packet, const InputMeta& meta);
  // `icmp`: the request's checked header, over request's bytes.
  void reply_echo(Net& net, Packet request, const wire::IcmpView& icmp, const InputMeta& meta);
  void reply_timestamp(Net& net, Packet& request, const wire::IcmpView& icmp, const InputMeta& meta);
  // icmp_reply: sends `message` back to meta.src carrying `options` (from
  // echo_reply_options), through the first hop of their source route if any.
  void send_icmp_reply(Net& net, Packet message, const SentOptions& options, const InputMeta& meta);
  void process_icmp_error(Net& net, const wire::IcmpView& icmp, const InputMeta& meta);
  void remove_routes_through(Ipv4Net& ns, Device& dev);
  void add_kernel_routes(Ipv4Net& ns, const InAddress& a);
  void remove_address_routes(Ipv4Net& ns, Device& dev, Ipv4Address gone);
  // The local table's answer for an address (local or broadcast), or null.
  const FibEntry* local_route(Net& net, Ipv4Address address);
  void remove_device(Net& net, Ipv4Net& ns, Device& dev);
  Result<RouteResult> resolve_route(Net& net, Ipv4Net& ns, Ipv4Address dst);
  Ipv4Extras& extras(Ipv4Net& ns);  // made on first use

  class ArpReceiver;

  Host& host_;
  PernetSlot<Ipv4Net> slot_;
  RouteCache& route_cache_;
  std::unique_ptr<ArpReceiver> arp_;
  inet::ProtocolTable transports_;  // indexed by protocol number on the packet path
  IpIdents idents_;     // one table for every namespace of the Host, as Linux's ip_idents
  SipKey pmtu_key_;     // keys every namespace's PmtuExceptions
};

}  // namespace netns::ipv4
