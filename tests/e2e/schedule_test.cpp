// joule estimate, plan and run as a user runs them.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "e2e_util.hpp"

namespace joule::test {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST(Estimate, TheIssuesExampleIsLabelledAndUnknownModelsSuggest) {
  CommandResult r = RunJoule("estimate --gpu 'A100 SXM4' --count 8 --hours 24 --country USA");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("estimated:calculator"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("76.800 kWh"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("28.376 kgCO2eq"), std::string::npos) << r.out;
  CommandResult bad = RunJoule("estimate --gpu 'A100 SMX4' --hours 1");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("closest: A100 SXM4"), std::string::npos) << bad.err;
}

TEST(Plan, FromASeriesFileNamesTheStartAndTheSource) {
  std::string dir = ScratchDir("plan_series");
  // 2022-07-01 from midnight: dirty until 06:00, then clean until 10:00.
  std::string csv = "timestamp,g_per_kwh\n";
  for (int h = 0; h < 24; ++h) {
    csv += "2022-07-01T" + std::string(h < 10 ? "0" : "") + std::to_string(h) + ":00:00Z," +
           (h >= 6 && h < 10 ? "50" : "400") + "\n";
  }
  WriteBytes(dir + "/s.csv", csv);
  CommandResult r = RunJoule("plan --duration 4h --within 12h --intensity-series " + dir +
                             "/s.csv --at 1656633600 --json");  // 2022-07-01T00:00Z
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["start"], "2022-07-01T06:00:00Z");
  EXPECT_DOUBLE_EQ(j["forecast_g_per_kwh"].get<double>(), 50);
  EXPECT_DOUBLE_EQ(j["saving_percent"].get<double>(), 87.5);
  EXPECT_EQ(j["source"], "series:s.csv");
  CommandResult text = RunJoule("plan --duration 4h --within 12h --intensity-series " + dir +
                                "/s.csv --at 1656633600");
  EXPECT_NE(text.out.find("(in 6h00m)"), std::string::npos) << text.out;
  CommandResult bad = RunJoule("plan --duration 5h --within 4h --zone DE");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("shorter than the job"), std::string::npos) << bad.err;
}

// A series in seconds from now: clean (100) for 3 s, dirty (500) for 3 s,
// then 290, under the threshold: starting now is the best plan (a mean of
// about 233 over the job against 290 later). The command needs 3 s of CPU: it
// runs until the dirty seconds, is paused through them, and ends after.
TEST(Run, InterruptiblePausesAboveTheThresholdAndRecordsThePauses) {
  std::string dir = ScratchDir("run_interruptible");
  long t0 = static_cast<long>(std::floor(Now()));
  std::string csv = "timestamp,g_per_kwh\n";
  for (int s = -2; s < 60; ++s) {
    const char* g = s < 3 ? "100" : s < 6 ? "500" : "290";
    csv += std::to_string(t0 + s) + "," + g + "\n";
  }
  WriteBytes(dir + "/s.csv", csv);
  std::string work =
      "python3 -c 'import time\nt=time.process_time()\nwhile time.process_time()-t<3: pass'";
  CommandResult r = RunJoule(
      "run --duration 3s --within 30s --interruptible --max-intensity 300 "
      "--intensity-series " +
      dir + "/s.csv --interval 0.1 --ledger " + dir + "/l.db -- " + work);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("paused at"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("resumed at"), std::string::npos) << r.err;
  CommandResult list = RunJoule("runs list --json --ledger " + dir + "/l.db");
  nlohmann::json runs = nlohmann::json::parse(list.out);
  ASSERT_EQ(runs.size(), 1u);
  CommandResult show =
      RunJoule("runs show --json --ledger " + dir + "/l.db " + runs[0]["id"].get<std::string>());
  nlohmann::json run = nlohmann::json::parse(show.out);
  const nlohmann::json& schedule = run["metrics"]["schedule"];
  ASSERT_EQ(schedule["pauses"].size(), 1u) << schedule.dump();
  double from = schedule["pauses"][0]["from"], to = schedule["pauses"][0]["to"];
  // Paused in the dirty seconds [t0+3, t0+6), checked every 0.1 s.
  EXPECT_GE(from, t0 + 3.0);
  EXPECT_LE(from, t0 + 3.6);
  EXPECT_GE(to, t0 + 6.0);
  EXPECT_LE(to, t0 + 6.6);
  // While it ran the grid was at 100, then 290: the realised intensity leaves
  // the paused 500s out.
  double realised = schedule["realised_g_per_kwh"];
  EXPECT_GE(realised, 100);
  EXPECT_LT(realised, 290);
  EXPECT_GT(schedule["realised_co2_g"].get<double>(), 0);
  EXPECT_EQ(schedule["realised_source"], "series:s.csv");
  EXPECT_EQ(run["status"], "completed");
}

// Dirty from the second second on: the job pauses, and resumes when only its
// remaining work fits before the deadline, so it ends by it.
TEST(Run, InterruptibleAlwaysFinishesByTheDeadline) {
  std::string dir = ScratchDir("run_deadline");
  long t0 = static_cast<long>(std::floor(Now()));
  std::string csv = "timestamp,g_per_kwh\n";
  for (int s = -2; s < 60; ++s)
    csv += std::to_string(t0 + s) + "," + (s < 1 ? "100" : "900") + "\n";
  WriteBytes(dir + "/s.csv", csv);
  std::string work =
      "python3 -c 'import time\nt=time.process_time()\nwhile time.process_time()-t<2: pass'";
  CommandResult r = RunJoule(
      "run --duration 2s --within 6s --interruptible --max-intensity 300 "
      "--intensity-series " +
      dir + "/s.csv --interval 0.1 --no-ledger -- " + work);
  double end = Now();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("paused at"), std::string::npos) << r.err;
  // The deadline is t0 + 6 (plus the start's fraction of a second and the
  // command's start-up, and on a loaded machine the 2 CPU-seconds of work
  // take longer than 2 s of wall: 4 s of slack); without the rule it would
  // wait for ever (the grid is dirty for a minute).
  EXPECT_LT(end, t0 + 6 + 4) << r.err;
}

// Ctrl-C while joule run waits for its start: it stops at once, exit 130,
// the command never ran and the ledger holds no run.
TEST(Run, InterruptWhileWaitingCancelsAndRecordsNothing) {
  std::string dir = ScratchDir("run_cancel");
  long t0 = static_cast<long>(std::floor(Now()));
  std::string csv = "timestamp,g_per_kwh\n";
  // Dirty for an hour, then clean: the plan waits an hour.
  for (int m = -1; m < 180; ++m) {
    csv += std::to_string(t0 + 60 * m) + "," + (m < 60 ? "500" : "50") + "\n";
  }
  WriteBytes(dir + "/s.csv", csv);
  std::string err_path = dir + "/stderr", ledger = dir + "/l.db", marker = dir + "/ran";
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    std::string series = dir + "/s.csv";
    execl(JOULE_BINARY, JOULE_BINARY, "run", "--duration", "1h", "--within", "3h",
          "--intensity-series", series.c_str(), "--ledger", ledger.c_str(), "--", "touch",
          marker.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string err;
  for (int i = 0; i < 300 && err.find("waiting until") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::ifstream in(err_path);
    err.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ASSERT_NE(err.find("waiting until"), std::string::npos) << err;
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "joule died of a signal instead of cancelling";
  EXPECT_EQ(WEXITSTATUS(status), 130);
  std::ifstream in(err_path);
  err.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  EXPECT_NE(err.find("cancelled while waiting; nothing ran"), std::string::npos) << err;
  EXPECT_FALSE(std::ifstream(marker).good()) << "the command ran";
  CommandResult list = RunJoule("runs list --json --ledger " + ledger);
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(nlohmann::json::parse(list.out).size(), 0u) << list.out;
}

}  // namespace
}  // namespace joule::test
