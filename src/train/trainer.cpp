// The training loop: data preparation, evaluation, and Fit, which drives the
// callbacks, the meter and the checkpoints.
#include <algorithm>
#include <cmath>
#include <optional>

#include "joule/train.hpp"
#include "joule/util.hpp"
#include "train/checkpoint.hpp"

namespace joule {
namespace {

using EnergyFigures = SessionFigures;

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Task ParseTask(const std::string& task) {
  if (task == "classification") return Task::kClassification;
  if (task == "regression") return Task::kRegression;
  throw Error("task = '" + task + "': expected classification or regression");
}

// The validation split draws from its own stream of the seed, so that it does
// not mirror the CSV's train/holdout split, which uses the seed itself.
constexpr std::uint64_t kValidationSeedSalt = 0x76616c6964ULL;  // "valid"

Dataset CloneDataset(const Dataset& d) {
  Dataset copy = d;
  copy.x = d.x.Clone();
  copy.y = d.y.Clone();
  return copy;
}

EnergyFigures Plus(const EnergyFigures& a, const EnergyFigures& b) {
  return {a.energy_j + b.energy_j, a.co2_g + b.co2_g};
}

}  // namespace

RawData LoadRawData(const std::string& data, const std::string& target, const std::string& task,
                    std::uint64_t seed) {
  RawData raw;
  if (EndsWith(data, ".csv")) {
    if (target.empty())
      throw Error("data = " + data + ": a table needs `target`, the column to predict");
    Dataset all = LoadCsv(data, target, ParseTask(task));
    std::tie(raw.train, raw.eval) = SplitTrainValidation(all, 0.2, seed);
    raw.eval_name = "holdout";
  } else {
    raw.train = data == "mnist" ? LoadMnist(true) : LoadIdxDir(data, true);
    raw.eval = data == "mnist" ? LoadMnist(false) : LoadIdxDir(data, false);
    raw.eval_name = "test";
  }
  return raw;
}

namespace {

// PrepareData on data this call owns: the transforms work in place.
PreparedData PrepareOwned(RawData raw, std::uint64_t seed, double validation_fraction) {
  if (!(validation_fraction >= 0 && validation_fraction < 1)) {
    throw Error("validation_fraction = " + std::to_string(validation_fraction) +
                ": expected a fraction in [0, 1) of the training rows (e.g. 0.1; 0: none)");
  }
  PreparedData out;
  out.eval = std::move(raw.eval);
  out.eval_name = raw.eval_name;
  if (validation_fraction > 0) {
    std::tie(out.train, out.validation) =
        SplitTrainValidation(raw.train, validation_fraction, seed ^ kValidationSeedSalt);
  } else {
    out.train = std::move(raw.train);
  }
  // Transforms are fitted on the training split only. Images get one mean and
  // stddev over all pixels (MNIST: 0.1307, 0.3081).
  bool images = out.train.x.rank() > 2;
  out.normalizer = images ? Normalizer::FitGlobal(out.train) : Normalizer::Fit(out.train);
  bool regression = out.train.task == Task::kRegression;
  if (regression) out.target_scaler = TargetScaler::Fit(out.train);
  for (Dataset* d : {&out.train, &out.validation, &out.eval}) {
    if (d->rows() == 0) continue;
    out.normalizer.Apply(*d);
    if (regression) out.target_scaler.Apply(*d);
  }
  return out;
}

}  // namespace

PreparedData PrepareData(const RawData& raw, std::uint64_t seed, double validation_fraction) {
  // Dataset copies alias their tensors and the transforms work in place: the
  // prepared sets get storage of their own, and `raw` stays as read.
  RawData copy;
  copy.eval = CloneDataset(raw.eval);
  copy.eval_name = raw.eval_name;
  // With a validation split, SplitTrainValidation copies the rows itself.
  copy.train = validation_fraction > 0 ? raw.train : CloneDataset(raw.train);
  return PrepareOwned(std::move(copy), seed, validation_fraction);
}

PreparedData PrepareData(const std::string& data, const std::string& target,
                         const std::string& task, std::uint64_t seed, double validation_fraction) {
  if (!(validation_fraction >= 0 && validation_fraction < 1)) {
    throw Error("validation_fraction = " + std::to_string(validation_fraction) +
                ": expected a fraction in [0, 1) of the training rows (e.g. 0.1; 0: none)");
  }
  return PrepareOwned(LoadRawData(data, target, task, seed), seed, validation_fraction);
}

std::int64_t CountCorrect(const Tensor& pred, const Tensor& target) {
  std::int64_t rows = pred.dim(0), classes = pred.dim(1), correct = 0;
  const float* p = pred.f32();
  const float* t = target.f32();
  for (std::int64_t i = 0; i < rows; ++i) {
    const float* row = p + i * classes;
    std::int64_t best = std::max_element(row, row + classes) - row;
    correct += best == static_cast<std::int64_t>(t[i]);
  }
  return correct;
}

EvalResult Evaluate(Sequential& model, Loss& loss, const Dataset& data, const TargetScaler& scaler,
                    std::int64_t batch) {
  EvalResult r;
  BatchIterator it(data, batch, /*shuffle=*/false, 0);
  it.StartEpoch(0);
  Tensor x, y, grad;
  double loss_sum = 0, abs_sum = 0, sq_sum = 0;
  std::int64_t correct = 0;
  while (it.Next(x, y)) {
    const Tensor& pred = model.Forward(x, /*training=*/false);
    std::int64_t b = x.dim(0);
    loss_sum += loss.Compute(pred, y, grad) * static_cast<double>(b);
    if (data.task == Task::kClassification) {
      correct += CountCorrect(pred, y);
    } else {
      for (std::int64_t i = 0; i < b; ++i) {
        double err = scaler.Invert(pred.f32()[i]) - scaler.Invert(y.f32()[i]);
        abs_sum += std::fabs(err);
        sq_sum += err * err;
      }
    }
    r.rows += b;
  }
  if (r.rows == 0) return r;
  double n = static_cast<double>(r.rows);
  r.loss = loss_sum / n;
  r.accuracy = static_cast<double>(correct) / n;
  r.rmse = std::sqrt(sq_sum / n);
  r.mae = abs_sum / n;
  return r;
}

namespace {

// One Fit call's state; Run is the loop.
class FitLoop {
 public:
  // `model` and `loss` are null for Fit without a model (the step hook and
  // evaluate stand in for them).
  FitLoop(Sequential* model, Loss* loss, Optimizer& optimizer, const PreparedData& data,
          const FitOptions& options)
      : model_(model != nullptr ? *model : placeholder_),
        loss_(loss),
        optimizer_(optimizer),
        data_(data),
        options_(options),
        params_(options.parameters.empty() ? model_.Parameters() : options.parameters),
        batches_(data.train, options.batch_size, /*shuffle=*/true, options.seed),
        ctx_(model_, optimizer, data.train.task, options.epochs, optimizer.lr()),
        annealed_(dynamic_cast<AnnealedHuberLoss*>(loss)) {
    use_validation_ = data.validation.rows() > 0;
    monitor_set_ = use_validation_ ? &data.validation : &data.eval;
    monitor_name_ = use_validation_ ? "validation" : data.eval_name;
    if (options.metering != nullptr && options.metering->enabled) {
      meter_.emplace(*options.metering);
      ctx_.set_metered(true);
      ctx_.set_energy_sampler([this] { return Fresh().energy_j; });
    }
  }

  FitResult Run();

 private:
  void Resume();
  void PrimeOptimizer();
  EnergyFigures Now() { return meter_ ? Plus(meter_->Estimate(), offset_) : EnergyFigures{}; }
  EnergyFigures Fresh() { return meter_ ? Plus(meter_->Sample(), offset_) : EnergyFigures{}; }
  // Trains one epoch; returns its figures (evaluated unless it ended partial).
  EpochStats RunEpoch(int epoch);
  void Finish();
  // Forward, loss and backward of the batch in x_, y_ (or the step hook's).
  FitStepResult Step(bool classification) {
    if (options_.step) return options_.step(x_, y_);
    const Tensor& pred = model_.Forward(x_, /*training=*/true);
    FitStepResult r;
    r.loss = loss_->Compute(pred, y_, grad_);
    if (classification) r.correct = CountCorrect(pred, y_);
    model_.Backward(grad_);
    return r;
  }

  Sequential placeholder_;  // model_ of a Fit without a model: empty
  Sequential& model_;
  Loss* loss_;
  Optimizer& optimizer_;
  const PreparedData& data_;
  const FitOptions& options_;
  std::vector<Parameter*> params_;
  BatchIterator batches_;
  TrainContext ctx_;
  AnnealedHuberLoss* annealed_;
  bool use_validation_ = false;
  const Dataset* monitor_set_ = nullptr;
  std::string monitor_name_;
  std::optional<MeterSession> meter_;
  EnergyFigures offset_;     // figures carried over from a checkpoint
  EnergyFigures epoch_end_;  // totals at the previous epoch's end
  int first_epoch_ = 1;
  FitResult result_;
  Tensor x_, y_, grad_;
};

FitResult FitLoop::Run() {
  for (Callback* cb : options_.callbacks) cb->OnTrainBegin(ctx_);
  if (options_.checkpoint.resume) Resume();
  if (meter_) meter_->Start();
  epoch_end_ = offset_;
  ctx_.SetEnergy(offset_.energy_j, offset_.co2_g);
  for (int epoch = first_epoch_; epoch <= options_.epochs && !ctx_.stop_requested(); ++epoch) {
    EpochStats stats = RunEpoch(epoch);
    ctx_.AppendHistory(stats);
    if (!stats.partial) {
      for (Callback* cb : options_.callbacks) cb->OnEpochEnd(ctx_, stats);
      const CheckpointOptions& c = options_.checkpoint;
      if (c.every_epochs > 0 && epoch % c.every_epochs == 0) {
        train_internal::CheckpointState state;
        state.epoch = epoch;
        state.step = ctx_.step();
        state.lr = optimizer_.lr();
        state.lr_scale = ctx_.lr_scale();
        state.next_batch_size = ctx_.next_batch_size();
        state.energy_j = ctx_.energy_j();
        state.co2_g = ctx_.co2_g();
        state.seed = options_.seed;
        state.history = ctx_.history();
        train_internal::WriteCheckpoint(c.dir, state, model_, optimizer_, options_.callbacks);
      }
    }
    if (ctx_.next_batch_size() != batches_.batch_size()) {
      batches_.set_batch_size(ctx_.next_batch_size());
    }
    if (options_.on_epoch) options_.on_epoch(stats);
  }
  Finish();
  return std::move(result_);
}

EpochStats FitLoop::RunEpoch(int epoch) {
  double start = MonotonicSeconds();
  batches_.StartEpoch(epoch);
  ctx_.BeginEpoch(epoch, batches_.batch_size(), batches_.batches_per_epoch());
  for (Callback* cb : options_.callbacks) cb->OnEpochBegin(ctx_);
  const bool classification = data_.train.task == Task::kClassification;
  double loss_sum = 0;
  std::int64_t rows = 0, correct = 0;
  EnergyFigures before = Now();
  double lr = optimizer_.lr();
  while (!ctx_.stop_requested() && batches_.Next(x_, y_)) {
    for (Callback* cb : options_.callbacks) cb->OnStepBegin(ctx_);
    lr = optimizer_.lr();
    const std::int64_t b = x_.dim(0);
    const FitStepResult figures = Step(classification);
    const double batch_loss = figures.loss;
    if (!std::isfinite(batch_loss)) {
      throw Error("training diverged at epoch " + std::to_string(epoch) + " (loss is " +
                  std::to_string(batch_loss) + "): lower the learning rate");
    }
    correct += figures.correct;
    loss_sum += batch_loss * static_cast<double>(b);
    rows += b;
    optimizer_.Step(params_);
    // The step's energy runs from the end of the previous step (or the
    // epoch's start), so it includes this step's OnStepBegin hooks.
    const EnergyFigures after = Now();
    const double step_j = after.energy_j - before.energy_j;
    const double step_g = after.co2_g - before.co2_g;
    ctx_.EndStep(step_j, step_g, after.energy_j, after.co2_g);
    before = after;
    const StepStats step{.step = ctx_.step(),
                         .step_in_epoch = ctx_.step_in_epoch(),
                         .rows = b,
                         .loss = batch_loss,
                         .lr = lr,
                         .energy_j = step_j,
                         .co2_g = step_g};
    for (Callback* cb : options_.callbacks) cb->OnStepEnd(ctx_, step);
  }
  EpochStats s;
  s.epoch = epoch;
  s.train_loss = loss_sum / static_cast<double>(std::max<std::int64_t>(rows, 1));
  s.train_accuracy =
      static_cast<double>(correct) / static_cast<double>(std::max<std::int64_t>(rows, 1));
  s.eval_name = monitor_name_;
  s.batch_size = ctx_.batch_size();
  s.steps = ctx_.step_in_epoch();
  s.lr = lr;
  s.loss_delta = annealed_ != nullptr ? annealed_->delta() : 0.0;
  s.partial = ctx_.step_in_epoch() < ctx_.steps_in_epoch();
  if (!s.partial) {
    s.eval = options_.evaluate ? options_.evaluate(*monitor_set_)
                               : Evaluate(model_, *loss_, *monitor_set_, data_.target_scaler);
  }
  s.seconds = MonotonicSeconds() - start;
  if (meter_) {
    EnergyFigures total = Fresh();
    s.energy_j = total.energy_j - epoch_end_.energy_j;
    s.co2_g = total.co2_g - epoch_end_.co2_g;
    s.total_energy_j = total.energy_j;
    s.total_co2_g = total.co2_g;
    s.energy_method = meter_->method();
    ctx_.SetEnergy(total.energy_j, total.co2_g);
    epoch_end_ = total;
  }
  return s;
}

// Makes optimizer.State() list every tensor (it is empty until the first
// Step) with one Step at lr 0 on zero gradients. The weights this may touch
// and the state it creates are all overwritten from the checkpoint next.
void FitLoop::PrimeOptimizer() {
  for (Parameter* p : params_) {
    p->grad.Resize(p->value.shape(), DType::kF32);
    p->grad.Zero();
  }
  double lr = optimizer_.lr();
  optimizer_.set_lr(0);
  optimizer_.Step(params_);
  optimizer_.set_lr(lr);
}

void FitLoop::Resume() {
  const CheckpointOptions& c = options_.checkpoint;
  if (c.dir.empty())
    throw Error("checkpoint.resume needs checkpoint.dir, the directory to resume from");
  std::optional<std::string> path = train_internal::LatestCheckpoint(c.dir);
  if (!path) {
    result_.notes.push_back("resume: no checkpoint in " + c.dir + "; training from the start");
    return;
  }
  PrimeOptimizer();
  train_internal::CheckpointState state =
      train_internal::ReadCheckpoint(*path, options_.seed, model_, optimizer_, options_.callbacks);
  if (state.epoch >= options_.epochs) {
    result_.notes.push_back("resume: " + *path + " is at epoch " + std::to_string(state.epoch) +
                            ", the run's last; nothing left to train");
  }
  optimizer_.set_lr(state.lr);
  batches_.set_batch_size(state.next_batch_size);
  offset_ = {state.energy_j, state.co2_g};
  ctx_.Restore(state.epoch, state.step, state.lr_scale, state.next_batch_size,
               std::move(state.history));
  first_epoch_ = state.epoch + 1;
  result_.resumed_from_epoch = state.epoch;
  result_.notes.push_back("resumed from " + *path + " (epoch " + std::to_string(state.epoch) +
                          "); energy spent after that checkpoint by the interrupted run is not "
                          "counted");
}

void FitLoop::Finish() {
  for (Callback* cb : options_.callbacks) cb->OnTrainEnd(ctx_);
  result_.history = ctx_.history();
  result_.steps = ctx_.step();
  result_.stop_reason = ctx_.stop_reason();
  result_.stop_message = ctx_.stop_requested()
                             ? ctx_.stop_message()
                             : "every epoch ran (" + std::to_string(options_.epochs) + ")";
  bool restored = false;
  for (Callback* cb : options_.callbacks) {
    if (auto* es = dynamic_cast<EarlyStopping*>(cb)) restored = restored || es->restored();
  }
  result_.final_weights_evaluated =
      !result_.history.empty() && !result_.history.back().partial && !restored;
  if (meter_) {
    meter_->Stop();
    result_.energy = meter_->Report();
    // The checkpoint carries totals only: its grams count as operational.
    result_.energy.energy_j += offset_.energy_j;
    result_.energy.operational_g += offset_.co2_g;
    const CarbonModel& carbon = meter_->carbon();
    for (const std::string& w : meter_->warnings()) result_.notes.push_back("meter: " + w);
    std::string coverage = carbon.CoverageWarning(meter_->start_unix_s(), meter_->end_unix_s());
    if (!coverage.empty()) result_.notes.push_back("carbon: " + coverage);
  }
}

}  // namespace

namespace {

void CheckFitOptions(const FitOptions& options) {
  if (options.epochs < 1) {
    throw Error("epochs = " + std::to_string(options.epochs) + ": expected at least 1");
  }
  if (options.batch_size < 1) {
    throw Error("batch_size = " + std::to_string(options.batch_size) + ": expected at least 1");
  }
  if (options.checkpoint.every_epochs < 0) {
    throw Error("checkpoint.every_epochs = " + std::to_string(options.checkpoint.every_epochs) +
                ": expected >= 0 (0: no checkpoints)");
  }
  if (options.checkpoint.every_epochs > 0 && options.checkpoint.dir.empty()) {
    throw Error("checkpoint.every_epochs = " + std::to_string(options.checkpoint.every_epochs) +
                " needs checkpoint.dir, the directory to write them to");
  }
}

}  // namespace

FitResult Fit(Sequential& model, Loss& loss, Optimizer& optimizer, const PreparedData& data,
              const FitOptions& options) {
  CheckFitOptions(options);
  FitLoop loop(&model, &loss, optimizer, data, options);
  return loop.Run();
}

FitResult Fit(Optimizer& optimizer, const PreparedData& data, const FitOptions& options) {
  CheckFitOptions(options);
  if (!options.step || !options.evaluate || options.parameters.empty()) {
    throw Error("Fit without a model needs options.step, options.evaluate and options.parameters");
  }
  if (options.checkpoint.every_epochs > 0 || options.checkpoint.resume) {
    throw Error("Fit without a model cannot write or resume checkpoints");
  }
  FitLoop loop(nullptr, nullptr, optimizer, data, options);
  return loop.Run();
}

}  // namespace joule
