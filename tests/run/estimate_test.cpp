// joule estimate's arithmetic against hand computations from the bundled tables.
#include "joule/estimate.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "joule/util.hpp"

namespace joule {
namespace {

using ::testing::HasSubstr;

const std::string kData = JOULE_SOURCE_DATA_DIR;

std::string ErrorOf(const EstimateRequest& r) {
  try {
    EstimateJob(r, kData);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Estimate, EightA100sForADayInTheUsaByHand) {
  EstimateRequest r;
  r.gpu_model = "A100 SXM4";
  r.gpu_count = 8;
  r.hours = 24;
  r.carbon.country_iso3 = "USA";
  Estimate e = EstimateJob(r, kData);
  // gpus.csv: A100 SXM4, 400 W. 8 x 400 W x 24 h = 76.8 kWh; PUE 1;
  // global_energy_mix.json: USA 369.473 g/kWh. 76.8 x 369.473 = 28375.5264 g.
  ASSERT_EQ(e.lines.size(), 1u);
  EXPECT_EQ(e.lines[0].model, "A100 SXM4");
  EXPECT_DOUBLE_EQ(e.lines[0].watts_each, 400.0);
  EXPECT_DOUBLE_EQ(e.energy_kwh, 76.8);
  EXPECT_DOUBLE_EQ(e.facility_kwh, 76.8);
  EXPECT_DOUBLE_EQ(e.intensity_g_per_kwh, 369.473);
  EXPECT_NEAR(e.co2_g, 28375.5264, 1e-6);
  EXPECT_EQ(e.method, "estimated:calculator");
  EXPECT_THAT(EstimateText(e), HasSubstr("estimated:calculator"));
  EXPECT_THAT(EstimateText(e), HasSubstr("28.376 kgCO2eq"));
  EXPECT_EQ(EstimateJson(e)["method"], "estimated:calculator");
}

TEST(Estimate, NamesMatchWithVendorAndCaseAndUtilisationAndPueApply) {
  EstimateRequest r;
  r.gpu_model = "nvidia a100-sxm4";
  r.gpu_count = 2;
  r.hours = 10;
  r.utilisation = 0.5;
  r.carbon.intensity_g_per_kwh = 100;
  r.carbon.pue = 1.5;
  Estimate e = EstimateJob(r, kData);
  EXPECT_EQ(e.lines[0].model, "A100 SXM4");
  EXPECT_DOUBLE_EQ(e.energy_kwh, 2 * 400 * 0.5 * 10 / 1000.0);  // 4 kWh
  EXPECT_DOUBLE_EQ(e.facility_kwh, 6.0);
  EXPECT_DOUBLE_EQ(e.co2_g, 600.0);
}

TEST(Estimate, CpuAndRamAddUp) {
  EstimateRequest r;
  r.cpu_model = "AMD EPYC 7763";  // 280 W in cpu_power.csv
  r.ram_gb = 64;                  // 64 x 3/8 = 24 W
  r.hours = 2;
  r.carbon.intensity_g_per_kwh = 50;
  Estimate e = EstimateJob(r, kData);
  ASSERT_EQ(e.lines.size(), 2u);
  EXPECT_EQ(e.lines[0].component, "cpu");
  EXPECT_DOUBLE_EQ(e.lines[0].watts_each, 280.0);
  EXPECT_DOUBLE_EQ(e.lines[1].power_w, 24.0);
  EXPECT_DOUBLE_EQ(e.energy_kwh, (280.0 + 24.0) * 2 / 1000.0);
  EXPECT_DOUBLE_EQ(e.co2_g, e.energy_kwh * 50);
}

TEST(Estimate, UnknownModelsListTheClosestNames) {
  EstimateRequest r;
  r.gpu_model = "A100 SXM";
  r.hours = 1;
  std::string message = ErrorOf(r);
  EXPECT_THAT(message, HasSubstr("--gpu: unknown model 'A100 SXM'"));
  EXPECT_THAT(message, HasSubstr("closest: A100 SXM4"));
  r.gpu_model = "H100";
  EXPECT_THAT(ErrorOf(r), HasSubstr("closest: H100 PCIe, H100 SXM5"));
  r.gpu_model.clear();
  r.cpu_model = "Zork 9000 Hyperchip";
  EXPECT_THAT(ErrorOf(r), HasSubstr("--cpu: unknown model 'Zork 9000 Hyperchip'"));
}

TEST(Estimate, BadInputIsOneClearLine) {
  EstimateRequest r;
  EXPECT_THAT(ErrorOf(r), HasSubstr("give the hardware"));
  r.gpu_model = "T4";
  EXPECT_THAT(ErrorOf(r), HasSubstr("--hours is required"));
  r.hours = -1;
  EXPECT_THAT(ErrorOf(r), HasSubstr("--hours must be > 0"));
  r.hours = 1;
  r.utilisation = 1.5;
  EXPECT_THAT(ErrorOf(r), HasSubstr("--utilisation must be in (0, 1]"));
  r.utilisation = 1;
  r.carbon.country_iso3 = "XYZ";
  EXPECT_THAT(ErrorOf(r), HasSubstr("XYZ"));
}

RunRecord RecordedRun() {
  RunRecord run;
  run.id = "abcdef123456";
  run.kind = "train";
  run.energy.duration_s = 1800;  // half an hour
  run.energy.energy_j = 3.6e6;   // 1 kWh
  run.energy.method = "estimated:tdp-model";
  run.metrics = {{"epochs", 5}, {"samples_seen", 50000}};
  return run;
}

TEST(Estimate, LikeARecordedRunScalesByEpochsOrSamples) {
  EstimateRequest r;
  r.like_run = RecordedRun();
  r.carbon.intensity_g_per_kwh = 200;
  Estimate same = EstimateJob(r, kData);
  EXPECT_DOUBLE_EQ(same.energy_kwh, 1.0);
  EXPECT_DOUBLE_EQ(same.hours, 0.5);
  EXPECT_DOUBLE_EQ(same.co2_g, 200.0);
  r.like_epochs = 20;  // 4x
  Estimate more = EstimateJob(r, kData);
  EXPECT_DOUBLE_EQ(more.energy_kwh, 4.0);
  EXPECT_DOUBLE_EQ(more.hours, 2.0);
  EXPECT_THAT(more.basis, HasSubstr("estimated:tdp-model"));
  r.like_epochs.reset();
  r.like_samples = 25000;  // half
  EXPECT_DOUBLE_EQ(EstimateJob(r, kData).energy_kwh, 0.5);
  r.like_epochs = 1;
  EXPECT_THAT(ErrorOf(r), HasSubstr("not both"));
  r.like_epochs.reset();
  r.gpu_model = "T4";
  EXPECT_THAT(ErrorOf(r), HasSubstr("without --gpu"));
}

}  // namespace
}  // namespace joule
