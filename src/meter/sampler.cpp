#include "meter/sampler.hpp"

#include "joule/util.hpp"

namespace joule::meter {

Sampler::Sampler(double interval_s, std::function<void()> tick)
    : interval_(std::chrono::nanoseconds(static_cast<long long>(interval_s * 1e9))),
      tick_(std::move(tick)) {
  JOULE_ASSERT(interval_.count() > 0);
}

Sampler::~Sampler() { Stop(); }

void Sampler::Start() {
  JOULE_ASSERT(!thread_.joinable());
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void Sampler::Stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Sampler::Loop() {
  using Clock = std::chrono::steady_clock;
  Clock::time_point next = Clock::now() + interval_;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    if (wake_.wait_until(lock, next, [this] { return stop_; })) return;
    lock.unlock();
    tick_();
    lock.lock();
    next += interval_;
    Clock::time_point now = Clock::now();
    if (next <= now) next = now + interval_;
  }
}

}  // namespace joule::meter
