#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "joule/meter.hpp"

namespace joule {
namespace {

// "key<spaces or tabs>: value" -> value; "" when `line` is not about `key`.
std::string CpuinfoValue(const std::string& line, const std::string& key) {
  if (line.compare(0, key.size(), key) != 0) return "";
  std::size_t colon = line.find(':', key.size());
  if (colon == std::string::npos) return "";
  for (std::size_t i = key.size(); i < colon; ++i) {
    if (line[i] != ' ' && line[i] != '\t') return "";  // "model name" vs "model"
  }
  std::size_t start = line.find_first_not_of(" \t", colon + 1);
  return start == std::string::npos ? "" : line.substr(start);
}

}  // namespace

MachineFacts ReadMachineFacts(const std::string& proc_root) {
  MachineFacts facts;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) facts.hostname = host;
  struct utsname u;
  if (uname(&u) == 0) facts.os = std::string(u.sysname) + "-" + u.release + "-" + u.machine;

  // Only up to the first "model name": on a large machine the kernel builds
  // cpuinfo CPU by CPU, and a run's header must cost little. The count comes
  // from sysconf, which reads one small sysfs file.
  std::ifstream cpuinfo(proc_root + "/cpuinfo");
  for (std::string line; facts.cpu_model.empty() && std::getline(cpuinfo, line);) {
    facts.cpu_model = CpuinfoValue(line, "model name");
  }
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  facts.cpu_count = online > 0 ? static_cast<int>(online) : 0;

  std::ifstream meminfo(proc_root + "/meminfo");
  double total_kb = 0, available_kb = -1, free_kb = -1, buffers_kb = 0, cached_kb = 0,
         reclaimable_kb = 0;
  for (std::string key; meminfo >> key;) {
    double value = 0;
    meminfo >> value;
    if (key == "MemTotal:") total_kb = value;
    if (key == "MemAvailable:") available_kb = value;
    if (key == "MemFree:") free_kb = value;
    if (key == "Buffers:") buffers_kb = value;
    if (key == "Cached:") cached_kb = value;
    if (key == "SReclaimable:") reclaimable_kb = value;
    meminfo.ignore(1 << 10, '\n');
  }
  facts.ram_total_bytes = total_kb * 1024;
  if (available_kb >= 0) facts.ram_used_bytes = (total_kb - available_kb) * 1024;
  if (free_kb >= 0 && total_kb > 0) {
    double used_kb = total_kb - free_kb - buffers_kb - cached_kb - reclaimable_kb;
    facts.ram_used_no_cache_bytes = (used_kb < 0 ? total_kb - free_kb : used_kb) * 1024;
  }
  return facts;
}

}  // namespace joule
