// joule demo: the main job. Trains on the bundled MNIST with two recipes, the
// plain way (recipes/mnist-baseline.toml) and the green way
// (recipes/mnist-green.toml), and prints one table of what each scored and
// cost: accuracy, epochs, seconds, energy with its method, carbon with its
// intensity and source, and the saving. Then what running the green model
// costs: f32 against its int8 quantization, in joules per 1000 inferences.
// The pipeline is the run layer's RunDemo; this file parses and prints.
#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "cli/job_flags.hpp"
#include "cli/ledger_flags.hpp"
#include "cli/progress.hpp"
#include "joule/report.hpp"
#include "joule/run.hpp"
#include "joule/util.hpp"

namespace joule::cli {
namespace {

struct DemoFlags {
  std::string recipes_dir;  // empty: <repository>/recipes
  int max_epochs = 0;       // 0: the recipes' own epoch limits
  bool json = false;
  std::string report = "joule-demo-report.html";
  LedgerFlags ledger;
};

using Row = DemoRow;
using InferenceRow = DemoInference;

double Percent(double part, double whole) { return whole > 0 ? 100 * part / whole : 0; }

nlohmann::json RowJson(const Row& row) {
  nlohmann::json j = JobResultJson(row.recipe.config, row.result);
  j["name"] = row.recipe.name;
  j["recipe"] = row.recipe.path;
  j["description"] = row.recipe.description;
  j["energy_wh"] = row.result.energy.energy_j / 3600.0;
  return j;
}

void PrintTable(const std::vector<Row>& rows, const DemoFlags& f) {
  const JobResult& base = rows[0].result;
  std::printf("\n%-10s %-9s %9s %7s %8s %10s %10s  %-20s %9s %7s\n", "recipe", "precision",
              "test acc", "epochs", "seconds", "energy J", "energy Wh", "energy method", "gCO2eq",
              "saving");
  for (const Row& row : rows) {
    const JobResult& r = row.result;
    std::string saving = &row == &rows[0] ? "-" : "";
    if (saving.empty()) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.1f%%",
                    100 - Percent(r.energy.energy_j, base.energy.energy_j));
      saving = buf;
    }
    std::printf("%-10s %-9s %8.2f%% %7d %8.1f %10.1f %10.4f  %-20s %9.5f %7s\n",
                row.recipe.name.c_str(), row.recipe.config.precision.c_str(),
                100 * r.final_eval.accuracy, r.epochs, r.seconds, r.energy.energy_j,
                r.energy.energy_j / 3600.0, r.energy.method.c_str(), r.energy.co2_g(),
                saving.c_str());
  }
  const JobResult& green = rows[1].result;
  std::printf(
      "\n%s: %.1f%% of %s's energy and %.1f%% of its carbon, test accuracy %+.2f points "
      "(%.2f%% vs %.2f%%)\n",
      rows[1].recipe.name.c_str(), Percent(green.energy.energy_j, base.energy.energy_j),
      rows[0].recipe.name.c_str(), Percent(green.energy.co2_g(), base.energy.co2_g()),
      100 * (green.final_eval.accuracy - base.final_eval.accuracy), 100 * green.final_eval.accuracy,
      100 * base.final_eval.accuracy);
  for (const Row& row : rows) {
    const JobResult& r = row.result;
    if (r.stop_reason == StopReason::kEpochLimit) {
      std::printf("%s: ran all %d epochs\n", row.recipe.name.c_str(), r.epochs);
    } else {
      std::printf("%s: stopped after %d of %d epochs (%s)%s%s\n", row.recipe.name.c_str(), r.epochs,
                  row.recipe.config.epochs, StopReasonName(r.stop_reason),
                  r.stop_message.empty() ? "" : ": ", r.stop_message.c_str());
    }
    for (const std::string& note : r.notes) {
      std::printf("%s: note: %s\n", row.recipe.name.c_str(), note.c_str());
    }
  }
  std::printf("energy method: %s%s\n", base.energy.method.c_str(),
              base.energy.estimated
                  ? ": an estimate from this process's CPU time and a power model of the CPU, "
                    "not a measurement (no power sensor is readable here; see 'joule sensors')"
                  : ": measured");
  std::string pue = base.energy.pue > 1 ? " x PUE " + std::to_string(base.energy.pue) : "";
  std::printf("carbon intensity: %.0f g/kWh%s, from %s\n", base.energy.intensity_g_per_kwh,
              pue.c_str(), base.energy.intensity_source.c_str());
  if (f.max_epochs > 0) {
    std::printf("note: --max-epochs %d capped the recipes: these are not the main job's figures\n",
                f.max_epochs);
  }
}

void PrintInference(const std::vector<InferenceRow>& rows) {
  std::printf("\nrunning the green model (batch 256, %d thread(s)):\n", NumThreads());
  std::printf("%-6s %9s %12s %14s  %s\n", "model", "test acc", "samples/s", "J per 1000",
              "energy method");
  for (const InferenceRow& r : rows) {
    std::printf("%-6s %8.2f%% %12.0f %14.5f  %s\n", r.name.c_str(), 100 * r.bench.accuracy,
                r.bench.throughput_per_s, r.bench.j_per_1000, r.bench.energy.method.c_str());
  }
  std::printf("int8: %.1f%% of f32's energy per inference, test accuracy %+.2f points\n",
              Percent(rows[1].bench.j_per_1000, rows[0].bench.j_per_1000),
              100 * (rows[1].bench.accuracy - rows[0].bench.accuracy));
}

// The report of both recipes' runs: from the ledger (with their power
// samples) when they were recorded, else from the results in memory.
void WriteDemoReport(const DemoResult& demo, const std::string& path, const LedgerTarget& target) {
  std::vector<ReportRun> runs;
  std::unique_ptr<Ledger> ledger;
  for (const Row& row : demo.rows) {
    if (row.recorded) {
      if (!ledger) ledger = Ledger::Open(target.path);
      runs.push_back({ledger->Get(row.run_id), ledger->Samples(row.run_id)});
    } else {
      runs.push_back({TrainRunRecord(row.recipe.name, row.recipe.config, row.result), {}});
      runs.back().record.id = row.run_id;
    }
  }
  WriteReport(path, runs, {});
  std::fprintf(stderr, "report: both recipes' Green AI cards, plots and SCI written to %s%s\n",
               path.c_str(), path.ends_with(".html") ? " (open it in a browser)" : "");
}

void Demo(const DemoFlags& f, const JobFlags& flags) {
  CheckReportPath(f.report);
  DemoOptions o;
  o.recipes_dir = f.recipes_dir;
  o.max_epochs = f.max_epochs;
  o.ledger = ResolveLedgerTarget(f.ledger);
  o.adjust = [&flags](JobConfig& c) { flags.Apply(c); };
  o.explain = [&flags](const Recipe& r, const ConfigProblem& p) { return flags.Explain(p, &r); };
  o.on_stage = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  std::unique_ptr<EpochPrinter> printer;
  o.callbacks = [&printer](const Row& row) -> std::vector<Callback*> {
    printer = std::make_unique<EpochPrinter>(row.recipe.config.epochs, row.recipe.name);
    return {printer.get()};
  };
  o.on_epoch = [&printer](const Row&, const EpochStats& s) { printer->Print(s); };
  const DemoResult demo = RunDemo(o);
  const std::vector<Row>& rows = demo.rows;
  const std::vector<InferenceRow>& inference = demo.inference;
  if (f.json) {
    const JobResult& base = rows[0].result;
    const JobResult& green = rows[1].result;
    nlohmann::json out;
    for (const Row& row : rows) out[row.recipe.name] = RowJson(row);
    out["saving"] = {
        {"energy_percent", 100 - Percent(green.energy.energy_j, base.energy.energy_j)},
        {"co2_percent", 100 - Percent(green.energy.co2_g(), base.energy.co2_g())},
        {"accuracy_points", 100 * (green.final_eval.accuracy - base.final_eval.accuracy)}};
    if (f.max_epochs > 0) out["max_epochs"] = f.max_epochs;
    for (const InferenceRow& r : inference) {
      out["inference"][r.name] = {{"accuracy", r.bench.accuracy},
                                  {"throughput_per_s", r.bench.throughput_per_s},
                                  {"j_per_1000", r.bench.j_per_1000},
                                  {"energy_method", r.bench.energy.method}};
    }
    out["report"] = f.report;
    std::printf("%s\n", out.dump(2).c_str());
    WriteDemoReport(demo, f.report, o.ledger);
    return;
  }
  PrintTable(rows, f);
  PrintInference(inference);
  std::fflush(stdout);
  WriteDemoReport(demo, f.report, o.ledger);
}

}  // namespace

void RegisterDemoCommand(CLI::App& app) {
  auto f = std::make_shared<DemoFlags>();
  CLI::App* cmd = app.add_subcommand(
      "demo",
      "The main job: train on the bundled MNIST the plain way (recipes/mnist-baseline.toml) and "
      "the green way (recipes/mnist-green.toml), and compare accuracy, time, energy and carbon "
      "(offline)");
  cmd->add_option("--recipes", f->recipes_dir,
                  "directory holding mnist-baseline.toml and mnist-green.toml (default: the "
                  "repository's recipes/)");
  cmd->add_option("--max-epochs", f->max_epochs,
                  "cap both recipes' epoch limits (a quick look; not the main job's figures)")
      ->check(CLI::PositiveNumber);
  auto flags = std::make_shared<JobFlags>(
      *cmd, [](const JobField& field) { return field.key == "threads" || MeteringFlag(field); });
  cmd->add_flag("--json", f->json, "print the figures as JSON on stdout (an object per recipe)");
  cmd->add_option("--report", f->report,
                  "where the report of both runs goes: FILE.html (a page with cards and plots) or "
                  "FILE.md (Markdown, plots beside it)")
      ->capture_default_str();
  AddLedgerFlags(*cmd, f->ledger);
  cmd->callback([f, flags] { Demo(*f, *flags); });
}

}  // namespace joule::cli
