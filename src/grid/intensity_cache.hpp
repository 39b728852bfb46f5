// The on-disk cache of provider replies (see HttpOptions::cache_dir).
// Internal to the grid layer.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace joule::grid::detail {

// One file per request under `dir`: "<provider>-<kind>-<hash>.json" holding
// the time it was fetched, the request it answers and the reply body. The
// fetch time is the caller's clock, not the file's mtime, so tests with a
// fixed clock see exact ages. Safe to share between processes: files are
// replaced atomically, so a reader sees an old reply or a new one, never half.
class IntensityCache {
 public:
  explicit IntensityCache(std::string dir) : dir_(std::move(dir)) {}

  // The body stored for `key` if it was fetched at most max_age_s before
  // now_s; std::nullopt when absent, older, unreadable, or written for
  // another key (a hash collision).
  std::optional<std::string> Get(std::string_view provider, std::string_view kind,
                                 const std::string& key, double max_age_s, double now_s) const;

  // Stores `body` for `key`, fetched at now_s. Never throws: a cache that
  // cannot be written (read-only home, full disk) only costs a refetch.
  void Put(std::string_view provider, std::string_view kind, const std::string& key,
           std::string_view body, double now_s) const;

  std::string PathFor(std::string_view provider, std::string_view kind,
                      const std::string& key) const;

 private:
  std::string dir_;
};

}  // namespace joule::grid::detail
