// Prometheus text format: escaping that parses back, name validation, and the
// /metrics server scraped by an HTTP client.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "joule/http_server.hpp"
#include "joule/ledger.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

using ::testing::HasSubstr;

// A minimal reader of the text format, independent of the renderer: enough
// to check that what joule writes means what it was given.
struct ParsedFamily {
  std::string help, type;
  std::vector<PromMetric> samples;
};

std::string Unescape(const std::string& text, std::size_t& i, char stop) {
  std::string out;
  while (i < text.size() && text[i] != stop) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      char next = text[i + 1];
      out += next == 'n' ? '\n' : next;  // \\ -> \, \" -> ", \n -> newline
      i += 2;
    } else {
      out += text[i++];
    }
  }
  return out;
}

double ParseValue(const std::string& text) {
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "+Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  std::size_t used = 0;
  double value = std::stod(text, &used);
  EXPECT_EQ(used, text.size()) << text;
  return value;
}

std::map<std::string, ParsedFamily> ParseText(const std::string& text) {
  std::map<std::string, ParsedFamily> families;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    EXPECT_NE(end, std::string::npos) << "last line lacks its newline";
    if (end == std::string::npos) break;
    std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.rfind("# HELP ", 0) == 0) {
      std::size_t space = line.find(' ', 7);
      std::size_t i = space + 1;
      families[line.substr(7, space - 7)].help = Unescape(line, i, '\0');
    } else if (line.rfind("# TYPE ", 0) == 0) {
      std::size_t space = line.find(' ', 7);
      families[line.substr(7, space - 7)].type = line.substr(space + 1);
    } else {
      PromMetric sample;
      std::size_t i = line.find_first_of("{ ");
      sample.name = line.substr(0, i);
      if (line[i] == '{') {
        ++i;
        while (line[i] != '}') {
          std::size_t eq = line.find('=', i);
          std::string label = line.substr(i, eq - i);
          EXPECT_EQ(line[eq + 1], '"');
          i = eq + 2;
          std::string value = Unescape(line, i, '"');
          ++i;  // closing quote
          if (line[i] == ',') ++i;
          sample.labels.emplace_back(label, value);
        }
        ++i;  // '}'
      }
      EXPECT_EQ(line[i], ' ');
      sample.value = ParseValue(line.substr(i + 1));
      EXPECT_TRUE(families.count(sample.name)) << "sample before its HELP/TYPE: " << line;
      families[sample.name].samples.push_back(sample);
    }
  }
  return families;
}

std::vector<PromMetric> TrickyMetrics() {
  return {
      {"joule_energy_joules_total",
       "Energy used, by component.\nBackslash: \\ end",
       "counter",
       {{"component", "cpu"}, {"method", "estimated:tdp-model"}},
       1234.5},
      {"joule_energy_joules_total",
       "Energy used, by component.\nBackslash: \\ end",
       "counter",
       {{"component", "path C:\\temp \"quoted\"\nnext line"}, {"method", "measured:rapl"}},
       0.1},
      {"joule_power_watts", "Power now.", "gauge", {}, 45.0},
      {"joule:nan_metric", "Not a number.", "untyped", {}, std::nan("")},
      {"joule_inf", "Infinities.", "gauge", {{"sign", "plus"}}, INFINITY},
      {"joule_inf", "Infinities.", "gauge", {{"sign", "minus"}}, -INFINITY},
  };
}

TEST(PrometheusText, EscapesAndParsesBack) {
  std::vector<PromMetric> metrics = TrickyMetrics();
  std::string text = RenderPrometheusText(metrics);
  // The escapes as the format spells them.
  EXPECT_THAT(text, HasSubstr("# HELP joule_energy_joules_total Energy used, by component.\\n"
                              "Backslash: \\\\ end\n"));
  EXPECT_THAT(text, HasSubstr("component=\"path C:\\\\temp \\\"quoted\\\"\\nnext line\""));
  EXPECT_THAT(text, HasSubstr("# TYPE joule_power_watts gauge\njoule_power_watts 45\n"));
  EXPECT_THAT(text, HasSubstr("joule:nan_metric NaN\n"));
  EXPECT_THAT(text, HasSubstr("joule_inf{sign=\"plus\"} +Inf\n"));
  EXPECT_THAT(text, HasSubstr("joule_inf{sign=\"minus\"} -Inf\n"));

  auto families = ParseText(text);
  ASSERT_EQ(families.size(), 4u);
  // One HELP/TYPE per family, even with two samples.
  std::size_t help_lines = 0;
  for (std::size_t at = text.find("# HELP"); at != std::string::npos;
       at = text.find("# HELP", at + 1)) {
    ++help_lines;
  }
  EXPECT_EQ(help_lines, 4u);
  for (const PromMetric& m : metrics) {
    const ParsedFamily& family = families[m.name];
    EXPECT_EQ(family.help, m.help);
    EXPECT_EQ(family.type, m.type);
  }
  const auto& energy = families["joule_energy_joules_total"].samples;
  ASSERT_EQ(energy.size(), 2u);
  EXPECT_EQ(energy[1].labels, metrics[1].labels);
  EXPECT_EQ(energy[0].value, 1234.5);
  EXPECT_EQ(energy[1].value, 0.1);
  EXPECT_TRUE(std::isnan(families["joule:nan_metric"].samples[0].value));
  EXPECT_EQ(families["joule_inf"].samples[1].value, -INFINITY);
}

TEST(PrometheusText, RejectsInvalidNamesTypesAndSplitFamilies) {
  auto error_of = [](std::vector<PromMetric> metrics) -> std::string {
    try {
      RenderPrometheusText(metrics);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_THAT(error_of({{"1abc", "h", "gauge", {}, 1}}), HasSubstr("\"1abc\" is invalid"));
  EXPECT_THAT(error_of({{"joule-power", "h", "gauge", {}, 1}}), HasSubstr("joule-power"));
  EXPECT_THAT(error_of({{"", "h", "gauge", {}, 1}}), HasSubstr("invalid"));
  EXPECT_THAT(error_of({{"ok", "h", "gauge", {{"__reserved", "x"}}, 1}}), HasSubstr("__reserved"));
  EXPECT_THAT(error_of({{"ok", "h", "gauge", {{"a:b", "x"}}, 1}}), HasSubstr("a:b"));
  EXPECT_THAT(error_of({{"ok", "h", "gauge", {{"a", "x"}, {"a", "y"}}, 1}}), HasSubstr("twice"));
  EXPECT_THAT(error_of({{"ok", "h", "gauges", {}, 1}}), HasSubstr("gauges"));
  EXPECT_THAT(error_of({{"a", "h", "gauge", {}, 1},
                        {"b", "h", "gauge", {}, 1},
                        {"a", "h", "gauge", {{"x", "y"}}, 2}}),
              HasSubstr("not adjacent"));
  EXPECT_THAT(error_of({{"a", "h", "gauge", {}, 1}, {"a", "h", "counter", {{"x", "y"}}, 2}}),
              HasSubstr("disagree"));
  EXPECT_EQ(RenderPrometheusText({}), "");
}

TEST(PrometheusServer, ServesMetricsToAnHttpClient) {
  std::vector<PromMetric> metrics = TrickyMetrics();
  const std::string expected = RenderPrometheusText(metrics);
  PrometheusServer server("127.0.0.1:0", [&] { return RenderPrometheusText(metrics); });
  ASSERT_GT(server.port(), 0);

  httplib::Client client("127.0.0.1", server.port());
  auto response = client.Get("/metrics");
  ASSERT_TRUE(response) << httplib::to_string(response.error());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, expected);
  EXPECT_THAT(response->get_header_value("Content-Type"), HasSubstr("version=0.0.4"));
  EXPECT_EQ(ParseText(response->body).size(), 4u);

  auto missing = client.Get("/other");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST(PrometheusServer, PortInUseNamesHostAndPort) {
  PrometheusServer first("127.0.0.1:0", [] { return std::string(); });
  const std::string address = "127.0.0.1:" + std::to_string(first.port());
  try {
    PrometheusServer second(address, [] { return std::string(); });
    ADD_FAILURE() << "second server bound a port already in use";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(address));
  }
}

TEST(PrometheusServer, MalformedAddressesAreErrors) {
  for (const char* bad : {"localhost:http", "127.0.0.1:70000", "127.0.0.1:", "::1:9091", "[::1]"}) {
    SCOPED_TRACE(bad);
    EXPECT_THROW(PrometheusServer(bad, [] { return std::string(); }), Error);
  }
}

TEST(PrometheusServer, PortOnlyMeansLoopbackAndRenderErrorsGive500) {
  PrometheusServer server("0", []() -> std::string { throw Error("sampler stopped"); });
  httplib::Client client("127.0.0.1", server.port());
  auto response = client.Get("/metrics");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 500);
  EXPECT_THAT(response->body, HasSubstr("sampler stopped"));
}

}  // namespace
}  // namespace joule
