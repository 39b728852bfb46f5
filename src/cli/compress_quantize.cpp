// joule compress quantize: int8 post-training quantization of a saved model,
// or quantization-aware training (--qat) followed by conversion to int8.
// Prints the f32 and int8 test accuracy and the drop; writes an ordinary
// model directory (SaveModel: weights, then model.json, each atomically)
// whose metadata records the method.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "joule/compress/quantize.hpp"

namespace joule::cli {
namespace {

struct QuantizeFlags {
  std::string model_dir, out_dir;
  std::string data = "mnist";
  QuantizeOptions options;
  bool qat = false;
  int epochs = 2;
  double lr = 0.005;
  std::uint64_t seed = 1;
  int threads = 0;
  bool json = false;
};

struct QatFigures {
  double energy_j = 0;
  std::string energy_method;
};

// Fine-tunes a PrepareQat model on the training split; metered, so that the
// extra cost of QAT over PTQ is on record.
QatFigures TrainQat(Sequential& qat, const PreparedData& data, const QuantizeFlags& f) {
  std::unique_ptr<Loss> loss = MakeSoftmaxCrossEntropy();
  OptimizerConfig oc;
  oc.kind = "sgd";
  oc.lr = f.lr;
  std::unique_ptr<Optimizer> optimizer = MakeOptimizer(oc);
  MeteringOptions metering;
  FitOptions fo;
  fo.epochs = f.epochs;
  fo.seed = f.seed;
  fo.metering = &metering;
  fo.on_epoch = [&f](const EpochStats& s) {
    if (f.json) return;
    std::fprintf(stderr, "qat epoch %d/%d: loss %.4f, %s accuracy %.2f%% (%.1f s)\n", s.epoch,
                 f.epochs, s.train_loss, s.eval_name.c_str(), 100 * s.eval.accuracy, s.seconds);
  };
  FitResult r = Fit(qat, *loss, *optimizer, data, fo);
  return {r.energy_j, r.energy_method};
}

void PrintFigures(const QuantizeFlags& f, const nlohmann::json& q, const PreparedData& data,
                  const QatFigures& qat, double drop_points) {
  if (f.json) {
    nlohmann::json j = q;
    j["out"] = f.out_dir;
    j["eval_name"] = data.eval_name;
    j["drop_points"] = drop_points;
    if (f.qat) {
      j["qat_energy_j"] = qat.energy_j;
      j["energy_method"] = qat.energy_method;
    }
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("f32  %s accuracy %.2f%%\n", data.eval_name.c_str(),
              100 * q["f32_accuracy"].get<double>());
  std::printf("int8 %s accuracy %.2f%% (%s, %s calibration on %lld rows)\n", data.eval_name.c_str(),
              100 * q["int8_accuracy"].get<double>(), f.qat ? "QAT" : "PTQ",
              f.options.calibration.c_str(),
              static_cast<long long>(std::min(f.options.samples, data.train.rows())));
  std::printf("drop %.2f points\n", drop_points);
  if (f.qat && !qat.energy_method.empty()) {
    std::printf("QAT training energy %.1f J (%s)\n", qat.energy_j, qat.energy_method.c_str());
  }
  std::printf("saved %s\n", f.out_dir.c_str());
}

void RunQuantize(const QuantizeFlags& f) {
  ValidateQuantizeOptions(f.options);
  if (f.qat && (f.epochs < 1 || !(f.lr > 0))) {
    throw Error("--qat needs --epochs >= 1 and --lr > 0, got " + std::to_string(f.epochs) +
                " and " + std::to_string(f.lr));
  }
  if (f.data.size() > 4 && f.data.substr(f.data.size() - 4) == ".csv") {
    throw Error("--data " + f.data +
                ": quantize supports image classification data (mnist or an IDX directory)");
  }
  SetNumThreads(f.threads);
  nlohmann::json meta;
  Sequential f32_model = LoadModel(f.model_dir, &meta);
  PreparedData data = PrepareData(f.data, "", "classification", f.seed);
  std::unique_ptr<Loss> ce = MakeSoftmaxCrossEntropy();
  const double f32_accuracy = Evaluate(f32_model, *ce, data.eval, data.target_scaler).accuracy;

  Sequential int8;
  QatFigures qat_figures;
  if (f.qat) {
    Sequential qat = PrepareQat(f32_model, data.train, f.options);
    qat_figures = TrainQat(qat, data, f);
    int8 = ConvertQat(qat);
  } else {
    int8 = QuantizeModel(f32_model, data.train, f.options);
  }
  const double int8_accuracy = Evaluate(int8, *ce, data.eval, data.target_scaler).accuracy;
  const double drop_points = 100 * (f32_accuracy - int8_accuracy);

  nlohmann::json q = {{"method", f.qat ? "int8-qat" : "int8-ptq"},
                      {"weights", "s8 symmetric per output channel"},
                      {"activations", "u8 asymmetric per tensor"},
                      {"calibration", f.options.calibration},
                      {"samples", f.options.samples},
                      {"source_model", f.model_dir},
                      {"f32_accuracy", f32_accuracy},
                      {"int8_accuracy", int8_accuracy}};
  if (f.options.calibration == "percentile") q["percentile"] = f.options.percentile;
  if (f.qat) {
    q["qat_epochs"] = f.epochs;
    q["qat_lr"] = f.lr;
  }
  if (!meta.is_object()) meta = nlohmann::json::object();
  meta["compression"] = f.qat ? "int8-qat" : "int8-ptq";
  meta["quantization"] = q;
  SaveModel(int8, f.out_dir, meta);

  PrintFigures(f, q, data, qat_figures, drop_points);
}

}  // namespace

void RegisterCompressQuantize(CLI::App& compress) {
  auto f = std::make_shared<QuantizeFlags>();
  CLI::App* cmd = compress.add_subcommand(
      "quantize",
      "int8 quantization of a Linear/ReLU model (the mlp): s8 per-channel weights, u8 "
      "activations calibrated on training rows; --qat fine-tunes with fake quantization first");
  cmd->add_option("--model", f->model_dir, "f32 model directory (joule train --save)")->required();
  cmd->add_option("--out", f->out_dir, "directory for the int8 model")->required();
  cmd->add_option("--data", f->data, "mnist or an IDX directory")->capture_default_str();
  cmd->add_option("--calibration", f->options.calibration, "activation range method")
      ->check(CLI::IsMember({"minmax", "percentile", "mse"}))
      ->capture_default_str();
  cmd->add_option("--percentile", f->options.percentile, "percentile calibration: the percentile")
      ->capture_default_str();
  cmd->add_option("--samples", f->options.samples, "calibration rows (from the training split)")
      ->capture_default_str();
  cmd->add_flag("--qat", f->qat, "quantization-aware training before converting to int8");
  cmd->add_option("--epochs", f->epochs, "--qat: fine-tuning epochs")->capture_default_str();
  cmd->add_option("--lr", f->lr, "--qat: SGD learning rate (momentum 0.9)")->capture_default_str();
  cmd->add_option("--seed", f->seed, "--qat: shuffling seed")->capture_default_str();
  cmd->add_option("--threads", f->threads, "compute threads (0: all cores)");
  cmd->add_flag("--json", f->json, "print the figures as one JSON object on stdout");
  cmd->callback([f] { RunQuantize(*f); });
}

}  // namespace joule::cli
