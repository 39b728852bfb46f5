// The inputs on which a fuzz target once found a bug, kept under
// fuzz/regressions/<target>/ (see scripts/fuzz.sh). Replay tests feed each
// to the reader and assert that it fails cleanly (joule::Error) or parses:
// the fixed bug was a crash, a sanitizer report, a hang or a huge allocation.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace joule::test {

// The regression files of `target`, sorted by name. Each test that replays
// them also checks that there is at least one, so that a moved directory
// cannot turn the replay into a test of nothing.
inline std::vector<std::string> FuzzRegressions(const std::string& target) {
  std::filesystem::path dir =
      std::filesystem::path(JOULE_SOURCE_DATA_DIR).parent_path() / "fuzz" / "regressions" / target;
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace joule::test
