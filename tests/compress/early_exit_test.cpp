// Early-exit models: routing (threshold 0 is the plain network, a huge one
// sends everyone out at exit 0, mixed batches take the right exit each),
// MACs by hand and averaged over calls, BackwardAll against finite
// differences, the sweep's choice, save/load and malformed model files.
#include "joule/compress/early_exit.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "../nn/gradcheck.hpp"
#include "test_scratch.hpp"

namespace joule {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// BackwardAll's gradients vs central differences through f32 outputs of a
// tanh network (measured below 1e-3 with step 1e-2).
constexpr double kGradTol = 5e-3;
// Rows routed in a smaller gathered batch may round differently in oneDNN.
constexpr float kRoutedTol = 1e-5f;

std::string ScratchDir() { return test::TestScratchDir("early_exit_test", false); }

Tensor RandomImages(std::int64_t n, std::uint64_t seed) {
  Rng rng(seed);
  Tensor x({n, 1, 8, 8});
  for (std::int64_t i = 0; i < x.numel(); ++i) x.f32()[i] = 2 * rng.Uniform() - 1;
  return x;
}

EarlyExitModel SmallCnn(std::uint64_t seed) {
  Rng rng(seed);
  return MakeEarlyExitModel("cnn", {4, 1, 8, 8}, 3, rng);
}

TEST(EarlyExitTest, ThresholdZeroIsThePlainNetwork) {
  EarlyExitModel model = SmallCnn(3);
  Rng rng(3);
  Sequential plain = MakeModel("cnn", {4, 1, 8, 8}, 3, rng);
  const Tensor x = RandomImages(6, 1);
  const Tensor expected = plain.Forward(x, false).Clone();
  const Tensor& got = model.Predict(x);
  ASSERT_EQ(got.shape(), expected.shape());
  for (std::int64_t i = 0; i < got.numel(); ++i) EXPECT_EQ(got.f32()[i], expected.f32()[i]);
  EXPECT_DOUBLE_EQ(model.MacsPerSample(), model.MacsToExit(model.num_exits() - 1));
}

TEST(EarlyExitTest, HugeThresholdLeavesAtExitZero) {
  EarlyExitModel model = SmallCnn(3);
  const Tensor x = RandomImages(5, 2);
  const Tensor exit0 = model.ForwardAll(x, false)[0].Clone();
  model.set_threshold(1e9);
  const Tensor& got = model.Predict(x);
  for (std::int64_t i = 0; i < got.numel(); ++i) EXPECT_EQ(got.f32()[i], exit0.f32()[i]);
  EXPECT_DOUBLE_EQ(model.MacsPerSample(), model.MacsToExit(0));
  EXPECT_LT(model.MacsToExit(0), 0.5 * model.FullMacsPerSample());
}

TEST(EarlyExitTest, MixedBatchEachRowTakesItsFirstConfidentExit) {
  EarlyExitModel model = SmallCnn(4);
  const Tensor x = RandomImages(32, 5);
  const std::vector<Tensor> all = [&] {
    std::vector<Tensor> v;
    for (const Tensor& t : model.ForwardAll(x, false)) v.push_back(t.Clone());
    return v;
  }();
  std::vector<std::vector<double>> entropy(all.size());
  for (std::size_t e = 0; e < all.size(); ++e) SoftmaxEntropy(all[e], entropy[e]);
  // The median entropy at exit 0 sends about half of the rows out there.
  std::vector<double> sorted = entropy[0];
  std::sort(sorted.begin(), sorted.end());
  const double threshold = sorted[16];
  model.set_threshold(threshold);
  const Tensor& got = model.Predict(x);
  double macs = 0;
  std::set<std::size_t> exits_used;
  for (std::int64_t r = 0; r < 32; ++r) {
    std::size_t e = 0;
    while (e + 1 < all.size() && !(entropy[e][r] < threshold)) ++e;
    exits_used.insert(e);
    macs += model.MacsToExit(e);
    for (std::int64_t c = 0; c < 3; ++c) {
      EXPECT_NEAR(got.f32()[r * 3 + c], all[e].f32()[r * 3 + c], kRoutedTol) << "row " << r;
    }
  }
  EXPECT_GE(exits_used.size(), 2u);
  EXPECT_NEAR(model.MacsPerSample(), macs / 32, 1e-9 * macs);
}

TEST(EarlyExitTest, MacsByHandAndAveragedOverCalls) {
  Rng rng(1);
  EarlyExitModel model = MakeEarlyExitModel("mlp", {4, 6}, 3, rng);
  // Segment 0: 6x256, exit 0: 256x3; segment 1: 256x128, exit 1: 128x3.
  EXPECT_DOUBLE_EQ(model.MacsToExit(0), 6 * 256 + 256 * 3);
  EXPECT_DOUBLE_EQ(model.MacsToExit(1), 6 * 256 + 256 * 3 + 256 * 128 + 128 * 3);
  EXPECT_DOUBLE_EQ(model.FullMacsPerSample(), 6 * 256 + 256 * 128 + 128 * 3);  // no exits
  EXPECT_DOUBLE_EQ(model.MacsPerSample(), model.MacsToExit(1));  // nothing routed yet: worst case

  Tensor x({4, 6});
  model.set_threshold(0);  // 4 rows to the end
  model.Predict(x);
  model.set_threshold(1e9);  // 4 + 4 rows out at exit 0
  model.Predict(x);
  model.Predict(x);
  EXPECT_DOUBLE_EQ(model.MacsPerSample(), (4 * model.MacsToExit(1) + 8 * model.MacsToExit(0)) / 12);
  model.ResetCost();
  model.Predict(Tensor({2, 6}));
  EXPECT_DOUBLE_EQ(model.MacsPerSample(), model.MacsToExit(0));
  EXPECT_EQ(model.ParameterCount(), 6 * 256 + 256 + 256 * 3 + 3 + 256 * 128 + 128 + 128 * 3 + 3);
}

// Every exit's logits side by side, so that gradcheck sees all of them:
// L = sum over exits of r_i . logits_i.
class AllExits final : public Layer {
 public:
  explicit AllExits(std::uint64_t seed) : model_(Build(seed)) {}
  std::string type() const override { return "AllExits"; }
  nlohmann::json config() const override { return {}; }
  const Tensor& Forward(const Tensor& x, bool training) override {
    const std::vector<Tensor>& logits = model_.ForwardAll(x, training);
    y_.Resize({x.dim(0), 6});
    for (std::int64_t r = 0; r < x.dim(0); ++r) {
      for (int c = 0; c < 3; ++c) {
        y_.f32()[r * 6 + c] = logits[0].f32()[r * 3 + c];
        y_.f32()[r * 6 + 3 + c] = logits[1].f32()[r * 3 + c];
      }
    }
    return y_;
  }
  const Tensor& Backward(const Tensor& dy) override {
    std::vector<Tensor> grads{Tensor({dy.dim(0), 3}), Tensor({dy.dim(0), 3})};
    for (std::int64_t r = 0; r < dy.dim(0); ++r) {
      for (int c = 0; c < 3; ++c) {
        grads[0].f32()[r * 3 + c] = dy.f32()[r * 6 + c];
        grads[1].f32()[r * 3 + c] = dy.f32()[r * 6 + 3 + c];
      }
    }
    model_.BackwardAll(grads);
    return dx_;  // segment 0 computes no dL/dx; gradcheck's x entry is skipped
  }
  std::vector<Parameter*> Parameters() override { return model_.Parameters(); }

 private:
  static EarlyExitModel Build(std::uint64_t seed) {
    Rng rng(seed);
    std::vector<Sequential> segments(2), exits(2);
    segments[0].Add(MakeLinear(4, 5, rng));
    segments[0].Add(MakeTanh());
    segments[1].Add(MakeLinear(5, 5, rng));
    segments[1].Add(MakeTanh());
    exits[0].Add(MakeLinear(5, 3, rng));
    exits[1].Add(MakeTanh());  // a parameter-free first layer must pass dx on too
    exits[1].Add(MakeLinear(5, 3, rng));
    return EarlyExitModel(std::move(segments), std::move(exits), {1, 4}, 0);
  }
  EarlyExitModel model_;
  Tensor y_, dx_;
};

TEST(EarlyExitTest, BackwardAllMatchesFiniteDifferences) {
  Rng rng(2);
  Tensor x({3, 4});
  for (std::int64_t i = 0; i < x.numel(); ++i) x.f32()[i] = 2 * rng.Uniform() - 1;
  auto errors = gradcheck::CheckGradients([] { return std::make_unique<AllExits>(7); }, x, 3);
  ASSERT_EQ(errors.size(), 1u + 8u);  // x, then weight and bias of 4 Linear layers
  for (std::size_t i = 1; i < errors.size(); ++i) {
    EXPECT_LT(errors[i].rel_err, kGradTol) << gradcheck::Describe(errors[i]);
  }
}

Dataset RandomDataset(std::int64_t n, std::uint64_t seed) {
  Dataset d;
  d.x = RandomImages(n, seed);
  d.y = Tensor({n});
  Rng rng(seed + 1);
  for (std::int64_t i = 0; i < n; ++i) d.y.f32()[i] = static_cast<float>(rng.Below(3));
  d.num_classes = 3;
  return d;
}

TEST(EarlyExitTest, SweepReplaysRoutingAndChoosesTheCheapestWithinTheDrop) {
  EarlyExitModel model = SmallCnn(6);
  const Dataset data = RandomDataset(40, 8);
  const std::vector<double> thresholds = {0.0, 0.9, 1.0, 1.05, 1e9};
  ThresholdSweep loose = SweepThresholds(model, data, thresholds, /*max_drop_points=*/100);
  ASSERT_EQ(loose.points.size(), thresholds.size());
  // Everyone out at exit 0 is the cheapest; the first threshold that does it wins.
  EXPECT_DOUBLE_EQ(loose.points[loose.chosen].macs_per_sample, model.MacsToExit(0));
  for (std::size_t i = 0; i < loose.chosen; ++i) {
    EXPECT_GT(loose.points[i].macs_per_sample, model.MacsToExit(0));
  }
  EXPECT_DOUBLE_EQ(loose.points[4].macs_per_sample, model.MacsToExit(0));
  EXPECT_DOUBLE_EQ(loose.points[0].accuracy, loose.final_exit_accuracy);
  EXPECT_DOUBLE_EQ(loose.points[0].cost_vs_full,
                   model.MacsToExit(model.num_exits() - 1) / model.FullMacsPerSample());
  EXPECT_DOUBLE_EQ(loose.points[4].exit_fraction[0], 1.0);
  // Each point is what Predict gives at that threshold.
  for (const ThresholdPoint& p : loose.points) {
    model.set_threshold(p.threshold);
    model.ResetCost();
    const Tensor& scores = model.Predict(data.x);
    std::int64_t correct = 0;
    for (std::int64_t r = 0; r < 40; ++r) {
      const float* z = scores.f32() + r * 3;
      correct += (std::max_element(z, z + 3) - z) == static_cast<int>(data.y.f32()[r]);
    }
    EXPECT_DOUBLE_EQ(p.accuracy, correct / 40.0) << "threshold " << p.threshold;
    EXPECT_NEAR(p.macs_per_sample, model.MacsPerSample(), 1e-6 * p.macs_per_sample);
  }
  ThresholdSweep strict = SweepThresholds(model, data, thresholds, 0);
  const ThresholdPoint& chosen = strict.points[strict.chosen];
  EXPECT_GE(chosen.accuracy, strict.final_exit_accuracy - 1e-12);
  for (const ThresholdPoint& p : strict.points) {
    if (p.accuracy >= strict.final_exit_accuracy) {
      EXPECT_GE(p.macs_per_sample, chosen.macs_per_sample);
    }
  }
  EXPECT_THROW(SweepThresholds(model, data, {}, 0.5), Error);
  EXPECT_THROW(SweepThresholds(model, data, {-1.0}, 0.5), Error);
  EXPECT_THROW(SweepThresholds(model, data, {0.0}, -1), Error);
}

TEST(EarlyExitTest, SaveLoadRoundTripGivesIdenticalOutputs) {
  EarlyExitModel model = SmallCnn(9);
  // Non-default BatchNorm statistics, so that buffers are seen to round-trip.
  CompressTrainOptions options;
  options.epochs = 1;
  options.batch_size = 8;
  PreparedData data;
  data.train = RandomDataset(16, 1);
  data.eval = RandomDataset(8, 2);
  TrainEarlyExit(model, {0.3, 0.3, 1}, data, options);
  model.set_threshold(0.9);
  const std::string dir = ScratchDir();
  model.Save(dir, {{"note", "round trip"}});
  nlohmann::json meta;
  std::unique_ptr<EarlyExitModel> loaded = EarlyExitModel::Load(dir, &meta);
  EXPECT_EQ(meta["note"], "round trip");
  EXPECT_EQ(loaded->threshold(), 0.9);
  EXPECT_EQ(loaded->num_exits(), 3u);
  EXPECT_DOUBLE_EQ(loaded->FullMacsPerSample(), model.FullMacsPerSample());
  const Tensor x = RandomImages(20, 11);
  const Tensor expected = model.Predict(x).Clone();
  const Tensor& got = loaded->Predict(x);
  for (std::int64_t i = 0; i < got.numel(); ++i) EXPECT_EQ(got.f32()[i], expected.f32()[i]);
  EXPECT_DOUBLE_EQ(loaded->MacsPerSample(), model.MacsPerSample());
  std::unique_ptr<InferenceModel> any = LoadInferenceModel(dir);
  EXPECT_EQ(any->kind(), "early-exit");
}

class MalformedModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ScratchDir();
    SmallCnn(1).Save(dir_, nlohmann::json::object());
    doc_ = nlohmann::json::parse(ReadFile(dir_ + "/model.json"));
  }
  std::string LoadError(const std::string& json_text) {
    std::ofstream(dir_ + "/model.json", std::ios::trunc) << json_text;
    try {
      EarlyExitModel::Load(dir_);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }
  std::string dir_;
  nlohmann::json doc_;
};

TEST_F(MalformedModelTest, EachDefectIsNamed) {
  EXPECT_THAT(LoadError("{\"format\": "), HasSubstr("not valid JSON"));
  nlohmann::json d = doc_;
  d["format"] = "joule-model";
  EXPECT_THAT(LoadError(d.dump()), HasSubstr("not an early-exit model"));
  d = doc_;
  d["version"] = 2;
  EXPECT_THAT(LoadError(d.dump()), HasSubstr("version 2"));
  d = doc_;
  d.erase("segments");
  EXPECT_THAT(LoadError(d.dump()), HasSubstr("\"segments\" is missing"));
  d = doc_;
  d["threshold"] = "low";
  EXPECT_THAT(LoadError(d.dump()), HasSubstr("\"threshold\""));
  d = doc_;
  d["threshold"] = -1;
  EXPECT_THAT(LoadError(d.dump()), HasSubstr("threshold"));
  d = doc_;
  d["sample_shape"] = {1, 0, 8};
  EXPECT_THAT(LoadError(d.dump()), HasSubstr("sample_shape"));
  d = doc_;
  d["exits"].erase(2);
  // The third exit's tensors are then left over in the weights file.
  EXPECT_THAT(LoadError(d.dump()), HasSubstr("exit2."));
  d = doc_;
  d["segments"][0]["layers"][0]["config"]["out_channels"] = 8;
  EXPECT_THAT(LoadError(d.dump()), HasSubstr("segment0.0.weight"));
  d = doc_;
  d["segments"][0]["layers"] = nlohmann::json::array();
  EXPECT_THAT(LoadError(d.dump()), HasSubstr("model.json"));
  EXPECT_EQ(LoadError(doc_.dump()), "(no error)");
  fs::remove(dir_ + "/model.safetensors");
  EXPECT_THAT(LoadError(doc_.dump()), HasSubstr("model.safetensors"));
}

TEST(EarlyExitTest, RejectsBadConstructionAndWeights) {
  Rng rng(1);
  EXPECT_THROW(MakeEarlyExitModel("resnet", {4, 6}, 3, rng), Error);
  std::vector<Sequential> segments(1), exits(2);
  segments[0].Add(MakeReLU());
  EXPECT_THROW(EarlyExitModel(std::move(segments), std::move(exits), {1, 4}, 0), Error);
  EarlyExitModel model = MakeEarlyExitModel("mlp", {4, 6}, 3, rng);
  EXPECT_THROW(model.set_threshold(-0.1), Error);
  EXPECT_THROW(model.set_threshold(NAN), Error);
  PreparedData data;
  data.train = RandomDataset(4, 1);
  EXPECT_THROW(TrainEarlyExit(model, {1.0}, data, {}), Error);
  EXPECT_THROW(TrainEarlyExit(model, {0.0, 0.0}, data, {}), Error);
  EXPECT_THROW(TrainEarlyExit(model, {-1.0, 1.0}, data, {}), Error);
}

}  // namespace
}  // namespace joule
