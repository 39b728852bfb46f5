// The meter session (see joule/meter_session.hpp).
#include "joule/meter_session.hpp"

#include <algorithm>
#include <set>

#include "joule/util.hpp"

namespace joule {
namespace {

SessionFigures FiguresOf(const MeterReading& r) {
  return {r.energy_j, r.operational_g + r.embodied_g};
}

}  // namespace

MeterSession::MeterSession(const MeteringOptions& options)
    : clock_(options.clock != nullptr ? options.clock : &Clock::System()),
      background_(options.background),
      interval_s_(options.interval_s),
      on_sample_(options.on_sample) {
  std::vector<std::unique_ptr<PowerSource>> sources;
  if (options.sources) {
    sources = options.sources();
  } else {
    SensorSet set = DiscoverSensors(options.sensors);
    sources = std::move(set.sources);
    warnings_ = std::move(set.warnings);
  }
  if (options.resolved_carbon) {
    carbon_ = *options.resolved_carbon;
  } else {
    carbon_ = CarbonModel::Resolve(options.carbon, DataDir());
  }
  std::set<std::string> seen;
  for (const auto& source : sources) {
    bool counted = std::any_of(source->channels().begin(), source->channels().end(),
                               [](const Channel& c) { return c.counted; });
    std::string method(source->method());
    if (!counted || !seen.insert(method).second) continue;
    method_ += (method_.empty() ? "" : "+") + method;
    estimated_ = estimated_ || !IsMeasuredMethod(method);
  }
  MeterOptions meter_options;
  meter_options.attribution = options.attribution;
  meter_options.share = options.share;
  meter_options.interval_s = options.interval_s;
  meter_options.background = options.background;
  meter_options.proc_root = options.sensors.proc_root;
  meter_options.carbon = carbon_;
  meter_options.clock = clock_;
  meter_ = std::make_unique<Meter>(std::move(sources), meter_options);
  meter_->set_on_sample([this](const MeterReading& r) { OnSample(r); });
}

// The sampling thread calls OnSample, which locks mutex_: stop it before the
// members it touches are destroyed.
MeterSession::~MeterSession() { meter_.reset(); }

void MeterSession::Start() {
  start_unix_s_ = clock_->UnixSeconds();
  meter_->Start();
}

// Called with the meter's lock held, after every sample (background or ours).
// A window shorter than half an interval (a sample we forced right after a
// background one) would give a noisy power: /proc/stat counts in 10 ms ticks.
void MeterSession::OnSample(const MeterReading& r) {
  double now = clock_->MonotonicSeconds();
  double g_per_j = carbon_->OperationalGrams(1.0, r.end_unix_s, r.end_unix_s);
  std::lock_guard<std::mutex> lock(mutex_);
  if (r.samples <= 1) {
    anchor_mono_ = now;
    anchor_energy_j_ = r.energy_j;
  } else if (now - anchor_mono_ >= 0.5 * interval_s_) {
    power_w_ = std::max(0.0, (r.energy_j - anchor_energy_j_) / (now - anchor_mono_));
    anchor_mono_ = now;
    anchor_energy_j_ = r.energy_j;
  }
  last_mono_ = now;
  last_energy_j_ = r.energy_j;
  last_co2_g_ = r.operational_g + r.embodied_g;
  g_per_j_ = g_per_j;
  if (on_sample_) on_sample_(r);
}

SessionFigures MeterSession::Estimate() {
  if (!background_) return Sample();
  double now = clock_->MonotonicSeconds();
  std::lock_guard<std::mutex> lock(mutex_);
  double extra_j = power_w_ * std::max(0.0, now - last_mono_);
  return {last_energy_j_ + extra_j, last_co2_g_ + extra_j * g_per_j_};
}

SessionFigures MeterSession::Sample() { return FiguresOf(meter_->Read()); }

SessionFigures MeterSession::Stop() {
  final_ = meter_->Stop();
  end_unix_s_ = clock_->UnixSeconds();
  return FiguresOf(final_);
}

EnergyReport MeterSession::Report() const {
  EnergyReport r = MakeEnergyReport(final_, &*carbon_);
  // The sources' labels, also when no channel saw a joule yet.
  r.method = method_;
  r.estimated = estimated_;
  return r;
}

}  // namespace joule
