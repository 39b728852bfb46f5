// The training loop shared by distillation and early-exit training: batches,
// optimizer steps with a cosine lr, one evaluation per epoch, a meter around
// the run. What a step computes (forward, loss, backward) is the caller's.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "joule/compress/distill.hpp"

namespace joule::compress_internal {

struct StepFigures {
  double loss = 0;           // the batch's mean loss
  std::int64_t correct = 0;  // rows whose (final) prediction matched the label
};

// Forward, loss and backward of one batch: fills every parameter's grad.
using StepFn = std::function<StepFigures(const Tensor& x, const Tensor& y)>;
// Accuracy (and loss) of the model on a whole dataset, inference mode.
using EvalFn = std::function<EvalResult(const Dataset& data)>;

// Runs options.epochs epochs over data.train. `params` are stepped after each
// StepFn call. Throws Error for bad options or a non-finite loss.
CompressTrainResult RunTrainLoop(const std::vector<Parameter*>& params, const PreparedData& data,
                                 const CompressTrainOptions& options, const StepFn& step,
                                 const EvalFn& eval);

// Rows of logits [B, C] whose argmax equals the label in y [B].
std::int64_t CountCorrect(const Tensor& logits, const Tensor& y);

}  // namespace joule::compress_internal
