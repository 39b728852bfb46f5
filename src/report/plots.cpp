// The report's plots: power curves that keep each component's energy, the
// Pareto front of accuracy against energy, and the charts drawn from them.
#include "report/plots.hpp"

#include <algorithm>
#include <cmath>

#include "joule/pareto.hpp"
#include "joule/util.hpp"
#include "report/document.hpp"
#include "report/svg_chart.hpp"

namespace joule {
namespace {

// How a component's energy was obtained, from the run's totals.
std::string ComponentMethod(const EnergyReport& e, Component component) {
  for (const ComponentReport& c : e.components) {
    if (c.component == component) return c.method;
  }
  return e.method;
}

// One curve from cumulative joules `energy` at `t` (seconds since start,
// both starting with the origin 0 J), merged into at most `max_steps` steps.
PowerCurve Curve(std::string name, std::string method, const std::vector<double>& t,
                 const std::vector<double>& energy, std::size_t max_steps) {
  PowerCurve curve;
  curve.name = std::move(name);
  curve.method = std::move(method);
  const std::size_t intervals = t.size() - 1;
  const std::size_t steps = std::min(intervals, max_steps);
  std::size_t from = 0;
  curve.t_s.push_back(t[0]);
  for (std::size_t s = 1; s <= steps; ++s) {
    // Boundaries at even counts of samples, which the meter takes at even
    // times; the last step ends at the last sample.
    std::size_t to = s == steps ? intervals : s * intervals / steps;
    if (to <= from) continue;
    double dt = t[to] - t[from];
    double dj = energy[to] - energy[from];
    curve.watts.push_back(dt > 0 ? dj / dt : 0);
    curve.t_s.push_back(t[to]);
    from = to;
  }
  return curve;
}

}  // namespace

double PowerCurve::energy_j() const {
  double sum = 0;
  for (std::size_t i = 0; i < watts.size() && i + 1 < t_s.size(); ++i) {
    sum += watts[i] * (t_s[i + 1] - t_s[i]);
  }
  return sum;
}

std::vector<PowerCurve> PowerCurves(const RunRecord& run, const std::vector<SampleRow>& samples,
                                    std::size_t max_steps) {
  if (max_steps < 1) throw Error("a power curve needs at least one step");
  if (samples.empty()) return {};
  // The origin, at 0 J: when metering started (a train run loads its data
  // first, unmetered), else the run's start; the first sample when both are
  // unknown or later (then the first sample's joules are not drawn).
  const double metered_from =
      run.energy.start_unix_s > 0 ? run.energy.start_unix_s : run.start_unix_s;
  const bool from_start = metered_from > 0 && metered_from <= samples[0].t_unix_s;
  const double t0 = from_start ? metered_from : samples[0].t_unix_s;
  const std::size_t first = from_start ? 0 : 1;
  std::vector<double> t = {0};
  for (std::size_t i = first; i < samples.size(); ++i) t.push_back(samples[i].t_unix_s - t0);
  if (t.size() < 2) return {};
  auto cumulative = [&](auto joules_of) {
    std::vector<double> energy = {from_start ? 0.0 : joules_of(samples[0])};
    for (std::size_t i = first; i < samples.size(); ++i) energy.push_back(joules_of(samples[i]));
    return energy;
  };
  bool by_component = true;
  for (const SampleRow& s : samples) by_component = by_component && s.has_components();
  std::vector<PowerCurve> curves;
  if (by_component) {
    for (std::size_t c = 0; c < 5; ++c) {
      if (!(samples.back().component_j[c] > 0)) continue;
      Component component = static_cast<Component>(c);
      curves.push_back(Curve(ComponentName(component), ComponentMethod(run.energy, component), t,
                             cumulative([c](const SampleRow& s) { return s.component_j[c]; }),
                             max_steps));
    }
  }
  if (curves.empty()) {
    curves.push_back(Curve("total", run.energy.method, t,
                           cumulative([](const SampleRow& s) { return s.energy_j; }), max_steps));
  }
  return curves;
}

std::vector<bool> ParetoFront(const std::vector<std::pair<double, double>>& points) {
  // Less energy and more accuracy are better: accuracy is negated, since the
  // Pareto helpers minimise every objective.
  std::vector<pareto::Point> minimised;
  minimised.reserve(points.size());
  for (const auto& [energy, accuracy] : points) minimised.push_back({energy, -accuracy});
  return pareto::NonDominated(minimised);
}

namespace report_internal {
namespace {

// "estimated: tdp-model" under a plot of estimated figures; "" when measured.
std::string HowSubtitle(const std::string& method) {
  if (method.rfind("measured:", 0) == 0 && method.find('+') == std::string::npos) {
    return "measured: " + method.substr(9);
  }
  return "ESTIMATED (" + (method.empty() ? std::string("not metered") : method) + "), not measured";
}

}  // namespace

std::string PowerPlotSvg(const ReportRun& r, const ReportOptions& options) {
  ChartText text{"power", "Power over time, " + r.record.id, HowSubtitle(r.record.energy.method),
                 "seconds since metering started", "W (attributed)"};
  std::vector<PowerCurve> curves = PowerCurves(r.record, r.samples, options.max_plot_steps);
  if (curves.empty()) return EmptyChart(text, "no power samples recorded for this run");
  std::vector<LineSeries> series;
  int color = 0;
  for (const PowerCurve& c : curves) {
    LineSeries s;
    s.name = c.name + " (" + Num(c.energy_j()) + " J)";
    s.color = color++;
    for (std::size_t i = 0; i < c.watts.size(); ++i) {
      s.x.push_back(c.t_s[i]);
      s.y.push_back(c.watts[i]);
      s.x.push_back(c.t_s[i + 1]);
      s.y.push_back(c.watts[i]);
    }
    series.push_back(std::move(s));
  }
  return LineChart(text, series);
}

std::string EpochPlotSvg(const RunRecord& run) {
  ChartText text{"epochs", "Energy per epoch, " + run.id, HowSubtitle(run.energy.method), "epoch",
                 "J"};
  std::vector<Bar> bars;
  for (const EpochRow& ep : run.epochs) {
    bars.push_back({std::to_string(ep.epoch), ep.energy_j,
                    "epoch " + std::to_string(ep.epoch) + ": " + Num(ep.energy_j) + " J, " +
                        Num(ep.seconds, "%.3g") + " s",
                    0});
  }
  if (bars.empty()) return EmptyChart(text, "no epochs recorded");
  return BarChart(text, bars);
}

std::string CarbonPlotSvg(const RunRecord& run) {
  const EnergyReport& e = run.energy;
  ChartText text{"carbon", "Carbon by component, " + run.id, HowSubtitle(e.method), "", "gCO2eq"};
  std::vector<Bar> bars;
  int color = 0;
  for (const ComponentReport& c : e.components) {
    double g = e.energy_j > 0 ? e.operational_g * c.energy_j / e.energy_j : 0;
    bars.push_back(
        {ComponentName(c.component), g,
         std::string(ComponentName(c.component)) + ": " + Num(g) + " gCO2eq (" + c.method + ")",
         color++});
  }
  if (e.components.empty()) {
    bars.push_back(
        {"operational", e.operational_g, "operational: " + Num(e.operational_g) + " g", color++});
  }
  bars.push_back({"embodied", e.embodied_g, "embodied: " + Num(e.embodied_g) + " gCO2eq", 6});
  return BarChart(text, bars);
}

std::string ParetoPlotSvg(const std::vector<RunRecord>& runs) {
  std::vector<std::pair<double, double>> xy;
  std::vector<const RunRecord*> shown;
  bool estimated = false;
  for (const RunRecord& r : runs) {
    auto it = r.metrics.find("accuracy");
    if (it == r.metrics.end() || !it->is_number()) continue;
    xy.emplace_back(r.energy.energy_j, it->get<double>());
    shown.push_back(&r);
    estimated = estimated || !HowSubtitle(r.energy.method).starts_with("measured");
  }
  ChartText text{"pareto", "Accuracy against energy",
                 estimated ? "energy ESTIMATED for some runs, not measured" : "energy measured",
                 "J", "accuracy"};
  if (xy.empty()) return EmptyChart(text, "no run records an accuracy");
  std::vector<bool> front = ParetoFront(xy);
  std::vector<ScatterPoint> points;
  for (std::size_t i = 0; i < xy.size(); ++i) {
    const RunRecord& r = *shown[i];
    points.push_back({xy[i].first, xy[i].second, r.id.substr(0, 6),
                      r.kind + " " + r.id + " (" + r.name + "): " + Num(xy[i].first) +
                          " J, accuracy " + Num(xy[i].second, "%.4f") +
                          (front[i] ? ", on the Pareto front" : ""),
                      front[i]});
  }
  if (xy.size() < runs.size()) {
    text.x_label +=
        " (" + std::to_string(runs.size() - xy.size()) + " run(s) without an accuracy not shown)";
  }
  return ScatterChart(text, points);
}

}  // namespace report_internal
}  // namespace joule
