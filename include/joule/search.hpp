// joule/search.hpp: energy-aware search. Trials of a training job drawn from
// a space over its recipe keys (hyperparameters, and the architecture through
// the model's named sizes), scored on two or three objectives, and the Pareto
// front of what finished. A trial that cannot reach the front is stopped
// early: after its first epoch, its predicted final energy (PredictCost's
// rule) and an optimistic accuracy (what it has now plus the largest gain
// from that epoch to the end any finished trial made) are compared with the
// front; when the front dominates even that, the trial stops and its energy
// is saved.
//
// Layer run (src/run/search_space.cpp, search.cpp). Every trial is a "train"
// run in the ledger whose parent is the search's "search" run; the search run
// holds the front, the hypervolume after each trial and the knee.
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

struct SearchOptions {
  std::vector<Objective> objectives = {Objective::kAccuracy, Objective::kEnergy};
  int trials = 0;          // > 0: this many trials; 0: until the budget is spent
  double budget_j = 0;     // > 0: stop starting trials once this much is spent
  bool prune = true;       // stop trials the front dominates even optimistically
  std::uint64_t seed = 1;  // of the draws (each trial keeps the base job's seed)
  LedgerTarget ledger;     // where the search and its trials are recorded
  // After each trial: its index (1-based), the count (0 with a budget) and
  // the trial. May be null.
  std::function<void(int, int, const struct SearchTrial&)> on_trial;
};

struct SearchTrial {
  int index = 0;  // 1-based
  JobConfig config;
  std::vector<std::pair<std::string, std::string>> values;  // key -> value as shown
  JobResult result;
  std::string run_id;            // its "train" run; "" when not recorded
  bool pruned = false;           // stopped early by the front
  std::string pruned_reason;     // why, when pruned
  double validation_metric = 0;  // accuracy or RMSE of the last complete epoch
  std::vector<double> point;     // the objectives, minimised; empty when pruned
  bool on_front = false;
};

struct SearchResult {
  std::vector<SearchTrial> trials;
  std::vector<std::size_t> front;  // indices into trials, by the first objective
  std::size_t knee = 0;            // index into trials
  // After each trial: energy the search had spent (J) and the hypervolume of
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
// is given, or when the budget is below the energy one epoch of the base job
// is estimated to take, `min_epoch_j`, when > 0). Throws Error for a trial
// whose config the schema rejects (naming the trial's values).
SearchResult RunSearch(const JobConfig& base, const SearchSpace& space,
                       const SearchOptions& options);

}  // namespace joule
