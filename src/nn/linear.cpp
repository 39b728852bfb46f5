// Linear: y = x W^T + b with W [out, in], as PyTorch stores it, so weights
// read the same from either side.
#include "joule/nn.hpp"
#include "nn/layers_internal.hpp"

namespace joule {
namespace {

// db = column sums of dy [rows, cols], added row by row (the order a test's
// reference uses too). __restrict: without it GCC guards the vectorised row
// loop with an overlap check between db and dy.
void ColumnSums(const float* __restrict g, std::int64_t rows, std::int64_t cols,
                float* __restrict db) {
  for (std::int64_t j = 0; j < cols; ++j) db[j] = 0.0f;
  for (std::int64_t i = 0; i < rows; ++i) {
    const float* __restrict row = g + i * cols;
#pragma omp simd
    for (std::int64_t j = 0; j < cols; ++j) db[j] += row[j];
  }
}

class Linear : public Layer {
 public:
  Linear(std::int64_t in, std::int64_t out)
      : in_(in),
        out_(out),
        weight_{"weight", Tensor({out, in}), Tensor({out, in})},
        bias_{"bias", Tensor({out}), Tensor({out})} {}

  std::string type() const override { return "Linear"; }
  nlohmann::json config() const override { return {{"in", in_}, {"out", out_}}; }
  std::vector<Parameter*> Parameters() override { return {&weight_, &bias_}; }
  void SetPrecision(Precision p) override { precision_ = p; }

  // Kaiming-uniform (ReLU follows every hidden Linear); bias starts at zero.
  void InitKaiming(Rng& rng) { nn_internal::InitKaimingUniform(weight_.value, in_, rng); }

  const Tensor& Forward(const Tensor& x, bool /*training*/) override {
    x2d_ = Flat(x);
    y_.Resize({x2d_.dim(0), out_});
    if (precision_ == Precision::kBF16) {
      ToBF16(x2d_, x_bf16_);
      ToBF16(weight_.value, w_bf16_);
      Matmul(x_bf16_, w_bf16_, bias_.value, y_, {.trans_b = true});
    } else {
      Matmul(x2d_, weight_.value, bias_.value, y_, {.trans_b = true});
    }
    return y_;
  }

  const Tensor& Backward(const Tensor& dy) override {
    std::int64_t batch = dy.dim(0);
    ColumnSums(dy.f32(), batch, out_, bias_.grad.f32());

    static const Tensor kNoBias;
    if (precision_ == Precision::kBF16) {
      ToBF16(dy, dy_bf16_);
      Matmul(dy_bf16_, x_bf16_, kNoBias, weight_.grad, {.trans_a = true});
      if (input_grad_needed_) {
        dx_.Resize({batch, in_});
        Matmul(dy_bf16_, w_bf16_, kNoBias, dx_);
      }
    } else {
      Matmul(dy, x2d_, kNoBias, weight_.grad, {.trans_a = true});
      if (input_grad_needed_) {
        dx_.Resize({batch, in_});
        Matmul(dy, weight_.value, kNoBias, dx_);
      }
    }
    if (!input_grad_needed_) {
      dx_ = Tensor();
      return dx_;
    }
    // dx keeps the input's shape (a Linear after a Flatten-free conv stack).
    if (x_shape_.size() != 2) dx_view_ = dx_.Reshape(x_shape_);
    return x_shape_.size() != 2 ? dx_view_ : dx_;
  }

 private:
  // Accepts [B, in] or [B, ...] with product `in` (an implicit flatten).
  Tensor Flat(const Tensor& x) {
    x_shape_ = x.shape();
    if (x.rank() < 2 || x.numel() / x.dim(0) != in_) {
      throw Error("Linear(" + std::to_string(in_) + " -> " + std::to_string(out_) + "): input " +
                  ShapeString(x.shape()) + " does not have " + std::to_string(in_) +
                  " features per row");
    }
    return x.rank() == 2 ? x : x.Reshape({x.dim(0), in_});
  }

  static void ToBF16(const Tensor& src, Tensor& dst) {
    dst.Resize(src.shape(), DType::kBF16);
    ConvertF32ToBF16(src.f32(), dst.data<BF16>(), src.numel());
  }

  std::int64_t in_, out_;
  Parameter weight_, bias_;
  Precision precision_ = Precision::kF32;
  Shape x_shape_;
  Tensor x2d_, y_, dx_, dx_view_;
  Tensor x_bf16_, w_bf16_, dy_bf16_;
};

}  // namespace

std::unique_ptr<Layer> MakeLinear(std::int64_t in, std::int64_t out, Rng& rng) {
  if (in <= 0 || out <= 0) {
    throw Error("Linear: sizes must be positive, got in=" + std::to_string(in) +
                " out=" + std::to_string(out));
  }
  auto layer = std::make_unique<Linear>(in, out);
  layer->InitKaiming(rng);
  return layer;
}

std::unique_ptr<Layer> LinearFromConfig(const nlohmann::json& config) {
  nn_internal::CheckConfigKeys("Linear", config, {"in", "out"});
  Rng rng(kConfigInitSeed);  // weights are loaded from the model file afterwards
  return MakeLinear(nn_internal::ConfigInt("Linear", config, "in", 1, 1 << 30),
                    nn_internal::ConfigInt("Linear", config, "out", 1, 1 << 30), rng);
}

}  // namespace joule
