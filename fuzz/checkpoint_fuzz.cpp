// Fuzzes the checkpoint reader behind `checkpoint.resume`: the train layer's
// ReadCheckpoint (a safetensors file whose metadata holds the run's counters,
// architecture and callback state as JSON) into the run of checkpoint_run.hpp.
//
// Input: the checkpoint file. A joule::Error is the expected outcome for bad
// input; anything else is a bug.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "checkpoint_run.hpp"
#include "fuzz_files.hpp"
#include "joule/util.hpp"
#include "train/checkpoint.hpp"

namespace {

// The one call into joule (repoint here if the reader is renamed).
void Read(const std::string& path, joule::fuzz::CheckpointRun& run) {
  auto state = joule::train_internal::ReadCheckpoint(path, joule::fuzz::kCheckpointSeed, run.model,
                                                     *run.optimizer, run.callbacks);
  (void)state;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const joule::fuzz::ScratchDir dir;
  static joule::fuzz::CheckpointRun run;
  std::string path = dir.Write("checkpoint-epoch-0001.safetensors",
                               std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    Read(path, run);
  } catch (const joule::Error&) {
  }
  return 0;
}
