// joule compress quantize: int8 post-training quantization of a saved model,
// or quantization-aware training (--qat) followed by conversion to int8.
// Prints the f32 and int8 test accuracy and the drop; writes an ordinary
// model directory (SaveModel: weights, then model.json, each atomically)
// whose metadata records the method. The job is the run layer's
// RunQuantizeJob.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "cli/ledger_flags.hpp"
#include "joule/run.hpp"

namespace joule::cli {
namespace {

struct QuantizeFlags {
  QuantizeJob job;
  int threads = 0;
  bool json = false;
  LedgerFlags ledger;
};

void PrintFigures(const QuantizeFlags& f, const QuantizeJobResult& r) {
  const QuantizeJob& job = f.job;
  if (f.json) {
    nlohmann::json j = r.quantization;
    j["out"] = job.out_dir;
    j["eval_name"] = r.eval_name;
    j["drop_points"] = r.drop_points;
    if (job.qat) {
      j["qat_energy_j"] = r.qat_energy.energy_j;
      j["energy_method"] = r.qat_energy.method;
    }
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("f32  %s accuracy %.2f%%\n", r.eval_name.c_str(), 100 * r.f32_accuracy);
  std::printf("int8 %s accuracy %.2f%% (%s, %s calibration on %lld rows)\n", r.eval_name.c_str(),
              100 * r.int8_accuracy, job.qat ? "QAT" : "PTQ", job.options.calibration.c_str(),
              static_cast<long long>(r.calibration_rows));
  std::printf("drop %.2f points\n", r.drop_points);
  if (job.qat && r.qat_energy.metered()) {
    std::printf("QAT training energy %.1f J (%s)\n", r.qat_energy.energy_j,
                r.qat_energy.method.c_str());
  }
  std::printf("saved %s\n", job.out_dir.c_str());
}

void Quantize(QuantizeFlags& f) {
  SetNumThreads(f.threads);
  if (!f.json) {
    f.job.on_epoch = [&f](const EpochStats& s) {
      std::fprintf(stderr, "qat epoch %d/%d: loss %.4f, %s accuracy %.2f%% (%.1f s)\n", s.epoch,
                   f.job.epochs, s.train_loss, s.eval_name.c_str(), 100 * s.eval.accuracy,
                   s.seconds);
    };
  }
  // The job checks these too, naming its options; here they get the flags.
  if (f.job.qat && (f.job.epochs < 1 || !(f.job.lr > 0))) {
    throw Error("--qat needs --epochs >= 1 and --lr > 0, got " + std::to_string(f.job.epochs) +
                " and " + std::to_string(f.job.lr));
  }
  if (f.job.data.size() > 4 && f.job.data.substr(f.job.data.size() - 4) == ".csv") {
    throw Error("--data " + f.job.data +
                ": quantize supports image classification data (mnist or an IDX directory)");
  }
  f.job.ledger = ResolveLedgerTarget(f.ledger);
  PrintFigures(f, RunQuantizeJob(f.job));
}

}  // namespace

void RegisterCompressQuantize(CLI::App& compress) {
  auto f = std::make_shared<QuantizeFlags>();
  CLI::App* cmd = compress.add_subcommand(
      "quantize",
      "int8 quantization of a Linear/ReLU model (the mlp): s8 per-channel weights, u8 "
      "activations calibrated on training rows; --qat fine-tunes with fake quantization first");
  cmd->add_option("--model", f->job.model_dir, "f32 model directory (joule train --save)")
      ->required();
  cmd->add_option("--out", f->job.out_dir, "directory for the int8 model")->required();
  cmd->add_option("--data", f->job.data, "mnist or an IDX directory")->capture_default_str();
  cmd->add_option("--calibration", f->job.options.calibration, "activation range method")
      ->check(CLI::IsMember({"minmax", "percentile", "mse"}))
      ->capture_default_str();
  cmd->add_option("--percentile", f->job.options.percentile,
                  "percentile calibration: the percentile")
      ->capture_default_str();
  cmd->add_option("--samples", f->job.options.samples, "calibration rows (from the training split)")
      ->capture_default_str();
  cmd->add_flag("--qat", f->job.qat, "quantization-aware training before converting to int8");
  cmd->add_option("--epochs", f->job.epochs, "--qat: fine-tuning epochs")->capture_default_str();
  cmd->add_option("--lr", f->job.lr, "--qat: SGD learning rate (momentum 0.9)")
      ->capture_default_str();
  cmd->add_option("--seed", f->job.seed, "--qat: shuffling seed")->capture_default_str();
  cmd->add_option("--threads", f->threads, "compute threads (0: all cores)");
  cmd->add_flag("--json", f->json, "print the figures as one JSON object on stdout");
  AddLedgerFlags(*cmd, f->ledger);
  cmd->callback([f] { Quantize(*f); });
}

}  // namespace joule::cli
