// Carbon model: table lookups against figures read by hand from data/carbon/,
// series parsing and pro-rata splitting computed by hand, PUE and embodied
// arithmetic, and the errors bad input must give.

#include "joule/carbon.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "joule/util.hpp"

namespace joule {
namespace {

using ::testing::HasSubstr;

constexpr double kRel = 1e-9;
constexpr double kJoulesPerKwh = 3.6e6;
// 2022-01-01T00:00:00Z in unix seconds.
constexpr double kNewYear2022 = 1640995200.0;
constexpr double kHour = 3600.0;

void ExpectRel(double actual, double expected) {
  EXPECT_NEAR(actual, expected, std::abs(expected) * kRel) << "expected " << expected;
}

std::string DataDirForTests() { return JOULE_SOURCE_DATA_DIR; }

std::string WriteTemp(const std::string& name, const std::string& contents) {
  std::filesystem::path dir = std::filesystem::path(JOULE_TEST_BINARY_DIR) / "carbon_test_files";
  std::filesystem::create_directories(dir);
  std::string path = (dir / name).string();
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

CarbonModel Resolve(const CarbonOptions& options) {
  return CarbonModel::Resolve(options, DataDirForTests());
}

// Runs `fn`, which must throw joule::Error, and returns the message.
std::string ErrorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected joule::Error";
  return "";
}

std::string ResolveError(const CarbonOptions& options) {
  return ErrorOf([&] { Resolve(options); });
}

// ---- tables ----------------------------------------------------------------

TEST(CarbonTables, CountryFranceFromGlobalEnergyMix) {
  CarbonOptions options;
  options.country_iso3 = "fra";  // any case
  CarbonModel model = Resolve(options);
  // global_energy_mix.json: "FRA": {"carbon_intensity": 56.039, "country_name": "France", "year":
  // 2023}
  ExpectRel(model.IntensityAt(0), 56.039);
  ExpectRel(model.OperationalGrams(kJoulesPerKwh, 0, 10), 56.039);
  EXPECT_EQ(model.country_iso(), "FRA");
  EXPECT_EQ(model.country_name(), "France");
  EXPECT_FALSE(model.is_default());
  EXPECT_THAT(model.source(), HasSubstr("country FRA"));
  EXPECT_THAT(model.source(), HasSubstr("global_energy_mix.json"));
}

TEST(CarbonTables, UnknownCountryListsCloseMatchesAndWhereToLook) {
  CarbonOptions options;
  options.country_iso3 = "FR";  // ISO2 instead of ISO3
  std::string message = ResolveError(options);
  EXPECT_THAT(message, HasSubstr("--country FR"));
  EXPECT_THAT(message, HasSubstr("FRA (France)"));
  EXPECT_THAT(message, HasSubstr("global_energy_mix.json"));

  options.country_iso3 = "Germny";
  EXPECT_THAT(ResolveError(options), HasSubstr("DEU (Germany)"));
}

TEST(CarbonTables, GcpRegionsFromImpactCsv) {
  CarbonOptions options;
  options.cloud_provider = "gcp";
  options.cloud_region = "europe-west1";
  CarbonModel model = Resolve(options);
  // impact.csv: gcp,...,europe-west1,,Belgium,BEL,,St. Ghislain,122,...
  ExpectRel(model.IntensityAt(0), 122.0);
  EXPECT_EQ(model.country_iso(), "BEL");
  EXPECT_EQ(model.country_name(), "Belgium");
  EXPECT_EQ(model.region(), "St. Ghislain");
  EXPECT_EQ(model.cloud_provider(), "gcp");
  EXPECT_EQ(model.cloud_region(), "europe-west1");
  EXPECT_THAT(model.source(), HasSubstr("impact.csv"));

  options.cloud_region = "US-CENTRAL1";  // any case; state column "Iowa", impact 430
  model = Resolve(options);
  ExpectRel(model.IntensityAt(0), 430.0);
  EXPECT_EQ(model.region(), "Iowa");
  EXPECT_EQ(model.country_iso(), "USA");
  EXPECT_EQ(model.cloud_region(), "us-central1");
}

TEST(CarbonTables, UnknownCloudRegionAndProvider) {
  CarbonOptions options;
  options.cloud_provider = "gcp";
  options.cloud_region = "europe-west99";
  std::string message = ResolveError(options);
  EXPECT_THAT(message, HasSubstr("--region europe-west99"));
  EXPECT_THAT(message, HasSubstr("europe-west"));
  EXPECT_THAT(message, HasSubstr("impact.csv"));

  options.cloud_provider = "aws";
  options.cloud_region = "us-east-1";
  message = ResolveError(options);
  EXPECT_THAT(message, HasSubstr("--cloud aws"));
  EXPECT_THAT(message, HasSubstr("gcp"));
  EXPECT_THAT(message, HasSubstr("--country"));
}

TEST(CarbonTables, UsStateConvertedFromPoundsPerMegawattHour) {
  CarbonOptions options;
  options.grid_region = "California";
  CarbonModel model = Resolve(options);
  // usa_emissions.json: "california": {"emissions": 452.541, "regionCode": "CA"} in lbs/MWh;
  // 1 lb = 453.59237 g, 1 MWh = 1000 kWh.
  const double expected = 452.541 * 453.59237 / 1000.0;
  ExpectRel(model.IntensityAt(0), expected);
  EXPECT_EQ(model.region(), "california");
  EXPECT_EQ(model.country_iso(), "USA");
  EXPECT_EQ(model.country_name(), "United States");

  options.grid_region = "tx";  // by state code: "texas": 1049.527
  ExpectRel(Resolve(options).IntensityAt(0), 1049.527 * 453.59237 / 1000.0);
}

TEST(CarbonTables, NordicZones) {
  CarbonOptions options;
  options.grid_region = "se3";
  CarbonModel model = Resolve(options);
  // nordic_emissions.json: SE3 emission_factor 18.0 gCO2eq/kWh; FI 72.0.
  ExpectRel(model.IntensityAt(0), 18.0);
  EXPECT_EQ(model.region(), "SE3");
  EXPECT_EQ(model.country_iso(), "SWE");
  EXPECT_EQ(model.country_name(), "Sweden");

  options.grid_region = "FI";
  model = Resolve(options);
  ExpectRel(model.IntensityAt(0), 72.0);
  EXPECT_EQ(model.country_iso(), "FIN");
}

TEST(CarbonTables, UnknownGridRegionListsCloseMatches) {
  CarbonOptions options;
  options.grid_region = "californa";
  std::string message = ResolveError(options);
  EXPECT_THAT(message, HasSubstr("--grid-region californa"));
  EXPECT_THAT(message, HasSubstr("california (CA)"));
  options.grid_region = "SE7";
  EXPECT_THAT(ResolveError(options), HasSubstr("SE1"));
}

TEST(CarbonTables, CountryMustAgreeWithCloudOrGridRegion) {
  CarbonOptions options;
  options.country_iso3 = "FRA";
  options.cloud_provider = "gcp";
  options.cloud_region = "europe-west1";  // Belgium
  EXPECT_THAT(ResolveError(options), HasSubstr("BEL"));

  options.country_iso3 = "BEL";  // agreeing country is fine and fills the name
  CarbonModel model = Resolve(options);
  ExpectRel(model.IntensityAt(0), 122.0);
  EXPECT_EQ(model.country_name(), "Belgium");
}

TEST(CarbonModelDefaults, WorldAverageWhenNothingGiven) {
  CarbonModel model = Resolve(CarbonOptions{});
  EXPECT_TRUE(model.is_default());
  ExpectRel(model.IntensityAt(12345), 475.0);
  ExpectRel(model.OperationalGrams(2 * kJoulesPerKwh, 0, 1), 950.0);
  EXPECT_THAT(model.source(), HasSubstr("world average 475"));
  EXPECT_EQ(model.EmbodiedGrams(3600), 0.0);
  EXPECT_EQ(model.pue(), 1.0);
  EXPECT_TRUE(model.country_iso().empty());
}

// ---- PUE and embodied -------------------------------------------------------

TEST(CarbonModelArithmetic, PueMultipliesOperationalGrams) {
  CarbonOptions options;
  options.intensity_g_per_kwh = 100.0;
  options.pue = 1.5;
  CarbonModel model = Resolve(options);
  // 7.2e6 J = 2 kWh; x 1.5 PUE x 100 g/kWh = 300 g.
  ExpectRel(model.OperationalGrams(7.2e6, 0, 60), 300.0);
  // 1 J: 1/3.6e6 kWh x 1.5 x 100.
  ExpectRel(model.OperationalGrams(1.0, 0, 60), 150.0 / 3.6e6);
  EXPECT_EQ(model.pue(), 1.5);
  EXPECT_FALSE(model.is_default());
}

TEST(CarbonModelArithmetic, EmbodiedAmortisedOverLifetime) {
  CarbonOptions options;
  options.embodied_kg = 150.0;
  options.lifetime_years = 4.0;
  CarbonModel model = Resolve(options);
  // 150 kg over 4 years of 365.25 days: 150000 g x 3600 s / (4 x 365.25 x 86400 s)
  // = 540000000 / 126230400.
  ExpectRel(model.EmbodiedGrams(3600), 540000000.0 / 126230400.0);
  ExpectRel(model.EmbodiedGrams(126230400.0), 150000.0);  // a whole lifetime: all of it
  EXPECT_EQ(model.EmbodiedGrams(0), 0.0);
}

TEST(CarbonModelErrors, OutOfRangeNumbersAndConflictingSources) {
  CarbonOptions options;
  options.embodied_kg = 150.0;  // lifetime missing
  EXPECT_THAT(ResolveError(options), HasSubstr("--lifetime-years"));
  options.lifetime_years = 0.0;
  EXPECT_THAT(ResolveError(options), HasSubstr("--lifetime-years 0"));
  options.lifetime_years = 4.0;
  options.embodied_kg = -1.0;
  EXPECT_THAT(ResolveError(options), HasSubstr("--embodied-kg -1"));

  CarbonOptions pue;
  pue.pue = 0.9;
  EXPECT_THAT(ResolveError(pue), HasSubstr("--pue 0.9"));
  pue.pue = NAN;
  EXPECT_THAT(ResolveError(pue), HasSubstr("--pue"));

  CarbonOptions negative;
  negative.intensity_g_per_kwh = -5.0;
  EXPECT_THAT(ResolveError(negative), HasSubstr("--intensity -5"));

  CarbonOptions two;
  two.intensity_g_per_kwh = 100.0;
  two.grid_region = "SE3";
  EXPECT_THAT(ResolveError(two), HasSubstr("more than one"));

  CarbonOptions half_cloud;
  half_cloud.cloud_provider = "gcp";
  EXPECT_THAT(ResolveError(half_cloud), HasSubstr("needs --region"));

  CarbonOptions kind;
  kind.series_kind = "both";
  EXPECT_THAT(ResolveError(kind), HasSubstr("--intensity-kind both"));
}

// ---- series -----------------------------------------------------------------

// 100 g/kWh from 00:00, 300 from 01:00, 200 from 02:00 (to 03:00), 2022-01-01 UTC.
const char* kPlainSeries =
    "timestamp,g_per_kwh\n"
    "2022-01-01T00:00:00Z,100\n"
    "2022-01-01 01:00:00,300\n"
    "2022-01-01T03:00:00+01:00,200\n";  // = 02:00Z

CarbonModel SeriesModel(const std::string& path, const std::string& kind = "lca",
                        double pue = 1.0) {
  CarbonOptions options;
  options.series_path = path;
  options.series_kind = kind;
  options.pue = pue;
  return Resolve(options);
}

TEST(CarbonSeries, PlainCsvStepsAndNearestEnds) {
  CarbonModel model = SeriesModel(WriteTemp("plain.csv", kPlainSeries));
  ASSERT_EQ(model.series().size(), 3u);
  EXPECT_EQ(model.series()[0].unix_s, kNewYear2022);
  EXPECT_EQ(model.series()[2].unix_s, kNewYear2022 + 2 * kHour);
  EXPECT_EQ(model.IntensityAt(kNewYear2022 + 0.5 * kHour), 100.0);
  EXPECT_EQ(model.IntensityAt(kNewYear2022 + kHour), 300.0);  // a step starts at its time
  EXPECT_EQ(model.IntensityAt(kNewYear2022 - 1e6), 100.0);    // before: first value
  EXPECT_EQ(model.IntensityAt(kNewYear2022 + 1e6), 200.0);    // after: last value
  EXPECT_THAT(model.source(), HasSubstr("2022-01-01T00:00:00Z..2022-01-01T03:00:00Z"));
  EXPECT_THAT(model.source(), HasSubstr("nearest end"));
  EXPECT_TRUE(model.country_iso().empty());
}

TEST(CarbonSeries, EnergySplitProRataAcrossHourBoundary) {
  CarbonModel model = SeriesModel(WriteTemp("plain_split.csv", kPlainSeries), "lca", 1.2);
  // 00:45-01:15: half the time at 100, half at 300 -> 200 g per kWh, x 1.2 PUE.
  const double t0 = kNewYear2022 + 0.75 * kHour, t1 = kNewYear2022 + 1.25 * kHour;
  ExpectRel(model.OperationalGrams(kJoulesPerKwh, t0, t1), 200.0 * 1.2);
  ExpectRel(model.MeanIntensity(t0, t1), 200.0);
  // 00:30-02:30 with 3 kWh: 0.5 h at 100, 1 h at 300, 0.5 h at 200 over 2 h
  // -> (50 + 300 + 100) / 2 = 225 g/kWh; x 3 kWh x 1.2.
  ExpectRel(model.OperationalGrams(3 * kJoulesPerKwh, kNewYear2022 + 0.5 * kHour,
                                   kNewYear2022 + 2.5 * kHour),
            225.0 * 3 * 1.2);
  // Reversed interval (wall clock stepped back) is the same interval.
  ExpectRel(model.OperationalGrams(kJoulesPerKwh, t1, t0), 200.0 * 1.2);
  // Zero-length interval: the intensity in force.
  ExpectRel(model.OperationalGrams(kJoulesPerKwh, t1, t1), 300.0 * 1.2);
  // Partly before the series: 23:30-00:30 the day before uses 100 for the
  // part outside (nearest end) and says so.
  ExpectRel(model.MeanIntensity(kNewYear2022 - 0.5 * kHour, kNewYear2022 + 0.5 * kHour), 100.0);
  EXPECT_EQ(model.CoverageWarning(t0, t1), "");
  EXPECT_THAT(model.CoverageWarning(kNewYear2022 + 2.5 * kHour, kNewYear2022 + 3.5 * kHour),
              HasSubstr("partly outside"));
  EXPECT_THAT(model.CoverageWarning(kNewYear2022 + 10 * kHour, kNewYear2022 + 11 * kHour),
              HasSubstr("wholly outside"));
}

TEST(CarbonSeries, UnixSecondsWithoutHeader) {
  CarbonModel model = SeriesModel(WriteTemp("unix.csv",
                                            "1640995200,80\n"
                                            "1640997000.5,40\r\n"  // CRLF tolerated
                                            "\n"));
  ASSERT_EQ(model.series().size(), 2u);
  EXPECT_EQ(model.series()[1].unix_s, 1640997000.5);
  EXPECT_EQ(model.IntensityAt(1640997000.0), 80.0);
}

// An Electricity Maps export as downloaded: the real header, three rows.
const char* kElectricityMapsSeries =
    "Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO\xE2\x82\x82"
    "eq/kWh "
    "(direct),Carbon Intensity gCO\xE2\x82\x82"
    "eq/kWh (LCA),Low Carbon Percentage,Renewable "
    "Percentage,Data Source,Data Estimated,Data Estimation Method\n"
    "2022-01-01 00:00:00,France,France,FR,20,40,94.23,25.36,opendata.reseaux-energies.fr,false,\n"
    "2022-01-01 01:00:00,France,France,FR,30,50,93.86,24.33,opendata.reseaux-energies.fr,true,"
    "TIME_SLICER_AVERAGE\n"
    "2022-01-01 02:00:00,France,France,FR,10,30,93.73,23.27,opendata.reseaux-energies.fr,false,\n";

TEST(CarbonSeries, ElectricityMapsDirectVersusLca) {
  std::string path = WriteTemp("em.csv", kElectricityMapsSeries);
  CarbonModel direct = SeriesModel(path, "direct");
  CarbonModel lca = SeriesModel(path, "LCA");  // any case
  // 00:30-01:30, 1 kWh: direct (20 + 30) / 2 = 25 g; LCA (40 + 50) / 2 = 45 g.
  const double t0 = kNewYear2022 + 0.5 * kHour, t1 = kNewYear2022 + 1.5 * kHour;
  ExpectRel(direct.OperationalGrams(kJoulesPerKwh, t0, t1), 25.0);
  ExpectRel(lca.OperationalGrams(kJoulesPerKwh, t0, t1), 45.0);
  EXPECT_THAT(direct.source(), HasSubstr("Electricity Maps, direct"));
  EXPECT_THAT(lca.source(), HasSubstr("Electricity Maps, lca"));
}

TEST(CarbonSeries, BundledFranceYearParses) {
  std::string path = DataDirForTests() + "/grid-carbon/FR_2022_hourly.csv";
  CarbonModel lca = SeriesModel(path, "lca");
  CarbonModel direct = SeriesModel(path, "direct");
  ASSERT_EQ(lca.series().size(), 8760u);
  // First row: 2022-01-01 00:00:00, direct 25.09, LCA 43.84; last: 23:00 on
  // 2022-12-31, LCA 42.17.
  EXPECT_EQ(lca.series().front().unix_s, kNewYear2022);
  EXPECT_EQ(lca.series().front().g_per_kwh, 43.84);
  EXPECT_EQ(direct.series().front().g_per_kwh, 25.09);
  EXPECT_EQ(lca.series().back().unix_s, kNewYear2022 + 8759 * kHour);
  EXPECT_EQ(lca.series().back().g_per_kwh, 42.17);
  EXPECT_EQ(lca.CoverageWarning(kNewYear2022, kNewYear2022 + 8760 * kHour), "");
}

struct MalformedCase {
  const char* name;
  const char* contents;
  const char* kind;
  const char* expected;  // substring of the message, "FILE:LINE: ..." included
};

TEST(CarbonSeries, MalformedFilesNameFileAndLine) {
  const MalformedCase cases[] = {
      {"bad_time.csv", "timestamp,g_per_kwh\n2022-01-01T00:00:00Z,1\n2022-13-01T00:00:00Z,2\n",
       "lca", "bad_time.csv:3: expected an ISO 8601 time"},
      {"bad_time2.csv", "yesterday,5\n", "lca", "bad_time2.csv:1: expected an ISO 8601 time"},
      {"bad_value.csv",
       "timestamp,g_per_kwh\n2022-01-01T00:00:00Z,1\n2022-01-01T01:00:00Z,2\n"
       "2022-01-01T02:00:00Z,lots\n",
       "lca", "bad_value.csv:4: expected a non-negative g_per_kwh in gCO2eq/kWh, found 'lots'"},
      {"negative.csv", "2022-01-01T00:00:00Z,-3\n", "lca",
       "negative.csv:1: expected a non-negative"},
      {"missing_column.csv", "timestamp,g_per_kwh\n2022-01-01T00:00:00Z\n", "lca",
       "missing_column.csv:2: expected 2 comma-separated fields, found 1"},
      {"empty.csv", "", "lca", "empty.csv:1: the file is empty"},
      {"blank.csv", "\n\n", "lca", "blank.csv:1: the file is empty"},
      {"header_only.csv", "timestamp,g_per_kwh\n", "lca", "header_only.csv:1: header but no data"},
      {"unsorted.csv",
       "timestamp,g_per_kwh\n2022-01-01T00:00:00Z,1\n2022-01-01T02:00:00Z,2\n"
       "2022-01-01T01:00:00Z,3\n",
       "lca", "unsorted.csv:4: time '2022-01-01T01:00:00Z' is not after the previous row's"},
      {"duplicate.csv", "1640995200,1\n1640995200,2\n", "lca", "duplicate.csv:2: time"},
      {"em_no_lca.csv",
       "Datetime (UTC),Country,Carbon Intensity gCO2eq/kWh (direct)\n2022-01-01 00:00:00,FR,3\n",
       "lca", "em_no_lca.csv:1: Electricity Maps header has no"},
      {"em_short_row.csv",
       "Datetime (UTC),Country,Carbon Intensity gCO2eq/kWh (LCA)\n2022-01-01 00:00:00,FR,3\n"
       "2022-01-01 01:00:00,FR\n",
       "lca", "em_short_row.csv:3: expected 3 comma-separated fields, found 2"},
      {"em_empty_value.csv",
       "Datetime (UTC),Country,Carbon Intensity gCO2eq/kWh (LCA)\n2022-01-01 00:00:00,FR,\n", "lca",
       "em_empty_value.csv:2: expected a non-negative carbon intensity"},
      {"quotes.csv", "\"2022-01-01T00:00:00Z,5\n", "lca", "quotes.csv:1: unbalanced double quotes"},
  };
  for (const MalformedCase& c : cases) {
    SCOPED_TRACE(c.name);
    std::string path = WriteTemp(c.name, c.contents);
    std::string message = ErrorOf([&] { SeriesModel(path, c.kind); });
    EXPECT_THAT(message, HasSubstr(c.expected));
  }
  EXPECT_THAT(ErrorOf([] { SeriesModel("/nonexistent/series.csv"); }),
              HasSubstr("/nonexistent/series.csv"));
}

TEST(CarbonSeries, TimestampForms) {
  // All of these are 2022-01-01T00:00:00Z (or a stated fraction after it).
  const std::pair<const char*, double> forms[] = {
      {"2022-01-01", 0},
      {"2022-01-01T00:00", 0},
      {"2022-01-01t00:00:00z", 0},
      {"2021-12-31T19:00:00-05:00", 0},
      {"2022-01-01T05:30:00+0530", 0},
      {"2022-01-01T00:00:00.25Z", 0.25},
      {"1640995200", 0},
  };
  for (const auto& [text, offset] : forms) {
    SCOPED_TRACE(text);
    std::string path = WriteTemp("form.csv", std::string(text) + ",7\n");
    CarbonModel model = SeriesModel(path);
    ASSERT_EQ(model.series().size(), 1u);
    EXPECT_EQ(model.series()[0].unix_s, kNewYear2022 + offset);
  }
  // February 29 exists in 2024, not in 2022.
  EXPECT_NO_THROW(SeriesModel(WriteTemp("leap.csv", "2024-02-29T00:00:00Z,1\n")));
  EXPECT_THAT(ErrorOf([] { SeriesModel(WriteTemp("noleap.csv", "2022-02-29T00:00:00Z,1\n")); }),
              HasSubstr("noleap.csv:1:"));
}

}  // namespace
}  // namespace joule
