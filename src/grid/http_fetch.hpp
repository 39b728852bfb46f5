// One provider's HTTP: base URL, time-outs, bounded retries, one-line errors
// and the reply cache. Internal to the grid layer; every live client holds one.
#pragma once

#include <httplib.h>  // the macros Debian built it with come from joule_httplib

#include <functional>
#include <string>
#include <string_view>

#include "grid/intensity_cache.hpp"
#include "joule/grid_providers.hpp"

namespace joule::grid::detail {

class ProviderHttp {
 public:
  // `provider` starts every error message; the base URL is options.base_url,
  // else $url_env, else default_url.
  ProviderHttp(std::string provider, HttpOptions options, const char* url_env,
               const char* default_url);

  const std::string& provider() const { return provider_; }
  const std::string& base_url() const { return base_url_; }
  const HttpOptions& options() const { return options_; }
  double Now() const;

  // GET <base><path> and return the body of a 200 reply. Retries 429, 5xx and
  // failures to connect (HttpOptions), honouring Retry-After. Throws Error,
  // one line starting "<provider>: ", for any other outcome; a 401 or 403
  // says `refused_hint` ("token refused (set ELECTRICITYMAPS_TOKEN)").
  std::string Get(const std::string& path, const httplib::Headers& headers,
                  const std::string& refused_hint);

  // Get through the cache: a reply no older than CacheMaxAgeSeconds(kind) is
  // parsed instead of fetching; a fetched reply is stored only once `parse`
  // accepted it, so a malformed reply is never served again. Errors from
  // `parse` get the "<provider>: " prefix.
  IntensitySeries GetSeries(const std::string& path, const httplib::Headers& headers,
                            ResponseKind kind, const std::string& refused_hint,
                            const std::function<IntensitySeries(const std::string&)>& parse);

 private:
  std::string provider_;
  HttpOptions options_;
  std::string base_url_;     // as given, for messages and cache keys
  std::string scheme_host_;  // "https://host:port", for httplib::Client
  std::string prefix_;       // path prefix from the base URL, "" or "/api"
  IntensityCache cache_;
};

// Percent-encodes a query value (RFC 3986 unreserved characters kept).
std::string QueryEscape(std::string_view value);

// The value of environment variable `name`, or "" when unset.
std::string EnvOr(const char* name);

}  // namespace joule::grid::detail
