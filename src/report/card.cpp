// The content of a report: the Green AI card of each run and the comparison
// of several, built once for every format (document.hpp). Each figure names
// the field of `joule runs show ID --json` it shows, as a JSON pointer.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <optional>

#include "joule/util.hpp"
#include "report/document.hpp"
#include "report/plots.hpp"

namespace joule::report_internal {
namespace {

constexpr double kJoulesPerKwh = 3.6e6;

// The method of a figure that is an estimate; "" for a measurement. A sum of
// measured and estimated parts ("measured:rapl+estimated:tdp-model") is an
// estimate.
std::string EstimatedBy(const std::string& method) {
  if (method.empty()) return "not metered";
  if (method.rfind("measured:", 0) == 0 && method.find('+') == std::string::npos) return "";
  return method;
}

Cell Text(std::string text) {
  Cell c;
  c.text = std::move(text);
  return c;
}

// A figure shown as `text`, equal to `value`, from the JSON field `field`.
Cell Figure(double value, const std::string& field, const char* format = "%.6g",
            const std::string& estimated = "") {
  Cell c;
  c.text = Num(value, format);
  c.value = value;
  c.field = field;
  c.numeric = true;
  c.estimated = estimated;
  return c;
}

std::vector<Cell> Row(std::string key, Cell value) {
  return {Text(std::move(key)), std::move(value)};
}

// `key` as one token of a JSON pointer ("~" and "/" escaped).
std::string PointerToken(const std::string& key) {
  std::string out;
  for (char c : key) out += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
  return out;
}

// A metric as the card shows it: numbers in the shortest form, else JSON.
Cell MetricCell(const std::string& key, const nlohmann::json& v, const std::string& field) {
  if (v.is_number()) return Figure(v.get<double>(), field + "/" + PointerToken(key));
  return Text(v.is_string() ? v.get<std::string>() : v.dump());
}

// What the card calls a recorded metric (FLOPs spelled out).
std::string MetricName(const std::string& key) {
  if (key == "flops_per_inference") return "FLOPs per inference (forward pass of one sample)";
  if (key == "train_flops") return "training FLOPs (forward and backward, all steps)";
  return key;
}

Section RunSection(const RunRecord& run) {
  const EnergyReport& e = run.energy;
  const HostRecord& h = run.host;
  Section s;
  s.title = "Run";
  Table& t = s.table;
  t.rows.push_back(Row("status", Text(std::string(RunStatusName(run.status)) +
                                      (run.message.empty() ? "" : " (" + run.message + ")"))));
  t.rows.push_back(Row("started", Text(UtcTime(run.start_unix_s))));
  double duration = e.duration_s > 0 ? e.duration_s : run.end_unix_s - run.start_unix_s;
  Cell d = Figure(duration, e.duration_s > 0 ? "/energy/duration_s" : "");
  d.text += " s";
  t.rows.push_back(Row("duration", d));
  char ram[32];
  std::snprintf(ram, sizeof ram, "%.1f", h.ram_total_bytes / (1024.0 * 1024 * 1024));
  t.rows.push_back(
      Row("hardware", Text((h.cpu_model.empty() ? "CPU unknown" : h.cpu_model) + ", " +
                           std::to_string(h.cpu_count) + " logical CPUs, " + ram + " GiB RAM, " +
                           (h.gpu_count > 0 ? h.gpu_model : std::string("no GPU")))));
  t.rows.push_back(Row("host", Text(h.hostname + ", " + h.os)));
  t.rows.push_back(
      Row("joule", Text(run.joule_version +
                        (run.git_commit.empty() ? "" : ", project commit " + run.git_commit))));
  if (!run.tags.empty()) {
    std::string tags;
    for (const std::string& tag : run.tags) tags += (tags.empty() ? "" : ", ") + tag;
    t.rows.push_back(Row("tags", Text(tags)));
  }
  if (!run.parent_id.empty()) t.rows.push_back(Row("started by run", Text(run.parent_id)));
  return s;
}

Section EnergySection(const ReportRun& r, const ReportOptions& options, bool plots) {
  const RunRecord& run = r.record;
  const EnergyReport& e = run.energy;
  Section s;
  s.title = "Energy";
  Table& t = s.table;
  t.header = {"component", "J", "kWh", "how"};
  t.numeric = {false, true, true, false};
  for (std::size_t i = 0; i < e.components.size(); ++i) {
    const ComponentReport& c = e.components[i];
    const std::string at = "/energy/components/" + std::to_string(i);
    std::string how = c.method;
    if (c.attributed)
      how += ", the process tree's share of the machine's " + Num(c.machine_j) + " J";
    t.rows.push_back({Text(ComponentName(c.component)),
                      Figure(c.energy_j, at + "/energy_j", "%.6g", EstimatedBy(c.method)),
                      Figure(c.energy_j / kJoulesPerKwh, "", "%.6g", EstimatedBy(c.method)),
                      Text(how)});
  }
  std::vector<Cell> total = {Text("total"),
                             Figure(e.energy_j, "/energy/energy_j", "%.6g", EstimatedBy(e.method)),
                             Figure(e.kwh(), "/energy/energy_kwh", "%.6g", EstimatedBy(e.method)),
                             Text(e.method.empty() ? "not metered" : e.method)};
  for (Cell& c : total) c.strong = true;
  t.rows.push_back(total);
  if (e.attribution == Attribution::kProcessTree && e.machine_energy_j > 0) {
    char share[32];
    std::snprintf(share, sizeof share, "%.1f", 100 * e.cpu_share);
    s.after.push_back(
        {Paragraph::kText,
         std::string("Process share: ") + share +
             "% of the machine's busy CPU time; the whole machine used " + Num(e.machine_energy_j) +
             " J. The tree's CPU energy is " +
             (e.share == ProcessShare::kMarginal
                  ? "what its own CPU time costs under the power model (marginal), whatever ran "
                    "beside it."
                  : "the machine's energy times its share of the busy CPU time (busy-time).")});
  }
  if (!EstimatedBy(e.method).empty()) {
    s.after.push_back({Paragraph::kEstimatedNote,
                       "**Estimated**, not measured: these figures come from a power model or a "
                       "declared figure (" +
                           (e.method.empty() ? std::string("not metered") : e.method) +
                           "), not from a power sensor."});
  }
  if (plots) s.plots.push_back({"power", PowerPlotSvg(r, options)});
  return s;
}

Section CarbonSection(const RunRecord& run, bool plots) {
  const EnergyReport& e = run.energy;
  Section s;
  s.title = "Carbon";
  Table& t = s.table;
  Cell intensity = Figure(e.intensity_g_per_kwh, "/energy/intensity_g_per_kwh", "%.4g");
  intensity.text += " gCO2eq/kWh: " + e.intensity_source;
  t.rows.push_back(Row("intensity", intensity));
  t.rows.push_back(Row("PUE", Figure(e.pue, "/energy/pue", "%g")));
  const std::string est = EstimatedBy(e.method);
  Cell operational = Figure(e.operational_g, "/energy/operational_g", "%.6g", est);
  operational.text += " gCO2eq";
  t.rows.push_back(Row("operational", operational));
  Cell embodied = Figure(e.embodied_g, "/energy/embodied_g");
  embodied.text += e.embodied_g > 0
                       ? " gCO2eq"
                       : " gCO2eq (no embodied figure given: --embodied-kg, --lifetime-years)";
  t.rows.push_back(Row("embodied", embodied));
  Cell total = Figure(e.co2_g(), "/energy/co2_g", "%.6g", est);
  total.text += " gCO2eq";
  t.rows.push_back(Row("total", total));
  if (plots) s.plots.push_back({"carbon", CarbonPlotSvg(run)});
  return s;
}

Section MetricsSection(const RunRecord& run) {
  Section s;
  s.title = "Metrics";
  s.table.header = {"metric", "value"};
  s.table.numeric = {false, true};
  for (auto it = run.metrics.begin(); it != run.metrics.end(); ++it) {
    // Shown in sections of their own (DistributedSection, RoundsSection).
    if (!it.value().is_primitive() &&
        (it.key() == "distributed" || it.key() == "rounds" || it.key() == "energy")) {
      continue;
    }
    s.table.rows.push_back(
        {Text(MetricName(it.key())), MetricCell(it.key(), it.value(), "/metrics")});
  }
  return s;
}

// The number at `key` of `j`, or 0.
double NumberAt(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
}

// A distributed or federated job's ranks and nodes (metrics.distributed of
// `joule train --distributed`, metrics.energy of `joule federated`).
std::optional<Section> DistributedSection(const RunRecord& run) {
  std::string at = "/metrics/distributed";
  auto d = run.metrics.find("distributed");
  if (d == run.metrics.end()) {
    d = run.metrics.find("energy");
    at = "/metrics/energy";
  }
  if (d == run.metrics.end() || !d->is_object() || !d->contains("ranks")) return std::nullopt;
  const std::string method = d->value("method", std::string());
  const std::string est = EstimatedBy(method);
  Section s;
  s.title = "Ranks and nodes";
  s.before.push_back(
      {Paragraph::kText,
       "Each node's machine energy is its leader's measurement, counted once; a rank's energy "
       "is its own process tree's share (" +
           (method.empty() ? std::string("not metered") : method) + ")."});
  s.table.header = {"", "energy (J)", "machine energy (J)", "MB to MPI", "s in MPI"};
  s.table.numeric = {false, true, true, true, true};
  int i = 0;
  for (const nlohmann::json& n : d->value("nodes", nlohmann::json::array())) {
    std::string f = at + "/nodes/" + std::to_string(i++);
    s.table.rows.push_back(
        {Text("node " + std::to_string(n.value("node", 0))),
         Figure(NumberAt(n, "process_energy_j"), f + "/process_energy_j", "%.4g", est),
         Figure(NumberAt(n, "machine_energy_j"), f + "/machine_energy_j", "%.4g", est), Text(""),
         Text("")});
  }
  i = 0;
  for (const nlohmann::json& r : d->value("ranks", nlohmann::json::array())) {
    std::string f = at + "/ranks/" + std::to_string(i++);
    s.table.rows.push_back({Text("rank " + std::to_string(r.value("rank", 0)) +
                                 (r.value("leader", false) ? " (leader)" : "")),
                            Figure(NumberAt(r, "energy_j"), f + "/energy_j", "%.4g", est), Text(""),
                            Figure(NumberAt(r, "bytes_sent") / 1e6, "", "%.4g"),
                            Figure(NumberAt(r, "mpi_s"), f + "/mpi_s", "%.3g")});
  }
  return s;
}

// A federated job's rounds: per round and client, joules, bytes, examples,
// local accuracy; the round's global accuracy on its first row.
std::optional<Section> RoundsSection(const RunRecord& run) {
  auto rounds = run.metrics.find("rounds");
  if (rounds == run.metrics.end() || !rounds->is_array()) return std::nullopt;
  Section s;
  s.title = "Federated rounds";
  s.table.header = {"round",      "global accuracy", "client", "examples",
                    "energy (J)", "kB down",         "kB up",  "local accuracy"};
  s.table.numeric = {false, true, false, true, true, true, true, true};
  int ri = 0;
  for (const nlohmann::json& r : *rounds) {
    std::string f = "/metrics/rounds/" + std::to_string(ri++);
    int ci = 0;
    for (const nlohmann::json& c : r.value("clients", nlohmann::json::array())) {
      std::string cf = f + "/clients/" + std::to_string(ci);
      std::string client = std::to_string(c.value("client", 0));
      if (c.value("dropped", false)) client += " (dropped)";
      std::vector<Cell> row = {
          Text(ci == 0 ? std::to_string(r.value("round", 0)) : ""),
          ci == 0 ? Figure(NumberAt(r, "global_accuracy"), f + "/global_accuracy", "%.4f")
                  : Text(""),
          Text(client),
          Figure(NumberAt(c, "examples"), cf + "/examples", "%.0f"),
          Figure(NumberAt(c, "energy_j"), cf + "/energy_j", "%.4g",
                 EstimatedBy(c.value("energy_method", std::string()))),
          Figure(NumberAt(c, "bytes_down") / 1e3, "", "%.1f"),
          Figure(NumberAt(c, "bytes_up") / 1e3, "", "%.1f"),
          Figure(NumberAt(c, "local_accuracy"), cf + "/local_accuracy", "%.4f")};
      s.table.rows.push_back(std::move(row));
      ++ci;
    }
  }
  return s;
}

// The SCI in the unit asked for, or per run when the run has no such unit.
Section SciSection(const RunRecord& run, const ReportOptions& options) {
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
  Section s;
  s.title = "Software Carbon Intensity";
  s.before.push_back({Paragraph::kText, "SCI = (E x I + M) / R = (" + Num(in.energy_kwh) +
                                            " kWh x " + Num(in.intensity_g_per_kwh, "%.4g") +
                                            " g/kWh + " + Num(in.embodied_g) + " g) / " +
                                            Num(in.units) + " = **" + Num(sci.g_per_unit) +
                                            " gCO2eq per " + SciUnitName(unit) + "**" +
                                            (sci.estimated() ? " (**estimated**)" : "")});
  s.before.push_back({Paragraph::kText,
                      "E is the energy with the PUE applied, I the carbon intensity, M the "
                      "embodied carbon of the share of the hardware's life the run held, R the "
                      "functional units."});
  if (!fallback.empty()) {
    s.before.push_back({Paragraph::kText, std::string("Per ") + SciUnitName(options.per) +
                                              " does not apply: " + fallback + "."});
  }
  for (const std::string& input : in.estimated) {
    s.before.push_back({Paragraph::kItem, "estimated input: " + input});
  }
  std::string est = sci.estimated() ? in.estimated.front() : "";
  s.table.rows.push_back(Row("E (kWh, PUE applied)", Figure(in.energy_kwh, "", "%.6g", est)));
  s.table.rows.push_back(Row("I (gCO2eq/kWh)", Figure(in.intensity_g_per_kwh, "", "%.6g")));
  s.table.rows.push_back(Row("M (gCO2eq)", Figure(in.embodied_g, "/energy/embodied_g")));
  s.table.rows.push_back(Row(std::string("R (") + SciUnitName(unit) + "s)", Figure(in.units, "")));
  Cell result = Figure(sci.g_per_unit, "", "%.6g", est);
  result.text += std::string(" gCO2eq per ") + SciUnitName(unit);
  result.strong = true;
  s.table.rows.push_back(Row("SCI", result));
  return s;
}

Section EpochsSection(const RunRecord& run, bool plots) {
  Section s;
  s.title = "Epochs";
  Table& t = s.table;
  t.header = {"epoch", "s", "J", "gCO2eq", "accuracy", "loss"};
  t.numeric = {true, true, true, true, true, true};
  const std::string est = EstimatedBy(run.energy.method);
  for (std::size_t i = 0; i < run.epochs.size(); ++i) {
    const EpochRow& ep = run.epochs[i];
    const std::string at = "/epochs/" + std::to_string(i);
    auto metric = [&](const char* key) {
      auto it = ep.metrics.find(key);
      return it != ep.metrics.end() && it->is_number()
                 ? Figure(it->get<double>(), at + "/metrics/" + key)
                 : Text("-");
    };
    t.rows.push_back(
        {Figure(ep.epoch, at + "/epoch", "%g"), Figure(ep.seconds, at + "/seconds", "%.3g"),
         Figure(ep.energy_j, at + "/energy_j", "%.6g", est),
         Figure(ep.co2_g, at + "/co2_g", "%.6g", est), metric("accuracy"), metric("loss")});
  }
  if (plots) s.plots.push_back({"epochs", EpochPlotSvg(run)});
  return s;
}

}  // namespace

std::string Num(double v, const char* format) {
  if (!std::isfinite(v)) return "-";
  char buf[48];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string ExactNum(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  auto result = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, result.ptr);
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

Card BuildCard(const ReportRun& r, const ReportOptions& options, bool plots) {
  const RunRecord& run = r.record;
  Card card;
  card.run_id = run.id;
  card.heading = run.kind + " run " + run.id + ": " + run.name;
  card.sections.push_back(RunSection(run));
  card.sections.push_back(EnergySection(r, options, plots));
  card.sections.push_back(CarbonSection(run, plots));
  if (!run.metrics.empty()) card.sections.push_back(MetricsSection(run));
  if (std::optional<Section> d = DistributedSection(run)) card.sections.push_back(std::move(*d));
  if (std::optional<Section> r = RoundsSection(run)) card.sections.push_back(std::move(*r));
  card.sections.push_back(SciSection(run, options));
  if (!run.epochs.empty()) card.sections.push_back(EpochsSection(run, plots));
  return card;
}

Document BuildDocument(const std::vector<ReportRun>& runs, const ReportOptions& options,
                       bool plots) {
  if (runs.empty()) throw Error("a report needs at least one run");
  Document doc;
  doc.title =
      "joule report: " + std::to_string(runs.size()) + (runs.size() == 1 ? " run" : " runs");
  bool estimated = false;
  for (const ReportRun& r : runs)
    estimated = estimated || !EstimatedBy(r.record.energy.method).empty();
  if (estimated) {
    doc.intro.push_back({Paragraph::kEstimatedNote,
                         "Figures marked **estimated** come from a power model, not a sensor."});
  }
  if (runs.size() > 1) {
    std::vector<RunRecord> records;
    for (const ReportRun& r : runs) records.push_back(r.record);
    Section s;
    s.title = "Comparison";
    s.before.push_back(
        {Paragraph::kText, "Ratios are against the first run, " + runs[0].record.id + "."});
    Table& t = s.table;
    t.header = {"run",      "kind",    "name",      "J",          "gCO2eq",        "s",
                "accuracy", "J ratio", "CO2 ratio", "time ratio", "accuracy ratio"};
    t.numeric = {false, false, false, true, true, true, true, true, true, true, true};
    for (const RunComparison& c : CompareRuns(records)) {
      const std::string est = EstimatedBy(c.method);
      t.rows.push_back({Text(c.id), Text(c.kind), Text(c.name), Figure(c.energy_j, "", "%.6g", est),
                        Figure(c.co2_g, "", "%.6g", est), Figure(c.duration_s, "", "%.4g"),
                        c.accuracy ? Figure(*c.accuracy, "", "%.4f") : Text("-"),
                        Figure(c.energy_ratio, "", "%.3f"), Figure(c.co2_ratio, "", "%.3f"),
                        Figure(c.time_ratio, "", "%.3f"),
                        c.accuracy ? Figure(c.accuracy_ratio, "", "%.4f") : Text("-")});
    }
    if (plots) s.plots.push_back({"pareto", ParetoPlotSvg(records)});
    doc.overview.push_back(std::move(s));
  }
  for (const ReportRun& r : runs) doc.cards.push_back(BuildCard(r, options, plots));
  return doc;
}

}  // namespace joule::report_internal

namespace joule {

using report_internal::BuildDocument;
using report_internal::RenderHtml;
using report_internal::RenderMarkdown;

namespace {
std::vector<ReportRun> WithoutSamples(const std::vector<RunRecord>& runs) {
  std::vector<ReportRun> out;
  for (const RunRecord& r : runs) out.push_back({r, {}});
  return out;
}
}  // namespace

std::string RunCardMarkdown(const RunRecord& run, const ReportOptions& options) {
  report_internal::Document doc;
  doc.cards.push_back(report_internal::BuildCard({run, {}}, options, false));
  return RenderMarkdown(doc, "", nullptr);
}

std::string ReportMarkdown(const std::vector<RunRecord>& runs, const ReportOptions& options) {
  return RenderMarkdown(BuildDocument(WithoutSamples(runs), options, false), "", nullptr);
}

std::string ReportHtml(const std::vector<ReportRun>& runs, const ReportOptions& options) {
  return RenderHtml(BuildDocument(runs, options, true));
}

RenderedReport ReportMarkdownWithPlots(const std::vector<ReportRun>& runs,
                                       const ReportOptions& options, const std::string& plot_stem) {
  RenderedReport out;
  out.text = RenderMarkdown(BuildDocument(runs, options, true), plot_stem, &out.files);
  return out;
}

}  // namespace joule
