// Intensity from files: the bundled 2022 hourly tables (data/grid-carbon/) and
// a user's series file, both read by the meter's series reader through
// CarbonModel, so there is one parser of these formats.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>

#include "grid/iso_time.hpp"
#include "joule/carbon.hpp"
#include "joule/grid_forecast.hpp"
#include "joule/grid_providers.hpp"
#include "joule/util.hpp"

namespace joule::grid {

namespace {

constexpr double kHour = 3600;
constexpr std::size_t kHoursIn2022 = 8760;
constexpr double kStart2022 = 1640995200;  // 2022-01-01T00:00:00Z

std::string TablesDir(const std::string& data_dir) {
  return (data_dir.empty() ? DataDir() : data_dir) + "/grid-carbon";
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string TableName(const std::string& zone) { return Upper(zone) + "_2022_hourly.csv"; }

double WallClock() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::vector<CarbonModel::SeriesPoint> ReadSeries(const std::string& path, Signal signal,
                                                 const std::string& data_dir) {
  if (signal == Signal::kMarginal) {
    throw Error(path + ": holds average intensities (direct or lca), not a marginal signal");
  }
  CarbonOptions options;
  options.series_path = path;
  options.series_kind = signal == Signal::kDirect ? "direct" : "lca";
  return CarbonModel::Resolve(options, data_dir).series();
}

// The 2022 tables answer for any year: the value at the same hour of the year.
class BundledSource : public IntensitySource {
 public:
  BundledSource(Signal signal, std::string data_dir, std::function<double()> clock)
      : signal_(signal), data_dir_(std::move(data_dir)), clock_(std::move(clock)) {
    if (signal == Signal::kMarginal) {
      throw Error("bundled: the tables hold direct and lca intensities, not marginal");
    }
  }

  std::string name() const override { return "bundled"; }

  IntensitySeries History(const std::string& zone, double t0, double t1) override {
    if (!(t1 > t0)) throw Error("bundled: empty time window");
    const auto& table = Table(zone);
    IntensitySeries s = Header(zone);
    bool outside = false;
    for (double h = std::ceil(t0 / kHour) * kHour; h < t1; h += kHour) {
      s.points.push_back({h, At(table, h, outside)});
    }
    if (s.points.empty()) throw Error("bundled: no hour starts in the asked window");
    if (outside) s.provenance += " (2022 values at the same hour of the year)";
    return s;
  }

  IntensitySeries Latest(const std::string& zone) override {
    const double now = clock_ ? clock_() : WallClock();
    const double h = std::floor(now / kHour) * kHour;
    return History(zone, h, h + kHour);
  }

  std::optional<IntensitySeries> Forecast(const std::string&, double, double) override {
    return std::nullopt;
  }

 private:
  IntensitySeries Header(const std::string& zone) const {
    IntensitySeries s;
    s.zone = Upper(zone);
    s.signal = signal_;
    s.step_s = kHour;
    s.provenance = "bundled:" + TableName(zone);
    return s;
  }

  static double At(const std::vector<IntensityPoint>& table, double h, bool& outside) {
    const double year_start = detail::StartOfYear(h);
    outside = outside || year_start != kStart2022;
    // 31 December of a leap year has no 2022 counterpart: keep the last hour.
    const auto hour =
        std::min(static_cast<std::size_t>((h - year_start) / kHour), kHoursIn2022 - 1);
    return table[hour].g_per_kwh;
  }

  const std::vector<IntensityPoint>& Table(const std::string& zone) {
    const std::string key = Upper(zone);
    if (auto it = tables_.find(key); it != tables_.end()) return it->second;
    IntensitySeries table =
        LoadBundledSeries(zone, signal_, data_dir_.empty() ? DataDir() : data_dir_);
    // The hour-of-year lookup relies on a full, gap-free 2022.
    if (table.points.size() != kHoursIn2022 || table.points.front().unix_s != kStart2022) {
      throw Error(table.provenance + ": expected the 8760 hours of 2022, found " +
                  std::to_string(table.points.size()) + " points");
    }
    return tables_.emplace(key, std::move(table.points)).first->second;
  }

  Signal signal_;
  std::string data_dir_;
  std::function<double()> clock_;
  std::map<std::string, std::vector<IntensityPoint>> tables_;
};

class SeriesFileSource : public IntensitySource {
 public:
  SeriesFileSource(const std::string& path, std::string zone, Signal signal)
      : zone_(std::move(zone)) {
    series_.zone = zone_;
    series_.signal = signal;
    series_.provenance = "series:" + std::filesystem::path(path).filename().string();
    for (const auto& p : ReadSeries(path, signal, ""))
      series_.points.push_back({p.unix_s, p.g_per_kwh});
    // The reader keeps each value until the next one; the step is the first gap.
    series_.step_s =
        series_.points.size() > 1 ? series_.points[1].unix_s - series_.points[0].unix_s : kHour;
  }

  std::string name() const override { return "series"; }

  IntensitySeries History(const std::string& zone, double t0, double t1) override {
    CheckZone(zone);
    IntensitySeries s = series_;
    s.points.clear();
    for (const auto& p : series_.points) {
      if (p.unix_s >= t0 && p.unix_s < t1) s.points.push_back(p);
    }
    if (s.points.empty()) {
      throw Error(series_.provenance + ": covers " +
                  detail::FormatIsoTime(series_.points.front().unix_s) + ".." +
                  detail::FormatIsoTime(series_.points.back().unix_s) + ", not the asked window");
    }
    return s;
  }

  IntensitySeries Latest(const std::string& zone) override {
    CheckZone(zone);
    const double now = WallClock();
    const auto& pts = series_.points;
    if (now < pts.front().unix_s || now >= pts.back().unix_s + series_.step_s) {
      throw Error(series_.provenance + ": covers " + detail::FormatIsoTime(pts.front().unix_s) +
                  ".." + detail::FormatIsoTime(pts.back().unix_s) + ", not now");
    }
    auto it = std::upper_bound(pts.begin(), pts.end(), now,
                               [](double t, const IntensityPoint& p) { return t < p.unix_s; });
    IntensitySeries s = series_;
    s.points = {*(it - 1)};
    return s;
  }

  std::optional<IntensitySeries> Forecast(const std::string&, double, double) override {
    return std::nullopt;
  }

 private:
  void CheckZone(const std::string& zone) const {
    if (zone != zone_) {
      throw Error(series_.provenance + ": holds zone " + zone_ + ", not " + zone);
    }
  }

  std::string zone_;
  IntensitySeries series_;
};

}  // namespace

bool HasBundledTable(const std::string& zone, const std::string& data_dir) {
  if (zone.empty() || zone.find('/') != std::string::npos) return false;
  try {
    return std::filesystem::exists(TablesDir(data_dir) + "/" + TableName(zone));
  } catch (const Error&) {
    return false;
  }
}

std::unique_ptr<IntensitySource> MakeBundledSource(Signal signal, std::string data_dir,
                                                   std::function<double()> clock) {
  return std::make_unique<BundledSource>(signal, std::move(data_dir), std::move(clock));
}

std::unique_ptr<IntensitySource> MakeSeriesFileSource(const std::string& path,
                                                      const std::string& zone, Signal signal) {
  return std::make_unique<SeriesFileSource>(path, zone, signal);
}

}  // namespace joule::grid
