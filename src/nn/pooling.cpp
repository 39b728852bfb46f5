// MaxPool2d and AvgPool2d over NCHW, square window, no padding, floor output
// size: OH = (H - kernel) / stride + 1. Plain loops over (n, c) planes; the
// planes are independent, so they are split across OpenMP threads.
#include <climits>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>

#include "joule/nn.hpp"
#include "nn/layers_internal.hpp"

namespace joule {
namespace {

// Below this many input elements a parallel region costs more than it saves.
constexpr std::int64_t kParallelMinElements = 1 << 15;

class Pool2dBase : public Layer {
 public:
  Pool2dBase(int kernel, int stride) : kernel_(kernel), stride_(stride) {}

  nlohmann::json config() const override { return {{"kernel", kernel_}, {"stride", stride_}}; }

 protected:
  std::string Describe() const {
    return type() + "(kernel " + std::to_string(kernel_) + ", stride " + std::to_string(stride_) +
           ")";
  }

  // Checks x and records the geometry of this Forward.
  void Prepare(const Tensor& x) {
    if (x.rank() != 4 || x.dtype() != DType::kF32) {
      throw Error(Describe() + ": input must be f32 [N, C, H, W], got " + ShapeString(x.shape()) +
                  " " + DTypeName(x.dtype()) + "; check the previous layer's output");
    }
    if (x.dim(2) < kernel_ || x.dim(3) < kernel_) {
      throw Error(Describe() + ": input " + ShapeString(x.shape()) +
                  " is smaller than the window; use a smaller kernel or remove a pooling layer");
    }
    if (x.dim(2) * x.dim(3) > INT32_MAX) {
      throw Error(Describe() + ": input planes of " + ShapeString(x.shape()) +
                  " exceed 2^31 elements");
    }
    x_shape_ = x.shape();
    planes_ = x.dim(0) * x.dim(1);
    h_ = x.dim(2);
    w_ = x.dim(3);
    oh_ = (h_ - kernel_) / stride_ + 1;
    ow_ = (w_ - kernel_) / stride_ + 1;
    y_.Resize({x.dim(0), x.dim(1), oh_, ow_});
    have_forward_ = true;
  }

  void CheckDy(const Tensor& dy) const {
    if (!have_forward_) throw Error(Describe() + ": Backward called before Forward");
    if (dy.shape() != y_.shape() || dy.dtype() != DType::kF32) {
      throw Error(Describe() + ": Backward expects f32 dy of the output's shape " +
                  ShapeString(y_.shape()) + ", got " + ShapeString(dy.shape()) + " " +
                  DTypeName(dy.dtype()));
    }
  }

  bool Parallel() const { return planes_ * h_ * w_ >= kParallelMinElements && planes_ > 1; }

  std::int64_t kernel_, stride_;
  bool have_forward_ = false;
  Shape x_shape_;
  std::int64_t planes_ = 0, h_ = 0, w_ = 0, oh_ = 0, ow_ = 0;
  Tensor y_, dx_;
  Tensor no_grad_;  // stays empty: the dx returned when input_grad_needed() is off
};

class MaxPool2dLayer final : public Pool2dBase {
 public:
  using Pool2dBase::Pool2dBase;
  std::string type() const override { return "MaxPool2d"; }

  const Tensor& Forward(const Tensor& x, bool /*training*/) override {
    Prepare(x);
    // Where each output's maximum came from, as an offset inside its input
    // plane: Backward routes dy there without looking at x again.
    argmax_.Resize(y_.shape(), DType::kS32);
    const float* px = x.f32();
    float* py = y_.f32();
    std::int32_t* pa = argmax_.data<std::int32_t>();
    if (kernel_ == 2 && stride_ == 2) {
#pragma omp parallel for if (Parallel())
      for (std::int64_t p = 0; p < planes_; ++p) {
        const std::int64_t o = p * oh_ * ow_;
        Pool2x2(px + p * h_ * w_, py + o, pa + o);
      }
      return y_;
    }
#pragma omp parallel for if (Parallel())
    for (std::int64_t p = 0; p < planes_; ++p) {
      const float* xp = px + p * h_ * w_;
      for (std::int64_t oy = 0; oy < oh_; ++oy) {
        for (std::int64_t ox = 0; ox < ow_; ++ox) {
          std::int64_t best_at = oy * stride_ * w_ + ox * stride_;
          float best = xp[best_at];
          for (std::int64_t ky = 0; ky < kernel_; ++ky) {
            for (std::int64_t kx = 0; kx < kernel_; ++kx) {
              const std::int64_t at = (oy * stride_ + ky) * w_ + ox * stride_ + kx;
              TakeIfGreater(xp[at], at, best, best_at);
            }
          }
          std::int64_t o = (p * oh_ + oy) * ow_ + ox;
          py[o] = best;
          pa[o] = static_cast<std::int32_t>(best_at);
        }
      }
    }
    return y_;
  }

  const Tensor& Backward(const Tensor& dy) override {
    CheckDy(dy);
    if (!input_grad_needed_) return no_grad_;
    dx_.Resize(x_shape_);
    dx_.Zero();
    const float* pdy = dy.f32();
    const std::int32_t* pa = argmax_.data<std::int32_t>();
    float* pdx = dx_.f32();
    const std::int64_t outputs_per_plane = oh_ * ow_;
#pragma omp parallel for if (Parallel())
    for (std::int64_t p = 0; p < planes_; ++p) {
      float* dxp = pdx + p * h_ * w_;
      // Overlapping windows (stride < kernel) can share a maximum: accumulate.
      for (std::int64_t o = p * outputs_per_plane; o < (p + 1) * outputs_per_plane; ++o) {
        dxp[pa[o]] += pdy[o];
      }
    }
    return dx_;
  }

 private:
  // Ties keep the first maximum; a NaN wins and propagates, as in PyTorch, so
  // a diverged model is not silently masked.
  template <class Index>
  static void TakeIfGreater(float v, Index at, float& best, Index& best_at) {
    const bool take = v > best || v != v;
    best = take ? v : best;
    best_at = take ? at : best_at;
  }

  // The CNN's pooling (kernel 2, stride 2) on one plane, in the generic loop's
  // visiting order: the generic loop's index arithmetic per element made
  // pooling 43% of the CNN's inference time.
  void Pool2x2(const float* xp, float* yp, std::int32_t* ap) const {
    const auto w = static_cast<std::int32_t>(w_);
    for (std::int64_t oy = 0; oy < oh_; ++oy) {
      const auto row = static_cast<std::int32_t>(2 * oy) * w;
      const float* r0 = xp + row;
      const float* r1 = r0 + w;
      float* y = yp + oy * ow_;
      std::int32_t* a = ap + oy * ow_;
      for (std::int32_t ox = 0; ox < static_cast<std::int32_t>(ow_); ++ox) {
        const std::int32_t x0 = 2 * ox;
        float best = r0[x0];
        std::int32_t best_at = row + x0;
        TakeIfGreater(r0[x0 + 1], row + x0 + 1, best, best_at);
        TakeIfGreater(r1[x0], row + w + x0, best, best_at);
        TakeIfGreater(r1[x0 + 1], row + w + x0 + 1, best, best_at);
        y[ox] = best;
        a[ox] = best_at;
      }
    }
  }

  Tensor argmax_;
};

class AvgPool2dLayer final : public Pool2dBase {
 public:
  using Pool2dBase::Pool2dBase;
  std::string type() const override { return "AvgPool2d"; }

  const Tensor& Forward(const Tensor& x, bool /*training*/) override {
    Prepare(x);
    const float* px = x.f32();
    float* py = y_.f32();
    const float scale = 1.0f / static_cast<float>(kernel_ * kernel_);
#pragma omp parallel for if (Parallel())
    for (std::int64_t p = 0; p < planes_; ++p) {
      const float* xp = px + p * h_ * w_;
      float* yp = py + p * oh_ * ow_;
      for (std::int64_t oy = 0; oy < oh_; ++oy) {
        for (std::int64_t ox = 0; ox < ow_; ++ox) {
          float sum = 0.0f;
          for (std::int64_t ky = 0; ky < kernel_; ++ky) {
            const float* row = xp + (oy * stride_ + ky) * w_ + ox * stride_;
            for (std::int64_t kx = 0; kx < kernel_; ++kx) sum += row[kx];
          }
          yp[oy * ow_ + ox] = sum * scale;
        }
      }
    }
    return y_;
  }

  const Tensor& Backward(const Tensor& dy) override {
    CheckDy(dy);
    if (!input_grad_needed_) return no_grad_;
    dx_.Resize(x_shape_);
    dx_.Zero();
    const float* pdy = dy.f32();
    float* pdx = dx_.f32();
    const float scale = 1.0f / static_cast<float>(kernel_ * kernel_);
#pragma omp parallel for if (Parallel())
    for (std::int64_t p = 0; p < planes_; ++p) {
      const float* dyp = pdy + p * oh_ * ow_;
      float* dxp = pdx + p * h_ * w_;
      for (std::int64_t oy = 0; oy < oh_; ++oy) {
        for (std::int64_t ox = 0; ox < ow_; ++ox) {
          const float g = dyp[oy * ow_ + ox] * scale;
          for (std::int64_t ky = 0; ky < kernel_; ++ky) {
            float* row = dxp + (oy * stride_ + ky) * w_ + ox * stride_;
            for (std::int64_t kx = 0; kx < kernel_; ++kx) row[kx] += g;
          }
        }
      }
    }
    return dx_;
  }
};

void CheckPoolArgs(const char* name, int kernel, int stride) {
  if (kernel < 1 || stride < 1) {
    throw Error(std::string(name) + ": kernel and stride must be >= 1, got kernel " +
                std::to_string(kernel) + ", stride " + std::to_string(stride));
  }
}

std::pair<int, int> PoolConfig(const std::string& name, const nlohmann::json& config) {
  nn_internal::CheckConfigKeys(name, config, {"kernel", "stride"});
  constexpr std::int64_t kMaxWindow = 1 << 16;
  return {static_cast<int>(nn_internal::ConfigInt(name, config, "kernel", 1, kMaxWindow)),
          static_cast<int>(nn_internal::ConfigInt(name, config, "stride", 1, kMaxWindow))};
}

}  // namespace

std::unique_ptr<Layer> MakeMaxPool2d(int kernel, int stride) {
  CheckPoolArgs("MaxPool2d", kernel, stride);
  return std::make_unique<MaxPool2dLayer>(kernel, stride);
}

std::unique_ptr<Layer> MakeAvgPool2d(int kernel, int stride) {
  CheckPoolArgs("AvgPool2d", kernel, stride);
  return std::make_unique<AvgPool2dLayer>(kernel, stride);
}

std::unique_ptr<Layer> MaxPool2dFromConfig(const nlohmann::json& config) {
  auto [kernel, stride] = PoolConfig("MaxPool2d", config);
  return MakeMaxPool2d(kernel, stride);
}

std::unique_ptr<Layer> AvgPool2dFromConfig(const nlohmann::json& config) {
  auto [kernel, stride] = PoolConfig("AvgPool2d", config);
  return MakeAvgPool2d(kernel, stride);
}

}  // namespace joule
