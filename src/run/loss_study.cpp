// The loss study: the same MLP trained on a regression table with each
// regression loss over several seeds; per loss, the epochs and joules to a
// target validation RMSE and the final holdout RMSE and MAE.
//
// Every run goes to the epoch limit: "to the target" is read from the run's
// history. A run stopped at the target would have done exactly those steps, so
// the figures are the same, and the final RMSE and MAE compare the losses
// after the same number of epochs.
#include <algorithm>
#include <cmath>
#include <limits>

#include "joule/run.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

Spread Summarise(const std::vector<double>& v) {
  Spread s;
  s.n = static_cast<int>(v.size());
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  if (v.size() > 1) {
    double ss = 0;
    for (double x : v) ss += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(ss / static_cast<double>(v.size() - 1));
  }
  return s;
}

StudyRun Figures(const JobResult& r, std::uint64_t seed, double target_rmse) {
  StudyRun f;
  f.seed = seed;
  f.final_rmse = r.final_eval.rmse;
  f.final_mae = r.final_eval.mae;
  f.energy = r.energy;
  f.seconds = r.seconds;
  f.epochs = r.epochs;
  f.best_validation_rmse = std::numeric_limits<double>::infinity();
  double seconds = 0;
  for (const EpochStats& s : r.history) {
    seconds += s.seconds;
    if (s.partial || s.eval.rows == 0) continue;
    f.best_validation_rmse = std::min(f.best_validation_rmse, s.eval.rmse);
    if (!f.reached && s.eval.rmse <= target_rmse) {
      f.reached = true;
      f.epochs_to_target = s.epoch;
      f.energy_to_target_j = s.total_energy_j;
      f.seconds_to_target = seconds;
    }
  }
  return f;
}

StudyLoss SummariseLoss(const std::string& loss, std::vector<StudyRun> runs) {
  StudyLoss s;
  s.loss = loss;
  std::vector<double> epochs, energy, rmse, mae, total;
  for (const StudyRun& r : runs) {
    if (r.reached) {
      ++s.reached;
      epochs.push_back(r.epochs_to_target);
      energy.push_back(r.energy_to_target_j);
    }
    rmse.push_back(r.final_rmse);
    mae.push_back(r.final_mae);
    total.push_back(r.energy.energy_j);
  }
  s.runs = std::move(runs);
  s.epochs = Summarise(epochs);
  s.energy_j = Summarise(energy);
  s.final_rmse = Summarise(rmse);
  s.final_mae = Summarise(mae);
  s.total_energy_j = Summarise(total);
  return s;
}

void CheckStudyOptions(const LossStudyOptions& o) {
  if (o.seeds < 1) throw Error("seeds = " + std::to_string(o.seeds) + ": must be at least 1");
  if (o.target_rmse < 0 || !std::isfinite(o.target_rmse)) {
    throw Error("target_rmse = " + std::to_string(o.target_rmse) + ": must be > 0");
  }
  const std::vector<std::string>& known = StudyLosses();
  for (const std::string& loss : o.losses) {
    if (std::find(known.begin(), known.end(), loss) == known.end()) {
      throw Error("losses: unknown loss '" + loss +
                  "': expected some of mse, mae, huber, log-cosh, annealed-huber");
    }
  }
}

}  // namespace

const std::vector<std::string>& StudyLosses() {
  static const std::vector<std::string> losses = {"mse", "mae", "huber", "log-cosh",
                                                  "annealed-huber"};
  return losses;
}

JobConfig LossStudyBaseJob(const std::string& data, const std::string& target, int max_epochs) {
  JobConfig base;
  base.data = data;
  base.target = target;
  base.task = "regression";
  base.model = "mlp";
  base.epochs = max_epochs;
  // Adam at a constant lr: a schedule would tie "epochs to target" to the
  // epoch limit, and Adam's per-parameter scaling keeps one lr fair to losses
  // whose gradients differ in size (MAE's are +-1, MSE's grow with the error).
  base.optimizer = OptimizerConfig{.kind = "adam", .lr = 1e-3};
  base.lr_schedule = "constant";
  base.batch_size = 128;
  base.validation_fraction = 0.2;
  return base;
}

LossStudyResult RunLossStudy(
    const JobConfig& base, const LossStudyOptions& o,
    const std::function<void(int, int, const std::string&, const StudyRun&)>& on_run) {
  CheckStudyOptions(o);
  ValidateJobConfig(base);
  nlohmann::json config = JobConfigJson(base);
  config["study"] = "losses";
  config["seeds"] = o.seeds;
  config["losses"] = o.losses;
  RunRecorder recorder(o.ledger, RunHeader("study", "losses " + base.data, config));
  EnergyReport total;
  LossStudyResult result;
  // The target in the data's units: given, or a fraction of the target
  // column's standard deviation on the first seed's training split.
  PreparedData probe =
      PrepareData(base.data, base.target, "regression", 1, base.validation_fraction);
  result.target_stddev = probe.target_scaler.stddev;
  result.target_rmse = o.target_rmse > 0 ? o.target_rmse : o.target_fraction * result.target_stddev;

  int index = 0, count = static_cast<int>(o.losses.size()) * o.seeds;
  for (const std::string& loss : o.losses) {
    std::vector<StudyRun> runs;
    for (int seed = 1; seed <= o.seeds; ++seed) {
      JobConfig c = base;
      c.loss = loss;
      c.seed = static_cast<std::uint64_t>(seed);
      // Seed 1's data is the probe's: the split depends on the seed only.
      JobResult r = RunJob(c, nullptr, {}, seed == 1 ? &probe : nullptr, /*validated=*/true);
      runs.push_back(Figures(r, c.seed, result.target_rmse));
      total = index == 0 ? r.energy : CombineEnergyReports(total, r.energy);
      result.last = std::move(r);
      if (on_run) on_run(++index, count, loss, runs.back());
    }
    result.losses.push_back(SummariseLoss(loss, std::move(runs)));
  }
  nlohmann::json metrics = {{"target_rmse", result.target_rmse}};
  for (const StudyLoss& loss : result.losses) {
    metrics[loss.loss] = {{"reached", loss.reached}, {"final_rmse", loss.final_rmse.mean}};
  }
  recorder.Finish(RunStatus::kCompleted, "", total, metrics);
  return result;
}

}  // namespace joule
