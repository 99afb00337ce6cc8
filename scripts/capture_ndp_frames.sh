#!/usr/bin/env bash
# Captures the NDP frames of tests/wire/golden_ndp_frames.hpp from the Linux
# kernel and radvd: two namespaces made here and deleted on exit, joined by a
# veth; addresses from 2001:db8::/32 only. Run as root; writes
# OUT (default /tmp/ndp-golden.pcapng) and prints each ICMPv6 frame as hex.
#   A (vA, 02:00:00:00:0a:01) --- veth --- B (vB, 02:00:00:00:0b:01)
# 1. both links come up: DAD NS from :: for the link-local addresses, then
#    A's router solicitation (forwarding off);
# 2. 2001:db8::1 (A) pings 2001:db8::2 (B): multicast NS with the source
#    link-layer option, the solicited NA, and about 5 s later the unicast NS
#    of B's NUD probe (DELAY -> PROBE) and A's answer;
# 3. radvd on B (forwarding on) advertises 2001:db8:1::/64, MTU 1500, M off, O on.
set -euo pipefail
out=${1:-/tmp/ndp-golden.pcapng}
a=ndpa$$; b=ndpb$$
dir=$(mktemp -d)
cleanup() {
  [ -f "$dir/radvd.pid" ] && kill "$(cat "$dir/radvd.pid")" 2>/dev/null || true
  [ -n "${cap:-}" ] && kill "$cap" 2>/dev/null || true
  ip netns del "$a" 2>/dev/null || true
  ip netns del "$b" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
ip netns add "$a"; ip netns add "$b"
# dumpcap needs vA up: it comes up with IPv6 off, which goes on once capturing.
ip netns exec "$a" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
ip -n "$a" link add vA address 02:00:00:00:0a:01 type veth peer name vB netns "$b" address 02:00:00:00:0b:01
ip netns exec "$b" sysctl -qw net.ipv6.conf.all.forwarding=1
ip -n "$a" link set vA up
ip netns exec "$a" dumpcap -q -i vA -f icmp6 -w "$out" 2>/dev/null &
cap=$!
sleep 1
ip -n "$b" link set vB up
ip netns exec "$a" sysctl -qw net.ipv6.conf.vA.disable_ipv6=0
sleep 4
ip -n "$a" addr add 2001:db8::1/64 dev vA nodad
ip -n "$b" addr add 2001:db8::2/64 dev vB nodad
ip netns exec "$a" ping -6 -c1 -W2 2001:db8::2 >/dev/null
sleep 8
cat > "$dir/radvd.conf" <<CONF
interface vB {
  AdvSendAdvert on;
  MinRtrAdvInterval 30;
  MaxRtrAdvInterval 60;
  AdvManagedFlag off;
  AdvOtherConfigFlag on;
  AdvLinkMTU 1500;
  prefix 2001:db8:1::/64 { AdvOnLink on; AdvAutonomous on; AdvValidLifetime 86400; AdvPreferredLifetime 14400; };
};
CONF
ip netns exec "$b" radvd -n -C "$dir/radvd.conf" -p "$dir/radvd.pid" -m stderr >/dev/null 2>&1 &
sleep 3
sleep 1
kill "$cap"; wait "$cap" 2>/dev/null || true; cap=
tshark -r "$out" -Y 'icmpv6.type >= 133 && icmpv6.type <= 137' -T fields -e frame.number -e _ws.col.Info
tshark -r "$out" -Y 'icmpv6.type >= 133 && icmpv6.type <= 137' -x
