// The ledger through the joule binary: runs recorded by measure (and train),
// kept across SIGKILL and concurrent writers, and read back by `joule runs`.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "e2e/e2e_util.hpp"

namespace joule::test {
namespace {

// CodeCarbon's emissions.csv header, copied from a file CodeCarbon wrote, not
// from joule's code: the golden form the export must match.
constexpr const char* kCodeCarbonHeader =
    "timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,"
    "gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,water_consumed,"
    "country_name,country_iso_code,region,cloud_provider,cloud_region,os,python_version,"
    "codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,"
    "ram_total_size,tracking_mode,cpu_utilization_percent,gpu_utilization_percent,"
    "ram_utilization_percent,ram_used_gb,on_cloud,pue,wue";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

nlohmann::json Json(const CommandResult& r) {
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "stdout is not JSON: " << r.out << "\nstderr: " << r.err;
  return j;
}

// Starts `joule args...` in its own process group with output to /dev/null,
// so the test can kill joule and what it started at once.
pid_t StartJoule(const std::vector<std::string>& args) {
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    std::freopen("/dev/null", "w", stdout);
    std::freopen("/dev/null", "w", stderr);
    std::vector<char*> argv{const_cast<char*>(JOULE_BINARY)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(JOULE_BINARY, argv.data());
    _exit(127);
  }
  return pid;
}

int WaitExit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The one run `joule runs list --json` shows in `ledger`.
nlohmann::json OnlyRun(const std::string& ledger) {
  CommandResult r = RunJoule("runs list --json --ledger " + ledger);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json runs = Json(r);
  EXPECT_EQ(runs.size(), 1u) << r.out;
  return runs.empty() ? nlohmann::json::object() : runs[0];
}

TEST(Runs, SigkillMidRunKeepsItsSamplesAndReadsIncomplete) {
  const std::string ledger = ScratchDir("runs_sigkill") + "/ledger.db";
  pid_t joule =
      StartJoule({"measure", "--ledger", ledger, "--interval", "0.1", "--", "sleep", "30"});
  ASSERT_GT(joule, 0);
  // Until the ledger holds 15 samples (about 1.5 s; longer on a slow or
  // sanitized build), read as another process reads it.
  std::uint64_t seen = 0;
  for (int tries = 0; tries < 600 && seen < 15; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CommandResult list = RunJoule("runs list --json --ledger " + ledger);
    nlohmann::json runs = nlohmann::json::parse(list.out, nullptr, false);
    if (list.exit_code == 0 && runs.is_array() && runs.size() == 1) {
      seen = runs[0]["energy"]["samples"].get<std::uint64_t>();
    }
  }
  ASSERT_GE(seen, 15u) << "the running measure never recorded 15 samples";
  // The whole group: joule and its sleep, both SIGKILLed, nothing cleaned up.
  ASSERT_EQ(kill(-joule, SIGKILL), 0);
  ASSERT_EQ(WaitExit(joule), 128 + SIGKILL);

  nlohmann::json run = OnlyRun(ledger);
  EXPECT_EQ(run["status"], "incomplete");
  EXPECT_EQ(run["kind"], "measure");
  EXPECT_EQ(run["name"], "sleep 30");
  std::uint64_t samples = run["energy"]["samples"];
  EXPECT_GE(samples, seen) << "every sample committed before the SIGKILL is kept";
  EXPECT_GT(run["energy"]["machine_energy_j"].get<double>(), 0);
  EXPECT_FALSE(run["energy"]["method"].get<std::string>().empty());
  std::printf("[ figures  ] %llu samples kept after SIGKILL (%llu seen before it)\n",
              static_cast<unsigned long long>(samples), static_cast<unsigned long long>(seen));

  CommandResult show =
      RunJoule("runs show " + run["id"].get<std::string>() + " --ledger " + ledger);
  EXPECT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("incomplete"), std::string::npos) << show.out;
}

TEST(Runs, TwoMeasuresAndATrainWriteOneLedgerAtOnce) {
  const std::string dir = ScratchDir("runs_concurrent");
  const std::string ledger = dir + "/ledger.db";
  std::string csv = "x1,x2,y\n";
  for (int i = 0; i < 300; ++i) {
    csv +=
        std::to_string(i % 17) + "," + std::to_string(i % 5) + "," + std::to_string(i % 7) + "\n";
  }
  WriteBytes(dir + "/small.csv", csv);
  std::vector<pid_t> pids = {
      StartJoule({"measure", "--ledger", ledger, "--interval", "0.02", "--", "sleep", "1.5"}),
      StartJoule({"measure", "--ledger", ledger, "--interval", "0.02", "--", "sleep", "1.5"}),
      StartJoule({"train", "--ledger", ledger, "--data", dir + "/small.csv", "--target", "y",
                  "--task", "regression", "--epochs", "2"})};
  for (pid_t pid : pids) EXPECT_EQ(WaitExit(pid), 0);

  CommandResult r = RunJoule("runs list --json --ledger " + ledger);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json runs = Json(r);
  ASSERT_EQ(runs.size(), 3u) << r.out;
  int measures = 0, trains = 0;
  for (const nlohmann::json& run : runs) {
    EXPECT_EQ(run["status"], "completed") << run.dump();
    if (run["kind"] == "measure") {
      ++measures;
      // Every sample the meter took is stored: 1.5 s at 0.02 s, less start-up.
      EXPECT_GE(run["energy"]["samples"].get<int>(), 30) << run.dump();
      EXPECT_GT(run["energy"]["energy_j"].get<double>(), 0);
    } else if (run["kind"] == "train") {
      ++trains;
      CommandResult show =
          RunJoule("runs show --json --ledger " + ledger + " " + run["id"].get<std::string>());
      EXPECT_EQ(Json(show)["epochs"].size(), 2u) << show.out;
    }
  }
  EXPECT_EQ(measures, 2);
  EXPECT_EQ(trains, 1);
}

TEST(Report, WritesTheCardOfARecordedRunWithItsFigures) {
  const std::string dir = ScratchDir("report");
  const std::string ledger = dir + "/ledger.db";
  CommandResult m = RunJoule("measure --json --cpu-tdp 40 --ledger " + ledger + " -- sleep 0.2");
  ASSERT_EQ(m.exit_code, 0) << m.err;
  const std::string id = Json(m)["run_id"];
  CommandResult show = RunJoule("runs show --json --ledger " + ledger + " " + id);
  ASSERT_EQ(show.exit_code, 0) << show.err;
  const double energy_j = Json(show)["energy"]["energy_j"];

  const std::string out = dir + "/report.md";
  CommandResult r = RunJoule("report " + id + " --ledger " + ledger + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(out);
  std::stringstream text;
  text << in.rdbuf();
  char total[64];
  std::snprintf(total, sizeof total, "| **total** | **%.6g (est.)** |", energy_j);
  EXPECT_NE(text.str().find(total), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("**Estimated**"), std::string::npos)
      << "the model's figures are marked";
  EXPECT_NE(text.str().find("SCI = (E x I + M) / R"), std::string::npos);
  // Its plots beside it, linked by name; the measure run's power has samples.
  EXPECT_NE(text.str().find("(report-" + id + "-power.svg)"), std::string::npos);
  std::ifstream svg(dir + "/report-" + id + "-power.svg");
  std::stringstream plot;
  plot << svg.rdbuf();
  EXPECT_NE(plot.str().find("class=\"series\""), std::string::npos) << plot.str();

  // The same run as one page.
  const std::string html = dir + "/report.html";
  CommandResult page = RunJoule("report " + id + " --ledger " + ledger + " --out " + html);
  EXPECT_EQ(page.exit_code, 0) << page.err;
  EXPECT_TRUE(std::filesystem::exists(html));

  // Bad input: one line, exit 2, no file.
  const std::string pdf = dir + "/report.pdf";
  CommandResult bad = RunJoule("report " + id + " --ledger " + ledger + " --out " + pdf);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_FALSE(std::filesystem::exists(pdf));
  CommandResult unit = RunJoule("report " + id + " --ledger " + ledger + " --per minute");
  EXPECT_EQ(unit.exit_code, 2);
  EXPECT_NE(unit.err.find("--per minute"), std::string::npos) << unit.err;
}

TEST(Serve, AMissingLedgerOrABadPortIsOneLine) {
  CommandResult r = RunJoule("serve --port 0 --ledger /nonexistent/ledger.db");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no ledger at /nonexistent/ledger.db"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  CommandResult port = RunJoule("serve --port 70000");
  EXPECT_NE(port.exit_code, 0);
  EXPECT_NE(port.err.find("--port"), std::string::npos) << port.err;
}

TEST(Runs, ShowJsonHasTheFiguresMeasurePrinted) {
  const std::string ledger = ScratchDir("runs_show") + "/ledger.db";
  CommandResult m = RunJoule("measure --json --ledger " + ledger + " -- sleep 0.2");
  ASSERT_EQ(m.exit_code, 0) << m.err;
  nlohmann::json printed = Json(m);
  const std::string id = printed["run_id"];
  ASSERT_EQ(id.size(), 12u);
  EXPECT_NE(m.err.find("recorded as run " + id), std::string::npos) << m.err;

  CommandResult s = RunJoule("runs show --json --ledger " + ledger + " " + id.substr(0, 6));
  ASSERT_EQ(s.exit_code, 0) << s.err;
  nlohmann::json run = Json(s);
  EXPECT_EQ(run["id"], id);
  EXPECT_EQ(run["status"], "completed");
  const nlohmann::json& e = run["energy"];
  EXPECT_EQ(e["energy_j"], printed["energy_j"]);
  EXPECT_EQ(e["machine_energy_j"], printed["machine_energy_j"]);
  EXPECT_EQ(e["duration_s"], printed["duration_s"]);
  EXPECT_EQ(e["co2_g"], printed["emissions_g"]);
  EXPECT_EQ(e["operational_g"], printed["operational_g"]);
  EXPECT_EQ(e["samples"], printed["samples"]);
  EXPECT_EQ(e["intensity_source"], printed["intensity_source"]);
  EXPECT_EQ(e["estimated"], printed["estimated"]);
  for (auto& [name, component] : printed["components"].items()) {
    bool found = false;
    for (const nlohmann::json& c : e["components"]) {
      if (c["component"] != name) continue;
      found = true;
      EXPECT_EQ(c["energy_j"], component["energy_j"]) << name;
      EXPECT_EQ(c["method"], component["method"]) << name;
    }
    EXPECT_TRUE(found) << name;
  }
  // The text form prints the same total, with its method.
  CommandResult text = RunJoule("runs show --ledger " + ledger + " " + id);
  char total[64];
  std::snprintf(total, sizeof total, "%.6g J", printed["energy_j"].get<double>());
  EXPECT_NE(text.out.find(total), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(e["method"].get<std::string>()), std::string::npos) << text.out;
}

TEST(Runs, ExportGivesCodeCarbonsColumnsAndTheRowMeasureWrote) {
  const std::string dir = ScratchDir("runs_export");
  const std::string ledger = dir + "/ledger.db";
  CommandResult m = RunJoule("measure --ledger " + ledger + " --csv " + dir +
                             "/emissions.csv --project-name e2e -- true");
  ASSERT_EQ(m.exit_code, 0) << m.err;
  CommandResult x = RunJoule("runs export --format codecarbon-csv --ledger " + ledger);
  ASSERT_EQ(x.exit_code, 0) << x.err;
  std::vector<std::string> lines = Lines(x.out);
  ASSERT_EQ(lines.size(), 2u) << x.out;
  EXPECT_EQ(lines[0], kCodeCarbonHeader);
  int commas = 0;
  for (char c : lines[1]) commas += c == ',';
  EXPECT_EQ(commas, 37) << "38 cells: " << lines[1];
  // measure --csv and the export write the run through one function.
  std::ifstream csv(dir + "/emissions.csv");
  std::string header, row;
  std::getline(csv, header);
  std::getline(csv, row);
  EXPECT_EQ(header, kCodeCarbonHeader);
  EXPECT_EQ(row, lines[1]);
  EXPECT_NE(row.find(",e2e,00000000-0000-4000-8000-"), std::string::npos) << row;

  CommandResult j = RunJoule("runs export --format json --ledger " + ledger);
  ASSERT_EQ(j.exit_code, 0) << j.err;
  EXPECT_EQ(Json(j).size(), 1u);
  CommandResult bad = RunJoule("runs export --format xml --ledger " + ledger);
  EXPECT_EQ(bad.exit_code, 2);
}

TEST(Runs, CompareShowsRatiosAgainstTheFirstRun) {
  const std::string ledger = ScratchDir("runs_compare") + "/ledger.db";
  std::vector<std::string> ids;
  for (const char* power : {"10", "40"}) {
    CommandResult m = RunJoule("measure --json --machine --power " + std::string(power) +
                               " --ledger " + ledger + " -- sleep 0.3");
    ASSERT_EQ(m.exit_code, 0) << m.err;
    ids.push_back(Json(m)["run_id"]);
  }
  CommandResult c =
      RunJoule("runs compare --json --ledger " + ledger + " " + ids[0] + " " + ids[1]);
  ASSERT_EQ(c.exit_code, 0) << c.err;
  nlohmann::json rows = Json(c);
  ASSERT_EQ(rows.size(), 2u);
  double e0 = rows[0]["energy_j"], e1 = rows[1]["energy_j"];
  double t0 = rows[0]["duration_s"], t1 = rows[1]["duration_s"];
  EXPECT_EQ(rows[0]["energy_ratio"], 1.0);
  EXPECT_DOUBLE_EQ(rows[1]["energy_ratio"].get<double>(), e1 / e0);
  EXPECT_DOUBLE_EQ(rows[1]["time_ratio"].get<double>(), t1 / t0);
  // 4x the declared power over about the same time.
  EXPECT_NEAR(rows[1]["energy_ratio"].get<double>() / (t1 / t0), 4.0, 0.01);
  EXPECT_EQ(rows[1]["method"], "declared");

  CommandResult table = RunJoule("runs compare --ledger " + ledger + " " + ids[0] + " " + ids[1]);
  ASSERT_EQ(table.exit_code, 0) << table.err;
  char ratio[32];
  std::snprintf(ratio, sizeof ratio, "%.3fx", e1 / e0);
  EXPECT_NE(table.out.find(ratio), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("declared"), std::string::npos) << table.out;
}

TEST(Runs, TagListRemoveWithPrefixes) {
  const std::string ledger = ScratchDir("runs_tag") + "/ledger.db";
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    CommandResult m = RunJoule("measure --json --ledger " + ledger + " -- true");
    ASSERT_EQ(m.exit_code, 0) << m.err;
    ids.push_back(Json(m)["run_id"]);
  }
  // Distinct 12-digit ids differ within their first 12 digits.
  std::size_t n = 1;
  while (ids[0].substr(0, n) == ids[1].substr(0, n)) ++n;
  EXPECT_EQ(
      RunJoule("runs tag --ledger " + ledger + " " + ids[0].substr(0, n) + " baseline").exit_code,
      0);
  CommandResult tagged = RunJoule("runs list --json --tag baseline --ledger " + ledger);
  ASSERT_EQ(Json(tagged).size(), 1u);
  EXPECT_EQ(Json(tagged)[0]["id"], ids[0]);

  CommandResult list = RunJoule("runs list --ledger " + ledger);
  ASSERT_EQ(list.exit_code, 0) << list.err;
  std::vector<std::string> lines = Lines(list.out);
  ASSERT_GE(lines.size(), 3u) << list.out;  // header, 2 runs, a note on estimates if any
  EXPECT_EQ(lines[1].rfind(ids[1], 0), 0u) << "newest first:\n" << list.out;
  EXPECT_EQ(lines[2].rfind(ids[0], 0), 0u) << list.out;

  EXPECT_EQ(RunJoule("runs rm --ledger " + ledger + " " + ids[1]).exit_code, 0);
  CommandResult gone = RunJoule("runs show --ledger " + ledger + " " + ids[1]);
  EXPECT_EQ(gone.exit_code, 2);
  EXPECT_EQ(Lines(gone.err).size(), 1u) << gone.err;
}

TEST(Runs, CorruptLedgerIsOneLineAndExit2) {
  const std::string dir = ScratchDir("runs_corrupt");
  const std::string ledger = dir + "/ledger.db";
  std::string garbage;
  for (int i = 0; i < 400; ++i) garbage += "garbage, not SQLite. ";
  WriteBytes(ledger, garbage);

  CommandResult list = RunJoule("runs list --ledger " + ledger);
  EXPECT_EQ(list.exit_code, 2);
  ASSERT_EQ(Lines(list.err).size(), 1u) << list.err;
  EXPECT_NE(list.err.find("corrupt"), std::string::npos) << list.err;
  EXPECT_NE(list.err.find(ledger), std::string::npos) << list.err;

  // Named with --ledger: measure refuses before running the command.
  CommandResult explicit_ledger =
      RunJoule("measure --ledger " + ledger + " -- touch " + dir + "/ran_explicit");
  EXPECT_EQ(explicit_ledger.exit_code, 2);
  EXPECT_FALSE(std::filesystem::exists(dir + "/ran_explicit"));

  // The default ledger (JOULE_HOME): one warning, and the job runs.
  const char* before = std::getenv("JOULE_HOME");
  std::string saved = before != nullptr ? before : "";
  setenv("JOULE_HOME", dir.c_str(), 1);
  CommandResult implicit = RunJoule("measure -- touch " + dir + "/ran_default");
  setenv("JOULE_HOME", saved.c_str(), 1);
  EXPECT_EQ(implicit.exit_code, 0) << implicit.err;
  EXPECT_TRUE(std::filesystem::exists(dir + "/ran_default"));
  int warnings = 0;
  for (const std::string& line : Lines(implicit.err)) {
    warnings += line.find("warning") != std::string::npos && line.find(ledger) != std::string::npos;
  }
  EXPECT_EQ(warnings, 1) << implicit.err;
}

TEST(Runs, NoLedgerWritesNoFile) {
  const std::string dir = ScratchDir("runs_none");
  const char* before = std::getenv("JOULE_HOME");
  std::string saved = before != nullptr ? before : "";
  setenv("JOULE_HOME", dir.c_str(), 1);
  CommandResult m = RunJoule("measure --no-ledger -- true");
  CommandResult list = RunJoule("runs list");
  setenv("JOULE_HOME", saved.c_str(), 1);
  EXPECT_EQ(m.exit_code, 0) << m.err;
  EXPECT_EQ(m.err.find("recorded as run"), std::string::npos) << m.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/ledger.db"));
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("no runs"), std::string::npos) << list.out;
}

TEST(Runs, FailedCommandIsAFailedRunWithItsFigures) {
  const std::string ledger = ScratchDir("runs_failed") + "/ledger.db";
  CommandResult m = RunJoule("measure --ledger " + ledger + " -- sh -c 'exit 3'");
  EXPECT_EQ(m.exit_code, 3);
  nlohmann::json run = OnlyRun(ledger);
  EXPECT_EQ(run["status"], "failed");
  EXPECT_EQ(run["message"], "exit 3");
  EXPECT_EQ(run["metrics"]["exit_code"], 3);
  EXPECT_GT(run["energy"]["samples"].get<int>(), 0);
}

}  // namespace
}  // namespace joule::test
