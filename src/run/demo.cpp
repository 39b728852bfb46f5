// The main job (`joule demo`): the bundled MNIST trained the plain way and the
// green way, then the green model run for inference in f32 and int8. The
// command line only prints what this returns.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "joule/compress/quantize.hpp"
#include "joule/run.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

namespace fs = std::filesystem;

std::string RecipePath(const std::string& dir, const char* file) {
  fs::path path = fs::path(dir) / file;
  if (!fs::is_regular_file(path)) {
    throw Error(path.string() + ": recipe not found; joule demo runs the recipes bundled in the " +
                "repository's recipes/ directory (pass --recipes DIR if it lives elsewhere)");
  }
  return path.string();
}

// A scratch directory for the run, removed (with what is in it) at the end.
class ScratchDir {
 public:
  ScratchDir() {
    path_ = fs::temp_directory_path() / ("joule-demo-" + std::to_string(getpid()));
    fs::remove_all(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

// Two configs that read the same rows: the same files, and for a CSV the same
// seeded 80/20 holdout split.
bool SameRawData(const JobConfig& a, const JobConfig& b) {
  const bool csv = a.data.size() > 4 && a.data.substr(a.data.size() - 4) == ".csv";
  return a.data == b.data && a.target == b.target && a.task == b.task && (!csv || a.seed == b.seed);
}

// Two configs whose carbon options (the schema's metering.carbon.* keys) agree.
bool SameCarbon(const JobConfig& a, const JobConfig& b) {
  for (const JobField& f : JobSchema()) {
    if (f.key.rfind("metering.carbon.", 0) == 0 && !(f.get(a) == f.get(b))) return false;
  }
  return true;
}

// The green model in f32 and its int8 quantization, on the data it was
// trained with (the same split and standardisation).
std::vector<DemoInference> BenchGreenModel(const std::string& model_dir, const JobConfig& c,
                                           const PreparedData& data) {
  Sequential f32 = LoadModel(model_dir);
  Sequential int8 = QuantizeModel(f32, data.train, QuantizeOptions{});
  InferenceBenchOptions options;
  options.latency_samples = 200;
  options.throughput_seconds = 1.0;
  options.metering = &c.metering;
  std::vector<DemoInference> rows;
  for (auto [name, model] : {std::pair{"f32", &f32}, std::pair{"int8", &int8}}) {
    auto wrapped = WrapSequential(*model, data.eval.x.shape());
    rows.push_back({name, BenchInference(*wrapped, data.eval, options)});
  }
  return rows;
}

}  // namespace

DemoResult RunDemo(const DemoOptions& o) {
  const std::string dir = o.recipes_dir.empty() ? BundledRecipesDir() : o.recipes_dir;
  DemoResult result;
  result.rows.resize(2);
  result.rows[0].recipe = LoadRecipe(RecipePath(dir, "mnist-baseline.toml"));
  result.rows[1].recipe = LoadRecipe(RecipePath(dir, "mnist-green.toml"));
  // Both recipes are checked before either trains, once each.
  for (DemoRow& row : result.rows) {
    JobConfig& c = row.recipe.config;
    if (o.adjust) o.adjust(c);
    if (o.max_epochs > 0) c.epochs = std::min(c.epochs, o.max_epochs);
    // The carbon model is resolved once when the recipes agree on where.
    if (&row != &result.rows[0] && SameCarbon(c, result.rows[0].recipe.config)) {
      c.metering.resolved_carbon = result.rows[0].recipe.config.metering.resolved_carbon;
    }
    if (std::optional<ConfigProblem> problem = ResolveJobConfig(c)) {
      throw Error(o.explain ? o.explain(row.recipe, *problem)
                            : RecipeProblemMessage(row.recipe, *problem));
    }
  }
  // The green model is kept for the inference part: in its recipe's save
  // directory, else in a scratch directory removed at the end.
  ScratchDir scratch;
  JobConfig& green = result.rows[1].recipe.config;
  if (green.save_dir.empty()) green.save_dir = (fs::path(scratch.path()) / "green").string();

  // The files are read once when the recipes agree on them; each recipe then
  // gets its own split and standardisation (fitted on its training split),
  // and the green recipe's prepared data serves the inference benchmark too.
  std::optional<RawData> raw;
  std::optional<PreparedData> data;  // the current recipe's; the last is the green one
  RunRecorder demo_run(
      o.ledger, RunHeader("demo", "demo",
                          {{"recipes", {result.rows[0].recipe.path, result.rows[1].recipe.path}},
                           {"max_epochs", o.max_epochs}}));
  const int stages = static_cast<int>(result.rows.size()) + 1;
  for (std::size_t i = 0; i < result.rows.size(); ++i) {
    DemoRow& row = result.rows[i];
    const JobConfig& c = row.recipe.config;
    if (o.on_stage) {
      o.on_stage("demo " + std::to_string(i + 1) + "/" + std::to_string(stages) + ": " +
                 row.recipe.name + " (" + row.recipe.path +
                 "): " + (row.recipe.description.empty() ? c.precision : row.recipe.description));
    }
    if (i == 0 || !SameRawData(c, result.rows[i - 1].recipe.config)) {
      raw = LoadRawData(c.data, c.target, c.task, c.seed);
    }
    data.reset();  // the previous recipe's split, before the next one is made
    data = PrepareData(*raw, c.seed, c.validation_fraction);
    std::vector<Callback*> callbacks;
    if (o.callbacks) callbacks = o.callbacks(row);
    RunRecorder run(o.ledger, RunHeader("train", row.recipe.name, JobConfigJson(c), demo_run.id()));
    auto on_epoch = [&o, &row, &run](const EpochStats& s) {
      run.AppendEpoch(EpochRowOf(s));
      if (o.on_epoch) o.on_epoch(row, s);
    };
    JobConfig metered = c;
    metered.metering.on_sample = run.SampleCallback();  // power over time, in the ledger
    row.result = RunJob(metered, on_epoch, callbacks, &*data, /*validated=*/true);
    run.Finish(RunStatus::kCompleted, row.result.stop_message, row.result.energy,
               JobMetrics(row.result));
    row.run_id = run.id();
    row.recorded = run.recording();
  }
  raw.reset();  // MNIST as read is 200 MB; the benchmark needs only the green split
  if (o.on_stage) {
    o.on_stage("demo " + std::to_string(stages) + "/" + std::to_string(stages) +
               ": running the green model for inference, f32 and int8");
  }
  result.inference = BenchGreenModel(green.save_dir, green, *data);

  EnergyReport total =
      CombineEnergyReports(result.rows[0].result.energy, result.rows[1].result.energy);
  nlohmann::json metrics = nlohmann::json::object();
  for (const DemoRow& row : result.rows) {
    metrics[row.recipe.name] = {{"accuracy", row.result.final_eval.accuracy},
                                {"energy_j", row.result.energy.energy_j},
                                {"epochs", row.result.epochs}};
  }
  for (const DemoInference& inference : result.inference) {
    total = CombineEnergyReports(total, inference.bench.energy);
    metrics["inference"][inference.name] = {{"accuracy", inference.bench.accuracy},
                                            {"j_per_1000", inference.bench.j_per_1000}};
  }
  demo_run.Finish(RunStatus::kCompleted, "", total, metrics);
  return result;
}

}  // namespace joule
