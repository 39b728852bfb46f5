// Energy-aware search: trials drawn from a space, pruned when the front
// dominates them even optimistically, the Pareto front, its hypervolume
// against the energy spent, and the knee (see joule/search.hpp).
#include "joule/search.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "joule/pareto.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

std::string Num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

// Keys whose value changes the data a trial sees: with any of them in the
// space, each trial prepares its own.
bool SpaceTouchesData(const SearchSpace& space) {
  for (const SearchParam& p : space.params) {
    if (p.key == "data" || p.key == "target" || p.key == "task" || p.key == "seed" ||
        p.key == "validation_fraction") {
      return true;
    }
  }
  return false;
}

// The validation figure a trial is judged on: accuracy, or RMSE.
double ValidationMetric(const EpochStats& e, Objective quality) {
  return quality == Objective::kRmse ? e.eval.rmse : e.eval.accuracy;
}

const EpochStats* LastComplete(const std::vector<EpochStats>& history) {
  for (auto it = history.rbegin(); it != history.rend(); ++it) {
    if (!it->partial) return &*it;
  }
  return nullptr;
}

// Stops a trial the front dominates even optimistically, judged once at the
// end of its first epoch (where stopping saves the most).
class FrontPruner final : public Callback {
 public:
  struct Finished {
    std::vector<double> point;  // the objectives, minimised
    double first_epoch_metric = 0, final_metric = 0;
  };

  FrontPruner(const std::vector<Objective>& objectives, Objective quality,
              const std::vector<Finished>& finished, bool prune)
      : objectives_(objectives),
        quality_(quality),
        finished_(finished),
        prune_(prune),
        predict_(FirstEpoch()) {}

  static PredictionOptions FirstEpoch() {
    PredictionOptions p;
    p.after_epochs = 1;
    return p;
  }
  std::string name() const override { return "search-pruner"; }
  void OnTrainBegin(TrainContext& ctx) override {
    predicting_ = ctx.metered() && ctx.epochs() > 1;
    if (predicting_) predict_.OnTrainBegin(ctx);
  }
  void OnEpochEnd(TrainContext& ctx, const EpochStats& stats) override {
    if (stats.epoch != 1) return;
    if (!prune_ || !predicting_ || finished_.empty()) return;
    predict_.OnEpochEnd(ctx, stats);
    if (!predict_.prediction()) return;
    // Optimistic: the low end of the energy interval, and the quality now
    // plus the largest gain any finished trial made after its first epoch.
    double gain = 0;
    for (const Finished& f : finished_) {
      gain = std::max(gain, quality_ == Objective::kRmse ? f.first_epoch_metric - f.final_metric
                                                         : f.final_metric - f.first_epoch_metric);
    }
    const double metric = ValidationMetric(stats, quality_);
    std::vector<double> best_case;
    for (Objective o : objectives_) {
      switch (o) {
        case Objective::kAccuracy:
          best_case.push_back(-std::min(1.0, metric + gain));
          break;
        case Objective::kRmse:
          best_case.push_back(std::max(0.0, metric - gain));
          break;
        case Objective::kEnergy:
          best_case.push_back(predict_.prediction()->energy_low_j);
          break;
        case Objective::kParameters:
          best_case.push_back(static_cast<double>(ctx.model().ParameterCount()));
          break;
      }
    }
    for (const Finished& f : finished_) {
      if (pareto::Dominates(f.point, best_case)) {
        reason_ = "pruned after epoch 1: even at " + Describe(best_case) +
                  " (optimistic) it is dominated by a finished trial at " + Describe(f.point);
        ctx.RequestStop(StopReason::kCallback, reason_);
        return;
      }
    }
  }
  const std::string& reason() const { return reason_; }

 private:
  std::string Describe(const std::vector<double>& point) const {
    std::string s;
    for (std::size_t i = 0; i < objectives_.size(); ++i) {
      if (i > 0) s += ", ";
      const bool negated = objectives_[i] == Objective::kAccuracy;
      s += std::string(ObjectiveName(objectives_[i])) + " " + Num(negated ? -point[i] : point[i]);
    }
    return s;
  }

  std::vector<Objective> objectives_;
  Objective quality_;
  const std::vector<Finished>& finished_;
  bool prune_;
  PredictCost predict_;
  bool predicting_ = false;
  std::string reason_;
};

// The reference point of the hypervolume: per objective, the worst finished
// value moved 10 % of the range (or of the value, for a single one) further;
// accuracy against 0.
std::vector<double> ReferencePoint(const std::vector<Objective>& objectives,
                                   const std::vector<std::vector<double>>& points) {
  std::vector<double> ref;
  for (std::size_t k = 0; k < objectives.size(); ++k) {
    if (objectives[k] == Objective::kAccuracy) {
      ref.push_back(0.0);
      continue;
    }
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const auto& p : points) {
      lo = std::min(lo, p[k]);
      hi = std::max(hi, p[k]);
    }
    const double span = hi > lo ? hi - lo : std::abs(hi);
    ref.push_back(hi + 0.1 * (span > 0 ? span : 1.0));
  }
  return ref;
}

std::vector<std::pair<std::string, std::string>> ShownValues(const SearchSpace& space,
                                                             const JobConfig& c) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const SearchParam& p : space.params) {
    out.emplace_back(p.key, ShowFieldValue(FindJobField(p.key)->get(c)));
  }
  return out;
}

}  // namespace

Objective ParseObjective(const std::string& name) {
  if (name == "accuracy") return Objective::kAccuracy;
  if (name == "rmse") return Objective::kRmse;
  if (name == "energy") return Objective::kEnergy;
  if (name == "params") return Objective::kParameters;
  throw Error("unknown objective '" + name + "': expected accuracy, rmse, energy or params");
}

const char* ObjectiveName(Objective o) {
  switch (o) {
    case Objective::kAccuracy:
      return "accuracy";
    case Objective::kRmse:
      return "rmse";
    case Objective::kEnergy:
      return "energy";
    case Objective::kParameters:
      return "params";
  }
  return "accuracy";
}

SearchResult RunSearch(const JobConfig& base_in, const SearchSpace& space, const SearchOptions& o) {
  if (o.objectives.size() < 2 || o.objectives.size() > 3) {
    throw Error("--objectives: give two or three of accuracy (or rmse), energy, params");
  }
  int quality_count = 0;
  Objective quality = Objective::kAccuracy;
  for (std::size_t i = 0; i < o.objectives.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (o.objectives[i] == o.objectives[j]) {
        throw Error(std::string("--objectives: '") + ObjectiveName(o.objectives[i]) +
                    "' is given twice");
      }
    }
    if (o.objectives[i] == Objective::kAccuracy || o.objectives[i] == Objective::kRmse) {
      ++quality_count;
      quality = o.objectives[i];
    }
  }
  if (quality_count != 1) {
    throw Error("--objectives: give exactly one of accuracy (classification) or rmse (regression)");
  }
  if (o.trials < 0) throw Error("--trials " + std::to_string(o.trials) + ": must be >= 1");
  if (!(o.budget_j >= 0) || !std::isfinite(o.budget_j)) {
    throw Error("--budget-j: must be a number of joules > 0");
  }
  if (o.trials == 0 && o.budget_j == 0) {
    throw Error("give --trials N or --budget-j J (or both): how long the search may run");
  }
  if (space.params.empty()) throw Error(space.path + ": the space has no params");

  SearchResult result;
  JobConfig base = base_in;
  if (base.validation_fraction <= 0) {
    base.validation_fraction = 0.1;
    result.notes.push_back(
        "the base job had no validation split: trials hold out 10% of the training data, and "
        "select on it, never on the test set");
  }
  if (!base.metering.enabled) throw Error("a search needs the meter: energy is one of its inputs");
  ValidateJobConfig(base);
  // Every choice is checked already; a drawn config can still break a
  // cross-field rule (a prediction past a drawn epoch limit): checked per trial.

  const bool shared_data = !SpaceTouchesData(space);
  std::optional<PreparedData> data;
  if (shared_data) {
    data = PrepareData(base.data, base.target, base.task, base.seed, base.validation_fraction);
    const bool classification = data->train.task == Task::kClassification;
    if (classification != (quality == Objective::kAccuracy)) {
      throw Error(
          std::string("--objectives: ") + ObjectiveName(quality) + " does not fit " +
          (classification ? "a classification job (use accuracy)" : "a regression job (use rmse)"));
    }
  }

  nlohmann::json header_config = {
      {"base", JobConfigJson(base)}, {"space", space.path}, {"trials", o.trials},
      {"budget_j", o.budget_j},      {"prune", o.prune},    {"seed", o.seed}};
  for (Objective ob : o.objectives) header_config["objectives"].push_back(ObjectiveName(ob));
  RunRecorder search_run(o.ledger, RunHeader("search", "search " + space.path, header_config));
  result.run_id = search_run.id();

  Rng rng(o.seed);
  std::vector<FrontPruner::Finished> finished;
  EnergyReport total;
  for (int i = 1; o.trials == 0 || i <= o.trials; ++i) {
    if (o.budget_j > 0 && result.energy_j >= o.budget_j) break;
    SearchTrial t;
    t.index = i;
    t.config = SampleSearchSpace(space, base, rng);
    t.values = ShownValues(space, t.config);
    if (o.budget_j > 0) {
      // The search's budget left bounds the trial (the Budget callback stops it there).
      const double left = o.budget_j - result.energy_j;
      t.config.budget.energy_j = std::min(t.config.budget.energy_j.value_or(left), left);
    }
    if (std::optional<ConfigProblem> problem = FindConfigProblem(t.config)) {
      std::string shown;
      for (const auto& [k, v] : t.values) shown += (shown.empty() ? "" : ", ") + k + " = " + v;
      throw Error("trial " + std::to_string(i) + " (" + shown + "): " + problem->Message());
    }
    FrontPruner pruner(o.objectives, quality, finished, o.prune);
    RunRecorder run(o.ledger, RunHeader("train", "trial " + std::to_string(i),
                                        JobConfigJson(t.config), search_run.id()));
    JobConfig metered = t.config;
    metered.metering.on_sample = run.SampleCallback();
    t.result = RunJob(
        metered, [&run](const EpochStats& s) { run.AppendEpoch(EpochRowOf(s)); }, {&pruner},
        shared_data ? &*data : nullptr, /*validated=*/false);
    if (!shared_data &&
        (t.result.task == Task::kClassification) != (quality == Objective::kAccuracy)) {
      throw Error(std::string("--objectives: ") + ObjectiveName(quality) +
                  " does not fit this job's task");
    }
    const EpochStats* last = LastComplete(t.result.history);
    const double first_epoch_j =
        t.result.history.empty() ? t.result.energy.energy_j : t.result.history.front().energy_j;
    if (i == 1 && o.budget_j > 0 && (last == nullptr || first_epoch_j >= o.budget_j)) {
      // The first trial's first epoch cost the whole budget (the Budget
      // callback stops within it only once a sample has priced its steps): no
      // trial can finish within it, so the search is refused, not left empty.
      throw Error("--budget-j " + Num(o.budget_j) + ": below one epoch of the first trial (" +
                  Num(first_epoch_j) + " J, " + t.result.energy.method +
                  "); give a budget of several epochs");
    }
    result.energy_j += t.result.energy.energy_j;
    total = i == 1 ? t.result.energy : CombineEnergyReports(total, t.result.energy);
    if (!pruner.reason().empty()) {
      t.pruned = true;
      t.pruned_reason = pruner.reason();
    } else if (t.result.stop_reason == StopReason::kBudget || last == nullptr) {
      t.pruned = true;
      t.pruned_reason = "stopped at the search's energy budget";
    }
    if (!t.pruned) {
      t.validation_metric = ValidationMetric(*last, quality);
      for (Objective ob : o.objectives) {
        switch (ob) {
          case Objective::kAccuracy:
            t.point.push_back(-t.validation_metric);
            break;
          case Objective::kRmse:
            t.point.push_back(t.validation_metric);
            break;
          case Objective::kEnergy:
            t.point.push_back(t.result.energy.energy_j);
            break;
          case Objective::kParameters:
            t.point.push_back(static_cast<double>(t.result.parameters));
            break;
        }
      }
      finished.push_back(
          {t.point, ValidationMetric(t.result.history.front(), quality), t.validation_metric});
    }
    nlohmann::json metrics = JobMetrics(t.result);
    metrics["search"] = {{"search_id", search_run.id()}, {"trial", i}, {"pruned", t.pruned}};
    if (t.pruned) metrics["search"]["pruned_reason"] = t.pruned_reason;
    for (const auto& [k, v] : t.values) metrics["search"]["values"][k] = v;
    run.Finish(RunStatus::kCompleted, t.pruned ? t.pruned_reason : t.result.stop_message,
               t.result.energy, metrics);
    t.run_id = run.id();
    result.trials.push_back(std::move(t));
    if (o.on_trial) o.on_trial(i, o.trials, result.trials.back());
  }
  result.energy_method = total.method;

  // The front of the finished trials, its hypervolume after each trial, the knee.
  std::vector<std::vector<double>> points;
  std::vector<std::size_t> owner;
  for (std::size_t i = 0; i < result.trials.size(); ++i) {
    if (!result.trials[i].pruned) {
      points.push_back(result.trials[i].point);
      owner.push_back(i);
    }
  }
  nlohmann::json metrics = {
      {"trials", result.trials.size()}, {"energy_j", result.energy_j}, {"notes", result.notes}};
  int pruned = 0;
  for (const SearchTrial& t : result.trials) pruned += t.pruned;
  metrics["pruned"] = pruned;
  if (!points.empty()) {
    const std::vector<bool> on_front = pareto::NonDominated(points);
    std::vector<std::vector<double>> front_points;
    for (std::size_t j = 0; j < points.size(); ++j) {
      if (!on_front[j]) continue;
      result.trials[owner[j]].on_front = true;
      result.front.push_back(owner[j]);
      front_points.push_back(points[j]);
    }
    std::sort(result.front.begin(), result.front.end(), [&](std::size_t a, std::size_t b) {
      return result.trials[a].point[0] < result.trials[b].point[0];
    });
    const std::size_t knee_in_front = pareto::Knee(front_points);
    std::size_t knee_trial = 0;
    for (std::size_t j = 0, seen = 0; j < points.size(); ++j) {
      if (on_front[j] && seen++ == knee_in_front) knee_trial = owner[j];
    }
    result.knee = knee_trial;
    result.reference = ReferencePoint(o.objectives, points);
    double spent = 0;
    std::vector<std::vector<double>> so_far;
    for (const SearchTrial& t : result.trials) {
      spent += t.result.energy.energy_j;
      if (!t.pruned) so_far.push_back(t.point);
      result.hypervolume_by_energy.emplace_back(spent,
                                                pareto::Hypervolume(so_far, result.reference));
    }
    for (std::size_t i : result.front) {
      const SearchTrial& t = result.trials[i];
      nlohmann::json row = {{"trial", t.index}, {"run_id", t.run_id}};
      for (const auto& [k, v] : t.values) row["values"][k] = v;
      for (std::size_t k = 0; k < o.objectives.size(); ++k) {
        const bool negated = o.objectives[k] == Objective::kAccuracy;
        row[ObjectiveName(o.objectives[k])] = negated ? -t.point[k] : t.point[k];
      }
      // The test set, measured for the front only and never used to select.
      row[t.result.task == Task::kClassification ? "test_accuracy" : "test_rmse"] =
          t.result.task == Task::kClassification ? t.result.final_eval.accuracy
                                                 : t.result.final_eval.rmse;
      metrics["front"].push_back(row);
    }
    metrics["knee_trial"] = result.trials[result.knee].index;
    metrics["reference"] = result.reference;
    for (const auto& [e, hv] : result.hypervolume_by_energy) {
      metrics["hypervolume_by_energy"].push_back({e, hv});
    }
    metrics["hypervolume"] = result.hypervolume_by_energy.back().second;
  }
  search_run.Finish(RunStatus::kCompleted, "", total, metrics);
  return result;
}

}  // namespace joule
