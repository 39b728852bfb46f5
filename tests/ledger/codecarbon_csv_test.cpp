// CodeCarbon emissions.csv writer: the golden header, values read back in
// CodeCarbon's units, quoting, and refusals that leave the file untouched.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "joule/ledger.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  std::filesystem::path dir = std::filesystem::path(JOULE_TEST_BINARY_DIR) / "codecarbon_csv_files";
  std::filesystem::create_directories(dir);
  std::filesystem::path path = dir / name;
  std::filesystem::remove(path);
  return path.string();
}

// A small RFC 4180 reader, written independently of the writer: fields may
// be quoted, "" is a quote, and quoted fields may hold commas and newlines.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, field_started = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
      field_started = true;
    } else if (c == ',') {
      row.push_back(field);
      field.clear();
      field_started = true;
    } else if (c == '\n') {
      row.push_back(field);
      rows.push_back(row);
      row.clear();
      field.clear();
      field_started = false;
    } else {
      field += c;
      field_started = true;
    }
  }
  EXPECT_FALSE(quoted) << "unterminated quote";
  EXPECT_FALSE(field_started) << "file does not end with a newline";
  return rows;
}

std::map<std::string, std::string> ReadSingleRow(const std::string& path, std::size_t row_index) {
  auto rows = ParseCsv(ReadFile(path));
  EXPECT_GT(rows.size(), row_index);
  std::map<std::string, std::string> out;
  if (rows.size() <= row_index) return out;
  EXPECT_EQ(rows[0].size(), 38u);
  EXPECT_EQ(rows[row_index].size(), 38u);
  for (std::size_t i = 0; i < rows[0].size() && i < rows[row_index].size(); ++i) {
    out[rows[0][i]] = rows[row_index][i];
  }
  return out;
}

TEST(CodeCarbonCsv, GoldenHeaderHasThe38ColumnsInOrder) {
  const char* kGolden =
      "timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,"
      "gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,water_consumed,"
      "country_name,country_iso_code,region,cloud_provider,cloud_region,os,python_version,"
      "codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,"
      "ram_total_size,tracking_mode,cpu_utilization_percent,gpu_utilization_percent,"
      "ram_utilization_percent,ram_used_gb,on_cloud,pue,wue\n";
  ASSERT_EQ(CodeCarbonColumns().size(), 38u);
  std::string path = TempPath("golden.csv");
  AppendCodeCarbonCsv(path, CodeCarbonRow{});
  std::string text = ReadFile(path);
  EXPECT_EQ(text.substr(0, text.find('\n') + 1), kGolden);
}

TEST(CodeCarbonCsv, ValuesInCodeCarbonUnitsReadBackExactly) {
  // A 90 s run: CPU 45 W -> 4050 J = 0.001125 kWh; RAM 3 W -> 270 J = 7.5e-5 kWh;
  // no GPU; 300 g/kWh at PUE 1.2 -> emissions in kg.
  const double cpu_kwh = 45.0 * 90 / 3.6e6, ram_kwh = 3.0 * 90 / 3.6e6;
  const double energy_kwh = cpu_kwh + ram_kwh;
  const double emissions_kg = energy_kwh * 1.2 * 300.0 / 1000.0;
  CodeCarbonRow row;
  row.timestamp = "2024-05-01T12:00:00";
  row.project_name = "mnist";
  row.run_id = "3f1c";
  row.duration = 90.0;
  row.emissions = emissions_kg;
  row.emissions_rate = emissions_kg / 90.0;
  row.cpu_power = 45.0;
  row.ram_power = 3.0;
  row.cpu_energy = cpu_kwh;
  row.ram_energy = ram_kwh;
  row.energy_consumed = energy_kwh;
  row.country_name = "France";
  row.country_iso_code = "FRA";
  row.cpu_count = 2;
  row.cpu_model = "AMD EPYC 9R14";
  row.ram_total_size = 7.5;
  row.tracking_mode = "process";
  row.cpu_utilization_percent = 49.75;
  row.on_cloud = "N";
  row.pue = 1.2;
  row.longitude = -0.1234567890123;

  std::string path = TempPath("units.csv");
  AppendCodeCarbonCsv(path, row);
  auto cells = ReadSingleRow(path, 1);
  EXPECT_EQ(std::stod(cells["duration"]), 90.0);
  EXPECT_EQ(std::stod(cells["emissions"]), emissions_kg);  // shortest form round-trips exactly
  EXPECT_EQ(std::stod(cells["emissions_rate"]), emissions_kg / 90.0);
  EXPECT_EQ(std::stod(cells["cpu_power"]), 45.0);
  EXPECT_EQ(std::stod(cells["ram_power"]), 3.0);
  EXPECT_EQ(std::stod(cells["cpu_energy"]), 0.001125);
  EXPECT_EQ(std::stod(cells["ram_energy"]), 7.5e-5);
  EXPECT_EQ(std::stod(cells["energy_consumed"]), energy_kwh);
  EXPECT_EQ(std::stod(cells["pue"]), 1.2);
  EXPECT_EQ(std::stod(cells["longitude"]), -0.1234567890123);
  EXPECT_EQ(cells["cpu_count"], "2");
  EXPECT_EQ(cells["country_iso_code"], "FRA");
  EXPECT_EQ(cells["tracking_mode"], "process");
  EXPECT_EQ(cells["on_cloud"], "N");
  // Fields that do not apply are empty.
  for (const char* empty : {"gpu_power", "gpu_energy", "water_consumed", "gpu_count", "gpu_model",
                            "latitude", "wue", "experiment_id", "cloud_provider"}) {
    EXPECT_EQ(cells[empty], "") << empty;
  }
}

TEST(CodeCarbonCsv, CellsWithCommasQuotesAndNewlinesAreQuoted) {
  CodeCarbonRow row;
  row.project_name = "resnet, small";
  row.cpu_model = "AMD \"EPYC\" 9004";
  row.experiment_id = "line one\nline two";
  row.os = "Linux-6.1";
  std::string line = FormatCodeCarbonLine(row);
  EXPECT_THAT(line, HasSubstr("\"resnet, small\""));
  EXPECT_THAT(line, HasSubstr("\"AMD \"\"EPYC\"\" 9004\""));
  EXPECT_THAT(line, HasSubstr(",Linux-6.1,"));  // plain cells stay unquoted

  std::string path = TempPath("quoting.csv");
  AppendCodeCarbonCsv(path, row);
  auto cells = ReadSingleRow(path, 1);
  EXPECT_EQ(cells["project_name"], "resnet, small");
  EXPECT_EQ(cells["cpu_model"], "AMD \"EPYC\" 9004");
  EXPECT_EQ(cells["experiment_id"], "line one\nline two");
}

TEST(CodeCarbonCsv, AppendingWritesTheHeaderOnce) {
  std::string path = TempPath("append.csv");
  CodeCarbonRow row;
  row.run_id = "first";
  AppendCodeCarbonCsv(path, row);
  row.run_id = "second";
  AppendCodeCarbonCsv(path, row);
  auto rows = ParseCsv(ReadFile(path));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0][0], "timestamp");
  EXPECT_EQ(rows[1][2], "first");
  EXPECT_EQ(rows[2][2], "second");

  // An existing empty file gets the header too.
  std::string empty = TempPath("empty.csv");
  std::ofstream(empty).close();
  AppendCodeCarbonCsv(empty, row);
  EXPECT_EQ(ParseCsv(ReadFile(empty)).size(), 2u);
}

TEST(CodeCarbonCsv, RefusesAnotherHeaderAndLeavesTheFileAlone) {
  struct Case {
    const char* name;
    std::string contents;
    const char* expected;
  };
  std::string header;
  for (const auto& name : CodeCarbonColumns()) header += (header.empty() ? "" : ",") + name;
  std::string older_header = header.substr(0, header.rfind(",pue"));  // 36 columns
  const Case cases[] = {
      {"other.csv", "time,energy\n1,2\n", "column 1 is \"time\", expected \"timestamp\""},
      {"older.csv", older_header + "\n", "it has 36 columns, expected 38"},
      {"cut.csv", header + "\n2024-01-01T00:00:00,proj", "does not end with a newline"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::string path = TempPath(c.name);
    std::ofstream(path, std::ios::binary) << c.contents;
    try {
      AppendCodeCarbonCsv(path, CodeCarbonRow{});
      ADD_FAILURE() << "expected joule::Error";
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr(path));
      EXPECT_THAT(e.what(), HasSubstr(c.expected));
    }
    EXPECT_EQ(ReadFile(path), c.contents);
  }
}

TEST(CodeCarbonCsv, UnwritablePathIsAnError) {
  EXPECT_THROW(AppendCodeCarbonCsv("/nonexistent-dir/emissions.csv", CodeCarbonRow{}), Error);
}

TEST(CodeCarbonCsv, NonFiniteNumbersBecomeEmptyCells) {
  CodeCarbonRow row;
  row.cpu_power = std::numeric_limits<double>::quiet_NaN();
  row.emissions_rate = std::numeric_limits<double>::infinity();
  std::string path = TempPath("nonfinite.csv");
  AppendCodeCarbonCsv(path, row);
  auto cells = ReadSingleRow(path, 1);
  EXPECT_EQ(cells["cpu_power"], "");
  EXPECT_EQ(cells["emissions_rate"], "");
}

TEST(CodeCarbonCsv, TimestampInCodeCarbonForm) {
  // CodeCarbon writes local time without a zone; pin the zone to check digits.
  const char* old_tz = std::getenv("TZ");
  std::string saved = old_tz ? old_tz : "";
  setenv("TZ", "UTC", 1);
  tzset();
  EXPECT_EQ(CodeCarbonTimestamp(1714564800.75), "2024-05-01T12:00:00");  // 2024-05-01 12:00Z
  if (old_tz) {
    setenv("TZ", saved.c_str(), 1);
  } else {
    unsetenv("TZ");
  }
  tzset();
  EXPECT_TRUE(std::regex_match(CodeCarbonTimestamp(0),
                               std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})")));
}

}  // namespace
}  // namespace joule
