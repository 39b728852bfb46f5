// Recording one run as it goes: the RunRecorder a command holds, and the
// pieces it is made from (a run id, a sample row, the host record).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>

#include "joule/run_record.hpp"
#include "joule/util.hpp"

namespace joule {

std::string NewRunId() {
  std::random_device device;
  std::uint64_t bits = (static_cast<std::uint64_t>(device()) << 32) | device();
  char buf[16];
  std::snprintf(buf, sizeof buf, "%012llx",
                static_cast<unsigned long long>(bits & 0xFFFFFFFFFFFFull));
  return buf;
}

bool SampleRow::has_components() const {
  for (double j : component_j) {
    if (std::isnan(j)) return false;
  }
  return true;
}

SampleRow SampleRowFromReading(const MeterReading& reading) {
  SampleRow row;
  row.t_unix_s = reading.end_unix_s;
  row.energy_j = reading.energy_j;
  row.machine_energy_j = reading.machine_energy_j;
  row.cpu_share = reading.last_cpu_share;
  row.co2_g = reading.operational_g + reading.embodied_g;
  for (const ChannelEnergy& ch : reading.channels) {
    if (!ch.counted) continue;
    row.component_j[static_cast<std::size_t>(ch.component)] += ch.energy_j;
    row.power_w += ch.last_charged_w;
  }
  return row;
}

HostRecord ReadHostRecord(const std::vector<std::unique_ptr<PowerSource>>& sources,
                          const std::string& proc_root) {
  MachineFacts facts = ReadMachineFacts(proc_root);
  HostRecord host;
  host.hostname = facts.hostname;
  host.os = facts.os;
  host.cpu_model = facts.cpu_model;
  host.cpu_count = facts.cpu_count;
  host.ram_total_bytes = facts.ram_total_bytes;
  host.ram_used_bytes = facts.ram_used_bytes;
  host.ram_used_no_cache_bytes = facts.ram_used_no_cache_bytes;
  // A GPU channel's detail starts with the device name ("NVIDIA A100, ...").
  std::map<std::string, int> gpus;
  for (const auto& source : sources) {
    for (const Channel& ch : source->channels()) {
      if (ch.component != Component::kGpu) continue;
      ++host.gpu_count;
      ++gpus[ch.detail.substr(0, ch.detail.find(','))];
    }
  }
  for (const auto& [name, count] : gpus) {
    host.gpu_model += (host.gpu_model.empty() ? "" : ", ") + std::to_string(count) + " x " + name;
  }
  return host;
}

EnergyReport EnergyLabels(const std::vector<std::unique_ptr<PowerSource>>& sources,
                          Attribution attribution, const CarbonModel* carbon) {
  EnergyReport labels;
  labels.attribution = attribution;
  for (const auto& source : sources) {
    bool counted = false;
    for (const Channel& ch : source->channels()) counted = counted || ch.counted;
    if (!counted) continue;
    const std::string method(source->method());
    bool seen = false;
    std::size_t pos = 0;
    while (pos < labels.method.size()) {
      std::size_t end = labels.method.find('+', pos);
      if (end == std::string::npos) end = labels.method.size();
      seen = seen || labels.method.compare(pos, end - pos, method) == 0;
      pos = end + 1;
    }
    if (!seen) labels.method += (labels.method.empty() ? "" : "+") + method;
    labels.estimated = labels.estimated || !IsMeasuredMethod(method);
  }
  if (carbon != nullptr) {
    labels.intensity_source = carbon->source();
    labels.pue = carbon->pue();
    labels.wue = carbon->wue();
    labels.country_name = carbon->country_name();
    labels.country_iso = carbon->country_iso();
    labels.region = carbon->region();
    labels.cloud_provider = carbon->cloud_provider();
    labels.cloud_region = carbon->cloud_region();
  }
  return labels;
}

RunRecorder::RunRecorder(const LedgerTarget& target, const RunRecord& header, WarnFn warn)
    : RunRecorder(target, std::move(warn)) {
  Begin(header);
}

RunRecorder::RunRecorder(const LedgerTarget& target, WarnFn warn)
    : required_(target.required), warn_(std::move(warn)) {
  if (!warn_) {
    warn_ = [](const std::string& line) {
      std::fprintf(stderr, "joule: warning: %s\n", line.c_str());
    };
  }
  id_ = NewRunId();
  if (target.path.empty()) {
    begun_ = true;  // nothing to record: Begin only settles the id
    return;
  }
  if (required_) {
    ledger_ = Ledger::Open(target.path);  // throws: the command must not run unrecorded
    writer_ = std::thread([this] { WriteSamples(""); });
    return;
  }
  writer_ = std::thread([this, path = target.path] { WriteSamples(path); });
}

void RunRecorder::Begin(const RunRecord& header) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (header_given_) return;
  header_given_ = true;
  header_energy_ = header.energy;
  if (!header.id.empty()) {
    std::lock_guard<std::mutex> id_lock(id_mutex_);
    id_ = header.id;
  }
  if (begun_) return;  // nothing to record
  if (required_) {
    WriteHeader(header);  // throws, as the constructor does
    return;
  }
  // The writer thread opens the ledger (maybe still) and writes the header.
  pending_header_ = header;
  header_cv_.notify_all();
}

void RunRecorder::WriteHeader(const RunRecord& header) {
  RunRecord with_id = header;
  with_id.id = id();
  try {
    std::string id = ledger_->BeginRun(with_id);
    std::lock_guard<std::mutex> lock(id_mutex_);
    id_ = id;
  } catch (const Error& e) {
    ledger_.reset();
    begun_ = true;
    begun_cv_.notify_all();
    if (required_) throw;
    warn_(std::string(e.what()) + "; this run is not recorded");
  }
  begun_ = true;
  begun_cv_.notify_all();
}

std::unique_lock<std::mutex> RunRecorder::LockBegun() const {
  std::unique_lock<std::mutex> lock(mutex_);
  begun_cv_.wait(lock, [this] { return begun_; });
  return lock;
}

std::string RunRecorder::id() const {
  std::lock_guard<std::mutex> lock(id_mutex_);
  return id_;
}

RunRecorder::~RunRecorder() {
  StopWriter();
  std::lock_guard<std::mutex> lock(mutex_);
  if (ledger_ == nullptr || !begun_ || finished_) return;
  // Unwound by an exception: keep what the samples said, and say it failed.
  EnergyReport energy = header_energy_;
  if (last_sample_) {
    energy.end_unix_s = last_sample_->t_unix_s;
    energy.energy_j = last_sample_->energy_j;
    energy.machine_energy_j = last_sample_->machine_energy_j;
    energy.operational_g = last_sample_->co2_g;
  }
  try {
    ledger_->FinishRun(id(), RunStatus::kFailed, "ended by an error before its end was recorded",
                       energy, nlohmann::json::object());
  } catch (const Error&) {
    // Nothing more to do: the run reads back as incomplete once we exit.
  }
}

bool RunRecorder::recording() const {
  std::unique_lock<std::mutex> lock = LockBegun();
  return ledger_ != nullptr;
}

void RunRecorder::Fail(const std::string& what) {
  warn_(what + "; recording of run " + id() + " stops here, the job goes on");
  ledger_.reset();
}

std::function<void(const MeterReading&)> RunRecorder::SampleCallback() {
  return [this](const MeterReading& reading) { AppendSample(SampleRowFromReading(reading)); };
}

void RunRecorder::AppendSample(const SampleRow& sample) {
  std::lock_guard<std::mutex> lock(queue_mutex_);
  last_sample_ = sample;
  if (!writer_.joinable() || stopping_) return;
  queue_.push_back(sample);
  // Only a writer waiting for work is woken: one resting between commits
  // takes the queue when its rest ends, so a sample costs no system call.
  if (writer_waiting_) queue_ready_.notify_one();
}

void RunRecorder::WriteSamples(const std::string& path) {
  if (!path.empty()) {
    // Opened without the lock, so that Begin does not wait for it.
    std::unique_ptr<Ledger> ledger;
    try {
      ledger = Ledger::Open(path);
    } catch (const Error& e) {
      warn_(std::string(e.what()) + "; this run is not recorded");
    }
    std::unique_lock<std::mutex> lock(mutex_);
    ledger_ = std::move(ledger);
    // The header, once Begin gives it; a recorder ended before then records nothing.
    header_cv_.wait(lock, [this] { return pending_header_.has_value() || stop_begin_; });
    if (pending_header_ && ledger_ != nullptr) {
      WriteHeader(*pending_header_);
    } else {
      ledger_.reset();
    }
    begun_ = true;
    begun_cv_.notify_all();
  }
  // Commits at most this often: a commit costs about 150 us of CPU (the WAL
  // index's locks and two writes, each system call dear in a virtual
  // machine), so samples taken every 10 ms are committed 20 at a time, and
  // at 0.2 s or slower one by one. A SIGKILL loses at most the last 0.2 s.
  constexpr auto kCommitGap = std::chrono::milliseconds(200);
  std::vector<SampleRow> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(queue_mutex_);
      writer_waiting_ = true;
      queue_ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      writer_waiting_ = false;
      if (queue_.empty()) return;  // stopping, and nothing left to write
      batch.swap(queue_);
    }
    {
      std::unique_lock<std::mutex> lock = LockBegun();  // the header first
      if (ledger_ == nullptr || finished_) {
        batch.clear();
        continue;  // not recording: drain until stopped
      }
      try {
        ledger_->AppendSamples(id(), batch);
      } catch (const Error& e) {
        Fail(e.what());
      }
    }
    batch.clear();
    // Let the next samples gather, unless the run is ending.
    std::unique_lock<std::mutex> lock(queue_mutex_);
    queue_ready_.wait_for(lock, kCommitGap, [this] { return stopping_; });
  }
}

void RunRecorder::StopWriter() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_begin_ = true;
    if (required_ && !header_given_) {
      // Ended before Begin: there is no run to write samples to.
      ledger_.reset();
      begun_ = true;
      begun_cv_.notify_all();
    }
  }
  header_cv_.notify_all();
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    stopping_ = true;
  }
  queue_ready_.notify_one();
  if (writer_.joinable()) writer_.join();
}

void RunRecorder::AppendEpoch(const EpochRow& epoch) {
  std::unique_lock<std::mutex> lock = LockBegun();
  if (ledger_ == nullptr || finished_) return;
  try {
    ledger_->AppendEpoch(id(), epoch);
  } catch (const Error& e) {
    Fail(e.what());
  }
}

void RunRecorder::Finish(RunStatus status, const std::string& message, const EnergyReport& energy,
                         const nlohmann::json& metrics) {
  StopWriter();  // the header and samples first, so the run's end follows its last sample
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  if (ledger_ == nullptr || !begun_) return;  // no ledger, or never begun
  try {
    ledger_->FinishRun(id(), status, message, energy, metrics);
  } catch (const Error& e) {
    Fail(e.what());
  }
}

}  // namespace joule
