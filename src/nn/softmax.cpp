// Softmax over the features of [N, C]: a model imported from ONNX may end in
// one (probabilities instead of logits). Argmax, and so accuracy, is the same
// either way; joule's own models end in logits and train with the fused
// softmax cross-entropy loss instead.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "joule/nn.hpp"
#include "nn/layers_internal.hpp"

namespace joule {
namespace {

class SoftmaxLayer final : public Layer {
 public:
  std::string type() const override { return "Softmax"; }
  nlohmann::json config() const override { return nlohmann::json::object(); }

  const Tensor& Forward(const Tensor& x, bool /*training*/) override {
    if (x.rank() != 2 || x.dtype() != DType::kF32) {
      throw Error("Softmax: input must be f32 [N, C], got " + ShapeString(x.shape()) + " " +
                  DTypeName(x.dtype()));
    }
    y_.Resize(x.shape());
    const std::int64_t n = x.dim(0), c = x.dim(1);
    for (std::int64_t r = 0; r < n; ++r) {
      const float* in = x.f32() + r * c;
      float* out = y_.f32() + r * c;
      // Subtracting the row's max keeps exp from overflowing.
      const float m = *std::max_element(in, in + c);
      double sum = 0;
      for (std::int64_t j = 0; j < c; ++j) {
        out[j] = std::exp(in[j] - m);
        sum += out[j];
      }
      const float inv = static_cast<float>(1.0 / sum);
      for (std::int64_t j = 0; j < c; ++j) out[j] *= inv;
    }
    return y_;
  }

  // dx = y * (dy - sum_j dy_j y_j), row by row.
  const Tensor& Backward(const Tensor& dy) override {
    if (dy.shape() != y_.shape()) {
      throw Error("Softmax: Backward expects dy of shape " + ShapeString(y_.shape()) + ", got " +
                  ShapeString(dy.shape()));
    }
    if (!input_grad_needed_) return no_grad_;
    dx_.Resize(dy.shape());
    const std::int64_t n = dy.dim(0), c = dy.dim(1);
    for (std::int64_t r = 0; r < n; ++r) {
      const float* y = y_.f32() + r * c;
      const float* g = dy.f32() + r * c;
      double dot = 0;
      for (std::int64_t j = 0; j < c; ++j) dot += static_cast<double>(g[j]) * y[j];
      float* d = dx_.f32() + r * c;
      for (std::int64_t j = 0; j < c; ++j) d[j] = y[j] * (g[j] - static_cast<float>(dot));
    }
    return dx_;
  }

 private:
  Tensor y_, dx_, no_grad_;
};

}  // namespace

std::unique_ptr<Layer> MakeSoftmax() { return std::make_unique<SoftmaxLayer>(); }

std::unique_ptr<Layer> SoftmaxFromConfig(const nlohmann::json& config) {
  nn_internal::CheckConfigKeys("Softmax", config, {});
  return MakeSoftmax();
}

}  // namespace joule
