// joule/meter.hpp: the energy a process tree (or the whole machine) used, and
// how that figure was obtained.
//
// Meter layer (src/meter/*.cpp, library joule_meter). It depends on util only;
// it measures any code and knows nothing of nn/ or tensor/.
//
// Pieces, bottom up:
//   PowerSource   one kind of sensor or model (RAPL, NVML, hwmon, the TDP model,
//                 a declared wall power) behind one interface, each opened from
//                 an injectable root directory or library path so tests can
//                 hand in fakes.
//   DiscoverSensors  picks the sources for this machine without double counting
//                 and says, for every kind it did not use, why.
//   Meter         samples the sources on one background thread, attributes
//                 machine-level energy to a process tree by CPU time, turns
//                 energy into grams CO2eq (CarbonModel), and keeps named tasks.
//   TaskScope     RAII: one named task for the lifetime of a scope.
//
// Every energy figure carries a method label: "measured:rapl", "measured:nvml",
// "measured:hwmon", "estimated:tdp-model" or "declared". Only "measured:*" is a
// measurement; the others are estimates and every report says so.
//
// Units: energy in joules (sources: microjoules as uint64), power in watts,
// times in seconds (monotonic for durations, unix for carbon), CPU time in
// seconds.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "joule/carbon.hpp"

namespace joule {

// ---------------------------------------------------------------------------
// Power sources
// ---------------------------------------------------------------------------

// What part of the machine a channel's energy belongs to. Reports and the
// CodeCarbon columns (cpu_energy, gpu_energy, ram_energy) group by this.
enum class Component {
  kCpu,     // processor packages (RAPL package-N, model CPU power)
  kRam,     // memory (RAPL dram, model RAM power)
  kGpu,     // one accelerator device
  kSystem,  // the whole box (RAPL psys, a declared wall power)
  kOther,   // a sensor whose scope joule cannot tell (most hwmon inputs)
};

// "cpu", "ram", "gpu", "system", "other".
const char* ComponentName(Component component);

// How a channel's readings are to be turned into energy.
enum class ReadingKind {
  kEnergyCounter,  // ChannelSample::energy_uj: cumulative microjoules since the
                   // source was opened, counter wraparound already undone
  kMeanPower,      // ChannelSample::power_w: mean watts over the interval since
                   // the previous Read (a model); energy = power x interval
  kInstantPower,   // ChannelSample::power_w: watts at the moment of the read;
                   // energy by the trapezoid rule between reads
};

// One quantity a source reports, fixed for the source's lifetime.
struct Channel {
  std::string name;  // unique within the source: "package-0", "dram", "gpu0", "cpu", "ram"
  Component component = Component::kOther;
  ReadingKind kind = ReadingKind::kEnergyCounter;
  // False when this channel's energy is already inside another counted channel
  // (RAPL core/uncore inside package-N; psys contains package and dram) or its
  // scope is unknown: it is reported, never added to a total.
  bool counted = true;
  std::string detail;  // where it comes from, e.g. the sysfs directory or GPU name
};

// One channel's value at one read. Filled by PowerSource::Read.
struct ChannelSample {
  std::uint64_t energy_uj = 0;  // kEnergyCounter channels
  double power_w = 0;           // power channels
  bool ok = false;              // false: this read failed; the meter keeps the previous value
};

// One sensor or model. Implementations are not thread-safe: one thread (the
// meter's, under its lock) calls Read at a time.
// A process tree's use of the machine over one sampling interval, for a
// source whose power model can price it by itself (PowerSource::TreePowerW).
struct TreeUse {
  double interval_s = 0;
  double cpu_s = 0;           // the tree's CPU time in the interval
  double capacity_cpu_s = 0;  // all CPUs' time in the interval (busy + idle + iowait)
  double rss_bytes = 0;       // the tree's resident memory at the interval's end
  // The tree's share of the machine's CPU capacity, cpu_s / capacity_cpu_s.
  double load() const { return capacity_cpu_s > 0 ? cpu_s / capacity_cpu_s : 0; }
};

class PowerSource {
 public:
  virtual ~PowerSource() = default;

  // Short kind: "rapl", "nvml", "hwmon", "tdp-model", "declared".
  virtual std::string_view kind() const = 0;
  // The method label every figure from this source carries, e.g. "measured:rapl".
  virtual std::string_view method() const = 0;
  // One line for humans: what was found and, for models, every parameter used
  // (TDP and where it came from, VM note, RAM model).
  virtual std::string detail() const = 0;
  // The channels, in the order Read fills them. Never changes.
  virtual const std::vector<Channel>& channels() const = 0;
  // Reads every channel into out[i] (out.size() == channels().size()).
  // `monotonic_s` is the meter's timestamp for this read: sources that
  // integrate or average over time use it instead of reading a clock, so tests
  // control time. Does not allocate. Never throws: a failed channel gets ok=false.
  virtual void Read(double monotonic_s, std::span<ChannelSample> out) = 0;
  // The longest gap between reads that keeps the counters exact (a RAPL
  // counter must not wrap twice between reads); the meter samples at least
  // this often. Infinity when any gap is fine.
  virtual double max_read_interval_s() const { return std::numeric_limits<double>::infinity(); }
  // For ProcessShare::kMarginal: the mean power of channel `channel` that the
  // tree's own use costs under this source's model, whatever else runs (the
  // TDP model: the dynamic power of the tree's load alone plus the idle power
  // of the CPU capacity it held). nullopt when the source has no such model
  // (a sensor sees only the whole machine): the meter then splits the
  // channel's machine energy by the tree's share.
  virtual std::optional<double> TreePowerW(std::size_t /*channel*/, const TreeUse& /*use*/) const {
    return std::nullopt;
  }
};

// True for "measured:*" labels; false for estimates and declared figures.
bool IsMeasuredMethod(std::string_view method);

// What probing one kind of source found. Used by `joule sensors` and kept by
// DiscoverSensors for every kind it tried.
struct SourceProbe {
  std::string kind;        // "rapl", "nvml", "hwmon", "tdp-model", "declared"
  bool available = false;  // a usable source of this kind exists
  // Found: what ("2 zones counted: package-0, dram"). Not found: why, and for a
  // fixable cause (RAPL readable by root only) the one-line fix.
  std::string reason;
};

// RAPL through the powercap sysfs class at `powercap_dir` (normally
// /sys/class/powercap, where every zone and subzone appears as
// "intel-rapl:N[:M]" or "intel-rapl-mmio:N[:M]"; AMD packages appear there too).
// Counted: every package-N and every dram zone (RAPL's DRAM domain lies outside
// the package domain even when sysfs lists it under package-N). Reported, not
// counted: core and uncore (inside their package) and psys (contains package and
// dram; counted only when no package zone exists). An intel-rapl-mmio zone whose
// name an intel-rapl zone already has is the same counter through another
// interface and is skipped. Counter wraps are undone exactly, treating
// energy_uj as counting modulo max_energy_range_uj + 1 (the powercap ABI).
//
// Returns nullptr and fills probe->reason when there is no zone, or a counted
// zone's energy_uj cannot be read; for EACCES the reason names the file, says
// why (root-only since the 2020 PLATYPUS fix) and gives the one-line fix.
// Never throws for a missing or unreadable tree; `probe` may be null.
std::unique_ptr<PowerSource> OpenRaplSource(const std::string& powercap_dir, SourceProbe* probe);

// NVIDIA GPUs through NVML, loaded with dlopen(`library`) at run time (normally
// "libnvidia-ml.so.1"; no build dependency). One channel per device ("gpu0",
// ...; component kGpu). A device whose nvmlDeviceGetTotalEnergyConsumption
// works gives an exact kEnergyCounter channel (mJ x 1000); otherwise
// nvmlDeviceGetPowerUsage samples are integrated (kInstantPower). GPU energy is
// per device: it is never split by process. Returns nullptr with the reason
// when the library, a required symbol, nvmlInit or every device is missing.
std::unique_ptr<PowerSource> OpenNvmlSource(const std::string& library, SourceProbe* probe);

// AMD GPUs through AMD SMI, loaded with dlopen(`library`) at run time (normally
// "libamd_smi.so" from ROCm 6 or later; no build dependency). One channel per
// GPU ("gpu0", ...; component kGpu, method "measured:amdsmi"). A GPU whose
// amdsmi_get_energy_count works gives a kEnergyCounter channel (count x the
// counter's resolution in uJ); otherwise amdsmi_get_power_info's socket power
// is integrated (kInstantPower), read by the layout of the library's release
// (24.x and 25.x+ differ); a release of unknown layout gives no power reading
// and the reason says so. Never split by process. Returns nullptr with the
// reason when the library, a required symbol, amdsmi_init or every GPU is
// missing.
std::unique_ptr<PowerSource> OpenAmdSmiSource(const std::string& library, SourceProbe* probe);

// hwmon power and energy inputs under `hwmon_dir` (normally /sys/class/hwmon):
// energyN_input (uJ, counters) and powerN_input (uW, instant). Only inputs
// whose scope is known are counted: the amd_energy driver's socket counters
// (component kCpu); its per-core counters and every other driver's inputs are
// reported as kOther, not counted. Returns nullptr with the reason when there
// is no power or energy input.
std::unique_ptr<PowerSource> OpenHwmonSource(const std::string& hwmon_dir, SourceProbe* probe);

// Which power model estimates a machine without sensors.
enum class PowerModel {
  kJoule,       // joule's documented model (below); the default
  kCodeCarbon,  // CodeCarbon 3.x's own defaults, to reproduce a CodeCarbon figure
};
const char* PowerModelName(PowerModel model);  // "joule", "codecarbon"
// The model named `name`; throws Error naming the accepted names otherwise.
PowerModel ParsePowerModel(const std::string& name);

// The model for machines without sensors (label "estimated:tdp-model").
//
// joule's model (PowerModel::kJoule). CPU (machine): TDP x (0.1 + 0.9 x
// load^3), load = busy / (busy + idle + iowait) CPU time from /proc/stat over
// the interval (CodeCarbon's load curve). TDP: cpu_tdp_w when given; else, on
// a virtual machine (the "hypervisor" flag in cpuinfo), kVmWattsPerThread x
// the threads the VM has, because a whole chip's TDP overstates a slice of a
// host; else the TDP of the CPU model in cpu_power.csv (matched on cpuinfo's
// "model name"); else kDefaultCpuTdpW with a warning. RAM: ram_power_w when
// given, else kRamWattsPerGb x MemTotal. A process tree (ProcessShare::
// kMarginal) is charged TDP x (0.1 l + 0.9 l^3) for its share l of the CPU
// capacity: its own load on the curve, and the idle floor of what it held.
//
// CodeCarbon 3.x's defaults (PowerModel::kCodeCarbon), read from its source
// (codecarbon/core/cpu.py, external/hardware.py, external/ram.py, 3.3.0).
// CPU: cpu_tdp_w when given; else the cpu_power.csv row CodeCarbon's matching
// picks (CodeCarbonTableTdp) x sockets; a named CPU it cannot match gets 4 W
// per thread x sockets (kCodeCarbonWattsPerThread); no name at all, 85 W.
// Machine: TDP x (0.1 + 0.9 x load^3); a process tree: TDP x l, linear, no
// floor. RAM: 5 W per estimated DIMM, at least 10 W (CodeCarbonRamPowerW), of
// MemTotal in GiB for the machine, of the tree's resident memory for a process.
struct TdpModelOptions {
  std::string proc_root = "/proc";    // reads cpuinfo, stat, meminfo under it
  std::string cpu_power_csv;          // empty: the bundled data/carbon/cpu_power.csv
  std::optional<double> cpu_tdp_w;    // --cpu-tdp: > 0
  std::optional<double> ram_power_w;  // --ram-power: >= 0
  PowerModel model = PowerModel::kJoule;
  bool cpu = true;  // give a "cpu" channel
  bool ram = true;  // give a "ram" channel
};
// Unknown CPU model, bare metal: a mid-range figure (CodeCarbon too uses 85 W,
// but only when it cannot read a CPU name at all).
inline constexpr double kDefaultCpuTdpW = 85.0;
// Per hardware thread of a VM: Cloud Carbon Footprint's average maximum watts
// per vCPU for AWS (3.5 W); current server chips give 1.9 (EPYC 9654, 360 W /
// 192 threads) to 3.1 (Xeon 8480+, 350 W / 112 threads).
inline constexpr double kVmWattsPerThread = 3.5;
// CodeCarbon 3.x, a CPU it names but cannot find in its table.
inline constexpr double kCodeCarbonWattsPerThread = 4.0;
// 3 W per 8 GB of DDR3/DDR4 (Crucial's figure, CodeCarbon's RAM model before
// v3). CodeCarbon 3 switched to 5 W per *estimated DIMM*; joule keeps a per-GB
// figure because it scales with a VM's or container's slice of the host's DIMMs.
inline constexpr double kRamWattsPerGb = 3.0 / 8.0;

// CodeCarbon 3.x's lookup of a CPU name in its table: a case-insensitive
// exact match; then the same of the name without "(R)", " CPU @ ...", " CPU"
// and " @ N.NNGHz"; then the one row whose tokens (lower case, split at
// anything not a letter or digit) and the name's are a subset one of the
// other, when exactly one row is. The TDP in watts and the row's name, or
// nullopt. Throws Error for a malformed table (file and line).
std::optional<double> CodeCarbonTableTdp(const std::string& csv_path, const std::string& model_name,
                                         std::string* row_name);
// CodeCarbon 3.x's DIMM estimate for `gib` GiB of memory, and its RAM power:
// 5 W a DIMM for the first 4, then 90%, 80% and 70% of that per DIMM past 4, 8
// and 16, at least 10 W (x86).
int CodeCarbonDimmCount(double gib);
double CodeCarbonRamPowerW(double gib);

// Throws joule::Error for a bad option (tdp <= 0, ram power < 0), an unreadable
// /proc file or a malformed cpu_power.csv (file and line). `warnings` (may be
// null) receives one line per assumption the user should know (unknown CPU).
std::unique_ptr<PowerSource> MakeTdpModelSource(const TdpModelOptions& options,
                                                std::vector<std::string>* warnings);

// A wall power the user knows (`--power W`): the whole box at `watts`,
// constant, label "declared". Throws joule::Error unless 0 < watts < 1e6.
std::unique_ptr<PowerSource> MakeDeclaredSource(double watts);

// Where DiscoverSensors looks, and the user's overrides.
struct SensorOptions {
  std::string powercap_dir = "/sys/class/powercap";
  std::string hwmon_dir = "/sys/class/hwmon";
  std::string proc_root = "/proc";
  std::string nvml_library = "libnvidia-ml.so.1";
  std::string amdsmi_library = "libamd_smi.so";
  std::string cpu_power_csv;                    // empty: the bundled table
  std::optional<double> cpu_tdp_w;              // --cpu-tdp
  std::optional<double> ram_power_w;            // --ram-power
  std::optional<double> declared_power_w;       // --power: then only the declared source
  PowerModel power_model = PowerModel::kJoule;  // --power-model: the TDP model's figures
};

struct SensorSet {
  std::vector<std::unique_ptr<PowerSource>> sources;  // used, no overlap between them
  std::vector<SourceProbe> probes;    // every kind tried: rapl, hwmon, nvml, amdsmi, model
  std::vector<std::string> warnings;  // one line each: fallbacks, assumptions
};

// Picks the sources for this machine:
//  - declared_power_w given: the declared source only (it covers the box);
//  - CPU: RAPL when readable, else an hwmon source with a counted CPU input,
//    else the TDP model's CPU channel (with a warning naming why RAPL was not
//    used when zones exist but cannot be read);
//  - RAM: RAPL dram when present, else the model's RAM channel;
//  - GPU: NVML when it loads and has devices; AMD SMI likewise (both may).
// Throws joule::Error only for bad overrides or unreadable /proc (the model
// cannot work without it); a missing sensor is never an error.
SensorSet DiscoverSensors(const SensorOptions& options);

// The default options with the environment's overrides of where sensors are
// looked for: $JOULE_POWERCAP_DIR (RAPL), $JOULE_NVML_LIBRARY (NVML) and
// $JOULE_AMDSMI_LIBRARY (AMD SMI), for
// testing against fakes and for machines that keep them elsewhere.
SensorOptions SensorOptionsFromEnvironment();

// ---------------------------------------------------------------------------
// Meter
// ---------------------------------------------------------------------------

// The meter's notion of time; tests hand in a fake.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual double MonotonicSeconds() const = 0;  // durations
  virtual double UnixSeconds() const = 0;       // wall clock, for carbon series
  // steady_clock and system_clock. Lives for the program's lifetime.
  static const Clock& System();
};

enum class Attribution {
  // The tracked process tree's share: CPU and system channels by CPU time
  // (tree CPU time / machine busy CPU time from /proc/stat, per interval), RAM
  // channels by resident memory (tree RSS / MemTotal, the larger of the two
  // ends of the interval; by CPU time for a tree never seen resident, i.e.
  // shorter than an interval). GPU channels are whole devices (never split).
  kProcessTree,
  kMachine,  // everything the sources report
};

// How a tree's CPU energy is taken from the machine's (docs/attribution.md).
enum class ProcessShare {
  // What the tree's own CPU time costs under the source's power model
  // (PowerSource::TreePowerW), independent of what runs beside it; channels
  // without a model (sensors) fall back to the busy-time share.
  kMarginal,
  // The machine's energy times the tree's share of the machine's busy CPU
  // time: the whole machine is shared out, so a neighbour's load raises the
  // tree's figure when the power curve is not linear.
  kBusyTime,
};
const char* ProcessShareName(ProcessShare share);  // "marginal", "busy-time"
// The share named `name`; throws Error naming the accepted names otherwise.
ProcessShare ParseProcessShare(const std::string& name);

struct MeterOptions {
  Attribution attribution = Attribution::kProcessTree;
  ProcessShare share = ProcessShare::kMarginal;  // process-tree attribution only
  // Root of the tracked tree; 0 = the calling process. Descendants are found
  // through /proc/PID/task/TID/children and stay tracked when orphaned.
  int root_pid = 0;
  // Count the root's own CPU time. A launcher (joule measure) sets false so
  // only its children (the command) count; reaped children still count through
  // the root's cutime/cstime. With false, the root is also taken to start
  // children from its main thread only (only that thread's list is read).
  bool count_root_cpu = true;
  double interval_s = 1.0;  // [0.01, 3600]; clamped down to the sources' max_read_interval_s
  bool background = true;   // false: no thread; samples only on SampleNow/Read/tasks/Stop
  std::string proc_root = "/proc";
  std::optional<CarbonModel> carbon;  // grams per interval (series-aware); none: grams stay 0
  const Clock* clock = nullptr;       // null: Clock::System(); must outlive the Meter
  // A task boundary (BeginTask, EndTask) less than this many seconds after
  // the last sample takes no sample of its own: its energy and grams are the
  // last sample's (its time is exact). A sample reads several /proc files,
  // 30-40 us on a KVM guest where each system call costs several us, which
  // made a task pair cost about 100 us from Python; marking steps as tasks
  // needs a few. The price: below this gap a single task's energy is not
  // resolved (a task between two samples shows 0 J, the one a sample falls
  // in carries that interval), but every joule is counted once, so tasks
  // never exceed the run and a run of short tasks adds up right. 0: every
  // boundary samples.
  double task_sample_gap_s = 0.01;
};

// One channel's totals since Start.
struct ChannelEnergy {
  std::string source;  // "rapl"
  std::string method;  // "measured:rapl"
  std::string name;    // "package-0"
  std::string detail;
  Component component = Component::kOther;
  bool counted = true;
  bool attributed = false;  // a process share was applied to energy_j
  double machine_j = 0;     // the whole machine (or device)
  double energy_j = 0;      // attributed to the tracked tree (== machine_j when not attributed)
  double last_power_w = 0;  // machine power over the last interval
  // Power charged to the tree over the last interval (== last_power_w when
  // not attributed).
  double last_charged_w = 0;
};

// Totals since Start (or over a task). All sums are over counted channels.
struct MeterReading {
  double duration_s = 0;
  double start_unix_s = 0, end_unix_s = 0;
  std::uint64_t samples = 0;   // intervals integrated
  double last_interval_s = 0;  // length of the last interval
  Attribution attribution = Attribution::kProcessTree;
  ProcessShare share = ProcessShare::kMarginal;
  std::vector<ChannelEnergy> channels;
  double energy_j = 0;            // attributed
  double machine_energy_j = 0;    // whole machine
  double process_cpu_s = 0;       // tracked tree's CPU time (process mode)
  double machine_busy_cpu_s = 0;  // all CPUs' non-idle time from /proc/stat
  double machine_cpu_s = 0;       // all CPUs' busy + idle + iowait time
  // process_cpu_s / machine_busy_cpu_s (process mode), 1 in machine mode.
  double cpu_share = 1;
  double machine_load = 0;    // machine_busy_cpu_s / machine_cpu_s
  double last_cpu_share = 1;  // over the last interval
  double operational_g = 0;   // PUE applied; 0 without a CarbonModel
  double embodied_g = 0;
  bool estimated = false;  // some counted channel is not "measured:*"

  // Attributed joules of counted channels of `component`.
  double ComponentJ(Component component) const;
  // Whole-machine joules of counted channels of `component`.
  double ComponentMachineJ(Component component) const;
  // The method labels of counted channels of `component`, joined by "+"
  // ("measured:rapl"); empty when none.
  std::string ComponentMethod(Component component) const;
};

// `end` - `begin` for two readings of the same meter (begin taken first):
// totals, CPU times and grams subtracted; shares and load recomputed.
MeterReading ReadingDifference(const MeterReading& end, const MeterReading& begin);

struct TaskEnergy {
  std::string name;
  MeterReading reading;  // over the task only
};

// Samples the sources, attributes and accumulates. Start/Stop/Read/SampleNow/
// BeginTask/EndTask may be called from any thread (one internal mutex).
class Meter {
 public:
  // Takes the sources (at least one). Throws joule::Error for bad options
  // (interval out of range, no sources) or, in process mode, when the root
  // process does not exist.
  Meter(std::vector<std::unique_ptr<PowerSource>> sources, MeterOptions options);
  // Stops if running. Never throws.
  ~Meter();
  Meter(const Meter&) = delete;
  Meter& operator=(const Meter&) = delete;

  // Takes the first sample and starts the background thread. Throws
  // joule::Error when already running or /proc cannot be read.
  void Start();
  // Takes a last sample, stops the thread and returns the totals. Throws
  // joule::Error when not running. Open tasks are ended first.
  MeterReading Stop();
  bool running() const;

  // Takes a sample now and returns the totals since Start. Throws when not running.
  MeterReading Read();
  // Takes a sample now (tests and background=false).
  void SampleNow();
  // The totals as of the last sample, without sampling (cheap; for exporters).
  MeterReading Last() const;

  // Named spans of the run (one per epoch, ...): Begin samples (or, within
  // MeterOptions::task_sample_gap_s of the last sample, reuses it) and
  // remembers the totals; End does the same and returns the difference.
  // Tasks may overlap.
  // Throw joule::Error when not running, when Begin names an open task or End
  // one that is not open.
  void BeginTask(const std::string& name);
  TaskEnergy EndTask(const std::string& name);
  std::vector<TaskEnergy> tasks() const;  // ended tasks, in end order

  // Called on the sampling thread after every sample, with the meter's lock
  // held: it must not call back into this Meter. Set before Start.
  void set_on_sample(std::function<void(const MeterReading&)> callback);

  // The interval actually used (after clamping to the sources' limits).
  double interval_s() const;
  // False once the tracked root process has exited (process mode); true in
  // machine mode. Updated at each sample.
  bool root_alive() const;
  const std::vector<std::unique_ptr<PowerSource>>& sources() const;

 private:
  struct State;
  void SampleLocked();
  MeterReading TaskBoundaryLocked();  // the totals now, for a task's begin or end
  std::unique_ptr<State> state_;
  mutable std::mutex mutex_;
};

// RAII: a named task on `meter` from construction to destruction. The
// constructor throws what BeginTask throws; the destructor swallows errors
// (a meter stopped early). result() is set once the scope has ended via End().
class TaskScope {
 public:
  TaskScope(Meter& meter, std::string name);
  ~TaskScope();
  TaskScope(const TaskScope&) = delete;
  TaskScope& operator=(const TaskScope&) = delete;
  // Ends the task now and returns its energy (later calls return the same).
  const TaskEnergy& End();

 private:
  Meter& meter_;
  std::string name_;
  std::optional<TaskEnergy> result_;
};

// ---------------------------------------------------------------------------
// The machine
// ---------------------------------------------------------------------------

// What a run record and the CodeCarbon columns say about the machine.
struct MachineFacts {
  std::string hostname;   // gethostname(2)
  std::string os;         // uname(2): "Linux-6.1.0-18-amd64-x86_64"
  std::string cpu_model;  // cpuinfo's first "model name"; "" when it has none (many ARM boards)
  int cpu_count = 0;      // online logical CPUs (sysconf)
  double ram_total_bytes = 0;  // meminfo MemTotal
  double ram_used_bytes = 0;   // MemTotal - MemAvailable, now
  // MemTotal - MemFree - Buffers - Cached - SReclaimable (MemTotal - MemFree
  // when that is negative): psutil's `used`, which CodeCarbon's ram_used_gb
  // reports. 0 when unknown.
  double ram_used_no_cache_bytes = 0;
};

// Reads `proc_root`/cpuinfo and `proc_root`/meminfo (tests hand in a fake
// directory), and the host name, OS and CPU count from the running system. Never throws:
// what cannot be read is left empty or 0. Thread-safe.
MachineFacts ReadMachineFacts(const std::string& proc_root = "/proc");

}  // namespace joule
