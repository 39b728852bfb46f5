// Model files: save/load round trip (weights, buffers, architecture,
// metadata) and the errors for files that do not belong together.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "joule/nn.hpp"
#include "test_scratch.hpp"

namespace joule {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string ScratchDir() { return test::TestScratchDir("model_file_test", false); }

// Linear-BatchNorm-ReLU-Linear: parameters and buffers in one model.
Sequential SmallModel(std::uint64_t seed) {
  Rng rng(seed);
  Sequential model;
  model.Add(MakeLinear(4, 6, rng));
  model.Add(MakeBatchNorm(6, false));
  model.Add(MakeReLU());
  model.Add(MakeLinear(6, 3, rng));
  // Non-default running statistics, so that buffers are seen to round-trip.
  for (auto& [name, t] : model.NamedTensors()) {
    if (name == "1.running_mean" || name == "1.running_var") {
      for (std::int64_t i = 0; i < t->numel(); ++i) t->f32()[i] = 0.5f + 0.25f * i;
    }
  }
  return model;
}

TEST(ModelFileTest, RoundTripRestoresEveryTensorAndTheOutputs) {
  const std::string dir = ScratchDir() + "/nested/model";  // created by SaveModel
  Sequential model = SmallModel(1);
  nlohmann::json meta = {{"dataset", "mnist"}, {"accuracy", 0.98}};
  SaveModel(model, dir, meta);
  ASSERT_TRUE(fs::exists(dir + "/model.safetensors"));
  ASSERT_TRUE(fs::exists(dir + "/model.json"));

  nlohmann::json doc = nlohmann::json::parse(ReadFile(dir + "/model.json"));
  EXPECT_EQ(doc["format"], "joule-model");
  EXPECT_EQ(doc["version"], 1);
  EXPECT_EQ(doc["architecture"], model.Architecture());
  EXPECT_EQ(doc["metadata"], meta);

  nlohmann::json loaded_meta;
  Sequential loaded = LoadModel(dir, &loaded_meta);
  EXPECT_EQ(loaded_meta, meta);
  EXPECT_EQ(loaded.Architecture(), model.Architecture());
  auto a = model.NamedTensors(), b = loaded.NamedTensors();
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GE(a.size(), 6u);  // 2 x (weight, bias), gamma, beta, running stats
  for (std::size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE(a[i].first);
    EXPECT_EQ(a[i].first, b[i].first);
    ASSERT_EQ(a[i].second->shape(), b[i].second->shape());
    EXPECT_EQ(std::memcmp(a[i].second->raw(), b[i].second->raw(), a[i].second->nbytes()), 0);
  }

  Rng rng(5);
  Tensor x({2, 4});
  for (std::int64_t i = 0; i < x.numel(); ++i) x.f32()[i] = rng.Normal();
  Tensor ya = model.Forward(x, false).Clone();
  const Tensor& yb = loaded.Forward(x, false);
  ASSERT_EQ(ya.shape(), yb.shape());
  EXPECT_EQ(std::memcmp(ya.raw(), yb.raw(), ya.nbytes()), 0);
}

TEST(ModelFileTest, WeightsAreReadableAsPlainSafetensors) {
  const std::string dir = ScratchDir();
  Sequential model = SmallModel(2);
  SaveModel(model, dir, {{"epochs", 10}});
  nlohmann::json meta;
  auto tensors = ReadSafetensors(dir + "/model.safetensors", &meta);
  EXPECT_EQ(meta, nlohmann::json({{"epochs", "10"}}));
  auto named = model.NamedTensors();
  ASSERT_EQ(tensors.size(), named.size());
  for (std::size_t i = 0; i < named.size(); ++i) EXPECT_EQ(tensors[i].first, named[i].first);
}

// Saves SmallModel, then replaces its weights with `tensors`.
std::string SaveThenReplaceWeights(
    const std::string& dir, const std::vector<std::pair<std::string, const Tensor*>>& tensors) {
  Sequential model = SmallModel(3);
  SaveModel(model, dir, nlohmann::json::object());
  WriteSafetensors(dir + "/model.safetensors", tensors, nullptr);
  return dir + "/model.safetensors";
}

void ExpectLoadError(const std::string& dir, const std::vector<std::string>& details) {
  try {
    LoadModel(dir);
    ADD_FAILURE() << "no Error";
  } catch (const Error& e) {
    for (const auto& d : details) EXPECT_THAT(e.what(), HasSubstr(d));
  }
}

TEST(ModelFileTest, MissingExtraOrMisShapedTensorsAreErrors) {
  Sequential reference = SmallModel(3);
  auto named = reference.NamedTensors();
  std::vector<std::pair<std::string, const Tensor*>> all;
  for (auto& [name, t] : named) all.emplace_back(name, t);

  const std::string dir = ScratchDir();
  auto missing = all;
  missing.erase(missing.begin());  // "0.weight"
  std::string weights = SaveThenReplaceWeights(dir, missing);
  ExpectLoadError(dir, {weights, "'0.weight' is missing"});

  Tensor stray({2});
  auto extra = all;
  extra.emplace_back("9.weight", &stray);
  SaveThenReplaceWeights(dir, extra);
  ExpectLoadError(dir, {weights, "'9.weight'", "not part of the architecture"});

  Tensor wrong({6, 5});
  auto misshaped = all;
  misshaped[0].second = &wrong;
  SaveThenReplaceWeights(dir, misshaped);
  ExpectLoadError(dir, {weights, "'0.weight'", "[6, 5]", "[6, 4]"});
}

TEST(ModelFileTest, BadModelJsonIsAnError) {
  const std::string dir = ScratchDir();
  Sequential model = SmallModel(4);
  SaveModel(model, dir, nullptr);
  const std::string json_path = dir + "/model.json";

  WriteFileAtomic(json_path, "{\"format\": \"joule-model\",");
  ExpectLoadError(dir, {json_path, "byte offset", "not valid JSON"});

  WriteFileAtomic(json_path, R"({"format": "keras", "version": 1, "architecture": {}})");
  ExpectLoadError(dir, {json_path, "joule-model"});

  nlohmann::json doc = {
      {"format", "joule-model"}, {"version", 2}, {"architecture", model.Architecture()}};
  WriteFileAtomic(json_path, doc.dump());
  ExpectLoadError(dir, {json_path, "version 2"});

  doc["version"] = 1;
  doc["architecture"] = {{"layers", {{{"type", "Teleporter"}}}}};
  WriteFileAtomic(json_path, doc.dump());
  ExpectLoadError(dir, {json_path, "Teleporter"});

  ExpectLoadError(dir + "/absent", {"model.json"});
}

// The weight budget is checked before each layer is built: SmallModel
// declares 4x6+6 + 4x6 + 6x3+3 = 75 weights (BatchNorm counts its four
// vectors), so 75 builds it and 74 refuses it, naming the counts.
TEST(ModelFileTest, ArchitectureWeightBudget) {
  const nlohmann::json architecture = SmallModel(1).Architecture();
  EXPECT_EQ(Sequential::FromArchitecture(architecture, 75).size(), 4u);
  try {
    Sequential::FromArchitecture(architecture, 74);
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("declare 75 weights"));
    EXPECT_THAT(e.what(), HasSubstr("can hold (74)"));
  }
}

// A model.json declaring far more weights than model.safetensors can hold
// fails with an Error before anything of that size is allocated.
TEST(ModelFileTest, HugeDeclaredLayerIsRefusedBeforeAllocation) {
  const std::string dir = ScratchDir();
  Sequential model = SmallModel(1);
  SaveModel(model, dir, nlohmann::json::object());
  nlohmann::json doc = nlohmann::json::parse(ReadFile(dir + "/model.json"));
  doc["architecture"]["layers"][0]["config"]["in"] = 1 << 30;
  WriteFileAtomic(dir + "/model.json", doc.dump());
  ExpectLoadError(dir, {"model.json", "more than the weights file can hold"});
}

}  // namespace
}  // namespace joule
