// The run functions of joule.h: a meter's run recorded in the ledger with its
// named tasks, and its CodeCarbon emissions.csv row. They live in the capi
// layer, above the ledger, because the meter layer (which holds the rest of
// the C API) cannot see the ledger; both halves share the meter's handle and
// its per-thread message through joule/c_api.hpp.
#include <cmath>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "joule/c_api.hpp"
#include "joule/energy_report.hpp"
#include "joule/joule.h"
#include "joule/ledger.hpp"
#include "joule/run_record.hpp"
#include "joule/util.hpp"

struct joule_run {
  joule::capi::MeterSetup setup;
  std::mutex mutex;         // a run, like its meter, may be used from several threads
  joule::RunRecord record;  // the header, then the finished record
  std::unique_ptr<joule::RunRecorder> recorder;
  bool finished = false;
  std::string id;  // joule_run_id's storage
};

namespace {

using joule::Error;
using joule::capi::Guard;

int Fail(const std::string& message) {
  joule::capi::SetLastError(message);
  return -1;
}

bool Given(const char* s) { return s != nullptr && *s != '\0'; }

// A JSON object given as text by the caller; NULL or "" is the empty object.
nlohmann::json ObjectFrom(const char* text, const char* what) {
  if (!Given(text)) return nlohmann::json::object();
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    throw Error(std::string(what) + ": expected a JSON object, e.g. {\"loss\": 0.3}");
  }
  return j;
}

// Messages are stored and printed as one line.
std::string OneLine(const char* text) {
  std::string line = text != nullptr ? text : "";
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return line;
}

}  // namespace

extern "C" {

void joule_run_options_init(joule_run_options* options) {
  if (options == nullptr) return;
  options->kind = nullptr;
  options->name = nullptr;
  options->ledger_path = nullptr;
  options->config_json = nullptr;
}

joule_run* joule_run_create(joule_meter* meter, const joule_run_options* options) {
  if (meter == nullptr) {
    Fail("joule_run_create: meter is NULL");
    return nullptr;
  }
  joule_run_options defaults;
  joule_run_options_init(&defaults);
  const joule_run_options& o = options != nullptr ? *options : defaults;
  auto run = std::make_shared<joule_run>();
  int rc = Guard([&] {
    std::shared_ptr<void>& slot = joule::capi::AttachmentOf(meter);
    if (slot) throw Error("joule_run_create: this meter already has a run (one run per meter)");
    joule::capi::MeterSetup setup = joule::capi::SetupOf(meter);
    if (setup.meter->running() || setup.meter->Last().samples > 0) {
      throw Error(
          "joule_run_create: the meter has been started; create the run before "
          "joule_meter_start, so that it records the run from its start");
    }
    run->setup = setup;
    joule::RunRecord& header = run->record;
    header.kind = Given(o.kind) ? o.kind : "python";
    header.name = Given(o.name) ? o.name : header.kind;
    header.config = ObjectFrom(o.config_json, "joule_run_options.config_json");
    header.config["interval_s"] = setup.interval_s;
    header.config["attribution"] =
        setup.attribution == joule::Attribution::kMachine ? "machine" : "process";
    header.host = joule::ReadHostRecord(setup.meter->sources());
    header.energy = joule::EnergyLabels(setup.meter->sources(), setup.attribution, setup.carbon);
    // As the joule command resolves --ledger / --no-ledger (src/cli/ledger_flags.cpp).
    joule::LedgerTarget target;
    if (o.ledger_path == nullptr) {
      target = {joule::Ledger::DefaultPath(), false};
    } else if (*o.ledger_path != '\0') {
      target = {o.ledger_path, true};
    }
    run->recorder = std::make_unique<joule::RunRecorder>(target, header);
    joule::RunRecorder* recorder = run->recorder.get();
    // The meter owns the run from here, and frees it after its own last
    // sample, so the callback never outlives the recorder.
    slot = run;
    setup.meter->set_on_sample([recorder](const joule::MeterReading& reading) {
      recorder->AppendSample(joule::SampleRowFromReading(reading));
    });
  });
  return rc == 0 ? run.get() : nullptr;
}

const char* joule_run_id(joule_run* run) {
  if (run == nullptr) return "";
  std::lock_guard<std::mutex> lock(run->mutex);
  run->id = run->recorder->id();
  return run->id.c_str();
}

int joule_run_add_epoch(joule_run* run, int epoch, double seconds, double energy_j, double co2_g,
                        const char* metrics_json) {
  if (run == nullptr) return Fail("joule_run_add_epoch: run is NULL");
  return Guard([&] {
    std::lock_guard<std::mutex> lock(run->mutex);
    if (run->finished) throw Error("joule_run_add_epoch: the run is finished");
    if (epoch < 1) {
      throw Error("joule_run_add_epoch: epoch " + std::to_string(epoch) + ": expected >= 1");
    }
    for (double v : {seconds, energy_j, co2_g}) {
      if (!std::isfinite(v) || v < 0) {
        throw Error("joule_run_add_epoch: seconds, energy_j and co2_g must be finite and >= 0");
      }
    }
    joule::EpochRow row;
    row.epoch = epoch;
    row.seconds = seconds;
    row.energy_j = energy_j;
    row.co2_g = co2_g;
    row.metrics = ObjectFrom(metrics_json, "joule_run_add_epoch: metrics_json");
    run->recorder->AppendEpoch(row);
    run->record.epochs.push_back(std::move(row));
  });
}

int joule_run_finish(joule_run* run, const char* status, const char* message,
                     const char* metrics_json) {
  if (run == nullptr) return Fail("joule_run_finish: run is NULL");
  return Guard([&] {
    std::lock_guard<std::mutex> lock(run->mutex);
    if (run->finished) throw Error("joule_run_finish: the run is already finished");
    joule::Meter& meter = *run->setup.meter;
    if (meter.running()) {
      throw Error("joule_run_finish: the meter is still running; call joule_meter_stop first");
    }
    joule::MeterReading total = meter.Last();
    if (total.samples == 0) throw Error("joule_run_finish: the meter was never started");
    std::string status_name = Given(status) ? status : "completed";
    joule::RunStatus run_status = joule::ParseRunStatus(status_name);
    if (run_status != joule::RunStatus::kCompleted && run_status != joule::RunStatus::kFailed &&
        run_status != joule::RunStatus::kStopped) {
      throw Error("joule_run_finish: status '" + status_name +
                  "': expected completed, failed or stopped");
    }
    nlohmann::json metrics = ObjectFrom(metrics_json, "joule_run_finish: metrics_json");
    // Tasks are named, may overlap and need not be epochs, so they go in the
    // metrics (epochs rows are 1-based and disjoint); each keeps the whole
    // energy report, method labels included.
    nlohmann::json tasks = nlohmann::json::array();
    for (const joule::TaskEnergy& task : meter.tasks()) {
      tasks.push_back({{"name", task.name},
                       {"energy", joule::EnergyReportToJson(
                                      joule::MakeEnergyReport(task.reading, run->setup.carbon))}});
    }
    metrics["tasks"] = std::move(tasks);
    joule::RunRecord& record = run->record;
    record.energy = joule::MakeEnergyReport(total, run->setup.carbon);
    record.start_unix_s = total.start_unix_s;
    record.end_unix_s = total.end_unix_s;
    record.status = run_status;
    record.message = OneLine(message);
    record.metrics = metrics;
    run->recorder->Finish(record.status, record.message, record.energy, record.metrics);
    record.id = run->recorder->id();
    run->finished = true;
  });
}

int joule_run_append_codecarbon_csv(joule_run* run, const char* path, double* emissions_kg) {
  if (run == nullptr) return Fail("joule_run_append_codecarbon_csv: run is NULL");
  if (!Given(path)) return Fail("joule_run_append_codecarbon_csv: path is empty");
  return Guard([&] {
    std::lock_guard<std::mutex> lock(run->mutex);
    if (!run->finished) {
      throw Error("joule_run_append_codecarbon_csv: finish the run first (joule_run_finish)");
    }
    joule::CodeCarbonRow row = joule::RunToCodeCarbonRow(run->record);
    auto python = run->record.config.find("python_version");
    if (python != run->record.config.end() && python->is_string()) {
      row.python_version = python->get<std::string>();
    }
    joule::AppendCodeCarbonCsv(path, row);
    if (emissions_kg != nullptr) *emissions_kg = row.emissions;
  });
}

}  // extern "C"
