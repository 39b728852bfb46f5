// The Green AI card of a run and a report of several, as Markdown.
#include <cmath>
#include <cstdio>
#include <ctime>
#include <sstream>

#include "joule/report.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

constexpr double kJoulesPerKwh = 3.6e6;

std::string Num(double v, const char* format = "%.6g") {
  if (!std::isfinite(v)) return "-";
  char buf[48];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string UtcTime(double unix_s) {
  if (!(unix_s > 0)) return "-";
  std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &utc);
  return buf;
}

// "(estimated: estimated:tdp-model)" after a figure that is not measured.
std::string Mark(const std::string& method) {
  if (method.empty()) return " (not metered)";
  if (method.rfind("measured:", 0) == 0 && method.find('+') == std::string::npos) {
    return " (" + method + ")";
  }
  return " (**estimated**: " + method + ")";
}

// A metric as the card shows it: numbers in the shortest form, else JSON.
std::string MetricText(const nlohmann::json& v) {
  if (v.is_number()) return Num(v.get<double>());
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

// Markdown table cells must not hold a bar or a line break.
std::string Cell(std::string s) {
  for (char& c : s) {
    if (c == '|' || c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

}  // namespace

std::string RunCardMarkdown(const RunRecord& run, const ReportOptions& options) {
  const EnergyReport& e = run.energy;
  std::ostringstream out;
  out << "## " << Cell(run.kind) << " run " << run.id << ": " << Cell(run.name) << "\n\n";
  out << "| | |\n|---|---|\n";
  out << "| status | " << RunStatusName(run.status)
      << (run.message.empty() ? "" : " (" + Cell(run.message) + ")") << " |\n";
  out << "| started | " << UtcTime(run.start_unix_s) << " |\n";
  out << "| duration | " << Num(e.duration_s > 0 ? e.duration_s : run.end_unix_s - run.start_unix_s)
      << " s |\n";
  const HostRecord& h = run.host;
  out << "| hardware | " << Cell(h.cpu_model.empty() ? "CPU unknown" : h.cpu_model) << ", "
      << h.cpu_count << " logical CPUs, " << Num(h.ram_total_bytes / (1024.0 * 1024 * 1024), "%.1f")
      << " GiB RAM" << (h.gpu_count > 0 ? ", " + Cell(h.gpu_model) : std::string(", no GPU"))
      << " |\n";
  out << "| host | " << Cell(h.hostname) << ", " << Cell(h.os) << " |\n";
  out << "| joule | " << run.joule_version
      << (run.git_commit.empty() ? "" : ", project commit " + run.git_commit) << " |\n\n";

  out << "### Energy\n\n";
  out << "| component | J | kWh | how |\n|---|---:|---:|---|\n";
  for (const ComponentReport& c : e.components) {
    out << "| " << ComponentName(c.component) << " | " << Num(c.energy_j) << " | "
        << Num(c.energy_j / kJoulesPerKwh) << " | " << Cell(c.method)
        << (c.attributed ? ", the process tree's share of the machine's " + Num(c.machine_j) + " J"
                         : std::string())
        << " |\n";
  }
  out << "| **total** | " << Num(e.energy_j) << " | " << Num(e.energy_j / kJoulesPerKwh) << " |"
      << Mark(e.method) << " |\n\n";
  if (e.attribution == Attribution::kProcessTree && e.machine_energy_j > 0) {
    out << "Process share: " << Num(100 * e.cpu_share, "%.1f")
        << "% of the machine's busy CPU time; the whole machine used " << Num(e.machine_energy_j)
        << " J.\n\n";
  }
  if (e.estimated) {
    out << "> **Estimated**, not measured: these figures come from a power model or a declared "
           "figure ("
        << e.method << "), not from a power sensor.\n\n";
  }

  out << "### Carbon\n\n";
  out << "| | |\n|---|---|\n";
  out << "| intensity | " << Num(e.intensity_g_per_kwh, "%.4g")
      << " gCO2eq/kWh: " << Cell(e.intensity_source) << " |\n";
  out << "| PUE | " << Num(e.pue, "%g") << " |\n";
  out << "| operational | " << Num(e.operational_g) << " gCO2eq |\n";
  out << "| embodied | " << Num(e.embodied_g) << " gCO2eq"
      << (e.embodied_g > 0 ? "" : " (no embodied figure given: --embodied-kg, --lifetime-years)")
      << " |\n";
  out << "| total | " << Num(e.co2_g()) << " gCO2eq |\n\n";

  if (!run.metrics.empty()) {
    out << "### Metrics\n\n| metric | value |\n|---|---:|\n";
    for (auto it = run.metrics.begin(); it != run.metrics.end(); ++it) {
      out << "| " << Cell(it.key()) << " | " << Cell(MetricText(it.value())) << " |\n";
    }
    out << "\n";
  }

  // The SCI in the unit asked for, or per run when the run has no such unit.
  SciUnit unit = options.per;
  std::string fallback;
  Sci sci;
  try {
    sci = SciOf(run, unit);
  } catch (const Error& error) {
    fallback = error.what();
    unit = SciUnit::kRun;
    sci = SciOf(run, unit);
  }
  const SciInputs& in = sci.inputs;
  out << "### Software Carbon Intensity\n\n";
  out << "SCI = (E x I + M) / R = (" << Num(in.energy_kwh) << " kWh x "
      << Num(in.intensity_g_per_kwh, "%.4g") << " g/kWh + " << Num(in.embodied_g) << " g) / "
      << Num(in.units) << " = **" << Num(sci.g_per_unit) << " gCO2eq per " << SciUnitName(unit)
      << "**" << (sci.estimated() ? " (**estimated**)" : "") << "\n\n";
  out << "E is the energy with the PUE applied, I the carbon intensity, M the embodied "
         "carbon of the share of the hardware's life the run held, R the functional units.\n";
  if (!fallback.empty())
    out << "Per " << SciUnitName(options.per) << " does not apply: " << fallback << ".\n";
  for (const std::string& s : in.estimated) out << "- estimated input: " << s << "\n";
  out << "\n";

  if (!run.epochs.empty()) {
    out << "### Epochs\n\n| epoch | s | J | gCO2eq | accuracy | loss |\n"
           "|---:|---:|---:|---:|---:|---:|\n";
    for (const EpochRow& ep : run.epochs) {
      auto metric = [&](const char* key) {
        auto it = ep.metrics.find(key);
        return it != ep.metrics.end() && it->is_number() ? Num(it->get<double>()) : "-";
      };
      out << "| " << ep.epoch << " | " << Num(ep.seconds, "%.3g") << " | " << Num(ep.energy_j)
          << " | " << Num(ep.co2_g) << " | " << metric("accuracy") << " | " << metric("loss")
          << " |\n";
    }
    out << "\n";
  }
  return out.str();
}

std::string ReportMarkdown(const std::vector<RunRecord>& runs, const ReportOptions& options) {
  if (runs.empty()) throw Error("a report needs at least one run");
  std::ostringstream out;
  out << "# joule report: " << runs.size() << (runs.size() == 1 ? " run" : " runs") << "\n\n";
  bool estimated = false;
  for (const RunRecord& r : runs) estimated = estimated || r.energy.estimated;
  if (estimated) {
    out << "Figures marked **estimated** come from a power model, not a sensor.\n\n";
  }
  if (runs.size() > 1) {
    out << "| run | kind | name | J | gCO2eq | s | accuracy | J ratio | CO2 ratio | time ratio |"
           " accuracy ratio |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const RunComparison& c : CompareRuns(runs)) {
      out << "| " << c.id << " | " << Cell(c.kind) << " | " << Cell(c.name) << " | "
          << Num(c.energy_j) << (c.method.find("measured:") == 0 ? "" : " (est.)") << " | "
          << Num(c.co2_g) << " | " << Num(c.duration_s, "%.4g") << " | "
          << (c.accuracy ? Num(*c.accuracy, "%.4f") : "-") << " | " << Num(c.energy_ratio, "%.3f")
          << " | " << Num(c.co2_ratio, "%.3f") << " | " << Num(c.time_ratio, "%.3f") << " | "
          << (c.accuracy ? Num(c.accuracy_ratio, "%.4f") : "-") << " |\n";
    }
    out << "\n";
  }
  for (const RunRecord& r : runs) out << RunCardMarkdown(r, options);
  return out.str();
}

}  // namespace joule
