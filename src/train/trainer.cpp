#include <algorithm>
#include <cmath>

#include "joule/train.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Task ParseTask(const std::string& task) {
  if (task == "classification") return Task::kClassification;
  if (task == "regression") return Task::kRegression;
  throw Error("--task must be classification or regression, got '" + task + "'");
}

// Counts rows of `pred` whose arg-max equals the class id in `target`.
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

}  // namespace

double ScheduledLr(const std::string& schedule, double base_lr, std::int64_t step,
                   std::int64_t total_steps) {
  if (schedule == "constant") return base_lr;
  if (schedule == "cosine") {
    double progress = static_cast<double>(step) / static_cast<double>(std::max<std::int64_t>(total_steps, 1));
    return base_lr * 0.5 * (1.0 + std::cos(3.141592653589793 * progress));
  }
  throw Error("unknown learning-rate schedule '" + schedule + "': expected constant or cosine");
}

PreparedData PrepareData(const std::string& data, const std::string& target,
                         const std::string& task, std::uint64_t seed) {
  PreparedData out;
  if (EndsWith(data, ".csv")) {
    if (target.empty()) throw Error("--data " + data + " is a table: name its target with --target COLUMN");
    Dataset all = LoadCsv(data, target, ParseTask(task));
    auto [train, eval] = SplitTrainValidation(all, 0.2, seed);
    out.normalizer = Normalizer::Fit(train);
    out.normalizer.Apply(train);
    out.normalizer.Apply(eval);
    if (train.task == Task::kRegression) {
      out.target_scaler = TargetScaler::Fit(train);
      out.target_scaler.Apply(train);
      out.target_scaler.Apply(eval);
    }
    out.train = std::move(train);
    out.eval = std::move(eval);
    out.eval_name = "holdout";
    return out;
  }
  if (data == "mnist") {
    out.train = LoadMnist(true);
    out.eval = LoadMnist(false);
  } else {
    out.train = LoadIdxDir(data, true);
    out.eval = LoadIdxDir(data, false);
  }
  // One mean and stddev over all pixels (MNIST: 0.1307, 0.3081), fitted on
  // the training split only.
  out.normalizer = Normalizer::FitGlobal(out.train);
  out.normalizer.Apply(out.train);
  out.normalizer.Apply(out.eval);
  out.eval_name = "test";
  return out;
}

EvalResult Evaluate(Sequential& model, Loss& loss, const Dataset& data,
                    const TargetScaler& scaler, std::int64_t batch) {
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

std::vector<EpochStats> Fit(Sequential& model, Loss& loss, Optimizer& optimizer,
                            const PreparedData& data, const TrainOptions& options,
                            const std::function<void(const EpochStats&)>& on_epoch) {
  std::vector<Parameter*> params = model.Parameters();
  BatchIterator it(data.train, options.batch_size, /*shuffle=*/true, options.seed);
  Tensor x, y, grad;
  std::vector<EpochStats> history;
  const double base_lr = optimizer.lr();
  const std::int64_t total_steps = it.batches_per_epoch() * options.epochs;
  ScheduledLr(options.lr_schedule, base_lr, 0, total_steps);  // validates the name up front
  std::int64_t step = 0;
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    double start = MonotonicSeconds();
    it.StartEpoch(epoch);
    double loss_sum = 0;
    std::int64_t rows = 0, correct = 0;
    while (it.Next(x, y)) {
      optimizer.set_lr(ScheduledLr(options.lr_schedule, base_lr, step++, total_steps));
      const Tensor& pred = model.Forward(x, /*training=*/true);
      std::int64_t b = x.dim(0);
      double batch_loss = loss.Compute(pred, y, grad);
      if (!std::isfinite(batch_loss)) {
        throw Error("training diverged at epoch " + std::to_string(epoch) +
                    " (loss is " + std::to_string(batch_loss) + "): lower --lr");
      }
      if (data.train.task == Task::kClassification) correct += CountCorrect(pred, y);
      loss_sum += batch_loss * static_cast<double>(b);
      rows += b;
      model.Backward(grad);
      optimizer.Step(params);
    }
    EpochStats s;
    s.epoch = epoch;
    s.train_loss = loss_sum / static_cast<double>(std::max<std::int64_t>(rows, 1));
    s.train_accuracy = static_cast<double>(correct) / static_cast<double>(std::max<std::int64_t>(rows, 1));
    s.eval = Evaluate(model, loss, data.eval, data.target_scaler);
    s.seconds = MonotonicSeconds() - start;
    s.batch_size = options.batch_size;
    s.lr = optimizer.lr();
    history.push_back(s);
    if (on_epoch) on_epoch(s);
  }
  return history;
}

}  // namespace joule
