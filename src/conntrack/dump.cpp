// `conntrack -L` for one namespace (libnetfilter_conntrack's default
// format, which the conntrack tool prints).
#include <fmt/format.h>

#include <chrono>

#include "conntrack/conntrack.hpp"
#include "conntrack/table.hpp"
#include "netns/host.hpp"
#include "netns/net.hpp"
#include "stack/builtins.hpp"

namespace netns::conntrack {

namespace {

void append_tuple(std::string& out, const Tuple& t) {
  fmt::format_to(std::back_inserter(out), "src={} dst={} ", t.src_address(), t.dst_address());
  if (t.protocol == kProtoTcp || t.protocol == kProtoUdp) {
    fmt::format_to(std::back_inserter(out), "sport={} dport={} ", t.sport, t.dport);
  } else if (t.is_icmp()) {
    fmt::format_to(std::back_inserter(out), "type={} code={} id={} ", t.icmp_type(), t.icmp_code(), t.sport);
  }
}

void append_entry(std::string& out, const Entry& e, Clock::time_point now) {
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(std::max(e.expires - now, Clock::duration::zero()));
  fmt::format_to(std::back_inserter(out), "{:<8} {} {} ", protocol_name(e.protocol()), e.protocol(), left.count());
  if (e.protocol() == kProtoTcp) fmt::format_to(std::back_inserter(out), "{} ", to_string(e.tcp.state));
  append_tuple(out, e.tuple(Dir::original));
  if (!e.test(kStatusSeenReply)) out += "[UNREPLIED] ";
  append_tuple(out, e.tuple(Dir::reply));
  if (e.test(kStatusAssured)) out += "[ASSURED] ";
  fmt::format_to(std::back_inserter(out), "mark={} use={}\n", e.mark, e.use);
}

}  // namespace

std::string dump(Net& net) {
  std::string out;
  ConntrackNet* s = net.host().builtins().conntrack().find(net);
  if (s == nullptr) return out;
  const Clock::time_point now = net.host().now();
  s->table().for_each([&](const Entry& e) {
    if (e.expires > now) append_entry(out, e, now);
  });
  return out;
}

}  // namespace netns::conntrack
