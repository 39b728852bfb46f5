// joule measure: the energy and carbon of a command (or of a running process)
// and of its whole process tree; the run layer's RunMeasureJob.
//
//   joule measure [options] -- CMD ARGS...   runs CMD, measures until it ends,
//                                            exits with its code (128+signal)
//   joule measure [options] --pid N          attaches to process N until it
//                                            ends or joule gets SIGINT/SIGTERM
//
// The metering flags (sensors, carbon, --machine) are the job schema's, the
// same as train's; the rest are measure's own.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "cli/commands.hpp"
#include "cli/job_flags.hpp"
#include "cli/ledger_flags.hpp"
#include "cli/measure_flags.hpp"
#include "joule/run.hpp"
#include "joule/schedule.hpp"
#include "joule/util.hpp"

namespace joule::cli {
namespace {

// The schema's metering flags that make sense without training: all but
// --no-meter.
bool MeasureMeteringFlag(const JobField& field) {
  return MeteringFlag(field) && field.key != "metering.enabled";
}

// A problem of the job in the flags' terms.
std::string Explain(const MeasureFlags& f, const ConfigProblem& problem) {
  if (problem.key == "pid" || problem.key == "csv") {
    return "--" + problem.key + " " + problem.value + ": " + problem.what;
  }
  if (problem.key == "metering.interval_s") {
    return "--interval " + (f.interval_text.empty() ? problem.value : f.interval_text) + ": " +
           problem.what;
  }
  if (problem.key == "command") return problem.what;
  if (problem.key == "every") return "--every " + f.every_text + ": " + problem.what;
  return f.metering->Explain(problem, nullptr);
}

}  // namespace

void PrepareMeasureJob(MeasureFlags& f) {
  MeasureJob& job = f.job;
  if (!f.every_text.empty()) job.every_s = ParseDurationText(f.every_text, "--every");
  job.metering.sensors = SensorOptionsFromEnvironment();
  JobConfig config;
  config.metering = job.metering;
  f.metering->Apply(config);  // throws naming the flag
  double interval = job.metering.interval_s;
  job.metering = config.metering;
  job.metering.interval_s = interval;
  job.ledger = ResolveLedgerTarget(f.ledger);
  job.on_warning = [](const std::string& w) {
    std::fprintf(stderr, "joule: warning: %s\n", w.c_str());
  };
  if (std::optional<ConfigProblem> problem = ResolveMeasureJob(job)) {
    throw Error(Explain(f, *problem));
  }
}

MeasureResult RunMeasureOrExit(std::function<MeasureResult()> run) {
  try {
    return run();
  } catch (const CommandNotStarted& e) {
    std::fprintf(stderr, "joule: error: %s\n", e.what());
    throw CliExit{e.exit_code()};
  }
}

void ReportMeasure(const MeasureFlags& f, const MeasureResult& result) {
  const MeasureJob& job = f.job;
  std::fputs(FormatMeasureSummary(result).c_str(), stderr);
  if (job.every_s > 0 && !job.csv.empty()) {
    std::fprintf(stderr,
                 "joule measure: %d row%s appended to %s, one per %g s and the last "
                 "partial interval\n",
                 result.facts.csv_rows, result.facts.csv_rows == 1 ? "" : "s", job.csv.c_str(),
                 job.every_s);
  }
  if (f.json) std::printf("%s\n", MeasureSummaryJson(result).dump().c_str());
  if (!result.csv_error.empty()) throw Error(result.csv_error);
  if (!result.samples_error.empty()) throw Error("--samples: " + result.samples_error);
  if (result.facts.exit_code != 0) throw CliExit{result.facts.exit_code};
}

void AddMeasureFlags(CLI::App* cmd, const std::shared_ptr<MeasureFlags>& f, bool measure_only) {
  MeasureJob& job = f->job;
  cmd->add_option("command", job.command, "the command to run and measure, after --");
  if (measure_only) {
    cmd->add_option("--pid", job.pid, "attach to this running process and its descendants");
  }
  cmd->add_option("--interval", job.metering.interval_s, "seconds between samples, 0.01 to 3600")
      ->capture_default_str()
      ->each([f](const std::string& text) { f->interval_text = text; });
  JobConfig defaults;
  defaults.metering = job.metering;
  f->metering = std::make_unique<JobFlags>(*cmd, MeasureMeteringFlag, defaults);
  cmd->add_option("--csv", job.csv, "append a row to this CodeCarbon-compatible emissions.csv");
  if (measure_only) {
    cmd->add_option("--every", f->every_text,
                    "with --machine and no command: monitor until SIGINT/SIGTERM, a --csv row per "
                    "interval (60s, 5m, 1h) and one for the last partial interval");
  }
  cmd->add_option("--samples", job.samples, "write every sample to this file as JSON lines");
  cmd->add_option("--prometheus", job.prometheus,
                  "serve Prometheus metrics on HOST:PORT while measuring (host default 127.0.0.1)");
  cmd->add_option("--project-name", job.project_name, "project_name column of --csv")
      ->capture_default_str();
  cmd->add_flag("--json", f->json, "print the summary as one JSON object on stdout");
  AddLedgerFlags(*cmd, f->ledger);
}

void RegisterMeasureCommand(CLI::App& app) {
  auto f = std::make_shared<MeasureFlags>();
  CLI::App* cmd = app.add_subcommand(
      "measure",
      "Run a command (after --) or attach to a process (--pid) and report the energy and carbon "
      "of its whole process tree; or, with --machine --every 60s and no command, monitor the "
      "machine until Ctrl-C or SIGTERM, a CodeCarbon row per interval. Figures say how they "
      "were obtained: measured:rapl, measured:nvml, measured:amdsmi, measured:hwmon, "
      "estimated:tdp-model or declared.");
  AddMeasureFlags(cmd, f, /*measure_only=*/true);
  cmd->callback([f] {
    PrepareMeasureJob(*f);
    MeasureResult result = RunMeasureOrExit([&] { return RunMeasureJob(f->job); });
    ReportMeasure(*f, result);
  });
}

}  // namespace joule::cli
