// joule train: one training run from a recipe and/or flags, with a progress
// line per epoch and the run's energy and carbon at the end. Flags override
// the recipe's values; see JobFlags. The job itself is the run layer's RunJob.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <vector>

#include "cli/commands.hpp"
#include "cli/distributed.hpp"
#include "cli/job_flags.hpp"
#include "cli/ledger_flags.hpp"
#include "cli/progress.hpp"
#include "joule/bandit.hpp"
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
  std::string bandit_batches, bandit_job;
  double bandit_beta = 2;
};

std::vector<std::int64_t> ParseBatchList(const std::string& text) {
  std::vector<std::int64_t> arms;
  std::stringstream items(text);
  for (std::string item; std::getline(items, item, ',');) {
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size()) {
      throw Error("--bandit-batches: '" + item + "' is not a batch size (e.g. 64,128,256)");
    }
    arms.push_back(v);
  }
  return arms;
}

// The recurring job's batch size and cutoff from its earlier runs in the
// ledger (the bandit's state), set into `config`.
BanditPlan PlanBandit(const TrainFlags& t, const Recipe& recipe, JobConfig& config) {
  if (!config.target_metric.value) {
    throw Error(
        "--bandit-batches: the bandit minimises the energy to reach a target: give "
        "--target-accuracy, --target-rmse or a recipe's [target_metric]");
  }
  const LedgerTarget target = ResolveLedgerTarget(t.ledger);
  if (target.path.empty()) {
    throw Error("--bandit-batches: the bandit keeps its state in the ledger; drop --no-ledger");
  }
  const std::string job = !t.bandit_job.empty() ? t.bandit_job
                          : t.recipe.empty()    ? ""
                                                : recipe.name;
  if (job.empty()) {
    throw Error("--bandit-batches: name the job with --bandit-job (or give a --recipe: its name)");
  }
  BanditPlan plan =
      PlanBatchSize(target.path, job, ParseBatchList(t.bandit_batches), t.bandit_beta, config.seed);
  config.batch_size = plan.batch_size;
  std::string cutoff = "no cutoff until every batch size has run once";
  if (plan.cutoff_j > 0) {
    config.budget.energy_j =
        std::min(config.budget.energy_j.value_or(plan.cutoff_j), plan.cutoff_j);
    cutoff = "stops at " + FormatJoules(plan.cutoff_j) + " (beta x the best mean cost)";
  }
  std::fprintf(stderr, "bandit %s: batch %lld after %d run(s) of this job; %s\n", job.c_str(),
               static_cast<long long>(plan.batch_size), plan.observed, cutoff.c_str());
  return plan;
}

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
    if (!t.bandit_batches.empty()) {
      throw Error("--bandit-batches: not with --distributed (the bandit plans one process's run)");
    }
    RunTrainDistributed(config, t.recipe.empty() ? "train" : recipe.name,
                        ResolveLedgerTarget(t.ledger), t.json);
    return;
  }
  std::optional<BanditPlan> bandit;
  if (!t.bandit_batches.empty()) bandit = PlanBandit(t, recipe, config);
  EpochPrinter printer(config.epochs);
  RunRecord header =
      RunHeader("train", t.recipe.empty() ? "train" : recipe.name, JobConfigJson(config));
  if (bandit) header.tags.push_back(bandit->tag);
  RunRecorder recorder(ResolveLedgerTarget(t.ledger), header);
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
  nlohmann::json metrics = JobMetrics(r);
  if (bandit) {
    metrics["bandit"] =
        BanditRunMetrics(*bandit, r.energy.energy_j, r.target_reached.value_or(false),
                         r.stop_reason == StopReason::kBudget && bandit->cutoff_j > 0 &&
                             config.budget.energy_j == bandit->cutoff_j);
  }
  recorder.Finish(RunStatus::kCompleted, r.stop_message, r.energy, metrics);
  if (t.json) {
    nlohmann::json j = JobResultJson(config, r);
    if (bandit) j["bandit"] = metrics["bandit"];
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
  cmd->add_option("--bandit-batches", t->bandit_batches,
                  "a recurring job: choose the batch size among these (e.g. 64,128,256,512) by "
                  "Thompson sampling on the energy to reach the target, learnt from the job's "
                  "earlier runs in the ledger; once each has run, a run stops at --bandit-beta x "
                  "the best mean cost");
  cmd->add_option("--bandit-beta", t->bandit_beta, "the bandit's cutoff, x the best mean cost")
      ->capture_default_str();
  cmd->add_option("--bandit-job", t->bandit_job,
                  "the recurring job's name, whose runs the bandit learns from (default: the "
                  "recipe's name)");
  cmd->add_flag("--distributed", t->distributed,
                "data-parallel training under mpirun: each rank trains its slice of every "
                "global batch of --batch rows, gradients averaged with MPI_Allreduce; "
                "rank 0 prints and records (needs a build with MPI)");
  AddLedgerFlags(*cmd, t->ledger);
  cmd->callback([t, flags] { RunTrain(*t, *flags); });
}

}  // namespace joule::cli
