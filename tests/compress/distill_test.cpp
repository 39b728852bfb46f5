// Distillation: the loss against a hand computation, its reduction to plain
// cross-entropy at alpha = 0, its gradient against finite differences over
// several temperatures and weights, its errors; the student MLP's shape and
// a training run's determinism.
#include "joule/compress/distill.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "../nn/gradcheck.hpp"

namespace joule {
namespace {

using ::testing::HasSubstr;

// Value against the double-precision hand computation (the loss sums in
// double from f32 logits).
constexpr double kValueTol = 1e-6;
// Finite differences of the loss through the f32 output of LossAsLayer
// below: f32 rounding of a value ~2 over a step of 2e-2 gives ~1e-5, and
// central-difference truncation adds less; measured at most 4e-5.
constexpr double kGradTol = 5e-4;

Tensor Logits(std::int64_t rows, std::int64_t classes, std::uint64_t seed, float scale) {
  Rng rng(seed);
  Tensor t({rows, classes});
  for (std::int64_t i = 0; i < t.numel(); ++i) t.f32()[i] = scale * (2 * rng.Uniform() - 1);
  return t;
}

Tensor Labels(const std::vector<float>& v) {
  return Tensor::FromVector({static_cast<std::int64_t>(v.size())}, v);
}

TEST(DistillationLossTest, ValueAndGradientByHand) {
  // One row, two classes: student s = [0, 0], teacher t = [2 ln 3, 0], label 1,
  // T = 2, alpha = 0.5. At T = 2 the teacher's soft targets are
  // softmax([ln 3, 0]) = [3/4, 1/4] and the student's q = [1/2, 1/2].
  DistillationLoss loss(2.0, 0.5);
  Tensor teacher = Tensor::FromVector({1, 2}, {static_cast<float>(2 * std::log(3.0)), 0.0f});
  loss.set_teacher_logits(teacher);
  Tensor grad;
  const double value = loss.Compute(Tensor::FromVector({1, 2}, {0, 0}), Labels({1}), grad);
  const double kl = 0.75 * std::log(0.75 / 0.5) + 0.25 * std::log(0.25 / 0.5);
  const double ce = std::log(2.0);
  EXPECT_NEAR(value, 0.5 * 4 * kl + 0.5 * ce, kValueTol);
  // alpha T (q - p) + (1 - alpha) (softmax(s) - onehot):
  // [0.5 * 2 * (0.5 - 0.75) + 0.5 * 0.5, 0.5 * 2 * (0.5 - 0.25) + 0.5 * (0.5 - 1)].
  ASSERT_EQ(grad.shape(), Shape({1, 2}));
  EXPECT_NEAR(grad.f32()[0], 0.0, 1e-7);
  EXPECT_NEAR(grad.f32()[1], 0.0, 1e-7);
  // A second row halves each row's share of the mean.
  loss.set_teacher_logits(Tensor::FromVector({2, 2}, {0, 0, 0, 0}));
  loss.Compute(Tensor::FromVector({2, 2}, {1, 0, 0, 0}), Labels({0, 0}), grad);
  const double q0 = 1 / (1 + std::exp(-0.5));  // softmax([1, 0] / 2)[0]
  const double s0 = 1 / (1 + std::exp(-1.0));  // softmax([1, 0])[0]
  EXPECT_NEAR(grad.f32()[0], (0.5 * 2 * (q0 - 0.5) + 0.5 * (s0 - 1)) / 2, 1e-7);
}

TEST(DistillationLossTest, AlphaZeroIsCrossEntropy) {
  DistillationLoss loss(4.0, 0.0);
  auto ce = MakeSoftmaxCrossEntropy();
  Tensor s = Logits(5, 7, 1, 3), t = Logits(5, 7, 2, 3);
  Tensor labels = Labels({0, 6, 3, 3, 1});
  loss.set_teacher_logits(t);
  Tensor grad, ce_grad;
  EXPECT_NEAR(loss.Compute(s, labels, grad), ce->Compute(s, labels, ce_grad), 1e-12);
  for (std::int64_t i = 0; i < grad.numel(); ++i) EXPECT_EQ(grad.f32()[i], ce_grad.f32()[i]);
}

TEST(DistillationLossTest, StudentEqualToTeacherHasNoSoftLoss) {
  // KL(p || p) = 0 and its gradient vanishes: with alpha = 1 nothing is left.
  DistillationLoss loss(3.0, 1.0);
  Tensor s = Logits(4, 5, 3, 4);
  loss.set_teacher_logits(s);
  Tensor grad;
  EXPECT_NEAR(loss.Compute(s, Labels({0, 1, 2, 3}), grad), 0.0, 1e-12);
  for (std::int64_t i = 0; i < grad.numel(); ++i) EXPECT_NEAR(grad.f32()[i], 0.0, 1e-7);
}

// The loss as a layer of fixed teacher logits and labels: y = [L(x)], so
// gradcheck's L = r * y has dL/dx = r * dL/ds, and its finite differences
// check the loss's gradient.
class LossAsLayer final : public Layer {
 public:
  LossAsLayer(double temperature, double alpha, Tensor teacher, Tensor labels)
      : loss_(temperature, alpha), teacher_(std::move(teacher)), labels_(std::move(labels)) {}
  std::string type() const override { return "LossAsLayer"; }
  nlohmann::json config() const override { return {}; }
  const Tensor& Forward(const Tensor& x, bool) override {
    loss_.set_teacher_logits(teacher_);
    y_ = Tensor::FromVector({1}, {static_cast<float>(loss_.Compute(x, labels_, grad_))});
    return y_;
  }
  const Tensor& Backward(const Tensor& dy) override {
    dx_ = grad_.Clone();
    for (std::int64_t i = 0; i < dx_.numel(); ++i) dx_.f32()[i] *= dy.f32()[0];
    return dx_;
  }

 private:
  DistillationLoss loss_;
  Tensor teacher_, labels_, y_, grad_, dx_;
};

TEST(DistillationLossTest, GradientMatchesFiniteDifferences) {
  const Tensor student = Logits(4, 6, 11, 3);
  const Tensor teacher = Logits(4, 6, 12, 5);
  const Tensor labels = Labels({2, 0, 5, 1});
  for (double t : {1.0, 2.0, 4.0, 8.0}) {
    for (double alpha : {0.0, 0.3, 0.9, 1.0}) {
      auto make = [&] { return std::make_unique<LossAsLayer>(t, alpha, teacher, labels); };
      auto errors = gradcheck::CheckGradients(make, student, 5, {.step = 1e-2});
      SCOPED_TRACE("T " + std::to_string(t) + ", alpha " + std::to_string(alpha));
      ASSERT_EQ(errors.size(), 1u);
      EXPECT_LT(errors[0].rel_err, kGradTol) << gradcheck::Describe(errors[0]);
    }
  }
}

TEST(DistillationLossTest, RejectsBadSettingsAndInputs) {
  EXPECT_THROW(DistillationLoss(0.0, 0.5), Error);
  EXPECT_THROW(DistillationLoss(-1.0, 0.5), Error);
  EXPECT_THROW(DistillationLoss(NAN, 0.5), Error);
  EXPECT_THROW(DistillationLoss(4.0, 1.5), Error);
  EXPECT_THROW(DistillationLoss(4.0, -0.1), Error);
  try {
    DistillationLoss(4.0, 2.0);
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("alpha"));
  }
  DistillationLoss loss(4.0, 0.5);
  Tensor grad;
  try {
    loss.Compute(Logits(2, 3, 1, 1), Labels({0, 1}), grad);
    FAIL() << "no teacher logits";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("set_teacher_logits"));
  }
  loss.set_teacher_logits(Logits(2, 4, 1, 1));
  EXPECT_THROW(loss.Compute(Logits(2, 3, 1, 1), Labels({0, 1}), grad), Error);
  loss.set_teacher_logits(Logits(2, 3, 1, 1));
  EXPECT_THROW(loss.Compute(Logits(2, 3, 1, 1), Labels({0, 3}), grad), Error);  // bad label
}

TEST(StudentMlpTest, LayersAndParameterCount) {
  Rng rng(1);
  Sequential s = MakeStudentMlp({10, 1, 28, 28}, {64, 32}, 10, rng);
  // 784*64 + 64 + 64*32 + 32 + 32*10 + 10: about 1/4 of the 235k MLP.
  EXPECT_EQ(s.ParameterCount(), 52650);
  EXPECT_EQ(s.size(), 5u);
  EXPECT_EQ(s.Forward(Tensor({3, 1, 28, 28}), false).shape(), Shape({3, 10}));
  EXPECT_THROW(MakeStudentMlp({10, 4}, {}, 3, rng), Error);
  EXPECT_THROW(MakeStudentMlp({10, 4}, {8, 0}, 3, rng), Error);
}

// A tiny two-class problem: the label is whether the features sum above 0.
PreparedData TinyData() {
  Rng rng(3);
  PreparedData d;
  for (Dataset* set : {&d.train, &d.eval}) {
    set->x = Tensor({64, 4});
    set->y = Tensor({64});
    for (std::int64_t r = 0; r < 64; ++r) {
      float sum = 0;
      for (int c = 0; c < 4; ++c) sum += set->x.f32()[r * 4 + c] = 2 * rng.Uniform() - 1;
      set->y.f32()[r] = sum > 0 ? 1.0f : 0.0f;
    }
    set->num_classes = 2;
  }
  d.eval_name = "test";
  return d;
}

TEST(TrainStudentTest, DeterministicLearnsAndLeavesTeacherAlone) {
  PreparedData data = TinyData();
  Rng teacher_rng(5);
  Sequential teacher = MakeStudentMlp({1, 4}, {8}, 2, teacher_rng);
  const Tensor teacher_w0 = teacher.Parameters()[0]->value.Clone();
  CompressTrainOptions options;
  options.epochs = 3;
  options.batch_size = 16;
  std::vector<float> first;
  for (int run = 0; run < 2; ++run) {
    Rng rng(9);
    Sequential student = MakeStudentMlp({1, 4}, {6}, 2, rng);
    CompressTrainResult r =
        TrainStudent(student, &teacher, {.temperature = 2, .alpha = 0.5}, data, options);
    ASSERT_EQ(r.history.size(), 3u);
    EXPECT_EQ(r.steps, 12);
    EXPECT_EQ(r.history[0].eval_name, "test");
    EXPECT_LT(r.history[2].lr, r.history[0].lr);  // cosine decay
    const Tensor& w = student.Parameters()[0]->value;
    if (run == 0) {
      first.assign(w.f32(), w.f32() + w.numel());
    } else {
      for (std::int64_t i = 0; i < w.numel(); ++i) EXPECT_EQ(w.f32()[i], first[i]);
    }
  }
  for (std::int64_t i = 0; i < teacher_w0.numel(); ++i) {
    EXPECT_EQ(teacher.Parameters()[0]->value.f32()[i], teacher_w0.f32()[i]);
  }
  Rng rng(9);
  Sequential alone = MakeStudentMlp({1, 4}, {6}, 2, rng);
  options.epochs = 30;
  CompressTrainResult r = TrainStudent(alone, nullptr, {}, data, options);
  EXPECT_GT(r.history.back().eval.accuracy, 0.85);  // a linear rule: easy to learn
  EXPECT_LT(r.history.back().train_loss, r.history.front().train_loss);
  options.epochs = 0;
  EXPECT_THROW(TrainStudent(alone, nullptr, {}, data, options), Error);
}

}  // namespace
}  // namespace joule
