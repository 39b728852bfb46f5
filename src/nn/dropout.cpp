// Inverted dropout: in training each element is zeroed with probability p and
// the survivors scaled by 1/(1-p), so inference is the identity. The masks
// come from the layer's own Rng, seeded at construction: the same seed gives
// the same sequence of masks, hence the same training run.
#include <cstdint>
#include <memory>
#include <string>

#include "joule/nn.hpp"
#include "nn/layers_internal.hpp"

namespace joule {
namespace {

constexpr std::int64_t kParallelMinElements = 1 << 16;

class DropoutLayer final : public Layer {
 public:
  DropoutLayer(float p, std::uint64_t seed) : p_(p), seed_(seed), rng_(seed) {}

  std::string type() const override { return "Dropout"; }
  nlohmann::json config() const override { return {{"p", p_}, {"seed", seed_}}; }

  const Tensor& Forward(const Tensor& x, bool training) override {
    if (x.dtype() != DType::kF32 || x.rank() == 0) {
      throw Error("Dropout: input must be an f32 tensor of rank >= 1, got " +
                  ShapeString(x.shape()) + " " + DTypeName(x.dtype()));
    }
    y_.Resize(x.shape());
    masked_ = training && p_ > 0.0f;
    have_forward_ = true;
    if (!masked_) {
      y_.CopyFrom(x);
      return y_;
    }
    DrawMask(x.shape());
    const float* px = x.f32();
    const float* pm = mask_.f32();
    float* py = y_.f32();
    const std::int64_t n = x.numel();
#pragma omp parallel for simd if (n >= kParallelMinElements)
    for (std::int64_t i = 0; i < n; ++i) py[i] = px[i] * pm[i];
    return y_;
  }

  const Tensor& Backward(const Tensor& dy) override {
    if (!have_forward_) throw Error("Dropout: Backward called before Forward");
    if (dy.shape() != y_.shape() || dy.dtype() != DType::kF32) {
      throw Error("Dropout: Backward expects f32 dy of the output's shape " +
                  ShapeString(y_.shape()) + ", got " + ShapeString(dy.shape()) + " " +
                  DTypeName(dy.dtype()));
    }
    if (!input_grad_needed_) return no_grad_;
    dx_.Resize(dy.shape());
    if (!masked_) {
      dx_.CopyFrom(dy);
      return dx_;
    }
    const float* pdy = dy.f32();
    const float* pm = mask_.f32();
    float* pdx = dx_.f32();
    const std::int64_t n = dy.numel();
#pragma omp parallel for simd if (n >= kParallelMinElements)
    for (std::int64_t i = 0; i < n; ++i) pdx[i] = pdy[i] * pm[i];
    return dx_;
  }

 private:
  // mask_[i] = 0 with probability p, else 1/(1-p). Serial: the mask depends
  // only on the seed and the number of elements drawn so far, never on the
  // thread count. Each 64-bit draw decides two elements (32 bits each).
  void DrawMask(const Shape& shape) {
    mask_.Resize(shape);
    const std::int64_t n = mask_.numel();
    float* pm = mask_.f32();
    const auto threshold = static_cast<std::uint64_t>(static_cast<double>(p_) * 4294967296.0);
    const float keep_scale = 1.0f / (1.0f - p_);
    for (std::int64_t i = 0; i < n; i += 2) {
      const std::uint64_t bits = rng_.NextU64();
      pm[i] = (bits & 0xffffffffu) < threshold ? 0.0f : keep_scale;
      if (i + 1 < n) pm[i + 1] = (bits >> 32) < threshold ? 0.0f : keep_scale;
    }
  }

  float p_;
  std::uint64_t seed_;
  Rng rng_;
  bool have_forward_ = false;
  bool masked_ = false;  // the last Forward applied a mask (training, p > 0)
  Tensor mask_, y_, dx_;
  Tensor no_grad_;  // stays empty: the dx returned when input_grad_needed() is off
};

}  // namespace

std::unique_ptr<Layer> MakeDropout(float p, std::uint64_t seed) {
  if (!(p >= 0.0f && p < 1.0f)) {
    throw Error("Dropout: p must be in [0, 1), got " + std::to_string(p));
  }
  return std::make_unique<DropoutLayer>(p, seed);
}

std::unique_ptr<Layer> DropoutFromConfig(const nlohmann::json& config) {
  nn_internal::CheckConfigKeys("Dropout", config, {"p", "seed"});
  return MakeDropout(static_cast<float>(nn_internal::ConfigNumber("Dropout", config, "p")),
                     nn_internal::ConfigU64("Dropout", config, "seed"));
}

}  // namespace joule
