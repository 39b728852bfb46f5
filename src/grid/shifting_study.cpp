// The shifting study: at every hour of a period, pick a start for a job from
// a forecast made with only the data before that hour, and judge the pick on
// what the grid actually did. See grid_forecast.hpp for the definitions.
#include <algorithm>
#include <array>
#include <cmath>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "grid/series_grid.hpp"
#include "joule/grid_forecast.hpp"
#include "joule/util.hpp"

namespace joule::grid {
namespace {

constexpr double kHourS = 3600;

struct Pair {
  int job_h, window_h;
};

// Savings in % and in g/kWh of one method for one (job, window) pair.
struct Samples {
  std::vector<double> percent, g_per_kwh;
};

// The linearly interpolated q-quantile of sorted values.
double Quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

SavingStats Summarise(const Samples& s) {
  SavingStats st;
  st.n = static_cast<int>(s.percent.size());
  if (st.n == 0) return st;
  double sum = 0, sum_g = 0;
  for (size_t i = 0; i < s.percent.size(); ++i) {
    sum += s.percent[i];
    sum_g += s.g_per_kwh[i];
  }
  st.mean_percent = sum / st.n;
  st.mean_g_per_kwh = sum_g / st.n;
  double ss = 0;
  for (double v : s.percent) ss += (v - st.mean_percent) * (v - st.mean_percent);
  st.sd_percent = st.n > 1 ? std::sqrt(ss / (st.n - 1)) : 0.0;
  std::vector<double> sorted = s.percent;
  std::sort(sorted.begin(), sorted.end());
  st.p10_percent = Quantile(sorted, 0.1);
  st.p50_percent = Quantile(sorted, 0.5);
  st.p90_percent = Quantile(sorted, 0.9);
  return st;
}

// The points [first, first + count) of a series, as a series of their own.
IntensitySeries Slice(const IntensitySeries& s, size_t first, size_t count) {
  IntensitySeries out;
  out.zone = s.zone;
  out.signal = s.signal;
  out.step_s = s.step_s;
  out.unit = s.unit;
  out.provenance = s.provenance;
  out.points.assign(s.points.begin() + static_cast<long>(first),
                    s.points.begin() + static_cast<long>(first + count));
  return out;
}

// One zone: every origin, every pair, the three methods.
std::vector<ShiftingCell> StudyZone(const IntensitySeries& actual, const std::vector<Pair>& pairs,
                                    const ShiftingStudyOptions& options) {
  CheckEquallySpaced(actual, "shifting study");
  if (std::abs(actual.step_s - kHourS) > 1e-9) {
    throw Error("shifting study: series " + actual.zone + " has a step of " +
                std::to_string(actual.step_s) + " s; the study needs an hourly series");
  }
  const long n = static_cast<long>(actual.points.size());
  const double t0 = actual.points.front().unix_s;
  int max_window = 0;
  for (const Pair& p : pairs) max_window = std::max(max_window, p.window_h);
  // prefix[i]: sum of the first i actual values (the realised means come from it).
  std::vector<double> prefix(n + 1, 0.0);
  for (long i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + actual.points[i].g_per_kwh;
  auto actual_mean = [&](long first, int hours) {
    return (prefix[first + hours] - prefix[first]) / hours;
  };

  // Origins need a whole day of history (persistence has nothing before).
  const long first =
      std::max<long>(24, static_cast<long>(std::ceil((options.from_unix_s - t0) / kHourS)));
  const long end =
      std::min<long>(n, static_cast<long>(std::ceil((options.to_unix_s - t0) / kHourS)));
  ForecastOptions fopt = options.forecaster;
  fopt.horizon_steps = max_window;
  std::vector<std::array<Samples, 3>> samples(pairs.size());
  for (long o = first; o < end; ++o) {
    const double origin = t0 + static_cast<double>(o) * kHourS;
    const IntensitySeries joule = Forecast(actual, origin, fopt);
    const IntensitySeries persistence = PersistenceForecast(actual, origin, max_window);
    for (size_t c = 0; c < pairs.size(); ++c) {
      const Pair& p = pairs[c];
      if (o + p.window_h > n) continue;
      const IntensitySeries truth = Slice(actual, static_cast<size_t>(o), p.window_h);
      const double now = actual_mean(o, p.job_h);
      const IntensitySeries* picks_from[3] = {&joule, &persistence, &truth};
      for (int m = 0; m < 3; ++m) {
        const WindowChoice w =
            BestWindow(*picks_from[m], p.job_h * kHourS, origin, origin + p.window_h * kHourS);
        const long start = o + std::lround((w.start_unix_s - origin) / kHourS);
        const double realised = actual_mean(start, p.job_h);
        samples[c][m].percent.push_back(now > 0 ? 100.0 * (now - realised) / now : 0.0);
        samples[c][m].g_per_kwh.push_back(now - realised);
      }
    }
  }
  std::vector<ShiftingCell> cells;
  for (size_t c = 0; c < pairs.size(); ++c) {
    ShiftingCell cell;
    cell.zone = actual.zone;
    cell.job_hours = pairs[c].job_h;
    cell.window_hours = pairs[c].window_h;
    cell.forecaster = Summarise(samples[c][0]);
    cell.persistence = Summarise(samples[c][1]);
    cell.perfect = Summarise(samples[c][2]);
    const double limit = cell.perfect.mean_percent;
    for (SavingStats* s : {&cell.forecaster, &cell.persistence, &cell.perfect}) {
      s->share_of_perfect = limit > 0 ? s->mean_percent / limit : 0.0;
    }
    if (cell.perfect.n == 0) {
      throw Error("shifting study: zone " + actual.zone +
                  ": no origin in the period leaves room "
                  "for a " +
                  std::to_string(pairs[c].window_h) +
                  " h window inside the series; widen --from/--to");
    }
    cells.push_back(cell);
  }
  return cells;
}

}  // namespace

const char* ShiftMethodName(ShiftMethod m) {
  switch (m) {
    case ShiftMethod::kForecaster:
      return "forecaster";
    case ShiftMethod::kPersistence:
      return "persistence";
    case ShiftMethod::kPerfect:
      return "perfect";
  }
  return "forecaster";
}

ShiftingStudyResult RunShiftingStudy(const std::vector<IntensitySeries>& actual,
                                     const ShiftingStudyOptions& options) {
  if (actual.empty()) throw Error("shifting study: no zone's series given");
  for (int h : options.job_hours) {
    if (h < 1) throw Error("shifting study: job of " + std::to_string(h) + " h; must be >= 1");
  }
  for (int h : options.window_hours) {
    if (h < 1) throw Error("shifting study: window of " + std::to_string(h) + " h; must be >= 1");
  }
  std::vector<Pair> pairs;
  for (int j : options.job_hours) {
    for (int w : options.window_hours) {
      if (j <= w) pairs.push_back({j, w});
    }
  }
  if (pairs.empty()) {
    throw Error(
        "shifting study: every job is longer than every window; give a window at least "
        "as long as a job");
  }
  if (!(options.from_unix_s < options.to_unix_s)) {
    throw Error("shifting study: the period's start is not before its end");
  }
  for (const IntensitySeries& s : actual) {
    if (s.points.empty()) throw Error("shifting study: series " + s.zone + " is empty");
  }

  // Zones are independent; two threads halve the wall time on the study's
  // machines without oversubscribing a small one.
  const size_t zones = actual.size();
  std::vector<std::vector<ShiftingCell>> per_zone(zones);
  std::vector<std::exception_ptr> errors(zones);
  std::mutex progress_mutex;
  int done = 0;
  auto worker = [&](size_t first_zone, size_t stride) {
    for (size_t z = first_zone; z < zones; z += stride) {
      try {
        per_zone[z] = StudyZone(actual[z], pairs, options);
      } catch (...) {
        errors[z] = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(progress_mutex);
      ++done;
      if (options.on_progress) options.on_progress(done, static_cast<int>(zones));
    }
  };
  const size_t threads = std::min<size_t>(2, zones);
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker, t, threads);
  worker(0, threads);
  for (std::thread& t : pool) t.join();
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }

  ShiftingStudyResult result;
  result.signal = std::string(SignalName(actual.front().signal));
  for (size_t z = 0; z < zones; ++z) {
    result.provenance.push_back(actual[z].provenance);
    result.cells.insert(result.cells.end(), per_zone[z].begin(), per_zone[z].end());
  }
  return result;
}

}  // namespace joule::grid
