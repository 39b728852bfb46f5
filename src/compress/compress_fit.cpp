// The compression methods' training, on Fit (see compress_fit.hpp).
#include "compress/compress_fit.hpp"

#include <memory>

#include "joule/util.hpp"

namespace joule::compress_internal {

CompressTrainResult FitCompressed(
    const std::vector<Parameter*>& params, const PreparedData& data,
    const CompressTrainOptions& options,
    const std::function<FitStepResult(const Tensor& x, const Tensor& y)>& step,
    const std::function<EvalResult(const Dataset& set)>& eval) {
  std::unique_ptr<Optimizer> optimizer = MakeOptimizer(options.optimizer);
  // Fit's cosine schedule is lr x (1 + cos(pi p)) / 2 with p the fraction of
  // the run done before the step: what these methods have always used.
  std::unique_ptr<Callback> cosine;
  if (options.cosine_lr) cosine = MakeLrSchedule("cosine", LrScheduleOptions{});
  FitOptions fo;
  fo.epochs = options.epochs;
  fo.batch_size = options.batch_size;
  fo.seed = options.seed;
  if (cosine) fo.callbacks.push_back(cosine.get());
  fo.metering = options.metering;
  fo.step = step;
  fo.evaluate = eval;
  fo.parameters = params;
  fo.on_epoch = [&options](const EpochStats& s) {
    if (!options.on_epoch) return;
    options.on_epoch(CompressEpochStats{.epoch = s.epoch,
                                        .train_loss = s.train_loss,
                                        .train_accuracy = s.train_accuracy,
                                        .eval = s.eval,
                                        .eval_name = s.eval_name,
                                        .seconds = s.seconds,
                                        .lr = s.lr});
  };
  const double start = MonotonicSeconds();
  FitResult fit = Fit(*optimizer, data, fo);
  CompressTrainResult result;
  result.seconds = MonotonicSeconds() - start;
  result.steps = fit.steps;
  for (const EpochStats& s : fit.history) {
    result.history.push_back(CompressEpochStats{.epoch = s.epoch,
                                                .train_loss = s.train_loss,
                                                .train_accuracy = s.train_accuracy,
                                                .eval = s.eval,
                                                .eval_name = s.eval_name,
                                                .seconds = s.seconds,
                                                .lr = s.lr});
  }
  result.energy = std::move(fit.energy);
  return result;
}

}  // namespace joule::compress_internal
