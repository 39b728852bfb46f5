// The Software Carbon Intensity of a run: the formula, and its inputs read
// from a RunRecord.
#include <cmath>

#include "joule/report.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

constexpr double kJoulesPerKwh = 3.6e6;

double MetricOr(const RunRecord& run, const char* key, double fallback) {
  auto it = run.metrics.find(key);
  return it != run.metrics.end() && it->is_number() ? it->get<double>() : fallback;
}

[[noreturn]] void NoUnit(const RunRecord& run, const std::string& why) {
  throw Error("run " + run.id + ": " + why + "; use --per run");
}

// R for `unit`, from what the run recorded.
double UnitsOf(const RunRecord& run, SciUnit unit) {
  switch (unit) {
    case SciUnit::kRun:
      return 1;
    case SciUnit::kEpoch: {
      double epochs = MetricOr(run, "epochs", static_cast<double>(run.epochs.size()));
      if (!(epochs > 0)) NoUnit(run, "a " + run.kind + " run has no epochs");
      return epochs;
    }
    case SciUnit::kThousandInferences: {
      // bench-infer records the joules per 1000 inferences of its metered
      // throughput run: the run's energy over it is how many thousands ran.
      double per_1000 = MetricOr(run, "j_per_1000", 0);
      if (!(per_1000 > 0) || !(run.energy.energy_j > 0)) {
        NoUnit(run, "a " + run.kind + " run records no metered inferences");
      }
      return run.energy.energy_j / per_1000;
    }
    case SciUnit::kSample: {
      double steps = MetricOr(run, "steps", 0);
      auto batch = run.config.find("batch_size");
      if (!(steps > 0) || batch == run.config.end() || !batch->is_number()) {
        NoUnit(run, "a " + run.kind + " run records no training steps and batch size");
      }
      return steps * batch->get<double>();
    }
  }
  return 1;
}

}  // namespace

const char* SciUnitName(SciUnit unit) {
  switch (unit) {
    case SciUnit::kRun:
      return "run";
    case SciUnit::kEpoch:
      return "epoch";
    case SciUnit::kThousandInferences:
      return "1000-inferences";
    case SciUnit::kSample:
      return "sample";
  }
  return "run";
}

SciUnit ParseSciUnit(const std::string& text) {
  for (SciUnit u :
       {SciUnit::kRun, SciUnit::kEpoch, SciUnit::kThousandInferences, SciUnit::kSample}) {
    if (text == SciUnitName(u)) return u;
  }
  throw Error("--per " + text + ": expected run, epoch, 1000-inferences or sample");
}

Sci ComputeSci(const SciInputs& in) {
  for (double v : {in.energy_kwh, in.intensity_g_per_kwh, in.embodied_g}) {
    if (!std::isfinite(v) || v < 0) throw Error("SCI: inputs must be finite and >= 0");
  }
  if (!std::isfinite(in.units) || !(in.units > 0)) {
    throw Error("SCI: the number of functional units R must be > 0");
  }
  Sci sci;
  sci.inputs = in;
  sci.g_per_unit = (in.energy_kwh * in.intensity_g_per_kwh + in.embodied_g) / in.units;
  return sci;
}

Sci SciOf(const RunRecord& run, SciUnit unit) {
  const EnergyReport& e = run.energy;
  SciInputs in;
  in.unit = unit;
  in.units = UnitsOf(run, unit);
  in.energy_kwh = e.energy_j / kJoulesPerKwh * e.pue;
  in.intensity_g_per_kwh = e.intensity_g_per_kwh;
  // The intensity the meter applied gives the operational grams exactly;
  // taking it back from them keeps E x I equal to the run's own figure.
  if (in.energy_kwh > 0) in.intensity_g_per_kwh = e.operational_g / in.energy_kwh;
  in.embodied_g = e.embodied_g;
  if (e.estimated) in.estimated.push_back("E: " + e.method);
  if (e.intensity_source.rfind("world average", 0) == 0) {
    in.estimated.push_back("I: the world average (no location given)");
  }
  return ComputeSci(in);
}

}  // namespace joule
