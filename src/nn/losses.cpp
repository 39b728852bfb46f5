// Losses: fused softmax cross-entropy and the regression losses of M3 (MSE,
// MAE, Huber, log-cosh, and Huber with a movable delta for annealing). Each
// returns the batch mean and writes dL/dpred.
//
// Loss values are accumulated in double from float inputs: the value is what
// a trainer logs and compares across epochs, and a double sum keeps it
// independent of the batch size's rounding. Gradients are f32 like every
// other tensor in the engine.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "joule/nn.hpp"

namespace joule {
namespace {

std::string FormatDouble(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%g", value);
  return buffer;
}

void CheckF32(const std::string& loss, const char* what, const Tensor& t) {
  if (t.dtype() != DType::kF32) {
    throw Error(loss + " loss: " + what + " has dtype " + DTypeName(t.dtype()) +
                ", expected f32; convert it with Tensor::To(DType::kF32)");
  }
}

// Target of a batch of B: [B] or, equally unambiguous, [B, 1].
void CheckTarget(const std::string& loss, const Tensor& pred, const Tensor& target,
                 std::int64_t batch) {
  CheckF32(loss, "target", target);
  const Shape& s = target.shape();
  bool ok = (s.size() == 1 && s[0] == batch) || (s.size() == 2 && s[0] == batch && s[1] == 1);
  if (!ok) {
    throw Error(loss + " loss: target has shape " + ShapeString(s) + " but pred has shape " +
                ShapeString(pred.shape()) + "; expected target [" + std::to_string(batch) +
                "], one value per row of pred");
  }
}

// --- softmax cross-entropy -------------------------------------------------

class SoftmaxCrossEntropy final : public Loss {
 public:
  std::string name() const override { return "cross-entropy"; }

  double Compute(const Tensor& pred, const Tensor& target, Tensor& grad) override {
    CheckF32(name(), "pred", pred);
    if (pred.rank() != 2 || pred.dim(0) == 0 || pred.dim(1) == 0) {
      throw Error("cross-entropy loss: pred has shape " + ShapeString(pred.shape()) +
                  ", expected logits [B, C] with B >= 1 and C >= 1");
    }
    const std::int64_t batch = pred.dim(0), classes = pred.dim(1);
    CheckTarget(name(), pred, target, batch);
    const float* t = target.f32();
    // Validate every id before writing grad, so a bad batch leaves grad as it was.
    for (std::int64_t b = 0; b < batch; ++b) {
      // The negated form also rejects NaN.
      if (!(t[b] >= 0.0f && t[b] < static_cast<float>(classes)) || t[b] != std::floor(t[b])) {
        throw Error(
            "cross-entropy loss: target[" + std::to_string(b) + "] = " + FormatDouble(t[b]) +
            " is not a class id; expected an integer in [0, " + std::to_string(classes - 1) +
            "] for logits of shape " + ShapeString(pred.shape()));
      }
    }
    grad.Resize(pred.shape(), DType::kF32);
    const float* x = pred.f32();
    float* g = grad.f32();
    const float inv_batch = 1.0f / static_cast<float>(batch);
    double total = 0.0;
    for (std::int64_t b = 0; b < batch; ++b) {
      const float* row = x + b * classes;
      float* grow = g + b * classes;
      // Subtracting the row maximum keeps every exp() in (0, 1], so logits of
      // any magnitude neither overflow nor lose the largest term.
      float max_logit = row[0];
      for (std::int64_t c = 1; c < classes; ++c) max_logit = std::max(max_logit, row[c]);
      double sum = 0.0;
      for (std::int64_t c = 0; c < classes; ++c) {
        float e = std::exp(row[c] - max_logit);
        grow[c] = e;
        sum += e;
      }
      const auto label = static_cast<std::int64_t>(t[b]);
      // -log softmax(x)_label = log(sum) - (x_label - max).
      total += std::log(sum) - (static_cast<double>(row[label]) - max_logit);
      const float scale = static_cast<float>(1.0 / sum) * inv_batch;
      for (std::int64_t c = 0; c < classes; ++c) grow[c] *= scale;
      grow[label] -= inv_batch;
    }
    return total / static_cast<double>(batch);
  }
};

// --- regression losses -----------------------------------------------------

// A regression loss is a function f of the residual r = pred - target; the
// loss is mean_b f(r_b) and dL/dpred_b = f'(r_b) / B. `Op` supplies f (in
// double, for the logged value) and f' (in float).
template <class Op>
double ComputeRegression(const std::string& name, const Op& op, const Tensor& pred,
                         const Tensor& target, Tensor& grad) {
  CheckF32(name, "pred", pred);
  const Shape& s = pred.shape();
  bool ok = (s.size() == 1 || (s.size() == 2 && s[1] == 1)) && s[0] > 0;
  if (!ok) {
    throw Error(name + " loss: pred has shape " + ShapeString(s) +
                ", expected [B] or [B, 1] with B >= 1 (one output per row); a model with "
                "several outputs needs a final Linear to one output");
  }
  const std::int64_t batch = s[0];
  CheckTarget(name, pred, target, batch);
  grad.Resize(s, DType::kF32);
  const float* p = pred.f32();
  const float* t = target.f32();
  float* g = grad.f32();
  const float inv_batch = 1.0f / static_cast<float>(batch);
  double total = 0.0;
  for (std::int64_t b = 0; b < batch; ++b) {
    const float r = p[b] - t[b];
    total += op.Value(static_cast<double>(p[b]) - t[b]);
    g[b] = op.Grad(r) * inv_batch;
  }
  return total / static_cast<double>(batch);
}

template <class Op>
class RegressionLoss final : public Loss {
 public:
  explicit RegressionLoss(Op op) : op_(op) {}
  std::string name() const override { return Op::kName; }

  double Compute(const Tensor& pred, const Tensor& target, Tensor& grad) override {
    return ComputeRegression(name(), op_, pred, target, grad);
  }

 private:
  Op op_;
};

struct MseOp {
  static constexpr const char* kName = "mse";
  double Value(double r) const { return r * r; }
  float Grad(float r) const { return 2.0f * r; }
};

struct MaeOp {
  static constexpr const char* kName = "mae";
  double Value(double r) const { return std::fabs(r); }
  // The subgradient 0 at r == 0, as PyTorch's L1Loss uses.
  float Grad(float r) const { return static_cast<float>((r > 0.0f) - (r < 0.0f)); }
};

// Quadratic within delta of the target, linear beyond, continuous in value
// and slope at |r| == delta (PyTorch's HuberLoss, not SmoothL1Loss).
struct HuberOp {
  static constexpr const char* kName = "huber";
  double delta;
  double Value(double r) const {
    double a = std::fabs(r);
    return a <= delta ? 0.5 * r * r : delta * (a - 0.5 * delta);
  }
  float Grad(float r) const {
    const auto d = static_cast<float>(delta);
    return std::clamp(r, -d, d);
  }
};

// log(cosh r) = |r| + log(1 + e^{-2|r|}) - log 2, which never overflows
// (cosh does beyond |r| ~ 710 in double, ~ 89 in float).
struct LogCoshOp {
  static constexpr const char* kName = "log-cosh";
  double Value(double r) const {
    double a = std::fabs(r);
    return a + std::log1p(std::exp(-2.0 * a)) - 0.69314718055994530942;
  }
  float Grad(float r) const { return std::tanh(r); }
};

void CheckHuberDelta(const char* loss, double delta) {
  if (!(delta > 0.0) || !std::isfinite(delta)) {
    throw Error(std::string(loss) + " loss: delta = " + FormatDouble(delta) +
                ", expected a positive finite number (1.0 is the usual choice)");
  }
}

// Huber with a delta the trainer may move between batches. The same HuberOp
// as MakeHuber, so at any fixed delta both compute the same bits.
class AnnealedHuber final : public AnnealedHuberLoss {
 public:
  explicit AnnealedHuber(double delta) { set_delta(delta); }
  std::string name() const override { return "annealed-huber"; }
  double Compute(const Tensor& pred, const Tensor& target, Tensor& grad) override {
    return ComputeRegression(name(), op_, pred, target, grad);
  }
  void set_delta(double delta) override {
    CheckHuberDelta("annealed-huber", delta);
    op_.delta = delta;
  }
  double delta() const override { return op_.delta; }

 private:
  HuberOp op_{1.0};
};

}  // namespace

std::unique_ptr<Loss> MakeSoftmaxCrossEntropy() { return std::make_unique<SoftmaxCrossEntropy>(); }

std::unique_ptr<Loss> MakeMse() { return std::make_unique<RegressionLoss<MseOp>>(MseOp{}); }

std::unique_ptr<Loss> MakeMae() { return std::make_unique<RegressionLoss<MaeOp>>(MaeOp{}); }

std::unique_ptr<Loss> MakeHuber(double delta) {
  CheckHuberDelta("huber", delta);
  return std::make_unique<RegressionLoss<HuberOp>>(HuberOp{delta});
}

std::unique_ptr<Loss> MakeLogCosh() {
  return std::make_unique<RegressionLoss<LogCoshOp>>(LogCoshOp{});
}

std::unique_ptr<AnnealedHuberLoss> MakeAnnealedHuber(double initial_delta) {
  return std::make_unique<AnnealedHuber>(initial_delta);
}

std::unique_ptr<Loss> MakeLoss(const std::string& name, double huber_delta) {
  if (name == "cross-entropy") return MakeSoftmaxCrossEntropy();
  if (name == "mse") return MakeMse();
  if (name == "mae") return MakeMae();
  if (name == "huber") return MakeHuber(huber_delta);
  if (name == "log-cosh") return MakeLogCosh();
  if (name == "annealed-huber") return MakeAnnealedHuber(huber_delta);
  throw Error("unknown loss '" + name + "': expected one of cross-entropy, mse, mae, huber, " +
              "log-cosh, annealed-huber");
}

}  // namespace joule
