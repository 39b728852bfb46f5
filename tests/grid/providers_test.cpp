// The intensity sources: each provider's parser on its documented reply shape
// and on malformed replies; the HTTP behaviour (credentials, time-outs,
// retries, errors, cache) against a fake provider on loopback; the bundled
// tables, series files and the fallback's label.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "fake_provider_server.hpp"
#include "grid/iso_time.hpp"
#include "joule/grid_providers.hpp"
#include "joule/util.hpp"

namespace joule::grid {
namespace {

using testing::FakeProviderServer;
using ::testing::HasSubstr;

constexpr double kNow = 1795953600;  // 2026-11-29T12:00:00Z, the tests' clock
const char kDataDirForSeeds[] = JOULE_SOURCE_DATA_DIR;

// Sets (or unsets, for nullptr) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::string MakeTempDir() {
  std::string pattern = ::testing::TempDir() + "joule_grid_XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) throw Error("mkdtemp failed");
  return pattern;
}

// Options for a client of `fake`: a private cache, a fixed clock (movable
// through *now), short waits between retries.
HttpOptions TestOptions(const FakeProviderServer& fake, const std::string& cache_dir,
                        std::shared_ptr<double> now = std::make_shared<double>(kNow)) {
  HttpOptions o;
  o.base_url = fake.url();
  o.cache_dir = cache_dir;
  o.connect_timeout_s = 2;
  o.read_timeout_s = 2;
  o.backoff_s = 0.01;
  o.clock = [now] { return *now; };
  return o;
}

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

const char kEmLatest[] = R"({"zone":"DE","carbonIntensity":302,
  "datetime":"2019-05-21T00:00:00.000Z","updatedAt":"2019-05-21T00:05:00.000Z",
  "emissionFactorType":"lifecycle","isEstimated":false,"estimationMethod":null})";

const char kEmHistoryDirect[] = R"({"zone":"FR","history":[
  {"zone":"FR","carbonIntensity":41.5,"datetime":"2019-05-21T01:00:00.000Z","emissionFactorType":"direct"},
  {"zone":"FR","carbonIntensity":null,"datetime":"2019-05-21T02:00:00.000Z","emissionFactorType":"direct"},
  {"zone":"FR","carbonIntensity":40,"datetime":"2019-05-21T00:00:00.000Z","emissionFactorType":"direct"}]})";

const char kWattTimeMoer[] = R"({"data":[
  {"point_time":"2026-04-01T00:00:00+00:00","value":1000.0,"version":"3.2"},
  {"point_time":"2026-04-01T00:05:00+00:00","value":850.5,"version":"3.2"}],
  "meta":{"region":"CAISO_NORTH","signal_type":"co2_moer","units":"lbs_co2_per_mwh",
          "data_point_period_seconds":300,"model":{"date":"2026-03-01"}}})";

const char kWattTimeIndex[] = R"({"data":[{"point_time":"2026-04-01T00:00:00+00:00","value":42}],
  "meta":{"region":"CAISO_NORTH","signal_type":"co2_moer","units":"percentile"}})";

const char kUkHalfHours[] = R"({"data":[
  {"from":"2026-11-29T12:00Z","to":"2026-11-29T12:30Z","intensity":{"forecast":180,"actual":175,"index":"moderate"}},
  {"from":"2026-11-29T12:30Z","to":"2026-11-29T13:00Z","intensity":{"forecast":170,"actual":null,"index":"moderate"}}]})";

// ---- Parsers ---------------------------------------------------------------

TEST(ParseElectricityMaps, LatestGivesZoneValueTimeAndLifecycle) {
  IntensitySeries s = ParseElectricityMapsResponse(kEmLatest, ResponseKind::kLatest);
  EXPECT_EQ(s.zone, "DE");
  EXPECT_EQ(s.signal, Signal::kLca);
  EXPECT_EQ(s.unit, "gCO2eq/kWh");
  EXPECT_EQ(s.provenance, "electricitymaps:latest");
  EXPECT_EQ(s.step_s, 3600);
  ASSERT_EQ(s.points.size(), 1u);
  EXPECT_EQ(s.points[0].unix_s, 1558396800);
  EXPECT_EQ(s.points[0].g_per_kwh, 302);
}

TEST(ParseElectricityMaps, HistorySortsSkipsNullsAndReadsDirect) {
  IntensitySeries s = ParseElectricityMapsResponse(kEmHistoryDirect, ResponseKind::kHistory);
  EXPECT_EQ(s.zone, "FR");
  EXPECT_EQ(s.signal, Signal::kDirect);
  EXPECT_EQ(s.provenance, "electricitymaps:history");
  ASSERT_EQ(s.points.size(), 2u);
  EXPECT_EQ(s.points[0].unix_s, 1558396800);
  EXPECT_EQ(s.points[0].g_per_kwh, 40);
  EXPECT_EQ(s.points[1].unix_s, 1558400400);
  EXPECT_EQ(s.points[1].g_per_kwh, 41.5);
  EXPECT_EQ(s.step_s, 3600);
}

TEST(ParseElectricityMaps, PastRangeReadsDataAndForecastReadsForecast) {
  IntensitySeries past = ParseElectricityMapsResponse(
      R"({"zone":"DE","data":[{"carbonIntensity":200,"datetime":"2022-03-01T00:00:00Z"}]})",
      ResponseKind::kHistory);
  ASSERT_EQ(past.points.size(), 1u);
  EXPECT_EQ(past.points[0].unix_s, 1646092800);
  IntensitySeries fc = ParseElectricityMapsResponse(
      R"({"zone":"DE","forecast":[{"carbonIntensity":210,"datetime":"2022-03-01T00:00:00.000Z"},
          {"carbonIntensity":190,"datetime":"2022-03-01T01:00:00.000Z"}],"updatedAt":"x"})",
      ResponseKind::kForecast);
  EXPECT_EQ(fc.provenance, "electricitymaps:forecast");
  ASSERT_EQ(fc.points.size(), 2u);
  EXPECT_EQ(fc.points[1].g_per_kwh, 190);
}

TEST(ParseWattTime, PoundsPerMwhBecomeGramsPerKwh) {
  IntensitySeries s = ParseWattTimeResponse(kWattTimeMoer, ResponseKind::kForecast);
  EXPECT_EQ(s.zone, "CAISO_NORTH");
  EXPECT_EQ(s.signal, Signal::kMarginal);
  EXPECT_EQ(s.unit, "gCO2eq/kWh");
  EXPECT_EQ(s.step_s, 300);
  EXPECT_EQ(s.provenance, "watttime:forecast");
  ASSERT_EQ(s.points.size(), 2u);
  EXPECT_EQ(s.points[0].unix_s, 1775001600);
  EXPECT_DOUBLE_EQ(s.points[0].g_per_kwh, 453.59237);
  EXPECT_DOUBLE_EQ(s.points[1].g_per_kwh, 850.5 * 0.45359237);
}

TEST(ParseWattTime, SignalIndexStaysAPercent) {
  IntensitySeries s = ParseWattTimeResponse(kWattTimeIndex, ResponseKind::kLatest);
  EXPECT_EQ(s.unit, "percent");
  ASSERT_EQ(s.points.size(), 1u);
  EXPECT_EQ(s.points[0].g_per_kwh, 42);
  EXPECT_EQ(ParseWattTimeLogin(R"({"token":"abc.def"})"), "abc.def");
}

TEST(ParseCarbonIntensityUk, ActualWhereMeasuredElseForecast) {
  IntensitySeries h = ParseCarbonIntensityUkResponse(kUkHalfHours, ResponseKind::kHistory);
  EXPECT_EQ(h.zone, "GB");
  EXPECT_EQ(h.signal, Signal::kDirect);
  EXPECT_EQ(h.step_s, 1800);
  EXPECT_EQ(h.provenance, "carbonintensity:history");
  ASSERT_EQ(h.points.size(), 2u);
  EXPECT_EQ(h.points[0].unix_s, kNow);
  EXPECT_EQ(h.points[0].g_per_kwh, 175);
  EXPECT_EQ(h.points[1].g_per_kwh, 170);
  IntensitySeries f = ParseCarbonIntensityUkResponse(kUkHalfHours, ResponseKind::kForecast);
  EXPECT_EQ(f.points[0].g_per_kwh, 180);
}

struct Malformed {
  const char* body;
  const char* error;
};

TEST(ParseElectricityMaps, MalformedRepliesGiveOneLine) {
  const Malformed cases[] = {
      {"", "malformed JSON reply (ends after 0 bytes, incomplete)"},
      {R"({"zone":"DE","carbonIntensity":30)",
       "malformed JSON reply (ends after 33 bytes, incomplete)"},
      {R"({"zone":"DE",,})", "malformed JSON reply (at byte 14 of 15)"},
      {"[]", "reply: expected a JSON object, found array"},
      {R"({"carbonIntensity":1,"datetime":"2022-01-01T00:00:00Z"})", "reply: no field \"zone\""},
      {R"({"zone":"DE","carbonIntensity":"high","datetime":"2022-01-01T00:00:00Z"})",
       "reply.carbonIntensity: expected a number, found string"},
      {R"({"zone":"DE","carbonIntensity":1,"datetime":"yesterday"})",
       "reply.datetime: bad timestamp 'yesterday': expected ISO 8601 UTC like "
       "2022-01-01T00:00:00Z or +00:00"},
      {R"({"zone":"DE","carbonIntensity":null,"datetime":"2022-01-01T00:00:00Z"})",
       "no values in the reply"},
      {R"({"zone":"DE","carbonIntensity":1,"datetime":"2022-01-01T00:00:00Z","emissionFactorType":"x"})",
       "reply.emissionFactorType: expected \"lifecycle\" or \"direct\", found \"x\""},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ErrorOf([&] { ParseElectricityMapsResponse(c.body, ResponseKind::kLatest); }),
              c.error)
        << c.body;
  }
  EXPECT_EQ(ErrorOf([] {
              ParseElectricityMapsResponse(R"({"zone":"DE","history":{}})", ResponseKind::kHistory);
            }),
            "reply.history: expected an array, found object");
  EXPECT_EQ(
      ErrorOf([] {
        ParseElectricityMapsResponse(
            R"({"zone":"DE","history":[{"carbonIntensity":1,"datetime":"2022-01-01T00:00:00Z"},
                      {"carbonIntensity":2,"datetime":"2022-01-01T00:00:00Z"}]})",
            ResponseKind::kHistory);
      }),
      "two values for 2022-01-01T00:00:00Z");
}

TEST(ParseWattTime, MalformedRepliesGiveOneLine) {
  const Malformed cases[] = {
      {R"({"data":[]})", "reply: no field \"meta\""},
      {R"({"data":[],"meta":{"region":"X","units":"kg"}})",
       "meta.units: \"kg\" is not one joule knows (lbs_co2_per_mwh, percentile)"},
      {R"({"data":{},"meta":{"region":"X","units":"percentile"}})",
       "reply.data: expected an array, found object"},
      {R"({"data":[{"value":1}],"meta":{"region":"X","units":"percentile"}})",
       "data[0]: no field \"point_time\""},
      {R"({"data":[{"point_time":"2026-04-01T00:00:00+25:00","value":1}],"meta":{"region":"X","units":"percentile"}})",
       "data[0].point_time: bad timestamp '2026-04-01T00:00:00+25:00': expected ISO 8601 UTC "
       "like 2022-01-01T00:00:00Z or +00:00"},
      {R"({"data":[],"meta":{"region":"X","units":"percentile"}})", "no values in the reply"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ErrorOf([&] { ParseWattTimeResponse(c.body, ResponseKind::kHistory); }), c.error)
        << c.body;
  }
  EXPECT_EQ(ErrorOf([] { ParseWattTimeLogin(R"({"token":5})"); }),
            "login reply.token: expected a string, found number");
  EXPECT_EQ(ErrorOf([] { ParseWattTimeLogin("<html>"); }), "malformed JSON reply (at byte 1 of 6)");
}

TEST(ParseCarbonIntensityUk, MalformedRepliesGiveOneLine) {
  const Malformed cases[] = {
      {R"({"data":[{"from":"2026-11-29T12:00Z","to":"2026-11-29T12:30Z"}]})",
       "data[0]: no field \"intensity\""},
      {R"({"data":[{"from":"2026-11-29T12:30Z","to":"2026-11-29T12:00Z","intensity":{"forecast":1}}]})",
       "data[0]: \"to\" is not after \"from\""},
      {R"({"data":[{"from":"2026-13-29T12:00Z","to":"2026-11-29T12:30Z","intensity":{"forecast":1}}]})",
       "data[0].from: bad timestamp '2026-13-29T12:00Z': expected ISO 8601 UTC like "
       "2022-01-01T00:00:00Z or +00:00"},
      {R"({"data":[{"from":"2026-11-29T12:00Z","to":"2026-11-29T12:30Z","intensity":{"forecast":true}}]})",
       "data[0].intensity.forecast: expected a number, found boolean"},
      {R"({"error":{"code":"400 Bad Request","message":"Please enter a valid date"}})",
       "reply: no field \"data\""},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ErrorOf([&] { ParseCarbonIntensityUkResponse(c.body, ResponseKind::kHistory); }),
              c.error)
        << c.body;
  }
}

TEST(IsoTime, ReadsTheProvidersFormsAndWritesUtc) {
  EXPECT_EQ(detail::ParseIsoTime("2019-05-21T00:00:00.000Z"), 1558396800);
  EXPECT_EQ(detail::ParseIsoTime("2019-05-21T02:00:00+02:00"), 1558396800);
  EXPECT_EQ(detail::ParseIsoTime("2019-05-20T23:00-01:00"), 1558396800);
  EXPECT_EQ(detail::ParseIsoTime("2019-05-21T00:00:00.5Z"), 1558396800.5);
  EXPECT_EQ(detail::FormatIsoTime(1558396800), "2019-05-21T00:00:00Z");
  EXPECT_EQ(detail::FormatIsoTime(kNow, false), "2026-11-29T12:00Z");
  EXPECT_EQ(detail::StartOfYear(kNow), 1767225600);  // 2026-01-01
  for (const char* bad : {"2019-02-29T00:00Z", "2019-05-21T00:00:00", "2019-05-21",
                          "1969-12-31T00:00Z", "2019-05-21T24:00Z", "2019-05-21T00:00ZZ"}) {
    EXPECT_THROW(detail::ParseIsoTime(bad), Error) << bad;
  }
}

// ---- Electricity Maps over HTTP -------------------------------------------

class ElectricityMapsHttp : public ::testing::Test {
 protected:
  FakeProviderServer fake_;
  std::string cache_ = MakeTempDir();
  ScopedEnv token_{"ELECTRICITYMAPS_TOKEN", "secret-token"};
};

TEST_F(ElectricityMapsHttp, LatestSendsTheTokenAndZone) {
  fake_.RespondAlways(200, kEmLatest);
  auto src = MakeElectricityMapsSource(TestOptions(fake_, cache_));
  IntensitySeries s = src->Latest("DE");
  ASSERT_EQ(s.points.size(), 1u);
  EXPECT_EQ(s.points[0].g_per_kwh, 302);
  auto seen = fake_.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].path, "/v3/carbon-intensity/latest");
  EXPECT_EQ(seen[0].auth_token, "secret-token");
  EXPECT_EQ(seen[0].params.find("zone")->second, "DE");
  EXPECT_EQ(seen[0].params.find("emissionFactorType")->second, "lifecycle");
}

TEST_F(ElectricityMapsHttp, MissingTokenNamesTheVariableAndAsksNothing) {
  ScopedEnv unset("ELECTRICITYMAPS_TOKEN", nullptr);
  auto src = MakeElectricityMapsSource(TestOptions(fake_, cache_));
  EXPECT_EQ(ErrorOf([&] { src->Latest("DE"); }),
            "electricitymaps: no API token: set ELECTRICITYMAPS_TOKEN");
  EXPECT_EQ(fake_.count(), 0u);
}

TEST_F(ElectricityMapsHttp, Status401IsOneLineAndNotRetried) {
  fake_.RespondAlways(401, R"({"message":"Unauthorized"})");
  auto src = MakeElectricityMapsSource(TestOptions(fake_, cache_));
  EXPECT_EQ(ErrorOf([&] { src->Latest("DE"); }),
            "electricitymaps: HTTP 401: token refused (set ELECTRICITYMAPS_TOKEN)");
  EXPECT_EQ(fake_.count(), 1u);
}

TEST_F(ElectricityMapsHttp, Status403NamesTheEndpointAndIsNotRetried) {
  fake_.RespondAlways(403, R"({"message":"Forbidden"})");
  auto src = MakeElectricityMapsSource(TestOptions(fake_, cache_));
  EXPECT_EQ(ErrorOf([&] { src->Forecast("DE", kNow, 3600); }),
            "electricitymaps: HTTP 403: forbidden: the account may not include "
            "/v3/carbon-intensity/forecast?zone=DE&emissionFactorType=lifecycle (token refused "
            "(set ELECTRICITYMAPS_TOKEN))");
  EXPECT_EQ(fake_.count(), 1u);
}

TEST_F(ElectricityMapsHttp, Status400ShowsTheBodyAndIsNotRetried) {
  fake_.RespondAlways(400, "{\"error\":\"zone\nXX unknown\"}");
  auto src = MakeElectricityMapsSource(TestOptions(fake_, cache_));
  EXPECT_EQ(ErrorOf([&] { src->Latest("XX"); }),
            "electricitymaps: HTTP 400: {\"error\":\"zone XX unknown\"}");
  EXPECT_EQ(fake_.count(), 1u);
}

TEST_F(ElectricityMapsHttp, MalformedJsonIsOneLineAndNotCached) {
  fake_.RespondAlways(200, R"({"zone":"DE","carbonIntensity":30)");
  auto src = MakeElectricityMapsSource(TestOptions(fake_, cache_));
  const std::string expected =
      "electricitymaps: malformed JSON reply (ends after 33 bytes, incomplete)";
  EXPECT_EQ(ErrorOf([&] { src->Latest("DE"); }), expected);
  EXPECT_EQ(ErrorOf([&] { src->Latest("DE"); }), expected);
  EXPECT_EQ(fake_.count(), 2u);
}

TEST_F(ElectricityMapsHttp, ReplyCutShortIsOneLine) {
  // Promises 1000 bytes, sends 20, then drops the connection.
  fake_.Respond([](const httplib::Request&, httplib::Response& res) {
    res.set_content_provider(1000, "application/json",
                             [](std::size_t, std::size_t, httplib::DataSink& sink) {
                               sink.write("{\"zone\":\"DE\",\"carbon", 20);
                               return false;
                             });
  });
  auto src = MakeElectricityMapsSource(TestOptions(fake_, cache_));
  EXPECT_EQ(ErrorOf([&] { src->Latest("DE"); }), "electricitymaps: the reply from " + fake_.url() +
                                                     " was cut short (connection closed mid-way)");
  EXPECT_EQ(fake_.count(), 1u);
}

TEST_F(ElectricityMapsHttp, SlowReplyFailsWithinTheReadTimeout) {
  fake_.Respond([this](const httplib::Request&, httplib::Response& res) {
    fake_.SlowDown(10);
    res.set_content(kEmLatest, "application/json");
  });
  HttpOptions o = TestOptions(fake_, cache_);
  o.read_timeout_s = 0.3;
  auto src = MakeElectricityMapsSource(o);
  const double t0 = MonotonicSeconds();
  EXPECT_EQ(ErrorOf([&] { src->Latest("DE"); }),
            "electricitymaps: no reply from " + fake_.url() + " within the read time-out (0.3 s)");
  // Not retried, so one time-out and some slack: nothing waits for the 10 s reply.
  EXPECT_LT(MonotonicSeconds() - t0, 1.5);
  EXPECT_EQ(fake_.count(), 1u);
}

TEST_F(ElectricityMapsHttp, RecentHistoryUsesHistoryAndOlderUsesPastRangeInTenDayPieces) {
  fake_.Respond([](const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/v3/carbon-intensity/history") {
      res.set_content(
          R"({"zone":"DE","history":[{"carbonIntensity":100,"datetime":"2026-11-29T10:00:00Z"},
              {"carbonIntensity":110,"datetime":"2026-11-29T11:00:00Z"}]})",
          "application/json");
      return;
    }
    // past-range: one value at the start of each piece.
    res.set_content(R"({"zone":"DE","data":[{"carbonIntensity":7,"datetime":")" +
                        req.get_param_value("start") + R"("}]})",
                    "application/json");
  });
  auto src = MakeElectricityMapsSource(TestOptions(fake_, cache_));
  IntensitySeries recent = src->History("DE", kNow - 7200, kNow - 3600);
  ASSERT_EQ(recent.points.size(), 1u);
  EXPECT_EQ(recent.points[0].g_per_kwh, 100);
  EXPECT_EQ(fake_.seen().back().path, "/v3/carbon-intensity/history");

  const double t0 = 1646092800;  // 2022-03-01, 25 days: three requests
  IntensitySeries past = src->History("DE", t0, t0 + 25 * 86400);
  auto seen = fake_.seen();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[1].path, "/v3/carbon-intensity/past-range");
  EXPECT_EQ(seen[1].params.find("start")->second, "2022-03-01T00:00:00Z");
  EXPECT_EQ(seen[1].params.find("end")->second, "2022-03-11T00:00:00Z");
  EXPECT_EQ(seen[3].params.find("start")->second, "2022-03-21T00:00:00Z");
  EXPECT_EQ(seen[3].params.find("end")->second, "2022-03-26T00:00:00Z");
  ASSERT_EQ(past.points.size(), 3u);
  EXPECT_EQ(past.points[2].unix_s, t0 + 20 * 86400);
}

TEST_F(ElectricityMapsHttp, ForecastIsCutToTheWindow) {
  fake_.RespondAlways(200, R"({"zone":"DE","forecast":[
      {"carbonIntensity":210,"datetime":"2026-11-29T12:00:00Z"},
      {"carbonIntensity":190,"datetime":"2026-11-29T13:00:00Z"},
      {"carbonIntensity":180,"datetime":"2026-11-29T14:00:00Z"}]})");
  auto src = MakeElectricityMapsSource(TestOptions(fake_, cache_));
  std::optional<IntensitySeries> f = src->Forecast("DE", kNow + 3600, 7200);
  ASSERT_TRUE(f.has_value());
  ASSERT_EQ(f->points.size(), 2u);
  EXPECT_EQ(f->points[0].g_per_kwh, 190);
  EXPECT_EQ(f->points[1].g_per_kwh, 180);
  EXPECT_EQ(ErrorOf([&] { src->Forecast("DE", kNow + 86400, 3600); }),
            "electricitymaps: no values for DE in the asked window");
}

TEST_F(ElectricityMapsHttp, BaseUrlFromTheEnvironment) {
  fake_.RespondAlways(200, kEmLatest);
  ScopedEnv url("JOULE_ELECTRICITYMAPS_URL", fake_.url().c_str());
  HttpOptions o = TestOptions(fake_, cache_);
  o.base_url.clear();
  EXPECT_EQ(MakeElectricityMapsSource(o)->Latest("DE").points[0].g_per_kwh, 302);
  EXPECT_EQ(fake_.count(), 1u);
}

// ---- Cache -------------------------------------------------------------------

TEST_F(ElectricityMapsHttp, CacheServesEachKindForItsMaxAge) {
  fake_.Respond([](const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/v3/carbon-intensity/forecast") {
      res.set_content(
          R"({"zone":"DE","forecast":[{"carbonIntensity":1,"datetime":"2026-11-29T13:00:00Z"}]})",
          "application/json");
    } else {
      res.set_content(kEmLatest, "application/json");
    }
  });
  auto now = std::make_shared<double>(kNow);
  auto src = MakeElectricityMapsSource(TestOptions(fake_, cache_, now));
  src->Latest("DE");
  *now += 300;  // 5 min: still fresh
  src->Latest("DE");
  EXPECT_EQ(fake_.count(), 1u);
  *now += 1;
  src->Latest("DE");
  EXPECT_EQ(fake_.count(), 2u);

  src->Forecast("DE", kNow, 86400);
  *now += 1800;
  src->Forecast("DE", kNow, 86400);
  EXPECT_EQ(fake_.count(), 3u);
  *now += 1;
  src->Forecast("DE", kNow, 86400);
  EXPECT_EQ(fake_.count(), 4u);

  // Another client (another process) reads the same files.
  auto again = MakeElectricityMapsSource(TestOptions(fake_, cache_, now));
  again->Forecast("DE", kNow, 86400);
  EXPECT_EQ(fake_.count(), 4u);
  // No temporary files left behind by the atomic writes.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(cache_)) {
    EXPECT_EQ(e.path().extension(), ".json") << e.path();
    ++files;
  }
  EXPECT_EQ(files, 2);
}

TEST_F(ElectricityMapsHttp, CacheLivesUnderJouleHome) {
  fake_.RespondAlways(200, kEmLatest);
  const std::string home = MakeTempDir();
  ScopedEnv env("JOULE_HOME", home.c_str());
  EXPECT_EQ(GridCacheDir(), home + "/cache/grid");
  HttpOptions o = TestOptions(fake_, "");
  MakeElectricityMapsSource(o)->Latest("DE");
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(home + "/cache/grid")) {
    EXPECT_THAT(e.path().filename().string(), ::testing::StartsWith("electricitymaps-latest-"));
    ++files;
  }
  EXPECT_EQ(files, 1);
  EXPECT_EQ(CacheMaxAgeSeconds(ResponseKind::kHistory), 86400);
}

// ---- Retries -------------------------------------------------------------------

class UkHttp : public ::testing::Test {
 protected:
  FakeProviderServer fake_;
  std::string cache_ = MakeTempDir();
};

TEST_F(UkHttp, ServerErrorsAreRetriedTwiceThenOneLine) {
  fake_.RespondAlways(500, "oops");
  auto src = MakeCarbonIntensityUkSource(TestOptions(fake_, cache_));
  EXPECT_EQ(ErrorOf([&] { src->Latest("GB"); }),
            "carbonintensity: HTTP 500: server error, still after 3 attempts");
  EXPECT_EQ(fake_.count(), 3u);
}

TEST_F(UkHttp, RateLimitHonoursRetryAfterThenSucceeds) {
  auto calls = std::make_shared<int>(0);
  fake_.Respond([calls](const httplib::Request&, httplib::Response& res) {
    if ((*calls)++ == 0) {
      res.status = 429;
      res.set_header("Retry-After", "1");
      return;
    }
    res.set_content(kUkHalfHours, "application/json");
  });
  auto src = MakeCarbonIntensityUkSource(TestOptions(fake_, cache_));
  const double t0 = MonotonicSeconds();
  IntensitySeries s = src->Latest("GB");
  EXPECT_GE(MonotonicSeconds() - t0, 0.95);  // waited as told, not backoff_s (0.01 s)
  EXPECT_EQ(s.points[0].g_per_kwh, 175);
  EXPECT_EQ(fake_.count(), 2u);
}

TEST_F(UkHttp, RetryAfterIsCappedAndRetriesAreBounded) {
  fake_.Respond([](const httplib::Request&, httplib::Response& res) {
    res.status = 429;
    res.set_header("Retry-After", "3600");
  });
  HttpOptions o = TestOptions(fake_, cache_);
  o.max_retry_after_s = 0.1;
  auto src = MakeCarbonIntensityUkSource(o);
  const double t0 = MonotonicSeconds();
  EXPECT_EQ(ErrorOf([&] { src->Latest("GB"); }),
            "carbonintensity: HTTP 429: rate limited, still after 3 attempts");
  EXPECT_LT(MonotonicSeconds() - t0, 1.5);
  EXPECT_EQ(fake_.count(), 3u);
}

TEST(ProviderHttp, RefusedConnectionIsRetriedThenOneLine) {
  // A port nothing listens on: bind one, note it, close it.
  int port;
  {
    FakeProviderServer gone;
    port = gone.port();
  }
  HttpOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(port);
  o.use_cache = false;
  o.backoff_s = 0.01;
  o.connect_timeout_s = 0.5;
  const double t0 = MonotonicSeconds();
  auto src = MakeCarbonIntensityUkSource(o);
  EXPECT_EQ(ErrorOf([&] { src->Latest("GB"); }),
            "carbonintensity: cannot connect to http://127.0.0.1:" + std::to_string(port) +
                ", still after 3 attempts");
  EXPECT_LT(MonotonicSeconds() - t0, 3.0);
}

TEST_F(UkHttp, HistoryAndForecastPathsAndZone) {
  fake_.RespondAlways(200, kUkHalfHours);
  auto src = MakeCarbonIntensityUkSource(TestOptions(fake_, cache_));
  IntensitySeries h = src->History("GB", kNow, kNow + 3600);
  EXPECT_EQ(h.points.size(), 2u);
  EXPECT_EQ(fake_.seen().back().path, "/intensity/2026-11-29T12:00Z/2026-11-29T13:00Z");
  std::optional<IntensitySeries> f = src->Forecast("GB", kNow + 600, 3600);
  ASSERT_TRUE(f.has_value());
  ASSERT_EQ(f->points.size(), 1u);  // 12:30 only: 12:00 starts before the window
  EXPECT_EQ(f->points[0].g_per_kwh, 170);
  EXPECT_EQ(fake_.seen().back().path, "/intensity/2026-11-29T12:00Z/fw48h");
  EXPECT_EQ(ErrorOf([&] { src->Latest("DE"); }),
            "carbonintensity: zone 'DE': this API covers Great Britain only (GB)");
}

// ---- WattTime --------------------------------------------------------------

class WattTimeHttp : public ::testing::Test {
 protected:
  FakeProviderServer fake_;
  std::string cache_ = MakeTempDir();
  ScopedEnv user_{"WATTTIME_USERNAME", "ada"};
  ScopedEnv password_{"WATTTIME_PASSWORD", "pw"};
};

TEST_F(WattTimeHttp, LogsInOnceWithBasicAuthThenSendsTheBearerToken) {
  fake_.Respond([](const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/login") {
      res.set_content(R"({"token":"tok123"})", "application/json");
    } else if (req.path == "/v3/signal-index") {
      res.set_content(kWattTimeIndex, "application/json");
    } else {
      res.set_content(kWattTimeMoer, "application/json");
    }
  });
  auto src = MakeWattTimeSource(TestOptions(fake_, cache_));
  IntensitySeries latest = src->Latest("CAISO_NORTH");
  EXPECT_EQ(latest.unit, "percent");
  EXPECT_EQ(latest.points[0].g_per_kwh, 42);
  std::optional<IntensitySeries> f = src->Forecast("CAISO_NORTH", 1775001600, 3600);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->signal, Signal::kMarginal);
  EXPECT_DOUBLE_EQ(f->points[0].g_per_kwh, 453.59237);
  auto seen = fake_.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].path, "/login");
  EXPECT_EQ(seen[0].authorization, "Basic YWRhOnB3");  // base64("ada:pw")
  EXPECT_EQ(seen[1].path, "/v3/signal-index");
  EXPECT_EQ(seen[1].authorization, "Bearer tok123");
  EXPECT_EQ(seen[1].params.find("region")->second, "CAISO_NORTH");
  EXPECT_EQ(seen[1].params.find("signal_type")->second, "co2_moer");
  EXPECT_EQ(seen[2].path, "/v3/forecast");
  EXPECT_EQ(seen[2].authorization, "Bearer tok123");
}

TEST_F(WattTimeHttp, MissingCredentialsNameTheVariables) {
  ScopedEnv unset("WATTTIME_PASSWORD", nullptr);
  auto src = MakeWattTimeSource(TestOptions(fake_, cache_));
  EXPECT_EQ(ErrorOf([&] { src->Latest("CAISO_NORTH"); }),
            "watttime: no credentials: set WATTTIME_USERNAME and WATTTIME_PASSWORD");
  EXPECT_EQ(fake_.count(), 0u);
}

TEST_F(WattTimeHttp, RefusedLoginIsOneLine) {
  fake_.RespondAlways(401, "");
  auto src = MakeWattTimeSource(TestOptions(fake_, cache_));
  EXPECT_EQ(ErrorOf([&] { src->Latest("CAISO_NORTH"); }),
            "watttime: HTTP 401: login refused (check WATTTIME_USERNAME and WATTTIME_PASSWORD)");
  EXPECT_EQ(fake_.count(), 1u);
}

TEST_F(WattTimeHttp, HistoryAsksInPiecesOfThirtyDays) {
  fake_.Respond([](const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/login") {
      res.set_content(R"({"token":"t"})", "application/json");
      return;
    }
    res.set_content(
        R"({"data":[{"point_time":")" + req.get_param_value("start") +
            R"(","value":100}],"meta":{"region":"CAISO_NORTH","units":"lbs_co2_per_mwh"}})",
        "application/json");
  });
  auto src = MakeWattTimeSource(TestOptions(fake_, cache_));
  const double t0 = 1775001600;  // 2026-04-01, 31 days: two requests
  IntensitySeries s = src->History("CAISO_NORTH", t0, t0 + 31 * 86400);
  auto seen = fake_.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1].path, "/v3/historical");
  EXPECT_EQ(seen[1].params.find("start")->second, "2026-04-01T00:00:00Z");
  EXPECT_EQ(seen[1].params.find("end")->second, "2026-05-01T00:00:00Z");
  EXPECT_EQ(seen[2].params.find("start")->second, "2026-05-01T00:00:00Z");
  EXPECT_EQ(seen[2].params.find("end")->second, "2026-05-02T00:00:00Z");
  ASSERT_EQ(s.points.size(), 2u);
  EXPECT_DOUBLE_EQ(s.points[1].g_per_kwh, 45.359237);
}

// The fuzz seeds are the documented shapes: each parses with its parser.
TEST(FuzzSeeds, EachSeedParsesWithItsProvidersParser) {
  const std::filesystem::path dir =
      std::filesystem::path(kDataDirForSeeds).parent_path() / "fuzz/corpus/grid_provider";
  int seeds = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    const std::string body = ReadFile(e.path().string());
    const ResponseKind kind =
        name.find("forecast") != std::string::npos ? ResponseKind::kForecast
        : name.find("latest") != std::string::npos || name.find("index") != std::string::npos
            ? ResponseKind::kLatest
            : ResponseKind::kHistory;
    if (name.rfind("electricitymaps", 0) == 0) {
      EXPECT_FALSE(ParseElectricityMapsResponse(body, kind).points.empty()) << name;
    } else if (name == "watttime_login.json") {
      EXPECT_FALSE(ParseWattTimeLogin(body).empty());
    } else if (name.rfind("watttime", 0) == 0) {
      EXPECT_FALSE(ParseWattTimeResponse(body, kind).points.empty()) << name;
    } else {
      EXPECT_FALSE(ParseCarbonIntensityUkResponse(body, kind).points.empty()) << name;
    }
    ++seeds;
  }
  EXPECT_EQ(seeds, 8);
}

// ---- Tables, series files, fallback ------------------------------------------

const std::string kDataDir = JOULE_SOURCE_DATA_DIR;

TEST(BundledSource, ReadsTheChosenColumnOf2022) {
  auto lca = MakeBundledSource(Signal::kLca, kDataDir);
  IntensitySeries s = lca->History("GB", 1640995200, 1640995200 + 7200);
  EXPECT_EQ(s.provenance, "bundled:GB_2022_hourly.csv");
  EXPECT_EQ(s.zone, "GB");
  EXPECT_EQ(s.signal, Signal::kLca);
  ASSERT_EQ(s.points.size(), 2u);
  EXPECT_EQ(s.points[0].g_per_kwh, 92.88);
  EXPECT_EQ(s.points[1].g_per_kwh, 95.62);
  auto direct = MakeBundledSource(Signal::kDirect, kDataDir);
  EXPECT_EQ(direct->History("de", 1640995200, 1640995200 + 3600).points[0].g_per_kwh, 162.59);
  EXPECT_FALSE(lca->Forecast("GB", kNow, 3600).has_value());
}

TEST(BundledSource, OtherYearsTakeTheSameHourOf2022AndSaySo) {
  auto src = MakeBundledSource(Signal::kLca, kDataDir, [] { return kNow + 1200; });
  IntensitySeries s = src->Latest("GB");  // 2026-11-29 12:20 -> 2022-11-29 12:00
  ASSERT_EQ(s.points.size(), 1u);
  EXPECT_EQ(s.points[0].unix_s, kNow);
  EXPECT_EQ(s.points[0].g_per_kwh, 356.07);
  EXPECT_EQ(s.provenance, "bundled:GB_2022_hourly.csv (2022 values at the same hour of the year)");
  // 2023-01-01T01:00Z is 2022-01-01T01:00Z's value.
  EXPECT_EQ(src->History("GB", 1672534800, 1672534800 + 1).points[0].g_per_kwh, 95.62);
}

TEST(BundledSource, UnknownZoneListsTheZones) {
  auto src = MakeBundledSource(Signal::kLca, kDataDir);
  EXPECT_EQ(ErrorOf([&] { src->Latest("CAISO_NORTH"); }),
            "zone 'CAISO_NORTH': no bundled table in " + kDataDir +
                "/grid-carbon (zones with one: CA-ON, DE, ES, FR, GB, PL)");
  EXPECT_TRUE(HasBundledTable("fr", kDataDir));
  EXPECT_FALSE(HasBundledTable("../GB", kDataDir));
}

TEST(SeriesFileSource, ReadsAUsersCsv) {
  const std::string path = MakeTempDir() + "/mine.csv";
  std::ofstream(path) << "timestamp,g_per_kwh\n2022-01-01T00:00:00Z,100\n"
                         "2022-01-01T00:30:00Z,80\n2022-01-01T01:00:00Z,60\n";
  auto src = MakeSeriesFileSource(path, "HOME");
  IntensitySeries s = src->History("HOME", 1640995200, 1640995200 + 3600);
  EXPECT_EQ(s.provenance, "series:mine.csv");
  EXPECT_EQ(s.step_s, 1800);
  ASSERT_EQ(s.points.size(), 2u);
  EXPECT_EQ(s.points[1].g_per_kwh, 80);
  EXPECT_EQ(ErrorOf([&] { src->History("DE", 0, 1); }), "series:mine.csv: holds zone HOME, not DE");
}

TEST(FallbackSource, ServerErrorFallsBackToTheTableAndSaysWhy) {
  FakeProviderServer fake;
  fake.RespondAlways(500, "");
  ProviderChoice choice;
  choice.provider = "carbonintensity";
  choice.http = TestOptions(fake, MakeTempDir());
  choice.data_dir = kDataDir;
  auto src = OpenIntensitySource(choice);
  EXPECT_EQ(src->name(), "fallback(carbonintensity)");
  // In 2022: the table's own hour, the direct column (what the UK API counts).
  IntensitySeries s = src->History("GB", 1640995200, 1640995200 + 3600);
  EXPECT_EQ(s.provenance,
            "fallback:bundled:GB_2022_hourly.csv (carbonintensity: HTTP 500: server error, "
            "still after 3 attempts)");
  // Three attempts, then never again: the next questions go to the table.
  EXPECT_EQ(fake.count(), 3u);
  EXPECT_EQ(s.signal, Signal::kDirect);
  ASSERT_EQ(s.points.size(), 1u);
  EXPECT_EQ(s.points[0].g_per_kwh, 53.59);
  // Outside 2022, the forecast falls back too and the label says which hour.
  std::optional<IntensitySeries> f = src->Forecast("GB", kNow, 7200);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->provenance,
            "fallback:bundled:GB_2022_hourly.csv (2022 values at the same hour of the year) "
            "(carbonintensity: HTTP 500: server error, still after 3 attempts)");
  ASSERT_EQ(f->points.size(), 2u);
  EXPECT_EQ(f->points[0].g_per_kwh, 261.15);
  EXPECT_EQ(f->points[1].g_per_kwh, 261.0);
  EXPECT_EQ(fake.count(), 3u);
}

TEST(FallbackSource, MissingTokenFallsBackToo) {
  ScopedEnv unset("ELECTRICITYMAPS_TOKEN", nullptr);
  FakeProviderServer fake;
  ProviderChoice choice;
  choice.provider = "electricitymaps";
  choice.http = TestOptions(fake, MakeTempDir());
  choice.data_dir = kDataDir;
  IntensitySeries s = OpenIntensitySource(choice)->History("DE", 1640995200, 1640995200 + 3600);
  EXPECT_EQ(s.provenance,
            "fallback:bundled:DE_2022_hourly.csv (electricitymaps: no API token: set "
            "ELECTRICITYMAPS_TOKEN)");
  EXPECT_EQ(s.points[0].g_per_kwh, 212.91);
}

TEST(FallbackSource, ZoneWithoutATablePropagatesTheLiveError) {
  FakeProviderServer fake;
  fake.RespondAlways(503, "");
  ScopedEnv user("WATTTIME_USERNAME", "ada");
  ScopedEnv password("WATTTIME_PASSWORD", "pw");
  ProviderChoice choice;
  choice.provider = "watttime";
  choice.http = TestOptions(fake, MakeTempDir());
  choice.data_dir = kDataDir;
  auto src = OpenIntensitySource(choice);
  EXPECT_EQ(ErrorOf([&] { src->Latest("CAISO_NORTH"); }),
            "watttime: HTTP 503: server error, still after 3 attempts");
}

TEST(OpenIntensitySource, UnknownProviderListsTheKnownOnes) {
  ProviderChoice choice;
  choice.provider = "gridstatus";
  EXPECT_EQ(ErrorOf([&] { OpenIntensitySource(choice); }),
            "intensity source 'gridstatus': expected electricitymaps, watttime, carbonintensity, "
            "bundled or series");
  choice.provider = "electricitymaps";
  choice.fallback = false;
  EXPECT_EQ(OpenIntensitySource(choice)->name(), "electricitymaps");
}

}  // namespace
}  // namespace joule::grid
