// The SCI against hand computations, and the card's figures against the
// record they come from.
#include "joule/report.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "joule/util.hpp"

namespace joule {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

RunRecord TrainRun() {
  RunRecord r;
  r.id = "0123456789ab";
  r.kind = "train";
  r.name = "mnist-green";
  r.status = RunStatus::kCompleted;
  r.start_unix_s = 1'700'000'000;
  r.end_unix_s = 1'700'000'100;
  r.config = {{"batch_size", 128}, {"epochs", 4}};
  r.host.cpu_model = "AMD EPYC";
  r.host.cpu_count = 2;
  r.host.ram_total_bytes = 24.0 * 1024 * 1024 * 1024;
  EnergyReport& e = r.energy;
  e.duration_s = 100;
  e.energy_j = 7200;  // 0.002 kWh
  e.machine_energy_j = 9000;
  e.method = "estimated:tdp-model";
  e.estimated = true;
  e.pue = 1.5;
  e.intensity_g_per_kwh = 400;
  e.intensity_source = "France (FRA): 400 g/kWh";
  e.operational_g = 0.002 * 1.5 * 400;  // 1.2 g
  e.embodied_g = 0.3;
  ComponentReport cpu;
  cpu.component = Component::kCpu;
  cpu.energy_j = 7000;
  cpu.machine_j = 8800;
  cpu.method = "estimated:tdp-model";
  cpu.attributed = true;
  e.components.push_back(cpu);
  r.metrics = {{"accuracy", 0.981}, {"epochs", 4}, {"steps", 1876}};
  for (int i = 1; i <= 4; ++i)
    r.epochs.push_back({i, 25, 1800, 0.3, {{"accuracy", 0.9 + i * 0.02}}});
  return r;
}

TEST(Sci, EqualsTheHandComputation) {
  SciInputs in;
  in.energy_kwh = 0.125;
  in.intensity_g_per_kwh = 312.5;
  in.embodied_g = 7.25;
  in.units = 3;
  Sci sci = ComputeSci(in);
  const double hand = (0.125 * 312.5 + 7.25) / 3;  // 15.4375
  EXPECT_NEAR(sci.g_per_unit, hand, 1e-9 * hand);
  EXPECT_FALSE(sci.estimated());
  in.units = 0;
  EXPECT_THROW(ComputeSci(in), Error);
  in.units = 1;
  in.energy_kwh = -1;
  EXPECT_THROW(ComputeSci(in), Error);
}

TEST(Sci, OfARunTakesItsInputsFromTheRecord) {
  RunRecord r = TrainRun();
  Sci per_run = SciOf(r, SciUnit::kRun);
  EXPECT_NEAR(per_run.inputs.energy_kwh, 0.002 * 1.5, 1e-15);
  EXPECT_NEAR(per_run.inputs.intensity_g_per_kwh, 400, 1e-9);
  EXPECT_NEAR(per_run.g_per_unit, 1.2 + 0.3, 1e-12);
  // The model's energy makes the SCI an estimate, and it says which input.
  ASSERT_TRUE(per_run.estimated());
  EXPECT_THAT(per_run.inputs.estimated[0], HasSubstr("estimated:tdp-model"));

  Sci per_epoch = SciOf(r, SciUnit::kEpoch);
  EXPECT_NEAR(per_epoch.g_per_unit, 1.5 / 4, 1e-12);
  Sci per_sample = SciOf(r, SciUnit::kSample);
  EXPECT_NEAR(per_sample.inputs.units, 1876.0 * 128, 1e-9);

  RunRecord measure = r;
  measure.kind = "measure";
  measure.epochs.clear();
  measure.metrics = {{"exit_code", 0}};
  EXPECT_THROW(SciOf(measure, SciUnit::kEpoch), Error);
  EXPECT_THROW(SciOf(measure, SciUnit::kThousandInferences), Error);

  RunRecord bench = measure;
  bench.kind = "bench-infer";
  bench.metrics = {{"j_per_1000", 0.5}};
  EXPECT_NEAR(SciOf(bench, SciUnit::kThousandInferences).inputs.units, 7200 / 0.5, 1e-9);
}

TEST(Sci, WorldAverageIntensityIsAnEstimatedInput) {
  RunRecord r = TrainRun();
  r.energy.method = "measured:rapl";
  r.energy.estimated = false;
  EXPECT_FALSE(SciOf(r, SciUnit::kRun).estimated());
  r.energy.intensity_source = "world average 475 g/kWh: no location given";
  EXPECT_TRUE(SciOf(r, SciUnit::kRun).estimated());
}

TEST(Sci, UnitNamesRoundTripAndBadOnesAreRefused) {
  for (SciUnit u :
       {SciUnit::kRun, SciUnit::kEpoch, SciUnit::kThousandInferences, SciUnit::kSample}) {
    EXPECT_EQ(ParseSciUnit(SciUnitName(u)), u);
  }
  EXPECT_THROW(ParseSciUnit("minute"), Error);
}

TEST(Card, ShowsTheRecordsFiguresAndMarksEstimates) {
  RunRecord r = TrainRun();
  ReportOptions per_epoch;
  per_epoch.per = SciUnit::kEpoch;
  std::string card = RunCardMarkdown(r, per_epoch);
  EXPECT_THAT(card, HasSubstr("| **total** | 7200 | 0.002 |"));
  EXPECT_THAT(card, HasSubstr("**estimated**: estimated:tdp-model"));
  EXPECT_THAT(card, HasSubstr("France (FRA)"));
  EXPECT_THAT(card, HasSubstr("| operational | 1.2 gCO2eq |"));
  EXPECT_THAT(card, HasSubstr("| embodied | 0.3 gCO2eq |"));
  EXPECT_THAT(card, HasSubstr("0.375 gCO2eq per epoch**"));
  EXPECT_THAT(card, HasSubstr("| accuracy | 0.981 |"));
  EXPECT_THAT(card, HasSubstr("| 4 | 25 | 1800 |"));

  // A measured run is not marked, and a unit it lacks falls back to per run.
  RunRecord measured = r;
  measured.kind = "measure";
  measured.epochs.clear();
  measured.metrics = {{"exit_code", 0}};
  measured.energy.method = "measured:rapl";
  measured.energy.estimated = false;
  measured.energy.components[0].method = "measured:rapl";
  std::string plain = RunCardMarkdown(measured, per_epoch);
  EXPECT_THAT(plain, Not(HasSubstr("**estimated**")));
  EXPECT_THAT(plain, HasSubstr("per run**"));
  EXPECT_THAT(plain, HasSubstr("Per epoch does not apply"));
}

TEST(Report, ComparesSeveralRunsAgainstTheFirst) {
  RunRecord a = TrainRun();
  RunRecord b = TrainRun();
  b.id = "ba9876543210";
  b.energy.energy_j = 3600;
  std::string report = ReportMarkdown({a, b}, {});
  EXPECT_THAT(report, HasSubstr("# joule report: 2 runs"));
  EXPECT_THAT(report, HasSubstr("| 0.500 |"));  // b's energy ratio
  EXPECT_THAT(report, HasSubstr("## train run ba9876543210"));
  EXPECT_THROW(ReportMarkdown({}, {}), Error);
}

}  // namespace
}  // namespace joule
