// The scheduler's plan against a brute-force search over the same forecast,
// and the pause rule of --interruptible.
#include "joule/schedule.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>

#include "joule/util.hpp"
#include "test_scratch.hpp"

namespace joule {
namespace {

using ::testing::HasSubstr;

constexpr double kHour = 3600;
constexpr double kT0 = 1656633600;  // 2022-07-01T00:00:00Z

// A series file of `hours` hourly values drawn from a seeded generator.
std::string WriteSeries(const std::string& dir, int hours, std::uint64_t seed,
                        std::vector<double>* values) {
  std::filesystem::create_directories(dir);
  std::string path = dir + "/series.csv";
  std::ofstream out(path);
  out << "timestamp,g_per_kwh\n";
  Rng rng(seed);
  for (int h = 0; h < hours; ++h) {
    // A daily wave and noise, like a grid: the cleanest hours move about.
    double v = 300 + 120 * std::sin(2 * M_PI * h / 24.0 + seed) + 80 * rng.Uniform();
    v = std::round(v * 100) / 100;  // as written: two decimals, exactly what is read back
    values->push_back(v);
    char line[64];
    std::snprintf(line, sizeof line, "%lld,%.2f\n", static_cast<long long>(kT0 + h * kHour), v);
    out << line;
  }
  return path;
}

// The plain search: every whole hour from now on, and now itself; the job's
// mean over [start, start + duration) hour by hour, pro rata at the ends.
double Mean(const std::vector<double>& v, double t0, double t1) {
  double sum = 0;
  for (double t = t0; t < t1;) {
    int h = static_cast<int>(std::floor((t - kT0) / kHour));
    double next = std::min(t1, kT0 + (h + 1) * kHour);
    sum += v[h] * (next - t);
    t = next;
  }
  return sum / (t1 - t0);
}

TEST(Plan, FromASeriesFilePicksWhatABruteForceSearchPicks) {
  std::string dir = test::TestScratchDir("schedule", true);
  int checked = 0;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    std::vector<double> v;
    std::string path = WriteSeries(dir, 96, seed, &v);
    // Start times on and off the hour over the first two days.
    for (double now = kT0 + 1800; now < kT0 + 48 * kHour; now += 3 * kHour + 1234) {
      PlanRequest req;
      req.duration_s = 4 * kHour;
      req.within_s = 12 * kHour;
      req.now_unix_s = now;
      req.zones = {"X"};
      req.source.provider = "series";
      req.source.series_path = path;
      req.source.series_zone = "X";
      Plan plan = MakePlan(req);
      double best_start = now, best = Mean(v, now, now + req.duration_s);
      double first_hour = kT0 + std::ceil((now - kT0) / kHour) * kHour;
      for (double s = first_hour; s + req.duration_s <= now + req.within_s + 1e-6; s += kHour) {
        if (s <= now) continue;
        double m = Mean(v, s, s + req.duration_s);
        if (m < best - 1e-9) {
          best = m;
          best_start = s;
        }
      }
      EXPECT_DOUBLE_EQ(plan.choice.start_unix_s, best_start) << "seed " << seed << " now " << now;
      EXPECT_NEAR(plan.choice.mean_g_per_kwh, best, 1e-6 * best);
      double now_mean = Mean(v, now, now + req.duration_s);
      EXPECT_NEAR(plan.choice.now_g_per_kwh, now_mean, 1e-6 * now_mean);
      EXPECT_EQ(plan.source, "series:series.csv");
      ++checked;
    }
  }
  EXPECT_GT(checked, 60);
}

TEST(Plan, TextShowsTheStartTheSavingAndTheSource) {
  std::string dir = test::TestScratchDir("schedule", true);
  std::vector<double> v;
  std::string path = WriteSeries(dir, 48, 3, &v);
  PlanRequest req;
  req.duration_s = 4 * kHour;
  req.within_s = 12 * kHour;
  req.now_unix_s = kT0;
  req.zones = {"X"};
  req.source.provider = "series";
  req.source.series_path = path;
  req.source.series_zone = "X";
  Plan plan = MakePlan(req);
  std::string text = PlanText(plan);
  EXPECT_THAT(text, HasSubstr("start      "));
  EXPECT_THAT(text, HasSubstr("source     series:series.csv"));
  EXPECT_THAT(text, HasSubstr("saving"));
  nlohmann::json j = PlanJson(plan);
  EXPECT_EQ(j["zone"], "X");
  EXPECT_DOUBLE_EQ(j["start_unix_s"].get<double>(), plan.choice.start_unix_s);
}

TEST(Plan, BundledZoneIsForecastByJoulesForecasterAndSaysSo) {
  PlanRequest req;
  req.duration_s = 4 * kHour;
  req.within_s = 12 * kHour;
  req.now_unix_s = kT0 + 200 * 86400.0;  // mid-January 2023: 2022's table, same hour of year
  req.zones = {"DE", "FR"};
  req.source.provider = "bundled";
  req.source.data_dir = JOULE_SOURCE_DATA_DIR;
  Plan plan = MakePlan(req);
  ASSERT_EQ(plan.forecasts.size(), 2u);
  EXPECT_THAT(plan.forecasts[0].provenance, HasSubstr("joule-forecaster"));
  EXPECT_THAT(plan.forecasts[0].provenance, HasSubstr("bundled:DE_2022_hourly.csv"));
  // France's nuclear grid is far cleaner than Germany's all year.
  EXPECT_EQ(plan.choice.zone, "FR");
  EXPECT_GT(plan.choice.saving_percent, 50);
}

TEST(Plan, BadRequestsAreOneClearLine) {
  PlanRequest req;
  req.duration_s = 4 * kHour;
  req.within_s = 2 * kHour;
  req.zones = {"DE"};
  try {
    MakePlan(req);
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("shorter than the job"));
  }
  EXPECT_THROW(ParseDurationText("soon", "--duration"), Error);
  EXPECT_DOUBLE_EQ(ParseDurationText("4h", "--duration"), 4 * kHour);
  EXPECT_DOUBLE_EQ(ParseDurationText("90m", "--duration"), 5400);
  EXPECT_DOUBLE_EQ(ParseDurationText("30", "--duration"), 30);
}

grid::IntensitySeries Seconds(std::vector<double> values) {
  grid::IntensitySeries s;
  s.step_s = 1;
  for (std::size_t i = 0; i < values.size(); ++i) s.points.push_back({100.0 + i, values[i]});
  return s;
}

TEST(PauseRule, PausesAboveTheThresholdUnlessTheDeadlineWouldBeMissed) {
  // t = 100..110: clean, clean, then dirty until 110.
  grid::IntensitySeries s = Seconds({100, 100, 500, 500, 500, 500, 500, 500, 500, 500, 100});
  PauseRule rule{300, 110, 5};                   // 5 s of work, deadline at t = 110
  EXPECT_TRUE(ShouldRun(rule, s, 100.5, 0.5));   // clean
  EXPECT_FALSE(ShouldRun(rule, s, 102.5, 2));    // dirty, 3 s of work left, 4.5 s of slack
  EXPECT_FALSE(ShouldRun(rule, s, 106.9, 2));    // 3 s left, deadline in 3.1 s
  EXPECT_TRUE(ShouldRun(rule, s, 107.0, 2));     // 3 s left, deadline in 3 s: run
  EXPECT_FALSE(ShouldRun(rule, s, 106.5, 100));  // past its declared work: still paused when dirty
  EXPECT_TRUE(ShouldRun(rule, s, 110, 100));     // ... until the deadline comes
  EXPECT_TRUE(ShouldRun(PauseRule{300, 200, 5}, s, 120, 0));  // past the end: the last value
  EXPECT_TRUE(ShouldRun(PauseRule{300, 200, 5}, s, 50, 0));   // before the start: the first
}

}  // namespace
}  // namespace joule
