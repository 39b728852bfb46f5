// CPU time of a process tree and of the whole machine, from /proc.
//
// The tree's CPU time is the utime+stime of its live processes plus the
// cutime+cstime they carry for children they have reaped; the machine's is
// the aggregate "cpu" line of /proc/stat. Their ratio over an interval is the
// tree's share of the machine's CPU energy. The /proc root is a constructor
// argument so tests build a fake one in a temporary directory.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "meter/small_file.hpp"

namespace joule::meter {

// The aggregate line of /proc/stat, in clock ticks (USER_HZ).
struct CpuTimes {
  std::uint64_t busy = 0;  // user + nice + system + irq + softirq (guest is inside user)
  std::uint64_t idle = 0;  // idle + iowait; steal is neither: the host's, not ours
};

// Reads the "cpu " line of `stat_path`. False when unreadable or malformed.
// Does not allocate.
bool ReadCpuTimes(const char* stat_path, CpuTimes* out);
// The same from a /proc/stat kept open (the sampling path).
bool ReadCpuTimes(ProcFile& stat_file, CpuTimes* out);

// /proc/stat shared by everyone sampling at one moment. The meter and the TDP
// model both need the machine's CPU times at each sample, and generating
// /proc/stat is the costliest read of a sample, so Read(t) re-reads the file
// only when `t` differs from the previous Read's: callers that pass one
// sample's timestamp share one read. (A test that edits a fake /proc/stat
// must therefore move its clock between samples.) Thread-safe.
class CpuTimesReader {
 public:
  // One reader per path for the whole program, alive while anyone holds it.
  static std::shared_ptr<CpuTimesReader> For(const std::string& stat_path);
  explicit CpuTimesReader(std::string stat_path) : file_(std::move(stat_path)) {}

  // False when /proc/stat cannot be read or parsed. A NaN `monotonic_s`
  // always re-reads. Does not allocate.
  bool Read(double monotonic_s, CpuTimes* out);
  const std::string& path() const { return file_.path(); }

 private:
  std::mutex mutex_;
  ProcFile file_;
  double last_s_;
  bool have_last_ = false;
  bool last_ok_ = false;
  CpuTimes last_;
};

// The fields of /proc/PID/stat the meter uses (times in clock ticks).
struct ProcStat {
  int ppid = 0;
  std::uint64_t utime = 0, stime = 0, cutime = 0, cstime = 0;
  long num_threads = 1;
  std::uint64_t starttime = 0;  // ticks after boot: tells a reused PID apart
  std::uint64_t rss_pages = 0;
};

// Parses one /proc/PID/stat line; the command name may hold spaces and
// parentheses, so fields are counted from the last ')'. False when malformed.
bool ParseProcStat(std::string_view text, ProcStat* out);

// The tracked tree: a root and every process that has descended from it while
// sampled. A process stays tracked after its parent dies (it was part of the
// work). When a tracked process vanishes, its CPU time is kept unless its
// parent is tracked and alive (then the parent's cutime/cstime holds it now).
// Not thread-safe. Steady-state sampling does not allocate.
class ProcessTree {
 public:
  // `count_root_cpu` false: the root's own utime/stime/RSS are left out and
  // only its cutime/cstime count (a launcher measuring what it runs). Such a
  // launcher starts its children from its main thread, and orphans re-parent
  // to a subreaper's main thread while it lives, so only that thread's
  // children list is read (joule measure's sampler and HTTP threads never
  // fork; reading their lists at every sample would be wasted work).
  ProcessTree(std::string proc_root, int root_pid, bool count_root_cpu);

  // Re-reads the tree. After it, cpu_ticks() is the tree's CPU time so far
  // (never decreasing) and rss_pages() its resident memory.
  void Sample();

  std::uint64_t cpu_ticks() const { return reported_ticks_; }
  // The same in seconds, never decreasing. When the root is this very process
  // (joule train, a Python Tracker) and its own CPU counts, the root's own
  // part is read from CLOCK_PROCESS_CPUTIME_ID, to the nanosecond, instead of
  // /proc's 10 ms ticks: short epochs and tasks are otherwise a few ticks
  // each, and their energy is off by a tick either way. The rest of the tree
  // (children) stays in ticks. Only for the real /proc: a fake one in a test
  // describes some other process.
  double cpu_s() const { return reported_s_; }
  // True when cpu_s() reads this process's CPU clock (see above): the meter
  // then measures the machine's capacity by the wall clock too.
  bool precise() const { return self_clock_; }
  std::uint64_t rss_pages() const { return rss_pages_; }
  bool root_alive() const { return root_alive_; }
  std::size_t tracked_count() const { return tracked_.size(); }

 private:
  struct Tracked {
    int pid = 0;
    int ppid = 0;
    std::uint64_t starttime = 0;
    std::uint64_t last_ticks = 0;   // its contribution at the last sighting
    std::uint64_t child_ticks = 0;  // its cutime + cstime at the last sighting
    std::uint64_t budget = 0;       // rise of child_ticks this sample: reaped children's time
    std::uint64_t subtree = 0;      // vanished: last_ticks plus vanished descendants merged in
    bool alive = false;
    bool is_root = false;
    int pending = 0;  // samples spent vanished, waiting for a live parent to show the reap
    ProcFile stat;
    // One children list per thread (a child belongs to the thread that forked
    // it); re-listed when the thread count changes or a list cannot be read.
    std::vector<ProcFile> children;
    long threads = 0;
  };
  bool ReadStat(Tracked& t, ProcStat* stat);
  void ListThreads(Tracked& t);
  void SettleVanished(std::uint64_t* total);
  Tracked* Find(int pid);
  bool ReadStatAt(int pid, ProcStat* stat);
  void AddChildren(Tracked& t, long num_threads);
  void AddByScan();
  void Track(int pid);
  bool IsTracked(int pid) const;

  std::string proc_root_;
  int root_pid_;
  bool count_root_cpu_;
  bool have_children_files_ = true;
  bool root_alive_ = true;
  std::vector<Tracked> tracked_;
  std::uint64_t frozen_ticks_ = 0;
  std::uint64_t reported_ticks_ = 0;
  std::uint64_t root_own_ticks_ = 0;  // the root's utime + stime at the last sample
  bool self_clock_ = false;           // the root's own time from this process's CPU clock
  double ticks_per_s_ = 100;
  double reported_s_ = 0;
  std::uint64_t rss_pages_ = 0;
  char path_[320];
  char buffer_[4096];
  char dirents_[8192];
};

}  // namespace joule::meter
