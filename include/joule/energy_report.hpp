// joule/energy_report.hpp: one struct for every energy and carbon figure joule
// reports (a training run, a compression job, a measured command, a study's
// arm, an inference benchmark), with how each number was obtained.
//
// Meter layer (src/meter/energy_report.cpp, library joule_meter). Every layer
// above the meter (train, compress, ledger, run, cli) passes this struct along
// instead of copying its fields one by one; the ledger stores it as it is.
#pragma once

#include <string>
#include <vector>

#include "joule/carbon.hpp"
#include "joule/meter.hpp"

namespace joule {

// Joules of one component (cpu, ram, gpu, system, other) over the counted
// channels of that component.
struct ComponentReport {
  Component component = Component::kOther;
  double energy_j = 0;   // attributed to the tracked process tree
  double machine_j = 0;  // the whole machine (== energy_j when not attributed)
  std::string method;    // "measured:rapl", "estimated:tdp-model", joined by "+"
  bool attributed = false;
};

struct EnergyReport {
  double duration_s = 0;
  double start_unix_s = 0, end_unix_s = 0;
  Attribution attribution = Attribution::kProcessTree;
  // How the tree's CPU energy was taken (process attribution); records from
  // before the choice existed read back as kBusyTime, the rule they used.
  ProcessShare share = ProcessShare::kMarginal;
  std::vector<ComponentReport> components;  // counted components with a channel, in enum order
  double energy_j = 0;                      // attributed total of counted channels
  double machine_energy_j = 0;              // whole-machine total
  // Every counted channel's method label, distinct, joined by "+" in channel
  // order ("estimated:tdp-model"); empty when the work was not metered.
  std::string method;
  bool estimated = false;  // some counted channel is not "measured:*"
  double cpu_share = 1;    // the tree's share of busy CPU time (1 in machine mode)
  double process_cpu_s = 0;
  double machine_load = 0;  // the machine's busy share of its CPU time over the run
  std::uint64_t samples = 0;

  // Carbon: mean intensity over [start, end] before PUE, its one-line source
  // (CarbonModel::source()), the PUE applied, and grams CO2eq. All 0 / "" when
  // no carbon model was given.
  double intensity_g_per_kwh = 0;
  std::string intensity_source;
  double pue = 1;
  double wue = 0;            // L/kWh; water = wue x energy (PUE applied)
  double operational_g = 0;  // PUE applied
  double embodied_g = 0;
  // Where the intensity is for (CarbonModel's location fields, as the
  // CodeCarbon columns want them); "" when unknown or no carbon model.
  std::string country_name, country_iso, region, cloud_provider, cloud_region;

  bool metered() const { return !method.empty(); }
  double co2_g() const { return operational_g + embodied_g; }
  double kwh() const { return energy_j / 3.6e6; }
  // Attributed joules of `component`; 0 when it has none.
  double ComponentJ(Component component) const;
};

// The report of one meter reading. `carbon` (may be null) fills the intensity
// fields over [reading.start_unix_s, reading.end_unix_s]; the grams come from
// the reading itself (the meter computed them interval by interval).
EnergyReport MakeEnergyReport(const MeterReading& reading, const CarbonModel* carbon);

// a + b for two consecutive parts of one run (a resumed run: the checkpoint's
// figures plus the new part): joules, grams, CPU time, samples and durations
// add; the earlier start and later end are kept; labels and intensity source
// are joined when they differ; intensity is the energy-weighted mean.
EnergyReport CombineEnergyReports(const EnergyReport& a, const EnergyReport& b);

}  // namespace joule
