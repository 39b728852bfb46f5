// What `joule measure` reports: the stderr summary, the --json object and one
// --samples line, all from the same MeasureResult so that every output says
// the same thing.
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "joule/run.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

constexpr double kJoulesPerKwh = 3.6e6;

std::string Fmt(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

std::string JoinCommand(const std::vector<std::string>& command) {
  std::string s;
  for (const std::string& word : command) {
    if (!s.empty()) s += ' ';
    s += word;
  }
  return s;
}

// Counted channels grouped by component name, in a fixed order.
struct ComponentLine {
  std::string name;  // "cpu", "ram", "gpu0", "system"
  double energy_j = 0, machine_j = 0;
  std::string method;
  bool attributed = false;
  bool gpu = false;
};

std::vector<ComponentLine> ComponentLines(const MeterReading& r) {
  std::vector<ComponentLine> lines;
  for (Component c : {Component::kCpu, Component::kRam, Component::kSystem}) {
    ComponentLine line;
    line.name = ComponentName(c);
    bool any = false;
    for (const ChannelEnergy& ch : r.channels) {
      if (!ch.counted || ch.component != c) continue;
      any = true;
      line.attributed = line.attributed || ch.attributed;
    }
    if (!any) continue;
    line.energy_j = r.ComponentJ(c);
    line.machine_j = r.ComponentMachineJ(c);
    line.method = r.ComponentMethod(c);
    lines.push_back(line);
  }
  // GPUs one by one: their energy is per device.
  for (const ChannelEnergy& ch : r.channels) {
    if (!ch.counted || ch.component != Component::kGpu) continue;
    lines.push_back({ch.name, ch.energy_j, ch.machine_j, ch.method, false, true});
  }
  return lines;
}

std::vector<std::string> EstimatedMethods(const MeterReading& r) {
  std::vector<std::string> methods;
  for (const ChannelEnergy& ch : r.channels) {
    if (!ch.counted || IsMeasuredMethod(ch.method)) continue;
    bool seen = false;
    for (const std::string& m : methods) seen = seen || m == ch.method;
    if (!seen) methods.push_back(ch.method);
  }
  return methods;
}

}  // namespace

std::string FormatMeasureSummary(const MeasureResult& result) {
  const MeterReading& r = result.reading;
  const CarbonModel& carbon = *result.carbon;
  const MeasureFacts& run = result.facts;
  std::ostringstream out;
  bool process = r.attribution == Attribution::kProcessTree;
  out << "joule measure: ";
  if (run.attached) {
    out << "process " << run.pid;
  } else if (run.command.empty()) {
    out << "the machine (monitor)";
  } else {
    out << "'" << JoinCommand(run.command) << "'";
  }
  out << " for " << Fmt("%.3f", r.duration_s) << " s, " << run.exit_text << "; "
      << (process ? "its process tree" : "the whole machine") << ", sampled every "
      << Fmt("%g", run.interval_s) << " s (" << r.samples
      << (r.samples == 1 ? " sample)\n" : " samples)\n");
  for (const ComponentLine& line : ComponentLines(r)) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%-7s %12.6g J  %12.6g kWh  %s", line.name.c_str(),
                  line.energy_j, line.energy_j / kJoulesPerKwh, line.method.c_str());
    out << "  " << buf;
    if (line.gpu) {
      out << "  (whole device, not split by process)";
    } else if (line.attributed) {
      out << "  (machine " << Fmt("%.6g", line.machine_j) << " J)";
    }
    out << "\n";
  }
  char total[160];
  std::snprintf(total, sizeof total, "  %-7s %12.6g J  %12.6g kWh", "total", r.energy_j,
                r.energy_j / kJoulesPerKwh);
  out << total << "\n";
  if (process) {
    out << "  process share (" << ProcessShareName(r.share)
        << (r.share == ProcessShare::kMarginal
                ? ": what its own CPU time costs under the power model"
                : ": the machine's energy x its share of the busy CPU time")
        << "): " << Fmt("%.1f", 100 * r.cpu_share) << "% of the machine's busy CPU time ("
        << Fmt("%.2f", r.process_cpu_s) << " of " << Fmt("%.2f", r.machine_busy_cpu_s)
        << " CPU-seconds); machine load " << Fmt("%.1f", 100 * r.machine_load) << "%\n";
  } else {
    out << "  machine load " << Fmt("%.1f", 100 * r.machine_load) << "%\n";
  }
  double intensity = carbon.MeanIntensity(r.start_unix_s, r.end_unix_s);
  out << "  carbon: " << Fmt("%.6g", r.operational_g + r.embodied_g)
      << " gCO2eq = " << Fmt("%.6g", r.operational_g) << " g operational at "
      << Fmt("%.4g", intensity) << " g/kWh";
  if (carbon.pue() != 1.0) out << " x PUE " << Fmt("%g", carbon.pue());
  out << " + " << Fmt("%.6g", r.embodied_g) << " g embodied; intensity: " << carbon.source()
      << "\n";
  std::string coverage = carbon.CoverageWarning(r.start_unix_s, r.end_unix_s);
  if (!coverage.empty()) out << "  note: " << coverage << "\n";
  std::vector<std::string> estimated = EstimatedMethods(r);
  if (!estimated.empty()) {
    std::string methods;
    for (const std::string& m : estimated) methods += (methods.empty() ? "" : ", ") + m;
    out << "  ESTIMATES, not measurements: figures labelled " << methods
        << " come from a model or a declared figure, not from a power sensor\n";
    for (const std::string& detail : run.source_details) {
      if (detail.rfind("measured:", 0) != 0) out << "    " << detail << "\n";
    }
  }
  if (!run.ledger_path.empty()) {
    out << "  recorded as run " << run.run_id << " in " << run.ledger_path << "\n";
  }
  return out.str();
}

nlohmann::json MeasureSummaryJson(const MeasureResult& result) {
  const MeterReading& r = result.reading;
  const CarbonModel& carbon = *result.carbon;
  const MeasureFacts& run = result.facts;
  nlohmann::json j;
  if (run.attached) {
    j["pid"] = run.pid;
  } else {
    j["command"] = run.command;
  }
  j["run_id"] = run.run_id;
  j["exit_code"] = run.exit_code;
  j["duration_s"] = r.duration_s;
  j["interval_s"] = run.interval_s;
  j["samples"] = r.samples;
  j["attribution"] = r.attribution == Attribution::kProcessTree ? "process" : "machine";
  j["process_share_rule"] = ProcessShareName(r.share);
  j["estimated"] = r.estimated;
  j["energy_j"] = r.energy_j;
  j["energy_kwh"] = r.energy_j / kJoulesPerKwh;
  j["machine_energy_j"] = r.machine_energy_j;
  nlohmann::json components = nlohmann::json::object();
  for (const ComponentLine& line : ComponentLines(r)) {
    components[line.name] = {{"energy_j", line.energy_j},
                             {"energy_kwh", line.energy_j / kJoulesPerKwh},
                             {"machine_energy_j", line.machine_j},
                             {"method", line.method},
                             {"split_by_process", line.attributed}};
  }
  j["components"] = components;
  nlohmann::json channels = nlohmann::json::array();
  for (const ChannelEnergy& ch : r.channels) {
    channels.push_back({{"name", ch.name},
                        {"source", ch.source},
                        {"method", ch.method},
                        {"component", ComponentName(ch.component)},
                        {"counted", ch.counted},
                        {"split_by_process", ch.attributed},
                        {"energy_j", ch.energy_j},
                        {"machine_energy_j", ch.machine_j},
                        {"detail", ch.detail}});
  }
  j["channels"] = channels;
  j["process_cpu_s"] = r.process_cpu_s;
  j["machine_busy_cpu_s"] = r.machine_busy_cpu_s;
  j["process_share"] = r.cpu_share;
  j["machine_load"] = r.machine_load;
  j["emissions_g"] = r.operational_g + r.embodied_g;
  j["operational_g"] = r.operational_g;
  j["embodied_g"] = r.embodied_g;
  j["intensity_g_per_kwh"] = carbon.MeanIntensity(r.start_unix_s, r.end_unix_s);
  j["intensity_source"] = carbon.source();
  j["pue"] = carbon.pue();
  j["sources"] = run.source_details;
  j["warnings"] = run.warnings;
  return j;
}

nlohmann::json MeasureSampleJson(const MeterReading& r) {
  nlohmann::json j;
  j["t_s"] = r.duration_s;
  j["unix_s"] = r.end_unix_s;
  j["interval_s"] = r.last_interval_s;
  j["cpu_share"] = r.last_cpu_share;
  j["energy_j"] = r.energy_j;
  j["machine_energy_j"] = r.machine_energy_j;
  j["operational_g"] = r.operational_g;
  nlohmann::json channels = nlohmann::json::array();
  for (const ChannelEnergy& ch : r.channels) {
    channels.push_back({{"name", ch.name},
                        {"method", ch.method},
                        {"power_w", ch.last_power_w},
                        {"energy_j", ch.energy_j},
                        {"machine_energy_j", ch.machine_j}});
  }
  j["channels"] = channels;
  return j;
}

}  // namespace joule
