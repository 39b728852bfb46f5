// joule/search.hpp: energy-aware search. Trials of a training job drawn from
// a space over its recipe keys (hyperparameters, and the architecture through
// the model's named sizes), scored on two or three objectives, and the Pareto
// front of what finished. Two strategies:
//
//  - halving (the default): multi-objective successive halving. Every trial
//    trains to the first rung (min_epochs), is paused there with a checkpoint,
//    and only the best 1 in eta of those still unfinished go on to the next
//    rung (eta times the epochs), resumed from their checkpoints, and so on
//    until each remaining trial reaches its own epoch limit. "Best" is by
//    non-dominated rank, then crowding, of each trial's predicted point (its
//    validation metric now, its energy predicted to its epoch limit), ranked
//    among the finished trials' points too. A trial whose optimistic point is
//    dominated by a finished trial is not promoted either.
//  - random: every trial runs to its end, except that after its first epoch a
//    trial whose optimistic point the finished trials dominate is stopped.
//
// The optimistic point: the predicted final energy's low end (PredictCost's
// rule after one epoch; the mean of the later epochs after more), and the
// validation metric now plus the largest gain any finished trial made from
// the same epoch to its end. Paused trials resume bitwise where they stopped
// (Fit's checkpoints, the trial's own epoch limit kept for its schedule), so
// a promoted trial ends as it would have run uninterrupted.
//
// Layer run (src/run/search_space.cpp, search.cpp). Every trial is one "train"
// run in the ledger whose parent is the search's "search" run (a paused trial's
// run stays open until it ends); the search run holds the front, the
// hypervolume against the energy spent and the knee.
//
// Selection uses the validation split only (the base job gets
// validation_fraction 0.1 when it has none, and says so); the test figures
// each trial's RunJob computes are reported for the front alone.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "joule/run.hpp"

namespace joule {

// One dimension of a search space: a recipe key and how to draw its value.
struct SearchParam {
  enum class Kind { kChoice, kRange, kLog, kInt };
  std::string key;  // a recipe key (JobSchema)
  Kind kind = Kind::kChoice;
  std::vector<FieldValue> choices;  // kChoice: each checked against the key's field
  double lo = 0, hi = 0;            // kRange, kLog (lo > 0): [lo, hi); kInt: [lo, hi]
};

struct SearchSpace {
  std::string path;
  std::vector<SearchParam> params;
};

// Reads a space file: a TOML table [params] whose keys are recipe keys (quoted
// when dotted) and whose values are one of
//   { choice = [v, ...] }   { range = [lo, hi] }   { log = [lo, hi] }   { int = [lo, hi] }
// e.g. "optimizer.lr" = { log = [0.001, 0.1] }, model = { choice = ["mlp:64",
// "mlp:256,128"] }. Throws Error with one line "FILE:LINE: ..." for: a syntax
// error, an unknown key (with the closest keys), an unknown kind, an empty
// range or choice list (lo >= hi; int: lo > hi), a log range with a bound
// <= 0, a kind that does not fit the key's type, a choice the key does not
// allow, or no params at all.
SearchSpace ParseSearchSpace(const std::string& text, const std::string& path);
SearchSpace LoadSearchSpace(const std::string& path);

// Draws one point of the space into a copy of `base`, from `rng`.
JobConfig SampleSearchSpace(const SearchSpace& space, const JobConfig& base, Rng& rng);

// What a search minimises (accuracy is maximised: stored negated).
enum class Objective { kAccuracy, kRmse, kEnergy, kParameters };
// "accuracy", "rmse", "energy", "params". Throws Error naming the valid ones.
Objective ParseObjective(const std::string& name);
const char* ObjectiveName(Objective o);

enum class SearchStrategy { kHalving, kRandom };
// "halving", "random". Throws Error naming the valid ones.
SearchStrategy ParseSearchStrategy(const std::string& name);

struct SearchOptions {
  std::vector<Objective> objectives = {Objective::kAccuracy, Objective::kEnergy};
  SearchStrategy strategy = SearchStrategy::kHalving;
  int trials = 0;          // > 0: this many trials; 0 (random only): until the budget is spent
  double budget_j = 0;     // > 0: the search stops once this much is spent
  bool prune = true;       // stop trials the front dominates even optimistically
  int eta = 3;             // halving: 1 in eta trials goes on at each rung; >= 2
  int min_epochs = 1;      // halving: the first rung's epochs; >= 1
  std::uint64_t seed = 1;  // of the draws (each trial keeps the base job's seed)
  LedgerTarget ledger;     // where the search and its trials are recorded
  // When a trial ends: its index (1-based), the count (0 with a budget) and
  // the trial. May be null.
  std::function<void(int, int, const struct SearchTrial&)> on_trial;
  // Halving: one line when a rung's promotions are decided. May be null.
  std::function<void(const std::string&)> on_progress;
};

struct SearchTrial {
  int index = 0;  // 1-based
  JobConfig config;
  std::vector<std::pair<std::string, std::string>> values;  // key -> value as shown
  JobResult result;
  std::string run_id;            // its "train" run; "" when not recorded
  int epochs_trained = 0;        // complete epochs it trained, over all its rungs
  bool pruned = false;           // stopped early (not promoted, dominated or out of budget)
  std::string pruned_reason;     // why, when pruned
  double validation_metric = 0;  // accuracy or RMSE of the last complete epoch
  std::vector<double> point;     // the objectives, minimised; empty when pruned
  bool on_front = false;
};

struct SearchResult {
  std::vector<SearchTrial> trials;
  std::vector<std::size_t> front;  // indices into trials, by the first objective
  std::size_t knee = 0;            // index into trials
  // As trials end: energy the search had spent (J) and the hypervolume of
  // the front so far, against `reference` (each objective's worst finished
  // value, 10 % beyond it; accuracy against 0).
  std::vector<std::pair<double, double>> hypervolume_by_energy;
  std::vector<double> reference;
  double energy_j = 0;  // all trials, pruned ones included
  std::string energy_method;
  std::vector<std::string> notes;
  std::string run_id;  // the "search" run
};

// Runs the search. Validates the base and the space first (what
// ValidateJobConfig throws; trials and budget: Error when neither or a bad one
// is given, halving without --trials, eta < 2, min_epochs < 1, or a budget the
// first trial's first epoch already spends). Throws Error for a trial whose
// config the schema rejects (naming the trial's values). Halving keeps its
// checkpoints in a directory under the system's temporary one, removed at the
// end whatever happens.
SearchResult RunSearch(const JobConfig& base, const SearchSpace& space,
                       const SearchOptions& options);

}  // namespace joule
