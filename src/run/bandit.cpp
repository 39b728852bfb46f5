// Thompson sampling over batch sizes (see joule/bandit.hpp).
#include "joule/bandit.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>

#include "joule/run_record.hpp"

namespace joule {

BatchSizeBandit::BatchSizeBandit(std::vector<std::int64_t> arms, double beta)
    : arms_(std::move(arms)), beta_(beta), costs_(arms_.size()) {
  if (arms_.empty()) throw Error("batch-size bandit: give at least one batch size");
  for (std::size_t i = 0; i < arms_.size(); ++i) {
    if (arms_[i] < 1) {
      throw Error("batch-size bandit: batch size " + std::to_string(arms_[i]) + ": must be >= 1");
    }
    if (std::find(arms_.begin(), arms_.begin() + static_cast<long>(i), arms_[i]) !=
        arms_.begin() + static_cast<long>(i)) {
      throw Error("batch-size bandit: batch size " + std::to_string(arms_[i]) + " is given twice");
    }
  }
  if (!(beta > 1) || !std::isfinite(beta)) {
    throw Error("batch-size bandit: beta " + std::to_string(beta) +
                ": must be > 1 (a run stops at beta x the best cost)");
  }
}

void BatchSizeBandit::Observe(const BanditObservation& o) {
  if (!(o.cost_j >= 0) || !std::isfinite(o.cost_j)) {
    throw Error("batch-size bandit: a cost of " + std::to_string(o.cost_j) +
                " J; costs are finite and >= 0");
  }
  auto it = std::find(arms_.begin(), arms_.end(), o.batch_size);
  if (it == arms_.end()) return;
  costs_[static_cast<std::size_t>(it - arms_.begin())].push_back(o.cost_j);
}

std::vector<int> BatchSizeBandit::Counts() const {
  std::vector<int> n;
  for (const auto& c : costs_) n.push_back(static_cast<int>(c.size()));
  return n;
}

std::vector<double> BatchSizeBandit::MeanCosts() const {
  std::vector<double> means;
  for (const auto& c : costs_) {
    double sum = 0;
    for (double v : c) sum += v;
    means.push_back(c.empty() ? std::numeric_limits<double>::quiet_NaN()
                              : sum / static_cast<double>(c.size()));
  }
  return means;
}

std::int64_t BatchSizeBandit::Best() const {
  const std::vector<double> means = MeanCosts();
  std::int64_t best = 0;
  double best_mean = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < arms_.size(); ++i) {
    if (!costs_[i].empty() && means[i] < best_mean) {
      best_mean = means[i];
      best = arms_[i];
    }
  }
  return best;
}

double BatchSizeBandit::CutoffJ() const {
  for (const auto& c : costs_) {
    if (c.empty()) return 0;
  }
  const std::vector<double> means = MeanCosts();
  return beta_ * *std::min_element(means.begin(), means.end());
}

std::int64_t BatchSizeBandit::Next(Rng& rng) const {
  for (std::size_t i = 0; i < arms_.size(); ++i) {
    if (costs_[i].empty()) return arms_[i];
  }
  // Pooled variance of the observations about their arm's mean.
  const std::vector<double> means = MeanCosts();
  double squares = 0;
  int dof = 0;
  for (std::size_t i = 0; i < arms_.size(); ++i) {
    for (double v : costs_[i]) squares += (v - means[i]) * (v - means[i]);
    dof += static_cast<int>(costs_[i].size()) - 1;
  }
  const double pooled = dof > 0 ? squares / dof : 0.0;
  std::int64_t pick = arms_[0];
  double lowest = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < arms_.size(); ++i) {
    const double floor_sd = 0.05 * means[i];
    const double variance = std::max(pooled, floor_sd * floor_sd);
    const double draw =
        means[i] + std::sqrt(variance / static_cast<double>(costs_[i].size())) * rng.Normal();
    if (draw < lowest) {
      lowest = draw;
      pick = arms_[i];
    }
  }
  return pick;
}

BanditPlan PlanBatchSize(const std::string& ledger_path, const std::string& job,
                         const std::vector<std::int64_t>& arms, double beta, std::uint64_t seed) {
  if (job.empty()) throw Error("batch-size bandit: the job needs a name (--bandit-job)");
  BatchSizeBandit bandit(arms, beta);
  BanditPlan plan;
  plan.job = job;
  plan.tag = "bandit:" + job;
  plan.arms = arms;
  plan.beta = beta;
  if (!ledger_path.empty() && std::filesystem::exists(ledger_path)) {
    std::unique_ptr<Ledger> ledger = Ledger::Open(ledger_path);
    RunFilter filter;
    filter.kind = "train";
    filter.tag = plan.tag;
    filter.status = "completed";
    for (const RunRecord& run : ledger->List(filter)) {
      const nlohmann::json* b = run.metrics.contains("bandit") ? &run.metrics["bandit"] : nullptr;
      if (b == nullptr || !b->contains("batch_size") || !b->contains("cost_j")) continue;
      if (!(*b)["batch_size"].is_number_integer() || !(*b)["cost_j"].is_number()) continue;
      bandit.Observe({(*b)["batch_size"].get<std::int64_t>(), (*b)["cost_j"].get<double>()});
      ++plan.observed;
    }
  }
  Rng rng(seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(plan.observed) + 1);
  plan.batch_size = bandit.Next(rng);
  plan.cutoff_j = bandit.CutoffJ();
  plan.counts = bandit.Counts();
  plan.mean_costs = bandit.MeanCosts();
  return plan;
}

nlohmann::json BanditRunMetrics(const BanditPlan& plan, double energy_j, bool reached,
                                bool stopped_by_cutoff) {
  double cost = energy_j;
  if (!reached && plan.cutoff_j > 0) cost = std::max(energy_j, plan.cutoff_j);
  if (stopped_by_cutoff) cost = plan.cutoff_j;
  return {{"job", plan.job},          {"batch_size", plan.batch_size},
          {"cost_j", cost},           {"energy_j", energy_j},
          {"reached", reached},       {"cutoff_j", plan.cutoff_j},
          {"arms", plan.arms},        {"beta", plan.beta},
          {"observed", plan.observed}};
}

}  // namespace joule
