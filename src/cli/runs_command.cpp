// joule runs: the ledger of recorded runs.
//
//   joule runs list [--kind K] [--tag T] [--status S] [--since D] [--until D] [--limit N]
//   joule runs show ID [--json]
//   joule runs compare ID ID... [--json]
//   joule runs export --format codecarbon-csv|json [ID...] [filters]
//   joule runs tag ID TAG
//   joule runs rm ID
//
// IDs may be shortened to any unique prefix, as in git. This file parses and
// prints; what runs are, how they compare and how they export is the ledger's.
#include <time.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/ledger_flags.hpp"
#include "joule/run_record.hpp"
#include "joule/util.hpp"

namespace joule::cli {
namespace {

struct RunsFlags {
  LedgerFlags ledger;
  std::vector<std::string> ids;
  std::string one_id;  // tag and rm
  std::string kind, tag, status, since, until, format, tag_name;
  int limit = 0;
  bool json = false;
};

std::string Fmt(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

std::string LocalTime(double unix_s) {
  if (unix_s <= 0) return "-";
  time_t t = static_cast<time_t>(unix_s);
  struct tm local;
  localtime_r(&t, &local);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &local);
  return buf;
}

std::string Ratio(double ratio) { return std::isfinite(ratio) ? Fmt("%.3fx", ratio) : "-"; }

RunFilter MakeFilter(const RunsFlags& f) {
  RunFilter filter;
  filter.kind = f.kind;
  filter.tag = f.tag;
  filter.status = f.status;
  if (!f.status.empty()) ParseRunStatus(f.status);  // a bad name fails before the ledger opens
  if (!f.since.empty()) filter.since_unix_s = ParseRunTime("--since", f.since);
  if (!f.until.empty()) filter.until_unix_s = ParseRunTime("--until", f.until);
  if (f.limit < 0) throw Error("--limit " + std::to_string(f.limit) + ": expected 0 (all) or more");
  filter.limit = f.limit;
  return filter;
}

std::unique_ptr<Ledger> OpenLedger(const RunsFlags& f) {
  LedgerTarget target = ResolveLedgerTarget(f.ledger);
  return Ledger::Open(target.path);
}

// Columns padded to their widest cell; the last column is left ragged.
void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
}

std::string Energy(double joules) { return Fmt("%.4g J", joules); }

// The line under a table whose figures include estimates, naming them.
void PrintEstimateNote(const std::vector<std::string>& methods) {
  std::string estimated;
  for (const std::string& method : methods) {
    std::size_t pos = 0;
    while (pos < method.size()) {
      std::size_t end = method.find('+', pos);
      if (end == std::string::npos) end = method.size();
      std::string one = method.substr(pos, end - pos);
      if (!IsMeasuredMethod(one) && estimated.find(one) == std::string::npos) {
        estimated += (estimated.empty() ? "" : ", ") + one;
      }
      pos = end + 1;
    }
  }
  if (!estimated.empty()) {
    std::printf(
        "ESTIMATES, not measurements: energy labelled %s comes from a model or a declared "
        "figure, not from a power sensor\n",
        estimated.c_str());
  }
}
std::string Method(const std::string& method) { return method.empty() ? "not metered" : method; }

void List(const RunsFlags& f) {
  RunFilter filter = MakeFilter(f);
  LedgerTarget target = ResolveLedgerTarget(f.ledger);
  if (!std::filesystem::exists(target.path)) {
    // --json is read by programs: an empty array on stdout, the words on stderr.
    if (f.json) std::printf("[]\n");
    std::fprintf(f.json ? stderr : stdout, "no runs recorded yet (no ledger at %s)\n",
                 target.path.c_str());
    return;
  }
  std::unique_ptr<Ledger> ledger = Ledger::Open(target.path);
  std::vector<RunRecord> runs = ledger->List(filter);
  if (f.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const RunRecord& run : runs) out.push_back(RunRecordToJson(run));
    std::printf("%s\n", out.dump().c_str());
    return;
  }
  if (runs.empty()) {
    std::printf("no runs match in %s\n", ledger->path().c_str());
    return;
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "STARTED", "KIND", "STATUS", "TIME", "ENERGY", "METHOD", "CO2", "NAME"}};
  for (const RunRecord& run : runs) {
    std::string name = run.name;
    if (name.size() > 48) name = name.substr(0, 45) + "...";
    for (const std::string& tag : run.tags) name += " [" + tag + "]";
    rows.push_back({run.id, LocalTime(run.start_unix_s), run.kind, RunStatusName(run.status),
                    Fmt("%.1f s", run.energy.duration_s), Energy(run.energy.energy_j),
                    Method(run.energy.method), Fmt("%.3g g", run.energy.co2_g()), name});
  }
  PrintTable(rows);
  std::vector<std::string> methods;
  for (const RunRecord& run : runs) methods.push_back(run.energy.method);
  PrintEstimateNote(methods);
}

void Show(const RunsFlags& f) {
  if (f.ids.size() != 1) throw Error("runs show: give one run id, e.g. joule runs show 3f9a");
  std::unique_ptr<Ledger> ledger = OpenLedger(f);
  RunRecord run = ledger->Get(ledger->Resolve(f.ids[0]));
  if (f.json) {
    std::printf("%s\n", RunRecordToJson(run).dump().c_str());
    return;
  }
  const EnergyReport& e = run.energy;
  std::printf("run %s: %s '%s', %s%s%s\n", run.id.c_str(), run.kind.c_str(), run.name.c_str(),
              RunStatusName(run.status), run.message.empty() ? "" : ": ", run.message.c_str());
  std::printf("  started %s, ended %s, %.3f s; host %s (%s, %d CPUs)\n",
              LocalTime(run.start_unix_s).c_str(), LocalTime(run.end_unix_s).c_str(), e.duration_s,
              run.host.hostname.c_str(), run.host.cpu_model.c_str(), run.host.cpu_count);
  if (!run.parent_id.empty()) std::printf("  started by run %s\n", run.parent_id.c_str());
  for (const ComponentReport& c : e.components) {
    std::printf("  %-7s %12.6g J  %s\n", ComponentName(c.component), c.energy_j, c.method.c_str());
  }
  std::printf("  %-7s %12.6g J  %s (%s, %llu sample%s)\n", "total", e.energy_j,
              Method(e.method).c_str(),
              e.attribution == Attribution::kMachine ? "whole machine" : "its process tree",
              static_cast<unsigned long long>(e.samples), e.samples == 1 ? "" : "s");
  std::printf("  carbon: %.6g gCO2eq = %.6g g operational + %.6g g embodied; intensity %.4g g/kWh",
              e.co2_g(), e.operational_g, e.embodied_g, e.intensity_g_per_kwh);
  if (!e.intensity_source.empty()) std::printf(" (%s)", e.intensity_source.c_str());
  std::printf("\n");
  if (e.estimated) {
    std::printf("  ESTIMATES, not measurements: %s figures come from a model, not a sensor\n",
                e.method.c_str());
  }
  // Named tasks (a Python run's, docs/python.md) as a table of their own;
  // a "tasks" metric of any other shape is printed with the rest.
  nlohmann::json metrics = run.metrics;
  std::vector<std::vector<std::string>> task_rows;
  auto tasks = metrics.find("tasks");
  if (tasks != metrics.end() && tasks->is_array() && !tasks->empty()) {
    try {
      task_rows.push_back({"  TASK", "TIME", "ENERGY", "CO2", "METHOD"});
      for (const nlohmann::json& t : *tasks) {
        EnergyReport te = EnergyReportFromJson(t.at("energy"));
        task_rows.push_back({"  " + t.at("name").get<std::string>(), Fmt("%.3f s", te.duration_s),
                             Energy(te.energy_j), Fmt("%.3g g", te.co2_g()), Method(te.method)});
      }
      metrics.erase(tasks);
    } catch (const std::exception&) {
      task_rows.clear();
    }
  }
  if (!metrics.empty()) std::printf("  metrics: %s\n", metrics.dump().c_str());
  if (!task_rows.empty()) {
    std::printf("  tasks, in the order they ended:\n");
    PrintTable(task_rows);
  }
  if (!run.tags.empty()) {
    std::string tags;
    for (const std::string& t : run.tags) tags += (tags.empty() ? "" : ", ") + t;
    std::printf("  tags: %s\n", tags.c_str());
  }
  if (!run.epochs.empty()) {
    std::vector<std::vector<std::string>> rows = {{"  EPOCH", "TIME", "ENERGY", "CO2", "METRICS"}};
    for (const EpochRow& ep : run.epochs) {
      rows.push_back({"  " + std::to_string(ep.epoch), Fmt("%.2f s", ep.seconds),
                      Energy(ep.energy_j), Fmt("%.3g g", ep.co2_g), ep.metrics.dump()});
    }
    std::printf("  epochs (energy %s):\n", Method(e.method).c_str());
    PrintTable(rows);
  }
}

void Compare(const RunsFlags& f) {
  if (f.ids.size() < 2)
    throw Error("runs compare: give two run ids or more; the first is the base");
  std::unique_ptr<Ledger> ledger = OpenLedger(f);
  std::vector<RunRecord> runs;
  for (const std::string& id : f.ids) runs.push_back(ledger->Get(ledger->Resolve(id)));
  std::vector<RunComparison> rows = CompareRuns(runs);
  if (f.json) {
    std::printf("%s\n", RunComparisonsToJson(rows).dump().c_str());
    return;
  }
  std::vector<std::vector<std::string>> table = {{"ID", "KIND", "STATUS", "ENERGY", "x", "CO2", "x",
                                                  "TIME", "x", "ACCURACY", "x", "METHOD", "NAME"}};
  for (const RunComparison& r : rows) {
    table.push_back({r.id, r.kind, RunStatusName(r.status), Energy(r.energy_j),
                     Ratio(r.energy_ratio), Fmt("%.4g g", r.co2_g), Ratio(r.co2_ratio),
                     Fmt("%.2f s", r.duration_s), Ratio(r.time_ratio),
                     r.accuracy ? Fmt("%.4f", *r.accuracy) : "-", Ratio(r.accuracy_ratio),
                     Method(r.method), r.name});
  }
  PrintTable(table);
  std::printf("ratios (x) are against the first run, %s\n", rows[0].id.c_str());
  std::vector<std::string> methods;
  for (const RunComparison& r : rows) methods.push_back(r.method);
  PrintEstimateNote(methods);
}

void Export(const RunsFlags& f) {
  if (f.format != "codecarbon-csv" && f.format != "json") {
    throw Error("--format " + f.format + ": expected codecarbon-csv or json");
  }
  RunFilter filter = MakeFilter(f);
  std::unique_ptr<Ledger> ledger = OpenLedger(f);
  std::vector<RunRecord> runs;
  if (!f.ids.empty()) {
    for (const std::string& id : f.ids) runs.push_back(ledger->Get(ledger->Resolve(id)));
  } else {
    // Oldest first, as an emissions.csv grows.
    std::vector<RunRecord> listed = ledger->List(filter);
    for (auto it = listed.rbegin(); it != listed.rend(); ++it) runs.push_back(ledger->Get(it->id));
  }
  if (f.format == "codecarbon-csv") {
    std::fputs(RunsToCodeCarbonCsv(runs).c_str(), stdout);
    return;
  }
  nlohmann::json out = nlohmann::json::array();
  for (const RunRecord& run : runs) out.push_back(RunRecordToJson(run));
  std::printf("%s\n", out.dump().c_str());
}

void AddFilterFlags(CLI::App& cmd, RunsFlags& f) {
  cmd.add_option("--kind", f.kind,
                 "only runs of this kind (measure, train, ...; 'compress.' for all)");
  cmd.add_option("--tag", f.tag, "only runs with this tag");
  cmd.add_option("--status", f.status, "running, completed, failed, stopped or incomplete");
  cmd.add_option("--since", f.since,
                 "started at or after: 2026-11-29, '2026-11-29 14:05', 3d, 12h");
  cmd.add_option("--until", f.until, "started before (same forms as --since)");
  cmd.add_option("--limit", f.limit, "at most this many runs, newest first (0: all)");
}

}  // namespace

void RegisterRunsCommand(CLI::App& app) {
  auto f = std::make_shared<RunsFlags>();
  CLI::App* runs = app.add_subcommand(
      "runs", "The ledger of recorded runs: list, show, compare, export, tag, rm");
  runs->require_subcommand(1);
  // --ledger may come after the subcommand too: joule runs list --ledger F.
  runs->fallthrough();
  AddLedgerFlags(*runs, f->ledger, /*allow_disable=*/false);

  CLI::App* list = runs->add_subcommand("list", "Recorded runs, newest first");
  AddFilterFlags(*list, *f);
  list->add_flag("--json", f->json, "print the runs as a JSON array");
  list->callback([f] { List(*f); });

  CLI::App* show =
      runs->add_subcommand("show", "One run: figures with their methods, epochs, tags");
  show->add_option("id", f->ids, "run id or a unique prefix")->required();
  show->add_flag("--json", f->json, "print the run as one JSON object");
  show->callback([f] { Show(*f); });

  CLI::App* compare =
      runs->add_subcommand("compare", "Runs side by side: energy, carbon, time, accuracy, ratios");
  compare->add_option("ids", f->ids, "run ids; ratios are against the first")->required();
  compare->add_flag("--json", f->json, "print the comparison as a JSON array");
  compare->callback([f] { Compare(*f); });

  CLI::App* out = runs->add_subcommand(
      "export", "Runs as CodeCarbon's emissions.csv or JSON, on stdout (all runs unless filtered)");
  out->add_option("--format", f->format, "codecarbon-csv or json")->required();
  out->add_option("ids", f->ids, "run ids (default: the runs the filters select)");
  AddFilterFlags(*out, *f);
  out->callback([f] { Export(*f); });

  CLI::App* tag = runs->add_subcommand("tag", "Tag a run");
  tag->add_option("id", f->one_id, "run id or a unique prefix")->required();
  tag->add_option("tag", f->tag_name, "the tag")->required();
  tag->callback([f] {
    std::unique_ptr<Ledger> ledger = OpenLedger(*f);
    std::string id = ledger->Resolve(f->one_id);
    ledger->Tag(id, f->tag_name);
    std::printf("run %s tagged %s\n", id.c_str(), f->tag_name.c_str());
  });

  CLI::App* rm = runs->add_subcommand("rm", "Remove a run with its samples, epochs and tags");
  rm->add_option("id", f->one_id, "run id or a unique prefix")->required();
  rm->callback([f] {
    std::unique_ptr<Ledger> ledger = OpenLedger(*f);
    std::string id = ledger->Resolve(f->one_id);
    ledger->Remove(id);
    std::printf("run %s removed\n", id.c_str());
  });
}

}  // namespace joule::cli
