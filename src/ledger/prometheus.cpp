// Prometheus text exposition format 0.0.4, and the /metrics server.

#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <set>
#include <thread>

#include "joule/http_server.hpp"
#include "joule/ledger.hpp"
#include "joule/util.hpp"

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
  std::unique_ptr<HttpServerThread> thread;  // after `server`: stopped first
};

PrometheusServer::PrometheusServer(const std::string& host_port,
                                   std::function<std::string()> render)
    : impl_(std::make_unique<Impl>()) {
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
  impl_->thread = std::make_unique<HttpServerThread>(impl_->server, host_port, "--prometheus");
}

PrometheusServer::~PrometheusServer() = default;

int PrometheusServer::port() const { return impl_->thread->port(); }

}  // namespace joule
