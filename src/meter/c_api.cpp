// The C API (include/joule/joule.h): a thin shell over joule::Meter that turns
// every exception into a return code and a per-thread message.
#include "joule/c_api.hpp"

#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>

#include "joule/carbon.hpp"
#include "joule/joule.h"
#include "joule/meter.hpp"
#include "joule/util.hpp"
#include "meter/data_dir.hpp"

struct joule_meter {
  // Declared first so that it is freed last: a run's recorder receives the
  // meter's final sample when the meter stops in its destructor.
  std::shared_ptr<void> attachment;
  std::unique_ptr<joule::Meter> meter;
  std::string sources;
  std::optional<joule::CarbonModel> carbon;
  joule::Attribution attribution = joule::Attribution::kProcessTree;
  double interval_s = 1;
};

namespace {

thread_local std::string t_last_error;

int Fail(const char* what) {
  t_last_error = what;
  return -1;
}

// A C string option: NULL and "" both mean "not given".
std::string Text(const char* s) { return s != nullptr ? s : ""; }

void CopyMethod(const std::string& method, char (&out)[32]) {
  std::strncpy(out, method.c_str(), sizeof out - 1);
  out[sizeof out - 1] = '\0';
}

void Fill(const joule::MeterReading& r, joule_reading* out) {
  if (out == nullptr) return;
  using joule::Component;
  std::memset(out, 0, sizeof *out);
  out->duration_s = r.duration_s;
  out->energy_j = r.energy_j;
  out->cpu_j = r.ComponentJ(Component::kCpu);
  out->gpu_j = r.ComponentJ(Component::kGpu);
  out->ram_j = r.ComponentJ(Component::kRam);
  out->system_j = r.ComponentJ(Component::kSystem);
  out->emissions_g = r.operational_g + r.embodied_g;
  out->process_share = r.cpu_share;
  out->estimated = r.estimated ? 1 : 0;
  CopyMethod(r.ComponentMethod(Component::kCpu), out->cpu_method);
  CopyMethod(r.ComponentMethod(Component::kGpu), out->gpu_method);
  CopyMethod(r.ComponentMethod(Component::kRam), out->ram_method);
}

using joule::capi::Guard;

}  // namespace

namespace joule::capi {

void SetLastError(const std::string& message) { t_last_error = message; }

MeterSetup SetupOf(joule_meter* handle) {
  return {handle->meter.get(), handle->carbon ? &*handle->carbon : nullptr, handle->attribution,
          handle->interval_s};
}

std::shared_ptr<void>& AttachmentOf(joule_meter* handle) { return handle->attachment; }

}  // namespace joule::capi

extern "C" {

void joule_options_init(joule_options* options) {
  if (options == nullptr) return;
  options->interval_s = 1.0;
  options->whole_machine = 0;
  options->country_iso3 = nullptr;
  options->intensity_g_per_kwh = -1;
  options->pue = 1.0;
  options->cpu_tdp_w = 0;
  options->declared_power_w = 0;
  options->ram_power_w = -1;
  options->wue = 0;
  options->cloud_provider = nullptr;
  options->cloud_region = nullptr;
  options->grid_region = nullptr;
  options->power_model = nullptr;
}

joule_meter* joule_meter_create(const joule_options* options) {
  joule_options defaults;
  joule_options_init(&defaults);
  const joule_options& o = options != nullptr ? *options : defaults;
  auto handle = std::make_unique<joule_meter>();
  int rc = Guard([&] {
    joule::SensorOptions sensors;
    if (o.cpu_tdp_w > 0) sensors.cpu_tdp_w = o.cpu_tdp_w;
    if (o.declared_power_w > 0) sensors.declared_power_w = o.declared_power_w;
    if (o.ram_power_w >= 0) sensors.ram_power_w = o.ram_power_w;
    if (!Text(o.power_model).empty()) sensors.power_model = joule::ParsePowerModel(o.power_model);
    joule::SensorSet set = joule::DiscoverSensors(sensors);
    for (const auto& source : set.sources) {
      handle->sources += std::string(source->method()) + ": " + source->detail() + "\n";
    }
    joule::CarbonOptions carbon;
    if (o.country_iso3 != nullptr) carbon.country_iso3 = o.country_iso3;
    if (o.intensity_g_per_kwh >= 0) carbon.intensity_g_per_kwh = o.intensity_g_per_kwh;
    carbon.pue = o.pue;
    carbon.wue = o.wue;
    carbon.cloud_provider = Text(o.cloud_provider);
    carbon.cloud_region = Text(o.cloud_region);
    carbon.grid_region = Text(o.grid_region);
    joule::MeterOptions meter;
    meter.attribution =
        o.whole_machine != 0 ? joule::Attribution::kMachine : joule::Attribution::kProcessTree;
    meter.interval_s = o.interval_s;
    meter.carbon = joule::CarbonModel::Resolve(carbon, joule::meter::BundledDataDir());
    handle->carbon = meter.carbon;
    handle->attribution = meter.attribution;
    handle->meter = std::make_unique<joule::Meter>(std::move(set.sources), meter);
    handle->interval_s = handle->meter->interval_s();
  });
  return rc == 0 ? handle.release() : nullptr;
}

int joule_meter_start(joule_meter* meter) {
  if (meter == nullptr) return Fail("joule_meter_start: meter is NULL");
  return Guard([&] { meter->meter->Start(); });
}

int joule_meter_read(joule_meter* meter, joule_reading* out) {
  if (meter == nullptr) return Fail("joule_meter_read: meter is NULL");
  return Guard([&] { Fill(meter->meter->Read(), out); });
}

int joule_task_begin(joule_meter* meter, const char* name) {
  if (meter == nullptr || name == nullptr) return Fail("joule_task_begin: meter or name is NULL");
  return Guard([&] { meter->meter->BeginTask(name); });
}

int joule_task_end(joule_meter* meter, const char* name, joule_reading* out) {
  if (meter == nullptr || name == nullptr) return Fail("joule_task_end: meter or name is NULL");
  return Guard([&] { Fill(meter->meter->EndTask(name).reading, out); });
}

int joule_meter_stop(joule_meter* meter, joule_reading* out) {
  if (meter == nullptr) return Fail("joule_meter_stop: meter is NULL");
  return Guard([&] { Fill(meter->meter->Stop(), out); });
}

void joule_meter_destroy(joule_meter* meter) { delete meter; }

const char* joule_last_error(void) { return t_last_error.c_str(); }

const char* joule_meter_sources(const joule_meter* meter) {
  return meter != nullptr ? meter->sources.c_str() : "";
}

}  // extern "C"
