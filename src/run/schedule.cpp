// Carbon-aware scheduling: plan the start from a forecast, wait, run the
// command measured, pause it above a threshold (see joule/schedule.hpp).
#include "joule/schedule.hpp"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

#include "joule/util.hpp"

namespace joule {
namespace {

double WallClock() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string Utc(double unix_s) {
  std::time_t t = static_cast<std::time_t>(std::floor(unix_s));
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Span(double seconds) {
  long s = std::lround(std::max(0.0, seconds));
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lds", s);
  }
  return buf;
}

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// The forecast one zone is planned on (see Plan::forecasts).
grid::IntensitySeries ZoneForecast(grid::IntensitySource& source, const std::string& zone,
                                   const PlanRequest& req, double now) {
  double horizon = req.within_s;
  if (req.source.provider == "series") {
    // The file is the forecast: the user (or a test) says what the grid will do.
    return source.History(zone, now - 86400.0, now + horizon + 86400.0);
  }
  // A provider's own forecast, when it has one and it is not a fallback to
  // the tables (those are 2022's values, not a forecast).
  try {
    std::optional<grid::IntensitySeries> f = source.Forecast(zone, now, horizon);
    if (f && f->provenance.rfind("fallback:", 0) != 0) {
      // Its first point may start after now; the history's last value fills in.
      if (!f->points.empty() && f->points.front().unix_s > now) {
        grid::IntensitySeries last = source.Latest(zone);
        if (!last.points.empty()) {
          grid::IntensityPoint p = last.points.back();
          p.unix_s = std::min(p.unix_s, now);
          while (p.unix_s + f->step_s < f->points.front().unix_s) p.unix_s += f->step_s;
          f->points.insert(f->points.begin(), p);
          f->points.front().unix_s = f->points[1].unix_s - f->step_s;
        }
      }
      return *f;
    }
  } catch (const Error&) {
    // A forecast that cannot be had: joule's own, below, from the history.
  }
  // 160 days cover the forecaster's 150-day fit and its 14-day profile.
  grid::IntensitySeries history = source.History(zone, now - 160 * 86400.0, now);
  grid::ForecastOptions options;
  options.horizon_steps = static_cast<int>(std::ceil(horizon / history.step_s)) + 2;
  return grid::Forecast(history, now, options);
}

// The time-weighted mean intensity over [t0, t1] without the pauses: a paused
// job draws (almost) nothing, so the grid it paused through is not its own.
double RunningMean(const grid::IntensitySeries& actual, double t0, double t1,
                   const std::vector<std::pair<double, double>>& pauses) {
  double weighted = 0, seconds = 0, from = t0;
  auto add = [&](double a, double b) {
    if (b > a) {
      weighted += grid::MeanIntensity(actual, a, b) * (b - a);
      seconds += b - a;
    }
  };
  for (const auto& [p0, p1] : pauses) {
    add(from, std::min(p0, t1));
    from = std::max(from, p1);
  }
  add(from, t1);
  return seconds > 0 ? weighted / seconds : grid::MeanIntensity(actual, t0, t0);
}

}  // namespace

double ParseDurationText(const std::string& text, const std::string& flag) {
  char* end = nullptr;
  double n = std::strtod(text.c_str(), &end);
  std::string unit = end != nullptr ? std::string(end) : "";
  double scale = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : 0;
  if (text.empty() || end == text.c_str() || scale == 0 || !std::isfinite(n) || n <= 0) {
    throw Error(flag + " " + text + ": expected a duration such as 60s, 5m, 4h or 90 (seconds)");
  }
  return n * scale;
}

Plan MakePlan(const PlanRequest& req) {
  if (!(req.duration_s > 0)) throw Error("--duration must be > 0");
  if (!(req.within_s >= req.duration_s)) {
    throw Error("--within " + Span(req.within_s) + " is shorter than the job (" +
                Span(req.duration_s) + ")");
  }
  if (req.zones.empty()) throw Error("give a zone (--zone DE) or a series (--intensity-series F)");
  Plan plan;
  plan.now_unix_s = req.now_unix_s > 0 ? req.now_unix_s : WallClock();
  plan.duration_s = req.duration_s;
  plan.within_s = req.within_s;
  std::unique_ptr<grid::IntensitySource> source = grid::OpenIntensitySource(req.source);
  for (const std::string& zone : req.zones) {
    plan.forecasts.push_back(ZoneForecast(*source, zone, req, plan.now_unix_s));
  }
  plan.choice = grid::BestWindowAcrossZones(plan.forecasts, req.duration_s, plan.now_unix_s,
                                            plan.now_unix_s + req.within_s);
  for (const grid::IntensitySeries& f : plan.forecasts) {
    if (f.zone == plan.choice.zone) plan.source = f.provenance;
  }
  return plan;
}

std::string PlanText(const Plan& p) {
  const grid::WindowChoice& c = p.choice;
  std::string out;
  double wait = c.start_unix_s - p.now_unix_s;
  out += "joule plan: a " + Span(p.duration_s) + " job ending within " + Span(p.within_s) + " of " +
         Utc(p.now_unix_s) + "\n";
  out += "  start      " + Utc(c.start_unix_s) +
         (wait > 0.5 ? " (in " + Span(wait) + ")" : " (now)") + "  zone " + c.zone + "\n";
  out += "  forecast   " + Fixed(c.mean_g_per_kwh, 1) + " gCO2eq/kWh over the job, against " +
         Fixed(c.now_g_per_kwh, 1) + " starting now in " + p.forecasts.front().zone + "\n";
  out += "  saving     " + Fixed(c.saving_percent, 1) + "% of the job's carbon (forecast, " +
         std::to_string(c.candidates) + " start times compared)\n";
  out += "  source     " + p.source + "\n";
  // The chosen zone's forecast over the window, one bar per step, the chosen
  // hours marked: where people would rather look than read.
  for (const grid::IntensitySeries& f : p.forecasts) {
    if (f.zone != c.zone) continue;
    double hi = 0;
    std::vector<const grid::IntensityPoint*> shown;
    for (const grid::IntensityPoint& pt : f.points) {
      if (pt.unix_s + f.step_s <= p.now_unix_s || pt.unix_s >= p.now_unix_s + p.within_s) continue;
      shown.push_back(&pt);
      hi = std::max(hi, pt.g_per_kwh);
    }
    if (shown.empty() || hi <= 0 || shown.size() > 200) break;
    static const char* kBars[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                  "\u2585", "\u2586", "\u2587", "\u2588"};
    std::string bars, marks;
    for (const grid::IntensityPoint* pt : shown) {
      int level = std::clamp(static_cast<int>(pt->g_per_kwh / hi * 7.999), 0, 7);
      bars += kBars[level];
      bool in =
          pt->unix_s + f.step_s > c.start_unix_s && pt->unix_s < c.start_unix_s + p.duration_s;
      marks += in ? "^" : " ";
    }
    out += "  the grid   " + bars + "  (max " + Fixed(hi, 0) + ", one bar per " + Span(f.step_s) +
           " from now)\n";
    out += "  the job    " + marks + "\n";
  }
  return out;
}

nlohmann::json PlanJson(const Plan& p) {
  nlohmann::json forecasts = nlohmann::json::array();
  for (const grid::IntensitySeries& f : p.forecasts) {
    nlohmann::json points = nlohmann::json::array();
    for (const grid::IntensityPoint& pt : f.points) points.push_back({pt.unix_s, pt.g_per_kwh});
    forecasts.push_back({{"zone", f.zone},
                         {"signal", grid::SignalName(f.signal)},
                         {"unit", f.unit},
                         {"step_s", f.step_s},
                         {"provenance", f.provenance},
                         {"points", points}});
  }
  return {{"now", Utc(p.now_unix_s)},
          {"now_unix_s", p.now_unix_s},
          {"duration_s", p.duration_s},
          {"within_s", p.within_s},
          {"start", Utc(p.choice.start_unix_s)},
          {"start_unix_s", p.choice.start_unix_s},
          {"zone", p.choice.zone},
          {"forecast_g_per_kwh", p.choice.mean_g_per_kwh},
          {"now_g_per_kwh", p.choice.now_g_per_kwh},
          {"saving_percent", p.choice.saving_percent},
          {"candidates", p.choice.candidates},
          {"source", p.source},
          {"forecasts", forecasts}};
}

bool ShouldRun(const PauseRule& rule, const grid::IntensitySeries& series, double now,
               double active_s) {
  double left = std::max(0.0, rule.work_s - active_s);
  if (now + left >= rule.deadline_unix_s) return true;  // no slack left: run to the end
  if (series.points.empty()) return true;
  auto it = std::upper_bound(series.points.begin(), series.points.end(), now,
                             [](double t, const grid::IntensityPoint& p) { return t < p.unix_s; });
  const grid::IntensityPoint& in_force = it == series.points.begin() ? *it : *(it - 1);
  return in_force.g_per_kwh <= rule.max_g_per_kwh;
}

ScheduledResult RunScheduledJob(ScheduledJob job) {
  ScheduledResult result;
  auto say = [&job](const std::string& line) {
    if (job.on_progress) job.on_progress(line);
  };
  result.plan = MakePlan(job.plan);
  const Plan& plan = result.plan;
  const double deadline = plan.now_unix_s + plan.within_s;
  const std::string zone = plan.choice.zone;

  // 1. Wait for the start. SIGINT/SIGTERM are blocked and taken here with
  // sigtimedwait, so a cancel ends the wait cleanly, before anything runs.
  double wait_s = plan.choice.start_unix_s - WallClock();
  if (wait_s > 0) {
    say("joule run: waiting until " + Utc(plan.choice.start_unix_s) + " (" + Span(wait_s) +
        ") in " + zone + ": forecast " + Fixed(plan.choice.mean_g_per_kwh, 1) + " against " +
        Fixed(plan.choice.now_g_per_kwh, 1) + " gCO2eq/kWh now, " +
        Fixed(plan.choice.saving_percent, 1) + "% less; Ctrl-C cancels");
    sigset_t stop, previous;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop, &previous);
    double started = MonotonicSeconds();
    for (;;) {
      double left = plan.choice.start_unix_s - WallClock();
      if (left <= 0) break;
      double step = std::min(left, 1.0);
      timespec ts{static_cast<time_t>(step), static_cast<long>((step - std::floor(step)) * 1e9)};
      int sig = sigtimedwait(&stop, nullptr, &ts);
      if (sig == SIGINT || sig == SIGTERM) {
        result.cancelled = true;
        break;
      }
    }
    result.waited_s = MonotonicSeconds() - started;
    sigprocmask(SIG_SETMASK, &previous, nullptr);
    if (result.cancelled) {
      say("joule run: cancelled while waiting; nothing ran");
      return result;
    }
  }

  // 2. Run it measured; pause its group while the grid is above the threshold.
  std::unique_ptr<grid::IntensitySource> source = grid::OpenIntensitySource(job.plan.source);
  grid::IntensitySeries pause_series;
  for (const grid::IntensitySeries& f : plan.forecasts) {
    if (f.zone == zone) pause_series = f;
  }
  std::mutex mutex;  // the pause state, shared with the watcher thread
  bool paused = false;
  double active_s = 0, last_tick = 0;
  std::vector<std::pair<double, double>>& pauses = result.pauses;
  MeasureJob& measure = job.measure;
  if (job.interruptible) {
    measure.own_process_group = true;
    PauseRule rule{job.max_g_per_kwh, deadline, plan.duration_s};
    measure.while_running = [&, rule](int pid) {
      std::lock_guard<std::mutex> lock(mutex);
      double now = WallClock();
      if (last_tick > 0 && !paused) active_s += now - last_tick;
      last_tick = now;
      bool run = ShouldRun(rule, pause_series, now, active_s);
      if (run && paused) {
        kill(-pid, SIGCONT);
        paused = false;
        pauses.back().second = now;
        say("joule run: resumed at " + Utc(now) + " after " + Span(now - pauses.back().first));
      } else if (!run && !paused) {
        kill(-pid, SIGSTOP);
        paused = true;
        pauses.push_back({now, now});
        say("joule run: paused at " + Utc(now) + ": intensity above " +
            Fixed(job.max_g_per_kwh, 0) + " gCO2eq/kWh");
      }
    };
  }
  // The record's schedule: the plan, the wait, the pauses, and the realised
  // intensity over the run, from the same source.
  measure.extra_metrics = [&](const EnergyReport& e) {
    std::lock_guard<std::mutex> lock(mutex);
    if (paused && !pauses.empty()) pauses.back().second = WallClock();
    try {
      double t0 = e.start_unix_s, t1 = std::max(e.end_unix_s, e.start_unix_s + 1e-3);
      grid::IntensitySeries actual =
          source->History(zone, t0 - 2 * pause_series.step_s, t1 + pause_series.step_s);
      result.realised_g_per_kwh = RunningMean(actual, t0, t1, pauses);
      result.realised_source = actual.provenance;
    } catch (const Error& err) {
      result.realised_source = std::string("unknown: ") + err.what();
    }
    result.realised_co2_g = e.energy_j / 3.6e6 * e.pue * result.realised_g_per_kwh;
    nlohmann::json p = nlohmann::json::array();
    for (const auto& [from, to] : pauses) p.push_back({{"from", from}, {"to", to}});
    nlohmann::json plan_json = PlanJson(plan);
    plan_json.erase("forecasts");
    return nlohmann::json{{"schedule",
                           {{"plan", plan_json},
                            {"waited_s", result.waited_s},
                            {"interruptible", job.interruptible},
                            {"max_g_per_kwh", job.max_g_per_kwh},
                            {"pauses", p},
                            {"realised_g_per_kwh", result.realised_g_per_kwh},
                            {"realised_source", result.realised_source},
                            {"realised_co2_g", result.realised_co2_g},
                            {"energy_method", e.method}}}};
  };
  result.measure = RunMeasureJob(measure);
  return result;
}

}  // namespace joule
