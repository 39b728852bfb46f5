// joule/ledger.hpp: where measurements go once taken.
//
// Ledger layer (src/ledger/*.cpp, library joule_ledger). Exporters only consume
// figures the meter computed; they never measure anything. This header holds:
// the CodeCarbon-compatible emissions.csv writer, a JSON-lines writer, and the
// Prometheus text-format renderer and its HTTP server.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "joule/carbon.hpp"
#include "joule/meter.hpp"

namespace joule {

// ---------------------------------------------------------------------------
// CodeCarbon emissions.csv
// ---------------------------------------------------------------------------

// The 38 column names of CodeCarbon's emissions.csv, in CodeCarbon's order
// (timestamp, project_name, ..., pue, wue). Tools that read CodeCarbon files
// read joule's because of this exact list. The reference lives for the
// program's lifetime; thread-safe.
const std::vector<std::string>& CodeCarbonColumns();

// One emissions.csv row, one field per column with the same name, in
// CodeCarbon's units: duration s, emissions kg CO2eq, emissions_rate kg/s,
// powers W, energies kWh, ram sizes GB. An empty std::optional or empty string
// writes an empty cell (a field that does not apply).
struct CodeCarbonRow {
  std::string timestamp, project_name, run_id, experiment_id;
  double duration = 0;                                       // s
  double emissions = 0;                                      // kg CO2eq
  double emissions_rate = 0;                                 // kg/s
  std::optional<double> cpu_power, gpu_power, ram_power;     // W
  std::optional<double> cpu_energy, gpu_energy, ram_energy;  // kWh
  double energy_consumed = 0;                                // kWh
  std::optional<double> water_consumed;                      // L
  std::string country_name, country_iso_code, region, cloud_provider, cloud_region, os,
      python_version, codecarbon_version;
  std::optional<int> cpu_count;
  std::string cpu_model;
  std::optional<int> gpu_count;
  std::string gpu_model;
  std::optional<double> longitude, latitude, ram_total_size;  // ram GB
  std::string tracking_mode;                                  // "machine" or "process"
  std::optional<double> cpu_utilization_percent, gpu_utilization_percent, ram_utilization_percent,
      ram_used_gb;
  std::string on_cloud;  // "Y"/"N"
  double pue = 1.0;
  std::optional<double> wue;  // L/kWh
};

// Appends `row` to the CSV at `path`, writing the header line first when the
// file does not exist or is empty. Numbers are written in the shortest form
// that reads back to the same double (std::to_chars), so no precision is
// lost; non-finite numbers give an empty cell. Cells holding a comma, quote,
// CR or LF are quoted RFC 4180 style (quotes doubled).
//
// The whole line is built first and appended with a single write(2) on an
// O_APPEND descriptor, so a reader never sees half a row and concurrent
// appenders (two joule runs) do not interleave within a row.
//
// Throws joule::Error naming the path when: the file cannot be opened or
// written; its first line is not exactly CodeCarbon's header (the message
// names the first differing column and suggests another file); or it does not
// end with a newline (a previous writer was cut off mid-row). Nothing is
// written when it throws.
void AppendCodeCarbonCsv(const std::string& path, const CodeCarbonRow& row);

// What is wrong with `first_line` as the header of a file to append to: ""
// when it is CodeCarbon's header (a UTF-8 BOM and a CR are allowed, as
// AppendCodeCarbonCsv allows them), else "not a CodeCarbon emissions.csv with
// the 38 current columns: column 15 is \"country_name\", expected ...". For
// checking a file before a run, so that the check and the writer agree.
std::string CodeCarbonHeaderProblem(std::string first_line);

// Renders one row as a CSV line (with trailing "\n"), exactly as
// AppendCodeCarbonCsv writes it. Exposed for tests and reports.
std::string FormatCodeCarbonLine(const CodeCarbonRow& row);

// CodeCarbon's timestamp form, "YYYY-MM-DDTHH:MM:SS" (local time, no zone, as
// CodeCarbon writes it), for `unix_s` seconds since the epoch.
std::string CodeCarbonTimestamp(double unix_s);

// ---------------------------------------------------------------------------
// JSON lines
// ---------------------------------------------------------------------------

// Writes one compact JSON document per line to `path` (JSON Lines). The
// constructor creates the file or truncates an existing one. Each Write()
// serialises the record, then appends it and its "\n" with one write(2), so a
// crash never leaves half a line. Not thread-safe: one writer thread per
// instance. Non-finite numbers are written as null (JSON has no NaN).
class JsonLinesWriter {
 public:
  // Throws joule::Error naming the path and the system's reason.
  explicit JsonLinesWriter(const std::string& path);
  ~JsonLinesWriter();
  JsonLinesWriter(const JsonLinesWriter&) = delete;
  JsonLinesWriter& operator=(const JsonLinesWriter&) = delete;

  // Throws joule::Error naming the path when the write fails (disk full, ...).
  void Write(const nlohmann::json& record);

 private:
  std::string path_;
  int fd_ = -1;
  std::string line_;                // the record being written
  std::int64_t bytes_written_ = 0;  // where to truncate back to if a write fails
};

// ---------------------------------------------------------------------------
// Prometheus text exposition format 0.0.4
// ---------------------------------------------------------------------------

// One sample. `type` is counter, gauge, histogram, summary or untyped; `help`
// is free text. Samples of one metric family (same name) must be adjacent in
// the vector; HELP and TYPE are written once per family, from its first
// sample.
struct PromMetric {
  std::string name, help, type;
  std::vector<std::pair<std::string, std::string>> labels;
  double value;
};

// Renders metrics in the text format 0.0.4: "# HELP", "# TYPE", then
// `name{label="value",...} value` lines. Label values escape backslash, double
// quote and newline; HELP text escapes backslash and newline. Values use the
// shortest exact decimal form; NaN, +Inf, -Inf as the format spells them.
// Throws joule::Error when a metric name does not match
// [a-zA-Z_:][a-zA-Z0-9_:]*, a label name does not match [a-zA-Z_][a-zA-Z0-9_]*
// or starts with "__", the type is unknown, or a family's samples are not
// adjacent or disagree on help/type. Thread-safe (no shared state).
std::string RenderPrometheusText(const std::vector<PromMetric>& metrics);

// A meter reading as metrics: joule_energy_joules per counted channel (with
// its method label), joule_machine_power_watts, joule_process_cpu_share,
// joule_emissions_grams (with the intensity's source), joule_duration_seconds,
// joule_samples_total and joule_estimated (1 when any figure is an estimate).
std::vector<PromMetric> PrometheusMetrics(const MeterReading& reading, const CarbonModel& carbon);

// Serves GET /metrics (Content-Type text/plain; version=0.0.4) with the result
// of `render` from a background thread, until destroyed. `host_port` is
// "HOST:PORT", ":PORT" or "PORT" (host defaults to 127.0.0.1, loopback, so
// nothing is exposed unless asked), or "[IPv6]:PORT". Port 0 picks a free port;
// port() returns the one bound.
//
// `render` is called on the server's thread, once per scrape, possibly while
// the owner's threads run: it must be thread-safe with respect to the data it
// reads. If it throws, the scrape gets HTTP 500 with the message.
//
// The constructor returns once the socket is listening. Throws joule::Error
// naming host:port when the address is malformed or cannot be bound (in use,
// not local, no permission). The destructor stops the server and joins its
// thread. Not copyable or movable.
class PrometheusServer {
 public:
  PrometheusServer(const std::string& host_port, std::function<std::string()> render);
  ~PrometheusServer();
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace joule
