// joule study shifting: the grid layer's shifting study on the bundled 2022
// series, as a table or JSON on stdout, a line per zone on stderr.
#include <time.h>

#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "joule/grid_forecast.hpp"
#include "joule/util.hpp"

namespace joule::cli {
namespace {

using grid::SavingStats;
using grid::ShiftingCell;
using grid::ShiftingStudyResult;

struct ShiftingFlags {
  std::vector<std::string> zones;
  std::string from = "2022-07-01", to = "2023-01-01";
  std::vector<int> jobs = {1, 4, 8};
  std::vector<int> windows = {6, 12, 24};
  bool json = false;
};

// "2022-07-01" or "2022-07-01T06:00[:00][Z]" / "2022-07-01 06:00", always UTC.
double ParseUtc(const std::string& flag, const std::string& text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  char sep = 0;
  const int got =
      std::sscanf(text.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d", &y, &mo, &d, &sep, &h, &mi, &s);
  const bool ok = (got == 3 && text.size() == 10) || (got >= 6 && (sep == 'T' || sep == ' '));
  if (!ok || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) {
    throw Error(flag + " " + text + ": expected a UTC date, 2022-07-01 or 2022-07-01T06:00");
  }
  struct tm t = {};
  t.tm_year = y - 1900;
  t.tm_mon = mo - 1;
  t.tm_mday = d;
  t.tm_hour = h;
  t.tm_min = mi;
  t.tm_sec = s;
  return static_cast<double>(timegm(&t));
}

nlohmann::json StatsJson(const SavingStats& s) {
  return {{"n", s.n},
          {"mean_percent", s.mean_percent},
          {"sd_percent", s.sd_percent},
          {"p10_percent", s.p10_percent},
          {"p50_percent", s.p50_percent},
          {"p90_percent", s.p90_percent},
          {"mean_g_per_kwh", s.mean_g_per_kwh},
          {"share_of_perfect", s.share_of_perfect}};
}

// Per (job, window): the mean over zones of each method's share of the
// perfect saving, and in how many zones the forecaster saves more than
// persistence.
struct PairSummary {
  int zones = 0, beats = 0;
  double forecaster_share = 0, persistence_share = 0;
};

std::map<std::pair<int, int>, PairSummary> Summarise(const ShiftingStudyResult& r) {
  std::map<std::pair<int, int>, PairSummary> out;
  for (const ShiftingCell& c : r.cells) {
    PairSummary& p = out[{c.job_hours, c.window_hours}];
    ++p.zones;
    p.forecaster_share += c.forecaster.share_of_perfect;
    p.persistence_share += c.persistence.share_of_perfect;
    if (c.forecaster.mean_percent > c.persistence.mean_percent) ++p.beats;
  }
  for (auto& [key, p] : out) {
    p.forecaster_share /= p.zones;
    p.persistence_share /= p.zones;
  }
  return out;
}

std::string Provenance(const ShiftingStudyResult& r) {
  std::string s;
  for (const std::string& p : r.provenance) s += (s.empty() ? "" : ", ") + p;
  return s;
}

nlohmann::json StudyJson(const ShiftingFlags& f, const ShiftingStudyResult& r) {
  nlohmann::json cells = nlohmann::json::array();
  for (const ShiftingCell& c : r.cells) {
    cells.push_back({{"zone", c.zone},
                     {"job_hours", c.job_hours},
                     {"window_hours", c.window_hours},
                     {"forecaster", StatsJson(c.forecaster)},
                     {"persistence", StatsJson(c.persistence)},
                     {"perfect", StatsJson(c.perfect)}});
  }
  nlohmann::json summary = nlohmann::json::array();
  for (const auto& [key, p] : Summarise(r)) {
    summary.push_back({{"job_hours", key.first},
                       {"window_hours", key.second},
                       {"zones", p.zones},
                       {"forecaster_share_of_perfect", p.forecaster_share},
                       {"persistence_share_of_perfect", p.persistence_share},
                       {"forecaster_beats_persistence_zones", p.beats}});
  }
  return {{"study", "shifting"},
          {"signal", r.signal},
          {"unit", "gCO2eq/kWh"},
          {"provenance", r.provenance},
          {"from", f.from},
          {"to", f.to},
          {"saving", "100 x (actual mean now - actual mean at the picked start) / actual mean now"},
          {"cells", cells},
          {"summary", summary}};
}

std::string StatsText(const SavingStats& s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%5.2f%% (%5.1f/%5.1f)", s.mean_percent, s.p10_percent,
                s.p90_percent);
  return buf;
}

void PrintStudy(const ShiftingFlags& f, const ShiftingStudyResult& r) {
  std::printf(
      "shifting study: a job started at every hour from %s to %s (UTC), moved within its window "
      "to the start each method picks\nintensity: %s, gCO2eq/kWh, from the bundled 2022 series "
      "(%s)\nsaving: against starting now, realised on the actual series; mean over origins "
      "(p10/p90); kept: the method's mean saving / perfect foresight's\n\n",
      f.from.c_str(), f.to.c_str(), r.signal.c_str(), Provenance(r).c_str());
  std::printf("%-6s %4s %6s %7s  %-22s %-22s %-22s %10s %10s\n", "zone", "job", "window", "origins",
              "forecaster", "persistence", "perfect", "kept fc", "kept pers");
  for (const ShiftingCell& c : r.cells) {
    std::printf("%-6s %3dh %5dh %7d  %-22s %-22s %-22s %9.1f%% %9.1f%%\n", c.zone.c_str(),
                c.job_hours, c.window_hours, c.perfect.n, StatsText(c.forecaster).c_str(),
                StatsText(c.persistence).c_str(), StatsText(c.perfect).c_str(),
                100 * c.forecaster.share_of_perfect, 100 * c.persistence.share_of_perfect);
  }
  std::printf("\nmean over zones of the share of perfect foresight's saving kept\n");
  std::printf("%4s %6s %11s %12s %28s\n", "job", "window", "forecaster", "persistence",
              "forecaster beats persistence");
  for (const auto& [key, p] : Summarise(r)) {
    std::printf("%3dh %5dh %10.1f%% %11.1f%% %21d of %d zones\n", key.first, key.second,
                100 * p.forecaster_share, 100 * p.persistence_share, p.beats, p.zones);
  }
}

void ShiftingStudy(const ShiftingFlags& f) {
  const std::string data_dir = DataDir();
  std::vector<std::string> zones = f.zones.empty() ? grid::BundledZones(data_dir) : f.zones;
  std::vector<grid::IntensitySeries> series;
  for (const std::string& z : zones) {
    series.push_back(grid::LoadBundledSeries(z, grid::Signal::kLca, data_dir));
  }
  grid::ShiftingStudyOptions options;
  options.from_unix_s = ParseUtc("--from", f.from);
  options.to_unix_s = ParseUtc("--to", f.to);
  options.job_hours = f.jobs;
  options.window_hours = f.windows;
  const double started = MonotonicSeconds();
  options.on_progress = [&](int done, int all) {
    std::fprintf(stderr, "study shifting: %d/%d zones done, %.1f s\n", done, all,
                 MonotonicSeconds() - started);
  };
  const ShiftingStudyResult r = grid::RunShiftingStudy(series, options);
  if (f.json) {
    std::printf("%s\n", StudyJson(f, r).dump(2).c_str());
  } else {
    PrintStudy(f, r);
  }
}

}  // namespace

void RegisterStudyShifting(CLI::App& study) {
  auto f = std::make_shared<ShiftingFlags>();
  CLI::App* cmd = study.add_subcommand(
      "shifting",
      "Carbon saved by moving a job within a window to the start a forecast picks: joule's "
      "forecaster, persistence and perfect foresight on the bundled 2022 hourly series (lca)");
  cmd->add_option("--zone", f->zones, "a bundled zone, repeatable (default: all of them)");
  cmd->add_option("--from", f->from, "first forecast origin, a UTC date (2022-07-01)")
      ->capture_default_str();
  cmd->add_option("--to", f->to, "end of the origins, excluded, a UTC date")->capture_default_str();
  cmd->add_option("--jobs", f->jobs, "job lengths in hours, e.g. --jobs 1,4,8")->delimiter(',');
  cmd->add_option("--windows", f->windows, "window lengths in hours, e.g. --windows 6,12,24")
      ->delimiter(',');
  cmd->add_flag("--json", f->json, "print the figures as JSON on stdout");
  cmd->callback([f] { ShiftingStudy(*f); });
}

}  // namespace joule::cli
