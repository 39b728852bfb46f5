// NVIDIA GPU energy through NVML, loaded at run time with dlopen so that joule
// builds and runs on machines without the driver. The library path is an
// argument so tests load a stub built from tests/meter/ through the same code.
#include <dlfcn.h>

#include <cstdio>
#include <string>
#include <vector>

#include "joule/meter.hpp"
#include "joule/util.hpp"
#include "loaded_library_source.hpp"

namespace joule {
namespace {

// The NVML C API, declared from its documented signatures (nvml.h is not
// needed at build time). nvmlReturn_t is an int-sized enum; 0 is success.
using NvmlReturn = int;
using NvmlDevice = struct NvmlDeviceOpaque*;
constexpr NvmlReturn kNvmlSuccess = 0;
constexpr unsigned kNvmlNameLength = 96;

struct NvmlApi {
  NvmlReturn (*init)() = nullptr;
  NvmlReturn (*shutdown)() = nullptr;
  NvmlReturn (*device_count)(unsigned*) = nullptr;
  NvmlReturn (*device_by_index)(unsigned, NvmlDevice*) = nullptr;
  NvmlReturn (*device_name)(NvmlDevice, char*, unsigned) = nullptr;
  // mJ since the driver was loaded (Volta and newer); may be absent.
  NvmlReturn (*total_energy)(NvmlDevice, unsigned long long*) = nullptr;
  // mW, the board's current draw.
  NvmlReturn (*power_usage)(NvmlDevice, unsigned*) = nullptr;
  const char* (*error_string)(NvmlReturn) = nullptr;
};

struct Device {
  NvmlDevice handle;
  bool energy_counter;
  std::uint64_t last_mj = 0;
  std::uint64_t total_uj = 0;
};

class NvmlSource final : public loaded_library::LoadedLibrarySource {
 public:
  NvmlSource(void* library, NvmlApi api, std::vector<Device> devices, std::vector<Channel> channels,
             std::string detail)
      : LoadedLibrarySource(library, api.shutdown, "nvml", "measured:nvml", std::move(channels),
                            std::move(detail)),
        api_(api),
        devices_(std::move(devices)) {}

  void Read(double /*monotonic_s*/, std::span<ChannelSample> out) override {
    JOULE_ASSERT(out.size() == devices_.size());
    for (std::size_t i = 0; i < devices_.size(); ++i) {
      Device& d = devices_[i];
      out[i].ok = false;
      if (d.energy_counter) {
        unsigned long long mj = 0;
        if (api_.total_energy(d.handle, &mj) == kNvmlSuccess) {
          d.total_uj += loaded_library::CounterDelta(mj, &d.last_mj) * 1000;
          out[i].ok = true;
        }
        out[i].energy_uj = d.total_uj;
      } else {
        unsigned mw = 0;
        if (api_.power_usage(d.handle, &mw) != kNvmlSuccess) continue;
        out[i].power_w = mw / 1000.0;
        out[i].ok = true;
      }
    }
  }

 private:
  NvmlApi api_;
  std::vector<Device> devices_;
};

void SetProbe(SourceProbe* probe, bool available, std::string reason) {
  if (probe == nullptr) return;
  probe->kind = "nvml";
  probe->available = available;
  probe->reason = std::move(reason);
}

std::string ErrorText(const NvmlApi& api, NvmlReturn rc) {
  const char* text = api.error_string != nullptr ? api.error_string(rc) : nullptr;
  return text != nullptr ? std::string(text) + " (" + std::to_string(rc) + ")"
                         : "NVML error " + std::to_string(rc);
}

}  // namespace

std::unique_ptr<PowerSource> OpenNvmlSource(const std::string& library, SourceProbe* probe) {
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    SetProbe(probe, false,
             "cannot load " + library + " (" + (why != nullptr ? why : "unknown") +
                 "): no NVIDIA driver on this machine");
    return nullptr;
  }
  NvmlApi api;
  using loaded_library::Bind;
  Bind(handle, "nvmlInit_v2", &api.init, "nvmlInit");
  Bind(handle, "nvmlShutdown", &api.shutdown);
  Bind(handle, "nvmlDeviceGetCount_v2", &api.device_count, "nvmlDeviceGetCount");
  Bind(handle, "nvmlDeviceGetHandleByIndex_v2", &api.device_by_index, "nvmlDeviceGetHandleByIndex");
  Bind(handle, "nvmlDeviceGetName", &api.device_name);
  Bind(handle, "nvmlDeviceGetTotalEnergyConsumption", &api.total_energy);
  Bind(handle, "nvmlDeviceGetPowerUsage", &api.power_usage);
  Bind(handle, "nvmlErrorString", &api.error_string);
  if (api.init == nullptr || api.device_count == nullptr || api.device_by_index == nullptr ||
      (api.total_energy == nullptr && api.power_usage == nullptr)) {
    SetProbe(probe, false,
             library + " lacks nvmlInit, nvmlDeviceGetCount or both energy and power functions");
    dlclose(handle);
    return nullptr;
  }
  if (NvmlReturn rc = api.init(); rc != kNvmlSuccess) {
    SetProbe(probe, false, "nvmlInit failed: " + ErrorText(api, rc));
    dlclose(handle);
    return nullptr;
  }
  auto fail = [&](std::string reason) -> std::unique_ptr<PowerSource> {
    SetProbe(probe, false, std::move(reason));
    if (api.shutdown != nullptr) api.shutdown();
    dlclose(handle);
    return nullptr;
  };
  unsigned count = 0;
  if (NvmlReturn rc = api.device_count(&count); rc != kNvmlSuccess) {
    return fail("nvmlDeviceGetCount failed: " + ErrorText(api, rc));
  }
  if (count == 0) return fail("NVML loaded but reports no GPU");

  std::vector<Device> devices;
  std::vector<Channel> channels;
  std::string detail = "NVML (" + library + "), per device, never split by process:";
  std::vector<std::string> problems;
  for (unsigned i = 0; i < count; ++i) {
    NvmlDevice dev = nullptr;
    if (NvmlReturn rc = api.device_by_index(i, &dev); rc != kNvmlSuccess) {
      problems.push_back("gpu" + std::to_string(i) + ": " + ErrorText(api, rc));
      continue;
    }
    char name[kNvmlNameLength] = "NVIDIA GPU";
    if (api.device_name != nullptr && api.device_name(dev, name, sizeof name) != kNvmlSuccess) {
      std::snprintf(name, sizeof name, "NVIDIA GPU");
    }
    name[sizeof name - 1] = '\0';
    Device d{dev, false};
    unsigned long long mj = 0;
    unsigned mw = 0;
    if (api.total_energy != nullptr && api.total_energy(dev, &mj) == kNvmlSuccess) {
      d.energy_counter = true;
      d.last_mj = mj;
    } else if (api.power_usage == nullptr || api.power_usage(dev, &mw) != kNvmlSuccess) {
      problems.push_back("gpu" + std::to_string(i) + " (" + name +
                         "): neither energy nor power readable");
      continue;
    }
    Channel ch;
    ch.name = "gpu" + std::to_string(i);
    ch.component = Component::kGpu;
    ch.kind = d.energy_counter ? ReadingKind::kEnergyCounter : ReadingKind::kInstantPower;
    ch.detail =
        std::string(name) + (d.energy_counter ? ", total-energy counter"
                                              : ", power samples integrated (no energy counter)");
    detail += " " + ch.name + " " + ch.detail + ";";
    channels.push_back(std::move(ch));
    devices.push_back(d);
  }
  if (devices.empty()) {
    std::string reason = "NVML found " + std::to_string(count) + " GPU(s) but none readable:";
    for (const std::string& p : problems) reason += " " + p + ";";
    return fail(reason);
  }
  for (const std::string& p : problems) detail += " skipped " + p + ";";
  if (!detail.empty() && detail.back() == ';') detail.pop_back();
  SetProbe(probe, true, detail);
  return std::make_unique<NvmlSource>(handle, api, std::move(devices), std::move(channels), detail);
}

}  // namespace joule
