// joule study losses: the run layer's RunLossStudy (the same MLP trained on a
// regression table with each regression loss over several seeds), with a line
// per run on stderr and the table or JSON on stdout.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "cli/job_flags.hpp"
#include "cli/ledger_flags.hpp"
#include "cli/progress.hpp"
#include "joule/run.hpp"

namespace joule::cli {
namespace {

struct StudyFlags {
  std::string data;
  std::string target;
  int seeds = 3;
  double target_rmse = 0;  // 0: half the target's standard deviation
  double target_fraction = 0.5;
  int max_epochs = 100;
  std::vector<std::string> losses = StudyLosses();
  bool json = false;
  LedgerFlags ledger;
};

using RunFigures = StudyRun;
using LossSummary = StudyLoss;

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
                        {"energy_method", any.energy.method},
                        {"energy_estimated", any.energy.estimated},
                        {"intensity_g_per_kwh", any.energy.intensity_g_per_kwh},
                        {"intensity_source", any.energy.intensity_source}};
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
                          {"energy_j", r.energy.energy_j},
                          {"co2_g", r.energy.co2_g()},
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
  std::printf("energy: %s%s; carbon at %.0f g/kWh, %s\n", any.energy.method.c_str(),
              any.energy.estimated ? " (an estimate, not a measurement)" : "",
              any.energy.intensity_g_per_kwh, any.energy.intensity_source.c_str());
}

void LossStudy(const StudyFlags& f, const JobFlags& flags) {
  if (f.seeds < 1) throw Error("--seeds " + std::to_string(f.seeds) + ": must be at least 1");
  if (f.max_epochs < 1) {
    throw Error("--max-epochs " + std::to_string(f.max_epochs) + ": must be at least 1");
  }
  if (f.target_rmse < 0 || !std::isfinite(f.target_rmse)) {
    throw Error("--target-rmse " + std::to_string(f.target_rmse) + ": must be > 0");
  }
  for (const std::string& loss : f.losses) {
    if (std::find(StudyLosses().begin(), StudyLosses().end(), loss) == StudyLosses().end()) {
      throw Error("--losses: unknown loss '" + loss +
                  "': expected some of mse, mae, huber, log-cosh, annealed-huber");
    }
  }
  JobConfig base = LossStudyBaseJob(f.data, f.target, f.max_epochs);
  flags.Apply(base);
  flags.Validate(base, nullptr);
  LossStudyOptions options;
  options.seeds = f.seeds;
  options.target_rmse = f.target_rmse;
  options.target_fraction = f.target_fraction;
  options.losses = f.losses;
  options.ledger = ResolveLedgerTarget(f.ledger);
  auto on_run = [](int index, int count, const std::string& loss, const StudyRun& fig) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "study %d/%d: %s seed %d: target %s; final rmse %.6g mae %.6g after %d epochs, "
                  "%.1f s, ",
                  index, count, loss.c_str(), static_cast<int>(fig.seed),
                  fig.reached ? ("reached at epoch " + std::to_string(fig.epochs_to_target) + " (" +
                                 FormatJoules(fig.energy_to_target_j) + ")")
                                    .c_str()
                              : "not reached",
                  fig.final_rmse, fig.final_mae, fig.epochs, fig.seconds);
    std::fprintf(stderr, "%s%s\n", line, FormatJoules(fig.energy.energy_j).c_str());
  };
  const LossStudyResult study = RunLossStudy(base, options, on_run);
  const double target_rmse = study.target_rmse, stddev = study.target_stddev;
  const std::vector<LossSummary>& losses = study.losses;
  const JobResult& any = study.last;
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
  // The job's own flags for what the study lets a user change; their defaults
  // are the study's base job's.
  auto flags = std::make_shared<JobFlags>(
      *cmd,
      [](const JobField& field) {
        static const std::vector<std::string> keys = {"optimizer.lr",
                                                      "batch_size",
                                                      "huber_delta",
                                                      "annealed_huber.delta_start",
                                                      "annealed_huber.delta_end",
                                                      "validation_fraction",
                                                      "threads"};
        return MeteringFlag(field) || std::find(keys.begin(), keys.end(), field.key) != keys.end();
      },
      LossStudyBaseJob("", "", 100));
  cmd->add_flag("--json", f->json, "print the figures as JSON on stdout");
  AddLedgerFlags(*cmd, f->ledger);
  cmd->callback([f, flags] { LossStudy(*f, *flags); });
  RegisterStudyShifting(*study);
}

}  // namespace joule::cli
