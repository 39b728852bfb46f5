// joule estimate: energy and carbon of a job before it runs, from hardware
// tables or a recorded run; every figure labelled estimated:calculator.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/ledger_flags.hpp"
#include "joule/estimate.hpp"
#include "joule/ledger.hpp"
#include "joule/util.hpp"

namespace joule::cli {
namespace {

struct EstimateFlags {
  EstimateRequest request;
  double hours = 0, intensity = 0, epochs = 0, samples = 0;
  CLI::Option *hours_opt = nullptr, *intensity_opt = nullptr, *epochs_opt = nullptr,
              *samples_opt = nullptr;
  std::string like, cloud;
  bool json = false;
  LedgerFlags ledger;
};

void RunEstimate(EstimateFlags& f) {
  EstimateRequest req = f.request;
  if (*f.hours_opt) req.hours = f.hours;
  if (*f.intensity_opt) req.carbon.intensity_g_per_kwh = f.intensity;
  if (*f.epochs_opt) req.like_epochs = f.epochs;
  if (*f.samples_opt) req.like_samples = f.samples;
  req.carbon.cloud_provider = f.cloud;
  if (!f.like.empty()) {
    std::unique_ptr<Ledger> ledger = Ledger::Open(ResolveLedgerTarget(f.ledger).path);
    req.like_run = ledger->Get(ledger->Resolve(f.like));
  } else if (*f.epochs_opt || *f.samples_opt) {
    throw Error("--epochs and --samples scale a recorded run: give --like RUN_ID");
  }
  Estimate e = EstimateJob(req, DataDir());
  if (f.json) {
    std::printf("%s\n", EstimateJson(e).dump().c_str());
  } else {
    std::fputs(EstimateText(e).c_str(), stdout);
  }
}

}  // namespace

void RegisterEstimateCommand(CLI::App& app) {
  auto f = std::make_shared<EstimateFlags>();
  CLI::App* cmd = app.add_subcommand(
      "estimate",
      "Energy and carbon of a job before it runs, as the ML CO2 Impact and Green Algorithms "
      "calculators make them: board power (GPU TDP from data/hardware/gpus.csv, CPU TDP from "
      "data/carbon/cpu_power.csv) x count x utilisation, plus RAM at 3 W per 8 GB, x hours; or "
      "a recorded run's energy and duration (--like RUN_ID), scaled by --epochs or --samples. "
      "Then x PUE x the grid intensity of --country, --cloud/--region, --grid-region or "
      "--intensity. Every figure is labelled estimated:calculator: nothing is measured. "
      "Example: joule estimate --gpu \"A100 SXM4\" --count 8 --hours 24 --country USA");
  EstimateRequest& r = f->request;
  cmd->add_option("--gpu", r.gpu_model, "GPU model as gpus.csv names it (e.g. \"A100 SXM4\")");
  cmd->add_option("--count", r.gpu_count, "number of GPUs")->capture_default_str();
  cmd->add_option("--cpu", r.cpu_model, "CPU model as cpu_power.csv names it");
  cmd->add_option("--cpu-count", r.cpu_count, "number of CPU sockets")->capture_default_str();
  cmd->add_option("--ram-gb", r.ram_gb, "memory the job holds, GB");
  f->hours_opt = cmd->add_option("--hours", f->hours, "how long the job runs");
  cmd->add_option("--utilisation", r.utilisation, "share of board power drawn, in (0, 1]")
      ->capture_default_str();
  cmd->add_option("--country", r.carbon.country_iso3, "ISO 3166 alpha-3 code, e.g. USA, FRA");
  cmd->add_option("--cloud", f->cloud, "cloud provider (gcp, aws, azure), with --region");
  cmd->add_option("--region", r.carbon.cloud_region, "cloud region, e.g. europe-west1");
  cmd->add_option("--grid-region", r.carbon.grid_region, "US state or Nordic zone, e.g. SE3");
  f->intensity_opt =
      cmd->add_option("--intensity", f->intensity, "a fixed intensity in gCO2eq/kWh");
  cmd->add_option("--pue", r.carbon.pue, "the data centre's power usage effectiveness, >= 1")
      ->capture_default_str();
  cmd->add_option("--like", f->like, "a recorded run (id or unique prefix) to scale");
  f->epochs_opt = cmd->add_option("--epochs", f->epochs, "with --like: epochs the job will run");
  f->samples_opt =
      cmd->add_option("--samples", f->samples, "with --like: samples the job will see");
  cmd->add_flag("--json", f->json, "print the estimate as one JSON object");
  AddLedgerFlags(*cmd, f->ledger, /*allow_disable=*/false);
  cmd->callback([f] { RunEstimate(*f); });
}

}  // namespace joule::cli
