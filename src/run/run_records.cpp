// What the ledger keeps of a run, built from the run layer's results. The
// recorder that streams these into a Ledger (ids, host facts, samples as
// they come) is the ledger layer's; these fill in what only the run knows.
#include "joule/run.hpp"

namespace joule {

nlohmann::json JobConfigJson(const JobConfig& config) {
  nlohmann::json j = nlohmann::json::object();
  for (const JobField& f : JobSchema()) {
    if (!f.recipe_key) continue;
    const FieldValue v = f.get(config);
    if (std::holds_alternative<bool>(v)) {
      j[f.key] = std::get<bool>(v);
    } else if (std::holds_alternative<std::int64_t>(v)) {
      j[f.key] = std::get<std::int64_t>(v);
    } else if (std::holds_alternative<double>(v)) {
      j[f.key] = std::get<double>(v);
    } else if (std::holds_alternative<std::string>(v)) {
      j[f.key] = std::get<std::string>(v);
    }
  }
  return j;
}

RunRecord TrainRunRecord(const std::string& name, const JobConfig& config,
                         const JobResult& result) {
  RunRecord r;
  r.kind = "train";
  r.name = name;
  r.config = JobConfigJson(config);
  r.energy = result.energy;
  r.start_unix_s = result.energy.start_unix_s;
  r.end_unix_s = result.energy.end_unix_s;
  r.status = RunStatus::kCompleted;
  r.message = result.stop_message;
  const bool classification = result.task == Task::kClassification;
  r.metrics = {
      {"eval_set", result.eval_name},    {"epochs", result.epochs},
      {"steps", result.steps},           {"seconds", result.seconds},
      {"parameters", result.parameters}, {"stop_reason", StopReasonName(result.stop_reason)}};
  if (classification) {
    r.metrics["accuracy"] = result.final_eval.accuracy;
  } else {
    r.metrics["rmse"] = result.final_eval.rmse;
    r.metrics["mae"] = result.final_eval.mae;
  }
  for (const EpochStats& s : result.history) {
    EpochRow row;
    row.epoch = s.epoch;
    row.seconds = s.seconds;
    row.energy_j = s.energy_j;
    row.co2_g = s.co2_g;
    row.metrics = {{"train_loss", s.train_loss},
                   {"loss", s.eval.loss},
                   {"lr", s.lr},
                   {"batch_size", s.batch_size}};
    if (classification) {
      row.metrics["accuracy"] = s.eval.accuracy;
    } else {
      row.metrics["rmse"] = s.eval.rmse;
      row.metrics["mae"] = s.eval.mae;
    }
    r.epochs.push_back(std::move(row));
  }
  return r;
}

}  // namespace joule
