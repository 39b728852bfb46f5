// What `joule train` records in the ledger, until the run layer records its
// pipelines itself: the header, one row per epoch, and the totals.
#pragma once

#include <string>

#include "joule/run_record.hpp"
#include "joule/train.hpp"

namespace joule::cli {

RunRecord TrainRunHeader(const JobConfig& config, const std::string& name);
EpochRow EpochRowFromStats(const EpochStats& stats);
// The job's energy figures as a report. A JobResult has no components or
// start time: the report has the totals and labels, and ends now.
EnergyReport EnergyReportFromJob(const JobResult& result);
// accuracy (classification) or rmse and mae (regression), loss, epochs, steps.
nlohmann::json TrainMetrics(const JobResult& result);

}  // namespace joule::cli
