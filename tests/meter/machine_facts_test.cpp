// ReadMachineFacts against a fake /proc.
#include <gtest/gtest.h>

#include "joule/meter.hpp"
#include "meter/fake_fs.hpp"

namespace joule {
namespace {

TEST(MachineFactsTest, ReadsModelAndMemoryFromProc) {
  testing::TempTree proc;
  proc.Write("cpuinfo",
             "processor\t: 0\n"
             "vendor_id\t: AuthenticAMD\n"
             "model\t\t: 17\n"
             "model name\t: AMD EPYC 9454P 48-Core Processor\n"
             "\n"
             "processor\t: 1\n"
             "model name\t: AMD EPYC 9454P 48-Core Processor\n");
  proc.Write("meminfo",
             "MemTotal:        8000000 kB\n"
             "MemFree:         1000000 kB\n"
             "MemAvailable:    6000000 kB\n"
             "Buffers:          100000 kB\n");
  MachineFacts facts = ReadMachineFacts(proc.root());
  // "model" (a number) must not be taken for "model name".
  EXPECT_EQ(facts.cpu_model, "AMD EPYC 9454P 48-Core Processor");
  EXPECT_EQ(facts.ram_total_bytes, 8000000.0 * 1024);
  EXPECT_EQ(facts.ram_used_bytes, 2000000.0 * 1024);
  EXPECT_GT(facts.cpu_count, 0);
  EXPECT_FALSE(facts.os.empty());
  EXPECT_FALSE(facts.hostname.empty());
}

TEST(MachineFactsTest, MissingFilesLeaveFieldsEmpty) {
  testing::TempTree proc;
  proc.Write("cpuinfo", "processor\t: 0\nHardware\t: BCM2835\n");  // a Raspberry Pi says no model
  MachineFacts facts = ReadMachineFacts(proc.root());
  EXPECT_EQ(facts.cpu_model, "");
  EXPECT_EQ(facts.ram_total_bytes, 0);
  EXPECT_EQ(facts.ram_used_bytes, 0);
}

}  // namespace
}  // namespace joule
