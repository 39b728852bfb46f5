// joule train --bandit-batches: a recurring job's batch size chosen from its
// earlier runs in the ledger, each arm tried once first, then a cutoff at
// beta x the best mean cost; bad input is one line and a non-zero exit.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "e2e/e2e_util.hpp"

namespace joule::test {
namespace {

std::string HousingTrain(const std::string& extra) {
  return "train --data " JOULE_SOURCE_DATA_DIR
         "/cal-housing/cal_housing.csv --target median_house_value --task regression "
         "--epochs 12 --validation 0.2 --optimizer adam --lr 0.003 --json " +
         extra;
}

TEST(Bandit, TriesEachBatchOnceThenCutsOffAtBetaTimesTheBestMean) {
  const std::string dir = ScratchDir("bandit_runs");
  const std::string ledger = dir + "/ledger.db";
  const std::string flags =
      "--target-rmse 64000 --bandit-batches 64,256,1024 --bandit-beta 2 "
      "--bandit-job housing --ledger " +
      ledger;
  std::vector<nlohmann::json> runs;
  for (int i = 0; i < 4; ++i) {
    CommandResult r = RunJoule(HousingTrain(flags));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    runs.push_back(nlohmann::json::parse(r.out)["bandit"]);
    EXPECT_EQ(runs.back()["observed"], i) << r.err;
  }
  // Every arm once, in the order given, without a cutoff.
  const std::int64_t order[] = {64, 256, 1024};
  double best = 1e300;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(runs[i]["batch_size"], order[i]);
    EXPECT_EQ(runs[i]["cutoff_j"], 0.0);
    best = std::min(best, runs[i]["cost_j"].get<double>());
  }
  // Then the cutoff is beta x the best mean (one run each: its cost).
  EXPECT_DOUBLE_EQ(runs[3]["cutoff_j"].get<double>(), 2 * best);
  // The runs are tagged for the job in the ledger.
  CommandResult list = RunJoule("runs list --json --tag bandit:housing --ledger " + ledger);
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(nlohmann::json::parse(list.out).size(), 4u);
}

TEST(Bandit, BadInputIsOneLineNonZero) {
  const std::string dir = ScratchDir("bandit_bad");
  const std::string ledger = " --ledger " + dir + "/ledger.db";
  struct Case {
    std::string extra, expected;
  };
  const Case cases[] = {
      {"--bandit-batches 64,256 --bandit-job h" + ledger, "minimises the energy to reach a target"},
      {"--target-rmse 60000 --bandit-batches 64,256 --bandit-job h --no-ledger",
       "keeps its state in the ledger"},
      {"--target-rmse 60000 --bandit-batches 64,x" + ledger + " --bandit-job h",
       "'x' is not a batch size"},
      {"--target-rmse 60000 --bandit-batches 64,64 --bandit-job h" + ledger, "is given twice"},
      {"--target-rmse 60000 --bandit-batches 64,256 --bandit-beta 1 --bandit-job h" + ledger,
       "must be > 1"},
      {"--target-rmse 60000 --bandit-batches 64,256" + ledger, "--bandit-job"},
  };
  for (const Case& c : cases) {
    CommandResult r = RunJoule(HousingTrain(c.extra));
    EXPECT_NE(r.exit_code, 0) << c.expected;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

}  // namespace
}  // namespace joule::test
