// RAPL through fake powercap trees: which zones are added, exact counters,
// wraparound, and the permission-denied fallback.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "joule/meter.hpp"
#include "meter/fake_fs.hpp"

namespace joule {
namespace {

using ::testing::HasSubstr;
using testing::SetEnergy;
using testing::TempTree;
using testing::WriteZone;

constexpr unsigned long long kRange = 262143328850ull;  // a real package's max_energy_range_uj

std::vector<ChannelSample> ReadAll(PowerSource& source, double t = 0) {
  std::vector<ChannelSample> out(source.channels().size());
  source.Read(t, out);
  return out;
}

int IndexOf(const PowerSource& source, const std::string& name) {
  const auto& ch = source.channels();
  for (std::size_t i = 0; i < ch.size(); ++i) {
    if (ch[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

TEST(RaplSource, OnePackageCountsPackageNotItsCore) {
  TempTree tree;
  WriteZone(tree, "intel-rapl:0", "package-0", 1000000, kRange);
  WriteZone(tree, "intel-rapl:0:0", "core", 400000, kRange);
  tree.MakeDir("intel-rapl");  // the control-type directory, not a zone
  SourceProbe probe;
  auto rapl = OpenRaplSource(tree.root(), &probe);
  ASSERT_NE(rapl, nullptr) << probe.reason;
  EXPECT_TRUE(probe.available);
  EXPECT_EQ(rapl->method(), "measured:rapl");
  int pkg = IndexOf(*rapl, "package-0"), core = IndexOf(*rapl, "package-0/core");
  ASSERT_GE(pkg, 0);
  ASSERT_GE(core, 0);
  EXPECT_TRUE(rapl->channels()[pkg].counted);
  EXPECT_EQ(rapl->channels()[pkg].component, Component::kCpu);
  EXPECT_FALSE(rapl->channels()[core].counted);

  SetEnergy(tree, "intel-rapl:0", 1000000 + 123456789);
  SetEnergy(tree, "intel-rapl:0:0", 400000 + 1);
  auto s = ReadAll(*rapl);
  ASSERT_TRUE(s[pkg].ok);
  EXPECT_EQ(s[pkg].energy_uj, 123456789u);
  EXPECT_EQ(s[core].energy_uj, 1u);
}

TEST(RaplSource, TwoPackagesWithDramAndPsysAddPackagesAndDramOnly) {
  TempTree tree;
  WriteZone(tree, "intel-rapl:0", "package-0", 10, kRange);
  WriteZone(tree, "intel-rapl:0:0", "core", 10, kRange);
  WriteZone(tree, "intel-rapl:0:1", "dram", 10, kRange);
  WriteZone(tree, "intel-rapl:1", "package-1", 10, kRange);
  WriteZone(tree, "intel-rapl:1:0", "dram", 10, kRange);
  WriteZone(tree, "intel-rapl:2", "psys", 10, kRange);
  auto rapl = OpenRaplSource(tree.root(), nullptr);
  ASSERT_NE(rapl, nullptr);
  std::vector<std::string> counted, reported;
  for (const Channel& ch : rapl->channels()) (ch.counted ? counted : reported).push_back(ch.name);
  EXPECT_THAT(counted, ::testing::UnorderedElementsAre("package-0", "package-0/dram", "package-1",
                                                       "package-1/dram"));
  EXPECT_THAT(reported, ::testing::UnorderedElementsAre("package-0/core", "psys"));
  EXPECT_EQ(rapl->channels()[IndexOf(*rapl, "package-1/dram")].component, Component::kRam);

  SetEnergy(tree, "intel-rapl:0", 10 + 5000001);
  SetEnergy(tree, "intel-rapl:0:0", 10 + 4000000);
  SetEnergy(tree, "intel-rapl:0:1", 10 + 700003);
  SetEnergy(tree, "intel-rapl:1", 10 + 3000007);
  SetEnergy(tree, "intel-rapl:1:0", 10 + 600011);
  SetEnergy(tree, "intel-rapl:2", 10 + 9999999);
  auto s = ReadAll(*rapl);
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (rapl->channels()[i].counted) sum += s[i].energy_uj;
  }
  EXPECT_EQ(sum, 5000001u + 700003u + 3000007u + 600011u);
}

TEST(RaplSource, PsysAloneIsCounted) {
  TempTree tree;
  WriteZone(tree, "intel-rapl:0", "psys", 0, kRange);
  auto rapl = OpenRaplSource(tree.root(), nullptr);
  ASSERT_NE(rapl, nullptr);
  ASSERT_EQ(rapl->channels().size(), 1u);
  EXPECT_TRUE(rapl->channels()[0].counted);
  EXPECT_EQ(rapl->channels()[0].component, Component::kSystem);
}

TEST(RaplSource, MmioDuplicateOfPackageIsSkipped) {
  TempTree tree;
  WriteZone(tree, "intel-rapl:0", "package-0", 0, kRange);
  WriteZone(tree, "intel-rapl-mmio:0", "package-0", 0, kRange);
  auto rapl = OpenRaplSource(tree.root(), nullptr);
  ASSERT_NE(rapl, nullptr);
  EXPECT_EQ(rapl->channels().size(), 1u);
  EXPECT_THAT(rapl->detail(), HasSubstr("duplicates"));
}

TEST(RaplSource, WraparoundBetweenTwoSamplesIsExact) {
  TempTree tree;
  const unsigned long long max = 65532610987ull;  // an AMD-sized range
  WriteZone(tree, "intel-rapl:0", "package-0", max - 100, max);
  auto rapl = OpenRaplSource(tree.root(), nullptr);
  ASSERT_NE(rapl, nullptr);
  SetEnergy(tree, "intel-rapl:0", max - 40);
  EXPECT_EQ(ReadAll(*rapl)[0].energy_uj, 60u);
  // Counts max-40 -> max (40), wraps to 0 (1), then 0 -> 50 (50).
  SetEnergy(tree, "intel-rapl:0", 50);
  EXPECT_EQ(ReadAll(*rapl)[0].energy_uj, 60u + 91u);
  SetEnergy(tree, "intel-rapl:0", 1050);
  EXPECT_EQ(ReadAll(*rapl)[0].energy_uj, 60u + 91u + 1000u);
  // The sampler must read often enough for one wrap at most: 65.5 kJ at <= 1 kW.
  EXPECT_NEAR(rapl->max_read_interval_s(), 65.53, 0.01);
}

TEST(RaplSource, UnreadableValueKeepsTotalAndMarksSample) {
  TempTree tree;
  WriteZone(tree, "intel-rapl:0", "package-0", 0, kRange);
  auto rapl = OpenRaplSource(tree.root(), nullptr);
  ASSERT_NE(rapl, nullptr);
  SetEnergy(tree, "intel-rapl:0", 500);
  EXPECT_EQ(ReadAll(*rapl)[0].energy_uj, 500u);
  tree.Write("intel-rapl:0/energy_uj", "garbage\n");
  auto s = ReadAll(*rapl);
  EXPECT_FALSE(s[0].ok);
  EXPECT_EQ(s[0].energy_uj, 500u);
}

TEST(RaplSource, MissingTreeSaysWhy) {
  SourceProbe probe;
  EXPECT_EQ(OpenRaplSource("/nonexistent/powercap", &probe), nullptr);
  EXPECT_FALSE(probe.available);
  EXPECT_THAT(probe.reason, HasSubstr("/nonexistent/powercap"));
  TempTree empty_of_zones;
  empty_of_zones.MakeDir("dtpm");
  EXPECT_EQ(OpenRaplSource(empty_of_zones.root(), &probe), nullptr);
  EXPECT_THAT(probe.reason, HasSubstr("no intel-rapl zone"));
}

// Runs `body` in a child process without root's right to read any file, and
// returns what it wrote to its pipe. Root reads a mode-000 file anyway, so a
// test of EACCES must drop privileges; a non-root runner needs only the chmod.
template <typename Body>
std::string RunUnprivileged(Body body) {
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(3);
    std::string out = body();
    ssize_t ignored = write(fds[1], out.data(), out.size());
    (void)ignored;
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, n);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "child failed";
  return out;
}

TEST(RaplSource, PermissionDeniedNamesFileWhyAndFix) {
  TempTree tree;
  WriteZone(tree, "intel-rapl:0", "package-0", 0, kRange);
  chmod(tree.Path("intel-rapl:0/energy_uj").c_str(), 0);
  std::string reason = RunUnprivileged([&] {
    SourceProbe probe;
    auto rapl = OpenRaplSource(tree.root(), &probe);
    return std::string(rapl == nullptr ? "null|" : "opened|") + probe.reason;
  });
  EXPECT_THAT(reason, HasSubstr("null|cannot read " + tree.Path("intel-rapl:0/energy_uj")));
  EXPECT_THAT(reason, HasSubstr("permission denied"));
  EXPECT_THAT(reason, HasSubstr("root only"));
  EXPECT_THAT(reason, HasSubstr("sudo chmod a+r " + tree.root() + "/intel-rapl*/energy_uj"));
}

TEST(DiscoverSensors, UnreadableRaplFallsBackToLabelledModel) {
  TempTree sys, proc;
  WriteZone(sys, "intel-rapl:0", "package-0", 0, kRange);
  chmod(sys.Path("intel-rapl:0/energy_uj").c_str(), 0);
  proc.Write("cpuinfo", "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu hypervisor\n");
  proc.Write("meminfo", "MemTotal:       8000000 kB\n");
  testing::WriteProcStat(proc, 100, 100);
  std::string out = RunUnprivileged([&] {
    SensorOptions options;
    options.powercap_dir = sys.root();
    options.hwmon_dir = sys.Path("no-hwmon");
    options.proc_root = proc.root();
    options.nvml_library = "/nonexistent/libnvidia-ml.so.1";
    options.amdsmi_library = "/nonexistent/libamd_smi.so";
    SensorSet set = DiscoverSensors(options);
    std::string text;
    for (const auto& src : set.sources) {
      for (const Channel& ch : src->channels()) {
        text += std::string(ComponentName(ch.component)) + "=" + std::string(src->method()) + ";";
      }
    }
    for (const std::string& w : set.warnings) text += "|" + w;
    return text;
  });
  EXPECT_THAT(out, HasSubstr("cpu=estimated:tdp-model;"));
  EXPECT_THAT(out, HasSubstr("ram=estimated:tdp-model;"));
  EXPECT_THAT(out, HasSubstr("|RAPL not used: cannot read " + sys.Path("intel-rapl:0/energy_uj")));
  EXPECT_THAT(out, HasSubstr("falls back to estimated:tdp-model"));
}

TEST(DiscoverSensors, ReadableRaplIsUsedForCpuAndDram) {
  TempTree sys, proc;
  WriteZone(sys, "intel-rapl:0", "package-0", 0, kRange);
  WriteZone(sys, "intel-rapl:0:0", "dram", 0, kRange);
  proc.Write("cpuinfo", "processor\t: 0\nmodel name\t: X\nflags\t\t: fpu\n");
  proc.Write("meminfo", "MemTotal:       8000000 kB\n");
  testing::WriteProcStat(proc, 100, 100);
  SensorOptions options;
  options.powercap_dir = sys.root();
  options.hwmon_dir = sys.Path("no-hwmon");
  options.proc_root = proc.root();
  options.nvml_library = "/nonexistent/libnvidia-ml.so.1";
  options.amdsmi_library = "/nonexistent/libamd_smi.so";
  SensorSet set = DiscoverSensors(options);
  ASSERT_EQ(set.sources.size(), 1u);
  EXPECT_EQ(set.sources[0]->kind(), "rapl");
  EXPECT_TRUE(set.warnings.empty());
  bool model_probe_says_not_needed = false;
  for (const SourceProbe& p : set.probes) {
    if (p.kind == "tdp-model") model_probe_says_not_needed = !p.available;
  }
  EXPECT_TRUE(model_probe_says_not_needed);
}

}  // namespace
}  // namespace joule
