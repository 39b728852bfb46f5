// HTTP for the live intensity providers: time-outs, bounded retries, one-line
// errors, and the reply cache in front of it all.
#include "grid/http_fetch.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <thread>

#include "joule/util.hpp"

namespace joule::grid {

std::string_view ResponseKindName(ResponseKind kind) {
  switch (kind) {
    case ResponseKind::kLatest:
      return "latest";
    case ResponseKind::kHistory:
      return "history";
    case ResponseKind::kForecast:
      return "forecast";
  }
  return "latest";
}

}  // namespace joule::grid

namespace joule::grid::detail {
namespace {

// A reply's body as one short line, for messages about statuses we did not
// expect (a 400 says what was wrong in its body).
std::string OneLine(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, 160)) {
    out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  }
  if (body.size() > 160) out += "...";
  return out;
}

void SetTimeout(double seconds, const std::function<void(time_t, time_t)>& set) {
  const double s = std::max(seconds, 0.001);
  const auto whole = static_cast<time_t>(s);
  set(whole, static_cast<time_t>((s - static_cast<double>(whole)) * 1e6));
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", s);
  return buf;
}

}  // namespace

std::string EnvOr(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

std::string QueryEscape(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

ProviderHttp::ProviderHttp(std::string provider, HttpOptions options, const char* url_env,
                           const char* default_url)
    : provider_(std::move(provider)),
      options_(std::move(options)),
      cache_(options_.cache_dir.empty() ? GridCacheDir() : options_.cache_dir) {
  base_url_ = options_.base_url;
  if (base_url_.empty()) base_url_ = EnvOr(url_env);
  if (base_url_.empty()) base_url_ = default_url;
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  const std::size_t scheme_end = base_url_.find("://");
  if (scheme_end == std::string::npos || (base_url_.compare(0, scheme_end, "http") != 0 &&
                                          base_url_.compare(0, scheme_end, "https") != 0)) {
    throw Error(provider_ + ": base URL '" + base_url_ +
                "': expected http://HOST[:PORT][/PATH] or https://... (" + url_env + ")");
  }
  const std::size_t path_start = base_url_.find('/', scheme_end + 3);
  scheme_host_ = base_url_.substr(0, path_start);
  prefix_ = path_start == std::string::npos ? "" : base_url_.substr(path_start);
}

double ProviderHttp::Now() const {
  if (options_.clock) return options_.clock();
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string ProviderHttp::Get(const std::string& path, const httplib::Headers& headers,
                              const std::string& refused_hint) {
  httplib::Client client(scheme_host_);
  SetTimeout(options_.connect_timeout_s,
             [&](time_t s, time_t us) { client.set_connection_timeout(s, us); });
  SetTimeout(options_.read_timeout_s, [&](time_t s, time_t us) { client.set_read_timeout(s, us); });
  SetTimeout(options_.read_timeout_s,
             [&](time_t s, time_t us) { client.set_write_timeout(s, us); });
  const std::string url = prefix_ + path;
  const int attempts = std::max(options_.max_retries, 0) + 1;
  std::string last_error;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    double wait_s = options_.backoff_s * std::pow(2.0, attempt);
    const double started = MonotonicSeconds();
    httplib::Result res = client.Get(url.c_str(), headers);
    const double took_s = MonotonicSeconds() - started;
    if (!res) {
      const httplib::Error err = res.error();
      if (err == httplib::Error::Connection) {
        last_error = "cannot connect to " + scheme_host_;
      } else if (err == httplib::Error::Read && took_s >= 0.9 * options_.read_timeout_s) {
        // A slow server: asking again would only double the wait.
        throw Error(provider_ + ": no reply from " + base_url_ + " within the read time-out (" +
                    Seconds(options_.read_timeout_s) + ")");
      } else if (err == httplib::Error::Read) {
        throw Error(provider_ + ": the reply from " + base_url_ +
                    " was cut short (connection closed mid-way)");
      } else {
        throw Error(provider_ + ": request to " + base_url_ +
                    " failed: " + httplib::to_string(err));
      }
    } else {
      const int status = res->status;
      if (status == 200) return res->body;
      const std::string prefix = provider_ + ": HTTP " + std::to_string(status) + ": ";
      if (status == 401) throw Error(prefix + refused_hint);
      if (status == 403) {
        throw Error(prefix + "forbidden: the account may not include " + path + " (" +
                    refused_hint + ")");
      }
      if (status != 429 && status < 500) throw Error(prefix + OneLine(res->body));
      last_error = status == 429 ? "HTTP 429: rate limited"
                                 : "HTTP " + std::to_string(status) + ": server error";
      if (res->has_header("Retry-After")) {
        const std::string ra = res->get_header_value("Retry-After");
        char* end = nullptr;
        const double v = std::strtod(ra.c_str(), &end);
        if (end != ra.c_str() && *end == '\0' && v >= 0) wait_s = v;
      }
    }
    if (attempt + 1 < attempts) {
      wait_s = std::min(wait_s, options_.max_retry_after_s);
      std::this_thread::sleep_for(std::chrono::duration<double>(wait_s));
    }
  }
  throw Error(provider_ + ": " + last_error + ", still after " + std::to_string(attempts) +
              (attempts == 1 ? " attempt" : " attempts"));
}

IntensitySeries ProviderHttp::GetSeries(
    const std::string& path, const httplib::Headers& headers, ResponseKind kind,
    const std::string& refused_hint,
    const std::function<IntensitySeries(const std::string&)>& parse) {
  const std::string key = base_url_ + path;
  const std::string_view kind_name = ResponseKindName(kind);
  if (options_.use_cache) {
    if (auto body = cache_.Get(provider_, kind_name, key, CacheMaxAgeSeconds(kind), Now())) {
      try {
        return parse(*body);
      } catch (const Error&) {
        // A cached reply this version cannot read: fetch it again.
      }
    }
  }
  const std::string body = Get(path, headers, refused_hint);
  IntensitySeries series;
  try {
    series = parse(body);
  } catch (const Error& e) {
    throw Error(provider_ + ": " + e.what());
  }
  if (options_.use_cache) cache_.Put(provider_, kind_name, key, body, Now());
  return series;
}

}  // namespace joule::grid::detail
