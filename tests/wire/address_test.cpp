#include "netns/wire/address.hpp"

#include <unordered_set>

#include <gtest/gtest.h>

namespace netns {
namespace {
namespace wire_address_test {

bool is_invalid_argument(const boost::system::error_code& ec) {
  return ec == boost::system::errc::invalid_argument;
}

TEST(Address, Ipv4ParsesDottedQuad) {
  auto a = Ipv4Address::parse("10.0.0.1");
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, Ipv4Address(10, 0, 0, 1));
  EXPECT_EQ(a->value, 0x0a000001u);
  EXPECT_EQ(*Ipv4Address::parse("0.0.0.0"), Ipv4Address::any());
  EXPECT_EQ(*Ipv4Address::parse("255.255.255.255"), Ipv4Address::broadcast());
  EXPECT_EQ(*Ipv4Address::parse("192.168.100.254"), Ipv4Address(192, 168, 100, 254));
}

TEST(Address, Ipv4RejectsMalformedText) {
  for (std::string_view text :
       {"", "1", "1.2.3", "1.2.3.4.5", "1..2.3", ".1.2.3", "1.2.3.", "256.0.0.1", "1.2.3.256",
        "+1.2.3.4", "1.+2.3.4", " 1.2.3.4", "1.2.3.4 ", "1.2.3.-4", "1.2.3.4/24", "a.b.c.d",
        "0x1.2.3.4", "1000.2.3.4", "01.2.3.4", "1.2.3.00", "1.2.3.4\n", "1.2.3.4."}) {
    auto a = Ipv4Address::parse(text);
    ASSERT_FALSE(a) << "accepted '" << text << "'";
    EXPECT_TRUE(is_invalid_argument(a.error())) << text;
  }
}

TEST(Address, Ipv4RoundTripsThroughText) {
  for (std::uint32_t v : {0u, 1u, 0x7f000001u, 0x0a000001u, 0xc0a80001u, 0xdeadbeefu,
                          0xfffffffeu, 0xffffffffu}) {
    Ipv4Address a{v};
    auto back = Ipv4Address::parse(a.to_string());
    ASSERT_TRUE(back) << a.to_string();
    EXPECT_EQ(*back, a);
  }
  EXPECT_EQ(Ipv4Address(172, 16, 5, 4).to_string(), "172.16.5.4");
  EXPECT_EQ(fmt::format("{}", Ipv4Address(10, 0, 0, 1)), "10.0.0.1");
}

TEST(Address, Ipv4Classification) {
  EXPECT_TRUE(Ipv4Address(127, 0, 0, 53).is_loopback());
  EXPECT_TRUE(Ipv4Address(224, 0, 0, 251).is_multicast());
  EXPECT_FALSE(Ipv4Address(240, 0, 0, 1).is_multicast());
  EXPECT_TRUE(Ipv4Address::any().is_unspecified());
}

TEST(Address, PrefixParsesLengthAndKeepsHostBits) {
  auto p = Ipv4Prefix::parse("10.0.0.1/24");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->address(), Ipv4Address(10, 0, 0, 1));
  EXPECT_EQ(p->length(), 24);
  EXPECT_EQ(p->network(), Ipv4Address(10, 0, 0, 0));
  EXPECT_EQ(p->broadcast(), Ipv4Address(10, 0, 0, 255));
  EXPECT_EQ(p->mask(), 0xffffff00u);
  EXPECT_TRUE(p->contains(Ipv4Address(10, 0, 0, 200)));
  EXPECT_FALSE(p->contains(Ipv4Address(10, 0, 1, 1)));
  EXPECT_EQ(p->to_string(), "10.0.0.1/24");
}

TEST(Address, PrefixWithoutLengthIsHostRoute) {
  auto p = Ipv4Prefix::parse("192.0.2.7");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->length(), 32);
  EXPECT_EQ(p->mask(), 0xffffffffu);
}

TEST(Address, PrefixLengthBounds) {
  auto zero = Ipv4Prefix::parse("0.0.0.0/0");
  ASSERT_TRUE(zero);
  EXPECT_EQ(zero->mask(), 0u);
  EXPECT_TRUE(zero->contains(Ipv4Address(8, 8, 8, 8)));
  ASSERT_TRUE(Ipv4Prefix::parse("10.1.2.3/32"));
  for (std::string_view text : {"10.0.0.1/33", "10.0.0.1/", "10.0.0.1/-1", "10.0.0.1/+8",
                                "10.0.0.1/08", "10.0.0.1/100", "10.0.0.1/2 4", "10.0.0.1/24/",
                                "10.0.0/24", "/24", "10.0.0.1 /24", "10.0.0.1/ 24"}) {
    auto p = Ipv4Prefix::parse(text);
    ASSERT_FALSE(p) << "accepted '" << text << "'";
    EXPECT_TRUE(is_invalid_argument(p.error())) << text;
  }
}

TEST(Address, PrefixMakeChecksLength) {
  auto ok = Ipv4Prefix::make(Ipv4Address(10, 0, 0, 1), 8);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->network(), Ipv4Address(10, 0, 0, 0));
  auto bad = Ipv4Prefix::make(Ipv4Address(10, 0, 0, 1), 33);
  ASSERT_FALSE(bad);
  EXPECT_TRUE(is_invalid_argument(bad.error()));
}

TEST(Address, MacParsesEitherCase) {
  auto m = MacAddress::parse("02:00:5e:10:00:01");
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, MacAddress(0x02, 0x00, 0x5e, 0x10, 0x00, 0x01));
  auto upper = MacAddress::parse("AA:bb:CC:dd:EE:ff");
  ASSERT_TRUE(upper);
  EXPECT_EQ(upper->to_string(), "aa:bb:cc:dd:ee:ff");
  EXPECT_TRUE(MacAddress::parse("ff:ff:ff:ff:ff:ff")->is_broadcast());
  EXPECT_TRUE(MacAddress::parse("01:00:5e:00:00:fb")->is_multicast());
}

TEST(Address, MacRejectsMalformedText) {
  for (std::string_view text :
       {"", "02:00:5e:10:00", "02:00:5e:10:00:01:02", "02-00-5e-10-00-01", "0200.5e10.0001",
        "2:0:5e:10:0:1", "02:00:5e:10:00:0g", "02:00:5e:10:00:01 ", " 02:00:5e:10:00:01",
        "02:00:5e:10:00::1", "020:0:5e:10:00:01", "+2:00:5e:10:00:01"}) {
    auto m = MacAddress::parse(text);
    ASSERT_FALSE(m) << "accepted '" << text << "'";
    EXPECT_TRUE(is_invalid_argument(m.error())) << text;
  }
}

TEST(Address, EndpointFormatsAsAddressColonPort) {
  Endpoint e{Ipv4Address(10, 0, 0, 1), 53};
  EXPECT_EQ(e.to_string(), "10.0.0.1:53");
  EXPECT_EQ(fmt::format("{}", Endpoint{Ipv4Address::any(), 65535}), "0.0.0.0:65535");
}

TEST(Address, ValuesAreHashableAndOrdered) {
  std::unordered_set<Ipv4Prefix> prefixes{*Ipv4Prefix::parse("10.0.0.1/24"),
                                          *Ipv4Prefix::parse("10.0.0.1/25"),
                                          *Ipv4Prefix::parse("10.0.0.1/24")};
  EXPECT_EQ(prefixes.size(), 2u);
  std::unordered_set<Endpoint> endpoints{{Ipv4Address(1, 2, 3, 4), 80},
                                         {Ipv4Address(1, 2, 3, 4), 81}};
  EXPECT_EQ(endpoints.size(), 2u);
  EXPECT_LT(Ipv4Address(9, 255, 255, 255), Ipv4Address(10, 0, 0, 0));
  EXPECT_EQ(fmt::format("{}", MacAddress::broadcast()), "ff:ff:ff:ff:ff:ff");
}

}  // namespace wire_address_test
}  // namespace
}  // namespace netns
