// Weight initialisation from a seeded Rng, so that the same seed gives the
// same weights on every platform.
#include <cmath>
#include <cstdint>

#include "joule/nn.hpp"
#include "nn/layers_internal.hpp"

namespace joule {
namespace {

void FillUniform(Tensor& w, double bound, Rng& rng) {
  float* p = w.f32();
  const float b = static_cast<float>(bound);
  for (std::int64_t i = 0; i < w.numel(); ++i) p[i] = (2.0f * rng.Uniform() - 1.0f) * b;
}

}  // namespace

void InitXavier(Parameter& weight, std::int64_t fan_in, std::int64_t fan_out, Rng& rng) {
  if (fan_in < 0 || fan_out < 0 || fan_in + fan_out == 0) {
    throw Error("InitXavier: '" + weight.name + "' needs fan_in + fan_out > 0, got fan_in " +
                std::to_string(fan_in) + ", fan_out " + std::to_string(fan_out));
  }
  if (weight.value.dtype() != DType::kF32) {
    throw Error("InitXavier: '" + weight.name + "' must be f32, is " +
                DTypeName(weight.value.dtype()));
  }
  FillUniform(weight.value, std::sqrt(6.0 / static_cast<double>(fan_in + fan_out)), rng);
}

namespace nn_internal {

void InitKaimingUniform(Tensor& w, std::int64_t fan_in, Rng& rng) {
  JOULE_ASSERT(fan_in > 0);
  FillUniform(w, std::sqrt(6.0 / static_cast<double>(fan_in)), rng);
}

}  // namespace nn_internal
}  // namespace joule
