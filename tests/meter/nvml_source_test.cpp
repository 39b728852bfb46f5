// NVML through a stub library loaded by the real dlopen path.
#include <dlfcn.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "joule/meter.hpp"

namespace joule {
namespace {

using ::testing::HasSubstr;

// The stub's control functions, reached through our own handle on the same
// library (dlopen of one path returns one instance, shared with the source).
class StubNvml {
 public:
  explicit StubNvml(const char* path) : handle_(dlopen(path, RTLD_NOW | RTLD_LOCAL)) {
    if (handle_ == nullptr) throw std::runtime_error(dlerror());
    set_count_ = reinterpret_cast<void (*)(unsigned)>(dlsym(handle_, "joule_stub_nvml_set_count"));
    set_ = reinterpret_cast<void (*)(unsigned, unsigned long long, unsigned)>(
        dlsym(handle_, "joule_stub_nvml_set"));
    initialized_ = reinterpret_cast<int (*)()>(dlsym(handle_, "joule_stub_nvml_initialized"));
    if (set_count_ == nullptr || set_ == nullptr || initialized_ == nullptr) {
      throw std::runtime_error("stub control functions missing");
    }
  }
  ~StubNvml() { dlclose(handle_); }
  void SetCount(unsigned n) { set_count_(n); }
  void Set(unsigned device, unsigned long long energy_mj, unsigned power_mw) {
    set_(device, energy_mj, power_mw);
  }
  bool initialized() { return initialized_() != 0; }

 private:
  void* handle_;
  void (*set_count_)(unsigned);
  void (*set_)(unsigned, unsigned long long, unsigned);
  int (*initialized_)();
};

TEST(NvmlSource, EnergyCounterReadExactlyPerDevice) {
  StubNvml stub(JOULE_STUB_NVML);
  stub.SetCount(2);
  stub.Set(0, 1000000, 0);
  stub.Set(1, 5, 0);
  SourceProbe probe;
  auto nvml = OpenNvmlSource(JOULE_STUB_NVML, &probe);
  ASSERT_NE(nvml, nullptr) << probe.reason;
  EXPECT_TRUE(stub.initialized());
  EXPECT_EQ(nvml->method(), "measured:nvml");
  ASSERT_EQ(nvml->channels().size(), 2u);
  EXPECT_EQ(nvml->channels()[0].name, "gpu0");
  EXPECT_EQ(nvml->channels()[0].component, Component::kGpu);
  EXPECT_EQ(nvml->channels()[0].kind, ReadingKind::kEnergyCounter);
  EXPECT_THAT(nvml->channels()[1].detail, HasSubstr("Stub GPU 1"));
  EXPECT_THAT(probe.reason, HasSubstr("never split by process"));

  stub.Set(0, 1000000 + 123457, 0);  // mJ
  stub.Set(1, 5 + 1, 0);
  std::vector<ChannelSample> s(2);
  nvml->Read(1.0, s);
  ASSERT_TRUE(s[0].ok && s[1].ok);
  EXPECT_EQ(s[0].energy_uj, 123457000u);
  EXPECT_EQ(s[1].energy_uj, 1000u);
  stub.Set(0, 1000000 + 123457 + 2, 0);
  nvml->Read(2.0, s);
  EXPECT_EQ(s[0].energy_uj, 123459000u);
  nvml.reset();
  EXPECT_FALSE(stub.initialized());  // nvmlShutdown called on close
}

TEST(NvmlSource, WithoutEnergyFunctionIntegratesPower) {
  StubNvml stub(JOULE_STUB_NVML_NO_ENERGY);
  stub.SetCount(1);
  stub.Set(0, 0, 100000);  // 100 W
  auto nvml = OpenNvmlSource(JOULE_STUB_NVML_NO_ENERGY, nullptr);
  ASSERT_NE(nvml, nullptr);
  ASSERT_EQ(nvml->channels().size(), 1u);
  EXPECT_EQ(nvml->channels()[0].kind, ReadingKind::kInstantPower);
  EXPECT_THAT(nvml->channels()[0].detail, HasSubstr("integrated"));
  std::vector<ChannelSample> s(1);
  nvml->Read(0, s);
  EXPECT_TRUE(s[0].ok);
  EXPECT_EQ(s[0].power_w, 100.0);
}

// A clock the test moves by hand.
class FakeClock : public Clock {
 public:
  double MonotonicSeconds() const override { return t; }
  double UnixSeconds() const override { return 1.7e9 + t; }
  double t = 0;
};

TEST(NvmlSource, MeterIntegratesPowerSamplesByTrapezoid) {
  StubNvml stub(JOULE_STUB_NVML_NO_ENERGY);
  stub.SetCount(1);
  stub.Set(0, 0, 100000);
  std::vector<std::unique_ptr<PowerSource>> sources;
  sources.push_back(OpenNvmlSource(JOULE_STUB_NVML_NO_ENERGY, nullptr));
  ASSERT_NE(sources[0], nullptr);
  FakeClock clock;
  MeterOptions options;
  options.attribution = Attribution::kMachine;
  options.background = false;
  options.clock = &clock;
  Meter meter(std::move(sources), options);
  meter.Start();  // 100 W at t=0
  clock.t = 2;
  stub.Set(0, 0, 200000);
  meter.SampleNow();  // 200 W at t=2: (100+200)/2 x 2 = 300 J
  clock.t = 3;
  stub.Set(0, 0, 50000);
  MeterReading r = meter.Stop();  // (200+50)/2 x 1 = 125 J
  EXPECT_DOUBLE_EQ(r.ComponentJ(Component::kGpu), 425.0);
  EXPECT_EQ(r.ComponentMethod(Component::kGpu), "measured:nvml");
  EXPECT_FALSE(r.estimated);
}

TEST(NvmlSource, MissingLibrarySaysWhy) {
  SourceProbe probe;
  EXPECT_EQ(OpenNvmlSource("/nonexistent/libnvidia-ml.so.1", &probe), nullptr);
  EXPECT_FALSE(probe.available);
  EXPECT_THAT(probe.reason, HasSubstr("cannot load /nonexistent/libnvidia-ml.so.1"));
}

TEST(NvmlSource, NoDeviceSaysWhy) {
  StubNvml stub(JOULE_STUB_NVML);
  stub.SetCount(0);
  SourceProbe probe;
  EXPECT_EQ(OpenNvmlSource(JOULE_STUB_NVML, &probe), nullptr);
  EXPECT_THAT(probe.reason, HasSubstr("no GPU"));
  stub.SetCount(1);
}

}  // namespace
}  // namespace joule
