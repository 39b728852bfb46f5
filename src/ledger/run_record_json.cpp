// The JSON form of a run record: what the ledger stores in its JSON columns,
// and what `joule runs show --json` and `export --format json` print.
#include <unistd.h>

#include "joule/run_record.hpp"
#include "joule/util.hpp"
#include "ledger/run_record_internal.hpp"

namespace joule {
namespace {

constexpr RunStatus kStatuses[] = {RunStatus::kRunning, RunStatus::kCompleted, RunStatus::kFailed,
                                   RunStatus::kStopped, RunStatus::kIncomplete};
constexpr Component kComponents[] = {Component::kCpu, Component::kRam, Component::kGpu,
                                     Component::kSystem, Component::kOther};

// j[key] into `out` when present; a wrong type throws naming the key.
template <typename T>
void Read(const nlohmann::json& j, const char* key, T* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  try {
    *out = it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw Error(std::string("key '") + key + "' has the wrong type (" + it->type_name() + ")");
  }
}

Component ParseComponent(const std::string& name) {
  for (Component c : kComponents) {
    if (name == ComponentName(c)) return c;
  }
  throw Error("unknown component '" + name + "'");
}

}  // namespace

const char* RunStatusName(RunStatus status) {
  switch (status) {
    case RunStatus::kRunning:
      return "running";
    case RunStatus::kCompleted:
      return "completed";
    case RunStatus::kFailed:
      return "failed";
    case RunStatus::kStopped:
      return "stopped";
    case RunStatus::kIncomplete:
      return "incomplete";
  }
  return "unknown";
}

RunStatus ParseRunStatus(const std::string& name) {
  for (RunStatus s : kStatuses) {
    if (name == RunStatusName(s)) return s;
  }
  throw Error("status '" + name + "': expected running, completed, failed, stopped or incomplete");
}

nlohmann::json EnergyReportToJson(const EnergyReport& r) {
  nlohmann::json components = nlohmann::json::array();
  for (const ComponentReport& c : r.components) {
    components.push_back({{"component", ComponentName(c.component)},
                          {"energy_j", c.energy_j},
                          {"machine_energy_j", c.machine_j},
                          {"method", c.method},
                          {"split_by_process", c.attributed}});
  }
  return {{"duration_s", r.duration_s},
          {"start_unix_s", r.start_unix_s},
          {"end_unix_s", r.end_unix_s},
          {"attribution", r.attribution == Attribution::kMachine ? "machine" : "process"},
          {"process_share_rule", ProcessShareName(r.share)},
          {"components", components},
          {"energy_j", r.energy_j},
          {"energy_kwh", r.kwh()},
          {"machine_energy_j", r.machine_energy_j},
          {"method", r.method},
          {"estimated", r.estimated},
          {"cpu_share", r.cpu_share},
          {"process_cpu_s", r.process_cpu_s},
          {"machine_load", r.machine_load},
          {"samples", r.samples},
          {"intensity_g_per_kwh", r.intensity_g_per_kwh},
          {"intensity_source", r.intensity_source},
          {"pue", r.pue},
          {"wue", r.wue},
          {"co2_g", r.co2_g()},
          {"operational_g", r.operational_g},
          {"embodied_g", r.embodied_g},
          {"country_name", r.country_name},
          {"country_iso", r.country_iso},
          {"region", r.region},
          {"cloud_provider", r.cloud_provider},
          {"cloud_region", r.cloud_region}};
}

EnergyReport EnergyReportFromJson(const nlohmann::json& j) {
  EnergyReport r;
  if (!j.is_object()) return r;
  Read(j, "duration_s", &r.duration_s);
  Read(j, "start_unix_s", &r.start_unix_s);
  Read(j, "end_unix_s", &r.end_unix_s);
  std::string attribution = "process";
  Read(j, "attribution", &attribution);
  r.attribution = attribution == "machine" ? Attribution::kMachine : Attribution::kProcessTree;
  // Runs recorded before the choice existed were shared by busy time.
  std::string share = "busy-time";
  Read(j, "process_share_rule", &share);
  r.share = share == "marginal" ? ProcessShare::kMarginal : ProcessShare::kBusyTime;
  if (auto it = j.find("components"); it != j.end() && it->is_array()) {
    for (const nlohmann::json& c : *it) {
      ComponentReport component;
      std::string name = "other";
      Read(c, "component", &name);
      component.component = ParseComponent(name);
      Read(c, "energy_j", &component.energy_j);
      Read(c, "machine_energy_j", &component.machine_j);
      Read(c, "method", &component.method);
      Read(c, "split_by_process", &component.attributed);
      r.components.push_back(component);
    }
  }
  Read(j, "energy_j", &r.energy_j);
  Read(j, "machine_energy_j", &r.machine_energy_j);
  Read(j, "method", &r.method);
  Read(j, "estimated", &r.estimated);
  Read(j, "cpu_share", &r.cpu_share);
  Read(j, "process_cpu_s", &r.process_cpu_s);
  Read(j, "machine_load", &r.machine_load);
  Read(j, "samples", &r.samples);
  Read(j, "intensity_g_per_kwh", &r.intensity_g_per_kwh);
  Read(j, "intensity_source", &r.intensity_source);
  Read(j, "pue", &r.pue);
  Read(j, "wue", &r.wue);
  Read(j, "operational_g", &r.operational_g);
  Read(j, "embodied_g", &r.embodied_g);
  Read(j, "country_name", &r.country_name);
  Read(j, "country_iso", &r.country_iso);
  Read(j, "region", &r.region);
  Read(j, "cloud_provider", &r.cloud_provider);
  Read(j, "cloud_region", &r.cloud_region);
  return r;
}

nlohmann::json RunRecordToJson(const RunRecord& record) {
  nlohmann::json epochs = nlohmann::json::array();
  for (const EpochRow& e : record.epochs) epochs.push_back(ledger_internal::EpochRowToJson(e));
  return {{"id", record.id},
          {"kind", record.kind},
          {"name", record.name},
          {"parent_id", record.parent_id},
          {"status", RunStatusName(record.status)},
          {"message", record.message},
          {"start_unix_s", record.start_unix_s},
          {"end_unix_s", record.end_unix_s},
          {"config", record.config},
          {"host", ledger_internal::HostRecordToJson(record.host)},
          {"energy", EnergyReportToJson(record.energy)},
          {"metrics", record.metrics},
          {"epochs", epochs},
          {"tags", record.tags},
          {"joule_version", record.joule_version},
          {"git_commit", record.git_commit},
          {"pid", record.pid}};
}

namespace ledger_internal {

nlohmann::json HostRecordToJson(const HostRecord& host) {
  return {{"hostname", host.hostname},
          {"os", host.os},
          {"cpu_model", host.cpu_model},
          {"cpu_count", host.cpu_count},
          {"ram_total_bytes", host.ram_total_bytes},
          {"ram_used_bytes", host.ram_used_bytes},
          {"ram_used_no_cache_bytes", host.ram_used_no_cache_bytes},
          {"gpu_model", host.gpu_model},
          {"gpu_count", host.gpu_count}};
}

HostRecord HostRecordFromJson(const nlohmann::json& j) {
  HostRecord host;
  if (!j.is_object()) return host;
  Read(j, "hostname", &host.hostname);
  Read(j, "os", &host.os);
  Read(j, "cpu_model", &host.cpu_model);
  Read(j, "cpu_count", &host.cpu_count);
  Read(j, "ram_total_bytes", &host.ram_total_bytes);
  Read(j, "ram_used_bytes", &host.ram_used_bytes);
  Read(j, "ram_used_no_cache_bytes", &host.ram_used_no_cache_bytes);
  Read(j, "gpu_model", &host.gpu_model);
  Read(j, "gpu_count", &host.gpu_count);
  return host;
}

nlohmann::json EpochRowToJson(const EpochRow& e) {
  return {{"epoch", e.epoch},
          {"seconds", e.seconds},
          {"energy_j", e.energy_j},
          {"co2_g", e.co2_g},
          {"metrics", e.metrics}};
}

std::string ThisHostName() {
  char host[256] = {};
  return gethostname(host, sizeof host - 1) == 0 ? std::string(host) : std::string();
}

}  // namespace ledger_internal
}  // namespace joule
