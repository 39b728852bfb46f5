// Search spaces: every malformed file is one line naming the file, the line
// and what is wrong; draws stay inside what the file allows.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "joule/search.hpp"

namespace joule {
namespace {

using ::testing::HasSubstr;

std::string ErrorOf(const std::string& text) {
  try {
    ParseSearchSpace(text, "space.toml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(SearchSpace, EachMalformedFileIsOneLineWithFileAndLine) {
  struct Case {
    std::string text, expected;
  };
  const Case cases[] = {
      {"[params]\n\"optimizer.lrr\" = { log = [0.01, 0.1] }\n",
       "space.toml:2: unknown key 'optimizer.lrr'; closest: optimizer.lr"},
      {"[params]\nepochs = { int = [5, 2] }\n", "space.toml:2: 'epochs': empty range"},
      {"[params]\n\"optimizer.lr\" = { range = [0.1, 0.1] }\n",
       "space.toml:2: 'optimizer.lr': empty range"},
      {"[params]\n\"optimizer.lr\" = { log = [0, 0.1] }\n",
       "space.toml:2: 'optimizer.lr': a log range needs bounds > 0"},
      {"[params]\n\"optimizer.lr\" = { log = [-1, 0.1] }\n", "a log range needs bounds > 0"},
      {"[params]\nbatch_size = { choice = [] }\n",
       "space.toml:2: 'batch_size': an empty choice list"},
      {"[params]\nprecision = { choice = [\"f32\", \"fp8\"] }\n",
       "space.toml:2: 'precision': choice \"fp8\" must be one of"},
      {"[params]\nbatch_size = { choice = [0] }\n", "'batch_size': choice 0 must be >= 1"},
      {"[params]\nprecision = { range = [1, 2] }\n", "'precision': range needs a number key"},
      {"[params]\nepochs = { range = [1, 2] }\n", "(use int)"},
      {"[params]\nepochs = { normal = [1, 2] }\n", "unknown kind 'normal'"},
      {"[params]\nepochs = 3\n", "'epochs': give one of { choice"},
      {"[params]\n", "no [params]"},
      {"epochs = { int = [1, 2] }\n", "space.toml:1: unknown table or key 'epochs'"},
      {"[params\n", "space.toml:1:"},
  };
  for (const Case& c : cases) {
    const std::string message = ErrorOf(c.text);
    EXPECT_THAT(message, HasSubstr(c.expected)) << c.text;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(SearchSpace, DrawsStayInsideTheSpaceAndReachItsEnds) {
  const SearchSpace space = ParseSearchSpace(
      "[params]\n"
      "\"optimizer.lr\" = { log = [0.001, 0.1] }\n"
      "\"optimizer.momentum\" = { range = [0.5, 0.9] }\n"
      "epochs = { int = [2, 4] }\n"
      "model = { choice = [\"mlp:32\", \"mlp:64,32\"] }\n",
      "space.toml");
  ASSERT_EQ(space.params.size(), 4u);
  Rng rng(5);
  const JobConfig base;
  std::set<int> epochs;
  std::set<std::string> models;
  int low_decade = 0;
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    const JobConfig c = SampleSearchSpace(space, base, rng);
    ASSERT_GE(c.optimizer.lr, 0.001);
    ASSERT_LT(c.optimizer.lr, 0.1);
    ASSERT_GE(c.optimizer.momentum, 0.5);
    ASSERT_LT(c.optimizer.momentum, 0.9);
    epochs.insert(c.epochs);
    models.insert(c.model);
    low_decade += c.optimizer.lr < 0.01;
  }
  EXPECT_EQ(epochs, (std::set<int>{2, 3, 4}));
  EXPECT_EQ(models, (std::set<std::string>{"mlp:32", "mlp:64,32"}));
  // Log-uniform: each decade gets half the draws (uniform would give 9 %).
  EXPECT_NEAR(static_cast<double>(low_decade) / n, 0.5, 0.05);
}

TEST(SearchSpace, ObjectivesAreNamed) {
  EXPECT_EQ(ParseObjective("energy"), Objective::kEnergy);
  EXPECT_STREQ(ObjectiveName(ParseObjective("params")), "params");
  EXPECT_THROW(ParseObjective("joules"), Error);
}

}  // namespace
}  // namespace joule
