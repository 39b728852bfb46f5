// joule train: one training run from a recipe and/or flags, with a progress
// line per epoch and the run's energy and carbon at the end. Flags override
// the recipe's values; see JobFlags. The job itself is the run layer's RunJob.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.hpp"
#include "cli/distributed.hpp"
#include "cli/job_flags.hpp"
#include "cli/ledger_flags.hpp"
#include "cli/progress.hpp"
#include "joule/run.hpp"
#include "joule/util.hpp"

namespace joule::cli {

namespace {

struct TrainFlags {
  std::string recipe;
  bool json = false;
  bool list_keys = false;
  bool distributed = false;
  LedgerFlags ledger;
};

void RunTrain(const TrainFlags& t, const JobFlags& flags) {
  if (t.list_keys) {
    for (const std::string& line : RecipeKeys()) std::printf("%s\n", line.c_str());
    return;
  }
  Recipe recipe;
  if (!t.recipe.empty()) {
    // Read here, not by LoadRecipe, so that a file that cannot be read is
    // named with the flag that gave it.
    if (std::filesystem::is_directory(t.recipe)) {
      throw Error(t.recipe + ": is a directory; --recipe takes a .toml file");
    }
    std::string text;
    try {
      text = ReadFile(t.recipe);
    } catch (const Error& e) {
      throw Error(std::string(e.what()) + " (--recipe)");
    }
    recipe = ParseRecipe(text, t.recipe);
  }
  if (t.distributed && !BuiltWithMpi()) throw Error(kNoMpiMessage);
  JobConfig config = recipe.config;
  flags.Apply(config);
  flags.Validate(config, t.recipe.empty() ? nullptr : &recipe);
  if (t.distributed) {
    RunTrainDistributed(config, t.recipe.empty() ? "train" : recipe.name,
                        ResolveLedgerTarget(t.ledger), t.json);
    return;
  }
  EpochPrinter printer(config.epochs);
  RunRecorder recorder(
      ResolveLedgerTarget(t.ledger),
      RunHeader("train", t.recipe.empty() ? "train" : recipe.name, JobConfigJson(config)));
  // Printed after the epoch line it follows (the callback runs before it).
  std::string pending_prediction;
  auto on_epoch = [&](const EpochStats& s) {
    printer.Print(s);
    if (!pending_prediction.empty()) printer.Note(pending_prediction);
    pending_prediction.clear();
    recorder.AppendEpoch(EpochRowOf(s));
  };
  config.metering.on_sample = recorder.SampleCallback();  // power over time, in the ledger
  config.prediction.on_prediction = [&](const CostPrediction& p) {
    char line[512];
    std::snprintf(line, sizeof line,
                  "predicted after epoch %d: %s (%s to %s), %sCO2eq, %.0f s by epoch %d (%s)",
                  p.after_epochs, FormatJoules(p.energy_j).c_str(),
                  FormatJoules(p.energy_low_j).c_str(), FormatJoules(p.energy_high_j).c_str(),
                  FormatGrams(p.co2_g).c_str(), p.seconds, p.to_epoch, p.method.c_str());
    pending_prediction = line;
  };

  JobResult r = RunJob(config, on_epoch, {&printer}, nullptr, /*validated=*/true);
  recorder.Finish(RunStatus::kCompleted, r.stop_message, r.energy, JobMetrics(r));
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
  cmd->add_option("--recipe", t->recipe,
                  "a TOML recipe (see recipes/); flags given with it override its values");
  cmd->add_flag("--recipe-keys", t->list_keys, "list every key a recipe accepts, and exit");
  auto flags = std::make_shared<JobFlags>(*cmd, TrainFlag);
  cmd->add_flag("--json", t->json, "print the final figures as one JSON object on stdout");
  cmd->add_flag("--distributed", t->distributed,
                "data-parallel training under mpirun: each rank trains its slice of every "
                "global batch of --batch-size rows, gradients averaged with MPI_Allreduce; "
                "rank 0 prints and records (needs a build with MPI)");
  AddLedgerFlags(*cmd, t->ledger);
  cmd->callback([t, flags] { RunTrain(*t, *flags); });
}

}  // namespace joule::cli
