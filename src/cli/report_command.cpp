// joule report: the Green AI card of recorded runs (hardware, energy by
// component with each figure's method, carbon, metrics, SCI), a comparison
// when several runs are given, and plots; HTML or Markdown from the report
// layer, written atomically.
#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "cli/ledger_flags.hpp"
#include "joule/report.hpp"
#include "joule/util.hpp"

namespace joule::cli {
namespace {

struct ReportFlags {
  std::vector<std::string> ids;
  std::string out;
  std::string per = "run";
  LedgerFlags ledger;
};

void RunReport(const ReportFlags& f) {
  ReportOptions options;
  options.per = ParseSciUnit(f.per);
  if (!f.out.empty()) CheckReportPath(f.out);
  std::unique_ptr<Ledger> ledger = Ledger::Open(ResolveLedgerTarget(f.ledger).path);
  std::vector<ReportRun> runs;
  for (const std::string& id : f.ids) {
    std::string full = ledger->Resolve(id);
    runs.push_back(
        {ledger->Get(full), f.out.empty() ? std::vector<SampleRow>{} : ledger->Samples(full)});
  }
  if (f.out.empty()) {
    std::vector<RunRecord> records;
    for (ReportRun& r : runs) records.push_back(std::move(r.record));
    std::fputs(ReportMarkdown(records, options).c_str(), stdout);
    return;
  }
  std::vector<std::string> written = WriteReport(f.out, runs, options);
  std::fprintf(stderr, "joule report: %zu run%s written to %s", runs.size(),
               runs.size() == 1 ? "" : "s", f.out.c_str());
  if (written.size() > 1) std::fprintf(stderr, " and %zu SVG plots beside it", written.size() - 1);
  std::fprintf(stderr, "\n");
}

}  // namespace

void RegisterReportCommand(CLI::App& app) {
  auto f = std::make_shared<ReportFlags>();
  CLI::App* cmd = app.add_subcommand(
      "report",
      "The Green AI card of recorded runs: hardware, duration, energy by component with how "
      "each figure was obtained, carbon (intensity and source, PUE, operational and embodied), "
      "the run's metrics and its Software Carbon Intensity, SCI = (E x I + M) / R; a "
      "comparison table when several runs are given, and plots: power over time per component, "
      "energy per epoch, carbon by component, accuracy against energy with the Pareto front. "
      "--out FILE.html writes one self-contained page; --out FILE.md writes Markdown with the "
      "plots as SVG files beside it; without --out, Markdown (no plots) on stdout.");
  cmd->add_option("ids", f->ids, "run ids or unique prefixes (joule runs list shows them)")
      ->required();
  cmd->add_option("--out", f->out,
                  "write the report to FILE.html (a page) or FILE.md (plots as FILE-*.svg)");
  cmd->add_option("--per", f->per, "the SCI's functional unit: run, epoch, 1000-inferences, sample")
      ->capture_default_str();
  AddLedgerFlags(*cmd, f->ledger, /*allow_disable=*/false);
  cmd->callback([f] { RunReport(*f); });
}

}  // namespace joule::cli
