// bench/support/ratio_reporter.hpp — ratios between benchmarks of one run.
//
// Practice 11: each comparison is made in one run. This console reporter
// remembers the time of every benchmark it prints and, at the end, prints the
// ratios a program asked for (e.g. create+destroy at 100,000 alive over at 1),
// so a ratio never mixes figures from two runs. With repetitions it uses the
// median aggregate; without, the single run.
//
//   bench::RatioReporter reporter;
//   reporter.add_ratio("flatness", "BM_CreateDestroyNet/100000", "BM_CreateDestroyNet/1");
//   benchmark::RunSpecifiedBenchmarks(&reporter);
#pragma once

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace bench {

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  RatioReporter()
      : benchmark::ConsoleReporter(isatty(STDOUT_FILENO) ? OO_ColorTabular : OO_Tabular) {}

  // Prints numerator / denominator (real time per iteration) after the table.
  void add_ratio(std::string label, std::string numerator, std::string denominator) {
    ratios_.push_back({std::move(label), std::move(numerator), std::move(denominator)});
  }

  // Seconds per iteration of a benchmark of this run; negative when absent.
  double seconds(const std::string& name) const {
    auto it = seconds_.find(name);
    return it == seconds_.end() ? -1.0 : it->second;
  }

  void ReportRuns(const std::vector<Run>& reports) override {
    for (const Run& run : reports) {
      if (run.error_occurred) continue;
      // function/args only: repetitions, min_time and manual_time do not rename it.
      std::string name = run.run_name.function_name;
      if (!run.run_name.args.empty()) name += "/" + run.run_name.args;
      double s = run.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(run.time_unit);
      if (run.run_type == Run::RT_Aggregate) {
        if (run.aggregate_name == "median") seconds_[name] = s, from_median_[name] = true;
      } else if (!from_median_[name]) {
        seconds_[name] = s;  // the last repetition, until a median arrives
      }
    }
    ConsoleReporter::ReportRuns(reports);
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    if (ratios_.empty()) return;
    std::printf("\nRatios (real time per iteration, this run%s):\n",
                any_median() ? ", medians of the repetitions" : "");
    for (const Ratio& r : ratios_) {
      double n = seconds(r.numerator), d = seconds(r.denominator);
      if (n < 0 || d <= 0) {
        std::printf("  %-34s n/a (%s or %s not run)\n", r.label.c_str(), r.numerator.c_str(),
                    r.denominator.c_str());
        continue;
      }
      std::printf("  %-34s %10.3f   (%s / %s)\n", r.label.c_str(), n / d, r.numerator.c_str(),
                  r.denominator.c_str());
    }
    std::fflush(stdout);
  }

 private:
  bool any_median() const {
    for (const auto& [name, median] : from_median_) {
      if (median) return true;
    }
    return false;
  }
  struct Ratio {
    std::string label, numerator, denominator;
  };
  std::vector<Ratio> ratios_;
  std::map<std::string, double> seconds_;
  std::map<std::string, bool> from_median_;
};

}  // namespace bench
