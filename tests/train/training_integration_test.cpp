// Trains the CLI's two MNIST models end to end and checks the accuracy the
// issue promises. Labelled integration: minutes, not seconds.
#include <gtest/gtest.h>

#include "joule/train.hpp"

namespace joule {
namespace {

TEST(MnistTraining, MlpReaches98PercentIn10Epochs) {
  JobConfig c;
  c.model = "mlp";
  c.epochs = 10;
  c.optimizer.kind = "sgd";
  c.optimizer.lr = 0.05;
  c.optimizer.momentum = 0.9;
  JobResult r = RunJob(c, nullptr);
  EXPECT_EQ(r.epochs, 10);
  EXPECT_GE(r.final_eval.accuracy, 0.980);
  EXPECT_EQ(r.final_eval.rows, 10000);
}

TEST(MnistTraining, CnnReaches99PercentWithin10Epochs) {
  JobConfig c;
  c.model = "cnn";
  c.epochs = 10;
  c.optimizer.kind = "sgd";
  c.optimizer.lr = 0.05;
  c.optimizer.momentum = 0.9;
  double best = 0;
  JobResult r = RunJob(c, [&](const EpochStats& s) { best = std::max(best, s.eval.accuracy); });
  EXPECT_GE(r.final_eval.accuracy, 0.990);
}

TEST(MnistTraining, Bf16MlpMatchesF32WithinHalfAPoint) {
  JobConfig c;
  c.model = "mlp";
  c.epochs = 3;
  JobResult f32 = RunJob(c, nullptr);
  c.precision = "bf16";
  JobResult bf16 = RunJob(c, nullptr);
  EXPECT_NEAR(bf16.final_eval.accuracy, f32.final_eval.accuracy, 0.005);
}

}  // namespace
}  // namespace joule
