// Recipes and the main job through the joule binary: a bad recipe ends in one
// line naming the file, the key and its line, with a non-zero exit; a target
// the metric can never reach runs to the epoch limit and says so; flags
// override a recipe; `joule demo --json` has the documented shape. Everything
// runs on one thread on tiny data (or one MNIST epoch) to stay fast.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "e2e/e2e_util.hpp"

namespace joule::test {
namespace {

// A regression table of 200 rows, y = 3 x1 - 2 x2 + noise, so no model's
// RMSE can reach 0.
std::string TinyCsv() {
  std::string csv = "x1,x2,y\n";
  std::uint64_t state = 12345;
  auto next = [&state] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<double>(state >> 11) / 9007199254740992.0;  // [0, 1)
  };
  for (int i = 0; i < 200; ++i) {
    double x1 = next(), x2 = next();
    double y = 3 * x1 - 2 * x2 + (next() - 0.5);
    csv += std::to_string(x1) + "," + std::to_string(x2) + "," + std::to_string(y) + "\n";
  }
  return csv;
}

// Writes `body` as DIR/NAME (with tiny.csv beside it) and returns its path.
std::string Recipe(const std::string& dir_name, const std::string& body,
                   const std::string& name = "recipe.toml") {
  std::string dir = ScratchDir(dir_name);
  WriteBytes(dir + "/tiny.csv", TinyCsv());
  WriteBytes(dir + "/" + name, body);
  return dir + "/" + name;
}

// The head of a recipe that trains on tiny.csv (relative to the recipe).
const char* kTinyHead =
    "data = \"tiny.csv\"\n"        // line 1
    "target = \"y\"\n"             // line 2
    "task = \"regression\"\n"      // line 3
    "epochs = 3\n"                 // line 4
    "batch_size = 16\n"            // line 5
    "threads = 1\n"                // line 6
    "optimizer.kind = \"adam\"\n"  // line 7
    "optimizer.lr = 0.01\n";       // line 8

void ExpectOneLineError(const CommandResult& r, const std::vector<std::string>& parts) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  for (const std::string& p : parts)
    EXPECT_NE(r.err.find(p), std::string::npos) << p << "\n" << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(Recipe, UnknownKeyNamesFileKeyLineAndSuggestion) {
  std::string path = Recipe("recipe_unknown", std::string(kTinyHead) +
                                                  "[early_stopping]\n"  // line 9
                                                  "enabled = true\n"    // line 10
                                                  "patiense = 2\n");    // line 11
  auto r = RunJoule("train --recipe " + path);
  ExpectOneLineError(r, {path + ":11:", "unknown key 'early_stopping.patiense'",
                         "did you mean 'early_stopping.patience'"});
}

TEST(Recipe, UnknownTableIsNamed) {
  std::string path =
      Recipe("recipe_unknown_table", std::string(kTinyHead) + "[optimiser]\nlr = 0.1\n");
  auto r = RunJoule("train --recipe " + path);
  ExpectOneLineError(r, {path + ":9:", "unknown table [optimiser]", "did you mean [optimizer]"});
}

TEST(Recipe, WrongTypeNamesFileKeyLineAndBothTypes) {
  std::string path = Recipe("recipe_type", "data = \"tiny.csv\"\nepochs = \"twenty\"\n");
  auto r = RunJoule("train --recipe " + path);
  ExpectOneLineError(r,
                     {path + ":2:", "'epochs' must be an integer", "found a string (\"twenty\")"});
}

TEST(Recipe, TableGivenAsValueIsAWrongType) {
  std::string path = Recipe("recipe_table_type", std::string(kTinyHead) + "budget = 100\n");
  auto r = RunJoule("train --recipe " + path);
  ExpectOneLineError(r, {path + ":9:", "'budget' must be a table"});
}

TEST(Recipe, NegativeBudgetNamesFileKeyAndLine) {
  std::string path = Recipe("recipe_budget", std::string(kTinyHead) +
                                                 "\n"                 // line 9
                                                 "[budget]\n"         // line 10
                                                 "energy_j = -5\n");  // line 11
  auto r = RunJoule("train --recipe " + path);
  ExpectOneLineError(r, {path + ":11:", "'budget.energy_j' = -5", "must be > 0"});
}

TEST(Recipe, OutOfRangeFractionNamesKey) {
  std::string path =
      Recipe("recipe_fraction", std::string(kTinyHead) + "validation_fraction = 1.5\n");
  auto r = RunJoule("train --recipe " + path);
  ExpectOneLineError(r, {path + ":9:", "'validation_fraction' = 1.5", "[0, 1)"});
}

TEST(Recipe, UnknownChoiceListsTheValidOnes) {
  std::string path = Recipe("recipe_choice", std::string(kTinyHead) + "precision = \"fp16\"\n");
  auto r = RunJoule("train --recipe " + path);
  ExpectOneLineError(r, {path + ":9:", "'precision' = \"fp16\"", "f32, bf16"});
}

TEST(Recipe, SyntaxErrorNamesLineAndColumn) {
  std::string path = Recipe("recipe_syntax", "epochs = 3\n[optimizer\nlr = 0.1\n");
  auto r = RunJoule("train --recipe " + path);
  ExpectOneLineError(r, {path + ":2:", "not valid TOML"});
}

TEST(Recipe, CrossFieldErrorFromTheTrainLayerGetsTheRecipeLine) {
  std::string path = Recipe("recipe_cross", std::string(kTinyHead) +
                                                "[metering]\n"        // line 9
                                                "enabled = false\n"   // line 10
                                                "[budget]\n"          // line 11
                                                "energy_j = 100\n");  // line 12
  auto r = RunJoule("train --recipe " + path);
  ExpectOneLineError(r, {path + ":10:", "metering.enabled = false", "budget"});
}

TEST(Recipe, MissingFileIsOneLine) {
  std::string dir = ScratchDir("recipe_missing");
  auto r = RunJoule("train --recipe " + dir + "/nope.toml");
  ExpectOneLineError(r, {dir + "/nope.toml", "--recipe"});
}

TEST(Recipe, UnreachableTargetRunsToTheEpochLimitAndSaysSo) {
  std::string path = Recipe("recipe_target", std::string(kTinyHead) +
                                                 "[target_metric]\n"
                                                 "monitor = \"rmse\"\n"
                                                 "value = 1e-9\n");
  auto text = RunJoule("train --recipe " + path);
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("target not reached"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("epoch limit"), std::string::npos) << text.out;
  // One progress line per epoch on a pipe.
  EXPECT_NE(text.err.find("epoch   3/3"), std::string::npos) << text.err;

  auto json = RunJoule("train --recipe " + path + " --json");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  nlohmann::json j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["epochs"], 3);
  EXPECT_EQ(j["target_reached"], false);
  EXPECT_EQ(j["stop_reason"], "epoch-limit");
}

TEST(Recipe, FlagsOverrideTheRecipeAndTheRestStands) {
  std::string path = Recipe("recipe_override", kTinyHead);
  auto r = RunJoule("train --recipe " + path + " --epochs 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["epochs"], 1);  // the flag
  // batch_size 16 from the recipe: 160 training rows (80% of 200) -> 10 steps.
  EXPECT_EQ(j["steps"], 10);
  // A run this short may see no CPU tick, so only the label is checked here;
  // the demo test checks energy on MNIST epochs.
  EXPECT_FALSE(j["energy_method"].get<std::string>().empty());
}

TEST(Recipe, ABadFlagValueIsNotBlamedOnTheRecipe) {
  std::string path = Recipe("recipe_bad_flag", kTinyHead);
  auto r = RunJoule("train --recipe " + path + " --epochs 0");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.find(path), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--epochs"), std::string::npos) << r.err;
}

TEST(Study, LossesJsonHasEveryLossAndSeed) {
  std::string dir = ScratchDir("study_losses");
  WriteBytes(dir + "/tiny.csv", TinyCsv());
  auto r = RunJoule("study losses --data " + dir +
                    "/tiny.csv --target y --seeds 2 --max-epochs 3 --threads 1 --lr 0.01 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["losses"].size(), 5u) << r.out;
  std::vector<std::string> names;
  for (const nlohmann::json& loss : j["losses"]) {
    names.push_back(loss["loss"]);
    ASSERT_EQ(loss["runs"].size(), 2u);
    EXPECT_EQ(loss["runs"][0]["seed"], 1);
    EXPECT_EQ(loss["runs"][1]["seed"], 2);
    EXPECT_EQ(loss["final_rmse"]["n"], 2);
    EXPECT_GT(loss["final_rmse"]["mean"].get<double>(), 0);
    EXPECT_GE(loss["final_rmse"]["sd"].get<double>(), 0);
    for (const nlohmann::json& run : loss["runs"]) {
      EXPECT_EQ(run["epochs"], 3);
      // Reached exactly when it has an epoch count, within the limit.
      if (run["reached"].get<bool>()) {
        EXPECT_GE(run["epochs_to_target"].get<int>(), 1);
        EXPECT_LE(run["epochs_to_target"].get<int>(), 3);
      } else {
        EXPECT_TRUE(run["epochs_to_target"].is_null());
      }
    }
  }
  EXPECT_EQ(names, (std::vector<std::string>{"mse", "mae", "huber", "log-cosh", "annealed-huber"}));
  EXPECT_GT(j["target_rmse"].get<double>(), 0);
  // One progress line per run on stderr.
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 10) << r.err;
}

TEST(Study, UnknownLossIsOneLine) {
  std::string dir = ScratchDir("study_bad_loss");
  WriteBytes(dir + "/tiny.csv", TinyCsv());
  auto r = RunJoule("study losses --data " + dir + "/tiny.csv --target y --losses mse,l1");
  ExpectOneLineError(r, {"--losses", "'l1'"});
}

TEST(Demo, JsonHasAnObjectPerRecipe) {
  const std::string report = ScratchDir("demo_json") + "/demo.html";
  auto r = RunJoule("demo --max-epochs 1 --threads 1 --json --report " + report);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  for (const char* name : {"baseline", "green"}) {
    ASSERT_TRUE(j.contains(name)) << r.out;
    const nlohmann::json& o = j[name];
    EXPECT_GT(o["test_accuracy"].get<double>(), 0.5) << name;
    EXPECT_LE(o["test_accuracy"].get<double>(), 1.0) << name;
    EXPECT_EQ(o["epochs"], 1) << name;
    EXPECT_GT(o["seconds"].get<double>(), 0) << name;
    EXPECT_GT(o["energy_j"].get<double>(), 0) << name;
    EXPECT_NE(o["energy_method"].get<std::string>().find(':'), std::string::npos) << name;
    EXPECT_GE(o["co2_g"].get<double>(), 0) << name;
  }
  EXPECT_EQ(j["baseline"]["precision"], "f32");
  EXPECT_EQ(j["green"]["precision"], "bf16");
  EXPECT_TRUE(j["saving"].contains("energy_percent"));
  // The green model run for inference, f32 and int8, each with its method.
  for (const char* name : {"f32", "int8"}) {
    const nlohmann::json& o = j["inference"][name];
    EXPECT_GT(o["accuracy"].get<double>(), 0.5) << name;
    EXPECT_GT(o["throughput_per_s"].get<double>(), 0) << name;
    EXPECT_GT(o["j_per_1000"].get<double>(), 0) << name;
    EXPECT_NE(o["energy_method"].get<std::string>().find(':'), std::string::npos) << name;
  }
  // Progress on stderr, one line per epoch of each recipe.
  EXPECT_NE(r.err.find("baseline: epoch   1/1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("green: epoch   1/1"), std::string::npos) << r.err;
  // The report of both recipes' runs, and where it is.
  EXPECT_EQ(j["report"], report);
  EXPECT_NE(r.err.find("written to " + report), std::string::npos) << r.err;
  std::ifstream in(report);
  std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const char* part : {"train run ", ": baseline</h2>", ": green</h2>", "data-plot=\"power\"",
                           "data-plot=\"pareto\"", "Software Carbon Intensity", "est."}) {
    EXPECT_NE(html.find(part), std::string::npos) << part;
  }
}

TEST(Demo, TableNamesMethodIntensityAndSource) {
  const std::string dir = ScratchDir("demo_table");
  auto r = RunJoule("demo --max-epochs 1 --threads 1 --country FRA --report " + dir + "/demo.md");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* part :
       {"energy J", "energy Wh", "gCO2eq", "saving", "baseline", "green",
        "energy method:", "carbon intensity:", "FRA", "g/kWh", "not the main job's figures"}) {
    EXPECT_NE(r.out.find(part), std::string::npos) << part << "\n" << r.out;
  }
  // A Markdown report links its plots, written beside it.
  EXPECT_TRUE(std::filesystem::exists(dir + "/demo.md")) << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir + "/demo-pareto.svg")) << r.err;
}

TEST(Demo, AReportThatIsNeitherHtmlNorMarkdownIsRefusedBeforeTraining) {
  auto r = RunJoule("demo --max-epochs 1 --report out.pdf");
  ExpectOneLineError(r, {"out.pdf", "FILE.html", "FILE.md"});
}

TEST(Demo, MissingRecipesDirIsOneLine) {
  std::string dir = ScratchDir("demo_no_recipes");
  auto r = RunJoule("demo --recipes " + dir);
  ExpectOneLineError(r, {dir + "/mnist-baseline.toml", "recipe not found"});
}

}  // namespace
}  // namespace joule::test
