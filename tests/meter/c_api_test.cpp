// The C API: results and errors as return codes and messages, never exceptions.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "joule/joule.h"

namespace {

using ::testing::HasSubstr;

TEST(CApi, StartTaskReadStop) {
  joule_options options;
  joule_options_init(&options);
  options.interval_s = 0.01;
  options.intensity_g_per_kwh = 100;
  options.cpu_tdp_w = 50;  // the model's figures when this machine has no sensor
  joule_meter* meter = joule_meter_create(&options);
  ASSERT_NE(meter, nullptr) << joule_last_error();
  EXPECT_NE(std::string(joule_meter_sources(meter)), "");
  ASSERT_EQ(joule_meter_start(meter), 0) << joule_last_error();
  ASSERT_EQ(joule_task_begin(meter, "work"), 0);
  volatile double x = 0;
  for (int i = 0; i < 3000000; ++i) x = x + 1.0 / (i + 1);
  joule_reading task;
  ASSERT_EQ(joule_task_end(meter, "work", &task), 0) << joule_last_error();
  EXPECT_GT(task.duration_s, 0);
  EXPECT_GE(task.energy_j, 0);
  joule_reading now;
  ASSERT_EQ(joule_meter_read(meter, &now), 0);
  joule_reading total;
  ASSERT_EQ(joule_meter_stop(meter, &total), 0) << joule_last_error();
  EXPECT_GE(total.duration_s, task.duration_s);
  EXPECT_GE(total.energy_j, task.energy_j);
  EXPECT_DOUBLE_EQ(total.energy_j, total.cpu_j + total.gpu_j + total.ram_j + total.system_j);
  EXPECT_NEAR(total.emissions_g, total.energy_j / 3.6e6 * 100, 1e-9 + 1e-9 * total.emissions_g);
  EXPECT_NE(std::string(total.cpu_method), "");
  if (std::string(total.cpu_method) == "estimated:tdp-model") {
    EXPECT_EQ(total.estimated, 1);
  }
  joule_meter_destroy(meter);
}

TEST(CApi, ErrorsAreMessagesNotCrashes) {
  joule_options options;
  joule_options_init(&options);
  options.interval_s = 0;
  EXPECT_EQ(joule_meter_create(&options), nullptr);
  EXPECT_THAT(joule_last_error(), HasSubstr("interval"));
  joule_options_init(&options);
  options.country_iso3 = "XYZ";
  EXPECT_EQ(joule_meter_create(&options), nullptr);
  EXPECT_THAT(joule_last_error(), HasSubstr("XYZ"));

  joule_meter* meter = joule_meter_create(nullptr);
  ASSERT_NE(meter, nullptr) << joule_last_error();
  EXPECT_EQ(joule_meter_read(meter, nullptr), -1);  // not started
  EXPECT_THAT(joule_last_error(), HasSubstr("not running"));
  ASSERT_EQ(joule_meter_start(meter), 0);
  EXPECT_STREQ(joule_last_error(), "");
  EXPECT_EQ(joule_meter_start(meter), -1);
  EXPECT_EQ(joule_task_end(meter, "never-begun", nullptr), -1);
  EXPECT_THAT(joule_last_error(), HasSubstr("never-begun"));
  EXPECT_EQ(joule_task_begin(meter, nullptr), -1);
  EXPECT_EQ(joule_meter_stop(meter, nullptr), 0);
  joule_meter_destroy(meter);
  joule_meter_destroy(nullptr);
  EXPECT_EQ(joule_meter_start(nullptr), -1);
}

}  // namespace
