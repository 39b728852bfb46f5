// AMD GPU energy through AMD SMI (libamd_smi.so, ROCm 6 and later), loaded at
// run time with dlopen so that joule builds and runs without ROCm. The library
// path is an argument so tests load a stub built from tests/meter/ through the
// same code.
//
// Two readings, in order of preference:
//  - amdsmi_get_energy_count: an accumulator whose unit is `counter_resolution`
//    microjoules (15.3 uJ on MI200/MI300). Its signature has been the same
//    since ROCm 6.0, so it is the reading we trust first.
//  - amdsmi_get_power_info: socket power in W, integrated by the meter. The
//    struct it fills changed layout across releases (see PowerLayout), so we
//    read it into a buffer larger than any version's struct and interpret it by
//    the library's reported version; a version we do not know gets no power
//    reading rather than a misread one.
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "joule/meter.hpp"
#include "joule/util.hpp"
#include "loaded_library_source.hpp"

namespace joule {
namespace {

// The AMD SMI C API, declared from its documented signatures (amdsmi.h is not
// needed at build time). amdsmi_status_t is an int-sized enum; 0 is success.
using AmdStatus = int;
using AmdHandle = void*;  // amdsmi_socket_handle and amdsmi_processor_handle
constexpr AmdStatus kAmdSuccess = 0;
constexpr std::uint64_t kAmdInitGpus = 1u << 1;  // AMDSMI_INIT_AMD_GPUS
constexpr std::uint32_t kAmdUnsupported32 = 0xFFFFFFFFu;
// Every struct we pass is read into one of these, zeroed first: larger than
// the biggest layout of amdsmi_power_info_t (8+4+4+3x8+4+18x8 = 192 bytes with
// padding), amdsmi_asic_info_t (~420) and amdsmi_version_t (24), so no release
// can write past it.
using StructBuffer = std::array<std::uint64_t, 128>;  // 1 KiB

struct AmdApi {
  AmdStatus (*init)(std::uint64_t) = nullptr;
  AmdStatus (*shut_down)() = nullptr;
  AmdStatus (*lib_version)(void*) = nullptr;
  AmdStatus (*socket_handles)(std::uint32_t*, AmdHandle*) = nullptr;
  AmdStatus (*processor_handles)(AmdHandle, std::uint32_t*, AmdHandle*) = nullptr;
  AmdStatus (*asic_info)(AmdHandle, void*) = nullptr;
  AmdStatus (*energy_count)(AmdHandle, std::uint64_t*, float*, std::uint64_t*) = nullptr;
  AmdStatus (*power_info)(AmdHandle, void*) = nullptr;
  AmdStatus (*status_string)(AmdStatus, const char**) = nullptr;
};

// How amdsmi_power_info_t is laid out in the release that filled it.
enum class PowerLayout {
  kNone,        // unknown release: no power reading
  kCurrentAvg,  // AMD SMI 24.x (ROCm 6.1-6.3): u32 current_socket_power, u32 average_socket_power
  kSocket64,    // AMD SMI 25.x and later (ROCm 6.4+): u64 socket_power first
};

// Socket power in W from a filled buffer, or a negative value when the
// release marks it unsupported.
double SocketPowerW(PowerLayout layout, const StructBuffer& buffer) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(buffer.data());
  if (layout == PowerLayout::kSocket64) {
    std::uint64_t w;
    std::memcpy(&w, bytes, sizeof w);
    return w == ~std::uint64_t{0} || w == kAmdUnsupported32 ? -1.0 : static_cast<double>(w);
  }
  if (layout == PowerLayout::kCurrentAvg) {
    std::uint32_t current, average;
    std::memcpy(&current, bytes, sizeof current);
    std::memcpy(&average, bytes + 4, sizeof average);
    // MI300 fills current and leaves average unsupported; older cards the reverse.
    if (current != 0 && current != kAmdUnsupported32) return current;
    return average == kAmdUnsupported32 ? -1.0 : static_cast<double>(average);
  }
  return -1.0;
}

struct Device {
  AmdHandle handle;
  bool energy_counter;
  std::uint64_t last_count = 0;
  double resolution_uj = 0;
  double total_uj = 0;
};

class AmdSmiSource final : public loaded_library::LoadedLibrarySource {
 public:
  AmdSmiSource(void* library, AmdApi api, PowerLayout layout, std::vector<Device> devices,
               std::vector<Channel> channels, std::string detail)
      : LoadedLibrarySource(library, api.shut_down, "amdsmi", "measured:amdsmi",
                            std::move(channels), std::move(detail)),
        api_(api),
        layout_(layout),
        devices_(std::move(devices)) {}

  void Read(double /*monotonic_s*/, std::span<ChannelSample> out) override {
    JOULE_ASSERT(out.size() == devices_.size());
    for (std::size_t i = 0; i < devices_.size(); ++i) {
      Device& d = devices_[i];
      out[i].ok = false;
      if (d.energy_counter) {
        std::uint64_t count = 0, timestamp = 0;
        float resolution = 0;
        if (api_.energy_count(d.handle, &count, &resolution, &timestamp) == kAmdSuccess) {
          // Fractions of a microjoule are kept here, not lost on every read.
          d.total_uj += static_cast<double>(loaded_library::CounterDelta(count, &d.last_count)) *
                        d.resolution_uj;
          out[i].ok = true;
        }
        out[i].energy_uj = static_cast<std::uint64_t>(d.total_uj);
      } else {
        StructBuffer buffer{};
        if (api_.power_info(d.handle, buffer.data()) != kAmdSuccess) continue;
        double w = SocketPowerW(layout_, buffer);
        if (w < 0) continue;
        out[i].power_w = w;
        out[i].ok = true;
      }
    }
  }

 private:
  AmdApi api_;
  PowerLayout layout_;
  std::vector<Device> devices_;
};

void SetProbe(SourceProbe* probe, bool available, std::string reason) {
  if (probe == nullptr) return;
  probe->kind = "amdsmi";
  probe->available = available;
  probe->reason = std::move(reason);
}

std::string ErrorText(const AmdApi& api, AmdStatus rc) {
  const char* text = nullptr;
  if (api.status_string != nullptr) api.status_string(rc, &text);
  return text != nullptr ? std::string(text) + " (" + std::to_string(rc) + ")"
                         : "AMD SMI status " + std::to_string(rc);
}

// amdsmi_version_t starts with the two-digit year of the release (24, 25, ...)
// in every version that has amdsmi_get_lib_version.
PowerLayout LayoutOf(const AmdApi& api, std::string* version) {
  if (api.lib_version == nullptr) {
    *version = "unknown (no amdsmi_get_lib_version)";
    return PowerLayout::kNone;
  }
  StructBuffer buffer{};
  if (api.lib_version(buffer.data()) != kAmdSuccess) {
    *version = "unknown (amdsmi_get_lib_version failed)";
    return PowerLayout::kNone;
  }
  std::uint32_t parts[3];
  std::memcpy(parts, buffer.data(), sizeof parts);
  *version =
      std::to_string(parts[0]) + "." + std::to_string(parts[1]) + "." + std::to_string(parts[2]);
  if (parts[0] == 24) return PowerLayout::kCurrentAvg;
  if (parts[0] >= 25 && parts[0] < 100) return PowerLayout::kSocket64;
  return PowerLayout::kNone;
}

std::vector<AmdHandle> GpuHandles(const AmdApi& api, std::vector<std::string>* problems) {
  std::uint32_t sockets = 0;
  if (AmdStatus rc = api.socket_handles(&sockets, nullptr); rc != kAmdSuccess) {
    problems->push_back("amdsmi_get_socket_handles: " + ErrorText(api, rc));
    return {};
  }
  std::vector<AmdHandle> socket_handles(sockets);
  if (sockets > 0) {
    if (AmdStatus rc = api.socket_handles(&sockets, socket_handles.data()); rc != kAmdSuccess) {
      problems->push_back("amdsmi_get_socket_handles: " + ErrorText(api, rc));
      return {};
    }
    socket_handles.resize(sockets);
  }
  std::vector<AmdHandle> gpus;
  for (AmdHandle socket : socket_handles) {
    std::uint32_t n = 0;
    if (AmdStatus rc = api.processor_handles(socket, &n, nullptr); rc != kAmdSuccess) {
      problems->push_back("amdsmi_get_processor_handles: " + ErrorText(api, rc));
      continue;
    }
    std::vector<AmdHandle> here(n);
    if (n > 0 && api.processor_handles(socket, &n, here.data()) == kAmdSuccess) {
      here.resize(n);
      gpus.insert(gpus.end(), here.begin(), here.end());
    }
  }
  return gpus;
}

std::string MarketName(const AmdApi& api, AmdHandle gpu, std::size_t index) {
  std::string fallback = "AMD GPU " + std::to_string(index);
  if (api.asic_info == nullptr) return fallback;
  StructBuffer buffer{};
  if (api.asic_info(gpu, buffer.data()) != kAmdSuccess) return fallback;
  // market_name is the struct's first member in every release: a C string of
  // at most 256 bytes.
  const char* text = reinterpret_cast<const char*>(buffer.data());
  std::string name(text, strnlen(text, 256));
  return name.empty() ? fallback : name;
}

}  // namespace

std::unique_ptr<PowerSource> OpenAmdSmiSource(const std::string& library, SourceProbe* probe) {
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    SetProbe(probe, false,
             "cannot load " + library + " (" + (why != nullptr ? why : "unknown") +
                 "): no AMD SMI (ROCm) on this machine");
    return nullptr;
  }
  AmdApi api;
  using loaded_library::Bind;
  Bind(handle, "amdsmi_init", &api.init);
  Bind(handle, "amdsmi_shut_down", &api.shut_down);
  Bind(handle, "amdsmi_get_lib_version", &api.lib_version);
  Bind(handle, "amdsmi_get_socket_handles", &api.socket_handles);
  Bind(handle, "amdsmi_get_processor_handles", &api.processor_handles);
  Bind(handle, "amdsmi_get_gpu_asic_info", &api.asic_info);
  Bind(handle, "amdsmi_get_energy_count", &api.energy_count);
  Bind(handle, "amdsmi_get_power_info", &api.power_info);
  Bind(handle, "amdsmi_status_code_to_string", &api.status_string);
  if (api.init == nullptr || api.socket_handles == nullptr || api.processor_handles == nullptr ||
      (api.energy_count == nullptr && api.power_info == nullptr)) {
    SetProbe(
        probe, false,
        library + " lacks amdsmi_init, the handle functions or both energy and power functions");
    dlclose(handle);
    return nullptr;
  }
  if (AmdStatus rc = api.init(kAmdInitGpus); rc != kAmdSuccess) {
    SetProbe(probe, false, "amdsmi_init failed: " + ErrorText(api, rc));
    dlclose(handle);
    return nullptr;
  }
  auto fail = [&](std::string reason) -> std::unique_ptr<PowerSource> {
    SetProbe(probe, false, std::move(reason));
    if (api.shut_down != nullptr) api.shut_down();
    dlclose(handle);
    return nullptr;
  };
  std::string version;
  PowerLayout layout = api.power_info != nullptr ? LayoutOf(api, &version) : PowerLayout::kNone;
  if (api.power_info == nullptr) version = "without amdsmi_get_power_info";
  std::vector<std::string> problems;
  std::vector<AmdHandle> gpus = GpuHandles(api, &problems);
  if (gpus.empty()) {
    std::string reason = "AMD SMI loaded but reports no GPU";
    for (const std::string& p : problems) reason += "; " + p;
    return fail(reason);
  }

  std::vector<Device> devices;
  std::vector<Channel> channels;
  std::string detail =
      "AMD SMI " + version + " (" + library + "), per device, never split by process:";
  for (std::size_t i = 0; i < gpus.size(); ++i) {
    std::string name = MarketName(api, gpus[i], i);
    Device d{gpus[i], false};
    std::uint64_t count = 0, timestamp = 0;
    float resolution = 0;
    if (api.energy_count != nullptr &&
        api.energy_count(gpus[i], &count, &resolution, &timestamp) == kAmdSuccess &&
        resolution > 0) {
      d.energy_counter = true;
      d.last_count = count;
      d.resolution_uj = resolution;
    } else {
      StructBuffer buffer{};
      bool power_readable = layout != PowerLayout::kNone &&
                            api.power_info(gpus[i], buffer.data()) == kAmdSuccess &&
                            SocketPowerW(layout, buffer) >= 0;
      if (!power_readable) {
        problems.push_back("gpu" + std::to_string(i) + " (" + name + "): no energy counter and " +
                           (layout == PowerLayout::kNone
                                ? "no power layout known for AMD SMI " + version
                                : std::string("socket power unsupported")));
        continue;
      }
    }
    Channel ch;
    ch.name = "gpu" + std::to_string(i);
    ch.component = Component::kGpu;
    ch.kind = d.energy_counter ? ReadingKind::kEnergyCounter : ReadingKind::kInstantPower;
    if (d.energy_counter) {
      char unit[48];
      std::snprintf(unit, sizeof unit, ", energy counter (%.4g uJ per count)", d.resolution_uj);
      ch.detail = name + unit;
    } else {
      ch.detail = name + ", socket power samples integrated (no energy counter)";
    }
    detail += " " + ch.name + " " + ch.detail + ";";
    channels.push_back(std::move(ch));
    devices.push_back(d);
  }
  if (devices.empty()) {
    std::string reason =
        "AMD SMI found " + std::to_string(gpus.size()) + " GPU(s) but none readable:";
    for (const std::string& p : problems) reason += " " + p + ";";
    return fail(reason);
  }
  for (const std::string& p : problems) detail += " skipped " + p + ";";
  if (detail.back() == ';') detail.pop_back();
  SetProbe(probe, true, detail);
  return std::make_unique<AmdSmiSource>(handle, api, layout, std::move(devices),
                                        std::move(channels), detail);
}

}  // namespace joule
