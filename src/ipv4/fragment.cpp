// IPv4 fragmentation and reassembly: Linux's ip_do_fragment (slow path) and
// ip_defrag, without the shared hash table — each namespace's Reassembler
// is its own bounded table (inet/reassembly.hpp, shared with IPv6).
#include "ipv4/fragment.hpp"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "inet/reassembly_impl.hpp"
#include "netns/host.hpp"
#include "netns/net.hpp"
#include "netns/packet_pool.hpp"
#include "netns/wire/bytes.hpp"
#include "netns/wire/ipv4.hpp"

namespace netns::ipv4 {

namespace {

constexpr std::size_t kFixedHeaderLen = wire::Ipv4Repr::kHeaderLen;
constexpr std::size_t kMaxDatagram = 0xffff;

// Writes the fixed 20-byte header of `repr` in front of options already in
// place in datagram[20, header_len); repr.payload_len counts what follows the
// options. datagram.size() is the whole datagram.
void emit_header(std::span<std::byte> datagram, wire::Ipv4Repr repr, std::size_t header_len) {
  repr.payload_len += header_len - kFixedHeaderLen;
  repr.emit(datagram);
  if (header_len == kFixedHeaderLen) return;
  // Ipv4Repr::emit writes an option-less header (IHL 5); widen the IHL over
  // the options and sum them into the checksum.
  wire::store_u8(datagram, 0, static_cast<std::uint8_t>(0x40 | header_len / 4));
  auto view = wire::Ipv4MutView::checked(datagram);
  if (view) view->fill_checksum();
}

// RFC 791 3.1: the options a non-first fragment carries are those with the
// copied flag. Writes them to `out`, padded with End of Option List to a
// multiple of 4, and returns their length. A malformed option ends the walk
// (nothing after it is copied): the first fragment still carries it whole.
std::size_t copied_options(std::span<const std::byte> options, std::array<std::byte, 40>& out) {
  std::size_t n = 0;
  wire::Ipv4OptionReader reader(options);
  while (auto option = reader.next()) {
    // No Operation only aligned the original layout; it is not copied.
    if (option->type == wire::Ipv4OptionType::no_operation || !wire::is_copied(option->type)) continue;
    std::copy_n(options.begin() + static_cast<std::ptrdiff_t>(option->offset), option->length,
                out.begin() + static_cast<std::ptrdiff_t>(n));
    n += option->length;
  }
  const std::size_t padded = (n + 3) & ~std::size_t{3};
  std::fill(out.begin() + static_cast<std::ptrdiff_t>(n),
            out.begin() + static_cast<std::ptrdiff_t>(padded), std::byte{0});
  return padded;
}

// A 64-bit mix (splitmix64's finaliser).
std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

// ---- Reassembler ----

std::size_t Reassembler::KeyHash::operator()(const Key& key) const {
  // Keyed with the Host's secret so a sender cannot aim fragments at one bucket.
  const std::uint64_t a = std::uint64_t{key.src.value} << 32 | key.dst.value;
  const std::uint64_t b = std::uint64_t{key.id} << 8 | key.protocol;
  return static_cast<std::size_t>(mix(mix(a ^ secret) ^ b));
}

Reassembler::Reassembler(Net& net, std::function<void(Packet)> on_timeout)
    : net_(&net),
      table_(net, KeyHash{net.host().secret()},
             inet::ReassemblyNames{.fails = Counter::IpReasmFails,
                                   .oks = Counter::IpReasmOKs,
                                   .timeout = Counter::IpReasmTimeout,
                                   .overlaps = Counter::IpExtReasmOverlaps,
                                   .high_thresh = SysctlId::ipfrag_high_thresh,
                                   .time = SysctlId::ipfrag_time},
             std::move(on_timeout)) {}

Reassembler::~Reassembler() = default;

std::optional<Packet> Reassembler::add(Packet fragment) {
  auto ip = wire::Ipv4View::checked(fragment.data());
  if (!ip) {  // the caller's precondition; count it rather than trust it
    net_->counters().add(Counter::IpReasmReqds);
    net_->counters().add(Counter::IpReasmFails);
    return std::nullopt;
  }
  return add(std::move(fragment), *ip);
}

std::optional<Packet> Reassembler::add(Packet fragment, const wire::Ipv4View& ip) {
  if (!ip.is_fragment()) return fragment;
  net_->counters().add(Counter::IpReasmReqds);

  const auto offset = static_cast<std::uint32_t>(ip.fragment_offset());
  const inet::FragmentInfo f{.offset = offset,
                             .end = offset + static_cast<std::uint32_t>(ip.payload().size()),
                             .data_at = static_cast<std::uint32_t>(ip.header_len()),
                             .more = ip.more_fragments(),
                             .ecn = static_cast<std::uint8_t>(ip.tos() & 0x03)};
  const Key key{ip.src(), ip.dst(), ip.identification(), static_cast<std::uint8_t>(ip.protocol())};
  const bool dont_fragment = ip.dont_fragment();
  fragment.trim(ip.total_length());

  // What the header alone decides, beyond the checks the table makes: a
  // datagram past 65535 (the ping of death), and a non-final fragment whose
  // length is not a multiple of 8, which RFC 791 forbids (Linux trims it).
  if (f.data_at + f.end > kMaxDatagram || (f.more && f.end % 8 != 0)) {
    table_.drop(key);
    return std::nullopt;
  }
  Table::Queue* q = table_.add(key, std::move(fragment), f);
  if (q == nullptr) return std::nullopt;
  q->extra.dont_fragment = q->extra.dont_fragment || dont_fragment;
  if (!q->complete()) return std::nullopt;
  return reassemble(*q);
}

// The first fragment's header, options included, with total_length, MF,
// offset, ECN and checksum rewritten, then the data.
std::optional<Packet> Reassembler::reassemble(Table::Queue& q) {
  auto fail = [&] {
    table_.drop(q.key);
    return std::nullopt;
  };
  const std::size_t header_len = q.first().data_at;
  auto first_ip = wire::Ipv4View::checked(q.first().packet.data());
  if (!first_ip) return fail();
  auto repr = wire::Ipv4Repr::parse(*first_ip);
  const auto ecn = q.combined_ecn();
  // The first fragment's header may be longer than those that fixed the end.
  if (!repr || !ecn || header_len + q.length() > kMaxDatagram) return fail();
  Packet whole = q.assemble(net_->host().packets(), header_len);
  if (!whole) return fail();
  auto out = whole.mutable_data();
  std::ranges::copy(first_ip->options(), out.begin() + kFixedHeaderLen);
  repr->payload_len = q.length();
  repr->more_fragments = false;
  repr->fragment_offset = 0;
  repr->dont_fragment = q.extra.dont_fragment;
  repr->tos = static_cast<std::uint8_t>(repr->tos | *ecn);
  emit_header(out, *repr, header_len);
  table_.done(q);
  return whole;
}

// ---- fragment ----

Result<void> fragment(Net& net, Packet datagram, std::uint32_t mtu,
                      const std::function<void(Packet)>& emit) {
  Counters& counters = net.counters();
  PacketPool& pool = net.host().packets();
  // The transport checksum covers the whole datagram: fill it before the
  // datagram is cut (Linux's skb_checksum_help in ip_do_fragment).
  datagram.finish_transport_checksum(0);
  auto fail = [&](Errc e) -> Result<void> {
    counters.add(Counter::IpFragFails);
    return error(e);
  };

  auto ip = wire::Ipv4View::checked(datagram.data());
  if (!ip) return fail(Errc::bad_message);
  auto repr = wire::Ipv4Repr::parse(*ip);
  if (!repr) return fail(Errc::bad_message);
  datagram.trim(ip->total_length());
  if (datagram.size() <= mtu) {
    emit(std::move(datagram));
    return {};
  }
  if (repr->dont_fragment) return fail(Errc::message_size);
  const std::size_t first_header_len = ip->header_len();
  if (mtu < first_header_len + 8) return fail(Errc::invalid_argument);

  std::array<std::byte, 40> options{};
  const std::size_t rest_header_len = kFixedHeaderLen + copied_options(ip->options(), options);
  const std::span<const std::byte> payload = ip->payload();
  // A fragment being fragmented again (forwarding onto a smaller MTU): the
  // pieces continue its offset, and the last keeps its MF.
  const std::uint32_t base = repr->fragment_offset;
  const bool more_after = repr->more_fragments;
  const std::size_t first_len = (mtu - first_header_len) & ~std::size_t{7};

  // Every later fragment is built before the first is cut from the datagram's
  // own buffer, so a failure emits nothing.
  std::vector<Packet> rest;
  rest.reserve((payload.size() - first_len) / ((mtu - rest_header_len) & ~std::size_t{7}) + 1);
  for (std::size_t at = first_len; at < payload.size();) {
    std::size_t len = std::min(payload.size() - at, mtu - rest_header_len);
    if (at + len < payload.size()) len &= ~std::size_t{7};
    Packet piece = pool.allocate(rest_header_len + len);
    if (!piece) return fail(Errc::not_enough_memory);
    auto out = piece.mutable_data();
    std::copy_n(options.begin(), rest_header_len - kFixedHeaderLen, out.begin() + kFixedHeaderLen);
    wire::Ipv4Repr r = *repr;
    r.payload_len = len;
    r.fragment_offset = static_cast<std::uint16_t>(base + at);
    r.more_fragments = at + len < payload.size() || more_after;
    emit_header(out, r, rest_header_len);
    pool.copy_bytes(out.subspan(rest_header_len), payload.subspan(at, len));
    piece.device = datagram.device;
    piece.type = datagram.type;
    piece.protocol = datagram.protocol;
    rest.push_back(std::move(piece));
    at += len;
  }

  datagram.trim(first_header_len + first_len);
  wire::Ipv4Repr r = *repr;
  r.payload_len = first_len;
  r.more_fragments = true;
  emit_header(datagram.mutable_data(), r, first_header_len);

  counters.add(Counter::IpFragCreates, 1 + rest.size());
  emit(std::move(datagram));
  for (Packet& piece : rest) emit(std::move(piece));
  counters.add(Counter::IpFragOKs);
  return {};
}

}  // namespace netns::ipv4
