// joule plan: the cleanest start (and zone) for a job of a given length
// within a window, from a forecast of the grid's intensity.
// joule run: the same plan, then waits for the start and runs the command
// measured as `joule measure` does, optionally pausing it above a threshold.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/ledger_flags.hpp"
#include "cli/measure_flags.hpp"
#include "joule/ledger.hpp"
#include "joule/schedule.hpp"
#include "joule/util.hpp"

namespace joule::cli {
namespace {

// The flags both commands share: how long, within what, where, from which source.
struct PlanFlags {
  std::string duration, within = "12h", like, provider = "auto", at, signal = "lca";
  std::vector<std::string> zones;
  std::string series;  // plan only (run takes the metering's --intensity-series)
  LedgerFlags ledger;
};

void AddPlanFlags(CLI::App* cmd, PlanFlags& f, bool plan_only) {
  cmd->add_option("--duration", f.duration, "the job's length: 4h, 90m, 600 (s)");
  cmd->add_option("--within", f.within, "the job must end within this of now: 12h, 24h")
      ->capture_default_str();
  cmd->add_option("--like", f.like, "take --duration from a recorded run (id or prefix)");
  cmd->add_option("--zone", f.zones,
                  "a grid zone (DE, GB, FR, ...); repeat to compare zones, the first is home");
  cmd->add_option("--source", f.provider,
                  "where intensity comes from: auto (UK's API for GB, else Electricity Maps "
                  "with ELECTRICITYMAPS_TOKEN, else the bundled tables), bundled, "
                  "electricitymaps, watttime, carbonintensity; live sources fall back to the "
                  "bundled tables, saying so")
      ->capture_default_str();
  cmd->add_option("--signal", f.signal, "lca or direct (marginal: --source watttime)")
      ->capture_default_str();
  if (plan_only) {  // joule plan only: run waits in real time and takes measure's series
    cmd->add_option(
        "--at", f.at,
        "plan as if now were this time: unix seconds, or 2022-07-01 12:00 (local time)");
    cmd->add_option("--intensity-series", f.series,
                    "a series file (timestamp,g_per_kwh or an Electricity Maps export) taken "
                    "as the forecast");
    // joule run takes the measured command's --ledger.
    AddLedgerFlags(*cmd, f.ledger, /*allow_disable=*/false);
  }
}

PlanRequest MakeRequest(const PlanFlags& f, const std::string& series_path) {
  PlanRequest req;
  if (!f.like.empty()) {
    if (!f.duration.empty()) throw Error("--duration and --like: give one");
    std::unique_ptr<Ledger> ledger = Ledger::Open(ResolveLedgerTarget(f.ledger).path);
    RunRecord run = ledger->Get(ledger->Resolve(f.like));
    if (!(run.energy.duration_s > 0)) throw Error("--like " + f.like + ": the run has no duration");
    req.duration_s = run.energy.duration_s;
  } else if (f.duration.empty()) {
    throw Error("give --duration (4h) or --like RUN_ID");
  } else {
    req.duration_s = ParseDurationText(f.duration, "--duration");
  }
  req.within_s = ParseDurationText(f.within, "--within");
  if (!f.at.empty()) {
    bool unix_seconds = f.at.find_first_not_of("0123456789.") == std::string::npos;
    req.now_unix_s = unix_seconds ? std::stod(f.at) : ParseRunTime("--at", f.at);
  }
  if (f.signal != "lca" && f.signal != "direct" && f.signal != "marginal") {
    throw Error("--signal " + f.signal + ": expected lca, direct or marginal");
  }
  req.source.signal = f.signal == "direct"     ? grid::Signal::kDirect
                      : f.signal == "marginal" ? grid::Signal::kMarginal
                                               : grid::Signal::kLca;
  req.zones = f.zones;
  if (!series_path.empty()) {
    if (f.zones.size() > 1) throw Error("--intensity-series holds one zone: give one --zone");
    req.source.provider = "series";
    req.source.series_path = series_path;
    req.source.series_zone = f.zones.empty() ? "series" : f.zones.front();
    req.zones = {req.source.series_zone};
    return req;
  }
  if (f.zones.empty()) throw Error("give --zone (DE, GB, ...) or --intensity-series FILE");
  std::string provider = f.provider;
  if (provider == "auto") {
    bool uk = f.zones.size() == 1 && (f.zones[0] == "GB" || f.zones[0] == "gb");
    const char* token = std::getenv("ELECTRICITYMAPS_TOKEN");
    provider = uk ? "carbonintensity" : token != nullptr && *token ? "electricitymaps" : "bundled";
  }
  req.source.provider = provider;
  return req;
}

struct RunFlags {
  PlanFlags plan;
  std::shared_ptr<MeasureFlags> measure = std::make_shared<MeasureFlags>();
  bool interruptible = false;
  double max_intensity = 0;
  CLI::Option* max_intensity_opt = nullptr;
};

void RunScheduled(RunFlags& f) {
  MeasureFlags& m = *f.measure;
  if (m.job.command.empty()) throw Error("give the command to run after --");
  PrepareMeasureJob(m);
  if (f.interruptible && !*f.max_intensity_opt) {
    throw Error("--interruptible needs --max-intensity G (gCO2eq/kWh)");
  }
  ScheduledJob job;
  f.plan.ledger = m.ledger;
  job.plan = MakeRequest(f.plan, m.job.metering.carbon.series_path);
  job.measure = m.job;
  job.interruptible = f.interruptible;
  job.max_g_per_kwh = f.max_intensity;
  job.on_progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  ScheduledResult result;
  MeasureResult measured = RunMeasureOrExit([&] {
    result = RunScheduledJob(job);
    return result.measure;
  });
  if (result.cancelled) throw CliExit{130};
  std::fprintf(stderr,
               "joule run: planned %.1f gCO2eq/kWh (%s), realised %.1f (%s); %zu pause%s; "
               "%.3f gCO2eq at the realised intensity (%s)\n",
               result.plan.choice.mean_g_per_kwh, result.plan.source.c_str(),
               result.realised_g_per_kwh, result.realised_source.c_str(), result.pauses.size(),
               result.pauses.size() == 1 ? "" : "s", result.realised_co2_g,
               measured.record.energy.method.c_str());
  ReportMeasure(m, measured);
}

}  // namespace

void RegisterPlanCommand(CLI::App& app) {
  auto f = std::make_shared<PlanFlags>();
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "plan",
      "When (and where) to run a job so that its carbon is lowest: forecasts the grid's "
      "intensity (a provider's forecast, else joule's own forecaster over the source's "
      "history), then picks the start within --within (and the zone, with several --zone) "
      "with the lowest mean intensity over --duration, and says what it saves against "
      "starting now. Example: joule plan --duration 4h --within 12h --zone DE");
  AddPlanFlags(cmd, *f, /*plan_only=*/true);
  cmd->add_flag("--json", *json, "print the plan and the forecasts as one JSON object");
  cmd->callback([f, json] {
    Plan plan = MakePlan(MakeRequest(*f, f->series));
    if (*json) {
      std::printf("%s\n", PlanJson(plan).dump().c_str());
    } else {
      std::fputs(PlanText(plan).c_str(), stdout);
    }
  });
}

void RegisterRunCommand(CLI::App& app) {
  auto f = std::make_shared<RunFlags>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Run a command at the cleanest time within a window: plans as `joule plan` does, waits "
      "for the start (Ctrl-C cancels; nothing runs), then runs and measures it as `joule "
      "measure` does and records the plan, the wait and the realised intensity in the "
      "ledger. --interruptible --max-intensity G pauses the command's process group "
      "(SIGSTOP/SIGCONT) while the intensity is above G, and always lets it finish by the "
      "deadline. Example: joule run --within 12h --duration 4h --zone DE -- python train.py");
  AddPlanFlags(cmd, f->plan, /*plan_only=*/false);
  cmd->add_flag("--interruptible", f->interruptible,
                "pause the command while the intensity is above --max-intensity");
  f->max_intensity_opt = cmd->add_option("--max-intensity", f->max_intensity,
                                         "gCO2eq/kWh above which an interruptible job pauses");
  AddMeasureFlags(cmd, f->measure, /*measure_only=*/false);
  cmd->callback([f] { RunScheduled(*f); });
}

}  // namespace joule::cli
