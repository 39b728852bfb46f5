// The multi-objective helpers against brute force on random points (ties
// forced by a coarse grid) and against volumes computed by hand.
#include "joule/pareto.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "joule/util.hpp"

namespace joule::pareto {
namespace {

// Points on a 0..grid-1 integer grid, so equal coordinates (ties) are common.
std::vector<Point> RandomPoints(Rng& rng, std::size_t n, std::size_t m, int grid) {
  std::vector<Point> out(n, Point(m));
  for (Point& p : out) {
    for (double& v : p) v = static_cast<double>(rng.Below(static_cast<std::uint64_t>(grid)));
  }
  return out;
}

// The definition, written out once more: no other point is at least as good
// everywhere and better somewhere.
bool OnFrontByDefinition(const std::vector<Point>& pts, std::size_t i) {
  for (std::size_t j = 0; j < pts.size(); ++j) {
    int better = 0, worse = 0;
    for (std::size_t k = 0; k < pts[i].size(); ++k) {
      better += pts[j][k] < pts[i][k];
      worse += pts[j][k] > pts[i][k];
    }
    if (j != i && better > 0 && worse == 0) return false;
  }
  return true;
}

TEST(Pareto, FrontIsTheBruteForceFilterTiesIncluded) {
  Rng rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    const std::size_t m = 2 + trial % 2, n = 1 + rng.Below(40);
    const std::vector<Point> pts = RandomPoints(rng, n, m, 6);
    const std::vector<bool> front = NonDominated(pts);
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_EQ(front[i], OnFrontByDefinition(pts, i)) << "trial " << trial << " point " << i;
    }
  }
}

TEST(Pareto, EqualPointsAreBothOnTheFront) {
  const std::vector<bool> front = NonDominated({{1, 2}, {1, 2}, {2, 3}});
  EXPECT_EQ(front, (std::vector<bool>{true, true, false}));
}

TEST(Pareto, NonFinitePointsAreNeverOnTheFrontAndRankLast) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<Point> pts = {
      {1, 1}, {nan, 0}, {0, std::numeric_limits<double>::infinity()}, {2, 2}};
  EXPECT_EQ(NonDominated(pts), (std::vector<bool>{true, false, false, false}));
  EXPECT_EQ(NonDominatedRanks(pts), (std::vector<int>{0, 2, 2, 1}));
}

TEST(Pareto, RanksPeelFrontsOneAfterAnother) {
  Rng rng(11);
  for (int trial = 0; trial < 100; ++trial) {
    const std::vector<Point> pts = RandomPoints(rng, 30, 2 + trial % 2, 8);
    const std::vector<int> rank = NonDominatedRanks(pts);
    const std::vector<bool> front = NonDominated(pts);
    for (std::size_t i = 0; i < pts.size(); ++i) {
      EXPECT_EQ(rank[i] == 0, front[i]);
      // Nothing of the same or a later rank dominates a point; something of
      // the rank just before does.
      bool by_previous = rank[i] == 0;
      for (std::size_t j = 0; j < pts.size(); ++j) {
        if (!Dominates(pts[j], pts[i])) continue;
        EXPECT_LT(rank[j], rank[i]);
        by_previous = by_previous || rank[j] == rank[i] - 1;
      }
      EXPECT_TRUE(by_previous) << "point " << i << " rank " << rank[i];
    }
  }
}

TEST(Pareto, CrowdingKeepsTheEndsAndSumsScaledGaps) {
  const std::vector<double> d = CrowdingDistance({{0, 4}, {1, 2}, {3, 1}, {4, 0}});
  EXPECT_TRUE(std::isinf(d[0]));
  EXPECT_TRUE(std::isinf(d[3]));
  EXPECT_DOUBLE_EQ(d[1], (3.0 - 0.0) / 4 + (4.0 - 1.0) / 4);
  EXPECT_DOUBLE_EQ(d[2], (4.0 - 1.0) / 4 + (2.0 - 0.0) / 4);
  EXPECT_EQ(CrowdingDistance({{1, 1}, {1, 1}}), (std::vector<double>{0, 0}));
}

TEST(Pareto, HypervolumeByHandIn2D) {
  // Strips: x 1-2 over y 3-4, x 2-3 over y 2-4, x 3-4 over y 1-4: 1 + 2 + 3.
  EXPECT_DOUBLE_EQ(Hypervolume({{1, 3}, {2, 2}, {3, 1}}, {4, 4}), 6.0);
  // A dominated point and one outside the reference add nothing.
  EXPECT_DOUBLE_EQ(Hypervolume({{1, 3}, {2, 2}, {3, 1}, {3, 3}, {0, 5}}, {4, 4}), 6.0);
  EXPECT_DOUBLE_EQ(Hypervolume({}, {4, 4}), 0.0);
  EXPECT_DOUBLE_EQ(Hypervolume({{2}, {3}}, {5}), 3.0);
}

TEST(Pareto, HypervolumeByHandIn3D) {
  EXPECT_DOUBLE_EQ(Hypervolume({{1, 1, 1}}, {2, 2, 2}), 1.0);
  // Boxes 2x2x1 and 1x1x2 overlapping in a unit cube: 4 + 2 - 1.
  EXPECT_DOUBLE_EQ(Hypervolume({{0, 0, 1}, {1, 1, 0}}, {2, 2, 2}), 5.0);
}

// On an integer grid the volume is the number of unit cells whose lower
// corner some point is at or below.
TEST(Pareto, HypervolumeCountsDominatedCellsOnRandomPoints) {
  Rng rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    const std::size_t m = 2 + trial % 2;
    const int grid = 6;
    const std::vector<Point> pts = RandomPoints(rng, 1 + rng.Below(12), m, grid);
    const Point ref(m, grid);
    double cells = 0;
    const int total = m == 2 ? grid * grid : grid * grid * grid;
    for (int c = 0; c < total; ++c) {
      const Point corner =
          m == 2 ? Point{double(c % grid), double(c / grid)}
                 : Point{double(c % grid), double(c / grid % grid), double(c / grid / grid)};
      bool covered = false;
      for (const Point& p : pts) {
        bool below = true;
        for (std::size_t k = 0; k < m; ++k) below = below && p[k] <= corner[k];
        covered = covered || below;
      }
      cells += covered;
    }
    ASSERT_DOUBLE_EQ(Hypervolume(pts, ref), cells) << "trial " << trial;
  }
}

TEST(Pareto, KneeIsTheScaledPointNearestTheIdeal) {
  // Scaled: (0,1), (0.1,0.2), (1,0): the middle one is the compromise.
  EXPECT_EQ(Knee({{0, 10}, {1, 2}, {10, 0}}), 1u);
  EXPECT_EQ(Knee({{5, 5}}), 0u);
}

TEST(Pareto, BadInputIsAnError) {
  EXPECT_THROW(NonDominated({{1, 2}, {1}}), Error);
  EXPECT_THROW(Hypervolume({{1, 1, 1, 1}}, {2, 2, 2, 2}), Error);
  EXPECT_THROW(Hypervolume({{1, 1}}, {2, std::nan("")}), Error);
  EXPECT_THROW(Knee({}), Error);
}

}  // namespace
}  // namespace joule::pareto
