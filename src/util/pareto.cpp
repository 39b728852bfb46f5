// Multi-objective helpers; every objective minimised (see joule/pareto.hpp).
#include "joule/pareto.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "joule/util.hpp"

namespace joule::pareto {
namespace {

bool Finite(const Point& p) {
  return std::all_of(p.begin(), p.end(), [](double v) { return std::isfinite(v); });
}

void CheckSameLength(const std::vector<Point>& points, std::size_t m, const char* what) {
  for (const Point& p : points) {
    if (p.size() != m) {
      throw Error(std::string(what) + ": a point has " + std::to_string(p.size()) +
                  " objectives, another " + std::to_string(m) + "; all must have the same");
    }
  }
}

// 2-D hypervolume of points already known to be strictly inside the
// reference: sweep by the first objective, each new lowest second objective
// adds a strip reaching to the reference.
double Area(std::vector<std::pair<double, double>> xy, double ref_x, double ref_y) {
  std::sort(xy.begin(), xy.end());
  double area = 0, lowest = ref_y;
  for (const auto& [x, y] : xy) {
    if (y < lowest) {
      area += (ref_x - x) * (lowest - y);
      lowest = y;
    }
  }
  return area;
}

}  // namespace

bool Dominates(const Point& a, const Point& b) {
  if (a.size() != b.size() || !Finite(a) || !Finite(b)) return false;
  bool strictly = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] > b[i]) return false;
    strictly = strictly || a[i] < b[i];
  }
  return strictly;
}

std::vector<bool> NonDominated(const std::vector<Point>& points) {
  if (!points.empty()) CheckSameLength(points, points[0].size(), "Pareto front");
  std::vector<bool> front(points.size(), false);
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (!Finite(points[i])) continue;
    bool dominated = false;
    for (std::size_t j = 0; j < points.size() && !dominated; ++j) {
      dominated = j != i && Dominates(points[j], points[i]);
    }
    front[i] = !dominated;
  }
  return front;
}

std::vector<int> NonDominatedRanks(const std::vector<Point>& points) {
  if (!points.empty()) CheckSameLength(points, points[0].size(), "non-dominated ranks");
  const std::size_t n = points.size();
  // dominated_by[i]: how many unranked points dominate i; peel fronts off.
  std::vector<int> rank(n, -1), dominated_by(n, 0);
  std::vector<std::vector<std::size_t>> dominates(n);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      if (i != j && Dominates(points[i], points[j])) {
        dominates[i].push_back(j);
        ++dominated_by[j];
      }
    }
  }
  std::vector<std::size_t> current;
  for (std::size_t i = 0; i < n; ++i) {
    if (Finite(points[i]) && dominated_by[i] == 0) current.push_back(i);
  }
  int r = 0;
  while (!current.empty()) {
    std::vector<std::size_t> next;
    for (std::size_t i : current) {
      rank[i] = r;
      for (std::size_t j : dominates[i]) {
        if (--dominated_by[j] == 0) next.push_back(j);
      }
    }
    current = std::move(next);
    ++r;
  }
  for (int& v : rank) {
    if (v < 0) v = r;  // non-finite: after every finite rank
  }
  return rank;
}

std::vector<double> CrowdingDistance(const std::vector<Point>& points) {
  const std::size_t n = points.size();
  std::vector<double> distance(n, 0.0);
  if (n == 0) return distance;
  const std::size_t m = points[0].size();
  CheckSameLength(points, m, "crowding distance");
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<std::size_t> order(n);
  for (std::size_t k = 0; k < m; ++k) {
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return points[a][k] < points[b][k]; });
    const double lo = points[order.front()][k], hi = points[order.back()][k];
    if (!(hi > lo)) continue;  // a constant objective separates nothing
    distance[order.front()] = inf;
    distance[order.back()] = inf;
    for (std::size_t i = 1; i + 1 < n; ++i) {
      distance[order[i]] += (points[order[i + 1]][k] - points[order[i - 1]][k]) / (hi - lo);
    }
  }
  return distance;
}

double Hypervolume(const std::vector<Point>& points, const Point& reference) {
  const std::size_t m = reference.size();
  if (m < 1 || m > 3) {
    throw Error("hypervolume: " + std::to_string(m) +
                " objectives; joule computes it exactly for 1, 2 or 3");
  }
  if (!Finite(reference)) throw Error("hypervolume: the reference point is not finite");
  CheckSameLength(points, m, "hypervolume");
  std::vector<Point> inside;
  for (const Point& p : points) {
    bool in = Finite(p);
    for (std::size_t k = 0; k < m && in; ++k) in = p[k] < reference[k];
    if (in) inside.push_back(p);
  }
  if (inside.empty()) return 0.0;
  if (m == 1) {
    double best = reference[0];
    for (const Point& p : inside) best = std::min(best, p[0]);
    return reference[0] - best;
  }
  if (m == 2) {
    std::vector<std::pair<double, double>> xy;
    for (const Point& p : inside) xy.emplace_back(p[0], p[1]);
    return Area(std::move(xy), reference[0], reference[1]);
  }
  // 3-D: slabs between consecutive third coordinates; each slab's cross
  // section is the 2-D hypervolume of the points at or below it.
  std::sort(inside.begin(), inside.end(),
            [](const Point& a, const Point& b) { return a[2] < b[2]; });
  double volume = 0;
  std::vector<std::pair<double, double>> xy;
  for (std::size_t i = 0; i < inside.size(); ++i) {
    xy.emplace_back(inside[i][0], inside[i][1]);
    const double top = i + 1 < inside.size() ? inside[i + 1][2] : reference[2];
    if (top > inside[i][2]) volume += Area(xy, reference[0], reference[1]) * (top - inside[i][2]);
  }
  return volume;
}

std::size_t Knee(const std::vector<Point>& points) {
  if (points.empty()) throw Error("knee: no points");
  const std::size_t m = points[0].size();
  CheckSameLength(points, m, "knee");
  std::vector<double> lo(m, std::numeric_limits<double>::infinity()), hi(m, -lo[0]);
  bool any = false;
  for (const Point& p : points) {
    if (!Finite(p)) continue;
    any = true;
    for (std::size_t k = 0; k < m; ++k) {
      lo[k] = std::min(lo[k], p[k]);
      hi[k] = std::max(hi[k], p[k]);
    }
  }
  if (!any) throw Error("knee: no point has finite objectives");
  std::size_t best = 0;
  double best_d = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (!Finite(points[i])) continue;
    double d = 0;
    for (std::size_t k = 0; k < m; ++k) {
      const double scaled = hi[k] > lo[k] ? (points[i][k] - lo[k]) / (hi[k] - lo[k]) : 0.0;
      d += scaled * scaled;
    }
    if (d < best_d) {
      best_d = d;
      best = i;
    }
  }
  return best;
}

}  // namespace joule::pareto
