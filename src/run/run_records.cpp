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

RunRecord RunHeader(const std::string& kind, const std::string& name, nlohmann::json config,
                    const std::string& parent_id) {
  RunRecord header;
  header.kind = kind;
  header.name = name;
  header.parent_id = parent_id;
  header.config = std::move(config);
  header.host = ReadHostRecord({});
  return header;
}

EpochRow EpochRowOf(const EpochStats& s) {
  EpochRow row;
  row.epoch = s.epoch;
  row.seconds = s.seconds;
  row.energy_j = s.energy_j;
  row.co2_g = s.co2_g;
  row.metrics = {{"loss", s.train_loss}, {"eval_loss", s.eval.loss}, {"lr", s.lr}};
  if (s.eval.rows > 0) row.metrics["accuracy"] = s.eval.accuracy;
  if (s.partial) row.metrics["partial"] = true;
  return row;
}

nlohmann::json PredictionJson(const JobResult& r) {
  if (!r.prediction) return nullptr;
  const CostPrediction& p = *r.prediction;
  nlohmann::json j = CostPredictionToJson(p);
  j["realised_energy_j"] = r.energy.energy_j;
  j["ran_to_limit"] = r.stop_reason == StopReason::kEpochLimit;
  if (r.stop_reason == StopReason::kEpochLimit && r.energy.energy_j > 0) {
    j["error_percent"] = 100.0 * (p.energy_j - r.energy.energy_j) / r.energy.energy_j;
  }
  return j;
}

nlohmann::json JobMetrics(const JobResult& r) {
  nlohmann::json m = {{"loss", r.final_eval.loss}, {"epochs", r.epochs}, {"steps", r.steps}};
  if (r.parameters > 0) m["parameters"] = r.parameters;
  // What `joule estimate --like RUN --samples N` scales by.
  if (r.samples_seen > 0) m["samples_seen"] = r.samples_seen;
  if (r.flops_per_inference > 0) {
    m["flops_per_inference"] = r.flops_per_inference;
    // Forward and backward (about twice the forward) of every sample seen.
    m["train_flops"] =
        3.0 * static_cast<double>(r.flops_per_inference) * static_cast<double>(r.samples_seen);
  }
  if (r.prediction) m["prediction"] = PredictionJson(r);
  // A resumed run's figures include the epochs before its checkpoint.
  if (r.resumed_from_epoch > 0) m["resumed_from_epoch"] = r.resumed_from_epoch;
  if (r.task == Task::kClassification) {
    m["accuracy"] = r.final_eval.accuracy;
  } else {
    m["rmse"] = r.final_eval.rmse;
    m["mae"] = r.final_eval.mae;
  }
  return m;
}

RunRecord TrainRunRecord(const std::string& name, const JobConfig& config,
                         const JobResult& result) {
  RunRecord r = RunHeader("train", name, JobConfigJson(config));
  r.energy = result.energy;
  r.start_unix_s = result.energy.start_unix_s;
  r.end_unix_s = result.energy.end_unix_s;
  r.status = RunStatus::kCompleted;
  r.message = result.stop_message;
  r.metrics = JobMetrics(result);
  for (const EpochStats& s : result.history) r.epochs.push_back(EpochRowOf(s));
  return r;
}

}  // namespace joule
