// Optimizers: a few steps on tiny problems against arithmetic written out by
// hand, Adam's convergence on a quadratic, the state, and the errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "joule/nn.hpp"

namespace joule {
namespace {

using ::testing::HasSubstr;

// The optimizers compute in f32; the hand values are exact decimals or
// double arithmetic.
constexpr double kStepTol = 1e-6;

Parameter MakeParam(const std::vector<float>& values) {
  const Shape shape{static_cast<std::int64_t>(values.size())};
  return Parameter{"w", Tensor::FromVector(shape, values), Tensor(shape)};
}

// grad = p: the gradient of 0.5 * |p|^2.
void GradIsValue(Parameter& p) { p.grad.CopyFrom(p.value); }

std::unique_ptr<Optimizer> Make(const std::string& kind, double lr, double momentum = 0.0,
                                bool nesterov = false, double weight_decay = 0.0) {
  OptimizerConfig c;
  c.kind = kind;
  c.lr = lr;
  c.momentum = momentum;
  c.nesterov = nesterov;
  c.weight_decay = weight_decay;
  return MakeOptimizer(c);
}

// --- SGD --------------------------------------------------------------------

TEST(OptimizersTest, PlainSgdByHand) {
  // g = p, lr 0.1: p <- p - 0.1 p = 0.9 p each step.
  Parameter p = MakeParam({1, -2});
  auto opt = Make("sgd", 0.1);
  std::vector<Parameter*> params{&p};
  for (double expected : {0.9, 0.81}) {
    GradIsValue(p);
    opt->Step(params);
    EXPECT_NEAR(p.value.f32()[0], expected, kStepTol);
    EXPECT_NEAR(p.value.f32()[1], -2 * expected, kStepTol);
  }
  // No momentum, no buffers: only the step counter.
  ASSERT_EQ(opt->State().size(), 1u);
  EXPECT_EQ(opt->State()[0].first, "step");
}

TEST(OptimizersTest, SgdWeightDecayByHand) {
  // d = g + 0.1 p = 1.1 p; p <- p - 0.1 * 1.1 p = 0.89 p; then 0.89^2 = 0.7921.
  Parameter p = MakeParam({1});
  auto opt = Make("sgd", 0.1, 0.0, false, 0.1);
  std::vector<Parameter*> params{&p};
  for (double expected : {0.89, 0.7921}) {
    GradIsValue(p);
    opt->Step(params);
    EXPECT_NEAR(p.value.f32()[0], expected, kStepTol);
  }
}

TEST(OptimizersTest, SgdMomentumByHand) {
  // mu 0.9, lr 0.1, g = p, p0 = 1 (PyTorch: the buffer starts as the first d):
  //   step 1: d = 1,    buf = 1,                  p = 1 - 0.1 * 1       = 0.9
  //   step 2: d = 0.9,  buf = 0.9 * 1 + 0.9 = 1.8, p = 0.9 - 0.1 * 1.8  = 0.72
  //   step 3: d = 0.72, buf = 0.9 * 1.8 + 0.72 = 2.34, p = 0.72 - 0.234 = 0.486
  // The second element starts at -2 and, the problem being linear, scales.
  Parameter p = MakeParam({1, -2});
  auto opt = Make("sgd", 0.1, 0.9);
  std::vector<Parameter*> params{&p};
  for (double expected : {0.9, 0.72, 0.486}) {
    GradIsValue(p);
    opt->Step(params);
    EXPECT_NEAR(p.value.f32()[0], expected, kStepTol);
    EXPECT_NEAR(p.value.f32()[1], -2 * expected, kStepTol);
  }
  auto state = opt->State();
  ASSERT_EQ(state.size(), 2u);
  EXPECT_EQ(state[0].first, "0.momentum");
  EXPECT_NEAR(state[0].second->f32()[0], 2.34, kStepTol);
  EXPECT_NEAR(state[0].second->f32()[1], -4.68, kStepTol);
  EXPECT_EQ(state[1].first, "step");
  EXPECT_EQ(*state[1].second->data<std::int32_t>(), 3);
}

TEST(OptimizersTest, SgdNesterovByHand) {
  // mu 0.9, lr 0.1, g = p, p0 = 1; update = d + mu * buf:
  //   step 1: d = 1, buf = 1, update = 1 + 0.9 = 1.9, p = 1 - 0.19 = 0.81
  //   step 2: d = 0.81, buf = 0.9 + 0.81 = 1.71, update = 0.81 + 1.539 = 2.349,
  //           p = 0.81 - 0.2349 = 0.5751
  //   step 3: d = 0.5751, buf = 1.539 + 0.5751 = 2.1141,
  //           update = 0.5751 + 0.9 * 2.1141 = 2.47779, p = 0.5751 - 0.247779 = 0.327321
  Parameter p = MakeParam({1});
  auto opt = Make("sgd", 0.1, 0.9, true);
  std::vector<Parameter*> params{&p};
  for (double expected : {0.81, 0.5751, 0.327321}) {
    GradIsValue(p);
    opt->Step(params);
    EXPECT_NEAR(p.value.f32()[0], expected, kStepTol);
  }
}

TEST(OptimizersTest, SgdMomentumWithWeightDecayByHand) {
  // g = 0, wd 0.1 so d = 0.1 p; mu 0.9, lr 0.1, p0 = 1:
  //   step 1: d = 0.1, buf = 0.1, p = 1 - 0.01 = 0.99
  //   step 2: d = 0.099, buf = 0.09 + 0.099 = 0.189, p = 0.99 - 0.0189 = 0.9711
  Parameter p = MakeParam({1});
  auto opt = Make("sgd", 0.1, 0.9, false, 0.1);
  std::vector<Parameter*> params{&p};
  for (double expected : {0.99, 0.9711}) {
    p.grad.Zero();
    opt->Step(params);
    EXPECT_NEAR(p.value.f32()[0], expected, kStepTol);
  }
}

TEST(OptimizersTest, SetLrTakesEffectAtTheNextStep) {
  Parameter p = MakeParam({1});
  auto opt = Make("sgd", 0.1);
  std::vector<Parameter*> params{&p};
  opt->set_lr(0.5);
  EXPECT_EQ(opt->lr(), 0.5);
  GradIsValue(p);
  opt->Step(params);
  EXPECT_NEAR(p.value.f32()[0], 0.5, kStepTol);
}

// --- Adam and AdamW ---------------------------------------------------------

// Grads 0.2 then -0.4 on p0 = 1; lr 0.1, beta1 0.9, beta2 0.999, eps 1e-8.
// A second element has grad 0 throughout and must not move (0 / (0 + eps)).
struct AdamHand {
  // step 1: m = 0.1 * 0.2 = 0.02, v = 0.001 * 0.04 = 4e-5; bias corrections
  // 1 - 0.9 = 0.1 and 1 - 0.999 = 0.001, so m^ = 0.2, v^ = 0.04, sqrt = 0.2.
  static double Update1() { return 0.1 * (0.02 / 0.1) / (std::sqrt(4e-5 / 0.001) + 1e-8); }
  // step 2: m = 0.9 * 0.02 + 0.1 * -0.4 = -0.022,
  //         v = 0.999 * 4e-5 + 0.001 * 0.16 = 1.9996e-4,
  //         corrections 1 - 0.81 = 0.19 and 1 - 0.998001 = 0.001999.
  static double Update2() {
    const double m = 0.9 * 0.02 + 0.1 * -0.4;
    const double v = 0.999 * 4e-5 + 0.001 * 0.16;
    return 0.1 * (m / 0.19) / (std::sqrt(v / 0.001999) + 1e-8);
  }
};

void RunTwoAdamSteps(Optimizer& opt, Parameter& p, std::vector<double> expected) {
  std::vector<Parameter*> params{&p};
  const float grads[2] = {0.2f, -0.4f};
  for (int step = 0; step < 2; ++step) {
    p.grad.f32()[0] = grads[step];
    p.grad.f32()[1] = 0.0f;
    opt.Step(params);
    EXPECT_NEAR(p.value.f32()[0], expected[static_cast<std::size_t>(step)], kStepTol)
        << "step " << step + 1;
    EXPECT_EQ(p.value.f32()[1], 3.0f);
  }
}

TEST(OptimizersTest, AdamByHand) {
  Parameter p = MakeParam({1, 3});
  auto opt = Make("adam", 0.1);
  const double p1 = 1 - AdamHand::Update1();  // 0.9 (up to eps)
  const double p2 = p1 - AdamHand::Update2();
  RunTwoAdamSteps(*opt, p, {p1, p2});
  EXPECT_NEAR(p1, 0.9, 1e-7);
  EXPECT_GT(p2, p1);  // the second gradient is negative

  auto state = opt->State();
  ASSERT_EQ(state.size(), 3u);
  EXPECT_EQ(state[0].first, "0.exp_avg");
  EXPECT_NEAR(state[0].second->f32()[0], -0.022, 1e-8);
  EXPECT_EQ(state[1].first, "0.exp_avg_sq");
  EXPECT_NEAR(state[1].second->f32()[0], 1.9996e-4, 1e-10);
  EXPECT_EQ(state[2].first, "step");
  EXPECT_EQ(*state[2].second->data<std::int32_t>(), 2);
}

TEST(OptimizersTest, AdamL2WeightDecayByHand) {
  // wd 0.1 is added to the gradient: g1 = 0.2 + 0.1 * 1 = 0.3, so step 1 still
  // moves by lr (m^ / sqrt(v^) = 1): p1 = 0.9.
  // step 2: g2 = -0.4 + 0.1 * 0.9 = -0.31; m = 0.9 * 0.03 + 0.1 * -0.31 = -0.004,
  //         v = 0.999 * 9e-5 + 0.001 * 0.0961 = 1.8601e-4.
  Parameter p = MakeParam({1, 0});
  OptimizerConfig c;
  c.kind = "adam";
  c.lr = 0.1;
  c.weight_decay = 0.1;
  auto opt = MakeOptimizer(c);
  std::vector<Parameter*> params{&p};
  p.grad.f32()[0] = 0.2f;
  opt->Step(params);
  const double p1 = 1 - 0.1 * (0.03 / 0.1) / (std::sqrt(9e-5 / 0.001) + 1e-8);
  EXPECT_NEAR(p.value.f32()[0], p1, kStepTol);
  p.grad.f32()[0] = -0.4f;
  opt->Step(params);
  const double m = 0.9 * 0.03 + 0.1 * -0.31, v = 0.999 * 9e-5 + 0.001 * 0.0961;
  const double p2 = p1 - 0.1 * (m / 0.19) / (std::sqrt(v / 0.001999) + 1e-8);
  EXPECT_NEAR(p.value.f32()[0], p2, kStepTol);
}

TEST(OptimizersTest, AdamWDecouplesWeightDecayByHand) {
  // AdamW, wd 0.1, lr 0.1: p is first scaled by 1 - 0.1 * 0.1 = 0.99, then the
  // plain Adam update (moments from the raw gradients) is subtracted:
  //   p1 = 1 * 0.99 - update1,  p2 = p1 * 0.99 - update2.
  // The element with zero gradient only decays: 3 * 0.99, then 3 * 0.9801.
  Parameter p = MakeParam({1, 3});
  OptimizerConfig c;
  c.kind = "adamw";
  c.lr = 0.1;
  c.weight_decay = 0.1;
  auto opt = MakeOptimizer(c);
  std::vector<Parameter*> params{&p};
  const double p1 = 0.99 - AdamHand::Update1();
  const double p2 = p1 * 0.99 - AdamHand::Update2();
  p.grad.f32()[0] = 0.2f;
  opt->Step(params);
  EXPECT_NEAR(p.value.f32()[0], p1, kStepTol);
  EXPECT_NEAR(p.value.f32()[1], 2.97, kStepTol);
  p.grad.f32()[0] = -0.4f;
  opt->Step(params);
  EXPECT_NEAR(p.value.f32()[0], p2, kStepTol);
  EXPECT_NEAR(p.value.f32()[1], 2.9403, kStepTol);
}

TEST(OptimizersTest, AdamConvergesOnAQuadratic) {
  // f(p) = sum_i a_i (p_i - c_i)^2, curvatures 100x apart.
  const std::vector<float> a = {1.0f, 10.0f, 0.1f}, c = {3.0f, -1.0f, 0.5f};
  Parameter p = MakeParam({0, 0, 0});
  OptimizerConfig config;
  config.kind = "adam";
  config.lr = 0.05;
  auto opt = MakeOptimizer(config);
  std::vector<Parameter*> params{&p};
  for (int step = 0; step < 2000; ++step) {
    for (std::size_t i = 0; i < 3; ++i) p.grad.f32()[i] = 2 * a[i] * (p.value.f32()[i] - c[i]);
    opt->Step(params);
  }
  for (std::size_t i = 0; i < 3; ++i) EXPECT_NEAR(p.value.f32()[i], c[i], 1e-3) << i;
}

TEST(OptimizersTest, RestoredStateContinuesTheSameTrajectory) {
  // Run A for 3 steps. Run B for 2 steps on its own, then copy A's state
  // after 2 steps into it: both must then take the same third step, bit for
  // bit, which holds only if State() exposes everything (the step counter
  // included, for Adam's bias correction).
  for (const char* kind : {"sgd", "adam", "adamw"}) {
    SCOPED_TRACE(kind);
    OptimizerConfig c;
    c.kind = kind;
    c.lr = 0.05;
    c.weight_decay = 0.01;
    auto a = MakeOptimizer(c), b = MakeOptimizer(c);
    Parameter pa = MakeParam({1, -1, 0.5f}), pb = MakeParam({7, 7, 7});
    std::vector<Parameter*> params_a{&pa}, params_b{&pb};
    for (int step = 0; step < 2; ++step) {
      GradIsValue(pa);
      a->Step(params_a);
      pb.grad.Fill(1.0f);
      b->Step(params_b);
    }
    auto sa = a->State(), sb = b->State();
    ASSERT_EQ(sa.size(), sb.size());
    for (std::size_t i = 0; i < sa.size(); ++i) {
      ASSERT_EQ(sa[i].first, sb[i].first);
      sb[i].second->CopyFrom(*sa[i].second);
    }
    pb.value.CopyFrom(pa.value);
    GradIsValue(pa);
    GradIsValue(pb);
    a->Step(params_a);
    b->Step(params_b);
    EXPECT_EQ(std::memcmp(pa.value.raw(), pb.value.raw(), pa.value.nbytes()), 0);
  }
}

TEST(OptimizersTest, StateIsAllocatedAtTheFirstStep) {
  auto opt = Make("adam", 0.001);
  ASSERT_EQ(opt->State().size(), 1u);  // "step" only
  Parameter w{"weight", Tensor({2, 3}), Tensor({2, 3})}, b = MakeParam({0, 0});
  opt->Step({&w, &b});
  auto state = opt->State();
  ASSERT_EQ(state.size(), 5u);
  EXPECT_EQ(state[2].first, "1.exp_avg");
  EXPECT_EQ(state[0].second->shape(), Shape({2, 3}));
  EXPECT_EQ(state[3].second->shape(), Shape({2}));
}

// --- errors -------------------------------------------------------------------

TEST(OptimizersTest, ConfigErrors) {
  OptimizerConfig c;
  c.kind = "rmsprop";
  try {
    MakeOptimizer(c);
    FAIL() << "no Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("'rmsprop'"));
    EXPECT_THAT(e.what(), HasSubstr("sgd, adam, adamw"));
  }
  EXPECT_THROW(Make("sgd", -0.1), Error);
  EXPECT_THROW(Make("sgd", NAN), Error);
  EXPECT_THROW(Make("sgd", 0.1, 1.5), Error);
  EXPECT_THROW(Make("sgd", 0.1, 0.0, true), Error);  // Nesterov without momentum
  EXPECT_THROW(Make("adamw", 0.1, 0.0, false, -1), Error);
  c.kind = "adam";
  c.beta1 = 1.0;
  EXPECT_THROW(MakeOptimizer(c), Error);
  c.beta1 = 0.9;
  c.eps = 0.0;
  EXPECT_THROW(MakeOptimizer(c), Error);
}

TEST(OptimizersTest, StepRejectsAChangedParameterList) {
  auto opt = Make("sgd", 0.1, 0.9);
  Parameter a = MakeParam({1, 2}), b = MakeParam({3});
  opt->Step({&a});
  try {
    opt->Step({&a, &b});
    FAIL() << "no Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("same parameter list"));
  }
  EXPECT_THROW(opt->Step({&b}), Error);  // same count, other shape
  Parameter bad{"w", Tensor({2}), Tensor({3})};
  EXPECT_THROW(Make("adam", 0.1)->Step({&bad}), Error);
}

}  // namespace
}  // namespace joule
