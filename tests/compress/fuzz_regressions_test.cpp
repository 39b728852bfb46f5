// Replays the inputs on which model_fuzz found bugs (fuzz/regressions/model/):
// each is a model directory (model.json, separator, model.safetensors), as
// fuzz/fuzz_files.hpp describes, loaded as `joule eval` loads one.
#include "fuzz_regressions.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "fuzz_files.hpp"
#include "joule/compress/inference.hpp"
#include "joule/util.hpp"
#include "test_scratch.hpp"

namespace joule {
namespace {

// model_json_number_out_of_range: 1e400 in model.json escaped as
// nlohmann::json::out_of_range instead of joule::Error.
// linear_declares_huge_weights: a Linear of 2^30 inputs beside a 500-byte
// weights file was built (24 GiB allocated and initialised) before the
// weights were compared with it.
// early_exit_huge_sample_shape: loading ran a [1, 4, 100000, 100000] sample
// through the model (160 GB of activations).
TEST(ModelFuzzRegressions, EveryInputThrowsError) {
  auto files = test::FuzzRegressions("model");
  ASSERT_FALSE(files.empty());
  const std::filesystem::path dir = test::TestScratchDir("fuzz_regressions", true);
  for (const std::string& path : files) {
    SCOPED_TRACE(path);
    const std::string input = test::ReadBytes(path);
    auto parts =
        fuzz::SplitParts(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
    ASSERT_EQ(parts.size(), 2u);
    WriteFileAtomic((dir / "model.json").string(), parts[0]);
    WriteFileAtomic((dir / "model.safetensors").string(), parts[1]);
    EXPECT_THROW(LoadInferenceModel(dir.string()), Error);
  }
}

}  // namespace
}  // namespace joule
