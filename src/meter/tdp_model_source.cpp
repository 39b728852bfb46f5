// The estimate for machines without power sensors (label estimated:tdp-model).
//
// CPU: machine power = TDP x (0.1 + 0.9 x load^3), the load curve CodeCarbon
// uses, so that joule's estimates can be set beside CodeCarbon's. The 0.1
// floor stands for idle power; the cube makes light loads cheap, as measured
// package power is. RAM: a constant per GB installed. Both are machine
// figures; the meter applies the process share.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "joule/meter.hpp"
#include "joule/util.hpp"
#include "meter/data_dir.hpp"
#include "meter/proc_attribution.hpp"
#include "meter/small_file.hpp"

namespace joule {
namespace {

constexpr double kBytesPerGib = 1024.0 * 1024.0 * 1024.0;

struct CpuInfo {
  std::string model_name;
  int threads = 0;
  int sockets = 0;  // distinct "physical id" values
  bool hypervisor = false;
};

CpuInfo ParseCpuInfo(const std::string& path) {
  std::string text = ReadFile(path);
  CpuInfo info;
  std::istringstream in(text);
  std::string line;
  std::vector<std::string> sockets;
  while (std::getline(in, line)) {
    std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    std::string value = line.substr(colon + 1);
    std::size_t start = value.find_first_not_of(' ');
    value = start == std::string::npos ? "" : value.substr(start);
    if (key == "processor") {
      ++info.threads;
    } else if (key == "model name" && info.model_name.empty()) {
      info.model_name = value;
    } else if (key == "physical id" &&
               std::find(sockets.begin(), sockets.end(), value) == sockets.end()) {
      sockets.push_back(value);
    } else if (key == "flags" && !info.hypervisor) {
      std::istringstream flags(value);
      std::string flag;
      while (flags >> flag) {
        if (flag == "hypervisor") info.hypervisor = true;
      }
    }
  }
  info.sockets = std::max<int>(1, static_cast<int>(sockets.size()));
  return info;
}

// MemTotal in bytes.
double ParseMemTotalBytes(const std::string& path) {
  std::string text = ReadFile(path);
  std::size_t pos = text.find("MemTotal:");
  std::uint64_t kib = 0;
  if (pos == std::string::npos || !meter::ParseU64(std::string_view(text).substr(pos + 9), &kib)) {
    throw Error(path + ": no 'MemTotal: N kB' line; expected a Linux /proc/meminfo");
  }
  return static_cast<double>(kib) * 1024.0;
}

// Lower-case tokens of a CPU name without vendor decoration, so that
// "Intel(R) Xeon(R) Platinum 8275CL CPU @ 3.00GHz" and the table's
// "Intel Xeon Platinum 8275CL" compare equal.
std::vector<std::string> NameTokens(const std::string& name) {
  std::string s;
  for (char c : name) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* mark : {"(r)", "(tm)", "(c)"}) {
    for (std::size_t p; (p = s.find(mark)) != std::string::npos;) s.erase(p, std::strlen(mark));
  }
  std::vector<std::string> tokens;
  std::istringstream in(s);
  std::string t;
  bool after_at = false;
  while (in >> t) {
    if (t == "@") after_at = true;  // "@ 3.00GHz": the clock, not the model
    if (after_at || t == "cpu" || t == "processor") continue;
    if (t.size() > 5 && t.compare(t.size() - 5, 5, "-core") == 0) continue;  // "64-Core"
    tokens.push_back(t);
  }
  return tokens;
}

bool HasDigit(const std::string& s) {
  for (char c : s) {
    if (c >= '0' && c <= '9') return true;
  }
  return false;
}

// One CSV line "Name,TDP" where Name may be quoted.
bool SplitCsvLine(const std::string& line, std::string* name, std::string* value) {
  if (!line.empty() && line[0] == '"') {
    std::size_t end = line.find("\",", 1);
    if (end == std::string::npos) return false;
    *name = line.substr(1, end - 1);
    *value = line.substr(end + 2);
  } else {
    std::size_t comma = line.rfind(',');
    if (comma == std::string::npos) return false;
    *name = line.substr(0, comma);
    *value = line.substr(comma + 1);
  }
  while (!value->empty() && (value->back() == '\r' || value->back() == ' ')) value->pop_back();
  return true;
}

// The table row for `model_name`: an exact match of the tokens, else the
// longest row whose tokens all appear in the name and that includes a model
// number (a token with a digit), so "AMD EPYC 7282 16-Core Processor" finds
// "AMD EPYC 7282" but "AMD EPYC" (a VM's generic name) finds nothing.
bool LookupTdp(const std::string& csv_path, const std::string& model_name, double* tdp_w,
               std::string* row_name) {
  std::string text = ReadFile(csv_path);
  std::vector<std::string> want = NameTokens(model_name);
  if (want.empty()) return false;
  std::istringstream in(text);
  std::string line, name, value;
  int line_number = 0;
  std::size_t best_tokens = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line_number == 1 || line.empty()) continue;  // header "Name,TDP"
    if (!SplitCsvLine(line, &name, &value)) {
      throw Error(csv_path + ":" + std::to_string(line_number) +
                  ": expected 'Name,TDP' (Name quoted if it holds a comma)");
    }
    std::vector<std::string> have = NameTokens(name);
    bool exact = have == want;
    bool subset = !have.empty();
    bool numbered = false;
    for (const std::string& t : have) {
      numbered = numbered || HasDigit(t);
      bool found = false;
      for (const std::string& w : want) found = found || w == t;
      subset = subset && found;
    }
    if (!exact && !(subset && numbered && have.size() > best_tokens)) continue;
    char* end = nullptr;
    double w = std::strtod(value.c_str(), &end);
    if (end == value.c_str() || !(w > 0)) {
      throw Error(csv_path + ":" + std::to_string(line_number) + ": TDP '" + value +
                  "' is not a positive number of watts");
    }
    *tdp_w = w;
    *row_name = name;
    if (exact) return true;
    best_tokens = have.size();
  }
  return best_tokens > 0;
}

// CodeCarbon's processing for its token match: lower case, every character
// that is not a letter or digit a space, tokens as a set.
std::vector<std::string> CodeCarbonTokenSet(const std::string& name) {
  std::string s;
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    s += std::isalnum(u) ? static_cast<char>(std::tolower(u)) : ' ';
  }
  std::vector<std::string> tokens;
  std::istringstream in(s);
  for (std::string t; in >> t;) {
    if (std::find(tokens.begin(), tokens.end(), t) == tokens.end()) tokens.push_back(t);
  }
  return tokens;
}

bool Lowered(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool Subset(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (const std::string& t : a) {
    if (std::find(b.begin(), b.end(), t) == b.end()) return false;
  }
  return true;
}

}  // namespace

const char* PowerModelName(PowerModel model) {
  return model == PowerModel::kCodeCarbon ? "codecarbon" : "joule";
}

PowerModel ParsePowerModel(const std::string& name) {
  if (name == "joule") return PowerModel::kJoule;
  if (name == "codecarbon") return PowerModel::kCodeCarbon;
  throw Error("power model '" + name + "': expected joule or codecarbon");
}

std::optional<double> CodeCarbonTableTdp(const std::string& csv_path, const std::string& model_name,
                                         std::string* row_name) {
  std::vector<std::pair<std::string, double>> rows;
  {
    std::string text = ReadFile(csv_path);
    std::istringstream in(text);
    std::string line, name, value;
    for (int number = 1; std::getline(in, line); ++number) {
      if (number == 1 || line.empty()) continue;
      if (!SplitCsvLine(line, &name, &value)) {
        throw Error(csv_path + ":" + std::to_string(number) +
                    ": expected 'Name,TDP' (Name quoted if it holds a comma)");
      }
      char* end = nullptr;
      double w = std::strtod(value.c_str(), &end);
      // The table has rows of 0 W (unknown TDP); CodeCarbon treats a match
      // with 0 as no match, and so does the caller.
      if (end == value.c_str() || !(w >= 0)) {
        throw Error(csv_path + ":" + std::to_string(number) + ": TDP '" + value +
                    "' is not a number of watts >= 0");
      }
      rows.emplace_back(name, w);
    }
  }
  auto exact = [&](const std::string& want) -> const std::pair<std::string, double>* {
    for (const auto& row : rows) {
      if (Lowered(row.first, want)) return &row;
    }
    return nullptr;
  };
  const std::pair<std::string, double>* hit = exact(model_name);
  // Then the name without its decorations: "(R)", what follows " CPU @ ",
  // " CPU", and a clock " @ 3.00GHz".
  std::string bare = model_name;
  for (std::size_t p; (p = bare.find("(R)")) != std::string::npos;) bare.erase(p, 3);
  if (std::size_t at = bare.find(" CPU @ "); at != std::string::npos && at > 0) bare.resize(at);
  for (std::size_t p; (p = bare.find(" CPU")) != std::string::npos;) bare.erase(p, 4);
  if (std::size_t at = bare.find(" @"); at != std::string::npos) {
    std::size_t i = at + 2;
    while (i < bare.size() && bare[i] == ' ') ++i;
    std::size_t digits = i;
    while (i < bare.size() && std::isdigit(static_cast<unsigned char>(bare[i]))) ++i;
    if (i > digits && i < bare.size() && bare[i] == '.') {
      std::size_t frac = ++i;
      while (i < bare.size() && std::isdigit(static_cast<unsigned char>(bare[i]))) ++i;
      if (i > frac && bare.compare(i, 3, "GHz") == 0) bare.erase(at, i + 3 - at);
    }
  }
  if (hit == nullptr) hit = exact(bare);
  if (hit == nullptr) {
    // A row whose tokens and the name's are one a subset of the other; only
    // when exactly one row is such (several equal matches count as none).
    std::vector<std::string> want = CodeCarbonTokenSet(bare);
    int found = 0;
    for (const auto& row : rows) {
      std::vector<std::string> have = CodeCarbonTokenSet(row.first);
      bool shared = std::any_of(have.begin(), have.end(), [&](const std::string& t) {
        return std::find(want.begin(), want.end(), t) != want.end();
      });
      if (shared && (Subset(have, want) || Subset(want, have))) {
        if (++found == 1) hit = &row;
      }
    }
    if (found != 1) hit = nullptr;
  }
  if (hit == nullptr || !(hit->second > 0)) return std::nullopt;  // CodeCarbon: `if power:`
  if (row_name != nullptr) *row_name = hit->first;
  return hit->second;
}

int CodeCarbonDimmCount(double total_gib) {
  if (std::isnan(total_gib) || total_gib <= 2) return 1;
  if (total_gib <= 32) return total_gib <= 16 ? 2 : 4;
  if (total_gib <= 128) return total_gib <= 64 ? 4 : 8;
  for (double size : {128.0, 64.0, 32.0, 16.0, 8.0, 4.0}) {
    // In double before the cast: a huge (or infinite) size must not overflow int.
    if (size <= total_gib / 8) return static_cast<int>(std::min(32.0, std::ceil(total_gib / size)));
  }
  return 8;
}

double CodeCarbonRamPowerW(double total_gib) {
  const double per_dimm = 5, floor_w = 10;  // x86: 5 W a DIMM, at least two
  int n = CodeCarbonDimmCount(total_gib);
  double w = n <= 4    ? per_dimm * n
             : n <= 8  ? per_dimm * 4 + per_dimm * 0.9 * (n - 4)
             : n <= 16 ? per_dimm * 4 + per_dimm * 0.9 * 4 + per_dimm * 0.8 * (n - 8)
                       : per_dimm * 4 + per_dimm * 0.9 * 4 + per_dimm * 0.8 * 8 +
                             per_dimm * 0.7 * (n - 16);
  return std::max(floor_w, w);
}

namespace {

std::string Watts(double w) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g W", w);
  return buf;
}

class TdpModelSource final : public PowerSource {
 public:
  TdpModelSource(std::string stat_path, PowerModel model, double tdp_w, double ram_w,
                 bool ram_given, bool cpu, bool ram, std::string detail)
      : stat_(meter::CpuTimesReader::For(stat_path)),
        model_(model),
        tdp_w_(tdp_w),
        ram_w_(ram_w),
        ram_given_(ram_given),
        detail_(std::move(detail)) {
    if (cpu) channels_.push_back({"cpu", Component::kCpu, ReadingKind::kMeanPower, true, detail_});
    if (ram) channels_.push_back({"ram", Component::kRam, ReadingKind::kMeanPower, true, detail_});
    if (!stat_->Read(std::nan(""), &last_)) {
      throw Error(stat_->path() +
                  ": cannot read the 'cpu' line; the TDP model needs Linux /proc/stat");
    }
  }

  std::string_view kind() const override { return "tdp-model"; }
  std::string_view method() const override { return "estimated:tdp-model"; }
  std::string detail() const override { return detail_; }
  const std::vector<Channel>& channels() const override { return channels_; }

  void Read(double monotonic_s, std::span<ChannelSample> out) override {
    JOULE_ASSERT(out.size() == channels_.size());
    meter::CpuTimes now;
    bool ok = stat_->Read(monotonic_s, &now) && now.busy >= last_.busy && now.idle >= last_.idle;
    double load = 0;
    if (ok) {
      std::uint64_t busy = now.busy - last_.busy, all = busy + (now.idle - last_.idle);
      load = all == 0 ? 0.0 : static_cast<double>(busy) / static_cast<double>(all);
      last_ = now;
    }
    for (std::size_t i = 0; i < channels_.size(); ++i) {
      bool is_cpu = channels_[i].component == Component::kCpu;
      out[i].ok = ok || !is_cpu;
      out[i].power_w = is_cpu ? tdp_w_ * (0.1 + 0.9 * load * load * load) : ram_w_;
    }
  }

  // joule: the tree's load l alone on the curve, plus the idle floor of the
  // capacity it held: TDP x (0.1 l + 0.9 l^3); RAM by resident share (the
  // meter's). CodeCarbon 3.x's process mode: TDP x l, and the DIMM model of
  // the tree's resident memory.
  std::optional<double> TreePowerW(std::size_t channel, const TreeUse& use) const override {
    double l = std::clamp(use.load(), 0.0, 1.0);
    if (channels_[channel].component == Component::kCpu) {
      return model_ == PowerModel::kCodeCarbon ? tdp_w_ * l : tdp_w_ * (0.1 * l + 0.9 * l * l * l);
    }
    if (model_ == PowerModel::kCodeCarbon && !ram_given_) {
      return CodeCarbonRamPowerW(use.rss_bytes / kBytesPerGib);
    }
    return std::nullopt;
  }

 private:
  std::shared_ptr<meter::CpuTimesReader> stat_;  // shared with the meter: one read per sample
  PowerModel model_;
  double tdp_w_, ram_w_;
  bool ram_given_;
  std::string detail_;
  std::vector<Channel> channels_;
  meter::CpuTimes last_;
};

}  // namespace

std::unique_ptr<PowerSource> MakeTdpModelSource(const TdpModelOptions& options,
                                                std::vector<std::string>* warnings) {
  if (options.cpu_tdp_w && !(*options.cpu_tdp_w > 0 && *options.cpu_tdp_w < 1e5)) {
    throw Error("--cpu-tdp " + std::to_string(*options.cpu_tdp_w) +
                ": expected the CPU's thermal design power in watts, > 0 (e.g. --cpu-tdp 65)");
  }
  if (options.ram_power_w && !(*options.ram_power_w >= 0 && *options.ram_power_w < 1e5)) {
    throw Error("--ram-power " + std::to_string(*options.ram_power_w) +
                ": expected the memory's power in watts, >= 0 (e.g. --ram-power 6)");
  }
  JOULE_ASSERT(options.cpu || options.ram);
  const bool codecarbon = options.model == PowerModel::kCodeCarbon;
  std::string detail;
  double tdp_w = 0, ram_w = 0;
  if (options.cpu) {
    CpuInfo info = ParseCpuInfo(options.proc_root + "/cpuinfo");
    std::string csv = options.cpu_power_csv.empty()
                          ? meter::BundledDataDir() + "/carbon/cpu_power.csv"
                          : options.cpu_power_csv;
    std::string curve = codecarbon ? " x (0.1 + 0.9 x load^3) for the machine, x the tree's share "
                                     "of CPU capacity for a process (CodeCarbon 3.x's model)"
                                   : " x (0.1 + 0.9 x load^3)";
    std::string row;
    if (options.cpu_tdp_w) {
      tdp_w = *options.cpu_tdp_w;
      detail = "CPU: TDP " + Watts(tdp_w) + " (--cpu-tdp)" + curve;
    } else if (codecarbon) {
      if (info.model_name.empty()) {
        tdp_w = kDefaultCpuTdpW;
        detail = "CPU: no model name, so CodeCarbon's " + Watts(tdp_w) + curve;
      } else if (std::optional<double> w = CodeCarbonTableTdp(csv, info.model_name, &row)) {
        tdp_w = *w * info.sockets;
        detail = "CPU: TDP " + Watts(*w) + " ('" + row + "' in cpu_power.csv) x " +
                 std::to_string(info.sockets) + " socket(s)" + curve;
      } else {
        int threads = info.threads > 0 ? info.threads : 1;
        tdp_w = kCodeCarbonWattsPerThread * threads * info.sockets;
        detail = "CPU: '" + info.model_name + "' not matched in cpu_power.csv, so CodeCarbon's " +
                 Watts(kCodeCarbonWattsPerThread) + " per thread x " + std::to_string(threads) +
                 " threads x " + std::to_string(info.sockets) + " socket(s) = " + Watts(tdp_w) +
                 curve;
      }
    } else if (info.hypervisor) {
      int threads = info.threads > 0 ? info.threads : 1;
      tdp_w = kVmWattsPerThread * threads;
      detail = "CPU: virtual machine (hypervisor flag), so " + Watts(kVmWattsPerThread) +
               " per thread x " + std::to_string(threads) + " threads = " + Watts(tdp_w) +
               " in place of the whole chip's TDP" + curve;
    } else if (LookupTdp(csv, info.model_name, &tdp_w, &row)) {
      detail = "CPU: TDP " + Watts(tdp_w) + " ('" + row + "' in cpu_power.csv)" + curve;
    } else {
      tdp_w = kDefaultCpuTdpW;
      detail = "CPU: TDP " + Watts(tdp_w) + " (default: '" + info.model_name +
               "' is not in cpu_power.csv)" + curve;
      if (warnings != nullptr) {
        warnings->push_back("CPU model '" + info.model_name + "' is not in " + csv +
                            "; assuming a TDP of " + Watts(kDefaultCpuTdpW) +
                            " (give the real one with --cpu-tdp W)");
      }
    }
  }
  if (options.ram) {
    if (!detail.empty()) detail += "; ";
    if (options.ram_power_w) {
      ram_w = *options.ram_power_w;
      detail += "RAM: " + Watts(ram_w) + " (--ram-power)";
    } else if (codecarbon) {
      double gib = ParseMemTotalBytes(options.proc_root + "/meminfo") / kBytesPerGib;
      ram_w = CodeCarbonRamPowerW(gib);
      char buf[160];
      std::snprintf(buf, sizeof buf,
                    "RAM: CodeCarbon's 5 W per estimated DIMM, %d DIMMs for %.3g GiB = ",
                    CodeCarbonDimmCount(gib), gib);
      detail += buf + Watts(ram_w) +
                " for the machine (a process: the DIMMs of its resident "
                "memory)";
    } else {
      double gb = ParseMemTotalBytes(options.proc_root + "/meminfo") / 1e9;
      ram_w = kRamWattsPerGb * gb;
      char buf[96];
      std::snprintf(buf, sizeof buf, "RAM: 0.375 W/GB (3 W per 8 GB) x %.3g GB = ", gb);
      detail += buf + Watts(ram_w);
    }
  }
  return std::make_unique<TdpModelSource>(options.proc_root + "/stat", options.model, tdp_w, ram_w,
                                          options.ram_power_w.has_value(), options.cpu, options.ram,
                                          detail);
}

}  // namespace joule
