// hwmon inputs: only inputs of known scope are counted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "joule/meter.hpp"
#include "meter/fake_fs.hpp"

namespace joule {
namespace {

using ::testing::HasSubstr;
using testing::TempTree;

TEST(HwmonSource, AmdEnergySocketCountedCoresAndUnknownDriversReported) {
  TempTree sys;
  sys.Write("hwmon0/name", "amd_energy\n");
  sys.Write("hwmon0/energy1_input", "1000\n");
  sys.Write("hwmon0/energy1_label", "Ecore000\n");
  sys.Write("hwmon0/energy2_input", "5000\n");
  sys.Write("hwmon0/energy2_label", "Esocket0\n");
  sys.Write("hwmon1/name", "some_board\n");
  sys.Write("hwmon1/power1_input", "12500000\n");  // uW
  sys.Write("hwmon2/name", "k10temp\n");
  sys.Write("hwmon2/temp1_input", "40000\n");
  SourceProbe probe;
  auto hwmon = OpenHwmonSource(sys.root(), &probe);
  ASSERT_NE(hwmon, nullptr) << probe.reason;
  EXPECT_EQ(hwmon->method(), "measured:hwmon");
  ASSERT_EQ(hwmon->channels().size(), 3u);
  int counted = 0;
  for (const Channel& ch : hwmon->channels()) {
    if (ch.counted) {
      ++counted;
      EXPECT_EQ(ch.name, "hwmon0/amd_energy/Esocket0");
      EXPECT_EQ(ch.component, Component::kCpu);
    }
  }
  EXPECT_EQ(counted, 1);
  sys.Write("hwmon0/energy2_input", "5777\n");
  std::vector<ChannelSample> s(3);
  hwmon->Read(1, s);
  for (std::size_t i = 0; i < s.size(); ++i) {
    const Channel& ch = hwmon->channels()[i];
    if (ch.counted) {
      EXPECT_EQ(s[i].energy_uj, 777u);
    }
    if (ch.kind == ReadingKind::kInstantPower) {
      EXPECT_DOUBLE_EQ(s[i].power_w, 12.5);
    }
  }
}

TEST(HwmonSource, NoPowerInputSaysWhy) {
  TempTree sys;
  sys.Write("hwmon0/name", "k10temp\n");
  sys.Write("hwmon0/temp1_input", "40000\n");
  SourceProbe probe;
  EXPECT_EQ(OpenHwmonSource(sys.root(), &probe), nullptr);
  EXPECT_THAT(probe.reason, HasSubstr("no readable power or energy input"));
}

}  // namespace
}  // namespace joule
