// Callbacks driven over synthetic runs: a TrainContext stepped by hand and
// validation curves written out in the test, so each expected epoch, weight
// and learning rate can be checked against a hand computation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "joule/train.hpp"

// The option structs are written with designated initializers naming only the
// fields a test sets; GCC 12 warns about every omitted class-type member
// (std::string, std::optional) even though each has a default initializer.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace joule {
namespace {

using ::testing::HasSubstr;

// Learning rates are computed in double from hand-checkable formulas; only
// the last bits of cos() and pow() may differ from the values written here.
constexpr double kLrTol = 1e-12;

// A tiny model and an optimizer for the context to point at.
struct Rig {
  explicit Rig(Task task = Task::kClassification, int epochs = 10, double lr = 0.1)
      : optimizer(MakeOptimizer({.kind = "sgd", .lr = lr, .momentum = 0.9})) {
    Rng rng(3);
    model.Add(MakeLinear(2, 1, rng));
    ctx = std::make_unique<TrainContext>(model, *optimizer, task, epochs, lr);
  }
  Sequential model;
  std::unique_ptr<Optimizer> optimizer;
  std::unique_ptr<TrainContext> ctx;
};

EpochStats Epoch(int epoch, double accuracy, double loss = 0, double rmse = 0) {
  EpochStats s;
  s.epoch = epoch;
  s.eval.accuracy = accuracy;
  s.eval.loss = loss;
  s.eval.rmse = rmse;
  s.eval.rows = 10;
  return s;
}

// Runs one synthetic epoch of `steps` steps through `cb`, recording the lr
// each step would use.
std::vector<double> RunEpoch(Rig& rig, Callback& cb, int epoch, std::int64_t steps,
                             std::int64_t batch = 32) {
  std::vector<double> lrs;
  rig.ctx->BeginEpoch(epoch, batch, steps);
  cb.OnEpochBegin(*rig.ctx);
  for (std::int64_t i = 0; i < steps; ++i) {
    cb.OnStepBegin(*rig.ctx);
    lrs.push_back(rig.ctx->lr());
    rig.ctx->EndStep(0, 0, 0, 0);
  }
  return lrs;
}

// Sets every weight of the rig's model to `value` (marks the epoch's weights).
void MarkWeights(Rig& rig, float value) {
  for (auto& [name, t] : rig.model.NamedTensors()) t->Fill(value);
}

float FirstWeight(Rig& rig) { return rig.model.NamedTensors()[0].second->f32()[0]; }

// --- early stopping --------------------------------------------------------------

TEST(EarlyStopping, StopsAfterPatienceEpochsWithoutImprovementAndRestoresTheBest) {
  Rig rig;
  EarlyStopping es({.enabled = true, .monitor = "accuracy", .patience = 2});
  es.OnTrainBegin(*rig.ctx);
  // Best at epoch 3; epoch 5 only ties it, which is no improvement.
  const std::vector<double> curve = {0.5, 0.7, 0.8, 0.79, 0.8, 0.9};
  int stopped_at = 0;
  for (int e = 1; e <= 6 && !rig.ctx->stop_requested(); ++e) {
    MarkWeights(rig, static_cast<float>(e));
    EpochStats s = Epoch(e, curve[e - 1]);
    rig.ctx->AppendHistory(s);
    es.OnEpochEnd(*rig.ctx, s);
    stopped_at = e;
  }
  EXPECT_EQ(stopped_at, 5);
  EXPECT_EQ(rig.ctx->stop_reason(), StopReason::kEarlyStopping);
  EXPECT_THAT(rig.ctx->stop_message(), HasSubstr("epoch 3"));
  EXPECT_EQ(es.best_epoch(), 3);
  es.OnTrainEnd(*rig.ctx);
  EXPECT_TRUE(es.restored());
  for (auto& [name, t] : rig.model.NamedTensors()) {
    for (std::int64_t i = 0; i < t->numel(); ++i) EXPECT_EQ(t->f32()[i], 3.0f) << name;
  }
}

TEST(EarlyStopping, MinDeltaAndLowerIsBetterForLoss) {
  Rig rig;
  EarlyStopping es({.enabled = true, .monitor = "loss", .patience = 1, .min_delta = 0.05});
  es.OnTrainBegin(*rig.ctx);
  // 0.97 improves on 1.0 by less than min_delta: epoch 2 is a miss.
  const std::vector<double> loss = {1.0, 0.97, 0.5};
  EpochStats s = Epoch(1, 0, loss[0]);
  es.OnEpochEnd(*rig.ctx, s);
  EXPECT_FALSE(rig.ctx->stop_requested());
  s = Epoch(2, 0, loss[1]);
  es.OnEpochEnd(*rig.ctx, s);
  EXPECT_TRUE(rig.ctx->stop_requested());
  EXPECT_EQ(es.best_epoch(), 1);
}

TEST(EarlyStopping, DoesNotRestoreWhenTheLastEpochIsTheBest) {
  Rig rig;
  EarlyStopping es({.enabled = true, .patience = 3});
  es.OnTrainBegin(*rig.ctx);
  for (int e = 1; e <= 3; ++e) {
    MarkWeights(rig, static_cast<float>(e));
    EpochStats s = Epoch(e, 0.1 * e);
    rig.ctx->AppendHistory(s);
    es.OnEpochEnd(*rig.ctx, s);
  }
  es.OnTrainEnd(*rig.ctx);
  EXPECT_FALSE(es.restored());
  EXPECT_EQ(FirstWeight(rig), 3.0f);
}

// --- target ------------------------------------------------------------------------

TEST(TargetStop, StopsAtTheEpochThatReachesTheValue) {
  Rig rig;
  TargetStop target({.value = 0.95, .monitor = "accuracy"});
  const std::vector<double> curve = {0.5, 0.9, 0.96, 0.97};
  int stopped_at = 0;
  for (int e = 1; e <= 4 && !rig.ctx->stop_requested(); ++e) {
    target.OnEpochEnd(*rig.ctx, Epoch(e, curve[e - 1]));
    stopped_at = e;
  }
  EXPECT_EQ(stopped_at, 3);
  EXPECT_TRUE(target.reached());
  EXPECT_EQ(target.reached_epoch(), 3);
  EXPECT_EQ(rig.ctx->stop_reason(), StopReason::kTarget);
  EXPECT_THAT(rig.ctx->stop_message(), HasSubstr("reached at epoch 3"));
}

TEST(TargetStop, RegressionTargetIsAnUpperBoundAndSaysWhenNeverReached) {
  Rig rig(Task::kRegression);
  TargetStop target({.value = 0.5});  // "" -> rmse for regression
  const std::vector<double> rmse = {0.9, 0.7, 0.6};
  for (int e = 1; e <= 3; ++e) target.OnEpochEnd(*rig.ctx, Epoch(e, 0, 0, rmse[e - 1]));
  EXPECT_FALSE(rig.ctx->stop_requested());
  EXPECT_FALSE(target.reached());
  EXPECT_EQ(target.Summary(Task::kRegression, 3),
            "validation rmse <= 0.5 not reached in 3 epochs (best 0.6 at epoch 3)");
  target.OnEpochEnd(*rig.ctx, Epoch(4, 0, 0, 0.5));
  EXPECT_TRUE(target.reached());
}

// --- budget (prediction logic; the metered run is in fit_test) -------------------------

TEST(Budget, StopsWhenTheNextStepWouldCrossIt) {
  Rig rig;
  rig.ctx->set_metered(true);
  Budget budget({.energy_j = 35.0});
  budget.OnTrainBegin(*rig.ctx);
  rig.ctx->BeginEpoch(1, 32, 10);
  double total = 0;
  int steps = 0;
  while (!rig.ctx->stop_requested()) {
    total += 10;
    rig.ctx->EndStep(10, 0, total, 0);
    budget.OnStepEnd(*rig.ctx, StepStats{});
    ++steps;
  }
  // After 3 steps (30 J) a fourth would reach 40 J > 35 J.
  EXPECT_EQ(steps, 3);
  EXPECT_EQ(rig.ctx->stop_reason(), StopReason::kBudget);
  EXPECT_THAT(rig.ctx->stop_message(), HasSubstr("would reach 40 J"));
}

TEST(Budget, RefusesAnUnmeteredRun) {
  Rig rig;
  Budget budget({.co2_g = 1.0});
  EXPECT_THROW(budget.OnTrainBegin(*rig.ctx), Error);
}

// --- cost prediction -----------------------------------------------------------------

// Epoch `epoch` ended having cost `joules` (and 0.1 g of CO2 per joule) in
// `seconds`; the history and the totals advance as Fit advances them.
EpochStats CostlyEpoch(Rig& rig, int epoch, double joules, double seconds, double& total) {
  total += joules;
  EpochStats s = Epoch(epoch, 0.5);
  s.energy_j = joules;
  s.total_energy_j = total;
  s.total_co2_g = 0.1 * total;
  s.seconds = seconds;
  s.energy_method = "estimated:tdp-model";
  rig.ctx->AppendHistory(s);
  return s;
}

TEST(PredictCost, AfterOneEpochIsItsCostTimesTheEpochLimitWithAFivePercentInterval) {
  Rig rig(Task::kClassification, 10);
  rig.ctx->set_metered(true);
  int calls = 0;
  PredictCost predict(
      {.after_epochs = 1, .on_prediction = [&](const CostPrediction&) { ++calls; }});
  predict.OnTrainBegin(*rig.ctx);
  double total = 0;
  predict.OnEpochEnd(*rig.ctx, CostlyEpoch(rig, 1, 12.0, 2.0, total));
  ASSERT_TRUE(predict.prediction().has_value());
  const CostPrediction& p = *predict.prediction();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(p.to_epoch, 10);
  EXPECT_DOUBLE_EQ(p.energy_j, 120.0);
  EXPECT_DOUBLE_EQ(p.energy_low_j, 12.0 + 9 * 12.0 * 0.95);
  EXPECT_DOUBLE_EQ(p.energy_high_j, 12.0 + 9 * 12.0 * 1.05);
  EXPECT_DOUBLE_EQ(p.co2_g, 12.0);
  EXPECT_DOUBLE_EQ(p.seconds, 20.0);
  EXPECT_EQ(p.method, "predicted from 1 epoch of estimated:tdp-model");
  // Made once: later epochs do not change it.
  predict.OnEpochEnd(*rig.ctx, CostlyEpoch(rig, 2, 50.0, 2.0, total));
  EXPECT_DOUBLE_EQ(predict.prediction()->energy_j, 120.0);
  EXPECT_EQ(calls, 1);
}

// A first epoch of 10 steps whose first half is slow (start-up): 4 s for
// steps 1-5, 1 s for steps 6-10, 0.5 s of evaluation. A steady epoch takes
// 2 x 1 + 0.5 = 2.5 s of the first one's 5.5 s since the run began, so
// the 11 J of the first epoch become 5 J a steady epoch.
TEST(PredictCost, TakesTheStartUpOutOfASingleEpochByItsTiming) {
  Rig rig(Task::kClassification, 5);
  rig.ctx->set_metered(true);
  double now = 100;
  PredictCost predict({.after_epochs = 1, .clock = [&] { return now; }});
  predict.OnTrainBegin(*rig.ctx);
  rig.ctx->BeginEpoch(1, 32, 10);
  for (int step = 1; step <= 10; ++step) {
    now += step <= 5 ? 0.8 : 0.2;
    rig.ctx->EndStep(0, 0, 0, 0);
    predict.OnStepEnd(*rig.ctx, StepStats{});
  }
  now += 0.5;
  double total = 0;
  predict.OnEpochEnd(*rig.ctx, CostlyEpoch(rig, 1, 11.0, 5.5, total));
  ASSERT_TRUE(predict.prediction().has_value());
  EXPECT_NEAR(predict.prediction()->energy_j, 11.0 + 4 * 5.0, 1e-9);
  EXPECT_NEAR(predict.prediction()->seconds, 5.5 + 4 * 2.5, 1e-9);
}

// The same first epoch with a meter to sample: 9 J by the middle step, 10 J
// by the last. The second half of the steps (5 of 10, 1 s) spent 1 J, so all
// ten steps 2 J in 2 s; the first evaluation (1 J, 0.5 s) counts at most the
// share of the work of its 10 rows against 10 x 32 training rows,
// 10 / (3 x 320) of the steps'.
TEST(PredictCost, TakesTheStartUpOutByTheSecondHalfsEnergyWhenItCanSample) {
  Rig rig(Task::kClassification, 5);
  rig.ctx->set_metered(true);
  double now = 100, sampled_j = 0;
  int samples = 0;
  rig.ctx->set_energy_sampler([&] {
    ++samples;
    return sampled_j;
  });
  PredictCost predict({.after_epochs = 1, .clock = [&] { return now; }});
  predict.OnTrainBegin(*rig.ctx);
  rig.ctx->BeginEpoch(1, 32, 10);
  for (int step = 1; step <= 10; ++step) {
    now += step <= 5 ? 0.8 : 0.2;
    sampled_j = step <= 5 ? 1.8 * step : 9.0 + 0.2 * (step - 5);
    rig.ctx->EndStep(0, 0, 0, 0);
    predict.OnStepEnd(*rig.ctx, StepStats{});
  }
  EXPECT_EQ(samples, 2);  // fresh samples at the middle and the last step only
  now += 0.5;
  double total = 0;
  EpochStats first = CostlyEpoch(rig, 1, 11.0, 5.5, total);
  first.steps = 10;
  first.batch_size = 32;
  predict.OnEpochEnd(*rig.ctx, first);
  ASSERT_TRUE(predict.prediction().has_value());
  const double share = 10.0 / (3 * 320);
  EXPECT_NEAR(predict.prediction()->energy_j, 11.0 + 4 * 2.0 * (1 + share), 1e-9);
  EXPECT_NEAR(predict.prediction()->seconds, 5.5 + 4 * 2.0 * (1 + share), 1e-9);
}

TEST(PredictCost, LeavesTheFirstEpochOutOfTheMeanWhenItHasOthers) {
  Rig rig(Task::kClassification, 6);
  rig.ctx->set_metered(true);
  PredictCost predict({.after_epochs = 3});
  double total = 0;
  predict.OnEpochEnd(*rig.ctx, CostlyEpoch(rig, 1, 30.0, 1.0, total));  // start-up included
  predict.OnEpochEnd(*rig.ctx, CostlyEpoch(rig, 2, 8.0, 1.0, total));
  EXPECT_FALSE(predict.prediction().has_value());
  predict.OnEpochEnd(*rig.ctx, CostlyEpoch(rig, 3, 12.0, 1.0, total));
  ASSERT_TRUE(predict.prediction().has_value());
  // 50 J so far, then 3 more epochs at the mean of 8 and 12: 80 J. The two
  // epochs' standard deviation (2.83 J) is above 5 % of 10 J, so it sets the
  // interval.
  const CostPrediction& p = *predict.prediction();
  EXPECT_DOUBLE_EQ(p.energy_j, 80.0);
  EXPECT_NEAR(p.energy_high_j - p.energy_j, 3 * std::sqrt(8.0), 1e-9);
  EXPECT_NEAR(p.energy_j - p.energy_low_j, 3 * std::sqrt(8.0), 1e-9);
}

TEST(PredictCost, StopsARunPredictedAboveItsLimitAndSaysWhy) {
  Rig rig(Task::kClassification, 10);
  rig.ctx->set_metered(true);
  PredictCost predict({.after_epochs = 1, .max_energy_j = 100.0});
  double total = 0;
  predict.OnEpochEnd(*rig.ctx, CostlyEpoch(rig, 1, 12.0, 1.0, total));
  EXPECT_TRUE(rig.ctx->stop_requested());
  EXPECT_EQ(rig.ctx->stop_reason(), StopReason::kPredictedCost);
  EXPECT_THAT(rig.ctx->stop_message(), HasSubstr("predicted to use 120 J by epoch 10"));
  Rig under(Task::kClassification, 10);
  under.ctx->set_metered(true);
  PredictCost enough({.after_epochs = 1, .max_energy_j = 121.0});
  total = 0;
  enough.OnEpochEnd(*under.ctx, CostlyEpoch(under, 1, 12.0, 1.0, total));
  EXPECT_FALSE(under.ctx->stop_requested());
}

TEST(PredictCost, BadOptionsAndRunsAreErrors) {
  EXPECT_THROW(PredictCost({.after_epochs = 0}), Error);
  EXPECT_THROW(PredictCost({.after_epochs = 1, .max_energy_j = -5.0}), Error);
  Rig unmetered(Task::kClassification, 10);
  PredictCost predict({.after_epochs = 1});
  EXPECT_THROW(predict.OnTrainBegin(*unmetered.ctx), Error);
  Rig short_run(Task::kClassification, 2);
  short_run.ctx->set_metered(true);
  PredictCost late({.after_epochs = 2});
  EXPECT_THROW(late.OnTrainBegin(*short_run.ctx), Error);
}

TEST(PredictCost, KeepsItsPredictionAcrossAResume) {
  Rig rig(Task::kClassification, 10);
  rig.ctx->set_metered(true);
  PredictCost predict({.after_epochs = 1});
  double total = 0;
  predict.OnEpochEnd(*rig.ctx, CostlyEpoch(rig, 1, 12.0, 1.0, total));
  CallbackState state;
  predict.SaveState(state);
  PredictCost resumed({.after_epochs = 1});
  resumed.LoadState(state);
  ASSERT_TRUE(resumed.prediction().has_value());
  EXPECT_DOUBLE_EQ(resumed.prediction()->energy_j, 120.0);
  EXPECT_EQ(resumed.prediction()->method, predict.prediction()->method);
}

// --- learning-rate schedules -----------------------------------------------------------

TEST(LrSchedule, ConstantFollowsTheLrScale) {
  Rig rig(Task::kClassification, 2, 0.1);
  auto s = MakeLrSchedule("constant", {});
  EXPECT_EQ(RunEpoch(rig, *s, 1, 2), (std::vector<double>{0.1, 0.1}));
  rig.ctx->ScaleLr(2);
  EXPECT_EQ(RunEpoch(rig, *s, 2, 1)[0], 0.2);
}

TEST(LrSchedule, StepDecaysEveryStepEpochs) {
  Rig rig(Task::kClassification, 5, 0.1);
  auto s = MakeLrSchedule("step", {.step_epochs = 2, .gamma = 0.5});
  const std::vector<double> want = {0.1, 0.1, 0.05, 0.05, 0.025};
  for (int e = 1; e <= 5; ++e) EXPECT_NEAR(RunEpoch(rig, *s, e, 3)[2], want[e - 1], kLrTol) << e;
}

TEST(LrSchedule, CosineOverTheWholeRun) {
  Rig rig(Task::kClassification, 2, 0.1);
  auto s = MakeLrSchedule("cosine", {});
  std::vector<double> lrs = RunEpoch(rig, *s, 1, 4);
  std::vector<double> second = RunEpoch(rig, *s, 2, 4);
  lrs.insert(lrs.end(), second.begin(), second.end());
  // Step k of 8: 0.1 (1 + cos(pi k / 8)) / 2.
  EXPECT_NEAR(lrs[0], 0.1, kLrTol);
  EXPECT_NEAR(lrs[2], 0.0853553390593274, kLrTol);
  EXPECT_NEAR(lrs[4], 0.05, kLrTol);
  EXPECT_NEAR(lrs[6], 0.0146446609406726, kLrTol);
  // min_lr lifts the floor: at p = 0.5, halfway between 0.1 and 0.02.
  Rig rig2(Task::kClassification, 1, 0.1);
  auto floored = MakeLrSchedule("cosine", {.min_lr = 0.02});
  EXPECT_NEAR(RunEpoch(rig2, *floored, 1, 2)[1], 0.06, kLrTol);
}

TEST(LrSchedule, OneCycleWarmsUpThenAnneals) {
  Rig rig(Task::kClassification, 1, 1.0);
  auto s =
      MakeLrSchedule("one-cycle", {.pct_start = 0.3, .div_factor = 25, .final_div_factor = 1e4});
  std::vector<double> lrs = RunEpoch(rig, *s, 1, 20);  // p = k / 20
  EXPECT_NEAR(lrs[0], 0.04, kLrTol);                   // base / div_factor
  EXPECT_NEAR(lrs[3], 0.52, kLrTol);                   // halfway up: (0.04 + 1) / 2
  EXPECT_NEAR(lrs[6], 1.0, kLrTol);                    // the peak at pct_start
  EXPECT_NEAR(lrs[13], 0.500002, kLrTol);              // halfway down to 0.04 / 1e4
  // The last step, p = 0.95: 4e-6 + (1 - 4e-6) (1 + cos(pi 0.65 / 0.7)) / 2.
  EXPECT_NEAR(lrs[19], 0.0125399937649126, kLrTol);
}

TEST(LrSchedule, ReduceOnPlateauCutsAfterPatienceEpochs) {
  Rig rig(Task::kClassification, 6, 0.1);
  auto s = MakeLrSchedule("reduce-on-plateau", {.monitor = "loss", .factor = 0.5, .patience = 2});
  s->OnTrainBegin(*rig.ctx);
  // Epochs 3 and 4 miss epoch 2's 0.9: the lr halves from epoch 5 on.
  const std::vector<double> loss = {1.0, 0.9, 0.95, 0.93, 0.92, 0.8};
  std::vector<double> lr_by_epoch;
  for (int e = 1; e <= 6; ++e) {
    lr_by_epoch.push_back(RunEpoch(rig, *s, e, 1)[0]);
    s->OnEpochEnd(*rig.ctx, Epoch(e, 0, loss[e - 1]));
  }
  EXPECT_EQ(lr_by_epoch, (std::vector<double>{0.1, 0.1, 0.1, 0.1, 0.05, 0.05}));
}

TEST(LrSchedule, UnknownNameAndBadParametersNameTheField) {
  try {
    MakeLrSchedule("linear", {});
    FAIL() << "no Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("lr_schedule = 'linear'"));
    EXPECT_THAT(e.what(), HasSubstr("one-cycle"));
  }
  EXPECT_THROW(MakeLrSchedule("step", {.step_epochs = 0}), Error);
  try {
    MakeLrSchedule("one-cycle", {.pct_start = 1.0});
    FAIL() << "no Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("lr_schedule_options.pct_start"));
  }
  try {
    MakeLrSchedule("reduce-on-plateau", {.patience = -1});
    FAIL() << "no Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("lr_schedule_options.patience"));
  }
}

// --- adaptive batch size --------------------------------------------------------------

TEST(AdaptiveBatch, DoublesOnAPlateauScalesTheLrAndCaps) {
  Rig rig(Task::kClassification, 7, 0.1);
  AdaptiveBatch ab({.enabled = true, .patience = 1, .max_batch_size = 100, .lr_factor = 2.0});
  ab.OnTrainBegin(*rig.ctx);
  const std::vector<double> curve = {0.5, 0.6, 0.6, 0.7, 0.7, 0.7};
  std::vector<std::int64_t> next;
  std::vector<double> lr;
  std::int64_t batch = 32;
  for (int e = 1; e <= 6; ++e) {
    rig.ctx->BeginEpoch(e, batch, 4);
    ab.OnEpochEnd(*rig.ctx, Epoch(e, curve[e - 1]));
    batch = rig.ctx->next_batch_size();
    next.push_back(batch);
    lr.push_back(rig.ctx->lr());
  }
  // Plateaus at epochs 3, 5 and 6: 32 -> 64 -> 100 (capped) -> 100.
  EXPECT_EQ(next, (std::vector<std::int64_t>{32, 32, 64, 64, 100, 100}));
  EXPECT_NEAR(lr[2], 0.2, kLrTol);
  EXPECT_NEAR(lr[4], 0.2 * 100.0 / 64.0, kLrTol);  // 2^log2(100/64): the linear rule pro rata
  EXPECT_NEAR(lr[5], lr[4], kLrTol);               // capped: no change
  EXPECT_NEAR(rig.ctx->lr_scale(), 100.0 / 32.0, kLrTol);
}

TEST(AdaptiveBatch, BadOptionsNameTheField) {
  try {
    AdaptiveBatch ab({.enabled = true, .patience = -2});
    FAIL() << "no Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("adaptive_batch.patience = -2"));
  }
  EXPECT_THROW(AdaptiveBatch({.enabled = true, .max_batch_size = 0}), Error);
  EXPECT_THROW(AdaptiveBatch({.enabled = true, .lr_factor = 0}), Error);
}

// --- annealed Huber delta ----------------------------------------------------------------

TEST(HuberDeltaSchedule, GeometricAndLinearPerEpochHitBothEnds) {
  auto loss = MakeAnnealedHuber(1.0);
  Rig rig(Task::kRegression, 3);
  HuberDeltaSchedule geo(*loss, {.delta_start = 4, .delta_end = 0.25});
  std::vector<double> deltas;
  for (int e = 1; e <= 3; ++e) {
    RunEpoch(rig, geo, e, 1);
    deltas.push_back(loss->delta());
  }
  EXPECT_NEAR(deltas[0], 4, 1e-12);
  EXPECT_NEAR(deltas[1], 1, 1e-12);  // sqrt(4 x 0.25)
  EXPECT_NEAR(deltas[2], 0.25, 1e-12);
  HuberDeltaSchedule lin(*loss, {.delta_start = 0.25, .delta_end = 4, .curve = "linear"});
  EXPECT_NEAR(lin.DeltaAt(0.5), 2.125, 1e-12);
}

TEST(HuberDeltaSchedule, PerStepFollowsProgress) {
  auto loss = MakeAnnealedHuber(1.0);
  Rig rig(Task::kRegression, 1);
  HuberDeltaSchedule s(*loss, {.delta_start = 1, .delta_end = 0.01, .per = "step"});
  rig.ctx->BeginEpoch(1, 8, 2);
  rig.ctx->EndStep(0, 0, 0, 0);  // the second step: p = 0.5
  s.OnStepBegin(*rig.ctx);
  EXPECT_NEAR(loss->delta(), 0.1, 1e-12);
}

TEST(HuberDeltaSchedule, BadOptionsNameTheField) {
  auto loss = MakeAnnealedHuber(1.0);
  try {
    HuberDeltaSchedule s(*loss, {.curve = "cubic"});
    FAIL() << "no Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("annealed_huber.curve"));
  }
  EXPECT_THROW(HuberDeltaSchedule(*loss, {.delta_end = -1}), Error);
}

TEST(Monitor, UnknownNameNamesTheField) {
  try {
    EarlyStopping es({.enabled = true, .monitor = "f1"});
    FAIL() << "no Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("early_stopping.monitor = 'f1'"));
  }
  try {
    EarlyStopping es({.enabled = true, .patience = -1});
    FAIL() << "no Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("early_stopping.patience = -1"));
  }
}

}  // namespace
}  // namespace joule
