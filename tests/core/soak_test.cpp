// The soak of issue 11 in miniature (bench/soak_bench runs it for ten
// minutes with 1,000 namespaces): ~50 namespaces for a few seconds of real
// time, with traffic, churn and illegal operations, then torn down. What it
// checks holds for any timing: nothing leaks, every illegal operation is
// refused and changes nothing, no stream arrives corrupt, traffic flows.
#include <gtest/gtest.h>

#include "support/soak.hpp"

namespace netns::soak {
namespace {
namespace core_soak_test {

TEST(Soak, FiftyNamespacesWithChurnLeakNothing) {
  Config config{.nets = 50,
                .duration = std::chrono::seconds(3),
                .warmup = std::chrono::seconds(1),
                .sample_every = std::chrono::seconds(1),
                .seed = 11,
                .connections_per_second = 100,
                .datagrams_per_second = 200,
                .pings_per_second = 100,
                .replacements_per_second = 10,
                .topology_ops_per_second = 100,
                .illegal_ops_per_second = 50};
  const Report r = run(config);
  SCOPED_TRACE(format_report(r));

  EXPECT_EQ(r.final_packets_in_use, 0u);
  EXPECT_EQ(r.final_leaked_holds, 0u);
  EXPECT_EQ(r.final_live_nets, 1u);  // init_net
  EXPECT_EQ(r.final_dying_nets, 0u);
  EXPECT_EQ(r.final_net_objects, 1u);
  EXPECT_EQ(r.nets_created, r.nets_freed + 1);

  EXPECT_GT(r.refusals_total, 50u);
  EXPECT_EQ(r.illegal_accepted, 0u);
  EXPECT_EQ(r.refusal_changed_state, 0u);
  EXPECT_EQ(r.legal_failed, 0u);
  EXPECT_EQ(r.routes_lost, 0u);
  EXPECT_EQ(r.stream_mismatches, 0u);
  EXPECT_GT(r.nets_replaced, 10u);

  EXPECT_GT(r.connections_completed, 50u);
  EXPECT_GT(r.server_streams_completed, 50u);
  EXPECT_GT(r.datagrams_answered, 100u);
  EXPECT_GT(r.pings_answered, 50u);
  EXPECT_GE(r.samples.size(), 2u);
  for (const Sample& s : r.samples) EXPECT_EQ(s.leaked_holds, 0u);
}

}  // namespace core_soak_test
}  // namespace
}  // namespace netns::soak
