#include "joule/energy_report.hpp"

#include <algorithm>

namespace joule {
namespace {

// Appends the "+"-separated labels of `more` to `labels`, skipping repeats.
std::string JoinLabels(std::string labels, const std::string& more) {
  std::size_t pos = 0;
  while (pos <= more.size() && !more.empty()) {
    std::size_t end = more.find('+', pos);
    if (end == std::string::npos) end = more.size();
    std::string one = more.substr(pos, end - pos);
    bool seen = false;
    std::size_t p = 0;
    while (p <= labels.size() && !labels.empty()) {
      std::size_t e = labels.find('+', p);
      if (e == std::string::npos) e = labels.size();
      if (labels.compare(p, e - p, one) == 0) seen = true;
      p = e + 1;
    }
    if (!one.empty() && !seen) labels += (labels.empty() ? "" : "+") + one;
    pos = end + 1;
  }
  return labels;
}

}  // namespace

double EnergyReport::ComponentJ(Component component) const {
  for (const auto& c : components) {
    if (c.component == component) return c.energy_j;
  }
  return 0;
}

EnergyReport MakeEnergyReport(const MeterReading& reading, const CarbonModel* carbon) {
  EnergyReport r;
  r.duration_s = reading.duration_s;
  r.start_unix_s = reading.start_unix_s;
  r.end_unix_s = reading.end_unix_s;
  r.attribution = reading.attribution;
  r.share = reading.share;
  r.energy_j = reading.energy_j;
  r.machine_energy_j = reading.machine_energy_j;
  r.estimated = reading.estimated;
  r.cpu_share = reading.cpu_share;
  r.process_cpu_s = reading.process_cpu_s;
  r.machine_load = reading.machine_load;
  r.samples = reading.samples;
  r.operational_g = reading.operational_g;
  r.embodied_g = reading.embodied_g;
  for (const auto& ch : reading.channels) {
    if (ch.counted) r.method = JoinLabels(r.method, ch.method);
  }
  for (Component c :
       {Component::kCpu, Component::kRam, Component::kGpu, Component::kSystem, Component::kOther}) {
    bool any = false, attributed = false;
    for (const auto& ch : reading.channels) {
      if (ch.counted && ch.component == c) {
        any = true;
        attributed = attributed || ch.attributed;
      }
    }
    if (!any) continue;
    r.components.push_back({c, reading.ComponentJ(c), reading.ComponentMachineJ(c),
                            reading.ComponentMethod(c), attributed});
  }
  if (carbon != nullptr) {
    r.intensity_g_per_kwh = carbon->MeanIntensity(reading.start_unix_s, reading.end_unix_s);
    r.intensity_source = carbon->source();
    r.pue = carbon->pue();
    r.wue = carbon->wue();
    r.country_name = carbon->country_name();
    r.country_iso = carbon->country_iso();
    r.region = carbon->region();
    r.cloud_provider = carbon->cloud_provider();
    r.cloud_region = carbon->cloud_region();
  }
  return r;
}

EnergyReport CombineEnergyReports(const EnergyReport& a, const EnergyReport& b) {
  if (!a.metered()) return b;
  if (!b.metered()) return a;
  EnergyReport r = b;
  r.duration_s = a.duration_s + b.duration_s;
  r.start_unix_s = std::min(a.start_unix_s, b.start_unix_s);
  r.end_unix_s = std::max(a.end_unix_s, b.end_unix_s);
  r.energy_j = a.energy_j + b.energy_j;
  r.machine_energy_j = a.machine_energy_j + b.machine_energy_j;
  r.method = JoinLabels(a.method, b.method);
  r.estimated = a.estimated || b.estimated;
  r.process_cpu_s = a.process_cpu_s + b.process_cpu_s;
  r.machine_load =
      r.duration_s > 0
          ? (a.machine_load * a.duration_s + b.machine_load * b.duration_s) / r.duration_s
          : b.machine_load;
  r.samples = a.samples + b.samples;
  r.operational_g = a.operational_g + b.operational_g;
  r.embodied_g = a.embodied_g + b.embodied_g;
  const double total = a.energy_j + b.energy_j;
  r.intensity_g_per_kwh =
      total > 0 ? (a.intensity_g_per_kwh * a.energy_j + b.intensity_g_per_kwh * b.energy_j) / total
                : b.intensity_g_per_kwh;
  if (a.intensity_source != b.intensity_source && !a.intensity_source.empty()) {
    r.intensity_source = a.intensity_source + "; then " + b.intensity_source;
  }
  r.cpu_share = r.machine_energy_j > 0 ? r.energy_j / r.machine_energy_j : b.cpu_share;
  r.components = a.components;
  for (const auto& c : b.components) {
    auto it = std::find_if(r.components.begin(), r.components.end(),
                           [&](const ComponentReport& x) { return x.component == c.component; });
    if (it == r.components.end()) {
      r.components.push_back(c);
    } else {
      it->energy_j += c.energy_j;
      it->machine_j += c.machine_j;
      it->method = JoinLabels(it->method, c.method);
      it->attributed = it->attributed || c.attributed;
    }
  }
  return r;
}

}  // namespace joule
