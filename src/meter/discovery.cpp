// Chooses the sources for this machine so that no watt is counted twice:
// one CPU source, one RAM source, GPUs apart, or a declared wall power alone.
#include <cstdlib>
#include <string>
#include <vector>

#include "joule/meter.hpp"
#include "joule/util.hpp"

namespace joule {

const char* ComponentName(Component component) {
  switch (component) {
    case Component::kCpu:
      return "cpu";
    case Component::kRam:
      return "ram";
    case Component::kGpu:
      return "gpu";
    case Component::kSystem:
      return "system";
    case Component::kOther:
      return "other";
  }
  return "other";
}

bool IsMeasuredMethod(std::string_view method) { return method.rfind("measured:", 0) == 0; }

namespace {

bool HasCounted(const PowerSource& source, Component component) {
  for (const Channel& ch : source.channels()) {
    if (ch.counted && ch.component == component) return true;
  }
  return false;
}

}  // namespace

SensorOptions SensorOptionsFromEnvironment() {
  SensorOptions options;
  if (const char* nvml = std::getenv("JOULE_NVML_LIBRARY")) options.nvml_library = nvml;
  if (const char* amdsmi = std::getenv("JOULE_AMDSMI_LIBRARY")) options.amdsmi_library = amdsmi;
  if (const char* powercap = std::getenv("JOULE_POWERCAP_DIR")) options.powercap_dir = powercap;
  return options;
}

SensorSet DiscoverSensors(const SensorOptions& options) {
  SensorSet set;
  if (options.declared_power_w) {
    set.sources.push_back(MakeDeclaredSource(*options.declared_power_w));
    set.probes.push_back({"declared", true, set.sources.back()->detail()});
    set.probes.push_back({"rapl", false, "not probed: --power declares the whole machine's power"});
    return set;
  }
  SourceProbe rapl_probe, hwmon_probe, nvml_probe, amdsmi_probe;
  std::unique_ptr<PowerSource> rapl = OpenRaplSource(options.powercap_dir, &rapl_probe);
  std::unique_ptr<PowerSource> hwmon = OpenHwmonSource(options.hwmon_dir, &hwmon_probe);
  std::unique_ptr<PowerSource> nvml = OpenNvmlSource(options.nvml_library, &nvml_probe);
  std::unique_ptr<PowerSource> amdsmi = OpenAmdSmiSource(options.amdsmi_library, &amdsmi_probe);
  set.probes = {rapl_probe, hwmon_probe, nvml_probe, amdsmi_probe};
  bool cpu_measured = false, ram_measured = false;
  if (rapl) {
    cpu_measured = HasCounted(*rapl, Component::kCpu) || HasCounted(*rapl, Component::kSystem);
    ram_measured = HasCounted(*rapl, Component::kRam);
    set.sources.push_back(std::move(rapl));
  } else if (hwmon && HasCounted(*hwmon, Component::kCpu)) {
    cpu_measured = true;
    set.sources.push_back(std::move(hwmon));
  }
  if (!cpu_measured || !ram_measured) {
    TdpModelOptions model;
    model.proc_root = options.proc_root;
    model.cpu_power_csv = options.cpu_power_csv;
    model.cpu_tdp_w = options.cpu_tdp_w;
    model.ram_power_w = options.ram_power_w;
    model.model = options.power_model;
    model.cpu = !cpu_measured;
    model.ram = !ram_measured;
    set.sources.push_back(MakeTdpModelSource(model, &set.warnings));
    set.probes.push_back({"tdp-model", true, set.sources.back()->detail()});
    // Zones that exist but cannot be read are the case users must hear about:
    // the fix is one command.
    if (!cpu_measured && rapl_probe.reason.rfind("cannot read", 0) == 0) {
      set.warnings.push_back("RAPL not used: " + rapl_probe.reason +
                             "; CPU energy falls back to estimated:tdp-model");
    }
  } else {
    set.probes.push_back({"tdp-model", false, "not needed: CPU and RAM are measured"});
  }
  if (nvml) set.sources.push_back(std::move(nvml));
  if (amdsmi) set.sources.push_back(std::move(amdsmi));
  return set;
}

}  // namespace joule
