// joule eval: the accuracy (or RMSE) of a saved model on a dataset.
#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "joule/run.hpp"

namespace joule::cli {
namespace {

struct EvalFlags {
  std::string model_dir;
  std::string data = "mnist";
  std::string target;
  int threads = 0;
  bool json = false;
  std::string outputs;
  std::int64_t rows = 0;
};

void RunEval(const EvalFlags& f) {
  SetNumThreads(f.threads);
  if (!f.outputs.empty()) {
    const Tensor y = SavedModelOutputs(f.model_dir, f.data, f.target, f.rows);
    WriteNpy(f.outputs, y);
    std::printf("%s: outputs %s of %s on %s written to %s\n", f.model_dir.c_str(),
                ShapeString(y.shape()).c_str(), f.model_dir.c_str(), f.data.c_str(),
                f.outputs.c_str());
    return;
  }
  const SavedModelEval saved = EvaluateSavedModel(f.model_dir, f.data, f.target);
  const EvalResult& r = saved.eval;
  nlohmann::json j = {{"model", f.model_dir}, {"data", f.data}, {"rows", r.rows}, {"loss", r.loss}};
  if (saved.task == Task::kClassification) {
    j["accuracy"] = r.accuracy;
  } else {
    j["rmse"] = r.rmse;
    j["mae"] = r.mae;
  }
  if (f.json) {
    std::printf("%s\n", j.dump().c_str());
  } else if (saved.task == Task::kClassification) {
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
  cmd->add_option("--outputs", f->outputs,
                  "instead of scoring: write the model's raw outputs (last layer, f32 [rows, "
                  "outputs]) for the data's rows in order, as a NumPy .npy FILE");
  cmd->add_option("--rows", f->rows, "with --outputs: the first N rows only (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([f] { RunEval(*f); });
}

}  // namespace joule::cli
