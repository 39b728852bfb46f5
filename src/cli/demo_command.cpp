// joule demo: the main job. Trains on the bundled MNIST with two recipes, the
// plain way (recipes/mnist-baseline.toml) and the green way
// (recipes/mnist-green.toml), and prints one table of what each scored and
// cost: accuracy, epochs, seconds, energy with its method, carbon with its
// intensity and source, and the saving. Then what running the green model
// costs: f32 against its int8 quantization, in joules per 1000 inferences.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.hpp"
#include "cli/progress.hpp"
#include "cli/recipe.hpp"
#include "joule/compress/inference.hpp"
#include "joule/compress/quantize.hpp"
#include "joule/train.hpp"
#include "joule/util.hpp"

namespace joule::cli {
namespace {

namespace fs = std::filesystem;

struct DemoFlags {
  std::string recipes_dir;  // empty: <repository>/recipes
  int max_epochs = 0;       // 0: the recipes' own epoch limits
  bool json = false;
};

struct Row {
  Recipe recipe;
  JobResult result;
};

// The green model run for inference, f32 and int8, by the same benchmark as
// `joule bench-infer` (shorter).
struct InferenceRow {
  std::string name;
  InferenceBenchResult bench;
};

// The bundled recipes live beside data/ in the repository (or wherever
// JOULE_DATA_DIR's parent is), so a fresh clone finds both.
std::string DefaultRecipesDir() {
  fs::path data = fs::path(DataDir()).lexically_normal();
  if (!data.has_filename()) data = data.parent_path();  // "data/" -> "data"
  return (data.parent_path() / "recipes").string();
}

std::string RecipePath(const DemoFlags& f, const char* file) {
  std::string dir = f.recipes_dir.empty() ? DefaultRecipesDir() : f.recipes_dir;
  fs::path path = fs::path(dir) / file;
  if (!fs::is_regular_file(path)) {
    throw Error(path.string() + ": recipe not found; joule demo runs the recipes bundled in the " +
                "repository's recipes/ directory (pass --recipes DIR if it lives elsewhere)");
  }
  return path.string();
}

double Percent(double part, double whole) { return whole > 0 ? 100 * part / whole : 0; }

nlohmann::json RowJson(const Row& row) {
  nlohmann::json j = JobResultJson(row.recipe.config, row.result);
  j["name"] = row.recipe.name;
  j["recipe"] = row.recipe.path;
  j["description"] = row.recipe.description;
  j["energy_wh"] = row.result.energy_j / 3600.0;
  return j;
}

void PrintTable(const std::vector<Row>& rows, const DemoFlags& f) {
  const JobResult& base = rows[0].result;
  std::printf("\n%-10s %-9s %9s %7s %8s %10s %10s  %-20s %9s %7s\n", "recipe", "precision",
              "test acc", "epochs", "seconds", "energy J", "energy Wh", "energy method", "gCO2eq",
              "saving");
  for (const Row& row : rows) {
    const JobResult& r = row.result;
    std::string saving = &row == &rows[0] ? "-" : "";
    if (saving.empty()) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.1f%%", 100 - Percent(r.energy_j, base.energy_j));
      saving = buf;
    }
    std::printf("%-10s %-9s %8.2f%% %7d %8.1f %10.1f %10.4f  %-20s %9.5f %7s\n",
                row.recipe.name.c_str(), row.recipe.config.precision.c_str(),
                100 * r.final_eval.accuracy, r.epochs, r.seconds, r.energy_j, r.energy_j / 3600.0,
                r.energy_method.c_str(), r.co2_g, saving.c_str());
  }
  const JobResult& green = rows[1].result;
  std::printf(
      "\n%s: %.1f%% of %s's energy and %.1f%% of its carbon, test accuracy %+.2f points "
      "(%.2f%% vs %.2f%%)\n",
      rows[1].recipe.name.c_str(), Percent(green.energy_j, base.energy_j),
      rows[0].recipe.name.c_str(), Percent(green.co2_g, base.co2_g),
      100 * (green.final_eval.accuracy - base.final_eval.accuracy), 100 * green.final_eval.accuracy,
      100 * base.final_eval.accuracy);
  for (const Row& row : rows) {
    const JobResult& r = row.result;
    if (r.stop_reason == StopReason::kEpochLimit) {
      std::printf("%s: ran all %d epochs\n", row.recipe.name.c_str(), r.epochs);
    } else {
      std::printf("%s: stopped after %d of %d epochs (%s)%s%s\n", row.recipe.name.c_str(), r.epochs,
                  row.recipe.config.epochs, StopReasonName(r.stop_reason),
                  r.stop_message.empty() ? "" : ": ", r.stop_message.c_str());
    }
    for (const std::string& note : r.notes) {
      std::printf("%s: note: %s\n", row.recipe.name.c_str(), note.c_str());
    }
  }
  std::printf("energy method: %s%s\n", base.energy_method.c_str(),
              base.energy_estimated
                  ? ": an estimate from this process's CPU time and a power model of the CPU, "
                    "not a measurement (no power sensor is readable here; see 'joule sensors')"
                  : ": measured");
  std::string pue = base.pue > 1 ? " x PUE " + std::to_string(base.pue) : "";
  std::printf("carbon intensity: %.0f g/kWh%s, from %s\n", base.intensity_g_per_kwh, pue.c_str(),
              base.intensity_source.c_str());
  if (f.max_epochs > 0) {
    std::printf("note: --max-epochs %d capped the recipes: these are not the main job's figures\n",
                f.max_epochs);
  }
}

std::vector<InferenceRow> BenchGreenModel(const std::string& model_dir, const JobConfig& c) {
  std::fprintf(stderr, "demo 3/3: running the green model for inference, f32 and int8\n");
  nlohmann::json meta;
  Sequential f32 = LoadModel(model_dir, &meta);
  // The split and standardisation the model was trained with.
  PreparedData data = PrepareData(c.data, c.target, c.task, c.seed, c.validation_fraction);
  Sequential int8 = QuantizeModel(f32, data.train, QuantizeOptions{});
  InferenceBenchOptions options;
  options.latency_samples = 200;
  options.throughput_seconds = 1.0;
  options.metering = &c.metering;
  std::vector<InferenceRow> rows;
  for (auto [name, model] : {std::pair{"f32", &f32}, std::pair{"int8", &int8}}) {
    auto wrapped = WrapSequential(*model, data.eval.x.shape());
    rows.push_back({name, BenchInference(*wrapped, data.eval, options)});
  }
  return rows;
}

void PrintInference(const std::vector<InferenceRow>& rows) {
  std::printf("\nrunning the green model (batch 256, %d thread(s)):\n", NumThreads());
  std::printf("%-6s %9s %12s %14s  %s\n", "model", "test acc", "samples/s", "J per 1000",
              "energy method");
  for (const InferenceRow& r : rows) {
    std::printf("%-6s %8.2f%% %12.0f %14.5f  %s\n", r.name.c_str(), 100 * r.bench.accuracy,
                r.bench.throughput_per_s, r.bench.j_per_1000, r.bench.energy_method.c_str());
  }
  std::printf("int8: %.1f%% of f32's energy per inference, test accuracy %+.2f points\n",
              Percent(rows[1].bench.j_per_1000, rows[0].bench.j_per_1000),
              100 * (rows[1].bench.accuracy - rows[0].bench.accuracy));
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

void RunDemo(const DemoFlags& f, const JobFlags& flags) {
  std::vector<Row> rows(2);
  rows[0].recipe = LoadRecipe(RecipePath(f, "mnist-baseline.toml"));
  rows[1].recipe = LoadRecipe(RecipePath(f, "mnist-green.toml"));
  for (Row& row : rows) {
    flags.Apply(row.recipe.config);
    if (f.max_epochs > 0)
      row.recipe.config.epochs = std::min(row.recipe.config.epochs, f.max_epochs);
    try {
      ValidateJobConfig(row.recipe.config);
    } catch (const Error& e) {
      throw Error(ExplainConfigError(e.what(), row.recipe, flags.OverriddenKeys()));
    }
  }
  // The green model is kept for the inference part: in its recipe's save
  // directory, else in a scratch directory removed at the end.
  ScratchDir scratch;
  std::string green_dir = rows[1].recipe.config.save_dir;
  if (green_dir.empty()) {
    green_dir = (fs::path(scratch.path()) / "green").string();
    rows[1].recipe.config.save_dir = green_dir;
  }
  for (std::size_t i = 0; i < rows.size(); ++i) {
    Row& row = rows[i];
    const JobConfig& c = row.recipe.config;
    std::fprintf(
        stderr, "demo %zu/%zu: %s (%s): %s\n", i + 1, rows.size() + 1, row.recipe.name.c_str(),
        row.recipe.path.c_str(),
        row.recipe.description.empty() ? c.precision.c_str() : row.recipe.description.c_str());
    EpochPrinter printer(c.epochs, row.recipe.name);
    row.result = RunJob(c, [&](const EpochStats& s) { printer.Print(s); }, {&printer});
  }
  const std::vector<InferenceRow> inference = BenchGreenModel(green_dir, rows[1].recipe.config);
  if (f.json) {
    const JobResult& base = rows[0].result;
    const JobResult& green = rows[1].result;
    nlohmann::json out;
    for (const Row& row : rows) out[row.recipe.name] = RowJson(row);
    out["saving"] = {
        {"energy_percent", 100 - Percent(green.energy_j, base.energy_j)},
        {"co2_percent", 100 - Percent(green.co2_g, base.co2_g)},
        {"accuracy_points", 100 * (green.final_eval.accuracy - base.final_eval.accuracy)}};
    if (f.max_epochs > 0) out["max_epochs"] = f.max_epochs;
    for (const InferenceRow& r : inference) {
      out["inference"][r.name] = {{"accuracy", r.bench.accuracy},
                                  {"throughput_per_s", r.bench.throughput_per_s},
                                  {"j_per_1000", r.bench.j_per_1000},
                                  {"energy_method", r.bench.energy_method}};
    }
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  PrintTable(rows, f);
  PrintInference(inference);
}

}  // namespace

void RegisterDemoCommand(CLI::App& app) {
  auto f = std::make_shared<DemoFlags>();
  CLI::App* cmd = app.add_subcommand(
      "demo",
      "The main job: train on the bundled MNIST the plain way (recipes/mnist-baseline.toml) and "
      "the green way (recipes/mnist-green.toml), and compare accuracy, time, energy and carbon "
      "(offline)");
  auto flags = std::make_shared<JobFlags>(*cmd);
  cmd->add_option("--recipes", f->recipes_dir,
                  "directory holding mnist-baseline.toml and mnist-green.toml (default: the "
                  "repository's recipes/)");
  cmd->add_option("--max-epochs", f->max_epochs,
                  "cap both recipes' epoch limits (a quick look; not the main job's figures)")
      ->check(CLI::PositiveNumber);
  flags->Add<int>(
      "--threads", [](JobConfig& c) -> int& { return c.threads; },
      "compute threads for both runs (0: all cores)", "threads");
  AddMeteringFlags(*flags);
  cmd->add_flag("--json", f->json, "print the figures as JSON on stdout (an object per recipe)");
  cmd->callback([f, flags] { RunDemo(*f, *flags); });
}

}  // namespace joule::cli
