// The Prometheus metrics of a meter reading (`joule measure --prometheus`).
#include "joule/ledger.hpp"

namespace joule {

std::vector<PromMetric> PrometheusMetrics(const MeterReading& r, const CarbonModel& carbon) {
  std::vector<PromMetric> m;
  const char* energy_help =
      "Energy attributed to the measured processes since the start, by channel; the method "
      "label says whether it was measured or estimated";
  for (const ChannelEnergy& ch : r.channels) {
    if (!ch.counted) continue;
    m.push_back(
        {"joule_energy_joules",
         energy_help,
         "counter",
         {{"channel", ch.name}, {"component", ComponentName(ch.component)}, {"method", ch.method}},
         ch.energy_j});
  }
  for (const ChannelEnergy& ch : r.channels) {
    if (!ch.counted) continue;
    m.push_back({"joule_machine_power_watts",
                 "Whole-machine (or whole-device) power over the last sample interval",
                 "gauge",
                 {{"channel", ch.name}, {"method", ch.method}},
                 ch.last_power_w});
  }
  m.push_back({"joule_process_cpu_share",
               "The measured process tree's share of the machine's busy CPU time since the start",
               "gauge",
               {},
               r.cpu_share});
  m.push_back({"joule_emissions_grams",
               "Operational plus embodied gCO2eq since the start",
               "counter",
               {{"intensity_source", carbon.source()}},
               r.operational_g + r.embodied_g});
  m.push_back({"joule_duration_seconds",
               "Seconds since the measurement started",
               "gauge",
               {},
               r.duration_s});
  m.push_back(
      {"joule_samples_total", "Samples taken", "counter", {}, static_cast<double>(r.samples)});
  m.push_back({"joule_estimated",
               "1 when some figure is an estimate, not a measurement",
               "gauge",
               {},
               r.estimated ? 1.0 : 0.0});
  return m;
}

}  // namespace joule
