// The run functions of the C API, through libjoule.so as a program loads it:
// a run recorded in a ledger with its tasks and epochs, its CodeCarbon row,
// and every misuse answered with -1 and one line, never a crash.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "joule/joule.h"
#include "test_scratch.hpp"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// One run as the ledger stores it, read with SQLite itself: the test links
// only libjoule.so, as a program using the C API does, so joule's C++ ledger
// is not at hand (and linking it statically beside the library would give
// the program a second copy of the C functions).
struct StoredRun {
  std::string kind, name, status, message;
  nlohmann::json energy, metrics;
  std::vector<nlohmann::json> epoch_metrics;
  bool found = false;
};

StoredRun ReadRun(const std::string& ledger, const std::string& id) {
  StoredRun run;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(ledger.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return run;
  }
  auto text = [](sqlite3_stmt* st, int col) {
    const unsigned char* t = sqlite3_column_text(st, col);
    return std::string(t != nullptr ? reinterpret_cast<const char*>(t) : "");
  };
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT kind, name, status, message, energy, metrics FROM runs WHERE id = ?",
                     -1, &st, nullptr);
  sqlite3_bind_text(st, 1, id.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(st) == SQLITE_ROW) {
    run.found = true;
    run.kind = text(st, 0);
    run.name = text(st, 1);
    run.status = text(st, 2);
    run.message = text(st, 3);
    run.energy = nlohmann::json::parse(text(st, 4));
    run.metrics = nlohmann::json::parse(text(st, 5));
  }
  sqlite3_finalize(st);
  sqlite3_prepare_v2(db, "SELECT metrics FROM epochs WHERE run_id = ? ORDER BY epoch", -1, &st,
                     nullptr);
  sqlite3_bind_text(st, 1, id.c_str(), -1, SQLITE_TRANSIENT);
  while (sqlite3_step(st) == SQLITE_ROW)
    run.epoch_metrics.push_back(nlohmann::json::parse(text(st, 0)));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return run;
}

joule_meter* FastMeter() {
  joule_options options;
  joule_options_init(&options);
  options.interval_s = 0.01;
  options.intensity_g_per_kwh = 100;
  options.cpu_tdp_w = 50;  // the model's figures when this machine has no sensor
  return joule_meter_create(&options);
}

void Busy() {
  volatile double x = 0;
  for (int i = 0; i < 2000000; ++i) x = x + 1.0 / (i + 1);
}

TEST(CApiRun, RecordsTasksEpochsAndTheCodeCarbonRow) {
  std::string dir = joule::test::TestScratchDir("capi", true);
  std::string ledger = dir + "/ledger.db";
  std::string csv = dir + "/emissions.csv";
  joule_meter* meter = FastMeter();
  ASSERT_NE(meter, nullptr) << joule_last_error();
  joule_run_options options;
  joule_run_options_init(&options);
  options.name = "capi test";
  options.ledger_path = ledger.c_str();
  options.config_json = R"({"project_name": "p1", "python_version": "3.11.2"})";
  joule_run* run = joule_run_create(meter, &options);
  ASSERT_NE(run, nullptr) << joule_last_error();
  ASSERT_EQ(joule_meter_start(meter), 0) << joule_last_error();
  ASSERT_EQ(joule_task_begin(meter, "epoch-1"), 0);
  ASSERT_EQ(joule_task_begin(meter, "overlap"), 0);
  Busy();
  joule_reading epoch;
  ASSERT_EQ(joule_task_end(meter, "epoch-1", &epoch), 0) << joule_last_error();
  ASSERT_EQ(joule_run_add_epoch(run, 1, epoch.duration_s, epoch.energy_j, epoch.emissions_g,
                                R"({"loss": 0.5})"),
            0)
      << joule_last_error();
  Busy();
  joule_reading total;
  ASSERT_EQ(joule_meter_stop(meter, &total), 0);  // ends "overlap"
  ASSERT_EQ(joule_run_finish(run, "completed", nullptr, R"({"accuracy": 0.9})"), 0)
      << joule_last_error();
  double kg = -1;
  ASSERT_EQ(joule_run_append_codecarbon_csv(run, csv.c_str(), &kg), 0) << joule_last_error();
  ASSERT_EQ(joule_run_append_codecarbon_csv(run, csv.c_str(), nullptr), 0);
  std::string id = joule_run_id(run);
  EXPECT_EQ(id.size(), 12u);
  joule_meter_destroy(meter);  // frees the run

  EXPECT_NEAR(kg, total.emissions_g / 1000, 1e-12);
  std::string text = ReadFile(csv);
  std::string header = text.substr(0, text.find('\n'));
  EXPECT_EQ(std::count(header.begin(), header.end(), ',') + 1, 38);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);  // header once, two rows
  EXPECT_THAT(text, HasSubstr(",p1,00000000-0000-4000-8000-" + id));
  EXPECT_THAT(text, HasSubstr("3.11.2"));

  StoredRun record = ReadRun(ledger, id);
  ASSERT_TRUE(record.found);
  EXPECT_EQ(record.kind, "python");
  EXPECT_EQ(record.name, "capi test");
  EXPECT_EQ(record.status, "completed");
  EXPECT_DOUBLE_EQ(record.energy["energy_j"].get<double>(), total.energy_j);
  EXPECT_NE(record.energy["method"], "");
  ASSERT_EQ(record.epoch_metrics.size(), 1u);
  EXPECT_EQ(record.epoch_metrics[0]["loss"], 0.5);
  EXPECT_EQ(record.metrics["accuracy"], 0.9);
  const nlohmann::json& tasks = record.metrics["tasks"];
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[0]["name"], "epoch-1");
  EXPECT_EQ(tasks[1]["name"], "overlap");
  EXPECT_DOUBLE_EQ(tasks[0]["energy"]["energy_j"].get<double>(), epoch.energy_j);
  EXPECT_EQ(tasks[0]["energy"]["method"], record.energy["method"]);
}

TEST(CApiRun, NoLedgerStillGivesAnIdAndARow) {
  std::string dir = joule::test::TestScratchDir("capi", true);
  joule_meter* meter = FastMeter();
  ASSERT_NE(meter, nullptr);
  joule_run_options options;
  joule_run_options_init(&options);
  options.ledger_path = "";
  joule_run* run = joule_run_create(meter, &options);
  ASSERT_NE(run, nullptr) << joule_last_error();
  ASSERT_EQ(joule_meter_start(meter), 0);
  ASSERT_EQ(joule_meter_stop(meter, nullptr), 0);
  ASSERT_EQ(joule_run_finish(run, nullptr, nullptr, nullptr), 0) << joule_last_error();
  EXPECT_EQ(std::string(joule_run_id(run)).size(), 12u);
  EXPECT_EQ(joule_run_append_codecarbon_csv(run, (dir + "/e.csv").c_str(), nullptr), 0);
  EXPECT_FALSE(std::filesystem::exists(dir + "/ledger.db"));
  joule_meter_destroy(meter);
}

TEST(CApiRun, MisuseIsAMessageNotACrash) {
  std::string dir = joule::test::TestScratchDir("capi", true);
  auto one_line = [](const char* message) {
    EXPECT_STRNE(message, "");
    EXPECT_THAT(message, Not(HasSubstr("\n")));
  };
  EXPECT_EQ(joule_run_create(nullptr, nullptr), nullptr);
  one_line(joule_last_error());
  EXPECT_EQ(joule_run_finish(nullptr, nullptr, nullptr, nullptr), -1);
  EXPECT_EQ(joule_run_add_epoch(nullptr, 1, 0, 0, 0, nullptr), -1);
  EXPECT_EQ(joule_run_append_codecarbon_csv(nullptr, "x.csv", nullptr), -1);
  EXPECT_STREQ(joule_run_id(nullptr), "");
  joule_run_options_init(nullptr);

  joule_meter* meter = FastMeter();
  ASSERT_NE(meter, nullptr);
  joule_run_options options;
  joule_run_options_init(&options);
  options.ledger_path = "";
  options.config_json = "[1, 2]";
  EXPECT_EQ(joule_run_create(meter, &options), nullptr);
  EXPECT_THAT(joule_last_error(), HasSubstr("JSON object"));
  options.config_json = "{not json";
  EXPECT_EQ(joule_run_create(meter, &options), nullptr);
  one_line(joule_last_error());
  options.config_json = nullptr;
  std::filesystem::create_directories(dir + "/file");
  std::string not_a_ledger = dir + "/file";  // a directory, not a database
  options.ledger_path = not_a_ledger.c_str();
  EXPECT_EQ(joule_run_create(meter, &options), nullptr);
  one_line(joule_last_error());
  options.ledger_path = "";
  joule_run* run = joule_run_create(meter, &options);
  ASSERT_NE(run, nullptr) << joule_last_error();
  EXPECT_EQ(joule_run_create(meter, &options), nullptr);  // one run per meter
  EXPECT_THAT(joule_last_error(), HasSubstr("already has a run"));
  EXPECT_EQ(joule_run_finish(run, nullptr, nullptr, nullptr), -1);  // never started
  EXPECT_THAT(joule_last_error(), HasSubstr("never started"));
  ASSERT_EQ(joule_meter_start(meter), 0);
  EXPECT_EQ(joule_run_finish(run, nullptr, nullptr, nullptr), -1);  // still running
  EXPECT_THAT(joule_last_error(), HasSubstr("joule_meter_stop"));
  EXPECT_EQ(joule_run_append_codecarbon_csv(run, "x.csv", nullptr), -1);  // not finished
  EXPECT_EQ(joule_run_add_epoch(run, 0, 1, 1, 1, nullptr), -1);
  EXPECT_THAT(joule_last_error(), HasSubstr(">= 1"));
  EXPECT_EQ(joule_run_add_epoch(run, 1, -1, 1, 1, nullptr), -1);
  EXPECT_EQ(joule_run_add_epoch(run, 1, 1, 1, 1, "3"), -1);
  EXPECT_EQ(joule_task_end(meter, "never-begun", nullptr), -1);
  EXPECT_THAT(joule_last_error(), HasSubstr("never-begun"));
  ASSERT_EQ(joule_meter_stop(meter, nullptr), 0);
  EXPECT_EQ(joule_run_finish(run, "running", nullptr, nullptr), -1);
  EXPECT_THAT(joule_last_error(), HasSubstr("expected completed, failed or stopped"));
  EXPECT_EQ(joule_run_finish(run, "bogus", nullptr, nullptr), -1);
  one_line(joule_last_error());
  ASSERT_EQ(joule_run_finish(run, "failed", "line one\nline two", nullptr), 0);
  EXPECT_EQ(joule_run_finish(run, nullptr, nullptr, nullptr), -1);
  EXPECT_THAT(joule_last_error(), HasSubstr("already finished"));
  EXPECT_EQ(joule_run_append_codecarbon_csv(run, "", nullptr), -1);
  std::string not_csv = dir + "/not.csv";
  std::ofstream(not_csv) << "a,b,c\n";
  EXPECT_EQ(joule_run_append_codecarbon_csv(run, not_csv.c_str(), nullptr), -1);
  one_line(joule_last_error());
  EXPECT_EQ(ReadFile(not_csv), "a,b,c\n");  // nothing written
  joule_meter_destroy(meter);
}

TEST(CApiRun, UnknownCountryAndPowerModelAreMessages) {
  joule_options options;
  joule_options_init(&options);
  options.power_model = "nope";
  EXPECT_EQ(joule_meter_create(&options), nullptr);
  EXPECT_THAT(joule_last_error(), HasSubstr("nope"));
  joule_options_init(&options);
  options.grid_region = "atlantis";
  EXPECT_EQ(joule_meter_create(&options), nullptr);
  EXPECT_THAT(joule_last_error(), HasSubstr("atlantis"));
  joule_options_init(&options);
  options.wue = -1;
  EXPECT_EQ(joule_meter_create(&options), nullptr);
  EXPECT_STRNE(joule_last_error(), "");
}

TEST(CApiRun, AnUnfinishedRunIsStoredAsFailed) {
  std::string dir = joule::test::TestScratchDir("capi", true);
  std::string ledger = dir + "/ledger.db";
  joule_meter* meter = FastMeter();
  ASSERT_NE(meter, nullptr);
  joule_run_options options;
  joule_run_options_init(&options);
  options.ledger_path = ledger.c_str();
  joule_run* run = joule_run_create(meter, &options);
  ASSERT_NE(run, nullptr) << joule_last_error();
  ASSERT_EQ(joule_meter_start(meter), 0);
  Busy();
  std::string id = joule_run_id(run);
  joule_meter_destroy(meter);  // never stopped nor finished
  StoredRun record = ReadRun(ledger, id);
  ASSERT_TRUE(record.found);
  EXPECT_EQ(record.status, "failed");
  EXPECT_GT(record.energy["energy_j"].get<double>(), 0);  // the last sample's figures
}

}  // namespace
