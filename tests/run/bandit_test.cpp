// The batch-size bandit on a synthetic job whose cost per batch size is
// known: it must find the cheapest arm and then keep choosing it.
#include "joule/bandit.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace joule {
namespace {

// Energy to the target per batch size (J), and noise of 5 % per run.
const std::map<std::int64_t, double> kTrueCost = {
    {32, 100.0}, {64, 70.0}, {128, 55.0}, {256, 80.0}, {512, 120.0}};

// One run of the synthetic job: its noisy cost, cut off where the bandit says.
double RunJob(std::int64_t batch, double cutoff, Rng& noise) {
  const double cost = kTrueCost.at(batch) * (1.0 + 0.05 * noise.Normal());
  return cutoff > 0 ? std::min(cost, cutoff) : cost;
}

// Over 20 seeds: by run 20 the best arm is the cheapest, and of runs 21-40
// at least 18 use it. (5 arms: 5 runs to try each, then Thompson sampling.)
TEST(BatchSizeBandit, FindsTheCheapestArmWithinTwentyRunsAndKeepsIt) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    BatchSizeBandit bandit({32, 64, 128, 256, 512}, 2.0);
    Rng rng(seed), noise(seed + 1000);
    int cheapest_late = 0;
    for (int run = 1; run <= 40; ++run) {
      const std::int64_t batch = bandit.Next(rng);
      if (run <= 5) {
        EXPECT_EQ(batch, bandit.arms()[run - 1]) << "every arm once, in order";
      }
      bandit.Observe({batch, RunJob(batch, bandit.CutoffJ(), noise)});
      if (run == 20) {
        EXPECT_EQ(bandit.Best(), 128) << "seed " << seed;
      }
      if (run > 20) cheapest_late += batch == 128;
    }
    EXPECT_GE(cheapest_late, 18) << "seed " << seed;
  }
}

TEST(BatchSizeBandit, CutoffIsBetaTimesTheBestMeanOnceEveryArmRan) {
  BatchSizeBandit bandit({64, 128}, 1.5);
  EXPECT_EQ(bandit.CutoffJ(), 0.0);
  EXPECT_EQ(bandit.Best(), 0);
  bandit.Observe({64, 90});
  EXPECT_EQ(bandit.CutoffJ(), 0.0) << "128 has not had a whole run yet";
  bandit.Observe({128, 40});
  bandit.Observe({128, 60});
  bandit.Observe({1024, 1});  // not an arm: ignored
  EXPECT_DOUBLE_EQ(bandit.CutoffJ(), 1.5 * 50);
  EXPECT_EQ(bandit.Best(), 128);
  EXPECT_EQ(bandit.Counts(), (std::vector<int>{1, 2}));
}

TEST(BatchSizeBandit, BadArmsBetaAndCostsAreErrors) {
  EXPECT_THROW(BatchSizeBandit({}, 2.0), Error);
  EXPECT_THROW(BatchSizeBandit({0, 64}, 2.0), Error);
  EXPECT_THROW(BatchSizeBandit({64, 64}, 2.0), Error);
  EXPECT_THROW(BatchSizeBandit({64}, 1.0), Error);
  BatchSizeBandit bandit({64}, 2.0);
  EXPECT_THROW(bandit.Observe({64, -1}), Error);
  EXPECT_THROW(bandit.Observe({64, std::nan("")}), Error);
}

}  // namespace
}  // namespace joule
