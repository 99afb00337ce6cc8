// IPv6 fragmentation and reassembly: Linux's ip6_fragment (slow path),
// ipv6_frag_rcv / ip6_frag_queue / ip6_frag_reasm, without the shared hash
// table — each namespace's Reassembler is its own bounded table
// (inet/reassembly.hpp, shared with IPv4).
#include "ipv6/fragment.hpp"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "inet/reassembly_impl.hpp"
#include "netns/host.hpp"
#include "netns/net.hpp"
#include "netns/packet_pool.hpp"
#include "netns/wire/bytes.hpp"
#include "netns/wire/checksum.hpp"

namespace netns::ipv6 {

namespace {

constexpr std::size_t kFixed = wire::Ipv6Repr::kHeaderLen;
constexpr std::size_t kFragHeader = wire::Ipv6FragmentRepr::kLen;
constexpr std::size_t kPayloadLengthField = 4;
constexpr std::size_t kMaxPayload = 0xffff;
constexpr auto kFragmentNext = static_cast<std::uint8_t>(wire::IpProtocol::ipv6_fragment);

// The traffic class's two low bits sit in the high nibble of byte 1.
void or_ecn(std::span<std::byte> datagram, std::uint8_t ecn) {
  wire::store_u8(datagram, 1, static_cast<std::uint8_t>(wire::load_u8(datagram, 1) | ecn << 4));
}

}  // namespace

// ---- Reassembler ----

std::size_t Reassembler::KeyHash::operator()(const Key& k) const {
  // Keyed with the Host's secret so a sender cannot aim fragments at one bucket.
  const std::uint64_t a = siphash13_words(key, k.src.high(), k.src.low());
  const std::uint64_t b = siphash13_words(key, k.dst.high() ^ a, k.dst.low());
  return static_cast<std::size_t>(
      siphash13_words(key, b, std::uint64_t{k.id} << 32 | static_cast<std::uint32_t>(k.iif)));
}

Reassembler::Reassembler(Net& net, std::function<void(Packet)> on_timeout)
    : net_(&net),
      table_(net, KeyHash{SipKey::derive(net.host().secret(), 0x6970362d72656173)},  // "ip6-reas"
             inet::ReassemblyNames{.fails = Counter::Ip6ReasmFails,
                                   .oks = Counter::Ip6ReasmOKs,
                                   .timeout = Counter::Ip6ReasmTimeout,
                                   .overlaps = std::nullopt,  // no line in /proc/net/snmp6
                                   .high_thresh = SysctlId::ip6frag_high_thresh,
                                   .time = SysctlId::ip6frag_time},
             std::move(on_timeout)) {}

Reassembler::~Reassembler() = default;

std::optional<Reassembler::Reassembled> Reassembler::add(Packet fragment, const wire::Ipv6View& ip,
                                                         const wire::Ipv6ExtResult& walk, int iif) {
  if (walk.verdict != wire::Ipv6ExtVerdict::fragment || !walk.fragment) return std::nullopt;
  const wire::Ipv6FragmentRepr& header = *walk.fragment;
  const std::size_t size = ip.bytes().size();
  const auto data_at = static_cast<std::uint32_t>(walk.offset + kFragHeader);
  const auto offset = static_cast<std::uint32_t>(header.offset);
  const inet::FragmentInfo f{.offset = offset,
                             .end = static_cast<std::uint32_t>(offset + (size - data_at)),
                             .data_at = data_at,
                             .more = header.more,
                             .ecn = static_cast<std::uint8_t>(ip.traffic_class() & 0x03)};
  const Ipv6Address dst = ip.dst();
  // A link-scoped destination is only unique on its link.
  const Key key{ip.src().with_scope(0), dst.with_scope(0), header.identification,
                dst.is_link_local() || dst.is_multicast() ? iif : 0};
  fragment.trim(size);

  // The checks this fragment alone decides were the walk's (RFC 8200 4.5).
  Table::Queue* q = table_.add(key, std::move(fragment), f);
  if (q == nullptr) return std::nullopt;
  if (offset == 0) {
    q->extra = Extra{.unfragmentable = static_cast<std::uint32_t>(walk.offset),
                     .nhoff = static_cast<std::uint32_t>(walk.nhoff),
                     .next_header = header.next_header};
  }
  if (!q->complete()) return std::nullopt;
  return reassemble(*q);
}

// ip6_frag_reasm: the first fragment's unfragmentable part, the fragment
// header gone, the data of every fragment after it.
std::optional<Reassembler::Reassembled> Reassembler::reassemble(Table::Queue& q) {
  auto fail = [&] {
    table_.drop(q.key);
    return std::nullopt;
  };
  const Extra first = q.extra;
  const std::size_t payload = first.unfragmentable - kFixed + q.length();
  const auto ecn = q.combined_ecn();
  if (payload > kMaxPayload || !ecn) return fail();
  Packet whole = q.assemble(net_->host().packets(), first.unfragmentable);
  if (!whole) return fail();
  auto out = whole.mutable_data();
  std::copy_n(q.first().packet.data().begin(), first.unfragmentable, out.begin());
  wire::store_u8(out, first.nhoff, first.next_header);
  wire::store_be16(out, kPayloadLengthField, static_cast<std::uint16_t>(payload));
  or_ecn(out, *ecn);
  table_.done(q);
  return Reassembled{std::move(whole), wire::Ipv6ExtPosition{first.unfragmentable, first.nhoff}};
}

// ---- fragment ----

void finish_checksum(Packet& datagram) { datagram.finish_transport_checksum(0); }

namespace {

// Writes the header of one fragment: the unfragmentable part in place in
// out[0, unfragmentable), its next-header field at nhoff naming the
// fragment header, the payload length, then the fragment header.
void emit_fragment_header(std::span<std::byte> out, std::size_t unfragmentable, std::size_t nhoff,
                          const wire::Ipv6FragmentRepr& header, std::size_t data_len) {
  wire::store_u8(out, nhoff, kFragmentNext);
  wire::store_be16(out, kPayloadLengthField,
                   static_cast<std::uint16_t>(unfragmentable - kFixed + kFragHeader + data_len));
  header.emit(out.subspan(unfragmentable, kFragHeader));
}

}  // namespace

Result<void> fragment(Net& net, Packet datagram, std::uint32_t mtu, std::uint32_t identification,
                      const std::function<void(Packet)>& emit) {
  Counters& counters = net.counters();
  PacketPool& pool = net.host().packets();
  // The transport checksum covers the whole datagram: fill it before it is cut.
  finish_checksum(datagram);
  auto fail = [&](Errc e) -> Result<void> {
    counters.add(Counter::Ip6FragFails);
    return error(e);
  };

  auto ip = wire::Ipv6View::checked(datagram.data());
  if (!ip) return fail(Errc::bad_message);
  datagram.trim(ip->bytes().size());
  if (datagram.size() <= mtu) {
    emit(std::move(datagram));
    return {};
  }
  auto point = wire::fragment_insertion_point(*ip);
  if (!point) return fail(Errc::bad_message);
  const std::size_t unfragmentable = point->offset, nhoff = point->nhoff;
  if (mtu < unfragmentable + kFragHeader + 8) return fail(Errc::message_size);
  const std::size_t per_fragment = (mtu - unfragmentable - kFragHeader) & ~std::size_t{7};
  const std::span<const std::byte> data = ip->bytes().subspan(unfragmentable);
  wire::Ipv6FragmentRepr header{.next_header = wire::load_u8(ip->bytes(), nhoff), .offset = 0, .more = true,
                                .identification = identification};

  // Every later fragment is built before the first is cut from the
  // datagram's own buffer, so a failure emits nothing.
  std::vector<Packet> rest;
  rest.reserve((data.size() - 1) / per_fragment);
  for (std::size_t at = per_fragment; at < data.size(); at += per_fragment) {
    const std::size_t len = std::min(per_fragment, data.size() - at);
    Packet piece = pool.allocate(unfragmentable + kFragHeader + len);
    if (!piece) return fail(Errc::not_enough_memory);
    auto out = piece.mutable_data();
    std::copy_n(ip->bytes().begin(), unfragmentable, out.begin());
    header.offset = at;
    header.more = at + len < data.size();
    emit_fragment_header(out, unfragmentable, nhoff, header, len);
    pool.copy_bytes(out.subspan(unfragmentable + kFragHeader), data.subspan(at, len));
    piece.device = datagram.device;
    piece.type = datagram.type;
    piece.protocol = datagram.protocol;
    rest.push_back(std::move(piece));
  }

  // The first fragment: the unfragmentable part moves 8 bytes forward into
  // the headroom, the fragment header takes its place before the data.
  header.offset = 0;
  header.more = true;
  if (datagram.headroom() >= kFragHeader && !datagram.is_shared()) {
    auto out = datagram.push_front(kFragHeader);
    std::memmove(out.data(), out.data() + kFragHeader, unfragmentable);
    datagram.trim(unfragmentable + kFragHeader + per_fragment);
    emit_fragment_header(datagram.mutable_data(), unfragmentable, nhoff, header, per_fragment);
  } else {
    Packet first = pool.allocate(unfragmentable + kFragHeader + per_fragment);
    if (!first) return fail(Errc::not_enough_memory);
    auto out = first.mutable_data();
    std::copy_n(ip->bytes().begin(), unfragmentable, out.begin());
    emit_fragment_header(out, unfragmentable, nhoff, header, per_fragment);
    pool.copy_bytes(out.subspan(unfragmentable + kFragHeader), data.first(per_fragment));
    first.device = datagram.device;
    first.type = datagram.type;
    first.protocol = datagram.protocol;
    datagram = std::move(first);
  }

  counters.add(Counter::Ip6FragCreates, 1 + rest.size());
  emit(std::move(datagram));
  for (Packet& piece : rest) emit(std::move(piece));
  counters.add(Counter::Ip6FragOKs);
  return {};
}

}  // namespace netns::ipv6
