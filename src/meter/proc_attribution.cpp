#include "meter/proc_attribution.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>

#include "joule/util.hpp"
#include "meter/small_file.hpp"

namespace joule::meter {
namespace {

// Splits off the next space-separated field of `text`.
std::string_view NextField(std::string_view* text) {
  std::size_t start = text->find_first_not_of(' ');
  if (start == std::string_view::npos) {
    *text = {};
    return {};
  }
  std::size_t end = text->find_first_of(" \n", start);
  if (end == std::string_view::npos) end = text->size();
  std::string_view field = text->substr(start, end - start);
  *text = text->substr(end);
  return field;
}

bool IsNumber(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool ParseCpuTimes(const char* buffer, long n, CpuTimes* out) {
  if (n < 4 || std::strncmp(buffer, "cpu ", 4) != 0) return false;
  std::string_view line(buffer + 4, static_cast<std::size_t>(n) - 4);
  line = line.substr(0, line.find('\n'));
  std::uint64_t v[8] = {};
  int count = 0;
  for (; count < 8; ++count) {
    std::string_view field = NextField(&line);
    if (field.empty()) break;
    if (!ParseU64(field, &v[count])) return false;
  }
  if (count < 4) return false;
  // user nice system idle iowait irq softirq steal
  out->busy = v[0] + v[1] + v[2] + v[5] + v[6];
  out->idle = v[3] + v[4];
  return true;
}

}  // namespace

bool ReadCpuTimes(const char* stat_path, CpuTimes* out) {
  char buffer[1024];  // the aggregate line is first and short
  return ParseCpuTimes(buffer, ReadSmallFile(stat_path, buffer, sizeof buffer), out);
}

bool ReadCpuTimes(ProcFile& stat_file, CpuTimes* out) {
  char buffer[1024];
  return ParseCpuTimes(buffer, stat_file.Read(buffer, sizeof buffer), out);
}

std::shared_ptr<CpuTimesReader> CpuTimesReader::For(const std::string& stat_path) {
  static std::mutex registry_mutex;
  static std::map<std::string, std::weak_ptr<CpuTimesReader>> registry;
  std::lock_guard<std::mutex> lock(registry_mutex);
  std::shared_ptr<CpuTimesReader> reader = registry[stat_path].lock();
  if (!reader) {
    reader = std::make_shared<CpuTimesReader>(stat_path);
    registry[stat_path] = reader;
  }
  return reader;
}

bool CpuTimesReader::Read(double monotonic_s, CpuTimes* out) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!have_last_ || std::isnan(monotonic_s) || monotonic_s != last_s_) {
    last_ok_ = ReadCpuTimes(file_, &last_);
    last_s_ = monotonic_s;
    have_last_ = !std::isnan(monotonic_s);
  }
  if (last_ok_) *out = last_;
  return last_ok_;
}

bool ParseProcStat(std::string_view text, ProcStat* out) {
  std::size_t close = text.rfind(')');
  if (close == std::string_view::npos) return false;
  std::string_view rest = text.substr(close + 1);
  // Field 3 (state) is the first after ')'; we want 4 (ppid), 14-17, 20, 22, 24.
  std::uint64_t value = 0;
  for (int field = 3; field <= 24; ++field) {
    std::string_view f = NextField(&rest);
    if (f.empty()) return false;
    if (field == 3) continue;
    bool numeric = ParseU64(f, &value);
    switch (field) {
      case 4:
        if (!numeric) return false;
        out->ppid = static_cast<int>(value);
        break;
      case 14:
        if (!numeric) return false;
        out->utime = value;
        break;
      case 15:
        if (!numeric) return false;
        out->stime = value;
        break;
      case 16:
        if (!numeric) return false;
        out->cutime = value;
        break;
      case 17:
        if (!numeric) return false;
        out->cstime = value;
        break;
      case 20:
        out->num_threads = numeric ? static_cast<long>(value) : 1;
        break;
      case 22:
        if (!numeric) return false;
        out->starttime = value;
        break;
      case 24:
        out->rss_pages = numeric ? value : 0;  // "-1"-like values for kernel threads
        break;
      default:
        break;
    }
  }
  return true;
}

ProcessTree::ProcessTree(std::string proc_root, int root_pid, bool count_root_cpu)
    : proc_root_(std::move(proc_root)), root_pid_(root_pid), count_root_cpu_(count_root_cpu) {
  JOULE_ASSERT(proc_root_.size() < 200);
  tracked_.reserve(64);
  ProcStat stat;
  if (!ReadStatAt(root_pid_, &stat)) {
    throw Error("process " + std::to_string(root_pid_) + " not found under " + proc_root_ + " (" +
                proc_root_ + "/" + std::to_string(root_pid_) +
                "/stat unreadable); give the PID of a running process");
  }
  Tracked root;
  root.pid = root_pid_;
  root.ppid = stat.ppid;
  root.starttime = stat.starttime;
  root.child_ticks = stat.cutime + stat.cstime;
  root.alive = true;
  root.is_root = true;
  root.stat = ProcFile(proc_root_ + "/" + std::to_string(root_pid_) + "/stat");
  tracked_.push_back(std::move(root));
  std::snprintf(path_, sizeof path_, "%s/%d/task/%d/children", proc_root_.c_str(), root_pid_,
                root_pid_);
  have_children_files_ = ::access(path_, R_OK) == 0;
  const long hz = ::sysconf(_SC_CLK_TCK);
  ticks_per_s_ = hz > 0 ? static_cast<double>(hz) : 100.0;
  self_clock_ =
      count_root_cpu_ && root_pid_ == static_cast<int>(::getpid()) && proc_root_ == "/proc";
}

bool ProcessTree::ReadStatAt(int pid, ProcStat* stat) {
  std::snprintf(path_, sizeof path_, "%s/%d/stat", proc_root_.c_str(), pid);
  long n = ReadSmallFile(path_, buffer_, sizeof buffer_);
  return n > 0 && ParseProcStat(std::string_view(buffer_, static_cast<std::size_t>(n)), stat);
}

bool ProcessTree::ReadStat(Tracked& t, ProcStat* stat) {
  long n = t.stat.Read(buffer_, sizeof buffer_);
  return n > 0 && ParseProcStat(std::string_view(buffer_, static_cast<std::size_t>(n)), stat);
}

bool ProcessTree::IsTracked(int pid) const {
  for (const Tracked& t : tracked_) {
    if (t.pid == pid) return true;
  }
  return false;
}

void ProcessTree::Track(int pid) {
  if (IsTracked(pid)) return;
  // Not alive yet for this round: the sampling loop reads it when it gets there.
  Tracked t;
  t.pid = pid;
  t.stat = ProcFile(proc_root_ + "/" + std::to_string(pid) + "/stat");
  tracked_.push_back(std::move(t));
}

void ProcessTree::ListThreads(Tracked& t) {
  t.children.clear();
  std::string task_dir = proc_root_ + "/" + std::to_string(t.pid) + "/task";
  int fd = ::open(task_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ForEachDirEntry(fd, dirents_, sizeof dirents_, [&](std::string_view tid) {
    if (IsNumber(tid)) t.children.emplace_back(task_dir + "/" + std::string(tid) + "/children");
  });
  ::close(fd);
}

void ProcessTree::AddChildren(Tracked& t, long num_threads) {
  if (t.threads != num_threads || t.children.empty()) {
    // Single-threaded (the common case): the main thread's list, no listing.
    if (num_threads <= 1) {
      t.children.clear();
      t.children.emplace_back(proc_root_ + "/" + std::to_string(t.pid) + "/task/" +
                              std::to_string(t.pid) + "/children");
    } else {
      ListThreads(t);
    }
    t.threads = num_threads;
  }
  // Children found are appended to tracked_, which may reallocate and move
  // `t`: read by index, collect pids first.
  int pids[256];
  int count = 0;
  bool failed = false;
  for (ProcFile& file : t.children) {
    long n = file.Read(buffer_, sizeof buffer_);
    if (n < 0) {
      failed = true;  // a thread exited: list the threads again next time
      continue;
    }
    std::string_view text(buffer_, static_cast<std::size_t>(n));
    for (std::string_view f = NextField(&text); !f.empty() && count < 256; f = NextField(&text)) {
      std::uint64_t pid = 0;
      if (ParseU64(f, &pid)) pids[count++] = static_cast<int>(pid);
    }
  }
  if (failed) t.threads = 0;
  for (int i = 0; i < count; ++i) Track(pids[i]);
}

void ProcessTree::AddByScan() {
  // Kernels without CONFIG_PROC_CHILDREN: find children through every
  // process's ppid. A grandchild seen before its parent is picked up at the
  // next sample (tracking is sticky, so nothing is lost but one interval).
  int fd = ::open(proc_root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ForEachDirEntry(fd, dirents_, sizeof dirents_, [&](std::string_view name) {
    if (!IsNumber(name)) return;
    std::uint64_t pid = 0;
    ParseU64(name, &pid);
    ProcStat stat;
    if (!IsTracked(static_cast<int>(pid)) && ReadStatAt(static_cast<int>(pid), &stat) &&
        IsTracked(stat.ppid)) {
      Track(static_cast<int>(pid));
    }
  });
  ::close(fd);
}

ProcessTree::Tracked* ProcessTree::Find(int pid) {
  for (Tracked& t : tracked_) {
    if (t.pid == pid) return &t;
  }
  return nullptr;
}

void ProcessTree::Sample() {
  for (Tracked& t : tracked_) t.alive = false;
  if (!have_children_files_) AddByScan();
  std::uint64_t total = frozen_ticks_;
  std::uint64_t rss = 0;
  // tracked_ grows while we walk it: children found are appended and visited
  // in the same pass. Index-based on purpose.
  for (std::size_t i = 0; i < tracked_.size(); ++i) {
    ProcStat stat;
    Tracked& t = tracked_[i];
    if (!ReadStat(t, &stat)) continue;
    if (t.starttime != 0 && stat.starttime != t.starttime) continue;  // PID reused: ours is gone
    bool first_sight = t.starttime == 0 && !t.is_root;
    t.starttime = stat.starttime;
    t.ppid = stat.ppid;
    t.alive = true;
    t.pending = 0;
    std::uint64_t child_ticks = stat.cutime + stat.cstime;
    t.budget = first_sight || child_ticks < t.child_ticks ? 0 : child_ticks - t.child_ticks;
    t.child_ticks = child_ticks;
    bool own = !t.is_root || count_root_cpu_;
    t.last_ticks = child_ticks + (own ? stat.utime + stat.stime : 0);
    if (t.is_root) root_own_ticks_ = own ? stat.utime + stat.stime : 0;
    total += t.last_ticks;
    if (own) rss += stat.rss_pages;
    long threads = t.is_root && !count_root_cpu_ ? 1 : stat.num_threads;  // see the header
    if (have_children_files_) AddChildren(t, threads);                    // may move tracked_
  }
  SettleVanished(&total);
  // A child reaped between reading it and reading its parent is missing from
  // this total and back (in the parent's cutime) at the next sample; hold the
  // figure rather than let it dip.
  if (total > reported_ticks_) reported_ticks_ = total;
  rss_pages_ = rss;
  double seconds = static_cast<double>(reported_ticks_) / ticks_per_s_;
  timespec own{};
  if (self_clock_ && root_alive_ && ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &own) == 0) {
    // The root's ticks out, its exact CPU time in.
    seconds += static_cast<double>(own.tv_sec) + 1e-9 * static_cast<double>(own.tv_nsec) -
               static_cast<double>(root_own_ticks_) / ticks_per_s_;
  }
  if (seconds > reported_s_) reported_s_ = seconds;
}

void ProcessTree::SettleVanished(std::uint64_t* total) {
  for (Tracked& t : tracked_) {
    if (!t.alive && t.pending == 0) t.subtree = t.last_ticks;
  }
  // A vanished process whose parent vanished too was reaped by it (or will be
  // found in it): fold it into the parent, leaves first, so that the parent's
  // fate (absorbed by a live ancestor, or kept) decides for both.
  for (bool merged = true; merged;) {
    merged = false;
    for (std::size_t i = 0; i < tracked_.size(); ++i) {
      Tracked& t = tracked_[i];
      if (t.alive || t.is_root) continue;
      Tracked* parent = Find(t.ppid);
      if (parent == nullptr || parent->alive) continue;
      bool leaf = true;
      for (const Tracked& c : tracked_) leaf = leaf && (c.alive || c.ppid != t.pid);
      if (!leaf) continue;
      parent->subtree += t.subtree;
      tracked_[i] = std::move(tracked_.back());
      tracked_.pop_back();
      merged = true;
      break;
    }
  }
  for (std::size_t i = 0; i < tracked_.size();) {
    Tracked& t = tracked_[i];
    if (t.alive) {
      ++i;
      continue;
    }
    if (t.is_root) root_alive_ = false;
    Tracked* parent = t.is_root ? nullptr : Find(t.ppid);
    if (parent != nullptr && parent->alive && parent->budget >= t.subtree) {
      // The parent reaped it: its time is in the parent's cutime now.
      parent->budget -= t.subtree;
    } else if (parent != nullptr && parent->alive && t.pending == 0) {
      // The reap may land just after we read the parent: wait one sample,
      // counting its last figure meanwhile.
      t.pending = 1;
      *total += t.subtree;
      ++i;
      continue;
    } else {
      // Reaped outside the tree (init, a subreaper) or never by a tracked
      // parent: keep the last figure.
      frozen_ticks_ += t.subtree;
      *total += t.subtree;
    }
    tracked_[i] = std::move(tracked_.back());
    tracked_.pop_back();
  }
}

}  // namespace joule::meter
