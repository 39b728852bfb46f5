// joule compress early-exit: trains a model with exits after intermediate
// layers, sweeps the entropy threshold on a validation split (never the test
// set), prints the table and the choice, and saves the model directory. The
// job is the run layer's RunEarlyExitJob.
#include <cstdio>
#include <memory>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/ledger_flags.hpp"
#include "joule/run.hpp"

namespace joule::cli {
namespace {

struct EarlyExitFlags {
  EarlyExitJob job;
  std::string exit_weights;  // empty: 0.3 per early exit, 1 for the last
  int threads = 0;
  bool json = false, no_meter = false;
  LedgerFlags ledger;
};

std::vector<double> ParseWeights(const std::string& text) {
  std::vector<double> weights;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::size_t used = 0;
    double w = 0;
    try {
      w = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size()) {
      throw Error("--exit-weights " + text + ": '" + item +
                  "' is not a number; expected one weight per exit, e.g. 0.3,0.3,1");
    }
    weights.push_back(w);
  }
  return weights;
}

nlohmann::json PointJson(const ThresholdPoint& p) {
  return {{"threshold", p.threshold},
          {"accuracy", p.accuracy},
          {"macs_per_sample", p.macs_per_sample},
          {"cost_vs_full", p.cost_vs_full},
          {"exit_fraction", p.exit_fraction}};
}

void PrintTable(const ThresholdSweep& val, const ThresholdSweep& test) {
  std::printf("%9s  %8s  %12s  %7s  %9s  %12s  %s\n", "threshold", "val acc", "val MACs",
              "vs no-exit", "test acc", "test MACs", "val exits");
  for (std::size_t i = 0; i < val.points.size(); ++i) {
    const ThresholdPoint& v = val.points[i];
    const ThresholdPoint& t = test.points[i];
    std::string exits;
    for (double x : v.exit_fraction) {
      char buf[16];
      std::snprintf(buf, sizeof(buf), "%s%.0f%%", exits.empty() ? "" : "/", 100 * x);
      exits += buf;
    }
    std::printf("%9.3f  %7.2f%%  %12.0f  %6.1f%%  %8.2f%%  %12.0f  %s%s\n", v.threshold,
                100 * v.accuracy, v.macs_per_sample, 100 * v.cost_vs_full, 100 * t.accuracy,
                t.macs_per_sample, exits.c_str(), i == val.chosen ? "  <- chosen" : "");
  }
}

void RunEarlyExit(EarlyExitFlags& f) {
  SetNumThreads(f.threads);
  EarlyExitJob& job = f.job;
  job.exit_weights = ParseWeights(f.exit_weights);
  job.metering.enabled = !f.no_meter;
  if (!f.json) {
    job.on_epoch = [&job](const CompressEpochStats& s) {
      std::fprintf(
          stderr, "early-exit epoch %d/%d: loss %.4f, last exit %s accuracy %.2f%% (%.1f s)\n",
          s.epoch, job.epochs, s.train_loss, s.eval_name.c_str(), 100 * s.eval.accuracy, s.seconds);
    };
  }
  job.ledger = ResolveLedgerTarget(f.ledger);
  const EarlyExitJobResult r = RunEarlyExitJob(job);
  const ThresholdSweep& val = r.validation;
  const ThresholdSweep& test = r.test;
  const CompressTrainResult& trained = r.trained;
  const double plain = r.plain_macs, worst = r.worst_macs;
  const double routed_accuracy = r.routed_accuracy, routed_macs = r.routed_macs;
  if (f.json) {
    nlohmann::json j = {{"out", job.out_dir},
                        {"threshold", r.threshold},
                        {"parameters", r.parameters},
                        {"plain_macs_per_sample", plain},
                        {"worst_route_macs_per_sample", worst},
                        {"validation_final_exit_accuracy", val.final_exit_accuracy},
                        {"test_final_exit_accuracy", test.final_exit_accuracy},
                        {"test_accuracy", routed_accuracy},
                        {"test_macs_per_sample", routed_macs},
                        {"speedup_vs_plain", plain / routed_macs},
                        {"train_seconds", trained.seconds},
                        {"train_energy_j", trained.energy.energy_j},
                        {"energy_method", trained.energy.method},
                        {"validation", nlohmann::json::array()},
                        {"test", nlohmann::json::array()}};
    for (const auto& p : val.points) j["validation"].push_back(PointJson(p));
    for (const auto& p : test.points) j["test"].push_back(PointJson(p));
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  PrintTable(val, test);
  std::printf(
      "final exit alone: validation %.2f%%, test %.2f%%; full route %.0f MACs, network "
      "without exits %.0f MACs\n",
      100 * val.final_exit_accuracy, 100 * test.final_exit_accuracy, worst, plain);
  std::printf(
      "chosen threshold %.3f (cheapest within %.2f points on validation): test accuracy "
      "%.2f%% (%+.2f points), %.0f MACs per sample, %.2fx fewer than without exits\n",
      r.threshold, job.max_drop, 100 * routed_accuracy,
      100 * (routed_accuracy - test.final_exit_accuracy), routed_macs, plain / routed_macs);
  std::printf("training %.1f s", trained.seconds);
  if (trained.energy.metered()) {
    std::printf(", %.1f J (%s)", trained.energy.energy_j, trained.energy.method.c_str());
  }
  std::printf("; saved %s\n", job.out_dir.c_str());
}

}  // namespace

void RegisterCompressEarlyExit(CLI::App& compress) {
  auto f = std::make_shared<EarlyExitFlags>();
  CLI::App* cmd = compress.add_subcommand(
      "early-exit",
      "Train a model with early exits and choose its entropy threshold on a validation split");
  cmd->add_option("--out", f->job.out_dir, "where to save the early-exit model")->required();
  cmd->add_option("--data", f->job.data, "mnist or an IDX directory")->capture_default_str();
  cmd->add_option("--model", f->job.model, "cnn or mlp")->capture_default_str();
  cmd->add_option("--epochs", f->job.epochs, "training epochs")->capture_default_str();
  cmd->add_option("--lr", f->job.lr, "SGD learning rate (cosine schedule)")->capture_default_str();
  cmd->add_option("--exit-weights", f->exit_weights,
                  "loss weight per exit, comma-separated (default 0.3 per early exit, 1 last)");
  cmd->add_option("--max-drop", f->job.max_drop,
                  "accuracy points the chosen threshold may lose against the last exit, on the\n"
                  "validation split (0.3 leaves a margin for the test set)")
      ->capture_default_str();
  cmd->add_option("--threshold", f->job.threshold, "entropy threshold in nats; skips the sweep")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--validation", f->job.validation,
                  "fraction of the training rows held out for the sweep, in (0, 1)")
      ->capture_default_str();
  cmd->add_option("--seed", f->job.seed, "seed of the weights, split and batch order")
      ->capture_default_str();
  cmd->add_option("--threads", f->threads, "compute threads (0: all cores)");
  cmd->add_flag("--no-meter", f->no_meter, "do not measure energy");
  cmd->add_flag("--json", f->json, "print the figures as one JSON object on stdout");
  AddLedgerFlags(*cmd, f->ledger);
  cmd->callback([f] {
    if (!(f->job.validation > 0 && f->job.validation < 1)) {
      throw Error("--validation " + std::to_string(f->job.validation) +
                  ": expected a fraction in (0, 1); the threshold is chosen on it, not on the "
                  "test set");
    }
    RunEarlyExit(*f);
  });
}

}  // namespace joule::cli
