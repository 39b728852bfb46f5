// Fuzzes the carbon-intensity series reader behind `--intensity-series`
// (plain `timestamp,g_per_kwh` and Electricity Maps exports): the meter's
// carbon_series::ParseSeries, with both columns an Electricity Maps file
// offers ("direct" and "lca").
//
// Input: the file's text. A joule::Error is the expected outcome for bad
// input; anything else is a bug.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "joule/util.hpp"
#include "meter/carbon_series.hpp"

namespace {

// The one call into joule (repoint here if the reader is renamed).
void ReadSeries(const std::string& text, const std::string& kind) {
  auto series = joule::carbon_series::ParseSeries("/fuzz/series.csv", text, kind);
  // The contract every caller relies on: at least one point, strictly increasing times.
  if (series.points.empty()) std::abort();
  for (std::size_t i = 1; i < series.points.size(); ++i) {
    if (!(series.points[i].unix_s > series.points[i - 1].unix_s)) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  for (const char* kind : {"direct", "lca"}) {
    try {
      ReadSeries(text, kind);
    } catch (const joule::Error&) {
    }
  }
  return 0;
}
