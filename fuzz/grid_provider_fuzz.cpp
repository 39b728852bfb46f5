// Fuzzes the live intensity providers' reply parsers (joule/grid_providers.hpp):
// Electricity Maps, WattTime (data and /login) and the UK carbon intensity
// API, each for every kind of reply (latest, history, forecast).
//
// Input: a reply body. A joule::Error is the expected outcome for bad input;
// anything else is a bug, and so is a series that breaks the contract its
// users rely on (at least one point, strictly increasing times, finite
// values, a positive step).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "joule/grid_providers.hpp"
#include "joule/util.hpp"

namespace {

using joule::grid::IntensitySeries;
using joule::grid::ResponseKind;

void Check(const IntensitySeries& s) {
  if (s.points.empty() || !(s.step_s > 0) || !std::isfinite(s.step_s)) std::abort();
  for (std::size_t i = 0; i < s.points.size(); ++i) {
    if (!std::isfinite(s.points[i].g_per_kwh) || !std::isfinite(s.points[i].unix_s)) std::abort();
    if (i > 0 && !(s.points[i].unix_s > s.points[i - 1].unix_s)) std::abort();
  }
}

template <typename Parse>
void Try(Parse parse) {
  try {
    parse();
  } catch (const joule::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (ResponseKind kind :
       {ResponseKind::kLatest, ResponseKind::kHistory, ResponseKind::kForecast}) {
    Try([&] { Check(joule::grid::ParseElectricityMapsResponse(body, kind)); });
    Try([&] { Check(joule::grid::ParseWattTimeResponse(body, kind)); });
    Try([&] { Check(joule::grid::ParseCarbonIntensityUkResponse(body, kind)); });
  }
  Try([&] {
    if (joule::grid::ParseWattTimeLogin(body).empty()) std::abort();
  });
  return 0;
}
