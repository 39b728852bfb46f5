// joule/report.hpp: what a recorded run cost, shown to a reader. The Green
// AI card of a run (hardware, time, energy by component with each figure's
// method, carbon, the run's metric) and its Software Carbon Intensity, and
// reports of several runs (`joule report`).
//
// Report layer (src/report/*.cpp, library joule_report): above run and
// ledger, below the command line. It reads RunRecords and never measures or
// runs anything.
#pragma once

#include <string>
#include <vector>

#include "joule/run_record.hpp"

namespace joule {

// ---------------------------------------------------------------------------
// Software Carbon Intensity
// ---------------------------------------------------------------------------

// The functional unit R of the SCI: per run, per epoch, per 1000 inferences
// or per training sample.
enum class SciUnit { kRun, kEpoch, kThousandInferences, kSample };

// "run", "epoch", "1000-inferences", "sample"; the parse throws Error naming
// the accepted words.
const char* SciUnitName(SciUnit unit);
SciUnit ParseSciUnit(const std::string& text);

// The Green Software Foundation's Software Carbon Intensity:
//   SCI = (E x I + M) / R
// E: energy in kWh (here with the data centre's PUE applied, which the
// specification allows as part of E), I: carbon intensity in gCO2eq/kWh, M:
// embodied emissions in gCO2eq for the share of the hardware's life the run
// held (TE x TiR / EL: the machine's embodied carbon times the run's time over
// its lifetime), R: the number of functional units.
struct SciInputs {
  double energy_kwh = 0;           // E, PUE applied
  double intensity_g_per_kwh = 0;  // I
  double embodied_g = 0;           // M
  double units = 1;                // R, > 0
  SciUnit unit = SciUnit::kRun;
  // Which inputs are estimates, not measurements ("E: estimated:tdp-model").
  // Any entry makes the SCI an estimate.
  std::vector<std::string> estimated;
};

struct Sci {
  SciInputs inputs;
  double g_per_unit = 0;  // (E x I + M) / R
  bool estimated() const { return !inputs.estimated.empty(); }
};

// The formula. Throws Error when R is not > 0 or an input is negative or not
// finite.
Sci ComputeSci(const SciInputs& inputs);

// The SCI of a recorded run, its inputs read from the record: E from the
// energy (kWh x PUE), I the run's mean intensity, M its embodied grams, R by
// `unit` (epochs: the epochs run; 1000-inferences: a bench-infer run's
// throughput inferences; sample: training steps x batch size; run: 1).
// Estimated energy, a default (world-average) intensity and a default
// embodied figure are listed as estimated inputs. Throws Error when the run
// has no such unit ("run 3f2a...: a measure run has no epochs; use --per run").
Sci SciOf(const RunRecord& run, SciUnit unit);

// ---------------------------------------------------------------------------
// Green AI card and reports
// ---------------------------------------------------------------------------

struct ReportOptions {
  SciUnit per = SciUnit::kRun;
};

// One card per run, as Markdown: hardware, duration, energy by component (J
// and kWh, with the method of each), the process share, carbon (intensity and
// its source, PUE, operational and embodied), the run's metrics, the SCI with
// its inputs and formula. Every estimated figure is marked "(estimated: how)".
// Runs whose unit does not apply show the SCI per run, and say so.
std::string RunCardMarkdown(const RunRecord& run, const ReportOptions& options);

// A report of `runs` (at least one) as a Markdown document: a title, a
// comparison table when there are several (ratios against the first), then a
// card per run.
std::string ReportMarkdown(const std::vector<RunRecord>& runs, const ReportOptions& options);

}  // namespace joule
