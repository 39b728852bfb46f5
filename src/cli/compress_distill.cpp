// joule compress distill: trains a small MLP student from a saved teacher
// (soft targets at temperature T blended with the labels) and saves it as an
// ordinary model directory; --baseline also trains the same student alone
// with the same budget so that the two can be compared. The job is the run
// layer's RunDistillJob.
#include <cstdio>
#include <memory>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/ledger_flags.hpp"
#include "joule/run.hpp"

namespace joule::cli {
namespace {

struct DistillFlags {
  DistillJob job;
  std::string hidden = "64,32";
  int threads = 0;
  bool json = false, no_meter = false;
  LedgerFlags ledger;
};

std::vector<std::int64_t> ParseWidths(const std::string& text) {
  std::vector<std::int64_t> widths;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::size_t used = 0;
    long long w = 0;
    try {
      w = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || w < 1) {
      throw Error("--hidden " + text + ": '" + item +
                  "' is not a positive layer width; expected e.g. --hidden 64,32");
    }
    widths.push_back(w);
  }
  if (widths.empty()) throw Error("--hidden is empty; expected e.g. --hidden 64,32");
  return widths;
}

nlohmann::json RunJson(const CompressTrainResult& r) {
  const CompressEpochStats& last = r.history.back();
  return {{"accuracy", last.eval.accuracy}, {"eval_name", last.eval_name},
          {"epochs", r.history.size()},     {"seconds", r.seconds},
          {"energy_j", r.energy.energy_j},  {"energy_method", r.energy.method}};
}

void PrintRun(const char* what, std::int64_t params, const CompressTrainResult& r) {
  const CompressEpochStats& last = r.history.back();
  std::printf("%-22s %8lld params  %s accuracy %.2f%%  %.1f s", what,
              static_cast<long long>(params), last.eval_name.c_str(), 100 * last.eval.accuracy,
              r.seconds);
  if (r.energy.metered()) {
    std::printf("  %.1f J (%s)", r.energy.energy_j, r.energy.method.c_str());
  }
  std::printf("\n");
}

void Distill(DistillFlags& f) {
  DistillJob& job = f.job;
  job.hidden = ParseWidths(f.hidden);
  job.metering.enabled = !f.no_meter;
  if (!f.json) {
    job.on_epoch = [&job](const std::string& what, const CompressEpochStats& s) {
      std::fprintf(stderr, "%s epoch %d/%d: loss %.4f, %s accuracy %.2f%% (%.1f s)\n", what.c_str(),
                   s.epoch, job.epochs, s.train_loss, s.eval_name.c_str(), 100 * s.eval.accuracy,
                   s.seconds);
    };
  }
  SetNumThreads(f.threads);
  job.ledger = ResolveLedgerTarget(f.ledger);
  const DistillJobResult r = RunDistillJob(job);
  if (f.json) {
    nlohmann::json j = {{"out", job.out_dir},
                        {"teacher",
                         {{"dir", job.teacher_dir},
                          {"parameters", r.teacher_parameters},
                          {"accuracy", r.teacher_eval.accuracy}}},
                        {"student_parameters", r.student_parameters},
                        {"temperature", job.distill.temperature},
                        {"alpha", job.distill.alpha},
                        {"distilled", RunJson(r.distilled)}};
    if (r.baseline) j["baseline"] = RunJson(*r.baseline);
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("%-22s %8lld params  %s accuracy %.2f%%\n", "teacher",
              static_cast<long long>(r.teacher_parameters), r.eval_name.c_str(),
              100 * r.teacher_eval.accuracy);
  PrintRun("student, distilled", r.student_parameters, r.distilled);
  if (r.baseline) PrintRun("student, trained alone", r.student_parameters, *r.baseline);
  std::printf(
      "student/teacher parameters %.1f%%; saved %s\n",
      100.0 * static_cast<double>(r.student_parameters) / static_cast<double>(r.teacher_parameters),
      job.out_dir.c_str());
}

}  // namespace

void RegisterCompressDistill(CLI::App& compress) {
  auto f = std::make_shared<DistillFlags>();
  CLI::App* cmd = compress.add_subcommand(
      "distill", "Train a small MLP student from a teacher model (knowledge distillation)");
  cmd->add_option("--teacher", f->job.teacher_dir, "teacher model directory (joule train --save)")
      ->required();
  cmd->add_option("--out", f->job.out_dir, "where to save the student")->required();
  cmd->add_option("--data", f->job.data, "mnist or an IDX directory")->capture_default_str();
  cmd->add_option("--hidden", f->hidden, "student hidden widths, comma-separated")
      ->capture_default_str();
  cmd->add_option("--temperature", f->job.distill.temperature,
                  "softmax temperature T of the soft targets")
      ->capture_default_str();
  cmd->add_option("--alpha", f->job.distill.alpha, "weight of the soft (teacher) term in [0, 1]")
      ->capture_default_str();
  cmd->add_option("--epochs", f->job.epochs, "training epochs")->capture_default_str();
  cmd->add_option("--lr", f->job.lr, "SGD learning rate (cosine schedule)")->capture_default_str();
  cmd->add_option("--seed", f->job.seed, "seed of the student's weights and batch order")
      ->capture_default_str();
  cmd->add_option("--threads", f->threads, "compute threads (0: all cores)");
  cmd->add_flag("--baseline", f->job.baseline,
                "also train the same student alone (labels only, same epochs) and print both");
  cmd->add_flag("--no-meter", f->no_meter, "do not measure energy");
  cmd->add_flag("--json", f->json, "print the figures as one JSON object on stdout");
  AddLedgerFlags(*cmd, f->ledger);
  cmd->callback([f] { Distill(*f); });
}

}  // namespace joule::cli
