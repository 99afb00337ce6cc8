// netns/address.hpp — MacAddress, Ipv4Address, Ipv4Prefix, Endpoint.
//
// The types are defined in netns/wire/address.hpp, at the bottom of the
// layers (the wire views use them, and wire/ depends on nothing above it);
// this header stays the path users include.
#pragma once

#include "netns/wire/address.hpp"
