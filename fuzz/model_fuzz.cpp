// Fuzzes model directories as `joule eval` and `joule bench-infer` load them:
// joule::LoadInferenceModel, which reads model.json (plain, sparse and int8
// models: "joule-model"; early-exit models: "joule-early-exit"), builds the
// architecture it describes and fills it from model.safetensors.
//
// Input: model.json, kPartSeparator, model.safetensors. A joule::Error is the
// expected outcome for bad input; anything else is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_files.hpp"
#include "joule/compress/inference.hpp"
#include "joule/util.hpp"

namespace {

// The one call into joule (repoint here if the reader is renamed).
void LoadModelDir(const std::string& dir) {
  auto model = joule::LoadInferenceModel(dir);
  (void)model;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const joule::fuzz::ScratchDir dir;
  auto parts = joule::fuzz::SplitParts(data, size);
  if (parts.size() != 2) return -1;
  dir.Clear();
  dir.Write("model.json", parts[0]);
  dir.Write("model.safetensors", parts[1]);
  try {
    LoadModelDir(dir.root());
  } catch (const joule::Error&) {
  }
  return 0;
}
