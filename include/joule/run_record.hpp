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

#include <array>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "joule/energy_report.hpp"
#include "joule/ledger.hpp"
#include "joule/meter.hpp"

namespace joule {

// One power sample of a run, as the meter took it (totals since the run's start).
struct SampleRow {
  double t_unix_s = 0;
  double energy_j = 0;          // attributed, cumulative
  double machine_energy_j = 0;  // whole machine, cumulative
  double power_w = 0;           // attributed mean power over the last interval
  double cpu_share = 1;         // over the last interval
  double co2_g = 0;             // cumulative, PUE and embodied included
  // Attributed cumulative joules of each component's counted channels,
  // indexed by Component (cpu, ram, gpu, system, other): the power over time
  // of each component is their difference between samples. NaN in rows
  // written before the ledger kept them (schema version 2).
  std::array<double, 5> component_j = {0, 0, 0, 0, 0};
  bool has_components() const;  // no NaN in component_j
};

// The sample row of a meter reading: its end time, totals, grams, each
// component's joules, and the attributed power of the last interval (counted
// channels' power, times the last interval's CPU share for channels split by
// process).
SampleRow SampleRowFromReading(const MeterReading& reading);

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
  double ram_used_bytes = 0;           // when the run started; 0 when unknown
  double ram_used_no_cache_bytes = 0;  // psutil's `used` (MachineFacts); 0 when unknown
  std::string gpu_model;               // "2 x NVIDIA A100"; empty: none seen
  int gpu_count = 0;
};

// The host record for a run metered by `sources` (may be empty): the facts of
// ReadMachineFacts(proc_root), plus the GPUs among the sources' channels,
// counted by name. Never throws.
HostRecord ReadHostRecord(const std::vector<std::unique_ptr<PowerSource>>& sources,
                          const std::string& proc_root = "/proc");

// A run's energy before it has figures, for the header given to BeginRun:
// the distinct method labels of the sources' counted channels joined by "+",
// whether one is an estimate, the attribution, and the carbon model's source,
// PUE and location when `carbon` is not null. Never throws.
EnergyReport EnergyLabels(const std::vector<std::unique_ptr<PowerSource>>& sources,
                          Attribution attribution, const CarbonModel* carbon);

// Status as stored. "running" is stored while the run goes; a reader sees a
// "running" run whose process is gone (same host, pid not alive) as
// "incomplete".
enum class RunStatus { kRunning, kCompleted, kFailed, kStopped, kIncomplete };
const char* RunStatusName(RunStatus status);  // "running", "completed", ...
// The status named `name`; throws joule::Error listing the names otherwise.
RunStatus ParseRunStatus(const std::string& name);

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
  // Totals. While a run is running or incomplete, the figures of its last
  // sample (energy_j, machine_energy_j, operational_g, end_unix_s, duration_s,
  // samples), with the method and attribution given at BeginRun.
  EnergyReport energy;
  nlohmann::json metrics = nlohmann::json::object();  // accuracy, loss, throughput, ...
  std::vector<EpochRow> epochs;
  std::vector<std::string> tags;
  std::string joule_version;  // "0.1.0"; BeginRun fills in this build's when empty
  std::string git_commit;     // of the measured project's working directory; "" if none
  int pid = 0;                // the recording process, to tell running from incomplete
};

// A time for a filter's since/until: "2026-11-29", "2026-11-29 14:05[:09]"
// (local time) or an age, "3d", "12h", "30m" (that long before now). Throws
// Error naming `option` ("--since x: expected a date ...") otherwise.
double ParseRunTime(const std::string& option, const std::string& text);

// Filters for Ledger::List; empty fields do not filter.
struct RunFilter {
  std::string kind;  // exact, or a prefix ending in '.' ("compress.")
  std::string tag;
  std::string status;                                // RunStatusName
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

  // Writing, in the order a run goes. BeginRun stores `header` as running
  // with its tags (its id, status and epochs are ignored; of its energy only
  // the labels are kept: methods, attribution, carbon source, PUE and
  // location, so that an unfinished run still says how its figures were
  // obtained) and returns the new id. The header's
  // start_unix_s, pid and joule_version default to now, getpid() and this
  // build's version when 0 or empty.
  // The id is header.id when it is set and not taken, else a NewRunId().
  // Each call commits on its own, so what was written survives a SIGKILL;
  // AppendSamples writes its rows in one transaction.
  // Throw joule::Error naming the ledger on a write failure, or an unknown id.
  virtual std::string BeginRun(const RunRecord& header) = 0;
  virtual void AppendSample(const std::string& id, const SampleRow& sample) = 0;
  virtual void AppendSamples(const std::string& id, const std::vector<SampleRow>& samples) = 0;
  virtual void AppendEpoch(const std::string& id, const EpochRow& epoch) = 0;
  // Stores the final status, message, energy, metrics and end time.
  virtual void FinishRun(const std::string& id, RunStatus status, const std::string& message,
                         const EnergyReport& energy, const nlohmann::json& metrics) = 0;

  // Reading. Resolve takes a full id or a unique prefix (as git does) and
  // throws joule::Error for none or several matches (listing them).
  // Get, Samples, Tag and Remove take a full id and throw for an unknown one.
  virtual std::string Resolve(const std::string& id_or_prefix) = 0;
  virtual std::vector<RunRecord> List(const RunFilter& filter) = 0;  // newest first, no epochs
  virtual RunRecord Get(const std::string& id) = 0;                  // with epochs and tags
  virtual std::vector<SampleRow> Samples(const std::string& id) = 0;
  virtual void Tag(const std::string& id, const std::string& tag) = 0;
  virtual void Remove(const std::string& id) = 0;  // with its samples, epochs, tags

  // The file this ledger was opened from, for messages.
  virtual const std::string& path() const = 0;
};

// A fresh run id: 12 lowercase hex digits from 48 random bits. Ledger::BeginRun
// uses it (and draws again on the rare collision); a command that records
// nothing (--no-ledger) still has an id to print and export.
std::string NewRunId();

// ---------------------------------------------------------------------------
// Recording a run
// ---------------------------------------------------------------------------

// Where a command records its run. `path` "" records nothing (--no-ledger).
// `required` when the user named the ledger (--ledger FILE): a ledger that
// cannot be opened then stops the command before it runs; otherwise that
// costs one warning and the job runs unrecorded.
struct LedgerTarget {
  std::string path;
  bool required = false;
};

// RAII: one run in a ledger, from construction to Finish. Any command records
// itself in a few lines:
//
//   RunRecorder recorder(target, header);             // BeginRun
//   meter.set_on_sample(recorder.SampleCallback());   // each sample as taken
//   ... recorder.AppendEpoch(row) ...
//   recorder.Finish(RunStatus::kCompleted, "", MakeEnergyReport(reading, &carbon), metrics);
//
// A recorder that is destroyed unfinished (an exception unwound the command)
// finishes the run as failed with the figures of its last sample.
//
// With `target.required`, the constructor opens the ledger and writes the
// header before it returns, and throws joule::Error when it cannot. Otherwise
// the recorder's own thread does both while the caller goes on (opening
// SQLite costs a few milliseconds, which then overlap the job's start), and
// a failure costs one line to `warn` (default: "joule: warning: ..." on
// stderr) and records nothing. A write that fails later (disk full, a lock
// held past the busy timeout) is warned about once and ends the recording;
// it never stops the job.
//
// Thread-safe. Samples are queued and written by the recorder's own thread,
// so the meter's sampling thread (which calls the callback with the meter's
// lock held) never waits on the ledger: a sample costs it a queue push. The
// thread commits what is queued at once, and then at most every 200 ms, so
// fast sampling (every 10 ms) shares a commit among 20 samples; a SIGKILL
// loses at most the samples of the last 200 ms. Epochs and the end
// are written on the caller's thread (after the header); the end after
// every sample queued before it.
class RunRecorder {
 public:
  using WarnFn = std::function<void(const std::string&)>;
  RunRecorder(const LedgerTarget& target, const RunRecord& header, WarnFn warn = nullptr);
  // In two steps, for a command that can open the ledger before it knows the
  // header (`joule measure` discovers its sensors meanwhile): the constructor
  // starts opening it, Begin(header) writes the header. Samples and epochs
  // wait for Begin; a recorder finished or destroyed without Begin records
  // nothing. With `target.required` both steps are synchronous and throw.
  explicit RunRecorder(const LedgerTarget& target, WarnFn warn = nullptr);
  void Begin(const RunRecord& header);  // later calls do nothing
  ~RunRecorder();
  RunRecorder(const RunRecorder&) = delete;
  RunRecorder& operator=(const RunRecorder&) = delete;

  // The run's id: the ledger's, or a NewRunId() when nothing is recorded.
  std::string id() const;
  // False with no ledger, and once a write has failed. Waits for the header
  // to be written (or to fail).
  bool recording() const;

  // For Meter::set_on_sample: appends SampleRowFromReading(reading). The
  // callback refers to this recorder, which must outlive the meter's
  // sampling (stop the meter before destroying the recorder).
  std::function<void(const MeterReading&)> SampleCallback();
  void AppendSample(const SampleRow& sample);
  void AppendEpoch(const EpochRow& epoch);
  // Writes the queued samples, then the end of the run; later calls do nothing.
  void Finish(RunStatus status, const std::string& message, const EnergyReport& energy,
              const nlohmann::json& metrics);

 private:
  void WriteHeader(const RunRecord& header);   // mutex_ held, ledger_ open
  void WriteSamples(const std::string& path);  // the writer thread (opens `path` if not yet)
  void StopWriter();                           // drains the queue and joins the thread
  void Fail(const std::string& what);          // warns once and stops recording; mutex_ held
  // Locks mutex_ once the header is written (or failed).
  std::unique_lock<std::mutex> LockBegun() const;

  mutable std::mutex mutex_;  // the connection and the fields below it
  bool required_ = false;
  bool header_given_ = false;
  std::optional<RunRecord> pending_header_;  // for the writer thread to write once opened
  bool stop_begin_ = false;                  // ended before a header came
  std::condition_variable header_cv_;
  mutable std::condition_variable begun_cv_;
  bool begun_ = false;              // the header is written, or will not be
  std::unique_ptr<Ledger> ledger_;  // null: not recording
  mutable std::mutex id_mutex_;     // id_ (the ledger may draw another on a collision)
  std::string id_;
  WarnFn warn_;
  bool finished_ = false;
  EnergyReport header_energy_;  // the labels, for an unfinished end

  std::mutex queue_mutex_;  // the fields below
  std::condition_variable queue_ready_;
  std::vector<SampleRow> queue_;
  std::optional<SampleRow> last_sample_;
  bool stopping_ = false;
  bool writer_waiting_ = false;  // the writer waits for samples (not resting between commits)
  std::thread writer_;
};

// ---------------------------------------------------------------------------
// Reading runs back: JSON, CodeCarbon rows, comparisons
// ---------------------------------------------------------------------------

// The stored form of an EnergyReport (every field, components with their
// method labels) and back. EnergyReportFromJson takes what
// EnergyReportToJson wrote, missing keys left at their defaults; throws
// joule::Error for a value of the wrong type.
nlohmann::json EnergyReportToJson(const EnergyReport& report);
EnergyReport EnergyReportFromJson(const nlohmann::json& j);

// RunRecord <-> JSON, the form `joule runs show --json` and `export --format
// json` print. Every EnergyReport field is written, with its method labels.
nlohmann::json RunRecordToJson(const RunRecord& record);

// The CodeCarbon emissions.csv row of a run, in CodeCarbon's units and with
// its convention that energy columns include the PUE and `emissions` is
// operational carbon only (embodied has no column). run_id is the run's id in
// UUID form ("00000000-0000-4000-8000-" + id), project_name the config's
// "project_name" or else "joule", experiment_id the config's or else
// CodeCarbon's default. In CodeCarbon 3.x's units and conventions: sizes in
// GiB (ram_total_size = MemTotal / 2^30; ram_used_gb = psutil's `used`),
// 0 (not empty) for the power, energy, count and utilisation of a device
// that is absent, water_consumed = WUE x energy_consumed. `joule measure
// --csv` and `joule runs export` both write this row, so they agree.
CodeCarbonRow RunToCodeCarbonRow(const RunRecord& record);

// `runs` as an emissions.csv: CodeCarbon's header line, then one row per run
// in the order given.
std::string RunsToCodeCarbonCsv(const std::vector<RunRecord>& runs);

// One line of `joule runs compare`: a run's figures and their ratios to the
// first run's (NaN when the first run's figure is 0 or missing).
struct RunComparison {
  std::string id, kind, name, method;
  RunStatus status = RunStatus::kCompleted;
  double energy_j = 0, co2_g = 0, duration_s = 0;
  std::optional<double> accuracy;  // metrics "accuracy" when the run has one
  double energy_ratio = 0, co2_ratio = 0, time_ratio = 0, accuracy_ratio = 0;
};

// The comparison of `runs` against runs[0] (runs[0]'s ratios are 1). Throws
// joule::Error when `runs` is empty.
std::vector<RunComparison> CompareRuns(const std::vector<RunRecord>& runs);
nlohmann::json RunComparisonsToJson(const std::vector<RunComparison>& rows);

}  // namespace joule
