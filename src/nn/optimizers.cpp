// Optimizers: SGD (momentum, Nesterov, weight decay), Adam and AdamW.
//
// The update rules are PyTorch's (torch.optim, 1.13), so that a learning rate
// or a recipe tuned there means the same here:
//   SGD:   d = g + wd p;  buf = mu buf + d (buf = d at the first step);
//          p -= lr (nesterov ? d + mu buf : buf)   (no dampening)
//   Adam:  g += wd p (L2);  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//          p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//   AdamW: as Adam without the L2 term, after p *= 1 - lr wd (decoupled decay).
// Each per-element loop is branch-free over contiguous f32 arrays with
// __restrict pointers, so GCC vectorizes it at -O3. (The Adam loop's sqrt
// vectorizes only with -fno-math-errno: otherwise GCC keeps a scalar branch
// that may set errno for a negative argument, which v never is.)
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

void CheckRange(const char* name, double value, double low, double high, bool high_inclusive,
                const char* hint) {
  bool ok = std::isfinite(value) && value >= low && (high_inclusive ? value <= high : value < high);
  if (!ok) {
    throw Error(std::string("optimizer: ") + name + " = " + FormatDouble(value) +
                ", expected a value in [" + FormatDouble(low) + ", " + FormatDouble(high) +
                (high_inclusive ? "]" : ")") + "; " + hint);
  }
}

// --- per-element updates (the hot loops) ------------------------------------

void SgdUpdate(float* __restrict p, const float* __restrict g, std::int64_t n, float lr, float wd) {
  for (std::int64_t i = 0; i < n; ++i) p[i] -= lr * (g[i] + wd * p[i]);
}

// The buffer starts at zero, so mu * 0 + d reproduces PyTorch's buf = d at the
// first step without a branch, and a restored buffer simply continues.
template <bool kNesterov>
void SgdMomentumUpdate(float* __restrict p, const float* __restrict g, float* __restrict buf,
                       std::int64_t n, float lr, float mu, float wd) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float d = g[i] + wd * p[i];
    const float b = mu * buf[i] + d;
    buf[i] = b;
    p[i] -= lr * (kNesterov ? d + mu * b : b);
  }
}

// Adam and AdamW in one loop: Adam passes l2 = wd and keep = 1; AdamW passes
// l2 = 0 and keep = 1 - lr wd. Both constants are exact no-ops when unused.
// c1 = 1 - beta1 and c2 = 1 - beta2 come in precomputed in double: 1 - 0.999f
// in float is 0.000999987, off by 1.3e-5 relative.
void AdamUpdate(float* __restrict p, const float* __restrict g, float* __restrict m,
                float* __restrict v, std::int64_t n, float beta1, float c1, float beta2, float c2,
                float l2, float keep, float step_size, float inv_sqrt_bc2, float eps) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float gi = g[i] + l2 * p[i];
    const float mi = beta1 * m[i] + c1 * gi;
    const float vi = beta2 * v[i] + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = keep * p[i] - step_size * mi / (std::sqrt(vi) * inv_sqrt_bc2 + eps);
  }
}

// --- state shared by every optimizer ----------------------------------------

// Holds `slot_names.size()` tensors per parameter ("0.momentum", "0.exp_avg",
// ...), allocated zeroed at the first Step with the parameters' shapes, and a
// step counter ("step", s32 scalar).
class StatefulOptimizer : public Optimizer {
 public:
  StatefulOptimizer(double lr, std::vector<std::string> slot_names)
      : slot_names_(std::move(slot_names)), step_(Shape{}, DType::kS32) {
    lr_ = lr;
  }

  std::vector<std::pair<std::string, Tensor*>> State() override {
    std::vector<std::pair<std::string, Tensor*>> state;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      for (std::size_t s = 0; s < slot_names_.size(); ++s) {
        state.emplace_back(std::to_string(i) + "." + slot_names_[s], &slots_[i][s]);
      }
    }
    state.emplace_back("step", &step_);
    return state;
  }

 protected:
  // Validates params against each other and against the state, allocating the
  // state on the first call, and advances the step counter. Returns the new
  // step number (1 at the first Step).
  std::int64_t BeginStep(const std::vector<Parameter*>& params) {
    for (std::size_t i = 0; i < params.size(); ++i) {
      const Parameter* param = params[i];
      JOULE_ASSERT(param != nullptr);
      if (param->value.dtype() != DType::kF32 || param->grad.dtype() != DType::kF32 ||
          param->grad.shape() != param->value.shape()) {
        throw Error("optimizer: parameter " + std::to_string(i) + " ('" + param->name +
                    "') has value " + DTypeName(param->value.dtype()) + " " +
                    ShapeString(param->value.shape()) + " and grad " +
                    DTypeName(param->grad.dtype()) + " " + ShapeString(param->grad.shape()) +
                    "; expected both f32 with the same shape (run Backward before Step)");
      }
    }
    if (slots_.empty() && !slot_names_.empty()) {
      slots_.resize(params.size());
      for (std::size_t i = 0; i < params.size(); ++i) {
        for (std::size_t s = 0; s < slot_names_.size(); ++s) {
          slots_[i].emplace_back(params[i]->value.shape(), DType::kF32);
        }
      }
    } else if (!slot_names_.empty()) {
      if (slots_.size() != params.size()) {
        throw Error("optimizer: Step got " + std::to_string(params.size()) +
                    " parameters but its state holds " + std::to_string(slots_.size()) +
                    " (from the first Step); pass the same parameter list every step");
      }
      for (std::size_t i = 0; i < params.size(); ++i) {
        if (slots_[i][0].shape() != params[i]->value.shape()) {
          throw Error("optimizer: parameter " + std::to_string(i) + " ('" + params[i]->name +
                      "') has shape " + ShapeString(params[i]->value.shape()) +
                      " but its optimizer state has shape " + ShapeString(slots_[i][0].shape()) +
                      "; pass the same parameter list every step");
        }
      }
    }
    std::int32_t& step = *step_.data<std::int32_t>();
    // A restored checkpoint can carry any value here.
    if (step < 0 || step == std::numeric_limits<std::int32_t>::max()) {
      throw Error("optimizer: state 'step' = " + std::to_string(step) +
                  " is out of range; the checkpoint holding it is corrupt");
    }
    return ++step;
  }

  float* Slot(std::size_t param, std::size_t slot) { return slots_[param][slot].f32(); }

 private:
  std::vector<std::string> slot_names_;
  std::vector<std::vector<Tensor>> slots_;  // [parameter][slot]
  Tensor step_;
};

class Sgd final : public StatefulOptimizer {
 public:
  explicit Sgd(const OptimizerConfig& c)
      : StatefulOptimizer(c.lr, c.momentum > 0.0 ? std::vector<std::string>{"momentum"}
                                                 : std::vector<std::string>{}),
        momentum_(static_cast<float>(c.momentum)),
        weight_decay_(static_cast<float>(c.weight_decay)),
        nesterov_(c.nesterov) {}

  void Step(const std::vector<Parameter*>& params) override {
    BeginStep(params);
    const auto lr = static_cast<float>(lr_);
    for (std::size_t i = 0; i < params.size(); ++i) {
      float* p = params[i]->value.f32();
      const float* g = params[i]->grad.f32();
      const std::int64_t n = params[i]->value.numel();
      if (momentum_ == 0.0f) {
        SgdUpdate(p, g, n, lr, weight_decay_);
      } else if (nesterov_) {
        SgdMomentumUpdate<true>(p, g, Slot(i, 0), n, lr, momentum_, weight_decay_);
      } else {
        SgdMomentumUpdate<false>(p, g, Slot(i, 0), n, lr, momentum_, weight_decay_);
      }
    }
  }

 private:
  float momentum_;
  float weight_decay_;
  bool nesterov_;
};

class Adam final : public StatefulOptimizer {
 public:
  Adam(const OptimizerConfig& c, bool decoupled)
      : StatefulOptimizer(c.lr, {"exp_avg", "exp_avg_sq"}),
        beta1_(c.beta1),
        beta2_(c.beta2),
        eps_(c.eps),
        weight_decay_(c.weight_decay),
        decoupled_(decoupled) {}

  void Step(const std::vector<Parameter*>& params) override {
    const std::int64_t t = BeginStep(params);
    // Bias corrections in double: 1 - 0.999^t loses most of its digits in
    // float for small t.
    const double bc1 = 1.0 - std::pow(beta1_, static_cast<double>(t));
    const double bc2 = 1.0 - std::pow(beta2_, static_cast<double>(t));
    const auto step_size = static_cast<float>(lr_ / bc1);
    const auto inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
    const auto l2 = static_cast<float>(decoupled_ ? 0.0 : weight_decay_);
    const auto keep = static_cast<float>(decoupled_ ? 1.0 - lr_ * weight_decay_ : 1.0);
    for (std::size_t i = 0; i < params.size(); ++i) {
      AdamUpdate(params[i]->value.f32(), params[i]->grad.f32(), Slot(i, 0), Slot(i, 1),
                 params[i]->value.numel(), static_cast<float>(beta1_),
                 static_cast<float>(1.0 - beta1_), static_cast<float>(beta2_),
                 static_cast<float>(1.0 - beta2_), l2, keep, step_size, inv_sqrt_bc2,
                 static_cast<float>(eps_));
    }
  }

 private:
  double beta1_, beta2_, eps_, weight_decay_;
  bool decoupled_;
};

}  // namespace

std::unique_ptr<Optimizer> MakeOptimizer(const OptimizerConfig& config) {
  const std::string& kind = config.kind;
  if (kind != "sgd" && kind != "adam" && kind != "adamw") {
    throw Error("unknown optimizer '" + kind + "': expected one of sgd, adam, adamw");
  }
  if (!std::isfinite(config.lr) || config.lr < 0.0) {
    throw Error("optimizer: lr = " + FormatDouble(config.lr) +
                ", expected a finite number >= 0 (0.01 for SGD, 0.001 for Adam are usual)");
  }
  if (!std::isfinite(config.weight_decay) || config.weight_decay < 0.0) {
    throw Error("optimizer: weight_decay = " + FormatDouble(config.weight_decay) +
                ", expected a finite number >= 0 (0 turns it off)");
  }
  if (kind == "sgd") {
    CheckRange("momentum", config.momentum, 0.0, 1.0, false, "0.9 is usual, 0 turns it off");
    if (config.nesterov && config.momentum == 0.0) {
      throw Error(
          "optimizer: nesterov needs momentum > 0; set a momentum (0.9 is usual) or "
          "turn nesterov off");
    }
    return std::make_unique<Sgd>(config);
  }
  CheckRange("beta1", config.beta1, 0.0, 1.0, false, "0.9 is usual");
  CheckRange("beta2", config.beta2, 0.0, 1.0, false, "0.999 is usual");
  if (!std::isfinite(config.eps) || config.eps <= 0.0) {
    throw Error("optimizer: eps = " + FormatDouble(config.eps) +
                ", expected a small positive number (1e-8 is usual)");
  }
  return std::make_unique<Adam>(config, kind == "adamw");
}

}  // namespace joule
