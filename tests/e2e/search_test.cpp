// joule search through the binary: a small search records a front, and bad
// input is one line, a non-zero exit and no finished search in the ledger.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "e2e/e2e_util.hpp"

namespace joule::test {
namespace {

std::string Space(const std::string& dir, const std::string& params) {
  const std::string path = dir + "/space.toml";
  WriteBytes(path, "[params]\n" + params);
  return path;
}

// The searches recorded in the ledger, as `runs list --json` gives them.
nlohmann::json Searches(const std::string& ledger) {
  CommandResult r = RunJoule("runs list --json --ledger " + ledger);
  nlohmann::json all = nlohmann::json::parse(r.out.empty() ? "[]" : r.out);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& run : all) {
    if (run["kind"] == "search") out.push_back(run);
  }
  return out;
}

TEST(Search, FindsAFrontOnHousingAndRecordsEveryTrialUnderIt) {
  const std::string dir = ScratchDir("search_small");
  const std::string space = Space(dir,
                                  "\"optimizer.lr\" = { log = [0.001, 0.05] }\n"
                                  "model = { choice = [\"mlp:8\", \"mlp:32\"] }\n");
  const std::string recipe = dir + "/housing.toml";
  WriteBytes(recipe, "data = \"" JOULE_SOURCE_DATA_DIR
                     "/cal-housing/cal_housing.csv\"\n"
                     "target = \"median_house_value\"\ntask = \"regression\"\nepochs = 3\n"
                     "batch_size = 256\nvalidation_fraction = 0.2\n[optimizer]\nkind = \"adam\"\n");
  const std::string ledger = dir + "/ledger.db";
  CommandResult r = RunJoule("search --recipe " + recipe + " --space " + space +
                             " --trials 4 --objectives rmse,energy --json --ledger " + ledger);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["trials"], 4);
  ASSERT_GE(j["front"].size(), 1u);
  EXPECT_GT(j["hypervolume_by_energy"].back()[1].get<double>(), 0.0);
  EXPECT_EQ(j["energy_method"], "estimated:tdp-model");
  // The search run and its four trials, each with the search as parent.
  nlohmann::json searches = Searches(ledger);
  ASSERT_EQ(searches.size(), 1u);
  EXPECT_EQ(searches[0]["status"], "completed");
  CommandResult list = RunJoule("runs list --json --ledger " + ledger);
  int children = 0;
  for (const auto& run : nlohmann::json::parse(list.out)) {
    if (run["kind"] == "train" && run.value("parent_id", "") == j["search_id"]) ++children;
  }
  EXPECT_EQ(children, 4);
}

// Successive halving pauses trials at each rung and resumes the promoted ones
// from their checkpoints: the trial that reaches its epoch limit must end
// exactly as one uninterrupted `joule train` of its values, with each epoch
// recorded once, and every trial is one run under the search.
TEST(Search, HalvingResumesPromotedTrialsExactlyAsUninterrupted) {
  const std::string dir = ScratchDir("search_halving");
  const std::string space = Space(dir,
                                  "\"optimizer.lr\" = { choice = [0.003, 0.01] }\n"
                                  "model = { choice = [\"mlp:8\", \"mlp:32\"] }\n"
                                  "epochs = { choice = [3, 4] }\n");
  const std::string recipe = dir + "/housing.toml";
  const std::string body = "data = \"" JOULE_SOURCE_DATA_DIR
                           "/cal-housing/cal_housing.csv\"\n"
                           "target = \"median_house_value\"\ntask = \"regression\"\n"
                           "batch_size = 256\nvalidation_fraction = 0.2\n";
  WriteBytes(recipe, body + "[optimizer]\nkind = \"adam\"\n");
  const std::string ledger = dir + "/ledger.db";
  CommandResult r =
      RunJoule("search --recipe " + recipe + " --space " + space +
               " --trials 4 --eta 2 --objectives rmse,energy --json --ledger " + ledger);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("rung 1 (epoch 1): 2 of 4 paused trials go on"), std::string::npos) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["trials"], 4);
  EXPECT_GE(j["pruned"].get<int>(), 2);  // two not promoted after the first rung
  ASSERT_GE(j["front"].size(), 1u);
  const nlohmann::json& best = j["front"][0];
  const nlohmann::json& v = best["values"];
  CommandResult train = RunJoule(
      "train --recipe " + recipe + " --lr " + v["optimizer.lr"].get<std::string>() + " --model " +
      nlohmann::json::parse(v["model"].get<std::string>()).get<std::string>() + " --epochs " +
      v["epochs"].get<std::string>() + " --json --no-ledger");
  ASSERT_EQ(train.exit_code, 0) << train.err;
  nlohmann::json alone = nlohmann::json::parse(train.out);
  EXPECT_EQ(alone["monitored"]["rmse"].get<double>(), best["rmse"].get<double>());
  EXPECT_EQ(alone["rmse"].get<double>(), best["test_rmse"].get<double>());
  // It was paused at the second rung (epoch 2) and resumed from there, and its
  // run holds each of its epochs once, 1..limit.
  CommandResult show =
      RunJoule("runs show " + best["run_id"].get<std::string>() + " --json --ledger " + ledger);
  ASSERT_EQ(show.exit_code, 0) << show.err;
  nlohmann::json run = nlohmann::json::parse(show.out);
  EXPECT_EQ(run["metrics"].value("resumed_from_epoch", 0), 2) << show.out;
  ASSERT_EQ(run["epochs"].size(), std::stoul(v["epochs"].get<std::string>())) << show.out;
  for (std::size_t e = 0; e < run["epochs"].size(); ++e) {
    EXPECT_EQ(run["epochs"][e]["epoch"], e + 1);
  }
  int children = 0;
  for (const auto& child :
       nlohmann::json::parse(RunJoule("runs list --json --ledger " + ledger).out)) {
    if (child["kind"] == "train" && child.value("parent_id", "") == j["search_id"]) {
      ++children;
      EXPECT_EQ(child["status"], "completed");
    }
  }
  EXPECT_EQ(children, 4);
}

TEST(Search, BadInputIsOneLineNonZeroAndNoFinishedSearch) {
  const std::string dir = ScratchDir("search_bad");
  const std::string ledger = dir + "/ledger.db";
  const std::string base = "search --recipe " JOULE_SOURCE_DATA_DIR
                           "/../recipes/mnist-baseline.toml --ledger " +
                           ledger + " --space ";
  struct Case {
    std::string params, extra, expected;
  };
  const Case cases[] = {
      {"learning_rate = { log = [0.01, 0.1] }\n", "--trials 2", "unknown key 'learning_rate'"},
      {"epochs = { int = [4, 2] }\n", "--trials 2", "empty range"},
      {"\"optimizer.lr\" = { log = [0, 0.1] }\n", "--trials 2", "a log range needs bounds > 0"},
      {"epochs = { int = [2, 3] }\n", "", "give --trials N or --budget-j J"},
      {"epochs = { int = [2, 3] }\n", "--trials 2 --objectives energy,params",
       "exactly one of accuracy"},
      // Far below one epoch of the MNIST MLP: stops after that epoch.
      {"epochs = { int = [2, 3] }\n", "--trials 2 --budget-j 0.001",
       "below one epoch of the first trial"},
      {"epochs = { int = [2, 3] }\n", "--strategy random --budget-j 0.001",
       "below one epoch of the first trial"},
      {"epochs = { int = [2, 3] }\n", "--budget-j 5", "--strategy halving needs --trials N"},
      {"epochs = { int = [2, 3] }\n", "--trials 2 --eta 1", "--eta 1: must be >= 2"},
      {"epochs = { int = [2, 3] }\n", "--trials 2 --strategy grid", "unknown strategy 'grid'"},
  };
  int i = 0;
  for (const Case& c : cases) {
    const std::string sub = dir + "/" + std::to_string(i++);
    std::filesystem::create_directories(sub);
    CommandResult r = RunJoule(base + Space(sub, c.params) + " " + c.extra);
    EXPECT_NE(r.exit_code, 0) << c.expected;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  for (const auto& run : Searches(ledger)) EXPECT_NE(run["status"], "completed") << run.dump();
}

}  // namespace
}  // namespace joule::test
