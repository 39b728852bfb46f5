// Measuring a command (`joule measure`): start it (or watch a running
// process), meter its process tree until it ends, and record the run.
//
// Everything that can be wrong with the input is checked before the command
// starts (ResolveMeasureJob), so bad input never runs the command and never
// leaves an output file.
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <thread>

#include "joule/ledger.hpp"
#include "joule/run.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

// The child being measured, for the signal handler; 0 before it exists.
std::atomic<pid_t> g_child{0};
volatile sig_atomic_t g_stop_signal = 0;
static_assert(std::atomic<pid_t>::is_always_lock_free, "the signal handler reads g_child");

// SIGINT/SIGTERM sent to joule with kill(2) (si_code <= 0: SI_USER, SI_QUEUE,
// SI_TKILL) are forwarded to the child. One typed at the terminal (Ctrl-C,
// si_code SI_KERNEL) already reached the child, which is in the same
// foreground process group, so forwarding it would deliver it twice.
// A child in its own process group (MeasureJob::own_process_group) is not
// reached by the terminal's Ctrl-C, so every signal is forwarded to its whole
// group, with SIGCONT after it: a paused group must wake to end.
std::atomic<bool> g_child_group{false};

void OnTerminatingSignal(int sig, siginfo_t* info, void* /*context*/) {
  g_stop_signal = sig;
  pid_t child = g_child.load();
  if (child <= 0) return;
  if (g_child_group.load()) {
    kill(-child, sig);
    kill(-child, SIGCONT);
  } else if (info == nullptr || info->si_code <= 0) {
    kill(child, sig);
  }
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

// An existing CSV must already be a CodeCarbon file, or the row would be
// refused after the command ran; refuse it before instead.
std::optional<ConfigProblem> CsvTargetProblem(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty() && !std::filesystem::is_directory(parent)) {
      return ConfigProblem{
          "csv", path,
          "directory " + parent.string() + " does not exist; create it or give another path"};
    }
    return std::nullopt;
  }
  std::string header;
  std::getline(in, header);
  if (header.empty()) return std::nullopt;  // an empty file: the writer starts it
  std::string problem = CodeCarbonHeaderProblem(header);
  if (problem.empty()) return std::nullopt;
  return ConfigProblem{"csv", path, problem + "; give a new file or a CodeCarbon one"};
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

// Starts `command`; returns its PID once exec has succeeded. posix_spawnp
// (clone with CLONE_VFORK in glibc) does not copy this process's page tables
// as fork would: with oneDNN and the rest mapped, fork cost several
// milliseconds, and more while another thread (the ledger's) touched memory.
// It reports a failed exec as its result, so a command that cannot start is
// reported as such and never measured.
pid_t Spawn(const std::vector<std::string>& command, bool own_group) {
  std::vector<char*> argv;
  for (const std::string& word : command) argv.push_back(const_cast<char*>(word.c_str()));
  argv.push_back(nullptr);
  // SIGINT/SIGTERM stay blocked from before the spawn until g_child is set,
  // so a signal sent to joule as the child starts is forwarded, not lost; one
  // that came earlier (while joule was starting) is forwarded as soon as the
  // child exists.
  sigset_t terminating, previous;
  sigemptyset(&terminating);
  sigaddset(&terminating, SIGINT);
  sigaddset(&terminating, SIGTERM);
  sigprocmask(SIG_BLOCK, &terminating, &previous);
  // The command gets the default dispositions and the mask joule started with.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setsigdefault(&attr, &terminating);
  posix_spawnattr_setsigmask(&attr, &previous);
  short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  if (own_group) {
    posix_spawnattr_setpgroup(&attr, 0);  // a group of its own, led by the child
    flags |= POSIX_SPAWN_SETPGROUP;
  }
  posix_spawnattr_setflags(&attr, flags);
  pid_t pid = 0;
  int err = posix_spawnp(&pid, argv[0], nullptr, &attr, argv.data(), environ);
  posix_spawnattr_destroy(&attr);
  if (err != 0) {
    sigprocmask(SIG_SETMASK, &previous, nullptr);
    throw CommandNotStarted("cannot run '" + command[0] + "': " + std::strerror(err),
                            err == ENOENT ? 127 : 126);
  }
  g_child_group.store(own_group);
  g_child.store(pid);
  if (int early = g_stop_signal; early != 0) kill(pid, early);
  sigprocmask(SIG_SETMASK, &previous, nullptr);
  return pid;
}

// Waits for `child`, reaping any orphaned descendants that this process (a
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
// options that shape the figures as its config.
RunRecord MeasureHeader(const MeasureJob& job,
                        const std::vector<std::unique_ptr<PowerSource>>& sources,
                        const CarbonModel& carbon) {
  const MeteringOptions& m = job.metering;
  RunRecord header;
  header.kind = "measure";
  header.name = job.pid != 0          ? "pid " + std::to_string(job.pid)
                : job.command.empty() ? "machine monitor"
                                      : JoinWords(job.command);
  header.config = {{"command", job.command},
                   {"interval_s", m.interval_s},
                   {"attribution", m.attribution == Attribution::kMachine ? "machine" : "process"},
                   {"project_name", job.project_name}};
  if (job.pid != 0) header.config["pid"] = job.pid;
  if (job.every_s > 0) header.config["every_s"] = job.every_s;
  if (m.sensors.cpu_tdp_w) header.config["cpu_tdp_w"] = *m.sensors.cpu_tdp_w;
  if (m.sensors.ram_power_w) header.config["ram_power_w"] = *m.sensors.ram_power_w;
  if (m.sensors.declared_power_w) header.config["power_w"] = *m.sensors.declared_power_w;
  header.host = ReadHostRecord(sources);
  header.energy = EnergyLabels(sources, m.attribution, &carbon);
  header.energy.share = m.share;
  return header;
}

}  // namespace

std::optional<ConfigProblem> ResolveMeasureJob(MeasureJob& job) {
  if (job.every_s != 0) {
    char shown[32];
    std::snprintf(shown, sizeof shown, "%g", job.every_s);
    if (!(job.every_s >= 0.1 && job.every_s <= 86400)) {
      return ConfigProblem{"every", shown, "expected an interval from 0.1 s to 1 day, e.g. 60s"};
    }
    if (!job.command.empty() || job.pid != 0) {
      return ConfigProblem{"every", shown,
                           "--every monitors the whole machine: give no command and no --pid"};
    }
    if (job.metering.attribution != Attribution::kMachine) {
      return ConfigProblem{"every", shown,
                           "--every monitors the whole machine: add --machine (there is no "
                           "process to share it with)"};
    }
  } else if (job.command.empty() && job.pid == 0) {
    return ConfigProblem{"command", "",
                         "missing command: give the command to measure after '--' (joule "
                         "measure -- python train.py), a running process with --pid N, or "
                         "--machine --every 60s to monitor the machine"};
  }
  if (!job.command.empty() && job.pid != 0) {
    return ConfigProblem{"command", "", "give either a command after '--' or --pid N, not both"};
  }
  if (job.pid < 0)
    return ConfigProblem{"pid", std::to_string(job.pid), "expected a process ID > 0"};
  double interval = job.metering.interval_s;
  if (!(interval >= 0.01 && interval <= 3600)) {
    char shown[32];
    std::snprintf(shown, sizeof shown, "%g", interval);
    return ConfigProblem{"metering.interval_s", shown,
                         "expected seconds between samples from 0.01 (10 ms) to 3600, e.g. "
                         "--interval 0.1"};
  }
  if (std::optional<ConfigProblem> p = ResolveMeteringOptions(job.metering)) return p;
  if (!job.csv.empty()) {
    if (std::optional<ConfigProblem> p = CsvTargetProblem(job.csv)) return p;
  }
  return std::nullopt;
}

namespace {

// The monitor's row for one interval: the run's header with the interval's
// figures. A failed write is kept for the end and stops further rows.
void AppendIntervalRow(const MeasureJob& job, const RunRecord& header, const std::string& run_id,
                       const CarbonModel& carbon, const MeterReading& interval,
                       MeasureResult* result) {
  if (job.csv.empty() || !result->csv_error.empty()) return;
  RunRecord row = header;
  row.id = run_id;
  row.energy = MakeEnergyReport(interval, &carbon);
  row.start_unix_s = interval.start_unix_s;
  row.end_unix_s = interval.end_unix_s;
  try {
    AppendCodeCarbonCsv(job.csv, RunToCodeCarbonRow(row));
    ++result->facts.csv_rows;
  } catch (const Error& e) {
    result->csv_error = e.what();
  }
}

}  // namespace

MeasureResult RunMeasureJob(MeasureJob job) {
  // 1. Input, all of it, before anything runs.
  if (std::optional<ConfigProblem> problem = ResolveMeasureJob(job)) {
    throw Error(problem->Message());
  }
  // Declared before the meter, whose sampling thread writes to it, so that it
  // outlives the thread. Opening SQLite costs a few milliseconds: the default
  // ledger opens on the recorder's thread while the sensors are found and
  // the command starts; an explicit one (--ledger) opens here, before
  // anything runs, and stops the job if it cannot. Either way the run is in
  // the ledger before its first sample is written, so whatever happens from
  // there on, the samples taken are kept.
  std::optional<RunRecorder> recorder;
  recorder.emplace(job.ledger);
  MeasureResult result;
  result.carbon = job.metering.resolved_carbon;
  const CarbonModel& carbon = *result.carbon;
  SensorSet set = DiscoverSensors(job.metering.sensors);

  MeasureFacts& run = result.facts;
  run.command = job.command;
  run.attached = job.pid != 0;
  run.warnings = set.warnings;
  for (const auto& source : set.sources) {
    run.source_details.push_back(std::string(source->method()) + ": " + source->detail());
  }

  MeterOptions options;
  options.attribution = job.metering.attribution;
  options.share = job.metering.share;
  RunRecord& record = result.record;
  record = MeasureHeader(job, set.sources, carbon);
  // Before the Prometheus server starts, so that writing the header does not
  // widen the time in which a scrape finds the meter not yet started.
  recorder->Begin(record);
  // Measuring a command: the tree is this process's children (the command
  // and what it starts), not this process. Attaching: the target and its
  // descendants.
  options.root_pid = job.pid != 0 ? job.pid : static_cast<int>(getpid());
  options.count_root_cpu = job.pid != 0;
  options.interval_s = job.metering.interval_s;
  options.carbon = carbon;
  Meter meter(std::move(set.sources), options);
  run.interval_s = meter.interval_s();

  std::unique_ptr<PrometheusServer> prometheus;
  if (!job.prometheus.empty()) {
    try {
      prometheus = std::make_unique<PrometheusServer>(job.prometheus, [&meter, &carbon] {
        return RenderPrometheusText(PrometheusMetrics(meter.Last(), carbon));
      });
    } catch (const Error& e) {
      recorder->Finish(RunStatus::kFailed, e.what(), record.energy, nlohmann::json::object());
      throw;
    }
  }
  if (job.on_warning) {
    for (const std::string& w : run.warnings) job.on_warning(w);
  }

  // 2. Run and measure.
  std::unique_ptr<JsonLinesWriter> samples;
  if (!job.samples.empty()) samples = std::make_unique<JsonLinesWriter>(job.samples);
  std::string& sample_error = result.samples_error;
  meter.set_on_sample([writer = samples.get(), &sample_error, &recorder](const MeterReading& r) {
    recorder->AppendSample(SampleRowFromReading(r));
    if (writer == nullptr || !sample_error.empty()) return;
    try {
      writer->Write(MeasureSampleJson(r));
    } catch (const Error& e) {
      sample_error = e.what();  // reported after the run; the command is not disturbed
    }
  });
  InstallSignalHandlers();
  if (job.pid == 0) prctl(PR_SET_CHILD_SUBREAPER, 1);
  meter.Start();
  MeterReading last_row = meter.Last();  // the monitor's last row ended here
  if (job.pid == 0 && job.every_s == 0) {
    pid_t child;
    try {
      child = Spawn(job.command, job.own_process_group);
    } catch (...) {
      // The command never ran: leave no output behind.
      meter.Stop();
      samples.reset();
      if (!job.samples.empty()) std::remove(job.samples.c_str());
      recorder->Finish(RunStatus::kFailed, "the command could not be started", record.energy,
                       nlohmann::json::object());
      throw;
    }
    run.pid = child;
    // The watcher calls while_running until the child has been reaped.
    std::atomic<bool> child_done{false};
    std::thread watcher;
    if (job.while_running) {
      watcher = std::thread([&job, &child_done, child] {
        while (!child_done.load()) {
          job.while_running(child);
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      });
    }
    int status = WaitForChild(child);
    child_done.store(true);
    if (watcher.joinable()) watcher.join();
    g_child.store(0);
    run.exit_text = ExitText(status, &run.exit_code);
  } else if (job.every_s > 0) {
    // The monitor: a row per interval until a signal ends it; the last,
    // partial interval's row is written after the meter stops, below.
    double next = MonotonicSeconds() + job.every_s;
    while (g_stop_signal == 0) {
      double now = MonotonicSeconds();
      if (now < next) {
        std::this_thread::sleep_for(std::chrono::duration<double>(std::min(0.02, next - now)));
        continue;
      }
      MeterReading total = meter.Read();
      AppendIntervalRow(job, record, recorder->id(), carbon, ReadingDifference(total, last_row),
                        &result);
      last_row = total;
      next += job.every_s;
    }
    run.exit_text = "stopped by signal " + std::to_string(g_stop_signal);
  } else {
    run.pid = job.pid;
    while (g_stop_signal == 0 && !ProcessEnded(job.pid)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    run.exit_text =
        g_stop_signal != 0 ? "stopped by signal " + std::to_string(g_stop_signal) : "process ended";
  }
  result.reading = meter.Stop();
  if (job.every_s > 0) {
    AppendIntervalRow(job, record, recorder->id(), carbon,
                      ReadingDifference(result.reading, last_row), &result);
  }
  prometheus.reset();
  samples.reset();
  const MeterReading& reading = result.reading;
  record.energy = MakeEnergyReport(reading, &carbon);
  record.start_unix_s = reading.start_unix_s;
  record.end_unix_s = reading.end_unix_s;
  record.metrics = {{"exit_code", run.exit_code}};
  if (job.extra_metrics) record.metrics.update(job.extra_metrics(record.energy));
  // A monitor ends by a signal: that is its normal end.
  if (run.exit_code == 0 && (job.every_s > 0 || !(job.pid != 0 && g_stop_signal != 0))) {
    record.status = RunStatus::kCompleted;
  } else {
    record.status = g_stop_signal != 0 ? RunStatus::kStopped : RunStatus::kFailed;
    record.message = run.exit_text;
  }
  recorder->Finish(record.status, record.message, record.energy, record.metrics);
  record.id = run.run_id = recorder->id();
  if (recorder->recording()) run.ledger_path = job.ledger.path;

  // 3. The CodeCarbon row, from the record, so that --csv and `joule runs
  // export` agree (a monitor wrote its rows as it went).
  if (!job.csv.empty() && job.every_s == 0) {
    try {
      AppendCodeCarbonCsv(job.csv, RunToCodeCarbonRow(record));
    } catch (const Error& e) {
      result.csv_error = e.what();
    }
  }
  return result;
}

}  // namespace joule
