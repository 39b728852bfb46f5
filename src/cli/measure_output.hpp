// What `joule measure` prints and writes: the stderr summary, the --json
// object, one --samples line, and the Prometheus metrics. (The CodeCarbon row
// is the ledger's RunToCodeCarbonRow, so that --csv and `joule runs export`
// agree.)
// Pure functions of a MeterReading and the run's facts, so that every output
// says the same thing.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "joule/carbon.hpp"
#include "joule/ledger.hpp"
#include "joule/meter.hpp"

namespace joule::cli {

struct RunFacts {
  std::vector<std::string> command;  // empty with --pid
  int pid = 0;                       // --pid target, else the child's PID
  bool attached = false;             // --pid
  int exit_code = 0;
  std::string exit_text;  // "exit 0", "killed by signal 15 (Terminated)", "stopped measuring"
  double interval_s = 1;
  std::string run_id;       // the ledger's id, or a fresh one when not recorded
  std::string ledger_path;  // "" when the run is not recorded
  std::vector<std::string> warnings;
  std::vector<std::string> source_details;  // "method: detail", one per source
};

// Several lines for stderr, ending in "\n".
std::string FormatSummary(const MeterReading& r, const CarbonModel& carbon, const RunFacts& run);

nlohmann::json SummaryJson(const MeterReading& r, const CarbonModel& carbon, const RunFacts& run);

// One record per sample for --samples: time, interval, shares, and each
// channel's power over the interval and totals so far.
nlohmann::json SampleJson(const MeterReading& r);

std::vector<PromMetric> PrometheusMetrics(const MeterReading& r, const CarbonModel& carbon);

}  // namespace joule::cli
