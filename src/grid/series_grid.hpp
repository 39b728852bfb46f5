// Checks shared by the forecaster, the window search and the study: they
// index a series by step, which is only right when it is equally spaced.
#pragma once

#include <cmath>
#include <string>

#include "joule/grid.hpp"
#include "joule/util.hpp"

namespace joule::grid {

// Throws joule::Error naming `what` (the caller's function) when the series
// has a non-positive step or a point off its grid.
inline void CheckEquallySpaced(const IntensitySeries& s, const std::string& what) {
  if (!(s.step_s > 0) || !std::isfinite(s.step_s)) {
    throw Error(what + ": series " + s.zone + " has step " + std::to_string(s.step_s) +
                " s; expected a positive step");
  }
  for (size_t i = 1; i < s.points.size(); ++i) {
    const double expected = s.points[0].unix_s + static_cast<double>(i) * s.step_s;
    if (std::abs(s.points[i].unix_s - expected) > 1e-6) {
      throw Error(what + ": series " + s.zone + " point " + std::to_string(i) + " at " +
                  std::to_string(s.points[i].unix_s) + " is off its " + std::to_string(s.step_s) +
                  " s grid; the series must be equally spaced");
    }
  }
}

}  // namespace joule::grid
