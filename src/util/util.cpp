#include "joule/util.hpp"

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace joule {

void AssertFail(const char* cond, const char* file, int line) {
  std::fprintf(stderr, "joule: internal error: assertion '%s' failed at %s:%d\n", cond, file, line);
  std::abort();
}

std::string DataDir() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("JOULE_DATA_DIR"); env != nullptr && *env != '\0') {
    if (!fs::is_directory(env)) {
      throw Error(std::string("JOULE_DATA_DIR=") + env +
                  " is not a directory; unset it or point it at the repository's data/");
    }
    return env;
  }
  std::string built_in = JOULE_SOURCE_DATA_DIR;
  if (fs::is_directory(built_in)) return built_in;
  throw Error("bundled data not found at " + built_in +
              "; set JOULE_DATA_DIR to the repository's data/ directory");
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw Error(path + ": read failed: " + std::strerror(errno));
  return std::move(buffer).str();
}

void WriteFileAtomic(const std::string& path, std::string_view contents) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(path + ": cannot write: " + std::strerror(errno));
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw Error(path + ": write failed: " + std::strerror(errno));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    std::remove(tmp.c_str());
    throw Error(path + ": cannot rename temporary file into place: " + std::strerror(err));
  }
}

double MonotonicSeconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

std::uint64_t Rng::NextU64() {
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

float Rng::Uniform() { return static_cast<float>(NextU64() >> 40) * (1.0f / 16777216.0f); }

std::uint64_t Rng::Below(std::uint64_t n) {
  JOULE_ASSERT(n > 0);
  std::uint64_t limit = ~std::uint64_t{0} - (~std::uint64_t{0} % n);
  std::uint64_t r;
  do {
    r = NextU64();
  } while (r >= limit);
  return r % n;
}

float Rng::Normal() {
  // 1 - Uniform() is in (0, 1], so the log is finite.
  double u1 = 1.0 - Uniform(), u2 = Uniform();
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

}  // namespace joule
