// The Meter with fake sources and a fake clock: accumulation, tasks, carbon,
// the background thread, and no allocation per sample.
#include "joule/meter.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <new>
#include <thread>

#include "joule/carbon.hpp"
#include "joule/util.hpp"
#include "meter/fake_fs.hpp"

// Counts allocations made by the thread that armed the counter, so the test
// can show that a steady-state sample allocates nothing. Sanitizer builds
// keep their own allocator (which checks that every free matches its
// allocation function); the test is skipped there.
namespace {
thread_local bool g_count_allocations = false;
std::atomic<long> g_allocations{0};
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCountingAllocations = false;
#else
constexpr bool kCountingAllocations = true;
#endif
}  // namespace

#if !defined(__SANITIZE_ADDRESS__)
// GCC cannot see that these replace the global pair and warns that free()
// gets a pointer from operator new; they are a matched malloc/free family
// (array and sized forms forward to these in libstdc++).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  if (g_count_allocations) g_allocations.fetch_add(1);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  if (g_count_allocations) g_allocations.fetch_add(1);
  return std::malloc(size == 0 ? 1 : size);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
#endif

namespace joule {
namespace {

using ::testing::HasSubstr;

class FakeClock : public Clock {
 public:
  double MonotonicSeconds() const override { return t; }
  double UnixSeconds() const override { return 1.7e9 + t; }
  double t = 0;
};

// A source whose readings the test sets: one counter channel ("pkg", cpu)
// and one uncounted subzone ("core").
class FakeCounterSource : public PowerSource {
 public:
  FakeCounterSource() {
    channels_.push_back({"pkg", Component::kCpu, ReadingKind::kEnergyCounter, true, ""});
    channels_.push_back({"core", Component::kCpu, ReadingKind::kEnergyCounter, false, ""});
  }
  std::string_view kind() const override { return "fake"; }
  std::string_view method() const override { return "measured:fake"; }
  std::string detail() const override { return "fake"; }
  const std::vector<Channel>& channels() const override { return channels_; }
  void Read(double, std::span<ChannelSample> out) override {
    out[0] = {*pkg_uj, 0, true};
    out[1] = {*pkg_uj / 2, 0, true};
  }
  double max_read_interval_s() const override { return limit_s; }
  std::shared_ptr<std::uint64_t> pkg_uj = std::make_shared<std::uint64_t>(0);
  double limit_s = std::numeric_limits<double>::infinity();

 private:
  std::vector<Channel> channels_;
};

struct Rig {
  testing::TempTree proc;
  FakeClock clock;
  std::shared_ptr<std::uint64_t> pkg_uj;
  std::unique_ptr<Meter> meter;

  explicit Rig(MeterOptions options = {}, double source_limit_s = 1e9) {
    testing::WriteProcStat(proc, 100, 100);
    proc.Write("meminfo", "MemTotal: 1000 kB\n");
    testing::WritePidStat(proc, 7, 1, 0, 0, 0, 0);
    testing::WriteChildren(proc, 7, "");
    auto source = std::make_unique<FakeCounterSource>();
    source->limit_s = source_limit_s;
    pkg_uj = source->pkg_uj;
    std::vector<std::unique_ptr<PowerSource>> sources;
    sources.push_back(std::move(source));
    options.attribution = Attribution::kMachine;
    options.background = options.background && false;
    options.clock = &clock;
    options.proc_root = proc.root();
    meter = std::make_unique<Meter>(std::move(sources), options);
  }
};

TEST(Meter, CountersAccumulateExactlyAndUncountedChannelsStayOut) {
  Rig rig;
  *rig.pkg_uj = 1000;
  rig.meter->Start();
  *rig.pkg_uj = 1000 + 2500001;
  rig.clock.t = 1;
  rig.meter->SampleNow();
  *rig.pkg_uj = 1000 + 2500001 + 1;
  rig.clock.t = 2;
  MeterReading r = rig.meter->Stop();
  EXPECT_EQ(r.energy_j, 2.500002);
  EXPECT_EQ(r.channels[0].machine_j, 2.500002);
  EXPECT_FALSE(r.channels[1].counted);
  EXPECT_EQ(r.ComponentJ(Component::kCpu), 2.500002);  // core not added
  EXPECT_EQ(r.samples, 2u);
  EXPECT_EQ(r.duration_s, 2.0);
  EXPECT_FALSE(r.estimated);
  EXPECT_EQ(r.ComponentMethod(Component::kCpu), "measured:fake");
}

TEST(Meter, TasksMeasureTheirOwnSpan) {
  Rig rig;
  rig.meter->Start();
  *rig.pkg_uj = 1000000;
  rig.clock.t = 1;
  rig.meter->BeginTask("epoch-1");
  *rig.pkg_uj = 4000000;
  rig.clock.t = 3;
  {
    TaskScope scope(*rig.meter, "inner");
    *rig.pkg_uj = 4500000;
    rig.clock.t = 4;
    const TaskEnergy& inner = scope.End();
    EXPECT_DOUBLE_EQ(inner.reading.energy_j, 0.5);
  }
  TaskEnergy epoch = rig.meter->EndTask("epoch-1");
  EXPECT_EQ(epoch.name, "epoch-1");
  EXPECT_DOUBLE_EQ(epoch.reading.energy_j, 3.5);
  EXPECT_DOUBLE_EQ(epoch.reading.duration_s, 3.0);
  ASSERT_EQ(rig.meter->tasks().size(), 2u);
  EXPECT_EQ(rig.meter->tasks()[0].name, "inner");
  EXPECT_THROW(rig.meter->EndTask("epoch-1"), Error);
  rig.meter->BeginTask("open-at-stop");
  *rig.pkg_uj = 5000000;
  rig.meter->Stop();
  ASSERT_EQ(rig.meter->tasks().size(), 3u);
  EXPECT_DOUBLE_EQ(rig.meter->tasks()[2].reading.energy_j, 0.5);
}

// A boundary within task_sample_gap_s of the last sample reuses that sample
// (its time moves on, its energy does not); further away, it samples; with a
// gap of 0 every boundary samples.
TEST(Meter, TaskBoundariesCloseToASampleReuseIt) {
  Rig rig;
  rig.meter->Start();
  *rig.pkg_uj = 2000000;
  rig.clock.t = 1;
  rig.meter->SampleNow();
  *rig.pkg_uj = 9000000;  // not read unless a boundary samples
  rig.clock.t = 1.002;
  rig.meter->BeginTask("short");
  rig.clock.t = 1.006;
  TaskEnergy task = rig.meter->EndTask("short");
  EXPECT_EQ(task.reading.energy_j, 0);  // no sample inside it
  EXPECT_NEAR(task.reading.duration_s, 0.004, 1e-12);
  EXPECT_EQ(rig.meter->Last().samples, 1u);
  rig.meter->BeginTask("spans-a-sample");
  rig.clock.t = 2;  // a second later: the boundary samples
  TaskEnergy spans = rig.meter->EndTask("spans-a-sample");
  EXPECT_EQ(rig.meter->Last().samples, 2u);
  EXPECT_DOUBLE_EQ(spans.reading.energy_j, 7.0);
  EXPECT_DOUBLE_EQ(rig.meter->Last().energy_j, 9.0);
  MeterReading total = rig.meter->Stop();
  EXPECT_LE(task.reading.energy_j + spans.reading.energy_j, total.energy_j);

  MeterOptions every;
  every.task_sample_gap_s = 0;
  Rig exact(every);
  exact.meter->Start();
  *exact.pkg_uj = 2000000;
  exact.clock.t = 1;
  exact.meter->SampleNow();
  *exact.pkg_uj = 9000000;
  exact.clock.t = 1.002;
  exact.meter->BeginTask("short");
  EXPECT_EQ(exact.meter->Last().samples, 2u);
  exact.meter->Stop();
}

// Before the first sample there is nothing to reuse: the boundary samples.
TEST(Meter, TheFirstTaskBoundarySamples) {
  Rig rig;
  rig.meter->Start();
  *rig.pkg_uj = 1000;
  rig.clock.t = 0.001;
  rig.meter->BeginTask("first");
  EXPECT_EQ(rig.meter->Last().samples, 1u);
  EXPECT_DOUBLE_EQ(rig.meter->Last().energy_j, 0.001);
  rig.meter->Stop();
}

TEST(Meter, MisuseThrows) {
  Rig rig;
  EXPECT_THROW(rig.meter->Read(), Error);
  EXPECT_THROW(rig.meter->Stop(), Error);
  EXPECT_THROW(rig.meter->BeginTask("x"), Error);
  rig.meter->Start();
  EXPECT_THROW(rig.meter->Start(), Error);
  rig.meter->BeginTask("x");
  EXPECT_THROW(rig.meter->BeginTask("x"), Error);
  rig.meter->Stop();
}

TEST(Meter, IntervalOutOfRangeIsRejected) {
  for (double bad : {0.0, 0.005, -1.0, 4000.0}) {
    MeterOptions options;
    options.interval_s = bad;
    EXPECT_THROW(Rig rig(options), Error) << bad;
  }
}

TEST(Meter, IntervalClampedToSourceWrapLimit) {
  MeterOptions options;
  options.interval_s = 10;
  Rig rig(options, /*source_limit_s=*/2.5);
  EXPECT_EQ(rig.meter->interval_s(), 2.5);
}

TEST(Meter, GramsFromCarbonModelPerInterval) {
  CarbonOptions carbon;
  carbon.intensity_g_per_kwh = 400;
  carbon.pue = 1.5;
  carbon.embodied_kg = 100;
  carbon.lifetime_years = 4;
  MeterOptions options;
  options.carbon = CarbonModel::Resolve(carbon, JOULE_SOURCE_DATA_DIR);
  Rig rig(options);
  rig.meter->Start();
  *rig.pkg_uj = 3600000000ull;  // 3600 J = 1 Wh
  rig.clock.t = 3600;
  MeterReading r = rig.meter->Stop();
  EXPECT_NEAR(r.operational_g, 0.001 * 1.5 * 400, 1e-12);
  EXPECT_NEAR(r.embodied_g, 100e3 * 3600 / (4 * 365.25 * 86400), 1e-9);
}

TEST(Meter, BackgroundThreadSamples) {
  testing::TempTree proc;
  testing::WriteProcStat(proc, 1, 1);
  auto source = std::make_unique<FakeCounterSource>();
  std::vector<std::unique_ptr<PowerSource>> sources;
  sources.push_back(std::move(source));
  MeterOptions options;
  options.attribution = Attribution::kMachine;
  options.interval_s = 0.01;
  options.proc_root = proc.root();
  Meter meter(std::move(sources), options);
  std::atomic<int> callbacks{0};
  meter.set_on_sample([&](const MeterReading&) { callbacks.fetch_add(1); });
  meter.Start();
  // Wait for three ticks; the bound only keeps a broken sampler from hanging.
  for (int i = 0; i < 2000 && callbacks.load() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  MeterReading r = meter.Stop();
  EXPECT_GE(callbacks.load(), 3);
  EXPECT_GE(r.samples, 4u);  // the ticks plus Stop's last sample
  EXPECT_FALSE(meter.running());
}

TEST(Meter, SteadyStateSampleDoesNotAllocate) {
  if (!kCountingAllocations) GTEST_SKIP() << "sanitizer build: allocations not counted";
  testing::TempTree proc;
  testing::WriteProcStat(proc, 100, 100);
  proc.Write("meminfo", "MemTotal: 1000 kB\n");
  testing::WritePidStat(proc, 7, 1, 0, 0, 0, 0);
  testing::WriteChildren(proc, 7, "8");
  testing::WritePidStat(proc, 8, 7, 5, 0, 0, 0);
  testing::WriteChildren(proc, 8, "");
  proc.Write("cpuinfo", "processor : 0\nmodel name : X 1\nflags : hypervisor\n");
  std::vector<std::unique_ptr<PowerSource>> sources;
  sources.push_back(std::make_unique<FakeCounterSource>());
  TdpModelOptions model;
  model.proc_root = proc.root();
  sources.push_back(MakeTdpModelSource(model, nullptr));
  FakeClock clock;
  MeterOptions options;
  options.root_pid = 7;
  options.background = false;
  options.clock = &clock;
  options.proc_root = proc.root();
  Meter meter(std::move(sources), options);
  meter.Start();
  meter.SampleNow();  // first sample may size buffers
  g_allocations = 0;
  g_count_allocations = true;
  for (int i = 0; i < 10; ++i) {
    clock.t += 0.1;
    meter.SampleNow();
  }
  g_count_allocations = false;
  EXPECT_EQ(g_allocations.load(), 0);
  meter.Stop();
}

TEST(Meter, ProcessModeNeedsALiveRoot) {
  testing::TempTree proc;
  testing::WriteProcStat(proc, 1, 1);
  std::vector<std::unique_ptr<PowerSource>> sources;
  sources.push_back(std::make_unique<FakeCounterSource>());
  MeterOptions options;
  options.root_pid = 999999;
  options.proc_root = proc.root();
  try {
    Meter meter(std::move(sources), options);
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("999999"));
  }
}

TEST(Meter, ReadingDifferenceRecomputesShares) {
  MeterReading a, b;
  a.attribution = b.attribution = Attribution::kProcessTree;
  a.channels.resize(1);
  b.channels.resize(1);
  b.channels[0].energy_j = 10;
  b.energy_j = 10;
  b.process_cpu_s = 3;
  b.machine_busy_cpu_s = 4;
  b.machine_cpu_s = 8;
  a.process_cpu_s = 1;
  a.machine_busy_cpu_s = 2;
  a.machine_cpu_s = 4;
  MeterReading d = ReadingDifference(b, a);
  EXPECT_DOUBLE_EQ(d.cpu_share, 1.0);  // 2 of 2
  EXPECT_DOUBLE_EQ(d.machine_load, 0.5);
  EXPECT_DOUBLE_EQ(d.energy_j, 10);
}

}  // namespace
}  // namespace joule
