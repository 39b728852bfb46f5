// Knowledge distillation: the loss (soft teacher targets at temperature T
// blended with the hard labels) and the student's training run.
//
// The loss value is accumulated in double like the other losses (it is what
// is logged and compared); softmaxes are computed in double too, because the
// KL term subtracts two logs of nearly equal probabilities when the student is
// close to the teacher.
#include "joule/compress/distill.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "compress/compress_fit.hpp"

namespace joule {
namespace {

// softmax(row / temperature) in double, max-subtracted so no exp overflows.
void SoftmaxScaled(const float* row, std::int64_t n, double temperature, double* out) {
  double max = row[0];
  for (std::int64_t i = 1; i < n; ++i) max = std::max(max, static_cast<double>(row[i]));
  double sum = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    out[i] = std::exp((row[i] - max) / temperature);
    sum += out[i];
  }
  for (std::int64_t i = 0; i < n; ++i) out[i] /= sum;
}

}  // namespace

DistillationLoss::DistillationLoss(double temperature, double alpha)
    : temperature_(temperature), alpha_(alpha), cross_entropy_(MakeSoftmaxCrossEntropy()) {
  if (!(std::isfinite(temperature) && temperature > 0)) {
    throw Error("distillation temperature = " + std::to_string(temperature) +
                ": expected a finite number > 0 (e.g. --temperature 4)");
  }
  if (!(alpha >= 0 && alpha <= 1)) {
    throw Error("distillation alpha = " + std::to_string(alpha) +
                ": expected the soft-target weight in [0, 1] (e.g. --alpha 0.9)");
  }
}

double DistillationLoss::Compute(const Tensor& pred, const Tensor& target, Tensor& grad) {
  if (teacher_.empty()) {
    throw Error("distillation loss: no teacher logits; call set_teacher_logits before Compute");
  }
  if (teacher_.shape() != pred.shape() || teacher_.dtype() != DType::kF32) {
    throw Error("distillation loss: teacher logits " + ShapeString(teacher_.shape()) +
                " do not match the student's " + ShapeString(pred.shape()) +
                "; the two models must give f32 logits over the same classes");
  }
  // Cross-entropy validates pred and the labels and gives the hard term.
  const double hard = cross_entropy_->Compute(pred, target, ce_grad_);
  const std::int64_t batch = pred.dim(0), classes = pred.dim(1);
  grad.Resize(pred.shape(), DType::kF32);
  std::vector<double> p(static_cast<std::size_t>(classes)), q(p.size());
  const double t = temperature_;
  const double soft_scale = alpha_ * t / static_cast<double>(batch);
  double kl_sum = 0;
  for (std::int64_t b = 0; b < batch; ++b) {
    SoftmaxScaled(teacher_.f32() + b * classes, classes, t, p.data());
    SoftmaxScaled(pred.f32() + b * classes, classes, t, q.data());
    const float* ce_row = ce_grad_.f32() + b * classes;
    float* g = grad.f32() + b * classes;
    for (std::int64_t c = 0; c < classes; ++c) {
      // 0 log 0 = 0: a class the teacher rules out adds nothing.
      if (p[c] > 0) kl_sum += p[c] * (std::log(p[c]) - std::log(q[c]));
      g[c] = static_cast<float>(soft_scale * (q[c] - p[c]) + (1 - alpha_) * ce_row[c]);
    }
  }
  const double kl = kl_sum / static_cast<double>(batch);
  return alpha_ * t * t * kl + (1 - alpha_) * hard;
}

Sequential MakeStudentMlp(const Shape& input_shape, const std::vector<std::int64_t>& hidden,
                          std::int64_t classes, Rng& rng) {
  if (hidden.empty()) {
    throw Error("student hidden widths: none given; expected e.g. --hidden 64,32");
  }
  std::int64_t in = 1;
  for (std::size_t i = 1; i < input_shape.size(); ++i) in *= input_shape[i];
  Sequential model;
  for (std::int64_t width : hidden) {
    if (width < 1) {
      throw Error("student hidden width " + std::to_string(width) +
                  ": expected a positive layer width (e.g. --hidden 64,32)");
    }
    model.Add(MakeLinear(in, width, rng));
    model.Add(MakeReLU());
    in = width;
  }
  model.Add(MakeLinear(in, classes, rng));
  return model;
}

CompressTrainResult TrainStudent(Sequential& student, Sequential* teacher,
                                 const DistillOptions& distill, const PreparedData& data,
                                 const CompressTrainOptions& options) {
  DistillationLoss distill_loss(distill.temperature, distill.alpha);
  std::unique_ptr<Loss> plain_loss = MakeSoftmaxCrossEntropy();
  Loss& loss = teacher != nullptr ? static_cast<Loss&>(distill_loss) : *plain_loss;
  Tensor grad;
  auto step = [&](const Tensor& x, const Tensor& y) {
    if (teacher != nullptr) distill_loss.set_teacher_logits(teacher->Forward(x, false));
    const Tensor& logits = student.Forward(x, /*training=*/true);
    FitStepResult f;
    f.loss = loss.Compute(logits, y, grad);
    f.correct = CountCorrect(logits, y);
    student.Backward(grad);
    return f;
  };
  std::unique_ptr<Loss> eval_loss = MakeSoftmaxCrossEntropy();
  auto eval = [&](const Dataset& set) {
    return Evaluate(student, *eval_loss, set, data.target_scaler);
  };
  return compress_internal::FitCompressed(student.Parameters(), data, options, step, eval);
}

}  // namespace joule
