// Trains the CLI's two MNIST models end to end and checks the accuracy the
// issue promises. Labelled integration: minutes, not seconds.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "joule/run.hpp"

namespace joule {
namespace {

// Ends the run after `epoch` (0: never): a kill at an epoch boundary. The
// resumed run carries one too (never firing), because a checkpoint must be
// resumed with the callbacks that wrote it.
class StopAfter final : public Callback {
 public:
  explicit StopAfter(int epoch) : epoch_(epoch) {}
  std::string name() const override { return "stop-after"; }
  void OnEpochEnd(TrainContext& ctx, const EpochStats& s) override {
    if (s.epoch == epoch_) ctx.RequestStop(StopReason::kCallback, "killed");
  }

 private:
  int epoch_;
};

// Issue 4, acceptance 3: train 6 epochs with a checkpoint at 3; kill after 4;
// resume; the final weights equal the uninterrupted run's, bitwise (f32, same
// seed, one thread). The job uses the green recipe's moving parts: cosine lr,
// adaptive batch (the batch doubles across the checkpoint) and early stopping
// (best weights held in the callback's state), on a validation split.
TEST(MnistTraining, ResumedMlpEndsWithBitwiseTheSameWeights) {
  const std::string root = std::string(JOULE_TEST_BINARY_DIR) + "/mnist_resume";
  std::filesystem::remove_all(root);
  auto config = [&](const std::string& name) {
    JobConfig c;
    c.model = "mlp";
    c.epochs = 6;
    c.threads = 1;
    c.seed = 3;
    c.validation_fraction = 0.1;
    c.early_stopping.enabled = true;
    c.early_stopping.patience = 10;
    c.adaptive_batch.enabled = true;
    c.adaptive_batch.monitor = "loss";
    c.adaptive_batch.min_delta = 1e9;  // every epoch after the first is a plateau
    c.adaptive_batch.max_batch_size = 512;
    c.checkpoint.dir = root + "/" + name + "/checkpoints";
    c.checkpoint.every_epochs = 3;
    c.save_dir = root + "/" + name + "/model";
    return c;
  };
  StopAfter never(0), after4(4);
  JobConfig whole = config("whole");
  JobResult a = RunJob(whole, nullptr, {&never});
  JobConfig killed = config("killed");
  JobResult b = RunJob(killed, nullptr, {&after4});
  ASSERT_EQ(b.epochs, 4);
  JobConfig resumed = killed;
  resumed.checkpoint.resume = true;
  JobResult c = RunJob(resumed, nullptr, {&never});
  EXPECT_EQ(c.resumed_from_epoch, 3);
  EXPECT_EQ(c.epochs, 6);
  EXPECT_EQ(c.steps, a.steps);
  EXPECT_EQ(c.final_eval.accuracy, a.final_eval.accuracy);
  EXPECT_EQ(c.history.back().batch_size, a.history.back().batch_size);

  Sequential ma = LoadModel(whole.save_dir), mc = LoadModel(resumed.save_dir);
  auto ta = ma.NamedTensors(), tc = mc.NamedTensors();
  ASSERT_EQ(ta.size(), tc.size());
  for (std::size_t i = 0; i < ta.size(); ++i) {
    ASSERT_EQ(ta[i].second->shape(), tc[i].second->shape());
    EXPECT_EQ(std::memcmp(ta[i].second->raw(), tc[i].second->raw(), ta[i].second->nbytes()), 0)
        << ta[i].first << " differs";
  }
}

TEST(MnistTraining, MlpReaches98PercentIn10Epochs) {
  JobConfig c;
  c.threads = 1;  // a shared 2-core box: more threads only oversubscribe it
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
  c.threads = 1;  // a shared 2-core box: more threads only oversubscribe it
  c.model = "cnn";
  c.epochs = 10;
  c.optimizer.kind = "sgd";
  c.optimizer.lr = 0.05;
  c.optimizer.momentum = 0.9;
  // The claim is "within 10 epochs": stop at the first epoch that reaches it
  // (the target monitors the test set, as the claim does) instead of always
  // paying for ten; the test used to be CI's slowest by far.
  c.target_metric.value = 0.990;
  double best = 0;
  JobResult r = RunJob(c, [&](const EpochStats& s) { best = std::max(best, s.eval.accuracy); });
  EXPECT_GE(r.final_eval.accuracy, 0.990);
  EXPECT_LE(r.epochs, 10);
}

TEST(MnistTraining, Bf16MlpMatchesF32WithinHalfAPoint) {
  JobConfig c;
  c.threads = 1;  // a shared 2-core box: more threads only oversubscribe it
  c.model = "mlp";
  c.epochs = 3;
  JobResult f32 = RunJob(c, nullptr);
  c.precision = "bf16";
  JobResult bf16 = RunJob(c, nullptr);
  EXPECT_NEAR(bf16.final_eval.accuracy, f32.final_eval.accuracy, 0.005);
}

}  // namespace
}  // namespace joule
