// Replays the committed seed corpus of every fuzz target (tests/fuzz/corpus/
// <target>/) through the same function its libFuzzer program calls, so
// every ctest, with GCC too, runs what the fuzzers once reached. A finding
// aborts (driver.hpp), and the output names the file being replayed.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include <gtest/gtest.h>

#include "fuzz/targets.hpp"

namespace netns::fuzz {
namespace {

using Target = void (*)(std::span<const std::uint8_t>);

std::vector<std::filesystem::path> corpus(std::string_view target) {
  const auto dir = std::filesystem::path(NETNS_FUZZ_CORPUS_DIR) / target;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

void replay(std::string_view target, Target run) {
  const auto files = corpus(target);
  ASSERT_FALSE(files.empty()) << "the corpus of " << target << " is missing or nearly empty";
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    const std::vector<std::uint8_t> data{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    // On stderr before the run: an abort leaves it as the last line.
    std::fprintf(stderr, "replaying %s\n", file.c_str());
    run(data);
  }
}

TEST(FuzzCorpus, Frames) { replay("frames", frames); }
TEST(FuzzCorpus, TcpSession) { replay("tcp_session", tcp_session); }
TEST(FuzzCorpus, Fragments) { replay("fragments", fragments); }
TEST(FuzzCorpus, ControlPlane) { replay("control_plane", control_plane); }
TEST(FuzzCorpus, Netfilter) { replay("netfilter", netfilter); }

}  // namespace
}  // namespace netns::fuzz
