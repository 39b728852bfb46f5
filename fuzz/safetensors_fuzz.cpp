// Fuzzes the safetensors reader (header JSON, layout checks and tensor data):
// joule::ReadSafetensors with its metadata.
//
// Input: the whole file. A joule::Error is the expected outcome for bad
// input; anything else is a bug.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz_files.hpp"
#include "joule/nn.hpp"
#include "joule/util.hpp"

namespace {

// The one call into joule (repoint here if the reader is renamed).
void Read(const std::string& path) {
  nlohmann::json metadata;
  auto tensors = joule::ReadSafetensors(path, &metadata);
  (void)tensors;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const joule::fuzz::ScratchDir dir;
  std::string path =
      dir.Write("model.safetensors", std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    Read(path);
  } catch (const joule::Error&) {
  }
  return 0;
}
