// joule's forecaster: the mean of two forecasts of the same hours, each made
// with only the history before the origin (see grid_forecast.hpp):
//   - a least-squares blend, fitted for each lead on the same hour of day of
//     earlier days, of the seasonal profile, yesterday's same hour, the
//     latest two departures from the profile, a weekend flag and the latest
//     departure scaled by the profile's change from now to the target hour;
//     the mean of three such fits, with profiles of half, once and twice
//     profile_days;
//   - a recency-weighted same-hour profile plus the latest departure from it,
//     fading slowly with the lead.
// On the bundled 2022 series the mean keeps more of the perfect-foresight
// saving than either alone (docs/carbon-aware.md has the figures).
//
// Everything works on the history's values as an array; index n is the first
// point not seen by the origin, so every feature below reads only x[0..n).
#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "grid/series_grid.hpp"
#include "joule/grid_forecast.hpp"
#include "joule/util.hpp"

namespace joule::grid {
namespace {

// constant, profile, yesterday, two departures, weekend, departure x profile change
constexpr int kFeatures = 7;
using Row = std::array<double, kFeatures>;
using Matrix = std::array<Row, kFeatures>;

// The values seen by the origin, and the sums that make a same-hour mean O(1).
class History {
 public:
  // Keeps the points [first, n) of s: index 0 here is point `first` there.
  History(const IntensitySeries& s, size_t first, size_t n, int steps_per_day)
      : x_(n - first),
        chain_(n - first),
        spd_(steps_per_day),
        t0_(s.points[first].unix_s),
        step_(s.step_s) {
    for (size_t i = 0; i < x_.size(); ++i) {
      x_[i] = s.points[first + i].g_per_kwh;
      // chain_[i]: sum of x at i, i - spd, i - 2 spd, ... (the same hour of day).
      chain_[i] = x_[i] + (i >= static_cast<size_t>(spd_) ? chain_[i - spd_] : 0.0);
    }
  }
  long size() const { return static_cast<long>(x_.size()); }
  double at(long i) const { return x_[i]; }
  long spd() const { return spd_; }
  // Whether the point at index i starts on a Saturday or Sunday (UTC).
  bool Weekend(long i) const {
    const double day = std::floor((t0_ + static_cast<double>(i) * step_) / 86400.0);
    const long dow = (static_cast<long>(day) % 7 + 7 + 3) % 7;  // 0: Monday (day 0 was a Thursday)
    return dow >= 5;
  }
  // Mean of x[u - spd d] for d = first_day .. first_day + days - 1; every
  // index must be in [0, size()).
  double SameHourMean(long u, long first_day, int days) const {
    const long hi = u - spd_ * first_day;
    const long lo = hi - spd_ * days;  // excluded
    return (chain_[hi] - (lo >= 0 ? chain_[lo] : 0.0)) / days;
  }

 private:
  std::vector<double> x_, chain_;
  long spd_;
  double t0_, step_;
};

// Features of the forecast made at origin o (first unseen index) for lead k.
// Leads past the first day skip whole days, so no feature reads an index >= o.
// Needs o >= spd * (k / spd + profile_days) + 2.
Row Features(const History& h, long o, long k, int profile_days) {
  const long m = k / h.spd();
  const long u = o + k;
  const double profile = h.SameHourMean(u, m + 1, profile_days);
  const double profile_now = h.SameHourMean(o - 1, 1, profile_days);
  const double departure = h.at(o - 1) - profile_now;
  // The latest departure times the profile's relative change from the last
  // hour seen to the target: lets a high or low spell deepen or flatten the
  // daily shape rather than only shift it.
  const double reshaped = departure * (profile - profile_now) / (std::abs(profile_now) + 1);
  return {1.0,
          profile,
          h.at(u - h.spd() * (m + 1)),
          departure,
          h.at(o - 2) - h.SameHourMean(o - 2, 1, profile_days),
          h.Weekend(u) ? 1.0 : 0.0,
          reshaped};
}

// Least squares from the normal equations, with a ridge of 1e-9 x the mean
// diagonal so that collinear columns (a periodic series makes the profile and
// yesterday equal, and the departures zero) still give one answer. Gaussian
// elimination with partial pivoting.
Row Solve(Matrix a, Row b) {
  double trace = 0;
  for (int i = 0; i < kFeatures; ++i) trace += a[i][i];
  const double ridge = 1e-9 * trace / kFeatures + 1e-12;
  for (int i = 0; i < kFeatures; ++i) a[i][i] += ridge;
  for (int c = 0; c < kFeatures; ++c) {
    int p = c;
    for (int r = c + 1; r < kFeatures; ++r) {
      if (std::abs(a[r][c]) > std::abs(a[p][c])) p = r;
    }
    std::swap(a[c], a[p]);
    std::swap(b[c], b[p]);
    for (int r = c + 1; r < kFeatures; ++r) {
      const double f = a[r][c] / a[c][c];
      for (int j = c; j < kFeatures; ++j) a[r][j] -= f * a[c][j];
      b[r] -= f * b[c];
    }
  }
  Row w{};
  for (int c = kFeatures - 1; c >= 0; --c) {
    double s = b[c];
    for (int j = c + 1; j < kFeatures; ++j) s -= a[c][j] * w[j];
    w[c] = s / a[c][c];
  }
  return w;
}

// The recency-weighted forecast: the same hour on up to recent_days of the
// latest days, day d back weighing recent_day_weight^(d-1), plus the latest
// departure from that profile times anchor_decay^(k+1). Works on any history
// of at least one point: an hour of day not seen yet takes the latest value.
std::vector<double> RecentForecast(const History& h, int horizon, const ForecastOptions& o) {
  const long n = h.size(), spd = h.spd();
  auto profile = [&](long u, long first_day) {
    double sum = 0, weights = 0, w = 1;
    for (long d = first_day; d < first_day + o.recent_days; ++d, w *= o.recent_day_weight) {
      const long i = u - spd * d;
      if (i < 0) break;
      sum += w * h.at(i);
      weights += w;
    }
    return weights > 0 ? sum / weights : h.at(n - 1);
  };
  const double departure = h.at(n - 1) - profile(n - 1, 1);
  std::vector<double> out(horizon);
  double fade = o.anchor_decay;
  for (long k = 0; k < horizon; ++k, fade *= o.anchor_decay) {
    out[k] = profile(n + k, k / spd + 1) + fade * departure;
  }
  return out;
}

// The fitted blend for lead k with a profile of profile_days, or false when
// the history is too short to fit it (fewer than 4 samples a weight).
bool FittedForecast(const History& h, long k, int profile_days, const ForecastOptions& o,
                    double* value) {
  const long n = h.size(), spd = h.spd();
  const long first_origin = spd * (k / spd + profile_days) + 2;
  // Training origins: the same hour of day as n, on the last fit_days days
  // whose target (origin + k) was seen.
  long last = n - 1 - k;
  last -= ((last - n) % spd + spd) % spd;
  const long first = std::max(first_origin, last - spd * (o.fit_days - 1));
  if (n < first_origin || last < first || (last - first) / spd + 1 < 4 * kFeatures) return false;
  Matrix a{};
  Row b{};
  for (long t = last; t >= first; t -= spd) {
    const Row f = Features(h, t, k, profile_days);
    const double y = h.at(t + k);
    for (int i = 0; i < kFeatures; ++i) {
      b[i] += f[i] * y;
      for (int j = 0; j < kFeatures; ++j) a[i][j] += f[i] * f[j];
    }
  }
  const Row w = Solve(a, b);
  const Row f = Features(h, n, k, profile_days);
  double y = 0;
  for (int i = 0; i < kFeatures; ++i) y += w[i] * f[i];
  *value = y;
  return true;
}

struct Grid {
  size_t seen = 0;  // points ending by the origin
  int steps_per_day = 0;
};

Grid CheckForecastInputs(const IntensitySeries& history, double origin, int horizon,
                         const std::string& what) {
  if (horizon < 1) {
    throw Error(what + ": horizon " + std::to_string(horizon) + " steps; must be at least 1");
  }
  CheckEquallySpaced(history, what);
  const double per_day = 86400.0 / history.step_s;
  if (std::abs(per_day - std::round(per_day)) > 1e-9 || per_day < 1) {
    throw Error(what + ": series " + history.zone + " has a step of " +
                std::to_string(history.step_s) + " s, which does not divide a day");
  }
  Grid g;
  g.steps_per_day = static_cast<int>(std::round(per_day));
  // A point is seen when its interval has ended by the origin.
  auto ended = [&](const IntensityPoint& p) { return p.unix_s + history.step_s <= origin; };
  g.seen = static_cast<size_t>(
      std::partition_point(history.points.begin(), history.points.end(), ended) -
      history.points.begin());
  if (g.seen == 0) {
    throw Error(what + ": no point of series " + history.zone + " ends by the origin " +
                std::to_string(origin) + "; give history before the origin");
  }
  return g;
}

IntensitySeries Continue(const IntensitySeries& history, size_t seen,
                         const std::vector<double>& values, const std::string& provenance) {
  IntensitySeries out;
  out.zone = history.zone;
  out.signal = history.signal;
  out.step_s = history.step_s;
  out.unit = history.unit;
  out.provenance = provenance + " (from " + history.provenance + ")";
  const double start = history.points[seen - 1].unix_s + history.step_s;
  for (size_t k = 0; k < values.size(); ++k) {
    out.points.push_back({start + static_cast<double>(k) * history.step_s, values[k]});
  }
  return out;
}

}  // namespace

IntensitySeries Forecast(const IntensitySeries& history, double origin_unix_s,
                         const ForecastOptions& options) {
  const Grid g = CheckForecastInputs(history, origin_unix_s, options.horizon_steps, "Forecast");
  if (options.profile_days < 1 || options.fit_days < 1 || options.recent_days < 1 ||
      !(options.recent_day_weight > 0 && options.recent_day_weight <= 1) ||
      !(options.anchor_decay >= 0 && options.anchor_decay <= 1)) {
    throw Error(
        "Forecast: profile_days, fit_days and recent_days must be at least 1, "
        "recent_day_weight in (0, 1] and anchor_decay in [0, 1]");
  }
  const long spd = g.steps_per_day;
  const int horizon = options.horizon_steps;
  // Neither part reads further back than this many steps, so older history
  // is left out (the result is the same, only cheaper).
  const long days_back =
      std::max(options.fit_days + 2 * options.profile_days, options.recent_days) + horizon / spd +
      3;
  const long reach = spd * days_back + horizon;
  const size_t first = g.seen > static_cast<size_t>(reach) ? g.seen - reach : 0;
  const History h(history, first, g.seen, g.steps_per_day);
  std::vector<double> values = RecentForecast(h, horizon, options);
  // The fitted part: the mean of fits with profiles of half, once and twice
  // profile_days, used only when all three can be fitted.
  const std::array<int, 3> profiles = {std::max(1, options.profile_days / 2), options.profile_days,
                                       2 * options.profile_days};
  for (long k = 0; k < horizon; ++k) {
    double fitted = 0;
    bool all = true;
    for (int days : profiles) {
      double one = 0;
      all = all && FittedForecast(h, k, days, options, &one);
      if (!all) break;
      fitted += one / static_cast<double>(profiles.size());
    }
    if (all) values[k] = 0.5 * (values[k] + fitted);
  }
  return Continue(history, g.seen, values, "joule-forecaster:seasonal+recent+anchor");
}

IntensitySeries PersistenceForecast(const IntensitySeries& history, double origin_unix_s,
                                    int horizon_steps) {
  const Grid g = CheckForecastInputs(history, origin_unix_s, horizon_steps, "PersistenceForecast");
  const long spd = g.steps_per_day, n = static_cast<long>(g.seen);
  if (n < spd) {
    throw Error("PersistenceForecast: series " + history.zone + " has " + std::to_string(n) +
                " points before the origin; persistence needs a whole day");
  }
  std::vector<double> values(horizon_steps);
  for (long k = 0; k < horizon_steps; ++k) {
    values[k] = history.points[n + k - spd * (k / spd + 1)].g_per_kwh;
  }
  return Continue(history, g.seen, values, "persistence:same-hour-yesterday");
}

}  // namespace joule::grid
