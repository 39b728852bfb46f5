// JSON Lines writer: one parseable document per line, truncation on open,
// errors naming the path.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "joule/ledger.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

std::string TempPath(const std::string& name) {
  std::filesystem::path dir = std::filesystem::path(JOULE_TEST_BINARY_DIR) / "json_lines_files";
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

std::vector<nlohmann::json> ReadLines(const std::string& path) {
  std::string text = ReadFile(path);
  EXPECT_TRUE(text.empty() || text.back() == '\n');
  std::vector<nlohmann::json> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    out.push_back(nlohmann::json::parse(text.substr(start, end - start)));
    start = end + 1;
  }
  return out;
}

TEST(JsonLines, OneDocumentPerLineAndTruncatesOnOpen) {
  std::string path = TempPath("samples.jsonl");
  std::ofstream(path) << "stale content from an earlier run\n";
  nlohmann::json first = {{"t_s", 0.1}, {"power_w", 45.5}, {"label", "line\nbreak \"q\""}};
  nlohmann::json second = {{"t_s", 0.2}, {"components", {{"cpu", 1.5}, {"dram", 0.25}}}};
  {
    JsonLinesWriter writer(path);
    writer.Write(first);
    writer.Write(second);
  }
  auto lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], first);
  EXPECT_EQ(lines[1], second);
}

TEST(JsonLines, NonFiniteNumbersBecomeNull) {
  std::string path = TempPath("nan.jsonl");
  {
    JsonLinesWriter writer(path);
    writer.Write({{"power_w", std::numeric_limits<double>::quiet_NaN()}});
  }
  auto lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(lines[0]["power_w"].is_null());
}

TEST(JsonLines, UnwritablePathNamesIt) {
  try {
    JsonLinesWriter writer("/nonexistent-dir/samples.jsonl");
    ADD_FAILURE() << "expected joule::Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("/nonexistent-dir/samples.jsonl"));
  }
}

}  // namespace
}  // namespace joule
