// int8 inference layers (QuantizeInput, QuantizedLinear) and the QAT layers
// (FakeQuantize, QatLinear). See joule/nn_quantized.hpp.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "joule/nn_quantized.hpp"
#include "nn/layers_internal.hpp"

namespace joule {
namespace quant {

U8Params ChooseU8Params(float lo, float hi) {
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  U8Params p;
  p.scale = std::max((hi - lo) / 255.0f, 1e-12f);
  p.zero_point = static_cast<std::int32_t>(std::clamp(std::nearbyint(-lo / p.scale), 0.0f, 255.0f));
  return p;
}

void QuantizeRowsS8(const Tensor& w, Tensor& q, Tensor& scales) {
  JOULE_ASSERT(w.rank() == 2 && w.dtype() == DType::kF32);
  const std::int64_t rows = w.dim(0), cols = w.dim(1);
  q.Resize(w.shape(), DType::kS8);
  scales.Resize({rows});
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = w.f32() + r * cols;
    float max_abs = 0;
    for (std::int64_t j = 0; j < cols; ++j) max_abs = std::max(max_abs, std::fabs(row[j]));
    const float scale = max_abs > 0 ? max_abs / 127.0f : 1.0f;
    scales.f32()[r] = scale;
    for (std::int64_t j = 0; j < cols; ++j) {
      const float v = std::clamp(std::nearbyint(row[j] / scale), -127.0f, 127.0f);
      q.data<std::int8_t>()[r * cols + j] = static_cast<std::int8_t>(v);
    }
  }
}

namespace {

Tensor Scalar(float v) { return Tensor::FromVector({1}, {v}); }
Tensor ScalarS32(std::int32_t v) {
  Tensor t({1}, DType::kS32);
  t.data<std::int32_t>()[0] = v;
  return t;
}
U8Params Read(const Tensor& scale, const Tensor& zero_point) {
  return {scale.f32()[0], zero_point.data<std::int32_t>()[0]};
}

// Reads rows of `features` values from x [B, ...] as a [B, features] view.
Tensor Rows(const std::string& who, const Tensor& x, DType dtype, std::int64_t features) {
  if (x.rank() < 2 || x.dtype() != dtype ||
      x.numel() / std::max<std::int64_t>(x.dim(0), 1) != features) {
    throw Error(who + ": input must be " + DTypeName(dtype) + " [batch, " +
                std::to_string(features) + "] (or [batch, ...] of that many features), got " +
                DTypeName(x.dtype()) + " " + ShapeString(x.shape()) +
                (dtype == DType::kU8 ? "; int8 models start with a QuantizeInput layer" : ""));
  }
  return x.rank() == 2 ? x : x.Reshape({x.dim(0), features});
}

[[noreturn]] void ThrowInferenceOnly(const std::string& type) {
  throw Error(type +
              ": Backward is not supported: int8 layers are for inference only; train "
              "the f32 model, or use quantization-aware training (PrepareQat, "
              "joule compress quantize --qat)");
}

class QuantizeInput final : public Layer {
 public:
  explicit QuantizeInput(U8Params p)
      : scale_(Scalar(p.scale)), zero_point_(ScalarS32(p.zero_point)) {}
  std::string type() const override { return "QuantizeInput"; }
  nlohmann::json config() const override { return nlohmann::json::object(); }
  std::vector<std::pair<std::string, Tensor*>> Buffers() override {
    return {{"scale", &scale_}, {"zero_point", &zero_point_}};
  }
  const Tensor& Forward(const Tensor& x, bool /*training*/) override {
    const U8Params p = Read(scale_, zero_point_);
    QuantizeU8(x, p.scale, p.zero_point, y_);
    return y_;
  }
  const Tensor& Backward(const Tensor&) override { ThrowInferenceOnly(type()); }

 private:
  Tensor scale_, zero_point_, y_;
};

class QuantizedLinear final : public Layer {
 public:
  QuantizedLinear(std::int64_t in, std::int64_t out, bool relu, bool output_u8)
      : in_(in),
        out_(out),
        relu_(relu),
        output_u8_(output_u8),
        weight_({out, in}, DType::kS8),
        weight_scale_({out}),
        bias_({out}),
        input_scale_(Scalar(1)),
        input_zero_point_(ScalarS32(0)),
        output_scale_(Scalar(1)),
        output_zero_point_(ScalarS32(0)) {
    weight_scale_.Fill(1);
  }

  std::string type() const override { return "QuantizedLinear"; }
  nlohmann::json config() const override {
    return {{"in", in_}, {"out", out_}, {"relu", relu_}, {"output", output_u8_ ? "u8" : "f32"}};
  }
  std::vector<std::pair<std::string, Tensor*>> Buffers() override {
    std::vector<std::pair<std::string, Tensor*>> b = {{"weight", &weight_},
                                                      {"weight_scale", &weight_scale_},
                                                      {"bias", &bias_},
                                                      {"input_scale", &input_scale_},
                                                      {"input_zero_point", &input_zero_point_}};
    if (output_u8_) {
      b.emplace_back("output_scale", &output_scale_);
      b.emplace_back("output_zero_point", &output_zero_point_);
    }
    return b;
  }

  const Tensor& Forward(const Tensor& x, bool /*training*/) override {
    Tensor x2d = Rows(Describe(), x, DType::kU8, in_);
    y_.Resize({x2d.dim(0), out_}, output_u8_ ? DType::kU8 : DType::kF32);
    Int8MatmulParams p;
    const U8Params in = Read(input_scale_, input_zero_point_);
    const U8Params out = Read(output_scale_, output_zero_point_);
    p.a_scale = in.scale;
    p.a_zero_point = in.zero_point;
    p.b_scales = weight_scale_;
    p.relu = relu_;
    p.c_scale = out.scale;
    p.c_zero_point = out.zero_point;
    MatmulInt8(x2d, weight_, bias_, y_, p);
    return y_;
  }
  const Tensor& Backward(const Tensor&) override { ThrowInferenceOnly(type()); }

  void Set(const Tensor& weight, const Tensor& weight_scale, const Tensor& bias, U8Params input,
           U8Params output) {
    weight_.CopyFrom(weight);
    weight_scale_.CopyFrom(weight_scale);
    bias_.CopyFrom(bias);
    input_scale_.f32()[0] = input.scale;
    input_zero_point_.data<std::int32_t>()[0] = input.zero_point;
    output_scale_.f32()[0] = output.scale;
    output_zero_point_.data<std::int32_t>()[0] = output.zero_point;
  }

 private:
  std::string Describe() const {
    return "QuantizedLinear(" + std::to_string(in_) + " -> " + std::to_string(out_) + ")";
  }

  std::int64_t in_, out_;
  bool relu_, output_u8_;
  Tensor weight_, weight_scale_, bias_;
  Tensor input_scale_, input_zero_point_, output_scale_, output_zero_point_;
  Tensor y_;
};

// Forward: the value the int8 model will see, scale * (q - zp) with q from
// the same f32 steps as QuantizeU8. Backward: the straight-through estimator,
// dL/dx = dL/dy where x is inside the representable range, 0 where it was
// clipped (the clipped output does not move with x).
class FakeQuantize final : public Layer {
 public:
  explicit FakeQuantize(U8Params p)
      : scale_(Scalar(p.scale)), zero_point_(ScalarS32(p.zero_point)) {}
  std::string type() const override { return "FakeQuantize"; }
  nlohmann::json config() const override { return nlohmann::json::object(); }
  std::vector<std::pair<std::string, Tensor*>> Buffers() override {
    return {{"scale", &scale_}, {"zero_point", &zero_point_}};
  }

  const Tensor& Forward(const Tensor& x, bool /*training*/) override {
    const U8Params p = Read(scale_, zero_point_);
    QuantizeU8(x, p.scale, p.zero_point, q_);
    y_.Resize(x.shape());
    const float lo = p.scale * static_cast<float>(0 - p.zero_point);
    const float hi = p.scale * static_cast<float>(255 - p.zero_point);
    pass_.resize(static_cast<std::size_t>(x.numel()));
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      y_.f32()[i] = p.scale * static_cast<float>(q_.data<std::uint8_t>()[i] - p.zero_point);
      pass_[static_cast<std::size_t>(i)] = x.f32()[i] >= lo && x.f32()[i] <= hi;
    }
    return y_;
  }

  const Tensor& Backward(const Tensor& dy) override {
    if (!input_grad_needed_) {
      dx_ = Tensor();
      return dx_;
    }
    if (dy.numel() != static_cast<std::int64_t>(pass_.size())) {
      throw Error("FakeQuantize: Backward expects dy of the last Forward's shape " +
                  ShapeString(y_.shape()) + ", got " + ShapeString(dy.shape()));
    }
    dx_.Resize(dy.shape());
    for (std::int64_t i = 0; i < dy.numel(); ++i) {
      dx_.f32()[i] = pass_[static_cast<std::size_t>(i)] ? dy.f32()[i] : 0.0f;
    }
    return dx_;
  }

 private:
  Tensor scale_, zero_point_, q_, y_, dx_;
  std::vector<std::uint8_t> pass_;
};

// Forward with w_q = scale * clamp(round(w / scale), -127, 127), the weights
// the int8 model will hold. Their per-row scale is max |w| / 127, so no
// weight is ever clipped and the straight-through gradient passes whole:
// dL/dw = dL/dw_q.
class QatLinear final : public Layer {
 public:
  QatLinear(std::int64_t in, std::int64_t out)
      : in_(in),
        out_(out),
        weight_{"weight", Tensor({out, in}), Tensor({out, in})},
        bias_{"bias", Tensor({out}), Tensor({out})} {}

  std::string type() const override { return "QatLinear"; }
  nlohmann::json config() const override { return {{"in", in_}, {"out", out_}}; }
  std::vector<Parameter*> Parameters() override { return {&weight_, &bias_}; }

  const Tensor& Forward(const Tensor& x, bool /*training*/) override {
    x_shape_ = x.shape();
    x2d_ = Rows("QatLinear(" + std::to_string(in_) + " -> " + std::to_string(out_) + ")", x,
                DType::kF32, in_);
    QuantizeRowsS8(weight_.value, w_s8_, w_scale_);
    w_fq_.Resize({out_, in_});
    for (std::int64_t r = 0; r < out_; ++r) {
      for (std::int64_t j = 0; j < in_; ++j) {
        w_fq_.f32()[r * in_ + j] =
            w_scale_.f32()[r] * static_cast<float>(w_s8_.data<std::int8_t>()[r * in_ + j]);
      }
    }
    y_.Resize({x2d_.dim(0), out_});
    Matmul(x2d_, w_fq_, bias_.value, y_, {.trans_b = true});
    return y_;
  }

  const Tensor& Backward(const Tensor& dy) override {
    const std::int64_t batch = dy.dim(0);
    float* db = bias_.grad.f32();
    std::fill(db, db + out_, 0.0f);
    for (std::int64_t i = 0; i < batch; ++i)
      for (std::int64_t j = 0; j < out_; ++j) db[j] += dy.f32()[i * out_ + j];
    static const Tensor kNoBias;
    Matmul(dy, x2d_, kNoBias, weight_.grad, {.trans_a = true});
    if (!input_grad_needed_) {
      dx_ = Tensor();
      return dx_;
    }
    dx_.Resize({batch, in_});
    Matmul(dy, w_fq_, kNoBias, dx_);
    if (x_shape_.size() != 2) dx_view_ = dx_.Reshape(x_shape_);
    return x_shape_.size() != 2 ? dx_view_ : dx_;
  }

  void Set(const Tensor& weight, const Tensor& bias) {
    weight_.value.CopyFrom(weight);
    bias_.value.CopyFrom(bias);
  }

 private:
  std::int64_t in_, out_;
  Parameter weight_, bias_;
  Shape x_shape_;
  Tensor x2d_, w_s8_, w_scale_, w_fq_, y_, dx_, dx_view_;
};

}  // namespace

std::unique_ptr<Layer> MakeQuantizeInput(U8Params params) {
  return std::make_unique<QuantizeInput>(params);
}

std::unique_ptr<Layer> MakeQuantizedLinear(const Tensor& weight, const Tensor& weight_scale,
                                           const Tensor& bias, U8Params input, bool relu,
                                           bool output_u8, U8Params output) {
  JOULE_ASSERT(weight.rank() == 2 && weight.dtype() == DType::kS8);
  auto layer = std::make_unique<QuantizedLinear>(weight.dim(1), weight.dim(0), relu, output_u8);
  layer->Set(weight, weight_scale, bias, input, output);
  return layer;
}

std::unique_ptr<Layer> MakeFakeQuantize(U8Params params) {
  return std::make_unique<FakeQuantize>(params);
}

std::unique_ptr<Layer> MakeQatLinear(const Tensor& weight, const Tensor& bias) {
  JOULE_ASSERT(weight.rank() == 2 && weight.dtype() == DType::kF32);
  auto layer = std::make_unique<QatLinear>(weight.dim(1), weight.dim(0));
  layer->Set(weight, bias);
  return layer;
}

U8Params StoredU8Params(Layer& layer) {
  JOULE_ASSERT(layer.type() == "QuantizeInput" || layer.type() == "FakeQuantize");
  auto buffers = layer.Buffers();
  return Read(*buffers[0].second, *buffers[1].second);
}

}  // namespace quant

std::unique_ptr<Layer> QuantizeInputFromConfig(const nlohmann::json& config) {
  nn_internal::CheckConfigKeys("QuantizeInput", config, {});
  return quant::MakeQuantizeInput({});
}

std::unique_ptr<Layer> FakeQuantizeFromConfig(const nlohmann::json& config) {
  nn_internal::CheckConfigKeys("FakeQuantize", config, {});
  return quant::MakeFakeQuantize({});
}

std::unique_ptr<Layer> QuantizedLinearFromConfig(const nlohmann::json& config) {
  const char* kType = "QuantizedLinear";
  nn_internal::CheckConfigKeys(kType, config, {"in", "out", "relu", "output"});
  const std::int64_t in = nn_internal::ConfigInt(kType, config, "in", 1, 1 << 30);
  const std::int64_t out = nn_internal::ConfigInt(kType, config, "out", 1, 1 << 30);
  auto relu = config.find("relu");
  if (relu == config.end() || !relu->is_boolean()) {
    throw Error("QuantizedLinear config: 'relu' must be true or false, got " +
                (relu == config.end() ? std::string("nothing") : relu->dump()));
  }
  auto output = config.find("output");
  if (output == config.end() || !output->is_string() || (*output != "u8" && *output != "f32")) {
    throw Error("QuantizedLinear config: 'output' must be \"u8\" or \"f32\", got " +
                (output == config.end() ? std::string("nothing") : output->dump()));
  }
  // Buffers hold placeholders (unit scales, zero weights) until the model
  // file's tensors are copied in.
  return std::make_unique<quant::QuantizedLinear>(in, out, relu->get<bool>(), *output == "u8");
}

std::unique_ptr<Layer> QatLinearFromConfig(const nlohmann::json& config) {
  nn_internal::CheckConfigKeys("QatLinear", config, {"in", "out"});
  const std::int64_t in = nn_internal::ConfigInt("QatLinear", config, "in", 1, 1 << 30);
  const std::int64_t out = nn_internal::ConfigInt("QatLinear", config, "out", 1, 1 << 30);
  return std::make_unique<quant::QatLinear>(in, out);
}

}  // namespace joule
