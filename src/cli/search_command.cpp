// joule search: the accuracy/energy Pareto front of a training job over a
// space of its recipe keys. The search itself is the run layer's RunSearch.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/ledger_flags.hpp"
#include "cli/progress.hpp"
#include "joule/search.hpp"
#include "joule/util.hpp"

namespace joule::cli {
namespace {

struct SearchFlags {
  std::string recipe, space, objectives = "accuracy,energy", strategy = "halving";
  int trials = 0, eta = 3, min_epochs = 1;
  double budget_j = 0;
  bool no_prune = false, json = false;
  std::uint64_t seed = 1;
  LedgerFlags ledger;
};

std::string Objectives(const SearchTrial& t, const std::vector<Objective>& objectives) {
  std::string s;
  for (std::size_t k = 0; k < objectives.size(); ++k) {
    char b[64];
    const double v = objectives[k] == Objective::kAccuracy ? -t.point[k] : t.point[k];
    switch (objectives[k]) {
      case Objective::kAccuracy:
        std::snprintf(b, sizeof b, "val acc %.2f%%", 100 * v);
        break;
      case Objective::kRmse:
        std::snprintf(b, sizeof b, "val rmse %.4g", v);
        break;
      case Objective::kEnergy:
        std::snprintf(b, sizeof b, "%s", FormatJoules(v).c_str());
        break;
      case Objective::kParameters:
        std::snprintf(b, sizeof b, "%.0f params", v);
        break;
    }
    s += (k > 0 ? ", " : "") + std::string(b);
  }
  return s;
}

std::string Values(const SearchTrial& t) {
  std::string s;
  for (const auto& [k, v] : t.values) s += (s.empty() ? "" : " ") + k + "=" + v;
  return s;
}

void RunSearchCommand(SearchFlags& f) {
  if (std::filesystem::is_directory(f.recipe)) {
    throw Error(f.recipe + ": is a directory; --recipe takes a .toml file");
  }
  std::string text;
  try {
    text = ReadFile(f.recipe);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " (--recipe)");
  }
  const Recipe recipe = ParseRecipe(text, f.recipe);
  const SearchSpace space = LoadSearchSpace(f.space);
  SearchOptions o;
  o.objectives.clear();
  std::stringstream names(f.objectives);
  for (std::string name; std::getline(names, name, ',');) {
    try {
      o.objectives.push_back(ParseObjective(name));
    } catch (const Error& e) {
      throw Error(std::string("--objectives: ") + e.what());
    }
  }
  try {
    o.strategy = ParseSearchStrategy(f.strategy);
  } catch (const Error& e) {
    throw Error(std::string("--strategy: ") + e.what());
  }
  o.eta = f.eta;
  o.min_epochs = f.min_epochs;
  o.on_progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  o.trials = f.trials;
  o.budget_j = f.budget_j;
  o.prune = !f.no_prune;
  o.seed = f.seed;
  o.ledger = ResolveLedgerTarget(f.ledger);
  o.on_trial = [](int i, int n, const SearchTrial& t) {
    std::string count = n > 0 ? std::to_string(i) + "/" + std::to_string(n) : std::to_string(i);
    std::fprintf(stderr, "trial %s: %s: %s, %s%s\n", count.c_str(), Values(t).c_str(),
                 FormatJoules(t.result.energy.energy_j).c_str(), t.result.energy.method.c_str(),
                 t.pruned ? (" - " + t.pruned_reason).c_str() : "");
  };
  const SearchResult r = RunSearch(recipe.config, space, o);

  if (f.json) {
    nlohmann::json j = {
        {"search_id", r.run_id}, {"energy_j", r.energy_j},    {"energy_method", r.energy_method},
        {"notes", r.notes},      {"trials", r.trials.size()}, {"reference", r.reference}};
    for (Objective ob : o.objectives) j["objectives"].push_back(ObjectiveName(ob));
    int pruned = 0;
    for (const SearchTrial& t : r.trials) pruned += t.pruned;
    j["pruned"] = pruned;
    for (std::size_t i : r.front) {
      const SearchTrial& t = r.trials[i];
      nlohmann::json row = {{"trial", t.index}, {"run_id", t.run_id}};
      for (const auto& [k, v] : t.values) row["values"][k] = v;
      for (std::size_t k = 0; k < o.objectives.size(); ++k) {
        row[ObjectiveName(o.objectives[k])] =
            o.objectives[k] == Objective::kAccuracy ? -t.point[k] : t.point[k];
      }
      row["test_accuracy"] = t.result.final_eval.accuracy;
      if (t.result.task == Task::kRegression) row["test_rmse"] = t.result.final_eval.rmse;
      j["front"].push_back(row);
    }
    if (!r.front.empty()) j["knee_trial"] = r.trials[r.knee].index;
    for (const auto& [e, hv] : r.hypervolume_by_energy)
      j["hypervolume_by_energy"].push_back({e, hv});
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  int pruned = 0;
  for (const SearchTrial& t : r.trials) pruned += t.pruned;
  std::printf("%zu trials (%d stopped early), %s spent (%s%s)\n", r.trials.size(), pruned,
              FormatJoules(r.energy_j).c_str(), r.energy_method.c_str(),
              r.energy_method.rfind("measured:", 0) == 0 ? "" : ": an estimate, not a measurement");
  if (r.front.empty()) {
    std::printf("no trial finished: no front\n");
  } else {
    std::printf("Pareto front (validation figures; the test set only for these):\n");
    for (std::size_t i : r.front) {
      const SearchTrial& t = r.trials[i];
      std::printf("  trial %-3d %s | %s | test %s %.4g%s\n", t.index, Values(t).c_str(),
                  Objectives(t, o.objectives).c_str(),
                  t.result.task == Task::kClassification ? "acc" : "rmse",
                  t.result.task == Task::kClassification ? 100 * t.result.final_eval.accuracy
                                                         : t.result.final_eval.rmse,
                  i == r.knee ? "  <- knee" : "");
    }
    std::printf("hypervolume %.6g (reference", r.hypervolume_by_energy.back().second);
    for (double v : r.reference) std::printf(" %.4g", v);
    std::printf(")\n");
  }
  for (const std::string& note : r.notes) std::printf("note: %s\n", note.c_str());
  if (!r.run_id.empty()) std::printf("search recorded as run %s\n", r.run_id.c_str());
}

}  // namespace

void RegisterSearchCommand(CLI::App& app) {
  auto f = std::make_shared<SearchFlags>();
  CLI::App* cmd = app.add_subcommand(
      "search",
      "Search a training job's space for the Pareto front of validation accuracy (or RMSE) "
      "against training energy (or parameters): trials drawn at random from --space, each a "
      "train run in the ledger under one search run. With --strategy halving (the default) "
      "every trial trains --min-epochs, and only the best 1 in --eta (by non-dominated rank "
      "of accuracy and predicted energy, then crowding) resume from their checkpoints for "
      "eta times as many epochs, until they reach their own epoch limit; with random each "
      "trial runs to its end. Either way a trial the finished ones dominate even "
      "optimistically (its predicted energy, its accuracy plus the best gain seen) is stopped. "
      "Prints the front, its knee and its hypervolume. Example: "
      "joule search --recipe recipes/mnist-baseline.toml --space recipes/mnist-space.toml "
      "--trials 12");
  cmd->add_option("--recipe", f->recipe, "the base job (a recipe .toml)")->required();
  cmd->add_option("--space", f->space,
                  "the space: [params] with key = { choice = [...] | range = [lo, hi] | "
                  "log = [lo, hi] | int = [lo, hi] }")
      ->required();
  cmd->add_option("--trials", f->trials, "how many trials")->check(CLI::PositiveNumber);
  cmd->add_option("--strategy", f->strategy,
                  "halving (successive halving on rank and crowding) or random")
      ->capture_default_str();
  cmd->add_option("--eta", f->eta, "halving: 1 in eta trials goes on at each rung")
      ->capture_default_str();
  cmd->add_option("--min-epochs", f->min_epochs, "halving: the first rung's epochs")
      ->capture_default_str();
  cmd->add_option("--budget-j", f->budget_j,
                  "stop once the search has spent this many joules (the last trial stops at it)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--objectives", f->objectives,
                  "two or three of accuracy (or rmse), energy, params, comma-separated")
      ->capture_default_str();
  cmd->add_flag("--no-prune", f->no_prune, "run every trial to its end");
  cmd->add_option("--seed", f->seed, "seed of the draws")->capture_default_str();
  cmd->add_flag("--json", f->json, "print the front and the hypervolume as JSON on stdout");
  AddLedgerFlags(*cmd, f->ledger);
  cmd->callback([f] { RunSearchCommand(*f); });
}

}  // namespace joule::cli
