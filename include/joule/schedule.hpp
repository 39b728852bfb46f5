// joule/schedule.hpp: carbon-aware scheduling. When (and where) a job of a
// given length should start so that it ends within a window, from a forecast
// of the grid's intensity; and running it then, measured, optionally pausing
// it while the grid is dirtier than a threshold.
//
// Part of the run layer (src/run/schedule.cpp, library joule_run): a pipeline
// over the grid layer (sources, forecaster, window search) and the measured
// command (RunMeasureJob). Times are unix seconds (UTC), durations seconds,
// intensities gCO2eq/kWh.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "joule/grid_forecast.hpp"
#include "joule/grid_providers.hpp"
#include "joule/run.hpp"

namespace joule {

struct PlanRequest {
  double duration_s = 0;  // the job's length, > 0
  double within_s = 0;    // it must end by now + within_s; >= duration_s
  double now_unix_s = 0;  // when the plan is made; 0: the wall clock
  // The zones to compare; the first is home, where "starting now" is priced.
  // With a series file (source.provider "series") one zone, the file's.
  std::vector<std::string> zones;
  grid::ProviderChoice source;
};

struct Plan {
  double now_unix_s = 0, duration_s = 0, within_s = 0;
  grid::WindowChoice choice;
  // The forecast each zone was planned on, in request order. A provider's own
  // forecast when it has one; otherwise joule's forecaster over the source's
  // history (provenance "joule-forecaster:... (from ...)"); a series file is
  // taken as the forecast itself.
  std::vector<grid::IntensitySeries> forecasts;
  std::string source;  // the chosen zone's forecast provenance
};

// Makes the plan. Throws joule::Error (one line) when the numbers are out of
// range, no zone is given, a source cannot answer (after its fallback), or the
// forecast does not cover the job started now.
Plan MakePlan(const PlanRequest& request);

// The plan as text (start, zone, means, saving, source, and the forecast as a
// row of bars with the chosen window marked) and as JSON.
std::string PlanText(const Plan& plan);
nlohmann::json PlanJson(const Plan& plan);

// --interruptible: whether the job should be running at `now_unix_s`, having
// run `active_s` seconds of its `work_s`: yes when the intensity in force
// then is at most `max_g_per_kwh`, or when a pause now could not be made up
// before `deadline_unix_s` (now + the work left >= deadline). Outside the
// series the nearest end's value holds.
struct PauseRule {
  double max_g_per_kwh = 0;
  double deadline_unix_s = 0;
  double work_s = 0;
};
bool ShouldRun(const PauseRule& rule, const grid::IntensitySeries& series, double now_unix_s,
               double active_s);

struct ScheduledJob {
  PlanRequest plan;
  MeasureJob measure;  // the command and how to measure it
  bool interruptible = false;
  double max_g_per_kwh = 0;  // with interruptible
  // One line at each step (the wait, each pause and resume); may be empty.
  std::function<void(const std::string&)> on_progress;
};

struct ScheduledResult {
  Plan plan;
  bool cancelled = false;  // SIGINT or SIGTERM while waiting: nothing ran
  double waited_s = 0;
  MeasureResult measure;
  std::vector<std::pair<double, double>> pauses;  // [from, to] unix seconds
  double realised_g_per_kwh = 0;                  // mean intensity over the run, from the source
  std::string realised_source;
  double realised_co2_g = 0;  // the run's energy x PUE x realised intensity
};

// Plans, waits for the start (SIGINT/SIGTERM while waiting cancel cleanly:
// nothing runs, nothing is recorded), runs and measures the command as
// `joule measure` does, pausing its process group (SIGSTOP/SIGCONT) while the
// intensity is above the threshold when interruptible, and records in the
// ledger, under the run's metrics "schedule": the plan (start, zone, forecast
// mean, saving, source), the wait, the pauses, and the realised intensity and
// gCO2eq. Throws as MakePlan and RunMeasureJob.
ScheduledResult RunScheduledJob(ScheduledJob job);

// "60s", "5m", "4h", "1.5h" or plain seconds ("90", "0.5"), > 0; throws
// Error naming `flag`.
double ParseDurationText(const std::string& text, const std::string& flag);

}  // namespace joule
