// joule/grid_forecast.hpp: the bundled intensity tables, joule's own
// forecaster, the search for the cleanest window, and the shifting study that
// measures how much of the possible saving a forecast keeps.
//
// Layer grid (src/grid/bundled_tables.cpp, forecaster.cpp, window.cpp,
// shifting_study.cpp; library joule_grid). Nothing here touches the network:
// everything runs on series already in memory.
//
// Units as in grid.hpp: times in unix seconds (UTC), durations in seconds,
// intensity in gCO2eq/kWh. Every function is pure (no shared state) and safe
// to call from several threads at once.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "joule/grid.hpp"
#include "joule/util.hpp"

namespace joule::grid {

// ---------------------------------------------------------------------------
// Bundled tables: data_dir/grid-carbon/<ZONE>_2022_hourly.csv, Electricity
// Maps' hourly exports of 2022 (8760 points each).

// data_dir defaults to joule::DataDir() (the JOULE_DATA_DIR or the source
// tree's data/).

// The zones with a bundled table, sorted ("CA-ON", "DE", "ES", "FR", "GB",
// "PL" in this repository). Throws joule::Error when data_dir/grid-carbon
// cannot be listed.
std::vector<std::string> BundledZones(const std::string& data_dir = DataDir());

// The bundled hourly series of `zone` (as the file names it, any case), for
// signal kLca or kDirect (the file's two columns), with provenance
// "bundled:<ZONE>_2022_hourly.csv". Throws joule::Error when the zone has no
// table (the message lists the zones that have one), when signal is kMarginal
// (the tables hold averages, not marginal figures), or when the file is
// malformed or not equally spaced.
IntensitySeries LoadBundledSeries(const std::string& zone, Signal signal,
                                  const std::string& data_dir = DataDir());

// ---------------------------------------------------------------------------
// Forecaster.
//
// The forecast for the point at lead k (k = 0: the first point not yet seen)
// is the mean of two forecasts:
//   - fitted: the mean of three least-squares blends, with seasonal profiles
//     of profile_days / 2, profile_days and 2 x profile_days days. Each blends
//     a constant, the seasonal profile (the mean of the same hour of day over
//     that many days seen), yesterday's same hour, the departures of the last
//     two values seen from their profile (the anchor: a high value now means
//     high values in the next hours), a flag for a target hour on a Saturday
//     or Sunday (UTC calendar days), and the last departure times the
//     profile's change from the last hour seen to the target hour, relative to
//     the profile now (a high or low spell can deepen or flatten the daily
//     shape, not only shift it). The weights are fitted for each lead on up to
//     the last fit_days days, as if the forecast had been made at the same
//     hour of day on each of them with only the data before it; so the
//     anchor's weight falls with the lead by itself, and each hour of day gets
//     its own weights.
//   - recent: the same hour over the last recent_days days, day d back
//     weighing recent_day_weight^(d-1), plus the last value's departure from
//     that profile times anchor_decay^(k+1).
// Leads past a day use whole days further back (never an unseen point). With
// too little history to fit all three blends (under 2 x profile_days + 28
// days before the lead: 42 days with the defaults), the forecast is the recent part alone, which
// needs only one point (for an hour of day not seen yet, the last value). The defaults are the ones
// docs/carbon-aware.md measures.
struct ForecastOptions {
  int horizon_steps = 48;  // points to forecast (48 covers a 24 h window and a 24 h job)
  int profile_days = 7;
  int fit_days = 365;
  int recent_days = 21;
  double recent_day_weight = 0.85;
  double anchor_decay = 0.97;
};

// Forecasts `history` from `origin_unix_s` on. Uses only the points of
// `history` whose interval has ended by the origin (unix_s + step_s <=
// origin_unix_s): values at or after the origin never change the result. The
// forecast's points continue the history's grid: the first starts where the
// last point used ends (so it may start before a mid-step origin), then
// options.horizon_steps points of history.step_s. The result keeps zone,
// signal and unit, with provenance "joule-forecaster:seasonal+recent+anchor
// (from <history provenance>)".
//
// Throws joule::Error when no point of history ends by the origin, when the
// history is not equally spaced, when a day is not a whole number of steps,
// or when an option is out of range (horizon_steps, profile_days, fit_days,
// recent_days < 1; recent_day_weight outside (0, 1]; anchor_decay outside
// [0, 1]). About a millisecond for 48 hourly points with a year of history.
IntensitySeries Forecast(const IntensitySeries& history, double origin_unix_s,
                         const ForecastOptions& options = {});

// The persistence forecast, the baseline joule's forecaster must beat: each
// point repeats the value one day (or a whole number of days) earlier, the
// latest such value seen by the origin. Same grid, rules and errors as
// Forecast; provenance "persistence:same-hour-yesterday (from ...)". Needs at
// least one day of history ending by the origin.
IntensitySeries PersistenceForecast(const IntensitySeries& history, double origin_unix_s,
                                    int horizon_steps);

// ---------------------------------------------------------------------------
// Cleanest window.

// The time-weighted mean of `series` over [t0_unix_s, t1_unix_s): each point
// counts for the part of its interval inside, pro rata. t0 == t1 gives the
// value in force at t0. Throws joule::Error when t1 < t0 or when the series
// does not cover [t0, t1] (points[0].unix_s <= t0, t1 <= last point's end).
double MeanIntensity(const IntensitySeries& series, double t0_unix_s, double t1_unix_s);

struct WindowChoice {
  std::string zone;           // the series' zone
  double start_unix_s = 0;    // best start
  double mean_g_per_kwh = 0;  // mean forecast over [start, start + duration)
  double now_g_per_kwh = 0;   // mean forecast over [earliest, earliest + duration)
  double saving_percent = 0;  // 100 x (now - mean) / now; 0 when now is 0
  int candidates = 0;         // start times compared
};

// The start in [earliest_start_unix_s, latest_end_unix_s - duration_s] with
// the lowest mean intensity of `forecast` over [start, start + duration_s).
// Candidate starts: the earliest start itself ("now"), then every time on the
// series' grid (points[0].unix_s + j x step_s) after it, with step_s = the
// series' step when 0 is given; a candidate is kept while the job fits both
// before latest_end and inside the series. Ties go to the earliest candidate.
//
// Throws joule::Error when duration_s <= 0, step_s < 0, the window is shorter
// than the job, the series is empty or not equally spaced, or the series does
// not cover [earliest, earliest + duration] (no "now" to compare against).
// O(points + candidates): a prefix sum gives each candidate's mean.
WindowChoice BestWindow(const IntensitySeries& forecast, double duration_s,
                        double earliest_start_unix_s, double latest_end_unix_s, double step_s = 0);

// The reference for BestWindow: the same candidates and rule, each mean
// computed by MeanIntensity (a walk over the points). O(points x candidates);
// for tests.
WindowChoice BestWindowReference(const IntensitySeries& forecast, double duration_s,
                                 double earliest_start_unix_s, double latest_end_unix_s,
                                 double step_s = 0);

// The best (zone, start) over several zones' forecasts: BestWindow in each,
// then the lowest mean (ties to the earlier zone in the list). now_g_per_kwh
// and saving_percent are against starting now in the first zone, the home
// zone. Throws joule::Error when forecasts is empty, or as BestWindow for any
// zone.
WindowChoice BestWindowAcrossZones(const std::vector<IntensitySeries>& forecasts, double duration_s,
                                   double earliest_start_unix_s, double latest_end_unix_s,
                                   double step_s = 0);

// ---------------------------------------------------------------------------
// Shifting study: how much carbon moving a job within a window saves, for a
// method that picks the start from a forecast, judged on the actual series.
//
// For every forecast origin t on the series' grid in [from, to) and every
// (job, window) pair with job <= window and t + window within the series:
// each method forecasts from t (with only data before t), BestWindow picks
// the start within [t, t + window) on that forecast, and the saving is
// realised on the ACTUAL series: 100 x (A(t) - A(pick)) / A(t), where A(s) is
// the actual mean over [s, s + job). Methods: joule's forecaster, persistence,
// and perfect foresight (BestWindow on the actual series: the limit no
// forecast can pass).

enum class ShiftMethod { kForecaster, kPersistence, kPerfect };
const char* ShiftMethodName(ShiftMethod m);  // "forecaster", "persistence", "perfect"

struct SavingStats {
  int n = 0;                // origins
  double mean_percent = 0;  // mean saving, % of starting now
  double sd_percent = 0;    // sample standard deviation
  double p10_percent = 0, p50_percent = 0, p90_percent = 0;
  double mean_g_per_kwh = 0;  // mean saving in gCO2eq/kWh
  // mean_percent / the perfect method's mean_percent for the same cell (1 for
  // perfect itself; 0 when perfect saves nothing).
  double share_of_perfect = 0;
};

struct ShiftingCell {
  std::string zone;
  int job_hours = 0, window_hours = 0;
  SavingStats forecaster, persistence, perfect;
};

struct ShiftingStudyOptions {
  double from_unix_s = 1656633600;  // 2022-07-01T00:00:00Z
  double to_unix_s = 1672531200;    // 2023-01-01T00:00:00Z
  std::vector<int> job_hours = {1, 4, 8};
  std::vector<int> window_hours = {6, 12, 24};
  ForecastOptions forecaster;  // horizon_steps is set to cover the largest window
  // Called after each zone's origins with (zones done, zones in all); may be empty.
  std::function<void(int, int)> on_progress;
};

struct ShiftingStudyResult {
  std::vector<ShiftingCell> cells;      // zone-major, then job, then window, in the options' order
  std::vector<std::string> provenance;  // each series' provenance, in zone order
  std::string signal;                   // the series' signal ("lca")
};

// Runs the study over `actual` (one equally spaced hourly series per zone).
// Zones run on up to two threads. Throws joule::Error when a series is not
// hourly, when job or window hours are < 1, when a job is longer than every
// window, or when no origin in [from, to) leaves room for a window inside a
// series.
ShiftingStudyResult RunShiftingStudy(const std::vector<IntensitySeries>& actual,
                                     const ShiftingStudyOptions& options);

}  // namespace joule::grid
