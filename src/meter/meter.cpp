// The Meter: reads every source at each sample, turns readings into joules
// per channel, applies the process tree's share, and accumulates totals,
// grams and tasks. All state lives behind one mutex; the sampling path does
// not allocate once started (buffers are sized at Start).
#include "joule/meter.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include "joule/util.hpp"
#include "meter/proc_attribution.hpp"
#include "meter/sampler.hpp"
#include "meter/small_file.hpp"

namespace joule {
namespace {

class SystemClock final : public Clock {
 public:
  double MonotonicSeconds() const override { return joule::MonotonicSeconds(); }
  double UnixSeconds() const override {
    using namespace std::chrono;
    return duration<double>(system_clock::now().time_since_epoch()).count();
  }
};

}  // namespace

const char* ProcessShareName(ProcessShare share) {
  return share == ProcessShare::kMarginal ? "marginal" : "busy-time";
}

ProcessShare ParseProcessShare(const std::string& name) {
  if (name == "marginal") return ProcessShare::kMarginal;
  if (name == "busy-time") return ProcessShare::kBusyTime;
  throw Error("process share '" + name + "': expected marginal or busy-time");
}

namespace {

double ShareOf(double part, double whole) {
  if (!(whole > 0)) return 0;
  return std::clamp(part / whole, 0.0, 1.0);
}

}  // namespace

const Clock& Clock::System() {
  static const SystemClock clock;
  return clock;
}

double MeterReading::ComponentJ(Component component) const {
  double sum = 0;
  for (const ChannelEnergy& ch : channels) {
    if (ch.counted && ch.component == component) sum += ch.energy_j;
  }
  return sum;
}

double MeterReading::ComponentMachineJ(Component component) const {
  double sum = 0;
  for (const ChannelEnergy& ch : channels) {
    if (ch.counted && ch.component == component) sum += ch.machine_j;
  }
  return sum;
}

std::string MeterReading::ComponentMethod(Component component) const {
  std::string methods;
  for (const ChannelEnergy& ch : channels) {
    if (!ch.counted || ch.component != component) continue;
    if (methods.find(ch.method) != std::string::npos) continue;
    if (!methods.empty()) methods += "+";
    methods += ch.method;
  }
  return methods;
}

MeterReading ReadingDifference(const MeterReading& end, const MeterReading& begin) {
  JOULE_ASSERT(end.channels.size() == begin.channels.size());
  MeterReading d = end;
  d.duration_s = end.duration_s - begin.duration_s;
  d.start_unix_s = begin.end_unix_s;
  d.samples = end.samples - begin.samples;
  for (std::size_t i = 0; i < d.channels.size(); ++i) {
    d.channels[i].machine_j -= begin.channels[i].machine_j;
    d.channels[i].energy_j -= begin.channels[i].energy_j;
  }
  d.energy_j -= begin.energy_j;
  d.machine_energy_j -= begin.machine_energy_j;
  d.process_cpu_s -= begin.process_cpu_s;
  d.machine_busy_cpu_s -= begin.machine_busy_cpu_s;
  d.machine_cpu_s -= begin.machine_cpu_s;
  d.cpu_share =
      d.attribution == Attribution::kMachine ? 1.0 : ShareOf(d.process_cpu_s, d.machine_busy_cpu_s);
  d.machine_load = ShareOf(d.machine_busy_cpu_s, d.machine_cpu_s);
  d.operational_g -= begin.operational_g;
  d.embodied_g -= begin.embodied_g;
  return d;
}

struct Meter::State {
  std::vector<std::unique_ptr<PowerSource>> sources;
  MeterOptions options;
  const Clock* clock = nullptr;
  double interval_s = 1;
  double ticks_per_s = 100;
  std::shared_ptr<meter::CpuTimesReader> cpu_times;  // /proc/stat, shared with the TDP model

  // Per source: this read and the previous good one, per channel.
  std::vector<std::vector<ChannelSample>> current, previous;
  std::vector<std::uint64_t> machine_uj;  // exact totals of counter channels
  std::optional<meter::ProcessTree> tree;
  meter::CpuTimes last_cpu;
  double last_tree_s = 0;  // the tree's CPU seconds at the last sample
  double online_cpus = 1;
  double mem_total_pages = 0;
  double page_bytes = 4096;
  double last_rss_share = 0;  // the tree's resident share at the last sample
  double last_ram_share = 1;  // the RAM share applied over the last interval

  MeterReading reading;
  double start_mono = 0, last_mono = 0, last_unix = 0;
  bool running = false;
  bool root_alive = true;
  std::unique_ptr<meter::Sampler> sampler;
  std::map<std::string, MeterReading> open_tasks;
  std::vector<TaskEnergy> done_tasks;
  std::function<void(const MeterReading&)> on_sample;
};

Meter::Meter(std::vector<std::unique_ptr<PowerSource>> sources, MeterOptions options)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  if (sources.empty()) throw Error("Meter needs at least one power source (see DiscoverSensors)");
  if (!(options.interval_s >= 0.01 && options.interval_s <= 3600)) {
    throw Error("sampling interval " + std::to_string(options.interval_s) +
                " s is out of range: expected seconds in [0.01, 3600] (e.g. 0.1 or 1)");
  }
  s.interval_s = options.interval_s;
  for (const auto& src : sources) {
    JOULE_ASSERT(src != nullptr);
    s.interval_s = std::min(s.interval_s, src->max_read_interval_s());
  }
  s.sources = std::move(sources);
  s.clock = options.clock != nullptr ? options.clock : &Clock::System();
  s.cpu_times = meter::CpuTimesReader::For(options.proc_root + "/stat");
  long hz = ::sysconf(_SC_CLK_TCK);
  s.ticks_per_s = hz > 0 ? static_cast<double>(hz) : 100.0;
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  s.online_cpus = cpus > 0 ? static_cast<double>(cpus) : 1.0;
  if (options.attribution == Attribution::kProcessTree) {
    int root = options.root_pid != 0 ? options.root_pid : static_cast<int>(::getpid());
    s.tree.emplace(options.proc_root, root, options.count_root_cpu);
  }
  s.options = std::move(options);
}

Meter::~Meter() {
  try {
    if (running()) Stop();
  } catch (...) {
    // A destructor must not throw; the figures are lost with the meter anyway.
  }
}

void Meter::Start() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    State& s = *state_;
    if (s.running) throw Error("Meter::Start: already running");
    s.start_mono = s.last_mono = s.clock->MonotonicSeconds();
    if (!s.cpu_times->Read(s.start_mono, &s.last_cpu)) {
      throw Error(s.cpu_times->path() +
                  ": cannot read the 'cpu' line; the meter needs Linux /proc");
    }
    if (s.tree) {
      std::string meminfo;
      int err = 0;
      std::uint64_t kib = 0;
      if (meter::ReadTrimmed(s.options.proc_root + "/meminfo", &meminfo, &err)) {
        std::size_t pos = meminfo.find("MemTotal:");
        if (pos != std::string::npos)
          meter::ParseU64(std::string_view(meminfo).substr(pos + 9), &kib);
      }
      long page = ::sysconf(_SC_PAGESIZE);
      s.page_bytes = static_cast<double>(page > 0 ? page : 4096);
      s.mem_total_pages = static_cast<double>(kib) * 1024.0 / s.page_bytes;
      s.tree->Sample();
      s.last_tree_s = s.tree->cpu_s();
      s.last_rss_share = ShareOf(static_cast<double>(s.tree->rss_pages()), s.mem_total_pages);
      s.root_alive = s.tree->root_alive();
    }
    s.reading = MeterReading{};
    s.reading.attribution = s.options.attribution;
    s.reading.share = s.options.share;
    s.current.clear();
    s.previous.clear();
    s.machine_uj.clear();
    bool estimated = false;
    for (const auto& src : s.sources) {
      const auto& channels = src->channels();
      s.current.emplace_back(channels.size());
      s.previous.emplace_back(channels.size());
      for (const Channel& ch : channels) {
        ChannelEnergy e;
        e.source = std::string(src->kind());
        e.method = std::string(src->method());
        e.name = ch.name;
        e.detail = ch.detail;
        e.component = ch.component;
        e.counted = ch.counted;
        e.attributed = s.tree.has_value() && ch.component != Component::kGpu;
        s.reading.channels.push_back(std::move(e));
        s.machine_uj.push_back(0);
        if (ch.counted && !IsMeasuredMethod(src->method())) estimated = true;
      }
    }
    s.reading.estimated = estimated;
    s.last_unix = s.clock->UnixSeconds();
    s.reading.start_unix_s = s.reading.end_unix_s = s.last_unix;
    for (std::size_t i = 0; i < s.sources.size(); ++i) {
      s.sources[i]->Read(s.start_mono, s.previous[i]);
    }
    s.open_tasks.clear();
    s.done_tasks.clear();
    s.running = true;
    if (s.options.background) {
      s.sampler = std::make_unique<meter::Sampler>(s.interval_s, [this] {
        std::lock_guard<std::mutex> tick_lock(mutex_);
        if (state_->running) SampleLocked();
      });
      // The thread only takes the lock at its first tick, an interval from now.
      s.sampler->Start();
    }
  }
}

void Meter::SampleLocked() {
  State& s = *state_;
  MeterReading& r = s.reading;
  double now = s.clock->MonotonicSeconds();
  double now_unix = s.clock->UnixSeconds();
  double dt = std::max(0.0, now - s.last_mono);
  for (std::size_t i = 0; i < s.sources.size(); ++i) s.sources[i]->Read(now, s.current[i]);

  // Shares over this interval, and the tree's own use for sources that price
  // it (ProcessShare::kMarginal).
  double cpu_share = 1, ram_share = 1;
  std::optional<TreeUse> use;
  meter::CpuTimes cpu = s.last_cpu;
  if (s.cpu_times->Read(now, &cpu) && cpu.busy >= s.last_cpu.busy && cpu.idle >= s.last_cpu.idle) {
    double busy = static_cast<double>(cpu.busy - s.last_cpu.busy);
    double idle = static_cast<double>(cpu.idle - s.last_cpu.idle);
    r.machine_busy_cpu_s += busy / s.ticks_per_s;
    r.machine_cpu_s += (busy + idle) / s.ticks_per_s;
    if (s.tree) {
      s.tree->Sample();
      const double tree_s = s.tree->cpu_s() - s.last_tree_s;
      s.last_tree_s = s.tree->cpu_s();
      const double ticks = tree_s * s.ticks_per_s;
      r.process_cpu_s += tree_s;
      cpu_share = ShareOf(ticks, busy);
      if (s.options.share == ProcessShare::kMarginal) {
        // The capacity by the wall clock when the tree's time is exact: over
        // an epoch of 30 ms, busy + idle is six ticks, one either way.
        const double capacity_s =
            s.tree->precise() ? dt * s.online_cpus : (busy + idle) / s.ticks_per_s;
        use = TreeUse{dt, tree_s, capacity_s,
                      static_cast<double>(s.tree->rss_pages()) * s.page_bytes};
      }
      double rss_share = ShareOf(static_cast<double>(s.tree->rss_pages()), s.mem_total_pages);
      // The larger of the resident shares at the two ends of the interval, so
      // a tree that exits during it is still charged for it; a tree never seen
      // resident (it lived less than an interval) is charged by CPU time.
      ram_share = std::max(rss_share, s.last_rss_share);
      if (ram_share == 0 && ticks > 0) ram_share = cpu_share;
      s.last_rss_share = rss_share;
      s.root_alive = s.tree->root_alive();
    }
    s.last_cpu = cpu;
  } else if (s.tree) {
    // /proc/stat unreadable this once: keep the last shares.
    cpu_share = r.last_cpu_share;
    ram_share = s.last_ram_share;
  }
  s.last_ram_share = ram_share;

  double interval_j = 0;  // attributed, counted: what the carbon model prices
  std::size_t k = 0;
  for (std::size_t i = 0; i < s.sources.size(); ++i) {
    const std::vector<Channel>& channels = s.sources[i]->channels();
    for (std::size_t c = 0; c < channels.size(); ++c, ++k) {
      ChannelSample& now_sample = s.current[i][c];
      const ChannelSample& before = s.previous[i][c];
      ChannelEnergy& e = r.channels[k];
      double joules = 0;
      if (!now_sample.ok) {
        now_sample = before;  // keep the last good value as the base of the next delta
      } else if (channels[c].kind == ReadingKind::kEnergyCounter) {
        std::uint64_t delta =
            now_sample.energy_uj >= before.energy_uj ? now_sample.energy_uj - before.energy_uj : 0;
        s.machine_uj[k] += delta;
        joules = static_cast<double>(delta) / 1e6;
      } else if (channels[c].kind == ReadingKind::kMeanPower || !before.ok) {
        joules = now_sample.power_w * dt;
      } else {
        joules = 0.5 * (now_sample.power_w + before.power_w) * dt;
      }
      double share = !e.attributed ? 1.0 : e.component == Component::kRam ? ram_share : cpu_share;
      double charged = joules * share;
      if (e.attributed && use && now_sample.ok) {
        // The model's price of the tree's own use, when the source has one.
        if (std::optional<double> w = s.sources[i]->TreePowerW(c, *use)) charged = *w * dt;
      }
      bool counter = channels[c].kind == ReadingKind::kEnergyCounter;
      // Counter totals come from the exact integer sum, not from adding up
      // doubles, so that they stay exact to the microjoule.
      e.machine_j = counter ? static_cast<double>(s.machine_uj[k]) / 1e6 : e.machine_j + joules;
      e.energy_j = e.attributed ? e.energy_j + charged
                   : counter    ? e.machine_j
                                : e.energy_j + joules;
      e.last_power_w = dt > 0 ? joules / dt : 0;
      e.last_charged_w = dt > 0 ? charged / dt : 0;
      if (e.counted) interval_j += charged;
    }
    std::swap(s.current[i], s.previous[i]);
  }
  r.energy_j = 0;
  r.machine_energy_j = 0;
  for (const ChannelEnergy& e : r.channels) {
    if (!e.counted) continue;
    r.energy_j += e.energy_j;
    r.machine_energy_j += e.machine_j;
  }
  r.duration_s = now - s.start_mono;
  r.end_unix_s = now_unix;
  r.samples += 1;
  r.last_interval_s = dt;
  r.last_cpu_share = cpu_share;
  r.cpu_share = s.tree ? ShareOf(r.process_cpu_s, r.machine_busy_cpu_s) : 1.0;
  r.machine_load = ShareOf(r.machine_busy_cpu_s, r.machine_cpu_s);
  if (s.options.carbon) {
    r.operational_g += s.options.carbon->OperationalGrams(interval_j, s.last_unix, now_unix);
    r.embodied_g = s.options.carbon->EmbodiedGrams(r.duration_s);
  }
  s.last_mono = now;
  s.last_unix = now_unix;
  if (s.on_sample) s.on_sample(r);
}

MeterReading Meter::Stop() {
  std::unique_ptr<meter::Sampler> sampler;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!state_->running) throw Error("Meter::Stop: the meter is not running");
    // From here on the meter counts as stopped: a concurrent Stop throws and
    // the sampling thread's remaining ticks do nothing.
    state_->running = false;
    sampler = std::move(state_->sampler);
  }
  // Join outside the lock: the sampling thread takes it for each tick.
  if (sampler) sampler->Stop();
  std::lock_guard<std::mutex> lock(mutex_);
  State& s = *state_;
  SampleLocked();
  for (auto& [name, begin] : s.open_tasks) {
    s.done_tasks.push_back({name, ReadingDifference(s.reading, begin)});
  }
  s.open_tasks.clear();
  return s.reading;
}

bool Meter::running() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_->running;
}

MeterReading Meter::Read() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!state_->running) throw Error("Meter::Read: the meter is not running (call Start first)");
  SampleLocked();
  return state_->reading;
}

void Meter::SampleNow() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!state_->running)
    throw Error("Meter::SampleNow: the meter is not running (call Start first)");
  SampleLocked();
}

MeterReading Meter::Last() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_->reading;
}

MeterReading Meter::TaskBoundaryLocked() {
  State& s = *state_;
  double gap = s.clock->MonotonicSeconds() - s.last_mono;
  if (s.reading.samples == 0 || !(gap >= 0 && gap < s.options.task_sample_gap_s)) {
    SampleLocked();
    return s.reading;
  }
  // Held at the last sample: every joule and gram of a task is one the
  // meter's samples counted, so no task can exceed the run or its neighbours
  // (an extrapolated boundary could, when the power changed after it). Only
  // the clock moves on, so durations stay exact.
  MeterReading r = s.reading;
  r.duration_s += gap;
  r.end_unix_s += gap;
  return r;
}

void Meter::BeginTask(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  State& s = *state_;
  if (!s.running) throw Error("BeginTask('" + name + "'): the meter is not running");
  if (s.open_tasks.count(name) != 0) {
    throw Error("BeginTask('" + name + "'): a task of that name is already open; end it first");
  }
  s.open_tasks.emplace(name, TaskBoundaryLocked());
}

TaskEnergy Meter::EndTask(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  State& s = *state_;
  if (!s.running) throw Error("EndTask('" + name + "'): the meter is not running");
  auto it = s.open_tasks.find(name);
  if (it == s.open_tasks.end()) {
    throw Error("EndTask('" + name + "'): no open task of that name (BeginTask first)");
  }
  TaskEnergy task{name, ReadingDifference(TaskBoundaryLocked(), it->second)};
  s.open_tasks.erase(it);
  s.done_tasks.push_back(task);
  return task;
}

std::vector<TaskEnergy> Meter::tasks() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_->done_tasks;
}

void Meter::set_on_sample(std::function<void(const MeterReading&)> callback) {
  std::lock_guard<std::mutex> lock(mutex_);
  state_->on_sample = std::move(callback);
}

double Meter::interval_s() const { return state_->interval_s; }

bool Meter::root_alive() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_->root_alive;
}

const std::vector<std::unique_ptr<PowerSource>>& Meter::sources() const { return state_->sources; }

TaskScope::TaskScope(Meter& meter, std::string name) : meter_(meter), name_(std::move(name)) {
  meter_.BeginTask(name_);
}

TaskScope::~TaskScope() {
  if (result_) return;
  try {
    meter_.EndTask(name_);
  } catch (...) {
    // The meter was stopped first (which ended the task) or never ran.
  }
}

const TaskEnergy& TaskScope::End() {
  if (!result_) result_ = meter_.EndTask(name_);
  return *result_;
}

}  // namespace joule
