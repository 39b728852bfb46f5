// joule/report.hpp: what a recorded run cost, shown to a reader. The Green
// AI card of a run (hardware, time, energy by component with each figure's
// method, carbon, the run's metric) and its Software Carbon Intensity, and
// reports of several runs (`joule report`).
//
// Report layer (src/report/*.cpp, library joule_report): above run and
// ledger, below the command line. It reads RunRecords and never measures or
// runs anything.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "joule/run_record.hpp"

namespace joule {

// ---------------------------------------------------------------------------
// Software Carbon Intensity
// ---------------------------------------------------------------------------

// The functional unit R of the SCI: per run, per epoch, per 1000 inferences
// or per training sample.
enum class SciUnit { kRun, kEpoch, kThousandInferences, kSample };

// "run", "epoch", "1000-inferences", "sample"; the parse throws Error naming
// the accepted words.
const char* SciUnitName(SciUnit unit);
SciUnit ParseSciUnit(const std::string& text);

// The Green Software Foundation's Software Carbon Intensity:
//   SCI = (E x I + M) / R
// E: energy in kWh (here with the data centre's PUE applied, which the
// specification allows as part of E), I: carbon intensity in gCO2eq/kWh, M:
// embodied emissions in gCO2eq for the share of the hardware's life the run
// held (TE x TiR / EL: the machine's embodied carbon times the run's time over
// its lifetime), R: the number of functional units.
struct SciInputs {
  double energy_kwh = 0;           // E, PUE applied
  double intensity_g_per_kwh = 0;  // I
  double embodied_g = 0;           // M
  double units = 1;                // R, > 0
  SciUnit unit = SciUnit::kRun;
  // Which inputs are estimates, not measurements ("E: estimated:tdp-model").
  // Any entry makes the SCI an estimate.
  std::vector<std::string> estimated;
};

struct Sci {
  SciInputs inputs;
  double g_per_unit = 0;  // (E x I + M) / R
  bool estimated() const { return !inputs.estimated.empty(); }
};

// The formula. Throws Error when R is not > 0 or an input is negative or not
// finite.
Sci ComputeSci(const SciInputs& inputs);

// The SCI of a recorded run, its inputs read from the record: E from the
// energy (kWh x PUE), I the run's mean intensity, M its embodied grams, R by
// `unit` (epochs: the epochs run; 1000-inferences: a bench-infer run's
// throughput inferences; sample: training steps x batch size; run: 1).
// Estimated energy, a default (world-average) intensity and a default
// embodied figure are listed as estimated inputs. Throws Error when the run
// has no such unit ("run 3f2a...: a measure run has no epochs; use --per run").
Sci SciOf(const RunRecord& run, SciUnit unit);

// ---------------------------------------------------------------------------
// Plots' data
// ---------------------------------------------------------------------------

// A run's power over time as a step function: `watts[i]` from `t_s[i]` to
// `t_s[i + 1]` (seconds since metering started: the energy's start_unix_s,
// else the run's start; t_s has one more entry than watts). Each step's watts are the energy
// between its two ends over its length, so the area under the curve is the run's energy exactly,
// however few steps the samples are merged into.
struct PowerCurve {
  std::string name;    // "cpu", "ram", "gpu", ...; "total" when per component is not known
  std::string method;  // how its energy was obtained ("estimated:tdp-model")
  std::vector<double> t_s, watts;
  double energy_j() const;  // the area: sum of watts x step length
};

// One curve per component with energy (from the samples' joules by
// component, attributed), or one "total" curve when the samples predate
// them; at most `max_steps` steps each (consecutive samples merged, energy
// kept). The first step starts when metering started, from 0 J. Empty when
// there are no samples. Throws Error when max_steps < 1.
std::vector<PowerCurve> PowerCurves(const RunRecord& run, const std::vector<SampleRow>& samples,
                                    std::size_t max_steps);

// Which of the points (energy, accuracy) are on the Pareto front: no other
// point has energy <= and accuracy >= with one of them strictly better.
// Points with a non-finite coordinate are never on it.
std::vector<bool> ParetoFront(const std::vector<std::pair<double, double>>& energy_accuracy);

// ---------------------------------------------------------------------------
// Green AI card and reports
// ---------------------------------------------------------------------------

struct ReportOptions {
  SciUnit per = SciUnit::kRun;
  // The most steps a power plot draws (longer runs are merged, energy kept).
  std::size_t max_plot_steps = 600;
};

// A run as a report shows it: its record (with epochs) and its power samples.
struct ReportRun {
  RunRecord record;
  std::vector<SampleRow> samples;
};

// One card per run, as Markdown: hardware, duration, energy by component (J
// and kWh, with the method of each), the process share, carbon (intensity and
// its source, PUE, operational and embodied), the run's metrics, FLOPs where
// recorded, the SCI with its inputs and formula, the epochs. Every estimated
// figure is marked "(**estimated**: how)". Runs whose unit does not apply
// show the SCI per run, and say so. No plots.
std::string RunCardMarkdown(const RunRecord& run, const ReportOptions& options);

// A report of `runs` (at least one) as a Markdown document without plots: a
// title, a comparison table when there are several (ratios against the
// first), then a card per run.
std::string ReportMarkdown(const std::vector<RunRecord>& runs, const ReportOptions& options);

// A file that goes beside a report (a plot of a Markdown report).
struct ReportFile {
  std::string name;  // a plain file name, no directory: "report-0123456789ab-power.svg"
  std::string content;
};

struct RenderedReport {
  std::string text;               // the page or the Markdown document
  std::vector<ReportFile> files;  // what the text links to, to be written beside it
};

// The whole report of `runs` (at least one): the comparison table and the
// accuracy-against-energy plot with its Pareto front when there are several
// runs, then each run's card with its plots (power over time per component,
// energy per epoch, carbon by component).
//
// ReportHtml: one self-contained page (inline SVG and CSS; no script, no
// network, no external font), estimated figures marked in text and colour.
// Figures on the cards carry their exact value and ledger field as
// data-field/data-value attributes, for readers that check them.
std::string ReportHtml(const std::vector<ReportRun>& runs, const ReportOptions& options);
// ReportMarkdownWithPlots: Markdown whose plots are SVG files named
// "<plot_stem>-<run id>-<plot>.svg" ("<plot_stem>-pareto.svg"), linked by
// those names, returned in `files`.
RenderedReport ReportMarkdownWithPlots(const std::vector<ReportRun>& runs,
                                       const ReportOptions& options, const std::string& plot_stem);

// Writes the report of `runs` to `path`: one page for FILE.html, Markdown
// for FILE.md with its plots beside it as FILE-*.svg. Plots first, the
// document last, each file atomically (a reader never sees half a file or a
// document without its plots). Returns the paths written, the document last.
// Throws Error for another extension (CheckReportPath, which a command calls
// before it runs anything) or a failed write.
std::vector<std::string> WriteReport(const std::string& path, const std::vector<ReportRun>& runs,
                                     const ReportOptions& options);
void CheckReportPath(const std::string& path);

// ---------------------------------------------------------------------------
// The dashboard (joule serve)
// ---------------------------------------------------------------------------

// Pages and a JSON API over the ledger at `ledger_path`, served on
// `host_port` ("127.0.0.1:8080"; port 0 picks a free one) from a pool of
// worker threads until destroyed. Read-only: it never writes a run, and each
// request reads the ledger afresh, so runs recorded while it serves appear.
//
//   GET /                     the runs table; filters kind, tag, status,
//                             since, until (as `joule runs list` takes them),
//                             limit; a form to compare the runs ticked
//   GET /run/ID               a run's card and plots (ID: id or unique prefix)
//   GET /compare?ids=A,B      the report of several runs (ids repeated or
//                             comma-separated), with the Pareto plot
//   GET /api/runs?...         {"runs": [...]}: the runs as `joule runs list --json`
//   GET /api/run/ID           the run as `joule runs show ID --json`
//   GET /api/samples/ID       {"id", "columns": [...], "rows": [[...], ...]}
//   GET /api/compare?ids=A,B  the comparison as `joule runs compare --json`
//
// Answers: 200; 400 with a one-line reason for a malformed or unknown query
// parameter or run id; 404 for an unknown run or path; 405 for a method other
// than GET or HEAD; 500 with the reason when the ledger cannot be read. No
// route reads a file: every answer comes from the ledger.
// Throws Error when `ledger_path` does not exist or is not a joule ledger, or
// the address cannot be bound.
class Dashboard {
 public:
  Dashboard(const std::string& ledger_path, const std::string& host_port,
            const ReportOptions& options = {});
  ~Dashboard();
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;
  int port() const;
  std::uint64_t requests() const;  // answered so far

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace joule
