// The neighbour table of one namespace: ARP resolution (RFC 826) with Linux's
// NUD states, a bounded queue of packets per unresolved entry, and timers.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "netns/bounded_queue.hpp"
#include "netns/ipv4.hpp"
#include "netns/packet.hpp"
#include "netns/timer.hpp"
#include "netns/wire/ethernet.hpp"

namespace netns::ipv4 {

class Ipv4Stack;

class NeighbourTable {
 public:
  NeighbourTable(Net& net, Ipv4Stack& stack);
  ~NeighbourTable();
  NeighbourTable(const NeighbourTable&) = delete;
  NeighbourTable& operator=(const NeighbourTable&) = delete;

  // Sends `datagram` (data() at its IP header) to next_hop on dev, resolving
  // the link address first when needed.
  void output(Device& dev, Ipv4Address next_hop, Packet&& datagram);
  // An ARP message (data() at the ARP header) received on dev.
  void process_arp(Device& dev, Packet message);
  void flush_device(const Device& dev);
  Result<void> add_permanent(Device& dev, Ipv4Address address, MacAddress mac);
  std::vector<NeighbourInfo> list() const;
  std::size_t size() const { return entries_.size(); }
  NeighbourTableStats stats() const {
    return {entries_.size(), unres_discards_, res_failed_, table_fulls_};
  }

 private:
  struct Entry;
  using Key = std::uint64_t;  // ifindex << 32 | address
  static Key key(const Device& dev, Ipv4Address a) {
    return std::uint64_t(static_cast<std::uint32_t>(dev.ifindex())) << 32 | a.value;
  }

  Entry* lookup(const Device& dev, Ipv4Address address);
  Entry* create(Device& dev, Ipv4Address address);
  void update(Entry& e, MacAddress mac, NeighbourState state);
  void on_timer(Entry& e);
  void send_request(Entry& e, bool unicast);
  void send_arp(Device& dev, std::uint16_t op, Ipv4Address sender_ip, MacAddress target_mac,
                Ipv4Address target_ip, MacAddress dst_mac);
  void flush_pending(Entry& e);
  void fail(Entry& e);
  void erase(Entry& e);
  void transmit(Device& dev, MacAddress dst, Packet datagram);
  Clock::duration reachable_time() const;

  void forget_memo() { memo_.fill({}); }

  Net& net_;
  Ipv4Stack& stack_;
  std::unordered_map<Key, std::unique_ptr<Entry>> entries_;
  // Entries lookup found lately, direct-mapped by a hash of their key: the
  // map costs a division and three dependent loads per forwarded packet,
  // where Linux finds the neighbour through the cached route. Cleared
  // whenever an entry goes, so it never points at a freed one.
  struct Memo {
    Key key = ~Key{0};
    Entry* entry = nullptr;
  };
  std::array<Memo, 16> memo_{};
  // Linux's neigh_statistics, per namespace.
  std::uint64_t unres_discards_ = 0, res_failed_ = 0, table_fulls_ = 0;
};

// Prepends an Ethernet header and transmits: the one place frames get one.
void transmit_ethernet(Device& dev, MacAddress dst, wire::EtherType ethertype, Packet&& payload);

}  // namespace netns::ipv4
