// hwmon power and energy inputs (/sys/class/hwmon/hwmonN/{power,energy}M_input).
//
// hwmon says what a sensor measures only through its driver name and an
// optional label, so joule counts an input only when its scope is known
// (amd_energy's per-socket counters). Everything else is listed with its
// driver and label and reported, never added: adding an input of unknown
// scope to RAPL or to another input risks counting the same watts twice.
#include <algorithm>
#include <string>
#include <vector>

#include "joule/meter.hpp"
#include "joule/util.hpp"
#include "meter/small_file.hpp"

namespace joule {
namespace {

struct Input {
  meter::ProcFile file;
  bool energy;  // energyN_input (uJ counter) vs powerN_input (uW)
  std::uint64_t last_raw = 0;
  std::uint64_t total_uj = 0;
};

class HwmonSource final : public PowerSource {
 public:
  HwmonSource(std::vector<Input> inputs, std::vector<Channel> channels, std::string detail)
      : inputs_(std::move(inputs)), channels_(std::move(channels)), detail_(std::move(detail)) {}

  std::string_view kind() const override { return "hwmon"; }
  std::string_view method() const override { return "measured:hwmon"; }
  std::string detail() const override { return detail_; }
  const std::vector<Channel>& channels() const override { return channels_; }

  void Read(double /*monotonic_s*/, std::span<ChannelSample> out) override {
    JOULE_ASSERT(out.size() == inputs_.size());
    char buffer[64];
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
      Input& in = inputs_[i];
      std::uint64_t raw = 0;
      long n = in.file.Read(buffer, sizeof buffer);
      out[i].ok =
          n > 0 && meter::ParseU64(std::string_view(buffer, static_cast<std::size_t>(n)), &raw);
      if (!out[i].ok) {
        out[i].energy_uj = in.total_uj;
        continue;
      }
      if (in.energy) {
        // hwmon energy inputs are 64-bit accumulators; a smaller value means
        // the driver restarted, and the new value is energy since then.
        in.total_uj += raw >= in.last_raw ? raw - in.last_raw : raw;
        in.last_raw = raw;
        out[i].energy_uj = in.total_uj;
      } else {
        out[i].power_w = static_cast<double>(raw) / 1e6;
      }
    }
  }

 private:
  std::vector<Input> inputs_;
  std::vector<Channel> channels_;
  std::string detail_;
};

void SetProbe(SourceProbe* probe, bool available, std::string reason) {
  if (probe == nullptr) return;
  probe->kind = "hwmon";
  probe->available = available;
  probe->reason = std::move(reason);
}

}  // namespace

std::unique_ptr<PowerSource> OpenHwmonSource(const std::string& hwmon_dir, SourceProbe* probe) {
  std::vector<std::string> devices = meter::ListDirectory(hwmon_dir);
  std::vector<Input> inputs;
  std::vector<Channel> channels;
  std::vector<std::string> counted, reported;
  for (const std::string& device : devices) {
    std::string dir = hwmon_dir + "/" + device;
    std::string driver;
    int err = 0;
    if (!meter::ReadTrimmed(dir + "/name", &driver, &err)) continue;
    for (const std::string& file : meter::ListDirectory(dir)) {
      bool energy = file.rfind("energy", 0) == 0;
      bool power = file.rfind("power", 0) == 0;
      const std::string suffix = "_input";
      if ((!energy && !power) || file.size() <= suffix.size() ||
          file.compare(file.size() - suffix.size(), suffix.size(), suffix) != 0) {
        continue;
      }
      std::string base = file.substr(0, file.size() - suffix.size());  // "energy1"
      std::string label;
      if (!meter::ReadTrimmed(dir + "/" + base + "_label", &label, &err)) label = base;
      Input in{meter::ProcFile(dir + "/" + file), energy};
      std::string text;
      if (!meter::ReadTrimmed(in.file.path(), &text, &err) ||
          !meter::ParseU64(text, &in.last_raw)) {
        reported.push_back(driver + "/" + label + " (unreadable)");
        continue;
      }
      Channel ch;
      ch.name = device + "/" + driver + "/" + label;
      ch.kind = energy ? ReadingKind::kEnergyCounter : ReadingKind::kInstantPower;
      ch.detail = in.file.path();
      bool socket = driver == "amd_energy" && energy && label.rfind("Esocket", 0) == 0;
      ch.component = socket ? Component::kCpu : Component::kOther;
      ch.counted = socket;
      if (!socket) ch.detail += "; not added: scope unknown to joule";
      (socket ? counted : reported).push_back(ch.name);
      channels.push_back(std::move(ch));
      inputs.push_back(std::move(in));
    }
  }
  if (channels.empty()) {
    SetProbe(probe, false,
             devices.empty() ? hwmon_dir + " does not exist or is empty"
                             : hwmon_dir + " has no readable power or energy input");
    return nullptr;
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
    return s.empty() ? std::string("none") : s;
  };
  std::string detail = "hwmon via " + hwmon_dir + ": counted " + join(counted) +
                       "; reported only (scope unknown): " + join(reported);
  SetProbe(probe, true, detail);
  return std::make_unique<HwmonSource>(std::move(inputs), std::move(channels), detail);
}

}  // namespace joule
