// Fuzzes the ONNX importer as `joule import` runs it: joule::ImportOnnx on
// the bytes of a .onnx file (protobuf parsing, opset, tensors and their
// declared sizes, the chain walk, layer building, the QDQ rebuild).
//
// Input: the file. A joule::Error is the expected outcome for bad input;
// anything else is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "joule/onnx.hpp"
#include "joule/util.hpp"

namespace {

// The one call into joule (repoint here if the importer is renamed).
void Import(const std::string& bytes) {
  joule::OnnxImport r = joule::ImportOnnx(bytes, "fuzz.onnx");
  (void)r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    Import(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const joule::Error&) {
  }
  return 0;
}
