// WattTime API v3: the marginal operating emissions rate (co2_moer) of a
// region, its signal index, history and forecast. A /login with HTTP basic
// auth gives a bearer token for the data endpoints.
#include <nlohmann/json.hpp>

#include "grid/http_fetch.hpp"
#include "grid/iso_time.hpp"
#include "grid/provider_json.hpp"
#include "joule/grid_providers.hpp"
#include "joule/util.hpp"

namespace joule::grid {

namespace {

// 1 lb/MWh = 453.59237 g / 1000 kWh.
constexpr double kGramsPerKwhPerLbsPerMwh = 0.45359237;

}  // namespace

IntensitySeries ParseWattTimeResponse(std::string_view body, ResponseKind kind) {
  const nlohmann::json j = detail::ParseJsonReply(body);
  const nlohmann::json& meta = detail::Field(j, "meta", "reply");
  IntensitySeries s;
  s.signal = Signal::kMarginal;
  s.step_s = 0;
  s.provenance = "watttime:" + std::string(ResponseKindName(kind));
  s.zone = detail::StringField(meta, "region", "meta");
  const std::string& units = detail::StringField(meta, "units", "meta");
  double scale = 1;
  if (units == "lbs_co2_per_mwh") {
    scale = kGramsPerKwhPerLbsPerMwh;
    s.unit = "gCO2eq/kWh";
  } else if (units == "percentile" || units == "percent") {
    s.unit = "percent";
  } else if (units == "g_co2_per_kwh") {
    s.unit = "gCO2eq/kWh";
  } else {
    throw Error("meta.units: \"" + units.substr(0, 40) +
                "\" is not one joule knows (lbs_co2_per_mwh, percentile)");
  }
  if (meta.contains("data_point_period_seconds")) {
    const auto period =
        detail::NumberOrNull(meta["data_point_period_seconds"], "meta.data_point_period_seconds");
    if (period && *period > 0) s.step_s = *period;
  }
  const nlohmann::json& data = detail::ArrayField(j, "data", "reply");
  for (std::size_t i = 0; i < data.size(); ++i) {
    const std::string where = "data[" + std::to_string(i) + "]";
    const auto value =
        detail::NumberOrNull(detail::Field(data[i], "value", where), where + ".value");
    const std::string& when = detail::StringField(data[i], "point_time", where);
    if (!value) continue;
    double t;
    try {
      t = detail::ParseIsoTime(when);
    } catch (const Error& err) {
      throw Error(where + ".point_time: " + err.what());
    }
    s.points.push_back({t, *value * scale});
  }
  detail::FinishSeries(s, 300);
  return s;
}

std::string ParseWattTimeLogin(std::string_view body) {
  const nlohmann::json j = detail::ParseJsonReply(body);
  const std::string& token = detail::StringField(j, "token", "login reply");
  if (token.empty()) throw Error("login reply: empty token");
  return token;
}

namespace {

constexpr double kTokenLifetime = 25 * 60;  // WattTime's last 30 minutes
// /historical answers at most 32 days per request; stay under it.
constexpr double kHistoricalChunk = 30 * 86400;

class WattTimeSource : public IntensitySource {
 public:
  explicit WattTimeSource(HttpOptions options)
      : http_("watttime", std::move(options), "JOULE_WATTTIME_URL", "https://api.watttime.org") {}

  std::string name() const override { return "watttime"; }

  IntensitySeries Latest(const std::string& zone) override {
    return Fetch("/v3/signal-index" + Query(zone), ResponseKind::kLatest);
  }

  IntensitySeries History(const std::string& zone, double t0, double t1) override {
    if (!(t1 > t0)) throw Error("watttime: empty time window");
    IntensitySeries out =
        detail::FetchInChunks(t0, t1, kHistoricalChunk, [&](double start, double end) {
          return Fetch("/v3/historical" + Query(zone) +
                           "&start=" + detail::QueryEscape(detail::FormatIsoTime(start)) +
                           "&end=" + detail::QueryEscape(detail::FormatIsoTime(end)),
                       ResponseKind::kHistory);
        });
    return NonEmpty(detail::Window(std::move(out), t0, t1), zone);
  }

  std::optional<IntensitySeries> Forecast(const std::string& zone, double from,
                                          double horizon_s) override {
    IntensitySeries s = Fetch("/v3/forecast" + Query(zone), ResponseKind::kForecast);
    return NonEmpty(detail::Window(std::move(s), from, from + horizon_s), zone);
  }

 private:
  static std::string Query(const std::string& zone) {
    return "?region=" + detail::QueryEscape(zone) + "&signal_type=co2_moer";
  }

  std::string Token() {
    if (!token_.empty() && http_.Now() < token_expires_) return token_;
    const std::string user = detail::EnvOr("WATTTIME_USERNAME");
    const std::string password = detail::EnvOr("WATTTIME_PASSWORD");
    if (user.empty() || password.empty()) {
      throw Error("watttime: no credentials: set WATTTIME_USERNAME and WATTTIME_PASSWORD");
    }
    const std::string body =
        http_.Get("/login", {httplib::make_basic_authentication_header(user, password)},
                  "login refused (check WATTTIME_USERNAME and WATTTIME_PASSWORD)");
    try {
      token_ = ParseWattTimeLogin(body);
    } catch (const Error& e) {
      throw Error(std::string("watttime: ") + e.what());
    }
    token_expires_ = http_.Now() + kTokenLifetime;
    return token_;
  }

  IntensitySeries Fetch(const std::string& path, ResponseKind kind) {
    const std::string token = Token();
    return http_.GetSeries(
        path, {{"Authorization", "Bearer " + token}}, kind,
        "token refused (check WATTTIME_USERNAME and WATTTIME_PASSWORD, and the plan's regions)",
        [kind](const std::string& body) { return ParseWattTimeResponse(body, kind); });
  }

  static IntensitySeries NonEmpty(IntensitySeries s, const std::string& zone) {
    if (s.points.empty()) throw Error("watttime: no values for " + zone + " in the asked window");
    return s;
  }

  detail::ProviderHttp http_;
  std::string token_;
  double token_expires_ = 0;
};

}  // namespace

std::unique_ptr<IntensitySource> MakeWattTimeSource(HttpOptions options) {
  return std::make_unique<WattTimeSource>(std::move(options));
}

}  // namespace joule::grid
