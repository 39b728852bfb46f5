// The stopping and adapting callbacks: early stopping, target, budget,
// adaptive batch size and the annealed Huber delta. (Learning-rate schedules
// are in lr_schedules.cpp.)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "joule/train.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string Num(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.6g", value);
  return buffer;
}

// JSON has no NaN: "no best yet" is stored as null.
nlohmann::json NumberOrNull(double value) {
  return std::isnan(value) ? nlohmann::json(nullptr) : nlohmann::json(value);
}

double NumberFromJson(const nlohmann::json& values, const char* key) {
  const nlohmann::json& v = values.at(key);
  return v.is_null() ? kNaN : v.get<double>();
}

void RequireNonNegative(const std::string& field, double value) {
  if (!(value >= 0) || !std::isfinite(value)) {
    throw Error(field + " = " + Num(value) + ": expected a finite number >= 0");
  }
}

void RequirePatience(const std::string& field, int patience) {
  if (patience < 0) {
    throw Error(field + " = " + std::to_string(patience) +
                ": expected a number of epochs >= 0 (e.g. 3)");
  }
}

}  // namespace

// --- EarlyStopping ------------------------------------------------------------

EarlyStopping::EarlyStopping(const EarlyStoppingOptions& options)
    : options_(options), monitor_(options.monitor, "early_stopping.monitor"), best_(kNaN) {
  RequirePatience("early_stopping.patience", options.patience);
  RequireNonNegative("early_stopping.min_delta", options.min_delta);
}

void EarlyStopping::OnTrainBegin(TrainContext&) {
  best_ = kNaN;
  best_epoch_ = 0;
  wait_ = 0;
  restored_ = false;
  best_weights_.clear();
}

void EarlyStopping::OnEpochEnd(TrainContext& ctx, const EpochStats& stats) {
  double value = monitor_.Value(stats, ctx.task());
  if (monitor_.Improves(value, best_, options_.min_delta, ctx.task())) {
    best_ = value;
    best_epoch_ = stats.epoch;
    wait_ = 0;
    if (options_.restore_best) {
      std::vector<std::pair<std::string, Tensor*>> named = ctx.model().NamedTensors();
      if (best_weights_.size() != named.size()) {
        best_weights_.clear();
        for (auto& [name, tensor] : named) best_weights_.emplace_back(name, tensor->Clone());
      } else {
        for (std::size_t i = 0; i < named.size(); ++i)
          best_weights_[i].second.CopyFrom(*named[i].second);
      }
    }
    return;
  }
  ++wait_;
  if (wait_ >= options_.patience) {
    ctx.RequestStop(StopReason::kEarlyStopping,
                    "early stopping: validation " + monitor_.Name(ctx.task()) +
                        " has not improved on " + Num(best_) + " (epoch " +
                        std::to_string(best_epoch_) + ") for " + std::to_string(wait_) +
                        (wait_ == 1 ? " epoch" : " epochs"));
  }
}

void EarlyStopping::OnTrainEnd(TrainContext& ctx) {
  if (!options_.restore_best || best_epoch_ == 0 || best_weights_.empty()) return;
  const std::vector<EpochStats>& h = ctx.history();
  // The model already holds the best weights when the best epoch is the last
  // one and nothing trained after its evaluation.
  if (!h.empty() && h.back().epoch == best_epoch_ && !h.back().partial) return;
  std::vector<std::pair<std::string, Tensor*>> named = ctx.model().NamedTensors();
  JOULE_ASSERT(named.size() == best_weights_.size());
  for (std::size_t i = 0; i < named.size(); ++i) named[i].second->CopyFrom(best_weights_[i].second);
  restored_ = true;
}

void EarlyStopping::SaveState(CallbackState& out) const {
  out.values = {{"best", NumberOrNull(best_)}, {"best_epoch", best_epoch_}, {"wait", wait_}};
  for (const auto& [name, tensor] : best_weights_) out.tensors.emplace_back("best." + name, tensor);
}

void EarlyStopping::LoadState(const CallbackState& in) {
  best_ = NumberFromJson(in.values, "best");
  best_epoch_ = in.values.at("best_epoch").get<int>();
  wait_ = in.values.at("wait").get<int>();
  best_weights_.clear();
  for (const auto& [name, tensor] : in.tensors) {
    if (name.rfind("best.", 0) == 0) best_weights_.emplace_back(name.substr(5), tensor.Clone());
  }
}

// --- TargetStop -----------------------------------------------------------------

TargetStop::TargetStop(const TargetOptions& options)
    : options_(options), monitor_(options.monitor, "target_metric.monitor"), best_(kNaN) {
  if (!options.value || !std::isfinite(*options.value)) {
    throw Error("target_metric.value: expected a finite number (e.g. 0.98 for accuracy)");
  }
}

void TargetStop::OnEpochEnd(TrainContext& ctx, const EpochStats& stats) {
  double value = monitor_.Value(stats, ctx.task());
  if (monitor_.Improves(value, best_, 0.0, ctx.task())) {
    best_ = value;
    best_epoch_ = stats.epoch;
  }
  bool higher = monitor_.HigherIsBetter(ctx.task());
  if (reached_epoch_ == 0 && (higher ? value >= *options_.value : value <= *options_.value)) {
    reached_epoch_ = stats.epoch;
    ctx.RequestStop(StopReason::kTarget, "target: " + Summary(ctx.task(), stats.epoch));
  }
}

std::string TargetStop::Summary(Task task, int epochs) const {
  std::string what = "validation " + monitor_.Name(task) +
                     (monitor_.HigherIsBetter(task) ? " >= " : " <= ") + Num(*options_.value);
  if (reached_epoch_ > 0) return what + " reached at epoch " + std::to_string(reached_epoch_);
  std::string line =
      what + " not reached in " + std::to_string(epochs) + (epochs == 1 ? " epoch" : " epochs");
  if (best_epoch_ > 0) {
    line += " (best " + Num(best_) + " at epoch " + std::to_string(best_epoch_) + ")";
  }
  return line;
}

void TargetStop::SaveState(CallbackState& out) const {
  out.values = {{"reached_epoch", reached_epoch_},
                {"best", NumberOrNull(best_)},
                {"best_epoch", best_epoch_}};
}

void TargetStop::LoadState(const CallbackState& in) {
  reached_epoch_ = in.values.at("reached_epoch").get<int>();
  best_ = NumberFromJson(in.values, "best");
  best_epoch_ = in.values.at("best_epoch").get<int>();
}

// --- Budget ---------------------------------------------------------------------

Budget::Budget(const BudgetOptions& options) : options_(options) {
  if (!options.energy_j && !options.co2_g) {
    throw Error("budget: give budget.energy_j or budget.co2_g (or both)");
  }
  if (options.energy_j && !(*options.energy_j > 0 && std::isfinite(*options.energy_j))) {
    throw Error("budget.energy_j = " + Num(*options.energy_j) +
                ": expected joules > 0 (e.g. 5000 for 5 kJ)");
  }
  if (options.co2_g && !(*options.co2_g > 0 && std::isfinite(*options.co2_g))) {
    throw Error("budget.co2_g = " + Num(*options.co2_g) + ": expected grams CO2eq > 0 (e.g. 1.5)");
  }
}

PredictCost::PredictCost(PredictionOptions options) : options_(std::move(options)) {
  if (options_.after_epochs < 1) {
    throw Error("prediction.after_epochs = " + std::to_string(options_.after_epochs) +
                ": expected an epoch count >= 1 (e.g. 1: predict after the first epoch)");
  }
  if (options_.max_energy_j &&
      !(*options_.max_energy_j > 0 && std::isfinite(*options_.max_energy_j))) {
    throw Error("prediction.max_energy_j = " + Num(*options_.max_energy_j) +
                ": expected joules > 0 (e.g. 5000 for 5 kJ)");
  }
}

double PredictCost::Now() const { return options_.clock ? options_.clock() : MonotonicSeconds(); }

void PredictCost::OnStepEnd(TrainContext& ctx, const StepStats&) {
  if (ctx.epoch() != 1 || start_s_ < 0) return;
  const std::int64_t done = ctx.step_in_epoch(), steps = ctx.steps_in_epoch();
  const bool sample = ctx.metered() && ctx.can_sample_energy();
  if (done == steps / 2) {
    if (sample) middle_j_ = ctx.SampleEnergyJ();
    middle_s_ = Now();
  }
  if (done == steps) {
    if (sample) last_j_ = ctx.SampleEnergyJ();
    last_step_s_ = Now();
  }
}

void PredictCost::OnTrainBegin(TrainContext& ctx) {
  // A resumed run starts past its first epoch: no timing of it to take.
  if (ctx.epoch() == 0) start_s_ = Now();
  if (!ctx.metered()) {
    throw Error(
        "prediction: the run is not metered (metering.enabled is false); predicting its "
        "energy needs the meter: enable it or remove the prediction");
  }
  if (options_.after_epochs >= ctx.epochs()) {
    throw Error("prediction.after_epochs = " + std::to_string(options_.after_epochs) +
                ": must be below the epoch limit (" + std::to_string(ctx.epochs()) +
                "); there is nothing left to predict");
  }
}

void PredictCost::OnEpochEnd(TrainContext& ctx, const EpochStats& stats) {
  if (prediction_ || stats.epoch != options_.after_epochs) return;
  // The complete epochs seen; the first carries the run's start, so it is
  // left out of the mean when there are others.
  std::vector<const EpochStats*> seen;
  for (const EpochStats& e : ctx.history()) {
    if (!e.partial) seen.push_back(&e);
  }
  if (seen.empty()) return;
  const std::size_t from = seen.size() >= 2 ? 1 : 0;
  double sum_j = 0, sum_s = 0, sum_sq = 0, total_s = 0;
  const double count = static_cast<double>(seen.size() - from);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    total_s += seen[i]->seconds;
    if (i < from) continue;
    sum_j += seen[i]->energy_j;
    sum_s += seen[i]->seconds;
    sum_sq += seen[i]->energy_j * seen[i]->energy_j;
  }
  double mean_j = sum_j / count, mean_s = sum_s / count;
  if (from == 0 && start_s_ >= 0 && middle_s_ > start_s_ && last_step_s_ > middle_s_) {
    // One epoch seen: take its start-up out by timing (see the header).
    const double end_s = Now();
    const double steady_s = 2 * (last_step_s_ - middle_s_) + (end_s - last_step_s_);
    const double ratio = std::clamp(steady_s / (end_s - start_s_), 0.25, 4.0);
    const std::int64_t steps = stats.steps, second_half = steps - steps / 2;
    if (middle_j_ >= 0 && last_j_ > middle_j_ && second_half > 0 && stats.batch_size > 0) {
      // The second half of the steps, sampled at both ends, scaled to all
      // of them; the evaluation as measured, but at most its share of the
      // work (a forward pass per monitored row, a third of a training step's
      // per row): the first evaluation also carries its own start-up.
      const double scale = static_cast<double>(steps) / static_cast<double>(second_half);
      const double eval_share = static_cast<double>(stats.eval.rows) /
                                (3.0 * static_cast<double>(steps * stats.batch_size));
      const double steps_j = (last_j_ - middle_j_) * scale;
      const double steps_s = (last_step_s_ - middle_s_) * scale;
      mean_j = steps_j + std::clamp(stats.total_energy_j - last_j_, 0.0, eval_share * steps_j);
      mean_s = steps_s + std::clamp(end_s - last_step_s_, 0.0, eval_share * steps_s);
    } else {
      mean_j *= ratio;
      mean_s *= ratio;
    }
  }
  const double sd_j =
      count >= 2 ? std::sqrt(std::max(0.0, (sum_sq - count * mean_j * mean_j) / (count - 1))) : 0.0;
  const double spread_j = std::max(sd_j, 0.05 * mean_j);
  const double left = ctx.epochs() - stats.epoch;
  CostPrediction p;
  p.after_epochs = stats.epoch;
  p.to_epoch = ctx.epochs();
  p.energy_j = stats.total_energy_j + left * mean_j;
  p.energy_low_j = stats.total_energy_j + left * std::max(0.0, mean_j - spread_j);
  p.energy_high_j = stats.total_energy_j + left * (mean_j + spread_j);
  p.co2_g = stats.total_energy_j > 0 ? p.energy_j * stats.total_co2_g / stats.total_energy_j : 0;
  p.seconds = total_s + left * mean_s;
  p.method = "predicted from " + std::to_string(stats.epoch) +
             (stats.epoch == 1 ? " epoch of " : " epochs of ") + stats.energy_method;
  prediction_ = p;
  if (options_.on_prediction) options_.on_prediction(p);
  if (options_.max_energy_j && p.energy_j > *options_.max_energy_j) {
    ctx.RequestStop(StopReason::kPredictedCost,
                    "predicted cost: after epoch " + std::to_string(stats.epoch) + " the run is " +
                        "predicted to use " + Num(p.energy_j) + " J by epoch " +
                        std::to_string(p.to_epoch) + ", above the limit of " +
                        Num(*options_.max_energy_j) + " J; stopped having used " +
                        Num(stats.total_energy_j) + " J");
  }
}

nlohmann::json CostPredictionToJson(const CostPrediction& p) {
  return {{"after_epochs", p.after_epochs},
          {"to_epoch", p.to_epoch},
          {"energy_j", p.energy_j},
          {"energy_low_j", p.energy_low_j},
          {"energy_high_j", p.energy_high_j},
          {"co2_g", p.co2_g},
          {"seconds", p.seconds},
          {"method", p.method}};
}

CostPrediction CostPredictionFromJson(const nlohmann::json& j) {
  CostPrediction p;
  p.after_epochs = j.at("after_epochs").get<int>();
  p.to_epoch = j.at("to_epoch").get<int>();
  p.energy_j = j.at("energy_j").get<double>();
  p.energy_low_j = j.at("energy_low_j").get<double>();
  p.energy_high_j = j.at("energy_high_j").get<double>();
  p.co2_g = j.at("co2_g").get<double>();
  p.seconds = j.at("seconds").get<double>();
  p.method = j.at("method").get<std::string>();
  return p;
}

void PredictCost::SaveState(CallbackState& out) const {
  if (prediction_) out.values["prediction"] = CostPredictionToJson(*prediction_);
}

void PredictCost::LoadState(const CallbackState& in) {
  if (in.values.contains("prediction")) {
    prediction_ = CostPredictionFromJson(in.values.at("prediction"));
  }
}

void Budget::OnTrainBegin(TrainContext& ctx) {
  if (!ctx.metered()) {
    throw Error(
        "budget: the run is not metered (metering.enabled is false); a budget needs "
        "the meter: enable it or remove the budget");
  }
}

void Budget::OnStepEnd(TrainContext& ctx, const StepStats&) { Check(ctx); }

void Budget::OnEpochEnd(TrainContext& ctx, const EpochStats&) { Check(ctx); }

void Budget::Check(TrainContext& ctx) {
  if (ctx.step() == 0) return;  // nothing to predict from yet
  auto check = [&](const std::optional<double>& budget, double used, double per_step,
                   const char* unit) {
    if (!budget || used + per_step <= *budget) return;
    ctx.RequestStop(StopReason::kBudget, "budget " + Num(*budget) + " " + unit + ": after step " +
                                             std::to_string(ctx.step()) + " the run has used " +
                                             Num(used) + " " + unit + " and the next step (about " +
                                             Num(per_step) + " " + unit + ") would reach " +
                                             Num(used + per_step) + " " + unit);
  };
  check(options_.energy_j, ctx.energy_j(), ctx.mean_step_energy_j(), "J");
  check(options_.co2_g, ctx.co2_g(), ctx.mean_step_co2_g(), "gCO2eq");
}

// --- AdaptiveBatch --------------------------------------------------------------

AdaptiveBatch::AdaptiveBatch(const AdaptiveBatchOptions& options)
    : options_(options), monitor_(options.monitor, "adaptive_batch.monitor"), best_(kNaN) {
  RequirePatience("adaptive_batch.patience", options.patience);
  RequireNonNegative("adaptive_batch.min_delta", options.min_delta);
  if (options.max_batch_size < 1) {
    throw Error("adaptive_batch.max_batch_size = " + std::to_string(options.max_batch_size) +
                ": expected rows >= 1 (e.g. 1024)");
  }
  if (!(options.lr_factor > 0) || !std::isfinite(options.lr_factor)) {
    throw Error("adaptive_batch.lr_factor = " + Num(options.lr_factor) +
                ": expected a factor > 0 (2: linear scaling, 1.414: square-root, 1: keep the lr)");
  }
}

void AdaptiveBatch::OnTrainBegin(TrainContext&) {
  best_ = kNaN;
  wait_ = 0;
}

void AdaptiveBatch::OnEpochEnd(TrainContext& ctx, const EpochStats& stats) {
  double value = monitor_.Value(stats, ctx.task());
  if (monitor_.Improves(value, best_, options_.min_delta, ctx.task())) {
    best_ = value;
    wait_ = 0;
    return;
  }
  ++wait_;
  if (wait_ < options_.patience) return;
  std::int64_t old_batch = ctx.next_batch_size();
  if (old_batch >= options_.max_batch_size) return;
  std::int64_t new_batch = std::min(old_batch * 2, options_.max_batch_size);
  ctx.set_next_batch_size(new_batch);
  double doublings = std::log2(static_cast<double>(new_batch) / static_cast<double>(old_batch));
  // pow(f, 1) is exactly f, so a full doubling scales by exactly lr_factor.
  ctx.ScaleLr(std::pow(options_.lr_factor, doublings));
  wait_ = 0;
}

void AdaptiveBatch::SaveState(CallbackState& out) const {
  out.values = {{"best", NumberOrNull(best_)}, {"wait", wait_}};
}

void AdaptiveBatch::LoadState(const CallbackState& in) {
  best_ = NumberFromJson(in.values, "best");
  wait_ = in.values.at("wait").get<int>();
}

// --- HuberDeltaSchedule ---------------------------------------------------------

HuberDeltaSchedule::HuberDeltaSchedule(AnnealedHuberLoss& loss, const AnnealedHuberOptions& options)
    : loss_(&loss), options_(options) {
  for (auto [field, value] : {std::pair{"annealed_huber.delta_start", options.delta_start},
                              std::pair{"annealed_huber.delta_end", options.delta_end}}) {
    if (!(value > 0) || !std::isfinite(value)) {
      throw Error(std::string(field) + " = " + Num(value) +
                  ": expected a positive number (in standard deviations of the target, e.g. 3 "
                  "for MSE-like, 0.1 for MAE-like)");
    }
  }
  if (options.curve != "geometric" && options.curve != "linear") {
    throw Error("annealed_huber.curve = '" + options.curve + "': expected geometric or linear");
  }
  if (options.per != "epoch" && options.per != "step") {
    throw Error("annealed_huber.per = '" + options.per + "': expected epoch or step");
  }
}

double HuberDeltaSchedule::DeltaAt(double t) const {
  const double a = options_.delta_start, b = options_.delta_end;
  if (t <= 0) return a;
  if (t >= 1) return b;
  return options_.curve == "geometric" ? a * std::pow(b / a, t) : a + (b - a) * t;
}

void HuberDeltaSchedule::OnEpochBegin(TrainContext& ctx) {
  if (options_.per != "epoch") return;
  double t = ctx.epochs() > 1
                 ? static_cast<double>(ctx.epoch() - 1) / static_cast<double>(ctx.epochs() - 1)
                 : 0.0;
  loss_->set_delta(DeltaAt(t));
}

void HuberDeltaSchedule::OnStepBegin(TrainContext& ctx) {
  if (options_.per == "step") loss_->set_delta(DeltaAt(ctx.progress()));
}

}  // namespace joule
