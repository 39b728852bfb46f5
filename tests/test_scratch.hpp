// A scratch path per test, so that tests run in parallel by ctest never share
// files: JOULE_TEST_BINARY_DIR/<suite>/<running test's name>.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace joule::test {

// Removes whatever a previous run left there; creates the directory when
// `create` (tests of "save into a new directory" pass false).
inline std::string TestScratchDir(const std::string& suite, bool create) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::filesystem::path dir = std::filesystem::path(JOULE_TEST_BINARY_DIR) / suite / info->name();
  std::filesystem::remove_all(dir);
  if (create) std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace joule::test
