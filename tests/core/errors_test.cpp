// Errors compare as a real Asio socket's do (netns/result.hpp): every error a
// socket or control call returns is errno's value in the system category, so
// it equals the boost::asio::error:: constant of its name where Asio has one,
// the error_code Asio makes from that errno where it has none, the
// boost::system::errc:: condition, std::errc once converted to
// std::error_code, and its message() is Linux's strerror.
//
// Each row provokes its error through the public API; where the error comes
// off the wire it is real packets: an RST from a closed port, an ICMP port
// unreachable, an ICMP host unreachable from a router, SYNs nobody answers
// on the virtual clock.
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <optional>
#include <ostream>
#include <string>
#include <system_error>
#include <vector>

#include <boost/asio/error.hpp>
#include <boost/system/errc.hpp>
#include <boost/system/error_code.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "netns/bridge.hpp"
#include "netns/icmp.hpp"
#include "netns/ipv4.hpp"
#include "netns/macvlan.hpp"
#include "netns/tcp.hpp"
#include "netns/udp.hpp"
#include "netns/wire/ipv4.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace core_errors_test {

using namespace std::chrono_literals;
using boost::system::error_code;
namespace ae = boost::asio::error;

class Errors;
using Provoke = error_code (Errors::*)();

struct ErrorCase {
  const char* name;              // the test's name
  int errnum;                    // what Linux's call sets errno to
  Errc condition;                // boost::system::errc:: of that name
  std::optional<error_code> asio;  // boost::asio::error:: of that name, where Asio has one
  Provoke provoke;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

constexpr Ipv4Address kUnanswered{192, 0, 2, 3};  // on blue's link; its frames reach nobody
constexpr Ipv4Address kBeyondRed{198, 51, 100, 1};
Ipv4Prefix beyond_red_net() { return Ipv4Prefix::make(Ipv4Address(198, 51, 100, 0), 24).value(); }
constexpr std::array<std::byte, 4> kPayload{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};

// The error of a call that should have failed; none (and a test failure)
// when it succeeded.
template <class T>
error_code failure(const Result<T>& r) {
  if (r) {
    ADD_FAILURE() << "the call succeeded";
    return {};
  }
  return r.error();
}

class Errors : public support::AddressedTwoNets, public ::testing::WithParamInterface<ErrorCase> {
 public:
  // ---- sockets ----

  error_code udp_receive_would_block() {
    auto sock = udp::open(*red_).value();
    std::array<std::byte, 16> buf{};
    return failure(sock.receive_from(buf));
  }

  error_code tcp_accept_would_block() {
    auto listener = tcp::listen(*red_, {Ipv4Address::any(), 80}).value();
    return failure(listener.accept());
  }

  // The user's report in issue 12: red answers the SYN with an RST.
  error_code tcp_connect_refused_by_rst() {
    auto client = tcp::connect(*blue_, {kRed, 81}).value();
    poll();
    EXPECT_EQ(red_->counters().get("TcpOutRsts"), 1u);
    std::array<std::byte, 16> buf{};
    return failure(client.read(buf));
  }

  // Red answers the datagram with an ICMP port unreachable.
  error_code udp_refused_by_icmp_port_unreachable() {
    auto sock = udp::open(*blue_).value();
    EXPECT_TRUE(sock.connect({kRed, 9}));
    EXPECT_TRUE(sock.send(kPayload));
    poll();
    EXPECT_EQ(red_->counters().get("UdpNoPorts"), 1u);
    std::array<std::byte, 16> buf{};
    return failure(sock.receive_from(buf));
  }

  // Red aborts an established connection: an RST on the wire.
  error_code tcp_reset_by_peer() {
    auto [client, server] = connected_pair();
    server.abort();
    poll();
    std::array<std::byte, 16> buf{};
    return failure(client.read(buf));
  }

  // SYNs to a neighbour whose frames reach nobody, on the virtual clock.
  error_code tcp_connect_timed_out() {
    EXPECT_TRUE(blue_->sysctl().set("net.ipv4.tcp_syn_retries", "1"));
    EXPECT_TRUE(ipv4::add_neighbour(*blue_, *blue_eth0_, kUnanswered, MacAddress{0x02, 0, 0, 0, 0, 0x99}));
    auto client = tcp::connect(*blue_, {kUnanswered, 80}).value();
    run_for(10s);  // the SYN, one retransmission at 1 s, given up at 3 s
    EXPECT_EQ(client.state(), tcp::State::closed);
    std::array<std::byte, 16> buf{};
    return failure(client.read(buf));
  }

  error_code udp_bind_address_in_use() {
    auto a = udp::open(*red_).value();
    auto b = udp::open(*red_).value();
    EXPECT_TRUE(a.bind({Ipv4Address::any(), 53}));
    return failure(b.bind({Ipv4Address::any(), 53}));
  }

  error_code udp_send_network_unreachable() {
    auto sock = udp::open(*blue_).value();
    return failure(sock.send_to(kPayload, {Ipv4Address(203, 0, 113, 1), 9}));
  }

  // Red routes 198.51.100.0/24 to "unreachable" and says so in ICMP. A ping
  // socket hears it (as with IP_RECVERR); a connected UDP socket would not,
  // host unreachable being a soft error in Linux's icmp_err_convert.
  error_code ping_host_unreachable_by_icmp_from_router() {
    EXPECT_TRUE(ipv4::add_route(*blue_, {.prefix = beyond_red_net(), .via = kRed}));
    EXPECT_TRUE(red_->sysctl().set("net.ipv4.ip_forward", "1"));
    EXPECT_TRUE(ipv4::add_route(*red_, {.prefix = beyond_red_net(), .type = ipv4::RouteType::unreachable}));
    auto ping = icmp::open(*blue_).value();
    EXPECT_TRUE(ping.send_echo(kBeyondRed, 1));
    poll();
    EXPECT_EQ(blue_->counters().get("IcmpInDestUnreachs"), 1u);
    return failure(ping.receive());
  }

  error_code udp_send_on_prohibit_route() {
    EXPECT_TRUE(ipv4::add_route(*blue_, {.prefix = beyond_red_net(), .type = ipv4::RouteType::prohibit}));
    auto sock = udp::open(*blue_).value();
    return failure(sock.send_to(kPayload, {kBeyondRed, 9}));
  }

  // The refusal itself is reported once; then the socket was never connected.
  error_code tcp_write_not_connected() {
    auto client = tcp::connect(*blue_, {kRed, 81}).value();
    poll();
    std::array<std::byte, 16> buf{};
    EXPECT_EQ(failure(client.read(buf)), ae::connection_refused);
    return failure(client.write(kPayload));
  }

  error_code tcp_write_after_shutdown() {
    auto [client, server] = connected_pair();
    EXPECT_TRUE(client.shutdown());
    return failure(client.write(kPayload));
  }

  error_code udp_send_message_size() {
    auto sock = udp::open(*blue_).value();
    std::vector<std::byte> big(65'508);  // one more than fits a datagram
    return failure(sock.send_to(big, {kRed, 9}));
  }

  error_code udp_open_too_many_files_open() {
    EXPECT_TRUE(blue_->sysctl().set("net.core.sockets_max", "0"));
    return failure(udp::open(*blue_));
  }

  error_code udp_bind_moved_from_socket() {
    auto sock = udp::open(*blue_).value();
    udp::Socket taken = std::move(sock);
    return failure(sock.bind({Ipv4Address::any(), 53}));  // NOLINT(bugprone-use-after-move): the point
  }

  error_code udp_bind_twice() {
    auto sock = udp::open(*blue_).value();
    EXPECT_TRUE(sock.bind({Ipv4Address::any(), 53}));
    return failure(sock.bind({Ipv4Address::any(), 54}));
  }

  error_code udp_bind_foreign_address() {
    auto sock = udp::open(*blue_).value();
    return failure(sock.bind({kRed, 53}));
  }

  error_code udp_send_unconnected() {
    auto sock = udp::open(*blue_).value();
    return failure(sock.send(kPayload));
  }

  // ---- the control plane ----

  error_code create_net_name_taken() { return failure(host_.create_net("blue")); }

  error_code add_address_on_another_namespaces_device() {
    return failure(ipv4::add_address(*blue_, *red_eth0_, Ipv4Prefix::parse("192.0.2.9/24").value()));
  }

  error_code set_master_of_an_enslaved_port() {
    Device* br0 = make_bridge(*red_, "br0").value();
    Device* br1 = make_bridge(*red_, "br1").value();
    EXPECT_TRUE(set_master(*red_eth0_, *br0));
    return failure(set_master(*red_eth0_, *br1));
  }

  error_code sysctl_unknown_name() { return failure(blue_->sysctl().get("net.ipv4.no_such_knob")); }

  error_code del_route_absent() { return failure(ipv4::del_route(*blue_, {.prefix = beyond_red_net()})); }

  error_code add_route_on_a_down_device() {
    EXPECT_TRUE(set_link_up(*blue_eth0_, false));
    return failure(ipv4::add_route(*blue_, {.prefix = beyond_red_net(), .dev = blue_eth0_}));
  }

  error_code bridge_as_port_of_a_bridge() {
    Device* br0 = make_bridge(*red_, "br0").value();
    Device* br1 = make_bridge(*red_, "br1").value();
    return failure(set_master(*br1, *br0));
  }

  // eth0 in br0 <- mv0 <- br1 <- mv1 <- br2 <- mv2 <- br3: Linux's
  // MAX_NEST_DEV of 8 devices; a macvlan on top would be the ninth.
  error_code stack_nine_devices_high() {
    Device* top = red_eth0_;
    for (int i = 0; i < 4; ++i) {
      Device* br = make_bridge(*red_, fmt::format("br{}", i)).value();
      EXPECT_TRUE(set_master(*top, *br));
      top = br;
      if (i < 3) top = make_macvlan(*br, *red_, fmt::format("mv{}", i)).value();
    }
    return failure(make_macvlan(*top, *red_, "mv3"));
  }

  // dev_change_net_namespace: a NETIF_F_NETNS_LOCAL device stays.
  error_code move_the_loopback() { return failure(host_.move_device(red_->loopback(), *blue_)); }

  error_code destroy_the_loopback() { return failure(destroy_device(red_->loopback())); }

  error_code macvlan_passthru_mode() { return failure(parse_macvlan_mode("passthru")); }

  error_code prefix_length_33() { return failure(Ipv4Prefix::make(kBlue, 33)); }

  error_code bridge_static_fdb_full() {
    Device* br0 = make_bridge(*red_, "br0").value();
    EXPECT_TRUE(set_master(*red_eth0_, *br0));
    for (std::size_t i = 0; i < kBridgeMaxStaticEntries; ++i) {
      const MacAddress mac{0x02, 0, 0, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8),
                           static_cast<std::uint8_t>(i)};
      if (!fdb_add_static(*red_eth0_, mac)) {
        ADD_FAILURE() << "static entry " << i << " refused";
        break;
      }
    }
    return failure(fdb_add_static(*red_eth0_, MacAddress{0x02, 0, 1, 0, 0, 0}));
  }

  error_code ipv4_header_cut_short() {
    const std::array<std::byte, 12> bytes{std::byte{0x45}};
    return failure(wire::Ipv4View::checked(bytes));
  }

  error_code ipv4_header_of_version_6() {
    std::array<std::byte, 20> bytes{std::byte{0x65}};
    bytes[3] = std::byte{20};  // total_length 20
    return failure(wire::Ipv4View::checked(bytes));
  }

 private:
  struct Pair {
    tcp::Stream client, server;
  };
  Pair connected_pair() {
    auto listener = tcp::listen(*red_, {Ipv4Address::any(), 80}).value();
    auto client = tcp::connect(*blue_, {kRed, 80}).value();
    poll();
    return {std::move(client), listener.accept().value()};
  }
};

const ErrorCase kCases[] = {
    // sockets
    {"UdpReceiveWouldBlock", EWOULDBLOCK, Errc::operation_would_block, ae::would_block,
     &Errors::udp_receive_would_block},
    {"TcpAcceptWouldBlock", EWOULDBLOCK, Errc::operation_would_block, ae::would_block,
     &Errors::tcp_accept_would_block},
    {"TcpConnectRefusedByRst", ECONNREFUSED, Errc::connection_refused, ae::connection_refused,
     &Errors::tcp_connect_refused_by_rst},
    {"UdpRefusedByIcmpPortUnreachable", ECONNREFUSED, Errc::connection_refused, ae::connection_refused,
     &Errors::udp_refused_by_icmp_port_unreachable},
    {"TcpResetByPeer", ECONNRESET, Errc::connection_reset, ae::connection_reset, &Errors::tcp_reset_by_peer},
    {"TcpConnectTimedOut", ETIMEDOUT, Errc::timed_out, ae::timed_out, &Errors::tcp_connect_timed_out},
    {"UdpBindAddressInUse", EADDRINUSE, Errc::address_in_use, ae::address_in_use,
     &Errors::udp_bind_address_in_use},
    {"UdpSendNetworkUnreachable", ENETUNREACH, Errc::network_unreachable, ae::network_unreachable,
     &Errors::udp_send_network_unreachable},
    {"PingHostUnreachableByIcmpFromRouter", EHOSTUNREACH, Errc::host_unreachable, ae::host_unreachable,
     &Errors::ping_host_unreachable_by_icmp_from_router},
    {"UdpSendOnProhibitRoute", EACCES, Errc::permission_denied, ae::access_denied,
     &Errors::udp_send_on_prohibit_route},
    {"TcpWriteNotConnected", ENOTCONN, Errc::not_connected, ae::not_connected, &Errors::tcp_write_not_connected},
    {"TcpWriteAfterShutdown", EPIPE, Errc::broken_pipe, ae::broken_pipe, &Errors::tcp_write_after_shutdown},
    {"UdpSendMessageSize", EMSGSIZE, Errc::message_size, ae::message_size, &Errors::udp_send_message_size},
    {"UdpOpenTooManyFilesOpen", EMFILE, Errc::too_many_files_open, ae::no_descriptors,
     &Errors::udp_open_too_many_files_open},
    {"UdpBindMovedFromSocket", EBADF, Errc::bad_file_descriptor, ae::bad_descriptor,
     &Errors::udp_bind_moved_from_socket},
    {"UdpBindTwice", EINVAL, Errc::invalid_argument, ae::invalid_argument, &Errors::udp_bind_twice},
    {"UdpBindForeignAddress", EADDRNOTAVAIL, Errc::address_not_available, std::nullopt,
     &Errors::udp_bind_foreign_address},
    {"UdpSendUnconnected", EDESTADDRREQ, Errc::destination_address_required, std::nullopt,
     &Errors::udp_send_unconnected},
    // the control plane
    {"CreateNetNameTaken", EEXIST, Errc::file_exists, std::nullopt, &Errors::create_net_name_taken},
    {"AddAddressOnAnotherNamespacesDevice", ENODEV, Errc::no_such_device, ae::no_such_device,
     &Errors::add_address_on_another_namespaces_device},
    {"SetMasterOfAnEnslavedPort", EBUSY, Errc::device_or_resource_busy, std::nullopt,
     &Errors::set_master_of_an_enslaved_port},
    {"SysctlUnknownName", ENOENT, Errc::no_such_file_or_directory, std::nullopt, &Errors::sysctl_unknown_name},
    {"DelRouteAbsent", ESRCH, Errc::no_such_process, std::nullopt, &Errors::del_route_absent},
    {"AddRouteOnADownDevice", ENETDOWN, Errc::network_down, ae::network_down, &Errors::add_route_on_a_down_device},
    {"BridgeAsPortOfABridge", ELOOP, Errc::too_many_symbolic_link_levels, std::nullopt,
     &Errors::bridge_as_port_of_a_bridge},
    {"StackNineDevicesHigh", EMLINK, Errc::too_many_links, std::nullopt, &Errors::stack_nine_devices_high},
    {"MoveTheLoopback", EINVAL, Errc::invalid_argument, ae::invalid_argument, &Errors::move_the_loopback},
    {"DestroyTheLoopback", EPERM, Errc::operation_not_permitted, ae::no_permission, &Errors::destroy_the_loopback},
    {"MacvlanPassthruMode", EOPNOTSUPP, Errc::operation_not_supported, ae::operation_not_supported,
     &Errors::macvlan_passthru_mode},
    {"PrefixLength33", EINVAL, Errc::invalid_argument, ae::invalid_argument, &Errors::prefix_length_33},
    {"BridgeStaticFdbFull", ENOBUFS, Errc::no_buffer_space, ae::no_buffer_space, &Errors::bridge_static_fdb_full},
    {"Ipv4HeaderCutShort", EMSGSIZE, Errc::message_size, ae::message_size, &Errors::ipv4_header_cut_short},
    {"Ipv4HeaderOfVersion6", EBADMSG, Errc::bad_message, std::nullopt, &Errors::ipv4_header_of_version_6},
};

TEST_P(Errors, ComparesAsAsioAndErrcAndReadsAsStrerror) {
  const ErrorCase& c = GetParam();
  const error_code ec = (this->*c.provoke)();
  ASSERT_TRUE(ec.failed());
  EXPECT_EQ(ec.value(), c.errnum) << ec.message();
  // What a real Asio socket returns for this errno on Linux.
  EXPECT_EQ(ec, error_code(c.errnum, boost::system::system_category()));
  if (c.asio) {
    EXPECT_EQ(ec, *c.asio);
  }
  EXPECT_EQ(ec, c.condition);
  EXPECT_TRUE(ec == boost::system::errc::make_error_condition(c.condition));
  EXPECT_EQ(static_cast<std::error_code>(ec), static_cast<std::errc>(c.errnum));
  EXPECT_EQ(ec.message(), std::strerror(c.errnum));
}

INSTANTIATE_TEST_SUITE_P(EveryFamily, Errors, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<ErrorCase>& info) { return std::string(info.param.name); });

// The two ways an error is made agree, and a failure that did not say why is EIO.
TEST(ErrorHelpers, ErrnoAndErrcMakeTheSameCode) {
  EXPECT_EQ(error(Errc::connection_refused), errno_error(ECONNREFUSED));
  EXPECT_EQ(errno_error(ECONNREFUSED), ae::connection_refused);
  EXPECT_EQ(errno_error(0), error(Errc::io_error));
  EXPECT_EQ(errno_error(0).message(), std::strerror(EIO));
}

}  // namespace core_errors_test
}  // namespace
}  // namespace netns
