#include "cli/train_recording.hpp"

#include <chrono>

namespace joule::cli {

RunRecord TrainRunHeader(const JobConfig& config, const std::string& name) {
  RunRecord header;
  header.kind = "train";
  header.name = name;
  header.config = {{"data", config.data},     {"model", config.model},
                   {"task", config.task},     {"precision", config.precision},
                   {"epochs", config.epochs}, {"batch_size", config.batch_size},
                   {"loss", config.loss}};
  header.host = ReadHostRecord({});
  return header;
}

EpochRow EpochRowFromStats(const EpochStats& s) {
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

EnergyReport EnergyReportFromJob(const JobResult& r) {
  EnergyReport e;
  e.end_unix_s =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  e.duration_s = r.seconds;
  e.start_unix_s = e.end_unix_s - r.seconds;
  e.energy_j = e.machine_energy_j = r.energy_j;
  e.method = r.energy_method;
  e.estimated = r.energy_estimated;
  e.operational_g = r.co2_g;
  e.intensity_g_per_kwh = r.intensity_g_per_kwh;
  e.intensity_source = r.intensity_source;
  e.pue = r.pue;
  return e;
}

nlohmann::json TrainMetrics(const JobResult& r) {
  nlohmann::json m = {{"loss", r.final_eval.loss}, {"epochs", r.epochs}, {"steps", r.steps}};
  if (r.task == Task::kClassification) {
    m["accuracy"] = r.final_eval.accuracy;
  } else {
    m["rmse"] = r.final_eval.rmse;
    m["mae"] = r.final_eval.mae;
  }
  return m;
}

}  // namespace joule::cli
