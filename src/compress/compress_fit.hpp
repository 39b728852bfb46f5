// Distillation and early-exit training on train's Fit: the compression
// methods supply the step (forward, loss, backward) and the evaluation
// through FitOptions' hooks; batches, the cosine lr, the meter and the
// optimizer's steps are Fit's, so there is one training loop.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "joule/compress/distill.hpp"

namespace joule::compress_internal {

// Trains `params` on data.train for options.epochs epochs: `step` fills
// their grads for a batch, `eval` scores the monitored set after each epoch.
// Throws Error for bad options or a non-finite loss.
CompressTrainResult FitCompressed(
    const std::vector<Parameter*>& params, const PreparedData& data,
    const CompressTrainOptions& options,
    const std::function<FitStepResult(const Tensor& x, const Tensor& y)>& step,
    const std::function<EvalResult(const Dataset& set)>& eval);

}  // namespace joule::compress_internal
