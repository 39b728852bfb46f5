// Energy-aware search: trials drawn from a space, run by successive halving
// (paused at each rung, the best by rank and crowding resumed from their
// checkpoints) or at random, pruned when the finished trials dominate them
// even optimistically; the Pareto front, its hypervolume against the energy
// spent, and the knee (see joule/search.hpp).
#include "joule/search.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
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

// A finished trial, as the pruning and promotion rules see it.
struct Finished {
  std::vector<double> point;            // the objectives, minimised
  std::vector<double> metric_by_epoch;  // its validation metric after each complete epoch
};

// The largest improvement of the validation metric any finished trial made
// from the end of epoch `epoch` to its end (0 with none).
double BestGainAfter(const std::vector<Finished>& finished, int epoch, Objective quality) {
  double gain = 0;
  for (const Finished& f : finished) {
    if (f.metric_by_epoch.empty()) continue;
    const std::size_t at = std::min(static_cast<std::size_t>(epoch), f.metric_by_epoch.size()) - 1;
    const double then = f.metric_by_epoch[at], last = f.metric_by_epoch.back();
    gain = std::max(gain, quality == Objective::kRmse ? then - last : last - then);
  }
  return gain;
}

// A trial's point in objective space from its metric, energy and parameters.
std::vector<double> PointOf(const std::vector<Objective>& objectives, double metric,
                            double energy_j, std::int64_t parameters) {
  std::vector<double> p;
  for (Objective o : objectives) {
    switch (o) {
      case Objective::kAccuracy:
        p.push_back(-metric);
        break;
      case Objective::kRmse:
        p.push_back(metric);
        break;
      case Objective::kEnergy:
        p.push_back(energy_j);
        break;
      case Objective::kParameters:
        p.push_back(static_cast<double>(parameters));
        break;
    }
  }
  return p;
}

// Optimistic: the metric now plus the best gain seen, the energy's low end.
std::vector<double> OptimisticPoint(const std::vector<Objective>& objectives, Objective quality,
                                    double metric, double gain, double energy_low_j,
                                    std::int64_t parameters) {
  const double best =
      quality == Objective::kRmse ? std::max(0.0, metric - gain) : std::min(1.0, metric + gain);
  return PointOf(objectives, best, energy_low_j, parameters);
}

std::string Describe(const std::vector<Objective>& objectives, const std::vector<double>& point) {
  std::string s;
  for (std::size_t i = 0; i < objectives.size(); ++i) {
    if (i > 0) s += ", ";
    const bool negated = objectives[i] == Objective::kAccuracy;
    s += std::string(ObjectiveName(objectives[i])) + " " + Num(negated ? -point[i] : point[i]);
  }
  return s;
}

// The finished trial that dominates `point`, if any.
const Finished* DominatedBy(const std::vector<Finished>& finished,
                            const std::vector<double>& point) {
  for (const Finished& f : finished) {
    if (pareto::Dominates(f.point, point)) return &f;
  }
  return nullptr;
}

PredictionOptions AfterFirstEpoch() {
  PredictionOptions p;
  p.after_epochs = 1;
  return p;
}

// Random strategy: stops a trial the front dominates even optimistically,
// judged once at the end of its first epoch (where stopping saves the most).
class FrontPruner final : public Callback {
 public:
  FrontPruner(const std::vector<Objective>& objectives, Objective quality,
              const std::vector<Finished>& finished, bool prune)
      : objectives_(objectives),
        quality_(quality),
        finished_(finished),
        prune_(prune),
        predict_(AfterFirstEpoch()) {}

  std::string name() const override { return "search-pruner"; }
  void OnTrainBegin(TrainContext& ctx) override {
    predicting_ = ctx.metered() && ctx.epochs() > 1;
    if (predicting_) predict_.OnTrainBegin(ctx);
  }
  void OnStepEnd(TrainContext& ctx, const StepStats& step) override {
    if (predicting_) predict_.OnStepEnd(ctx, step);
  }
  void OnEpochEnd(TrainContext& ctx, const EpochStats& stats) override {
    if (stats.epoch != 1) return;
    if (!prune_ || !predicting_ || finished_.empty()) return;
    predict_.OnEpochEnd(ctx, stats);
    if (!predict_.prediction()) return;
    const std::vector<double> best_case =
        OptimisticPoint(objectives_, quality_, ValidationMetric(stats, quality_),
                        BestGainAfter(finished_, 1, quality_), predict_.prediction()->energy_low_j,
                        ctx.model().ParameterCount());
    if (const Finished* f = DominatedBy(finished_, best_case)) {
      reason_ = "pruned after epoch 1: even at " + Describe(objectives_, best_case) +
                " (optimistic) it is dominated by a finished trial at " +
                Describe(objectives_, f->point);
      ctx.RequestStop(StopReason::kCallback, reason_);
    }
  }
  const std::string& reason() const { return reason_; }

 private:
  std::vector<Objective> objectives_;
  Objective quality_;
  const std::vector<Finished>& finished_;
  bool prune_;
  PredictCost predict_;
  bool predicting_ = false;
  std::string reason_;
};

// Halving strategy: pauses a trial at the end of epoch `pause_at` (0: never),
// after that epoch's checkpoint; in a trial's first segment it also predicts
// its cost from the first epoch (PredictCost's rule, which needs that epoch's
// step times). Holds no state a resume needs.
class RungPause final : public Callback {
 public:
  RungPause(int pause_at, bool predict) : pause_at_(pause_at), predict_(AfterFirstEpoch()) {
    predicting_ = predict;
  }
  std::string name() const override { return "search-rung"; }
  void OnTrainBegin(TrainContext& ctx) override {
    predicting_ = predicting_ && ctx.metered() && ctx.epochs() > 1;
    if (predicting_) predict_.OnTrainBegin(ctx);
  }
  void OnStepEnd(TrainContext& ctx, const StepStats& step) override {
    if (predicting_) predict_.OnStepEnd(ctx, step);
  }
  void OnEpochEnd(TrainContext& ctx, const EpochStats& stats) override {
    if (predicting_ && stats.epoch == 1) predict_.OnEpochEnd(ctx, stats);
    if (stats.epoch == pause_at_ && !ctx.stop_requested()) {
      paused_ = true;
      ctx.RequestStop(StopReason::kCallback,
                      "paused at epoch " + std::to_string(pause_at_) + " (a search rung)");
    }
  }
  bool paused() const { return paused_; }
  const std::optional<CostPrediction>& prediction() const { return predict_.prediction(); }

 private:
  int pause_at_;
  PredictCost predict_;
  bool predicting_ = false;
  bool paused_ = false;
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

// A trial's energy predicted to its epoch limit: after one epoch, what
// PredictCost made of it; after more, the energy so far plus the epochs left
// at the mean of the epochs after the first (its start-up excluded), with
// the same interval rule (+- max(standard deviation, 5 %)).
struct EnergyForecast {
  double energy_j = 0, low_j = 0;
};
EnergyForecast ForecastEnergy(const JobResult& r, int epoch_limit,
                              const std::optional<CostPrediction>& after_first) {
  std::vector<double> later;
  for (const EpochStats& e : r.history) {
    if (!e.partial && e.epoch >= 2) later.push_back(e.energy_j);
  }
  const double spent = r.energy.energy_j;
  const int done = static_cast<int>(later.size()) + (r.history.empty() ? 0 : 1);
  if (later.empty()) {
    if (after_first) return {after_first->energy_j, after_first->energy_low_j};
    const double per_epoch = done > 0 ? spent / done : spent;
    return {per_epoch * epoch_limit, per_epoch * epoch_limit};
  }
  double mean = 0, var = 0;
  for (double e : later) mean += e;
  mean /= static_cast<double>(later.size());
  for (double e : later) var += (e - mean) * (e - mean);
  const double sd = later.size() > 1 ? std::sqrt(var / static_cast<double>(later.size() - 1)) : 0;
  const double left = std::max(0, epoch_limit - done);
  return {spent + left * mean, spent + left * std::max(0.0, mean - std::max(sd, 0.05 * mean))};
}

// A trial while it runs (and, with halving, while it waits between rungs).
struct LiveTrial {
  SearchTrial trial;
  std::unique_ptr<RunRecorder> run;  // open until the trial ends
  std::optional<CostPrediction> after_first;
  bool started = false;
};

// Removes a directory tree when it goes out of scope.
class ScratchTree {
 public:
  explicit ScratchTree(std::filesystem::path path) : path_(std::move(path)) {
    std::filesystem::create_directories(path_);
  }
  ~ScratchTree() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchTree(const ScratchTree&) = delete;
  ScratchTree& operator=(const ScratchTree&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// One search: what both strategies share (running a trial's segment, ending
// a trial, the energy spent, the finished points).
class Searcher {
 public:
  Searcher(const SearchSpace& space, const SearchOptions& o, Objective quality,
           const PreparedData* data, RunRecorder& search_run, SearchResult& result)
      : space_(space),
        o_(o),
        quality_(quality),
        data_(data),
        search_run_(search_run),
        result_(result) {}

  void RunRandom(const JobConfig& base) {
    Rng rng(o_.seed);
    for (int i = 1; o_.trials == 0 || i <= o_.trials; ++i) {
      if (o_.budget_j > 0 && spent_ >= o_.budget_j) break;
      LiveTrial t = Draw(base, i, rng);
      FrontPruner pruner(o_.objectives, quality_, finished_, o_.prune);
      Train(t, pruner, CheckpointOptions{});
      End(t, pruner.reason());
    }
  }

  void RunHalving(const JobConfig& base) {
    Rng rng(o_.seed);
    std::vector<LiveTrial> live;
    for (int i = 1; i <= o_.trials; ++i) live.push_back(Draw(base, i, rng));
    const ScratchTree checkpoints(std::filesystem::temp_directory_path() /
                                  ("joule-search-" + search_run_.id()));
    std::vector<std::size_t> active(live.size());
    for (std::size_t i = 0; i < active.size(); ++i) active[i] = i;
    std::int64_t rung_epochs = o_.min_epochs;
    for (int rung = 1; !active.empty(); ++rung, rung_epochs *= o_.eta) {
      std::vector<std::size_t> paused;
      for (std::size_t i : active) {
        LiveTrial& t = live[i];
        if (o_.budget_j > 0 && spent_ >= o_.budget_j) {
          End(t, "the search's energy budget was spent before rung " + std::to_string(rung));
          continue;
        }
        const int limit = t.trial.config.epochs;
        const int pause = rung_epochs < limit ? static_cast<int>(rung_epochs) : 0;
        RungPause cb(pause, /*predict=*/!t.started);
        CheckpointOptions c;
        c.dir = (checkpoints.path() / ("trial-" + std::to_string(t.trial.index))).string();
        c.every_epochs = pause;
        c.resume = true;
        Train(t, cb, c);
        if (cb.prediction()) t.after_first = cb.prediction();
        if (cb.paused()) {
          paused.push_back(i);
        } else {
          End(t, "");
        }
      }
      if (paused.empty()) break;
      active = Promote(live, paused, rung, static_cast<int>(rung_epochs));
    }
  }

  // The energy spent so far, and (spent, point) as each trial ended; an empty
  // point for a pruned trial.
  const std::vector<std::pair<double, std::vector<double>>>& events() const { return events_; }
  const EnergyReport& total() const { return total_; }
  double spent() const { return spent_; }

 private:
  LiveTrial Draw(const JobConfig& base, int index, Rng& rng) {
    LiveTrial t;
    t.trial.index = index;
    t.trial.config = SampleSearchSpace(space_, base, rng);
    t.trial.values = ShownValues(space_, t.trial.config);
    if (std::optional<ConfigProblem> problem = FindConfigProblem(t.trial.config)) {
      throw Error("trial " + std::to_string(index) + " (" + Shown(t.trial) +
                  "): " + problem->Message());
    }
    return t;
  }

  static std::string Shown(const SearchTrial& t) {
    std::string shown;
    for (const auto& [k, v] : t.values) shown += (shown.empty() ? "" : ", ") + k + " = " + v;
    return shown;
  }

  // Trains `t` from where it stopped (its checkpoint, with `checkpoint.resume`)
  // until `cb` or the trial's own limits stop it; counts the energy spent.
  void Train(LiveTrial& t, Callback& cb, const CheckpointOptions& checkpoint) {
    const bool first_segment = !t.started;
    if (!t.run) {
      t.run = std::make_unique<RunRecorder>(
          o_.ledger, RunHeader("train", "trial " + std::to_string(t.trial.index),
                               JobConfigJson(t.trial.config), search_run_.id()));
    }
    t.started = true;
    JobConfig metered = t.trial.config;
    // The energy at the checkpoint this segment resumes from: the run's
    // figures start there again, so what the paused segment spent after it
    // (its end) is counted once, in spent_.
    const EpochStats* resumed = first_segment ? nullptr : LastComplete(t.trial.result.history);
    const double before = resumed != nullptr ? resumed->total_energy_j : 0.0;
    if (o_.budget_j > 0) {
      // The search's budget left bounds the trial's run (the Budget callback
      // counts the run's energy from its start, resumed segments included).
      const double left = o_.budget_j - spent_ + before;
      metered.budget.energy_j = std::min(metered.budget.energy_j.value_or(left), left);
    }
    metered.checkpoint = checkpoint;
    metered.metering.on_sample = t.run->SampleCallback();
    RunRecorder& run = *t.run;
    t.trial.result = RunJob(
        metered, [&run](const EpochStats& s) { run.AppendEpoch(EpochRowOf(s)); }, {&cb}, data_,
        /*validated=*/false);
    spent_ += t.trial.result.energy.energy_j - before;
    if (!data_ &&
        (t.trial.result.task == Task::kClassification) != (quality_ == Objective::kAccuracy)) {
      throw Error(std::string("--objectives: ") + ObjectiveName(quality_) +
                  " does not fit this job's task");
    }
    if (first_segment && t.trial.index == 1 && o_.budget_j > 0) {
      const JobResult& r = t.trial.result;
      const double first_epoch_j = r.history.empty() ? r.energy.energy_j : r.history[0].energy_j;
      if (LastComplete(r.history) == nullptr || first_epoch_j >= o_.budget_j) {
        // The first trial's first epoch cost the whole budget (the Budget
        // callback stops within it only once a sample has priced its steps):
        // no trial can finish within it, so the search is refused, not left empty.
        throw Error("--budget-j " + Num(o_.budget_j) + ": below one epoch of the first trial (" +
                    Num(first_epoch_j) + " J, " + r.energy.method +
                    "); give a budget of several epochs");
      }
    }
  }

  // Ends `t`: pruned with `reason`, or (reason empty) finished with its point.
  void End(LiveTrial& t, std::string reason) {
    SearchTrial& trial = t.trial;
    const JobResult& r = trial.result;
    std::vector<double> metric_by_epoch;
    for (const EpochStats& e : r.history) {
      if (!e.partial) metric_by_epoch.push_back(ValidationMetric(e, quality_));
    }
    trial.epochs_trained = static_cast<int>(metric_by_epoch.size());
    if (reason.empty() && t.started &&
        (r.stop_reason == StopReason::kBudget || metric_by_epoch.empty())) {
      reason = "stopped at the search's energy budget";
    }
    trial.pruned = !reason.empty();
    trial.pruned_reason = reason;
    if (!trial.pruned) {
      trial.validation_metric = metric_by_epoch.back();
      trial.point =
          PointOf(o_.objectives, trial.validation_metric, r.energy.energy_j, r.parameters);
      finished_.push_back({trial.point, metric_by_epoch});
    }
    if (t.started) {
      total_ = ended_ == 0 ? r.energy : CombineEnergyReports(total_, r.energy);
      nlohmann::json metrics = JobMetrics(r);
      metrics["search"] = {{"search_id", search_run_.id()},
                           {"trial", trial.index},
                           {"pruned", trial.pruned},
                           {"epochs_trained", trial.epochs_trained}};
      if (trial.pruned) metrics["search"]["pruned_reason"] = trial.pruned_reason;
      for (const auto& [k, v] : trial.values) metrics["search"]["values"][k] = v;
      t.run->Finish(RunStatus::kCompleted, trial.pruned ? trial.pruned_reason : r.stop_message,
                    r.energy, metrics);
      trial.run_id = t.run->id();
      t.run.reset();
      ++ended_;
    }
    events_.emplace_back(spent_, trial.point);
    result_.trials.push_back(std::move(trial));
    if (o_.on_trial) o_.on_trial(result_.trials.back().index, o_.trials, result_.trials.back());
  }

  // Halving's promotion after a rung: the paused trials ranked with the
  // finished ones by non-dominated rank of their predicted points, then by
  // crowding; the best ceil(n / eta) go on unless the finished trials dominate
  // even their optimistic points. Ends the others; returns who goes on.
  std::vector<std::size_t> Promote(std::vector<LiveTrial>& live,
                                   const std::vector<std::size_t>& paused, int rung, int epochs) {
    std::vector<std::vector<double>> points;
    std::vector<std::vector<double>> optimistic;
    for (std::size_t i : paused) {
      const LiveTrial& t = live[i];
      const JobResult& r = t.trial.result;
      const double metric = ValidationMetric(*LastComplete(r.history), quality_);
      const EnergyForecast f = ForecastEnergy(r, t.trial.config.epochs, t.after_first);
      points.push_back(PointOf(o_.objectives, metric, f.energy_j, r.parameters));
      optimistic.push_back(OptimisticPoint(o_.objectives, quality_, metric,
                                           BestGainAfter(finished_, epochs, quality_), f.low_j,
                                           r.parameters));
    }
    for (const Finished& f : finished_) points.push_back(f.point);
    const std::vector<int> rank = pareto::NonDominatedRanks(points);
    std::vector<double> crowding(points.size(), 0.0);
    for (int level = 0;; ++level) {
      std::vector<std::size_t> members;
      for (std::size_t j = 0; j < points.size(); ++j) {
        if (rank[j] == level) members.push_back(j);
      }
      if (members.empty()) break;
      std::vector<std::vector<double>> group;
      for (std::size_t j : members) group.push_back(points[j]);
      const std::vector<double> d = pareto::CrowdingDistance(group);
      for (std::size_t m = 0; m < members.size(); ++m) crowding[members[m]] = d[m];
    }
    std::vector<std::size_t> order(paused.size());
    for (std::size_t j = 0; j < order.size(); ++j) order[j] = j;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      if (rank[a] != rank[b]) return rank[a] < rank[b];
      return crowding[a] > crowding[b];
    });
    const std::size_t keep = (paused.size() + o_.eta - 1) / o_.eta;
    std::vector<std::size_t> promoted;
    std::string names;
    for (std::size_t pos = 0; pos < order.size(); ++pos) {
      const std::size_t j = order[pos];
      LiveTrial& t = live[paused[j]];
      if (pos >= keep) {
        End(t, "not promoted past epoch " + std::to_string(epochs) + ": non-dominated rank " +
                   std::to_string(rank[j] + 1) + ", place " + std::to_string(pos + 1) + " of " +
                   std::to_string(paused.size()) + " paused at rung " + std::to_string(rung));
        continue;
      }
      const Finished* f = o_.prune ? DominatedBy(finished_, optimistic[j]) : nullptr;
      if (f != nullptr) {
        End(t, "pruned after epoch " + std::to_string(epochs) + ": even at " +
                   Describe(o_.objectives, optimistic[j]) +
                   " (optimistic) it is dominated by a finished trial at " +
                   Describe(o_.objectives, f->point));
        continue;
      }
      promoted.push_back(paused[j]);
      names += (names.empty() ? "" : ", ") + std::to_string(t.trial.index);
    }
    std::sort(promoted.begin(), promoted.end());
    if (o_.on_progress) {
      o_.on_progress("rung " + std::to_string(rung) + " (epoch " + std::to_string(epochs) + "): " +
                     std::to_string(promoted.size()) + " of " + std::to_string(paused.size()) +
                     " paused trials go on" + (names.empty() ? "" : " (trials " + names + ")") +
                     "; " + Num(spent_) + " J spent so far");
    }
    return promoted;
  }

  const SearchSpace& space_;
  const SearchOptions& o_;
  Objective quality_;
  const PreparedData* data_;
  RunRecorder& search_run_;
  SearchResult& result_;
  std::vector<Finished> finished_;
  std::vector<std::pair<double, std::vector<double>>> events_;
  EnergyReport total_;
  double spent_ = 0;
  int ended_ = 0;
};

}  // namespace

Objective ParseObjective(const std::string& name) {
  if (name == "accuracy") return Objective::kAccuracy;
  if (name == "rmse") return Objective::kRmse;
  if (name == "energy") return Objective::kEnergy;
  if (name == "params") return Objective::kParameters;
  throw Error("unknown objective '" + name + "': expected accuracy, rmse, energy or params");
}

SearchStrategy ParseSearchStrategy(const std::string& name) {
  if (name == "halving") return SearchStrategy::kHalving;
  if (name == "random") return SearchStrategy::kRandom;
  throw Error("unknown strategy '" + name + "': expected halving or random");
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
  if (o.strategy == SearchStrategy::kHalving) {
    if (o.trials == 0) {
      throw Error("--strategy halving needs --trials N (the trials it starts at the first rung)");
    }
    if (o.eta < 2) throw Error("--eta " + std::to_string(o.eta) + ": must be >= 2");
    if (o.min_epochs < 1) {
      throw Error("--min-epochs " + std::to_string(o.min_epochs) + ": must be >= 1");
    }
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
  header_config["strategy"] = o.strategy == SearchStrategy::kHalving ? "halving" : "random";
  if (o.strategy == SearchStrategy::kHalving) {
    header_config["eta"] = o.eta;
    header_config["min_epochs"] = o.min_epochs;
  }
  RunRecorder search_run(o.ledger, RunHeader("search", "search " + space.path, header_config));
  result.run_id = search_run.id();

  Searcher searcher(space, o, quality, shared_data ? &*data : nullptr, search_run, result);
  if (o.strategy == SearchStrategy::kHalving) {
    searcher.RunHalving(base);
  } else {
    searcher.RunRandom(base);
  }
  const EnergyReport& total = searcher.total();
  result.energy_j = searcher.spent();
  std::sort(result.trials.begin(), result.trials.end(),
            [](const SearchTrial& a, const SearchTrial& b) { return a.index < b.index; });
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
    std::vector<std::vector<double>> so_far;
    for (const auto& [spent, point] : searcher.events()) {
      if (!point.empty()) so_far.push_back(point);
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
