// CodeCarbon-compatible emissions.csv rows.

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>

#include "joule/ledger.hpp"
#include "joule/util.hpp"
#include "ledger/posix_file.hpp"

namespace joule {
namespace {

// Shortest decimal text that reads back to the same double; CodeCarbon's
// readers (pandas) accept this form, exponent included.
std::string NumberCell(double value) {
  if (!std::isfinite(value)) return "";
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  JOULE_ASSERT(ec == std::errc());
  return std::string(buffer, end);
}

std::string Cell(const std::optional<double>& value) {
  return value ? NumberCell(*value) : std::string();
}
std::string Cell(const std::optional<int>& value) {
  return value ? std::to_string(*value) : std::string();
}
std::string Cell(double value) { return NumberCell(value); }

// RFC 4180: quote a cell holding a separator, quote or line break, doubling
// the quotes inside.
void AppendCell(std::string& line, const std::string& cell) {
  if (cell.find_first_of(",\"\r\n") == std::string::npos) {
    line += cell;
    return;
  }
  line += '"';
  for (char c : cell) {
    if (c == '"') line += '"';
    line += c;
  }
  line += '"';
}

std::string HeaderLine() {
  std::string line;
  for (const std::string& name : CodeCarbonColumns()) {
    if (!line.empty()) line += ',';
    line += name;
  }
  return line + "\n";
}

// Explains how an existing file's first line differs from the header.
std::string DescribeHeaderMismatch(std::string_view found) {
  std::vector<std::string> columns;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = found.find(',', start);
    columns.emplace_back(
        found.substr(start, comma == std::string_view::npos ? comma : comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  const auto& expected = CodeCarbonColumns();
  for (std::size_t i = 0; i < std::min(columns.size(), expected.size()); ++i) {
    if (columns[i] != expected[i]) {
      return "column " + std::to_string(i + 1) + " is \"" + columns[i] + "\", expected \"" +
             expected[i] + "\"";
    }
  }
  return "it has " + std::to_string(columns.size()) + " columns, expected " +
         std::to_string(expected.size()) + " (a file from another CodeCarbon version?)";
}

}  // namespace

const std::vector<std::string>& CodeCarbonColumns() {
  // CodeCarbon's emissions.csv columns, in its order (issue 3 lists them).
  static const std::vector<std::string> kColumns = {"timestamp",
                                                    "project_name",
                                                    "run_id",
                                                    "experiment_id",
                                                    "duration",
                                                    "emissions",
                                                    "emissions_rate",
                                                    "cpu_power",
                                                    "gpu_power",
                                                    "ram_power",
                                                    "cpu_energy",
                                                    "gpu_energy",
                                                    "ram_energy",
                                                    "energy_consumed",
                                                    "water_consumed",
                                                    "country_name",
                                                    "country_iso_code",
                                                    "region",
                                                    "cloud_provider",
                                                    "cloud_region",
                                                    "os",
                                                    "python_version",
                                                    "codecarbon_version",
                                                    "cpu_count",
                                                    "cpu_model",
                                                    "gpu_count",
                                                    "gpu_model",
                                                    "longitude",
                                                    "latitude",
                                                    "ram_total_size",
                                                    "tracking_mode",
                                                    "cpu_utilization_percent",
                                                    "gpu_utilization_percent",
                                                    "ram_utilization_percent",
                                                    "ram_used_gb",
                                                    "on_cloud",
                                                    "pue",
                                                    "wue"};
  return kColumns;
}

std::string FormatCodeCarbonLine(const CodeCarbonRow& row) {
  const std::string cells[] = {
      row.timestamp,
      row.project_name,
      row.run_id,
      row.experiment_id,
      Cell(row.duration),
      Cell(row.emissions),
      Cell(row.emissions_rate),
      Cell(row.cpu_power),
      Cell(row.gpu_power),
      Cell(row.ram_power),
      Cell(row.cpu_energy),
      Cell(row.gpu_energy),
      Cell(row.ram_energy),
      Cell(row.energy_consumed),
      Cell(row.water_consumed),
      row.country_name,
      row.country_iso_code,
      row.region,
      row.cloud_provider,
      row.cloud_region,
      row.os,
      row.python_version,
      row.codecarbon_version,
      Cell(row.cpu_count),
      row.cpu_model,
      Cell(row.gpu_count),
      row.gpu_model,
      Cell(row.longitude),
      Cell(row.latitude),
      Cell(row.ram_total_size),
      row.tracking_mode,
      Cell(row.cpu_utilization_percent),
      Cell(row.gpu_utilization_percent),
      Cell(row.ram_utilization_percent),
      Cell(row.ram_used_gb),
      row.on_cloud,
      Cell(row.pue),
      Cell(row.wue),
  };
  static_assert(std::size(cells) == 38, "one cell per CodeCarbon column");
  JOULE_ASSERT(std::size(cells) == CodeCarbonColumns().size());
  std::string line;
  for (std::size_t i = 0; i < std::size(cells); ++i) {
    if (i > 0) line += ',';
    AppendCell(line, cells[i]);
  }
  return line + "\n";
}

std::string CodeCarbonTimestamp(double unix_s) {
  std::time_t seconds = static_cast<std::time_t>(std::floor(unix_s));
  std::tm local{};
  localtime_r(&seconds, &local);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &local);
  return buffer;
}

std::string CodeCarbonHeaderProblem(std::string first_line) {
  if (first_line.rfind("\xEF\xBB\xBF", 0) == 0) first_line.erase(0, 3);
  if (!first_line.empty() && first_line.back() == '\n') first_line.pop_back();
  if (!first_line.empty() && first_line.back() == '\r') first_line.pop_back();
  if (first_line + "\n" == HeaderLine()) return "";
  return "not a CodeCarbon emissions.csv with the " + std::to_string(CodeCarbonColumns().size()) +
         " current columns: " + DescribeHeaderMismatch(first_line);
}

void AppendCodeCarbonCsv(const std::string& path, const CodeCarbonRow& row) {
  const std::string header = HeaderLine();
  const std::string line = FormatCodeCarbonLine(row);

  posix_file::Fd fd(path, O_RDWR | O_APPEND | O_CREAT, "append to");
  // Two joule runs may append to one file at once: the lock makes "check the
  // header, then write" atomic, so neither writes a second header.
  posix_file::ExclusiveLock lock(fd, path);
  off_t size = fd.Size(path);

  if (size == 0) {
    posix_file::AppendAll(fd.get(), path, header + line, size);
    return;
  }
  std::string problem =
      CodeCarbonHeaderProblem(posix_file::ReadFirstLine(fd, path, header.size() + 4096));
  if (!problem.empty()) {
    throw Error(path + ": " + problem +
                "; write to another file (--csv NEW.csv) or move this one aside");
  }
  if (posix_file::LastByte(fd, path, size) != '\n') {
    throw Error(path +
                ": does not end with a newline (its last row was cut off?); repair or "
                "move the file aside before appending");
  }
  posix_file::AppendAll(fd.get(), path, line, size);
}

}  // namespace joule
