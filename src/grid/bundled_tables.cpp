// The bundled hourly tables under data/grid-carbon/, read through the meter's
// series reader so both layers parse Electricity Maps' exports one way.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "joule/carbon.hpp"
#include "joule/grid_forecast.hpp"
#include "joule/util.hpp"

namespace joule::grid {
namespace {

constexpr const char* kSuffix = "_2022_hourly.csv";

std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

std::vector<std::string> BundledZones(const std::string& data_dir) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(data_dir) / "grid-carbon";
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) throw Error("cannot list " + dir.string() + ": " + ec.message());
  const std::string suffix = kSuffix;
  std::vector<std::string> zones;
  for (const fs::directory_entry& e : it) {
    const std::string name = e.path().filename().string();
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      zones.push_back(name.substr(0, name.size() - suffix.size()));
    }
  }
  std::sort(zones.begin(), zones.end());
  return zones;
}

IntensitySeries LoadBundledSeries(const std::string& zone, Signal signal,
                                  const std::string& data_dir) {
  if (signal == Signal::kMarginal) {
    throw Error("bundled table of " + zone +
                ": holds average intensities (direct and lca), not marginal ones; ask for "
                "lca or direct");
  }
  const std::vector<std::string> zones = BundledZones(data_dir);
  const std::string wanted = Upper(zone);
  auto found = std::find_if(zones.begin(), zones.end(),
                            [&](const std::string& z) { return Upper(z) == wanted; });
  if (found == zones.end()) {
    throw Error("zone '" + zone + "': no bundled table in " + data_dir +
                "/grid-carbon (zones with one: " + Join(zones) + ")");
  }
  const std::string file = *found + kSuffix;
  CarbonOptions options;
  options.series_path = data_dir + "/grid-carbon/" + file;
  options.series_kind = std::string(SignalName(signal));
  const CarbonModel model = CarbonModel::Resolve(options, data_dir);

  IntensitySeries out;
  out.zone = *found;
  out.signal = signal;
  out.provenance = "bundled:" + file;
  out.points.reserve(model.series().size());
  for (const CarbonModel::SeriesPoint& p : model.series()) {
    out.points.push_back({p.unix_s, p.g_per_kwh});
  }
  if (out.points.size() >= 2) out.step_s = out.points[1].unix_s - out.points[0].unix_s;
  for (size_t i = 1; i < out.points.size(); ++i) {
    // The forecaster and window search index the series by step: a gap would
    // shift every hour after it, so it is refused here, where the file is named.
    if (std::abs(out.points[i].unix_s - out.points[i - 1].unix_s - out.step_s) > 1e-6) {
      throw Error(options.series_path + ": point " + std::to_string(i + 1) +
                  " breaks the series' step of " + std::to_string(out.step_s) +
                  " s; the bundled tables must be equally spaced");
    }
  }
  return out;
}

}  // namespace joule::grid
