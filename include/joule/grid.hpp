// joule/grid.hpp: the electricity grid's carbon intensity over time, for
// planning when and where a job runs.
//
// Layer grid (sources in src/grid/, library joule_grid), above meter: the
// meter's CarbonModel prices energy already drawn; this layer answers "what
// will the intensity be, and when is it lowest": intensity sources (the bundled
// hourly tables, a series file, live providers over HTTPS), joule's own
// forecaster, the search for the cleanest window, and the shifting study.
//
// Units: times in unix seconds (UTC), durations in seconds, intensity in
// gCO2eq/kWh.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace joule::grid {

// What an intensity counts. Direct: stack emissions of the generation mix;
// LCA: life-cycle emissions of the mix (Electricity Maps' default); marginal:
// emissions of the generator that would answer one more kWh (WattTime's MOER).
enum class Signal { kDirect, kLca, kMarginal };
std::string_view SignalName(Signal s);  // "direct", "lca", "marginal"

struct IntensityPoint {
  double unix_s = 0;     // start of the interval the value holds for
  double g_per_kwh = 0;  // for kMarginal from WattTime's index: see IntensitySeries::unit
};

// A run of values for one zone, equally spaced: point i holds for
// [points[i].unix_s, points[i].unix_s + step_s).
struct IntensitySeries {
  std::string zone;  // as the source names it: "DE", "GB", "CAISO_NORTH"
  Signal signal = Signal::kLca;
  double step_s = 3600;
  // Where the values came from, shown beside every figure made from them:
  // "bundled:DE_2022_hourly.csv", "electricitymaps:forecast",
  // "joule-forecaster:seasonal+recent", "fallback:bundled:... (electricitymaps:
  // HTTP 401 ...)". A fallback says it is one and why.
  std::string provenance;
  // "gCO2eq/kWh" unless the provider gives something else (WattTime's signal
  // index: "percent", 0-100, lower is cleaner); plans compare like with like.
  std::string unit = "gCO2eq/kWh";
  std::vector<IntensityPoint> points;  // strictly increasing unix_s
};

}  // namespace joule::grid
