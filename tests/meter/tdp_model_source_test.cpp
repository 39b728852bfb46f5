// The TDP model: hand computations of its figures, TDP lookup, VM rule.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <vector>

#include "joule/meter.hpp"
#include "joule/util.hpp"
#include "meter/fake_fs.hpp"

namespace joule {
namespace {

using ::testing::HasSubstr;
using testing::TempTree;

constexpr double kRel = 1e-9;

class FakeClock : public Clock {
 public:
  double MonotonicSeconds() const override { return t; }
  double UnixSeconds() const override { return 1.7e9 + t; }
  double t = 0;
};

void WriteCpuInfo(const TempTree& proc, const std::string& model, int threads, bool vm) {
  std::string text;
  for (int i = 0; i < threads; ++i) {
    text += "processor\t: " + std::to_string(i) + "\nvendor_id\t: X\nmodel name\t: " + model +
            "\nflags\t\t: fpu sse2" + (vm ? " hypervisor" : "") + " avx2\n\n";
  }
  proc.Write("cpuinfo", text);
}

struct FakeProc {
  TempTree proc;
  FakeProc(const std::string& model = "Some CPU", int threads = 2, bool vm = false) {
    WriteCpuInfo(proc, model, threads, vm);
    proc.Write("meminfo", "MemTotal:       16000000 kB\nMemFree:        1 kB\n");
    testing::WriteProcStat(proc, 1000, 1000);
  }
};

std::unique_ptr<PowerSource> Model(const FakeProc& fake, std::optional<double> tdp,
                                   std::vector<std::string>* warnings = nullptr) {
  TdpModelOptions options;
  options.proc_root = fake.proc.root();
  options.cpu_tdp_w = tdp;
  options.cpu_power_csv = std::string(JOULE_SOURCE_DATA_DIR) + "/carbon/cpu_power.csv";
  return MakeTdpModelSource(options, warnings);
}

double CpuPowerAtLoad(double tdp, double busy_fraction) {
  FakeProc fake;
  auto model = Model(fake, tdp);
  // 1000 more ticks, of which busy_fraction busy.
  auto busy = static_cast<unsigned long long>(std::llround(1000 * busy_fraction));
  testing::WriteProcStat(fake.proc, 1000 + busy, 1000 + (1000 - busy));
  std::vector<ChannelSample> s(model->channels().size());
  model->Read(1, s);
  EXPECT_EQ(model->channels()[0].name, "cpu");
  return s[0].power_w;
}

TEST(TdpModel, CpuPowerFollowsTheLoadCurve) {
  EXPECT_NEAR(CpuPowerAtLoad(100, 0.0), 10.0, 10.0 * kRel);
  EXPECT_NEAR(CpuPowerAtLoad(100, 1.0), 100.0, 100.0 * kRel);
  EXPECT_NEAR(CpuPowerAtLoad(100, 0.5), 21.25, 21.25 * kRel);  // 100 x (0.1 + 0.9 x 0.125)
  EXPECT_NEAR(CpuPowerAtLoad(65, 0.3), 65 * (0.1 + 0.9 * 0.027), 65 * 0.1243 * kRel);
}

TEST(TdpModel, MeterEnergyEqualsHandComputation) {
  FakeProc fake;
  std::vector<std::unique_ptr<PowerSource>> sources;
  sources.push_back(Model(fake, 100));
  EXPECT_EQ(sources[0]->method(), "estimated:tdp-model");
  FakeClock clock;
  clock.t = 50;
  MeterOptions options;
  options.attribution = Attribution::kMachine;
  options.background = false;
  options.clock = &clock;
  options.proc_root = fake.proc.root();
  Meter meter(std::move(sources), options);
  meter.Start();
  clock.t = 60;                                   // 10 s
  testing::WriteProcStat(fake.proc, 1400, 1400);  // load 0.5
  MeterReading r = meter.Stop();
  // CPU: 100 W x (0.1 + 0.9 x 0.5^3) x 10 s. RAM: 0.375 W/GB x 16.384 GB x 10 s.
  const double cpu_j = 100 * (0.1 + 0.9 * 0.125) * 10, ram_j = 0.375 * 16.384 * 10;
  EXPECT_NEAR(r.ComponentJ(Component::kCpu), cpu_j, cpu_j * kRel);
  EXPECT_NEAR(r.ComponentJ(Component::kRam), ram_j, ram_j * kRel);
  EXPECT_NEAR(r.energy_j, cpu_j + ram_j, (cpu_j + ram_j) * kRel);
  EXPECT_NEAR(r.duration_s, 10.0, 10 * kRel);
  EXPECT_NEAR(r.machine_load, 0.5, kRel);
  EXPECT_TRUE(r.estimated);
  EXPECT_EQ(r.ComponentMethod(Component::kCpu), "estimated:tdp-model");
}

TEST(TdpModel, ProcessShareOfModelEnergyByCpuTimeAndRss) {
  FakeProc fake;
  const TempTree& proc = fake.proc;
  testing::WritePidStat(proc, 100, 1, 10, 0, 0, 0, 1000, 1000);
  testing::WriteChildren(proc, 100, "101 ");
  testing::WritePidStat(proc, 101, 100, 20, 0, 0, 0, 1001, 3000);
  testing::WriteChildren(proc, 101, "");
  std::vector<std::unique_ptr<PowerSource>> sources;
  sources.push_back(Model(fake, 100));
  FakeClock clock;
  MeterOptions options;
  options.root_pid = 100;
  options.background = false;
  options.clock = &clock;
  options.proc_root = proc.root();
  options.share = ProcessShare::kBusyTime;  // the share of busy time, as before marginal
  Meter meter(std::move(sources), options);
  meter.Start();
  clock.t = 10;
  testing::WriteProcStat(proc, 1400, 1400);  // machine: 400 busy ticks, load 0.5
  testing::WritePidStat(proc, 100, 1, 60, 0, 0, 0, 1000, 1000);     // +50
  testing::WritePidStat(proc, 101, 100, 170, 0, 0, 0, 1001, 3000);  // +150
  MeterReading r = meter.Stop();
  const double cpu_machine_j = 212.5, ram_machine_j = 61.44;
  EXPECT_NEAR(r.ComponentMachineJ(Component::kCpu), cpu_machine_j, cpu_machine_j * kRel);
  EXPECT_NEAR(r.cpu_share, 0.5, kRel);  // 200 of 400 busy ticks
  EXPECT_NEAR(r.ComponentJ(Component::kCpu), cpu_machine_j * 0.5, cpu_machine_j * kRel);
  double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  double ram_share = 4000 * page / (16000000.0 * 1024);
  EXPECT_NEAR(r.ComponentJ(Component::kRam), ram_machine_j * ram_share, ram_machine_j * kRel);
  EXPECT_NEAR(r.process_cpu_s, 2.0, kRel * 2);  // USER_HZ is 100 on Linux
  EXPECT_NEAR(r.machine_busy_cpu_s, 4.0, kRel * 4);
}

TEST(TdpModel, RamShareSurvivesTheTreeExitingMidInterval) {
  FakeProc fake;
  const TempTree& proc = fake.proc;
  testing::WritePidStat(proc, 100, 1, 0, 0, 0, 0, 1000, 0);  // a launcher: no RSS of its own
  testing::WriteChildren(proc, 100, "101");
  testing::WritePidStat(proc, 101, 100, 0, 0, 0, 0, 1001, 40000);
  testing::WriteChildren(proc, 101, "");
  std::vector<std::unique_ptr<PowerSource>> sources;
  sources.push_back(Model(fake, 100));
  FakeClock clock;
  MeterOptions options;
  options.root_pid = 100;
  options.count_root_cpu = false;
  options.background = false;
  options.clock = &clock;
  options.proc_root = proc.root();
  Meter meter(std::move(sources), options);
  meter.Start();
  // 101 ran 100 ticks, exited and was reaped by the launcher before the sample.
  std::filesystem::remove_all(proc.Path("101"));
  testing::WriteChildren(proc, 100, "");
  testing::WritePidStat(proc, 100, 1, 0, 0, 100, 0, 1000, 0);
  testing::WriteProcStat(proc, 1400, 1400);
  clock.t = 10;
  MeterReading r = meter.Stop();
  double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  double share = 40000 * page / (16000000.0 * 1024);  // resident at the start of the interval
  EXPECT_NEAR(r.ComponentJ(Component::kRam), 61.44 * share, 61.44 * kRel);
  EXPECT_NEAR(r.process_cpu_s, 1.0, kRel);
}

TEST(TdpModel, ShortLivedTreeNeverSeenResidentIsChargedRamByCpuShare) {
  FakeProc fake;
  const TempTree& proc = fake.proc;
  testing::WritePidStat(proc, 100, 1, 0, 0, 0, 0, 1000, 0);
  testing::WriteChildren(proc, 100, "");
  std::vector<std::unique_ptr<PowerSource>> sources;
  sources.push_back(Model(fake, 100));
  FakeClock clock;
  MeterOptions options;
  options.root_pid = 100;
  options.count_root_cpu = false;
  options.background = false;
  options.clock = &clock;
  options.proc_root = proc.root();
  Meter meter(std::move(sources), options);
  meter.Start();
  // A child came and went within the interval: only the launcher's cutime shows it.
  testing::WritePidStat(proc, 100, 1, 0, 0, 100, 0, 1000, 0);
  testing::WriteProcStat(proc, 1400, 1400);
  clock.t = 10;
  MeterReading r = meter.Stop();
  EXPECT_NEAR(r.cpu_share, 0.25, kRel);  // 100 of 400 busy ticks
  EXPECT_NEAR(r.ComponentJ(Component::kRam), 61.44 * 0.25, 61.44 * kRel);
}

TEST(TdpModel, TdpFromTableForKnownBareMetalCpu) {
  FakeProc epyc("AMD EPYC 7763 64-Core Processor");
  EXPECT_THAT(Model(epyc, std::nullopt)->detail(), HasSubstr("TDP 280 W ('AMD EPYC 7763'"));
  FakeProc xeon("Intel(R) Xeon(R) Platinum 8275CL CPU @ 3.00GHz");
  EXPECT_THAT(Model(xeon, std::nullopt)->detail(), HasSubstr("TDP 240 W"));
  // A name one letter off is another chip, not a fuzzy match.
  FakeProc p_variant("AMD EPYC 7203P 8-Core Processor");
  EXPECT_THAT(Model(p_variant, std::nullopt)->detail(), HasSubstr("'AMD EPYC 7203P'"));
}

TEST(TdpModel, UnknownCpuGetsDocumentedDefaultAndWarning) {
  FakeProc fake("AMD EPYC");  // a generic name without a model number
  std::vector<std::string> warnings;
  auto model = Model(fake, std::nullopt, &warnings);
  EXPECT_THAT(model->detail(), HasSubstr("TDP 85 W (default"));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("--cpu-tdp"));
  std::vector<ChannelSample> s(2);
  testing::WriteProcStat(fake.proc, 2000, 1000);  // load 1
  model->Read(1, s);
  EXPECT_DOUBLE_EQ(s[0].power_w, kDefaultCpuTdpW);
}

TEST(TdpModel, VirtualMachineUsesPerThreadFigureAndSaysSo) {
  FakeProc fake("AMD EPYC 7763 64-Core Processor", 4, /*vm=*/true);
  auto model = Model(fake, std::nullopt);
  EXPECT_THAT(model->detail(), HasSubstr("virtual machine"));
  EXPECT_THAT(model->detail(), HasSubstr("3.5 W per thread x 4 threads = 14 W"));
  testing::WriteProcStat(fake.proc, 2000, 1000);  // load 1
  std::vector<ChannelSample> s(2);
  model->Read(1, s);
  EXPECT_DOUBLE_EQ(s[0].power_w, 14.0);
}

TEST(TdpModel, OverridesWinAndBadValuesAreRejected) {
  FakeProc fake("AMD EPYC 7763 64-Core Processor", 4, true);
  TdpModelOptions options;
  options.proc_root = fake.proc.root();
  options.cpu_tdp_w = 45;
  options.ram_power_w = 2;
  auto model = MakeTdpModelSource(options, nullptr);
  EXPECT_THAT(model->detail(), HasSubstr("TDP 45 W (--cpu-tdp)"));
  EXPECT_THAT(model->detail(), HasSubstr("RAM: 2 W (--ram-power)"));
  options.cpu_tdp_w = 0;
  EXPECT_THROW(MakeTdpModelSource(options, nullptr), Error);
  options.cpu_tdp_w = 45;
  options.ram_power_w = -1;
  EXPECT_THROW(MakeTdpModelSource(options, nullptr), Error);
}

TEST(TdpModel, MalformedTableNamesFileAndLine) {
  FakeProc fake("Foo 123");
  fake.proc.Write("table.csv", "Name,TDP\nFoo 123,abc\n");
  TdpModelOptions options;
  options.proc_root = fake.proc.root();
  options.cpu_power_csv = fake.proc.Path("table.csv");
  try {
    MakeTdpModelSource(options, nullptr);
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("table.csv:2"));
  }
}

// One busy core of two for 10 s (1000 ticks of the tree), alone or beside a
// neighbour that keeps the other core busy; the tree's CPU joules by `share`.
double TreeCpuJoules(ProcessShare share, bool neighbour, PowerModel model = PowerModel::kJoule) {
  FakeProc fake;
  const TempTree& proc = fake.proc;
  testing::WritePidStat(proc, 100, 1, 0, 0, 0, 0, 1000, 0);
  testing::WriteChildren(proc, 100, "");
  std::vector<std::unique_ptr<PowerSource>> sources;
  TdpModelOptions o;
  o.proc_root = proc.root();
  o.cpu_tdp_w = 100;
  o.model = model;
  sources.push_back(MakeTdpModelSource(o, nullptr));
  FakeClock clock;
  MeterOptions options;
  options.root_pid = 100;
  options.background = false;
  options.clock = &clock;
  options.proc_root = proc.root();
  options.share = share;
  Meter meter(std::move(sources), options);
  meter.Start();
  clock.t = 10;
  testing::WritePidStat(proc, 100, 1, 1000, 0, 0, 0, 1000, 0);
  // 2000 ticks of capacity (2 CPUs x 10 s x 100 Hz): the tree's 1000, the
  // neighbour's 1000 or idle.
  testing::WriteProcStat(proc, neighbour ? 3000 : 2000, neighbour ? 1000 : 2000);
  return meter.Stop().ComponentJ(Component::kCpu);
}

TEST(Attribution, MarginalShareDoesNotDependOnTheNeighbours) {
  // Its own load (0.5 of the capacity) on the curve plus the idle floor of
  // the half it held: 100 W x (0.1 x 0.5 + 0.9 x 0.5^3) x 10 s.
  const double own = 100 * (0.1 * 0.5 + 0.9 * 0.125) * 10;  // 162.5 J
  double alone = TreeCpuJoules(ProcessShare::kMarginal, false);
  double beside = TreeCpuJoules(ProcessShare::kMarginal, true);
  EXPECT_NEAR(alone, own, own * kRel);
  EXPECT_NEAR(beside, alone, 0.05 * alone);
  EXPECT_NEAR(beside, own, own * kRel);
}

TEST(Attribution, BusyTimeShareKeepsTodaysFigures) {
  // Alone: the machine at load 0.5 (21.25 W), all of its busy time the tree's.
  EXPECT_NEAR(TreeCpuJoules(ProcessShare::kBusyTime, false), 212.5, 212.5 * kRel);
  // Beside a neighbour: the machine at full load (100 W), half of it.
  EXPECT_NEAR(TreeCpuJoules(ProcessShare::kBusyTime, true), 500, 500 * kRel);
  EXPECT_EQ(ParseProcessShare("busy-time"), ProcessShare::kBusyTime);
  EXPECT_THROW(ParseProcessShare("fair"), Error);
}

// A fake /proc for CodeCarbon's model: `threads` threads on `sockets`
// sockets, `mem_kib` of memory.
std::unique_ptr<PowerSource> CodeCarbonModel(const TempTree& proc, const std::string& name,
                                             int threads, int sockets, double mem_kib,
                                             std::vector<std::string>* warnings = nullptr) {
  std::string text;
  for (int i = 0; i < threads; ++i) {
    text += "processor\t: " + std::to_string(i) + "\n";
    if (!name.empty()) text += "model name\t: " + name + "\n";
    text += "physical id\t: " + std::to_string(i % sockets) + "\n\n";
  }
  proc.Write("cpuinfo", text);
  proc.Write("meminfo", "MemTotal:       " + std::to_string(static_cast<long long>(mem_kib)) +
                            " kB\nMemFree:        1 kB\n");
  testing::WriteProcStat(proc, 1000, 1000);
  TdpModelOptions options;
  options.proc_root = proc.root();
  options.cpu_power_csv = std::string(JOULE_SOURCE_DATA_DIR) + "/carbon/cpu_power.csv";
  options.model = PowerModel::kCodeCarbon;
  return MakeTdpModelSource(options, warnings);
}

// CPU and RAM power at full machine load.
std::pair<double, double> FullLoadPower(const TempTree& proc, PowerSource& model) {
  testing::WriteProcStat(proc, 2000, 1000);  // load 1
  std::vector<ChannelSample> s(2);
  model.Read(1, s);
  return {s[0].power_w, s[1].power_w};
}

TEST(CodeCarbonModel, CpuTdpAsCodeCarbonFindsIt) {
  const double gib16 = 16.0 * 1024 * 1024;  // kB
  {
    // In its table (token subset of one row): that TDP x sockets.
    TempTree proc;
    auto m = CodeCarbonModel(proc, "AMD EPYC 7763 64-Core Processor", 4, 2, gib16);
    EXPECT_DOUBLE_EQ(FullLoadPower(proc, *m).first, 280.0 * 2);
    EXPECT_THAT(m->detail(), HasSubstr("'AMD EPYC 7763'"));
  }
  {
    // Named but not matched (several EPYC rows match "AMD EPYC" equally):
    // 4 W per thread x sockets.
    TempTree proc;
    auto m = CodeCarbonModel(proc, "AMD EPYC", 8, 2, gib16);
    EXPECT_DOUBLE_EQ(FullLoadPower(proc, *m).first, 4.0 * 8 * 2);
    EXPECT_THAT(m->detail(), HasSubstr("4 W per thread x 8 threads x 2 socket(s) = 64 W"));
  }
  {
    // No name at all: 85 W.
    TempTree proc;
    auto m = CodeCarbonModel(proc, "", 2, 1, gib16);
    EXPECT_DOUBLE_EQ(FullLoadPower(proc, *m).first, 85.0);
  }
  {
    // CodeCarbon's matching on decorated Intel names: "(R)" and the clock go.
    std::string row;
    EXPECT_EQ(CodeCarbonTableTdp(std::string(JOULE_SOURCE_DATA_DIR) + "/carbon/cpu_power.csv",
                                 "Intel(R) Xeon(R) Platinum 8275CL CPU @ 3.00GHz", &row),
              240.0);
    EXPECT_EQ(row, "Intel Xeon Platinum 8275CL");
  }
}

TEST(CodeCarbonModel, RamFromEstimatedDimms) {
  // 5 W a DIMM for the first 4, 4.5 W for the 5th-8th, 4 W for the 9th-16th,
  // 3.5 W past 16; at least 10 W.
  EXPECT_EQ(CodeCarbonDimmCount(16), 2);
  EXPECT_EQ(CodeCarbonRamPowerW(16), 10.0);
  EXPECT_EQ(CodeCarbonDimmCount(256), 8);  // 8 x 32 GiB
  EXPECT_EQ(CodeCarbonRamPowerW(256), 5 * 4 + 4.5 * 4);
  EXPECT_EQ(CodeCarbonRamPowerW(1), 10.0);   // 1 DIMM, the 10 W floor
  EXPECT_EQ(CodeCarbonRamPowerW(24), 20.0);  // 4 DIMMs
  EXPECT_EQ(CodeCarbonDimmCount(2048), 16);  // 16 x 128 GiB
  EXPECT_EQ(CodeCarbonRamPowerW(2048), 5 * 4 + 4.5 * 4 + 4.0 * 8);
  EXPECT_EQ(CodeCarbonDimmCount(8192), 32);  // capped
  EXPECT_EQ(CodeCarbonRamPowerW(8192), 5 * 4 + 4.5 * 4 + 4.0 * 8 + 3.5 * 16);
  TempTree proc;
  auto m = CodeCarbonModel(proc, "", 2, 1, 256.0 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(FullLoadPower(proc, *m).second, 38.0);
  EXPECT_THAT(m->detail(), HasSubstr("8 DIMMs for 256 GiB"));
}

TEST(CodeCarbonModel, ProcessModeIsLinearInTheTreesLoad) {
  // CodeCarbon's process mode: TDP x the tree's share of CPU capacity, no
  // floor: 100 W x 0.5 x 10 s, with or without a neighbour.
  EXPECT_NEAR(TreeCpuJoules(ProcessShare::kMarginal, false, PowerModel::kCodeCarbon), 500,
              500 * kRel);
  EXPECT_NEAR(TreeCpuJoules(ProcessShare::kMarginal, true, PowerModel::kCodeCarbon), 500,
              500 * kRel);
  EXPECT_EQ(ParsePowerModel("codecarbon"), PowerModel::kCodeCarbon);
  EXPECT_THROW(ParsePowerModel("carbontracker"), Error);
}

TEST(DeclaredSource, ConstantPowerLabelledDeclared) {
  auto declared = MakeDeclaredSource(120);
  EXPECT_EQ(declared->method(), "declared");
  ASSERT_EQ(declared->channels().size(), 1u);
  EXPECT_EQ(declared->channels()[0].component, Component::kSystem);
  EXPECT_THROW(MakeDeclaredSource(0), Error);
  EXPECT_THROW(MakeDeclaredSource(-5), Error);
}

}  // namespace
}  // namespace joule
