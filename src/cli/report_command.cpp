// joule report: the Green AI card of recorded runs (hardware, energy by
// component with each figure's method, carbon, metrics, SCI), and a
// comparison table when several runs are given; the report layer's Markdown.
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

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void RunReport(const ReportFlags& f) {
  ReportOptions options;
  options.per = ParseSciUnit(f.per);
  if (!f.out.empty() && !EndsWith(f.out, ".md")) {
    throw Error("--out " + f.out + ": expected a Markdown file name ending in .md");
  }
  std::unique_ptr<Ledger> ledger = Ledger::Open(ResolveLedgerTarget(f.ledger).path);
  std::vector<RunRecord> runs;
  for (const std::string& id : f.ids) runs.push_back(ledger->Get(ledger->Resolve(id)));
  std::string text = ReportMarkdown(runs, options);
  if (f.out.empty()) {
    std::fputs(text.c_str(), stdout);
    return;
  }
  WriteFileAtomic(f.out, text);
  std::fprintf(stderr, "joule report: %zu run%s written to %s\n", runs.size(),
               runs.size() == 1 ? "" : "s", f.out.c_str());
}

}  // namespace

void RegisterReportCommand(CLI::App& app) {
  auto f = std::make_shared<ReportFlags>();
  CLI::App* cmd = app.add_subcommand(
      "report",
      "The Green AI card of recorded runs: hardware, duration, energy by component with how "
      "each figure was obtained, carbon (intensity and source, PUE, operational and embodied), "
      "the run's metrics and its Software Carbon Intensity, SCI = (E x I + M) / R; a "
      "comparison table when several runs are given. Markdown on stdout or in --out.");
  cmd->add_option("ids", f->ids, "run ids or unique prefixes (joule runs list shows them)")
      ->required();
  cmd->add_option("--out", f->out, "write the report to this .md file instead of stdout");
  cmd->add_option("--per", f->per, "the SCI's functional unit: run, epoch, 1000-inferences, sample")
      ->capture_default_str();
  AddLedgerFlags(*cmd, f->ledger, /*allow_disable=*/false);
  cmd->callback([f] { RunReport(*f); });
}

}  // namespace joule::cli
