#!/usr/bin/env bash
# Installs every Debian 12 package that netns needs to build, test and benchmark.
# Skips packages that are already installed; run as root (or with sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libboost1.81-dev libfmt-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  libdpdk-dev libpcap-dev
  iproute2 iputils-ping curl netcat-openbsd tshark ethtool procps
  nmap python3-scapy hping3 radvd nftables conntrack
  clang-16 libclang-rt-16-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
# The package lists may be empty on a fresh machine; refresh them once.
if ! apt-cache policy "${missing[0]}" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  "${sudo_cmd[@]}" apt-get update -q
fi
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
