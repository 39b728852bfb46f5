// joule train: one training run from a recipe and/or flags, with a progress
// line per epoch and the run's energy and carbon at the end. Flags override
// the recipe's values; see JobFlags.
#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "cli/ledger_flags.hpp"
#include "cli/progress.hpp"
#include "cli/recipe.hpp"
#include "cli/train_recording.hpp"
#include "joule/train.hpp"

namespace joule::cli {

CLI::Option* JobFlags::AddSwitch(const std::string& flag, const std::string& help,
                                 const std::string& key, std::function<void(JobConfig&)> apply) {
  CLI::Option* opt = cmd_->add_flag(flag, help);
  bound_.push_back(Bound{opt, std::move(apply), key});
  return opt;
}

void JobFlags::Apply(JobConfig& to) const {
  for (const Bound& b : bound_) {
    if (b.option->count() > 0) b.apply(to);
  }
}

std::vector<std::string> JobFlags::OverriddenKeys() const {
  std::vector<std::string> keys;
  for (const Bound& b : bound_) {
    if (b.option->count() > 0 && !b.key.empty()) keys.push_back(b.key);
  }
  return keys;
}

void AddMeteringFlags(JobFlags& f) {
  using C = JobConfig;
  using Opt = std::optional<double>;
  auto optional = [&f](const std::string& flag, const std::string& help, const std::string& key,
                       std::function<Opt&(C&)> field) {
    return f.AddValue<double>(flag, help, key, 0.0,
                              [field](const double& v, C& to) { field(to) = v; });
  };
  f.Add<std::string>(
      "--country", [](C& c) -> std::string& { return c.metering.carbon.country_iso3; },
      "carbon intensity of this country's grid (ISO 3166 alpha-3, e.g. FRA)",
      "metering.carbon.country_iso3");
  f.Add<std::string>(
      "--cloud", [](C& c) -> std::string& { return c.metering.carbon.cloud_provider; },
      "cloud provider, e.g. gcp (with --region)", "metering.carbon.cloud_provider");
  f.Add<std::string>(
      "--region", [](C& c) -> std::string& { return c.metering.carbon.cloud_region; },
      "cloud region, e.g. europe-west1", "metering.carbon.cloud_region");
  f.Add<std::string>(
      "--grid-region", [](C& c) -> std::string& { return c.metering.carbon.grid_region; },
      "US state or Nordic zone, e.g. SE3", "metering.carbon.grid_region");
  optional("--intensity", "fixed carbon intensity in gCO2eq/kWh",
           "metering.carbon.intensity_g_per_kwh",
           [](C& c) -> Opt& { return c.metering.carbon.intensity_g_per_kwh; });
  f.Add<std::string>(
      "--intensity-series", [](C& c) -> std::string& { return c.metering.carbon.series_path; },
      "hourly carbon-intensity CSV (timestamp,g_per_kwh or an Electricity Maps export)",
      "metering.carbon.series_path");
  f.Add<double>(
      "--pue", [](C& c) -> double& { return c.metering.carbon.pue; },
      "data-centre power usage effectiveness, >= 1", "metering.carbon.pue");
  optional("--cpu-tdp", "CPU power at full load in watts (overrides the model's TDP)",
           "metering.sensors.cpu_tdp_w", [](C& c) -> Opt& { return c.metering.sensors.cpu_tdp_w; });
  optional("--ram-power", "RAM power in watts", "metering.sensors.ram_power_w",
           [](C& c) -> Opt& { return c.metering.sensors.ram_power_w; });
  optional("--power", "the whole box draws this many watts (declared; no sensors)",
           "metering.sensors.declared_power_w",
           [](C& c) -> Opt& { return c.metering.sensors.declared_power_w; });
  f.AddSwitch("--machine", "report the whole machine's energy, not this process's share",
              "metering.attribution", [](C& c) { c.metering.attribution = Attribution::kMachine; });
  f.AddSwitch("--no-meter", "do not measure energy (figures stay 0)", "metering.enabled",
              [](C& c) { c.metering.enabled = false; });
}

void AddJobFlags(JobFlags& f) {
  using C = JobConfig;
  using S = std::string;
  f.Add<S>(
      "--data", [](C& c) -> S& { return c.data; },
      "mnist (bundled), a directory with the four MNIST-named IDX files "
      "(Fashion-MNIST, KMNIST, EMNIST), or a FILE.csv with a header row",
      "data");
  f.Add<S>(
      "--target", [](C& c) -> S& { return c.target; }, "CSV only: the column to predict", "target");
  f.Add<S>(
       "--task", [](C& c) -> S& { return c.task; }, "CSV only: classification or regression",
       "task")
      ->check(CLI::IsMember({"classification", "regression"}));
  f.Add<S>(
       "--model", [](C& c) -> S& { return c.model; },
       "mlp (784-256-128-10, ReLU) or cnn (2 conv + 2 pool + 2 linear)", "model")
      ->check(CLI::IsMember({"mlp", "cnn"}));
  f.Add<S>(
       "--loss", [](C& c) -> S& { return c.loss; },
       "cross-entropy (classification); mse, mae, huber, log-cosh, annealed-huber (regression)",
       "loss")
      ->check(
          CLI::IsMember({"cross-entropy", "mse", "mae", "huber", "log-cosh", "annealed-huber"}));
  f.Add<double>(
      "--huber-delta", [](C& c) -> double& { return c.huber_delta; }, "delta of the Huber loss",
      "huber_delta");
  f.Add<double>(
      "--delta-start", [](C& c) -> double& { return c.annealed_huber.delta_start; },
      "annealed-huber: delta of the first epoch, in standard deviations of the target",
      "annealed_huber.delta_start");
  f.Add<double>(
      "--delta-end", [](C& c) -> double& { return c.annealed_huber.delta_end; },
      "annealed-huber: delta of the last epoch", "annealed_huber.delta_end");
  f.Add<int>(
      "--epochs", [](C& c) -> int& { return c.epochs; }, "the epoch limit", "epochs");
  f.Add<std::int64_t>(
      "--batch", [](C& c) -> std::int64_t& { return c.batch_size; }, "rows per optimizer step",
      "batch_size");
  f.Add<double>(
      "--lr", [](C& c) -> double& { return c.optimizer.lr; }, "learning rate", "optimizer.lr");
  f.Add<S>(
       "--lr-schedule", [](C& c) -> S& { return c.lr_schedule; },
       "constant, step, cosine, one-cycle or reduce-on-plateau (their parameters: a recipe's "
       "[lr_schedule_options])",
       "lr_schedule")
      ->check(CLI::IsMember({"constant", "step", "cosine", "one-cycle", "reduce-on-plateau"}));
  f.Add<S>(
       "--optimizer", [](C& c) -> S& { return c.optimizer.kind; }, "sgd (momentum), adam or adamw",
       "optimizer.kind")
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}));
  f.Add<double>(
      "--momentum", [](C& c) -> double& { return c.optimizer.momentum; }, "SGD momentum",
      "optimizer.momentum");
  f.AddSwitch("--nesterov", "SGD with Nesterov momentum", "optimizer.nesterov",
              [](C& c) { c.optimizer.nesterov = true; });
  f.Add<double>(
      "--weight-decay", [](C& c) -> double& { return c.optimizer.weight_decay; },
      "L2 (sgd, adam) or decoupled (adamw)", "optimizer.weight_decay");
  f.Add<S>(
       "--precision", [](C& c) -> S& { return c.precision; },
       "f32, or bf16: Linear and Conv2d compute in bf16 on oneDNN with f32 master weights and "
       "f32 accumulation",
       "precision")
      ->check(CLI::IsMember({"f32", "bf16"}));
  f.Add<int>(
      "--threads", [](C& c) -> int& { return c.threads; }, "compute threads (0: all cores)",
      "threads");
  f.Add<std::uint64_t>(
      "--seed", [](C& c) -> std::uint64_t& { return c.seed; },
      "seeds weights, shuffling and splits: same seed, same run", "seed");
  f.Add<double>(
      "--validation", [](C& c) -> double& { return c.validation_fraction; },
      "fraction of the training rows held out as the validation split the callbacks "
      "watch, in [0, 1) (0: they watch the test / holdout set)",
      "validation_fraction");

  // Callbacks. Giving a callback's flag turns the callback on.
  f.AddValue<int>("--patience",
                  "early stopping: stop after this many epochs without improvement, and keep the "
                  "best epoch's weights",
                  "early_stopping.patience", EarlyStoppingOptions{}.patience,
                  [](const int& v, C& to) {
                    to.early_stopping.enabled = true;
                    to.early_stopping.patience = v;
                  });
  f.Add<double>(
      "--min-delta", [](C& c) -> double& { return c.early_stopping.min_delta; },
      "early stopping: the smallest change that counts as an improvement",
      "early_stopping.min_delta");
  CLI::Option* accuracy = f.AddValue<double>(
      "--target-accuracy",
      "stop once the validation accuracy reaches this fraction (e.g. 0.98); if it never does, "
      "the run ends at the epoch limit and says so",
      "target_metric.value", 0.0, [](const double& v, C& to) {
        to.target_metric.value = v;
        to.target_metric.monitor = "accuracy";
      });
  CLI::Option* rmse = f.AddValue<double>(
      "--target-rmse", "stop once the validation RMSE (target units) falls to this value",
      "target_metric.value", 0.0, [](const double& v, C& to) {
        to.target_metric.value = v;
        to.target_metric.monitor = "rmse";
      });
  accuracy->excludes(rmse);
  f.AddValue<double>(
      "--budget-j", "energy budget in joules: stop before the step that would cross it",
      "budget.energy_j", 0.0, [](const double& v, C& to) { to.budget.energy_j = v; });
  f.AddValue<double>("--budget-g",
                     "carbon budget in grams CO2eq: stop before the step that would cross it",
                     "budget.co2_g", 0.0, [](const double& v, C& to) { to.budget.co2_g = v; });
  f.AddSwitch("--adaptive-batch",
              "double the batch size (and scale the lr) when the validation metric plateaus",
              "adaptive_batch.enabled", [](C& c) { c.adaptive_batch.enabled = true; });
  f.Add<std::int64_t>(
      "--max-batch", [](C& c) -> std::int64_t& { return c.adaptive_batch.max_batch_size; },
      "adaptive batch: the largest batch size", "adaptive_batch.max_batch_size");
  f.Add<S>(
      "--checkpoint-dir", [](C& c) -> S& { return c.checkpoint.dir; },
      "write checkpoints to (and --resume from) this directory", "checkpoint.dir");
  f.Add<int>(
      "--checkpoint-every", [](C& c) -> int& { return c.checkpoint.every_epochs; },
      "write a checkpoint every N epochs (0: none)", "checkpoint.every_epochs");
  f.AddSwitch("--resume", "continue from the latest checkpoint in --checkpoint-dir",
              "checkpoint.resume", [](C& c) { c.checkpoint.resume = true; });
  f.Add<S>(
      "--save", [](C& c) -> S& { return c.save_dir; },
      "directory to write the model to (model.safetensors + model.json)", "save_dir");
  AddMeteringFlags(f);
}

namespace {

struct TrainFlags {
  std::string recipe;
  bool json = false;
  bool list_keys = false;
  LedgerFlags ledger;
};

void RunTrain(const TrainFlags& t, const JobFlags& flags) {
  if (t.list_keys) {
    for (const std::string& line : RecipeKeys()) std::printf("%s\n", line.c_str());
    return;
  }
  Recipe recipe;
  if (!t.recipe.empty()) recipe = LoadRecipe(t.recipe);
  JobConfig config = recipe.config;
  flags.Apply(config);
  try {
    ValidateJobConfig(config);
  } catch (const Error& e) {
    if (t.recipe.empty()) throw;
    throw Error(ExplainConfigError(e.what(), recipe, flags.OverriddenKeys()));
  }
  EpochPrinter printer(config.epochs);
  RunRecorder recorder(ResolveLedgerTarget(t.ledger),
                       TrainRunHeader(config, t.recipe.empty() ? "train" : t.recipe));
  auto on_epoch = [&](const EpochStats& s) {
    printer.Print(s);
    recorder.AppendEpoch(EpochRowFromStats(s));
  };
  JobResult r = RunJob(config, on_epoch, {&printer});
  recorder.Finish(RunStatus::kCompleted, r.stop_message, EnergyReportFromJob(r), TrainMetrics(r));
  if (t.json) {
    nlohmann::json j = JobResultJson(config, r);
    if (!t.recipe.empty()) j["recipe"] = recipe.path;
    std::printf("%s\n", j.dump().c_str());
  } else {
    PrintFinal(config, r);
  }
}

}  // namespace

void RegisterTrainCommand(CLI::App& app) {
  auto t = std::make_shared<TrainFlags>();
  CLI::App* cmd =
      app.add_subcommand("train", "Train a model and report its accuracy, time, energy and carbon");
  auto flags = std::make_shared<JobFlags>(*cmd);
  cmd->add_option("--recipe", t->recipe,
                  "a TOML recipe (see recipes/); flags given with it override its values");
  cmd->add_flag("--recipe-keys", t->list_keys, "list every key a recipe accepts, and exit");
  AddJobFlags(*flags);
  cmd->add_flag("--json", t->json, "print the final figures as one JSON object on stdout");
  AddLedgerFlags(*cmd, t->ledger);
  cmd->callback([t, flags] { RunTrain(*t, *flags); });
}

}  // namespace joule::cli
