// IPv4 fragmentation and reassembly: Linux's ip_do_fragment (slow path) and
// ip_defrag / inet_frag_queue_insert, without the shared hash table — each
// namespace's Reassembler is its own bounded table.
#include "ipv4/fragment.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <iterator>
#include <map>
#include <utility>
#include <vector>

#include "netns/host.hpp"
#include "netns/net.hpp"
#include "netns/packet_pool.hpp"
#include "netns/sysctl.hpp"
#include "netns/timer.hpp"
#include "netns/wire/bytes.hpp"
#include "netns/wire/ipv4.hpp"

namespace netns::ipv4 {

namespace {

constexpr std::size_t kFixedHeaderLen = wire::Ipv4Repr::kHeaderLen;
constexpr std::size_t kMaxDatagram = 0xffff;

// Memory charged besides the buffers, so that queues of tiny fragments are
// not free: roughly a map node per fragment and the queue with its timer.
constexpr std::size_t kFragmentOverhead = 64;

// The bytes a held fragment keeps alive: its truesize, and its place in the queue.
std::size_t fragment_cost(const Packet& p) { return p.truesize() + kFragmentOverhead; }

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

// ECN codepoints seen among a datagram's fragments, one bit each (Linux's
// IPFRAG_ECN_*: Not-ECT 1, ECT(1) 2, ECT(0) 4, CE 8).
std::uint8_t ecn_bit(std::uint8_t tos) { return static_cast<std::uint8_t>(1u << (tos & 0x03)); }

// RFC 3168 5.3 as Linux's ip_frag_ecn_table: the ECN bits to OR into the
// reassembled TOS, or nullopt when Not-ECT mixes with ECT or CE (drop).
std::optional<std::uint8_t> combined_ecn(std::uint8_t seen) {
  constexpr std::uint8_t kNotEct = 1, kCe = 8;
  if ((seen & kNotEct) != 0 && seen != kNotEct) return std::nullopt;
  if ((seen & kCe) != 0) return std::uint8_t{0x03};
  return std::uint8_t{0};
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

struct Reassembler::Queue {
  struct Fragment {
    std::uint32_t end;          // payload offset one past this fragment's bytes
    std::uint16_t header_len;   // the payload starts there in packet.data()
    Packet packet;              // data() at the IPv4 header, trimmed to total_length
  };

  Queue(Host& host, std::function<void()> on_expiry) : timer(host, std::move(on_expiry)) {}

  std::map<std::uint32_t, Fragment> fragments;  // by payload offset; never overlapping
  std::uint32_t len = 0;    // the payload's length once last_in, else the furthest end seen
  std::uint32_t meat = 0;   // payload bytes held
  std::size_t memory = 0;   // charged to the Reassembler's memory_
  bool first_in = false;    // offset 0 is held
  bool last_in = false;     // the fragment without MF is held: len is final
  bool dont_fragment = false;
  std::uint8_t ecn = 0;     // ecn_bit() of every held fragment
  Timer timer;              // last member: cancelled before the fragments go
};

std::size_t Reassembler::KeyHash::operator()(const Key& key) const {
  // Keyed with the Host's secret so a sender cannot aim fragments at one bucket.
  const std::uint64_t a = std::uint64_t{key.src.value} << 32 | key.dst.value;
  const std::uint64_t b = std::uint64_t{key.id} << 8 | key.protocol;
  return static_cast<std::size_t>(mix(mix(a ^ secret) ^ b));
}

Reassembler::Reassembler(Net& net, std::function<void(Packet)> on_timeout)
    : net_(&net),
      host_(&net.host()),
      on_timeout_(std::move(on_timeout)),
      queues_(16, KeyHash{net.host().secret()}),
      memory_(net.resources()) {}

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
  Counters& counters = net_->counters();
  if (!ip.is_fragment()) return fragment;
  counters.add(Counter::IpReasmReqds);

  const std::uint32_t offset = ip.fragment_offset();
  const std::uint32_t end = offset + static_cast<std::uint32_t>(ip.payload().size());
  const auto header_len = static_cast<std::uint16_t>(ip.header_len());
  const bool more = ip.more_fragments();
  const Key key{ip.src(), ip.dst(), ip.identification(),
                static_cast<std::uint8_t>(ip.protocol())};
  const std::uint8_t ecn = ecn_bit(ip.tos());
  const bool dont_fragment = ip.dont_fragment();
  fragment.trim(ip.total_length());

  auto it = queues_.find(key);
  Queue* q = it == queues_.end() ? nullptr : it->second.get();
  auto fail = [&] {
    if (q != nullptr) erase(it);
    counters.add(Counter::IpReasmFails);
    return std::nullopt;
  };

  // The checks of Linux's ip_frag_queue, except that a non-final fragment
  // whose length is not a multiple of 8 is refused (RFC 791 requires it)
  // instead of trimmed.
  if (header_len + end > kMaxDatagram) return fail();  // the ping of death
  if (end == offset) return fail();
  if (!more) {
    if (q != nullptr && (end < q->len || (q->last_in && end != q->len))) return fail();
  } else {
    if (end % 8 != 0) return fail();
    if (q != nullptr && q->last_in && end > q->len) return fail();
  }

  // Where the fragment goes: inet_frag_queue_insert's policy. Data already
  // held (contiguously) over the whole range is a duplicate; anything else
  // touching held data is an overlap, which could be read two ways (RFC 5722)
  // and so poisons the datagram.
  if (q != nullptr) {
    auto& frags = q->fragments;
    auto at = frags.upper_bound(offset);
    if (at != frags.begin() && std::prev(at)->second.end > offset) --at;
    if (at != frags.end() && at->first < end) {
      std::uint32_t covered = offset;
      for (; at != frags.end() && at->first <= covered && covered < end; ++at) {
        covered = std::max(covered, at->second.end);
      }
      if (covered >= end) return std::nullopt;  // duplicate: dropped alone, uncounted as Linux
      counters.add(Counter::IpExtReasmOverlaps);
      return fail();
    }
  }

  // Bounds: the namespace's fragment memory, the number of datagrams, and
  // the namespace's packet memory.
  const std::size_t cost = fragment_cost(fragment) + (q == nullptr ? sizeof(Queue) : 0);
  const auto high_thresh = static_cast<std::size_t>(
      std::max<std::int32_t>(0, net_->sysctl().value(SysctlId::ipfrag_high_thresh)));
  if (memory_ + cost > high_thresh || (q == nullptr && queues_.size() >= kMaxQueues)) {
    counters.add(Counter::IpReasmFails);
    return std::nullopt;
  }
  if (!memory_.account().admits(cost)) {
    counters.add(Counter::IpExtPacketMemDrops);
    counters.add(Counter::IpReasmFails);
    return std::nullopt;
  }

  if (q == nullptr) {
    auto queue = std::make_unique<Queue>(*host_, [this, key] { expire(key); });
    queue->timer.schedule(host_->now() +
                          std::chrono::seconds(net_->sysctl().value(SysctlId::ipfrag_time)));
    it = queues_.emplace(key, std::move(queue)).first;
    q = it->second.get();
  }
  q->fragments.emplace(offset, Queue::Fragment{end, header_len, std::move(fragment)});
  q->meat += end - offset;
  q->memory += cost;
  memory_ += cost;
  q->ecn |= ecn;
  q->dont_fragment = q->dont_fragment || dont_fragment;
  if (offset == 0) q->first_in = true;
  if (!more) {
    q->last_in = true;
    q->len = end;
  } else {
    q->len = std::max(q->len, end);
  }

  if (q->first_in && q->last_in && q->meat == q->len) return reassemble(it);
  return std::nullopt;
}

std::optional<Packet> Reassembler::reassemble(QueueMap::iterator it) {
  Counters& counters = net_->counters();
  Queue& q = *it->second;
  auto fail = [&] {
    erase(it);
    counters.add(Counter::IpReasmFails);
    return std::nullopt;
  };

  const Queue::Fragment& first = q.fragments.begin()->second;
  auto first_ip = wire::Ipv4View::checked(first.packet.data());
  if (!first_ip) return fail();
  auto repr = wire::Ipv4Repr::parse(*first_ip);
  const auto ecn = combined_ecn(q.ecn);
  const std::size_t header_len = first.header_len;
  // The first fragment's header may be longer than those that fixed the end.
  if (!repr || !ecn || header_len + q.len > kMaxDatagram) return fail();

  Packet whole = host_->packets().allocate(header_len + q.len);
  if (!whole) return fail();
  auto out = whole.mutable_data();
  std::ranges::copy(first_ip->options(), out.begin() + kFixedHeaderLen);
  repr->payload_len = q.len;
  repr->more_fragments = false;
  repr->fragment_offset = 0;
  repr->dont_fragment = q.dont_fragment;
  repr->tos = static_cast<std::uint8_t>(repr->tos | *ecn);
  emit_header(out, *repr, header_len);
  std::size_t max_size = 0;
  for (const auto& [offset, frag] : q.fragments) {
    host_->packets().copy_bytes(out.subspan(header_len + offset, frag.end - offset),
                                frag.packet.data().subspan(frag.header_len, frag.end - offset));
    max_size = std::max(max_size, frag.packet.size());
  }
  whole.set_frag_max_size(static_cast<std::uint16_t>(max_size));
  whole.device = first.packet.device;
  whole.type = first.packet.type;
  whole.protocol = first.packet.protocol;

  erase(it);
  counters.add(Counter::IpReasmOKs);
  return whole;
}

void Reassembler::erase(QueueMap::iterator it) {
  memory_ -= it->second->memory;
  queues_.erase(it);
}

// Linux's ip_expire. `key` is a copy: the lambda holding the original is
// destroyed with the queue.
void Reassembler::expire(Key key) {
  auto it = queues_.find(key);
  if (it == queues_.end()) return;
  Counters& counters = net_->counters();
  counters.add(Counter::IpReasmFails);
  counters.add(Counter::IpReasmTimeout);
  Packet first;
  if (it->second->first_in) first = std::move(it->second->fragments.begin()->second.packet);
  erase(it);  // destroys the timer running this call; timer.cpp allows that
  if (first && on_timeout_) on_timeout_(std::move(first));
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
