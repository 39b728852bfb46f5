// One background thread that calls a function at a fixed interval.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace joule::meter {

// Calls `tick` every `interval_s` seconds on its own thread, on an absolute
// schedule (start + k x interval) so that the time `tick` takes does not make
// the samples drift; a tick that overruns makes the next one start one
// interval after it, rather than bunching up. The loop itself does not
// allocate. Start and Stop are called from one owning thread.
class Sampler {
 public:
  Sampler(double interval_s, std::function<void()> tick);
  ~Sampler();  // stops
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  void Start();
  // Wakes the thread and joins it; `tick` is not called again after this returns.
  void Stop();

 private:
  void Loop();
  std::chrono::nanoseconds interval_;
  std::function<void()> tick_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace joule::meter
