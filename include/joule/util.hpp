// joule/util.hpp: the one error type, invariant checks, and where bundled data lives.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace joule {

// The only exception joule throws on purpose. Its message names the thing that
// was wrong (file and byte offset or line, flag, value), what was expected, and
// how to fix it. Callers at the edge (CLI, C API, tests) catch it; the CLI prints
// what() on one line and exits non-zero.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Aborts with file and line. Only for invariants a bug can break, never for
// bad input (that is joule::Error).
[[noreturn]] void AssertFail(const char* cond, const char* file, int line);

// Directory holding the bundled data (mnist/, carbon/, cal-housing/). Order:
// $JOULE_DATA_DIR, then the source tree's data/ recorded at build time.
// Throws Error when neither exists.
std::string DataDir();

// Reads a whole file as bytes. Throws Error naming the path and errno text.
std::string ReadFile(const std::string& path);

// Writes `contents` to `path` atomically: a temporary file beside it, then
// rename, so a reader never sees a half-written file. Throws Error.
void WriteFileAtomic(const std::string& path, std::string_view contents);

// Seconds on a monotonic clock (steady_clock), for durations only.
double MonotonicSeconds();

// Levenshtein distance between two byte strings (case-sensitive).
std::size_t EditDistance(std::string_view a, std::string_view b);

// Something a user may have meant: `display` is shown in an error message,
// `keys` are what the query is compared with (a code and a name, say).
struct NameCandidate {
  std::string display;
  std::vector<std::string> keys;
};

// The `display` of up to `max_count` candidates closest to `query`, best
// first, ties in candidate order: for "unknown X; closest: ..." messages.
// Closeness is the smallest case-insensitive edit distance to any key; a key
// that starts with the query counts as distance 0, so "fr" finds "FRA (France)".
std::vector<std::string> CloseMatches(std::string_view query,
                                      const std::vector<NameCandidate>& candidates,
                                      std::size_t max_count);

// "a, b, c" for error messages.
std::string JoinList(const std::vector<std::string>& items);

// A small, seeded, portable random generator (SplitMix64). The same seed gives
// the same sequence on every platform and standard library, which
// std::uniform_*_distribution does not promise; joule's runs are reproducible
// from their seed because everything random draws from this.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t NextU64();
  // Uniform in [0, 1), 24 random bits.
  float Uniform();
  // Uniform integer in [0, n), n > 0 (rejection sampling: no modulo bias).
  std::uint64_t Below(std::uint64_t n);
  // Standard normal (Box-Muller).
  float Normal();

 private:
  std::uint64_t state_;
};

}  // namespace joule

#define JOULE_ASSERT(cond) \
  ((cond) ? static_cast<void>(0) : ::joule::AssertFail(#cond, __FILE__, __LINE__))
