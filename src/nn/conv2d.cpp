// Conv2d: NCHW activations, OIHW weights, square kernel, stride and padding,
// always with a bias. The arithmetic is the tensor layer's Conv2d* kernels
// (oneDNN); this file owns the buffers, the bf16 conversions and the checks.
#include <cstdint>
#include <memory>
#include <string>

#include "joule/nn.hpp"
#include "nn/layers_internal.hpp"

namespace joule {
namespace {

// dst <- src rounded to bf16, reusing dst's storage once the shape settles.
void ToBF16(const Tensor& src, Tensor& dst) {
  dst.Resize(src.shape(), DType::kBF16);
  ConvertF32ToBF16(src.f32(), dst.data<BF16>(), src.numel());
}

class Conv2dLayer final : public Layer {
 public:
  Conv2dLayer(std::int64_t in_channels, std::int64_t out_channels, int kernel, int stride,
              int padding, Rng& rng)
      : in_(in_channels), out_(out_channels), kernel_(kernel), params_{stride, padding} {
    weight_.name = "weight";
    weight_.value = Tensor({out_, in_, kernel_, kernel_});
    weight_.grad = Tensor(weight_.value.shape());
    nn_internal::InitKaimingUniform(weight_.value, in_ * kernel_ * kernel_, rng);
    // He/Kaiming for ReLU with a zero bias, as Linear does (PyTorch's
    // kaiming_uniform_(nonlinearity='relu') and zeros_), rather than
    // nn.Conv2d's own default (bound 1/sqrt(fan_in), random bias), which
    // shrinks activations layer by layer in a ReLU stack.
    bias_.name = "bias";
    bias_.value = Tensor({out_});
    bias_.grad = Tensor({out_});
  }

  std::string type() const override { return "Conv2d"; }

  nlohmann::json config() const override {
    return {{"in_channels", in_},
            {"out_channels", out_},
            {"kernel", kernel_},
            {"stride", params_.stride},
            {"padding", params_.padding}};
  }

  const Tensor& Forward(const Tensor& x, bool /*training*/) override {
    CheckInput(x);
    y_.Resize(Conv2dOutputShape(x.shape(), weight_.value.shape(), params_));
    forward_precision_ = precision_;
    if (precision_ == Precision::kBF16) {
      // Converted once here and reused by Backward: the weights cannot change
      // in between (the optimizer steps after Backward).
      ToBF16(x, x_bf16_);
      ToBF16(weight_.value, w_bf16_);
      x_ = Tensor();
      Conv2dForward(x_bf16_, w_bf16_, bias_.value, y_, params_);
    } else {
      // Shares x's storage rather than copying it: the caller keeps x
      // unchanged until Backward, as every layer that needs its input does.
      x_ = x;
      Conv2dForward(x, weight_.value, bias_.value, y_, params_);
    }
    x_shape_ = x.shape();
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
    const bool bf16 = forward_precision_ == Precision::kBF16;
    const Tensor* dy_k = &dy;
    if (bf16) {
      ToBF16(dy, dy_bf16_);
      dy_k = &dy_bf16_;
    }
    Conv2dBackwardWeights(bf16 ? x_bf16_ : x_, *dy_k, weight_.grad, &bias_.grad, params_);
    if (!input_grad_needed_) return no_grad_;
    dx_.Resize(x_shape_);
    Conv2dBackwardData(*dy_k, bf16 ? w_bf16_ : weight_.value, dx_, params_);
    return dx_;
  }

  std::vector<Parameter*> Parameters() override { return {&weight_, &bias_}; }
  void SetPrecision(Precision p) override { precision_ = p; }

 private:
  std::string Describe() const {
    return "Conv2d(" + std::to_string(in_) + "->" + std::to_string(out_) + ", kernel " +
           std::to_string(kernel_) + ", stride " + std::to_string(params_.stride) + ", padding " +
           std::to_string(params_.padding) + ")";
  }

  void CheckInput(const Tensor& x) const {
    if (x.rank() != 4 || x.dtype() != DType::kF32 || x.dim(1) != in_) {
      throw Error(Describe() + ": input must be f32 [N, " + std::to_string(in_) + ", H, W], got " +
                  ShapeString(x.shape()) + " " + DTypeName(x.dtype()) +
                  "; check the previous layer's output");
    }
    const std::int64_t span = 2 * params_.padding;
    if (x.dim(2) + span < kernel_ || x.dim(3) + span < kernel_) {
      throw Error(Describe() + ": input " + ShapeString(x.shape()) +
                  " is smaller than the kernel even with padding; use a smaller kernel or "
                  "fewer pooling layers before this one");
    }
  }

  std::int64_t in_, out_;
  std::int64_t kernel_;
  Conv2dParams params_;
  Parameter weight_, bias_;
  Precision precision_ = Precision::kF32;
  Precision forward_precision_ = Precision::kF32;
  bool have_forward_ = false;
  Shape x_shape_;
  Tensor x_;                          // f32 path: the last input (shared storage)
  Tensor x_bf16_, w_bf16_, dy_bf16_;  // bf16 path: rounded operands
  Tensor y_, dx_;
  Tensor no_grad_;  // stays empty: the dx returned when input_grad_needed() is off
};

}  // namespace

std::unique_ptr<Layer> MakeConv2d(std::int64_t in_channels, std::int64_t out_channels, int kernel,
                                  int stride, int padding, Rng& rng) {
  if (in_channels < 1 || out_channels < 1 || kernel < 1 || stride < 1 || padding < 0) {
    throw Error(
        "Conv2d: need in_channels, out_channels, kernel, stride >= 1 and padding >= 0, "
        "got in_channels " +
        std::to_string(in_channels) + ", out_channels " + std::to_string(out_channels) +
        ", kernel " + std::to_string(kernel) + ", stride " + std::to_string(stride) + ", padding " +
        std::to_string(padding));
  }
  return std::make_unique<Conv2dLayer>(in_channels, out_channels, kernel, stride, padding, rng);
}

std::unique_ptr<Layer> Conv2dFromConfig(const nlohmann::json& config) {
  const std::string name = "Conv2d";
  nn_internal::CheckConfigKeys(name, config,
                               {"in_channels", "out_channels", "kernel", "stride", "padding"});
  constexpr std::int64_t kMaxChannels = std::int64_t{1} << 24, kMaxWindow = 1 << 16;
  Rng rng(kConfigInitSeed);
  return MakeConv2d(
      nn_internal::ConfigInt(name, config, "in_channels", 1, kMaxChannels),
      nn_internal::ConfigInt(name, config, "out_channels", 1, kMaxChannels),
      static_cast<int>(nn_internal::ConfigInt(name, config, "kernel", 1, kMaxWindow)),
      static_cast<int>(nn_internal::ConfigInt(name, config, "stride", 1, kMaxWindow)),
      static_cast<int>(nn_internal::ConfigInt(name, config, "padding", 0, kMaxWindow)), rng);
}

}  // namespace joule
