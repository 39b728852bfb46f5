// The ledger on SQLite: schema and migrations, writing a run as it goes, and
// reading runs back.
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <unordered_map>

#include "joule/run_record.hpp"
#include "joule/util.hpp"
#include "ledger/run_record_internal.hpp"

namespace joule {
namespace {

using ledger_internal::HostRecordFromJson;
using ledger_internal::HostRecordToJson;
using ledger_internal::ThisHostName;

// Long enough to ride out another process's write (one sample, one run's
// header), short enough that a ledger locked for good is reported.
constexpr int kBusyTimeoutMs = 5000;

// The schema, one step per version, applied in order in one transaction.
// Version 1 is the first layout; version 2 adds tags and the link from a run
// to the run that started it (demo's recipes); version 3 each sample's
// joules by component (NULL in older rows), for power plots per component. A step never changes
// once released: a new layout is a new step.
struct Migration {
  int version;
  const char* sql;
};
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  config TEXT NOT NULL,
  host TEXT NOT NULL,
  hostname TEXT NOT NULL,
  pid INTEGER NOT NULL,
  start_unix_s REAL NOT NULL,
  end_unix_s REAL NOT NULL DEFAULT 0,
  status TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT '',
  duration_s REAL NOT NULL DEFAULT 0,
  energy_j REAL NOT NULL DEFAULT 0,
  machine_energy_j REAL NOT NULL DEFAULT 0,
  co2_g REAL NOT NULL DEFAULT 0,
  method TEXT NOT NULL DEFAULT '',
  energy TEXT NOT NULL,
  metrics TEXT NOT NULL DEFAULT '{}',
  joule_version TEXT NOT NULL,
  git_commit TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_by_start ON runs(start_unix_s);
CREATE TABLE samples (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  t_unix_s REAL NOT NULL,
  energy_j REAL NOT NULL,
  machine_energy_j REAL NOT NULL,
  power_w REAL NOT NULL,
  cpu_share REAL NOT NULL,
  co2_g REAL NOT NULL,
  PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE epochs (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  epoch INTEGER NOT NULL,
  seconds REAL NOT NULL,
  energy_j REAL NOT NULL,
  co2_g REAL NOT NULL,
  metrics TEXT NOT NULL,
  PRIMARY KEY (run_id, epoch)
);
)sql"},
    {2, R"sql(
ALTER TABLE runs ADD COLUMN parent_id TEXT NOT NULL DEFAULT '';
CREATE TABLE tags (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  tag TEXT NOT NULL,
  PRIMARY KEY (run_id, tag)
);
CREATE INDEX tags_by_tag ON tags(tag);
)sql"},
    {3, R"sql(
ALTER TABLE samples ADD COLUMN cpu_j REAL;
ALTER TABLE samples ADD COLUMN ram_j REAL;
ALTER TABLE samples ADD COLUMN gpu_j REAL;
ALTER TABLE samples ADD COLUMN system_j REAL;
ALTER TABLE samples ADD COLUMN other_j REAL;
)sql"},
};
constexpr int kSchemaVersion = kMigrations[std::size(kMigrations) - 1].version;

constexpr const char* kRunColumns =
    "id, kind, name, parent_id, config, host, hostname, pid, start_unix_s, end_unix_s, status, "
    "message, energy, metrics, joule_version, git_commit";

double NowUnixSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The figures a run's energy holds before it ends: its labels only.
EnergyReport LabelsOnly(const EnergyReport& energy) {
  EnergyReport labels = energy;
  labels.duration_s = labels.energy_j = labels.machine_energy_j = 0;
  labels.process_cpu_s = labels.machine_load = 0;
  labels.operational_g = labels.embodied_g = 0;
  labels.samples = 0;
  for (ComponentReport& c : labels.components) c.energy_j = c.machine_j = 0;
  return labels;
}

bool IsHexId(const std::string& s) {
  if (s.empty() || s.size() > 12) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

class SqliteLedger;

// A cached prepared statement in use: binds, steps, reads columns, and
// resets on destruction so the next user finds it clean.
class Statement {
 public:
  Statement(SqliteLedger& ledger, sqlite3_stmt* stmt) : ledger_(ledger), stmt_(stmt) {}
  ~Statement() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int i, const std::string& text) {
    Check(
        sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Statement& Bind(int i, double value) {
    Check(sqlite3_bind_double(stmt_, i, value));
    return *this;
  }
  Statement& BindInt(int i, std::int64_t value) {
    Check(sqlite3_bind_int64(stmt_, i, value));
    return *this;
  }
  // True when a row is ready; false when done. Throws on an error.
  bool Step();
  double Double(int col) { return sqlite3_column_double(stmt_, col); }
  // NaN for NULL (SQLite also stores a bound NaN as NULL).
  double DoubleOrNaN(int col) {
    return sqlite3_column_type(stmt_, col) == SQLITE_NULL ? std::nan("") : Double(col);
  }
  std::int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  std::string Text(int col) {
    const unsigned char* text = sqlite3_column_text(stmt_, col);
    return text == nullptr
               ? std::string()
               : std::string(reinterpret_cast<const char*>(text),
                             static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  nlohmann::json Json(int col) {
    std::string text = Text(col);
    nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    return j.is_discarded() ? nlohmann::json::object() : j;
  }

 private:
  void Check(int rc);
  SqliteLedger& ledger_;
  sqlite3_stmt* stmt_;
};

class SqliteLedger : public Ledger {
 public:
  explicit SqliteLedger(const std::string& path) : path_(path) {}
  ~SqliteLedger() override {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    if (db_ != nullptr) sqlite3_close_v2(db_);
  }

  void OpenAndMigrate();

  std::string BeginRun(const RunRecord& header) override;
  void AppendSample(const std::string& id, const SampleRow& sample) override;
  void AppendSamples(const std::string& id, const std::vector<SampleRow>& samples) override;
  void AppendEpoch(const std::string& id, const EpochRow& epoch) override;
  void FinishRun(const std::string& id, RunStatus status, const std::string& message,
                 const EnergyReport& energy, const nlohmann::json& metrics) override;
  std::string Resolve(const std::string& id_or_prefix) override;
  std::vector<RunRecord> List(const RunFilter& filter) override;
  RunRecord Get(const std::string& id) override;
  std::vector<SampleRow> Samples(const std::string& id) override;
  void Tag(const std::string& id, const std::string& tag) override;
  void Remove(const std::string& id) override;
  const std::string& path() const override { return path_; }

  // "ledger PATH: what: SQLite's message"
  [[noreturn]] void Fail(const std::string& what, int rc) const {
    std::string detail = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT) {
      throw Error("ledger " + path_ + " is corrupt or not a SQLite database (" + detail +
                  "); move it away and joule starts a new one");
    }
    if (rc == SQLITE_BUSY) {
      detail += ", still locked after " + std::to_string(kBusyTimeoutMs / 1000) + " s";
    }
    throw Error("ledger " + path_ + ": " + what + " failed: " + detail);
  }

 private:
  Statement Prepare(const std::string& sql);
  void Exec(const std::string& sql, const char* what);
  int UserVersion();
  void Migrate();
  void RequireRun(const std::string& id);
  RunRecord ReadRun(Statement& row);
  void FillFromLastSample(RunRecord& run);

  std::string path_;
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
  std::unordered_map<std::string, std::int64_t> next_seq_;  // per run id
  std::string hostname_ = ThisHostName();
};

bool Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  ledger_.Fail(sqlite3_sql(stmt_), rc);
}

void Statement::Check(int rc) {
  if (rc != SQLITE_OK) ledger_.Fail("binding a value", rc);
}

Statement SqliteLedger::Prepare(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) Fail("preparing '" + sql + "'", rc);
    it = statements_.emplace(sql, stmt).first;
  }
  return Statement(*this, it->second);
}

void SqliteLedger::Exec(const std::string& sql, const char* what) {
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) Fail(what, rc);
}

int SqliteLedger::UserVersion() {
  Statement s = Prepare("PRAGMA user_version");
  return s.Step() ? static_cast<int>(s.Int(0)) : 0;
}

void SqliteLedger::OpenAndMigrate() {
  int rc =
      sqlite3_open_v2(path_.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) Fail("opening", rc);
  // SQLite falls back to read-only on a write-protected file without saying
  // so; every command that records needs to write, so say it now.
  if (sqlite3_db_readonly(db_, "main") == 1) {
    throw Error("ledger " + path_ +
                " is read-only; make it writable, or give another with --ledger FILE");
  }
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  // Each joule process opens the ledger for one run. Closing the last
  // connection would otherwise checkpoint the log into the database and
  // fsync it, which costs more wall time than the whole run's writes (10-15
  // ms on a busy machine). The log is checkpointed as it grows instead
  // (wal_autocheckpoint below).
  sqlite3_db_config(db_, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  // Primary codes only: the retry on a duplicate id looks for SQLITE_CONSTRAINT.
  sqlite3_extended_result_codes(db_, 0);
  // WAL: readers never block the writer, and a commit appends to the log
  // without an fsync (synchronous=NORMAL), so a sample costs tens of
  // microseconds, not an fsync.
  // A power cut may lose the last commits; a killed process loses nothing.
  Exec("PRAGMA journal_mode=WAL", "setting WAL mode");
  // Every process that opens the ledger first reads the whole log to rebuild
  // its index, so the log is kept short: 100 pages (a sample writes one)
  // rather than SQLite's 1000 took opening from 1.7 ms to 0.5 ms of CPU.
  Exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=100",
       "setting pragmas");
  int version = UserVersion();
  if (version > kSchemaVersion) {
    throw Error("ledger " + path_ + " has schema version " + std::to_string(version) +
                "; this joule reads up to " + std::to_string(kSchemaVersion) +
                ": upgrade joule, or give another ledger with --ledger FILE");
  }
  if (version < kSchemaVersion) Migrate();
}

void SqliteLedger::Migrate() {
  // IMMEDIATE takes the write lock now, so two processes opening one old
  // ledger migrate it once: the second waits, then finds the new version.
  Exec("BEGIN IMMEDIATE", "starting the schema migration");
  try {
    int version = UserVersion();
    if (version == 0) {
      Statement s = Prepare("SELECT count(*) FROM sqlite_master");
      if (s.Step() && s.Int(0) > 0) {
        throw Error("ledger " + path_ +
                    " is a SQLite database but not a joule ledger (it has tables and no joule "
                    "schema version); give another file with --ledger FILE");
      }
    }
    for (const Migration& m : kMigrations) {
      if (m.version <= version) continue;
      Exec(m.sql, ("migrating to schema version " + std::to_string(m.version)).c_str());
    }
    if (version < kSchemaVersion) {
      Exec("PRAGMA user_version = " + std::to_string(kSchemaVersion), "setting the version");
    }
    Exec("COMMIT", "committing the schema migration");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::string SqliteLedger::BeginRun(const RunRecord& header) {
  const std::string sql =
      "INSERT INTO runs (id, kind, name, parent_id, config, host, hostname, pid, start_unix_s, "
      "status, energy, metrics, joule_version, git_commit, method) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)";
  const double start = header.start_unix_s > 0 ? header.start_unix_s : NowUnixSeconds();
  const std::string energy = EnergyReportToJson(LabelsOnly(header.energy)).dump();
  for (int attempt = 0;; ++attempt) {
    std::string id = attempt == 0 && !header.id.empty() ? header.id : NewRunId();
    Statement s = Prepare(sql);
    s.Bind(1, id).Bind(2, header.kind).Bind(3, header.name).Bind(4, header.parent_id);
    s.Bind(5, header.config.dump()).Bind(6, HostRecordToJson(header.host).dump());
    s.Bind(7, hostname_).BindInt(8, header.pid > 0 ? header.pid : getpid()).Bind(9, start);
    s.Bind(10, energy).Bind(11, header.metrics.dump());
    s.Bind(12, header.joule_version.empty() ? JOULE_VERSION_STRING : header.joule_version);
    s.Bind(13, header.git_commit).Bind(14, header.energy.method);
    // 48 random bits collide about once in ten million runs of one ledger;
    // the primary key catches it and a new id is drawn.
    try {
      s.Step();
    } catch (const Error&) {
      if (attempt < 4 && sqlite3_errcode(db_) == SQLITE_CONSTRAINT) continue;
      throw;
    }
    for (const std::string& tag : header.tags) Tag(id, tag);
    next_seq_[id] = 1;
    return id;
  }
}

void SqliteLedger::AppendSample(const std::string& id, const SampleRow& sample) {
  // One writer per run appends its samples, so the next seq is remembered
  // here rather than asked of the ledger at every sample.
  auto next = next_seq_.find(id);
  if (next == next_seq_.end()) {
    Statement max = Prepare("SELECT coalesce(max(seq), 0) FROM samples WHERE run_id = ?");
    max.Bind(1, id);
    next = next_seq_.emplace(id, max.Step() ? max.Int(0) + 1 : 1).first;
  }
  Statement s = Prepare(
      "INSERT INTO samples (run_id, seq, t_unix_s, energy_j, machine_energy_j, power_w, "
      "cpu_share, co2_g, cpu_j, ram_j, gpu_j, system_j, other_j) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  s.Bind(1, id).BindInt(2, next->second).Bind(3, sample.t_unix_s).Bind(4, sample.energy_j);
  s.Bind(5, sample.machine_energy_j).Bind(6, sample.power_w).Bind(7, sample.cpu_share);
  s.Bind(8, sample.co2_g);
  for (std::size_t c = 0; c < sample.component_j.size(); ++c) {
    s.Bind(9 + static_cast<int>(c), sample.component_j[c]);
  }
  try {
    s.Step();
  } catch (const Error&) {
    if (sqlite3_errcode(db_) == SQLITE_CONSTRAINT) {
      next_seq_.erase(id);  // another writer, or an unknown run: ask again next time
      RequireRun(id);
    }
    throw;
  }
  ++next->second;
}

void SqliteLedger::AppendSamples(const std::string& id, const std::vector<SampleRow>& samples) {
  if (samples.size() == 1) return AppendSample(id, samples[0]);
  if (samples.empty()) return;
  Exec("BEGIN IMMEDIATE", "starting a batch of samples");
  try {
    for (const SampleRow& sample : samples) AppendSample(id, sample);
    Exec("COMMIT", "committing a batch of samples");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    // The rolled-back rows' numbers are free again: ask the ledger next time.
    next_seq_.erase(id);
    throw;
  }
}

void SqliteLedger::AppendEpoch(const std::string& id, const EpochRow& epoch) {
  RequireRun(id);
  // REPLACE: a resumed run may write an epoch again, and the later one holds.
  Statement s = Prepare("INSERT OR REPLACE INTO epochs VALUES (?, ?, ?, ?, ?, ?)");
  s.Bind(1, id).BindInt(2, epoch.epoch).Bind(3, epoch.seconds).Bind(4, epoch.energy_j);
  s.Bind(5, epoch.co2_g).Bind(6, epoch.metrics.dump());
  s.Step();
}

void SqliteLedger::FinishRun(const std::string& id, RunStatus status, const std::string& message,
                             const EnergyReport& energy, const nlohmann::json& metrics) {
  if (status == RunStatus::kRunning || status == RunStatus::kIncomplete) {
    throw Error(std::string("FinishRun: status '") + RunStatusName(status) +
                "' is not an end; give completed, failed or stopped");
  }
  Statement s = Prepare(
      "UPDATE runs SET status = ?, message = ?, end_unix_s = ?, duration_s = ?, energy_j = ?, "
      "machine_energy_j = ?, co2_g = ?, method = ?, energy = ?, metrics = ? WHERE id = ?");
  const double end = energy.end_unix_s > 0 ? energy.end_unix_s : NowUnixSeconds();
  s.Bind(1, std::string(RunStatusName(status))).Bind(2, message).Bind(3, end);
  s.Bind(4, energy.duration_s).Bind(5, energy.energy_j).Bind(6, energy.machine_energy_j);
  s.Bind(7, energy.co2_g()).Bind(8, energy.method).Bind(9, EnergyReportToJson(energy).dump());
  s.Bind(10, metrics.dump()).Bind(11, id);
  s.Step();
  if (sqlite3_changes(db_) == 0) RequireRun(id);
}

void SqliteLedger::RequireRun(const std::string& id) {
  Statement s = Prepare("SELECT 1 FROM runs WHERE id = ?");
  s.Bind(1, id);
  if (!s.Step()) {
    throw Error("ledger " + path_ + " has no run '" + id + "' (joule runs list shows the ids)");
  }
}

std::string SqliteLedger::Resolve(const std::string& id_or_prefix) {
  std::string prefix = id_or_prefix;
  for (char& c : prefix) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!IsHexId(prefix)) {
    throw Error("run id '" + id_or_prefix +
                "': expected 1 to 12 hex digits, as 'joule runs list' prints them");
  }
  Statement s = Prepare("SELECT id FROM runs WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT 6");
  s.BindInt(1, static_cast<std::int64_t>(prefix.size())).Bind(2, prefix);
  std::vector<std::string> ids;
  while (s.Step()) ids.push_back(s.Text(0));
  if (ids.empty()) {
    throw Error("no run '" + id_or_prefix + "' in ledger " + path_ +
                " (joule runs list shows the ids)");
  }
  if (ids.size() > 1) {
    std::string list;
    for (std::size_t i = 0; i < ids.size() && i < 5; ++i) list += (i ? ", " : "") + ids[i];
    if (ids.size() > 5) list += ", ...";
    throw Error("run id '" + id_or_prefix + "' is ambiguous: " + list + "; give more digits");
  }
  return ids[0];
}

RunRecord SqliteLedger::ReadRun(Statement& row) {
  RunRecord run;
  run.id = row.Text(0);
  run.kind = row.Text(1);
  run.name = row.Text(2);
  run.parent_id = row.Text(3);
  run.config = row.Json(4);
  try {
    run.host = HostRecordFromJson(row.Json(5));
    run.energy = EnergyReportFromJson(row.Json(12));
  } catch (const Error& e) {
    throw Error("ledger " + path_ + ": run " + run.id + " is damaged: " + e.what());
  }
  const std::string hostname = row.Text(6);
  run.pid = static_cast<int>(row.Int(7));
  run.start_unix_s = row.Double(8);
  run.end_unix_s = row.Double(9);
  run.status = ParseRunStatus(row.Text(10));
  run.message = row.Text(11);
  run.metrics = row.Json(13);
  run.joule_version = row.Text(14);
  run.git_commit = row.Text(15);
  if (run.status == RunStatus::kRunning && hostname == hostname_ && run.pid > 0 &&
      kill(run.pid, 0) != 0 && errno == ESRCH) {
    run.status = RunStatus::kIncomplete;
  }
  return run;
}

void SqliteLedger::FillFromLastSample(RunRecord& run) {
  if (run.status != RunStatus::kRunning && run.status != RunStatus::kIncomplete) return;
  Statement count = Prepare("SELECT count(*) FROM samples WHERE run_id = ?");
  count.Bind(1, run.id);
  run.energy.samples = count.Step() ? static_cast<std::uint64_t>(count.Int(0)) : 0;
  Statement s = Prepare(
      "SELECT t_unix_s, energy_j, machine_energy_j, co2_g FROM samples WHERE run_id = ? "
      "ORDER BY seq DESC LIMIT 1");
  s.Bind(1, run.id);
  if (!s.Step()) return;
  run.end_unix_s = run.energy.end_unix_s = s.Double(0);
  run.energy.start_unix_s = run.start_unix_s;
  run.energy.duration_s = run.end_unix_s - run.start_unix_s;
  run.energy.energy_j = s.Double(1);
  run.energy.machine_energy_j = s.Double(2);
  // A sample's grams are the total; without the split, all counts as operational.
  run.energy.operational_g = s.Double(3);
  run.energy.embodied_g = 0;
  run.energy.cpu_share =
      run.energy.machine_energy_j > 0 ? run.energy.energy_j / run.energy.machine_energy_j : 1;
}

std::vector<RunRecord> SqliteLedger::List(const RunFilter& filter) {
  std::string sql = std::string("SELECT ") + kRunColumns + " FROM runs WHERE 1";
  if (!filter.kind.empty()) {
    if (filter.kind.back() == '.') {
      sql += " AND substr(kind, 1, length(?1)) = ?1";
    } else {
      sql += " AND kind = ?1";
    }
  }
  if (!filter.tag.empty()) sql += " AND id IN (SELECT run_id FROM tags WHERE tag = ?2)";
  // running and incomplete are both stored as running; liveness is checked
  // on each row below, so LIMIT cannot go to SQLite.
  std::optional<RunStatus> status;
  if (!filter.status.empty()) {
    status = ParseRunStatus(filter.status);
    sql += " AND status = ?3";
  }
  const bool live_check = status == RunStatus::kRunning || status == RunStatus::kIncomplete;
  if (filter.since_unix_s) sql += " AND start_unix_s >= ?4";
  if (filter.until_unix_s) sql += " AND start_unix_s < ?5";
  sql += " ORDER BY start_unix_s DESC, rowid DESC";
  if (filter.limit > 0 && !live_check) sql += " LIMIT " + std::to_string(filter.limit);
  std::vector<RunRecord> runs;
  {
    Statement s = Prepare(sql);
    if (!filter.kind.empty()) s.Bind(1, filter.kind);
    if (!filter.tag.empty()) s.Bind(2, filter.tag);
    if (status) s.Bind(3, std::string(live_check ? "running" : RunStatusName(*status)));
    if (filter.since_unix_s) s.Bind(4, *filter.since_unix_s);
    if (filter.until_unix_s) s.Bind(5, *filter.until_unix_s);
    while (s.Step()) {
      RunRecord run = ReadRun(s);
      if (live_check && run.status != *status) continue;
      runs.push_back(std::move(run));
      if (filter.limit > 0 && static_cast<int>(runs.size()) >= filter.limit) break;
    }
  }
  for (RunRecord& run : runs) {
    FillFromLastSample(run);
    Statement tags = Prepare("SELECT tag FROM tags WHERE run_id = ? ORDER BY tag");
    tags.Bind(1, run.id);
    while (tags.Step()) run.tags.push_back(tags.Text(0));
  }
  return runs;
}

RunRecord SqliteLedger::Get(const std::string& id) {
  RunRecord run;
  {
    Statement s = Prepare(std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?");
    s.Bind(1, id);
    if (!s.Step()) RequireRun(id);
    run = ReadRun(s);
  }
  FillFromLastSample(run);
  Statement tags = Prepare("SELECT tag FROM tags WHERE run_id = ? ORDER BY tag");
  tags.Bind(1, id);
  while (tags.Step()) run.tags.push_back(tags.Text(0));
  Statement epochs = Prepare(
      "SELECT epoch, seconds, energy_j, co2_g, metrics FROM epochs WHERE run_id = ? ORDER BY "
      "epoch");
  epochs.Bind(1, id);
  while (epochs.Step()) {
    run.epochs.push_back({static_cast<int>(epochs.Int(0)), epochs.Double(1), epochs.Double(2),
                          epochs.Double(3), epochs.Json(4)});
  }
  return run;
}

std::vector<SampleRow> SqliteLedger::Samples(const std::string& id) {
  RequireRun(id);
  Statement s = Prepare(
      "SELECT t_unix_s, energy_j, machine_energy_j, power_w, cpu_share, co2_g, cpu_j, ram_j, "
      "gpu_j, system_j, other_j FROM samples WHERE run_id = ? ORDER BY seq");
  s.Bind(1, id);
  std::vector<SampleRow> rows;
  while (s.Step()) {
    SampleRow row{s.Double(0), s.Double(1), s.Double(2), s.Double(3), s.Double(4), s.Double(5)};
    for (std::size_t c = 0; c < row.component_j.size(); ++c) {
      row.component_j[c] = s.DoubleOrNaN(6 + static_cast<int>(c));
    }
    rows.push_back(row);
  }
  return rows;
}

void SqliteLedger::Tag(const std::string& id, const std::string& tag) {
  if (tag.empty() || tag.size() > 100) {
    throw Error("tag '" + tag + "': expected 1 to 100 characters");
  }
  for (unsigned char c : tag) {
    if (c < 0x20 || c == 0x7f || c == ' ' || c == ',') {
      throw Error("tag '" + tag + "': no spaces, commas or control characters");
    }
  }
  RequireRun(id);
  Statement s = Prepare("INSERT OR IGNORE INTO tags VALUES (?, ?)");
  s.Bind(1, id).Bind(2, tag);
  s.Step();
}

void SqliteLedger::Remove(const std::string& id) {
  RequireRun(id);
  Exec("BEGIN IMMEDIATE", "starting the removal");
  try {
    // Runs it started lose the link rather than point at nothing.
    {
      Statement s = Prepare("UPDATE runs SET parent_id = '' WHERE parent_id = ?");
      s.Bind(1, id);
      s.Step();
    }
    {
      Statement s = Prepare("DELETE FROM runs WHERE id = ?");
      s.Bind(1, id);
      s.Step();
    }
    Exec("COMMIT", "committing the removal");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

}  // namespace

int Ledger::SchemaVersion() { return kSchemaVersion; }

std::string Ledger::DefaultPath() {
  if (const char* home = std::getenv("JOULE_HOME"); home != nullptr && *home != '\0') {
    return std::string(home) + "/ledger.db";
  }
  if (const char* data = std::getenv("XDG_DATA_HOME"); data != nullptr && *data != '\0') {
    return std::string(data) + "/joule/ledger.db";
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && *home != '\0' ? home : ".") +
         "/.local/share/joule/ledger.db";
}

std::unique_ptr<Ledger> Ledger::Open(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      throw Error("ledger " + path + ": cannot create directory " + parent.string() + ": " +
                  ec.message() + "; give another with --ledger FILE or set JOULE_HOME");
    }
  }
  auto ledger = std::make_unique<SqliteLedger>(path);
  ledger->OpenAndMigrate();
  return ledger;
}

}  // namespace joule
