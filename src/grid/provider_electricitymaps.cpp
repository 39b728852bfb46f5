// Electricity Maps API v3: carbon intensity per zone, latest, last 24 h,
// past ranges and forecast, authenticated by the `auth-token` header.
#include <nlohmann/json.hpp>

#include "grid/http_fetch.hpp"
#include "grid/iso_time.hpp"
#include "grid/provider_json.hpp"
#include "joule/grid_providers.hpp"
#include "joule/util.hpp"

namespace joule::grid {

namespace {

Signal SignalOfFactorType(const std::string& type, const std::string& where) {
  if (type == "lifecycle") return Signal::kLca;
  if (type == "direct") return Signal::kDirect;
  throw Error(where + ".emissionFactorType: expected \"lifecycle\" or \"direct\", found \"" +
              type.substr(0, 40) + "\"");
}

}  // namespace

IntensitySeries ParseElectricityMapsResponse(std::string_view body, ResponseKind kind) {
  using detail::Field;
  const nlohmann::json j = detail::ParseJsonReply(body);
  IntensitySeries s;
  s.step_s = 0;
  s.provenance = "electricitymaps:" + std::string(ResponseKindName(kind));
  s.zone = detail::StringField(j, "zone", "reply");
  std::vector<const nlohmann::json*> entries;
  std::string list = "reply";
  if (kind == ResponseKind::kLatest) {
    entries.push_back(&j);
  } else {
    // /history answers under "history", /past-range under "data".
    list = kind == ResponseKind::kForecast ? "forecast"
           : j.contains("history")         ? "history"
                                           : "data";
    for (const auto& e : detail::ArrayField(j, list.c_str(), "reply")) entries.push_back(&e);
  }
  // Lifecycle is the API's default when a reply does not say.
  std::optional<Signal> signal;
  if (j.is_object() && j.contains("emissionFactorType")) {
    signal = SignalOfFactorType(detail::StringField(j, "emissionFactorType", "reply"), "reply");
  }
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const nlohmann::json& e = *entries[i];
    const std::string where = entries.size() == 1 && kind == ResponseKind::kLatest
                                  ? "reply"
                                  : list + "[" + std::to_string(i) + "]";
    const std::optional<double> value =
        detail::NumberOrNull(Field(e, "carbonIntensity", where), where + ".carbonIntensity");
    const std::string& when = detail::StringField(e, "datetime", where);
    if (e.contains("emissionFactorType") && &e != &j) {
      const Signal sig =
          SignalOfFactorType(detail::StringField(e, "emissionFactorType", where), where);
      if (signal && *signal != sig) throw Error(where + ": mixes lifecycle and direct values");
      signal = sig;
    }
    if (!value) continue;
    double t;
    try {
      t = detail::ParseIsoTime(when);
    } catch (const Error& err) {
      throw Error(where + ".datetime: " + err.what());
    }
    s.points.push_back({t, *value});
  }
  s.signal = signal.value_or(Signal::kLca);
  detail::FinishSeries(s, 3600);
  return s;
}

namespace {

constexpr double kDay = 86400;
// past-range answers at most 10 days of hourly values per request.
constexpr double kPastRangeChunk = 10 * kDay;

class ElectricityMapsSource : public IntensitySource {
 public:
  ElectricityMapsSource(HttpOptions options, Signal signal)
      : http_("electricitymaps", std::move(options), "JOULE_ELECTRICITYMAPS_URL",
              "https://api.electricitymap.org"),
        signal_(signal) {
    if (signal == Signal::kMarginal) {
      throw Error("electricitymaps: no marginal signal: use lca or direct (WattTime has marginal)");
    }
  }

  std::string name() const override { return "electricitymaps"; }

  IntensitySeries Latest(const std::string& zone) override {
    return Fetch("/v3/carbon-intensity/latest" + Query(zone), ResponseKind::kLatest);
  }

  IntensitySeries History(const std::string& zone, double t0, double t1) override {
    if (!(t1 > t0)) throw Error("electricitymaps: empty time window");
    IntensitySeries out;
    if (t0 >= http_.Now() - kDay) {
      // The free tier's endpoint covers exactly the last 24 hours.
      out = Fetch("/v3/carbon-intensity/history" + Query(zone), ResponseKind::kHistory);
    } else {
      out = detail::FetchInChunks(t0, t1, kPastRangeChunk, [&](double start, double end) {
        return Fetch("/v3/carbon-intensity/past-range" + Query(zone) +
                         "&start=" + detail::QueryEscape(detail::FormatIsoTime(start)) +
                         "&end=" + detail::QueryEscape(detail::FormatIsoTime(end)),
                     ResponseKind::kHistory);
      });
    }
    return NonEmpty(detail::Window(std::move(out), t0, t1), zone);
  }

  std::optional<IntensitySeries> Forecast(const std::string& zone, double from,
                                          double horizon_s) override {
    IntensitySeries s =
        Fetch("/v3/carbon-intensity/forecast" + Query(zone), ResponseKind::kForecast);
    return NonEmpty(detail::Window(std::move(s), from, from + horizon_s), zone);
  }

 private:
  std::string Query(const std::string& zone) const {
    return "?zone=" + detail::QueryEscape(zone) +
           "&emissionFactorType=" + (signal_ == Signal::kDirect ? "direct" : "lifecycle");
  }

  IntensitySeries Fetch(const std::string& path, ResponseKind kind) {
    const std::string token = detail::EnvOr("ELECTRICITYMAPS_TOKEN");
    if (token.empty()) {
      throw Error("electricitymaps: no API token: set ELECTRICITYMAPS_TOKEN");
    }
    return http_.GetSeries(
        path, {{"auth-token", token}}, kind, "token refused (set ELECTRICITYMAPS_TOKEN)",
        [kind](const std::string& body) { return ParseElectricityMapsResponse(body, kind); });
  }

  static IntensitySeries NonEmpty(IntensitySeries s, const std::string& zone) {
    if (s.points.empty()) {
      throw Error("electricitymaps: no values for " + zone + " in the asked window");
    }
    return s;
  }

  detail::ProviderHttp http_;
  Signal signal_;
};

}  // namespace

std::unique_ptr<IntensitySource> MakeElectricityMapsSource(HttpOptions options, Signal signal) {
  return std::make_unique<ElectricityMapsSource>(std::move(options), signal);
}

}  // namespace joule::grid
