// Elementwise activations: ReLU, GELU (tanh approximation), Tanh, Sigmoid.
//
// The loops are written so that GCC vectorises them at -O3 without
// -ffast-math: std::exp and std::tanh are opaque library calls that block
// vectorisation, so exp and tanh here are inline polynomials with integer
// exponent tricks (accurate to a few ulp, checked against std:: in the tests).
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>

#include "joule/nn.hpp"
#include "nn/layers_internal.hpp"

namespace joule {
namespace {

// Below this many elements a parallel region costs more than it saves.
constexpr std::int64_t kParallelMinElements = 1 << 16;

// cond ? a : b, as a bit-mask blend. Written as ?:, GCC threads the constant
// arm into the arithmetic that follows, leaving a branch that, under the
// default -ftrapping-math, it will not if-convert, so the loop stays scalar.
inline float Select(bool cond, float a, float b) {
  const std::uint32_t mask = cond ? 0xffffffffu : 0u;
  return std::bit_cast<float>((std::bit_cast<std::uint32_t>(a) & mask) |
                              (std::bit_cast<std::uint32_t>(b) & ~mask));
}

// e^x for x in about [-87, 88] (clamped outside, so the result stays a normal
// float or a tiny subnormal; NaN stays NaN). x = n ln2 + r with |r| <= ln2/2,
// e^r by its Taylor series to r^7 (truncation < 6e-9 relative), times 2^n
// built in the exponent bits.
inline float FastExp(float x) {
  x = Select(x < -87.0f, -87.0f, x);
  x = Select(x > 88.0f, 88.0f, x);
  // Adding 1.5 * 2^23 rounds x*log2(e) to an integer held in the low mantissa
  // bits; reading it from the bits avoids a float->int conversion, which would
  // be undefined for NaN.
  constexpr float kShifter = 12582912.0f;
  const float shifted = x * 1.44269504088896341f + kShifter;
  const float n = shifted - kShifter;
  // ln2 split in two (Cody-Waite): n * kLn2Hi is exact for |n| < 2^10.
  constexpr float kLn2Hi = 0.693145751953125f, kLn2Lo = 1.42860682030941723e-6f;
  float r = x - n * kLn2Hi;
  r = r - n * kLn2Lo;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const std::int32_t n_int =
      std::bit_cast<std::int32_t>(shifted) - std::bit_cast<std::int32_t>(kShifter);
  const float two_to_n = std::bit_cast<float>(static_cast<std::int32_t>((n_int + 127) << 23));
  return p * two_to_n;
}

// tanh(u). For |u| < 0.5 the odd Taylor series to u^15 (truncation < 1e-8
// relative); above, 1 - 2 / (e^{2|u|} + 1), whose cancellation costs at most a
// bit there. Both are computed and one selected, which keeps the loop
// branch-free.
inline float FastTanh(float u) {
  const float a = std::fabs(u);
  const float large = 1.0f - 2.0f / (FastExp(2.0f * a) + 1.0f);
  const float s = a * a;
  float p = -929569.0f / 638512875.0f;
  p = p * s + 21844.0f / 6081075.0f;
  p = p * s - 1382.0f / 155925.0f;
  p = p * s + 62.0f / 2835.0f;
  p = p * s - 17.0f / 315.0f;
  p = p * s + 2.0f / 15.0f;
  p = p * s - 1.0f / 3.0f;
  const float small = a + a * s * p;
  return std::copysign(Select(a < 0.5f, small, large), u);
}

inline float FastSigmoid(float x) { return 1.0f / (1.0f + FastExp(-x)); }

// Each op gives y = f(x) and dL/dx from dL/dy and the value Backward keeps:
// the input when kKeepsInput, else the output (cheaper: no extra buffer).
struct ReluOp {
  static constexpr const char* kName = "ReLU";
  static constexpr bool kKeepsInput = false;
  // x < 0 ? 0 : x, not x > 0 ? x : 0, so that a NaN passes through.
  static float Forward(float x) { return Select(x < 0.0f, 0.0f, x); }
  // A blend, not ?:, so that the loop vectorises: written as a branch it ran
  // scalar and mispredicted on about half of the (random-signed) elements,
  // which made ReLU's backward ~10% of an MLP training step.
  static float Backward(float y, float dy) { return Select(y > 0.0f, dy, 0.0f); }
};

struct GeluOp {
  static constexpr const char* kName = "GELU";
  static constexpr bool kKeepsInput = true;
  static constexpr float kSqrt2OverPi = 0.797884560802865355f;
  static constexpr float kCubic = 0.044715f;
  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  static float Forward(float x) {
    const float t = FastTanh(kSqrt2OverPi * (x + kCubic * x * x * x));
    return 0.5f * x * (1.0f + t);
  }
  static float Backward(float x, float dy) {
    const float t = FastTanh(kSqrt2OverPi * (x + kCubic * x * x * x));
    const float du_dx = kSqrt2OverPi * (1.0f + 3.0f * kCubic * x * x);
    return dy * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du_dx);
  }
};

struct TanhOp {
  static constexpr const char* kName = "Tanh";
  static constexpr bool kKeepsInput = false;
  static float Forward(float x) { return FastTanh(x); }
  static float Backward(float y, float dy) { return dy * (1.0f - y * y); }
};

struct SigmoidOp {
  static constexpr const char* kName = "Sigmoid";
  static constexpr bool kKeepsInput = false;
  static float Forward(float x) { return FastSigmoid(x); }
  static float Backward(float y, float dy) { return dy * y * (1.0f - y); }
};

// The element loops, over disjoint arrays (__restrict lets GCC vectorise
// without a runtime overlap check, whose scalar fallback it otherwise took).
template <class Op>
void ForwardSpan(const float* __restrict x, float* __restrict y, std::int64_t n) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) y[i] = Op::Forward(x[i]);
}

template <class Op>
void BackwardSpan(const float* __restrict kept, const float* __restrict dy, float* __restrict dx,
                  std::int64_t n) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) dx[i] = Op::Backward(kept[i], dy[i]);
}

// Runs body(begin, count) over [0, n) in blocks, in parallel only when n is
// large enough; a batch of an MLP's activations runs inline, with no OpenMP
// region at all.
template <class Body>
void ForBlocks(std::int64_t n, Body body) {
  if (n < kParallelMinElements) {
    body(std::int64_t{0}, n);
    return;
  }
  constexpr std::int64_t kBlock = 1 << 14;
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for
  for (std::int64_t b = 0; b < blocks; ++b) {
    body(b * kBlock, std::min(kBlock, n - b * kBlock));
  }
}

template <class Op>
class ActivationLayer final : public Layer {
 public:
  std::string type() const override { return Op::kName; }
  nlohmann::json config() const override { return nlohmann::json::object(); }

  const Tensor& Forward(const Tensor& x, bool /*training*/) override {
    if (x.dtype() != DType::kF32 || x.rank() == 0) {
      throw Error(std::string(Op::kName) + ": input must be an f32 tensor of rank >= 1, got " +
                  ShapeString(x.shape()) + " " + DTypeName(x.dtype()));
    }
    y_.Resize(x.shape());
    // GELU's derivative needs x; the caller keeps x unchanged until Backward,
    // so sharing its storage is enough.
    if constexpr (Op::kKeepsInput) x_ = x;
    const float* px = x.f32();
    float* py = y_.f32();
    ForBlocks(x.numel(), [&](std::int64_t begin, std::int64_t count) {
      ForwardSpan<Op>(px + begin, py + begin, count);
    });
    have_forward_ = true;
    return y_;
  }

  const Tensor& Backward(const Tensor& dy) override {
    if (!have_forward_) throw Error(std::string(Op::kName) + ": Backward called before Forward");
    if (dy.shape() != y_.shape() || dy.dtype() != DType::kF32) {
      throw Error(std::string(Op::kName) + ": Backward expects f32 dy of the output's shape " +
                  ShapeString(y_.shape()) + ", got " + ShapeString(dy.shape()) + " " +
                  DTypeName(dy.dtype()));
    }
    if (!input_grad_needed_) return no_grad_;
    dx_.Resize(dy.shape());
    const float* kept = Op::kKeepsInput ? x_.f32() : y_.f32();
    const float* pdy = dy.f32();
    float* pdx = dx_.f32();
    ForBlocks(dy.numel(), [&](std::int64_t begin, std::int64_t count) {
      BackwardSpan<Op>(kept + begin, pdy + begin, pdx + begin, count);
    });
    return dx_;
  }

 private:
  bool have_forward_ = false;
  Tensor x_;  // GELU only
  Tensor y_, dx_;
  Tensor no_grad_;  // stays empty: the dx returned when input_grad_needed() is off
};

void CheckEmptyConfig(const std::string& name, const nlohmann::json& config) {
  nn_internal::CheckConfigKeys(name, config, {});
}

}  // namespace

std::unique_ptr<Layer> MakeReLU() { return std::make_unique<ActivationLayer<ReluOp>>(); }
std::unique_ptr<Layer> MakeGELU() { return std::make_unique<ActivationLayer<GeluOp>>(); }
std::unique_ptr<Layer> MakeTanh() { return std::make_unique<ActivationLayer<TanhOp>>(); }
std::unique_ptr<Layer> MakeSigmoid() { return std::make_unique<ActivationLayer<SigmoidOp>>(); }

std::unique_ptr<Layer> ReLUFromConfig(const nlohmann::json& config) {
  CheckEmptyConfig("ReLU", config);
  return MakeReLU();
}
std::unique_ptr<Layer> GELUFromConfig(const nlohmann::json& config) {
  CheckEmptyConfig("GELU", config);
  return MakeGELU();
}
std::unique_ptr<Layer> TanhFromConfig(const nlohmann::json& config) {
  CheckEmptyConfig("Tanh", config);
  return MakeTanh();
}
std::unique_ptr<Layer> SigmoidFromConfig(const nlohmann::json& config) {
  CheckEmptyConfig("Sigmoid", config);
  return MakeSigmoid();
}

}  // namespace joule
