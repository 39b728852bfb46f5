// Layers: backward against finite differences (gradcheck.hpp) on random shapes
// for every layer of nn.hpp, bf16 Conv2d against f32, config round trips,
// BatchNorm's running statistics, Dropout's masks, and the buffer contract
// (outputs reused, grads overwritten, no dx when it is not needed).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "joule/nn.hpp"
#include "nn/gradcheck.hpp"

namespace joule {
namespace {

using gradcheck::CheckGradients;
using gradcheck::Describe;
using gradcheck::GradCheckOptions;
using gradcheck::GradError;
using gradcheck::LayerFactory;
using ::testing::HasSubstr;

// Largest rel_err (see gradcheck.hpp) accepted per op. The layers compute in
// f32 and the differences use h = kFdStep, so these bound f32 rounding
// amplified by 1/h plus the O(h^2) truncation of smooth ops; a wrong term in a
// backward shows up as an error of order 1e-1..1.
constexpr double kGradTolLinear = 2e-4;
constexpr double kGradTolConv2d = 2e-4;
constexpr double kGradTolMaxPool2d = 1e-5;
constexpr double kGradTolAvgPool2d = 1e-4;
constexpr double kGradTolReLU = 1e-5;
constexpr double kGradTolGELU = 5e-4;
constexpr double kGradTolTanh = 2e-4;
constexpr double kGradTolSigmoid = 2e-4;
constexpr double kGradTolDropout = 1e-5;
constexpr double kGradTolBatchNorm = 2e-3;
constexpr double kGradTolFlatten = 1e-6;

constexpr double kFdStep = 1e-2;
// ReLU inputs and max-pool ties are kept this far from the kinks, so that
// x +- kFdStep never crosses one.
constexpr float kKinkMargin = 3 * kFdStep;

// Normalised mean squared error of bf16 Conv2d (forward, dx, dw, db) against
// the same layer in f32. Rounding both operands to bf16 (8 significant bits)
// gives an NMSE of about 2 * (2^-9)^2 / 3 = 2.5e-6 per output; measured
// 0.5e-6 to 6e-6 on the shapes below.
constexpr double kMaxNmseConv2dBf16 = 2e-5;

// Activations against the C library in double: relative error bound (plus a
// tiny absolute floor for outputs near zero). Measured: 1.2e-7 to 2e-7, i.e.
// 2-3 ulp.
constexpr double kActivationMaxRelErr = 5e-7;
constexpr double kActivationAbsFloor = 1e-30;
constexpr double kGeluTailAbsErrPerX = 1e-7;

// ---------------------------------------------------------------------------
// Inputs and shapes.

std::int64_t Pick(Rng& rng, std::int64_t lo, std::int64_t hi) {
  return lo + static_cast<std::int64_t>(rng.Below(static_cast<std::uint64_t>(hi - lo + 1)));
}

Tensor RandomNormal(const Shape& shape, Rng& rng, float scale = 1.0f) {
  Tensor t(shape);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.f32()[i] = scale * rng.Normal();
  return t;
}

// Normal values with |v| >= kKinkMargin (ReLU's kink is at 0).
Tensor AwayFromZero(const Shape& shape, Rng& rng) {
  Tensor t(shape);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    float v;
    do {
      v = rng.Normal();
    } while (std::fabs(v) < kKinkMargin);
    t.f32()[i] = v;
  }
  return t;
}

// A random permutation of distinct values 2 * kKinkMargin apart, so no two
// inputs of any pooling window are within a step of a tie.
Tensor DistinctValues(const Shape& shape, Rng& rng) {
  Tensor t(shape);
  const std::int64_t n = t.numel();
  std::vector<float> values(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    values[static_cast<std::size_t>(i)] =
        static_cast<float>(i - n / 2) * 2.0f * kKinkMargin + 0.25f * kKinkMargin;
  }
  for (std::int64_t i = n - 1; i > 0; --i) {
    std::swap(values[static_cast<std::size_t>(i)],
              values[static_cast<std::size_t>(rng.Below(static_cast<std::uint64_t>(i + 1)))]);
  }
  for (std::int64_t i = 0; i < n; ++i) t.f32()[i] = values[static_cast<std::size_t>(i)];
  return t;
}

// Sets every parameter to U(lo, hi) from `seed`, so checks do not run at the
// special initial values (zero bias, unit gamma).
void RandomizeParameters(Layer& layer, std::uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  Rng rng(seed);
  for (Parameter* p : layer.Parameters()) {
    for (std::int64_t i = 0; i < p->value.numel(); ++i) {
      p->value.f32()[i] = lo + (hi - lo) * rng.Uniform();
    }
  }
}

// Wraps a factory so that each layer it makes has the same random parameters.
LayerFactory WithRandomParameters(LayerFactory make, std::uint64_t seed, float lo = -1.0f,
                                  float hi = 1.0f) {
  return [make, seed, lo, hi] {
    auto layer = make();
    RandomizeParameters(*layer, seed, lo, hi);
    return layer;
  };
}

std::string ShapeLabel(const Tensor& x) { return ShapeString(x.shape()); }

void ExpectGradientsMatch(const LayerFactory& make, const Tensor& x, double tolerance,
                          const std::string& label, std::uint64_t seed,
                          const GradCheckOptions& options = {}) {
  std::vector<GradError> errors = CheckGradients(make, x, seed, options);
  for (const GradError& e : errors) {
    EXPECT_LE(e.rel_err, tolerance) << label << " x " << ShapeLabel(x) << ": " << Describe(e);
  }
}

double Nmse(const Tensor& a, const Tensor& reference) {
  EXPECT_EQ(a.shape(), reference.shape());
  double err = 0.0, norm = 0.0;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    double d = static_cast<double>(a.f32()[i]) - reference.f32()[i];
    err += d * d;
    norm += static_cast<double>(reference.f32()[i]) * reference.f32()[i];
  }
  return err / std::max(norm, 1e-300);
}

template <class F>
void ExpectErrorContaining(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected joule::Error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(needle));
  }
}

// ---------------------------------------------------------------------------
// The checker itself must be able to fail: a layer y = w * x (elementwise,
// w the size of one sample) with an optionally wrong backward.

class ScaleLayer final : public Layer {
 public:
  enum class Bug { kNone, kInputGrad, kWeightGrad };
  ScaleLayer(std::int64_t features, Bug bug) : bug_(bug) {
    w_ = {"weight", Tensor({features}), Tensor({features})};
    w_.value.Fill(0.5f);
  }
  std::string type() const override { return "Scale"; }
  nlohmann::json config() const override { return nlohmann::json::object(); }
  const Tensor& Forward(const Tensor& x, bool) override {
    x_ = x;
    y_.Resize(x.shape());
    const std::int64_t f = w_.value.numel();
    for (std::int64_t i = 0; i < x.numel(); ++i) y_.f32()[i] = w_.value.f32()[i % f] * x.f32()[i];
    return y_;
  }
  const Tensor& Backward(const Tensor& dy) override {
    const std::int64_t f = w_.value.numel();
    dx_.Resize(dy.shape());
    w_.grad.Zero();
    for (std::int64_t i = 0; i < dy.numel(); ++i) {
      dx_.f32()[i] = dy.f32()[i] * w_.value.f32()[i % f] * (bug_ == Bug::kInputGrad ? 1.01f : 1.0f);
      // The weight-grad bug drops the last sample's contribution.
      if (bug_ != Bug::kWeightGrad || i < dy.numel() - f) {
        w_.grad.f32()[i % f] += dy.f32()[i] * x_.f32()[i];
      }
    }
    return dx_;
  }
  std::vector<Parameter*> Parameters() override { return {&w_}; }

 private:
  Bug bug_;
  Parameter w_;
  Tensor x_, y_, dx_;
};

TEST(GradCheckTest, PassesACorrectBackwardAndCatchesWrongOnes) {
  Rng rng(1);
  Tensor x = RandomNormal({3, 4}, rng);
  auto make = [](ScaleLayer::Bug bug) {
    return LayerFactory([bug] { return std::make_unique<ScaleLayer>(4, bug); });
  };
  auto correct = CheckGradients(make(ScaleLayer::Bug::kNone), x, 2);
  ASSERT_EQ(correct.size(), 2u);
  EXPECT_EQ(correct[0].name, "x");
  EXPECT_EQ(correct[1].name, "weight");
  EXPECT_LE(gradcheck::WorstRelErr(correct), 1e-5);

  auto bad_dx = CheckGradients(make(ScaleLayer::Bug::kInputGrad), x, 2);
  EXPECT_GT(bad_dx[0].rel_err, 5e-3) << Describe(bad_dx[0]);
  EXPECT_LE(bad_dx[1].rel_err, 1e-5);
  auto bad_dw = CheckGradients(make(ScaleLayer::Bug::kWeightGrad), x, 2);
  EXPECT_LE(bad_dw[0].rel_err, 1e-5);
  EXPECT_GT(bad_dw[1].rel_err, 0.05) << Describe(bad_dw[1]);
}

// ---------------------------------------------------------------------------
// Finite differences, several random shapes per op.

constexpr int kShapesPerOp = 3;

// A check runs thousands of tiny kernels. With more than one OpenMP thread
// each is a barrier, and on a busy shared machine every barrier waits for a
// descheduled thread: 20 s instead of 0.2 s. The threaded paths are compared
// with the serial ones in ParallelPathsMatchSerial.
class LayerGradTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_threads_ = NumThreads();
    SetNumThreads(1);
  }
  void TearDown() override { SetNumThreads(saved_threads_); }

 private:
  int saved_threads_ = 1;
};

TEST_F(LayerGradTest, Linear) {
  Rng rng(10);
  for (int t = 0; t < kShapesPerOp; ++t) {
    std::int64_t batch = Pick(rng, 1, 4), in = Pick(rng, 1, 7), out = Pick(rng, 1, 6);
    auto make = WithRandomParameters(
        [in, out] {
          Rng init(3);
          return MakeLinear(in, out, init);
        },
        100 + t);
    ExpectGradientsMatch(make, RandomNormal({batch, in}, rng), kGradTolLinear,
                         "Linear(" + std::to_string(in) + "->" + std::to_string(out) + ")", t);
  }
}

TEST_F(LayerGradTest, Conv2dStrideAndPadding) {
  Rng rng(11);
  for (int stride : {1, 2}) {
    for (int padding : {0, 1}) {
      for (int t = 0; t < 2; ++t) {
        std::int64_t n = Pick(rng, 1, 2), c = Pick(rng, 1, 3), o = Pick(rng, 1, 3);
        int kernel = static_cast<int>(Pick(rng, 1, 3));
        std::int64_t h = Pick(rng, std::max<std::int64_t>(kernel, 2), 6);
        std::int64_t w = Pick(rng, std::max<std::int64_t>(kernel, 2), 6);
        auto make = WithRandomParameters(
            [=] {
              Rng init(4);
              return MakeConv2d(c, o, kernel, stride, padding, init);
            },
            200 + t);
        ExpectGradientsMatch(make, RandomNormal({n, c, h, w}, rng), kGradTolConv2d,
                             "Conv2d(" + std::to_string(c) + "->" + std::to_string(o) + ", k" +
                                 std::to_string(kernel) + ", s" + std::to_string(stride) + ", p" +
                                 std::to_string(padding) + ")",
                             t);
      }
    }
  }
}

TEST_F(LayerGradTest, MaxPool2dAwayFromTies) {
  Rng rng(12);
  // (kernel, stride): non-overlapping, overlapping (shared maxima), strided.
  const int configs[][2] = {{2, 2}, {3, 1}, {2, 1}, {3, 2}};
  for (const auto& [kernel, stride] : configs) {
    std::int64_t h = Pick(rng, kernel, 7), w = Pick(rng, kernel, 7);
    Tensor x = DistinctValues({Pick(rng, 1, 2), Pick(rng, 1, 3), h, w}, rng);
    ExpectGradientsMatch(
        [k = kernel, s = stride] { return MakeMaxPool2d(k, s); }, x, kGradTolMaxPool2d,
        "MaxPool2d(" + std::to_string(kernel) + ", " + std::to_string(stride) + ")",
        kernel * 10 + stride);
  }
}

TEST_F(LayerGradTest, AvgPool2d) {
  Rng rng(13);
  const int configs[][2] = {{2, 2}, {3, 1}, {3, 2}};
  for (const auto& [kernel, stride] : configs) {
    std::int64_t h = Pick(rng, kernel, 7), w = Pick(rng, kernel, 7);
    Tensor x = RandomNormal({Pick(rng, 1, 2), Pick(rng, 1, 3), h, w}, rng);
    ExpectGradientsMatch(
        [k = kernel, s = stride] { return MakeAvgPool2d(k, s); }, x, kGradTolAvgPool2d,
        "AvgPool2d(" + std::to_string(kernel) + ", " + std::to_string(stride) + ")",
        kernel * 10 + stride);
  }
}

// Random shape of rank 1 to 4 with at most ~60 elements.
Shape RandomShape(Rng& rng) {
  Shape shape;
  const std::int64_t rank = Pick(rng, 1, 4);
  for (std::int64_t i = 0; i < rank; ++i) shape.push_back(Pick(rng, 1, rank <= 2 ? 7 : 3));
  return shape;
}

TEST_F(LayerGradTest, ReLUAwayFromKink) {
  Rng rng(14);
  for (int t = 0; t < kShapesPerOp; ++t) {
    ExpectGradientsMatch(MakeReLU, AwayFromZero(RandomShape(rng), rng), kGradTolReLU, "ReLU", t);
  }
}

TEST_F(LayerGradTest, SmoothActivations) {
  struct Op {
    const char* name;
    std::unique_ptr<Layer> (*make)();
    double tolerance;
  };
  const Op ops[] = {{"GELU", MakeGELU, kGradTolGELU},
                    {"Tanh", MakeTanh, kGradTolTanh},
                    {"Sigmoid", MakeSigmoid, kGradTolSigmoid}};
  Rng rng(15);
  for (const Op& op : ops) {
    for (int t = 0; t < kShapesPerOp; ++t) {
      // Scale 2 reaches both the tails and, for tanh, both sides of its
      // small-argument switch at |u| = 0.5.
      ExpectGradientsMatch(op.make, RandomNormal(RandomShape(rng), rng, 2.0f), op.tolerance,
                           op.name, t);
    }
  }
}

TEST_F(LayerGradTest, DropoutWithAFixedMask) {
  // Every loss evaluation builds a fresh layer with the same seed, so each
  // sees the first mask of that seed; the check therefore fails unless
  // Backward applies exactly the mask Forward drew.
  Rng rng(16);
  for (float p : {0.3f, 0.5f, 0.0f}) {
    for (int t = 0; t < 2; ++t) {
      Tensor x = RandomNormal(RandomShape(rng), rng);
      ExpectGradientsMatch([p, t] { return MakeDropout(p, 77 + t); }, x, kGradTolDropout,
                           "Dropout(" + std::to_string(p) + ")", t);
    }
  }
}

TEST_F(LayerGradTest, BatchNormTraining) {
  Rng rng(17);
  for (int t = 0; t < kShapesPerOp; ++t) {
    std::int64_t f = Pick(rng, 1, 4);
    auto make1d =
        WithRandomParameters([f] { return MakeBatchNorm(f, false); }, 300 + t, 0.5f, 1.5f);
    ExpectGradientsMatch(make1d, RandomNormal({Pick(rng, 3, 6), f}, rng), kGradTolBatchNorm,
                         "BatchNorm1d", t);
    std::int64_t c = Pick(rng, 1, 3);
    auto make2d = WithRandomParameters([c] { return MakeBatchNorm(c, true); }, 400 + t, 0.5f, 1.5f);
    // At least 4 values per channel: with 2, xhat is +-1 whatever x is and
    // dL/dx vanishes but for eps, leaving nothing to compare.
    ExpectGradientsMatch(make2d,
                         RandomNormal({Pick(rng, 1, 3), c, Pick(rng, 2, 4), Pick(rng, 2, 4)}, rng),
                         kGradTolBatchNorm, "BatchNorm2d", t);
  }
}

TEST_F(LayerGradTest, BatchNormInference) {
  // Inference normalises with the running statistics: an affine map whose
  // backward must not contain the batch-statistics terms.
  Rng rng(18);
  auto make = [] {
    auto layer = MakeBatchNorm(3, true);
    RandomizeParameters(*layer, 5, 0.5f, 1.5f);
    Rng stats(6);
    for (auto& [name, t] : layer->Buffers()) {
      for (std::int64_t i = 0; i < t->numel(); ++i) t->f32()[i] = 0.5f + stats.Uniform();
    }
    return layer;
  };
  GradCheckOptions inference;
  inference.training = false;
  ExpectGradientsMatch(make, RandomNormal({2, 3, 3, 2}, rng), kGradTolBatchNorm,
                       "BatchNorm2d inference", 1, inference);
}

TEST_F(LayerGradTest, Flatten) {
  Rng rng(19);
  for (int t = 0; t < kShapesPerOp; ++t) {
    Shape shape{Pick(rng, 1, 3), Pick(rng, 1, 3), Pick(rng, 1, 3), Pick(rng, 1, 3)};
    ExpectGradientsMatch(MakeFlatten, RandomNormal(shape, rng), kGradTolFlatten, "Flatten", t);
  }
}

// ---------------------------------------------------------------------------
// Conv2d in bf16 against the same weights in f32.

TEST(Conv2dTest, Bf16AgreesWithF32WithinNmseBound) {
  struct Config {
    std::int64_t n, c, o, h;
    int kernel, stride, padding;
  };
  const Config configs[] = {
      {4, 3, 8, 12, 3, 1, 1}, {2, 16, 32, 14, 3, 1, 1}, {3, 5, 7, 9, 2, 2, 0}};
  Rng rng(20);
  for (const Config& k : configs) {
    Rng init_f32(9), init_bf16(9);
    auto f32 = MakeConv2d(k.c, k.o, k.kernel, k.stride, k.padding, init_f32);
    auto bf16 = MakeConv2d(k.c, k.o, k.kernel, k.stride, k.padding, init_bf16);
    RandomizeParameters(*f32, 21);
    RandomizeParameters(*bf16, 21);
    bf16->SetPrecision(Precision::kBF16);
    Tensor x = RandomNormal({k.n, k.c, k.h, k.h}, rng);
    const Tensor& y32 = f32->Forward(x, true);
    const Tensor& y16 = bf16->Forward(x, true);
    Tensor dy = RandomNormal(y32.shape(), rng);
    const Tensor& dx32 = f32->Backward(dy);
    const Tensor& dx16 = bf16->Backward(dy);
    const std::string label = "Conv2d " + std::to_string(k.c) + "->" + std::to_string(k.o);
    EXPECT_LE(Nmse(y16, y32), kMaxNmseConv2dBf16) << label << " y";
    EXPECT_LE(Nmse(dx16, dx32), kMaxNmseConv2dBf16) << label << " dx";
    for (std::size_t j = 0; j < 2; ++j) {
      EXPECT_LE(Nmse(bf16->Parameters()[j]->grad, f32->Parameters()[j]->grad), kMaxNmseConv2dBf16)
          << label << " d" << f32->Parameters()[j]->name;
    }
    // bf16 really rounds: identical results would mean the f32 path ran.
    EXPECT_GT(Nmse(y16, y32), 0.0) << label;
  }
}

TEST(Conv2dTest, DefaultInitIsKaimingUniformWithZeroBias) {
  Rng a(5), b(5);
  auto first = MakeConv2d(3, 8, 3, 1, 1, a);
  auto second = MakeConv2d(3, 8, 3, 1, 1, b);
  const Tensor& w = first->Parameters()[0]->value;
  ASSERT_EQ(w.shape(), (Shape{8, 3, 3, 3}));
  const double bound = std::sqrt(6.0 / 27.0);
  double max_abs = 0.0, mean = 0.0;
  for (std::int64_t i = 0; i < w.numel(); ++i) {
    max_abs = std::max(max_abs, std::fabs(static_cast<double>(w.f32()[i])));
    mean += w.f32()[i] / static_cast<double>(w.numel());
    // Same seed, same weights.
    ASSERT_EQ(w.f32()[i], second->Parameters()[0]->value.f32()[i]);
  }
  EXPECT_LE(max_abs, bound);
  EXPECT_GT(max_abs, 0.8 * bound);  // 216 draws: the range is covered
  EXPECT_LT(std::fabs(mean), 0.1 * bound);
  const Tensor& bias = first->Parameters()[1]->value;
  for (std::int64_t i = 0; i < bias.numel(); ++i) EXPECT_EQ(bias.f32()[i], 0.0f);
}

TEST(InitTest, XavierUniformBoundAndErrors) {
  Parameter p{"weight", Tensor({20, 30}), Tensor({20, 30})};
  Rng rng(8);
  InitXavier(p, 30, 20, rng);
  const double bound = std::sqrt(6.0 / 50.0);
  double max_abs = 0.0;
  for (std::int64_t i = 0; i < p.value.numel(); ++i) {
    max_abs = std::max(max_abs, std::fabs(static_cast<double>(p.value.f32()[i])));
  }
  EXPECT_LE(max_abs, bound);
  EXPECT_GT(max_abs, 0.95 * bound);
  ExpectErrorContaining([&] { InitXavier(p, 0, 0, rng); }, "fan_in + fan_out > 0");
}

// ---------------------------------------------------------------------------
// Activations against the C library.

TEST(ActivationTest, MatchTheCLibraryInDouble) {
  auto gelu = [](double x) {
    return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
  };
  auto sigmoid = [](double x) { return 1.0 / (1.0 + std::exp(-x)); };
  auto tanh = [](double x) { return std::tanh(x); };
  struct Op {
    const char* name;
    std::unique_ptr<Layer> (*make)();
    std::function<double(double)> reference;
  };
  const Op ops[] = {
      {"Tanh", MakeTanh, tanh}, {"Sigmoid", MakeSigmoid, sigmoid}, {"GELU", MakeGELU, gelu}};
  // A sweep over [-12, 12], with the region around 0 (tanh's switch from
  // series to exp form at 0.5) sampled densely.
  std::vector<float> xs;
  for (int i = -12000; i <= 12000; ++i) xs.push_back(static_cast<float>(i) * 1e-3f);
  for (int i = -1000; i <= 1000; ++i) xs.push_back(static_cast<float>(i) * 1e-6f);
  Tensor x = Tensor::FromVector({static_cast<std::int64_t>(xs.size())}, xs);
  for (const Op& op : ops) {
    auto layer = op.make();
    const Tensor& y = layer->Forward(x, false);
    // worst = max |y - ref| / allowed; the check is worst <= 1.
    double worst = 0.0;
    float worst_x = 0.0f;
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      const double xi = x.f32()[i], ref = op.reference(xi);
      double allowed = kActivationMaxRelErr * std::fabs(ref) + kActivationAbsFloor;
      // GELU's left tail is 0.5 x (1 + t) with t -> -1: f32 resolves 1 + t
      // only to ~6e-8, an absolute error of ~3e-8 |x| however small y is.
      if (op.name == std::string("GELU")) allowed += kGeluTailAbsErrPerX * std::fabs(xi);
      const double ratio = std::fabs(y.f32()[i] - ref) / allowed;
      if (!(ratio <= worst)) {
        worst = ratio;
        worst_x = x.f32()[i];
      }
    }
    EXPECT_LE(worst, 1.0) << op.name << " worst at x = " << worst_x;
  }
}

TEST(ActivationTest, SaturateAtExtremesAndPropagateNaN) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  Tensor x = Tensor::FromVector({6}, {-1e30f, -100.0f, 100.0f, 1e30f, nan, -inf});
  auto expect = [&](std::unique_ptr<Layer> layer, std::vector<float> want) {
    const Tensor& y = layer->Forward(x, false);
    // GELU(-inf) is 0.5 * -inf * 0: NaN in any formula of this form; not checked.
    for (std::size_t i = 0; i < want.size(); ++i) {
      if (std::isnan(want[i])) {
        EXPECT_TRUE(std::isnan(y.f32()[i])) << layer->type() << " at " << i;
      } else {
        EXPECT_NEAR(y.f32()[i], want[i], 1e-6f * std::max(1.0f, std::fabs(want[i])))
            << layer->type() << " at " << i;
      }
    }
  };
  expect(MakeTanh(), {-1, -1, 1, 1, nan, -1});
  expect(MakeSigmoid(), {0, 0, 1, 1, nan, 0});
  expect(MakeReLU(), {0, 0, 100, 1e30f, nan, 0});
  expect(MakeGELU(), {0, 0, 100, 1e30f, nan});
}

// ---------------------------------------------------------------------------
// Dropout.

TEST(DropoutTest, MasksFollowTheSeedAndInferenceIsIdentity) {
  Rng rng(30);
  const float p = 0.4f;
  Tensor x = AwayFromZero({50, 40}, rng);
  auto a = MakeDropout(p, 123), b = MakeDropout(p, 123), c = MakeDropout(p, 124);
  Tensor ya = a->Forward(x, true).Clone();
  Tensor yb = b->Forward(x, true).Clone();
  Tensor yc = c->Forward(x, true).Clone();
  std::int64_t dropped = 0, differs_from_other_seed = 0;
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    ASSERT_EQ(ya.f32()[i], yb.f32()[i]);  // same seed, same mask
    if (ya.f32()[i] == 0.0f) {
      ++dropped;
    } else {
      EXPECT_FLOAT_EQ(ya.f32()[i], x.f32()[i] / (1.0f - p));  // inverted scaling
    }
    differs_from_other_seed += (ya.f32()[i] == 0.0f) != (yc.f32()[i] == 0.0f);
  }
  // 2000 draws at p = 0.4: the dropped fraction is within 0.05 of p with
  // overwhelming probability (sd 0.011); the seed is fixed anyway.
  EXPECT_NEAR(static_cast<double>(dropped) / static_cast<double>(x.numel()), p, 0.05);
  EXPECT_GT(differs_from_other_seed, 0);

  // The backward applies the forward's mask: dx is zero exactly where y is.
  Tensor dy = AwayFromZero(x.shape(), rng);
  const Tensor& dx = a->Backward(dy);
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    EXPECT_FLOAT_EQ(dx.f32()[i], ya.f32()[i] == 0.0f ? 0.0f : dy.f32()[i] / (1.0f - p));
  }

  // The next training Forward draws a new mask.
  const Tensor& ya2 = a->Forward(x, true);
  std::int64_t changed = 0;
  for (std::int64_t i = 0; i < x.numel(); ++i)
    changed += (ya2.f32()[i] == 0.0f) != (ya.f32()[i] == 0.0f);
  EXPECT_GT(changed, 0);

  // Inference: identity, and so is its backward.
  const Tensor& yi = a->Forward(x, false);
  const Tensor& dxi = a->Backward(dy);
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    ASSERT_EQ(yi.f32()[i], x.f32()[i]);
    ASSERT_EQ(dxi.f32()[i], dy.f32()[i]);
  }
}

// ---------------------------------------------------------------------------
// BatchNorm running statistics.

TEST(BatchNormTest, RunningStatisticsUpdateAsDocumented) {
  const float momentum = 0.25f, eps = 1e-3f;
  // 1d over [N, F]: statistics per column.
  auto bn = MakeBatchNorm(2, false, momentum, eps);
  auto buffers = bn->Buffers();
  ASSERT_EQ(buffers.size(), 2u);
  EXPECT_EQ(buffers[0].first, "running_mean");
  EXPECT_EQ(buffers[1].first, "running_var");
  Tensor* running_mean = buffers[0].second;
  Tensor* running_var = buffers[1].second;
  EXPECT_EQ(running_mean->f32()[0], 0.0f);
  EXPECT_EQ(running_var->f32()[0], 1.0f);

  Tensor x1 = Tensor::FromVector({4, 2}, {1, 10, 2, 20, 3, 30, 6, 40});
  bn->Forward(x1, true);
  // Column 0: mean 3, unbiased variance ((4 + 1 + 0 + 9) / 3) = 14/3.
  // Column 1: mean 25, unbiased variance (225 + 25 + 25 + 225) / 3 = 500/3.
  EXPECT_NEAR(running_mean->f32()[0], 0.25 * 3, 1e-6);
  EXPECT_NEAR(running_mean->f32()[1], 0.25 * 25, 1e-5);
  EXPECT_NEAR(running_var->f32()[0], 0.75 + 0.25 * 14.0 / 3.0, 1e-5);
  EXPECT_NEAR(running_var->f32()[1], 0.75 + 0.25 * 500.0 / 3.0, 1e-4);
  // Training output uses the batch's biased variance: column 0 of x1 has
  // variance 14/4, so x = 6 maps to (6 - 3) / sqrt(3.5 + eps).
  EXPECT_NEAR(bn->Forward(x1, true).f32()[6], 3.0 / std::sqrt(3.5 + eps), 1e-5);
  // The second training Forward folded the same batch in again.
  EXPECT_NEAR(running_mean->f32()[0], 0.75 * 0.75 + 0.25 * 3, 1e-6);

  // Inference uses the running statistics and leaves them alone.
  RandomizeParameters(*bn, 3, 0.5f, 1.5f);
  const float gamma = bn->Parameters()[0]->value.f32()[1];
  const float beta = bn->Parameters()[1]->value.f32()[1];
  const float rm = running_mean->f32()[1], rv = running_var->f32()[1];
  Tensor x2 = Tensor::FromVector({1, 2}, {0.5f, -7.0f});
  const Tensor& y2 = bn->Forward(x2, false);
  EXPECT_NEAR(y2.f32()[1], gamma * (-7.0f - rm) / std::sqrt(rv + eps) + beta, 1e-5);
  EXPECT_EQ(running_mean->f32()[1], rm);
  EXPECT_EQ(running_var->f32()[1], rv);

  // Training on a single value per feature cannot estimate a variance.
  ExpectErrorContaining([&] { bn->Forward(x2, true); }, "batch size > 1");
}

TEST(BatchNormTest, SpatialStatisticsSpanBatchAndPlane) {
  Rng rng(31);
  const float momentum = 0.5f;
  auto bn = MakeBatchNorm(3, true, momentum);
  Tensor x = RandomNormal({2, 3, 4, 5}, rng, 2.0f);
  for (std::int64_t i = 0; i < x.numel(); ++i) x.f32()[i] += static_cast<float>((i / 20) % 3);
  const Tensor& y = bn->Forward(x, true);
  for (std::int64_t c = 0; c < 3; ++c) {
    double sum = 0.0, squares = 0.0, y_sum = 0.0, y_squares = 0.0;
    for (std::int64_t n = 0; n < 2; ++n) {
      for (std::int64_t i = 0; i < 20; ++i) {
        std::int64_t at = (n * 3 + c) * 20 + i;
        sum += x.f32()[at];
        y_sum += y.f32()[at];
        y_squares += static_cast<double>(y.f32()[at]) * y.f32()[at];
      }
    }
    double mean = sum / 40.0;
    for (std::int64_t n = 0; n < 2; ++n) {
      for (std::int64_t i = 0; i < 20; ++i) {
        double d = x.f32()[(n * 3 + c) * 20 + i] - mean;
        squares += d * d;
      }
    }
    EXPECT_NEAR(bn->Buffers()[0].second->f32()[c], momentum * mean, 1e-5);
    EXPECT_NEAR(bn->Buffers()[1].second->f32()[c], (1 - momentum) + momentum * squares / 39.0,
                1e-4);
    // The output is standardised per channel (gamma 1, beta 0).
    EXPECT_NEAR(y_sum / 40.0, 0.0, 1e-5);
    EXPECT_NEAR(y_squares / 40.0, 1.0, 1e-3);
  }
}

// ---------------------------------------------------------------------------
// One instance of every layer, with an input it accepts, for the contract tests.

struct LayerCase {
  std::string label;
  LayerFactory make;
  Shape input;
  bool kinks = false;  // input must avoid ReLU / max-pool kinks
};

std::vector<LayerCase> EveryLayer() {
  return {
      {"Linear",
       [] {
         Rng r(1);
         return MakeLinear(6, 4, r);
       },
       {3, 6}},
      {"Conv2d",
       [] {
         Rng r(1);
         return MakeConv2d(2, 3, 3, 2, 1, r);
       },
       {2, 2, 5, 5}},
      {"MaxPool2d", [] { return MakeMaxPool2d(2, 2); }, {2, 3, 4, 4}, true},
      {"AvgPool2d", [] { return MakeAvgPool2d(2, 1); }, {2, 3, 4, 4}},
      {"ReLU", MakeReLU, {3, 7}, true},
      {"GELU", MakeGELU, {3, 7}},
      {"Tanh", MakeTanh, {3, 7}},
      {"Sigmoid", MakeSigmoid, {3, 7}},
      {"Dropout", [] { return MakeDropout(0.5f, 9); }, {3, 7}},
      {"BatchNorm1d", [] { return MakeBatchNorm(7, false); }, {3, 7}},
      {"BatchNorm2d", [] { return MakeBatchNorm(3, true); }, {2, 3, 2, 2}},
      {"Flatten", MakeFlatten, {2, 3, 2, 2}},
  };
}

Tensor InputFor(const LayerCase& c, Rng& rng) {
  return c.kinks ? DistinctValues(c.input, rng) : RandomNormal(c.input, rng);
}

TEST(LayerContractTest, MakeLayerRoundTripsEveryConfig) {
  for (const LayerCase& c : EveryLayer()) {
    auto original = c.make();
    nlohmann::json config = original->config();
    auto rebuilt = MakeLayer(original->type(), config);
    EXPECT_EQ(rebuilt->type(), original->type()) << c.label;
    EXPECT_EQ(rebuilt->config(), config) << c.label;
    auto p0 = original->Parameters(), p1 = rebuilt->Parameters();
    ASSERT_EQ(p0.size(), p1.size()) << c.label;
    for (std::size_t j = 0; j < p0.size(); ++j) {
      EXPECT_EQ(p0[j]->name, p1[j]->name) << c.label;
      EXPECT_EQ(p0[j]->value.shape(), p1[j]->value.shape()) << c.label;
    }
    ASSERT_EQ(original->Buffers().size(), rebuilt->Buffers().size()) << c.label;
    // Through text too, as model.json stores it.
    auto reparsed = MakeLayer(original->type(), nlohmann::json::parse(config.dump()));
    EXPECT_EQ(reparsed->config(), config) << c.label;
  }
  // Non-default values survive.
  auto bn = MakeBatchNorm(5, true, 0.3f, 1e-3f);
  EXPECT_EQ(MakeLayer("BatchNorm2d", bn->config())->config(), bn->config());
  auto dropout = MakeDropout(0.25f, 0xfedcba9876543210ull);
  EXPECT_EQ(MakeLayer("Dropout", dropout->config())->config(), dropout->config());
}

TEST(LayerContractTest, MakeLayerRejectsBadConfigsWithErrors) {
  nlohmann::json conv = {
      {"in_channels", 1}, {"out_channels", 4}, {"kernel", 3}, {"stride", 1}, {"padding", 0}};
  ExpectErrorContaining([] { MakeLayer("Conv3d", nlohmann::json::object()); }, "known types");
  ExpectErrorContaining([] { MakeLayer("relu", nlohmann::json::object()); }, "ReLU");
  auto typo = conv;
  typo.erase("kernel");
  typo["kernal"] = 3;
  ExpectErrorContaining([&] { MakeLayer("Conv2d", typo); }, "'kernal'");
  auto missing = conv;
  missing.erase("stride");
  ExpectErrorContaining([&] { MakeLayer("Conv2d", missing); }, "missing key 'stride'");
  auto zero = conv;
  zero["kernel"] = 0;
  ExpectErrorContaining([&] { MakeLayer("Conv2d", zero); }, "'kernel' must be an integer");
  auto text = conv;
  text["padding"] = "1";
  ExpectErrorContaining([&] { MakeLayer("Conv2d", text); }, "'padding'");
  ExpectErrorContaining([] { MakeLayer("MaxPool2d", nlohmann::json::array()); }, "JSON object");
  ExpectErrorContaining([] { MakeLayer("Dropout", {{"p", 1.0}, {"seed", 1}}); }, "[0, 1)");
  ExpectErrorContaining([] { MakeLayer("Dropout", {{"p", 0.5}, {"seed", -1}}); }, "'seed'");
  ExpectErrorContaining(
      [] {
        MakeLayer("BatchNorm1d", {{"features", 4}, {"momentum", 0.1}, {"eps", 0.0}});
      },
      "eps");
  ExpectErrorContaining([] { MakeLayer("ReLU", {{"inplace", true}}); }, "'inplace'");
  // Linear's factory is not in this file; MakeLayer still promises an Error.
  EXPECT_THROW(MakeLayer("Linear", {{"in", 3}}), Error);
}

TEST(LayerContractTest, NoInputGradientWhenNotNeeded) {
  Rng rng(40);
  for (const LayerCase& c : EveryLayer()) {
    Tensor x = InputFor(c, rng);
    auto with = c.make(), without = c.make();
    without->set_input_grad_needed(false);
    Tensor dy = RandomNormal(with->Forward(x, true).shape(), rng);
    without->Forward(x, true);
    with->Backward(dy);
    const Tensor& dx = without->Backward(dy);
    EXPECT_TRUE(dx.empty()) << c.label;
    EXPECT_EQ(dx.numel(), 0) << c.label;
    // Parameter gradients are still computed.
    auto p0 = with->Parameters(), p1 = without->Parameters();
    for (std::size_t j = 0; j < p0.size(); ++j) {
      for (std::int64_t i = 0; i < p0[j]->grad.numel(); ++i) {
        ASSERT_EQ(p0[j]->grad.f32()[i], p1[j]->grad.f32()[i]) << c.label << " " << p0[j]->name;
      }
    }
  }
}

// Forward/Backward reuse their buffers once the shape has settled, recompute
// everything from the new input (no stale state), and Backward overwrites
// parameter gradients instead of accumulating them.
TEST(LayerContractTest, BuffersAreReusedAndGradsOverwritten) {
  Rng rng(41);
  for (const LayerCase& c : EveryLayer()) {
    auto layer = c.make();
    Tensor x1 = InputFor(c, rng), x2 = InputFor(c, rng);
    const Tensor& y1 = layer->Forward(x1, true);
    const void* y_storage = y1.raw();
    Tensor dy1 = RandomNormal(y1.shape(), rng);
    Tensor dy2 = RandomNormal(dy1.shape(), rng);
    const void* dx_storage = layer->Backward(dy1).raw();

    // A second step with new data, and a twice-run Backward.
    const Tensor& y = layer->Forward(x2, true);
    layer->Backward(dy2);
    const Tensor& dx = layer->Backward(dy2);
    if (c.label != "Flatten") {  // Flatten's output is a view of its input
      EXPECT_EQ(y.raw(), y_storage) << c.label;
      EXPECT_EQ(dx.raw(), dx_storage) << c.label;
    }

    // A fresh layer on x2 alone must agree. Dropout draws its second mask on
    // `layer`, so its fresh twin is stepped once first.
    auto fresh = c.make();
    if (c.label == "Dropout") fresh->Forward(x1, true);
    const Tensor& y_ref = fresh->Forward(x2, true);
    const Tensor& dx_ref = fresh->Backward(dy2);
    for (std::int64_t i = 0; i < y.numel(); ++i) ASSERT_EQ(y.f32()[i], y_ref.f32()[i]) << c.label;
    for (std::int64_t i = 0; i < dx.numel(); ++i) {
      ASSERT_EQ(dx.f32()[i], dx_ref.f32()[i]) << c.label;
    }
    auto p0 = layer->Parameters(), p1 = fresh->Parameters();
    for (std::size_t j = 0; j < p0.size(); ++j) {
      for (std::int64_t i = 0; i < p0[j]->grad.numel(); ++i) {
        ASSERT_EQ(p0[j]->grad.f32()[i], p1[j]->grad.f32()[i]) << c.label << " " << p0[j]->name;
      }
    }
  }
}

// The layers split large tensors across OpenMP threads (by plane, channel or
// element range); the split must not change a single bit of the results.
TEST(LayerContractTest, ParallelPathsMatchSerial) {
  struct Case {
    const char* label;
    LayerFactory make;
    Shape input;
  };
  // Large enough to pass every layer's threshold for going parallel.
  const Shape image{8, 16, 32, 32}, table{256, 512};
  const Case cases[] = {
      {"MaxPool2d", [] { return MakeMaxPool2d(2, 2); }, image},
      {"AvgPool2d", [] { return MakeAvgPool2d(3, 2); }, image},
      {"ReLU", MakeReLU, image},
      {"GELU", MakeGELU, image},
      {"Tanh", MakeTanh, image},
      {"Sigmoid", MakeSigmoid, image},
      {"Dropout", [] { return MakeDropout(0.5f, 3); }, image},
      {"BatchNorm2d", [] { return MakeBatchNorm(16, true); }, image},
      {"BatchNorm1d", [] { return MakeBatchNorm(512, false); }, table},
  };
  const int saved_threads = NumThreads();
  Rng rng(44);
  for (const Case& c : cases) {
    Tensor x = RandomNormal(c.input, rng);
    std::vector<Tensor> results[2];
    for (int threads : {1, 2}) {
      SetNumThreads(threads);
      auto layer = c.make();
      Tensor y = layer->Forward(x, true).Clone();
      Rng dy_rng(45);
      Tensor dx = layer->Backward(RandomNormal(y.shape(), dy_rng)).Clone();
      results[threads - 1] = {y, dx};
      for (Parameter* p : layer->Parameters()) results[threads - 1].push_back(p->grad.Clone());
    }
    for (std::size_t k = 0; k < results[0].size(); ++k) {
      const Tensor &serial = results[0][k], &parallel = results[1][k];
      ASSERT_EQ(serial.shape(), parallel.shape()) << c.label;
      std::int64_t differ = 0;
      for (std::int64_t i = 0; i < serial.numel(); ++i) {
        differ += serial.f32()[i] != parallel.f32()[i];
      }
      EXPECT_EQ(differ, 0) << c.label << " result " << k << " (y, dx, grads...)";
    }
  }
  SetNumThreads(saved_threads);
}

TEST(LayerContractTest, WrongInputShapesAreErrors) {
  Rng rng(42);
  Rng init(1);
  auto conv = MakeConv2d(3, 4, 3, 1, 0, init);
  ExpectErrorContaining([&] { conv->Forward(Tensor({2, 2, 5, 5}), true); }, "[N, 3, H, W]");
  ExpectErrorContaining([&] { conv->Forward(Tensor({2, 3, 2, 5}), true); }, "smaller than");
  ExpectErrorContaining([&] { conv->Backward(Tensor({1})); }, "before Forward");
  conv->Forward(Tensor({2, 3, 5, 5}), true);
  ExpectErrorContaining([&] { conv->Backward(Tensor({2, 4, 2, 2})); }, "[2, 4, 3, 3]");
  ExpectErrorContaining(
      [] {
        MakeMaxPool2d(3, 1)->Forward(Tensor({1, 1, 2, 4}), true);
      },
      "smaller than the window");
  ExpectErrorContaining([] { MakeAvgPool2d(2, 2)->Forward(Tensor({4, 4}), true); }, "[N, C, H, W]");
  ExpectErrorContaining([] { MakeBatchNorm(4, false)->Forward(Tensor({2, 5}), true); }, "[N, 4]");
  ExpectErrorContaining(
      [] {
        MakeBatchNorm(4, true)->Forward(Tensor({2, 4}), true);
      },
      "[N, 4, H, W]");
  ExpectErrorContaining([] { MakeFlatten()->Forward(Tensor({4}), true); }, "rank >= 2");
  ExpectErrorContaining([] { MakeReLU()->Forward(Tensor({4}, DType::kBF16), true); }, "f32");
  ExpectErrorContaining([] { MakeDropout(-0.1f, 1); }, "[0, 1)");
  ExpectErrorContaining([&] { MakeConv2d(3, 4, 3, 0, 0, rng); }, "stride");
  ExpectErrorContaining([] { MakeMaxPool2d(0, 1); }, "kernel");
}

TEST(MaxPool2dTest, RoutesGradientToTheFirstMaximumAndPropagatesNaN) {
  // Ties go to the first maximum in row-major order.
  Tensor x = Tensor::FromVector({1, 1, 2, 2}, {5, 5, 5, 1});
  auto pool = MakeMaxPool2d(2, 2);
  EXPECT_EQ(pool->Forward(x, true).f32()[0], 5.0f);
  const Tensor& dx = pool->Backward(Tensor::FromVector({1, 1, 1, 1}, {2}));
  EXPECT_EQ(dx.f32()[0], 2.0f);
  EXPECT_EQ(dx.f32()[1], 0.0f);
  EXPECT_EQ(dx.f32()[2], 0.0f);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(
      std::isnan(pool->Forward(Tensor::FromVector({1, 1, 2, 2}, {1, nan, 3, 2}), false).f32()[0]));
}

// MaxPool2d(2, 2) has a fast path of its own; it must pick what a plain scan
// of each window picks (first maximum on ties, NaN wins), odd sizes included.
TEST(MaxPool2dTest, TwoByTwoFastPathEqualsAPlainScan) {
  Rng rng(7);
  Tensor x = RandomNormal({2, 3, 7, 9}, rng);
  for (std::int64_t i = 0; i < x.numel(); i += 5) x.f32()[i] = 0.5f;  // ties
  x.f32()[20] = std::numeric_limits<float>::quiet_NaN();
  auto pool = MakeMaxPool2d(2, 2);
  const Tensor& y = pool->Forward(x, true);
  ASSERT_EQ(y.shape(), (Shape{2, 3, 3, 4}));
  Tensor dy(y.shape());
  dy.Fill(1.0f);
  const Tensor& dx = pool->Backward(dy);
  Tensor expected_dx(x.shape());
  for (std::int64_t p = 0; p < 6; ++p) {
    for (std::int64_t oy = 0; oy < 3; ++oy) {
      for (std::int64_t ox = 0; ox < 4; ++ox) {
        std::int64_t best_at = p * 63 + 2 * oy * 9 + 2 * ox;
        for (std::int64_t k = 0; k < 4; ++k) {
          const std::int64_t at = p * 63 + (2 * oy + k / 2) * 9 + 2 * ox + k % 2;
          if (x.f32()[at] > x.f32()[best_at] || std::isnan(x.f32()[at])) best_at = at;
        }
        const float got = y.f32()[(p * 3 + oy) * 4 + ox];
        if (std::isnan(x.f32()[best_at])) {
          EXPECT_TRUE(std::isnan(got));
        } else {
          EXPECT_EQ(got, x.f32()[best_at]);
        }
        expected_dx.f32()[best_at] += 1.0f;
      }
    }
  }
  for (std::int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(dx.f32()[i], expected_dx.f32()[i]) << i;
}

TEST(FlattenTest, KeepsTheBatchAndRestoresTheInputShape) {
  Rng rng(43);
  Tensor x = RandomNormal({2, 3, 4, 5}, rng);
  auto flatten = MakeFlatten();
  const Tensor& y = flatten->Forward(x, true);
  EXPECT_EQ(y.shape(), (Shape{2, 60}));
  EXPECT_EQ(y.f32()[61], x.f32()[61]);
  EXPECT_EQ(flatten->Backward(RandomNormal({2, 60}, rng)).shape(), x.shape());
}

TEST(ForwardFlops, CountsTheMultiplyAddsOfLinearAndConvLayers) {
  Rng rng(1);
  // The mlp: 784-256-128-10, by hand.
  Sequential mlp = MakeModel("mlp", {64, 784}, 10, rng);
  EXPECT_EQ(ForwardFlops(mlp, {64, 784}), 2 * (784 * 256 + 256 * 128 + 128 * 10));
  // A 3x3 convolution 2->4 without padding on 6x6: 4x4x4 outputs of 2x3x3
  // multiply-adds each; then a Linear 64->5. Pooling and ReLU are free.
  Sequential conv;
  conv.Add(MakeConv2d(2, 4, 3, 1, 0, rng));
  conv.Add(MakeReLU());
  conv.Add(MakeFlatten());
  conv.Add(MakeLinear(64, 5, rng));
  EXPECT_EQ(ForwardFlops(conv, {8, 2, 6, 6}), 2 * (4 * 4 * 4 * 2 * 3 * 3) + 2 * 64 * 5);
  // A stride-2 convolution has a quarter of the outputs.
  Sequential strided;
  strided.Add(MakeConv2d(1, 1, 3, 2, 1, rng));
  EXPECT_EQ(ForwardFlops(strided, {1, 1, 8, 8}), 2 * (4 * 4) * 9);
}

}  // namespace
}  // namespace joule

namespace joule {
namespace {

// Softmax (for imported ONNX models): rows sum to 1, it is unchanged by a
// per-row shift, and its backward matches finite differences.
TEST(SoftmaxLayerTest, RowsAreDistributionsAndGradientsMatch) {
  Rng rng(41);
  const Tensor x = RandomNormal({3, 5}, rng, 3.0f);
  auto layer = MakeSoftmax();
  const Tensor y = layer->Forward(x, false).Clone();
  Tensor shifted = x.Clone();
  for (std::int64_t k = 0; k < 5; ++k) shifted.f32()[k] += 100.0f;  // row 0 only
  const Tensor& ys = layer->Forward(shifted, false);
  for (int r = 0; r < 3; ++r) {
    double sum = 0;
    for (int c = 0; c < 5; ++c) sum += y.f32()[r * 5 + c];
    EXPECT_NEAR(sum, 1.0, 1e-6);
  }
  for (int c = 0; c < 5; ++c) EXPECT_NEAR(ys.f32()[c], y.f32()[c], 1e-6);
  EXPECT_EQ(MakeLayer("Softmax", nlohmann::json::object())->type(), "Softmax");
  ExpectGradientsMatch([] { return MakeSoftmax(); }, x, 1e-3, "Softmax", 7);
}

}  // namespace
}  // namespace joule
