// The SQLite ledger: round trip, ids, filters, migration, refusals,
// concurrent writers, incomplete runs, and the recorder.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <thread>

#include "joule/run_record.hpp"
#include "joule/util.hpp"
#include "test_scratch.hpp"

namespace joule {
namespace {

std::string ScratchLedger() { return test::TestScratchDir("ledger", true) + "/ledger.db"; }

// Runs `sql` on the file at `path` with SQLite directly, as another program
// (or an older joule) would.
void RawSql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << message;
}

// The integer the query `sql` returns on the file at `path`; -1 if none.
int RawInt(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
  int value = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : -1;
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

int RawUserVersion(const std::string& path) { return RawInt(path, "PRAGMA user_version"); }

EnergyReport SomeEnergy() {
  EnergyReport e;
  e.duration_s = 12.5;
  e.start_unix_s = 1'700'000'000;
  e.end_unix_s = 1'700'000'012.5;
  e.attribution = Attribution::kProcessTree;
  e.components = {{Component::kCpu, 300, 600, "estimated:tdp-model", true},
                  {Component::kRam, 20, 40, "estimated:tdp-model", true}};
  e.energy_j = 320;
  e.machine_energy_j = 640;
  e.method = "estimated:tdp-model";
  e.estimated = true;
  e.cpu_share = 0.5;
  e.process_cpu_s = 11.25;
  e.machine_load = 0.75;
  e.samples = 13;
  e.intensity_g_per_kwh = 56;
  e.intensity_source = "France 56 g/kWh";
  e.pue = 1.2;
  e.operational_g = 0.00597;
  e.embodied_g = 0.001;
  e.country_name = "France";
  e.country_iso = "FRA";
  return e;
}

RunRecord SomeHeader(const std::string& kind = "measure", double start = 1'700'000'000) {
  RunRecord h;
  h.kind = kind;
  h.name = "python train.py --fast";
  h.config = {{"interval_s", 0.1}, {"project_name", "p"}};
  h.host.hostname = "box";
  h.host.os = "Linux-6.1-x86_64";
  h.host.cpu_model = "AMD EPYC";
  h.host.cpu_count = 2;
  h.host.ram_total_bytes = 8e9;
  h.host.ram_used_bytes = 2e9;
  h.start_unix_s = start;
  h.energy.method = "estimated:tdp-model";
  h.energy.estimated = true;
  h.git_commit = "abc123";
  return h;
}

RunFilter Filter(const std::string& kind, const std::string& tag = "",
                 const std::string& status = "") {
  RunFilter filter;
  filter.kind = kind;
  filter.tag = tag;
  filter.status = status;
  return filter;
}

TEST(LedgerDbTest, RoundTripsARun) {
  auto ledger = Ledger::Open(ScratchLedger());
  std::string id = ledger->BeginRun(SomeHeader());
  ASSERT_EQ(id.size(), 12u);
  for (int i = 1; i <= 3; ++i) {
    ledger->AppendSample(id, {1'700'000'000.0 + i, 10.0 * i, 20.0 * i, 10, 0.5, 0.001 * i});
  }
  ledger->AppendEpoch(id, {1, 4.5, 100, 0.002, {{"loss", 0.5}, {"accuracy", 0.9}}});
  ledger->AppendEpoch(id, {2, 4.0, 90, 0.0018, {{"loss", 0.4}}});
  ledger->Tag(id, "baseline");
  ledger->FinishRun(id, RunStatus::kCompleted, "", SomeEnergy(), {{"accuracy", 0.93}});

  RunRecord run = ledger->Get(id);
  EXPECT_EQ(run.id, id);
  EXPECT_EQ(run.kind, "measure");
  EXPECT_EQ(run.name, "python train.py --fast");
  EXPECT_EQ(run.config["project_name"], "p");
  EXPECT_EQ(run.host.cpu_model, "AMD EPYC");
  EXPECT_EQ(run.host.ram_used_bytes, 2e9);
  EXPECT_EQ(run.status, RunStatus::kCompleted);
  EXPECT_EQ(run.start_unix_s, 1'700'000'000);
  EXPECT_EQ(run.end_unix_s, 1'700'000'012.5);
  EXPECT_EQ(run.pid, getpid());
  EXPECT_EQ(run.git_commit, "abc123");
  EXPECT_FALSE(run.joule_version.empty());
  EXPECT_EQ(run.metrics["accuracy"], 0.93);
  EXPECT_EQ(run.tags, std::vector<std::string>{"baseline"});
  // Every figure of the report comes back exactly, components and labels too.
  EXPECT_EQ(EnergyReportToJson(run.energy), EnergyReportToJson(SomeEnergy()));
  ASSERT_EQ(run.epochs.size(), 2u);
  EXPECT_EQ(run.epochs[0].energy_j, 100);
  EXPECT_EQ(run.epochs[0].metrics["accuracy"], 0.9);
  EXPECT_EQ(run.epochs[1].epoch, 2);

  std::vector<SampleRow> samples = ledger->Samples(id);
  ASSERT_EQ(samples.size(), 3u);
  EXPECT_EQ(samples[2].energy_j, 30);
  EXPECT_EQ(samples[2].machine_energy_j, 60);
  EXPECT_EQ(samples[1].co2_g, 0.002);

  nlohmann::json j = RunRecordToJson(run);
  EXPECT_EQ(j["energy"]["method"], "estimated:tdp-model");
  EXPECT_EQ(j["energy"]["components"][0]["method"], "estimated:tdp-model");
  EXPECT_EQ(j["status"], "completed");
  EXPECT_EQ(j["energy"]["energy_j"], 320);
}

TEST(LedgerDbTest, RunningRunShowsItsLastSampleAndLabels) {
  auto ledger = Ledger::Open(ScratchLedger());
  std::string id = ledger->BeginRun(SomeHeader());
  ledger->AppendSample(id, {1'700'000'001, 5, 10, 5, 0.5, 0.01});
  ledger->AppendSample(id, {1'700'000'002, 9, 18, 4, 0.5, 0.02});
  RunRecord run = ledger->Get(id);
  EXPECT_EQ(run.status, RunStatus::kRunning);  // this process is alive
  EXPECT_EQ(run.energy.energy_j, 9);
  EXPECT_EQ(run.energy.machine_energy_j, 18);
  EXPECT_EQ(run.energy.samples, 2u);
  EXPECT_EQ(run.energy.duration_s, 2);
  EXPECT_EQ(run.energy.co2_g(), 0.02);
  EXPECT_EQ(run.energy.method, "estimated:tdp-model");
}

TEST(LedgerDbTest, RunOfADeadProcessIsIncomplete) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);  // reaped: its pid is free

  auto ledger = Ledger::Open(ScratchLedger());
  RunRecord header = SomeHeader();
  header.pid = child;
  std::string dead = ledger->BeginRun(header);
  ledger->AppendSample(dead, {1'700'000'001, 7, 14, 7, 0.5, 0.01});
  std::string alive = ledger->BeginRun(SomeHeader());

  RunRecord run = ledger->Get(dead);
  EXPECT_EQ(run.status, RunStatus::kIncomplete);
  EXPECT_EQ(run.energy.energy_j, 7);
  EXPECT_EQ(ledger->Get(alive).status, RunStatus::kRunning);

  RunFilter incomplete;
  incomplete.status = "incomplete";
  std::vector<RunRecord> runs = ledger->List(incomplete);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].id, dead);
  RunFilter running;
  running.status = "running";
  runs = ledger->List(running);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].id, alive);
}

TEST(LedgerDbTest, ResolvesUniquePrefixesAndNamesAmbiguousOnes) {
  auto ledger = Ledger::Open(ScratchLedger());
  // 17 ids over 16 first digits: two of them share one.
  std::vector<std::string> ids;
  for (int i = 0; i < 17; ++i) ids.push_back(ledger->BeginRun(SomeHeader()));
  std::string shared;
  std::set<char> seen;
  for (const std::string& id : ids) {
    if (!seen.insert(id[0]).second) shared = id.substr(0, 1);
  }
  ASSERT_FALSE(shared.empty());

  for (const std::string& id : ids) {
    EXPECT_EQ(ledger->Resolve(id), id);
    std::string upper = id;
    for (char& c : upper) c = static_cast<char>(std::toupper(c));
    EXPECT_EQ(ledger->Resolve(upper), id);
  }
  try {
    ledger->Resolve(shared);
    FAIL() << "a prefix shared by two runs must not resolve";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ambiguous"), std::string::npos) << e.what();
    int listed = 0;
    for (const std::string& id : ids) listed += std::string(e.what()).find(id) != std::string::npos;
    EXPECT_GE(listed, 2) << e.what();
  }
  // A prefix of 7 digits is almost surely unique among 17 runs.
  EXPECT_EQ(ledger->Resolve(ids[3].substr(0, 7)), ids[3]);
  EXPECT_THROW(ledger->Resolve("xyz"), Error);
  EXPECT_THROW(ledger->Resolve(""), Error);
  std::string absent = ids[0] == "000000000000" ? "000000000001" : "000000000000";
  EXPECT_THROW(ledger->Resolve(absent), Error);
}

TEST(LedgerDbTest, ListFiltersNewestFirst) {
  auto ledger = Ledger::Open(ScratchLedger());
  std::string m1 = ledger->BeginRun(SomeHeader("measure", 1000));
  std::string t1 = ledger->BeginRun(SomeHeader("train", 2000));
  std::string q1 = ledger->BeginRun(SomeHeader("compress.quantize", 3000));
  std::string p1 = ledger->BeginRun(SomeHeader("compress.prune", 4000));
  std::string m2 = ledger->BeginRun(SomeHeader("measure", 5000));
  for (const std::string& id : {m1, t1, q1, p1}) {
    ledger->FinishRun(id, RunStatus::kCompleted, "", SomeEnergy(), {});
  }
  ledger->FinishRun(m2, RunStatus::kFailed, "exit 3", SomeEnergy(), {});
  ledger->Tag(t1, "paper");
  ledger->Tag(p1, "paper");

  auto ids = [&](const RunFilter& filter) {
    std::vector<std::string> out;
    for (const RunRecord& r : ledger->List(filter)) out.push_back(r.id);
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids({}), (V{m2, p1, q1, t1, m1}));
  EXPECT_EQ(ids(Filter("measure")), (V{m2, m1}));
  EXPECT_EQ(ids(Filter("compress.")), (V{p1, q1}));
  EXPECT_EQ(ids(Filter("compress")), V{});  // exact unless it ends in '.'
  EXPECT_EQ(ids(Filter("", "paper")), (V{p1, t1}));
  EXPECT_EQ(ids(Filter("", "", "failed")), V{m2});
  RunFilter window;
  window.since_unix_s = 2000;
  window.until_unix_s = 4000;
  EXPECT_EQ(ids(window), (V{q1, t1}));
  RunFilter two;
  two.limit = 2;
  EXPECT_EQ(ids(two), (V{m2, p1}));
  EXPECT_EQ(ids(Filter("measure", "", "completed")), V{m1});
  EXPECT_THROW(ledger->List(Filter("", "", "done")), Error);
  EXPECT_EQ(ledger->List(Filter("", "paper"))[0].tags, V{"paper"});
}

TEST(LedgerDbTest, RemoveTakesSamplesEpochsAndTags) {
  const std::string path = ScratchLedger();
  auto ledger = Ledger::Open(path);
  std::string id = ledger->BeginRun(SomeHeader());
  ledger->AppendSample(id, {1, 1, 1, 1, 1, 1});
  ledger->AppendEpoch(id, {1, 1, 1, 1, {}});
  ledger->Tag(id, "x");
  RunRecord child_header = SomeHeader();
  child_header.parent_id = id;
  std::string child = ledger->BeginRun(child_header);
  EXPECT_EQ(ledger->Get(child).parent_id, id);
  ledger->Remove(id);
  EXPECT_THROW(ledger->Get(id), Error);
  EXPECT_THROW(ledger->Remove(id), Error);
  EXPECT_EQ(ledger->Get(child).parent_id, "");
  EXPECT_EQ(RawInt(path,
                   "SELECT (SELECT count(*) FROM samples) + (SELECT count(*) FROM epochs) + "
                   "(SELECT count(*) FROM tags)"),
            0);
}

TEST(LedgerDbTest, UnknownIdsAndBadTagsThrow) {
  auto ledger = Ledger::Open(ScratchLedger());
  std::string id = ledger->BeginRun(SomeHeader());
  EXPECT_THROW(ledger->AppendSample("0123456789ab", {}), Error);
  EXPECT_THROW(ledger->AppendEpoch("0123456789ab", {}), Error);
  EXPECT_THROW(ledger->FinishRun("0123456789ab", RunStatus::kCompleted, "", {}, {}), Error);
  EXPECT_THROW(ledger->FinishRun(id, RunStatus::kRunning, "", {}, {}), Error);
  EXPECT_THROW(ledger->Samples("0123456789ab"), Error);
  EXPECT_THROW(ledger->Tag(id, "two words"), Error);
  EXPECT_THROW(ledger->Tag(id, ""), Error);
}

// The layout of schema version 1, as a joule of that version wrote it. Kept
// here, not taken from the ledger's code, so the test breaks if a released
// step is ever edited.
constexpr const char* kVersion1Fixture = R"sql(
CREATE TABLE runs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL,
  config TEXT NOT NULL, host TEXT NOT NULL, hostname TEXT NOT NULL, pid INTEGER NOT NULL,
  start_unix_s REAL NOT NULL, end_unix_s REAL NOT NULL DEFAULT 0, status TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT '', duration_s REAL NOT NULL DEFAULT 0,
  energy_j REAL NOT NULL DEFAULT 0, machine_energy_j REAL NOT NULL DEFAULT 0,
  co2_g REAL NOT NULL DEFAULT 0, method TEXT NOT NULL DEFAULT '', energy TEXT NOT NULL,
  metrics TEXT NOT NULL DEFAULT '{}', joule_version TEXT NOT NULL,
  git_commit TEXT NOT NULL DEFAULT '');
CREATE INDEX runs_by_start ON runs(start_unix_s);
CREATE TABLE samples (run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL, t_unix_s REAL NOT NULL, energy_j REAL NOT NULL,
  machine_energy_j REAL NOT NULL, power_w REAL NOT NULL, cpu_share REAL NOT NULL,
  co2_g REAL NOT NULL, PRIMARY KEY (run_id, seq)) WITHOUT ROWID;
CREATE TABLE epochs (run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  epoch INTEGER NOT NULL, seconds REAL NOT NULL, energy_j REAL NOT NULL, co2_g REAL NOT NULL,
  metrics TEXT NOT NULL, PRIMARY KEY (run_id, epoch));
INSERT INTO runs VALUES ('a1b2c3d4e5f6', 'measure', 'sleep 1', '{}', '{"cpu_count":2}', 'old',
  4242, 1600000000, 1600000001, 'completed', '', 1, 42, 84, 0.5, 'estimated:tdp-model',
  '{"energy_j":42,"method":"estimated:tdp-model","operational_g":0.5}', '{}', '0.0.9', '');
INSERT INTO samples VALUES ('a1b2c3d4e5f6', 1, 1600000001, 42, 84, 42, 0.5, 0.5);
PRAGMA user_version = 1;
)sql";

TEST(LedgerDbTest, MigratesAVersion1Ledger) {
  const std::string path = ScratchLedger();
  RawSql(path, kVersion1Fixture);
  ASSERT_EQ(RawUserVersion(path), 1);

  auto ledger = Ledger::Open(path);
  EXPECT_EQ(RawUserVersion(path), Ledger::SchemaVersion());
  RunRecord old = ledger->Get(ledger->Resolve("a1b2"));
  EXPECT_EQ(old.status, RunStatus::kCompleted);
  EXPECT_EQ(old.energy.energy_j, 42);
  EXPECT_EQ(old.energy.method, "estimated:tdp-model");
  EXPECT_EQ(old.parent_id, "");
  EXPECT_EQ(old.joule_version, "0.0.9");
  ASSERT_EQ(ledger->Samples(old.id).size(), 1u);
  // A row from before version 3 has no joules by component.
  EXPECT_FALSE(ledger->Samples(old.id)[0].has_components());
  ledger->AppendSample(old.id, {1600000002, 43, 86, 1, 0.5, 0.5, {40, 3, 0, 0, 0}});
  EXPECT_EQ(ledger->Samples(old.id).back().energy_j, 43);
  EXPECT_EQ(ledger->Samples(old.id).back().component_j[1], 3);
  // What version 2 added works on the migrated file.
  ledger->Tag(old.id, "old");
  EXPECT_EQ(ledger->List(Filter("", "old")).size(), 1u);
  RunRecord child = SomeHeader();
  child.parent_id = old.id;
  EXPECT_EQ(ledger->Get(ledger->BeginRun(child)).parent_id, old.id);
  // Opening again finds nothing to do.
  ledger.reset();
  EXPECT_NO_THROW(Ledger::Open(path));
}

TEST(LedgerDbTest, RefusesANewerSchemaNamingBothVersions) {
  const std::string path = ScratchLedger();
  RawSql(path, "CREATE TABLE runs (id TEXT); PRAGMA user_version = 7;");
  try {
    Ledger::Open(path);
    FAIL() << "a newer schema must be refused";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find(path), std::string::npos) << what;
    EXPECT_NE(what.find("schema version 7"), std::string::npos) << what;
    EXPECT_NE(what.find("up to " + std::to_string(Ledger::SchemaVersion())), std::string::npos)
        << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
  EXPECT_EQ(RawUserVersion(path), 7);  // untouched
}

TEST(LedgerDbTest, RefusesACorruptFileInOneLine) {
  const std::string path = ScratchLedger();
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 512; ++i) out << "this is not a database ";
  }
  try {
    Ledger::Open(path);
    FAIL() << "garbage must be refused";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find(path), std::string::npos) << what;
    EXPECT_NE(what.find("corrupt"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

TEST(LedgerDbTest, RefusesAnotherProgramsDatabase) {
  const std::string path = ScratchLedger();
  RawSql(path, "CREATE TABLE photos (id INTEGER);");
  try {
    Ledger::Open(path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a joule ledger"), std::string::npos) << e.what();
  }
}

TEST(LedgerDbTest, RefusesAPathItCannotCreate) {
  const std::string dir = test::TestScratchDir("ledger", true);
  std::ofstream(dir + "/file") << "x";
  EXPECT_THROW(Ledger::Open(dir + "/file/ledger.db"), Error);
}

TEST(LedgerDbTest, ThreadsWithTheirOwnConnectionsWriteOneLedger) {
  const std::string path = ScratchLedger();
  Ledger::Open(path);  // created once, so the threads race on writes, not on creation
  constexpr int kThreads = 4, kSamples = 150;
  std::vector<std::string> ids(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        auto ledger = Ledger::Open(path);
        ids[t] = ledger->BeginRun(SomeHeader());
        for (int i = 0; i < kSamples; ++i) {
          ledger->AppendSample(ids[t], {1.0 * i, 1.0 * i, 2.0 * i, 1, 0.5, 0});
        }
        ledger->AppendEpoch(ids[t], {1, 1, 1, 0, {}});
        ledger->FinishRun(ids[t], RunStatus::kCompleted, "", SomeEnergy(), {});
      } catch (const Error& e) {
        errors[t] = e.what();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  auto ledger = Ledger::Open(path);
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(errors[t], "");
    RunRecord run = ledger->Get(ids[t]);
    EXPECT_EQ(run.status, RunStatus::kCompleted);
    std::vector<SampleRow> samples = ledger->Samples(ids[t]);
    ASSERT_EQ(samples.size(), static_cast<std::size_t>(kSamples));
    for (int i = 0; i < kSamples; ++i) EXPECT_EQ(samples[i].energy_j, i);
  }
}

TEST(LedgerDbTest, DefaultPathFollowsJouleHome) {
  const char* home_before = std::getenv("HOME");
  std::string saved_home = home_before != nullptr ? home_before : "";
  setenv("JOULE_HOME", "/tmp/jh", 1);
  EXPECT_EQ(Ledger::DefaultPath(), "/tmp/jh/ledger.db");
  unsetenv("JOULE_HOME");
  setenv("XDG_DATA_HOME", "/tmp/xdg", 1);
  EXPECT_EQ(Ledger::DefaultPath(), "/tmp/xdg/joule/ledger.db");
  unsetenv("XDG_DATA_HOME");
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(Ledger::DefaultPath(), "/home/u/.local/share/joule/ledger.db");
  setenv("HOME", saved_home.c_str(), 1);
}

// --- RunRecorder ---

TEST(RunRecorderTest, RecordsSamplesEpochsAndTheEnd) {
  const std::string path = ScratchLedger();
  std::string id;
  {
    RunRecorder recorder({path, true}, SomeHeader());
    ASSERT_TRUE(recorder.recording());
    id = recorder.id();
    recorder.AppendSample({1, 2, 4, 2, 0.5, 0.1});
    recorder.AppendEpoch({1, 1, 2, 0.1, {}});
    recorder.Finish(RunStatus::kStopped, "budget reached", SomeEnergy(), {{"accuracy", 0.5}});
    recorder.Finish(RunStatus::kFailed, "ignored", {}, {});  // later calls do nothing
  }
  auto ledger = Ledger::Open(path);
  RunRecord run = ledger->Get(id);
  EXPECT_EQ(run.status, RunStatus::kStopped);
  EXPECT_EQ(run.message, "budget reached");
  EXPECT_EQ(run.energy.energy_j, 320);
  EXPECT_EQ(run.epochs.size(), 1u);
  EXPECT_EQ(ledger->Samples(id).size(), 1u);
}

TEST(RunRecorderTest, UnfinishedRecorderMarksTheRunFailedWithItsLastSample) {
  const std::string path = ScratchLedger();
  std::string id;
  {
    RunRecorder recorder({path, true}, SomeHeader());
    id = recorder.id();
    recorder.AppendSample({1'700'000'003, 30, 60, 10, 0.5, 0.25});
  }
  RunRecord run = Ledger::Open(path)->Get(id);
  EXPECT_EQ(run.status, RunStatus::kFailed);
  EXPECT_EQ(run.energy.energy_j, 30);
  EXPECT_EQ(run.energy.co2_g(), 0.25);
  EXPECT_EQ(run.energy.method, "estimated:tdp-model");
}

TEST(RunRecorderTest, AnUnopenableLedgerWarnsUnlessRequired) {
  const std::string dir = test::TestScratchDir("ledger", true);
  std::ofstream(dir + "/file") << "x";
  const std::string bad = dir + "/file/ledger.db";
  std::vector<std::string> warnings;
  RunRecorder recorder({bad, false}, SomeHeader(),
                       [&](const std::string& line) { warnings.push_back(line); });
  EXPECT_FALSE(recorder.recording());
  EXPECT_EQ(recorder.id().size(), 12u);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find(bad), std::string::npos) << warnings[0];
  recorder.AppendSample({});  // records nothing, throws nothing
  recorder.Finish(RunStatus::kCompleted, "", {}, {});

  EXPECT_THROW(RunRecorder({bad, true}, SomeHeader()), Error);
  RunRecorder none({"", false}, SomeHeader());
  EXPECT_FALSE(none.recording());
}

TEST(RunRecorderTest, OpensFirstAndTakesTheHeaderLater) {
  const std::string path = ScratchLedger();
  std::string id;
  {
    // Not required: the recorder's thread opens the ledger; samples taken
    // before the header wait for it and are kept.
    RunRecorder recorder({path, false});
    recorder.AppendSample({1, 2, 4, 2, 0.5, 0.1});
    recorder.Begin(SomeHeader());
    recorder.AppendSample({2, 3, 6, 2, 0.5, 0.2});
    EXPECT_TRUE(recorder.recording());
    recorder.Finish(RunStatus::kCompleted, "", SomeEnergy(), {});
    id = recorder.id();
  }
  auto ledger = Ledger::Open(path);
  EXPECT_EQ(ledger->Get(id).status, RunStatus::kCompleted);
  EXPECT_EQ(ledger->Samples(id).size(), 2u);
  // Ended before its header: nothing is recorded, nothing hangs.
  { RunRecorder never({path, false}); }
  { RunRecorder never_required({path, true}); }
  EXPECT_EQ(ledger->List({}).size(), 1u);
}

TEST(RunRecorderTest, BatchOfSamplesIsOneCommitAndKeepsTheirOrder) {
  const std::string path = ScratchLedger();
  auto ledger = Ledger::Open(path);
  std::string id = ledger->BeginRun(SomeHeader());
  std::vector<SampleRow> rows;
  for (int i = 0; i < 25; ++i) rows.push_back({1.0 * i, 1.0 * i, 0, 0, 0, 0});
  ledger->AppendSamples(id, rows);
  ledger->AppendSamples(id, {{25, 25, 0, 0, 0, 0}});
  std::vector<SampleRow> back = ledger->Samples(id);
  ASSERT_EQ(back.size(), 26u);
  for (int i = 0; i < 26; ++i) EXPECT_EQ(back[i].energy_j, i);
  EXPECT_THROW(ledger->AppendSamples("nosuchrun000", rows), Error);
}

TEST(RunRecorderTest, SampleRowFromReadingSplitsAttributedPower) {
  MeterReading r;
  r.end_unix_s = 1234;
  r.energy_j = 10;
  r.machine_energy_j = 30;
  r.last_cpu_share = 0.25;
  r.operational_g = 1;
  r.embodied_g = 0.5;
  ChannelEnergy cpu;
  cpu.component = Component::kCpu;
  cpu.attributed = true;
  cpu.last_power_w = 40;
  cpu.last_charged_w = 40 * 0.25;
  cpu.energy_j = 7;
  ChannelEnergy gpu;
  gpu.component = Component::kGpu;
  gpu.last_power_w = 100;
  gpu.last_charged_w = 100;
  gpu.energy_j = 3;
  ChannelEnergy core;  // inside the package: reported, not counted
  core.counted = false;
  core.last_power_w = 30;
  core.energy_j = 5;
  r.channels = {cpu, gpu, core};
  SampleRow row = SampleRowFromReading(r);
  EXPECT_EQ(row.t_unix_s, 1234);
  EXPECT_EQ(row.power_w, 40 * 0.25 + 100);
  EXPECT_EQ(row.co2_g, 1.5);
  EXPECT_EQ(row.cpu_share, 0.25);
  // Counted channels only, by component.
  EXPECT_EQ(row.component_j[static_cast<int>(Component::kCpu)], 7);
  EXPECT_EQ(row.component_j[static_cast<int>(Component::kGpu)], 3);
  EXPECT_EQ(row.component_j[static_cast<int>(Component::kRam)], 0);
  EXPECT_TRUE(row.has_components());
}

// A source that is only its channels, for the header helpers.
class ChannelsOnly : public PowerSource {
 public:
  ChannelsOnly(std::string method, std::vector<Channel> channels)
      : method_(std::move(method)), channels_(std::move(channels)) {}
  std::string_view kind() const override { return "fake"; }
  std::string_view method() const override { return method_; }
  std::string detail() const override { return ""; }
  const std::vector<Channel>& channels() const override { return channels_; }
  void Read(double, std::span<ChannelSample>) override {}

 private:
  std::string method_;
  std::vector<Channel> channels_;
};

TEST(RunRecorderTest, HeaderHelpersReadGpusAndLabelsFromTheSources) {
  std::vector<std::unique_ptr<PowerSource>> sources;
  sources.push_back(std::make_unique<ChannelsOnly>(
      "estimated:tdp-model",
      std::vector<Channel>{{"cpu", Component::kCpu, ReadingKind::kMeanPower, true, ""}}));
  sources.push_back(std::make_unique<ChannelsOnly>(
      "measured:nvml",
      std::vector<Channel>{
          {"gpu0", Component::kGpu, ReadingKind::kEnergyCounter, true, "T4, 16 GB"},
          {"gpu1", Component::kGpu, ReadingKind::kEnergyCounter, true, "A100"},
          {"gpu2", Component::kGpu, ReadingKind::kEnergyCounter, true, "T4"}}));
  sources.push_back(std::make_unique<ChannelsOnly>(
      "measured:hwmon",
      std::vector<Channel>{{"in0", Component::kOther, ReadingKind::kInstantPower, false, ""}}));
  HostRecord host = ReadHostRecord(sources);
  EXPECT_EQ(host.gpu_count, 3);
  EXPECT_EQ(host.gpu_model, "1 x A100, 2 x T4");
  EXPECT_GT(host.cpu_count, 0);

  CarbonOptions options;
  options.intensity_g_per_kwh = 100;
  options.pue = 1.5;
  CarbonModel carbon = CarbonModel::Resolve(options, JOULE_SOURCE_DATA_DIR);
  EnergyReport labels = EnergyLabels(sources, Attribution::kMachine, &carbon);
  // hwmon counts nothing, so its label is not the run's.
  EXPECT_EQ(labels.method, "estimated:tdp-model+measured:nvml");
  EXPECT_TRUE(labels.estimated);
  EXPECT_EQ(labels.attribution, Attribution::kMachine);
  EXPECT_EQ(labels.pue, 1.5);
  EXPECT_EQ(labels.intensity_source, carbon.source());
  EXPECT_EQ(labels.energy_j, 0);
}

// --- reading back ---

// Golden: each column holds what CodeCarbon 3.3 writes for the same inputs
// (its units and conventions, read from emissions_tracker.py and ram.py): a
// 12.5 s process-mode run, CPU 300 J and RAM 20 J attributed, PUE 1.2, WUE 1.8,
// 0.00597 g operational in France, no GPU, on a machine with 25,276,000,000
// bytes of memory (this development VM's MemTotal).
TEST(RunExportTest, CodeCarbonRowHoldsCodeCarbonsValueInEveryColumn) {
  RunRecord run = SomeHeader();
  run.id = "0123456789ab";
  run.energy = SomeEnergy();
  run.energy.wue = 1.8;
  run.host.ram_total_bytes = 25'276'000'000;
  run.host.ram_used_bytes = 6'319'000'000;           // MemTotal - MemAvailable
  run.host.ram_used_no_cache_bytes = 4'294'967'296;  // psutil's used: 4 GiB
  CodeCarbonRow row = RunToCodeCarbonRow(run);
  const double kwh = 3.6e6;
  EXPECT_EQ(row.project_name, "p");
  EXPECT_EQ(row.run_id, "00000000-0000-4000-8000-0123456789ab");
  EXPECT_EQ(row.experiment_id, "5b0fa12a-3dd7-45bb-9766-cc326314d9f1");  // CodeCarbon's default
  EXPECT_EQ(row.duration, 12.5);                                         // s
  EXPECT_DOUBLE_EQ(row.emissions, 0.00597 / 1000);                       // kg, operational only
  EXPECT_DOUBLE_EQ(row.emissions_rate, 0.00597 / 1000 / 12.5);           // kg/s
  EXPECT_DOUBLE_EQ(*row.cpu_power, 300 / 12.5);                          // W
  EXPECT_EQ(*row.gpu_power, 0);                                          // no GPU: 0, not empty
  EXPECT_DOUBLE_EQ(*row.ram_power, 20 / 12.5);
  EXPECT_DOUBLE_EQ(*row.cpu_energy, 300 / kwh * 1.2);  // kWh, PUE applied
  EXPECT_EQ(*row.gpu_energy, 0);
  EXPECT_DOUBLE_EQ(*row.ram_energy, 20 / kwh * 1.2);
  EXPECT_DOUBLE_EQ(row.energy_consumed, 320 / kwh * 1.2);
  EXPECT_DOUBLE_EQ(*row.water_consumed, 1.8 * 320 / kwh * 1.2);  // L = WUE x kWh
  EXPECT_EQ(row.country_name, "France");
  EXPECT_EQ(row.country_iso_code, "FRA");
  EXPECT_EQ(row.cpu_count, 2);
  EXPECT_EQ(row.cpu_model, "AMD EPYC");
  EXPECT_EQ(row.gpu_count, 0);
  EXPECT_EQ(row.gpu_model, "");
  EXPECT_NEAR(*row.ram_total_size, 23.540, 0.0005);  // GiB: 25,276,000,000 / 2^30
  EXPECT_DOUBLE_EQ(*row.ram_total_size, 25'276'000'000 / 1073741824.0);
  EXPECT_EQ(row.tracking_mode, "process");
  EXPECT_DOUBLE_EQ(*row.cpu_utilization_percent, 75);
  EXPECT_EQ(*row.gpu_utilization_percent, 0);
  EXPECT_DOUBLE_EQ(*row.ram_utilization_percent, 100 * 6'319'000'000.0 / 25'276'000'000);
  EXPECT_DOUBLE_EQ(*row.ram_used_gb, 4.0);  // GiB of psutil's used
  EXPECT_EQ(row.on_cloud, "N");
  EXPECT_EQ(row.pue, 1.2);
  EXPECT_EQ(*row.wue, 1.8);

  // As written: the absent device's cells are "0", not empty.
  std::string line = FormatCodeCarbonLine(row);
  std::vector<std::string> cells;
  for (std::size_t start = 0;;) {
    std::size_t comma = line.find(',', start);
    cells.push_back(
        line.substr(start, comma == std::string::npos ? line.size() - start - 1 : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  const std::vector<std::string>& columns = CodeCarbonColumns();
  ASSERT_EQ(cells.size(), columns.size());
  for (const char* zero : {"gpu_power", "gpu_energy", "gpu_count", "gpu_utilization_percent"}) {
    auto at = std::find(columns.begin(), columns.end(), zero) - columns.begin();
    EXPECT_EQ(cells[static_cast<std::size_t>(at)], "0") << zero;
  }

  std::string csv = RunsToCodeCarbonCsv({run, run});
  std::size_t first = csv.find('\n');
  EXPECT_EQ(csv.substr(first + 1), FormatCodeCarbonLine(row) + FormatCodeCarbonLine(row));
}

TEST(RunExportTest, WithoutAWueTheWaterIsZeroAsCodeCarbonWritesIt) {
  RunRecord run = SomeHeader();
  run.energy = SomeEnergy();
  CodeCarbonRow row = RunToCodeCarbonRow(run);
  EXPECT_EQ(*row.water_consumed, 0);
  EXPECT_EQ(*row.wue, 0);
  run.config["experiment_id"] = "exp-7";
  EXPECT_EQ(RunToCodeCarbonRow(run).experiment_id, "exp-7");
}

TEST(RunExportTest, CompareGivesRatiosAgainstTheFirstRun) {
  RunRecord a = SomeHeader(), b = SomeHeader(), c = SomeHeader();
  a.energy = b.energy = c.energy = SomeEnergy();
  b.energy.energy_j = 160;
  b.energy.operational_g = 0.00597 * 3 + 0.002;  // co2 = 3 x a's
  b.energy.duration_s = 25;
  a.metrics = {{"accuracy", 0.8}};
  b.metrics = {{"accuracy", 0.88}};
  c.energy.energy_j = 0;
  std::vector<RunComparison> rows = CompareRuns({a, b, c});
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].energy_ratio, 1);
  EXPECT_DOUBLE_EQ(rows[1].energy_ratio, 0.5);
  EXPECT_DOUBLE_EQ(rows[1].co2_ratio, 3);
  EXPECT_DOUBLE_EQ(rows[1].time_ratio, 2);
  EXPECT_DOUBLE_EQ(rows[1].accuracy_ratio, 1.1);
  EXPECT_EQ(rows[2].energy_ratio, 0);
  EXPECT_TRUE(std::isnan(rows[2].accuracy_ratio));  // c has no accuracy
  nlohmann::json j = RunComparisonsToJson(rows);
  EXPECT_TRUE(j[2]["accuracy_ratio"].is_null());
  EXPECT_EQ(j[1]["energy_ratio"], 0.5);
  EXPECT_THROW(CompareRuns({}), Error);
}

TEST(RunExportTest, EnergyReportJsonRoundTrips) {
  EnergyReport e = SomeEnergy();
  EnergyReport back = EnergyReportFromJson(EnergyReportToJson(e));
  EXPECT_EQ(EnergyReportToJson(back), EnergyReportToJson(e));
  EXPECT_EQ(back.components[1].component, Component::kRam);
  EXPECT_THROW(EnergyReportFromJson({{"energy_j", "many"}}), Error);
}

}  // namespace
}  // namespace joule
