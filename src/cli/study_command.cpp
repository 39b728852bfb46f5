// joule study losses: trains the same MLP on a regression table with each
// regression loss (mse, mae, huber, log-cosh, annealed-huber) over several
// seeds, and reports per loss the epochs and joules it took to reach a target
// validation RMSE, and the final holdout RMSE and MAE, as mean and spread.
//
// Every run goes to the epoch limit: "to the target" is read from the run's
// history (the first epoch whose validation RMSE is at or below the target,
// and the joules spent up to the end of that epoch, its evaluation included).
// A run stopped at the target would have done exactly those steps, so the
// figures are the same, and the final RMSE and MAE compare the losses after
// the same number of epochs.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/progress.hpp"
#include "cli/recipe.hpp"
#include "joule/train.hpp"

namespace joule::cli {
namespace {

const std::vector<std::string> kStudyLosses = {"mse", "mae", "huber", "log-cosh", "annealed-huber"};

struct StudyFlags {
  std::string data;
  std::string target;
  int seeds = 3;
  double target_rmse = 0;  // 0: half the target's standard deviation
  double target_fraction = 0.5;
  int max_epochs = 100;
  std::vector<std::string> losses = kStudyLosses;
  bool json = false;
};

struct RunFigures {
  std::uint64_t seed = 0;
  bool reached = false;
  int epochs_to_target = 0;
  double energy_to_target_j = 0;
  double seconds_to_target = 0;
  double best_validation_rmse = 0;
  double final_rmse = 0, final_mae = 0;  // holdout, after every epoch ran
  double energy_j = 0, co2_g = 0, seconds = 0;
  int epochs = 0;
};

// Mean and sample standard deviation (n - 1; 0 for one value).
struct Spread {
  double mean = 0, sd = 0;
  int n = 0;
};
Spread Summarise(const std::vector<double>& v) {
  Spread s;
  s.n = static_cast<int>(v.size());
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  if (v.size() > 1) {
    double ss = 0;
    for (double x : v) ss += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(ss / static_cast<double>(v.size() - 1));
  }
  return s;
}

nlohmann::json SpreadJson(const Spread& s) {
  if (s.n == 0) return nullptr;
  return {{"mean", s.mean}, {"sd", s.sd}, {"n", s.n}};
}

std::string SpreadText(const Spread& s, const char* format) {
  if (s.n == 0) return "-";
  char buf[96];
  std::string f = std::string(format) + " +- " + format;
  std::snprintf(buf, sizeof buf, f.c_str(), s.mean, s.sd);
  return buf;
}

RunFigures Figures(const JobResult& r, std::uint64_t seed, double target_rmse) {
  RunFigures f;
  f.seed = seed;
  f.final_rmse = r.final_eval.rmse;
  f.final_mae = r.final_eval.mae;
  f.energy_j = r.energy_j;
  f.co2_g = r.co2_g;
  f.seconds = r.seconds;
  f.epochs = r.epochs;
  f.best_validation_rmse = std::numeric_limits<double>::infinity();
  double seconds = 0;
  for (const EpochStats& s : r.history) {
    seconds += s.seconds;
    if (s.partial || s.eval.rows == 0) continue;
    f.best_validation_rmse = std::min(f.best_validation_rmse, s.eval.rmse);
    if (!f.reached && s.eval.rmse <= target_rmse) {
      f.reached = true;
      f.epochs_to_target = s.epoch;
      f.energy_to_target_j = s.total_energy_j;
      f.seconds_to_target = seconds;
    }
  }
  return f;
}

struct LossSummary {
  std::string loss;
  std::vector<RunFigures> runs;
  Spread epochs, energy_j, final_rmse, final_mae, total_energy_j;
  int reached = 0;
};

LossSummary SummariseLoss(const std::string& loss, std::vector<RunFigures> runs) {
  LossSummary s;
  s.loss = loss;
  std::vector<double> epochs, energy, rmse, mae, total;
  for (const RunFigures& r : runs) {
    if (r.reached) {
      ++s.reached;
      epochs.push_back(r.epochs_to_target);
      energy.push_back(r.energy_to_target_j);
    }
    rmse.push_back(r.final_rmse);
    mae.push_back(r.final_mae);
    total.push_back(r.energy_j);
  }
  s.runs = std::move(runs);
  s.epochs = Summarise(epochs);
  s.energy_j = Summarise(energy);
  s.final_rmse = Summarise(rmse);
  s.final_mae = Summarise(mae);
  s.total_energy_j = Summarise(total);
  return s;
}

nlohmann::json StudyJson(const StudyFlags& f, const JobConfig& base, double target_rmse,
                         double target_stddev, const std::vector<LossSummary>& losses,
                         const JobResult& any) {
  nlohmann::json out = {{"study", "losses"},
                        {"data", f.data},
                        {"target", f.target},
                        {"target_rmse", target_rmse},
                        {"target_stddev", target_stddev},
                        {"max_epochs", f.max_epochs},
                        {"seeds", f.seeds},
                        {"model", base.model},
                        {"optimizer", base.optimizer.kind},
                        {"lr", base.optimizer.lr},
                        {"lr_schedule", base.lr_schedule},
                        {"batch_size", base.batch_size},
                        {"validation_fraction", base.validation_fraction},
                        {"precision", base.precision},
                        {"huber_delta", base.huber_delta},
                        {"annealed_huber",
                         {{"delta_start", base.annealed_huber.delta_start},
                          {"delta_end", base.annealed_huber.delta_end},
                          {"curve", base.annealed_huber.curve},
                          {"per", base.annealed_huber.per}}},
                        {"energy_method", any.energy_method},
                        {"energy_estimated", any.energy_estimated},
                        {"intensity_g_per_kwh", any.intensity_g_per_kwh},
                        {"intensity_source", any.intensity_source}};
  nlohmann::json list = nlohmann::json::array();
  for (const LossSummary& s : losses) {
    nlohmann::json runs = nlohmann::json::array();
    for (const RunFigures& r : s.runs) {
      nlohmann::json j = {{"seed", r.seed},
                          {"reached", r.reached},
                          {"best_validation_rmse", r.best_validation_rmse},
                          {"final_rmse", r.final_rmse},
                          {"final_mae", r.final_mae},
                          {"epochs", r.epochs},
                          {"energy_j", r.energy_j},
                          {"co2_g", r.co2_g},
                          {"seconds", r.seconds}};
      j["epochs_to_target"] = r.reached ? nlohmann::json(r.epochs_to_target) : nlohmann::json();
      j["energy_to_target_j"] = r.reached ? nlohmann::json(r.energy_to_target_j) : nlohmann::json();
      j["seconds_to_target"] = r.reached ? nlohmann::json(r.seconds_to_target) : nlohmann::json();
      runs.push_back(j);
    }
    list.push_back({{"loss", s.loss},
                    {"reached", s.reached},
                    {"epochs_to_target", SpreadJson(s.epochs)},
                    {"energy_to_target_j", SpreadJson(s.energy_j)},
                    {"final_rmse", SpreadJson(s.final_rmse)},
                    {"final_mae", SpreadJson(s.final_mae)},
                    {"energy_j", SpreadJson(s.total_energy_j)},
                    {"runs", runs}});
  }
  out["losses"] = list;
  return out;
}

void PrintStudy(const StudyFlags& f, double target_rmse, double target_stddev,
                const std::vector<LossSummary>& losses, const JobResult& any) {
  std::printf(
      "\nloss study on %s, target %s: %d seeds, at most %d epochs; target validation "
      "RMSE %.6g (%.2f standard deviations of the target)\n",
      f.data.c_str(), f.target.c_str(), f.seeds, f.max_epochs, target_rmse,
      target_rmse / target_stddev);
  std::printf("\n%-15s %7s %17s %23s %21s %21s %17s\n", "loss", "reached", "epochs to target",
              "joules to target", "final rmse", "final mae", "joules (all)");
  for (const LossSummary& s : losses) {
    std::string reached = std::to_string(s.reached) + "/" + std::to_string(s.runs.size());
    std::printf("%-15s %7s %17s %23s %21s %21s %17s\n", s.loss.c_str(), reached.c_str(),
                SpreadText(s.epochs, "%.1f").c_str(), SpreadText(s.energy_j, "%.1f").c_str(),
                SpreadText(s.final_rmse, "%.0f").c_str(), SpreadText(s.final_mae, "%.0f").c_str(),
                SpreadText(s.total_energy_j, "%.1f").c_str());
  }
  std::printf(
      "\nmean +- sample standard deviation over seeds (to-target columns over the seeds "
      "that reached it); final figures on the holdout after %d epochs\n",
      f.max_epochs);
  std::printf("energy: %s%s; carbon at %.0f g/kWh, %s\n", any.energy_method.c_str(),
              any.energy_estimated ? " (an estimate, not a measurement)" : "",
              any.intensity_g_per_kwh, any.intensity_source.c_str());
}

void RunLossStudy(const StudyFlags& f, const JobFlags& flags) {
  if (f.seeds < 1) throw Error("--seeds " + std::to_string(f.seeds) + ": must be at least 1");
  if (f.max_epochs < 1) {
    throw Error("--max-epochs " + std::to_string(f.max_epochs) + ": must be at least 1");
  }
  if (f.target_rmse < 0 || !std::isfinite(f.target_rmse)) {
    throw Error("--target-rmse " + std::to_string(f.target_rmse) + ": must be > 0");
  }
  for (const std::string& loss : f.losses) {
    if (std::find(kStudyLosses.begin(), kStudyLosses.end(), loss) == kStudyLosses.end()) {
      throw Error("--losses: unknown loss '" + loss +
                  "': expected some of mse, mae, huber, log-cosh, annealed-huber");
    }
  }
  JobConfig base;
  base.data = f.data;
  base.target = f.target;
  base.task = "regression";
  base.model = "mlp";
  base.epochs = f.max_epochs;
  // Adam at a constant lr: a schedule would tie "epochs to target" to the
  // epoch limit, and Adam's per-parameter scaling keeps one lr fair to losses
  // whose gradients differ in size (MAE's are +-1, MSE's grow with the error).
  base.optimizer = OptimizerConfig{.kind = "adam", .lr = 1e-3};
  base.lr_schedule = "constant";
  base.batch_size = 128;
  base.validation_fraction = 0.2;
  flags.Apply(base);
  base.epochs = f.max_epochs;
  ValidateJobConfig(base);

  // The target in the data's units: given, or a fraction of the target
  // column's standard deviation on the first seed's training split.
  PreparedData probe = PrepareData(base.data, f.target, "regression", 1, base.validation_fraction);
  double stddev = probe.target_scaler.stddev;
  double target_rmse = f.target_rmse > 0 ? f.target_rmse : f.target_fraction * stddev;

  std::vector<LossSummary> losses;
  JobResult any;
  int run = 0, runs = static_cast<int>(f.losses.size()) * f.seeds;
  for (const std::string& loss : f.losses) {
    std::vector<RunFigures> figures;
    for (int seed = 1; seed <= f.seeds; ++seed) {
      JobConfig c = base;
      c.loss = loss;
      c.seed = static_cast<std::uint64_t>(seed);
      JobResult r = RunJob(c, nullptr);
      RunFigures fig = Figures(r, c.seed, target_rmse);
      figures.push_back(fig);
      any = r;
      char line[256];
      std::snprintf(line, sizeof line,
                    "study %d/%d: %s seed %d: target %s; final rmse %.6g mae %.6g after %d epochs, "
                    "%.1f s, ",
                    ++run, runs, loss.c_str(), seed,
                    fig.reached ? ("reached at epoch " + std::to_string(fig.epochs_to_target) +
                                   " (" + FormatJoules(fig.energy_to_target_j) + ")")
                                      .c_str()
                                : "not reached",
                    fig.final_rmse, fig.final_mae, fig.epochs, fig.seconds);
      std::fprintf(stderr, "%s%s\n", line, FormatJoules(fig.energy_j).c_str());
    }
    losses.push_back(SummariseLoss(loss, std::move(figures)));
  }
  if (f.json) {
    std::printf("%s\n", StudyJson(f, base, target_rmse, stddev, losses, any).dump(2).c_str());
  } else {
    PrintStudy(f, target_rmse, stddev, losses, any);
  }
}

}  // namespace

void RegisterStudyCommand(CLI::App& app) {
  CLI::App* study =
      app.add_subcommand("study", "Studies that compare training methods on accuracy and energy");
  study->require_subcommand(1);
  auto f = std::make_shared<StudyFlags>();
  CLI::App* cmd = study->add_subcommand(
      "losses",
      "Train the same MLP with mse, mae, huber, log-cosh and annealed-huber over several seeds: "
      "epochs and joules to a target validation RMSE, final RMSE and MAE");
  auto flags = std::make_shared<JobFlags>(*cmd);
  cmd->add_option("--data", f->data, "a regression table, FILE.csv with a header row")->required();
  cmd->add_option("--target", f->target, "the column to predict")->required();
  cmd->add_option("--seeds", f->seeds, "seeds per loss (1, 2, ...): split, weights, shuffling")
      ->capture_default_str();
  cmd->add_option("--target-rmse", f->target_rmse,
                  "the validation RMSE to reach, in the target's units (default: "
                  "--target-fraction x the target's standard deviation)");
  cmd->add_option("--target-fraction", f->target_fraction,
                  "the default target as a fraction of the target's standard deviation")
      ->capture_default_str();
  cmd->add_option("--max-epochs", f->max_epochs, "epochs per run (every run goes this far)")
      ->capture_default_str();
  cmd->add_option("--losses", f->losses, "a subset of the losses, e.g. --losses mse,mae")
      ->delimiter(',');
  using C = JobConfig;
  flags
      ->AddValue<double>("--lr", "learning rate (Adam, constant)", "optimizer.lr", 1e-3,
                         [](const double& v, C& to) { to.optimizer.lr = v; })
      ->capture_default_str();
  flags->Add<std::int64_t>(
      "--batch", [](C& c) -> std::int64_t& { return c.batch_size; }, "rows per optimizer step",
      "batch_size");
  flags->Add<double>(
      "--huber-delta", [](C& c) -> double& { return c.huber_delta; },
      "delta of the Huber loss (standard deviations of the target)", "huber_delta");
  flags->Add<double>(
      "--delta-start", [](C& c) -> double& { return c.annealed_huber.delta_start; },
      "annealed-huber: delta of the first epoch", "annealed_huber.delta_start");
  flags->Add<double>(
      "--delta-end", [](C& c) -> double& { return c.annealed_huber.delta_end; },
      "annealed-huber: delta of the last epoch", "annealed_huber.delta_end");
  flags
      ->AddValue<double>("--validation",
                         "fraction of the training rows held out as the validation split the "
                         "target is checked on",
                         "validation_fraction", 0.2,
                         [](const double& v, C& to) { to.validation_fraction = v; })
      ->capture_default_str();
  flags->Add<int>(
      "--threads", [](C& c) -> int& { return c.threads; }, "compute threads (0: all cores)",
      "threads");
  AddMeteringFlags(*flags);
  cmd->add_flag("--json", f->json, "print the figures as JSON on stdout");
  cmd->callback([f, flags] { RunLossStudy(*f, *flags); });
}

}  // namespace joule::cli
