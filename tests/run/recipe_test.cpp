// Recipes through the run layer, without the joule binary: the two bundled
// recipes load and validate, and bad recipes fail with one line naming the
// file, the line and the key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "joule/run.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

using ::testing::HasSubstr;

std::string Bundled(const char* name) {
  return std::string(JOULE_SOURCE_DATA_DIR) + "/../recipes/" + name;
}

std::string ErrorOf(const std::string& text) {
  try {
    ParseRecipe(text, "/r/recipe.toml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Recipe, TheBaselineLoadsAndValidates) {
  Recipe r = LoadRecipe(Bundled("mnist-baseline.toml"));
  EXPECT_EQ(r.name, "baseline");
  EXPECT_EQ(r.config.data, "mnist");
  EXPECT_EQ(r.config.precision, "f32");
  EXPECT_EQ(r.config.epochs, 20);
  EXPECT_EQ(r.config.lr_schedule, "constant");
  EXPECT_EQ(r.config.optimizer.kind, "sgd");
  EXPECT_DOUBLE_EQ(r.config.optimizer.lr, 0.05);
  EXPECT_GT(r.key_lines.at("epochs"), 0);
  EXPECT_FALSE(FindConfigProblem(r.config).has_value());
}

TEST(Recipe, TheGreenRecipeLoadsAndValidates) {
  Recipe r = LoadRecipe(Bundled("mnist-green.toml"));
  EXPECT_EQ(r.name, "green");
  EXPECT_EQ(r.config.precision, "bf16");
  EXPECT_EQ(r.config.batch_size, 256);
  EXPECT_EQ(r.config.lr_schedule, "one-cycle");
  EXPECT_DOUBLE_EQ(r.config.validation_fraction, 0.05);
  ASSERT_TRUE(r.config.target_metric.value.has_value());
  EXPECT_DOUBLE_EQ(*r.config.target_metric.value, 0.9837);
  EXPECT_TRUE(r.config.early_stopping.enabled);
  EXPECT_FALSE(r.config.early_stopping.restore_best);
  EXPECT_TRUE(r.config.adaptive_batch.enabled);
  EXPECT_EQ(r.config.adaptive_batch.max_batch_size, 1024);
  EXPECT_FALSE(FindConfigProblem(r.config).has_value());
}

TEST(Recipe, BundledRecipesDirHoldsBoth) {
  Recipe r = LoadRecipe(BundledRecipesDir() + "/mnist-green.toml");
  EXPECT_EQ(r.name, "green");
}

TEST(Recipe, ErrorsNameFileLineAndKey) {
  EXPECT_EQ(ErrorOf("epochs = 3\n[budget]\nenergy_j = -5\n"),
            "/r/recipe.toml:3: 'budget.energy_j' = -5 is out of range: must be > 0 (the key is "
            "optional: remove it for none)");
  EXPECT_EQ(ErrorOf("precision = \"fp16\"\n"),
            "/r/recipe.toml:1: 'precision' = \"fp16\" is not one of: f32, bf16");
  EXPECT_THAT(ErrorOf("epochs = \"twenty\"\n"),
              HasSubstr("/r/recipe.toml:1: 'epochs' must be an integer, found a string"));
  EXPECT_THAT(ErrorOf("[early_stopping]\npatiense = 2\n"),
              HasSubstr("/r/recipe.toml:2: unknown key 'early_stopping.patiense': did you mean "
                        "'early_stopping.patience'?"));
  EXPECT_THAT(ErrorOf("epochs = 3\n[optimizer\n"), HasSubstr("/r/recipe.toml:2:"));
}

TEST(Recipe, RelativePathsAreTheRecipesAndMnistIsAKeyword) {
  Recipe r = ParseRecipe("data = \"t.csv\"\nsave_dir = \"out\"\n", "/r/x/recipe.toml");
  EXPECT_EQ(r.config.data, "/r/x/t.csv");
  EXPECT_EQ(r.config.save_dir, "/r/x/out");
  EXPECT_EQ(ParseRecipe("data = \"mnist\"\n", "/r/recipe.toml").config.data, "mnist");
}

TEST(Recipe, CrossFieldProblemsGetTheLineOfTheKey) {
  Recipe r = ParseRecipe("[metering]\nenabled = false\n[budget]\nenergy_j = 100\n", "/r/a.toml");
  std::optional<ConfigProblem> p = FindConfigProblem(r.config);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->key, "metering.enabled");
  EXPECT_EQ(RecipeProblemMessage(r, *p),
            "/r/a.toml:2: metering.enabled = false: a budget needs the meter: enable it or remove "
            "the budget");
}

TEST(Recipe, KeysListEveryField) {
  std::vector<std::string> keys = RecipeKeys();
  EXPECT_THAT(keys, ::testing::Contains("budget.energy_j  number > 0 (optional)"));
  EXPECT_THAT(keys, ::testing::Contains("epochs  integer >= 1"));
}

}  // namespace
}  // namespace joule
