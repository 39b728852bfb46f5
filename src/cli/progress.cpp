#include "cli/progress.hpp"

#include <cstdio>

namespace joule::cli {

void EpochPrinter::Print(const EpochStats& s) const {
  const EvalResult& e = s.eval;
  if (e.rmse > 0 || e.mae > 0) {
    std::fprintf(stderr, "epoch %3d/%d  loss %.4f  eval rmse %.4f mae %.4f  %.2f s\n", s.epoch,
                 config_.epochs, s.train_loss, e.rmse, e.mae, s.seconds);
  } else {
    std::fprintf(stderr, "epoch %3d/%d  loss %.4f  train acc %.2f%%  eval acc %.2f%%  %.2f s\n",
                 s.epoch, config_.epochs, s.train_loss, 100 * s.train_accuracy, 100 * e.accuracy,
                 s.seconds);
  }
  std::fflush(stderr);
}

nlohmann::json JobResultJson(const JobConfig& config, const JobResult& r) {
  nlohmann::json j = {{"model", config.model},       {"data", config.data},
                      {"precision", config.precision}, {"epochs", r.epochs},
                      {"seconds", r.seconds},        {"parameters", r.parameters},
                      {"eval_set", r.eval_name},     {"loss", r.final_eval.loss}};
  if (r.task == Task::kClassification) {
    j["test_accuracy"] = r.final_eval.accuracy;
  } else {
    j["rmse"] = r.final_eval.rmse;
    j["mae"] = r.final_eval.mae;
  }
  return j;
}

void PrintFinal(const JobConfig& config, const JobResult& r) {
  if (r.task == Task::kClassification) {
    std::printf("%s %s on %s: %s accuracy %.2f%% after %d epochs, %.1f s training\n",
                config.model.c_str(), config.precision.c_str(), config.data.c_str(),
                r.eval_name.c_str(), 100 * r.final_eval.accuracy, r.epochs, r.seconds);
  } else {
    std::printf("%s %s on %s: %s rmse %.4f, mae %.4f after %d epochs, %.1f s training\n",
                config.model.c_str(), config.precision.c_str(), config.data.c_str(),
                r.eval_name.c_str(), r.final_eval.rmse, r.final_eval.mae, r.epochs, r.seconds);
  }
  if (!config.save_dir.empty()) std::printf("saved to %s\n", config.save_dir.c_str());
}

}  // namespace joule::cli
