// RAPL energy counters through the powercap sysfs class.
//
// /sys/class/powercap lists every zone and subzone flat, as symlinks named
// "intel-rapl:N" (a top zone: package-N or psys) and "intel-rapl:N:M" (its
// subzones: core, uncore, dram), plus "intel-rapl-mmio:N[:M]" for the MMIO
// interface some Intel parts add. AMD's RAPL registers are exposed under the
// same "intel-rapl" names. The directory is a constructor argument so tests
// lay out a fake tree in a temporary directory.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "joule/meter.hpp"
#include "joule/util.hpp"
#include "meter/small_file.hpp"

namespace joule {
namespace {

// A package draws at most a few hundred watts; 1 kW per zone bounds any RAPL
// zone with margin, and fixes how often a counter must be read so that it
// cannot wrap twice between reads.
constexpr double kMaxZoneWatts = 1000.0;

struct Zone {
  std::string id;  // "intel-rapl:0:1"
  std::string dir;
  std::string name;         // contents of the name file: "package-0", "core", "dram", "psys"
  std::string parent_name;  // name of the parent zone for subzones, else empty
  bool mmio = false;
  int depth = 0;  // 1 = top zone, 2 = subzone
  std::uint64_t max_range_uj = 0;
};

// "intel-rapl:0:2" -> prefix "intel-rapl", depth 2. False for other entries.
bool ParseZoneId(const std::string& id, std::string* prefix, int* depth) {
  std::size_t colon = id.find(':');
  if (colon == std::string::npos) return false;
  *prefix = id.substr(0, colon);
  if (*prefix != "intel-rapl" && *prefix != "intel-rapl-mmio") return false;
  int parts = 0;
  for (std::size_t i = colon; i < id.size();) {
    if (id[i] != ':' || i + 1 >= id.size()) return false;
    std::size_t j = i + 1;
    while (j < id.size() && id[j] >= '0' && id[j] <= '9') ++j;
    if (j == i + 1) return false;
    ++parts;
    i = j;
  }
  *depth = parts;
  return parts >= 1;
}

std::string PermissionMessage(const std::string& file, const std::string& powercap_dir) {
  return "cannot read " + file +
         ": permission denied (since the 2020 PLATYPUS fix, CVE-2020-8694, Linux makes RAPL "
         "energy counters readable by root only); fix: sudo chmod a+r " +
         powercap_dir +
         "/intel-rapl*/energy_uj (until reboot; to keep it, a udev rule: "
         "SUBSYSTEM==\"powercap\", ACTION==\"add\", RUN+=\"/bin/chmod a+r /sys%p/energy_uj\")";
}

class RaplSource final : public PowerSource {
 public:
  struct Counter {
    meter::ProcFile energy_file;
    std::uint64_t max_range_uj;
    std::uint64_t last_raw;
    std::uint64_t total_uj = 0;
  };

  RaplSource(std::vector<Channel> channels, std::vector<Counter> counters, std::string detail)
      : channels_(std::move(channels)), counters_(std::move(counters)), detail_(std::move(detail)) {
    for (std::size_t i = 0; i < channels_.size(); ++i) {
      if (!channels_[i].counted) continue;
      double seconds = static_cast<double>(counters_[i].max_range_uj) / 1e6 / kMaxZoneWatts;
      max_interval_s_ = std::min(max_interval_s_, seconds);
    }
  }

  std::string_view kind() const override { return "rapl"; }
  std::string_view method() const override { return "measured:rapl"; }
  std::string detail() const override { return detail_; }
  const std::vector<Channel>& channels() const override { return channels_; }
  double max_read_interval_s() const override { return max_interval_s_; }

  void Read(double /*monotonic_s*/, std::span<ChannelSample> out) override {
    JOULE_ASSERT(out.size() == counters_.size());
    char buffer[64];
    for (std::size_t i = 0; i < counters_.size(); ++i) {
      Counter& c = counters_[i];
      std::uint64_t raw = 0;
      long n = c.energy_file.Read(buffer, sizeof buffer);
      if (n <= 0 || !meter::ParseU64(std::string_view(buffer, static_cast<std::size_t>(n)), &raw) ||
          raw > c.max_range_uj) {
        out[i].ok = false;
        out[i].energy_uj = c.total_uj;
        continue;
      }
      // energy_uj counts 0..max_energy_range_uj and then restarts at 0, so a
      // smaller value than last time means exactly one wrap (reads are at most
      // max_read_interval_s apart, too close for two).
      std::uint64_t delta =
          raw >= c.last_raw ? raw - c.last_raw : (c.max_range_uj - c.last_raw) + raw + 1;
      c.total_uj += delta;
      c.last_raw = raw;
      out[i].ok = true;
      out[i].energy_uj = c.total_uj;
      out[i].power_w = 0;
    }
  }

 private:
  std::vector<Channel> channels_;
  std::vector<Counter> counters_;
  std::string detail_;
  double max_interval_s_ = std::numeric_limits<double>::infinity();
};

void SetProbe(SourceProbe* probe, bool available, std::string reason) {
  if (probe == nullptr) return;
  probe->kind = "rapl";
  probe->available = available;
  probe->reason = std::move(reason);
}

std::string Join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

}  // namespace

std::unique_ptr<PowerSource> OpenRaplSource(const std::string& powercap_dir, SourceProbe* probe) {
  std::vector<std::string> entries = meter::ListDirectory(powercap_dir);
  if (entries.empty()) {
    SetProbe(probe, false,
             powercap_dir +
                 " does not exist or is empty (no powercap driver: not Linux, "
                 "a VM or container without RAPL, or intel_rapl_msr not loaded)");
    return nullptr;
  }
  // Pass 1: every zone with its name.
  std::map<std::string, Zone> zones;  // by id
  for (const std::string& id : entries) {
    Zone z;
    std::string prefix;
    if (!ParseZoneId(id, &prefix, &z.depth)) continue;
    z.id = id;
    z.dir = powercap_dir + "/" + id;
    z.mmio = prefix == "intel-rapl-mmio";
    int err = 0;
    if (!meter::ReadTrimmed(z.dir + "/name", &z.name, &err)) continue;
    zones.emplace(id, std::move(z));
  }
  if (zones.empty()) {
    SetProbe(probe, false,
             powercap_dir + " has no intel-rapl zone (the CPU or hypervisor does not expose RAPL)");
    return nullptr;
  }
  // Names of the MSR interface's zones: an MMIO zone with the same name is the
  // same hardware counter read another way.
  std::map<std::string, bool> msr_top_names;
  for (auto& [id, z] : zones) {
    if (z.depth >= 2) {
      auto parent = zones.find(id.substr(0, id.rfind(':')));
      if (parent != zones.end()) z.parent_name = parent->second.name;
    }
    if (!z.mmio && z.depth == 1) msr_top_names[z.name] = true;
  }
  bool has_package = false;
  for (const auto& [id, z] : zones) {
    if (z.depth == 1 && z.name.rfind("package", 0) == 0) has_package = true;
  }

  std::vector<Channel> channels;
  std::vector<RaplSource::Counter> counters;
  std::vector<std::string> counted_names, reported_names, skipped;
  for (const auto& [id, z] : zones) {
    if (z.mmio && z.depth == 1 && msr_top_names.count(z.name) != 0) {
      skipped.push_back(id + " (" + z.name + " duplicates the intel-rapl zone)");
      continue;
    }
    if (z.mmio && z.depth >= 2) {
      auto parent = zones.find(id.substr(0, id.rfind(':')));
      if (parent != zones.end() && msr_top_names.count(parent->second.name) != 0) continue;
    }
    Channel ch;
    ch.name = z.depth == 1 ? z.name : z.parent_name + "/" + z.name;
    ch.kind = ReadingKind::kEnergyCounter;
    ch.detail = z.dir;
    std::string why_not_counted;
    if (z.name == "dram") {
      ch.component = Component::kRam;
    } else if (z.depth == 1 && z.name.rfind("package", 0) == 0) {
      ch.component = Component::kCpu;
    } else if (z.name == "psys") {
      ch.component = Component::kSystem;
      if (has_package) why_not_counted = "contains package and dram";
    } else if (z.depth >= 2 && (z.name == "core" || z.name == "uncore")) {
      ch.component = Component::kCpu;
      why_not_counted = "inside " + z.parent_name;
    } else {
      ch.component = Component::kOther;
      why_not_counted = "scope unknown";
    }
    ch.counted = why_not_counted.empty();

    std::string energy_path = z.dir + "/energy_uj";
    std::string range_text, energy_text;
    int err = 0;
    std::uint64_t max_range = 0, raw = 0;
    bool ok =
        meter::ReadTrimmed(energy_path, &energy_text, &err) && meter::ParseU64(energy_text, &raw);
    if (!ok) {
      if (ch.counted) {
        std::string reason = err == EACCES ? PermissionMessage(energy_path, powercap_dir)
                                           : "cannot read " + energy_path + ": " +
                                                 (err != 0 ? std::strerror(err) : "not a number");
        SetProbe(probe, false, reason);
        return nullptr;
      }
      skipped.push_back(ch.name + " (unreadable)");
      continue;
    }
    std::string range_path = z.dir + "/max_energy_range_uj";
    if (!meter::ReadTrimmed(range_path, &range_text, &err) ||
        !meter::ParseU64(range_text, &max_range) || max_range == 0 || raw > max_range) {
      std::string reason =
          "cannot read a valid " + range_path + " (needed to undo counter wraparound exactly)";
      if (ch.counted) {
        SetProbe(probe, false, reason);
        return nullptr;
      }
      skipped.push_back(ch.name + " (no max_energy_range_uj)");
      continue;
    }
    (ch.counted ? counted_names : reported_names)
        .push_back(ch.counted ? ch.name : ch.name + " (" + why_not_counted + ")");
    if (!ch.counted) ch.detail += "; not added: " + why_not_counted;
    channels.push_back(std::move(ch));
    counters.push_back({meter::ProcFile(energy_path), max_range, raw, 0});
  }
  if (counted_names.empty()) {
    SetProbe(probe, false,
             powercap_dir + " has RAPL zones but none that can be added without overlap");
    return nullptr;
  }
  std::string detail = "RAPL via " + powercap_dir + ": counted " + Join(counted_names, ", ");
  if (!reported_names.empty()) detail += "; reported only: " + Join(reported_names, ", ");
  if (!skipped.empty()) detail += "; skipped: " + Join(skipped, ", ");
  SetProbe(probe, true, detail);
  return std::make_unique<RaplSource>(std::move(channels), std::move(counters), detail);
}

}  // namespace joule
