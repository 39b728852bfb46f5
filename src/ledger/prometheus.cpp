// Prometheus text exposition format 0.0.4, and the /metrics server.

#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <set>
#include <thread>

#include "joule/ledger.hpp"
#include "joule/util.hpp"
#include "ledger/httplib_config.hpp"

namespace joule {
namespace {

bool IsMetricName(const std::string& name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// Label names are metric names without ':'; names starting "__" are
// reserved for Prometheus itself.
bool IsLabelName(const std::string& name) {
  return IsMetricName(name) && name.find(':') == std::string::npos && name.rfind("__", 0) != 0;
}

bool IsMetricType(const std::string& type) {
  return type == "counter" || type == "gauge" || type == "histogram" || type == "summary" ||
         type == "untyped";
}

void AppendEscaped(std::string& out, const std::string& text, bool escape_quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void AppendValue(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    char buffer[32];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    JOULE_ASSERT(ec == std::errc());
    out.append(buffer, end);
  }
}

void Validate(const PromMetric& metric) {
  if (!IsMetricName(metric.name)) {
    throw Error("Prometheus metric name \"" + metric.name +
                "\" is invalid: expected [a-zA-Z_:][a-zA-Z0-9_:]*");
  }
  if (!IsMetricType(metric.type)) {
    throw Error("Prometheus metric " + metric.name + " has type \"" + metric.type +
                "\": expected counter, gauge, histogram, summary or untyped");
  }
  std::set<std::string> seen;
  for (const auto& [label, value] : metric.labels) {
    if (!IsLabelName(label)) {
      throw Error("Prometheus metric " + metric.name + " has label name \"" + label +
                  "\": expected [a-zA-Z_][a-zA-Z0-9_]* not starting with __");
    }
    if (!seen.insert(label).second) {
      throw Error("Prometheus metric " + metric.name + " has label \"" + label + "\" twice");
    }
  }
}

}  // namespace

std::string RenderPrometheusText(const std::vector<PromMetric>& metrics) {
  std::string out;
  std::set<std::string> finished;  // families already written
  const PromMetric* family = nullptr;
  for (const PromMetric& metric : metrics) {
    Validate(metric);
    if (family == nullptr || metric.name != family->name) {
      // The format needs a family's samples together under one HELP/TYPE.
      if (family != nullptr) finished.insert(family->name);
      if (finished.count(metric.name)) {
        throw Error("Prometheus metric " + metric.name +
                    ": its samples are not adjacent; keep one family's samples together");
      }
      family = &metric;
      out += "# HELP " + metric.name + " ";
      AppendEscaped(out, metric.help, /*escape_quote=*/false);
      out += "\n# TYPE " + metric.name + " " + metric.type + "\n";
    } else if (metric.help != family->help || metric.type != family->type) {
      throw Error("Prometheus metric " + metric.name +
                  ": samples of one family disagree on help or type");
    }
    out += metric.name;
    if (!metric.labels.empty()) {
      out += '{';
      for (std::size_t i = 0; i < metric.labels.size(); ++i) {
        if (i > 0) out += ',';
        out += metric.labels[i].first + "=\"";
        AppendEscaped(out, metric.labels[i].second, /*escape_quote=*/true);
        out += '"';
      }
      out += '}';
    }
    out += ' ';
    AppendValue(out, metric.value);
    out += '\n';
  }
  return out;
}

struct PrometheusServer::Impl {
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> finished{false};
  int port = 0;
};

namespace {

// Splits "HOST:PORT", ":PORT", "PORT" or "[V6]:PORT"; host defaults to
// loopback so that metrics are not exposed to the network unless asked.
std::pair<std::string, int> ParseHostPort(const std::string& host_port) {
  std::string host = "127.0.0.1", port_text = host_port;
  if (!host_port.empty() && host_port[0] == '[') {
    std::size_t close = host_port.find(']');
    if (close == std::string::npos || close + 1 >= host_port.size() ||
        host_port[close + 1] != ':') {
      throw Error("--prometheus " + host_port + ": expected [IPV6]:PORT, e.g. [::1]:9091");
    }
    host = host_port.substr(1, close - 1);
    port_text = host_port.substr(close + 2);
  } else if (std::size_t colon = host_port.rfind(':'); colon != std::string::npos) {
    if (host_port.find(':') != colon) {
      throw Error("--prometheus " + host_port +
                  ": an IPv6 address needs brackets, e.g. [::1]:9091");
    }
    if (colon > 0) host = host_port.substr(0, colon);
    port_text = host_port.substr(colon + 1);
  }
  int port = -1;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port < 0 || port > 65535) {
    throw Error("--prometheus " + host_port +
                ": expected HOST:PORT with PORT 0-65535 (0 picks a free port), e.g. "
                "127.0.0.1:9091");
  }
  return {host, port};
}

}  // namespace

PrometheusServer::PrometheusServer(const std::string& host_port,
                                   std::function<std::string()> render)
    : impl_(std::make_unique<Impl>()) {
  auto [host, port] = ParseHostPort(host_port);
  impl_->server.Get("/metrics", [render = std::move(render)](const httplib::Request&,
                                                             httplib::Response& response) {
    try {
      response.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
    } catch (const std::exception& e) {
      response.status = 500;
      response.set_content(std::string("joule: cannot render metrics: ") + e.what() + "\n",
                           "text/plain; charset=utf-8");
    }
  });
  // Scrapers are few; two workers are plenty and keep joule's footprint small.
  impl_->server.new_task_queue = [] { return new httplib::ThreadPool(2); };
  // httplib's default sets SO_REUSEPORT, which lets a second joule bind the
  // same port and silently take half the scrapes; SO_REUSEADDR alone still
  // allows a quick restart but makes a port in use an error.
  impl_->server.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  if (host.find(':') != std::string::npos) impl_->server.set_address_family(AF_INET6);

  bool bound = false;
  if (port == 0) {
    int chosen = impl_->server.bind_to_any_port(host);
    bound = chosen > 0;
    port = chosen;
  } else {
    bound = impl_->server.bind_to_port(host, port);
  }
  if (!bound) {
    throw Error("--prometheus " + host_port + ": cannot listen on " + host + ":" +
                std::to_string(port < 0 ? 0 : port) +
                " (port in use, address not on this machine, or a port below 1024 without "
                "privileges); pick another HOST:PORT, or port 0 for any free port");
  }
  impl_->port = port;
  // Binding happened above, so clients can connect as soon as we return; the
  // thread only runs the accept loop.
  impl_->thread = std::thread([impl = impl_.get()] {
    impl->server.listen_after_bind();
    impl->finished = true;
  });
}

PrometheusServer::~PrometheusServer() {
  // httplib's stop() does nothing until the accept loop has started
  // (is_running()), and that happens on the thread; retry until the loop
  // has really ended, or join() could wait forever.
  while (!impl_->finished) {
    impl_->server.stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  impl_->thread.join();
}

int PrometheusServer::port() const { return impl_->port; }

}  // namespace joule
