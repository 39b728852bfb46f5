// Pruning: exact sparsity of magnitude masks, global vs per-layer ranking,
// the cubic schedule by hand, structured shrinking against the masked dense
// model (MLP and CNN), and the sparse model-file layout (bitwise round trip,
// malformed entries).
#include "joule/compress/prune.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>

#include "test_scratch.hpp"

namespace joule {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// Shrinking drops terms that were exact zeros, but oneDNN may block the
// shorter sums differently: float reassociation, nothing more.
constexpr float kStructuredMaxAbsDiff = 1e-5f;

std::string ScratchDir() { return test::TestScratchDir("prune_test", false); }

Tensor& Weight(Sequential& m, std::size_t layer) {
  for (Parameter* p : m.layer(layer).Parameters()) {
    if (p->name == "weight") return p->value;
  }
  throw Error("no weight");
}

std::int64_t Zeros(const Tensor& t) {
  std::int64_t n = 0;
  for (std::int64_t i = 0; i < t.numel(); ++i) n += t.f32()[i] == 0.0f ? 1 : 0;
  return n;
}

// 20-16-12-5 with Sigmoid: sigmoid(0) = 0.5, so a dropped neuron still
// feeds the next layer unless its column is cut too.
Sequential Mlp(std::uint64_t seed) {
  Rng rng(seed);
  Sequential m;
  m.Add(MakeLinear(20, 16, rng));
  m.Add(MakeSigmoid());
  m.Add(MakeLinear(16, 12, rng));
  m.Add(MakeReLU());
  m.Add(MakeLinear(12, 5, rng));
  return m;
}

// conv-BN-ReLU-pool twice, Flatten, two Linear; BN statistics made non-trivial.
Sequential Cnn(std::uint64_t seed) {
  Rng rng(seed);
  Sequential m;
  m.Add(MakeConv2d(2, 6, 3, 1, 1, rng));
  m.Add(MakeBatchNorm(6, true));
  m.Add(MakeReLU());
  m.Add(MakeMaxPool2d(2, 2));
  m.Add(MakeConv2d(6, 8, 3, 1, 1, rng));
  m.Add(MakeBatchNorm(8, true));
  m.Add(MakeReLU());
  m.Add(MakeMaxPool2d(2, 2));
  m.Add(MakeFlatten());
  m.Add(MakeLinear(8 * 2 * 2, 10, rng));
  m.Add(MakeReLU());
  m.Add(MakeLinear(10, 3, rng));
  for (auto& [name, t] : m.NamedTensors()) {
    if (name.find("running_var") != std::string::npos || name.find("gamma") != std::string::npos) {
      for (std::int64_t i = 0; i < t->numel(); ++i) t->f32()[i] = 0.5f + rng.Uniform();
    } else if (name.find("running_mean") != std::string::npos ||
               name.find("beta") != std::string::npos || name.find("bias") != std::string::npos) {
      for (std::int64_t i = 0; i < t->numel(); ++i) t->f32()[i] = rng.Uniform() - 0.5f;
    }
  }
  return m;
}

Tensor RandomInput(const Shape& shape, std::uint64_t seed) {
  Rng rng(seed);
  Tensor x(shape);
  for (std::int64_t i = 0; i < x.numel(); ++i) x.f32()[i] = rng.Normal();
  return x;
}

Sequential Copy(Sequential& m) {
  Sequential c = Sequential::FromArchitecture(m.Architecture());
  auto src = m.NamedTensors();
  auto dst = c.NamedTensors();
  for (std::size_t i = 0; i < src.size(); ++i) dst[i].second->CopyFrom(*src[i].second);
  return c;
}

TEST(MagnitudeMasks, GlobalPrunesExactlyRoundSparsityTimesNTheSmallest) {
  Sequential m = Mlp(1);
  const std::int64_t n = 20 * 16 + 16 * 12 + 12 * 5;  // 572
  auto masks = MagnitudeMasks(m, 0.37, PruneScope::kGlobal);
  ApplyMasks(m, masks);
  std::int64_t zeros = 0;
  float max_pruned = 0, min_kept = INFINITY;
  Sequential original = Mlp(1);
  for (std::size_t l : {0u, 2u, 4u}) {
    zeros += Zeros(Weight(m, l));
    for (std::int64_t i = 0; i < Weight(m, l).numel(); ++i) {
      const float a = std::fabs(Weight(original, l).f32()[i]);
      if (Weight(m, l).f32()[i] == 0.0f)
        max_pruned = std::max(max_pruned, a);
      else
        min_kept = std::min(min_kept, a);
    }
  }
  EXPECT_EQ(zeros, std::llround(0.37 * n));
  EXPECT_LE(max_pruned, min_kept);
  EXPECT_NEAR(WeightSparsity(m), static_cast<double>(std::llround(0.37 * n)) / n, 1e-12);
}

TEST(MagnitudeMasks, LayerScopeGivesEachLayerItsOwnCount) {
  Sequential m = Mlp(2);
  // A layer with 100x larger weights: global ranking spares it, per-layer does not.
  Tensor& w2 = Weight(m, 2);
  for (std::int64_t i = 0; i < w2.numel(); ++i) w2.f32()[i] *= 100;
  Sequential g = Copy(m);
  ApplyMasks(m, MagnitudeMasks(m, 0.5, PruneScope::kLayer));
  EXPECT_EQ(Zeros(Weight(m, 0)), 160);
  EXPECT_EQ(Zeros(Weight(m, 2)), 96);
  EXPECT_EQ(Zeros(Weight(m, 4)), 30);
  ApplyMasks(g, MagnitudeMasks(g, 0.5, PruneScope::kGlobal));
  EXPECT_EQ(Zeros(Weight(g, 0)) + Zeros(Weight(g, 2)) + Zeros(Weight(g, 4)), 286);
  EXPECT_LT(Zeros(Weight(g, 2)), 5);
}

TEST(MagnitudeMasks, TiesPruneTheEarlierPositionFirst) {
  Sequential m = Mlp(3);
  for (std::size_t l : {0u, 2u, 4u}) Weight(m, l).Fill(0.25f);
  ApplyMasks(m, MagnitudeMasks(m, 0.5, PruneScope::kGlobal));
  // 286 of 572 equal weights: all of layer 0 (320) is earlier, so 286 there.
  EXPECT_EQ(Zeros(Weight(m, 0)), 286);
  for (std::int64_t i = 0; i < 320; ++i) EXPECT_EQ(Weight(m, 0).f32()[i] == 0.0f, i < 286);
  EXPECT_EQ(Zeros(Weight(m, 2)), 0);
}

TEST(MagnitudeMasks, RejectsSparsityOutsideZeroOne) {
  Sequential m = Mlp(1);
  EXPECT_THROW(MagnitudeMasks(m, 1.0, PruneScope::kGlobal), Error);
  EXPECT_THROW(MagnitudeMasks(m, -0.1, PruneScope::kLayer), Error);
  EXPECT_THROW(ParsePruneScope("everywhere"), Error);
  Sequential empty;
  empty.Add(MakeReLU());
  EXPECT_THROW(MagnitudeMasks(empty, 0.5, PruneScope::kGlobal), Error);
}

TEST(PruneSchedule, CubicValuesByHand) {
  PruneSchedule s{
      .initial_sparsity = 0, .final_sparsity = 0.8, .begin_step = 10, .frequency = 5, .updates = 4};
  EXPECT_DOUBLE_EQ(ScheduledSparsity(s, 0), 0);
  EXPECT_DOUBLE_EQ(ScheduledSparsity(s, 10), 0);
  EXPECT_DOUBLE_EQ(ScheduledSparsity(s, 15), 0.8 - 0.8 * 0.75 * 0.75 * 0.75);  // 0.4625
  EXPECT_DOUBLE_EQ(ScheduledSparsity(s, 20), 0.7);
  EXPECT_DOUBLE_EQ(ScheduledSparsity(s, 25), 0.8 - 0.8 * 0.25 * 0.25 * 0.25);  // 0.7875
  EXPECT_DOUBLE_EQ(ScheduledSparsity(s, 30), 0.8);
  EXPECT_DOUBLE_EQ(ScheduledSparsity(s, 1000), 0.8);
  s.updates = 0;
  EXPECT_DOUBLE_EQ(ScheduledSparsity(s, 9), 0);
  EXPECT_DOUBLE_EQ(ScheduledSparsity(s, 10), 0.8);
  EXPECT_THROW(ValidatePruneSchedule({.final_sparsity = 1.0}), Error);
  EXPECT_THROW(ValidatePruneSchedule({.frequency = 0}), Error);
}

// Drives the callback as Fit would, with a fake "optimizer step" that moves
// every weight away from zero.
TEST(GradualPruning, UpdatesAtScheduledStepsAndKeepsPrunedWeightsZero) {
  Sequential m = Mlp(4);
  auto opt = MakeOptimizer({});
  TrainContext ctx(m, *opt, Task::kClassification, 1, 0.01);
  GradualPruning cb({.schedule = {.final_sparsity = 0.5, .frequency = 2, .updates = 2}});
  cb.OnTrainBegin(ctx);
  EXPECT_EQ(WeightSparsity(m), 0);
  ctx.BeginEpoch(1, 8, 10);
  const double expected[] = {0, 0.5 - 0.5 * 0.125, 0.5 - 0.5 * 0.125, 0.5, 0.5, 0.5};
  for (int t = 1; t <= 6; ++t) {
    for (std::size_t l : {0u, 2u, 4u}) {
      Tensor& w = Weight(m, l);
      for (std::int64_t i = 0; i < w.numel(); ++i) w.f32()[i] += 1e-3f;
    }
    ctx.EndStep(0, 0, 0, 0);
    cb.OnStepEnd(ctx, {.step = t});
    EXPECT_DOUBLE_EQ(cb.current_sparsity(), expected[t - 1]) << "step " << t;
    EXPECT_NEAR(WeightSparsity(m), std::llround(expected[t - 1] * 572) / 572.0, 1e-12)
        << "step " << t;
  }
}

TEST(GradualPruning, StateRoundTripRestoresMasksAndPlan) {
  Sequential m = Mlp(14);
  auto opt = MakeOptimizer({});
  TrainContext ctx(m, *opt, Task::kClassification, 1, 0.01);
  for (bool structured : {false, true}) {
    GradualPruningOptions o{.schedule = {.initial_sparsity = 0.5, .final_sparsity = 0.5},
                            .structured = structured};
    GradualPruning a(o);
    a.OnTrainBegin(ctx);
    CallbackState state;
    a.SaveState(state);
    GradualPruning b(o);
    b.LoadState(state);
    EXPECT_EQ(b.current_sparsity(), 0.5);
    ASSERT_EQ(b.masks().size(), a.masks().size());
    for (std::size_t i = 0; i < a.masks().size(); ++i) {
      EXPECT_EQ(b.masks()[i].layer, a.masks()[i].layer);
      EXPECT_EQ(
          std::memcmp(b.masks()[i].mask.raw(), a.masks()[i].mask.raw(), a.masks()[i].mask.nbytes()),
          0);
    }
    ASSERT_EQ(b.plan().size(), a.plan().size());
    for (std::size_t i = 0; i < a.plan().size(); ++i) EXPECT_EQ(b.plan()[i].kept, a.plan()[i].kept);
  }
  CallbackState bad;
  bad.values["sparsity"] = "half";
  GradualPruning c({});
  EXPECT_THROW(c.LoadState(bad), Error);
}

TEST(StructuredPruning, MlpShrinksToTheMaskedDenseModel) {
  Sequential m = Mlp(5);
  EXPECT_EQ(StructurallyPrunableLayers(m), (std::vector<std::size_t>{0, 2}));
  StructuredPlan plan = RankUnits(m, 0.5, PruneScope::kLayer);
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].kept.size(), 8u);
  EXPECT_EQ(plan[1].kept.size(), 6u);
  Sequential small = ShrinkModel(m, plan);
  EXPECT_EQ(Weight(small, 0).shape(), (Shape{8, 20}));
  EXPECT_EQ(Weight(small, 2).shape(), (Shape{6, 8}));
  EXPECT_EQ(Weight(small, 4).shape(), (Shape{5, 6}));
  MaskUnits(m, plan);
  Tensor x = RandomInput({7, 20}, 9);
  Tensor dense = m.Forward(x, false).Clone();
  const Tensor& shrunk = small.Forward(x, false);
  ASSERT_EQ(shrunk.shape(), dense.shape());
  for (std::int64_t i = 0; i < dense.numel(); ++i) {
    EXPECT_NEAR(shrunk.f32()[i], dense.f32()[i], kStructuredMaxAbsDiff) << i;
  }
}

TEST(StructuredPruning, KeptUnitsHaveTheLargestL1Norms) {
  Sequential m = Mlp(6);
  Tensor& w = Weight(m, 0);
  // Unit u's row scaled by (u + 1): the top half by norm is units 8..15.
  for (std::int64_t u = 0; u < 16; ++u) {
    for (std::int64_t i = 0; i < 20; ++i) w.f32()[u * 20 + i] = (u + 1) * (i % 2 ? 1.f : -1.f);
  }
  StructuredPlan plan = RankUnits(m, 0.5, PruneScope::kLayer, UnitNorm::kL1);
  EXPECT_EQ(plan[0].kept, (std::vector<std::int64_t>{8, 9, 10, 11, 12, 13, 14, 15}));
  w.Fill(1.0f);  // all tied: the lower indices survive
  plan = RankUnits(m, 0.25, PruneScope::kLayer, UnitNorm::kL2);
  EXPECT_EQ(plan[0].kept.size(), 12u);
  EXPECT_EQ(plan[0].kept.back(), 11);
}

TEST(StructuredPruning, GlobalScopeDropsTheTotalAndKeepsOneUnitPerLayer) {
  Sequential m = Mlp(7);
  StructuredPlan plan = RankUnits(m, 0.5, PruneScope::kGlobal);
  EXPECT_EQ(plan[0].kept.size() + plan[1].kept.size(), 28u - 14u);
  Weight(m, 2).Fill(0.0f);  // layer 2's units are all weakest
  plan = RankUnits(m, 0.9, PruneScope::kGlobal);
  EXPECT_EQ(plan[1].kept.size(), 1u);
  EXPECT_EQ(plan[0].kept.size() + plan[1].kept.size(), 28u - 25u);
}

TEST(StructuredPruning, CnnShrinksConvBatchNormAndTheLinearAfterFlatten) {
  Sequential m = Cnn(8);
  EXPECT_EQ(StructurallyPrunableLayers(m), (std::vector<std::size_t>{0, 4, 9}));
  StructuredPlan plan = RankUnits(m, 0.5, PruneScope::kLayer);
  Sequential small = ShrinkModel(m, plan);
  EXPECT_EQ(Weight(small, 0).shape(), (Shape{3, 2, 3, 3}));
  EXPECT_EQ(Weight(small, 4).shape(), (Shape{4, 3, 3, 3}));
  EXPECT_EQ(Weight(small, 9).shape(), (Shape{5, 4 * 2 * 2}));
  EXPECT_EQ(Weight(small, 11).shape(), (Shape{3, 5}));
  EXPECT_EQ(small.layer(5).config()["features"], 4);
  MaskUnits(m, plan);
  Tensor x = RandomInput({3, 2, 8, 8}, 10);
  Tensor dense = m.Forward(x, false).Clone();
  const Tensor& shrunk = small.Forward(x, false);
  ASSERT_EQ(shrunk.shape(), dense.shape());
  for (std::int64_t i = 0; i < dense.numel(); ++i) {
    EXPECT_NEAR(shrunk.f32()[i], dense.f32()[i], kStructuredMaxAbsDiff) << i;
  }
}

TEST(StructuredPruning, RejectsModelsAndPlansItCannotCut) {
  Rng rng(1);
  Sequential single;
  single.Add(MakeLinear(4, 3, rng));
  EXPECT_THROW(RankUnits(single, 0.5, PruneScope::kGlobal), Error);
  Sequential m = Mlp(1);
  EXPECT_THROW(RankUnits(m, 1.0, PruneScope::kGlobal), Error);
  StructuredPlan bad{{.layer = 4, .units = 5, .kept = {0}}};
  EXPECT_THROW(ShrinkModel(m, bad), Error);
  bad = {{.layer = 0, .units = 16, .kept = {3, 1}}};
  EXPECT_THROW(ShrinkModel(m, bad), Error);
  bad = {{.layer = 0, .units = 16, .kept = {}}};
  EXPECT_THROW(MaskUnits(m, bad), Error);
}

// ---------------------------------------------------------------------------
// Sparse model files

TEST(SparseModelFile, RoundTripIsBitwiseAndSmaller) {
  const std::string dir = ScratchDir();
  Sequential m = Mlp(11);
  ApplyMasks(m, MagnitudeMasks(m, 0.9, PruneScope::kLayer));
  Weight(m, 0).f32()[5] = -0.0f;  // a stored element, not an implicit zero
  Weight(m, 0).f32()[6] = std::nanf("");
  SaveModel(m, dir + "/sparse", {{"note", "pruned"}});
  Sequential dense = Mlp(11);
  SaveModel(dense, dir + "/dense", nlohmann::json::object());
  nlohmann::json meta;
  Sequential back = LoadModel(dir + "/sparse", &meta);
  EXPECT_EQ(meta["note"], "pruned");
  auto a = m.NamedTensors(), b = back.NamedTensors();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].second->shape(), b[i].second->shape());
    EXPECT_EQ(std::memcmp(a[i].second->raw(), b[i].second->raw(), a[i].second->nbytes()), 0)
        << a[i].first;
  }
  nlohmann::json safe_meta;
  auto stored = ReadSafetensors(dir + "/sparse/model.safetensors", &safe_meta);
  std::vector<std::string> names;
  for (auto& [name, t] : stored) names.push_back(name);
  EXPECT_THAT(names, ::testing::Contains("0.weight.sparse_mask"));
  EXPECT_THAT(names, ::testing::Contains("0.weight.sparse_values"));
  EXPECT_THAT(names, ::testing::Contains("0.bias"));  // biases stay dense
  EXPECT_TRUE(safe_meta.contains("joule_sparse"));
  auto doc = nlohmann::json::parse(ReadFile(dir + "/sparse/model.json"));
  EXPECT_EQ(doc["sparse"]["tensors"], (nlohmann::json{"0.weight", "2.weight", "4.weight"}));
  // Tensor data only: the header dominates a model this small.
  std::size_t sparse_bytes = 0, dense_bytes = 0;
  for (auto& [name, t] : stored) sparse_bytes += t.nbytes();
  for (auto& [name, t] : ReadSafetensors(dir + "/dense/model.safetensors"))
    dense_bytes += t.nbytes();
  EXPECT_LT(sparse_bytes, dense_bytes / 4);
}

TEST(SparseModelFile, AllZeroWeightRoundTrips) {
  const std::string dir = ScratchDir();
  Sequential m = Mlp(15);
  Weight(m, 2).Fill(0.0f);  // no stored values at all: an empty values tensor
  SaveModel(m, dir, nlohmann::json::object());
  Sequential back = LoadModel(dir);
  EXPECT_EQ(Zeros(Weight(back, 2)), 192);
  EXPECT_EQ(std::memcmp(Weight(back, 0).raw(), Weight(m, 0).raw(), Weight(m, 0).nbytes()), 0);
}

TEST(SparseModelFile, DenseModelsKeepTheDenseLayout) {
  const std::string dir = ScratchDir();
  Sequential m = Mlp(12);
  SaveModel(m, dir, nlohmann::json::object());
  for (auto& [name, t] : ReadSafetensors(dir + "/model.safetensors")) {
    EXPECT_EQ(name.find("sparse"), std::string::npos) << name;
  }
  EXPECT_FALSE(nlohmann::json::parse(ReadFile(dir + "/model.json")).contains("sparse"));
}

// Saves a sparse model, then rewrites its weights file with `edit` applied.
std::string TamperedModel(const std::string& dir,
                          const std::function<void(std::map<std::string, Tensor>&)>& edit) {
  Sequential m = Mlp(13);
  ApplyMasks(m, MagnitudeMasks(m, 0.9, PruneScope::kLayer));
  SaveModel(m, dir, nlohmann::json::object());
  const std::string path = dir + "/model.safetensors";
  std::map<std::string, Tensor> tensors;
  for (auto& [name, t] : ReadSafetensors(path)) tensors[name] = t;
  edit(tensors);
  std::vector<std::pair<std::string, const Tensor*>> list;
  for (auto& [name, t] : tensors) list.emplace_back(name, &t);
  WriteSafetensors(path, list, nlohmann::json());
  return path;
}

void ExpectLoadError(const std::string& dir, const std::vector<std::string>& parts) {
  try {
    LoadModel(dir);
    ADD_FAILURE() << "LoadModel accepted a malformed sparse file";
  } catch (const Error& e) {
    for (const auto& p : parts) EXPECT_THAT(e.what(), HasSubstr(p));
  }
}

TEST(SparseModelFile, MalformedEntriesNameTheFileAndTensor) {
  const std::string root = ScratchDir();
  std::string path = TamperedModel(root + "/count", [](auto& t) {
    Tensor& v = t["2.weight.sparse_values"];
    t["2.weight.sparse_values"] = Tensor({v.numel() - 1});
  });
  ExpectLoadError(root + "/count", {path, "'2.weight'", "one value per set mask bit"});
  path = TamperedModel(root + "/mask_length",
                       [](auto& t) { t["0.weight.sparse_mask"] = Tensor({3}, DType::kU8); });
  ExpectLoadError(root + "/mask_length", {path, "'0.weight'", "expected u8 [40]"});
  path = TamperedModel(root + "/no_values", [](auto& t) { t.erase("4.weight.sparse_values"); });
  ExpectLoadError(root + "/no_values", {path, "'4.weight'", "no '4.weight.sparse_values'"});
  path = TamperedModel(root + "/mask_dtype",
                       [](auto& t) { t["0.weight.sparse_mask"] = Tensor({40}, DType::kS8); });
  ExpectLoadError(root + "/mask_dtype", {path, "'0.weight'"});
  // 12 x 5 = 60 elements: the last mask byte's top four bits lie past the end.
  path = TamperedModel(root + "/trailing_bits", [](auto& t) {
    t["4.weight.sparse_mask"].template data<std::uint8_t>()[7] |= 0x80;
  });
  ExpectLoadError(root + "/trailing_bits", {path, "'4.weight'", "past the last element"});
}

}  // namespace
}  // namespace joule
