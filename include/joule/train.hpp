// joule/train.hpp: energy-aware training. The training loop (Fit), its
// callbacks (early stopping, target, budget, learning-rate schedules, adaptive
// batch size, the annealed Huber delta), checkpoints and evaluation. A whole
// job as recipes and flags describe it is the run layer's (joule/run.hpp).
//
// Train layer (src/train/*.cpp, library joule_train): uses nn/ for the model,
// data/ for batches and meter/ for joules and grams CO2eq.
//
// Energy: Fit runs a joule::Meter for the whole run (sources from
// DiscoverSensors, the energy of this process tree, background sampling) and
// reads it at every epoch boundary, so every EpochStats carries the joules and
// grams of that epoch and of the run so far, with the method label of the
// sources ("estimated:tdp-model" on a machine without RAPL: an estimate, and
// labelled as one). Per step, the figure is interpolated from the last
// background sample (energy at that sample + the last interval's mean power x
// the time since), which costs one clock read and no /proc access; see
// TrainContext::energy_j.
//
// Determinism: for a given seed and thread count a run is bitwise
// reproducible, and a run resumed from a checkpoint ends with bitwise the same
// weights as the uninterrupted run (checkpoints hold everything the run's
// future depends on; see CheckpointOptions).
//
// Nothing here is thread safe: one run is driven by one thread (the kernels
// and the meter have their own threads inside).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "joule/carbon.hpp"
#include "joule/data.hpp"
#include "joule/meter.hpp"
#include "joule/meter_session.hpp"
#include "joule/nn.hpp"

namespace joule {

// ---------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------

// Figures of one pass over a dataset without training.
struct EvalResult {
  double loss = 0;
  double accuracy = 0;  // classification: fraction correct in [0, 1]
  double rmse = 0;      // regression, in the target's original units
  double mae = 0;       // regression, in the target's original units
  std::int64_t rows = 0;
};

// What one epoch did.
struct EpochStats {
  int epoch = 0;              // 1-based
  double train_loss = 0;      // mean over the epoch's rows
  double train_accuracy = 0;  // classification only
  // The set the callbacks monitor: the validation split when there is one,
  // else the evaluation set (test / holdout). rows == 0 for a partial epoch.
  EvalResult eval;
  std::string eval_name;  // "validation", "test" or "holdout"
  double seconds = 0;     // wall time of the epoch's steps (with their hooks) and evaluation
  std::int64_t batch_size = 0;
  std::int64_t steps = 0;  // optimizer steps in this epoch
  double lr = 0;           // the optimizer's lr at the epoch's last step
  double loss_delta = 0;   // annealed Huber: the delta of the epoch's last step; else 0
  // A callback stopped the run inside this epoch (a budget): not every batch
  // ran, the epoch was not evaluated and OnEpochEnd was not called for it.
  bool partial = false;

  // Energy, attributed to this process; 0 and "" when the run is not metered.
  // An epoch's figures run from the previous epoch's end (or the run's start)
  // to this epoch's end, so the epochs add up to the run.
  double energy_j = 0;
  double co2_g = 0;           // operational (PUE applied) + embodied
  double total_energy_j = 0;  // since the run began, epochs before a resume included
  double total_co2_g = 0;
  std::string
      energy_method;  // "estimated:tdp-model", "measured:rapl", "measured:rapl+measured:nvml"
};

// What one optimizer step did; handed to Callback::OnStepEnd.
struct StepStats {
  std::int64_t step = 0;           // 1-based over the run (continues across a resume)
  std::int64_t step_in_epoch = 0;  // 1-based within the epoch
  std::int64_t rows = 0;           // rows in the batch
  double loss = 0;                 // the batch's mean loss
  double lr = 0;                   // the lr the step used
  double energy_j = 0;             // this step's energy (see TrainContext::energy_j)
  double co2_g = 0;
};

// Why a run ended.
enum class StopReason {
  kEpochLimit,     // every epoch ran
  kEarlyStopping,  // the monitored figure stopped improving
  kTarget,         // the monitored figure reached the target
  kBudget,         // the next step would have crossed the energy or carbon budget
  kCallback,       // another callback (user code, tests) asked to stop
  kPredictedCost,  // the cost predicted from the first epochs exceeded a limit
};
// "epoch-limit", "early-stopping", "target", "budget", "callback",
// "predicted-cost".
const char* StopReasonName(StopReason reason);

// ---------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------

// A dataset ready for training: train, validation and evaluation splits, with
// the transforms applied (features standardised for tables, fitted on the
// training split; targets standardised for regression, undone when metrics are
// reported).
struct PreparedData {
  Dataset train;
  Dataset validation;     // rows() == 0 when no validation split was asked for
  Dataset eval;           // the test set (IDX) or the holdout (CSV)
  std::string eval_name;  // "test" or "holdout"
  TargetScaler target_scaler;
  Normalizer normalizer;  // empty for images
};

// `data`: "mnist", a directory of IDX files, or a .csv path (then `target`
// names the target column and `task` is "classification" or "regression").
// CSV data is split 80/20 into train and holdout with `seed`. Then, when
// validation_fraction > 0, that fraction of the training rows becomes the
// validation split (seeded with `seed`, drawn before any transform is fitted,
// so the validation rows never inform the normalisation).
// Throws Error on bad input, or validation_fraction outside [0, 1).
PreparedData PrepareData(const std::string& data, const std::string& target,
                         const std::string& task, std::uint64_t seed,
                         double validation_fraction = 0);

// The data as read, before the validation split and the transforms: the
// training rows and the evaluation set (CSV: already split 80/20 with `seed`).
// Several PrepareData calls on one RawData read the files once.
struct RawData {
  Dataset train;
  Dataset eval;
  std::string eval_name;  // "test" or "holdout"
};
RawData LoadRawData(const std::string& data, const std::string& target, const std::string& task,
                    std::uint64_t seed);
// PrepareData on data already read: the validation split and the transforms,
// on copies (`raw` is not changed).
PreparedData PrepareData(const RawData& raw, std::uint64_t seed, double validation_fraction = 0);

// The feature standardisation as a model's metadata stores it:
// "feature_mean" and "feature_stddev" arrays, shortened to one value each when
// every feature shares it (images: one global mean, which would otherwise take
// 784 copies in every model file). Written into `meta`.
void WriteNormalizer(const Normalizer& normalizer, nlohmann::json& meta);
// The inverse, for a dataset of `features` columns (a one-value array is
// repeated). Returns an empty Normalizer when the metadata has none. Throws
// Error when the stored width is neither 1 nor `features`, or not numbers.
Normalizer ReadNormalizer(const nlohmann::json& meta, std::int64_t features);

// What a saved model's metadata (model.json's "metadata" object) records: how
// the model was trained and the transforms its inputs need. The one reader
// and writer of those keys for every command that saves or loads a model;
// keys a method adds (quantization, exit weights, distillation settings) ride
// in `extra` untouched, so a model passed through several compressors keeps
// them all.
struct ModelMetadata {
  std::string data;    // "mnist", an IDX directory or a .csv path; "" when not recorded
  std::string target;  // CSV target column
  std::string task = "classification";
  std::string model;                   // "mlp", "cnn", "student-mlp", ...
  std::string loss = "cross-entropy";  // what eval scores the model with
  std::string precision;               // "f32" | "bf16"; "" when not recorded
  int epochs = 0;
  std::uint64_t seed = 1;  // the seed of the split the model was trained on
  std::string eval_name;   // "test" or "holdout"
  // Regression: the target standardisation the model predicts in.
  std::optional<TargetScaler> target_scaler;
  // The feature standardisation as stored: one value each when every feature
  // shares it (images), else one per feature; empty: none.
  std::vector<float> feature_mean, feature_stddev;
  // The compressions applied, latest last ("int8-ptq", "pruned-structured",
  // ...); "" when none. A JSON string or array in the file, as written.
  nlohmann::json compression;
  nlohmann::json extra = nlohmann::json::object();  // every other key, as read

  // Stores `n` (shortened to one value each when every feature shares it).
  void SetNormalizer(const Normalizer& n);
  // The stored standardisation for data of `features` columns; an empty
  // Normalizer when none is stored. Throws Error when the stored width is
  // neither 1 nor `features`.
  Normalizer FeatureNormalizer(std::int64_t features) const;

  nlohmann::json ToJson() const;
  // Throws Error naming the key for a value of the wrong type; keys it does
  // not know go to `extra`. A non-object reads as the defaults.
  static ModelMetadata FromJson(const nlohmann::json& meta);
};

// The metadata of the model in `dir`, from DIR/model.json, without reading
// the weights. Throws Error naming the file when it is missing or not JSON.
ModelMetadata ReadModelMetadata(const std::string& dir);

// Classification: the rows of `pred` (rows x classes, f32) whose arg-max
// (the first, on ties) equals the class id in `target` (rows, f32). Fit's
// step, the compression methods' steps and data-parallel training count with
// it.
std::int64_t CountCorrect(const Tensor& pred, const Tensor& target);

// Evaluates in inference mode in batches of `batch`.
EvalResult Evaluate(Sequential& model, Loss& loss, const Dataset& data, const TargetScaler& scaler,
                    std::int64_t batch = 1000);

// ---------------------------------------------------------------------------
// Metering
// ---------------------------------------------------------------------------

// MeteringOptions and the meter session Fit runs: joule/meter_session.hpp.

// ---------------------------------------------------------------------------
// Callbacks
// ---------------------------------------------------------------------------

// What a callback sees of the run, and the levers it may pull (stop, lr, next
// batch size). Fit owns it; the Begin/End methods at the bottom are how Fit
// drives it, and how tests drive callbacks over synthetic runs.
class TrainContext {
 public:
  // `model` and `optimizer` must outlive the context. base_lr: the lr the
  // schedules start from (normally the optimizer's configured lr).
  TrainContext(Sequential& model, Optimizer& optimizer, Task task, int epochs, double base_lr);

  Sequential& model() { return *model_; }
  Optimizer& optimizer() { return *optimizer_; }
  Task task() const { return task_; }
  int epochs() const { return epochs_; }  // the epoch limit
  // The epoch in progress (1-based; in OnEpochEnd the one just evaluated); 0
  // before the first.
  int epoch() const { return epoch_; }
  std::int64_t step() const { return step_; }  // steps done in the run so far
  // Steps done in this epoch so far (in OnStepBegin: the 0-based index of the
  // step about to run).
  std::int64_t step_in_epoch() const { return step_in_epoch_; }
  std::int64_t steps_in_epoch() const { return steps_in_epoch_; }
  // Fraction of the run done, in [0, 1): (epoch - 1 + step_in_epoch /
  // steps_in_epoch) / epochs. Schedules over the whole run use it, so they
  // stay right when the batch size (and so the steps per epoch) changes.
  double progress() const;

  // Learning rate. lr = (what the schedule says) x lr_scale(); lr_scale is the
  // product of every ScaleLr so far (adaptive batch size), 1 at the start.
  double base_lr() const { return base_lr_; }
  double lr_scale() const { return lr_scale_; }
  double lr() const { return optimizer_->lr(); }
  void set_lr(double lr) { optimizer_->set_lr(lr); }
  // Multiplies lr_scale and the optimizer's current lr by `factor` (> 0).
  void ScaleLr(double factor);

  // Batch size of the current epoch, and of the next one (changed by
  // set_next_batch_size, which takes effect at the next epoch's start).
  // set_next_batch_size throws Error for b <= 0.
  std::int64_t batch_size() const { return batch_size_; }
  std::int64_t next_batch_size() const { return next_batch_size_; }
  void set_next_batch_size(std::int64_t b);

  // Energy and carbon since the run began (epochs before a resume included),
  // as of the last step or epoch end; 0 when the run is not metered. Per step
  // these are estimates interpolated from the last background sample; at
  // epoch ends they are a fresh sample.
  bool metered() const { return metered_; }
  double energy_j() const { return energy_j_; }
  double co2_g() const { return co2_g_; }
  // Mean energy and carbon of one step since the batch size last changed
  // (the steps' own figures: evaluation and epoch-boundary work excluded);
  // 0 before the first step. The budget predicts the next step with it.
  double mean_step_energy_j() const;
  double mean_step_co2_g() const;
  // A fresh sample of the run's energy (J since the run began) now, for a
  // callback that needs an exact figure mid-epoch; a sample reads /proc (tens
  // of microseconds), so not for every step. energy_j() when the run is not
  // metered or has no sampler (a test's context).
  double SampleEnergyJ() const { return energy_sampler_ ? energy_sampler_() : energy_j_; }
  bool can_sample_energy() const { return static_cast<bool>(energy_sampler_); }

  const std::vector<EpochStats>& history() const { return history_; }

  // Asks the run to stop after the current hook. The first request wins;
  // later ones are ignored.
  void RequestStop(StopReason reason, std::string message);
  bool stop_requested() const { return stop_requested_; }
  StopReason stop_reason() const { return stop_reason_; }
  const std::string& stop_message() const { return stop_message_; }

  // --- driven by Fit (and by tests) ---------------------------------------
  // Starts `epoch` with `batch_size` rows per step and `steps` steps.
  void BeginEpoch(int epoch, std::int64_t batch_size, std::int64_t steps);
  // One step is done: step() and step_in_epoch() advance; the step's own
  // energy and the run's totals are recorded.
  void EndStep(double step_energy_j, double step_co2_g, double total_energy_j, double total_co2_g);
  // The run's totals at an epoch boundary (a fresh sample).
  void SetEnergy(double total_energy_j, double total_co2_g);
  void set_metered(bool metered) { metered_ = metered; }
  void set_energy_sampler(std::function<double()> sampler) { energy_sampler_ = std::move(sampler); }
  void AppendHistory(const EpochStats& stats) { history_.push_back(stats); }
  // Restores the counters from a checkpoint (Fit's resume).
  void Restore(int epoch, std::int64_t step, double lr_scale, std::int64_t next_batch_size,
               std::vector<EpochStats> history);

 private:
  Sequential* model_;
  Optimizer* optimizer_;
  Task task_;
  int epochs_;
  int epoch_ = 0;
  std::int64_t step_ = 0, step_in_epoch_ = 0, steps_in_epoch_ = 0;
  double base_lr_, lr_scale_ = 1;
  std::int64_t batch_size_ = 0, next_batch_size_ = 0;
  bool metered_ = false;
  double energy_j_ = 0, co2_g_ = 0;
  std::function<double()> energy_sampler_;
  double step_energy_sum_j_ = 0, step_co2_sum_g_ = 0;
  std::int64_t energy_steps_ = 0;  // steps in the sums above
  std::vector<EpochStats> history_;
  bool stop_requested_ = false;
  StopReason stop_reason_ = StopReason::kEpochLimit;
  std::string stop_message_;
};

// A callback's state in a checkpoint: small values as JSON, tensors by name
// (names unique within the callback).
struct CallbackState {
  nlohmann::json values = nlohmann::json::object();
  std::vector<std::pair<std::string, Tensor>> tensors;
};

// One piece of training policy. Fit calls the hooks of every callback in the
// order given: OnTrainBegin; per epoch OnEpochBegin, per step OnStepBegin and
// OnStepEnd, then (complete epochs only, after evaluation) OnEpochEnd; at the
// end OnTrainEnd. A hook that calls ctx.RequestStop ends the run after that
// hook: from OnStepEnd the epoch ends partial (no evaluation), from
// OnEpochEnd after the epoch. A callback whose future behaviour depends on
// what it has seen saves that in SaveState, so a resumed run behaves as the
// uninterrupted one; on resume Fit calls OnTrainBegin, then LoadState.
// Hooks may throw joule::Error; Fit lets it through.
class Callback {
 public:
  virtual ~Callback() = default;
  // Short kind ("early-stopping"); checkpoints match callbacks by it.
  virtual std::string name() const = 0;
  virtual void OnTrainBegin(TrainContext&) {}
  virtual void OnEpochBegin(TrainContext&) {}
  virtual void OnStepBegin(TrainContext&) {}
  virtual void OnStepEnd(TrainContext&, const StepStats&) {}
  virtual void OnEpochEnd(TrainContext&, const EpochStats&) {}
  virtual void OnTrainEnd(TrainContext&) {}
  virtual void SaveState(CallbackState&) const {}
  virtual void LoadState(const CallbackState&) {}
};

// The validation figure a callback watches. `name`: "accuracy" (higher is
// better), "loss", "rmse" or "mae" (lower is better); "" picks accuracy for
// classification and rmse for regression. Throws Error naming `field` (the
// config field, e.g. "early_stopping.monitor") for an unknown name.
class Monitor {
 public:
  Monitor(std::string name, const std::string& field);
  // The resolved name for `task` ("accuracy" for "" and classification).
  std::string Name(Task task) const;
  bool HigherIsBetter(Task task) const;
  double Value(const EpochStats& stats, Task task) const;
  // True when `value` beats `best` by more than min_delta (>= 0) in the
  // better direction. Any value beats NaN (no best yet).
  bool Improves(double value, double best, double min_delta, Task task) const;

 private:
  std::string name_;
};

struct EarlyStoppingOptions {
  bool enabled = false;
  std::string monitor;  // see Monitor
  // Stop after `patience` epochs in a row without improvement (>= 0; 0 and 1
  // both stop at the first epoch that does not improve, as in Keras).
  int patience = 3;
  double min_delta = 0;      // >= 0, in the monitored figure's units
  bool restore_best = true;  // at the end, put back the weights of the best epoch
};

// Stops once the monitored figure stops improving; keeps a copy of the best
// epoch's weights and buffers (a checkpoint holds them too) and, with
// restore_best, copies them back into the model at OnTrainEnd whatever ended
// the run. Throws Error naming the field for patience < 0 or min_delta < 0.
class EarlyStopping final : public Callback {
 public:
  explicit EarlyStopping(const EarlyStoppingOptions& options);
  std::string name() const override { return "early-stopping"; }
  void OnTrainBegin(TrainContext& ctx) override;
  void OnEpochEnd(TrainContext& ctx, const EpochStats& stats) override;
  void OnTrainEnd(TrainContext& ctx) override;
  void SaveState(CallbackState& out) const override;
  void LoadState(const CallbackState& in) override;
  int best_epoch() const { return best_epoch_; }  // 0 before the first epoch
  double best_value() const { return best_; }
  bool restored() const { return restored_; }  // weights were put back at the end

 private:
  EarlyStoppingOptions options_;
  Monitor monitor_;
  double best_;
  int best_epoch_ = 0, wait_ = 0;
  bool restored_ = false;
  std::vector<std::pair<std::string, Tensor>> best_weights_;
};

struct TargetOptions {
  std::optional<double> value;  // none: no target
  std::string monitor;          // see Monitor
};

// Stops at the first epoch whose monitored figure reaches the value (>= for
// accuracy, <= for loss, rmse, mae). If no epoch does, the run ends at the
// epoch limit (or wherever another callback ends it) and reached() is false.
class TargetStop final : public Callback {
 public:
  explicit TargetStop(const TargetOptions& options);  // Error when value is not set or not finite
  std::string name() const override { return "target"; }
  void OnEpochEnd(TrainContext& ctx, const EpochStats& stats) override;
  void SaveState(CallbackState& out) const override;
  void LoadState(const CallbackState& in) override;
  bool reached() const { return reached_epoch_ > 0; }
  int reached_epoch() const { return reached_epoch_; }  // 0: not reached
  // One line for the result: "accuracy >= 0.98 reached at epoch 7" or
  // "accuracy >= 0.999 not reached in 20 epochs (best 0.9812 at epoch 18)".
  std::string Summary(Task task, int epochs_run) const;

 private:
  TargetOptions options_;
  Monitor monitor_;
  int reached_epoch_ = 0;
  double best_;
  int best_epoch_ = 0;
};

struct BudgetOptions {
  std::optional<double> energy_j;  // > 0
  std::optional<double> co2_g;     // > 0
};

// Stops before the step that would cross a budget. After every step (and
// every epoch end), the next step is predicted to cost mean_step_energy_j()
// (and mean_step_co2_g()); when the total so far plus that prediction exceeds
// a budget, the run stops there, so the run's steps stay within it. At least
// one step runs (there is nothing to predict from before). Evaluation energy
// counts in the total but is not predicted. With the background meter the
// per-step totals are interpolated (TrainContext::energy_j), so the stop step
// is exact up to the drift of the power within one sampling interval; with
// exact per-step figures (background = false, fake sources) it is exact.
// Throws Error naming the field for a budget <= 0, and when neither budget is
// set.
class Budget final : public Callback {
 public:
  explicit Budget(const BudgetOptions& options);
  std::string name() const override { return "budget"; }
  void OnTrainBegin(TrainContext& ctx) override;  // Error when the run is not metered
  void OnStepEnd(TrainContext& ctx, const StepStats& step) override;
  void OnEpochEnd(TrainContext& ctx, const EpochStats& stats) override;

 private:
  void Check(TrainContext& ctx);
  BudgetOptions options_;
};

// The cost of a whole run, predicted from its first epochs.
struct CostPrediction {
  int after_epochs = 0;  // complete epochs seen when predicting
  int to_epoch = 0;      // the epoch the prediction runs to: the epoch limit
  // Energy of the whole run (the epochs seen included), attributed as the
  // run's own figures are, with an interval (see PredictCost).
  double energy_j = 0, energy_low_j = 0, energy_high_j = 0;
  double co2_g = 0;    // energy_j x the carbon per joule seen so far
  double seconds = 0;  // the epochs' wall time (steps and evaluation)
  std::string method;  // "predicted from <n> epoch(s) of <energy method>"
};

// A prediction as JSON (its fields by name) and back; FromJson throws
// nlohmann::json's exceptions for a missing or mistyped field. Checkpoints and
// the run's metrics both use them.
nlohmann::json CostPredictionToJson(const CostPrediction& p);
CostPrediction CostPredictionFromJson(const nlohmann::json& j);

struct PredictionOptions {
  int after_epochs = 0;                // 0: no prediction; else >= 1, below the epoch limit
  std::optional<double> max_energy_j;  // > 0: stop when the prediction exceeds it
  // Called once, when the prediction is made (the command line prints it).
  // Not part of a recipe.
  std::function<void(const CostPrediction&)> on_prediction;
  // Seconds on a monotonic clock; null: MonotonicSeconds. For tests.
  std::function<double()> clock;
};

// Predicts the run's total energy, carbon and time at the end of epoch
// after_epochs: the total so far plus the epochs still to run at the limit
// times the cost of one epoch. The first epoch also carries the run's start
// (setting up, the first batches' primitive creation and page faults), so
// with two or more epochs seen the cost is the mean of the others. With one,
// it is the first epoch's energy scaled by the time a steady epoch takes over
// the time the first took since the run began; a steady epoch's time is twice
// the second half of the first epoch's steps plus its evaluation (at a
// steady power, energy follows time; the ratio is kept within [0.25, 4]).
// When the meter can be sampled mid-epoch (TrainContext::SampleEnergyJ, in
// every metered Fit), it is sampled at the middle and the last step, and a
// steady epoch costs the second half of the steps scaled to all of them, plus
// the evaluation as measured but at most its share of the work (monitored
// rows / (3 x training rows): a forward pass per row against a step's forward
// and backward): the start-up is left out whatever power it drew, and so is
// the first evaluation's own start-up (its primitives), which on an epoch of
// 30 ms is half the epoch.
// Interval: the epochs left times the per-epoch
// cost +- max(the epochs' standard deviation, 5 % of the mean): one or two
// epochs cannot show the drift of a long run (load beside it, clocks), and
// the 5 % floor says so. A target or early stopping may end the run sooner:
// the prediction is then an upper bound. With max_energy_j, a prediction above
// it stops the run at once (StopReason::kPredictedCost) before it spends the
// rest. Throws Error naming the field for after_epochs < 1, for
// max_energy_j <= 0 and, at OnTrainBegin, when the run is not metered or
// after_epochs is not below the epoch limit.
class PredictCost final : public Callback {
 public:
  explicit PredictCost(PredictionOptions options);
  std::string name() const override { return "predict-cost"; }
  void OnTrainBegin(TrainContext& ctx) override;
  void OnStepEnd(TrainContext& ctx, const StepStats& step) override;
  void OnEpochEnd(TrainContext& ctx, const EpochStats& stats) override;
  void SaveState(CallbackState& out) const override;
  void LoadState(const CallbackState& in) override;
  const std::optional<CostPrediction>& prediction() const { return prediction_; }

 private:
  double Now() const;
  PredictionOptions options_;
  std::optional<CostPrediction> prediction_;
  // The first epoch's clock readings: run start, its middle step, its last
  // step; and the run's energy sampled at its middle step (-1: none).
  double start_s_ = -1, middle_s_ = -1, last_step_s_ = -1;
  double middle_j_ = -1, last_j_ = -1;
};

// Learning-rate schedules. Every one sets the lr before each step as
// (schedule value) x ctx.lr_scale(); p = ctx.progress(), base = ctx.base_lr():
//   constant:          base
//   step:              base x gamma^floor((epoch - 1) / step_epochs)
//   cosine:            min_lr + (base - min_lr) (1 + cos(pi p)) / 2
//   one-cycle:         with lo = base / div_factor, end = lo / final_div_factor:
//                      p < pct_start: lo + (base - lo) (1 - cos(pi p / pct_start)) / 2,
//                      else end + (base - end) (1 + cos(pi q)) / 2,
//                      q = (p - pct_start) / (1 - pct_start)
//                      (PyTorch's OneCycleLR with cosine annealing, on the
//                      run's fraction instead of step counts);
//   reduce-on-plateau: base x factor^k, k = the reductions so far: one after
//                      `patience` epochs in a row without the monitored figure
//                      improving by more than min_delta; never below min_lr.
struct LrScheduleOptions {
  int step_epochs = 10;           // step: epochs per decay, >= 1
  double gamma = 0.1;             // step: decay factor, (0, 1]
  double min_lr = 0;              // cosine, reduce-on-plateau: the floor, >= 0
  double pct_start = 0.3;         // one-cycle: warm-up fraction, (0, 1)
  double div_factor = 25;         // one-cycle: > 0
  double final_div_factor = 1e4;  // one-cycle: > 0
  std::string monitor;            // reduce-on-plateau, see Monitor
  double factor = 0.1;            // reduce-on-plateau: (0, 1)
  int patience = 2;               // reduce-on-plateau: >= 0
  double min_delta = 0;           // reduce-on-plateau: >= 0
};

// `kind`: "constant", "step", "cosine", "one-cycle" or "reduce-on-plateau".
// Throws Error naming "lr_schedule" for an unknown kind (listing the known
// ones) and "lr_schedule_options.<field>" for a parameter out of range.
std::unique_ptr<Callback> MakeLrSchedule(const std::string& kind, const LrScheduleOptions& options);

struct AdaptiveBatchOptions {
  bool enabled = false;
  std::string monitor;   // see Monitor
  int patience = 1;      // epochs in a row without improvement that make a plateau, >= 0
  double min_delta = 0;  // >= 0
  std::int64_t max_batch_size = 1024;  // the batch never grows beyond this
  // Applied to the lr at each doubling: 2 is the linear scaling rule, sqrt(2)
  // the square-root rule, 1 keeps the lr. > 0.
  double lr_factor = 2.0;
};

// On a plateau of the monitored figure (`patience` epochs in a row without
// improvement; 0 acts as 1), doubles the batch size from the next epoch on,
// capped at max_batch_size (no change once there), and scales the lr by
// lr_factor^log2(new / old): lr_factor for a full doubling, the same rule pro
// rata for a last, capped step. The plateau count restarts after each change.
// Throws Error naming "adaptive_batch.<field>" for a bad option.
class AdaptiveBatch final : public Callback {
 public:
  explicit AdaptiveBatch(const AdaptiveBatchOptions& options);
  std::string name() const override { return "adaptive-batch"; }
  void OnTrainBegin(TrainContext& ctx) override;
  void OnEpochEnd(TrainContext& ctx, const EpochStats& stats) override;
  void SaveState(CallbackState& out) const override;
  void LoadState(const CallbackState& in) override;

 private:
  AdaptiveBatchOptions options_;
  Monitor monitor_;
  double best_;
  int wait_ = 0;
};

// The annealed ("dynamic") Huber loss: its delta moves across the run from
// delta_start to delta_end. A large delta is MSE-like (quadratic for most
// residuals), a small one MAE-like; going down starts with MSE's strong
// gradients and ends robust to outliers, going up does the reverse.
//   geometric: delta = start x (end / start)^t;  linear: start + (end - start) t
// with t = (epoch - 1) / (epochs - 1) per epoch (0 for a 1-epoch run), so the
// first epoch uses start and the last end exactly; or t = ctx.progress() per
// step. Targets are standardised for regression, so deltas are in standard
// deviations of the target.
struct AnnealedHuberOptions {
  double delta_start = 3.0;         // > 0
  double delta_end = 0.1;           // > 0
  std::string curve = "geometric";  // geometric | linear
  std::string per = "epoch";        // epoch | step
};

// Sets `loss`'s delta before each epoch or step. `loss` must outlive the
// callback. Throws Error naming "annealed_huber.<field>" for a bad option.
class HuberDeltaSchedule final : public Callback {
 public:
  HuberDeltaSchedule(AnnealedHuberLoss& loss, const AnnealedHuberOptions& options);
  std::string name() const override { return "huber-delta"; }
  void OnEpochBegin(TrainContext& ctx) override;
  void OnStepBegin(TrainContext& ctx) override;
  // The delta at fraction t in [0, 1] of the schedule.
  double DeltaAt(double t) const;

 private:
  AnnealedHuberLoss* loss_;
  AnnealedHuberOptions options_;
};

// ---------------------------------------------------------------------------
// The training loop
// ---------------------------------------------------------------------------

// Checkpoints: DIR/checkpoint-epoch-NNNN.safetensors, written atomically after
// the epochs N = every_epochs, 2 every_epochs, ... (after that epoch's
// callbacks ran). Each holds the model's weights and buffers ("model.*"), the
// optimizer's state ("optimizer.*", momentum / Adam moments and step count),
// each callback's state ("callback.I.*" tensors and JSON values), and in the
// metadata ("joule_checkpoint", JSON) the epoch, step, lr, lr scale, next
// batch size, energy and carbon so far, the history, the seed and the model's
// architecture. The data order needs no more than (seed, epoch): the batch
// iterator's shuffle depends on nothing else, and checkpoints fall on epoch
// boundaries, so the iterator's position is always an epoch's start.
// resume: Fit starts from the latest checkpoint in `dir` (the highest N) and
// trains epochs N+1..epochs; with no checkpoint there it starts from scratch
// and says so in FitResult::notes.
struct CheckpointOptions {
  std::string dir;       // empty: no checkpoints (and resume is an error)
  int every_epochs = 0;  // 0: write none; >= 0
  bool resume = false;
};

// What one training step did, when FitOptions::step computes it.
struct FitStepResult {
  double loss = 0;           // the batch's mean loss
  std::int64_t correct = 0;  // classification: rows whose prediction matched the label
};

struct FitOptions {
  int epochs = 10;
  std::int64_t batch_size = 128;
  std::uint64_t seed = 1;                     // shuffling; weights are seeded by the caller
  std::vector<Callback*> callbacks;           // in call order; not owned
  const MeteringOptions* metering = nullptr;  // null or !enabled: not metered
  CheckpointOptions checkpoint;
  // Called after each epoch (partial ones too) once the callbacks' OnEpochEnd
  // ran: for progress lines.
  std::function<void(const EpochStats&)> on_epoch;

  // The step hook, for training that is more than the model's Forward, the
  // loss and Backward (distillation needs the teacher's logits, early exit
  // trains several heads, data-parallel training takes its rank's slice of
  // the batch and all-reduces the gradients: joule/dist.hpp): it must fill
  // the grad of every parameter the optimizer steps. Null: the plain step. The loop around it
  // (batches, callbacks, meter, checkpoints, the optimizer's step) is the same.
  std::function<FitStepResult(const Tensor& x, const Tensor& y)> step;
  // The per-epoch evaluation of the monitored set; null: Evaluate(model, loss, ...).
  std::function<EvalResult(const Dataset& set)> evaluate;
  // The parameters the optimizer steps; empty: the model's.
  std::vector<Parameter*> parameters;
};

struct FitResult {
  std::vector<EpochStats> history;  // every epoch, resumed ones included
  std::int64_t steps = 0;
  StopReason stop_reason = StopReason::kEpochLimit;
  std::string stop_message;    // one line, e.g. "budget 500 J: the next step would reach 503.2 J"
  int resumed_from_epoch = 0;  // 0: not resumed
  // True when the last history entry's eval was computed with the model's
  // final weights (false after a partial epoch or a restore of best weights).
  bool final_weights_evaluated = false;
  // The run's energy and carbon (a resumed run adds the checkpoint's joules
  // and grams; the work between that checkpoint and the interruption is not
  // counted). Empty (metered() false) when not metered.
  EnergyReport energy;
  std::vector<std::string> notes;  // meter warnings, resume notes: one line each
};

// Trains `model` on data.train, evaluating on data.validation (when it has
// rows) or data.eval after each epoch. The batch iterator shuffles with
// options.seed. Starts and stops its own Meter when metering is enabled.
// Throws Error for bad options (epochs < 1, batch_size < 1, a checkpoint that
// does not match this model or seed), a diverging loss (naming the epoch), or
// what a callback throws. Deterministic for a given seed and thread count.
FitResult Fit(Sequential& model, Loss& loss, Optimizer& optimizer, const PreparedData& data,
              const FitOptions& options);

// Fit for a model that is not one Sequential (early exit's trunk and heads):
// options.step, options.evaluate and options.parameters are required (Error
// otherwise), checkpoints are not available, and callbacks see an empty
// TrainContext::model().
FitResult Fit(Optimizer& optimizer, const PreparedData& data, const FitOptions& options);

}  // namespace joule
