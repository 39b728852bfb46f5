// The flags of a measured command, shared by `joule measure` and `joule run`
// (which plans the start, then measures the command as measure does).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "cli/job_flags.hpp"
#include "cli/ledger_flags.hpp"
#include "joule/run.hpp"

namespace joule::cli {

struct MeasureFlags {
  MeasureJob job;
  std::unique_ptr<JobFlags> metering;  // the schema's metering flags
  std::string interval_text;           // --interval as given
  std::string every_text;              // --every as given
  bool json = false;
  LedgerFlags ledger;
};

// The command, --interval, the schema's metering flags, --csv, --samples,
// --prometheus, --project-name, --json and the ledger's; with `measure_only`
// also --pid and --every (attaching and monitoring are measure's alone).
void AddMeasureFlags(CLI::App* cmd, const std::shared_ptr<MeasureFlags>& f, bool measure_only);

// Applies the flags to f.job and checks it; throws Error naming the flag.
void PrepareMeasureJob(MeasureFlags& f);

// Runs `run`; a command that could not start prints one line and exits
// 127/126 (CliExit).
MeasureResult RunMeasureOrExit(std::function<MeasureResult()> run);

// The summary on stderr (JSON on stdout with --json); throws for output that
// failed after the run, and CliExit with the command's code.
void ReportMeasure(const MeasureFlags& f, const MeasureResult& result);

}  // namespace joule::cli
