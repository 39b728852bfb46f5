// The inference side of compression: MAC counting by hand, loading any model
// directory, and the benchmark's accuracy agreeing with Evaluate.
#include "joule/compress/inference.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "test_scratch.hpp"

namespace joule {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string ScratchDir() { return test::TestScratchDir("inference_test", true); }

TEST(CountMacs, MlpIsTheSumOfItsWeightMatrices) {
  Rng rng(1);
  Sequential mlp = MakeModel("mlp", {1, 1, 28, 28}, 10, rng);
  EXPECT_EQ(CountMacs(mlp, {1, 1, 28, 28}), 784.0 * 256 + 256.0 * 128 + 128.0 * 10);
}

TEST(CountMacs, CnnCountsEveryOutputPositionOfEachConv) {
  Rng rng(1);
  Sequential cnn = MakeModel("cnn", {1, 1, 28, 28}, 10, rng);
  // conv 3x3 padding 1 keeps 28x28, pool halves: conv1 at 28x28, conv2 at 14x14.
  const double conv1 = 16.0 * 1 * 9 * 28 * 28;
  const double conv2 = 32.0 * 16 * 9 * 14 * 14;
  const double fc = 1568.0 * 128 + 128.0 * 10;
  EXPECT_EQ(CountMacs(cnn, {64, 1, 28, 28}), conv1 + conv2 + fc);
}

// A tiny classifier whose answer is known: class = argmax of the 3 inputs.
Sequential IdentityClassifier() {
  Rng rng(1);
  Sequential model;
  model.Add(MakeLinear(3, 3, rng));
  for (auto& [name, t] : model.NamedTensors()) {
    t->Zero();
    if (name == "0.weight") {
      for (int i = 0; i < 3; ++i) t->f32()[i * 3 + i] = 1;
    }
  }
  return model;
}

Dataset ThreeClassData(std::int64_t rows, int wrong_every) {
  Dataset d;
  d.task = Task::kClassification;
  d.num_classes = 3;
  d.x = Tensor({rows, 3});
  d.y = Tensor({rows});
  for (std::int64_t i = 0; i < rows; ++i) {
    const int hot = static_cast<int>(i % 3);
    d.x.f32()[i * 3 + hot] = 1;
    // Every `wrong_every`th label disagrees with the input's hot feature.
    d.y.f32()[i] = static_cast<float>(i % wrong_every == 0 ? (hot + 1) % 3 : hot);
  }
  return d;
}

TEST(BenchInference, AccuracyLatencyAndThroughputOnAKnownModel) {
  Sequential model = IdentityClassifier();
  auto wrapped = WrapSequential(model, {1, 3});
  Dataset data = ThreeClassData(600, 4);  // rows 0, 4, 8, ... are wrong: 150 of 600
  InferenceBenchOptions options;
  options.latency_samples = 50;
  options.throughput_batch = 256;
  options.throughput_seconds = 0.05;
  InferenceBenchResult r = BenchInference(*wrapped, data, options);
  EXPECT_DOUBLE_EQ(r.accuracy, 450.0 / 600.0);
  EXPECT_EQ(r.rows, 600);
  EXPECT_GT(r.latency_p50_ms, 0);
  EXPECT_GE(r.latency_p99_ms, r.latency_p50_ms);
  EXPECT_GT(r.throughput_per_s, 0);
  EXPECT_EQ(r.macs_per_sample, 9);
  EXPECT_EQ(r.parameters, 12);
  EXPECT_EQ(r.energy.method, "");  // not metered
}

TEST(BenchInference, RefusesRegressionData) {
  Sequential model = IdentityClassifier();
  auto wrapped = WrapSequential(model, {1, 3});
  Dataset data = ThreeClassData(10, 2);
  data.task = Task::kRegression;
  EXPECT_THROW(BenchInference(*wrapped, data, {}), Error);
}

TEST(LoadInferenceModel, LoadsASavedSequentialModelWithTheSameOutputs) {
  const std::string dir = ScratchDir();
  Sequential model = IdentityClassifier();
  SaveModel(model, dir, {});
  auto loaded = LoadInferenceModel(dir);
  EXPECT_EQ(loaded->kind(), "sequential");
  Tensor x = Tensor::FromVector({2, 3}, {0.1f, 0.7f, 0.2f, 3, 2, 1});
  const Tensor& y = loaded->Predict(x);
  ASSERT_EQ(y.shape(), (Shape{2, 3}));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(y.f32()[i], x.f32()[i]);
  EXPECT_EQ(loaded->MacsPerSample(), 9);
  EXPECT_GT(DirectorySize(dir), 0);
}

TEST(LoadInferenceModel, MalformedOrMissingModelJsonNamesTheFile) {
  const std::string dir = ScratchDir();
  try {
    LoadInferenceModel(dir);
    FAIL() << "no model.json should throw";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("model.json"));
  }
  WriteFileAtomic(dir + "/model.json", "{\"format\": ");
  try {
    LoadInferenceModel(dir);
    FAIL() << "truncated JSON should throw";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("not valid JSON"));
  }
  WriteFileAtomic(dir + "/model.json", "{\"version\": 1}");
  EXPECT_THROW(LoadInferenceModel(dir), Error);
}

}  // namespace
}  // namespace joule
