// joule measure: the energy and carbon of a command (or of a running process)
// and of its whole process tree.
//
//   joule measure [options] -- CMD ARGS...   runs CMD, measures until it ends,
//                                            exits with its code (128+signal)
//   joule measure [options] --pid N          attaches to process N until it
//                                            ends or joule gets SIGINT/SIGTERM
//
// Everything that can be wrong with the input (flags, carbon location, files)
// is checked before the command starts, so bad input never runs the command
// and never writes an output file.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <thread>

#include "cli/commands.hpp"
#include "cli/ledger_flags.hpp"
#include "cli/measure_output.hpp"
#include "joule/carbon.hpp"
#include "joule/ledger.hpp"
#include "joule/meter.hpp"
#include "joule/run_record.hpp"
#include "joule/util.hpp"

namespace joule::cli {
namespace {

struct MeasureFlags {
  std::vector<std::string> command;
  int pid = 0;
  double interval_s = 1.0;
  double cpu_tdp_w = 0, power_w = 0, ram_power_w = 0;
  CarbonOptions carbon;
  double intensity = 0, embodied_kg = 0, lifetime_years = 0;
  std::string csv, samples, prometheus, project_name = "joule";
  bool json = false, machine = false;
  LedgerFlags ledger;
  // Which optional numbers were given.
  CLI::Option *cpu_tdp_opt = nullptr, *power_opt = nullptr, *ram_power_opt = nullptr,
              *intensity_opt = nullptr, *embodied_opt = nullptr, *lifetime_opt = nullptr;
};

// The child being measured, for the signal handler; 0 before it exists.
std::atomic<pid_t> g_child{0};
volatile sig_atomic_t g_stop_signal = 0;
static_assert(std::atomic<pid_t>::is_always_lock_free, "the signal handler reads g_child");

// SIGINT/SIGTERM sent to joule with kill(2) (si_code <= 0: SI_USER, SI_QUEUE,
// SI_TKILL) are forwarded to the child. One typed at the terminal (Ctrl-C,
// si_code SI_KERNEL) already reached the child, which is in the same
// foreground process group, so forwarding it would deliver it twice.
void OnTerminatingSignal(int sig, siginfo_t* info, void* /*context*/) {
  g_stop_signal = sig;
  pid_t child = g_child.load();
  if (child > 0 && (info == nullptr || info->si_code <= 0)) kill(child, sig);
}

void InstallSignalHandlers() {
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_sigaction = OnTerminatingSignal;
  action.sa_flags = SA_SIGINFO;  // no SA_RESTART: waitpid returns EINTR and we re-check
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

void CheckInterval(double interval_s) {
  if (!(interval_s >= 0.01 && interval_s <= 3600)) {
    throw Error(
        "--interval " + CLI::detail::to_string(interval_s) +
        ": expected seconds between samples from 0.01 (10 ms) to 3600, e.g. --interval 0.1");
  }
}

// An existing CSV must already be a CodeCarbon file, or the row would be
// refused after the command ran; refuse it before instead.
void CheckCsvTarget(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty() && !std::filesystem::is_directory(parent)) {
      throw Error("--csv " + path + ": directory " + parent.string() +
                  " does not exist; create it or give another path");
    }
    return;
  }
  std::string header;
  std::getline(in, header);
  if (header.empty()) return;
  if (!header.empty() && header.back() == '\r') header.pop_back();
  std::string expected;
  for (const std::string& c : CodeCarbonColumns()) expected += (expected.empty() ? "" : ",") + c;
  if (header != expected) {
    throw Error("--csv " + path + ": line 1 is not CodeCarbon's emissions.csv header (" +
                std::to_string(CodeCarbonColumns().size()) +
                " columns from 'timestamp' to 'wue'); give a new file or a CodeCarbon one");
  }
}

std::string ExitText(int status, int* exit_code) {
  if (WIFEXITED(status)) {
    *exit_code = WEXITSTATUS(status);
    return "exit " + std::to_string(*exit_code);
  }
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    *exit_code = 128 + sig;
    return "killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  *exit_code = 1;
  return "ended with status " + std::to_string(status);
}

// Starts `command`; returns its PID once exec has succeeded. The CLOEXEC pipe
// closes on a successful exec and carries errno back when it fails, so a
// command that cannot start is reported as such and never measured.
pid_t Spawn(const std::vector<std::string>& command) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw Error(std::string("pipe2: ") + std::strerror(errno));
  std::vector<char*> argv;
  for (const std::string& word : command) argv.push_back(const_cast<char*>(word.c_str()));
  argv.push_back(nullptr);
  // SIGINT/SIGTERM stay blocked from before fork until g_child is set, so a
  // signal sent to joule as the child starts is forwarded, not lost; one that
  // came earlier (while joule was starting) is forwarded as soon as the child
  // exists.
  sigset_t terminating, previous;
  sigemptyset(&terminating);
  sigaddset(&terminating, SIGINT);
  sigaddset(&terminating, SIGTERM);
  sigprocmask(SIG_BLOCK, &terminating, &previous);
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    sigprocmask(SIG_SETMASK, &previous, nullptr);
    close(fds[0]);
    close(fds[1]);
    throw Error(std::string("fork: ") + std::strerror(err));
  }
  if (pid == 0) {
    // The command gets the default dispositions and the mask joule started with.
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigprocmask(SIG_SETMASK, &previous, nullptr);
    close(fds[0]);
    execvp(argv[0], argv.data());
    int err = errno;
    ssize_t ignored = write(fds[1], &err, sizeof err);
    (void)ignored;
    _exit(127);
  }
  g_child.store(pid);
  if (int early = g_stop_signal; early != 0) kill(pid, early);
  sigprocmask(SIG_SETMASK, &previous, nullptr);
  close(fds[1]);
  int err = 0;
  ssize_t n;
  do {
    n = read(fds[0], &err, sizeof err);
  } while (n < 0 && errno == EINTR);
  close(fds[0]);
  if (n == static_cast<ssize_t>(sizeof err)) {
    g_child.store(0);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    std::fprintf(stderr, "joule: error: cannot run '%s': %s\n", command[0].c_str(),
                 std::strerror(err));
    throw CliExit{err == ENOENT ? 127 : 126};
  }
  return pid;
}

// Waits for `child`, reaping any orphaned descendants that joule (a
// subreaper) inherits on the way, so their CPU time lands in our cutime.
int WaitForChild(pid_t child) {
  for (;;) {
    int status = 0;
    pid_t done = waitpid(-1, &status, 0);
    if (done == child) return status;
    if (done < 0 && errno == ECHILD) return 0;
    // EINTR (a forwarded signal) or an orphan reaped: keep waiting.
  }
}

bool ProcessEnded(int pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return true;
  // A zombie whose parent has not reaped it yet is finished too.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::size_t close = text.rfind(')');
  return close == std::string::npos || (close + 2 < text.size() && text[close + 2] == 'Z');
}

std::string JoinWords(const std::vector<std::string>& words) {
  std::string s;
  for (const std::string& word : words) s += (s.empty() ? "" : " ") + word;
  return s;
}

// The run as the ledger first sees it: the command line as its name, the
// flags that shape the figures as its config.
RunRecord MeasureHeader(const MeasureFlags& f,
                        const std::vector<std::unique_ptr<PowerSource>>& sources,
                        Attribution attribution, const CarbonModel& carbon) {
  RunRecord header;
  header.kind = "measure";
  header.name = f.pid != 0 ? "pid " + std::to_string(f.pid) : JoinWords(f.command);
  header.config = {{"command", f.command},
                   {"interval_s", f.interval_s},
                   {"attribution", attribution == Attribution::kMachine ? "machine" : "process"},
                   {"project_name", f.project_name}};
  if (f.pid != 0) header.config["pid"] = f.pid;
  if (*f.cpu_tdp_opt) header.config["cpu_tdp_w"] = f.cpu_tdp_w;
  if (*f.ram_power_opt) header.config["ram_power_w"] = f.ram_power_w;
  if (*f.power_opt) header.config["power_w"] = f.power_w;
  header.host = ReadHostRecord(sources);
  header.energy = EnergyLabels(sources, attribution, &carbon);
  return header;
}

void RunMeasure(MeasureFlags& f) {
  // 1. Input, all of it, before anything runs.
  if (f.command.empty() && f.pid == 0) {
    throw Error(
        "missing command: give the command to measure after '--' (joule measure -- python "
        "train.py) or a running process with --pid N");
  }
  if (!f.command.empty() && f.pid != 0) {
    throw Error("give either a command after '--' or --pid N, not both");
  }
  if (f.pid < 0) throw Error("--pid " + std::to_string(f.pid) + ": expected a process ID > 0");
  CheckInterval(f.interval_s);
  if (*f.intensity_opt) f.carbon.intensity_g_per_kwh = f.intensity;
  if (*f.embodied_opt) f.carbon.embodied_kg = f.embodied_kg;
  if (*f.lifetime_opt) f.carbon.lifetime_years = f.lifetime_years;
  CarbonModel carbon = CarbonModel::Resolve(f.carbon, DataDir());
  if (!f.csv.empty()) CheckCsvTarget(f.csv);

  SensorOptions sensors;
  if (const char* nvml = std::getenv("JOULE_NVML_LIBRARY")) sensors.nvml_library = nvml;
  if (const char* powercap = std::getenv("JOULE_POWERCAP_DIR")) sensors.powercap_dir = powercap;
  if (*f.cpu_tdp_opt) sensors.cpu_tdp_w = f.cpu_tdp_w;
  if (*f.ram_power_opt) sensors.ram_power_w = f.ram_power_w;
  if (*f.power_opt) sensors.declared_power_w = f.power_w;
  SensorSet set = DiscoverSensors(sensors);

  RunFacts run;
  run.command = f.command;
  run.attached = f.pid != 0;
  run.interval_s = f.interval_s;
  run.warnings = set.warnings;
  for (const auto& source : set.sources) {
    run.source_details.push_back(std::string(source->method()) + ": " + source->detail());
  }

  MeterOptions options;
  options.attribution = f.machine ? Attribution::kMachine : Attribution::kProcessTree;
  RunRecord record = MeasureHeader(f, set.sources, options.attribution, carbon);
  // Declared before the meter, whose sampling thread writes to it, so that it
  // outlives the thread; begun once the input has passed every check.
  std::optional<RunRecorder> recorder;
  // Measuring a command: the tree is joule's children (the command and what
  // it starts), not joule itself. Attaching: the target and its descendants.
  options.root_pid = f.pid != 0 ? f.pid : static_cast<int>(getpid());
  options.count_root_cpu = f.pid != 0;
  options.interval_s = f.interval_s;
  options.carbon = carbon;
  Meter meter(std::move(set.sources), options);
  run.interval_s = meter.interval_s();

  // The run is in the ledger before the command starts, so that whatever
  // happens to joule from here on, the samples taken are kept. Opened before
  // the Prometheus server starts, so that opening it does not widen the time
  // in which a scrape finds the meter not yet started.
  recorder.emplace(ResolveLedgerTarget(f.ledger), record);
  record.id = run.run_id = recorder->id();
  if (recorder->recording()) run.ledger_path = ResolveLedgerTarget(f.ledger).path;
  std::unique_ptr<PrometheusServer> prometheus;
  if (!f.prometheus.empty()) {
    try {
      prometheus = std::make_unique<PrometheusServer>(f.prometheus, [&meter, &carbon] {
        return RenderPrometheusText(PrometheusMetrics(meter.Last(), carbon));
      });
    } catch (const Error& e) {
      recorder->Finish(RunStatus::kFailed, e.what(), record.energy, nlohmann::json::object());
      throw;
    }
  }
  for (const std::string& w : run.warnings) std::fprintf(stderr, "joule: warning: %s\n", w.c_str());

  // 2. Run and measure.
  std::unique_ptr<JsonLinesWriter> samples;
  if (!f.samples.empty()) samples = std::make_unique<JsonLinesWriter>(f.samples);
  std::string sample_error;
  meter.set_on_sample([writer = samples.get(), &sample_error, &recorder](const MeterReading& r) {
    recorder->AppendSample(SampleRowFromReading(r));
    if (writer == nullptr || !sample_error.empty()) return;
    try {
      writer->Write(SampleJson(r));
    } catch (const Error& e) {
      sample_error = e.what();  // reported after the run; the command is not disturbed
    }
  });
  InstallSignalHandlers();
  if (f.pid == 0) prctl(PR_SET_CHILD_SUBREAPER, 1);
  meter.Start();
  int status = 0;
  if (f.pid == 0) {
    pid_t child;
    try {
      child = Spawn(f.command);
    } catch (...) {
      // The command never ran: leave no output behind.
      meter.Stop();
      samples.reset();
      if (!f.samples.empty()) std::remove(f.samples.c_str());
      recorder->Finish(RunStatus::kFailed, "the command could not be started", record.energy,
                       nlohmann::json::object());
      throw;
    }
    run.pid = child;
    status = WaitForChild(child);
    g_child.store(0);
    run.exit_text = ExitText(status, &run.exit_code);
  } else {
    run.pid = f.pid;
    while (g_stop_signal == 0 && !ProcessEnded(f.pid)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    run.exit_text =
        g_stop_signal != 0 ? "stopped by signal " + std::to_string(g_stop_signal) : "process ended";
  }
  MeterReading reading = meter.Stop();
  prometheus.reset();
  samples.reset();
  record.energy = MakeEnergyReport(reading, &carbon);
  record.start_unix_s = reading.start_unix_s;
  record.end_unix_s = reading.end_unix_s;
  record.metrics = {{"exit_code", run.exit_code}};
  if (run.exit_code == 0 && !(f.pid != 0 && g_stop_signal != 0)) {
    record.status = RunStatus::kCompleted;
  } else {
    record.status = g_stop_signal != 0 ? RunStatus::kStopped : RunStatus::kFailed;
    record.message = run.exit_text;
  }
  recorder->Finish(record.status, record.message, record.energy, record.metrics);

  // 3. Report.
  std::fputs(FormatSummary(reading, carbon, run).c_str(), stderr);
  if (f.json) std::printf("%s\n", SummaryJson(reading, carbon, run).dump().c_str());
  if (!f.csv.empty()) AppendCodeCarbonCsv(f.csv, RunToCodeCarbonRow(record));
  if (!sample_error.empty()) throw Error("--samples: " + sample_error);
  if (run.exit_code != 0) throw CliExit{run.exit_code};
}

}  // namespace

void RegisterMeasureCommand(CLI::App& app) {
  auto f = std::make_shared<MeasureFlags>();
  CLI::App* cmd = app.add_subcommand(
      "measure",
      "Run a command (after --) or attach to a process (--pid) and report the energy and carbon "
      "of its whole process tree. Figures say how they were obtained: measured:rapl, "
      "measured:nvml, measured:hwmon, estimated:tdp-model or declared.");
  cmd->add_option("command", f->command, "the command to run and measure, after --");
  cmd->add_option("--pid", f->pid, "attach to this running process and its descendants");
  cmd->add_option("--interval", f->interval_s, "seconds between samples, 0.01 to 3600")
      ->capture_default_str();
  f->cpu_tdp_opt = cmd->add_option("--cpu-tdp", f->cpu_tdp_w,
                                   "CPU thermal design power in W for the model (no sensor)");
  f->ram_power_opt = cmd->add_option("--ram-power", f->ram_power_w,
                                     "RAM power in W for the model (default 3 W per 8 GB)");
  f->power_opt = cmd->add_option(
      "--power", f->power_w, "the machine's wall power in W, if you know it (label 'declared')");
  cmd->add_option("--country", f->carbon.country_iso3, "ISO 3166 alpha-3 country code, e.g. FRA");
  cmd->add_option("--cloud", f->carbon.cloud_provider, "cloud provider, e.g. gcp (with --region)");
  cmd->add_option("--region", f->carbon.cloud_region, "cloud region, e.g. europe-west1");
  cmd->add_option("--grid-region", f->carbon.grid_region, "US state or Nordic zone, e.g. SE3");
  f->intensity_opt =
      cmd->add_option("--intensity", f->intensity, "fixed carbon intensity in gCO2eq/kWh");
  cmd->add_option("--intensity-series", f->carbon.series_path,
                  "CSV of timestamp,g_per_kwh or an Electricity Maps export");
  cmd->add_option("--intensity-kind", f->carbon.series_kind,
                  "direct or lca column of an Electricity Maps export")
      ->capture_default_str();
  cmd->add_option("--pue", f->carbon.pue, "data-centre power usage effectiveness, >= 1")
      ->capture_default_str();
  f->embodied_opt = cmd->add_option("--embodied-kg", f->embodied_kg,
                                    "manufacturing emissions of the machine, kg CO2eq");
  f->lifetime_opt =
      cmd->add_option("--lifetime-years", f->lifetime_years,
                      "the machine's service life, over which --embodied-kg is spread");
  cmd->add_option("--csv", f->csv, "append a row to this CodeCarbon-compatible emissions.csv");
  cmd->add_option("--samples", f->samples, "write every sample to this file as JSON lines");
  cmd->add_option("--prometheus", f->prometheus,
                  "serve Prometheus metrics on HOST:PORT while measuring (host default 127.0.0.1)");
  cmd->add_option("--project-name", f->project_name, "project_name column of --csv")
      ->capture_default_str();
  cmd->add_flag("--json", f->json, "print the summary as one JSON object on stdout");
  cmd->add_flag("--machine", f->machine, "report the whole machine, not the process tree");
  AddLedgerFlags(*cmd, f->ledger);
  cmd->callback([f] { RunMeasure(*f); });
}

}  // namespace joule::cli
