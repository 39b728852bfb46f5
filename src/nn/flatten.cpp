// Flatten: [N, d1, d2, ...] -> [N, d1 * d2 * ...]. Row-major storage means
// the data need not move, so the output (and dx) are reshaped views sharing
// storage with the input (and dy) instead of copies: no work, no buffer.
#include <cstdint>
#include <memory>
#include <string>

#include "joule/nn.hpp"
#include "nn/layers_internal.hpp"

namespace joule {
namespace {

class FlattenLayer final : public Layer {
 public:
  std::string type() const override { return "Flatten"; }
  nlohmann::json config() const override { return nlohmann::json::object(); }

  const Tensor& Forward(const Tensor& x, bool /*training*/) override {
    if (x.rank() < 2) {
      throw Error("Flatten: input must be [N, ...] of rank >= 2, got " + ShapeString(x.shape()));
    }
    x_shape_ = x.shape();
    std::int64_t features = 1;
    for (int i = 1; i < x.rank(); ++i) features *= x.dim(i);
    y_ = x.Reshape({x.dim(0), features});
    have_forward_ = true;
    return y_;
  }

  const Tensor& Backward(const Tensor& dy) override {
    if (!have_forward_) throw Error("Flatten: Backward called before Forward");
    if (dy.shape() != y_.shape()) {
      throw Error("Flatten: Backward expects dy of the output's shape " + ShapeString(y_.shape()) +
                  ", got " + ShapeString(dy.shape()));
    }
    if (!input_grad_needed_) return no_grad_;
    dx_ = dy.Reshape(x_shape_);
    return dx_;
  }

 private:
  bool have_forward_ = false;
  Shape x_shape_;
  Tensor y_, dx_;   // views: never Resize'd, only reassigned
  Tensor no_grad_;  // stays empty: the dx returned when input_grad_needed() is off
};

}  // namespace

std::unique_ptr<Layer> MakeFlatten() { return std::make_unique<FlattenLayer>(); }

std::unique_ptr<Layer> FlattenFromConfig(const nlohmann::json& config) {
  nn_internal::CheckConfigKeys("Flatten", config, {});
  return MakeFlatten();
}

}  // namespace joule
