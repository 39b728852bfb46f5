// AMD SMI through a stub library loaded by the real dlopen path.
#include <dlfcn.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "joule/meter.hpp"

namespace joule {
namespace {

using ::testing::HasSubstr;

// The stub's control functions, through our own handle on the same library
// (dlopen of one path returns one instance, shared with the source). Every
// test starts from the same state: one GPU, counter on at 15.3 uJ, release 25.
class StubAmdSmi {
 public:
  StubAmdSmi() : handle_(dlopen(JOULE_STUB_AMDSMI, RTLD_NOW | RTLD_LOCAL)) {
    if (handle_ == nullptr) throw std::runtime_error(dlerror());
    Sym("joule_stub_amdsmi_set_count", &set_count_);
    Sym("joule_stub_amdsmi_set", &set_);
    Sym("joule_stub_amdsmi_set_energy", &set_energy_);
    Sym("joule_stub_amdsmi_set_year", &set_year_);
    Sym("joule_stub_amdsmi_initialized", &initialized_);
    set_count_(1);
    set_(0, 0, 0);
    set_energy_(1, 15.3f);
    set_year_(25);
  }
  ~StubAmdSmi() { dlclose(handle_); }
  void SetCount(unsigned n) { set_count_(n); }
  void Set(unsigned gpu, std::uint64_t count, std::uint32_t power_w) { set_(gpu, count, power_w); }
  void SetEnergy(bool supported, float resolution_uj) { set_energy_(supported, resolution_uj); }
  void SetYear(std::uint32_t year) { set_year_(year); }
  bool initialized() { return initialized_() != 0; }

 private:
  template <typename Fn>
  void Sym(const char* name, Fn* fn) {
    *fn = reinterpret_cast<Fn>(dlsym(handle_, name));
    if (*fn == nullptr) throw std::runtime_error(std::string("stub lacks ") + name);
  }
  void* handle_;
  void (*set_count_)(unsigned) = nullptr;
  void (*set_)(unsigned, std::uint64_t, std::uint32_t) = nullptr;
  void (*set_energy_)(int, float) = nullptr;
  void (*set_year_)(std::uint32_t) = nullptr;
  int (*initialized_)() = nullptr;
};

TEST(AmdSmiSource, EnergyCounterTimesResolutionPerGpu) {
  StubAmdSmi stub;
  stub.SetCount(2);
  stub.SetEnergy(true, 15.25f);  // exactly representable, so the products are exact
  stub.Set(0, 1000000, 0);
  stub.Set(1, 7, 0);
  SourceProbe probe;
  auto amd = OpenAmdSmiSource(JOULE_STUB_AMDSMI, &probe);
  ASSERT_NE(amd, nullptr) << probe.reason;
  EXPECT_TRUE(stub.initialized());
  EXPECT_EQ(amd->kind(), "amdsmi");
  EXPECT_EQ(amd->method(), "measured:amdsmi");
  ASSERT_EQ(amd->channels().size(), 2u);
  EXPECT_EQ(amd->channels()[0].name, "gpu0");
  EXPECT_EQ(amd->channels()[0].component, Component::kGpu);
  EXPECT_EQ(amd->channels()[0].kind, ReadingKind::kEnergyCounter);
  EXPECT_THAT(amd->channels()[1].detail, HasSubstr("Stub Instinct 1"));
  EXPECT_THAT(amd->channels()[0].detail, HasSubstr("15.25 uJ per count"));
  EXPECT_THAT(probe.reason, HasSubstr("AMD SMI 25.1.2"));
  EXPECT_THAT(probe.reason, HasSubstr("never split by process"));

  stub.Set(0, 1000000 + 4000, 0);  // 4000 counts x 15.25 uJ = 61000 uJ
  stub.Set(1, 7 + 1, 0);
  std::vector<ChannelSample> s(2);
  amd->Read(1.0, s);
  ASSERT_TRUE(s[0].ok && s[1].ok);
  EXPECT_EQ(s[0].energy_uj, 61000u);
  EXPECT_EQ(s[1].energy_uj, 15u);  // 15.25 uJ so far, whole uJ reported
  stub.Set(0, 1000000 + 4000 + 2, 0);
  stub.Set(1, 7 + 4, 0);
  amd->Read(2.0, s);
  EXPECT_EQ(s[0].energy_uj, 61030u);  // 4002 x 15.25 = 61030.5
  EXPECT_EQ(s[1].energy_uj, 61u);     // 4 x 15.25: the fractions are kept, not lost per read
  // The driver reloaded: the counter restarts; its new value is all new energy.
  stub.Set(0, 10, 0);
  amd->Read(3.0, s);
  EXPECT_EQ(s[0].energy_uj, 61183u);  // 61030.5 + 10 x 15.25: the half joules add up
  amd.reset();
  EXPECT_FALSE(stub.initialized());  // amdsmi_shut_down on close
}

// A clock the test moves by hand.
class FakeClock : public Clock {
 public:
  double MonotonicSeconds() const override { return t; }
  double UnixSeconds() const override { return 1.7e9 + t; }
  double t = 0;
};

// Without an energy counter the socket power is integrated by the meter,
// read in the layout of the library's release.
double IntegratedJoules(StubAmdSmi& stub) {
  std::vector<std::unique_ptr<PowerSource>> sources;
  sources.push_back(OpenAmdSmiSource(JOULE_STUB_AMDSMI, nullptr));
  if (sources[0] == nullptr) return -1;
  EXPECT_EQ(sources[0]->channels()[0].kind, ReadingKind::kInstantPower);
  FakeClock clock;
  MeterOptions options;
  options.attribution = Attribution::kMachine;
  options.background = false;
  options.clock = &clock;
  Meter meter(std::move(sources), options);
  stub.Set(0, 0, 100);
  meter.Start();  // 100 W at t=0
  clock.t = 2;
  stub.Set(0, 0, 200);
  meter.SampleNow();  // (100+200)/2 x 2 = 300 J
  clock.t = 3;
  stub.Set(0, 0, 50);
  MeterReading r = meter.Stop();  // (200+50)/2 x 1 = 125 J
  EXPECT_EQ(r.ComponentMethod(Component::kGpu), "measured:amdsmi");
  return r.ComponentJ(Component::kGpu);
}

TEST(AmdSmiSource, WithoutCounterIntegratesSocketPowerOfRelease25) {
  StubAmdSmi stub;
  stub.SetEnergy(false, 0);
  stub.SetYear(25);
  EXPECT_DOUBLE_EQ(IntegratedJoules(stub), 425.0);
}

TEST(AmdSmiSource, WithoutCounterIntegratesAveragePowerOfRelease24) {
  StubAmdSmi stub;
  stub.SetEnergy(false, 0);
  stub.SetYear(24);
  EXPECT_DOUBLE_EQ(IntegratedJoules(stub), 425.0);
}

TEST(AmdSmiSource, UnknownReleaseWithoutCounterIsRefusedNotMisread) {
  StubAmdSmi stub;
  stub.SetEnergy(false, 0);
  stub.SetYear(23);
  stub.Set(0, 0, 100);
  SourceProbe probe;
  EXPECT_EQ(OpenAmdSmiSource(JOULE_STUB_AMDSMI, &probe), nullptr);
  EXPECT_FALSE(probe.available);
  EXPECT_THAT(probe.reason, HasSubstr("no power layout known for AMD SMI 23.1.2"));
  EXPECT_FALSE(stub.initialized());  // shut down on the way out
}

TEST(AmdSmiSource, MissingLibrarySaysWhy) {
  SourceProbe probe;
  EXPECT_EQ(OpenAmdSmiSource("/nonexistent/libamd_smi.so", &probe), nullptr);
  EXPECT_FALSE(probe.available);
  EXPECT_EQ(probe.kind, "amdsmi");
  EXPECT_THAT(probe.reason, HasSubstr("cannot load /nonexistent/libamd_smi.so"));
}

TEST(AmdSmiSource, NoGpuSaysWhy) {
  StubAmdSmi stub;
  stub.SetCount(0);
  SourceProbe probe;
  EXPECT_EQ(OpenAmdSmiSource(JOULE_STUB_AMDSMI, &probe), nullptr);
  EXPECT_THAT(probe.reason, HasSubstr("no GPU"));
}

TEST(AmdSmiSource, DiscoveryAddsItBesideTheModel) {
  StubAmdSmi stub;
  SensorOptions options = SensorOptionsFromEnvironment();
  options.powercap_dir = "/nonexistent/powercap";
  options.hwmon_dir = "/nonexistent/hwmon";
  options.nvml_library = "/nonexistent/libnvidia-ml.so.1";
  options.amdsmi_library = JOULE_STUB_AMDSMI;
  SensorSet set = DiscoverSensors(options);
  bool gpu = false;
  for (const auto& src : set.sources) gpu = gpu || src->kind() == "amdsmi";
  EXPECT_TRUE(gpu);
}

}  // namespace
}  // namespace joule
