// Fuzzes the CSV reader: joule::LoadCsv.
//
// Input: a first line "regression NAME" or "classification NAME" (the task
// and the target column), then the CSV file. A joule::Error is the expected
// outcome for bad input; anything else is a bug.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_files.hpp"
#include "joule/data.hpp"
#include "joule/util.hpp"

namespace {

// The one call into joule (repoint here if the reader is renamed).
void ReadCsv(const std::string& path, const std::string& target, joule::Task task) {
  joule::Dataset data = joule::LoadCsv(path, target, task);
  (void)data;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const joule::fuzz::ScratchDir dir;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t newline = input.find('\n');
  if (newline == std::string_view::npos) return -1;
  std::string_view first = input.substr(0, newline);
  joule::Task task;
  std::string_view target;
  if (first.starts_with("regression ")) {
    task = joule::Task::kRegression;
    target = first.substr(11);
  } else if (first.starts_with("classification ")) {
    task = joule::Task::kClassification;
    target = first.substr(15);
  } else {
    return -1;
  }
  std::string path = dir.Write("data.csv", input.substr(newline + 1));
  try {
    ReadCsv(path, std::string(target), task);
  } catch (const joule::Error&) {
  }
  return 0;
}
