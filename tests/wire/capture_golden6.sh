#!/bin/bash
# Regenerates tests/wire/golden6_frames.hpp: ICMPv6 frames the Linux kernel
# sends, captured with dumpcap on veths between three Linux namespaces made
# here and deleted on exit (root, iproute2, iputils ping, OpenBSD nc,
# ethtool, dumpcap, python3):
#
#   A  a0 2001:db8:1::1 ----- r0 2001:db8:1::2  R  r1 2001:db8:2::1 ----- b0 2001:db8:2::2  B
#      (MTU 1500)                               (forwarding)  (MTU 1280)
#
#   tests/wire/capture_golden6.sh > tests/wire/golden6_frames.hpp
#
# Frames: A pings R (echo request and reply); A sends UDP "closed" to R's
# port 9 (port unreachable); A pings B with 1400 bytes and DF semantics
# (R: packet too big, MTU 1280); A pings B with hop limit 1 (R: time
# exceeded); B pings R with 3000 bytes (three fragments on the 1280 link).
# Only documentation addresses (RFC 3849) inside namespaces made here.
set -euo pipefail

tag="g6$$"
A="${tag}a" R="${tag}r" B="${tag}b"
work=$(mktemp -d)
cleanup() {
  for ns in "$A" "$R" "$B"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

for ns in "$A" "$R" "$B"; do
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
    net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.all.router_solicitations=0
done
ip netns exec "$R" sysctl -qw net.ipv6.conf.all.forwarding=1

ip link add "${tag}a0" address 02:00:5e:00:01:01 netns "$A" type veth peer "${tag}r0" address 02:00:5e:00:01:02 netns "$R"
ip link add "${tag}r1" address 02:00:5e:00:02:01 netns "$R" type veth peer "${tag}b0" address 02:00:5e:00:02:02 netns "$B"
ip -n "$A" link set "${tag}a0" name a0
ip -n "$R" link set "${tag}r0" name r0
ip -n "$R" link set "${tag}r1" name r1
ip -n "$B" link set "${tag}b0" name b0
ip -n "$R" link set r1 mtu 1280
ip -n "$B" link set b0 mtu 1280
# With tx offload a veth carries only the partial UDP checksum.
ip netns exec "$A" ethtool -K a0 tx off >/dev/null
ip -n "$A" addr add 2001:db8:1::1/64 dev a0 nodad
ip -n "$R" addr add 2001:db8:1::2/64 dev r0 nodad
ip -n "$R" addr add 2001:db8:2::1/64 dev r1 nodad
ip -n "$B" addr add 2001:db8:2::2/64 dev b0 nodad
for pair in "$A:a0" "$R:r0" "$R:r1" "$B:b0"; do ip -n "${pair%%:*}" link set "${pair##*:}" up; done
ip -n "$A" route add default via 2001:db8:1::2
ip -n "$B" route add default via 2001:db8:2::1
sleep 1

ip netns exec "$A" dumpcap -q -P -i a0 -w "$work/a0.pcap" 2>/dev/null &
cap_a=$!
ip netns exec "$B" dumpcap -q -P -i b0 -w "$work/b0.pcap" 2>/dev/null &
cap_b=$!
sleep 1.5

ip netns exec "$A" ping -6 -c1 -W2 2001:db8:1::2 >/dev/null
printf closed | ip netns exec "$A" nc -6 -u -w1 2001:db8:1::2 9 || true
ip netns exec "$A" ping -6 -c1 -W2 -s 1400 -M do 2001:db8:2::2 >/dev/null || true
ip netns exec "$A" ping -6 -c1 -W2 -t 1 2001:db8:2::2 >/dev/null || true
ip netns exec "$B" ping -6 -c1 -W2 -s 3000 2001:db8:2::1 >/dev/null
sleep 1
kill -INT "$cap_a" "$cap_b"
wait "$cap_a" "$cap_b" || true

/usr/bin/python3 - "$work/a0.pcap" "$work/b0.pcap" <<'EOF'
import struct, sys

def frames(path):
    data = open(path, 'rb').read()
    assert struct.unpack('<I', data[:4])[0] == 0xa1b2c3d4, 'pcap, little-endian, microseconds'
    at = 24
    while at + 16 <= len(data):
        incl = struct.unpack('<I', data[at + 8:at + 12])[0]
        yield data[at + 16:at + 16 + incl]
        at += 16 + incl

def icmp6(frame):
    """(type, code) of an unfragmented ICMPv6 frame, else None."""
    if frame[12:14] != b'\x86\xdd' or frame[20] != 58:
        return None
    return frame[54], frame[55]

def first(pred, frames):
    found = [f for f in frames if pred(f)]
    assert found, 'a frame is missing from the capture'
    return found[0]

a = list(frames(sys.argv[1]))
b = list(frames(sys.argv[2]))
udp_to_9 = lambda f: f[12:14] == b'\x86\xdd' and f[20] == 17 and f[56:58] == b'\x00\x09'
r1 = bytes.fromhex('20010db8000200000000000000000001')
fragment = lambda f: f[12:14] == b'\x86\xdd' and f[20] == 44 and f[38:54] == r1
out = [
    ('kEchoRequest', 'A -> R: `ping -6 -c1`, 56 data bytes', first(lambda f: icmp6(f) == (128, 0), a)),
    ('kEchoReply', 'R -> A: the kernel\'s echo reply', first(lambda f: icmp6(f) == (129, 0), a)),
    ('kUdpClosed', 'A -> R: UDP "closed" to port 9, nobody listening (tx offload off)', first(udp_to_9, a)),
    ('kPortUnreachable', 'R -> A: destination unreachable, code 4 (port), quoting kUdpClosed', first(lambda f: icmp6(f) == (1, 4), a)),
    ('kPacketTooBig', 'R -> A: packet too big, MTU 1280, for a 1448-byte echo towards B', first(lambda f: icmp6(f) == (2, 0), a)),
    ('kTimeExceeded', 'R -> A: time exceeded, code 0 (hop limit), for an echo sent with hop limit 1', first(lambda f: icmp6(f) == (3, 0), a)),
]
frags = [f for f in b if fragment(f)]
assert len(frags) == 3, 'three fragments of the 3008-byte echo request'
out += [
    ('kFragmentFirst', 'B -> R: `ping -6 -s 3000` on the 1280 link, first fragment (offset 0, M)', frags[0]),
    ('kFragmentMiddle', 'the second fragment (offset 1232, M)', frags[1]),
    ('kFragmentLast', 'the last fragment (offset 2464, no M)', frags[2]),
]

print('''// Golden IPv6 frames captured from the Linux kernel by
// tests/wire/capture_golden6.sh (which regenerates this file): veths between
// Linux namespaces A (a0 2001:db8:1::1, 02:00:5e:00:01:01), R (r0
// 2001:db8:1::2, 02:00:5e:00:01:02; r1 2001:db8:2::1, 02:00:5e:00:02:01,
// MTU 1280, forwarding) and B (b0 2001:db8:2::2, 02:00:5e:00:02:02, MTU 1280).
// Ethernet frames, as dumpcap saw them.
#pragma once

#include "netns/wire/bytes.hpp"

namespace netns::wire::golden6 {''')
for name, comment, frame in out:
    print()
    print(f'// {comment} ({len(frame)} bytes)')
    print(f'inline constexpr auto {name} = byte_array({{')
    for i in range(0, len(frame), 12):
        print('    ' + ' '.join(f'0x{x:02x},' for x in frame[i:i + 12]))
    print('});')
print()
print('}  // namespace netns::wire::golden6')
EOF
