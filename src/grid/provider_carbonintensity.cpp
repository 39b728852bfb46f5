// The UK National Grid carbon intensity API (api.carbonintensity.org.uk): Great
// Britain's half-hourly intensity, actual and forecast, no key needed.
#include <cmath>
#include <nlohmann/json.hpp>

#include "grid/http_fetch.hpp"
#include "grid/iso_time.hpp"
#include "grid/provider_json.hpp"
#include "joule/grid_providers.hpp"
#include "joule/util.hpp"

namespace joule::grid {

namespace {

double TimeField(const nlohmann::json& e, const char* name, const std::string& where) {
  try {
    return detail::ParseIsoTime(detail::StringField(e, name, where));
  } catch (const Error& err) {
    const std::string what = err.what();
    // StringField's messages already name the place.
    if (what.rfind(where, 0) == 0) throw;
    throw Error(where + "." + name + ": " + what);
  }
}

}  // namespace

IntensitySeries ParseCarbonIntensityUkResponse(std::string_view body, ResponseKind kind) {
  const nlohmann::json j = detail::ParseJsonReply(body);
  IntensitySeries s;
  s.zone = "GB";
  s.signal = Signal::kDirect;
  s.step_s = 0;
  s.provenance = "carbonintensity:" + std::string(ResponseKindName(kind));
  const nlohmann::json& data = detail::ArrayField(j, "data", "reply");
  for (std::size_t i = 0; i < data.size(); ++i) {
    const std::string where = "data[" + std::to_string(i) + "]";
    const double from = TimeField(data[i], "from", where);
    const double to = TimeField(data[i], "to", where);
    if (!(to > from)) throw Error(where + ": \"to\" is not after \"from\"");
    const nlohmann::json& intensity = detail::Field(data[i], "intensity", where);
    const std::string iw = where + ".intensity";
    const auto forecast =
        detail::NumberOrNull(detail::Field(intensity, "forecast", iw), iw + ".forecast");
    // "actual" is absent or null until the half hour has been measured.
    std::optional<double> actual;
    if (intensity.contains("actual"))
      actual = detail::NumberOrNull(intensity["actual"], iw + ".actual");
    const std::optional<double> value =
        kind == ResponseKind::kForecast ? forecast : (actual ? actual : forecast);
    if (!value) continue;
    s.points.push_back({from, *value});
    if (s.step_s <= 0) s.step_s = to - from;
  }
  detail::FinishSeries(s, 1800);
  return s;
}

namespace {

constexpr double kHalfHour = 1800;
// /intensity/{from}/{to} answers at most 14 days per request.
constexpr double kRangeChunk = 14 * 86400;

class CarbonIntensityUkSource : public IntensitySource {
 public:
  explicit CarbonIntensityUkSource(HttpOptions options)
      : http_("carbonintensity", std::move(options), "JOULE_CARBONINTENSITY_URL",
              "https://api.carbonintensity.org.uk") {}

  std::string name() const override { return "carbonintensity"; }

  IntensitySeries Latest(const std::string& zone) override {
    CheckZone(zone);
    return Fetch("/intensity", ResponseKind::kLatest);
  }

  IntensitySeries History(const std::string& zone, double t0, double t1) override {
    CheckZone(zone);
    if (!(t1 > t0)) throw Error("carbonintensity: empty time window");
    IntensitySeries out;
    // Whole half hours, so that repeated asks hit the cache.
    const double first = std::floor(t0 / kHalfHour) * kHalfHour;
    for (double start = first; start < t1; start += kRangeChunk) {
      const double end = std::min(start + kRangeChunk, std::ceil(t1 / kHalfHour) * kHalfHour);
      IntensitySeries part = Fetch("/intensity/" + detail::FormatIsoTime(start, false) + "/" +
                                       detail::FormatIsoTime(end, false),
                                   ResponseKind::kHistory);
      if (out.points.empty()) {
        out = part;
        continue;
      }
      for (const auto& p : part.points) {
        if (p.unix_s > out.points.back().unix_s) out.points.push_back(p);
      }
    }
    return NonEmpty(detail::Window(std::move(out), t0, t1));
  }

  std::optional<IntensitySeries> Forecast(const std::string& zone, double from,
                                          double horizon_s) override {
    CheckZone(zone);
    const double start = std::floor(from / kHalfHour) * kHalfHour;
    IntensitySeries s = Fetch("/intensity/" + detail::FormatIsoTime(start, false) + "/fw48h",
                              ResponseKind::kForecast);
    return NonEmpty(detail::Window(std::move(s), from, from + horizon_s));
  }

 private:
  static void CheckZone(const std::string& zone) {
    if (zone != "GB") {
      throw Error("carbonintensity: zone '" + zone + "': this API covers Great Britain only (GB)");
    }
  }

  IntensitySeries Fetch(const std::string& path, ResponseKind kind) {
    return http_.GetSeries(
        path, {{"Accept", "application/json"}}, kind,
        "refused (the API needs no key; is the base URL right?)",
        [kind](const std::string& body) { return ParseCarbonIntensityUkResponse(body, kind); });
  }

  static IntensitySeries NonEmpty(IntensitySeries s) {
    if (s.points.empty()) throw Error("carbonintensity: no values for GB in the asked window");
    return s;
  }

  detail::ProviderHttp http_;
};

}  // namespace

std::unique_ptr<IntensitySource> MakeCarbonIntensityUkSource(HttpOptions options) {
  return std::make_unique<CarbonIntensityUkSource>(std::move(options));
}

}  // namespace joule::grid
