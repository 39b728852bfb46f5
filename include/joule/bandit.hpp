// joule/bandit.hpp: the batch-size bandit for a job that runs again and
// again (a nightly retraining): across its runs, choose the batch size that
// reaches the target for the least energy, spending few runs on the others.
//
// Layer run (src/run/bandit.cpp). The bandit is pure: it keeps no state of
// its own between processes. Its observations are the job's earlier runs in
// the ledger (each run records its batch size and the energy it spent), so
// the ledger is the bandit's state and a new process rebuilds it from there.
//
// Method: Thompson sampling with a Gaussian model of each arm's cost. Every
// arm is tried once first, in the order given. Then each arm's mean cost is
// drawn from N(mean of its costs, s^2 / n), s^2 the variance pooled over all
// arms' observations (at least (5 % of the arm's mean)^2, so two equal
// observations do not make an arm certain), and the arm with the lowest draw
// runs. A run stopped early by the cutoff observes the cutoff, a lower bound
// of its true cost that is already worse than the best arm's mean by beta.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "joule/util.hpp"

namespace joule {

struct BanditObservation {
  std::int64_t batch_size = 0;
  double cost_j = 0;  // energy to the target (J); the cutoff for a run stopped at it
};

class BatchSizeBandit {
 public:
  // `arms`: the batch sizes to choose from (at least one, each >= 1, no
  // repeats); `beta` > 1: a run stops once it has spent beta x the best
  // arm's mean cost. Throws Error otherwise.
  BatchSizeBandit(std::vector<std::int64_t> arms, double beta);

  // Adds one finished run. Observations of a batch size that is not an arm
  // are ignored (the arms may have changed since); costs must be finite and
  // >= 0 (Error).
  void Observe(const BanditObservation& observation);

  // The batch size for the next run: the first arm not yet tried, else the
  // Thompson draw, from `rng`.
  std::int64_t Next(Rng& rng) const;

  // The arm with the lowest mean cost so far; 0 before any observation.
  std::int64_t Best() const;
  // Where the next run should stop: beta x the best arm's mean cost; 0 (no
  // cutoff) until every arm has been tried, so each arm gets a whole run.
  double CutoffJ() const;

  const std::vector<std::int64_t>& arms() const { return arms_; }
  // Runs observed of each arm, in the order of arms().
  std::vector<int> Counts() const;
  std::vector<double> MeanCosts() const;  // NaN for an arm not tried

 private:
  std::vector<std::int64_t> arms_;
  double beta_;
  std::vector<std::vector<double>> costs_;  // per arm
};

// The bandit over a ledger: `joule train --bandit-batches 64,128,256 ...`.
// A job's runs carry the tag "bandit:<job>" and, in their metrics, "bandit":
// {"job", "batch_size", "cost_j", "reached", "cutoff_j", "arms", "beta"}.
struct BanditPlan {
  std::string job;
  std::string tag;              // "bandit:<job>"
  std::int64_t batch_size = 0;  // the arm this run uses
  double cutoff_j = 0;          // stop the run here (J); 0: no cutoff yet
  int observed = 0;             // earlier completed runs of the job read from the ledger
  std::vector<std::int64_t> arms;
  std::vector<int> counts;         // runs per arm, in the order of arms
  std::vector<double> mean_costs;  // NaN for an arm not tried
  double beta = 2;
};

// Reads the completed "train" runs tagged "bandit:<job>" in the ledger at
// `ledger_path` (none when the file does not exist yet), observes each one's
// metrics.bandit.cost_j for its batch size, and picks the next arm (the
// Thompson draw is seeded by `seed` and the number of runs observed, so a
// rerun of the same history picks the same arm). Throws Error for an empty
// job name, a ledger that cannot be opened, and what the bandit throws.
BanditPlan PlanBatchSize(const std::string& ledger_path, const std::string& job,
                         const std::vector<std::int64_t>& arms, double beta, std::uint64_t seed);

// What a finished run observes: its energy when it reached its target, the
// cutoff when it was stopped there (or ended without the target while a
// cutoff was set: it cost at least that much for nothing), else its energy
// (the first run of each arm, which has no cutoff). As the run's
// metrics.bandit object.
nlohmann::json BanditRunMetrics(const BanditPlan& plan, double energy_j, bool reached,
                                bool stopped_by_cutoff);

}  // namespace joule
