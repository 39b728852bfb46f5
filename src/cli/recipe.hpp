// Recipes: a training run described by a TOML file, for `joule train --recipe
// FILE` and `joule demo`.
//
// A recipe's keys mirror JobConfig's fields (include/joule/train.hpp), so the
// names in error messages from the train layer are the names a user wrote:
//
//   name = "mnist-green"                 # optional, shown in tables
//   description = "bf16, one-cycle, ..." # optional
//   data = "mnist"   target = "column"   model = "mlp"   epochs = 20   batch_size = 128
//   precision = "bf16"   lr_schedule = "one-cycle"   validation_fraction = 0.1
//   [optimizer]            kind, lr, momentum, nesterov, weight_decay, beta1, beta2, eps
//   [lr_schedule_options]  step_epochs, gamma, min_lr, pct_start, div_factor, ...
//   [early_stopping]       enabled, monitor, patience, min_delta, restore_best
//   [target_metric]        value, monitor        (stop once the figure reaches value)
//   [budget]               energy_j, co2_g
//   [adaptive_batch]       enabled, monitor, patience, min_delta, max_batch_size, lr_factor
//   [annealed_huber]       delta_start, delta_end, curve, per
//   [checkpoint]           dir, every_epochs, resume
//   [metering]             enabled, interval_s, attribution ("process" | "machine")
//   [metering.sensors]     cpu_tdp_w, ram_power_w, declared_power_w
//   [metering.carbon]      country_iso3, cloud_provider, cloud_region, grid_region,
//                          intensity_g_per_kwh, series_path, series_kind, pue,
//                          embodied_kg, lifetime_years
//
// `target` is the CSV column to predict; `[target_metric]` is the stop at a
// target validation figure.
//
// RecipeKeys() lists every key with its type and allowed range; `joule train
// --recipe-keys` prints it.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "joule/train.hpp"

namespace joule::cli {

struct Recipe {
  std::string path;         // as given to LoadRecipe
  std::string name;         // the `name` key, else the file name without .toml
  std::string description;  // the `description` key; may be empty
  JobConfig config;         // JobConfig's defaults, then every key the file set
  // The line of every key the file set, by dotted name ("budget.energy_j").
  std::map<std::string, int> key_lines;
};

// Reads the TOML file at `path` into a Recipe. Keys the file does not set keep
// JobConfig's defaults. Relative paths in `data`, `save_dir`, `checkpoint.dir`
// and `metering.carbon.series_path` are taken relative to the recipe's
// directory, so a recipe and its data can move together ("mnist" is the
// bundled data set, not a path).
//
// Throws joule::Error with one line "FILE:LINE: ..." for the first problem in
// file order: a TOML syntax error (with the column), an unknown key (with the
// closest known key and the keys its table takes), a value of the wrong type,
// or a value out of range (a negative budget, a fraction outside [0, 1), an
// unknown precision...). Cross-field checks are left to ValidateJobConfig; see
// ExplainConfigError.
Recipe LoadRecipe(const std::string& path);

// The same from text already read; `path` is used in messages and to resolve
// relative paths.
Recipe ParseRecipe(const std::string& text, const std::string& path);

// One line per accepted key: "budget.energy_j  number > 0  ...".
std::vector<std::string> RecipeKeys();

// Turns an Error from ValidateJobConfig/RunJob about a config built from
// `recipe` into one that names the recipe file and the line of the key the
// message mentions, when the message mentions a key the recipe set and the
// command line did not override (`overridden`: dotted keys set by flags).
// Otherwise returns the message unchanged.
std::string ExplainConfigError(const std::string& message, const Recipe& recipe,
                               const std::vector<std::string>& overridden);

// Command-line flags that override a recipe. Each flag parses into its own
// storage and is applied to a JobConfig only when the user gave it, so a
// recipe's value stands unless a flag names it. Keep the JobFlags alive as
// long as the command (its storage backs the CLI11 options).
class JobFlags {
 public:
  explicit JobFlags(CLI::App& cmd) : cmd_(&cmd) {}

  // A flag taking a value, applied with `apply` when given. `key` is the
  // recipe key it overrides ("" for none); `initial` is shown as the default.
  template <typename T>
  CLI::Option* AddValue(const std::string& flag, const std::string& help, const std::string& key,
                        T initial, std::function<void(const T&, JobConfig&)> apply) {
    auto value = std::make_shared<T>(std::move(initial));
    CLI::Option* opt = cmd_->add_option(flag, *value, help);
    bound_.push_back(Bound{opt, [value, apply](JobConfig& to) { apply(*value, to); }, key});
    return opt;
  }
  // A flag that writes its value to `field`; the default shown is JobConfig's.
  template <typename T>
  CLI::Option* Add(const std::string& flag, std::function<T&(JobConfig&)> field,
                   const std::string& help, const std::string& key) {
    JobConfig defaults;
    return AddValue<T>(flag, help, key, field(defaults),
                       [field](const T& v, JobConfig& to) { field(to) = v; })
        ->capture_default_str();
  }
  // A flag without a value, applied with `apply` when given.
  CLI::Option* AddSwitch(const std::string& flag, const std::string& help, const std::string& key,
                         std::function<void(JobConfig&)> apply);

  // Applies every flag the user gave, in registration order.
  void Apply(JobConfig& to) const;
  // The recipe keys the given flags override.
  std::vector<std::string> OverriddenKeys() const;
  CLI::App& cmd() { return *cmd_; }

 private:
  struct Bound {
    CLI::Option* option;
    std::function<void(JobConfig&)> apply;
    std::string key;
  };
  CLI::App* cmd_;
  std::vector<Bound> bound_;
};

// The flags of `joule train`: data, model, loss, optimizer, precision,
// schedule, validation, callbacks (--patience, --target-accuracy, --budget-j,
// ...), checkpoints and metering (AddMeteringFlags).
void AddJobFlags(JobFlags& flags);

// Carbon intensity and sensor overrides, as `joule measure` spells them:
// --country, --cloud/--region, --grid-region, --intensity, --intensity-series,
// --intensity-kind, --pue, --cpu-tdp, --ram-power, --power, --machine,
// --no-meter. Shared by train, demo and study.
void AddMeteringFlags(JobFlags& flags);

}  // namespace joule::cli
