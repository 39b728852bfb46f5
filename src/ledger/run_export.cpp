// Runs read back for people and other tools: the CodeCarbon row of a run,
// the comparison of several runs, and the times that filter them.
#include <time.h>

#include <cmath>
#include <cstdlib>
#include <limits>

#include "joule/run_record.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

constexpr double kJoulesPerKwh = 3.6e6;
constexpr double kBytesPerGib = 1024.0 * 1024.0 * 1024.0;
constexpr const char* kCodeCarbonDefaultExperimentId = "5b0fa12a-3dd7-45bb-9766-cc326314d9f1";
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double Ratio(double value, double base) { return base != 0 ? value / base : kNaN; }

std::optional<double> Accuracy(const RunRecord& run) {
  auto it = run.metrics.find("accuracy");
  if (it == run.metrics.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

nlohmann::json NumberOrNull(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

}  // namespace

CodeCarbonRow RunToCodeCarbonRow(const RunRecord& record) {
  const EnergyReport& e = record.energy;
  const HostRecord& host = record.host;
  CodeCarbonRow row;
  row.timestamp = CodeCarbonTimestamp(e.end_unix_s > 0 ? e.end_unix_s : record.end_unix_s);
  auto project = record.config.find("project_name");
  row.project_name = project != record.config.end() && project->is_string()
                         ? project->get<std::string>()
                         : "joule";
  // CodeCarbon's run_id is a UUID; the run's 12 hex digits fit its last group,
  // so the row still names the run `joule runs show` knows.
  row.run_id = record.id;
  if (record.id.size() == 12) row.run_id.insert(0, "00000000-0000-4000-8000-");
  // CodeCarbon's default experiment when none is given (emissions_tracker.py).
  auto experiment = record.config.find("experiment_id");
  row.experiment_id = experiment != record.config.end() && experiment->is_string()
                          ? experiment->get<std::string>()
                          : kCodeCarbonDefaultExperimentId;
  row.duration = e.duration_s;
  // CodeCarbon's emissions are operational only (energy_consumed x
  // intensity); embodied carbon has no column and stays in the JSON forms.
  row.emissions = e.operational_g / 1000.0;
  row.emissions_rate = e.duration_s > 0 ? row.emissions / e.duration_s : 0.0;
  auto fill = [&](Component c, std::optional<double>* power_w, std::optional<double>* energy_kwh) {
    for (const ComponentReport& component : e.components) {
      if (component.component != c) continue;
      *power_w = e.duration_s > 0 ? component.energy_j / e.duration_s : 0.0;
      // CodeCarbon multiplies every energy figure by the PUE before writing it.
      *energy_kwh = component.energy_j / kJoulesPerKwh * e.pue;
    }
  };
  // CodeCarbon writes 0 for a device it does not track (its totals start at
  // 0 and stay there), so absent components are 0, not empty.
  row.cpu_power = row.gpu_power = row.ram_power = 0.0;
  row.cpu_energy = row.gpu_energy = row.ram_energy = 0.0;
  fill(Component::kCpu, &row.cpu_power, &row.cpu_energy);
  fill(Component::kGpu, &row.gpu_power, &row.gpu_energy);
  fill(Component::kRam, &row.ram_power, &row.ram_energy);
  row.energy_consumed = e.energy_j / kJoulesPerKwh * e.pue;
  // CodeCarbon: litres = WUE x kWh (PUE applied), WUE 0 by default.
  row.water_consumed = e.wue * row.energy_consumed;
  row.wue = e.wue;
  row.country_name = e.country_name;
  row.country_iso_code = e.country_iso;
  row.region = e.region;
  row.cloud_provider = e.cloud_provider;
  row.cloud_region = e.cloud_region;
  row.os = host.os;
  if (host.cpu_count > 0) row.cpu_count = host.cpu_count;
  row.cpu_model = host.cpu_model;
  row.gpu_count = host.gpu_count;  // 0 without a GPU, as CodeCarbon writes it
  row.gpu_model = host.gpu_model;
  row.gpu_utilization_percent = 0.0;  // joule keeps no GPU utilisation; CodeCarbon's default
  // CodeCarbon's sizes are GiB (its B_TO_GB is 1024^3) though the columns say
  // GB; its RAM percent is psutil's (total - available) / total, its
  // ram_used_gb psutil's `used` (without buffers and cache).
  if (host.ram_total_bytes > 0) {
    row.ram_total_size = host.ram_total_bytes / kBytesPerGib;
    if (host.ram_used_bytes > 0) {
      row.ram_utilization_percent = 100 * host.ram_used_bytes / host.ram_total_bytes;
    }
    if (host.ram_used_no_cache_bytes > 0) {
      row.ram_used_gb = host.ram_used_no_cache_bytes / kBytesPerGib;
    }
  }
  row.tracking_mode = e.attribution == Attribution::kProcessTree ? "process" : "machine";
  row.cpu_utilization_percent = 100 * e.machine_load;
  // A char, not a one-letter literal, which GCC 12 warns about in a false
  // -Wrestrict.
  row.on_cloud.assign(1, e.cloud_provider.empty() ? 'N' : 'Y');
  row.pue = e.pue;
  return row;
}

std::string RunsToCodeCarbonCsv(const std::vector<RunRecord>& runs) {
  std::string csv;
  for (const std::string& column : CodeCarbonColumns()) {
    csv += (csv.empty() ? "" : ",") + column;
  }
  csv += "\n";
  for (const RunRecord& run : runs) csv += FormatCodeCarbonLine(RunToCodeCarbonRow(run));
  return csv;
}

std::vector<RunComparison> CompareRuns(const std::vector<RunRecord>& runs) {
  if (runs.empty()) throw Error("compare: give at least one run id");
  std::vector<RunComparison> rows;
  for (const RunRecord& run : runs) {
    RunComparison row;
    row.id = run.id;
    row.kind = run.kind;
    row.name = run.name;
    row.method = run.energy.method;
    row.status = run.status;
    row.energy_j = run.energy.energy_j;
    row.co2_g = run.energy.co2_g();
    row.duration_s = run.energy.duration_s > 0 ? run.energy.duration_s
                                               : std::max(0.0, run.end_unix_s - run.start_unix_s);
    row.accuracy = Accuracy(run);
    rows.push_back(row);
  }
  const RunComparison& base = rows.front();
  for (RunComparison& row : rows) {
    row.energy_ratio = Ratio(row.energy_j, base.energy_j);
    row.co2_ratio = Ratio(row.co2_g, base.co2_g);
    row.time_ratio = Ratio(row.duration_s, base.duration_s);
    row.accuracy_ratio =
        row.accuracy && base.accuracy ? Ratio(*row.accuracy, *base.accuracy) : kNaN;
  }
  return rows;
}

nlohmann::json RunComparisonsToJson(const std::vector<RunComparison>& rows) {
  nlohmann::json out = nlohmann::json::array();
  for (const RunComparison& row : rows) {
    out.push_back({{"id", row.id},
                   {"kind", row.kind},
                   {"name", row.name},
                   {"status", RunStatusName(row.status)},
                   {"method", row.method},
                   {"energy_j", row.energy_j},
                   {"co2_g", row.co2_g},
                   {"duration_s", row.duration_s},
                   {"accuracy", row.accuracy ? nlohmann::json(*row.accuracy) : nullptr},
                   {"energy_ratio", NumberOrNull(row.energy_ratio)},
                   {"co2_ratio", NumberOrNull(row.co2_ratio)},
                   {"time_ratio", NumberOrNull(row.time_ratio)},
                   {"accuracy_ratio", NumberOrNull(row.accuracy_ratio)}});
  }
  return out;
}

double ParseRunTime(const std::string& flag, const std::string& text) {
  if (!text.empty() && (text.back() == 'd' || text.back() == 'h' || text.back() == 'm')) {
    char* end = nullptr;
    double n = std::strtod(text.c_str(), &end);
    if (end == text.c_str() + text.size() - 1 && n >= 0 && std::isfinite(n)) {
      double unit = text.back() == 'd' ? 86400 : text.back() == 'h' ? 3600 : 60;
      return static_cast<double>(::time(nullptr)) - n * unit;
    }
  }
  struct tm tm = {};
  tm.tm_isdst = -1;
  const char* rest = strptime(text.c_str(), "%Y-%m-%d", &tm);
  if (rest != nullptr && *rest != '\0') {
    const char* more = strptime(rest, " %H:%M", &tm);
    if (more != nullptr && *more == ':') more = strptime(more, ":%S", &tm);
    rest = more;
  }
  if (rest == nullptr || *rest != '\0') {
    throw Error(flag + " " + text +
                ": expected a date (2026-11-29), a local time (2026-11-29 14:05) or an age "
                "(3d, 12h, 30m)");
  }
  return static_cast<double>(mktime(&tm));
}

}  // namespace joule
