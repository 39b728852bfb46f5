// joule sensors: every power source joule looked for on this machine, what it
// found, and for each one it did not use, why.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "joule/meter.hpp"

namespace joule::cli {
namespace {

struct SensorsFlags {
  double cpu_tdp_w = 0, ram_power_w = 0;
  CLI::Option *cpu_tdp_opt = nullptr, *ram_power_opt = nullptr;
  bool json = false;
};

void RunSensors(const SensorsFlags& f) {
  SensorOptions options = SensorOptionsFromEnvironment();
  if (*f.cpu_tdp_opt) options.cpu_tdp_w = f.cpu_tdp_w;
  if (*f.ram_power_opt) options.ram_power_w = f.ram_power_w;
  SensorSet set = DiscoverSensors(options);
  bool estimated = false;
  std::string estimated_components;
  nlohmann::json channels = nlohmann::json::array();
  for (const auto& source : set.sources) {
    for (const Channel& ch : source->channels()) {
      channels.push_back({{"source", source->kind()},
                          {"method", source->method()},
                          {"name", ch.name},
                          {"component", ComponentName(ch.component)},
                          {"counted", ch.counted},
                          {"detail", ch.detail}});
      if (ch.counted && !IsMeasuredMethod(source->method())) {
        estimated = true;
        estimated_components +=
            std::string(estimated_components.empty() ? "" : ", ") + ComponentName(ch.component);
      }
    }
  }
  if (f.json) {
    nlohmann::json probes = nlohmann::json::array();
    for (const SourceProbe& p : set.probes) {
      probes.push_back({{"kind", p.kind}, {"available", p.available}, {"reason", p.reason}});
    }
    nlohmann::json j = {{"probes", probes},
                        {"channels", channels},
                        {"warnings", set.warnings},
                        {"estimated", estimated}};
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("Power sources on this machine:\n");
  for (const SourceProbe& p : set.probes) {
    std::printf("  %-10s %s: %s\n", p.kind.c_str(), p.available ? "found" : "not found",
                p.reason.c_str());
  }
  std::printf("Channels used:\n");
  for (const auto& source : set.sources) {
    for (const Channel& ch : source->channels()) {
      std::printf("  %-28s %-7s %-20s %s\n", ch.name.c_str(), ComponentName(ch.component),
                  std::string(source->method()).c_str(),
                  ch.counted ? "added to totals" : "reported only (overlaps or unknown scope)");
    }
  }
  for (const std::string& w : set.warnings) std::printf("warning: %s\n", w.c_str());
  if (estimated) {
    std::printf(
        "No readable power sensor for %s: those figures will be ESTIMATES, labelled as such.\n",
        estimated_components.c_str());
  }
}

}  // namespace

void RegisterSensorsCommand(CLI::App& app) {
  auto f = std::make_shared<SensorsFlags>();
  CLI::App* cmd = app.add_subcommand(
      "sensors",
      "List every power source joule looks for, what it found, and why not when not. "
      "JOULE_POWERCAP_DIR, JOULE_NVML_LIBRARY and JOULE_AMDSMI_LIBRARY override where RAPL, "
      "NVML and AMD SMI are looked for "
      "(also for 'joule measure').");
  f->cpu_tdp_opt = cmd->add_option("--cpu-tdp", f->cpu_tdp_w, "CPU TDP in W for the model");
  f->ram_power_opt = cmd->add_option("--ram-power", f->ram_power_w, "RAM power in W for the model");
  cmd->add_flag("--json", f->json, "print the findings as one JSON object on stdout");
  cmd->callback([f] { RunSensors(*f); });
}

}  // namespace joule::cli
