// nmap -O from a Linux namespace takes a netns namespace for Linux (issue
// 10). nmap's OS detection (nmap.org/book/osdetect-methods.html) sends
// six SYNs with different options to an open port (SEQ: ISNs, IP IDs and
// timestamps; OPS: the options of each SYN-ACK; WIN: their windows), a SYN
// asking for ECN (ECN), odd flag combinations to the open and a closed port
// (T2-T7), a UDP datagram to a closed port (U1) and two ICMP echoes (IE),
// and matches the answers against its database.
//
// The same scan goes to a Linux namespace at the same time, both targets
// configured alike (the kernel's TCP sysctls copied into netns). Every
// test whose answer is deterministic must read the same for both, and
// nmap's best guess for netns must be Linux. Skipped without root,
// /dev/net/tun, ip or nmap; the two scans take about 12 s together.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <string>

#include "netns/net.hpp"
#include "netns/sysctl.hpp"
#include "support/linux_targets.hpp"

namespace netns {
namespace {
namespace ipv4_tcp_nmap_os_test {

// test name ("OPS") -> attribute ("O1") -> value ("M5B4ST11NWA")
using Fingerprint = std::map<std::string, std::map<std::string, std::string>>;

// The "OS:" lines of nmap's -d output, joined: SCAN(...)SEQ(...)OPS(...)...
Fingerprint parse_fingerprint(const std::string& output) {
  std::string joined;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("OS:")) joined += line.substr(3);
  }
  Fingerprint out;
  static const std::regex test(R"(([A-Z0-9]+)\(([^)]*)\))");
  for (auto it = std::sregex_iterator(joined.begin(), joined.end(), test); it != std::sregex_iterator(); ++it) {
    auto& attributes = out[(*it)[1]];
    std::istringstream fields((*it)[2]);
    for (std::string field; std::getline(fields, field, '%');) {
      const auto eq = field.find('=');
      attributes[field.substr(0, eq)] = eq == std::string::npos ? "" : field.substr(eq + 1);
    }
  }
  return out;
}

std::string format_test(const Fingerprint& fp, const std::string& name) {
  auto it = fp.find(name);
  if (it == fp.end()) return "(absent)";
  std::string out = name + "(";
  for (const auto& [key, value] : it->second) out += key + "=" + value + "%";
  return out + ")";
}

// nmap's TS: the timestamp clock's rate as log2 of ticks per second, or a
// class. A TSval offset random per connection makes the "rate" anything
// from about 2^20 up: both stacks do that, so that is one class.
std::string timestamp_class(const Fingerprint& fp) {
  const auto seq = fp.find("SEQ");
  if (seq == fp.end() || !seq->second.contains("TS")) return "(absent)";
  const std::string ts = seq->second.at("TS");
  if (ts == "U" || ts.size() != 2) return ts;
  return std::stoul(ts, nullptr, 16) >= 0x14 ? "random per connection" : ts;
}

// One osmatch of nmap's XML output: its name and the OS families of its classes.
struct OsMatch {
  std::string name;
  std::vector<std::string> families;
};

std::vector<OsMatch> parse_os_matches(const std::string& xml) {
  std::vector<OsMatch> out;
  static const std::regex element(R"re(<osmatch name="([^"]*)"|<osclass [^>]*osfamily="([^"]*)")re");
  for (auto it = std::sregex_iterator(xml.begin(), xml.end(), element); it != std::sregex_iterator(); ++it) {
    if ((*it)[1].matched) {
      out.push_back({(*it)[1], {}});
    } else if (!out.empty()) {
      out.back().families.push_back((*it)[2]);
    }
  }
  return out;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string nmap_line(const std::string& output, std::string_view key) {
  const auto at = output.find(key);
  if (at == std::string::npos) return "(missing)";
  return output.substr(at, output.find('\n', at) - at);
}

class NmapOs : public support::LinuxTargetsTest {
 protected:
  static constexpr auto kLimit = std::chrono::seconds(50);

  NmapOs() : LinuxTargetsTest({"nmap"}) {}

  void TearDown() override {
    for (const auto& path : xml_files_) std::filesystem::remove(path);
  }

  // netns takes the kernel's values of the TCP sysctls that shape what nmap
  // sees (the window scale follows tcp_rmem[2], 32 MiB on Linux 6.16 on).
  void configure_like_linux() {
    for (const char* name : {"net.ipv4.tcp_rmem", "net.ipv4.tcp_ecn", "net.ipv4.tcp_timestamps",
                             "net.ipv4.tcp_sack", "net.ipv4.tcp_window_scaling"}) {
      std::string path = std::string("/proc/sys/") + name;
      std::replace(path.begin(), path.end(), '.', '/');
      auto read = support::run_command(in_linux_target({"cat", path}));
      ASSERT_TRUE(read.ok()) << read.output;
      while (!read.output.empty() && read.output.back() == '\n') read.output.pop_back();
      auto set = dut_->sysctl().set(name, read.output);
      ASSERT_TRUE(set) << name << " = " << read.output << ": " << set.error().message();
    }
  }

  std::vector<std::string> nmap(std::string_view target) {
    xml_files_.push_back(std::filesystem::temp_directory_path() /
                         support::unique_linux_name("netns-nmap-").append(".xml"));
    return prober({"nmap", "-O", "-d", "--osscan-guess", "-n", "-Pn", "-p", "80,81", "-oX",
                   xml_files_.back().string(), std::string(target)});
  }

  std::vector<std::filesystem::path> xml_files_;
};

TEST_F(NmapOs, TakesNetnsForLinux) {
  configure_like_linux();
  // Both scans at once: the whole test stays near one scan's time.
  auto on_linux = support::ChildProcess::spawn(nmap(kLinuxTarget));
  ASSERT_TRUE(on_linux);
  const support::CommandResult netns_scan = support::run_while_polling(host_, nmap(kNetnsTarget), kLimit);
  ASSERT_TRUE(netns_scan.ok()) << netns_scan.output;
  ASSERT_TRUE(support::poll_host_until(host_, [&] { return !on_linux->running(); }, kLimit, &*on_linux));
  const support::CommandResult linux_scan = on_linux->result();
  ASSERT_TRUE(linux_scan.ok()) << linux_scan.output;

  const Fingerprint linux_fp = parse_fingerprint(linux_scan.output);
  const Fingerprint netns_fp = parse_fingerprint(netns_scan.output);
  ASSERT_TRUE(linux_fp.contains("SEQ")) << linux_scan.output;
  ASSERT_TRUE(netns_fp.contains("SEQ")) << netns_scan.output;
  // Tests whose answers depend on nothing random: line for line.
  for (const char* test : {"OPS", "WIN", "ECN", "T1", "T2", "T3", "T4", "T5", "T6", "T7", "U1", "IE"}) {
    EXPECT_EQ(format_test(netns_fp, test), format_test(linux_fp, test)) << test;
  }
  // SEQ: IP ID classes and the timestamp clock, line for line; the ISN's
  // common divisor only as small, since with random ISNs either side may
  // show 2 or 3 by chance (all six differences even: one scan in 32).
  for (const char* key : {"TI", "CI", "II", "SS"}) {
    EXPECT_EQ(netns_fp.at("SEQ").contains(key), linux_fp.at("SEQ").contains(key)) << key;
    if (netns_fp.at("SEQ").contains(key) && linux_fp.at("SEQ").contains(key)) {
      EXPECT_EQ(netns_fp.at("SEQ").at(key), linux_fp.at("SEQ").at(key)) << key;
    }
  }
  for (const Fingerprint* fp : {&netns_fp, &linux_fp}) {
    ASSERT_TRUE(fp->at("SEQ").contains("GCD"));
    EXPECT_LE(std::stoul(fp->at("SEQ").at("GCD"), nullptr, 16), 8u) << "ISNs with a common divisor";
  }
  EXPECT_EQ(timestamp_class(netns_fp), timestamp_class(linux_fp));
  // ISNs random per connection: nmap cannot predict either (SP and ISR are
  // measurements of that randomness, different at every scan).
  const std::string prediction = "TCP Sequence Prediction:";
  EXPECT_NE(nmap_line(linux_scan.output, prediction).find("(Good luck!)"), std::string::npos) << linux_scan.output;
  EXPECT_NE(nmap_line(netns_scan.output, prediction).find("(Good luck!)"), std::string::npos) << netns_scan.output;
  const std::string ip_id = "IP ID Sequence Generation:";
  EXPECT_EQ(nmap_line(netns_scan.output, ip_id), nmap_line(linux_scan.output, ip_id));

  // nmap's best guess for each: Linux, in name and in class.
  const std::vector<OsMatch> linux_guesses = parse_os_matches(read_file(xml_files_[0]));
  const std::vector<OsMatch> netns_guesses = parse_os_matches(read_file(xml_files_[1]));
  ASSERT_FALSE(linux_guesses.empty()) << linux_scan.output;
  ASSERT_FALSE(netns_guesses.empty()) << netns_scan.output;
  for (const auto* guesses : {&linux_guesses, &netns_guesses}) {
    const OsMatch& best = guesses->front();
    EXPECT_NE(best.name.find("Linux"), std::string::npos) << best.name;
    EXPECT_NE(std::find(best.families.begin(), best.families.end(), "Linux"), best.families.end()) << best.name;
  }
  const std::string guesses_key = "Aggressive OS guesses:";
  const std::string details_key = "OS details:";
  std::printf("Linux: %s\n       %s\n", nmap_line(linux_scan.output, guesses_key).c_str(),
              nmap_line(linux_scan.output, details_key).c_str());
  std::printf("netns: %s\n       %s\n", nmap_line(netns_scan.output, guesses_key).c_str(),
              nmap_line(netns_scan.output, details_key).c_str());
  for (const char* test : {"SEQ", "OPS", "WIN", "ECN", "T1", "T2", "T3", "T4", "T5", "T6", "T7", "U1", "IE"}) {
    std::printf("  %-3s Linux %s\n      netns %s\n", test, format_test(linux_fp, test).c_str(),
                format_test(netns_fp, test).c_str());
  }
}

}  // namespace ipv4_tcp_nmap_os_test
}  // namespace
}  // namespace netns
