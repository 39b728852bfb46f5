// Batch normalisation over [N, F] (1d: statistics per feature over the batch)
// and [N, C, H, W] (2d: per channel over the batch and the plane).
//
// Training normalises with the batch's mean and biased variance and folds them
// into the running statistics: running = (1 - momentum) * running + momentum *
// batch, with the unbiased variance (count / (count - 1)) for running_var, as
// PyTorch does. Inference normalises with the running statistics. Sums run in
// float within a plane (vectorised) and in double across planes.
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>

#include "joule/nn.hpp"
#include "nn/layers_internal.hpp"

namespace joule {
namespace {

constexpr std::int64_t kParallelMinElements = 1 << 15;

class BatchNormLayer final : public Layer {
 public:
  BatchNormLayer(std::int64_t features, bool spatial, float momentum, float eps)
      : features_(features), spatial_(spatial), momentum_(momentum), eps_(eps) {
    gamma_ = {"gamma", Tensor({features_}), Tensor({features_})};
    gamma_.value.Fill(1.0f);
    beta_ = {"beta", Tensor({features_}), Tensor({features_})};
    running_mean_ = Tensor({features_});
    running_var_ = Tensor({features_});
    running_var_.Fill(1.0f);
    mean_ = Tensor({features_});
    inv_std_ = Tensor({features_});
  }

  std::string type() const override { return spatial_ ? "BatchNorm2d" : "BatchNorm1d"; }
  nlohmann::json config() const override {
    return {{"features", features_}, {"momentum", momentum_}, {"eps", eps_}};
  }

  const Tensor& Forward(const Tensor& x, bool training) override {
    CheckInput(x);
    batch_ = x.dim(0);
    inner_ = spatial_ ? x.dim(2) * x.dim(3) : 1;
    const std::int64_t count = batch_ * inner_;
    if (training && count < 2) {
      throw Error(Describe() + ": training needs more than one value per " + Unit() +
                  " to estimate a variance, got input " + ShapeString(x.shape()) +
                  "; use a batch size > 1");
    }
    training_ = training;
    y_.Resize(x.shape());
    // Inference writes y only; xhat (needed by Backward alone) is then made
    // from the input on demand. Writing both doubled this layer's memory
    // traffic, and it was the CNN's costliest op at inference.
    xhat_ready_ = training;
    x_ = x;
    if (training) xhat_.Resize(x.shape());
    const float* px = x.f32();
#pragma omp parallel for if (x.numel() >= kParallelMinElements)
    for (std::int64_t c = 0; c < features_; ++c) {
      double mean, var;
      if (training) {
        BatchMoments(px, c, &mean, &var);
        const double unbiased = var * static_cast<double>(count) / static_cast<double>(count - 1);
        running_mean_.f32()[c] =
            static_cast<float>((1.0 - momentum_) * running_mean_.f32()[c] + momentum_ * mean);
        running_var_.f32()[c] =
            static_cast<float>((1.0 - momentum_) * running_var_.f32()[c] + momentum_ * unbiased);
      } else {
        mean = running_mean_.f32()[c];
        var = running_var_.f32()[c];
      }
      mean_.f32()[c] = static_cast<float>(mean);
      inv_std_.f32()[c] = static_cast<float>(1.0 / std::sqrt(var + eps_));
      Normalize(px, c);
    }
    have_forward_ = true;
    return y_;
  }

  const Tensor& Backward(const Tensor& dy) override {
    if (!have_forward_) throw Error(Describe() + ": Backward called before Forward");
    if (dy.shape() != y_.shape() || dy.dtype() != DType::kF32) {
      throw Error(Describe() + ": Backward expects f32 dy of the output's shape " +
                  ShapeString(y_.shape()) + ", got " + ShapeString(dy.shape()) + " " +
                  DTypeName(dy.dtype()));
    }
    if (input_grad_needed_) dx_.Resize(dy.shape());
    if (!xhat_ready_) MakeXhat();
    const float* pdy = dy.f32();
#pragma omp parallel for if (dy.numel() >= kParallelMinElements)
    for (std::int64_t c = 0; c < features_; ++c) {
      double sum_dy = 0.0, sum_dy_xhat = 0.0;
      for (std::int64_t n = 0; n < batch_; ++n) {
        const std::int64_t at = (n * features_ + c) * inner_;
        const float* g = pdy + at;
        const float* xh = xhat_.f32() + at;
        float a = 0.0f, b = 0.0f;
#pragma omp simd reduction(+ : a, b)
        for (std::int64_t i = 0; i < inner_; ++i) {
          a += g[i];
          b += g[i] * xh[i];
        }
        sum_dy += a;
        sum_dy_xhat += b;
      }
      beta_.grad.f32()[c] = static_cast<float>(sum_dy);
      gamma_.grad.f32()[c] = static_cast<float>(sum_dy_xhat);
      if (input_grad_needed_) InputGrad(pdy, c, sum_dy, sum_dy_xhat);
    }
    return input_grad_needed_ ? dx_ : no_grad_;
  }

  std::vector<Parameter*> Parameters() override { return {&gamma_, &beta_}; }
  std::vector<std::pair<std::string, Tensor*>> Buffers() override {
    return {{"running_mean", &running_mean_}, {"running_var", &running_var_}};
  }

 private:
  std::string Describe() const { return type() + "(" + std::to_string(features_) + ")"; }
  const char* Unit() const { return spatial_ ? "channel" : "feature"; }

  void CheckInput(const Tensor& x) const {
    const int rank = spatial_ ? 4 : 2;
    if (x.rank() != rank || x.dtype() != DType::kF32 || x.dim(1) != features_) {
      throw Error(Describe() + ": input must be f32 " +
                  (spatial_ ? "[N, " + std::to_string(features_) + ", H, W]"
                            : "[N, " + std::to_string(features_) + "]") +
                  ", got " + ShapeString(x.shape()) + " " + DTypeName(x.dtype()) +
                  "; check the previous layer's output");
    }
  }

  // Mean and biased variance of channel c over the batch (two passes: the
  // one-pass formula loses everything when |mean| >> std).
  void BatchMoments(const float* px, std::int64_t c, double* mean, double* var) const {
    double sum = 0.0;
    for (std::int64_t n = 0; n < batch_; ++n) {
      const float* p = px + (n * features_ + c) * inner_;
      float s = 0.0f;
#pragma omp simd reduction(+ : s)
      for (std::int64_t i = 0; i < inner_; ++i) s += p[i];
      sum += s;
    }
    const double count = static_cast<double>(batch_ * inner_);
    *mean = sum / count;
    const float m = static_cast<float>(*mean);
    double squares = 0.0;
    for (std::int64_t n = 0; n < batch_; ++n) {
      const float* p = px + (n * features_ + c) * inner_;
      float s = 0.0f;
#pragma omp simd reduction(+ : s)
      for (std::int64_t i = 0; i < inner_; ++i) s += (p[i] - m) * (p[i] - m);
      squares += s;
    }
    *var = squares / count;
  }

  // xhat = (x - mean) * inv_std and y = gamma * xhat + beta for channel c;
  // at inference y only, in the same arithmetic.
  void Normalize(const float* px, std::int64_t c) {
    const float m = mean_.f32()[c], k = inv_std_.f32()[c];
    const float g = gamma_.value.f32()[c], b = beta_.value.f32()[c];
    if (!training_) {
      for (std::int64_t n = 0; n < batch_; ++n) {
        const std::int64_t at = (n * features_ + c) * inner_;
        const float* p = px + at;
        float* py = y_.f32() + at;
#pragma omp simd
        for (std::int64_t i = 0; i < inner_; ++i) py[i] = g * ((p[i] - m) * k) + b;
      }
      return;
    }
    for (std::int64_t n = 0; n < batch_; ++n) {
      const std::int64_t at = (n * features_ + c) * inner_;
      const float* p = px + at;
      float* xh = xhat_.f32() + at;
      float* py = y_.f32() + at;
#pragma omp simd
      for (std::int64_t i = 0; i < inner_; ++i) {
        xh[i] = (p[i] - m) * k;
        py[i] = g * xh[i] + b;
      }
    }
  }

  // xhat of the last inference Forward, from its input, for Backward.
  void MakeXhat() {
    xhat_.Resize(x_.shape());
    const float* px = x_.f32();
    for (std::int64_t c = 0; c < features_; ++c) {
      const float m = mean_.f32()[c], k = inv_std_.f32()[c];
      for (std::int64_t n = 0; n < batch_; ++n) {
        const std::int64_t at = (n * features_ + c) * inner_;
        for (std::int64_t i = 0; i < inner_; ++i) xhat_.f32()[at + i] = (px[at + i] - m) * k;
      }
    }
    xhat_ready_ = true;
  }

  // dx for channel c. Training: the batch statistics depend on x, giving
  // dx = gamma * inv_std * (dy - mean(dy) - xhat * mean(dy * xhat));
  // inference: the statistics are constants, dx = gamma * inv_std * dy.
  void InputGrad(const float* pdy, std::int64_t c, double sum_dy, double sum_dy_xhat) {
    const float k = gamma_.value.f32()[c] * inv_std_.f32()[c];
    const double count = static_cast<double>(batch_ * inner_);
    const float mean_dy = training_ ? static_cast<float>(sum_dy / count) : 0.0f;
    const float mean_dy_xhat = training_ ? static_cast<float>(sum_dy_xhat / count) : 0.0f;
    for (std::int64_t n = 0; n < batch_; ++n) {
      const std::int64_t at = (n * features_ + c) * inner_;
      const float* g = pdy + at;
      const float* xh = xhat_.f32() + at;
      float* dx = dx_.f32() + at;
#pragma omp simd
      for (std::int64_t i = 0; i < inner_; ++i) dx[i] = k * (g[i] - mean_dy - xh[i] * mean_dy_xhat);
    }
  }

  std::int64_t features_;
  bool spatial_;
  float momentum_, eps_;
  Parameter gamma_, beta_;
  Tensor running_mean_, running_var_;
  bool have_forward_ = false;
  bool training_ = false;  // mode of the last Forward
  std::int64_t batch_ = 0, inner_ = 0;
  Tensor mean_, inv_std_;  // per channel, as used by the last Forward
  Tensor xhat_, y_, dx_;
  Tensor x_;  // the last Forward's input (aliased, not copied)
  bool xhat_ready_ = false;
  Tensor no_grad_;  // stays empty: the dx returned when input_grad_needed() is off
};

std::unique_ptr<Layer> BatchNormFromConfig(const std::string& name, bool spatial,
                                           const nlohmann::json& config) {
  nn_internal::CheckConfigKeys(name, config, {"features", "momentum", "eps"});
  return MakeBatchNorm(nn_internal::ConfigInt(name, config, "features", 1, std::int64_t{1} << 24),
                       spatial,
                       static_cast<float>(nn_internal::ConfigNumber(name, config, "momentum")),
                       static_cast<float>(nn_internal::ConfigNumber(name, config, "eps")));
}

}  // namespace

std::unique_ptr<Layer> MakeBatchNorm(std::int64_t features, bool spatial, float momentum,
                                     float eps) {
  const char* name = spatial ? "BatchNorm2d" : "BatchNorm1d";
  if (features < 1) {
    throw Error(std::string(name) + ": features must be >= 1, got " + std::to_string(features));
  }
  if (!(momentum >= 0.0f && momentum <= 1.0f)) {
    throw Error(std::string(name) + ": momentum must be in [0, 1], got " +
                std::to_string(momentum));
  }
  if (!(eps > 0.0f && std::isfinite(eps))) {
    throw Error(std::string(name) + ": eps must be a positive finite number, got " +
                std::to_string(eps));
  }
  return std::make_unique<BatchNormLayer>(features, spatial, momentum, eps);
}

std::unique_ptr<Layer> BatchNorm1dFromConfig(const nlohmann::json& config) {
  return BatchNormFromConfig("BatchNorm1d", false, config);
}

std::unique_ptr<Layer> BatchNorm2dFromConfig(const nlohmann::json& config) {
  return BatchNormFromConfig("BatchNorm2d", true, config);
}

}  // namespace joule
