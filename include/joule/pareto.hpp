// joule/pareto.hpp: several objectives at once. Dominance, the Pareto front,
// non-dominated ranks and crowding (how a multi-objective search promotes
// trials), the hypervolume (how good a front is, one number) and the knee
// (the front's best compromise).
//
// Layer util (src/util/pareto.cpp). The search (run layer) and the report's
// plots (report layer) both use it, so it lives below both.
//
// Every objective is MINIMISED: a caller negates what it maximises (accuracy
// becomes -accuracy). A point is a vector of objective values; all points
// given to one call have the same length (Error otherwise). A point with a NaN
// or infinite coordinate is never on a front, never dominates, and gets the
// last rank. All functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <vector>

namespace joule::pareto {

using Point = std::vector<double>;

// a dominates b: a <= b in every objective and a < b in at least one. Equal
// points do not dominate each other (both stay on a front: ties are kept).
bool Dominates(const Point& a, const Point& b);

// Which points no other point dominates. O(n^2 m).
std::vector<bool> NonDominated(const std::vector<Point>& points);

// Non-dominated sorting: rank 0 is the front, rank 1 the front of what is
// left without rank 0, and so on. Non-finite points get one rank after the
// last finite one.
std::vector<int> NonDominatedRanks(const std::vector<Point>& points);

// Crowding distance of each point within `points` (normally one rank): per
// objective, the gap between its neighbours in that objective divided by the
// objective's range, summed. The two ends of each objective get infinity, so
// a search that prefers larger distances keeps the front's extremes. Zero for
// every point when all points are equal.
std::vector<double> CrowdingDistance(const std::vector<Point>& points);

// The volume dominated by `points` and bounded by `reference`: the measure of
// { z : some point p <= z <= reference }. Points not strictly better than the
// reference in every objective add nothing. Exact, for 1, 2 or 3 objectives
// (Error for more). 2-D: O(n log n); 3-D: O(n^2 log n) by slicing.
double Hypervolume(const std::vector<Point>& points, const Point& reference);

// The knee of a front: with each objective scaled to [0, 1] over the finite
// points given (a constant objective scales to 0), the point nearest the ideal
// (0, ..., 0). Ties go to the earlier point. Error when no point is finite.
std::size_t Knee(const std::vector<Point>& points);

}  // namespace joule::pareto
