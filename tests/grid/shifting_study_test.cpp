#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "joule/grid_forecast.hpp"
#include "joule/util.hpp"

namespace joule::grid {
namespace {

constexpr double kHour = 3600;
constexpr double kT0 = 1640995200;  // 2022-01-01T00:00:00Z

IntensitySeries Hourly(const std::vector<double>& values, std::string zone = "TEST") {
  IntensitySeries s;
  s.zone = std::move(zone);
  s.provenance = "test:" + s.zone;
  s.step_s = kHour;
  for (size_t i = 0; i < values.size(); ++i) s.points.push_back({kT0 + i * kHour, values[i]});
  return s;
}

// Every day: 100 at 00:00, 50 at 01:00, 80 at 02:00, 200 the rest of the day;
// except that the day before the study day reads 10 at 00:00, which misleads
// persistence (and only persistence: the fitted forecaster and the profile
// see it as one odd day among 40).
TEST(ShiftingStudy, EqualsAHandComputationOnATinySeries) {
  const int days = 42, study_day = 41;
  std::vector<double> v(days * 24, 200);
  for (int d = 0; d < days; ++d) {
    v[d * 24] = 100;
    v[d * 24 + 1] = 50;
    v[d * 24 + 2] = 80;
  }
  v[(study_day - 1) * 24] = 10;
  ShiftingStudyOptions o;
  o.from_unix_s = kT0 + study_day * 24 * kHour;  // origins 00:00 and 01:00
  o.to_unix_s = o.from_unix_s + 2 * kHour;
  o.job_hours = {1};
  o.window_hours = {2};
  const ShiftingStudyResult r = RunShiftingStudy({Hourly(v)}, o);
  ASSERT_EQ(r.cells.size(), 1u);
  const ShiftingCell& c = r.cells[0];
  // Perfect: at 00:00 the choice is 100 now or 50 at 01:00: 50 % saved,
  // 50 g/kWh; at 01:00 it is 50 now or 80: stay, 0 %.
  EXPECT_EQ(c.perfect.n, 2);
  EXPECT_DOUBLE_EQ(c.perfect.mean_percent, 25);
  EXPECT_DOUBLE_EQ(c.perfect.mean_g_per_kwh, 25);
  EXPECT_DOUBLE_EQ(c.perfect.sd_percent, std::sqrt(2 * 25.0 * 25.0));
  EXPECT_DOUBLE_EQ(c.perfect.p10_percent, 5);  // 0 + 0.1 x (50 - 0)
  EXPECT_DOUBLE_EQ(c.perfect.p90_percent, 45);
  EXPECT_DOUBLE_EQ(c.perfect.share_of_perfect, 1);
  // Persistence at 00:00 forecasts [10, 50] from yesterday: stays, saves 0;
  // at 01:00 it forecasts [50, 80]: stays, saves 0.
  EXPECT_DOUBLE_EQ(c.persistence.mean_percent, 0);
  EXPECT_DOUBLE_EQ(c.persistence.share_of_perfect, 0);
  // The forecaster moves to 01:00 at 00:00 and stays at 01:00.
  EXPECT_DOUBLE_EQ(c.forecaster.mean_percent, 25);
  EXPECT_DOUBLE_EQ(c.forecaster.share_of_perfect, 1);
  EXPECT_EQ(r.provenance, std::vector<std::string>{"test:TEST"});
  EXPECT_EQ(r.signal, "lca");
}

// Perfect foresight picks with the actual series, so no method realises more
// on any origin, hence in the mean; and "now" is a candidate, so it never
// loses. Over the bundled series for a fortnight, every pair.
TEST(ShiftingStudy, PerfectForesightBoundsEveryMethodInEveryZone) {
  std::vector<IntensitySeries> zones;
  for (const std::string& z : BundledZones(DataDir())) {
    zones.push_back(LoadBundledSeries(z, Signal::kLca, DataDir()));
  }
  ASSERT_EQ(zones.size(), 6u);
  ShiftingStudyOptions o;
  o.from_unix_s = 1664582400;  // 2022-10-01
  o.to_unix_s = o.from_unix_s + 14 * 86400;
  const ShiftingStudyResult r = RunShiftingStudy(zones, o);
  // 3 jobs x 3 windows, less 8 h in a 6 h window.
  ASSERT_EQ(r.cells.size(), 6u * 8u);
  for (const ShiftingCell& c : r.cells) {
    SCOPED_TRACE(c.zone + " " + std::to_string(c.job_hours) + "/" + std::to_string(c.window_hours));
    EXPECT_EQ(c.perfect.n, 14 * 24);
    EXPECT_GE(c.perfect.mean_percent, c.forecaster.mean_percent);
    EXPECT_GE(c.perfect.mean_percent, c.persistence.mean_percent);
    EXPECT_GE(c.perfect.mean_g_per_kwh, c.forecaster.mean_g_per_kwh);
    EXPECT_GE(c.perfect.mean_g_per_kwh, c.persistence.mean_g_per_kwh);
    EXPECT_GE(c.perfect.p10_percent, 0);
    EXPECT_LE(c.forecaster.share_of_perfect, 1);
  }
}

TEST(ShiftingStudy, RefusesAnEmptyStudy) {
  const IntensitySeries s = Hourly(std::vector<double>(24 * 3, 100));
  ShiftingStudyOptions o;
  o.from_unix_s = kT0 + 30 * kHour;
  o.to_unix_s = kT0 + 40 * kHour;
  o.job_hours = {8};
  o.window_hours = {6};
  EXPECT_THROW(RunShiftingStudy({s}, o), Error);  // job longer than every window
  o.job_hours = {1};
  o.from_unix_s = kT0 + 200 * kHour;  // after the series
  o.to_unix_s = kT0 + 300 * kHour;
  EXPECT_THROW(RunShiftingStudy({s}, o), Error);
  EXPECT_THROW(RunShiftingStudy({}, o), Error);
}

TEST(BundledSeries, LoadsEveryZoneAsAFullHourlyYear) {
  const std::vector<std::string> zones = BundledZones(DataDir());
  EXPECT_EQ(zones, (std::vector<std::string>{"CA-ON", "DE", "ES", "FR", "GB", "PL"}));
  const IntensitySeries de = LoadBundledSeries("de", Signal::kLca);  // DataDir()
  EXPECT_EQ(de.zone, "DE");
  EXPECT_EQ(de.provenance, "bundled:DE_2022_hourly.csv");
  EXPECT_EQ(de.points.size(), 8760u);
  EXPECT_EQ(de.step_s, 3600);
  EXPECT_EQ(de.points.front().unix_s, kT0);
  EXPECT_DOUBLE_EQ(de.points.front().g_per_kwh, 212.91);  // the file's first LCA value
  EXPECT_DOUBLE_EQ(LoadBundledSeries("DE", Signal::kDirect, DataDir()).points[0].g_per_kwh, 162.59);
  EXPECT_THROW(LoadBundledSeries("XX", Signal::kLca, DataDir()), Error);
  EXPECT_THROW(LoadBundledSeries("DE", Signal::kMarginal, DataDir()), Error);
}

}  // namespace
}  // namespace joule::grid
