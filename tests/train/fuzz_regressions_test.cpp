// Replays the inputs on which checkpoint_fuzz found bugs (fuzz/regressions/checkpoint/)
// into the run the fuzz target reads them into.
#include "fuzz_regressions.hpp"

#include <gtest/gtest.h>

#include "checkpoint_run.hpp"
#include "joule/util.hpp"
#include "train/checkpoint.hpp"

namespace joule {
namespace {

// header_number_out_of_range: 1e4003 in the safetensors header escaped as
// nlohmann::json::out_of_range instead of joule::Error.
TEST(CheckpointFuzzRegressions, EveryInputThrowsError) {
  auto files = test::FuzzRegressions("checkpoint");
  ASSERT_FALSE(files.empty());
  fuzz::CheckpointRun run;
  for (const std::string& path : files) {
    SCOPED_TRACE(path);
    EXPECT_THROW(train_internal::ReadCheckpoint(path, fuzz::kCheckpointSeed, run.model,
                                                *run.optimizer, run.callbacks),
                 Error);
  }
}

}  // namespace
}  // namespace joule
