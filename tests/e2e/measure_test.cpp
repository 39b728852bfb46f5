// joule measure and joule sensors through the binary, as a user runs them.
//
// The machine these run on may be busy with other work (CI runs builds next
// to the tests), so no test assumes the CPU is free: CPU shares are checked
// against figures the test measures itself over the same run.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

// --- CPU burner -------------------------------------------------------------
// With JOULE_E2E_BURN="cpu SECONDS FILE" or "wall SECONDS FILE" in its
// environment this test binary is not a test runner but a busy process: it
// spins on one core until it has used SECONDS of CPU time (or SECONDS of wall
// time have passed), writes the CPU time it used to FILE and exits. Running
// before main() keeps GoogleTest out of it.
double SelfCpuSeconds() {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double WallSeconds() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

const bool kIsBurner = [] {
  const char* spec = std::getenv("JOULE_E2E_BURN");
  if (spec == nullptr) return false;
  std::istringstream in(spec);
  std::string mode, file;
  double seconds = 0;
  in >> mode >> seconds >> file;
  double start = WallSeconds();
  volatile unsigned long long x = 0;
  for (;;) {
    for (int i = 0; i < 100000; ++i) x = x + static_cast<unsigned long long>(i);
    if (mode == "cpu" ? SelfCpuSeconds() >= seconds : WallSeconds() - start >= seconds) break;
  }
  std::ofstream(file) << SelfCpuSeconds() << "\n";
  _exit(0);
}();

// --- running joule ----------------------------------------------------------

std::string SelfPath() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Dir(const std::string& name) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(JOULE_TEST_BINARY_DIR) / "scratch" / ("measure_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

struct JouleRun {
  int exit_code = -1;
  std::string out, err;
};

// Starts `joule args...` with stdout/stderr in `dir`; returns its PID.
pid_t StartJoule(const std::vector<std::string>& args, const std::string& dir,
                 const std::vector<std::string>& env = {}) {
  pid_t pid = fork();
  if (pid == 0) {
    int out = open((dir + "/stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open((dir + "/stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(err, 2);
    for (const std::string& e : env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv{const_cast<char*>(JOULE_BINARY)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(JOULE_BINARY, argv.data());
    _exit(120);
  }
  return pid;
}

JouleRun Finish(pid_t pid, const std::string& dir) {
  int status = 0;
  waitpid(pid, &status, 0);
  JouleRun r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = Slurp(dir + "/stdout");
  r.err = Slurp(dir + "/stderr");
  return r;
}

// Finish, but a joule still running after `seconds` is killed with its
// children (a broken signal path must fail the test, not hang it).
JouleRun FinishWithin(pid_t pid, const std::string& dir, double seconds) {
  for (double waited = 0; waited < seconds; waited += 0.02) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      JouleRun r;
      r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      r.out = Slurp(dir + "/stdout");
      r.err = Slurp(dir + "/stderr");
      return r;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::istringstream children(
      Slurp("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children"));
  for (int child; children >> child;) kill(child, SIGKILL);
  kill(pid, SIGKILL);
  JouleRun r = Finish(pid, dir);
  r.exit_code = -2;
  r.err = "joule did not end within the time limit; killed. stderr: " + r.err;
  return r;
}

JouleRun Joule(const std::vector<std::string>& args, const std::string& dir,
               const std::vector<std::string>& env = {}) {
  return Finish(StartJoule(args, dir, env), dir);
}

nlohmann::json Json(const JouleRun& r) {
  EXPECT_FALSE(r.out.empty()) << r.err;
  return nlohmann::json::parse(r.out);
}

// A burner started by the test itself (not under joule).
pid_t StartBurner(const std::string& spec) {
  pid_t pid = fork();
  if (pid == 0) {
    setenv("JOULE_E2E_BURN", spec.c_str(), 1);
    execl(SelfPath().c_str(), "burner", nullptr);
    _exit(120);
  }
  return pid;
}

struct CpuLine {
  double busy_s = 0;
};
CpuLine MachineCpu() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  unsigned long long v[8] = {};
  in >> cpu;
  for (auto& x : v) in >> x;
  double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  return {(v[0] + v[1] + v[2] + v[5] + v[6]) / hz};
}

double ProcessCpuSeconds(pid_t pid) {
  std::string text = Slurp("/proc/" + std::to_string(pid) + "/stat");
  std::istringstream in(text.substr(text.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15; ++i) {
    in >> field;
    if (i == 14 || i == 15) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double ReadNumber(const std::string& path) { return std::stod(Slurp(path)); }

// --- acceptance 5: exit codes, signals, Prometheus ---------------------------

TEST(Measure, ExitsWithTheCommandsExitCode) {
  std::string dir = Dir("exit3");
  JouleRun r = Joule({"measure", "--", "sh", "-c", "exit 3"}, dir);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("exit 3"), std::string::npos) << r.err;
  EXPECT_EQ(Joule({"measure", "--", "true"}, dir).exit_code, 0);
}

TEST(Measure, SummaryNamesEnergyMethodCarbonAndSaysEstimate) {
  std::string dir = Dir("summary");
  JouleRun r = Joule({"measure", "--country", "FRA", "--", "true"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* must : {" J ", "kWh", "estimated:tdp-model", "gCO2eq", "g/kWh", "FRA",
                           "process share", "ESTIMATES"}) {
    EXPECT_NE(r.err.find(must), std::string::npos) << must << "\n" << r.err;
  }
}

bool WaitForFile(const std::string& path, double seconds) {
  for (double waited = 0; waited < seconds; waited += 0.02) {
    if (std::filesystem::exists(path)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

TEST(Measure, SigtermToJouleReachesTheChild) {
  std::string dir = Dir("sigterm");
  std::string ready = dir + "/ready", got = dir + "/got";
  std::string script = "trap 'echo term > " + got + "; exit 7' TERM; echo > " + ready +
                       "; while :; do sleep 0.05; done";
  pid_t joule = StartJoule({"measure", "--", "sh", "-c", script}, dir);
  ASSERT_TRUE(WaitForFile(ready, 30)) << "the child never started";
  kill(joule, SIGTERM);
  JouleRun r = FinishWithin(joule, dir, 60);
  EXPECT_EQ(Slurp(got), "term\n");
  EXPECT_EQ(r.exit_code, 7) << r.err;  // the child's own exit code, after its trap ran
  EXPECT_NE(r.err.find("joule measure:"), std::string::npos) << "summary still printed: " << r.err;
}

// The monitor: SIGTERM after 2.5 intervals leaves three rows (two whole
// intervals and the partial one) whose energies add up to the run's. The
// test waits for the second row rather than for a time, so a slow start
// (a sanitized build) does not change the count.
TEST(Measure, MonitorWritesARowPerIntervalAndTheLastPartOne) {
  std::string dir = Dir("monitor");
  std::string csv = dir + "/emissions.csv", ledger = dir + "/ledger.db";
  pid_t joule = StartJoule({"measure", "--machine", "--every", "2", "--interval", "0.1", "--csv",
                            csv, "--json", "--ledger", ledger},
                           dir);
  auto rows_written = [&] {
    std::string text = Slurp(csv);
    return static_cast<int>(std::count(text.begin(), text.end(), '\n')) - 1;  // minus the header
  };
  for (int tries = 0; tries < 1200 && rows_written() < 2; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_EQ(rows_written(), 2) << "the monitor did not write its first two rows";
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // half an interval more
  kill(joule, SIGTERM);
  JouleRun r = FinishWithin(joule, dir, 60);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("3 rows appended to " + csv), std::string::npos) << r.err;
  std::istringstream lines(Slurp(csv));
  std::string header, line;
  std::getline(lines, header);
  std::vector<std::string> columns;
  for (std::stringstream h(header); std::getline(h, line, ',');) columns.push_back(line);
  auto energy_at = std::find(columns.begin(), columns.end(), "energy_consumed") - columns.begin();
  auto duration_at = std::find(columns.begin(), columns.end(), "duration") - columns.begin();
  double sum_kwh = 0, sum_s = 0;
  int rows = 0;
  while (std::getline(lines, line)) {
    std::vector<std::string> cells;
    for (std::stringstream c(line); std::getline(c, header, ',');) cells.push_back(header);
    ASSERT_GT(cells.size(), static_cast<std::size_t>(energy_at)) << line;
    sum_kwh += std::stod(cells[static_cast<std::size_t>(energy_at)]);
    sum_s += std::stod(cells[static_cast<std::size_t>(duration_at)]);
    ++rows;
  }
  EXPECT_EQ(rows, 3);
  nlohmann::json summary = nlohmann::json::parse(r.out);
  const double total_kwh = summary["energy_kwh"].get<double>();
  EXPECT_GT(total_kwh, 0);
  EXPECT_NEAR(sum_kwh, total_kwh, 1e-9 * total_kwh);
  EXPECT_NEAR(sum_s, summary["duration_s"].get<double>(), 1e-6);
}

TEST(Measure, MonitorNeedsTheMachineAndNoCommand) {
  std::string dir = Dir("monitor_bad");
  JouleRun r = FinishWithin(StartJoule({"measure", "--every", "1m"}, dir), dir, 30);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--every 1m: --every monitors the whole machine: add --machine"),
            std::string::npos)
      << r.err;
  r = FinishWithin(StartJoule({"measure", "--machine", "--every", "soon"}, dir), dir, 30);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--every soon: expected a duration"), std::string::npos) << r.err;
}

TEST(Measure, ChildKilledBySignalGives128PlusSignal) {
  std::string dir = Dir("killed");
  std::string ready = dir + "/ready";
  pid_t joule =
      StartJoule({"measure", "--", "sh", "-c", "echo > " + ready + "; exec sleep 30"}, dir);
  ASSERT_TRUE(WaitForFile(ready, 30));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let sh exec sleep
  kill(joule, SIGTERM);
  JouleRun r = FinishWithin(joule, dir, 60);
  EXPECT_EQ(r.exit_code, 128 + SIGTERM) << r.err;
}

// PIDs of running processes whose command line is exactly `argv`.
std::vector<pid_t> ProcessesRunning(const std::vector<std::string>& argv) {
  std::string want;
  for (const std::string& a : argv) want += a + '\0';
  std::vector<pid_t> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (Slurp(entry.path().string() + "/cmdline") == want) found.push_back(std::stoi(name));
  }
  return found;
}

// Regression: a SIGTERM that reached joule between fork() and recording the
// child's PID was swallowed, and joule waited for the child for ever.
TEST(Measure, SigtermWhileTheChildStartsIsNotLost) {
  std::string dir = Dir("sigterm_race");
  const std::vector<std::string> sleeper = {"sleep", "30.4321"};
  for (int delay_ms : {0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 24}) {
    pid_t joule = StartJoule({"measure", "--", sleeper[0], sleeper[1]}, dir);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    kill(joule, SIGTERM);
    JouleRun r = FinishWithin(joule, dir, 60);
    // Killed before its handlers were installed, or its child killed: 143 either way.
    EXPECT_EQ(r.exit_code, 128 + SIGTERM) << "delay " << delay_ms << " ms: " << r.err;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::vector<pid_t> left = ProcessesRunning(sleeper);
  EXPECT_TRUE(left.empty()) << left.size() << " 'sleep 30.4321' left running";
  for (pid_t pid : left) kill(pid, SIGKILL);
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// GET /metrics over a plain socket; empty when nothing listens yet.
std::string Scrape(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return "";
  }
  std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (write(fd, request.data(), request.size()) < 0) return "";
  std::string response;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) response.append(buf, n);
  close(fd);
  return response;
}

// [a-zA-Z_:][a-zA-Z0-9_:]* (colons=true) or [a-zA-Z_][a-zA-Z0-9_]* at the
// start of `s`; returns its length, 0 when none.
std::size_t NameLength(const std::string& s, std::size_t at, bool colons) {
  std::size_t i = at;
  auto ok = [&](char c, bool first) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (colons && c == ':') ||
           (!first && std::isdigit(static_cast<unsigned char>(c)));
  };
  while (i < s.size() && ok(s[i], i == at)) ++i;
  return i - at;
}

// One line of the Prometheus text format 0.0.4: "# HELP name text",
// "# TYPE name type", or `name{label="value",...} number`.
bool IsPrometheusLine(const std::string& line) {
  for (const char* prefix : {"# HELP ", "# TYPE "}) {
    if (line.rfind(prefix, 0) != 0) continue;
    std::size_t n = NameLength(line, 7, true);
    if (n == 0 || (line.size() > 7 + n && line[7 + n] != ' ')) return false;
    if (prefix[2] == 'H') return true;
    std::string type = line.substr(7 + n + 1);
    return type == "counter" || type == "gauge" || type == "untyped" || type == "summary" ||
           type == "histogram";
  }
  std::size_t i = NameLength(line, 0, true);
  if (i == 0) return false;
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      std::size_t n = NameLength(line, i, false);
      if (n == 0 || i + n + 1 >= line.size() || line.compare(i + n, 2, "=\"") != 0) return false;
      i += n + 2;
      while (i < line.size() && line[i] != '"') i += line[i] == '\\' ? 2 : 1;
      if (i >= line.size()) return false;
      ++i;  // closing quote
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) return false;
    ++i;  // '}'
  }
  if (i >= line.size() || line[i] != ' ') return false;
  std::string value = line.substr(i + 1);
  if (value == "NaN" || value == "+Inf" || value == "-Inf") return true;
  char* end = nullptr;
  std::strtod(value.c_str(), &end);
  return !value.empty() && *end == '\0';
}

TEST(Measure, PrometheusLineCheckerRejectsWhatIsNotTheFormat) {
  EXPECT_TRUE(IsPrometheusLine("# TYPE joule_energy_joules counter"));
  EXPECT_TRUE(IsPrometheusLine("a_b{x=\"1\",y=\"q\\\"z\"} 1.5e-3"));
  EXPECT_TRUE(IsPrometheusLine("up 1"));
  EXPECT_FALSE(IsPrometheusLine("# TYPE x countr"));
  EXPECT_FALSE(IsPrometheusLine("x{a=1} 2"));
  EXPECT_FALSE(IsPrometheusLine("9x 1"));
  EXPECT_FALSE(IsPrometheusLine("x 1 2"));
  EXPECT_FALSE(IsPrometheusLine("<html>"));
}

TEST(Measure, PrometheusEndpointServesParsableTextWhileRunning) {
  std::string dir = Dir("prometheus");
  int port = FreePort();
  pid_t joule = StartJoule(
      {"measure", "--prometheus", "127.0.0.1:" + std::to_string(port), "--", "sleep", "3"}, dir);
  std::string response;
  for (int i = 0; i < 250 && response.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    response = Scrape(port);
  }
  JouleRun r = Finish(joule, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_FALSE(response.empty()) << "nothing served on port " << port;
  std::size_t body_at = response.find("\r\n\r\n");
  ASSERT_NE(body_at, std::string::npos);
  EXPECT_NE(response.substr(0, body_at).find("200"), std::string::npos);
  EXPECT_NE(response.substr(0, body_at).find("text/plain"), std::string::npos);
  std::string body = response.substr(body_at + 4);
  // The text exposition format, line by line.
  std::istringstream lines(body);
  int samples = 0;
  bool energy_labelled = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    EXPECT_TRUE(IsPrometheusLine(line)) << "not Prometheus text: " << line;
    if (line[0] != '#') ++samples;
    if (line.rfind("joule_energy_joules{", 0) == 0 &&
        line.find("method=\"estimated:tdp-model\"") != std::string::npos) {
      energy_labelled = true;
    }
  }
  EXPECT_GE(samples, 4);
  EXPECT_TRUE(energy_labelled) << body;
}

// --- acceptance 4: attribution ----------------------------------------------

TEST(Measure, ProcessShareOfOneBusyCoreBesideAnotherIsAboutHalf) {
  std::string dir = Dir("share");
  // B: a busy process outside joule's tree, on the other core.
  pid_t other = StartBurner("wall 6 " + dir + "/other_cpu");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  double other_before = ProcessCpuSeconds(other);
  CpuLine machine_before = MachineCpu();
  // A: a busy process under joule.
  JouleRun r = Joule({"measure", "--json", "--interval", "0.1", "--", SelfPath()}, dir,
                     {"JOULE_E2E_BURN=wall 2 " + dir + "/self_cpu"});
  double other_cpu = ProcessCpuSeconds(other) - other_before;
  double machine_busy = MachineCpu().busy_s - machine_before.busy_s;
  kill(other, SIGKILL);
  waitpid(other, nullptr, 0);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = Json(r);
  double share = j["process_share"], process_cpu = j["process_cpu_s"];
  double self_cpu = ReadNumber(dir + "/self_cpu");
  // joule's tree CPU time is the burner's own (plus an exec's worth).
  EXPECT_NEAR(process_cpu, self_cpu, 0.05 + 0.03 * self_cpu);
  // joule's machine figure lies within what the test saw around it.
  EXPECT_LE(j["machine_busy_cpu_s"].get<double>(), machine_busy + 0.05);
  EXPECT_NEAR(share, process_cpu / j["machine_busy_cpu_s"].get<double>(), 1e-9);
  double pair_share = process_cpu / (process_cpu + other_cpu);
  // When A and B were (almost) all the machine did, each had a core and
  // joule's share is one half. Beside other work (ctest runs tests in
  // parallel, a sanitizer slows joule's start so B's window is longer) the
  // scheduler owes A nothing in particular, so only the exact checks above hold.
  if (process_cpu + other_cpu >= 0.9 * machine_busy) {
    EXPECT_GE(pair_share, 0.4) << "A " << process_cpu << " s, B " << other_cpu << " s";
    EXPECT_LE(pair_share, 0.6) << "A " << process_cpu << " s, B " << other_cpu << " s";
    EXPECT_GE(share, 0.4);
    EXPECT_LE(share, 0.6);
  } else {
    std::printf(
        "note: machine busy with other work (A+B = %.2f of %.2f CPU-s); share %.3f "
        "checked against the test's own figures; A/(A+B) = %.3f\n",
        process_cpu + other_cpu, machine_busy, share, pair_share);
  }
}

TEST(Measure, GrandchildrenAreFullyCounted) {
  std::string dir = Dir("grandchildren");
  // sh -> sh -> two burners of 0.4 s CPU each, and one more directly under
  // the outer sh: three grandchildren or great-grandchildren.
  std::string burner = "JOULE_E2E_BURN='cpu 0.4 " + dir + "/b%d' " + SelfPath();
  char b1[512], b2[512], b3[512];
  std::snprintf(b1, sizeof b1, burner.c_str(), 1);
  std::snprintf(b2, sizeof b2, burner.c_str(), 2);
  std::snprintf(b3, sizeof b3, burner.c_str(), 3);
  std::string script = std::string("sh -c \"") + b1 + " & " + b2 + " & wait\" & " + b3 + " & wait";
  JouleRun r = Joule({"measure", "--json", "--", "sh", "-c", script}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  double burned = ReadNumber(dir + "/b1") + ReadNumber(dir + "/b2") + ReadNumber(dir + "/b3");
  EXPECT_GE(burned, 1.2);
  double counted = Json(r)["process_cpu_s"];
  EXPECT_GE(counted, burned - 0.03) << r.err;
  EXPECT_LE(counted, burned + 0.15) << r.err;  // plus three shells and three execs
}

TEST(Measure, AttachesToARunningProcessWithPid) {
  std::string dir = Dir("pid");
  // 1.5 s: the sanitizer build of joule takes ~0.3 s to start and attach.
  pid_t target = StartBurner("cpu 1.5 " + dir + "/target_cpu");
  // --no-ledger: this test is about attaching in time; opening the ledger
  // first (slow under the sanitizers) would let the burner finish unseen.
  JouleRun r = Joule(
      {"measure", "--json", "--no-ledger", "--interval", "0.05", "--pid", std::to_string(target)},
      dir);
  waitpid(target, nullptr, 0);  // joule saw it end as a zombie; reap it now
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = Json(r);
  EXPECT_EQ(j["pid"], target);
  double counted = j["process_cpu_s"], burned = ReadNumber(dir + "/target_cpu");
  // Attached after the burner started: at most what it burned, most of it.
  EXPECT_LE(counted, burned + 0.02);
  EXPECT_GE(counted, 0.5 * burned) << r.err;
  EXPECT_NE(r.err.find("process ended"), std::string::npos) << r.err;
}

TEST(Measure, ReadableRaplTreeGivesMeasuredFiguresNotEstimates) {
  std::string dir = Dir("rapl");
  std::string powercap = dir + "/powercap";
  for (const char* zone : {"intel-rapl:0", "intel-rapl:0:0"}) {
    std::filesystem::create_directories(powercap + "/" + zone);
    std::ofstream(powercap + "/" + zone + "/energy_uj") << "1000\n";
    std::ofstream(powercap + "/" + zone + "/max_energy_range_uj") << "262143328850\n";
  }
  std::ofstream(powercap + "/intel-rapl:0/name") << "package-0\n";
  std::ofstream(powercap + "/intel-rapl:0:0/name") << "dram\n";
  JouleRun r = Joule({"measure", "--json", "--", "true"}, dir, {"JOULE_POWERCAP_DIR=" + powercap});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = Json(r);
  EXPECT_EQ(j["components"]["cpu"]["method"], "measured:rapl");
  EXPECT_EQ(j["components"]["ram"]["method"], "measured:rapl");
  EXPECT_FALSE(j["estimated"].get<bool>());
  EXPECT_EQ(r.err.find("ESTIMATES"), std::string::npos) << r.err;
}

// --- acceptance 3: CodeCarbon CSV ---------------------------------------------

std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cell += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      cells.push_back(cell);
      cell.clear();
    } else {
      cell += c;
    }
  }
  cells.push_back(cell);
  return cells;
}

TEST(Measure, CsvRowsHaveCodeCarbonColumnsAndUnits) {
  std::string dir = Dir("csv");
  std::string csv = dir + "/emissions.csv";
  std::vector<std::string> args = {"measure",
                                   "--json",
                                   "--csv",
                                   csv,
                                   "--country",
                                   "FRA",
                                   "--pue",
                                   "1.25",
                                   "--interval",
                                   "0.05",
                                   "--project-name",
                                   "e2e",
                                   "--machine",
                                   "--",
                                   "sh",
                                   "-c",
                                   "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"};
  JouleRun first = Joule(args, dir);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  JouleRun second = Joule(args, dir);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  std::istringstream lines(Slurp(csv));
  std::string header, row1, row2, extra;
  std::getline(lines, header);
  std::getline(lines, row1);
  std::getline(lines, row2);
  EXPECT_FALSE(std::getline(lines, extra));
  // Golden: CodeCarbon's emissions.csv header, in its order.
  EXPECT_EQ(header,
            "timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,"
            "cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,"
            "water_consumed,country_name,country_iso_code,region,cloud_provider,cloud_region,os,"
            "python_version,codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,"
            "latitude,ram_total_size,tracking_mode,cpu_utilization_percent,"
            "gpu_utilization_percent,ram_utilization_percent,ram_used_gb,on_cloud,pue,wue");
  std::vector<std::string> names = SplitCsv(header);
  ASSERT_EQ(names.size(), 38u);
  std::vector<std::string> cells = SplitCsv(row2);
  ASSERT_EQ(cells.size(), 38u) << row2;
  auto cell = [&](const std::string& name) {
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i] == name) return cells[i];
    }
    return std::string("?");
  };
  auto num = [&](const std::string& name) { return std::stod(cell(name)); };
  nlohmann::json j = Json(second);
  const double pue = 1.25, kwh = 3.6e6;
  double duration = j["duration_s"], energy_j = j["energy_j"];
  ASSERT_GT(energy_j, 0);
  EXPECT_NEAR(num("duration"), duration, 1e-9 * duration);                           // s
  EXPECT_NEAR(num("energy_consumed"), energy_j / kwh * pue, 1e-9 * energy_j / kwh);  // kWh x PUE
  double cpu_j = j["components"]["cpu"]["energy_j"], ram_j = j["components"]["ram"]["energy_j"];
  EXPECT_NEAR(num("cpu_energy"), cpu_j / kwh * pue, 1e-9 * cpu_j / kwh);
  EXPECT_NEAR(num("ram_energy"), ram_j / kwh * pue, 1e-9 * ram_j / kwh);
  EXPECT_NEAR(num("cpu_power"), cpu_j / duration, 1e-9 * cpu_j / duration);  // W
  EXPECT_NEAR(num("emissions"), j["operational_g"].get<double>() / 1000,
              1e-9 * j["operational_g"].get<double>());  // kg
  // CodeCarbon's identity: emissions (kg) = energy_consumed (kWh, with PUE) x intensity / 1000.
  EXPECT_NEAR(num("emissions"),
              num("energy_consumed") * j["intensity_g_per_kwh"].get<double>() / 1000,
              1e-6 * num("emissions"));
  EXPECT_NEAR(num("emissions_rate"), num("emissions") / num("duration"), 1e-9 * num("emissions"));
  EXPECT_EQ(cell("gpu_energy"), "0");  // no GPU: 0, as CodeCarbon writes it
  EXPECT_EQ(cell("gpu_count"), "0");
  EXPECT_EQ(cell("country_iso_code"), "FRA");
  EXPECT_EQ(cell("project_name"), "e2e");
  EXPECT_EQ(cell("tracking_mode"), "machine");
  EXPECT_EQ(cell("on_cloud"), "N");
  EXPECT_EQ(num("pue"), 1.25);
  EXPECT_GT(num("ram_total_size"), 0.1);  // GiB
  EXPECT_LT(num("ram_total_size"), 1e5);
  EXPECT_NE(SplitCsv(row1)[2], cells[2]) << "run_id must differ between runs";
}

TEST(Measure, SamplesFileHasOneJsonLinePerSample) {
  std::string dir = Dir("samples");
  std::string samples = dir + "/samples.jsonl";
  JouleRun r = Joule(
      {"measure", "--json", "--samples", samples, "--interval", "0.05", "--", "sleep", "0.5"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(Slurp(samples));
  int count = 0;
  double last_t = -1;
  for (std::string line; std::getline(lines, line); ++count) {
    nlohmann::json j = nlohmann::json::parse(line);
    EXPECT_GT(j["t_s"].get<double>(), last_t);
    last_t = j["t_s"];
    ASSERT_FALSE(j["channels"].empty());
    EXPECT_EQ(j["channels"][0]["method"], "estimated:tdp-model");
  }
  EXPECT_GE(count, 3);
  EXPECT_EQ(static_cast<std::uint64_t>(count), Json(r)["samples"].get<std::uint64_t>());
}

// --- acceptance 7: bad input --------------------------------------------------

void ExpectRefused(const std::vector<std::string>& flags, const std::string& must_contain,
                   const std::string& name) {
  std::string dir = Dir(name);
  std::string csv = dir + "/emissions.csv";
  std::vector<std::string> args = {"measure", "--csv", csv};
  args.insert(args.end(), flags.begin(), flags.end());
  JouleRun r = Joule(args, dir);
  EXPECT_NE(r.exit_code, 0) << name;
  EXPECT_LT(r.exit_code, 128) << name << " crashed: " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << name << ": " << r.err;
  EXPECT_NE(r.err.find(must_contain), std::string::npos) << name << ": " << r.err;
  EXPECT_FALSE(std::filesystem::exists(csv)) << name << " wrote a CSV row";
}

TEST(MeasureBadInput, EachCaseIsOneLineNonZeroAndNoCsv) {
  ExpectRefused({"--country", "XYZ", "--", "true"}, "XYZ", "bad_country");
  ExpectRefused({"--cloud", "gcp", "--region", "mars-1", "--", "true"}, "mars-1", "bad_region");
  std::string series = Dir("series_file") + "/series.csv";
  std::ofstream(series)
      << "timestamp,g_per_kwh\n2022-01-01T00:00:00Z,100\n2022-01-01T01:00:00Z,x\n";
  ExpectRefused({"--intensity-series", series, "--", "true"}, "series.csv:3", "bad_series");
  ExpectRefused({"--interval", "0", "--", "true"}, "--interval", "interval_zero");
  ExpectRefused({}, "missing command", "no_command");
  ExpectRefused({"--", "/nonexistent/command"}, "cannot run", "not_found");
  std::string dir = Dir("not_found_samples");
  JouleRun r = Joule({"measure", "--samples", dir + "/s.jsonl", "--", "/nonexistent/command"}, dir);
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_FALSE(std::filesystem::exists(dir + "/s.jsonl")) << "a run that never started left output";
}

// --- joule sensors --------------------------------------------------------------

TEST(Sensors, ListsEverySourceWithReasonAndFindsStubGpu) {
  std::string dir = Dir("sensors");
  JouleRun r = Joule({"sensors"}, dir, {"JOULE_NVML_LIBRARY=/nonexistent/libnvidia-ml.so.1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* kind : {"rapl", "hwmon", "nvml", "amdsmi", "tdp-model"}) {
    EXPECT_NE(r.out.find(kind), std::string::npos) << kind << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("cannot load /nonexistent/libnvidia-ml.so.1"), std::string::npos);
  // The shell prompt, or the next command's output, must not start on the last line.
  ASSERT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.back(), '\n') << r.out;
#ifdef JOULE_STUB_NVML
  JouleRun gpu =
      Joule({"sensors", "--json"}, dir, {std::string("JOULE_NVML_LIBRARY=") + JOULE_STUB_NVML});
  ASSERT_EQ(gpu.exit_code, 0) << gpu.err;
  nlohmann::json j = Json(gpu);
  bool found_gpu = false;
  for (const auto& ch : j["channels"]) {
    found_gpu = found_gpu || (ch["method"] == "measured:nvml" && ch["component"] == "gpu");
  }
  EXPECT_TRUE(found_gpu) << gpu.out;
  // With a measured GPU the last line is a channel, not the estimate warning.
  JouleRun plain = Joule({"sensors"}, dir, {std::string("JOULE_NVML_LIBRARY=") + JOULE_STUB_NVML});
  ASSERT_FALSE(plain.out.empty());
  EXPECT_EQ(plain.out.back(), '\n') << plain.out;
  EXPECT_EQ(gpu.out.back(), '\n') << gpu.out;
#endif
#ifdef JOULE_STUB_AMDSMI
  JouleRun amd = Joule({"sensors", "--json"}, dir,
                       {"JOULE_NVML_LIBRARY=/nonexistent/libnvidia-ml.so.1",
                        std::string("JOULE_AMDSMI_LIBRARY=") + JOULE_STUB_AMDSMI});
  ASSERT_EQ(amd.exit_code, 0) << amd.err;
  nlohmann::json a = Json(amd);
  bool found_amd = false;
  for (const auto& ch : a["channels"]) {
    found_amd = found_amd || (ch["method"] == "measured:amdsmi" && ch["component"] == "gpu");
  }
  EXPECT_TRUE(found_amd) << amd.out;
#endif
}

}  // namespace
