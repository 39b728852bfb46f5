// Losses: values against hand computations, gradients against central finite
// differences, numerical stability at extreme inputs, and the errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "joule/nn.hpp"

namespace joule {
namespace {

using ::testing::HasSubstr;

// Largest |analytic - numeric| over the largest |numeric| of one gradient.
// The loss values are accumulated in double from f32 inputs, so the finite
// differences are accurate to ~1e-9 and the f32 gradients set the error
// (measured: ~8e-8 for MSE, MAE and Huber, 2e-7 for log-cosh, whose third
// derivative adds truncation error). Cross-entropy's exps are f32 inside the
// value (measured 3e-6). Each bound is about ten times the measured error.
constexpr double kGradTolMse = 1e-6;
constexpr double kGradTolMae = 1e-6;
constexpr double kGradTolHuber = 1e-6;
constexpr double kGradTolLogCosh = 2e-6;
constexpr double kGradTolCrossEntropy = 3e-5;
// Loss values against the hand computations below (double vs f32 inputs).
constexpr double kValueTol = 1e-6;

Tensor Vec(const std::vector<float>& v) {
  return Tensor::FromVector({static_cast<std::int64_t>(v.size())}, v);
}

// Central differences of loss.Compute with respect to every element of pred.
// The step actually taken is (x + h) - (x - h) as rounded in f32, which is
// what the denominator uses.
double MaxRelativeGradError(Loss& loss, Tensor pred, const Tensor& target, float h) {
  Tensor grad;
  loss.Compute(pred, target, grad);
  Tensor scratch;
  double max_diff = 0.0, max_ref = 0.0;
  for (std::int64_t i = 0; i < pred.numel(); ++i) {
    const float x = pred.f32()[i];
    const float xp = x + h, xm = x - h;
    pred.f32()[i] = xp;
    const double lp = loss.Compute(pred, target, scratch);
    pred.f32()[i] = xm;
    const double lm = loss.Compute(pred, target, scratch);
    pred.f32()[i] = x;
    const double numeric = (lp - lm) / (static_cast<double>(xp) - xm);
    max_diff = std::max(max_diff, std::fabs(numeric - grad.f32()[i]));
    max_ref = std::max(max_ref, std::fabs(numeric));
  }
  return max_diff / std::max(max_ref, 1e-12);
}

// --- values by hand ---------------------------------------------------------

TEST(LossesTest, MseByHand) {
  auto loss = MakeMse();
  Tensor grad;
  // r = pred - target = [1, 0, 3]; mean r^2 = (1 + 0 + 9) / 3; grad = 2 r / 3.
  double value = loss->Compute(Vec({1, 2, 4}), Vec({0, 2, 1}), grad);
  EXPECT_NEAR(value, 10.0 / 3.0, kValueTol);
  ASSERT_EQ(grad.shape(), Shape({3}));
  EXPECT_NEAR(grad.f32()[0], 2.0 / 3.0, 1e-7);
  EXPECT_NEAR(grad.f32()[1], 0.0, 1e-7);
  EXPECT_NEAR(grad.f32()[2], 2.0, 1e-7);
}

TEST(LossesTest, MaeByHandWithZeroSubgradientAtZero) {
  auto loss = MakeMae();
  Tensor grad;
  // r = [1, -1, 3, 0]; mean |r| = 5 / 4; grad = sign(r) / 4, 0 at r == 0.
  double value = loss->Compute(Vec({1, 2, 4, 5}), Vec({0, 3, 1, 5}), grad);
  EXPECT_NEAR(value, 5.0 / 4.0, kValueTol);
  EXPECT_FLOAT_EQ(grad.f32()[0], 0.25f);
  EXPECT_FLOAT_EQ(grad.f32()[1], -0.25f);
  EXPECT_FLOAT_EQ(grad.f32()[2], 0.25f);
  EXPECT_EQ(grad.f32()[3], 0.0f);
}

TEST(LossesTest, HuberByHand) {
  auto loss = MakeHuber(1.0);
  Tensor grad;
  // r = [0.5, -2, 3], delta 1: 0.5 * 0.25 = 0.125 (quadratic), 1 * (2 - 0.5) =
  // 1.5 and 1 * (3 - 0.5) = 2.5 (linear); mean = 4.125 / 3 = 1.375.
  // grad = [0.5, -1, 1] / 3.
  double value = loss->Compute(Vec({0.5f, 0, 4}), Vec({0, 2, 1}), grad);
  EXPECT_NEAR(value, 1.375, kValueTol);
  EXPECT_NEAR(grad.f32()[0], 0.5 / 3, 1e-7);
  EXPECT_NEAR(grad.f32()[1], -1.0 / 3, 1e-7);
  EXPECT_NEAR(grad.f32()[2], 1.0 / 3, 1e-7);

  // delta 2: r = 3 gives 2 * (3 - 1) = 4 and slope 2; r = 1.5 gives 1.125.
  auto wide = MakeHuber(2.0);
  value = wide->Compute(Vec({3, 1.5f}), Vec({0, 0}), grad);
  EXPECT_NEAR(value, (4.0 + 1.125) / 2, kValueTol);
  EXPECT_NEAR(grad.f32()[0], 1.0, 1e-7);
  EXPECT_NEAR(grad.f32()[1], 0.75, 1e-7);
}

TEST(LossesTest, LogCoshByHand) {
  auto loss = MakeLogCosh();
  Tensor grad;
  // r = [0, 1, -2]: the definition log(cosh r) directly, fine at these sizes.
  double value = loss->Compute(Vec({0, 1, -2}), Vec({0, 0, 0}), grad);
  double expected =
      (std::log(std::cosh(0.0)) + std::log(std::cosh(1.0)) + std::log(std::cosh(-2.0))) / 3;
  EXPECT_NEAR(value, expected, kValueTol);
  EXPECT_NEAR(grad.f32()[0], 0.0, 1e-7);
  EXPECT_NEAR(grad.f32()[1], std::tanh(1.0) / 3, 1e-7);
  EXPECT_NEAR(grad.f32()[2], std::tanh(-2.0) / 3, 1e-7);
}

TEST(LossesTest, LogCoshStaysFiniteWhereCoshOverflows) {
  auto loss = MakeLogCosh();
  Tensor grad;
  // cosh(1000) overflows even in double; log cosh r -> |r| - log 2.
  double value = loss->Compute(Vec({1000, -1000}), Vec({0, 0}), grad);
  EXPECT_NEAR(value, 1000.0 - std::log(2.0), 1e-9);
  EXPECT_FLOAT_EQ(grad.f32()[0], 0.5f);
  EXPECT_FLOAT_EQ(grad.f32()[1], -0.5f);
}

TEST(LossesTest, CrossEntropyByHand) {
  auto loss = MakeSoftmaxCrossEntropy();
  Tensor grad;
  // Row 0: logits [1, 2, 3], class 2: log(e + e^2 + e^3) - 3.
  // Row 1: logits [0, 0, 0], class 0: log 3.
  Tensor logits = Tensor::FromVector({2, 3}, {1, 2, 3, 0, 0, 0});
  double value = loss->Compute(logits, Vec({2, 0}), grad);
  const double sum0 = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(value, ((std::log(sum0) - 3) + std::log(3.0)) / 2, kValueTol);
  // grad = (softmax - onehot) / B.
  ASSERT_EQ(grad.shape(), Shape({2, 3}));
  EXPECT_NEAR(grad.f32()[0], std::exp(1.0) / sum0 / 2, 1e-7);
  EXPECT_NEAR(grad.f32()[1], std::exp(2.0) / sum0 / 2, 1e-7);
  EXPECT_NEAR(grad.f32()[2], (std::exp(3.0) / sum0 - 1) / 2, 1e-7);
  EXPECT_NEAR(grad.f32()[3], (1.0 / 3 - 1) / 2, 1e-7);
  EXPECT_NEAR(grad.f32()[4], 1.0 / 3 / 2, 1e-7);
  EXPECT_NEAR(grad.f32()[5], 1.0 / 3 / 2, 1e-7);
}

TEST(LossesTest, CrossEntropyIsStableForHugeLogits) {
  auto loss = MakeSoftmaxCrossEntropy();
  Tensor grad;
  // Without max-subtraction exp(1000) is inf and these are NaN.
  Tensor logits = Tensor::FromVector({3, 3}, {1000, 0, -1000,       // right and sure: loss ~ 0
                                              1000, 0, -1000,       // wrong and sure: loss 2000
                                              1000, 1000, -1000});  // a tie: log 2
  double value = loss->Compute(logits, Vec({0, 2, 1}), grad);
  EXPECT_NEAR(value, (0.0 + 2000.0 + std::log(2.0)) / 3, 1e-6);
  for (std::int64_t i = 0; i < grad.numel(); ++i) ASSERT_TRUE(std::isfinite(grad.f32()[i]));
  EXPECT_NEAR(grad.f32()[0], 0.0, 1e-7);
  EXPECT_NEAR(grad.f32()[3], 1.0 / 3, 1e-7);
  EXPECT_NEAR(grad.f32()[5], -1.0 / 3, 1e-7);
  EXPECT_NEAR(grad.f32()[6], 0.5 / 3, 1e-7);
  EXPECT_NEAR(grad.f32()[7], -0.5 / 3, 1e-7);
}

TEST(LossesTest, RegressionAcceptsColumnPredAndTarget) {
  auto loss = MakeMse();
  Tensor grad;
  Tensor pred = Tensor::FromVector({2, 1}, {1, 3});
  double value = loss->Compute(pred, Tensor::FromVector({2, 1}, {0, 0}), grad);
  EXPECT_NEAR(value, 5.0, kValueTol);
  EXPECT_EQ(grad.shape(), Shape({2, 1}));
}

TEST(LossesTest, ReusesGradStorage) {
  auto loss = MakeMse();
  Tensor grad({3});
  const void* storage = grad.raw();
  loss->Compute(Vec({1, 2, 3}), Vec({0, 0, 0}), grad);
  EXPECT_EQ(grad.raw(), storage);
}

// --- gradients against finite differences ------------------------------------

struct RegressionCase {
  Tensor pred, target;
};

// Random batches whose residuals stay at least `margin` away from each kink.
RegressionCase RandomRegression(Rng& rng, std::int64_t batch, bool column,
                                const std::function<bool(float)>& residual_ok) {
  std::vector<float> pred, target;
  for (std::int64_t b = 0; b < batch; ++b) {
    float t = 4 * rng.Uniform() - 2, r;
    do {
      r = 6 * rng.Uniform() - 3;
    } while (!residual_ok(r));
    target.push_back(t);
    pred.push_back(t + r);
  }
  Shape shape = column ? Shape{batch, 1} : Shape{batch};
  return {Tensor::FromVector(shape, pred), Vec(target)};
}

TEST(LossesTest, RegressionGradientsMatchFiniteDifferences) {
  Rng rng(7);
  const float h = 1e-3f;
  for (int trial = 0; trial < 8; ++trial) {
    const auto batch = static_cast<std::int64_t>(1 + rng.Below(16));
    const bool column = trial % 2 == 1;
    SCOPED_TRACE("batch " + std::to_string(batch) + (column ? " [B, 1]" : " [B]"));

    auto any = [](float) { return true; };
    auto mse = RandomRegression(rng, batch, column, any);
    EXPECT_LT(MaxRelativeGradError(*MakeMse(), mse.pred, mse.target, h), kGradTolMse);

    // |r| is the kink of MAE.
    auto mae = RandomRegression(rng, batch, column, [](float r) { return std::fabs(r) > 0.05f; });
    EXPECT_LT(MaxRelativeGradError(*MakeMae(), mae.pred, mae.target, h), kGradTolMae);

    // Huber's second derivative jumps at |r| == delta.
    const double delta = 0.5 + rng.Uniform();
    auto huber = RandomRegression(
        rng, batch, column, [delta](float r) { return std::fabs(std::fabs(r) - delta) > 0.05; });
    EXPECT_LT(MaxRelativeGradError(*MakeHuber(delta), huber.pred, huber.target, h), kGradTolHuber);

    auto logcosh = RandomRegression(rng, batch, column, any);
    EXPECT_LT(MaxRelativeGradError(*MakeLogCosh(), logcosh.pred, logcosh.target, h),
              kGradTolLogCosh);
  }
}

TEST(LossesTest, AnnealedHuberGradientMatchesFiniteDifferencesAtEachDelta) {
  Rng rng(5);
  const float h = 1e-3f;
  auto loss = MakeAnnealedHuber(3.0);
  // The delta is moved between checks, as the trainer moves it between
  // batches; at each fixed delta the gradient must be Huber's.
  for (double delta : {3.0, 1.0, 0.3, 0.1}) {
    loss->set_delta(delta);
    ASSERT_EQ(loss->delta(), delta);
    for (int trial = 0; trial < 4; ++trial) {
      const auto batch = static_cast<std::int64_t>(1 + rng.Below(16));
      auto data = RandomRegression(rng, batch, trial % 2 == 1, [delta](float r) {
        return std::fabs(std::fabs(r) - delta) > 0.05;
      });
      EXPECT_LT(MaxRelativeGradError(*loss, data.pred, data.target, h), kGradTolHuber)
          << "delta " << delta;
    }
  }
}

TEST(LossesTest, AnnealedHuberAtAFixedDeltaIsBitwiseHuber) {
  Rng rng(9);
  auto data = RandomRegression(rng, 16, false, [](float) { return true; });
  auto annealed = MakeAnnealedHuber(5.0);
  for (double delta : {0.2, 1.0, 4.0}) {
    annealed->set_delta(delta);
    Tensor g1, g2;
    double v1 = annealed->Compute(data.pred, data.target, g1);
    double v2 = MakeHuber(delta)->Compute(data.pred, data.target, g2);
    EXPECT_EQ(v1, v2) << delta;
    for (std::int64_t i = 0; i < g1.numel(); ++i) EXPECT_EQ(g1.f32()[i], g2.f32()[i]) << i;
  }
  // A large delta is MSE / 2 (every residual quadratic); a small one is
  // about delta x MAE.
  annealed->set_delta(1e6);
  Tensor g;
  EXPECT_NEAR(annealed->Compute(Vec({1, 2, 4}), Vec({0, 2, 1}), g), 10.0 / 3.0 / 2.0, kValueTol);
  annealed->set_delta(1e-3);
  EXPECT_NEAR(annealed->Compute(Vec({1, 2, 4}), Vec({0, 2, 1}), g),
              1e-3 * (4.0 / 3.0) - 0.5e-6 * 2.0 / 3.0, 1e-9);
}

TEST(LossesTest, AnnealedHuberRejectsABadDeltaAndKeepsTheOldOne) {
  auto loss = MakeAnnealedHuber(2.0);
  for (double delta : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN(),
                       std::numeric_limits<double>::infinity()}) {
    EXPECT_THROW(loss->set_delta(delta), Error) << delta;
    EXPECT_THROW(MakeAnnealedHuber(delta), Error) << delta;
  }
  EXPECT_EQ(loss->delta(), 2.0);
  EXPECT_EQ(MakeLoss("annealed-huber", 0.5)->name(), "annealed-huber");
}

TEST(LossesTest, CrossEntropyGradientMatchesFiniteDifferences) {
  Rng rng(11);
  for (int trial = 0; trial < 8; ++trial) {
    const auto batch = static_cast<std::int64_t>(1 + rng.Below(8));
    const auto classes = static_cast<std::int64_t>(2 + rng.Below(11));
    SCOPED_TRACE("logits [" + std::to_string(batch) + ", " + std::to_string(classes) + "]");
    Tensor logits({batch, classes});
    for (std::int64_t i = 0; i < logits.numel(); ++i) logits.f32()[i] = 3 * rng.Normal();
    std::vector<float> labels;
    for (std::int64_t b = 0; b < batch; ++b) {
      labels.push_back(static_cast<float>(rng.Below(static_cast<std::uint64_t>(classes))));
    }
    EXPECT_LT(MaxRelativeGradError(*MakeSoftmaxCrossEntropy(), logits, Vec(labels), 1e-2f),
              kGradTolCrossEntropy);
  }
}

// --- errors -------------------------------------------------------------------

TEST(LossesTest, MakeLossKnowsEveryNameAndListsThemOnError) {
  for (const char* name : {"cross-entropy", "mse", "mae", "huber", "log-cosh", "annealed-huber"}) {
    EXPECT_EQ(MakeLoss(name)->name(), name);
  }
  try {
    MakeLoss("l2");
    FAIL() << "no Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("'l2'"));
    EXPECT_THAT(e.what(), HasSubstr("cross-entropy, mse, mae, huber, log-cosh, annealed-huber"));
  }
}

TEST(LossesTest, HuberRejectsNonPositiveDelta) {
  for (double delta : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN(),
                       std::numeric_limits<double>::infinity()}) {
    EXPECT_THROW(MakeHuber(delta), Error) << delta;
    EXPECT_THROW(MakeLoss("huber", delta), Error) << delta;
  }
}

TEST(LossesTest, CrossEntropyRejectsBadClassIds) {
  auto loss = MakeSoftmaxCrossEntropy();
  Tensor logits({2, 3}), grad;
  for (float bad : {3.0f, -1.0f, 1.5f, std::numeric_limits<float>::quiet_NaN()}) {
    try {
      loss->Compute(logits, Vec({0, bad}), grad);
      FAIL() << "no Error for class id " << bad;
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr("target[1]"));
      EXPECT_THAT(e.what(), HasSubstr("[0, 2]"));
    }
  }
}

TEST(LossesTest, ShapeErrorsNameTheShapes) {
  Tensor grad;
  try {
    MakeSoftmaxCrossEntropy()->Compute(Tensor({4, 3}), Vec({0, 1, 2}), grad);
    FAIL() << "no Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("[3]"));
    EXPECT_THAT(e.what(), HasSubstr("[4, 3]"));
  }
  try {
    MakeSoftmaxCrossEntropy()->Compute(Tensor({4}), Vec({0, 1, 2, 0}), grad);
    FAIL() << "no Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("[B, C]"));
  }
  try {
    MakeMse()->Compute(Tensor({4, 2}), Vec({0, 1, 2, 3}), grad);
    FAIL() << "no Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("[4, 2]"));
  }
  EXPECT_THROW(MakeMae()->Compute(Tensor({4}), Vec({0, 1}), grad), Error);
  EXPECT_THROW(MakeHuber(1)->Compute(Tensor(Shape{0}), Tensor(Shape{0}), grad), Error);
  EXPECT_THROW(MakeLogCosh()->Compute(Tensor({2}, DType::kBF16), Vec({0, 1}), grad), Error);
}

}  // namespace
}  // namespace joule
