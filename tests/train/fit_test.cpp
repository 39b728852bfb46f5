// Fit on tiny synthetic data (tens of rows, one thread): metered epochs and
// the budget with a fake power source and clock (exact joules), early
// stopping and adaptive batch inside a real loop, checkpoints and a bitwise
// resume, and the validation split. RunJob's tests: tests/run/job_test.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "joule/train.hpp"

// The option structs are written with designated initializers naming only the
// fields a test sets; GCC 12 warns about every omitted class-type member
// (std::string, std::optional) even though each has a default initializer.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace joule {
namespace {

using ::testing::HasSubstr;

class FakeClock : public Clock {
 public:
  double MonotonicSeconds() const override { return t; }
  double UnixSeconds() const override { return 1.7e9 + t; }
  double t = 0;
};

// The whole box at a constant `watts`, as a mean-power channel: energy is
// exactly watts x the fake clock's advance.
class ConstantPowerSource : public PowerSource {
 public:
  explicit ConstantPowerSource(double watts) : watts_(watts) {
    channels_.push_back({"cpu", Component::kCpu, ReadingKind::kMeanPower, true, ""});
  }
  std::string_view kind() const override { return "fake"; }
  std::string_view method() const override { return "measured:fake"; }
  std::string detail() const override { return "constant"; }
  const std::vector<Channel>& channels() const override { return channels_; }
  void Read(double, std::span<ChannelSample> out) override { out[0] = {0, watts_, true}; }

 private:
  double watts_;
  std::vector<Channel> channels_;
};

// Moves the fake clock one second per step, so every step costs exactly
// 1 s x the source's watts. First in the callback list: the step's energy
// runs from the previous step's end and so includes it.
class AdvanceClock final : public Callback {
 public:
  explicit AdvanceClock(FakeClock& clock) : clock_(clock) {}
  std::string name() const override { return "advance-clock"; }
  void OnStepBegin(TrainContext&) override { clock_.t += 1; }

 private:
  FakeClock& clock_;
};

// Ends the run after `epoch` (0: never): a kill at an epoch boundary.
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

// Copies of a model's tensors after each epoch (the on_epoch hook).
using Snapshot = std::vector<std::pair<std::string, Tensor>>;
Snapshot Take(Sequential& model) {
  Snapshot s;
  for (auto& [name, t] : model.NamedTensors()) s.emplace_back(name, t->Clone());
  return s;
}

// Bitwise equality of two snapshots: EXPECT_EQ on floats would let -0 == 0 pass.
void ExpectBitwiseEqual(const Snapshot& a, const Snapshot& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].first, b[i].first);
    ASSERT_EQ(a[i].second.shape(), b[i].second.shape());
    EXPECT_EQ(std::memcmp(a[i].second.raw(), b[i].second.raw(), a[i].second.nbytes()), 0)
        << a[i].first << " differs";
  }
}

// y = x . w + noise on standardised features; 32 training rows.
Dataset Regression(std::int64_t rows, std::uint64_t seed) {
  Rng rng(seed);
  Dataset d;
  d.task = Task::kRegression;
  d.x = Tensor({rows, 4});
  d.y = Tensor({rows});
  const float w[4] = {0.5f, -1.0f, 0.25f, 2.0f};
  for (std::int64_t i = 0; i < rows; ++i) {
    float y = 0.1f * rng.Normal();
    for (int j = 0; j < 4; ++j) {
      float x = rng.Normal();
      d.x.f32()[i * 4 + j] = x;
      y += w[j] * x;
    }
    d.y.f32()[i] = y;
  }
  return d;
}

PreparedData TinyData(bool validation) {
  PreparedData p;
  p.train = Regression(32, 1);
  if (validation) p.validation = Regression(16, 2);
  p.eval = Regression(16, 3);
  p.eval_name = "holdout";
  return p;
}

Sequential SmallModel(std::uint64_t seed) {
  Rng rng(seed);
  Sequential m;
  m.Add(MakeLinear(4, 8, rng));
  m.Add(MakeReLU());
  m.Add(MakeLinear(8, 1, rng));
  return m;
}

class FitTest : public ::testing::Test {
 protected:
  void SetUp() override { SetNumThreads(1); }

  std::string ScratchDir(const std::string& name) {
    std::string dir = std::string(JOULE_TEST_BINARY_DIR) + "/fit_test_" + name;
    std::filesystem::remove_all(dir);
    return dir;
  }

  MeteringOptions FakeMetering(double watts) {
    MeteringOptions m;
    m.sources = [watts] {
      std::vector<std::unique_ptr<PowerSource>> s;
      s.push_back(std::make_unique<ConstantPowerSource>(watts));
      return s;
    };
    m.clock = &clock_;
    m.background = false;
    m.attribution = Attribution::kMachine;
    m.carbon.intensity_g_per_kwh = 360;  // 10 J = 1e-3 g
    return m;
  }

  FakeClock clock_;
};

// --- metered epochs and the budget --------------------------------------------------

// The arg-max of each row against its class id; on a tie the first class.
TEST(CountCorrect, ArgMaxAgainstTheClassIdFirstOnTies) {
  const Tensor pred = Tensor::FromVector({4, 3}, {0.1f, 0.9f, 0.0f,       // 1: right
                                                  0.5f, 0.5f, 0.2f,       // tie -> 0: right
                                                  0.7f, 0.3f, 0.1f,       // 0: wrong
                                                  -3.0f, -2.0f, -1.0f});  // 2: right
  const Tensor target = Tensor::FromVector({4}, {1, 0, 1, 2});
  EXPECT_EQ(CountCorrect(pred, target), 3);
}

TEST_F(FitTest, EveryEpochCarriesItsJoulesGramsAndMethod) {
  PreparedData data = TinyData(false);
  Sequential model = SmallModel(1);
  auto loss = MakeMse();
  auto opt = MakeOptimizer({.kind = "sgd", .lr = 0.01, .momentum = 0.9});
  AdvanceClock advance(clock_);
  MeteringOptions metering = FakeMetering(10);
  FitOptions o{.epochs = 2, .batch_size = 8, .callbacks = {&advance}, .metering = &metering};
  FitResult r = Fit(model, *loss, *opt, data, o);
  ASSERT_EQ(r.history.size(), 2u);
  for (const EpochStats& s : r.history) {
    EXPECT_NEAR(s.energy_j, 40, 1e-9) << s.epoch;  // 4 steps x 10 J
    EXPECT_NEAR(s.co2_g, 4e-3, 1e-12) << s.epoch;
    EXPECT_EQ(s.energy_method, "measured:fake");
  }
  EXPECT_NEAR(r.history[1].total_energy_j, 80, 1e-9);
  EXPECT_NEAR(r.energy.energy_j, 80, 1e-9);
  EXPECT_NEAR(r.energy.co2_g(), 8e-3, 1e-12);
  EXPECT_EQ(r.energy.method, "measured:fake");
  EXPECT_FALSE(r.energy.estimated);
  EXPECT_NEAR(r.energy.intensity_g_per_kwh, 360, 1e-9);
  EXPECT_EQ(r.stop_reason, StopReason::kEpochLimit);
}

// A steady run (10 J a step, 4 steps an epoch, evaluation free): the cost
// predicted after the first epoch is the realised one, and a limit below it
// stops the run right after that epoch.
TEST_F(FitTest, PredictedCostAfterOneEpochIsTheRealisedOneOfASteadyRun) {
  PreparedData data = TinyData(false);
  Sequential model = SmallModel(1);
  auto loss = MakeMse();
  auto opt = MakeOptimizer({.kind = "sgd", .lr = 0.01, .momentum = 0.9});
  AdvanceClock advance(clock_);
  // The prediction times the first epoch on the meter's fake clock too.
  PredictCost predict({.after_epochs = 1, .clock = [this] { return clock_.t; }});
  MeteringOptions metering = FakeMetering(10);
  FitOptions o{
      .epochs = 5, .batch_size = 8, .callbacks = {&advance, &predict}, .metering = &metering};
  FitResult r = Fit(model, *loss, *opt, data, o);
  ASSERT_TRUE(predict.prediction().has_value());
  EXPECT_EQ(r.stop_reason, StopReason::kEpochLimit);
  EXPECT_NEAR(predict.prediction()->energy_j, r.energy.energy_j, 1e-9);
  EXPECT_NEAR(predict.prediction()->energy_j, 200, 1e-9);
  EXPECT_EQ(predict.prediction()->method, "predicted from 1 epoch of measured:fake");

  clock_.t = 0;
  Sequential again = SmallModel(1);
  auto opt2 = MakeOptimizer({.kind = "sgd", .lr = 0.01, .momentum = 0.9});
  PredictCost limited(
      {.after_epochs = 1, .max_energy_j = 150, .clock = [this] { return clock_.t; }});
  MeteringOptions metering2 = FakeMetering(10);
  FitOptions o2{
      .epochs = 5, .batch_size = 8, .callbacks = {&advance, &limited}, .metering = &metering2};
  FitResult stopped = Fit(again, *loss, *opt2, data, o2);
  EXPECT_EQ(stopped.stop_reason, StopReason::kPredictedCost);
  EXPECT_EQ(stopped.history.size(), 1u);
  EXPECT_NEAR(stopped.energy.energy_j, 40, 1e-9);
}

TEST_F(FitTest, BudgetStopsAtTheStepThatWouldCrossIt) {
  struct Case {
    BudgetOptions budget;
    std::int64_t steps;
  };
  // 10 J (1e-3 g) per step, 4 steps per epoch. 95 J: after 9 steps (90 J) a
  // tenth would reach 100 J. 100 J: the tenth lands exactly on it, allowed.
  for (const Case& c :
       {Case{{.energy_j = 95}, 9}, Case{{.energy_j = 100}, 10}, Case{{.co2_g = 0.0095}, 9}}) {
    clock_.t = 0;
    PreparedData data = TinyData(false);
    Sequential model = SmallModel(1);
    auto loss = MakeMse();
    auto opt = MakeOptimizer({.kind = "sgd", .lr = 0.01, .momentum = 0.9});
    AdvanceClock advance(clock_);
    Budget budget(c.budget);
    MeteringOptions metering = FakeMetering(10);
    FitOptions o{
        .epochs = 5, .batch_size = 8, .callbacks = {&advance, &budget}, .metering = &metering};
    FitResult r = Fit(model, *loss, *opt, data, o);
    EXPECT_EQ(r.steps, c.steps);
    EXPECT_NEAR(r.energy.energy_j, 10.0 * static_cast<double>(c.steps), 1e-9);
    EXPECT_EQ(r.stop_reason, StopReason::kBudget);
    EXPECT_THAT(r.stop_message, HasSubstr("budget"));
    // Step 9 is the first of epoch 3: that epoch ends partial, unevaluated.
    ASSERT_EQ(r.history.size(), 3u);
    EXPECT_EQ(r.history.back().partial, c.steps % 4 != 0);
    EXPECT_EQ(r.history.back().steps, c.steps - 8);
  }
}

// --- early stopping, target, adaptive batch in a real loop -------------------------------

TEST_F(FitTest, EarlyStoppingInFitRestoresTheBestEpochsWeights) {
  PreparedData data = TinyData(true);
  Sequential model = SmallModel(2);
  auto loss = MakeMse();
  auto opt = MakeOptimizer({.kind = "sgd", .lr = 0.01, .momentum = 0.9});
  // A min_delta no loss can beat: epoch 1 is the best, epoch 2 a miss.
  EarlyStopping es({.enabled = true, .monitor = "loss", .patience = 1, .min_delta = 1e9});
  std::vector<Snapshot> after_epoch;
  FitOptions o{
      .epochs = 5, .batch_size = 8, .callbacks = {&es}, .on_epoch = [&](const EpochStats&) {
        after_epoch.push_back(Take(model));
      }};
  FitResult r = Fit(model, *loss, *opt, data, o);
  EXPECT_EQ(r.history.size(), 2u);
  EXPECT_EQ(r.stop_reason, StopReason::kEarlyStopping);
  EXPECT_EQ(r.history[0].eval_name, "validation");
  EXPECT_EQ(r.history[0].eval.rows, 16);
  EXPECT_TRUE(es.restored());
  EXPECT_FALSE(r.final_weights_evaluated);
  ExpectBitwiseEqual(Take(model), after_epoch[0]);
}

TEST_F(FitTest, AdaptiveBatchGrowsTheIteratorsBatchUpToTheCap) {
  PreparedData data = TinyData(true);
  Sequential model = SmallModel(3);
  auto loss = MakeMse();
  auto opt = MakeOptimizer({.kind = "sgd", .lr = 0.01, .momentum = 0.9});
  AdaptiveBatch ab({.enabled = true,
                    .monitor = "loss",
                    .patience = 1,
                    .min_delta = 1e9,
                    .max_batch_size = 32,
                    .lr_factor = 1.0});
  FitOptions o{.epochs = 5, .batch_size = 8, .callbacks = {&ab}};
  FitResult r = Fit(model, *loss, *opt, data, o);
  std::vector<std::int64_t> batch, steps;
  for (const EpochStats& s : r.history) {
    batch.push_back(s.batch_size);
    steps.push_back(s.steps);
  }
  EXPECT_EQ(batch, (std::vector<std::int64_t>{8, 8, 16, 32, 32}));
  EXPECT_EQ(steps, (std::vector<std::int64_t>{4, 4, 2, 1, 1}));
  EXPECT_EQ(r.steps, 12);
}

TEST_F(FitTest, AnnealedHuberDeltaMovesPerEpoch) {
  PreparedData data = TinyData(false);
  Sequential model = SmallModel(4);
  auto loss = MakeAnnealedHuber(1.0);
  auto opt = MakeOptimizer({.kind = "sgd", .lr = 0.01, .momentum = 0.9});
  HuberDeltaSchedule schedule(*loss, {.delta_start = 4, .delta_end = 0.25});
  FitOptions o{.epochs = 3, .batch_size = 8, .callbacks = {&schedule}};
  FitResult r = Fit(model, *loss, *opt, data, o);
  ASSERT_EQ(r.history.size(), 3u);
  EXPECT_NEAR(r.history[0].loss_delta, 4, 1e-12);
  EXPECT_NEAR(r.history[1].loss_delta, 1, 1e-12);
  EXPECT_NEAR(r.history[2].loss_delta, 0.25, 1e-12);
}

// --- checkpoints and resume -------------------------------------------------------------

struct ResumeRun {
  Snapshot final_weights;
  Snapshot after_last_epoch;  // before OnTrainEnd (early stopping may restore)
  FitResult result;
};

// The model of the CLI's tables (4-256-128-1) with SGD momentum, a cosine
// schedule, early stopping (weights in its state), adaptive batch (the batch
// size changes across the checkpoint), and the kill callback.
ResumeRun TrainForResume(const PreparedData& data, const std::string& dir, int kill_after,
                         bool resume, const std::string& optimizer) {
  Rng rng(11);
  Sequential model = MakeModel("mlp", data.train.x.shape(), 1, rng);
  auto loss = MakeLoss("mse");
  auto opt = MakeOptimizer({.kind = optimizer, .lr = optimizer == "sgd" ? 0.02 : 0.002});
  auto schedule = MakeLrSchedule("cosine", {});
  EarlyStopping es({.enabled = true, .monitor = "rmse", .patience = 100});
  AdaptiveBatch ab({.enabled = true,
                    .monitor = "loss",
                    .patience = 1,
                    .min_delta = 1e9,
                    .max_batch_size = 32,
                    .lr_factor = 1.5});
  StopAfter kill(kill_after);
  ResumeRun run;
  FitOptions o{.epochs = 6,
               .batch_size = 8,
               .seed = 5,
               .callbacks = {schedule.get(), &es, &ab, &kill},
               .checkpoint = {.dir = dir, .every_epochs = 3, .resume = resume},
               .on_epoch = [&](const EpochStats& s) {
                 if (s.epoch == 6) run.after_last_epoch = Take(model);
               }};
  run.result = Fit(model, *loss, *opt, data, o);
  run.final_weights = Take(model);
  for (auto& [name, t] : opt->State()) run.final_weights.emplace_back("opt." + name, t->Clone());
  return run;
}

TEST_F(FitTest, ResumedRunEndsWithBitwiseTheSameWeights) {
  PreparedData data = TinyData(true);
  for (const std::string optimizer : {"sgd", "adam"}) {
    SCOPED_TRACE(optimizer);
    ResumeRun whole = TrainForResume(data, ScratchDir("whole"), 0, false, optimizer);
    std::string dir = ScratchDir("killed");
    ResumeRun killed = TrainForResume(data, dir, 4, false, optimizer);
    ASSERT_EQ(killed.result.history.size(), 4u);
    EXPECT_TRUE(std::filesystem::exists(dir + "/checkpoint-epoch-0003.safetensors"));
    EXPECT_FALSE(std::filesystem::exists(dir + "/checkpoint-epoch-0006.safetensors"));
    ResumeRun resumed = TrainForResume(data, dir, 0, true, optimizer);

    EXPECT_EQ(resumed.result.resumed_from_epoch, 3);
    ASSERT_EQ(resumed.result.history.size(), 6u);
    EXPECT_EQ(resumed.result.steps, whole.result.steps);
    for (std::size_t e = 0; e < 6; ++e) {
      EXPECT_EQ(resumed.result.history[e].eval.loss, whole.result.history[e].eval.loss) << e;
      EXPECT_EQ(resumed.result.history[e].batch_size, whole.result.history[e].batch_size) << e;
      EXPECT_EQ(resumed.result.history[e].lr, whole.result.history[e].lr) << e;
    }
    ExpectBitwiseEqual(resumed.after_last_epoch, whole.after_last_epoch);
    ExpectBitwiseEqual(resumed.final_weights, whole.final_weights);
    // And the run really trained after the resume: epoch 6 differs from epoch 3.
    EXPECT_NE(whole.result.history[5].eval.loss, whole.result.history[2].eval.loss);
  }
}

TEST_F(FitTest, ResumeRefusesAnotherSeedAndStartsFreshWithoutACheckpoint) {
  PreparedData data = TinyData(true);
  std::string dir = ScratchDir("seed");
  auto run = [&](std::uint64_t seed, bool resume) {
    Sequential model = SmallModel(1);
    auto loss = MakeMse();
    auto opt = MakeOptimizer({.kind = "sgd", .lr = 0.01, .momentum = 0.9});
    FitOptions o{.epochs = 2,
                 .batch_size = 8,
                 .seed = seed,
                 .checkpoint = {.dir = dir, .every_epochs = 1, .resume = resume}};
    return Fit(model, *loss, *opt, data, o);
  };
  FitResult fresh = run(1, true);
  EXPECT_EQ(fresh.resumed_from_epoch, 0);
  ASSERT_FALSE(fresh.notes.empty());
  EXPECT_THAT(fresh.notes[0], HasSubstr("no checkpoint"));
  try {
    run(2, true);
    FAIL() << "no Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("seed 1"));
    EXPECT_THAT(e.what(), HasSubstr("checkpoint-epoch-0002"));
  }
}

// --- the step hook -------------------------------------------------------------------------

// The hook that computes what Fit's own step computes trains bitwise the same
// model, with and without handing Fit the model: one loop, whatever the step.
TEST_F(FitTest, AStepHookDoingThePlainStepTrainsBitwiseTheSame) {
  PreparedData data = TinyData(/*validation=*/true);
  auto run = [&](int variant) {
    Sequential model = SmallModel(5);
    auto loss = MakeMse();
    auto opt = MakeOptimizer({.kind = "sgd", .lr = 0.01, .momentum = 0.9});
    FitOptions o{.epochs = 3, .batch_size = 8};
    Tensor grad;
    if (variant > 0) {
      o.step = [&](const Tensor& x, const Tensor& y) {
        const Tensor& pred = model.Forward(x, /*training=*/true);
        FitStepResult r{.loss = loss->Compute(pred, y, grad)};
        model.Backward(grad);
        return r;
      };
      o.evaluate = [&](const Dataset& set) {
        return Evaluate(model, *loss, set, data.target_scaler);
      };
      o.parameters = model.Parameters();
    }
    FitResult r = variant == 2 ? Fit(*opt, data, o) : Fit(model, *loss, *opt, data, o);
    EXPECT_EQ(r.history.size(), 3u);
    EXPECT_EQ(r.history.back().eval_name, "validation");
    return Take(model);
  };
  const Snapshot plain = run(0);
  ExpectBitwiseEqual(plain, run(1));
  ExpectBitwiseEqual(plain, run(2));
}

TEST_F(FitTest, FitWithoutAModelNeedsTheHooks) {
  PreparedData data = TinyData(false);
  auto opt = MakeOptimizer({.kind = "sgd", .lr = 0.01});
  EXPECT_THROW(Fit(*opt, data, FitOptions{.epochs = 1, .batch_size = 8}), Error);
}

// --- the validation split ------------------------------------------------------------------

std::string WriteCsv(const std::string& name, int rows) {
  std::string path = std::string(JOULE_TEST_BINARY_DIR) + "/" + name;
  std::ofstream out(path);
  out << "a,b,y\n";
  Rng rng(4);
  for (int i = 0; i < rows; ++i) {
    float a = rng.Normal(), b = 3 + 2 * rng.Normal();
    out << a << "," << b << "," << (a - 0.5f * b + 0.1f * rng.Normal()) << "\n";
  }
  return path;
}

TEST_F(FitTest, ValidationSplitIsCarvedFromTrainingRowsAndSeeded) {
  std::string csv = WriteCsv("fit_test_split.csv", 100);
  PreparedData p = PrepareData(csv, "y", "regression", 7, 0.25);
  EXPECT_EQ(p.eval.rows(), 20);        // the 80/20 holdout first
  EXPECT_EQ(p.validation.rows(), 20);  // then 25% of the 80 training rows
  EXPECT_EQ(p.train.rows(), 60);
  // The normaliser saw the training rows only: their column means are 0.
  for (int j = 0; j < 2; ++j) {
    double sum = 0;
    for (std::int64_t i = 0; i < p.train.rows(); ++i) sum += p.train.x.f32()[i * 2 + j];
    EXPECT_NEAR(sum / 60, 0, 1e-5);
  }
  PreparedData again = PrepareData(csv, "y", "regression", 7, 0.25);
  EXPECT_EQ(std::memcmp(again.validation.y.raw(), p.validation.y.raw(), p.validation.y.nbytes()),
            0);
  EXPECT_EQ(PrepareData(csv, "y", "regression", 7, 0).validation.rows(), 0);
}

}  // namespace
}  // namespace joule
