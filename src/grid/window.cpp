// The cleanest window: the start within a window with the lowest mean
// forecast intensity over the job's duration. A prefix sum of intensity x
// time gives any interval's mean in O(1), so every candidate is cheap;
// BestWindowReference recomputes each candidate by walking the points.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "grid/series_grid.hpp"
#include "joule/grid_forecast.hpp"
#include "joule/util.hpp"

namespace joule::grid {
namespace {

// A start may sit a rounding error past the window's end and still count: the
// times are whole seconds in practice, so this only absorbs float noise.
constexpr double kTimeSlackS = 1e-6;

double SeriesEnd(const IntensitySeries& s) { return s.points.back().unix_s + s.step_s; }

void CheckCovered(const IntensitySeries& s, double t0, double t1, const std::string& what) {
  if (s.points.empty()) throw Error(what + ": series " + s.zone + " is empty");
  if (t0 < s.points.front().unix_s - kTimeSlackS || t1 > SeriesEnd(s) + kTimeSlackS) {
    throw Error(what + ": series " + s.zone + " covers [" +
                std::to_string(s.points.front().unix_s) + ", " + std::to_string(SeriesEnd(s)) +
                ") but [" + std::to_string(t0) + ", " + std::to_string(t1) +
                ") was asked for; forecast further or start later");
  }
}

// The candidate starts both searches share, so they compare the same set.
std::vector<double> CandidateStarts(const IntensitySeries& s, double duration_s, double earliest,
                                    double latest_end, double step_s, const std::string& what) {
  if (!(duration_s > 0)) {
    throw Error(what + ": job duration " + std::to_string(duration_s) + " s; must be > 0");
  }
  if (step_s < 0 || !std::isfinite(step_s)) {
    throw Error(what + ": step " + std::to_string(step_s) + " s; must be >= 0 (0: the series')");
  }
  if (latest_end - earliest < duration_s - kTimeSlackS) {
    throw Error(what + ": window [" + std::to_string(earliest) + ", " + std::to_string(latest_end) +
                ") is shorter than the job (" + std::to_string(duration_s) + " s)");
  }
  CheckEquallySpaced(s, what);
  CheckCovered(s, earliest, earliest + duration_s, what);
  const double step = step_s > 0 ? step_s : s.step_s;
  const double last_start = std::min(latest_end, SeriesEnd(s)) - duration_s + kTimeSlackS;
  std::vector<double> starts = {earliest};
  const double t0 = s.points.front().unix_s;
  // The first grid time strictly after `earliest`.
  double j = std::floor((earliest - t0) / step) + 1;
  for (double t = t0 + j * step; t <= last_start; j += 1, t = t0 + j * step) {
    if (t > earliest + kTimeSlackS) starts.push_back(t);
  }
  return starts;
}

WindowChoice Choose(const IntensitySeries& s, const std::vector<double>& starts,
                    const std::vector<double>& means) {
  WindowChoice c;
  c.zone = s.zone;
  c.candidates = static_cast<int>(starts.size());
  size_t best = 0;
  for (size_t i = 1; i < means.size(); ++i) {
    if (means[i] < means[best]) best = i;
  }
  c.start_unix_s = starts[best];
  c.mean_g_per_kwh = means[best];
  c.now_g_per_kwh = means[0];
  c.saving_percent =
      c.now_g_per_kwh > 0 ? 100.0 * (c.now_g_per_kwh - c.mean_g_per_kwh) / c.now_g_per_kwh : 0.0;
  return c;
}

// Integral of the series from its first point to t (t inside the series), in
// g/kWh x s, from the prefix sums `cum` (cum[i]: up to point i's start).
double IntegralTo(const IntensitySeries& s, const std::vector<double>& cum, double t) {
  const double t0 = s.points.front().unix_s;
  const size_t n = s.points.size();
  double pos = (t - t0) / s.step_s;
  size_t i = pos <= 0 ? 0 : std::min(static_cast<size_t>(pos), n - 1);
  const double into = std::clamp(t - s.points[i].unix_s, 0.0, s.step_s);
  return cum[i] + s.points[i].g_per_kwh * into;
}

}  // namespace

double MeanIntensity(const IntensitySeries& series, double t0_unix_s, double t1_unix_s) {
  if (t1_unix_s < t0_unix_s) {
    throw Error("MeanIntensity: interval ends (" + std::to_string(t1_unix_s) +
                ") before it starts (" + std::to_string(t0_unix_s) + ")");
  }
  CheckCovered(series, t0_unix_s, t1_unix_s, "MeanIntensity");
  const std::vector<IntensityPoint>& p = series.points;
  if (t1_unix_s == t0_unix_s) {
    for (size_t i = p.size(); i-- > 0;) {
      if (p[i].unix_s <= t0_unix_s) return p[i].g_per_kwh;
    }
    return p.front().g_per_kwh;
  }
  double sum = 0;
  for (const IntensityPoint& pt : p) {
    const double lo = std::max(pt.unix_s, t0_unix_s);
    const double hi = std::min(pt.unix_s + series.step_s, t1_unix_s);
    if (hi > lo) sum += pt.g_per_kwh * (hi - lo);
  }
  return sum / (t1_unix_s - t0_unix_s);
}

WindowChoice BestWindow(const IntensitySeries& forecast, double duration_s,
                        double earliest_start_unix_s, double latest_end_unix_s, double step_s) {
  const std::vector<double> starts = CandidateStarts(forecast, duration_s, earliest_start_unix_s,
                                                     latest_end_unix_s, step_s, "BestWindow");
  std::vector<double> cum(forecast.points.size() + 1, 0.0);
  for (size_t i = 0; i < forecast.points.size(); ++i) {
    cum[i + 1] = cum[i] + forecast.points[i].g_per_kwh * forecast.step_s;
  }
  std::vector<double> means;
  means.reserve(starts.size());
  for (double t : starts) {
    means.push_back((IntegralTo(forecast, cum, t + duration_s) - IntegralTo(forecast, cum, t)) /
                    duration_s);
  }
  return Choose(forecast, starts, means);
}

WindowChoice BestWindowReference(const IntensitySeries& forecast, double duration_s,
                                 double earliest_start_unix_s, double latest_end_unix_s,
                                 double step_s) {
  const std::vector<double> starts =
      CandidateStarts(forecast, duration_s, earliest_start_unix_s, latest_end_unix_s, step_s,
                      "BestWindowReference");
  std::vector<double> means;
  for (double t : starts) {
    means.push_back(MeanIntensity(forecast, t, t + duration_s));
  }
  return Choose(forecast, starts, means);
}

WindowChoice BestWindowAcrossZones(const std::vector<IntensitySeries>& forecasts, double duration_s,
                                   double earliest_start_unix_s, double latest_end_unix_s,
                                   double step_s) {
  if (forecasts.empty()) throw Error("BestWindowAcrossZones: no zone's forecast given");
  WindowChoice home;
  WindowChoice best;
  for (size_t z = 0; z < forecasts.size(); ++z) {
    WindowChoice c =
        BestWindow(forecasts[z], duration_s, earliest_start_unix_s, latest_end_unix_s, step_s);
    if (z == 0) {
      home = c;
      best = c;
    } else if (c.mean_g_per_kwh < best.mean_g_per_kwh) {
      best = c;
    }
  }
  best.now_g_per_kwh = home.now_g_per_kwh;
  best.saving_percent =
      home.now_g_per_kwh > 0
          ? 100.0 * (home.now_g_per_kwh - best.mean_g_per_kwh) / home.now_g_per_kwh
          : 0.0;
  return best;
}

}  // namespace joule::grid
