// NDP messages and options (RFC 4861 4, 4.6), and their receive checks.
#include "netns/wire/ndp.hpp"

#include <algorithm>

#include "netns/wire/checksum.hpp"

namespace netns::wire {

namespace {

constexpr std::uint8_t kIcmpv6 = 58;

void store_link_option(std::span<std::byte> at, NdpOptionType type, const MacAddress& mac) {
  store_u8(at, 0, static_cast<std::uint8_t>(type));
  store_u8(at, 1, 1);
  store_mac(at, 2, mac);
}

void store_header(std::span<std::byte> message, NdpType type) {
  store_u8(message, 0, static_cast<std::uint8_t>(type));
  store_u8(message, 1, 0);
  store_be16(message, 2, 0);
}

// The checks every NDP message shares: hop limit, code, type, length.
Result<NdpView> check_common(const Ipv6View& ip, std::span<const std::byte> message, NdpType type) {
  auto view = NdpView::checked(message);
  if (!view) return view.error();
  if (view->type() != type || ip.hop_limit() != kNdpHopLimit || view->code() != 0) return error(Errc::bad_message);
  return view;
}

}  // namespace

bool icmpv6_checksum_ok(const Ipv6Address& src, const Ipv6Address& dst, std::span<const std::byte> message) {
  return ipv6_transport_checksum(src, dst, kIcmpv6, message) == 0;
}

void fill_icmpv6_checksum(std::span<std::byte> message, const Ipv6Address& src, const Ipv6Address& dst) {
  store_be16(message, 2, 0);
  store_be16(message, 2, ipv6_transport_checksum(src, dst, kIcmpv6, message));
}

Result<NdpOptions> NdpOptions::parse(std::span<const std::byte> options) {
  NdpOptions out;
  std::size_t at = 0;
  while (at < options.size()) {
    if (options.size() - at < 2) return error(Errc::bad_message);
    const std::size_t len = std::size_t{load_u8(options, at + 1)} * 8;
    if (len == 0 || len > options.size() - at) return error(Errc::bad_message);
    const auto opt = options.subspan(at, len);
    switch (NdpOptionType{load_u8(opt, 0)}) {
      case NdpOptionType::source_link_address:
      case NdpOptionType::target_link_address: {
        if (len != 8) return error(Errc::bad_message);
        auto& slot = load_u8(opt, 0) == 1 ? out.source_link : out.target_link;
        if (!slot) slot = load_mac(opt, 2);
        break;
      }
      case NdpOptionType::prefix_information:
        if (len >= 32 && out.prefixes.size() < kMaxPrefixes) {
          const std::uint8_t flags = load_u8(opt, 3);
          out.prefixes.push_back({.prefix = Ipv6Prefix{load_ipv6(opt, 16), std::min<std::uint8_t>(load_u8(opt, 2), 128)},
                                  .on_link = (flags & 0x80) != 0,
                                  .autonomous = (flags & 0x40) != 0,
                                  .valid_lifetime = load_be32(opt, 4),
                                  .preferred_lifetime = load_be32(opt, 8)});
        }
        break;
      case NdpOptionType::redirected_header:
        if (out.redirected_header.empty()) out.redirected_header = opt.subspan(8);
        break;
      case NdpOptionType::mtu:
        if (!out.mtu) out.mtu = load_be32(opt, 4);
        break;
      case NdpOptionType::nonce:
        // RFC 7527 allows longer nonces; Linux sends and compares six bytes.
        if (!out.nonce && len == 8) {
          NdpNonce n;
          for (std::size_t i = 0; i < n.size(); ++i) n[i] = load_u8(opt, 2 + i);
          out.nonce = n;
        }
        break;
      default:
        break;  // RFC 4861 4.6: unknown options are skipped
    }
    at += len;
  }
  return out;
}

Result<NdpView> NdpView::checked(std::span<const std::byte> message) {
  if (message.size() < 4) return error(Errc::message_size);
  const std::uint8_t type = load_u8(message, 0);
  if (type < 133 || type > 137) return error(Errc::bad_message);
  if (message.size() < fixed_len(NdpType{type})) return error(Errc::message_size);
  return NdpView(message);
}

Result<RouterSolicitRepr> RouterSolicitRepr::parse(const NdpView& view) {
  if (view.type() != NdpType::router_solicit) return error(Errc::bad_message);
  auto opts = NdpOptions::parse(view.options());
  if (!opts) return opts.error();
  return RouterSolicitRepr{.source_link = opts->source_link};
}

void RouterSolicitRepr::emit(std::span<std::byte> message, const Ipv6Address& src, const Ipv6Address& dst) const {
  message = message.first(buffer_len());
  store_header(message, NdpType::router_solicit);
  store_be32(message, 4, 0);
  if (source_link) store_link_option(message.subspan(8), NdpOptionType::source_link_address, *source_link);
  fill_icmpv6_checksum(message, src, dst);
}

Result<RouterAdvertRepr> RouterAdvertRepr::parse(const NdpView& view) {
  if (view.type() != NdpType::router_advert) return error(Errc::bad_message);
  auto opts = NdpOptions::parse(view.options());
  if (!opts) return opts.error();
  return RouterAdvertRepr{.cur_hop_limit = view.cur_hop_limit(),
                          .managed = view.managed(),
                          .other_config = view.other_config(),
                          .router_lifetime = view.router_lifetime(),
                          .reachable_time = view.reachable_time(),
                          .retrans_timer = view.retrans_timer(),
                          .source_link = opts->source_link,
                          .mtu = opts->mtu,
                          .prefixes = std::move(opts->prefixes)};
}

void RouterAdvertRepr::emit(std::span<std::byte> message, const Ipv6Address& src, const Ipv6Address& dst) const {
  message = message.first(buffer_len());
  store_header(message, NdpType::router_advert);
  store_u8(message, 4, cur_hop_limit);
  store_u8(message, 5, static_cast<std::uint8_t>((managed ? 0x80 : 0) | (other_config ? 0x40 : 0)));
  store_be16(message, 6, router_lifetime);
  store_be32(message, 8, reachable_time);
  store_be32(message, 12, retrans_timer);
  std::size_t at = 16;
  for (const NdpPrefixInfo& p : prefixes) {
    auto opt = message.subspan(at, 32);
    store_u8(opt, 0, static_cast<std::uint8_t>(NdpOptionType::prefix_information));
    store_u8(opt, 1, 4);
    store_u8(opt, 2, p.prefix.length());
    store_u8(opt, 3, static_cast<std::uint8_t>((p.on_link ? 0x80 : 0) | (p.autonomous ? 0x40 : 0)));
    store_be32(opt, 4, p.valid_lifetime);
    store_be32(opt, 8, p.preferred_lifetime);
    store_be32(opt, 12, 0);
    store_ipv6(opt, 16, p.prefix.address());
    at += 32;
  }
  if (mtu) {
    auto opt = message.subspan(at, 8);
    store_u8(opt, 0, static_cast<std::uint8_t>(NdpOptionType::mtu));
    store_u8(opt, 1, 1);
    store_be16(opt, 2, 0);
    store_be32(opt, 4, *mtu);
    at += 8;
  }
  if (source_link) store_link_option(message.subspan(at), NdpOptionType::source_link_address, *source_link);
  fill_icmpv6_checksum(message, src, dst);
}

Result<NeighbourSolicitRepr> NeighbourSolicitRepr::parse(const NdpView& view) {
  if (view.type() != NdpType::neighbour_solicit) return error(Errc::bad_message);
  auto opts = NdpOptions::parse(view.options());
  if (!opts) return opts.error();
  return NeighbourSolicitRepr{.target = view.target(), .source_link = opts->source_link, .nonce = opts->nonce};
}

void NeighbourSolicitRepr::emit(std::span<std::byte> message, const Ipv6Address& src,
                                const Ipv6Address& dst) const {
  message = message.first(buffer_len());
  store_header(message, NdpType::neighbour_solicit);
  store_be32(message, 4, 0);
  store_ipv6(message, 8, target);
  std::size_t at = 24;
  if (source_link) {
    store_link_option(message.subspan(at), NdpOptionType::source_link_address, *source_link);
    at += 8;
  }
  if (nonce) {
    store_u8(message, at, static_cast<std::uint8_t>(NdpOptionType::nonce));
    store_u8(message, at + 1, 1);
    for (std::size_t i = 0; i < nonce->size(); ++i) store_u8(message, at + 2 + i, (*nonce)[i]);
  }
  fill_icmpv6_checksum(message, src, dst);
}

Result<NeighbourAdvertRepr> NeighbourAdvertRepr::parse(const NdpView& view) {
  if (view.type() != NdpType::neighbour_advert) return error(Errc::bad_message);
  auto opts = NdpOptions::parse(view.options());
  if (!opts) return opts.error();
  return NeighbourAdvertRepr{.target = view.target(),
                             .router = view.router_flag(),
                             .solicited = view.solicited_flag(),
                             .override = view.override_flag(),
                             .target_link = opts->target_link};
}

void NeighbourAdvertRepr::emit(std::span<std::byte> message, const Ipv6Address& src,
                               const Ipv6Address& dst) const {
  message = message.first(buffer_len());
  store_header(message, NdpType::neighbour_advert);
  store_be32(message, 4, (router ? 0x80000000u : 0) | (solicited ? 0x40000000u : 0) | (override ? 0x20000000u : 0));
  store_ipv6(message, 8, target);
  if (target_link) store_link_option(message.subspan(24), NdpOptionType::target_link_address, *target_link);
  fill_icmpv6_checksum(message, src, dst);
}

Result<RedirectRepr> RedirectRepr::parse(const NdpView& view) {
  if (view.type() != NdpType::redirect) return error(Errc::bad_message);
  auto opts = NdpOptions::parse(view.options());
  if (!opts) return opts.error();
  return RedirectRepr{.target = view.target(),
                      .destination = view.destination(),
                      .target_link = opts->target_link,
                      .redirected_header = opts->redirected_header};
}

void RedirectRepr::emit(std::span<std::byte> message, const Ipv6Address& src, const Ipv6Address& dst) const {
  message = message.first(buffer_len());
  store_header(message, NdpType::redirect);
  store_be32(message, 4, 0);
  store_ipv6(message, 8, target);
  store_ipv6(message, 24, destination);
  std::size_t at = 40;
  if (target_link) {
    store_link_option(message.subspan(at), NdpOptionType::target_link_address, *target_link);
    at += 8;
  }
  if (!redirected_header.empty()) {
    auto opt = message.subspan(at);
    std::fill(opt.begin(), opt.end(), std::byte{0});
    store_u8(opt, 0, static_cast<std::uint8_t>(NdpOptionType::redirected_header));
    store_u8(opt, 1, static_cast<std::uint8_t>(opt.size() / 8));
    std::copy(redirected_header.begin(), redirected_header.end(), opt.begin() + 8);
  }
  fill_icmpv6_checksum(message, src, dst);
}

Result<NeighbourSolicitRepr> validate_neighbour_solicit(const Ipv6View& ip, std::span<const std::byte> message) {
  auto view = check_common(ip, message, NdpType::neighbour_solicit);
  if (!view) return view.error();
  auto ns = NeighbourSolicitRepr::parse(*view);
  if (!ns) return ns.error();
  if (ns->target.is_multicast()) return error(Errc::bad_message);
  if (ip.src().is_unspecified() && (!is_solicited_node(ip.dst()) || ns->source_link)) {
    return error(Errc::bad_message);
  }
  return ns;
}

Result<NeighbourAdvertRepr> validate_neighbour_advert(const Ipv6View& ip, std::span<const std::byte> message) {
  auto view = check_common(ip, message, NdpType::neighbour_advert);
  if (!view) return view.error();
  auto na = NeighbourAdvertRepr::parse(*view);
  if (!na) return na.error();
  if (na->target.is_multicast() || (ip.dst().is_multicast() && na->solicited)) return error(Errc::bad_message);
  return na;
}

Result<RouterSolicitRepr> validate_router_solicit(const Ipv6View& ip, std::span<const std::byte> message) {
  auto view = check_common(ip, message, NdpType::router_solicit);
  if (!view) return view.error();
  auto rs = RouterSolicitRepr::parse(*view);
  if (!rs) return rs.error();
  if (ip.src().is_unspecified() && rs->source_link) return error(Errc::bad_message);
  return rs;
}

Result<RouterAdvertRepr> validate_router_advert(const Ipv6View& ip, std::span<const std::byte> message) {
  if (!ip.src().is_link_local()) return error(Errc::bad_message);
  auto view = check_common(ip, message, NdpType::router_advert);
  if (!view) return view.error();
  return RouterAdvertRepr::parse(*view);
}

Result<RedirectRepr> validate_redirect(const Ipv6View& ip, std::span<const std::byte> message) {
  if (!ip.src().is_link_local()) return error(Errc::bad_message);
  auto view = check_common(ip, message, NdpType::redirect);
  if (!view) return view.error();
  auto redirect = RedirectRepr::parse(*view);
  if (!redirect) return redirect.error();
  if (redirect->destination.is_multicast()) return error(Errc::bad_message);
  if (!redirect->target.is_link_local() && redirect->target.bytes() != redirect->destination.bytes()) {
    return error(Errc::bad_message);
  }
  return redirect;
}

}  // namespace netns::wire
