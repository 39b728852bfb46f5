// The training loop of the compression methods (see train_loop.hpp).
#include "compress/train_loop.hpp"

#include <cmath>
#include <memory>
#include <numbers>
#include <optional>

#include "train/train_meter.hpp"

namespace joule::compress_internal {
namespace {

void CheckOptions(const CompressTrainOptions& options) {
  if (options.epochs < 1) {
    throw Error("epochs = " + std::to_string(options.epochs) + ": expected at least 1");
  }
  if (options.batch_size < 1) {
    throw Error("batch size = " + std::to_string(options.batch_size) + ": expected at least 1");
  }
}

// What the steps of one epoch added up to.
struct EpochSums {
  double loss = 0;
  std::int64_t correct = 0, rows = 0;
};

}  // namespace

std::int64_t CountCorrect(const Tensor& logits, const Tensor& y) {
  const std::int64_t rows = logits.dim(0), classes = logits.dim(1);
  std::int64_t correct = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = logits.f32() + r * classes;
    std::int64_t best = 0;
    for (std::int64_t c = 1; c < classes; ++c) {
      if (row[c] > row[best]) best = c;
    }
    if (static_cast<float>(best) == y.f32()[r]) ++correct;
  }
  return correct;
}

CompressTrainResult RunTrainLoop(const std::vector<Parameter*>& params, const PreparedData& data,
                                 const CompressTrainOptions& options, const StepFn& step,
                                 const EvalFn& eval) {
  CheckOptions(options);
  std::unique_ptr<Optimizer> optimizer = MakeOptimizer(options.optimizer);
  const bool has_validation = data.validation.rows() > 0;
  const Dataset& eval_set = has_validation ? data.validation : data.eval;
  const std::string eval_name = has_validation ? "validation" : data.eval_name;

  std::optional<train_internal::TrainMeter> meter;
  if (options.metering != nullptr && options.metering->enabled) {
    meter.emplace(*options.metering);
    meter->Start();
  }
  CompressTrainResult result;
  const double run_start = MonotonicSeconds();
  BatchIterator it(data.train, options.batch_size, /*shuffle=*/true, options.seed);
  const std::int64_t steps_per_epoch = it.batches_per_epoch();
  const double total_steps = static_cast<double>(steps_per_epoch) * options.epochs;
  Tensor x, y;
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    const double epoch_start = MonotonicSeconds();
    it.StartEpoch(epoch - 1);
    EpochSums sums;
    while (it.Next(x, y)) {
      if (options.cosine_lr) {
        const double progress = static_cast<double>(result.steps) / total_steps;
        optimizer->set_lr(options.optimizer.lr * 0.5 *
                          (1.0 + std::cos(std::numbers::pi * progress)));
      }
      StepFigures f = step(x, y);
      if (!std::isfinite(f.loss)) {
        throw Error("training diverged in epoch " + std::to_string(epoch) + " (loss " +
                    std::to_string(f.loss) + "); lower the learning rate (--lr)");
      }
      optimizer->Step(params);
      ++result.steps;
      sums.loss += f.loss * static_cast<double>(x.dim(0));
      sums.correct += f.correct;
      sums.rows += x.dim(0);
    }
    CompressEpochStats stats;
    stats.epoch = epoch;
    stats.train_loss = sums.loss / static_cast<double>(sums.rows);
    stats.train_accuracy = static_cast<double>(sums.correct) / static_cast<double>(sums.rows);
    stats.eval = eval(eval_set);
    stats.eval_name = eval_name;
    stats.lr = optimizer->lr();
    stats.seconds = MonotonicSeconds() - epoch_start;
    result.history.push_back(stats);
    if (options.on_epoch) options.on_epoch(stats);
  }
  result.seconds = MonotonicSeconds() - run_start;
  if (meter) {
    result.energy_j = meter->Stop().energy_j;
    result.energy_method = meter->method();
  }
  return result;
}

}  // namespace joule::compress_internal
