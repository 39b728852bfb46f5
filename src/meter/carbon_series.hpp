// Reader for carbon-intensity time series files (--intensity-series).
// Internal to the meter layer; the format is documented on
// joule::CarbonModel::Resolve.
#pragma once

#include <string>
#include <vector>

#include "joule/carbon.hpp"

namespace joule::carbon_series {

enum class Format { kPlain, kElectricityMaps };

struct Series {
  Format format;
  std::vector<CarbonModel::SeriesPoint> points;  // strictly increasing time, >= 1 point
};

// Parses `text` (the contents of `path`, which is used only in messages).
// `kind` is "direct" or "lca" (lower case), used for Electricity Maps files.
// Throws joule::Error "PATH:LINE: ..." saying what was expected and found.
Series ParseSeries(const std::string& path, const std::string& text, const std::string& kind);

}  // namespace joule::carbon_series
