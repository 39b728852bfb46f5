#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "joule/grid_forecast.hpp"
#include "joule/util.hpp"

namespace joule::grid {
namespace {

constexpr double kHour = 3600;
constexpr double kT0 = 1656633600;  // 2022-07-01T00:00:00Z
// Means agree to this relative error between the prefix-sum search and the
// walk. Unix times near 1.7e9 s carry about 2.4e-7 s of rounding, so a job of
// at least 5 minutes sees at most ~1e-9 of its mean move; 1e-8 leaves room.
constexpr double kMaxRelativeMeanError = 1e-8;
constexpr double kShortestJobS = 300;

IntensitySeries Hourly(const std::vector<double>& values, std::string zone = "Z") {
  IntensitySeries s;
  s.zone = std::move(zone);
  s.step_s = kHour;
  for (size_t i = 0; i < values.size(); ++i) s.points.push_back({kT0 + i * kHour, values[i]});
  return s;
}

TEST(MeanIntensity, CountsPartialIntervalsProRata) {
  const IntensitySeries s = Hourly({10, 20, 40});
  EXPECT_DOUBLE_EQ(MeanIntensity(s, kT0 + 0.5 * kHour, kT0 + 1.5 * kHour), 15);
  // A quarter hour of 10, a whole hour of 20, half an hour of 40: 42.5 g/kWh x h over 1.75 h.
  EXPECT_DOUBLE_EQ(MeanIntensity(s, kT0 + 0.75 * kHour, kT0 + 2.5 * kHour),
                   (10 * 0.25 + 20 + 40 * 0.5) / 1.75);
  EXPECT_DOUBLE_EQ(MeanIntensity(s, kT0 + 1.2 * kHour, kT0 + 1.2 * kHour), 20);
  EXPECT_THROW(MeanIntensity(s, kT0 + 2 * kHour, kT0 + 3.5 * kHour), Error);
  EXPECT_THROW(MeanIntensity(s, kT0 + 2 * kHour, kT0 + kHour), Error);
}

TEST(BestWindow, PicksTheCleanestStartByHand) {
  const IntensitySeries s = Hourly({5, 4, 3, 1, 1, 9});
  const WindowChoice c = BestWindow(s, 2 * kHour, kT0, kT0 + 6 * kHour);
  EXPECT_EQ(c.start_unix_s, kT0 + 3 * kHour);
  EXPECT_DOUBLE_EQ(c.mean_g_per_kwh, 1);
  EXPECT_DOUBLE_EQ(c.now_g_per_kwh, 4.5);
  EXPECT_DOUBLE_EQ(c.saving_percent, 100.0 * 3.5 / 4.5);
  EXPECT_EQ(c.candidates, 5);  // starts at hours 0..4: the job must end by hour 6
  // A window that ends at hour 4 cannot reach the pair of ones at hours 3-4.
  const WindowChoice narrow = BestWindow(s, 2 * kHour, kT0, kT0 + 4 * kHour);
  EXPECT_EQ(narrow.start_unix_s, kT0 + 2 * kHour);
  EXPECT_DOUBLE_EQ(narrow.mean_g_per_kwh, 2);
}

TEST(BestWindow, TiesGoToTheEarliestStart) {
  const IntensitySeries s = Hourly({7, 2, 2, 2, 2});
  const WindowChoice c = BestWindow(s, kHour, kT0, kT0 + 5 * kHour);
  EXPECT_EQ(c.start_unix_s, kT0 + kHour);
}

TEST(BestWindow, MidHourNowIsACandidateThenWholeHours) {
  const IntensitySeries s = Hourly({10, 20, 0, 30});
  const double now = kT0 + 0.5 * kHour;
  const WindowChoice c = BestWindow(s, kHour, now, kT0 + 4 * kHour);
  // Candidates: 0.5 h (now), 1 h, 2 h, 3 h.
  EXPECT_EQ(c.candidates, 4);
  EXPECT_DOUBLE_EQ(c.now_g_per_kwh, 15);
  EXPECT_EQ(c.start_unix_s, kT0 + 2 * kHour);
  EXPECT_DOUBLE_EQ(c.mean_g_per_kwh, 0);
}

TEST(BestWindow, RefusesWhatItCannotAnswer) {
  const IntensitySeries s = Hourly({1, 2, 3});
  EXPECT_THROW(BestWindow(s, 4 * kHour, kT0, kT0 + 3 * kHour), Error);  // window < job
  EXPECT_THROW(BestWindow(s, 0, kT0, kT0 + 3 * kHour), Error);
  EXPECT_THROW(BestWindow(s, kHour, kT0 - kHour, kT0 + 3 * kHour), Error);  // now not covered
  IntensitySeries gap = s;
  gap.points[2].unix_s += 60;
  EXPECT_THROW(BestWindow(gap, kHour, kT0, kT0 + 3 * kHour), Error);
  EXPECT_THROW(BestWindow(IntensitySeries{}, kHour, kT0, kT0 + 3 * kHour), Error);
}

// The prefix-sum search against the reference walk and against a plain loop
// over every whole-hour start, on random series, starts, durations and windows.
TEST(BestWindow, EqualsBruteForceOnRandomSeries) {
  Rng rng(20220701);
  for (int trial = 0; trial < 400; ++trial) {
    const int n = 2 + static_cast<int>(rng.Below(60));
    std::vector<double> v(n);
    for (double& x : v) x = 20 + 600 * rng.Uniform();
    const IntensitySeries s = Hourly(v);
    const double end = kT0 + n * kHour;
    // Half the trials start on the hour, half anywhere in the series.
    const bool on_hour = trial % 2 == 0;
    const double earliest =
        on_hour ? kT0 + static_cast<double>(rng.Below(n)) * kHour : kT0 + rng.Uniform() * n * kHour;
    const double room = end - earliest;
    const double duration =
        on_hour ? kHour * static_cast<double>(1 + rng.Below(std::max<uint64_t>(
                                                      1, static_cast<uint64_t>(room / kHour))))
                : std::max(kShortestJobS, room * rng.Uniform());
    if (duration > room) continue;
    const double latest_end = earliest + duration + (room - duration) * rng.Uniform();
    const WindowChoice fast = BestWindow(s, duration, earliest, latest_end);
    const WindowChoice ref = BestWindowReference(s, duration, earliest, latest_end);
    ASSERT_EQ(fast.candidates, ref.candidates) << "trial " << trial;
    EXPECT_EQ(fast.start_unix_s, ref.start_unix_s) << "trial " << trial;
    EXPECT_NEAR(fast.mean_g_per_kwh, ref.mean_g_per_kwh,
                kMaxRelativeMeanError * ref.mean_g_per_kwh);
    EXPECT_NEAR(fast.now_g_per_kwh, ref.now_g_per_kwh, kMaxRelativeMeanError * ref.now_g_per_kwh);
    if (!on_hour) continue;
    // Whole hours: every start from `earliest` in hour steps, means as plain averages.
    const int first = static_cast<int>(std::lround((earliest - kT0) / kHour));
    const int hours = static_cast<int>(std::lround(duration / kHour));
    const int last = static_cast<int>(std::floor((latest_end - kT0) / kHour + 1e-9)) - hours;
    double best = std::numeric_limits<double>::infinity();
    int best_start = first;
    for (int st = first; st <= last; ++st) {
      double sum = 0;
      for (int h = st; h < st + hours; ++h) sum += v[h];
      if (sum / hours < best) best = sum / hours, best_start = st;
    }
    EXPECT_EQ(fast.start_unix_s, kT0 + best_start * kHour) << "trial " << trial;
    EXPECT_NEAR(fast.mean_g_per_kwh, best, kMaxRelativeMeanError * best);
  }
}

TEST(BestWindowAcrossZones, PicksTheCleanerZoneAndSavesAgainstHome) {
  const IntensitySeries home = Hourly({400, 300, 350}, "PL");
  const IntensitySeries away = Hourly({90, 60, 30}, "FR");
  const WindowChoice c = BestWindowAcrossZones({home, away}, kHour, kT0, kT0 + 3 * kHour);
  EXPECT_EQ(c.zone, "FR");
  EXPECT_EQ(c.start_unix_s, kT0 + 2 * kHour);
  EXPECT_DOUBLE_EQ(c.now_g_per_kwh, 400);
  EXPECT_DOUBLE_EQ(c.saving_percent, 100.0 * 370 / 400);
  EXPECT_THROW(BestWindowAcrossZones({}, kHour, kT0, kT0 + kHour), Error);
}

}  // namespace
}  // namespace joule::grid
