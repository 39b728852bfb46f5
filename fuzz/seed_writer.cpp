// Writes the seed corpora that are files joule itself writes, so that the
// seeds follow the formats as they are, not as someone remembers them:
//   corpus/safetensors/  model.safetensors files (plain, sparse, int8)
//   corpus/model/        model directories as model_fuzz inputs (model.json,
//                        separator, model.safetensors): plain MLP, CNN,
//                        sparse (pruned), int8, early-exit
//   corpus/checkpoint/   a checkpoint of checkpoint_run.hpp's run
// Usage: seed_writer CORPUS_DIR (fuzz/corpus). The models are tiny so that
// every seed stays a few KB.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint_run.hpp"
#include "fuzz_files.hpp"
#include "joule/compress/early_exit.hpp"
#include "joule/compress/quantize.hpp"
#include "joule/data.hpp"
#include "joule/nn.hpp"
#include "joule/util.hpp"
#include "train/checkpoint.hpp"

namespace fs = std::filesystem;
using namespace joule;

namespace {

Sequential TinyMlp(Rng& rng) {
  Sequential m;
  m.Add(MakeLinear(4, 6, rng));
  m.Add(MakeReLU());
  m.Add(MakeLinear(6, 3, rng));
  return m;
}

Sequential TinyCnn(Rng& rng) {
  Sequential m;
  m.Add(MakeConv2d(1, 2, 3, 1, 1, rng));
  m.Add(MakeBatchNorm(2, /*spatial=*/true));
  m.Add(MakeReLU());
  m.Add(MakeMaxPool2d(2, 2));
  m.Add(MakeFlatten());
  m.Add(MakeLinear(2 * 2 * 2, 3, rng));
  return m;
}

// Saves with `save` into a scratch directory, then writes the model_fuzz
// input and the bare safetensors file.
template <typename Save>
void WriteModelSeeds(const fs::path& corpus, const std::string& name, Save save) {
  fs::path dir = fs::temp_directory_path() / ("joule_seed_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  save(dir.string());
  std::string json = ReadFile((dir / "model.json").string());
  std::string weights = ReadFile((dir / "model.safetensors").string());
  WriteFileAtomic((corpus / "model" / name).string(),
                  json + std::string(fuzz::kPartSeparator) + weights);
  WriteFileAtomic((corpus / "safetensors" / (name + ".safetensors")).string(), weights);
  fs::remove_all(dir);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: seed_writer CORPUS_DIR\n");
    return 2;
  }
  const fs::path corpus = argv[1];
  for (const char* sub : {"model", "safetensors", "checkpoint"})
    fs::create_directories(corpus / sub);
  const nlohmann::json metadata = {{"task", "classification"}, {"seed", 1}};

  Rng rng(1);
  Sequential mlp = TinyMlp(rng);
  WriteModelSeeds(corpus, "mlp", [&](const std::string& d) { SaveModel(mlp, d, metadata); });
  Sequential cnn = TinyCnn(rng);
  WriteModelSeeds(corpus, "cnn", [&](const std::string& d) { SaveModel(cnn, d, metadata); });

  // Pruned: two thirds of the first weight +0.0, so SaveModel stores it sparse.
  Sequential sparse = TinyMlp(rng);
  Tensor& w = *sparse.NamedTensors()[0].second;
  for (std::int64_t i = 0; i < w.numel(); ++i) {
    if (i % 3 != 0) w.f32()[i] = 0.0f;
  }
  WriteModelSeeds(corpus, "sparse", [&](const std::string& d) { SaveModel(sparse, d, metadata); });

  Dataset calibration;
  calibration.x = Tensor({8, 4});
  calibration.y = Tensor({8});
  for (std::int64_t i = 0; i < 32; ++i) calibration.x.f32()[i] = static_cast<float>(i % 7) - 3.0f;
  for (std::int64_t i = 0; i < 8; ++i) calibration.y.f32()[i] = static_cast<float>(i % 3);
  calibration.num_classes = 3;
  Sequential int8 = QuantizeModel(mlp, calibration, QuantizeOptions{});
  WriteModelSeeds(corpus, "int8", [&](const std::string& d) { SaveModel(int8, d, metadata); });

  std::vector<Sequential> segments, exits;
  for (int i = 0; i < 2; ++i) {
    Sequential segment, exit;
    segment.Add(MakeLinear(4, 4, rng));
    segment.Add(MakeReLU());
    exit.Add(MakeLinear(4, 3, rng));
    segments.push_back(std::move(segment));
    exits.push_back(std::move(exit));
  }
  EarlyExitModel early(std::move(segments), std::move(exits), Shape{1, 4}, 0.5);
  WriteModelSeeds(corpus, "early_exit", [&](const std::string& d) { early.Save(d, metadata); });

  fuzz::CheckpointRun run;
  CallbackState best;
  best.values = {{"best", 0.75}, {"best_epoch", 1}, {"wait", 0}};
  for (auto& [name, tensor] : run.model.NamedTensors())
    best.tensors.emplace_back("best." + name, tensor->Clone());
  run.early_stopping->LoadState(best);
  train_internal::CheckpointState state;
  state.epoch = 1;
  state.step = 10;
  state.lr = 0.001;
  state.next_batch_size = 32;
  state.energy_j = 12.5;
  state.seed = fuzz::kCheckpointSeed;
  EpochStats stats;
  stats.epoch = 1;
  stats.eval_name = "validation";
  state.history.push_back(stats);
  fs::path dir = fs::temp_directory_path() / "joule_seed_checkpoint";
  fs::remove_all(dir);
  train_internal::WriteCheckpoint(dir.string(), state, run.model, *run.optimizer, run.callbacks);
  fs::copy_file(train_internal::CheckpointPath(dir.string(), 1),
                corpus / "checkpoint" / "epoch1.safetensors", fs::copy_options::overwrite_existing);
  fs::remove_all(dir);
  return 0;
}
