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
  EXPECT_THAT(card, HasSubstr("| **total** | **7200 (est.)** | **0.002 (est.)** |"));
  EXPECT_THAT(card, HasSubstr("> **Estimated**, not measured"));
  EXPECT_THAT(card, HasSubstr("France (FRA)"));
  EXPECT_THAT(card, HasSubstr("| operational | 1.2 gCO2eq (est.) |"));
  EXPECT_THAT(card, HasSubstr("| embodied | 0.3 gCO2eq |"));
  EXPECT_THAT(card, HasSubstr("0.375 gCO2eq per epoch**"));
  EXPECT_THAT(card, HasSubstr("| accuracy | 0.981 |"));
  EXPECT_THAT(card, HasSubstr("| 4 | 25 | 1800 (est.) |"));

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
  EXPECT_THAT(plain, Not(HasSubstr("(est.)")));
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
  EXPECT_THAT(report, HasSubstr("| 3600 (est.) |"));
  EXPECT_THAT(report, HasSubstr("## train run ba9876543210"));
  EXPECT_THROW(ReportMarkdown({}, {}), Error);
}

// Samples of a run at 1 s steps from its start: cpu at `cpu_w`, ram at 3 W.
std::vector<SampleRow> Samples(const RunRecord& run, int n, double cpu_w) {
  std::vector<SampleRow> rows;
  for (int i = 1; i <= n; ++i) {
    SampleRow s;
    s.t_unix_s = run.start_unix_s + i;
    // A burst in the middle, so merging steps has something to keep.
    double cpu_j = cpu_w * i + (i > n / 2 ? 500 : 0);
    s.component_j = {cpu_j, 3.0 * i, 0, 0, 0};
    s.energy_j = cpu_j + 3.0 * i;
    rows.push_back(s);
  }
  return rows;
}

TEST(PowerCurves, KeepEachComponentsEnergyWhenMerged) {
  RunRecord r = TrainRun();
  std::vector<SampleRow> samples = Samples(r, 10000, 40);
  for (std::size_t steps : {std::size_t{1}, std::size_t{7}, std::size_t{600}, std::size_t{20000}}) {
    std::vector<PowerCurve> curves = PowerCurves(r, samples, steps);
    ASSERT_EQ(curves.size(), 2u);  // cpu and ram; gpu, system and other have no energy
    EXPECT_EQ(curves[0].name, "cpu");
    EXPECT_EQ(curves[0].method, "estimated:tdp-model");
    EXPECT_EQ(curves[1].name, "ram");
    EXPECT_LE(curves[0].watts.size(), steps);
    EXPECT_EQ(curves[0].t_s.size(), curves[0].watts.size() + 1);
    EXPECT_EQ(curves[0].t_s.front(), 0);
    EXPECT_EQ(curves[0].t_s.back(), 10000);
    EXPECT_NEAR(curves[0].energy_j(), samples.back().component_j[0], 1e-9 * 400500);
    EXPECT_NEAR(curves[1].energy_j(), 30000, 1e-9 * 30000);
  }
  // Unmerged, each step is the interval's own power: 40 W, and the burst.
  std::vector<PowerCurve> exact = PowerCurves(r, samples, 20000);
  EXPECT_NEAR(exact[0].watts[0], 40, 1e-9);
  EXPECT_NEAR(exact[0].watts[5000], 540, 1e-9);
  EXPECT_THROW(PowerCurves(r, samples, 0), Error);
  EXPECT_TRUE(PowerCurves(r, {}, 10).empty());
}

TEST(PowerCurves, SamplesWithoutComponentsGiveTheTotal) {
  RunRecord r = TrainRun();
  std::vector<SampleRow> samples = Samples(r, 50, 10);
  for (SampleRow& s : samples) s.component_j[0] = std::nan("");
  std::vector<PowerCurve> curves = PowerCurves(r, samples, 10);
  ASSERT_EQ(curves.size(), 1u);
  EXPECT_EQ(curves[0].name, "total");
  EXPECT_NEAR(curves[0].energy_j(), samples.back().energy_j, 1e-9 * samples.back().energy_j);
}

TEST(ParetoFront, KeepsExactlyTheUndominatedPoints) {
  // (energy, accuracy): b is dominated by a (same accuracy, more energy), d by c.
  std::vector<std::pair<double, double>> points = {{10, 0.90}, {12, 0.90}, {20, 0.95},
                                                   {25, 0.94}, {30, 0.97}, {NAN, 0.99}};
  EXPECT_EQ(ParetoFront(points), (std::vector<bool>{true, false, true, false, true, false}));
  // Brute force on random points: on the front iff nothing dominates it.
  std::vector<std::pair<double, double>> random;
  unsigned seed = 7;
  for (int i = 0; i < 200; ++i) {
    seed = seed * 1103515245 + 12345;
    random.emplace_back(seed % 97, (seed / 97) % 13);
  }
  std::vector<bool> front = ParetoFront(random);
  for (std::size_t i = 0; i < random.size(); ++i) {
    bool dominated = false;
    for (const auto& q : random) {
      dominated = dominated ||
                  (q.first <= random[i].first && q.second >= random[i].second && q != random[i]);
    }
    EXPECT_EQ(front[i], !dominated) << i;
  }
}

// The values of every data-field="..." data-value="..." pair in `html`.
std::vector<std::pair<std::string, double>> Fields(const std::string& html) {
  std::vector<std::pair<std::string, double>> out;
  const std::string key = "data-field=\"";
  for (std::size_t at = html.find(key); at != std::string::npos; at = html.find(key, at + 1)) {
    std::size_t start = at + key.size();
    std::string field = html.substr(start, html.find('"', start) - start);
    std::size_t v = html.find("data-value=\"", start) + 12;
    out.emplace_back(field, std::stod(html.substr(v, html.find('"', v) - v)));
  }
  return out;
}

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(ReportHtml, HasEveryPlotAndTheRecordsExactFigures) {
  RunRecord a = TrainRun();
  RunRecord b = TrainRun();
  b.id = "ba9876543210";
  b.name = "<script>alert(1)</script>";
  b.energy.energy_j = 3600;
  b.metrics["accuracy"] = 0.97;
  RunRecord c = b;
  c.id = "c00000000000";
  c.energy.energy_j = 9000;
  c.metrics["accuracy"] = 0.95;  // more energy, less accurate than b: off the front
  std::string html = ReportHtml({{a, Samples(a, 100, 40)}, {b, {}}, {c, {}}}, {});
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  // Self-contained: nothing is fetched, nothing runs.
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("src=")));
  EXPECT_THAT(html, Not(HasSubstr("http://example")));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_EQ(Count(html, "data-plot=\"power\""), 3u);
  EXPECT_EQ(Count(html, "data-plot=\"carbon\""), 3u);
  EXPECT_EQ(Count(html, "data-plot=\"epochs\""), 3u);
  EXPECT_EQ(Count(html, "data-plot=\"pareto\""), 1u);
  // b is the cheapest, a the most accurate; c costs more than a for less.
  EXPECT_EQ(Count(html, "class=\"point front\""), 2u);
  EXPECT_THAT(html, HasSubstr("no power samples recorded"));
  EXPECT_THAT(html, HasSubstr("class=\"est-mark\""));
  // Every figure carries the value of its field in the record's JSON.
  nlohmann::json ja = RunRecordToJson(a);
  std::size_t checked = 0;
  std::string card_a = html.substr(html.find("data-run=\"0123456789ab\""));
  card_a = card_a.substr(0, card_a.find("</section>"));
  for (const auto& [field, value] : Fields(card_a)) {
    EXPECT_EQ(ja.at(nlohmann::json::json_pointer(field)).get<double>(), value) << field;
    ++checked;
  }
  EXPECT_GE(checked, 20u);
}

TEST(ReportMarkdownWithPlots, LinksEachPlotFile) {
  RunRecord a = TrainRun();
  RunRecord b = TrainRun();
  b.id = "ba9876543210";
  RenderedReport md = ReportMarkdownWithPlots({{a, Samples(a, 20, 5)}, {b, {}}}, {}, "paper");
  std::vector<std::string> names;
  for (const ReportFile& f : md.files) {
    names.push_back(f.name);
    EXPECT_THAT(md.text, HasSubstr("(" + f.name + ")"));
    EXPECT_EQ(f.content.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  }
  EXPECT_THAT(names, ::testing::Contains("paper-pareto.svg"));
  EXPECT_THAT(names, ::testing::Contains("paper-0123456789ab-power.svg"));
  EXPECT_THAT(names, ::testing::Contains("paper-ba9876543210-epochs.svg"));
  EXPECT_EQ(md.files.size(), 1u + 2 * 3);
}

}  // namespace
}  // namespace joule
