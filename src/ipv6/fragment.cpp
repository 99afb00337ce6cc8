// IPv6 fragmentation and reassembly: Linux's ip6_fragment (slow path),
// ipv6_frag_rcv / ip6_frag_queue / ip6_frag_reasm and inet_frag_queue_insert,
// without the shared hash table — each namespace's Reassembler is its own
// bounded table.
#include "ipv6/fragment.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
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
#include "netns/wire/checksum.hpp"

namespace netns::ipv6 {

namespace {

constexpr std::size_t kFixed = wire::Ipv6Repr::kHeaderLen;
constexpr std::size_t kFragHeader = wire::Ipv6FragmentRepr::kLen;
constexpr std::size_t kPayloadLengthField = 4;
constexpr std::size_t kMaxPayload = 0xffff;
constexpr auto kFragmentNext = static_cast<std::uint8_t>(wire::IpProtocol::ipv6_fragment);

// Memory charged besides the buffers, so that queues of tiny fragments are
// not free: roughly a map node per fragment.
constexpr std::size_t kFragmentOverhead = 64;

std::size_t fragment_cost(const Packet& p) { return p.truesize() + kFragmentOverhead; }

// Linux's IPFRAG_ECN_* bits (Not-ECT 1, ECT(1) 2, ECT(0) 4, CE 8) and
// ip_frag_ecn_table (RFC 3168 5.3): the ECN bits to OR into the reassembled
// traffic class, or nullopt when Not-ECT mixes with ECT or CE.
std::uint8_t ecn_bit(std::uint8_t traffic_class) { return static_cast<std::uint8_t>(1u << (traffic_class & 0x03)); }
std::optional<std::uint8_t> combined_ecn(std::uint8_t seen) {
  constexpr std::uint8_t kNotEct = 1, kCe = 8;
  if ((seen & kNotEct) != 0 && seen != kNotEct) return std::nullopt;
  if ((seen & kCe) != 0) return std::uint8_t{0x03};
  return std::uint8_t{0};
}

// The traffic class's two low bits sit in the high nibble of byte 1.
void or_ecn(std::span<std::byte> datagram, std::uint8_t ecn) {
  wire::store_u8(datagram, 1, static_cast<std::uint8_t>(wire::load_u8(datagram, 1) | ecn << 4));
}

}  // namespace

// ---- Reassembler ----

struct Reassembler::Queue {
  struct Fragment {
    std::uint32_t end;        // offset one past this fragment's data
    std::uint32_t data_at;    // the data starts there in packet.data()
    Packet packet;            // data() at the IPv6 header
  };

  Queue(Host& host, std::function<void()> on_expiry) : timer(host, std::move(on_expiry)) {}

  std::map<std::uint32_t, Fragment> fragments;  // by offset; never overlapping
  std::uint32_t len = 0;        // the data's length once last_in, else the furthest end seen
  std::uint32_t meat = 0;       // data bytes held
  std::size_t memory = 0;       // charged to the Reassembler's memory_
  bool first_in = false;        // offset 0 is held
  bool last_in = false;         // the fragment without M is held: len is final
  std::uint8_t ecn = 0;         // ecn_bit() of every held fragment
  // From the first fragment (Linux's fq->nhoffset): where its fragment
  // header sits, the field that named it, and what it named.
  std::uint32_t unfragmentable = 0;
  std::uint32_t nhoff = 0;
  std::uint8_t next_header = 0;
  Timer timer;                  // last member: cancelled before the fragments go
};

std::size_t Reassembler::KeyHash::operator()(const Key& k) const {
  // Keyed with the Host's secret so a sender cannot aim fragments at one bucket.
  const std::uint64_t a = siphash13_words(key, k.src.high(), k.src.low());
  const std::uint64_t b = siphash13_words(key, k.dst.high() ^ a, k.dst.low());
  return static_cast<std::size_t>(
      siphash13_words(key, b, std::uint64_t{k.id} << 32 | static_cast<std::uint32_t>(k.iif)));
}

Reassembler::Reassembler(Net& net, std::function<void(Packet)> on_timeout)
    : net_(&net),
      host_(&net.host()),
      on_timeout_(std::move(on_timeout)),
      queues_(16, KeyHash{SipKey::derive(net.host().secret(), 0x6970362d72656173)}),  // "ip6-reas"
      memory_(net.resources()) {}

Reassembler::~Reassembler() = default;

std::optional<Reassembler::Reassembled> Reassembler::add(Packet fragment, const wire::Ipv6View& ip,
                                                         const wire::Ipv6ExtResult& walk, int iif) {
  Counters& counters = net_->counters();
  if (walk.verdict != wire::Ipv6ExtVerdict::fragment || !walk.fragment) return std::nullopt;
  const wire::Ipv6FragmentRepr& header = *walk.fragment;
  const std::size_t data_at = walk.offset + kFragHeader;
  const std::size_t size = ip.bytes().size();
  const auto offset = static_cast<std::uint32_t>(header.offset);
  const auto end = static_cast<std::uint32_t>(offset + (size - data_at));
  const Ipv6Address dst = ip.dst();
  // A link-scoped destination is only unique on its link.
  const Key key{ip.src().with_scope(0), dst.with_scope(0), header.identification,
                dst.is_link_local() || dst.is_multicast() ? iif : 0};
  const std::uint8_t ecn = ecn_bit(ip.traffic_class());
  fragment.trim(size);

  auto it = queues_.find(key);
  Queue* q = it == queues_.end() ? nullptr : it->second.get();
  auto fail = [&] {
    if (q != nullptr) erase(it);
    counters.add(Counter::Ip6ReasmFails);
    return std::nullopt;
  };

  // ip6_frag_queue's checks against what is held (the walk made the ones
  // this fragment alone decides).
  if (!header.more) {
    if (q != nullptr && (end < q->len || (q->last_in && end != q->len))) return fail();
  } else if (q != nullptr && q->last_in && end > q->len) {
    return fail();
  }
  // ip6_frag_queue: a fragment that carries no data (offset == end, last
  // or not) discards the whole queue it names, counted once.
  if (end == offset) return fail();

  // inet_frag_queue_insert: data already held over the whole range is a
  // duplicate; anything else touching held data is an overlap (RFC 5722).
  if (q != nullptr) {
    auto& frags = q->fragments;
    auto at = frags.upper_bound(offset);
    if (at != frags.begin() && std::prev(at)->second.end > offset) --at;
    if (at != frags.end() && at->first < end) {
      std::uint32_t covered = offset;
      for (; at != frags.end() && at->first <= covered && covered < end; ++at) {
        covered = std::max(covered, at->second.end);
      }
      if (covered >= end) return std::nullopt;  // a duplicate: dropped alone, uncounted as Linux
      return fail();
    }
  }

  // Bounds: the namespace's fragment memory, the number of datagrams, and
  // the namespace's packet memory.
  const std::size_t cost = fragment_cost(fragment) + (q == nullptr ? sizeof(Queue) : 0);
  const auto high_thresh = static_cast<std::size_t>(
      std::max<std::int32_t>(0, net_->sysctl().value(SysctlId::ip6frag_high_thresh)));
  if (memory_ + cost > high_thresh || (q == nullptr && queues_.size() >= kMaxQueues)) {
    counters.add(Counter::Ip6ReasmFails);
    return std::nullopt;
  }
  if (!memory_.account().admits(cost)) {
    counters.add(Counter::IpExtPacketMemDrops);
    counters.add(Counter::Ip6ReasmFails);
    return std::nullopt;
  }

  if (q == nullptr) {
    auto queue = std::make_unique<Queue>(*host_, [this, key] { expire(key); });
    queue->timer.schedule(host_->now() + std::chrono::seconds(net_->sysctl().value(SysctlId::ip6frag_time)));
    it = queues_.emplace(key, std::move(queue)).first;
    q = it->second.get();
  }
  if (offset == 0) {
    q->first_in = true;
    q->unfragmentable = static_cast<std::uint32_t>(walk.offset);
    q->nhoff = static_cast<std::uint32_t>(walk.nhoff);
    q->next_header = header.next_header;
  }
  q->fragments.emplace(offset, Queue::Fragment{end, static_cast<std::uint32_t>(data_at), std::move(fragment)});
  q->meat += end - offset;
  q->memory += cost;
  memory_ += cost;
  q->ecn |= ecn;
  if (!header.more) {
    q->last_in = true;
    q->len = end;
  } else {
    q->len = std::max(q->len, end);
  }

  if (q->first_in && q->last_in && q->meat == q->len) return reassemble(it);
  return std::nullopt;
}

// ip6_frag_reasm: the first fragment's unfragmentable part, the fragment
// header gone, the data of every fragment after it.
std::optional<Reassembler::Reassembled> Reassembler::reassemble(QueueMap::iterator it) {
  Counters& counters = net_->counters();
  Queue& q = *it->second;
  auto fail = [&] {
    erase(it);
    counters.add(Counter::Ip6ReasmFails);
    return std::nullopt;
  };
  const std::size_t unfragmentable = q.unfragmentable;
  const std::size_t payload = unfragmentable - kFixed + q.len;
  const auto ecn = combined_ecn(q.ecn);
  if (payload > kMaxPayload || !ecn) return fail();

  Packet whole = host_->packets().allocate(unfragmentable + q.len);
  if (!whole) return fail();
  auto out = whole.mutable_data();
  const Queue::Fragment& first = q.fragments.begin()->second;
  std::copy_n(first.packet.data().begin(), unfragmentable, out.begin());
  wire::store_u8(out, q.nhoff, q.next_header);
  wire::store_be16(out, kPayloadLengthField, static_cast<std::uint16_t>(payload));
  or_ecn(out, *ecn);
  std::size_t max_size = 0;
  for (const auto& [offset, frag] : q.fragments) {
    host_->packets().copy_bytes(out.subspan(unfragmentable + offset, frag.end - offset),
                                frag.packet.data().subspan(frag.data_at, frag.end - offset));
    max_size = std::max(max_size, frag.packet.size());
  }
  whole.set_frag_max_size(static_cast<std::uint16_t>(max_size));
  whole.device = first.packet.device;
  whole.type = first.packet.type;
  whole.protocol = first.packet.protocol;
  const wire::Ipv6ExtPosition resume{unfragmentable, q.nhoff};

  erase(it);
  counters.add(Counter::Ip6ReasmOKs);
  return Reassembled{std::move(whole), resume};
}

void Reassembler::erase(QueueMap::iterator it) {
  memory_ -= it->second->memory;
  queues_.erase(it);
}

// ip6_frag_expire. `key` is a copy: the lambda holding the original is
// destroyed with the queue.
void Reassembler::expire(Key key) {
  auto it = queues_.find(key);
  if (it == queues_.end()) return;
  Counters& counters = net_->counters();
  counters.add(Counter::Ip6ReasmFails);
  counters.add(Counter::Ip6ReasmTimeout);
  Packet first;
  if (it->second->first_in) first = std::move(it->second->fragments.begin()->second.packet);
  erase(it);  // destroys the timer running this call; timer.cpp allows that
  if (first && on_timeout_) on_timeout_(std::move(first));
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
