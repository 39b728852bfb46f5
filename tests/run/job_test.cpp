// RunJob on a tiny CSV (one thread), and the job schema: bad configs are
// named by their key path before any data is read, and the schema and the
// config's fields agree.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <set>

#include "joule/run.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

using ::testing::HasSubstr;

std::string WriteCsv(const std::string& name, int rows) {
  std::string path = std::string(JOULE_TEST_BINARY_DIR) + "/" + name;
  std::ofstream out(path);
  out << "a,b,y\n";
  Rng rng(4);
  for (int i = 0; i < rows; ++i) {
    float a = rng.Normal(), b = 3 + 2 * rng.Normal();
    out << a << "," << b << "," << (a - 0.5f * b + 0.1f * rng.Normal()) << "\n";
  }
  return path;
}

TEST(RunJob, RunJobSaysWhenTheTargetIsNeverReached) {
  JobConfig c;
  c.data = WriteCsv("fit_test_job.csv", 80);
  c.target = "y";
  c.task = "regression";
  c.epochs = 3;
  c.batch_size = 16;
  c.threads = 1;
  c.validation_fraction = 0.2;
  c.target_metric.value = 1e-9;  // an rmse no model reaches
  c.loss = "annealed-huber";
  JobResult r = RunJob(c, nullptr);
  EXPECT_EQ(r.epochs, 3);
  EXPECT_EQ(r.stop_reason, StopReason::kEpochLimit);
  ASSERT_TRUE(r.target_reached.has_value());
  EXPECT_FALSE(*r.target_reached);
  bool said = false;
  for (const std::string& n : r.notes)
    said = said || n.find("not reached in 3 epochs") != std::string::npos;
  EXPECT_TRUE(said);
  EXPECT_EQ(r.eval_name, "holdout");
  EXPECT_EQ(r.final_eval.rows, 16);
  // Metered by default on whatever this machine has; the method says which.
  EXPECT_FALSE(r.energy.method.empty());
  EXPECT_GE(r.energy.energy_j, 0);
  EXPECT_THAT(r.energy.intensity_source, HasSubstr("world average"));
}

TEST(RunJob, BadConfigsNameTheFieldBeforeAnyDataIsRead) {
  auto expect_error = [](const std::function<void(JobConfig&)>& set, const std::string& field) {
    JobConfig c;
    c.data = "/nonexistent/never-read.csv";
    set(c);
    try {
      RunJob(c, nullptr);
      ADD_FAILURE() << "no Error for " << field;
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr(field));
      EXPECT_THAT(e.what(), ::testing::Not(HasSubstr("never-read")));
    }
  };
  expect_error([](JobConfig& c) { c.budget.energy_j = -5; }, "budget.energy_j");
  expect_error([](JobConfig& c) { c.budget.co2_g = 0; }, "budget.co2_g");
  expect_error([](JobConfig& c) { c.lr_schedule = "linear"; }, "lr_schedule");
  expect_error(
      [](JobConfig& c) {
        c.early_stopping.enabled = true;
        c.early_stopping.patience = -1;
      },
      "early_stopping.patience");
  expect_error([](JobConfig& c) { c.validation_fraction = 1.5; }, "validation_fraction");
  expect_error([](JobConfig& c) { c.checkpoint.every_epochs = 2; }, "checkpoint.dir");
  expect_error(
      [](JobConfig& c) {
        c.loss = "annealed-huber";
        c.annealed_huber.per = "batch";
      },
      "annealed_huber.per");
  expect_error(
      [](JobConfig& c) {
        c.budget.energy_j = 100;
        c.metering.enabled = false;
      },
      "metering.enabled");
  expect_error([](JobConfig& c) { c.target_metric.value = std::nan(""); }, "target_metric.value");
}

TEST(JobSchema, EveryRecipeKeyReadsBackWhatItWrites) {
  // A value inside each field's range, written with `set` and read with
  // `get`: a field wired to the wrong member of JobConfig fails here.
  for (const JobField& f : JobSchema()) {
    if (!f.recipe_key) continue;
    JobConfig c;
    FieldValue v;
    switch (f.type) {
      case FieldType::kString:
      case FieldType::kPath:
        v = f.choices.empty() ? std::string("x") : f.choices.back();
        break;
      case FieldType::kBoolean:
        v = !std::get<bool>(f.get(c));
        break;
      case FieldType::kInteger:
        v = static_cast<std::int64_t>(f.range.lo + 1);
        break;
      case FieldType::kNumber:
        v = f.range.hi_open || !std::isfinite(f.range.hi)
                ? (std::isfinite(f.range.lo) ? f.range.lo + 0.5 : 0.5)
                : f.range.hi;
        break;
    }
    ASSERT_EQ(CheckFieldValue(f, v), "") << f.key << " " << ShowFieldValue(v);
    f.set(c, v);
    EXPECT_TRUE(f.get(c) == v) << f.key;
  }
}

TEST(JobSchema, KeysAreUniqueAndFlagsToo) {
  std::set<std::string> keys, flags;
  for (const JobField& f : JobSchema()) {
    if (f.recipe_key) {
      EXPECT_TRUE(keys.insert(f.key).second) << f.key;
    }
    if (!f.flag.empty()) {
      EXPECT_TRUE(flags.insert(f.flag).second) << f.flag;
    }
    EXPECT_NE(FindJobField(f.key), nullptr) << f.key;
  }
}

TEST(JobSchema, ProblemsNameTheKeyPathNotAFlag) {
  JobConfig c;
  c.epochs = 0;
  std::optional<ConfigProblem> p = FindConfigProblem(c);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->key, "epochs");
  EXPECT_EQ(p->Message(), "epochs = 0: must be >= 1");
  c = JobConfig();
  c.precision = "fp8";
  p = FindConfigProblem(c);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->Message(), "precision = \"fp8\": must be one of: f32, bf16");
  EXPECT_FALSE(FindConfigProblem(JobConfig()).has_value());
}

TEST(JobSchema, ResolvingKeepsTheCarbonModelForTheRun) {
  JobConfig c;
  c.metering.carbon.country_iso3 = "FRA";
  ASSERT_FALSE(ResolveJobConfig(c).has_value());
  ASSERT_NE(c.metering.resolved_carbon, nullptr);
  EXPECT_THAT(c.metering.resolved_carbon->source(), HasSubstr("FRA"));
  // Resolved already: not read again (a bad location is not seen any more).
  JobConfig again = c;
  again.metering.carbon.country_iso3 = "XYZ";
  EXPECT_FALSE(ResolveJobConfig(again).has_value());
  JobConfig bad;
  bad.metering.carbon.country_iso3 = "XYZ";
  std::optional<ConfigProblem> p = ResolveJobConfig(bad);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->key, "metering.carbon.country_iso3");
  EXPECT_EQ(bad.metering.resolved_carbon, nullptr);
}

TEST(JobSchema, TextFromTheCommandLineIsParsedByType) {
  const JobField* epochs = FindJobField("epochs");
  ASSERT_NE(epochs, nullptr);
  FieldValue v;
  EXPECT_EQ(ParseFieldText(*epochs, "12", &v), "");
  EXPECT_TRUE(v == FieldValue(std::int64_t{12}));
  EXPECT_EQ(ParseFieldText(*epochs, "12.5", &v), "is not an integer");
  EXPECT_EQ(CheckFieldValue(*epochs, FieldValue(std::int64_t{-3})), "must be >= 1");
}

TEST(RunRecords, ConfigIsFlatSchemaKeysAndEpochsBecomeRows) {
  JobConfig c;
  c.epochs = 7;
  c.budget.energy_j = 50;
  nlohmann::json j = JobConfigJson(c);
  EXPECT_EQ(j["epochs"], 7);
  EXPECT_EQ(j["budget.energy_j"], 50.0);
  EXPECT_FALSE(j.contains("budget.co2_g"));  // unset optional
  EXPECT_EQ(j["metering.attribution"], "process");
  JobResult r;
  r.epochs = 1;
  r.final_eval.accuracy = 0.9;
  EpochStats s;
  s.epoch = 1;
  s.energy_j = 12;
  s.eval.accuracy = 0.9;
  s.eval.rows = 10;
  r.history.push_back(s);
  RunRecord record = TrainRunRecord("mnist", c, r);
  EXPECT_EQ(record.kind, "train");
  EXPECT_EQ(record.metrics["accuracy"], 0.9);
  ASSERT_EQ(record.epochs.size(), 1u);
  EXPECT_EQ(record.epochs[0].energy_j, 12);
  EXPECT_EQ(record.epochs[0].metrics["accuracy"], 0.9);
  EXPECT_EQ(record.metrics["epochs"], 1);
}

}  // namespace
}  // namespace joule
