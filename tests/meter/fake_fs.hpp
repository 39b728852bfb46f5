// Helpers for meter tests: temporary directories laid out like
// /sys/class/powercap, /sys/class/hwmon or /proc.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace joule::testing {

// A fresh directory under the test temp dir, mode 0755 (so a test that drops
// privileges can still walk it), removed on destruction.
class TempTree {
 public:
  TempTree() {
    std::string pattern = ::testing::TempDir() + "joule_meter_XXXXXX";
    char* made = mkdtemp(pattern.data());
    if (made == nullptr) throw std::runtime_error("mkdtemp failed");
    root_ = made;
    chmod(root_.c_str(), 0755);
  }
  ~TempTree() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  const std::string& root() const { return root_; }
  std::string Path(const std::string& relative) const { return root_ + "/" + relative; }

  // Writes `text` to root/relative, creating parent directories.
  void Write(const std::string& relative, const std::string& text) const {
    std::filesystem::path p(Path(relative));
    std::filesystem::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + p.string());
  }
  void MakeDir(const std::string& relative) const {
    std::filesystem::create_directories(Path(relative));
  }

 private:
  std::string root_;
};

// One RAPL zone as /sys/class/powercap shows it: `id` like "intel-rapl:0:1".
inline void WriteZone(const TempTree& tree, const std::string& id, const std::string& name,
                      unsigned long long energy_uj, unsigned long long max_uj) {
  tree.Write(id + "/name", name + "\n");
  tree.Write(id + "/energy_uj", std::to_string(energy_uj) + "\n");
  tree.Write(id + "/max_energy_range_uj", std::to_string(max_uj) + "\n");
}

inline void SetEnergy(const TempTree& tree, const std::string& id, unsigned long long energy_uj) {
  tree.Write(id + "/energy_uj", std::to_string(energy_uj) + "\n");
}

// /proc/stat with only the aggregate line that matters:
// user nice system idle iowait irq softirq steal.
inline void WriteProcStat(const TempTree& proc, unsigned long long busy_user,
                          unsigned long long idle) {
  proc.Write("stat", "cpu  " + std::to_string(busy_user) + " 0 0 " + std::to_string(idle) +
                         " 0 0 0 0 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\n");
}

// /proc/PID/stat with the fields the meter reads; the rest zero.
inline void WritePidStat(const TempTree& proc, int pid, int ppid, unsigned long long utime,
                         unsigned long long stime, unsigned long long cutime,
                         unsigned long long cstime, unsigned long long starttime = 1000,
                         unsigned long long rss_pages = 0, const std::string& comm = "worker") {
  std::string s = std::to_string(pid) + " (" + comm + ") S " + std::to_string(ppid);
  // fields 5..13
  for (int f = 5; f <= 13; ++f) s += " 0";
  s += " " + std::to_string(utime) + " " + std::to_string(stime) + " " + std::to_string(cutime) +
       " " + std::to_string(cstime);
  s += " 20 0 1 0 " + std::to_string(starttime) + " 1000 " + std::to_string(rss_pages);
  for (int f = 25; f <= 52; ++f) s += " 0";
  proc.Write(std::to_string(pid) + "/stat", s + "\n");
}

inline void WriteChildren(const TempTree& proc, int pid, const std::string& children) {
  proc.Write(std::to_string(pid) + "/task/" + std::to_string(pid) + "/children", children);
}

}  // namespace joule::testing
