// TrainContext (what callbacks see of a run), Monitor (the validation figure
// they watch) and the stop reasons.
#include <cmath>
#include <limits>

#include "joule/train.hpp"
#include "joule/util.hpp"

namespace joule {

const char* StopReasonName(StopReason reason) {
  switch (reason) {
    case StopReason::kEpochLimit:
      return "epoch-limit";
    case StopReason::kEarlyStopping:
      return "early-stopping";
    case StopReason::kTarget:
      return "target";
    case StopReason::kBudget:
      return "budget";
    case StopReason::kCallback:
      return "callback";
    case StopReason::kPredictedCost:
      return "predicted-cost";
  }
  return "unknown";
}

TrainContext::TrainContext(Sequential& model, Optimizer& optimizer, Task task, int epochs,
                           double base_lr)
    : model_(&model), optimizer_(&optimizer), task_(task), epochs_(epochs), base_lr_(base_lr) {}

double TrainContext::progress() const {
  if (epochs_ <= 0 || epoch_ <= 0) return 0;
  double within = steps_in_epoch_ > 0
                      ? static_cast<double>(step_in_epoch_) / static_cast<double>(steps_in_epoch_)
                      : 0.0;
  return (static_cast<double>(epoch_ - 1) + within) / static_cast<double>(epochs_);
}

void TrainContext::ScaleLr(double factor) {
  JOULE_ASSERT(factor > 0 && std::isfinite(factor));
  lr_scale_ *= factor;
  optimizer_->set_lr(optimizer_->lr() * factor);
}

void TrainContext::set_next_batch_size(std::int64_t b) {
  if (b <= 0) {
    throw Error("batch size " + std::to_string(b) + " requested by a callback: expected >= 1");
  }
  next_batch_size_ = b;
}

double TrainContext::mean_step_energy_j() const {
  return energy_steps_ > 0 ? step_energy_sum_j_ / static_cast<double>(energy_steps_) : 0.0;
}

double TrainContext::mean_step_co2_g() const {
  return energy_steps_ > 0 ? step_co2_sum_g_ / static_cast<double>(energy_steps_) : 0.0;
}

void TrainContext::RequestStop(StopReason reason, std::string message) {
  if (stop_requested_) return;
  stop_requested_ = true;
  stop_reason_ = reason;
  stop_message_ = std::move(message);
}

void TrainContext::BeginEpoch(int epoch, std::int64_t batch_size, std::int64_t steps) {
  // A new batch size changes what a step costs: predict from the new size only.
  if (batch_size != batch_size_) {
    step_energy_sum_j_ = 0;
    step_co2_sum_g_ = 0;
    energy_steps_ = 0;
  }
  epoch_ = epoch;
  batch_size_ = batch_size;
  next_batch_size_ = batch_size;
  steps_in_epoch_ = steps;
  step_in_epoch_ = 0;
}

void TrainContext::EndStep(double step_energy_j, double step_co2_g, double total_energy_j,
                           double total_co2_g) {
  ++step_;
  ++step_in_epoch_;
  step_energy_sum_j_ += step_energy_j;
  step_co2_sum_g_ += step_co2_g;
  ++energy_steps_;
  energy_j_ = total_energy_j;
  co2_g_ = total_co2_g;
}

void TrainContext::SetEnergy(double total_energy_j, double total_co2_g) {
  energy_j_ = total_energy_j;
  co2_g_ = total_co2_g;
}

void TrainContext::Restore(int epoch, std::int64_t step, double lr_scale,
                           std::int64_t next_batch_size, std::vector<EpochStats> history) {
  epoch_ = epoch;
  step_ = step;
  lr_scale_ = lr_scale;
  next_batch_size_ = next_batch_size;
  history_ = std::move(history);
}

// --- Monitor -----------------------------------------------------------------

Monitor::Monitor(std::string name, const std::string& field) : name_(std::move(name)) {
  if (name_ != "" && name_ != "accuracy" && name_ != "loss" && name_ != "rmse" && name_ != "mae") {
    throw Error(field + " = '" + name_ +
                "': expected accuracy, loss, rmse or mae (a validation figure), or leave it "
                "empty for accuracy (classification) / rmse (regression)");
  }
}

std::string Monitor::Name(Task task) const {
  if (!name_.empty()) return name_;
  return task == Task::kClassification ? "accuracy" : "rmse";
}

bool Monitor::HigherIsBetter(Task task) const { return Name(task) == "accuracy"; }

double Monitor::Value(const EpochStats& stats, Task task) const {
  std::string name = Name(task);
  if (name == "accuracy") return stats.eval.accuracy;
  if (name == "loss") return stats.eval.loss;
  if (name == "rmse") return stats.eval.rmse;
  return stats.eval.mae;
}

bool Monitor::Improves(double value, double best, double min_delta, Task task) const {
  if (std::isnan(best)) return !std::isnan(value);
  return HigherIsBetter(task) ? value > best + min_delta : value < best - min_delta;
}

}  // namespace joule
