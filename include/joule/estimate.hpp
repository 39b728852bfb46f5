// joule/estimate.hpp: energy and carbon of a job before it runs.
//
// Part of the run layer (src/run/estimate.cpp, library joule_run). Two ways, in
// the manner of the ML CO2 Impact and Green Algorithms calculators:
//  - from hardware: board power (a GPU's TDP from data/hardware/gpus.csv, a
//    CPU's from data/carbon/cpu_power.csv) x count x utilisation, plus RAM at
//    joule's 3 W per 8 GB, x hours;
//  - from a recorded run (--like RUN_ID): its energy and duration, scaled by
//    the ratio of epochs or samples asked for to those the run did.
// Then energy x PUE x the grid intensity of the place given (country, cloud
// region, grid region or a fixed figure, as `joule measure` takes them).
// Every figure is labelled "estimated:calculator": nothing is measured.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "joule/carbon.hpp"
#include "joule/run_record.hpp"

namespace joule {

inline constexpr const char* kCalculatorMethod = "estimated:calculator";

struct EstimateRequest {
  std::string gpu_model;        // --gpu: a name in gpus.csv (any case; vendor prefix allowed)
  int gpu_count = 1;            // --count (GPUs), >= 1
  std::string cpu_model;        // --cpu: a name in cpu_power.csv, CodeCarbon's matching
  int cpu_count = 1;            // --cpu-count (sockets), >= 1
  double ram_gb = 0;            // --ram-gb: memory the job holds, >= 0
  std::optional<double> hours;  // --hours: > 0; required unless like_run is given
  double utilisation = 1.0;     // --utilisation: share of board power drawn, in (0, 1]
  CarbonOptions carbon;         // where, and PUE; the intensity tables under data_dir
  // --like RUN_ID: the recorded run to scale; with like_epochs or like_samples
  // (not both) the factor is asked / recorded, otherwise 1.
  std::optional<RunRecord> like_run;
  std::optional<double> like_epochs, like_samples;
  std::string gpu_table, cpu_table;  // empty: the bundled tables
};

struct EstimateLine {
  std::string component;  // "gpu", "cpu", "ram", or "recorded run"
  std::string model;      // the table's name for it ("A100 SXM4"), or the run id
  int count = 1;
  double watts_each = 0;  // board power from the table (or the run's mean power)
  double utilisation = 1;
  double power_w = 0;     // watts_each x count x utilisation
  double energy_kwh = 0;  // at the hardware, before PUE
  std::string source;     // the table row or record it came from
};

struct Estimate {
  std::vector<EstimateLine> lines;
  double hours = 0;
  double energy_kwh = 0;  // at the hardware: the lines' sum
  double pue = 1;
  double facility_kwh = 0;  // energy_kwh x PUE
  double intensity_g_per_kwh = 0;
  std::string intensity_source;
  double co2_g = 0;  // facility_kwh x intensity
  std::string method = kCalculatorMethod;
  std::string basis;  // one sentence: how the figure was made
};

// Throws joule::Error, naming the flag, when: neither hardware nor a run is
// given, or both; a model is not in its table (the message lists the closest
// names); a number is out of range; hours are missing without a run; the
// carbon options are invalid (as CarbonModel::Resolve says).
Estimate EstimateJob(const EstimateRequest& request, const std::string& data_dir);

// The estimate as lines of text and as JSON (the figures under the keys the
// text names).
std::string EstimateText(const Estimate& estimate);
nlohmann::json EstimateJson(const Estimate& estimate);

}  // namespace joule
