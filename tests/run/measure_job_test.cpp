// The measure job without the command line: its problems are named by key
// before anything runs, and a real command is metered and recorded.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "joule/ledger.hpp"
#include "joule/run.hpp"
#include "test_scratch.hpp"

namespace joule {
namespace {

using ::testing::HasSubstr;

std::string Scratch() { return test::TestScratchDir("measure_job", true); }

ConfigProblem ProblemOf(MeasureJob job) {
  std::optional<ConfigProblem> p = ResolveMeasureJob(job);
  EXPECT_TRUE(p.has_value());
  return p.value_or(ConfigProblem{});
}

TEST(MeasureJob, ProblemsNameTheirKeyBeforeAnythingRuns) {
  MeasureJob none;
  EXPECT_EQ(ProblemOf(none).key, "command");
  EXPECT_THAT(ProblemOf(none).what, HasSubstr("missing command"));

  MeasureJob both;
  both.command = {"true"};
  both.pid = 1;
  EXPECT_THAT(ProblemOf(both).what, HasSubstr("not both"));

  MeasureJob negative;
  negative.pid = -4;
  EXPECT_EQ(ProblemOf(negative).key, "pid");
  EXPECT_EQ(ProblemOf(negative).value, "-4");

  MeasureJob fast;
  fast.command = {"true"};
  fast.metering.interval_s = 0.001;
  EXPECT_EQ(ProblemOf(fast).key, "metering.interval_s");

  // The metering fields go through the job schema: the same range as a recipe's.
  MeasureJob pue;
  pue.command = {"true"};
  pue.metering.carbon.pue = 0.5;
  EXPECT_EQ(ProblemOf(pue).key, "metering.carbon.pue");
  EXPECT_THAT(ProblemOf(pue).what, HasSubstr(">= 1"));

  MeasureJob country;
  country.command = {"true"};
  country.metering.carbon.country_iso3 = "XYZ";
  EXPECT_THAT(ProblemOf(country).what, HasSubstr("XYZ"));

  std::string dir = Scratch();
  MeasureJob no_dir;
  no_dir.command = {"true"};
  no_dir.csv = dir + "/missing/emissions.csv";
  EXPECT_EQ(ProblemOf(no_dir).key, "csv");
  EXPECT_THAT(ProblemOf(no_dir).what, HasSubstr("does not exist"));

  std::string other = dir + "/other.csv";
  std::ofstream(other) << "a,b,c\n1,2,3\n";
  MeasureJob not_codecarbon;
  not_codecarbon.command = {"true"};
  not_codecarbon.csv = other;
  // The writer's own words: which column differs.
  EXPECT_THAT(ProblemOf(not_codecarbon).what, HasSubstr("not a CodeCarbon emissions.csv"));
  EXPECT_THAT(ProblemOf(not_codecarbon).what, HasSubstr("column 1 is \"a\""));

  // A header with a UTF-8 byte order mark (the writer accepts it) is accepted.
  std::string bom = dir + "/bom.csv";
  std::string header;
  for (const std::string& c : CodeCarbonColumns()) header += (header.empty() ? "" : ",") + c;
  std::ofstream(bom) << "\xEF\xBB\xBF" << header << "\r\n";
  MeasureJob with_bom;
  with_bom.command = {"true"};
  with_bom.csv = bom;
  EXPECT_FALSE(ResolveMeasureJob(with_bom).has_value());
}

TEST(MeasureJob, GoodJobResolvesItsCarbonOnce) {
  MeasureJob job;
  job.command = {"true"};
  job.metering.carbon.country_iso3 = "FRA";
  EXPECT_FALSE(ResolveMeasureJob(job).has_value());
  ASSERT_NE(job.metering.resolved_carbon, nullptr);
  EXPECT_THAT(job.metering.resolved_carbon->source(), HasSubstr("FRA"));
}

TEST(MeasureJob, RunsTheCommandAndRecordsIt) {
  std::string dir = Scratch();
  MeasureJob job;
  job.command = {"/bin/sh", "-c", "exit 3"};
  job.metering.interval_s = 0.05;
  job.metering.sensors.cpu_tdp_w = 100;
  job.csv = dir + "/emissions.csv";
  job.samples = dir + "/samples.jsonl";
  job.ledger = {dir + "/ledger.db", true};
  MeasureResult r = RunMeasureJob(job);
  EXPECT_EQ(r.facts.exit_code, 3);
  EXPECT_EQ(r.facts.exit_text, "exit 3");
  EXPECT_EQ(r.record.status, RunStatus::kFailed);
  EXPECT_TRUE(r.csv_error.empty()) << r.csv_error;
  EXPECT_TRUE(r.samples_error.empty()) << r.samples_error;
  EXPECT_TRUE(std::filesystem::exists(job.csv));
  // The summary marks the model's figures as estimates, and the JSON agrees
  // with the record the ledger keeps.
  EXPECT_THAT(FormatMeasureSummary(r), HasSubstr("ESTIMATES"));
  nlohmann::json j = MeasureSummaryJson(r);
  EXPECT_EQ(j["exit_code"], 3);
  EXPECT_EQ(j["run_id"], r.record.id);
  std::unique_ptr<Ledger> ledger = Ledger::Open(job.ledger.path);
  RunRecord kept = ledger->Get(r.record.id);
  EXPECT_EQ(kept.kind, "measure");
  EXPECT_EQ(kept.status, RunStatus::kFailed);
  EXPECT_DOUBLE_EQ(kept.energy.energy_j, j["energy_j"].get<double>());
}

TEST(MeasureJob, CommandThatCannotStartLeavesNoOutput) {
  std::string dir = Scratch();
  MeasureJob job;
  job.command = {dir + "/no-such-program"};
  job.samples = dir + "/samples.jsonl";
  try {
    RunMeasureJob(job);
    FAIL() << "expected CommandNotStarted";
  } catch (const CommandNotStarted& e) {
    EXPECT_EQ(e.exit_code(), 127);
    EXPECT_THAT(e.what(), HasSubstr("cannot run"));
  }
  EXPECT_FALSE(std::filesystem::exists(job.samples));
}

}  // namespace
}  // namespace joule
