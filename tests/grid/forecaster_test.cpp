#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "joule/grid_forecast.hpp"
#include "joule/util.hpp"

namespace joule::grid {
namespace {

constexpr double kHour = 3600;
constexpr double kT0 = 1640995200;  // 2022-01-01T00:00:00Z
// A perfectly daily series is reproduced to this many g/kWh (the fit's ridge
// and rounding are all that separate it from exact).
constexpr double kMaxPeriodicError = 1e-6;

IntensitySeries Hourly(const std::vector<double>& values) {
  IntensitySeries s;
  s.zone = "TEST";
  s.provenance = "test";
  s.step_s = kHour;
  for (size_t i = 0; i < values.size(); ++i) s.points.push_back({kT0 + i * kHour, values[i]});
  return s;
}

// A grid-like series: a daily shape, a weekly one, a slow drift and noise.
IntensitySeries Realistic(int days, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<double> v(days * 24);
  double weather = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    weather = 0.95 * weather + 8 * rng.Normal();
    const double hour = static_cast<double>(i % 24), day = static_cast<double>(i / 24 % 7);
    v[i] = 300 + 80 * std::sin(2 * M_PI * hour / 24) - (day >= 5 ? 40 : 0) + weather;
  }
  return Hourly(v);
}

double DailyShape(size_t i) {
  const double h = static_cast<double>(i % 24);
  return 250 + 120 * std::sin(2 * M_PI * h / 24) + 30 * std::cos(4 * M_PI * h / 24);
}

TEST(Forecast, ReproducesAPerfectlyDailySeries) {
  std::vector<double> v(200 * 24);
  for (size_t i = 0; i < v.size(); ++i) v[i] = DailyShape(i);
  const IntensitySeries s = Hourly(v);
  // Long enough to fit (day 190) and too short to fit (day 3): both exact.
  for (int day : {190, 3}) {
    const double origin = kT0 + day * 24 * kHour + 5 * kHour;
    const IntensitySeries f = Forecast(s, origin);
    ASSERT_EQ(f.points.size(), 48u);
    for (size_t k = 0; k < f.points.size(); ++k) {
      const size_t i = static_cast<size_t>(day * 24 + 5) + k;
      EXPECT_NEAR(f.points[k].g_per_kwh, DailyShape(i), kMaxPeriodicError)
          << "day " << day << " lead " << k;
    }
  }
}

// Values at and after the origin, and the point still in force at a mid-hour
// origin, must not change the forecast: bit for bit.
TEST(Forecast, UsesNoDataAtOrAfterTheOrigin) {
  const IntensitySeries s = Realistic(220, 7);
  for (double origin : {kT0 + 200 * 24 * kHour, kT0 + (200 * 24 + 13) * kHour,
                        kT0 + (180 * 24 + 7.5) * kHour, kT0 + 30 * 24 * kHour}) {
    IntensitySeries changed = s;
    Rng rng(11);
    for (IntensityPoint& p : changed.points) {
      if (p.unix_s + s.step_s > origin) p.g_per_kwh = 1000 * rng.Uniform();
    }
    const IntensitySeries a = Forecast(s, origin), b = Forecast(changed, origin);
    const IntensitySeries pa = PersistenceForecast(s, origin, 48),
                          pb = PersistenceForecast(changed, origin, 48);
    ASSERT_EQ(a.points.size(), b.points.size());
    for (size_t k = 0; k < a.points.size(); ++k) {
      EXPECT_EQ(a.points[k].g_per_kwh, b.points[k].g_per_kwh) << "origin " << origin << " k " << k;
      EXPECT_EQ(pa.points[k].g_per_kwh, pb.points[k].g_per_kwh);
    }
    // And the future does matter to the test: a series cut at the origin gives the same.
    IntensitySeries cut = s;
    while (!cut.points.empty() && cut.points.back().unix_s + s.step_s > origin)
      cut.points.pop_back();
    const IntensitySeries c = Forecast(cut, origin);
    for (size_t k = 0; k < a.points.size(); ++k) {
      EXPECT_EQ(a.points[k].g_per_kwh, c.points[k].g_per_kwh);
    }
  }
}

TEST(Forecast, ContinuesTheHistorysGrid) {
  const IntensitySeries s = Realistic(60, 3);
  const double origin = kT0 + (40 * 24 + 6.25) * kHour;  // mid-hour
  ForecastOptions o;
  o.horizon_steps = 30;
  const IntensitySeries f = Forecast(s, origin, o);
  ASSERT_EQ(f.points.size(), 30u);
  // The point 06:00-07:00 has not ended at 06:15: it is the first forecast.
  EXPECT_EQ(f.points.front().unix_s, kT0 + (40 * 24 + 6) * kHour);
  EXPECT_EQ(f.points.back().unix_s, kT0 + (40 * 24 + 35) * kHour);
  EXPECT_EQ(f.zone, "TEST");
  EXPECT_EQ(f.provenance, "joule-forecaster:seasonal+recent+anchor (from test)");
  for (const IntensityPoint& p : f.points) EXPECT_TRUE(std::isfinite(p.g_per_kwh));
}

TEST(Forecast, BeatsPersistenceOnANoisyDailySeries) {
  // Mean absolute error over many origins: the forecaster averages the noise
  // that persistence copies.
  const IntensitySeries s = Realistic(260, 5);
  double err_forecast = 0, err_persistence = 0;
  for (int day = 200; day < 250; ++day) {
    const double origin = kT0 + (day * 24 + 9) * kHour;
    const IntensitySeries f = Forecast(s, origin), p = PersistenceForecast(s, origin, 48);
    for (size_t k = 0; k < 24; ++k) {
      const double truth = s.points[day * 24 + 9 + k].g_per_kwh;
      err_forecast += std::abs(f.points[k].g_per_kwh - truth);
      err_persistence += std::abs(p.points[k].g_per_kwh - truth);
    }
  }
  EXPECT_LT(err_forecast, 0.8 * err_persistence);
}

// A series whose weekends sit 60 g/kWh below its weekdays: forecast from a
// Friday evening, the Saturday ahead comes out well below the daily shape,
// which only the weekend flag of the fit can tell (the profile, yesterday and
// the latest departures all come from weekdays or mix both kinds of day).
// The fitted half gets the whole drop, the recent half about a quarter of it;
// without the flag the forecast was about 9 g/kWh below, with it about 32.
TEST(Forecast, ForeseesAWeekendDrop) {
  constexpr double kDrop = 60;
  std::vector<double> v(200 * 24);
  Rng rng(19);
  for (size_t i = 0; i < v.size(); ++i) {
    const long day = static_cast<long>(kT0 / 86400) + static_cast<long>(i / 24);
    const bool weekend = (day + 3) % 7 >= 5;  // 1970-01-01 was a Thursday
    v[i] = DailyShape(i) - (weekend ? kDrop : 0) + rng.Normal();
  }
  const IntensitySeries s = Hourly(v);
  // 2022-01-01 was a Saturday: day 188 (2022-07-08) is a Friday.
  const double origin = kT0 + (188 * 24 + 18) * kHour;
  const IntensitySeries f = Forecast(s, origin);
  double below = 0;
  for (size_t k = 6; k < 30; ++k) below += DailyShape(188 * 24 + 18 + k) - f.points[k].g_per_kwh;
  below /= 24;
  EXPECT_GT(below, 25) << "Saturday forecast only " << below << " g/kWh below the weekday shape";
  EXPECT_LT(below, kDrop + 5);
}

TEST(PersistenceForecast, RepeatsTheLatestDaySeen) {
  std::vector<double> v(72);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);
  const IntensitySeries s = Hourly(v);
  const IntensitySeries p = PersistenceForecast(s, kT0 + 50 * kHour, 30);
  EXPECT_EQ(p.points[0].g_per_kwh, 26);   // hour 50 <- hour 26
  EXPECT_EQ(p.points[23].g_per_kwh, 49);  // hour 73 <- hour 49
  EXPECT_EQ(p.points[24].g_per_kwh, 26);  // hour 74 <- hour 26, two days back
  EXPECT_THROW(PersistenceForecast(s, kT0 + 10 * kHour, 24), Error);
}

TEST(Forecast, RefusesWhatItCannotForecast) {
  const IntensitySeries s = Realistic(3, 1);
  EXPECT_THROW(Forecast(s, kT0), Error);  // nothing seen
  ForecastOptions o;
  o.horizon_steps = 0;
  EXPECT_THROW(Forecast(s, kT0 + 30 * kHour, o), Error);
  IntensitySeries odd = s;
  odd.step_s = 7 * 60;  // 7 minutes do not divide a day
  for (size_t i = 0; i < odd.points.size(); ++i) odd.points[i].unix_s = kT0 + i * odd.step_s;
  EXPECT_THROW(Forecast(odd, kT0 + 30 * kHour), Error);
  // Less than a day seen: the last value.
  const IntensitySeries f = Forecast(s, kT0 + 5 * kHour);
  EXPECT_EQ(f.points[0].g_per_kwh, s.points[4].g_per_kwh);
}

}  // namespace
}  // namespace joule::grid
