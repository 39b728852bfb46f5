// The on-disk cache of provider replies, and where it lives.
#include "grid/intensity_cache.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "joule/grid_providers.hpp"
#include "joule/util.hpp"

namespace joule::grid {

std::string GridCacheDir() {
  // JOULE_HOME first, as the ledger does; otherwise the XDG cache directory,
  // the place a user expects to be able to delete without losing anything.
  if (const char* home = std::getenv("JOULE_HOME"); home != nullptr && *home != '\0') {
    return std::string(home) + "/cache/grid";
  }
  if (const char* cache = std::getenv("XDG_CACHE_HOME"); cache != nullptr && *cache != '\0') {
    return std::string(cache) + "/joule/grid";
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && *home != '\0' ? home : ".") + "/.cache/joule/grid";
}

double CacheMaxAgeSeconds(ResponseKind kind) {
  switch (kind) {
    case ResponseKind::kLatest:
      return 300;
    case ResponseKind::kForecast:
      return 1800;
    case ResponseKind::kHistory:
      return 86400;
  }
  return 0;
}

namespace detail {
namespace {

std::uint64_t Fnv1a64(std::string_view s) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

std::string IntensityCache::PathFor(std::string_view provider, std::string_view kind,
                                    const std::string& key) const {
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(Fnv1a64(key)));
  return dir_ + "/" + std::string(provider) + "-" + std::string(kind) + "-" + hash + ".json";
}

std::optional<std::string> IntensityCache::Get(std::string_view provider, std::string_view kind,
                                               const std::string& key, double max_age_s,
                                               double now_s) const {
  std::string text;
  try {
    text = ReadFile(PathFor(provider, kind, key));
  } catch (const Error&) {
    return std::nullopt;
  }
  // Layout: "<fetched unix s>\n<key>\n<body>".
  const std::size_t nl1 = text.find('\n');
  if (nl1 == std::string::npos) return std::nullopt;
  const std::size_t nl2 = text.find('\n', nl1 + 1);
  if (nl2 == std::string::npos) return std::nullopt;
  if (text.compare(nl1 + 1, nl2 - nl1 - 1, key) != 0) return std::nullopt;
  char* end = nullptr;
  const std::string stamp = text.substr(0, nl1);
  const double fetched_s = std::strtod(stamp.c_str(), &end);
  if (end == stamp.c_str() || *end != '\0') return std::nullopt;
  // A fetch time in the future (clock stepped back) counts as stale.
  if (now_s < fetched_s || now_s - fetched_s > max_age_s) return std::nullopt;
  return text.substr(nl2 + 1);
}

void IntensityCache::Put(std::string_view provider, std::string_view kind, const std::string& key,
                         std::string_view body, double now_s) const {
  if (key.find('\n') != std::string::npos) return;
  try {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "%.3f", now_s);
    std::string text = std::string(stamp) + "\n" + key + "\n";
    text.append(body);
    WriteFileAtomic(PathFor(provider, kind, key), text);
  } catch (const Error&) {
  }
}

}  // namespace detail
}  // namespace joule::grid
