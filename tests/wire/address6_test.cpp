// Ipv6Address, Ipv6Prefix, IpAddress and Endpoint of either family: RFC 4291
// text in, RFC 5952 text out, and the values' regular behaviour.
#include "netns/wire/address.hpp"

#include <unordered_set>

#include <gtest/gtest.h>

namespace netns {
namespace {
namespace wire_address6_test {

Ipv6Address v6(std::string_view text) {
  auto a = Ipv6Address::parse(text);
  EXPECT_TRUE(a) << text;
  return a ? *a : Ipv6Address{};
}

TEST(Address6, ParsesEveryFormOfRfc4291) {
  const Ipv6Address doc(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
  EXPECT_EQ(v6("2001:db8::1"), doc);
  EXPECT_EQ(v6("2001:0DB8:0000:0000:0000:0000:0000:0001"), doc);
  EXPECT_EQ(v6("2001:db8:0:0:0:0:0:1"), doc);
  EXPECT_EQ(v6("2001:db8:0::0:1"), doc);
  EXPECT_EQ(v6("::"), Ipv6Address::any());
  EXPECT_EQ(v6("::1"), Ipv6Address::loopback());
  EXPECT_EQ(v6("1::"), Ipv6Address(1, 0, 0, 0, 0, 0, 0, 0));
  EXPECT_EQ(v6("1:2:3:4:5:6:7::"), Ipv6Address(1, 2, 3, 4, 5, 6, 7, 0));
  EXPECT_EQ(v6("::2:3:4:5:6:7:8"), Ipv6Address(0, 2, 3, 4, 5, 6, 7, 8));
  EXPECT_EQ(v6("::ffff:192.0.2.1"), Ipv6Address::v4_mapped(Ipv4Address(192, 0, 2, 1)));
  EXPECT_EQ(v6("64:ff9b::198.51.100.7"), Ipv6Address(0x64, 0xff9b, 0, 0, 0, 0, 0xc633, 0x6407));
  EXPECT_EQ(v6("1:2:3:4:5:6:192.0.2.1"), Ipv6Address(1, 2, 3, 4, 5, 6, 0xc000, 0x0201));
  const Ipv6Address scoped = v6("fe80::1%3");
  EXPECT_EQ(scoped.scope_id(), 3u);
  EXPECT_EQ(scoped, Ipv6Address(0xfe80, 0, 0, 0, 0, 0, 0, 1, 3));
  EXPECT_NE(scoped, v6("fe80::1"));
}

TEST(Address6, RejectsMalformedText) {
  for (std::string_view text :
       {"", ":", ":::", "1:::2", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::",
        "g::1", "::1 ", " ::1", ":1::", "1::2:", "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8",
        "::192.0.2.1:1", "::256.0.0.1", "::1.2.3", "1:2:3:4:5:6:7:192.0.2.1", "fe80::1%",
        "fe80::1%0", "fe80::1%eth0", "fe80::1%4294967296", "fe80::1%-1", "::1/64", "[::1]"}) {
    auto a = Ipv6Address::parse(text);
    ASSERT_FALSE(a) << "accepted '" << text << "'";
    EXPECT_EQ(a.error(), boost::system::errc::invalid_argument) << text;
  }
}

TEST(Address6, FormatsAsRfc5952) {
  EXPECT_EQ(v6("2001:0db8:0000:0000:0000:0000:0000:0001").to_string(), "2001:db8::1");
  EXPECT_EQ(v6("::").to_string(), "::");
  EXPECT_EQ(v6("::1").to_string(), "::1");
  EXPECT_EQ(v6("1::").to_string(), "1::");
  // A single zero group is never shortened (RFC 5952 4.2.2).
  EXPECT_EQ(v6("2001:db8:0:1:1:1:1:1").to_string(), "2001:db8:0:1:1:1:1:1");
  // The longest run wins; of equal runs, the first (4.2.3).
  EXPECT_EQ(v6("2001:0:0:1:0:0:0:1").to_string(), "2001:0:0:1::1");
  EXPECT_EQ(v6("2001:db8:0:0:1:0:0:1").to_string(), "2001:db8::1:0:0:1");
  EXPECT_EQ(v6("2001:DB8::AB").to_string(), "2001:db8::ab");
  EXPECT_EQ(v6("::ffff:c000:201").to_string(), "::ffff:192.0.2.1");
  EXPECT_EQ(v6("fe80::1%12").to_string(), "fe80::1%12");
  EXPECT_EQ(fmt::format("{}", Ipv6Address(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)), "2001:db8::1");
}

TEST(Address6, TextRoundTrips) {
  for (std::string_view text : {"2001:db8::1", "::", "fe80::200:5eff:fe10:1%1", "ff02::1:ff00:1",
                                "1:2:3:4:5:6:7:8", "::ffff:0.0.0.0", "2001:db8:1::"}) {
    EXPECT_EQ(v6(text).to_string(), text);
  }
}

TEST(Address6, Classification) {
  EXPECT_TRUE(v6("::").is_unspecified());
  EXPECT_TRUE(v6("::1").is_loopback());
  EXPECT_FALSE(v6("::2").is_loopback());
  EXPECT_TRUE(v6("ff02::1").is_multicast());
  EXPECT_TRUE(v6("fe80::1").is_link_local());
  EXPECT_TRUE(v6("febf::1").is_link_local());
  EXPECT_FALSE(v6("fec0::1").is_link_local());
  EXPECT_TRUE(v6("::ffff:10.0.0.1").is_v4_mapped());
  EXPECT_EQ(v6("::ffff:10.0.0.1").to_v4_mapped(), Ipv4Address(10, 0, 0, 1));
  EXPECT_FALSE(v6("::10.0.0.1").is_v4_mapped());
  EXPECT_EQ(v6("2001:db8::1:2:3").solicited_node(), v6("ff02::1:ff02:3"));
  EXPECT_EQ(v6("2001:db8::1").high(), 0x20010db800000000u);
  EXPECT_EQ(v6("2001:db8::1").low(), 1u);
}

TEST(Address6, PrefixParsesLengthAndKeepsHostBits) {
  auto p = Ipv6Prefix::parse("2001:db8:1:2:3:4:5:6/64");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->length(), 64);
  EXPECT_EQ(p->address(), v6("2001:db8:1:2:3:4:5:6"));
  EXPECT_EQ(p->network(), v6("2001:db8:1:2::"));
  EXPECT_TRUE(p->contains(v6("2001:db8:1:2::99")));
  EXPECT_FALSE(p->contains(v6("2001:db8:1:3::")));
  EXPECT_EQ(Ipv6Prefix::parse("2001:db8::1")->length(), 128);
  EXPECT_EQ(Ipv6Prefix::parse("2001:db8:ffff::/33")->network(), v6("2001:db8:8000::"));
  EXPECT_TRUE(Ipv6Prefix::parse("::/0")->contains(v6("ff02::1")));
  EXPECT_EQ(Ipv6Prefix::parse("fe80::1/64")->to_string(), "fe80::1/64");
  for (std::string_view text : {"::/129", "::/-1", "::/", "::/0064", "::/1000", "/64", "::/64/1"}) {
    EXPECT_FALSE(Ipv6Prefix::parse(text)) << text;
  }
  EXPECT_FALSE(Ipv6Prefix::make(Ipv6Address::any(), 129));
  EXPECT_TRUE(Ipv6Prefix::make(Ipv6Address::any(), 128));
}

TEST(Address6, IpAddressHoldsEitherFamily) {
  IpAddress a = Ipv4Address(192, 0, 2, 1);
  IpAddress b = v6("2001:db8::1");
  EXPECT_TRUE(a.is_v4());
  EXPECT_EQ(a.family(), Family::ipv4);
  EXPECT_TRUE(b.is_v6());
  EXPECT_EQ(a.to_v4(), Ipv4Address(192, 0, 2, 1));
  EXPECT_EQ(b.to_v6(), v6("2001:db8::1"));
  EXPECT_EQ(a, Ipv4Address(192, 0, 2, 1));
  EXPECT_NE(a, IpAddress(Ipv6Address::v4_mapped(Ipv4Address(192, 0, 2, 1))));
  EXPECT_LT(a, b);  // by family first
  EXPECT_TRUE(IpAddress().is_unspecified());
  EXPECT_TRUE(IpAddress(Ipv6Address::any()).is_unspecified());
  EXPECT_TRUE(IpAddress(Ipv6Address::loopback()).is_loopback());
  EXPECT_EQ(*IpAddress::parse("198.51.100.1"), Ipv4Address(198, 51, 100, 1));
  EXPECT_EQ(*IpAddress::parse("fe80::2%4"), v6("fe80::2%4"));
  EXPECT_FALSE(IpAddress::parse("198.51.100"));
  EXPECT_EQ(fmt::format("{} {}", a, b), "192.0.2.1 2001:db8::1");
}

TEST(Address6, EndpointsOfBothFamilies) {
  const Endpoint four{Ipv4Address(10, 0, 0, 1), 53};
  const Endpoint six{v6("2001:db8::1"), 80};
  EXPECT_EQ(four.to_string(), "10.0.0.1:53");
  EXPECT_EQ(six.to_string(), "[2001:db8::1]:80");
  EXPECT_EQ(fmt::format("{}", Endpoint{v6("fe80::1%2"), 7}), "[fe80::1%2]:7");
  EXPECT_EQ(six.family(), Family::ipv6);
  std::unordered_set<Endpoint> set{four, six, {v6("2001:db8::1"), 81}, six, {v6("2001:db8::1%1"), 80}};
  EXPECT_EQ(set.size(), 4u);
  std::unordered_set<IpAddress> addresses{IpAddress(Ipv4Address(0, 0, 0, 1)), IpAddress(v6("::1"))};
  EXPECT_EQ(addresses.size(), 2u);
}

}  // namespace wire_address6_test
}  // namespace
}  // namespace netns
