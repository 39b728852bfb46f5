// What the GPU sources whose vendor library is loaded at run time (NVML, AMD
// SMI) share: the library's lifetime, the fixed facts a PowerSource reports,
// binding symbols, and the rule for a device energy counter that restarts.
// Internal to the meter layer.
#pragma once

#include <dlfcn.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "joule/meter.hpp"

namespace joule::loaded_library {

// Binds `name` (or `fallback` when the library lacks it) to `fn`; null when
// neither exists.
template <typename Fn>
void Bind(void* library, const char* name, Fn* fn, const char* fallback = nullptr) {
  void* symbol = dlsym(library, name);
  if (symbol == nullptr && fallback != nullptr) symbol = dlsym(library, fallback);
  *fn = reinterpret_cast<Fn>(symbol);
}

// The energy a device counter added since `*last`, which it then becomes. The
// counters only go back when the driver reloads; then the new value is all
// energy since the reload, which happened after the last read.
inline std::uint64_t CounterDelta(std::uint64_t now, std::uint64_t* last) {
  std::uint64_t delta = now >= *last ? now - *last : now;
  *last = now;
  return delta;
}

// A source over a dlopen'ed library: calls `shut_down` (may be null) and
// dlclose when destroyed. Subclasses implement Read.
class LoadedLibrarySource : public PowerSource {
 public:
  LoadedLibrarySource(void* library, int (*shut_down)(), std::string kind, std::string method,
                      std::vector<Channel> channels, std::string detail)
      : library_(library),
        shut_down_(shut_down),
        kind_(std::move(kind)),
        method_(std::move(method)),
        channels_(std::move(channels)),
        detail_(std::move(detail)) {}
  ~LoadedLibrarySource() override {
    if (shut_down_ != nullptr) shut_down_();
    dlclose(library_);
  }
  LoadedLibrarySource(const LoadedLibrarySource&) = delete;
  LoadedLibrarySource& operator=(const LoadedLibrarySource&) = delete;

  std::string_view kind() const override { return kind_; }
  std::string_view method() const override { return method_; }
  std::string detail() const override { return detail_; }
  const std::vector<Channel>& channels() const override { return channels_; }

 private:
  void* library_;
  int (*shut_down_)();
  std::string kind_, method_;
  std::vector<Channel> channels_;
  std::string detail_;
};

}  // namespace joule::loaded_library
