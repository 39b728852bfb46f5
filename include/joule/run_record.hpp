// joule/run_record.hpp: what the ledger keeps of one run, and the ledger itself.
//
// Ledger layer (src/ledger/ledger_db.cpp and friends, library joule_ledger).
// The run layer fills a RunRecord for every command that spends energy
// (measure, train, demo, study, compress, bench-infer) and streams it into a
// Ledger while the run goes: the header at the start, each power sample and
// each epoch as it is taken, the totals at the end. So a run killed with
// SIGKILL keeps everything up to its last sample and reads back as
// "incomplete", never lost.
//
// RunRecord lives here, not in `run`, because the ledger stores it and the
// ledger sits below `run` (dependencies point down only).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "joule/energy_report.hpp"

namespace joule {

// One power sample of a run, as the meter took it (totals since the run's start).
struct SampleRow {
  double t_unix_s = 0;
  double energy_j = 0;          // attributed, cumulative
  double machine_energy_j = 0;  // whole machine, cumulative
  double power_w = 0;           // attributed mean power over the last interval
  double cpu_share = 1;         // over the last interval
  double co2_g = 0;             // cumulative, PUE and embodied included
};

// One epoch of a training run.
struct EpochRow {
  int epoch = 0;  // 1-based
  double seconds = 0;
  double energy_j = 0;  // this epoch's own joules
  double co2_g = 0;
  nlohmann::json metrics = nlohmann::json::object();  // {"loss":..,"accuracy":..}
};

// The machine a run ran on (MachineFacts in meter reads it from /proc).
struct HostRecord {
  std::string hostname, os;
  std::string cpu_model;
  int cpu_count = 0;  // logical CPUs
  double ram_total_bytes = 0;
  std::string gpu_model;  // empty: none seen
  int gpu_count = 0;
};

// Status as stored. "running" is stored while the run goes; a reader sees a
// "running" run whose process is gone (same host, pid not alive) as
// "incomplete".
enum class RunStatus { kRunning, kCompleted, kFailed, kStopped, kIncomplete };
const char* RunStatusName(RunStatus status);  // "running", "completed", ...

struct RunRecord {
  std::string id;         // 12 hex digits, assigned by Ledger::BeginRun
  std::string kind;       // "train", "measure", "demo", "study", "compress.quantize",
                          // "compress.prune", "compress.distill", "compress.early-exit",
                          // "bench-infer"
  std::string name;       // what the user called it (recipe name, command line, model dir)
  std::string parent_id;  // the run that started this one (demo's recipes); "" if none
  nlohmann::json config = nlohmann::json::object();  // the job as resolved (schema keys)
  HostRecord host;
  double start_unix_s = 0, end_unix_s = 0;
  RunStatus status = RunStatus::kRunning;
  std::string message;  // failure or stop reason, one line
  EnergyReport energy;  // totals; while running, as of the last update
  nlohmann::json metrics = nlohmann::json::object();  // accuracy, loss, throughput, ...
  std::vector<EpochRow> epochs;
  std::vector<std::string> tags;
  std::string joule_version;  // "0.1.0"
  std::string git_commit;     // of the measured project's working directory; "" if none
  int pid = 0;                // the recording process, to tell running from incomplete
};

// Filters for Ledger::List; empty fields do not filter.
struct RunFilter {
  std::string kind;    // exact, or a prefix ending in '.' ("compress.")
  std::string tag;
  std::string status;  // RunStatusName
  std::optional<double> since_unix_s, until_unix_s;  // on start time
  int limit = 0;                                     // 0: all
};

// A SQLite database of runs (tables runs, samples, epochs, tags, meta with the
// schema version), in WAL mode with a busy timeout, so several processes may
// write one ledger at once. Not thread-safe: one Ledger per thread (open
// another on the same path for another thread; the meter's sampling thread
// does).
class Ledger {
 public:
  // The schema version this build writes (1 is the first).
  static int SchemaVersion();
  // $JOULE_HOME/ledger.db, else $XDG_DATA_HOME/joule/ledger.db, else
  // ~/.local/share/joule/ledger.db.
  static std::string DefaultPath();

  // Opens or creates the ledger at `path` (creating its directory), migrating
  // an older schema in one transaction. Throws joule::Error with one line
  // naming the path when it cannot be opened or created (read-only disk,
  // permission), is not a SQLite database or is corrupt, or has a newer schema
  // ("ledger FILE has schema version 7; this joule reads up to 1: upgrade joule").
  static std::unique_ptr<Ledger> Open(const std::string& path);
  virtual ~Ledger() = default;

  // Writing, in the order a run goes. BeginRun stores `header` (id, status,
  // energy, epochs and tags ignored) as running, and returns the new id.
  // Each call commits on its own, so what was written survives a SIGKILL.
  // Throw joule::Error naming the ledger on a write failure, or an unknown id.
  virtual std::string BeginRun(const RunRecord& header) = 0;
  virtual void AppendSample(const std::string& id, const SampleRow& sample) = 0;
  virtual void AppendEpoch(const std::string& id, const EpochRow& epoch) = 0;
  // Stores the final status, message, energy, metrics and end time.
  virtual void FinishRun(const std::string& id, RunStatus status, const std::string& message,
                         const EnergyReport& energy, const nlohmann::json& metrics) = 0;

  // Reading. Resolve takes a full id or a unique prefix (as git does) and
  // throws joule::Error for none or several matches (listing them).
  virtual std::string Resolve(const std::string& id_or_prefix) = 0;
  virtual std::vector<RunRecord> List(const RunFilter& filter) = 0;  // newest first, no epochs
  virtual RunRecord Get(const std::string& id) = 0;                  // with epochs and tags
  virtual std::vector<SampleRow> Samples(const std::string& id) = 0;
  virtual void Tag(const std::string& id, const std::string& tag) = 0;
  virtual void Remove(const std::string& id) = 0;  // with its samples, epochs, tags
};

// RunRecord <-> JSON, the form `joule runs show --json` and `export --format
// json` print. Every EnergyReport field is written, with its method labels.
nlohmann::json RunRecordToJson(const RunRecord& record);

}  // namespace joule
