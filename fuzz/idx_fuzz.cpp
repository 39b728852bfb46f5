// Fuzzes the IDX reader (MNIST's format, gzip-compressed or plain):
// joule::LoadIdx on an images file and a labels file.
//
// Input: the images file, kPartSeparator, the labels file. A joule::Error is
// the expected outcome for bad input; anything else is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_files.hpp"
#include "joule/data.hpp"
#include "joule/util.hpp"

namespace {

// The one call into joule (repoint here if the reader is renamed).
void ReadIdx(const std::string& images_path, const std::string& labels_path) {
  joule::Dataset data = joule::LoadIdx(images_path, labels_path);
  (void)data;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const joule::fuzz::ScratchDir dir;
  auto parts = joule::fuzz::SplitParts(data, size);
  if (parts.size() != 2) return -1;  // not a pair of files: keep it out of the corpus
  dir.Clear();
  std::string images = dir.Write("images-idx3-ubyte", parts[0]);
  std::string labels = dir.Write("labels-idx1-ubyte", parts[1]);
  try {
    ReadIdx(images, labels);
  } catch (const joule::Error&) {
  }
  return 0;
}
