// joule/grid_providers.hpp: where intensity series come from: the live
// providers (Electricity Maps, WattTime, the UK National Grid carbon intensity
// API), the bundled 2022 hourly tables, a user's series file, and a fallback
// that answers from the tables when a provider cannot.
//
// Layer grid (src/grid/provider_*.cpp, http_fetch.cpp, intensity_cache.cpp).
//
// Credentials come from the environment only, never from flags (a flag would
// leave the secret in shell history and `ps`):
//   ELECTRICITYMAPS_TOKEN                  Electricity Maps API v3 token
//   WATTTIME_USERNAME, WATTTIME_PASSWORD   WattTime v3 account
// The UK API needs no key. Base URLs can be pointed elsewhere (a mirror, a
// test server) with JOULE_ELECTRICITYMAPS_URL, JOULE_WATTTIME_URL and
// JOULE_CARBONINTENSITY_URL, or with HttpOptions::base_url.
//
// Every error is a joule::Error whose message is one line that starts with the
// source's name: "electricitymaps: HTTP 401: token refused (set
// ELECTRICITYMAPS_TOKEN)".
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "joule/grid.hpp"

namespace joule::grid {

// A source of intensity series for zones. Implementations are not thread safe:
// use one object per thread (the live ones keep a login token and a client).
class IntensitySource {
 public:
  virtual ~IntensitySource() = default;

  // "electricitymaps", "watttime", "carbonintensity", "bundled", "series",
  // "fallback(<live name>)".
  virtual std::string name() const = 0;

  // Values over [t0_unix_s, t1_unix_s): every point whose interval starts in
  // it. Throws Error when the source cannot answer (network, HTTP status,
  // malformed reply, unknown zone, no data in the window).
  virtual IntensitySeries History(const std::string& zone, double t0_unix_s, double t1_unix_s) = 0;

  // The most recent value the source has, as a series of one point that
  // carries the metadata (signal, unit, provenance). Throws Error as History.
  virtual IntensitySeries Latest(const std::string& zone) = 0;

  // The source's own forecast over [from_unix_s, from_unix_s + horizon_s),
  // cut to what the provider publishes (Electricity Maps: 24-72 h, WattTime:
  // 24 h by default, UK: 48 h). std::nullopt when the source has no forecast
  // (the bundled tables, a series file). Throws Error as History, and when
  // the forecast holds no point in the window.
  virtual std::optional<IntensitySeries> Forecast(const std::string& zone, double from_unix_s,
                                                  double horizon_s) = 0;
};

// How the live clients talk HTTP. The defaults suit an interactive command.
struct HttpOptions {
  // Empty: the provider's environment variable (JOULE_*_URL), else its public
  // URL. "http://127.0.0.1:8080" or "https://host[:port][/prefix]".
  std::string base_url;
  double connect_timeout_s = 5;  // per attempt
  double read_timeout_s = 5;     // per attempt, between bytes of the reply
  // Retries after the first attempt, only for HTTP 429, 5xx and failures to
  // connect; never for other statuses (400, 401, 403, 404), a reply that stops
  // mid-way or one slower than read_timeout_s. So a call takes at most about
  // (max_retries + 1) x (connect + read time-out) plus the waits between.
  int max_retries = 2;
  double backoff_s = 0.5;           // wait before retry k: backoff_s x 2^k ...
  double max_retry_after_s = 10.0;  // ... or the reply's Retry-After, capped here
  // Where replies are cached on disk; empty: GridCacheDir(). use_cache false
  // neither reads nor writes the cache.
  std::string cache_dir;
  bool use_cache = true;
  // Wall clock in unix seconds (tests fix it); empty: the system clock. Picks
  // between recent and past endpoints and the cache's ages.
  std::function<double()> clock;
};

// The cache directory: $JOULE_HOME/cache/grid, else
// $XDG_CACHE_HOME/joule/grid, else ~/.cache/joule/grid. Not created here.
std::string GridCacheDir();

// How long a cached reply is used, in seconds, by what it answers: latest
// 300 (5 min), forecast 1800 (30 min), history 86400 (1 day).
enum class ResponseKind { kLatest, kHistory, kForecast };
std::string_view ResponseKindName(ResponseKind kind);  // "latest", "history", "forecast"
double CacheMaxAgeSeconds(ResponseKind kind);

// The response parsers, exposed so they can be tested and fuzzed on their
// own. Each takes a reply body as the provider sends it and returns a series
// with the provider's zone, signal, unit and provenance
// ("<provider>:<latest|history|forecast>"), points sorted by time. Entries
// without a value (null) are skipped. Throws Error (never anything else) for
// anything but the documented shape: malformed JSON, a missing or mistyped
// field, a bad timestamp, two points at one time, no point at all.
//
// Electricity Maps v3: latest is one object {zone, carbonIntensity, datetime,
// emissionFactorType}; history reads its "history" array, or the "data" array
// of past-range; forecast its "forecast" array. emissionFactorType
// "lifecycle" (the default) is Signal::kLca, "direct" Signal::kDirect.
IntensitySeries ParseElectricityMapsResponse(std::string_view body, ResponseKind kind);
// WattTime v3: {"data": [{point_time, value}], "meta": {region, units, ...}}.
// Units "lbs_co2_per_mwh" become g/kWh (x 0.45359237); "percentile" or
// "percent" (the signal index, 0-100) stay as they are with unit "percent".
// Signal::kMarginal. The step is meta.data_point_period_seconds when given.
IntensitySeries ParseWattTimeResponse(std::string_view body, ResponseKind kind);
// WattTime's /login reply {"token": "..."}: returns the token.
std::string ParseWattTimeLogin(std::string_view body);
// UK carbon intensity API: {"data": [{from, to, intensity: {forecast, actual,
// index}}]}, zone "GB", Signal::kDirect (the API counts the operational CO2
// of generation, imports over the interconnectors and network losses, not
// life-cycle emissions; its unit is gCO2/kWh, kept here as the layer's
// default unit string so plans can compare it with the tables). History and latest
// take "actual" where published, else "forecast"; forecast takes "forecast".
IntensitySeries ParseCarbonIntensityUkResponse(std::string_view body, ResponseKind kind);

// The live clients. Constructing one does no I/O and never throws for missing
// credentials: the first call does, naming the variable to set. Constructors
// throw Error for a base URL that is not http(s)://... only.
//
// Electricity Maps API v3, header `auth-token: $ELECTRICITYMAPS_TOKEN`.
// `signal` kLca or kDirect picks emissionFactorType (kMarginal throws). History within the last
// 24 h uses /history (free tier), older windows /past-range in 10-day pieces.
std::unique_ptr<IntensitySource> MakeElectricityMapsSource(HttpOptions options = {},
                                                           Signal signal = Signal::kLca);
// WattTime v3 (zones are WattTime regions, e.g. "CAISO_NORTH"). Latest is the
// signal index (unit "percent", 0-100, lower is cleaner; free accounts get
// this only); History and Forecast are co2_moer in g/kWh. Logs in with basic
// auth on first use and keeps the bearer token for 25 minutes (it lasts 30).
std::unique_ptr<IntensitySource> MakeWattTimeSource(HttpOptions options = {});
// UK National Grid carbon intensity API (https://api.carbonintensity.org.uk),
// zone "GB" only (other zones throw), 30-minute steps; History in 14-day pieces.
std::unique_ptr<IntensitySource> MakeCarbonIntensityUkSource(HttpOptions options = {});

// The bundled tables: <data_dir>/grid-carbon/<ZONE>_2022_hourly.csv (empty
// data_dir: joule::DataDir()), zones CA-ON, DE, ES, FR, GB, PL; `signal` kLca
// or kDirect picks the column (kMarginal throws: the tables have none).
// Provenance "bundled:DE_2022_hourly.csv". A time outside 2022 takes 2022's
// value at the same hour of the year (31 Dec of a leap year: the last hour),
// and the provenance says so: "bundled:DE_2022_hourly.csv (2022 values at the
// same hour of the year)". Latest is the value at the clock's hour. No
// forecast. An unknown zone throws Error listing the zones there are.
std::unique_ptr<IntensitySource> MakeBundledSource(Signal signal = Signal::kLca,
                                                   std::string data_dir = "",
                                                   std::function<double()> clock = {});
// True when the bundled tables hold `zone` (any case).
bool HasBundledTable(const std::string& zone, const std::string& data_dir = "");

// A user's series file (the meter's reader: plain `timestamp,g_per_kwh` or an
// Electricity Maps export; see joule::CarbonModel::Resolve), read on
// construction (throws Error naming the file and line). It answers for
// `zone` only (any other zone throws), within the file's range (History
// outside it throws). Provenance "series:<file name>". No forecast.
std::unique_ptr<IntensitySource> MakeSeriesFileSource(const std::string& path,
                                                      const std::string& zone,
                                                      Signal signal = Signal::kLca);

// Tries `live`; when it throws Error, answers from the bundled table of the
// same zone with provenance "fallback:<bundled provenance> (<the error>)",
// e.g. "fallback:bundled:GB_2022_hourly.csv (carbonintensity: HTTP 500:
// server error, still after 3 attempts)". The table's column:
// `table_signal`: kDirect reads the direct column, anything else LCA (a
// marginal source falls back to an average signal, and the series says
// kLca); pass what the live source counts (OpenIntensitySource does). A zone
// without a table rethrows the live error. Forecast falls back to the table's
// values over the window; a live std::nullopt stays std::nullopt. After the
// live source's first failure every later question goes to the table with
// that failure in the label, so an offline machine waits out one round of
// time-outs and retries, not one per question.
std::unique_ptr<IntensitySource> MakeFallbackSource(std::unique_ptr<IntensitySource> live,
                                                    Signal table_signal = Signal::kLca,
                                                    std::string data_dir = "",
                                                    std::function<double()> clock = {});

// What the user picked, e.g. from `--intensity-source`.
struct ProviderChoice {
  // "electricitymaps", "watttime", "carbonintensity", "bundled" or "series".
  std::string provider = "bundled";
  std::string series_path;       // for "series"
  std::string series_zone;       // for "series"
  Signal signal = Signal::kLca;  // electricitymaps, bundled, series
  bool fallback = true;          // live providers: wrap in MakeFallbackSource
  HttpOptions http;
  std::string data_dir;  // the bundled tables; empty: joule::DataDir()
};

// Builds the source `choice` names. Throws Error for an unknown provider
// (listing the known ones) or a series file that cannot be read.
std::unique_ptr<IntensitySource> OpenIntensitySource(const ProviderChoice& choice);

}  // namespace joule::grid
