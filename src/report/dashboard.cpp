// joule serve: the runs table, a run's card, comparisons and a JSON API over
// the ledger, read-only. Each worker thread keeps its own connection to the
// ledger (a Ledger is one thread's), and every request reads afresh.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

#include "joule/http_server.hpp"
#include "joule/report.hpp"
#include "joule/util.hpp"
#include "report/document.hpp"
#include "report/svg_chart.hpp"

namespace joule {
namespace {

using report_internal::XmlEscape;

// What a handler throws to answer with `status` and a one-line reason.
struct HttpError {
  int status;
  std::string reason;
};

constexpr std::size_t kMaxIds = 50;
const char* const kKinds[] = {"train",          "measure",          "demo",
                              "study",          "compress.",        "compress.quantize",
                              "compress.prune", "compress.distill", "compress.early-exit",
                              "bench-infer"};

// This thread's connection to the ledger at `path`.
Ledger& LedgerFor(const std::string& path) {
  thread_local std::map<std::string, std::unique_ptr<Ledger>> open;
  std::unique_ptr<Ledger>& ledger = open[path];
  if (!ledger) ledger = Ledger::Open(path);
  return *ledger;
}

// Refuses a parameter the route does not take, or one given twice.
void CheckParams(const httplib::Request& req, std::initializer_list<const char*> allowed,
                 bool repeat_ids = false) {
  for (const auto& [name, value] : req.params) {
    bool known =
        std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return name == a; });
    if (!known) {
      std::string list;
      for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      throw HttpError{400, "unknown query parameter '" + name + "'; " +
                               (list.empty() ? "this page takes none" : "expected " + list)};
    }
    if (req.get_param_value_count(name) > 1 && !(repeat_ids && name == "ids")) {
      throw HttpError{400, "query parameter '" + name + "' given more than once"};
    }
  }
}

std::string Param(const httplib::Request& req, const char* name) {
  return req.has_param(name) ? req.get_param_value(name) : "";
}

// Runs an Error-throwing parse, answering 400 with its message.
template <typename F>
auto BadRequestOnError(F parse) {
  try {
    return parse();
  } catch (const Error& e) {
    throw HttpError{400, e.what()};
  }
}

RunFilter FilterOf(const httplib::Request& req) {
  RunFilter filter;
  filter.kind = Param(req, "kind");
  filter.tag = Param(req, "tag");
  filter.status = Param(req, "status");
  if (filter.kind.size() > 64 || filter.tag.size() > 100) {
    throw HttpError{400, "kind or tag: longer than any the ledger holds"};
  }
  if (!filter.status.empty()) BadRequestOnError([&] { return ParseRunStatus(filter.status); });
  if (std::string since = Param(req, "since"); !since.empty()) {
    filter.since_unix_s = BadRequestOnError([&] { return ParseRunTime("since", since); });
  }
  if (std::string until = Param(req, "until"); !until.empty()) {
    // A date means the whole of that day.
    double t = BadRequestOnError([&] { return ParseRunTime("until", until); });
    filter.until_unix_s = until.size() == 10 ? t + 86400 : t;
  }
  if (std::string limit = Param(req, "limit"); !limit.empty()) {
    if (limit.size() > 7 || limit.find_first_not_of("0123456789") != std::string::npos) {
      throw HttpError{400, "limit " + limit + ": expected 0 (all) to 9999999"};
    }
    filter.limit = std::stoi(limit);
  }
  return filter;
}

ReportOptions OptionsOf(const httplib::Request& req, ReportOptions options) {
  if (std::string per = Param(req, "per"); !per.empty()) {
    options.per = BadRequestOnError([&] { return ParseSciUnit(per); });
  }
  return options;
}

// The full id of `text` in `ledger`: 400 when it cannot be an id or matches
// several runs, 404 when no run has it.
std::string ResolveId(Ledger& ledger, const std::string& text) {
  if (text.empty() || text.size() > 12 ||
      text.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
    throw HttpError{400, "run id '" + text.substr(0, 40) +
                             "': expected 1 to 12 hex digits, as the runs table shows them"};
  }
  try {
    return ledger.Resolve(text);
  } catch (const Error& e) {
    std::string what = e.what();
    if (what.rfind("no run", 0) == 0) throw HttpError{404, "no run '" + text + "' in the ledger"};
    throw HttpError{400, what};
  }
}

// The ids of a comparison: ids=A,B or ids=A&ids=B.
std::vector<std::string> IdsOf(const httplib::Request& req, Ledger& ledger) {
  std::vector<std::string> ids;
  std::size_t count = req.get_param_value_count("ids");
  for (std::size_t i = 0; i < count; ++i) {
    std::stringstream parts(req.get_param_value("ids", i));
    std::string part;
    while (std::getline(parts, part, ',')) {
      if (part.empty()) continue;
      if (ids.size() == kMaxIds) {
        throw HttpError{400, "ids: at most " + std::to_string(kMaxIds) + " runs at once"};
      }
      ids.push_back(ResolveId(ledger, part));
    }
  }
  if (ids.empty()) throw HttpError{400, "ids: give the runs to compare, e.g. ?ids=3f9a,b27c"};
  return ids;
}

std::string Page(const std::string& title, const std::string& body) {
  return report_internal::PageHtml(title, "<nav><a href=\"/\">all runs</a></nav>" + body);
}

void SendHtml(httplib::Response& res, const std::string& html) {
  res.set_content(html, "text/html; charset=utf-8");
}

void SendJson(httplib::Response& res, const nlohmann::json& j) {
  res.set_content(j.dump(), "application/json");
}

std::string Option(const std::string& value, const std::string& selected, const std::string& text) {
  return "<option value=\"" + XmlEscape(value) + "\"" + (value == selected ? " selected" : "") +
         ">" + XmlEscape(text) + "</option>";
}

std::string RunsPage(const httplib::Request& req, Ledger& ledger) {
  RunFilter filter = FilterOf(req);
  std::vector<RunRecord> runs = ledger.List(filter);
  std::ostringstream out;
  out << "<h1>joule runs</h1>";
  out << "<form class=\"filters\" method=\"get\" action=\"/\">kind <select name=\"kind\">"
      << Option("", filter.kind, "any");
  for (const char* kind : kKinds) out << Option(kind, filter.kind, kind);
  out << "</select> tag <input name=\"tag\" size=\"10\" value=\"" << XmlEscape(filter.tag)
      << "\"> status <select name=\"status\">" << Option("", filter.status, "any");
  for (const char* status : {"running", "completed", "failed", "stopped", "incomplete"}) {
    out << Option(status, filter.status, status);
  }
  out << "</select> since <input type=\"date\" name=\"since\" value=\""
      << XmlEscape(Param(req, "since")) << "\"> until <input type=\"date\" name=\"until\" value=\""
      << XmlEscape(Param(req, "until")) << "\"> <button type=\"submit\">filter</button></form>";
  out << "<p class=\"muted\" id=\"count\">" << runs.size() << (runs.size() == 1 ? " run" : " runs")
      << (filter.kind.empty() && filter.tag.empty() && filter.status.empty() &&
                  !filter.since_unix_s && !filter.until_unix_s
              ? ""
              : " match the filter")
      << ". Energy marked <span class=\"est-mark\">est.</span> is estimated, not measured "
         "(hover over a figure for its method).</p>";
  out << "<form method=\"get\" action=\"/compare\"><table class=\"runs\"><thead><tr><th></th>"
         "<th>id</th><th>kind</th><th>name</th><th>status</th><th>started</th>"
         "<th class=\"num\">s</th><th class=\"num\">J</th><th class=\"num\">gCO2eq</th>"
         "<th class=\"num\">accuracy</th></tr></thead><tbody>";
  for (const RunRecord& r : runs) {
    const EnergyReport& e = r.energy;
    const bool estimated = !IsMeasuredMethod(e.method);
    auto accuracy = r.metrics.find("accuracy");
    std::string tags;
    for (const std::string& tag : r.tags) tags += " [" + tag + "]";
    out << "<tr data-run=\"" << r.id << "\" data-kind=\"" << XmlEscape(r.kind)
        << "\"><td><input type=\"checkbox\" name=\"ids\" value=\"" << r.id
        << "\" aria-label=\"compare " << r.id << "\"></td><td><a href=\"/run/" << r.id << "\">"
        << r.id << "</a></td><td>" << XmlEscape(r.kind) << "</td><td>" << XmlEscape(r.name + tags)
        << "</td><td>" << RunStatusName(r.status) << "</td><td class=\"nowrap\">"
        << report_internal::UtcTime(r.start_unix_s) << "</td><td class=\"num\">"
        << report_internal::Num(e.duration_s, "%.4g") << "</td><td class=\"num"
        << (estimated ? " est" : "") << "\" title=\""
        << XmlEscape(e.method.empty() ? "not metered" : e.method) << "\">"
        << report_internal::Num(e.energy_j, "%.5g")
        << (estimated ? " <span class=\"est-mark\">est.</span>" : "") << "</td><td class=\"num"
        << (estimated ? " est" : "") << "\">" << report_internal::Num(e.co2_g(), "%.4g")
        << (estimated ? " <span class=\"est-mark\">est.</span>" : "") << "</td><td class=\"num\">"
        << (accuracy != r.metrics.end() && accuracy->is_number()
                ? report_internal::Num(accuracy->get<double>(), "%.4f")
                : "-")
        << "</td></tr>";
  }
  out << "</tbody></table><button type=\"submit\">compare the ticked runs</button></form>";
  return Page("joule runs", out.str());
}

nlohmann::json SamplesJson(const std::string& id, const std::vector<SampleRow>& samples) {
  nlohmann::json rows = nlohmann::json::array();
  for (const SampleRow& s : samples) {
    nlohmann::json row = {s.t_unix_s, s.energy_j,  s.machine_energy_j,
                          s.power_w,  s.cpu_share, s.co2_g};
    // NaN (joules by component not kept) is written as null.
    for (double j : s.component_j) row.push_back(j);
    rows.push_back(std::move(row));
  }
  return {{"id", id},
          {"columns",
           {"t_unix_s", "energy_j", "machine_energy_j", "power_w", "cpu_share", "co2_g", "cpu_j",
            "ram_j", "gpu_j", "system_j", "other_j"}},
          {"rows", std::move(rows)}};
}

}  // namespace

struct Dashboard::Impl {
  std::string ledger_path;
  ReportOptions options;
  std::atomic<std::uint64_t> requests{0};
  httplib::Server server;
  std::unique_ptr<HttpServerThread> thread;  // after `server`: stopped first

  // A route's handler with the answers for errors.
  template <typename F>
  httplib::Server::Handler Route(F body) {
    return [this, body](const httplib::Request& req, httplib::Response& res) {
      ++requests;
      try {
        body(req, res, LedgerFor(ledger_path));
      } catch (const HttpError& e) {
        res.status = e.status;
        res.set_content(e.reason + "\n", "text/plain; charset=utf-8");
      } catch (const std::exception& e) {
        res.status = 500;
        res.set_content(std::string("joule serve: ") + e.what() + "\n",
                        "text/plain; charset=utf-8");
      }
    };
  }
};

Dashboard::Dashboard(const std::string& ledger_path, const std::string& host_port,
                     const ReportOptions& options)
    : impl_(std::make_unique<Impl>()) {
  if (!std::filesystem::exists(ledger_path)) {
    throw Error("no ledger at " + ledger_path +
                " (record a run first, or give one with --ledger FILE)");
  }
  impl_->ledger_path = ledger_path;
  impl_->options = options;
  LedgerFor(ledger_path);  // a file that is not a ledger fails here, not at the first request
  httplib::Server& s = impl_->server;
  Impl* impl = impl_.get();

  s.Get("/", impl->Route([](const httplib::Request& req, httplib::Response& res, Ledger& ledger) {
    CheckParams(req, {"kind", "tag", "status", "since", "until", "limit"});
    SendHtml(res, RunsPage(req, ledger));
  }));
  s.Get(R"(/run/([^/]*))", impl->Route([impl](const httplib::Request& req, httplib::Response& res,
                                              Ledger& ledger) {
    CheckParams(req, {"per"});
    ReportOptions options = OptionsOf(req, impl->options);
    std::string id = ResolveId(ledger, req.matches[1]);
    ReportRun run{ledger.Get(id), ledger.Samples(id)};
    std::string card = report_internal::CardHtml(report_internal::BuildCard(run, options, true));
    SendHtml(res, Page(run.record.kind + " run " + id,
                       "<p><a href=\"/api/run/" + id + "\">this run as JSON</a> · <a href=\"" +
                           "/api/samples/" + id + "\">its samples</a></p>" + card));
  }));
  s.Get("/compare",
        impl->Route([impl](const httplib::Request& req, httplib::Response& res, Ledger& ledger) {
          CheckParams(req, {"ids", "per"}, /*repeat_ids=*/true);
          ReportOptions options = OptionsOf(req, impl->options);
          std::vector<ReportRun> runs;
          for (const std::string& id : IdsOf(req, ledger)) {
            runs.push_back({ledger.Get(id), ledger.Samples(id)});
          }
          report_internal::Document doc = report_internal::BuildDocument(runs, options, true);
          SendHtml(res, Page(doc.title, report_internal::DocumentBodyHtml(doc)));
        }));
  s.Get("/api/runs",
        impl->Route([](const httplib::Request& req, httplib::Response& res, Ledger& ledger) {
          CheckParams(req, {"kind", "tag", "status", "since", "until", "limit"});
          nlohmann::json runs = nlohmann::json::array();
          for (const RunRecord& r : ledger.List(FilterOf(req))) runs.push_back(RunRecordToJson(r));
          SendJson(res, {{"runs", std::move(runs)}});
        }));
  s.Get(R"(/api/run/([^/]*))",
        impl->Route([](const httplib::Request& req, httplib::Response& res, Ledger& ledger) {
          CheckParams(req, {});
          SendJson(res, RunRecordToJson(ledger.Get(ResolveId(ledger, req.matches[1]))));
        }));
  s.Get(R"(/api/samples/([^/]*))",
        impl->Route([](const httplib::Request& req, httplib::Response& res, Ledger& ledger) {
          CheckParams(req, {});
          std::string id = ResolveId(ledger, req.matches[1]);
          SendJson(res, SamplesJson(id, ledger.Samples(id)));
        }));
  s.Get("/api/compare",
        impl->Route([](const httplib::Request& req, httplib::Response& res, Ledger& ledger) {
          CheckParams(req, {"ids"}, /*repeat_ids=*/true);
          std::vector<RunRecord> runs;
          for (const std::string& id : IdsOf(req, ledger)) runs.push_back(ledger.Get(id));
          SendJson(res, RunComparisonsToJson(CompareRuns(runs)));
        }));
  auto not_allowed = [impl](const httplib::Request&, httplib::Response& res) {
    ++impl->requests;
    res.status = 405;
    res.set_header("Allow", "GET, HEAD");
    res.set_content("joule serve is read-only: GET or HEAD only\n", "text/plain; charset=utf-8");
  };
  s.Post(".*", not_allowed);
  s.Put(".*", not_allowed);
  s.Patch(".*", not_allowed);
  s.Delete(".*", not_allowed);
  // A path no route takes (including "/../x" and "//etc/passwd"): 404 with a
  // line saying what exists. Only fills answers that have no body yet.
  s.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        if (res.status == 404) {
          res.set_content(
              "not found: the pages are /, /run/ID, /compare?ids=...; the API is "
              "/api/runs, /api/run/ID, /api/samples/ID, /api/compare?ids=...\n",
              "text/plain; charset=utf-8");
        } else {
          res.set_content("bad request\n", "text/plain; charset=utf-8");
        }
        return httplib::Server::HandlerResponse::Handled;
      }));
  // Pages hold no script and load nothing: the browser is told so.
  s.set_default_headers(
      {{"Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'"},
       {"X-Content-Type-Options", "nosniff"},
       {"Cache-Control", "no-store"}});
  s.set_payload_max_length(64 * 1024);
  // A keep-alive connection holds its worker until it closes, so a client
  // may keep one for three requests: then it queues again behind the others.
  // Measured with 200 clients on 2 cores (bench/dashboard_load_bench): 100
  // per connection gave a p99 of 11 s (the last clients waited for the first
  // to finish), 3 gave 0.5-1.3 s at 1,100 requests/s; 1 lost requests to
  // httplib's short listen backlog.
  s.set_keep_alive_max_count(3);
  // Each worker holds a ledger connection; a few per core keeps slow clients
  // from starving the rest (256 workers halved the throughput: SQLite
  // connections contending).
  s.new_task_queue = [] {
    return new httplib::ThreadPool(std::max(16u, 4 * std::thread::hardware_concurrency()));
  };
  impl_->thread = std::make_unique<HttpServerThread>(s, host_port, "--port");
}

Dashboard::~Dashboard() = default;

int Dashboard::port() const { return impl_->thread->port(); }

std::uint64_t Dashboard::requests() const { return impl_->requests; }

}  // namespace joule
