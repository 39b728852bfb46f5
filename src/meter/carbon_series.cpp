#include "meter/carbon_series.hpp"

#include <algorithm>
#include <optional>
#include <string_view>

#include "joule/util.hpp"
#include "meter/carbon_text.hpp"

namespace joule::carbon_series {
namespace {

using carbon_text::ToLower;
using carbon_text::Trim;

constexpr const char* kPlainHelp =
    "expected `timestamp,g_per_kwh` rows (optional header line starting with \"timestamp\") or "
    "an Electricity Maps CSV export";
constexpr const char* kTimestampHelp =
    "an ISO 8601 time such as 2022-01-01T00:00:00Z or \"2022-01-01 00:00:00\" (UTC unless an "
    "offset is given), or unix seconds";

// Lines of the file with their 1-based numbers; blank lines are skipped (a
// trailing newline or an empty last line is common in exports).
struct Line {
  std::size_t number;
  std::string_view text;
};

std::vector<Line> SplitLines(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::vector<Line> lines;
  std::size_t number = 0, start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!Trim(line).empty()) lines.push_back({number, line});
  }
  return lines;
}

[[noreturn]] void Fail(const std::string& path, std::size_t line, const std::string& what) {
  throw Error(path + ":" + std::to_string(line) + ": " + what);
}

std::string Quoted(std::string_view text) {
  constexpr std::size_t kMaxShown = 60;
  std::string shown(text.substr(0, kMaxShown));
  if (text.size() > kMaxShown) shown += "...";
  return "'" + shown + "'";
}

std::vector<std::string> Fields(const std::string& path, const Line& line) {
  auto fields = carbon_text::SplitCsvLine(line.text);
  if (!fields) Fail(path, line.number, "unbalanced double quotes in a CSV field");
  return std::move(*fields);
}

// Which Electricity Maps column holds the intensity of the requested kind.
// Exports have spelt it "Carbon Intensity gCO₂eq/kWh (LCA)" and, in later
// releases, "Carbon intensity gCO₂eq/kWh (Life cycle)": match on the parts.
std::optional<std::size_t> FindIntensityColumn(const std::vector<std::string>& header,
                                               const std::string& kind) {
  for (std::size_t i = 0; i < header.size(); ++i) {
    std::string name = ToLower(Trim(header[i]));
    if (name.rfind("carbon intensity", 0) != 0) continue;
    bool direct = name.find("(direct)") != std::string::npos;
    bool lca =
        name.find("(lca)") != std::string::npos || name.find("(life cycle)") != std::string::npos;
    if ((kind == "direct" && direct) || (kind == "lca" && lca)) return i;
  }
  return std::nullopt;
}

}  // namespace

Series ParseSeries(const std::string& path, const std::string& text, const std::string& kind) {
  std::vector<Line> lines = SplitLines(text);
  if (lines.empty()) Fail(path, 1, std::string("the file is empty; ") + kPlainHelp);

  Series series;
  std::size_t time_column = 0, value_column = 1, field_count = 2, first_data = 0;
  std::vector<std::string> header = Fields(path, lines[0]);
  auto is_time_header = [](const std::string& field) {
    return ToLower(Trim(field)) == "datetime (utc)";
  };
  auto time_it = std::find_if(header.begin(), header.end(), is_time_header);
  if (time_it != header.end()) {
    series.format = Format::kElectricityMaps;
    time_column = static_cast<std::size_t>(time_it - header.begin());
    auto column = FindIntensityColumn(header, kind);
    if (!column) {
      Fail(path, lines[0].number,
           "Electricity Maps header has no \"Carbon Intensity gCO\xE2\x82\x82"
           "eq/kWh (" +
               std::string(kind == "lca" ? "LCA" : "direct") +
               ")\" column; found: " + carbon_text::JoinList(header));
    }
    value_column = *column;
    field_count = header.size();
    first_data = 1;
  } else {
    series.format = Format::kPlain;
    if (ToLower(Trim(header[0])) == "timestamp") {
      if (header.size() != 2) {
        Fail(path, lines[0].number,
             "header has " + std::to_string(header.size()) + " column(s); " + kPlainHelp);
      }
      first_data = 1;
    }
  }
  if (first_data >= lines.size()) Fail(path, lines[0].number, "header but no data rows");

  const char* value_name = series.format == Format::kPlain ? "g_per_kwh" : "carbon intensity";
  for (std::size_t k = first_data; k < lines.size(); ++k) {
    const Line& line = lines[k];
    std::vector<std::string> fields = Fields(path, line);
    if (fields.size() != field_count) {
      Fail(path, line.number,
           "expected " + std::to_string(field_count) + " comma-separated fields, found " +
               std::to_string(fields.size()) +
               (series.format == Format::kPlain ? std::string("; ") + kPlainHelp
                                                : std::string(" (as in the header)")));
    }
    auto time_s = carbon_text::ParseTimestamp(fields[time_column]);
    if (!time_s) {
      Fail(path, line.number,
           "expected " + std::string(kTimestampHelp) + ", found " + Quoted(fields[time_column]));
    }
    auto value = carbon_text::ParseFiniteDouble(fields[value_column]);
    if (!value || *value < 0) {
      Fail(path, line.number,
           "expected a non-negative " + std::string(value_name) + " in gCO2eq/kWh, found " +
               Quoted(fields[value_column]));
    }
    if (!series.points.empty() && *time_s <= series.points.back().unix_s) {
      Fail(path, line.number,
           "time " + Quoted(Trim(fields[time_column])) +
               " is not after the previous row's; rows must be sorted oldest first, without "
               "duplicate times");
    }
    series.points.push_back({*time_s, *value});
  }
  return series;
}

}  // namespace joule::carbon_series
