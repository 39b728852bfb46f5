// Data-parallel training: each rank's slice of the global batch, gradients
// all-reduced in buckets, evaluation sharded and reduced.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "joule/dist.hpp"
#include "joule/util.hpp"

namespace joule::dist {
namespace {

// Rows [lo, hi) of `src` into `dst` (f32, any trailing shape).
void SliceRows(const Tensor& src, std::int64_t lo, std::int64_t hi, Tensor& dst) {
  Shape shape = src.shape();
  std::int64_t row = src.dim(0) > 0 ? src.numel() / src.dim(0) : 0;
  shape[0] = hi - lo;
  dst.Resize(shape, src.dtype());
  if (hi > lo) {
    std::memcpy(dst.f32(), src.f32() + lo * row,
                static_cast<std::size_t>((hi - lo) * row) * sizeof(float));
  }
}

}  // namespace

DataParallel::DataParallel(Communicator& comm, Sequential& model, Loss& loss,
                           DataParallelOptions options)
    : comm_(comm), model_(model), loss_(loss), options_(options) {
  if (options_.bucket_floats < 1) throw Error("bucket_floats must be >= 1");
}

void DataParallel::BroadcastWeights() {
  for (auto& [name, tensor] : model_.NamedTensors()) {
    if (tensor->dtype() != DType::kF32 || tensor->empty()) continue;
    comm_.Broadcast(tensor->f32(), tensor->numel(), 0);
  }
}

void DataParallel::ReduceGradients(double weight) {
  // Buckets: consecutive parameters packed until the next would overflow
  // the bucket (a parameter larger than a bucket goes alone, reduced in
  // place).
  std::vector<Parameter*> params = model_.Parameters();
  const float w = static_cast<float>(weight);
  std::size_t i = 0;
  while (i < params.size()) {
    std::int64_t n0 = params[i]->grad.numel();
    if (n0 >= options_.bucket_floats) {
      float* g = params[i]->grad.f32();
      for (std::int64_t k = 0; k < n0; ++k) g[k] *= w;
      comm_.AllreduceSum(g, n0);
      ++i;
      continue;
    }
    std::size_t j = i;
    std::int64_t total = 0;
    while (j < params.size() && total + params[j]->grad.numel() <= options_.bucket_floats) {
      total += params[j]->grad.numel();
      ++j;
    }
    bucket_.resize(static_cast<std::size_t>(total));
    float* out = bucket_.data();
    for (std::size_t k = i; k < j; ++k) {
      const float* g = params[k]->grad.f32();
      std::int64_t n = params[k]->grad.numel();
      for (std::int64_t e = 0; e < n; ++e) out[e] = g[e] * w;
      out += n;
    }
    comm_.AllreduceSum(bucket_.data(), total);
    const float* in = bucket_.data();
    for (std::size_t k = i; k < j; ++k) {
      std::int64_t n = params[k]->grad.numel();
      std::memcpy(params[k]->grad.f32(), in, static_cast<std::size_t>(n) * sizeof(float));
      in += n;
    }
    i = j;
  }
}

FitStepResult DataParallel::Step(const Tensor& x, const Tensor& y) {
  const std::int64_t b = x.dim(0);
  const std::int64_t r = comm_.rank(), size = comm_.size();
  const std::int64_t lo = b * r / size, hi = b * (r + 1) / size;
  double loss_sum = 0, correct = 0;
  if (hi > lo) {
    SliceRows(x, lo, hi, x_);
    SliceRows(y, lo, hi, y_);
    const Tensor& pred = model_.Forward(x_, /*training=*/true);
    double loss = loss_.Compute(pred, y_, grad_);
    loss_sum = loss * static_cast<double>(hi - lo);
    if (pred.rank() == 2 && pred.dim(1) > 1) correct = static_cast<double>(CountCorrect(pred, y_));
    model_.Backward(grad_);
  } else {
    // A global batch smaller than the ranks: this rank's share is nothing.
    for (Parameter* p : model_.Parameters()) std::fill_n(p->grad.f32(), p->grad.numel(), 0.0f);
  }
  // The slice's mean-loss gradient weighted by its share of the batch: the
  // sum over ranks is the gradient of the global batch's mean loss.
  ReduceGradients(static_cast<double>(hi - lo) / static_cast<double>(b));
  double figures[2] = {loss_sum, correct};
  comm_.AllreduceSum(figures, 2);
  FitStepResult result;
  result.loss = figures[0] / static_cast<double>(b);
  result.correct = static_cast<std::int64_t>(std::llround(figures[1]));
  return result;
}

EvalResult DataParallel::Evaluate(const Dataset& set, const TargetScaler& scaler) {
  const std::int64_t rows = set.rows();
  const std::int64_t r = comm_.rank(), size = comm_.size();
  const std::int64_t lo = rows * r / size, hi = rows * (r + 1) / size;
  EvalResult mine;
  if (hi > lo) {
    std::vector<std::int64_t> rows_of(static_cast<std::size_t>(hi - lo));
    for (std::int64_t i = lo; i < hi; ++i) rows_of[static_cast<std::size_t>(i - lo)] = i;
    Dataset slice = Subset(set, rows_of);
    mine = joule::Evaluate(model_, loss_, slice, scaler);
  }
  // Sums, so that the reduced figures are those of the whole set.
  double n = static_cast<double>(mine.rows);
  double sums[5] = {mine.loss * n, mine.accuracy * n, mine.rmse * mine.rmse * n, mine.mae * n, n};
  comm_.AllreduceSum(sums, 5);
  EvalResult all;
  all.rows = static_cast<std::int64_t>(std::llround(sums[4]));
  if (all.rows == 0) return all;
  all.loss = sums[0] / sums[4];
  all.accuracy = sums[1] / sums[4];
  all.rmse = std::sqrt(sums[2] / sums[4]);
  all.mae = sums[3] / sums[4];
  return all;
}

void DataParallel::Install(FitOptions& options, const TargetScaler& scaler) {
  options.step = [this](const Tensor& x, const Tensor& y) { return Step(x, y); };
  options.evaluate = [this, &scaler](const Dataset& set) { return Evaluate(set, scaler); };
  if (!options.checkpoint.dir.empty() && comm_.rank() > 0) {
    options.checkpoint.dir += "/rank-" + std::to_string(comm_.rank());
  }
}

}  // namespace joule::dist
