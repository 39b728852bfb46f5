// The process tree's CPU time from a fake /proc.
#include "meter/proc_attribution.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>

#include "joule/util.hpp"
#include "meter/fake_fs.hpp"

namespace joule::meter {
namespace {

using joule::testing::TempTree;
using joule::testing::WriteChildren;
using joule::testing::WritePidStat;

TEST(ParseProcStat, CommandNameWithSpacesAndParentheses) {
  ProcStat s;
  std::string line =
      "4242 (a) b (c)) R 17 1 1 0 -1 4194560 100 0 0 0 311 27 5 3 20 0 3 0 98765 1000 777 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
  ASSERT_TRUE(ParseProcStat(line, &s));
  EXPECT_EQ(s.ppid, 17);
  EXPECT_EQ(s.utime, 311u);
  EXPECT_EQ(s.stime, 27u);
  EXPECT_EQ(s.cutime, 5u);
  EXPECT_EQ(s.cstime, 3u);
  EXPECT_EQ(s.num_threads, 3);
  EXPECT_EQ(s.starttime, 98765u);
  EXPECT_EQ(s.rss_pages, 777u);
  EXPECT_FALSE(ParseProcStat("12 (x) R 1 2", &s));
}

TEST(ReadCpuTimes, BusyExcludesIdleIowaitAndSteal) {
  TempTree proc;
  proc.Write("stat", "cpu  100 2 30 5000 40 6 7 800 0 0\ncpu0 1 1 1 1 1 1 1 1 1 1\n");
  CpuTimes t;
  ASSERT_TRUE(ReadCpuTimes(proc.Path("stat").c_str(), &t));
  EXPECT_EQ(t.busy, 100u + 2 + 30 + 6 + 7);
  EXPECT_EQ(t.idle, 5040u);
}

// root 100 -> child 101 -> grandchild 102.
struct Family {
  TempTree proc;
  Family() {
    WritePidStat(proc, 100, 1, 10, 1, 0, 0, 500);
    WriteChildren(proc, 100, "101");
    WritePidStat(proc, 101, 100, 20, 2, 0, 0, 600);
    WriteChildren(proc, 101, "102 ");
    WritePidStat(proc, 102, 101, 30, 3, 0, 0, 700);
    WriteChildren(proc, 102, "");
  }
  void Remove(int pid) { std::filesystem::remove_all(proc.Path(std::to_string(pid))); }
};

TEST(ProcessTree, CountsEveryDescendant) {
  Family f;
  ProcessTree tree(f.proc.root(), 100, true);
  tree.Sample();
  EXPECT_EQ(tree.cpu_ticks(), 11u + 22 + 33);
  EXPECT_EQ(tree.tracked_count(), 3u);
  EXPECT_TRUE(tree.root_alive());
}

TEST(ProcessTree, ReapedGrandchildCountedOnceThroughParentCutime) {
  Family f;
  ProcessTree tree(f.proc.root(), 100, true);
  tree.Sample();
  // 102 burns 10 more ticks, exits, and 101 reaps it: its 43 ticks move to
  // 101's cutime+cstime and its /proc entry disappears.
  f.Remove(102);
  WriteChildren(f.proc, 101, "");
  WritePidStat(f.proc, 101, 100, 20, 2, 40, 3, 600);
  tree.Sample();
  EXPECT_EQ(tree.cpu_ticks(), 11u + 22 + 43);
  EXPECT_EQ(tree.tracked_count(), 2u);
}

TEST(ProcessTree, OrphanStaysTrackedAndIsKeptWhenItVanishes) {
  Family f;
  ProcessTree tree(f.proc.root(), 100, true);
  tree.Sample();
  // 101 exits; the root reaps it; 102 is reparented to init and keeps running.
  f.Remove(101);
  WriteChildren(f.proc, 100, "");
  WritePidStat(f.proc, 100, 1, 10, 1, 20, 2, 500);
  WritePidStat(f.proc, 102, 1, 50, 3, 0, 0, 700);
  tree.Sample();
  EXPECT_EQ(tree.cpu_ticks(), 33u + 53);
  // 102 exits and init reaps it: nothing tracked absorbs it, so its last
  // figure is kept.
  f.Remove(102);
  tree.Sample();
  EXPECT_EQ(tree.cpu_ticks(), 33u + 53);
  EXPECT_EQ(tree.tracked_count(), 1u);
}

TEST(ProcessTree, LauncherCountsOnlyWhatItRuns) {
  Family f;
  ProcessTree tree(f.proc.root(), 100, /*count_root_cpu=*/false);
  tree.Sample();
  EXPECT_EQ(tree.cpu_ticks(), 22u + 33);
  // The launcher reaps 101 (with 102 inside 101's cutime).
  f.Remove(101);
  f.Remove(102);
  WriteChildren(f.proc, 100, "");
  WritePidStat(f.proc, 100, 1, 999, 9, 30 + 60, 2 + 3, 500);
  tree.Sample();
  EXPECT_EQ(tree.cpu_ticks(), 90u + 5);
}

TEST(ProcessTree, ReusedPidIsNotOurs) {
  Family f;
  ProcessTree tree(f.proc.root(), 100, true);
  tree.Sample();
  // 102 exits unreaped-by-us (say a double fork) and an unrelated process gets
  // its PID; 101 no longer lists it.
  WriteChildren(f.proc, 101, "");
  WritePidStat(f.proc, 102, 1, 5000, 0, 0, 0, 9999);
  tree.Sample();
  EXPECT_EQ(tree.cpu_ticks(), 11u + 22 + 33);  // 102's last figure, not the stranger's
}

TEST(ProcessTree, MultithreadedParentChildrenFoundUnderEveryThread) {
  TempTree proc;
  WritePidStat(proc, 100, 1, 1, 0, 0, 0, 500);
  // Two threads (num_threads is field 20; WritePidStat writes 1, so patch it).
  std::string stat = "100 (main) S 1 0 0 0 0 0 0 0 0 0 1 0 0 0 20 0 2 0 500 1000 0\n";
  proc.Write("100/stat", stat);
  proc.Write("100/task/100/children", "");
  proc.Write("100/task/105/children", "200");
  WritePidStat(proc, 200, 105, 7, 0, 0, 0, 800);
  WriteChildren(proc, 200, "");
  ProcessTree tree(proc.root(), 100, true);
  tree.Sample();
  EXPECT_EQ(tree.cpu_ticks(), 1u + 7);
}

TEST(ProcessTree, RootGoneIsReportedAndItsTimeKept) {
  Family f;
  ProcessTree tree(f.proc.root(), 100, true);
  tree.Sample();
  f.Remove(100);
  f.Remove(101);
  f.Remove(102);
  tree.Sample();
  EXPECT_FALSE(tree.root_alive());
  EXPECT_EQ(tree.cpu_ticks(), 11u + 22 + 33);
}

TEST(ProcessTree, MissingRootThrowsNamingPid) {
  TempTree proc;
  try {
    ProcessTree tree(proc.root(), 4242, true);
    FAIL() << "expected Error";
  } catch (const joule::Error& e) {
    EXPECT_NE(std::string(e.what()).find("4242"), std::string::npos);
  }
}

TEST(ProcessTree, RealProcessTreeOfThisTestSeesItsOwnCpuTime) {
  ProcessTree tree("/proc", static_cast<int>(getpid()), true);
  tree.Sample();
  std::uint64_t before = tree.cpu_ticks();
  volatile double x = 0;
  for (long i = 0; i < 60000000; ++i) x = x + 1e-9 * static_cast<double>(i);
  tree.Sample();
  EXPECT_GT(tree.cpu_ticks(), before);
}

double ProcessCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// This process's own time comes from its CPU clock, not in 10 ms ticks: a
// 23 ms burst reads as 23 ms (a tick-based figure is a multiple of 10 ms, off
// by up to one tick).
TEST(ProcessTree, OwnProcessTimeIsExactNotTicks) {
  ProcessTree tree("/proc", static_cast<int>(getpid()), true);
  ASSERT_TRUE(tree.precise());
  tree.Sample();
  const double tree_before = tree.cpu_s(), clock_before = ProcessCpuSeconds();
  volatile double x = 0;
  while (ProcessCpuSeconds() - clock_before < 0.023) x = x + 1e-9;
  const double clock_after = ProcessCpuSeconds();
  tree.Sample();
  const double burst = clock_after - clock_before;
  EXPECT_NEAR(tree.cpu_s() - tree_before, burst, 0.002);
  // A fake /proc describes another process: ticks there.
  TempTree proc;
  WritePidStat(proc, 100, 1, 10, 1, 0, 0, 500);
  WriteChildren(proc, 100, "");
  ProcessTree fake(proc.root(), 100, true);
  EXPECT_FALSE(fake.precise());
  fake.Sample();
  EXPECT_DOUBLE_EQ(fake.cpu_s(), static_cast<double>(fake.cpu_ticks()) / sysconf(_SC_CLK_TCK));
}

}  // namespace
}  // namespace joule::meter
