// The schema of a training job: every field of JobConfig once, with its key
// path, type, range, help and flag. Recipes (recipe.cpp), the command line's
// flags and FindConfigProblem all read this table, so a range or a name
// changes in one place.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>

#include "joule/run.hpp"
#include "joule/util.hpp"

namespace joule {

// train_job.cpp: what constructing the job's optimizer and callbacks rejects.
std::optional<ConfigProblem> TrainLayerProblem(const JobConfig& c);

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
const NumberRange kAnyFinite{};
const NumberRange kPositive{0, kInf, true, false, "> 0"};
const NumberRange kNonNegative{0, kInf, false, false, ">= 0"};
const NumberRange kFractionHalfOpen{0, 1, false, true, "in [0, 1)"};
const NumberRange kFractionOpen{0, 1, true, true, "in (0, 1)"};
const NumberRange kFractionUpper{0, 1, true, false, "in (0, 1]"};
const NumberRange kAtLeastOne{1, kInf, false, false, ">= 1"};
const NumberRange kInterval{0.01, 3600, false, false, "in [0.01, 3600] seconds"};
const NumberRange kWallPower{0, 1e6, true, true, "in (0, 1e6) watts"};
// Integers: the upper ends are the C++ types' limits.
const double kMaxInt = std::numeric_limits<int>::max();
const double kMaxI64 = static_cast<double>(std::numeric_limits<std::int64_t>::max());
const NumberRange kIntAtLeastOne{1, kMaxInt, false, false, ">= 1"};
const NumberRange kIntNonNegative{0, kMaxInt, false, false, ">= 0"};
const NumberRange kI64AtLeastOne{1, kMaxI64, false, false, ">= 1"};
const NumberRange kI64NonNegative{0, kMaxI64, false, false, ">= 0"};
const NumberRange kThreads{0, 4096, false, false, "in [0, 4096] (0: all cores)"};

const std::vector<std::string> kMonitors = {"", "accuracy", "loss", "rmse", "mae"};

template <typename T>
using At = T& (*)(JobConfig&);

template <typename T>
FieldValue Get(At<T> at, const JobConfig& c) {
  return at(const_cast<JobConfig&>(c));  // `at` only names a member
}

JobField Str(const std::string& key, At<std::string> at, std::string help,
             std::vector<std::string> choices = {}, std::string flag = "") {
  JobField f;
  f.key = key;
  f.type = FieldType::kString;
  f.help = std::move(help);
  f.choices = std::move(choices);
  f.flag = std::move(flag);
  f.get = [at](const JobConfig& c) { return Get(at, c); };
  f.set = [at](JobConfig& c, const FieldValue& v) { at(c) = std::get<std::string>(v); };
  return f;
}

JobField Path(const std::string& key, At<std::string> at, std::string help, std::string flag,
              std::string keyword = "") {
  JobField f = Str(key, at, std::move(help), {}, std::move(flag));
  f.type = FieldType::kPath;
  f.keyword = std::move(keyword);
  return f;
}

JobField Bool(const std::string& key, At<bool> at, std::string help, std::string flag = "",
              FieldValue switch_value = {}) {
  JobField f;
  f.key = key;
  f.type = FieldType::kBoolean;
  f.help = std::move(help);
  f.flag = std::move(flag);
  f.switch_value = std::move(switch_value);
  f.get = [at](const JobConfig& c) { return FieldValue(at(const_cast<JobConfig&>(c))); };
  f.set = [at](JobConfig& c, const FieldValue& v) { at(c) = std::get<bool>(v); };
  return f;
}

template <typename T>
JobField Int(const std::string& key, At<T> at, const NumberRange& range, std::string help,
             std::string flag = "") {
  JobField f;
  f.key = key;
  f.type = FieldType::kInteger;
  f.range = range;
  f.help = std::move(help);
  f.flag = std::move(flag);
  f.get = [at](const JobConfig& c) {
    return FieldValue(static_cast<std::int64_t>(at(const_cast<JobConfig&>(c))));
  };
  f.set = [at](JobConfig& c, const FieldValue& v) {
    at(c) = static_cast<T>(std::get<std::int64_t>(v));
  };
  return f;
}

JobField Num(const std::string& key, At<double> at, const NumberRange& range, std::string help,
             std::string flag = "") {
  JobField f;
  f.key = key;
  f.type = FieldType::kNumber;
  f.range = range;
  f.help = std::move(help);
  f.flag = std::move(flag);
  f.get = [at](const JobConfig& c) { return Get(at, c); };
  f.set = [at](JobConfig& c, const FieldValue& v) { at(c) = std::get<double>(v); };
  return f;
}

JobField OptNum(const std::string& key, At<std::optional<double>> at, const NumberRange& range,
                std::string help, std::string flag = "") {
  JobField f;
  f.key = key;
  f.type = FieldType::kNumber;
  f.optional = true;
  f.range = range;
  f.help = std::move(help);
  f.flag = std::move(flag);
  f.get = [at](const JobConfig& c) {
    const std::optional<double>& v = at(const_cast<JobConfig&>(c));
    return v ? FieldValue(*v) : FieldValue();
  };
  f.set = [at](JobConfig& c, const FieldValue& v) {
    if (std::holds_alternative<double>(v)) {
      at(c) = std::get<double>(v);
    } else {
      at(c).reset();
    }
  };
  return f;
}

// A string field held as an enum: `name` and `parse` convert (parse throws
// for a word not in `choices`).
template <typename E>
JobField Choice(const std::string& key, At<E> at, std::vector<std::string> choices,
                const char* (*name)(E), E (*parse)(const std::string&), std::string help,
                std::string flag) {
  JobField f;
  f.key = key;
  f.type = FieldType::kString;
  f.choices = std::move(choices);
  f.help = std::move(help);
  f.flag = std::move(flag);
  f.get = [at, name](const JobConfig& c) {
    return FieldValue(std::string(name(at(const_cast<JobConfig&>(c)))));
  };
  f.set = [at, parse](JobConfig& c, const FieldValue& v) {
    at(c) = parse(std::get<std::string>(v));
  };
  return f;
}

JobField Metering(JobField f) {
  f.group = "metering";
  return f;
}

JobField Implies(JobField f, std::string key, FieldValue value) {
  f.flag_implies.emplace_back(std::move(key), std::move(value));
  return f;
}

// A second flag for a key already declared (--target-rmse beside
// --target-accuracy): not a recipe key of its own.
JobField Alias(JobField f) {
  f.recipe_key = false;
  return f;
}

std::vector<JobField> Build() {
  using C = JobConfig;
  using S = std::string;
  using O = std::optional<double>;
  std::vector<JobField> s;
  s.push_back(Path(
      "data", [](C& c) -> S& { return c.data; },
      "mnist (bundled), a directory with the four MNIST-named IDX files (Fashion-MNIST, KMNIST, "
      "EMNIST), or a FILE.csv with a header row",
      "--data", "mnist"));
  s.push_back(Str(
      "target", [](C& c) -> S& { return c.target; }, "CSV only: the column to predict", {},
      "--target"));
  s.push_back(Str(
      "task", [](C& c) -> S& { return c.task; }, "CSV only: classification or regression",
      {"classification", "regression"}, "--task"));
  s.push_back(Str(
      "model", [](C& c) -> S& { return c.model; },
      "mlp (784-256-128-10, ReLU) or cnn (2 conv + 2 pool + 2 linear); sizes can be named: "
      "mlp:512,256 (hidden widths), cnn:8,16 (channels)",
      {}, "--model"));
  s.push_back(Str(
      "loss", [](C& c) -> S& { return c.loss; },
      "cross-entropy (classification); mse, mae, huber, log-cosh, annealed-huber (regression)",
      {"cross-entropy", "mse", "mae", "huber", "log-cosh", "annealed-huber"}, "--loss"));
  s.push_back(Num(
      "huber_delta", [](C& c) -> double& { return c.huber_delta; }, kPositive,
      "delta of the Huber loss (standard deviations of the target)", "--huber-delta"));
  s.push_back(Int<int>(
      "epochs", [](C& c) -> int& { return c.epochs; }, kIntAtLeastOne, "the epoch limit",
      "--epochs"));
  s.push_back(Int<std::int64_t>(
      "batch_size", [](C& c) -> std::int64_t& { return c.batch_size; }, kI64AtLeastOne,
      "rows per optimizer step", "--batch"));
  s.push_back(Str(
      "lr_schedule", [](C& c) -> S& { return c.lr_schedule; },
      "constant, step, cosine, one-cycle or reduce-on-plateau (their parameters: a recipe's "
      "[lr_schedule_options])",
      {"constant", "step", "cosine", "one-cycle", "reduce-on-plateau"}, "--lr-schedule"));
  s.push_back(Str(
      "precision", [](C& c) -> S& { return c.precision; },
      "f32, or bf16: Linear and Conv2d compute in bf16 on oneDNN with f32 master weights and f32 "
      "accumulation",
      {"f32", "bf16"}, "--precision"));
  s.push_back(Int<int>(
      "threads", [](C& c) -> int& { return c.threads; }, kThreads, "compute threads (0: all cores)",
      "--threads"));
  s.push_back(Int<std::uint64_t>(
      "seed", [](C& c) -> std::uint64_t& { return c.seed; }, kI64NonNegative,
      "seeds weights, shuffling and splits: same seed, same run", "--seed"));
  s.push_back(Num(
      "validation_fraction", [](C& c) -> double& { return c.validation_fraction; },
      kFractionHalfOpen,
      "fraction of the training rows held out as the validation split the callbacks watch, in "
      "[0, 1) (0: they watch the test / holdout set)",
      "--validation"));
  s.push_back(Path(
      "save_dir", [](C& c) -> S& { return c.save_dir; },
      "directory to write the model to (model.safetensors + model.json)", "--save"));

  s.push_back(Str(
      "optimizer.kind", [](C& c) -> S& { return c.optimizer.kind; },
      "sgd (momentum), adam or adamw", {"sgd", "adam", "adamw"}, "--optimizer"));
  s.push_back(Num(
      "optimizer.lr", [](C& c) -> double& { return c.optimizer.lr; }, kPositive, "learning rate",
      "--lr"));
  s.push_back(Num(
      "optimizer.momentum", [](C& c) -> double& { return c.optimizer.momentum; }, kFractionHalfOpen,
      "SGD momentum", "--momentum"));
  s.push_back(Bool(
      "optimizer.nesterov", [](C& c) -> bool& { return c.optimizer.nesterov; },
      "SGD with Nesterov momentum", "--nesterov", true));
  s.push_back(Num(
      "optimizer.weight_decay", [](C& c) -> double& { return c.optimizer.weight_decay; },
      kNonNegative, "L2 (sgd, adam) or decoupled (adamw)", "--weight-decay"));
  s.push_back(Num(
      "optimizer.beta1", [](C& c) -> double& { return c.optimizer.beta1; }, kFractionHalfOpen,
      "Adam: first-moment decay"));
  s.push_back(Num(
      "optimizer.beta2", [](C& c) -> double& { return c.optimizer.beta2; }, kFractionHalfOpen,
      "Adam: second-moment decay"));
  s.push_back(Num(
      "optimizer.eps", [](C& c) -> double& { return c.optimizer.eps; }, kPositive,
      "Adam: denominator term"));

  s.push_back(Int<int>(
      "lr_schedule_options.step_epochs",
      [](C& c) -> int& { return c.lr_schedule_options.step_epochs; }, kIntAtLeastOne,
      "step: epochs per decay"));
  s.push_back(Num(
      "lr_schedule_options.gamma", [](C& c) -> double& { return c.lr_schedule_options.gamma; },
      kFractionUpper, "step: decay factor"));
  s.push_back(Num(
      "lr_schedule_options.min_lr", [](C& c) -> double& { return c.lr_schedule_options.min_lr; },
      kNonNegative, "cosine, reduce-on-plateau: the floor"));
  s.push_back(Num(
      "lr_schedule_options.pct_start",
      [](C& c) -> double& { return c.lr_schedule_options.pct_start; }, kFractionOpen,
      "one-cycle: warm-up fraction"));
  s.push_back(Num(
      "lr_schedule_options.div_factor",
      [](C& c) -> double& { return c.lr_schedule_options.div_factor; }, kPositive,
      "one-cycle: the start lr is lr / div_factor"));
  s.push_back(Num(
      "lr_schedule_options.final_div_factor",
      [](C& c) -> double& { return c.lr_schedule_options.final_div_factor; }, kPositive,
      "one-cycle: the end lr is the start lr / final_div_factor"));
  s.push_back(Str(
      "lr_schedule_options.monitor", [](C& c) -> S& { return c.lr_schedule_options.monitor; },
      "reduce-on-plateau: the figure watched", kMonitors));
  s.push_back(Num(
      "lr_schedule_options.factor", [](C& c) -> double& { return c.lr_schedule_options.factor; },
      kFractionOpen, "reduce-on-plateau: the lr factor"));
  s.push_back(Int<int>(
      "lr_schedule_options.patience", [](C& c) -> int& { return c.lr_schedule_options.patience; },
      kIntNonNegative, "reduce-on-plateau: epochs without improvement"));
  s.push_back(Num(
      "lr_schedule_options.min_delta",
      [](C& c) -> double& { return c.lr_schedule_options.min_delta; }, kNonNegative,
      "reduce-on-plateau: the smallest improvement"));

  s.push_back(Num(
      "annealed_huber.delta_start", [](C& c) -> double& { return c.annealed_huber.delta_start; },
      kPositive, "annealed-huber: delta of the first epoch, in standard deviations of the target",
      "--delta-start"));
  s.push_back(Num(
      "annealed_huber.delta_end", [](C& c) -> double& { return c.annealed_huber.delta_end; },
      kPositive, "annealed-huber: delta of the last epoch", "--delta-end"));
  s.push_back(Str("annealed_huber.curve", [](C& c) -> S& { return c.annealed_huber.curve; },
                  "annealed-huber: how delta moves", {"geometric", "linear"}));
  s.push_back(Str("annealed_huber.per", [](C& c) -> S& { return c.annealed_huber.per; },
                  "annealed-huber: delta changes per epoch or per step", {"epoch", "step"}));

  s.push_back(Bool(
      "early_stopping.enabled", [](C& c) -> bool& { return c.early_stopping.enabled; },
      "stop once the monitored figure stops improving"));
  s.push_back(Str(
      "early_stopping.monitor", [](C& c) -> S& { return c.early_stopping.monitor; },
      "early stopping: the figure watched", kMonitors));
  s.push_back(Implies(
      Int<int>(
          "early_stopping.patience", [](C& c) -> int& { return c.early_stopping.patience; },
          kIntNonNegative,
          "early stopping: stop after this many epochs without improvement, and keep the best "
          "epoch's weights",
          "--patience"),
      "early_stopping.enabled", true));
  s.push_back(Num(
      "early_stopping.min_delta", [](C& c) -> double& { return c.early_stopping.min_delta; },
      kNonNegative, "early stopping: the smallest change that counts as an improvement",
      "--min-delta"));
  s.push_back(Bool(
      "early_stopping.restore_best", [](C& c) -> bool& { return c.early_stopping.restore_best; },
      "early stopping: put back the best epoch's weights at the end"));

  // Any finite value: a target the metric can never reach is not an input
  // error; the run ends at the epoch limit and says so.
  JobField target = OptNum(
      "target_metric.value", [](C& c) -> O& { return c.target_metric.value; }, kAnyFinite,
      "stop once the monitored figure reaches this value");
  s.push_back(target);
  s.push_back(Str(
      "target_metric.monitor", [](C& c) -> S& { return c.target_metric.monitor; },
      "the figure the target is checked on", kMonitors));
  target.flag = "--target-accuracy";
  target.help =
      "stop once the validation accuracy reaches this fraction (e.g. 0.98); if it never does, the "
      "run ends at the epoch limit and says so";
  s.push_back(Alias(Implies(target, "target_metric.monitor", std::string("accuracy"))));
  target.flag = "--target-rmse";
  target.help = "stop once the validation RMSE (target units) falls to this value";
  s.push_back(Alias(Implies(target, "target_metric.monitor", std::string("rmse"))));

  s.push_back(OptNum(
      "budget.energy_j", [](C& c) -> O& { return c.budget.energy_j; }, kPositive,
      "energy budget in joules: stop before the step that would cross it", "--budget-j"));
  s.push_back(OptNum(
      "budget.co2_g", [](C& c) -> O& { return c.budget.co2_g; }, kPositive,
      "carbon budget in grams CO2eq: stop before the step that would cross it", "--budget-g"));

  s.push_back(Int<int>(
      "prediction.after_epochs", [](C& c) -> int& { return c.prediction.after_epochs; },
      kIntNonNegative,
      "predict the run's total energy, carbon and time after this many epochs (0: no "
      "prediction)",
      "--predict-after"));
  s.push_back(OptNum(
      "prediction.max_energy_j", [](C& c) -> O& { return c.prediction.max_energy_j; }, kPositive,
      "stop the run when the predicted total energy (joules) exceeds this",
      "--max-predicted-energy"));

  s.push_back(Bool(
      "adaptive_batch.enabled", [](C& c) -> bool& { return c.adaptive_batch.enabled; },
      "double the batch size (and scale the lr) when the validation metric plateaus",
      "--adaptive-batch", true));
  s.push_back(Str(
      "adaptive_batch.monitor", [](C& c) -> S& { return c.adaptive_batch.monitor; },
      "adaptive batch: the figure watched", kMonitors));
  s.push_back(Int<int>(
      "adaptive_batch.patience", [](C& c) -> int& { return c.adaptive_batch.patience; },
      kIntNonNegative, "adaptive batch: epochs without improvement that make a plateau"));
  s.push_back(Num(
      "adaptive_batch.min_delta", [](C& c) -> double& { return c.adaptive_batch.min_delta; },
      kNonNegative, "adaptive batch: the smallest improvement"));
  s.push_back(Int<std::int64_t>(
      "adaptive_batch.max_batch_size",
      [](C& c) -> std::int64_t& { return c.adaptive_batch.max_batch_size; }, kI64AtLeastOne,
      "adaptive batch: the largest batch size", "--max-batch"));
  s.push_back(Num(
      "adaptive_batch.lr_factor", [](C& c) -> double& { return c.adaptive_batch.lr_factor; },
      kPositive, "adaptive batch: lr factor per doubling (2: linear rule, 1: keep the lr)"));

  s.push_back(Path(
      "checkpoint.dir", [](C& c) -> S& { return c.checkpoint.dir; },
      "write checkpoints to (and --resume from) this directory", "--checkpoint-dir"));
  s.push_back(Int<int>(
      "checkpoint.every_epochs", [](C& c) -> int& { return c.checkpoint.every_epochs; },
      kIntNonNegative, "write a checkpoint every N epochs (0: none)", "--checkpoint-every"));
  s.push_back(Bool(
      "checkpoint.resume", [](C& c) -> bool& { return c.checkpoint.resume; },
      "continue from the latest checkpoint in --checkpoint-dir", "--resume", true));

  s.push_back(Metering(Bool(
      "metering.enabled", [](C& c) -> bool& { return c.metering.enabled; },
      "do not measure energy (figures stay 0)", "--no-meter", false)));
  s.push_back(Metering(Num(
      "metering.interval_s", [](C& c) -> double& { return c.metering.interval_s; }, kInterval,
      "background sampling interval")));
  JobField attribution;
  attribution.key = "metering.attribution";
  attribution.type = FieldType::kString;
  attribution.choices = {"process", "machine"};
  attribution.help = "report the whole machine's energy, not this process's share";
  attribution.flag = "--machine";
  attribution.switch_value = std::string("machine");
  attribution.group = "metering";
  attribution.get = [](const C& c) {
    return FieldValue(
        std::string(c.metering.attribution == Attribution::kMachine ? "machine" : "process"));
  };
  attribution.set = [](C& c, const FieldValue& v) {
    c.metering.attribution =
        std::get<std::string>(v) == "machine" ? Attribution::kMachine : Attribution::kProcessTree;
  };
  s.push_back(attribution);
  s.push_back(Metering(Choice<ProcessShare>(
      "metering.process_share", [](C& c) -> ProcessShare& { return c.metering.share; },
      {"marginal", "busy-time"}, ProcessShareName, ParseProcessShare,
      "how a process's CPU energy is taken from the machine's: marginal (what its own CPU time "
      "costs under the power model, whatever runs beside it) or busy-time (the machine's energy "
      "times its share of the busy CPU time); docs/attribution.md",
      "--process-share")));
  s.push_back(Metering(Choice<PowerModel>(
      "metering.sensors.power_model",
      [](C& c) -> PowerModel& { return c.metering.sensors.power_model; }, {"joule", "codecarbon"},
      PowerModelName, ParsePowerModel,
      "the power model of a machine without sensors: joule's, or CodeCarbon 3.x's own defaults "
      "(its TDP matching, 4 W per thread for a CPU it cannot match, 5 W per estimated DIMM), to "
      "reproduce a CodeCarbon figure",
      "--power-model")));
  s.push_back(Metering(OptNum(
      "metering.sensors.cpu_tdp_w", [](C& c) -> O& { return c.metering.sensors.cpu_tdp_w; },
      kPositive, "CPU power at full load in watts (overrides the model's TDP)", "--cpu-tdp")));
  s.push_back(Metering(OptNum(
      "metering.sensors.ram_power_w", [](C& c) -> O& { return c.metering.sensors.ram_power_w; },
      kNonNegative, "RAM power in watts", "--ram-power")));
  s.push_back(Metering(OptNum(
      "metering.sensors.declared_power_w",
      [](C& c) -> O& { return c.metering.sensors.declared_power_w; }, kWallPower,
      "the whole box draws this many watts (declared; no sensors)", "--power")));
  s.push_back(Metering(Str(
      "metering.carbon.country_iso3", [](C& c) -> S& { return c.metering.carbon.country_iso3; },
      "carbon intensity of this country's grid (ISO 3166 alpha-3, e.g. FRA)", {}, "--country")));
  s.push_back(Metering(Str(
      "metering.carbon.cloud_provider", [](C& c) -> S& { return c.metering.carbon.cloud_provider; },
      "cloud provider, e.g. gcp (with --region)", {}, "--cloud")));
  s.push_back(Metering(Str(
      "metering.carbon.cloud_region", [](C& c) -> S& { return c.metering.carbon.cloud_region; },
      "cloud region, e.g. europe-west1", {}, "--region")));
  s.push_back(Metering(Str(
      "metering.carbon.grid_region", [](C& c) -> S& { return c.metering.carbon.grid_region; },
      "US state or Nordic zone, e.g. SE3", {}, "--grid-region")));
  s.push_back(Metering(OptNum(
      "metering.carbon.intensity_g_per_kwh",
      [](C& c) -> O& { return c.metering.carbon.intensity_g_per_kwh; }, kNonNegative,
      "fixed carbon intensity in gCO2eq/kWh", "--intensity")));
  s.push_back(Metering(Path(
      "metering.carbon.series_path", [](C& c) -> S& { return c.metering.carbon.series_path; },
      "hourly carbon-intensity CSV (timestamp,g_per_kwh or an Electricity Maps export)",
      "--intensity-series")));
  s.push_back(Metering(Str(
      "metering.carbon.series_kind", [](C& c) -> S& { return c.metering.carbon.series_kind; },
      "which figure of an Electricity Maps export to use", {"direct", "lca"}, "--intensity-kind")));
  s.push_back(Metering(Num(
      "metering.carbon.pue", [](C& c) -> double& { return c.metering.carbon.pue; }, kAtLeastOne,
      "data-centre power usage effectiveness, >= 1", "--pue")));
  s.push_back(Metering(Num(
      "metering.carbon.wue", [](C& c) -> double& { return c.metering.carbon.wue; }, kNonNegative,
      "data-centre water usage effectiveness in L/kWh: the CodeCarbon CSV's water_consumed",
      "--wue")));
  s.push_back(Metering(OptNum(
      "metering.carbon.embodied_kg", [](C& c) -> O& { return c.metering.carbon.embodied_kg; },
      kPositive, "embodied carbon of the machine in kg CO2eq", "--embodied-kg")));
  s.push_back(Metering(OptNum(
      "metering.carbon.lifetime_years", [](C& c) -> O& { return c.metering.carbon.lifetime_years; },
      kPositive, "the machine's lifetime over which embodied carbon is spread",
      "--lifetime-years")));
  return s;
}

std::string Join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const std::string& s : items) {
    if (s.empty()) continue;  // "" in a choice list means "unset": not shown
    out += (out.empty() ? "" : sep) + s;
  }
  return out;
}

// Resolving reads only the tables the options name; it fails here, before
// any data is loaded, for an unknown country or region. The carbon layer names
// the metering flags (the schema's flags): the message's first word finds the
// key. The model is kept in `resolved`, so the run's meter does not read the
// tables again.
std::optional<ConfigProblem> ResolveCarbon(const CarbonOptions& carbon,
                                           std::shared_ptr<const CarbonModel>& resolved) {
  try {
    resolved = std::make_shared<const CarbonModel>(CarbonModel::Resolve(carbon, DataDir()));
  } catch (const Error& e) {
    std::string message = e.what();
    std::string key;
    for (const JobField& f : JobSchema()) {
      if (!f.flag.empty() && message.rfind(f.flag + " ", 0) == 0) key = f.key;
    }
    return ConfigProblem{key, "", message};
  }
  return std::nullopt;
}

// Cross-field checks, after every field passed the schema.
std::optional<ConfigProblem> CrossFieldProblem(const JobConfig& c,
                                               std::shared_ptr<const CarbonModel>& resolved) {
  if ((c.checkpoint.every_epochs > 0 || c.checkpoint.resume) && c.checkpoint.dir.empty()) {
    return ConfigProblem{"checkpoint.dir", "''",
                         "give the directory to write checkpoints to and resume from"};
  }
  if (c.prediction.max_energy_j && c.prediction.after_epochs == 0) {
    return ConfigProblem{"prediction.after_epochs", "0",
                         "a limit on the predicted energy needs a prediction: give the epochs to "
                         "predict after (e.g. 1)"};
  }
  if (c.prediction.after_epochs > 0 && c.prediction.after_epochs >= c.epochs) {
    return ConfigProblem{"prediction.after_epochs", std::to_string(c.prediction.after_epochs),
                         "must be below epochs (" + std::to_string(c.epochs) +
                             "): there would be nothing left to predict"};
  }
  if (c.prediction.after_epochs > 0 && !c.metering.enabled) {
    return ConfigProblem{"metering.enabled", "false",
                         "a prediction of the energy needs the meter: enable it or remove the "
                         "prediction"};
  }
  if ((c.budget.energy_j || c.budget.co2_g) && !c.metering.enabled) {
    return ConfigProblem{"metering.enabled", "false",
                         "a budget needs the meter: enable it or remove the budget"};
  }
  if (c.metering.enabled && !c.metering.resolved_carbon) {
    if (std::optional<ConfigProblem> p = ResolveCarbon(c.metering.carbon, resolved)) return p;
  }
  // Last: the other problems are about the config alone, this one about its data.
  const bool csv = c.data.size() > 4 && c.data.compare(c.data.size() - 4, 4, ".csv") == 0;
  if (csv && c.target.empty()) {
    return ConfigProblem{"target", "''",
                         "data " + c.data + " is a table: name the column to predict"};
  }
  return std::nullopt;
}

}  // namespace

bool NumberRange::Contains(double v) const {
  if (!std::isfinite(v)) return false;
  if (lo_open ? !(v > lo) : !(v >= lo)) return false;
  if (hi_open ? !(v < hi) : !(v <= hi)) return false;
  return true;
}

const std::vector<JobField>& JobSchema() {
  static const std::vector<JobField> schema = Build();
  return schema;
}

const JobField* FindJobField(const std::string& key) {
  for (const JobField& f : JobSchema()) {
    if (f.recipe_key && f.key == key) return &f;
  }
  return nullptr;
}

std::string FieldTypeText(const JobField& f) {
  switch (f.type) {
    case FieldType::kString:
      return f.choices.empty() ? "string" : "string: " + Join(f.choices, " | ");
    case FieldType::kPath:
      return std::string("string: a path, relative to the recipe's directory") +
             (f.keyword.empty() ? "" : ", or \"" + f.keyword + "\"");
    case FieldType::kBoolean:
      return "boolean";
    case FieldType::kInteger:
      return "integer " + f.range.text;
    case FieldType::kNumber:
      return (f.range.text.empty() ? "number" : "number " + f.range.text) +
             (f.optional ? " (optional)" : "");
  }
  return "";
}

std::string ShowFieldValue(const FieldValue& v) {
  if (std::holds_alternative<bool>(v)) return std::get<bool>(v) ? "true" : "false";
  if (std::holds_alternative<std::int64_t>(v)) return std::to_string(std::get<std::int64_t>(v));
  if (std::holds_alternative<double>(v)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.10g", std::get<double>(v));
    return buf;
  }
  if (std::holds_alternative<std::string>(v)) return "\"" + std::get<std::string>(v) + "\"";
  return "none";
}

std::string CheckFieldValue(const JobField& f, const FieldValue& v) {
  switch (f.type) {
    case FieldType::kString:
    case FieldType::kPath: {
      const std::string& s = std::get<std::string>(v);
      if (!f.choices.empty() &&
          std::find(f.choices.begin(), f.choices.end(), s) == f.choices.end()) {
        return "must be one of: " + Join(f.choices, ", ");
      }
      return "";
    }
    case FieldType::kBoolean:
      return "";
    case FieldType::kInteger: {
      double d = static_cast<double>(std::get<std::int64_t>(v));
      return f.range.Contains(d) ? "" : "must be " + f.range.text;
    }
    case FieldType::kNumber:
      if (std::holds_alternative<std::monostate>(v)) return "";
      if (f.range.Contains(std::get<double>(v))) return "";
      return "must be " + (f.range.text.empty() ? std::string("a finite number") : f.range.text);
  }
  return "";
}

std::string ParseFieldText(const JobField& f, const std::string& text, FieldValue* out) {
  switch (f.type) {
    case FieldType::kString:
    case FieldType::kPath:
      *out = text;
      return "";
    case FieldType::kBoolean:
      if (text == "true" || text == "1") {
        *out = true;
      } else if (text == "false" || text == "0") {
        *out = false;
      } else {
        return "is not true or false";
      }
      return "";
    case FieldType::kInteger: {
      char* end = nullptr;
      errno = 0;
      long long v = std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || errno != 0) return "is not an integer";
      *out = static_cast<std::int64_t>(v);
      return "";
    }
    case FieldType::kNumber: {
      char* end = nullptr;
      double v = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0') return "is not a number";
      *out = v;
      return "";
    }
  }
  return "";
}

std::string ConfigProblem::Message() const {
  if (key.empty()) return what;
  if (value.empty()) return key + ": " + what;
  return key + " = " + value + ": " + what;
}

namespace {

// The first field (of `group`, or every one when null) whose value the schema
// refuses.
std::optional<ConfigProblem> FieldProblem(const JobConfig& c, const char* group) {
  for (const JobField& f : JobSchema()) {
    if (!f.recipe_key || (group != nullptr && f.group != group)) continue;
    FieldValue v = f.get(c);
    // An empty string is "not set" (the default loss, monitor or path).
    if (std::holds_alternative<std::string>(v) && std::get<std::string>(v).empty()) continue;
    std::string what = CheckFieldValue(f, v);
    if (!what.empty()) return ConfigProblem{f.key, ShowFieldValue(v), what};
  }
  return std::nullopt;
}

// Every check, in order; a carbon model resolved on the way lands in `resolved`.
std::optional<ConfigProblem> Check(const JobConfig& c,
                                   std::shared_ptr<const CarbonModel>& resolved) {
  if (std::optional<ConfigProblem> p = FieldProblem(c, nullptr)) return p;
  if (std::optional<ConfigProblem> p = CrossFieldProblem(c, resolved)) return p;
  return TrainLayerProblem(c);
}

}  // namespace

std::optional<ConfigProblem> ResolveMeteringOptions(MeteringOptions& metering) {
  // The schema's fields read a JobConfig: check the options inside one.
  JobConfig c;
  c.metering = metering;
  if (std::optional<ConfigProblem> p = FieldProblem(c, "metering")) return p;
  if (!metering.resolved_carbon) {
    std::shared_ptr<const CarbonModel> resolved;
    if (std::optional<ConfigProblem> p = ResolveCarbon(metering.carbon, resolved)) return p;
    metering.resolved_carbon = std::move(resolved);
  }
  return std::nullopt;
}

std::optional<ConfigProblem> FindConfigProblem(const JobConfig& c) {
  std::shared_ptr<const CarbonModel> resolved;
  return Check(c, resolved);
}

std::optional<ConfigProblem> ResolveJobConfig(JobConfig& c) {
  std::shared_ptr<const CarbonModel> resolved;
  std::optional<ConfigProblem> problem = Check(c, resolved);
  if (!problem && resolved) c.metering.resolved_carbon = std::move(resolved);
  return problem;
}

}  // namespace joule
