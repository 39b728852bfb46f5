// The plots of a report, drawn from recorded runs as SVG (svg_chart.hpp).
// Internal to the report layer.
#pragma once

#include <string>
#include <vector>

#include "joule/report.hpp"

namespace joule::report_internal {

// Power over time per component (PowerCurves, at most max_plot_steps steps),
// marked estimated when the run's energy is.
std::string PowerPlotSvg(const ReportRun& run, const ReportOptions& options);
// Each epoch's own joules, a bar per epoch.
std::string EpochPlotSvg(const RunRecord& run);
// The run's grams by component (operational, split by each component's share
// of the energy) and the embodied grams.
std::string CarbonPlotSvg(const RunRecord& run);
// Accuracy against energy of the runs that record an accuracy, the Pareto
// front marked.
std::string ParetoPlotSvg(const std::vector<RunRecord>& runs);

}  // namespace joule::report_internal
