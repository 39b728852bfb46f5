// joule eval: the accuracy (or RMSE) of a saved model on a dataset.
#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "joule/train.hpp"

namespace joule::cli {
namespace {

struct EvalFlags {
  std::string model_dir;
  std::string data = "mnist";
  std::string target;
  int threads = 0;
  bool json = false;
};

void RunEval(const EvalFlags& f) {
  SetNumThreads(f.threads);
  nlohmann::json meta;
  Sequential model = LoadModel(f.model_dir, &meta);
  std::string task = meta.value("task", "classification");
  std::string target = f.target.empty() ? meta.value("target", "") : f.target;
  // CSV models carry their feature and target standardisation; the whole
  // file is evaluated through the same transforms the model was trained with.
  Dataset data;
  TargetScaler scaler;
  if (f.data.size() > 4 && f.data.substr(f.data.size() - 4) == ".csv") {
    data =
        LoadCsv(f.data, target, task == "regression" ? Task::kRegression : Task::kClassification);
    if (meta.contains("target_mean")) {
      scaler.mean = meta["target_mean"].get<float>();
      scaler.stddev = meta["target_stddev"].get<float>();
      scaler.Apply(data);
    }
  } else {
    data = f.data == "mnist" ? LoadMnist(false) : LoadIdxDir(f.data, false);
  }
  if (meta.contains("feature_mean")) {
    Normalizer n{meta["feature_mean"].get<std::vector<float>>(),
                 meta["feature_stddev"].get<std::vector<float>>()};
    if (static_cast<std::int64_t>(n.mean.size()) != data.features()) {
      throw Error(f.data + ": has " + std::to_string(data.features()) +
                  " feature columns but the model was trained on " + std::to_string(n.mean.size()));
    }
    n.Apply(data);
  }
  std::unique_ptr<Loss> loss = MakeLoss(meta.value("loss", "cross-entropy"));
  EvalResult r = Evaluate(model, *loss, data, scaler);
  nlohmann::json j = {{"model", f.model_dir}, {"data", f.data}, {"rows", r.rows}, {"loss", r.loss}};
  if (data.task == Task::kClassification) {
    j["accuracy"] = r.accuracy;
  } else {
    j["rmse"] = r.rmse;
    j["mae"] = r.mae;
  }
  if (f.json) {
    std::printf("%s\n", j.dump().c_str());
  } else if (data.task == Task::kClassification) {
    std::printf("%s on %s: accuracy %.2f%% over %lld rows\n", f.model_dir.c_str(), f.data.c_str(),
                100 * r.accuracy, static_cast<long long>(r.rows));
  } else {
    std::printf("%s on %s: rmse %.4f, mae %.4f over %lld rows\n", f.model_dir.c_str(),
                f.data.c_str(), r.rmse, r.mae, static_cast<long long>(r.rows));
  }
}

}  // namespace

void RegisterEvalCommand(CLI::App& app) {
  auto f = std::make_shared<EvalFlags>();
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a saved model on a dataset's test split");
  cmd->add_option("--model", f->model_dir, "model directory written by 'joule train --save'")
      ->required();
  cmd->add_option("--data", f->data, "mnist, an IDX directory (its t10k files), or a FILE.csv")
      ->capture_default_str();
  cmd->add_option("--target", f->target, "CSV target column (default: the one trained on)");
  cmd->add_option("--threads", f->threads, "compute threads (0: all cores)");
  cmd->add_flag("--json", f->json, "print the figures as one JSON object on stdout");
  cmd->callback([f] { RunEval(*f); });
}

}  // namespace joule::cli
